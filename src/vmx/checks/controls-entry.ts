/**
 * SDM Vol. 3C, "Checks on VM-Entry Control Fields" (part of "Checks on VMX Controls"), including
 * the checks on the event-injection fields (VM-entry interruption-information, exception error
 * code, instruction length). A failure is VMfailValid(7).
 */
import * as F from '../fields.js';
import { ENTRY, PROC } from '../controls.js';
import { section, hex, type StateRule } from './rule.js';
import { controlWordRules, msrAreaRules } from './common.js';
import type { EntryView } from './view.js';

const rule = section('controls', 'Checks on VM-Entry Control Fields');
const INFO = F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD;
const TYPE_NAMES = ['external interrupt', 'reserved (1)', 'NMI', 'hardware exception', 'software interrupt',
  'privileged software exception', 'software exception', 'other event'];
/**
 * Exceptions that push an error code: #DF, #TS, #NP, #SS, #GP, #PF, #AC. (#CP, vector 21, also
 * does on processors with CET; vmxray has no CET, so vector 21 counts as one without.)
 */
const ERROR_CODE_VECTORS = (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 17);
const hasErrorCode = (vector: number): boolean => vector < 32 && ((ERROR_CODE_VECTORS >>> vector) & 1) === 1;
const typeName = (t: number): string => `${t} (${TYPE_NAMES[t]})`;

/** The deliver-error-code bit must be 1 (SDM: each of the following holds). */
function errorCodeRequired(v: EntryView): boolean {
  return v.event.type === 3 && v.guest.pe && !v.caps.noErrorCodeCheck && hasErrorCode(v.event.vector);
}
/** The deliver-error-code bit must be 0 (SDM: any of the following holds). */
function errorCodeForbidden(v: EntryView): boolean {
  return v.event.type !== 3 || !v.guest.pe || (!v.caps.noErrorCodeCheck && !hasErrorCode(v.event.vector));
}

