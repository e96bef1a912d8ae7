/**
 * National Semiconductor PC16550D UART ("16550A"): eight registers from `base`.
 *
 * Behaviour follows the PC16550D datasheet: RBR/THR and the divisor latch behind LCR.DLAB,
 * IER (bits 0–3), IIR with the datasheet's priorities — receiver line status (OE/PE/FE/BI,
 * cleared by reading LSR) > received data available (RBR full, or the FIFO at its trigger
 * level; cleared by reading below it) = character timeout (FIFO mode: data waiting and no FIFO
 * activity for 4 character times; cleared by reading RBR) > THR empty (cleared by reading IIR
 * when it is the reported source, or by writing THR) > modem status (cleared by reading MSR) —
 * and bits 7:6 set when the FIFOs are enabled; FCR (enable, clear RX/TX, trigger level
 * 1/4/8/14); LCR; MCR (DTR, RTS, OUT1, OUT2, loopback); LSR (DR, OE, THRE, TEMT); MSR with
 * delta bits (in loopback CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2; otherwise a terminal is
 * attached: CTS, DSR and DCD asserted); scratch.
 *
 * The interrupt output reaches the ISA IRQ line only while MCR.OUT2 is set, as the PC wires
 * it; in loopback mode the OUT2 pin is forced inactive (datasheet), so no IRQ reaches the
 * line then, although IIR still reports the cause.
 *
 * Simplifications: transmission is instantaneous — a byte written to THR is handed to `onTx`
 * (or looped back) at once and THRE/TEMT never drop, so the THRE interrupt re-arms right after
 * each write. Received bytes from the host (`receive`) wait in an unbounded line queue and move
 * into the receiver (16-byte FIFO, or the single RBR in 16450 mode) as soon as there is room,
 * so host input is never lost to an overrun; a loopback byte that finds the receiver full sets
 * OE. Parity, framing errors and break are never produced. The character-timeout uses the
 * programmed divisor and frame format (character time = bits / (115200 / divisor)).
 */
import type { PortBus, PortDevice } from '../memory/ports.js';
import type { VirtualClock } from '../machine/clock.js';
import type { IrqLine } from './irq.js';

/** The four PC COM ports. */
export const COM1 = { base: 0x3f8, irqLine: 4 } as const;
export const COM2 = { base: 0x2f8, irqLine: 3 } as const;
export const COM3 = { base: 0x3e8, irqLine: 4 } as const;
export const COM4 = { base: 0x2e8, irqLine: 3 } as const;

export interface Uart16550Options {
  base: number;
  irqLine: number;
  irq: IrqLine;
  clock: VirtualClock;
  /** Each transmitted byte (not called in loopback mode). */
  onTx?: (byte: number) => void;
}

export interface Uart16550State {
  rx: number[]; line: number[]; ier: number; lcr: number; mcr: number; lsrErrors: number;
  msrInputs: number; msrDelta: number; scr: number; dll: number; dlm: number;
  fifoEnabled: boolean; trigger: number; thri: boolean; timeoutPending: boolean;
  timeoutAt: number; irqLevel: boolean; lastRx: number;
}

const IER_RDA = 0x01, IER_THRE = 0x02, IER_RLS = 0x04, IER_MS = 0x08;
const LCR_DLAB = 0x80;
const MCR_LOOP = 0x10, MCR_OUT2 = 0x08;
const LSR_DR = 0x01, LSR_OE = 0x02, LSR_THRE = 0x20, LSR_TEMT = 0x40;
const IIR_NONE = 0x01, IIR_MS = 0x00, IIR_THRE = 0x02, IIR_RDA = 0x04, IIR_RLS = 0x06, IIR_TIMEOUT = 0x0c;
/** MSR inputs with a terminal attached: DCD, DSR, CTS. */
const MSR_ATTACHED = 0xb0;

export class Uart16550 implements PortDevice {
  readonly base: number;
  readonly irqLine: number;
  private readonly irq: IrqLine;
  private readonly clock: VirtualClock;
  onTx: (byte: number) => void;
  /** External input hook (the recorder): bytes given to `receive`, before delivery. */
  onInput: ((bytes: readonly number[]) => void) | null = null;

