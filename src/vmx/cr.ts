/**
 * Control-register rules of VMX operation.
 *
 * Root operation (SDM Vol. 3C, "Restrictions on VMX Operation"): in VMX operation, a MOV to
 * CR0/CR4 (also CLTS, LMSW) that would give a bit a value that IA32_VMX_CR0_FIXED0/1 or
 * IA32_VMX_CR4_FIXED0/1 does not allow raises #GP(0) — in particular clearing CR0.PE, CR0.PG,
 * CR0.NE or CR4.VMXE. Installed as sysregs.ts `crHooks.write` by instructions.ts.
 *
 * Non-root operation (SDM Vol. 3C, chapter "VMX Non-Root Operation"): the CR-access VM exits of
 * "Instructions That Cause VM Exits Conditionally" (MOV to/from CR0/CR3/CR4/CR8, CLTS, LMSW) and
 * the changed behaviours of "Changes to Instruction Behavior in VMX Non-Root Operation" (CR0/CR4
 * guest/host masks and read shadows, SMSW, the TPR shadow for CR8). The functions below are used
 * by the instruction-exit table in nonroot.ts; `vmxCrWrite` keeps the guest's fixed-bit rule.
 */
import type { CPU } from '../cpu/cpu.js';
import { MODE_LONG } from '../cpu/cpu.js';
import type { Insn } from '../cpu/insn.js';
import { VmExit } from '../cpu/fault.js';
import { CR0_PE, CR0_PG, CR0_TS } from '../cpu/regs.js';
import { writeCr0, writeCr4, regOpSize } from '../cpu/ops/sysregs.js';
import { memLin } from '../cpu/ops/operands.js';
import { VMX_CAPS } from './caps.js';
import { PROC, PROC2 } from './controls.js';
import {
  CR0_GUEST_HOST_MASK, CR0_READ_SHADOW, CR4_GUEST_HOST_MASK, CR4_READ_SHADOW, CR3_TARGET_COUNT, CR3_TARGET_VALUE_0,
  PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
  VIRTUAL_APIC_ADDRESS, TPR_THRESHOLD,
} from './fields.js';
import type { Vmcs } from './vmcs.js';
import { gp0 } from './conventions.js';

export function vmxCrWrite(cpu: CPU, cr: number, lo: number, _hi: number): void {
  const v = cpu.vmx;
  if (v === null || !v.on) return;
  const c = VMX_CAPS;
  if (v.nonRoot) {
    // "Changes to Instruction Behavior in VMX Non-Root Operation", MOV to CR0 / MOV to CR4: #GP(0)
    // for a value not supported in VMX operation; with "unrestricted guest" CR0.PE and CR0.PG are
    // exempt. (Bits set in the guest/host mask reach here unchanged — nonroot.ts merged them — and
    // VM entry checked them, so checking the whole value is the same as checking the others.)
    if (cr === 0) {
      const fixed0 = (proc2(v.current!) & PROC2.UNRESTRICTED_GUEST) !== 0 ? c.cr0Fixed0 & ~(CR0_PE | CR0_PG) : c.cr0Fixed0;
      if (!crAllowed(lo, fixed0, c.cr0Fixed1)) gp0();
    }
    if (cr === 4 && !crAllowed(lo, c.cr4Fixed0, c.cr4Fixed1)) gp0();
    return;
  }
  if (cr === 0 && !crAllowed(lo, c.cr0Fixed0, c.cr0Fixed1)) gp0();
  if (cr === 4 && !crAllowed(lo, c.cr4Fixed0, c.cr4Fixed1)) gp0();
}

/** Bits set in FIXED0 are 1 and bits clear in FIXED1 are 0 (SDM Appendix A, "VMX-Fixed Bits in CR0"/"in CR4"). */
export function crAllowed(v: number, fixed0: number, fixed1: number): boolean {
  return ((v & fixed0) >>> 0) === (fixed0 >>> 0) && (v & ~fixed1) === 0;
}

// ------------------------------------------------------------------ VMX non-root operation

/** The primary processor-based controls. */
export const proc = (vmcs: Vmcs): number => vmcs.read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS);
/** The secondary controls, or 0 when "activate secondary controls" is 0 ("the logical processor operates as if all the
 *  secondary processor-based VM-execution controls were 0" — SDM "Secondary Processor-Based VM-Execution Controls"). */
