/**
 * What every VMX instruction shares (SDM Vol. 3C, chapter "VMX Instruction Reference",
 * "Conventions"): the RFLAGS/error-field results VMsucceed, VMfailInvalid, VMfailValid(n),
 * VMfail(n); the #UD / VM-exit / #GP(0) prologue; the VM-exit instruction-information encoding of
 * their operands. Used by instructions.ts and entry.ts.
 */
import type { CPU } from '../cpu/cpu.js';
import { MODE_LONG, MODE_COMPAT } from '../cpu/cpu.js';
import type { Insn } from '../cpu/insn.js';
import { CpuFault, VmExit } from '../cpu/fault.js';
import { CF, ZF, ARITH_FLAGS, CR0_PE, VM, UD, GP, DS, SS } from '../cpu/regs.js';
import { VM_INSTRUCTION_ERROR } from './fields.js';
import type { VmxState } from './state.js';
import { REASON } from './exit-reasons.js';

/** Basic exit reasons of the VMX instructions (SDM Vol. 3D Appendix C, "VMX Basic Exit Reasons"). */
export const EXIT_REASON_VMCALL = REASON.VMCALL, EXIT_REASON_VMCLEAR = REASON.VMCLEAR, EXIT_REASON_VMLAUNCH = REASON.VMLAUNCH,
  EXIT_REASON_VMPTRLD = REASON.VMPTRLD, EXIT_REASON_VMPTRST = REASON.VMPTRST, EXIT_REASON_VMREAD = REASON.VMREAD,
  EXIT_REASON_VMRESUME = REASON.VMRESUME, EXIT_REASON_VMWRITE = REASON.VMWRITE, EXIT_REASON_VMXOFF = REASON.VMXOFF,
  EXIT_REASON_VMXON = REASON.VMXON, EXIT_REASON_INVEPT = REASON.INVEPT, EXIT_REASON_INVVPID = REASON.INVVPID;

// ------------------------------------------------------------------ conventions

export function ud(): never { throw new CpuFault(UD); }
export function gp0(): never { throw new CpuFault(GP, 0); }

export function vmSucceed(cpu: CPU): void { cpu.setFlags(0, ARITH_FLAGS); }
export function vmFailInvalid(cpu: CPU): void { cpu.setFlags(CF, ARITH_FLAGS); }
export function vmFailValid(cpu: CPU, v: VmxState, err: number): void {
  cpu.setFlags(ZF, ARITH_FLAGS);
  v.current!.write(VM_INSTRUCTION_ERROR, err);
}
/** VMfail(n): VMfailValid(n) with a current VMCS, else VMfailInvalid. */
export function vmFail(cpu: CPU, v: VmxState, err: number): void {
  if (v.current) vmFailValid(cpu, v, err); else vmFailInvalid(cpu);
}

/** "(CR0.PE = 0) or (RFLAGS.VM = 1) or (IA32_EFER.LMA = 1 and CS.L = 0)" — the #UD modes of the VMX instructions. */
export function vmxUdMode(cpu: CPU): boolean {
  return (cpu.cr0 & CR0_PE) === 0 || (cpu.eflags & VM) !== 0 || cpu.mode === MODE_COMPAT;
}

/**
 * The first steps shared by VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE, VMXOFF, INVEPT, INVVPID,
 * VMLAUNCH and VMRESUME: #UD outside VMX operation or in a #UD mode; VM exit in non-root
 * operation; #GP(0) at CPL > 0. Returns the VMX state.
 */
export function vmxInstructionChecks(cpu: CPU, d: Insn, exitReason: number, info: number, memory: boolean): VmxState {
  const v = cpu.vmx;
  if (v === null || !v.on || vmxUdMode(cpu)) ud();
  if (v.nonRoot) {
    throw new VmExit(exitReason, memory ? exitDisplacement(d) : 0, { instructionInfo: info, instructionLength: d.len });
  }
  if (cpu.cpl > 0) gp0();
  return v;
}

/** VMX instructions use 64-bit operands in 64-bit mode and 32-bit operands elsewhere, whatever REX.W / 66H say. */
export const vmxOpSize = (cpu: CPU): 4 | 8 => (cpu.mode === MODE_LONG ? 8 : 4);

/** A 64-bit in-memory operand as a physical-address Number (exact: MAXPHYADDR < 53), with its halves. */

// ------------------------------------------------------------------ VM-exit instruction information

/**
 * Exit qualification of a VMX instruction with a memory operand: the displacement of the
 * instruction (SDM Vol. 3C, "Exit Qualification for ... VMX Instructions"), sign-extended.
 */
export function exitDisplacement(d: Insn): number { return d.disp; }

/**
 * Bits common to the instruction-information formats of SDM Vol. 3C, "VM-Exit Instruction-Information
 * Field" (tables for VMCLEAR/VMPTRLD/VMPTRST/VMXON, INVEPT/INVVPID, VMREAD/VMWRITE): scaling, address
 * size, memory/register, segment, index, base.
 */
export function memOperandInfo(cpu: CPU, d: Insn): number {
  if (d.rm >= 0) return ((d.rm & 15) << 3) | (1 << 10);
  let info = ((d.asize === 2 ? 0 : d.asize === 4 ? 1 : 2) << 7);
  // 64-bit mode: the decoder folds ES/CS/SS/DS to DS; report SS for an RSP/RBP base as hardware does.
  const seg = cpu.mode === MODE_LONG && d.seg === DS && (d.base === 4 || d.base === 5) ? SS : d.seg;
  info |= (seg & 7) << 15;
  if (d.index >= 0) info |= d.scale | ((d.index & 15) << 18); else info |= 1 << 22;
  if (d.base >= 0) info |= (d.base & 15) << 23; else info |= 1 << 27;
  return info >>> 0;
}
/** With the register operand in bits 31:28 ("Reg2": INVEPT/INVVPID type, VMREAD source / VMWRITE destination encoding). */
export const withReg2 = (info: number, reg: number): number => (info | ((reg & 15) << 28)) >>> 0;

