/**
 * The EntryView: everything the VM-entry checks look at, decoded once per VMLAUNCH/VMRESUME
 * from the current VMCS, the capability model, the processor state and physical memory.
 * Controls become booleans (v.proc2.unrestrictedGuest), segments become objects (v.guest.tr),
 * 64-bit and natural-width fields become {lo, hi} pairs of uint32 (no BigInt: DESIGN.md #2).
 *
 * Nothing here throws for any VMCS content: every value is masked to its width, and memory is
 * read only through the PhysReader the caller supplies.
 */
import * as F from '../fields.js';
import { PIN, PROC, PROC2, EXIT, ENTRY } from '../controls.js';
import {
  IA32_VMX_BASIC, IA32_VMX_PINBASED_CTLS, IA32_VMX_PROCBASED_CTLS, IA32_VMX_EXIT_CTLS, IA32_VMX_ENTRY_CTLS, IA32_VMX_MISC,
  IA32_VMX_CR0_FIXED0, IA32_VMX_CR0_FIXED1, IA32_VMX_CR4_FIXED0, IA32_VMX_CR4_FIXED1, IA32_VMX_PROCBASED_CTLS2,
  IA32_VMX_EPT_VPID_CAP, IA32_VMX_TRUE_PINBASED_CTLS, IA32_VMX_TRUE_PROCBASED_CTLS, IA32_VMX_TRUE_EXIT_CTLS,
  IA32_VMX_TRUE_ENTRY_CTLS,
} from '../caps.js';

// ---- inputs --------------------------------------------------------------------------------

/** The current VMCS as the checks read it (src/vmx/vmcs.ts's VMCS has these). */
export interface VmcsReader {
  /** Low 32 bits of a field (the whole value of a 16- or 32-bit field), unsigned. */
  read(enc: number): number;
  /** High 32 bits of a 64-bit or natural-width field (0 for others). */
  readHi(enc: number): number;
}

/** Physical memory, read at a physical address given as a Number (< 2^52, exact). */
export interface PhysReader {
  read32(pa: number): number;
}

/**
 * The capability model as the checks need it. `msr(index)` returns the raw [lo, hi] halves of the
 * VMX capability MSRs IA32_VMX_BASIC (0x480) .. IA32_VMX_VMFUNC (0x491) (SDM Vol. 3D Appendix A,
 * "VMX Capability Reporting Facility"); the other members are CPU-model facts outside those MSRs.
 */
export interface VmxCapsView {
  msr(index: number): readonly [number, number];
  /** MAXPHYADDR (CPUID.80000008H:EAX[7:0]), 36..52. */
  readonly physicalAddressWidth: number;
  /** Linear-address width (48, or 57 with 5-level paging). */
  readonly linearAddressWidth: number;
  /** Bits of IA32_DEBUGCTL that are not reserved (low half; the high half is reserved). */
  readonly debugctlValid: number;
}

/** Processor state at the VMLAUNCH/VMRESUME (not in the VMCS). */
export interface EntryProcessorState {
  readonly instruction: 'vmlaunch' | 'vmresume';
  /** Current-VMCS pointer (physical address), or -1 if there is none (FFFFFFFF_FFFFFFFFH). */
  readonly currentVmcs: number;
  /** Launch state of the current VMCS ("Launch state" in "VMCS Status"). */
  readonly launchState: 'clear' | 'launched';
  /** The VMCS was launched before a VMXOFF/VMXON pair (VMRESUME then fails with error 6). */
  readonly launchedBeforeVmxoff?: boolean;
  /** Blocking by MOV SS is in effect (the VMLAUNCH/VMRESUME follows a MOV SS / POP SS). */
  readonly blockedByMovSs: boolean;
  /** IA32_EFER.LMA of the logical processor doing the entry. */
  readonly ia32eMode: boolean;
  /** vmxray never runs in SMM (no dual-monitor treatment); present for the SMM-dependent checks. */
  readonly inSmm: boolean;
  /** Would WRMSR of (index, hi:lo) at CPL 0 raise #GP? ("Loading MSRs") */
  wrmsrFaults(index: number, lo: number, hi: number): boolean;
}

// ---- decoded view --------------------------------------------------------------------------

export interface U64 { readonly lo: number; readonly hi: number }

export interface SegView {
  readonly name: string;
  /** Field encodings of this register (for `reads`). */
  readonly sel: number;
  readonly rpl: number;
  readonly ti: number;
  readonly base: U64;
  readonly limit: number;
  readonly ar: number;
  readonly type: number;
  readonly s: number;
  readonly dpl: number;
  readonly p: number;
  readonly avl: number;
  readonly l: number;
  readonly db: number;
  readonly g: number;
  readonly unusable: boolean;
  readonly usable: boolean;
}

export interface AllowedCtl { readonly allowed0: number; readonly allowed1: number }

