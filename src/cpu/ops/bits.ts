import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import { PARITY, arithFlags, setArith } from '../flags.js';
import { CF, PF, ZF } from '../regs.js';
import { ea, readE, readLa, writeLa } from './operands.js';

/**
 * Bit instructions: BT BTS BTR BTC, BSF BSR, TZCNT LZCNT, POPCNT. SDM Vol. 2, "BT—Bit Test",
 * "BTS—Bit Test and Set", "BTR—Bit Test and Reset", "BTC—Bit Test and Complement",
 * "BSF—Bit Scan Forward", "BSR—Bit Scan Reverse", "TZCNT—Count the Number of Trailing Zero
 * Bits", "LZCNT—Count the Number of Leading Zero Bits", "POPCNT—Return the Count of Number of
 * Bits Set to 1".
 *
 * Undefined flags — our choices (what this Intel host does, checked against
 * test/diff/fixtures/bit.json and bitscan.json with the flags unmasked): see each handler.
 */

const TWO32 = 4294967296;

/**
 * BT (op 0), BTS (1), BTR (2), BTC (3) with the bit offset in a register (0F A3/AB/B3/BB,
 * row 'Ev,Gv') or an imm8 (0F BA /4–/7, row 'Ev,Ib').
 *  - Register destination, or an immediate offset: the offset is taken modulo the operand width.
 *  - Memory destination with a register offset: the operand is a bit string. The offset is a
 *    SIGNED value of the operand size; the access is at EA + (offset SAR log2(width))·size, of
 *    the operand size, and the bit within it is offset mod width (SDM "BT—Bit Test":
 *    "bit-string addressing"). The address is wrapped to the address size. For 64-bit offsets
 *    beyond ±2^53 the displacement is approximate — such addresses are non-canonical anyway.
 * Flags: CF ← the selected bit. ZF is unchanged; OF SF AF PF are undefined — we leave them
 * unchanged, as the host does.
 */
function bt(cpu: CPU, d: Insn): void {
  const s = d.osize, w = s * 8, op = d.op;
  const immForm = d.row[1].charCodeAt(3) === 0x49; // 'Ev,Ib'
  let v: number, vh: number, pos: number, la = 0;
  if (d.rm >= 0) {
    pos = (immForm ? d.imm : cpu.lo[d.reg]) & (w - 1);
    v = cpu.getReg(d.rm, s); vh = cpu.vhi;
  } else if (immForm) {
    pos = d.imm & (w - 1);
    la = cpu.linear(d.seg, ea(cpu, d), s, op !== 0);
    v = readLa(cpu, la, s); vh = cpu.vhi;
  } else {
    const lo = cpu.lo[d.reg];
    pos = lo & (w - 1);
    // byte displacement of the addressed operand: (offset >> log2(w)) * s, offset signed
    let disp: number;
    switch (s) {
      case 2: disp = (((lo << 16) >> 16) >> 4) * 2; break;
      case 4: disp = (lo >> 5) * 4; break;
      default: disp = cpu.hi[d.reg] * 536870912 + (lo >>> 6) * 8; break; // hi·2^29 + (lo >>> 6)·8
    }
    let a = ea(cpu, d) + disp;
    if (d.asize === 8) {
      if (a >= 9223372036854775808) a -= 18446744073709551616;
      else if (a < -9223372036854775808) a += 18446744073709551616;
    } else if (d.asize === 4) a = a >= 0 ? a % TWO32 : (a % TWO32 + TWO32) % TWO32;
    else a &= 0xffff;
    la = cpu.linear(d.seg, a, s, op !== 0);
    v = readLa(cpu, la, s); vh = cpu.vhi;
  }
  const hiHalf = pos >= 32;
  const m = 1 << (pos & 31);
  const bit = ((hiHalf ? vh : v) & m) !== 0;
  setArith(cpu.lf, (arithFlags(cpu.lf) & ~CF) | (bit ? CF : 0));
  if (op === 0) return;
  let x = hiHalf ? vh : v;
  x = op === 1 ? x | m : op === 2 ? x & ~m : x ^ m;
  if (hiHalf) vh = x; else v = x;
  if (d.rm >= 0) cpu.setReg(d.rm, s, v, vh);
  else writeLa(cpu, la, s, v, vh);
}

// ------------------------------------------------------------------ scans and counts

/** Index of the lowest set bit of (v, vh) (not both zero). */
function ctz(v: number, vh: number): number {
  return v !== 0 ? 31 - Math.clz32(v & -v) : 63 - Math.clz32(vh & -vh);
}
/** Index of the highest set bit (size 8 uses vh; not zero). */
function msb(s: number, v: number, vh: number): number {
  return s === 8 && vh !== 0 ? 63 - Math.clz32(vh) : 31 - Math.clz32(v);
}
function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/**
 * BSF/BSR: source 0 → ZF = 1 and the destination is NOT written (the SDM calls its content
 * undefined; Intel hosts, like AMD, leave it unchanged — for a 32-bit operand also the upper half
 * of the 64-bit register, checked natively; Linux relies on this). Otherwise ZF = 0 and the
 * destination receives the bit index. CF OF SF AF PF are undefined: this host clears CF OF SF AF
 * and sets PF from the index (PF = 1 for a zero source, as for an index of 0).
 */
function bsf(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const v = readE(cpu, d, s), vh = s === 8 ? cpu.vhi : 0;
  if ((v | vh) === 0) { setArith(cpu.lf, ZF | PF); return; }
  const r = ctz(v, vh);
  cpu.setReg(d.reg, s, r, 0);
  setArith(cpu.lf, PARITY[r]);
}
function bsr(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const v = readE(cpu, d, s), vh = s === 8 ? cpu.vhi : 0;
  if ((v | vh) === 0) { setArith(cpu.lf, ZF | PF); return; }
  const r = msb(s, v, vh);
  cpu.setReg(d.reg, s, r, 0);
  setArith(cpu.lf, PARITY[r]);
}

/** TZCNT: the number of trailing zero bits (the width for 0). CF ← source = 0, ZF ← result = 0; OF SF AF PF undefined (see cntFlags). */
function tzcnt(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const v = readE(cpu, d, s), vh = s === 8 ? cpu.vhi : 0;
  const r = (v | vh) === 0 ? s * 8 : ctz(v, vh);
  cpu.setReg(d.reg, s, r, 0);
  cntFlags(cpu, r === s * 8, r === 0);
}
/** LZCNT: the number of leading zero bits (the width for 0). Flags as TZCNT. */
function lzcnt(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const v = readE(cpu, d, s), vh = s === 8 ? cpu.vhi : 0;
  const r = (v | vh) === 0 ? s * 8 : s * 8 - 1 - msb(s, v, vh);
  cpu.setReg(d.reg, s, r, 0);
  cntFlags(cpu, r === s * 8, r === 0);
}
/** OF SF AF PF are undefined (SDM): this host clears them. */
function cntFlags(cpu: CPU, cf: boolean, zf: boolean): void {
  setArith(cpu.lf, (cf ? CF : 0) | (zf ? ZF : 0));
}

/** POPCNT: OF SF AF CF PF cleared, ZF ← source = 0. */
function popcnt(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const v = readE(cpu, d, s), vh = s === 8 ? cpu.vhi : 0;
  const r = popcount32(v) + popcount32(vh);
  cpu.setReg(d.reg, s, r, 0);
  setArith(cpu.lf, r === 0 ? ZF : 0);
}

export const bitHandlers = { bt, bsf, bsr, tzcnt, lzcnt, popcnt };
