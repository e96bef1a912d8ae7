/**
 * CMOS RAM and real-time clock: a Motorola MC146818A as the PC/AT wires it. Port 0x70 selects
 * one of 128 bytes (bit 7 of the write masks NMI), port 0x71 reads and writes it.
 *
 * Behaviour follows the MC146818A datasheet: time/date registers 0x00–0x09 in BCD or binary
 * (register B bit 2, DM) and 12- or 24-hour form (register B bit 1; in 12-hour form bit 7 of
 * the hour is PM), register A (UIP, DV, RS), register B (SET, PIE, AIE, UIE, SQWE, DM, 24/12,
 * DSE), register C (IRQF, PF, AF, UF; cleared by reading), register D (VRT). Alarm bytes with
 * the two high bits set ("don't care", 0xC0–0xFF) match any value. IRQ8 is driven while
 * register C's IRQF is set and falls when C is read.
 *
 * Time comes from the virtual clock only (DESIGN.md #1): the RTC shows
 * `clock.startDateMs` + virtual elapsed time (+ whatever offset the guest set), so the second
 * boundaries — and the update-ended, alarm and periodic flags — fall at exact instruction
 * counts. UIP reads 1 during the 2228 µs before each second boundary (tBUC 244 µs + the
 * 1984 µs update cycle at 32.768 kHz); the registers change at the boundary.
 *
 * Setting the time: with SET=1 updates stop and the time registers are plain RAM; when SET
 * returns to 0 they are parsed (in the current DM/24-hour format) and the clock continues from
 * them. A single time register written with SET=0 takes effect at once. The sub-second phase
 * is kept either way. Not modelled: the divider-chain reset (DV = 11x; DV is stored but time
 * always runs), daylight saving (DSE), the square-wave output.
 *
 * Memory-size bytes are filled as SeaBIOS/QEMU expect them: 0x15/0x16 base memory in KiB
 * (≤ 640), 0x17/0x18 and 0x30/0x31 memory above 1 MiB in KiB (≤ 65535), 0x34/0x35 memory
 * above 16 MiB in 64 KiB units (≤ 65535), 0x5B–0x5D memory above 4 GiB in 64 KiB units; the
 * AT checksum over 0x10–0x2D sits in 0x2E (high) / 0x2F (low). Century is byte 0x32.
 */
import type { PortBus, PortDevice } from '../memory/ports.js';
import type { VirtualClock } from '../machine/clock.js';
import type { IrqLine } from './irq.js';

export interface CmosOptions {
  clock: VirtualClock;
  /** ISA IRQ8 (optional: without it the flags are still kept in register C). */
  irq?: IrqLine;
  /** Guest RAM below and above 4 GiB, in bytes, for the memory-size bytes. */
  memory?: { below4G: number; above4G?: number };
}

export interface CmosState {
  ram: number[]; index: number; nmiMasked: boolean;
  baseSec: number; phaseCount: number; flagCount: number; irqLevel: boolean;
}

const KiB = 1024, MiB = 1024 * KiB;
const REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d, CENTURY = 0x32;
const B_SET = 0x80, B_DM_BINARY = 0x04, B_24H = 0x02;
const C_IRQF = 0x80, C_PF = 0x40, C_AF = 0x20, C_UF = 0x10;
const TIME_REGS = [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, CENTURY];
/** UIP lead time before each second boundary: 244 µs + 1984 µs. */
const UIP_SECONDS = 2228e-6;

export class Cmos implements PortDevice {
  readonly ram = new Uint8Array(128);
  index = 0;
  /** Port 0x70 bit 7: NMI disabled. */
  nmiMasked = false;
  private readonly clock: VirtualClock;
  private readonly irq: IrqLine | undefined;
  /** RTC time at instruction count c is baseSec + floor((c - phaseCount) / ips) seconds. */
  private baseSec = 0;
  private phaseCount = 0;
  /** Register C's flags are accounted up to this instruction count. */
  private flagCount = 0;
  private irqLevel = false;
  private timerId = -1;

