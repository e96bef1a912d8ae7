import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import { VB, VR, sseCheck, storeX, readW, readWlow } from '../xmm.js';
import { readE } from './operands.js';
import {
  out, fpBegin, fpEnd, setOut64, cvt32to64, cvt64to32, cvtI32to32, cvtI64to32, cvtI64to64, cvt32toInt, cvt64toInt,
} from './sse-softfloat.js';

/**
 * SSE/SSE2 conversions (SDM Vol. 2 CVT* pages): between binary32, binary64 and signed 32/64-bit
 * integers, rounded under MXCSR.RC (CVTT*: truncated); out-of-range and NaN sources give the
 * integer indefinite value with IE; inexact results set PE.
 */

/** CVTSI2SS xmm, r/m32|r/m64 (REX.W) */
function cvtsi2ss(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const s = d.size2;
  const lo = readE(cpu, d, s), hi = cpu.vhi;
  fpBegin(cpu);
  const r = s === 8 ? cvtI64to32(lo, hi) : cvtI32to32(lo);
  fpEnd(cpu);
  cpu.xmm[d.reg << 2] = r;
}
/** CVTSI2SD xmm, r/m32 (exact) | r/m64 (rounded) */
function cvtsi2sd(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const s = d.size2;
  const lo = readE(cpu, d, s), hi = cpu.vhi;
  fpBegin(cpu);
  if (s === 8) cvtI64to64(lo, hi); else setOut64(lo);
  fpEnd(cpu);
  cpu.xmm[d.reg << 2] = out.lo; cpu.xmm[(d.reg << 2) + 1] = out.hi;
}
/** CVTSS2SI / CVTTSS2SI (op 1) r32|r64, xmm/m32 */
function cvtss2si(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readWlow(cpu, d, VB, 4);
  fpBegin(cpu);
  const r = cvt32toInt(VB.i32[0], d.osize, d.op === 1);
  fpEnd(cpu);
  cpu.setReg(d.reg, d.osize, r, out.hi);
}
/** CVTSD2SI / CVTTSD2SI (op 1) r32|r64, xmm/m64 */
function cvtsd2si(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readWlow(cpu, d, VB, 8);
  fpBegin(cpu);
  const r = cvt64toInt(VB.i32[0], VB.i32[1], d.osize, d.op === 1);
  fpEnd(cpu);
  cpu.setReg(d.reg, d.osize, r, out.hi);
}
function cvtss2sd(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readWlow(cpu, d, VB, 4);
  fpBegin(cpu);
  cvt32to64(VB.i32[0]);
  fpEnd(cpu);
  cpu.xmm[d.reg << 2] = out.lo; cpu.xmm[(d.reg << 2) + 1] = out.hi;
}
function cvtsd2ss(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readWlow(cpu, d, VB, 8);
  fpBegin(cpu);
  const r = cvt64to32(VB.i32[0], VB.i32[1]);
  fpEnd(cpu);
  cpu.xmm[d.reg << 2] = r;
}
/** CVTPS2PD xmm, xmm/m64 */
function cvtps2pd(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readWlow(cpu, d, VB, 8);
  fpBegin(cpu);
  const B = VB.i32, R = VR.i32;
  cvt32to64(B[0]); R[0] = out.lo; R[1] = out.hi;
  cvt32to64(B[1]); R[2] = out.lo; R[3] = out.hi;
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
/** CVTPD2PS xmm, xmm/m128: two results in the low quadword, the high quadword zeroed. */
function cvtpd2ps(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readW(cpu, d, VB, true);
  fpBegin(cpu);
  const B = VB.i32, R = VR.i32;
  R[0] = cvt64to32(B[0], B[1]); R[1] = cvt64to32(B[2], B[3]); R[2] = 0; R[3] = 0;
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
function cvtdq2ps(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readW(cpu, d, VB, true);
  fpBegin(cpu);
  const B = VB.i32, R = VR.i32;
  for (let i = 0; i < 4; i++) R[i] = cvtI32to32(B[i]);
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
/** CVTPS2DQ (op 0) / CVTTPS2DQ (op 1) */
function cvtps2dq(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readW(cpu, d, VB, true);
  fpBegin(cpu);
  const B = VB.i32, R = VR.i32;
  for (let i = 0; i < 4; i++) R[i] = cvt32toInt(B[i], 4, d.op === 1);
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}
/** CVTDQ2PD xmm, xmm/m64 (exact) */
function cvtdq2pd(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readWlow(cpu, d, VB, 8);
  const B = VB.i32, R = VR.i32;
  setOut64(B[0]); R[0] = out.lo; R[1] = out.hi;
  setOut64(B[1]); R[2] = out.lo; R[3] = out.hi;
  storeX(cpu, d.reg, VR);
}
/** CVTPD2DQ (op 0) / CVTTPD2DQ (op 1): two results in the low quadword, the high quadword zeroed. */
function cvtpd2dq(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readW(cpu, d, VB, true);
  fpBegin(cpu);
  const B = VB.i32, R = VR.i32;
  R[0] = cvt64toInt(B[0], B[1], 4, d.op === 1); R[1] = cvt64toInt(B[2], B[3], 4, d.op === 1); R[2] = 0; R[3] = 0;
  fpEnd(cpu);
  storeX(cpu, d.reg, VR);
}

export const sseConvertHandlers = {
  cvtsi2ss, cvtsi2sd, cvtss2si, cvtsd2si, cvtss2sd, cvtsd2ss, cvtps2pd, cvtpd2ps, cvtdq2ps, cvtps2dq, cvtdq2pd, cvtpd2dq,
};
