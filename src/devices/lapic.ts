/**
 * The local APIC of the single vCPU (Intel SDM Vol. 3A, chapter "Advanced Programmable
 * Interrupt Controller (APIC)"; section numbers move between editions, titles are quoted).
 *
 * - xAPIC registers in a 4 KiB MMIO page at 0xFEE00000 ("Local APIC Register Address Map"),
 *   32-bit accesses at 16-byte aligned offsets; x2APIC registers through MSRs 0x800-0x8FF
 *   (`readMsr`/`writeMsr`, for the CPU's RDMSR/WRMSR), enabled with IA32_APIC_BASE bit 10
 *   (`setApicBase`, "x2APIC State Transitions").
 * - Version 0x00050014: version 14h, six LVT entries (timer, thermal, performance, LINT0,
 *   LINT1, error); no EOI-broadcast suppression, no CMCI.
 * - Priorities as "Task and Processor Priorities": PPR from TPR and the highest in-service
 *   vector; the highest IRR vector is dispatched when its priority class exceeds PPR's.
 *   `ackIntr` moves it from IRR to ISR; an EOI clears the highest ISR bit and, when TMR says it
 *   was level-triggered, tells the IOAPIC (`onEoi`, "EOI broadcast").
 * - The timer counts down at `busHz` (default 1 GHz: one count per virtual nanosecond, as QEMU)
 *   divided by the Divide Configuration Register, on the machine's virtual clock (DESIGN.md #1):
 *   expiry is scheduled at an exact instruction count with `clock.at()`. One-shot and periodic
 *   modes; TSC-deadline mode is not offered (LVT timer bit 18 is reserved here, and CPUID must
 *   not report it).
 * - LINT0 in ExtINT mode passes the 8259's INTR through (`setExtInt`): with the APIC globally
 *   disabled, or LINT0 unmasked in ExtINT mode, `hasIntr`/`ackIntr` answer for the PIC. Like
 *   QEMU, the bootstrap processor's LINT0 is ExtINT and unmasked at reset (virtual-wire mode, as
 *   a BIOS leaves it), so a kernel booted straight from a multiboot loader gets PIC interrupts.
 *   An IOAPIC message in ExtINT delivery mode makes the next acknowledge an 8259 INTA as well.
 * - ICR: fixed and NMI IPIs whose destination (shorthand self/all, or a physical/logical
 *   destination matching this APIC) includes this CPU are delivered to it. Other destinations
 *   have no CPU to reach and are dropped; INIT, SIPI and SMI IPIs are ignored (one vCPU).
 * - NMIs (LINT1 in NMI mode, NMI IPIs, IOAPIC NMI messages) go to `onNmi`.
 * - Errors ("Error Handling"): illegal vectors (0-15) sent or received, illegal register
 *   addresses; ESR latches on write; the error LVT can interrupt.
 *
 * Not modelled: focus processor checking, arbitration IDs, remote read, LINT remote IRR,
 * thermal/performance-counter sources (their LVT entries are storage only), moving the MMIO page
 * (a new base is recorded, but the page stays decoded at 0xFEE00000 only while the base is there).
 */
import type { MmioDevice } from '../memory/mmio.js';
import type { InterruptController } from '../cpu/interrupts.js';
import type { VirtualClock } from '../machine/clock.js';

export const LAPIC_BASE = 0xfee00000;
export const LAPIC_VERSION = 0x00050014;

/** IA32_APIC_BASE bits. */
export const APIC_BASE_BSP = 1 << 8;
export const APIC_BASE_EXTD = 1 << 10;
export const APIC_BASE_EN = 1 << 11;

/** Delivery modes (ICR, LVT, IOAPIC redirection entries). */
export const DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_NMI = 4, DM_INIT = 5, DM_SIPI = 6, DM_EXTINT = 7;

/** ESR bits (SDM Figure "Error Status Register"). */
export const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
export const ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
export const ESR_ILLEGAL_REGISTER = 1 << 7;

const LVT_MASKED = 1 << 16;
/** LVT indices and their register offsets 0x320..0x370. */
const LVT_TIMER = 0, LVT_LINT0 = 3, LVT_ERROR = 5; // thermal 1, performance 2, LINT1 4
/** Writable bits per LVT entry (SDM Figure "Local Vector Table (LVT)"). */
const LVT_WMASK = [
  0x000300ff, // timer: vector, mask, mode bit 17 (periodic); bit 18 (TSC-deadline) reserved here
  0x000107ff, // thermal: vector, delivery mode, mask
  0x000107ff, // performance counters
  0x0001a7ff, // LINT0: vector, delivery mode, polarity, trigger mode, mask
  0x0001a7ff, // LINT1
  0x000100ff, // error: vector, mask
];

