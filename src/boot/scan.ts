import { hex, magic as magicHex } from './errors.js';

/**
 * Near misses found while looking for a header, so that "no multiboot header" can say why:
 * a magic with a bad checksum, a magic at an unaligned offset, a magic beyond the search window.
 */
export function magicNearMisses(image: Uint8Array, magic: number, align: number, window: number, label: string, accepted: Set<number>): string[] {
  const notes: string[] = [];
  const limit = Math.min(image.length - 3, 1 << 20);
  const b0 = magic & 0xff, b1 = (magic >>> 8) & 0xff, b2 = (magic >>> 16) & 0xff, b3 = magic >>> 24;
  for (let i = 0; i < limit && notes.length < 4; i++) {
    if (image[i] !== b0 || image[i + 1] !== b1 || image[i + 2] !== b2 || image[i + 3] !== b3) continue;
    if (accepted.has(i)) continue;
    if (i % align !== 0) notes.push(`the ${label} magic ${magicHex(magic)} appears at file offset ${hex(i)}, which is not ${align}-byte aligned`);
    else if (i >= window) notes.push(`the ${label} magic ${magicHex(magic)} appears at file offset ${hex(i)}, beyond the first ${window} bytes where a loader looks for it`);
  }
  return notes;
}
