/**
 * The x87 number formats (SDM Vol. 1, "Floating-Point Data Types"; "x87 FPU Data Types"):
 * binary64 ⇄ 80-bit double extended, the rounding of an exact 80-bit value to single / double /
 * extended precision under a rounding-control mode (FST m32/m64, arithmetic results, the binary64
 * value of a register), and the integer conversions of FILD / FIST.
 *
 * An 80-bit value is handled as three Numbers: `se` (bit 15 sign, bits 14:0 biased exponent) and
 * the 64-bit significand as unsigned 32-bit halves `hi`/`lo` (bit 63 = the explicit integer bit J).
 * No BigInt (these run on every x87 load and store) and no allocation: multi-value results go to
 * module scratch variables that the caller reads immediately.
 */

/** An unpacked 80-bit value. */
export class Ext {
  se = 0;
  hi = 0;
  lo = 0;
  set(se: number, hi: number, lo: number): this { this.se = se & 0xffff; this.hi = hi >>> 0; this.lo = lo >>> 0; return this; }
  copy(o: Ext): this { this.se = o.se; this.hi = o.hi; this.lo = o.lo; return this; }
}

// Bit casts (x86 hosts are little-endian: W[0] is the low word of a double).
const F64 = new Float64Array(1);
const W = new Uint32Array(F64.buffer);

/** Results of the conversions below (bitsLo/bitsHi: the low/high words of a binary64, or a binary32 in bitsLo, or an integer). */
export let bitsLo = 0;
export let bitsHi = 0;

export function bitsToDouble(lo: number, hi: number): number { W[0] = lo; W[1] = hi; return F64[0]; }
/** 2^n for -1022 <= n <= 1023, exactly. */
export function pow2(n: number): number { W[0] = 0; W[1] = (n + 1023) << 20; return F64[0]; }
// classes of 80-bit values
export const X_ZERO = 0, X_NORMAL = 1, X_DENORMAL = 2, X_INF = 3, X_QNAN = 4, X_SNAN = 5, X_UNSUPPORTED = 6;

/** Class of an 80-bit value (SDM Vol. 1, "Unsupported Double Extended-Precision Floating-Point Encodings and Pseudo-Denormals"). */
export function classify(se: number, hi: number, lo: number): number {
  const e = se & 0x7fff;
  if (e === 0) return (hi | lo) === 0 ? X_ZERO : X_DENORMAL;   // includes pseudo-denormals (J = 1)
  if (!(hi & 0x80000000)) return X_UNSUPPORTED;               // unnormal, pseudo-infinity, pseudo-NaN
  if (e === 0x7fff) {
    if ((hi & 0x7fffffff) === 0 && lo === 0) return X_INF;
    return hi & 0x40000000 ? X_QNAN : X_SNAN;
  }
  return X_NORMAL;
}

/** binary64 → 80-bit, exactly (every binary64 value is an 80-bit value; subnormals become normal). NaN payloads are kept. */
export function doubleToExt(v: number, out: Ext): Ext {
  F64[0] = v;
  return bitsToExt(W[0], W[1], out);
}
/** binary64 given as bits → 80-bit. */
export function bitsToExt(lo: number, hi: number, out: Ext): Ext {
  const sign = (hi >>> 16) & 0x8000;
  const e = (hi >>> 20) & 0x7ff;
  let mh = (((hi & 0xfffff) << 11) | (lo >>> 21)) >>> 0, ml = (lo << 11) >>> 0;
  if (e === 0x7ff) return out.set(sign | 0x7fff, mh | 0x80000000, ml);
  if (e === 0) {
    if ((mh | ml) === 0) return out.set(sign, 0, 0);
    const n = mh !== 0 ? Math.clz32(mh) : 32 + Math.clz32(ml);
    if (n >= 32) { mh = ml << (n - 32); ml = 0; } else { mh = (mh << n) | (ml >>> (32 - n)); ml = ml << n; }
    return out.set(sign | (15361 - n), mh, ml);
  }
  return out.set(sign | (e + 15360), mh | 0x80000000, ml);
}
/** binary32 bits → 80-bit, exactly. */
export function floatBitsToExt(b: number, out: Ext): Ext {
  const sign = (b >>> 16) & 0x8000;
  const e = (b >>> 23) & 0xff;
  let m = ((b & 0x7fffff) << 8) >>> 0;
  if (e === 0xff) return out.set(sign | 0x7fff, m | 0x80000000, 0);
  if (e === 0) {
    if (m === 0) return out.set(sign, 0, 0);
    const n = Math.clz32(m);
    m = m << n;
    return out.set(sign | (16383 - 126 - n), m, 0);
  }
  return out.set(sign | (e + 16383 - 127), m | 0x80000000, 0);
}

