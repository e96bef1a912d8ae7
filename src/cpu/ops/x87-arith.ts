import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import type { X87 } from '../x87-state.js';
import { Ext, classify, normalize, nH, nL, nU, int64ToExt, X_ZERO, X_DENORMAL, X_INF, X_QNAN, X_SNAN, X_UNSUPPORTED } from '../x87-convert.js';
import {
  IE, DE, ZE, C0, C1, C2, C3, fpuWait, noteIp, operand, signal, stackFault, pop, push, underflowTo, deliver,
  readReal, readInt, loadFlags, pcBits, rcOf,
} from './x87-core.js';
import { arith, sqrt, roundInt, scale, remainder, remQ, remPartial, setIndefinite } from './x87-float.js';

/**
 * x87 arithmetic (SDM Vol. 2: FADD/FADDP/FIADD, FSUB…, FMUL…, FDIV…, FCHS, FABS, FSQRT, FRNDINT,
 * FSCALE, FXTRACT, FPREM, FPREM1). `op` of a row: 0 add, 1 mul, 4 dest−src, 5 src−dest,
 * 6 dest/src, 7 src/dest (x87-float OP_*).
 */

const A = new Ext(), B = new Ext(), R = new Ext();

/** FADD…FDIVR m32fp / m64fp (D8 /n, DC /n): ST(0) ← ST(0) op m. A denormal m32/m64 operand signals #D. */
function farith_mem(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  const la = operand(cpu, d, d.osize, false);
  readReal(cpu, la, d.osize, B);
  const lf = loadFlags;
  noteIp(cpu, d, f, true);
  memArith(f, d.op, lf);
}
/** FIADD…FIDIVR m16int / m32int (DE /n, DA /n). */
function fiarith_mem(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  const la = operand(cpu, d, d.osize, false);
  readInt(cpu, la, d.osize, B);
  noteIp(cpu, d, f, true);
  memArith(f, d.op, 0);
}
function memArith(f: X87, op: number, extra: number): void {
  const r = f.top;
  if (f.isEmpty(r)) { underflowTo(f, r); return; }
  f.getExt(r, A);
  deliver(f, r, R, arith(op, A, B, pcBits(f), rcOf(f), R) | extra);
}
/** D8 /n ST(0), ST(i): ST(0) ← ST(0) op ST(i). */
function farith_st0(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  regArith(f, f.top, f.phys(d.modrm & 7), d.op, false);
}
/** DC /n ST(i), ST(0): ST(i) ← ST(i) op ST(0); DE /n the same and pop (FADDP FMULP FSUBRP FSUBP FDIVRP FDIVP). */
function farith_sti(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  regArith(f, f.phys(d.modrm & 7), f.top, d.op, false);
}
function farith_stip(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  regArith(f, f.phys(d.modrm & 7), f.top, d.op, true);
}
function regArith(f: X87, dst: number, src: number, op: number, popIt: boolean): void {
  if (f.isEmpty(dst) || f.isEmpty(src)) {
    if (underflowTo(f, dst) && popIt) pop(f);
    return;
  }
  f.getExt(dst, A); f.getExt(src, B);
  if (deliver(f, dst, R, arith(op, A, B, pcBits(f), rcOf(f), R)) && popIt) pop(f);
}

/** FCHS (D9 E0), FABS (D9 E1): sign only, exact, no exception but #IS. */
function fchs(cpu: CPU, d: Insn): void { signOp(cpu, d, 1); }
function fabs(cpu: CPU, d: Insn): void { signOp(cpu, d, 0); }
function signOp(cpu: CPU, d: Insn, chs: number): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const r = f.top;
  if (f.isEmpty(r)) { underflowTo(f, r); return; }
  f.sw &= ~C1;
  f.xse[r] = chs ? f.xse[r] ^ 0x8000 : f.xse[r] & 0x7fff;
}

