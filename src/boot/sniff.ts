import { describeElf, isElf, parseElf } from './elf.js';
import { BootError } from './errors.js';

/**
 * What a file looks like, in words, for the error that says it cannot be booted:
 * "a gzip-compressed file", "a PE/COFF executable (Windows or UEFI)", "a Linux bzImage", or,
 * failing all that, its first bytes.
 */
export function describeFile(image: Uint8Array): string {
  const n = image.length;
  if (n === 0) return 'an empty file (0 bytes)';
  const at = (off: number, ...bytes: number[]) => off + bytes.length <= n && bytes.every((b, i) => image[off + i] === b);
  const ascii = (off: number, s: string) => at(off, ...Array.from(s, c => c.charCodeAt(0)));
  const u32 = (off: number) => off + 4 <= n ? (image[off] | image[off + 1] << 8 | image[off + 2] << 16 | image[off + 3] << 24) >>> 0 : -1;

  if (isElf(image)) {
    try { return describeElf(parseElf(image)); } catch (e) {
      if (e instanceof BootError) return `a damaged ELF file (${e.message})`;
      throw e;
    }
  }
  if (ascii(0x202, 'HdrS')) return 'a Linux kernel image (bzImage, Linux boot protocol), which vmxray does not boot; use a multiboot kernel';
  if (at(0, 0x4d, 0x5a)) {
    const pe = u32(0x3c);
    if (pe >= 0 && at(pe, 0x50, 0x45, 0, 0)) return 'a PE/COFF executable (a Windows or UEFI program)';
    return 'a DOS MZ executable';
  }
  if (at(0, 0x1f, 0x8b)) return 'a gzip-compressed file (decompress it first)';
  if (ascii(0, 'BZh')) return 'a bzip2-compressed file (decompress it first)';
  if (at(0, 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'an xz-compressed file (decompress it first)';
  if (at(0, 0x28, 0xb5, 0x2f, 0xfd)) return 'a zstd-compressed file (decompress it first)';
  if (at(0, 0x04, 0x22, 0x4d, 0x18)) return 'an LZ4-compressed file (decompress it first)';
  if (ascii(0, 'PK\x03\x04')) return 'a zip archive';
  if (ascii(257, 'ustar')) return 'a tar archive';
  if (ascii(0, '!<arch>\n')) return 'an ar archive (a static library, not a linked kernel)';
  const m = u32(0);
  if (m === 0xfeedface || m === 0xfeedfacf || m === 0xcefaedfe || m === 0xcffaedfe) return 'a Mach-O executable (macOS)';
  if (m === 0xbebafeca) return 'a Mach-O universal binary or Java class file';
  if (ascii(0x8001, 'CD001')) return 'an ISO 9660 CD image (boot it as a disk, not as a kernel)';
  if (n >= 512 && image[510] === 0x55 && image[511] === 0xaa) return 'a disk image or boot sector (it ends its first sector with the 55 AA signature; attach it as a disk instead)';
  if (ascii(0, '#!')) return 'a script (it starts with "#!")';
  const sample = image.subarray(0, Math.min(n, 512));
  if (sample.every(b => b === 9 || b === 10 || b === 13 || (b >= 0x20 && b < 0x7f))) return 'a text file';
  const first = Array.from(image.subarray(0, 16), b => b.toString(16).padStart(2, '0')).join(' ');
  return `a file of ${n} bytes in no format vmxray recognises (first bytes: ${first})`;
}
