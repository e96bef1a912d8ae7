import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import { setArith } from '../flags.js';
import { CF, PF, ZF } from '../regs.js';
import { VA, VB, VR, sseCheck, loadX, storeX, readW, readWlow } from '../xmm.js';
import {
  out, fpBegin, fpEnd, fpStage, arith32, arith64, sqrt32, sqrt64, minmax32, minmax64, cmp32, cmp64, compare32, compare64,
  round32, round64, bits32, isNaN32, OP_ADD, OP_SUB, OP_MUL,
} from './sse-softfloat.js';

/**
 * SSE/SSE2/SSE3/SSE4.1 floating-point arithmetic: ADD SUB MUL DIV MIN MAX SQRT {PS,PD,SS,SD},
 * RCP/RSQRT {PS,SS}, CMP{PS,PD,SS,SD}, (U)COMIS{S,D}, HADD/HSUB/ADDSUB, DPPS/DPPD, ROUND*.
 * Row constant `op`: 0 add, 1 sub, 2 mul, 3 div, 4 min, 5 max, 6 sqrt.
 * Each handler reads its operands, computes into VR with fpc collecting the MXCSR conditions,
 * then fpEnd() sets the flags or faults (#XM) before the destination is written.
 */
const OP_MIN = 4, OP_MAX = 5, OP_SQRT = 6;

function e32(op: number, a: number, b: number): number {
  if (op < 4) return arith32(op, a, b);
  if (op === OP_SQRT) return sqrt32(b);
  return minmax32(op === OP_MAX, a, b);
}
/** binary64 element: sources at (A[i], A[i+1]) and (B[j], B[j+1]); result to R[k], R[k+1]. */
function e64(op: number, A: Int32Array, i: number, B: Int32Array, j: number, R: Int32Array, k: number): void {
  if (op < 4) arith64(op, A[i], A[i + 1], B[j], B[j + 1]);
  else if (op === OP_SQRT) sqrt64(B[j], B[j + 1]);
  else minmax64(op === OP_MAX, A[i], A[i + 1], B[j], B[j + 1]);
  R[k] = out.lo; R[k + 1] = out.hi;
}

function fp_ps(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA); readW(cpu, d, VB, true);
  fpBegin(cpu);
  const A = VA.i32, B = VB.i32, R = VR.i32, op = d.op;
  for (let i = 0; i < 4; i++) R[i] = e32(op, A[i], B[i]);
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
function fp_pd(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA); readW(cpu, d, VB, true);
  fpBegin(cpu);
  e64(d.op, VA.i32, 0, VB.i32, 0, VR.i32, 0);
  e64(d.op, VA.i32, 2, VB.i32, 2, VR.i32, 2);
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
function fp_ss(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA); readWlow(cpu, d, VB, 4);
  fpBegin(cpu);
  const r = e32(d.op, VA.i32[0], VB.i32[0]);
  fpEnd(cpu);
  cpu.xmm[d.reg << 2] = r;
}
function fp_sd(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA); readWlow(cpu, d, VB, 8);
  fpBegin(cpu);
  e64(d.op, VA.i32, 0, VB.i32, 0, VR.i32, 0);
  fpEnd(cpu);
  cpu.xmm[d.reg << 2] = VR.i32[0]; cpu.xmm[(d.reg << 2) + 1] = VR.i32[1];
}

/**
 * RCPPS/RCPSS/RSQRTPS/RSQRTSS (SDM: relative error <= 1.5·2^-12; no MXCSR flags). The SDM leaves
 * the exact values to the implementation; this reproduces the Intel host's table: the source's
 * significand selects one of 2048 intervals (RCP: its top 11 fraction bits; RSQRT: the exponent's
 * parity and the top 10 fraction bits), and the result is the function at the interval's midpoint
 * rounded to 12 fraction bits. Denormal sources count as zero (→ ±inf); tiny results are flushed
 * to zero; a NaN source is returned quieted; RSQRT of a negative number is the default NaN.
 * Measured on an Intel Xeon (AVX-512): all 2^23 significands match.
 */
