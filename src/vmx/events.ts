/**
 * VM exits caused by events in VMX non-root operation (SDM Vol. 3C, chapter "VMX Non-Root
 * Operation": "Exceptions", "Other Causes of VM Exits", "Changes to Event Blocking", "Monitor Trap
 * Flag", "VMX-Preemption Timer", "Interrupt-Window Exiting and Virtual-Interrupt Delivery",
 * "NMI-Window Exiting"), and
 * the IDT-vectoring bookkeeping of "Information for VM Exits That Occur During Event Delivery".
 *
 * - `deliverNonRoot` wraps every delivery through the guest IDT (exceptions.ts `deliver` calls it
 *   in non-root operation): exceptions are checked against the exception bitmap (and the #PF
 *   error-code mask/match) first; a VM exit thrown while the event is being delivered (EPT
 *   violation, a second exception in the bitmap) records it as IDT-vectoring information.
 * - `pendingExit` is the run loop's event check in non-root operation, in the priority order of
 *   "Priority Among Events" as the VMX chapters refine it: pending MTF VM exit > VMX-preemption
 *   timer > NMI-window exiting > NMI (with "NMI exiting") > interrupt-window exiting > external
 *   interrupt (with "external-interrupt exiting").
 *
 * Choices where the SDM leaves one:
 * - Blocking by STI blocks NMIs and NMI-window exits too ("model specific" in the SDM; vmxray's root
 *   run loop blocks NMIs in any interrupt shadow as well).
 * - A #DB that causes a VM exit leaves DR6 and DR7.GD as they were; the qualification holds its B3:B0, BD, BS.
 * - "Virtual NMIs": cpu.nmiBlocked holds virtual-NMI blocking in non-root operation (IRET clears it).
 */
import type { CPU } from '../cpu/cpu.js';
import { VmExit } from '../cpu/fault.js';
import { IF, TF } from '../cpu/regs.js';
import { PIN, PROC, EXIT } from './controls.js';
import type { VmxState } from './state.js';
import { REASON } from './exit-reasons.js';

/** Basic exit reasons (SDM Vol. 3D Appendix C, "VMX Basic Exit Reasons"). */
export const EXIT_REASON = REASON;

const EXIT_REASON_TPR_BELOW_THRESHOLD = 43;

/** Interruption types (bits 10:8 of the interruption-information formats). */
export const ITYPE = { EXT_INT: 0, NMI: 2, HW_EXC: 3, SW_INT: 4, PRIV_SW_EXC: 5, SW_EXC: 6, OTHER: 7 } as const;

// exceptions.ts EV_* kinds (duplicated to keep this module free of an import cycle)
const EV_HW = 0, EV_INTR = 1, EV_SOFT = 2, EV_SOFT_EXC = 3, EV_NMI = 4, EV_ICEBP = 5;
const KIND_TYPE = [ITYPE.HW_EXC, ITYPE.EXT_INT, ITYPE.SW_INT, ITYPE.SW_EXC, ITYPE.NMI, ITYPE.PRIV_SW_EXC];
/** The interruption type of a delivery of `kind` (exceptions.ts EV_*). */
export function interruptionType(kind: number): number { return KIND_TYPE[kind] ?? ITYPE.HW_EXC; }

/** Exceptions that push an error code (the same list as exceptions.ts). */
export function pushesCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17 || vector === 21;
}

/**
 * Does this exception cause a VM exit? ("Exception Bitmap"; for #PF: "if bit 14 is 1, a #PF causes a
 * VM exit iff PFEC & mask = match; if bit 14 is 0, iff PFEC & mask ≠ match".)
 */
export function exceptionExits(v: VmxState, vector: number, code: number): boolean {
  const bit = (v.exceptionBitmap >>> vector) & 1;
  if (vector !== 14) return bit === 1;
  const match = ((code & v.pfecMask) >>> 0) === (v.pfecMatch >>> 0);
  return bit === 1 ? match : !match;
}

