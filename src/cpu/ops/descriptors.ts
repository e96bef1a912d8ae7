import type { CPU } from '../cpu.js';
import { MODE_LONG, MODE_REAL, MODE_V86 } from '../cpu.js';
import type { Insn } from '../insn.js';
import { CpuFault } from '../fault.js';
import { setSome } from '../flags.js';
import { LDTR, GP, UD, ZF, AR_S, AR_P, AR_G, AR_UNUSABLE, EFER_LMA, arDpl } from '../regs.js';
import { loadLdt, loadTr } from '../segments.js';
import { join, split, canonical } from '../msr.js';
import { readE, writeG, memLin } from './operands.js';
import { requireCpl0, regOpSize } from './sysregs.js';

/**
 * Descriptor-table instructions (SDM Vol. 2: LGDT/LIDT, SGDT, SIDT, LLDT, LTR, SLDT, STR, LAR, LSL,
 * VERR/VERW; Vol. 3A "Segment Descriptors", "System Descriptor Types").
 */

function ud(): never { throw new CpuFault(UD); }
/** LLDT, LTR, SLDT, STR, LAR, LSL, VERR, VERW are not recognized in real-address and virtual-8086 mode (#UD). */
function requireProtected(cpu: CPU): void { if (cpu.mode === MODE_REAL || cpu.mode === MODE_V86) ud(); }

/**
 * LGDT/LIDT (op 0 = GDTR, 1 = IDTR): a 16-bit limit then the base — 24 bits with a 16-bit operand size,
 * 32 bits with 32, always 64 bits in 64-bit mode. In 64-bit mode a non-canonical base raises #GP(0)
 * (the SDM does not list it; Intel processors, KVM's emulator and Bochs all do).
 */
function load_dtr(cpu: CPU, d: Insn): void {
  requireCpl0(cpu);
  const long = cpu.mode === MODE_LONG;
  const la = memLin(cpu, d, long ? 10 : 6, false);
  const limit = cpu.rd16(la);
  let base: number;
  if (long) {
    const lo = cpu.rd32(la + 2), hi = cpu.rd32(la + 6);
    if (!canonical(lo, hi)) throw new CpuFault(GP, 0);
    base = join(lo, hi);
  } else {
    base = cpu.rd32(la + 2) >>> 0;
    if (d.osize === 2) base &= 0xffffff;
  }
  if (d.op === 0) { cpu.gdtBase = base; cpu.gdtLimit = limit; } else { cpu.idtBase = base; cpu.idtLimit = limit; }
}

/** SGDT/SIDT: limit then base (32 bits outside 64-bit mode, whatever the operand size; 64 bits in it).
 *  Allowed at any CPL: CR4.UMIP is not supported. */
function store_dtr(cpu: CPU, d: Insn): void {
  const long = cpu.mode === MODE_LONG;
  const n = long ? 10 : 6;
  const la = memLin(cpu, d, n, true);
  cpu.probeWrite(la, n);
  const limit = d.op === 0 ? cpu.gdtLimit : cpu.idtLimit, base = d.op === 0 ? cpu.gdtBase : cpu.idtBase;
  cpu.wr16(la, limit);
  const [lo, hi] = split(base);
  cpu.wr32(la + 2, lo | 0);
  if (long) cpu.wr32(la + 6, hi | 0);
}

function lldt(cpu: CPU, d: Insn): void {
  requireProtected(cpu);
  requireCpl0(cpu);
  loadLdt(cpu, readE(cpu, d, 2));
}
function ltr(cpu: CPU, d: Insn): void {
  requireProtected(cpu);
  requireCpl0(cpu);
  loadTr(cpu, readE(cpu, d, 2));
}
/** SLDT/STR (op = LDTR or TR): a register gets the selector zero-extended to the operand size; memory gets 16 bits. */
function store_sysreg(cpu: CPU, d: Insn): void {
  requireProtected(cpu);
  const v = cpu.segSel[d.op] & 0xffff;
  if (d.rm >= 0) cpu.setReg(d.rm, regOpSize(cpu, d), v, 0);
  else cpu.wr16(memLin(cpu, d, 2, true), v);
}

// ------------------------------------------------------------------ LAR, LSL, VERR, VERW

interface Peek { hi: number; ar: number; limit: number }
/** The descriptor `sel` names, or null when the selector is null or beyond the GDT/LDT limit (these
 *  instructions report that in ZF instead of faulting). Faults of the table access itself (#PF) propagate. */
