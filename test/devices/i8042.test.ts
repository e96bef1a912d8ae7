/**
 * i8042 keyboard controller and PS/2 keyboard. Expected values from the IBM PC/AT and PS/2
 * technical references (8042 status bits, command byte, controller commands 0x20/0x60/0xAA/
 * 0xAB/0xAD/0xAE/0xD1/0xFE; keyboard commands 0xED/0xEE/0xF0/0xF2/0xF4/0xF5/0xFF and their
 * replies) and the 8042's set 2 → set 1 translation (identify 0xAB 0x83 reads 0xAB 0x41).
 */
import { describe, expect, it } from 'vitest';
import { PortBus } from '../../src/memory/ports.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { I8042 } from '../../src/devices/i8042.js';
import { set1ToSet2, textToSet1 } from '../../src/devices/ps2keyboard.js';
import { inb, irqRecorder, outb, viaJson } from './clock-helpers.js';

function setup() {
  const clock = new VirtualClock();
  const rec = irqRecorder(clock);
  const bus = new PortBus();
  let resets = 0;
  const a20: boolean[] = [];
  const kbc = new I8042({ irq: rec.irq, onReset: () => resets++, onA20: on => a20.push(on) });
  kbc.register(bus);
  /** Read everything the controller has for us (at most 32 bytes). */
  const drain = () => {
    const out: number[] = [];
    while (inb(bus, 0x64) & 1 && out.length < 32) out.push(inb(bus, 0x60));
    return out;
  };
  return { rec, bus, kbc, drain, resets: () => resets, a20 };
}