/**
 * Delivery of one event in non-root operation (called by exceptions.ts `deliver`): the exception
 * bitmap first, then `inner` (the ordinary delivery through the guest IDT) with the event recorded
 * as "being delivered" for IDT-vectoring information.
 */
export function deliverNonRoot(cpu: CPU, vector: number, code: number, kind: number, ret: number,
  inner: (cpu: CPU, vector: number, code: number, kind: number, ret: number) => void): void {
  const v = cpu.vmx!;
  const type = interruptionType(kind);
  const hasCode = kind === EV_HW && code >= 0 && pushesCode(vector);
  const injected = v.injecting;
  v.injecting = false;
  if (!injected && (type === ITYPE.HW_EXC || type === ITYPE.SW_EXC || type === ITYPE.PRIV_SW_EXC) && kind !== EV_NMI &&
      exceptionExits(v, vector, code)) {
    // SDM "VM Exits Due to Exceptions"... exit reason 0, interruption information, qualification:
    // #PF → the linear address (CR2 is NOT written), #DB → the DR6-format bits.
    let qual = 0;
    if (vector === 14) { qual = cpu.cr2; cpu.cr2 = cpu.cr2Before; }
    else if (vector === 1 && kind === EV_HW) {
      // "Debug exceptions that cause VM exits do not update DR6 or DR7.GD"; the qualification holds
      // the bits this #DB would have set (Exit Qualification for Debug Exceptions)
      qual = cpu.dbBits & 0x600f;
      cpu.dr[6] = cpu.dr6Before; cpu.dr[7] = cpu.dr7Before;
      cpu.updateDebugRegs();
    }
    // "A VM exit is not considered to occur during event delivery if ... the original event results
    // in a double-fault exception that causes the VM exit directly" ("Information for VM Exits That
    // Occur During Event Delivery").
    if (v.delivering !== 0 && vector !== 8) { v.vectoring = v.delivering; v.vectoringCode = v.deliveringCode; }
    v.delivering = 0;
    throw new VmExit(EXIT_REASON.EXCEPTION_OR_NMI, qual, {
      interruptionInfo: (0x80000000 | vector | (type << 8) | (hasCode ? 0x800 : 0)) >>> 0,
      ...(hasCode ? { interruptionErrorCode: code >>> 0 } : {}),
    });
  }
  v.delivering = (0x80000000 | vector | (type << 8) | (hasCode ? 0x800 : 0)) >>> 0;
  v.deliveringCode = hasCode ? code >>> 0 : 0;
  try {
    inner(cpu, vector, code, kind, ret);
  } catch (e) {
    // A VM exit during delivery (EPT violation/misconfiguration while reading the IDT or pushing the
    // frame): the event goes to the IDT-vectoring information. A fault (CpuFault) leaves `delivering`
    // set so that the delivery of the resulting exception (or #DF) knows what it interrupted.
    if (e instanceof VmExit && v.vectoring === 0) { v.vectoring = v.delivering; v.vectoringCode = v.deliveringCode; }
    throw e;
  }
  v.delivering = 0;
  void EV_INTR; void EV_SOFT; void EV_ICEBP;
}

// ---- Pending debug exceptions ("Saving Non-Register State"; "Monitor Trap Flag") --------------

/** Pending-debug-exceptions bits: B3:B0, enabled breakpoint (12), BS (14). */
export const PENDING_DBG = { B: 0xf, ENABLED_BREAKPOINT: 1 << 12, BS: 1 << 14 } as const;

/** Bit 12 ("enabled breakpoint") for data-breakpoint hits `hits` (B3:B0): one of them is enabled in DR7 (L or G). */
function enabledHit(cpu: CPU, hits: number): number {
  const dr7 = cpu.dr[7];
  for (let i = 0; i < 4; i++) if ((hits >>> i) & 1 && (dr7 >>> (2 * i)) & 3) return PENDING_DBG.ENABLED_BREAKPOINT;
  return 0;
}