function peekDescriptor(cpu: CPU, sel: number, bytes: number): Peek | null {
  if ((sel & 0xfffc) === 0) return null;
  let base: number, limit: number;
  if (sel & 4) {
    if (cpu.segAr[LDTR] & AR_UNUSABLE || !(cpu.segAr[LDTR] & AR_P)) return null;
    base = cpu.segBase[LDTR]; limit = cpu.segLimit[LDTR];
  } else { base = cpu.gdtBase; limit = cpu.gdtLimit; }
  const idx = sel & 0xfff8;
  if (idx + 7 > limit) return null;
  const lo = cpu.sysRead(base + idx, 4), hi = cpu.sysRead(base + idx + 4, 4);
  if (bytes === 16) {
    // IA-32e mode system descriptors are 16 bytes; the upper half must be within the limit and its type field 0.
    if (idx + 15 > limit) return null;
    if ((cpu.sysRead(base + idx + 12, 4) >>> 8) & 0x1f) return null;
  }
  const ar = ((hi >>> 8) & 0xff) | ((hi >>> 8) & 0xf000);
  let lim = (lo & 0xffff) | (hi & 0xf0000);
  if (ar & AR_G) lim = lim * 4096 + 0xfff;
  return { hi, ar, limit: lim };
}

/** System descriptor types LAR accepts (SDM LAR, "Segment and Gate Types"): legacy / IA-32e mode. */
const LAR_TYPES_LEGACY = new Set([1, 2, 3, 4, 5, 9, 0xb, 0xc]);
const LAR_TYPES_IA32E = new Set([2, 9, 0xb, 0xc]);
/** System descriptor types LSL accepts (SDM LSL): legacy / IA-32e mode. */
const LSL_TYPES_LEGACY = new Set([1, 2, 3, 9, 0xb]);
const LSL_TYPES_IA32E = new Set([2, 9, 0xb]);

/** The common LAR/LSL check: descriptor present in the table, type acceptable, and visible at CPL and RPL
 *  (conforming code segments are visible at any privilege). */
function checkVisible(cpu: CPU, sel: number, legacy: Set<number>, ia32e: Set<number>): Peek | null {
  const ia = (cpu.efer & EFER_LMA) !== 0;
  const first = peekDescriptor(cpu, sel, 8);
  if (!first) return null;
  let dsc = first;
  if (!(first.ar & AR_S)) {
    const type = first.ar & 0xf;
    if (!(ia ? ia32e : legacy).has(type)) return null;
    if (ia) { const full = peekDescriptor(cpu, sel, 16); if (!full) return null; dsc = full; }
  }
  const conforming = (dsc.ar & AR_S) && (dsc.ar & 0xc) === 0xc;
  const dpl = arDpl(dsc.ar);
  if (!conforming && (dpl < cpu.cpl || dpl < (sel & 3))) return null;
  return dsc;
}
function setZf(cpu: CPU, ok: boolean): void { setSome(cpu.lf, ZF, ok ? ZF : 0); }

/**
 * LAR: on success ZF = 1 and the destination gets the descriptor's second doubleword masked with
 * 00FxFF00H (type, S, DPL, P, limit 19:16, AVL, L, D/B, G); the SDM leaves "x" (limit 19:16) undefined —
 * like the Intel host we checked, we return it. A 16-bit destination gets bits 15:8 only. ZF = 0
 * leaves the destination unchanged.
 */
function lar(cpu: CPU, d: Insn): void {
  requireProtected(cpu);
  const sel = readE(cpu, d, 2);
  const dsc = checkVisible(cpu, sel, LAR_TYPES_LEGACY, LAR_TYPES_IA32E);
  setZf(cpu, dsc !== null);
  if (!dsc) return;
  const s = d.osize;
  writeG(cpu, d, s, s === 2 ? dsc.hi & 0xff00 : dsc.hi & 0x00ffff00, 0);
}
/** LSL: the byte-granular segment limit (expanded when G = 1); a 16-bit destination gets its low 16 bits. */
function lsl(cpu: CPU, d: Insn): void {
  requireProtected(cpu);
  const sel = readE(cpu, d, 2);
  const dsc = checkVisible(cpu, sel, LSL_TYPES_LEGACY, LSL_TYPES_IA32E);
  setZf(cpu, dsc !== null);
  if (!dsc) return;
  const s = d.osize;
  writeG(cpu, d, s, s === 2 ? dsc.limit & 0xffff : dsc.limit | 0, 0);
}
/**
 * VERR (op 0) / VERW (op 1): ZF = 1 when the segment is readable / writable at the current CPL with
 * the selector's RPL. System segments never qualify; code is never writable; conforming readable code
 * is readable at any privilege.
 */
function verx(cpu: CPU, d: Insn): void {
  requireProtected(cpu);
  const sel = readE(cpu, d, 2);
  const dsc = peekDescriptor(cpu, sel, 8);
  let ok = false;
  if (dsc && (dsc.ar & AR_S)) {
    const type = dsc.ar & 0xf, code = (type & 8) !== 0;
    const dpl = arDpl(dsc.ar);
    const visible = dpl >= cpu.cpl && dpl >= (sel & 3);
    if (d.op === 0) ok = code ? (type & 2) !== 0 && ((type & 4) !== 0 || visible) : visible;
    else ok = !code && (type & 2) !== 0 && visible;
  }
  setZf(cpu, ok);
}

export const descriptorHandlers = { load_dtr, store_dtr, lldt, ltr, store_sysreg, lar, lsl, verx };
