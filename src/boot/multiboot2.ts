import type { PhysBus } from '../memory/index.js';
import { ImageReader, alignUp } from './bytes.js';
import { isElf, parseElf } from './elf.js';
import { BootError, hex, magic } from './errors.js';
import {
  MB2_TAG_BASIC_MEMINFO, MB2_TAG_BOOT_LOADER_NAME, MB2_TAG_CMDLINE, MB2_TAG_END, MB2_TAG_FRAMEBUFFER,
  MB2_TAG_LOAD_BASE_ADDR, MB2_TAG_MMAP, MB2_TAG_MODULE, multiboot2Info,
} from './info.js';
import { kernelEnd, kernelFromAddresses, kernelFromElf, type KernelImage } from './kernel.js';
import { loadAndHandOff } from './load.js';
import type { HeaderScan } from './multiboot1.js';
import { magicNearMisses } from './scan.js';
import { describeFile } from './sniff.js';
import type { BootOptions, EntryState } from './types.js';

/**
 * Multiboot2 Specification 2.0: the OS image header (§3.1) and the hand-off (§3.3, §3.6).
 */
export const MB2_HEADER_MAGIC = 0xe85250d6;
export const MB2_BOOTLOADER_MAGIC = 0x36d76289;
/** The header must lie completely within the first 32768 bytes, 64-bit aligned. */
export const MB2_SEARCH = 32768;
export const MB2_HEADER_ALIGN = 8;
export const MB2_ARCH_I386 = 0;
export const MB2_ARCH_MIPS32 = 4;

/** Header tag types (§3.1.4–3.1.13). */
export const MB2_HTAG_END = 0;
export const MB2_HTAG_INFORMATION_REQUEST = 1;
export const MB2_HTAG_ADDRESS = 2;
export const MB2_HTAG_ENTRY_ADDRESS = 3;
export const MB2_HTAG_CONSOLE_FLAGS = 4;
export const MB2_HTAG_FRAMEBUFFER = 5;
export const MB2_HTAG_MODULE_ALIGN = 6;
export const MB2_HTAG_EFI_BS = 7;
export const MB2_HTAG_ENTRY_ADDRESS_EFI32 = 8;
export const MB2_HTAG_ENTRY_ADDRESS_EFI64 = 9;
export const MB2_HTAG_RELOCATABLE = 10;
/** Tag flags bit 0: the boot loader may ignore the tag if it does not support it. */
export const MB2_HTAG_OPTIONAL = 1;
export const MB2_CONSOLE_REQUIRED = 1 << 0;
export const MB2_CONSOLE_EGA_TEXT_SUPPORTED = 1 << 1;

/** Boot information vmxray can provide when a kernel requests it (information request tag). */
const PROVIDED_INFO: Record<number, string> = {
  [MB2_TAG_END]: 'end', [MB2_TAG_CMDLINE]: 'command line', [MB2_TAG_BOOT_LOADER_NAME]: 'boot loader name',
  [MB2_TAG_MODULE]: 'modules', [MB2_TAG_BASIC_MEMINFO]: 'basic memory information', [MB2_TAG_MMAP]: 'memory map',
  [MB2_TAG_FRAMEBUFFER]: 'framebuffer information (EGA text)', [MB2_TAG_LOAD_BASE_ADDR]: 'image load base address',
};
const INFO_NAMES: Record<number, string> = {
  ...PROVIDED_INFO, 5: 'BIOS boot device', 7: 'VBE information', 9: 'ELF symbols', 10: 'APM table',
  11: 'EFI 32-bit system table', 12: 'EFI 64-bit system table', 13: 'SMBIOS tables', 14: 'ACPI old RSDP',
  15: 'ACPI new RSDP', 16: 'networking information', 17: 'EFI memory map', 18: 'EFI boot services not terminated',
  19: 'EFI 32-bit image handle', 20: 'EFI 64-bit image handle',
};
const HEADER_TAG_NAMES: Record<number, string> = {
  1: 'information request', 2: 'address', 3: 'entry address', 4: 'console flags', 5: 'framebuffer',
  6: 'module alignment', 7: 'EFI boot services', 8: 'EFI i386 entry address', 9: 'EFI amd64 entry address',
  10: 'relocatable header',
};
/** Minimum tag sizes (type, flags, size and the fixed fields). */
const HEADER_TAG_MIN_SIZE: Record<number, number> = { 1: 8, 2: 24, 3: 12, 4: 12, 5: 20, 6: 8, 7: 8, 8: 12, 9: 12, 10: 24 };

export interface Multiboot2HeaderTag { type: number; flags: number; size: number; offset: number }

export interface Multiboot2Header {
  offset: number;
  architecture: number;
  headerLength: number;
  tags: Multiboot2HeaderTag[];
}

