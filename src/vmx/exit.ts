/**
 * VM exits (SDM Vol. 3C, chapter "VM Exits"): "Recording VM-Exit Information and Updating
 * VM-Entry Control Fields", "Saving Guest State", "Saving MSRs", "Loading Host State", "Loading
 * MSRs", "VMX Aborts"; and the VM-entry failure exit of "VM-Entry Failures During or After
 * Loading Guest State" (host state loaded, guest state not saved).
 *
 * The run loop (src/cpu/exec.ts) calls `vmExit` for every VmExit thrown in non-root operation,
 * with the decoded instruction that was running (null for exits between instructions).
 *
 * Choices where the SDM leaves one:
 * - VM-exit instruction length: written for instruction-caused exits (INSTRUCTION_EXITS), for
 *   exceptions caused by INT3/INTO/INT1 and for exits during delivery of a software interrupt or
 *   exception; 0 otherwise (the SDM says "undefined").
 * - The software TLB is tagged by VPID (tlb-contexts.ts): VM exit switches back to root's context;
 *   with "enable VPID" = 0 it flushes the VPID-0000H mappings (root's and the guest's), as required.
 * - VMX abort: the indicator is written to bytes 4-7 of the VMCS region and the machine stops
 *   (shutdown) with the reason.
 * - Host PDPTEs ("Checking and Loading Host Page-Directory-Pointer-Table Entries"): a VM exit to a
 *   host that uses PAE paging "may" check them; vmxray always checks and loads them (VMX abort 2 on
 *   a bad one), as MOV to CR3 would.
 * - RFLAGS.RF ("Saving RIP, RSP, RFLAGS, and SSP"): `savedRf` below. "Fault-class" exceptions are
 *   #DE, #BR, #UD, #NM, #TS, #NP, #SS, #GP, #PF, #MF, #AC, #XM, #VE, #CP and the general-detect #DB;
 *   an instruction-breakpoint #DB, data/single-step #DB traps, #BP, #OF, #DF and #MC save RF as it is.
 *   A triple fault saves RF as it is (the value "had the triple fault taken the processor to the
 *   shutdown state"); a task switch likewise (vmxray's task switches do not update RF).
 */
import { FAULT_CLASS } from '../cpu/exceptions.js';
import type { CPU } from '../cpu/cpu.js';
import type { Insn } from '../cpu/insn.js';
import { CpuFault, VmExit } from '../cpu/fault.js';
import { RF, EFER_LMA } from '../cpu/regs.js';
import { paePaging, loadPdptes } from '../cpu/mmu.js';
import * as F from './fields.js';
import { PIN, EXIT, PROC2 } from './controls.js';
import { VMX_CAPS } from './caps.js';
import type { Vmcs } from './vmcs.js';
import type { VmxState } from './state.js';
import { saveGuestState } from './guest-state.js';
import { loadHostState } from './host-state.js';
import { stopPreemptionTimer, pendingDebugOnExit, EXIT_REASON, ITYPE } from './events.js';
import { disableEpt, EXIT_REASON_EPT_VIOLATION } from './ept.js';
import { tlbLeaveGuest, tlbAfterHostLoad } from './tlb-contexts.js';

/** Basic exit reasons caused by executing an instruction (the VM-exit instruction length is defined for them). */
const INSTRUCTION_EXITS = new Set([9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
  36, 39, 40, 46, 47, 50, 51, 53, 54, 55, 57, 58, 59, 60, 61, 63, 64, 67, 68, 69]);

/** VMX-abort indicators (SDM "VMX Aborts"). */
export const VMX_ABORT = { SAVING_GUEST_MSRS: 1, HOST_PDPTE: 2, VMCS_CORRUPTED: 3, LOADING_HOST_MSRS: 4, MACHINE_CHECK: 5, LONG_MODE_TO_LEGACY_HOST: 6 } as const;
const ABORT_TEXT: Record<number, string> = {
  1: 'there was a failure in saving guest MSRs (VM-exit MSR-store area)',
  2: 'host checking of the page-directory-pointer-table entries (PDPTEs) failed',
  3: 'the current VMCS has been corrupted',
  4: 'there was a failure on loading host MSRs (VM-exit MSR-load area)',
  5: 'there was a machine-check event during VM exit',
  6: 'the logical processor was in IA-32e mode before the VM exit and the "host address-space size" VM-exit control was 0',
};

