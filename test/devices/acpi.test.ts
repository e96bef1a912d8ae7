/**
 * The ACPI tables, parsed back from guest memory the way an OS finds them, and checked field by
 * field against the ACPI 6.4 specification (sections 5.2.5 RSDP, 5.2.7 RSDT, 5.2.8 XSDT, 5.2.9
 * FADT, 5.2.10 FACS, 5.2.12 MADT).
 */
import { describe, it, expect } from 'vitest';
import { Ram, PhysBus, PortBus } from '../../src/memory/index.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { buildAcpiTables, acpiChecksum, AcpiPm, PM_TIMER_HZ } from '../../src/devices/acpi.js';

function load(opts: Parameters<typeof buildAcpiTables>[0] = {}) {
  const t = buildAcpiTables(opts);
  const phys = new PhysBus(new Ram(2 << 20));
  phys.writeBytes(t.base, t.bytes);
  const bytes = (pa: number, n: number) => phys.readBytes(pa, n);
  const str = (pa: number, n: number) => String.fromCharCode(...bytes(pa, n));
  const u8 = (pa: number) => phys.read8(pa);
  const u16 = (pa: number) => phys.read16(pa);
  const u32 = (pa: number) => phys.read32(pa);
  const u64 = (pa: number) => phys.read32(pa) + phys.read32(pa + 4) * 2 ** 32;
  /** A table: signature, length, and a valid checksum. */
  const table = (pa: number, sig: string) => {
    expect(str(pa, 4)).toBe(sig);
    const len = u32(pa + 4);
    expect(acpiChecksum(bytes(pa, len))).toBe(0);
    return len;
  };
  return { t, phys, bytes, str, u8, u16, u32, u64, table };
}

/** OSPM's search: 16-byte boundaries of 0xE0000-0xFFFFF (ACPI 5.2.5.1). */
function findRsdp(str: (pa: number, n: number) => string): number {
  for (let pa = 0xe0000; pa < 0x100000; pa += 16) if (str(pa, 8) === 'RSD PTR ') return pa;
  return -1;
}