/** The first valid header (magic, architecture 0, checksum) in the first 32768 bytes. */
export function findMultiboot2Header(image: Uint8Array): HeaderScan<Multiboot2Header> {
  const r = new ImageReader(image, 'the kernel image');
  const notes: string[] = [];
  const seen = new Set<number>();
  const end = Math.min(image.length, MB2_SEARCH);
  for (let off = 0; off + 16 <= end; off += MB2_HEADER_ALIGN) {
    if (r.peek32(off) !== MB2_HEADER_MAGIC) continue;
    seen.add(off);
    const arch = r.peek32(off + 4)!, len = r.peek32(off + 8)!, checksum = r.peek32(off + 12)!;
    const sum = (MB2_HEADER_MAGIC + arch + len + checksum) >>> 0;
    if (sum !== 0) {
      notes.push(`a multiboot2 magic ${magic(MB2_HEADER_MAGIC)} at file offset ${hex(off)} has a bad checksum: magic + architecture (${arch}) + header_length (${hex(len)}) + checksum (${hex(checksum)}) = ${hex(sum)} modulo 2^32, must be 0`);
      continue;
    }
    if (arch !== MB2_ARCH_I386) {
      notes.push(`the multiboot2 header at file offset ${hex(off)} is for architecture ${arch}${arch === MB2_ARCH_MIPS32 ? ' (32-bit MIPS)' : ''}, not 0 (i386 protected mode)`);
      continue;
    }
    return { header: parseTags(image, off, len), notes };
  }
  notes.push(...magicNearMisses(image, MB2_HEADER_MAGIC, MB2_HEADER_ALIGN, MB2_SEARCH, 'multiboot2', seen));
  return { notes };
}

function parseTags(image: Uint8Array, off: number, headerLength: number): Multiboot2Header {
  const where = `the multiboot2 header at file offset ${hex(off)}`;
  if (headerLength < 24) throw new BootError(`${where} has header_length ${headerLength}; it must hold the 16-byte fixed part and at least the 8-byte end tag`);
  const headerEnd = off + headerLength;
  if (headerEnd > MB2_SEARCH) throw new BootError(`${where} is ${headerLength} bytes long and ends at file offset ${hex(headerEnd)}, past the first ${MB2_SEARCH} bytes, where the specification requires the whole header to lie`);
  if (headerEnd > image.length) throw new BootError(`${where} is ${headerLength} bytes long but the file ends at ${hex(image.length)}: the file is truncated`);
  const r = new ImageReader(image, where);
  const tags: Multiboot2HeaderTag[] = [];
  let t = off + 16;
  for (;;) {
    if (t + 8 > headerEnd) throw new BootError(`${where}: its tags run to the end of header_length (${headerLength} bytes) without an end tag (type 0, size 8)`);
    const tag = { type: r.u16(t, 'tag type'), flags: r.u16(t + 2, 'tag flags'), size: r.u32(t + 4, 'tag size'), offset: t };
    if (tag.size < 8) throw new BootError(`${where}: the tag at file offset ${hex(t)} (type ${tag.type}) has size ${tag.size}; every tag is at least 8 bytes`);
    if (t + tag.size > headerEnd) throw new BootError(`${where}: the tag at file offset ${hex(t)} (type ${tag.type}, size ${tag.size}) extends past header_length (${headerLength} bytes)`);
    if (tag.type === MB2_HTAG_END) break;
    const min = HEADER_TAG_MIN_SIZE[tag.type];
    if (min !== undefined && tag.size < min) {
      throw new BootError(`${where}: the ${HEADER_TAG_NAMES[tag.type]} tag (type ${tag.type}) at file offset ${hex(t)} has size ${tag.size}; it must be at least ${min} bytes`);
    }
    tags.push(tag);
    t += alignUp(tag.size, 8);
  }
  return { offset: off, architecture: MB2_ARCH_I386, headerLength, tags };
}

