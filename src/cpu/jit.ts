import type { CPU } from './cpu.js';
import type { Insn } from './insn.js';
import { I_LOCK } from './insn.js';
import { compute } from './ops/alu.js';
import { LF_ADD, LF_SUB, LF_LOGIC, condition } from './flags.js';
import { DS, SS } from './regs.js';
import { TLB_MASK } from './tlb.js';
import { DEC64 } from './cpu.js';
import { nearTarget } from './ops/control.js';

/**
 * Hot-block compiler (DESIGN.md #3, "Speed on V8"): a block that ran often becomes one
 * JavaScript function (`new Function`). Register-only instructions that cannot fault are
 * inlined; every other instruction calls its handler exactly as the interpreter does, with RIP,
 * the next RIP and the instruction index set first, so faults, device timing (syncClock) and
 * branches behave identically. The function returns how many instructions retired.
 * VMXRAY_JIT=0 turns compilation off (for comparing behaviour).
 */
export type CompiledBlock = (cpu: CPU, d: Insn[], lo: Int32Array, hi: Int32Array, compute: typeof import('./ops/alu.js').compute, budget: number) => number;

export const JIT_ENABLED = process.env.VMXRAY_JIT !== '0';
export const JIT_THRESHOLD = 16;

const LFK = [LF_ADD, LF_LOGIC, -1, -1, LF_LOGIC, LF_SUB, LF_LOGIC, LF_SUB];
const OPEXPR = ['(x + y) | 0', 'x | y', '', '', 'x & y', '(x - y) | 0', 'x ^ y', '(x - y) | 0'];

function handlerName(d: Insn): string { return d.row[4]?.h ?? d.row[2]; }

/**
 * JS for ALU operation `op` (ADD OR AND SUB XOR CMP) on operands already held in consts x, y
 * (and x2, y2 for size 8): declares r (and rh) and records the lazy flags exactly as alu.ts compute().
 */
function aluCode(op: number, size: number): string {
  if (size === 4) return `const r = ${OPEXPR[op]}; lf.op = ${LFK[op]}; lf.size = 4; lf.a = x; lf.b = y; lf.res = r;`;
  if (LFK[op] === LF_LOGIC) {
    const e = OPEXPR[op];
    return `const r = ${e}, rh = ${e.replace(/x/g, 'x2').replace(/y/g, 'y2')}; lf.op = ${LF_LOGIC}; lf.size = 8; lf.a = x; lf.aHi = x2; lf.b = y; lf.bHi = y2; lf.res = r; lf.resHi = rh;`;
  }
  const add = op === 0;
  return `const l = ${add ? '(x >>> 0) + (y >>> 0)' : '(x >>> 0) - (y >>> 0)'}, r = l | 0;` +
    ` const rh = ${add ? '(x2 + y2 + (l > 0xffffffff ? 1 : 0)) | 0' : '(x2 - y2 - (l < 0 ? 1 : 0)) | 0'};` +
    ` lf.op = ${LFK[op]}; lf.size = 8; lf.a = x; lf.aHi = x2; lf.b = y; lf.bHi = y2; lf.res = r; lf.resHi = rh; lf.cin = 0;`;
}

