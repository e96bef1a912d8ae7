/**
 * 16550A UART. Expected values from the National Semiconductor PC16550D datasheet: register
 * map with DLAB, IIR codes and priorities (0x06 line status > 0x04 RX data / 0x0C timeout >
 * 0x02 THR empty > 0x00 modem status, 0x01 none, bits 7:6 = 11 with FIFOs), FCR trigger
 * levels 1/4/8/14, LSR bits (DR, OE, THRE, TEMT), MSR in loopback (CTS=RTS, DSR=DTR, RI=OUT1,
 * DCD=OUT2), character timeout after 4 character times.
 */
import { describe, expect, it } from 'vitest';
import { PortBus } from '../../src/memory/ports.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { COM1, Uart16550 } from '../../src/devices/uart16550.js';
import { inb, irqRecorder, outb, run, runTo, viaJson } from './clock-helpers.js';

const B = COM1.base;
const THR = B, IER = B + 1, IIR = B + 2, FCR = B + 2, LCR = B + 3, MCR = B + 4, LSR = B + 5, MSR = B + 6, SCR = B + 7;

function setup() {
  const clock = new VirtualClock(1_000_000); // 1 instruction = 1 µs
  const rec = irqRecorder(clock);
  const bus = new PortBus();
  const tx: number[] = [];
  const uart = new Uart16550({ ...COM1, irq: rec.irq, clock, onTx: b => tx.push(b) });
  uart.register(bus);
  return { clock, rec, bus, uart, tx };
}
/** The usual driver init: 115200 8N1, FIFOs on with trigger 14, OUT2 so the IRQ reaches the PIC. */
function init(bus: PortBus, fcr = 0xc7) {
  outb(bus, LCR, 0x80); outb(bus, THR, 0x01); outb(bus, IER, 0x00); outb(bus, LCR, 0x03);
  outb(bus, FCR, fcr);
  outb(bus, MCR, 0x0b);
}

