import type { CPU } from '../cpu.js';
import { MODE_REAL, MODE_V86, MODE_LONG } from '../cpu.js';
import { CpuFault } from '../fault.js';
import {
  CS, SS, DS, ES, FS, GS, RSP, GP, NP, SS_, TS, AR_P, AR_S, AR_L, AR_DB, arDpl, AR_UNUSABLE,
  CF, PF, AF, ZF, SF, TF, IF, DF, OF, IOPL, NT, RF, VM, AC, VIF, VIP, ID,
} from '../regs.js';
import { readDescriptor, readDescriptorUpper, checkCodeTarget, loadCode, setAccessed, tssStack, setSegment, loadStackForCpl, loadRealSeg } from '../segments.js';
import { push, pop, stackAddr, setSp, setReg64n, peek } from '../stack.js';
import { iretToV86, iretInV86 } from '../v86.js';
import { farTaskSwitch, iretTaskSwitch } from '../../vmx/task-switch.js';

/**
 * Far JMP/CALL (direct, through call gates), far RET and IRET in every mode (SDM Vol. 2: JMP,
 * CALL, RET, IRET/IRETD/IRETQ; Vol. 3A "Calling Procedures Using a Call Gate").
 * Task switches (TSS or task-gate targets, IRET with NT=1) go to src/vmx/task-switch.ts: a VM exit in
 * VMX non-root operation, else a stop with a message (hardware task switching is not implemented).
 * In virtual-8086 mode far JMP/CALL/RET are real-address style and never leave it; IRET into and
 * within virtual-8086 mode is in v86.ts.
 */
const TWO32 = 4294967296;

function checkTarget(cpu: CPU, off: number, limit: number): void {
  if (cpu.mode === MODE_LONG) { if (off >= 2 ** 47 || off < -(2 ** 47)) throw new CpuFault(GP, 0); }
  else if (off > limit) throw new CpuFault(GP, 0);
}

