/**
 * 8254 PIT. Expected values from the Intel 8254 datasheet (231164): control word and
 * read-back formats, status byte, mode 0–5 waveforms (OUT and count per CLK pulse), GATE rules.
 * Most tests run the clock at exactly PIT_HZ instructions per second, so one instruction is
 * one PIT tick and the datasheet's CLK numbering reads directly as instruction counts.
 */
import { describe, expect, it } from 'vitest';
import { PortBus } from '../../src/memory/ports.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { Pit8254, PIT_HZ } from '../../src/devices/pit8254.js';
import { inb, irqRecorder, outb, run, runTo, viaJson } from './clock-helpers.js';

function setup(ips = PIT_HZ, biosInit = false) {
  const clock = new VirtualClock(ips);
  const rec = irqRecorder(clock);
  const bus = new PortBus();
  const pit = new Pit8254({ clock, irq: rec.irq, biosInit });
  pit.register(bus);
  return { clock, rec, bus, pit };
}
/** Control word for counter `c`, lo/hi access, `mode`. */
const ctl = (c: number, mode: number, access = 3, bcd = 0) => (c << 6) | (access << 4) | (mode << 1) | bcd;
function load(bus: PortBus, c: number, n: number): void {
  outb(bus, 0x40 + c, n & 0xff);
  outb(bus, 0x40 + c, (n >> 8) & 0xff);
}
/** Read-back of counter `c`'s status byte. */
function status(bus: PortBus, c: number): number {
  outb(bus, 0x43, 0xe0 | (2 << c)); // 11 1 0 ...: latch status only
  return inb(bus, 0x40 + c);
}
function readCount(bus: PortBus, c: number): number {
  outb(bus, 0x43, c << 6); // counter latch command
  return inb(bus, 0x40 + c) | (inb(bus, 0x40 + c) << 8);
}

