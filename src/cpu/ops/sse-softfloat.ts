import type { CPU } from '../cpu.js';
import { simdFault } from '../xmm.js';

/**
 * IEEE 754 binary32/binary64 arithmetic as SSE does it (SDM Vol. 1, "SSE and SSE2 Exceptions",
 * "Floating-Point Exception Conditions", Table 4-7 "Rules for Generating QNaNs"; Vol. 2 pages of
 * ADDPS, MINPS, CVTSD2SI, ROUNDPS ...), with every MXCSR feature: the four rounding modes, DAZ,
 * FTZ, sticky flags IE DE ZE OE UE PE, and unmasked exceptions.
 *
 * Method (no BigInt, no allocation): an operation produces v, a double, and e, the sign of the
 * exact result's excess over v (found with error-free transformations: TwoSum, Dekker's
 * TwoProduct), with v = the exact result rounded to 53 bits (to nearest) times 2^s. `pack` then
 * rounds v·2^s (+e) to the destination format under MXCSR.RC. Rounding to 24 or 53 bits from
 * (v, e) is exact: a 24-bit point or midpoint never lies strictly between the exact value and its
 * 53-bit rounding. binary64 operands are first split into a significand in [1, 2) and a
 * power of two so that nothing overflows or underflows in between.
 *
 * Values are passed as raw bits: binary32 as an int32, binary64 as (lo, hi) int32 halves;
 * binary64 results are left in `out`. NaNs never pass through JavaScript numbers (their payloads
 * would not survive).
 */

// MXCSR bits (SDM Vol. 1, "MXCSR Control/Status Register")
export const IE = 1, DE = 2, ZE = 4, OE = 8, UE = 16, PE = 32;
export const MX_DAZ = 0x40, MX_FTZ = 0x8000;
export const RN = 0, RD = 1, RU = 2, RZ = 3;
export const F32 = 0, F64 = 1;

/**
 * Status of the instruction being executed (a temporary, reset by fpBegin). `pre` collects the
 * pre-computation conditions (IE DE ZE), `post` the post-computation ones (OE UE PE).
 */
export const fpc = { pre: 0, post: 0, rc: 0, daz: false, ftz: false, unmasked: 0 };
/** binary64 results (and the high half of 64-bit integer results). */
export const out = { lo: 0, hi: 0 };

export function fpBegin(cpu: CPU): void {
  const m = cpu.mxcsr;
  fpc.pre = 0; fpc.post = 0;
  fpc.rc = (m >> 13) & 3;
  fpc.daz = (m & MX_DAZ) !== 0;
  fpc.ftz = (m & MX_FTZ) !== 0;
  fpc.unmasked = ~(m >> 7) & 0x3f;
}
/**
 * Commit the flags of the instruction; fault (#XM, or #UD without CR4.OSXMMEXCPT) before the
 * destination is written when an unmasked condition was found (SDM Vol. 1, "Handling Unmasked
 * Exceptions": an unmasked pre-computation exception stops the instruction before the
 * computation, so only the pre-computation flags are set; otherwise all flags are set and the
 * destination is left unchanged).
 */
export function fpEnd(cpu: CPU): void {
  const pre = fpc.pre;
  if (pre & fpc.unmasked) { cpu.mxcsr |= pre; simdFault(cpu); }
  const all = pre | fpc.post;
  cpu.mxcsr |= all;
  if (all & fpc.unmasked) simdFault(cpu);
}

/**
 * End of one stage of a multi-step instruction (DPPS, DPPD): an unmasked condition faults now;
 * otherwise the stage's flags are committed, so a later stage that faults keeps them (as the
 * Intel host does: DPPS with masked overflows in its products and an unmasked invalid sum sets PE too).
 */
export function fpStage(cpu: CPU): void {
  if ((fpc.pre | fpc.post) & fpc.unmasked) fpEnd(cpu);
  cpu.mxcsr |= fpc.pre | fpc.post;
  fpc.pre = 0; fpc.post = 0;
}

// --------------------------------------------------------------------------------- bit views
const cb = new ArrayBuffer(8);
const cf64 = new Float64Array(cb), cf32 = new Float32Array(cb), ci32 = new Int32Array(cb);

