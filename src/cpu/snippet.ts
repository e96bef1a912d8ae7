import { Ram } from '../memory/ram.js';
import { PhysBus } from '../memory/physbus.js';
import { PortBus } from '../memory/ports.js';
import { VirtualClock } from '../machine/clock.js';
import { CPU } from './cpu.js';
import { decode } from './decoder.js';
import { compileBlock } from './jit.js';
import { compute } from './ops/alu.js';
import { getCF } from './flags.js';
import { CpuFault } from './fault.js';
import { CS, SS, DS, ES, FS, GS, TR, CR0_PE, CR0_PG, CR0_WP, CR0_NE, CR0_MP, CR4_PAE, CR4_OSFXSR, CR4_OSXMMEXCPT, EFER_LME, EFER_LMA, EFER_NXE, EFER_SCE } from './regs.js';
import { CODE_ADDR, DATA_ADDR, DATA_SIZE, type SnippetState, type SnippetResult } from './snippet-types.js';

/**
 * Run one instruction from a given state in 64-bit user mode (CPL 3), as the native harness of
 * the differential tests does (test/diff). Page tables identity-map the code and data windows
 * with user, writable pages; nothing else is mapped. A fault is reported as its vector, with the
 * state at the fault (RIP = the instruction).
 */
const PT_BASE = 0x100000;

let shared: { cpu: CPU; bus: PhysBus } | null = null;

function machine(): { cpu: CPU; bus: PhysBus } {
  if (shared) return shared;
  const ram = new Ram(CODE_ADDR + 0x200000);
  const bus = new PhysBus(ram);
  const cpu = new CPU(bus, new PortBus(), new VirtualClock());
  // 4-level paging: 4 KiB user pages mapping exactly the code page and the data window (U=1, W=1,
  // A=D=1), so an access just past the window faults as it does natively.
  const pml4 = PT_BASE, pdpt = PT_BASE + 0x1000, pd = PT_BASE + 0x2000;
  bus.write32(pml4, pdpt | 7);
  bus.write32(pdpt, pd | 7);
  let pt = PT_BASE + 0x3000;
  for (const [a, len] of [[DATA_ADDR, DATA_SIZE], [CODE_ADDR, 0x1000]]) {
    bus.write32(pd + Math.floor(a / 0x200000) * 8, pt | 7);
    for (let off = 0; off < len; off += 0x1000) bus.write32(pt + ((a + off) >>> 12 & 0x1ff) * 8, (a + off) | 0x67);
    pt += 0x1000;
  }
  shared = { cpu, bus };
  return shared;
}

function setup(cpu: CPU): void {
  cpu.reset();
  cpu.cr0 = CR0_PE | CR0_PG | CR0_WP | CR0_NE | CR0_MP | 0x10;
  cpu.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
  cpu.cr3 = PT_BASE;
  cpu.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
  // flat 64-bit user code (0x33) and user data (0x2b), as Linux uses
  cpu.segSel[CS] = 0x33; cpu.segBase[CS] = 0; cpu.segLimit[CS] = 0xffffffff; cpu.segAr[CS] = 0xa0fb;
  for (const s of [SS, DS, ES]) { cpu.segSel[s] = 0x2b; cpu.segBase[s] = 0; cpu.segLimit[s] = 0xffffffff; cpu.segAr[s] = 0xc0f3; }
  for (const s of [FS, GS]) { cpu.segSel[s] = 0; cpu.segBase[s] = 0; cpu.segLimit[s] = 0xffffffff; cpu.segAr[s] = 0x10000; }
  // No usable TSS: an I/O-permission check finds TR.limit < 0x67 and raises #GP without reading memory.
  cpu.segLimit[TR] = 0;
  cpu.updateMode();
  cpu.flushTlb();
}

/** A software interrupt or trap (INT3, INTO, INT n, INT1) is reported with RIP after the instruction, as natively. */
class SnippetTrap { constructor(readonly vector: number, readonly rip: number) {} }

const big = (lo: number, hi: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/**
 * `opts.jit`: run the instruction as a one-instruction block compiled by the block compiler
 * (src/cpu/jit.ts), with the data window already in the TLB so inlined loads and stores take
 * their fast path — the compiled code must give exactly the interpreter's results.
 */
export function runSnippet(code: Uint8Array, state: SnippetState, opts: { jit?: boolean } = {}): SnippetResult {
  const { cpu, bus } = machine();
  setup(cpu);
  bus.ram.fill(CODE_ADDR, 4096, 0xcc);
  bus.ram.writeBytes(CODE_ADDR, code);
  bus.ram.writeBytes(DATA_ADDR, state.mem.subarray(0, DATA_SIZE));
  for (let r = 0; r < 16; r++) {
    const v = BigInt.asUintN(64, state.gpr[r]);
    cpu.lo[r] = Number(v & 0xffffffffn) | 0;
    cpu.hi[r] = Number(v >> 32n) | 0;
  }
  for (let r = 0; r < 16; r++) {
    const [lo, hi] = state.xmm[r] ?? [0n, 0n];
    for (const [k, v] of [[0, lo], [2, hi]] as const) {
      cpu.xmm[r * 4 + k] = Number(BigInt.asUintN(64, v) & 0xffffffffn) | 0;
      cpu.xmm[r * 4 + k + 1] = Number(BigInt.asUintN(64, v) >> 32n) | 0;
    }
  }
  cpu.mxcsr = state.mxcsr;
  cpu.setFlags(Number(state.rflags & 0xffffffffn));
  const ripN = Number(BigInt.asIntN(64, state.rip));
  cpu.rip = ripN;
  let exception: number | undefined;
  cpu.onEvent = (vector, _code, _kind, ret) => { throw new SnippetTrap(vector, ret); };
  try {
    const d = decode(i => cpu.fetch8(ripN + i), cpu.decMode);
    cpu.nip = ripN + d.len;
    const f = opts.jit ? compileBlock([Object.assign(d, { off: 0, next: d.len })], getCF as (lf: unknown) => boolean, cpu.decMode) : null;
    if (f) {
      for (let a = DATA_ADDR; a < DATA_ADDR + DATA_SIZE; a += 4096) { cpu.rd8(a); cpu.wr8(a, cpu.rd8(a)); } // warm the TLB
      f(cpu, [d], cpu.lo, cpu.hi, compute, 1);
    } else {
      d.fn(cpu, d);
      cpu.rip = cpu.nip;
    }
  } catch (e) {
    if (e instanceof SnippetTrap) { exception = e.vector; cpu.rip = e.rip; }
    else if (e instanceof CpuFault) { exception = e.vector; cpu.rip = ripN; }
    else throw e;
  } finally { cpu.onEvent = null; }
  if (cpu.stop) throw new Error(cpu.stop.message);
  const gpr: bigint[] = [];
  for (let r = 0; r < 16; r++) gpr.push(big(cpu.lo[r], cpu.hi[r]));
  const xmm: [bigint, bigint][] = [];
  for (let r = 0; r < 16; r++) xmm.push([big(cpu.xmm[r * 4], cpu.xmm[r * 4 + 1]), big(cpu.xmm[r * 4 + 2], cpu.xmm[r * 4 + 3])]);
  return {
    gpr, rip: BigInt.asUintN(64, BigInt(cpu.rip)), rflags: BigInt(cpu.getFlags() >>> 0), xmm, mxcsr: cpu.mxcsr,
    mem: bus.ram.readBytes(DATA_ADDR, DATA_SIZE), exception,
  };
}
