import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import { PARITY, getCF, arithFlags, setArith } from '../flags.js';
import { CF, ZF, SF, OF } from '../regs.js';
import { memLin, readLa, writeLa } from './operands.js';

/**
 * Shifts and rotates: ROL ROR RCL RCR SHL SHR SAL SAR (C0/C1/D0–D3 /0–/7, row op = /n) and
 * SHLD/SHRD (0F A4/A5/AC/AD). SDM Vol. 2, "RCL/RCR/ROL/ROR—Rotate", "SAL/SAR/SHL/SHR—Shift",
 * "SHLD—Double Precision Shift Left", "SHRD—Double Precision Shift Right".
 *
 * Values of size 1/2 are zero-extended, size 4 is an int32, size 8 is (lo, hi) int32 halves with
 * the result's high half returned in cpu.vhi. Flags are computed eagerly (setArith).
 *
 * Common rules (SDM) and our choices where the SDM says "undefined" — each choice is what this
 * Intel host does, checked against test/diff/fixtures/shift.json with the undefined flags
 * unmasked, and for SHLD/SHRD r16 with counts > 16 against a native run (all counts 0..31):
 *  - The count is masked to 5 bits (6 with REX.W); a masked count of 0 changes no flag. The
 *    destination is still written back (a 32-bit register is zero-extended to 64 bits, as on
 *    the host). RCL/RCR of 8/16-bit operands rotate by count mod 9 / mod 17; when that is 0
 *    no flag changes either.
 *  - OF (defined by the SDM only for a count of 1): the host computes it with the count-1
 *    formula on the ORIGINAL operand, i.e. the OF of the first single-bit step:
 *    ROL/RCL/SHL/SHLD: MSB(v) ^ MSB-1(v); ROR: MSB(v) ^ LSB(v); RCR: MSB(v) ^ CF(in);
 *    SHR: MSB(v); SAR: 0; SHRD: MSB(v) ^ LSB(src). Exception: ROL/ROR of a REGISTER by an
 *    imm8 count other than 1 (C0/C1 with ModRM.mod = 3) leaves OF unchanged.
 *  - AF (undefined for SHL/SHR/SAR/SHLD/SHRD with a non-zero count): the host clears it.
 *  - SHL of an 8/16-bit operand by more than its width: CF (undefined) is 0, the result 0.
 *  - SHLD/SHRD r16 with a count > 16 (undefined): the host shifts the 48-bit value
 *    dest:src:dest (the P6 behaviour that Bochs also models); CF is the last bit shifted out
 *    of it and OF follows the first-step rule above.
 */

/** Count of a shift row: the second operand is '1', 'CL' or an imm8 (row operands 'Eb,1', 'Ev,CL', 'Ev,Ib'). */
function shiftCount(cpu: CPU, d: Insn): number {
  const c = d.row[1].charCodeAt(3);
  const raw = c === 0x31 /* '1' */ ? 1 : c === 0x43 /* 'C' */ ? cpu.lo[1] & 0xff : d.imm & 0xff;
  return raw & (d.osize === 8 ? 63 : 31);
}
/** Is the count an imm8 (C0/C1)? */
const immCount = (d: Insn): boolean => d.row[1].charCodeAt(3) === 0x49; /* 'I' */
/** Count of a SHLD/SHRD row: 'Ev,Gv,Ib' or 'Ev,Gv,CL'. */
function doubleCount(cpu: CPU, d: Insn): number {
  const raw = d.row[1].charCodeAt(6) === 0x43 /* 'C' */ ? cpu.lo[1] & 0xff : d.imm & 0xff;
  return raw & (d.osize === 8 ? 63 : 31);
}

// ------------------------------------------------------------------ 32-bit helpers (count may be >= 32)
const shl32 = (v: number, n: number): number => (n >= 32 ? 0 : v << n);
const shr32 = (v: number, n: number): number => (n >= 32 ? 0 : v >>> n);

