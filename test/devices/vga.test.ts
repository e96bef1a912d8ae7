/**
 * VGA text mode. Expected values from the IBM VGA technical reference: mode 3 register values,
 * CRTC cursor location (CR0E/CR0F), cursor start (CR0A bit 5 = off), start address (CR0C/CR0D),
 * input status 1 (bit 3 vertical retrace, reading it resets the attribute flip-flop),
 * miscellaneous output (write 0x3C2, read 0x3CC; bit 0 selects 0x3Dx/0x3Bx CRTC addresses).
 */
import { describe, expect, it } from 'vitest';
import { PortBus } from '../../src/memory/ports.js';
import { Ram } from '../../src/memory/ram.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { CP437, VgaText } from '../../src/devices/vga.js';
import { inb, outb, run, viaJson } from './clock-helpers.js';

function setup() {
  const ram = new Ram(2 * 1024 * 1024);
  const clock = new VirtualClock(50_000_000);
  const bus = new PortBus();
  const vga = new VgaText({ readBytes: (pa, len) => ram.readBytes(pa, len), clock });
  vga.register(bus);
  /** What a kernel does: character and attribute at row r, column c. */
  const put = (r: number, c: number, s: string, attr = 0x07) => {
    for (let i = 0; i < s.length; i++) {
      ram.write8(0xb8000 + (r * 80 + c + i) * 2, s.charCodeAt(i));
      ram.write8(0xb8000 + (r * 80 + c + i) * 2 + 1, attr);
    }
  };
  const setCursor = (pos: number) => {
    outb(bus, 0x3d4, 0x0e); outb(bus, 0x3d5, pos >> 8);
    outb(bus, 0x3d4, 0x0f); outb(bus, 0x3d5, pos & 0xff);
  };
  return { ram, clock, bus, vga, put, setCursor };
}

