/**
 * The PC/AT pair of Intel 8259A programmable interrupt controllers: the master at 0x20/0x21
 * (ISA IRQ 0–7), the slave at 0xA0/0xA1 (IRQ 8–15) cascaded on the master's IR2, and the
 * PIIX edge/level control registers (ELCR) at 0x4D0/0x4D1.
 *
 * Behaviour follows the Intel 8259A datasheet (order no. 231468): the ICW1–ICW4 initialization
 * sequence, OCW1 (mask), OCW2 (non-specific/specific EOI, rotation, set priority), OCW3
 * (IRR/ISR read select, poll, special mask mode), fully nested priority with rotation, auto-EOI,
 * special fully nested mode on the master, and the spurious ("default IR7") vector when a
 * request is gone by the time of INTA.
 *
 * Modelling choices (read these before relying on an edge case):
 * - Edge-triggered inputs latch IRR on a rising edge and keep it until INTA, even if the line
 *   falls first. A strict 8259A withdraws the request when IR falls before the first INTA;
 *   vmxray devices signal edges as short pulses (raise then lower, see irq.ts), which such a
 *   strict model would lose. QEMU's i8259 makes the same choice. A request therefore
 *   "vanishes before INTA" — and INTA answers with the spurious vector base+7 without setting
 *   ISR — when a level-triggered line (LTIM or ELCR) falls, or when the line is masked.
 * - The slave's INT output drives the master's IR2. The master latches IR2 on the slave's
 *   rising INT like any edge input, so if the slave's request is withdrawn before INTA the
 *   master still answers IR2: the slave returns its spurious vector (base+7, IRQ15) and sets
 *   no ISR bit, while the master sets ISR bit 2, so the handler must EOI the master only
 *   (datasheet: the master has already committed to IR2; Bochs behaves the same). The slave's
 *   INT drops during the INTA cycle and is re-sampled after it, so a further slave request
 *   gives the master a fresh edge.
 * - The cascade is always on IR2 (as in every PC); ICW3 is stored but not interpreted.
 * - The vector is always ICW2 & 0xF8 | level, the 8086/8088 format; the MCS-80/85 (µPM=0)
 *   CALL sequence does not exist on a PC and is not modelled.
 * - ISA IRQ2 (`setIrq(2, …)`) is redirected to IRQ9, as the AT bus wires it.
 * - Accesses wider than a byte act on the addressed port only.
 */
import type { PortBus, PortDevice } from '../memory/ports.js';
import type { InterruptController } from '../cpu/interrupts.js';

/** Snapshot of one 8259A. */
export interface Pic8259ChipState {
  irr: number; isr: number; imr: number; pins: number; elcr: number;
  vectorBase: number; icw3: number; initStep: number;
  ic4: boolean; single: boolean; ltim: boolean;
  autoEoi: boolean; rotateOnAutoEoi: boolean; sfnm: boolean; mode8086: boolean; buffered: boolean;
  specialMask: boolean; readIsr: boolean; pollNext: boolean; priorityAdd: number;
}

/** One 8259A. `master` selects the special-fully-nested treatment of the cascade input IR2. */
export class Pic8259 {
  /** Interrupt request register: requests waiting for INTA. */
  irr = 0;
  /** In-service register: requests acknowledged and not yet EOI'd. */
  isr = 0;
  /** Interrupt mask register (OCW1). */
  imr = 0;
  /** Current levels of the IR input pins. */
  pins = 0;
  /** PIIX ELCR: 1 = that line is level-triggered. */
  elcr = 0;
  /** ICW2 & 0xF8: the vector of IR0. */
  vectorBase = 0;
  icw3 = 0;
  /** 0 = operational; 2, 3, 4 = the next write to the odd port is ICW2, ICW3, ICW4. */
  initStep = 0;
  ic4 = false;
  single = false;
  /** ICW1.LTIM: all lines level-triggered. */
  ltim = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  /** ICW4.SFNM: special fully nested mode. */
  sfnm = false;
  mode8086 = true;
  buffered = false;
  /** OCW3 special mask mode. */
  specialMask = false;
  /** OCW3 RR/RIS: reads of the even port return ISR (true) or IRR (false). */
  readIsr = false;
  /** OCW3 P: the next read is a poll (treated as INTA). */
  pollNext = false;
  /** The IR level with the highest priority (rotation moves it; 0 after ICW1). */
  priorityAdd = 0;

