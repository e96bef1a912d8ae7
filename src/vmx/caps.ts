/**
 * The VMX capability model: ONE coherent description of what vmxray's VMX implements, reported
 * through the capability MSRs of SDM Vol. 3D Appendix A ("VMX Capability Reporting Facility").
 * Everything else in src/vmx (which fields exist, which controls a VM entry accepts, which
 * INVEPT/INVVPID types are valid, which EPTP values are legal) derives from VMX_CAPS, so the
 * hypervisor under test sees exactly what it can use.
 *
 * Control MSRs: bits 31:0 = allowed 0-settings (a 1 there means the control must be 1), bits
 * 63:32 = allowed 1-settings (a 0 there means the control must be 0). The non-TRUE MSRs report
 * every "default1" bit as fixed 1; the TRUE_ MSRs (IA32_VMX_BASIC bit 55 = 1) report as 0 the
 * default1 bits that vmxray lets software clear: CR3-load/CR3-store exiting, save debug
 * controls, load debug controls (as Intel processors do).
 *
 * Not offered (so the MSRs that describe them do not exist: RDMSR → #GP): VM functions
 * (IA32_VMX_VMFUNC, 0x491) — the "enable VM functions" control is not offered, hence no EPTP
 * switching; tertiary controls (IA32_VMX_PROCBASED_CTLS3, 0x492).
 */
import { PIN, PROC, PROC2, EXIT, ENTRY, PIN_DEFAULT1, PROC_DEFAULT1, EXIT_DEFAULT1, ENTRY_DEFAULT1 } from './controls.js';
import { FIELDS, fieldExists, highestIndex, type Allowed1 } from './fields.js';
import {
  CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_ET, CR0_NE, CR0_WP, CR0_AM, CR0_NW, CR0_CD, CR0_PG,
  CR4_TSD, CR4_DE, CR4_PSE, CR4_PAE, CR4_MCE, CR4_PGE, CR4_PCE, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_VMXE,
  CR4_SMEP, CR4_SMAP, CR4_PCIDE, CR4_OSXSAVE, CR4_FSGSBASE, GP,
} from '../cpu/regs.js';
import { FEATURES } from '../cpu/cpuid.js';
import { MAXPHYADDR } from '../cpu/mmu.js';
import { CpuFault } from '../cpu/fault.js';
import type { MsrFile } from '../cpu/msr.js';

export const IA32_VMX_BASIC = 0x480, IA32_VMX_PINBASED_CTLS = 0x481, IA32_VMX_PROCBASED_CTLS = 0x482,
  IA32_VMX_EXIT_CTLS = 0x483, IA32_VMX_ENTRY_CTLS = 0x484, IA32_VMX_MISC = 0x485, IA32_VMX_CR0_FIXED0 = 0x486,
  IA32_VMX_CR0_FIXED1 = 0x487, IA32_VMX_CR4_FIXED0 = 0x488, IA32_VMX_CR4_FIXED1 = 0x489, IA32_VMX_VMCS_ENUM = 0x48a,
  IA32_VMX_PROCBASED_CTLS2 = 0x48b, IA32_VMX_EPT_VPID_CAP = 0x48c, IA32_VMX_TRUE_PINBASED_CTLS = 0x48d,
  IA32_VMX_TRUE_PROCBASED_CTLS = 0x48e, IA32_VMX_TRUE_EXIT_CTLS = 0x48f, IA32_VMX_TRUE_ENTRY_CTLS = 0x490,
  IA32_VMX_VMFUNC = 0x491, IA32_VMX_PROCBASED_CTLS3 = 0x492;

/**
 * Our VMCS revision identifier (bits 30:0 of IA32_VMX_BASIC; any value is architectural). Chosen
 * so that the first bytes of a VMCS/VMXON region read "VMX\0" in a hex dump.
 */
