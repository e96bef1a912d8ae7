/**
 * src/boot — loading a kernel into guest memory the way a multiboot boot loader (GRUB, QEMU's
 * -kernel) does, and the CPU state to enter it with.
 *
 *   loadKernel(bus, image, { cmdline, modules })  →  { eip, eax, ebx, esp, segments, ... }
 *
 * The machine then starts the CPU in 32-bit protected mode with paging off and flat segments
 * at `eip`. Every failure is a BootError saying what was expected and what was found.
 */
import type { PhysBus } from '../memory/index.js';
import { describeElf, isElf, parseElf } from './elf.js';
import { BootError, magic } from './errors.js';
import { kernelFromElf } from './kernel.js';
import { loadAndHandOff } from './load.js';
import { MB1_HEADER_MAGIC, MB1_SEARCH, findMultiboot1Header, loadMultiboot1 } from './multiboot1.js';
import { MB2_HEADER_MAGIC, MB2_SEARCH, findMultiboot2Header, loadMultiboot2 } from './multiboot2.js';
import { describeFile } from './sniff.js';
import type { BootOptions, EntryState } from './types.js';

export { BootError } from './errors.js';
export type { BootModule, BootOptions, EntryState, LoadedSegment } from './types.js';
export { parseElf, describeElf, isElf } from './elf.js';
export type { ElfFile, ElfProgramHeader } from './elf.js';
export { describeFile } from './sniff.js';
export { pcMemoryMap, E820_RAM, E820_RESERVED } from './e820.js';
export type { MemoryRegion } from './e820.js';
export { MB1_HEADER_MAGIC, MB1_BOOTLOADER_MAGIC, findMultiboot1Header } from './multiboot1.js';
export { MB2_HEADER_MAGIC, MB2_BOOTLOADER_MAGIC, findMultiboot2Header } from './multiboot2.js';

/** Load a multiboot (v1 or v2) kernel and its modules; build the boot information. Throws BootError. */
export function loadKernel(bus: PhysBus, image: Uint8Array, opts: BootOptions = {}): EntryState {
  return guarded(() => {
    if (!(image instanceof Uint8Array)) throw new BootError('the kernel image is not a byte array');
    // Scan lazily: a malformed header of the protocol not used must not stop the other.
    const want = opts.protocol;
    if (want !== 'multiboot2') {
      const mb1 = findMultiboot1Header(image);
      if (mb1.header) return loadMultiboot1(bus, image, mb1.header, opts);
      if (want === 'multiboot1') throw new BootError(`multiboot (v1) was asked for, but ${noHeader(image, mb1.notes, 1)}`);
    }
    const mb2 = findMultiboot2Header(image);
    if (mb2.header) return loadMultiboot2(bus, image, mb2.header, opts);
    if (want === 'multiboot2') throw new BootError(`multiboot2 was asked for, but ${noHeader(image, mb2.notes, 2)}`);
    const mb1 = findMultiboot1Header(image);
    throw new BootError(noBootableHeader(image, [...mb1.notes, ...mb2.notes]));
  });
}

/**
 * Load a bare ELF executable with no multiboot header: PT_LOAD segments at p_paddr, entry
 * translated as for multiboot, no boot information (EAX = EBX = 0), a stack as for multiboot.
 * For vmxray's own small test guests; real kernels go through `loadKernel`.
 */
export function loadPlainElf(bus: PhysBus, image: Uint8Array): EntryState {
  return guarded(() => {
    if (!isElf(image)) throw new BootError(`not an ELF file: this is ${describeFile(image)}`);
    const k = kernelFromElf(parseElf(image), image, 'ELF kernel');
    return loadAndHandOff(bus, k, {}, { protocol: 'elf', magic: 0 });
  });
}

function noHeader(image: Uint8Array, notes: string[], v: 1 | 2): string {
  const base = v === 1
    ? `there is no multiboot header in the first ${MB1_SEARCH} bytes (magic ${magic(MB1_HEADER_MAGIC)}, 4-byte aligned)`
    : `there is no multiboot2 header in the first ${MB2_SEARCH} bytes (magic ${magic(MB2_HEADER_MAGIC)}, 8-byte aligned)`;
  return `${base}${notesText(notes)}; the file is ${describeFile(image)}`;
}

function noBootableHeader(image: Uint8Array, notes: string[]): string {
  const what = `no multiboot header in the first ${MB1_SEARCH} bytes (magic ${magic(MB1_HEADER_MAGIC)}, 4-byte aligned) and no multiboot2 header in the first ${MB2_SEARCH} bytes (magic ${magic(MB2_HEADER_MAGIC)}, 8-byte aligned)`;
  if (isElf(image)) {
    let kind: string;
    try { kind = describeElf(parseElf(image)); } catch (e) { kind = `a damaged ELF file (${e instanceof Error ? e.message : String(e)})`; }
    return `${what}${notesText(notes)}; this is ${kind}. vmxray boots multiboot kernels: link a multiboot header into the kernel's first 8 KiB`;
  }
  return `not a loadable kernel: expected an ELF file with a multiboot header, found ${describeFile(image)}${notes.length ? ` (${what}${notesText(notes)})` : ''}`;
}

function notesText(notes: string[]): string {
  return notes.length ? ` (${notes.join('; ')})` : '';
}

/** Whatever goes wrong inside the loader reaches the caller as a BootError. */
function guarded<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof BootError) throw e;
    const err = new BootError(`internal error while loading the kernel (a bug in vmxray's loader; please report it): ${e instanceof Error ? e.message : String(e)}`);
    (err as { cause?: unknown }).cause = e;
    throw err;
  }
}
