/**
 * The VMX instructions of VMX root operation (SDM Vol. 3C, chapter "VMX Instruction Reference"):
 * VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE, INVEPT, INVVPID, VMCALL, VMFUNC.
 * VMLAUNCH/VMRESUME are in entry.ts. Each handler follows the instruction page's Operation
 * section in order: #UD conditions, VM exit in non-root operation, #GP at CPL > 0, then the
 * VMfailInvalid / VMfailValid cases ("Conventions" of that chapter):
 *   VMsucceed       CF PF AF ZF SF OF := 0
 *   VMfailInvalid   CF := 1, PF AF ZF SF OF := 0
 *   VMfailValid(n)  ZF := 1, CF PF AF SF OF := 0, VM-instruction error field := n
 *   VMfail(n)       VMfailValid(n) if there is a current VMCS, else VMfailInvalid
 *
 * Choices where the SDM leaves one to the implementation:
 * - A memory operand of VMWRITE (source), INVEPT/INVVPID (descriptor) is read after the checks
 *   that do not need it, so a VMfail is reported even if the operand would fault.
 * - "VMWRITE to any supported VMCS field" (IA32_VMX_MISC bit 29) is not offered: VMWRITE to a
 *   VM-exit information field fails with error 13, which catches hypervisor bugs.
 * - VMCS shadowing is not offered: VMREAD/VMWRITE in VMX non-root operation always exit.
 * - INVEPT and INVVPID invalidate the TLB contexts the SDM names (tlb-contexts.ts; its header
 *   lists where they invalidate more than required, which "a logical processor may" always do).
 */
import type { CPU } from '../cpu/cpu.js';
import { MODE_COMPAT } from '../cpu/cpu.js';
import type { Insn, Handler } from '../cpu/insn.js';
import { VmExit } from '../cpu/fault.js';
import { CR4_VMXE, VM } from '../cpu/regs.js';
import { memLin, readE, writeE } from '../cpu/ops/operands.js';
import { canonical, join } from '../cpu/msr.js';
import { crHooks } from '../cpu/ops/sysregs.js';
import { resolveEncoding, fieldExists } from './fields.js';
import {
  VMX_CAPS, VMCS_REVISION_ID, ALLOWED1, EPT_CAP, VPID_CAP, beyondPhysWidth, eptpProblem,
  FEATURE_CONTROL_LOCK, FEATURE_CONTROL_VMX_OUTSIDE_SMX,
} from './caps.js';
import { VmxState } from './state.js';
import { Vmcs } from './vmcs.js';
import { VMERR } from './errors.js';
import { vmEntry } from './entry.js';
import { tlbInvept, tlbInvvpid } from './tlb-contexts.js';
import { vmxCrWrite, crAllowed } from './cr.js';
import {
  ud, gp0, vmSucceed, vmFailInvalid, vmFailValid, vmFail, vmxUdMode, vmxInstructionChecks, vmxOpSize,
  exitDisplacement, memOperandInfo, withReg2,
  EXIT_REASON_VMCALL, EXIT_REASON_VMCLEAR, EXIT_REASON_VMPTRLD, EXIT_REASON_VMPTRST, EXIT_REASON_VMREAD,
  EXIT_REASON_VMWRITE, EXIT_REASON_VMXOFF, EXIT_REASON_VMXON, EXIT_REASON_INVEPT, EXIT_REASON_INVVPID,
} from './conventions.js';

const TWO32 = 4294967296;

/** A 64-bit in-memory operand as a physical-address Number (exact: MAXPHYADDR < 53), with its halves. */
function readPtr(cpu: CPU, d: Insn): { lo: number; hi: number; pa: number } {
  const la = memLin(cpu, d, 8, false);
  const lo = cpu.rd64(la) >>> 0, hi = cpu.vhi >>> 0;
  return { lo, hi, pa: hi * TWO32 + lo };
}
const badPhys = (p: { lo: number; hi: number }): boolean => (p.lo & 0xfff) !== 0 || beyondPhysWidth(p.lo, p.hi);


// ------------------------------------------------------------------ the instructions

