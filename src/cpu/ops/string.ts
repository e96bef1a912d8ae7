import type { CPU } from '../cpu.js';
import { MODE_LONG } from '../cpu.js';
import type { Insn } from '../insn.js';
import { getZF } from '../flags.js';
import { ES, RAX, RCX, RDX, RSI, RDI, DF, TF } from '../regs.js';
import { K_READ, K_WRITE, TLB_MASK } from '../tlb.js';
import { readLa, writeLa } from './operands.js';
import { compute, SUB } from './alu.js';
import { checkIo } from './io.js';

/**
 * String instructions MOVS CMPS SCAS LODS STOS INS OUTS with REP/REPE/REPNE (SDM Vol. 2 instruction
 * pages and "REP/REPE/REPZ/REPNE/REPNZ—Repeat String Operation Prefix").
 *
 * - The address size selects SI/DI/CX, ESI/EDI/ECX or RSI/RDI/RCX. 16-bit pointers wrap within 16
 *   bits and leave the rest of the register alone; 32-bit pointer updates are 32-bit register
 *   writes (zero-extended in 64-bit mode).
 * - The source segment is DS unless overridden; the destination is always ES (which 64-bit mode
 *   treats as base 0, like DS).
 * - A repeated instruction executes at most REP_CHUNK iterations per call and then sets
 *   `nip = rip`, so the run loop re-enters it; interrupts can be taken between chunks (hardware may
 *   take them between any two iterations). With RFLAGS.TF set, one iteration per call: the
 *   single-step trap then comes after every iteration, as on hardware.
 * - A fault in an iteration leaves RSI/RDI/RCX as the completed iterations left them, with RIP at
 *   the instruction (the registers are updated after each iteration's memory accesses succeed).
 * - REPE/REPNE end early only for CMPS and SCAS; with the other instructions F2 acts as REP.
 * - Fast path: REP MOVS / REP STOS with DF = 0 and 32/64-bit addressing copy or fill whole runs inside
 *   one source and one destination page directly in RAM through the TLB entries. It runs exactly the
 *   iterations the element-by-element path would, so icount and fault points do not depend on it.
 */
export const REP_CHUNK = 1024;
const TWO32 = 4294967296;
const COND_NONE = 0, COND_REPE = 1, COND_REPNE = 2;

/** Offset held in pointer register `r` at address size `a`. */
function ptr(cpu: CPU, r: number, a: number): number {
  return a === 8 ? cpu.hi[r] * TWO32 + (cpu.lo[r] >>> 0) : a === 4 ? cpu.lo[r] >>> 0 : cpu.lo[r] & 0xffff;
}
/** Add `delta` to register `r` at address size `a` (wrapping at that size). */
function adv(cpu: CPU, r: number, a: number, delta: number): void {
  if (a === 8) {
    const n = (cpu.lo[r] >>> 0) + delta;
    cpu.lo[r] = n | 0;
    if (n > 0xffffffff) cpu.hi[r] = (cpu.hi[r] + 1) | 0;
    else if (n < 0) cpu.hi[r] = (cpu.hi[r] - 1) | 0;
  } else if (a === 4) { cpu.lo[r] = (cpu.lo[r] + delta) | 0; cpu.hi[r] = 0; }
  else cpu.lo[r] = (cpu.lo[r] & ~0xffff) | ((cpu.lo[r] + delta) & 0xffff);
}
function countZero(cpu: CPU, a: number): boolean {
  return a === 8 ? (cpu.lo[RCX] | cpu.hi[RCX]) === 0 : a === 4 ? cpu.lo[RCX] === 0 : (cpu.lo[RCX] & 0xffff) === 0;
}
/** The count register as a Number, capped at `max`. */
function countUpTo(cpu: CPU, a: number, max: number): number {
  if (a === 8 && cpu.hi[RCX] !== 0) return max;
  const c = a === 2 ? cpu.lo[RCX] & 0xffff : cpu.lo[RCX] >>> 0;
  return c < max ? c : max;
}
function step(cpu: CPU, s: number): number { return cpu.eflags & DF ? -s : s; }

