import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import { BASE_RIP } from '../insn.js';

/**
 * Operand access shared by all handlers. Values of size 1/2 are returned zero-extended, size 4
 * as int32, size 8 as the low int32 with the high half in cpu.vhi. Linear addresses are Numbers.
 */
const TWO32 = 4294967296;

/**
 * 64-bit effective address computed exactly in 32-bit halves: returns the low half (uint32),
 * the high half (int32) in cpu.vhi. (A double sum would lose low bits for large register values.)
 */
export function ea64(cpu: CPU, d: Insn): number {
  const base = d.base, index = d.index, s = 1 << d.scale;
  const disp = d.disp;
  let lo = disp >>> 0, hi = Math.floor(disp / TWO32);
  if (base >= 0) { lo += cpu.lo[base] >>> 0; hi += cpu.hi[base]; }
  else if (base === BASE_RIP) { const n = cpu.nip; lo += n >>> 0; hi += Math.floor(n / TWO32); }
  if (index >= 0) { lo += (cpu.lo[index] >>> 0) * s; hi += cpu.hi[index] * s; }
  hi += Math.floor(lo / TWO32);
  cpu.vhi = hi | 0;
  return lo >>> 0;
}

/** Effective address (offset within the segment) of the memory operand, wrapped to the address size.
 *  64-bit addresses are returned as the signed Number form (exact for canonical addresses; any
 *  non-canonical value stays non-canonical, so the canonical check still fires). */
export function ea(cpu: CPU, d: Insn): number {
  let a = d.disp;
  const base = d.base, index = d.index;
  if (d.asize === 8) {
    // Fast: a double sum is exact while every term is below 2^52 in magnitude (the signed form of
    // any canonical address is); otherwise compute exactly in halves.
    if (base >= 0) {
      const b = cpu.hi[base] * TWO32 + (cpu.lo[base] >>> 0);
      if (index < 0) {
        if (b < 4503599627370496 && b > -4503599627370496) return b + a;
      } else {
        const x = cpu.hi[index] * TWO32 + (cpu.lo[index] >>> 0);
        if (b < 4503599627370496 && b > -4503599627370496 && x < 281474976710656 && x > -281474976710656) return b + x * (1 << d.scale) + a;
      }
    }
    const lo = ea64(cpu, d);
    return cpu.vhi * TWO32 + lo;
  }
  if (d.asize === 4) {
    if (base >= 0) a += cpu.lo[base] >>> 0;
    else if (base === BASE_RIP) a += cpu.nip;
    if (index >= 0) a += (cpu.lo[index] >>> 0) * (1 << d.scale);
    return a >>> 0;
  }
  if (base >= 0) a += cpu.lo[base] & 0xffff;
  if (index >= 0) a += cpu.lo[index] & 0xffff;
  return a & 0xffff;
}

/** Linear address of the memory operand for an access of `size` bytes. */
export function memLin(cpu: CPU, d: Insn, size: number, write: boolean): number {
  return cpu.linear(d.seg, ea(cpu, d), size, write);
}

export function readLa(cpu: CPU, la: number, size: number): number {
  switch (size) {
    case 1: return cpu.rd8(la);
    case 2: return cpu.rd16(la);
    case 4: return cpu.rd32(la);
    default: return cpu.rd64(la);
  }
}
export function writeLa(cpu: CPU, la: number, size: number, v: number, hi: number): void {
  switch (size) {
    case 1: cpu.wr8(la, v); return;
    case 2: cpu.wr16(la, v); return;
    case 4: cpu.wr32(la, v); return;
    default: cpu.wr64(la, v, hi);
  }
}

/** Read the E operand (ModRM r/m) of `size` bytes. */
export function readE(cpu: CPU, d: Insn, size: number): number {
  if (d.rm >= 0) return cpu.getReg(d.rm, size);
  return readLa(cpu, memLin(cpu, d, size, false), size);
}
/** Write the E operand. A 32-bit register write zero-extends (64-bit mode rule; harmless elsewhere). */
export function writeE(cpu: CPU, d: Insn, size: number, v: number, hi: number): void {
  if (d.rm >= 0) { cpu.setReg(d.rm, size, v, hi); return; }
  writeLa(cpu, memLin(cpu, d, size, true), size, v, hi);
}
export function readG(cpu: CPU, d: Insn, size: number): number { return cpu.getReg(d.reg, size); }
export function writeG(cpu: CPU, d: Insn, size: number, v: number, hi: number): void { cpu.setReg(d.reg, size, v, hi); }

/** Immediate of the instruction at operand size (sign extension already done by the decoder). */
export function imm(d: Insn, size: number): number {
  return size === 1 ? d.imm & 0xff : size === 2 ? d.imm & 0xffff : d.imm;
}
export function maskTo(size: number, v: number): number {
  return size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v | 0;
}
export const SIGN = [0, 0x80, 0x8000, 0, 0x80000000 | 0];
