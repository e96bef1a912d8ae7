import type { CPU } from '../cpu.js';
import { MODE_LONG, MODE_V86, DEC64, DEC32 } from '../cpu.js';
import type { Insn } from '../insn.js';
import { I_REXW, I_O16 } from '../insn.js';
import { CpuFault } from '../fault.js';
import {
  CS, FS, RAX, RCX, RDX, GP, UD, DB, AR_L,
  CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_ET, CR0_NE, CR0_WP, CR0_AM, CR0_NW, CR0_CD, CR0_PG,
  CR4_TSD, CR4_DE, CR4_PSE, CR4_PAE, CR4_MCE, CR4_PGE, CR4_PCE, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_VMXE,
  CR4_FSGSBASE, CR4_PCIDE, CR4_OSXSAVE, CR4_SMEP, CR4_SMAP, EFER_LME, EFER_LMA,
} from '../regs.js';
import { FEATURES, XCR0_SUPPORTED } from '../cpuid.js';
import { MAXPHYADDR, loadPdptes } from '../mmu.js';
import { readPdpte32 } from '../../vmx/ept.js';
import { TLB_SIZE } from '../tlb.js';
import { IA32_TSC_AUX, split, join, canonical } from '../msr.js';
import { readE, ea } from './operands.js';

/**
 * Control, debug and extended control registers, MSRs, time stamp counter, TLB maintenance
 * (SDM Vol. 2: "MOV—Move to/from Control Registers", "MOV—Move to/from Debug Registers", CLTS,
 * LMSW, SMSW, INVLPG, INVPCID, INVD, WBINVD, RDMSR, WRMSR, RDTSC, RDTSCP, RDPMC, XGETBV, XSETBV;
 * Vol. 3A "Control Registers", "Paging", "Invalidation of TLBs and Paging-Structure Caches").
 */

const TWO32 = 4294967296;

/** CR0 bits that exist (SDM Vol. 3A, "Control Registers"); writes of other bits in CR0[31:0] are ignored
 *  ("Reserved bits in CR0 and CR3 remain clear after any load of those registers; attempts to set them
 *  have no impact" — MOV CR page). CR0.ET is hardwired to 1. */
export const CR0_BITS = (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG) >>> 0;
/** CR4 bits this model lets software set; every other bit is reserved (#GP on MOV to CR4). Derived from the
 *  CPUID model: no VME/PVI (CPUID.1:EDX.VME = 0), no UMIP, LA57, SMXE, PKE, CET; FSGSBASE, OSXSAVE
 *  and PCIDE only when cpuid.ts reports them. CR4.VMXE is writable for the VMX work (its VMXON checks
 *  use it) even though CPUID.1:ECX.VMX is still 0. */
export const CR4_BITS = (CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT |
  CR4_VMXE | CR4_SMEP | CR4_SMAP | (FEATURES.pcid ? CR4_PCIDE : 0) | (FEATURES.xsave ? CR4_OSXSAVE : 0) |
  (FEATURES.fsgsbase ? CR4_FSGSBASE : 0)) >>> 0;

/**
 * Hook for VMX (src/vmx sets it): called for every MOV to CR0/CR3/CR4/CR8, CLTS and LMSW after the
 * privilege checks and before the register changes, with the new value. It may throw a CpuFault
 * (e.g. #GP for the IA32_VMX_CR0/CR4_FIXED bits in VMX operation, or for clearing CR4.VMXE) or
 * perform a VM exit (then throw CpuFault(-1) after setting up the exit). Null: no VMX.
 */
export const crHooks: { write: ((cpu: CPU, cr: number, lo: number, hi: number) => void) | null } = { write: null };

/**
 * CR8 is the local APIC's TPR bits 7:4 (SDM Vol. 3A, "Task Priority in IA-32e Mode"): with an
 * APIC attached (`cpu.tpr`), reads and writes go to it; without one, CR8 is a plain register.
 */
