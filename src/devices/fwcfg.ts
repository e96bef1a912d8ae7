/**
 * QEMU's firmware configuration device (QEMU docs/specs/fw_cfg.rst), on the x86 I/O ports:
 *   0x510  selector (16-bit write, little-endian; bit 14 "write" is ignored, bit 15 = arch item)
 *   0x511  data (8-bit; an N-byte read returns the next N bytes in address order, like memcpy)
 *   0x514  DMA address, big-endian, as two 32-bit halves: high at 0x514, low at 0x518; a write
 *          to the low half starts the operation. Reading the register gives "QEMU CFG".
 * Items: 0x0000 signature "QEMU", 0x0001 ID (bit 0 traditional interface, bit 1 DMA),
 * 0x0002 UUID, 0x0003 RAM size (u64 LE), 0x0004 nographic, 0x0005 number of CPUs (u16 LE),
 * 0x000e boot menu, 0x000f max CPUs, 0x0019 the file directory (big-endian count, then 64-byte
 * entries {u32 BE size, u16 BE select, u16 reserved, char name[56]}, sorted by name as QEMU
 * does, so file selectors from 0x0020 follow name order), 0x8002 IRQ0 override (1, as QEMU on
 * x86). Reads past an item's end return 0. Data-register writes are ignored (QEMU >= 2.4); DMA
 * writes fail with the error bit (all items here are read-only to the guest).
 */
import type { PortBus, PortDevice } from '../memory/ports.js';
import type { PhysBus } from '../memory/physbus.js';

export const FW_CFG_SIGNATURE = 0x0000;
export const FW_CFG_ID = 0x0001;
export const FW_CFG_UUID = 0x0002;
export const FW_CFG_RAM_SIZE = 0x0003;
export const FW_CFG_NOGRAPHIC = 0x0004;
export const FW_CFG_NB_CPUS = 0x0005;
export const FW_CFG_BOOT_MENU = 0x000e;
export const FW_CFG_MAX_CPUS = 0x000f;
export const FW_CFG_FILE_DIR = 0x0019;
export const FW_CFG_FILE_FIRST = 0x0020;
export const FW_CFG_ARCH_LOCAL = 0x8000;
export const FW_CFG_IRQ0_OVERRIDE = FW_CFG_ARCH_LOCAL + 2;
const FW_CFG_WRITE_CHANNEL = 0x4000;
const MAX_FILES = 0x4000 - FW_CFG_FILE_FIRST;

export const FW_CFG_DMA_CTL_ERROR = 0x01;
export const FW_CFG_DMA_CTL_READ = 0x02;
export const FW_CFG_DMA_CTL_SKIP = 0x04;
export const FW_CFG_DMA_CTL_SELECT = 0x08;
export const FW_CFG_DMA_CTL_WRITE = 0x10;
/** "QEMU CFG" */
const DMA_SIGNATURE = [0x51, 0x45, 0x4d, 0x55, 0x20, 0x43, 0x46, 0x47];

export interface FwCfgOptions {
  ramSize?: number;
  cpus?: number;
  /** Guest memory for the DMA interface; without it the DMA interface is absent. */
  phys?: PhysBus;
  uuid?: Uint8Array;
}

export interface FwCfgState { selector: number; offset: number; dmaHigh: number }

export class FwCfg implements PortDevice {
  private readonly items = new Map<number, Uint8Array>();
  private readonly files: { name: string; data: Uint8Array }[] = [];
  private readonly phys: PhysBus | null;
  /** Current item key (write bit removed). */
  selector = 0;
  offset = 0;
  private dmaHigh = 0;

  constructor(o: FwCfgOptions = {}) {
    this.phys = o.phys ?? null;
    this.set(FW_CFG_SIGNATURE, new TextEncoder().encode('QEMU'));
    this.set(FW_CFG_ID, le(this.phys ? 3 : 1, 4));
    this.set(FW_CFG_UUID, o.uuid ?? new Uint8Array(16));
    this.set(FW_CFG_RAM_SIZE, le(o.ramSize ?? 0, 8));
    this.set(FW_CFG_NOGRAPHIC, le(0, 2));
    this.set(FW_CFG_NB_CPUS, le(o.cpus ?? 1, 2));
    this.set(FW_CFG_BOOT_MENU, le(0, 2));
    this.set(FW_CFG_MAX_CPUS, le(o.cpus ?? 1, 2));
    this.set(FW_CFG_IRQ0_OVERRIDE, le(1, 4));
    this.rebuildDirectory();
  }

  register(bus: PortBus): void {
    bus.register(this, [0x510, 0x511]);
    if (this.phys) bus.register(this, { from: 0x514, to: 0x51b });
  }

  /** Set a numbered item (keys below 0x20, or arch-local 0x8000+). */
  set(key: number, data: Uint8Array): void {
    this.items.set(key & ~FW_CFG_WRITE_CHANNEL, data);
  }

