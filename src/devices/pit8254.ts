/**
 * Intel 8254 programmable interval timer (counters 0–2 at 0x40–0x42, control word at 0x43)
 * and the PC/AT system control port B at 0x61 (counter 2 gate, speaker enable, counter 2
 * output, refresh toggle).
 *
 * Behaviour follows the Intel 8254 datasheet (order no. 231164): control word, counter latch
 * command, read-back command (count and status latches), status byte (OUT, NULL COUNT, the
 * programmed RW/mode/BCD bits), lobyte/hibyte/lo-hi access, modes 0–5 with their GATE rules,
 * BCD counting.
 *
 * Time: the counters run at PIT_HZ = 1.193182 MHz of *virtual* time. The tick count at
 * instruction count c is floor(c × PIT_HZ / ips) (DESIGN.md #1); nothing is stepped per tick:
 * counts and OUT are computed from the tick count when read, and the next rising edge of
 * counter 0's OUT is programmed with `clock.at()` at the first instruction count whose tick
 * count reaches it, so IRQ0 fires at an exact, replayable count. IRQ0 is signalled as a pulse
 * (raise, lower) on each rising edge of OUT0; modes 2 and 3 give one per period.
 *
 * Simplifications (documented deviations):
 * - A new count written in mode 3 while counting takes effect at the end of the current
 *   period (the datasheet says: at the end of the current half-cycle).
 * - A count of 1 in modes 2 and 3 is illegal per the datasheet; here mode 2 then holds OUT low
 *   and mode 3 holds it high, and neither raises IRQ0.
 * - After a control word the counting element stops (reads return the last count until a new
 *   count is loaded); the datasheet calls the count undefined in that window.
 * - Invalid BCD digits are accepted and weighed as written.
 * - A control word that forces OUT0 from low to high (mode 0 → any other mode) raises no
 *   IRQ0; only counting produces edges (QEMU does the same).
 * - Port 0x61 bit 4 toggles every 18 ticks (15.09 µs, the AT refresh period) from virtual
 *   time, whatever counter 1 is programmed to; bits 6/7 (IOCHK/SERR NMI sources) read 0.
 */
import type { PortBus, PortDevice } from '../memory/ports.js';
import type { VirtualClock } from '../machine/clock.js';
import type { IrqLine } from './irq.js';

/** Input clock of the PC's 8254, in Hz. */
export const PIT_HZ = 1_193_182;

export interface PitChannelState {
  mode: number; access: number; bcd: boolean; control: number;
  crLow: number; writeHi: boolean; readHi: boolean;
  latched: number; latchHi: boolean; status: number;
  gate: boolean; hasCount: boolean; crValue: number;
  running: boolean; n: number; loadTick: number; preOut: boolean; preCount: number;
  idleOut: boolean; idleCount: number; activeBase: number; anchor: number;
  nextN: number; nextAt: number; crPending: boolean; crLoadTick: number;
}

/** One counter. All `t` arguments are PIT ticks. */
export class PitChannel {
  mode = 0;
  /** RW bits: 1 lobyte, 2 hibyte, 3 lobyte then hibyte. */
  access = 3;
  bcd = false;
  /** Low 6 bits of the last control word (as the status byte reports them). */
  control = 0x30;
  private crLow = 0;
  private writeHi = false;
  private readHi = false;
  /** Latched count (-1: none) and whether its low byte has been read. */
  private latched = -1;
  private latchHi = false;
  /** Latched status byte (-1: none). */
  private status = -1;
  gate = true;
  /** A count was written since the last control word (GATE triggers need one). */
  private hasCount = false;
  /** The last count written (1..65536, or 1..10000 in BCD). */
  private crValue = 0;
  // The counting sequence in progress: the counting element was loaded with `n` at `loadTick`.
  private running = false;
  private n = 0;
  private loadTick = 0;
  /** OUT and count before `loadTick` (the CLK pulse that loads the count). */
  private preOut = false;
  private preCount = 0;
  /** OUT and count while not running. */
  private idleOut = false;
  private idleCount = 0;
  /** Modes 0/4: ticks counted before the last GATE rise, and that rise's tick. */
  private activeBase = 0;
  private anchor = 0;
  /** Modes 2/3: count to reload at tick `nextAt` (the end of the current period); -1 none. */
  private nextN = 0;
  private nextAt = -1;
  /** NULL COUNT: a count is written but not yet loaded; loaded at `crLoadTick` (-1: at a trigger). */
  private crPending = true;
  private crLoadTick = -1;