export function getCr8(cpu: CPU): number { return cpu.tpr ? (cpu.tpr.get() >> 4) & 0xf : cpu.cr8; }
function setCr8(cpu: CPU, v: number): void {
  cpu.cr8 = v & 0xf;
  if (cpu.tpr) { cpu.tpr.set((v & 0xf) << 4); cpu.intCheck = true; }
}

function gp(): never { throw new CpuFault(GP, 0); }
function ud(): never { throw new CpuFault(UD); }
/** CPL-0 instructions: #GP(0) in virtual-8086 mode and at CPL > 0 (real mode is CPL 0). */
export function requireCpl0(cpu: CPU): void {
  if (cpu.mode === MODE_V86 || cpu.cpl !== 0) gp();
}
/** The real operand size of rows whose table operand is `Ew` but whose register form uses the operand size. */
export function regOpSize(cpu: CPU, d: Insn): number {
  const o16 = (d.flags & I_O16) !== 0;
  if (cpu.decMode === DEC64) return d.flags & I_REXW ? 8 : o16 ? 2 : 4;
  if (cpu.decMode === DEC32) return o16 ? 2 : 4;
  return o16 ? 4 : 2;
}

// ------------------------------------------------------------------ paging-structure checks

/**
 * PAE paging loads the four PDPTE registers when CR3 is written or paging modes change (SDM Vol. 3A,
 * "PDPTE Registers"): a present PDPTE with a reserved bit set makes the MOV to CR fault with #GP(0)
 * and the registers are not loaded. The walk (mmu.ts) then uses the registers, not memory. In VMX
 * non-root operation with EPT, CR3 is a guest-physical address: the PDPTEs are read through EPT
 * (src/vmx/ept.ts readPdpte32; an EPT violation there is a VM exit).
 */
export function checkPdptes(cpu: CPU, cr3: number): void {
  if (!loadPdptes(cpu, cr3, (gpa) => readPdpte32(cpu, gpa))) gp();
}

// ------------------------------------------------------------------ TLB maintenance

/** Invalidate every TLB entry that can belong to the page containing `la` (any page size the current
 *  paging mode allows: 4 KiB, 2/4 MiB, 1 GiB), in all six sets, global entries included. */
export function invalidatePage(cpu: CPU, la: number): void {
  const span = cpu.efer & EFER_LMA ? 1 << 30 : cpu.cr4 & CR4_PAE ? 1 << 21 : cpu.cr4 & CR4_PSE ? 1 << 22 : 4096;
  if (span === 4096) { cpu.flushPage(la); return; }
  const lo = la - (((la % span) + span) % span), hi = lo + span;
  for (const s of cpu.tlb.sets) {
    if (s.count === 0) continue;
    const tag = s.tag;
    for (let i = 0; i < TLB_SIZE; i++) { const t = tag[i]; if (t >= lo && t < hi) s.flushPage(t); }
  }
}
function currentPcid(cpu: CPU): number { return cpu.cr4 & CR4_PCIDE ? cpu.cr3 % 4096 : 0; }

// ------------------------------------------------------------------ control registers