/** Exit reasons whose RF rule is "1 unless during event delivery" (APIC access 44, EPT violation 48, EPT misconfiguration 49, page-modification log full 62). */
const RF_ONE_EXITS = new Set([44, 48, 49, 62]);

/** Would delivery of this event (interruption-information format) push RF = 1? ("Instruction-Breakpoint Exception Condition": RF is pushed as 1 for every fault-class exception except an instruction-breakpoint #DB.) */
function pushesRfSet(info: number, dbQual: number): boolean {
  if (((info >>> 8) & 7) !== ITYPE.HW_EXC) return false;
  const vector = info & 0xff;
  if (vector === 1) return (dbQual & 0x2000) !== 0; // BD: general detect is a fault
  return FAULT_CLASS.has(vector);
}

/**
 * RFLAGS.RF as VM exit saves it ("Saving RIP, RSP, RFLAGS, and SSP"): for an exit caused directly by
 * an event that would be delivered through the IDT, the RF of the RFLAGS image it would push; 0 for
 * instruction-caused exits; for APIC-access, EPT-violation, EPT-misconfiguration and PML-full exits 1,
 * or — during event delivery — the RF the vectored event would push; otherwise RF as it is.
 */
export function savedRf(rf: boolean, reason: number, intInfo: number, qual: number, vectoring: number, dr6: number): boolean {
  if (reason === EXIT_REASON.EXCEPTION_OR_NMI) return pushesRfSet(intInfo, qual) || rf;
  if (RF_ONE_EXITS.has(reason)) return (vectoring >>> 31) === 0 ? true : pushesRfSet(vectoring, dr6) || rf;
  if (reason !== 9 && INSTRUCTION_EXITS.has(reason)) return false;
  return rf;
}

const TWO32 = 4294967296;
const IA32_FS_BASE = 0xc0000100, IA32_GS_BASE = 0xc0000101, IA32_SMBASE = 0x9e;

