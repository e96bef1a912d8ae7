import type { PhysBus } from '../memory/index.js';
import { EM_386, EM_X86_64, ET_DYN, ET_EXEC, EV_CURRENT, describeElf, loadSegments, machineName, type ElfFile } from './elf.js';
import { FOUR_GIB } from './e820.js';
import { BootError, hex } from './errors.js';
import type { MemoryPlan } from './layout.js';

/**
 * A kernel image reduced to what gets copied where: segments (file bytes plus zero fill) at
 * physical addresses, and the physical entry point. Built either from ELF program headers or
 * from the load addresses in a multiboot header (the "a.out kludge" / multiboot2 address tag).
 */
export interface KernelSegment {
  paddr: number;
  /** The bytes taken from the file (p_filesz of them); the rest up to memsz is zeroed. */
  data: Uint8Array;
  memsz: number;
  what: string;
}

export interface KernelImage {
  segments: KernelSegment[];
  entry: number;
  /** e_entry as linked, when translation to a physical address changed it. */
  entryVirtual?: number;
}

/**
 * Load an ELF executable the way GRUB's multiboot loader does (multiboot_elfxx.c): every
 * PT_LOAD at its p_paddr, bss zeroed, and e_entry translated from virtual to physical through
 * the PT_LOAD segment whose [p_vaddr, p_vaddr + p_memsz) holds it:
 * entry = e_entry - p_vaddr + p_paddr. Everything must sit below 4 GiB: the kernel is entered
 * in 32-bit protected mode without paging.
 */
export function kernelFromElf(elf: ElfFile, image: Uint8Array, context: string): KernelImage {
  const expected = elf.bits === 32 ? EM_386 : EM_X86_64;
  if (elf.machine !== expected) {
    throw new BootError(`${context}: the kernel is ${describeElf(elf)}; an ELF${elf.bits} kernel must be built for ${machineName(expected)} (e_machine ${expected}), not ${machineName(elf.machine)} (e_machine ${elf.machine})`);
  }
  if (elf.version !== EV_CURRENT) throw new BootError(`${context}: ELF e_version is ${elf.version}, expected 1 (EV_CURRENT)`);
  if (elf.type !== ET_EXEC && elf.type !== ET_DYN) {
    throw new BootError(`${context}: the kernel is ${describeElf(elf)}; a kernel must be a linked executable (ET_EXEC or ET_DYN)`);
  }
  const loads = loadSegments(elf);
  if (loads.length === 0) throw new BootError(`${context}: the ELF file has no PT_LOAD program headers, so there is nothing to load`);

  const segments: KernelSegment[] = [];
  for (const ph of loads) {
    if (ph.memsz === 0n) continue;
    const what = `kernel segment ${ph.index} (PT_LOAD, p_paddr ${hex(ph.paddr)}, p_memsz ${hex(ph.memsz)})`;
    if (ph.paddr + ph.memsz > BigInt(FOUR_GIB)) {
      throw new BootError(`${context}: ${what} ends at ${hex(ph.paddr + ph.memsz)}, above 4 GiB; a multiboot kernel is entered in 32-bit mode without paging and must be loaded below 4 GiB (check that p_paddr is a physical address: ${hex(ph.paddr)})`);
    }
    const offset = Number(ph.offset);
    const filesz = Number(ph.filesz);
    segments.push({ paddr: Number(ph.paddr), data: image.subarray(offset, offset + filesz), memsz: Number(ph.memsz), what });
  }
  if (segments.length === 0) throw new BootError(`${context}: every PT_LOAD program header of the ELF file is empty (p_memsz 0), so there is nothing to load`);

  const holder = loads.find(ph => ph.vaddr <= elf.entry && elf.entry < ph.vaddr + ph.memsz);
  if (!holder) {
    const spans = loads.map(ph => `${hex(ph.vaddr)}–${hex(ph.vaddr + ph.memsz)}`).join(', ');
    throw new BootError(`${context}: the ELF entry point ${hex(elf.entry)} is not inside any PT_LOAD segment (their virtual ranges: ${spans}), so it cannot be translated to a physical address`);
  }
  const entry = elf.entry - holder.vaddr + holder.paddr;
  if (entry >= BigInt(FOUR_GIB)) {
    throw new BootError(`${context}: the entry point ${hex(elf.entry)} translates to physical ${hex(entry)}, above 4 GiB; it must be reachable in 32-bit mode`);
  }
  const k: KernelImage = { segments, entry: Number(entry) };
  if (entry !== elf.entry && elf.entry <= BigInt(Number.MAX_SAFE_INTEGER)) k.entryVirtual = Number(elf.entry);
  return k;
}

