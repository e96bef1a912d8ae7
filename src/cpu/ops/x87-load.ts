import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import type { X87 } from '../x87-state.js';
import { condition } from '../flags.js';
import {
  Ext, classify, extToFloatBits, extToInt, magToExt, bitsLo, bitsHi, packTiny,
  X_SNAN, RC_NEAREST, RC_UP, RC_ZERO, FE_IE,
} from '../x87-convert.js';
import {
  IE, UE, OE, C1, fpuWait, noteIp, operand, at, signal, stackFault, pop, push, underflowTo,
  readReal, readInt, loadFlags, write80, rcOf,
} from './x87-core.js';

/**
 * x87 data transfer: FLD FILD FBLD, the constants, FST FSTP FIST FISTP FISTTP FBSTP, FXCH,
 * FCMOVcc (SDM Vol. 2 instruction pages; Vol. 1, "Data Transfer Instructions").
 */

const T = new Ext();
const INDEF = new Ext().set(0xffff, 0xc0000000, 0);

/** FLD m32fp / m64fp / m80fp (D9 /0, DD /0, DB /5). m32/m64: #IA for an SNaN (quieted), #D for a denormal; m80: no exception. */
function fld_mem(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  const size = d.osize;
  const la = operand(cpu, d, size, false);
  readReal(cpu, la, size, T);
  noteIp(cpu, d, f, true);
  let flags = size === 10 ? 0 : loadFlags;
  if (size !== 10 && classify(T.se, T.hi, T.lo) === X_SNAN) { flags |= IE; T.hi = (T.hi | 0x40000000) >>> 0; }
  push(f, T, flags);
}
/** FLD ST(i) (D9 C0+i): a copy, no exception but #IS. */
function fld_sti(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const src = f.phys(d.modrm & 7);
  if (f.isEmpty(src)) {
    if (stackFault(f, false)) return;
    push(f, INDEF, 0);
    return;
  }
  f.getExt(src, T);
  push(f, T, 0);
}
/** FILD m16int / m32int / m64int (DF /0, DB /0, DF /5): exact. */
function fild(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  const la = operand(cpu, d, d.osize, false);
  readInt(cpu, la, d.osize, T);
  noteIp(cpu, d, f, true);
  push(f, T, 0);
}
/** FBLD m80bcd (DF /4): 18 packed BCD digits and a sign bit (digits above 9 are undefined; here they keep their binary weight). Exact. */
function fbld(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  const la = operand(cpu, d, 10, false);
  let hi9 = 0, lo9 = 0;
  for (let j = 17; j >= 0; j--) {
    const digit = (cpu.rd8(at(cpu, la, j >> 1)) >> ((j & 1) * 4)) & 15;
    if (j >= 9) hi9 = hi9 * 10 + digit; else lo9 = lo9 * 10 + digit;
  }
  const sign = cpu.rd8(at(cpu, la, 9)) & 0x80;
  noteIp(cpu, d, f, true);
  // hi9·10^9 + lo9 in 32-bit halves: 10^9 = 1953125·2^9 and hi9·1953125 < 2^53
  const a = hi9 * 1953125;
  const aH = Math.floor(a / 4294967296), aL = a % 4294967296;
  let h = ((aH << 9) | (aL >>> 23)) >>> 0;
  const s = ((aL << 9) >>> 0) + lo9;
  h = (h + Math.floor(s / 4294967296)) >>> 0;
  magToExt(sign !== 0, h, s % 4294967296, T);
  push(f, T, 0);
}

/**
 * FLD1 FLDL2T FLDL2E FLDPI FLDLG2 FLDLN2 FLDZ (D9 E8–EE). The irrational constants are the
 * 64-bit truncations of the internal 66-bit constants with the rounding direction of their
 * discarded bits (SDM Vol. 2, "FLD1/FLDL2T/FLDL2E/FLDPI/FLDLG2/FLDLN2/FLDZ"); round to nearest
 * gives the values this Intel host loads (π = 4000 C90FDAA2 2168C235). No #P.
 */
