/**
 * SDM Vol. 3C, "Checks on VM-Exit Control Fields" (part of "Checks on VMX Controls").
 * A failure is VMfailValid(7). Secondary VM-exit controls are not offered: their "activate"
 * bit (primary VM-exit control bit 31) is refused by the allowed-1 rule.
 */
import * as F from '../fields.js';
import { EXIT } from '../controls.js';
import { section, type StateRule } from './rule.js';
import { controlWordRules, msrAreaRules } from './common.js';

const rule = section('controls', 'Checks on VM-Exit Control Fields');

export const EXIT_CONTROL_RULES: readonly StateRule[] = [
  ...controlWordRules(rule, {
    id: 'ctl.exit', label: 'primary VM-exit controls', msr: 'IA32_VMX_TRUE_EXIT_CTLS', enc: F.VM_EXIT_CONTROLS, word: EXIT,
    value: (v) => v.exit.raw, caps: (v) => v.caps.exit,
    sdm: 'Reserved bits in the primary VM-exit controls must be set properly (IA32_VMX_EXIT_CTLS / IA32_VMX_TRUE_EXIT_CTLS).',
  }),
  rule({
    id: 'ctl.exit.save-preemption-timer', reads: [F.VM_EXIT_CONTROLS, F.PIN_BASED_VM_EXECUTION_CONTROLS],
    sdm: 'If the "activate VMX-preemption timer" VM-execution control is 0, the "save VMX-preemption timer value" VM-exit control must also be 0.',
    holds: (v) => v.pin.preemptionTimer || !v.exit.savePreemptionTimer,
    says: () => '"save VMX-preemption timer value" (VM-exit control bit 22) is 1 but "activate VMX-preemption timer" (pin-based bit 6) is 0; there is no timer value to save',
  }),
  ...msrAreaRules(rule, {
    id: 'ctl.exit.msr-store', label: 'VM-exit MSR-store', addrEnc: F.VM_EXIT_MSR_STORE_ADDRESS, countEnc: F.VM_EXIT_MSR_STORE_COUNT,
    addr: (v) => v.exit.msrStoreAddress, count: (v) => v.exit.msrStoreCount,
  }),
  ...msrAreaRules(rule, {
    id: 'ctl.exit.msr-load', label: 'VM-exit MSR-load', addrEnc: F.VM_EXIT_MSR_LOAD_ADDRESS, countEnc: F.VM_EXIT_MSR_LOAD_COUNT,
    addr: (v) => v.exit.msrLoadAddress, count: (v) => v.exit.msrLoadCount,
  }),
];
