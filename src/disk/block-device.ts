/**
 * What a disk controller (src/devices/ata.ts) sees of a disk: an array of 512-byte sectors.
 * Implementations: RawImage (a plain file), Qcow2Image (read-only qcow2 v2/v3), Overlay
 * (copy-on-write in memory, the default for every image a user gives, so that a guest never
 * modifies a user's file unless asked — DESIGN.md, "Bad input"), MemoryDisk (tests, ramdisks).
 *
 * Addresses are Numbers: 2^53 bytes is far beyond any disk image vmxray will see.
 */
export const SECTOR_SIZE = 512;

export interface BlockDevice {
  /** Number of 512-byte sectors. */
  readonly sectors: number;
  /** Read `count` sectors starting at `lba`; returns count*512 bytes. Throws DiskError out of range. */
  read(lba: number, count: number): Uint8Array;
  /** Write whole sectors (data.length a multiple of 512) starting at `lba`. */
  write(lba: number, data: Uint8Array): void;
  /** Make previous writes durable (fsync for files opened for writing; nothing otherwise). */
  flush(): void;
  /** Where the data comes from (a path), for messages. */
  readonly name?: string;
  /** Things the user should be told about this image (padding, dirty bits, ...). */
  readonly warnings?: readonly string[];
  /** Release the file handle(s). */
  close?(): void;
}

/** A disk image problem, always naming the file and the problem. Never a RangeError. */
export class DiskError extends Error {
  readonly path: string;
  readonly problem: string;
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'DiskError';
    this.path = path;
    this.problem = problem;
  }
}

/** Throws a DiskError unless [lba, lba+count) lies inside the device. */
export function checkRange(dev: { sectors: number; name?: string }, lba: number, count: number): void {
  if (!Number.isInteger(lba) || !Number.isInteger(count) || lba < 0 || count < 0 || lba + count > dev.sectors) {
    throw new DiskError(dev.name ?? 'disk', `access to sectors ${lba}..${lba + count - 1} is outside the disk (${dev.sectors} sectors)`);
  }
}

export function checkWriteData(dev: { name?: string }, data: Uint8Array): number {
  if (data.length % SECTOR_SIZE !== 0) {
    throw new DiskError(dev.name ?? 'disk', `write of ${data.length} bytes is not a whole number of 512-byte sectors`);
  }
  return data.length / SECTOR_SIZE;
}

/** A disk held entirely in memory (tests, scratch disks). */
export class MemoryDisk implements BlockDevice {
  readonly sectors: number;
  readonly name: string;
  readonly data: Uint8Array;
  flushes = 0;

  constructor(sectorsOrData: number | Uint8Array, name = 'memory disk') {
    this.name = name;
    if (typeof sectorsOrData === 'number') {
      this.data = new Uint8Array(sectorsOrData * SECTOR_SIZE);
    } else {
      const n = Math.ceil(sectorsOrData.length / SECTOR_SIZE);
      this.data = new Uint8Array(n * SECTOR_SIZE);
      this.data.set(sectorsOrData);
    }
    this.sectors = this.data.length / SECTOR_SIZE;
  }
  read(lba: number, count: number): Uint8Array {
    checkRange(this, lba, count);
    return this.data.slice(lba * SECTOR_SIZE, (lba + count) * SECTOR_SIZE);
  }
  write(lba: number, data: Uint8Array): void {
    const n = checkWriteData(this, data);
    checkRange(this, lba, n);
    this.data.set(data, lba * SECTOR_SIZE);
  }
  flush(): void { this.flushes++; }
}
