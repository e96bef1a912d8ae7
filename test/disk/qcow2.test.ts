/**
 * qcow2 reading, checked against docs/interop/qcow2.txt with hand-built images (always) and
 * against images made by QEMU's own qemu-img/qemu-io (when installed).
 */
import { describe, it, expect, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Qcow2Image, DiskError, openDisk } from '../../src/disk/index.js';
import { buildQcow2, pattern, type ClusterSpec } from './qcow2-writer.js';
import { tmpDir, removeTmpDirs, HAS_QEMU_IMG, HAS_QEMU_IO, run } from './helpers.js';

afterAll(removeTmpDirs);

function write(dir: string, name: string, data: Uint8Array): string {
  const f = path.join(dir, name); fs.writeFileSync(f, data); return f;
}
function expectDiskError(fn: () => unknown, re: RegExp): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(DiskError);
  expect((err as Error).message).toMatch(re);
}

describe('qcow2 (hand-built images)', () => {
  for (const version of [2, 3] as const) {
    it(`v${version}: allocated clusters read their data, unallocated ones read zeros`, () => {
      const d = tmpDir();
      const cs = 4096; // cluster_bits 12 -> 8 sectors per cluster, 512 L2 entries
      const clusters = new Map<number, ClusterSpec>([
        [0, { data: pattern(8, 1, 0) }],
        [3, { data: pattern(8, 1, 24) }],
        [600, { data: pattern(8, 2, 4800) }], // second L2 table
      ]);
      const f = write(d, 'a.qcow2', buildQcow2({ version, clusterBits: 12, size: 4 << 20, clusters }));
      const q = new Qcow2Image(f);
      expect(q.sectors).toBe((4 << 20) / 512);
      expect(q.clusterSize).toBe(cs);
      expect(q.read(0, 8)).toEqual(pattern(8, 1, 0));
      expect(q.read(8, 8).every(b => b === 0)).toBe(true);
      expect(q.read(26, 3)).toEqual(pattern(3, 1, 26));
      expect(q.read(4800, 8)).toEqual(pattern(8, 2, 4800));
      // a read spanning allocated and unallocated clusters
      const span = q.read(20, 12);
      expect(span.subarray(0, 4 * 512).every(b => b === 0)).toBe(true);
      expect(span.subarray(4 * 512)).toEqual(pattern(8, 1, 24));
      q.close();
    });
  }

  it('reads through a backing file named relative to the image directory', () => {
    const d = tmpDir();
    fs.mkdirSync(path.join(d, 'sub'));
    write(d, 'sub/base.img', pattern(64, 9));
    const top = buildQcow2({
      clusterBits: 12, size: 64 * 512, backingFile: 'sub/base.img', backingFormat: 'raw',
      clusters: new Map<number, ClusterSpec>([[2, { data: pattern(8, 4, 16) }], [5, { zero: true }]]),
    });
    const f = write(d, 'top.qcow2', top);
    const cwd = process.cwd();
    process.chdir('/'); // resolution must not depend on the working directory
    try {
      const q = new Qcow2Image(f);
      expect(q.backingFile).toBe('sub/base.img');
      expect(q.read(0, 16)).toEqual(pattern(16, 9));          // from the backing file
      expect(q.read(16, 8)).toEqual(pattern(8, 4, 16));       // from the top image
      expect(q.read(40, 8).every(b => b === 0)).toBe(true);   // zero cluster hides the backing data
      expect(q.read(48, 16)).toEqual(pattern(16, 9, 48));
      q.close();
    } finally { process.chdir(cwd); }
  });

  it('reads zeros past the end of a smaller backing file', () => {
    const d = tmpDir();
    write(d, 'base.img', pattern(8, 9));
    const f = write(d, 'top.qcow2', buildQcow2({ clusterBits: 12, size: 32 * 512, backingFile: 'base.img' }));
    const q = new Qcow2Image(f);
    expect(q.read(0, 8)).toEqual(pattern(8, 9));
    expect(q.read(8, 24).every(b => b === 0)).toBe(true);
    q.close();
  });

  it('inflates compressed clusters with zlib', () => {
    const d = tmpDir();
    const data = new Uint8Array(65536).map((_, i) => (i >> 9) & 0xff);
    const f = write(d, 'c.qcow2', buildQcow2({ size: 1 << 20, clusters: new Map<number, ClusterSpec>([[1, { compressed: data }], [2, { compressed: data.map(b => b ^ 0xff) }]]) }));
    const q = new Qcow2Image(f);
    expect(q.read(128, 128)).toEqual(data);
    expect(q.read(256, 128)).toEqual(data.map(b => b ^ 0xff));
    expect(q.read(130, 1)).toEqual(data.subarray(1024, 1536));
    q.close();
  });

  it('refuses encrypted images with a clear error', () => {
    const d = tmpDir();
    const f = write(d, 'e.qcow2', buildQcow2({ size: 1 << 20, cryptMethod: 2 }));
    expectDiskError(() => new Qcow2Image(f), /e\.qcow2: encrypted qcow2 images are not supported \(crypt_method 2: LUKS\)/);
  });

  describe('malformed images fail with a DiskError naming the file and the problem', () => {
    it('truncated header', () => {
      const d = tmpDir();
      const f = write(d, 't.qcow2', buildQcow2({ size: 1 << 20 }).subarray(0, 60));
      expectDiskError(() => new Qcow2Image(f), /t\.qcow2: truncated qcow2 header/);
      const g = write(d, 't3.qcow2', buildQcow2({ size: 1 << 20 }).subarray(0, 90));
      expectDiskError(() => new Qcow2Image(g), /truncated qcow2 header.*version 3/);
    });
    it('L1 table beyond the end of the file', () => {
      const d = tmpDir();
      const f = write(d, 'l1.qcow2', buildQcow2({ size: 1 << 20, l1Offset: 1 << 30 }));
      expectDiskError(() => new Qcow2Image(f), /l1\.qcow2: the L1 table \(offset 0x40000000, 1 entries\) lies beyond the end of the file/);
    });
    it('L1 table too small for the virtual size', () => {
      const d = tmpDir();
      const f = write(d, 's.qcow2', buildQcow2({ clusterBits: 9, size: 1 << 20, l1Size: 1 }));
      expectDiskError(() => new Qcow2Image(f), /L1 table has 1 entries, but the virtual size 1048576 needs 32/);
    });
    it('cluster size out of range', () => {
      const d = tmpDir();
      for (const bits of [8, 22, 0xffffffff]) {
        const img = buildQcow2({ size: 1 << 20 });
        new DataView(img.buffer).setUint32(20, bits);
        const f = write(d, `cb${bits}.qcow2`, img);
        expectDiskError(() => new Qcow2Image(f), new RegExp(`cluster size out of range: cluster_bits is ${bits}`));
      }
    });
    it('backing file loop', () => {
      const d = tmpDir();
      write(d, 'a.qcow2', buildQcow2({ size: 1 << 20, backingFile: 'b.qcow2' }));
      write(d, 'b.qcow2', buildQcow2({ size: 1 << 20, backingFile: 'a.qcow2' }));
      expectDiskError(() => new Qcow2Image(path.join(d, 'a.qcow2')), /backing file loop: a\.qcow2 -> b\.qcow2 -> a\.qcow2/);
      write(d, 'self.qcow2', buildQcow2({ size: 1 << 20, backingFile: 'self.qcow2' }));
      expectDiskError(() => new Qcow2Image(path.join(d, 'self.qcow2')), /backing file loop: self\.qcow2 -> self\.qcow2/);
    });
    it('missing backing file', () => {
      const d = tmpDir();
      const f = write(d, 'orphan.qcow2', buildQcow2({ size: 1 << 20, backingFile: 'gone.img' }));
      expectDiskError(() => new Qcow2Image(f), /orphan\.qcow2: cannot open its backing file: .*gone\.img: no such file/);
    });
    it('L2 table beyond the end of the file (found when read)', () => {
      const d = tmpDir();
      const img = buildQcow2({ size: 1 << 20, clusters: new Map<number, ClusterSpec>([[0, { data: pattern(128, 1) }]]) });
      const dv = new DataView(img.buffer);
      dv.setUint32(65536 + 4, 0x7fff0000); // L1[0] -> far away
      const f = write(d, 'l2.qcow2', img);
      const q = new Qcow2Image(f);
      expectDiskError(() => q.read(0, 1), /l2\.qcow2: the L2 table for guest cluster 0 \(offset 0x7fff0000\) lies beyond the end of the file/);
      q.close();
    });
    it('unknown incompatible features and external data files', () => {
      const d = tmpDir();
      const f = write(d, 'f.qcow2', buildQcow2({ size: 1 << 20, incompatible: 1 << 9 }));
      expectDiskError(() => new Qcow2Image(f), /unknown incompatible qcow2 features/);
      const g = write(d, 'g.qcow2', buildQcow2({ size: 1 << 20, incompatible: 1 << 2 }));
      expectDiskError(() => new Qcow2Image(g), /external data file/);
    });
    it('a truncated data cluster is reported, not read as garbage', () => {
      const d = tmpDir();
      const img = buildQcow2({ size: 1 << 20, clusters: new Map<number, ClusterSpec>([[0, { data: pattern(128, 1) }], [1, { data: pattern(128, 2) }]]) });
      const f = write(d, 'cut.qcow2', img.subarray(0, img.length - 65536));
      const q = new Qcow2Image(f);
      expect(q.read(0, 1)).toEqual(pattern(1, 1));
      expectDiskError(() => q.read(128, 1), /data cluster .* lies beyond the end of the file .* truncated/);
      q.close();
    });
    it('no truncation or header corruption ever escapes as anything but a DiskError', () => {
      const d = tmpDir();
      fs.writeFileSync(path.join(d, 'base.img'), pattern(16, 1));
      const good = buildQcow2({
        clusterBits: 9, size: 64 * 1024, backingFile: 'base.img', backingFormat: 'raw',
        clusters: new Map<number, ClusterSpec>([[0, { data: pattern(1, 3) }], [5, { compressed: new Uint8Array(512).fill(7) }], [9, { zero: true }]]),
      });
      const f = path.join(d, 'fuzz.qcow2');
      let rng = 12345;
      const rand = (n: number) => { rng = (rng * 1103515245 + 12345) & 0x7fffffff; return rng % n; };
      const variants: Uint8Array[] = [];
      for (let len = 0; len < good.length; len += 97) variants.push(good.subarray(0, len));
      for (let i = 0; i < 300; i++) {
        const v = good.slice();
        for (let k = 0; k < 3; k++) v[rand(Math.min(v.length, 2048))] = rand(256);
        variants.push(v);
      }
      for (const v of variants) {
        fs.writeFileSync(f, v);
        try {
          const disk = openDisk(f, { format: 'qcow2' });
          for (let s = 0; s < disk.sectors; s += 7) disk.read(s, Math.min(7, disk.sectors - s));
          disk.close();
        } catch (e) {
          if (!(e instanceof DiskError)) throw new Error(`not a DiskError: ${(e as Error).stack}`);
        }
      }
    });
  });
});