export function farJump(cpu: CPU, sel: number, off: number, size: number, isCall: boolean): void {
  sel &= 0xffff;
  if (cpu.mode === MODE_REAL || cpu.mode === MODE_V86) {
    if (size === 2) off &= 0xffff;
    if (off > cpu.segLimit[CS]) throw new CpuFault(GP, 0);
    if (isCall) { push(cpu, size, cpu.segSel[CS]); push(cpu, size, cpu.nip); }
    loadRealSeg(cpu, CS, sel);
    cpu.nip = off;
    return;
  }
  if ((sel & 0xfffc) === 0) throw new CpuFault(GP, 0);
  const d = readDescriptor(cpu, sel);
  if (d.ar & AR_S) {
    checkCodeTarget(cpu, sel, d);
    const newMode64 = (cpu.efer & 0x400) !== 0 && (d.ar & AR_L) !== 0;
    if (size === 2) off &= 0xffff;
    if (newMode64) { if (off >= 2 ** 47 || off < -(2 ** 47)) throw new CpuFault(GP, 0); }
    else { off = off >>> 0; if (off > d.limit) throw new CpuFault(GP, 0); }
    if (isCall) {
      const nip = cpu.nip;
      const sp0 = stackAddr(cpu, 0);
      try {
        push(cpu, size, cpu.segSel[CS]);
        push(cpu, size, nip >>> 0 | 0, size === 8 ? Math.floor(nip / TWO32) | 0 : 0);
      } catch (e) { setSp(cpu, sp0); throw e; }
    }
    setAccessed(cpu, d);
    loadCode(cpu, sel, d, cpu.cpl);
    cpu.nip = off;
    return;
  }
  const type = d.ar & 0xf;
  if (type === 1 || type === 9 || type === 5) farTaskSwitch(cpu, sel, d.lo, d.hi, isCall); // VM exit in non-root (src/vmx/task-switch.ts)
  const long = (cpu.efer & 0x400) !== 0;
  if (!(type === 0xc || (!long && type === 4))) throw new CpuFault(GP, sel & 0xfffc);
  // call gate
  const gdpl = arDpl(d.ar);
  if (gdpl < cpu.cpl || gdpl < (sel & 3)) throw new CpuFault(GP, sel & 0xfffc);
  if (!(d.ar & AR_P)) throw new CpuFault(NP, sel & 0xfffc);
  const csel = d.lo >>> 16;
  let target = type === 4 ? d.lo & 0xffff : ((d.hi & 0xffff0000) | (d.lo & 0xffff)) >>> 0;
  const gate32 = type === 0xc;
  const paramCount = d.hi & 0x1f;
  if (long) {
    const up = readDescriptorUpper(cpu, d, sel);
    if (((up >>> 8) & 0x1f) !== 0) throw new CpuFault(GP, sel & 0xfffc);
    target = (up | 0) * TWO32 + target;
  }
  if ((csel & 0xfffc) === 0) throw new CpuFault(GP, 0);
  const cd = readDescriptor(cpu, csel);
  const cdpl = arDpl(cd.ar);
  if (!(cd.ar & AR_S) || !(cd.ar & 8) || cdpl > cpu.cpl) throw new CpuFault(GP, csel & 0xfffc);
  if (long && (!(cd.ar & AR_L) || (cd.ar & AR_DB))) throw new CpuFault(GP, csel & 0xfffc);
  if (!isCall && !(cd.ar & 4) && cdpl !== cpu.cpl) throw new CpuFault(GP, csel & 0xfffc);
  if (!(cd.ar & AR_P)) throw new CpuFault(NP, csel & 0xfffc);
  checkTarget(cpu, target, cd.limit);
  const gsize = long ? 8 : gate32 ? 4 : 2;
  const oldCs = cpu.segSel[CS], nip = cpu.nip;
  if (isCall && !(cd.ar & 4) && cdpl < cpu.cpl) {
    // more privileged: switch stacks through the TSS, copy parameters (legacy gates only)
    const oldSs = cpu.segSel[SS], oldSp = long ? cpu.reg64n(RSP) : cpu.stackSize === 4 ? cpu.lo[RSP] >>> 0 : cpu.lo[RSP] & 0xffff;
    const params: number[] = [];
    if (!long) for (let i = 0; i < paramCount; i++) params.push(peek(cpu, gsize, i * gsize));
    const t = tssStack(cpu, cdpl);
    const saved = { sel: cpu.segSel[SS], base: cpu.segBase[SS], limit: cpu.segLimit[SS], ar: cpu.segAr[SS], lo: cpu.lo[RSP], hi: cpu.hi[RSP] };
    try {
      if (long) { setSegment(cpu, SS, cdpl, 0, 0, AR_UNUSABLE | (cdpl << 5)); cpu.cpl = cdpl; cpu.updateModeKeepCpl(cdpl); setReg64n(cpu, RSP, t.sp); }
      else { loadStackForCpl(cpu, t.ss, cdpl, TS); cpu.updateModeKeepCpl(cdpl); setSp(cpu, t.sp); }
      push(cpu, gsize, oldSs); push(cpu, gsize, oldSp >>> 0 | 0, Math.floor(oldSp / TWO32) | 0);
      for (let i = params.length - 1; i >= 0; i--) push(cpu, gsize, params[i]);
      push(cpu, gsize, oldCs); push(cpu, gsize, nip >>> 0 | 0, Math.floor(nip / TWO32) | 0);
    } catch (e) {
      setSegment(cpu, SS, saved.sel, saved.base, saved.limit, saved.ar); cpu.lo[RSP] = saved.lo; cpu.hi[RSP] = saved.hi; cpu.updateMode();
      throw e;
    }
    setAccessed(cpu, cd);
    loadCode(cpu, csel, cd, cdpl);
  } else {
    if (isCall) { push(cpu, gsize, oldCs); push(cpu, gsize, nip >>> 0 | 0, Math.floor(nip / TWO32) | 0); }
    setAccessed(cpu, cd);
    loadCode(cpu, csel, cd, cd.ar & 4 ? cpu.cpl : cdpl);
  }
  cpu.nip = target;
}

