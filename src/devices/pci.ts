/**
 * PCI configuration space, configuration mechanism #1 (PCI Local Bus Specification 3.0,
 * 3.2.2.3.2): CONFIG_ADDRESS at 0xCF8 (dword accesses only; bit 31 enable, bits 23:16 bus,
 * 15:11 device, 10:8 function, 7:2 register) and CONFIG_DATA at 0xCFC-0xCFF (byte, word or
 * dword accesses at any offset within the dword: the byte offset comes from the port).
 *
 * Bus 0 holds, as on QEMU's "pc" machine (i440FX + PIIX3):
 *   00:00.0  Intel 82441FX host bridge   8086:1237  class 06 00 00
 *   00:01.0  Intel 82371SB PIIX3 ISA     8086:7000  class 06 01 00  (multi-function)
 *   00:01.1  Intel 82371SB PIIX3 IDE     8086:7010  class 01 01 80  (both channels in
 *            compatibility mode at 0x1F0/0x170, IRQ 14/15; BAR4 = 16-byte bus-master I/O
 *            window that can be sized and placed, with no BMDMA engine behind it)
 * Absent functions read all ones (the host bridge's master abort). Other buses are absent.
 * Other devices join with `PciBus.add(device, function, f)`, usually a `PciConfigSpace`.
 *
 * Non-dword accesses to 0xCF8 are not the address register (on a PIIX3, 0xCF9 is the reset
 * control register, which belongs to someone else): they are not claimed here.
 */
import type { PortBus, PortDevice } from '../memory/ports.js';

/** What the bus needs of a function: its 256-byte configuration space. */
export interface PciFunction {
  readConfig(offset: number, size: 1 | 2 | 4): number;
  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void;
  save?(): unknown;
  restore?(state: unknown): void;
}

export interface PciBarSpec {
  /** Size in bytes, a power of two (I/O at least 4, memory at least 16). */
  size: number;
  io: boolean;
  prefetchable?: boolean;
  /** Called when the guest writes the BAR (the new base, or -1 while it holds the sizing pattern). */
  onMap?: (base: number) => void;
}

export interface PciIdentity {
  vendor: number;
  device: number;
  /** [base class, subclass, programming interface] */
  classCode: [number, number, number];
  revision?: number;
  headerType?: number;
  subsystemVendor?: number;
  subsystem?: number;
  /** Interrupt pin (0x3D): 0 none, 1-4 INTA#-INTD#. */
  interruptPin?: number;
}

/** Standard header offsets (PCI 3.0, 6.1). */
export const PCI_VENDOR_ID = 0x00;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_CLASS_REVISION = 0x08;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BAR0 = 0x10;
export const PCI_INTERRUPT_LINE = 0x3c;

/**
 * A type-0 configuration header with write masks: only writable bits change, RW1C status bits
 * clear when written with one, BARs answer the sizing protocol (write all ones, read back the
 * size mask, PCI 3.0 6.2.5.1). Subclasses add device-specific registers with `setWritable`.
 */
export class PciConfigSpace implements PciFunction {
  readonly config = new Uint8Array(256);
  protected readonly wmask = new Uint8Array(256);
  protected readonly w1cmask = new Uint8Array(256);
  protected readonly bars: (PciBarSpec | null)[] = [null, null, null, null, null, null];
  /** Power-on contents, captured when the finished function is first used. */
  private reset0: Uint8Array | null = null;

  constructor(id: PciIdentity, bars: (PciBarSpec | null)[] = []) {
    const c = this.config;
    w16(c, 0x00, id.vendor);
    w16(c, 0x02, id.device);
    c[0x08] = id.revision ?? 0;
    c[0x09] = id.classCode[2]; c[0x0a] = id.classCode[1]; c[0x0b] = id.classCode[0];
    c[0x0e] = id.headerType ?? 0;
    w16(c, 0x2c, id.subsystemVendor ?? 0);
    w16(c, 0x2e, id.subsystem ?? 0);
    c[0x3d] = id.interruptPin ?? 0;
    // Command: I/O, memory, bus master, parity error response, SERR#, interrupt disable.
    w16(this.wmask, 0x04, 0x0547);
    // Status: the error bits 15:11 and 8 are write-one-to-clear.
    this.w1cmask[0x07] = 0xf9;
    this.wmask[0x0c] = 0xff; // cache line size
    this.wmask[0x0d] = 0xff; // latency timer
    this.wmask[0x3c] = 0xff; // interrupt line
    bars.forEach((b, i) => { if (b) this.defineBar(i, b); });
  }