const TWO_M126 = 1.1754943508222875e-38;
function approx(op: number, a: number): number {
  if (isNaN32(a)) return a | 0x400000;
  const sign = a & 0x80000000, e = (a >>> 23) & 0xff, m = a & 0x7fffff;
  if (e === 0) return sign | 0x7f800000;                          // ±0 and denormals → ±inf
  if (op === 0) {
    if (e === 0xff) return sign;                                  // 1/±inf = ±0
    const v = 1 / (1 + ((m >>> 12) + 0.5) / 2048);                // in (0.5, 1)
    const r = (Math.floor(v * 8192 + 0.5) / 8192) * Math.pow(2, 127 - e);
    return r < TWO_M126 ? sign : sign | bits32(r);
  }
  if (sign) return 0xffc00000 | 0;
  if (e === 0xff) return 0;                                       // 1/sqrt(+inf) = +0
  const odd = (e - 127) & 1;
  const x = odd ? 0.5 + ((m >>> 13) + 0.5) / 2048 : 1 + ((m >>> 13) + 0.5) / 1024;
  const v = 1 / Math.sqrt(x), q = v >= 1 ? 4096 : 8192;
  return bits32((Math.floor(v * q + 0.5) / q) * Math.pow(2, -((e - 127 + odd) / 2)));
}
function approx_ps(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readW(cpu, d, VB, true);
  const B = VB.i32, R = VR.i32;
  for (let i = 0; i < 4; i++) R[i] = approx(d.op, B[i]);
  storeX(cpu, d.reg, VR);
}
function approx_ss(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readWlow(cpu, d, VB, 4);
  cpu.xmm[d.reg << 2] = approx(d.op, VB.i32[0]);
}

// ------------------------------------------------------------------------------ compares
function cmpps(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA); readW(cpu, d, VB, true);
  fpBegin(cpu);
  const A = VA.i32, B = VB.i32, R = VR.i32, p = d.imm & 7;
  for (let i = 0; i < 4; i++) R[i] = cmp32(p, A[i], B[i]) ? -1 : 0;
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
function cmppd(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA); readW(cpu, d, VB, true);
  fpBegin(cpu);
  const A = VA.i32, B = VB.i32, R = VR.i32, p = d.imm & 7;
  for (let i = 0; i < 4; i += 2) R[i] = R[i + 1] = cmp64(p, A[i], A[i + 1], B[i], B[i + 1]) ? -1 : 0;
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
function cmpss(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readWlow(cpu, d, VB, 4);
  fpBegin(cpu);
  const r = cmp32(d.imm & 7, cpu.xmm[d.reg << 2], VB.i32[0]) ? -1 : 0;
  fpEnd(cpu);
  cpu.xmm[d.reg << 2] = r;
}
function cmpsd(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readWlow(cpu, d, VB, 8);
  fpBegin(cpu);
  const o = d.reg << 2;
  const r = cmp64(d.imm & 7, cpu.xmm[o], cpu.xmm[o + 1], VB.i32[0], VB.i32[1]) ? -1 : 0;
  fpEnd(cpu);
  cpu.xmm[o] = r; cpu.xmm[o + 1] = r;
}
/** COMISS/UCOMISS/COMISD/UCOMISD: ZF PF CF = 111 unordered, 100 equal, 001 less, 000 greater; OF SF AF cleared. */
const COMI_FLAGS = [CF, ZF, 0, ZF | PF | CF];
function comis(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const dbl = (d.op & 2) !== 0, signalQ = (d.op & 1) !== 0;
  readWlow(cpu, d, VB, dbl ? 8 : 4);
  fpBegin(cpu);
  const o = d.reg << 2;
  const r = dbl ? compare64(signalQ, cpu.xmm[o], cpu.xmm[o + 1], VB.i32[0], VB.i32[1])
    : compare32(signalQ, cpu.xmm[o], VB.i32[0]);
  fpEnd(cpu);
  setArith(cpu.lf, COMI_FLAGS[r + 1]);
}

// ------------------------------------------------------------------- horizontal (SSE3)
/** HADDPS (op 0) / HSUBPS (op 1): [a0∘a1, a2∘a3, b0∘b1, b2∘b3]. */
function hps(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA); readW(cpu, d, VB, true);
  fpBegin(cpu);
  const A = VA.i32, B = VB.i32, R = VR.i32, op = d.op;
  R[0] = arith32(op, A[0], A[1]); R[1] = arith32(op, A[2], A[3]);
  R[2] = arith32(op, B[0], B[1]); R[3] = arith32(op, B[2], B[3]);
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
/** HADDPD / HSUBPD: [a0∘a1, b0∘b1]. */
function hpd(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA); readW(cpu, d, VB, true);
  fpBegin(cpu);
  const A = VA.i32, B = VB.i32, R = VR.i32;
  arith64(d.op, A[0], A[1], A[2], A[3]); R[0] = out.lo; R[1] = out.hi;
  arith64(d.op, B[0], B[1], B[2], B[3]); R[2] = out.lo; R[3] = out.hi;
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
/** ADDSUBPS: [a0-b0, a1+b1, a2-b2, a3+b3]; ADDSUBPD: [a0-b0, a1+b1]. */
function addsubps(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA); readW(cpu, d, VB, true);
  fpBegin(cpu);
  const A = VA.i32, B = VB.i32, R = VR.i32;
  for (let i = 0; i < 4; i++) R[i] = arith32(i & 1 ? OP_ADD : OP_SUB, A[i], B[i]);
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
function addsubpd(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA); readW(cpu, d, VB, true);
  fpBegin(cpu);
  e64(OP_SUB, VA.i32, 0, VB.i32, 0, VR.i32, 0);
  e64(OP_ADD, VA.i32, 2, VB.i32, 2, VR.i32, 2);
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}

