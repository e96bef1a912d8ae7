/**
 * Small port devices of a PC and of emulators:
 * - `PostPort` (0x80): the POST-code / I/O-delay port. Writes are counted (SWEB writes it after
 *   every IDE access) and the last value is kept; reads return it, as a POST card latch does.
 * - `DebugConsolePort` (0xE9): the Bochs/QEMU debug console. Each written byte goes to
 *   `onOutput`; reads return 0xE9, the value Bochs and QEMU use to say the port exists.
 * - `DebugExitPort` (QEMU's isa-debug-exit, here at 0xF4 with iosize 4 by default): a write of
 *   `value` (1, 2 or 4 bytes) asks to end the run with exit code (value << 1) | 1, the code
 *   QEMU passes to exit() (a process sees code & 0xFF). Reads return 0.
 * - `SystemControlPortA` (0x92, "fast A20 and init"): bit 1 gates A20, a 0 → 1 transition of
 *   bit 0 resets the CPU (IBM PS/2 reference; QEMU behaves the same). Reads return the last
 *   value written.
 */
import type { PortBus, PortDevice } from '../memory/ports.js';

export interface PostPortState { last: number; writes: number }

export class PostPort implements PortDevice {
  last = 0;
  /** Number of writes so far. */
  writes = 0;
  onPost: ((value: number) => void) | null = null;
  constructor(readonly port = 0x80) {}
  register(bus: PortBus): void { bus.register(this, [this.port]); }
  portRead(): number { return this.last; }
  portWrite(_port: number, _size: 1 | 2 | 4, value: number): void {
    this.last = value & 0xff;
    this.writes++;
    this.onPost?.(this.last);
  }
  save(): PostPortState { return { last: this.last, writes: this.writes }; }
  restore(s: PostPortState): void { this.last = s.last; this.writes = s.writes; }
}

export class DebugConsolePort implements PortDevice {
  onOutput: (byte: number) => void;
  constructor(onOutput: (byte: number) => void = () => {}, readonly port = 0xe9) {
    this.onOutput = onOutput;
  }
  register(bus: PortBus): void { bus.register(this, [this.port]); }
  portRead(): number { return 0xe9; }
  portWrite(_port: number, _size: 1 | 2 | 4, value: number): void { this.onOutput(value & 0xff); }
  save(): Record<string, never> { return {}; }
  restore(_s: Record<string, never>): void {}
}

export interface DebugExitOptions {
  onExit: (code: number) => void;
  /** First port (default 0xF4). */
  base?: number;
  /** Number of ports claimed (default 4, QEMU's `iosize=0x04`). */
  size?: number;
}

export class DebugExitPort implements PortDevice {
  readonly base: number;
  readonly size: number;
  onExit: (code: number) => void;
  constructor(opts: DebugExitOptions) {
    this.onExit = opts.onExit;
    this.base = opts.base ?? 0xf4;
    this.size = opts.size ?? 4;
  }
  register(bus: PortBus): void { bus.register(this, { from: this.base, to: this.base + this.size - 1 }); }
  portRead(): number { return 0; }
  portWrite(_port: number, _size: 1 | 2 | 4, value: number): void {
    this.onExit(value * 2 + 1); // (value << 1) | 1 without 32-bit overflow
  }
  save(): Record<string, never> { return {}; }
  restore(_s: Record<string, never>): void {}
}

export interface SystemControlPortAOptions {
  onReset?: () => void;
  onA20?: (enabled: boolean) => void;
  /** A20 enabled at power-on (default true: the state a BIOS hands to a boot loader). */
  a20?: boolean;
}

export interface SystemControlPortAState { value: number }

export class SystemControlPortA implements PortDevice {
  value: number;
  private readonly onReset: () => void;
  private readonly onA20: (enabled: boolean) => void;
  constructor(opts: SystemControlPortAOptions = {}) {
    this.onReset = opts.onReset ?? (() => {});
    this.onA20 = opts.onA20 ?? (() => {});
    this.value = (opts.a20 ?? true) ? 0x02 : 0x00;
  }
  get a20(): boolean { return (this.value & 2) !== 0; }
  register(bus: PortBus): void { bus.register(this, [0x92]); }
  portRead(): number { return this.value; }
  portWrite(_port: number, _size: 1 | 2 | 4, value: number): void {
    const old = this.value;
    this.value = value & 0xff;
    if ((old ^ this.value) & 2) this.onA20(this.a20);
    if (this.value & 1 && !(old & 1)) this.onReset();
  }
  save(): SystemControlPortAState { return { value: this.value }; }
  restore(s: SystemControlPortAState): void { this.value = s.value; }
}