export const VMCS_REVISION_ID = 0x00584d56;
/** Bytes of a VMCS region (and the VMXON region), IA32_VMX_BASIC bits 44:32. */
export const VMCS_REGION_SIZE = 4096;
/** Memory type of the VMCS region and the structures it points to: 6 = write-back. */
export const VMCS_MEMORY_TYPE_WB = 6;

/** A control word: bits that must be 1 (allowed0) and bits that may be 1 (allowed1). */
export interface CtlCaps { readonly allowed0: number; readonly allowed1: number }

const or = (...v: number[]): number => v.reduce((a, x) => a | x, 0) >>> 0;
const b = (n: number): number => (2 ** n) >>> 0;

/** The controls vmxray offers (the implementation of each lives elsewhere in src/vmx). */
const PIN_OFFERED = or(PIN.EXTERNAL_INTERRUPT_EXITING, PIN.NMI_EXITING, PIN.VIRTUAL_NMIS, PIN.ACTIVATE_VMX_PREEMPTION_TIMER);
const PROC_OFFERED = or(
  PROC.INTERRUPT_WINDOW_EXITING, PROC.USE_TSC_OFFSETTING, PROC.HLT_EXITING, PROC.INVLPG_EXITING, PROC.MWAIT_EXITING,
  PROC.RDPMC_EXITING, PROC.RDTSC_EXITING, PROC.CR3_LOAD_EXITING, PROC.CR3_STORE_EXITING, PROC.CR8_LOAD_EXITING,
  PROC.CR8_STORE_EXITING, PROC.USE_TPR_SHADOW, PROC.NMI_WINDOW_EXITING, PROC.MOV_DR_EXITING, PROC.UNCONDITIONAL_IO_EXITING,
  PROC.USE_IO_BITMAPS, PROC.MONITOR_TRAP_FLAG, PROC.USE_MSR_BITMAPS, PROC.MONITOR_EXITING, PROC.PAUSE_EXITING,
  PROC.ACTIVATE_SECONDARY_CONTROLS);
const PROC2_OFFERED = or(
  PROC2.ENABLE_EPT, PROC2.DESCRIPTOR_TABLE_EXITING, PROC2.ENABLE_RDTSCP, PROC2.ENABLE_VPID, PROC2.WBINVD_EXITING,
  PROC2.UNRESTRICTED_GUEST, PROC2.PAUSE_LOOP_EXITING, PROC2.ENABLE_INVPCID);
const EXIT_OFFERED = or(
  EXIT.SAVE_DEBUG_CONTROLS, EXIT.HOST_ADDRESS_SPACE_SIZE, EXIT.ACKNOWLEDGE_INTERRUPT_ON_EXIT, EXIT.SAVE_IA32_PAT,
  EXIT.LOAD_IA32_PAT, EXIT.SAVE_IA32_EFER, EXIT.LOAD_IA32_EFER, EXIT.SAVE_VMX_PREEMPTION_TIMER_VALUE);
const ENTRY_OFFERED = or(ENTRY.LOAD_DEBUG_CONTROLS, ENTRY.IA32E_MODE_GUEST, ENTRY.LOAD_IA32_PAT, ENTRY.LOAD_IA32_EFER);

/** Default1 bits that software may clear when it uses the TRUE_ MSRs. */
const PROC_TRUE_CLEARABLE = or(PROC.CR3_LOAD_EXITING, PROC.CR3_STORE_EXITING);
const EXIT_TRUE_CLEARABLE = EXIT.SAVE_DEBUG_CONTROLS;
const ENTRY_TRUE_CLEARABLE = ENTRY.LOAD_DEBUG_CONTROLS;

/** CR0 bits vmxray implements (sysregs.ts CR0_BITS): IA32_VMX_CR0_FIXED1 reports exactly these. */
const CR0_IMPLEMENTED = or(CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_ET, CR0_NE, CR0_WP, CR0_AM, CR0_NW, CR0_CD, CR0_PG);
/** CR4 bits vmxray lets software set (must equal sysregs.ts CR4_BITS; a test holds them together). */
const CR4_IMPLEMENTED = or(CR4_TSD, CR4_DE, CR4_PSE, CR4_PAE, CR4_MCE, CR4_PGE, CR4_PCE, CR4_OSFXSR, CR4_OSXMMEXCPT,
  CR4_VMXE, CR4_SMEP, CR4_SMAP, FEATURES.pcid ? CR4_PCIDE : 0, FEATURES.xsave ? CR4_OSXSAVE : 0,
  FEATURES.fsgsbase ? CR4_FSGSBASE : 0);

