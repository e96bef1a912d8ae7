import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import { BASE_RIP } from '../insn.js';

/**
 * Operand access shared by all handlers. Values of size 1/2 are returned zero-extended, size 4
 * as int32, size 8 as the low int32 with the high half in cpu.vhi. Linear addresses are Numbers.
 */
const TWO32 = 4294967296;

/** Effective address (offset within the segment) of the memory operand, wrapped to the address size. */
export function ea(cpu: CPU, d: Insn): number {
  let a = d.disp;
  const base = d.base, index = d.index;
  if (d.asize === 8) {
    if (base >= 0) a += cpu.hi[base] * TWO32 + (cpu.lo[base] >>> 0);
    else if (base === BASE_RIP) a += cpu.nip;
    if (index >= 0) a += (cpu.hi[index] * TWO32 + (cpu.lo[index] >>> 0)) * (1 << d.scale);
    if (a >= 9223372036854775808) a -= 18446744073709551616;
    else if (a < -9223372036854775808) a += 18446744073709551616;
    return a;
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
