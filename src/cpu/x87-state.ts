/**
 * x87 FPU state (SDM Vol. 1, "x87 FPU Execution Environment").
 * Model-specific choice: register values are held as binary64 (JavaScript numbers), not the
 * 80-bit extended format; loads/stores of 80-bit values (FLD m80, FSTP m80, FNSAVE/FRSTOR,
 * FXSAVE) convert, so precision beyond 53 mantissa bits is lost. Control, status and tag words,
 * and the instruction/operand pointers are kept exactly.
 */
export class X87 {
  /** Physical registers R0–R7 (ST(i) = R[(top + i) & 7]). */
  readonly st = new Float64Array(8);
  /** Exact 80-bit images of registers loaded from memory and not since modified (lets FSAVE/FRSTOR round-trip). */
  readonly raw: (Uint8Array | null)[] = new Array(8).fill(null);
  cw = 0x037f;
  /** Status word without TOP (bits 13:11 come from `top`). */
  sw = 0;
  top = 0;
  /** Full tag word, 2 bits per physical register (00 valid, 01 zero, 10 special, 11 empty). */
  tw = 0xffff;
  fip = 0; fcs = 0; fdp = 0; fds = 0; fop = 0;

  reset(): void {
    // FNINIT values (SDM Vol. 1, "FINIT/FNINIT"); power-on differs only in CW 0x0040, which no OS relies on.
    this.st.fill(0); this.raw.fill(null);
    this.cw = 0x037f; this.sw = 0; this.top = 0; this.tw = 0xffff;
    this.fip = 0; this.fcs = 0; this.fdp = 0; this.fds = 0; this.fop = 0;
  }
  statusWord(): number { return (this.sw & ~0x3800) | ((this.top & 7) << 11); }
  setStatusWord(v: number): void { this.sw = v & ~0x3800 & 0xffff; this.top = (v >> 11) & 7; }
}