/** MOV to CR0 (also used by LMSW and CLTS): checks, IA-32e activation/deactivation, TLB flushes. */
export function writeCr0(cpu: CPU, lo: number, hi: number): void {
  if (hi !== 0) gp();                                   // CR0[63:32] are reserved (64-bit mode)
  const v = ((lo & CR0_BITS) | CR0_ET) >>> 0;
  if ((v & CR0_PG) && !(v & CR0_PE)) gp();               // PG without PE
  if ((v & CR0_NW) && !(v & CR0_CD)) gp();               // NW without CD
  const old = cpu.cr0;
  const pgOn = (v & CR0_PG) !== 0 && !(old & CR0_PG), pgOff = !(v & CR0_PG) && (old & CR0_PG) !== 0;
  if (pgOn && (cpu.efer & EFER_LME)) {
    // Activating IA-32e mode needs CR4.PAE (SDM Vol. 3A, "Paging": "Paging cannot be enabled ... while CR4.PAE = 0
    // and IA32_EFER.LME = 1"); like KVM, also refuse with CS.L = 1 (the code segment would be 64-bit before LMA).
    if (!(cpu.cr4 & CR4_PAE) || (cpu.segAr[CS] & AR_L)) gp();
  }
  if (pgOff && (cpu.mode === MODE_LONG || (cpu.cr4 & CR4_PCIDE))) gp();   // "Attempting to clear CR0.PG" in 64-bit mode / with PCIDE
  crHooks.write?.(cpu, 0, v, 0);
  // "PDPTE Registers": loaded when PAE paging will be in use after a MOV to CR0 that modifies CD, NW or PG.
  if ((v & CR0_PG) && !(cpu.efer & EFER_LME) && (cpu.cr4 & CR4_PAE) && ((old ^ v) & (CR0_PG | CR0_CD | CR0_NW))) checkPdptes(cpu, cpu.cr3);
  cpu.cr0 = v;
  if (pgOn && (cpu.efer & EFER_LME)) cpu.efer |= EFER_LMA;
  if (pgOff && (cpu.efer & EFER_LMA)) cpu.efer &= ~EFER_LMA;
  if ((old ^ v) & (CR0_PG | CR0_WP)) cpu.flushTlb(false);
  cpu.updateMode();
}

/** MOV to CR3. Outside IA-32e mode the upper half is zero; in it, bits 63:MAXPHYADDR are reserved, bit 63 of the
 *  source is the PCID "no flush" bit when CR4.PCIDE = 1 (reserved otherwise). */
export function writeCr3(cpu: CPU, lo: number, hi: number): void {
  let noFlush = false;
  let v: number;
  if (cpu.efer & EFER_LMA) {
    if (cpu.cr4 & CR4_PCIDE && hi & 0x80000000) { noFlush = true; hi &= 0x7fffffff; }
    if (hi & ~((1 << (MAXPHYADDR - 32)) - 1)) gp();
    v = (hi >>> 0) * TWO32 + (lo >>> 0);
  } else v = lo >>> 0;
  crHooks.write?.(cpu, 3, v >>> 0, Math.floor(v / TWO32));
  if (!(cpu.efer & EFER_LMA) && (cpu.cr4 & CR4_PAE) && (cpu.cr0 & CR0_PG)) checkPdptes(cpu, v);
  const oldPcid = currentPcid(cpu);
  cpu.cr3 = v;
  // Our TLB is not tagged by PCID: "no flush" can keep entries only while the PCID stays the same
  // (flushing more than required is always allowed — SDM Vol. 3A, "Invalidation of TLBs and Paging-Structure Caches").
  if (!noFlush || currentPcid(cpu) !== oldPcid) cpu.flushTlb(true);
}

export function writeCr4(cpu: CPU, lo: number, hi: number): void {
  if (hi !== 0 || (lo & ~CR4_BITS)) gp();                 // reserved bits
  const v = lo >>> 0, old = cpu.cr4;
  if ((cpu.efer & EFER_LMA) && !(v & CR4_PAE)) gp();       // leaving IA-32e mode by clearing PAE
  if ((v & CR4_PCIDE) && !(old & CR4_PCIDE) && (!(cpu.efer & EFER_LMA) || (cpu.cr3 % 4096) !== 0)) gp();
  const changed = (old ^ v) >>> 0;
  crHooks.write?.(cpu, 4, v, 0);
  if ((cpu.cr0 & CR0_PG) && !(cpu.efer & EFER_LMA) && (v & CR4_PAE) && (changed & (CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP))) {
    checkPdptes(cpu, cpu.cr3);
  }
  cpu.cr4 = v;
  // SMAP/SMEP change the permission our per-kind TLB sets cache, so they flush too.
  if (changed & (CR4_PGE | CR4_PAE | CR4_PSE | CR4_SMEP | CR4_SMAP | CR4_PCIDE)) cpu.flushTlb(false);
  cpu.updateMode();
}

