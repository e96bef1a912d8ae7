/**
 * The VM-entry checks: every rule is broken on its own, starting from a valid VMCS, and the
 * entry must fail exactly as the SDM says (VMfailValid 7 for controls, 8 for host state, exit
 * reason 33 with qualification 0/2/3/4 for guest state, 34 with the entry index for MSR loading)
 * and name that rule. Expected outcomes come from the SDM's grouping of the checks, not from the
 * checker.
 */
import { describe, it, expect } from 'vitest';
import * as F from '../../src/vmx/fields.js';
import { PIN, PROC, PROC2, EXIT, ENTRY } from '../../src/vmx/controls.js';
import { ALL_RULES, checkVmEntry, explain, describeOutcome, type Outcome, type Evaluation } from '../../src/vmx/checks/index.js';
import {
  long64, realUnrestricted, protUnrestricted, pae32, v86, withMsrLoad, type Env,
  CURRENT_VMCS, MSR_AREA, PAE_PDPT,
} from './helpers/valid-vmcs.js';

// ---- expected outcomes, from the SDM -----------------------------------------------------------

/** What the SDM says a failure of a rule in this group does. */
function sdmOutcome(id: string): Outcome {
  if (id.startsWith('ctl.')) return { kind: 'vmfail', error: 7 };           // "Checks on VMX Controls"
  if (id.startsWith('host.')) return { kind: 'vmfail', error: 8 };          // host-state checks
  if (id.startsWith('guest.link.')) return { kind: 'entry-fail', reason: 33, qualification: 4 };
  if (/^guest\.pdpte\d/.test(id)) return { kind: 'entry-fail', reason: 33, qualification: 2 };
  if (id === 'guest.intr.nmi-sti') return { kind: 'entry-fail', reason: 33, qualification: 3 };
  if (id.startsWith('guest.')) return { kind: 'entry-fail', reason: 33, qualification: 0 };
  throw new Error(`no SDM outcome for ${id}`);
}

interface Case {
  base?: () => Env;
  mutate: (e: Env) => void;
  /** Outcome when not the group's (basic checks, MSR loading). */
  outcome?: Outcome;
  /** Rules that the SDM makes fail together with this one (listed by --vmx-explain=all). */
  also?: string[];
  /** The rule is implied by an earlier one (the SDM states both): this is the first failure instead. */
  firstIs?: string;
}

// ---- mutation helpers ------------------------------------------------------------------------

const w = (e: Env, enc: number, lo: number, hi = 0): void => e.vmcs.write(enc, lo, hi);
const or = (e: Env, enc: number, bits: number): void => e.vmcs.or(enc, bits);
const clr = (e: Env, enc: number, bits: number): void => e.vmcs.clear(enc, bits);
const PINC = F.PIN_BASED_VM_EXECUTION_CONTROLS, PROCC = F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS;
const PROC2C = F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, EXITC = F.VM_EXIT_CONTROLS, ENTRYC = F.VM_ENTRY_CONTROLS;
const INFO = F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD;
const NONCANON_HI = 0x00008000; // bit 47 set, bits 63:48 clear
const capOr = (e: Env, msr: number, lo: number, hi: number): void => {
  const v = e.caps.msrs.get(msr)!; e.caps.msrs.set(msr, [(v[0] | lo) >>> 0, (v[1] | hi) >>> 0]);
};
const capClear = (e: Env, msr: number, lo: number, hi: number): void => {
  const v = e.caps.msrs.get(msr)!; e.caps.msrs.set(msr, [(v[0] & ~lo) >>> 0, (v[1] & ~hi) >>> 0]);
};
const ept = (e: Env, eptp: number, hi = 0): void => { w(e, PROC2C, PROC2.ENABLE_EPT); w(e, F.EPT_POINTER, eptp, hi); };
/** A 32-bit host (hypervisor outside IA-32e mode) with a 32-bit guest. */
function host32(): Env {
  const e = protUnrestricted();
  e.cpu.ia32eMode = false;
  clr(e, EXITC, EXIT.HOST_ADDRESS_SPACE_SIZE);
  w(e, F.HOST_GS_BASE, 0); w(e, F.HOST_CR4, 0x2000);
  return e;
}
/** A 64-bit guest at CPL 3. */
function ring3(): Env {
  const e = long64();
  w(e, F.GUEST_CS_SELECTOR, 0x2b); w(e, F.GUEST_CS_ACCESS_RIGHTS, 0xa0fb);
  w(e, F.GUEST_SS_SELECTOR, 0x33); w(e, F.GUEST_SS_ACCESS_RIGHTS, 0xc0f3);
  return e;
}
/** Make the segment registers of a guest fit virtual-8086 mode (sel 1000H, base 10000H, limit FFFFH, AR F3H). */
function v86Segs(e: Env): void {
  for (const s of ['CS', 'SS', 'DS', 'ES', 'FS', 'GS']) {
    const f = F as unknown as Record<string, number>;
    w(e, f[`GUEST_${s}_SELECTOR`], 0x1000); w(e, f[`GUEST_${s}_BASE`], 0x10000);
    w(e, f[`GUEST_${s}_LIMIT`], 0xffff); w(e, f[`GUEST_${s}_ACCESS_RIGHTS`], 0xf3);
  }
}
const addrCases = (id: string, enc: number, enable: (e: Env) => void, other?: [number, number]): Record<string, Case> => ({
  [`${id}.aligned`]: { mutate: (e) => { enable(e); w(e, enc, 0x11008); if (other) w(e, other[0], other[1]); } },
  [`${id}.width`]: { mutate: (e) => { enable(e); w(e, enc, 0x11000, 0x100); if (other) w(e, other[0], other[1]); } },
});
const areaCases = (id: string, addr: number, count: number, load?: boolean): Record<string, Case> => ({
  [`${id}.aligned`]: { mutate: (e) => { w(e, count, 1); w(e, addr, MSR_AREA + 8); } },
  [`${id}.width`]: { mutate: (e) => { w(e, count, 1); w(e, addr, MSR_AREA, 0x100); } },
  // 2 entries from 2^40 - 16: the last byte is at 2^40 + 15, beyond a 40-bit physical-address width.
  [`${id}.last-byte-width`]: { mutate: (e) => { w(e, count, 2); w(e, addr, 0xfffffff0, 0xff); } },
  ...(load ? {} : {}),
});

