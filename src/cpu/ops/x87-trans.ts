import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import type { X87 } from '../x87-state.js';
import { Ext, classify, doubleToExt, extToDouble, X_ZERO, X_DENORMAL, X_INF, X_QNAN, X_SNAN, X_UNSUPPORTED } from '../x87-convert.js';
import { IE, DE, ZE, PE, C1, C2, fpuWait, noteIp, signal, pop, push, underflowTo } from './x87-core.js';
import { propagateNaN, setIndefinite } from './x87-float.js';

/**
 * Transcendental x87 instructions (SDM Vol. 2: F2XM1 FYL2X FYL2XP1 FPTAN FPATAN FSIN FCOS FSINCOS).
 * The model's one approximation: these compute in binary64 with JavaScript's Math functions
 * (operands rounded to binary64 first), so results can differ from the hardware's in the last
 * bits of a binary64 value and always in the 11 extra bits of the extended format; large
 * arguments of FSIN/FCOS/FPTAN are reduced exactly (the hardware uses a 66-bit π). #P is set for
 * every nonzero finite result, C1 (rounded up) is 0. NaNs, infinities, zeros, #IA, #Z, #D and the
 * |x| ≥ 2^63 out-of-range rule (C2 = 1, operand unchanged) follow the SDM exactly.
 */

const A = new Ext(), B = new Ext(), R = new Ext(), S = new Ext();
const TWO63 = 9223372036854775808;

/** Result of a binary64 computation → ST register, with #P unless exact-looking (zero, ∞). */
function resultFlags(v: number): number { return v === 0 || !isFinite(v) ? 0 : PE; }
/** NaN / unsupported / denormal screening of one operand: returns -1 to go on, else the flags after writing R. */
function screen1(a: Ext): number {
  const c = classify(a.se, a.hi, a.lo);
  if (c === X_UNSUPPORTED) return setIndefinite(R);
  if (c === X_QNAN || c === X_SNAN) return propagateNaN(a, c, null, 0, R);
  return -1;
}
function screen2(a: Ext, b: Ext): number {
  const ca = classify(a.se, a.hi, a.lo), cb = classify(b.se, b.hi, b.lo);
  if (ca === X_UNSUPPORTED || cb === X_UNSUPPORTED) return setIndefinite(R);
  if (ca === X_QNAN || ca === X_SNAN || cb === X_QNAN || cb === X_SNAN) return propagateNaN(a, ca, b, cb, R);
  return -1;
}
const isDenormal = (e: Ext) => classify(e.se, e.hi, e.lo) === X_DENORMAL;

/** Store R to register r unless an unmasked IE/DE/ZE forbids it. */
function put(f: X87, r: number, flags: number): boolean {
  f.sw &= ~C1;
  if (flags && signal(f, flags) && (flags & ~f.cw & (IE | DE | ZE))) return false;
  f.setExt(r, R); f.setFull(r);
  return true;
}

/** F2XM1 (D9 F0): ST(0) ← 2^ST(0) − 1 (defined for −1 ≤ x ≤ +1). */
function f2xm1(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const r = f.top;
  if (f.isEmpty(r)) { underflowTo(f, r); return; }
  f.getExt(r, A);
  let flags = screen1(A);
  if (flags < 0) {
    const c = classify(A.se, A.hi, A.lo);
    if (c === X_ZERO) { R.copy(A); flags = 0; }
    else if (c === X_INF) { doubleToExt(A.se & 0x8000 ? -1 : Infinity, R); flags = 0; }
    else {
      const v = Math.expm1(extToDouble(A.se, A.hi, A.lo) * Math.LN2);
      doubleToExt(v, R);
      flags = resultFlags(v) | (c === X_DENORMAL ? DE : 0);
    }
  }
  put(f, r, flags);
}

