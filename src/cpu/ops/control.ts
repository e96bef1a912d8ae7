import type { CPU } from '../cpu.js';
import { MODE_LONG, MODE_V86 } from '../cpu.js';
import type { Insn } from '../insn.js';
import { condition, getOF, getZF } from '../flags.js';
import { CpuFault } from '../fault.js';
import { CS, GP, RCX } from '../regs.js';
import { push, pop, stackAddr, setSp } from '../stack.js';
import { readE, memLin, readLa } from './operands.js';
import { deliver, EV_SOFT, EV_SOFT_EXC, EV_ICEBP } from '../exceptions.js';
import { farJump, farReturn, iret } from './far.js';
import { checkIntN } from '../v86.js';

/** Near and far control transfers, LOOP family, INT n/INT3/INTO/INT1, IRET (SDM Vol. 2). */

/** Set the next RIP for a near transfer, with the canonical (64-bit) or CS-limit checks; #GP(0) otherwise. */
export function nearTarget(cpu: CPU, size: number, target: number): number {
  if (cpu.mode === MODE_LONG) {
    if (target >= 140737488355328 || target < -140737488355328) throw new CpuFault(GP, 0);
    return target;
  }
  const t = size === 2 ? target & 0xffff : target >>> 0;
  if (t > cpu.segLimit[CS]) throw new CpuFault(GP, 0);
  return t;
}
/** A 64-bit register/memory value (lo, hi) as a Number address. */
export function addr64(lo: number, hi: number): number { return (hi | 0) * 4294967296 + (lo >>> 0); }

function jcc(cpu: CPU, d: Insn): void {
  if (condition(cpu.lf, d.op)) cpu.nip = nearTarget(cpu, d.osize, cpu.nip + d.imm);
}
function jmp(cpu: CPU, d: Insn): void { cpu.nip = nearTarget(cpu, d.osize, cpu.nip + d.imm); }
function jmp_ev(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const v = readE(cpu, d, s);
  cpu.nip = nearTarget(cpu, s, s === 8 ? addr64(v, cpu.vhi) : v >>> 0);
}
function call(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const t = nearTarget(cpu, s, cpu.nip + d.imm);
  pushRip(cpu, s);
  cpu.nip = t;
}
function call_ev(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const v = readE(cpu, d, s);
  const t = nearTarget(cpu, s, s === 8 ? addr64(v, cpu.vhi) : v >>> 0);
  pushRip(cpu, s);
  cpu.nip = t;
}
function pushRip(cpu: CPU, s: number): void {
  const r = cpu.nip;
  push(cpu, s, r >>> 0 | 0, s === 8 ? Math.floor(r / 4294967296) | 0 : 0);
}
function ret(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const sp0 = stackAddr(cpu, 0);
  const v = pop(cpu, s);
  try {
    cpu.nip = nearTarget(cpu, s, s === 8 ? addr64(v, cpu.vhi) : v >>> 0);
  } catch (e) { setSp(cpu, sp0); throw e; }
  if (d.row[1] === 'Iw') setSp(cpu, stackAddr(cpu, d.imm));
}
/** LOOPNE(0) LOOPE(1) LOOP(2) JrCXZ(3): the count register is selected by the address size. */
function loop(cpu: CPU, d: Insn): void {
  const a = d.asize;
  let zero: boolean;
  if (d.op === 3) {
    zero = a === 8 ? (cpu.lo[RCX] | cpu.hi[RCX]) === 0 : a === 4 ? cpu.lo[RCX] === 0 : (cpu.lo[RCX] & 0xffff) === 0;
    if (zero) cpu.nip = nearTarget(cpu, d.osize, cpu.nip + d.imm);
    return;
  }
  if (a === 8) {
    const lo = cpu.lo[RCX];
    if (lo === 0) cpu.hi[RCX] = (cpu.hi[RCX] - 1) | 0;
    cpu.lo[RCX] = (lo - 1) | 0;
    zero = (cpu.lo[RCX] | cpu.hi[RCX]) === 0;
  } else if (a === 4) { cpu.setReg(RCX, 4, cpu.lo[RCX] - 1, 0); zero = cpu.lo[RCX] === 0; if (cpu.mode !== MODE_LONG) { /* upper half untouched outside 64-bit mode */ } }
  else { cpu.setReg(RCX, 2, cpu.lo[RCX] - 1, 0); zero = (cpu.lo[RCX] & 0xffff) === 0; }
  let take = !zero;
  if (d.op === 0) take = take && !getZF(cpu.lf);
  else if (d.op === 1) take = take && getZF(cpu.lf);
  if (take) cpu.nip = nearTarget(cpu, d.osize, cpu.nip + d.imm);
}

/** INT n; in virtual-8086 mode IOPL < 3 makes it #GP(0) (v86.ts checkIntN). INT3/INTO/INT1 are not IOPL-sensitive
 *  (SDM Vol. 2 INT n: "IF EFLAGS.VM = 1 and CR4.VME = 0 and IOPL < 3 and INT n THEN #GP(0)"). */
function int(cpu: CPU, d: Insn): void {
  if (cpu.mode === MODE_V86) checkIntN(cpu);
  deliver(cpu, d.imm & 0xff, -1, EV_SOFT, cpu.nip);
}
function int3(cpu: CPU): void { deliver(cpu, 3, -1, EV_SOFT_EXC, cpu.nip); }
function into(cpu: CPU): void { if (getOF(cpu.lf)) deliver(cpu, 4, -1, EV_SOFT_EXC, cpu.nip); }
function int1(cpu: CPU): void { deliver(cpu, 1, -1, EV_ICEBP, cpu.nip); }

function jmp_far_imm(cpu: CPU, d: Insn): void { farJump(cpu, d.imm2, d.imm >>> 0, d.osize, false); }
function call_far_imm(cpu: CPU, d: Insn): void { farJump(cpu, d.imm2, d.imm >>> 0, d.osize, true); }
function farMem(cpu: CPU, d: Insn, isCall: boolean): void {
  const s = d.osize;
  const la = memLin(cpu, d, s + 2, false);
  const lo = readLa(cpu, la, s), hi = cpu.vhi;
  const sel = cpu.rd16(la + s);
  farJump(cpu, sel, s === 8 ? addr64(lo, hi) : lo >>> 0, s, isCall);
}
function jmp_far_mem(cpu: CPU, d: Insn): void { farMem(cpu, d, false); }
function call_far_mem(cpu: CPU, d: Insn): void { farMem(cpu, d, true); }
function retf(cpu: CPU, d: Insn): void { farReturn(cpu, d.osize, d.row[1] === 'Iw' ? d.imm : 0); }
function iretH(cpu: CPU, d: Insn): void { iret(cpu, d.osize); }

/** BOUND: #BR (vector 5, a fault) when the signed index is outside [lower, upper] (SDM BOUND). */
function bound(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const la = memLin(cpu, d, s * 2, false);
  const sx = (v: number) => (s === 2 ? (v << 16) >> 16 : v | 0);
  const lower = sx(readLa(cpu, la, s)), upper = sx(readLa(cpu, la + s, s));
  const idx = sx(cpu.getReg(d.reg, s));
  if (idx < lower || idx > upper) throw new CpuFault(5);
}

export const controlHandlers = { bound,
  jcc, jmp, jmp_ev, call, call_ev, ret, loop, int, int3, into, int1,
  jmp_far_imm, call_far_imm, jmp_far_mem, call_far_mem, retf, iret: iretH,
};