  /** Receiver FIFO (one entry in 16450 mode). */
  private rx: number[] = [];
  /** Host bytes not yet in the receiver. */
  private line: number[] = [];
  ier = 0;
  lcr = 0;
  mcr = 0;
  private lsrErrors = 0;
  private msrInputs = MSR_ATTACHED;
  private msrDelta = 0;
  scr = 0;
  dll = 0x0c; // 9600 baud, a common BIOS default
  dlm = 0;
  fifoEnabled = false;
  private trigger = 1;
  /** THRE interrupt pending (THR became empty and IIR has not reported it yet). */
  private thri = true;
  private timeoutPending = false;
  private timeoutAt = -1;
  private timerId = -1;
  private irqLevel = false;
  private lastRx = 0;

  constructor(opts: Uart16550Options) {
    this.base = opts.base;
    this.irqLine = opts.irqLine;
    this.irq = opts.irq;
    this.clock = opts.clock;
    this.onTx = opts.onTx ?? (() => {});
  }

  register(bus: PortBus): void { bus.register(this, { from: this.base, to: this.base + 7 }); }

  private get loopback(): boolean { return (this.mcr & MCR_LOOP) !== 0; }
  private get capacity(): number { return this.fifoEnabled ? 16 : 1; }

  /** Bytes arriving on the serial line from the host. */
  receive(bytes: readonly number[] | Uint8Array): void {
    const list = Array.from(bytes, b => b & 0xff);
    this.onInput?.(list);
    this.line.push(...list);
    this.pullLine();
    this.update();
  }

  /** Move host bytes into the receiver while it has room (not in loopback: line disconnected). */
  private pullLine(): void {
    let moved = false;
    while (!this.loopback && this.line.length && this.rx.length < this.capacity) {
      this.rx.push(this.line.shift()!);
      moved = true;
    }
    if (moved) this.rxActivity();
  }

  /** A character entered or left the FIFO: restart the 4-character timeout. */
  private rxActivity(): void {
    if (this.timerId >= 0) { this.clock.cancel(this.timerId); this.timerId = -1; }
    this.timeoutAt = -1;
    if (!this.fifoEnabled || this.rx.length === 0) return;
    const divisor = ((this.dlm << 8) | this.dll) || 0x10000;
    const dataBits = 5 + (this.lcr & 3);
    const stopBits = this.lcr & 4 ? (dataBits === 5 ? 1.5 : 2) : 1;
    const bits = 1 + dataBits + (this.lcr & 8 ? 1 : 0) + stopBits;
    this.armTimeout(this.clock.countAfterNanos((4 * bits * divisor * 1e9) / 115200));
  }

  private armTimeout(when: number): void {
    this.timeoutAt = when;
    this.timerId = this.clock.at(when, () => {
      this.timerId = -1;
      this.timeoutAt = -1;
      if (this.fifoEnabled && this.rx.length) this.timeoutPending = true;
      this.update();
    }, 'uart-timeout');
  }

  /** The interrupt the IIR reports now (datasheet priority order). */
  private cause(): number {
    if (this.ier & IER_RLS && this.lsrErrors) return IIR_RLS;
    if (this.ier & IER_RDA) {
      if (this.fifoEnabled ? this.rx.length >= this.trigger : this.rx.length > 0) return IIR_RDA;
      if (this.fifoEnabled && this.timeoutPending) return IIR_TIMEOUT;
    }
    if (this.ier & IER_THRE && this.thri) return IIR_THRE;
    if (this.ier & IER_MS && this.msrDelta) return IIR_MS;
    return IIR_NONE;
  }