const CONSTANTS: readonly (readonly [se: number, hi: number, lo: number, nearestUp: boolean, inexact: boolean])[] = [
  [0x3fff, 0x80000000, 0x00000000, false, false],   // 1
  [0x4000, 0xd49a784b, 0xcd1b8afe, false, true],    // log2(10): …8AFE 492B…
  [0x3fff, 0xb8aa3b29, 0x5c17f0bb, true, true],     // log2(e):  …F0BB BE87…
  [0x4000, 0xc90fdaa2, 0x2168c234, true, true],     // π:        …C234 C4C6…
  [0x3ffd, 0x9a209a84, 0xfbcff798, true, true],     // log10(2): …F798 8F89…
  [0x3ffe, 0xb17217f7, 0xd1cf79ab, true, true],     // ln(2):    …79AB C9E3…
  [0x0000, 0x00000000, 0x00000000, false, false],   // +0
];
function fld_const(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const [se, hi, lo, nearestUp, inexact] = CONSTANTS[d.op];
  const rc = rcOf(f);
  const up = inexact && (rc === RC_NEAREST ? nearestUp : rc === RC_UP);
  T.set(se, hi, (lo + (up ? 1 : 0)) >>> 0);
  push(f, T, 0);
}

/** Integer indefinite and the BCD indefinite (SDM Vol. 1, "Indefinites"). */
function storeIntIndefinite(cpu: CPU, la: number, size: number): void {
  if (size === 2) cpu.wr16(la, 0x8000);
  else if (size === 4) cpu.wr32(la, 0x80000000 | 0);
  else cpu.wr64(la, 0, 0x80000000 | 0);
}
function storeRealIndefinite(cpu: CPU, la: number, size: number): void {
  if (size === 4) cpu.wr32(la, 0xffc00000 | 0);
  else if (size === 8) cpu.wr64(la, 0, 0xfff80000 | 0);
  else write80(cpu, la, 0xffff, 0xc0000000, 0);
}

/** FST/FSTP m32fp, m64fp, FSTP m80fp (D9 /2 /3, DD /2 /3, DB /7); op bit 0 = pop. */
function fst_mem(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  const size = d.osize;
  const la = operand(cpu, d, size, true);
  const r = f.top;
  const popIt = (d.op & 1) !== 0;
  if (f.isEmpty(r)) {
    if (f.cw & IE) storeRealIndefinite(cpu, la, size);
    noteIp(cpu, d, f, true);
    if (!stackFault(f, false) && popIt) pop(f);
    return;
  }
  const se = f.xse[r], hi = f.xhi[r], lo = f.xlo[r];
  let flags = 0;
  if (size === 10) write80(cpu, la, se, hi, lo);
  else {
    flags = extToFloatBits(se, hi, lo, size === 8, rcOf(f));
    const unmasked = ~f.cw & 0x3f;
    // unmasked #IA, #O, #U: nothing is stored and the stack is not popped (a tiny result counts for #U even if exact)
    if ((flags & IE & unmasked) || (flags & OE & unmasked) || ((UE & unmasked) && packTiny)) {
      if ((UE & unmasked) && packTiny) flags |= UE;
      noteIp(cpu, d, f, true);
      f.sw &= ~C1;
      signal(f, flags & (IE | OE | UE));
      return;
    }
    if (size === 8) cpu.wr64(la, bitsLo | 0, bitsHi | 0); else cpu.wr32(la, bitsLo | 0);
  }
  noteIp(cpu, d, f, true);
  f.sw = (f.sw & ~C1) | (flags & C1);
  signal(f, flags & 0x3f);
  if (popIt) pop(f);
}
/** FST/FSTP ST(i) (DD D0+i, DD D8+i; aliases D9 D8+i, DF D0+i, DF D8+i); op bit 0 = pop. */
function fst_sti(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const dst = f.phys(d.modrm & 7);
  if (f.isEmpty(f.top)) {
    if (!underflowTo(f, dst)) return;
  } else {
    f.copyReg(dst, f.top); f.setFull(dst);
    f.sw &= ~C1;
  }
  if (d.op & 1) pop(f);
}

/**
 * FIST/FISTP m16int m32int m64int and FISTTP (SSE3): op bit 0 = pop, bit 1 = truncate (FISTTP).
 * Out of range, NaN, ∞: #IA; masked → the integer indefinite.
 */
function fist(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  const size = d.osize;
  const la = operand(cpu, d, size, true);
  const r = f.top, popIt = (d.op & 1) !== 0;
  if (f.isEmpty(r)) {
    if (f.cw & IE) storeIntIndefinite(cpu, la, size);
    noteIp(cpu, d, f, true);
    if (!stackFault(f, false) && popIt) pop(f);
    return;
  }
  const flags = extToInt(f.xse[r], f.xhi[r], f.xlo[r], size, d.op & 2 ? RC_ZERO : rcOf(f));
  if (flags & FE_IE) {
    if (!(f.cw & IE)) { noteIp(cpu, d, f, true); f.sw &= ~C1; signal(f, IE); return; }
    storeIntIndefinite(cpu, la, size);
  } else if (size === 2) cpu.wr16(la, bitsLo & 0xffff);
  else if (size === 4) cpu.wr32(la, bitsLo);
  else cpu.wr64(la, bitsLo, bitsHi);
  noteIp(cpu, d, f, true);
  f.sw = (f.sw & ~C1) | (flags & FE_IE ? 0 : flags & C1);
  signal(f, flags & 0x3f);
  if (popIt) pop(f);
}

