import { BootError, hex } from './errors.js';

/**
 * Bounds-checked little-endian reads from a file image. A read past the end throws a BootError
 * naming the field, so a truncated or corrupt image never surfaces as a RangeError.
 */
export class ImageReader {
  readonly data: Uint8Array;
  private readonly view: DataView;
  /** What the bytes are, for messages ("the ELF header", "the multiboot2 header"). */
  readonly what: string;

  constructor(data: Uint8Array, what: string) {
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.what = what;
  }
  get length(): number { return this.data.length; }

  has(offset: number, len: number): boolean {
    return Number.isInteger(offset) && offset >= 0 && len >= 0 && offset + len <= this.data.length;
  }
  private need(offset: number, len: number, field: string): void {
    if (!this.has(offset, len)) {
      throw new BootError(`${this.what} is truncated: ${field} (${len} bytes at file offset ${hex(offset)}) lies beyond the end of the file (${this.data.length} bytes)`);
    }
  }
  u8(offset: number, field: string): number { this.need(offset, 1, field); return this.view.getUint8(offset); }
  u16(offset: number, field: string): number { this.need(offset, 2, field); return this.view.getUint16(offset, true); }
  u32(offset: number, field: string): number { this.need(offset, 4, field); return this.view.getUint32(offset, true); }
  u64(offset: number, field: string): bigint { this.need(offset, 8, field); return this.view.getBigUint64(offset, true); }
  /** u32 without a field name, for scanners that checked bounds themselves; undefined if out of range. */
  peek32(offset: number): number | undefined {
    return this.has(offset, 4) ? this.view.getUint32(offset, true) : undefined;
  }
}

/**
 * A little-endian structure being built for guest memory (boot information). Offsets are
 * relative to the start of the block; the block is copied to guest RAM in one write.
 */
export class BlockWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(off: number, v: number): void { this.view.setUint8(off, v); }
  u16(off: number, v: number): void { this.view.setUint16(off, v, true); }
  u32(off: number, v: number): void { this.view.setUint32(off, v >>> 0, true); }
  /** A 64-bit field from a non-negative Number (exact below 2^53, which covers physical addresses). */
  u64(off: number, v: number): void {
    this.view.setUint32(off, v % 2 ** 32, true);
    this.view.setUint32(off + 4, Math.floor(v / 2 ** 32), true);
  }
  bytesAt(off: number, data: Uint8Array): void { this.bytes.set(data, off); }
}

const encoder = new TextEncoder();

/** A string as the NUL-terminated UTF-8 bytes a C kernel reads; `what` names it for errors. */
export function cString(s: string, what: string): Uint8Array {
  if (s.includes('\0')) throw new BootError(`${what} contains a NUL character, which would cut it short for the kernel: ${JSON.stringify(s)}`);
  const b = encoder.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

export function alignUp(n: number, a: number): number { return Math.ceil(n / a) * a; }