  constructor(opts: CmosOptions) {
    this.clock = opts.clock;
    this.irq = opts.irq;
    const startSec = Math.floor(opts.clock.startDateMs / 1000);
    this.baseSec = startSec;
    // RTC ms at count c = startDateMs + c / ips * 1000; the second boundary of startSec is at
    // a count just before 0 when startDateMs has a fractional second.
    this.phaseCount = -((opts.clock.startDateMs - startSec * 1000) / 1000) * opts.clock.ips;
    this.flagCount = opts.clock.icount;
    this.ram[REG_A] = 0x26; // DV = 010 (32.768 kHz), RS = 0110 (1024 Hz)
    this.ram[REG_B] = B_24H; // 24-hour, BCD
    this.ram[REG_D] = 0x80;  // VRT: valid RAM and time
    this.ram[0x14] = 0x02;   // equipment: math coprocessor, primary display EGA/VGA
    if (opts.memory) this.setMemorySize(opts.memory.below4G, opts.memory.above4G ?? 0);
    this.updateChecksum();
  }

  register(bus: PortBus): void { bus.register(this, [0x70, 0x71]); }

  private setMemorySize(below4G: number, above4G: number): void {
    const put16 = (i: number, v: number) => { this.ram[i] = v & 0xff; this.ram[i + 1] = (v >> 8) & 0xff; };
    put16(0x15, Math.min(Math.floor(below4G / KiB), 640));
    const ext = Math.min(below4G > MiB ? Math.floor((below4G - MiB) / KiB) : 0, 0xffff);
    put16(0x17, ext);
    put16(0x30, ext);
    put16(0x34, Math.min(below4G > 16 * MiB ? Math.floor((below4G - 16 * MiB) / (64 * KiB)) : 0, 0xffff));
    const high = Math.floor(above4G / (64 * KiB));
    this.ram[0x5b] = high & 0xff;
    this.ram[0x5c] = (high >> 8) & 0xff;
    this.ram[0x5d] = (high >> 16) & 0xff;
  }

  /** IBM AT checksum: the 16-bit sum of bytes 0x10–0x2D, big-endian in 0x2E/0x2F. */
  private updateChecksum(): void {
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += this.ram[i];
    this.ram[0x2e] = (sum >> 8) & 0xff;
    this.ram[0x2f] = sum & 0xff;
  }

  // ---- time base -------------------------------------------------------------------------

  private secondIndex(c: number): number { return Math.floor((c - this.phaseCount) / this.clock.ips); }
  /** The first instruction count at which second index `k` has begun. */
  private secondBoundary(k: number): number {
    let c = Math.ceil(this.phaseCount + k * this.clock.ips);
    while (this.secondIndex(c - 1) >= k) c--;
    while (this.secondIndex(c) < k) c++;
    return c;
  }
  /** Periodic-interrupt period in instructions (0 when RS = 0). */
  private periodCounts(): number {
    const rs = this.ram[REG_A] & 0x0f;
    if (rs === 0) return 0;
    const exp = rs < 3 ? rs + 6 : rs - 1; // RS 1, 2 repeat RS 8, 9 at 32.768 kHz
    return (2 ** exp / 32768) * this.clock.ips;
  }
  private periodIndex(c: number, p: number): number { return Math.floor(c / p); }
  private periodBoundary(k: number, p: number): number {
    let c = Math.ceil(k * p);
    while (this.periodIndex(c - 1, p) >= k) c--;
    while (this.periodIndex(c, p) < k) c++;
    return c;
  }

  /** RTC time in seconds since the epoch, now. */
  rtcSeconds(): number { return this.baseSec + this.secondIndex(this.clock.icount); }
  private get setMode(): boolean { return (this.ram[REG_B] & B_SET) !== 0; }