export interface CapsDecoded {
  readonly revision: number;
  /** IA32_VMX_BASIC[48]: physical addresses of VMX structures limited to 32 bits. */
  readonly addr32: boolean;
  /** IA32_VMX_BASIC[55]: TRUE_ capability MSRs are used. */
  readonly trueCtls: boolean;
  /** IA32_VMX_BASIC[56]: VM entry does not check the deliver-error-code bit against the vector. */
  readonly noErrorCodeCheck: boolean;
  readonly pin: AllowedCtl; readonly proc: AllowedCtl; readonly proc2: AllowedCtl;
  readonly exit: AllowedCtl; readonly entry: AllowedCtl;
  readonly cr0Fixed0: U64; readonly cr0Fixed1: U64; readonly cr4Fixed0: U64; readonly cr4Fixed1: U64;
  /** IA32_VMX_MISC */
  readonly activityHlt: boolean; readonly activityShutdown: boolean; readonly activityWaitForSipi: boolean;
  readonly cr3TargetCount: number;
  /** Recommended maximum number of MSRs in each MSR list: 512 * (MISC[27:25] + 1). */
  readonly msrListMax: number;
  /** IA32_VMX_MISC[30]: VM entry allows an instruction length of 0 for software events. */
  readonly entryInstrLenZero: boolean;
  /** IA32_VMX_EPT_VPID_CAP */
  readonly eptUc: boolean; readonly eptWb: boolean; readonly eptWalk4: boolean; readonly eptWalk5: boolean;
  readonly eptAd: boolean; readonly eptSss: boolean;
  readonly physWidth: number;
  readonly linWidth: number;
  readonly debugctlValid: number;
}

export interface EventInjection {
  readonly raw: number;
  readonly valid: boolean;
  readonly vector: number;
  /** Interruption type, bits 10:8 (0 external interrupt, 2 NMI, 3 hardware exception, 4 software interrupt, 5 privileged software exception, 6 software exception, 7 other event). */
  readonly type: number;
  readonly deliverErrorCode: boolean;
  /** Bits 30:12. */
  readonly reserved: number;
  readonly errorCode: number;
  readonly instructionLength: number;
}

export interface MsrEntry {
  /** 1-based position in the MSR-load area (the exit qualification of a failure). */
  readonly index: number;
  readonly address: number;
  readonly msr: number;
  /** Bits 63:32 of the entry (reserved). */
  readonly reserved: number;
  readonly lo: number;
  readonly hi: number;
}

export interface EntryView {
  readonly r: VmcsReader;
  readonly cpu: EntryProcessorState;
  readonly mem: PhysReader;
  readonly caps: CapsDecoded;
  readonly pin: {
    readonly raw: number; readonly externalInterruptExiting: boolean; readonly nmiExiting: boolean;
    readonly virtualNmis: boolean; readonly preemptionTimer: boolean; readonly postedInterrupts: boolean;
  };
  readonly proc: {
    readonly raw: number; readonly interruptWindowExiting: boolean; readonly useTprShadow: boolean;
    readonly nmiWindowExiting: boolean; readonly useIoBitmaps: boolean; readonly monitorTrapFlag: boolean;
    readonly useMsrBitmaps: boolean; readonly activateSecondary: boolean; readonly activateTertiary: boolean;
  };
  /** Secondary controls as the processor uses them: 0 when "activate secondary controls" is 0. */
  readonly proc2: {
    readonly raw: number; readonly written: number; readonly virtualizeApicAccesses: boolean; readonly enableEpt: boolean;
    readonly virtualizeX2apicMode: boolean; readonly enableVpid: boolean; readonly unrestrictedGuest: boolean;
    readonly apicRegisterVirtualization: boolean; readonly virtualInterruptDelivery: boolean;
    readonly enableVmFunctions: boolean; readonly vmcsShadowing: boolean; readonly enablePml: boolean;
  };
  readonly exit: {
    readonly raw: number; readonly hostAddressSpaceSize: boolean; readonly loadPerfGlobalCtrl: boolean;
    readonly acknowledgeInterruptOnExit: boolean; readonly loadPat: boolean; readonly loadEfer: boolean;
    readonly savePreemptionTimer: boolean;
    readonly msrStoreCount: number; readonly msrStoreAddress: U64;
    readonly msrLoadCount: number; readonly msrLoadAddress: U64;
  };
  readonly entry: {
    readonly raw: number; readonly loadDebugControls: boolean; readonly ia32eModeGuest: boolean;
    readonly entryToSmm: boolean; readonly deactivateDualMonitor: boolean; readonly loadPerfGlobalCtrl: boolean;
    readonly loadPat: boolean; readonly loadEfer: boolean;
    readonly msrLoadCount: number; readonly msrLoadAddress: U64;
  };
  readonly event: EventInjection;
  readonly ctl: {
    readonly cr3TargetCount: number;
    readonly ioBitmapA: U64; readonly ioBitmapB: U64; readonly msrBitmaps: U64;
    readonly virtualApicAddress: U64; readonly tprThreshold: number;
    readonly vpid: number; readonly eptp: U64;
  };
  readonly host: {
    readonly cr0: U64; readonly cr3: U64; readonly cr4: U64;
    readonly es: number; readonly cs: number; readonly ss: number; readonly ds: number;
    readonly fs: number; readonly gs: number; readonly tr: number;
    readonly fsBase: U64; readonly gsBase: U64; readonly trBase: U64; readonly gdtrBase: U64; readonly idtrBase: U64;
    readonly sysenterEsp: U64; readonly sysenterEip: U64;
    readonly pat: U64; readonly efer: U64; readonly perfGlobalCtrl: U64;
    readonly rip: U64;
  };
  readonly guest: {
    readonly cr0: U64; readonly cr3: U64; readonly cr4: U64; readonly dr7: U64;
    readonly debugctl: U64; readonly sysenterEsp: U64; readonly sysenterEip: U64;
    readonly perfGlobalCtrl: U64; readonly pat: U64; readonly efer: U64;
    readonly es: SegView; readonly cs: SegView; readonly ss: SegView; readonly ds: SegView;
    readonly fs: SegView; readonly gs: SegView; readonly ldtr: SegView; readonly tr: SegView;
    readonly gdtrBase: U64; readonly gdtrLimit: number; readonly idtrBase: U64; readonly idtrLimit: number;
    readonly rip: U64; readonly rflags: U64;
    readonly activity: number; readonly interruptibility: number; readonly pendingDbg: U64;
    readonly linkPointer: U64;
    /** RFLAGS.VM in the RFLAGS field: the guest will be in virtual-8086 mode. */
    readonly v86: boolean;
    /** CR0.PE in the CR0 field. */
    readonly pe: boolean;
    /** CR0.PG = 1, CR4.PAE = 1 and "IA-32e mode guest" = 0: the guest uses PAE paging. */
    readonly paePaging: boolean;
  };
  /** The four PDPTEs the entry would use (VMCS fields with EPT, memory at guest CR3 without); only meaningful when guest.paePaging. */
  pdpte(i: number): U64;
  /** Where pdpte() comes from, for messages. */
  pdpteSource(i: number): string;
  /** The first 32 bits of the structure the VMCS link pointer references. */
  linkPointerHeader(): number;
  /** The i-th (1-based) entry of the VM-entry MSR-load area. */
  msrLoadEntry(i: number): MsrEntry;
}

