import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import { I_REXW } from '../insn.js';
import { condition, setSome, getZF } from '../flags.js';
import { CF, PF, AF, ZF, SF, SS, CS, UD, RAX, RDX, RCX, RBX } from '../regs.js';
import { CpuFault } from '../fault.js';
import { readE, writeE, readG, writeG, memLin, readLa, writeLa, ea, ea64, imm, maskTo } from './operands.js';
import { compute, SUB, ADD } from './alu.js';
import { loadDataSeg } from '../segments.js';

/** Data movement: MOV forms, MOVZX/MOVSX/MOVSXD, LEA, XCHG, CMPXCHG*, XADD, CBW.., LAHF/SAHF, CMOVcc, SETcc, BSWAP, XLAT. */

function mov_eg(cpu: CPU, d: Insn): void { const s = d.osize; writeE(cpu, d, s, readG(cpu, d, s), cpu.vhi); }
function mov_ge(cpu: CPU, d: Insn): void { const s = d.osize; writeG(cpu, d, s, readE(cpu, d, s), cpu.vhi); }
function mov_ei(cpu: CPU, d: Insn): void { const s = d.osize; writeE(cpu, d, s, imm(d, s), d.immHi); }
function mov_zi(cpu: CPU, d: Insn): void { const s = d.osize; cpu.setReg(d.reg, s, imm(d, s), d.immHi); }
/** MOV AL/rAX, moffs and back (A0–A3): op 0 loads the accumulator, op 1 stores it. */
function mov_moffs(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const la = cpu.linear(d.seg, d.disp, s, d.op === 1);
  if (d.op === 0) cpu.setReg(RAX, s, readLa(cpu, la, s), cpu.vhi);
  else writeLa(cpu, la, s, cpu.getReg(RAX, s), cpu.vhi);
}
function movzx(cpu: CPU, d: Insn): void { writeG(cpu, d, d.osize, readE(cpu, d, d.size2), 0); }
function movsx(cpu: CPU, d: Insn): void {
  const v = readE(cpu, d, d.size2);
  const x = d.size2 === 1 ? (v << 24) >> 24 : (v << 16) >> 16;
  writeG(cpu, d, d.osize, maskTo(d.osize, x), x >> 31);
}
function movsxd(cpu: CPU, d: Insn): void {
  const v = readE(cpu, d, 4);
  if (d.osize === 8) writeG(cpu, d, 8, v, v >> 31); else writeG(cpu, d, d.osize, maskTo(d.osize, v), 0);
}
function lea(cpu: CPU, d: Insn): void {
  if (d.asize === 8) {
    const lo = ea64(cpu, d);
    if (d.osize === 8) cpu.setReg(d.reg, 8, lo | 0, cpu.vhi);
    else cpu.setReg(d.reg, d.osize, maskTo(d.osize, lo), 0);
    return;
  }
  cpu.setReg(d.reg, d.osize, maskTo(d.osize, ea(cpu, d)), 0);
}
function xchg(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const g = readG(cpu, d, s), gh = cpu.vhi;
  if (d.rm >= 0) {
    const e = cpu.getReg(d.rm, s), eh = cpu.vhi;
    cpu.setReg(d.rm, s, g, gh);
    cpu.setReg(d.reg, s, e, eh);
  } else {
    const la = memLin(cpu, d, s, true);
    const e = readLa(cpu, la, s), eh = cpu.vhi;
    writeLa(cpu, la, s, g, gh);
    cpu.setReg(d.reg, s, e, eh);
  }
}
function xchg_ax(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const a = cpu.getReg(RAX, s), ah = cpu.vhi;
  const r = cpu.getReg(d.reg, s), rh = cpu.vhi;
  cpu.setReg(RAX, s, r, rh);
  cpu.setReg(d.reg, s, a, ah);
}
function nop(): void { /* no operation */ }
function cbw(cpu: CPU, d: Insn): void {
  const v = cpu.lo[RAX];
  if (d.osize === 2) cpu.setReg(RAX, 2, (v << 24) >> 24, 0);
  else if (d.osize === 4) cpu.setReg(RAX, 4, (v << 16) >> 16, 0);
  else cpu.setReg(RAX, 8, v, v >> 31);
}
function cwd(cpu: CPU, d: Insn): void {
  if (d.osize === 2) cpu.setReg(RDX, 2, (cpu.lo[RAX] << 16) >> 31, 0);
  else if (d.osize === 4) cpu.setReg(RDX, 4, cpu.lo[RAX] >> 31, 0);
  else { const s = cpu.hi[RAX] >> 31; cpu.setReg(RDX, 8, s, s); }
}
function lahf(cpu: CPU): void {
  cpu.setReg(16, 1, cpu.getFlags() & 0xff, 0); // AH (LAHF in 64-bit mode needs CPUID.80000001H:ECX.LAHF-SAHF, which we report)
}
function sahf(cpu: CPU): void {
  const ah = (cpu.lo[RAX] >> 8) & 0xff;
  setSome(cpu.lf, CF | PF | AF | ZF | SF, ah);
}
function cmovcc(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const v = readE(cpu, d, s), vh = cpu.vhi; // the source is read (and may fault) even if the condition is false
  if (condition(cpu.lf, d.op)) writeG(cpu, d, s, v, vh);
  else if (s === 4) cpu.hi[d.reg] = 0;     // 32-bit CMOVcc zero-extends the destination either way in 64-bit mode
}
function setcc(cpu: CPU, d: Insn): void { writeE(cpu, d, 1, condition(cpu.lf, d.op) ? 1 : 0, 0); }
function bswap(cpu: CPU, d: Insn): void {
  const r = d.reg;
  const sw = (x: number) => ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
  if (d.flags & I_REXW) { const lo = cpu.lo[r], hi = cpu.hi[r]; cpu.lo[r] = sw(hi); cpu.hi[r] = sw(lo); }
  else cpu.setReg(r, 4, sw(cpu.lo[r]), 0);
}
function xlat(cpu: CPU, d: Insn): void {
  const base = d.asize === 8 ? cpu.reg64n(RBX) : d.asize === 4 ? cpu.lo[RBX] >>> 0 : cpu.lo[RBX] & 0xffff;
  let off = base + (cpu.lo[RAX] & 0xff);
  if (d.asize === 4) off = off >>> 0; else if (d.asize === 2) off &= 0xffff;
  cpu.setReg(0, 1, cpu.rd8(cpu.linear(d.seg, off, 1, false)), 0);
}
function cmpxchg(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const la = d.rm >= 0 ? 0 : memLin(cpu, d, s, true);
  const dst = d.rm >= 0 ? cpu.getReg(d.rm, s) : readLa(cpu, la, s), dh = cpu.vhi;
  const acc = cpu.getReg(RAX, s), acch = cpu.vhi;
  compute(cpu, SUB, s, acc, acch, dst, dh);
  if (getZF(cpu.lf)) {
    const src = readG(cpu, d, s);
    if (d.rm >= 0) cpu.setReg(d.rm, s, src, cpu.vhi); else writeLa(cpu, la, s, src, cpu.vhi);
  } else {
    // The destination is written back with its own value (a locked RMW always writes) — SDM CMPXCHG.
    if (d.rm < 0) writeLa(cpu, la, s, dst, dh);
    cpu.setReg(RAX, s, dst, dh);
  }
}
function xadd(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const src = readG(cpu, d, s), sh = cpu.vhi;
  if (d.rm >= 0) {
    const dst = cpu.getReg(d.rm, s), dh = cpu.vhi;
    const r = compute(cpu, ADD, s, dst, dh, src, sh), rh = cpu.vhi;
    cpu.setReg(d.reg, s, dst, dh);
    cpu.setReg(d.rm, s, r, rh);
  } else {
    const la = memLin(cpu, d, s, true);
    const dst = readLa(cpu, la, s), dh = cpu.vhi;
    const r = compute(cpu, ADD, s, dst, dh, src, sh);
    writeLa(cpu, la, s, r, cpu.vhi);
    cpu.setReg(d.reg, s, dst, dh);
  }
}
function cmpxchg8b(cpu: CPU, d: Insn): void {
  const la = memLin(cpu, d, 8, true);
  const lo = cpu.rd64(la), hi = cpu.vhi;
  if (lo === cpu.lo[RAX] && hi === cpu.lo[RDX]) {
    setSome(cpu.lf, ZF, ZF);
    cpu.wr64(la, cpu.lo[RBX], cpu.lo[RCX]);
  } else {
    setSome(cpu.lf, ZF, 0);
    cpu.wr64(la, lo, hi);
    cpu.setReg(RAX, 4, lo, 0); cpu.setReg(RDX, 4, hi, 0);
  }
}
function cmpxchg16b(cpu: CPU, d: Insn): void {
  const la = memLin(cpu, d, 16, true);
  if (la % 16 !== 0) throw new CpuFault(13, 0); // must be 16-byte aligned (SDM CMPXCHG16B)
  cpu.probeWrite(la, 16);
  const l0 = cpu.rd64(la), h0 = cpu.vhi, l1 = cpu.rd64(la + 8), h1 = cpu.vhi;
  if (l0 === cpu.lo[RAX] && h0 === cpu.hi[RAX] && l1 === cpu.lo[RDX] && h1 === cpu.hi[RDX]) {
    setSome(cpu.lf, ZF, ZF);
    cpu.wr64(la, cpu.lo[RBX], cpu.hi[RBX]); cpu.wr64(la + 8, cpu.lo[RCX], cpu.hi[RCX]);
  } else {
    setSome(cpu.lf, ZF, 0);
    cpu.wr64(la, l0, h0); cpu.wr64(la + 8, l1, h1);
    cpu.setReg(RAX, 8, l0, h0); cpu.setReg(RDX, 8, l1, h1);
  }
}
/** MOV r/m, Sreg: a register destination gets the selector zero-extended to the operand size; memory gets 16 bits. */
function mov_from_seg(cpu: CPU, d: Insn): void {
  if (d.reg & 7) { if ((d.reg & 7) > 5) throw new CpuFault(UD); }
  const v = cpu.segSel[d.reg & 7];
  if (d.rm >= 0) cpu.setReg(d.rm, d.osize, v, 0); else writeE(cpu, d, 2, v, 0);
}
function mov_to_seg(cpu: CPU, d: Insn): void {
  const sr = d.reg & 7;
  if (sr === CS || sr > 5) throw new CpuFault(UD);
  loadDataSeg(cpu, sr, readE(cpu, d, 2));
  if (sr === SS) { cpu.intShadow = true; cpu.movSsShadow = true; } // blocking by MOV SS (VMX interruptibility state)
}
/** LDS/LES/LSS/LFS/LGS: offset of the operand size, then the 16-bit selector. */
function load_far_ptr(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const la = memLin(cpu, d, s + 2, false);
  const off = readLa(cpu, la, s), offh = cpu.vhi;
  const sel = cpu.rd16(s === 8 ? la + 8 : la + s);
  loadDataSeg(cpu, d.op, sel);
  writeG(cpu, d, s, off, offh);
}

