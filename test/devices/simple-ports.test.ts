/**
 * Small ports: POST code 0x80, Bochs/QEMU debug console 0xE9, QEMU isa-debug-exit (exit code
 * (value << 1) | 1, hw/misc/debugexit.c), PS/2 system control port A 0x92 (bit 1 A20, bit 0
 * fast reset on a 0 → 1 transition).
 */
import { describe, expect, it } from 'vitest';
import { PortBus } from '../../src/memory/ports.js';
import { DebugConsolePort, DebugExitPort, PostPort, SystemControlPortA } from '../../src/devices/simple-ports.js';
import { inb, outb, viaJson } from './clock-helpers.js';

describe('small ports', () => {
  it('port 0x80 counts writes and reads back the last POST code', () => {
    const bus = new PortBus();
    const post = new PostPort();
    post.register(bus);
    outb(bus, 0x80, 0x12); outb(bus, 0x80, 0x34);
    expect(post.writes).toBe(2);
    expect(inb(bus, 0x80)).toBe(0x34);
    const copy = new PostPort();
    copy.restore(viaJson(post.save()));
    expect(copy.writes).toBe(2);
  });

  it('port 0xE9 hands each byte to onOutput and reads 0xE9', () => {
    const bus = new PortBus();
    let out = '';
    new DebugConsolePort(b => { out += String.fromCharCode(b); }).register(bus);
    for (const c of 'SWEB: />') outb(bus, 0xe9, c.charCodeAt(0));
    expect(out).toBe('SWEB: />');
    expect(inb(bus, 0xe9)).toBe(0xe9);
  });

  it('isa-debug-exit at 0xF4: exit code is (value << 1) | 1 for 1-, 2- and 4-byte writes', () => {
    const bus = new PortBus();
    const codes: number[] = [];
    new DebugExitPort({ onExit: c => codes.push(c) }).register(bus);
    bus.write(0xf4, 1, 0x10);
    bus.write(0xf4, 2, 0x0100);
    bus.write(0xf4, 4, 0xffffffff);
    expect(codes).toEqual([0x21, 0x201, 0x1ffffffff]);
    expect(bus.read(0xf4, 1)).toBe(0);
    expect(bus.deviceAt(0xf7)).toBeDefined();
    expect(bus.deviceAt(0xf8)).toBeUndefined();
  });

  it('port 0x92: bit 1 gates A20, a rising bit 0 resets', () => {
    const bus = new PortBus();
    let resets = 0;
    const a20: boolean[] = [];
    const p = new SystemControlPortA({ onReset: () => resets++, onA20: on => a20.push(on) });
    p.register(bus);
    expect(inb(bus, 0x92)).toBe(0x02);
    outb(bus, 0x92, 0x00);
    expect(a20).toEqual([false]);
    outb(bus, 0x92, 0x03);
    expect(a20).toEqual([false, true]);
    expect(resets).toBe(1);
    outb(bus, 0x92, 0x03); // bit 0 already set: no new reset
    expect(resets).toBe(1);
    expect(p.a20).toBe(true);
  });
});
