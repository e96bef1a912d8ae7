import { BlockWriter, alignUp } from './bytes.js';
import type { MemoryRegion } from './e820.js';

/**
 * The boot information structures a multiboot kernel receives in EBX: the Multiboot 0.6.96
 * "multiboot information" block (§3.3 "Boot information format") and the Multiboot2 tag list
 * (§3.6 "Boot information"). Each builder lays the whole thing out as one block. The v1 block
 * holds pointers into itself, so it is built for a given guest-physical base (its size does not
 * depend on the base: measure with base 0, find room, build for real); the v2 block holds its
 * strings inside the tags and needs no base.
 */

export interface InfoModule { start: number; end: number; cmdline: Uint8Array }

export interface InfoInput {
  /** NUL-terminated. */
  cmdline: Uint8Array;
  bootloaderName: Uint8Array;
  modules: InfoModule[];
  map: MemoryRegion[];
  memLower: number;
  memUpper: number;
}

// ---- Multiboot 0.6.96 -------------------------------------------------------------------

/** mbi.flags bits (§3.3). */
export const MBI_FLAG_MEM = 1 << 0;
export const MBI_FLAG_BOOTDEV = 1 << 1;
export const MBI_FLAG_CMDLINE = 1 << 2;
export const MBI_FLAG_MODS = 1 << 3;
export const MBI_FLAG_AOUT_SYMS = 1 << 4;
export const MBI_FLAG_ELF_SHDR = 1 << 5;
export const MBI_FLAG_MMAP = 1 << 6;
export const MBI_FLAG_DRIVES = 1 << 7;
export const MBI_FLAG_CONFIG_TABLE = 1 << 8;
export const MBI_FLAG_BOOT_LOADER_NAME = 1 << 9;
export const MBI_FLAG_APM_TABLE = 1 << 10;
export const MBI_FLAG_VBE = 1 << 11;
export const MBI_FLAG_FRAMEBUFFER = 1 << 12;

/** Field offsets of the multiboot information structure (§3.3). */
export const MBI = {
  flags: 0, mem_lower: 4, mem_upper: 8, boot_device: 12, cmdline: 16, mods_count: 20, mods_addr: 24,
  syms: 28, mmap_length: 44, mmap_addr: 48, drives_length: 52, drives_addr: 56, config_table: 60,
  boot_loader_name: 64, apm_table: 68, vbe_control_info: 72, framebuffer_addr: 88, framebuffer_type: 109,
} as const;
/** The structure runs to offset 116 (framebuffer color info); rounded up to keep what follows 8-aligned. */
export const MBI_SIZE = 120;
export const MB1_MOD_ENTRY_SIZE = 16;
/** size (u32, counts the 20 bytes after it), base_addr (u64), length (u64), type (u32). */
export const MB1_MMAP_ENTRY_SIZE = 24;

export function multiboot1Info(base: number, inp: InfoInput): Uint8Array {
  const mmapOff = MBI_SIZE;
  const modsOff = mmapOff + inp.map.length * MB1_MMAP_ENTRY_SIZE;
  let strOff = modsOff + inp.modules.length * MB1_MOD_ENTRY_SIZE;
  const cmdlineOff = strOff; strOff += inp.cmdline.length;
  const nameOff = strOff; strOff += inp.bootloaderName.length;
  const modStrOffs = inp.modules.map(m => { const o = strOff; strOff += m.cmdline.length; return o; });

  const w = new BlockWriter(alignUp(strOff, 8));
  let flags = MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MMAP | MBI_FLAG_BOOT_LOADER_NAME;
  w.u32(MBI.mem_lower, inp.memLower);
  w.u32(MBI.mem_upper, inp.memUpper);
  w.u32(MBI.cmdline, base + cmdlineOff);
  w.bytesAt(cmdlineOff, inp.cmdline);
  if (inp.modules.length) {
    // As GRUB: the mods fields and flag only when there are modules.
    flags |= MBI_FLAG_MODS;
    w.u32(MBI.mods_count, inp.modules.length);
    w.u32(MBI.mods_addr, base + modsOff);
    inp.modules.forEach((m, i) => {
      const o = modsOff + i * MB1_MOD_ENTRY_SIZE;
      w.u32(o, m.start);
      w.u32(o + 4, m.end);
      w.u32(o + 8, base + modStrOffs[i]);
      w.bytesAt(modStrOffs[i], m.cmdline);
    });
  }
  w.u32(MBI.mmap_length, inp.map.length * MB1_MMAP_ENTRY_SIZE);
  w.u32(MBI.mmap_addr, base + mmapOff);
  inp.map.forEach((m, i) => {
    const o = mmapOff + i * MB1_MMAP_ENTRY_SIZE;
    w.u32(o, MB1_MMAP_ENTRY_SIZE - 4);
    w.u64(o + 4, m.base);
    w.u64(o + 12, m.length);
    w.u32(o + 20, m.type);
  });
  w.u32(MBI.boot_loader_name, base + nameOff);
  w.bytesAt(nameOff, inp.bootloaderName);
  w.u32(MBI.flags, flags);
  return w.bytes;
}

