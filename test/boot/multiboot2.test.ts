import { describe, expect, it } from 'vitest';
import { BootError, loadKernel } from '../../src/boot/index.js';
import { MiB, concat, cstr, elf32, elf64, machine, mb1Header, mb2Header, mb2Tag, pattern, read64 } from './builder.js';
import type { PhysBus } from '../../src/memory/index.js';

// Multiboot2 2.0 constants, from the specification (§3.1, §3.3, §3.6).
const BOOTLOADER_MAGIC = 0x36d76289;
const HT_INFO_REQUEST = 1, HT_ADDRESS = 2, HT_ENTRY = 3, HT_CONSOLE = 4, HT_FRAMEBUFFER = 5, HT_MODULE_ALIGN = 6, HT_RELOCATABLE = 10;
const T_END = 0, T_CMDLINE = 1, T_LOADER = 2, T_MODULE = 3, T_MEMINFO = 4, T_BOOTDEV = 5, T_MMAP = 6, T_FRAMEBUFFER = 8, T_LOAD_BASE = 21;

interface Tag { type: number; size: number; at: number }

/** Walk the boot information: total_size, reserved, then tags each padded to 8 bytes, up to the end tag. */
function tags(bus: PhysBus, ebx: number): { total: number; reserved: number; tags: Tag[] } {
  const total = bus.read32(ebx), reserved = bus.read32(ebx + 4);
  const out: Tag[] = [];
  for (let p = ebx + 8; ; p += Math.ceil(bus.read32(p + 4) / 8) * 8) {
    const t = { type: bus.read32(p), size: bus.read32(p + 4), at: p };
    out.push(t);
    if (t.type === T_END) { expect(p + 8 - ebx).toBe(total); break; }
    if (p - ebx > total) throw new Error('ran past total_size');
  }
  return { total, reserved, tags: out };
}

function kernel64(headerTags: Uint8Array[], entry = 0x100020n) {
  const code = concat(mb2Header(headerTags), pattern(0x400, 4));
  return elf64({ entry, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code, memsz: 0x2000 }] });
}

describe('multiboot2: loading and entry', () => {
  it('loads an ELF64 kernel and enters with EAX = 0x36D76289 and an 8-aligned EBX', () => {
    const bus = machine();
    const image = kernel64([mb2Tag(HT_INFO_REQUEST, [T_CMDLINE, T_MEMINFO, T_MMAP, T_MODULE, T_LOADER])]);
    const st = loadKernel(bus, image, {});
    expect(st.protocol).toBe('multiboot2');
    expect(st.eax).toBe(BOOTLOADER_MAGIC);
    expect(st.eip).toBe(0x100020);
    expect(st.ebx % 8).toBe(0);
    expect(st.ebx).toBeLessThan(0xa0000);
    expect(bus.readBytes(0x100000, 4)).toEqual(new Uint8Array([0xd6, 0x50, 0x52, 0xe8]));
  });

  it('jumps to the entry address tag rather than e_entry', () => {
    const st = loadKernel(machine(), kernel64([mb2Tag(HT_ENTRY, [0x100100])]), {});
    expect(st.eip).toBe(0x100100);
  });

  it('loads by the address tag, with the entry address tag', () => {
    // Header at file offset 0x20 wants to sit at 0x300020: load from offset 0 at 0x300000.
    const header = mb2Header([mb2Tag(HT_ADDRESS, [0x300020, 0x300000, 0x300000 + 0x600, 0x300000 + 0x1000]), mb2Tag(HT_ENTRY, [0x300200])]);
    const image = concat(pattern(0x20, 7), header, pattern(0x800 - 0x20 - header.length, 8));
    const bus = machine();
    bus.ram.fill(0x300600, 0xa00, 0x77);
    const st = loadKernel(bus, image, {});
    expect(st.eip).toBe(0x300200);
    expect(bus.readBytes(0x300000, 0x600)).toEqual(image.subarray(0, 0x600));
    expect(bus.readBytes(0x300600, 0xa00).every(b => b === 0)).toBe(true);
  });

  it('reads load_addr = 0xFFFFFFFF as "load the file from its beginning"', () => {
    const header = mb2Header([mb2Tag(HT_ADDRESS, [0x400010, 0xffffffff, 0, 0]), mb2Tag(HT_ENTRY, [0x400000])]);
    const image = concat(pattern(0x10, 1), header, pattern(0x100, 2));
    const bus = machine();
    const st = loadKernel(bus, image, {});
    expect(st.segments).toEqual([{ paddr: 0x400000, filesz: image.length, memsz: image.length }]);
    expect(bus.readBytes(0x400000, image.length)).toEqual(image);
  });

  it('uses multiboot v1 when both headers are present, multiboot2 when asked', () => {
    const code = concat(mb1Header(2), new Uint8Array(4), mb2Header([]), pattern(64));
    const image = elf32({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code }] });
    expect(loadKernel(machine(), image, {}).eax).toBe(0x2badb002);
    expect(loadKernel(machine(), image, { protocol: 'multiboot2' }).eax).toBe(BOOTLOADER_MAGIC);
  });
});

