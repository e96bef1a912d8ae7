/**
 * IDE/ATA PIO behaviour, checked against ATA/ATAPI-6 (T13/1410D) and what SWEB and QEMU
 * (hw/ide/core.c) do. Disks are tiny MemoryDisks or temp files opened through openDisk.
 */
import { describe, it, expect, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PortBus } from '../../src/memory/ports.js';
import { AtaController, STATUS_DATA, STATUS_READY, ATA_ABRT, ATA_IDNF, ATA_UNC } from '../../src/devices/ata.js';
import { MemoryDisk, DiskError, openDisk, type BlockDevice } from '../../src/disk/index.js';
import { pattern } from '../disk/qcow2-writer.js';
import { tmpDir, removeTmpDirs, sha } from '../disk/helpers.js';

afterAll(removeTmpDirs);

const P = 0x1f0, PC = 0x3f6, S = 0x170, SC = 0x376;
const SECTORS = 16 * 63 * 4; // 4 cylinders of the default 16x63 geometry

function machine(opts: { pm?: BlockDevice | null; ps?: BlockDevice | null; sm?: BlockDevice | null; ss?: BlockDevice | null } = {}) {
  const bus = new PortBus();
  const lines = new Map<number, boolean>();
  const edges: number[] = [];
  const errors: string[] = [];
  const ata = new AtaController({
    irqLine: (l, level) => { if (level && !lines.get(l)) edges.push(l); lines.set(l, level); },
    primary: { master: opts.pm === undefined ? new MemoryDisk(pattern(SECTORS, 1)) : opts.pm, slave: opts.ps ?? null },
    secondary: { master: opts.sm ?? null, slave: opts.ss ?? null },
    onDiskError: m => errors.push(m),
  });
  ata.register(bus);
  const inb = (p: number) => bus.read(p, 1);
  const inw = (p: number) => bus.read(p, 2);
  const inl = (p: number) => bus.read(p, 4);
  const outb = (p: number, v: number) => bus.write(p, 1, v);
  const outw = (p: number, v: number) => bus.write(p, 2, v);
  const readSector = (base = P) => { const b = new Uint8Array(512); for (let i = 0; i < 256; i++) { const w = inw(base); b[2 * i] = w & 0xff; b[2 * i + 1] = w >> 8; } return b; };
  const writeSector = (data: Uint8Array, base = P) => { for (let i = 0; i < 256; i++) outw(base, data[2 * i] | (data[2 * i + 1] << 8)); };
  const irq = (l = 14) => lines.get(l) ?? false;
  return { bus, ata, inb, inw, inl, outb, outw, readSector, writeSector, irq, edges, errors };
}

function lba28(m: ReturnType<typeof machine>, lba: number, count: number, cmd: number, base = P, dev = 0) {
  m.outb(base + 6, 0xe0 | (dev << 4) | ((lba >>> 24) & 0xf));
  m.outb(base + 2, count & 0xff);
  m.outb(base + 3, lba & 0xff);
  m.outb(base + 4, (lba >>> 8) & 0xff);
  m.outb(base + 5, (lba >>> 16) & 0xff);
  m.outb(base + 7, cmd);
}