/** VMXON m64 (F3 0F C7 /6): SDM "VMXON—Enter VMX Operation". */
function vmxon(cpu: CPU, d: Insn): void {
  if ((cpu.cr4 & CR4_VMXE) === 0 || vmxUdMode(cpu)) ud();
  let v = cpu.vmx;
  if (v === null || !v.on) {
    const fc = cpu.msr.get(0x3a)?.[0] ?? 0;
    if (cpu.cpl > 0 || !cpu.a20 || !crSupportedInVmx(cpu) ||
        (fc & FEATURE_CONTROL_LOCK) === 0 || (fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX) === 0) gp0();
    const p = readPtr(cpu, d);
    if (badPhys(p)) { vmFailInvalid(cpu); return; }
    // rev[30:0] must be our revision identifier and rev[31] (shadow-VMCS indicator) 0
    if ((cpu.bus.read32(p.pa) >>> 0) !== VMCS_REVISION_ID) { vmFailInvalid(cpu); return; }
    if (v === null) v = cpu.vmx = new VmxState();
    v.on = true;
    v.nonRoot = false;
    v.vmxonPtr = p.pa;
    v.currentPtr = -1;
    v.current = null;
    vmSucceed(cpu);
    return;
  }
  if (v.nonRoot) throw new VmExit(EXIT_REASON_VMXON, exitDisplacement(d), { instructionInfo: memOperandInfo(cpu, d), instructionLength: d.len });
  if (cpu.cpl > 0) gp0();
  vmFail(cpu, v, VMERR.VMXON_IN_VMX_ROOT);
}

/** CR0 and CR4 hold values supported in VMX operation (IA32_VMX_CR0/CR4_FIXED0/1). */
function crSupportedInVmx(cpu: CPU): boolean {
  const c = VMX_CAPS;
  return crAllowed(cpu.cr0, c.cr0Fixed0, c.cr0Fixed1) && crAllowed(cpu.cr4, c.cr4Fixed0, c.cr4Fixed1);
}

/** VMXOFF (0F 01 C4): SDM "VMXOFF—Leave VMX Operation". Dual-monitor treatment is not offered (no error 23). */
function vmxoff(cpu: CPU, d: Insn): void {
  const v = vmxInstructionChecks(cpu, d, EXIT_REASON_VMXOFF, 0, false);
  v.on = false;
  v.vmxoffs++;
  // The VMCS cache is kept (state.ts); software must VMCLEAR active VMCSs before VMXOFF to have
  // their data in memory ("Software Use of Virtual-Machine Control Structures").
  vmSucceed(cpu);
}

/** VMCLEAR m64 (66 0F C7 /6): SDM "VMCLEAR—Clear Virtual-Machine Control Structure". */
function vmclear(cpu: CPU, d: Insn): void {
  const v = vmxInstructionChecks(cpu, d, EXIT_REASON_VMCLEAR, memOperandInfo(cpu, d), true);
  const p = readPtr(cpu, d);
  if (badPhys(p)) { vmFail(cpu, v, VMERR.VMCLEAR_INVALID_ADDRESS); return; }
  if (p.pa === v.vmxonPtr) { vmFail(cpu, v, VMERR.VMCLEAR_VMXON_POINTER); return; }
  const c = v.cache.get(p.pa);
  if (c) { c.launched = false; c.flush(cpu.bus); v.cache.delete(p.pa); }
  else Vmcs.clearRegion(cpu.bus, p.pa);
  if (p.pa === v.currentPtr) { v.currentPtr = -1; v.current = null; }
  vmSucceed(cpu);
}

/** VMPTRLD m64 (NP 0F C7 /6): SDM "VMPTRLD—Load Pointer to Virtual-Machine Control Structure". */
function vmptrld(cpu: CPU, d: Insn): void {
  const v = vmxInstructionChecks(cpu, d, EXIT_REASON_VMPTRLD, memOperandInfo(cpu, d), true);
  const p = readPtr(cpu, d);
  if (badPhys(p)) { vmFail(cpu, v, VMERR.VMPTRLD_INVALID_ADDRESS); return; }
  if (p.pa === v.vmxonPtr) { vmFail(cpu, v, VMERR.VMPTRLD_VMXON_POINTER); return; }
  // rev[31] = 1 (a shadow VMCS) is refused too: VMCS shadowing is not offered.
  if ((cpu.bus.read32(p.pa) >>> 0) !== VMCS_REVISION_ID) { vmFail(cpu, v, VMERR.VMPTRLD_INCORRECT_REVISION); return; }
  let c = v.cache.get(p.pa);
  if (!c) { c = Vmcs.fromRegion(cpu.bus, p.pa); v.cache.set(p.pa, c); }
  v.current = c;
  v.currentPtr = p.pa;
  vmSucceed(cpu);
}