export function f32(bits: number): number { ci32[0] = bits; return cf32[0]; }
export function bits32(x: number): number { cf32[0] = x; return ci32[0]; }
export function f64(lo: number, hi: number): number { ci32[0] = lo; ci32[1] = hi; return cf64[0]; }
export function setOut64(x: number): void { cf64[0] = x; out.lo = ci32[0]; out.hi = ci32[1]; }

export const isNaN32 = (a: number) => (a & 0x7f800000) === 0x7f800000 && (a & 0x7fffff) !== 0;
export const isSNaN32 = (a: number) => isNaN32(a) && (a & 0x400000) === 0;
export const isNaN64 = (lo: number, hi: number) => (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) | lo) !== 0;
export const isSNaN64 = (lo: number, hi: number) => isNaN64(lo, hi) && (hi & 0x80000) === 0;
const isDen32 = (a: number) => (a & 0x7f800000) === 0 && (a & 0x7fffff) !== 0;
const isDen64 = (lo: number, hi: number) => (hi & 0x7ff00000) === 0 && ((hi & 0xfffff) | lo) !== 0;

export const DEFAULT_NAN32 = 0xffc00000 | 0;
export const DEFAULT_NAN64_HI = 0xfff80000 | 0;

/** A binary32 source value: DAZ turns a denormal into a zero; otherwise a denormal sets DE (when `de`). */
export function in32(a: number, de = true): number {
  if (isDen32(a)) {
    if (fpc.daz) return a < 0 ? -0 : 0;
    if (de) fpc.pre |= DE;
  }
  return f32(a);
}
export function in64(lo: number, hi: number, de = true): number {
  if (isDen64(lo, hi)) {
    if (fpc.daz) return hi < 0 ? -0 : 0;
    if (de) fpc.pre |= DE;
  }
  return f64(lo, hi);
}

// ------------------------------------------------------------------------------ rounding
const P = [24, 53], EMIN = [-126, -1022], EMAX = [127, 1023];
const POW2 = new Float64Array(2200);
for (let i = 0; i < 2200; i++) POW2[i] = Math.pow(2, i - 1100);
/** 2^n, exact for -1074 <= n <= 1023. */
const pow2 = (n: number) => POW2[n + 1100];

let rInexact = false;
/**
 * Round v·2^sh (+ a tail of sign e) to an integer; sets rInexact. v > 0.
 * Ties go to even under RN; `neg` says the value being rounded is a magnitude of a negative number.
 */
function roundInt(v: number, sh: number, e: number, neg: boolean, rc: number): number {
  let k: number, cls: number; // cls: 0 exact, 1 below half, 2 half, 3 above half
  if (sh < -60) { k = 0; cls = 1; }
  else {
    const m = v * pow2(sh);
    k = Math.floor(m);
    const fr = m - k;
    if (fr === 0) {
      if (e === 0) cls = 0; else if (e > 0) cls = 1; else { k -= 1; cls = 3; }
    } else if (fr < 0.5) cls = 1;
    else if (fr > 0.5) cls = 3;
    else cls = e > 0 ? 3 : e < 0 ? 1 : 2;
  }
  rInexact = cls !== 0;
  let up: boolean;
  switch (rc) {
    case RN: up = cls === 3 || (cls === 2 && k % 2 === 1); break;
    case RZ: up = false; break;
    case RU: up = !neg && cls !== 0; break;
    default: up = neg && cls !== 0; break;
  }
  return up ? k + 1 : k;
}

/** Encode ±k·2^q (k <= 2^p) into `out` (binary32 bits in out.lo). */
function encode(neg: boolean, k: number, q: number, fmt: number): number {
  const p = P[fmt];
  let biased = 0, frac = k;
  if (k !== 0) {
    if (k >= pow2(p)) { k /= 2; q += 1; }
    if (k >= pow2(p - 1)) { biased = q + p - 1 + (fmt === F32 ? 127 : 1023); frac = k - pow2(p - 1); }
    else frac = k;
  }
  if (fmt === F32) {
    out.lo = (neg ? 0x80000000 : 0) | (biased << 23) | frac;
    return out.lo;
  }
  const fh = Math.floor(frac / 4294967296);
  out.hi = (neg ? 0x80000000 : 0) | (biased << 20) | fh;
  out.lo = (frac - fh * 4294967296) | 0;
  return out.lo;
}