const SEG_ENC = (s: string, what: 'SELECTOR' | 'BASE' | 'LIMIT' | 'ACCESS_RIGHTS'): number =>
  (F as unknown as Record<string, number>)[`GUEST_${s.toUpperCase()}_${what}`];

// ---- per-segment cases (generated per register, like the rules) ---------------------------------

const CS_TO_GS = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'];
const DATA = ['ds', 'es', 'fs', 'gs'];
/** Usable LDTR: selector 28H, base 0, limit FFFFH, type 2 present. */
const usableLdtr = (e: Env): void => { w(e, SEG_ENC('ldtr', 'SELECTOR'), 0x28); w(e, SEG_ENC('ldtr', 'LIMIT'), 0xffff); w(e, SEG_ENC('ldtr', 'ACCESS_RIGHTS'), 0x82); };
const arOf = (s: string): number => (s === 'cs' ? 0xa09b : 0xc093);
const setAr = (e: Env, s: string, ar: number): void => w(e, SEG_ENC(s, 'ACCESS_RIGHTS'), ar);

function segmentCases(): Record<string, Case> {
  const c: Record<string, Case> = {};
  c['guest.tr.sel-ti'] = { mutate: (e) => w(e, SEG_ENC('tr', 'SELECTOR'), 0x1c) };
  c['guest.ldtr.sel-ti'] = { mutate: (e) => { usableLdtr(e); w(e, SEG_ENC('ldtr', 'SELECTOR'), 0x2c); } };
  // CS conforming DPL 0 (allowed below SS DPL 3), SS RPL = DPL = 3, CS RPL 0.
  c['guest.ss.rpl-vs-cs'] = { mutate: (e) => { setAr(e, 'cs', 0xa09f); w(e, SEG_ENC('ss', 'SELECTOR'), 0x13); setAr(e, 'ss', 0xc0f3); } };
  for (const s of CS_TO_GS) {
    c[`guest.${s}.base-v86`] = { base: v86, mutate: (e) => w(e, SEG_ENC(s, 'BASE'), 0x10010) };
    c[`guest.${s}.limit-v86`] = { base: v86, mutate: (e) => w(e, SEG_ENC(s, 'LIMIT'), 0x1ffff) };
    c[`guest.${s}.ar-v86`] = { base: v86, mutate: (e) => setAr(e, s, 0x80f3) };
    c[`guest.${s}.s`] = { mutate: (e) => setAr(e, s, arOf(s) & ~0x10) };
    c[`guest.${s}.p`] = { mutate: (e) => setAr(e, s, arOf(s) & ~0x80) };
    c[`guest.${s}.reserved-11-8`] = { mutate: (e) => setAr(e, s, arOf(s) | 0x100) };
    c[`guest.${s}.g-limit-low`] = { mutate: (e) => w(e, SEG_ENC(s, 'LIMIT'), 0xfffff000) };
    c[`guest.${s}.g-limit-high`] = { mutate: (e) => setAr(e, s, arOf(s) & ~0x8000) };
    c[`guest.${s}.reserved-31-17`] = { mutate: (e) => setAr(e, s, arOf(s) | 0x20000) };
  }
  for (const s of ['tr', 'fs', 'gs']) c[`guest.${s}.base-canonical`] = { mutate: (e) => w(e, SEG_ENC(s, 'BASE'), 0, NONCANON_HI) };
  c['guest.ldtr.base-canonical'] = { mutate: (e) => { usableLdtr(e); w(e, SEG_ENC('ldtr', 'BASE'), 0, NONCANON_HI); } };
  for (const s of ['cs', 'ss', 'ds', 'es']) c[`guest.${s}.base-upper`] = { mutate: (e) => w(e, SEG_ENC(s, 'BASE'), 0, 1) };
  c['guest.cs.type'] = { mutate: (e) => setAr(e, 'cs', 0xa093) };                 // data segment in CS
  c['guest.ss.type'] = { mutate: (e) => setAr(e, 'ss', 0xc091) };                 // read-only data
  for (const s of DATA) {
    c[`guest.${s}.type-accessed`] = { mutate: (e) => setAr(e, s, 0xc092) };
    c[`guest.${s}.type-code-readable`] = { mutate: (e) => setAr(e, s, 0xc099) };   // execute-only code
    c[`guest.${s}.dpl-rpl`] = { mutate: (e) => w(e, SEG_ENC(s, 'SELECTOR'), 0x13) };
  }
  c['guest.cs.dpl-type3'] = { base: realUnrestricted, mutate: (e) => setAr(e, 'cs', 0xb3) };
  c['guest.cs.dpl-nonconforming'] = { mutate: (e) => setAr(e, 'cs', 0xa0fb) };
  c['guest.cs.dpl-conforming'] = { mutate: (e) => setAr(e, 'cs', 0xa0ff) };
  c['guest.ss.dpl-rpl'] = { mutate: (e) => { setAr(e, 'cs', 0xa09f); setAr(e, 'ss', 0xc0f3); } };
  c['guest.ss.dpl-zero'] = { base: realUnrestricted, mutate: (e) => { setAr(e, 'cs', 0x9f); setAr(e, 'ss', 0xf3); } };
  c['guest.cs.db-long'] = { mutate: (e) => setAr(e, 'cs', 0xe09b) };
  // TR
  c['guest.tr.type'] = { base: protUnrestricted, mutate: (e) => setAr(e, 'tr', 0x89) };   // available, not busy
  c['guest.tr.type-ia32e'] = { mutate: (e) => setAr(e, 'tr', 0x83) };                     // busy 16-bit TSS
  c['guest.tr.s'] = { mutate: (e) => setAr(e, 'tr', 0x9b) };
  c['guest.tr.p'] = { mutate: (e) => setAr(e, 'tr', 0x0b) };
  c['guest.tr.reserved-11-8'] = { mutate: (e) => setAr(e, 'tr', 0x18b) };
  c['guest.tr.g-limit-low'] = { mutate: (e) => setAr(e, 'tr', 0x808b) };
  c['guest.tr.g-limit-high'] = { mutate: (e) => w(e, SEG_ENC('tr', 'LIMIT'), 0x100000) };
  c['guest.tr.unusable'] = { mutate: (e) => setAr(e, 'tr', 0x1008b) };
  c['guest.tr.reserved-31-17'] = { mutate: (e) => setAr(e, 'tr', 0x2008b) };
  // LDTR (usable)
  c['guest.ldtr.type'] = { mutate: (e) => { usableLdtr(e); setAr(e, 'ldtr', 0x83); } };
  c['guest.ldtr.s'] = { mutate: (e) => { usableLdtr(e); setAr(e, 'ldtr', 0x92); } };
  c['guest.ldtr.p'] = { mutate: (e) => { usableLdtr(e); setAr(e, 'ldtr', 0x02); } };
  c['guest.ldtr.reserved-11-8'] = { mutate: (e) => { usableLdtr(e); setAr(e, 'ldtr', 0x182); } };
  c['guest.ldtr.g-limit-low'] = { mutate: (e) => { usableLdtr(e); setAr(e, 'ldtr', 0x8082); w(e, SEG_ENC('ldtr', 'LIMIT'), 0x1000); } };
  c['guest.ldtr.g-limit-high'] = { mutate: (e) => { usableLdtr(e); w(e, SEG_ENC('ldtr', 'LIMIT'), 0x100000); } };
  c['guest.ldtr.reserved-31-17'] = { mutate: (e) => { usableLdtr(e); setAr(e, 'ldtr', 0x20082); } };
  return c;
}

