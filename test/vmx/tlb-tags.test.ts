import { describe, it, expect } from 'vitest';
import * as F from '../../src/vmx/fields.js';
import { PROC2 } from '../../src/vmx/controls.js';
import { RAX } from '../../src/cpu/regs.js';
import { Tlb, TLB_MASK } from '../../src/cpu/tlb.js';
import { MAX_GUEST_CONTEXTS, tlbContexts, tlbEnterGuest, tlbLeaveGuest, tlbBeforeEntry } from '../../src/vmx/tlb-contexts.js';
import { DATA } from '../cpu/helpers/machine.js';
import {
  hypervisor, identityEpt, vmwrite, GUEST_CODE, HOST_CODE, VMCALL, VMRESUME, type Hv,
} from './helpers/hv-stub.js';

/**
 * The software TLB tagged by translation context (DESIGN.md #4; src/vmx/tlb-contexts.ts). Expected
 * behaviour from SDM Vol. 3C, "Information That May Be Cached", "Operations that Invalidate Cached
 * Mappings", and Vol. 2, "INVVPID—Invalidate Translations Based on VPID", "INVEPT—Invalidate
 * Translations Derived from EPT". "Survives" is shown by the TLB's own tag arrays and by the
 * absence of fills (a fill happens on every cacheable TLB miss).
 */

const R = 0, W = 2, X = 4;   // supervisor read / write / fetch sets (kind * 2 + user)
const cached = (t: Tlb, set: number, la: number): boolean => t.sets[set].tag[(la >>> 12) & TLB_MASK] === la - (la & 0xfff);

const le32 = (v: number): string => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0, 0); return b.toString('hex'); };
/** mov eax, [abs32] */
const load = (a: number): string => `8b0425${le32(a)}`;
/** mov dword [abs32], imm32 */
const store = (a: number, v: number): string => `c70425${le32(a)}${le32(v)}`;
/** mov eax, type; mov ecx, desc; invvpid rax, [rcx] / invept rax, [rcx] */
const invvpid = (type: number, desc: number): string => `b8${le32(type)}b9${le32(desc)}660f388101`;
const invept = (type: number, desc: number): string => `b8${le32(type)}b9${le32(desc)}660f388001`;
/** Re-enter the guest at `rip`. */
const resumeAt = (rip: number): string => vmwrite(F.GUEST_RIP, rip) + VMRESUME;

/** Guest data pages: A and A2 share a 2-MiB page of the machine's page tables, B is in another one. */
const A = 0x220000, A2 = 0x221000, B = 0x420000;
const DESC = 0x3f0000;
/** Second half of the guest code (a re-entry point). */
const PART2 = GUEST_CODE + 0x40;

const orField = (hv: Hv, enc: number, bits: number) => hv.vmcs.write(enc, (hv.vmcs.read(enc) | bits) >>> 0);
function withVpid(hv: Hv, vpid: number): void {
  orField(hv, F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC2.ENABLE_VPID);
  hv.vmcs.write(F.VIRTUAL_PROCESSOR_IDENTIFIER, vpid);
}
/** EPT identity map of 0..8 MiB (2-MiB pages, RWX, WB) at `pml4`; returns the EPTP and the PD's address. */
function eptAt(hv: Hv, pml4: number): { lo: number; pd: number } {
  const m = hv.m, pdpt = pml4 + 0x1000, pd = pml4 + 0x2000;
  m.bus.write32(pml4, pdpt | 7); m.bus.write32(pml4 + 4, 0);
  m.bus.write32(pdpt, pd | 7); m.bus.write32(pdpt + 4, 0);
  for (let i = 0; i < 4; i++) { m.bus.write32(pd + i * 8, (i << 21) | 0x80 | (6 << 3) | 7); m.bus.write32(pd + i * 8 + 4, 0); }
  return { lo: pml4 | (3 << 3) | 6, pd };
}
function withEpt(hv: Hv, eptp: number): void {
  orField(hv, F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC2.ENABLE_EPT);
  hv.vmcs.write(F.EPT_POINTER, eptp, 0);
}
const guestTlb = (hv: Hv, vpid: number): Tlb => tlbContexts(hv.m.cpu).find(vpid)!.tlb;
const exitReason = (hv: Hv) => hv.field(F.VM_EXIT_REASON);

