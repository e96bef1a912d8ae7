/**
 * The software TLB tagged by translation context (DESIGN.md #4), so that VM entries and VM exits
 * need not flush it. SDM Vol. 3C, "VMX Support for Address Translation": "Information That May Be
 * Cached", "Operations that Invalidate Cached Mappings"; Vol. 2, "INVVPID—Invalidate Translations
 * Based on VPID" and "INVEPT—Invalidate Translations Derived from EPT".
 *
 * Tags without a per-access cost: every context owns a whole `Tlb` (six sets, src/cpu/tlb.ts) and
 * VM entry / VM exit swap `cpu.tlb` (cpu.useTlb), so a TLB hit still costs one tag compare.
 * Contexts:
 *   - root: VMX root operation (and everything outside VMX) — `cpu.rootTlb`;
 *   - one context per VPID ≠ 0 ("enable VPID" = 1), at most MAX_GUEST_CONTEXTS, least recently
 *     entered evicted (dropping cached mappings is always allowed);
 *   - "VPID 0000H" of non-root operation ("enable VPID" = 0): flushed by every VM entry and exit.
 * With EPT a guest context holds combined mappings (guest-linear → host-physical) of one EPTP: it
 * remembers that EPTP and is flushed when it is entered with another one (or with EPT turned on
 * or off). Tagging by VPID alone (not VPID × EP4TA) is our choice: INVLPG, INVPCID and MOV to CR3
 * in the guest must invalidate the current VPID's combined mappings "for all EP4TAs", which the
 * guest's own flush of its one context then does by construction. There is no separate cache of
 * guest-physical mappings (the EPT walk runs on every TLB miss), so INVEPT only drops combined
 * mappings.
 *
 * Choices where the SDM allows more than one behaviour:
 * - "If the 'enable VPID' VM-execution control is 0, VM entries and VM exits invalidate linear
 *   mappings and combined mappings associated with VPID 0000H": root's mappings are VPID 0000H
 *   mappings, so with VPID disabled root's context is flushed by VM entry and by VM exit (as the
 *   processor is required to do); with VPID enabled root's entries survive both.
 * - A context is also flushed when it becomes active under other paging controls than its entries
 *   were made under (CR0.PG/WP, CR4.PSE/PAE/PGE/PCIDE/SMEP/SMAP, EFER.LMA/NXE: our sets cache
 *   permission outcomes that depend on them), and its non-global entries when CR3 differs (VM
 *   entry loading GUEST_CR3, VM exit loading HOST_CR3, as a MOV to CR3 would). Hardware may keep
 *   using mappings across such loads; dropping them is always allowed and keeps a hypervisor that
 *   forgets an INVVPID from seeing another address space's translations here.
 * - INVVPID all-context (type 2) does not flush root's mappings (VPID 0000H "may" be invalidated).
 * - INVVPID individual-address drops every entry made from the page (of the size the walk found)
 *   that contains the address; INVEPT single-context drops every context whose EPTP has that EP4TA
 *   (bits 51:12), all-context every context made with EPT.
 */
import type { CPU } from '../cpu/cpu.js';
import { Tlb } from '../cpu/tlb.js';
import {
  CR0_PG, CR0_WP, CR0_PE, CR4_PSE, CR4_PAE, CR4_PGE, CR4_PCIDE, CR4_SMEP, CR4_SMAP, EFER_LMA, EFER_NXE,
} from '../cpu/regs.js';

/** Guest contexts with VPID ≠ 0 kept at once. */
export const MAX_GUEST_CONTEXTS = 8;

const PAGING_CR0 = (CR0_PG | CR0_WP | CR0_PE) >>> 0;
const PAGING_CR4 = CR4_PSE | CR4_PAE | CR4_PGE | CR4_PCIDE | CR4_SMEP | CR4_SMAP;
const PAGING_EFER = EFER_LMA | EFER_NXE;

/** One translation context: its TLB and what its entries were made under. */
export class TlbContext {
  /** With EPT: the EPTP whose combined mappings the TLB holds. */
  ept = false;
  eptLo = 0;
  eptHi = 0;
  /** Paging state at the last time the context was active (-1: never). */
  cr3 = -1; cr0 = 0; cr4 = 0; efer = 0;
  /** Stamp of the last VM entry into it (least recently entered is evicted). */
  used = 0;
  constructor(public vpid: number, readonly tlb: Tlb) {}
}

export class TlbContexts {
  readonly root: TlbContext;
  readonly vpid0: TlbContext;
  /** Contexts of VPIDs ≠ 0. */
  readonly guests: TlbContext[] = [];
  active: TlbContext;
  private stamp = 0;
  constructor(private readonly cpu: CPU) {
    this.root = new TlbContext(0, cpu.rootTlb);
    this.vpid0 = new TlbContext(0, new Tlb());
    cpu.tlbs.push(this.vpid0.tlb);
    this.active = cpu.tlb === cpu.rootTlb ? this.root : this.vpid0;
  }
  /** The context of `vpid` (≠ 0), or null when none holds entries for it. */
  find(vpid: number): TlbContext | null {
    for (const c of this.guests) if (c.vpid === vpid) return c;
    return null;
  }
  /** The context for `vpid`, made (or taken from the least recently entered one) when there is none. */
  get(vpid: number): TlbContext {
    const found = this.find(vpid);
    if (found !== null) return found;
    if (this.guests.length < MAX_GUEST_CONTEXTS) {
      const c = new TlbContext(vpid, new Tlb());
      this.guests.push(c);
      this.cpu.tlbs.push(c.tlb);
      return c;
    }
    let lru = this.guests[0];
    for (const c of this.guests) if (c.used < lru.used && c !== this.active) lru = c;
    lru.vpid = vpid;
    lru.ept = false; lru.eptLo = 0; lru.eptHi = 0; lru.cr3 = -1;
    flush(this.cpu, lru);
    return lru;
  }
  nextStamp(): number { return ++this.stamp; }
}

