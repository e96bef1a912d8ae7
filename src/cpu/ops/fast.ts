import type { CPU } from '../cpu.js';
import type { Insn, Handler } from '../insn.js';
import { LF_ADD, LF_SUB, LF_LOGIC } from '../flags.js';
import { DS, SS, SS_, GP, RSP } from '../regs.js';
import { CpuFault } from '../fault.js';

/**
 * Decode-time specialisation of the hottest forms (DESIGN.md "Speed on V8"): the decoder asks
 * `specialize(name, d)` for a handler that does the same thing as the generic one for this
 * particular instruction (register operands, 32/64-bit, simple 64-bit addressing), or null.
 * Each specialised handler is equivalent to its generic handler; the differential tests run
 * through both paths because they decode the same way.
 */
const TWO32 = 4294967296;
const CMP = 7;

type Op32 = (a: number, b: number) => number;
const OPS: (Op32 | null)[] = [
  (a, b) => (a + b) | 0, (a, b) => a | b, null, null, (a, b) => a & b, (a, b) => (a - b) | 0, (a, b) => a ^ b, (a, b) => (a - b) | 0,
];
const LFK = [LF_ADD, LF_LOGIC, 0, 0, LF_LOGIC, LF_SUB, LF_LOGIC, LF_SUB];

/** reg32 op= reg32 (or op imm when `imm`), for ADD OR AND SUB XOR CMP. */
function alu32(op: number, dst: number, src: number, useImm: boolean): Handler {
  const f = OPS[op]!, k = LFK[op], store = op !== CMP;
  if (useImm) {
    return (cpu: CPU, d: Insn) => {
      const a = cpu.lo[dst], b = d.imm, r = f(a, b);
      const lf = cpu.lf; lf.op = k; lf.size = 4; lf.a = a; lf.b = b; lf.res = r;
      if (store) { cpu.lo[dst] = r; cpu.hi[dst] = 0; }
    };
  }
  return (cpu: CPU) => {
    const a = cpu.lo[dst], b = cpu.lo[src], r = f(a, b);
    const lf = cpu.lf; lf.op = k; lf.size = 4; lf.a = a; lf.b = b; lf.res = r;
    if (store) { cpu.lo[dst] = r; cpu.hi[dst] = 0; }
  };
}

/** [base + disp] in 64-bit mode through DS or SS (flat; blocks are cached per decoder mode, so
 *  these handlers only ever run in 64-bit mode). */
function simple64(d: Insn): boolean {
  return d.rm < 0 && d.asize === 8 && d.base >= 0 && d.index < 0 && (d.seg === DS || d.seg === SS);
}
/** A non-canonical stack reference is #SS(0) (the generic path: CPU.linear). */
function ssCheck(la: number): number {
  if (la >= 140737488355328 || la < -140737488355328) throw new CpuFault(SS_, 0);
  return la;
}

/** RSP as a Number (64-bit mode). */
function rsp(cpu: CPU): number { return cpu.hi[RSP] * TWO32 + (cpu.lo[RSP] >>> 0); }
function setRsp(cpu: CPU, v: number): void { cpu.lo[RSP] = v >>> 0 | 0; cpu.hi[RSP] = Math.floor(v / TWO32) | 0; }
function canonicalTarget(t: number): number {
  if (t >= 140737488355328 || t < -140737488355328) throw new CpuFault(GP, 0);
  return t;
}