// ---- the case table ------------------------------------------------------------------------

const CASES: Record<string, Case> = {
  // Basic VM-Entry Checks
  'basic.current-vmcs-valid': { mutate: (e) => { e.cpu.currentVmcs = -1; }, outcome: { kind: 'vmfail-invalid' } },
  'basic.mov-ss-blocking': { mutate: (e) => { e.cpu.blockedByMovSs = true; }, outcome: { kind: 'vmfail', error: 26 } },
  'basic.vmlaunch-launch-state-clear': { mutate: (e) => { e.cpu.launchState = 'launched'; }, outcome: { kind: 'vmfail', error: 4 } },
  'basic.vmresume-launch-state-launched': { mutate: (e) => { e.cpu.instruction = 'vmresume'; }, outcome: { kind: 'vmfail', error: 5 } },
  'basic.vmresume-after-vmxoff': { mutate: (e) => { e.cpu.instruction = 'vmresume'; e.cpu.launchState = 'launched'; (e.cpu as { launchedBeforeVmxoff?: boolean }).launchedBeforeVmxoff = true; }, outcome: { kind: 'vmfail', error: 6 } },

  // Checks on VM-Execution Control Fields
  'ctl.pin.allowed0': { mutate: (e) => w(e, PINC, 0) },
  'ctl.pin.allowed1': { mutate: (e) => or(e, PINC, PIN.PROCESS_POSTED_INTERRUPTS) },
  'ctl.proc.allowed0': { mutate: (e) => clr(e, PROCC, 1 << 1) },
  'ctl.proc.allowed1': { mutate: (e) => or(e, PROCC, PROC.ACTIVATE_TERTIARY_CONTROLS) },
  'ctl.proc2.allowed0': { mutate: (e) => capOr(e, 0x48b, PROC2.ENABLE_RDTSCP, 0) },
  'ctl.proc2.allowed1': { mutate: (e) => or(e, PROC2C, PROC2.ENABLE_PML) },
  'ctl.cr3-target-count': { mutate: (e) => w(e, F.CR3_TARGET_COUNT, 5) },
  ...addrCases('ctl.io-bitmap-a', F.ADDRESS_OF_IO_BITMAP_A, (e) => or(e, PROCC, PROC.USE_IO_BITMAPS), [F.ADDRESS_OF_IO_BITMAP_B, 0x12000]),
  ...addrCases('ctl.io-bitmap-b', F.ADDRESS_OF_IO_BITMAP_B, (e) => or(e, PROCC, PROC.USE_IO_BITMAPS), [F.ADDRESS_OF_IO_BITMAP_A, 0x12000]),
  ...addrCases('ctl.msr-bitmaps', F.ADDRESS_OF_MSR_BITMAPS, (e) => or(e, PROCC, PROC.USE_MSR_BITMAPS)),
  ...addrCases('ctl.virtual-apic', F.VIRTUAL_APIC_ADDRESS, (e) => or(e, PROCC, PROC.USE_TPR_SHADOW)),
  'ctl.tpr-threshold.reserved': { mutate: (e) => { or(e, PROCC, PROC.USE_TPR_SHADOW); w(e, F.VIRTUAL_APIC_ADDRESS, 0x13000); w(e, F.TPR_THRESHOLD, 0x10); } },
  'ctl.tpr-threshold.vtpr': {
    mutate: (e) => { or(e, PROCC, PROC.USE_TPR_SHADOW); w(e, F.VIRTUAL_APIC_ADDRESS, 0x13000); e.mem.w32(0x13080, 0x20); w(e, F.TPR_THRESHOLD, 3); },
  },
  'ctl.virtual-nmis.requires-nmi-exiting': { mutate: (e) => or(e, PINC, PIN.VIRTUAL_NMIS) },
  'ctl.nmi-window.requires-virtual-nmis': { mutate: (e) => or(e, PROCC, PROC.NMI_WINDOW_EXITING) },
  'ctl.vpid.nonzero': { mutate: (e) => { w(e, PROC2C, PROC2.ENABLE_VPID); w(e, F.VIRTUAL_PROCESSOR_IDENTIFIER, 0); } },
  'ctl.ept.memory-type': { mutate: (e) => ept(e, 0x20000 | 0x18 | 1) },
  'ctl.ept.walk-length': { mutate: (e) => ept(e, 0x20000 | 0x10 | 6) },
  'ctl.ept.accessed-dirty': { mutate: (e) => { capClear(e, 0x48c, 1 << 21, 0); ept(e, 0x20000 | 0x40 | 0x18 | 6); } },
  'ctl.ept.supervisor-shadow-stack': { mutate: (e) => ept(e, 0x20000 | 0x80 | 0x18 | 6) },
  'ctl.ept.reserved': { mutate: (e) => ept(e, 0x20000 | 0x100 | 0x18 | 6) },
  'ctl.ept.width': { mutate: (e) => ept(e, 0x20000 | 0x18 | 6, 0x100) },
  'ctl.unrestricted-guest.requires-ept': { mutate: (e) => w(e, PROC2C, PROC2.UNRESTRICTED_GUEST) },

  // Checks on VM-Exit Control Fields
  'ctl.exit.allowed0': { mutate: (e) => w(e, EXITC, EXIT.HOST_ADDRESS_SPACE_SIZE) },
  'ctl.exit.allowed1': { mutate: (e) => or(e, EXITC, EXIT.LOAD_IA32_PERF_GLOBAL_CTRL) },
  'ctl.exit.save-preemption-timer': { mutate: (e) => or(e, EXITC, EXIT.SAVE_VMX_PREEMPTION_TIMER_VALUE) },
  ...areaCases('ctl.exit.msr-store', F.VM_EXIT_MSR_STORE_ADDRESS, F.VM_EXIT_MSR_STORE_COUNT),
  ...areaCases('ctl.exit.msr-load', F.VM_EXIT_MSR_LOAD_ADDRESS, F.VM_EXIT_MSR_LOAD_COUNT),

  // Checks on VM-Entry Control Fields
  'ctl.entry.allowed0': { mutate: (e) => w(e, ENTRYC, ENTRY.IA32E_MODE_GUEST) },
  'ctl.entry.allowed1': { mutate: (e) => or(e, ENTRYC, ENTRY.LOAD_IA32_PERF_GLOBAL_CTRL) },
  'ctl.entry.event.type': { mutate: (e) => w(e, INFO, 0x80000100) },
  'ctl.entry.event.nmi-vector': { mutate: (e) => w(e, INFO, 0x80000203) },
  'ctl.entry.event.exception-vector': { mutate: (e) => w(e, INFO, 0x80000320) },
  'ctl.entry.event.other-event-vector': { mutate: (e) => w(e, INFO, 0x80000701) },
  'ctl.entry.event.error-code-required': { mutate: (e) => w(e, INFO, 0x8000030d) },     // #GP without error code
  'ctl.entry.event.error-code-forbidden': { mutate: (e) => w(e, INFO, 0x80000b06) },    // #UD with error code
  'ctl.entry.event.reserved': { mutate: (e) => { w(e, F.GUEST_RFLAGS, 0x202); w(e, INFO, 0x80001020); } },
  'ctl.entry.event.error-code-reserved': { mutate: (e) => { w(e, INFO, 0x80000b0d); w(e, F.VM_ENTRY_EXCEPTION_ERROR_CODE, 0x10000); } },
  'ctl.entry.event.instruction-length': { mutate: (e) => { w(e, INFO, 0x80000403); w(e, F.VM_ENTRY_INSTRUCTION_LENGTH, 16); } },
  ...areaCases('ctl.entry.msr-load', F.VM_ENTRY_MSR_LOAD_ADDRESS, F.VM_ENTRY_MSR_LOAD_COUNT),
  'ctl.entry.entry-to-smm': { mutate: (e) => { capOr(e, 0x490, 0, ENTRY.ENTRY_TO_SMM); or(e, ENTRYC, ENTRY.ENTRY_TO_SMM); } },
  'ctl.entry.deactivate-dual-monitor': {
    mutate: (e) => { capOr(e, 0x490, 0, ENTRY.DEACTIVATE_DUAL_MONITOR_TREATMENT); or(e, ENTRYC, ENTRY.DEACTIVATE_DUAL_MONITOR_TREATMENT); },
  },

  // Host state
  'host.cr0.fixed0': { mutate: (e) => w(e, F.HOST_CR0, 0x80000011) },                 // NE clear
  'host.cr0.fixed1': { mutate: (e) => w(e, F.HOST_CR0, 0x80000031, 1) },              // bit 32
  'host.cr4.fixed0': { mutate: (e) => w(e, F.HOST_CR4, 0x20) },                       // VMXE clear
  'host.cr4.fixed1': { mutate: (e) => { capClear(e, 0x489, 1 << 12, 0); w(e, F.HOST_CR4, 0x2020 | (1 << 12)); } },
  'host.cr3.width': { mutate: (e) => w(e, F.HOST_CR3, 0x1000, 0x100) },
  'host.sysenter-esp.canonical': { mutate: (e) => w(e, F.HOST_IA32_SYSENTER_ESP, 0, NONCANON_HI) },
  'host.sysenter-eip.canonical': { mutate: (e) => w(e, F.HOST_IA32_SYSENTER_EIP, 0, NONCANON_HI) },
  'host.pat.valid': { mutate: (e) => { or(e, EXITC, EXIT.LOAD_IA32_PAT); w(e, F.HOST_IA32_PAT, 0x00070402, 0x00070406); } },
  'host.efer.reserved': { mutate: (e) => { or(e, EXITC, EXIT.LOAD_IA32_EFER); w(e, F.HOST_IA32_EFER, 0x502); } },
  'host.efer.lma': { mutate: (e) => { or(e, EXITC, EXIT.LOAD_IA32_EFER); w(e, F.HOST_IA32_EFER, 0x100); } },
  'host.efer.lme': { mutate: (e) => { or(e, EXITC, EXIT.LOAD_IA32_EFER); w(e, F.HOST_IA32_EFER, 0x400); } },
  ...Object.fromEntries(['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'tr'].map((s) => [`host.${s}.sel-rpl-ti`, {
    mutate: (e: Env) => { const f = (F as unknown as Record<string, number>)[`HOST_${s.toUpperCase()}_SELECTOR`]; w(e, f, e.vmcs.read(f) | (s === 'gs' ? 4 : 3)); },
  }])),
  'host.cs.sel-nonzero': { mutate: (e) => w(e, F.HOST_CS_SELECTOR, 0) },
  'host.tr.sel-nonzero': { mutate: (e) => w(e, F.HOST_TR_SELECTOR, 0) },
  'host.ss.sel-nonzero': { base: host32, mutate: (e) => w(e, F.HOST_SS_SELECTOR, 0) },
  ...Object.fromEntries([['fs', F.HOST_FS_BASE], ['gs', F.HOST_GS_BASE], ['gdtr', F.HOST_GDTR_BASE], ['idtr', F.HOST_IDTR_BASE], ['tr', F.HOST_TR_BASE]]
    .map(([s, f]) => [`host.${s}.base-canonical`, { mutate: (e: Env) => w(e, f as number, 0, NONCANON_HI) }])),
  'host.addr-size.ia32e-guest-outside-ia32e': { mutate: (e) => { e.cpu.ia32eMode = false; }, also: ['host.addr-size.host-64-outside-ia32e'] },
  'host.addr-size.host-64-outside-ia32e': { base: protUnrestricted, mutate: (e) => { e.cpu.ia32eMode = false; } },
  'host.addr-size.host-64-inside-ia32e': { base: protUnrestricted, mutate: (e) => clr(e, EXITC, EXIT.HOST_ADDRESS_SPACE_SIZE) },
  // Implied by the two checks before it: outside IA-32e mode the IA-32e guest fails first; inside, the host size must be 1.
  'host.addr-size.32-no-ia32e-guest': {
    base: host32, mutate: (e) => or(e, ENTRYC, ENTRY.IA32E_MODE_GUEST), firstIs: 'host.addr-size.ia32e-guest-outside-ia32e',
  },
  'host.addr-size.32-pcide': { base: host32, mutate: (e) => { capOr(e, 0x489, 1 << 17, 0); w(e, F.HOST_CR4, 0x22000); } },
  'host.addr-size.32-rip-upper': { base: host32, mutate: (e) => w(e, F.HOST_RIP, 0x401000, 1) },
  'host.addr-size.64-pae': { mutate: (e) => w(e, F.HOST_CR4, 0x2000) },
  'host.addr-size.64-rip-canonical': { mutate: (e) => w(e, F.HOST_RIP, 0, NONCANON_HI) },

  // Checks on Guest Control Registers, Debug Registers, and MSRs
  'guest.cr0.fixed0': { mutate: (e) => w(e, F.GUEST_CR0, 0x80000011) },
  'guest.cr0.fixed1': { mutate: (e) => w(e, F.GUEST_CR0, 0x80000031, 1) },
  'guest.cr0.pg-requires-pe': { base: protUnrestricted, mutate: (e) => w(e, F.GUEST_CR0, 0x80000030) },
  'guest.cr4.fixed0': { mutate: (e) => w(e, F.GUEST_CR4, 0x20) },
  'guest.cr4.fixed1': { mutate: (e) => { capClear(e, 0x489, 1 << 12, 0); w(e, F.GUEST_CR4, 0x2020 | (1 << 12)); } },
  'guest.debugctl.reserved': { mutate: (e) => { or(e, ENTRYC, ENTRY.LOAD_DEBUG_CONTROLS); w(e, F.GUEST_IA32_DEBUGCTL, 0x4); } },
  'guest.ia32e.cr0-pg': { mutate: (e) => { w(e, PROC2C, PROC2.ENABLE_EPT | PROC2.UNRESTRICTED_GUEST); w(e, F.GUEST_CR0, 0x31); } },
  'guest.ia32e.cr4-pae': { mutate: (e) => w(e, F.GUEST_CR4, 0x2000) },
  'guest.cr4.pcide-outside-ia32e': { base: protUnrestricted, mutate: (e) => { capOr(e, 0x489, 1 << 17, 0); w(e, F.GUEST_CR4, 0x22000); } },
  'guest.cr3.width': { mutate: (e) => w(e, F.GUEST_CR3, 0x5000, 0x100) },
  'guest.dr7.upper': { mutate: (e) => { or(e, ENTRYC, ENTRY.LOAD_DEBUG_CONTROLS); w(e, F.GUEST_DR7, 0x400, 1); } },
  'guest.sysenter-esp.canonical': { mutate: (e) => w(e, F.GUEST_IA32_SYSENTER_ESP, 0, NONCANON_HI) },
  'guest.sysenter-eip.canonical': { mutate: (e) => w(e, F.GUEST_IA32_SYSENTER_EIP, 0, NONCANON_HI) },
  'guest.pat.valid': { mutate: (e) => { or(e, ENTRYC, ENTRY.LOAD_IA32_PAT); w(e, F.GUEST_IA32_PAT, 0x00070406, 0x08070406); } },
  'guest.efer.reserved': { mutate: (e) => { or(e, ENTRYC, ENTRY.LOAD_IA32_EFER); w(e, F.GUEST_IA32_EFER, 0x502); } },
  'guest.efer.lma': { mutate: (e) => { or(e, ENTRYC, ENTRY.LOAD_IA32_EFER); w(e, F.GUEST_IA32_EFER, 0x100); } },
  'guest.efer.lme': { mutate: (e) => { or(e, ENTRYC, ENTRY.LOAD_IA32_EFER); w(e, F.GUEST_IA32_EFER, 0x400); } },

  ...segmentCases(),

  // Checks on Guest Descriptor-Table Registers
  'guest.gdtr.base-canonical': { mutate: (e) => w(e, F.GUEST_GDTR_BASE, 0, NONCANON_HI) },
  'guest.gdtr.limit': { mutate: (e) => w(e, F.GUEST_GDTR_LIMIT, 0x10000) },
  'guest.idtr.base-canonical': { mutate: (e) => w(e, F.GUEST_IDTR_BASE, 0, NONCANON_HI) },
  'guest.idtr.limit': { mutate: (e) => w(e, F.GUEST_IDTR_LIMIT, 0x10000) },

  // Checks on Guest RIP, RFLAGS, and SSP
  'guest.rip.upper': { base: protUnrestricted, mutate: (e) => w(e, F.GUEST_RIP, 0x1000, 1) },
  'guest.rip.bits-63-n': { mutate: (e) => w(e, F.GUEST_RIP, 0x1000, 0x10000) },
  'guest.rflags.reserved': { mutate: (e) => w(e, F.GUEST_RFLAGS, 0x8002) },
  'guest.rflags.bit1': { mutate: (e) => w(e, F.GUEST_RFLAGS, 0) },
  'guest.rflags.vm': { mutate: (e) => { v86Segs(e); w(e, F.GUEST_RFLAGS, 0x20002); } },
  'guest.rflags.if-external-interrupt': { mutate: (e) => w(e, INFO, 0x80000020) },

  // Checks on Guest Non-Register State
  'guest.activity.range': { mutate: (e) => w(e, F.GUEST_ACTIVITY_STATE, 4) },
  'guest.activity.supported': { mutate: (e) => { capClear(e, 0x485, 1 << 8, 0); w(e, F.GUEST_ACTIVITY_STATE, 3); } },
  'guest.activity.hlt-ss-dpl': { base: ring3, mutate: (e) => w(e, F.GUEST_ACTIVITY_STATE, 1) },
  'guest.activity.blocking-requires-active': { mutate: (e) => { w(e, F.GUEST_RFLAGS, 0x202); w(e, F.GUEST_INTERRUPTIBILITY_STATE, 1); w(e, F.GUEST_ACTIVITY_STATE, 1); } },
  'guest.activity.hlt-event': { mutate: (e) => { w(e, F.GUEST_ACTIVITY_STATE, 1); w(e, INFO, 0x80000306); } },
  'guest.activity.shutdown-event': { mutate: (e) => { w(e, F.GUEST_RFLAGS, 0x202); w(e, F.GUEST_ACTIVITY_STATE, 2); w(e, INFO, 0x80000020); } },
  'guest.activity.wait-for-sipi-event': { mutate: (e) => { w(e, F.GUEST_ACTIVITY_STATE, 3); w(e, INFO, 0x80000202); } },
  'guest.intr.reserved': { mutate: (e) => w(e, F.GUEST_INTERRUPTIBILITY_STATE, 0x10) },
  'guest.intr.sti-and-mov-ss': { mutate: (e) => { w(e, F.GUEST_RFLAGS, 0x202); w(e, F.GUEST_INTERRUPTIBILITY_STATE, 3); } },
  'guest.intr.sti-if-clear': { mutate: (e) => w(e, F.GUEST_INTERRUPTIBILITY_STATE, 1) },
  'guest.intr.external-interrupt': { mutate: (e) => { w(e, F.GUEST_RFLAGS, 0x202); w(e, F.GUEST_INTERRUPTIBILITY_STATE, 2); w(e, INFO, 0x80000020); } },
  'guest.intr.nmi-mov-ss': { mutate: (e) => { w(e, F.GUEST_INTERRUPTIBILITY_STATE, 2); w(e, INFO, 0x80000202); } },
  'guest.intr.smi': { mutate: (e) => w(e, F.GUEST_INTERRUPTIBILITY_STATE, 4) },
  'guest.intr.nmi-sti': { mutate: (e) => { w(e, F.GUEST_RFLAGS, 0x202); w(e, F.GUEST_INTERRUPTIBILITY_STATE, 1); w(e, INFO, 0x80000202); } },
  'guest.intr.virtual-nmi-blocking': {
    mutate: (e) => { or(e, PINC, PIN.NMI_EXITING | PIN.VIRTUAL_NMIS); w(e, F.GUEST_INTERRUPTIBILITY_STATE, 8); w(e, INFO, 0x80000202); },
  },
  'guest.pending-dbg.reserved': { mutate: (e) => w(e, F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0x10) },
  'guest.pending-dbg.bs-set': { mutate: (e) => { w(e, F.GUEST_RFLAGS, 0x302); w(e, F.GUEST_INTERRUPTIBILITY_STATE, 1); } },
  'guest.pending-dbg.bs-clear': { mutate: (e) => { w(e, F.GUEST_RFLAGS, 0x202); w(e, F.GUEST_INTERRUPTIBILITY_STATE, 1); w(e, F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0x4000); } },
  'guest.link.aligned': { mutate: (e) => w(e, F.VMCS_LINK_POINTER, 0x50008) },
  'guest.link.width': { mutate: (e) => w(e, F.VMCS_LINK_POINTER, 0x50000, 0x100) },
  'guest.link.revision': { mutate: (e) => { w(e, F.VMCS_LINK_POINTER, 0x50000); e.mem.w32(0x50000, revision(e) + 1); } },
  'guest.link.shadow-indicator': { mutate: (e) => { w(e, F.VMCS_LINK_POINTER, 0x50000); e.mem.w32(0x50000, (revision(e) | 0x80000000) >>> 0); } },
  'guest.link.not-current': { mutate: (e) => { w(e, F.VMCS_LINK_POINTER, CURRENT_VMCS); e.mem.w32(CURRENT_VMCS, revision(e)); } },
  ...Object.fromEntries([0, 1, 2, 3].map((i) => [`guest.pdpte${i}.reserved`, {
    base: pae32, mutate: (e: Env) => e.mem.w64(PAE_PDPT + i * 8, 0x100003, 0),   // present with reserved bit 1
  }])),

  // Loading MSRs
  'msr-load.count-max': {
    mutate: (e) => withMsrLoad(e, Array.from({ length: 513 }, () => [0x174, 0, 0] as const)),
    outcome: { kind: 'entry-fail', reason: 34, qualification: 513 },
  },
  'msr-load.fs-gs-base': { mutate: (e) => withMsrLoad(e, [[0x174, 8, 0], [0xc0000100, 0, 0]]), outcome: { kind: 'entry-fail', reason: 34, qualification: 2 } },
  'msr-load.x2apic': { mutate: (e) => withMsrLoad(e, [[0x808, 0, 0]]), outcome: { kind: 'entry-fail', reason: 34, qualification: 1 } },
  'msr-load.smm-only': { mutate: (e) => withMsrLoad(e, [[0x9b, 0, 0]]), outcome: { kind: 'entry-fail', reason: 34, qualification: 1 } },
  'msr-load.reserved': {
    mutate: (e) => { withMsrLoad(e, [[0x174, 0, 0], [0x175, 0, 0], [0x176, 0, 0]]); e.mem.w32(MSR_AREA + 2 * 16 + 4, 1); },
    outcome: { kind: 'entry-fail', reason: 34, qualification: 3 },
  },
  'msr-load.wrmsr-gp': { mutate: (e) => withMsrLoad(e, [[0xc0000080, 0x2, 0]]), outcome: { kind: 'entry-fail', reason: 34, qualification: 1 } },
};