export const ENTRY_CONTROL_RULES: readonly StateRule[] = [
  ...controlWordRules(rule, {
    id: 'ctl.entry', label: 'VM-entry controls', msr: 'IA32_VMX_TRUE_ENTRY_CTLS', enc: F.VM_ENTRY_CONTROLS, word: ENTRY,
    value: (v) => v.entry.raw, caps: (v) => v.caps.entry,
    sdm: 'Reserved bits in the VM-entry controls must be set properly (IA32_VMX_ENTRY_CTLS / IA32_VMX_TRUE_ENTRY_CTLS).',
  }),
  rule({
    id: 'ctl.entry.event.type', reads: [INFO],
    sdm: 'If the valid bit of the VM-entry interruption-information field is 1, the interruption type (bits 10:8) must not be reserved: 1 always, 7 (other event) without the 1-setting of "monitor trap flag".',
    holds: (v) => !v.event.valid || !(v.event.type === 1 || (v.event.type === 7 && (v.caps.proc.allowed1 & PROC.MONITOR_TRAP_FLAG) === 0)),
    says: (v) => `VM-entry interruption-information ${hex(v.event.raw, 8)} has interruption type ${typeName(v.event.type)}, which is reserved; use 0 (external interrupt), 2 (NMI), 3 (hardware exception), 4 (software interrupt), 5 (privileged software exception), 6 (software exception)${(v.caps.proc.allowed1 & PROC.MONITOR_TRAP_FLAG) ? ' or 7 (other event)' : ''}`,
  }),
  rule({
    id: 'ctl.entry.event.nmi-vector', reads: [INFO],
    sdm: 'If the interruption type is NMI, the vector (bits 7:0) must be 2.',
    holds: (v) => !v.event.valid || v.event.type !== 2 || v.event.vector === 2,
    says: (v) => `VM-entry interruption-information ${hex(v.event.raw, 8)} injects an NMI with vector ${v.event.vector}; an NMI must have vector 2`,
  }),
  rule({
    id: 'ctl.entry.event.exception-vector', reads: [INFO],
    sdm: 'If the interruption type is hardware exception, the vector must be at most 31.',
    holds: (v) => !v.event.valid || v.event.type !== 3 || v.event.vector <= 31,
    says: (v) => `VM-entry interruption-information ${hex(v.event.raw, 8)} injects a hardware exception with vector ${v.event.vector}; exceptions have vectors 0..31 (use type 0 for an external interrupt or 4 for INT n)`,
  }),
  rule({
    id: 'ctl.entry.event.other-event-vector', reads: [INFO],
    sdm: 'If the interruption type is other event, the vector must be 0 (pending MTF VM exit).',
    holds: (v) => !v.event.valid || v.event.type !== 7 || v.event.vector === 0,
    says: (v) => `VM-entry interruption-information ${hex(v.event.raw, 8)} has type 7 (other event) with vector ${v.event.vector}; the only other event is vector 0 (pending MTF VM exit)`,
  }),
  rule({
    id: 'ctl.entry.event.error-code-required', reads: [INFO, F.GUEST_CR0],
    sdm: 'The deliver-error-code bit (bit 11) must be 1 if the type is hardware exception, CR0.PE is 1 in the guest CR0 field, IA32_VMX_BASIC[56] is 0 and the vector is #DF, #TS, #NP, #SS, #GP, #PF or #AC.',
    holds: (v) => !v.event.valid || !errorCodeRequired(v) || v.event.deliverErrorCode,
    says: (v) => `VM-entry interruption-information ${hex(v.event.raw, 8)} injects exception ${v.event.vector} into a protected-mode guest without an error code; vector ${v.event.vector} pushes one, so set bit 11 (deliver error code) and put the code in the VM-entry exception error code field`,
  }),
  rule({
    id: 'ctl.entry.event.error-code-forbidden', reads: [INFO, F.GUEST_CR0],
    sdm: 'The deliver-error-code bit must be 0 if the type is not hardware exception, if CR0.PE is 0 in the guest CR0 field, or if IA32_VMX_BASIC[56] is 0 and the vector is one without an error code.',
    holds: (v) => !v.event.valid || !errorCodeForbidden(v) || !v.event.deliverErrorCode,
    says: (v) => {
      const why = v.event.type !== 3 ? `interruption type ${typeName(v.event.type)} has no error code`
        : !v.guest.pe ? 'the guest CR0.PE is 0 (real-address mode delivers no error codes)'
          : `exception vector ${v.event.vector} has no error code`;
      return `VM-entry interruption-information ${hex(v.event.raw, 8)} sets bit 11 (deliver error code) but ${why}; clear bit 11`;
    },
  }),
  rule({
    id: 'ctl.entry.event.reserved', reads: [INFO],
    sdm: 'If the valid bit is 1, reserved bits 30:12 of the VM-entry interruption-information field must be 0.',
    holds: (v) => !v.event.valid || v.event.reserved === 0,
    says: (v) => `VM-entry interruption-information ${hex(v.event.raw, 8)} sets reserved bits 30:12 (${hex((v.event.raw & 0x7ffff000) >>> 0)}); only bits 31 (valid), 11 (deliver error code), 10:8 (type) and 7:0 (vector) may be set`,
  }),
  rule({
    id: 'ctl.entry.event.error-code-reserved', reads: [INFO, F.VM_ENTRY_EXCEPTION_ERROR_CODE],
    sdm: 'If the deliver-error-code bit is 1, bits 31:16 of the VM-entry exception error-code field must be 0.',
    holds: (v) => !v.event.valid || !v.event.deliverErrorCode || (v.event.errorCode >>> 16) === 0,
    says: (v) => `VM-entry exception error code is ${hex(v.event.errorCode)}; with deliver-error-code = 1 bits 31:16 must be 0 (error codes are 16 bits)`,
  }),
  rule({
    id: 'ctl.entry.event.instruction-length', reads: [INFO, F.VM_ENTRY_INSTRUCTION_LENGTH],
    sdm: 'If the type is software interrupt, privileged software exception or software exception, the VM-entry instruction length must be in the range 0–15; 0 is allowed only if IA32_VMX_MISC[30] is 1.',
    holds: (v) => {
      if (!v.event.valid || v.event.type < 4 || v.event.type > 6) return true;
      const n = v.event.instructionLength;
      return n <= 15 && (n > 0 || v.caps.entryInstrLenZero);
    },
    says: (v) => `VM-entry instruction length is ${v.event.instructionLength} for an injected ${TYPE_NAMES[v.event.type]}; it must be ${v.caps.entryInstrLenZero ? '0' : '1'}..15 (the length of the INT n / INT3 / INTO / INT1 instruction, which becomes the return RIP offset)`,
  }),
  ...msrAreaRules(rule, {
    id: 'ctl.entry.msr-load', label: 'VM-entry MSR-load', addrEnc: F.VM_ENTRY_MSR_LOAD_ADDRESS, countEnc: F.VM_ENTRY_MSR_LOAD_COUNT,
    addr: (v) => v.entry.msrLoadAddress, count: (v) => v.entry.msrLoadCount,
  }),
  rule({
    id: 'ctl.entry.entry-to-smm', reads: [F.VM_ENTRY_CONTROLS],
    sdm: 'If the processor is not in SMM, the "entry to SMM" VM-entry control must be 0.',
    holds: (v) => v.cpu.inSmm || !v.entry.entryToSmm,
    says: () => '"entry to SMM" (VM-entry control bit 10) is 1 outside SMM; it is only for the dual-monitor treatment of SMIs — clear it',
  }),
  rule({
    id: 'ctl.entry.deactivate-dual-monitor', reads: [F.VM_ENTRY_CONTROLS],
    sdm: 'If the processor is not in SMM, the "deactivate dual-monitor treatment" VM-entry control must be 0.',
    holds: (v) => v.cpu.inSmm || !v.entry.deactivateDualMonitor,
    says: () => '"deactivate dual-monitor treatment" (VM-entry control bit 11) is 1 outside SMM; clear it',
  }),
];
