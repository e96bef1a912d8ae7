import {
  Ext, classify, normalize, nH, nL, nU, packExt, packTiny, extToInt, bitsLo, roundIntegral,
  X_ZERO, X_DENORMAL, X_INF, X_QNAN, X_SNAN, X_UNSUPPORTED, FE_IE, FE_DE, FE_ZE, RC_DOWN, RC_ZERO,
} from '../x87-convert.js';

/**
 * Extended-precision arithmetic on exact 80-bit values, as the x87 does it (SDM Vol. 1, chapter 4
 * "Floating-Point Exception Conditions" and chapter 8): FADD/FSUB/FMUL/FDIV/FSQRT with precision
 * control (24/53/64 bits) and rounding control, FPREM/FPREM1, FRNDINT, FSCALE, comparisons.
 * Significands are handled as 32-bit words (no BigInt): the results are bit-exact, including NaN
 * propagation, the real indefinite, denormal operands (#D), tiny and overflowing results.
 *
 * Each operation writes its result to `out` and returns status bits (IE DE ZE OE UE PE, C1 =
 * rounded up). The caller decides by the masks whether the result is delivered.
 */

export const OP_ADD = 0, OP_MUL = 1, OP_SUB = 4, OP_SUBR = 5, OP_DIV = 6, OP_DIVR = 7;

/** Pre-rounding result of the last finish() — for the unmasked #O/#U response (exponent re-biased by ∓24576). */
let pNeg = false, pHi = 0, pLo = 0, pTail = 0, pU = 0, pP = 64, pRc = 0;
/** True when the last operation's result was tiny (for an unmasked #U, which is signalled even when exact). */
export let lastTiny = false;

function finish(neg: boolean, hi: number, lo: number, tail: number, u: number, p: number, rc: number, out: Ext): number {
  pNeg = neg; pHi = hi; pLo = lo; pTail = tail; pU = u; pP = p; pRc = rc;
  const f = packExt(neg, hi, lo, tail, u, p, rc, out);
  lastTiny = packTiny;
  return f;
}
/**
 * Unmasked overflow/underflow with a register destination: the result is delivered with its
 * exponent adjusted by −24576 (overflow) or +24576 (underflow) (SDM Vol. 1, "Numeric Overflow
 * Exception (#O)", "Numeric Underflow Exception (#U)").
 */
export function rebias(delta: number, out: Ext): number {
  return packExt(pNeg, pHi, pLo, pTail, pU + delta, pP, pRc, out);
}

export function setIndefinite(out: Ext): number { out.set(0xffff, 0xc0000000, 0); return FE_IE; }
const isNaNc = (c: number) => c === X_QNAN || c === X_SNAN;

/**
 * NaN operands (SDM Vol. 1, Table 4-7 "Rules for Generating QNaNs", x87 column): an SNaN is
 * signalled (#IA) and quieted; between a QNaN and an SNaN the QNaN wins; between two NaNs of the
 * same kind the larger significand wins.
 */
export function propagateNaN(a: Ext, ca: number, b: Ext | null, cb: number, out: Ext): number {
  let flags = ca === X_SNAN || cb === X_SNAN ? FE_IE : 0;
  let pick = a;
  const aN = isNaNc(ca), bN = b !== null && isNaNc(cb);
  if (aN && bN && b) {
    if (ca === X_QNAN && cb === X_SNAN) pick = a;
    else if (ca === X_SNAN && cb === X_QNAN) pick = b;
    else {
      const ah = a.hi & 0x7fffffff, bh = b.hi & 0x7fffffff;
      pick = bh > ah || (bh === ah && b.lo > a.lo) ? b : a;
      // equal significands: this Intel host keeps the positive one
      if (bh === ah && b.lo === a.lo && (a.se & 0x8000) && !(b.se & 0x8000)) pick = b;
    }
  } else if (!aN) pick = b as Ext;
  out.set(pick.se, pick.hi | 0x40000000, pick.lo);
  return flags;
}

/** dest ← dest op src (OP_SUBR: src − dest, OP_DIVR: src / dest), as FADD…FDIVR. */
export function arith(op: number, dst: Ext, src: Ext, pc: number, rc: number, out: Ext): number {
  switch (op) {
    case OP_ADD: return add(dst, src, false, pc, rc, out);
    case OP_SUB: return add(dst, src, true, pc, rc, out);
    case OP_SUBR: return add(src, dst, true, pc, rc, out);
    case OP_MUL: return mul(dst, src, pc, rc, out);
    case OP_DIV: return div(dst, src, pc, rc, out);
    default: return div(src, dst, pc, rc, out);
  }
}