describe('i8042 keyboard controller', () => {
  it('i8042 answers self-test 0xAA with 0x55', () => {
    const { bus, drain } = setup();
    expect(inb(bus, 0x64) & 1).toBe(0);
    outb(bus, 0x64, 0xaa);
    expect(inb(bus, 0x64) & 0x09).toBe(0x09); // OBF, and A2: the last write was a command
    expect(drain()).toEqual([0x55]);
    expect(inb(bus, 0x64) & 1).toBe(0);
  });

  it('status register: system flag and keyboard-not-inhibited set, no aux data', () => {
    const { bus } = setup();
    expect(inb(bus, 0x64)).toBe(0x14);
  });

  it('the command byte is 0x65 as a BIOS leaves it, and 0x60 rewrites it', () => {
    const { bus, drain, kbc } = setup();
    outb(bus, 0x64, 0x20);
    expect(drain()).toEqual([0x65]);
    outb(bus, 0x64, 0x60);
    outb(bus, 0x60, 0x45);
    expect(kbc.commandByte).toBe(0x45);
    expect(inb(bus, 0x64) & 0x08).toBe(0); // last write went to the data port
    outb(bus, 0x64, 0x20);
    expect(drain()).toEqual([0x45]);
  });

  it('0xAB keyboard interface test answers 0x00, 0xA9 aux test 0x00', () => {
    const { bus, drain } = setup();
    outb(bus, 0x64, 0xab);
    outb(bus, 0x64, 0xa9);
    expect(drain()).toEqual([0x00, 0x00]);
  });

  it('0xA7/0xA8 set and clear the aux-disable bit of the command byte', () => {
    const { bus, kbc } = setup();
    outb(bus, 0x64, 0xa8);
    expect(kbc.commandByte & 0x20).toBe(0);
    outb(bus, 0x64, 0xa7);
    expect(kbc.commandByte & 0x20).toBe(0x20);
  });

  it('keyboard reset 0xFF answers 0xFA then 0xAA', () => {
    const { bus, drain } = setup();
    outb(bus, 0x60, 0xff);
    expect(drain()).toEqual([0xfa, 0xaa]);
  });

  it('identify 0xF2 answers 0xFA 0xAB 0x41 with translation and 0xFA 0xAB 0x83 without', () => {
    const { bus, drain } = setup();
    outb(bus, 0x60, 0xf2);
    expect(drain()).toEqual([0xfa, 0xab, 0x41]);
    outb(bus, 0x64, 0x60); outb(bus, 0x60, 0x25); // translation off
    outb(bus, 0x60, 0xf2);
    expect(drain()).toEqual([0xfa, 0xab, 0x83]);
  });

  it('LED command 0xED: ACK, the LED byte, ACK', () => {
    const { bus, drain, kbc } = setup();
    outb(bus, 0x60, 0xed);
    expect(drain()).toEqual([0xfa]);
    outb(bus, 0x60, 0x07);
    expect(drain()).toEqual([0xfa]);
    expect(kbc.keyboard.leds).toBe(7);
  });

  it('echo 0xEE answers 0xEE', () => {
    const { bus, drain } = setup();
    outb(bus, 0x60, 0xee);
    expect(drain()).toEqual([0xee]);
  });

  it('0xF0 0x00 reports scancode set 2 (0x41 through translation), 0xF0 0x01 selects set 1', () => {
    const { bus, drain, kbc } = setup();
    outb(bus, 0x60, 0xf0); outb(bus, 0x60, 0x00);
    expect(drain()).toEqual([0xfa, 0xfa, 0x41]);
    outb(bus, 0x60, 0xf0); outb(bus, 0x60, 0x01);
    expect(drain()).toEqual([0xfa, 0xfa]);
    expect(kbc.keyboard.set).toBe(1);
    outb(bus, 0x60, 0xf0); outb(bus, 0x60, 0x07);
    expect(drain()).toEqual([0xfa, 0xfe]); // no such set: resend
  });

  it('a key press arrives in set 1 through translation, one byte and one IRQ1 per read', () => {
    const { bus, kbc, rec } = setup();
    kbc.typeText('a');
    expect(rec.rises(1).length).toBe(1);
    expect(inb(bus, 0x64) & 1).toBe(1);
    expect(inb(bus, 0x60)).toBe(0x1e);
    expect(rec.level(1)).toBe(true); // next byte already in the buffer: a new edge
    expect(rec.rises(1).length).toBe(2);
    expect(inb(bus, 0x60)).toBe(0x9e);
    expect(rec.level(1)).toBe(false);
    expect(inb(bus, 0x64) & 1).toBe(0);
  });

  it('without translation the keyboard speaks set 2 (0xF0 break prefix)', () => {
    const { bus, kbc, drain } = setup();
    outb(bus, 0x64, 0x60); outb(bus, 0x60, 0x25);
    kbc.pressKey([0x1e, 0x9e, 0xe0, 0x48, 0xe0, 0xc8]);
    expect(drain()).toEqual([0x1c, 0xf0, 0x1c, 0xe0, 0x75, 0xe0, 0xf0, 0x75]);
  });

  it('0xAD holds keyboard bytes back until 0xAE (SWEB brackets every read with them)', () => {
    const { bus, kbc, rec } = setup();
    outb(bus, 0x64, 0xad);
    kbc.typeText('z');
    expect(inb(bus, 0x64) & 1).toBe(0);
    expect(rec.rises(1).length).toBe(0);
    outb(bus, 0x64, 0xae);
    expect(rec.rises(1).length).toBe(1);
    outb(bus, 0x64, 0xad);
    expect(inb(bus, 0x60)).toBe(0x2c);
    expect(inb(bus, 0x64) & 1).toBe(0);
    outb(bus, 0x64, 0xae);
    expect(inb(bus, 0x60)).toBe(0xac);
  });

  it('command byte bit 0 clear: bytes still arrive but IRQ1 stays low', () => {
    const { bus, kbc, rec } = setup();
    outb(bus, 0x64, 0x60); outb(bus, 0x60, 0x64);
    kbc.typeText('x');
    expect(inb(bus, 0x64) & 1).toBe(1);
    expect(rec.rises(1).length).toBe(0);
  });

  it('0xF5 disables scanning (keys are dropped), 0xF4 enables it', () => {
    const { bus, kbc, drain } = setup();
    outb(bus, 0x60, 0xf5);
    expect(drain()).toEqual([0xfa]);
    kbc.typeText('q');
    expect(drain()).toEqual([]);
    outb(bus, 0x60, 0xf4);
    kbc.typeText('q');
    expect(drain()).toEqual([0xfa, 0x10, 0x90]);
  });

  it('0xFE pulses the reset line; 0xD1 writes the output port (A20, reset)', () => {
    const { bus, kbc, resets, a20, drain } = setup();
    outb(bus, 0x64, 0xfe);
    expect(resets()).toBe(1);
    outb(bus, 0x64, 0xd1); outb(bus, 0x60, 0x01); // A20 off, CPU running
    expect(kbc.a20).toBe(false);
    expect(a20).toEqual([false]);
    outb(bus, 0x64, 0xd0);
    expect(drain()).toEqual([0x01]);
    outb(bus, 0x64, 0xdf);
    expect(a20).toEqual([false, true]);
    outb(bus, 0x64, 0xd1); outb(bus, 0x60, 0x02); // bit 0 low: reset
    expect(resets()).toBe(2);
  });

  it('0xD2 puts a byte in the output buffer as if the keyboard sent it', () => {
    const { bus, drain } = setup();
    outb(bus, 0x64, 0xd2); outb(bus, 0x60, 0x5a);
    expect(drain()).toEqual([0x5a]);
  });

  it('0xD3 loops a byte back as aux data: status bit 5, IRQ12 when enabled', () => {
    const { bus, rec } = setup();
    outb(bus, 0x64, 0x60); outb(bus, 0x60, 0x47); // IRQ1 + IRQ12 on, aux enabled
    outb(bus, 0x64, 0xd3); outb(bus, 0x60, 0x5a);
    expect(inb(bus, 0x64) & 0x21).toBe(0x21);
    expect(rec.rises(12).length).toBe(1);
    expect(inb(bus, 0x60)).toBe(0x5a);
  });

  it('text maps to set-1 make/break codes with Shift for capitals and symbols', () => {
    expect(textToSet1('aZ!\n')).toEqual([
      0x1e, 0x9e,                  // a
      0x2a, 0x2c, 0xac, 0xaa,      // Shift+z
      0x2a, 0x02, 0x82, 0xaa,      // Shift+1
      0x1c, 0x9c,                  // Enter
    ]);
    expect(textToSet1('\r\n')).toEqual([0x1c, 0x9c]);
    expect(textToSet1('\x1b[A\x1b[D')).toEqual([0xe0, 0x48, 0xe0, 0xc8, 0xe0, 0x4b, 0xe0, 0xcb]);
    expect(textToSet1('\x7f\t ')).toEqual([0x0e, 0x8e, 0x0f, 0x8f, 0x39, 0xb9]);
    expect(textToSet1('\x03')).toEqual([0x1d, 0x2e, 0xae, 0x9d]); // Ctrl-C
    expect(textToSet1('é')).toEqual([]);
  });

  it('set 1 → set 2 conversion inverts the 8042 translation (F7 is 0x83, Pause is E1 14 77)', () => {
    expect(set1ToSet2([0x41, 0xc1])).toEqual([0x83, 0xf0, 0x83]);
    expect(set1ToSet2([0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5])).toEqual([0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77]);
  });

  it('onInput sees every key event before delivery (for the recorder)', () => {
    const { kbc } = setup();
    const seen: number[][] = [];
    kbc.onInput = b => seen.push([...b]);
    kbc.typeText('hi');
    expect(seen).toEqual([[0x23, 0xa3, 0x17, 0x97]]);
  });

  it('save/restore through JSON keeps queued keys and the output buffer', () => {
    const a = setup();
    a.kbc.typeText('ab');
    expect(inb(a.bus, 0x60)).toBe(0x1e);
    const b = setup();
    b.kbc.restore(viaJson(a.kbc.save()));
    expect(b.drain()).toEqual([0x9e, 0x30, 0xb0]);
  });
});
