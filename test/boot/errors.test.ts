import { describe, expect, it } from 'vitest';
import { BootError, loadKernel, type BootOptions } from '../../src/boot/index.js';
import { MiB, concat, elf32, elf64, machine, mb1Header, pattern } from './builder.js';

const text = (flags = 3, n = 0x400) => concat(mb1Header(flags), pattern(n - 12, 3));
const good = () => elf32({
  entry: 0x100000,
  segments: [{ vaddr: 0x100000, paddr: 0x100000, data: text() }, { vaddr: 0x101000, paddr: 0x101000, data: pattern(0x80), memsz: 0x1000 }],
});

/** The BootError message of a load, failing the test if the load succeeds or throws anything else. */
function failure(image: Uint8Array, opts: BootOptions = {}, ram = 8 * MiB): string {
  try {
    loadKernel(machine(ram), image, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(BootError);
    return (e as Error).message;
  }
  throw new Error('the load succeeded');
}

describe('files that are not multiboot kernels', () => {
  it('an ELF without a multiboot header: says which header was expected and what the file is', () => {
    const image = elf64({ entry: 0xffffffff80100000n, segments: [{ vaddr: 0xffffffff80100000n, paddr: 0x100000, data: pattern(0x100) }] });
    const msg = failure(image);
    expect(msg).toContain('no multiboot header in the first 8192 bytes');
    expect(msg).toContain('an ELF64 executable for x86-64');
  });

  it('a gzip file', () => {
    expect(failure(concat(new Uint8Array([0x1f, 0x8b, 8, 0]), pattern(100))))
      .toMatch(/^not a loadable kernel: expected an ELF file with a multiboot header, found a gzip-compressed file/);
  });

  it('a PE file', () => {
    const pe = new Uint8Array(0x200);
    pe.set([0x4d, 0x5a]); pe[0x3c] = 0x80; pe.set([0x50, 0x45, 0, 0], 0x80);
    expect(failure(pe)).toContain('found a PE/COFF executable');
  });

  it('an unknown format: shows the first bytes', () => {
    expect(failure(new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 0xff, 0xfe])))
      .toContain('first bytes: de ad be ef 00 01 02 03 ff fe');
  });

  it('an empty file', () => {
    expect(failure(new Uint8Array(0))).toContain('an empty file');
  });

  it('a multiboot header with a wrong checksum is reported as such', () => {
    const bad = mb1Header(3);
    bad[8] ^= 1;
    const image = elf32({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: concat(bad, pattern(64)) }] });
    expect(failure(image)).toMatch(/at file offset 0x1000 has a bad checksum/);
  });

  it('a multiboot header without the a.out kludge in a file that is not ELF', () => {
    expect(failure(concat(mb1Header(0), pattern(100)))).toMatch(/does not set flag bit 16.*must be an ELF file/);
  });
});

describe('multiboot headers asking for what vmxray cannot give', () => {
  it('required flag bits other than 0, 1, 2', () => {
    const image = elf32({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: text(0x3 | 0x8 | 0x20) }] });
    expect(failure(image)).toMatch(/flag bits 3, 5 \(flags 0x2b\)/);
  });

  it('optional flag bits (16–31) other than the kludge are ignored', () => {
    const image = elf32({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: text(0x3 | 0x40000) }] });
    expect(() => loadKernel(machine(), image, {})).not.toThrow();
  });
});