// ---- helpers used by the rules -------------------------------------------------------------

/** Bits 63:N of a 64-bit value are 0 (N = width, 32..64). */
export function withinWidth(x: U64, width: number): boolean {
  if (width >= 64) return true;
  if (width <= 32) return x.hi === 0 && (width === 32 || (x.lo >>> width) === 0);
  return (x.hi >>> (width - 32)) === 0;
}

/** Canonical with respect to a linear-address width (48 or 57): bits 63:width-1 all equal. */
export function canonical(x: U64, linWidth: number): boolean {
  const top = (x.hi | 0) >> (linWidth - 1 - 32);
  return top === 0 || top === -1;
}

/** As a Number (exact below 2^53; larger values are only compared against widths ≤ 52). */
export function num(x: U64): number { return x.hi * 4294967296 + x.lo; }

export function isOnes(x: U64): boolean { return x.lo === 0xffffffff && x.hi === 0xffffffff; }

/** Every byte of a PAT value encodes a valid memory type: 0 (UC), 1 (WC), 4 (WT), 5 (WP), 6 (WB), 7 (UC-). */
export function patValid(x: U64): boolean { return patBadEntry(x) < 0; }
export function patBadEntry(x: U64): number {
  for (let i = 0; i < 8; i++) {
    const b = ((i < 4 ? x.lo : x.hi) >>> ((i & 3) * 8)) & 0xff;
    if (b > 7 || b === 2 || b === 3) return i;
  }
  return -1;
}

/** Bits of the value that the fixed-bit MSRs forbid: fixed0 bits that are 0, fixed1-clear bits that are 1. */
export function fixedViolation(x: U64, f0: U64, f1: U64, ignoreLo = 0): { must1: U64; must0: U64 } {
  return {
    must1: { lo: (f0.lo & ~x.lo & ~ignoreLo) >>> 0, hi: (f0.hi & ~x.hi) >>> 0 },
    must0: { lo: (x.lo & ~f1.lo & ~ignoreLo) >>> 0, hi: (x.hi & ~f1.hi) >>> 0 },
  };
}

export const isZero = (x: U64): boolean => x.lo === 0 && x.hi === 0;

// ---- building ----------------------------------------------------------------------------

function allowed(m: readonly [number, number]): AllowedCtl { return { allowed0: m[0] >>> 0, allowed1: m[1] >>> 0 }; }
function u64(m: readonly [number, number]): U64 { return { lo: m[0] >>> 0, hi: m[1] >>> 0 }; }