/** VMPTRST m64 (NP 0F C7 /7): SDM "VMPTRST—Store Pointer to Virtual-Machine Control Structure". */
function vmptrst(cpu: CPU, d: Insn): void {
  const v = vmxInstructionChecks(cpu, d, EXIT_REASON_VMPTRST, memOperandInfo(cpu, d), true);
  const la = memLin(cpu, d, 8, true);
  if (v.currentPtr < 0) cpu.wr64(la, -1, -1);
  else cpu.wr64(la, v.currentPtr >>> 0, Math.floor(v.currentPtr / TWO32));
  vmSucceed(cpu);
}

/**
 * VMREAD Ey, Gy (NP 0F 78): SDM "VMREAD—Read Field from Virtual-Machine Control Structure".
 * The field encoding is in the register operand (Gy); the value goes to Ey, zero-extended when the
 * field is narrower than the operand, truncated to 32 bits outside 64-bit mode.
 */
function vmread(cpu: CPU, d: Insn): void {
  const v = vmxInstructionChecks(cpu, d, EXIT_REASON_VMREAD, withReg2(memOperandInfo(cpu, d), d.reg), d.rm < 0);
  const size = vmxOpSize(cpu);
  const cur = v.current;
  if (cur === null) { vmFailInvalid(cpu); return; }
  const r = resolveEncoding(cpu.lo[d.reg] >>> 0, size === 8 ? cpu.hi[d.reg] >>> 0 : 0);
  if (r === undefined || !fieldExists(r.field, ALLOWED1)) { vmFailValid(cpu, v, VMERR.UNSUPPORTED_VMCS_COMPONENT); return; }
  const enc = r.field.enc | (r.high ? 1 : 0);
  const lo = cur.read(enc), hi = size === 8 ? cur.readHi(enc) : 0;
  writeE(cpu, d, size, lo | 0, hi | 0);
  vmSucceed(cpu);
}

/**
 * VMWRITE Gy, Ey (NP 0F 79): SDM "VMWRITE—Write Field to Virtual-Machine Control Structure".
 * The field encoding is in the register operand (Gy), the value in Ey. A field narrower than the
 * operand ignores the high bits; a field wider than the operand (64-bit fields outside 64-bit
 * mode) has its high bits cleared.
 */
function vmwrite(cpu: CPU, d: Insn): void {
  const v = vmxInstructionChecks(cpu, d, EXIT_REASON_VMWRITE, withReg2(memOperandInfo(cpu, d), d.reg), d.rm < 0);
  const size = vmxOpSize(cpu);
  const cur = v.current;
  if (cur === null) { vmFailInvalid(cpu); return; }
  const r = resolveEncoding(cpu.lo[d.reg] >>> 0, size === 8 ? cpu.hi[d.reg] >>> 0 : 0);
  if (r === undefined || !fieldExists(r.field, ALLOWED1)) { vmFailValid(cpu, v, VMERR.UNSUPPORTED_VMCS_COMPONENT); return; }
  if (r.field.readOnly && !VMX_CAPS.misc.vmwriteAnyField) { vmFailValid(cpu, v, VMERR.VMWRITE_READ_ONLY_COMPONENT); return; }
  const lo = readE(cpu, d, size);
  const hi = size === 8 ? cpu.vhi : 0;
  cur.write(r.field.enc | (r.high ? 1 : 0), lo >>> 0, hi >>> 0);
  vmSucceed(cpu);
}

/** The register operand of INVEPT/INVVPID as a type number, or -1 if bits above 31 are set. */
function invType(cpu: CPU, d: Insn): number {
  if (vmxOpSize(cpu) === 8 && cpu.hi[d.reg] !== 0) return -1;
  return cpu.lo[d.reg] >>> 0;
}

