/**
 * SDM Vol. 3C, "Loading MSRs": after loading guest state, VM entry loads the MSRs of the VM-entry
 * MSR-load area in order. Entry i (1-based) that fails any of these checks ends the entry with
 * exit reason 34 ("VM-entry failure due to MSR loading") and exit qualification i; the entries
 * before it have been loaded.
 *
 * Our choices where the SDM leaves one:
 * - "MSRs that cannot be loaded on VM entries for model-specific reasons": none besides those the
 *   SDM lists.
 * - More entries than the recommended maximum 512 * (IA32_VMX_MISC[27:25] + 1): the SDM calls
 *   this undefined (it may cause a machine check); we fail at the first entry beyond it.
 */
import * as F from '../fields.js';
import { msrEntryRule, hex, type MsrEntryRule } from './rule.js';

const READS = [F.VM_ENTRY_MSR_LOAD_ADDRESS, F.VM_ENTRY_MSR_LOAD_COUNT];
const IA32_FS_BASE = 0xc0000100, IA32_GS_BASE = 0xc0000101, IA32_SMM_MONITOR_CTL = 0x9b;
const at = (e: { index: number; address: number }): string => `VM-entry MSR-load entry ${e.index} (at physical 0x${e.address.toString(16)})`;

export const MSR_LOAD_RULES: readonly MsrEntryRule[] = [
  msrEntryRule({
    id: 'msr-load.count-max', reads: READS,
    sdm: 'The number of MSRs should not exceed 512 * (IA32_VMX_MISC[27:25] + 1); otherwise behaviour is undefined (our choice: failure at the first entry beyond).',
    holds: (v, e) => e.index <= v.caps.msrListMax,
    says: (v, e) => `VM-entry MSR-load count is ${v.entry.msrLoadCount}, above the supported maximum of ${v.caps.msrListMax} entries (IA32_VMX_MISC bits 27:25); entry ${e.index} is not loaded`,
  }),
  msrEntryRule({
    id: 'msr-load.fs-gs-base', reads: READS,
    sdm: 'The value of bits 31:0 must not be C0000100H (IA32_FS_BASE) or C0000101H (IA32_GS_BASE).',
    holds: (v, e) => e.msr !== IA32_FS_BASE && e.msr !== IA32_GS_BASE,
    says: (v, e) => `${at(e)} loads MSR ${hex(e.msr)} (${e.msr === IA32_FS_BASE ? 'IA32_FS_BASE' : 'IA32_GS_BASE'}); FS and GS bases are loaded from the guest FS/GS base fields, not the MSR-load area`,
  }),
  msrEntryRule({
    id: 'msr-load.x2apic', reads: READS,
    sdm: 'The value of bits 31:8 must not be 000008H (the x2APIC MSRs 800H–8FFH).',
    holds: (v, e) => (e.msr >>> 8) !== 8,
    says: (v, e) => `${at(e)} loads MSR ${hex(e.msr)}, an x2APIC register (800H–8FFH); those cannot be loaded by VM entry`,
  }),
  msrEntryRule({
    id: 'msr-load.smm-only', reads: READS,
    sdm: 'The value of bits 31:0 must not indicate an MSR that can be written only in SMM (IA32_SMM_MONITOR_CTL) when the VM entry is not into SMM.',
    holds: (v, e) => e.msr !== IA32_SMM_MONITOR_CTL || (v.cpu.inSmm && v.entry.entryToSmm),
    says: (v, e) => `${at(e)} loads IA32_SMM_MONITOR_CTL (9BH), which can be written only in SMM`,
  }),
  msrEntryRule({
    id: 'msr-load.reserved', reads: READS,
    sdm: 'Bits 63:32 of each entry (reserved) must be 0.',
    holds: (v, e) => e.reserved === 0,
    says: (v, e) => `${at(e)} has reserved bits 63:32 = ${hex(e.reserved)}; they must be 0 (entry layout: MSR index in bits 31:0, 0 in 63:32, the value in 127:64)`,
  }),
  msrEntryRule({
    id: 'msr-load.wrmsr-gp', reads: READS,
    sdm: 'Writing bits 127:64 to the MSR indexed by bits 31:0 must not cause #GP if executed via WRMSR with CPL = 0.',
    holds: (v, e) => !v.cpu.wrmsrFaults(e.msr, e.lo, e.hi),
    says: (v, e) => `${at(e)}: WRMSR of ${hex(e.hi)}_${(e.lo >>> 0).toString(16).padStart(8, '0')} to MSR ${hex(e.msr)} would raise #GP (unknown MSR or invalid value)`,
  }),
];