// ------------------------------------------------------------------ 64-bit helpers (n in 0..64)
/** (lo, hi) << n; high half in cpu.vhi. */
export function shl64(cpu: CPU, lo: number, hi: number, n: number): number {
  if (n === 0) { cpu.vhi = hi; return lo; }
  if (n < 32) { cpu.vhi = (hi << n) | (lo >>> (32 - n)); return lo << n; }
  if (n < 64) { cpu.vhi = lo << (n - 32); return 0; }
  cpu.vhi = 0; return 0;
}
/** (lo, hi) >>> n (logical); high half in cpu.vhi. */
export function shr64(cpu: CPU, lo: number, hi: number, n: number): number {
  if (n === 0) { cpu.vhi = hi; return lo; }
  if (n < 32) { cpu.vhi = hi >>> n | 0; return (lo >>> n) | (hi << (32 - n)); }
  if (n < 64) { cpu.vhi = 0; return hi >>> (n - 32) | 0; }
  cpu.vhi = 0; return 0;
}
/** (lo, hi) >> n (arithmetic, n in 0..63); high half in cpu.vhi. */
function sar64(cpu: CPU, lo: number, hi: number, n: number): number {
  if (n === 0) { cpu.vhi = hi; return lo; }
  if (n < 32) { cpu.vhi = hi >> n; return (lo >>> n) | (hi << (32 - n)); }
  cpu.vhi = hi >> 31; return hi >> (n - 32);
}
/** Bit i (0..63) of (lo, hi). */
const bit64 = (lo: number, hi: number, i: number): number => (i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1);

const MASK = [0, 0xff, 0xffff, 0, -1];

/** SF ZF PF of a result of `size` bytes (rh: high half for size 8). */
export function szp(size: number, r: number, rh: number): number {
  let f = PARITY[r & 0xff];
  if (size === 8) {
    if ((r | rh) === 0) f |= ZF;
    if (rh < 0) f |= SF;
  } else {
    if (r === 0) f |= ZF;
    if ((r >>> (size * 8 - 1)) & 1) f |= SF;
  }
  return f;
}

/** Set CF and OF, keep the other arithmetic flags (rotates). of < 0: keep OF too. */
function setCO(cpu: CPU, cf: number, of: number): void {
  const keep = of < 0 ? ~CF : ~(CF | OF);
  const cur = arithFlags(cpu.lf) & keep;
  setArith(cpu.lf, cur | (cf ? CF : 0) | (of > 0 ? OF : 0));
}
/** Shift flags: CF OF SF ZF PF from the result; AF (undefined) cleared, as on the host. */
function setShiftFlags(cpu: CPU, size: number, r: number, rh: number, cf: number, of: number): void {
  setArith(cpu.lf, szp(size, r, rh) | (cf ? CF : 0) | (of ? OF : 0));
}

/**
 * Perform shift/rotate `op` (0..7 = ROL ROR RCL RCR SHL SHR SAL SAR) of `size` bytes on (v, vh)
 * by the masked count n. Returns the result (high half in cpu.vhi) and sets the flags.
 */
export function shiftOp(cpu: CPU, op: number, size: number, v: number, vh: number, n: number, keepOf: boolean): number {
  if (n === 0) { cpu.vhi = vh; return v; }
  if (size === 8) return shiftOp64(cpu, op, v, vh, n, keepOf);
  const w = size * 8, m = MASK[size];
  const top = w - 1;
  let r: number, cf: number;
  switch (op) {
    case 0: { // ROL
      const k = n & top;
      r = k ? ((v << k) | (v >>> (w - k))) & m : v;
      cf = r & 1;
      setCO(cpu, cf, keepOf ? -1 : ((v >>> top) ^ (v >>> (top - 1))) & 1);
      break;
    }
    case 1: { // ROR
      const k = n & top;
      r = k ? ((v >>> k) | (v << (w - k))) & m : v;
      cf = (r >>> top) & 1;
      setCO(cpu, cf, keepOf ? -1 : ((v >>> top) ^ v) & 1);
      break;
    }
    case 2: { // RCL: rotate through CF, (w+1)-bit rotation (count mod 9 / mod 17 for 8/16 bits)
      const t = w === 8 ? n % 9 : w === 16 ? n % 17 : n;
      const c = getCF(cpu.lf) ? 1 : 0;
      if (t === 0) { r = v; break; }
      r = (shl32(v, t) | (c << (t - 1)) | shr32(v >>> 0, w + 1 - t)) & m;
      cf = (v >>> (w - t)) & 1;
      setCO(cpu, cf, ((v >>> top) ^ (v >>> (top - 1))) & 1);
      break;
    }
    case 3: { // RCR
      const t = w === 8 ? n % 9 : w === 16 ? n % 17 : n;
      const c = getCF(cpu.lf) ? 1 : 0;
      if (t === 0) { r = v; break; }
      r = (shr32(v >>> 0, t) | (c << (w - t)) | shl32(v, w + 1 - t)) & m;
      cf = (v >>> (t - 1)) & 1;
      setCO(cpu, cf, ((v >>> top) ^ c) & 1);
      break;
    }
    case 4: case 6: { // SHL/SAL
      r = shl32(v, n) & m;
      cf = n <= w ? (v >>> (w - n)) & 1 : 0;
      setShiftFlags(cpu, size, r, 0, cf, ((v >>> top) ^ (v >>> (top - 1))) & 1);
      break;
    }
    case 5: { // SHR
      r = (v >>> n) & m;
      cf = (v >>> (n - 1)) & 1;
      setShiftFlags(cpu, size, r, 0, cf, (v >>> top) & 1);
      break;
    }
    default: { // SAR
      const sv = (v << (32 - w)) >> (32 - w);
      r = (sv >> n) & m;
      cf = (sv >> (n - 1)) & 1;
      setShiftFlags(cpu, size, r, 0, cf, 0);
      break;
    }
  }
  cpu.vhi = 0;
  return r;
}