function revision(e: Env): number { return e.caps.msr(0x480)[0] & 0x7fffffff; }

function run(e: Env, all = false): Evaluation { return checkVmEntry(e.vmcs, e.caps, e.cpu, e.mem, { all }); }

// ---- tests ---------------------------------------------------------------------------------

describe('valid VMCS setups enter', () => {
  for (const [name, make] of Object.entries({
    '64-bit host, 64-bit guest': long64, 'unrestricted guest in real-address mode': realUnrestricted,
    'unrestricted guest in protected mode with paging off': protUnrestricted, '32-bit guest with PAE paging': pae32,
    'virtual-8086 guest': v86,
  })) {
    it(`${name}: no rule fails`, () => {
      const r = run(make(), true);
      expect(r.failed?.rule.id ?? null).toBe(null);
      expect(r.others).toEqual([]);
      expect(r.outcome).toEqual({ kind: 'ok' });
    });
  }
  it('a valid MSR-load area loads', () => {
    const e = long64();
    withMsrLoad(e, [[0x174, 8, 0], [0xc0000102, 0, 0xffffffff], [0xc0000080, 0xd01, 0]]);
    expect(run(e, true).outcome).toEqual({ kind: 'ok' });
  });
});

describe('every rule has a test that breaks exactly that rule', () => {
  it('the table covers every rule (and nothing else)', () => {
    const ids = ALL_RULES.map((r) => r.id).sort();
    expect(Object.keys(CASES).sort()).toEqual(ids);
    expect(ids.length).toBeGreaterThan(200);
  });

  for (const rule of ALL_RULES) {
    const c = CASES[rule.id];
    if (!c) continue;
    it(`${rule.id}: ${c.firstIs ? `implied by ${c.firstIs}` : 'fails alone'} with the SDM's outcome`, () => {
      const e = (c.base ?? long64)();
      c.mutate(e);
      const expected = c.outcome ?? sdmOutcome(rule.id);
      const first = run(e);
      expect(first.failed?.rule.id).toBe(c.firstIs ?? rule.id);
      if (c.firstIs) {
        const all = run(e, true);
        expect([all.failed!.rule.id, ...all.others.map((o) => o.rule.id)]).toContain(rule.id);
        return;
      }
      expect(first.outcome).toEqual(expected);
      expect(first.failed!.outcome).toEqual(expected);
      const all = run(e, true);
      expect([all.failed!.rule.id, ...all.others.map((o) => o.rule.id)].sort()).toEqual([rule.id, ...(c.also ?? [])].sort());
      // The diagnosis names the rule and its section, and quotes something.
      const text = explain(first.failed!, e.vmcs);
      expect(text).toContain(rule.id);
      expect(text).toContain(rule.section);
      expect(first.failed!.message.length).toBeGreaterThan(20);
    });
  }
});