/** Decode the capability model (cacheable: it depends only on the caps). */
export function decodeCaps(c: VmxCapsView): CapsDecoded {
  const basic = c.msr(IA32_VMX_BASIC);
  const trueCtls = ((basic[1] >>> 23) & 1) === 1;
  const misc = c.msr(IA32_VMX_MISC)[0] >>> 0;
  const ept = c.msr(IA32_VMX_EPT_VPID_CAP)[0] >>> 0;
  const addr32 = ((basic[1] >>> 16) & 1) === 1;
  return {
    revision: basic[0] & 0x7fffffff,
    addr32,
    trueCtls,
    noErrorCodeCheck: ((basic[1] >>> 24) & 1) === 1,
    pin: allowed(c.msr(trueCtls ? IA32_VMX_TRUE_PINBASED_CTLS : IA32_VMX_PINBASED_CTLS)),
    proc: allowed(c.msr(trueCtls ? IA32_VMX_TRUE_PROCBASED_CTLS : IA32_VMX_PROCBASED_CTLS)),
    // The secondary controls have no TRUE_ MSR and no default1 bits.
    proc2: allowed(c.msr(IA32_VMX_PROCBASED_CTLS2)),
    exit: allowed(c.msr(trueCtls ? IA32_VMX_TRUE_EXIT_CTLS : IA32_VMX_EXIT_CTLS)),
    entry: allowed(c.msr(trueCtls ? IA32_VMX_TRUE_ENTRY_CTLS : IA32_VMX_ENTRY_CTLS)),
    cr0Fixed0: u64(c.msr(IA32_VMX_CR0_FIXED0)), cr0Fixed1: u64(c.msr(IA32_VMX_CR0_FIXED1)),
    cr4Fixed0: u64(c.msr(IA32_VMX_CR4_FIXED0)), cr4Fixed1: u64(c.msr(IA32_VMX_CR4_FIXED1)),
    activityHlt: ((misc >>> 6) & 1) === 1,
    activityShutdown: ((misc >>> 7) & 1) === 1,
    activityWaitForSipi: ((misc >>> 8) & 1) === 1,
    cr3TargetCount: (misc >>> 16) & 0x1ff,
    msrListMax: 512 * (((misc >>> 25) & 7) + 1),
    entryInstrLenZero: ((misc >>> 30) & 1) === 1,
    eptUc: ((ept >>> 8) & 1) === 1, eptWb: ((ept >>> 14) & 1) === 1,
    eptWalk4: ((ept >>> 6) & 1) === 1, eptWalk5: ((ept >>> 7) & 1) === 1,
    eptAd: ((ept >>> 21) & 1) === 1, eptSss: ((ept >>> 23) & 1) === 1,
    physWidth: c.physicalAddressWidth,
    linWidth: c.linearAddressWidth,
    debugctlValid: c.debugctlValid >>> 0,
  };
}

const SEGS = {
  es: [F.GUEST_ES_SELECTOR, F.GUEST_ES_BASE, F.GUEST_ES_LIMIT, F.GUEST_ES_ACCESS_RIGHTS],
  cs: [F.GUEST_CS_SELECTOR, F.GUEST_CS_BASE, F.GUEST_CS_LIMIT, F.GUEST_CS_ACCESS_RIGHTS],
  ss: [F.GUEST_SS_SELECTOR, F.GUEST_SS_BASE, F.GUEST_SS_LIMIT, F.GUEST_SS_ACCESS_RIGHTS],
  ds: [F.GUEST_DS_SELECTOR, F.GUEST_DS_BASE, F.GUEST_DS_LIMIT, F.GUEST_DS_ACCESS_RIGHTS],
  fs: [F.GUEST_FS_SELECTOR, F.GUEST_FS_BASE, F.GUEST_FS_LIMIT, F.GUEST_FS_ACCESS_RIGHTS],
  gs: [F.GUEST_GS_SELECTOR, F.GUEST_GS_BASE, F.GUEST_GS_LIMIT, F.GUEST_GS_ACCESS_RIGHTS],
  ldtr: [F.GUEST_LDTR_SELECTOR, F.GUEST_LDTR_BASE, F.GUEST_LDTR_LIMIT, F.GUEST_LDTR_ACCESS_RIGHTS],
  tr: [F.GUEST_TR_SELECTOR, F.GUEST_TR_BASE, F.GUEST_TR_LIMIT, F.GUEST_TR_ACCESS_RIGHTS],
} as const;
export type SegName = keyof typeof SEGS;
/** [selector, base, limit, access rights] encodings of each guest segment register. */
export const GUEST_SEG_FIELDS: Readonly<Record<SegName, readonly [number, number, number, number]>> = SEGS;

// The view is a set of objects of fixed shape, allocated once per EntryViewImpl and refilled for
// each VM entry (entry.ts keeps one per CPU): no allocation per VMLAUNCH/VMRESUME, and every
// property read by a rule is a monomorphic load. Fields the rules see as readonly are written
// only by fill().

type Mut<T> = { -readonly [K in keyof T]: T[K] };

class U64Box implements U64 {
  lo = 0;
  hi = 0;
}

