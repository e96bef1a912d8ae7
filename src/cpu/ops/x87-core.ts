import type { CPU } from '../cpu.js';
import { MODE_LONG } from '../cpu.js';
import type { Insn } from '../insn.js';
import type { X87 } from '../x87-state.js';
import { CpuFault } from '../fault.js';
import { CR0_EM, CR0_TS, CR0_NE, NM, MF, CS } from '../regs.js';
import { Ext, bitsToExt, floatBitsToExt, int64ToExt, packTiny } from '../x87-convert.js';
import { ea } from './operands.js';
import { rebias, lastTiny } from './x87-float.js';

/**
 * What every x87 handler shares: the #NM / #MF checks, the instruction and data pointers, the
 * exception flags and masks, the register stack, memory operands.
 */

// status word bits (SDM Vol. 1, "x87 FPU Status Register")
export const IE = 0x01, DE = 0x02, ZE = 0x04, OE = 0x08, UE = 0x10, PE = 0x20, SF = 0x40, ES = 0x80;
export const C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000;
export const CC_BITS = C0 | C1 | C2 | C3;

/**
 * #NM (SDM Vol. 3A, "Interrupt 7—Device Not Available Exception (#NM)"): any x87 instruction
 * with CR0.EM or CR0.TS set. For the non-waiting instructions (FNINIT FNCLEX FNSTSW FNSTCW
 * FNSTENV FNSAVE and the no-ops FNENI FNDISI FNSETPM) this is the only check.
 */
export function fpuNoWait(cpu: CPU): X87 {
  if (cpu.cr0 & (CR0_EM | CR0_TS)) throw new CpuFault(NM);
  return cpu.fpu;
}
/** #NM, then a pending unmasked exception (ES = 1) is reported before the instruction executes. */
export function fpuWait(cpu: CPU): X87 {
  if (cpu.cr0 & (CR0_EM | CR0_TS)) throw new CpuFault(NM);
  const f = cpu.fpu;
  if (f.sw & ES) pendingError(cpu);
  return f;
}

/**
 * Report a pending x87 exception (SDM Vol. 3A, "Interrupt 16—x87 FPU Floating-Point Error (#MF)";
 * Vol. 1, "x87 FPU Exception Synchronization"). CR0.NE = 1: #MF, a fault on the waiting
 * instruction. CR0.NE = 0 would be the MS-DOS-compatible path (the FPU asserts FERR#, the chipset
 * raises IRQ13 through the PIC, IGNNE#); vmxray does not model it and stops the machine instead.
 */
export function pendingError(cpu: CPU): never {
  if (cpu.cr0 & CR0_NE) throw new CpuFault(MF);
  const at = cpu.rip < 0 ? BigInt(cpu.rip) + (1n << 64n) : BigInt(cpu.rip);
  cpu.halt('unsupported', `pending unmasked x87 exception (status word 0x${cpu.fpu.statusWord().toString(16).padStart(4, '0')}) at 0x${at.toString(16)} with CR0.NE = 0: ` +
    'reporting it through FERR#/IRQ13 (MS-DOS compatibility mode) is not implemented; set CR0.NE to get #MF');
  throw new CpuFault(-1);
}

/** FOP: the low 3 bits of the first opcode byte (from the table row, "d8".."df") and the ModRM byte. */
function fopOf(d: Insn): number {
  const c = d.row[0].charCodeAt(1);
  return (((c <= 57 ? c - 56 : c - 95) & 7) << 8) | (d.modrm & 0xff);
}
/**
 * FIP/FCS/FOP, and FDP/FDS for an instruction with a memory operand (`operand` computed it):
 * recorded by every non-control instruction (FINCSTP, FDECSTP, FFREE and FNOP too, as on this
 * Intel host), after its memory accesses succeeded. vmxray updates the data pointer on every such
 * instruction and stores FCS/FDS: CPUID.(EAX=7,ECX=0):EBX bits 6 (FDP_EXCPTN_ONLY) and 13
 * (deprecated FCS/FDS) must read 0. (This Intel host has both bits set: there FDP, FCS and FDS
 * read 0 unless an unmasked exception occurred, and FOP is only recorded with an unmasked exception.)
 */
export function noteIp(cpu: CPU, d: Insn, f: X87, mem: boolean): void {
  f.fip = cpu.rip; f.fcs = cpu.segSel[CS]; f.fop = fopOf(d);
  if (mem) { f.fdp = lastOff; f.fds = cpu.segSel[d.seg]; }
}
let lastOff = 0;
/** Linear address of the memory operand (segment checks for `size` bytes). */
export function operand(cpu: CPU, d: Insn, size: number, write: boolean): number {
  const off = ea(cpu, d);
  const la = cpu.linear(d.seg, off, size, write);
  lastOff = off;
  return la;
}
/** Linear address + k, wrapping at 4 GiB outside 64-bit mode. */
export function at(cpu: CPU, la: number, k: number): number {
  return cpu.mode === MODE_LONG ? la + k : (la + k) >>> 0;
}

/**
 * Record exception flags (IE DE ZE OE UE PE, SF); true when one of them is unmasked — ES is then
 * set and the next waiting x87 instruction raises #MF.
 */
