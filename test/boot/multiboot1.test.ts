import { describe, expect, it } from 'vitest';
import { loadKernel } from '../../src/boot/index.js';
import { MiB, concat, cstr, elf32, elf64, machine, mb1Header, pattern, read64 } from './builder.js';

// Multiboot 0.6.96 constants, from the specification (§3.1.1, §3.2, §3.3).
const BOOTLOADER_MAGIC = 0x2badb002;
const PAGE_ALIGN = 1, MEMORY_INFO = 2, VIDEO_MODE = 4, AOUT_KLUDGE = 0x10000;
const INFO_MEM = 1 << 0, INFO_BOOTDEV = 1 << 1, INFO_CMDLINE = 1 << 2, INFO_MODS = 1 << 3, INFO_MMAP = 1 << 6,
  INFO_LOADER_NAME = 1 << 9, INFO_VBE = 1 << 11, INFO_FRAMEBUFFER = 1 << 12;

/** A .text segment that starts with the multiboot header, then code bytes. */
function text(flags: number, size = 0x800): Uint8Array {
  return concat(mb1Header(flags), pattern(size - 12, 3));
}

/** An ELF32 kernel like SWEB's kernel.x: linked at 0x80100000, loaded at 0x100000, with data+bss. */
function swebLike(flags = PAGE_ALIGN | MEMORY_INFO | VIDEO_MODE) {
  const code = text(flags, 0x1800);
  const data = pattern(0x300, 9);
  const image = elf32({
    entry: 0x801001e1,
    segments: [
      { vaddr: 0x80100000, paddr: 0x100000, data: code },
      { vaddr: 0x80102000, paddr: 0x102000, data, memsz: 0x3000 },
    ],
  });
  return { image, code, data };
}

function mmapEntries(bus: ReturnType<typeof machine>, ebx: number) {
  const addr = bus.read32(ebx + 48), length = bus.read32(ebx + 44);
  const out: { size: number; base: number; length: number; type: number }[] = [];
  // §3.3: walk by `size`, which does not count the size field itself.
  for (let p = addr; p < addr + length; p += bus.read32(p) + 4) {
    out.push({ size: bus.read32(p), base: read64(bus, p + 4), length: read64(bus, p + 12), type: bus.read32(p + 20) });
  }
  return out;
}

describe('multiboot v1: ELF kernels', () => {
  it('loads each PT_LOAD segment at its p_paddr and zeroes the bss', () => {
    const bus = machine();
    const { image, code, data } = swebLike();
    bus.ram.fill(0x102000, 0x3000, 0xaa); // stale bytes where the bss goes
    const st = loadKernel(bus, image, {});
    expect(bus.readBytes(0x100000, code.length)).toEqual(code);
    expect(bus.readBytes(0x102000, data.length)).toEqual(data);
    expect(bus.readBytes(0x102000 + data.length, 0x3000 - data.length).every(b => b === 0)).toBe(true);
    expect(st.segments).toEqual([
      { paddr: 0x100000, memsz: code.length, filesz: code.length },
      { paddr: 0x102000, memsz: 0x3000, filesz: 0x300 },
    ]);
  });

  it('translates a virtual e_entry through its PT_LOAD segment, as GRUB does for SWEB (0x801001e1 → 0x1001e1)', () => {
    const st = loadKernel(machine(), swebLike().image, {});
    expect(st.protocol).toBe('multiboot1');
    expect(st.eip).toBe(0x1001e1);
    expect(st.entryVirtual).toBe(0x801001e1);
  });

  it('enters with EAX = 0x2BADB002 and EBX pointing at the multiboot information', () => {
    const st = loadKernel(machine(), swebLike().image, {});
    expect(st.eax).toBe(BOOTLOADER_MAGIC);
    expect(st.bootInfo?.paddr).toBe(st.ebx);
  });

  it('translates a higher-half ELF64 entry (0xffffffff801001e1 → 0x1001e1)', () => {
    const image = elf64({
      entry: 0xffffffff801001e1n,
      segments: [{ vaddr: 0xffffffff80100000n, paddr: 0x100000, data: text(PAGE_ALIGN | MEMORY_INFO) }],
    });
    const st = loadKernel(machine(), image, {});
    expect(st.eip).toBe(0x1001e1);
  });

  it('keeps an identity-linked entry as it is and reports no virtual entry', () => {
    const image = elf32({ entry: 0x100010, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: text(0) }] });
    const st = loadKernel(machine(), image, {});
    expect(st.eip).toBe(0x100010);
    expect(st.entryVirtual).toBeUndefined();
  });
});