/**
 * The run loop's #DB trap after a guest instruction (single-step with `tf`, data breakpoints `hits`)
 * in non-root operation with "monitor trap flag" = 1: "MTF VM exits take priority over debug-trap
 * exceptions" ("Monitor Trap Flag"), so the #DB is not delivered; it stays pending and the MTF VM
 * exit saves it (BS for the single step, B3:B0 and bit 12 for data breakpoints). Returns true when
 * the trap was held (the caller then delivers nothing). To be called by exec.ts before its
 * debugTrap in non-root operation.
 */
export function holdDebugTrap(cpu: CPU, tf: boolean, hits: number): boolean {
  const v = cpu.vmx;
  if (v === null || !v.nonRoot || !(v.proc & PROC.MONITOR_TRAP_FLAG)) return false;
  v.pendingDbg = (tf ? PENDING_DBG.BS : 0) | (hits & 0xf) | enabledHit(cpu, hits);
  v.pendingDbgAt = cpu.exactCount();
  return true;
}

/**
 * The pending-debug-exceptions field a VM exit saves ("Saving Non-Register State"): clear for all
 * exits except (of those vmxray can produce) exits with basic reason "monitor trap flag" or "TPR
 * below threshold", and exits not caused by debug exceptions that occur while there is blocking by
 * MOV SS. For those it holds the debug exceptions pending at the exit:
 * - a #DB trap held for an MTF VM exit (holdDebugTrap) or by VM entry under MOV-SS blocking
 *   (`VmxState.pendingDbg`, valid while no guest instruction has completed since);
 * - "TPR below threshold" (a trap-like exit after MOV to CR8 / WRMSR): BS when RFLAGS.TF = 1 (the
 *   single step of that instruction; IA32_DEBUGCTL.BTF does not exist in vmxray) and the data
 *   breakpoints it hit (B3:B0, bit 12 when one is enabled in DR7).
 * Reserved bits are cleared.
 */
export function pendingDebugOnExit(cpu: CPU, reason: number, intInfo: number): number {
  const v = cpu.vmx!;
  const now = cpu.exactCount();
  // Held bits are valid at the boundary they were taken at (and while the first instruction after it
  // has not completed: an exit by that instruction happens "before those exceptions were delivered").
  const held = v.pendingDbg !== 0 && now >= v.pendingDbgAt && now <= v.pendingDbgAt + 1 ? v.pendingDbg : 0;
  v.pendingDbg = 0; v.pendingDbgAt = -1;
  if (reason === EXIT_REASON.MONITOR_TRAP_FLAG) return held;
  if (reason === EXIT_REASON_TPR_BELOW_THRESHOLD) {
    const hits = cpu.pendingDb & 0xf;
    return held | (cpu.eflags & TF ? PENDING_DBG.BS : 0) | hits | enabledHit(cpu, hits);
  }
  const dbExit = reason === EXIT_REASON.EXCEPTION_OR_NMI && (intInfo & 0xff) === 1 && ((intInfo >>> 8) & 7) === ITYPE.HW_EXC;
  if (!dbExit && cpu.intShadow && cpu.movSsShadow) return held;
  return 0;
}

/** What the run loop needs from the debugger for event checks. */
export interface EventGate { noIrq: boolean }

/**
 * The event-caused VM exit due now, or null (the run loop then delivers events to the guest as in
 * root operation). Called once per run-loop iteration in non-root operation.
 */
