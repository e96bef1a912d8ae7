/**
 * VMLAUNCH / VMRESUME (SDM Vol. 3C, "VMLAUNCH/VMRESUME—Launch/Resume Virtual Machine"): the
 * checks of the instruction page that come before the VM-entry checks on the VMCS.
 */
import type { CPU } from '../cpu/cpu.js';
import type { Insn } from '../cpu/insn.js';
import { CpuFault } from '../cpu/fault.js';
import { VMERR } from './errors.js';
import {
  vmxInstructionChecks, vmFailInvalid, vmFailValid, EXIT_REASON_VMLAUNCH, EXIT_REASON_VMRESUME,
} from './conventions.js';

/**
 * "Events are being blocked by MOV SS": the instruction follows a MOV SS / POP SS. The CPU keeps
 * one interrupt-shadow flag for STI and MOV SS (cpu.intShadow); until it tells them apart (a
 * `movSsShadow` flag set by MOV SS/POP SS and cleared with intShadow), only such a flag counts,
 * so "STI; VMLAUNCH" is never refused (as on hardware).
 */
export function eventsBlockedByMovSs(cpu: CPU): boolean {
  return cpu.intShadow && (cpu as unknown as { movSsShadow?: boolean }).movSsShadow === true;
}

export function vmEntry(cpu: CPU, d: Insn, launch: boolean): void {
  // #UD outside VMX operation / in real, virtual-8086 and compatibility mode; VM exit in non-root; #GP(0) at CPL > 0
  const v = vmxInstructionChecks(cpu, d, launch ? EXIT_REASON_VMLAUNCH : EXIT_REASON_VMRESUME, 0, false);
  const cur = v.current;
  if (cur === null) { vmFailInvalid(cpu); return; }
  if (eventsBlockedByMovSs(cpu)) { vmFailValid(cpu, v, VMERR.ENTRY_EVENTS_BLOCKED_BY_MOV_SS); return; }
  if (launch && cur.launched) { vmFailValid(cpu, v, VMERR.VMLAUNCH_NON_CLEAR_VMCS); return; }
  if (!launch && !cur.launched) { vmFailValid(cpu, v, VMERR.VMRESUME_NON_LAUNCHED_VMCS); return; }

  // entry engineer: checks + load guest state
  // (checks on VMX controls and host-state area → VMfailValid(7/8); guest-state checks → VM-entry
  //  failure exit; MSR loading; then cur.launched = true for VMLAUNCH and v.nonRoot = true.)
  cpu.halt('unsupported', `${launch ? 'VMLAUNCH' : 'VMRESUME'}: VM entry is not implemented yet`);
  throw new CpuFault(-1);
}