/** Precision control (CW bits 9:8) → significand bits; 01 is reserved (treated as 64 here, as for 11). */
export function precisionBits(cw: number): number {
  const pc = (cw >> 8) & 3;
  return pc === 0 ? 24 : pc === 2 ? 53 : 64;
}

// ------------------------------------------------------------------ add / subtract
export function add(a: Ext, b: Ext, negB: boolean, p: number, rc: number, out: Ext): number {
  lastTiny = false;
  const ca = classify(a.se, a.hi, a.lo), cb = classify(b.se, b.hi, b.lo);
  if (ca === X_UNSUPPORTED || cb === X_UNSUPPORTED) return setIndefinite(out);
  if (isNaNc(ca) || isNaNc(cb)) return propagateNaN(a, ca, b, cb, out);
  const sa = (a.se & 0x8000) !== 0, sb = ((b.se & 0x8000) !== 0) !== negB;
  const de = ca === X_DENORMAL || cb === X_DENORMAL ? FE_DE : 0;
  if (ca === X_INF || cb === X_INF) {
    if (ca === X_INF && cb === X_INF && sa !== sb) return setIndefinite(out);   // ∞ − ∞
    const neg = ca === X_INF ? sa : sb;
    out.set((neg ? 0x8000 : 0) | 0x7fff, 0x80000000, 0);
    return de;
  }
  if (ca === X_ZERO && cb === X_ZERO) {
    // exact zero sum: +0 unless both are −0, or −0 when rounding down (IEEE 754 §6.3)
    const neg = sa === sb ? sa : rc === RC_DOWN;
    out.set(neg ? 0x8000 : 0, 0, 0);
    return de;
  }
  if (cb === X_ZERO) { normalize(a.se, a.hi, a.lo); return de | finish(sa, nH, nL, 0, nU, p, rc, out); }
  if (ca === X_ZERO) { normalize(b.se, b.hi, b.lo); return de | finish(sb, nH, nL, 0, nU, p, rc, out); }
  normalize(a.se, a.hi, a.lo);
  let xh = nH, xl = nL, ux = nU, sx = sa;
  normalize(b.se, b.hi, b.lo);
  let yh = nH, yl = nL, uy = nU, sy = sb;
  if (ux < uy || (ux === uy && (xh < yh || (xh === yh && xl < yl)))) {
    let t: number | boolean = xh; xh = yh; yh = t as number; t = xl; xl = yl; yl = t as number;
    t = ux; ux = uy; uy = t as number; t = sx; sx = sy; sy = t as boolean;
  }
  // y >> d into three words s2:s1:s0 plus a sticky bit
  const d = ux - uy;
  let s2 = 0, s1 = 0, s0 = 0, sticky = false;
  if (d === 0) { s2 = yh; s1 = yl; }
  else if (d < 32) { s2 = yh >>> d; s1 = ((yh << (32 - d)) | (yl >>> d)) >>> 0; s0 = (yl << (32 - d)) >>> 0; }
  else if (d === 32) { s1 = yh; s0 = yl; }
  else if (d < 64) { const t = d - 32; s1 = yh >>> t; s0 = ((yh << (32 - t)) | (yl >>> t)) >>> 0; sticky = ((yl << (32 - t)) >>> 0) !== 0; }
  else if (d === 64) { s0 = yh; sticky = yl !== 0; }
  else if (d < 96) { const t = d - 64; s0 = yh >>> t; sticky = ((yh << (32 - t)) >>> 0) !== 0 || yl !== 0; }
  else sticky = true;
  let r2: number, r1: number, r0: number, u = ux;
  if (sx === sy) {
    let t = s0; r0 = t >>> 0;
    t = xl + s1; r1 = t >>> 0; let c = t > 0xffffffff ? 1 : 0;
    t = xh + s2 + c; r2 = t >>> 0; c = t > 0xffffffff ? 1 : 0;
    if (c) {
      if (r0 & 1) sticky = true;
      r0 = ((r0 >>> 1) | (r1 << 31)) >>> 0; r1 = ((r1 >>> 1) | (r2 << 31)) >>> 0; r2 = ((r2 >>> 1) | 0x80000000) >>> 0;
      u++;
    }
  } else {
    let t = 0 - s0 - (sticky ? 1 : 0); r0 = t >>> 0; let b = t < 0 ? 1 : 0;
    t = xl - s1 - b; r1 = t >>> 0; b = t < 0 ? 1 : 0;
    t = xh - s2 - b; r2 = t >>> 0;
    if ((r2 | r1 | r0) === 0 && !sticky) {
      out.set(rc === RC_DOWN ? 0x8000 : 0, 0, 0);   // x − x = +0 (−0 when rounding down)
      return de;
    }
    const n = r2 !== 0 ? Math.clz32(r2) : r1 !== 0 ? 32 + Math.clz32(r1) : 64 + Math.clz32(r0);
    if (n > 0) {
      if (n >= 64) { r2 = (r0 << (n - 64)) >>> 0; r1 = 0; r0 = 0; }
      else if (n >= 32) { const k = n - 32; r2 = k ? ((r1 << k) | (r0 >>> (32 - k))) >>> 0 : r1; r1 = (r0 << k) >>> 0; r0 = 0; }
      else { r2 = ((r2 << n) | (r1 >>> (32 - n))) >>> 0; r1 = ((r1 << n) | (r0 >>> (32 - n))) >>> 0; r0 = (r0 << n) >>> 0; }
      u -= n;
    }
  }
  return de | finish(sx, r2, r1, tailOf(r0, sticky), u, p, rc, out);
}

