import type { CPU } from './cpu.js';
import { MODE_REAL, MODE_V86 } from './cpu.js';
import { CpuFault, VmExit, vectorName } from './fault.js';
import { deliverNonRoot } from '../vmx/events.js';
import { idtTaskSwitch } from '../vmx/task-switch.js';
import { CS, SS, RSP, GP, NP, SS_, TS, TF, IF, NT, RF, VM, AC, AR_P, AR_S, AR_L, AR_DB, arDpl, DF_ } from './regs.js';
import { readDescriptor, loadCode, tssStack, tssIst, setSegment, loadStackForCpl, setAccessed } from './segments.js';
import { setReg64n, push, stackAddr, setSp } from './stack.js';
import { deliverFromV86 } from './v86.js';

/**
 * Exception and interrupt delivery (SDM Vol. 3A, "Interrupt and Exception Handling": real-address
 * mode IVT, protected-mode IDT with interrupt/trap gates and stack switches through the TSS,
 * IA-32e mode 16-byte gates with IST, delivery from virtual-8086 mode in v86.ts), and the double-fault / triple-fault rules
 * ("Interrupt 8—Double Fault Exception (#DF)", Table "Conditions for Generating a Double Fault").
 */
export const EV_HW = 0, EV_INTR = 1, EV_SOFT = 2, EV_SOFT_EXC = 3, EV_NMI = 4, EV_ICEBP = 5;

const CONTRIBUTORY = new Set([0, 10, 11, 12, 13]);

/** Fault-class exceptions (a #DB raised as a CpuFault is the general-detect fault). */
export const FAULT_CLASS = new Set([0, 1, 5, 6, 7, 10, 11, 12, 13, 14, 16, 17, 19, 20, 21]);

/**
 * Deliver a fault raised by the current instruction (return address = the instruction itself).
 * "For any fault-class exception except a debug exception generated in response to an instruction
 * breakpoint, the value pushed for RF is 1" (SDM Vol. 3B, "Instruction-Breakpoint Exception
 * Condition"): RF is set before delivery, which pushes it and then clears it.
 */
export function deliverFault(cpu: CPU, f: CpuFault): void {
  if (FAULT_CLASS.has(f.vector)) cpu.eflags |= RF;
  deliverChecked(cpu, f.vector, f.code, EV_HW, cpu.rip);
}

/** Deliver with the double-fault rules: a fault during delivery may become #DF, then a triple fault. */
export function deliverChecked(cpu: CPU, vector: number, code: number, kind: number, ret: number): void {
  let first = vector, fcode = code, fkind = kind;
  for (let round = 0; round < 3; round++) {
    try {
      deliver(cpu, first, fcode, fkind, ret);
      return;
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      if (cpu.stop) return;
      const second = e.vector;
      if (first === DF_) { tripleFault(cpu, `a ${vectorName(second)} while delivering #DF`); return; }
      const firstClass = first === 14 ? 'pf' : CONTRIBUTORY.has(first) && fkind === EV_HW ? 'c' : 'b';
      const secondIsC = CONTRIBUTORY.has(second);
      if ((firstClass === 'c' && secondIsC) || (firstClass === 'pf' && (second === 14 || secondIsC))) {
        first = DF_; fcode = 0; fkind = EV_HW;
      } else {
        first = second; fcode = e.code; fkind = EV_HW;
      }
    }
  }
  tripleFault(cpu, `faults kept recurring while delivering ${vectorName(vector)}`);
}

export function tripleFault(cpu: CPU, why: string): void {
  // VMX non-root operation: a triple fault causes a VM exit (reason 2), not a shutdown (SDM Vol. 3C, "Other Causes of VM Exits")
  if (cpu.vmx !== null && cpu.vmx.nonRoot) throw new VmExit(2);
  cpu.halt('triple-fault', `triple fault (${why}) at ${hex(cpu.rip)}: the processor shuts down`);
  cpu.onShutdown?.('triple-fault');
}

const hex = (n: number) => (n < 0 ? (BigInt(n) + (1n << 64n)) : BigInt(n)).toString(16).padStart(8, '0').replace(/^/, '0x');

function pushesCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17 || vector === 21;
}

/** Deliver one event through the IVT/IDT. `code` < 0: no error code. `ret`: the RIP to save. */
export function deliver(cpu: CPU, vector: number, code: number, kind: number, ret: number): void {
  // VMX non-root operation: exception bitmap and IDT-vectoring bookkeeping (src/vmx/events.ts)
  if (cpu.vmx !== null && cpu.vmx.nonRoot) { deliverNonRoot(cpu, vector, code, kind, ret, deliverIdt); return; }
  deliverIdt(cpu, vector, code, kind, ret);
}

