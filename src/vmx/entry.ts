/**
 * VMLAUNCH / VMRESUME (SDM Vol. 3C, "VMLAUNCH/VMRESUME—Launch/Resume Virtual Machine" and chapter
 * "VM Entries"): the checks of the instruction page, the VM-entry checks (checks/, one named rule
 * each, in architectural order), "Loading Guest State", "Loading MSRs", "Event Injection", and
 * the switch to non-root operation (EPT, TSC offsetting, VMX-preemption timer).
 *
 * Outcomes, exactly one per entry:
 *   - VMfailInvalid / VMfailValid(n) — the instruction completes (next instruction), RFLAGS per
 *     the VMX conventions, nothing else changes;
 *   - VM-entry failure exit (reason 33 | bit 31, or 34 | bit 31 with the MSR-load entry index as
 *     qualification) — host state loaded, guest state not saved, RIP = HOST_RIP
 *     ("VM-Entry Failures During or After Loading Guest State");
 *   - success — the guest runs (non-root operation) from guest RIP, or from the handler of the
 *     injected event.
 * A failed rule is published to `VmxState.onEntryFailure` listeners and to `VmxState.log`.
 *
 * Choices where the SDM leaves one:
 * - The software TLB is tagged by VPID (tlb-contexts.ts): VM entry switches to the guest's context;
 *   with "enable VPID" = 0 it flushes the VPID-0000H mappings (root's and the guest's), as required.
 * - Pending debug exceptions ("Delivery of Pending Debug Exceptions after VM Entry"): see `pendingDebug`.
 *   Under blocking by MOV SS they are held (VmxState.pendingDbg) and a VM exit before the first guest
 *   instruction completes saves them; vmxray does not deliver them after that instruction (lost — the
 *   SDM allows "held pending or lost"). For an injected software exception other than #BP/#OF under
 *   MOV-SS blocking (SDM: "may be lost or may be delivered") vmxray delivers them after the injection.
 * - PDPTEs of a PAE guest are loaded into the CPU's PDPTE registers (guest-state.ts).
 */
import type { CPU } from '../cpu/cpu.js';
import type { Insn } from '../cpu/insn.js';
import { VmExit } from '../cpu/fault.js';
import { deliverChecked, EV_HW, EV_INTR, EV_SOFT, EV_SOFT_EXC, EV_NMI, EV_ICEBP } from '../cpu/exceptions.js';
import { EFER_LMA } from '../cpu/regs.js';
import { MODE_LONG } from '../cpu/cpu.js';
import { join } from '../cpu/msr.js';
import { VMERR } from './errors.js';
import * as F from './fields.js';
import { PROC, PROC2, PIN } from './controls.js';
import { VMX_CAPS } from './caps.js';
import type { Vmcs } from './vmcs.js';
import type { VmxState, EntryFailureEvent } from './state.js';
import {
  vmxInstructionChecks, vmFailInvalid, vmFailValid, EXIT_REASON_VMLAUNCH, EXIT_REASON_VMRESUME,
} from './conventions.js';
import { EntryViewImpl, evaluate, explain, vmxrayCaps, ruleById, type Failure, type EntryProcessorState } from './checks/index.js';
import { loadGuestState, loadGuestNonRegisterState } from './guest-state.js';
import { entryFailureExit } from './exit.js';
import { armPreemptionTimer, ITYPE, PENDING_DBG } from './events.js';
import { enableEpt } from './ept.js';
import { tlbBeforeEntry, tlbEnterGuest } from './tlb-contexts.js';
import { resetPauseLoop } from './nonroot.js';

/**
 * "Events are being blocked by MOV SS": the instruction follows a MOV SS / POP SS (cpu.movSsShadow,
 * set with cpu.intShadow by those instructions and cleared with it). "STI; VMLAUNCH" is not refused.
 */
export function eventsBlockedByMovSs(cpu: CPU): boolean {
  return cpu.intShadow && cpu.movSsShadow;
}

const IA32_EFER = 0xc0000080;

/** The current VMCS was launched, then VMXOFF and VMXON came before this entry (VM-instruction error 6). */
function launchedBeforeVmxoff(v: VmxState): boolean {
  const c = v.current!;
  return c.launched && c.launchEpoch >= 0 && c.launchEpoch !== v.vmxoffs;
}

/** The processor state the checks need (checks/view.ts EntryProcessorState), as a fresh object (monitor, tests). */
export function processorState(cpu: CPU, v: VmxState, launch: boolean): EntryProcessorState {
  return new ProcessorStateBox(cpu).fill(v, launch);
}

