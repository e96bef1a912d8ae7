/**
 * SDM Vol. 3C, "Checks on Guest Non-Register State" (part of "Checks on the Guest State Area"):
 * activity state, interruptibility state, pending debug exceptions, VMCS link pointer.
 * A failure is a VM-entry failure, exit reason 33, with qualification 0, except: the VMCS
 * link-pointer rules (qualification 4) and NMI injection with blocking by STI (qualification 3).
 *
 * Not offered, hence folded into the reserved-bit rules: enclave interruption (SGX,
 * interruptibility bit 4) and RTM (pending-debug-exceptions bit 16). The SMM-dependent checks
 * ("entry to SMM" with wait-for-SIPI or without blocking by SMI; link pointer vs. executive-VMCS
 * pointer in SMM) cannot apply: vmxray is never in SMM and "entry to SMM" must be 0.
 */
import * as F from '../fields.js';
import { section, hex, hex64, type StateRule } from './rule.js';
import { withinWidth, isOnes, num, type EntryView } from './view.js';
import { structWidth } from './common.js';

const rule = section('guest', 'Checks on Guest Non-Register State');
const ACT = F.GUEST_ACTIVITY_STATE, INTR = F.GUEST_INTERRUPTIBILITY_STATE, INFO = F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD;
const PDE = F.GUEST_PENDING_DEBUG_EXCEPTIONS, LINK = F.VMCS_LINK_POINTER;
const ACTIVITY = ['active', 'HLT', 'shutdown', 'wait-for-SIPI'];
const STI = 1, MOV_SS = 2, SMI = 4, NMI = 8;
/** Interruptibility bits 31:5 are reserved; bit 4 (enclave interruption) too, as vmxray has no SGX. */
const INTR_RESERVED = 0xfffffff0;
/** Pending debug exceptions: B3..B0 (3:0), enabled breakpoint (12), BS (14) exist; 11:4, 13, 15, 63:17 are reserved, and 16 (RTM) too as vmxray has no RTM. */
const PDE_VALID_LO = 0xf | (1 << 12) | (1 << 14);
const BS = 1 << 14;

const act = (v: EntryView): string => `${v.guest.activity} (${ACTIVITY[v.guest.activity] ?? 'invalid'})`;
const ev = (v: EntryView): string => `injected event type ${v.event.type} vector ${v.event.vector}`;
/** Pending-debug-exception checks apply with blocking by STI or MOV SS, or in the HLT state. */
const bsApplies = (v: EntryView): boolean => (v.guest.interruptibility & (STI | MOV_SS)) !== 0 || v.guest.activity === 1;
const tfSingleStep = (v: EntryView): boolean => (v.guest.rflags.lo & 0x100) !== 0 && (v.guest.debugctl.lo & 2) === 0;
/** The link pointer's target header is read only where the pointer itself is sound. */
const linkSound = (v: EntryView): boolean => !isOnes(v.guest.linkPointer) && (v.guest.linkPointer.lo & 0xfff) === 0 && withinWidth(v.guest.linkPointer, structWidth(v));
const lp = (v: EntryView): string => hex64(v.guest.linkPointer.lo, v.guest.linkPointer.hi);