export function tlbContexts(cpu: CPU): TlbContexts {
  return cpu.tlbContexts ??= new TlbContexts(cpu);
}

function flush(cpu: CPU, c: TlbContext, keepGlobal = false): void {
  c.tlb.flush(keepGlobal);
  cpu.retagTlb(c.tlb);
}

/** Record the paging state the active context's entries are made under. */
function remember(cpu: CPU, c: TlbContext): void {
  c.cr3 = cpu.cr3; c.cr0 = cpu.cr0 & PAGING_CR0; c.cr4 = cpu.cr4 & PAGING_CR4; c.efer = cpu.efer & PAGING_EFER;
}

/** The context becomes active under the CPU's current paging state: drop what was made under another (see the header). */
function revalidate(cpu: CPU, c: TlbContext): void {
  if (c.cr3 === -1) { /* never active: nothing was made under another state */ }
  else if (c.cr0 !== (cpu.cr0 & PAGING_CR0) || c.cr4 !== (cpu.cr4 & PAGING_CR4) || c.efer !== (cpu.efer & PAGING_EFER)) flush(cpu, c);
  else if (c.cr3 !== cpu.cr3) flush(cpu, c, true);
  remember(cpu, c);
}

/** VM entry, before guest state is loaded: root's entries were made under the current paging state. */
export function tlbBeforeEntry(cpu: CPU): void {
  const x = tlbContexts(cpu);
  if (x.active === x.root) remember(cpu, x.root);
}

/**
 * VM entry, after guest state is loaded and EPT (if enabled) is on: the guest's context becomes
 * active. `vpid`: the VPID field with "enable VPID" = 1, else 0.
 */
export function tlbEnterGuest(cpu: CPU, vpid: number): void {
  const x = tlbContexts(cpu);
  let c: TlbContext;
  if (vpid === 0) {
    // "VM entries and VM exits invalidate linear mappings and combined mappings associated with VPID 0000H"
    flush(cpu, x.root);
    c = x.vpid0;
    flush(cpu, c);
  } else c = x.get(vpid);
  const e = cpu.ept;
  if (e !== null ? !c.ept || c.eptLo !== e.eptpLo || c.eptHi !== e.eptpHi : c.ept) flush(cpu, c);
  c.ept = e !== null; c.eptLo = e !== null ? e.eptpLo : 0; c.eptHi = e !== null ? e.eptpHi : 0;
  revalidate(cpu, c);
  c.used = x.nextStamp();
  x.active = c;
  cpu.useTlb(c.tlb);
}

/**
 * VM exit (or VM-entry failure exit), before host state is loaded: root's context becomes active.
 * `vpidEnabled`: the "enable VPID" control of the VMCS.
 */
export function tlbLeaveGuest(cpu: CPU, vpidEnabled: boolean): void {
  const x = tlbContexts(cpu);
  remember(cpu, x.active);
  if (x.active !== x.root) { x.active = x.root; cpu.useTlb(x.root.tlb); }
  if (!vpidEnabled) { flush(cpu, x.root); flush(cpu, x.vpid0); }
}

/** VM exit, after host state is loaded: root's entries made under another CR3 or paging mode are dropped. */
export function tlbAfterHostLoad(cpu: CPU): void {
  const x = tlbContexts(cpu);
  revalidate(cpu, x.root);
}

export const INVVPID_INDIVIDUAL_ADDRESS = 0, INVVPID_SINGLE_CONTEXT = 1, INVVPID_ALL_CONTEXT = 2,
  INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS = 3;

/** The invalidation of INVVPID (after the instruction's checks): `la` is the descriptor's linear address (type 0). */
export function tlbInvvpid(cpu: CPU, type: number, vpid: number, la: number): void {
  const x = cpu.tlbContexts;
  if (x === null) return;
  if (type === INVVPID_ALL_CONTEXT) {
    for (const c of x.guests) flush(cpu, c);
    flush(cpu, x.vpid0);
    return;
  }
  const c = x.find(vpid);
  if (c === null) return;
  if (type === INVVPID_INDIVIDUAL_ADDRESS) { c.tlb.flushMapping(la); cpu.retagTlb(c.tlb); }
  else flush(cpu, c, type === INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS);
}

/** INVEPT types (ept.ts exports them too). */
const INVEPT_ALL_CONTEXT = 2;

/**
 * The invalidation of INVEPT: combined mappings of every context made with an EPTP whose EP4TA
 * (bits 51:12) is the descriptor's (single-context), or with any EPTP (all-context). The active
 * context is included when EPT is on without a VM entry (tests and tools drive `enableEpt` directly).
 */
export function tlbInvept(cpu: CPU, type: number, eptpLo: number, eptpHi: number): void {
  const hits = (on: boolean, lo: number, hi: number): boolean => on &&
    (type === INVEPT_ALL_CONTEXT || ((lo & ~0xfff) === (eptpLo & ~0xfff) && ((hi ^ eptpHi) & 0xfffff) === 0));
  const x = cpu.tlbContexts;
  if (x !== null) for (const c of [x.vpid0, ...x.guests]) if (hits(c.ept, c.eptLo, c.eptHi)) flush(cpu, c);
  const e = cpu.ept;
  if (e !== null && hits(true, e.eptpLo, e.eptpHi)) cpu.flushTlb();
}