export const proc2 = (vmcs: Vmcs): number =>
  (vmcs.read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) & PROC.ACTIVATE_SECONDARY_CONTROLS) !== 0
    ? vmcs.read(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) : 0;

/** Access types of the CR-access exit qualification (SDM "Exit Qualification for Control-Register Accesses", bits 5:4). */
export const CR_MOV_TO = 0, CR_MOV_FROM = 1, CR_CLTS = 2, CR_LMSW = 3;
/**
 * Exit qualification for control-register accesses: bits 3:0 control register (0 for CLTS and
 * LMSW), 5:4 access type, 6 LMSW operand type (1 = memory), 11:8 the general-purpose register of
 * MOV CR (0 for CLTS/LMSW), 31:16 the LMSW source data; all other bits 0.
 */
export function crQualification(cr: number, type: number, reg: number, lmswMemory: boolean, lmswData: number): number {
  return ((cr & 15) | ((type & 3) << 4) | (lmswMemory ? 1 << 6 : 0) | ((reg & 15) << 8) | ((lmswData & 0xffff) << 16)) >>> 0;
}

/** The guest/host mask and read shadow fields of CR0 or CR4 (other CRs have none). */
const MASK = (cr: number): number => (cr === 0 ? CR0_GUEST_HOST_MASK : CR4_GUEST_HOST_MASK);
const SHADOW = (cr: number): number => (cr === 0 ? CR0_READ_SHADOW : CR4_READ_SHADOW);

/** A source value differs from the read shadow in a bit set in the guest/host mask (64-bit compare in halves). */
function maskedDiffers(vmcs: Vmcs, cr: number, lo: number, hi: number): boolean {
  const m = MASK(cr), s = SHADOW(cr);
  return (((lo ^ vmcs.read(s)) & vmcs.read(m)) | ((hi ^ vmcs.readHi(s)) & vmcs.readHi(m))) !== 0;
}

/**
 * The source operand of MOV to CR3 equals one of the first n CR3-target values, n = the CR3-target
 * count (VM entry refuses n > the count IA32_VMX_MISC reports, so the clamp never matters).
 */
export function cr3TargetHit(vmcs: Vmcs, lo: number, hi: number): boolean {
  const n = Math.min(vmcs.read(CR3_TARGET_COUNT), VMX_CAPS.misc.cr3TargetCount);
  for (let i = 0; i < n; i++) {
    const enc = CR3_TARGET_VALUE_0 + 2 * i;
    if (vmcs.read(enc) === lo >>> 0 && vmcs.readHi(enc) === hi >>> 0) return true;
  }
  return false;
}

/** The register operand of MOV to CR as (lo, hi): 64 bits in 64-bit mode, 32 elsewhere. */
const srcHi = (cpu: CPU, d: Insn): number => (cpu.mode === MODE_LONG ? cpu.hi[d.rm] : 0);

/**
 * MOV to CR in non-root operation exits ("Instructions That Cause VM Exits Conditionally"):
 *   CR0, CR4  unless the source matches the read shadow in every bit set in the guest/host mask
 *   CR3       if "CR3-load exiting" and the source is none of the first n CR3-target values
 *   CR8       if "CR8-load exiting"
 */
export function movToCrExits(cpu: CPU, d: Insn, vmcs: Vmcs): boolean {
  switch (d.reg) {
    case 0: case 4: return maskedDiffers(vmcs, d.reg, cpu.lo[d.rm], srcHi(cpu, d));
    case 3: return (proc(vmcs) & PROC.CR3_LOAD_EXITING) !== 0 && !cr3TargetHit(vmcs, cpu.lo[d.rm], srcHi(cpu, d));
    case 8: return (proc(vmcs) & PROC.CR8_LOAD_EXITING) !== 0;
    default: return false;
  }
}
/** MOV from CR exits: CR3 with "CR3-store exiting", CR8 with "CR8-store exiting". */
export function movFromCrExits(_cpu: CPU, d: Insn, vmcs: Vmcs): boolean {
  if (d.reg === 3) return (proc(vmcs) & PROC.CR3_STORE_EXITING) !== 0;
  if (d.reg === 8) return (proc(vmcs) & PROC.CR8_STORE_EXITING) !== 0;
  return false;
}