describe('root context across VM entry and VM exit', () => {
  it('with VPID enabled, root\'s TLB entries survive a VM entry and exit (no refill)', () => {
    const hv = hypervisor();
    withVpid(hv, 1);
    hv.guest(VMCALL);
    hv.launch();
    expect(exitReason(hv)).toBe(18);
    const cpu = hv.m.cpu, root = cpu.rootTlb;
    expect(cpu.tlb).toBe(root);
    // the stub read the VMXON pointer at DATA and ran from HOST_CODE before VMLAUNCH
    expect(cached(root, R, DATA)).toBe(true);
    expect(cached(root, X, HOST_CODE)).toBe(true);
    const fills = root.sets[R].count;
    hv.host(load(DATA));
    expect(root.sets[R].count).toBe(fills);              // the read hit: no walk
  });

  it('with VPID disabled, VM entry and VM exit invalidate the VPID-0000H mappings, root\'s included', () => {
    const hv = hypervisor();
    hv.guest(load(A) + VMCALL);
    hv.launch();
    expect(exitReason(hv)).toBe(18);
    const cpu = hv.m.cpu;
    expect(cached(cpu.rootTlb, R, DATA)).toBe(false);
    expect(cached(cpu.rootTlb, X, HOST_CODE)).toBe(false);
    expect(cached(tlbContexts(cpu).vpid0.tlb, R, A)).toBe(false);
  });
});

describe('guest contexts', () => {
  /** Guest: read A, VMCALL; at PART2: read A, VMCALL. Returns the TLB misses of the second entry..exit. */
  function reentryMisses(vpid: number | null): { hv: Hv; misses: number } {
    const hv = hypervisor();
    if (vpid !== null) withVpid(hv, vpid);
    hv.guest(load(A) + VMCALL);
    hv.guest(load(A) + VMCALL, PART2);
    hv.launch();
    hv.host('');                                           // warm root's entries for HOST_MORE
    const before = hv.m.cpu.tlbMisses;
    hv.host(resumeAt(PART2));
    expect(exitReason(hv)).toBe(18);
    expect(hv.field(F.GUEST_RIP)).toBe(PART2 + 7);
    return { hv, misses: hv.m.cpu.tlbMisses - before };
  }

  it('with VPID ≠ 0 the guest\'s entries survive a VM exit and the next VM entry', () => {
    const hv = hypervisor();
    withVpid(hv, 5);
    hv.guest(load(A) + VMCALL);
    hv.guest(load(A) + VMCALL, PART2);
    hv.launch();
    const g = guestTlb(hv, 5);
    expect(cached(g, R, A)).toBe(true);
    expect(cached(g, X, GUEST_CODE)).toBe(true);
    const fills = g.filled;
    hv.host(resumeAt(PART2));
    expect(exitReason(hv)).toBe(18);
    expect(hv.field(F.GUEST_RIP)).toBe(PART2 + 7);
    expect(g.filled).toBe(fills);                          // the guest ran without a single TLB miss
    expect(reentryMisses(5).misses).toBe(0);              // nothing walked between VMRESUME and the exit's HLT
  });

  it('with VPID disabled the guest\'s entries do not survive (guest fetch, guest read and host fetch are walked again)', () => {
    expect(reentryMisses(null).misses).toBe(3);
  });

  it('MOV to CR3 in the guest invalidates that guest context only', () => {
    const hv = hypervisor();
    withVpid(hv, 1);
    hv.guest(load(A) + VMCALL);
    hv.guest('0f20d8' + '0f22d8' + VMCALL, PART2);         // mov rax, cr3; mov cr3, rax
    hv.launch();
    const g = guestTlb(hv, 1), root = hv.m.cpu.rootTlb;
    hv.host('');
    expect(cached(g, R, A)).toBe(true);
    hv.host(resumeAt(PART2));
    expect(exitReason(hv)).toBe(18);
    expect(cached(g, R, A)).toBe(false);
    expect(cached(root, R, DATA)).toBe(true);
  });
});

