/**
 * 8259A pair. Expected values from the Intel 8259A datasheet (231468): ICW1–ICW4, OCW1–OCW3
 * formats, fully nested priority, EOI commands, poll word, "default IR7" on a vanished request.
 */
import { describe, expect, it } from 'vitest';
import { PortBus } from '../../src/memory/ports.js';
import { Pic8259Pair } from '../../src/devices/pic8259.js';
import { inb, outb, viaJson } from './clock-helpers.js';

/** The sequence SWEB, Linux and every PC kernel use: vectors 0x20/0x28, cascade on IR2, 8086 mode. */
function setup(icw4 = 0x01, masterIcw4 = icw4) {
  const bus = new PortBus();
  const pic = new Pic8259Pair({ biosInit: false });
  pic.register(bus);
  outb(bus, 0x20, 0x11); outb(bus, 0x21, 0x20); outb(bus, 0x21, 0x04); outb(bus, 0x21, masterIcw4);
  outb(bus, 0xa0, 0x11); outb(bus, 0xa1, 0x28); outb(bus, 0xa1, 0x02); outb(bus, 0xa1, icw4);
  outb(bus, 0x21, 0x00); outb(bus, 0xa1, 0x00); // OCW1: unmask everything
  return { bus, pic };
}
const pulse = (pic: Pic8259Pair, line: number) => { pic.setIrq(line, true); pic.setIrq(line, false); };
const isr = (bus: PortBus, cmd: number) => { outb(bus, cmd, 0x0b); return inb(bus, cmd); };
const irr = (bus: PortBus, cmd: number) => { outb(bus, cmd, 0x0a); return inb(bus, cmd); };