/** IA32_VMX_EPT_VPID_CAP bits (SDM Appendix A, "VPID and EPT Capabilities"). */
export const EPT_CAP = {
  EXECUTE_ONLY: b(0), WALK_LENGTH_4: b(6), WALK_LENGTH_5: b(7), MEMTYPE_UC: b(8), MEMTYPE_WB: b(14),
  PDE_2MB: b(16), PDPTE_1GB: b(17), INVEPT: b(20), ACCESSED_DIRTY: b(21), ADVANCED_EXIT_INFO: b(22),
  SUPERVISOR_SHADOW_STACK: b(23), INVEPT_SINGLE_CONTEXT: b(25), INVEPT_ALL_CONTEXT: b(26),
} as const;
/** High half of IA32_VMX_EPT_VPID_CAP (bit 32+n → bit n here). */
export const VPID_CAP = {
  INVVPID: b(0), INDIVIDUAL_ADDRESS: b(8), SINGLE_CONTEXT: b(9), ALL_CONTEXT: b(10), SINGLE_CONTEXT_RETAINING_GLOBALS: b(11),
} as const;

/** IA32_VMX_MISC bits (SDM Appendix A, "Miscellaneous Data"). */
export const MISC = {
  /** Bit 5: VM exits store the value of IA32_EFER.LMA into the "IA-32e mode guest" VM-entry control. */
  STORE_LMA_ON_EXIT: b(5),
  ACTIVITY_HLT: b(6), ACTIVITY_SHUTDOWN: b(7), ACTIVITY_WAIT_FOR_SIPI: b(8),
  /** Bit 29: VMWRITE may write any supported field, VM-exit information included. NOT offered. */
  VMWRITE_ANY_FIELD: b(29),
  /** Bit 30: injection of software interrupts/exceptions with instruction length 0. NOT offered. */
  INJECT_ZERO_LENGTH: b(30),
} as const;

