import { describe, it, expect } from 'vitest';
import { Ram, PhysBus } from '../../src/memory/index.js';

describe('physical address space', () => {
  it('reads 0 from addresses with no RAM or device (as QEMU), or 0xFF when configured', () => {
    const bus = new PhysBus(new Ram(1 << 20));
    expect(bus.read32(0x80048018)).toBe(0);
    bus.unassigned = 0xff;
    expect(bus.read32(0x80048018)).toBe(0xffffffff);
    expect(bus.read8(0xfffff)).toBe(0); // RAM itself is unaffected
  });
  it('drops writes beyond RAM and tells the code cache about writes to code pages', () => {
    const bus = new PhysBus(new Ram(1 << 20));
    const touched: number[] = [];
    bus.codePages.add(5);
    bus.onCodeWrite = p => touched.push(p);
    bus.write32(0x5ffe, 0x11223344);   // crosses from page 5 into page 6
    bus.write32(0x200000, 0xdeadbeef); // beyond RAM: dropped
    expect(touched).toEqual([5]);
    expect(bus.read32(0x5ffe)).toBe(0x11223344);
    expect(bus.read32(0x200000)).toBe(0);
  });
});