  defineBar(i: number, bar: PciBarSpec): void {
    const min = bar.io ? 4 : 16;
    if (bar.size < min || (bar.size & (bar.size - 1)) !== 0) throw new Error(`BAR${i}: size ${bar.size} is not a power of two >= ${min}`);
    this.bars[i] = bar;
    const off = PCI_BAR0 + 4 * i;
    const flags = bar.io ? 0x1 : bar.prefetchable ? 0x8 : 0x0;
    w32(this.config, off, flags);
    w32(this.wmask, off, (~(bar.size - 1) & (bar.io ? 0xfffffffc : 0xfffffff0)) >>> 0);
  }

  /** Make `len` bytes at `offset` writable under `mask` (device-specific registers). */
  setWritable(offset: number, len: number, mask = 0xff): void {
    for (let i = 0; i < len; i++) this.wmask[offset + i] = mask;
  }

  /** The base a BAR is programmed with (flag bits removed). */
  barAddress(i: number): number {
    const v = r32(this.config, PCI_BAR0 + 4 * i);
    return this.bars[i]?.io ? (v & 0xfffffffc) >>> 0 : (v & 0xfffffff0) >>> 0;
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    this.reset0 ??= this.config.slice();
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.config[(offset + i) & 0xff];
    return v >>> 0;
  }

  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    this.reset0 ??= this.config.slice();
    const touchedBars = new Set<number>();
    for (let i = 0; i < size; i++) {
      const o = (offset + i) & 0xff;
      const b = (value >>> (8 * i)) & 0xff;
      const wm = this.wmask[o], cm = this.w1cmask[o];
      this.config[o] = ((this.config[o] & ~wm) | (b & wm)) & ~(b & cm);
      if (o >= PCI_BAR0 && o < PCI_BAR0 + 24 && this.bars[(o - PCI_BAR0) >> 2]) touchedBars.add((o - PCI_BAR0) >> 2);
    }
    for (const i of touchedBars) {
      const bar = this.bars[i]!;
      const raw = r32(this.config, PCI_BAR0 + 4 * i);
      const sizing = ((raw | (bar.size - 1)) >>> 0) === 0xffffffff;
      bar.onMap?.(sizing ? -1 : this.barAddress(i));
    }
  }

  /** Back to power-on values. */
  reset(): void { if (this.reset0) this.config.set(this.reset0); }

  save(): Uint8Array { this.reset0 ??= this.config.slice(); return this.config.slice(); }
  restore(s: unknown): void { this.config.set(s as Uint8Array); }
}

function w16(a: Uint8Array, o: number, v: number): void { a[o] = v & 0xff; a[o + 1] = (v >>> 8) & 0xff; }
function w32(a: Uint8Array, o: number, v: number): void { w16(a, o, v & 0xffff); w16(a, o + 2, v >>> 16); }
function r32(a: Uint8Array, o: number): number { return (a[o] | (a[o + 1] << 8) | (a[o + 2] << 16) | (a[o + 3] << 24)) >>> 0; }

export interface PciBusState { address: number; functions: [number, unknown][] }

export class PciBus implements PortDevice {
  /** CONFIG_ADDRESS as last written (bits 1:0 read as zero). */
  address = 0;
  private readonly functions = new Map<number, { f: PciFunction; name: string }>();

  /** Place function `fn` of device `dev` on bus 0. */
  add(dev: number, fn: number, f: PciFunction, name = `${hex2(dev)}.${fn}`): void {
    if (dev < 0 || dev > 31 || fn < 0 || fn > 7) throw new Error(`PCI ${name}: device ${dev} function ${fn} out of range`);
    const key = (dev << 3) | fn;
    if (this.functions.has(key)) throw new Error(`PCI 00:${hex2(dev)}.${fn} is taken by ${this.functions.get(key)!.name}`);
    this.functions.set(key, { f, name });
  }

  get(dev: number, fn: number): PciFunction | undefined { return this.functions.get((dev << 3) | fn)?.f; }

  register(bus: PortBus): void {
    bus.register(this, [0xcf8, 0xcfc, 0xcfd, 0xcfe, 0xcff]);
  }

