import type { CPU } from './cpu.js';
import { CpuFault } from './fault.js';
import {
  CS, SS, DS, ES, FS, GS, RSP, GP, TS, SS_, AR_P, AR_S, AR_DB, arDpl, FLAGS_IMPLEMENTED,
  CF, PF, AF, ZF, SF, TF, IF, DF, OF, IOPL, NT, RF, VM, AC, ID,
} from './regs.js';
import { type Descriptor, readDescriptor, tssStack, setSegment, setNull, setAccessed, loadCode, loadRealSeg } from './segments.js';
import { pop } from './stack.js';
import { K_WRITE } from './tlb.js';

/**
 * Virtual-8086 mode without the virtual-mode extensions (SDM Vol. 3B, chapter "8086 Emulation";
 * CR4.VME/PVI are reserved in this model, CPUID.1:EDX.VME = 0):
 * - entering: IRET with a 32-bit operand size at CPL 0 whose EFLAGS image has VM = 1
 *   (Vol. 2 IRET, "RETURN-TO-VIRTUAL-8086-MODE");
 * - leaving: every interrupt or exception goes through a 32-bit (or 16-bit) interrupt/trap gate to a
 *   DPL-0 non-conforming code segment on the ring-0 stack of the TSS, with GS, FS, DS, ES saved on
 *   that stack and loaded with null selectors (Vol. 2 INT n, "INTERRUPT-FROM-VIRTUAL-8086-MODE";
 *   Vol. 3B "Handling an Interrupt or Exception Through a Protected-Mode Trap or Interrupt Gate");
 * - IRET inside virtual-8086 mode: real-address style when IOPL = 3, #GP(0) otherwise
 *   (Vol. 2 IRET, "RETURN-FROM-VIRTUAL-8086-MODE").
 * The other IOPL-sensitive instructions (CLI, STI, PUSHF, POPF, INT n) check IOPL in their handlers;
 * IN/OUT/INS/OUTS always consult the TSS I/O permission bit map (io.ts checkIo).
 * Segment loads in virtual-8086 mode are real-address style (segments.ts loadRealSeg).
 */

const TWO32 = 4294967296;

/** Load a segment register the virtual-8086 way (the CPU must already be in virtual-8086 mode). */
function loadV86Seg(cpu: CPU, seg: number, sel: number): void { loadRealSeg(cpu, seg, sel); }

/**
 * RETURN-TO-VIRTUAL-8086-MODE (SDM Vol. 2, IRET): the caller (IRET at CPL 0 in protected mode,
 * operand size 32, not IA-32e mode) has popped EIP, CS and EFLAGS; pop ESP, SS, ES, DS, FS, GS
 * (32-bit slots, the upper word of a selector slot is ignored), then load EFLAGS in full (VM, IOPL
 * and IF included) and every segment register with base = selector × 16, limit FFFFH; CPL becomes 3.
 * The pops fault (#SS(0), #PF) before anything changes; the caller restores ESP.
 * The upper 16 bits of the EIP image are ignored (the SDM lists #GP(0) for an EIP beyond the CS
 * limit; Bochs notes that real processors truncate EIP instead, and so do we). ESP is loaded in full.
 */
export function iretToV86(cpu: CPU, eip: number, cs: number, fl: number): void {
  const esp = pop(cpu, 4);
  const ss = pop(cpu, 4), es = pop(cpu, 4), ds = pop(cpu, 4), fs = pop(cpu, 4), gs = pop(cpu, 4);
  cpu.setFlags(fl, FLAGS_IMPLEMENTED); // VM = 1 first: the segment loads below are virtual-8086 style
  loadV86Seg(cpu, CS, cs); loadV86Seg(cpu, SS, ss);
  loadV86Seg(cpu, ES, es); loadV86Seg(cpu, DS, ds); loadV86Seg(cpu, FS, fs); loadV86Seg(cpu, GS, gs);
  cpu.lo[RSP] = esp;
  cpu.updateMode();
  cpu.nip = eip & 0xffff;
}

/**
 * IRET executed in virtual-8086 mode (SDM Vol. 2, IRET, "RETURN-FROM-VIRTUAL-8086-MODE"): with
 * IOPL = 3 a real-address style return that stays in virtual-8086 mode; VM, IOPL, VIP and VIF are
 * not changed by the popped image. (The SDM's 32-bit formula "(tempEFLAGS AND 257FD5H) OR (EFLAGS AND
 * 1A0000H)" would also load IOPL; we keep IOPL as POPF in virtual-8086 mode does — "IOPL ... unaffected" —
 * and as Bochs does for IRET. Not checked against hardware: a 64-bit Linux host cannot run vm86.)
 * IOPL < 3: #GP(0), the trap to the virtual-8086 monitor.
 */
export function iretInV86(cpu: CPU, size: number): void {
  if ((cpu.eflags & IOPL) !== IOPL) throw new CpuFault(GP, 0);
  const off = size === 4 ? pop(cpu, 4) >>> 0 : pop(cpu, 2) & 0xffff;
  const sel = pop(cpu, size) & 0xffff;
  const fl = pop(cpu, size);
  // #GP(0) "If the return instruction pointer is not within the return code segment limit" (V86 exceptions)
  if (off > cpu.segLimit[CS]) throw new CpuFault(GP, 0);
  let mask = CF | PF | AF | ZF | SF | TF | IF | DF | OF | NT;
  if (size === 4) mask |= RF | AC | ID;
  loadV86Seg(cpu, CS, sel);
  cpu.setFlags(fl, mask);
  cpu.nip = off;
}

