import type { CPU } from './cpu.js';
import { CpuFault } from './fault.js';
import { CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, CR4_PGE, CR4_SMEP, CR4_SMAP, EFER_NXE, EFER_LMA, AC, PF_ } from './regs.js';
import { K_WRITE, K_EXEC } from './tlb.js';

/**
 * Linear → physical translation: the paging walks of Intel SDM Vol. 3A, chapter "Paging"
 * (32-bit paging, PAE paging, 4-level paging), with accessed/dirty updates, the protection
 * rules (U/S, R/W with CR0.WP, NX, SMEP, SMAP with RFLAGS.AC) and #PF error codes.
 *
 * Result: the physical address. Side outputs on the CPU: `walkGlobal` (the page is global),
 * `walkCacheable` (the translation may be cached in the TLB set for this access kind).
 */
export const MAXPHYADDR = 40;
const PHYS_HI_MASK = (1 << (MAXPHYADDR - 32)) - 1; // address bits 39:32 inside the high dword
const RSVD_HI = ~PHYS_HI_MASK & 0x7fffffff;        // bits 62:40 of an entry's high dword (63 = XD handled apart)

// error code bits (SDM Vol. 3A, "Interrupt 14—Page-Fault Exception (#PF)")
const PFEC_P = 1, PFEC_W = 2, PFEC_U = 4, PFEC_RSVD = 8, PFEC_I = 16;

/** The 9-bit table index of a linear address (halves laLo/laHi) for the level whose entries map 2^shift bytes. */
export function tableIndex(laLo: number, laHi: number, shift: number): number {
  return shift >= 32 ? (laHi >>> (shift - 32)) & 0x1ff : shift + 9 > 32 ? ((laLo >>> shift) | (laHi << (32 - shift))) & 0x1ff : (laLo >>> shift) & 0x1ff;
}

function pageFault(cpu: CPU, la: number, code: number): never {
  cpu.cr2 = la;
  throw new CpuFault(PF_, code);
}

// ------------------------------------------------------------------ PAE PDPTE registers

/** A present PAE PDPTE with a reserved bit set (2:1, 8:5, 63:MAXPHYADDR — SDM Vol. 3A, "PAE Paging"). */
export function pdpteReserved(lo: number, hi: number): boolean {
  return (lo & 1) !== 0 && ((lo & 0x1e6) !== 0 || (hi & ~PHYS_HI_MASK) !== 0);
}

/**
 * Load the four PDPTE registers from the page-directory-pointer table at `cr3` bits 31:5 (SDM Vol. 3A,
 * "PDPTE Registers"), reading each dword with `read32` (physical memory, or guest-physical through
 * EPT). Returns false, leaving the registers unchanged, when a present entry has a reserved bit set
 * ("the MOV to CR instruction causes a general-protection exception (#GP(0)) and the PDPTEs are not
 * loaded"). The registers are tagged with `cr3` (the walk uses them while CR3 holds that value).
 */
export function loadPdptes(cpu: CPU, cr3: number, read32: (pa: number) => number): boolean {
  const base = (cr3 >>> 0) & ~0x1f;
  const e = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    e[2 * i] = read32(base + i * 8) >>> 0; e[2 * i + 1] = read32(base + i * 8 + 4) >>> 0;
    if (pdpteReserved(e[2 * i], e[2 * i + 1])) return false;
  }
  setPdptes(cpu, cr3, e);
  return true;
}

/** Set the PDPTE registers to `e` (lo, hi × 4) for `cr3` (VM entry with EPT: from the guest PDPTE fields). */
export function setPdptes(cpu: CPU, cr3: number, e: readonly number[]): void {
  const r = cpu.pdpte;
  for (let i = 0; i < 8; i++) r[i] = e[i] >>> 0;
  r[8] = cr3;
}

/** PAE paging is in use: CR0.PG = 1, CR4.PAE = 1, IA32_EFER.LMA = 0 (SDM Vol. 3A, "Paging Modes and Control Bits"). */
export function paePaging(cpu: CPU): boolean {
  return (cpu.cr0 & CR0_PG) !== 0 && (cpu.cr4 & CR4_PAE) !== 0 && (cpu.efer & EFER_LMA) === 0;
}

