/**
 * A raw disk image: the file's bytes are the disk's bytes. Opened read-only unless the user
 * asks for writes (`write: true`): vmxray never modifies a user's image by default.
 *
 * A file whose size is not a multiple of 512 bytes gets a last, partial sector whose missing
 * bytes read as zeros (as QEMU, which rounds the sector count up); `warnings` says so, and
 * writes to those padding bytes are dropped so the file never grows.
 */
import * as fs from 'node:fs';
import { SECTOR_SIZE, DiskError, checkRange, checkWriteData, type BlockDevice } from './block-device.js';
import { openFileOrThrow } from './file.js';

export interface RawOpenOptions { write?: boolean }

export class RawImage implements BlockDevice {
  readonly name: string;
  readonly sectors: number;
  /** Size of the file in bytes. */
  readonly byteSize: number;
  readonly writable: boolean;
  readonly warnings: string[] = [];
  private fd: number;

  constructor(path: string, opts: RawOpenOptions = {}) {
    this.name = path;
    this.writable = !!opts.write;
    const { fd, size } = openFileOrThrow(path, this.writable);
    this.fd = fd;
    this.byteSize = size;
    this.sectors = Math.ceil(size / SECTOR_SIZE);
    if (size % SECTOR_SIZE !== 0) {
      const pad = SECTOR_SIZE - (size % SECTOR_SIZE);
      this.warnings.push(`size ${size} is not a multiple of 512 bytes: the last sector is padded with ${pad} zero bytes` +
        (this.writable ? ' (writes to the padding are dropped; the file keeps its size)' : ''));
    }
    if (size === 0) this.warnings.push('the image is empty (0 sectors)');
  }

  read(lba: number, count: number): Uint8Array {
    checkRange(this, lba, count);
    const out = new Uint8Array(count * SECTOR_SIZE);
    const pos = lba * SECTOR_SIZE;
    const want = Math.min(out.length, this.byteSize - pos);
    readFully(this.fd, this.name, out, want, pos);
    return out;
  }

  write(lba: number, data: Uint8Array): void {
    const n = checkWriteData(this, data);
    if (!this.writable) throw new DiskError(this.name, 'the image is opened read-only (guest writes belong in an overlay)');
    checkRange(this, lba, n);
    const pos = lba * SECTOR_SIZE;
    const len = Math.min(data.length, this.byteSize - pos);
    let done = 0;
    while (done < len) {
      const w = fs.writeSync(this.fd, data, done, len - done, pos + done);
      if (w <= 0) throw new DiskError(this.name, `short write at byte ${pos + done}`);
      done += w;
    }
  }

  flush(): void {
    if (this.writable && this.fd >= 0) fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) { fs.closeSync(this.fd); this.fd = -1; }
  }
}

/** Read `len` bytes at `pos` into `out` (from its start); bytes past the end of the file stay as they are. */
export function readFully(fd: number, path: string, out: Uint8Array, len: number, pos: number): number {
  let done = 0;
  while (done < len) {
    let r: number;
    try {
      r = fs.readSync(fd, out, done, len - done, pos + done);
    } catch (e) {
      throw new DiskError(path, `read error at byte ${pos + done}: ${(e as Error).message}`);
    }
    if (r <= 0) break;
    done += r;
  }
  return done;
}