// ---- Multiboot2 -------------------------------------------------------------------------

/** Boot information tag types (Multiboot2 §3.6). */
export const MB2_TAG_END = 0;
export const MB2_TAG_CMDLINE = 1;
export const MB2_TAG_BOOT_LOADER_NAME = 2;
export const MB2_TAG_MODULE = 3;
export const MB2_TAG_BASIC_MEMINFO = 4;
export const MB2_TAG_BOOTDEV = 5;
export const MB2_TAG_MMAP = 6;
export const MB2_TAG_VBE = 7;
export const MB2_TAG_FRAMEBUFFER = 8;
export const MB2_TAG_ELF_SECTIONS = 9;
export const MB2_TAG_LOAD_BASE_ADDR = 21;
export const MB2_MMAP_ENTRY_SIZE = 24;
export const MB2_FRAMEBUFFER_TYPE_EGA_TEXT = 2;

export interface Multiboot2InfoInput extends InfoInput {
  /** Describe the 80x25 EGA text console with a framebuffer tag (type 2, at 0xB8000). */
  textFramebuffer: boolean;
  /** Emit the image load base physical address tag (21), for images with a relocatable header tag. */
  loadBaseAddr?: number;
}

export function multiboot2Info(inp: Multiboot2InfoInput): Uint8Array {
  const tags: { type: number; body: (w: BlockWriter, o: number) => void; size: number }[] = [];
  const stringTag = (type: number, s: Uint8Array) => tags.push({ type, size: 8 + s.length, body: (w, o) => w.bytesAt(o + 8, s) });

  stringTag(MB2_TAG_CMDLINE, inp.cmdline);
  stringTag(MB2_TAG_BOOT_LOADER_NAME, inp.bootloaderName);
  for (const m of inp.modules) {
    tags.push({ type: MB2_TAG_MODULE, size: 16 + m.cmdline.length, body: (w, o) => { w.u32(o + 8, m.start); w.u32(o + 12, m.end); w.bytesAt(o + 16, m.cmdline); } });
  }
  tags.push({ type: MB2_TAG_BASIC_MEMINFO, size: 16, body: (w, o) => { w.u32(o + 8, inp.memLower); w.u32(o + 12, inp.memUpper); } });
  tags.push({
    type: MB2_TAG_MMAP, size: 16 + inp.map.length * MB2_MMAP_ENTRY_SIZE, body: (w, o) => {
      w.u32(o + 8, MB2_MMAP_ENTRY_SIZE);
      w.u32(o + 12, 0); // entry_version
      inp.map.forEach((m, i) => {
        const e = o + 16 + i * MB2_MMAP_ENTRY_SIZE;
        w.u64(e, m.base); w.u64(e + 8, m.length); w.u32(e + 16, m.type); w.u32(e + 20, 0);
      });
    },
  });
  if (inp.textFramebuffer) {
    // framebuffer_addr u64, pitch, width, height, bpp u8, type u8, reserved (u16 in GRUB's
    // multiboot2.h, which fixes the common part at 32 bytes); EGA text has no color_info.
    tags.push({
      type: MB2_TAG_FRAMEBUFFER, size: 32, body: (w, o) => {
        w.u64(o + 8, 0xb8000); w.u32(o + 16, 160); w.u32(o + 20, 80); w.u32(o + 24, 25);
        w.u8(o + 28, 16); w.u8(o + 29, MB2_FRAMEBUFFER_TYPE_EGA_TEXT);
      },
    });
  }
  if (inp.loadBaseAddr !== undefined) {
    const a = inp.loadBaseAddr;
    tags.push({ type: MB2_TAG_LOAD_BASE_ADDR, size: 12, body: (w, o) => w.u32(o + 8, a) });
  }
  tags.push({ type: MB2_TAG_END, size: 8, body: () => {} });

  let total = 8;
  const offs = tags.map(t => { const o = total; total += alignUp(t.size, 8); return o; });
  const w = new BlockWriter(total);
  w.u32(0, total);
  w.u32(4, 0);
  tags.forEach((t, i) => { w.u32(offs[i], t.type); w.u32(offs[i] + 4, t.size); t.body(w, offs[i]); });
  return w.bytes;
}