function shiftOp64(cpu: CPU, op: number, v: number, vh: number, n: number, keepOf: boolean): number {
  let r: number, rh: number, cf: number;
  switch (op) {
    case 0: { // ROL
      const a = shl64(cpu, v, vh, n), ah = cpu.vhi;
      const b = shr64(cpu, v, vh, 64 - n), bh = cpu.vhi;
      r = a | b; rh = ah | bh;
      cf = r & 1;
      setCO(cpu, cf, keepOf ? -1 : ((vh >>> 31) ^ (vh >>> 30)) & 1);
      break;
    }
    case 1: { // ROR
      const a = shr64(cpu, v, vh, n), ah = cpu.vhi;
      const b = shl64(cpu, v, vh, 64 - n), bh = cpu.vhi;
      r = a | b; rh = ah | bh;
      cf = rh >>> 31;
      setCO(cpu, cf, keepOf ? -1 : ((vh >>> 31) ^ v) & 1);
      break;
    }
    case 2: { // RCL (65-bit rotation; n <= 63)
      const c = getCF(cpu.lf) ? 1 : 0;
      const a = shl64(cpu, v, vh, n), ah = cpu.vhi;
      const b = shr64(cpu, v, vh, 65 - n), bh = cpu.vhi;
      r = a | b; rh = ah | bh;
      if (n - 1 < 32) r |= c << (n - 1); else rh |= c << (n - 33);
      cf = bit64(v, vh, 64 - n);
      setCO(cpu, cf, ((vh >>> 31) ^ (vh >>> 30)) & 1);
      break;
    }
    case 3: { // RCR
      const c = getCF(cpu.lf) ? 1 : 0;
      const a = shr64(cpu, v, vh, n), ah = cpu.vhi;
      const b = shl64(cpu, v, vh, 65 - n), bh = cpu.vhi;
      r = a | b; rh = ah | bh;
      if (64 - n < 32) r |= c << (64 - n); else rh |= c << (32 - n);
      cf = bit64(v, vh, n - 1);
      setCO(cpu, cf, ((vh >>> 31) ^ c) & 1);
      break;
    }
    case 4: case 6: { // SHL/SAL
      r = shl64(cpu, v, vh, n); rh = cpu.vhi;
      cf = bit64(v, vh, 64 - n);
      setShiftFlags(cpu, 8, r, rh, cf, ((vh >>> 31) ^ (vh >>> 30)) & 1);
      break;
    }
    case 5: { // SHR
      r = shr64(cpu, v, vh, n); rh = cpu.vhi;
      cf = bit64(v, vh, n - 1);
      setShiftFlags(cpu, 8, r, rh, cf, vh >>> 31);
      break;
    }
    default: { // SAR
      r = sar64(cpu, v, vh, n); rh = cpu.vhi;
      cf = bit64(v, vh, n - 1);
      setShiftFlags(cpu, 8, r, rh, cf, 0);
      break;
    }
  }
  cpu.vhi = rh;
  return r;
}

