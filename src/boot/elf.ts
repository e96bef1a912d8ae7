import { ImageReader } from './bytes.js';
import { BootError, hex } from './errors.js';

/**
 * ELF32 and ELF64 file headers and program headers (System V gABI, "ELF Header" and "Program
 * Header"). Only what a boot loader needs: the identification, type, machine, entry point and
 * the program header table. Addresses are bigints because ELF64 kernels are linked in the
 * upper half (0xffffffff80100000 does not fit a double exactly); the loader narrows them after
 * checking that they fit 32-bit physical memory.
 */

export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const; // "\x7fELF"
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;
export const EM_386 = 3;
export const EM_X86_64 = 62;
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PN_XNUM = 0xffff;

export interface ElfProgramHeader {
  index: number;
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  paddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align: bigint;
}

export interface ElfFile {
  bits: 32 | 64;
  type: number;
  machine: number;
  version: number;
  entry: bigint;
  phoff: bigint;
  phentsize: number;
  programHeaders: ElfProgramHeader[];
}

export function isElf(image: Uint8Array): boolean {
  return image.length >= 4 && ELF_MAGIC.every((b, i) => image[i] === b);
}

const MACHINES: Record<number, string> = {
  2: 'SPARC', 3: 'x86 (i386)', 8: 'MIPS', 20: 'PowerPC', 21: 'PowerPC64', 22: 'S/390',
  40: 'ARM (32-bit)', 43: 'SPARC V9', 50: 'IA-64', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V',
  258: 'LoongArch',
};
export function machineName(m: number): string {
  return MACHINES[m] ?? `machine ${m}`;
}

const TYPES: Record<number, string> = {
  [ET_REL]: 'relocatable object file (not linked)',
  [ET_EXEC]: 'executable',
  [ET_DYN]: 'shared object or position-independent executable',
  [ET_CORE]: 'core dump',
};
export function typeName(t: number): string {
  return TYPES[t] ?? `file of type ${t}`;
}

/** "an ELF64 executable for x86-64 (entry 0xffffffff801001e1)" */
export function describeElf(elf: ElfFile): string {
  return `an ELF${elf.bits} ${typeName(elf.type)} for ${machineName(elf.machine)} (entry ${hex(elf.entry)})`;
}

/**
 * Parse and check the file header and the program header table. Throws a BootError for a
 * truncated file, an unsupported encoding, or program headers (or PT_LOAD contents) that lie
 * outside the file.
 */