/** JavaScript for an instruction that cannot fault and touches only registers and flags, or null. */
function inline(d: Insn): string | null {
  if (d.flags & I_LOCK) return null;
  const name = handlerName(d), s = d.osize;
  switch (name) {
    case 'mov_eg': case 'mov_ge': {
      if (d.rm < 0 || d.rm >= 16 || d.reg >= 16) return null;
      const [dst, src] = name === 'mov_eg' ? [d.rm, d.reg] : [d.reg, d.rm];
      if (s === 8) return `lo[${dst}] = lo[${src}]; hi[${dst}] = hi[${src}];`;
      if (s === 4) return `lo[${dst}] = lo[${src}]; hi[${dst}] = 0;`;
      return null;
    }
    case 'mov_zi':
      if (d.reg >= 16) return null;
      if (s === 8) return `lo[${d.reg}] = ${d.imm | 0}; hi[${d.reg}] = ${d.immHi | 0};`;
      if (s === 4) return `lo[${d.reg}] = ${d.imm | 0}; hi[${d.reg}] = 0;`;
      return null;
    case 'alu_eg': case 'alu_ge': case 'alu_ei': case 'alu_ai': {
      const op = d.op;
      if (LFK[op] < 0) return null;
      let dst: number, src: string;
      if (name === 'alu_ai') { dst = 0; src = `${d.imm | 0}`; }
      else {
        if (d.rm < 0 || d.rm >= 16) return null;
        if (name === 'alu_eg') { dst = d.rm; src = d.reg >= 16 ? '' : `lo[${d.reg}]`; }
        else if (name === 'alu_ge') { dst = d.reg; src = `lo[${d.rm}]`; }
        else { dst = d.rm; src = `${d.imm | 0}`; }
        if (!src || dst >= 16) return null;
      }
      const store = op !== 7;
      if (s === 4) {
        return `{ const x = lo[${dst}], y = ${src}, r = ${OPEXPR[op]}; lf.op = ${LFK[op]}; lf.size = 4; lf.a = x; lf.b = y; lf.res = r;` +
          (store ? ` lo[${dst}] = r; hi[${dst}] = 0;` : '') + ' }';
      }
      if (s === 8) {
        const yh = name === 'alu_eg' ? `hi[${d.reg}]` : name === 'alu_ge' ? `hi[${d.rm}]` : `${d.immHi | 0}`;
        return `{ const x = lo[${dst}], y = ${src}, x2 = hi[${dst}], y2 = ${yh}; ${aluCode(op, 8)}` +
          (store ? ` lo[${dst}] = r; hi[${dst}] = rh;` : '') + ' }';
      }
      return null;
    }
    case 'test_eg':
      if (d.rm < 0 || d.rm >= 16 || d.reg >= 16 || s !== 4) return null;
      return `{ const x = lo[${d.rm}], y = lo[${d.reg}]; lf.op = ${LF_LOGIC}; lf.size = 4; lf.a = x; lf.b = y; lf.res = x & y; }`;
    case 'inc': case 'dec': case 'inc_z': case 'dec_z': {
      const r = name.endsWith('_z') ? d.reg : d.rm;
      if (r < 0 || r >= 16 || (s !== 4 && s !== 8)) return null;
      if (s === 8) {
        const dec = name.startsWith('dec');
        return `{ const c = getCF(lf) ? 1 : 0, x = lo[${r}], x2 = hi[${r}], v = (x ${dec ? '-' : '+'} 1) | 0;` +
          ` const vh = ${dec ? `x === 0 ? (x2 - 1) | 0 : x2` : `v === 0 ? (x2 + 1) | 0 : x2`};` +
          ` lf.op = ${dec ? 7 : 6}; lf.size = 8; lf.a = x; lf.aHi = x2; lf.b = 1; lf.bHi = 0; lf.res = v; lf.resHi = vh; lf.cin = c; lo[${r}] = v; hi[${r}] = vh; }`;
      }
      const dec = name.startsWith('dec');
      // INC/DEC keep CF: record it as the carry-in (flags.ts LF_INC/LF_DEC)
      return `{ const c = getCF(lf) ? 1 : 0, x = lo[${r}], v = (x ${dec ? '-' : '+'} 1) | 0; lf.op = ${dec ? 7 : 6}; lf.size = 4; lf.a = x; lf.aHi = 0; lf.b = 1; lf.bHi = 0; lf.res = v; lf.resHi = 0; lf.cin = c; lo[${r}] = v; hi[${r}] = 0; }`;
    }
  }
  return null;
}

/**
 * Loads and stores through [base + disp] in 64-bit mode, inlined with the TLB fast path of
 * CPU.rd32/rd64/wr32/wr64; a TLB miss (or a non-canonical address, which never matches a tag)
 * calls the handler exactly as the generic path does. Write entries never map pages holding
 * decoded code, so an inlined store cannot modify this block.
 */
