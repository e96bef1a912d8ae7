import type { CPU } from './cpu.js';
import { MODE_REAL, MODE_V86, MODE_LONG } from './cpu.js';
import { CpuFault } from './fault.js';
import { CS, SS, LDTR, TR, GP, NP, SS_, TS, AR_P, AR_S, AR_L, AR_DB, AR_G, AR_UNUSABLE, arDpl } from './regs.js';

/**
 * Segment descriptors and selector loads (SDM Vol. 3A, "Segment Descriptors", "Privilege Level
 * Checking When Accessing Data Segments", "Loading the Stack-Segment Register"; Vol. 2 MOV/POP).
 */
export interface Descriptor { lo: number; hi: number; base: number; limit: number; ar: number; addr: number }

export function decodeDescriptor(lo: number, hi: number): { base: number; limit: number; ar: number } {
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  const ar = ((hi >>> 8) & 0xff) | ((hi >>> 8) & 0xf000);
  if (ar & AR_G) limit = limit * 4096 + 0xfff;
  return { base, limit, ar };
}

/** Read the 8-byte descriptor for `sel` from the GDT or LDT; #GP(sel) (or `fault`) if beyond the table limit. */
export function readDescriptor(cpu: CPU, sel: number, fault = GP): Descriptor {
  const idx = sel & 0xfff8;
  let base: number, limit: number;
  if (sel & 4) {
    if (cpu.segAr[LDTR] & AR_UNUSABLE || !(cpu.segAr[LDTR] & AR_P)) throw new CpuFault(fault, sel & 0xfffc);
    base = cpu.segBase[LDTR]; limit = cpu.segLimit[LDTR];
  } else { base = cpu.gdtBase; limit = cpu.gdtLimit; }
  if (idx + 7 > limit) throw new CpuFault(fault, sel & 0xfffc);
  const addr = base + idx;
  const lo = cpu.sysRead(addr, 4), hi = cpu.sysRead(addr + 4, 4);
  return { lo, hi, addr, ...decodeDescriptor(lo, hi) };
}
/** High 32 bits of a 16-byte system descriptor (LDT/TSS/gates in IA-32e mode). */
export function readDescriptorUpper(cpu: CPU, d: Descriptor, sel: number): number {
  const limit = sel & 4 ? cpu.segLimit[LDTR] : cpu.gdtLimit;
  if ((sel & 0xfff8) + 15 > limit) throw new CpuFault(GP, sel & 0xfffc);
  return cpu.sysRead(d.addr + 8, 4);
}

/** Set the accessed bit of a code/data descriptor in memory (the processor does this on load). */
export function setAccessed(cpu: CPU, d: Descriptor): void {
  if (!(d.hi & 0x100)) { d.hi |= 0x100; cpu.sysWrite(d.addr + 4, 4, d.hi); d.ar |= 1; }
}

export function setSegment(cpu: CPU, seg: number, sel: number, base: number, limit: number, ar: number): void {
  cpu.segSel[seg] = sel & 0xffff;
  cpu.segBase[seg] = base;
  cpu.segLimit[seg] = limit;
  cpu.segAr[seg] = ar;
}
export function setNull(cpu: CPU, seg: number, sel: number): void {
  cpu.segSel[seg] = sel & 0xffff;
  cpu.segAr[seg] = AR_UNUSABLE;
  // Base is kept for FS/GS in 64-bit mode? No: a null load clears base in legacy modes; in 64-bit mode the
  // SDM leaves base unchanged for null FS/GS loads on Intel processors ("MOV—Move", 64-bit mode note).
  if (cpu.mode !== MODE_LONG) cpu.segBase[seg] = 0;
  cpu.segLimit[seg] = 0;
}

/**
 * Access rights of every segment register (CS included) in virtual-8086 mode: present, DPL 3,
 * expand-up read/write accessed data — the only value a VM entry accepts for a virtual-8086 guest
 * (SDM Vol. 3C, "Checks on Guest Segment Registers": "If the guest will be virtual-8086, the field
 * must be 000000F3H", with base = selector × 16 and limit = FFFFH), so a VM exit from V86 code
 * stores a state that can be entered again. Nothing checks the type of CS in virtual-8086 mode.
 */
export const AR_V86 = 0xf3;

