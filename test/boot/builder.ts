/**
 * Tiny builders for synthetic kernel images: ELF32/ELF64 executables laid out by hand from the
 * gABI tables, and multiboot / multiboot2 headers laid out from the specifications. Nothing
 * here comes from src/boot, so the tests check the loader against the documents, not itself.
 */
import { PhysBus, Ram } from '../../src/memory/index.js';

export const MiB = 1 << 20;

export function machine(ramBytes = 8 * MiB): PhysBus {
  return new PhysBus(new Ram(ramBytes));
}

class LE {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(n: number) { this.bytes = new Uint8Array(n); this.view = new DataView(this.bytes.buffer); }
  u8(o: number, v: number) { this.view.setUint8(o, v); }
  u16(o: number, v: number) { this.view.setUint16(o, v, true); }
  u32(o: number, v: number) { this.view.setUint32(o, v >>> 0, true); }
  u64(o: number, v: number | bigint) { this.view.setBigUint64(o, BigInt(v), true); }
}

export interface SegmentSpec {
  vaddr: number | bigint;
  paddr: number | bigint;
  data: Uint8Array;
  /** defaults to data.length */
  memsz?: number;
  type?: number; // default PT_LOAD = 1
}

export interface ElfSpec {
  entry: number | bigint;
  segments: SegmentSpec[];
  machine?: number;   // default EM_386 (3) for ELF32, EM_X86_64 (62) for ELF64
  type?: number;      // default ET_EXEC (2)
  /** File offset of the first segment's data (later ones follow, 0x1000-aligned). */
  firstOffset?: number;
}

/**
 * ELF32 (gABI "ELF Header": e_ident[16], e_type u16 @16, e_machine u16 @18, e_version u32 @20,
 * e_entry @24, e_phoff @28, e_shoff @32, e_flags @36, e_ehsize @40, e_phentsize @42,
 * e_phnum @44, e_shentsize @46, e_shnum @48, e_shstrndx @50; program header: p_type, p_offset,
 * p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align, 4 bytes each).
 */
export function elf32(spec: ElfSpec): Uint8Array {
  return buildElf(spec, 32);
}

/**
 * ELF64 (e_entry u64 @24, e_phoff u64 @32, e_shoff u64 @40, e_flags @48, e_ehsize @52,
 * e_phentsize @54, e_phnum @56, ...; program header: p_type u32, p_flags u32, p_offset,
 * p_vaddr, p_paddr, p_filesz, p_memsz, p_align u64 each).
 */
export function elf64(spec: ElfSpec): Uint8Array {
  return buildElf(spec, 64);
}

function buildElf(spec: ElfSpec, bits: 32 | 64): Uint8Array {
  const ehsize = bits === 32 ? 52 : 64;
  const phentsize = bits === 32 ? 32 : 56;
  const offsets: number[] = [];
  let at = spec.firstOffset ?? 0x1000;
  for (const s of spec.segments) {
    offsets.push(at);
    at = Math.ceil((at + s.data.length) / 0x1000) * 0x1000;
  }
  const total = Math.max(at, ehsize + phentsize * spec.segments.length);
  const w = new LE(total);
  w.bytes.set([0x7f, 0x45, 0x4c, 0x46, bits === 32 ? 1 : 2, 1, 1], 0);
  w.u16(16, spec.type ?? 2);
  w.u16(18, spec.machine ?? (bits === 32 ? 3 : 62));
  w.u32(20, 1);
  if (bits === 32) {
    w.u32(24, Number(spec.entry)); w.u32(28, ehsize); w.u32(32, 0);
    w.u16(40, ehsize); w.u16(42, phentsize); w.u16(44, spec.segments.length); w.u16(46, 40);
  } else {
    w.u64(24, spec.entry); w.u64(32, ehsize); w.u64(40, 0);
    w.u16(52, ehsize); w.u16(54, phentsize); w.u16(56, spec.segments.length); w.u16(58, 64);
  }
  spec.segments.forEach((s, i) => {
    const p = ehsize + i * phentsize;
    const memsz = s.memsz ?? s.data.length;
    if (bits === 32) {
      w.u32(p, s.type ?? 1); w.u32(p + 4, offsets[i]); w.u32(p + 8, Number(s.vaddr)); w.u32(p + 12, Number(s.paddr));
      w.u32(p + 16, s.data.length); w.u32(p + 20, memsz); w.u32(p + 24, 5); w.u32(p + 28, 0x1000);
    } else {
      w.u32(p, s.type ?? 1); w.u32(p + 4, 5); w.u64(p + 8, offsets[i]); w.u64(p + 16, s.vaddr); w.u64(p + 24, s.paddr);
      w.u64(p + 32, s.data.length); w.u64(p + 40, memsz); w.u64(p + 48, 0x1000);
    }
    w.bytes.set(s.data, offsets[i]);
  });
  return w.bytes;
}

/** Multiboot 0.6.96 §3.1.1: magic 0x1BADB002, flags, checksum with magic + flags + checksum = 0 (mod 2^32). */
export function mb1Header(flags: number, address?: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number }): Uint8Array {
  const w = new LE(address ? 32 : 12);
  w.u32(0, 0x1badb002);
  w.u32(4, flags);
  w.u32(8, -(0x1badb002 + flags));
  if (address) {
    w.u32(12, address.headerAddr); w.u32(16, address.loadAddr); w.u32(20, address.loadEndAddr);
    w.u32(24, address.bssEndAddr); w.u32(28, address.entryAddr);
  }
  return w.bytes;
}

/** Multiboot2 §3.1.1–3.1.3: magic 0xE85250D6, architecture, header_length, checksum, then 8-aligned tags and the end tag. */
export function mb2Header(tags: Uint8Array[], architecture = 0): Uint8Array {
  const padded = (t: Uint8Array) => Math.ceil(t.length / 8) * 8;
  const len = 16 + tags.reduce((n, t) => n + padded(t), 0) + 8;
  const w = new LE(len);
  w.u32(0, 0xe85250d6); w.u32(4, architecture); w.u32(8, len); w.u32(12, -(0xe85250d6 + architecture + len));
  let o = 16;
  for (const t of tags) { w.bytes.set(t, o); o += padded(t); }
  w.u16(o, 0); w.u16(o + 2, 0); w.u32(o + 4, 8);
  return w.bytes;
}

/** A header tag: type u16, flags u16, size u32, then u32 fields. */
export function mb2Tag(type: number, fields: number[], optional = false): Uint8Array {
  const w = new LE(8 + 4 * fields.length);
  w.u16(0, type); w.u16(2, optional ? 1 : 0); w.u32(4, 8 + 4 * fields.length);
  fields.forEach((f, i) => w.u32(8 + 4 * i, f));
  return w.bytes;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Bytes with a recognisable pattern (i * 7 + seed). */
export function pattern(n: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
}

export function cstr(bus: PhysBus, pa: number): string {
  let s = '';
  for (let i = 0; i < 4096; i++) {
    const c = bus.read8(pa + i);
    if (c === 0) return s;
    s += String.fromCharCode(c);
  }
  throw new Error(`no NUL within 4096 bytes at 0x${pa.toString(16)}`);
}

export function read64(bus: PhysBus, pa: number): number {
  return bus.read32(pa) + bus.read32(pa + 4) * 2 ** 32;
}
