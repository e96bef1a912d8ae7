/**
 * I/O APIC behaviour against the Intel 82093AA datasheet (order no. 290566), wired to the
 * local APIC as on a PC.
 */
import { describe, it, expect } from 'vitest';
import { VirtualClock } from '../../src/machine/clock.js';
import { Ram, PhysBus } from '../../src/memory/index.js';
import { LocalApic, LAPIC_BASE } from '../../src/devices/lapic.js';
import { IoApic, IOAPIC_BASE } from '../../src/devices/ioapic.js';

function setup() {
  const clock = new VirtualClock();
  const ioapic = new IoApic({ id: 1 });
  const apic = new LocalApic({ clock, onEoi: v => ioapic.eoi(v) });
  ioapic.connect(apic);
  const phys = new PhysBus(new Ram(1 << 20));
  phys.addMmio('ioapic', IOAPIC_BASE, 0x1000, ioapic);
  phys.addMmio('lapic', LAPIC_BASE, 0x1000, apic);
  phys.write32(LAPIC_BASE + 0xf0, 0x1ff);
  const readReg = (i: number) => { phys.write32(IOAPIC_BASE, i); return phys.read32(IOAPIC_BASE + 0x10); };
  const writeReg = (i: number, v: number) => { phys.write32(IOAPIC_BASE, i); phys.write32(IOAPIC_BASE + 0x10, v); };
  const route = (pin: number, lo: number, dest = 0) => { writeReg(0x11 + 2 * pin, dest << 24); writeReg(0x10 + 2 * pin, lo); };
  const eoi = () => phys.write32(LAPIC_BASE + 0xb0, 0);
  return { ioapic, apic, phys, readReg, writeReg, route, eoi };
}

describe('IOAPIC', () => {
  it('identifies as version 11h with 24 redirection entries, all masked at reset', () => {
    const { readReg, phys } = setup();
    expect(readReg(0x01)).toBe(0x00170011);
    expect(readReg(0x00)).toBe(0x01000000);
    expect(readReg(0x02)).toBe(0x01000000);
    for (let pin = 0; pin < 24; pin++) {
      expect(readReg(0x10 + 2 * pin)).toBe(0x00010000);
      expect(readReg(0x11 + 2 * pin)).toBe(0);
    }
    phys.write32(IOAPIC_BASE, 0x12);
    expect(phys.read32(IOAPIC_BASE)).toBe(0x12);     // IOREGSEL reads back
  });

  it('delivers an edge-triggered pin once per rising edge, and only when unmasked', () => {
    const { ioapic, apic, route, eoi } = setup();
    ioapic.setIrq(2, true); ioapic.setIrq(2, false);  // masked: lost
    expect(apic.hasIntr()).toBe(false);
    route(2, 0x30);
    ioapic.setIrq(2, true);
    ioapic.setIrq(2, true);                           // no new edge
    expect(apic.ackIntr()).toBe(0x30);
    eoi();
    expect(apic.hasIntr()).toBe(false);
    ioapic.setIrq(2, false); ioapic.setIrq(2, true);
    expect(apic.ackIntr()).toBe(0x30);
  });

  it('holds Remote IRR on a level-triggered pin until the EOI, then re-delivers if still asserted', () => {
    const { ioapic, apic, route, readReg, eoi } = setup();
    route(11, 0x8000 | 0x51);                         // level, active high, vector 0x51
    ioapic.setIrq(11, true);
    expect(readReg(0x10 + 22) & (1 << 14)).toBeTruthy();
    expect(apic.ackIntr()).toBe(0x51);
    ioapic.setIrq(11, true);                          // still asserted, Remote IRR set: nothing new
    expect(apic.hasIntr()).toBe(false);
    eoi();                                            // EOI broadcast clears Remote IRR; line still high
    expect(apic.ackIntr()).toBe(0x51);
    ioapic.setIrq(11, false);
    eoi();
    expect(readReg(0x10 + 22) & (1 << 14)).toBe(0);
    expect(apic.hasIntr()).toBe(false);
  });

  it('delivers an asserted level pin as soon as it is unmasked', () => {
    const { ioapic, apic, route } = setup();
    route(9, 0x18000 | 0x49);                         // level, masked
    ioapic.setIrq(9, true);
    expect(apic.hasIntr()).toBe(false);
    route(9, 0x8000 | 0x49);
    expect(apic.ackIntr()).toBe(0x49);
  });

  it('keeps delivery status and Remote IRR read-only', () => {
    const { readReg, writeReg } = setup();
    writeReg(0x10, 0x00015000 | 0x33);
    expect(readReg(0x10)).toBe(0x00010033);
    writeReg(0x11, 0xffffffff);
    expect(readReg(0x11)).toBe(0xff000000);
  });

  it('sends only to a matching destination (physical ID, logical flat)', () => {
    const { ioapic, apic, route, phys, eoi } = setup();
    route(4, 0x34, 1);                                // physical APIC 1: nobody
    ioapic.setIrq(4, true);
    expect(apic.hasIntr()).toBe(false);
    phys.write32(LAPIC_BASE + 0xd0, 0x02000000);      // logical ID bit 1
    route(5, 0x800 | 0x35, 0x02);                     // logical destination bit 1
    ioapic.setIrq(5, true);
    expect(apic.ackIntr()).toBe(0x35);
    eoi();
    route(6, 0x100 | 0x36, 0xff);                     // lowest priority, broadcast
    ioapic.setIrq(6, true);
    expect(apic.ackIntr()).toBe(0x36);
  });

  it('passes an ExtINT entry to the 8259 through the local APIC', () => {
    const { ioapic, apic, route, phys } = setup();
    phys.write32(LAPIC_BASE + 0x350, 0x10700);        // LINT0 masked: no virtual wire there
    let acks = 0;
    apic.setExtInt({ hasIntr: () => true, ackIntr: () => { acks++; return 0x08; } });
    expect(apic.hasIntr()).toBe(false);
    route(0, 0x700);
    ioapic.setIrq(0, true);
    expect(apic.ackIntr()).toBe(0x08);
    expect(acks).toBe(1);
    expect(apic.hasIntr()).toBe(false);
  });

  it('saves and restores its table and pin levels', () => {
    const { ioapic, route, readReg } = setup();
    route(3, 0x8000 | 0x43);
    const s = ioapic.save();
    route(3, 0x10000);
    ioapic.restore(s);
    expect(readReg(0x16)).toBe(0x8043);
  });
});
