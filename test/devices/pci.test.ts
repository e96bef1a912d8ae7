/**
 * PCI configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2) and the
 * i440FX/PIIX3 functions QEMU's "pc" machine shows at 00:00.0, 00:01.0 and 00:01.1.
 */
import { describe, it, expect } from 'vitest';
import { PortBus } from '../../src/memory/ports.js';
import { createPciBus, PciConfigSpace, type PciBus } from '../../src/devices/pci.js';

function setup(): { bus: PortBus; pci: PciBus; cfg: (b: number, d: number, f: number, off: number, size?: 1 | 2 | 4) => number; wcfg: (b: number, d: number, f: number, off: number, v: number, size?: 1 | 2 | 4) => void } {
  const bus = new PortBus();
  const pci = createPciBus();
  pci.register(bus);
  const addr = (b: number, d: number, f: number, off: number) => (0x80000000 | (b << 16) | (d << 11) | (f << 8) | (off & 0xfc)) >>> 0;
  const cfg = (b: number, d: number, f: number, off: number, size: 1 | 2 | 4 = 4) => {
    bus.write(0xcf8, 4, addr(b, d, f, off));
    return bus.read(0xcfc + (off & 3), size);
  };
  const wcfg = (b: number, d: number, f: number, off: number, v: number, size: 1 | 2 | 4 = 4) => {
    bus.write(0xcf8, 4, addr(b, d, f, off));
    bus.write(0xcfc + (off & 3), size, v);
  };
  return { bus, pci, cfg, wcfg };
}

describe('PCI configuration space', () => {
  it('CONFIG_ADDRESS reads back what was written (bits 1:0 zero) — the probe Linux uses', () => {
    const { bus } = setup();
    bus.write(0xcf8, 4, 0x80000000);
    expect(bus.read(0xcf8, 4)).toBe(0x80000000);
    bus.write(0xcf8, 4, 0x8000fb07);
    expect(bus.read(0xcf8, 4)).toBe(0x8000fb04);
  });

  it('shows the i440FX host bridge, PIIX3 ISA bridge and PIIX3 IDE with their IDs and classes', () => {
    const { cfg } = setup();
    expect(cfg(0, 0, 0, 0)).toBe(0x12378086);
    expect(cfg(0, 0, 0, 8) >>> 8).toBe(0x060000);
    expect(cfg(0, 1, 0, 0)).toBe(0x70008086);
    expect(cfg(0, 1, 0, 8) >>> 8).toBe(0x060100);
    expect(cfg(0, 1, 0, 0x0e, 1) & 0x80).toBe(0x80);   // multi-function, so function 1 gets scanned
    expect(cfg(0, 1, 1, 0)).toBe(0x70108086);
    expect(cfg(0, 1, 1, 8) >>> 8).toBe(0x010180);      // IDE, compatibility mode, bus-master capable
    expect(cfg(0, 1, 1, 0x40, 2)).toBe(0x8000);        // IDETIM: primary decode enabled
    expect(cfg(0, 1, 1, 0x42, 2)).toBe(0x8000);
  });

  it('absent functions and buses read all ones', () => {
    const { cfg } = setup();
    expect(cfg(0, 2, 0, 0)).toBe(0xffffffff);
    expect(cfg(0, 0, 1, 0)).toBe(0xffffffff);
    expect(cfg(1, 0, 0, 0)).toBe(0xffffffff);
    expect(cfg(0, 5, 0, 2, 2)).toBe(0xffff);
  });

  it('byte and word accesses at 0xCFC-0xCFF reach the right bytes', () => {
    const { cfg, wcfg } = setup();
    expect(cfg(0, 1, 1, 0, 2)).toBe(0x8086);
    expect(cfg(0, 1, 1, 2, 2)).toBe(0x7010);
    expect(cfg(0, 1, 1, 3, 1)).toBe(0x70);
    expect(cfg(0, 1, 1, 0x0b, 1)).toBe(0x01);
    wcfg(0, 1, 1, 0x3d, 0x12, 1);             // interrupt pin: read-only
    wcfg(0, 1, 1, 0x3c, 0x0e, 1);             // interrupt line: writable
    expect(cfg(0, 1, 1, 0x3c, 2)).toBe(0x000e);
    wcfg(0, 1, 1, 0, 0xdeadbeef);             // IDs are read-only
    expect(cfg(0, 1, 1, 0)).toBe(0x70108086);
  });

  it('with the enable bit clear, configuration data reads all ones', () => {
    const { bus } = setup();
    bus.write(0xcf8, 4, 0x00000000);
    expect(bus.read(0xcfc, 4)).toBe(0xffffffff);
  });

  it('sizes BAR4 of the IDE function: all ones in, size mask out, then a base', () => {
    const { cfg, wcfg, pci } = setup();
    expect(cfg(0, 1, 1, 0x20)).toBe(0x00000001);           // I/O BAR, not placed
    wcfg(0, 1, 1, 0x20, 0xffffffff);
    expect(cfg(0, 1, 1, 0x20)).toBe(0xfffffff1);           // 16 bytes of I/O space
    wcfg(0, 1, 1, 0x20, 0xc040);
    expect(cfg(0, 1, 1, 0x20)).toBe(0xc041);
    expect((pci.get(1, 1) as PciConfigSpace).barAddress(4)).toBe(0xc040);
    for (const off of [0x10, 0x14, 0x18, 0x1c, 0x24, 0x30]) {  // unimplemented BARs and ROM stay 0
      wcfg(0, 1, 1, off, 0xffffffff);
      expect(cfg(0, 1, 1, off)).toBe(0);
    }
  });

  it('lets other devices register functions with memory BARs and RW1C status bits', () => {
    const { pci, cfg, wcfg } = setup();
    const maps: number[] = [];
    const dev = new PciConfigSpace({ vendor: 0x1234, device: 0x1111, classCode: [0x03, 0x00, 0x00], interruptPin: 1 },
      [{ size: 0x1000000, io: false, prefetchable: true, onMap: b => maps.push(b) }]);
    pci.add(2, 0, dev, 'vga');
    expect(() => pci.add(2, 0, dev)).toThrow(/taken by vga/);
    expect(cfg(0, 2, 0, 0)).toBe(0x11111234);
    expect(cfg(0, 2, 0, 0x10)).toBe(0x8);
    wcfg(0, 2, 0, 0x10, 0xffffffff);
    expect(cfg(0, 2, 0, 0x10)).toBe(0xff000008);
    wcfg(0, 2, 0, 0x10, 0xfd000000);
    expect(maps).toEqual([-1, 0xfd000000]);
    dev.config[0x07] = 0x80;                    // detected parity error
    wcfg(0, 2, 0, 0x06, 0x8000, 2);             // write one to clear
    expect(cfg(0, 2, 0, 0x06, 2)).toBe(0);
    wcfg(0, 2, 0, 0x04, 0xffff, 2);             // only the defined command bits stick
    expect(cfg(0, 2, 0, 0x04, 2)).toBe(0x0547);
  });

  it('saves and restores the address register and every function', () => {
    const { pci, cfg, wcfg } = setup();
    wcfg(0, 1, 1, 0x3c, 0x0e, 1);
    const s = pci.save();
    wcfg(0, 1, 1, 0x3c, 0x05, 1);
    pci.restore(s);
    expect(cfg(0, 1, 1, 0x3c, 1)).toBe(0x0e);
  });
});