/** Delivery through the IVT/IDT itself (what `deliver` does outside VMX non-root operation). */
function deliverIdt(cpu: CPU, vector: number, code: number, kind: number, ret: number): void {
  cpu.halted = false;
  if (cpu.onEvent) cpu.onEvent(vector, code, kind, ret);
  const ext = kind === EV_HW || kind === EV_INTR || kind === EV_NMI || kind === EV_ICEBP ? 1 : 0;
  const hasCode = kind === EV_HW && code >= 0 && pushesCode(vector);
  if (cpu.mode === MODE_REAL) return deliverReal(cpu, vector, ret);
  if (cpu.efer & 0x400) return deliverLong(cpu, vector, hasCode ? code : -1, kind, ext, ret);
  return deliverProt(cpu, vector, hasCode ? code : -1, kind, ext, ret);
}

function deliverReal(cpu: CPU, vector: number, ret: number): void {
  if (vector * 4 + 3 > cpu.idtLimit) throw new CpuFault(GP, 0);
  const off = cpu.sysRead(cpu.idtBase + vector * 4, 2);
  const seg = cpu.sysRead(cpu.idtBase + vector * 4 + 2, 2);
  push(cpu, 2, cpu.getFlags());
  push(cpu, 2, cpu.segSel[CS]);
  push(cpu, 2, ret);
  cpu.eflags &= ~(IF | TF | AC | RF);
  cpu.segSel[CS] = seg; cpu.segBase[CS] = seg * 16;
  cpu.nip = off;
  cpu.rip = off;
}

function gateFault(vector: number, ext: number): number { return vector * 8 + 2 + ext; }

function deliverLong(cpu: CPU, vector: number, code: number, kind: number, ext: number, ret: number): void {
  if (vector * 16 + 15 > cpu.idtLimit) throw new CpuFault(GP, gateFault(vector, ext));
  const g = cpu.idtBase + vector * 16;
  const lo = cpu.sysRead(g, 4), hi = cpu.sysRead(g + 4, 4), up = cpu.sysRead(g + 8, 4);
  const type = (hi >> 8) & 0x1f, dpl = (hi >> 13) & 3;
  if (type !== 0x0e && type !== 0x0f) throw new CpuFault(GP, gateFault(vector, ext));
  if ((kind === EV_SOFT || kind === EV_SOFT_EXC) && dpl < cpu.cpl) throw new CpuFault(GP, gateFault(vector, 0));
  if (!(hi & 0x8000)) throw new CpuFault(NP, gateFault(vector, ext));
  const sel = lo >>> 16;
  const target = (up | 0) * 2 ** 32 + (((hi & 0xffff0000) | (lo & 0xffff)) >>> 0);
  const ist = hi & 7;
  if ((sel & 0xfffc) === 0) throw new CpuFault(GP, ext);
  const d = readDescriptor(cpu, sel, GP);
  const cdpl = arDpl(d.ar);
  if (!(d.ar & AR_S) || !(d.ar & 8) || !(d.ar & AR_L) || (d.ar & AR_DB) || cdpl > cpu.cpl) throw new CpuFault(GP, (sel & 0xfffc) + ext);
  if (!(d.ar & AR_P)) throw new CpuFault(NP, (sel & 0xfffc) + ext);
  const oldCpl = cpu.cpl;
  const newCpl = d.ar & 4 ? oldCpl : cdpl;
  const oldSs = cpu.segSel[SS], oldRsp = cpu.reg64n(RSP);
  const oldCs = cpu.segSel[CS], flags = cpu.getFlags();
  let rsp = oldRsp;
  if (newCpl < oldCpl) rsp = tssStack(cpu, newCpl).sp;
  if (ist) rsp = tssIst(cpu, ist);
  rsp -= ((rsp % 16) + 16) % 16; // align to 16 bytes (SDM "64-Bit Mode Stack Frame")
  if (rsp >= 2 ** 47 || rsp - 48 < -(2 ** 47)) throw new CpuFault(SS_, ext);
  // Build the frame with supervisor (new-CPL) accesses before changing any state.
  const frame: [number, number][] = [[oldSs, 0], [oldRsp >>> 0, Math.floor(oldRsp / 2 ** 32) | 0], [flags, 0], [oldCs, 0],
    [ret >>> 0, Math.floor(ret / 2 ** 32) | 0]];
  if (code >= 0) frame.push([code, 0]);
  let sp = rsp;
  const user = newCpl === 3;
  for (const [vlo, vhi] of frame) {
    sp -= 8;
    writeStack64(cpu, sp, vlo, vhi, user);
  }
  setAccessed(cpu, d);
  if (newCpl < oldCpl) setSegment(cpu, SS, newCpl, 0, 0, 0x10000 | (newCpl << 5) | 0x93 | 0);
  loadCode(cpu, sel, d, newCpl);
  setReg64n(cpu, RSP, sp);
  cpu.eflags &= ~(TF | NT | RF | VM);
  if (type === 0x0e) cpu.eflags &= ~IF;
  cpu.updateMode();
  cpu.nip = target; cpu.rip = target;
}

