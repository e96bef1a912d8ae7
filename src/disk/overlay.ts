/**
 * Copy-on-write in memory: the guest's writes land here and reads see them; the image below
 * is never written (DESIGN.md: user disk images are never modified unless the user asks).
 * With `writeThrough` (the user asked) writes go straight to the image below, which must
 * then be writable (a raw image opened for writing); the overlay still lists what changed.
 *
 * Tests and tools use `changedSectors()`, `changes()` and `exportImage()` to see exactly what
 * a guest wrote; `save()`/`restore()` make the overlay part of a machine snapshot.
 */
import { SECTOR_SIZE, DiskError, checkRange, checkWriteData, type BlockDevice } from './block-device.js';

export interface OverlayOptions { writeThrough?: boolean }

export interface OverlayState { sectors: [number, Uint8Array][]; written: number[] }

export class Overlay implements BlockDevice {
  readonly base: BlockDevice;
  readonly sectors: number;
  readonly writeThrough: boolean;
  /** Sector data written by the guest (copy-on-write mode). */
  private data = new Map<number, Uint8Array>();
  /** Every sector the guest wrote (both modes). */
  private written = new Set<number>();

  constructor(base: BlockDevice, opts: OverlayOptions = {}) {
    this.base = base;
    this.sectors = base.sectors;
    this.writeThrough = !!opts.writeThrough;
  }

  get name(): string { return this.base.name ?? 'disk'; }
  get warnings(): readonly string[] { return this.base.warnings ?? []; }

  read(lba: number, count: number): Uint8Array {
    checkRange(this, lba, count);
    const out = this.base.read(lba, count);
    if (this.data.size === 0) return out;
    if (this.data.size < count) {
      for (const [s, d] of this.data) if (s >= lba && s < lba + count) out.set(d, (s - lba) * SECTOR_SIZE);
    } else {
      for (let i = 0; i < count; i++) {
        const d = this.data.get(lba + i);
        if (d) out.set(d, i * SECTOR_SIZE);
      }
    }
    return out;
  }

  write(lba: number, data: Uint8Array): void {
    const n = checkWriteData(this, data);
    checkRange(this, lba, n);
    if (this.writeThrough) this.base.write(lba, data);
    for (let i = 0; i < n; i++) {
      if (!this.writeThrough) this.data.set(lba + i, data.slice(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE));
      this.written.add(lba + i);
    }
  }

  flush(): void {
    if (this.writeThrough) this.base.flush();
  }

  close(): void { this.base.close?.(); }

  /** Sectors the guest has written, ascending. */
  changedSectors(): number[] {
    return [...this.written].sort((a, b) => a - b);
  }

  /** The data of every changed sector (copies), keyed by LBA, ascending. */
  changes(): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    for (const s of this.changedSectors()) out.set(s, this.read(s, 1));
    return out;
  }

  /** The whole disk as the guest sees it now (for small disks: tests, exporting). */
  exportImage(): Uint8Array {
    const limit = 1 << 30;
    if (this.sectors * SECTOR_SIZE > limit) throw new DiskError(this.name, 'exportImage() is limited to disks of 1 GiB');
    return this.read(0, this.sectors);
  }

  /** Write the overlay's sectors into the image below (only when the user asks: needs a writable image). */
  commit(): void {
    for (const [s, d] of [...this.data].sort((a, b) => a[0] - b[0])) this.base.write(s, d);
    this.base.flush();
    this.data.clear();
  }

  /** Forget every guest write held in memory. */
  discard(): void {
    this.data.clear();
    if (!this.writeThrough) this.written.clear();
  }

  save(): OverlayState {
    return { sectors: [...this.data].map(([s, d]) => [s, d.slice()]), written: [...this.written] };
  }
  /** Restore a saved state (write-through writes already in the image cannot be undone). */
  restore(st: OverlayState): void {
    this.data = new Map(st.sectors.map(([s, d]) => [s, d.slice()]));
    this.written = new Set(st.written);
  }
}
