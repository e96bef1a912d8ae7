/** QEMU fw_cfg, as docs/specs/fw_cfg.rst describes the guest-side interface on x86. */
import { describe, it, expect } from 'vitest';
import { PortBus, PhysBus, Ram } from '../../src/memory/index.js';
import { FwCfg, FW_CFG_DMA_CTL_READ, FW_CFG_DMA_CTL_SELECT, FW_CFG_DMA_CTL_SKIP, FW_CFG_DMA_CTL_WRITE } from '../../src/devices/fwcfg.js';

function setup() {
  const bus = new PortBus();
  const phys = new PhysBus(new Ram(1 << 20));
  const fw = new FwCfg({ ramSize: 128 << 20, cpus: 1, phys });
  fw.register(bus);
  const select = (k: number) => bus.write(0x510, 2, k);
  const read = (n: number) => { const out: number[] = []; for (let i = 0; i < n; i++) out.push(bus.read(0x511, 1)); return out; };
  return { bus, phys, fw, select, read };
}

const bswap = (v: number) => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;

describe('fw_cfg', () => {
  it('reads "QEMU" at key 0 and reports the traditional and DMA interfaces in the ID', () => {
    const { select, read } = setup();
    select(0x0000);
    expect(String.fromCharCode(...read(4))).toBe('QEMU');
    select(0x0001);
    expect(read(4)).toEqual([3, 0, 0, 0]);
  });

  it('gives RAM size (u64 LE) and the number of CPUs (u16 LE) as QEMU does', () => {
    const { select, read } = setup();
    select(0x0003);
    expect(read(8)).toEqual([0, 0, 0, 8, 0, 0, 0, 0]);
    select(0x0005);
    expect(read(2)).toEqual([1, 0]);
    select(0x8002);                                // IRQ0 override
    expect(read(4)).toEqual([1, 0, 0, 0]);
  });

  it('lists files in a big-endian, name-sorted directory at key 0x19, readable by selector', () => {
    const { fw, select, read, bus } = setup();
    fw.addFile('opt/vmxray/zeta', new Uint8Array([9, 9]));
    fw.addFile('etc/acpi/tables', new Uint8Array([1, 2, 3]));
    expect(() => fw.addFile('etc/acpi/tables', new Uint8Array(1))).toThrow(/already exists/);
    select(0x0019);
    const count = read(4);
    expect(count).toEqual([0, 0, 0, 2]);
    const entries = [0, 1].map(() => read(64));
    const parse = (e: number[]) => ({
      size: (e[0] << 24) | (e[1] << 16) | (e[2] << 8) | e[3],
      select: (e[4] << 8) | e[5],
      name: String.fromCharCode(...e.slice(8, e.indexOf(0, 8))),
    });
    expect(entries.map(parse)).toEqual([
      { size: 3, select: 0x20, name: 'etc/acpi/tables' },
      { size: 2, select: 0x21, name: 'opt/vmxray/zeta' },
    ]);
    select(0x20);
    expect(read(5)).toEqual([1, 2, 3, 0, 0]);      // reads past the end return 0
    select(0x21);
    expect(bus.read(0x511, 2)).toBe(0x0909);       // a wider read returns the next bytes in order
  });

  it('an unknown key reads zeros; selecting again rewinds', () => {
    const { select, read } = setup();
    select(0x0123);
    expect(read(3)).toEqual([0, 0, 0]);
    select(0x0000); read(2);
    select(0x0000);
    expect(String.fromCharCode(...read(4))).toBe('QEMU');
  });

  it('the DMA register reads "QEMU CFG" and a DMA read copies an item into guest memory', () => {
    const { bus, phys, fw } = setup();
    expect(bus.read(0x514, 4)).toBe(0x554d4551);     // bytes 'Q','E','M','U' in memory order
    expect(bus.read(0x518, 4)).toBe(0x47464320);     // ' CFG'
    const sel = fw.addFile('etc/blob', new Uint8Array([10, 20, 30, 40, 50]));
    const desc = new DataView(new ArrayBuffer(16));
    desc.setUint32(0, (sel << 16) | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ);
    desc.setUint32(4, 8);
    desc.setUint32(12, 0x2000);
    phys.writeBytes(0x1000, new Uint8Array(desc.buffer));
    phys.writeBytes(0x2000, new Uint8Array(8).fill(0xee));
    bus.write(0x514, 4, 0);
    bus.write(0x518, 4, bswap(0x1000));             // the guest writes the big-endian address
    expect([...phys.readBytes(0x2000, 8)]).toEqual([10, 20, 30, 40, 50, 0, 0, 0]);
    expect(phys.read32(0x1000)).toBe(0);             // control cleared: done, no error
  });

  it('DMA skip advances the offset and DMA write fails with the error bit', () => {
    const { bus, phys, select, read } = setup();
    const desc = new DataView(new ArrayBuffer(16));
    select(0x0000);
    desc.setUint32(0, FW_CFG_DMA_CTL_SKIP); desc.setUint32(4, 2);
    phys.writeBytes(0x1000, new Uint8Array(desc.buffer));
    bus.write(0x518, 4, bswap(0x1000));
    expect(String.fromCharCode(...read(2))).toBe('MU');
    desc.setUint32(0, FW_CFG_DMA_CTL_WRITE); desc.setUint32(4, 1);
    phys.writeBytes(0x1000, new Uint8Array(desc.buffer));
    bus.write(0x518, 4, bswap(0x1000));
    expect(phys.read8(0x1003)).toBe(1);              // big-endian control word, error bit
  });

  it('without guest memory the DMA interface is absent', () => {
    const bus = new PortBus();
    const fw = new FwCfg();
    fw.register(bus);
    bus.write(0x510, 2, 1);
    expect(bus.read(0x511, 4)).toBe(1);
    expect(bus.read(0x514, 4)).toBe(0xffffffff);     // unclaimed port
  });
});