export const GUEST_NON_REGISTER_RULES: readonly StateRule[] = [
  // ---- Activity state
  rule({
    id: 'guest.activity.range', reads: [ACT],
    sdm: 'The activity-state field must contain a value in the range 0 – 3.',
    holds: (v) => v.guest.activity <= 3,
    says: (v) => `guest activity state is ${v.guest.activity}; it must be 0 (active), 1 (HLT), 2 (shutdown) or 3 (wait-for-SIPI)`,
  }),
  rule({
    id: 'guest.activity.supported', reads: [ACT],
    sdm: 'The activity-state field must not indicate a state that the processor does not support (IA32_VMX_MISC bits 8:6).',
    holds: (v) => {
      const a = v.guest.activity;
      return a === 0 || a > 3 || (a === 1 && v.caps.activityHlt) || (a === 2 && v.caps.activityShutdown) || (a === 3 && v.caps.activityWaitForSipi);
    },
    says: (v) => `guest activity state is ${act(v)}, which the processor does not support (IA32_VMX_MISC bits 8:6 = ${+v.caps.activityHlt}${+v.caps.activityShutdown}${+v.caps.activityWaitForSipi} for HLT/shutdown/wait-for-SIPI)`,
  }),
  rule({
    id: 'guest.activity.hlt-ss-dpl', reads: [ACT, F.GUEST_SS_ACCESS_RIGHTS],
    sdm: 'The activity-state field must not indicate the HLT state if the DPL (bits 6:5) in the access-rights field for SS is not 0.',
    holds: (v) => v.guest.activity !== 1 || v.guest.ss.dpl === 0,
    says: (v) => `guest activity state is HLT but SS DPL (the CPL) is ${v.guest.ss.dpl}; HLT is only possible at CPL 0`,
  }),
  rule({
    id: 'guest.activity.blocking-requires-active', reads: [ACT, INTR],
    sdm: 'The activity-state field must indicate the active state if the interruptibility-state field indicates blocking by either MOV-SS or by STI.',
    holds: (v) => v.guest.activity === 0 || (v.guest.interruptibility & (STI | MOV_SS)) === 0,
    says: (v) => `guest activity state is ${act(v)} but the interruptibility state ${hex(v.guest.interruptibility)} indicates blocking by ${(v.guest.interruptibility & STI) ? 'STI' : 'MOV SS'}; that blocking exists only right after an instruction, so the state must be active`,
  }),
  rule({
    id: 'guest.activity.hlt-event', reads: [ACT, INFO],
    sdm: 'In the HLT state only external interrupts, NMIs, hardware exceptions #DB (1) and #MC (18), and other event 0 (pending MTF) may be injected.',
    holds: (v) => {
      if (!v.event.valid || v.guest.activity !== 1) return true;
      const { type, vector } = v.event;
      return type === 0 || type === 2 || (type === 3 && (vector === 1 || vector === 18)) || (type === 7 && vector === 0);
    },
    says: (v) => `${ev(v)} into a guest in the HLT state; HLT lets through only external interrupts, NMIs, #DB, #MC and a pending MTF — use the active state to inject this event`,
  }),
  rule({
    id: 'guest.activity.shutdown-event', reads: [ACT, INFO],
    sdm: 'In the shutdown state only NMIs and machine-check exceptions may be injected.',
    holds: (v) => !v.event.valid || v.guest.activity !== 2 || v.event.type === 2 || (v.event.type === 3 && v.event.vector === 18),
    says: (v) => `${ev(v)} into a guest in the shutdown state; only an NMI or a #MC (hardware exception 18) may be injected`,
  }),
  rule({
    id: 'guest.activity.wait-for-sipi-event', reads: [ACT, INFO],
    sdm: 'In the wait-for-SIPI state no interruptions may be injected.',
    holds: (v) => !v.event.valid || v.guest.activity !== 3,
    says: (v) => `${ev(v)} into a guest in the wait-for-SIPI state; no event can be injected there (clear the valid bit)`,
  }),
  // ---- Interruptibility state
  rule({
    id: 'guest.intr.reserved', reads: [INTR],
    sdm: 'Reserved bits 31:5 of the interruptibility-state field must be 0 (bit 4, enclave interruption, must be 0 without SGX).',
    holds: (v) => (v.guest.interruptibility & INTR_RESERVED) === 0,
    says: (v) => `guest interruptibility state ${hex(v.guest.interruptibility)} sets reserved bits; only bits 0 (STI), 1 (MOV SS), 2 (SMI) and 3 (NMI) exist`,
  }),
  rule({
    id: 'guest.intr.sti-and-mov-ss', reads: [INTR],
    sdm: 'Bits 0 (blocking by STI) and 1 (blocking by MOV-SS) of the interruptibility-state field cannot both be 1.',
    holds: (v) => (v.guest.interruptibility & 3) !== 3,
    says: (v) => `guest interruptibility state ${hex(v.guest.interruptibility)} indicates blocking by STI and by MOV SS at once; at most one of bits 0 and 1 may be set`,
  }),
  rule({
    id: 'guest.intr.sti-if-clear', reads: [INTR, F.GUEST_RFLAGS],
    sdm: 'Bit 0 (blocking by STI) must be 0 if the IF flag (bit 9) is 0 in the RFLAGS field.',
    holds: (v) => (v.guest.interruptibility & STI) === 0 || (v.guest.rflags.lo & 0x200) !== 0,
    says: (v) => `guest interruptibility state ${hex(v.guest.interruptibility)} indicates blocking by STI but RFLAGS.IF is 0 (RFLAGS ${hex64(v.guest.rflags.lo, v.guest.rflags.hi)}); STI blocking follows an STI that set IF`,
  }),
  rule({
    id: 'guest.intr.external-interrupt', reads: [INTR, INFO],
    sdm: 'Bits 0 and 1 must both be 0 if the valid bit of the VM-entry interruption-information field is 1 and the interruption type is external interrupt.',
    holds: (v) => !v.event.valid || v.event.type !== 0 || (v.guest.interruptibility & 3) === 0,
    says: (v) => `an external interrupt (vector ${v.event.vector}) is injected while the guest interruptibility state ${hex(v.guest.interruptibility)} blocks interrupts (STI/MOV SS); wait for the interrupt window`,
  }),
  rule({
    id: 'guest.intr.nmi-mov-ss', reads: [INTR, INFO],
    sdm: 'Bit 1 (blocking by MOV-SS) must be 0 if the valid bit is 1 and the interruption type is NMI.',
    holds: (v) => !v.event.valid || v.event.type !== 2 || (v.guest.interruptibility & MOV_SS) === 0,
    says: (v) => `an NMI is injected while the guest interruptibility state ${hex(v.guest.interruptibility)} indicates blocking by MOV SS`,
  }),
  rule({
    id: 'guest.intr.smi', reads: [INTR],
    sdm: 'Bit 2 (blocking by SMI) must be 0 if the processor is not in SMM.',
    holds: (v) => v.cpu.inSmm || (v.guest.interruptibility & SMI) === 0,
    says: (v) => `guest interruptibility state ${hex(v.guest.interruptibility)} indicates blocking by SMI outside SMM; clear bit 2`,
  }),
  rule({
    // The SDM lets processors differ here ("a VM entry ... may fail"); our choice: fail, with exit
    // qualification 3, as the processors that check do.
    id: 'guest.intr.nmi-sti', reads: [INTR, INFO], qualification: 3,
    sdm: 'A VM entry that injects an NMI into a guest blocking events by STI (interruptibility bit 0) may fail with exit qualification 3.',
    holds: (v) => !v.event.valid || v.event.type !== 2 || (v.guest.interruptibility & STI) === 0,
    says: (v) => `an NMI is injected while the guest interruptibility state ${hex(v.guest.interruptibility)} indicates blocking by STI (exit qualification 3); clear bit 0 or wait one instruction (NMI-window exiting)`,
  }),
  rule({
    id: 'guest.intr.virtual-nmi-blocking', reads: [INTR, INFO, F.PIN_BASED_VM_EXECUTION_CONTROLS],
    sdm: 'If "virtual NMIs" is 1, the valid bit is 1 and the interruption type is NMI, bit 3 (blocking by NMI) must be 0.',
    holds: (v) => !v.pin.virtualNmis || !v.event.valid || v.event.type !== 2 || (v.guest.interruptibility & NMI) === 0,
    says: (v) => `a virtual NMI is injected while the guest interruptibility state ${hex(v.guest.interruptibility)} indicates (virtual-)NMI blocking; use NMI-window exiting to inject it once the guest unblocks NMIs`,
  }),
  // ---- Pending debug exceptions
  rule({
    id: 'guest.pending-dbg.reserved', reads: [PDE],
    sdm: 'Bits 11:4, bit 13, bit 15 and bits 63:17 of the pending debug exceptions field must be 0 (bit 16, RTM, must be 0 without RTM).',
    holds: (v) => v.guest.pendingDbg.hi === 0 && (v.guest.pendingDbg.lo & ~PDE_VALID_LO) === 0,
    says: (v) => `guest pending debug exceptions ${hex64(v.guest.pendingDbg.lo, v.guest.pendingDbg.hi)} sets reserved bits; only B3–B0 (3:0), enabled breakpoint (12) and BS (14) exist`,
  }),
  rule({
    id: 'guest.pending-dbg.bs-set', reads: [PDE, INTR, ACT, F.GUEST_RFLAGS, F.GUEST_IA32_DEBUGCTL],
    sdm: 'With blocking by STI or MOV SS, or in the HLT state: BS (bit 14) must be 1 if RFLAGS.TF is 1 and IA32_DEBUGCTL.BTF is 0.',
    holds: (v) => !bsApplies(v) || !tfSingleStep(v) || (v.guest.pendingDbg.lo & BS) !== 0,
    says: (v) => `guest RFLAGS.TF = 1 and IA32_DEBUGCTL.BTF = 0 with ${v.guest.activity === 1 ? 'the HLT state' : 'blocking by STI/MOV SS'}: a single-step trap is pending, so pending debug exceptions BS (bit 14) must be 1 (it is ${hex64(v.guest.pendingDbg.lo, v.guest.pendingDbg.hi)})`,
  }),
  rule({
    id: 'guest.pending-dbg.bs-clear', reads: [PDE, INTR, ACT, F.GUEST_RFLAGS, F.GUEST_IA32_DEBUGCTL],
    sdm: 'With blocking by STI or MOV SS, or in the HLT state: BS (bit 14) must be 0 if RFLAGS.TF is 0 or IA32_DEBUGCTL.BTF is 1.',
    holds: (v) => !bsApplies(v) || tfSingleStep(v) || (v.guest.pendingDbg.lo & BS) === 0,
    says: (v) => `pending debug exceptions ${hex64(v.guest.pendingDbg.lo, v.guest.pendingDbg.hi)} has BS (bit 14) = 1 with ${v.guest.activity === 1 ? 'the HLT state' : 'blocking by STI/MOV SS'}, but ${(v.guest.rflags.lo & 0x100) === 0 ? 'RFLAGS.TF is 0' : 'IA32_DEBUGCTL.BTF is 1'}; no single-step trap can be pending — clear BS`,
  }),
  // ---- VMCS link pointer (exit qualification 4)
  rule({
    id: 'guest.link.aligned', reads: [LINK], qualification: 4,
    sdm: 'If the VMCS link pointer is not FFFFFFFF_FFFFFFFFH, bits 11:0 must be 0.',
    holds: (v) => isOnes(v.guest.linkPointer) || (v.guest.linkPointer.lo & 0xfff) === 0,
    says: (v) => `VMCS link pointer ${lp(v)} is not 4-KByte aligned; without VMCS shadowing set it to FFFFFFFF_FFFFFFFFH${v.guest.linkPointer.lo === 0xffffffff && v.guest.linkPointer.hi === 0 ? ' (all 64 bits: only the low 32 were written — VMWRITE of a 64-bit field in 32-bit mode needs the HIGH access too)' : ''}`,
  }),
  rule({
    id: 'guest.link.width', reads: [LINK], qualification: 4,
    sdm: 'If the VMCS link pointer is not FFFFFFFF_FFFFFFFFH, bits beyond the processor\'s physical-address width must be 0.',
    holds: (v) => isOnes(v.guest.linkPointer) || withinWidth(v.guest.linkPointer, structWidth(v)),
    says: (v) => `VMCS link pointer ${lp(v)} sets bits beyond the physical-address width (${structWidth(v)} bits); without VMCS shadowing set it to FFFFFFFF_FFFFFFFFH (all 64 bits: a common bug writes only the low 32)`,
  }),
  rule({
    id: 'guest.link.revision', reads: [LINK], qualification: 4,
    sdm: 'If the VMCS link pointer is not FFFFFFFF_FFFFFFFFH, bits 30:0 of the 4 bytes it references must contain the processor\'s VMCS revision identifier.',
    holds: (v) => !linkSound(v) || (v.linkPointerHeader() & 0x7fffffff) === v.caps.revision,
    says: (v) => `VMCS link pointer ${lp(v)} references memory whose first dword is ${hex(v.linkPointerHeader())}, not the VMCS revision identifier ${hex(v.caps.revision)}; without VMCS shadowing set the link pointer to FFFFFFFF_FFFFFFFFH`,
  }),
  rule({
    id: 'guest.link.shadow-indicator', reads: [LINK, F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS], qualification: 4,
    sdm: 'If the VMCS link pointer is not FFFFFFFF_FFFFFFFFH, bit 31 of the 4 bytes it references must equal the "VMCS shadowing" VM-execution control.',
    holds: (v) => !linkSound(v) || (v.linkPointerHeader() >>> 31) === +v.proc2.vmcsShadowing,
    says: (v) => `VMCS link pointer ${lp(v)} references a VMCS with shadow-VMCS indicator ${v.linkPointerHeader() >>> 31} but "VMCS shadowing" is ${+v.proc2.vmcsShadowing}; they must be equal`,
  }),
  rule({
    id: 'guest.link.not-current', reads: [LINK, F.VM_ENTRY_CONTROLS], qualification: 4,
    sdm: 'If the processor is not in SMM or "entry to SMM" is 1, the VMCS link pointer must not contain the current-VMCS pointer.',
    holds: (v) => isOnes(v.guest.linkPointer) || (v.cpu.inSmm && !v.entry.entryToSmm) || num(v.guest.linkPointer) !== v.cpu.currentVmcs,
    says: (v) => `VMCS link pointer ${lp(v)} is the current VMCS itself; without VMCS shadowing set it to FFFFFFFF_FFFFFFFFH`,
  }),
];