export const VMX_CAPS = {
  /** IA32_VMX_BASIC (SDM Appendix A, "Basic VMX Information"). */
  basic: {
    revisionId: VMCS_REVISION_ID,
    regionSize: VMCS_REGION_SIZE,
    /** Bit 48: 0 = VMXON/VMCS/bitmap addresses are limited by the physical-address width (not 32 bits). */
    addressWidth32: false,
    /** Bit 49: dual-monitor treatment of SMIs and SMM — not offered. */
    dualMonitor: false,
    memoryType: VMCS_MEMORY_TYPE_WB,
    /** Bit 54: VM exits due to INS/OUTS report the instruction-information field. */
    insOutsInfo: true,
    /** Bit 55: the TRUE_ control MSRs exist. */
    trueControls: true,
    /** Bit 56: VM entry may deliver a hardware exception with or without an error code regardless of vector — not offered. */
    noErrorCodeCheck: false,
  },
  pin: { allowed0: PIN_DEFAULT1, allowed1: or(PIN_DEFAULT1, PIN_OFFERED) } as CtlCaps,
  proc: { allowed0: PROC_DEFAULT1, allowed1: or(PROC_DEFAULT1, PROC_OFFERED) } as CtlCaps,
  /** Secondary controls have no default1 bits (allowed0 is 0). */
  proc2: { allowed0: 0, allowed1: PROC2_OFFERED } as CtlCaps,
  exit: { allowed0: EXIT_DEFAULT1, allowed1: or(EXIT_DEFAULT1, EXIT_OFFERED) } as CtlCaps,
  entry: { allowed0: ENTRY_DEFAULT1, allowed1: or(ENTRY_DEFAULT1, ENTRY_OFFERED) } as CtlCaps,
  truePin: { allowed0: PIN_DEFAULT1, allowed1: or(PIN_DEFAULT1, PIN_OFFERED) } as CtlCaps,
  trueProc: { allowed0: (PROC_DEFAULT1 & ~PROC_TRUE_CLEARABLE) >>> 0, allowed1: or(PROC_DEFAULT1, PROC_OFFERED) } as CtlCaps,
  trueExit: { allowed0: (EXIT_DEFAULT1 & ~EXIT_TRUE_CLEARABLE) >>> 0, allowed1: or(EXIT_DEFAULT1, EXIT_OFFERED) } as CtlCaps,
  trueEntry: { allowed0: (ENTRY_DEFAULT1 & ~ENTRY_TRUE_CLEARABLE) >>> 0, allowed1: or(ENTRY_DEFAULT1, ENTRY_OFFERED) } as CtlCaps,
  misc: {
    /** Bits 4:0: the VMX-preemption timer counts down by 1 each time TSC bit 5 changes (every 32 TSC ticks). */
    preemptionTimerRate: 5,
    storeLma: true,
    activityHlt: true, activityShutdown: true, activityWaitForSipi: true,
    /** Bits 24:16: number of CR3-target values. */
    cr3TargetCount: 4,
    /** Bits 27:25 = N: recommended maximum of 512 * (N + 1) entries in each MSR list. */
    msrListN: 0,
    vmwriteAnyField: false,
    injectZeroLength: false,
    msegRevision: 0,
  },
  /** CR0 bits that must be 1 in VMX operation (PE, NE, PG; with "unrestricted guest" a guest may clear PE and PG —
   *  that relaxation is a VM-entry check, "Checks on Guest Control Registers, Debug Registers, and MSRs"). */
  cr0Fixed0: or(CR0_PE, CR0_NE, CR0_PG),
  cr0Fixed1: CR0_IMPLEMENTED,
  cr4Fixed0: CR4_VMXE,
  cr4Fixed1: CR4_IMPLEMENTED,
  /** IA32_VMX_EPT_VPID_CAP low / high halves. */
  eptCap: or(EPT_CAP.EXECUTE_ONLY, EPT_CAP.WALK_LENGTH_4, EPT_CAP.MEMTYPE_UC, EPT_CAP.MEMTYPE_WB, EPT_CAP.PDE_2MB, EPT_CAP.PDPTE_1GB,
    EPT_CAP.INVEPT, EPT_CAP.ACCESSED_DIRTY, EPT_CAP.INVEPT_SINGLE_CONTEXT, EPT_CAP.INVEPT_ALL_CONTEXT),
  vpidCap: or(VPID_CAP.INVVPID, VPID_CAP.INDIVIDUAL_ADDRESS, VPID_CAP.SINGLE_CONTEXT, VPID_CAP.ALL_CONTEXT,
    VPID_CAP.SINGLE_CONTEXT_RETAINING_GLOBALS),
  /** VM functions: not offered (no IA32_VMX_VMFUNC). */
  vmfunc: 0,
} as const;

/** Allowed-1 settings used to decide which VMCS fields exist (fields.ts fieldExists). */
export const ALLOWED1: Allowed1 = {
  pin: VMX_CAPS.truePin.allowed1, proc: VMX_CAPS.trueProc.allowed1, proc2: VMX_CAPS.proc2.allowed1,
  proc3: 0, exit: VMX_CAPS.trueExit.allowed1, entry: VMX_CAPS.trueEntry.allowed1, vmfunc: VMX_CAPS.vmfunc,
};

/** Does this VMCS field exist on vmxray's processor? */
export const fieldSupported = (f: (typeof FIELDS)[number]): boolean => fieldExists(f, ALLOWED1);

