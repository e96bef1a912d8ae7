import type { PhysBus } from '../memory/physbus.js';
import type { CPU } from '../cpu/cpu.js';
import { VmExit } from '../cpu/fault.js';
import { MAXPHYADDR, translateWith, type PagingBus } from '../cpu/mmu.js';
import { CR0_PG, CR4_PAE, EFER_LMA } from '../cpu/regs.js';
import { tlbInvept } from './tlb-contexts.js';
import { REASON } from './exit-reasons.js';

/**
 * Extended page tables (SDM Vol. 3C, "VMX Support for Address Translation"): the walk from a
 * guest-physical address to a host-physical address, its A/D flags, EPT violations and EPT
 * misconfigurations, and the nested translation guest-linear → guest-physical → host-physical
 * that the CPU uses in VMX non-root operation while "enable EPT" is 1.
 *
 * - `eptWalk` is the pure walker over physical memory (no allocation, no BigInt; entries are read
 *   as two 32-bit halves). It reports through a reusable `EptWalk` record.
 * - `eptTranslate` is the convenient form (one result object per call) for tests and debuggers.
 * - `EptContext` is what `cpu.ept` holds while the guest runs with EPT; `translateNested` is the
 *   CPU's slow path (TLB miss) in that case; it throws `VmExit(48|49)`.
 *
 * Physical-address width: EPT uses the CPU's MAXPHYADDR (src/cpu/mmu.ts, also CPUID 80000008H);
 * bits 51:MAXPHYADDR of every EPT entry are reserved ("EPT Misconfigurations").
 * (Never read MAXPHYADDR at module top level here: mmu.ts and this module import each other's
 * functions, and only call-time reads are safe in every module load order.)
 */

export const EXIT_REASON_EPT_VIOLATION = REASON.EPT_VIOLATION;
export const EXIT_REASON_EPT_MISCONFIGURATION = REASON.EPT_MISCONFIGURATION;

// ------------------------------------------------------------------ capabilities

/**
 * The EPT bits of IA32_VMX_EPT_VPID_CAP (MSR 48CH, low dword) that this walker implements
 * (SDM Vol. 3D, "VPID and EPT Capabilities"). The capability-MSR owner should OR these in.
 * Not advertised: bit 22 (advanced VM-exit information for EPT violations: qualification bits
 * 9-11 stay 0), 5-level EPT (bit 7), mode-based execute control (EPT bit 10 is ignored),
 * supervisor shadow stacks.
 */
export const EPT_CAP = {
  EXECUTE_ONLY: 1 << 0,
  PAGE_WALK_LENGTH_4: 1 << 6,
  MEMORY_TYPE_UC: 1 << 8,
  MEMORY_TYPE_WB: 1 << 14,
  PDE_2MB_PAGES: 1 << 16,
  PDPTE_1GB_PAGES: 1 << 17,
  INVEPT: 1 << 20,
  ACCESSED_DIRTY: 1 << 21,
  INVEPT_SINGLE_CONTEXT: 1 << 25,
  INVEPT_ALL_CONTEXT: 1 << 26,
} as const;
export const EPT_CAPABILITIES_LO = Object.values(EPT_CAP).reduce((a, b) => a | b, 0) >>> 0;

// ------------------------------------------------------------------ EPTP

/** EPTP bit 6: enable accessed and dirty flags for EPT (SDM Vol. 3C, "Extended-Page-Table Pointer (EPTP)"). */
export const EPTP_AD = 1 << 6;

/**
 * Why an EPTP value would fail VM entry (SDM Vol. 3C, "Checks on VMX Controls", the EPTP item
 * under "VM-Execution Control Fields"), or null when it is valid for this processor. INVEPT
 * single-context applies the same test ("VMfail(Invalid operand to INVEPT/INVVPID)").
 */
/** EPTP validity (one rule, shared with VM entry and INVEPT): src/vmx/caps.ts. */
export { eptpProblem } from './caps.js';

// ------------------------------------------------------------------ the walk