/** ROL ROR RCL RCR SHL SHR SAL SAR Eb/Ev by 1, CL or imm8. */
function shift(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const n = shiftCount(cpu, d);
  const keepOf = n !== 1 && d.rm >= 0 && immCount(d);
  if (d.rm >= 0) {
    const v = cpu.getReg(d.rm, s), vh = cpu.vhi;
    const r = shiftOp(cpu, d.op, s, v, vh, n, keepOf);
    cpu.setReg(d.rm, s, r, cpu.vhi);
  } else {
    const la = memLin(cpu, d, s, true);
    const v = readLa(cpu, la, s), vh = cpu.vhi;
    const r = shiftOp(cpu, d.op, s, v, vh, n, keepOf);
    writeLa(cpu, la, s, r, cpu.vhi);
  }
}

/**
 * SHLD (left = true) / SHRD of dest (v, vh) with bits from src (g, gh) by masked count n (> 0).
 * 16-bit operands with n > 16 (undefined in the SDM): the 48-bit value dest:src:dest is shifted
 * (left for SHLD, taking the top 16 bits; right for SHRD, taking the low 16 bits), as the host does.
 */
function doubleShift(cpu: CPU, left: boolean, size: number, v: number, vh: number, g: number, gh: number, n: number): number {
  let r: number, rh = 0, cf: number, of: number;
  if (size === 8) {
    if (left) {
      const a = shl64(cpu, v, vh, n), ah = cpu.vhi;
      const b = shr64(cpu, g, gh, 64 - n), bh = cpu.vhi;
      r = a | b; rh = ah | bh;
      cf = bit64(v, vh, 64 - n);
      of = ((vh >>> 31) ^ (vh >>> 30)) & 1;
    } else {
      const a = shr64(cpu, v, vh, n), ah = cpu.vhi;
      const b = shl64(cpu, g, gh, 64 - n), bh = cpu.vhi;
      r = a | b; rh = ah | bh;
      cf = bit64(v, vh, n - 1);
      of = ((vh >>> 31) ^ g) & 1;
    }
  } else if (size === 4) {
    if (left) {
      r = (v << n) | (g >>> (32 - n));
      cf = (v >>> (32 - n)) & 1;
      of = ((v >>> 31) ^ (v >>> 30)) & 1;
    } else {
      r = (v >>> n) | (g << (32 - n));
      cf = (v >>> (n - 1)) & 1;
      of = ((v >>> 31) ^ g) & 1;
    }
  } else {
    if (left) {
      if (n <= 16) { r = ((v << n) | (g >>> (16 - n))) & 0xffff; cf = (v >>> (16 - n)) & 1; }
      else { r = ((g << (n - 16)) | (v >>> (32 - n))) & 0xffff; cf = (g >>> (32 - n)) & 1; }
      of = ((v >>> 15) ^ (v >>> 14)) & 1;
    } else {
      if (n <= 16) { r = ((v >>> n) | (g << (16 - n))) & 0xffff; cf = (v >>> (n - 1)) & 1; }
      else { r = ((g >>> (n - 16)) | (v << (32 - n))) & 0xffff; cf = (g >>> (n - 17)) & 1; }
      of = ((v >>> 15) ^ g) & 1;
    }
  }
  setShiftFlags(cpu, size, r, rh, cf, of);
  cpu.vhi = rh;
  return r;
}

function shld_shrd(cpu: CPU, d: Insn, left: boolean): void {
  const s = d.osize;
  const n = doubleCount(cpu, d);
  const g = cpu.getReg(d.reg, s), gh = cpu.vhi;
  if (d.rm >= 0) {
    const v = cpu.getReg(d.rm, s), vh = cpu.vhi;
    const r = n ? doubleShift(cpu, left, s, v, vh, g, gh, n) : v;
    cpu.setReg(d.rm, s, r, n ? cpu.vhi : vh);
  } else {
    const la = memLin(cpu, d, s, true);
    const v = readLa(cpu, la, s), vh = cpu.vhi;
    const r = n ? doubleShift(cpu, left, s, v, vh, g, gh, n) : v;
    writeLa(cpu, la, s, r, n ? cpu.vhi : vh);
  }
}
function shld(cpu: CPU, d: Insn): void { shld_shrd(cpu, d, true); }
function shrd(cpu: CPU, d: Insn): void { shld_shrd(cpu, d, false); }

export const shiftHandlers = { shift, shld, shrd };