describe('8259A pair', () => {
  it('PIC delivers IRQ0 at vector 0x20 after ICW init and drops it after EOI', () => {
    const { bus, pic } = setup();
    expect(pic.hasIntr()).toBe(false);
    pulse(pic, 0);
    expect(pic.hasIntr()).toBe(true);
    expect(irr(bus, 0x20)).toBe(0x01);
    expect(pic.ackIntr()).toBe(0x20);
    expect(isr(bus, 0x20)).toBe(0x01);
    expect(irr(bus, 0x20)).toBe(0x00);
    expect(pic.hasIntr()).toBe(false);
    outb(bus, 0x20, 0x20); // OCW2 non-specific EOI
    expect(isr(bus, 0x20)).toBe(0x00);
    expect(pic.hasIntr()).toBe(false);
  });

  it('an edge-triggered line held high interrupts once; a new rising edge is needed', () => {
    const { bus, pic } = setup();
    pic.setIrq(1, true);
    expect(pic.ackIntr()).toBe(0x21);
    outb(bus, 0x20, 0x20);
    expect(pic.hasIntr()).toBe(false);
    pic.setIrq(1, false);
    pic.setIrq(1, true);
    expect(pic.ackIntr()).toBe(0x21);
  });

  it('a level-triggered line (ELCR) requests again after EOI while still asserted', () => {
    const { bus, pic } = setup();
    outb(bus, 0x4d1, 0x08); // IRQ11 level-triggered
    expect(inb(bus, 0x4d1)).toBe(0x08);
    pic.setIrq(11, true);
    expect(pic.ackIntr()).toBe(0x2b);
    outb(bus, 0xa0, 0x20); outb(bus, 0x20, 0x20);
    expect(pic.hasIntr()).toBe(true);
    expect(pic.ackIntr()).toBe(0x2b);
    pic.setIrq(11, false);
    outb(bus, 0xa0, 0x20); outb(bus, 0x20, 0x20);
    expect(pic.hasIntr()).toBe(false);
  });

  it('ELCR bits that PIIX hard-wires to edge cannot be set', () => {
    const { bus } = setup();
    outb(bus, 0x4d0, 0xff); outb(bus, 0x4d1, 0xff);
    expect(inb(bus, 0x4d0)).toBe(0xf8); // IRQ0, 1, 2 always edge
    expect(inb(bus, 0x4d1)).toBe(0xde); // IRQ8, 13 always edge
  });

  it('fully nested priority: IRQ1 before IRQ3, IRQ0 nests into IRQ1, IRQ3 waits for the EOI', () => {
    const { bus, pic } = setup();
    pulse(pic, 3); pulse(pic, 1);
    expect(pic.ackIntr()).toBe(0x21);
    pulse(pic, 0);
    expect(pic.ackIntr()).toBe(0x20); // higher priority nests
    expect(isr(bus, 0x20)).toBe(0x03);
    outb(bus, 0x20, 0x20); // EOI clears the highest-priority ISR bit: IRQ0
    expect(isr(bus, 0x20)).toBe(0x02);
    expect(pic.hasIntr()).toBe(false); // IRQ3 blocked by IRQ1 in service
    outb(bus, 0x20, 0x20);
    expect(pic.ackIntr()).toBe(0x23);
  });

  it('a masked request stays in IRR and is delivered when unmasked', () => {
    const { bus, pic } = setup();
    outb(bus, 0x21, 0x10);
    expect(inb(bus, 0x21)).toBe(0x10);
    pulse(pic, 4);
    expect(pic.hasIntr()).toBe(false);
    expect(irr(bus, 0x20)).toBe(0x10);
    outb(bus, 0x21, 0x00);
    expect(pic.ackIntr()).toBe(0x24);
  });

  it('IRQ12 arrives through the cascade at vector 0x2C and needs EOI on both chips', () => {
    const { bus, pic } = setup();
    pulse(pic, 12);
    expect(pic.hasIntr()).toBe(true);
    expect(pic.ackIntr()).toBe(0x2c);
    expect(isr(bus, 0xa0)).toBe(0x10);
    expect(isr(bus, 0x20)).toBe(0x04);
    pulse(pic, 14);
    expect(pic.hasIntr()).toBe(false); // IR2 in service on the master blocks the slave
    outb(bus, 0xa0, 0x20);
    expect(pic.hasIntr()).toBe(false);
    outb(bus, 0x20, 0x20);
    expect(pic.ackIntr()).toBe(0x2e);
  });

  it('two slave requests are both delivered, one INTA each', () => {
    const { bus, pic } = setup();
    pulse(pic, 9); pulse(pic, 13);
    expect(pic.ackIntr()).toBe(0x29);
    outb(bus, 0xa0, 0x20); outb(bus, 0x20, 0x20);
    expect(pic.ackIntr()).toBe(0x2d);
    outb(bus, 0xa0, 0x20); outb(bus, 0x20, 0x20);
    expect(pic.hasIntr()).toBe(false);
  });

  it('spurious IRQ7 when a level-triggered line drops before INTA (no ISR bit set)', () => {
    const { bus, pic } = setup();
    outb(bus, 0x4d0, 0x08); // IRQ3 level-triggered
    pic.setIrq(3, true);
    expect(pic.hasIntr()).toBe(true);
    pic.setIrq(3, false); // request vanishes between INTR and INTA
    expect(pic.ackIntr()).toBe(0x27);
    expect(isr(bus, 0x20)).toBe(0x00);
  });

  it('spurious IRQ7 when the requesting line is masked before INTA', () => {
    const { bus, pic } = setup();
    pulse(pic, 5);
    expect(pic.hasIntr()).toBe(true);
    outb(bus, 0x21, 0x20);
    expect(pic.ackIntr()).toBe(0x27);
    expect(isr(bus, 0x20)).toBe(0x00);
  });

  it('spurious IRQ15 when a slave request vanishes: slave ISR clear, master ISR bit 2 set', () => {
    const { bus, pic } = setup();
    outb(bus, 0x4d1, 0x04); // IRQ10 level-triggered
    pic.setIrq(10, true);
    expect(pic.hasIntr()).toBe(true);
    pic.setIrq(10, false);
    expect(pic.ackIntr()).toBe(0x2f);
    expect(isr(bus, 0xa0)).toBe(0x00);
    expect(isr(bus, 0x20)).toBe(0x04); // the handler must EOI the master only
    outb(bus, 0x20, 0x20);
    expect(isr(bus, 0x20)).toBe(0x00);
  });

  it('auto-EOI mode (ICW4 bit 1) leaves ISR clear after INTA', () => {
    const { bus, pic } = setup(0x03);
    pulse(pic, 0);
    expect(pic.ackIntr()).toBe(0x20);
    expect(isr(bus, 0x20)).toBe(0x00);
    pulse(pic, 1);
    expect(pic.ackIntr()).toBe(0x21); // nothing in service blocks it
  });

  it('specific EOI clears the named level only', () => {
    const { bus, pic } = setup();
    pulse(pic, 4); expect(pic.ackIntr()).toBe(0x24);
    pulse(pic, 2 + 1); expect(pic.ackIntr()).toBe(0x23);
    outb(bus, 0x20, 0x64); // specific EOI, level 4
    expect(isr(bus, 0x20)).toBe(0x08);
  });

  it('set priority (OCW2 0xC0|L) makes L the lowest level', () => {
    const { bus, pic } = setup();
    outb(bus, 0x20, 0xc4); // IR4 lowest, IR5 highest
    pulse(pic, 1); pulse(pic, 6);
    expect(pic.ackIntr()).toBe(0x26);
  });

  it('rotate on non-specific EOI makes the serviced level the lowest', () => {
    const { bus, pic } = setup();
    pulse(pic, 0);
    expect(pic.ackIntr()).toBe(0x20);
    outb(bus, 0x20, 0xa0); // rotate on non-specific EOI
    pulse(pic, 0); pulse(pic, 1);
    expect(pic.ackIntr()).toBe(0x21); // IRQ0 now has the lowest priority
  });

  it('poll command returns 0x80 | level and acknowledges it', () => {
    const { bus, pic } = setup();
    pulse(pic, 6);
    outb(bus, 0x20, 0x0c); // OCW3 poll
    expect(inb(bus, 0x20)).toBe(0x86);
    expect(isr(bus, 0x20)).toBe(0x40);
    outb(bus, 0x20, 0x0c);
    expect(inb(bus, 0x20)).toBe(0x00); // nothing pending
  });

  it('special mask mode lets a lower level in while a masked level is in service', () => {
    const { bus, pic } = setup();
    pulse(pic, 3);
    expect(pic.ackIntr()).toBe(0x23);
    pulse(pic, 5);
    expect(pic.hasIntr()).toBe(false);
    outb(bus, 0x20, 0x68); // OCW3: set special mask mode
    outb(bus, 0x21, 0x08); // mask IR3 (in service)
    expect(pic.ackIntr()).toBe(0x25);
  });

  it('special fully nested mode lets a higher slave request through while IR2 is in service', () => {
    const { bus, pic } = setup(0x01, 0x11);
    pulse(pic, 12);
    expect(pic.ackIntr()).toBe(0x2c);
    pulse(pic, 9);
    expect(pic.ackIntr()).toBe(0x29);
    outb(bus, 0xa0, 0x20);
    // Without SFNM the master would block it:
    const plain = setup();
    pulse(plain.pic, 12);
    expect(plain.pic.ackIntr()).toBe(0x2c);
    pulse(plain.pic, 9);
    expect(plain.pic.hasIntr()).toBe(false);
  });

  it('ICW1 clears IMR and ISR and restarts the init sequence', () => {
    const { bus, pic } = setup();
    outb(bus, 0x21, 0xff);
    pulse(pic, 0); outb(bus, 0x21, 0x00);
    pic.ackIntr();
    outb(bus, 0x20, 0x11); outb(bus, 0x21, 0x40); outb(bus, 0x21, 0x04); outb(bus, 0x21, 0x01);
    expect(inb(bus, 0x21)).toBe(0x00);
    expect(isr(bus, 0x20)).toBe(0x00);
    pulse(pic, 2 + 5);
    expect(pic.ackIntr()).toBe(0x47);
  });

  it('starts as a BIOS leaves it: vectors 0x08/0x70, all masked but the cascade', () => {
    const bus = new PortBus();
    const pic = new Pic8259Pair();
    pic.register(bus);
    expect(inb(bus, 0x21)).toBe(0xfb);
    expect(inb(bus, 0xa1)).toBe(0xff);
    outb(bus, 0x21, 0x00); outb(bus, 0xa1, 0x00);
    pulse(pic, 0);
    expect(pic.ackIntr()).toBe(0x08);
    outb(bus, 0x20, 0x20);
    pulse(pic, 8);
    expect(pic.ackIntr()).toBe(0x70);
  });

  it('save/restore through JSON keeps pending and in-service state', () => {
    const { bus, pic } = setup();
    pulse(pic, 1); pic.ackIntr(); pulse(pic, 0); pulse(pic, 12);
    const copy = new Pic8259Pair({ biosInit: false });
    copy.restore(viaJson(pic.save()));
    const bus2 = new PortBus(); copy.register(bus2);
    expect(copy.ackIntr()).toBe(0x20);
    expect(isr(bus2, 0x20)).toBe(isr(bus, 0x20) | 0x01);
    outb(bus2, 0x20, 0x20); outb(bus2, 0x20, 0x20);
    expect(copy.ackIntr()).toBe(0x2c);
  });
});