describe('16550A UART', () => {
  it('a byte written to THR goes to onTx at once; THRE and TEMT stay set', () => {
    const { bus, tx } = setup();
    init(bus);
    for (const c of 'ok\n') outb(bus, THR, c.charCodeAt(0));
    expect(String.fromCharCode(...tx)).toBe('ok\n');
    expect(inb(bus, LSR)).toBe(0x60);
  });

  it('DLAB switches offsets 0/1 to the divisor latch', () => {
    const { bus, tx } = setup();
    outb(bus, LCR, 0x83);
    outb(bus, B, 0x0c); outb(bus, B + 1, 0x00);
    expect([inb(bus, B), inb(bus, B + 1)]).toEqual([0x0c, 0x00]);
    expect(tx).toEqual([]); // not transmitted
    outb(bus, LCR, 0x03);
    expect(inb(bus, IER)).toBe(0);
    expect(inb(bus, LCR)).toBe(0x03);
  });

  it('IIR reads 0xC1 (no interrupt, FIFOs enabled) after FCR enables the FIFOs, 0x01 without', () => {
    const { bus } = setup();
    expect(inb(bus, IIR)).toBe(0x01);
    init(bus);
    expect(inb(bus, IIR)).toBe(0xc1);
  });

  it('THRE interrupt: raised when enabled, cleared by reading IIR, raised again by a THR write', () => {
    const { bus, rec } = setup();
    init(bus);
    outb(bus, IER, 0x02);
    expect(rec.level(COM1.irqLine)).toBe(true);
    expect(inb(bus, IIR)).toBe(0xc2);
    expect(rec.level(COM1.irqLine)).toBe(false);
    expect(inb(bus, IIR)).toBe(0xc1);
    outb(bus, THR, 0x41);
    expect(inb(bus, IIR)).toBe(0xc2);
  });

  it('IRQ4 reaches the line only while MCR.OUT2 is set', () => {
    const { bus, rec } = setup();
    init(bus);
    outb(bus, MCR, 0x03); // DTR, RTS, no OUT2
    outb(bus, IER, 0x02);
    expect(rec.level(4)).toBe(false);
    expect(inb(bus, IIR) & 0x0f).toBe(0x02); // the cause is still reported
    outb(bus, THR, 0x41);
    outb(bus, MCR, 0x0b);
    expect(rec.level(4)).toBe(true);
  });

  it('received data: DR in LSR, RX-data interrupt at the trigger level (14)', () => {
    const { bus, uart, rec } = setup();
    init(bus);
    outb(bus, IER, 0x01);
    uart.receive(Array.from({ length: 13 }, (_, i) => 0x30 + i));
    expect(inb(bus, LSR) & 0x01).toBe(0x01);
    expect(inb(bus, IIR)).toBe(0xc1); // 13 < 14
    expect(rec.level(4)).toBe(false);
    uart.receive([0x3d]);
    expect(inb(bus, IIR)).toBe(0xc4);
    expect(rec.level(4)).toBe(true);
    expect(inb(bus, B)).toBe(0x30);
    expect(inb(bus, IIR)).toBe(0xc1); // back below the trigger level
  });

  it('character timeout (IIR 0x0C) after 4 character times without FIFO activity', () => {
    const { bus, uart, rec, clock } = setup();
    init(bus);
    outb(bus, IER, 0x01);
    uart.receive([0x61, 0x62]);
    // 115200 baud, 8N1: 10 bits per character, 4 characters = 347.2 µs
    runTo(clock, 346);
    expect(inb(bus, IIR)).toBe(0xc1);
    runTo(clock, 347);
    expect(inb(bus, IIR)).toBe(0xcc);
    expect(rec.rises(4)).toEqual([347]);
    expect(inb(bus, B)).toBe(0x61);
    expect(rec.level(4)).toBe(false); // reading RBR clears the timeout
    runTo(clock, 347 + 347);
    expect(inb(bus, IIR)).toBe(0xcc); // one byte left: timeout again
    expect(inb(bus, B)).toBe(0x62);
    run(clock, 10_000);
    expect(inb(bus, IIR)).toBe(0xc1);
  });

  it('16450 mode (FIFOs off): RX-data interrupt per byte', () => {
    const { bus, uart } = setup();
    init(bus, 0x00);
    outb(bus, IER, 0x01);
    uart.receive([1, 2]);
    expect(inb(bus, IIR)).toBe(0x04);
    expect(inb(bus, B)).toBe(1);
    expect(inb(bus, IIR)).toBe(0x04); // the next byte moved in
    expect(inb(bus, B)).toBe(2);
    expect(inb(bus, IIR)).toBe(0x01);
    expect(inb(bus, LSR) & 0x01).toBe(0);
  });

  it('host input beyond the 16-byte FIFO waits on the line and is not lost', () => {
    const { bus, uart } = setup();
    init(bus);
    const text = 'The quick brown fox jumps over the lazy dog';
    uart.receive(Buffer.from(text));
    let got = '';
    while (inb(bus, LSR) & 1) got += String.fromCharCode(inb(bus, B));
    expect(got).toBe(text);
    expect(inb(bus, LSR) & 0x02).toBe(0); // no overrun
  });

  it('loopback: THR returns in RBR, MSR mirrors MCR, nothing reaches onTx', () => {
    const { bus, tx } = setup();
    init(bus);
    outb(bus, MCR, 0x1a); // loopback, RTS, OUT2 — Linux's autoconfig probe
    expect(inb(bus, MSR) & 0xf0).toBe(0x90); // CTS and DCD
    outb(bus, THR, 0x55);
    expect(inb(bus, LSR) & 0x01).toBe(1);
    expect(inb(bus, B)).toBe(0x55);
    expect(tx).toEqual([]);
    outb(bus, MCR, 0x1f);
    expect(inb(bus, MSR)).toBe(0xf0 | 0x02); // all four inputs; only DSR changed (DDSR)
  });

  it('IIR priority: line status > RX data > THR empty > modem status', () => {
    const { bus } = setup();
    init(bus, 0x07); // FIFOs, trigger 1
    outb(bus, MCR, 0x10); // loopback
    for (let i = 0; i < 17; i++) outb(bus, THR, i); // the 17th overruns the FIFO
    outb(bus, MCR, 0x11); // DTR → DSR changes: DDSR
    outb(bus, IER, 0x0f);
    expect(inb(bus, IIR) & 0x0f).toBe(0x06);
    expect(inb(bus, LSR) & 0x03).toBe(0x03); // DR and OE; reading clears OE
    expect(inb(bus, IIR) & 0x0f).toBe(0x04);
    for (let i = 0; i < 16; i++) inb(bus, B);
    expect(inb(bus, IIR) & 0x0f).toBe(0x02);
    expect(inb(bus, IIR) & 0x0f).toBe(0x00); // THRE reported once; modem status remains
    inb(bus, MSR);
    expect(inb(bus, IIR) & 0x0f).toBe(0x01);
  });

  it('the scratch register holds a byte', () => {
    const { bus } = setup();
    outb(bus, SCR, 0xa5);
    expect(inb(bus, SCR)).toBe(0xa5);
  });

  it('onInput sees received bytes (for the recorder)', () => {
    const { uart } = setup();
    const seen: number[][] = [];
    uart.onInput = b => seen.push([...b]);
    uart.receive([0x68, 0x69]);
    expect(seen).toEqual([[0x68, 0x69]]);
  });

  it('save/restore through JSON keeps FIFO contents and re-arms the timeout', () => {
    const a = setup();
    init(a.bus);
    outb(a.bus, IER, 0x01);
    a.uart.receive([0x41, 0x42, 0x43]);
    runTo(a.clock, 100);
    const snap = viaJson(a.uart.save());
    const b = setup();
    b.clock.icount = 100;
    b.uart.restore(snap);
    runTo(b.clock, 347);
    expect(b.rec.rises(4)).toEqual([347]);
    expect([inb(b.bus, B), inb(b.bus, B), inb(b.bus, B)]).toEqual([0x41, 0x42, 0x43]);
  });
});