/** Control register number from ModRM.reg (with REX.R): CR0, CR2, CR3, CR4, CR8 exist; others #UD. */
function crIndex(d: Insn): number {
  const r = d.reg;
  if (r !== 0 && r !== 2 && r !== 3 && r !== 4 && r !== 8) ud();
  return r;
}

function mov_from_cr(cpu: CPU, d: Insn): void {
  const cr = crIndex(d);
  requireCpl0(cpu);
  let lo = 0, hi = 0;
  switch (cr) {
    case 0: lo = cpu.cr0 | 0; break;
    case 2: [lo, hi] = split(cpu.cr2); break;
    case 3: [lo, hi] = split(cpu.cr3); break;
    case 4: lo = cpu.cr4 | 0; break;
    default: lo = getCr8(cpu) & 0xf;
  }
  // Operand size is 64 bits in 64-bit mode, 32 bits elsewhere (the row is f64).
  if (cpu.mode === MODE_LONG) cpu.setReg(d.rm, 8, lo | 0, hi | 0);
  else cpu.setReg(d.rm, 4, lo | 0, 0);
}

function mov_to_cr(cpu: CPU, d: Insn): void {
  const cr = crIndex(d);
  requireCpl0(cpu);
  const lo = cpu.lo[d.rm], hi = cpu.mode === MODE_LONG ? cpu.hi[d.rm] : 0;
  switch (cr) {
    case 0: writeCr0(cpu, lo, hi); return;
    case 2: cpu.cr2 = cpu.mode === MODE_LONG ? join(lo, hi) : lo >>> 0; return;
    case 3: writeCr3(cpu, lo, hi); return;
    case 4: writeCr4(cpu, lo, hi); return;
    default:
      if ((lo & ~0xf) || hi) gp();                      // CR8[63:4] are reserved
      crHooks.write?.(cpu, 8, lo, 0);
      setCr8(cpu, lo & 0xf);
  }
}

function clts(cpu: CPU): void {
  requireCpl0(cpu);
  crHooks.write?.(cpu, 0, (cpu.cr0 & ~CR0_TS) >>> 0, 0);
  cpu.cr0 = (cpu.cr0 & ~CR0_TS) >>> 0;
}
/** LMSW loads CR0 bits 3:0 (PE MP EM TS); it can set PE but never clear it (SDM LMSW). */
function lmsw(cpu: CPU, d: Insn): void {
  requireCpl0(cpu);
  const v = readE(cpu, d, 2);
  const nv = ((cpu.cr0 & ~0xe) | (v & 0xe) | (v & 1) | (cpu.cr0 & 1)) >>> 0;
  writeCr0(cpu, nv, 0);
}
/**
 * SMSW: a memory destination gets CR0[15:0]; a register destination gets CR0 at the operand size (the SDM
 * leaves the bits above 15 undefined for 32/64-bit registers; like current Intel processors we store CR0
 * zero-extended). Allowed at any CPL (CR4.UMIP is not supported).
 */
function smsw(cpu: CPU, d: Insn): void {
  if (d.rm >= 0) { const s = regOpSize(cpu, d); cpu.setReg(d.rm, s, s === 2 ? cpu.cr0 & 0xffff : cpu.cr0 | 0, 0); }
  else cpu.wr16(cpu.linear(d.seg, ea(cpu, d), 2, true), cpu.cr0 & 0xffff);
}

/** INVLPG: no access is made; a non-canonical address in 64-bit mode makes it a no-op (SDM INVLPG). */
function invlpg(cpu: CPU, d: Insn): void {
  requireCpl0(cpu);
  const off = ea(cpu, d);
  let la: number;
  if (cpu.mode === MODE_LONG) {
    la = d.seg >= FS ? cpu.segBase[d.seg] + off : off;
    if (la >= 2 ** 47 || la < -(2 ** 47)) return;
  } else la = (cpu.segBase[d.seg] + off) >>> 0;
  invalidatePage(cpu, la);
}

