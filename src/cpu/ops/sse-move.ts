import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import { VA, VB, sseCheck, loadX, storeX, readW, writeW, readWlow } from '../xmm.js';
import { readE, writeE, memLin } from './operands.js';

/**
 * SSE data movement (SDM Vol. 2 pages of MOVAPS ... PMOVMSKB). Row constant `op` = 1 when the
 * 16-byte memory operand must be 16-byte aligned (MOVAPS/MOVAPD/MOVDQA/MOVNT*: #GP(0) otherwise).
 * Non-temporal hints are ignored (plain stores/loads).
 */

/** xmm ← xmm/m128 (MOVUPS MOVAPS MOVDQU MOVDQA LDDQU MOVNTDQA) */
function movx_load(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readW(cpu, d, VB, d.op === 1);
  storeX(cpu, d.reg, VB);
}
/** xmm/m128 ← xmm */
function movx_store(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA);
  writeW(cpu, d, VA, d.op === 1);
}
/** MOVSS (op 4) / MOVSD (op 8) xmm, xmm/m: register source merges the low element; memory zeroes the rest. */
function movs_load(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const o = d.reg << 2, x = cpu.xmm;
  if (d.rm >= 0) {
    const s = d.rm << 2;
    x[o] = x[s];
    if (d.op === 8) x[o + 1] = x[s + 1];
    return;
  }
  readWlow(cpu, d, VB, d.op);
  storeX(cpu, d.reg, VB);
}
/** MOVSS/MOVSD xmm/m, xmm */
function movs_store(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const s = d.reg << 2, x = cpu.xmm;
  if (d.rm >= 0) {
    const o = d.rm << 2;
    x[o] = x[s];
    if (d.op === 8) x[o + 1] = x[s + 1];
    return;
  }
  const la = memLin(cpu, d, d.op, true);
  if (d.op === 8) cpu.wr64(la, x[s], x[s + 1]); else cpu.wr32(la, x[s]);
}
/** MOVD/MOVQ xmm, r/m32|r/m64 (66 0F 6E): zero-extended to 128 bits. */
function movd_load(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const s = d.size2;
  const lo = readE(cpu, d, s), hi = s === 8 ? cpu.vhi : 0;
  const o = d.reg << 2, x = cpu.xmm;
  x[o] = lo; x[o + 1] = hi; x[o + 2] = 0; x[o + 3] = 0;
}
/** MOVD/MOVQ r/m32|r/m64, xmm (66 0F 7E) */
function movd_store(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const o = d.reg << 2, x = cpu.xmm;
  writeE(cpu, d, d.osize, x[o], x[o + 1]);
}
/** MOVQ xmm, xmm/m64 (F3 0F 7E): low quadword, upper zeroed. */
function movq_load(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  readWlow(cpu, d, VB, 8);
  const o = d.reg << 2, x = cpu.xmm;
  x[o] = VB.i32[0]; x[o + 1] = VB.i32[1]; x[o + 2] = 0; x[o + 3] = 0;
}
/** MOVQ xmm/m64, xmm (66 0F D6): a register destination has its upper quadword zeroed. */
function movq_store(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const s = d.reg << 2, x = cpu.xmm;
  if (d.rm >= 0) {
    const o = d.rm << 2;
    x[o] = x[s]; x[o + 1] = x[s + 1]; x[o + 2] = 0; x[o + 3] = 0;
    return;
  }
  cpu.wr64(memLin(cpu, d, 8, true), x[s], x[s + 1]);
}
/**
 * Half moves. op: 0 = low qword ← m64 (MOVLPS/MOVLPD load), 1 = high qword ← m64 (MOVHPS/MOVHPD),
 * 2 = MOVHLPS (low ← src high), 3 = MOVLHPS (high ← src low).
 */
function movhalf_load(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const o = d.reg << 2, x = cpu.xmm;
  let lo: number, hi: number;
  if (d.rm >= 0) {
    const s = (d.rm << 2) + (d.op === 2 ? 2 : 0);
    lo = x[s]; hi = x[s + 1];
  } else {
    lo = cpu.rd64(memLin(cpu, d, 8, false)); hi = cpu.vhi;
  }
  const t = o + (d.op === 0 || d.op === 2 ? 0 : 2);
  x[t] = lo; x[t + 1] = hi;
}
/** MOVLPS/MOVLPD m64, xmm (op 0) and MOVHPS/MOVHPD m64, xmm (op 1) */
function movhalf_store(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const s = (d.reg << 2) + (d.op ? 2 : 0), x = cpu.xmm;
  cpu.wr64(memLin(cpu, d, 8, true), x[s], x[s + 1]);
}
/** MOVDDUP (op 0): [q0, q0] from xmm/m64; MOVSLDUP (op 1): [d0 d0 d2 d2]; MOVSHDUP (op 2): [d1 d1 d3 d3]. */
function movdup(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const B = VB.i32;
  if (d.op === 0) {
    readWlow(cpu, d, VB, 8);
    B[2] = B[0]; B[3] = B[1];
  } else {
    readW(cpu, d, VB, true);
    const k = d.op === 1 ? 0 : 1;
    const a = B[k], b = B[k + 2];
    B[0] = a; B[1] = a; B[2] = b; B[3] = b;
  }
  storeX(cpu, d.reg, VB);
}
/** MOVMSKPS (op 4) / MOVMSKPD (op 8) / PMOVMSKB (op 1): sign bits of each element into a GPR (zero-extended). */
function movmsk(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.rm, VA);
  let m = 0;
  if (d.op === 4) { for (let i = 0; i < 4; i++) m |= (VA.i32[i] >>> 31) << i; }
  else if (d.op === 8) m = (VA.i32[1] >>> 31) | ((VA.i32[3] >>> 31) << 1);
  else { for (let i = 0; i < 16; i++) m |= (VA.u8[i] >> 7) << i; }
  cpu.setReg(d.reg, d.osize === 8 ? 8 : 4, m, 0);
}
/** MASKMOVDQU xmm1, xmm2: store the bytes of xmm1 whose mask byte in xmm2 has bit 7 set, at DS:rDI. */
function maskmovdqu(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA); loadX(cpu, d.rm, VB);
  const di = d.asize === 8 ? cpu.reg64n(7) : d.asize === 4 ? cpu.lo[7] >>> 0 : cpu.lo[7] & 0xffff;
  const la = cpu.linear(d.seg, di, 16, true);
  let any = false;
  for (let i = 0; i < 16; i++) if (VB.u8[i] & 0x80) any = true;
  if (!any) return;
  cpu.probeWrite(la, 16);
  for (let i = 0; i < 16; i++) if (VB.u8[i] & 0x80) cpu.wr8(la + i, VA.u8[i]);
}
/** MOVNTI m32/m64, r32/r64 */
function movnti(cpu: CPU, d: Insn): void {
  writeE(cpu, d, d.osize, cpu.getReg(d.reg, d.osize), cpu.vhi);
}

export const sseMoveHandlers = {
  movx_load, movx_store, movs_load, movs_store, movd_load, movd_store, movq_load, movq_store, movhalf_load,
  movhalf_store, movdup, movmsk, maskmovdqu, movnti,
};