/** Class of a guard word plus sticky: 0 exact, 1 below half, 2 half, 3 above. */
function tailOf(g: number, sticky: boolean): number {
  if (g === 0) return sticky ? 1 : 0;
  if (g < 0x80000000) return 1;
  if (g === 0x80000000) return sticky ? 3 : 2;
  return 3;
}

// ------------------------------------------------------------------ multiply
export function mul(a: Ext, b: Ext, p: number, rc: number, out: Ext): number {
  lastTiny = false;
  const ca = classify(a.se, a.hi, a.lo), cb = classify(b.se, b.hi, b.lo);
  if (ca === X_UNSUPPORTED || cb === X_UNSUPPORTED) return setIndefinite(out);
  if (isNaNc(ca) || isNaNc(cb)) return propagateNaN(a, ca, b, cb, out);
  const neg = ((a.se ^ b.se) & 0x8000) !== 0;
  const de = ca === X_DENORMAL || cb === X_DENORMAL ? FE_DE : 0;
  if (ca === X_INF || cb === X_INF) {
    if (ca === X_ZERO || cb === X_ZERO) return setIndefinite(out);          // 0 × ∞
    out.set((neg ? 0x8000 : 0) | 0x7fff, 0x80000000, 0);
    return de;
  }
  if (ca === X_ZERO || cb === X_ZERO) { out.set(neg ? 0x8000 : 0, 0, 0); return de; }
  normalize(a.se, a.hi, a.lo);
  const ah = nH, al = nL, ua = nU;
  normalize(b.se, b.hi, b.lo);
  const bh = nH, bl = nL, ub = nU;
  // 64 × 64 → 128 bits from 16-bit limbs; every partial sum stays below 2^53, so the arithmetic is exact
  const A0 = al & 0xffff, A1 = al >>> 16, A2 = ah & 0xffff, A3 = ah >>> 16;
  const B0 = bl & 0xffff, B1 = bl >>> 16, B2 = bh & 0xffff, B3 = bh >>> 16;
  const p1 = A0 * B1 + A1 * B0, p3 = A0 * B3 + A1 * B2 + A2 * B1 + A3 * B0, p5 = A2 * B3 + A3 * B2;
  const p1h = Math.floor(p1 / 65536), p3h = Math.floor(p3 / 65536), p5h = Math.floor(p5 / 65536);
  let t = A0 * B0 + (p1 - p1h * 65536) * 65536;
  let c = Math.floor(t / 4294967296);
  let w0 = t - c * 4294967296;
  t = A0 * B2 + A1 * B1 + A2 * B0 + (p3 - p3h * 65536) * 65536 + c + p1h;
  c = Math.floor(t / 4294967296);
  let w1 = t - c * 4294967296;
  t = A1 * B3 + A2 * B2 + A3 * B1 + (p5 - p5h * 65536) * 65536 + c + p3h;
  c = Math.floor(t / 4294967296);
  let w2 = t - c * 4294967296;
  let w3 = (A3 * B3 + c + p5h) >>> 0;
  w0 >>>= 0; w1 >>>= 0; w2 >>>= 0;
  let u = ua + ub + 1;
  if (!(w3 & 0x80000000)) {
    w3 = ((w3 << 1) | (w2 >>> 31)) >>> 0; w2 = ((w2 << 1) | (w1 >>> 31)) >>> 0;
    w1 = ((w1 << 1) | (w0 >>> 31)) >>> 0; w0 = (w0 << 1) >>> 0;
    u--;
  }
  return de | finish(neg, w3, w2, tailOf(w1, w0 !== 0), u, p, rc, out);
}