describe('multiboot v1: the information structure', () => {
  it('reports memory, command line, memory map and boot loader name; no boot device, no video', () => {
    const bus = machine(8 * MiB);
    const st = loadKernel(bus, swebLike().image, { cmdline: 'root=/dev/hda quiet' });
    const flags = bus.read32(st.ebx);
    expect(flags & (INFO_MEM | INFO_CMDLINE | INFO_MMAP | INFO_LOADER_NAME)).toBe(INFO_MEM | INFO_CMDLINE | INFO_MMAP | INFO_LOADER_NAME);
    expect(flags & (INFO_BOOTDEV | INFO_VBE | INFO_FRAMEBUFFER)).toBe(0);
    expect(bus.read32(st.ebx + 4)).toBe(639);                 // mem_lower: 640 KiB less the EBDA
    expect(bus.read32(st.ebx + 8)).toBe((8 * MiB - MiB) / 1024); // mem_upper: KiB from 1 MiB
    expect(cstr(bus, bus.read32(st.ebx + 16))).toBe('root=/dev/hda quiet');
    expect(cstr(bus, bus.read32(st.ebx + 64))).toBe('vmxray');
  });

  it('takes the boot loader name from the options', () => {
    const bus = machine();
    const st = loadKernel(bus, swebLike().image, { bootloaderName: 'GRUB 0.97' });
    expect(cstr(bus, bus.read32(st.ebx + 64))).toBe('GRUB 0.97');
  });

  it('passes an empty command line as an empty string', () => {
    const bus = machine();
    const st = loadKernel(bus, swebLike().image, {});
    expect(bus.read32(st.ebx) & INFO_CMDLINE).toBeTruthy();
    expect(cstr(bus, bus.read32(st.ebx + 16))).toBe('');
  });

  it('lists a PC memory map: low RAM, EBDA, BIOS, RAM from 1 MiB, the APIC window', () => {
    const bus = machine(16 * MiB);
    const st = loadKernel(bus, swebLike().image, {});
    expect(mmapEntries(bus, st.ebx)).toEqual([
      { size: 20, base: 0, length: 0x9fc00, type: 1 },
      { size: 20, base: 0x9fc00, length: 0x400, type: 2 },
      { size: 20, base: 0xe0000, length: 0x20000, type: 2 },
      { size: 20, base: 0x100000, length: 15 * MiB, type: 1 },
      { size: 20, base: 0xfec00000, length: 0xfee01000 - 0xfec00000, type: 2 },
    ]);
  });

  it('stops mem_upper at the first hole and lists RAM above 4 GiB with 64-bit fields', () => {
    const bus = machine(5 * 1024 * MiB);
    const st = loadKernel(bus, swebLike().image, {});
    expect(bus.read32(st.ebx + 8)).toBe((0xfec00000 - 0x100000) / 1024);
    const map = mmapEntries(bus, st.ebx);
    expect(map).toContainEqual({ size: 20, base: 0x100000, length: 0xfec00000 - 0x100000, type: 1 });
    expect(map[map.length - 1]).toEqual({ size: 20, base: 2 ** 32, length: 2 ** 30, type: 1 });
  });

  it('places the information below 640 KiB, at 0x9000 when that is free', () => {
    const st = loadKernel(machine(), swebLike().image, { cmdline: 'x'.repeat(300) });
    expect(st.ebx).toBe(0x9000);
    expect(st.ebx + st.bootInfo!.size).toBeLessThanOrEqual(0x9fc00);
  });

  it('moves the information elsewhere when the kernel itself occupies 0x9000', () => {
    const image = elf32({ entry: 0x8000, segments: [{ vaddr: 0x8000, paddr: 0x8000, data: text(0, 0x4000) }] });
    const bus = machine();
    const st = loadKernel(bus, image, { cmdline: 'low' });
    expect(st.ebx + st.bootInfo!.size <= 0x8000 || st.ebx >= 0xc000).toBe(true);
    expect(cstr(bus, bus.read32(st.ebx + 16))).toBe('low');
    expect(bus.readBytes(0x8000, 12)).toEqual(mb1Header(0));
  });

  it('gives a 16-byte aligned stack in low RAM that overlaps nothing it placed', () => {
    const bus = machine();
    const st = loadKernel(bus, swebLike().image, { modules: [{ data: pattern(5000), cmdline: 'm' }] });
    expect(st.esp % 16).toBe(0);
    expect(st.esp).toBeLessThan(0x9fc00);
    const stack = st.stack!;
    expect(st.esp).toBeGreaterThan(stack.base);
    expect(st.esp).toBeLessThanOrEqual(stack.base + stack.size);
    const ranges: [number, number][] = [
      [st.bootInfo!.paddr, st.bootInfo!.paddr + st.bootInfo!.size],
      ...st.segments.map(s => [s.paddr, s.paddr + s.memsz] as [number, number]),
      ...st.modules!.map(m => [m.start, m.end] as [number, number]),
    ];
    for (const [a, b] of ranges) expect(stack.base + stack.size <= a || b <= stack.base).toBe(true);
  });
});