describe('IDE/ATA PIO', () => {
  it('IDE status is exactly 0x58 when a sector is ready and 0x50 when idle', () => {
    const m = machine();
    expect(m.inb(P + 7)).toBe(0x50);
    lba28(m, 0, 1, 0x20);
    expect(m.inb(P + 7)).toBe(0x58);
    expect(STATUS_DATA).toBe(0x58);
    m.readSector();
    expect(m.inb(P + 7)).toBe(STATUS_READY);
    expect(m.inb(PC)).toBe(0x50);
  });

  it('IDENTIFY DEVICE reports the 16/63 default geometry, capacities and byte-swapped strings (ATA-6 Table 27)', () => {
    const total = 16 * 63 * 20000 + 5; // more than 16383 cylinders: clamped
    const big: BlockDevice = { sectors: total, read: (l, c) => new Uint8Array(c * 512), write: () => {}, flush: () => {} };
    const m = machine({ pm: big });
    m.outb(P + 6, 0xa0);
    m.outb(P + 7, 0xec);
    expect(m.irq()).toBe(true);
    expect(m.inb(P + 7)).toBe(0x58);
    const id = m.readSector();
    const w = (i: number) => id[2 * i] | (id[2 * i + 1] << 8);
    expect(w(0)).toBe(0x0040);
    expect([w(1), w(3), w(6)]).toEqual([16383, 16, 63]);
    expect([w(54), w(55), w(56)]).toEqual([16383, 16, 63]);
    expect(w(57) | (w(58) << 16)).toBe(16383 * 16 * 63);
    expect(w(60) + w(61) * 65536).toBe(total);
    expect(w(100) + w(101) * 65536 + w(102) * 2 ** 32).toBe(total);
    expect(w(49) & (1 << 9)).toBeTruthy();       // LBA supported
    expect(w(83) & (1 << 10)).toBeTruthy();      // 48-bit address feature set supported
    expect(w(86) & (1 << 10)).toBeTruthy();      // ... and enabled
    expect(w(47)).toBe(0x8010);                  // READ/WRITE MULTIPLE: up to 16 sectors
    expect(w(59)).toBe(0);                       // multiple mode not set yet
    // Strings: first character in the high byte of each word.
    const str = (a: number, b: number) => { let s = ''; for (let i = a; i <= b; i++) s += String.fromCharCode(w(i) >> 8, w(i) & 0xff); return s.trimEnd(); };
    expect(str(27, 46)).toBe('VMXRAY HARDDISK');
    expect(str(10, 19)).toBe('VMX1F00');
    expect(str(23, 26)).toBe('0.1');
    // Word 255: signature A5h, all 512 bytes sum to zero.
    expect(id[510]).toBe(0xa5);
    expect(id.reduce((a, b) => a + b, 0) & 0xff).toBe(0);
    expect(m.inb(P + 7)).toBe(0x50);
  });

  it('a small disk gets at least 2 cylinders, as QEMU guesses', () => {
    const m = machine({ pm: new MemoryDisk(100) });
    m.outb(P + 7, 0xec);
    const id = m.readSector();
    expect(id[2] | (id[3] << 8)).toBe(2);
  });

  it('READ SECTORS with CHS addressing (SWEB) reads the sector the geometry names', () => {
    const m = machine();
    // cylinder 2, head 5, sector 7 -> LBA (2*16+5)*63 + 6
    const lba = (2 * 16 + 5) * 63 + 6;
    m.outb(P + 6, 0xa0 | 5);
    m.outb(P + 2, 2);
    m.outb(P + 3, 7);
    m.outb(P + 4, 2);
    m.outb(P + 5, 0);
    m.outb(P + 7, 0x20);
    expect(m.inb(P + 7)).toBe(0x58);
    expect(m.readSector()).toEqual(pattern(1, 1, lba));
    expect(m.inb(P + 7)).toBe(0x58);
    expect(m.readSector()).toEqual(pattern(1, 1, lba + 1));
    expect(m.inb(P + 7)).toBe(0x50);
    // The task file now names the next sector, in CHS: cylinder 2, head 5, sector 9.
    expect([m.inb(P + 3), m.inb(P + 4), m.inb(P + 5), m.inb(P + 6) & 0xf, m.inb(P + 2)]).toEqual([9, 2, 0, 5, 0]);
  });

  it('a CHS sector number of 0 is an ID-not-found error', () => {
    const m = machine();
    m.outb(P + 6, 0xa0); m.outb(P + 2, 1); m.outb(P + 3, 0); m.outb(P + 4, 0); m.outb(P + 5, 0);
    m.outb(P + 7, 0x20);
    expect(m.inb(P + 7)).toBe(0x41);
    expect(m.inb(P + 1)).toBe(ATA_IDNF);
  });

  it('raises IRQ 14 at every data-in sector and not after the last one', () => {
    const m = machine();
    lba28(m, 100, 3, 0x20);
    const got: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) {
      expect(m.irq()).toBe(true);
      expect(m.inb(P + 7)).toBe(0x58);   // acknowledges
      expect(m.irq()).toBe(false);
      got.push(m.readSector());
    }
    expect(m.irq()).toBe(false);
    expect(got).toEqual([pattern(1, 1, 100), pattern(1, 1, 101), pattern(1, 1, 102)]);
    expect(m.edges).toEqual([14, 14, 14]);
  });

  it('reading the status register clears the pending IRQ, reading alternate status does not', () => {
    const m = machine();
    lba28(m, 0, 1, 0x20);
    expect(m.irq()).toBe(true);
    expect(m.inb(PC)).toBe(0x58);
    expect(m.irq()).toBe(true);
    expect(m.inb(P + 7)).toBe(0x58);
    expect(m.irq()).toBe(false);
  });

  it('nIEN keeps INTRQ low; clearing nIEN lets a pending interrupt through', () => {
    const m = machine();
    m.outb(PC, 0x02);
    lba28(m, 0, 1, 0x20);
    expect(m.irq()).toBe(false);
    m.outb(PC, 0x00);
    expect(m.irq()).toBe(true);
  });

  it('32-bit PIO reads return two words at a time', () => {
    const m = machine();
    lba28(m, 7, 1, 0x20);
    const b = new Uint8Array(512);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < 128; i++) dv.setUint32(i * 4, m.inl(P), true);
    expect(b).toEqual(pattern(1, 1, 7));
    expect(m.inb(P + 7)).toBe(0x50);
  });

  it('guest writes land in the overlay and the image file is unchanged', () => {
    const d = tmpDir(); const f = path.join(d, 'disk.img');
    fs.writeFileSync(f, pattern(SECTORS, 2));
    const before = sha(f);
    const disk = openDisk(f);
    const m = machine({ pm: disk });
    lba28(m, 10, 2, 0x30);
    expect(m.inb(PC)).toBe(0x58);      // first block: DRQ, no interrupt
    expect(m.irq()).toBe(false);
    m.writeSector(new Uint8Array(512).fill(0xaa));
    expect(m.irq()).toBe(true);         // interrupt after each block
    expect(m.inb(P + 7)).toBe(0x58);
    m.writeSector(new Uint8Array(512).fill(0xbb));
    expect(m.irq()).toBe(true);
    expect(m.inb(P + 7)).toBe(0x50);
    m.outb(P + 7, 0xe7);                // FLUSH CACHE
    expect(m.inb(P + 7)).toBe(0x50);
    expect(disk.changedSectors()).toEqual([10, 11]);
    expect(disk.read(10, 1).every(b => b === 0xaa)).toBe(true);
    expect(disk.read(11, 1).every(b => b === 0xbb)).toBe(true);
    lba28(m, 11, 1, 0x20);
    expect(m.readSector().every(b => b === 0xbb)).toBe(true);
    disk.close();
    expect(sha(f)).toBe(before);
  });

  it('READ/WRITE MULTIPLE move blocks of the SET MULTIPLE MODE size, one IRQ per block', () => {
    const disk = new MemoryDisk(pattern(SECTORS, 3));
    const m = machine({ pm: disk });
    lba28(m, 0, 8, 0xc4);
    expect(m.inb(P + 7)).toBe(0x41);     // multiple mode not enabled yet: aborted
    expect(m.inb(P + 1)).toBe(ATA_ABRT);
    m.outb(P + 2, 3); m.outb(P + 7, 0xc6);
    expect(m.inb(P + 7)).toBe(0x41);     // 3 is not a power of two
    m.outb(P + 2, 4); m.outb(P + 7, 0xc6);
    expect(m.inb(P + 7)).toBe(0x50);
    m.outb(P + 7, 0xec);
    const id = m.readSector();
    expect(id[59 * 2] | (id[59 * 2 + 1] << 8)).toBe(0x0104);
    m.inb(P + 7); // acknowledge, so the next interrupt is a fresh edge
    m.edges.length = 0;
    lba28(m, 20, 6, 0xc4);               // blocks of 4 and 2 sectors
    expect(m.inb(P + 7)).toBe(0x58);
    const blk1 = [0, 1, 2, 3].map(() => m.readSector());
    expect(m.irq()).toBe(true);
    expect(m.inb(P + 7)).toBe(0x58);
    const blk2 = [0, 1].map(() => m.readSector());
    expect(m.inb(P + 7)).toBe(0x50);
    expect(m.edges).toEqual([14, 14]);
    expect([...blk1, ...blk2]).toEqual([20, 21, 22, 23, 24, 25].map(l => pattern(1, 3, l)));
    m.edges.length = 0;
    lba28(m, 40, 5, 0xc5);
    for (let i = 0; i < 5; i++) {
      if (i === 4) expect(m.inb(P + 7)).toBe(0x58);
      m.writeSector(new Uint8Array(512).fill(i + 1));
    }
    expect(m.edges).toEqual([14, 14]);
    expect(m.inb(P + 7)).toBe(0x50);
    expect([40, 41, 42, 43, 44].map(l => disk.read(l, 1)[0])).toEqual([1, 2, 3, 4, 5]);
  });

  it('READ SECTORS EXT takes a 48-bit address from the two-byte register FIFO; HOB reads the high bytes', () => {
    const total = 2 ** 34;
    const reads: number[] = [];
    const big: BlockDevice = { sectors: total, read: (l, c) => { reads.push(l); const b = new Uint8Array(c * 512); b[0] = l % 256; return b; }, write: () => {}, flush: () => {} };
    const m = machine({ pm: big });
    const lba = 2 ** 33 + 0x123456;
    m.outb(P + 6, 0x40);
    m.outb(P + 2, 0); m.outb(P + 2, 2);                        // count high, low
    m.outb(P + 3, (lba / 2 ** 24) & 0xff); m.outb(P + 3, lba & 0xff);
    m.outb(P + 4, (lba / 2 ** 32) & 0xff); m.outb(P + 4, (lba >> 8) & 0xff);
    m.outb(P + 5, (lba / 2 ** 40) & 0xff); m.outb(P + 5, (lba >> 16) & 0xff);
    m.outb(P + 7, 0x24);
    expect(m.inb(P + 7)).toBe(0x58);
    m.readSector();
    m.readSector();
    expect(reads).toEqual([lba, lba + 1]);
    expect(m.inb(P + 7)).toBe(0x50);
    // After the command the registers name the next sector; HOB selects the previous (high) bytes.
    const next = lba + 2;
    expect(m.inb(P + 3)).toBe(next & 0xff);
    m.outb(PC, 0x80);
    expect(m.inb(P + 3)).toBe((next / 2 ** 24) & 0xff);
    expect(m.inb(P + 4)).toBe(2);
    expect(m.inb(P + 2)).toBe(0);
    m.outb(P + 2, 1);                                           // a register write clears HOB
    expect(m.inb(P + 2)).toBe(1);
  });

  it('reading past the end of the disk fails with ID not found', () => {
    const m = machine({ pm: new MemoryDisk(64) });
    lba28(m, 63, 2, 0x20);
    expect(m.inb(P + 7)).toBe(0x58);  // the first sector exists
    m.readSector();
    expect(m.inb(P + 7)).toBe(0x41);
    expect(m.inb(P + 1)).toBe(ATA_IDNF);
    lba28(m, 64, 1, 0x30);
    expect(m.inb(P + 7)).toBe(0x41);
  });

  it('unknown commands and IDENTIFY PACKET DEVICE abort with status ERR|DRDY and error ABRT', () => {
    const m = machine();
    for (const cmd of [0xa1, 0x00, 0x08, 0xff]) {
      m.outb(P + 7, cmd);
      expect(m.irq()).toBe(true);
      expect(m.inb(P + 7)).toBe(0x41);
      expect(m.inb(P + 1)).toBe(ATA_ABRT);
    }
    m.outb(P + 7, 0xef);  // SET FEATURES is accepted
    expect(m.inb(P + 7)).toBe(0x50);
    expect(m.inb(P + 1)).toBe(0);
  });

  it('READ VERIFY checks the range without transferring data', () => {
    const m = machine({ pm: new MemoryDisk(64) });
    lba28(m, 10, 4, 0x40);
    expect(m.irq()).toBe(true);
    expect(m.inb(P + 7)).toBe(0x50);
    lba28(m, 62, 4, 0x40);
    expect(m.inb(P + 7)).toBe(0x41);
    expect(m.inb(P + 1)).toBe(ATA_IDNF);
  });

  it('INITIALIZE DEVICE PARAMETERS changes the CHS translation and IDENTIFY words 54-58', () => {
    const m = machine();
    m.outb(P + 2, 32); m.outb(P + 6, 0xa0 | 7); m.outb(P + 7, 0x91);   // 32 sectors, 8 heads
    expect(m.inb(P + 7)).toBe(0x50);
    m.outb(P + 7, 0xec);
    const id = m.readSector();
    const w = (i: number) => id[2 * i] | (id[2 * i + 1] << 8);
    expect([w(1), w(3), w(6)]).toEqual([4, 16, 63]);                 // defaults unchanged
    expect([w(54), w(55), w(56)]).toEqual([Math.floor(SECTORS / 256), 8, 32]);
    // C/H/S 1/2/3 with 8 heads x 32 sectors = LBA (1*8+2)*32+2
    m.outb(P + 6, 0xa0 | 2); m.outb(P + 2, 1); m.outb(P + 3, 3); m.outb(P + 4, 1); m.outb(P + 5, 0);
    m.outb(P + 7, 0x20);
    expect(m.readSector()).toEqual(pattern(1, 1, (1 * 8 + 2) * 32 + 2));
  });

  it('FLUSH CACHE flushes the block device and interrupts', () => {
    const disk = new MemoryDisk(64);
    const m = machine({ pm: disk });
    m.outb(P + 7, 0xea);
    expect(disk.flushes).toBe(1);
    expect(m.irq()).toBe(true);
    expect(m.inb(P + 7)).toBe(0x50);
  });

  it('a damaged image reaches the guest as an uncorrectable error, not an exception', () => {
    const bad: BlockDevice = { sectors: 64, name: 'bad.qcow2', read: () => { throw new DiskError('bad.qcow2', 'the L2 table is gone'); }, write: () => {}, flush: () => {} };
    const m = machine({ pm: bad });
    lba28(m, 1, 1, 0x20);
    expect(m.inb(P + 7)).toBe(0x41);
    expect(m.inb(P + 1)).toBe(ATA_UNC);
    expect(m.errors[0]).toMatch(/ide0 device 0: bad\.qcow2: the L2 table is gone/);
  });

  it('software reset loads the ATA signature and selects device 0', () => {
    const m = machine({ ps: new MemoryDisk(64) });
    m.outb(P + 6, 0xb0);
    m.outb(P + 2, 0x55); m.outb(P + 4, 0x12);
    m.outb(PC, 0x04);
    expect(m.inb(PC)).toBe(0x80);                              // BSY while SRST is held
    m.outb(PC, 0x00);
    expect(m.inb(P + 7)).toBe(0x50);
    expect([m.inb(P + 2), m.inb(P + 3), m.inb(P + 4), m.inb(P + 5), m.inb(P + 6)]).toEqual([1, 1, 0, 0, 0xa0]);
    expect(m.inb(P + 1)).toBe(0x01);                           // diagnostic code: passed
    expect(m.irq()).toBe(false);
  });

  it('an absent IDE channel floats 0xFF so probes end at once', () => {
    const m = machine();
    for (let r = 0; r < 8; r++) expect(m.inb(S + r)).toBe(0xff);
    expect(m.inb(SC)).toBe(0xff);
    expect(m.inw(S)).toBe(0xffff);
    expect(m.inl(S)).toBe(0xffffffff);
    m.outb(S + 2, 0x55);
    expect(m.inb(S + 2)).toBe(0xff);   // the register echo test fails
    m.outb(S + 7, 0xec);
    expect(m.irq(15)).toBe(false);
  });

  it('an absent slave reads status 0 (QEMU, ATA-6 9.16) while its task file echoes', () => {
    const m = machine();
    m.outb(P + 6, 0xb0);
    m.outb(P + 2, 0x55);
    expect(m.inb(P + 2)).toBe(0x55);
    expect(m.inb(P + 7)).toBe(0);
    expect(m.inb(PC)).toBe(0);
    expect(m.inb(P + 1)).toBe(0);
    m.outb(P + 7, 0xec);                // ignored
    expect(m.inb(P + 7)).toBe(0);
    expect(m.inw(P)).toBe(0);
    m.outb(P + 6, 0xa0);
    expect(m.inb(P + 7)).toBe(0x50);
  });

  it('SWEB-style detection finds exactly the attached disks with a handful of status reads', () => {
    const m = machine({ pm: new MemoryDisk(SECTORS), sm: null });
    let statusReads = 0;
    const origRead = m.bus.read.bind(m.bus);
    m.bus.read = (p, size) => { if (p === P + 7 || p === S + 7) statusReads++; return origRead(p, size); };
    const found: string[] = [];
    for (let cs = 0; cs < 4; cs++) {
      const base = cs < 2 ? P : S, ctrl = cs < 2 ? PC : SC;
      m.outb(ctrl, 0);
      m.outb(base + 6, cs % 2 ? 0xb0 : 0xa0);
      for (const [r, v] of [[2, 0x55], [3, 0xaa], [2, 0xaa], [3, 0x55], [2, 0x55], [3, 0xaa]]) m.outb(base + r, v);
      if (m.inb(base + 2) !== 0x55 || m.inb(base + 3) !== 0xaa) continue;
      m.outb(ctrl, 0x04); m.outb(ctrl, 0);
      let j = 0;
      while (!(m.inb(base + 7) & 0x58) && j++ < 600000) { /* poll */ }
      if (j >= 600000) continue;
      m.outb(base + 6, cs % 2 ? 0xb0 : 0xa0);
      const c1 = m.inb(base + 2), c2 = m.inb(base + 3);
      if (c1 !== 1 && c2 !== 1) continue;
      const c3 = m.inb(base + 7), c4 = m.inb(base + 4), c5 = m.inb(base + 5);
      if (c3 !== 0 && c4 === 0 && c5 === 0) {
        m.outb(base + 6, cs % 2 ? 0xb0 : 0xa0);
        m.outb(base + 7, 0xec);
        let k = 0;
        while (m.inb(base + 7) !== 0x58 && k++ < 600000) { /* poll */ }
        if (k < 600000) found.push(`ide${String.fromCharCode(97 + cs)}`);
        m.readSector(base);
      }
    }
    expect(found).toEqual(['idea']);
    expect(statusReads).toBeLessThan(10);
  });

  it('EXECUTE DEVICE DIAGNOSTIC reports the signature and interrupts from device 0', () => {
    const m = machine();
    m.outb(P + 6, 0xb0);
    m.outb(P + 7, 0x90);
    expect(m.inb(P + 6)).toBe(0xa0);
    expect(m.inb(P + 1)).toBe(0x01);
    expect(m.irq()).toBe(true);
    expect(m.inb(P + 7)).toBe(0x50);
  });

  it('the secondary channel uses 0x170/0x376 and IRQ 15', () => {
    const m = machine({ sm: new MemoryDisk(pattern(64, 8)) });
    lba28(m, 5, 1, 0x20, S);
    expect(m.irq(15)).toBe(true);
    expect(m.irq(14)).toBe(false);
    expect(m.inb(SC)).toBe(0x58);
    expect(m.readSector(S)).toEqual(pattern(1, 8, 5));
  });

  it('a snapshot taken mid-transfer resumes at the same word', () => {
    const m = machine();
    lba28(m, 3, 2, 0x20);
    for (let i = 0; i < 100; i++) m.inw(P);
    const snap = m.ata.save();
    const rest1 = [...Array(412)].map(() => m.inw(P));
    m.ata.restore(snap);
    const rest2 = [...Array(412)].map(() => m.inw(P));
    expect(rest2).toEqual(rest1);
    expect(m.inb(P + 7)).toBe(0x50);
  });
});
