/**
 * Reading qcow2 images, versions 2 and 3, as QEMU's docs/interop/qcow2.txt describes them:
 * header and header extensions, the two-level L1/L2 cluster map (standard and extended L2
 * entries with subclusters), zero clusters, zlib-compressed clusters (raw deflate, inflated
 * with node:zlib), and backing files (resolved relative to the image's directory, as QEMU
 * does; their format from the backing-format header extension or probed).
 *
 * Refcounts and internal snapshots are not needed for reading and are not looked at.
 * The image is never written: a guest's writes go to an Overlay (src/disk/overlay.ts).
 * Malformed images fail with a DiskError that names the file and the problem.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import * as zlib from 'node:zlib';
import { SECTOR_SIZE, DiskError, checkRange, type BlockDevice } from './block-device.js';
import { openFileOrThrow } from './file.js';
import { readFully, RawImage } from './raw.js';
import { QCOW_MAGIC, probeFormat } from './format.js';

/** "Must not be less than 9"; QEMU's implementation limit is 2 MB clusters (cluster_bits 21). */
const MIN_CLUSTER_BITS = 9;
const MAX_CLUSTER_BITS = 21;
/** QEMU's implementation limit on the L1 table (qcow2.txt, "size" note). */
const MAX_L1_BYTES = 32 * 1024 * 1024;
const MAX_BACKING_DEPTH = 32;
const L2_CACHE_TABLES = 64;

/** Header extension types (qcow2.txt, "Header extensions"). */
const EXT_END = 0x00000000;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_FEATURE_NAMES = 0x6803f857;

/** incompatible_features bits (qcow2.txt, Header bytes 72-79). */
const INCOMPAT_DIRTY = 1 << 0;
const INCOMPAT_CORRUPT = 1 << 1;
const INCOMPAT_DATA_FILE = 1 << 2;
const INCOMPAT_COMPRESSION = 1 << 3;
const INCOMPAT_EXTL2 = 1 << 4;
const INCOMPAT_KNOWN = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;

export interface Qcow2OpenOptions {
  /** Real paths of the images that lead to this one (backing-file loop detection). */
  chain?: string[];
}

type Mapping =
  | { kind: 'data'; host: number }
  | { kind: 'zero' }
  | { kind: 'unallocated' }
  | { kind: 'compressed'; host: number; size: number };

export class Qcow2Image implements BlockDevice {
  readonly name: string;
  readonly version: number;
  readonly clusterBits: number;
  readonly clusterSize: number;
  /** Virtual disk size in bytes (header bytes 24-31). */
  readonly virtualSize: number;
  readonly sectors: number;
  readonly extendedL2: boolean;
  /** 0 = zlib, 1 = zstd (header byte 104). */
  readonly compressionType: number;
  readonly backingFile: string | null = null;
  readonly backingFormat: string | null = null;
  readonly backing: BlockDevice | null = null;
  readonly warnings: string[] = [];

  private fd: number;
  private readonly fileSize: number;
  private readonly l1: Uint32Array; // [hi, lo] pairs
  private readonly l2Entries: number;
  private readonly l2EntryBytes: number;
  private readonly l2Cache = new Map<number, DataView>();
  private lastCompressed: { host: number; data: Uint8Array } | null = null;

