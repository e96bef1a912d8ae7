import type { CPU } from '../cpu.js';
import { type Insn, I_REXW } from '../insn.js';
import { CpuFault } from '../fault.js';
import { CR0_EM, CR0_TS, GP, UD, NM } from '../regs.js';
import { sseCheck } from '../xmm.js';
import { memLin } from './operands.js';

/**
 * MXCSR and the FXSAVE area (SDM Vol. 2 LDMXCSR, STMXCSR, FXSAVE, FXRSTOR; Vol. 1 "FXSAVE Area"
 * Tables 10-2/10-3).
 */

/** Bits of MXCSR that can be set (MXCSR_MASK reported by FXSAVE: DAZ supported). */
export const MXCSR_MASK = 0xffff;

/** LDMXCSR m32: #GP(0) when a reserved bit (outside MXCSR_MASK) is set. */
function ldmxcsr(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const v = cpu.rd32(memLin(cpu, d, 4, false));
  if (v & ~MXCSR_MASK) throw new CpuFault(GP, 0);
  cpu.mxcsr = v;
}
function stmxcsr(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  cpu.wr32(memLin(cpu, d, 4, true), cpu.mxcsr);
}

const IMG = new Uint8Array(512);
const IMGV = new DataView(IMG.buffer);

/**
 * #UD if CR0.EM, #NM if CR0.TS, #GP(0) unless 16-byte aligned. CR4.OSFXSR is not checked: without it
 * "the XMM registers may not be saved" (implementation dependent); vmxray saves and restores them always.
 */
function fxCheck(cpu: CPU, d: Insn, write: boolean): number {
  if (cpu.cr0 & CR0_EM) throw new CpuFault(UD);
  if (cpu.cr0 & CR0_TS) throw new CpuFault(NM);
  const la = memLin(cpu, d, 512, write);
  if (la & 15) throw new CpuFault(GP, 0);
  return la;
}
/** A pointer (a Number, possibly a signed canonical address) as two little-endian dwords at off. */
function put64(off: number, v: number): void {
  const hi = Math.floor(v / 4294967296);
  IMGV.setInt32(off, (v - hi * 4294967296) | 0, true);
  IMGV.setInt32(off + 4, hi | 0, true);
}

/**
 * FXSAVE m512 (REX.W: FXSAVE64, 64-bit instruction and data pointers). Writes bytes 0–415: the x87
 * environment, MXCSR and MXCSR_MASK, ST0–ST7 (stack order, 80-bit, 6 reserved zero bytes each),
 * XMM0–XMM15 (XMM0–7 outside 64-bit mode); reserved fields are written as zero; bytes 416–511 are
 * left alone (as this Intel host does).
 */
function fxsave(cpu: CPU, d: Insn): void {
  const la = fxCheck(cpu, d, true);
  const f = cpu.fpu, v = IMGV;
  IMG.fill(0, 0, 416);
  v.setUint16(0, f.cw, true);
  v.setUint16(2, f.statusWord(), true);
  IMG[4] = f.abridgedTag();
  v.setUint16(6, f.fop & 0x7ff, true);
  put64(8, f.fip); put64(16, f.fdp);
  if (!(d.flags & I_REXW)) {
    // 32-bit format: FIP, FCS, FDP, FDS (the bytes after each selector are reserved: zero)
    v.setUint32(12, f.fcs & 0xffff, true);
    v.setUint32(20, f.fds & 0xffff, true);
  }
  v.setInt32(24, cpu.mxcsr, true);
  v.setInt32(28, MXCSR_MASK, true);
  for (let i = 0; i < 8; i++) f.storeST(i, IMG, 32 + 16 * i);
  const n = cpu.long64 ? 16 : 8;
  for (let i = 0; i < n * 4; i++) v.setInt32(160 + 4 * i, cpu.xmm[i], true);
  const end = 160 + 16 * n;
  cpu.probeWrite(la, end);
  for (let o = 0; o < end; o += 8) cpu.wr64(la + o, v.getInt32(o, true), v.getInt32(o + 4, true));
}

/**
 * FXRSTOR m512: #GP(0) if the MXCSR image has a reserved bit set (nothing is loaded then). The
 * abridged tag byte marks each physical register empty or not (X87 recomputes full tags on demand).
 */
function fxrstor(cpu: CPU, d: Insn): void {
  const la = fxCheck(cpu, d, false);
  const n = cpu.long64 ? 16 : 8;
  const end = 160 + 16 * n;
  cpu.probeRead(la, end);
  for (let o = 0; o < end; o += 4) IMGV.setInt32(o, cpu.rd32(la + o), true);
  const v = IMGV, f = cpu.fpu;
  const mx = v.getInt32(24, true);
  if (mx & ~MXCSR_MASK) throw new CpuFault(GP, 0);
  f.setStatusWord(v.getUint16(2, true));
  f.setControlWord(v.getUint16(0, true));
  f.fop = v.getUint16(6, true) & 0x7ff;
  if (d.flags & I_REXW) {
    f.fip = v.getUint32(8, true) + v.getInt32(12, true) * 4294967296;
    f.fdp = v.getUint32(16, true) + v.getInt32(20, true) * 4294967296;
  } else {
    f.fip = v.getUint32(8, true); f.fcs = v.getUint16(12, true);
    f.fdp = v.getUint32(16, true); f.fds = v.getUint16(20, true);
  }
  for (let i = 0; i < 8; i++) f.loadST(i, IMG, 32 + 16 * i);
  f.setAbridgedTag(IMG[4]);
  cpu.mxcsr = mx;
  for (let i = 0; i < n * 4; i++) cpu.xmm[i] = v.getInt32(160 + 4 * i, true);
}

export const sseStateHandlers = { ldmxcsr, stmxcsr, fxsave, fxrstor };
