import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import { CpuFault } from '../fault.js';
import { setArith } from '../flags.js';
import { CF, OF, ZF, DE, RAX, RDX } from '../regs.js';
import { readE } from './operands.js';
import { szp } from './shift.js';

/**
 * MUL, IMUL (one, two and three operands), DIV, IDIV. SDM Vol. 2, "MUL—Unsigned Multiply",
 * "IMUL—Signed Multiply", "DIV—Unsigned Divide", "IDIV—Signed Divide".
 *
 * No BigInt on the common paths (DESIGN.md #2): 32×32→64 products are built from 16-bit pieces,
 * 64×64→128 from four 32×32 products; 64/32 divisions run as two exact 48-bit/32-bit steps in
 * doubles. Only a 64-bit DIV/IDIV whose divisor does not fit in 32 bits (rare: kernels divide
 * by small constants) uses BigInt for the 128/64 division.
 *
 * Undefined flags — our choices (what this Intel host does, checked against
 * test/diff/fixtures/muldiv.json with the flags unmasked):
 *  - MUL/IMUL: SF ZF AF PF are undefined: SF and PF follow the low half of the result (what
 *    is written to the destination), ZF and AF are cleared (see mulFlags).
 *  - DIV/IDIV: all six flags are undefined: they are left unchanged (also checked natively
 *    with several input flag sets).
 */

// Scratch for the four 32-bit limbs of a 128-bit value (little-endian). Not CPU state: only
// used within one handler call (nothing allocated per instruction).
const P = new Int32Array(4);