/** INVPCID (66 0F 38 82 /r): types 0 individual address, 1 single context, 2 all incl. global, 3 all but global. */
function invpcid(cpu: CPU, d: Insn): void {
  if (!FEATURES.invpcid || cpu.mode === MODE_V86) ud();
  requireCpl0(cpu);
  // The register operand is 64 bits in 64-bit mode (REX.W ignored), 32 bits elsewhere.
  const typeHi = cpu.mode === MODE_LONG ? cpu.hi[d.reg] : 0;
  const type = cpu.lo[d.reg] >>> 0;
  const la = cpu.linear(d.seg, ea(cpu, d), 16, false);
  const dlo = cpu.rd32(la), dhi = cpu.rd32(la + 4);
  const alo = cpu.rd32(la + 8), ahi = cpu.rd32(la + 12);
  if (typeHi !== 0 || type > 3) gp();
  if ((dlo & ~0xfff) || dhi) gp();                         // descriptor bits 63:12 are reserved
  const pcid = dlo & 0xfff;
  if (type <= 1 && pcid !== 0 && !(cpu.cr4 & CR4_PCIDE)) gp();
  switch (type) {
    case 0:
      if (!canonical(alo, ahi)) gp();
      // Only the current PCID's translations live in our (untagged) TLB.
      if (pcid === currentPcid(cpu)) invalidatePage(cpu, join(alo, ahi));
      break;
    case 1: if (pcid === currentPcid(cpu)) cpu.flushTlb(true); break;
    case 2: cpu.flushTlb(false); break;
    default: cpu.flushTlb(true);
  }
}

/** INVD / WBINVD: there are no caches to write back or invalidate. */
function invd(cpu: CPU): void { requireCpl0(cpu); }
function wbinvd(cpu: CPU): void { requireCpl0(cpu); }

// ------------------------------------------------------------------ debug registers

/** DR6 bits software can write (B0–B3, BD, BS, BT); the others read as 1 (31:16, 11:4) or 0 (12). */
const DR6_WRITABLE = 0x0000e00f, DR6_ONES = 0xffff0ff0;
/** DR7 bits software can write (L0–G3, LE, GE, GD, R/W and LEN fields); bit 10 reads as 1. */
const DR7_WRITABLE = 0xffff23ff, DR7_ONES = 0x400;

function drIndex(cpu: CPU, d: Insn): number {
  let r = d.reg;
  if (r > 7) ud();
  requireCpl0(cpu);
  if (r === 4 || r === 5) {
    if (cpu.cr4 & CR4_DE) ud();                            // DR4/DR5 are reserved with CR4.DE = 1
    r += 2;                                                // otherwise aliases of DR6/DR7
  }
  // General detect (SDM Vol. 3A, "Debug Control Register (DR7)"): any MOV DR with DR7.GD = 1 is a #DB fault
  // with DR6.BD set; the processor clears GD when it delivers the #DB.
  if (cpu.dr[7] & 0x2000) {
    cpu.dbBits = 0x2000; cpu.dr6Before = cpu.dr[6]; cpu.dr7Before = cpu.dr[7];
    cpu.dr[6] = (cpu.dr[6] | 0x2000) >>> 0;
    cpu.dr[7] = (cpu.dr[7] & ~0x2000) >>> 0;
    throw new CpuFault(DB);
  }
  return r;
}
function mov_from_dr(cpu: CPU, d: Insn): void {
  const r = drIndex(cpu, d);
  const [lo, hi] = split(cpu.dr[r]);
  if (cpu.mode === MODE_LONG) cpu.setReg(d.rm, 8, lo | 0, hi | 0);
  else cpu.setReg(d.rm, 4, lo | 0, 0);
}
function mov_to_dr(cpu: CPU, d: Insn): void {
  const r = drIndex(cpu, d);
  const long = cpu.mode === MODE_LONG;
  const lo = cpu.lo[d.rm], hi = long ? cpu.hi[d.rm] : 0;
  if (r < 4) { cpu.dr[r] = long ? join(lo, hi) : lo >>> 0; return; }
  if (hi !== 0) gp();                                     // DR6/DR7 bits 63:32 must be 0 (64-bit mode)
  cpu.dr[r] = r === 6 ? ((lo & DR6_WRITABLE) | DR6_ONES) >>> 0 : ((lo & DR7_WRITABLE) | DR7_ONES) >>> 0;
  if (r === 7) cpu.updateDebugRegs(); // arm or disarm the breakpoints
}

