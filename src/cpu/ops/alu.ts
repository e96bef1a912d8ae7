import type { CPU } from '../cpu.js';
import type { Insn } from '../insn.js';
import { LF_ADD, LF_ADC, LF_SUB, LF_SBB, LF_LOGIC, LF_INC, LF_DEC, getCF, setSome } from '../flags.js';
import { CF, OF } from '../regs.js';
import { readE, readG, writeG, memLin, readLa, writeLa, imm, maskTo } from './operands.js';

/**
 * ADD OR ADC SBB AND SUB XOR CMP, TEST, INC, DEC, NEG, NOT (SDM Vol. 2 instruction pages).
 * `compute` returns the result (high half in cpu.vhi for size 8) and records lazy flags.
 */
export const ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7;

export function compute(cpu: CPU, op: number, size: number, a: number, ah: number, b: number, bh: number): number {
  const f = cpu.lf;
  if (size === 4 && op !== ADC && op !== SBB) {
    // the common case: no carry-in, 32-bit
    const r = op === ADD ? (a + b) | 0 : op === SUB || op === CMP ? (a - b) | 0 : op === AND ? a & b : op === OR ? a | b : a ^ b;
    f.op = op === ADD ? LF_ADD : op === SUB || op === CMP ? LF_SUB : LF_LOGIC;
    f.size = 4; f.a = a; f.b = b; f.res = r;
    cpu.vhi = 0;
    return r;
  }
  let cin = 0;
  if (op === ADC || op === SBB) cin = getCF(f) ? 1 : 0;
  let r: number, rh = 0;
  if (size === 8) {
    switch (op) {
      case ADD: case ADC: {
        const lo = (a >>> 0) + (b >>> 0) + cin;
        r = lo | 0; rh = (ah + bh + (lo > 0xffffffff ? 1 : 0)) | 0; break;
      }
      case SUB: case SBB: case CMP: {
        const lo = (a >>> 0) - (b >>> 0) - cin;
        r = lo | 0; rh = (ah - bh - (lo < 0 ? 1 : 0)) | 0; break;
      }
      case AND: r = a & b; rh = ah & bh; break;
      case OR: r = a | b; rh = ah | bh; break;
      default: r = a ^ b; rh = ah ^ bh; break;
    }
  } else {
    a = maskTo(size, a); b = maskTo(size, b);
    switch (op) {
      case ADD: case ADC: r = maskTo(size, a + b + cin); break;
      case SUB: case SBB: case CMP: r = maskTo(size, a - b - cin); break;
      case AND: r = a & b; break;
      case OR: r = a | b; break;
      default: r = a ^ b; break;
    }
  }
  f.op = op === ADD ? LF_ADD : op === ADC ? LF_ADC : op === SUB || op === CMP ? LF_SUB : op === SBB ? LF_SBB : LF_LOGIC;
  f.size = size; f.a = a; f.aHi = ah; f.b = b; f.bHi = bh; f.res = r; f.resHi = rh; f.cin = cin;
  cpu.vhi = rh;
  return r;
}

/** E op= (b, bh): the destination is a register or a memory read-modify-write (CMP only reads). */
function aluE(cpu: CPU, d: Insn, b: number, bh: number): void {
  const s = d.osize;
  if (d.rm >= 0) {
    const a = cpu.getReg(d.rm, s), ah = cpu.vhi;
    const r = compute(cpu, d.op, s, a, ah, b, bh);
    if (d.op !== CMP) cpu.setReg(d.rm, s, r, cpu.vhi);
  } else {
    const la = memLin(cpu, d, s, d.op !== CMP);
    const a = readLa(cpu, la, s), ah = cpu.vhi;
    const r = compute(cpu, d.op, s, a, ah, b, bh);
    if (d.op !== CMP) writeLa(cpu, la, s, r, cpu.vhi);
  }
}
/** E op= G */
function alu_eg(cpu: CPU, d: Insn): void {
  const b = readG(cpu, d, d.osize);
  aluE(cpu, d, b, cpu.vhi);
}
/** G op= E */
function alu_ge(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const b = readE(cpu, d, s), bh = cpu.vhi;
  const a = readG(cpu, d, s), ah = cpu.vhi;
  const r = compute(cpu, d.op, s, a, ah, b, bh);
  if (d.op !== CMP) writeG(cpu, d, s, r, cpu.vhi);
}
/** E op= imm */
function alu_ei(cpu: CPU, d: Insn): void { aluE(cpu, d, imm(d, d.osize), d.immHi); }
/** AL/AX/EAX/RAX op= imm */
function alu_ai(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const a = cpu.getReg(0, s), ah = cpu.vhi;
  const r = compute(cpu, d.op, s, a, ah, imm(d, s), d.immHi);
  if (d.op !== CMP) cpu.setReg(0, s, r, cpu.vhi);
}

