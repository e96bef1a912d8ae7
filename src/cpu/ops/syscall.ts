import type { CPU } from '../cpu.js';
import { MODE_LONG, MODE_REAL } from '../cpu.js';
import type { Insn } from '../insn.js';
import { I_REXW } from '../insn.js';
import { CpuFault } from '../fault.js';
import { CS, SS, GS, RCX, RDX, RSP, GP, UD, IF, RF, VM, EFER_SCE, EFER_LMA, FLAGS_IMPLEMENTED } from '../regs.js';
import { setSegment } from '../segments.js';
import { setReg64n } from '../stack.js';
import {
  IA32_STAR, IA32_LSTAR, IA32_FMASK, IA32_SYSENTER_CS, IA32_SYSENTER_ESP, IA32_SYSENTER_EIP, IA32_KERNEL_GS_BASE,
  join, split, canonical,
} from '../msr.js';

/**
 * Fast system calls (SDM Vol. 2: SYSCALL, SYSRET, SYSENTER, SYSEXIT, SWAPGS; Vol. 3A "Fast System
 * Calls in 64-Bit Mode"). CS and SS are loaded with the fixed flat descriptors the SDM's Operation
 * sections list, not from the GDT (software must keep the GDT consistent; nothing is checked).
 */

// Fixed access rights (VMCS format): type | S | DPL | P | L | D/B | G.
const AR_CS64_0 = 0xa09b, AR_CS32_0 = 0xc09b, AR_SS_0 = 0xc093;
const AR_CS64_3 = 0xa0fb, AR_CS32_3 = 0xc0fb, AR_SS_3 = 0xc0f3;
const FLAT = 0xffffffff;

function gp(): never { throw new CpuFault(GP, 0); }
function ud(): never { throw new CpuFault(UD); }
function isCanonical(cpu: CPU, r: number): boolean { return canonical(cpu.lo[r], cpu.hi[r]); }

/** SYSCALL: 64-bit mode with IA32_EFER.SCE only (#UD otherwise — Intel does not support it in compatibility mode). */
function syscall(cpu: CPU): void {
  if (cpu.mode !== MODE_LONG || !(cpu.efer & EFER_SCE)) ud();
  const star = cpu.msr.read(IA32_STAR)[1];
  const [llo, lhi] = cpu.msr.read(IA32_LSTAR);
  const fmask = cpu.msr.read(IA32_FMASK)[0];
  const flags = cpu.getFlags();
  setReg64n(cpu, RCX, cpu.nip);
  cpu.setReg(11, 8, flags, 0);                            // R11 := RFLAGS
  cpu.setFlags((flags & ~fmask & ~RF) >>> 0, FLAGS_IMPLEMENTED);   // RF is always cleared
  const sel = star & 0xffff;
  setSegment(cpu, CS, sel & 0xfffc, 0, FLAT, AR_CS64_0);
  setSegment(cpu, SS, (sel + 8) & 0xffff, 0, FLAT, AR_SS_0);
  cpu.updateMode();                                       // CPL 0
  cpu.nip = join(llo, lhi);
}

/**
 * SYSRET: with REX.W to 64-bit mode at RCX (#GP(0) if RCX is not canonical), without it to
 * compatibility mode at ECX. CS = STAR[63:48] (+16 for 64-bit), SS = STAR[63:48] + 8, both RPL 3;
 * RFLAGS := (R11 & 3C7FD7H) | 2.
 */
function sysret(cpu: CPU, d: Insn): void {
  if (cpu.mode !== MODE_LONG || !(cpu.efer & EFER_SCE)) ud();
  if (cpu.cpl !== 0) gp();
  const w = (d.flags & I_REXW) !== 0;
  if (w && !isCanonical(cpu, RCX)) gp();
  const base = cpu.msr.read(IA32_STAR)[1] >>> 16;
  const target = w ? join(cpu.lo[RCX], cpu.hi[RCX]) : cpu.lo[RCX] >>> 0;
  cpu.setFlags(cpu.lo[11] & 0x3c7fd7, FLAGS_IMPLEMENTED);
  if (w) setSegment(cpu, CS, ((base + 16) | 3) & 0xffff, 0, FLAT, AR_CS64_3);
  else setSegment(cpu, CS, (base | 3) & 0xffff, 0, FLAT, AR_CS32_3);
  setSegment(cpu, SS, ((base + 8) | 3) & 0xffff, 0, FLAT, AR_SS_3);
  cpu.updateMode();                                       // CPL 3
  cpu.nip = target;
}

