/**
 * SDM Vol. 3C, "Basic VM-Entry Checks": performed by VMLAUNCH/VMRESUME before any check on the
 * VMCS contents. (The #UD/#GP cases of that section — outside VMX operation, CPL > 0, virtual-8086
 * or compatibility mode — belong to the instruction, not to these rules.)
 */
import { section, type StateRule } from './rule.js';

const rule = section('basic', 'Basic VM-Entry Checks');

export const BASIC_RULES: readonly StateRule[] = [
  rule({
    id: 'basic.current-vmcs-valid',
    reads: [],
    sdm: 'If the current-VMCS pointer is not valid, VMfailInvalid.',
    outcome: { kind: 'vmfail-invalid' },
    holds: (v) => v.cpu.currentVmcs >= 0,
    says: () => 'there is no current VMCS (current-VMCS pointer is FFFFFFFF_FFFFFFFFH); VMPTRLD a VMCS before VMLAUNCH/VMRESUME',
  }),
  rule({
    id: 'basic.mov-ss-blocking',
    reads: [],
    sdm: 'If VM entry is blocked by MOV SS (the instruction follows MOV SS or POP SS), VMfailValid(26).',
    outcome: { kind: 'vmfail', error: 26 },
    holds: (v) => !v.cpu.blockedByMovSs,
    says: (v) => `${v.cpu.instruction.toUpperCase()} executed while events are blocked by MOV SS (it directly follows a MOV SS or POP SS); error 26 "VM entry with events blocked by MOV SS"`,
  }),
  rule({
    id: 'basic.vmlaunch-launch-state-clear',
    reads: [],
    sdm: 'VMLAUNCH and the launch state of the current VMCS is not "clear": VMfailValid(4).',
    outcome: { kind: 'vmfail', error: 4 },
    holds: (v) => v.cpu.instruction !== 'vmlaunch' || v.cpu.launchState === 'clear',
    says: () => 'VMLAUNCH of a VMCS whose launch state is "launched"; use VMRESUME, or VMCLEAR it first (error 4 "VMLAUNCH with non-clear VMCS")',
  }),
  rule({
    id: 'basic.vmresume-launch-state-launched',
    reads: [],
    sdm: 'VMRESUME and the launch state of the current VMCS is not "launched": VMfailValid(5).',
    outcome: { kind: 'vmfail', error: 5 },
    holds: (v) => v.cpu.instruction !== 'vmresume' || v.cpu.launchState === 'launched',
    says: () => 'VMRESUME of a VMCS whose launch state is "clear" (never launched, or VMCLEARed); use VMLAUNCH (error 5 "VMRESUME with non-launched VMCS")',
  }),
  rule({
    id: 'basic.vmresume-after-vmxoff',
    reads: [],
    // The VMRESUME pseudo-code does not list this case; the table "VM-Instruction Error Numbers" does.
    // Model choice: VMRESUME of a VMCS launched before a VMXOFF (and the VMXON after it) fails with it.
    sdm: 'VM-instruction error 6: VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME).',
    outcome: { kind: 'vmfail', error: 6 },
    holds: (v) => v.cpu.instruction !== 'vmresume' || !v.cpu.launchedBeforeVmxoff,
    says: () => 'VMRESUME of a VMCS launched before the last VMXOFF; after VMXOFF/VMXON, VMCLEAR it and VMLAUNCH again (error 6 "VMRESUME after VMXOFF")',
  }),
];