/** The capability MSR values as [low, high] halves, by MSR index. */
export function vmxMsrValues(): Map<number, [number, number]> {
  const c = VMX_CAPS, m = new Map<number, [number, number]>();
  const ctl = (x: CtlCaps): [number, number] => [x.allowed0 >>> 0, x.allowed1 >>> 0];
  m.set(IA32_VMX_BASIC, [c.basic.revisionId & 0x7fffffff,
    (c.basic.regionSize & 0x1fff) | (c.basic.addressWidth32 ? b(16) : 0) | (c.basic.dualMonitor ? b(17) : 0) |
    ((c.basic.memoryType & 0xf) << 18) | (c.basic.insOutsInfo ? b(22) : 0) | (c.basic.trueControls ? b(23) : 0) |
    (c.basic.noErrorCodeCheck ? b(24) : 0)]);
  m.set(IA32_VMX_PINBASED_CTLS, ctl(c.pin));
  m.set(IA32_VMX_PROCBASED_CTLS, ctl(c.proc));
  m.set(IA32_VMX_EXIT_CTLS, ctl(c.exit));
  m.set(IA32_VMX_ENTRY_CTLS, ctl(c.entry));
  m.set(IA32_VMX_MISC, [or(c.misc.preemptionTimerRate & 0x1f, c.misc.storeLma ? MISC.STORE_LMA_ON_EXIT : 0,
    c.misc.activityHlt ? MISC.ACTIVITY_HLT : 0, c.misc.activityShutdown ? MISC.ACTIVITY_SHUTDOWN : 0,
    c.misc.activityWaitForSipi ? MISC.ACTIVITY_WAIT_FOR_SIPI : 0, (c.misc.cr3TargetCount & 0x1ff) << 16,
    (c.misc.msrListN & 7) << 25, c.misc.vmwriteAnyField ? MISC.VMWRITE_ANY_FIELD : 0,
    c.misc.injectZeroLength ? MISC.INJECT_ZERO_LENGTH : 0), c.misc.msegRevision >>> 0]);
  m.set(IA32_VMX_CR0_FIXED0, [c.cr0Fixed0, 0]);
  m.set(IA32_VMX_CR0_FIXED1, [c.cr0Fixed1, 0]);
  m.set(IA32_VMX_CR4_FIXED0, [c.cr4Fixed0, 0]);
  m.set(IA32_VMX_CR4_FIXED1, [c.cr4Fixed1, 0]);
  m.set(IA32_VMX_VMCS_ENUM, [highestIndex(FIELDS.filter(fieldSupported)) << 1, 0]);
  // IA32_VMX_PROCBASED_CTLS2 exists because "activate secondary controls" may be 1.
  m.set(IA32_VMX_PROCBASED_CTLS2, ctl(c.proc2));
  // IA32_VMX_EPT_VPID_CAP exists because "enable EPT" / "enable VPID" may be 1.
  m.set(IA32_VMX_EPT_VPID_CAP, [c.eptCap, c.vpidCap]);
  m.set(IA32_VMX_TRUE_PINBASED_CTLS, ctl(c.truePin));
  m.set(IA32_VMX_TRUE_PROCBASED_CTLS, ctl(c.trueProc));
  m.set(IA32_VMX_TRUE_EXIT_CTLS, ctl(c.trueExit));
  m.set(IA32_VMX_TRUE_ENTRY_CTLS, ctl(c.trueEntry));
  return m;
}

/**
 * Register the capability MSRs on an MSR file: read-only (WRMSR → #GP(0), as on hardware).
 * IA32_VMX_VMFUNC and IA32_VMX_PROCBASED_CTLS3 are not registered (the features they describe
 * are not offered), so RDMSR of them raises #GP(0).
 */
export function registerVmxMsrs(msr: MsrFile): void {
  const values = vmxMsrValues();
  const h = {
    read: (i: number): [number, number] => { const v = values.get(i)!; return [v[0], v[1]]; },
    write: (): void => { throw new CpuFault(GP, 0); },
  };
  for (const i of values.keys()) msr.register(i, h);
}