/** SYSENTER: #GP(0) in real mode or with IA32_SYSENTER_CS[15:2] = 0. In IA-32e mode it enters 64-bit mode. */
function sysenter(cpu: CPU): void {
  if (cpu.mode === MODE_REAL) gp();
  const csMsr = cpu.msr.read(IA32_SYSENTER_CS)[0] & 0xffff;
  if ((csMsr & 0xfffc) === 0) gp();
  const [elo, ehi] = cpu.msr.read(IA32_SYSENTER_ESP);
  const [ilo, ihi] = cpu.msr.read(IA32_SYSENTER_EIP);
  cpu.setFlags(cpu.getFlags() & ~(VM | IF | RF), FLAGS_IMPLEMENTED);
  const ia32e = (cpu.efer & EFER_LMA) !== 0;
  const sel = csMsr & 0xfffc;
  setSegment(cpu, CS, sel, 0, FLAT, ia32e ? AR_CS64_0 : AR_CS32_0);
  setSegment(cpu, SS, (sel + 8) & 0xffff, 0, FLAT, AR_SS_0);
  cpu.updateMode();
  if (ia32e) { setReg64n(cpu, RSP, join(elo, ehi)); cpu.nip = join(ilo, ihi); }
  else { cpu.setReg(RSP, 4, elo | 0, 0); cpu.nip = ilo >>> 0; }
}

/**
 * SYSEXIT: CPL 0 only. With REX.W (64-bit mode) to 64-bit code: CS = SYSENTER_CS + 32, SS = + 40,
 * RSP = RCX, RIP = RDX (#GP(0) if either is not canonical); otherwise CS = + 16, SS = + 24,
 * ESP = ECX, EIP = EDX (compatibility mode when in IA-32e mode). RPL 3.
 */
function sysexit(cpu: CPU, d: Insn): void {
  if (cpu.mode === MODE_REAL) gp();
  const csMsr = cpu.msr.read(IA32_SYSENTER_CS)[0] & 0xffff;
  if ((csMsr & 0xfffc) === 0 || cpu.cpl !== 0) gp();
  const w = cpu.mode === MODE_LONG && (d.flags & I_REXW) !== 0;
  if (w && (!isCanonical(cpu, RCX) || !isCanonical(cpu, RDX))) gp();
  if (w) {
    const sp = join(cpu.lo[RCX], cpu.hi[RCX]), ip = join(cpu.lo[RDX], cpu.hi[RDX]);
    setSegment(cpu, CS, ((csMsr + 32) | 3) & 0xffff, 0, FLAT, AR_CS64_3);
    setSegment(cpu, SS, ((csMsr + 40) | 3) & 0xffff, 0, FLAT, AR_SS_3);
    cpu.updateMode();
    setReg64n(cpu, RSP, sp);
    cpu.nip = ip;
  } else {
    const sp = cpu.lo[RCX], ip = cpu.lo[RDX] >>> 0;
    setSegment(cpu, CS, ((csMsr + 16) | 3) & 0xffff, 0, FLAT, AR_CS32_3);
    setSegment(cpu, SS, ((csMsr + 24) | 3) & 0xffff, 0, FLAT, AR_SS_3);
    cpu.updateMode();
    cpu.setReg(RSP, 4, sp, 0);
    cpu.nip = ip;
  }
}

/** SWAPGS (64-bit mode only — the row is o64): exchange GS.base with IA32_KERNEL_GS_BASE; CPL 0. */
function swapgs(cpu: CPU): void {
  if (cpu.cpl !== 0) gp();
  const [klo, khi] = cpu.msr.read(IA32_KERNEL_GS_BASE);
  const [glo, ghi] = split(cpu.segBase[GS]);
  cpu.msr.write(IA32_KERNEL_GS_BASE, glo, ghi);
  cpu.segBase[GS] = join(klo, khi);
}

export const syscallHandlers = { syscall, sysret, sysenter, sysexit, swapgs };
