/**
 * Deterministic virtual time (DESIGN.md #1). The only clock is the retired-instruction count
 * `icount`; a virtual second is `ips` instructions. Devices never read the host clock: they
 * ask `now()`/`nanos()` and schedule callbacks at exact instruction counts with `at()`. The run
 * loop gives each block a budget that ends at `nextDeadline()`, so a timer fires at the same
 * count however the code is split into blocks.
 */
export interface Timer { id: number; when: number; fn: () => void; name: string }

export class VirtualClock {
  /** Retired instructions since power-on (plus instructions skipped while halted). */
  icount = 0;
  /** Instructions per virtual second. */
  ips: number;
  /** Wall-clock date the machine was started at (an input, recorded in traces), in ms since the epoch. */
  startDateMs: number;
  private timers: Timer[] = [];
  private nextId = 1;

  constructor(ips = 50_000_000, startDateMs = Date.UTC(2026, 0, 1)) {
    this.ips = ips;
    this.startDateMs = startDateMs;
  }

  now(): number { return this.icount; }
  /** Virtual nanoseconds since power-on. */
  nanos(): number { return (this.icount / this.ips) * 1e9; }
  /** Instruction count equal to `ns` virtual nanoseconds from now (at least 1). */
  countAfterNanos(ns: number): number { return this.icount + Math.max(1, Math.round((ns * this.ips) / 1e9)); }

  /** Run `fn` when icount reaches `when` (checked between blocks). Returns a handle for `cancel`. */
  at(when: number, fn: () => void, name = 'timer'): number {
    const t: Timer = { id: this.nextId++, when: Math.max(when, this.icount), fn, name };
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1].when > t.when) i--;
    this.timers.splice(i, 0, t);
    return t.id;
  }
  cancel(id: number): void {
    const i = this.timers.findIndex(t => t.id === id);
    if (i >= 0) this.timers.splice(i, 1);
  }
  /** The count at which the next timer is due (Infinity if none). */
  nextDeadline(): number { return this.timers.length ? this.timers[0].when : Infinity; }
  /** Fire every timer due at or before icount. */
  fireDue(): void {
    while (this.timers.length && this.timers[0].when <= this.icount) {
      const t = this.timers.shift()!;
      t.fn();
    }
  }
  pendingTimers(): readonly Timer[] { return this.timers; }
}