  /** Configuration read by bus/device/function (also what mechanism #1 does). */
  configRead(busNo: number, dev: number, fn: number, offset: number, size: 1 | 2 | 4): number {
    const f = busNo === 0 ? this.functions.get((dev << 3) | fn)?.f : undefined;
    if (!f) return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    return f.readConfig(offset & 0xff, size);
  }

  configWrite(busNo: number, dev: number, fn: number, offset: number, size: 1 | 2 | 4, value: number): void {
    const f = busNo === 0 ? this.functions.get((dev << 3) | fn)?.f : undefined;
    f?.writeConfig(offset & 0xff, size, value);
  }

  portRead(port: number, size: 1 | 2 | 4): number {
    if (port === 0xcf8) return size === 4 ? this.address : 0xffffffff;
    return this.dataAccess(port, size, null);
  }

  portWrite(port: number, size: 1 | 2 | 4, value: number): void {
    if (port === 0xcf8) {
      if (size === 4) this.address = (value & 0xfffffffc) >>> 0;
      return;
    }
    this.dataAccess(port, size, value);
  }

  private dataAccess(port: number, size: 1 | 2 | 4, value: number | null): number {
    const a = this.address;
    const ones = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    if (!(a & 0x80000000)) return ones; // configuration space disabled: open bus
    const busNo = (a >>> 16) & 0xff, dev = (a >>> 11) & 0x1f, fn = (a >>> 8) & 7;
    const offset = (a & 0xfc) + (port - 0xcfc);
    if (value === null) return this.configRead(busNo, dev, fn, offset, size);
    this.configWrite(busNo, dev, fn, offset, size, value);
    return 0;
  }

  save(): PciBusState {
    return { address: this.address, functions: [...this.functions].map(([k, v]) => [k, v.f.save?.()]) };
  }
  restore(s: PciBusState): void {
    this.address = s.address;
    for (const [k, st] of s.functions) this.functions.get(k)?.f.restore?.(st);
  }
}

function hex2(n: number): string { return n.toString(16).padStart(2, '0'); }

/** 00:00.0 — Intel 82441FX PMC (host bridge), revision 02 as in QEMU. */
export class I440fxHostBridge extends PciConfigSpace {
  constructor() {
    super({ vendor: 0x8086, device: 0x1237, classCode: [0x06, 0x00, 0x00], revision: 0x02 });
    this.setWritable(0x50, 0x30);  // PMCCFG..: PAM, DRB, SMRAM and friends, kept as plain storage
  }
}

/** 00:01.0 — Intel 82371SB PIIX3 function 0 (PCI-to-ISA bridge); multi-function header. */
export class Piix3IsaBridge extends PciConfigSpace {
  constructor() {
    super({ vendor: 0x8086, device: 0x7000, classCode: [0x06, 0x01, 0x00], headerType: 0x80 });
    // PIRQ[A-D] route control (0x60-0x63): 0x80 = routing disabled (82371SB datasheet, 2.2.5).
    for (let i = 0; i < 4; i++) this.config[0x60 + i] = 0x80;
    this.setWritable(0x4c, 0x34); // ISA control, PIRQ routing, TOM, MBDMA, APIC base ... stored only
  }
}

/** 00:01.1 — Intel 82371SB PIIX3 IDE, both channels in compatibility (legacy) mode. */
export class Piix3Ide extends PciConfigSpace {
  constructor(opts: { busMaster?: boolean } = {}) {
    super({ vendor: 0x8086, device: 0x7010, classCode: [0x01, 0x01, 0x80] },
      opts.busMaster === false ? [] : [null, null, null, null, { size: 16, io: true }]);
    // IDETIM primary/secondary (0x40/0x42): bit 15 = IDE decode enable, as a BIOS leaves it.
    this.config[0x41] = 0x80;
    this.config[0x43] = 0x80;
    this.setWritable(0x40, 4);
    this.setWritable(0x44, 1);     // SIDETIM
    // I/O space decode on, as after BIOS POST (the legacy ports decode regardless here).
    this.config[PCI_COMMAND] = 0x01;
  }
}

/** The QEMU "pc"-like bus: host bridge at 00:00.0, PIIX3 ISA at 00:01.0, IDE at 00:01.1. */
export function createPciBus(): PciBus {
  const bus = new PciBus();
  bus.add(0, 0, new I440fxHostBridge(), 'i440FX host bridge');
  bus.add(1, 0, new Piix3IsaBridge(), 'PIIX3 ISA bridge');
  bus.add(1, 1, new Piix3Ide(), 'PIIX3 IDE');
  return bus;
}
