/**
 * SDM Vol. 3C, "Checks on VM-Execution Control Fields" (part of "Checks on VMX Controls").
 * A failure is VMfailValid(7), "VM entry with invalid control field(s)".
 *
 * Controls vmxray does not offer (APIC-access page and APIC virtualization, posted interrupts,
 * PML, VM functions, VMCS shadowing, EPT-violation #VE, sub-page permissions, tertiary controls,
 * ...) are refused by the allowed-1 rules below; the checks the SDM ties to them (addresses of the
 * APIC-access page, posted-interrupt descriptor, PML log, EPTP list, VMREAD/VMWRITE bitmaps, #VE
 * information; their dependencies on other controls) have no rule of their own.
 */
import * as F from '../fields.js';
import { PIN, PROC, PROC2 } from '../controls.js';
import { section, hex, hex64, type StateRule } from './rule.js';
import { withinWidth, num } from './view.js';
import { controlWordRules, pageAddressRules, structWidth } from './common.js';

const rule = section('controls', 'Checks on VM-Execution Control Fields');
const PIN_ENC = F.PIN_BASED_VM_EXECUTION_CONTROLS, PROC_ENC = F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS;
const PROC2_ENC = F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS;
const MT_NAMES: Record<number, string> = { 0: 'UC', 6: 'WB' };