function q(r: VmcsReader, enc: number, x: U64Box): void {
  x.lo = r.read(enc) >>> 0;
  x.hi = r.readHi(enc) >>> 0;
}

class SegBox implements SegView {
  sel = 0; rpl = 0; ti = 0;
  readonly base = new U64Box();
  limit = 0; ar = 0; type = 0; s = 0; dpl = 0; p = 0; avl = 0; l = 0; db = 0; g = 0;
  unusable = false; usable = true;
  constructor(readonly name: string, private readonly f: readonly [number, number, number, number]) {}
  fill(r: VmcsReader): void {
    const f = this.f;
    const sel = r.read(f[0]) & 0xffff;
    const ar = r.read(f[3]) >>> 0;
    const unusable = ((ar >>> 16) & 1) === 1;
    this.sel = sel; this.rpl = sel & 3; this.ti = (sel >>> 2) & 1;
    q(r, f[1], this.base);
    this.limit = r.read(f[2]) >>> 0; this.ar = ar;
    this.type = ar & 15; this.s = (ar >>> 4) & 1; this.dpl = (ar >>> 5) & 3; this.p = (ar >>> 7) & 1; this.avl = (ar >>> 12) & 1;
    this.l = (ar >>> 13) & 1; this.db = (ar >>> 14) & 1; this.g = (ar >>> 15) & 1; this.unusable = unusable; this.usable = !unusable;
  }
}

const b = (x: number, m: number): boolean => (x & m) !== 0;
const PDPTE_FIELDS = [F.GUEST_PDPTE0, F.GUEST_PDPTE1, F.GUEST_PDPTE2, F.GUEST_PDPTE3] as const;

const NO_CPU: EntryProcessorState = {
  instruction: 'vmlaunch', currentVmcs: -1, launchState: 'clear', blockedByMovSs: false, ia32eMode: false, inSmm: false,
  wrmsrFaults: () => false,
};
const NO_READER: VmcsReader = { read: () => 0, readHi: () => 0 };
const NO_MEM: PhysReader = { read32: () => 0 };

/**
 * An EntryView whose objects are made once and refilled by `fill` (one per CPU in entry.ts; a
 * fresh one per call in buildView). A view is valid until its next fill.
 */
export class EntryViewImpl implements EntryView {
  r: VmcsReader = NO_READER;
  cpu: EntryProcessorState = NO_CPU;
  mem: PhysReader = NO_MEM;
  caps!: CapsDecoded;
  readonly pin: Mut<EntryView['pin']> = {
    raw: 0, externalInterruptExiting: false, nmiExiting: false, virtualNmis: false, preemptionTimer: false, postedInterrupts: false,
  };
  readonly proc: Mut<EntryView['proc']> = {
    raw: 0, interruptWindowExiting: false, useTprShadow: false, nmiWindowExiting: false, useIoBitmaps: false,
    monitorTrapFlag: false, useMsrBitmaps: false, activateSecondary: false, activateTertiary: false,
  };
  readonly proc2: Mut<EntryView['proc2']> = {
    raw: 0, written: 0, virtualizeApicAccesses: false, enableEpt: false, virtualizeX2apicMode: false, enableVpid: false,
    unrestrictedGuest: false, apicRegisterVirtualization: false, virtualInterruptDelivery: false, enableVmFunctions: false,
    vmcsShadowing: false, enablePml: false,
  };
  readonly exit: Mut<EntryView['exit']> & { msrStoreAddress: U64Box; msrLoadAddress: U64Box } = {
    raw: 0, hostAddressSpaceSize: false, loadPerfGlobalCtrl: false, acknowledgeInterruptOnExit: false, loadPat: false,
    loadEfer: false, savePreemptionTimer: false,
    msrStoreCount: 0, msrStoreAddress: new U64Box(), msrLoadCount: 0, msrLoadAddress: new U64Box(),
  };
  readonly entry: Mut<EntryView['entry']> & { msrLoadAddress: U64Box } = {
    raw: 0, loadDebugControls: false, ia32eModeGuest: false, entryToSmm: false, deactivateDualMonitor: false,
    loadPerfGlobalCtrl: false, loadPat: false, loadEfer: false, msrLoadCount: 0, msrLoadAddress: new U64Box(),
  };
  readonly event: Mut<EventInjection> = {
    raw: 0, valid: false, vector: 0, type: 0, deliverErrorCode: false, reserved: 0, errorCode: 0, instructionLength: 0,
  };
  readonly ctl = {
    cr3TargetCount: 0,
    ioBitmapA: new U64Box(), ioBitmapB: new U64Box(), msrBitmaps: new U64Box(),
    virtualApicAddress: new U64Box(), tprThreshold: 0,
    vpid: 0, eptp: new U64Box(),
  };
  readonly host = {
    cr0: new U64Box(), cr3: new U64Box(), cr4: new U64Box(),
    es: 0, cs: 0, ss: 0, ds: 0, fs: 0, gs: 0, tr: 0,
    fsBase: new U64Box(), gsBase: new U64Box(), trBase: new U64Box(), gdtrBase: new U64Box(), idtrBase: new U64Box(),
    sysenterEsp: new U64Box(), sysenterEip: new U64Box(),
    pat: new U64Box(), efer: new U64Box(), perfGlobalCtrl: new U64Box(),
    rip: new U64Box(),
  };
  readonly guest = {
    cr0: new U64Box(), cr3: new U64Box(), cr4: new U64Box(), dr7: new U64Box(),
    debugctl: new U64Box(), sysenterEsp: new U64Box(), sysenterEip: new U64Box(),
    perfGlobalCtrl: new U64Box(), pat: new U64Box(), efer: new U64Box(),
    es: new SegBox('ES', SEGS.es), cs: new SegBox('CS', SEGS.cs), ss: new SegBox('SS', SEGS.ss), ds: new SegBox('DS', SEGS.ds),
    fs: new SegBox('FS', SEGS.fs), gs: new SegBox('GS', SEGS.gs), ldtr: new SegBox('LDTR', SEGS.ldtr), tr: new SegBox('TR', SEGS.tr),
    gdtrBase: new U64Box(), gdtrLimit: 0, idtrBase: new U64Box(), idtrLimit: 0,
    rip: new U64Box(), rflags: new U64Box(),
    activity: 0, interruptibility: 0, pendingDbg: new U64Box(),
    linkPointer: new U64Box(),
    v86: false, pe: false, paePaging: false,
  };
  /** The link-pointer header, read at most once per fill (-1: not read yet). */
  private linkHeader = -1;