/**
 * MOV to CR that does not exit ("Changes to Instruction Behavior in VMX Non-Root Operation"):
 * CR0/CR4 keep every bit set in the guest/host mask and take the others from the source (the
 * ordinary checks then apply to that value); CR8 with "use TPR shadow" writes VTPR. Returns true
 * when it performed the instruction, false for the ordinary handler (CR2, CR3, CR8 without shadow).
 */
export function movToCrNonRoot(cpu: CPU, d: Insn, vmcs: Vmcs): boolean {
  const cr = d.reg;
  if (cr === 0 || cr === 4) {
    const m = MASK(cr), mLo = vmcs.read(m), mHi = vmcs.readHi(m);
    const cur = cr === 0 ? cpu.cr0 : cpu.cr4;
    const lo = ((cur & mLo) | (cpu.lo[d.rm] & ~mLo)) >>> 0, hi = (srcHi(cpu, d) & ~mHi) >>> 0; // CR0/CR4[63:32] are 0
    if (cr === 0) writeCr0(cpu, lo, hi); else writeCr4(cpu, lo, hi);
    return true;
  }
  if (cr === 8 && (proc(vmcs) & PROC.USE_TPR_SHADOW) !== 0) {
    // Choice: the reserved-bit #GP of MOV to CR8 (source bits 63:4) still applies with the TPR shadow.
    if ((cpu.lo[d.rm] & ~0xf) !== 0 || srcHi(cpu, d) !== 0) gp0();
    writeVtpr(cpu, vmcs, cpu.lo[d.rm] & 0xf);
    return true;
  }
  return false;
}

/** MOV from CR that does not exit: CR0/CR4 read the read shadow in masked bits; CR8 with "use TPR shadow" reads VTPR[7:4]. */
export function movFromCrNonRoot(cpu: CPU, d: Insn, vmcs: Vmcs): boolean {
  const cr = d.reg;
  let lo: number, hi = 0;
  if (cr === 0 || cr === 4) {
    const m = MASK(cr), s = SHADOW(cr), mLo = vmcs.read(m), mHi = vmcs.readHi(m);
    lo = ((cr === 0 ? cpu.cr0 : cpu.cr4) & ~mLo) | (vmcs.read(s) & mLo);
    hi = vmcs.readHi(s) & mHi;
  } else if (cr === 8 && (proc(vmcs) & PROC.USE_TPR_SHADOW) !== 0) {
    lo = (readVtpr(cpu, vmcs) >>> 4) & 0xf;
  } else return false;
  if (cpu.mode === MODE_LONG) cpu.setReg(d.rm, 8, lo | 0, hi | 0);
  else cpu.setReg(d.rm, 4, lo | 0, 0);
  return true;
}

/** CLTS exits if CR0.TS (bit 3) is set in both the CR0 guest/host mask and the CR0 read shadow. */
export function cltsExits(_cpu: CPU, _d: Insn, vmcs: Vmcs): boolean {
  return (vmcs.read(CR0_GUEST_HOST_MASK) & vmcs.read(CR0_READ_SHADOW) & CR0_TS) !== 0;
}
/** CLTS that does not exit: with TS set in the mask (and clear in the shadow) CR0.TS is left unmodified. */
export function cltsNonRoot(_cpu: CPU, _d: Insn, vmcs: Vmcs): boolean {
  return (vmcs.read(CR0_GUEST_HOST_MASK) & CR0_TS) !== 0;
}

/**
 * LMSW exits if it would write, for a bit of 3:0 set in the CR0 guest/host mask, a value other
 * than the read shadow's — LMSW never clears PE, so for bit 0: mask, source and not shadow.
 */
