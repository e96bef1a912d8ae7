/** VMX and EPT, the face of src/vmx (DESIGN.md): the VMCS field table, capabilities, the VM-entry rules, EPT. */
export * from './fields.js';
export * from './controls.js';
export {
  VMX_CAPS, ALLOWED1, VMCS_REVISION_ID, EPT_CAP, VPID_CAP, MISC, eptpProblem, setFeatureControl, registerVmxMsrs, vmxMsrValues,
  IA32_VMX_BASIC, FEATURE_CONTROL_FIRMWARE,
} from './caps.js';
export { VmxState } from './state.js';
export { Vmcs } from './vmcs.js';
export { VMERR, vmErrorText } from './errors.js';
export { vmEntry } from './entry.js';
export {
  ALL_RULES, STATE_RULES, MSR_LOAD_RULES, evaluate, checkVmEntry, checkMsrEntry, explain, describeOutcome, ruleById, vmxrayCaps, buildView,
  type Rule, type Outcome, type Failure, type Evaluation, type EntryView, type VmcsReader, type PhysReader, type EntryProcessorState, type VmxCapsView,
} from './checks/index.js';
export {
  eptWalk, eptTranslate, eptAccess, eptExit, EPT_READ, EPT_WRITE, EPT_FETCH, EPTQ, enableEpt, disableEpt, invept, readPdpte32,
  type EptContext,
} from './ept.js';