// ------------------------------------------------------------------ rounding of a 64-bit significand
/** 2^k for 0 <= k <= 64. */
const P2 = new Float64Array(65).map((_, k) => 2 ** k);
/** Outputs of shr64 (read by packFloat and the integer conversions): kept significand halves, class of the discarded bits (0 exact, 1 below half, 2 half, 3 above). */
let kH = 0, kL = 0, kCls = 0;

/**
 * Shift the 64-bit hi:lo right by s (0..∞), classifying the discarded part together with `tail`,
 * the class of bits below lo (0 none, 1 below half a unit of lo, 2 exactly half, 3 above).
 */
function shr64(hi: number, lo: number, s: number, tail: number): void {
  shr64raw(hi, lo, s, tail);
  if (s !== 0 && tail !== 0) { if (kCls === 0) kCls = 1; else if (kCls === 2) kCls = 3; }
}
function shr64raw(hi: number, lo: number, s: number, tail: number): void {
  if (s === 0) { kH = hi; kL = lo; kCls = tail; return; }
  if (s < 32) {
    kH = hi >>> s; kL = ((hi << (32 - s)) | (lo >>> s)) >>> 0;
    const rest = (lo & (0xffffffff >>> (32 - s))) >>> 0, half = P2[s - 1];
    kCls = rest === 0 ? 0 : rest < half ? 1 : rest === half ? 2 : 3;
    return;
  }
  if (s === 32) {
    kH = 0; kL = hi;
    kCls = lo === 0 ? 0 : lo < 0x80000000 ? 1 : lo === 0x80000000 ? 2 : 3;
    return;
  }
  if (s < 64) {
    const t = s - 32;
    kH = 0; kL = hi >>> t;
    const rh = (hi & (0xffffffff >>> (32 - t))) >>> 0, half = P2[t - 1];
    kCls = rh > half ? 3 : rh === half ? (lo === 0 ? 2 : 3) : (rh | lo) ? 1 : 0;
    return;
  }
  kH = 0; kL = 0;
  if (s === 64) kCls = hi > 0x80000000 ? 3 : hi === 0x80000000 ? (lo === 0 ? 2 : 3) : (hi | lo) ? 1 : 0;
  else kCls = (hi | lo) ? 1 : 0;
}

/** Rounding control (CW bits 11:10; MXCSR uses the same encoding). */
export const RC_NEAREST = 0, RC_DOWN = 1, RC_UP = 2, RC_ZERO = 3;

/** Should a value whose discarded bits have class `cls` be incremented in magnitude (rounding control rc)? */
function roundUp(cls: number, neg: boolean, odd: boolean, rc: number): boolean {
  if (cls === 0) return false;
  switch (rc) {
    case RC_NEAREST: return cls === 3 || (cls === 2 && odd);
    case RC_DOWN: return neg;
    case RC_UP: return !neg;
    default: return false;
  }
}

// status-word bits returned by the converters (the x87 status word positions)
export const FE_IE = 0x01, FE_DE = 0x02, FE_ZE = 0x04, FE_OE = 0x08, FE_UE = 0x10, FE_PE = 0x20, FE_C1 = 0x200;

/** 2^(p−1) and 2^p as (hi, lo) tests for a p-bit significand in hi:lo. */
function atLeastPow(h: number, l: number, k: number): boolean { return k >= 32 ? h >= P2[k - 32] : h !== 0 || l >= P2[k]; }

/**
 * Round the finite nonzero value (M + tail)·2^(u−63) (M = hi:lo with bit 63 set; tail = class of
 * the bits below M, as for shr64) to `p` significand bits
 * (24, 53 or 64), exponent range [emin, emax], rounding control rc — IEEE 754 with gradual
 * underflow. Leaves the p-bit significand in kH/kL (fewer bits for a subnormal) and
 * the biased exponent in `packE` (0 for a subnormal; emax+bias+1 with a zero significand for ∞).
 * Returns PE; C1 when rounded up in magnitude; UE when the result is tiny after rounding and
 * inexact (what this Intel host does for masked underflow: FST m32 of 2^-126·(1−2^-26) sets PE,
 * C1, not UE); OE (with PE) on overflow, returning ∞ or the largest finite value per rc
 * (SDM Vol. 1, "Numeric Overflow Exception (#O)", table of masked responses).
 */
