/**
 * Minimal ACPI tables for a one-CPU PC (ACPI Specification 6.4, chapter 5 "ACPI Software
 * Programming Model"), built into one byte array that the machine copies to guest memory at
 * `base` — by default 0xE0000, the BIOS area that OSPM scans for the RSDP on 16-byte boundaries
 * (5.2.5.1 "Finding the RSDP on IA-PC Systems"). The boot loader must report that range as
 * reserved in the memory map.
 *
 *   RSDP (5.2.5.3, revision 2: "RSD PTR ", checksum over the first 20 bytes, extended checksum
 *         over all 36) -> RSDT (5.2.7) and XSDT (5.2.8), each listing FADT and MADT
 *   FADT (5.2.9, revision 6, minor 4) -> FACS (5.2.10, 64-byte aligned) and DSDT (5.2.11.1,
 *         just a header: no AML, hence no _S5 and no devices); PM1a event/control blocks and a
 *         32-bit PM timer in system I/O (the AcpiPm device below), SCI on ISA IRQ 9, no SMI_CMD
 *         (the system is always in ACPI mode, SCI_EN reads 1), IA-PC boot flags "legacy devices"
 *         and "8042"
 *   MADT (5.2.12, revision 5, PCAT_COMPAT): one Processor Local APIC per CPU (enabled), the
 *         I/O APIC (ID, 0xFEC00000, GSI base 0), Interrupt Source Overrides ISA IRQ0 -> GSI 2
 *         (conforming) and, with the PM block, IRQ9 -> GSI 9 active high, level (as QEMU), and a
 *         Local APIC NMI entry for LINT1 on all processors
 * Every table's checksum makes its bytes sum to zero.
 */
import type { PortBus, PortDevice } from '../memory/ports.js';
import type { VirtualClock } from '../machine/clock.js';

export interface AcpiOptions {
  /** Physical address of the blob; 16-byte aligned, inside 0xE0000-0xFFFFF. Default 0xE0000. */
  base?: number;
  /** Number of CPUs (APIC IDs 0..n-1). Default 1. */
  cpus?: number;
  lapicAddress?: number;
  ioapic?: { id: number; address: number; gsiBase: number };
  /** PM register block I/O base (PM1a_EVT at +0, PM1a_CNT at +4, PM_TMR at +8), or null for none. Default 0x600. */
  pmBase?: number | null;
  /** SCI interrupt (ISA IRQ). Default 9. */
  sciIrq?: number;
  oemId?: string;
  oemTableId?: string;
}

export interface AcpiTables {
  base: number;
  bytes: Uint8Array;
  /** Physical addresses. */
  rsdp: number; rsdt: number; xsdt: number; fadt: number; facs: number; dsdt: number; madt: number;
}

const CREATOR_ID = 'VMXR';
const CREATOR_REVISION = 1;

class Writer {
  readonly b: Uint8Array;
  readonly dv: DataView;
  constructor(size: number) { this.b = new Uint8Array(size); this.dv = new DataView(this.b.buffer); }
  str(off: number, s: string, len: number): void { for (let i = 0; i < len; i++) this.b[off + i] = i < s.length ? s.charCodeAt(i) : 0x20; }
  u8(off: number, v: number): void { this.b[off] = v; }
  u16(off: number, v: number): void { this.dv.setUint16(off, v, true); }
  u32(off: number, v: number): void { this.dv.setUint32(off, v >>> 0, true); }
  u64(off: number, v: number): void { this.dv.setUint32(off, v >>> 0, true); this.dv.setUint32(off + 4, Math.floor(v / 2 ** 32), true); }
  /** Generic Address Structure (5.2.3.2): space, bit width, bit offset, access size, address. */
  gas(off: number, space: number, bits: number, access: number, addr: number): void {
    this.u8(off, space); this.u8(off + 1, bits); this.u8(off + 2, 0); this.u8(off + 3, access); this.u64(off + 4, addr);
  }
}

export function acpiChecksum(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s = (s + bytes[i]) & 0xff;
  return s;
}

