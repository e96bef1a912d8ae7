import { alignUp, cString } from './bytes.js';
import { FOUR_GIB, HIGH_MEMORY_BASE } from './e820.js';
import { BootError, hex, size } from './errors.js';
import type { MemoryPlan } from './layout.js';
import type { BootModule } from './types.js';

/**
 * Where vmxray puts what the boot loader adds to the kernel: modules, the boot information
 * block, and the stack. The kernel's own segments are placed first (at the addresses it asks
 * for); these then go wherever they do not collide with it.
 */

export const PAGE_SIZE = 0x1000;
/** Where the boot information goes when that is free (QEMU puts its multiboot info here too). */
export const BOOT_INFO_ADDR = 0x9000;
/** Low-memory allocations start above the real-mode IVT and BIOS data area. */
export const LOW_ALLOC_MIN = 0x1000;
export const LOW_ALLOC_MAX = 0x9fc00;
/** The stack: 16 KiB at 0x7C000–0x7FFFF; ESP starts 0x100 below its top (0x7FF00), so a C
 *  entry function that peeks at "its caller's" arguments above ESP still reads RAM. */
export const STACK_BASE = 0x7c000;
export const STACK_SIZE = 0x4000;
export const STACK_TOP_SLACK = 0x100;

export interface PlacedModule { start: number; end: number; data: Uint8Array; cmdline: Uint8Array; text: string; name?: string }

/**
 * Modules go one after another, each on a page boundary (multiboot v1 flag bit 0 and the
 * multiboot2 module-alignment tag ask for it; vmxray, like GRUB, always does it), from the
 * first page after the kernel's highest segment (and not below 1 MiB).
 */
export function planModules(plan: MemoryPlan, modules: BootModule[], kernelEnd: number): PlacedModule[] {
  let next = alignUp(Math.max(kernelEnd, HIGH_MEMORY_BASE), PAGE_SIZE);
  return modules.map((m, i) => {
    const label = `module ${i}${m.name ? ` (${m.name})` : ''}`;
    const labelSized = `module ${i} (${m.name ? `${m.name}, ` : ''}${size(m.data?.length ?? 0)})`;
    if (!(m.data instanceof Uint8Array)) throw new BootError(`${label}: its data is not a byte array`);
    const cmdline = cString(m.cmdline ?? '', `the string of ${label}`);
    const at = plan.allocate(m.data.length, PAGE_SIZE, labelSized, { min: next, max: FOUR_GIB });
    if (at === undefined) {
      throw new BootError(`${labelSized} does not fit in RAM after ${hex(next)}: the machine has ${size(plan.ramSize)} of RAM, already holding ${plan.describe()}; give the machine more memory`);
    }
    next = alignUp(at + m.data.length, PAGE_SIZE);
    const placed: PlacedModule = { start: at, end: at + m.data.length, data: m.data, cmdline, text: m.cmdline ?? '' };
    if (m.name !== undefined) placed.name = m.name;
    return placed;
  });
}

/** The boot information block: at 0x9000 if free, else elsewhere below 640 KiB, else anywhere below 4 GiB. */
export function planBootInfo(plan: MemoryPlan, length: number): number {
  const what = `boot information (${length} bytes)`;
  const at = plan.allocate(length, 8, what, { min: LOW_ALLOC_MIN, max: LOW_ALLOC_MAX, prefer: BOOT_INFO_ADDR })
    ?? plan.allocate(length, 8, what, { min: LOW_ALLOC_MIN, max: FOUR_GIB });
  if (at === undefined) throw new BootError(`no room for the ${what} in RAM below 4 GiB; memory holds ${plan.describe()}`);
  return at;
}

/** The initial stack; returns its base (ESP = base + STACK_SIZE - STACK_TOP_SLACK). */
export function planStack(plan: MemoryPlan): number {
  const what = `the initial stack (${size(STACK_SIZE)})`;
  const at = plan.allocate(STACK_SIZE, 16, what, { min: LOW_ALLOC_MIN, max: LOW_ALLOC_MAX, prefer: STACK_BASE })
    ?? plan.allocate(STACK_SIZE, 16, what, { min: LOW_ALLOC_MIN, max: FOUR_GIB });
  if (at === undefined) throw new BootError(`no room for ${what} in RAM below 4 GiB; memory holds ${plan.describe()}`);
  return at;
}
