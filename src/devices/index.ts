/** The devices' face: one file per device (DESIGN.md "A device is one file"). */
export type { IrqLine } from './irq.js';
export { Pic8259Pair } from './pic8259.js';
export { Pit8254, PIT_HZ } from './pit8254.js';
export { Cmos } from './cmos.js';
export { I8042 } from './i8042.js';
export { Ps2Keyboard, textToSet1 } from './ps2keyboard.js';
export { VgaText } from './vga.js';
export { Uart16550, COM1, COM2, COM3, COM4 } from './uart16550.js';
export { PostPort, DebugConsolePort, DebugExitPort, SystemControlPortA } from './simple-ports.js';
export { AtaController, AtaChannel } from './ata.js';
export { PciBus, createPciBus } from './pci.js';
export { LocalApic } from './lapic.js';
export { IoApic } from './ioapic.js';
export { buildAcpiTables, AcpiPm } from './acpi.js';
export { FwCfg } from './fwcfg.js';
