/**
 * A page walk for the debugger: the same formats as the CPU's walk (src/cpu/mmu.ts; SDM Vol. 3A,
 * chapter "Paging": 32-bit, PAE and 4-level paging) but with no side effects — no accessed/dirty
 * updates, no TLB fill, no fault — and every level reported, for `monitor walk` and for reading
 * memory through a context's page tables. Physical reads go through `read32`, so a guest context
 * can pass a reader that translates guest-physical addresses through EPT first.
 */
import { tableIndex } from '../cpu/mmu.js';

export interface PagingRegs {
  cr0: number; cr3: number; cr4: number; efer: number;
  /** PAE: the PDPTE registers as the CPU holds them ((lo, hi) × 4), when loaded for this CR3; else they are read from memory. */
  pdptes?: ArrayLike<number>;
}

export interface WalkLevel {
  /** PML4E, PDPTE, PDE or PTE. */
  name: string;
  /** Physical address of the entry. */
  entryAddr: number;
  /** The entry's low and high 32 bits (high is 0 for 32-bit paging). */
  lo: number;
  hi: number;
}

export interface WalkResult {
  /** Physical address, or null when the translation does not exist (see `why`). */
  pa: number | null;
  /** Page size in bytes of a successful translation (4 KiB, 2 MiB, 4 MiB or 1 GiB). */
  pageSize: number;
  levels: WalkLevel[];
  why: string;
  /** Rights accumulated over the levels: writable, user, execute-disable. */
  writable: boolean;
  user: boolean;
  nx: boolean;
  /** The paging mode used: 'none', '32-bit', 'PAE', '4-level'. */
  mode: string;
}

const CR0_PG = 1 << 31, CR4_PSE = 1 << 4, CR4_PAE = 1 << 5, EFER_LMA = 1 << 10, EFER_NXE = 1 << 11;
const NAMES4 = ['', 'PTE', 'PDE', 'PDPTE', 'PML4E'];
const u32 = (x: number) => x >>> 0;

