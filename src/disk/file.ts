/** Opening image files with errors that name the file and the problem. */
import * as fs from 'node:fs';
import { DiskError } from './block-device.js';

export function openFileOrThrow(path: string, write: boolean): { fd: number; size: number } {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DiskError(path, code === 'ENOENT' ? 'no such file' : `cannot open disk image: ${(e as Error).message}`);
  }
  if (st.isDirectory()) throw new DiskError(path, 'is a directory, not a disk image');
  if (!st.isFile()) throw new DiskError(path, 'is not a regular file (block devices and pipes are not supported as disk images)');
  let fd: number;
  try {
    fd = fs.openSync(path, write ? 'r+' : 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
      ? (write ? 'cannot be opened for writing (permission denied)' : 'cannot be read (permission denied)')
      : `cannot open disk image: ${(e as Error).message}`;
    throw new DiskError(path, why);
  }
  return { fd, size: st.size };
}
