/**
 * Task switches (SDM Vol. 3A, "Task Switching"; Vol. 3C, "Treatment of Task Switches" in chapter
 * "VMX Non-Root Operation"; "Exit Qualification for Task Switches"). vmxray does not implement the
 * hardware task switch itself: in VMX root operation (and outside VMX) an attempt still stops the
 * machine with a clear message. In VMX non-root operation, "task switches are not allowed ... any
 * attempt to effect a task switch ... causes a VM exit" (basic exit reason 9) — after the checks
 * the SDM performs first, in its order:
 *   1. the task gate's privilege level (not for hardware events through the IDT) and P bit;
 *      CALL/JMP to a TSS or task gate and events through a task gate in IA-32e mode: #GP;
 *      CALL/JMP to a TSS descriptor directly: privilege levels on the TSS descriptor;
 *   2. the new TSS selector (in the GDT, within its limit);
 *   3. the new TSS descriptor is read (a #PF may result);
 *   4. the TSS descriptor's type (available for CALL/JMP/INT/exceptions, busy for IRET), S, P and limit.
 * The faults are those of the instruction pages (JMP, CALL, INT n, IRET) and "Exception Conditions
 * Checked During a Task Switch": a bad selector or type is #GP(selector), or #TS(selector) for IRET;
 * not present is #NP(selector); a limit below 67H (32-bit TSS) or 2BH (16-bit TSS) is #TS(selector).
 * Error codes of events delivered through the IDT carry EXT.
 *
 * Exit qualification: bits 15:0 the selector of the TSS the guest attempted to switch to (for IRET
 * the previous-task link of the current TSS), bits 31:30 the source: 0 CALL, 1 IRET, 2 JMP, 3 task
 * gate in the IDT. A task gate in the IDT is met during event delivery, so the event goes to the
 * IDT-vectoring information (events.ts deliverNonRoot records it when this VmExit passes through).
 *
 * Choices where the SDM leaves one:
 * - "The ordering between a VM exit due to a task switch and a page fault resulting from accessing
 *   the old TSS or the new TSS is implementation-specific": vmxray takes the VM exit without touching
 *   either TSS (IRET reads only the previous-task link of the current TSS, which it needs).
 * - VM-exit instruction length: the instruction's length for CALL, JMP, IRET and for software
 *   interrupts/exceptions (INT n, INT3, INTO, INT1) through a task gate (as the SDM requires); 0 for
 *   hardware events through a task gate (undefined in the SDM).
 */
import type { CPU } from '../cpu/cpu.js';
import { CpuFault, VmExit } from '../cpu/fault.js';
import { GP, NP, TS, TR, EFER_LMA } from '../cpu/regs.js';
import { REASON } from './exit-reasons.js';

export const EXIT_REASON_TASK_SWITCH = REASON.TASK_SWITCH;
/** Bits 31:30 of the exit qualification ("Exit Qualification for Task Switches"). */
export const TASK_SWITCH_SOURCE = { CALL: 0, IRET: 1, JMP: 2, IDT_TASK_GATE: 3 } as const;
const SOURCE_NAME = ['CALL', 'IRET', 'JMP', 'a task gate in the IDT'];

/** Exit qualification of a task-switch VM exit. */
export function taskSwitchQualification(selector: number, source: number): number {
  return ((selector & 0xffff) | ((source & 3) << 30)) >>> 0;
}

const ia32e = (cpu: CPU): boolean => (cpu.efer & EFER_LMA) !== 0;
const inNonRoot = (cpu: CPU): boolean => cpu.vmx !== null && cpu.vmx.nonRoot;

/**
 * Checks 2-4 on the new TSS: returns normally if they pass, else throws the fault. `source` decides
 * the type expected (busy for IRET) and the fault of a bad selector or type (#TS for IRET, else #GP).
 */
