/**
 * SDM Vol. 3C, "Checks on Guest Control Registers, Debug Registers, and MSRs" (part of "Checks on
 * the Guest State Area"). A failure is a VM-entry failure, exit reason 33, qualification 0.
 *
 * Not offered, hence no rules (their VM-entry controls are refused by the allowed-1 rule):
 * "load IA32_PERF_GLOBAL_CTRL", "load IA32_BNDCFGS", "load IA32_RTIT_CTL", "load CET state"
 * (and the CR4.CET ⇒ CR0.WP check: CR4.CET is not in IA32_VMX_CR4_FIXED1), "load guest
 * IA32_LBR_CTL", "load PKRS", "load UINV".
 */
import * as F from '../fields.js';
import { section, hex, hex64, bitList, bitList64, type StateRule } from './rule.js';
import { canonical, withinWidth, fixedViolation, patBadEntry, isZero, type EntryView, type U64 } from './view.js';
import { EFER_VALID } from './host.js';

const rule = section('guest', 'Checks on Guest Control Registers, Debug Registers, and MSRs');
const N = F.VM_ENTRY_CONTROLS, P2 = F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS;
const CR0_PE = 1, CR0_NW = 1 << 29, CR0_CD = 1 << 30, CR0_PG = 0x80000000;
const CR4_PAE = 0x20, CR4_PCIDE = 0x20000;
const h = (x: U64): string => hex64(x.lo, x.hi);

/**
 * CR0 bits the fixed-bit check ignores: NW and CD always (VM entry does not change them), PE and
 * PG when "unrestricted guest" is 1.
 */
const cr0Ignored = (v: EntryView): number => (CR0_NW | CR0_CD | (v.proc2.unrestrictedGuest ? (CR0_PE | CR0_PG) : 0)) >>> 0;
const cr0Bad = (v: EntryView) => fixedViolation(v.guest.cr0, v.caps.cr0Fixed0, v.caps.cr0Fixed1, cr0Ignored(v));
const cr4Bad = (v: EntryView) => fixedViolation(v.guest.cr4, v.caps.cr4Fixed0, v.caps.cr4Fixed1);
const efer = (v: EntryView, bit: number): number => (v.guest.efer.lo >>> bit) & 1;

function canonicalRule(id: string, label: string, enc: number, get: (v: EntryView) => U64): StateRule {
  return rule({
    id, reads: [enc], sdm: `The ${label} field must contain a canonical address.`,
    holds: (v) => canonical(get(v), v.caps.linWidth),
    says: (v) => `${label} ${h(get(v))} is not canonical: bits 63:${v.caps.linWidth - 1} must all equal bit ${v.caps.linWidth - 1}`,
  });
}

