import type { CPU } from '../cpu.js';
import { MODE_REAL, MODE_V86 } from '../cpu.js';
import type { Insn } from '../insn.js';
import type { X87 } from '../x87-state.js';
import { C1, fpuNoWait, fpuWait, noteIp, operand, at, pop } from './x87-core.js';

/**
 * x87 control instructions (SDM Vol. 1, "x87 FPU Control Instructions"; Vol. 2 instruction pages):
 * FNINIT FNCLEX FLDCW FNSTCW FNSTSW FNSTENV FLDENV FNSAVE FRSTOR FFREE FINCSTP FDECSTP FNOP.
 * FINIT, FCLEX, FSTCW, FSTSW, FSTENV, FSAVE are FWAIT (9B, ops/system.ts; the check of pending
 * exceptions it calls is installed by ops/x87.ts) followed by the FN form.
 * Only FINCSTP, FDECSTP, FFREE and FNOP of these record FIP/FOP (as on this Intel host).
 */

/** FNINIT (DB E3): the FNINIT state; register contents stay (tagged empty). */
function fninit(cpu: CPU): void { fpuNoWait(cpu).init(); }
/** FNCLEX (DB E2): clears PE UE OE ZE DE IE, SF, ES and B. */
function fnclex(cpu: CPU): void { const f = fpuNoWait(cpu); f.sw &= ~0x80ff; }
/** FNENI, FNDISI, FNSETPM (DB E0, E1, E4): 8087/287 leftovers, no operation (SDM Vol. 1, "Unsupported x87 FPU Instructions"). */
function fnop_legacy(cpu: CPU): void { fpuNoWait(cpu); }
/** FLDCW m2byte (D9 /5): unmasking a set exception flag makes it pending (ES). */
function fldcw(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  const v = cpu.rd16(operand(cpu, d, 2, false));
  f.setControlWord(v);
}
/** FNSTCW m2byte (D9 /7), FNSTSW m2byte (DD /7), FNSTSW AX (DF E0). */
function fnstcw(cpu: CPU, d: Insn): void {
  const f = fpuNoWait(cpu);
  cpu.wr16(operand(cpu, d, 2, true), f.cw);
}
function fnstsw(cpu: CPU, d: Insn): void {
  const f = fpuNoWait(cpu);
  cpu.wr16(operand(cpu, d, 2, true), f.statusWord());
}
function fnstsw_ax(cpu: CPU): void {
  const f = fpuNoWait(cpu);
  cpu.setReg(0, 2, f.statusWord());
}

// ------------------------------------------------------------------ environment images
const IMG = new Uint8Array(108);
const V = new DataView(IMG.buffer);

/**
 * The FSTENV/FSAVE environment image (SDM Vol. 1, Figures "Protected Mode x87 FPU State Image in
 * Memory, 32-Bit Format", "Real Mode … 32-Bit Format", and the two 16-bit formats): 28 or 14
 * bytes. Real-address and virtual-8086 mode store 20-bit (32-bit format: 32-bit) linear pointers
 * (selector·16 + offset) and the opcode. In 64-bit mode the 32-bit protected format is used with
 * the low 32 bits of the pointers. Reserved halves of the 32-bit format are written as FFFFH
 * (CW, SW, TW, FDS dwords — what this Intel host writes) and 0 in the pointer dwords.
 */