// ------------------------------------------------------------------ divide
export function div(a: Ext, b: Ext, p: number, rc: number, out: Ext): number {
  lastTiny = false;
  const ca = classify(a.se, a.hi, a.lo), cb = classify(b.se, b.hi, b.lo);
  if (ca === X_UNSUPPORTED || cb === X_UNSUPPORTED) return setIndefinite(out);
  if (isNaNc(ca) || isNaNc(cb)) return propagateNaN(a, ca, b, cb, out);
  const neg = ((a.se ^ b.se) & 0x8000) !== 0;
  const de = ca === X_DENORMAL || cb === X_DENORMAL ? FE_DE : 0;
  if (ca === X_INF) {
    if (cb === X_INF) return setIndefinite(out);                              // ∞ / ∞
    out.set((neg ? 0x8000 : 0) | 0x7fff, 0x80000000, 0);
    return de;
  }
  if (cb === X_INF) { out.set(neg ? 0x8000 : 0, 0, 0); return de; }
  if (cb === X_ZERO) {
    if (ca === X_ZERO) return setIndefinite(out);                             // 0 / 0
    out.set((neg ? 0x8000 : 0) | 0x7fff, 0x80000000, 0);                       // x / 0: #Z, ∞ (no #D for a denormal x: as this Intel host)
    return FE_ZE;
  }
  if (ca === X_ZERO) { out.set(neg ? 0x8000 : 0, 0, 0); return de; }
  normalize(a.se, a.hi, a.lo);
  let rh = nH, rl = nL, rc2 = 0;
  const ua = nU;
  normalize(b.se, b.hi, b.lo);
  const dh = nH, dl = nL, ub = nU;
  // restoring division: 67 quotient bits (the leading one, 63 more, guard, two extra) and a sticky remainder
  let q2 = 0, q1 = 0, q0 = 0;
  for (let i = 0; i < 67; i++) {
    let bit = 0;
    if (rc2 || rh > dh || (rh === dh && rl >= dl)) {
      let t = rl - dl; rl = t >>> 0; let br = t < 0 ? 1 : 0;
      t = rh - dh - br; rh = t >>> 0; br = t < 0 ? 1 : 0;
      rc2 -= br;
      bit = 1;
    }
    q2 = ((q2 << 1) | (q1 >>> 31)) >>> 0; q1 = ((q1 << 1) | (q0 >>> 31)) >>> 0; q0 = ((q0 << 1) | bit) >>> 0;
    rc2 = rh >>> 31; rh = ((rh << 1) | (rl >>> 31)) >>> 0; rl = (rl << 1) >>> 0;
  }
  const sticky = (rc2 | rh | rl) !== 0;
  let hi: number, lo: number, g: number, rest: boolean, u: number;
  if (q2 & 4) {        // quotient ≥ 1: bits 66..3 are the significand
    hi = ((q2 << 29) | (q1 >>> 3)) >>> 0; lo = ((q1 << 29) | (q0 >>> 3)) >>> 0;
    g = (q0 >>> 2) & 1; rest = (q0 & 3) !== 0 || sticky; u = ua - ub;
  } else {             // quotient < 1: bits 65..2
    hi = ((q2 << 30) | (q1 >>> 2)) >>> 0; lo = ((q1 << 30) | (q0 >>> 2)) >>> 0;
    g = (q0 >>> 1) & 1; rest = (q0 & 1) !== 0 || sticky; u = ua - ub - 1;
  }
  return de | finish(neg, hi, lo, g ? (rest ? 3 : 2) : (rest ? 1 : 0), u, p, rc, out);
}

