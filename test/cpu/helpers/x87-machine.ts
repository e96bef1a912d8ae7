/**
 * A machine for multi-instruction x87 tests: the shared system-test machine (helpers/machine.ts:
 * 64-bit or 32-bit protected mode at CPL 0, faults stop at a HLT stub and `vector()` names them),
 * or a bare real-address-mode CPU. Code runs through the real Executor and ends at an appended HLT.
 *
 * 64-bit / protected mode: code at CODE (0x100000), data window at DATA (0x300000), RDI/EDI = DATA.
 * Real mode: CS = DS = 0, code at 0x1000, data at 0x3000, DI = 0x3000; the IVT sends every vector to a HLT stub.
 */
import { Ram, PhysBus, PortBus } from '../../../src/memory/index.js';
import { VirtualClock } from '../../../src/machine/clock.js';
import { CPU } from '../../../src/cpu/cpu.js';
import { Executor } from '../../../src/cpu/exec.js';
import { CS, DS, ES, SS, FS, GS, CR0_NE, CR0_ET, RDI } from '../../../src/cpu/regs.js';
import { createMachine, hex, CODE, DATA } from './machine.js';

export { hex };

export interface X87Run {
  /** The fault vector that stopped the run (undefined: ran to the final HLT). */
  vector: number | undefined;
  /** Bytes of the data window after the run. */
  data: Uint8Array;
}
export interface X87Machine {
  cpu: CPU;
  bus: PhysBus;
  data: number;
  /**
   * Reset the FPU (power-on state) and the data window, put `init` into it, run `code` (hex or
   * bytes) + HLT. `keep`: leave the FPU state and the data window as the previous run left them.
   */
  run(code: string | Uint8Array, init?: Uint8Array | string, max?: number, keep?: boolean): X87Run;
}

const DATA_LEN = 0x400;

export function x87Machine(mode: 'long' | 'prot32' | 'real' = 'long'): X87Machine {
  if (mode === 'real') return realMachine();
  const m = createMachine({ mode, cpl: 0 });
  const { cpu, bus } = m;
  return {
    cpu, bus, data: DATA,
    run(code, init, max = 10_000, keep = false) {
      if (!keep) prepare(cpu, bus, DATA, init);
      cpu.lo[RDI] = DATA; cpu.hi[RDI] = 0;
      const bytes = typeof code === 'string' ? hex(code) : code;
      m.run(concat(bytes, [0xf4]), max);
      const vector = cpu.rip === CODE + bytes.length + 1 ? undefined : m.vector();
      return { vector, data: bus.ram.readBytes(DATA, DATA_LEN) };
    },
  };
}

function prepare(cpu: CPU, bus: PhysBus, data: number, init: Uint8Array | string | undefined): void {
  cpu.fpu.reset();
  bus.ram.fill(data, DATA_LEN, 0);
  if (init !== undefined) bus.ram.writeBytes(data, typeof init === 'string' ? hex(init) : init);
}
function concat(a: Uint8Array, b: number[]): Uint8Array {
  const r = new Uint8Array(a.length + b.length);
  r.set(a); r.set(b, a.length);
  return r;
}

/** Real-address mode: flat 64 KiB segments at 0, IVT at 0 with every vector → a HLT stub at 0x500 + 4·v. */
function realMachine(): X87Machine {
  const bus = new PhysBus(new Ram(1024 * 1024));
  const cpu = new CPU(bus, new PortBus(), new VirtualClock());
  const exec = new Executor(cpu);
  const CODE_R = 0x1000, DATA_R = 0x3000, STUBS = 0x500;
  for (let v = 0; v < 32; v++) { bus.write8(STUBS + 4 * v, 0xf4); bus.write16(v * 4, STUBS + 4 * v); bus.write16(v * 4 + 2, 0); }
  return {
    cpu, bus, data: DATA_R,
    run(code, init, max = 10_000, keep = false) {
      if (!keep) prepare(cpu, bus, DATA_R, init);
      cpu.cr0 = 0x60000000 | CR0_ET | CR0_NE;
      for (const s of [CS, DS, ES, SS, FS, GS]) { cpu.segSel[s] = 0; cpu.segBase[s] = 0; cpu.segLimit[s] = 0xffff; cpu.segAr[s] = s === CS ? 0x9b : 0x93; }
      cpu.idtBase = 0; cpu.idtLimit = 0x3ff;
      cpu.lo[4] = 0x7000; cpu.lo[RDI] = DATA_R;
      cpu.setFlags(2);
      cpu.updateMode(); cpu.flushTlb();
      const bytes = typeof code === 'string' ? hex(code) : code;
      bus.writeBytes(CODE_R, concat(bytes, [0xf4]));
      cpu.rip = CODE_R; cpu.nip = CODE_R; cpu.stop = null; cpu.halted = false;
      exec.run(cpu.clock.icount + max);
      const end = cpu.rip - 1;
      const vector = end === CODE_R + bytes.length ? undefined : end >= STUBS && end < STUBS + 128 && (end - STUBS) % 4 === 0 ? (end - STUBS) / 4 : -1;
      return { vector, data: bus.ram.readBytes(DATA_R, DATA_LEN) };
    },
  };
}