/** ±0 of a format into `out`. */
export function zero(neg: boolean, fmt: number): number {
  if (fmt === F32) { out.lo = neg ? 0x80000000 | 0 : 0; return out.lo; }
  out.hi = neg ? 0x80000000 | 0 : 0; out.lo = 0; return 0;
}
export function inf(neg: boolean, fmt: number): number {
  if (fmt === F32) { out.lo = (neg ? 0x80000000 : 0) | 0x7f800000; return out.lo; }
  out.hi = (neg ? 0x80000000 : 0) | 0x7ff00000; out.lo = 0; return 0;
}
function maxFinite(neg: boolean, fmt: number): number {
  if (fmt === F32) { out.lo = (neg ? 0x80000000 : 0) | 0x7f7fffff; return out.lo; }
  out.hi = (neg ? 0x80000000 : 0) | 0x7fefffff; out.lo = -1; return -1;
}

/**
 * Round the nonzero exact value ±(v·2^s + tail), tail of sign e, to `fmt` under MXCSR.RC,
 * set OE UE PE, apply FTZ; the result goes to `out` (binary32 in out.lo, also returned).
 * Tininess is detected after rounding (SDM Vol. 1, "Numeric Underflow Exception (#U)").
 */
export function pack(neg: boolean, v: number, s: number, e: number, fmt: number): number {
  let m = frexp1(v), L = fexp + s;               // L: exponent of the leading bit
  if (m === 1 && e < 0) { m = 2; L -= 1; }       // just below a power of two: the binade below
  const p = P[fmt], emin = EMIN[fmt], emax = EMAX[fmt], rc = fpc.rc;
  if (L > emax) { roundInt(m, p - 1, e, neg, rc); return overflow(neg, fmt, rInexact); }
  let q = L - p + 1;
  if (q < emin - p + 1) q = emin - p + 1;
  const k = roundInt(m, L - q, e, neg, rc);
  const inexact = rInexact;
  if (L === emax && k >= pow2(p)) return overflow(neg, fmt, inexact);
  if (L < emin) {
    // tiny unless rounding with an unbounded exponent carries up to 2^emin
    let tiny = true;
    if (L === emin - 1) tiny = roundInt(m, p - 1, e, neg, rc) < pow2(p);
    if (tiny) {
      if (fpc.unmasked & UE) {
        roundInt(m, p - 1, e, neg, rc);
        fpc.post |= UE | (rInexact ? PE : 0);
        return encode(neg, k, q, fmt);
      }
      if (fpc.ftz) { fpc.post |= UE | PE; return zero(neg, fmt); }
      if (inexact) fpc.post |= UE | PE;
      return encode(neg, k, q, fmt);
    }
  }
  if (inexact) fpc.post |= PE;
  return encode(neg, k, q, fmt);
}
function overflow(neg: boolean, fmt: number, inexact: boolean): number {
  if (fpc.unmasked & OE) { fpc.post |= OE | (inexact ? PE : 0); return inf(neg, fmt); }
  fpc.post |= OE | PE;
  const rc = fpc.rc;
  if (rc === RN || (rc === RU && !neg) || (rc === RD && neg)) return inf(neg, fmt);
  return maxFinite(neg, fmt);
}

/** Round a signed exact double result x (+ tail t, same units) into fmt; x !== 0. */
function packSigned(x: number, t: number, s: number, fmt: number): number {
  const neg = x < 0;
  const e = t === 0 ? 0 : (t > 0) !== neg ? 1 : -1;
  return pack(neg, neg ? -x : x, s, e, fmt);
}

// ------------------------------------------------------------ error-free transformations
let tpErr = 0;
/** a·b = result + tpErr exactly (Dekker/Veltkamp; no overflow/underflow for |a|,|b| near 1..2^±500). */
function twoProd(a: number, b: number): number {
  const p = a * b;
  let c = 134217729 * a; const ah = c - (c - a), al = a - ah;
  c = 134217729 * b; const bh = c - (c - b), bl = b - bh;
  tpErr = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
  return p;
}