  constructor(path: string, opts: Qcow2OpenOptions = {}) {
    this.name = path;
    const { fd, size } = openFileOrThrow(path, false);
    this.fd = fd;
    this.fileSize = size;
    try {
      // ---- header (qcow2.txt, "Header") ----
      if (size < 72) this.fail(`truncated qcow2 header: the file has ${size} bytes, a qcow2 header needs at least 72`);
      const h = this.readAt(0, Math.min(size, 4096), 'header');
      const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
      if (dv.getUint32(0) !== QCOW_MAGIC) this.fail('is not a qcow2 image (no "QFI\\xfb" magic)');
      this.version = dv.getUint32(4);
      if (this.version !== 2 && this.version !== 3) this.fail(`qcow2 version ${this.version} is not supported (only 2 and 3)`);
      const backingOffset = this.u64(dv, 8, 'backing_file_offset');
      const backingSize = dv.getUint32(16);
      this.clusterBits = dv.getUint32(20);
      if (this.clusterBits < MIN_CLUSTER_BITS || this.clusterBits > MAX_CLUSTER_BITS) {
        this.fail(`cluster size out of range: cluster_bits is ${this.clusterBits}, must be ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS} (512 bytes to 2 MiB)`);
      }
      this.clusterSize = 2 ** this.clusterBits;
      this.virtualSize = this.u64(dv, 24, 'size');
      const crypt = dv.getUint32(32);
      if (crypt !== 0) {
        this.fail(`encrypted qcow2 images are not supported (crypt_method ${crypt}: ${crypt === 1 ? 'AES' : crypt === 2 ? 'LUKS' : 'unknown'}); decrypt it first with qemu-img convert`);
      }
      const l1Size = dv.getUint32(36);
      const l1Offset = this.u64(dv, 40, 'l1_table_offset');

      let headerLength = 72;
      let incompat = 0;
      let compressionType = 0;
      if (this.version === 3) {
        if (size < 104) this.fail(`truncated qcow2 header: the file has ${size} bytes, a version 3 header needs at least 104`);
        const incompatHi = dv.getUint32(72);
        incompat = dv.getUint32(76);
        headerLength = dv.getUint32(100);
        if (headerLength < 104 || headerLength % 8 !== 0) this.fail(`header_length ${headerLength} is invalid (at least 104 and a multiple of 8)`);
        if (headerLength > Math.min(size, this.clusterSize)) this.fail(`truncated qcow2 header: header_length ${headerLength} exceeds the file or the first cluster`);
        if (headerLength > 104) compressionType = dv.getUint8(104);
        const unknown = (incompat & ~INCOMPAT_KNOWN) >>> 0;
        if (unknown !== 0 || incompatHi !== 0) {
          this.fail(`unknown incompatible qcow2 features are set (bits 0x${incompatHi.toString(16)}${unknown.toString(16).padStart(8, '0')}); this image needs a newer reader`);
        }
        if (incompat & INCOMPAT_DATA_FILE) this.fail('qcow2 images with an external data file are not supported');
        if (incompat & INCOMPAT_COMPRESSION) {
          if (compressionType === 0) this.fail('the compression-type feature bit is set but compression_type is 0');
        } else if (compressionType !== 0) {
          this.fail(`compression_type is ${compressionType} but the compression-type feature bit is clear`);
        }
        if (compressionType > 1) this.fail(`unknown compression type ${compressionType}`);
        if (incompat & INCOMPAT_DIRTY) this.warnings.push('the dirty bit is set (QEMU did not close it cleanly); refcounts may be stale, which does not affect reading');
        if (incompat & INCOMPAT_CORRUPT) this.warnings.push('the image is marked corrupt by QEMU; reading it anyway (it is never written)');
      }
      this.compressionType = compressionType;
      this.extendedL2 = (incompat & INCOMPAT_EXTL2) !== 0;
      if (this.extendedL2 && this.clusterBits < 14) this.fail(`extended L2 entries need clusters of at least 16 KiB, cluster_bits is ${this.clusterBits}`);
      this.l2EntryBytes = this.extendedL2 ? 16 : 8;
      this.l2Entries = this.clusterSize / this.l2EntryBytes;

      // ---- header extensions (directly after the header, inside the first cluster) ----
      let extOff = headerLength;
      const extLimit = Math.min(size, this.clusterSize);
      const extBuf = extLimit > h.length ? this.readAt(0, extLimit, 'header extensions') : h;
      const edv = new DataView(extBuf.buffer, extBuf.byteOffset, extBuf.byteLength);
      while (extOff + 8 <= extLimit) {
        const type = edv.getUint32(extOff);
        const len = edv.getUint32(extOff + 4);
        if (type === EXT_END) break;
        if (extOff + 8 + len > extLimit) this.fail(`header extension 0x${type.toString(16)} at byte ${extOff} (length ${len}) runs past the first cluster or the end of the file`);
        const data = extBuf.subarray(extOff + 8, extOff + 8 + len);
        if (type === EXT_BACKING_FORMAT) this.backingFormat = Buffer.from(data).toString('latin1');
        else if (type === EXT_FEATURE_NAMES) { /* names only matter for unknown features, which we refuse above */ }
        extOff += 8 + Math.ceil(len / 8) * 8;
      }

      // ---- L1 table (qcow2.txt, "Cluster mapping") ----
      const bytesPerL2 = this.clusterSize * this.l2Entries;
      const needed = Math.ceil(this.virtualSize / bytesPerL2);
      if (l1Size < needed) this.fail(`the L1 table has ${l1Size} entries, but the virtual size ${this.virtualSize} needs ${needed}`);
      if (l1Size * 8 > MAX_L1_BYTES) this.fail(`the L1 table has ${l1Size} entries, more than the 32 MiB limit`);
      if (l1Size > 0) {
        if (l1Offset % this.clusterSize !== 0) this.fail(`the L1 table offset 0x${l1Offset.toString(16)} is not aligned to a cluster boundary`);
        if (l1Offset + l1Size * 8 > size) {
          this.fail(`the L1 table (offset 0x${l1Offset.toString(16)}, ${l1Size} entries) lies beyond the end of the file (${size} bytes): the image is truncated or damaged`);
        }
      }
      const l1Bytes = l1Size > 0 ? this.readAt(l1Offset, l1Size * 8, 'L1 table') : new Uint8Array(0);
      const l1dv = new DataView(l1Bytes.buffer, l1Bytes.byteOffset, l1Bytes.byteLength);
      this.l1 = new Uint32Array(l1Size * 2);
      for (let i = 0; i < l1Size * 2; i++) this.l1[i] = l1dv.getUint32(i * 4);

      this.sectors = Math.ceil(this.virtualSize / SECTOR_SIZE);
      if (this.virtualSize % SECTOR_SIZE !== 0) this.warnings.push(`virtual size ${this.virtualSize} is not a multiple of 512 bytes: the last sector is padded with zeros`);

      // ---- backing file ----
      if (backingOffset !== 0) {
        if (backingSize === 0 || backingSize > 1023) this.fail(`backing file name length ${backingSize} is invalid (1..1023 bytes)`);
        if (backingOffset + backingSize > size) this.fail(`the backing file name (offset ${backingOffset}, ${backingSize} bytes) lies beyond the end of the file`);
        const nameBytes = this.readAt(backingOffset, backingSize, 'backing file name');
        const bname = Buffer.from(nameBytes).toString('utf8');
        this.backingFile = bname;
        this.backing = this.openBacking(bname, opts.chain ?? []);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  read(lba: number, count: number): Uint8Array {
    checkRange(this, lba, count);
    const out = new Uint8Array(count * SECTOR_SIZE);
    let pos = lba * SECTOR_SIZE;
    const end = Math.min((lba + count) * SECTOR_SIZE, this.virtualSize);
    const cs = this.clusterSize;
    while (pos < end) {
      const vcluster = Math.floor(pos / cs);
      const inCluster = pos - vcluster * cs;
      let n = Math.min(end - pos, cs - inCluster);
      const dst = pos - lba * SECTOR_SIZE;
      const m = this.lookup(vcluster, inCluster);
      if (m.limit !== undefined) n = Math.min(n, m.limit);
      const map = m.map;
      switch (map.kind) {
        case 'data': this.readData(map.host + inCluster, out, dst, n, pos); break;
        case 'zero': break;
        case 'unallocated': this.readBacking(pos, n, out, dst); break;
        case 'compressed': out.set(this.decompress(map.host, map.size, pos).subarray(inCluster, inCluster + n), dst); break;
      }
      pos += n;
    }
    return out;
  }

  write(): void {
    throw new DiskError(this.name, 'qcow2 images are read-only in vmxray: guest writes go to the in-memory overlay (writing qcow2 in place is not supported)');
  }

  flush(): void { /* nothing is ever written */ }

  close(): void {
    if (this.fd >= 0) { fs.closeSync(this.fd); this.fd = -1; }
    this.backing?.close?.();
  }

  // ---------------------------------------------------------------------------------------

  private fail(problem: string): never {
    throw new DiskError(this.name, problem);
  }

  private u64(dv: DataView, off: number, field: string): number {
    const hi = dv.getUint32(off), lo = dv.getUint32(off + 4);
    if (hi >= 0x200000) this.fail(`${field} (0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')}) is too large`);
    return hi * 2 ** 32 + lo;
  }

  private readAt(off: number, len: number, what: string): Uint8Array {
    if (off + len > this.fileSize) this.fail(`the ${what} (offset 0x${off.toString(16)}, ${len} bytes) lies beyond the end of the file (${this.fileSize} bytes)`);
    const b = new Uint8Array(len);
    const got = readFully(this.fd, this.name, b, len, off);
    if (got < len) this.fail(`short read of the ${what} at offset 0x${off.toString(16)}`);
    return b;
  }

  /** Data cluster bytes; a cluster whose tail lies past the end of the file reads zeros there (as QEMU). */
  private readData(host: number, out: Uint8Array, dst: number, n: number, guest: number): void {
    if (host >= this.fileSize) {
      this.fail(`the data cluster for guest offset 0x${guest.toString(16)} (host offset 0x${host.toString(16)}) lies beyond the end of the file (${this.fileSize} bytes): the image is truncated`);
    }
    const want = Math.min(n, this.fileSize - host);
    readFully(this.fd, this.name, out.subarray(dst, dst + n), want, host);
  }

  private readBacking(pos: number, n: number, out: Uint8Array, dst: number): void {
    const b = this.backing;
    if (!b) return; // zeros
    const first = pos / SECTOR_SIZE;
    const count = n / SECTOR_SIZE;
    const avail = Math.min(count, b.sectors - first);
    if (avail <= 0) return; // beyond a smaller backing file: zeros
    out.set(b.read(first, avail), dst);
  }

  private l2Table(offset: number, vcluster: number): DataView {
    const cached = this.l2Cache.get(offset);
    if (cached) {
      this.l2Cache.delete(offset); this.l2Cache.set(offset, cached); // LRU
      return cached;
    }
    if (offset % this.clusterSize !== 0) this.fail(`the L2 table for guest cluster ${vcluster} has an unaligned offset 0x${offset.toString(16)}`);
    if (offset + this.clusterSize > this.fileSize) {
      this.fail(`the L2 table for guest cluster ${vcluster} (offset 0x${offset.toString(16)}) lies beyond the end of the file (${this.fileSize} bytes): the image is truncated or damaged`);
    }
    const b = this.readAt(offset, this.clusterSize, 'L2 table');
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.l2Cache.set(offset, dv);
    if (this.l2Cache.size > L2_CACHE_TABLES) this.l2Cache.delete(this.l2Cache.keys().next().value!);
    return dv;
  }

  /**
   * Where guest cluster `vcluster` lives. With extended L2 entries the answer holds for one
   * subcluster; `limit` then says how many bytes from `inCluster` it covers.
   */
  private lookup(vcluster: number, inCluster: number): { map: Mapping; limit?: number } {
    const l1Index = Math.floor(vcluster / this.l2Entries);
    const l2Index = vcluster - l1Index * this.l2Entries;
    if (l1Index >= this.l1.length / 2) return { map: { kind: 'unallocated' } };
    const l1hi = this.l1[l1Index * 2], l1lo = this.l1[l1Index * 2 + 1];
    const l2Offset = (l1hi & 0x00ffffff) * 2 ** 32 + ((l1lo & 0xfffffe00) >>> 0);
    if (l2Offset === 0) return { map: { kind: 'unallocated' } };
    const l2 = this.l2Table(l2Offset, vcluster);
    const e = l2Index * this.l2EntryBytes;
    const hi = l2.getUint32(e), lo = l2.getUint32(e + 4);

    if (hi & 0x40000000) { // bit 62: compressed cluster descriptor
      const x = 62 - (this.clusterBits - 8);
      const desc = (BigInt(hi & 0x3fffffff) << 32n) | BigInt(lo >>> 0);
      const host = Number(desc & ((1n << BigInt(x)) - 1n));
      const extra = Number(desc >> BigInt(x));
      const size = (extra + 1) * SECTOR_SIZE - (host % SECTOR_SIZE);
      return { map: { kind: 'compressed', host, size } };
    }
    const host = (hi & 0x00ffffff) * 2 ** 32 + ((lo & 0xfffffe00) >>> 0);
    if (host % this.clusterSize !== 0) {
      this.fail(`the data cluster for guest offset 0x${(vcluster * this.clusterSize).toString(16)} has an unaligned host offset 0x${host.toString(16)}`);
    }

    if (this.extendedL2) {
      const zeroBits = l2.getUint32(e + 8) >>> 0; // bits 63..32: subcluster reads as zeros
      const allocBits = l2.getUint32(e + 12) >>> 0; // bits 31..0: subcluster allocated
      const sub = this.clusterSize / 32;
      const i = Math.floor(inCluster / sub);
      const limit = (i + 1) * sub - inCluster;
      if ((allocBits >>> i) & 1) {
        if (host === 0) this.fail(`subcluster ${i} of guest cluster ${vcluster} is marked allocated but has no host offset`);
        return { map: { kind: 'data', host }, limit };
      }
      if ((zeroBits >>> i) & 1) return { map: { kind: 'zero' }, limit };
      return { map: { kind: 'unallocated' }, limit };
    }

    if (this.version >= 3 && (lo & 1)) return { map: { kind: 'zero' } }; // bit 0: reads as zeros
    if (host === 0) return { map: { kind: 'unallocated' } };
    return { map: { kind: 'data', host } };
  }

  private decompress(host: number, size: number, guest: number): Uint8Array {
    if (this.lastCompressed && this.lastCompressed.host === host) return this.lastCompressed.data;
    if (host >= this.fileSize) {
      this.fail(`the compressed cluster for guest offset 0x${guest.toString(16)} (host offset 0x${host.toString(16)}) lies beyond the end of the file`);
    }
    const len = Math.min(size, this.fileSize - host);
    const input = new Uint8Array(len);
    readFully(this.fd, this.name, input, len, host);
    let data: Uint8Array;
    try {
      if (this.compressionType === 0) {
        // Raw deflate (QEMU uses a -12 window); stopping once a cluster is produced is enough.
        data = zlib.inflateRawSync(input, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      } else {
        const zstd = (zlib as unknown as { zstdDecompressSync?: (b: Uint8Array) => Buffer }).zstdDecompressSync;
        if (!zstd) this.fail('zstd-compressed qcow2 clusters are not supported by this Node.js (no zlib.zstdDecompressSync); convert the image: qemu-img convert -O qcow2 -o compression_type=zlib');
        data = zstd(input);
      }
    } catch (e) {
      if (e instanceof DiskError) throw e;
      this.fail(`the compressed cluster at host offset 0x${host.toString(16)} cannot be decompressed: ${(e as Error).message}`);
    }
    if (data.length < this.clusterSize) {
      this.fail(`the compressed cluster at host offset 0x${host.toString(16)} decompresses to ${data.length} bytes, expected ${this.clusterSize}`);
    }
    const cluster = data.subarray(0, this.clusterSize);
    this.lastCompressed = { host, data: cluster };
    return cluster;
  }

  private openBacking(bname: string, chain: string[]): BlockDevice {
    if (/^[a-z][a-z0-9+.-]*:/i.test(bname) && !/^[a-z]:[\\/]/i.test(bname)) {
      if (bname.startsWith('json:')) this.fail(`backing file "${bname}" uses a json: specification, which is not supported`);
      if (!bname.startsWith('file:')) this.fail(`backing file "${bname}" uses a protocol (${bname.split(':')[0]}:), which is not supported`);
      bname = bname.slice(5);
    }
    const resolved = nodePath.isAbsolute(bname) ? bname : nodePath.resolve(nodePath.dirname(this.name), bname);
    const me = realpathOr(this.name);
    const here = [...chain, me];
    const target = realpathOr(resolved);
    if (here.includes(target)) {
      this.fail(`backing file loop: ${[...here, target].map(p => nodePath.basename(p)).join(' -> ')}`);
    }
    if (here.length >= MAX_BACKING_DEPTH) this.fail(`backing chain is deeper than ${MAX_BACKING_DEPTH} images`);
    let fmt = this.backingFormat;
    try {
      if (fmt === null) fmt = probeFormat(resolved);
      if (fmt === 'raw') return new RawImage(resolved);
      if (fmt === 'qcow2') return new Qcow2Image(resolved, { chain: here });
    } catch (e) {
      if (e instanceof DiskError) throw new DiskError(this.name, `cannot open its backing file: ${e.message}`);
      throw e;
    }
    this.fail(`backing file ${resolved} has format "${fmt}", which is not supported (raw and qcow2 are)`);
  }
}

function realpathOr(p: string): string {
  try { return fs.realpathSync(p); } catch { return nodePath.resolve(p); }
}