  private update(): void {
    const level = this.cause() !== IIR_NONE && (this.mcr & MCR_OUT2) !== 0 && !this.loopback;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq(this.irqLine, level);
    }
  }

  /** Modem inputs from MCR (loopback) or the attached terminal; sets the delta bits. */
  private setMsrInputs(inputs: number): void {
    const changed = inputs ^ this.msrInputs;
    if (changed & 0x10) this.msrDelta |= 0x01;                       // DCTS
    if (changed & 0x20) this.msrDelta |= 0x02;                       // DDSR
    if (changed & 0x40 && !(inputs & 0x40)) this.msrDelta |= 0x04;   // TERI: RI trailing edge
    if (changed & 0x80) this.msrDelta |= 0x08;                       // DDCD
    this.msrInputs = inputs;
  }

  private transmit(b: number): void {
    if (this.loopback) {
      if (this.rx.length < this.capacity) this.rx.push(b);
      else {
        this.lsrErrors |= LSR_OE; // receiver full: overrun
        if (!this.fifoEnabled) this.rx[0] = b; // 16450: RBR is overwritten
      }
      this.rxActivity();
    } else {
      this.onTx(b);
    }
    this.thri = true; // THR (and the shift register) are empty again at once
  }

  portRead(port: number): number {
    const r = port - this.base;
    let v = 0xff;
    switch (r) {
      case 0:
        if (this.lcr & LCR_DLAB) { v = this.dll; break; }
        if (this.rx.length) this.lastRx = this.rx.shift()!;
        v = this.lastRx;
        this.timeoutPending = false;
        this.pullLine();
        this.rxActivity();
        break;
      case 1: v = this.lcr & LCR_DLAB ? this.dlm : this.ier; break;
      case 2: {
        const c = this.cause();
        if (c === IIR_THRE) this.thri = false;
        v = c | (this.fifoEnabled ? 0xc0 : 0);
        break;
      }
      case 3: v = this.lcr; break;
      case 4: v = this.mcr; break;
      case 5:
        v = (this.rx.length ? LSR_DR : 0) | this.lsrErrors | LSR_THRE | LSR_TEMT;
        this.lsrErrors = 0;
        break;
      case 6:
        v = this.msrInputs | this.msrDelta;
        this.msrDelta = 0;
        break;
      case 7: v = this.scr; break;
    }
    this.update();
    return v;
  }

  portWrite(port: number, _size: 1 | 2 | 4, value: number): void {
    const r = port - this.base;
    const v = value & 0xff;
    switch (r) {
      case 0:
        if (this.lcr & LCR_DLAB) this.dll = v;
        else this.transmit(v);
        break;
      case 1:
        if (this.lcr & LCR_DLAB) { this.dlm = v; break; }
        // Enabling the THRE interrupt while THR is empty raises it (datasheet).
        if (v & IER_THRE && !(this.ier & IER_THRE)) this.thri = true;
        this.ier = v & 0x0f;
        break;
      case 2: {
        const enable = (v & 1) !== 0;
        if (enable !== this.fifoEnabled) { this.rx = []; this.timeoutPending = false; }
        this.fifoEnabled = enable;
        if (enable) {
          if (v & 0x02) { this.rx = []; this.timeoutPending = false; }
          this.trigger = [1, 4, 8, 14][v >> 6];
        }
        this.pullLine();
        this.rxActivity();
        break;
      }
      case 3: this.lcr = v; break;
      case 4: {
        const wasLoop = this.loopback;
        this.mcr = v & 0x1f;
        if (this.loopback) {
          const m = this.mcr;
          this.setMsrInputs(((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4));
        } else {
          this.setMsrInputs(MSR_ATTACHED);
          if (wasLoop) this.pullLine();
        }
        break;
      }
      case 5: break; // LSR: writes are for factory test only
      case 6: break;
      case 7: this.scr = v; break;
    }
    this.update();
  }

  save(): Uart16550State {
    return {
      rx: [...this.rx], line: [...this.line], ier: this.ier, lcr: this.lcr, mcr: this.mcr,
      lsrErrors: this.lsrErrors, msrInputs: this.msrInputs, msrDelta: this.msrDelta, scr: this.scr,
      dll: this.dll, dlm: this.dlm, fifoEnabled: this.fifoEnabled, trigger: this.trigger,
      thri: this.thri, timeoutPending: this.timeoutPending, timeoutAt: this.timeoutAt,
      irqLevel: this.irqLevel, lastRx: this.lastRx,
    };
  }
  /** Restore after the clock's icount has been restored; re-arms the timeout timer. */
  restore(s: Uart16550State): void {
    if (this.timerId >= 0) { this.clock.cancel(this.timerId); this.timerId = -1; }
    this.rx = [...s.rx]; this.line = [...s.line];
    this.ier = s.ier; this.lcr = s.lcr; this.mcr = s.mcr; this.lsrErrors = s.lsrErrors;
    this.msrInputs = s.msrInputs; this.msrDelta = s.msrDelta; this.scr = s.scr;
    this.dll = s.dll; this.dlm = s.dlm; this.fifoEnabled = s.fifoEnabled; this.trigger = s.trigger;
    this.thri = s.thri; this.timeoutPending = s.timeoutPending; this.irqLevel = s.irqLevel; this.lastRx = s.lastRx;
    this.timeoutAt = -1;
    if (s.timeoutAt >= 0) this.armTimeout(s.timeoutAt);
  }
}
