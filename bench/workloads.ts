/**
 * The benchmark workloads (bench/kernels/workloads.inc): the same 64-bit code runs in
 * bench.elf (vmxray, multiboot) and in bochs-boot.bin (Bochs, floppy boot).
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export interface Workload {
  /** Name on the kernel command line and in the table. */
  name: 'hot' | 'mem' | 'rep' | 'call';
  /** Id in the Bochs image's parameter block (WL_* in layout.inc). */
  id: number;
  /** What one iteration does. */
  what: string;
  /** Architectural instructions per iteration, counted from the asm (REP MOVSQ counts once). */
  insnsPerIter: number;
  /** Bytes copied per iteration (memory workloads), for a MiB/s figure. */
  bytesPerIter: number;
  /** Work per iteration in "simple instructions", to size the runs (REP MOVSQ: one per element). */
  costPerIter: number;
}

export const WORKLOADS: readonly Workload[] = [
  { name: 'hot', id: 1, what: 'register loop: 8 ALU ops + dec/jnz', insnsPerIter: 10, bytesPerIter: 0, costPerIter: 10 },
  { name: 'mem', id: 2, what: '64 KiB memcpy, 64-bit mov loads/stores', insnsPerIter: 3 + 2048 * 12 + 2, bytesPerIter: 65536, costPerIter: 24581 },
  { name: 'rep', id: 3, what: '64 KiB memcpy, one rep movsq', insnsPerIter: 5, bytesPerIter: 65536, costPerIter: 5 + 8192 },
  // fib(20): 10945 inner calls of 12 instructions, 10946 leaves of 4, + 5 in the pass loop
  { name: 'call', id: 4, what: 'recursive fib(20): call/ret, jb, push/pop', insnsPerIter: 12 * 10945 + 4 * 10946 + 5, bytesPerIter: 0, costPerIter: 175129 },
];

const here = dirname(fileURLToPath(import.meta.url));
export const KERNEL_DIR = join(here, 'kernels');
/** The multiboot kernel vmxray boots (`-append "<workload> <iterations>"`). */
export const BENCH_ELF = join(KERNEL_DIR, 'bin', 'bench.elf');
/** Boot sector + workloads for Bochs (padded to a floppy image and patched at run time). */
export const BOCHS_BOOT = join(KERNEL_DIR, 'bin', 'bochs-boot.bin');

/** The "VXB <16 hex digits>" line both kernels print to port 0xE9 (null if absent). */
export function parseChecksum(out: string): string | null {
  const m = /VXB ([0-9a-f]{16})/.exec(out);
  return m ? m[1] : null;
}