describe.skipIf(!HAS_QEMU_IMG)('qcow2 made by qemu-img', () => {
  const src = pattern(2048, 0x51); // 1 MiB

  for (const [label, opts] of [
    ['v3, 64 KiB clusters', ['-o', 'compat=1.1']],
    ['v2 (compat=0.10), 512-byte clusters', ['-o', 'compat=0.10,cluster_size=512']],
    ['v3, 2 MiB clusters', ['-o', 'cluster_size=2M']],
    ['compressed', ['-c']],
    ['extended L2 entries', ['-o', 'extended_l2=on,cluster_size=128k']],
  ] as const) {
    it(`reads the same bytes as the raw source: ${label}`, () => {
      const d = tmpDir();
      const raw = write(d, 'src.img', src);
      const data = new Uint8Array(src); data.fill(0, 300 * 512, 700 * 512); fs.writeFileSync(raw, data); // a hole
      const q = path.join(d, 'out.qcow2');
      run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', ...opts, raw, q]);
      const img = new Qcow2Image(q);
      expect(img.sectors).toBe(2048);
      expect(Buffer.from(img.read(0, 2048)).equals(Buffer.from(data))).toBe(true);
      expect(img.read(1000, 3)).toEqual(data.subarray(1000 * 512, 1003 * 512));
      img.close();
    });
  }

  it.skipIf(!HAS_QEMU_IO)('reads through a backing chain with zero clusters and subclusters', () => {
    const d = tmpDir();
    write(d, 'base.img', src);
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.img', '-F', 'raw', path.join(d, 'mid.qcow2')]);
    run('qemu-io', ['-c', 'write -P 0xab 64k 64k', '-c', 'write -z 256k 64k', path.join(d, 'mid.qcow2')]);
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=64k', '-b', 'mid.qcow2', '-F', 'qcow2', path.join(d, 'top.qcow2')]);
    run('qemu-io', ['-c', 'write -P 0xcd 2k 2k', path.join(d, 'top.qcow2')]);
    const disk = openDisk(path.join(d, 'top.qcow2'));
    const all = disk.read(0, 2048);
    const expected = new Uint8Array(src);
    expected.fill(0xcd, 2048, 4096);
    expected.fill(0xab, 65536, 131072);
    expected.fill(0, 262144, 327680);
    expect(Buffer.from(all).equals(Buffer.from(expected))).toBe(true);
    const top = disk.base as Qcow2Image;
    expect(top.extendedL2).toBe(true);
    expect((top.backing as Qcow2Image).backingFormat).toBe('raw');
    disk.close();
  });

  it('refuses images qemu-img encrypted (AES and LUKS)', () => {
    const d = tmpDir();
    for (const [fmt, extra] of [['aes', ''], ['luks', ',encrypt.iter-time=10']]) {
      const f = path.join(d, `enc-${fmt}.qcow2`);
      try {
        run('qemu-img', ['create', '-q', '--object', 'secret,id=s0,data=pw', '-f', 'qcow2', '-o', `encrypt.format=${fmt},encrypt.key-secret=s0${extra}`, f, '1M']);
      } catch (e) {
        // LUKS key derivation benchmarks the CPU and can fail on a loaded machine; AES must work.
        if (fmt === 'luks' && /CPU usage/.test((e as Error).message)) continue;
        throw e;
      }
      expectDiskError(() => openDisk(f), new RegExp(`encrypted qcow2 images are not supported \\(crypt_method \\d: ${fmt.toUpperCase()}\\)`));
    }
  });
});
