import { describe, it, expect, afterEach, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RawImage, DiskError } from '../../src/disk/index.js';
import { pattern } from './qcow2-writer.js';
import { tmpDir, removeTmpDirs, sha } from './helpers.js';

afterAll(removeTmpDirs);

const opened: RawImage[] = [];
afterEach(() => { while (opened.length) opened.pop()!.close(); });
function open(p: string, write = false): RawImage { const r = new RawImage(p, { write }); opened.push(r); return r; }

describe('raw images', () => {
  it('read back the file bytes sector by sector', () => {
    const d = tmpDir(); const f = path.join(d, 'a.img');
    const data = pattern(16, 7);
    fs.writeFileSync(f, data);
    const r = open(f);
    expect(r.sectors).toBe(16);
    expect(r.read(0, 16)).toEqual(data);
    expect(r.read(5, 2)).toEqual(data.subarray(5 * 512, 7 * 512));
    expect(r.warnings).toEqual([]);
  });

  it('pad a size that is not a multiple of 512 with zeros and say so', () => {
    const d = tmpDir(); const f = path.join(d, 'odd.img');
    fs.writeFileSync(f, new Uint8Array(1000).fill(0xaa));
    const r = open(f);
    expect(r.sectors).toBe(2);
    const s1 = r.read(1, 1);
    expect(s1.subarray(0, 488).every(b => b === 0xaa)).toBe(true);
    expect(s1.subarray(488).every(b => b === 0)).toBe(true);
    expect(r.warnings.join()).toMatch(/not a multiple of 512.*padded with 24 zero bytes/);
  });

  it('are opened read-only: a write is refused and the file is unchanged', () => {
    const d = tmpDir(); const f = path.join(d, 'ro.img');
    fs.writeFileSync(f, pattern(4, 1));
    const before = sha(f);
    const r = open(f);
    expect(() => r.write(0, new Uint8Array(512))).toThrow(DiskError);
    expect(() => r.write(0, new Uint8Array(512))).toThrow(/read-only/);
    expect(sha(f)).toBe(before);
  });

  it('are written in place only when opened for writing, and never grow', () => {
    const d = tmpDir(); const f = path.join(d, 'rw.img');
    fs.writeFileSync(f, new Uint8Array(700));
    const r = open(f, true);
    r.write(1, new Uint8Array(512).fill(0x55));
    r.flush();
    const bytes = fs.readFileSync(f);
    expect(bytes.length).toBe(700);
    expect(bytes.subarray(512).every(b => b === 0x55)).toBe(true);
  });

  it('report out-of-range reads as a DiskError, never a RangeError', () => {
    const d = tmpDir(); const f = path.join(d, 'small.img');
    fs.writeFileSync(f, new Uint8Array(2048));
    const r = open(f);
    expect(() => r.read(3, 2)).toThrow(DiskError);
    expect(() => r.read(-1, 1)).toThrow(/outside the disk/);
  });

  it('name the file when it does not exist or is a directory', () => {
    const d = tmpDir();
    expect(() => new RawImage(path.join(d, 'nope.img'))).toThrow(/nope\.img: no such file/);
    expect(() => new RawImage(d)).toThrow(/is a directory/);
  });
});