/** Access kinds; each equals its bit in the exit qualification ("Exit Qualification for EPT Violations", bits 2:0). */
export const EPT_READ = 1, EPT_WRITE = 2, EPT_FETCH = 4;
export type EptAccess = typeof EPT_READ | typeof EPT_WRITE | typeof EPT_FETCH;

/** Walk flags. */
export const EPTF_AD = 1;            // EPTP[6]: set A/D flags; guest paging-structure accesses count as writes
export const EPTF_PAGING = 2;        // the access is to a guest paging-structure entry (a walk or its A/D update)
export const EPTF_LINEAR = 4;        // a guest-linear address is associated with the access (qualification bit 7)
export const EPTF_NO_XONLY = 8;      // behave as if execute-only were not supported (tests; we advertise it)
export const EPTF_PEEK = 16;         // debugger look-up: never write A/D flags

/** Exit-qualification bits for EPT violations (SDM Vol. 3C, "Exit Qualification for EPT Violations"). */
export const EPTQ = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  FETCH: 1 << 2,
  READABLE: 1 << 3,
  WRITABLE: 1 << 4,
  EXECUTABLE: 1 << 5,
  LINEAR_VALID: 1 << 7,
  /** With bit 7: the access is to the translation of a linear address (clear: a guest paging-structure access). */
  LINEAR_TRANSLATION: 1 << 8,
  /** Set by the VM-exit code, not by the walk. */
  NMI_UNBLOCKING_IRET: 1 << 12,
} as const;

export const EPT_OK = 0, EPT_VIOLATION = 1, EPT_MISCONFIG = 2;

/** Misconfiguration classes (SDM Vol. 3C, "EPT Misconfigurations"). */
export const MC_WRITE_NO_READ = 1, MC_EXECUTE_ONLY = 2, MC_RESERVED = 3, MC_MEMORY_TYPE = 4;
const MC_TEXT = ['', 'write access without read access (bits 2:0 = 010b or 110b)',
  'execute-only (bits 2:0 = 100b) is not supported', 'a reserved bit is set',
  'the leaf entry\'s EPT memory type (bits 5:3) is 2, 3 or 7'];
const LEVEL_NAME = ['', 'EPT PTE', 'EPT PDE', 'EPT PDPTE', 'EPT PML4E'];

/** What one walk found; reused across walks (no allocation per walk). Entry arrays are indexed by level 4..1. */
export class EptWalk {
  /** On success: the host-physical address and the offset mask of the EPT page (0xfff, 0x1fffff, 0x3fffffff). */
  hpa = 0;
  pageMask = 0xfff;
  /** On a violation: the exit qualification (bits 0-8). */
  qualification = 0;
  /** AND of bits 2:0 over the entries read. */
  perms = 0;
  /** On a misconfiguration: the level of the offending entry (4 = PML4E .. 1 = PTE) and the class (MC_*). */
  level = 0;
  misconfig = 0;
  /** The lowest level whose entry was read (4 when the walk stopped at the PML4E). */
  lastLevel = 4;
  readonly entryAddr = new Float64Array(5);
  readonly entryLo = new Int32Array(5);
  readonly entryHi = new Int32Array(5);

  /** One line per entry read, for messages and monitor commands. */
  describe(): string {
    const out: string[] = [];
    for (let l = 4; l >= this.lastLevel; l--) {
      out.push(`${LEVEL_NAME[l]} @0x${this.entryAddr[l].toString(16)} = 0x${(this.entryHi[l] >>> 0).toString(16).padStart(8, '0')}` +
        `${(this.entryLo[l] >>> 0).toString(16).padStart(8, '0')}`);
    }
    return out.join('\n');
  }
  misconfigText(): string {
    return `${LEVEL_NAME[this.level]}: ${MC_TEXT[this.misconfig]} (SDM Vol. 3C, "EPT Misconfigurations")`;
  }
}