// ------------------------------------------------------------------ square root
export function sqrt(a: Ext, p: number, rc: number, out: Ext): number {
  lastTiny = false;
  const ca = classify(a.se, a.hi, a.lo);
  if (ca === X_UNSUPPORTED) return setIndefinite(out);
  if (isNaNc(ca)) return propagateNaN(a, ca, null, 0, out);
  if (ca === X_ZERO) { out.copy(a); return 0; }                               // √±0 = ±0
  if (a.se & 0x8000) return setIndefinite(out);                               // √(negative), √−∞
  if (ca === X_INF) { out.copy(a); return 0; }
  const de = ca === X_DENORMAL ? FE_DE : 0;
  normalize(a.se, a.hi, a.lo);
  const mh = nH, ml = nL, u = nU;
  // X = M · 2^s with u − 63 − s even; the integer root of X has 65 bits (bit 64 set)
  const s = (u & 1) !== 0 ? 66 : 65;
  let r2 = 0, r1 = 0, r0 = 0, m2 = 0, m1 = 0, m0 = 0;
  for (let k = 64; k >= 0; k--) {
    const pair = (bitM(mh, ml, 2 * k + 1 - s) << 1) | bitM(mh, ml, 2 * k - s);
    m2 = ((m2 << 2) | (m1 >>> 30)) >>> 0; m1 = ((m1 << 2) | (m0 >>> 30)) >>> 0; m0 = ((m0 << 2) | pair) >>> 0;
    const t2 = ((r2 << 2) | (r1 >>> 30)) >>> 0, t1 = ((r1 << 2) | (r0 >>> 30)) >>> 0, t0 = ((r0 << 2) | 1) >>> 0;
    r2 = ((r2 << 1) | (r1 >>> 31)) >>> 0; r1 = ((r1 << 1) | (r0 >>> 31)) >>> 0; r0 = (r0 << 1) >>> 0;
    if (m2 > t2 || (m2 === t2 && (m1 > t1 || (m1 === t1 && m0 >= t0)))) {
      let t = m0 - t0; m0 = t >>> 0; let br = t < 0 ? 1 : 0;
      t = m1 - t1 - br; m1 = t >>> 0; br = t < 0 ? 1 : 0;
      m2 = (m2 - t2 - br) >>> 0;
      r0 = (r0 | 1) >>> 0;
    }
  }
  const sticky = (m2 | m1 | m0) !== 0;
  const hi = ((r2 << 31) | (r1 >>> 1)) >>> 0, lo = ((r1 << 31) | (r0 >>> 1)) >>> 0, g = r0 & 1;
  return de | finish(false, hi, lo, g ? (sticky ? 3 : 2) : (sticky ? 1 : 0), 64 + (u - 63 - s) / 2, p, rc, out);
}
function bitM(h: number, l: number, j: number): number {
  if (j < 0 || j > 63) return 0;
  return j >= 32 ? (h >>> (j - 32)) & 1 : (l >>> j) & 1;
}

// ------------------------------------------------------------------ compare
export const CMP_LT = -1, CMP_EQ = 0, CMP_GT = 1, CMP_UNORD = 2;
/** Exact comparison (+0 = −0); NaNs and unsupported encodings are unordered. */
export function compare(a: Ext, b: Ext): number {
  const ca = classify(a.se, a.hi, a.lo), cb = classify(b.se, b.hi, b.lo);
  if (ca >= X_QNAN || cb >= X_QNAN) return CMP_UNORD;
  if (ca === X_ZERO && cb === X_ZERO) return CMP_EQ;
  const sa = (a.se & 0x8000) !== 0, sb = (b.se & 0x8000) !== 0;
  if (sa !== sb) return sa ? CMP_LT : CMP_GT;
  const m = magnitude(a, ca, b, cb);
  return sa ? -m : m;
}
function magnitude(a: Ext, ca: number, b: Ext, cb: number): number {
  if (ca === X_ZERO) return CMP_LT;
  if (cb === X_ZERO) return CMP_GT;
  if (ca === X_INF) return cb === X_INF ? CMP_EQ : CMP_GT;
  if (cb === X_INF) return CMP_LT;
  normalize(a.se, a.hi, a.lo);
  const ah = nH, al = nL, ua = nU;
  normalize(b.se, b.hi, b.lo);
  if (ua !== nU) return ua < nU ? CMP_LT : CMP_GT;
  if (ah !== nH) return ah < nH ? CMP_LT : CMP_GT;
  if (al !== nL) return al < nL ? CMP_LT : CMP_GT;
  return CMP_EQ;
}