export function buildAcpiTables(o: AcpiOptions = {}): AcpiTables {
  const base = o.base ?? 0xe0000;
  const cpus = o.cpus ?? 1;
  const lapic = o.lapicAddress ?? 0xfee00000;
  const ioapic = o.ioapic ?? { id: 0, address: 0xfec00000, gsiBase: 0 };
  const pm = o.pmBase === undefined ? 0x600 : o.pmBase;
  const sci = o.sciIrq ?? 9;
  const oemId = o.oemId ?? 'VMXRAY';
  const oemTableId = o.oemTableId ?? 'VMXRAYPC';
  if (base % 16 !== 0 || base < 0xe0000 || base >= 0x100000) {
    throw new Error(`ACPI tables at 0x${base.toString(16)}: the RSDP must sit on a 16-byte boundary in 0xE0000-0xFFFFF`);
  }
  if (cpus < 1 || cpus > 255) throw new Error(`ACPI: ${cpus} CPUs is out of range (1..255)`);

  const overrides: [number, number, number][] = [[0, 2, 0x0000]]; // ISA IRQ0 -> GSI 2, conforming
  if (pm !== null) overrides.push([sci, sci, 0x000d]);              // SCI: active high (01), level (11)

  const align = (n: number, a: number) => Math.ceil(n / a) * a;
  const RSDP = 0, RSDP_LEN = 36;
  const FACS = align(RSDP + RSDP_LEN, 64), FACS_LEN = 64;
  const DSDT = align(FACS + FACS_LEN, 16), DSDT_LEN = 36;
  const FADT = align(DSDT + DSDT_LEN, 16), FADT_LEN = 276;
  const MADT = align(FADT + FADT_LEN, 16);
  const MADT_LEN = 44 + 8 * cpus + 12 + 10 * overrides.length + 6;
  const RSDT = align(MADT + MADT_LEN, 16), RSDT_LEN = 36 + 4 * 2;
  const XSDT = align(RSDT + RSDT_LEN, 16), XSDT_LEN = 36 + 8 * 2;
  const total = align(XSDT + XSDT_LEN, 16);
  if (base + total > 0x100000) throw new Error(`ACPI tables (${total} bytes) do not fit below 1 MiB at 0x${base.toString(16)}`);
  const w = new Writer(total);
  const at = (off: number) => base + off;

  const header = (off: number, sig: string, len: number, rev: number) => {
    w.str(off, sig, 4); w.u32(off + 4, len); w.u8(off + 8, rev);
    w.str(off + 10, oemId, 6); w.str(off + 16, oemTableId, 8); w.u32(off + 24, 1);
    w.str(off + 28, CREATOR_ID, 4); w.u32(off + 32, CREATOR_REVISION);
  };
  const seal = (off: number, len: number) => { w.u8(off + 9, 0); w.u8(off + 9, (256 - acpiChecksum(w.b, off, off + len)) & 0xff); };

  // FACS (5.2.10): signature, length, hardware signature, waking vector, global lock, flags, version 2.
  w.str(FACS, 'FACS', 4); w.u32(FACS + 4, FACS_LEN); w.u8(FACS + 32, 2);

  // DSDT: a definition block with no AML, revision 2 (64-bit integers).
  header(DSDT, 'DSDT', DSDT_LEN, 2); seal(DSDT, DSDT_LEN);

  // FADT (Table 5.9).
  header(FADT, 'FACP', FADT_LEN, 6);
  w.u32(FADT + 36, at(FACS));                 // FIRMWARE_CTRL
  w.u32(FADT + 40, at(DSDT));                 // DSDT
  w.u8(FADT + 45, 0);                         // Preferred_PM_Profile: unspecified
  w.u16(FADT + 46, pm !== null ? sci : 0);    // SCI_INT
  w.u32(FADT + 48, 0);                        // SMI_CMD: none, ACPI mode is always on
  if (pm !== null) {
    w.u32(FADT + 56, pm);                     // PM1a_EVT_BLK
    w.u32(FADT + 64, pm + 4);                 // PM1a_CNT_BLK
    w.u32(FADT + 76, pm + 8);                 // PM_TMR_BLK
    w.u8(FADT + 88, 4);                       // PM1_EVT_LEN
    w.u8(FADT + 89, 2);                       // PM1_CNT_LEN
    w.u8(FADT + 91, 4);                       // PM_TMR_LEN
  }
  w.u16(FADT + 96, 101);                      // P_LVL2_LAT > 100: C2 not supported
  w.u16(FADT + 98, 1001);                     // P_LVL3_LAT > 1000: C3 not supported
  w.u8(FADT + 108, 0x32);                     // CENTURY: CMOS index of the century byte
  w.u16(FADT + 109, 0x0003);                  // IAPC_BOOT_ARCH: LEGACY_DEVICES | 8042
  // Flags: WBINVD, PROC_C1, PWR_BUTTON and SLP_BUTTON (control-method or absent), TMR_VAL_EXT (32-bit PM timer).
  w.u32(FADT + 112, (1 << 0) | (1 << 2) | (1 << 4) | (1 << 5) | (pm !== null ? 1 << 8 : 0));
  w.u8(FADT + 131, 4);                        // FADT minor version: ACPI 6.4
  w.u64(FADT + 132, at(FACS));                // X_FIRMWARE_CTRL
  w.u64(FADT + 140, at(DSDT));                // X_DSDT
  if (pm !== null) {
    w.gas(FADT + 148, 1, 32, 2, pm);          // X_PM1a_EVT_BLK: system I/O, 32 bits, word access
    w.gas(FADT + 172, 1, 16, 2, pm + 4);      // X_PM1a_CNT_BLK
    w.gas(FADT + 208, 1, 32, 3, pm + 8);      // X_PM_TMR_BLK: dword access
  }
  seal(FADT, FADT_LEN);

  // MADT (5.2.12).
  header(MADT, 'APIC', MADT_LEN, 5);
  w.u32(MADT + 36, lapic);                    // Local Interrupt Controller Address
  w.u32(MADT + 40, 1);                        // Flags: PCAT_COMPAT (dual 8259 present)
  let e = MADT + 44;
  for (let i = 0; i < cpus; i++) {            // Processor Local APIC (type 0)
    w.u8(e, 0); w.u8(e + 1, 8); w.u8(e + 2, i); w.u8(e + 3, i); w.u32(e + 4, 1); e += 8;
  }
  w.u8(e, 1); w.u8(e + 1, 12); w.u8(e + 2, ioapic.id); w.u8(e + 3, 0); // I/O APIC (type 1)
  w.u32(e + 4, ioapic.address); w.u32(e + 8, ioapic.gsiBase); e += 12;
  for (const [src, gsi, flags] of overrides) { // Interrupt Source Override (type 2)
    w.u8(e, 2); w.u8(e + 1, 10); w.u8(e + 2, 0); w.u8(e + 3, src); w.u32(e + 4, gsi); w.u16(e + 8, flags); e += 10;
  }
  w.u8(e, 4); w.u8(e + 1, 6); w.u8(e + 2, 0xff); w.u16(e + 3, 0); w.u8(e + 5, 1); e += 6; // Local APIC NMI: all CPUs, LINT1
  seal(MADT, MADT_LEN);

  // RSDT and XSDT: FADT first, then MADT.
  header(RSDT, 'RSDT', RSDT_LEN, 1);
  w.u32(RSDT + 36, at(FADT)); w.u32(RSDT + 40, at(MADT));
  seal(RSDT, RSDT_LEN);
  header(XSDT, 'XSDT', XSDT_LEN, 1);
  w.u64(XSDT + 36, at(FADT)); w.u64(XSDT + 44, at(MADT));
  seal(XSDT, XSDT_LEN);

  // RSDP (5.2.5.3).
  w.str(RSDP, 'RSD PTR ', 8);
  w.str(RSDP + 9, oemId, 6);
  w.u8(RSDP + 15, 2);                         // revision 2: ACPI 2.0 and later
  w.u32(RSDP + 16, at(RSDT));
  w.u32(RSDP + 20, RSDP_LEN);
  w.u64(RSDP + 24, at(XSDT));
  w.u8(RSDP + 8, (256 - acpiChecksum(w.b, RSDP, RSDP + 20)) & 0xff);
  w.u8(RSDP + 32, (256 - acpiChecksum(w.b, RSDP, RSDP + 36)) & 0xff);

  return { base, bytes: w.b, rsdp: at(RSDP), rsdt: at(RSDT), xsdt: at(XSDT), fadt: at(FADT), facs: at(FACS), dsdt: at(DSDT), madt: at(MADT) };
}