let fexp = 0;
/** |x| = m·2^fexp with m in [1, 2); x finite, nonzero. */
function frexp1(x: number): number {
  cf64[0] = x < 0 ? -x : x;
  let ex = (ci32[1] >>> 20) & 0x7ff, adj = 0;
  if (ex === 0) { cf64[0] *= 18446744073709551616; ex = (ci32[1] >>> 20) & 0x7ff; adj = 64; }
  fexp = ex - 1023 - adj;
  ci32[1] = (ci32[1] & 0x000fffff) | 0x3ff00000;
  return cf64[0];
}

// ------------------------------------------------------------------------ operations
export const OP_ADD = 0, OP_SUB = 1, OP_MUL = 2, OP_DIV = 3;

/** x + y (finite or infinite, not NaN) rounded into fmt. `bothNeg0`: zero-result sign rule. */
function addNum(x: number, y: number, fmt: number): number {
  if (x === Infinity || x === -Infinity || y === Infinity || y === -Infinity) {
    if (x + y !== x + y) { fpc.pre |= IE; return defaultNaN(fmt); }
    return inf((x === Infinity || y === Infinity) ? false : true, fmt);
  }
  if (x === 0 && y === 0) {
    const nx = Object.is(x, -0), ny = Object.is(y, -0);
    return zero(nx && ny ? true : nx !== ny ? fpc.rc === RD : false, fmt);
  }
  let s = x + y, sc = 0;
  if (s === Infinity || s === -Infinity) { x *= 0.5; y *= 0.5; sc = 1; s = x + y; }
  // a result near or below 2^-1022: scale up (exactly) so that s is rounded with an unbounded
  // exponent, as pack's tininess test needs
  else if (s > -1e-290 && s < 1e-290) { x *= 18446744073709551616; y *= 18446744073709551616; sc = -64; s = x + y; }
  const bb = s - x;
  const t = (x - (s - bb)) + (y - bb);
  if (s === 0) return zero(fpc.rc === RD, fmt);   // exact cancellation: +0, or -0 rounding down
  return packSigned(s, t, sc, fmt);
}
function mulNum(x: number, y: number, fmt: number): number {
  const neg = (x < 0 || Object.is(x, -0)) !== (y < 0 || Object.is(y, -0));
  const xi = x === Infinity || x === -Infinity, yi = y === Infinity || y === -Infinity;
  if (xi || yi) {
    if (x === 0 || y === 0) { fpc.pre |= IE; return defaultNaN(fmt); }
    return inf(neg, fmt);
  }
  if (x === 0 || y === 0) return zero(neg, fmt);
  const mx = frexp1(x), kx = fexp, my = frexp1(y), ky = fexp;
  const p = twoProd(mx, my);
  return pack(neg, p, kx + ky, tpErr === 0 ? 0 : tpErr > 0 ? 1 : -1, fmt);
}
function divNum(x: number, y: number, fmt: number): number {
  const neg = (x < 0 || Object.is(x, -0)) !== (y < 0 || Object.is(y, -0));
  const xi = x === Infinity || x === -Infinity, yi = y === Infinity || y === -Infinity;
  if (xi) { if (yi) { fpc.pre |= IE; return defaultNaN(fmt); } return inf(neg, fmt); }
  if (yi) return zero(neg, fmt);
  if (y === 0) {
    if (x === 0) { fpc.pre |= IE; return defaultNaN(fmt); }
    fpc.pre |= ZE; return inf(neg, fmt);
  }
  if (x === 0) return zero(neg, fmt);
  const mx = frexp1(x), kx = fexp, my = frexp1(y), ky = fexp;
  const q = mx / my;
  const p = twoProd(q, my);
  const r = (mx - p) - tpErr;
  return pack(neg, q, kx - ky, r === 0 ? 0 : r > 0 ? 1 : -1, fmt);
}
function sqrtNum(x: number, fmt: number): number {
  if (x === 0) return zero(Object.is(x, -0), fmt);
  if (x < 0) { fpc.pre |= IE; return defaultNaN(fmt); }
  if (x === Infinity) return inf(false, fmt);
  let m = frexp1(x), k = fexp;
  if (k & 1) { m *= 2; k -= 1; }
  const v = Math.sqrt(m);
  const p = twoProd(v, v);
  const r = (m - p) - tpErr;
  return pack(false, v, k / 2, r === 0 ? 0 : r > 0 ? 1 : -1, fmt);
}
export function defaultNaN(fmt: number): number {
  if (fmt === F32) { out.lo = DEFAULT_NAN32; return out.lo; }
  out.hi = DEFAULT_NAN64_HI; out.lo = 0; return 0;
}