function writeStack64(cpu: CPU, la: number, lo: number, hi: number, user: boolean): void {
  cpu.writeSlow(la, 4, lo, user);
  cpu.writeSlow(la + 4, 4, hi, user);
}

function deliverProt(cpu: CPU, vector: number, code: number, kind: number, ext: number, ret: number): void {
  if (vector * 8 + 7 > cpu.idtLimit) throw new CpuFault(GP, gateFault(vector, ext));
  const g = cpu.idtBase + vector * 8;
  const lo = cpu.sysRead(g, 4), hi = cpu.sysRead(g + 4, 4);
  const type = (hi >> 8) & 0x1f, dpl = (hi >> 13) & 3;
  if ((kind === EV_SOFT || kind === EV_SOFT_EXC) && dpl < cpu.cpl) throw new CpuFault(GP, gateFault(vector, 0));
  if (type === 0x05) {
    if (!(hi & 0x8000)) throw new CpuFault(NP, gateFault(vector, ext));
    // hardware task switching is not implemented: a VM exit in non-root operation, else a stop (src/vmx/task-switch.ts)
    idtTaskSwitch(cpu, vector, lo, ext, kind === EV_SOFT || kind === EV_SOFT_EXC || kind === EV_ICEBP);
  }
  if (type !== 0x06 && type !== 0x07 && type !== 0x0e && type !== 0x0f) throw new CpuFault(GP, gateFault(vector, ext));
  if (!(hi & 0x8000)) throw new CpuFault(NP, gateFault(vector, ext));
  const gate32 = (type & 8) !== 0;
  const sel = lo >>> 16;
  const target = gate32 ? (((hi & 0xffff0000) | (lo & 0xffff)) >>> 0) : lo & 0xffff;
  if ((sel & 0xfffc) === 0) throw new CpuFault(GP, ext);
  const d = readDescriptor(cpu, sel, GP);
  const cdpl = arDpl(d.ar);
  if (!(d.ar & AR_S) || !(d.ar & 8) || cdpl > cpu.cpl) throw new CpuFault(GP, (sel & 0xfffc) + ext);
  if (!(d.ar & AR_P)) throw new CpuFault(NP, (sel & 0xfffc) + ext);
  // From virtual-8086 mode: only to a DPL-0 non-conforming code segment, with the V86 frame (v86.ts).
  if (cpu.mode === MODE_V86) return deliverFromV86(cpu, sel, d, target, gate32, !(type & 1), code, ret, ext);
  const oldCpl = cpu.cpl;
  const newCpl = d.ar & 4 ? oldCpl : cdpl;
  const size = gate32 ? 4 : 2;
  const flags = cpu.getFlags(), oldCs = cpu.segSel[CS];
  const saved = saveStack(cpu);
  try {
    if (newCpl < oldCpl) {
      const oldSs = cpu.segSel[SS], oldEsp = cpu.lo[RSP] >>> 0;
      const t = tssStack(cpu, newCpl);
      loadStackForCpl(cpu, t.ss, newCpl, TS);
      cpu.updateMode();
      setSp(cpu, t.sp);
      // pushes go to the new stack with the new privilege
      cpu.cpl = newCpl;
      pushAs(cpu, size, oldSs, newCpl); pushAs(cpu, size, oldEsp, newCpl);
    }
    pushAs(cpu, size, flags, newCpl); pushAs(cpu, size, oldCs, newCpl); pushAs(cpu, size, ret, newCpl);
    if (code >= 0) pushAs(cpu, size, code, newCpl);
  } catch (e) { restoreStack(cpu, saved); throw e; }
  setAccessed(cpu, d);
  loadCode(cpu, sel, d, newCpl);
  cpu.eflags &= ~(TF | NT | RF | VM);
  if (!(type & 1)) cpu.eflags &= ~IF;
  cpu.updateMode();
  cpu.nip = target; cpu.rip = target;
}

function pushAs(cpu: CPU, size: number, v: number, cpl: number): void {
  const sp = stackAddr(cpu, -size);
  const la = cpu.linear(SS, sp, size, true);
  cpu.writeSlow(la, size, v, cpl === 3);
  setSp(cpu, sp);
}
function saveStack(cpu: CPU) {
  return { sel: cpu.segSel[SS], base: cpu.segBase[SS], limit: cpu.segLimit[SS], ar: cpu.segAr[SS], lo: cpu.lo[RSP], hi: cpu.hi[RSP], cpl: cpu.cpl };
}
function restoreStack(cpu: CPU, s: ReturnType<typeof saveStack>): void {
  setSegment(cpu, SS, s.sel, s.base, s.limit, s.ar);
  cpu.lo[RSP] = s.lo; cpu.hi[RSP] = s.hi;
  cpu.updateMode();
}