export const GUEST_REG_RULES: readonly StateRule[] = [
  rule({
    id: 'guest.cr0.fixed0', reads: [F.GUEST_CR0, P2],
    sdm: 'The CR0 field must not set any bit to a value not supported in VMX operation; PE and PG are not checked if "unrestricted guest" is 1; NW and CD are never checked.',
    holds: (v) => isZero(cr0Bad(v).must1),
    says: (v) => {
      const m = cr0Bad(v).must1;
      return `guest CR0 ${h(v.guest.cr0)} clears bit(s) ${bitList64(m.lo, m.hi)} that must be 1 in VMX operation (IA32_VMX_CR0_FIXED0 = ${h(v.caps.cr0Fixed0)}${v.proc2.unrestrictedGuest ? '; PE and PG exempt with "unrestricted guest"' : '; a guest with PE = 0 or PG = 0 needs "unrestricted guest"'})`;
    },
  }),
  rule({
    id: 'guest.cr0.fixed1', reads: [F.GUEST_CR0],
    sdm: 'The CR0 field must not set any bit to a value not supported in VMX operation (bits clear in IA32_VMX_CR0_FIXED1 must be 0; NW and CD are never checked).',
    holds: (v) => isZero(cr0Bad(v).must0),
    says: (v) => {
      const m = cr0Bad(v).must0;
      return `guest CR0 ${h(v.guest.cr0)} sets bit(s) ${bitList64(m.lo, m.hi)} that must be 0 (IA32_VMX_CR0_FIXED1 = ${h(v.caps.cr0Fixed1)})`;
    },
  }),
  rule({
    id: 'guest.cr0.pg-requires-pe', reads: [F.GUEST_CR0],
    sdm: 'If bit 31 in the CR0 field (PG) is 1, bit 0 (PE) must be 1.',
    holds: (v) => (v.guest.cr0.lo & CR0_PG) === 0 || (v.guest.cr0.lo & CR0_PE) !== 0,
    says: (v) => `guest CR0 ${h(v.guest.cr0)} has PG = 1 and PE = 0; paging requires protected mode`,
  }),
  rule({
    id: 'guest.cr4.fixed0', reads: [F.GUEST_CR4],
    sdm: 'The CR4 field must not set any bit to a value not supported in VMX operation (bits set in IA32_VMX_CR4_FIXED0 must be 1).',
    holds: (v) => isZero(cr4Bad(v).must1),
    says: (v) => {
      const m = cr4Bad(v).must1;
      return `guest CR4 ${h(v.guest.cr4)} clears bit(s) ${bitList64(m.lo, m.hi)} that must be 1 in VMX operation (IA32_VMX_CR4_FIXED0 = ${h(v.caps.cr4Fixed0)}; CR4.VMXE is bit 13); use CR4 read shadows to hide it from the guest`;
    },
  }),
  rule({
    id: 'guest.cr4.fixed1', reads: [F.GUEST_CR4],
    sdm: 'The CR4 field must not set any bit to a value not supported in VMX operation (bits clear in IA32_VMX_CR4_FIXED1 must be 0).',
    holds: (v) => isZero(cr4Bad(v).must0),
    says: (v) => {
      const m = cr4Bad(v).must0;
      return `guest CR4 ${h(v.guest.cr4)} sets bit(s) ${bitList64(m.lo, m.hi)} that vmxray's processor does not support (IA32_VMX_CR4_FIXED1 = ${h(v.caps.cr4Fixed1)})`;
    },
  }),
  rule({
    id: 'guest.debugctl.reserved', reads: [F.GUEST_IA32_DEBUGCTL, N],
    sdm: 'If the "load debug controls" VM-entry control is 1, bits reserved in the IA32_DEBUGCTL MSR must be 0 in the field for that register.',
    holds: (v) => !v.entry.loadDebugControls || (v.guest.debugctl.hi === 0 && (v.guest.debugctl.lo & ~v.caps.debugctlValid) === 0),
    says: (v) => `guest IA32_DEBUGCTL ${h(v.guest.debugctl)} sets reserved bit(s) ${bitList64(v.guest.debugctl.lo & ~v.caps.debugctlValid, v.guest.debugctl.hi)} with "load debug controls" = 1; the supported bits are ${hex(v.caps.debugctlValid)} (${bitList(v.caps.debugctlValid)})`,
  }),
  rule({
    id: 'guest.ia32e.cr0-pg', reads: [F.GUEST_CR0, N],
    sdm: 'If the "IA-32e mode guest" VM-entry control is 1, bit 31 in the CR0 field (PG) must be 1.',
    holds: (v) => !v.entry.ia32eModeGuest || (v.guest.cr0.lo & CR0_PG) !== 0,
    says: (v) => `guest CR0 ${h(v.guest.cr0)} has PG = 0 but "IA-32e mode guest" is 1; IA-32e mode requires paging`,
  }),
  rule({
    id: 'guest.ia32e.cr4-pae', reads: [F.GUEST_CR4, N],
    sdm: 'If the "IA-32e mode guest" VM-entry control is 1, bit 5 in the CR4 field (PAE) must be 1.',
    holds: (v) => !v.entry.ia32eModeGuest || (v.guest.cr4.lo & CR4_PAE) !== 0,
    says: (v) => `guest CR4 ${h(v.guest.cr4)} has PAE = 0 but "IA-32e mode guest" is 1; IA-32e mode requires CR4.PAE = 1`,
  }),
  rule({
    id: 'guest.cr4.pcide-outside-ia32e', reads: [F.GUEST_CR4, N],
    sdm: 'If the "IA-32e mode guest" VM-entry control is 0, bit 17 in the CR4 field (PCIDE) must be 0.',
    holds: (v) => v.entry.ia32eModeGuest || (v.guest.cr4.lo & CR4_PCIDE) === 0,
    says: (v) => `guest CR4 ${h(v.guest.cr4)} sets PCIDE (bit 17) but "IA-32e mode guest" is 0; PCIDs exist only in IA-32e mode`,
  }),
  rule({
    id: 'guest.cr3.width', reads: [F.GUEST_CR3],
    sdm: 'The CR3 field must be such that bits 63:52 and bits in the range 51:32 beyond the processor\'s physical-address width are 0.',
    holds: (v) => withinWidth(v.guest.cr3, v.caps.physWidth),
    says: (v) => `guest CR3 ${h(v.guest.cr3)} sets bits beyond the physical-address width (${v.caps.physWidth} bits); bits 63:${v.caps.physWidth} must be 0`,
  }),
  rule({
    id: 'guest.dr7.upper', reads: [F.GUEST_DR7, N],
    sdm: 'If the "load debug controls" VM-entry control is 1, bits 63:32 in the DR7 field must be 0.',
    holds: (v) => !v.entry.loadDebugControls || v.guest.dr7.hi === 0,
    says: (v) => `guest DR7 ${h(v.guest.dr7)} sets bits 63:32 with "load debug controls" = 1; they must be 0`,
  }),
  canonicalRule('guest.sysenter-esp.canonical', 'guest IA32_SYSENTER_ESP', F.GUEST_IA32_SYSENTER_ESP, (v) => v.guest.sysenterEsp),
  canonicalRule('guest.sysenter-eip.canonical', 'guest IA32_SYSENTER_EIP', F.GUEST_IA32_SYSENTER_EIP, (v) => v.guest.sysenterEip),
  rule({
    id: 'guest.pat.valid', reads: [F.GUEST_IA32_PAT, N],
    sdm: 'If the "load IA32_PAT" VM-entry control is 1, each of the 8 bytes of the guest IA32_PAT field must be 0, 1, 4, 5, 6 or 7.',
    holds: (v) => !v.entry.loadPat || patBadEntry(v.guest.pat) < 0,
    says: (v) => {
      const i = patBadEntry(v.guest.pat);
      const b = ((i < 4 ? v.guest.pat.lo : v.guest.pat.hi) >>> ((i & 3) * 8)) & 0xff;
      return `guest IA32_PAT ${h(v.guest.pat)}: entry PA${i} is ${hex(b)}, not a memory type; each byte must be 0 (UC), 1 (WC), 4 (WT), 5 (WP), 6 (WB) or 7 (UC-)`;
    },
  }),
  rule({
    id: 'guest.efer.reserved', reads: [F.GUEST_IA32_EFER, N],
    sdm: 'If the "load IA32_EFER" VM-entry control is 1, reserved bits of the guest IA32_EFER field must be 0.',
    holds: (v) => !v.entry.loadEfer || (v.guest.efer.hi === 0 && (v.guest.efer.lo & ~EFER_VALID) === 0),
    says: (v) => `guest IA32_EFER ${h(v.guest.efer)} sets reserved bit(s) ${bitList64(v.guest.efer.lo & ~EFER_VALID, v.guest.efer.hi)}; only SCE (0), LME (8), LMA (10) and NXE (11) exist`,
  }),
  rule({
    id: 'guest.efer.lma', reads: [F.GUEST_IA32_EFER, N],
    sdm: 'If the "load IA32_EFER" VM-entry control is 1, bit 10 (LMA) of the guest IA32_EFER field must equal the "IA-32e mode guest" VM-entry control.',
    holds: (v) => !v.entry.loadEfer || efer(v, 10) === +v.entry.ia32eModeGuest,
    says: (v) => `guest IA32_EFER ${h(v.guest.efer)} has LMA = ${efer(v, 10)} but "IA-32e mode guest" is ${+v.entry.ia32eModeGuest}; they must be equal`,
  }),
  rule({
    id: 'guest.efer.lme', reads: [F.GUEST_IA32_EFER, N, F.GUEST_CR0],
    sdm: 'If the "load IA32_EFER" VM-entry control is 1 and CR0.PG is 1 in the guest CR0 field, bit 8 (LME) of the guest IA32_EFER field must equal the "IA-32e mode guest" VM-entry control.',
    holds: (v) => !v.entry.loadEfer || (v.guest.cr0.lo & CR0_PG) === 0 || efer(v, 8) === +v.entry.ia32eModeGuest,
    says: (v) => `guest IA32_EFER ${h(v.guest.efer)} has LME = ${efer(v, 8)} with paging on (guest CR0.PG = 1) but "IA-32e mode guest" is ${+v.entry.ia32eModeGuest}; they must be equal`,
  }),
];