function arithNum(op: number, x: number, y: number, fmt: number): number {
  switch (op) {
    case OP_ADD: return addNum(x, y, fmt);
    case OP_SUB: return addNum(x, -y, fmt);
    case OP_MUL: return mulNum(x, y, fmt);
    default: return divNum(x, y, fmt);
  }
}

/*
 * One element's pre-computation conditions: an invalid operation or a division by zero hides a
 * denormal operand (no DE for that element: what this Intel host does, e.g. denormal/0 → ZE only,
 * sqrt(negative denormal) → IE only). `elemStart` saves the flags of the earlier elements.
 */
let savedPre = 0;
function elemStart(): void { savedPre = fpc.pre; fpc.pre = 0; }
function elemEnd(): void {
  if (fpc.pre & (IE | ZE)) fpc.pre &= ~DE;
  fpc.pre |= savedPre;
}

/** ADD/SUB/MUL/DIV on binary32 bits (NaN rule: the first source if it is a NaN, else the second; quieted). */
export function arith32(op: number, a: number, b: number): number {
  const na = isNaN32(a), nb = isNaN32(b);
  if (na || nb) {
    if ((na && !(a & 0x400000)) || (nb && !(b & 0x400000))) fpc.pre |= IE;
    return (na ? a : b) | 0x400000;
  }
  elemStart();
  const r = arithNum(op, in32(a), in32(b), F32);
  elemEnd();
  return r;
}
/** ADD/SUB/MUL/DIV on binary64 (lo, hi) halves; result in `out`. */
export function arith64(op: number, alo: number, ahi: number, blo: number, bhi: number): void {
  const na = isNaN64(alo, ahi), nb = isNaN64(blo, bhi);
  if (na || nb) {
    if ((na && !(ahi & 0x80000)) || (nb && !(bhi & 0x80000))) fpc.pre |= IE;
    if (na) { out.lo = alo; out.hi = ahi | 0x80000; } else { out.lo = blo; out.hi = bhi | 0x80000; }
    return;
  }
  elemStart();
  arithNum(op, in64(alo, ahi), in64(blo, bhi), F64);
  elemEnd();
}
export function sqrt32(b: number): number {
  if (isNaN32(b)) { if (!(b & 0x400000)) fpc.pre |= IE; return b | 0x400000; }
  elemStart();
  const r = sqrtNum(in32(b), F32);
  elemEnd();
  return r;
}
export function sqrt64(lo: number, hi: number): void {
  if (isNaN64(lo, hi)) { if (!(hi & 0x80000)) fpc.pre |= IE; out.lo = lo; out.hi = hi | 0x80000; return; }
  elemStart();
  sqrtNum(in64(lo, hi), F64);
  elemEnd();
}

/**
 * MIN/MAX (SDM MINPS/MAXPS): the second operand is returned when either is a NaN (IE for any
 * NaN, quiet or signaling; the NaN is not quieted) or when both are zeros of any sign. An operand
 * flushed by DAZ is returned as the zero it became (as this Intel host does).
 */
export function minmax32(max: boolean, a: number, b: number): number {
  let r = b;
  if (isNaN32(a) || isNaN32(b)) fpc.pre |= IE;
  else if (max ? in32(a) > in32(b) : in32(a) < in32(b)) r = a;
  return fpc.daz && isDen32(r) ? r & 0x80000000 : r;
}
/** binary64 MIN/MAX; result in `out`. */
export function minmax64(max: boolean, alo: number, ahi: number, blo: number, bhi: number): void {
  let lo = blo, hi = bhi;
  if (isNaN64(alo, ahi) || isNaN64(blo, bhi)) fpc.pre |= IE;
  else if (max ? in64(alo, ahi) > in64(blo, bhi) : in64(alo, ahi) < in64(blo, bhi)) { lo = alo; hi = ahi; }
  if (fpc.daz && isDen64(lo, hi)) { lo = 0; hi &= 0x80000000; }
  out.lo = lo; out.hi = hi;
}

/**
 * CMPPS/CMPPD/CMPSS/CMPSD predicates 0–7 (EQ LT LE UNORD NEQ NLT NLE ORD). The signaling
 * predicates (LT LE NLT NLE) raise IE for a QNaN too; the quiet ones only for an SNaN.
 */
