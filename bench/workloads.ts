/**
 * The benchmark workloads (bench/kernels/workloads.inc): the same 64-bit code runs in
 * bench.elf (vmxray, multiboot) and in bochs-boot.bin (Bochs, floppy boot).
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export interface Workload {
  /** Name on the kernel command line and in the table. */
  name: 'hot' | 'mem' | 'rep' | 'call' | 'vmexit';
  /** Which kernel runs it: bench.elf / bochs-boot.bin (default), or the hypervisor vmxexit.elf. */
  kernel?: 'vmx';
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
  /** VM exits per iteration (VMX workloads), for an exits/second figure. */
  exitsPerIter?: number;
}

export const WORKLOADS: readonly Workload[] = [
  { name: 'hot', id: 1, what: 'register loop: 8 ALU ops + dec/jnz', insnsPerIter: 10, bytesPerIter: 0, costPerIter: 10 },
  { name: 'mem', id: 2, what: '64 KiB memcpy, 64-bit mov loads/stores', insnsPerIter: 3 + 2048 * 12 + 2, bytesPerIter: 65536, costPerIter: 24581 },
  { name: 'rep', id: 3, what: '64 KiB memcpy, one rep movsq', insnsPerIter: 5, bytesPerIter: 65536, costPerIter: 5 + 8192 },
  // fib(20): 10945 inner calls of 12 instructions, 10946 leaves of 4, + 5 in the pass loop
  { name: 'call', id: 4, what: 'recursive fib(20): call/ret, jb, push/pop', insnsPerIter: 12 * 10945 + 4 * 10946 + 5, bytesPerIter: 0, costPerIter: 175129 },
  // kernels/vmx/vmxexit.c: guest VMCALL + OUT 80H (I/O bitmap) + dec/jnz; per exit the host runs
  // the exit landing, 3 VMREADs + 1 VMWRITE and vmx_enter (VMWRITE HOST_RSP, VMRESUME). The
  // instruction count is the one both vmxray and Bochs retire (VMRESUME counts once; the
  // exits themselves are not instructions); costPerIter sizes the runs (an exit ~ 1500 simple instructions)
  { name: 'vmexit', id: 5, kernel: 'vmx', what: 'hypervisor round trips: guest VMCALL and OUT 80H (I/O bitmap), host advances RIP, VMRESUME', insnsPerIter: 177, bytesPerIter: 0, costPerIter: 3000, exitsPerIter: 2 },
];

const here = dirname(fileURLToPath(import.meta.url));
export const KERNEL_DIR = join(here, 'kernels');
/** The multiboot kernel vmxray boots (`-append "<workload> <iterations>"`). */
export const BENCH_ELF = join(KERNEL_DIR, 'bin', 'bench.elf');
/** Boot sector + workloads for Bochs (padded to a floppy image and patched at run time). */
export const BOCHS_BOOT = join(KERNEL_DIR, 'bin', 'bochs-boot.bin');
/** The hypervisor kernel of the VMX workloads (multiboot, for vmxray). */
export const VMX_ELF = join(KERNEL_DIR, 'bin', 'vmxexit.elf');
/** The same kernel for Bochs: boot sector + flat kernel, padded to a disk image at run time. */
export const VMX_BOCHS = join(KERNEL_DIR, 'bin', 'vmxexit-bochs.bin');

/**
 * Kernels without a command line (vmxexit.elf, bochs-boot.bin) read their parameters from the
 * block after the "VXBPARAM" magic: u32 workload id, u32 iterations. Returns a patched copy.
 */
export function patchParams(image: Uint8Array, w: Workload, iterations: number): Uint8Array {
  const off = Buffer.from(image.buffer, image.byteOffset, image.byteLength).indexOf('VXBPARAM');
  if (off < 0) throw new Error('kernel image has no VXBPARAM block (rebuild with make -C bench/kernels)');
  const copy = image.slice();
  const dv = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  dv.setUint32(off + 8, w.id, true);
  dv.setUint32(off + 12, iterations, true);
  return copy;
}

/** The "VXB <16 hex digits>" line both kernels print to port 0xE9 (null if absent). */
export function parseChecksum(out: string): string | null {
  const m = /VXB ([0-9a-f]{16})/.exec(out);
  return m ? m[1] : null;
}
