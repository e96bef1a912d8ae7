import { describe, expect, it } from 'vitest';
import { BootError, describeElf, describeFile, loadKernel, loadPlainElf, parseElf, pcMemoryMap } from '../../src/boot/index.js';
import { MiB, concat, elf32, elf64, machine, mb1Header, pattern } from './builder.js';

describe('ELF parsing', () => {
  it('reads an ELF32 header and its program headers', () => {
    const data = pattern(0x123);
    const elf = parseElf(elf32({ entry: 0x801001e1, segments: [{ vaddr: 0x80100000, paddr: 0x100000, data, memsz: 0x2000 }, { vaddr: 0, paddr: 0, data: new Uint8Array(0), type: 4 }] }));
    expect(elf.bits).toBe(32);
    expect(elf.machine).toBe(3);
    expect(elf.type).toBe(2);
    expect(elf.entry).toBe(0x801001e1n);
    expect(elf.programHeaders).toHaveLength(2);
    expect(elf.programHeaders[0]).toMatchObject({ type: 1, offset: 0x1000n, vaddr: 0x80100000n, paddr: 0x100000n, filesz: 0x123n, memsz: 0x2000n });
    expect(elf.programHeaders[1].type).toBe(4);
  });

  it('keeps 64-bit higher-half addresses exact', () => {
    const elf = parseElf(elf64({ entry: 0xffffffff801001e1n, segments: [{ vaddr: 0xffffffff80100000n, paddr: 0x100000, data: pattern(8) }] }));
    expect(elf.bits).toBe(64);
    expect(elf.entry).toBe(0xffffffff801001e1n);
    expect(elf.programHeaders[0].vaddr).toBe(0xffffffff80100000n);
    expect(describeElf(elf)).toBe('an ELF64 executable for x86-64 (entry 0xffffffff801001e1)');
  });

  it('throws BootError, not RangeError, on a truncated identification', () => {
    expect(() => parseElf(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 1]))).toThrow(BootError);
  });
});

describe('file identification for error messages', () => {
  it('names common formats', () => {
    const bzimage = new Uint8Array(0x300); bzimage.set([0x48, 0x64, 0x72, 0x53], 0x202);
    expect(describeFile(bzimage)).toMatch(/Linux kernel image \(bzImage/);
    const mbr = new Uint8Array(512); mbr[510] = 0x55; mbr[511] = 0xaa;
    expect(describeFile(mbr)).toMatch(/disk image or boot sector/);
    expect(describeFile(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 1]))).toMatch(/xz-compressed/);
    expect(describeFile(new TextEncoder().encode('#!/bin/sh\necho hi\n'))).toMatch(/script/);
  });
});

describe('bare ELF (no multiboot)', () => {
  it('loads segments and enters with no boot information', () => {
    const bus = machine();
    const data = pattern(0x40);
    const st = loadPlainElf(bus, elf32({ entry: 0x200010, segments: [{ vaddr: 0x200000, paddr: 0x200000, data }] }));
    expect(st).toMatchObject({ protocol: 'elf', eip: 0x200010, eax: 0, ebx: 0 });
    expect(st.esp % 16).toBe(0);
    expect(bus.readBytes(0x200000, 0x40)).toEqual(data);
  });
});

describe('the memory map', () => {
  it('clips RAM entries to a small machine', () => {
    expect(pcMemoryMap(2 * MiB).filter(m => m.type === 1).map(m => [m.base, m.length])).toEqual([[0, 0x9fc00], [0x100000, MiB]]);
  });
});

describe('loading and decoded code', () => {
  it('tells the code cache about every page it writes', () => {
    const bus = machine();
    const seen: number[] = [];
    bus.codePages.add(0x100); bus.codePages.add(0x101);
    bus.onCodeWrite = p => seen.push(p);
    const code = concat(mb1Header(3), pattern(0x100));
    loadKernel(bus, elf32({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: code, memsz: 0x1800 }] }), {});
    expect(seen).toContain(0x100); // file bytes
    expect(seen).toContain(0x101); // zeroed bss
  });
});