/** Perform the VM exit `e` (non-root → root). `d`: the instruction that was running, if any. */
export function vmExit(cpu: CPU, e: VmExit, d: Insn | null): void {
  const v = cpu.vmx!;
  const c = v.current!;
  // ---- "Recording VM-Exit Information and Updating VM-Entry Control Fields"
  const reason = e.reason & 0xffff;
  const info = e.info;
  let qual = e.qualification;
  let intInfo = info.interruptionInfo ?? 0;
  // "NMI unblocking due to IRET" (bit 12 of the interruption information for exception exits,
  // bit 12 of the qualification for EPT violations): the exit is due to a fault on IRET while
  // NMIs (or virtual NMIs) were blocked; undefined with "NMI exiting" = 1 and "virtual NMIs" = 0,
  // with a valid IDT-vectoring field or for #DF. vmxray's IRET leaves NMI blocking set when it
  // faults, so the exit unblocks (the saved interruptibility shows no NMI blocking).
  const iret = d !== null && d.row[2] === 'iret' && cpu.nmiBlocked && v.vectoring === 0 &&
    !((v.pin & PIN.NMI_EXITING) && !(v.pin & PIN.VIRTUAL_NMIS));
  if (iret && reason === EXIT_REASON.EXCEPTION_OR_NMI && (intInfo & 0x7ff) !== 0x308 && ((intInfo >>> 8) & 7) === 3) {
    intInfo |= 0x1000; cpu.nmiBlocked = false;
  } else if (iret && reason === EXIT_REASON_EPT_VIOLATION) {
    qual = (qual | 0x1000) >>> 0; cpu.nmiBlocked = false; // EPT-violation qualifications fit 32 bits
  }
  c.write(F.VM_EXIT_REASON, reason);
  // (lo, hi) halves as msr.ts split() makes them, without an array per exit
  c.write(F.EXIT_QUALIFICATION, qual >>> 0, Math.floor(qual / TWO32) >>> 0);
  if (info.guestLinear !== undefined) c.write(F.GUEST_LINEAR_ADDRESS, info.guestLinear >>> 0, Math.floor(info.guestLinear / TWO32) >>> 0);
  if (info.guestPhysical !== undefined) c.write(F.GUEST_PHYSICAL_ADDRESS, info.guestPhysical >>> 0, Math.floor(info.guestPhysical / TWO32) >>> 0);
  c.write(F.VM_EXIT_INTERRUPTION_INFORMATION, intInfo >>> 0);
  c.write(F.VM_EXIT_INTERRUPTION_ERROR_CODE, info.interruptionErrorCode ?? 0);
  c.write(F.IDT_VECTORING_INFORMATION_FIELD, v.vectoring >>> 0);
  c.write(F.IDT_VECTORING_ERROR_CODE, v.vectoring & 0x800 ? v.vectoringCode >>> 0 : 0);
  let len = info.instructionLength;
  if (len === undefined) {
    const softExc = reason === 0 && ((intInfo >>> 8) & 7) >= 4 && ((intInfo >>> 8) & 7) <= 6;
    const softVectoring = (v.vectoring >>> 31) === 1 && ((v.vectoring >>> 8) & 7) >= 4 && ((v.vectoring >>> 8) & 7) <= 6;
    len = d !== null && (INSTRUCTION_EXITS.has(reason) || softExc || softVectoring) ? d.len : 0;
  }
  c.write(F.VM_EXIT_INSTRUCTION_LENGTH, len);
  if (info.instructionInfo !== undefined) c.write(F.VM_EXIT_INSTRUCTION_INFORMATION, info.instructionInfo >>> 0);
  // "VM exits clear the valid bit (bit 31) in the VM-entry interruption-information field"
  c.write(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD, c.read(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD) & 0x7fffffff);

  // ---- "Saving Guest State"
  if (v.pin & PIN.ACTIVATE_VMX_PREEMPTION_TIMER) {
    const left = reason === EXIT_REASON.PREEMPTION_TIMER ? 0 : stopPreemptionTimer(cpu, VMX_CAPS.misc.preemptionTimerRate);
    if (v.exitCtl & EXIT.SAVE_VMX_PREEMPTION_TIMER_VALUE) c.write(F.VMX_PREEMPTION_TIMER_VALUE, left);
  }
  const rf = savedRf((cpu.eflags & RF) !== 0, reason, intInfo, qual, v.vectoring, cpu.dr[6]);
  saveGuestState(cpu, c, v, rf, pendingDebugOnExit(cpu, reason, intInfo));
  const wasIa32e = (cpu.efer & EFER_LMA) !== 0;

  // ---- "Saving MSRs"
  const storeFail = msrStore(cpu, c);
  // ---- "Loading Host State"
  leaveNonRoot(cpu, v, reason === EXIT_REASON.EXCEPTION_OR_NMI && (intInfo & 0x700) === 0x200);
  if (storeFail > 0) { vmxAbort(cpu, c, VMX_ABORT.SAVING_GUEST_MSRS, `entry ${storeFail} of the VM-exit MSR-store area`); return; }
  // "VMX Aborts" (indicator 6): the processor was in IA-32e mode and the host is not 64-bit (an
  // unrestricted or 32-bit guest can enter IA-32e mode by itself after a VM entry with "host
  // address-space size" = 0).
  if (wasIa32e && !(v.exitCtl & EXIT.HOST_ADDRESS_SPACE_SIZE)) {
    vmxAbort(cpu, c, VMX_ABORT.LONG_MODE_TO_LEGACY_HOST, 'IA32_EFER.LMA = 1 at the VM exit');
    return;
  }
  finishExit(cpu, c, v, reason);
}

/**
 * VM-entry failure during or after loading guest state (exit reason 33 or 34 with bit 31 set): the
 * exit qualification is written, guest state is not saved, host state is loaded as on a VM exit
 * and the VM-exit MSR-load area is processed ("VM-Entry Failures During or After Loading Guest State").
 */
export function entryFailureExit(cpu: CPU, reason: number, qualification: number): void {
  const v = cpu.vmx!;
  const c = v.current!;
  c.write(F.VM_EXIT_REASON, (0x80000000 | reason) >>> 0);
  c.write(F.EXIT_QUALIFICATION, qualification >>> 0, 0);
  // our choice: the other information fields are marked invalid
  c.write(F.VM_EXIT_INTERRUPTION_INFORMATION, 0);
  c.write(F.IDT_VECTORING_INFORMATION_FIELD, 0);
  c.write(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD, c.read(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD) & 0x7fffffff);
  leaveNonRoot(cpu, v, false);
  finishExit(cpu, c, v, (0x80000000 | reason) >>> 0);
}