// ------------------------------------------------------------------ MSRs and time

/** RDMSR/WRMSR: ECX selects the MSR, EDX:EAX is the value; an MSR the model lacks raises #GP(0) (msr.ts). */
function rdmsr(cpu: CPU): void {
  requireCpl0(cpu);
  const [lo, hi] = cpu.msr.read(cpu.lo[RCX] >>> 0);
  cpu.setReg(RAX, 4, lo | 0, 0);
  cpu.setReg(RDX, 4, hi | 0, 0);
}
function wrmsr(cpu: CPU): void {
  requireCpl0(cpu);
  cpu.msr.write(cpu.lo[RCX] >>> 0, cpu.lo[RAX], cpu.lo[RDX]);
  cpu.updateMode();                                      // IA32_EFER and the segment bases may have changed
}
function tscCheck(cpu: CPU): void {
  // CR4.TSD restricts RDTSC/RDTSCP to CPL 0 (virtual-8086 mode runs at CPL 3).
  if ((cpu.cr4 & CR4_TSD) && cpu.cpl !== 0) gp();
}
function putTsc(cpu: CPU): void {
  const t = cpu.msr.tsc();
  cpu.setReg(RAX, 4, t | 0, 0);
  cpu.setReg(RDX, 4, Math.floor(t / TWO32) | 0, 0);
}
/** RDTSC: the TSC is virtual time (instruction count + offset, DESIGN.md #1); it is read at the start of the
 *  executing block, so two RDTSCs in one straight-line block may return the same value (never a smaller one). */
function rdtsc(cpu: CPU): void { tscCheck(cpu); putTsc(cpu); }
function rdtscp(cpu: CPU): void {
  tscCheck(cpu);
  putTsc(cpu);
  cpu.setReg(RCX, 4, cpu.msr.read(IA32_TSC_AUX)[0] | 0, 0);
}
/** RDPMC: allowed at CPL 0 or with CR4.PCE. No counter runs in this model: every counter reads 0. */
function rdpmc(cpu: CPU): void {
  if (!(cpu.cr4 & CR4_PCE) && cpu.cpl !== 0) gp();
  cpu.setReg(RAX, 4, 0, 0);
  cpu.setReg(RDX, 4, 0, 0);
}

/** XGETBV/XSETBV: #UD unless CR4.OSXSAVE (which exists only when XSAVE is reported); ECX = 0 selects XCR0. */
function xgetbv(cpu: CPU): void {
  if (!(cpu.cr4 & CR4_OSXSAVE)) ud();
  if (cpu.lo[RCX] !== 0) gp();
  cpu.setReg(RAX, 4, cpu.xcr0 | 0, 0);
  cpu.setReg(RDX, 4, 0, 0);
}
function xsetbv(cpu: CPU): void {
  if (!(cpu.cr4 & CR4_OSXSAVE)) ud();
  if (cpu.mode === MODE_V86 || cpu.cpl !== 0) gp();
  if (cpu.lo[RCX] !== 0) gp();
  const lo = cpu.lo[RAX], hi = cpu.lo[RDX];
  // XCR0: only x87 (bit 0, must stay 1) and SSE (bit 1) exist (SDM XSETBV; Vol. 1 "XSAVE-Supported Features").
  if (hi !== 0 || (lo & ~XCR0_SUPPORTED) || !(lo & 1)) gp();
  cpu.xcr0 = lo;
}

export const sysregHandlers = {
  mov_from_cr, mov_to_cr, mov_from_dr, mov_to_dr, clts, lmsw, smsw, invlpg, invpcid, invd, wbinvd,
  rdmsr, wrmsr, rdtsc, rdtscp, rdpmc, xgetbv, xsetbv,
};