/** Translate `la` for an access of `kind` (K_READ/K_WRITE/K_EXEC); `user` = a user-mode access (CPL 3, not implicit). */
export function translate(cpu: CPU, la: number, kind: number, user: boolean): number {
  return translateWith(cpu, cpu.bus, la, kind, user);
}

/** Where the walk reads and updates paging-structure entries: physical memory, or guest-physical memory through EPT (src/vmx/ept.ts). */
export interface PagingBus {
  read32(pa: number): number;
  write32(pa: number, v: number): void;
}

/** `translate` with the paging structures read through `bus` (the result is the address the structures give: guest-physical under EPT). */
export function translateWith(cpu: CPU, bus: PagingBus, la: number, kind: number, user: boolean): number {
  cpu.walkGlobal = false;
  cpu.walkCacheable = true;
  if (!(cpu.cr0 & CR0_PG)) return la >>> 0;
  const write = kind === K_WRITE;
  const fetch = kind === K_EXEC;
  const nxe = (cpu.efer & EFER_NXE) !== 0;
  const cr4 = cpu.cr4;
  let code = (write ? PFEC_W : 0) | (user ? PFEC_U : 0);

  // Accumulated rights: writable/user must hold at every level; XD at any level forbids fetch.
  let rw = true, us = true, xd = false;
  let pa: number;
  let leafAddr: number;   // physical address of the leaf entry (for A/D)
  let leafLo: number;
  let pageMask: number;   // offset bits within the page (as a Number)
  let global = false;
  const topAddrs: number[] = cpu.walkTrail;
  topAddrs.length = 0;

  if (cpu.efer & EFER_LMA || cr4 & CR4_PAE) {
    const ia32e = (cpu.efer & EFER_LMA) !== 0;
    if (fetch && (nxe || cr4 & CR4_SMEP)) code |= PFEC_I;
    let table: number;
    let level: number;
    if (ia32e) {
      if (la >= 2 ** 47 || la < -(2 ** 47)) throw new CpuFault(13, 0); // callers check canonical first
      table = cpu.cr3 - (cpu.cr3 % 4096);
      level = 4;
    } else {
      // PAE: the PDPTE selected by bits 31:30 comes from the PDPTE registers (SDM Vol. 3A, "PDPTE
      // Registers"), loaded at MOV to CR0/CR3/CR4 and by VMX transitions (loadPdptes). CPU state set
      // without any of those (a test or tool writing cpu.cr3 directly) has no registers for this CR3:
      // then the entry is read from memory at walk time.
      const i = (la >>> 30) & 3;
      const r = cpu.pdpte;
      let lo: number, hi: number;
      if (r[8] === cpu.cr3) { lo = r[2 * i] | 0; hi = r[2 * i + 1] | 0; }
      else { const pdpteAddr = (cpu.cr3 & ~0x1f) + i * 8; lo = bus.read32(pdpteAddr); hi = bus.read32(pdpteAddr + 4); }
      if (!(lo & 1)) pageFault(cpu, la, code);
      if ((lo & 0x1e6) || (hi & RSVD_HI) || (hi & 0x80000000)) pageFault(cpu, la, code | PFEC_P | PFEC_RSVD);
      table = (hi & PHYS_HI_MASK) * 2 ** 32 + ((lo & ~0xfff) >>> 0);
      level = 2;
    }
    const laHi = Math.floor(la / 2 ** 32) | 0, laLo = la >>> 0;
    for (;;) {
      const shift = 12 + 9 * (level - 1);
      const idx = tableIndex(laLo, laHi, shift);
      const ea = table + idx * 8;
      const lo = bus.read32(ea), hi = bus.read32(ea + 4);
      if (!(lo & 1)) pageFault(cpu, la, code);
      let rsvd = (hi & RSVD_HI) !== 0 || (!nxe && (hi & 0x80000000) !== 0);
      const ps = (lo & 0x80) !== 0;
      if (ps && (level === 4 || (level === 3 && !ia32e))) rsvd = true;
      if (ps && level === 3 && (lo & 0x3fffe000)) rsvd = true;   // 1-GByte page: bits 29:13 reserved
      if (ps && level === 2 && (lo & 0x1fe000)) rsvd = true;     // 2-MByte page: bits 20:13 reserved
      if (rsvd) pageFault(cpu, la, code | PFEC_P | PFEC_RSVD);
      if (!(lo & 2)) rw = false;
      if (!(lo & 4)) us = false;
      if (hi & 0x80000000) xd = true;
      if (level === 1 || ps) {
        leafAddr = ea; leafLo = lo;
        global = (lo & 0x100) !== 0;
        const frame = (hi & PHYS_HI_MASK) * 2 ** 32 + ((lo & ~0xfff) >>> 0);
        pageMask = level === 1 ? 0xfff : level === 2 ? 0x1fffff : 0x3fffffff;
        pa = frame - (frame % (pageMask + 1)) + (laLo & pageMask);
        break;
      }
      topAddrs.push(ea);
      table = (hi & PHYS_HI_MASK) * 2 ** 32 + ((lo & ~0xfff) >>> 0);
      level--;
    }
  } else {
    // 32-bit paging
    if (fetch && cr4 & CR4_SMEP) code |= PFEC_I;
    const laLo = la >>> 0;
    const pdeAddr = (cpu.cr3 & ~0xfff) + (laLo >>> 22) * 4;
    const pde = bus.read32(pdeAddr);
    if (!(pde & 1)) pageFault(cpu, la, code);
    if (!(pde & 2)) rw = false;
    if (!(pde & 4)) us = false;
    if (pde & 0x80 && cr4 & CR4_PSE) {
      // 4-MByte page; PSE-36: bits 20:13 hold physical address bits 39:32; bit 21 reserved.
      if (pde & 0x200000) pageFault(cpu, la, code | PFEC_P | PFEC_RSVD);
      leafAddr = pdeAddr; leafLo = pde;
      global = (pde & 0x100) !== 0;
      pageMask = 0x3fffff;
      pa = ((pde >>> 13) & 0xff) * 2 ** 32 + ((pde & 0xffc00000) >>> 0) + (laLo & 0x3fffff);
    } else {
      topAddrs.push(pdeAddr);
      const pteAddr = (pde & ~0xfff) + ((laLo >>> 12) & 0x3ff) * 4;
      const pte = bus.read32(pteAddr >>> 0);
      if (!(pte & 1)) pageFault(cpu, la, code);
      if (!(pte & 2)) rw = false;
      if (!(pte & 4)) us = false;
      leafAddr = pteAddr >>> 0; leafLo = pte;
      global = (pte & 0x100) !== 0;
      pageMask = 0xfff;
      pa = ((pte & ~0xfff) >>> 0) + (laLo & 0xfff);
    }
  }

  // Access rights (SDM Vol. 3A, "Access Rights")
  if (user) {
    if (!us) pageFault(cpu, la, code | PFEC_P);
    if (write && !rw) pageFault(cpu, la, code | PFEC_P);
    if (fetch && xd) pageFault(cpu, la, code | PFEC_P);
  } else {
    if (fetch) {
      if (xd) pageFault(cpu, la, code | PFEC_P);
      if (us && cr4 & CR4_SMEP) pageFault(cpu, la, code | PFEC_P);
    } else {
      if (us && cr4 & CR4_SMAP) {
        // Implicit supervisor accesses ignore AC; explicit ones at CPL < 3 are allowed when AC = 1.
        if (cpu.implicitAccess || !(cpu.eflags & AC)) pageFault(cpu, la, code | PFEC_P);
        cpu.walkCacheable = false; // depends on RFLAGS.AC: never cache
      }
      if (write && !rw && cpu.cr0 & CR0_WP) pageFault(cpu, la, code | PFEC_P);
    }
  }

  // Accessed and dirty flags (SDM Vol. 3A, "Accessed and Dirty Flags")
  for (const a of topAddrs) {
    const v = bus.read32(a);
    if (!(v & 0x20)) bus.write32(a, v | 0x20);
  }
  const want = write ? 0x60 : 0x20;
  if ((leafLo! & want) !== want) bus.write32(leafAddr!, leafLo! | want);
  cpu.walkGlobal = global && (cr4 & CR4_PGE) !== 0;
  cpu.walkPageMask = pageMask!;
  return pa!;
}
