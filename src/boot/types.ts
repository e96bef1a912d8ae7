/** The boot loader's public shapes (re-exported by index.ts). */

export interface BootModule {
  data: Uint8Array;
  /** The module's string in the boot information (GRUB passes the path and its arguments). */
  cmdline: string;
  /** For vmxray's messages only. */
  name?: string;
}

export interface BootOptions {
  cmdline?: string;
  modules?: BootModule[];
  /** default 'vmxray' */
  bootloaderName?: string;
  /**
   * Which header to use when the image carries both a multiboot and a multiboot2 header
   * (default: multiboot v1, as QEMU's -kernel does). Naming one that is absent is an error.
   */
  protocol?: 'multiboot1' | 'multiboot2';
}

export interface LoadedSegment { paddr: number; memsz: number; filesz: number }

export interface EntryState {
  protocol: 'multiboot1' | 'multiboot2' | 'elf';
  /**
   * 32-bit protected mode entry, paging off, flat 4 GiB code and data segments, A20 on,
   * EFLAGS.IF and EFLAGS.VM clear (Multiboot 0.6.96 §3.2, Multiboot2 §3.3 "I386 machine state").
   */
  eip: number;
  eax: number;
  ebx: number;
  /** The specifications leave ESP undefined; vmxray gives a 16 KiB stack in low memory (16-byte aligned). */
  esp: number;
  /** what was loaded where, for messages and the debugger */
  segments: LoadedSegment[];
  /** e_entry before translation, if different */
  entryVirtual?: number;
  /** Where each module went (mod_start, mod_end exclusive). */
  modules?: { start: number; end: number; cmdline: string; name?: string }[];
  /** The boot information block EBX points into. */
  bootInfo?: { paddr: number; size: number };
  /** The stack ESP points into: [base, base + size). */
  stack?: { base: number; size: number };
}