  constructor(readonly master: boolean, readonly elcrMask: number) {}

  private levelMask(): number { return this.ltim ? 0xff : this.elcr; }

  /** Drive input pin `n` (0–7). */
  setPin(n: number, level: boolean): void {
    const m = 1 << n;
    if (this.levelMask() & m) {
      if (level) this.irr |= m; else this.irr &= ~m;
    } else if (level && !(this.pins & m)) {
      this.irr |= m; // rising edge; a falling edge leaves the latch (see header)
    }
    if (level) this.pins |= m; else this.pins &= ~m;
  }

  /** Priority rank (0 = highest) of the best bit of `mask`, 8 if none. */
  private rank(mask: number): number {
    for (let p = 0; p < 8; p++) if (mask & (1 << ((p + this.priorityAdd) & 7))) return p;
    return 8;
  }

  /** The IR level this chip would present at INTA now, or -1 (INT output low). */
  getIrq(): number {
    const req = this.irr & ~this.imr & 0xff;
    if (!req) return -1;
    if (this.specialMask) {
      // Datasheet, Special Mask Mode: "enables interrupts from all other levels (lower as
      // well as higher) that are not masked" — only levels in service stay inhibited.
      const p = this.rank(req & ~this.isr);
      return p === 8 ? -1 : (p + this.priorityAdd) & 7;
    }
    const p = this.rank(req);
    const cur = this.rank(this.isr);
    const irq = (p + this.priorityAdd) & 7;
    if (p < cur) return irq;
    // Special fully nested mode: the master recognises a new request on the cascade input
    // while that same input is in service (a higher-priority slave request).
    if (this.master && this.sfnm && p === cur && irq === 2) return irq;
    return -1;
  }