function inlineMem(d: Insn, k: number, off: number, next: number, slowTail: string): string | null {
  if (d.flags & I_LOCK) return null;
  if (d.rm >= 0 || d.asize !== 8 || d.base < 0 || d.index >= 0 || (d.seg !== DS && d.seg !== SS)) return null;
  const name = handlerName(d), s = d.osize;
  const slow = `{ cpu.insnIdx = ${k}; cpu.rip = r0 + ${off}; cpu.nip = r0 + ${next}; d[${k}].fn(cpu, d[${k}]);${slowTail} }`;
  const la = `const la = hi[${d.base}] * 4294967296 + (lo[${d.base}] >>> 0) + ${d.disp}, o = la & 0xfff, ti = (la >>> 12) & ${TLB_MASK}`;
  const maxOff = s === 8 ? 0xff8 : 0xffc;
  if (s !== 4 && s !== 8) return null;
  const get = (v: string, p: string) => s === 8 ? `const ${v} = V.getInt32(${p}, true), ${v}2 = V.getInt32(${p} + 4, true);` : `const ${v} = V.getInt32(${p}, true), ${v}2 = 0;`;
  const hit = (set: 'tR' | 'tW', body: string) =>
    `{ ${la}, T = cpu.${set}; if (T.tag[ti] === la - o && o <= ${maxOff}) { const V = T.view[ti], p = T.off[ti] + o; ${body} } else ${slow} }`;
  if (d.reg >= 16) return null;
  switch (name) {
    case 'movzx': case 'movsx': {
      // [mem] byte/word → r32/r64 (movsx: sign-extended, high half of r64 the sign)
      const w = d.size2;
      if (w !== 1 && w !== 2) return null;
      const rd = w === 1 ? (name === 'movzx' ? 'V.getUint8(p)' : 'V.getInt8(p)') : (name === 'movzx' ? 'V.getUint16(p, true)' : 'V.getInt16(p, true)');
      const hiv = name === 'movzx' || s === 4 ? '0' : 'v >> 31';
      const mo = w === 1 ? 0xfff : 0xffe;
      return `{ ${la}, T = cpu.tR; if (T.tag[ti] === la - o && o <= ${mo}) { const V = T.view[ti], p = T.off[ti] + o; const v = ${rd}; lo[${d.reg}] = v; hi[${d.reg}] = ${hiv}; } else ${slow} }`;
    }
    case 'mov_ge':
      return hit('tR', s === 8 ? `lo[${d.reg}] = V.getInt32(p, true); hi[${d.reg}] = V.getInt32(p + 4, true);` : `lo[${d.reg}] = V.getInt32(p, true); hi[${d.reg}] = 0;`);
    case 'mov_eg':
      return hit('tW', s === 8 ? `V.setInt32(p, lo[${d.reg}], true); V.setInt32(p + 4, hi[${d.reg}], true);` : `V.setInt32(p, lo[${d.reg}], true);`);
    case 'mov_ei':
      return hit('tW', s === 8 ? `V.setInt32(p, ${d.imm | 0}, true); V.setInt32(p + 4, ${d.immHi | 0}, true);` : `V.setInt32(p, ${d.imm | 0}, true);`);
    case 'alu_ge': {           // reg op= [mem]
      if (LFK[d.op] < 0) return null;
      return hit('tR', `${get('y', 'p')} const x = lo[${d.reg}], x2 = hi[${d.reg}]; ${aluCode(d.op, s)}` +
        (d.op !== 7 ? (s === 8 ? ` lo[${d.reg}] = r; hi[${d.reg}] = rh;` : ` lo[${d.reg}] = r; hi[${d.reg}] = 0;`) : ''));
    }
    case 'alu_eg': case 'alu_ei': {   // [mem] op= reg/imm (CMP only reads)
      if (LFK[d.op] < 0) return null;
      const y = name === 'alu_eg' ? `const y = lo[${d.reg}], y2 = hi[${d.reg}];` : `const y = ${d.imm | 0}, y2 = ${d.immHi | 0};`;
      const store = d.op !== 7 ? (s === 8 ? ' V.setInt32(p, r, true); V.setInt32(p + 4, rh, true);' : ' V.setInt32(p, r, true);') : '';
      return hit(d.op === 7 ? 'tR' : 'tW', `${get('x', 'p')} ${y} ${aluCode(d.op, s)}${store}`);
    }
  }
  return null;
}