export function lmswExits(vmcs: Vmcs, src: number): boolean {
  const m = vmcs.read(CR0_GUEST_HOST_MASK) & 0xf, s = vmcs.read(CR0_READ_SHADOW) & 0xf;
  return ((m & src & ~s & 1) | (m & 0xe & (src ^ s))) !== 0;
}
/** LMSW that does not exit: bits of 3:0 set in the mask are left unmodified. */
export function lmswNonRoot(cpu: CPU, vmcs: Vmcs, src: number): void {
  const m = vmcs.read(CR0_GUEST_HOST_MASK) & 0xf;
  const cr0 = cpu.cr0;
  let nv = (cr0 & ~0xe) | (src & 0xe) | (src & 1) | (cr0 & 1);   // the ordinary LMSW result (PE can be set, not cleared)
  nv = (nv & ~m) | (cr0 & m);
  writeCr0(cpu, nv >>> 0, 0);
}
/** Guest-linear address of LMSW's memory operand (the exit reports it), or undefined for a register operand. */
export function lmswLinear(cpu: CPU, d: Insn): number | undefined {
  if (d.rm >= 0) return undefined;
  const la = memLin(cpu, d, 2, false);
  return cpu.mode === MODE_LONG ? la : la >>> 0;
}

/** SMSW in non-root operation: bits set in the CR0 guest/host mask come from the CR0 read shadow. Never exits. */
export function smswNonRoot(cpu: CPU, d: Insn, vmcs: Vmcs): boolean {
  const mLo = vmcs.read(CR0_GUEST_HOST_MASK);
  const v = (cpu.cr0 & ~mLo) | (vmcs.read(CR0_READ_SHADOW) & mLo);
  if (d.rm >= 0) { const s = regOpSize(cpu, d); cpu.setReg(d.rm, s, s === 2 ? v & 0xffff : v | 0, 0); }
  else cpu.wr16(memLin(cpu, d, 2, true), v & 0xffff);
  return true;
}

// ------------------------------------------------------------------ TPR shadow

/** VTPR: byte 80H of the virtual-APIC page (SDM Vol. 3C, "Virtual-APIC Page"; a physical address, not translated by EPT). */
export const VTPR_OFFSET = 0x80;
/** The VM-exit reason "TPR below threshold" (Appendix C). */
export const EXIT_REASON_TPR_BELOW_THRESHOLD = 43;

function vapic(vmcs: Vmcs): number { return vmcs.read64n(VIRTUAL_APIC_ADDRESS); }
export function readVtpr(cpu: CPU, vmcs: Vmcs): number { return cpu.bus.read8(vapic(vmcs) + VTPR_OFFSET) & 0xff; }

/**
 * MOV to CR8 with "use TPR shadow" (SDM "Changes to Instruction Behavior in VMX Non-Root
 * Operation", MOV to CR8): bits 3:0 of the source go to VTPR[7:4], VTPR[3:0] and bytes 81H-83H
 * of the virtual-APIC page are cleared; then TPR virtualization (SDM "TPR Virtualization"): with
 * "virtual-interrupt delivery" 0 (vmxray does not offer it), VTPR[7:4] < TPR threshold[3:0] causes
 * a VM exit "TPR below threshold". That exit is trap-like: the instruction has completed, so
 * cpu.rip is advanced to the next instruction before the throw (guest RIP saved by the exit is then
 * cpu.rip, as for every other exit).
 */
export function writeVtpr(cpu: CPU, vmcs: Vmcs, cr8: number): void {
  cpu.bus.write32(vapic(vmcs) + VTPR_OFFSET, (cr8 & 0xf) << 4);
  if (tprBelowThreshold(cpu, vmcs)) {
    cpu.rip = cpu.nip;
    throw new VmExit(EXIT_REASON_TPR_BELOW_THRESHOLD, 0, {});
  }
}
/**
 * VTPR[7:4] < TPR threshold[3:0], with "use TPR shadow" 1 and "virtual-interrupt delivery" 0 — the
 * condition of a TPR-below-threshold exit (after MOV to CR8 here; VM entry checks it too, "VM
 * Exits Induced by the TPR Threshold").
 */
export function tprBelowThreshold(cpu: CPU, vmcs: Vmcs): boolean {
  if ((proc(vmcs) & PROC.USE_TPR_SHADOW) === 0 || (proc2(vmcs) & PROC2.VIRTUAL_INTERRUPT_DELIVERY) !== 0) return false;
  return ((readVtpr(cpu, vmcs) >>> 4) & 0xf) < (vmcs.read(TPR_THRESHOLD) & 0xf);
}
