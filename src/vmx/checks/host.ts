/**
 * The checks on the host-state area (SDM Vol. 3C, "Checks on Host Control Registers, MSRs, and
 * SSP", "Checks on Host Segment and Descriptor-Table Registers", "Checks Related to Address-Space
 * Size"). A failure is VMfailValid(8), "VM entry with invalid host-state field(s)".
 *
 * The SDM says the checks on VMX controls and on the host-state area may be performed in any
 * order; our choice (as on the processors we know of): all control checks first, so a VMCS broken
 * in both ways gets error 7. CET (host S_CET/SSP/interrupt-SSP-table), PKRS and
 * IA32_PERF_GLOBAL_CTRL loading are not offered: their VM-exit controls are refused by the
 * allowed-1 rule and have no rules here.
 */
import * as F from '../fields.js';
import { section, hex, hex64, bitList64, type StateRule } from './rule.js';
import { canonical, withinWidth, fixedViolation, patBadEntry, isZero, type EntryView, type U64 } from './view.js';

const CR = 'Checks on Host Control Registers, MSRs, and SSP';
const SEG = 'Checks on Host Segment and Descriptor-Table Registers';
const SIZE = 'Checks Related to Address-Space Size';
const cr = section('host', CR), seg = section('host', SEG), size = section('host', SIZE);
const X = F.VM_EXIT_CONTROLS;
/** IA32_EFER bits vmxray implements (SCE, LME, LMA, NXE); every other bit is reserved (msr.ts). */
export const EFER_VALID = 0x1 | 0x100 | 0x400 | 0x800;
const CR4_PAE = 0x20, CR4_PCIDE = 0x20000;

const h = (x: U64): string => hex64(x.lo, x.hi);

function fixedRules(id: string, label: string, enc: number, get: (v: EntryView) => U64,
  f0: (v: EntryView) => U64, f1: (v: EntryView) => U64, msr: string): StateRule[] {
  return [
    cr({
      id: `${id}.fixed0`, reads: [enc],
      sdm: `The ${label} field must not set any bit to a value not supported in VMX operation (bits set in ${msr}_FIXED0 must be 1).`,
      holds: (v) => isZero(fixedViolation(get(v), f0(v), f1(v)).must1),
      says: (v) => {
        const m = fixedViolation(get(v), f0(v), f1(v)).must1;
        return `${label} is ${h(get(v))}: bit(s) ${bitList64(m.lo, m.hi)} must be 1 in VMX operation (${msr}_FIXED0 = ${h(f0(v))}); use ${hex64(get(v).lo | f0(v).lo, get(v).hi | f0(v).hi)}`;
      },
    }),
    cr({
      id: `${id}.fixed1`, reads: [enc],
      sdm: `The ${label} field must not set any bit to a value not supported in VMX operation (bits clear in ${msr}_FIXED1 must be 0).`,
      holds: (v) => isZero(fixedViolation(get(v), f0(v), f1(v)).must0),
      says: (v) => {
        const m = fixedViolation(get(v), f0(v), f1(v)).must0;
        return `${label} is ${h(get(v))}: bit(s) ${bitList64(m.lo, m.hi)} must be 0 in VMX operation (${msr}_FIXED1 = ${h(f1(v))})`;
      },
    }),
  ];
}

function canonicalRule(rule: typeof cr, id: string, label: string, enc: number, get: (v: EntryView) => U64, sdm: string, extraReads: number[] = []): StateRule {
  return rule({
    id, reads: [enc, ...extraReads], sdm,
    holds: (v) => canonical(get(v), v.caps.linWidth),
    says: (v) => `${label} ${h(get(v))} is not canonical: bits 63:${v.caps.linWidth - 1} must all equal bit ${v.caps.linWidth - 1}`,
  });
}