// ------------------------------------------------------------------ FPREM / FPREM1
/** Quotient bits of the last complete remainder (Q2 Q1 Q0), and whether it was partial (C2). */
export let remQ = 0;
export let remPartial = false;
/**
 * FPREM (truncating quotient) / FPREM1 (IEEE: quotient rounded to nearest even) of a by b. When
 * the exponents differ by 64 or more the reduction is partial: by 2^(D−N) with N = 32 + (D mod 32),
 * which is what this Intel host does (the SDM: "N is an implementation-dependent number between
 * 32 and 63"); C2 = 1 then and the quotient bits are 0.
 */
export function remainder(a: Ext, b: Ext, ieee: boolean, out: Ext): number {
  lastTiny = false;
  remQ = 0; remPartial = false;
  const ca = classify(a.se, a.hi, a.lo), cb = classify(b.se, b.hi, b.lo);
  if (ca === X_UNSUPPORTED || cb === X_UNSUPPORTED) return setIndefinite(out);
  if (isNaNc(ca) || isNaNc(cb)) return propagateNaN(a, ca, b, cb, out);
  const de = ca === X_DENORMAL || cb === X_DENORMAL ? FE_DE : 0;
  if (ca === X_INF || cb === X_ZERO) return setIndefinite(out);                // ∞ rem x, x rem 0
  const neg = (a.se & 0x8000) !== 0;
  if (ca === X_ZERO) { out.copy(a); return de; }                               // 0 rem x = 0
  if (cb === X_INF) return de | canonical(a, neg, out);                        // x rem ∞ = x
  normalize(a.se, a.hi, a.lo);
  let rh = nH, rl = nL, rc2 = 0;
  const ua = nU;
  normalize(b.se, b.hi, b.lo);
  const dh = nH, dl = nL, ub = nU;
  let D = ua - ub;
  if (D < 0) {
    // |a| < |b|: quotient 0 (FPREM1: 1 when |a| > |b|/2)
    if (ieee && D === -1 && (rh > dh || (rh === dh && rl > dl))) {
      // r = a − b·sign: |b| − |a| with the opposite sign, exact
      return de | subMag(dh, dl, ub, rh, rl, !neg, out, 1);
    }
    return de | canonical(a, neg, out);
  }
  let ue = ub;            // exponent of the divisor's alignment
  let steps = D;
  if (D >= 64) { const N = 32 + (D & 31); ue = ub + (D - N); steps = N; remPartial = true; }
  // shift-subtract: R = a's significand aligned; after `steps`+1 steps R = (Ma·2^steps) mod Mb
  let q = 0;
  for (let i = 0; i <= steps; i++) {
    let bit = 0;
    if (rc2 || rh > dh || (rh === dh && rl >= dl)) {
      let t = rl - dl; rl = t >>> 0; let br = t < 0 ? 1 : 0;
      t = rh - dh - br; rh = t >>> 0; br = t < 0 ? 1 : 0;
      rc2 -= br; bit = 1;
    }
    q = ((q << 1) | bit) & 7;
    if (i < steps) { rc2 = rh >>> 31; rh = ((rh << 1) | (rl >>> 31)) >>> 0; rl = (rl << 1) >>> 0; }
  }
  // remainder = R · 2^(ue − 63), R < Mb
  let rneg = neg;
  if (ieee && !remPartial) {
    // round the quotient to nearest even: if R > Mb/2 (or = and q odd), R ← Mb − R, q + 1
    const r2h = ((rh << 1) | (rl >>> 31)) >>> 0, r2l = (rl << 1) >>> 0, r2c = rh >>> 31;
    const cmp = r2c ? 1 : r2h > dh ? 1 : r2h < dh ? -1 : r2l > dl ? 1 : r2l < dl ? -1 : 0;
    if (cmp > 0 || (cmp === 0 && (q & 1))) {
      let t = dl - rl; rl = t >>> 0; const br = t < 0 ? 1 : 0;
      t = dh - rh - br; rh = t >>> 0;
      q = (q + 1) & 7; rneg = !neg;
    }
  }
  remQ = remPartial ? 0 : q;
  if ((rh | rl) === 0) { out.set(neg ? 0x8000 : 0, 0, 0); return de; }       // exact zero keeps the dividend's sign
  const n = rh !== 0 ? Math.clz32(rh) : 32 + Math.clz32(rl);
  if (n >= 32) { rh = (rl << (n - 32)) >>> 0; rl = 0; } else if (n > 0) { rh = ((rh << n) | (rl >>> (32 - n))) >>> 0; rl = (rl << n) >>> 0; }
  return de | finish(rneg, rh, rl, 0, ue - n, 64, 0, out);
}
/** A finite nonzero operand passed through as the result: re-encoded (a pseudo-denormal gets exponent 1, as the hardware does). */
function canonical(a: Ext, neg: boolean, out: Ext): number {
  normalize(a.se, a.hi, a.lo);
  return finish(neg, nH, nL, 0, nU, 64, 0, out);
}
/** |b| − |a| for FPREM1 with exponents ub = ua + 1 (so the result is exact): sign `neg`, quotient 1. */
function subMag(bh: number, bl: number, ub: number, ah: number, al: number, neg: boolean, out: Ext, q: number): number {
  // align a to b's exponent (one bit right) in three words
  const a0 = (al << 31) >>> 0, a1 = ((ah << 31) | (al >>> 1)) >>> 0, a2 = ah >>> 1;
  let t = 0 - a0; let r0 = t >>> 0; let br = t < 0 ? 1 : 0;
  t = bl - a1 - br; let r1 = t >>> 0; br = t < 0 ? 1 : 0;
  t = bh - a2 - br; let r2 = t >>> 0;
  let u = ub;
  const n = r2 !== 0 ? Math.clz32(r2) : r1 !== 0 ? 32 + Math.clz32(r1) : 64 + Math.clz32(r0);
  if (n >= 64) { r2 = (r0 << (n - 64)) >>> 0; r1 = 0; r0 = 0; }
  else if (n >= 32) { const k = n - 32; r2 = k ? ((r1 << k) | (r0 >>> (32 - k))) >>> 0 : r1; r1 = (r0 << k) >>> 0; r0 = 0; }
  else if (n > 0) { r2 = ((r2 << n) | (r1 >>> (32 - n))) >>> 0; r1 = ((r1 << n) | (r0 >>> (32 - n))) >>> 0; r0 = (r0 << n) >>> 0; }
  u -= n;
  remQ = q;
  return finish(neg, r2, r1, tailOf(r0, false), u, 64, 0, out);
}