/** IA32_FEATURE_CONTROL (MSR 0x3A) bits (SDM Vol. 4; Vol. 3C "Enabling and Entering VMX Operation"). */
export const FEATURE_CONTROL_LOCK = 1, FEATURE_CONTROL_VMX_IN_SMX = 2, FEATURE_CONTROL_VMX_OUTSIDE_SMX = 4;
/** What firmware leaves: locked, with VMX enabled outside SMX. */
export const FEATURE_CONTROL_FIRMWARE = FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX;
/** Bits software may write while the MSR is unlocked (no SMX, so bit 1 is reserved): others → #GP(0). */
export const FEATURE_CONTROL_WRITABLE = FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX;

/**
 * Configure IA32_FEATURE_CONTROL as firmware would leave it: `locked` (default: locked with VMX
 * enabled outside SMX) or unlocked and 0, so a hypervisor that forgets to check/enable it gets
 * the #GP from VMXON that real hardware gives. (The Machine config should expose this.)
 */
export function setFeatureControl(msr: MsrFile, opts: { locked: boolean }): void {
  msr.setRaw(0x3a, opts.locked ? FEATURE_CONTROL_FIRMWARE : 0, 0);
}

// ------------------------------------------------------------------ derived checks used by several modules

/** Bits 63:MAXPHYADDR of a physical address are set (an address "beyond the physical-address width"). */
export function beyondPhysWidth(lo: number, hi: number): boolean {
  void lo;
  return ((hi >>> 0) & ~((2 ** (MAXPHYADDR - 32)) - 1)) !== 0;
}

/**
 * Is this EPTP value one a VM entry accepts (SDM Vol. 3C, "VM-Execution Control Fields" checks in
 * "Checks on VMX Controls", EPT pointer)? Used by INVEPT single-context and by the VM-entry checks.
 *   bits 2:0  memory type supported by IA32_VMX_EPT_VPID_CAP (UC = 0 if bit 8, WB = 6 if bit 14)
 *   bits 5:3  page-walk length − 1: 3 (4-level) if bit 6, 4 (5-level) if bit 7
 *   bit 6     accessed/dirty enable only if bit 21
 *   bit 7     supervisor shadow-stack control only if bit 23
 *   bits 11:8 reserved (0); bits 63:MAXPHYADDR reserved (0)
 * Returns null if valid, else a short reason.
 */
export function eptpProblem(lo: number, hi: number): string | null {
  const cap = VMX_CAPS.eptCap;
  const mt = lo & 7;
  if (!((mt === 0 && (cap & EPT_CAP.MEMTYPE_UC)) || (mt === 6 && (cap & EPT_CAP.MEMTYPE_WB)))) {
    return `EPTP memory type (bits 2:0) is ${mt}; supported are 0 (UC) and 6 (WB)`;
  }
  const wl = (lo >>> 3) & 7;
  if (!((wl === 3 && (cap & EPT_CAP.WALK_LENGTH_4)) || (wl === 4 && (cap & EPT_CAP.WALK_LENGTH_5)))) {
    return `EPTP bits 5:3 (page-walk length minus 1) are ${wl}; the page-walk length ${wl + 1} is not supported (only 4-level EPT)`;
  }
  if ((lo & b(6)) && !(cap & EPT_CAP.ACCESSED_DIRTY)) return 'EPTP bit 6 enables accessed/dirty flags, which are not supported';
  if ((lo & b(7)) && !(cap & EPT_CAP.SUPERVISOR_SHADOW_STACK)) return 'EPTP bit 7 (supervisor shadow stacks, not supported) is reserved here; it must be 0';
  if (lo & 0xf00) return `EPTP reserved bits 11:8 are 0x${((lo >>> 8) & 0xf).toString(16)}; they must be 0`;
  if (beyondPhysWidth(lo, hi)) return `EPTP bits 63:${MAXPHYADDR} are not 0 (EPTP = 0x${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, '0')}); the physical-address width is ${MAXPHYADDR}`;
  return null;
}