describe('8254 PIT', () => {
  it('PIT mode 2 raises IRQ0 every N ticks of virtual time, at exact instruction counts', () => {
    const { clock, rec, bus } = setup();
    outb(bus, 0x43, ctl(0, 2));
    load(bus, 0, 100); // written at tick 0, loaded at CLK 1
    runTo(clock, 450);
    expect(rec.rises(0)).toEqual([101, 201, 301, 401]);
    expect(rec.events.filter(e => e.line === 0 && !e.level).map(e => e.at)).toEqual([101, 201, 301, 401]);
  });

  it('PIT mode 2 at 50 M instructions per second: each IRQ0 at the first count whose tick reaches the edge', () => {
    const { clock, rec, bus, pit } = setup(50_000_000);
    outb(bus, 0x43, ctl(0, 2));
    load(bus, 0, 11932); // ~100 Hz
    runTo(clock, 50_000_000 / 10); // 100 ms of virtual time
    const rises = rec.rises(0);
    expect(rises.length).toBe(9); // edges at 10.0 ms, 20.0 ms, ... 90.0 ms (the 10th is at 100.0 ms + 1 tick)
    rises.forEach((at, k) => {
      const edge = 1 + (k + 1) * 11932;
      expect(pit.tickAt(at)).toBeGreaterThanOrEqual(edge);
      expect(pit.tickAt(at - 1)).toBeLessThan(edge);
    });
  });

  it('mode 2: OUT is low for exactly the one CLK while the count is 1', () => {
    const { clock, bus } = setup();
    outb(bus, 0x43, ctl(0, 2));
    load(bus, 0, 4);
    const seen: [number, number][] = [];
    for (let t = 1; t <= 9; t++) {
      runTo(clock, t);
      seen.push([status(bus, 0) >> 7, readCount(bus, 0)]);
    }
    // CLK 1 loads 4; 4,3,2,1(OUT low),4,3,2,1(low),4
    expect(seen).toEqual([[1, 4], [1, 3], [1, 2], [0, 1], [1, 4], [1, 3], [1, 2], [0, 1], [1, 4]]);
  });

  it('mode 3 with an odd count: OUT high for (N+1)/2 and low for (N-1)/2 CLKs, one IRQ0 per period', () => {
    const { clock, rec, bus } = setup();
    outb(bus, 0x43, ctl(0, 3));
    load(bus, 0, 5);
    const outs: number[] = [];
    for (let t = 1; t <= 11; t++) { runTo(clock, t); outs.push(status(bus, 0) >> 7); }
    expect(outs).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1]);
    expect(rec.rises(0)).toEqual([6, 11]);
  });

  it('mode 3 with an even count decrements by two', () => {
    const { clock, bus } = setup();
    outb(bus, 0x43, ctl(0, 3));
    load(bus, 0, 6);
    const counts: number[] = [];
    for (let t = 1; t <= 7; t++) { runTo(clock, t); counts.push(readCount(bus, 0)); }
    expect(counts).toEqual([6, 4, 2, 6, 4, 2, 6]);
  });

  it('mode 0: OUT low until terminal count, then one IRQ0, and the counter keeps wrapping', () => {
    const { clock, rec, bus } = setup();
    outb(bus, 0x43, ctl(0, 0));
    expect(status(bus, 0) >> 7).toBe(0);
    load(bus, 0, 1000);
    runTo(clock, 1000);
    expect(status(bus, 0) >> 7).toBe(0);
    expect(readCount(bus, 0)).toBe(1);
    runTo(clock, 1001);
    expect(status(bus, 0) >> 7).toBe(1);
    runTo(clock, 5000);
    expect(rec.rises(0)).toEqual([1001]);
    expect(readCount(bus, 0)).toBe(65536 - 3999);
  });

  it('mode 0: writing the first byte of a lo/hi count stops counting and drives OUT low', () => {
    const { clock, bus } = setup();
    outb(bus, 0x43, ctl(0, 0));
    load(bus, 0, 10);
    runTo(clock, 20);
    expect(status(bus, 0) >> 7).toBe(1);
    outb(bus, 0x40, 50);
    expect(status(bus, 0) >> 7).toBe(0);
    const frozen = readCount(bus, 0);
    run(clock, 5);
    expect(readCount(bus, 0)).toBe(frozen);
    outb(bus, 0x40, 0);
    run(clock, 1);
    expect(readCount(bus, 0)).toBe(50);
  });

  it('mode 4: OUT strobes low for one CLK at count 0, IRQ0 on the rising edge after it', () => {
    const { clock, rec, bus } = setup();
    outb(bus, 0x43, ctl(0, 4));
    load(bus, 0, 10);
    runTo(clock, 11);
    expect(status(bus, 0) >> 7).toBe(0);
    runTo(clock, 12);
    expect(status(bus, 0) >> 7).toBe(1);
    runTo(clock, 100);
    expect(rec.rises(0)).toEqual([12]);
  });

  it('the counter latch command holds the count until both bytes are read', () => {
    const { clock, bus } = setup();
    outb(bus, 0x43, ctl(0, 2));
    load(bus, 0, 1000);
    runTo(clock, 251);
    outb(bus, 0x43, 0x00);
    runTo(clock, 400);
    outb(bus, 0x43, 0x00); // ignored: a latch is pending
    expect(inb(bus, 0x40)).toBe(750 & 0xff);
    runTo(clock, 500);
    expect(inb(bus, 0x40)).toBe(750 >> 8);
    expect(readCount(bus, 0)).toBe(1000 - 499);
  });

  it('lobyte and hibyte access modes read and write one byte', () => {
    const { clock, bus } = setup();
    outb(bus, 0x43, ctl(2, 2, 1)); // counter 2, lobyte
    outb(bus, 0x61, 0x01); // gate on
    outb(bus, 0x42, 200);
    runTo(clock, 51);
    expect(inb(bus, 0x42)).toBe(150);
    outb(bus, 0x43, ctl(1, 2, 2)); // counter 1, hibyte: count 0x0300
    outb(bus, 0x41, 0x03);
    runTo(clock, 52 + 0x100);
    expect(inb(bus, 0x41)).toBe(0x02);
  });

  it('read-back returns status (OUT, NULL COUNT, RW/mode/BCD) before the count', () => {
    const { clock, bus } = setup();
    outb(bus, 0x43, 0x34); // counter 0, lo/hi, mode 2, binary
    expect(status(bus, 0)).toBe(0x80 | 0x40 | 0x34); // OUT high, count not yet loaded
    load(bus, 0, 0x1234);
    expect(status(bus, 0)).toBe(0xc0 | 0x34); // written, loaded on the next CLK
    runTo(clock, 11);
    outb(bus, 0x43, 0xc2); // latch count and status of counter 0
    expect(inb(bus, 0x40)).toBe(0x80 | 0x34);
    expect(inb(bus, 0x40) | (inb(bus, 0x40) << 8)).toBe(0x1234 - 10);
  });

  it('BCD counting: count written and read in BCD, 0 means 10000', () => {
    const { clock, bus } = setup();
    outb(bus, 0x43, ctl(0, 2, 3, 1));
    load(bus, 0, 0x1234);
    runTo(clock, 1 + 35);
    expect(readCount(bus, 0)).toBe(0x1199);
    outb(bus, 0x43, ctl(1, 0, 3, 1));
    load(bus, 1, 0x0000);
    runTo(clock, clock.icount + 2);
    expect(readCount(bus, 1)).toBe(0x9999);
  });

  it('counter 2: GATE from port 0x61 bit 0, OUT on bit 5 (the TSC calibration loop)', () => {
    const { clock, bus } = setup();
    outb(bus, 0x61, 0x00);
    outb(bus, 0x43, 0xb0); // counter 2, lo/hi, mode 0
    load(bus, 2, 100);
    runTo(clock, 500);
    expect(inb(bus, 0x61) & 0x20).toBe(0); // gate low: not counting
    expect(readCount(bus, 2)).toBe(100);
    outb(bus, 0x61, 0x01);
    runTo(clock, 599);
    expect(inb(bus, 0x61) & 0x21).toBe(0x01);
    runTo(clock, 600);
    expect(inb(bus, 0x61) & 0x21).toBe(0x21);
  });

  it('mode 1 is a one-shot triggered by the rising GATE of counter 2', () => {
    const { clock, bus } = setup();
    outb(bus, 0x61, 0x00);
    outb(bus, 0x43, ctl(2, 1));
    load(bus, 2, 10);
    runTo(clock, 50);
    expect(inb(bus, 0x61) & 0x20).toBe(0x20); // OUT high until triggered
    outb(bus, 0x61, 0x01);
    runTo(clock, 51);
    expect(inb(bus, 0x61) & 0x20).toBe(0);
    runTo(clock, 61);
    expect(inb(bus, 0x61) & 0x20).toBe(0x20);
  });

  it('mode 2: GATE low forces OUT high and stops counting; rising GATE restarts the period', () => {
    const { clock, bus } = setup();
    outb(bus, 0x61, 0x01);
    outb(bus, 0x43, ctl(2, 2));
    load(bus, 2, 10);
    runTo(clock, 5);
    outb(bus, 0x61, 0x00);
    const held = readCount(bus, 2);
    runTo(clock, 30);
    expect(readCount(bus, 2)).toBe(held);
    expect(inb(bus, 0x61) & 0x20).toBe(0x20);
    outb(bus, 0x61, 0x01);
    runTo(clock, 31);
    expect(readCount(bus, 2)).toBe(10);
  });

  it('a new count in mode 2 takes effect at the end of the current period', () => {
    const { clock, rec, bus } = setup();
    outb(bus, 0x43, ctl(0, 2));
    load(bus, 0, 100);
    runTo(clock, 150);
    load(bus, 0, 10);
    runTo(clock, 240);
    expect(rec.rises(0)).toEqual([101, 201, 211, 221, 231]);
  });

  it('port 0x61 bit 4 toggles every 15.09 µs of virtual time (refresh)', () => {
    const { clock, bus } = setup(50_000_000);
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) { seen.push(inb(bus, 0x61) & 0x10); run(clock, 754); } // 15.08 µs steps
    expect(new Set(seen).size).toBe(2);
    const flips = seen.slice(1).filter((v, i) => v !== seen[i]).length;
    expect(flips).toBeGreaterThanOrEqual(4);
  });

  it('BIOS state: counter 0 in mode 3 with count 65536 gives IRQ0 at 18.2 Hz', () => {
    const { clock, rec } = setup(50_000_000, true);
    runTo(clock, 50_000_000);
    expect(rec.rises(0).length).toBe(18);
    const [a, b] = rec.rises(0);
    expect(b - a).toBeGreaterThanOrEqual(Math.floor(65536 * 50_000_000 / PIT_HZ));
    expect(b - a).toBeLessThanOrEqual(Math.ceil(65536 * 50_000_000 / PIT_HZ));
  });

  it('save/restore re-arms IRQ0 so it fires at the same counts', () => {
    const a = setup(3_000_000);
    outb(a.bus, 0x43, ctl(0, 3));
    load(a.bus, 0, 1000);
    runTo(a.clock, 12_345);
    const snap = viaJson(a.pit.save());
    runTo(a.clock, 40_000);
    const expected = a.rec.rises(0).filter(x => x > 12_345);

    const b = setup(3_000_000);
    b.clock.icount = 12_345;
    b.pit.restore(snap);
    runTo(b.clock, 40_000);
    expect(b.rec.rises(0)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(5);
  });
});