describe('ACPI tables', () => {
  it('an OS scanning the BIOS area finds a revision 2 RSDP with both checksums correct', () => {
    const { str, bytes, u8, u32, u64, t } = load();
    const rsdp = findRsdp(str);
    expect(rsdp).toBe(t.rsdp);
    expect(acpiChecksum(bytes(rsdp, 20))).toBe(0);
    expect(acpiChecksum(bytes(rsdp, 36))).toBe(0);
    expect(u8(rsdp + 15)).toBe(2);
    expect(u32(rsdp + 20)).toBe(36);
    expect(u32(rsdp + 16)).toBe(t.rsdt);
    expect(u64(rsdp + 24)).toBe(t.xsdt);
    expect(str(rsdp + 9, 6)).toBe('VMXRAY');
  });

  it('RSDT and XSDT list the FADT and the MADT', () => {
    const { u32, u64, table, str, t } = load();
    expect(table(t.rsdt, 'RSDT')).toBe(44);
    expect(table(t.xsdt, 'XSDT')).toBe(52);
    const viaRsdt = [u32(t.rsdt + 36), u32(t.rsdt + 40)];
    const viaXsdt = [u64(t.xsdt + 36), u64(t.xsdt + 44)];
    expect(viaRsdt).toEqual(viaXsdt);
    expect(viaRsdt.map(a => str(a, 4))).toEqual(['FACP', 'APIC']);
  });

  it('the FADT points at the DSDT and a 64-byte aligned FACS, and at the PM blocks', () => {
    const { u8, u16, u32, u64, table, str, t } = load();
    expect(table(t.fadt, 'FACP')).toBe(276);
    expect(u8(t.fadt + 8)).toBe(6);                       // FADT major version 6
    expect(u8(t.fadt + 131)).toBe(4);                     // minor version 4
    const facs = u32(t.fadt + 36), dsdt = u32(t.fadt + 40);
    expect(u64(t.fadt + 132)).toBe(facs);
    expect(u64(t.fadt + 140)).toBe(dsdt);
    expect(facs % 64).toBe(0);
    expect(str(facs, 4)).toBe('FACS');
    expect(u32(facs + 4)).toBe(64);
    expect(table(dsdt, 'DSDT')).toBe(36);
    expect(u8(dsdt + 8)).toBe(2);
    expect(u16(t.fadt + 46)).toBe(9);                     // SCI_INT
    expect(u32(t.fadt + 48)).toBe(0);                     // no SMI_CMD: always in ACPI mode
    expect([u32(t.fadt + 56), u32(t.fadt + 64), u32(t.fadt + 76)]).toEqual([0x600, 0x604, 0x608]);
    expect([u8(t.fadt + 88), u8(t.fadt + 89), u8(t.fadt + 91)]).toEqual([4, 2, 4]);
    expect(u16(t.fadt + 109)).toBe(3);                    // legacy devices + 8042
    expect(u32(t.fadt + 112) & (1 << 8)).toBeTruthy();    // TMR_VAL_EXT: 32-bit timer
    expect(u32(t.fadt + 112) & (1 << 20)).toBe(0);        // not hardware-reduced
    // X_PM_TMR_BLK: system I/O, 32 bits, at 0x608
    expect([u8(t.fadt + 208), u8(t.fadt + 209), u64(t.fadt + 212)]).toEqual([1, 32, 0x608]);
  });

  it('the MADT describes the local APIC, the IOAPIC at 0xFEC00000 and IRQ0 -> GSI 2', () => {
    const { u8, u16, u32, table, t } = load({ cpus: 2, ioapic: { id: 2, address: 0xfec00000, gsiBase: 0 } });
    const len = table(t.madt, 'APIC');
    expect(u32(t.madt + 36)).toBe(0xfee00000);
    expect(u32(t.madt + 40)).toBe(1);                     // PCAT_COMPAT
    const entries: { type: number; at: number }[] = [];
    for (let e = t.madt + 44; e < t.madt + len; e += u8(e + 1)) entries.push({ type: u8(e), at: e });
    expect(entries.map(e => e.type)).toEqual([0, 0, 1, 2, 2, 4]);
    const [l0, l1, io, o0, o9, nmi] = entries.map(e => e.at);
    expect([u8(l0 + 2), u8(l0 + 3), u32(l0 + 4)]).toEqual([0, 0, 1]);
    expect([u8(l1 + 2), u8(l1 + 3), u32(l1 + 4)]).toEqual([1, 1, 1]);
    expect([u8(io + 2), u32(io + 4), u32(io + 8)]).toEqual([2, 0xfec00000, 0]);
    expect([u8(o0 + 2), u8(o0 + 3), u32(o0 + 4), u16(o0 + 8)]).toEqual([0, 0, 2, 0]);
    expect([u8(o9 + 3), u32(o9 + 4), u16(o9 + 8)]).toEqual([9, 9, 0x000d]);
    expect([u8(nmi + 2), u8(nmi + 5)]).toEqual([0xff, 1]);
  });

  it('without a PM block the FADT leaves the PM fields empty and no SCI override is listed', () => {
    const { u32, u16, table, t, u8 } = load({ pmBase: null });
    table(t.fadt, 'FACP');
    expect(u32(t.fadt + 76)).toBe(0);
    expect(u16(t.fadt + 46)).toBe(0);
    const len = table(t.madt, 'APIC');
    const types: number[] = [];
    for (let e = t.madt + 44; e < t.madt + len; e += u8(e + 1)) types.push(u8(e));
    expect(types).toEqual([0, 1, 2, 4]);
  });

  it('refuses a base outside the RSDP search area', () => {
    expect(() => buildAcpiTables({ base: 0x100000 })).toThrow(/0xE0000-0xFFFFF/);
    expect(() => buildAcpiTables({ base: 0xe0008 })).toThrow(/16-byte boundary/);
  });
});

describe('ACPI PM registers', () => {
  it('the PM timer counts virtual time at 3.579545 MHz', () => {
    const clock = new VirtualClock(50_000_000);
    const bus = new PortBus();
    const pm = new AcpiPm({ clock });
    pm.register(bus);
    expect(bus.read(0x608, 4)).toBe(0);
    clock.icount = 50_000_000;                  // one virtual second
    expect(bus.read(0x608, 4)).toBe(PM_TIMER_HZ);
    clock.icount = 5_000_000;                   // 100 ms
    expect(bus.read(0x608, 4)).toBe(357954);
  });

  it('SCI_EN reads 1 and SLP_EN reports the sleep type', () => {
    const clock = new VirtualClock();
    const bus = new PortBus();
    const sleeps: number[] = [];
    const pm = new AcpiPm({ clock, onSleep: t => sleeps.push(t) });
    pm.register(bus);
    expect(bus.read(0x604, 2) & 1).toBe(1);
    bus.write(0x604, 2, (5 << 10) | (1 << 13));
    expect(sleeps).toEqual([5]);
    expect(bus.read(0x604, 2)).toBe((5 << 10) | 1);
  });
});