describe('VGA text mode', () => {
  it('text() shows what the guest wrote at 0xB8000: 25 rows, trailing spaces trimmed', () => {
    const { vga, put } = setup();
    put(0, 0, 'Hello, SWEB');
    put(24, 70, 'bottom');
    put(3, 5, '   ');
    const t = vga.text();
    expect(t.length).toBe(25);
    expect(t[0]).toBe('Hello, SWEB');
    expect(t[1]).toBe('');
    expect(t[3]).toBe('');
    expect(t[24]).toBe(' '.repeat(70) + 'bottom');
  });

  it('CP437 glyphs map to Unicode (box drawing, NUL as space)', () => {
    const { vga, ram } = setup();
    expect(CP437.length).toBe(256);
    [0xc9, 0xcd, 0xbb, 0x00, 0x41].forEach((b, i) => ram.write8(0xb8000 + i * 2, b));
    expect(vga.text()[0]).toBe('╔═╗ A');
  });

  it('the cursor location comes from CRTC registers 0x0E/0x0F', () => {
    const { bus, vga, setCursor } = setup();
    setCursor(3 * 80 + 7);
    expect(vga.cursor()).toEqual({ row: 3, col: 7, visible: true });
    outb(bus, 0x3d4, 0x0e);
    expect(inb(bus, 0x3d5)).toBe(0);
    outb(bus, 0x3d4, 0x0f);
    expect(inb(bus, 0x3d5)).toBe(247);
    outb(bus, 0x3d4, 0x0a);
    expect(inb(bus, 0x3d5)).toBe(0x0d); // mode 3 cursor start
    outb(bus, 0x3d5, 0x20); // cursor off
    expect(vga.cursor().visible).toBe(false);
  });

  it('a 16-bit OUT to 0x3D4 writes index and data in one go', () => {
    const { bus, vga } = setup();
    bus.write(0x3d4, 2, 0x120f);
    expect(vga.cursorLocation() & 0xff).toBe(0x12);
  });

  it('the start address (CR0C/CR0D) scrolls the visible window', () => {
    const { bus, vga, put } = setup();
    put(1, 0, 'second line');
    outb(bus, 0x3d4, 0x0c); outb(bus, 0x3d5, 0x00);
    outb(bus, 0x3d4, 0x0d); outb(bus, 0x3d5, 80);
    expect(vga.text()[0]).toBe('second line');
  });

  it('renderAnsi paints CGA colours and places the cursor', () => {
    const { vga, put, setCursor } = setup();
    put(0, 0, 'Hi', 0x1f); // bright white on blue
    put(0, 2, '!', 0x0c);  // light red on black
    setCursor(80 + 4);
    const frame = vga.renderAnsi();
    expect(frame.startsWith('\x1b[?25l\x1b[H\x1b[0;97;44mHi\x1b[0;91;40m!')).toBe(true);
    expect(frame.endsWith('\x1b[2;5H\x1b[?25h')).toBe(true);
    expect(frame.split('\r\n').length).toBe(25);
  });

  it('attribute bit 7 blinks while the attribute controller enables blinking', () => {
    const { vga, put } = setup();
    put(0, 0, 'B', 0x8e); // blinking yellow on black
    expect(vga.renderAnsi()).toContain('\x1b[0;93;40;5mB');
  });

  it('reading input status 1 (0x3DA) resets the attribute controller flip-flop', () => {
    const { bus, vga } = setup();
    outb(bus, 0x3c0, 0x10); // index (flip-flop now expects data)
    inb(bus, 0x3da);        // reset: the next write is an index again
    outb(bus, 0x3c0, 0x12);
    outb(bus, 0x3c0, 0x0a); // data for register 0x12
    expect(vga.attr[0x12]).toBe(0x0a);
    expect(vga.attr[0x10]).toBe(0x0c);
    outb(bus, 0x3c0, 0x30); // index 0x10 with palette address source set
    expect(inb(bus, 0x3c1)).toBe(0x0c);
  });

  it('vertical retrace (0x3DA bit 3) comes around 70 times per virtual second', () => {
    const { bus, clock } = setup();
    let entries = 0, was = false;
    for (let i = 0; i < 20000; i++) { // 1 s in 50 µs steps
      const v = (inb(bus, 0x3da) & 0x08) !== 0;
      if (v && !was) entries++;
      was = v;
      run(clock, 2500);
    }
    expect(entries).toBeGreaterThanOrEqual(69);
    expect(entries).toBeLessThanOrEqual(71);
  });

  it('misc output reads back at 0x3CC; mono addressing moves the CRTC to 0x3B4/0x3B5', () => {
    const { bus } = setup();
    expect(inb(bus, 0x3cc)).toBe(0x67);
    outb(bus, 0x3c2, 0x66);
    expect(inb(bus, 0x3cc)).toBe(0x66);
    expect(inb(bus, 0x3d5)).toBe(0xff);
    outb(bus, 0x3b4, 0x0f);
    expect(inb(bus, 0x3b5)).toBe(0x00);
  });

  it('CR11 bit 7 write-protects CR0–CR7', () => {
    const { bus, vga } = setup();
    outb(bus, 0x3d4, 0x11); outb(bus, 0x3d5, 0x8e);
    outb(bus, 0x3d4, 0x01); outb(bus, 0x3d5, 0x27);
    expect(vga.crtc[1]).toBe(0x4f);
    outb(bus, 0x3d4, 0x11); outb(bus, 0x3d5, 0x0e);
    outb(bus, 0x3d4, 0x01); outb(bus, 0x3d5, 0x27);
    expect(vga.crtc[1]).toBe(0x27);
    expect(vga.dimensions().cols).toBe(40);
  });

  it('save/restore through JSON keeps the registers', () => {
    const a = setup();
    a.setCursor(1234);
    outb(a.bus, 0x3c8, 5); outb(a.bus, 0x3c9, 1); outb(a.bus, 0x3c9, 2); outb(a.bus, 0x3c9, 3);
    const b = setup();
    b.vga.restore(viaJson(a.vga.save()));
    expect(b.vga.cursorLocation()).toBe(1234);
    outb(b.bus, 0x3c7, 5);
    expect([inb(b.bus, 0x3c9), inb(b.bus, 0x3c9), inb(b.bus, 0x3c9)]).toEqual([1, 2, 3]);
  });
});