/** An EntryProcessorState object refilled for each entry (no allocation, no closure per VM entry). */
class ProcessorStateBox implements EntryProcessorState {
  instruction: 'vmlaunch' | 'vmresume' = 'vmlaunch';
  currentVmcs = -1;
  launchState: 'clear' | 'launched' = 'clear';
  launchedBeforeVmxoff = false;
  blockedByMovSs = false;
  ia32eMode = false;
  readonly inSmm = false;
  constructor(private readonly c: CPU) {}
  fill(v: VmxState, launch: boolean): this {
    const cpu = this.c;
    this.instruction = launch ? 'vmlaunch' : 'vmresume';
    this.currentVmcs = v.currentPtr;
    this.launchState = v.current!.launched ? 'launched' : 'clear';
    this.launchedBeforeVmxoff = launchedBeforeVmxoff(v);
    this.blockedByMovSs = eventsBlockedByMovSs(cpu);
    this.ia32eMode = (cpu.efer & EFER_LMA) !== 0;
    return this;
  }
  // A prediction for the checks' explanation; the actual WRMSR during "Loading MSRs" decides.
  wrmsrFaults(msr: number, lo: number, hi: number): boolean {
    return !this.c.msr.has(msr) || (msr >>> 0 === IA32_EFER && (hi !== 0 || (lo & ~0xd01) !== 0));
  }
}

/** What VM entry decodes the VMCS into, made once per CPU and refilled by each VMLAUNCH/VMRESUME. */
interface EntryScratch { readonly view: EntryViewImpl; readonly state: ProcessorStateBox }
const scratch = new WeakMap<CPU, EntryScratch>();
function entryScratch(cpu: CPU): EntryScratch {
  let s = scratch.get(cpu);
  if (s === undefined) { s = { view: new EntryViewImpl(), state: new ProcessorStateBox(cpu) }; scratch.set(cpu, s); }
  return s;
}

/** Publish a failed entry: listeners (src/debug), the console line sink. Data only; src/vmx never prints. */
function report(v: VmxState, cur: Vmcs, launch: boolean, f: Failure, others: readonly Failure[]): void {
  if (v.onEntryFailure.length === 0 && v.log === null) return;
  const text = explain(f, cur);
  const ev: EntryFailureEvent = {
    instruction: launch ? 'vmlaunch' : 'vmresume',
    rule: f.rule.id, section: f.rule.section, message: f.message, outcome: f.outcome,
    others: others.map((o) => ({ rule: o.rule.id, section: o.rule.section, message: o.message, outcome: o.outcome })),
    text: others.length ? `${text}\n  other failing rules:\n${others.map((o) => `    ${o.rule.id}: ${o.message}`).join('\n')}` : text,
  };
  v.log?.(`${launch ? 'VMLAUNCH' : 'VMRESUME'} failed: ${ev.text}`);
  for (const l of v.onEntryFailure) l(ev);
}

/** Make the run loop look at events before the next instruction (a no-op timer due now; exec.ts). */
export function recheckEvents(cpu: CPU): void {
  cpu.clock.at(cpu.exactCount(), RUN_LOOP_CHECK, 'vmx-transition');
}
/** The no-op timer callback of recheckEvents (one function, not a closure per VM entry/exit). */
function RUN_LOOP_CHECK(): void { /* run-loop event check */ }

const FIRST = Object.freeze({ all: false }), ALL = Object.freeze({ all: true });

