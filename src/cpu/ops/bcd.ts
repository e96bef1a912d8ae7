import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import { CpuFault } from '../fault.js';
import { PARITY, arithFlags, setArith } from '../flags.js';
import { CF, AF, ZF, SF, DE, RAX } from '../regs.js';
import { compute, ADD } from './alu.js';

/**
 * Decimal (BCD) adjustments and SALC — valid outside 64-bit mode only (rows are i64).
 * SDM Vol. 2, "DAA—Decimal Adjust AL After Addition", "DAS—Decimal Adjust AL After
 * Subtraction", "AAA—ASCII Adjust After Addition", "AAS—ASCII Adjust AL After Subtraction",
 * "AAM—ASCII Adjust AX After Multiply", "AAD—ASCII Adjust AX Before Division"; SALC (D6) is
 * undocumented in the SDM opcode map ("reserved"), it sets AL to 0xFF if CF else 0 and changes
 * no flags.
 *
 * Flags the SDM leaves undefined: we do what this Intel host does — measured by running every
 * AL value (and a spread of AH values) with every combination of CF, AF and the other flags in
 * a 32-bit process (gcc -m32) and comparing (test/cpu/arith.test.ts keeps a sample):
 *  - DAA/DAS: OF is cleared.
 *  - AAA/AAS: OF is cleared; SF ZF PF follow the final AL (after AL ← AL AND 0FH).
 *  - AAM: OF AF CF are cleared.
 *  - AAD: OF AF CF (and SF ZF PF) are those of the 8-bit addition AL + (AH·imm8 & 0xFF).
 *  - SALC leaves every flag unchanged; DAA/DAS/AAA/AAS/AAM/AAD never touch bits 16–31 of EAX.
 */

const al = (cpu: CPU): number => cpu.lo[RAX] & 0xff;
const setAl = (cpu: CPU, v: number): void => { cpu.lo[RAX] = (cpu.lo[RAX] & ~0xff) | (v & 0xff); };
const setAx = (cpu: CPU, v: number): void => { cpu.lo[RAX] = (cpu.lo[RAX] & ~0xffff) | (v & 0xffff); };
/** SF ZF PF of an 8-bit value. */
const szp8 = (v: number): number => PARITY[v] | (v === 0 ? ZF : 0) | (v & 0x80 ? SF : 0);

function daa(cpu: CPU): void {
  const f = arithFlags(cpu.lf);
  const old = al(cpu), oldCf = f & CF;
  let r = old, af = 0, cf = 0;
  if ((old & 0x0f) > 9 || (f & AF)) { r = (r + 6) & 0xff; af = AF; }
  if (old > 0x99 || oldCf) { r = (r + 0x60) & 0xff; cf = CF; }
  setAl(cpu, r);
  setArith(cpu.lf, szp8(r) | af | cf);
}
function das(cpu: CPU): void {
  const f = arithFlags(cpu.lf);
  const old = al(cpu), oldCf = f & CF;
  let r = old, af = 0, cf = 0;
  if ((old & 0x0f) > 9 || (f & AF)) { r = (r - 6) & 0xff; af = AF; if (oldCf || old < 6) cf = CF; }
  if (old > 0x99 || oldCf) { r = (r - 0x60) & 0xff; cf = CF; }
  setAl(cpu, r);
  setArith(cpu.lf, szp8(r) | af | cf);
}

/** AAA: IF AL[3:0] > 9 or AF THEN AX ← AX + 106H; AF ← CF ← 1 ELSE AF ← CF ← 0; AL ← AL AND 0FH. */
function aaa(cpu: CPU): void {
  const ax = cpu.lo[RAX] & 0xffff;
  const adjust = (ax & 0x0f) > 9 || (arithFlags(cpu.lf) & AF) !== 0;
  const r = (adjust ? ax + 0x106 : ax) & 0xff0f;
  setAx(cpu, r);
  setArith(cpu.lf, szp8(r & 0xff) | (adjust ? AF | CF : 0));
}
/** AAS: IF AL[3:0] > 9 or AF THEN AX ← AX − 6; AH ← AH − 1; AF ← CF ← 1 ELSE AF ← CF ← 0; AL ← AL AND 0FH. */
function aas(cpu: CPU): void {
  const ax = cpu.lo[RAX] & 0xffff;
  const adjust = (ax & 0x0f) > 9 || (arithFlags(cpu.lf) & AF) !== 0;
  const r = (adjust ? ax - 6 - 0x100 : ax) & 0xff0f;
  setAx(cpu, r);
  setArith(cpu.lf, szp8(r & 0xff) | (adjust ? AF | CF : 0));
}

/** AAM imm8: AH ← AL / imm8, AL ← AL mod imm8; #DE when imm8 = 0. SF ZF PF from AL; OF AF CF cleared. */
function aam(cpu: CPU, d: Insn): void {
  const base = d.imm & 0xff;
  if (base === 0) throw new CpuFault(DE);
  const a = al(cpu), q = Math.floor(a / base), r = a - q * base;
  setAx(cpu, (q << 8) | r);
  setArith(cpu.lf, szp8(r));
}
/**
 * AAD imm8: AL ← (AL + AH·imm8) & 0xFF, AH ← 0. SF ZF PF from AL; OF AF CF are undefined: the
 * host sets all six flags as an 8-bit ADD of AL and (AH·imm8) & 0xFF would.
 */
function aad(cpu: CPU, d: Insn): void {
  const ax = cpu.lo[RAX];
  const r = compute(cpu, ADD, 1, ax & 0xff, 0, (((ax >> 8) & 0xff) * (d.imm & 0xff)) & 0xff, 0);
  setAx(cpu, r);
}
/** SALC: AL ← CF ? 0xFF : 0 (flags unchanged). */
function salc(cpu: CPU): void {
  setAl(cpu, arithFlags(cpu.lf) & CF ? 0xff : 0);
}

export const bcdHandlers = { daa, das, aaa, aas, aam, aad, salc };
