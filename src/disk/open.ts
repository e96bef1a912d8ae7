/**
 * Opening a user's disk image. The format is probed by magic unless given. The result is
 * always an Overlay: by default guest writes stay in memory and the file is never written;
 * with `write: true` (the user asked) a raw image is opened read-write and written in place.
 */
import { DiskError } from './block-device.js';
import { probeFormat, type DiskFormat } from './format.js';
import { RawImage } from './raw.js';
import { Qcow2Image } from './qcow2.js';
import { Overlay } from './overlay.js';

export interface OpenDiskOptions {
  format?: DiskFormat;
  /** Write the guest's writes into the image file itself (raw images only). */
  write?: boolean;
}

export function openDisk(path: string, opts: OpenDiskOptions = {}): Overlay {
  let probed: DiskFormat;
  try {
    probed = probeFormat(path);
  } catch (e) {
    // An unreadable header is still a valid raw image when the user says it is one.
    if (opts.format !== 'raw' || !(e instanceof DiskError) || e.problem.includes('no such file')) throw e;
    probed = 'raw';
  }
  const format = opts.format ?? probed;
  if (format !== 'raw' && format !== 'qcow2') throw new DiskError(path, `unknown disk format "${String(format)}" (raw or qcow2)`);
  if (format === 'qcow2' && probed !== 'qcow2') throw new DiskError(path, 'format qcow2 was asked for, but the file has no qcow2 magic');
  if (format === 'qcow2') {
    if (opts.write) throw new DiskError(path, 'writing to qcow2 images in place is not supported; leave writes in the overlay or convert to raw (qemu-img convert -O raw)');
    return new Overlay(new Qcow2Image(path));
  }
  const raw = new RawImage(path, { write: !!opts.write });
  if (probed === 'qcow2') raw.warnings.push('the file looks like a qcow2 image but is used as raw, as asked');
  return new Overlay(raw, { writeThrough: !!opts.write });
}