  /** The INTA cycle for level `irq` (or a poll read): ISR set unless AEOI, edge IRR cleared. */
  intack(irq: number): void {
    const m = 1 << irq;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
    } else {
      this.isr |= m;
    }
    if (!(this.levelMask() & m)) this.irr &= ~m;
  }

  private icw1(v: number): void {
    // Datasheet, ICW1: edge sense circuit reset, IMR cleared, IR7 lowest priority, special
    // mask mode cleared, status read set to IRR; IC4=0 clears all ICW4 functions.
    this.ic4 = (v & 0x01) !== 0;
    this.single = (v & 0x02) !== 0;
    this.ltim = (v & 0x08) !== 0;
    this.imr = 0;
    this.isr = 0;
    this.irr = this.pins & this.levelMask(); // level inputs still asserted request again
    this.priorityAdd = 0;
    this.specialMask = false;
    this.readIsr = false;
    this.pollNext = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.sfnm = false;
    this.buffered = false;
    this.mode8086 = false;
    this.icw3 = 7;
    this.initStep = 2;
  }

  private ocw2(v: number): void {
    const level = v & 7;
    switch (v >> 5) {
      case 0: this.rotateOnAutoEoi = false; break;              // clear rotate in AEOI mode
      case 1: this.nonSpecificEoi(false); break;                 // non-specific EOI
      case 2: break;                                              // no operation
      case 3: this.isr &= ~(1 << level); break;                  // specific EOI
      case 4: this.rotateOnAutoEoi = true; break;               // set rotate in AEOI mode
      case 5: this.nonSpecificEoi(true); break;                  // rotate on non-specific EOI
      case 6: this.priorityAdd = (level + 1) & 7; break;         // set priority (level = lowest)
      case 7: this.isr &= ~(1 << level); this.priorityAdd = (level + 1) & 7; break; // rotate on specific EOI
    }
  }

  private nonSpecificEoi(rotate: boolean): void {
    const p = this.rank(this.isr);
    if (p === 8) return;
    const irq = (p + this.priorityAdd) & 7;
    this.isr &= ~(1 << irq);
    if (rotate) this.priorityAdd = (irq + 1) & 7;
  }

  private ocw3(v: number): void {
    if (v & 0x04) this.pollNext = true;
    if (v & 0x02) this.readIsr = (v & 0x01) !== 0;
    if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
  }

  /** A write with address line A0 = `a0`. */
  write(a0: number, v: number): void {
    if (a0 === 0) {
      if (v & 0x10) this.icw1(v);
      else if (v & 0x08) this.ocw3(v);
      else this.ocw2(v);
      return;
    }
    switch (this.initStep) {
      case 2:
        this.vectorBase = v & 0xf8;
        this.initStep = this.single ? (this.ic4 ? 4 : 0) : 3;
        break;
      case 3:
        this.icw3 = v;
        this.initStep = this.ic4 ? 4 : 0;
        break;
      case 4:
        this.mode8086 = (v & 0x01) !== 0;
        this.autoEoi = (v & 0x02) !== 0;
        this.buffered = (v & 0x08) !== 0;
        this.sfnm = (v & 0x10) !== 0;
        this.initStep = 0;
        break;
      default:
        this.imr = v; // OCW1
    }
  }

  /** A read with A0 = `a0`. A pending poll command turns it into a poll (an INTA). */
  read(a0: number): number {
    if (this.pollNext) {
      this.pollNext = false;
      // Datasheet, Poll Command: I bit (7) set if a request is pending, W2–W0 its level.
      const irq = this.getIrq();
      if (irq < 0) return 0;
      this.intack(irq);
      return 0x80 | irq;
    }
    if (a0 === 1) return this.imr;
    return this.readIsr ? this.isr : this.irr;
  }

  save(): Pic8259ChipState {
    return {
      irr: this.irr, isr: this.isr, imr: this.imr, pins: this.pins, elcr: this.elcr,
      vectorBase: this.vectorBase, icw3: this.icw3, initStep: this.initStep,
      ic4: this.ic4, single: this.single, ltim: this.ltim,
      autoEoi: this.autoEoi, rotateOnAutoEoi: this.rotateOnAutoEoi, sfnm: this.sfnm,
      mode8086: this.mode8086, buffered: this.buffered,
      specialMask: this.specialMask, readIsr: this.readIsr, pollNext: this.pollNext,
      priorityAdd: this.priorityAdd,
    };
  }
  restore(s: Pic8259ChipState): void { Object.assign(this, s); }
}

export interface Pic8259PairOptions {
  /**
   * Start as a PC BIOS leaves the pair (default true): vectors 0x08/0x70, cascade on IR2,
   * 8086 mode, every line masked except the cascade. False: the power-on state (not
   * initialized; vector base 0, nothing masked).
   */
  biosInit?: boolean;
  /** Claim the PIIX ELCR ports 0x4D0/0x4D1 (default true). */
  elcr?: boolean;
}

export interface Pic8259PairState { master: Pic8259ChipState; slave: Pic8259ChipState; slaveInt: boolean }

/** The master/slave pair; the platform's interrupt controller when no APIC is used. */
export class Pic8259Pair implements InterruptController, PortDevice {
  /** Master 8259A: pins IR0–IR7 = ISA IRQ0–7 (IR2 = slave INT). ELCR mask 0xF8 (PIIX). */
  readonly master = new Pic8259(true, 0xf8);
  /** Slave 8259A: IRQ8–15. ELCR mask 0xDE (IRQ8 and IRQ13 are always edge on PIIX). */
  readonly slave = new Pic8259(false, 0xde);
  private slaveInt = false;
  private readonly claimElcr: boolean;

  constructor(opts: Pic8259PairOptions = {}) {
    this.claimElcr = opts.elcr ?? true;
    if (opts.biosInit ?? true) this.biosInit();
  }

