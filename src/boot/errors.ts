/**
 * Every way a kernel image can fail to load ends in a BootError whose message says what was
 * expected and what was found. The loader never lets a raw JavaScript exception (RangeError
 * from a DataView, TypeError, ...) escape: `loadKernel` converts any that slip through.
 */
export class BootError extends Error {
  override readonly name = 'BootError';
}

/** `0x1001e1` style, for numbers and bigints alike. */
export function hex(n: number | bigint): string {
  if (typeof n === 'number' && n < 0) return '-0x' + (-n).toString(16);
  return '0x' + n.toString(16);
}

/** A magic number as the specifications print it: `0x1BADB002`. */
export function magic(n: number): string {
  return '0x' + (n >>> 0).toString(16).toUpperCase();
}

/** "12 KiB", "8 MiB", "1.5 GiB", or bytes when not a round figure worth shortening. */
export function size(bytes: number): string {
  const units: [number, string][] = [[2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB']];
  for (const [u, name] of units) {
    if (bytes >= u) {
      const v = bytes / u;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${name}`;
    }
  }
  return `${bytes} bytes`;
}

/** [start, end) as "0x100000–0x10ffff" (inclusive end, as people read ranges). */
export function range(start: number, end: number): string {
  return end > start ? `${hex(start)}–${hex(end - 1)}` : `${hex(start)} (empty)`;
}
