import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import type { X87 } from '../x87-state.js';
import { setSome } from '../flags.js';
import { CF, PF, ZF, AF, SF as EF_SF, OF } from '../regs.js';
import { Ext, classify, X_ZERO, X_NORMAL, X_DENORMAL, X_INF, X_QNAN, X_SNAN, X_UNSUPPORTED } from '../x87-convert.js';
import { IE, DE, C0, C1, C2, C3, fpuWait, noteIp, operand, signal, stackFault, pop, readReal, readInt, loadFlags } from './x87-core.js';
import { compare, CMP_LT, CMP_EQ, CMP_UNORD } from './x87-float.js';

/**
 * x87 comparisons (SDM Vol. 2: FCOM/FCOMP/FCOMPP, FUCOM/FUCOMP/FUCOMPP, FICOM/FICOMP,
 * FCOMI/FCOMIP/FUCOMI/FUCOMIP, FTST, FXAM). Row `op`: bit 0 pop once, bit 1 pop twice,
 * bit 2 unordered compare (only an SNaN or an unsupported operand is invalid; FCOM also
 * signals #IA for a QNaN). With an unmasked #IA the result is "unordered" and nothing is popped;
 * with an unmasked #D the result is set and nothing is popped (measured on this Intel host).
 */

const A = new Ext(), B = new Ext();

/** Exceptions of a comparison of A with B: #IA (NaN rules above), #D. */
function compareFlags(quiet: boolean, extra: number): number {
  const ca = classify(A.se, A.hi, A.lo), cb = classify(B.se, B.hi, B.lo);
  if (ca === X_UNSUPPORTED || cb === X_UNSUPPORTED || ca === X_SNAN || cb === X_SNAN) return IE;
  if (ca === X_QNAN || cb === X_QNAN) return quiet ? 0 : IE;
  return ca === X_DENORMAL || cb === X_DENORMAL ? DE | extra : extra;
}
/** C3 C2 C0 for a comparison result (> 000, < 001, = 100, unordered 111); C1 = 0. */
function setCC(f: X87, r: number): void {
  const cc = r === CMP_UNORD ? C3 | C2 | C0 : r === CMP_LT ? C0 : r === CMP_EQ ? C3 : 0;
  f.sw = (f.sw & ~(C0 | C1 | C2 | C3)) | cc;
}
/** Compare ST(0) (A) with B, set C3 C2 C0, pop per op. Empty operands: #IS, masked → unordered. */
function finishCompare(f: X87, op: number, emptyOperand: boolean, extra: number): void {
  if (emptyOperand) {
    if (stackFault(f, false)) return;
    setCC(f, CMP_UNORD);
  } else {
    const flags = compareFlags((op & 4) !== 0, extra);
    // unmasked #IA: unordered, nothing popped; unmasked #D: the real result, nothing popped (as on this Intel host)
    if (flags && signal(f, flags) && (flags & ~f.cw & (IE | DE))) {
      setCC(f, flags & ~f.cw & IE ? CMP_UNORD : compare(A, B));
      return;
    }
    setCC(f, compare(A, B));
  }
  if (op & 3) pop(f);
  if (op & 2) pop(f);
}

/** FCOM/FCOMP m32fp, m64fp (D8 /2 /3, DC /2 /3). */
function fcom_mem(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  const la = operand(cpu, d, d.osize, false);
  readReal(cpu, la, d.osize, B);
  const lf = loadFlags;
  noteIp(cpu, d, f, true);
  f.getExt(f.top, A);
  finishCompare(f, d.op, f.isEmpty(f.top), lf);
}
/** FICOM/FICOMP m16int, m32int (DE /2 /3, DA /2 /3). */
function ficom_mem(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  const la = operand(cpu, d, d.osize, false);
  readInt(cpu, la, d.osize, B);
  noteIp(cpu, d, f, true);
  f.getExt(f.top, A);
  finishCompare(f, d.op, f.isEmpty(f.top), 0);
}
/** FCOM/FCOMP/FUCOM/FUCOMP ST(i) and the aliases (D8 D0+i, D8 D8+i, DC D0/D8+i, DE D0+i, DD E0/E8+i). */
function fcom_sti(cpu: CPU, d: Insn): void { regCompare(cpu, d, d.modrm & 7); }
/** FCOMPP (DE D9), FUCOMPP (DA E9): with ST(1), pop twice. */
function fcompp(cpu: CPU, d: Insn): void { regCompare(cpu, d, 1); }
function regCompare(cpu: CPU, d: Insn, i: number): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const a = f.top, b = f.phys(i);
  f.getExt(a, A); f.getExt(b, B);
  finishCompare(f, d.op, f.isEmpty(a) || f.isEmpty(b), 0);
}
/** FTST (D9 E4): compare ST(0) with +0.0. */
function ftst(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  f.getExt(f.top, A); B.set(0, 0, 0);
  finishCompare(f, 0, f.isEmpty(f.top), 0);
}

/**
 * FCOMI/FCOMIP/FUCOMI/FUCOMIP ST(0), ST(i) (DB F0+i, DF F0+i, DB E8+i, DF E8+i): ZF PF CF as
 * > 000, < 001, = 100, unordered 111; OF SF AF cleared; C1 = 0.
 */
function fcomi(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const a = f.top, b = f.phys(d.modrm & 7);
  let r: number, popIt = (d.op & 1) !== 0;
  f.sw &= ~C1;
  if (f.isEmpty(a) || f.isEmpty(b)) {
    if (stackFault(f, false)) return;
    r = CMP_UNORD;
  } else {
    f.getExt(a, A); f.getExt(b, B);
    const flags = compareFlags((d.op & 4) !== 0, 0);
    r = flags & ~f.cw & IE ? CMP_UNORD : compare(A, B);
    if (flags && signal(f, flags) && (flags & ~f.cw & (IE | DE))) popIt = false;   // unmasked #IA (unordered) or #D: no pop
  }
  const bits = r === CMP_UNORD ? ZF | PF | CF : r === CMP_LT ? CF : r === CMP_EQ ? ZF : 0;
  setSome(cpu.lf, OF | EF_SF | AF | ZF | PF | CF, bits);
  if (popIt) pop(f);
}

/**
 * FXAM (D9 E5): C1 = sign; C3 C2 C0 = class: 000 unsupported, 001 NaN, 010 normal, 011 ∞,
 * 100 zero, 101 empty, 110 denormal (pseudo-denormals included). An empty register reports the
 * sign of its stale contents, as this Intel host does.
 */
function fxam(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const r = f.top;
  const se = f.xse[r];
  let cc: number;
  if (f.isEmpty(r)) cc = C3 | C0;
  else {
    switch (classify(se, f.xhi[r], f.xlo[r])) {
      case X_UNSUPPORTED: cc = 0; break;
      case X_QNAN: case X_SNAN: cc = C0; break;
      case X_NORMAL: cc = C2; break;
      case X_INF: cc = C2 | C0; break;
      case X_ZERO: cc = C3; break;
      default: cc = C3 | C2; break;
    }
  }
  if (se & 0x8000) cc |= C1;
  f.sw = (f.sw & ~(C0 | C1 | C2 | C3)) | cc;
}

export const x87CompareHandlers = { fcom_mem, ficom_mem, fcom_sti, fcompp, ftst, fcomi, fxam };