/** Handlers that, with register operands only, can neither fault nor branch: called directly, no RIP bookkeeping. */
const PURE_REG = new Set(['shift', 'shld', 'shrd', 'movzx', 'movsx', 'movsxd', 'cmovcc', 'setcc', 'imul2', 'imul3', 'mul', 'imul1',
  'bt', 'bsf', 'bsr', 'tzcnt', 'lzcnt', 'popcnt', 'xchg', 'xchg_ax', 'lea', 'cbw', 'cwd', 'not', 'neg', 'bswap', 'test_ei', 'test_eg',
  'alu_eg', 'alu_ge', 'alu_ei', 'alu_ai', 'inc', 'dec', 'inc_z', 'dec_z', 'mov_eg', 'mov_ge', 'mov_ei', 'mov_zi', 'clc', 'stc', 'cmc', 'cld', 'std', 'nop']);
function pureCall(d: Insn): boolean {
  const name = handlerName(d);
  if (!PURE_REG.has(name) || (d.flags & I_LOCK)) return false;
  if (name === 'lea') return true; // computes an address, never accesses memory
  // every operand a register: no ModRM memory operand (rm >= 0) or no ModRM at all
  return d.rm >= 0 || d.modrm < 0;
}

/** Is this block a loop onto itself (last instruction a relative JMP/Jcc to the block start)? */
function selfLoop(insns: Insn[]): boolean {
  const last = insns[insns.length - 1];
  const name = handlerName(last);
  return (name === 'jcc' || name === 'jmp') && last.off + last.len + last.imm === 0;
}

/**
 * Compile a block; returns null if nothing would be gained (no instruction inlined and ≤ 2 instructions).
 * A block that jumps back to its own start keeps looping inside the function while the budget
 * allows and nothing happened that the run loop must see between blocks (a port or MMIO access,
 * a write to decoded code, leaving the block); the budget already ends at the next device
 * deadline, so interrupts arrive at the same instruction count as without the loop.
 */
export function compileBlock(insns: Insn[], getCF: (lf: unknown) => boolean, mode: number): CompiledBlock | null {
  const parts: string[] = ['const lf = cpu.lf; const r0 = cpu.rip; let t = 0;', 'for (;;) {'];
  let inlined = 0, lastInline = false;
  const n = insns.length;
  for (let k = 0; k < n; k++) {
    const d = insns[k];
    const off = d.off, next = d.off + d.len;
    const code = inline(d) ?? (mode === DEC64 ? inlineMem(d, k, off, next, ` if (cpu.codeDirty) { cpu.rip = cpu.nip; return t + ${k + 1}; }`) : null);
    if (code !== null) { parts.push(code); inlined++; if (k === n - 1) lastInline = true; continue; }
    if (k < n - 1 && pureCall(d)) { parts.push(`d[${k}].fn(cpu, d[${k}]);`); inlined++; continue; }
    if (k === n - 1 && handlerName(d) === 'jcc') {
      // the block's conditional branch, inline: target checks (canonical / CS limit) as in the handler
      parts.push(`if (condition(lf, ${d.op})) { cpu.insnIdx = ${k}; cpu.rip = r0 + ${off}; cpu.rip = nearTarget(cpu, ${d.osize}, r0 + ${next + d.imm}); } else cpu.rip = r0 + ${next};`);
      inlined++;
      continue;
    }
    parts.push(`cpu.insnIdx = ${k}; cpu.rip = r0 + ${off}; cpu.nip = r0 + ${next}; d[${k}].fn(cpu, d[${k}]);`);
    // d.next: where this block goes on (the fall-through, or a followed JMP/CALL target)
    if (k < n - 1) parts.push(`if (cpu.nip !== r0 + ${d.next} || cpu.codeDirty) { cpu.rip = cpu.nip; return t + ${k + 1}; }`);
    else parts.push('cpu.rip = cpu.nip;');
  }
  const last = insns[n - 1];
  if (lastInline) parts.push(`cpu.rip = r0 + ${last.off + last.len};`);
  if (inlined === 0 && n <= 2 && !selfLoop(insns)) return null;
  parts.push(`t += ${n};`);
  if (selfLoop(insns)) {
    parts.push(`if (cpu.rip !== r0 || t + ${n} > budget || cpu.codeDirty || cpu.ioHappened) return t;`);
    parts.push(`cpu.blockIcount += ${n};`);
  } else parts.push('return t;');
  parts.push('}');
  const body = parts.join('\n');
  const factory = new Function('getCF', 'condition', 'nearTarget', `return function block(cpu, d, lo, hi, compute, budget) {\n${body}\n};`);
  return factory(getCF, condition, nearTarget) as CompiledBlock;
}
export { compute };
