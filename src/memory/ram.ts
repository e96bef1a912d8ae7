/**
 * Guest physical RAM, allocated lazily in 1 MiB chunks (DESIGN.md: kvm-unit-tests ask for
 * 2.5 GiB, SWEB for 8–128 MiB). Addresses are Numbers (physical addresses fit in 52 bits).
 * A chunk that was never written reads as zeros without being allocated.
 */
export const CHUNK_SHIFT = 20;
export const CHUNK_SIZE = 1 << CHUNK_SHIFT;
const ZERO_CHUNK = new Uint8Array(CHUNK_SIZE);

export class Ram {
  readonly size: number;
  private readonly chunks: (Uint8Array | undefined)[];
  private readonly views: (DataView | undefined)[];

  constructor(sizeBytes: number) {
    if (!Number.isInteger(sizeBytes) || sizeBytes <= 0) throw new Error(`RAM size must be a positive integer number of bytes, got ${sizeBytes}`);
    this.size = sizeBytes;
    const n = Math.ceil(sizeBytes / CHUNK_SIZE);
    this.chunks = new Array(n).fill(undefined);
    this.views = new Array(n).fill(undefined);
  }

  /** The chunk holding `pa` (allocating it); `pa` must be < size. */
  chunk(pa: number): Uint8Array {
    const i = Math.floor(pa / CHUNK_SIZE);
    let c = this.chunks[i];
    if (c === undefined) {
      c = new Uint8Array(CHUNK_SIZE);
      this.chunks[i] = c;
      this.views[i] = new DataView(c.buffer);
    }
    return c;
  }
  view(pa: number): DataView {
    this.chunk(pa);
    return this.views[Math.floor(pa / CHUNK_SIZE)]!;
  }
  /** Read-only view of the chunk (a shared zero chunk if never written). */
  peekChunk(pa: number): Uint8Array {
    return this.chunks[Math.floor(pa / CHUNK_SIZE)] ?? ZERO_CHUNK;
  }
  isAllocated(pa: number): boolean {
    return this.chunks[Math.floor(pa / CHUNK_SIZE)] !== undefined;
  }
  contains(pa: number, len = 1): boolean {
    return pa >= 0 && pa + len <= this.size;
  }

  read8(pa: number): number { return this.peekChunk(pa)[pa & (CHUNK_SIZE - 1)]; }
  write8(pa: number, v: number): void { this.chunk(pa)[pa & (CHUNK_SIZE - 1)] = v; }

  /** Copy guest bytes out (crossing chunks as needed). */
  readBytes(pa: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const off = a & (CHUNK_SIZE - 1);
      const n = Math.min(len - done, CHUNK_SIZE - off);
      out.set(this.peekChunk(a).subarray(off, off + n), done);
      done += n;
    }
    return out;
  }
  writeBytes(pa: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const a = pa + done;
      const off = a & (CHUNK_SIZE - 1);
      const n = Math.min(data.length - done, CHUNK_SIZE - off);
      this.chunk(a).set(data.subarray(done, done + n), off);
      done += n;
    }
  }
  fill(pa: number, len: number, value: number): void {
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const off = a & (CHUNK_SIZE - 1);
      const n = Math.min(len - done, CHUNK_SIZE - off);
      if (value !== 0 || this.isAllocated(a)) this.chunk(a).fill(value, off, off + n);
      done += n;
    }
  }

  /** Snapshot support: the allocated chunks only. */
  save(): { size: number; chunks: [number, Uint8Array][] } {
    const out: [number, Uint8Array][] = [];
    this.chunks.forEach((c, i) => { if (c) out.push([i, c.slice()]); });
    return { size: this.size, chunks: out };
  }
  restore(s: { size: number; chunks: [number, Uint8Array][] }): void {
    if (s.size !== this.size) throw new Error(`snapshot RAM size ${s.size} differs from machine RAM size ${this.size}`);
    this.chunks.fill(undefined); this.views.fill(undefined);
    for (const [i, c] of s.chunks) { const b = c.slice(); this.chunks[i] = b; this.views[i] = new DataView(b.buffer); }
  }
}
