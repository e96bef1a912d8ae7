/**
 * IDENTIFY DEVICE data (256 words) for an ATA hard disk, laid out as ATA/ATAPI-6 (T13/1410D)
 * section 8.15, Table 27 describes it. Word numbers in the comments are that table's.
 */

export interface ChsGeometry { cylinders: number; heads: number; sectors: number }

/**
 * The default geometry QEMU (hw/block/hd-geometry.c, guess_chs_for_size) and Bochs give a disk
 * with no partition-table hint: 16 heads, 63 sectors per track, as many cylinders as fit,
 * clamped to 2..16383.
 */
export function defaultGeometry(totalSectors: number): ChsGeometry {
  const cylinders = Math.min(16383, Math.max(2, Math.floor(totalSectors / (16 * 63))));
  return { cylinders, heads: 16, sectors: 63 };
}

export interface IdentifyParams {
  totalSectors: number;
  /** Default (power-on) geometry: words 1, 3, 6. */
  geometry: ChsGeometry;
  /** Current geometry (INITIALIZE DEVICE PARAMETERS): words 54-58. */
  current: ChsGeometry;
  /** Current READ/WRITE MULTIPLE block size, 0 = disabled (word 59). */
  multipleCount: number;
  /** Largest block SET MULTIPLE MODE accepts (word 47). */
  maxMultiple: number;
  model: string;
  serial: string;
  firmware: string;
}

/** ATA strings: two characters per word, the first in the high byte, padded with spaces. */
function putString(w: Uint16Array, first: number, words: number, s: string): void {
  const padded = s.padEnd(words * 2, ' ').slice(0, words * 2);
  for (let i = 0; i < words; i++) {
    w[first + i] = (padded.charCodeAt(2 * i) << 8) | padded.charCodeAt(2 * i + 1);
  }
}

export function buildIdentify(p: IdentifyParams): Uint8Array {
  const w = new Uint16Array(256);
  const lba28 = Math.min(p.totalSectors, 0x0fffffff);
  const curCapacity = Math.min(p.current.cylinders * p.current.heads * p.current.sectors, 0xffffffff);

  w[0] = 0x0040;                       // general configuration: fixed device, not removable
  w[1] = p.geometry.cylinders;         // default number of logical cylinders
  w[2] = 0xc837;                       // specific configuration: device does not need SET FEATURES to spin up, IDENTIFY complete
  w[3] = p.geometry.heads;             // default number of logical heads
  w[6] = p.geometry.sectors;           // default number of logical sectors per track
  putString(w, 10, 10, p.serial);      // words 10-19: serial number (20 ASCII characters)
  putString(w, 23, 4, p.firmware);     // words 23-26: firmware revision (8 characters)
  putString(w, 27, 20, p.model);       // words 27-46: model number (40 characters)
  w[47] = 0x8000 | p.maxMultiple;      // 80h in the high byte; max sectors per READ/WRITE MULTIPLE block
  w[49] = 1 << 9;                      // capabilities: LBA supported (bit 9); no DMA (bit 8 clear)
  w[50] = 0x4000;                      // capabilities: bit 14 shall be one
  w[51] = 0x0200;                      // PIO data transfer cycle timing mode (obsolete): mode 2
  w[53] = 0x0003;                      // words 54-58 (bit 0) and 64-70 (bit 1) are valid
  w[54] = p.current.cylinders;         // number of current logical cylinders
  w[55] = p.current.heads;             // number of current logical heads
  w[56] = p.current.sectors;           // number of current logical sectors per track
  w[57] = curCapacity & 0xffff;        // current capacity in sectors (words 57-58)
  w[58] = curCapacity >>> 16;
  w[59] = p.multipleCount ? 0x0100 | p.multipleCount : 0; // bit 8: multiple sector setting valid
  w[60] = lba28 & 0xffff;              // total number of user addressable sectors, LBA28 (words 60-61)
  w[61] = lba28 >>> 16;
  w[64] = 0x0003;                      // advanced PIO modes 3 and 4 supported
  w[65] = 120;                         // minimum multiword DMA cycle time (ns)
  w[66] = 120;                         // manufacturer's recommended multiword DMA cycle time
  w[67] = 120;                         // minimum PIO cycle time without flow control
  w[68] = 120;                         // minimum PIO cycle time with IORDY
  w[80] = 0x007e;                      // major version: ATA-1 .. ATA/ATAPI-6
  w[81] = 0;                           // minor version not reported
  w[82] = 0;                           // command sets supported: none of the optional ones
  w[83] = 0x4000 | (1 << 13) | (1 << 12) | (1 << 10); // bit 14 one; FLUSH CACHE EXT, FLUSH CACHE, 48-bit address
  w[84] = 0x4000;                      // bit 14 shall be one
  w[85] = 0;                           // command sets enabled (mirrors word 82)
  w[86] = (1 << 13) | (1 << 12) | (1 << 10);          // enabled: FLUSH CACHE EXT, FLUSH CACHE, 48-bit address
  w[87] = 0x4000;                      // bit 14 shall be one
  const t = p.totalSectors;            // words 100-103: maximum user LBA for 48-bit address feature set
  w[100] = t % 0x10000;
  w[101] = Math.floor(t / 0x10000) % 0x10000;
  w[102] = Math.floor(t / 0x100000000) % 0x10000;
  w[103] = Math.floor(t / 0x1000000000000) % 0x10000;

  const bytes = new Uint8Array(512);
  for (let i = 0; i < 256; i++) { bytes[2 * i] = w[i] & 0xff; bytes[2 * i + 1] = w[i] >> 8; }
  // Word 255: integrity word. Bits 7:0 signature A5h; bits 15:8 checksum: the two's
  // complement of the sum of bytes 0..510 plus A5h, so that all 512 bytes sum to 0 (mod 256).
  bytes[510] = 0xa5;
  let sum = 0;
  for (let i = 0; i < 511; i++) sum += bytes[i];
  bytes[511] = (256 - (sum & 0xff)) & 0xff;
  return bytes;
}