describe('outcome details', () => {
  it('a failed MSR-load entry reports its 1-based index as the exit qualification', () => {
    const e = long64();
    withMsrLoad(e, [[0x174, 0, 0], [0x175, 0, 0], [0x808, 0, 0], [0xc0000101, 0, 0]]);
    expect(run(e).outcome).toEqual({ kind: 'entry-fail', reason: 34, qualification: 3 });
  });
  it('control checks come before host-state checks (error 7, not 8)', () => {
    const e = long64();
    w(e, F.CR3_TARGET_COUNT, 9); w(e, F.HOST_CS_SELECTOR, 0);
    expect(run(e).outcome).toEqual({ kind: 'vmfail', error: 7 });
    expect(run(e, true).others.map((o) => o.rule.id)).toEqual(['host.cs.sel-nonzero']);
  });
  it('host-state checks come before guest-state checks (error 8, not exit 33)', () => {
    const e = long64();
    w(e, F.HOST_TR_SELECTOR, 0); w(e, F.GUEST_RFLAGS, 0);
    expect(run(e).outcome).toEqual({ kind: 'vmfail', error: 8 });
  });
  it('guest-state failures come before MSR loading', () => {
    const e = long64();
    withMsrLoad(e, [[0x808, 0, 0]]); w(e, F.GUEST_RFLAGS, 0);
    expect(run(e).outcome).toEqual({ kind: 'entry-fail', reason: 33, qualification: 0 });
    expect(run(e, true).others.map((o) => o.rule.id)).toEqual(['msr-load.x2apic']);
  });
  it('with EPT, PAE PDPTEs come from the guest PDPTE fields (qualification 2)', () => {
    const e = pae32();
    w(e, PROC2C, PROC2.ENABLE_EPT);
    expect(run(e).outcome).toEqual({ kind: 'ok' });              // fields are 0: not present
    w(e, F.GUEST_PDPTE2, 0x1001 | 0x20);                         // present, reserved bit 5
    const r = run(e);
    expect(r.failed?.rule.id).toBe('guest.pdpte2.reserved');
    expect(r.outcome).toEqual({ kind: 'entry-fail', reason: 33, qualification: 2 });
  });
  it('a not-present PDPTE may hold anything', () => {
    const e = pae32();
    e.mem.w64(PAE_PDPT + 8, 0xfffffffe, 0xffffffff);
    expect(run(e).outcome).toEqual({ kind: 'ok' });
  });
  it('guest RIP: the SDM compares bits 63:48 only, so bit 47 alone does not fail the entry', () => {
    const e = long64();
    w(e, F.GUEST_RIP, 0, 0x8000);
    expect(run(e).outcome).toEqual({ kind: 'ok' });
  });
  it('an injected software interrupt needs a nonzero instruction length when IA32_VMX_MISC[30] is 0', () => {
    const e = long64();
    w(e, INFO, 0x80000403); w(e, F.VM_ENTRY_INSTRUCTION_LENGTH, 0);
    expect(run(e).failed?.rule.id).toBe('ctl.entry.event.instruction-length');
    w(e, F.VM_ENTRY_INSTRUCTION_LENGTH, 2);
    expect(run(e).outcome).toEqual({ kind: 'ok' });
  });
  it('a real-mode guest gets exceptions without error codes', () => {
    const e = realUnrestricted();
    w(e, INFO, 0x80000b0d);
    expect(run(e).failed?.rule.id).toBe('ctl.entry.event.error-code-forbidden');
    w(e, INFO, 0x8000030d);
    expect(run(e).outcome).toEqual({ kind: 'ok' });
  });
  it('secondary controls are ignored while "activate secondary controls" is 0', () => {
    const e = long64();
    w(e, PROC2C, 0xffffffff);
    clr(e, PROCC, PROC.ACTIVATE_SECONDARY_CONTROLS);
    expect(run(e).outcome).toEqual({ kind: 'ok' });
  });
  it('the outcome descriptions name the architectural result', () => {
    expect(describeOutcome({ kind: 'vmfail', error: 7 })).toContain('invalid control field');
    expect(describeOutcome({ kind: 'entry-fail', reason: 33, qualification: 4 })).toContain('VMCS link pointer');
  });
});