/** Segment registers that the new (outer) privilege level may not use become null (SDM RET/IRET). */
function nullInaccessible(cpu: CPU): void {
  for (const s of [ES, DS, FS, GS]) {
    const ar = cpu.segAr[s];
    if (ar & AR_UNUSABLE) continue;
    const dataOrNc = !(ar & 8) || !(ar & 4);
    if (dataOrNc && arDpl(ar) < cpu.cpl) {
      cpu.segSel[s] = 0; cpu.segAr[s] = AR_UNUSABLE;
      if (cpu.mode !== MODE_LONG) cpu.segBase[s] = 0;
    }
  }
}

function popAddr(cpu: CPU, size: number): number {
  const v = pop(cpu, size);
  return size === 8 ? (cpu.vhi | 0) * TWO32 + (v >>> 0) : size === 4 ? v >>> 0 : v & 0xffff;
}

export function farReturn(cpu: CPU, size: number, release: number): void {
  const sp0 = stackAddr(cpu, 0);
  try {
    const off = popAddr(cpu, size);
    const sel = pop(cpu, size) & 0xffff;
    if (cpu.mode === MODE_REAL || cpu.mode === MODE_V86) {
      if (off > cpu.segLimit[CS]) throw new CpuFault(GP, 0);
      loadRealSeg(cpu, CS, sel);
      cpu.nip = off;
      setSp(cpu, stackAddr(cpu, release));
      return;
    }
    returnTo(cpu, sel, off, size, release, false, 0);
  } catch (e) {
    if (!cpu.stop) setSp(cpu, sp0);
    throw e;
  }
}

/** Common tail of far RET / IRET in protected and IA-32e modes. */
function returnTo(cpu: CPU, sel: number, off: number, size: number, release: number, isIret: boolean, flags: number): void {
  if ((sel & 0xfffc) === 0) throw new CpuFault(GP, 0);
  const d = readDescriptor(cpu, sel);
  const rpl = sel & 3, dpl = arDpl(d.ar);
  if (!(d.ar & AR_S) || !(d.ar & 8)) throw new CpuFault(GP, sel & 0xfffc);
  if (rpl < cpu.cpl) throw new CpuFault(GP, sel & 0xfffc);
  if (d.ar & 4 ? dpl > rpl : dpl !== rpl) throw new CpuFault(GP, sel & 0xfffc);
  if (!(d.ar & AR_P)) throw new CpuFault(NP, sel & 0xfffc);
  const long = (cpu.efer & 0x400) !== 0;
  const to64 = long && (d.ar & AR_L) !== 0;
  if (long && (d.ar & AR_L) && (d.ar & AR_DB)) throw new CpuFault(GP, sel & 0xfffc);
  const from64 = cpu.mode === MODE_LONG;
  if (!to64) off = size === 2 ? off & 0xffff : off >>> 0;
  const outer = rpl > cpu.cpl;
  const oldCpl = cpu.cpl;
  if (outer || (isIret && from64)) {
    if (!isIret) setSp(cpu, stackAddr(cpu, release));
    const newSp = popAddr(cpu, size);
    const ssSel = pop(cpu, size) & 0xffff;
    // SS for the new level: null allowed in 64-bit mode when returning to CPL < 3 (SDM IRET, RET)
    if ((ssSel & 0xfffc) === 0) {
      if (!(to64 && rpl !== 3 && (ssSel & 3) === rpl)) throw new CpuFault(GP, 0);
    } else {
      const sd = readDescriptor(cpu, ssSel);
      if ((ssSel & 3) !== rpl || arDpl(sd.ar) !== rpl || !(sd.ar & AR_S) || (sd.ar & 0xa) !== 2) throw new CpuFault(GP, ssSel & 0xfffc);
      if (!(sd.ar & AR_P)) throw new CpuFault(SS_, ssSel & 0xfffc);
    }
    checkTargetAfter(cpu, off, d.limit, to64);
    if (isIret) applyIretFlags(cpu, flags, size, oldCpl);
    setAccessed(cpu, d);
    loadCode(cpu, sel, d, rpl);
    if ((ssSel & 0xfffc) === 0) setSegment(cpu, SS, ssSel, 0, 0, AR_UNUSABLE | (rpl << 5));
    else loadStackForCpl(cpu, ssSel, rpl, GP);
    cpu.updateMode();
    if (cpu.mode === MODE_LONG) setReg64n(cpu, RSP, newSp);
    else if (cpu.stackSize === 4) { cpu.lo[RSP] = newSp | 0; }
    else cpu.lo[RSP] = (cpu.lo[RSP] & ~0xffff) | (newSp & 0xffff);
    if (!isIret) setSp(cpu, stackAddr(cpu, release));
    if (outer) nullInaccessible(cpu);
  } else {
    checkTargetAfter(cpu, off, d.limit, to64);
    if (isIret) applyIretFlags(cpu, flags, size, oldCpl);
    setAccessed(cpu, d);
    loadCode(cpu, sel, d, cpu.cpl);
    if (!isIret) setSp(cpu, stackAddr(cpu, release));
  }
  cpu.nip = off;
}
function checkTargetAfter(cpu: CPU, off: number, limit: number, to64: boolean): void {
  if (to64) { if (off >= 2 ** 47 || off < -(2 ** 47)) throw new CpuFault(GP, 0); }
  else if (off > limit) throw new CpuFault(GP, 0);
  void cpu;
}

