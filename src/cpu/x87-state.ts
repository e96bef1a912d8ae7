import { Ext, classify, doubleToExt, extToDouble, readExt, writeExt, X_ZERO, X_NORMAL } from './x87-convert.js';

/**
 * x87 FPU state (SDM Vol. 1, "x87 FPU Execution Environment").
 *
 * The model: every data register holds its exact 80-bit image (sign|exponent in `xse`, the 64-bit
 * significand in `xhi`/`xlo`). Loads, stores, moves, FSAVE/FRSTOR, FXSAVE/FXRSTOR, integer and BCD
 * conversions, comparisons and FADD/FSUB/FMUL/FDIV/FSQRT/FPREM/FRNDINT/FSCALE/FXTRACT work on
 * these images exactly (software extended arithmetic, with precision and rounding control), so
 * vmxray gives the same bits as the hardware for them. Only the transcendental instructions
 * (FSIN FCOS FSINCOS FPTAN FPATAN F2XM1 FYL2X FYL2XP1) compute in binary64 with JavaScript's Math
 * functions: their results can differ from the hardware's in the last bits of a binary64 and in
 * the 11 extra bits of the extended format. `value(r)` gives the binary64 value of a register.
 *
 * Tags: the hardware keeps only empty / non-empty per register; FSTENV/FSAVE compute the full
 * 2-bit tags from the register contents (`tagWord()`), FLDENV/FRSTOR use only "11 = empty" of a
 * loaded tag word (SDM Vol. 1, "x87 FPU Tag Word"). `tw` holds 11 for empty, 00 for non-empty.
 *
 * For FXSAVE/FXRSTOR (and anything else that saves the registers): use storeST/loadST (10-byte
 * images in ST(i) order), abridgedTag/setAbridgedTag, statusWord/setStatusWord, setControlWord.
 */
export class X87 {
  /** Physical registers R0–R7 (ST(i) = R[(top + i) & 7]): sign|exponent and significand halves. */
  readonly xse = new Uint16Array(8);
  readonly xhi = new Uint32Array(8);
  readonly xlo = new Uint32Array(8);
  /** Control word; bit 6 reads as 1, bits 15:13 and 7 as 0 (measured on this Intel host). */
  cw = 0x037f;
  /** Status word without TOP (bits 13:11 come from `top`). ES (bit 7) and B (bit 15) are kept equal to "an unmasked exception flag is set". */
  sw = 0;
  top = 0;
  /** 2 bits per physical register: 11 empty, 00 non-empty (see tagWord()). */
  tw = 0xffff;
  /** Last non-control instruction: offset and CS selector, operand offset and selector, opcode (11 bits). */
  fip = 0; fcs = 0; fdp = 0; fds = 0; fop = 0;

  /** Power-on / RESET: registers +0, then the FNINIT state. (The SDM's power-on values differ — CW 0040H,
   *  tags 5555H — vmxray starts as after FNINIT, as every OS and the differential-test harness expect.) */
  reset(): void {
    this.xse.fill(0); this.xhi.fill(0); this.xlo.fill(0);
    this.init();
  }
  /** FNINIT (SDM Vol. 2, "FINIT/FNINIT"): the data registers keep their contents, tagged empty. */
  init(): void {
    this.cw = 0x037f; this.sw = 0; this.top = 0; this.tw = 0xffff;
    this.fip = 0; this.fcs = 0; this.fdp = 0; this.fds = 0; this.fop = 0;
  }

  statusWord(): number {
    return (this.sw & ~0x3800) | ((this.top & 7) << 11);
  }
  /** Load a status word (FLDENV, FRSTOR, FXRSTOR): ES and B are recomputed from the flags and masks. */
  setStatusWord(v: number): void {
    this.sw = v & ~0x3800 & 0xffff; this.top = (v >> 11) & 7;
    this.updateES();
  }
  /** FLDCW and the environment loads. */
  setControlWord(v: number): void {
    this.cw = (v & 0x1f3f) | 0x40;
    this.updateES();
  }
  /** ES (and B, its 8087 copy) = some exception flag is set whose mask bit is clear. */
  updateES(): void {
    if (this.sw & ~this.cw & 0x3f) this.sw |= 0x8080; else this.sw &= ~0x8080;
  }

