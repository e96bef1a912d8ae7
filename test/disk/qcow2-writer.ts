/**
 * A minimal qcow2 writer for tests (docs/interop/qcow2.txt), so that CI without qemu-img
 * still exercises the reader. Layout: cluster 0 header (+ extensions, backing name),
 * cluster 1.. L1 table, then one L2 table per used L1 entry, then data clusters.
 * Refcounts are left empty (a reader does not need them).
 */
import * as zlib from 'node:zlib';

export type ClusterSpec =
  | { data: Uint8Array }
  | { zero: true }
  | { compressed: Uint8Array };

export interface Qcow2Spec {
  version?: 2 | 3;
  clusterBits?: number;
  size: number;
  clusters?: Map<number, ClusterSpec>;
  backingFile?: string;
  backingFormat?: string;
  /** Raw header overrides applied at the end: [offset, bytes]. */
  patch?: [number, Uint8Array][];
  /** Force fields (for malformed-image tests). */
  l1Size?: number;
  l1Offset?: number;
  cryptMethod?: number;
  incompatible?: number;
}

export function buildQcow2(spec: Qcow2Spec): Uint8Array {
  const version = spec.version ?? 3;
  const cb = spec.clusterBits ?? 16;
  const cs = 2 ** cb;
  const l2Entries = cs / 8;
  const l1Size = Math.max(1, Math.ceil(spec.size / (cs * l2Entries)));
  const l1Clusters = Math.ceil((l1Size * 8) / cs);
  const clusters = spec.clusters ?? new Map<number, ClusterSpec>();

  const l1Index = new Set<number>();
  for (const vc of clusters.keys()) l1Index.add(Math.floor(vc / l2Entries));
  const l1Sorted = [...l1Index].sort((a, b) => a - b);
  let next = 1 + l1Clusters; // first free cluster after header and L1
  const l2At = new Map<number, number>();
  for (const i of l1Sorted) l2At.set(i, (next++) * cs);

  const chunks: [number, Uint8Array][] = [];
  const l2Tables = new Map<number, DataView>();
  for (const i of l1Sorted) l2Tables.set(i, new DataView(new ArrayBuffer(cs)));

  for (const [vc, c] of [...clusters].sort((a, b) => a[0] - b[0])) {
    const l2 = l2Tables.get(Math.floor(vc / l2Entries))!;
    const e = (vc % l2Entries) * 8;
    if ('data' in c) {
      const host = (next++) * cs;
      const d = new Uint8Array(cs); d.set(c.data.subarray(0, cs));
      chunks.push([host, d]);
      setU64(l2, e, host, 0x80000000);
    } else if ('zero' in c) {
      l2.setUint32(e + 4, 1);
    } else {
      const d = new Uint8Array(cs); d.set(c.compressed.subarray(0, cs));
      const z = zlib.deflateRawSync(d, { windowBits: 12 });
      // Not sector-aligned, as the spec allows ("usually _not_ aligned").
      const host = next * cs + 100;
      next += Math.ceil((100 + z.length) / cs);
      chunks.push([host, z]);
      const x = 62 - (cb - 8);
      const nsect = Math.ceil(((host % 512) + z.length) / 512) - 1;
      const desc = (BigInt(nsect) << BigInt(x)) | BigInt(host) | (1n << 62n);
      l2.setUint32(e, Number(desc >> 32n));
      l2.setUint32(e + 4, Number(desc & 0xffffffffn));
    }
  }

  const total = next * cs;
  const img = new Uint8Array(total);
  const dv = new DataView(img.buffer);
  dv.setUint32(0, 0x514649fb);
  dv.setUint32(4, version);
  dv.setUint32(20, cb);
  setU64(dv, 24, spec.size);
  dv.setUint32(32, spec.cryptMethod ?? 0);
  dv.setUint32(36, spec.l1Size ?? l1Size);
  setU64(dv, 40, spec.l1Offset ?? cs);
  setU64(dv, 48, 0);
  let hlen = 72;
  if (version === 3) {
    dv.setUint32(76, spec.incompatible ?? 0);
    dv.setUint32(96, 4);
    dv.setUint32(100, 104);
    hlen = 104;
  }
  let off = hlen;
  if (spec.backingFormat) {
    const f = Buffer.from(spec.backingFormat);
    dv.setUint32(off, 0xe2792aca); dv.setUint32(off + 4, f.length);
    img.set(f, off + 8);
    off += 8 + Math.ceil(f.length / 8) * 8;
  }
  dv.setUint32(off, 0); dv.setUint32(off + 4, 0); off += 8;
  if (spec.backingFile) {
    const b = Buffer.from(spec.backingFile);
    setU64(dv, 8, off);
    dv.setUint32(16, b.length);
    img.set(b, off);
  }
  for (const i of l1Sorted) setU64(dv, cs + i * 8, l2At.get(i)!, 0x80000000);
  for (const [i, t] of l2Tables) img.set(new Uint8Array(t.buffer), l2At.get(i)!);
  for (const [at, d] of chunks) img.set(d, at);
  for (const [at, d] of spec.patch ?? []) img.set(d, at);
  return img;
}

function setU64(dv: DataView, off: number, v: number, hiFlags = 0): void {
  dv.setUint32(off, (Math.floor(v / 2 ** 32) | hiFlags) >>> 0);
  dv.setUint32(off + 4, v >>> 0);
}

/** A recognisable pattern: every sector starts with its LBA and a tag, then a byte ramp. */
export function pattern(sectors: number, tag: number, startLba = 0): Uint8Array {
  const out = new Uint8Array(sectors * 512);
  const dv = new DataView(out.buffer);
  for (let s = 0; s < sectors; s++) {
    dv.setUint32(s * 512, startLba + s, true);
    dv.setUint32(s * 512 + 4, tag, true);
    for (let i = 8; i < 512; i++) out[s * 512 + i] = (i + startLba + s + tag) & 0xff;
  }
  return out;
}
