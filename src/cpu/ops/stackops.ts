import type { CPU } from '../cpu.js';
import { MODE_REAL, MODE_V86 } from '../cpu.js';
import type { Insn } from '../insn.js';
import { CpuFault } from '../fault.js';
import { RSP, RBP, SS, GP, VM, RF, IOPL, IF, AC, ID, NT, CF, PF, AF, ZF, SF, TF, DF, OF } from '../regs.js';
import { push, pop, stackAddr, setSp } from '../stack.js';
import { readE, memLin, writeLa } from './operands.js';
import { loadDataSeg } from '../segments.js';

/** PUSH/POP (all forms), PUSHA/POPA, PUSHF/POPF, ENTER/LEAVE (SDM Vol. 2). */

function push_z(cpu: CPU, d: Insn): void {
  const s = d.osize;
  push(cpu, s, cpu.lo[d.reg], cpu.hi[d.reg]);
}
function pop_z(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const v = pop(cpu, s);
  cpu.setReg(d.reg, s, v, cpu.vhi);
}
function push_imm(cpu: CPU, d: Insn): void { push(cpu, d.osize, d.imm, d.immHi); }
function push_ev(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const v = readE(cpu, d, s);
  push(cpu, s, v, cpu.vhi);
}
/** POP r/m: RSP is incremented before the destination address is computed (SDM POP). */
function pop_ev(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const sp0 = stackAddr(cpu, 0);
  const lo0 = cpu.lo[RSP], hi0 = cpu.hi[RSP];
  const v = pop(cpu, s), vh = cpu.vhi;
  try {
    if (d.rm >= 0) cpu.setReg(d.rm, s, v, vh);
    else writeLa(cpu, memLin(cpu, d, s, true), s, v, vh);
  } catch (e) { cpu.lo[RSP] = lo0; cpu.hi[RSP] = hi0; void sp0; throw e; }
}
function push_seg(cpu: CPU, d: Insn): void {
  // A 32/64-bit push of a segment register writes 16 bits (Intel: only the low word is written; we write the zero-extended value — both are permitted by the SDM's PUSH note)
  push(cpu, d.osize, cpu.segSel[d.op], 0);
}
function pop_seg(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const sel = peekSel(cpu, s);
  loadDataSeg(cpu, d.op, sel);
  setSp(cpu, stackAddr(cpu, s));
  if (d.op === SS) { cpu.intShadow = true; cpu.movSsShadow = true; } // blocking by MOV SS (VMX interruptibility state)
}
function peekSel(cpu: CPU, s: number): number {
  const la = cpu.linear(SS, stackAddr(cpu, 0), s, false);
  return cpu.rd16(la);
}
function pusha(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const sp = cpu.lo[RSP];
  const vals = [cpu.lo[0], cpu.lo[1], cpu.lo[2], cpu.lo[3], sp, cpu.lo[5], cpu.lo[6], cpu.lo[7]];
  const sp0 = stackAddr(cpu, 0);
  try { for (const v of vals) push(cpu, s, v); } catch (e) { setSp(cpu, sp0); throw e; }
}
function popa(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const vals: number[] = [];
  const sp0 = stackAddr(cpu, 0);
  try { for (let i = 0; i < 8; i++) vals.push(pop(cpu, s)); } catch (e) { setSp(cpu, sp0); throw e; }
  for (let i = 0; i < 8; i++) { const r = 7 - i; if (r !== RSP) cpu.setReg(r, s, vals[i], 0); }
}
/** PUSHF: the image has VM and RF clear (SDM PUSHF). */
function pushf(cpu: CPU, d: Insn): void {
  if (cpu.mode === MODE_V86 && ((cpu.eflags & IOPL) >> 12) < 3) throw new CpuFault(GP, 0);
  const f = cpu.getFlags() & ~(VM | RF);
  push(cpu, d.osize, d.osize === 2 ? f & 0xffff : f, 0);
}
/** POPF: which bits change depends on CPL and IOPL (SDM POPF operation table). */
function popf(cpu: CPU, d: Insn): void {
  const s = d.osize;
  if (cpu.mode === MODE_V86 && ((cpu.eflags & IOPL) >> 12) < 3) throw new CpuFault(GP, 0);
  const v = pop(cpu, s);
  let mask = CF | PF | AF | ZF | SF | TF | DF | OF | NT;
  if (s >= 4) mask |= AC | ID;
  const iopl = (cpu.eflags & IOPL) >> 12;
  if (cpu.mode === MODE_REAL || cpu.cpl === 0) mask |= IOPL | IF;
  else if (cpu.cpl <= iopl) mask |= IF;
  if (cpu.mode === MODE_V86) mask = (mask | IF) & ~IOPL;
  cpu.setFlags(v, mask);
  cpu.eflags &= ~RF;
}
/** ENTER imm16, imm8 (nesting level mod 32). */
function enter(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const size = d.imm & 0xffff, level = d.imm2 & 31;
  const sp0 = stackAddr(cpu, 0);
  const lo0 = cpu.lo[RSP], hi0 = cpu.hi[RSP];
  try {
    push(cpu, s, cpu.lo[RBP], cpu.hi[RBP]);
    const frame = stackAddr(cpu, 0);
    if (level > 0) {
      let bp = cpu.stackSize === 8 ? cpu.reg64n(RBP) : cpu.stackSize === 4 ? cpu.lo[RBP] >>> 0 : cpu.lo[RBP] & 0xffff;
      for (let i = 1; i < level; i++) {
        bp = cpu.stackSize === 8 ? bp - s : cpu.stackSize === 4 ? (bp - s) >>> 0 : (bp - s) & 0xffff;
        const la = cpu.linear(SS, bp, s, false);
        const v = s === 8 ? cpu.rd64(la) : s === 4 ? cpu.rd32(la) : cpu.rd16(la);
        push(cpu, s, v, s === 8 ? cpu.vhi : 0);
      }
      push(cpu, s, frame >>> 0 | 0, s === 8 ? Math.floor(frame / 4294967296) | 0 : 0);
    }
    // touch the new stack bottom so a fault happens now (SDM ENTER: "the processor ... checks")
    const newSp = stackAddr(cpu, -size);
    // the host CPU faults (#PF, CR2 = new RSP) when the final stack top is not writable
    cpu.probeWrite(cpu.linear(SS, newSp, 1, true), 1);
    if (s === 8) cpu.setReg(RBP, 8, frame >>> 0 | 0, Math.floor(frame / 4294967296) | 0);
    else cpu.setReg(RBP, s, frame, 0);
    setSp(cpu, newSp);
  } catch (e) { cpu.lo[RSP] = lo0; cpu.hi[RSP] = hi0; void sp0; throw e; }
}
function leave(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const lo0 = cpu.lo[RSP], hi0 = cpu.hi[RSP];
  if (cpu.stackSize === 8) { cpu.lo[RSP] = cpu.lo[RBP]; cpu.hi[RSP] = cpu.hi[RBP]; }
  else if (cpu.stackSize === 4) cpu.lo[RSP] = cpu.lo[RBP];
  else cpu.lo[RSP] = (cpu.lo[RSP] & ~0xffff) | (cpu.lo[RBP] & 0xffff);
  try {
    const v = pop(cpu, s);
    cpu.setReg(RBP, s, v, cpu.vhi);
  } catch (e) { cpu.lo[RSP] = lo0; cpu.hi[RSP] = hi0; throw e; }
}

export const stackHandlers = { push_z, pop_z, push_imm, push_ev, pop_ev, push_seg, pop_seg, pusha, popa, pushf, popf, enter, leave };