  /** Decode the VMCS, the processor state and the capabilities for one VM entry. */
  fill(r: VmcsReader, caps: CapsDecoded, cpu: EntryProcessorState, mem: PhysReader): this {
    this.r = r; this.cpu = cpu; this.mem = mem; this.caps = caps;
    this.linkHeader = -1;
    const pinRaw = r.read(F.PIN_BASED_VM_EXECUTION_CONTROLS) >>> 0;
    const procRaw = r.read(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) >>> 0;
    const proc2Written = r.read(F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) >>> 0;
    // "If the 'activate secondary controls' primary processor-based VM-execution control is 0, ...
    // the logical processor operates as if all the secondary processor-based VM-execution
    // controls were 0." (Checks on VM-Execution Control Fields)
    const proc2Raw = b(procRaw, PROC.ACTIVATE_SECONDARY_CONTROLS) ? proc2Written : 0;
    const exitRaw = r.read(F.VM_EXIT_CONTROLS) >>> 0;
    const entryRaw = r.read(F.VM_ENTRY_CONTROLS) >>> 0;
    const info = r.read(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD) >>> 0;
    const ia32e = b(entryRaw, ENTRY.IA32E_MODE_GUEST);

    const pin = this.pin;
    pin.raw = pinRaw;
    pin.externalInterruptExiting = b(pinRaw, PIN.EXTERNAL_INTERRUPT_EXITING);
    pin.nmiExiting = b(pinRaw, PIN.NMI_EXITING);
    pin.virtualNmis = b(pinRaw, PIN.VIRTUAL_NMIS);
    pin.preemptionTimer = b(pinRaw, PIN.ACTIVATE_VMX_PREEMPTION_TIMER);
    pin.postedInterrupts = b(pinRaw, PIN.PROCESS_POSTED_INTERRUPTS);

    const proc = this.proc;
    proc.raw = procRaw;
    proc.interruptWindowExiting = b(procRaw, PROC.INTERRUPT_WINDOW_EXITING);
    proc.useTprShadow = b(procRaw, PROC.USE_TPR_SHADOW);
    proc.nmiWindowExiting = b(procRaw, PROC.NMI_WINDOW_EXITING);
    proc.useIoBitmaps = b(procRaw, PROC.USE_IO_BITMAPS);
    proc.monitorTrapFlag = b(procRaw, PROC.MONITOR_TRAP_FLAG);
    proc.useMsrBitmaps = b(procRaw, PROC.USE_MSR_BITMAPS);
    proc.activateSecondary = b(procRaw, PROC.ACTIVATE_SECONDARY_CONTROLS);
    proc.activateTertiary = b(procRaw, PROC.ACTIVATE_TERTIARY_CONTROLS);

    const proc2 = this.proc2;
    proc2.raw = proc2Raw; proc2.written = proc2Written;
    proc2.virtualizeApicAccesses = b(proc2Raw, PROC2.VIRTUALIZE_APIC_ACCESSES);
    proc2.enableEpt = b(proc2Raw, PROC2.ENABLE_EPT);
    proc2.virtualizeX2apicMode = b(proc2Raw, PROC2.VIRTUALIZE_X2APIC_MODE);
    proc2.enableVpid = b(proc2Raw, PROC2.ENABLE_VPID);
    proc2.unrestrictedGuest = b(proc2Raw, PROC2.UNRESTRICTED_GUEST);
    proc2.apicRegisterVirtualization = b(proc2Raw, PROC2.APIC_REGISTER_VIRTUALIZATION);
    proc2.virtualInterruptDelivery = b(proc2Raw, PROC2.VIRTUAL_INTERRUPT_DELIVERY);
    proc2.enableVmFunctions = b(proc2Raw, PROC2.ENABLE_VM_FUNCTIONS);
    proc2.vmcsShadowing = b(proc2Raw, PROC2.VMCS_SHADOWING);
    proc2.enablePml = b(proc2Raw, PROC2.ENABLE_PML);

    const exit = this.exit;
    exit.raw = exitRaw;
    exit.hostAddressSpaceSize = b(exitRaw, EXIT.HOST_ADDRESS_SPACE_SIZE);
    exit.loadPerfGlobalCtrl = b(exitRaw, EXIT.LOAD_IA32_PERF_GLOBAL_CTRL);
    exit.acknowledgeInterruptOnExit = b(exitRaw, EXIT.ACKNOWLEDGE_INTERRUPT_ON_EXIT);
    exit.loadPat = b(exitRaw, EXIT.LOAD_IA32_PAT);
    exit.loadEfer = b(exitRaw, EXIT.LOAD_IA32_EFER);
    exit.savePreemptionTimer = b(exitRaw, EXIT.SAVE_VMX_PREEMPTION_TIMER_VALUE);
    exit.msrStoreCount = r.read(F.VM_EXIT_MSR_STORE_COUNT) >>> 0; q(r, F.VM_EXIT_MSR_STORE_ADDRESS, exit.msrStoreAddress);
    exit.msrLoadCount = r.read(F.VM_EXIT_MSR_LOAD_COUNT) >>> 0; q(r, F.VM_EXIT_MSR_LOAD_ADDRESS, exit.msrLoadAddress);

    const entry = this.entry;
    entry.raw = entryRaw;
    entry.loadDebugControls = b(entryRaw, ENTRY.LOAD_DEBUG_CONTROLS);
    entry.ia32eModeGuest = ia32e;
    entry.entryToSmm = b(entryRaw, ENTRY.ENTRY_TO_SMM);
    entry.deactivateDualMonitor = b(entryRaw, ENTRY.DEACTIVATE_DUAL_MONITOR_TREATMENT);
    entry.loadPerfGlobalCtrl = b(entryRaw, ENTRY.LOAD_IA32_PERF_GLOBAL_CTRL);
    entry.loadPat = b(entryRaw, ENTRY.LOAD_IA32_PAT);
    entry.loadEfer = b(entryRaw, ENTRY.LOAD_IA32_EFER);
    entry.msrLoadCount = r.read(F.VM_ENTRY_MSR_LOAD_COUNT) >>> 0; q(r, F.VM_ENTRY_MSR_LOAD_ADDRESS, entry.msrLoadAddress);

    const event = this.event;
    event.raw = info; event.valid = (info >>> 31) === 1; event.vector = info & 0xff; event.type = (info >>> 8) & 7;
    event.deliverErrorCode = ((info >>> 11) & 1) === 1; event.reserved = (info >>> 12) & 0x7ffff;
    event.errorCode = r.read(F.VM_ENTRY_EXCEPTION_ERROR_CODE) >>> 0;
    event.instructionLength = r.read(F.VM_ENTRY_INSTRUCTION_LENGTH) >>> 0;

    const ctl = this.ctl;
    ctl.cr3TargetCount = r.read(F.CR3_TARGET_COUNT) >>> 0;
    q(r, F.ADDRESS_OF_IO_BITMAP_A, ctl.ioBitmapA); q(r, F.ADDRESS_OF_IO_BITMAP_B, ctl.ioBitmapB);
    q(r, F.ADDRESS_OF_MSR_BITMAPS, ctl.msrBitmaps);
    q(r, F.VIRTUAL_APIC_ADDRESS, ctl.virtualApicAddress); ctl.tprThreshold = r.read(F.TPR_THRESHOLD) >>> 0;
    ctl.vpid = r.read(F.VIRTUAL_PROCESSOR_IDENTIFIER) & 0xffff; q(r, F.EPT_POINTER, ctl.eptp);

    const h = this.host;
    q(r, F.HOST_CR0, h.cr0); q(r, F.HOST_CR3, h.cr3); q(r, F.HOST_CR4, h.cr4);
    h.es = r.read(F.HOST_ES_SELECTOR) & 0xffff; h.cs = r.read(F.HOST_CS_SELECTOR) & 0xffff;
    h.ss = r.read(F.HOST_SS_SELECTOR) & 0xffff; h.ds = r.read(F.HOST_DS_SELECTOR) & 0xffff;
    h.fs = r.read(F.HOST_FS_SELECTOR) & 0xffff; h.gs = r.read(F.HOST_GS_SELECTOR) & 0xffff;
    h.tr = r.read(F.HOST_TR_SELECTOR) & 0xffff;
    q(r, F.HOST_FS_BASE, h.fsBase); q(r, F.HOST_GS_BASE, h.gsBase); q(r, F.HOST_TR_BASE, h.trBase);
    q(r, F.HOST_GDTR_BASE, h.gdtrBase); q(r, F.HOST_IDTR_BASE, h.idtrBase);
    q(r, F.HOST_IA32_SYSENTER_ESP, h.sysenterEsp); q(r, F.HOST_IA32_SYSENTER_EIP, h.sysenterEip);
    q(r, F.HOST_IA32_PAT, h.pat); q(r, F.HOST_IA32_EFER, h.efer); q(r, F.HOST_IA32_PERF_GLOBAL_CTRL, h.perfGlobalCtrl);
    q(r, F.HOST_RIP, h.rip);

    const g = this.guest;
    q(r, F.GUEST_CR0, g.cr0); q(r, F.GUEST_CR3, g.cr3); q(r, F.GUEST_CR4, g.cr4); q(r, F.GUEST_DR7, g.dr7);
    q(r, F.GUEST_IA32_DEBUGCTL, g.debugctl); q(r, F.GUEST_IA32_SYSENTER_ESP, g.sysenterEsp);
    q(r, F.GUEST_IA32_SYSENTER_EIP, g.sysenterEip); q(r, F.GUEST_IA32_PERF_GLOBAL_CTRL, g.perfGlobalCtrl);
    q(r, F.GUEST_IA32_PAT, g.pat); q(r, F.GUEST_IA32_EFER, g.efer);
    g.es.fill(r); g.cs.fill(r); g.ss.fill(r); g.ds.fill(r); g.fs.fill(r); g.gs.fill(r); g.ldtr.fill(r); g.tr.fill(r);
    q(r, F.GUEST_GDTR_BASE, g.gdtrBase); g.gdtrLimit = r.read(F.GUEST_GDTR_LIMIT) >>> 0;
    q(r, F.GUEST_IDTR_BASE, g.idtrBase); g.idtrLimit = r.read(F.GUEST_IDTR_LIMIT) >>> 0;
    q(r, F.GUEST_RIP, g.rip); q(r, F.GUEST_RFLAGS, g.rflags);
    g.activity = r.read(F.GUEST_ACTIVITY_STATE) >>> 0;
    g.interruptibility = r.read(F.GUEST_INTERRUPTIBILITY_STATE) >>> 0;
    q(r, F.GUEST_PENDING_DEBUG_EXCEPTIONS, g.pendingDbg);
    q(r, F.VMCS_LINK_POINTER, g.linkPointer);
    g.v86 = b(g.rflags.lo, 1 << 17);
    g.pe = b(g.cr0.lo, 1);
    g.paePaging = b(g.cr0.lo, 0x80000000) && b(g.cr4.lo, 0x20) && !ia32e;
    return this;
  }

