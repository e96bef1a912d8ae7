import type { CPU } from '../cpu.js';
import { type Insn, I_REXW } from '../insn.js';
import { setArith } from '../flags.js';
import { CF, ZF, SF, OF } from '../regs.js';
import { VA, VB, VR, sseCheck, loadX, storeX, readW } from '../xmm.js';
import { readE } from './operands.js';

/**
 * SSE4.2: PCMPESTRI PCMPESTRM PCMPISTRI PCMPISTRM (SDM Vol. 2, 4.1 "Imm8 Control Byte Operation
 * for PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM") and CRC32 (CRC-32C, SDM CRC32).
 *
 * imm8[1:0] element format (unsigned bytes, unsigned words, signed bytes, signed words);
 * imm8[3:2] aggregation (equal any, ranges, equal each, equal ordered); imm8[5:4] polarity;
 * imm8[6] output selection (index: least/most significant; mask: bits/expanded elements).
 * Row constant op: bit 0 = explicit lengths (E: |rAX|, |rDX|), bit 1 = mask output (M → XMM0).
 * The memory operand needs no alignment.
 */
const EL = new Int32Array(16), ER = new Int32Array(16);

function elements(v: typeof VA, fmt: number, out: Int32Array): number {
  const words = (fmt & 1) !== 0, signed = (fmt & 2) !== 0;
  const n = words ? 8 : 16;
  for (let i = 0; i < n; i++) out[i] = words ? (signed ? v.i16[i] : v.u16[i]) : (signed ? v.i8[i] : v.u8[i]);
  return n;
}
/** |length register| saturated to n (explicit-length forms; REX.W selects the 64-bit register). */
function explicitLen(cpu: CPU, r: number, wide: boolean, n: number): number {
  let lo = cpu.lo[r], hi = wide ? cpu.hi[r] : lo >> 31;
  if (hi < 0) { lo = -lo | 0; hi = ~hi + (lo === 0 ? 1 : 0); }   // two's-complement negation
  if (hi !== 0 || lo < 0) return n;                                // |v| >= 2^31 (or -2^63)
  return lo < n ? lo : n;
}
function implicitLen(e: Int32Array, n: number): number {
  for (let i = 0; i < n; i++) if (e[i] === 0) return i;
  return n;
}

function pcmpstr(cpu: CPU, d: Insn): void {
  sseCheck(cpu);
  loadX(cpu, d.reg, VA);
  readW(cpu, d, VB, false);
  const imm = d.imm & 0xff, fmt = imm & 3, agg = (imm >> 2) & 3, pol = (imm >> 4) & 3;
  const n = elements(VA, fmt, EL);
  elements(VB, fmt, ER);
  let la: number, lb: number;
  if (d.op & 1) {
    const wide = (d.flags & I_REXW) !== 0;
    la = explicitLen(cpu, 0, wide, n);
    lb = explicitLen(cpu, 2, wide, n);
  } else {
    la = implicitLen(EL, n);
    lb = implicitLen(ER, n);
  }
  let res = 0;
  for (let i = 0; i < n; i++) {
    let bit = false;
    switch (agg) {
      case 0: // equal any: b[i] is one of a[0..la)
        if (i < lb) for (let j = 0; j < la; j++) if (EL[j] === ER[i]) { bit = true; break; }
        break;
      case 1: // ranges: a holds (low, high) pairs
        if (i < lb) for (let j = 0; j + 1 < la; j += 2) if (ER[i] >= EL[j] && ER[i] <= EL[j + 1]) { bit = true; break; }
        break;
      case 2: // equal each
        bit = i < la && i < lb ? EL[i] === ER[i] : i >= la && i >= lb;
        break;
      default: // equal ordered: the substring a starts at b[i]
        bit = true;
        for (let k = 0; k < n - i && k < la; k++) if (i + k >= lb || EL[k] !== ER[i + k]) { bit = false; break; }
        break;
    }
    if (bit) res |= 1 << i;
  }
  const all = (1 << n) - 1;
  if (pol === 1) res ^= all;
  else if (pol === 3) res ^= (1 << lb) - 1;
  const flags = (res ? CF : 0) | (lb < n ? ZF : 0) | (la < n ? SF : 0) | (res & 1 ? OF : 0);
  if (d.op & 2) {
    if (imm & 0x40) {
      const w = n === 8 ? 2 : 1;
      for (let i = 0; i < n; i++) for (let k = 0; k < w; k++) VR.u8[i * w + k] = res & (1 << i) ? 0xff : 0;
    } else { VR.i32[0] = res; VR.i32[1] = 0; VR.i32[2] = 0; VR.i32[3] = 0; }
    storeX(cpu, 0, VR);
  } else {
    const idx = res === 0 ? n : imm & 0x40 ? 31 - Math.clz32(res) : 31 - Math.clz32(res & -res);
    cpu.setReg(1, 4, idx, 0);
  }
  setArith(cpu.lf, flags);
}

// ----------------------------------------------------------------------------- CRC32
const CRC_TABLE = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  CRC_TABLE[i] = c;
}
/** CRC32 r32/r64, r/m8|16|32|64: CRC-32C (polynomial 11EDC6F41H, bit-reflected, no inversion); the result is zero-extended. */
function crc32(cpu: CPU, d: Insn): void {
  const s = d.size2;
  let crc = cpu.lo[d.reg];
  const lo = readE(cpu, d, s), hi = cpu.vhi;
  const bytes = s === 8 ? 4 : s;
  for (let k = 0; k < bytes; k++) crc = CRC_TABLE[(crc ^ (lo >>> (8 * k))) & 0xff] ^ (crc >>> 8);
  if (s === 8) for (let k = 0; k < 4; k++) crc = CRC_TABLE[(crc ^ (hi >>> (8 * k))) & 0xff] ^ (crc >>> 8);
  cpu.setReg(d.reg, d.osize === 8 ? 8 : 4, crc, 0);
}

export const sseStringHandlers = { pcmpstr, crc32 };