export let packE = 0;
/** Set by packFloat: the result is tiny (below 2^emin after rounding), exact or not — the unmasked-#U condition. */
export let packTiny = false;
export function packFloat(neg: boolean, hi: number, lo: number, tail: number, u: number, p: number, emin: number, emax: number, rc: number, bias: number): number {
  let flags = 0;
  const tiny = u < emin;
  packTiny = false;
  shr64(hi, lo, 64 - p + (tiny ? emin - u : 0), tail);
  let h = kH, l = kL;
  const inexact = kCls !== 0;
  let wrapped = false;
  if (roundUp(kCls, neg, (l & 1) !== 0, rc)) {
    flags |= FE_C1;
    l = (l + 1) >>> 0;
    if (l === 0) { h = (h + 1) >>> 0; if (h === 0) wrapped = true; }
  }
  if (inexact) flags |= FE_PE;
  if (!tiny) {
    let e = u;
    if (wrapped || (p < 64 && atLeastPow(h, l, p))) {      // carried into bit p: 2^p → 2^(p−1), exponent + 1
      e++;
      if (p === 64) { h = 0x80000000; l = 0; } else if (p > 32) { h = 2 ** (p - 33); l = 0; } else { h = 0; l = 2 ** (p - 1); }
    }
    if (e > emax) {
      flags |= FE_OE | FE_PE;
      const toInf = rc === RC_NEAREST || (rc === RC_UP && !neg) || (rc === RC_DOWN && neg);
      if (toInf) { kH = 0; kL = 0; packE = emax + bias + 1; return flags | FE_C1; }
      flags &= ~FE_C1;
      if (p === 64) { kH = 0xffffffff; kL = 0xffffffff; } else if (p > 32) { kH = 2 ** (p - 32) - 1; kL = 0xffffffff; } else { kH = 0; kL = 2 ** p - 1; }
      packE = emax + bias;
      return flags;
    }
    kH = h; kL = l; packE = e + bias;
    return flags;
  }
  // gradual underflow: normal (the smallest) only if rounding carried into the integer bit
  const normal = p === 64 ? (h & 0x80000000) !== 0 : atLeastPow(h, l, p - 1);
  {
    // tiny after rounding: rounding to p bits with an unbounded exponent stays below 2^emin
    let stillTiny = true;
    if (u === emin - 1) {
      shr64(hi, lo, 64 - p, tail);
      let h2 = kH, l2 = kL, w2 = false;
      if (roundUp(kCls, neg, (l2 & 1) !== 0, rc)) { l2 = (l2 + 1) >>> 0; if (l2 === 0) { h2 = (h2 + 1) >>> 0; if (h2 === 0) w2 = true; } }
      if (w2 || (p < 64 && atLeastPow(h2, l2, p))) stillTiny = false;
    }
    packTiny = stillTiny;
    if (stillTiny && inexact) flags |= FE_UE;
  }
  kH = h; kL = l; packE = normal ? emin + bias : 0;
  return flags;
}

/** Normalised significand and unbiased exponent of a finite nonzero 80-bit value (outputs nH, nL, nU). */
export let nH = 0, nL = 0, nU = 0;
export function normalize(se: number, hi: number, lo: number): void {
  const e = se & 0x7fff;
  let u = (e === 0 ? 1 : e) - 16383;
  hi >>>= 0; lo >>>= 0;
  if (!(hi & 0x80000000)) {
    const n = hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
    if (n >= 32) { hi = (lo << (n - 32)) >>> 0; lo = 0; } else { hi = ((hi << n) | (lo >>> (32 - n))) >>> 0; lo = (lo << n) >>> 0; }
    u -= n;
  }
  nH = hi; nL = lo; nU = u;
}

/**
 * Round M·2^(u−63) (M = hi:lo normalised) to an 80-bit value with `p` significand bits
 * (precision control) and the extended exponent range; flags as packFloat. `out` receives it.
 */
