import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import type { Handler } from '../insn.js';
import { setArith } from '../flags.js';
import { CF, ZF } from '../regs.js';
import { Vec, VA, VB, VR, sseCheck, loadX, storeX, readW } from '../xmm.js';
import { readE, writeE, memLin } from './operands.js';

/**
 * Shuffles, unpacks, packs, blends, sign/zero extension, element insert/extract and PTEST
 * (SDM Vol. 2 pages of PUNPCKLBW ... INSERTPS). `a` is the destination's old value, `b` the source.
 */
type Kernel = (a: Vec, b: Vec, r: Vec, imm: number) => void;

const s8 = (x: number) => (x < -128 ? -128 : x > 127 ? 127 : x);
const u8 = (x: number) => (x < 0 ? 0 : x > 255 ? 255 : x);
const s16 = (x: number) => (x < -32768 ? -32768 : x > 32767 ? 32767 : x);
const u16 = (x: number) => (x < 0 ? 0 : x > 65535 ? 65535 : x);

/** Interleave elements of `w` bytes from the low (hi=false) or high half of a and b. */
function unpack(w: number, hi: boolean): Kernel {
  return (a, b, r) => {
    const n = 8 / w, base = hi ? 8 : 0;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < w; k++) {
        r.u8[2 * i * w + k] = a.u8[base + i * w + k];
        r.u8[(2 * i + 1) * w + k] = b.u8[base + i * w + k];
      }
    }
  };
}

const KERNELS: Record<string, Kernel> = {
  punpcklbw: unpack(1, false), punpcklwd: unpack(2, false), punpckldq: unpack(4, false), punpcklqdq: unpack(8, false),
  punpckhbw: unpack(1, true), punpckhwd: unpack(2, true), punpckhdq: unpack(4, true), punpckhqdq: unpack(8, true),
  packsswb: (a, b, r) => { for (let i = 0; i < 8; i++) { r.i8[i] = s8(a.i16[i]); r.i8[i + 8] = s8(b.i16[i]); } },
  packuswb: (a, b, r) => { for (let i = 0; i < 8; i++) { r.u8[i] = u8(a.i16[i]); r.u8[i + 8] = u8(b.i16[i]); } },
  packssdw: (a, b, r) => { for (let i = 0; i < 4; i++) { r.i16[i] = s16(a.i32[i]); r.i16[i + 4] = s16(b.i32[i]); } },
  packusdw: (a, b, r) => { for (let i = 0; i < 4; i++) { r.u16[i] = u16(a.i32[i]); r.u16[i + 4] = u16(b.i32[i]); } },
  pshufb: (a, b, r) => { for (let i = 0; i < 16; i++) r.u8[i] = b.u8[i] & 0x80 ? 0 : a.u8[b.u8[i] & 15]; },
  pshufd: (_a, b, r, imm) => { for (let i = 0; i < 4; i++) r.i32[i] = b.i32[(imm >> (2 * i)) & 3]; },
  pshuflw: (_a, b, r, imm) => {
    for (let i = 0; i < 4; i++) r.u16[i] = b.u16[(imm >> (2 * i)) & 3];
    r.i32[2] = b.i32[2]; r.i32[3] = b.i32[3];
  },
  pshufhw: (_a, b, r, imm) => {
    r.i32[0] = b.i32[0]; r.i32[1] = b.i32[1];
    for (let i = 0; i < 4; i++) r.u16[4 + i] = b.u16[4 + ((imm >> (2 * i)) & 3)];
  },
  shufps: (a, b, r, imm) => {
    r.i32[0] = a.i32[imm & 3]; r.i32[1] = a.i32[(imm >> 2) & 3];
    r.i32[2] = b.i32[(imm >> 4) & 3]; r.i32[3] = b.i32[(imm >> 6) & 3];
  },
  shufpd: (a, b, r, imm) => {
    const i = (imm & 1) * 2, j = ((imm >> 1) & 1) * 2;
    r.i32[0] = a.i32[i]; r.i32[1] = a.i32[i + 1]; r.i32[2] = b.i32[j]; r.i32[3] = b.i32[j + 1];
  },
  /** PALIGNR: (a:b) >> imm8 bytes, low 16 bytes. */
  palignr: (a, b, r, imm) => {
    for (let i = 0; i < 16; i++) { const j = i + imm; r.u8[i] = j < 16 ? b.u8[j] : j < 32 ? a.u8[j - 16] : 0; }
  },
  blendps: (a, b, r, imm) => { for (let i = 0; i < 4; i++) r.i32[i] = imm & (1 << i) ? b.i32[i] : a.i32[i]; },
  blendpd: (a, b, r, imm) => {
    for (let i = 0; i < 2; i++) { const s = imm & (1 << i) ? b : a; r.i32[2 * i] = s.i32[2 * i]; r.i32[2 * i + 1] = s.i32[2 * i + 1]; }
  },
  pblendw: (a, b, r, imm) => { for (let i = 0; i < 8; i++) r.u16[i] = imm & (1 << i) ? b.u16[i] : a.u16[i]; },
  /** MPSADBW: eight sums of absolute differences of 4-byte groups (offsets from imm8[2] and imm8[1:0]). */
  mpsadbw: (a, b, r, imm) => {
    const oa = ((imm >> 2) & 1) * 4, ob = (imm & 3) * 4;
    for (let i = 0; i < 8; i++) {
      let s = 0;
      for (let j = 0; j < 4; j++) s += Math.abs(a.u8[oa + i + j] - b.u8[ob + j]);
      r.u16[i] = s;
    }
  },
};