  /** Add a named file; returns its selector. Selectors follow name order (QEMU's sorted directory). */
  addFile(name: string, data: Uint8Array): number {
    if (name.length === 0 || name.length > 55) throw new Error(`fw_cfg file name "${name}" must be 1..55 characters`);
    if (this.files.some(f => f.name === name)) throw new Error(`fw_cfg file "${name}" already exists`);
    if (this.files.length >= MAX_FILES) throw new Error('fw_cfg: too many files');
    this.files.push({ name, data });
    this.files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.rebuildDirectory();
    return this.fileSelector(name)!;
  }

  fileSelector(name: string): number | undefined {
    const i = this.files.findIndex(f => f.name === name);
    return i < 0 ? undefined : FW_CFG_FILE_FIRST + i;
  }

  private rebuildDirectory(): void {
    for (const k of [...this.items.keys()]) if (k >= FW_CFG_FILE_FIRST && k < 0x4000) this.items.delete(k);
    const dir = new Uint8Array(4 + 64 * this.files.length);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, this.files.length);
    this.files.forEach((f, i) => {
      const e = 4 + 64 * i;
      dv.setUint32(e, f.data.length);
      dv.setUint16(e + 4, FW_CFG_FILE_FIRST + i);
      for (let c = 0; c < f.name.length; c++) dir[e + 8 + c] = f.name.charCodeAt(c) & 0xff;
      this.items.set(FW_CFG_FILE_FIRST + i, f.data);
    });
    this.items.set(FW_CFG_FILE_DIR, dir);
  }

  private select(key: number): void {
    this.selector = key & ~FW_CFG_WRITE_CHANNEL & 0xffff;
    this.offset = 0;
  }

  private current(): Uint8Array | undefined { return this.items.get(this.selector); }

  // ---- port I/O -------------------------------------------------------------------------

  portRead(port: number, size: 1 | 2 | 4): number {
    if (port === 0x511) {
      const item = this.current();
      let v = 0;
      for (let i = 0; i < size; i++) {
        const b = item && this.offset < item.length ? item[this.offset] : 0;
        if (item && this.offset < item.length) this.offset++;
        v += b * 2 ** (8 * i);
      }
      return v;
    }
    if (port >= 0x514 && port <= 0x51b) {
      // The DMA address register reads as the big-endian signature: bytes in memory order.
      let v = 0;
      for (let i = 0; i < size; i++) v += (DMA_SIGNATURE[port - 0x514 + i] ?? 0) * 2 ** (8 * i);
      return v;
    }
    return 0; // the selector is write-only
  }

  portWrite(port: number, size: 1 | 2 | 4, value: number): void {
    if (port === 0x510) { if (size >= 2) this.select(value & 0xffff); return; }
    if (port === 0x514 && size === 4) { this.dmaHigh = bswap32(value); return; }
    if (port === 0x518 && size === 4) {
      const addr = this.dmaHigh * 2 ** 32 + bswap32(value);
      this.dmaHigh = 0;
      this.dma(addr);
    }
    // data-register writes are ignored
  }

  // ---- DMA ("Guest-side DMA Interface") ---------------------------------------------------

  private dma(addr: number): void {
    const phys = this.phys;
    if (!phys) return;
    const d = phys.readBytes(addr, 16);
    const dv = new DataView(d.buffer, d.byteOffset, 16);
    const control = dv.getUint32(0);
    let length = dv.getUint32(4);
    let target = dv.getUint32(8) * 2 ** 32 + dv.getUint32(12);
    let error = false;
    if (control & FW_CFG_DMA_CTL_SELECT) this.select(control >>> 16);
    const item = this.current();
    if (control & FW_CFG_DMA_CTL_READ) {
      while (length > 0) {
        if (!item || this.offset >= item.length) {
          phys.writeBytes(target, new Uint8Array(length)); // past the end: zeros
          break;
        }
        const n = Math.min(length, item.length - this.offset);
        phys.writeBytes(target, item.subarray(this.offset, this.offset + n));
        this.offset += n; target += n; length -= n;
      }
    } else if (control & FW_CFG_DMA_CTL_WRITE) {
      error = true; // every item is read-only to the guest
    } else if (control & FW_CFG_DMA_CTL_SKIP) {
      if (item) this.offset = Math.min(item.length, this.offset + length);
    }
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, error ? FW_CFG_DMA_CTL_ERROR : 0);
    phys.writeBytes(addr, out);
  }

  save(): FwCfgState { return { selector: this.selector, offset: this.offset, dmaHigh: this.dmaHigh }; }
  restore(s: FwCfgState): void { this.selector = s.selector; this.offset = s.offset; this.dmaHigh = s.dmaHigh; }
}

function le(v: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(v / 2 ** (8 * i)) & 0xff;
  return out;
}

function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | ((v >>> 24) & 0xff)) >>> 0;
}