  pdpte(i: number): U64 {
    if (this.proc2.enableEpt) return { lo: this.r.read(PDPTE_FIELDS[i]) >>> 0, hi: this.r.readHi(PDPTE_FIELDS[i]) >>> 0 };
    // Without EPT the PDPTEs come from the guest-physical (= physical) address in CR3 bits 31:5
    // ("Checks on Guest Page-Directory-Pointer-Table Entries"; PAE paging, "PDPTE Registers").
    const pa = (this.guest.cr3.lo & 0xffffffe0) >>> 0;
    return { lo: this.mem.read32(pa + i * 8) >>> 0, hi: this.mem.read32(pa + i * 8 + 4) >>> 0 };
  }
  pdpteSource(i: number): string {
    if (this.proc2.enableEpt) return `guest PDPTE${i} field`;
    const cr3 = this.guest.cr3.lo;
    return `PDPTE${i} at physical ${hex((cr3 & 0xffffffe0) + i * 8)} (guest CR3 ${hex(cr3)}, no EPT)`;
  }
  linkPointerHeader(): number {
    if (this.linkHeader < 0) this.linkHeader = this.mem.read32(num(this.guest.linkPointer)) >>> 0;
    return this.linkHeader;
  }
  msrLoadEntry(i: number): MsrEntry {
    const address = num(this.entry.msrLoadAddress) + (i - 1) * 16;
    const mem = this.mem;
    return {
      index: i, address, msr: mem.read32(address) >>> 0, reserved: mem.read32(address + 4) >>> 0,
      lo: mem.read32(address + 8) >>> 0, hi: mem.read32(address + 12) >>> 0,
    };
  }
}

/** Build the view for one VM entry (a fresh one). `caps` may be a CapsDecoded already (decodeCaps is pure). */
export function buildView(r: VmcsReader, capsIn: VmxCapsView | CapsDecoded, cpu: EntryProcessorState, mem: PhysReader): EntryView {
  const caps = 'msr' in capsIn ? decodeCaps(capsIn) : capsIn;
  return new EntryViewImpl().fill(r, caps, cpu, mem);
}

function hex(x: number): string { return '0x' + (x >>> 0).toString(16); }