  private get modulus(): number { return this.bcd ? 10000 : 65536; }
  private wrap(x: number): number { const m = this.modulus; return ((x % m) + m) % m; }

  /** Apply a reload that was due at or before `t` (modes 2/3). */
  private settle(t: number): void {
    if (this.nextAt >= 0 && t >= this.nextAt) {
      this.loadTick = this.nextAt;
      this.n = this.nextN;
      this.nextAt = -1;
      this.activeBase = 0;
      this.anchor = this.loadTick;
    }
  }

  /** Decrements performed by `t` in the current sequence (t >= loadTick). */
  private elapsed(t: number): number {
    if (this.mode === 0 || this.mode === 4) {
      return this.activeBase + (this.gate ? Math.max(0, t - Math.max(this.anchor, this.loadTick)) : 0);
    }
    return t - this.loadTick;
  }

  private startSequence(t: number, n: number, preOut: boolean, preCount: number): void {
    this.running = true;
    this.n = n;
    this.loadTick = t + 1; // "loaded on the next CLK pulse"
    this.preOut = preOut;
    this.preCount = preCount;
    this.activeBase = 0;
    this.anchor = this.loadTick;
    this.nextAt = -1;
  }

  out(t: number): boolean {
    this.settle(t);
    if (!this.running) return this.idleOut;
    if (t < this.loadTick) return this.preOut;
    const e = this.elapsed(t), n = this.n;
    switch (this.mode) {
      case 0: case 1: return e >= n;                       // high at terminal count
      case 2: return e % n !== n - 1;                      // low while the count is 1
      case 3: return e % n < Math.ceil(n / 2);             // high (N+1)/2, low (N-1)/2
      default: return e !== n;                             // modes 4/5: low for one CLK at 0
    }
  }

  /** The counting element's value (0..65535 or 0..9999). */
  count(t: number): number {
    this.settle(t);
    if (!this.running) return this.idleCount;
    if (t < this.loadTick) return this.preCount;
    const e = this.elapsed(t), n = this.n;
    switch (this.mode) {
      case 2: return this.wrap(n - (e % n));
      case 3: {
        // Datasheet, mode 3: even N decrements by two; odd N loads N, then N-1 (high phase)
        // or N-3 (low phase), then by two, OUT toggling when the count is exhausted.
        const r = e % n, h = Math.ceil(n / 2);
        const high = r < h, p = high ? r : r - h;
        if (n % 2 === 0) return this.wrap(n - 2 * p);
        if (p === 0) return this.wrap(n);
        return this.wrap(high ? n + 1 - 2 * p : n - 1 - 2 * p);
      }
      default: return this.wrap(n - e);
    }
  }

  nullCount(t: number): boolean {
    return this.crPending && (this.crLoadTick < 0 || t < this.crLoadTick);
  }

  /** The first tick after `t` at which OUT rises, or Infinity. */
  nextRisingEdge(t: number): number {
    this.settle(t);
    if (!this.running) return Infinity;
    const n = this.n;
    switch (this.mode) {
      case 0: case 1: case 4: case 5: {
        const target = this.mode <= 1 ? n : n + 1;
        if ((this.mode === 0 || this.mode === 4) && !this.gate) return Infinity;
        if (t < this.loadTick) return this.loadTick + target;
        const e = this.elapsed(t);
        return e < target ? t + (target - e) : Infinity;
      }
      default: {
        if (n < 2) return Infinity;
        if (this.nextAt >= 0) return this.nextAt;
        if (t < this.loadTick) return this.loadTick + n;
        return this.loadTick + (Math.floor((t - this.loadTick) / n) + 1) * n;
      }
    }
  }