  private encode(v: number): number {
    return this.ram[REG_B] & B_DM_BINARY ? v : ((Math.floor(v / 10) << 4) | (v % 10));
  }
  private decode(v: number): number {
    return this.ram[REG_B] & B_DM_BINARY ? v : ((v >> 4) * 10 + (v & 0x0f));
  }

  /** The time registers' values for RTC time `sec`, in the current format. */
  private fields(sec: number): Map<number, number> {
    const d = new Date(sec * 1000);
    const h = d.getUTCHours();
    let hour: number;
    if (this.ram[REG_B] & B_24H) hour = this.encode(h);
    else hour = this.encode(h % 12 === 0 ? 12 : h % 12) | (h >= 12 ? 0x80 : 0);
    const year = d.getUTCFullYear();
    return new Map([
      [0x00, this.encode(d.getUTCSeconds())],
      [0x02, this.encode(d.getUTCMinutes())],
      [0x04, hour],
      [0x06, this.encode(d.getUTCDay() + 1)], // 1 = Sunday
      [0x07, this.encode(d.getUTCDate())],
      [0x08, this.encode(d.getUTCMonth() + 1)],
      [0x09, this.encode(year % 100)],
      [CENTURY, this.encode(Math.floor(year / 100))],
    ]);
  }

  /** Parse the time registers held in RAM into seconds since the epoch. */
  private parseRam(): number {
    const r = this.ram;
    let h: number;
    if (r[REG_B] & B_24H) h = this.decode(r[0x04]);
    else {
      h = this.decode(r[0x04] & 0x7f) % 12;
      if (r[0x04] & 0x80) h += 12;
    }
    const year = this.decode(r[CENTURY]) * 100 + this.decode(r[0x09]);
    const ms = Date.UTC(year, this.decode(r[0x08]) - 1, this.decode(r[0x07]), h,
      this.decode(r[0x02]), this.decode(r[0x00]));
    return Number.isFinite(ms) ? Math.floor(ms / 1000) : this.rtcSeconds();
  }

  private snapshotTimeIntoRam(): void {
    for (const [i, v] of this.fields(this.rtcSeconds())) this.ram[i] = v;
  }
  /** Continue counting from the time held in RAM, keeping the sub-second phase. */
  private rebaseFromRam(): void {
    this.baseSec = this.parseRam() - this.secondIndex(this.clock.icount);
  }

  // ---- flags and IRQ8 ----------------------------------------------------------------------

  /** Account the flags of register C for the time since the last accounting. */
  private accumulate(): void {
    const now = this.clock.icount;
    const last = this.flagCount;
    if (now <= last) return;
    this.flagCount = now;
    let c = this.ram[REG_C];
    if (!this.setMode) {
      const k0 = this.secondIndex(last), k1 = this.secondIndex(now);
      if (k1 > k0) {
        c |= C_UF;
        // The alarm pattern repeats at most daily: checking the last 86400 updates is exact.
        for (let k = Math.max(k0 + 1, k1 - 86399); k <= k1; k++) {
          if (this.alarmMatches(this.baseSec + k)) { c |= C_AF; break; }
        }
      }
    }
    const p = this.periodCounts();
    if (p > 0 && this.periodIndex(now, p) > this.periodIndex(last, p)) c |= C_PF;
    this.ram[REG_C] = c;
  }

  private alarmMatches(sec: number): boolean {
    const f = this.fields(sec);
    const m = (alarm: number, now: number) => (alarm & 0xc0) === 0xc0 || alarm === now;
    return m(this.ram[0x01], f.get(0x00)!) && m(this.ram[0x03], f.get(0x02)!) && m(this.ram[0x05], f.get(0x04)!);
  }