describe('INVVPID', () => {
  /** VPID 1 and VPID 2 both read A, A2 and B. */
  function twoVpids(): Hv {
    const hv = hypervisor();
    withVpid(hv, 1);
    hv.guest(load(A) + load(A2) + load(B) + VMCALL);
    hv.launch();
    hv.host(vmwrite(F.VIRTUAL_PROCESSOR_IDENTIFIER, 2) + resumeAt(GUEST_CODE));
    expect(exitReason(hv)).toBe(18);
    for (const v of [1, 2]) for (const a of [A, A2, B]) expect(cached(guestTlb(hv, v), R, a)).toBe(true);
    return hv;
  }
  const desc = (hv: Hv, vpid: number, la = 0) => {
    hv.m.bus.write32(DESC, vpid); hv.m.bus.write32(DESC + 4, 0); hv.m.bus.write32(DESC + 8, la); hv.m.bus.write32(DESC + 12, 0);
  };
  const succeeded = (hv: Hv) => (hv.m.cpu.getFlags() & 0x41) === 0;  // CF = ZF = 0 (VMsucceed)

  it('single-context drops every mapping of that VPID and no other', () => {
    const hv = twoVpids();
    desc(hv, 1);
    hv.host(invvpid(1, DESC));
    expect(succeeded(hv)).toBe(true);
    for (const a of [A, A2, B]) expect(cached(guestTlb(hv, 1), R, a)).toBe(false);
    for (const a of [A, A2, B]) expect(cached(guestTlb(hv, 2), R, a)).toBe(true);
    expect(cached(guestTlb(hv, 1), X, GUEST_CODE)).toBe(false);
  });

  it('individual-address drops the mapping that translates that address (its whole 2-MiB page) of that VPID only', () => {
    const hv = twoVpids();
    desc(hv, 2, A);
    hv.host(invvpid(0, DESC));
    expect(succeeded(hv)).toBe(true);
    const g2 = guestTlb(hv, 2);
    expect(cached(g2, R, A)).toBe(false);
    expect(cached(g2, R, A2)).toBe(false);                // same 2-MiB page: the same mapping
    expect(cached(g2, R, B)).toBe(true);
    expect(cached(g2, X, GUEST_CODE)).toBe(true);
    for (const a of [A, A2, B]) expect(cached(guestTlb(hv, 1), R, a)).toBe(true);
  });

  it('all-context drops every VPID\'s mappings but leaves root\'s', () => {
    const hv = twoVpids();
    desc(hv, 0);
    hv.host(invvpid(2, DESC));
    expect(succeeded(hv)).toBe(true);
    for (const v of [1, 2]) for (const a of [A, A2, B]) expect(cached(guestTlb(hv, v), R, a)).toBe(false);
    expect(cached(hv.m.cpu.rootTlb, R, DATA)).toBe(true);
  });

  it('single-context retaining globals keeps the global entries of that VPID', () => {
    const hv = twoVpids();
    const g1 = guestTlb(hv, 1);
    const i = (A >>> 12) & TLB_MASK;
    g1.sets[R].global[i] = 1;                              // as if A were mapped by a global page
    desc(hv, 1);
    hv.host(invvpid(3, DESC));
    expect(cached(g1, R, A)).toBe(true);
    expect(cached(g1, R, B)).toBe(false);
  });
});

describe('INVEPT', () => {
  it('single-context drops the combined mappings of that EPTP only', () => {
    const hv = hypervisor();
    const e1 = identityEpt(hv.m), e2 = eptAt(hv, 0x520000);
    withEpt(hv, e1.lo); withVpid(hv, 1);
    hv.guest(load(A) + VMCALL);
    hv.launch();
    hv.host(vmwrite(F.VIRTUAL_PROCESSOR_IDENTIFIER, 2) + vmwrite(F.EPT_POINTER, e2.lo) + resumeAt(GUEST_CODE));
    expect(exitReason(hv)).toBe(18);
    expect(cached(guestTlb(hv, 1), R, A)).toBe(true);
    expect(cached(guestTlb(hv, 2), R, A)).toBe(true);
    hv.m.bus.write32(DESC, e1.lo); hv.m.bus.write32(DESC + 4, 0);
    hv.host(invept(1, DESC));
    expect(hv.m.cpu.getFlags() & 0x41).toBe(0);
    expect(cached(guestTlb(hv, 1), R, A)).toBe(false);
    expect(cached(guestTlb(hv, 1), X, GUEST_CODE)).toBe(false);
    expect(cached(guestTlb(hv, 2), R, A)).toBe(true);
    expect(cached(hv.m.cpu.rootTlb, R, DATA)).toBe(true);
    hv.host(invept(2, DESC));                              // all-context
    expect(cached(guestTlb(hv, 2), R, A)).toBe(false);
  });

  it('after the hypervisor changes an EPT entry and executes INVEPT, the guest sees the new mapping', () => {
    const hv = hypervisor();
    const e = eptAt(hv, 0x520000);
    withEpt(hv, e.lo); withVpid(hv, 1);
    hv.m.bus.write32(A, 0x11111111);
    hv.m.bus.write32(A + 0x400000, 0x22222222);
    hv.guest(load(A) + VMCALL);
    hv.launch();
    expect(hv.m.cpu.lo[RAX]).toBe(0x11111111);
    // guest-physical 2 MiB..4 MiB now maps host-physical 6 MiB..8 MiB
    hv.m.bus.write32(e.pd + 8, 0x600000 | 0x80 | (6 << 3) | 7);
    hv.m.bus.write32(DESC, e.lo); hv.m.bus.write32(DESC + 4, 0);
    hv.host(invept(1, DESC) + resumeAt(GUEST_CODE));
    expect(exitReason(hv)).toBe(18);
    expect(hv.m.cpu.lo[RAX]).toBe(0x22222222);
  });
});