function cmpNum(pred: number, x: number, y: number, unord: boolean): boolean {
  switch (pred & 7) {
    case 0: return !unord && x === y;
    case 1: return !unord && x < y;
    case 2: return !unord && x <= y;
    case 3: return unord;
    case 4: return unord || x !== y;
    case 5: return unord || !(x < y);
    case 6: return unord || !(x <= y);
    default: return !unord;
  }
}
const SIGNALING = 0x66; // predicates 1, 2, 5, 6
export function cmp32(pred: number, a: number, b: number): boolean {
  const na = isNaN32(a), nb = isNaN32(b);
  if (na || nb) {
    if ((SIGNALING >> (pred & 7)) & 1 || (na && !(a & 0x400000)) || (nb && !(b & 0x400000))) fpc.pre |= IE;
    return cmpNum(pred, 0, 0, true);
  }
  return cmpNum(pred, in32(a), in32(b), false);
}
export function cmp64(pred: number, alo: number, ahi: number, blo: number, bhi: number): boolean {
  const na = isNaN64(alo, ahi), nb = isNaN64(blo, bhi);
  if (na || nb) {
    if ((SIGNALING >> (pred & 7)) & 1 || (na && !(ahi & 0x80000)) || (nb && !(bhi & 0x80000))) fpc.pre |= IE;
    return cmpNum(pred, 0, 0, true);
  }
  return cmpNum(pred, in64(alo, ahi), in64(blo, bhi), false);
}
/** COMISS/COMISD and UCOMISS/UCOMISD: -1 less, 0 equal, 1 greater, 2 unordered. COMIS signals IE for any NaN, UCOMIS only for an SNaN. */
export function compare32(signalQ: boolean, a: number, b: number): number {
  const na = isNaN32(a), nb = isNaN32(b);
  if (na || nb) {
    if (signalQ || (na && !(a & 0x400000)) || (nb && !(b & 0x400000))) fpc.pre |= IE;
    return 2;
  }
  const x = in32(a), y = in32(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
export function compare64(signalQ: boolean, alo: number, ahi: number, blo: number, bhi: number): number {
  const na = isNaN64(alo, ahi), nb = isNaN64(blo, bhi);
  if (na || nb) {
    if (signalQ || (na && !(ahi & 0x80000)) || (nb && !(bhi & 0x80000))) fpc.pre |= IE;
    return 2;
  }
  const x = in64(alo, ahi), y = in64(blo, bhi);
  return x < y ? -1 : x > y ? 1 : 0;
}

// ---------------------------------------------------------------------- conversions
/** CVTSS2SD: exact; a NaN is quieted (IE for an SNaN), its payload widened. */
export function cvt32to64(a: number): void {
  if (isNaN32(a)) {
    if (!(a & 0x400000)) fpc.pre |= IE;
    const fr = a & 0x7fffff | 0x400000;
    out.hi = (a & 0x80000000) | 0x7ff00000 | (fr >>> 3);
    out.lo = (fr & 7) << 29;
    return;
  }
  setOut64(in32(a));
}
/** CVTSD2SS: rounded under MXCSR.RC; a NaN is quieted and its payload truncated. */
export function cvt64to32(lo: number, hi: number): number {
  if (isNaN64(lo, hi)) {
    if (!(hi & 0x80000)) fpc.pre |= IE;
    return (hi & 0x80000000) | 0x7fc00000 | ((hi & 0x7ffff) << 3) | (lo >>> 29);
  }
  const x = in64(lo, hi);
  if (x === 0) return zero(hi < 0, F32);
  if (x === Infinity || x === -Infinity) return inf(x < 0, F32);
  return pack(x < 0, Math.abs(x), 0, 0, F32);
}
/** CVTSI2SS / CVTDQ2PS (int32) */
export function cvtI32to32(n: number): number {
  if (n === 0) return 0;
  return pack(n < 0, Math.abs(n), 0, 0, F32);
}
let i64hi = 0;
/** |signed 64-bit (lo, hi)| as a double rounded to nearest; sets i64hi to the sign of the remainder. */
function absI64(lo: number, hi: number): number {
  let ulo = lo >>> 0, uhi = hi >>> 0;
  if (hi < 0) { ulo = (4294967296 - ulo) % 4294967296; uhi = (~uhi + (ulo === 0 ? 1 : 0)) >>> 0; }
  const a = uhi * 4294967296, s = a + ulo;
  const bb = s - a, t = (a - (s - bb)) + (ulo - bb);
  i64hi = t === 0 ? 0 : t > 0 ? 1 : -1;
  return s;
}
/** CVTSI2SS r/m64 */
export function cvtI64to32(lo: number, hi: number): number {
  if ((lo | hi) === 0) return 0;
  const v = absI64(lo, hi);
  return pack(hi < 0, v, 0, i64hi, F32);
}
/** CVTSI2SD r/m64 (rounded); r/m32 and CVTDQ2PD are exact: use setOut64. */
export function cvtI64to64(lo: number, hi: number): void {
  if ((lo | hi) === 0) { out.lo = 0; out.hi = 0; return; }
  const v = absI64(lo, hi);
  pack(hi < 0, v, 0, i64hi, F64);
}

/** Round a finite double to an integral double under mode (RN ties-to-even, RD, RU, RZ), keeping the sign of zero. */
export function roundIntegral(x: number, mode: number): number {
  if (!(Math.abs(x) < 4503599627370496)) return x;
  let r: number;
  switch (mode) {
    case RN: {
      const f = Math.floor(x), d = x - f;
      r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
      break;
    }
    case RD: r = Math.floor(x); break;
    case RU: r = Math.ceil(x); break;
    default: r = Math.trunc(x); break;
  }
  if (r === 0) r = x < 0 || Object.is(x, -0) ? -0 : 0;
  return r;
}
const TWO31 = 2147483648, TWO63 = 9223372036854775808;
/**
 * Conversion to a signed integer of `size` 4 or 8 (CVTSS2SI, CVTTSD2SI, CVTPS2DQ ...): rounding
 * under MXCSR.RC, or truncation; NaN or out of range gives the integer indefinite 0x80000000
 * (0x8000000000000000) with IE; an inexact result sets PE. Low half returned, high in out.hi.
 */
function toInt(x: number, nan: boolean, size: number, trunc: boolean): number {
  if (!nan) {
    const r = roundIntegral(x, trunc ? RZ : fpc.rc);
    if (size === 4 ? r >= -TWO31 && r < TWO31 : r >= -TWO63 && r < TWO63) {
      if (r !== x) fpc.post |= PE;
      if (size === 4) { out.hi = 0; return r | 0; }
      const h = Math.floor(r / 4294967296);
      out.hi = h | 0;
      return (r - h * 4294967296) | 0;
    }
  }
  fpc.pre |= IE;
  out.hi = size === 8 ? 0x80000000 | 0 : 0;
  return size === 8 ? 0 : 0x80000000 | 0;
}
export function cvt32toInt(a: number, size: number, trunc: boolean): number {
  const nan = isNaN32(a);
  return toInt(nan ? 0 : in32(a, false), nan, size, trunc);
}
export function cvt64toInt(lo: number, hi: number, size: number, trunc: boolean): number {
  const nan = isNaN64(lo, hi);
  return toInt(nan ? 0 : in64(lo, hi, false), nan, size, trunc);
}

/**
 * ROUNDSS/ROUNDPS element (SDM ROUNDPS): imm8 bit 2 selects MXCSR.RC, else bits 1:0 are the
 * mode; bit 3 suppresses the precision exception. An SNaN is quieted with IE; no DE.
 */
export function round32(a: number, imm: number): number {
  if (isNaN32(a)) { if (!(a & 0x400000)) fpc.pre |= IE; return a | 0x400000; }
  const x = in32(a, false);
  const r = roundIntegral(x, imm & 4 ? fpc.rc : imm & 3);
  if (r !== x && !(imm & 8)) fpc.post |= PE;
  return bits32(r);
}
export function round64(lo: number, hi: number, imm: number): void {
  if (isNaN64(lo, hi)) { if (!(hi & 0x80000)) fpc.pre |= IE; out.lo = lo; out.hi = hi | 0x80000; return; }
  const x = in64(lo, hi, false);
  const r = roundIntegral(x, imm & 4 ? fpc.rc : imm & 3);
  if (r !== x && !(imm & 8)) fpc.post |= PE;
  setOut64(r);
}