// ---- one iteration of each instruction
function movsOnce(cpu: CPU, d: Insn): void {
  const s = d.osize, a = d.asize;
  const v = readLa(cpu, cpu.linear(d.seg, ptr(cpu, RSI, a), s, false), s), vh = cpu.vhi;
  writeLa(cpu, cpu.linear(ES, ptr(cpu, RDI, a), s, true), s, v, vh);
  const k = step(cpu, s);
  adv(cpu, RSI, a, k); adv(cpu, RDI, a, k);
}
/** CMPS compares the source (DS:rSI) with the destination (ES:rDI): flags of [rSI] − [rDI]. */
function cmpsOnce(cpu: CPU, d: Insn): void {
  const s = d.osize, a = d.asize;
  const x = readLa(cpu, cpu.linear(d.seg, ptr(cpu, RSI, a), s, false), s), xh = cpu.vhi;
  const y = readLa(cpu, cpu.linear(ES, ptr(cpu, RDI, a), s, false), s), yh = cpu.vhi;
  compute(cpu, SUB, s, x, xh, y, yh);
  const k = step(cpu, s);
  adv(cpu, RSI, a, k); adv(cpu, RDI, a, k);
}
/** SCAS: flags of accumulator − [ES:rDI]. */
function scasOnce(cpu: CPU, d: Insn): void {
  const s = d.osize, a = d.asize;
  const y = readLa(cpu, cpu.linear(ES, ptr(cpu, RDI, a), s, false), s), yh = cpu.vhi;
  const x = cpu.getReg(RAX, s), xh = cpu.vhi;
  compute(cpu, SUB, s, x, xh, y, yh);
  adv(cpu, RDI, a, step(cpu, s));
}
function lodsOnce(cpu: CPU, d: Insn): void {
  const s = d.osize, a = d.asize;
  const v = readLa(cpu, cpu.linear(d.seg, ptr(cpu, RSI, a), s, false), s);
  cpu.setReg(RAX, s, v, cpu.vhi);
  adv(cpu, RSI, a, step(cpu, s));
}
function stosOnce(cpu: CPU, d: Insn): void {
  const s = d.osize, a = d.asize;
  const v = cpu.getReg(RAX, s), vh = cpu.vhi;
  writeLa(cpu, cpu.linear(ES, ptr(cpu, RDI, a), s, true), s, v, vh);
  adv(cpu, RDI, a, step(cpu, s));
}
/** INS: the destination is probed before the port is read, so a faulting store does not repeat the port's side effect. */
function insOnce(cpu: CPU, d: Insn): void {
  const s = d.osize, a = d.asize;
  const la = cpu.linear(ES, ptr(cpu, RDI, a), s, true);
  cpu.probeWrite(la, s);
  const v = cpu.io.read(cpu.lo[RDX] & 0xffff, s as 1 | 2 | 4);
  writeLa(cpu, la, s, v | 0, 0);
  adv(cpu, RDI, a, step(cpu, s));
}
function outsOnce(cpu: CPU, d: Insn): void {
  const s = d.osize, a = d.asize;
  const v = readLa(cpu, cpu.linear(d.seg, ptr(cpu, RSI, a), s, false), s);
  cpu.io.write(cpu.lo[RDX] & 0xffff, s as 1 | 2 | 4, v);
  adv(cpu, RSI, a, step(cpu, s));
}

type Once = (cpu: CPU, d: Insn) => void;
type Fast = (cpu: CPU, d: Insn, max: number) => number;

/** The REP driver: up to REP_CHUNK iterations (1 with TF), then resume later at the same instruction. */
function repeat(cpu: CPU, d: Insn, once: Once, cond: number, fast: Fast | null): void {
  const a = d.asize;
  let n = cpu.eflags & TF ? 1 : REP_CHUNK;
  const useFast = fast !== null && a !== 2 && !(cpu.eflags & (DF | TF));
  for (;;) {
    if (countZero(cpu, a)) return;
    if (n === 0) { cpu.nip = cpu.rip; return; }
    if (useFast) {
      const k = fast!(cpu, d, countUpTo(cpu, a, n));
      if (k > 0) { adv(cpu, RCX, a, -k); n -= k; continue; }
    }
    once(cpu, d);
    adv(cpu, RCX, a, -1);
    n--;
    if (cond === COND_REPE ? !getZF(cpu.lf) : cond === COND_REPNE && getZF(cpu.lf)) return;
  }
}

/**
 * How many whole elements from offset `off` (address size `a`) fit before the end of the page of
 * linear address `la` without wrapping the offset, capped at `max`; 0 if fewer than 2 (the
 * element-by-element path handles single and page-crossing elements).
 */
function runLength(la: number, off: number, a: number, s: number, max: number): number {
  let k = Math.floor((4096 - (la & 0xfff)) / s);
  if (a === 4) { const w = Math.floor((TWO32 - off) / s); if (w < k) k = w; }
  if (max < k) k = max;
  return k < 2 ? 0 : k;
}
/** Segment-limit check for a whole run outside 64-bit mode; false (use the slow path) if any part fails. */
function rangeOk(cpu: CPU, seg: number, off: number, len: number, write: boolean): boolean {
  if (cpu.mode === MODE_LONG) return true;
  try { cpu.linear(seg, off, len, write); return true; } catch { return false; }
}