/** ACPI PM timer frequency (4.8.3.3 "Power Management Timer"): 3.579545 MHz. */
export const PM_TIMER_HZ = 3_579_545;

export interface AcpiPmState { sts: number; en: number; cnt: number }

/**
 * The fixed-hardware registers the FADT points at (4.8.3 "PM1 Event Grouping", "PM1 Control
 * Grouping", "Power Management Timer"): PM1a_STS/PM1a_EN at base+0/+2, PM1a_CNT at base+4,
 * PM_TMR at base+8. The timer is a 32-bit counter of virtual time at 3.579545 MHz; SCI_EN
 * reads 1; writing SLP_EN calls `onSleep(SLP_TYP)`. No SCI is ever raised (no timer overflow
 * or button events are modelled).
 */
export class AcpiPm implements PortDevice {
  readonly base: number;
  private readonly clock: VirtualClock;
  onSleep: ((slpTyp: number) => void) | null;
  sts = 0;
  en = 0;
  cnt = 1; // SCI_EN

  constructor(o: { clock: VirtualClock; base?: number; onSleep?: (slpTyp: number) => void }) {
    this.clock = o.clock;
    this.base = o.base ?? 0x600;
    this.onSleep = o.onSleep ?? null;
  }

  register(bus: PortBus): void { bus.register(this, { from: this.base, to: this.base + 11 }); }