/** FYL2X (D9 F1): ST(1) ← ST(1)·log2(ST(0)), pop. FYL2XP1 (D9 F9): ST(1) ← ST(1)·log2(ST(0) + 1), pop. */
function fyl2x(cpu: CPU, d: Insn): void { ylog(cpu, d, false); }
function fyl2xp1(cpu: CPU, d: Insn): void { ylog(cpu, d, true); }
function ylog(cpu: CPU, d: Insn, p1: boolean): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const r0 = f.top, r1 = f.phys(1);
  if (f.isEmpty(r0) || f.isEmpty(r1)) { if (underflowTo(f, r1)) pop(f); return; }
  f.getExt(r0, A); f.getExt(r1, B);
  let flags = screen2(A, B);
  if (flags < 0) {
    const x = extToDouble(A.se, A.hi, A.lo), y = extToDouble(B.se, B.hi, B.lo);
    const l = p1 ? Math.log1p(x) / Math.LN2 : Math.log2(x);
    const v = y * l;
    flags = (isDenormal(A) || isDenormal(B) ? DE : 0);
    if (v !== v) flags |= setIndefinite(R);                                  // log of a negative, 0·∞, ∞·0
    else {
      if (!p1 && x === 0 && y !== 0 && isFinite(y)) flags |= ZE;           // log2(±0) with a finite nonzero y
      doubleToExt(v, R);
      flags |= Number.isInteger(l) && Number.isInteger(y) ? 0 : resultFlags(v);   // exact: log2 of a power of two times an integer
    }
  }
  if (put(f, r1, flags)) pop(f);
}

/** FPATAN (D9 F3): ST(1) ← arctan(ST(1)/ST(0)) with the quadrant of (ST(0), ST(1)), pop. */
function fpatan(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const r0 = f.top, r1 = f.phys(1);
  if (f.isEmpty(r0) || f.isEmpty(r1)) { if (underflowTo(f, r1)) pop(f); return; }
  f.getExt(r0, A); f.getExt(r1, B);
  let flags = screen2(A, B);
  if (flags < 0) {
    const v = Math.atan2(extToDouble(B.se, B.hi, B.lo), extToDouble(A.se, A.hi, A.lo));
    doubleToExt(v, R);
    flags = resultFlags(v) | (isDenormal(A) || isDenormal(B) ? DE : 0);
  }
  if (put(f, r1, flags)) pop(f);
}

/**
 * FSIN (D9 FE), FCOS (D9 FF), FPTAN (D9 F2: and push 1.0), FSINCOS (D9 FB: ST(0) ← sin, push cos).
 * |x| ≥ 2^63: C2 = 1 and nothing else changes; ∞: #IA.
 */
function fsin(cpu: CPU, d: Insn): void { trig(cpu, d, 0); }
function fcos(cpu: CPU, d: Insn): void { trig(cpu, d, 1); }
function fptan(cpu: CPU, d: Insn): void { trig(cpu, d, 2); }
function fsincos(cpu: CPU, d: Insn): void { trig(cpu, d, 3); }
function trig(cpu: CPU, d: Insn, kind: number): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const r = f.top;
  if (f.isEmpty(r)) {
    if (!underflowTo(f, r)) return;
    f.sw &= ~C2;
    if (kind >= 2) push(f, R.set(0xffff, 0xc0000000, 0), 0);
    return;
  }
  f.getExt(r, A);
  let flags = screen1(A);
  let second = 0;                                 // what FPTAN/FSINCOS push: 1.0 or cos
  if (flags >= 0) S.copy(R);
  else {
    const c = classify(A.se, A.hi, A.lo);
    if (c === X_INF) { flags = setIndefinite(R); S.copy(R); }
    else {
      const x = extToDouble(A.se, A.hi, A.lo);
      if (Math.abs(x) >= TWO63) { f.sw = (f.sw & ~C1) | C2; return; }
      const de = c === X_DENORMAL ? DE : 0;
      let v: number;
      switch (kind) {
        case 0: v = Math.sin(x); break;
        case 1: v = Math.cos(x); break;
        case 2: v = Math.tan(x); second = 1; break;
        default: v = Math.sin(x); second = Math.cos(x); break;
      }
      if (c === X_ZERO && kind !== 1) R.copy(A); else doubleToExt(v, R);   // sin/tan of ±0 keep the zero's sign
      flags = de | resultFlags(v) | (kind === 3 ? resultFlags(second) : 0);
      doubleToExt(second, S);
    }
  }
  f.sw &= ~C2;
  if (!put(f, r, flags)) return;
  if (kind >= 2) push(f, S, 0);
}

export const x87TransHandlers = { f2xm1, fyl2x, fyl2xp1, fpatan, fsin, fcos, fptan, fsincos };