/**
 * Translate guest-physical `gpa` (a non-negative Number) through the EPT paging structures of
 * EPTP (lo, hi) for an access of kind `access`. Returns EPT_OK (out.hpa, out.pageMask),
 * EPT_VIOLATION (out.qualification) or EPT_MISCONFIG (out.level, out.misconfig).
 *
 * Order (SDM Vol. 3C, "Prioritization of EPT Misconfigurations and EPT Violations"): each entry is
 * read; not present (bits 2:0 = 0) → violation; present but misconfigured → misconfiguration;
 * otherwise on to the next level. At the leaf, the AND of the entries' permissions decides.
 * Only bits 47:0 of the guest-physical address are used ("EPT Translation Mechanism").
 *
 * A/D flags ("Accessed and Dirty Flags for EPT"), with EPTF_AD: A (bit 8) in every entry used, D
 * (bit 9) in the leaf for writes — and for guest paging-structure accesses, which are treated as
 * writes. Our choice: the flags are written only when the translation succeeds (the SDM leaves the
 * flags of a faulting translation unspecified); the leaf's A and D go in one write.
 */
export function eptWalk(bus: PhysBus, eptpLo: number, eptpHi: number, gpa: number, access: EptAccess,
  flags: number, out: EptWalk): number {
  const addrHi = (1 << (MAXPHYADDR - 32)) - 1;         // address bits MAXPHYADDR-1:32 in an entry's high dword
  const rsvdHi = 0xfffff & ~addrHi;                     // bits 51:MAXPHYADDR
  const gLo = gpa >>> 0, gHi = Math.floor(gpa / 4294967296) & 0xffff;
  // A guest paging-structure access is a write for EPT purposes when A/D flags are enabled
  // ("EPT Violations": "...processor accesses to guest paging-structure entries are treated as writes").
  const asWrite = access === EPT_WRITE || (flags & (EPTF_AD | EPTF_PAGING)) === (EPTF_AD | EPTF_PAGING);
  const accessBits = asWrite ? (access === EPT_WRITE ? EPT_WRITE : EPT_READ | EPT_WRITE) : access;
  let table = (eptpHi & addrHi) * 4294967296 + ((eptpLo & ~0xfff) >>> 0);
  let perms = 7;
  let level = 4;
  let lo = 0, hi = 0;
  for (;;) {
    const idx = level === 4 ? (gHi >>> 7) & 0x1ff
      : level === 3 ? ((gLo >>> 30) | (gHi << 2)) & 0x1ff
        : level === 2 ? (gLo >>> 21) & 0x1ff : (gLo >>> 12) & 0x1ff;
    const ea = table + idx * 8;
    lo = bus.read32(ea) | 0; hi = bus.read32(ea + 4) | 0;
    out.entryAddr[level] = ea; out.entryLo[level] = lo; out.entryHi[level] = hi;
    out.lastLevel = level;
    const rwx = lo & 7;
    perms &= rwx;
    if (rwx === 0) break;                                                // not present: violation below
    const leaf = level === 1 || (level !== 4 && (lo & 0x80) !== 0);
    let mc = 0;
    if ((rwx & 3) === 2) mc = MC_WRITE_NO_READ;
    else if (rwx === 4 && (flags & EPTF_NO_XONLY)) mc = MC_EXECUTE_ONLY;
    else if ((hi & rsvdHi) !== 0) mc = MC_RESERVED;
    else if (!leaf) { if (lo & 0xf8) mc = MC_RESERVED; }                 // bits 7:3 of a non-leaf entry (PML4E bit 7 too)
    else {
      if (level === 3 && (lo & 0x3ffff000)) mc = MC_RESERVED;            // 1-GByte page: bits 29:12
      else if (level === 2 && (lo & 0x1ff000)) mc = MC_RESERVED;         // 2-MByte page: bits 20:12
      else { const mt = (lo >>> 3) & 7; if (mt === 2 || mt === 3 || mt === 7) mc = MC_MEMORY_TYPE; }
    }
    if (mc !== 0) { out.level = level; out.misconfig = mc; return EPT_MISCONFIG; }
    if (leaf) {
      const mask = level === 1 ? 0xfff : level === 2 ? 0x1fffff : 0x3fffffff;
      out.pageMask = mask;
      out.hpa = (hi & addrHi) * 4294967296 + (((lo & ~mask) >>> 0) + (gLo & mask));
      break;
    }
    table = (hi & addrHi) * 4294967296 + ((lo & ~0xfff) >>> 0);
    level--;
  }
  out.perms = perms;
  const need = asWrite ? EPT_WRITE : access;
  if ((perms & need) === 0) {
    out.qualification = accessBits | (perms << 3) |
      (flags & EPTF_LINEAR ? EPTQ.LINEAR_VALID | (flags & EPTF_PAGING ? 0 : EPTQ.LINEAR_TRANSLATION) : 0);
    return EPT_VIOLATION;
  }
  if ((flags & (EPTF_AD | EPTF_PEEK)) === EPTF_AD) {
    for (let l = 4; l > level; l--) {
      const v = out.entryLo[l];
      if (!(v & 0x100)) { out.entryLo[l] = v | 0x100; bus.write32(out.entryAddr[l], v | 0x100); }
    }
    const want = asWrite ? 0x300 : 0x100;
    if ((lo & want) !== want) { out.entryLo[level] = lo | want; bus.write32(out.entryAddr[level], lo | want); }
  }
  return EPT_OK;
}