function makeBinary(k: Kernel): Handler {
  return (cpu: CPU, d: Insn) => {
    sseCheck(cpu);
    loadX(cpu, d.reg, VA);
    readW(cpu, d, VB, true);
    k(VA, VB, VR, d.imm & 0xff);
    storeX(cpu, d.reg, VR);
  };
}

/** BLENDVPS (op 4), BLENDVPD (op 8), PBLENDVB (op 1): the mask is the sign bit of each element of XMM0. */
function blendv(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA);
  readW(cpu, d, VB, true);
  const x = cpu.xmm;
  if (d.op === 1) {
    loadX(cpu, 0, VR);
    for (let i = 0; i < 16; i++) VR.u8[i] = VR.u8[i] & 0x80 ? VB.u8[i] : VA.u8[i];
  } else if (d.op === 4) {
    for (let i = 0; i < 4; i++) VR.i32[i] = x[i] < 0 ? VB.i32[i] : VA.i32[i];
  } else {
    for (let i = 0; i < 4; i += 2) {
      const s = x[i + 1] < 0 ? VB : VA;
      VR.i32[i] = s.i32[i]; VR.i32[i + 1] = s.i32[i + 1];
    }
  }
  storeX(cpu, d.reg, VR);
}

/**
 * PMOVSX/PMOVZX: op = from·16 + to (element sizes in bytes) + 256 for sign extension.
 * The source is the low 16·from/to bytes of xmm or memory (no alignment requirement).
 */
function pmovx(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const from = (d.op >> 4) & 15, to = d.op & 15, signed = d.op >= 256;
  const n = 16 / to, bytes = n * from;
  if (d.rm >= 0) loadX(cpu, d.rm, VB);
  else {
    const la = memLin(cpu, d, bytes, false);
    if (bytes === 8) { VB.i32[0] = cpu.rd64(la); VB.i32[1] = cpu.vhi; }
    else if (bytes === 4) VB.i32[0] = cpu.rd32(la);
    else VB.i32[0] = cpu.rd16(la);
  }
  const R = VR.i32;
  for (let i = 0; i < n; i++) {
    const v = from === 1 ? (signed ? VB.i8[i] : VB.u8[i]) : from === 2 ? (signed ? VB.i16[i] : VB.u16[i]) : (signed ? VB.i32[i] : VB.u32[i]);
    if (to === 2) VR.i16[i] = v;
    else if (to === 4) R[i] = v;
    else { R[2 * i] = v; R[2 * i + 1] = v < 0 ? -1 : 0; }
  }
  storeX(cpu, d.reg, VR);
}