/** FSQRT (D9 FA), FRNDINT (D9 FC): ST(0) ← f(ST(0)). */
function fsqrt(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const r = f.top;
  if (f.isEmpty(r)) { underflowTo(f, r); return; }
  f.getExt(r, A);
  deliver(f, r, R, sqrt(A, pcBits(f), rcOf(f), R));
}
function frndint(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const r = f.top;
  if (f.isEmpty(r)) { underflowTo(f, r); return; }
  f.getExt(r, A);
  deliver(f, r, R, roundInt(A, rcOf(f), R));
}
/** FSCALE (D9 FD): ST(0) ← ST(0) · 2^trunc(ST(1)). */
function fscale(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const r = f.top, s = f.phys(1);
  if (f.isEmpty(r) || f.isEmpty(s)) { underflowTo(f, r); return; }
  f.getExt(r, A); f.getExt(s, B);
  deliver(f, r, R, scale(A, B, rcOf(f), R));
}

/**
 * FXTRACT (D9 F4): ST(0) ← exponent (as a real), then push the significand (exponent 3FFFH).
 * Zero: #Z, exponent −∞, significand the zero. Exact.
 */
function fxtract(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const r = f.top;
  if (f.isEmpty(r)) {
    if (stackFault(f, false)) return;
    f.setIndefinite(r); f.setFull(r);
    push(f, R.set(0xffff, 0xc0000000, 0), 0);
    return;
  }
  f.getExt(r, A);
  const c = classify(A.se, A.hi, A.lo);
  let flags = 0;
  const sign = A.se & 0x8000;
  if (c === X_UNSUPPORTED || c === X_SNAN || c === X_QNAN) {
    if (c === X_UNSUPPORTED) { flags = setIndefinite(R); } else { if (c === X_SNAN) flags = IE; R.set(A.se, A.hi | 0x40000000, A.lo); }
    B.copy(R);
  } else if (c === X_ZERO) {
    flags = ZE;
    B.set(0xffff, 0x80000000, 0);                 // −∞
    R.copy(A);
  } else if (c === X_INF) {
    B.set(0x7fff, 0x80000000, 0);                 // +∞
    R.copy(A);
  } else {
    if (c === X_DENORMAL) flags = DE;
    normalize(A.se, A.hi, A.lo);
    int64ToExt(nU, nU >> 31, B);
    R.set(sign | 0x3fff, nH, nL);
  }
  if (flags && signal(f, flags) && (flags & ~f.cw & (IE | DE | ZE))) return;
  f.sw &= ~C1;
  f.setExt(r, B);
  push(f, R, 0);
}

/**
 * FPREM (D9 F8) / FPREM1 (D9 F5): ST(0) ← remainder of ST(0) / ST(1). C2 = 1 for a partial
 * remainder; complete: C0 = Q2, C3 = Q1, C1 = Q0 (SDM Vol. 2, "FPREM").
 */
function fprem(cpu: CPU, d: Insn): void { prem(cpu, d, false); }
function fprem1(cpu: CPU, d: Insn): void { prem(cpu, d, true); }
function prem(cpu: CPU, d: Insn, ieee: boolean): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const r = f.top, s = f.phys(1);
  if (f.isEmpty(r) || f.isEmpty(s)) { f.sw &= ~(C0 | C2 | C3); underflowTo(f, r); return; }
  f.getExt(r, A); f.getExt(s, B);
  const flags = remainder(A, B, ieee, R);
  if (!deliver(f, r, R, flags)) return;
  let cc = 0;
  if (!(flags & IE)) {
    if (remPartial) cc = C2;
    else cc = (remQ & 4 ? C0 : 0) | (remQ & 2 ? C3 : 0) | (remQ & 1 ? C1 : 0);
  }
  f.sw = (f.sw & ~(C0 | C1 | C2 | C3)) | cc;
}

export const x87ArithHandlers = {
  farith_mem, fiarith_mem, farith_st0, farith_sti, farith_stip, fchs, fabs, fsqrt, frndint, fscale, fxtract, fprem, fprem1,
};
