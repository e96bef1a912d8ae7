/**
 * One benchmark run on vmxray through the Machine API: boot bench.elf with
 * `-append "<workload> <iterations>"` (or vmxexit.elf with patched parameters), run until the guest writes to isa-debug-exit, and time
 * only the run (not the machine's construction or the kernel load).
 */
import { Machine } from '../src/machine/machine.js';
import { Debugger } from '../src/debug/index.js';
import { parseChecksum, patchParams, type Workload } from './workloads.js';

export interface VmxrayRun {
  iterations: number;
  /** Retired instructions, m.clock.icount (includes the kernel's ~40 k-instruction setup). */
  instructions: number;
  seconds: number;
  /** 'exit' when the kernel finished; anything else is a failure (message says why). */
  reason: string;
  message: string;
  checksum: string | null;
}

export function runVmxray(image: Uint8Array, w: Workload, iterations: number): VmxrayRun {
  const m = new Machine({ memory: 32 * 1024 * 1024 });
  // bench.elf reads the command line; the hypervisor kernel (vmxexit.elf) its VXBPARAM block
  if (w.kernel === 'vmx') m.boot(patchParams(image, w, iterations), {});
  else m.boot(image, { cmdline: `${w.name} ${iterations}` });
  if (process.env.VMXRAY_BENCH_DEBUGGER === '1') {
    // --debugger: what an attached gdb with a breakpoint and a watchpoint elsewhere costs
    const dbg = new Debugger(m);
    dbg.addBreakpoint(0xffffffff80dead00n);
    dbg.addWatchpoint(0x1f00000n, 8, 'write');
  }
  // generous cap: a kernel that never exits must not hang the benchmark
  const cap = iterations * w.insnsPerIter * 4 + 10_000_000;
  const t0 = process.hrtime.bigint();
  const r = m.runFor(cap);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    iterations, instructions: m.clock.icount, seconds,
    reason: r.reason, message: r.message, checksum: parseChecksum(m.debugLog),
  };
}