// ----------------------------------------------------------------------- insert/extract
/** PEXTRB (op 1) / PEXTRW (op 2) / EXTRACTPS (op 4) / PEXTRD, PEXTRQ with REX.W (op 8) r/m, xmm, imm8.
 *  A register destination is zero-extended. */
function pextr(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA);
  const imm = d.imm;
  let size = d.op, lo: number, hi = 0;
  if (size === 1) lo = VA.u8[imm & 15];
  else if (size === 2) lo = VA.u16[imm & 7];
  else if (size === 8 && d.osize === 8) { lo = VA.i32[(imm & 1) * 2]; hi = VA.i32[(imm & 1) * 2 + 1]; }
  else { size = 4; lo = VA.i32[imm & 3]; }
  if (d.rm >= 0) cpu.setReg(d.rm, size === 8 ? 8 : 4, lo, hi);
  else writeE(cpu, d, size, lo, hi);
}
/** PEXTRW r32, xmm, imm8 (66 0F C5: register destination in ModRM.reg) */
function pextrw_g(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.rm, VA);
  cpu.setReg(d.reg, d.osize === 8 ? 8 : 4, VA.u16[d.imm & 7], 0);
}
/** PINSRB (op 1) / PINSRW (op 2) / PINSRD, PINSRQ with REX.W (op 8) xmm, r32|r64/m, imm8 */
function pinsr(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  let size = d.op;
  if (size === 8 && d.size2 !== 8) size = 4;
  let lo: number, hi = 0;
  if (d.rm >= 0) { lo = cpu.getReg(d.rm, size === 8 ? 8 : 4); hi = cpu.vhi; }
  else { lo = readE(cpu, d, size); hi = cpu.vhi; }
  const imm = d.imm;
  loadX(cpu, d.reg, VA);
  if (size === 1) VA.u8[imm & 15] = lo;
  else if (size === 2) VA.u16[imm & 7] = lo;
  else if (size === 4) VA.i32[imm & 3] = lo;
  else { VA.i32[(imm & 1) * 2] = lo; VA.i32[(imm & 1) * 2 + 1] = hi; }
  storeX(cpu, d.reg, VA);
}
/** INSERTPS xmm1, xmm2/m32, imm8: source lane imm8[7:6] (register) or m32, destination lane imm8[5:4], zero mask imm8[3:0]. */
function insertps(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  const imm = d.imm;
  let v: number;
  if (d.rm >= 0) v = cpu.xmm[(d.rm << 2) + ((imm >> 6) & 3)];
  else v = cpu.rd32(memLin(cpu, d, 4, false));
  loadX(cpu, d.reg, VA);
  VA.i32[(imm >> 4) & 3] = v;
  for (let i = 0; i < 4; i++) if (imm & (1 << i)) VA.i32[i] = 0;
  storeX(cpu, d.reg, VA);
}
/** PTEST: ZF = (a AND b) == 0, CF = (NOT a AND b) == 0; AF OF PF SF cleared. */
function ptest(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA);
  readW(cpu, d, VB, true);
  let and = 0, andn = 0;
  for (let i = 0; i < 4; i++) { and |= VA.i32[i] & VB.i32[i]; andn |= ~VA.i32[i] & VB.i32[i]; }
  setArith(cpu.lf, (and === 0 ? ZF : 0) | (andn === 0 ? CF : 0));
}

const binary: Record<string, Handler> = {};
for (const [name, k] of Object.entries(KERNELS)) binary[name] = makeBinary(k);

export const sseShuffleHandlers: Record<string, Handler> = {
  ...binary, blendv, pmovx, pextr, pextrw_g, pinsr, insertps, ptest,
};