/** An interrupt message on the APIC bus, as the IOAPIC (or an IPI) sends it. */
export interface ApicMessage {
  vector: number;
  /** Delivery mode: DM_FIXED, DM_LOWEST, DM_NMI, DM_EXTINT, ... */
  mode: number;
  /** Level-triggered (sets TMR so the EOI is broadcast back). */
  level: boolean;
  /** Logical destination mode. */
  logical: boolean;
  /** Destination field (8 bits from the IOAPIC or an xAPIC ICR, 32 in x2APIC mode). */
  dest: number;
}

export interface LocalApicOptions {
  clock: VirtualClock;
  /** Initial APIC ID (0). */
  id?: number;
  /** Bootstrap processor (IA32_APIC_BASE bit 8, LINT0 in ExtINT mode at reset). Default true. */
  bsp?: boolean;
  /** Timer input frequency before the divider, in Hz (default 1e9). */
  busHz?: number;
  onNmi?: () => void;
  /** A level-triggered interrupt's EOI (the IOAPIC clears Remote IRR for that vector). */
  onEoi?: (vector: number) => void;
}

export interface LocalApicState {
  apicBase: number; id: number; tpr: number; ldr: number; dfr: number; svr: number;
  irr: number[]; isr: number[]; tmr: number[]; esr: number; esrPending: number;
  icrLo: number; icrHi: number; lvt: number[]; initialCount: number; dcr: number;
  timerRunning: boolean; timerStart: number; timerStartCount: number; extIntPending: boolean;
  lint: boolean[];
}

export class LocalApic implements MmioDevice, InterruptController {
  private readonly clock: VirtualClock;
  private readonly busHz: number;
  private readonly bsp: boolean;
  onNmi: (() => void) | null;
  onEoi: ((vector: number) => void) | null;
  private extInt: InterruptController | null = null;

  apicBase = 0;
  id = 0;
  tpr = 0;
  ldr = 0;
  dfr = 0xffffffff;
  svr = 0xff;
  readonly irr = new Uint32Array(8);
  readonly isr = new Uint32Array(8);
  readonly tmr = new Uint32Array(8);
  esr = 0;
  private esrPending = 0;
  icrLo = 0;
  icrHi = 0;
  readonly lvt = new Uint32Array(6);
  initialCount = 0;
  dcr = 0;
  private timerRunning = false;
  /** Instruction count at which the counter held `timerStartCount`. */
  private timerStart = 0;
  private timerStartCount = 0;
  private timerId = 0;
  private extIntPending = false;
  private lint = [false, false];

  constructor(o: LocalApicOptions) {
    this.clock = o.clock;
    this.busHz = o.busHz ?? 1e9;
    this.bsp = o.bsp ?? true;
    this.onNmi = o.onNmi ?? null;
    this.onEoi = o.onEoi ?? null;
    this.id = o.id ?? 0;
    this.apicBase = LAPIC_BASE + APIC_BASE_EN + (this.bsp ? APIC_BASE_BSP : 0);
    this.resetRegisters();
  }

  /** The 8259 pair behind LINT0 (ExtINT). */
  setExtInt(ic: InterruptController | null): void { this.extInt = ic; }

  /** Power-on register values ("Local APIC State After Power-Up or Reset"); the ID is kept. */
  private resetRegisters(): void {
    this.cancelTimer();
    this.tpr = 0; this.ldr = 0; this.dfr = 0xffffffff; this.svr = 0xff;
    this.irr.fill(0); this.isr.fill(0); this.tmr.fill(0);
    this.esr = 0; this.esrPending = 0; this.icrLo = 0; this.icrHi = 0;
    this.lvt.fill(LVT_MASKED);
    if (this.bsp) this.lvt[LVT_LINT0] = DM_EXTINT << 8; // virtual wire, as QEMU's apic_reset_common
    this.initialCount = 0; this.dcr = 0;
    this.timerRunning = false; this.extIntPending = false;
  }