/** ARPL r/m16, r16: raise the destination selector's RPL to the source's (ZF = adjusted); #UD in real and V86 mode (SDM ARPL). */
function arpl(cpu: CPU, d: Insn): void {
  if (cpu.mode === 0 || cpu.mode === 2) throw new CpuFault(UD);
  const src = readG(cpu, d, 2);
  const la = d.rm >= 0 ? 0 : memLin(cpu, d, 2, true);
  const dst = d.rm >= 0 ? cpu.getReg(d.rm, 2) : readLa(cpu, la, 2);
  if ((dst & 3) < (src & 3)) {
    const v = (dst & ~3) | (src & 3);
    if (d.rm >= 0) cpu.setReg(d.rm, 2, v, 0); else writeLa(cpu, la, 2, v, 0);
    setSome(cpu.lf, ZF, ZF);
  } else setSome(cpu.lf, ZF, 0);
}

export const dataHandlers = { arpl,
  mov_eg, mov_ge, mov_ei, mov_zi, mov_moffs, movzx, movsx, movsxd, lea, xchg, xchg_ax, nop, pause: nop, cbw, cwd, lahf, sahf,
  cmovcc, setcc, bswap, xlat, cmpxchg, xadd, cmpxchg8b, cmpxchg16b, mov_from_seg, mov_to_seg, load_far_ptr,
};
