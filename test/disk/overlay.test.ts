import { describe, it, expect, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openDisk, Overlay, MemoryDisk, DiskError } from '../../src/disk/index.js';
import { buildQcow2, pattern } from './qcow2-writer.js';
import { tmpDir, removeTmpDirs, sha } from './helpers.js';

afterAll(removeTmpDirs);

describe('the copy-on-write overlay', () => {
  it('keeps guest writes in the overlay and leaves the image file unchanged', () => {
    const d = tmpDir(); const f = path.join(d, 'user.img');
    fs.writeFileSync(f, pattern(32, 3));
    const before = sha(f);
    const mtime = fs.statSync(f).mtimeMs;
    const disk = openDisk(f);
    const w = new Uint8Array(1024).fill(0xee);
    disk.write(10, w);
    disk.flush();
    expect(disk.read(10, 2)).toEqual(w);
    expect(disk.read(9, 1)).toEqual(pattern(1, 3, 9));
    disk.close();
    expect(sha(f)).toBe(before);
    expect(fs.statSync(f).mtimeMs).toBe(mtime);
  });

  it('lists changed sectors and exports what the guest wrote', () => {
    const base = new MemoryDisk(pattern(8, 1));
    const o = new Overlay(base);
    o.write(5, new Uint8Array(512).fill(1));
    o.write(2, new Uint8Array(1024).fill(2));
    expect(o.changedSectors()).toEqual([2, 3, 5]);
    const ch = o.changes();
    expect([...ch.keys()]).toEqual([2, 3, 5]);
    expect(ch.get(5)!.every(b => b === 1)).toBe(true);
    const img = o.exportImage();
    expect(img.length).toBe(8 * 512);
    expect(img.subarray(2 * 512, 4 * 512).every(b => b === 2)).toBe(true);
    expect(img.subarray(0, 512)).toEqual(pattern(1, 1, 0));
    expect(base.data.subarray(5 * 512, 6 * 512)).toEqual(pattern(1, 1, 5)); // base untouched
  });

  it('writes a raw image in place when the user asks for writeThrough', () => {
    const d = tmpDir(); const f = path.join(d, 'rw.img');
    fs.writeFileSync(f, new Uint8Array(4096));
    const disk = openDisk(f, { write: true });
    disk.write(1, new Uint8Array(512).fill(0x42));
    disk.flush();
    disk.close();
    const b = fs.readFileSync(f);
    expect(b.subarray(512, 1024).every(x => x === 0x42)).toBe(true);
    expect(b.subarray(0, 512).every(x => x === 0)).toBe(true);
  });

  it('refuses to write a qcow2 image in place', () => {
    const d = tmpDir(); const f = path.join(d, 'a.qcow2');
    fs.writeFileSync(f, buildQcow2({ size: 1 << 20 }));
    expect(() => openDisk(f, { write: true })).toThrow(/qcow2 images in place is not supported/);
  });

  it('saves and restores its contents for machine snapshots', () => {
    const o = new Overlay(new MemoryDisk(4));
    o.write(0, new Uint8Array(512).fill(9));
    const s = o.save();
    o.write(0, new Uint8Array(512).fill(8));
    o.write(1, new Uint8Array(512).fill(8));
    o.restore(s);
    expect(o.read(0, 1)[0]).toBe(9);
    expect(o.read(1, 1)[0]).toBe(0);
    expect(o.changedSectors()).toEqual([0]);
  });

  it('rejects partial-sector writes and out-of-range accesses with a DiskError', () => {
    const o = new Overlay(new MemoryDisk(4));
    expect(() => o.write(0, new Uint8Array(100))).toThrow(DiskError);
    expect(() => o.write(4, new Uint8Array(512))).toThrow(DiskError);
    expect(() => o.read(3, 2)).toThrow(DiskError);
  });

  it('auto-detects qcow2 by its magic and raw otherwise', () => {
    const d = tmpDir();
    const q = path.join(d, 'x.qcow2'); const r = path.join(d, 'x.img');
    fs.writeFileSync(q, buildQcow2({ size: 1 << 20, clusters: new Map([[0, { data: pattern(128, 5) }]]) }));
    fs.writeFileSync(r, pattern(4, 6));
    const dq = openDisk(q), dr = openDisk(r);
    expect(dq.base.constructor.name).toBe('Qcow2Image');
    expect(dq.read(0, 1)).toEqual(pattern(1, 5));
    expect(dr.base.constructor.name).toBe('RawImage');
    // The user may insist on raw: then the qcow2 file's bytes are the disk.
    const asRaw = openDisk(q, { format: 'raw' });
    expect(asRaw.read(0, 1).subarray(0, 4)).toEqual(new Uint8Array([0x51, 0x46, 0x49, 0xfb]));
    expect(() => openDisk(r, { format: 'qcow2' })).toThrow(/no qcow2 magic/);
    dq.close(); dr.close(); asRaw.close();
  });
});