/** The load addresses of a multiboot header (v1 flag bit 16, or the multiboot2 address tag). */
export interface AddressFields {
  /** File offset at which the multiboot header was found. */
  headerOffset: number;
  headerAddr: number;
  loadAddr: number;
  /** 0: load to the end of the file. */
  loadEndAddr: number;
  /** 0: no bss. */
  bssEndAddr: number;
  entryAddr: number;
}

/**
 * Load by the header's own addresses (Multiboot 0.6.96 §3.1.3, "The address fields of
 * Multiboot header"): the header at file offset h is meant to sit at header_addr, so the file
 * is loaded from offset h - (header_addr - load_addr), (load_end_addr - load_addr) bytes of it
 * (to the end of the file if load_end_addr is 0), to load_addr; then zeros up to bss_end_addr.
 */
export function kernelFromAddresses(f: AddressFields, image: Uint8Array, context: string): KernelImage {
  if (f.loadAddr > f.headerAddr) {
    throw new BootError(`${context}: load_addr ${hex(f.loadAddr)} is above header_addr ${hex(f.headerAddr)}; the specification requires load_addr <= header_addr`);
  }
  const offset = f.headerOffset - (f.headerAddr - f.loadAddr);
  if (offset < 0) {
    throw new BootError(`${context}: header_addr ${hex(f.headerAddr)} - load_addr ${hex(f.loadAddr)} = ${hex(f.headerAddr - f.loadAddr)} is more than the header's file offset ${hex(f.headerOffset)}, so loading would start before the beginning of the file`);
  }
  let loadSize: number;
  if (f.loadEndAddr === 0) {
    loadSize = image.length - offset;
  } else {
    if (f.loadEndAddr < f.loadAddr) throw new BootError(`${context}: load_end_addr ${hex(f.loadEndAddr)} is below load_addr ${hex(f.loadAddr)}`);
    loadSize = f.loadEndAddr - f.loadAddr;
    if (offset + loadSize > image.length) {
      throw new BootError(`${context}: the header asks to load ${hex(loadSize)} bytes (load_addr ${hex(f.loadAddr)} to load_end_addr ${hex(f.loadEndAddr)}) from file offset ${hex(offset)}, but the file ends at ${hex(image.length)}: the file is truncated or the addresses are wrong`);
    }
  }
  let memsz = loadSize;
  if (f.bssEndAddr !== 0) {
    if (f.bssEndAddr < f.loadAddr + loadSize) {
      throw new BootError(`${context}: bss_end_addr ${hex(f.bssEndAddr)} is below the end of the loaded text and data (${hex(f.loadAddr + loadSize)})`);
    }
    memsz = f.bssEndAddr - f.loadAddr;
  }
  if (f.loadAddr + memsz > FOUR_GIB) throw new BootError(`${context}: the image would end at ${hex(f.loadAddr + memsz)}, above 4 GiB`);
  const what = `kernel image (load_addr ${hex(f.loadAddr)}, ${hex(loadSize)} bytes from file offset ${hex(offset)}${memsz > loadSize ? `, bss to ${hex(f.bssEndAddr)}` : ''})`;
  return {
    segments: memsz === 0 ? [] : [{ paddr: f.loadAddr, data: image.subarray(offset, offset + loadSize), memsz, what }],
    entry: f.entryAddr,
  };
}

/** Claim the kernel's segments in the plan (checks RAM, holes and overlaps between segments). */
export function planKernel(plan: MemoryPlan, k: KernelImage): void {
  for (const s of k.segments) plan.reserve(s.paddr, s.memsz, s.what);
}

/** The first byte after the highest segment. */
export function kernelEnd(k: KernelImage): number {
  return k.segments.reduce((m, s) => Math.max(m, s.paddr + s.memsz), 0);
}

/** Copy the segments into guest memory and zero their bss. */
export function writeKernel(bus: PhysBus, k: KernelImage): void {
  for (const s of k.segments) {
    if (s.data.length) bus.writeBytes(s.paddr, s.data);
    const bss = s.memsz - s.data.length;
    if (bss > 0) {
      const at = s.paddr + s.data.length;
      bus.ram.fill(at, bss, 0);
      bus.touched(at, bss);
    }
  }
}