function checkNewTss(cpu: CPU, sel: number, source: number, ext: number): void {
  const iret = source === TASK_SWITCH_SOURCE.IRET;
  const code = ((sel & 0xfffc) | ext) >>> 0;
  const bad = iret ? TS : GP;
  // 2. the selector must reference the GDT, within its limit
  if ((sel & 4) !== 0 || (sel & 0xfff8) + 7 > cpu.gdtLimit) throw new CpuFault(bad, code);
  // 3. read the descriptor (a #PF may happen here)
  const addr = cpu.gdtBase + (sel & 0xfff8);
  const lo = cpu.sysRead(addr, 4), hi = cpu.sysRead(addr + 4, 4);
  // 4. type with S (bits 12:8): 01H/09H available 16/32-bit TSS, 03H/0BH busy
  const type = (hi >>> 8) & 0x1f;
  const ok = iret ? type === 0x03 || type === 0x0b : type === 0x01 || type === 0x09;
  if (!ok) throw new CpuFault(bad, code);
  if ((hi & 0x8000) === 0) throw new CpuFault(NP, code);
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if (hi & 0x800000) limit = limit * 4096 + 0xfff;
  if (limit < ((type & 8) !== 0 ? 0x67 : 0x2b)) throw new CpuFault(TS, code);
}

/** After the checks: the VM exit in non-root operation, the clean stop elsewhere. */
function attempt(cpu: CPU, sel: number, source: number, what: string, instructionLength?: number): never {
  if (inNonRoot(cpu)) {
    throw new VmExit(EXIT_REASON_TASK_SWITCH, taskSwitchQualification(sel, source),
      instructionLength === undefined ? {} : { instructionLength });
  }
  cpu.halt('unsupported', `${what} needs a hardware task switch, which vmxray does not implement`);
  throw new CpuFault(-1);
}

/**
 * Far CALL/JMP whose selector names a TSS (types 1, 9) or a task gate (type 5): SDM JMP/CALL,
 * "TASK-GATE" and "TASK-STATE-SEGMENT" cases. `lo`/`hi`: the descriptor at `sel`.
 */
export function farTaskSwitch(cpu: CPU, sel: number, lo: number, hi: number, isCall: boolean): never {
  sel &= 0xffff;
  const source = isCall ? TASK_SWITCH_SOURCE.CALL : TASK_SWITCH_SOURCE.JMP;
  // "If CALL or JMP accesses a task gate / a TSS descriptor ... in IA-32e mode, a general-protection exception occurs."
  if (ia32e(cpu)) throw new CpuFault(GP, sel & 0xfffc);
  const type = (hi >>> 8) & 0x1f, dpl = (hi >>> 13) & 3, rpl = sel & 3;
  if (dpl < cpu.cpl || dpl < rpl) throw new CpuFault(GP, sel & 0xfffc);
  if ((hi & 0x8000) === 0) throw new CpuFault(NP, sel & 0xfffc);
  const tss = type === 0x05 ? lo >>> 16 : sel;
  checkNewTss(cpu, tss, source, 0);
  const via = type === 0x05 ? `the task gate 0x${sel.toString(16)} (TSS 0x${tss.toString(16)})` : `the TSS 0x${sel.toString(16)}`;
  return attempt(cpu, tss, source, `a far ${SOURCE_NAME[source]} to ${via}`);
}

/** IRET with RFLAGS.NT = 1 outside IA-32e mode (SDM IRET, "TASK-RETURN"): back to the previous-task link. */
export function iretTaskSwitch(cpu: CPU): never {
  if (ia32e(cpu)) throw new CpuFault(GP, 0);
  const link = cpu.sysRead(cpu.segBase[TR], 2) & 0xffff;
  checkNewTss(cpu, link, TASK_SWITCH_SOURCE.IRET, 0);
  return attempt(cpu, link, TASK_SWITCH_SOURCE.IRET, `IRET with EFLAGS.NT = 1 (return to the nested task 0x${link.toString(16)})`);
}

/**
 * An event delivered through a task gate of the protected-mode IDT (exceptions.ts, after the gate's
 * privilege and P checks). `gateLo`: low dword of the gate (TSS selector in bits 31:16); `ext`: the
 * EXT bit of error codes; `soft`: INT n / INT3 / INTO / INT1 (the exit then reports the instruction length).
 */
export function idtTaskSwitch(cpu: CPU, vector: number, gateLo: number, ext: number, soft: boolean): never {
  const tss = gateLo >>> 16;
  checkNewTss(cpu, tss, TASK_SWITCH_SOURCE.IDT_TASK_GATE, ext);
  return attempt(cpu, tss, TASK_SWITCH_SOURCE.IDT_TASK_GATE,
    `vector ${vector} through the task gate for TSS 0x${tss.toString(16)}`, soft ? undefined : 0);
}
