import { describe, it, expect } from 'vitest';
import { Ram, PhysBus, PortBus } from '../../src/memory/index.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { CPU } from '../../src/cpu/cpu.js';
import { CpuFault, VmExit } from '../../src/cpu/fault.js';
import { MAXPHYADDR } from '../../src/cpu/mmu.js';
import { K_READ, K_WRITE, K_EXEC } from '../../src/cpu/tlb.js';
import { CS, SS, CR0_PE, CR0_PG, CR4_PAE, EFER_LME, EFER_LMA, AR_L } from '../../src/cpu/regs.js';
import {
  eptTranslate, eptAccess, eptpProblem, EptWalk, enableEpt, disableEpt, invept, readPdpte32,
  EPT_READ, EPT_WRITE, EPT_FETCH, EPTF_AD, EPTF_PAGING, EPTF_LINEAR, EPTQ, INVEPT_SINGLE_CONTEXT, EPT_CAPABILITIES_LO,
  type EptResult,
} from '../../src/vmx/ept.js';

/**
 * EPT (SDM Vol. 3C, "VMX Support for Address Translation"): the tables are written by hand from the
 * SDM's entry formats ("Format of an EPT PML4 Entry ...", "... PDPTE that Maps a 1-GByte Page", ...):
 * bits 2:0 R/W/X, 5:3 memory type (leaves), 7 page size, 8 accessed, 9 dirty (leaves), the address
 * in bits MAXPHYADDR-1:12. Expected qualifications come from "Exit Qualification for EPT
 * Violations": bits 0-2 access, 3-5 the AND of the entries' R/W/X, 7 linear-address valid,
 * 8 translation of a linear address (clear: guest paging-structure access).
 */
const R = 1, W = 2, X = 4, RW = 3, RWX = 7, WB = 6 << 3, PS = 0x80, A = 0x100, D = 0x200;
const EPT_BASE = 0x100000;                      // host-physical PML4 of the EPT
const EPTP = EPT_BASE | WB >> 3 | 3 << 3;       // WB, 4-level
const EPTP_AD = EPTP | 1 << 6;
const LIN = 0x7f1234567000;                     // a guest-linear address used for qualifications

function ramBus(bytes = 2 ** 33): PhysBus { return new PhysBus(new Ram(bytes)); }