// ------------------------------------------------------------------ convenient form

export interface EptTranslateOptions {
  /** EPTP[6]; defaults to the bit in the EPTP given. */
  adEnabled?: boolean;
  /** The access is to a guest paging-structure entry (qualification bit 8 clear; a write for A/D purposes with A/D on). */
  isPagingStructure?: boolean;
  /** Qualification bit 7 (defaults to true when `guestLinear` is given). */
  guestLinearValid?: boolean;
  guestLinear?: number;
  /** Model a processor without execute-only support. */
  noExecuteOnly?: boolean;
  /** Debugger look-up: do not write A/D flags. */
  peek?: boolean;
}
export type EptResult =
  | { kind: 'ok'; hpa: number; pageSize: number }
  | { kind: 'violation'; qualification: number; guestPhysical: number; guestLinear?: number; walk: string }
  | { kind: 'misconfig'; guestPhysical: number; level: number; reason: string; walk: string };

function walkFlags(eptpLo: number, o: EptTranslateOptions): number {
  const ad = o.adEnabled ?? (eptpLo & EPTP_AD) !== 0;
  const linear = o.guestLinearValid ?? o.guestLinear !== undefined;
  return (ad ? EPTF_AD : 0) | (o.isPagingStructure ? EPTF_PAGING : 0) | (linear ? EPTF_LINEAR : 0) |
    (o.noExecuteOnly ? EPTF_NO_XONLY : 0) | (o.peek ? EPTF_PEEK : 0);
}

/** Translate a guest-physical address (allocates a result; for tests, debuggers and rare paths). */
export function eptTranslate(bus: PhysBus, eptpLo: number, eptpHi: number, gpa: number, access: EptAccess,
  opts: EptTranslateOptions = {}): EptResult {
  const w = new EptWalk();
  const flags = walkFlags(eptpLo, opts);
  const st = eptWalk(bus, eptpLo, eptpHi, gpa, access, flags, w);
  if (st === EPT_OK) return { kind: 'ok', hpa: w.hpa, pageSize: w.pageMask + 1 };
  if (st === EPT_VIOLATION) {
    const r: EptResult = { kind: 'violation', qualification: w.qualification, guestPhysical: gpa, walk: w.describe() };
    if (flags & EPTF_LINEAR && opts.guestLinear !== undefined) r.guestLinear = opts.guestLinear;
    return r;
  }
  return { kind: 'misconfig', guestPhysical: gpa, level: w.level, reason: w.misconfigText(), walk: w.describe() };
}

/** The VM exit for a failed walk: reason 48 with qualification, guest-physical and (bit 7) guest-linear address, or 49. */
export function eptExit(w: EptWalk, status: number, gpa: number, la: number): VmExit {
  if (status === EPT_MISCONFIG) return new VmExit(EXIT_REASON_EPT_MISCONFIGURATION, 0, { guestPhysical: gpa });
  return new VmExit(EXIT_REASON_EPT_VIOLATION, w.qualification,
    w.qualification & EPTQ.LINEAR_VALID ? { guestPhysical: gpa, guestLinear: la } : { guestPhysical: gpa });
}

