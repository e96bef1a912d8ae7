import type { CPU } from '../cpu/cpu.js';
import type { PhysBus } from '../memory/physbus.js';
import type { EntryState } from '../boot/index.js';
import { CS, SS, DS, ES, FS, GS, CR0_PE, CR0_ET, CR0_NE } from '../cpu/regs.js';

/**
 * CPU state at a multiboot kernel's entry (Multiboot 0.6.96 §3.2 "Machine state"): 32-bit
 * protected mode, paging off, CS a 32-bit flat read/execute segment, the data segments flat
 * read/write, A20 on, IF and VM clear. The specification leaves GDTR undefined; vmxray loads a
 * real three-entry GDT (at GDT_ADDR) matching the loaded descriptors, so a kernel that reloads a
 * segment register before its own LGDT still gets a flat segment, as under GRUB.
 */
export const GDT_ADDR = 0x800;
export const BOOT_CS = 0x08, BOOT_DS = 0x10;

export function applyEntryState(cpu: CPU, bus: PhysBus, e: EntryState): void {
  cpu.reset();
  // null, flat code (0x00cf9a000000ffff), flat data (0x00cf92000000ffff); accessed bits set
  const gdt = new Uint8Array(24);
  const dv = new DataView(gdt.buffer);
  dv.setUint32(8, 0x0000ffff, true); dv.setUint32(12, 0x00cf9b00, true);
  dv.setUint32(16, 0x0000ffff, true); dv.setUint32(20, 0x00cf9300, true);
  bus.writeBytes(GDT_ADDR, gdt);
  cpu.gdtBase = GDT_ADDR; cpu.gdtLimit = 23;
  cpu.idtBase = 0; cpu.idtLimit = 0x3ff;
  cpu.cr0 = CR0_PE | CR0_ET | CR0_NE;
  cpu.segSel[CS] = BOOT_CS; cpu.segBase[CS] = 0; cpu.segLimit[CS] = 0xffffffff; cpu.segAr[CS] = 0xc09b;
  for (const s of [SS, DS, ES, FS, GS]) {
    cpu.segSel[s] = BOOT_DS; cpu.segBase[s] = 0; cpu.segLimit[s] = 0xffffffff; cpu.segAr[s] = 0xc093;
  }
  cpu.setFlags(0x2, 0xffffffff);
  cpu.lo[0] = e.eax | 0; cpu.lo[3] = e.ebx | 0; cpu.lo[4] = e.esp | 0;
  cpu.rip = e.eip >>> 0; cpu.nip = cpu.rip;
  cpu.updateMode();
  cpu.flushTlb();
}