/** INVEPT Gy, Mdq (66 0F 38 80): SDM "INVEPT—Invalidate Translations Derived from EPT". */
function invept(cpu: CPU, d: Insn): void {
  const v = vmxInstructionChecks(cpu, d, EXIT_REASON_INVEPT, withReg2(memOperandInfo(cpu, d), d.reg), true);
  const type = invType(cpu, d), cap = VMX_CAPS.eptCap;
  const supported = (type === 1 && (cap & EPT_CAP.INVEPT_SINGLE_CONTEXT) !== 0) || (type === 2 && (cap & EPT_CAP.INVEPT_ALL_CONTEXT) !== 0);
  if (!supported) { vmFail(cpu, v, VMERR.INVALID_INVEPT_INVVPID_OPERAND); return; }
  const la = memLin(cpu, d, 16, false);
  const eptLo = cpu.rd64(la) >>> 0, eptHi = cpu.vhi >>> 0;
  cpu.rd64(la + 8); // bits 127:64 are read (and may fault) but are not used
  if (type === 1 && eptpProblem(eptLo, eptHi) !== null) { vmFail(cpu, v, VMERR.INVALID_INVEPT_INVVPID_OPERAND); return; }
  // combined mappings of that EP4TA (single-context) or of every EPTP (all-context)
  tlbInvept(cpu, type, eptLo, eptHi);
  vmSucceed(cpu);
}

/** INVVPID Gy, Mdq (66 0F 38 81): SDM "INVVPID—Invalidate Translations Based on VPID". */
function invvpid(cpu: CPU, d: Insn): void {
  const v = vmxInstructionChecks(cpu, d, EXIT_REASON_INVVPID, withReg2(memOperandInfo(cpu, d), d.reg), true);
  const type = invType(cpu, d), cap = VMX_CAPS.vpidCap;
  const bit = [VPID_CAP.INDIVIDUAL_ADDRESS, VPID_CAP.SINGLE_CONTEXT, VPID_CAP.ALL_CONTEXT, VPID_CAP.SINGLE_CONTEXT_RETAINING_GLOBALS][type];
  if (bit === undefined || (cap & bit) === 0) { vmFail(cpu, v, VMERR.INVALID_INVEPT_INVVPID_OPERAND); return; }
  const la = memLin(cpu, d, 16, false);
  const dLo = cpu.rd64(la) >>> 0, dHi = cpu.vhi >>> 0;
  const aLo = cpu.rd64(la + 8) >>> 0, aHi = cpu.vhi >>> 0;
  const vpid = dLo & 0xffff;
  // INVVPID_DESC[63:16] must be 0
  if ((dLo >>> 16) !== 0 || dHi !== 0) { vmFail(cpu, v, VMERR.INVALID_INVEPT_INVVPID_OPERAND); return; }
  if (type !== 2 && vpid === 0) { vmFail(cpu, v, VMERR.INVALID_INVEPT_INVVPID_OPERAND); return; }
  if (type === 0 && !canonical(aLo, aHi)) { vmFail(cpu, v, VMERR.INVALID_INVEPT_INVVPID_OPERAND); return; }
  tlbInvvpid(cpu, type, vpid, join(aLo, aHi));
  vmSucceed(cpu);
}

/**
 * VMCALL (0F 01 C1): SDM "VMCALL—Call to VM Monitor". In root operation without the dual-monitor
 * treatment (not offered; IA32_SMM_MONITOR_CTL[0] = 0) it fails with error 1. Note the order: the
 * VM exit in non-root operation comes before the #UD for virtual-8086 and compatibility mode.
 */
function vmcall(cpu: CPU, d: Insn): void {
  const v = cpu.vmx;
  if (v === null || !v.on) ud();
  if (v.nonRoot) throw new VmExit(EXIT_REASON_VMCALL, 0, { instructionLength: d.len });
  if ((cpu.eflags & VM) !== 0 || cpu.mode === MODE_COMPAT) ud();
  if (cpu.cpl > 0) gp0();
  vmFail(cpu, v, VMERR.VMCALL_IN_VMX_ROOT);
}

/**
 * VMFUNC (NP 0F 01 D4): SDM "VMFUNC—Invoke VM function". #UD outside non-root operation and when
 * "enable VM functions" is 0 — always, since vmxray does not offer VM functions.
 */
function vmfunc(): void { ud(); }

function vmlaunch(cpu: CPU, d: Insn): void { vmEntry(cpu, d, true); }
function vmresume(cpu: CPU, d: Insn): void { vmEntry(cpu, d, false); }

export const vmxHandlers: Record<string, Handler> = {
  vmxon, vmxoff, vmclear, vmptrld, vmptrst, vmread, vmwrite, invept, invvpid, vmcall, vmfunc, vmlaunch, vmresume,
};

// The CR rules of VMX operation (cr.ts) hook MOV to CR0/CR4, CLTS and LMSW.
crHooks.write = vmxCrWrite;