/** REP MOVS fast path (DF = 0): returns the number of iterations done (0 = not applicable here). */
function movsFast(cpu: CPU, d: Insn, max: number): number {
  const s = d.osize, a = d.asize;
  const so = ptr(cpu, RSI, a), dof = ptr(cpu, RDI, a);
  const sla = cpu.linear(d.seg, so, s, false);
  const dla = cpu.linear(ES, dof, s, true);
  let k = runLength(sla, so, a, s, max);
  if (k) k = runLength(dla, dof, a, s, k);
  if (!k || !rangeOk(cpu, d.seg, so, k * s, false) || !rangeOk(cpu, ES, dof, k * s, true)) return 0;
  const user = cpu.cpl === 3;
  const tR = cpu.tR, tW = cpu.tW;
  const si = (sla >>> 12) & TLB_MASK, di = (dla >>> 12) & TLB_MASK;
  const sTag = sla - (sla & 0xfff), dTag = dla - (dla & 0xfff);
  // Translate in the order the slow path accesses memory (source read, then destination write).
  if (tR.tag[si] !== sTag) cpu.translateFor(sla, K_READ, user);
  if (tW.tag[di] !== dTag) cpu.translateFor(dla, K_WRITE, user);
  if (tR.tag[si] !== sTag || tW.tag[di] !== dTag) return 0;   // MMIO, code page, uncacheable: slow path
  const sv = tR.view[si], dv = tW.view[di];
  const sOff = sv.byteOffset + tR.off[si] + (sla & 0xfff), dOff = dv.byteOffset + tW.off[di] + (dla & 0xfff);
  const bytes = k * s;
  // Overlapping ranges must behave element by element (e.g. the MOVSB pattern-fill idiom).
  if (sv.buffer === dv.buffer && sOff < dOff + bytes && dOff < sOff + bytes) return 0;
  new Uint8Array(dv.buffer, dOff, bytes).set(new Uint8Array(sv.buffer, sOff, bytes));
  adv(cpu, RSI, a, bytes); adv(cpu, RDI, a, bytes);
  return k;
}
/** REP STOS fast path (DF = 0). */
function stosFast(cpu: CPU, d: Insn, max: number): number {
  const s = d.osize, a = d.asize;
  const dof = ptr(cpu, RDI, a);
  const dla = cpu.linear(ES, dof, s, true);
  const k = runLength(dla, dof, a, s, max);
  if (!k || !rangeOk(cpu, ES, dof, k * s, true)) return 0;
  const tW = cpu.tW, di = (dla >>> 12) & TLB_MASK, dTag = dla - (dla & 0xfff);
  if (tW.tag[di] !== dTag) cpu.translateFor(dla, K_WRITE, cpu.cpl === 3);
  if (tW.tag[di] !== dTag) return 0;
  const dv = tW.view[di], o = tW.off[di] + (dla & 0xfff);
  const v = cpu.lo[RAX];
  switch (s) {
    case 1: new Uint8Array(dv.buffer, dv.byteOffset + o, k).fill(v & 0xff); break;
    case 2: for (let i = 0; i < k; i++) dv.setUint16(o + i * 2, v, true); break;
    case 4: for (let i = 0; i < k; i++) dv.setInt32(o + i * 4, v, true); break;
    default: { const h = cpu.hi[RAX]; for (let i = 0; i < k; i++) { dv.setInt32(o + i * 8, v, true); dv.setInt32(o + i * 8 + 4, h, true); } }
  }
  adv(cpu, RDI, a, k * s);
  return k;
}

function condOf(d: Insn): number { return d.rep === 0xf3 ? COND_REPE : d.rep === 0xf2 ? COND_REPNE : COND_NONE; }

function movs(cpu: CPU, d: Insn): void { if (d.rep) repeat(cpu, d, movsOnce, COND_NONE, movsFast); else movsOnce(cpu, d); }
function cmps(cpu: CPU, d: Insn): void { if (d.rep) repeat(cpu, d, cmpsOnce, condOf(d), null); else cmpsOnce(cpu, d); }
function scas(cpu: CPU, d: Insn): void { if (d.rep) repeat(cpu, d, scasOnce, condOf(d), null); else scasOnce(cpu, d); }
function lods(cpu: CPU, d: Insn): void { if (d.rep) repeat(cpu, d, lodsOnce, COND_NONE, null); else lodsOnce(cpu, d); }
function stos(cpu: CPU, d: Insn): void { if (d.rep) repeat(cpu, d, stosOnce, COND_NONE, stosFast); else stosOnce(cpu, d); }
/** INS/OUTS: the I/O permission check comes first (SDM INS/OUTS operation), even for a zero count. */
function ins(cpu: CPU, d: Insn): void {
  checkIo(cpu, cpu.lo[RDX] & 0xffff, d.osize);
  if (d.rep) repeat(cpu, d, insOnce, COND_NONE, null); else insOnce(cpu, d);
}
function outs(cpu: CPU, d: Insn): void {
  checkIo(cpu, cpu.lo[RDX] & 0xffff, d.osize);
  if (d.rep) repeat(cpu, d, outsOnce, COND_NONE, null); else outsOnce(cpu, d);
}

export const stringHandlers = { movs, cmps, scas, lods, stos, ins, outs };
