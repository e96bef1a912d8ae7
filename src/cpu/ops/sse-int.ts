import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import type { Handler } from '../insn.js';
import { Vec, VA, VB, VR, sseCheck, loadX, storeX, readW } from '../xmm.js';

/**
 * SSE2/SSSE3/SSE4.1 integer arithmetic on xmm registers (SDM Vol. 2 pages of PADDB ... PHMINPOSUW),
 * logical operations (PAND ... XORPS: no MXCSR effect) and shifts. Each binary instruction is a
 * kernel `(a, b, r)` on the scratch vectors: a = destination's old value, b = source xmm/m128
 * (16-byte aligned in memory), r = result. MMX (non-66) forms are not decoded (#UD).
 */
type Kernel = (a: Vec, b: Vec, r: Vec) => void;

const s8 = (x: number) => (x < -128 ? -128 : x > 127 ? 127 : x);
const u8 = (x: number) => (x < 0 ? 0 : x > 255 ? 255 : x);
const s16 = (x: number) => (x < -32768 ? -32768 : x > 32767 ? 32767 : x);
const u16 = (x: number) => (x < 0 ? 0 : x > 65535 ? 65535 : x);

function lanes8(f: (x: number, y: number) => number, signed: boolean): Kernel {
  return signed
    ? (a, b, r) => { for (let i = 0; i < 16; i++) r.i8[i] = f(a.i8[i], b.i8[i]); }
    : (a, b, r) => { for (let i = 0; i < 16; i++) r.u8[i] = f(a.u8[i], b.u8[i]); };
}
function lanes16(f: (x: number, y: number) => number, signed: boolean): Kernel {
  return signed
    ? (a, b, r) => { for (let i = 0; i < 8; i++) r.i16[i] = f(a.i16[i], b.i16[i]); }
    : (a, b, r) => { for (let i = 0; i < 8; i++) r.u16[i] = f(a.u16[i], b.u16[i]); };
}
function lanes32(f: (x: number, y: number) => number, signed: boolean): Kernel {
  return signed
    ? (a, b, r) => { for (let i = 0; i < 4; i++) r.i32[i] = f(a.i32[i], b.i32[i]); }
    : (a, b, r) => { for (let i = 0; i < 4; i++) r.u32[i] = f(a.u32[i], b.u32[i]); };
}

/** 64-bit lanes as (lo, hi) int32 pairs. */
function add64(a: Vec, b: Vec, r: Vec, sub: boolean): void {
  for (let i = 0; i < 4; i += 2) {
    const al = a.u32[i], bl = b.u32[i];
    const lo = sub ? al - bl : al + bl;
    r.i32[i] = lo;
    r.i32[i + 1] = (sub ? a.i32[i + 1] - b.i32[i + 1] - (lo < 0 ? 1 : 0) : a.i32[i + 1] + b.i32[i + 1] + (lo > 0xffffffff ? 1 : 0)) | 0;
  }
}

let mulHi = 0;
/** Unsigned 32×32 → 64: returns the low half, the high half in mulHi. */
function mulu32(a: number, b: number): number {
  a >>>= 0; b >>>= 0;
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const ll = al * bl, hl = ah * bl, lh = al * bh, hh = ah * bh;
  const cross = (ll >>> 16) + (hl & 0xffff) + lh;
  mulHi = (hh + Math.floor(hl / 65536) + Math.floor(cross / 65536)) | 0;
  return Math.imul(a, b);
}

const hadd16 = (sub: boolean, sat: boolean): Kernel => (a, b, r) => {
  for (let i = 0; i < 4; i++) {
    const x = sub ? a.i16[2 * i] - a.i16[2 * i + 1] : a.i16[2 * i] + a.i16[2 * i + 1];
    const y = sub ? b.i16[2 * i] - b.i16[2 * i + 1] : b.i16[2 * i] + b.i16[2 * i + 1];
    VC16[i] = sat ? s16(x) : x; VC16[i + 4] = sat ? s16(y) : y;
  }
  for (let i = 0; i < 8; i++) r.i16[i] = VC16[i];
};
const VC16 = new Int32Array(8);
const hadd32 = (sub: boolean): Kernel => (a, b, r) => {
  const x0 = sub ? a.i32[0] - a.i32[1] : a.i32[0] + a.i32[1];
  const x1 = sub ? a.i32[2] - a.i32[3] : a.i32[2] + a.i32[3];
  const y0 = sub ? b.i32[0] - b.i32[1] : b.i32[0] + b.i32[1];
  const y1 = sub ? b.i32[2] - b.i32[3] : b.i32[2] + b.i32[3];
  r.i32[0] = x0; r.i32[1] = x1; r.i32[2] = y0; r.i32[3] = y1;
};

