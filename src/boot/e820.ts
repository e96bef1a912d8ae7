import { hex } from './errors.js';

/**
 * The PC memory map a BIOS reports (INT 15h, E820) and multiboot passes on: what the kernel may
 * use and what it must leave alone. vmxray's RAM is flat from 0 to its size; this map carves
 * out what a real PC has there instead of RAM (EBDA, VGA and BIOS areas) and the APIC window.
 * The `name` is for vmxray's own messages; the kernel sees base, length and type.
 */
export const E820_RAM = 1;
export const E820_RESERVED = 2;

export interface MemoryRegion { base: number; length: number; type: number; name: string }

/** Extended BIOS data area: the last KiB below 640 KiB. */
export const EBDA_BASE = 0x9fc00;
export const LOW_MEMORY_END = 0xa0000;
/** The system BIOS ROM. (0xA0000–0xEFFFF — VGA memory and option ROMs — is a hole: not listed.) */
/** 0xE0000–0xFFFFF: BIOS area, holding vmxray's ACPI tables (RSDP found by scanning 0xE0000–0xFFFFF). */
export const BIOS_BASE = 0xe0000;
export const HIGH_MEMORY_BASE = 0x100000;
/** IOAPIC (0xFEC00000) up to and including the local APIC page (0xFEE00000–0xFEE00FFF). */
export const APIC_BASE = 0xfec00000;
export const APIC_END = 0xfee01000;
export const FOUR_GIB = 2 ** 32;

/** The memory map of a vmxray PC with `ramSize` bytes of RAM, sorted by base. */
export function pcMemoryMap(ramSize: number): MemoryRegion[] {
  const map: MemoryRegion[] = [];
  const ram = (base: number, end: number, name: string) => {
    const e = Math.min(end, ramSize);
    if (e > base) map.push({ base, length: e - base, type: E820_RAM, name });
  };
  ram(0, EBDA_BASE, 'conventional memory');
  map.push({ base: EBDA_BASE, length: LOW_MEMORY_END - EBDA_BASE, type: E820_RESERVED, name: 'the extended BIOS data area (EBDA)' });
  map.push({ base: BIOS_BASE, length: HIGH_MEMORY_BASE - BIOS_BASE, type: E820_RESERVED, name: 'the BIOS ROM area' });
  ram(HIGH_MEMORY_BASE, APIC_BASE, 'extended memory');
  map.push({ base: APIC_BASE, length: APIC_END - APIC_BASE, type: E820_RESERVED, name: 'the IOAPIC/local APIC window' });
  ram(FOUR_GIB, Infinity, 'memory above 4 GiB');
  return map;
}

/** Multiboot mem_lower: KiB of memory starting at address 0 (639 on a PC with 640 KiB). */
export function memLowerKiB(map: MemoryRegion[]): number {
  const r = map.find(m => m.type === E820_RAM && m.base === 0);
  return r ? Math.floor(r.length / 1024) : 0;
}

/** Multiboot mem_upper: KiB of memory starting at 1 MiB, up to the first hole. */
export function memUpperKiB(map: MemoryRegion[]): number {
  const r = map.find(m => m.type === E820_RAM && m.base === HIGH_MEMORY_BASE);
  return r ? Math.floor(r.length / 1024) : 0;
}

/** Why [start, end) is not usable RAM, as a clause ("it overlaps ..."); undefined when it is all usable. */
export function whyNotUsable(map: MemoryRegion[], ramSize: number, start: number, end: number): string | undefined {
  for (const m of map) {
    if (m.type === E820_RAM && start >= m.base && end <= m.base + m.length) return undefined;
  }
  if (end > ramSize) return `it runs beyond the end of RAM (the machine has ${hex(ramSize)} bytes)`;
  for (const m of map) {
    if (m.type !== E820_RAM && start < m.base + m.length && m.base < end) {
      return `it overlaps ${m.name} at ${hex(m.base)}–${hex(m.base + m.length - 1)}, which is not usable RAM`;
    }
  }
  if (start < BIOS_BASE && end > LOW_MEMORY_END) return `it overlaps the VGA memory and option ROM hole ${hex(LOW_MEMORY_END)}–${hex(BIOS_BASE - 1)}, which is not RAM on a PC`;
  return 'it lies in a hole of the memory map, not in usable RAM';
}
