import type { Vmcs } from './vmcs.js';
import type { Outcome } from './checks/rule.js';

/**
 * A failed VM entry as observers see it (engineer C1, entry.ts): published to `onEntryFailure`
 * listeners (src/debug subscribes: gdb stop, trace event) and as text to `log`.
 */
export interface EntryFailureEvent {
  readonly instruction: 'vmlaunch' | 'vmresume';
  /** Rule id (checks/), e.g. "guest.tr.type-ia32e". */
  readonly rule: string;
  /** SDM section title of the rule. */
  readonly section: string;
  readonly message: string;
  readonly outcome: Outcome;
  /** With explainAll: every other rule that fails on this VMCS. */
  readonly others: readonly { readonly rule: string; readonly section: string; readonly message: string; readonly outcome: Outcome }[];
  /** Multi-line explanation (checks/index.ts explain). */
  readonly text: string;
}

/**
 * The VMX state of one logical processor (DESIGN.md #8: on the CPU object, no module-level
 * state): `cpu.vmx`, created by the first VMXON and kept (with `on = false`) after VMXOFF so the
 * VMCS cache survives (see vmcs.ts).
 */
export class VmxState {
  /** In VMX operation (between VMXON and VMXOFF). */
  on = false;
  /** PAUSE-loop exiting: TSC of the last PAUSE at CPL 0 and of the first PAUSE of the current loop (nonroot.ts). */
  pauseLast = -Infinity; pauseFirst = -Infinity;
  /** VMXOFFs executed so far: a VMCS launched before the last one cannot be resumed (error 6). */
  vmxoffs = 0;
  /** In VMX non-root operation (a guest runs). The VM entry/exit code sets it. */
  nonRoot = false;
  /** Physical address of the VMXON region (valid while `on`). */
  vmxonPtr = 0;
  /**
   * The current-VMCS pointer, a physical address, or -1 for the architectural "invalid" value
   * FFFFFFFF_FFFFFFFFH (VMPTRST stores all ones then).
   */
  currentPtr = -1;
  /** The current VMCS (null when currentPtr is -1). */
  current: Vmcs | null = null;
  /**
   * VMCSs whose data is held in the processor (SDM Vol. 3C, "Software Use of Virtual-Machine
   * Control Structures": VMPTRLD makes a VMCS active, VMCLEAR writes it back to memory and makes
   * it inactive), by physical address of the region.
   */
  readonly cache = new Map<number, Vmcs>();

  // ---- VM entry / VM exit (engineer C1: entry.ts, exit.ts, events.ts) ----------------------
  /** Observers of failed VM entries (VMfailValid 7/8 from a rule, or an entry-failure exit 33/34). */
  readonly onEntryFailure: ((e: EntryFailureEvent) => void)[] = [];
  /** Console line sink for entry failures (the CLI prints; src/vmx never does). */
  log: ((line: string) => void) | null = null;
  /** `--vmx-explain=all`: also evaluate and report every other failing rule. */
  explainAll = false;
  /** Observers of VM entries and exits (src/debug, traces): called after the transition. */
  onTransition: ((kind: 'entry' | 'exit', reason: number) => void) | null = null;
  /** Counts VM entries and exits (the run loop uses it to notice a transition during an instruction). */
  transitions = 0;

  /** Controls of the running guest, cached at VM entry (VMWRITE cannot change them in non-root operation). */
  pin = 0; proc = 0; proc2 = 0; exitCtl = 0; entryCtl = 0;
  exceptionBitmap = 0; pfecMask = 0; pfecMatch = 0;
  /** The run loop must stop after every guest instruction (MTF, interrupt-window or NMI-window exiting). */
  singleStep = false;
  /** Guest activity state when inactive: 1 HLT, 2 shutdown, 3 wait-for-SIPI (cpu.halted is set for all three). */
  activity = 0;
  /** An MTF VM exit is pending (set after a guest instruction / an injected event when MTF is 1). */
  mtfPending = false;
  /** Pending debug exceptions held in non-root operation (pending-debug-exceptions format: B3:B0, bit 12, BS), saved by the next VM exit (events.ts pendingDebugOnExit); `pendingDbgAt`: the instruction count they belong to. */
  pendingDbg = 0;
  pendingDbgAt = -1;
  /** VMX-preemption timer: clock timer id (-1 none), TSC at which it reaches 0, expired flag. */
  preemptTimer = -1;
  preemptTscEnd = 0;
  preemptExpired = false;
  /** Root's NMI blocking, restored at VM exit when the guest ran with "virtual NMIs". */
  rootNmiBlocked = false;
  /** The event being delivered through the guest IDT (IDT-vectoring format, 0 = none) and its error code. */
  delivering = 0;
  deliveringCode = 0;
  /** IDT-vectoring information of the exit being taken (0 = invalid). */
  vectoring = 0;
  vectoringCode = 0;
  /** The next delivery is an injected event: not subject to the exception bitmap. */
  injecting = false;
}