export const KERNELS: Record<string, Kernel> = {
  paddb: lanes8((x, y) => x + y, false), paddw: lanes16((x, y) => x + y, false), paddd: lanes32((x, y) => x + y, true),
  paddq: (a, b, r) => add64(a, b, r, false),
  psubb: lanes8((x, y) => x - y, false), psubw: lanes16((x, y) => x - y, false), psubd: lanes32((x, y) => x - y, true),
  psubq: (a, b, r) => add64(a, b, r, true),
  paddsb: lanes8((x, y) => s8(x + y), true), paddsw: lanes16((x, y) => s16(x + y), true),
  paddusb: lanes8((x, y) => u8(x + y), false), paddusw: lanes16((x, y) => u16(x + y), false),
  psubsb: lanes8((x, y) => s8(x - y), true), psubsw: lanes16((x, y) => s16(x - y), true),
  psubusb: lanes8((x, y) => u8(x - y), false), psubusw: lanes16((x, y) => u16(x - y), false),
  pmullw: lanes16((x, y) => Math.imul(x, y), true),
  pmulhw: lanes16((x, y) => (x * y) >> 16, true),
  pmulhuw: lanes16((x, y) => (x * y) >>> 16, false),
  pmulld: lanes32((x, y) => Math.imul(x, y), true),
  pmulhrsw: lanes16((x, y) => (((x * y) >> 14) + 1) >> 1, true),
  pmuludq: (a, b, r) => {
    for (let i = 0; i < 4; i += 2) { const lo = mulu32(a.i32[i], b.i32[i]); r.i32[i] = lo; r.i32[i + 1] = mulHi; }
  },
  pmuldq: (a, b, r) => {
    for (let i = 0; i < 4; i += 2) {
      const x = a.i32[i], y = b.i32[i];
      const lo = mulu32(x, y);
      r.i32[i] = lo; r.i32[i + 1] = (mulHi - (x < 0 ? y : 0) - (y < 0 ? x : 0)) | 0;
    }
  },
  pmaddwd: (a, b, r) => {
    for (let i = 0; i < 4; i++) r.i32[i] = (a.i16[2 * i] * b.i16[2 * i] + a.i16[2 * i + 1] * b.i16[2 * i + 1]) | 0;
  },
  pmaddubsw: (a, b, r) => {
    for (let i = 0; i < 8; i++) r.i16[i] = s16(a.u8[2 * i] * b.i8[2 * i] + a.u8[2 * i + 1] * b.i8[2 * i + 1]);
  },
  pand: (a, b, r) => { for (let i = 0; i < 4; i++) r.i32[i] = a.i32[i] & b.i32[i]; },
  pandn: (a, b, r) => { for (let i = 0; i < 4; i++) r.i32[i] = ~a.i32[i] & b.i32[i]; },
  por: (a, b, r) => { for (let i = 0; i < 4; i++) r.i32[i] = a.i32[i] | b.i32[i]; },
  pxor: (a, b, r) => { for (let i = 0; i < 4; i++) r.i32[i] = a.i32[i] ^ b.i32[i]; },
  pcmpeqb: lanes8((x, y) => (x === y ? 255 : 0), false), pcmpeqw: lanes16((x, y) => (x === y ? 65535 : 0), false),
  pcmpeqd: lanes32((x, y) => (x === y ? -1 : 0), true),
  pcmpeqq: (a, b, r) => {
    for (let i = 0; i < 4; i += 2) r.i32[i] = r.i32[i + 1] = a.i32[i] === b.i32[i] && a.i32[i + 1] === b.i32[i + 1] ? -1 : 0;
  },
  pcmpgtb: lanes8((x, y) => (x > y ? -1 : 0), true), pcmpgtw: lanes16((x, y) => (x > y ? -1 : 0), true),
  pcmpgtd: lanes32((x, y) => (x > y ? -1 : 0), true),
  pcmpgtq: (a, b, r) => {
    for (let i = 0; i < 4; i += 2) {
      const ah = a.i32[i + 1], bh = b.i32[i + 1];
      r.i32[i] = r.i32[i + 1] = ah > bh || (ah === bh && a.u32[i] > b.u32[i]) ? -1 : 0;
    }
  },
  pminub: lanes8(Math.min, false), pmaxub: lanes8(Math.max, false),
  pminsw: lanes16(Math.min, true), pmaxsw: lanes16(Math.max, true),
  pminsb: lanes8(Math.min, true), pmaxsb: lanes8(Math.max, true),
  pminuw: lanes16(Math.min, false), pmaxuw: lanes16(Math.max, false),
  pminsd: lanes32(Math.min, true), pmaxsd: lanes32(Math.max, true),
  pminud: lanes32(Math.min, false), pmaxud: lanes32(Math.max, false),
  pavgb: lanes8((x, y) => (x + y + 1) >> 1, false), pavgw: lanes16((x, y) => (x + y + 1) >> 1, false),
  psadbw: (a, b, r) => {
    for (let q = 0; q < 2; q++) {
      let s = 0;
      for (let i = 0; i < 8; i++) s += Math.abs(a.u8[q * 8 + i] - b.u8[q * 8 + i]);
      r.i32[q * 2] = s; r.i32[q * 2 + 1] = 0;
    }
  },
  psignb: lanes8((x, y) => (y < 0 ? -x : y === 0 ? 0 : x), true),
  psignw: lanes16((x, y) => (y < 0 ? -x : y === 0 ? 0 : x), true),
  psignd: lanes32((x, y) => (y < 0 ? -x | 0 : y === 0 ? 0 : x), true),
  pabsb: (_a, b, r) => { for (let i = 0; i < 16; i++) r.u8[i] = Math.abs(b.i8[i]); },
  pabsw: (_a, b, r) => { for (let i = 0; i < 8; i++) r.u16[i] = Math.abs(b.i16[i]); },
  pabsd: (_a, b, r) => { for (let i = 0; i < 4; i++) r.u32[i] = Math.abs(b.i32[i]); },
  phaddw: hadd16(false, false), phaddsw: hadd16(false, true), phsubw: hadd16(true, false), phsubsw: hadd16(true, true),
  phaddd: hadd32(false), phsubd: hadd32(true),
  /** PHMINPOSUW: the minimum unsigned word of the source and its (lowest) index; the rest zeroed. */
  phminposuw: (_a, b, r) => {
    let m = b.u16[0], k = 0;
    for (let i = 1; i < 8; i++) if (b.u16[i] < m) { m = b.u16[i]; k = i; }
    r.i32[0] = m | (k << 16); r.i32[1] = 0; r.i32[2] = 0; r.i32[3] = 0;
  },
};