// ---- property test ---------------------------------------------------------------------------

/** xorshift32: deterministic random numbers. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

const GROUP_OUTCOME = (id: string, o: Outcome): boolean => {
  if (id.startsWith('basic.')) return o.kind === 'vmfail' || o.kind === 'vmfail-invalid';
  if (id.startsWith('msr-load.')) return o.kind === 'entry-fail' && o.reason === 34 && o.qualification >= 1;
  const exp = sdmOutcome(id);
  return JSON.stringify(exp) === JSON.stringify(o);
};

describe('property: random VMCS contents', () => {
  const N = process.env.VMXRAY_FUZZ ? 400_000 : 20_000;
  it(`${N} random mutations of valid VMCSs never throw and end in one outcome consistent with the first failed rule`, () => {
    const r = rng(0x5eed);
    const bases = [long64, realUnrestricted, protUnrestricted, pae32, v86];
    const encs = [...new Set(ALL_RULES.flatMap((x) => x.reads))];
    const counts = { ok: 0, vmfail: 0, 'vmfail-invalid': 0, 'entry-fail': 0 };
    const templates = bases.map((b) => b());
    for (let i = 0; i < N; i++) {
      const t = templates[r() % templates.length];
      const e: Env = { vmcs: t.vmcs.clone(), caps: t.caps, cpu: { ...t.cpu }, mem: t.mem };
      const n = 1 + (r() % 4);
      for (let k = 0; k < n; k++) {
        const enc = encs[r() % encs.length];
        const how = r() % 4;
        const bit = r() % 32;
        if (how === 0) e.vmcs.write(enc, r(), r());
        else if (how === 1) e.vmcs.write(enc, e.vmcs.read(enc) ^ (1 << bit), e.vmcs.readHi(enc));
        else if (how === 2) e.vmcs.write(enc, e.vmcs.read(enc), e.vmcs.readHi(enc) ^ (1 << bit));
        else e.vmcs.write(enc, r() & 0xff, 0);
      }
      if (r() % 16 === 0) e.vmcs.write(F.VM_ENTRY_MSR_LOAD_COUNT, r() % 4);
      if (r() % 32 === 0) e.cpu.ia32eMode = !e.cpu.ia32eMode;
      let res: Evaluation;
      try { res = run(e, (i & 7) === 0); } catch (err) { throw new Error(`threw on iteration ${i}: ${String(err)}`); }
      counts[res.outcome.kind]++;
      if (res.failed) {
        expect(GROUP_OUTCOME(res.failed.rule.id, res.outcome), res.failed.rule.id).toBe(true);
        expect(typeof res.failed.message).toBe('string');
      } else {
        expect(res.outcome).toEqual({ kind: 'ok' });
        expect(res.others).toEqual([]);
      }
      // Evaluating without `all` finds the same first failure.
      if ((i & 7) === 0) expect(run(e).failed?.rule.id).toBe(res.failed?.rule.id);
    }
    // The mutations reach every kind of outcome.
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.vmfail).toBeGreaterThan(0);
    expect(counts['entry-fail']).toBeGreaterThan(0);
  });
});