/** INT n (opcode CD) in virtual-8086 mode is IOPL-sensitive: IOPL < 3 → #GP(0) (SDM Vol. 2, INT n operation;
 *  Vol. 3B table "Software Interrupt Handling Methods While in Virtual-8086 Mode", method 1 without VME).
 *  INT3, INTO and INT1 are not: they always go to the protected-mode handler. */
export function checkIntN(cpu: CPU): void {
  if ((cpu.eflags & IOPL) !== IOPL) throw new CpuFault(GP, 0);
}

/**
 * INTERRUPT-FROM-VIRTUAL-8086-MODE (SDM Vol. 2, INT n; Vol. 3B "Handling an Interrupt or Exception
 * Through a Protected-Mode Trap or Interrupt Gate", figure "Stack Usage on Transfers to Interrupt and
 * Exception Handling Routines from Virtual-8086 Mode"). Called from the protected-mode delivery once
 * the gate and the target code descriptor `d` passed the common checks (gate type, gate DPL for
 * software interrupts, present bits, code segment with DPL ≤ 3).
 * Frame on the ring-0 stack, from the old top down: GS, FS, DS, ES, SS, ESP, EFLAGS (VM = 1), CS,
 * EIP, [error code]; slots of 4 bytes for a 32-bit gate, 2 for a 16-bit gate (the pseudocode pushes
 * 16-bit values through a 16-bit gate; IRET cannot return to virtual-8086 mode from such a frame).
 * Every check and every stack write happens before any register changes.
 */
export function deliverFromV86(cpu: CPU, sel: number, d: Descriptor, target: number, gate32: boolean, intGate: boolean,
  code: number, ret: number, ext: number): void {
  // "IF new code-segment DPL ≠ 0 THEN #GP(error_code(new code-segment selector,0,EXT))"; a conforming
  // (or DPL = CPL) target: "IF VM = 1 THEN #GP(error_code(new code-segment selector,0,EXT))".
  if ((d.ar & 4) || arDpl(d.ar) !== 0) throw new CpuFault(GP, (sel & 0xfffc) + ext);
  // Stack for privilege level 0 from the current TSS.
  const t = tssStack(cpu, 0);
  const ssSel = t.ss & 0xffff;
  if ((ssSel & 0xfffc) === 0) throw new CpuFault(TS, ext);
  const sd = readDescriptor(cpu, ssSel, TS);
  if ((ssSel & 3) !== 0 || arDpl(sd.ar) !== 0 || !(sd.ar & AR_S) || (sd.ar & 0xa) !== 2) throw new CpuFault(TS, (ssSel & 0xfffc) + ext);
  if (!(sd.ar & AR_P)) throw new CpuFault(SS_, (ssSel & 0xfffc) + ext);

  const size = gate32 ? 4 : 2;
  const frame = [cpu.segSel[GS], cpu.segSel[FS], cpu.segSel[DS], cpu.segSel[ES], cpu.segSel[SS], cpu.lo[RSP],
    cpu.getFlags(), cpu.segSel[CS], ret >>> 0 | 0];
  if (code >= 0) frame.push(code);
  // "IF new stack does not have room for 40 bytes (error code pushed) or 36 bytes (no error code)
  //  THEN #SS(error_code(NewSS,0,EXT))" (18/20 bytes through a 16-bit gate).
  const big = (sd.ar & AR_DB) !== 0;
  let sp = big ? t.sp >>> 0 : t.sp & 0xffff;
  const las: number[] = [];
  for (let i = 0; i < frame.length; i++) {
    sp = big ? (sp - size) >>> 0 : (sp - size) & 0xffff;
    if (!stackFits(sd, sp, size)) throw new CpuFault(SS_, (ssSel & 0xfffc) + ext);
    las.push((sd.base + sp) % TWO32);
  }
  // "IF instruction pointer from IDT gate is not within new code-segment limits THEN #GP(EXT)"
  if (target > d.limit) throw new CpuFault(GP, ext);
  // Supervisor writes; translate every slot first so a #PF leaves memory and registers untouched.
  for (const la of las) { cpu.translateFor(la, K_WRITE, false); cpu.translateFor(la + size - 1, K_WRITE, false); }
  for (let i = 0; i < frame.length; i++) cpu.writeSlow(las[i], size, size === 4 ? frame[i] : frame[i] & 0xffff, false);

  // Commit: VM, TF, RF, NT cleared (IF too through an interrupt gate); SS:ESP from the TSS; the data
  // segment registers become null ("invalid for use in protected mode"); CS:EIP from the gate; CPL 0.
  cpu.eflags &= ~(VM | TF | RF | NT);
  if (intGate) cpu.eflags &= ~IF;
  setAccessed(cpu, sd);
  setSegment(cpu, SS, ssSel, sd.base, sd.limit, sd.ar);
  if (big) cpu.lo[RSP] = sp | 0; else cpu.lo[RSP] = (cpu.lo[RSP] & ~0xffff) | sp;
  for (const s of [GS, FS, DS, ES]) setNull(cpu, s, 0);
  setAccessed(cpu, d);
  loadCode(cpu, sel, d, 0);   // updateMode: VM = 0 → protected mode, CPL = SS.DPL = 0
  cpu.nip = target; cpu.rip = target;
}

/** Does the stack slot [sp, sp+size) lie within the (not yet loaded) stack segment `sd`? */
function stackFits(sd: Descriptor, sp: number, size: number): boolean {
  const type = sd.ar & 0xf;
  if ((type & 0xc) === 4) {   // expand-down: valid offsets are limit+1 .. FFFFH or FFFFFFFFH
    const top = sd.ar & AR_DB ? 0xffffffff : 0xffff;
    return sp > sd.limit && sp + size - 1 <= top;
  }
  return sp + size - 1 <= sd.limit;
}
