/**
 * CMOS/RTC. Expected values from the Motorola MC146818A datasheet (register map, BCD/binary and
 * 12/24-hour formats, register A UIP timing: 244 µs + 1984 µs update cycle at 32.768 kHz,
 * register B SET/PIE/AIE/UIE/DM/24-12, register C flags cleared on read, register D VRT,
 * periodic rates per RS) and from the IBM AT CMOS map (memory size bytes, checksum 0x2E/0x2F).
 * The clock runs at 1 M instructions per virtual second: one instruction is one microsecond.
 */
import { describe, expect, it } from 'vitest';
import { PortBus } from '../../src/memory/ports.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { Cmos } from '../../src/devices/cmos.js';
import { inb, irqRecorder, outb, run, runTo, viaJson } from './clock-helpers.js';

const START = Date.UTC(2026, 0, 1, 12, 34, 56); // a Thursday
const US = 1_000_000;

function setup(start = START, memory?: { below4G: number; above4G?: number }) {
  const clock = new VirtualClock(US, start);
  const rec = irqRecorder(clock);
  const bus = new PortBus();
  const cmos = new Cmos({ clock, irq: rec.irq, memory });
  cmos.register(bus);
  const rd = (i: number) => { outb(bus, 0x70, i); return inb(bus, 0x71); };
  const wr = (i: number, v: number) => { outb(bus, 0x70, i); outb(bus, 0x71, v); };
  return { clock, rec, bus, cmos, rd, wr };
}