function test_eg(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const b = readG(cpu, d, s), bh = cpu.vhi;
  const a = readE(cpu, d, s);
  compute(cpu, AND, s, a, cpu.vhi, b, bh);
}
function test_ei(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const a = readE(cpu, d, s);
  compute(cpu, AND, s, a, cpu.vhi, imm(d, s), d.immHi);
}
function test_ai(cpu: CPU, d: Insn): void {
  const s = d.osize;
  const a = cpu.getReg(0, s);
  compute(cpu, AND, s, a, cpu.vhi, imm(d, s), d.immHi);
}

/** INC/DEC keep CF (SDM: "The CF flag is not affected"). */
function incdec(cpu: CPU, s: number, a: number, ah: number, dec: boolean): number {
  const f = cpu.lf;
  const cf = getCF(f) ? 1 : 0;
  let r: number, rh = 0;
  if (s === 8) {
    if (dec) { r = (a - 1) | 0; rh = a === 0 ? (ah - 1) | 0 : ah; }
    else { r = (a + 1) | 0; rh = r === 0 ? (ah + 1) | 0 : ah; }
  } else { a = maskTo(s, a); r = maskTo(s, dec ? a - 1 : a + 1); }
  f.op = dec ? LF_DEC : LF_INC; f.size = s; f.a = a; f.aHi = ah; f.b = 1; f.bHi = 0; f.res = r; f.resHi = rh; f.cin = cf;
  cpu.vhi = rh;
  return r;
}
function inc(cpu: CPU, d: Insn): void {
  const s = d.osize;
  if (d.rm >= 0) { const a = cpu.getReg(d.rm, s); const r = incdec(cpu, s, a, cpu.vhi, false); cpu.setReg(d.rm, s, r, cpu.vhi); return; }
  const la = memLin(cpu, d, s, true);
  const a = readLa(cpu, la, s);
  const r = incdec(cpu, s, a, cpu.vhi, false);
  writeLa(cpu, la, s, r, cpu.vhi);
}
function dec(cpu: CPU, d: Insn): void {
  const s = d.osize;
  if (d.rm >= 0) { const a = cpu.getReg(d.rm, s); const r = incdec(cpu, s, a, cpu.vhi, true); cpu.setReg(d.rm, s, r, cpu.vhi); return; }
  const la = memLin(cpu, d, s, true);
  const a = readLa(cpu, la, s);
  const r = incdec(cpu, s, a, cpu.vhi, true);
  writeLa(cpu, la, s, r, cpu.vhi);
}
function inc_z(cpu: CPU, d: Insn): void { const s = d.osize; cpu.setReg(d.reg, s, incdec(cpu, s, cpu.getReg(d.reg, s), 0, false), 0); }
function dec_z(cpu: CPU, d: Insn): void { const s = d.osize; cpu.setReg(d.reg, s, incdec(cpu, s, cpu.getReg(d.reg, s), 0, true), 0); }
function neg(cpu: CPU, d: Insn): void {
  const s = d.osize;
  if (d.rm >= 0) { const a = cpu.getReg(d.rm, s); const r = compute(cpu, SUB, s, 0, 0, a, cpu.vhi); cpu.setReg(d.rm, s, r, cpu.vhi); return; }
  const la = memLin(cpu, d, s, true);
  const a = readLa(cpu, la, s);
  const r = compute(cpu, SUB, s, 0, 0, a, cpu.vhi);
  writeLa(cpu, la, s, r, cpu.vhi);
}
function not(cpu: CPU, d: Insn): void {
  const s = d.osize;
  if (d.rm >= 0) { const a = cpu.getReg(d.rm, s); cpu.setReg(d.rm, s, maskTo(s, ~a), ~cpu.vhi); return; }
  const la = memLin(cpu, d, s, true);
  const a = readLa(cpu, la, s);
  writeLa(cpu, la, s, maskTo(s, ~a), ~cpu.vhi);
}

/** ADCX / ADOX (ADX): unsigned add with carry through CF only / OF only; other flags unchanged (SDM ADCX, ADOX). */
function adx(cpu: CPU, d: Insn, flag: number): void {
  const s = d.osize;
  const cur = cpu.getFlags();
  const cin = cur & flag ? 1 : 0;
  const b = readE(cpu, d, s), bh = cpu.vhi;
  const a = cpu.getReg(d.reg, s), ah = cpu.vhi;
  let carry: number;
  if (s === 8) {
    const lo = (a >>> 0) + (b >>> 0) + cin;
    const hi = (ah >>> 0) + (bh >>> 0) + (lo > 0xffffffff ? 1 : 0);
    carry = hi > 0xffffffff ? 1 : 0;
    cpu.setReg(d.reg, 8, lo | 0, hi | 0);
  } else {
    const r = (a >>> 0) + (b >>> 0) + cin;
    carry = r > 0xffffffff ? 1 : 0;
    cpu.setReg(d.reg, 4, r | 0, 0);
  }
  setSome(cpu.lf, flag, carry ? flag : 0);
}
function adcx(cpu: CPU, d: Insn): void { adx(cpu, d, CF); }
function adox(cpu: CPU, d: Insn): void { adx(cpu, d, OF); }

export const aluHandlers = { adcx, adox, alu_eg, alu_ge, alu_ei, alu_ai, test_eg, test_ei, test_ai, inc, dec, inc_z, dec_z, neg, not };