/** Load a kernel with a multiboot2 header into guest memory and describe the entry state. */
export function loadMultiboot2(bus: PhysBus, image: Uint8Array, h: Multiboot2Header, opts: BootOptions): EntryState {
  const where = `the multiboot2 header at file offset ${hex(h.offset)}`;
  const r = new ImageReader(image, where);
  const requested = new Set<number>();
  let address: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number } | undefined;
  let entryTag: number | undefined;
  let framebufferTag = false;
  let relocatable: { min: number; max: number; align: number } | undefined;

  for (const tag of h.tags) {
    const o = tag.offset;
    const optional = (tag.flags & MB2_HTAG_OPTIONAL) !== 0;
    switch (tag.type) {
      case MB2_HTAG_INFORMATION_REQUEST: {
        for (let i = 8; i + 4 <= tag.size; i += 4) {
          const want = r.u32(o + i, 'requested tag type');
          requested.add(want);
          if (!optional && !(want in PROVIDED_INFO)) {
            const offered = Object.entries(PROVIDED_INFO).filter(([k]) => k !== '0').map(([k, v]) => `${k} (${v})`).join(', ');
            throw new BootError(`${where} requires boot information tag type ${want}${INFO_NAMES[want] ? ` (${INFO_NAMES[want]})` : ''}, which vmxray does not provide; it provides ${offered}. Mark the information request tag optional (flags bit 0) if the kernel can do without`);
          }
        }
        break;
      }
      case MB2_HTAG_ADDRESS:
        address = { headerAddr: r.u32(o + 8, 'header_addr'), loadAddr: r.u32(o + 12, 'load_addr'), loadEndAddr: r.u32(o + 16, 'load_end_addr'), bssEndAddr: r.u32(o + 20, 'bss_end_addr') };
        break;
      case MB2_HTAG_ENTRY_ADDRESS:
        entryTag = r.u32(o + 8, 'entry_addr');
        break;
      case MB2_HTAG_CONSOLE_FLAGS: {
        const f = r.u32(o + 8, 'console_flags');
        if ((f & MB2_CONSOLE_REQUIRED) && !(f & MB2_CONSOLE_EGA_TEXT_SUPPORTED)) {
          throw new BootError(`${where}: the console flags tag requires a console (bit 0) but does not accept EGA text (bit 1 clear); vmxray offers only the 80x25 EGA text console, no graphics framebuffer`);
        }
        break;
      }
      case MB2_HTAG_FRAMEBUFFER:
        framebufferTag = true; // no graphics modes: the kernel gets the EGA text console
        break;
      case MB2_HTAG_MODULE_ALIGN: // modules are always page-aligned
      case MB2_HTAG_EFI_BS: // vmxray is a BIOS machine: EFI tags do not apply
      case MB2_HTAG_ENTRY_ADDRESS_EFI32:
      case MB2_HTAG_ENTRY_ADDRESS_EFI64:
        break;
      case MB2_HTAG_RELOCATABLE:
        relocatable = { min: r.u32(o + 8, 'min_addr'), max: r.u32(o + 12, 'max_addr'), align: r.u32(o + 16, 'align') };
        break;
      default:
        if (!optional) throw new BootError(`${where} has header tag type ${tag.type} at file offset ${hex(o)}, which vmxray does not know, and its flags do not mark it optional (bit 0)`);
    }
  }

  let k: KernelImage;
  if (address) {
    if (entryTag === undefined) throw new BootError(`${where} has an address tag (type 2) but no entry address tag (type 3), so there is no entry point`);
    let loadAddr = address.loadAddr;
    // load_addr = -1: the file is loaded from its beginning, i.e. the text starts header_offset before the header.
    if (loadAddr === 0xffffffff) loadAddr = address.headerAddr - h.offset;
    k = kernelFromAddresses({ headerOffset: h.offset, ...address, loadAddr, entryAddr: entryTag }, image, `multiboot2 kernel (${where}, address tag)`);
  } else {
    if (!isElf(image)) throw new BootError(`${where} has no address tag (type 2), so the kernel must be an ELF file; this is ${describeFile(image)}`);
    k = kernelFromElf(parseElf(image), image, 'multiboot2 kernel');
    if (entryTag !== undefined) { k.entry = entryTag; delete k.entryVirtual; }
  }

  let loadBaseAddr: number | undefined;
  if (relocatable || requested.has(MB2_TAG_LOAD_BASE_ADDR)) {
    loadBaseAddr = k.segments.reduce((m, s) => Math.min(m, s.paddr), Infinity);
    if (!Number.isFinite(loadBaseAddr)) loadBaseAddr = 0;
  }
  if (relocatable && loadBaseAddr !== undefined) {
    // vmxray loads relocatable images where they are linked; that must satisfy the tag.
    const end = kernelEnd(k);
    if (loadBaseAddr < relocatable.min || end > relocatable.max || (relocatable.align > 1 && loadBaseAddr % relocatable.align !== 0)) {
      throw new BootError(`${where}: the relocatable header tag allows ${hex(relocatable.min)}–${hex(relocatable.max)} aligned to ${hex(relocatable.align)}, but the image is linked at ${hex(loadBaseAddr)}–${hex(end)}; vmxray loads images where they are linked and does not relocate them`);
    }
  }

  const textFramebuffer = requested.has(MB2_TAG_FRAMEBUFFER) || framebufferTag;
  return loadAndHandOff(bus, k, opts, {
    protocol: 'multiboot2',
    magic: MB2_BOOTLOADER_MAGIC,
    buildInfo: (_base, inp) => multiboot2Info({ ...inp, textFramebuffer, ...(loadBaseAddr !== undefined ? { loadBaseAddr } : {}) }),
  });
}
