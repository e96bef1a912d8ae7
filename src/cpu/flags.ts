import { CF, PF, AF, ZF, SF, OF } from './regs.js';

/**
 * Lazy arithmetic flags (DESIGN.md #5). An instruction that writes OSZAPC records its kind,
 * operand size and operands/result; the bits are computed when read. Sizes 1/2/4 keep values
 * zero-extended in the low half; size 8 uses the high halves too. Kinds that are awkward to
 * express lazily (shifts, multiplies, BCD) compute the bits and store them with kind LF_NONE.
 */
export const LF_NONE = 0, LF_ADD = 1, LF_ADC = 2, LF_SUB = 3, LF_SBB = 4, LF_LOGIC = 5, LF_INC = 6, LF_DEC = 7;

export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let p = 1;
  for (let b = i; b; b >>= 1) p ^= b & 1;
  PARITY[i] = p ? PF : 0;
}

/** The state a CPU keeps for lazy flags. */
export class LazyFlags {
  op = LF_NONE;
  size = 4;
  a = 0; aHi = 0;
  b = 0; bHi = 0;
  res = 0; resHi = 0;
  /** Carry-in for ADC/SBB; previous CF for INC/DEC. */
  cin = 0;
  /** Materialized OSZAPC bits when op === LF_NONE. */
  bits = 0;
}

const SIGN32 = 0x80000000 | 0;
function signBit(size: number, v: number, vHi: number): number {
  switch (size) {
    case 1: return v & 0x80;
    case 2: return v & 0x8000;
    case 4: return v & SIGN32;
    default: return vHi & SIGN32;
  }
}
function mask(size: number): number { return size === 1 ? 0xff : size === 2 ? 0xffff : -1; }

function carry(f: LazyFlags): boolean {
  const s = f.size;
  switch (f.op) {
    case LF_ADD:
    case LF_ADC: {
      let r: number, a: number;
      if (s === 8) {
        if (f.resHi !== f.aHi) return (f.resHi >>> 0) < (f.aHi >>> 0);
        r = f.res >>> 0; a = f.a >>> 0;
      } else { const m = mask(s); r = (f.res & m) >>> 0; a = (f.a & m) >>> 0; }
      return f.op === LF_ADC && f.cin ? r <= a : r < a;
    }
    case LF_SUB:
    case LF_SBB: {
      let a: number, b: number;
      if (s === 8) {
        if (f.aHi !== f.bHi) return (f.aHi >>> 0) < (f.bHi >>> 0);
        a = f.a >>> 0; b = f.b >>> 0;
      } else { const m = mask(s); a = (f.a & m) >>> 0; b = (f.b & m) >>> 0; }
      return f.op === LF_SBB && f.cin ? a <= b : a < b;
    }
    case LF_LOGIC: return false;
    case LF_INC: case LF_DEC: return f.cin !== 0;
    default: return (f.bits & CF) !== 0;
  }
}

function overflow(f: LazyFlags): boolean {
  const s = f.size;
  switch (f.op) {
    case LF_ADD: case LF_ADC: case LF_INC:
      return s === 8 ? (((f.aHi ^ f.resHi) & (f.bHi ^ f.resHi)) & SIGN32) !== 0
        : signBit(s, (f.a ^ f.res) & (f.b ^ f.res), 0) !== 0;
    case LF_SUB: case LF_SBB: case LF_DEC:
      return s === 8 ? (((f.aHi ^ f.bHi) & (f.aHi ^ f.resHi)) & SIGN32) !== 0
        : signBit(s, (f.a ^ f.b) & (f.a ^ f.res), 0) !== 0;
    case LF_LOGIC: return false;
    default: return (f.bits & OF) !== 0;
  }
}

/** All six arithmetic flags as RFLAGS bits. */
export function arithFlags(f: LazyFlags): number {
  if (f.op === LF_NONE) return f.bits;
  const s = f.size;
  let r = 0;
  if (carry(f)) r |= CF;
  if (overflow(f)) r |= OF;
  r |= PARITY[f.res & 0xff];
  if (s === 8 ? (f.res | f.resHi) === 0 : (f.res & mask(s)) === 0) r |= ZF;
  if (signBit(s, f.res, f.resHi)) r |= SF;
  if (f.op !== LF_LOGIC && ((f.a ^ f.b ^ f.res) & 0x10)) r |= AF;
  return r;
}

export function getCF(f: LazyFlags): boolean { return f.op === LF_NONE ? (f.bits & CF) !== 0 : carry(f); }
export function getOF(f: LazyFlags): boolean { return f.op === LF_NONE ? (f.bits & OF) !== 0 : overflow(f); }
export function getZF(f: LazyFlags): boolean {
  if (f.op === LF_NONE) return (f.bits & ZF) !== 0;
  const s = f.size;
  return s === 8 ? (f.res | f.resHi) === 0 : (f.res & mask(s)) === 0;
}
export function getSF(f: LazyFlags): boolean {
  if (f.op === LF_NONE) return (f.bits & SF) !== 0;
  return signBit(f.size, f.res, f.resHi) !== 0;
}
export function getPF(f: LazyFlags): boolean {
  if (f.op === LF_NONE) return (f.bits & PF) !== 0;
  return PARITY[f.res & 0xff] !== 0;
}

/** Replace the arithmetic flags with explicit bits (POPF, SAHF, shifts, ...). */
export function setArith(f: LazyFlags, bits: number): void {
  f.op = LF_NONE;
  f.bits = bits & (CF | PF | AF | ZF | SF | OF);
}
/** Change only the bits in `which` (e.g. CLC/STC, BT's CF). */
export function setSome(f: LazyFlags, which: number, bits: number): void {
  const cur = arithFlags(f);
  setArith(f, (cur & ~which) | (bits & which));
}

/** Evaluate condition code cc (0–15, the low nibble of Jcc/SETcc/CMOVcc). */
export function condition(f: LazyFlags, cc: number): boolean {
  let r: boolean;
  switch (cc >> 1) {
    case 0: r = getOF(f); break;
    case 1: r = getCF(f); break;
    case 2: r = getZF(f); break;
    case 3: r = getCF(f) || getZF(f); break;
    case 4: r = getSF(f); break;
    case 5: r = getPF(f); break;
    case 6: r = getSF(f) !== getOF(f); break;
    default: r = getZF(f) || getSF(f) !== getOF(f); break;
  }
  return (cc & 1) ? !r : r;
}