export function pendingExit(cpu: CPU, noIrq: boolean): VmExit | null {
  const v = cpu.vmx!;
  if (v.mtfPending) { v.mtfPending = false; return new VmExit(EXIT_REASON.MONITOR_TRAP_FLAG); }
  if (v.preemptExpired) { v.preemptExpired = false; v.preemptTimer = -1; return new VmExit(EXIT_REASON.PREEMPTION_TIMER); }
  const shadow = cpu.intShadow;
  const inactive = v.activity >= 2 && cpu.halted; // shutdown / wait-for-SIPI: NMIs and interrupts are blocked (except exits)
  // "NMI-Window Exiting": no virtual-NMI blocking, no blocking by MOV SS (nor STI: our choice)
  if ((v.proc & PROC.NMI_WINDOW_EXITING) && !cpu.nmiBlocked && !shadow && !inactive) return new VmExit(EXIT_REASON.NMI_WINDOW);
  if (!noIrq && cpu.nmiPending && (v.pin & PIN.NMI_EXITING) && !shadow && ((v.pin & PIN.VIRTUAL_NMIS) !== 0 || !cpu.nmiBlocked)) {
    cpu.nmiPending = false;
    return new VmExit(EXIT_REASON.EXCEPTION_OR_NMI, 0, { interruptionInfo: (0x80000000 | (ITYPE.NMI << 8) | 2) >>> 0 });
  }
  // "Interrupt-window exiting": RFLAGS.IF = 1 and no blocking by STI or MOV SS
  if ((v.proc & PROC.INTERRUPT_WINDOW_EXITING) && (cpu.eflags & IF) && !shadow && !inactive) return new VmExit(EXIT_REASON.INTERRUPT_WINDOW);
  // "Changes to Event Blocking": with "external-interrupt exiting", RFLAGS.IF does not block external
  // interrupts; an interrupt not blocked by STI/MOV SS causes a VM exit.
  if (!noIrq && (v.pin & PIN.EXTERNAL_INTERRUPT_EXITING) && !shadow && cpu.intc !== null && cpu.intc.hasIntr()) {
    if (v.exitCtl & EXIT.ACKNOWLEDGE_INTERRUPT_ON_EXIT) {
      // "the processor acknowledges the interrupt controller, acquiring the interrupt's vector"
      const vec = cpu.intc.ackIntr() & 0xff;
      cpu.intCheck = true;
      return new VmExit(EXIT_REASON.EXTERNAL_INTERRUPT, 0, { interruptionInfo: (0x80000000 | vec) >>> 0 });
    }
    return new VmExit(EXIT_REASON.EXTERNAL_INTERRUPT);
  }
  return null;
}

/** Can anything but an ordinary interrupt end a halted guest's wait (the run loop must not stop)? */
export function guestCanWake(cpu: CPU): boolean {
  const v = cpu.vmx;
  if (v === null || !v.nonRoot) return false;
  return v.preemptTimer >= 0 || v.preemptExpired || (v.pin & PIN.EXTERNAL_INTERRUPT_EXITING) !== 0 || v.mtfPending;
}

// ---- VMX-preemption timer ("VMX-Preemption Timer") -------------------------------------------

/**
 * The timer counts down by 1 each time bit X of the TSC changes, X = IA32_VMX_MISC[4:0] (vmxray: 5,
 * so every 32 TSC ticks; the TSC counts retired instructions — virtual time, DESIGN.md #1). It
 * reaches 0 at TSC (floor(TSC0 / 2^X) + value) * 2^X; a value of 0 causes the exit before the first
 * guest instruction. The TSC used is the processor's, not the guest's offset view.
 */
export function armPreemptionTimer(cpu: CPU, value: number, rate: number): void {
  const v = cpu.vmx!;
  const clock = cpu.clock;
  const t0 = cpu.msr.tsc();
  const unit = 2 ** rate;
  const tEnd = (Math.floor(t0 / unit) + (value >>> 0)) * unit;
  v.preemptTscEnd = tEnd;
  v.preemptExpired = false;
  const when = cpu.exactCount() + Math.max(0, tEnd - t0); // exactCount: the clock itself lags inside a block
  v.preemptTimer = clock.at(when, () => { v.preemptTimer = -1; if (v.nonRoot) v.preemptExpired = true; }, 'vmx-preemption-timer');
}

/** Cancel at VM exit; returns the value to save ("save VMX-preemption-timer value"). */
export function stopPreemptionTimer(cpu: CPU, rate: number): number {
  const v = cpu.vmx!;
  if (v.preemptTimer >= 0) { cpu.clock.cancel(v.preemptTimer); v.preemptTimer = -1; }
  const t = cpu.msr.tsc();
  const unit = 2 ** rate;
  return Math.max(0, Math.floor(v.preemptTscEnd / unit) - Math.floor(t / unit));
}