  /** The control word for this counter (RW != 0). */
  writeControl(t: number, v: number): void {
    const frozen = this.count(t);
    this.access = (v >> 4) & 3;
    const m = (v >> 1) & 7;
    this.mode = m > 5 ? m & 3 : m; // 110 and 111 are modes 2 and 3
    this.bcd = (v & 1) !== 0;
    this.control = v & 0x3f;
    this.writeHi = false;
    this.readHi = false;
    this.latched = -1;
    this.latchHi = false;
    this.status = -1;
    // Datasheet: "all Control Logic is immediately reset and OUT goes to a known initial
    // state" — low in mode 0, high in the others; NULL COUNT is set.
    this.running = false;
    this.idleOut = this.mode !== 0;
    this.idleCount = frozen;
    this.hasCount = false;
    this.nextAt = -1;
    this.crPending = true;
    this.crLoadTick = -1;
  }

  latchCount(t: number): void {
    if (this.latched >= 0) return; // later latch commands are ignored until it is read
    this.latched = this.encode(this.count(t));
    this.latchHi = false;
  }

  latchStatus(t: number): void {
    if (this.status >= 0) return;
    this.status = (this.out(t) ? 0x80 : 0) | (this.nullCount(t) ? 0x40 : 0) | this.control;
  }

  private encode(c: number): number {
    if (!this.bcd) return c & 0xffff;
    let r = 0;
    for (let shift = 0; shift < 16; shift += 4) { r |= (c % 10) << shift; c = Math.floor(c / 10); }
    return r;
  }
  private decode(v: number): number {
    if (!this.bcd) return v === 0 ? 65536 : v;
    const n = (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 + ((v >> 12) & 0xf) * 1000;
    return n === 0 ? 10000 : n;
  }

  readData(t: number): number {
    if (this.status >= 0) { const s = this.status; this.status = -1; return s; }
    if (this.latched >= 0) {
      const c = this.latched;
      if (this.access === 1) { this.latched = -1; return c & 0xff; }
      if (this.access === 2) { this.latched = -1; return c >> 8; }
      if (!this.latchHi) { this.latchHi = true; return c & 0xff; }
      this.latched = -1; this.latchHi = false; return c >> 8;
    }
    const c = this.encode(this.count(t));
    if (this.access === 1) return c & 0xff;
    if (this.access === 2) return c >> 8;
    this.readHi = !this.readHi;
    return this.readHi ? c & 0xff : c >> 8;
  }

  /** A byte written to the counter's data port. */
  writeData(t: number, v: number): void {
    let cr: number;
    if (this.access === 1) cr = v;
    else if (this.access === 2) cr = v << 8;
    else if (!this.writeHi) {
      this.writeHi = true;
      this.crLow = v;
      if (this.mode === 0) {
        // Datasheet, mode 0: "Writing the first byte disables counting. OUT is set low
        // immediately (no clock pulse required)."
        this.idleCount = this.count(t);
        this.idleOut = false;
        this.running = false;
      }
      return;
    } else {
      this.writeHi = false;
      cr = this.crLow | (v << 8);
    }
    this.loadCount(t, this.decode(cr));
  }

  private loadCount(t: number, n: number): void {
    this.settle(t);
    this.hasCount = true;
    this.crValue = n;
    this.crPending = true;
    switch (this.mode) {
      case 0:
        this.startSequence(t, n, false, this.count(t));
        this.crLoadTick = t + 1;
        break;
      case 4:
        this.startSequence(t, n, this.out(t), this.count(t));
        this.crLoadTick = t + 1;
        break;
      case 2: case 3:
        if (this.running && t >= this.loadTick) {
          // Datasheet: a new count does not disturb the current period; it is loaded at its end.
          this.nextN = n;
          this.nextAt = this.nextRisingEdgeOfPeriod(t);
          this.crLoadTick = this.nextAt;
        } else if (this.running) {
          this.n = n; // not yet loaded: replace the pending count
          this.crLoadTick = this.loadTick;
        } else if (this.gate) {
          this.startSequence(t, n, true, this.idleCount);
          this.crLoadTick = t + 1;
        } else {
          this.crLoadTick = -1; // loaded when GATE rises
        }
        break;
      default: // modes 1 and 5: loaded by the next GATE trigger
        this.crLoadTick = -1;
    }
  }

  private nextRisingEdgeOfPeriod(t: number): number {
    return this.loadTick + (Math.floor((t - this.loadTick) / this.n) + 1) * this.n;
  }

  setGate(t: number, level: boolean): void {
    this.settle(t);
    if (level === this.gate) return;
    if (level) {
      switch (this.mode) {
        case 0: case 4:
          this.anchor = t; // counting resumes
          break;
        case 1: case 5:
          if (this.hasCount) {
            // Trigger: load the count on the next CLK; mode 1 drives OUT low from then on.
            this.startSequence(t, this.crValue, this.out(t), this.count(t));
            this.crLoadTick = t + 1;
          }
          break;
        default: // 2, 3: a rising GATE reloads the counter and restarts the period
          if (this.hasCount) {
            this.startSequence(t, this.crValue, true, this.count(t));
            this.crLoadTick = t + 1;
          }
      }
    } else {
      switch (this.mode) {
        case 0: case 4:
          if (this.running) this.activeBase += Math.max(0, t - Math.max(this.anchor, this.loadTick));
          break;
        case 2: case 3:
          // GATE low: OUT goes high immediately and counting stops.
          if (this.running) {
            this.idleCount = this.count(t);
            this.idleOut = true;
            this.running = false;
          }
          break;
      }
    }
    this.gate = level;
  }

  /** Start counting `n` in `mode` as if programmed at tick `t` (power-on/BIOS state). */
  program(t: number, control: number, n: number): void {
    this.writeControl(t, control);
    this.loadCount(t, n);
  }

  save(): PitChannelState {
    return {
      mode: this.mode, access: this.access, bcd: this.bcd, control: this.control,
      crLow: this.crLow, writeHi: this.writeHi, readHi: this.readHi,
      latched: this.latched, latchHi: this.latchHi, status: this.status,
      gate: this.gate, hasCount: this.hasCount, crValue: this.crValue,
      running: this.running, n: this.n, loadTick: this.loadTick, preOut: this.preOut, preCount: this.preCount,
      idleOut: this.idleOut, idleCount: this.idleCount, activeBase: this.activeBase, anchor: this.anchor,
      nextN: this.nextN, nextAt: this.nextAt, crPending: this.crPending, crLoadTick: this.crLoadTick,
    };
  }
  restore(s: PitChannelState): void { Object.assign(this, s); }
}

export interface Pit8254Options {
  clock: VirtualClock;
  /** Counter 0's OUT is ISA IRQ0. */
  irq: IrqLine;
  /**
   * Start as a PC BIOS leaves the timer (default true): counter 0 in mode 3 with count 65536
   * (18.2 Hz), counter 1 in mode 2 with count 18 (refresh), counter 2 in mode 3 with count
   * 65536 and its GATE low. False: nothing programmed (mode 0, no count, OUT low).
   */
  biosInit?: boolean;
}

export interface Pit8254State { channels: PitChannelState[]; portB: number }

export class Pit8254 implements PortDevice {
  readonly channels = [new PitChannel(), new PitChannel(), new PitChannel()];
  private readonly clock: VirtualClock;
  private readonly irq: IrqLine;
  /** Port 0x61 bits 0–3 as written (bit 0 = counter 2 GATE, bit 1 = speaker data enable). */
  private portB = 0;
  private timerId = -1;