/** Unsigned 32×32 → 64: returns the low half, the high half in cpu.vhi. */
export function mulu32(cpu: CPU, a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  cpu.vhi = (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
  return Math.imul(a, b);
}
/** Signed 32×32 → 64 (two's complement halves). */
export function muls32(cpu: CPU, a: number, b: number): number {
  const lo = mulu32(cpu, a, b);
  let hi = cpu.vhi;
  if (a < 0) hi = (hi - b) | 0;
  if (b < 0) hi = (hi - a) | 0;
  cpu.vhi = hi;
  return lo;
}
/** 64×64 → 128 into P[0..3]; signed when `signed`. */
function mul64(cpu: CPU, al: number, ah: number, bl: number, bh: number, signed: boolean): void {
  const p0l = mulu32(cpu, al, bl), p0h = cpu.vhi;
  const p1l = mulu32(cpu, al, bh), p1h = cpu.vhi;
  const p2l = mulu32(cpu, ah, bl), p2h = cpu.vhi;
  const p3l = mulu32(cpu, ah, bh), p3h = cpu.vhi;
  const s1 = (p0h >>> 0) + (p1l >>> 0) + (p2l >>> 0);
  const c1 = Math.floor(s1 / 4294967296);
  const s2 = (p1h >>> 0) + (p2h >>> 0) + (p3l >>> 0) + c1;
  const c2 = Math.floor(s2 / 4294967296);
  let r2 = s2 | 0, r3 = (p3h + c2) | 0;
  if (signed) {
    // (a as signed) * (b as signed) = unsigned product - 2^64·(a<0 ? b : 0) - 2^64·(b<0 ? a : 0)
    if (ah < 0) { const lo = (r2 >>> 0) - (bl >>> 0); r2 = lo | 0; r3 = (r3 - bh - (lo < 0 ? 1 : 0)) | 0; }
    if (bh < 0) { const lo = (r2 >>> 0) - (al >>> 0); r2 = lo | 0; r3 = (r3 - ah - (lo < 0 ? 1 : 0)) | 0; }
  }
  P[0] = p0l; P[1] = s1 | 0; P[2] = r2; P[3] = r3;
}

/**
 * Flags after MUL/IMUL: CF = OF = `ovf`. SF ZF AF PF are undefined (SDM); this Intel host
 * computes SF and PF from the low half of the result (AL/AX/EAX/RAX for the one-operand forms,
 * the destination for the others) and clears ZF and AF — even when that half is zero.
 */
function mulFlags(cpu: CPU, size: number, lo: number, loHi: number, ovf: boolean): void {
  setArith(cpu.lf, (szp(size, lo, loHi) & ~ZF) | (ovf ? CF | OF : 0));
}

const sx8 = (v: number) => (v << 24) >> 24;
const sx16 = (v: number) => (v << 16) >> 16;

/** MUL Eb/Ev: AX ← AL·r/m8; DX:AX, EDX:EAX, RDX:RAX ← rAX·r/m. */
function mul(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const b = readE(cpu, d, s), bh = cpu.vhi;
  switch (s) {
    case 1: {
      const r = (cpu.lo[RAX] & 0xff) * b;
      cpu.setReg(RAX, 2, r);
      mulFlags(cpu, 1, r & 0xff, 0, r > 0xff);
      return;
    }
    case 2: {
      const r = (cpu.lo[RAX] & 0xffff) * b;
      cpu.setReg(RAX, 2, r); cpu.setReg(RDX, 2, r >>> 16);
      mulFlags(cpu, 2, r & 0xffff, 0, r > 0xffff);
      return;
    }
    case 4: {
      const lo = mulu32(cpu, cpu.lo[RAX], b), hi = cpu.vhi;
      cpu.setReg(RAX, 4, lo); cpu.setReg(RDX, 4, hi);
      mulFlags(cpu, 4, lo, 0, hi !== 0);
      return;
    }
    default: {
      mul64(cpu, cpu.lo[RAX], cpu.hi[RAX], b, bh, false);
      cpu.setReg(RAX, 8, P[0], P[1]); cpu.setReg(RDX, 8, P[2], P[3]);
      mulFlags(cpu, 8, P[0], P[1], (P[2] | P[3]) !== 0);
    }
  }
}

/** IMUL Eb/Ev (one operand): the same registers as MUL, signed. */
function imul1(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const b = readE(cpu, d, s), bh = cpu.vhi;
  switch (s) {
    case 1: {
      const r = sx8(cpu.lo[RAX]) * sx8(b);
      cpu.setReg(RAX, 2, r);
      mulFlags(cpu, 1, r & 0xff, 0, r !== sx8(r));
      return;
    }
    case 2: {
      const r = sx16(cpu.lo[RAX]) * sx16(b);
      cpu.setReg(RAX, 2, r); cpu.setReg(RDX, 2, r >> 16);
      mulFlags(cpu, 2, r & 0xffff, 0, r !== sx16(r));
      return;
    }
    case 4: {
      const lo = muls32(cpu, cpu.lo[RAX], b), hi = cpu.vhi;
      cpu.setReg(RAX, 4, lo); cpu.setReg(RDX, 4, hi);
      mulFlags(cpu, 4, lo, 0, hi !== lo >> 31);
      return;
    }
    default: {
      mul64(cpu, cpu.lo[RAX], cpu.hi[RAX], b, bh, true);
      cpu.setReg(RAX, 8, P[0], P[1]); cpu.setReg(RDX, 8, P[2], P[3]);
      const sign = P[1] >> 31;
      mulFlags(cpu, 8, P[0], P[1], P[2] !== sign || P[3] !== sign);
    }
  }
}

/** Truncated signed product a·b of `size` bytes into register `reg` (IMUL two and three operands). */
function imulTrunc(cpu: CPU, reg: number, s: number, a: number, ah: number, b: number, bh: number): void {
  switch (s) {
    case 2: {
      const r = sx16(a) * sx16(b);
      cpu.setReg(reg, 2, r);
      mulFlags(cpu, 2, r & 0xffff, 0, r !== sx16(r));
      return;
    }
    case 4: {
      const lo = muls32(cpu, a, b), hi = cpu.vhi;
      cpu.setReg(reg, 4, lo);
      mulFlags(cpu, 4, lo, 0, hi !== lo >> 31);
      return;
    }
    default: {
      mul64(cpu, a, ah, b, bh, true);
      cpu.setReg(reg, 8, P[0], P[1]);
      const sign = P[1] >> 31;
      mulFlags(cpu, 8, P[0], P[1], P[2] !== sign || P[3] !== sign);
    }
  }
}
/** IMUL Gv, Ev */
function imul2(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const b = readE(cpu, d, s), bh = cpu.vhi;
  const a = cpu.getReg(d.reg, s), ah = cpu.vhi;
  imulTrunc(cpu, d.reg, s, a, ah, b, bh);
}
/** IMUL Gv, Ev, Iz / Ibs (the immediate is sign-extended to the operand size by the decoder). */
function imul3(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const a = readE(cpu, d, s), ah = cpu.vhi;
  imulTrunc(cpu, d.reg, s, a, ah, d.imm, d.immHi);
}

// ------------------------------------------------------------------ division

/**
 * Unsigned (hi:lo) / d for hi <u d, d ≠ 0 (so the quotient fits in 32 bits): returns the quotient
 * (as int32), the remainder in cpu.vhi. Two steps of 16 quotient bits; each partial dividend is
 * below 2^48 and each partial quotient below 2^16, so the double division is exact after floor.
 */
export function divu64by32(cpu: CPU, hi: number, lo: number, d: number): number {
  const dv = d >>> 0;
  if (hi === 0) {
    const n = lo >>> 0, q = Math.floor(n / dv);
    cpu.vhi = (n - q * dv) | 0;
    return q | 0;
  }
  let t = (hi >>> 0) * 65536 + (lo >>> 16);
  const q1 = Math.floor(t / dv);
  let r = t - q1 * dv;
  t = r * 65536 + (lo & 0xffff);
  const q0 = Math.floor(t / dv);
  r = t - q0 * dv;
  cpu.vhi = r | 0;
  return (q1 * 65536 + q0) | 0;
}

const TWO32n = 1n << 32n;
const u64n = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/** DIV Eb/Ev: AL,AH ← AX / r/m8; AX,DX ← DX:AX / r/m16; ... #DE on divide by 0 or quotient overflow. */
function div(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const b = readE(cpu, d, s), bh = cpu.vhi;
  switch (s) {
    case 1: {
      if (b === 0) throw new CpuFault(DE);
      const n = cpu.lo[RAX] & 0xffff, q = Math.floor(n / b);
      if (q > 0xff) throw new CpuFault(DE);
      cpu.setReg(RAX, 2, ((n - q * b) << 8) | q);
      break;
    }
    case 2: {
      if (b === 0) throw new CpuFault(DE);
      const n = (((cpu.lo[RDX] & 0xffff) << 16) | (cpu.lo[RAX] & 0xffff)) >>> 0, q = Math.floor(n / b);
      if (q > 0xffff) throw new CpuFault(DE);
      cpu.setReg(RAX, 2, q); cpu.setReg(RDX, 2, n - q * b);
      break;
    }
    case 4: {
      if (b === 0 || (cpu.lo[RDX] >>> 0) >= (b >>> 0)) throw new CpuFault(DE);
      const q = divu64by32(cpu, cpu.lo[RDX], cpu.lo[RAX], b);
      cpu.setReg(RDX, 4, cpu.vhi); cpu.setReg(RAX, 4, q);
      break;
    }
    default: {
      const nlo = cpu.lo[RAX], nhi = cpu.hi[RAX], xlo = cpu.lo[RDX], xhi = cpu.hi[RDX];
      if ((b | bh) === 0) throw new CpuFault(DE);
      if (bh === 0) {
        // divisor < 2^32: the quotient fits in 64 bits iff RDX < divisor
        if (xhi !== 0 || (xlo >>> 0) >= (b >>> 0)) throw new CpuFault(DE);
        const qh = divu64by32(cpu, xlo, nhi, b);
        const ql = divu64by32(cpu, cpu.vhi, nlo, b);
        cpu.setReg(RDX, 8, cpu.vhi, 0); cpu.setReg(RAX, 8, ql, qh);
      } else {
        // 128/64 with a divisor >= 2^32: BigInt (rare)
        const dv = u64n(b, bh), x = u64n(xlo, xhi);
        if (x >= dv) throw new CpuFault(DE);
        const n = (x << 64n) | u64n(nlo, nhi);
        const q = n / dv, r = n % dv;
        cpu.setReg(RAX, 8, Number(q & 0xffffffffn) | 0, Number(q >> 32n) | 0);
        cpu.setReg(RDX, 8, Number(r & 0xffffffffn) | 0, Number(r >> 32n) | 0);
      }
    }
  }
  // flags: undefined (SDM); left unchanged, as on the host
}

/** IDIV Eb/Ev: signed; quotient truncated toward 0, remainder has the dividend's sign. #DE on 0 or overflow (INT_MIN / -1). */
function idiv(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const b = readE(cpu, d, s), bh = cpu.vhi;
  switch (s) {
    case 1: {
      const dv = sx8(b);
      if (dv === 0) throw new CpuFault(DE);
      const n = sx16(cpu.lo[RAX]), q = Math.trunc(n / dv);
      if (q > 127 || q < -128) throw new CpuFault(DE);
      cpu.setReg(RAX, 2, (((n - q * dv) & 0xff) << 8) | (q & 0xff));
      break;
    }
    case 2: {
      const dv = sx16(b);
      if (dv === 0) throw new CpuFault(DE);
      const n = ((cpu.lo[RDX] & 0xffff) << 16) | (cpu.lo[RAX] & 0xffff), q = Math.trunc(n / dv);
      if (q > 32767 || q < -32768) throw new CpuFault(DE);
      cpu.setReg(RAX, 2, q); cpu.setReg(RDX, 2, n - q * dv);
      break;
    }
    case 4: {
      if (b === 0) throw new CpuFault(DE);
      let nhi = cpu.lo[RDX], nlo = cpu.lo[RAX];
      const nneg = nhi < 0, dneg = b < 0;
      if (nneg) { nlo = -nlo | 0; nhi = (~nhi + (nlo === 0 ? 1 : 0)) | 0; }
      const ad = dneg ? -b | 0 : b;                       // |divisor| as uint32 (2^31 stays 0x80000000)
      if ((nhi >>> 0) >= (ad >>> 0)) throw new CpuFault(DE); // |quotient| >= 2^32
      const q = divu64by32(cpu, nhi, nlo, ad) >>> 0, r = cpu.vhi;
      if (nneg !== dneg ? q > 0x80000000 : q > 0x7fffffff) throw new CpuFault(DE);
      cpu.setReg(RAX, 4, nneg !== dneg ? -q | 0 : q | 0);
      cpu.setReg(RDX, 4, nneg ? -r | 0 : r);
      break;
    }
    default: idiv64(cpu, b, bh);
  }
  // flags: undefined (SDM); left unchanged, as on the host
}

/** 128-bit negate of P[0..3]. */
function neg128(): void {
  let c = 1;
  for (let i = 0; i < 4; i++) {
    const v = (~P[i] >>> 0) + c;
    P[i] = v | 0; c = v > 0xffffffff ? 1 : 0;
  }
}

/** IDIV r/m64: RDX:RAX / (b, bh). */
function idiv64(cpu: CPU, b: number, bh: number): void {
  if ((b | bh) === 0) throw new CpuFault(DE);
  P[0] = cpu.lo[RAX]; P[1] = cpu.hi[RAX]; P[2] = cpu.lo[RDX]; P[3] = cpu.hi[RDX];
  const nneg = P[3] < 0, dneg = bh < 0;
  if (nneg) neg128();
  let al = b, ah = bh;                                     // |divisor|
  if (dneg) { al = -b | 0; ah = (~bh + (al === 0 ? 1 : 0)) | 0; }
  let ql: number, qh: number, rl: number, rh = 0;
  if (ah === 0) {
    if (P[3] !== 0 || (P[2] >>> 0) >= (al >>> 0)) throw new CpuFault(DE);
    qh = divu64by32(cpu, P[2], P[1], al);
    ql = divu64by32(cpu, cpu.vhi, P[0], al);
    rl = cpu.vhi;
  } else {
    // |divisor| >= 2^32: BigInt (rare)
    const dv = u64n(al, ah);
    const n = (u64n(P[2], P[3]) << 64n) | u64n(P[0], P[1]);
    const q = n / dv, r = n % dv;
    if (q >= TWO32n * TWO32n) throw new CpuFault(DE);
    ql = Number(q & 0xffffffffn) | 0; qh = Number(q >> 32n) | 0;
    rl = Number(r & 0xffffffffn) | 0; rh = Number(r >> 32n) | 0;
  }
  // the quotient must fit in a signed 64-bit value: |q| <= 2^63 - 1, or 2^63 when negative
  if (qh < 0 && !(nneg !== dneg && qh === (0x80000000 | 0) && ql === 0)) throw new CpuFault(DE);
  if (nneg !== dneg) { ql = -ql | 0; qh = (~qh + (ql === 0 ? 1 : 0)) | 0; }
  if (nneg) { rl = -rl | 0; rh = (~rh + (rl === 0 ? 1 : 0)) | 0; }
  cpu.setReg(RAX, 8, ql, qh);
  cpu.setReg(RDX, 8, rl, rh);
}

export const muldivHandlers = { mul, imul1, imul2, imul3, div, idiv };