  private biosInit(): void {
    for (const [port, v] of [[0x20, 0x11], [0x21, 0x08], [0x21, 0x04], [0x21, 0x01], [0x21, 0xfb],
      [0xa0, 0x11], [0xa1, 0x70], [0xa1, 0x02], [0xa1, 0x01], [0xa1, 0xff]] as const) {
      this.portWrite(port, 1, v);
    }
  }

  /** Power-on state (used by a machine reset); `biosInit` as in the constructor. */
  reset(biosInit = true): void {
    const pins = this.master.pins & ~4, spins = this.slave.pins;
    this.master.restore(new Pic8259(true, 0xf8).save());
    this.slave.restore(new Pic8259(false, 0xde).save());
    this.master.pins = pins; this.slave.pins = spins; // the wires keep their levels
    this.slaveInt = false;
    if (biosInit) this.biosInit();
  }

  register(bus: PortBus): void {
    bus.register(this, [0x20, 0x21, 0xa0, 0xa1]);
    if (this.claimElcr) bus.register(this, [0x4d0, 0x4d1]);
  }

  /** Drive ISA IRQ `line` (0–15). */
  setIrq(line: number, level: boolean): void {
    if (line === 2) line = 9;
    if (line < 8) this.master.setPin(line, level);
    else { this.slave.setPin(line - 8, level); this.syncCascade(); }
  }

  /** The slave's INT output drives the master's IR2. */
  private syncCascade(): void {
    const int = this.slave.getIrq() >= 0;
    if (int !== this.slaveInt) {
      this.slaveInt = int;
      this.master.setPin(2, int);
    }
  }

  hasIntr(): boolean { return this.master.getIrq() >= 0; }

  ackIntr(): number {
    const irq = this.master.getIrq();
    if (irq < 0) return this.master.vectorBase + 7; // spurious IRQ7: no ISR bit set
    let vector: number;
    if (irq === 2) {
      const irq2 = this.slave.getIrq();
      if (irq2 >= 0) {
        this.slave.intack(irq2);
        vector = this.slave.vectorBase + irq2;
      } else {
        vector = this.slave.vectorBase + 7; // spurious IRQ15; the master still sets ISR2
      }
    } else {
      vector = this.master.vectorBase + irq;
    }
    this.master.intack(irq);
    if (irq === 2) {
      // The slave's INT falls during INTA; re-sample it so a further request re-edges IR2.
      this.slaveInt = false;
      this.master.setPin(2, false);
      this.syncCascade();
    }
    return vector;
  }

  portRead(port: number): number {
    switch (port) {
      case 0x20: case 0x21: return this.master.read(port & 1);
      case 0xa0: case 0xa1: { const v = this.slave.read(port & 1); this.syncCascade(); return v; }
      case 0x4d0: return this.master.elcr;
      case 0x4d1: return this.slave.elcr;
    }
    return 0xff;
  }

  portWrite(port: number, _size: 1 | 2 | 4, value: number): void {
    const v = value & 0xff;
    switch (port) {
      case 0x20: case 0x21: this.master.write(port & 1, v); break;
      case 0xa0: case 0xa1: this.slave.write(port & 1, v); this.syncCascade(); break;
      case 0x4d0: this.setElcr(this.master, v); break;
      case 0x4d1: this.setElcr(this.slave, v); this.syncCascade(); break;
    }
  }

  private setElcr(chip: Pic8259, v: number): void {
    chip.elcr = v & chip.elcrMask;
    // Lines that became level-triggered request while asserted; edge lines keep their latch.
    chip.irr |= chip.pins & chip.elcr;
  }

  save(): Pic8259PairState {
    return { master: this.master.save(), slave: this.slave.save(), slaveInt: this.slaveInt };
  }
  restore(s: Pic8259PairState): void {
    this.master.restore(s.master);
    this.slave.restore(s.slave);
    this.slaveInt = s.slaveInt;
  }
}