export function parseElf(image: Uint8Array): ElfFile {
  const r = new ImageReader(image, 'the ELF file');
  if (!isElf(image)) throw new BootError('not an ELF file: it does not start with the bytes 7f 45 4c 46 ("\\x7fELF")');
  if (image.length < 16) throw new BootError(`truncated ELF file: ${image.length} bytes, shorter than the 16-byte e_ident`);
  const cls = image[4];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) {
    throw new BootError(`unsupported ELF class ${cls} (e_ident[EI_CLASS]); expected 1 (ELF32) or 2 (ELF64)`);
  }
  const bits = cls === ELFCLASS32 ? 32 : 64;
  const data = image[5];
  if (data !== ELFDATA2LSB) {
    throw new BootError(data === 2
      ? 'big-endian ELF file (e_ident[EI_DATA] = 2, ELFDATA2MSB); x86 kernels are little-endian (ELFDATA2LSB)'
      : `unsupported ELF data encoding ${data} (e_ident[EI_DATA]); expected 1 (little-endian)`);
  }
  const ehsize = bits === 32 ? 52 : 64;
  if (image.length < ehsize) {
    throw new BootError(`truncated ELF${bits} file: ${image.length} bytes, but the ELF${bits} file header alone is ${ehsize} bytes`);
  }
  const type = r.u16(16, 'e_type');
  const machine = r.u16(18, 'e_machine');
  const version = r.u32(20, 'e_version');
  let entry: bigint, phoff: bigint, shoff: bigint, phentsize: number, phnum: number, shentsize: number;
  if (bits === 32) {
    entry = BigInt(r.u32(24, 'e_entry'));
    phoff = BigInt(r.u32(28, 'e_phoff'));
    shoff = BigInt(r.u32(32, 'e_shoff'));
    phentsize = r.u16(42, 'e_phentsize');
    phnum = r.u16(44, 'e_phnum');
    shentsize = r.u16(46, 'e_shentsize');
  } else {
    entry = r.u64(24, 'e_entry');
    phoff = r.u64(32, 'e_phoff');
    shoff = r.u64(40, 'e_shoff');
    phentsize = r.u16(54, 'e_phentsize');
    phnum = r.u16(56, 'e_phnum');
    shentsize = r.u16(58, 'e_shentsize');
  }
  const elf: ElfFile = { bits, type, machine, version, entry, phoff, phentsize, programHeaders: [] };

  if (phnum === PN_XNUM) {
    // More than 0xfffe program headers: the real count is sh_info of section header 0.
    const minSh = bits === 32 ? 40 : 64;
    if (shoff === 0n || shentsize < minSh) {
      throw new BootError(`ELF e_phnum is PN_XNUM (0xffff) but there is no section header 0 to hold the real count (e_shoff ${hex(shoff)}, e_shentsize ${shentsize})`);
    }
    const at = toOffset(shoff, image.length, 'section header 0 (e_shoff)');
    phnum = r.u32(at + (bits === 32 ? 28 : 44), 'sh_info of section header 0 (the program header count)');
  }
  if (phnum === 0) return elf;

  const minPh = bits === 32 ? 32 : 56;
  if (phentsize < minPh) {
    throw new BootError(`ELF${bits} e_phentsize is ${phentsize}, smaller than an ELF${bits} program header (${minPh} bytes)`);
  }
  const tableEnd = phoff + BigInt(phnum) * BigInt(phentsize);
  if (tableEnd > BigInt(image.length)) {
    throw new BootError(`the ELF program header table (${phnum} ${phnum === 1 ? 'entry' : 'entries'} of ${phentsize} bytes at file offset ${hex(phoff)}) ends at ${hex(tableEnd)}, past the end of the file (${image.length} bytes): the file is truncated or its header is corrupt`);
  }
  const base = Number(phoff);
  for (let i = 0; i < phnum; i++) {
    const o = base + i * phentsize;
    const ph: ElfProgramHeader = bits === 32
      ? {
          index: i, type: r.u32(o, 'p_type'), offset: BigInt(r.u32(o + 4, 'p_offset')),
          vaddr: BigInt(r.u32(o + 8, 'p_vaddr')), paddr: BigInt(r.u32(o + 12, 'p_paddr')),
          filesz: BigInt(r.u32(o + 16, 'p_filesz')), memsz: BigInt(r.u32(o + 20, 'p_memsz')),
          flags: r.u32(o + 24, 'p_flags'), align: BigInt(r.u32(o + 28, 'p_align')),
        }
      : {
          index: i, type: r.u32(o, 'p_type'), flags: r.u32(o + 4, 'p_flags'),
          offset: r.u64(o + 8, 'p_offset'), vaddr: r.u64(o + 16, 'p_vaddr'), paddr: r.u64(o + 24, 'p_paddr'),
          filesz: r.u64(o + 32, 'p_filesz'), memsz: r.u64(o + 40, 'p_memsz'), align: r.u64(o + 48, 'p_align'),
        };
    if (ph.type === PT_LOAD) {
      if (ph.offset + ph.filesz > BigInt(image.length)) {
        throw new BootError(`ELF program header ${i} (PT_LOAD) takes ${hex(ph.filesz)} bytes from file offset ${hex(ph.offset)}, up to ${hex(ph.offset + ph.filesz)}, past the end of the file (${image.length} bytes = ${hex(image.length)}): the file is truncated or the header is corrupt`);
      }
      if (ph.filesz > ph.memsz) {
        throw new BootError(`ELF program header ${i} (PT_LOAD) has p_filesz ${hex(ph.filesz)} larger than p_memsz ${hex(ph.memsz)}; the gABI requires p_filesz <= p_memsz`);
      }
    }
    elf.programHeaders.push(ph);
  }
  return elf;
}

function toOffset(v: bigint, fileLength: number, what: string): number {
  if (v >= BigInt(fileLength)) throw new BootError(`${what} at file offset ${hex(v)} lies beyond the end of the file (${fileLength} bytes)`);
  return Number(v);
}

export function loadSegments(elf: ElfFile): ElfProgramHeader[] {
  return elf.programHeaders.filter(p => p.type === PT_LOAD);
}