  constructor(opts: Pit8254Options) {
    this.clock = opts.clock;
    this.irq = opts.irq;
    this.powerOn(opts.biosInit ?? true);
  }

  private powerOn(biosInit: boolean): void {
    this.channels[2].gate = false;
    this.portB = 0;
    if (biosInit) {
      const t = this.ticks();
      this.channels[0].program(t, 0x36, 65536); // counter 0, lo/hi, mode 3, binary
      this.channels[1].program(t, 0x54, 18);    // counter 1, lobyte, mode 2
      this.channels[2].program(t, 0x36, 65536); // counter 2, lo/hi, mode 3 (GATE low: waits)
    }
    this.reschedule();
  }

  /** Power-on state again (a machine reset). */
  reset(biosInit = true): void {
    for (let i = 0; i < 3; i++) this.channels[i] = new PitChannel();
    this.powerOn(biosInit);
  }

  register(bus: PortBus): void {
    bus.register(this, [0x40, 0x41, 0x42, 0x43, 0x61]);
  }

  /** PIT ticks elapsed at instruction count `count`. */
  tickAt(count: number): number { return Math.floor((count * PIT_HZ) / this.clock.ips); }
  /** PIT ticks elapsed now. */
  ticks(): number { return this.tickAt(this.clock.icount); }
  /** The first instruction count at which `tick` ticks have elapsed. */
  countAtTick(tick: number): number {
    let c = Math.ceil((tick * this.clock.ips) / PIT_HZ);
    while (c > 0 && this.tickAt(c - 1) >= tick) c--;
    while (this.tickAt(c) < tick) c++;
    return c;
  }

