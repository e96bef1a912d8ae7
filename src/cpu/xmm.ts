import type { CPU } from './cpu.js';
import type { Insn } from './insn.js';
import { CpuFault } from './fault.js';
import { CR0_EM, CR0_TS, CR4_OSFXSR, CR4_OSXMMEXCPT, UD, NM, GP, XM } from './regs.js';
import { memLin } from './ops/operands.js';

/**
 * 128-bit register and memory access for the SSE handlers (src/cpu/ops/sse-*.ts).
 *
 * cpu.xmm holds register n as dwords 4n..4n+3, least significant first. Handlers copy their
 * operands into scratch vectors (module-level temporaries: they carry no state from one
 * instruction to the next, DESIGN.md #8), compute, and copy the result back, so a faulting
 * instruction never leaves a half-written destination and nothing is allocated per instruction.
 * The typed-array views assume a little-endian host (x86-64, arm64).
 */
export class Vec {
  readonly buf = new ArrayBuffer(16);
  readonly i32 = new Int32Array(this.buf);
  readonly u32 = new Uint32Array(this.buf);
  readonly i16 = new Int16Array(this.buf);
  readonly u16 = new Uint16Array(this.buf);
  readonly i8 = new Int8Array(this.buf);
  readonly u8 = new Uint8Array(this.buf);
  readonly f32 = new Float32Array(this.buf);
  readonly f64 = new Float64Array(this.buf);
}

/** Scratch vectors: A = first source (the destination's old value), B = second source, R = result. */
export const VA = new Vec(), VB = new Vec(), VR = new Vec();

/**
 * The checks every SSE instruction makes first (SDM Vol. 2, "SIMD Floating-Point Exceptions"
 * and "Other Exceptions" tables, e.g. ADDPS): #UD if CR0.EM = 1 or CR4.OSFXSR = 0; #NM if CR0.TS = 1.
 */
export function sseCheck(cpu: CPU): void {
  if ((cpu.cr0 & CR0_EM) || !(cpu.cr4 & CR4_OSFXSR)) throw new CpuFault(UD);
  if (cpu.cr0 & CR0_TS) throw new CpuFault(NM);
}

/** An unmasked SIMD floating-point exception: #XM if CR4.OSXMMEXCPT = 1, else #UD (SDM Vol. 3A, "Interrupt 19"). */
export function simdFault(cpu: CPU): never {
  throw new CpuFault(cpu.cr4 & CR4_OSXMMEXCPT ? XM : UD);
}

export function loadX(cpu: CPU, r: number, v: Vec): void {
  const x = cpu.xmm, o = r << 2, d = v.i32;
  d[0] = x[o]; d[1] = x[o + 1]; d[2] = x[o + 2]; d[3] = x[o + 3];
}
export function storeX(cpu: CPU, r: number, v: Vec): void {
  const x = cpu.xmm, o = r << 2, s = v.i32;
  x[o] = s[0]; x[o + 1] = s[1]; x[o + 2] = s[2]; x[o + 3] = s[3];
}

/** Linear address of a memory operand of `size` bytes; with `align`, #GP(0) unless it is 16-byte aligned
 *  (SDM Vol. 1, "Alignment of 128-bit memory operands": legacy SSE 16-byte operands must be aligned). */
export function xmmLin(cpu: CPU, d: Insn, size: number, write: boolean, align: boolean): number {
  const la = memLin(cpu, d, size, write);
  if (align && (la & 15) !== 0) throw new CpuFault(GP, 0);
  return la;
}

export function readMem128(cpu: CPU, la: number, v: Vec): void {
  const d = v.i32;
  d[0] = cpu.rd64(la); d[1] = cpu.vhi;
  d[2] = cpu.rd64(la + 8); d[3] = cpu.vhi;
}
/** 16-byte store: a page-crossing store checks both pages first so a fault leaves memory unchanged. */
export function writeMem128(cpu: CPU, la: number, v: Vec): void {
  if ((la & 0xfff) > 0xff0) cpu.probeWrite(la, 16);
  const s = v.i32;
  cpu.wr64(la, s[0], s[1]); cpu.wr64(la + 8, s[2], s[3]);
}

/** W operand (xmm register or m128) into v. `align`: legacy-SSE alignment rule applies. */
export function readW(cpu: CPU, d: Insn, v: Vec, align: boolean): void {
  if (d.rm >= 0) loadX(cpu, d.rm, v);
  else readMem128(cpu, xmmLin(cpu, d, 16, false, align), v);
}
/** The low `size` bytes (4 or 8) of a W operand into v: a register is copied whole; from memory only
 *  `size` bytes are read (no alignment requirement) and the rest of v is zeroed. */
export function readWlow(cpu: CPU, d: Insn, v: Vec, size: number): void {
  if (d.rm >= 0) { loadX(cpu, d.rm, v); return; }
  const la = memLin(cpu, d, size, false);
  const o = v.i32;
  if (size === 8) { o[0] = cpu.rd64(la); o[1] = cpu.vhi; }
  else { o[0] = cpu.rd32(la); o[1] = 0; }
  o[2] = 0; o[3] = 0;
}
/** Write v to a W operand (register or m128). */
export function writeW(cpu: CPU, d: Insn, v: Vec, align: boolean): void {
  if (d.rm >= 0) storeX(cpu, d.rm, v);
  else writeMem128(cpu, xmmLin(cpu, d, 16, true, align), v);
}
