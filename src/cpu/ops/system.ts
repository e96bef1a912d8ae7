import type { CPU } from '../cpu.js';
import { CpuFault } from '../fault.js';
import { RAX, RBX, RCX, RDX, UD, NM, MF, CR0_MP, CR0_TS, CR0_NE } from '../regs.js';
import { cpuid as cpuidLeaf, FEATURES } from '../cpuid.js';
import { requireCpl0, sysregHandlers } from './sysregs.js';
import { descriptorHandlers } from './descriptors.js';
import { ioHandlers } from './io.js';
import { syscallHandlers } from './syscall.js';

/**
 * System instructions (SDM Vol. 2): CPUID, HLT, MONITOR/MWAIT, UD0/UD1/UD2, FWAIT, and the registry
 * entry for the families split into their own files: sysregs.ts (control/debug registers, MSRs,
 * TSC, XCR0, TLB maintenance), descriptors.ts (GDTR/IDTR/LDTR/TR, LAR/LSL/VERR/VERW), io.ts
 * (IN/OUT, the I/O permission check), syscall.ts (SYSCALL/SYSRET/SYSENTER/SYSEXIT/SWAPGS).
 */

function cpuid(cpu: CPU): void {
  const r = cpuidLeaf(cpu, cpu.lo[RAX], cpu.lo[RCX]);
  // 32-bit register writes: the upper halves of RAX/RBX/RCX/RDX are cleared in 64-bit mode.
  cpu.setReg(RAX, 4, r[0] | 0, 0);
  cpu.setReg(RBX, 4, r[1] | 0, 0);
  cpu.setReg(RCX, 4, r[2] | 0, 0);
  cpu.setReg(RDX, 4, r[3] | 0, 0);
}

/** HLT: CPL 0 only; the run loop idles until an interrupt, NMI (or the next timer deadline) wakes the CPU.
 *  RIP already points after HLT, so the handler returns to the next instruction. */
function hlt(cpu: CPU): void {
  requireCpl0(cpu);
  cpu.halted = true;
}

/**
 * MONITOR/MWAIT: CPUID.1:ECX.MONITOR is not reported (FEATURES.monitor), so both raise #UD, as the SDM
 * requires in that case. (If it were reported, MWAIT would be a hint that may wake at once: a NOP.)
 */
function monitor(cpu: CPU): void {
  if (!FEATURES.monitor) throw new CpuFault(UD);
  requireCpl0(cpu);
}
function mwait(cpu: CPU): void {
  if (!FEATURES.monitor) throw new CpuFault(UD);
  requireCpl0(cpu);
}

function ud(): void { throw new CpuFault(UD); }

/**
 * Pending unmasked x87 exceptions are the x87 engine's business: it may replace `checkPending`.
 * The default raises #MF when FSW.ES (bit 7) is set and CR0.NE = 1 (native x87 error reporting;
 * the legacy FERR#/IRQ 13 path for NE = 0 is not modelled).
 */
export const x87Hooks = {
  checkPending(cpu: CPU): void {
    if ((cpu.fpu.sw & 0x80) && (cpu.cr0 & CR0_NE)) throw new CpuFault(MF);
  },
};
/** FWAIT/WAIT: #NM when CR0.MP and CR0.TS are both set (SDM Vol. 3A, "Interrupt 7—Device Not Available"), then
 *  pending x87 exceptions. */
function fwait(cpu: CPU): void {
  if ((cpu.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) throw new CpuFault(NM);
  x87Hooks.checkPending(cpu);
}

export const systemHandlers = {
  ...sysregHandlers, ...descriptorHandlers, ...ioHandlers, ...syscallHandlers,
  cpuid, hlt, monitor, mwait, ud0: ud, ud1: ud, ud2: ud, fwait,
};
