/**
 * A bare CPU for system-instruction tests: RAM, buses, a GDT/IDT/TSS placed in RAM, identity-mapping
 * page tables, and the CPU put directly into 64-bit mode or 32-bit protected mode at CPL 0 (or 3).
 * Code runs through the real Executor; every exception vector goes to a stub that executes HLT with
 * IF = 0, so a fault stops the run and `vector()` tells which one it was (the frame is on the stack).
 *
 * Physical layout (identity-mapped):
 *   0x1000 GDT   0x2000 IDT   0x3000 fault stubs (8 bytes per vector: HLT)   0x4000 TSS (+ I/O bitmap)
 *   0x7000 LDT   0x10000 page tables   0x100000 code   0x1ff000 stack top   0x300000 data
 *
 * GDT (Linux's layout, so SYSCALL/SYSRET selectors line up):
 *   0x08 kernel code 32   0x10 kernel code 64   0x18 kernel data   0x23 user code 32   0x2b user data
 *   0x33 user code 64     0x38 data DPL 1       0x40 TSS (16 bytes in IA-32e mode)     0x50 LDT (16 bytes)
 *   0x60 call gate (DPL 3; 16 bytes in IA-32e mode)   0x78 conforming code DPL 0 (readable)   0x80 expand-down data (read-only)
 */
import { Ram, PhysBus, PortBus } from '../../../src/memory/index.js';
import { VirtualClock } from '../../../src/machine/clock.js';
import { CPU } from '../../../src/cpu/cpu.js';
import { Executor } from '../../../src/cpu/exec.js';
import { decode } from '../../../src/cpu/decoder.js';
import { CpuFault } from '../../../src/cpu/fault.js';
import {
  CS, SS, DS, ES, FS, GS, TR, LDTR, RSP, CR0_PE, CR0_PG, CR0_WP, CR0_NE, CR0_MP, CR0_ET, CR4_PAE, CR4_OSFXSR,
  CR4_OSXMMEXCPT, EFER_LME, EFER_LMA, EFER_NXE, EFER_SCE,
} from '../../../src/cpu/regs.js';

export const GDT = 0x1000, IDT = 0x2000, STUBS = 0x3000, TSS = 0x4000, IOMAP = TSS + 0x68, LDT = 0x7000;
export const PT = 0x10000, CODE = 0x100000, STACK_TOP = 0x1ff000, DATA = 0x300000;
/** PML4, PDPT, PD, and the 4-KiB page table that maps 0..2 MiB (the rest uses 2-MiB pages). */
export const PML4 = PT, PDPT = PT + 0x1000, PD = PT + 0x2000, PT0 = PT + 0x3000;
/** 32-bit/PAE-free identity map for 32-bit paging tests: page directory with 4-MiB pages. */
export const PD32 = PT + 0x5000;
export const SEL = {
  KCODE32: 0x08, KCODE64: 0x10, KDATA: 0x18, UCODE32: 0x23, UDATA: 0x2b, UCODE64: 0x33, DPL1DATA: 0x38,
  TSS: 0x40, LDT: 0x50, CALLGATE: 0x60, CONFORMING: 0x78, EXPDOWN: 0x80,
} as const;
export const GDT_LIMIT = 0x87;
export const TSS_LIMIT = 0x68 + 8192;  // the 8-KiB I/O bitmap and its terminating 0xFF byte

export interface Machine {
  cpu: CPU; bus: PhysBus; io: PortBus; exec: Executor;
  /** Write `code` at CODE (or `at`), point RIP at it and run up to `max` instructions (a HLT with IF = 0 stops). */
  run(code: string | Uint8Array, max?: number, at?: number): void;
  /** Execute exactly one instruction at CODE directly (no delivery); returns the fault vector or undefined. */
  exec1(code: string | Uint8Array): number | undefined;
  /** The vector whose stub stopped the machine, or undefined (stopped elsewhere). */
  vector(): number | undefined;
}