describe('multiboot2: the boot information', () => {
  it('lays out cmdline, loader name, modules, basic meminfo, mmap and end as 8-aligned tags', () => {
    const bus = machine(32 * MiB);
    const m = pattern(3000, 5);
    const st = loadKernel(bus, kernel64([]), { cmdline: 'console=e9', modules: [{ data: m, cmdline: 'initrd arg' }] });
    const info = tags(bus, st.ebx);
    expect(info.reserved).toBe(0);
    expect(info.tags.map(t => t.type)).toEqual([T_CMDLINE, T_LOADER, T_MODULE, T_MEMINFO, T_MMAP, T_END]);
    for (const t of info.tags) expect(t.at % 8).toBe(0);
    const [cmd, loader, mod, mem, mmap, end] = info.tags;

    // string tags: type, size = 8 + string with its NUL
    expect(cstr(bus, cmd.at + 8)).toBe('console=e9');
    expect(cmd.size).toBe(8 + 'console=e9'.length + 1);
    expect(cstr(bus, loader.at + 8)).toBe('vmxray');
    expect(loader.size).toBe(8 + 7);

    // module: mod_start, mod_end, string
    const start = bus.read32(mod.at + 8), endAddr = bus.read32(mod.at + 12);
    expect(start % 4096).toBe(0);
    expect(start).toBeGreaterThanOrEqual(0x102000);
    expect(endAddr - start).toBe(m.length);
    expect(cstr(bus, mod.at + 16)).toBe('initrd arg');
    expect(mod.size).toBe(16 + 'initrd arg'.length + 1);
    expect(bus.readBytes(start, m.length)).toEqual(m);

    // basic meminfo: size 16, mem_lower, mem_upper in KiB
    expect(mem.size).toBe(16);
    expect(bus.read32(mem.at + 8)).toBe(639);
    expect(bus.read32(mem.at + 12)).toBe(31 * 1024);

    // mmap: entry_size 24, entry_version 0, entries of base u64, length u64, type u32, reserved u32
    expect(bus.read32(mmap.at + 8)).toBe(24);
    expect(bus.read32(mmap.at + 12)).toBe(0);
    const n = (mmap.size - 16) / 24;
    const entries = Array.from({ length: n }, (_, i) => {
      const e = mmap.at + 16 + 24 * i;
      return { base: read64(bus, e), length: read64(bus, e + 8), type: bus.read32(e + 16), zero: bus.read32(e + 20) };
    });
    expect(entries).toEqual([
      { base: 0, length: 0x9fc00, type: 1, zero: 0 },
      { base: 0x9fc00, length: 0x400, type: 2, zero: 0 },
      { base: 0xe0000, length: 0x20000, type: 2, zero: 0 },
      { base: 0x100000, length: 31 * MiB, type: 1, zero: 0 },
      { base: 0xfec00000, length: 0x201000, type: 2, zero: 0 },
    ]);
    expect(end.size).toBe(8);
  });

  it('describes the EGA text console when the kernel requests framebuffer information', () => {
    const bus = machine();
    const st = loadKernel(bus, kernel64([mb2Tag(HT_INFO_REQUEST, [T_FRAMEBUFFER]), mb2Tag(HT_FRAMEBUFFER, [1024, 768, 32], true)]), {});
    const fb = tags(bus, st.ebx).tags.find(t => t.type === T_FRAMEBUFFER)!;
    expect(read64(bus, fb.at + 8)).toBe(0xb8000);  // framebuffer_addr
    expect(bus.read32(fb.at + 16)).toBe(160);      // pitch: 80 columns × 2 bytes
    expect(bus.read32(fb.at + 20)).toBe(80);
    expect(bus.read32(fb.at + 24)).toBe(25);
    expect(bus.read8(fb.at + 28)).toBe(16);        // bpp
    expect(bus.read8(fb.at + 29)).toBe(2);         // framebuffer_type 2: EGA text
  });

  it('accepts console flags that allow EGA text, and the module alignment tag', () => {
    expect(() => loadKernel(machine(), kernel64([mb2Tag(HT_CONSOLE, [3]), mb2Tag(HT_MODULE_ALIGN, [])]), {})).not.toThrow();
  });

  it('reports the load base address for a relocatable image loaded where it is linked', () => {
    const bus = machine();
    const st = loadKernel(bus, kernel64([mb2Tag(HT_RELOCATABLE, [0x100000, 0x1000000, 0x1000, 0])]), {});
    const t = tags(bus, st.ebx).tags.find(x => x.type === T_LOAD_BASE)!;
    expect(t.size).toBe(12);
    expect(bus.read32(t.at + 8)).toBe(0x100000);
  });
});