// ------------------------------------------------------------------ FRNDINT, FSCALE
export function roundInt(a: Ext, rc: number, out: Ext): number {
  lastTiny = false;
  const ca = classify(a.se, a.hi, a.lo);
  if (ca === X_UNSUPPORTED) return setIndefinite(out);
  if (isNaNc(ca)) return propagateNaN(a, ca, null, 0, out);
  if (ca === X_ZERO || ca === X_INF) { out.copy(a); return 0; }
  return (ca === X_DENORMAL ? FE_DE : 0) | roundIntegral(a.se, a.hi, a.lo, rc, out);
}

/** FSCALE: a · 2^trunc(b) (SDM Vol. 2, "FSCALE", Table "FSCALE Results"). Exact but for range. */
export function scale(a: Ext, b: Ext, rc: number, out: Ext): number {
  lastTiny = false;
  const ca = classify(a.se, a.hi, a.lo), cb = classify(b.se, b.hi, b.lo);
  if (ca === X_UNSUPPORTED || cb === X_UNSUPPORTED) return setIndefinite(out);
  if (isNaNc(ca) || isNaNc(cb)) return propagateNaN(a, ca, b, cb, out);
  const de = ca === X_DENORMAL || cb === X_DENORMAL ? FE_DE : 0;
  const bneg = (b.se & 0x8000) !== 0;
  if (cb === X_INF) {
    if (ca === X_ZERO && !bneg) return setIndefinite(out);                   // 0 · 2^+∞
    if (ca === X_INF && bneg) return setIndefinite(out);                     // ∞ · 2^−∞
    if (ca === X_ZERO || ca === X_INF) { out.copy(a); return de; }
    out.set((a.se & 0x8000) | (bneg ? 0 : 0x7fff), bneg ? 0 : 0x80000000, 0);
    return de;
  }
  if (ca === X_ZERO || ca === X_INF) { out.copy(a); return de; }
  let n: number;
  const f = extToInt(b.se, b.hi, b.lo, 4, RC_ZERO);
  if (f & FE_IE) n = bneg ? -100000 : 100000;                  // far beyond the exponent range either way
  else n = bitsLo;
  normalize(a.se, a.hi, a.lo);
  return de | finish((a.se & 0x8000) !== 0, nH, nL, 0, nU + n, 64, rc, out);
}