/** Descriptor image as [low dword, high dword]. */
export function desc(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = ((base >>> 24) << 24) | ((flags & 0xf) << 20) | (((limit >>> 16) & 0xf) << 16) | ((access & 0xff) << 8) | ((base >>> 16) & 0xff);
  return [lo >>> 0, hi >>> 0];
}

export const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

export function createMachine(opts: { mode?: 'long' | 'prot32'; cpl?: 0 | 3; paging?: boolean } = {}): Machine {
  const mode = opts.mode ?? 'long', cpl = opts.cpl ?? 0;
  const bus = new PhysBus(new Ram(8 * 1024 * 1024));
  const io = new PortBus();
  const cpu = new CPU(bus, io, new VirtualClock());
  const long = mode === 'long';

  // GDT
  const put = (sel: number, d: [number, number]) => { bus.write32(GDT + sel, d[0]); bus.write32(GDT + sel + 4, d[1]); };
  put(0x08, desc(0, 0xfffff, 0x9b, 0xc));
  put(0x10, desc(0, 0xfffff, 0x9b, 0xa));
  put(0x18, desc(0, 0xfffff, 0x93, 0xc));
  put(0x20, desc(0, 0xfffff, 0xfb, 0xc));
  put(0x28, desc(0, 0xfffff, 0xf3, 0xc));
  put(0x30, desc(0, 0xfffff, 0xfb, 0xa));
  put(0x38, desc(0, 0xfffff, 0xb3, 0xc));
  put(0x40, desc(TSS, TSS_LIMIT, 0x89, 0));        // available 32/64-bit TSS; LTR marks it busy
  put(0x50, desc(LDT, 0x17, 0x82, 0));
  put(0x60, [(SEL.KCODE32 << 16) | 0x1234, 0xec00]); // 32-bit call gate, DPL 3, offset 0x1234
  put(0x78, desc(0, 0xfffff, 0x9f, 0xc));          // conforming, readable, accessed code, DPL 0
  put(0x80, desc(0, 0xfff, 0x95, 0x4));            // expand-down read-only data, DPL 0
  // LDT with one data segment (selector 0x04 | TI)
  bus.write32(LDT, desc(0, 0xfffff, 0xf3, 0xc)[0]); bus.write32(LDT + 4, desc(0, 0xfffff, 0xf3, 0xc)[1]);

  // IDT: every vector → its stub (HLT) via an interrupt gate, DPL 0
  for (let v = 0; v < 32; v++) {
    const target = STUBS + v * 8;
    bus.write8(target, 0xf4);
    if (long) {
      const g = IDT + v * 16;
      bus.write32(g, (SEL.KCODE64 << 16) | (target & 0xffff));
      bus.write32(g + 4, (target & 0xffff0000) | 0x8e00);
      bus.write32(g + 8, 0); bus.write32(g + 12, 0);
    } else {
      const g = IDT + v * 8;
      bus.write32(g, (SEL.KCODE32 << 16) | (target & 0xffff));
      bus.write32(g + 4, (target & 0xffff0000) | 0x8e00);
    }
  }
  // TSS: stacks for CPL 0, I/O bitmap right after the 104-byte header (all ports allowed) + 0xFF terminator
  if (long) { bus.write32(TSS + 4, STACK_TOP - 0x800); bus.write32(TSS + 8, 0); }
  else { bus.write32(TSS + 4, STACK_TOP - 0x800); bus.write32(TSS + 8, SEL.KDATA); }
  bus.write16(TSS + 0x66, 0x68);
  bus.write8(IOMAP + 8192, 0xff);

  // 4-level page tables: PML4[0] → PDPT[0] → PD; PD[0] → PT0 (4-KiB pages for 0..2 MiB), PD[1..3] 2-MiB pages. U=1 W=1.
  bus.write32(PML4, PDPT | 7);
  bus.write32(PDPT, PD | 7);
  bus.write32(PD, PT0 | 7);
  for (let i = 0; i < 512; i++) bus.write32(PT0 + i * 8, (i * 4096) | 7);
  for (let i = 1; i < 4; i++) bus.write32(PD + i * 8, (i << 21) | 0x87);
  // 32-bit paging directory: 4-MiB pages for 0..8 MiB (needs CR4.PSE)
  bus.write32(PD32, 0x87); bus.write32(PD32 + 4, (1 << 22) | 0x87);

  cpu.gdtBase = GDT; cpu.gdtLimit = GDT_LIMIT;
  cpu.idtBase = IDT; cpu.idtLimit = long ? 32 * 16 - 1 : 32 * 8 - 1;
  const seg = (s: number, sel: number, base: number, limit: number, ar: number) => {
    cpu.segSel[s] = sel; cpu.segBase[s] = base; cpu.segLimit[s] = limit; cpu.segAr[s] = ar;
  };
  if (long) {
    cpu.cr0 = CR0_PE | CR0_PG | CR0_WP | CR0_NE | CR0_MP | CR0_ET;
    cpu.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    cpu.cr3 = PML4;
    cpu.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
    if (cpl === 0) {
      seg(CS, SEL.KCODE64, 0, 0xffffffff, 0xa09b);
      for (const s of [SS, DS, ES]) seg(s, SEL.KDATA, 0, 0xffffffff, 0xc093);
    } else {
      seg(CS, SEL.UCODE64, 0, 0xffffffff, 0xa0fb);
      for (const s of [SS, DS, ES]) seg(s, SEL.UDATA, 0, 0xffffffff, 0xc0f3);
    }
    for (const s of [FS, GS]) seg(s, 0, 0, 0, 0x10000);
    seg(TR, SEL.TSS, TSS, TSS_LIMIT, 0x8b);
  } else {
    cpu.cr0 = CR0_PE | CR0_NE | CR0_MP | CR0_ET | (opts.paging ? CR0_PG : 0);
    cpu.cr4 = CR4_OSFXSR | CR4_OSXMMEXCPT | (opts.paging ? 0x10 /* PSE */ : 0);
    cpu.cr3 = PD32;
    cpu.efer = 0;
    if (cpl === 0) {
      seg(CS, SEL.KCODE32, 0, 0xffffffff, 0xc09b);
      for (const s of [SS, DS, ES, FS, GS]) seg(s, SEL.KDATA, 0, 0xffffffff, 0xc093);
    } else {
      seg(CS, SEL.UCODE32, 0, 0xffffffff, 0xc0fb);
      for (const s of [SS, DS, ES, FS, GS]) seg(s, SEL.UDATA, 0, 0xffffffff, 0xc0f3);
    }
    seg(TR, SEL.TSS, TSS, TSS_LIMIT, 0x8b);
  }
  bus.write32(GDT + SEL.TSS + 4, bus.read32(GDT + SEL.TSS + 4) | 0x200); // TR is loaded: its descriptor is busy
  seg(LDTR, 0, 0, 0, 0x10000);
  cpu.lo[RSP] = STACK_TOP; cpu.hi[RSP] = 0;
  cpu.setFlags(2);
  cpu.updateMode();
  cpu.flushTlb();

  const exec = new Executor(cpu);
  const m: Machine = {
    cpu, bus, io, exec,
    run(code, max = 10_000, at = CODE) {
      bus.writeBytes(at, typeof code === 'string' ? hex(code) : code);
      cpu.rip = at; cpu.nip = at; cpu.stop = null; cpu.halted = false;
      exec.run(cpu.clock.icount + max);
    },
    exec1(code) {
      bus.writeBytes(CODE, typeof code === 'string' ? hex(code) : code);
      cpu.rip = CODE;
      try {
        const d = decode(i => cpu.fetch8(CODE + i), cpu.decMode);
        cpu.nip = CODE + d.len;
        d.fn(cpu, d);
        cpu.rip = cpu.nip;
        return undefined;
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        return e.vector;
      }
    },
    vector() {
      const r = cpu.rip - 1 - STUBS;
      return r >= 0 && r < 32 * 8 && r % 8 === 0 ? r / 8 : undefined;
    },
  };
  void EFER_LMA;
  return m;
}