function encodeEnv(cpu: CPU, f: X87, o16: boolean): number {
  const real = cpu.mode === MODE_REAL || cpu.mode === MODE_V86;
  const cw = f.cw, sw = f.statusWord(), tw = f.tagWord();
  const lip = ((f.fcs << 4) + f.fip) >>> 0, ldp = ((f.fds << 4) + f.fdp) >>> 0;
  if (!o16) {
    V.setUint32(0, (0xffff0000 | cw) >>> 0, true);
    V.setUint32(4, (0xffff0000 | sw) >>> 0, true);
    V.setUint32(8, (0xffff0000 | tw) >>> 0, true);
    if (!real) {
      V.setUint32(12, f.fip >>> 0, true);
      V.setUint32(16, ((f.fcs & 0xffff) | ((f.fop & 0x7ff) << 16)) >>> 0, true);
      V.setUint32(20, f.fdp >>> 0, true);
      V.setUint32(24, (0xffff0000 | (f.fds & 0xffff)) >>> 0, true);
    } else {
      V.setUint32(12, lip & 0xffff, true);
      V.setUint32(16, (((lip >>> 16) << 12) & 0x0ffff000) | (f.fop & 0x7ff), true);
      V.setUint32(20, ldp & 0xffff, true);
      V.setUint32(24, ((ldp >>> 16) << 12) & 0x0ffff000, true);
    }
    return 28;
  }
  V.setUint16(0, cw, true); V.setUint16(2, sw, true); V.setUint16(4, tw, true);
  if (!real) {
    V.setUint16(6, f.fip & 0xffff, true); V.setUint16(8, f.fcs & 0xffff, true);
    V.setUint16(10, f.fdp & 0xffff, true); V.setUint16(12, f.fds & 0xffff, true);
  } else {
    V.setUint16(6, lip & 0xffff, true); V.setUint16(8, (((lip >>> 16) & 0xf) << 12) | (f.fop & 0x7ff), true);
    V.setUint16(10, ldp & 0xffff, true); V.setUint16(12, ((ldp >>> 16) & 0xf) << 12, true);
  }
  return 14;
}
/** Load an environment image (FLDENV, FRSTOR): CW, then SW (ES recomputed), the tags (only "empty" counts), the pointers. */
function decodeEnv(cpu: CPU, f: X87, o16: boolean): number {
  const real = cpu.mode === MODE_REAL || cpu.mode === MODE_V86;
  if (!o16) {
    f.setControlWord(V.getUint16(0, true));
    f.setStatusWord(V.getUint16(4, true));
    f.setTagWord(V.getUint16(8, true));
    if (!real) {
      f.fip = V.getUint32(12, true);
      const w = V.getUint32(16, true);
      f.fcs = w & 0xffff; f.fop = (w >>> 16) & 0x7ff;
      f.fdp = V.getUint32(20, true);
      f.fds = V.getUint16(24, true);
    } else {
      const w = V.getUint32(16, true);
      f.fip = ((V.getUint16(12, true)) | (((w >>> 12) & 0xffff) << 16)) >>> 0; f.fcs = 0;
      f.fop = w & 0x7ff;
      f.fdp = ((V.getUint16(20, true)) | (((V.getUint32(24, true) >>> 12) & 0xffff) << 16)) >>> 0; f.fds = 0;
    }
    return 28;
  }
  f.setControlWord(V.getUint16(0, true));
  f.setStatusWord(V.getUint16(2, true));
  f.setTagWord(V.getUint16(4, true));
  if (!real) {
    f.fip = V.getUint16(6, true); f.fcs = V.getUint16(8, true);
    f.fdp = V.getUint16(10, true); f.fds = V.getUint16(12, true);
  } else {
    const w = V.getUint16(8, true);
    f.fip = V.getUint16(6, true) | ((w >>> 12) << 16); f.fcs = 0; f.fop = w & 0x7ff;
    f.fdp = V.getUint16(10, true) | ((V.getUint16(12, true) >>> 12) << 16); f.fds = 0;
  }
  return 14;
}
function writeImage(cpu: CPU, la: number, n: number): void {
  cpu.probeWrite(la, n);
  for (let k = 0; k < n; k++) cpu.wr8(at(cpu, la, k), IMG[k]);
}
function readImage(cpu: CPU, la: number, n: number): void {
  for (let k = 0; k < n; k++) IMG[k] = cpu.rd8(at(cpu, la, k));
}
const envSize = (d: Insn) => (d.osize === 2 ? 14 : 28);

/** FNSTENV m14/28byte (D9 /6): store the environment, then mask all exceptions. */
function fnstenv(cpu: CPU, d: Insn): void {
  const f = fpuNoWait(cpu);
  const n = envSize(d);
  const la = operand(cpu, d, n, true);
  encodeEnv(cpu, f, n === 14);
  writeImage(cpu, la, n);
  f.cw |= 0x3f;
  f.updateES();
}
/** FLDENV m14/28byte (D9 /4). */
function fldenv(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  const n = envSize(d);
  const la = operand(cpu, d, n, false);
  readImage(cpu, la, n);
  decodeEnv(cpu, f, n === 14);
}
/** FNSAVE m94/108byte (DD /6): environment and ST(0)…ST(7), then FNINIT. */
function fnsave(cpu: CPU, d: Insn): void {
  const f = fpuNoWait(cpu);
  const n = envSize(d);
  const la = operand(cpu, d, n + 80, true);
  encodeEnv(cpu, f, n === 14);
  for (let i = 0; i < 8; i++) f.storeST(i, IMG, n + 10 * i);
  writeImage(cpu, la, n + 80);
  f.init();
}
/** FRSTOR m94/108byte (DD /4): the exact register images come back (so FNSAVE/FRSTOR round-trip bit for bit). */
function frstor(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  const n = envSize(d);
  const la = operand(cpu, d, n + 80, false);
  readImage(cpu, la, n + 80);
  decodeEnv(cpu, f, n === 14);
  for (let i = 0; i < 8; i++) f.loadST(i, IMG, n + 10 * i);
}

/** FFREE ST(i) (DD C0+i): tag empty; FFREEP (DF C0+i, undocumented): and pop. */
function ffree(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  f.setEmpty(f.phys(d.modrm & 7));
  if (d.op & 1) pop(f);
}
/** FINCSTP (D9 F7), FDECSTP (D9 F6): TOP ± 1, tags unchanged, C1 = 0. */
function fincstp(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
  f.top = (f.top + (d.op ? -1 : 1)) & 7;
  f.sw &= ~C1;
}
/** FNOP (D9 D0). */
function fnop(cpu: CPU, d: Insn): void {
  const f = fpuWait(cpu);
  noteIp(cpu, d, f, false);
}

export const x87ControlHandlers = {
  fninit, fnclex, fnop_legacy, fldcw, fnstcw, fnstsw, fnstsw_ax, fnstenv, fldenv, fnsave, frstor, ffree, fincstp, fnop,
};