describe('decoded code and contexts', () => {
  it('a guest write to a page holding decoded root code invalidates that code (write entries of every context)', () => {
    const hv = hypervisor();
    withVpid(hv, 1);
    const P = 0x182000;                                    // host code run after every VM exit: mov eax, imm32; hlt
    hv.m.bus.writeBytes(P, Buffer.from('b801000000f4', 'hex'));
    hv.vmcs.write(F.HOST_RIP, P);
    // the guest writes P's immediate twice (the second write is made through its write entry), then exits
    hv.guest(store(P + 1, 2) + store(P + 1, 2) + VMCALL);
    hv.guest(store(P + 1, 3) + VMCALL, PART2);
    hv.launch();
    expect(hv.m.cpu.lo[RAX]).toBe(2);                      // root decoded P: its page holds code now
    expect(cached(guestTlb(hv, 1), W, P)).toBe(false);     // ... so the guest context lost its write entry
    hv.host(resumeAt(PART2));
    expect(exitReason(hv)).toBe(18);
    expect(hv.m.cpu.lo[RAX]).toBe(3);                      // the guest's write reached the code cache
  });
});

describe('bounded set of contexts', () => {
  it(`at most ${MAX_GUEST_CONTEXTS} VPID contexts are kept; the least recently entered is dropped`, () => {
    const hv = hypervisor();
    const cpu = hv.m.cpu;
    for (let vpid = 1; vpid <= MAX_GUEST_CONTEXTS + 1; vpid++) {
      tlbBeforeEntry(cpu);
      tlbEnterGuest(cpu, vpid);
      cpu.tlb.sets[R].fill(A, new DataView(new ArrayBuffer(4096)), 0, A / 4096, false);
      tlbLeaveGuest(cpu, true);
    }
    const x = tlbContexts(cpu);
    expect(x.guests.length).toBe(MAX_GUEST_CONTEXTS);
    expect(x.find(1)).toBe(null);
    expect(x.find(MAX_GUEST_CONTEXTS + 1)).not.toBe(null);
    expect(cached(x.find(MAX_GUEST_CONTEXTS + 1)!.tlb, R, A)).toBe(true);
    expect(cpu.tlbs.length).toBe(MAX_GUEST_CONTEXTS + 2); // root, VPID 0000H, the guests
    expect(cpu.tlb).toBe(cpu.rootTlb);
  });
});

describe('changes that are not per context', () => {
  /** Root and VPID 1 each hold an entry for A. */
  function twoContexts(): Hv {
    const hv = hypervisor();
    const cpu = hv.m.cpu;
    tlbBeforeEntry(cpu);
    tlbEnterGuest(cpu, 1);
    cpu.rd32(A);
    tlbLeaveGuest(cpu, true);
    cpu.rd32(A);
    expect(cached(cpu.rootTlb, R, A) && cached(guestTlb(hv, 1), R, A)).toBe(true);
    return hv;
  }
  it('the A20 gate flushes every context', () => {
    const hv = twoContexts();
    hv.m.cpu.setA20(false);
    expect(cached(hv.m.cpu.rootTlb, R, A)).toBe(false);
    expect(cached(guestTlb(hv, 1), R, A)).toBe(false);
  });
  it('a debugger watchpoint flushes every context (watched pages must reach the slow path in any context)', () => {
    const hv = twoContexts();
    hv.m.cpu.watch = { pages: new Set([A / 4096]), hit: () => false };
    expect(cached(hv.m.cpu.rootTlb, R, A)).toBe(false);
    expect(cached(guestTlb(hv, 1), R, A)).toBe(false);
  });
});
