import { alignUp } from './bytes.js';
import { E820_RAM, whyNotUsable, type MemoryRegion } from './e820.js';
import { BootError, range } from './errors.js';

/**
 * Where everything goes, decided before a single byte is written: kernel segments at the
 * addresses the image demands, then modules, boot information and the stack wherever there is
 * room. A load that fails leaves guest memory untouched.
 */
export interface Placement { start: number; end: number; what: string }

export class MemoryPlan {
  readonly map: MemoryRegion[];
  readonly ramSize: number;
  readonly placed: Placement[] = [];

  constructor(map: MemoryRegion[], ramSize: number) {
    this.map = map;
    this.ramSize = ramSize;
  }

  /** Claim [start, start+length) for `what` at exactly that address (kernel segments). */
  reserve(start: number, length: number, what: string): void {
    const end = start + length;
    if (length === 0) return;
    const why = whyNotUsable(this.map, this.ramSize, start, end);
    if (why !== undefined) throw new BootError(`${what} at ${range(start, end)} cannot be loaded: ${why}`);
    const clash = this.overlap(start, end);
    if (clash) throw new BootError(`${what} at ${range(start, end)} overlaps ${clash.what} at ${range(clash.start, clash.end)}`);
    this.placed.push({ start, end, what });
  }

  /**
   * Find room for `length` bytes aligned to `align` within [min, max) in usable RAM, trying
   * `prefer` first; claims it and returns the address, or undefined when there is no room.
   */
  allocate(length: number, align: number, what: string, opts: { min: number; max: number; prefer?: number }): number | undefined {
    const fits = (a: number) => a >= opts.min && a + length <= opts.max && a % align === 0
      && whyNotUsable(this.map, this.ramSize, a, Math.max(a + length, a + 1)) === undefined
      && !this.overlap(a, a + length);
    let found: number | undefined;
    if (opts.prefer !== undefined && fits(opts.prefer)) found = opts.prefer;
    for (const m of this.map) {
      if (found !== undefined) break;
      if (m.type !== E820_RAM) continue;
      const top = Math.min(m.base + m.length, opts.max);
      let a = alignUp(Math.max(m.base, opts.min), align);
      while (a + length <= top) {
        const clash = this.overlap(a, a + length);
        if (!clash) { found = a; break; }
        a = alignUp(clash.end, align);
      }
    }
    if (found !== undefined && length > 0) this.placed.push({ start: found, end: found + length, what });
    return found;
  }

  private overlap(start: number, end: number): Placement | undefined {
    if (end <= start) return undefined;
    return this.placed.find(p => start < p.end && p.start < end);
  }

  /** One line per placement, for error messages that need the whole picture. */
  describe(): string {
    return [...this.placed].sort((a, b) => a.start - b.start).map(p => `${range(p.start, p.end)} ${p.what}`).join('; ');
  }
}

