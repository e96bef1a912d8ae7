/**
 * The I/O APIC (Intel 82093AA datasheet, order no. 290566), at 0xFEC00000:
 *   0x00 IOREGSEL (register index, bits 7:0) and 0x10 IOWIN (32-bit window onto that register).
 * Registers: 00h IOAPICID (ID in bits 27:24), 01h IOAPICVER (0x00170011: version 11h, maximum
 * redirection entry 17h = 24 pins), 02h IOAPICARB (arbitration ID, read-only, = the ID here),
 * 10h-3Fh the 24 64-bit redirection table entries (low dword at 10h+2n, high at 11h+2n).
 *
 * Redirection entry (datasheet 3.2.4): vector 7:0, delivery mode 10:8 (fixed, lowest priority,
 * SMI, NMI, INIT, ExtINT), destination mode 11, delivery status 12 (RO), polarity 13, remote IRR
 * 14 (RO), trigger mode 15 (1 = level), mask 16, destination 63:56. All entries are masked at
 * reset, everything else zero.
 *
 * `setIrq(pin, level)` drives an input pin; `level` is the asserted state (the polarity bit is
 * stored but, as in QEMU, the callers pass logical levels). Edge-triggered pins send a message
 * on each rising edge while unmasked (an edge that arrives masked is lost). Level-triggered pins
 * send while asserted and Remote IRR is clear, set Remote IRR, and send again after the local
 * APIC's EOI for that vector (`eoi(vector)`) if still asserted; unmasking an asserted level pin
 * sends too.
 *
 * Messages go to the local APIC (`LocalApic.deliverMessage`); fixed and lowest-priority both
 * reach our single CPU when the destination names it. NMI is passed on; ExtINT makes the local
 * APIC take the next vector from the 8259 (virtual wire via the IOAPIC); SMI and INIT are
 * dropped. On a PC the machine wires ISA IRQ0 (PIT) to pin 2, as the MADT's interrupt source
 * override says (acpi.ts), and other ISA IRQs n to pin n.
 */
import type { MmioDevice } from '../memory/mmio.js';
import type { ApicMessage } from './lapic.js';

export const IOAPIC_BASE = 0xfec00000;
export const IOAPIC_VERSION = 0x00170011;
export const IOAPIC_PINS = 24;

const RTE_MASKED = 1 << 16;
const RTE_LEVEL = 1 << 15;
const RTE_REMOTE_IRR = 1 << 14;
/** Writable bits of the low dword (delivery status and remote IRR are read-only). */
const RTE_LO_WMASK = 0x0001afff;

export interface ApicMessageSink { deliverMessage(m: ApicMessage): boolean }

export interface IoApicState { id: number; sel: number; lo: number[]; hi: number[]; pins: boolean[] }

export class IoApic implements MmioDevice {
  id: number;
  /** IOREGSEL. */
  sel = 0;
  readonly lo = new Uint32Array(IOAPIC_PINS);
  readonly hi = new Uint32Array(IOAPIC_PINS);
  private readonly pins: boolean[] = new Array(IOAPIC_PINS).fill(false);
  private sink: ApicMessageSink | null;

  constructor(opts: { id?: number; lapic?: ApicMessageSink } = {}) {
    this.id = opts.id ?? 0;
    this.sink = opts.lapic ?? null;
    this.lo.fill(RTE_MASKED);
  }

  connect(lapic: ApicMessageSink): void { this.sink = lapic; }

  // ---- MMIO -------------------------------------------------------------------------------

  mmioRead(addr: number, size: 1 | 2 | 4): number {
    const off = addr & 0xff;
    let v: number;
    if (off < 0x10) v = off < 4 ? this.sel : 0;
    else if (off < 0x20) v = off < 0x14 ? this.readRegister(this.sel) : 0;
    else return 0;
    const shift = 8 * (addr & 3);
    return (v >>> shift) & (size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff);
  }

  mmioWrite(addr: number, size: 1 | 2 | 4, value: number): void {
    const off = addr & 0xff;
    if (off === 0x00) { this.sel = value & 0xff; return; }
    if (off === 0x10 && size === 4) this.writeRegister(this.sel, value >>> 0);
    // other offsets and narrower IOWIN writes are ignored (the datasheet requires dword access)
  }

  readRegister(index: number): number {
    if (index === 0x00) return (this.id & 0xf) << 24;
    if (index === 0x01) return IOAPIC_VERSION;
    if (index === 0x02) return (this.id & 0xf) << 24;
    if (index >= 0x10 && index < 0x10 + 2 * IOAPIC_PINS) {
      const pin = (index - 0x10) >> 1;
      return index & 1 ? this.hi[pin] : this.lo[pin];
    }
    return 0;
  }

  writeRegister(index: number, v: number): void {
    if (index === 0x00) { this.id = (v >>> 24) & 0xf; return; }
    if (index >= 0x10 && index < 0x10 + 2 * IOAPIC_PINS) {
      const pin = (index - 0x10) >> 1;
      if (index & 1) { this.hi[pin] = (v & 0xff000000) >>> 0; return; }
      const old = this.lo[pin];
      let nv = (old & ~RTE_LO_WMASK) | (v & RTE_LO_WMASK);
      if (!(nv & RTE_LEVEL)) nv &= ~RTE_REMOTE_IRR; // Remote IRR is undefined for edge entries
      this.lo[pin] = nv >>> 0;
      this.service(pin);
    }
  }

  // ---- pins -------------------------------------------------------------------------------

  setIrq(pin: number, level: boolean): void {
    if (pin < 0 || pin >= IOAPIC_PINS) return;
    const was = this.pins[pin];
    this.pins[pin] = level;
    const lo = this.lo[pin];
    if (lo & RTE_LEVEL) { if (level) this.service(pin); }
    else if (level && !was && !(lo & RTE_MASKED)) this.send(pin);
  }

  /** The local APIC's EOI of a level-triggered vector: clear Remote IRR of the entries using it. */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const lo = this.lo[pin];
      if ((lo & 0xff) === vector && (lo & RTE_REMOTE_IRR)) {
        this.lo[pin] = lo & ~RTE_REMOTE_IRR;
        this.service(pin);
      }
    }
  }

  /** A level entry whose pin is asserted, unmasked and not awaiting EOI sends a message. */
  private service(pin: number): void {
    const lo = this.lo[pin];
    if (!(lo & RTE_LEVEL) || !this.pins[pin] || (lo & (RTE_MASKED | RTE_REMOTE_IRR))) return;
    if (this.send(pin)) this.lo[pin] |= RTE_REMOTE_IRR;
  }

  /** Messages are delivered at once, so delivery status (bit 12) always reads 0 (idle). */
  private send(pin: number): boolean {
    const lo = this.lo[pin];
    if (!this.sink) return false;
    return this.sink.deliverMessage({
      vector: lo & 0xff,
      mode: (lo >> 8) & 7,
      level: (lo & RTE_LEVEL) !== 0,
      logical: (lo & (1 << 11)) !== 0,
      dest: this.hi[pin] >>> 24,
    });
  }

  // ---- snapshots --------------------------------------------------------------------------

  save(): IoApicState {
    return { id: this.id, sel: this.sel, lo: [...this.lo], hi: [...this.hi], pins: [...this.pins] };
  }
  restore(s: IoApicState): void {
    this.id = s.id; this.sel = s.sel; this.lo.set(s.lo); this.hi.set(s.hi);
    for (let i = 0; i < IOAPIC_PINS; i++) this.pins[i] = s.pins[i];
  }
}
