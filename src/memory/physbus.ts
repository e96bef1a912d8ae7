import { Ram, CHUNK_SIZE } from './ram.js';
import type { MmioDevice, MmioRegion, MmioObserver } from './mmio.js';

/**
 * The physical address space: RAM below `ram.size`, MMIO regions on top of it, and open bus
 * (reads all ones, writes dropped) everywhere else. Every write that does not come from the
 * CPU's fast path (devices, loaders, the debugger) goes through here so that decoded code on
 * the written page is invalidated (`onCodeWrite`).
 */
export class PhysBus {
  readonly ram: Ram;
  private regions: MmioRegion[] = [];
  /** 1 for each 4 KiB page that holds MMIO (never cached in the CPU's TLB). */
  private mmioPages = new Map<number, true>();
  /** Pages holding decoded instructions; set by the CPU's code cache. */
  readonly codePages = new Set<number>();
  /** Called when a write hits a page in `codePages`. */
  onCodeWrite: ((page: number) => void) | null = null;
  observer: MmioObserver | null = null;
  /**
   * What a read of physical address space with nothing behind it returns, per byte. Model choice:
   * 0x00, as QEMU does (SWEB x86_32 reads a kernel variable through its virtual address before
   * enabling paging and only boots if that reads 0). Real chipsets usually return all ones (0xFF),
   * which `new Machine({ unassignedMemory: 0xff })` selects.
   */
  unassigned = 0x00;
  /** Called before an MMIO access reaches a device (see PortBus.beforeAccess). */
  beforeMmio: (() => void) | null = null;

  constructor(ram: Ram) { this.ram = ram; }

  addMmio(name: string, base: number, length: number, dev: MmioDevice): void {
    for (const r of this.regions) {
      if (base < r.base + r.length && r.base < base + length) throw new Error(`MMIO region ${name} overlaps ${r.name}`);
    }
    this.regions.push({ base, length, dev, name });
    for (let p = Math.floor(base / 4096); p < Math.ceil((base + length) / 4096); p++) this.mmioPages.set(p, true);
  }
  /** True when the page can be accessed directly as RAM (fast path). */
  isRamPage(page: number): boolean {
    return page * 4096 + 4096 <= this.ram.size && !this.mmioPages.has(page);
  }
  private region(pa: number): MmioRegion | undefined {
    for (const r of this.regions) if (pa >= r.base && pa < r.base + r.length) return r;
    return undefined;
  }

  read8(pa: number): number { return this.read(pa, 1); }
  read16(pa: number): number { return this.read(pa, 2); }
  read32(pa: number): number { return this.read(pa, 4); }
  write8(pa: number, v: number): void { this.write(pa, 1, v); }
  write16(pa: number, v: number): void { this.write(pa, 2, v); }
  write32(pa: number, v: number): void { this.write(pa, 4, v); }

  /** Little-endian read of 1, 2 or 4 bytes at any alignment; returns an unsigned value. */
  read(pa: number, size: 1 | 2 | 4): number {
    if (this.mmioPages.size && this.mmioPages.has(Math.floor(pa / 4096))) {
      const r = this.region(pa);
      if (r) {
        if (this.beforeMmio) this.beforeMmio();
        const v = r.dev.mmioRead(pa - r.base, size) >>> 0;
        if (this.observer) this.observer.onMmio('read', pa, size, v);
        return v;
      }
    }
    if (pa + size <= this.ram.size) {
      const off = pa & (CHUNK_SIZE - 1);
      if (off + size <= CHUNK_SIZE) {
        const c = this.ram.peekChunk(pa);
        if (size === 1) return c[off];
        if (size === 2) return c[off] | (c[off + 1] << 8);
        return (c[off] | (c[off + 1] << 8) | (c[off + 2] << 16) | (c[off + 3] << 24)) >>> 0;
      }
    }
    let v = 0;
    for (let i = 0; i < size; i++) v += this.readByteSlow(pa + i) * 2 ** (8 * i);
    return v;
  }
  private readByteSlow(pa: number): number {
    return pa < this.ram.size ? this.ram.read8(pa) : this.unassigned;
  }

  write(pa: number, size: 1 | 2 | 4, v: number): void {
    if (this.mmioPages.size && this.mmioPages.has(Math.floor(pa / 4096))) {
      const r = this.region(pa);
      if (r) {
        if (this.beforeMmio) this.beforeMmio();
        if (this.observer) this.observer.onMmio('write', pa, size, v >>> 0);
        r.dev.mmioWrite(pa - r.base, size, v >>> 0);
        return;
      }
    }
    for (let i = 0; i < size; i++) {
      const a = pa + i;
      if (a < this.ram.size) this.ram.write8(a, (v >>> (8 * i)) & 0xff);
    }
    this.touched(pa, size);
  }

  readBytes(pa: number, len: number): Uint8Array {
    if (pa + len <= this.ram.size && !this.regions.length) return this.ram.readBytes(pa, len);
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) out[i] = this.read(pa + i, 1);
    return out;
  }
  writeBytes(pa: number, data: Uint8Array): void {
    if (pa + data.length <= this.ram.size) {
      this.ram.writeBytes(pa, data);
      this.touched(pa, data.length);
      return;
    }
    for (let i = 0; i < data.length; i++) this.write(pa + i, 1, data[i]);
  }

  /** Tell the code cache that [pa, pa+len) changed. */
  touched(pa: number, len: number): void {
    if (this.codePages.size === 0 || !this.onCodeWrite) return;
    for (let p = Math.floor(pa / 4096); p <= Math.floor((pa + len - 1) / 4096); p++) {
      if (this.codePages.has(p)) this.onCodeWrite(p);
    }
  }
}