  /** IRQF = PF·PIE + AF·AIE + UF·UIE; IRQ8 follows it. */
  private updateIrq(): void {
    let c = this.ram[REG_C];
    if (c & this.ram[REG_B] & 0x70) c |= C_IRQF;
    this.ram[REG_C] = c;
    const level = (c & C_IRQF) !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq?.(8, level);
    }
  }

  /** Arm a clock event for the next flag that has its interrupt enabled. */
  private reschedule(): void {
    if (this.timerId >= 0) { this.clock.cancel(this.timerId); this.timerId = -1; }
    const b = this.ram[REG_B];
    const now = this.clock.icount;
    let when = Infinity;
    if (b & 0x30 && !this.setMode) when = Math.min(when, this.secondBoundary(this.secondIndex(now) + 1));
    const p = this.periodCounts();
    if (b & 0x40 && p > 0) when = Math.min(when, this.periodBoundary(this.periodIndex(now, p) + 1, p));
    if (when === Infinity) return;
    this.timerId = this.clock.at(when, () => {
      this.timerId = -1;
      this.accumulate();
      this.updateIrq();
      this.reschedule();
    }, 'rtc');
  }

  // ---- ports -------------------------------------------------------------------------------

  portRead(port: number): number {
    if (port === 0x70) return 0xff; // the index register is write-only
    return this.readReg(this.index);
  }

  portWrite(port: number, _size: 1 | 2 | 4, value: number): void {
    if (port === 0x70) {
      this.index = value & 0x7f;
      this.nmiMasked = (value & 0x80) !== 0;
      return;
    }
    this.writeReg(this.index, value & 0xff);
  }

  /** Register `i` as the guest reads it (reading C clears it). */
  readReg(i: number): number {
    this.accumulate();
    switch (i) {
      case REG_A: {
        const now = this.clock.icount;
        const uip = !this.setMode &&
          this.secondBoundary(this.secondIndex(now) + 1) - now <= UIP_SECONDS * this.clock.ips;
        return (this.ram[REG_A] & 0x7f) | (uip ? 0x80 : 0);
      }
      case REG_C: {
        this.updateIrq();
        const v = this.ram[REG_C];
        this.ram[REG_C] = 0;
        this.updateIrq();
        return v;
      }
      case REG_D: return 0x80;
    }
    if (!this.setMode && TIME_REGS.includes(i)) return this.fields(this.rtcSeconds()).get(i)!;
    return this.ram[i];
  }

  writeReg(i: number, v: number): void {
    this.accumulate();
    switch (i) {
      case REG_A:
        this.ram[REG_A] = v & 0x7f; // UIP is read-only
        this.reschedule();
        return;
      case REG_B: {
        const wasSet = this.setMode;
        if (!wasSet && v & B_SET) this.snapshotTimeIntoRam();
        if (v & B_SET) v &= ~0x10; // datasheet: setting SET clears UIE
        this.ram[REG_B] = v;
        if (wasSet && !(v & B_SET)) this.rebaseFromRam();
        this.updateIrq();
        this.reschedule();
        return;
      }
      case REG_C: case REG_D: return; // read-only
    }
    if (TIME_REGS.includes(i) && !this.setMode) {
      this.snapshotTimeIntoRam();
      this.ram[i] = v;
      this.rebaseFromRam();
      return;
    }
    this.ram[i] = v;
  }

  save(): CmosState {
    return {
      ram: Array.from(this.ram), index: this.index, nmiMasked: this.nmiMasked,
      baseSec: this.baseSec, phaseCount: this.phaseCount, flagCount: this.flagCount, irqLevel: this.irqLevel,
    };
  }
  /** Restore after the clock's icount has been restored; re-arms the RTC timer. */
  restore(s: CmosState): void {
    this.ram.set(s.ram);
    this.index = s.index;
    this.nmiMasked = s.nmiMasked;
    this.baseSec = s.baseSec;
    this.phaseCount = s.phaseCount;
    this.flagCount = s.flagCount;
    this.irqLevel = s.irqLevel;
    this.reschedule();
  }
}