export function packExt(neg: boolean, hi: number, lo: number, tail: number, u: number, p: number, rc: number, out: Ext): number {
  const flags = packFloat(neg, hi, lo, tail, u, p, -16382, 16383, rc, 16383);
  let h = kH, l = kL;
  if (p < 64) {          // left-align the p-bit significand
    const s = 64 - p;
    if (s >= 32) { h = (l << (s - 32)) >>> 0; l = 0; } else { h = ((h << s) | (l >>> (32 - s))) >>> 0; l = (l << s) >>> 0; }
  }
  if (packE === 32767) { h = 0x80000000; l = 0; }          // ∞
  out.set((neg ? 0x8000 : 0) | packE, h, l);
  return flags;
}

/**
 * Round an 80-bit value to binary64 or binary32 with rounding control rc (FST m32/m64). Returns the
 * flags (PE UE OE C1; IE for an SNaN — quieted — or an unsupported encoding — real indefinite) and
 * leaves the bits in bitsLo/bitsHi (binary64) or bitsLo (binary32).
 */
export function extToFloatBits(se: number, hi: number, lo: number, double: boolean, rc: number): number {
  const neg = (se & 0x8000) !== 0;
  const sign = neg ? 0x80000000 : 0;
  const cls = classify(se, hi, lo);
  switch (cls) {
    case X_ZERO:
      if (double) { bitsHi = sign >>> 0; bitsLo = 0; } else bitsLo = sign >>> 0;
      return 0;
    case X_INF:
      if (double) { bitsHi = (sign | 0x7ff00000) >>> 0; bitsLo = 0; } else bitsLo = (sign | 0x7f800000) >>> 0;
      return 0;
    case X_QNAN: case X_SNAN: case X_UNSUPPORTED: {
      let h = hi, l = lo, sg = sign;
      if (cls === X_UNSUPPORTED) { h = 0xc0000000; l = 0; sg = 0x80000000; }
      h |= 0x40000000;
      if (double) { bitsHi = (sg | 0x7ff00000 | ((h >>> 11) & 0xfffff)) >>> 0; bitsLo = ((h << 21) | (l >>> 11)) >>> 0; }
      else bitsLo = (sg | 0x7f800000 | ((h >>> 8) & 0x7fffff)) >>> 0;
      return cls === X_QNAN ? 0 : FE_IE;
    }
  }
  normalize(se, hi, lo);
  let flags: number;
  if (double) {
    flags = packFloat(neg, nH, nL, 0, nU, 53, -1022, 1023, rc, 1023);
    bitsHi = (sign | (packE << 20) | (kH & 0xfffff)) >>> 0; bitsLo = kL;
  } else {
    flags = packFloat(neg, nH, nL, 0, nU, 24, -126, 127, rc, 127);
    bitsLo = (sign | (packE << 23) | (kL & 0x7fffff)) >>> 0;
  }
  return flags;
}

/** 80-bit → binary64 rounded to nearest (the value vmxray computes with). NaNs and unsupported encodings give a NaN. */
export function extToDouble(se: number, hi: number, lo: number): number {
  const e = se & 0x7fff;
  if (e >= 16383 - 1022 && e <= 16383 + 1023 && (hi & 0x80000000)) {
    // normal in binary64's range: one rounding of the 64-bit significand to 53 bits, then exact scalings
    const m = (hi * 4294967296 + lo) * 1.0842021724855044e-19;   // · 2^-63: in [1, 2]
    const v = m * pow2(e - 16383);
    return se & 0x8000 ? -v : v;
  }
  extToFloatBits(se, hi, lo, true, RC_NEAREST);
  return bitsToDouble(bitsLo, bitsHi);
}

// ------------------------------------------------------------------ the byte images
const tmp = new Ext();
/** binary64 → the 10-byte extended image at out[off] (little-endian significand, then sign|exponent). Exact. */
export function toExtended(value: number, out: Uint8Array, off: number): void {
  doubleToExt(value, tmp);
  writeExt(tmp.se, tmp.hi, tmp.lo, out, off);
}
/** The 10-byte extended image at buf[off] → binary64 (round to nearest; beyond binary64's range → ±∞ / ±0). */
export function fromExtended(buf: Uint8Array, off: number): number {
  readExt(buf, off, tmp);
  return extToDouble(tmp.se, tmp.hi, tmp.lo);
}
export function writeExt(se: number, hi: number, lo: number, out: Uint8Array, off: number): void {
  out[off] = lo; out[off + 1] = lo >>> 8; out[off + 2] = lo >>> 16; out[off + 3] = lo >>> 24;
  out[off + 4] = hi; out[off + 5] = hi >>> 8; out[off + 6] = hi >>> 16; out[off + 7] = hi >>> 24;
  out[off + 8] = se; out[off + 9] = se >>> 8;
}
export function readExt(buf: Uint8Array, off: number, out: Ext): Ext {
  const lo = buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24);
  const hi = buf[off + 4] | (buf[off + 5] << 8) | (buf[off + 6] << 16) | (buf[off + 7] << 24);
  return out.set(buf[off + 8] | (buf[off + 9] << 8), hi, lo);
}