/** Real-address / virtual-8086 segment load: base = sel × 16 (V86: limit FFFFH, AR_V86). */
export function loadRealSeg(cpu: CPU, seg: number, sel: number): void {
  cpu.segSel[seg] = sel & 0xffff;
  cpu.segBase[seg] = (sel & 0xffff) * 16;
  if (cpu.mode === MODE_V86) { cpu.segLimit[seg] = 0xffff; cpu.segAr[seg] = AR_V86; }
  else if (cpu.segAr[seg] & AR_UNUSABLE) { cpu.segAr[seg] = 0x93; cpu.segLimit[seg] = 0xffff; }
}

/** MOV/POP/LxS to a data segment register or SS (not CS). */
export function loadDataSeg(cpu: CPU, seg: number, sel: number): void {
  sel &= 0xffff;
  if (cpu.mode === MODE_REAL || cpu.mode === MODE_V86) { loadRealSeg(cpu, seg, sel); if (seg === SS) cpu.updateMode(); return; }
  const cpl = cpu.cpl, rpl = sel & 3;
  if ((sel & 0xfffc) === 0) {
    if (seg === SS) {
      // 64-bit mode allows a null SS at CPL 0–2 when RPL = CPL (SDM "MOV", 64-bit mode exceptions)
      if (cpu.mode === MODE_LONG && cpl !== 3 && rpl === cpl) { setNull(cpu, SS, sel); cpu.segAr[SS] |= (cpl << 5); cpu.updateMode(); return; }
      throw new CpuFault(GP, 0);
    }
    setNull(cpu, seg, sel);
    return;
  }
  const d = readDescriptor(cpu, sel);
  const type = d.ar & 0xf, dpl = arDpl(d.ar);
  if (seg === SS) {
    if (rpl !== cpl || !(d.ar & AR_S) || (type & 0xa) !== 2 || dpl !== cpl) throw new CpuFault(GP, sel & 0xfffc);
    if (!(d.ar & AR_P)) throw new CpuFault(SS_, sel & 0xfffc);
  } else {
    // data, or readable code
    if (!(d.ar & AR_S) || (type & 0xa) === 8) throw new CpuFault(GP, sel & 0xfffc);
    const conformingCode = (type & 0xc) === 0xc;
    if (!conformingCode && (rpl > dpl || cpl > dpl)) throw new CpuFault(GP, sel & 0xfffc);
    if (!(d.ar & AR_P)) throw new CpuFault(NP, sel & 0xfffc);
  }
  setAccessed(cpu, d);
  setSegment(cpu, seg, sel, d.base, d.limit, d.ar);
  if (seg === SS) cpu.updateMode();
}

/** Load CS for a far transfer to a code segment at privilege `newCpl` (checks done by the caller). */
export function loadCode(cpu: CPU, sel: number, d: { base: number; limit: number; ar: number }, newCpl: number): void {
  setSegment(cpu, CS, (sel & 0xfffc) | newCpl, d.base, d.limit, d.ar);
  cpu.updateMode();
}

/** Checks for a far JMP/CALL directly to a code segment (SDM Vol. 2, JMP/CALL, "Far ... to the same privilege level"). */
export function checkCodeTarget(cpu: CPU, sel: number, d: Descriptor): void {
  const dpl = arDpl(d.ar), rpl = sel & 3, cpl = cpu.cpl;
  if (!(d.ar & AR_S) || !(d.ar & 8)) throw new CpuFault(GP, sel & 0xfffc);
  if (d.ar & 4) { if (dpl > cpl) throw new CpuFault(GP, sel & 0xfffc); }       // conforming
  else if (rpl > cpl || dpl !== cpl) throw new CpuFault(GP, sel & 0xfffc);   // non-conforming
  if (!(d.ar & AR_P)) throw new CpuFault(NP, sel & 0xfffc);
  if (cpu.efer & 0x400 && (d.ar & AR_L) && (d.ar & AR_DB)) throw new CpuFault(GP, sel & 0xfffc);
}

/** LLDT (SDM Vol. 2, LLDT). */
export function loadLdt(cpu: CPU, sel: number): void {
  if ((sel & 0xfffc) === 0) { setNull(cpu, LDTR, sel); cpu.segSel[LDTR] = 0; return; }
  if (sel & 4) throw new CpuFault(GP, sel & 0xfffc);
  const d = readDescriptor(cpu, sel);
  if ((d.ar & AR_S) || (d.ar & 0xf) !== 2) throw new CpuFault(GP, sel & 0xfffc);
  if (!(d.ar & AR_P)) throw new CpuFault(NP, sel & 0xfffc);
  let base = d.base;
  if (cpu.mode === MODE_LONG) base = extendBase(readDescriptorUpper(cpu, d, sel), base);
  setSegment(cpu, LDTR, sel, base, d.limit, d.ar);
}