const index = (gpa: number, level: number) => Number((BigInt(gpa) >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
const lo32 = (v: number) => (v % 2 ** 32) >>> 0;
const hi32 = (v: number) => Math.floor(v / 2 ** 32);

/** Hand-built EPT paging structures in host RAM. */
class Ept {
  next = EPT_BASE + 0x1000;
  constructor(readonly bus: PhysBus, readonly base = EPT_BASE) {}
  alloc(): number { const a = this.next; this.next += 0x1000; return a; }
  set(addr: number, lo: number, hi = 0): void { this.bus.write32(addr, lo >>> 0); this.bus.write32(addr + 4, hi >>> 0); }
  getLo(addr: number): number { return this.bus.read32(addr); }
  /** Entry address at `level` for gpa, creating upper tables with `upper` bits; returns the entries' addresses [4..level]. */
  path(gpa: number, level: number, upper: number | number[] = RWX): number[] {
    let table = this.base;
    const addrs: number[] = [];
    for (let l = 4; ; l--) {
      const ea = table + index(gpa, l) * 8;
      addrs.push(ea);
      if (l === level) return addrs;
      let lo = this.bus.read32(ea), hi = this.bus.read32(ea + 4);
      if ((lo & 7) === 0) {
        const t = this.alloc();
        const bits = Array.isArray(upper) ? upper[4 - l] : upper;
        lo = (t | bits) >>> 0; hi = 0;
        this.set(ea, lo, hi);
      }
      table = hi * 2 ** 32 + ((lo & ~0xfff) >>> 0);
    }
  }
  map4k(gpa: number, hpa: number, bits = RWX | WB, upper: number | number[] = RWX): number[] {
    const p = this.path(gpa, 1, upper);
    this.set(p[3], lo32(hpa) | bits, hi32(hpa));
    return p;
  }
  map2m(gpa: number, hpa: number, bits = RWX | WB, upper: number | number[] = RWX): number[] {
    const p = this.path(gpa, 2, upper);
    this.set(p[2], lo32(hpa) | PS | bits, hi32(hpa));
    return p;
  }
  map1g(gpa: number, hpa: number, bits = RWX | WB, upper: number | number[] = RWX): number[] {
    const p = this.path(gpa, 3, upper);
    this.set(p[1], lo32(hpa) | PS | bits, hi32(hpa));
    return p;
  }
}

function tr(e: Ept, gpa: number, access: 1 | 2 | 4, opts: Parameters<typeof eptTranslate>[5] = {}, eptp = EPTP): EptResult {
  return eptTranslate(e.bus, eptp, 0, gpa, access, opts);
}
function qual(r: EptResult): number {
  if (r.kind !== 'violation') throw new Error(`expected a violation, got ${JSON.stringify(r)}`);
  return r.qualification;
}

describe('EPT translation (SDM "EPT Translation Mechanism")', () => {
  it('a 4-KByte page maps guest-physical bits 11:0 onto the PTE frame', () => {
    const e = new Ept(ramBus());
    e.map4k(0x12345000, 0x00abc000);
    expect(tr(e, 0x12345678, EPT_READ)).toEqual({ kind: 'ok', hpa: 0x00abc678, pageSize: 4096 });
  });
  it('a 2-MByte page (PDE bit 7) maps bits 20:0', () => {
    const e = new Ept(ramBus());
    e.map2m(0x40000000, 0x01e00000);
    expect(tr(e, 0x4012345a, EPT_WRITE)).toEqual({ kind: 'ok', hpa: 0x01f2345a, pageSize: 2 ** 21 });
  });
  it('a 1-GByte page (PDPTE bit 7) maps bits 29:0', () => {
    const e = new Ept(ramBus());
    e.map1g(0xc0000000, 0x40000000);
    expect(tr(e, 0xc7654321, EPT_FETCH)).toEqual({ kind: 'ok', hpa: 0x47654321, pageSize: 2 ** 30 });
  });
  it('guest-physical bits 47:30 select the PML4E and PDPTE, and frames above 4 GiB come from the high dword', () => {
    const e = new Ept(ramBus());
    const gpa = 0x8123456000 + 0x9000;            // PML4 index 1, PDPT index 4
    const p = e.map4k(gpa, 0xfe_d000_0000 + 0x7000);
    expect(p[0]).toBe(EPT_BASE + 8);
    expect(tr(e, gpa + 0x10, EPT_READ)).toEqual({ kind: 'ok', hpa: 0xfe_d000_7010, pageSize: 4096 });
  });
  it('bits 63:52 of an entry are ignored', () => {
    const e = new Ept(ramBus());
    const p = e.map4k(0x5000, 0x6000);
    e.set(p[3], 0x6000 | RWX | WB, 0xfff00000);
    e.set(p[0], e.getLo(p[0]), 0x7ff00000);
    expect(tr(e, 0x5004, EPT_READ)).toMatchObject({ kind: 'ok', hpa: 0x6004 });
  });
  it('execute-only pages translate for fetches (we advertise execute-only, IA32_VMX_EPT_VPID_CAP bit 0)', () => {
    const e = new Ept(ramBus());
    e.map4k(0x5000, 0x6000, X | WB);
    expect(tr(e, 0x5000, EPT_FETCH)).toMatchObject({ kind: 'ok', hpa: 0x6000 });
    expect(EPT_CAPABILITIES_LO & 1).toBe(1);
  });
});

describe('EPT violations and their exit qualification (SDM "Exit Qualification for EPT Violations")', () => {
  it('a data read of an execute-only page: bit 0, bit 5 (executable), bits 7 and 8 for a linear translation', () => {
    const e = new Ept(ramBus());
    e.map4k(0x5000, 0x6000, X | WB);
    expect(qual(tr(e, 0x5000, EPT_READ, { guestLinear: LIN }))).toBe(0x1 | 0x20 | 0x80 | 0x100);
  });
  it('a data write to a read-only page: bit 1, bit 3 (readable)', () => {
    const e = new Ept(ramBus());
    e.map4k(0x5000, 0x6000, R | WB);
    expect(qual(tr(e, 0x5000, EPT_WRITE, { guestLinear: LIN }))).toBe(0x2 | 0x08 | 0x180);
  });
  it('an instruction fetch from a read/write page: bit 2, bits 3 and 4', () => {
    const e = new Ept(ramBus());
    e.map4k(0x5000, 0x6000, RW | WB);
    expect(qual(tr(e, 0x5000, EPT_FETCH, { guestLinear: LIN }))).toBe(0x4 | 0x18 | 0x180);
  });
  it('bits 5:3 are the AND over all levels: a read-only PDPTE makes a RWX leaf readable only', () => {
    const e = new Ept(ramBus());
    e.map4k(0x5000, 0x6000, RWX | WB, [RWX, R, RWX]);
    expect(qual(tr(e, 0x5000, EPT_WRITE, { guestLinear: LIN }))).toBe(0x2 | 0x08 | 0x180);
    expect(tr(e, 0x5000, EPT_READ)).toMatchObject({ kind: 'ok' });
  });
  it('a not-present entry (bits 2:0 = 0) is a violation with bits 5:3 clear, whatever else it holds', () => {
    const e = new Ept(ramBus());
    const p = e.map4k(0x5000, 0x6000);
    e.set(p[2], 0xfffffff8, 0xffffffff);          // PDE: not present, every other bit set
    const r = tr(e, 0x5000, EPT_READ, { guestLinear: LIN });
    expect(qual(r)).toBe(0x1 | 0x180);
    expect(r).toMatchObject({ guestPhysical: 0x5000, guestLinear: LIN });
  });
  it('an unmapped address (empty PML4) is a violation', () => {
    const e = new Ept(ramBus());
    expect(qual(tr(e, 0x123456789a, EPT_FETCH))).toBe(0x4);
  });
  it('without a guest-linear address bits 7 and 8 are clear', () => {
    const e = new Ept(ramBus());
    e.map4k(0x5000, 0x6000, R | WB);
    expect(qual(tr(e, 0x5000, EPT_WRITE, { guestLinearValid: false }))).toBe(0x2 | 0x08);
  });
  it('a guest paging-structure access has bit 7 set and bit 8 clear', () => {
    const e = new Ept(ramBus());
    e.map4k(0x5000, 0x6000, X | WB);
    expect(qual(tr(e, 0x5008, EPT_READ, { guestLinear: LIN, isPagingStructure: true, adEnabled: false }))).toBe(0x1 | 0x20 | 0x80);
  });
  it('with A/D flags on, a guest paging-structure read is treated as a write: it needs W and reports bits 0 and 1', () => {
    const e = new Ept(ramBus());
    e.map4k(0x5000, 0x6000, R | WB);
    expect(tr(e, 0x5008, EPT_READ, { guestLinear: LIN, isPagingStructure: true, adEnabled: false })).toMatchObject({ kind: 'ok' });
    expect(qual(tr(e, 0x5008, EPT_READ, { guestLinear: LIN, isPagingStructure: true, adEnabled: true }))).toBe(0x3 | 0x08 | 0x80);
  });
  it('the VmExit thrown is reason 48 with the qualification, guest-physical and guest-linear address', () => {
    const e = new Ept(ramBus());
    e.map4k(0x5000, 0x6000, R | WB);
    let x: unknown;
    try { eptAccess(e.bus, EPTP, 0, 0x5abc, EPT_WRITE, EPTF_LINEAR, new EptWalk(), LIN); } catch (err) { x = err; }
    expect(x).toBeInstanceOf(VmExit);
    expect(x).toMatchObject({ reason: 48, qualification: 0x18a, info: { guestPhysical: 0x5abc, guestLinear: LIN } });
  });
});

describe('EPT misconfigurations (SDM "EPT Misconfigurations")', () => {
  const mc = (r: EptResult, level: number) => { expect(r.kind, JSON.stringify(r)).toBe('misconfig'); expect(r).toMatchObject({ level }); };

  it('write-only (010b) and write/execute (110b) entries, at a leaf or above', () => {
    const e = new Ept(ramBus());
    const p = e.map4k(0x5000, 0x6000, W | WB);
    mc(tr(e, 0x5000, EPT_READ), 1);
    e.set(p[3], 0x6000 | RWX | WB);
    e.set(p[2], (e.getLo(p[2]) & ~7) | W | X);
    mc(tr(e, 0x5000, EPT_FETCH), 2);
  });
  it('execute-only (100b) is a misconfiguration only where it is not supported', () => {
    const e = new Ept(ramBus());
    const p = e.map4k(0x5000, 0x6000, RWX | WB, [RWX, X, RWX]);
    expect(qual(tr(e, 0x5000, EPT_READ))).toBe(0x1 | 0x20);
    mc(tr(e, 0x5000, EPT_READ, { noExecuteOnly: true }), 3);
    expect(p.length).toBe(4);
  });
  it('reserved bits 7:3 of a PML4E (bit 7 included) and of a PDPTE/PDE that references a table', () => {
    const e = new Ept(ramBus());
    const p = e.map4k(0x5000, 0x6000);
    const l4 = e.getLo(p[0]);
    e.set(p[0], l4 | PS); mc(tr(e, 0x5000, EPT_READ), 4);
    e.set(p[0], l4 | 0x08); mc(tr(e, 0x5000, EPT_READ), 4);
    e.set(p[0], l4);
    const l3 = e.getLo(p[1]);
    e.set(p[1], l3 | 0x40); mc(tr(e, 0x5000, EPT_READ), 3);
    e.set(p[1], l3);
    const l2 = e.getLo(p[2]);
    e.set(p[2], l2 | 0x10); mc(tr(e, 0x5000, EPT_READ), 2);
    e.set(p[2], l2 | 0x100 | 0x200 | 0x400 | 0x800);   // A, ignored, user-execute, ignored: fine
    expect(tr(e, 0x5000, EPT_READ)).toMatchObject({ kind: 'ok' });
  });
  it('reserved bits 29:12 of a 1-GByte page and 20:12 of a 2-MByte page', () => {
    const e = new Ept(ramBus());
    const p1 = e.map1g(0x40000000, 0x80000000);
    e.set(p1[1], 0x80000000 | PS | RWX | WB | 0x1000); mc(tr(e, 0x40000000, EPT_READ), 3);
    e.set(p1[1], 0x80000000 | PS | RWX | WB | 0x2000); mc(tr(e, 0x40000000, EPT_READ), 3);
    e.set(p1[1], 0x80000000 | PS | RWX | WB | 0x20000000); mc(tr(e, 0x40000000, EPT_READ), 3);
    const p2 = e.map2m(0x200000, 0x400000);
    e.set(p2[2], 0x400000 | PS | RWX | WB | 0x100000); mc(tr(e, 0x200000, EPT_READ), 2);
    e.set(p2[2], 0x400000 | PS | RWX | WB | 0x1000); mc(tr(e, 0x200000, EPT_READ), 2);
  });
  it(`address bits 51:MAXPHYADDR (${MAXPHYADDR}) are reserved at every level`, () => {
    const e = new Ept(ramBus());
    const p = e.map4k(0x5000, 0x6000);
    const first = 1 << (MAXPHYADDR - 32);          // bit MAXPHYADDR in the high dword
    e.set(p[3], 0x6000 | RWX | WB, first); mc(tr(e, 0x5000, EPT_READ), 1);
    e.set(p[3], 0x6000 | RWX | WB, 1 << 19); mc(tr(e, 0x5000, EPT_READ), 1);   // bit 51
    e.set(p[3], 0x6000 | RWX | WB, first - 1);     // bit MAXPHYADDR-1: an address bit
    expect(tr(e, 0x5000, EPT_READ)).toMatchObject({ kind: 'ok', hpa: (first - 1) * 2 ** 32 + 0x6000 });
    e.set(p[3], 0x6000 | RWX | WB);
    e.set(p[0], e.getLo(p[0]), first); mc(tr(e, 0x5000, EPT_READ), 4);
  });
  it('leaf memory types 2, 3 and 7 are reserved; 0, 1, 4, 5, 6 are not; non-leaf bits 5:3 are reserved anyway', () => {
    const e = new Ept(ramBus());
    const p = e.map4k(0x5000, 0x6000);
    for (const mt of [0, 1, 2, 3, 4, 5, 6, 7]) {
      e.set(p[3], 0x6000 | RWX | mt << 3);
      const r = tr(e, 0x5000, EPT_READ);
      if (mt === 2 || mt === 3 || mt === 7) mc(r, 1); else expect(r.kind, `memory type ${mt}`).toBe('ok');
    }
    const g = e.map1g(0x80000000, 0, RWX | 7 << 3);
    mc(tr(e, 0x80000000, EPT_READ), 3);
    expect(g.length).toBe(2);
    const m = e.map2m(0x200000, 0, RWX | 2 << 3);
    mc(tr(e, 0x200000, EPT_READ), 2);
    expect(m.length).toBe(3);
  });
  it('a misconfiguration below an entry that denies the access wins over the violation', () => {
    const e = new Ept(ramBus());
    e.map4k(0x5000, 0x6000, R | 3 << 3, [R, RWX, RWX]);
    mc(tr(e, 0x5000, EPT_WRITE), 1);
  });
  it('the VmExit thrown is reason 49 with the guest-physical address', () => {
    const e = new Ept(ramBus());
    e.map4k(0x5000, 0x6000, W);
    let x: unknown;
    try { eptAccess(e.bus, EPTP, 0, 0x5123, EPT_READ, EPTF_LINEAR, new EptWalk(), LIN); } catch (err) { x = err; }
    expect(x).toBeInstanceOf(VmExit);
    expect(x).toMatchObject({ reason: 49, qualification: 0, info: { guestPhysical: 0x5123 } });
  });
});

describe('accessed and dirty flags for EPT (SDM "Accessed and Dirty Flags for EPT")', () => {
  it('with EPTP bit 6 clear no entry changes', () => {
    const e = new Ept(ramBus());
    const p = e.map4k(0x5000, 0x6000);
    const before = p.map(a => e.getLo(a));
    tr(e, 0x5000, EPT_READ); tr(e, 0x5000, EPT_WRITE);
    expect(p.map(a => e.getLo(a))).toEqual(before);
  });
  it('a read sets A (bit 8) in every entry used and no D', () => {
    const e = new Ept(ramBus());
    const p = e.map4k(0x5000, 0x6000);
    tr(e, 0x5000, EPT_READ, {}, EPTP_AD);
    expect(p.map(a => e.getLo(a) & (A | D))).toEqual([A, A, A, A]);
  });
  it('a write sets D (bit 9) in the leaf only (a 2-MByte PDE here)', () => {
    const e = new Ept(ramBus());
    const p = e.map2m(0x200000, 0x400000);
    tr(e, 0x200010, EPT_WRITE, {}, EPTP_AD);
    expect(p.map(a => e.getLo(a) & (A | D))).toEqual([A, A, A | D]);
  });
  it('a guest paging-structure read counts as a write: D is set in the leaf that maps it', () => {
    const e = new Ept(ramBus());
    const p = e.map1g(0, 0);
    tr(e, 0x1008, EPT_READ, { isPagingStructure: true, guestLinear: LIN }, EPTP_AD);
    expect(p.map(a => e.getLo(a) & (A | D))).toEqual([A, A | D]);
  });
  it('a failing translation sets no flag (our choice; the SDM leaves it open) and a debugger peek never does', () => {
    const e = new Ept(ramBus());
    const p = e.map4k(0x5000, 0x6000, R | WB);
    tr(e, 0x5000, EPT_WRITE, {}, EPTP_AD);
    tr(e, 0x5000, EPT_READ, { peek: true }, EPTP_AD);
    expect(p.map(a => e.getLo(a) & (A | D))).toEqual([0, 0, 0, 0]);
  });
});

describe('EPTP checks (SDM "Checks on VMX Controls", EPTP)', () => {
  it('accepts WB and UC with a 4-level walk and A/D on or off', () => {
    expect(eptpProblem(EPTP, 0)).toBeNull();
    expect(eptpProblem(EPTP_AD, 0)).toBeNull();
    expect(eptpProblem(EPT_BASE | 3 << 3, 0)).toBeNull();
  });
  it('rejects other memory types, other walk lengths, bits 11:7 and bits 63:MAXPHYADDR', () => {
    expect(eptpProblem(EPT_BASE | 3 << 3 | 1, 0)).toMatch(/memory type/);
    expect(eptpProblem(EPT_BASE | 6 | 4 << 3, 0)).toMatch(/page-walk length/);
    expect(eptpProblem(EPTP | 1 << 7, 0)).toMatch(/reserved/);
    expect(eptpProblem(EPTP | 1 << 11, 0)).toMatch(/reserved/);
    expect(eptpProblem(EPTP, 1 << (MAXPHYADDR - 32))).toMatch(/63:/);
    expect(eptpProblem(EPTP, (1 << (MAXPHYADDR - 32)) - 1)).toBeNull();
  });
});

// ---------------------------------------------------------------------------------- through the CPU

/** Guest page tables (4-level, SDM Vol. 3A "4-Level Paging") at guest-physical addresses, written to host memory via `g2h`. */
const GP_PML4 = 0x10000, GP_PDPT = 0x11000, GP_PD = 0x12000, GP_PT = 0x13000;
const HOST_OF_GUEST = 0x2000000;                   // guest-physical 0..16 MiB lives at host 32 MiB (EPT 2-MiB pages)
const P = 1, GW = 2, U = 4, GA = 0x20;

interface Nested { cpu: CPU; bus: PhysBus; ept: Ept; g2h(gpa: number): number; gset(gpa: number, lo: number, hi?: number): void; gget(gpa: number): number }

function nested(opts: { ad?: boolean; mapGuest?: boolean; guestBits?: number } = {}): Nested {
  const bus = ramBus(2 ** 27);
  const cpu = new CPU(bus, new PortBus(), new VirtualClock());
  const ept = new Ept(bus);
  const g2h = (gpa: number) => gpa + HOST_OF_GUEST;
  if (opts.mapGuest !== false) for (let g = 0; g < 0x1000000; g += 0x200000) ept.map2m(g, g2h(g));
  const gset = (gpa: number, lo: number, hi = 0) => { bus.write32(g2h(gpa), lo >>> 0); bus.write32(g2h(gpa) + 4, hi); };
  const gget = (gpa: number) => bus.read32(g2h(gpa));
  const b = opts.guestBits ?? (P | GW | U);
  gset(GP_PML4 + index(LIN, 4) * 8, GP_PDPT | b);
  gset(GP_PDPT + index(LIN, 3) * 8, GP_PD | b);
  gset(GP_PD + index(LIN, 2) * 8, GP_PT | b);
  gset(GP_PT + index(LIN, 1) * 8, 0x345000 | b);     // LIN → guest-physical 0x345000
  // 64-bit mode, CPL 0
  cpu.cr0 = CR0_PE | CR0_PG; cpu.cr4 = CR4_PAE; cpu.efer = EFER_LME | EFER_LMA; cpu.cr3 = GP_PML4;
  cpu.segAr[CS] = 0x9b | AR_L; cpu.segAr[SS] = 0x93;
  cpu.updateMode();
  enableEpt(cpu, opts.ad ? EPTP_AD : EPTP, 0);
  return { cpu, bus, ept, g2h, gset, gget };
}
function exitOf(f: () => unknown): VmExit {
  try { f(); } catch (e) { if (e instanceof VmExit) return e; throw e; }
  throw new Error('no VM exit');
}

describe('guest-linear translation through guest paging and EPT (SDM "Guest-Physical Address Translation")', () => {
  it('end to end: a guest PML4 page that EPT does not map exits with a paging-structure violation at the PML4E', () => {
    const n = nested();
    const p = n.ept.path(GP_PML4, 2);
    n.ept.set(p[2], 0);                                   // unmap guest-physical 0..2 MiB (holds the guest PML4)
    const x = exitOf(() => n.cpu.translateFor(LIN, K_READ, false));
    expect(x.reason).toBe(48);
    expect(x.qualification & 0x100).toBe(0);             // bit 8 clear: a paging-structure access
    expect(x.qualification & 0x80).toBe(0x80);           // bit 7 set: the guest-linear address is valid
    expect(x.qualification).toBe(EPTQ.READ | EPTQ.LINEAR_VALID);
    expect(x.info).toEqual({ guestPhysical: GP_PML4 + index(LIN, 4) * 8, guestLinear: LIN });
  });
  it('with EPT A/D flags on, the same walk reports bits 0 and 1 (treated as a write)', () => {
    const n = nested({ ad: true });
    n.ept.set(n.ept.path(GP_PML4, 2)[2], 0);
    expect(exitOf(() => n.cpu.translateFor(LIN, K_READ, false)).qualification).toBe(0x3 | 0x80);
  });
  it('translates to the host-physical address, fills the TLB with it and sets the guest A/D flags in host memory', () => {
    const n = nested();
    const hpa = n.cpu.translateFor(LIN + 0x123, K_WRITE, false);
    expect(hpa).toBe(n.g2h(0x345123));
    n.bus.write32(n.g2h(0x345100), 0xcafef00d);
    expect(n.cpu.rd32(LIN + 0x100) >>> 0).toBe(0xcafef00d);
    n.cpu.wr32(LIN + 0x104, 0x11223344);
    expect(n.bus.read32(n.g2h(0x345104))).toBe(0x11223344);
    expect(n.gget(GP_PML4 + index(LIN, 4) * 8) & GA).toBe(GA);
    expect(n.gget(GP_PT + index(LIN, 1) * 8) & 0x60).toBe(0x60);
  });
  it('the final guest-physical address unmapped in EPT: violation with bits 7 and 8, the exact guest-physical address', () => {
    const n = nested();
    const e = n.ept;
    const p = e.path(0x345000, 2);
    e.set(p[2], 0);
    e.map4k(0x200000, n.g2h(0x200000));                   // keep the rest of the 2 MiB out of the way
    const x = exitOf(() => n.cpu.translateFor(LIN + 0x9a, K_EXEC, false));
    expect(x.qualification).toBe(EPTQ.FETCH | EPTQ.LINEAR_VALID | EPTQ.LINEAR_TRANSLATION);
    expect(x.info).toEqual({ guestPhysical: 0x34509a, guestLinear: LIN + 0x9a });
  });
  it('a guest page fault comes before an EPT violation on the final address', () => {
    const n = nested();
    n.ept.set(n.ept.path(0x345000, 2)[2], 0);
    let f: unknown;
    try { n.cpu.translateFor(LIN, K_READ, true); } catch (e) { f = e; }   // U/S = 1 everywhere: allowed...
    expect(f).toBeInstanceOf(VmExit);
    n.gset(GP_PT + index(LIN, 1) * 8, 0x345000 | P | GW);                  // ...now a supervisor page
    n.cpu.flushTlb();
    try { n.cpu.translateFor(LIN, K_READ, true); } catch (e) { f = e; }
    expect(f).toBeInstanceOf(CpuFault);
    expect((f as CpuFault).vector).toBe(14);
  });
  it('the guest\'s A/D update is an EPT write: a read-only guest page table exits with bit 1, bit 7 set, bit 8 clear', () => {
    const n = nested();
    const p = n.ept.path(GP_PML4, 2);
    n.ept.set(p[2], HOST_OF_GUEST | PS | R | WB);        // guest-physical 0..2 MiB read-only in EPT
    n.ept.map2m(0x200000, n.g2h(0x200000));
    const x = exitOf(() => n.cpu.translateFor(LIN, K_READ, false));
    expect(x.qualification).toBe(EPTQ.WRITE | EPTQ.READABLE | EPTQ.LINEAR_VALID);
    expect(x.info.guestPhysical).toBe(GP_PML4 + index(LIN, 4) * 8);
  });
  it('guest entries whose A flags are already set need only EPT read access (A/D flags for EPT off)', () => {
    const n = nested({ guestBits: P | GW | U | GA });
    n.gset(GP_PT + index(LIN, 1) * 8, 0x345000 | P | GW | U | GA);
    n.ept.set(n.ept.path(GP_PML4, 2)[2], HOST_OF_GUEST | PS | R | WB);
    n.ept.map2m(0x200000, n.g2h(0x200000));
    n.ept.set(n.ept.path(0x345000, 2)[2], 0);
    n.ept.map4k(0x345000, n.g2h(0x345000));
    expect(n.cpu.translateFor(LIN, K_READ, false)).toBe(n.g2h(0x345000));
  });
  it('the TLB entry carries the intersection: a guest-writable page that EPT maps read-only reads from the TLB, writes exit', () => {
    const n = nested();
    n.ept.set(n.ept.path(0x345000, 2)[2], 0);
    n.ept.map4k(0x345000, n.g2h(0x345000), R | WB);
    n.bus.write32(n.g2h(0x345010), 0x5a5a5a5a);
    expect(n.cpu.rd32(LIN + 0x10)).toBe(0x5a5a5a5a);
    const x = exitOf(() => n.cpu.wr32(LIN + 0x10, 1));
    expect(x.qualification).toBe(EPTQ.WRITE | EPTQ.READABLE | EPTQ.LINEAR_VALID | EPTQ.LINEAR_TRANSLATION);
    expect(n.bus.read32(n.g2h(0x345010))).toBe(0x5a5a5a5a);
  });
  it('the combined page is the smaller of the two: a guest 2-MiB page over EPT 4-KiB pages', () => {
    const n = nested();
    n.gset(GP_PD + index(LIN, 2) * 8, 0x400000 | P | GW | U | 0x80);     // guest 2-MiB page at 4 MiB
    n.ept.set(n.ept.path(0x400000, 2)[2], 0);
    n.ept.map4k(0x400000 + (LIN % 0x200000) - (LIN % 0x1000), 0x7000000);
    expect(n.cpu.translateFor(LIN + 0x42, K_READ, false)).toBe(0x7000042);
    expect(n.cpu.walkPageMask).toBe(0xfff);
  });
  it('with CR0.PG = 0 the linear address is the guest-physical address (bits 7 and 8 on a violation)', () => {
    const n = nested();
    n.cpu.cr0 = CR0_PE; n.cpu.efer = 0; n.cpu.cr4 = 0; n.cpu.segAr[CS] = 0x9b | 1 << 14; n.cpu.updateMode();
    expect(n.cpu.translateFor(0x123456, K_READ, false)).toBe(n.g2h(0x123456));
    const x = exitOf(() => n.cpu.translateFor(0x1234567, K_WRITE, false));
    expect(x.qualification).toBe(EPTQ.WRITE | EPTQ.LINEAR_VALID | EPTQ.LINEAR_TRANSLATION);
    expect(x.info).toEqual({ guestPhysical: 0x1234567, guestLinear: 0x1234567 });
  });
  it('PAE guests: a PDPTE read that EPT does not map is reported as a PDPTE load (bit 7 clear, a read even with A/D on)', () => {
    const n = nested({ ad: true });
    n.cpu.efer = 0; n.cpu.cr3 = 0x3000e0; n.cpu.segAr[CS] = 0x9b | 1 << 14; n.cpu.updateMode();   // PAE, CR3 → PDPT at 0x3000e0
    n.ept.set(n.ept.path(0x300000, 2)[2], 0);
    const x = exitOf(() => n.cpu.translateFor(0x40001000, K_READ, false));
    expect(x.qualification).toBe(EPTQ.READ);
    expect(x.info).toEqual({ guestPhysical: 0x3000e8 });
    expect(exitOf(() => readPdpte32(n.cpu, 0x3000e0)).qualification).toBe(EPTQ.READ);
  });
  it('INVEPT drops combined translations; leaving EPT translates linear → physical again', () => {
    const n = nested();
    expect(n.cpu.translateFor(LIN, K_READ, false)).toBe(n.g2h(0x345000));
    expect(n.cpu.rd32(LIN)).toBe(0);
    n.ept.set(n.ept.path(0x345000, 2)[2], 0);
    n.ept.map4k(0x345000, 0x6000000);
    n.bus.write32(0x6000000, 0x77);
    expect(n.cpu.rd32(LIN)).toBe(0);                     // stale until INVEPT, as on hardware
    invept(n.cpu, INVEPT_SINGLE_CONTEXT, EPTP, 0);
    expect(n.cpu.rd32(LIN)).toBe(0x77);
    disableEpt(n.cpu);
    n.bus.write32(0x345000, 0x99);
    n.bus.write32(GP_PML4 + index(LIN, 4) * 8, GP_PDPT | 7); n.bus.write32(GP_PDPT + index(LIN, 3) * 8, GP_PD | 7);
    n.bus.write32(GP_PD + index(LIN, 2) * 8, GP_PT | 7); n.bus.write32(GP_PT + index(LIN, 1) * 8, 0x345000 | 7);
    expect(n.cpu.rd32(LIN)).toBe(0x99);
  });
});

describe('walk flags', () => {
  it('EPTF_PAGING without EPTF_AD is an ordinary read', () => {
    const e = new Ept(ramBus());
    e.map4k(0x5000, 0x6000, R | WB);
    const w = new EptWalk();
    expect(eptAccess(e.bus, EPTP, 0, 0x5000, EPT_READ, EPTF_PAGING | EPTF_LINEAR, w)).toBe(0x6000);
    expect(() => eptAccess(e.bus, EPTP, 0, 0x5000, EPT_READ, EPTF_PAGING | EPTF_LINEAR | EPTF_AD, w)).toThrow(VmExit);
  });
});