function makeBinary(k: Kernel): Handler {
  return (cpu: CPU, d: Insn) => {
    sseCheck(cpu);
    loadX(cpu, d.reg, VA);
    readW(cpu, d, VB, true);
    k(VA, VB, VR);
    storeX(cpu, d.reg, VR);
  };
}

// ------------------------------------------------------------------------------ shifts
/**
 * PSRL/PSRA/PSLL W/D/Q. Row constant op = kind·16 + element size in bytes (kind 0 logical right,
 * 1 arithmetic right, 2 left). The count is imm8 (group 71/72/73: the destination is ModRM.rm),
 * or the low quadword of xmm/m128; counts above the width clear the element (PSRA: fill with sign).
 */
function shiftCore(v: Vec, r: Vec, op: number, cnt: number): void {
  const kind = op >> 4, w = op & 15, bits = w * 8;
  if (cnt >= bits) {
    if (kind !== 1) { r.i32.fill(0); return; }
    cnt = bits - 1;
  }
  if (w === 2) {
    for (let i = 0; i < 8; i++) r.i16[i] = kind === 0 ? v.u16[i] >>> cnt : kind === 1 ? v.i16[i] >> cnt : v.u16[i] << cnt;
  } else if (w === 4) {
    for (let i = 0; i < 4; i++) r.i32[i] = kind === 0 ? v.u32[i] >>> cnt : kind === 1 ? v.i32[i] >> cnt : v.i32[i] << cnt;
  } else {
    for (let i = 0; i < 4; i += 2) {
      const lo = v.i32[i], hi = v.i32[i + 1];
      if (cnt === 0) { r.i32[i] = lo; r.i32[i + 1] = hi; }
      else if (kind === 0) {
        if (cnt < 32) { r.i32[i] = (lo >>> cnt) | (hi << (32 - cnt)); r.i32[i + 1] = hi >>> cnt; }
        else { r.i32[i] = hi >>> (cnt - 32); r.i32[i + 1] = 0; }
      } else {
        if (cnt < 32) { r.i32[i + 1] = (hi << cnt) | (lo >>> (32 - cnt)); r.i32[i] = lo << cnt; }
        else { r.i32[i + 1] = lo << (cnt - 32); r.i32[i] = 0; }
      }
    }
  }
}
function pshift_x(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA);
  readW(cpu, d, VB, true);
  const cnt = VB.i32[1] !== 0 || VB.i32[0] < 0 ? 0x7fffffff : VB.i32[0];
  shiftCore(VA, VR, d.op, cnt);
  storeX(cpu, d.reg, VR);
}
function pshift_i(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.rm, VA);
  shiftCore(VA, VR, d.op, d.imm & 0xff);
  storeX(cpu, d.rm, VR);
}
/** PSRLDQ (op 0) / PSLLDQ (op 1) xmm, imm8: byte shift; counts above 15 clear the register. */
function pshift_dq(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.rm, VA);
  const n = d.imm & 0xff;
  for (let i = 0; i < 16; i++) {
    const j = d.op === 0 ? i + n : i - n;
    VR.u8[i] = j >= 0 && j < 16 ? VA.u8[j] : 0;
  }
  storeX(cpu, d.rm, VR);
}

const binary: Record<string, Handler> = {};
for (const [name, k] of Object.entries(KERNELS)) binary[name] = makeBinary(k);

export const sseIntHandlers: Record<string, Handler> = {
  ...binary, pshift_x, pshift_i, pshift_dq,
};
