/**
 * The I/O bitmaps and MSR bitmaps of VMX non-root operation (SDM Vol. 3C, "VM-Execution Control
 * Fields": "I/O-Bitmap Addresses", "MSR-Bitmap Address"; "Instructions That Cause VM Exits
 * Conditionally": IN/INS/OUT/OUTS, RDMSR, WRMSR). The bitmaps are in physical memory, referenced
 * by physical address (not translated by EPT).
 */
import type { PhysBus } from '../memory/physbus.js';
import { PROC } from './controls.js';
import { ADDRESS_OF_IO_BITMAP_A, ADDRESS_OF_IO_BITMAP_B, ADDRESS_OF_MSR_BITMAPS } from './fields.js';
import type { Vmcs } from './vmcs.js';
import { proc } from './cr.js';

const bit = (bus: PhysBus, base: number, n: number): boolean => ((bus.read8(base + (n >>> 3)) >>> (n & 7)) & 1) !== 0;

/**
 * Does an I/O instruction accessing `size` bytes from `port` exit?
 * - "use I/O bitmaps" = 1 ("unconditional I/O exiting" is then ignored): it exits if the bit of
 *   ANY accessed port is 1 — bitmap A holds ports 0000H-7FFFH, bitmap B 8000H-FFFFH, one bit per
 *   port, so a 2- or 4-byte access at 7FFFH reads bits of both — or if the access wraps around
 *   the 16-bit port space (it would touch FFFFH and 0000H).
 * - otherwise: it exits iff "unconditional I/O exiting" = 1.
 */
export function ioExits(bus: PhysBus, vmcs: Vmcs, port: number, size: number): boolean {
  const p = proc(vmcs);
  if ((p & PROC.USE_IO_BITMAPS) === 0) return (p & PROC.UNCONDITIONAL_IO_EXITING) !== 0;
  if (port + size - 1 > 0xffff) return true;
  const a = vmcs.read64n(ADDRESS_OF_IO_BITMAP_A), b = vmcs.read64n(ADDRESS_OF_IO_BITMAP_B);
  for (let q = port; q < port + size; q++) if (bit(bus, q < 0x8000 ? a : b, q & 0x7fff)) return true;
  return false;
}

/** Offsets of the four 1-KiB MSR bitmaps in the 4-KiB MSR-bitmap page. */
export const MSR_READ_LOW = 0, MSR_READ_HIGH = 0x400, MSR_WRITE_LOW = 0x800, MSR_WRITE_HIGH = 0xc00;

/**
 * Does RDMSR (write = false) or WRMSR (write = true) of MSR `msr` (ECX) exit?
 * - "use MSR bitmaps" = 0: always.
 * - ECX in 00000000H-00001FFFH: the bit ECX of the read-low / write-low bitmap.
 * - ECX in C0000000H-C0001FFFH: the bit ECX & 1FFFH of the read-high / write-high bitmap.
 * - any other ECX: always (whatever the bitmaps hold).
 */
export function msrExits(bus: PhysBus, vmcs: Vmcs, msr: number, write: boolean): boolean {
  if ((proc(vmcs) & PROC.USE_MSR_BITMAPS) === 0) return true;
  msr >>>= 0;
  let off: number;
  if (msr <= 0x1fff) off = write ? MSR_WRITE_LOW : MSR_READ_LOW;
  else if (msr >= 0xc0000000 && msr <= 0xc0001fff) off = write ? MSR_WRITE_HIGH : MSR_READ_HIGH;
  else return true;
  return bit(bus, vmcs.read64n(ADDRESS_OF_MSR_BITMAPS) + off, msr & 0x1fff);
}