export function specialize(name: string, d: Insn): Handler | null {
  const s = d.osize;
  switch (name) {
    // 64-bit stack operations (stack size is always 8 in 64-bit mode)
    case 'push_z': {
      if (s !== 8) return null;
      const r = d.reg;
      return (cpu: CPU) => { const sp = rsp(cpu) - 8; cpu.wr64(ssCheck(sp), cpu.lo[r], cpu.hi[r]); setRsp(cpu, sp); };
    }
    case 'pop_z': {
      if (s !== 8) return null;
      const r = d.reg;
      return (cpu: CPU) => { const sp = rsp(cpu); const v = cpu.rd64(ssCheck(sp)), vh = cpu.vhi; setRsp(cpu, sp + 8); cpu.lo[r] = v; cpu.hi[r] = vh; };
    }
    case 'call': {
      if (s !== 8) return null;
      const rel = d.imm;
      return (cpu: CPU) => {
        const ret = cpu.nip, t = canonicalTarget(ret + rel), sp = rsp(cpu) - 8;
        cpu.wr64(ssCheck(sp), ret >>> 0 | 0, Math.floor(ret / TWO32) | 0);
        setRsp(cpu, sp);
        cpu.nip = t;
      };
    }
    case 'ret': {
      if (s !== 8 || d.row[1] === 'Iw') return null;
      return (cpu: CPU) => {
        const sp = rsp(cpu);
        const v = cpu.rd64(ssCheck(sp));
        const t = canonicalTarget(cpu.vhi * TWO32 + (v >>> 0));
        setRsp(cpu, sp + 8);
        cpu.nip = t;
      };
    }
    case 'alu_eg': case 'alu_ge': {
      if (d.rm < 0 || s !== 4 || OPS[d.op] === null) return null;
      return name === 'alu_eg' ? alu32(d.op, d.rm, d.reg, false) : alu32(d.op, d.reg, d.rm, false);
    }
    case 'alu_ei':
      if (d.rm < 0 || s !== 4 || OPS[d.op] === null) return null;
      return alu32(d.op, d.rm, 0, true);
    case 'mov_eg': case 'mov_ge': {
      const dstIsE = name === 'mov_eg';
      if (d.rm >= 0) {
        const dst = dstIsE ? d.rm : d.reg, src = dstIsE ? d.reg : d.rm;
        if (s === 8) return (cpu: CPU) => { cpu.lo[dst] = cpu.lo[src]; cpu.hi[dst] = cpu.hi[src]; };
        if (s === 4) return (cpu: CPU) => { cpu.lo[dst] = cpu.lo[src]; cpu.hi[dst] = 0; };
        return null;
      }
      if (!simple64(d) || (s !== 4 && s !== 8)) return null;
      const base = d.base, disp = d.disp, r = d.reg;
      if (d.seg === SS) {
        if (dstIsE) {
          return s === 8
            ? (cpu: CPU) => { cpu.wr64(ssCheck(cpu.hi[base] * TWO32 + (cpu.lo[base] >>> 0) + disp), cpu.lo[r], cpu.hi[r]); }
            : (cpu: CPU) => { cpu.wr32(ssCheck(cpu.hi[base] * TWO32 + (cpu.lo[base] >>> 0) + disp), cpu.lo[r]); };
        }
        return s === 8
          ? (cpu: CPU) => { cpu.lo[r] = cpu.rd64(ssCheck(cpu.hi[base] * TWO32 + (cpu.lo[base] >>> 0) + disp)); cpu.hi[r] = cpu.vhi; }
          : (cpu: CPU) => { cpu.lo[r] = cpu.rd32(ssCheck(cpu.hi[base] * TWO32 + (cpu.lo[base] >>> 0) + disp)); cpu.hi[r] = 0; };
      }
      if (dstIsE) {
        return s === 8
          ? (cpu: CPU) => { cpu.wr64(cpu.hi[base] * TWO32 + (cpu.lo[base] >>> 0) + disp, cpu.lo[r], cpu.hi[r]); }
          : (cpu: CPU) => { cpu.wr32(cpu.hi[base] * TWO32 + (cpu.lo[base] >>> 0) + disp, cpu.lo[r]); };
      }
      return s === 8
        ? (cpu: CPU) => { cpu.lo[r] = cpu.rd64(cpu.hi[base] * TWO32 + (cpu.lo[base] >>> 0) + disp); cpu.hi[r] = cpu.vhi; }
        : (cpu: CPU) => { cpu.lo[r] = cpu.rd32(cpu.hi[base] * TWO32 + (cpu.lo[base] >>> 0) + disp); cpu.hi[r] = 0; };
    }
  }
  return null;
}