/** eptWalk that throws the VM exit on failure; returns the host-physical address. */
export function eptAccess(bus: PhysBus, eptpLo: number, eptpHi: number, gpa: number, access: EptAccess,
  flags: number, w: EptWalk, la = 0): number {
  const st = eptWalk(bus, eptpLo, eptpHi, gpa, access, flags, w);
  if (st !== EPT_OK) throw eptExit(w, st, gpa, la);
  return w.hpa;
}

// ------------------------------------------------------------------ the CPU side

/**
 * `cpu.ept` while the CPU runs in VMX non-root operation with "enable EPT" = 1 (null otherwise).
 * Create one at VM entry (`enableEpt`), drop it at VM exit (`disableEpt`).
 */
export class EptContext {
  readonly eptpLo: number;
  readonly eptpHi: number;
  /** EPTF_AD when EPTP[6] is set. */
  readonly flags: number;
  readonly walk = new EptWalk();
  /** Guest paging-structure accesses of the running guest walk go through here. */
  readonly paging: EptPagingBus;
  constructor(readonly cpu: CPU, eptpLo: number, eptpHi: number) {
    this.eptpLo = eptpLo | 0; this.eptpHi = eptpHi | 0;
    this.flags = eptpLo & EPTP_AD ? EPTF_AD : 0;
    this.paging = new EptPagingBus(this);
  }
  get ad(): boolean { return (this.flags & EPTF_AD) !== 0; }
}

/**
 * The physical memory the guest page walk (mmu.ts) sees: guest-physical addresses of paging-structure
 * entries, each translated through EPT as a paging-structure access of the linear address being
 * translated (qualification bit 7 set, bit 8 clear). Reads need R (W as well with A/D flags on);
 * the guest's own A/D updates are writes and need W.
 *
 * PAE guests: mmu.ts reads the PDPTEs at walk time (a documented simplification of the PDPTE
 * registers). Through EPT those reads are treated as the hardware's PDPTE loads by MOV to CR:
 * reads even with A/D flags on, and a violation has qualification bit 7 clear ("Accessed and
 * Dirty Flags for EPT"; "Exit Qualification for EPT Violations").
 *
 * One translated page is remembered during one linear translation (entries are read as two
 * dwords; the A-flag pass rereads them), reset by `translateNested` before each walk.
 */
export class EptPagingBus implements PagingBus {
  /** The linear address being translated (for the exit's guest-linear address). */
  la = 0;
  /** Guest-physical page remembered, its host-physical page, and whether it was checked for writes. */
  page = -1;
  hpage = 0;
  writable = false;
  private readonly bus: PhysBus;
  constructor(private readonly ctx: EptContext) { this.bus = ctx.cpu.bus; }

  read32(gpa: number): number {
    const off = gpa % 4096, page = gpa - off;
    if (page !== this.page || (!this.writable && (this.ctx.flags & EPTF_AD) !== 0)) this.map(gpa, false);
    return this.bus.read32(this.hpage + off);
  }
  write32(gpa: number, v: number): void {
    const off = gpa % 4096, page = gpa - off;
    if (page !== this.page || !this.writable) this.map(gpa, true);
    this.bus.write32(this.hpage + off, v);
  }
  private map(gpa: number, write: boolean): void {
    const ctx = this.ctx, cpu = ctx.cpu;
    const pdpte = !write && !(cpu.efer & EFER_LMA) && (cpu.cr4 & CR4_PAE) !== 0 &&
      gpa - ((cpu.cr3 >>> 0) & ~0x1f) >= 0 && gpa - ((cpu.cr3 >>> 0) & ~0x1f) < 32;
    const flags = pdpte ? ctx.flags : ctx.flags | EPTF_PAGING | EPTF_LINEAR;
    const hpa = eptAccess(this.bus, ctx.eptpLo, ctx.eptpHi, gpa, write ? EPT_WRITE : EPT_READ, flags, ctx.walk, this.la);
    const off = gpa % 4096;
    this.page = gpa - off;
    this.hpage = hpa - off;
    this.writable = write || (flags & (EPTF_AD | EPTF_PAGING)) === (EPTF_AD | EPTF_PAGING);
  }
}