const HOST_SELS: readonly [string, number, (v: EntryView) => number][] = [
  ['es', F.HOST_ES_SELECTOR, (v) => v.host.es], ['cs', F.HOST_CS_SELECTOR, (v) => v.host.cs],
  ['ss', F.HOST_SS_SELECTOR, (v) => v.host.ss], ['ds', F.HOST_DS_SELECTOR, (v) => v.host.ds],
  ['fs', F.HOST_FS_SELECTOR, (v) => v.host.fs], ['gs', F.HOST_GS_SELECTOR, (v) => v.host.gs],
  ['tr', F.HOST_TR_SELECTOR, (v) => v.host.tr],
];

const HOST_BASES: readonly [string, string, number, (v: EntryView) => U64][] = [
  ['fs', 'FS', F.HOST_FS_BASE, (v) => v.host.fsBase], ['gs', 'GS', F.HOST_GS_BASE, (v) => v.host.gsBase],
  ['gdtr', 'GDTR', F.HOST_GDTR_BASE, (v) => v.host.gdtrBase], ['idtr', 'IDTR', F.HOST_IDTR_BASE, (v) => v.host.idtrBase],
  ['tr', 'TR', F.HOST_TR_BASE, (v) => v.host.trBase],
];

export const HOST_RULES: readonly StateRule[] = [
  // --- Checks on Host Control Registers, MSRs, and SSP
  ...fixedRules('host.cr0', 'host CR0', F.HOST_CR0, (v) => v.host.cr0, (v) => v.caps.cr0Fixed0, (v) => v.caps.cr0Fixed1, 'IA32_VMX_CR0'),
  ...fixedRules('host.cr4', 'host CR4', F.HOST_CR4, (v) => v.host.cr4, (v) => v.caps.cr4Fixed0, (v) => v.caps.cr4Fixed1, 'IA32_VMX_CR4'),
  cr({
    id: 'host.cr3.width', reads: [F.HOST_CR3],
    sdm: 'The host CR3 field must be such that bits 63:52 and bits in the range 51:32 beyond the physical-address width are 0.',
    holds: (v) => withinWidth(v.host.cr3, v.caps.physWidth),
    says: (v) => `host CR3 ${h(v.host.cr3)} sets bits beyond the physical-address width (${v.caps.physWidth} bits); bits 63:${v.caps.physWidth} must be 0`,
  }),
  canonicalRule(cr, 'host.sysenter-esp.canonical', 'host IA32_SYSENTER_ESP', F.HOST_IA32_SYSENTER_ESP, (v) => v.host.sysenterEsp,
    'The host IA32_SYSENTER_ESP field must contain a canonical address.'),
  canonicalRule(cr, 'host.sysenter-eip.canonical', 'host IA32_SYSENTER_EIP', F.HOST_IA32_SYSENTER_EIP, (v) => v.host.sysenterEip,
    'The host IA32_SYSENTER_EIP field must contain a canonical address.'),
  cr({
    id: 'host.pat.valid', reads: [F.HOST_IA32_PAT, X],
    sdm: 'If "load IA32_PAT" is 1, each of the 8 bytes of the host IA32_PAT field must be 0 (UC), 1 (WC), 4 (WT), 5 (WP), 6 (WB) or 7 (UC-).',
    holds: (v) => !v.exit.loadPat || patBadEntry(v.host.pat) < 0,
    says: (v) => {
      const i = patBadEntry(v.host.pat);
      const b = ((i < 4 ? v.host.pat.lo : v.host.pat.hi) >>> ((i & 3) * 8)) & 0xff;
      return `host IA32_PAT ${h(v.host.pat)}: entry PA${i} is ${hex(b)}, not a memory type; each byte must be 0, 1, 4, 5, 6 or 7`;
    },
  }),
  cr({
    id: 'host.efer.reserved', reads: [F.HOST_IA32_EFER, X],
    sdm: 'If "load IA32_EFER" is 1, reserved bits in the host IA32_EFER field must be 0.',
    holds: (v) => !v.exit.loadEfer || (v.host.efer.hi === 0 && (v.host.efer.lo & ~EFER_VALID) === 0),
    says: (v) => `host IA32_EFER ${h(v.host.efer)} sets reserved bit(s) ${bitList64(v.host.efer.lo & ~EFER_VALID, v.host.efer.hi)}; only SCE (0), LME (8), LMA (10) and NXE (11) exist`,
  }),
  cr({
    id: 'host.efer.lma', reads: [F.HOST_IA32_EFER, X],
    sdm: 'If "load IA32_EFER" is 1, bit 10 (LMA) of the host IA32_EFER field must equal the "host address-space size" VM-exit control.',
    holds: (v) => !v.exit.loadEfer || ((v.host.efer.lo >>> 10) & 1) === +v.exit.hostAddressSpaceSize,
    says: (v) => `host IA32_EFER ${h(v.host.efer)} has LMA = ${(v.host.efer.lo >>> 10) & 1} but "host address-space size" is ${+v.exit.hostAddressSpaceSize}; they must be equal`,
  }),
  cr({
    id: 'host.efer.lme', reads: [F.HOST_IA32_EFER, X],
    sdm: 'If "load IA32_EFER" is 1, bit 8 (LME) of the host IA32_EFER field must equal the "host address-space size" VM-exit control.',
    holds: (v) => !v.exit.loadEfer || ((v.host.efer.lo >>> 8) & 1) === +v.exit.hostAddressSpaceSize,
    says: (v) => `host IA32_EFER ${h(v.host.efer)} has LME = ${(v.host.efer.lo >>> 8) & 1} but "host address-space size" is ${+v.exit.hostAddressSpaceSize}; they must be equal`,
  }),

  // --- Checks on Host Segment and Descriptor-Table Registers
  ...HOST_SELS.map(([name, enc, get]) => seg({
    id: `host.${name}.sel-rpl-ti`, reads: [enc],
    sdm: `In the selector field for ${name.toUpperCase()}, the RPL (bits 1:0) and the TI flag (bit 2) must be 0.`,
    holds: (v) => (get(v) & 7) === 0,
    says: (v) => `host ${name.toUpperCase()} selector ${hex(get(v), 4)} has RPL ${get(v) & 3} and TI ${(get(v) >>> 2) & 1}; the host runs at CPL 0 from the GDT, so both must be 0 (use ${hex(get(v) & ~7, 4)})`,
  })),
  seg({
    id: 'host.cs.sel-nonzero', reads: [F.HOST_CS_SELECTOR],
    sdm: 'The selector field for CS cannot be 0000H.',
    holds: (v) => v.host.cs !== 0,
    says: () => 'host CS selector is 0000H (the null selector); it must select the host code segment',
  }),
  seg({
    id: 'host.tr.sel-nonzero', reads: [F.HOST_TR_SELECTOR],
    sdm: 'The selector field for TR cannot be 0000H.',
    holds: (v) => v.host.tr !== 0,
    says: () => 'host TR selector is 0000H; the host needs a TSS selector',
  }),
  seg({
    id: 'host.ss.sel-nonzero', reads: [F.HOST_SS_SELECTOR, X],
    sdm: 'If the "host address-space size" VM-exit control is 0, the selector field for SS cannot be 0000H.',
    holds: (v) => v.exit.hostAddressSpaceSize || v.host.ss !== 0,
    says: () => 'host SS selector is 0000H with a 32-bit host ("host address-space size" = 0); only a 64-bit host may have a null SS',
  }),
  ...HOST_BASES.map(([id, name, enc, get]) => canonicalRule(seg, `host.${id}.base-canonical`, `host ${name} base`, enc, get,
    `The base-address fields for FS, GS, GDTR, IDTR and TR must contain canonical addresses (${name}).`)),

  // --- Checks Related to Address-Space Size
  size({
    id: 'host.addr-size.ia32e-guest-outside-ia32e', reads: [F.VM_ENTRY_CONTROLS],
    sdm: 'If the logical processor is outside IA-32e mode (IA32_EFER.LMA = 0) at the time of VM entry, the "IA-32e mode guest" VM-entry control must be 0.',
    holds: (v) => v.cpu.ia32eMode || !v.entry.ia32eModeGuest,
    says: () => '"IA-32e mode guest" is 1 but the hypervisor runs outside IA-32e mode (IA32_EFER.LMA = 0); a 32-bit VMM cannot enter a 64-bit guest',
  }),
  size({
    id: 'host.addr-size.host-64-outside-ia32e', reads: [X],
    sdm: 'If the logical processor is outside IA-32e mode at the time of VM entry, the "host address-space size" VM-exit control must be 0.',
    holds: (v) => v.cpu.ia32eMode || !v.exit.hostAddressSpaceSize,
    says: () => '"host address-space size" is 1 but the hypervisor runs outside IA-32e mode (IA32_EFER.LMA = 0); clear VM-exit control bit 9',
  }),
  size({
    id: 'host.addr-size.host-64-inside-ia32e', reads: [X],
    sdm: 'If the logical processor is in IA-32e mode at the time of VM entry, the "host address-space size" VM-exit control must be 1.',
    holds: (v) => !v.cpu.ia32eMode || v.exit.hostAddressSpaceSize,
    says: () => '"host address-space size" (VM-exit control bit 9) is 0 but the hypervisor runs in IA-32e mode; a 64-bit VMM must return to a 64-bit host (set bit 9)',
  }),
  size({
    id: 'host.addr-size.32-no-ia32e-guest', reads: [X, F.VM_ENTRY_CONTROLS],
    sdm: 'If the "host address-space size" VM-exit control is 0, the "IA-32e mode guest" VM-entry control must be 0.',
    holds: (v) => v.exit.hostAddressSpaceSize || !v.entry.ia32eModeGuest,
    says: () => '"IA-32e mode guest" is 1 with a 32-bit host ("host address-space size" = 0)',
  }),
  size({
    id: 'host.addr-size.32-pcide', reads: [X, F.HOST_CR4],
    sdm: 'If the "host address-space size" VM-exit control is 0, bit 17 of the host CR4 field (CR4.PCIDE) must be 0.',
    holds: (v) => v.exit.hostAddressSpaceSize || (v.host.cr4.lo & CR4_PCIDE) === 0,
    says: (v) => `host CR4 ${h(v.host.cr4)} sets PCIDE (bit 17) with a 32-bit host; PCIDs exist only in IA-32e mode`,
  }),
  size({
    id: 'host.addr-size.32-rip-upper', reads: [X, F.HOST_RIP],
    sdm: 'If the "host address-space size" VM-exit control is 0, bits 63:32 of the host RIP field must be 0.',
    holds: (v) => v.exit.hostAddressSpaceSize || v.host.rip.hi === 0,
    says: (v) => `host RIP ${h(v.host.rip)} has bits 63:32 set with a 32-bit host; it must be below 4 GBytes`,
  }),
  size({
    id: 'host.addr-size.64-pae', reads: [X, F.HOST_CR4],
    sdm: 'If the "host address-space size" VM-exit control is 1, bit 5 of the host CR4 field (CR4.PAE) must be 1.',
    holds: (v) => !v.exit.hostAddressSpaceSize || (v.host.cr4.lo & CR4_PAE) !== 0,
    says: (v) => `host CR4 ${h(v.host.cr4)} has PAE (bit 5) = 0 with a 64-bit host; IA-32e mode needs CR4.PAE = 1 (use ${hex64(v.host.cr4.lo | CR4_PAE, v.host.cr4.hi)})`,
  }),
  canonicalRule(size, 'host.addr-size.64-rip-canonical', 'host RIP', F.HOST_RIP, (v) => (v.exit.hostAddressSpaceSize ? v.host.rip : { lo: 0, hi: 0 }),
    'If the "host address-space size" VM-exit control is 1, the host RIP field must contain a canonical address.', [X]),
];