  get x2apic(): boolean { return (this.apicBase & (APIC_BASE_EN | APIC_BASE_EXTD)) === (APIC_BASE_EN | APIC_BASE_EXTD); }
  get globallyEnabled(): boolean { return (this.apicBase & APIC_BASE_EN) !== 0; }
  get softwareEnabled(): boolean { return (this.svr & 0x100) !== 0; }

  // ---- IA32_APIC_BASE ---------------------------------------------------------------------

  getApicBase(): number { return this.apicBase; }

  /**
   * WRMSR IA32_APIC_BASE. Returns false when the CPU must raise #GP: reserved bits set, the
   * invalid state EXTD=1/EN=0, or an invalid transition (x2APIC -> xAPIC, disabled -> x2APIC;
   * SDM "x2APIC State Transitions").
   */
  setApicBase(value: number): boolean {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** 52) return false;
    const low12 = value % 4096;
    if (low12 & ~(APIC_BASE_BSP | APIC_BASE_EXTD | APIC_BASE_EN)) return false;
    const en = (low12 & APIC_BASE_EN) !== 0, extd = (low12 & APIC_BASE_EXTD) !== 0;
    if (extd && !en) return false;
    const wasEn = this.globallyEnabled, wasX2 = this.x2apic;
    if (wasX2 && en && !extd) return false;
    if (!wasEn && extd) return false;
    const bsp = this.apicBase & APIC_BASE_BSP; // read-only
    this.apicBase = value - low12 + (low12 & (APIC_BASE_EN | APIC_BASE_EXTD)) + bsp;
    if (wasEn && !en) this.resetRegisters();
    if (!wasX2 && this.x2apic) this.ldr = this.x2Ldr();
    return true;
  }

  /** x2APIC logical ID: cluster (ID[19:4]) in bits 31:16, 1 << ID[3:0] in bits 15:0. */
  private x2Ldr(): number { return (((this.id >>> 4) << 16) | (1 << (this.id & 0xf))) >>> 0; }

  private mmioActive(): boolean {
    return this.globallyEnabled && !this.x2apic && Math.floor(this.apicBase / 4096) * 4096 === LAPIC_BASE;
  }

  // ---- MMIO (xAPIC) -----------------------------------------------------------------------

  mmioRead(addr: number, size: 1 | 2 | 4): number {
    if (!this.mmioActive()) return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    const within = addr & 0xf;
    if (within >= 4) return 0;
    const v = this.readReg(addr & 0xff0);
    return (v >>> (8 * within)) & (size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff);
  }

  mmioWrite(addr: number, size: 1 | 2 | 4, value: number): void {
    if (!this.mmioActive()) return;
    if (size !== 4 || (addr & 0xf) !== 0) return; // the registers take aligned 32-bit writes only
    this.writeReg(addr & 0xff0, value >>> 0);
  }

  // ---- MSRs (x2APIC) ----------------------------------------------------------------------

  /** RDMSR of 0x800-0x8FF: [low, high], or null for #GP. */
  readMsr(msr: number): [number, number] | null {
    if (!this.x2apic || msr < 0x800 || msr > 0x8ff) return null;
    const off = (msr - 0x800) << 4;
    if (off === 0x300) return [this.icrLo, this.icrHi];
    if (off === 0x0b0 || off === 0x3f0 || off === 0x0e0 || off === 0x310 || off === 0x090 || off === 0x0c0) return null;
    if (!this.isRegister(off)) return null;
    return [this.readReg(off), 0];
  }

  /** WRMSR of 0x800-0x8FF; false for #GP (read-only or reserved register, reserved bits). */
  writeMsr(msr: number, lo: number, hi: number): boolean {
    if (!this.x2apic || msr < 0x800 || msr > 0x8ff) return false;
    lo >>>= 0; hi >>>= 0;
    const off = (msr - 0x800) << 4;
    switch (off) {
      case 0x080: if (hi || lo & ~0xff) return false; break;          // TPR
      case 0x0b0: if (hi || lo) return false; break;                   // EOI: writes of zero only
      case 0x0f0: if (hi || lo & ~0x3ff) return false; break;          // SVR
      case 0x280: if (hi || lo) return false; break;                   // ESR
      case 0x300:                                                      // ICR: 64 bits in one MSR
        if (lo & 0xfff33000) return false;
        this.icrHi = hi; this.icrLo = lo; this.sendIpi(); return true;
      case 0x320: case 0x330: case 0x340: case 0x350: case 0x360: case 0x370:
      case 0x380: case 0x3e0:
        if (hi) return false; break;
      case 0x3f0:                                                      // SELF IPI
        if (hi || lo & ~0xff) return false;
        this.selfIpi(lo & 0xff); return true;
      default: return false;                                           // read-only or reserved
    }
    this.writeReg(off, lo);
    return true;
  }

  // ---- registers --------------------------------------------------------------------------

  private isRegister(off: number): boolean {
    return off === 0x20 || off === 0x30 || (off >= 0x80 && off <= 0xf0) || (off >= 0x100 && off <= 0x280)
      || off === 0x300 || off === 0x310 || (off >= 0x320 && off <= 0x390) || off === 0x3e0;
  }

  /** Read a register by its xAPIC offset. */
  readReg(off: number): number {
    switch (off) {
      case 0x020: return this.x2apic ? this.id : (this.id << 24) >>> 0;
      case 0x030: return LAPIC_VERSION;
      case 0x080: return this.tpr;
      case 0x090: return 0;                     // APR: arbitration priority, not modelled
      case 0x0a0: return this.ppr();
      case 0x0b0: return 0;                     // EOI is write-only
      case 0x0c0: return 0;                     // RRD
      case 0x0d0: return this.ldr;
      case 0x0e0: return this.x2apic ? 0 : this.dfr;
      case 0x0f0: return this.svr;
      case 0x280: return this.esr;
      case 0x300: return this.icrLo & ~(1 << 12); // delivery status: always idle
      case 0x310: return this.icrHi;
      case 0x380: return this.initialCount;
      case 0x390: return this.currentCount();
      case 0x3e0: return this.dcr;
    }
    if (off >= 0x100 && off < 0x180) return this.isr[(off - 0x100) >> 4];
    if (off >= 0x180 && off < 0x200) return this.tmr[(off - 0x180) >> 4];
    if (off >= 0x200 && off < 0x280) return this.irr[(off - 0x200) >> 4];
    if (off >= 0x320 && off <= 0x370) return this.lvt[(off - 0x320) >> 4];
    this.error(ESR_ILLEGAL_REGISTER);
    return 0;
  }

  /** Write a register by its xAPIC offset. */
  writeReg(off: number, v: number): void {
    switch (off) {
      case 0x020: if (!this.x2apic) this.id = v >>> 24; return;
      case 0x080: this.tpr = v & 0xff; return;
      case 0x0b0: this.eoi(); return;
      case 0x0d0: if (!this.x2apic) this.ldr = (v & 0xff000000) >>> 0; return;
      case 0x0e0: if (!this.x2apic) this.dfr = (v | 0x0fffffff) >>> 0; return;
      case 0x0f0:
        this.svr = v & 0x3ff;
        if (!this.softwareEnabled) for (let i = 0; i < 6; i++) this.lvt[i] |= LVT_MASKED;
        return;
      case 0x280: this.esr = this.esrPending; this.esrPending = 0; return;
      case 0x300: this.icrLo = v & 0x000ccfff; this.sendIpi(); return;
      case 0x310: this.icrHi = (v & 0xff000000) >>> 0; return;
      case 0x380: this.writeInitialCount(v); return;
      case 0x3e0: this.writeDivide(v & 0xb); return;
    }
    if (off >= 0x320 && off <= 0x370) {
      const i = (off - 0x320) >> 4;
      let nv = v & LVT_WMASK[i];
      if (!this.softwareEnabled) nv |= LVT_MASKED;
      this.lvt[i] = nv >>> 0;
      return;
    }
    // Read-only registers (version, PPR, ISR/TMR/IRR, current count...) ignore writes.
    if (!this.isRegister(off)) this.error(ESR_ILLEGAL_REGISTER);
  }

  // ---- priorities and delivery ------------------------------------------------------------

  private static highest(bank: Uint32Array): number {
    for (let i = 7; i >= 0; i--) if (bank[i]) return i * 32 + 31 - Math.clz32(bank[i]);
    return -1;
  }

  /** Processor priority ("Processor Priority Register (PPR)"). */
  ppr(): number {
    const isrv = Math.max(0, LocalApic.highest(this.isr));
    return (this.tpr >> 4) >= (isrv >> 4) ? this.tpr : isrv & 0xf0;
  }

  /** The IRR vector that would be dispatched now, or -1. */
  private deliverable(): number {
    if (!this.globallyEnabled || !this.softwareEnabled) return -1;
    const v = LocalApic.highest(this.irr);
    return v >= 0 && (v & 0xf0) > (this.ppr() & 0xf0) ? v : -1;
  }

  private extIntRouted(): boolean {
    if (!this.globallyEnabled) return true;
    const l = this.lvt[LVT_LINT0];
    return this.extIntPending || (!(l & LVT_MASKED) && ((l >> 8) & 7) === DM_EXTINT);
  }

  hasIntr(): boolean {
    if (this.deliverable() >= 0) return true;
    return this.extInt !== null && this.extIntRouted() && this.extInt.hasIntr();
  }

  ackIntr(): number {
    const v = this.deliverable();
    if (v >= 0) {
      this.irr[v >> 5] &= ~(1 << (v & 31));
      this.isr[v >> 5] |= 1 << (v & 31);
      return v;
    }
    if (this.extInt && this.extIntRouted() && this.extInt.hasIntr()) {
      this.extIntPending = false;
      return this.extInt.ackIntr();
    }
    return this.svr & 0xff; // spurious vector: no ISR bit
  }

  private eoi(): void {
    const v = LocalApic.highest(this.isr);
    if (v < 0) return;
    this.isr[v >> 5] &= ~(1 << (v & 31));
    if (this.tmr[v >> 5] & (1 << (v & 31))) this.onEoi?.(v);
  }

  /** Accept a fixed interrupt into IRR (edge or level; level sets TMR). */
  acceptFixed(vector: number, level = false): void {
    vector &= 0xff;
    if (vector < 16) { this.error(ESR_RECEIVE_ILLEGAL_VECTOR); return; }
    const w = vector >> 5, b = 1 << (vector & 31);
    this.irr[w] |= b;
    if (level) this.tmr[w] |= b; else this.tmr[w] &= ~b;
  }

  /** True when `dest` in the given destination mode names this APIC ("Determining IPI Destination"). */
  matchesDestination(dest: number, logical: boolean): boolean {
    dest >>>= 0;
    if (this.x2apic) {
      if (dest === 0xffffffff) return true;
      if (!logical) return dest === this.id;
      return (dest >>> 16) === (this.ldr >>> 16) && (dest & this.ldr & 0xffff) !== 0;
    }
    dest &= 0xff;
    if (dest === 0xff) return true;
    if (!logical) return dest === (this.id & 0xff);
    const mine = this.ldr >>> 24;
    if ((this.dfr >>> 28) === 0xf) return (dest & mine) !== 0;            // flat model
    return (dest >> 4) === (mine >> 4) && (dest & mine & 0xf) !== 0;      // cluster model
  }

  /** An interrupt message from the IOAPIC: delivered if this APIC is a destination. */
  deliverMessage(m: ApicMessage): boolean {
    if (!this.globallyEnabled) return false;
    if (!this.matchesDestination(m.dest, m.logical)) return false;
    switch (m.mode) {
      case DM_FIXED: case DM_LOWEST: this.acceptFixed(m.vector, m.level); return true;
      case DM_NMI: this.onNmi?.(); return true;
      case DM_EXTINT: this.extIntPending = true; return true;
      default: return false; // SMI, INIT, SIPI: not modelled
    }
  }

  private sendIpi(): void {
    const lo = this.icrLo;
    const vector = lo & 0xff, mode = (lo >> 8) & 7, logical = (lo & 0x800) !== 0;
    const shorthand = (lo >> 18) & 3;
    if ((mode === DM_FIXED || mode === DM_LOWEST) && vector < 16) { this.error(ESR_SEND_ILLEGAL_VECTOR); return; }
    const dest = this.x2apic ? this.icrHi : this.icrHi >>> 24;
    const toSelf = shorthand === 1 || shorthand === 2 || (shorthand === 0 && this.matchesDestination(dest, logical));
    if (!toSelf) return; // no other CPUs
    if (mode === DM_FIXED || (mode === DM_LOWEST && shorthand !== 1)) this.acceptFixed(vector, false);
    else if (mode === DM_NMI) this.onNmi?.();
    // INIT, SIPI, SMI: ignored with one vCPU
  }

  private selfIpi(vector: number): void {
    if (vector < 16) { this.error(ESR_SEND_ILLEGAL_VECTOR); return; }
    this.acceptFixed(vector, false);
  }

  private error(bits: number): void {
    const first = (this.esrPending & bits) !== bits;
    this.esrPending |= bits;
    const l = this.lvt[LVT_ERROR];
    if (first && !(l & LVT_MASKED) && (l & 0xff) >= 16) this.acceptFixed(l & 0xff, false);
  }

  /** Drive the LINT0/LINT1 pin (LINT1 is the NMI pin on a PC). ExtINT needs no edge here. */
  setLint(pin: 0 | 1, level: boolean): void {
    const rising = level && !this.lint[pin];
    this.lint[pin] = level;
    const l = this.lvt[LVT_LINT0 + pin];
    if (!this.globallyEnabled || (l & LVT_MASKED)) return;
    const mode = (l >> 8) & 7;
    const levelTriggered = (l & (1 << 15)) !== 0;
    if (mode === DM_NMI && rising) this.onNmi?.();
    else if (mode === DM_FIXED && (rising || (levelTriggered && level))) this.acceptFixed(l & 0xff, levelTriggered);
  }

  // ---- timer ("APIC Timer") ---------------------------------------------------------------

  /** Divide Configuration Register bits 3,1,0: 000 -> 2, 001 -> 4, ... 110 -> 128, 111 -> 1. */
  divisor(): number {
    const v = ((this.dcr & 8) >> 1) | (this.dcr & 3);
    return v === 7 ? 1 : 2 << v;
  }

  private instructionsPerCount(): number {
    return (this.clock.ips * this.divisor()) / this.busHz;
  }

  private cancelTimer(): void {
    if (this.timerId) { this.clock.cancel(this.timerId); this.timerId = 0; }
  }

  private startTimer(at: number, count: number): void {
    this.cancelTimer();
    this.timerRunning = true;
    this.timerStart = at;
    this.timerStartCount = count;
    const when = at + Math.max(1, Math.ceil(count * this.instructionsPerCount()));
    this.timerId = this.clock.at(when, () => this.timerExpired(when), 'lapic timer');
  }

  private timerExpired(when: number): void {
    this.timerId = 0;
    const l = this.lvt[LVT_TIMER];
    if (!(l & LVT_MASKED)) this.acceptFixed(l & 0xff, false);
    if ((l & (1 << 17)) && this.initialCount > 0) this.startTimer(when, this.initialCount); // periodic: from the due count, no drift
    else this.timerRunning = false;
  }

  currentCount(): number {
    if (!this.timerRunning) return 0;
    const elapsed = Math.floor((this.clock.icount - this.timerStart) / this.instructionsPerCount());
    return Math.max(0, this.timerStartCount - elapsed);
  }

  private writeInitialCount(v: number): void {
    this.initialCount = v >>> 0;
    if (this.initialCount === 0) { this.cancelTimer(); this.timerRunning = false; return; }
    this.startTimer(this.clock.icount, this.initialCount);
  }

  private writeDivide(v: number): void {
    const running = this.timerRunning, count = this.currentCount();
    this.dcr = v;
    if (running && count > 0) this.startTimer(this.clock.icount, count); // continue at the new rate
  }

  // ---- snapshots --------------------------------------------------------------------------

  save(): LocalApicState {
    return {
      apicBase: this.apicBase, id: this.id, tpr: this.tpr, ldr: this.ldr, dfr: this.dfr, svr: this.svr,
      irr: [...this.irr], isr: [...this.isr], tmr: [...this.tmr], esr: this.esr, esrPending: this.esrPending,
      icrLo: this.icrLo, icrHi: this.icrHi, lvt: [...this.lvt], initialCount: this.initialCount, dcr: this.dcr,
      timerRunning: this.timerRunning, timerStart: this.timerStart, timerStartCount: this.timerStartCount,
      extIntPending: this.extIntPending, lint: [...this.lint],
    };
  }

  /** Restore after the clock's icount has been restored; the timer is re-armed from the state. */
  restore(s: LocalApicState): void {
    this.cancelTimer();
    Object.assign(this, {
      apicBase: s.apicBase, id: s.id, tpr: s.tpr, ldr: s.ldr, dfr: s.dfr, svr: s.svr, esr: s.esr,
      esrPending: s.esrPending, icrLo: s.icrLo, icrHi: s.icrHi, initialCount: s.initialCount, dcr: s.dcr,
      extIntPending: s.extIntPending, lint: [...s.lint],
    });
    this.irr.set(s.irr); this.isr.set(s.isr); this.tmr.set(s.tmr); this.lvt.set(s.lvt);
    this.timerRunning = false;
    if (s.timerRunning) this.startTimer(s.timerStart, s.timerStartCount);
  }
}