/** Kinds of src/cpu/tlb.ts (K_READ 0, K_WRITE 1, K_EXEC 2) → EPT access bits. */
const KIND_ACCESS: readonly EptAccess[] = [EPT_READ, EPT_WRITE, EPT_FETCH];

/**
 * Linear → host-physical with EPT (the CPU's TLB-miss path while `cpu.ept` is set). The guest walk
 * (guest paging rules, #PF) runs over `EptPagingBus`; its result, the ultimate guest-physical
 * address, is then translated as the translation of a linear address (bits 7 and 8 set). With
 * CR0.PG = 0 the linear address is the guest-physical address ("Guest-Physical Address
 * Translation" / "EPT Overview"). Side outputs for the TLB fill: walkPageMask becomes the smaller
 * of the guest and EPT page sizes, so a TLB entry (guest-linear page → host-physical page, made per
 * access kind after both walks allowed that kind) carries the intersection of both permissions.
 *
 * Order (our choice where the SDM is silent): the guest walk sets the guest's A/D flags (through
 * EPT) before the final guest-physical address is translated; a guest #PF for the access itself
 * comes before any EPT exit for the final address ("Prioritization of EPT Misconfigurations and
 * EPT Violations").
 */
export function translateNested(cpu: CPU, la: number, kind: number, user: boolean): number {
  const ctx = cpu.ept!;
  const pb = ctx.paging;
  pb.la = la; pb.page = -1;
  const paging = (cpu.cr0 & CR0_PG) !== 0;
  const gpa = translateWith(cpu, pb, la, kind, user);
  const w = ctx.walk;
  const hpa = eptAccess(cpu.bus, ctx.eptpLo, ctx.eptpHi, gpa, KIND_ACCESS[kind], ctx.flags | EPTF_LINEAR, w, la);
  cpu.walkPageMask = paging && cpu.walkPageMask < w.pageMask ? cpu.walkPageMask : w.pageMask;
  return hpa;
}

/**
 * A guest-physical read outside a linear translation with the semantics of a PDPTE load by MOV to
 * CR (read access, no A/D-write treatment, qualification bit 7 clear): for checkPdptes
 * (src/cpu/ops/sysregs.ts) when the guest runs PAE paging under EPT. Without EPT, a plain read.
 */
export function readPdpte32(cpu: CPU, gpa: number): number {
  const ctx = cpu.ept;
  if (ctx === null) return cpu.bus.read32(gpa);
  return cpu.bus.read32(eptAccess(cpu.bus, ctx.eptpLo, ctx.eptpHi, gpa, EPT_READ, ctx.flags, ctx.walk));
}

/**
 * Turn EPT on for non-root operation (VM entry with "enable EPT" = 1). `flush`: drop the active
 * context's translations — VM entry passes false, as it switches to the guest's own TLB context
 * (tlb-contexts.ts); tests and tools that turn EPT on directly keep the default.
 */
export function enableEpt(cpu: CPU, eptpLo: number, eptpHi: number, flush = true): void {
  cpu.ept = new EptContext(cpu, eptpLo, eptpHi);
  if (flush) cpu.flushTlb();
}
/** Back to root operation (VM exit) or a VM entry without EPT; `flush` as for enableEpt (VM exit passes false). */
export function disableEpt(cpu: CPU, flush = true): void {
  if (cpu.ept === null) return;
  cpu.ept = null;
  if (flush) cpu.flushTlb();
}

export const INVEPT_SINGLE_CONTEXT = 1, INVEPT_ALL_CONTEXT = 2;
/**
 * The invalidation INVEPT performs (SDM Vol. 2, INVEPT; Vol. 3C, "Invalidation of Translations
 * Derived from EPT"), after the caller's checks (type supported, EPTP valid for single-context:
 * `eptpProblem`): the combined mappings of every TLB context made with that EP4TA (single-context)
 * or with EPT at all (all-context) are dropped (tlb-contexts.ts); there is no separate EPT
 * paging-structure cache.
 */
export function invept(cpu: CPU, type: number, eptpLo = 0, eptpHi = 0): void {
  tlbInvept(cpu, type, eptpLo, eptpHi);
}