describe('CMOS RTC (MC146818A)', () => {
  it('shows the start date plus virtual elapsed time, in BCD and 24-hour form by default', () => {
    const { clock, rd } = setup();
    expect([rd(0x00), rd(0x02), rd(0x04), rd(0x06), rd(0x07), rd(0x08), rd(0x09), rd(0x32)])
      .toEqual([0x56, 0x34, 0x12, 0x05, 0x01, 0x01, 0x26, 0x20]);
    runTo(clock, 1.5 * US);
    expect(rd(0x00)).toBe(0x57);
    runTo(clock, 64.5 * US);
    expect([rd(0x00), rd(0x02)]).toEqual([0x00, 0x36]);
  });

  it('register B DM=1 gives binary, 24/12=0 gives 12-hour hours with bit 7 = PM', () => {
    const { rd, wr } = setup(Date.UTC(2026, 0, 1, 13, 5, 9));
    wr(0x0b, 0x04); // binary, 12-hour
    expect([rd(0x00), rd(0x02), rd(0x04), rd(0x09)]).toEqual([9, 5, 0x80 | 1, 26]);
    const midnight = setup(Date.UTC(2026, 0, 1, 0, 30, 0));
    midnight.wr(0x0b, 0x00); // BCD, 12-hour
    expect(midnight.rd(0x04)).toBe(0x12); // 12 AM
    const noon = setup(Date.UTC(2026, 0, 1, 12, 30, 0));
    noon.wr(0x0b, 0x00);
    expect(noon.rd(0x04)).toBe(0x92); // 12 PM
  });

  it('UIP is set only during the 2228 µs before each second boundary', () => {
    const { clock, rd } = setup();
    expect(rd(0x0a)).toBe(0x26); // DV=010, RS=0110
    runTo(clock, US - 2229);
    expect(rd(0x0a) & 0x80).toBe(0);
    runTo(clock, US - 2228);
    expect(rd(0x0a) & 0x80).toBe(0x80);
    expect(rd(0x00)).toBe(0x56);
    runTo(clock, US);
    expect(rd(0x0a) & 0x80).toBe(0);
    expect(rd(0x00)).toBe(0x57);
  });

  it('a start date with a fractional second keeps its phase', () => {
    const { clock, rd } = setup(START + 250);
    runTo(clock, 0.75 * US - 1);
    expect(rd(0x00)).toBe(0x56);
    runTo(clock, 0.75 * US);
    expect(rd(0x00)).toBe(0x57);
  });

  it('setting the time: SET freezes the registers, clearing SET continues from the new time', () => {
    const { clock, rd, wr } = setup();
    runTo(clock, 0.4 * US);
    wr(0x0b, 0x82); // SET, 24-hour, BCD
    wr(0x04, 0x23); wr(0x02, 0x59); wr(0x00, 0x58);
    wr(0x07, 0x31); wr(0x08, 0x12); wr(0x09, 0x99); wr(0x32, 0x19);
    runTo(clock, 3 * US);
    expect(rd(0x00)).toBe(0x58); // frozen while SET
    expect(rd(0x0a) & 0x80).toBe(0); // no update cycles while SET
    wr(0x0b, 0x02);
    expect([rd(0x04), rd(0x02), rd(0x00)]).toEqual([0x23, 0x59, 0x58]);
    runTo(clock, 5 * US);
    // 1999-12-31 23:59:58 + 2 s
    expect([rd(0x32), rd(0x09), rd(0x08), rd(0x07), rd(0x04), rd(0x02), rd(0x00), rd(0x06)])
      .toEqual([0x20, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x07]); // 2000-01-01 was a Saturday
  });

  it('a time register written without SET takes effect at once', () => {
    const { clock, rd, wr } = setup();
    wr(0x02, 0x00);
    expect([rd(0x04), rd(0x02), rd(0x00)]).toEqual([0x12, 0x00, 0x56]);
    runTo(clock, 4 * US);
    expect([rd(0x02), rd(0x00)]).toEqual([0x01, 0x00]);
  });

  it('register C reports update-ended after a second boundary and clears when read', () => {
    const { clock, rd } = setup();
    expect(rd(0x0c)).toBe(0x00);
    runTo(clock, 1.2 * US);
    expect(rd(0x0c)).toBe(0x10 | 0x40); // UF, and PF (RS=6 runs even without PIE)
    expect(rd(0x0c)).toBe(0x00);
  });

  it('UIE raises IRQ8 at the exact second boundary and reading C lowers it', () => {
    const { clock, rec, rd, wr } = setup(START + 600);
    wr(0x0a, 0x20); // no periodic rate
    wr(0x0b, 0x12); // UIE, 24-hour
    runTo(clock, 2 * US);
    expect(rec.rises(8)).toEqual([0.4 * US]);
    expect(rd(0x0c)).toBe(0x80 | 0x10);
    expect(rec.level(8)).toBe(false);
    runTo(clock, 3 * US);
    expect(rec.rises(8)).toEqual([0.4 * US, 2.4 * US]); // held high until C is read at 2 s
  });

  it('PIE with RS=6 gives IRQ8 every 976.5625 µs', () => {
    const { clock, rec, rd, wr } = setup();
    wr(0x0b, 0x42); // PIE
    for (let k = 1; k <= 4; k++) {
      runTo(clock, Math.ceil(k * 976.5625));
      rd(0x0c);
    }
    expect(rec.rises(8)).toEqual([977, 1954, 2930, 3907]);
  });

  it('the alarm flag fires when hours, minutes and seconds match; 0xC0–0xFF are don\'t care', () => {
    const { clock, rd, wr } = setup();
    wr(0x05, 0xff); wr(0x03, 0xff); wr(0x01, 0x59); // every minute at :59
    runTo(clock, 2.5 * US); // 12:34:58
    expect(rd(0x0c) & 0x20).toBe(0);
    runTo(clock, 3.5 * US); // 12:34:59
    expect(rd(0x0c) & 0x20).toBe(0x20);
    runTo(clock, 100 * US); // passed 12:35:59 while nobody looked
    expect(rd(0x0c) & 0x20).toBe(0x20);
  });

  it('register D reads VRT, port 0x70 bit 7 masks NMI', () => {
    const { bus, cmos, rd } = setup();
    expect(rd(0x0d)).toBe(0x80);
    outb(bus, 0x70, 0x8f);
    expect(cmos.nmiMasked).toBe(true);
    expect(cmos.index).toBe(0x0f);
    outb(bus, 0x70, 0x0f);
    expect(cmos.nmiMasked).toBe(false);
  });

  it('memory size bytes as SeaBIOS reads them, and the AT checksum', () => {
    const { rd } = setup(START, { below4G: 128 * 1024 * 1024, above4G: 1024 * 1024 * 1024 });
    expect(rd(0x15) | (rd(0x16) << 8)).toBe(640);
    expect(rd(0x17) | (rd(0x18) << 8)).toBe(0xffff); // 127 MiB does not fit: capped
    expect(rd(0x30) | (rd(0x31) << 8)).toBe(0xffff);
    expect(rd(0x34) | (rd(0x35) << 8)).toBe(112 * 16); // 112 MiB in 64 KiB units
    expect(rd(0x5b) | (rd(0x5c) << 8) | (rd(0x5d) << 16)).toBe(16384);
    const small = setup(START, { below4G: 8 * 1024 * 1024 });
    expect(small.rd(0x17) | (small.rd(0x18) << 8)).toBe(7 * 1024);
    expect(small.rd(0x34) | (small.rd(0x35) << 8)).toBe(0);
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += small.rd(i);
    expect((small.rd(0x2e) << 8) | small.rd(0x2f)).toBe(sum);
  });

  it('plain CMOS bytes are read/write RAM', () => {
    const { rd, wr } = setup();
    wr(0x40, 0xa5); wr(0x7f, 0x5a);
    expect([rd(0x40), rd(0x7f)]).toEqual([0xa5, 0x5a]);
  });

  it('save/restore through JSON keeps the time and re-arms the update interrupt', () => {
    const a = setup();
    a.wr(0x0a, 0x20);
    a.wr(0x0b, 0x12);
    a.wr(0x02, 0x00); // guest moved the clock
    runTo(a.clock, 0.5 * US);
    const snap = viaJson(a.cmos.save());
    const b = setup();
    b.clock.icount = a.clock.icount;
    b.cmos.restore(snap);
    expect(b.rd(0x02)).toBe(0x00);
    run(b.clock, US);
    expect(b.rec.rises(8)).toEqual([US]);
  });
});