describe('multiboot v1: modules', () => {
  it('loads modules page-aligned after the kernel and lists start, end and string', () => {
    const bus = machine();
    const m0 = pattern(5000, 1), m1 = pattern(123, 2);
    const st = loadKernel(bus, swebLike().image, {
      modules: [{ data: m0, cmdline: '/boot/kernel.dbg', name: 'kernel.dbg' }, { data: m1, cmdline: 'second arg=1' }],
    });
    const flags = bus.read32(st.ebx);
    expect(flags & INFO_MODS).toBe(INFO_MODS);
    expect(bus.read32(st.ebx + 20)).toBe(2);
    const mods = bus.read32(st.ebx + 24);
    const kernelEnd = 0x102000 + 0x3000;
    const entries = [0, 1].map(i => ({
      start: bus.read32(mods + 16 * i), end: bus.read32(mods + 16 * i + 4), str: cstr(bus, bus.read32(mods + 16 * i + 8)),
    }));
    expect(entries[0].start % 4096).toBe(0);
    expect(entries[1].start % 4096).toBe(0);
    expect(entries[0].start).toBeGreaterThanOrEqual(kernelEnd);
    expect(entries[1].start).toBeGreaterThanOrEqual(entries[0].end);
    // mod_end is one past the last byte (GRUB and QEMU: start + size).
    expect(entries[0].end - entries[0].start).toBe(m0.length);
    expect(entries[1].end - entries[1].start).toBe(m1.length);
    expect(entries.map(e => e.str)).toEqual(['/boot/kernel.dbg', 'second arg=1']);
    expect(bus.readBytes(entries[0].start, m0.length)).toEqual(m0);
    expect(bus.readBytes(entries[1].start, m1.length)).toEqual(m1);
    expect(st.modules).toEqual([
      { start: entries[0].start, end: entries[0].end, cmdline: '/boot/kernel.dbg', name: 'kernel.dbg' },
      { start: entries[1].start, end: entries[1].end, cmdline: 'second arg=1' },
    ]);
  });

  it('leaves the modules flag clear when there are none', () => {
    const bus = machine();
    const st = loadKernel(bus, swebLike().image, {});
    expect(bus.read32(st.ebx) & INFO_MODS).toBe(0);
    expect(bus.read32(st.ebx + 20)).toBe(0);
  });
});

describe('multiboot v1: the a.out kludge (flag bit 16)', () => {
  // A flat binary: the header sits at file offset 0x40 and wants to be at 0x100040, so the file
  // is loaded from offset 0x40 - (0x100040 - 0x100000) = 0 to 0x100000.
  function flat(loadEnd: number, bssEnd: number, size = 0x1000) {
    const hdr = mb1Header(AOUT_KLUDGE | MEMORY_INFO, { headerAddr: 0x100040, loadAddr: 0x100000, loadEndAddr: loadEnd, bssEndAddr: bssEnd, entryAddr: 0x100080 });
    return concat(pattern(0x40, 5), hdr, pattern(size - 0x40 - hdr.length, 6));
  }

  it('loads by the header addresses and jumps to entry_addr', () => {
    const bus = machine();
    const image = flat(0x100800, 0x102000);
    bus.ram.fill(0x100800, 0x1800, 0xcc);
    const st = loadKernel(bus, image, {});
    expect(st.eip).toBe(0x100080);
    expect(bus.readBytes(0x100000, 0x800)).toEqual(image.subarray(0, 0x800));
    expect(bus.readBytes(0x100800, 0x1800).every(b => b === 0)).toBe(true);
    expect(st.segments).toEqual([{ paddr: 0x100000, filesz: 0x800, memsz: 0x2000 }]);
  });

  it('loads to the end of the file when load_end_addr is 0, and no bss when bss_end_addr is 0', () => {
    const bus = machine();
    const image = flat(0, 0, 0x1234);
    const st = loadKernel(bus, image, {});
    expect(st.segments).toEqual([{ paddr: 0x100000, filesz: 0x1234, memsz: 0x1234 }]);
    expect(bus.readBytes(0x100000, 0x1234)).toEqual(image);
  });

  it('uses the header addresses even when the file is also ELF', () => {
    const hdr = mb1Header(AOUT_KLUDGE, { headerAddr: 0x200000 + 0x1000, loadAddr: 0x200000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x200000 + 0x1010 });
    const image = elf32({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: concat(hdr, pattern(64)) }] });
    const bus = machine();
    const st = loadKernel(bus, image, {});
    expect(st.eip).toBe(0x201010);
    expect(bus.readBytes(0x200000, image.length)).toEqual(image);
  });
});