export function vmEntry(cpu: CPU, d: Insn, launch: boolean): void {
  // #UD outside VMX operation / in real, virtual-8086 and compatibility mode; VM exit in non-root; #GP(0) at CPL > 0
  const v = vmxInstructionChecks(cpu, d, launch ? EXIT_REASON_VMLAUNCH : EXIT_REASON_VMRESUME, 0, false);
  const cur = v.current;
  if (cur === null) { vmFailInvalid(cpu); return; }

  // "Basic VM-Entry Checks" (MOV-SS blocking → 26, launch state → 4/5), "Checks on VMX Controls and
  // Host-State Area", "Checks on the Guest State Area", "Loading MSRs": one rule each (checks/)
  const sc = entryScratch(cpu);
  const ev = evaluate(sc.view.fill(cur, vmxrayCaps(), sc.state.fill(v, launch), cpu.bus), v.explainAll ? ALL : FIRST);
  const f = ev.failed;
  if (f !== null && f.outcome.kind !== 'entry-fail') {
    report(v, cur, launch, f, ev.others);
    if (f.outcome.kind === 'vmfail') vmFailValid(cpu, v, f.outcome.error); else vmFailInvalid(cpu);
    return;
  }
  // From here the entry either succeeds or ends in a VM-entry failure exit: cache the controls.
  v.pin = cur.read(F.PIN_BASED_VM_EXECUTION_CONTROLS);
  v.proc = cur.read(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS);
  v.proc2 = v.proc & PROC.ACTIVATE_SECONDARY_CONTROLS ? cur.read(F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) : 0;
  v.exitCtl = cur.read(F.VM_EXIT_CONTROLS);
  v.entryCtl = cur.read(F.VM_ENTRY_CONTROLS);
  v.exceptionBitmap = cur.read(F.EXCEPTION_BITMAP);
  v.pfecMask = cur.read(F.PAGE_FAULT_ERROR_CODE_MASK);
  v.pfecMatch = cur.read(F.PAGE_FAULT_ERROR_CODE_MATCH);
  v.rootNmiBlocked = cpu.nmiBlocked;
  tlbBeforeEntry(cpu);
  v.delivering = 0; v.vectoring = 0; v.injecting = false; v.mtfPending = false; v.pendingDbg = 0; v.pendingDbgAt = -1;
  resetPauseLoop(v);
  if (f !== null && f.outcome.kind === 'entry-fail' && f.outcome.reason === 33) {
    report(v, cur, launch, f, ev.others);
    entryFailureExit(cpu, 33, f.outcome.qualification);
    recheckEvents(cpu);
    return;
  }
  const msrFailAt = f !== null && f.outcome.kind === 'entry-fail' ? f.outcome.qualification : 0;

  // "Loading Guest State"
  loadGuestState(cpu, cur, v, (v.proc2 & PROC2.UNRESTRICTED_GUEST) !== 0);
  if (v.proc2 & PROC2.ENABLE_EPT) enableEpt(cpu, cur.read(F.EPT_POINTER), cur.readHi(F.EPT_POINTER), false);
  // The guest's TLB context ("enable VPID" = 0: VPID 0000H, flushed), before MSR loading may flush it
  tlbEnterGuest(cpu, v.proc2 & PROC2.ENABLE_VPID ? cur.read(F.VIRTUAL_PROCESSOR_IDENTIFIER) & 0xffff : 0);

  // "Loading MSRs": entry by entry; the entries before a failing one stay loaded.
  const n = cur.read(F.VM_ENTRY_MSR_LOAD_COUNT);
  const area = cur.read64n(F.VM_ENTRY_MSR_LOAD_ADDRESS);
  for (let i = 1; i <= n; i++) {
    let failed = i === msrFailAt ? f : null;
    if (failed === null) {
      const a = area + (i - 1) * 16;
      const msr = cpu.bus.read32(a) >>> 0;
      try { cpu.msr.write(msr, cpu.bus.read32(a + 8), cpu.bus.read32(a + 12)); } catch {
        const rule = ruleById('msr-load.wrmsr-gp')!;
        failed = { rule, message: `VM-entry MSR-load entry ${i}: WRMSR to MSR 0x${msr.toString(16)} raised #GP`, outcome: { kind: 'entry-fail', reason: 34, qualification: i } };
      }
    }
    if (failed !== null) {
      report(v, cur, launch, failed, failed === f ? ev.others : []);
      entryFailureExit(cpu, 34, i);
      recheckEvents(cpu);
      return;
    }
  }

  // Non-register state; a vectoring entry (valid interruption information) ends in the active state.
  const inj = cur.read(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD);
  const vectoring = (inj >>> 31) === 1;
  loadGuestNonRegisterState(cpu, cur, v, vectoring);

  // Non-root operation begins.
  v.nonRoot = true;
  if (launch) { cur.launched = true; cur.launchEpoch = v.vmxoffs; }
  // "use TSC offsetting" is applied where the SDM applies it (RDTSC, RDTSCP, RDMSR IA32_TSC: nonroot.ts);
  // the processor's own TSC (preemption timer, root) never changes.
  if (v.pin & PIN.ACTIVATE_VMX_PREEMPTION_TIMER) armPreemptionTimer(cpu, cur.read(F.VMX_PREEMPTION_TIMER_VALUE), VMX_CAPS.misc.preemptionTimerRate);
  v.singleStep = (v.proc & (PROC.MONITOR_TRAP_FLAG | PROC.INTERRUPT_WINDOW_EXITING | PROC.NMI_WINDOW_EXITING)) !== 0;
  v.transitions++;
  v.onTransition?.('entry', 0);
  recheckEvents(cpu);

  if (vectoring) {
    inject(cpu, v, cur, inj);
    const type = (inj >>> 8) & 7;
    // "Pending debug exceptions" of a vectoring entry: used only for software interrupts/exceptions
    // with blocking by MOV SS (as if INT n / INT3 / INTO followed a MOV SS that hit a debug trap:
    // delivered once the injected event is delivered), and held for a pending MTF VM exit (type 7).
    if (type === ITYPE.OTHER) holdPendingDebug(cpu, v, cur);
    else if (cpu.movSsShadow && (type === ITYPE.SW_INT || type === ITYPE.SW_EXC)) pendingDebug(cpu, cur);
  } else if (v.activity < 2) {
    // ignored in the shutdown and wait-for-SIPI states; in HLT the #DB wakes the guest
    if (cpu.movSsShadow) holdPendingDebug(cpu, v, cur);
    else pendingDebug(cpu, cur);
  }
  cpu.nip = cpu.rip;
}

