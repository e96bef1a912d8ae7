import type { CPU } from './cpu.js';
import { SS, RSP } from './regs.js';

/**
 * Stack pushes and pops at the current stack address size (SS.B, or 64-bit in 64-bit mode).
 * RSP is only updated after the memory access succeeded, so a faulting push leaves it intact.
 */
export function stackAddr(cpu: CPU, delta: number): number {
  switch (cpu.stackSize) {
    case 8: return cpu.reg64n(RSP) + delta;
    case 4: return ((cpu.lo[RSP] >>> 0) + delta) >>> 0;
    default: return ((cpu.lo[RSP] & 0xffff) + delta) & 0xffff;
  }
}
export function setSp(cpu: CPU, v: number): void {
  switch (cpu.stackSize) {
    case 8: setReg64n(cpu, RSP, v); return;
    case 4: cpu.lo[RSP] = v; return; // upper half left as is outside 64-bit mode
    default: cpu.lo[RSP] = (cpu.lo[RSP] & ~0xffff) | (v & 0xffff);
  }
}
export function setReg64n(cpu: CPU, r: number, v: number): void {
  cpu.lo[r] = v >>> 0 | 0;
  cpu.hi[r] = Math.floor(v / 4294967296) | 0;
}

/** Push `size` bytes (2, 4 or 8; hi = upper half for 8). */
export function push(cpu: CPU, size: number, v: number, hi = 0): void {
  const sp = stackAddr(cpu, -size);
  const la = cpu.linear(SS, sp, size, true);
  if (size === 8) cpu.wr64(la, v, hi);
  else if (size === 4) cpu.wr32(la, v);
  else cpu.wr16(la, v);
  setSp(cpu, sp);
}
/** Pop `size` bytes; returns the low 32 bits (high half in cpu.vhi for 8). */
export function pop(cpu: CPU, size: number): number {
  const v = peek(cpu, size, 0);
  const hi = cpu.vhi;
  setSp(cpu, stackAddr(cpu, size));
  cpu.vhi = hi;
  return v;
}
/** Read `size` bytes at RSP+offset without popping. */
export function peek(cpu: CPU, size: number, offset: number): number {
  const sp = stackAddr(cpu, offset);
  const la = cpu.linear(SS, sp, size, false);
  if (size === 8) return cpu.rd64(la);
  cpu.vhi = 0;
  return size === 4 ? cpu.rd32(la) : cpu.rd16(la);
}