// ------------------------------------------------------------------ integers
/** Signed 64-bit integer (int32 halves) → 80-bit, exactly (FILD, FBLD). `negate` forces a negative sign on a magnitude. */
export function int64ToExt(lo: number, hi: number, out: Ext): Ext {
  let neg = 0;
  let h = hi >>> 0, l = lo >>> 0;
  if (hi < 0) { neg = 0x8000; l = (-l) >>> 0; h = (~h + (l === 0 ? 1 : 0)) >>> 0; }
  return magToExt(neg !== 0, h, l, out);
}
/** Unsigned 64-bit magnitude with a sign → 80-bit, exactly. */
export function magToExt(neg: boolean, h: number, l: number, out: Ext): Ext {
  h >>>= 0; l >>>= 0;
  if ((h | l) === 0) return out.set(neg ? 0x8000 : 0, 0, 0);
  const n = h !== 0 ? Math.clz32(h) : 32 + Math.clz32(l);
  if (n >= 32) { h = l << (n - 32); l = 0; } else if (n > 0) { h = (h << n) | (l >>> (32 - n)); l = l << n; }
  return out.set((neg ? 0x8000 : 0) | (16383 + 63 - n), h, l);
}

/**
 * 80-bit → signed integer of `bytes` (2, 4, 8) with rounding control rc (FIST/FISTP; FISTTP
 * passes RC_ZERO). Returns PE and C1 (rounded up in magnitude), or IE when the value is a NaN,
 * ∞, unsupported or out of range (the caller then stores the integer indefinite). The integer is
 * left in bitsLo/bitsHi (two's complement int32 halves).
 */
export function extToInt(se: number, hi: number, lo: number, bytes: number, rc: number): number {
  const cls = classify(se, hi, lo);
  const neg = (se & 0x8000) !== 0;
  if (cls === X_ZERO) { bitsLo = 0; bitsHi = 0; return 0; }
  if (cls >= X_INF) return FE_IE;
  normalize(se, hi, lo);
  if (nU > 63) return FE_IE;
  shr64(nH, nL, 63 - nU, 0);
  let h = kH, l = kL, flags = 0;
  if (kCls !== 0) flags |= FE_PE;
  if (roundUp(kCls, neg, (l & 1) !== 0, rc)) {
    flags |= FE_C1;
    l = (l + 1) >>> 0;
    if (l === 0) { h = (h + 1) >>> 0; if (h === 0) return FE_IE; }
  }
  // range: magnitude < 2^(8·bytes−1), or = when negative
  if (bytes === 8) {
    if (h > 0x80000000 || (h === 0x80000000 && (l !== 0 || !neg))) return FE_IE;
  } else {
    const lim = 2 ** (bytes * 8 - 1);
    if (h !== 0 || l > lim || (l === lim && !neg)) return FE_IE;
  }
  if (neg) { l = (-l) >>> 0; h = (~h + (l === 0 ? 1 : 0)) >>> 0; }
  bitsLo = l | 0; bitsHi = h | 0;
  return flags;
}

/**
 * FRNDINT: round a finite nonzero 80-bit value to an integral value with rounding control rc.
 * Returns PE and C1 (rounded up in magnitude); the result (exact, same sign) goes to `out`.
 */
export function roundIntegral(se: number, hi: number, lo: number, rc: number, out: Ext): number {
  const neg = (se & 0x8000) !== 0;
  normalize(se, hi, lo);
  if (nU >= 63) { out.set(se, hi, lo); return 0; }
  shr64(nH, nL, 63 - nU, 0);
  let h = kH, l = kL, flags = kCls !== 0 ? FE_PE : 0;
  if (roundUp(kCls, neg, (l & 1) !== 0, rc)) {
    flags |= FE_C1;
    l = (l + 1) >>> 0;
    if (l === 0) h = (h + 1) >>> 0;
  }
  magToExt(neg, h, l, out);
  return flags;
}