/** "Event Injection": deliver the event through the guest IDT as if it occurred now ("Vectored-Event Injection"). */
function inject(cpu: CPU, v: VmxState, cur: Vmcs, info: number): void {
  const vector = info & 0xff, type = (info >>> 8) & 7;
  const len = cur.read(F.VM_ENTRY_INSTRUCTION_LENGTH);
  const code = info & 0x800 ? cur.read(F.VM_ENTRY_EXCEPTION_ERROR_CODE) | 0 : -1;
  if (type === ITYPE.OTHER) {
    // "Injection of Pending MTF VM Exits": vector 0, type 7 — an MTF VM exit is pending, nothing is delivered.
    v.mtfPending = true;
    return;
  }
  const soft = type === ITYPE.SW_INT || type === ITYPE.PRIV_SW_EXC || type === ITYPE.SW_EXC;
  const kind = type === ITYPE.EXT_INT ? EV_INTR : type === ITYPE.NMI ? EV_NMI : type === ITYPE.HW_EXC ? EV_HW
    : type === ITYPE.SW_INT ? EV_SOFT : type === ITYPE.PRIV_SW_EXC ? EV_ICEBP : EV_SOFT_EXC;
  // Software events return past the instruction that "caused" them: RIP + VM-entry instruction length.
  const ret = soft ? (cpu.mode === MODE_LONG ? cpu.rip + len : (cpu.rip + len) >>> 0) : cpu.rip;
  if (type === ITYPE.NMI) cpu.nmiBlocked = true; // blocking by NMI (virtual-NMI blocking with "virtual NMIs")
  v.injecting = true;
  try {
    deliverChecked(cpu, vector, code, kind, ret);
  } catch (e) {
    // A VM exit during delivery of the injected event (the event is in the IDT-vectoring field);
    // for software events the exit's instruction length is the VM-entry instruction length.
    if (e instanceof VmExit && soft) throw new VmExit(e.reason, e.qualification, { ...e.info, instructionLength: len });
    throw e;
  } finally { v.injecting = false; }
  cpu.rip = cpu.nip;
  // "Monitor Trap Flag": an MTF VM exit is pending after the injected event's delivery.
  if (v.proc & PROC.MONITOR_TRAP_FLAG) v.mtfPending = true;
}

/** "There are valid pending debug exceptions if either the BS bit (bit 14) or the enable-breakpoint bit (bit 12) is 1." */
function validPendingDebug(cur: Vmcs): number {
  const f = cur.read(F.GUEST_PENDING_DEBUG_EXCEPTIONS) & (PENDING_DBG.B | PENDING_DBG.ENABLED_BREAKPOINT | PENDING_DBG.BS);
  return f & (PENDING_DBG.ENABLED_BREAKPOINT | PENDING_DBG.BS) ? f : 0;
}

/** Blocking by MOV SS: the valid pending debug exceptions stay pending (a VM exit saves them; exit.ts). */
function holdPendingDebug(cpu: CPU, v: VmxState, cur: Vmcs): void {
  const f = validPendingDebug(cur);
  if (f === 0) return;
  v.pendingDbg = f;
  v.pendingDbgAt = cpu.exactCount() + 1; // the boundary after this VMLAUNCH/VMRESUME
}

/**
 * "Delivery of Pending Debug Exceptions after VM Entry": a #DB with the priority of a trap on the
 * previous instruction (before NMIs, interrupts and window exits; the run loop checks those later).
 * "A pending debug exception delivered after VM entry causes a VM exit if bit 1 (#DB) is 1 in the
 * exception bitmap. If it does not cause a VM exit, it updates DR6 normally": DR6 gets B3:B0 and BS
 * of the field (the exit qualification of a #DB exit carries them; DR6 is then left unchanged).
 */
function pendingDebug(cpu: CPU, cur: Vmcs): void {
  const f = validPendingDebug(cur);
  if (f === 0) return;
  // (events.ts restores DR6/DR7 from dr6Before/dr7Before when the #DB exits)
  cpu.dbBits = f & 0x400f; cpu.dr6Before = cpu.dr[6]; cpu.dr7Before = cpu.dr[7];
  cpu.dr[6] = ((cpu.dr[6] & ~0x400f) | (f & 0x400f)) >>> 0;
  deliverChecked(cpu, 1, -1, EV_HW, cpu.rip);
  cpu.rip = cpu.nip;
}