export const EXECUTION_CONTROL_RULES: readonly StateRule[] = [
  ...controlWordRules(rule, {
    id: 'ctl.pin', label: 'pin-based VM-execution controls', msr: 'IA32_VMX_TRUE_PINBASED_CTLS', enc: PIN_ENC, word: PIN,
    value: (v) => v.pin.raw, caps: (v) => v.caps.pin,
    sdm: 'Reserved bits in the pin-based VM-execution controls must be set properly (IA32_VMX_PINBASED_CTLS / IA32_VMX_TRUE_PINBASED_CTLS).',
  }),
  ...controlWordRules(rule, {
    id: 'ctl.proc', label: 'primary processor-based VM-execution controls', msr: 'IA32_VMX_TRUE_PROCBASED_CTLS', enc: PROC_ENC, word: PROC,
    value: (v) => v.proc.raw, caps: (v) => v.caps.proc,
    sdm: 'Reserved bits in the primary processor-based VM-execution controls must be set properly (IA32_VMX_PROCBASED_CTLS / IA32_VMX_TRUE_PROCBASED_CTLS).',
  }),
  ...controlWordRules(rule, {
    id: 'ctl.proc2', label: 'secondary processor-based VM-execution controls', msr: 'IA32_VMX_PROCBASED_CTLS2', enc: PROC2_ENC, word: PROC2,
    value: (v) => v.proc2.raw, caps: (v) => v.caps.proc2, when: (v) => v.proc.activateSecondary, extraReads: [PROC_ENC],
    sdm: 'If "activate secondary controls" is 1, reserved bits in the secondary processor-based VM-execution controls must be cleared (IA32_VMX_PROCBASED_CTLS2); if it is 0, no checks are performed on them.',
  }),
  rule({
    id: 'ctl.cr3-target-count', reads: [F.CR3_TARGET_COUNT],
    sdm: 'The CR3-target count must not be greater than 4 (the number of CR3-target values, IA32_VMX_MISC bits 24:16).',
    holds: (v) => v.ctl.cr3TargetCount <= v.caps.cr3TargetCount,
    says: (v) => `CR3-target count is ${v.ctl.cr3TargetCount}; the processor supports at most ${v.caps.cr3TargetCount} CR3-target values (IA32_VMX_MISC bits 24:16)`,
  }),
  ...pageAddressRules(rule, {
    id: 'ctl.io-bitmap-a', label: 'address of I/O bitmap A', enc: F.ADDRESS_OF_IO_BITMAP_A, ctlEnc: PROC_ENC,
    control: 'use I/O bitmaps', when: (v) => v.proc.useIoBitmaps, addr: (v) => v.ctl.ioBitmapA,
  }),
  ...pageAddressRules(rule, {
    id: 'ctl.io-bitmap-b', label: 'address of I/O bitmap B', enc: F.ADDRESS_OF_IO_BITMAP_B, ctlEnc: PROC_ENC,
    control: 'use I/O bitmaps', when: (v) => v.proc.useIoBitmaps, addr: (v) => v.ctl.ioBitmapB,
  }),
  ...pageAddressRules(rule, {
    id: 'ctl.msr-bitmaps', label: 'address of MSR bitmaps', enc: F.ADDRESS_OF_MSR_BITMAPS, ctlEnc: PROC_ENC,
    control: 'use MSR bitmaps', when: (v) => v.proc.useMsrBitmaps, addr: (v) => v.ctl.msrBitmaps,
  }),
  ...pageAddressRules(rule, {
    id: 'ctl.virtual-apic', label: 'virtual-APIC address', enc: F.VIRTUAL_APIC_ADDRESS, ctlEnc: PROC_ENC,
    control: 'use TPR shadow', when: (v) => v.proc.useTprShadow, addr: (v) => v.ctl.virtualApicAddress,
  }),
  rule({
    id: 'ctl.tpr-threshold.reserved', reads: [F.TPR_THRESHOLD, PROC_ENC, PROC2_ENC],
    sdm: 'If "use TPR shadow" is 1 and "virtual-interrupt delivery" is 0, bits 31:4 of the TPR threshold must be 0.',
    holds: (v) => !v.proc.useTprShadow || v.proc2.virtualInterruptDelivery || (v.ctl.tprThreshold >>> 4) === 0,
    says: (v) => `TPR threshold is ${hex(v.ctl.tprThreshold)} with "use TPR shadow" = 1; bits 31:4 must be 0 (a value 0..15)`,
  }),
  rule({
    id: 'ctl.tpr-threshold.vtpr', reads: [F.TPR_THRESHOLD, F.VIRTUAL_APIC_ADDRESS, PROC_ENC, PROC2_ENC],
    sdm: 'If "use TPR shadow" is 1 and "virtualize APIC accesses" and "virtual-interrupt delivery" are 0, bits 3:0 of the TPR threshold must not be greater than bits 7:4 of VTPR (byte 80H of the virtual-APIC page).',
    holds: (v) => {
      if (!v.proc.useTprShadow || v.proc2.virtualizeApicAccesses || v.proc2.virtualInterruptDelivery) return true;
      const a = v.ctl.virtualApicAddress;
      if ((a.lo & 0xfff) !== 0 || !withinWidth(a, structWidth(v))) return true; // the address rules report it
      return (v.ctl.tprThreshold & 15) <= ((v.mem.read32(num(a) + 0x80) >>> 4) & 15);
    },
    says: (v) => {
      const vtpr = v.mem.read32(num(v.ctl.virtualApicAddress) + 0x80) & 0xff;
      return `TPR threshold bits 3:0 are ${v.ctl.tprThreshold & 15} but VTPR (byte 80H of the virtual-APIC page at ${hex64(v.ctl.virtualApicAddress.lo, v.ctl.virtualApicAddress.hi)}) is ${hex(vtpr)}, priority class ${vtpr >>> 4}; the threshold must be ≤ ${vtpr >>> 4}`;
    },
  }),
  rule({
    id: 'ctl.virtual-nmis.requires-nmi-exiting', reads: [PIN_ENC],
    sdm: 'If the "NMI exiting" VM-execution control is 0, the "virtual NMIs" VM-execution control must be 0.',
    holds: (v) => v.pin.nmiExiting || !v.pin.virtualNmis,
    says: () => '"virtual NMIs" is 1 but "NMI exiting" is 0; set "NMI exiting" (pin-based bit 3) or clear "virtual NMIs" (bit 5)',
  }),
  rule({
    id: 'ctl.nmi-window.requires-virtual-nmis', reads: [PIN_ENC, PROC_ENC],
    sdm: 'If the "virtual NMIs" VM-execution control is 0, the "NMI-window exiting" VM-execution control must be 0.',
    holds: (v) => v.pin.virtualNmis || !v.proc.nmiWindowExiting,
    says: () => '"NMI-window exiting" (primary bit 22) is 1 but "virtual NMIs" (pin-based bit 5) is 0; NMI-window exiting needs virtual NMIs',
  }),
  rule({
    id: 'ctl.vpid.nonzero', reads: [F.VIRTUAL_PROCESSOR_IDENTIFIER, PROC2_ENC],
    sdm: 'If the "enable VPID" VM-execution control is 1, the value of the VPID VM-execution control field must not be 0000H.',
    holds: (v) => !v.proc2.enableVpid || v.ctl.vpid !== 0,
    says: () => '"enable VPID" is 1 but the VPID field is 0000H (VPID 0 belongs to VMX root operation); use any VPID from 1 to FFFFH',
  }),
  rule({
    id: 'ctl.ept.memory-type', reads: [F.EPT_POINTER, PROC2_ENC],
    sdm: 'If "enable EPT" is 1, the EPT memory type (EPTP bits 2:0) must be a value supported by the processor (IA32_VMX_EPT_VPID_CAP: 0 = UC if bit 8, 6 = WB if bit 14).',
    holds: (v) => {
      if (!v.proc2.enableEpt) return true;
      const mt = v.ctl.eptp.lo & 7;
      return (mt === 0 && v.caps.eptUc) || (mt === 6 && v.caps.eptWb);
    },
    says: (v) => {
      const ok = [v.caps.eptUc ? '0 (UC)' : '', v.caps.eptWb ? '6 (WB)' : ''].filter((s) => s).join(' or ');
      return `EPTP ${hex64(v.ctl.eptp.lo, v.ctl.eptp.hi)} has EPT memory type ${v.ctl.eptp.lo & 7}${MT_NAMES[v.ctl.eptp.lo & 7] ? ` (${MT_NAMES[v.ctl.eptp.lo & 7]})` : ''}; bits 2:0 must be ${ok}`;
    },
  }),
  rule({
    id: 'ctl.ept.walk-length', reads: [F.EPT_POINTER, PROC2_ENC],
    sdm: 'If "enable EPT" is 1, EPTP bits 5:3 (page-walk length − 1) must be 3 (4-level EPT), or 4 if 5-level EPT is supported (IA32_VMX_EPT_VPID_CAP bit 7).',
    holds: (v) => {
      if (!v.proc2.enableEpt) return true;
      const wl = (v.ctl.eptp.lo >>> 3) & 7;
      return (wl === 3 && v.caps.eptWalk4) || (wl === 4 && v.caps.eptWalk5);
    },
    says: (v) => `EPTP ${hex64(v.ctl.eptp.lo, v.ctl.eptp.hi)} has bits 5:3 = ${(v.ctl.eptp.lo >>> 3) & 7} (page-walk length ${((v.ctl.eptp.lo >>> 3) & 7) + 1}); it must be 3 (a 4-level EPT walk${v.caps.eptWalk5 ? ', or 4 for 5 levels' : ''}), i.e. EPTP = PML4 address | 0x18 | memory type`,
  }),
  rule({
    id: 'ctl.ept.accessed-dirty', reads: [F.EPT_POINTER, PROC2_ENC],
    sdm: 'If "enable EPT" is 1, EPTP bit 6 (enable accessed and dirty flags) must be 0 if IA32_VMX_EPT_VPID_CAP bit 21 is 0.',
    holds: (v) => !v.proc2.enableEpt || v.caps.eptAd || (v.ctl.eptp.lo & 0x40) === 0,
    says: (v) => `EPTP ${hex64(v.ctl.eptp.lo, v.ctl.eptp.hi)} sets bit 6 (accessed and dirty flags for EPT) but the processor does not support them (IA32_VMX_EPT_VPID_CAP bit 21 = 0); clear bit 6`,
  }),
  rule({
    id: 'ctl.ept.supervisor-shadow-stack', reads: [F.EPT_POINTER, PROC2_ENC],
    sdm: 'If "enable EPT" is 1, EPTP bit 7 (supervisor shadow-stack control) must be 0 if IA32_VMX_EPT_VPID_CAP bit 23 is 0.',
    holds: (v) => !v.proc2.enableEpt || v.caps.eptSss || (v.ctl.eptp.lo & 0x80) === 0,
    says: (v) => `EPTP ${hex64(v.ctl.eptp.lo, v.ctl.eptp.hi)} sets bit 7 (supervisor shadow-stack control), but the processor does not support it (IA32_VMX_EPT_VPID_CAP bit 23 = 0); clear bit 7`,
  }),
  rule({
    id: 'ctl.ept.reserved', reads: [F.EPT_POINTER, PROC2_ENC],
    sdm: 'If "enable EPT" is 1, reserved bits 11:8 of the EPTP must be 0.',
    holds: (v) => !v.proc2.enableEpt || (v.ctl.eptp.lo & 0xf00) === 0,
    says: (v) => `EPTP ${hex64(v.ctl.eptp.lo, v.ctl.eptp.hi)} sets reserved bits 11:8 (${hex(v.ctl.eptp.lo & 0xf00)}); they must be 0`,
  }),
  rule({
    id: 'ctl.ept.width', reads: [F.EPT_POINTER, PROC2_ENC],
    sdm: 'If "enable EPT" is 1, EPTP bits 63:N (N = physical-address width) must be 0.',
    holds: (v) => !v.proc2.enableEpt || withinWidth(v.ctl.eptp, v.caps.physWidth),
    says: (v) => `EPTP ${hex64(v.ctl.eptp.lo, v.ctl.eptp.hi)} sets bits beyond the physical-address width (${v.caps.physWidth} bits); bits 63:${v.caps.physWidth} must be 0`,
  }),
  rule({
    id: 'ctl.unrestricted-guest.requires-ept', reads: [PROC2_ENC, PROC_ENC],
    sdm: 'If the "unrestricted guest" VM-execution control is 1, the "enable EPT" VM-execution control must also be 1.',
    holds: (v) => !v.proc2.unrestrictedGuest || v.proc2.enableEpt,
    says: () => '"unrestricted guest" (secondary bit 7) is 1 but "enable EPT" (secondary bit 1) is 0; an unrestricted guest runs with paging off and needs EPT',
  }),
];
