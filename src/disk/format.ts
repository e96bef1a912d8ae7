/** Telling image formats apart by their first bytes. */
import * as fs from 'node:fs';
import { DiskError } from './block-device.js';
import { openFileOrThrow } from './file.js';

export type DiskFormat = 'raw' | 'qcow2';

/** "QFI\xfb" (docs/interop/qcow2.txt, Header, bytes 0-3). */
export const QCOW_MAGIC = 0x514649fb;

/** 'qcow2' when the file starts with the qcow magic, else 'raw'. qcow version 1 is refused. */
export function probeFormat(path: string): DiskFormat {
  const { fd, size } = openFileOrThrow(path, false);
  try {
    if (size < 8) return 'raw';
    const b = Buffer.alloc(8);
    fs.readSync(fd, b, 0, 8, 0);
    if (b.readUInt32BE(0) !== QCOW_MAGIC) return 'raw';
    const version = b.readUInt32BE(4);
    if (version === 1) throw new DiskError(path, 'is a qcow version 1 image, which is not supported (convert it: qemu-img convert -O qcow2)');
    return 'qcow2';
  } finally {
    fs.closeSync(fd);
  }
}