/** RFLAGS bits IRET may change, by privilege (SDM Vol. 2, IRET operation). */
function applyIretFlags(cpu: CPU, v: number, size: number, cpl: number): void {
  let mask = CF | PF | AF | ZF | SF | TF | DF | OF | NT;
  if (size >= 4) mask |= RF | AC | ID;
  if (cpl === 0) { mask |= IOPL | IF; if (size >= 4) mask |= VIF | VIP; }
  else if (cpl <= ((cpu.eflags & IOPL) >> 12)) mask |= IF;
  cpu.setFlags(v, mask);
}

export function iret(cpu: CPU, size: number): void {
  const sp0 = stackAddr(cpu, 0);
  try {
    if (cpu.mode === MODE_REAL) {
      const off = popAddr(cpu, size);
      const sel = pop(cpu, size) & 0xffff;
      const fl = pop(cpu, size);
      if (off > cpu.segLimit[CS]) throw new CpuFault(GP, 0);
      loadRealSeg(cpu, CS, sel);
      // real mode: every flag of the popped image is loaded except VM, VIP, VIF (SDM IRET, real-address mode)
      cpu.setFlags(fl, size === 2 ? 0x7fd5 : (CF | PF | AF | ZF | SF | TF | IF | DF | OF | IOPL | NT | RF | AC | ID));
      cpu.nip = off;
      return;
    }
    if (cpu.mode === MODE_V86) { iretInV86(cpu, size); cpu.nmiBlocked = false; return; }
    if (cpu.eflags & NT) {
      if (cpu.efer & 0x400) throw new CpuFault(GP, 0);
      iretTaskSwitch(cpu);
    }
    const off = popAddr(cpu, size);
    const sel = pop(cpu, size) & 0xffff;
    const fl = pop(cpu, size);
    if (fl & VM && cpu.cpl === 0 && !(cpu.efer & 0x400) && size === 4) iretToV86(cpu, off, sel, fl);
    else returnTo(cpu, sel, off, size, 0, true, fl);
    // NMI blocking ends with IRET (SDM Vol. 3A, "NMI Handling")
    cpu.nmiBlocked = false;
  } catch (e) {
    if (!cpu.stop) setSp(cpu, sp0);
    throw e;
  }
}