describe('broken ELF files', () => {
  it('truncated in the middle of the file header', () => {
    expect(failure(good().subarray(0, 40))).toMatch(/truncated ELF32 file: 40 bytes/);
  });

  it('program headers past the end of the file', () => {
    const image = good();
    new DataView(image.buffer).setUint32(28, image.length - 8, true); // e_phoff
    expect(failure(image)).toMatch(/program header table .* past the end of the file/);
  });

  it('a PT_LOAD whose contents lie outside the file', () => {
    const image = good();
    new DataView(image.buffer).setUint32(52 + 4, image.length - 0x10, true); // p_offset of segment 0
    expect(failure(image)).toMatch(/program header 0 \(PT_LOAD\).*past the end of the file/);
  });

  it('p_filesz larger than p_memsz', () => {
    const image = good();
    new DataView(image.buffer).setUint32(52 + 20, 0x10, true); // p_memsz of segment 0
    expect(failure(image)).toMatch(/p_filesz 0x400 larger than p_memsz 0x10/);
  });

  it('the wrong machine', () => {
    const image = elf32({ machine: 40, entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: text() }] });
    expect(failure(image)).toMatch(/must be built for x86 \(i386\).*not ARM/);
  });

  it('a relocatable object file', () => {
    const image = elf32({ type: 1, entry: 0, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: text() }] });
    expect(failure(image)).toMatch(/relocatable object file.*must be a linked executable/);
  });

  it('big-endian', () => {
    const image = good();
    image[5] = 2;
    expect(failure(image)).toMatch(/big-endian/);
  });

  it('an entry point outside every PT_LOAD', () => {
    const image = elf32({ entry: 0x500000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: text() }] });
    expect(failure(image)).toMatch(/entry point 0x500000 is not inside any PT_LOAD segment/);
  });

  it('an ELF64 segment above 4 GiB', () => {
    const image = elf64({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: text() }, { vaddr: 0x200000, paddr: 0x100000000n, data: pattern(16) }] });
    expect(failure(image, {}, 8 * MiB)).toMatch(/above 4 GiB/);
  });
});

describe('what does not fit', () => {
  it('a segment beyond the end of RAM', () => {
    const image = elf32({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: text() }, { vaddr: 0x900000, paddr: 0x900000, data: pattern(16) }] });
    expect(failure(image, {}, 8 * MiB)).toMatch(/kernel segment 1 .* cannot be loaded: it runs beyond the end of RAM/);
  });

  it('a segment in the VGA/BIOS area', () => {
    const image = elf32({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: text() }, { vaddr: 0xb8000, paddr: 0xb8000, data: pattern(16) }] });
    expect(failure(image)).toMatch(/not RAM on a PC|not usable RAM/);
  });

  it('overlapping segments', () => {
    const image = elf32({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: text(), memsz: 0x2000 }, { vaddr: 0x101000, paddr: 0x101000, data: pattern(16) }] });
    expect(failure(image)).toMatch(/kernel segment 1 .* overlaps kernel segment 0/);
  });

  it('a module too big for RAM, and memory is left untouched', () => {
    const bus = machine(4 * MiB);
    expect(() => loadKernel(bus, good(), { modules: [{ data: new Uint8Array(4 * MiB), cmdline: 'big', name: 'big.img' }] }))
      .toThrow(/module 0 \(big.img, 4 MiB\) does not fit in RAM/);
    expect(bus.ram.isAllocated(0x100000)).toBe(false);
  });

  it('a command line with a NUL in it', () => {
    expect(failure(good(), { cmdline: 'a\0b' })).toMatch(/kernel command line contains a NUL/);
  });
});

describe('never a raw JavaScript exception', () => {
  // A deterministic generator so that a failure reproduces.
  function rng(seed: number) {
    return () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed; };
  }

  it('every truncation of a valid ELF32 and ELF64 kernel loads or throws BootError', () => {
    const images = [good(), elf64({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: text(), memsz: 0x800 }] })];
    for (const full of images) {
      for (let n = 0; n <= full.length; n += n < 200 ? 1 : 97) {
        try { loadKernel(machine(2 * MiB), full.subarray(0, n), {}); } catch (e) { expect(e).toBeInstanceOf(BootError); }
      }
    }
  });

  it('random corruption of the headers loads or throws BootError', () => {
    const next = rng(42);
    for (let i = 0; i < 400; i++) {
      const image = i % 2 ? good() : elf64({ entry: 0x100000, segments: [{ vaddr: 0x100000, paddr: 0x100000, data: text() }] });
      for (let k = 0; k < 4; k++) {
        const at = next() % 128 < 120 ? next() % 0x80 : 0x1000 + (next() % 12);
        image[at] = next() & 0xff;
      }
      try { loadKernel(machine(2 * MiB), image, {}); } catch (e) {
        if (!(e instanceof BootError)) throw e;
        expect(e.message).not.toMatch(/internal error/);
      }
    }
  });
});