export function signal(f: X87, flags: number): boolean {
  const exc = flags & 0x7f;
  f.sw |= exc;
  if (exc & ~f.cw & 0x3f) { f.sw |= 0x8080; return true; }
  return false;
}
/** Stack overflow (C1 = 1) or underflow (C1 = 0): #IS = IE + SF (SDM Vol. 1, "Stack Overflow or Underflow Exception (#IS)"). True when unmasked. */
export function stackFault(f: X87, overflow: boolean): boolean {
  f.sw = (f.sw & ~C1) | (overflow ? C1 : 0);
  return signal(f, IE | SF);
}
export function pop(f: X87): void { f.setEmpty(f.top); f.top = (f.top + 1) & 7; }

/**
 * Push a value (FLD and friends). On overflow (the new top is not empty) the masked response
 * loads the real indefinite; unmasked, nothing changes. `flags` are exceptions of the load
 * itself (IE for an SNaN, DE for a denormal m32/m64).
 */
export function push(f: X87, v: Ext, flags: number): void {
  const r = (f.top - 1) & 7;
  if (!f.isEmpty(r)) {
    if (stackFault(f, true)) return;
    f.top = r; f.setIndefinite(r); f.setFull(r);
    return;
  }
  f.sw &= ~C1;
  // an unmasked #IA (SNaN) suppresses the load; an unmasked #D does not (the denormal m32/m64 value is loaded, as on this Intel host)
  if (flags && signal(f, flags) && (flags & ~f.cw & IE)) return;
  f.top = r; f.setExt(r, v); f.setFull(r);
}
/** Underflow with a register destination: masked, the destination gets the real indefinite. Returns true when it did (the caller may pop). */
export function underflowTo(f: X87, r: number): boolean {
  if (stackFault(f, false)) return false;
  f.setIndefinite(r); f.setFull(r);
  return true;
}

/**
 * Deliver an arithmetic result to physical register r with status `flags` (from x87-float):
 * unmasked IE/DE/ZE suppress it (returns false: no store, no pop); unmasked OE/UE deliver it with
 * the exponent re-biased by ∓24576; C1 = rounded up.
 */
export function deliver(f: X87, r: number, res: Ext, flags: number): boolean {
  f.sw &= ~C1;
  const unmasked = ~f.cw & 0x3f;
  const pre = flags & (IE | DE | ZE);
  if (pre & unmasked) { signal(f, pre); return false; }
  if (flags & OE & unmasked) {
    // … unless even the re-biased exponent is out of range (FSCALE by a huge amount): then ±∞ with PE and
    // C1 whatever the rounding control, or ±0 with PE (as this Intel host does)
    const f2 = rebias(-24576, res);
    if (f2 & OE) { res.set((res.se & 0x8000) | 0x7fff, 0x80000000, 0); flags = OE | PE | C1 | (flags & DE); }
    else flags = (f2 & ~OE) | OE | (flags & DE);
  } else if ((UE & unmasked) && lastTiny) {
    const f2 = rebias(24576, res);
    if (packTiny) { res.set(res.se & 0x8000, 0, 0); flags = UE | PE | (flags & DE); }
    else flags = (f2 & ~UE) | UE | (flags & DE);
  }
  f.setExt(r, res); f.setFull(r);
  if (flags & C1) f.sw |= C1;
  signal(f, flags & 0x3f);
  return true;
}

// ------------------------------------------------------------------ memory operands
/** Flags of the last readReal: DE for a denormal m32/m64 source (SDM FLD "#D: source is a denormal"). */
export let loadFlags = 0;
/** Read a real operand of `size` bytes (4, 8, 10) at la into `out` (exact). */
export function readReal(cpu: CPU, la: number, size: number, out: Ext): Ext {
  loadFlags = 0;
  if (size === 4) {
    const b = cpu.rd32(la) >>> 0;
    if ((b & 0x7f800000) === 0 && (b & 0x7fffff) !== 0) loadFlags = DE;
    return floatBitsToExt(b, out);
  }
  if (size === 8) {
    const lo = cpu.rd64(la) >>> 0, hi = cpu.vhi >>> 0;
    if ((hi & 0x7ff00000) === 0 && ((hi & 0xfffff) | lo) !== 0) loadFlags = DE;
    return bitsToExt(lo, hi, out);
  }
  const lo = cpu.rd32(la), hi = cpu.rd32(at(cpu, la, 4)), se = cpu.rd16(at(cpu, la, 8));
  return out.set(se, hi, lo);
}
/** Read a signed integer operand of `size` bytes (2, 4, 8) into `out` (exact). */
export function readInt(cpu: CPU, la: number, size: number, out: Ext): Ext {
  if (size === 2) { const v = (cpu.rd16(la) << 16) >> 16; return int64ToExt(v, v >> 31, out); }
  if (size === 4) { const v = cpu.rd32(la); return int64ToExt(v, v >> 31, out); }
  const lo = cpu.rd64(la);
  return int64ToExt(lo, cpu.vhi, out);
}
export function write80(cpu: CPU, la: number, se: number, hi: number, lo: number): void {
  cpu.probeWrite(la, 10);
  cpu.wr32(la, lo | 0); cpu.wr32(at(cpu, la, 4), hi | 0); cpu.wr16(at(cpu, la, 8), se & 0xffff);
}

/** Precision control bits of the control word → significand width (FADD FSUB FMUL FDIV FSQRT only). */
export function pcBits(f: X87): number { const pc = (f.cw >> 8) & 3; return pc === 0 ? 24 : pc === 2 ? 53 : 64; }
export function rcOf(f: X87): number { return (f.cw >> 10) & 3; }
