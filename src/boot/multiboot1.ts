import type { PhysBus } from '../memory/index.js';
import { ImageReader } from './bytes.js';
import { isElf, parseElf } from './elf.js';
import { BootError, hex, magic } from './errors.js';
import { multiboot1Info } from './info.js';
import { kernelFromAddresses, kernelFromElf, type KernelImage } from './kernel.js';
import { loadAndHandOff } from './load.js';
import { magicNearMisses } from './scan.js';
import { describeFile } from './sniff.js';
import type { BootOptions, EntryState } from './types.js';

/**
 * Multiboot Specification 0.6.96: the OS image header (§3.1) and the hand-off (§3.2, §3.3).
 */
export const MB1_HEADER_MAGIC = 0x1badb002;
export const MB1_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must lie completely within the first 8192 bytes, 32-bit aligned. */
export const MB1_SEARCH = 8192;
export const MB1_HEADER_ALIGN = 4;

/** Header flag bits (§3.1.2). Bits 0–15 are requirements; bits 16–31 optional features. */
export const MB1_FLAG_PAGE_ALIGN = 1 << 0;
export const MB1_FLAG_MEMORY_INFO = 1 << 1;
export const MB1_FLAG_VIDEO_MODE = 1 << 2;
export const MB1_FLAG_AOUT_KLUDGE = 1 << 16;
/** Required bits vmxray (like GRUB) cannot honour: everything in 0–15 but 0, 1 and 2. */
export const MB1_UNSUPPORTED_FLAGS = 0x0000fff8;

export interface Multiboot1Header {
  /** File offset of the magic. */
  offset: number;
  flags: number;
  /** header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr (valid with flag bit 16). */
  address?: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number };
  /** mode_type, width, height, depth (valid with flag bit 2); vmxray stays in text mode. */
  video?: { modeType: number; width: number; height: number; depth: number };
}

export interface HeaderScan<T> { header?: T; notes: string[] }

/** The first valid header (magic and checksum) in the first 8192 bytes, as GRUB finds it. */
export function findMultiboot1Header(image: Uint8Array): HeaderScan<Multiboot1Header> {
  const r = new ImageReader(image, 'the kernel image');
  const notes: string[] = [];
  const seen = new Set<number>();
  const end = Math.min(image.length, MB1_SEARCH);
  for (let off = 0; off + 12 <= end; off += MB1_HEADER_ALIGN) {
    if (r.peek32(off) !== MB1_HEADER_MAGIC) continue;
    seen.add(off);
    const flags = r.peek32(off + 4)!;
    const checksum = r.peek32(off + 8)!;
    const sum = (MB1_HEADER_MAGIC + flags + checksum) >>> 0;
    if (sum !== 0) {
      notes.push(`a multiboot magic ${magic(MB1_HEADER_MAGIC)} at file offset ${hex(off)} has a bad checksum: magic + flags (${hex(flags)}) + checksum (${hex(checksum)}) = ${hex(sum)} modulo 2^32, must be 0`);
      continue;
    }
    const h: Multiboot1Header = { offset: off, flags };
    const what = `the multiboot header at file offset ${hex(off)}`;
    const hr = new ImageReader(image, what);
    if (flags & MB1_FLAG_AOUT_KLUDGE) {
      if (off + 32 > MB1_SEARCH) throw new BootError(`${what} sets flag bit 16 (address fields), so it is 32 bytes long and extends past the first ${MB1_SEARCH} bytes, where the specification requires the whole header to lie`);
      h.address = {
        headerAddr: hr.u32(off + 12, 'header_addr'), loadAddr: hr.u32(off + 16, 'load_addr'),
        loadEndAddr: hr.u32(off + 20, 'load_end_addr'), bssEndAddr: hr.u32(off + 24, 'bss_end_addr'),
        entryAddr: hr.u32(off + 28, 'entry_addr'),
      };
    }
    if ((flags & MB1_FLAG_VIDEO_MODE) && hr.has(off + 32, 16)) {
      h.video = { modeType: hr.u32(off + 32, 'mode_type'), width: hr.u32(off + 36, 'width'), height: hr.u32(off + 40, 'height'), depth: hr.u32(off + 44, 'depth') };
    }
    return { header: h, notes };
  }
  notes.push(...magicNearMisses(image, MB1_HEADER_MAGIC, MB1_HEADER_ALIGN, MB1_SEARCH, 'multiboot', seen));
  return { notes };
}

const FLAG_NAMES: Record<number, string> = { 0: 'page-aligned modules', 1: 'memory information', 2: 'video mode table' };

/** Load a kernel with a multiboot v1 header into guest memory and describe the entry state. */
export function loadMultiboot1(bus: PhysBus, image: Uint8Array, h: Multiboot1Header, opts: BootOptions): EntryState {
  const where = `the multiboot header at file offset ${hex(h.offset)}`;
  const unsupported = h.flags & MB1_UNSUPPORTED_FLAGS;
  if (unsupported) {
    const bits = [...Array(16).keys()].filter(b => unsupported & (1 << b));
    throw new BootError(`${where} requires feature${bits.length > 1 ? 's' : ''} vmxray does not provide: flag bit${bits.length > 1 ? 's' : ''} ${bits.join(', ')} (flags ${hex(h.flags)}). Bits 0–15 are requirements; vmxray provides bit 0 (${FLAG_NAMES[0]}), 1 (${FLAG_NAMES[1]}) and 2 (${FLAG_NAMES[2]}; it stays in text mode)`);
  }
  let k: KernelImage;
  if (h.address) {
    k = kernelFromAddresses({ headerOffset: h.offset, ...h.address }, image, `multiboot kernel (${where}, a.out kludge)`);
  } else {
    if (!isElf(image)) {
      throw new BootError(`${where} does not set flag bit 16 (load addresses in the header, the "a.out kludge"), so the kernel must be an ELF file; this is ${describeFile(image)}`);
    }
    k = kernelFromElf(parseElf(image), image, 'multiboot kernel');
  }
  return loadAndHandOff(bus, k, opts, { protocol: 'multiboot1', magic: MB1_BOOTLOADER_MAGIC, buildInfo: multiboot1Info });
}