// ------------------------------------------------------------------- dot product (SSE4.1)
/**
 * DPPS (SDM DPPS "DP_primitive"): products of the lanes selected by imm8[7:4] (others +0.0),
 * summed pairwise, each step rounded; the sum goes to the lanes selected by imm8[3:0], +0.0
 * elsewhere. The order of the operands of each addition decides which NaN propagates; the SDM's
 * pseudo-code does not fix it per lane. Measured on the Intel host: lane i receives
 * (t[i^1] + t[i]) + (t[i^3] + t[i^2]); DPPD lane i receives t[i] + t[i^1].
 */
const T = new Int32Array(4), S = new Int32Array(4);
function dpps(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA); readW(cpu, d, VB, true);
  fpBegin(cpu);
  const A = VA.i32, B = VB.i32, R = VR.i32, imm = d.imm;
  for (let i = 0; i < 4; i++) T[i] = imm & (0x10 << i) ? arith32(OP_MUL, A[i], B[i]) : 0;
  fpStage(cpu);   // an unmasked exception in the products stops here
  for (let i = 0; i < 4; i++) S[i] = arith32(OP_ADD, T[i ^ 1], T[i]);
  fpStage(cpu);
  for (let i = 0; i < 4; i++) {
    const s = arith32(OP_ADD, S[i], S[i ^ 2]);
    R[i] = imm & (1 << i) ? s : 0;
  }
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
function dppd(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA); readW(cpu, d, VB, true);
  fpBegin(cpu);
  const A = VA.i32, B = VB.i32, R = VR.i32, imm = d.imm;
  let l0 = 0, h0 = 0, l1 = 0, h1 = 0;
  if (imm & 0x10) { arith64(OP_MUL, A[0], A[1], B[0], B[1]); l0 = out.lo; h0 = out.hi; }
  if (imm & 0x20) { arith64(OP_MUL, A[2], A[3], B[2], B[3]); l1 = out.lo; h1 = out.hi; }
  fpStage(cpu);
  arith64(OP_ADD, l0, h0, l1, h1);
  R[0] = imm & 1 ? out.lo : 0; R[1] = imm & 1 ? out.hi : 0;
  arith64(OP_ADD, l1, h1, l0, h0);
  R[2] = imm & 2 ? out.lo : 0; R[3] = imm & 2 ? out.hi : 0;
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}

// ------------------------------------------------------------------- ROUND* (SSE4.1)
function roundps(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readW(cpu, d, VB, true);
  fpBegin(cpu);
  const B = VB.i32, R = VR.i32;
  for (let i = 0; i < 4; i++) R[i] = round32(B[i], d.imm);
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
function roundpd(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readW(cpu, d, VB, true);
  fpBegin(cpu);
  const B = VB.i32, R = VR.i32;
  for (let i = 0; i < 4; i += 2) { round64(B[i], B[i + 1], d.imm); R[i] = out.lo; R[i + 1] = out.hi; }
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
function roundss(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readWlow(cpu, d, VB, 4);
  fpBegin(cpu);
  const r = round32(VB.i32[0], d.imm);
  fpEnd(cpu);
  cpu.xmm[d.reg << 2] = r;
}
function roundsd(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readWlow(cpu, d, VB, 8);
  fpBegin(cpu);
  round64(VB.i32[0], VB.i32[1], d.imm);
  fpEnd(cpu);
  cpu.xmm[d.reg << 2] = out.lo; cpu.xmm[(d.reg << 2) + 1] = out.hi;
}

export const sseFpHandlers = {
  fp_ps, fp_pd, fp_ss, fp_sd, approx_ps, approx_ss, cmpps, cmppd, cmpss, cmpsd, comis,
  hps, hpd, addsubps, addsubpd, dpps, dppd, roundps, roundpd, roundss, roundsd,
};