  timer(): number {
    return Math.floor((this.clock.icount * PM_TIMER_HZ) / this.clock.ips) % 2 ** 32;
  }

  private byteAt(off: number): number {
    if (off < 2) return (this.sts >> (8 * off)) & 0xff;
    if (off < 4) return (this.en >> (8 * (off - 2))) & 0xff;
    if (off < 6) return (this.cnt >> (8 * (off - 4))) & 0xff;
    if (off >= 8 && off < 12) return Math.floor(this.timer() / 2 ** (8 * (off - 8))) & 0xff;
    return 0xff;
  }

  portRead(port: number, size: 1 | 2 | 4): number {
    const off = port - this.base;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.byteAt(off + i);
    return v >>> 0;
  }

  portWrite(port: number, size: 1 | 2 | 4, value: number): void {
    const off = port - this.base;
    for (let i = 0; i < size; i++) {
      const o = off + i, b = (value >>> (8 * i)) & 0xff;
      if (o < 2) this.sts &= ~(b << (8 * o));                 // write one to clear
      else if (o < 4) this.en = (this.en & ~(0xff << (8 * (o - 2)))) | (b << (8 * (o - 2)));
      else if (o < 6) {
        const sh = 8 * (o - 4);
        this.cnt = ((this.cnt & ~(0xff << sh)) | (b << sh)) & 0x1c07 | 1; // SLP_TYP, BM_RLD, GBL_RLS; SCI_EN stays 1
        if (o === 5 && (b & 0x20)) this.onSleep?.((this.cnt >> 10) & 7);  // SLP_EN (bit 13), write-only
      }
    }
  }

  save(): AcpiPmState { return { sts: this.sts, en: this.en, cnt: this.cnt }; }
  restore(s: AcpiPmState): void { this.sts = s.sts; this.en = s.en; this.cnt = s.cnt; }
}