/** Back to root operation: EPT off, TSC offset removed, non-root bookkeeping cleared. */
function leaveNonRoot(cpu: CPU, v: VmxState, nmiExit: boolean): void {
  if (v.preemptTimer >= 0) { cpu.clock.cancel(v.preemptTimer); v.preemptTimer = -1; }
  v.preemptExpired = false;
  v.nonRoot = false;
  v.delivering = 0; v.vectoring = 0; v.vectoringCode = 0; v.injecting = false;
  v.mtfPending = false; v.singleStep = false; v.activity = 0;
  // NMI blocking: with "virtual NMIs" the guest's blocking was virtual, root's is restored; an exit
  // caused by an NMI leaves NMIs blocked ("Updating Non-Register State").
  if (v.pin & PIN.VIRTUAL_NMIS) cpu.nmiBlocked = v.rootNmiBlocked;
  if (nmiExit) cpu.nmiBlocked = true;
  disableEpt(cpu, false);
  tlbLeaveGuest(cpu, (v.proc2 & PROC2.ENABLE_VPID) !== 0);
}

function finishExit(cpu: CPU, c: Vmcs, v: VmxState, reason: number): void {
  loadHostState(cpu, c, v);
  tlbAfterHostLoad(cpu);
  // "Checking and Loading Host Page-Directory-Pointer-Table Entries": a host that uses PAE paging gets
  // its PDPTE registers from HOST_CR3 as MOV to CR3 would load them; a bad one is VMX abort 2.
  if (paePaging(cpu) && !loadPdptes(cpu, cpu.cr3, (pa) => cpu.bus.read32(pa))) {
    vmxAbort(cpu, c, VMX_ABORT.HOST_PDPTE, `a PDPTE at host CR3 0x${(cpu.cr3 >>> 0).toString(16)} has a reserved bit set`);
    return;
  }
  const loadFail = msrLoadExit(cpu, c);
  if (loadFail > 0) { vmxAbort(cpu, c, VMX_ABORT.LOADING_HOST_MSRS, `entry ${loadFail} of the VM-exit MSR-load area`); return; }
  v.transitions++;
  cpu.intCheck = true;
  v.onTransition?.('exit', reason);
}

/** "Saving MSRs": returns 0, or the 1-based index of the entry that could not be stored. */
function msrStore(cpu: CPU, c: Vmcs): number {
  const n = c.read(F.VM_EXIT_MSR_STORE_COUNT);
  if (n === 0) return 0;
  const base = c.read64n(F.VM_EXIT_MSR_STORE_ADDRESS);
  for (let i = 0; i < n; i++) {
    const a = base + i * 16;
    const msr = cpu.bus.read32(a) >>> 0;
    if ((msr >>> 8) === 8 || msr === IA32_SMBASE || cpu.bus.read32(a + 4) !== 0) return i + 1;
    const val = cpu.msr.get(msr);
    if (val === undefined) return i + 1;
    cpu.bus.write32(a + 8, val[0]); cpu.bus.write32(a + 12, val[1]);
  }
  return 0;
}

/** "Loading MSRs" on VM exit: returns 0, or the 1-based index of the failing entry. */
function msrLoadExit(cpu: CPU, c: Vmcs): number {
  const n = c.read(F.VM_EXIT_MSR_LOAD_COUNT);
  if (n === 0) return 0;
  const base = c.read64n(F.VM_EXIT_MSR_LOAD_ADDRESS);
  for (let i = 0; i < n; i++) {
    const a = base + i * 16;
    const msr = cpu.bus.read32(a) >>> 0;
    if (msr === IA32_FS_BASE || msr === IA32_GS_BASE || (msr >>> 8) === 8 || msr === 0x9b || cpu.bus.read32(a + 4) !== 0) return i + 1;
    try { cpu.msr.write(msr, cpu.bus.read32(a + 8), cpu.bus.read32(a + 12)); } catch (e) { if (e instanceof CpuFault) return i + 1; throw e; }
  }
  return 0;
}

/** "VMX Aborts": the indicator goes to bytes 4-7 of the VMCS region; the processor shuts down. */
export function vmxAbort(cpu: CPU, c: Vmcs, indicator: number, detail: string): void {
  cpu.bus.write32(c.addr + 4, indicator);
  cpu.halt('vmx-abort', `VMX abort ${indicator}: ${ABORT_TEXT[indicator] ?? 'unknown'} (${detail}); the processor shuts down`);
  cpu.onShutdown?.('vmx-abort');
}