describe('multiboot2: header errors', () => {
  const load = (ts: Uint8Array[]) => () => loadKernel(machine(), kernel64(ts), {});

  it('refuses a required information tag it cannot provide, but not an optional request', () => {
    expect(load([mb2Tag(HT_INFO_REQUEST, [T_BOOTDEV])])).toThrow(/boot information tag type 5 \(BIOS boot device\)/);
    expect(load([mb2Tag(HT_INFO_REQUEST, [T_BOOTDEV], true)])).not.toThrow();
  });

  it('refuses an unknown required header tag, ignores an unknown optional one', () => {
    expect(load([mb2Tag(77, [1, 2])])).toThrow(/header tag type 77/);
    expect(load([mb2Tag(77, [1, 2], true)])).not.toThrow();
  });

  it('refuses an address tag without an entry address tag', () => {
    const header = mb2Header([mb2Tag(HT_ADDRESS, [0x300000, 0x300000, 0, 0])]);
    expect(() => loadKernel(machine(), concat(header, pattern(64)), {})).toThrow(/no entry address tag/);
  });

  it('refuses a kernel that requires a console but not EGA text', () => {
    expect(load([mb2Tag(HT_CONSOLE, [1])])).toThrow(/EGA text/);
  });

  it('refuses a relocatable image whose link address lies outside its own range', () => {
    expect(load([mb2Tag(HT_RELOCATABLE, [0x200000, 0x1000000, 0x1000, 0])])).toThrow(/does not relocate/);
  });

  it('rejects a header for another architecture and says so', () => {
    const code = concat(mb2Header([], 4), pattern(64));
    const image = elf64({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code }] });
    expect(() => loadKernel(machine(), image, {})).toThrow(/architecture 4 \(32-bit MIPS\)/);
  });

  it('does not look past the first 32768 bytes', () => {
    const code = concat(pattern(32768), mb2Header([]), pattern(64));
    const image = elf64({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code }] });
    expect(() => loadKernel(machine(), image, {})).toThrow(BootError);
    expect(() => loadKernel(machine(), image, {})).toThrow(/multiboot2 magic 0xE85250D6 appears at file offset 0x9000, beyond the first 32768 bytes/);
  });

  it('refuses tags that run past header_length without an end tag', () => {
    const header = mb2Header([]);
    // header_length 24 but replace the end tag with a non-end tag of size 8
    header[16] = 6;
    expect(() => loadKernel(machine(), concat(header, pattern(32)), {})).toThrow(/without an end tag/);
  });
});