  /** Counter 2's GATE (port 0x61 bit 0), also for direct use. */
  setGate2(level: boolean): void {
    this.channels[2].setGate(this.ticks(), level);
  }

  portRead(port: number): number {
    const t = this.ticks();
    if (port >= 0x40 && port <= 0x42) return this.channels[port - 0x40].readData(t);
    if (port === 0x61) {
      return (this.portB & 0x0f)
        | (Math.floor(t / 18) & 1 ? 0x10 : 0)
        | (this.channels[2].out(t) ? 0x20 : 0);
    }
    return 0xff; // the control word register cannot be read
  }

  portWrite(port: number, _size: 1 | 2 | 4, value: number): void {
    const v = value & 0xff;
    const t = this.ticks();
    if (port >= 0x40 && port <= 0x42) {
      this.channels[port - 0x40].writeData(t, v);
      if (port === 0x40) this.reschedule();
      return;
    }
    if (port === 0x43) {
      const sc = v >> 6;
      if (sc === 3) {
        // Read-back: bit 5 = 0 latches counts, bit 4 = 0 latches status, bits 1–3 select.
        for (let i = 0; i < 3; i++) {
          if (!(v & (2 << i))) continue;
          if (!(v & 0x20)) this.channels[i].latchCount(t);
          if (!(v & 0x10)) this.channels[i].latchStatus(t);
        }
        return;
      }
      const ch = this.channels[sc];
      if ((v & 0x30) === 0) { ch.latchCount(t); return; }
      ch.writeControl(t, v);
      if (sc === 0) this.reschedule();
      return;
    }
    if (port === 0x61) {
      this.portB = v & 0x0f;
      this.channels[2].setGate(t, (v & 1) !== 0);
    }
  }

  private pulse(): void {
    this.irq(0, true);
    this.irq(0, false);
  }

  /** Program the clock for counter 0's next rising OUT edge. */
  private reschedule(): void {
    if (this.timerId >= 0) { this.clock.cancel(this.timerId); this.timerId = -1; }
    const edge = this.channels[0].nextRisingEdge(this.ticks());
    if (edge === Infinity) return;
    this.timerId = this.clock.at(this.countAtTick(edge), () => {
      this.timerId = -1;
      this.pulse();
      this.reschedule();
    }, 'pit0');
  }

  save(): Pit8254State {
    return { channels: this.channels.map(c => c.save()), portB: this.portB };
  }
  /** Restore after the clock's icount has been restored; re-arms the IRQ0 timer. */
  restore(s: Pit8254State): void {
    s.channels.forEach((c, i) => this.channels[i].restore(c));
    this.portB = s.portB;
    this.reschedule();
  }
}