  // ---------------------------------------------------------------- registers
  phys(i: number): number { return (this.top + i) & 7; }
  isEmpty(r: number): boolean { return ((this.tw >> (2 * r)) & 3) === 3; }
  setEmpty(r: number): void { this.tw |= 3 << (2 * r); }
  setFull(r: number): void { this.tw &= ~(3 << (2 * r)); }
  /** Write the exact image of physical register r (the tag is not changed). */
  setExt(r: number, e: Ext): void { this.xse[r] = e.se; this.xhi[r] = e.hi; this.xlo[r] = e.lo; }
  getExt(r: number, out: Ext): Ext { return out.set(this.xse[r], this.xhi[r], this.xlo[r]); }
  copyReg(dst: number, src: number): void { this.xse[dst] = this.xse[src]; this.xhi[dst] = this.xhi[src]; this.xlo[dst] = this.xlo[src]; }
  /** The binary64 value of physical register r (rounded to nearest; NaN for NaNs and unsupported encodings). */
  value(r: number): number { return extToDouble(this.xse[r], this.xhi[r], this.xlo[r]); }
  /** Write a binary64 value to physical register r (exact conversion). */
  setValue(r: number, v: number): void { doubleToExt(v, scratch); this.setExt(r, scratch); }
  /** The real indefinite (SDM Vol. 1, "Indefinite": sign 1, exponent all ones, significand 1100…0). */
  setIndefinite(r: number): void { this.xse[r] = 0xffff; this.xhi[r] = 0xc0000000; this.xlo[r] = 0; }

  /** 10-byte image of physical register r → buf[off] (FSAVE, FXSAVE). */
  storePhys(r: number, buf: Uint8Array, off: number): void { writeExt(this.xse[r], this.xhi[r], this.xlo[r], buf, off); }
  loadPhys(r: number, buf: Uint8Array, off: number): void { readExt(buf, off, scratch); this.setExt(r, scratch); }
  /** ST(i) order, as FSAVE/FXSAVE lay the registers out. The tags are not touched. */
  storeST(i: number, buf: Uint8Array, off: number): void { this.storePhys(this.phys(i), buf, off); }
  loadST(i: number, buf: Uint8Array, off: number): void { this.loadPhys(this.phys(i), buf, off); }

  // ---------------------------------------------------------------- tags
  /** The tag word FSTENV/FSAVE store: 00 valid, 01 zero, 10 special (NaN, ∞, denormal, unsupported), 11 empty. */
  tagWord(): number {
    let t = 0;
    for (let r = 0; r < 8; r++) {
      let tag = 3;
      if (!this.isEmpty(r)) {
        const c = classify(this.xse[r], this.xhi[r], this.xlo[r]);
        tag = c === X_NORMAL ? 0 : c === X_ZERO ? 1 : 2;
      }
      t |= tag << (2 * r);
    }
    return t;
  }
  /** FLDENV/FRSTOR: only "empty" (11) matters; the other tags are recomputed from the contents when stored. */
  setTagWord(v: number): void {
    let t = 0;
    for (let r = 0; r < 8; r++) if (((v >> (2 * r)) & 3) === 3) t |= 3 << (2 * r);
    this.tw = t;
  }
  /** FXSAVE's abridged tag byte: bit r = 1 when physical register r is not empty. */
  abridgedTag(): number {
    let t = 0;
    for (let r = 0; r < 8; r++) if (!this.isEmpty(r)) t |= 1 << r;
    return t;
  }
  setAbridgedTag(v: number): void {
    let t = 0;
    for (let r = 0; r < 8; r++) if (!(v & (1 << r))) t |= 3 << (2 * r);
    this.tw = t;
  }
}

const scratch = new Ext();