/** LTR: loads an available TSS and marks it busy (SDM Vol. 2, LTR). */
export function loadTr(cpu: CPU, sel: number): void {
  if ((sel & 0xfffc) === 0 || sel & 4) throw new CpuFault(GP, sel & 0xfffc);
  const d = readDescriptor(cpu, sel);
  const type = d.ar & 0xf;
  const ok = cpu.mode === MODE_LONG ? type === 9 : type === 9 || type === 1;
  if ((d.ar & AR_S) || !ok) throw new CpuFault(GP, sel & 0xfffc);
  if (!(d.ar & AR_P)) throw new CpuFault(NP, sel & 0xfffc);
  let base = d.base;
  if (cpu.mode === MODE_LONG) base = extendBase(readDescriptorUpper(cpu, d, sel), base);
  d.hi |= 0x200; // busy
  cpu.sysWrite(d.addr + 4, 4, d.hi);
  setSegment(cpu, TR, sel, base, d.limit, d.ar | 2);
}

function extendBase(upper: number, base: number): number {
  const v = (upper | 0) * 2 ** 32 + base;
  if (v >= 2 ** 47 || v < -(2 ** 47)) throw new CpuFault(GP, 0);
  return v;
}

/** Read the stack pointer for privilege `dpl` from the current TSS (32-bit, 16-bit or 64-bit TSS). */
export function tssStack(cpu: CPU, dpl: number): { ss: number; sp: number } {
  const type = cpu.segAr[TR] & 0xf;
  const base = cpu.segBase[TR];
  if (cpu.mode === MODE_LONG || cpu.efer & 0x400) {
    const off = 4 + dpl * 8;
    if (off + 7 > cpu.segLimit[TR]) throw new CpuFault(TS, cpu.segSel[TR] & 0xfffc);
    const lo = cpu.sysRead(base + off, 4), hi = cpu.sysRead(base + off + 4, 4);
    return { ss: 0, sp: (hi | 0) * 2 ** 32 + (lo >>> 0) };
  }
  if ((type & 8) === 0) { // 16-bit TSS
    const off = 2 + dpl * 4;
    if (off + 3 > cpu.segLimit[TR]) throw new CpuFault(TS, cpu.segSel[TR] & 0xfffc);
    return { sp: cpu.sysRead(base + off, 2), ss: cpu.sysRead(base + off + 2, 2) };
  }
  const off = 4 + dpl * 8;
  if (off + 5 > cpu.segLimit[TR]) throw new CpuFault(TS, cpu.segSel[TR] & 0xfffc);
  return { sp: cpu.sysRead(base + off, 4) >>> 0, ss: cpu.sysRead(base + off + 4, 2) };
}
/** IST pointer n (1–7) from the 64-bit TSS. */
export function tssIst(cpu: CPU, n: number): number {
  const off = 0x24 + (n - 1) * 8;
  if (off + 7 > cpu.segLimit[TR]) throw new CpuFault(TS, cpu.segSel[TR] & 0xfffc);
  const base = cpu.segBase[TR];
  const lo = cpu.sysRead(base + off, 4), hi = cpu.sysRead(base + off + 4, 4);
  return (hi | 0) * 2 ** 32 + (lo >>> 0);
}

/** Load SS for a privilege change (stack switch through the TSS, or RET/IRET to outer level). */
export function loadStackForCpl(cpu: CPU, sel: number, cpl: number, fault: number): void {
  if ((sel & 0xfffc) === 0) throw new CpuFault(fault, 0);
  const d = readDescriptor(cpu, sel, fault);
  if ((sel & 3) !== cpl || arDpl(d.ar) !== cpl || !(d.ar & AR_S) || (d.ar & 0xa) !== 2) throw new CpuFault(fault, sel & 0xfffc);
  if (!(d.ar & AR_P)) throw new CpuFault(SS_, sel & 0xfffc);
  setAccessed(cpu, d);
  setSegment(cpu, SS, sel, d.base, d.limit, d.ar);
}