/** Translate linear address `la` (the CPU's form: signed canonical in IA-32e mode, else 32-bit). */
export function debugWalk(read32: (pa: number) => number, r: PagingRegs, la: number, maxPhysBits = 40): WalkResult {
  const res: WalkResult = { pa: null, pageSize: 4096, levels: [], why: '', writable: true, user: true, nx: false, mode: 'none' };
  if (!(r.cr0 & CR0_PG)) {
    res.pa = r.efer & EFER_LMA ? la : u32(la);
    if (res.pa < 0) { res.pa = null; res.why = 'paging is off and the address is above 4 GiB'; }
    return res;
  }
  const hiMask = (2 ** (maxPhysBits - 32)) - 1;
  const frameOf = (lo: number, hi: number) => (hi & hiMask) * 2 ** 32 + u32(lo & ~0xfff);
  const nxe = (r.efer & EFER_NXE) !== 0;
  if (r.efer & EFER_LMA || r.cr4 & CR4_PAE) {
    const ia32e = (r.efer & EFER_LMA) !== 0;
    res.mode = ia32e ? '4-level' : 'PAE';
    let table: number, level: number;
    if (ia32e) {
      if (la >= 2 ** 47 || la < -(2 ** 47)) { res.why = 'the address is not canonical'; return res; }
      table = r.cr3 - (r.cr3 % 4096);
      level = 4;
    } else {
      la = u32(la);
      const i = (la >>> 30) & 3;
      const ea = (r.cr3 & ~0x1f) + i * 8;
      const lo = r.pdptes ? r.pdptes[2 * i] : read32(ea), hi = r.pdptes ? r.pdptes[2 * i + 1] : read32(ea + 4);
      res.levels.push({ name: r.pdptes ? 'PDPTE register' : 'PDPTE', entryAddr: u32(ea), lo: u32(lo), hi: u32(hi) });
      if (!(lo & 1)) { res.why = 'PDPTE not present'; return res; }
      table = frameOf(lo, hi);
      level = 2;
    }
    const laHi = Math.floor(la / 2 ** 32) | 0, laLo = la >>> 0;
    for (;;) {
      const shift = 12 + 9 * (level - 1);
      const idx = tableIndex(laLo, laHi, shift);
      const ea = table + idx * 8;
      const lo = read32(ea), hi = read32(ea + 4);
      res.levels.push({ name: NAMES4[level], entryAddr: ea, lo: u32(lo), hi: u32(hi) });
      if (!(lo & 1)) { res.why = `${NAMES4[level]} not present`; return res; }
      if (!nxe && hi & 0x80000000) { res.why = `${NAMES4[level]} has XD set while EFER.NXE = 0 (reserved bit)`; return res; }
      if (hi & ~hiMask & 0x7fffffff) { res.why = `${NAMES4[level]} has reserved address bits set`; return res; }
      if (!(lo & 2)) res.writable = false;
      if (!(lo & 4)) res.user = false;
      if (hi & 0x80000000) res.nx = true;
      const ps = (lo & 0x80) !== 0;
      if (ps && (level === 4 || (level === 3 && !ia32e))) { res.why = `${NAMES4[level]} has PS set (reserved)`; return res; }
      if (ps && level === 3 && (lo & 0x3fffe000)) { res.why = 'PDPTE of a 1-GByte page has reserved bits 29:13 set'; return res; }
      if (ps && level === 2 && (lo & 0x1fe000)) { res.why = 'PDE of a 2-MByte page has reserved bits 20:13 set'; return res; }
      if (level === 1 || ps) {
        const size = level === 1 ? 4096 : level === 2 ? 2 ** 21 : 2 ** 30;
        const frame = frameOf(lo, hi);
        res.pa = frame - (frame % size) + (laLo % size);
        res.pageSize = size;
        return res;
      }
      table = frameOf(lo, hi);
      level--;
    }
  }
  res.mode = '32-bit';
  const laLo = u32(la);
  const pdeAddr = u32((r.cr3 & ~0xfff) + (laLo >>> 22) * 4);
  const pde = u32(read32(pdeAddr));
  res.levels.push({ name: 'PDE', entryAddr: pdeAddr, lo: pde, hi: 0 });
  if (!(pde & 1)) { res.why = 'PDE not present'; return res; }
  if (!(pde & 2)) res.writable = false;
  if (!(pde & 4)) res.user = false;
  if (pde & 0x80 && r.cr4 & CR4_PSE) {
    res.pa = ((pde >>> 13) & 0xff) * 2 ** 32 + u32(pde & 0xffc00000) + (laLo & 0x3fffff);
    res.pageSize = 4 * 1024 * 1024;
    return res;
  }
  const pteAddr = u32((pde & ~0xfff) + ((laLo >>> 12) & 0x3ff) * 4);
  const pte = u32(read32(pteAddr));
  res.levels.push({ name: 'PTE', entryAddr: pteAddr, lo: pte, hi: 0 });
  if (!(pte & 1)) { res.why = 'PTE not present'; return res; }
  if (!(pte & 2)) res.writable = false;
  if (!(pte & 4)) res.user = false;
  res.pa = u32(pte & ~0xfff) + (laLo & 0xfff);
  return res;
}

/** Flag letters of a paging entry, for listings. */
export function entryFlags(lo: number, hi: number): string {
  const f: string[] = [];
  if (lo & 1) f.push('P');
  if (lo & 2) f.push('RW');
  if (lo & 4) f.push('US');
  if (lo & 8) f.push('PWT');
  if (lo & 0x10) f.push('PCD');
  if (lo & 0x20) f.push('A');
  if (lo & 0x40) f.push('D');
  if (lo & 0x80) f.push('PS');
  if (lo & 0x100) f.push('G');
  if (hi & 0x80000000) f.push('XD');
  return f.join(' ');
}

/** A 64-bit address as gdb sends it (unsigned) → the CPU's linear form; null if not canonical. */
export function toCpuLinear(addr: bigint, longMode: boolean): number | null {
  if (!longMode) return addr < 1n << 32n ? Number(addr) : null;
  if (addr >= 1n << 63n) addr -= 1n << 64n;
  if (addr >= 1n << 47n || addr < -(1n << 47n)) return null;
  return Number(addr);
}

/** The CPU's linear form → unsigned 64-bit. */
export function fromCpuLinear(la: number): bigint {
  const b = BigInt(la);
  return b < 0n ? b + (1n << 64n) : b;
}

/** A breakpoint address (unsigned 64-bit) in the form the run loop compares with: mode-independent. */
export function breakpointKey(addr: bigint): number {
  return Number(addr >= 1n << 63n ? addr - (1n << 64n) : addr);
}
