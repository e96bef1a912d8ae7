/**
 * The VMCS: field values held in the processor (a JS object per VMCS region), and the region in
 * physical memory (SDM Vol. 3C, "Format of the VMCS Region": bytes 0-3 revision identifier with
 * bit 31 the shadow-VMCS indicator, bytes 4-7 VMX-abort indicator, then "VMCS data
 * (implementation-specific format)").
 *
 * Our implementation-specific format (written by VMCLEAR, read back by VMPTRLD of a VMCS that is
 * not in the processor's cache):
 *   bytes 8-11   LAYOUT_MAGIC ("vmxr") — the region holds vmxray data
 *   bytes 12-15  launch state: 0 clear, 1 launched (VMCLEAR always leaves 0)
 *   bytes 16...  for each field of fields.ts FIELDS, in order (slot s at 16 + 8*s): low 32 bits,
 *                high 32 bits
 * (the table has fewer than 500 fields, so it fits the 4096-byte region.)
 *
 * Choices where the SDM leaves the behaviour undefined:
 * - Software that writes a VMCS region with ordinary memory writes while the VMCS is active
 *   (cached) sees its writes ignored; VMCLEAR overwrites them.
 * - VMPTRLD of a region that VMCLEAR never initialised (no LAYOUT_MAGIC): the VMCS starts with
 *   all fields 0 and launch state "clear"; `neverCleared` records it so messages can point out the
 *   missing VMCLEAR ("Software Use of Virtual-Machine Control Structures" requires it).
 */
import { FIELDS, type VmcsField } from './fields.js';

export const LAYOUT_MAGIC = 0x72786d76; // "vmxr" little-endian
export const REGION_DATA = 16;

/** Physical memory as the VMCS code needs it (PhysBus satisfies it). */
export interface PhysMem { read32(pa: number): number; write32(pa: number, v: number): void }

/** Encoding → (slot << 1) | high, or -1. Covers every 15-bit encoding. */
const SLOT = new Int16Array(0x8000).fill(-1);
/** Width class per slot: 0 = 16-bit, 1 = 32-bit, 2 = 64-bit or natural width. */
const WCLASS = new Uint8Array(FIELDS.length);
for (const f of FIELDS) {
  SLOT[f.enc] = f.slot << 1;
  if (f.width === 64) SLOT[f.enc | 1] = (f.slot << 1) | 1;
  WCLASS[f.slot] = f.width === 16 ? 0 : f.width === 32 ? 1 : 2;
}

export class Vmcs {
  /** Low and high 32 bits of each field, by slot (fields.ts VmcsField.slot). */
  readonly lo = new Uint32Array(FIELDS.length);
  readonly hi = new Uint32Array(FIELDS.length);
  /** Launch state: false = "clear", true = "launched" (SDM Vol. 3C, "VMCS Types"... "launch state"). */
  launched = false;
  /** VmxState.vmxoffs when it was launched (-1: never): VMRESUME after VMXOFF and VMXON fails with error 6. */
  launchEpoch = -1;
  /** VMPTRLD found no vmxray data in the region (it was never VMCLEARed). */
  neverCleared = false;

  constructor(
    /** Physical address of the VMCS region. */
    readonly addr: number,
  ) {}

  /** The field's value (16/32-bit value, or the low 32 bits), unsigned; a HIGH encoding gives bits 63:32. 0 for unknown encodings. */
  read(enc: number): number {
    const s = SLOT[enc & 0x7fff];
    if (s < 0 || enc > 0x7fff) return 0;
    return (s & 1 ? this.hi[s >> 1] : this.lo[s >> 1]) >>> 0;
  }
  /** Bits 63:32 of a 64-bit or natural-width field (0 for narrower fields and HIGH encodings). */
  readHi(enc: number): number {
    const s = SLOT[enc & 0x7fff];
    if (s < 0 || (s & 1) || enc > 0x7fff) return 0;
    return this.hi[s >> 1] >>> 0;
  }
  /**
   * Write a field: the value is truncated to the field's width (16/32-bit fields ignore `hi` and
   * the upper bits). A HIGH encoding writes `lo` into bits 63:32 and keeps bits 31:0.
   * Unknown encodings are ignored. (No existence or read-only checks: that is VMWRITE's job.)
   */
  write(enc: number, lo: number, hi = 0): void {
    const s = SLOT[enc & 0x7fff];
    if (s < 0 || enc > 0x7fff) return;
    const i = s >> 1;
    if (s & 1) { this.hi[i] = lo; return; }
    switch (WCLASS[i]) {
      case 0: this.lo[i] = lo & 0xffff; this.hi[i] = 0; return;
      case 1: this.lo[i] = lo; this.hi[i] = 0; return;
      default: this.lo[i] = lo; this.hi[i] = hi;
    }
  }
  /** The field's value as a Number (exact below 2^53; for messages and addresses). */
  read64n(enc: number): number { return this.readHi(enc) * 4294967296 + this.read(enc); }

  /** Write this VMCS's data to its region in our layout, launch state included (VMCLEAR). */
  flush(mem: PhysMem): void {
    const a = this.addr;
    mem.write32(a + 8, LAYOUT_MAGIC);
    mem.write32(a + 12, this.launched ? 1 : 0);
    for (let s = 0; s < this.lo.length; s++) {
      mem.write32(a + REGION_DATA + 8 * s, this.lo[s]);
      mem.write32(a + REGION_DATA + 8 * s + 4, this.hi[s]);
    }
  }

  /** A VMCS built from the data in its region (VMPTRLD of a VMCS that is not cached). */
  static fromRegion(mem: PhysMem, addr: number): Vmcs {
    const v = new Vmcs(addr);
    if ((mem.read32(addr + 8) >>> 0) !== LAYOUT_MAGIC) { v.neverCleared = true; return v; }
    v.launched = (mem.read32(addr + 12) & 1) === 1;
    for (let s = 0; s < v.lo.length; s++) {
      v.lo[s] = mem.read32(addr + REGION_DATA + 8 * s);
      v.hi[s] = mem.read32(addr + REGION_DATA + 8 * s + 4);
    }
    return v;
  }

  /**
   * Initialise the implementation-specific data of a region that is not cached (VMCLEAR of an
   * inactive VMCS): launch state "clear"; field data kept if the region already holds our layout,
   * else zeroed.
   */
  static clearRegion(mem: PhysMem, addr: number): void {
    if ((mem.read32(addr + 8) >>> 0) !== LAYOUT_MAGIC) {
      for (let s = 0; s < FIELDS.length; s++) { mem.write32(addr + REGION_DATA + 8 * s, 0); mem.write32(addr + REGION_DATA + 8 * s + 4, 0); }
      mem.write32(addr + 8, LAYOUT_MAGIC);
    }
    mem.write32(addr + 12, 0);
  }
}

/** The field a (FULL or HIGH) encoding addresses in a Vmcs, or undefined. */
export function slotField(enc: number): VmcsField | undefined {
  const s = enc >>> 0 <= 0x7fff ? SLOT[enc] : -1;
  return s < 0 ? undefined : FIELDS[s >> 1];
}