/** FBSTP m80bcd (DF /6): round per RC, 18 BCD digits; beyond ±(10^18 − 1), NaN, ∞: #IA → BCD indefinite. */
function fbstp(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  const la = operand(cpu, d, 10, true);
  const r = f.top;
  cpu.probeWrite(la, 10);
  if (f.isEmpty(r)) {
    if (f.cw & IE) write80(cpu, la, 0xffff, 0xc0000000, 0);
    noteIp(cpu, d, f, true);
    if (!stackFault(f, false)) pop(f);
    return;
  }
  const neg = (f.xse[r] & 0x8000) !== 0;
  let flags = extToInt(f.xse[r], f.xhi[r], f.xlo[r], 8, rcOf(f));
  let h = bitsHi >>> 0, l = bitsLo >>> 0;
  if (!(flags & FE_IE)) {
    if (neg) { l = (-l) >>> 0; h = (~h + (l === 0 ? 1 : 0)) >>> 0; }          // magnitude
    // 10^18 − 1 = 0x0DE0B6B3_A763FFFF
    if (h > 0x0de0b6b3 || (h === 0x0de0b6b3 && l > 0xa763ffff)) flags = FE_IE;
  }
  if (flags & FE_IE) {
    if (!(f.cw & IE)) { noteIp(cpu, d, f, true); f.sw &= ~C1; signal(f, IE); return; }
    write80(cpu, la, 0xffff, 0xc0000000, 0);
  } else {
    // two base-10^9 halves by long division on 16-bit limbs, then 18 digits, two per byte
    let rem = 0, q = 0;
    for (const limb of [h >>> 16, h & 0xffff, l >>> 16, l & 0xffff]) {
      const cur = rem * 65536 + limb, qq = Math.floor(cur / 1e9);
      rem = cur - qq * 1e9; q = q * 65536 + qq;
    }
    let lo9 = rem, hi9 = q;
    for (let k = 0; k < 9; k++) {
      let pair: number;
      if (k < 4) { pair = lo9 % 100; lo9 = Math.floor(lo9 / 100); }
      else if (k === 4) { pair = lo9 + (hi9 % 10) * 10; hi9 = Math.floor(hi9 / 10); }
      else { pair = hi9 % 100; hi9 = Math.floor(hi9 / 100); }
      cpu.wr8(at(cpu, la, k), (Math.floor(pair / 10) << 4) | (pair % 10));
    }
    cpu.wr8(at(cpu, la, 9), neg ? 0x80 : 0);
  }
  noteIp(cpu, d, f, true);
  f.sw = (f.sw & ~C1) | (flags & FE_IE ? 0 : flags & C1);
  signal(f, flags & 0x3f);
  pop(f);
}

/** FXCH ST(i) (D9 C8+i; aliases DD C8+i, DF C8+i). An empty operand: #IS; masked, it becomes the real indefinite first. */
function fxch(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const a = f.top, b = f.phys(d.modrm & 7);
  if (f.isEmpty(a) || f.isEmpty(b)) {
    if (stackFault(f, false)) return;
    if (f.isEmpty(a)) { f.setIndefinite(a); f.setFull(a); }
    if (f.isEmpty(b)) { f.setIndefinite(b); f.setFull(b); }
  } else f.sw &= ~C1;
  swap(f, a, b);
}
function swap(f: X87, a: number, b: number): void {
  const se = f.xse[a], hi = f.xhi[a], lo = f.xlo[a];
  f.copyReg(a, b);
  f.xse[b] = se; f.xhi[b] = hi; f.xlo[b] = lo;
}

/** FCMOVcc ST(0), ST(i) (DA/DB C0–DF): op = the condition code (B E BE U and their negations, from CF ZF PF). */
function fcmov(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  const a = f.top, b = f.phys(d.modrm & 7);
  if (f.isEmpty(a) || f.isEmpty(b)) { underflowTo(f, a); return; }
  f.sw &= ~C1;
  if (condition(cpu.lf, d.op)) f.copyReg(a, b);
}

export const x87LoadHandlers = {
  fld_mem, fld_sti, fild, fbld, fld_const, fst_mem, fst_sti, fist, fbstp, fxch, fcmov,
};
