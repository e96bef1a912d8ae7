/**
 * The VM-entry checks (DESIGN.md, "The VM-entry checks"): every rule, in architectural order, and
 * the evaluator that turns a VMCS into exactly one architectural outcome plus a diagnosis.
 *
 * Order (SDM Vol. 3C, chapter "VM Entries"):
 *   1. "Basic VM-Entry Checks"                     → VMfailInvalid / VMfailValid 26, 4, 5
 *   2. "Checks on VMX Controls" (execution, exit, entry) → VMfailValid 7
 *   3. host-state checks                           → VMfailValid 8
 *      (the SDM allows 2 and 3 in any order; we check controls first)
 *   4. "Checks on the Guest State Area"            → exit reason 33 (qualification 0, 2, 3 or 4)
 *      (in the order of the SDM's text; the SDM fixes no order among them)
 *   5. "Loading MSRs", entry by entry              → exit reason 34, qualification = entry index
 */
import { encWidth, fieldName } from '../fields.js';
import { vmxMsrValues } from '../caps.js';
import { MAXPHYADDR } from '../../cpu/mmu.js';
import { BASIC_RULES } from './basic.js';
import { EXECUTION_CONTROL_RULES } from './controls-execution.js';
import { EXIT_CONTROL_RULES } from './controls-exit.js';
import { ENTRY_CONTROL_RULES } from './controls-entry.js';
import { HOST_RULES } from './host.js';
import { GUEST_REG_RULES } from './guest-regs.js';
import { GUEST_SEGMENT_RULES } from './guest-segments.js';
import { GUEST_DESCRIPTOR_TABLE_RULES } from './guest-descriptor-tables.js';
import { GUEST_RIP_RFLAGS_RULES } from './guest-rip-rflags.js';
import { GUEST_NON_REGISTER_RULES } from './guest-non-register.js';
import { GUEST_PDPTE_RULES } from './guest-pdpte.js';
import { MSR_LOAD_RULES } from './msr-load.js';
import { OK, msrLoadOutcome, hex64, type Outcome, type Rule, type StateRule, type MsrEntryRule } from './rule.js';
import { buildView, decodeCaps, type EntryView, type MsrEntry, type VmcsReader, type VmxCapsView, type CapsDecoded,
  type EntryProcessorState, type PhysReader } from './view.js';

export * from './rule.js';
export * from './view.js';

/** The rules on the VMCS (everything but MSR loading), in the order VM entry evaluates them. */
export const STATE_RULES: readonly StateRule[] = [
  ...BASIC_RULES,
  ...EXECUTION_CONTROL_RULES, ...EXIT_CONTROL_RULES, ...ENTRY_CONTROL_RULES,
  ...HOST_RULES,
  ...GUEST_REG_RULES, ...GUEST_SEGMENT_RULES, ...GUEST_DESCRIPTOR_TABLE_RULES, ...GUEST_RIP_RFLAGS_RULES,
  ...GUEST_NON_REGISTER_RULES, ...GUEST_PDPTE_RULES,
];
export { MSR_LOAD_RULES };

/** Every rule, in architectural order. */
export const ALL_RULES: readonly Rule[] = [...STATE_RULES, ...MSR_LOAD_RULES];

const BY_ID = new Map<string, Rule>(ALL_RULES.map((r) => [r.id, r]));
if (BY_ID.size !== ALL_RULES.length) throw new Error('duplicate VM-entry rule id');
export function ruleById(id: string): Rule | undefined { return BY_ID.get(id); }

export interface Failure {
  readonly rule: Rule;
  /** The rule's message for this VMCS. */
  readonly message: string;
  readonly outcome: Outcome;
  /** For MSR-load rules: the failing entry. */
  readonly entry?: MsrEntry;
}

export interface Evaluation {
  readonly outcome: Outcome;
  /** The rule that decided the outcome (null when the entry succeeds). */
  readonly failed: Failure | null;
  /** With `all`: every other rule that fails on this VMCS (in order). */
  readonly others: readonly Failure[];
}

/** Static checks on one MSR-load entry (the first failing rule), or null. */
export function checkMsrEntry(v: EntryView, e: MsrEntry): Failure | null {
  for (const r of MSR_LOAD_RULES) {
    if (!r.holds(v, e)) return { rule: r, message: r.says(v, e), outcome: msrLoadOutcome(e.index), entry: e };
  }
  return null;
}

/**
 * Evaluate the rules on a view. Without `all`, stops at the first failure (the architectural
 * outcome). With `all`, goes on and lists every other failing rule in `others` (VM entry stops at
 * the first; this is for `--vmx-explain=all`).
 */
export function evaluate(v: EntryView, opts: { all?: boolean } = {}): Evaluation {
  const all = opts.all === true;
  let first: Failure | null = null;
  let others: Failure[] | null = null; // made only when a second rule fails (no allocation per entry)
  const rules = STATE_RULES;
  for (let i = 0, n = rules.length; i < n; i++) {
    const r = rules[i];
    if (r.holds(v)) continue;
    const f: Failure = { rule: r, message: r.says(v), outcome: r.outcome };
    if (!first) { first = f; if (!all) break; } else (others ??= []).push(f);
  }
  // MSR loading (after guest state is loaded). With `all`, also evaluated after an earlier
  // failure, as long as the MSR-load area itself passed its control checks.
  if (!first || (all && areaSound(v))) {
    const n = Math.min(v.entry.msrLoadCount, v.caps.msrListMax + 1);
    for (let i = 1; i <= n; i++) {
      const f = checkMsrEntry(v, v.msrLoadEntry(i));
      if (!f) continue;
      if (!first) { first = f; if (!all) break; } else (others ??= []).push(f);
    }
  }
  return { outcome: first ? first.outcome : OK, failed: first, others: others ?? NO_FAILURES };
}

const NO_FAILURES: readonly Failure[] = Object.freeze([]);

function areaSound(v: EntryView): boolean {
  const ids = ['ctl.entry.msr-load.aligned', 'ctl.entry.msr-load.width', 'ctl.entry.msr-load.last-byte-width'];
  return ids.every((id) => (BY_ID.get(id) as StateRule).holds(v));
}

/** One call: build the view and evaluate. */
export function checkVmEntry(r: VmcsReader, caps: VmxCapsView | CapsDecoded, cpu: EntryProcessorState, mem: PhysReader,
  opts: { all?: boolean } = {}): Evaluation {
  return evaluate(buildView(r, caps, cpu, mem), opts);
}

// ---- the capability model of src/vmx/caps.ts as the checks see it ---------------------------

let modelCaps: CapsDecoded | undefined;
/**
 * vmxray's own capability model (caps.ts VMX_CAPS), decoded once. IA32_DEBUGCTL: vmxray's CPU
 * implements no debug-control features, so our choice for its valid bits is LBR (0) and BTF (1),
 * the two every VMX processor has.
 */
export function vmxrayCaps(): CapsDecoded {
  if (!modelCaps) {
    const msrs = vmxMsrValues();
    const view: VmxCapsView = {
      msr: (i) => msrs.get(i) ?? [0, 0],
      physicalAddressWidth: MAXPHYADDR,
      linearAddressWidth: 48,
      debugctlValid: 0x3,
    };
    modelCaps = decodeCaps(view);
  }
  return modelCaps;
}

// ---- explanations ---------------------------------------------------------------------------

const VM_INSTRUCTION_ERRORS: Record<number, string> = {
  4: 'VMLAUNCH with non-clear VMCS',
  5: 'VMRESUME with non-launched VMCS',
  6: 'VMRESUME after VMXOFF',
  7: 'VM entry with invalid control field(s)',
  8: 'VM entry with invalid host-state field(s)',
  26: 'VM entry with events blocked by MOV SS',
};
const QUALIFICATIONS: Record<number, string> = {
  0: 'default', 2: 'PDPTE loading', 3: 'NMI injection with blocking by STI', 4: 'invalid VMCS link pointer',
};

/** "VMfailValid(7): VM entry with invalid control field(s)", "VM-entry failure: exit reason 33 (invalid guest state), qualification 4 (invalid VMCS link pointer)", ... */
export function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'ok': return 'VM entry succeeds';
    case 'vmfail-invalid': return 'VMfailInvalid (no current VMCS)';
    case 'vmfail': return `VMfailValid(${o.error}): ${VM_INSTRUCTION_ERRORS[o.error] ?? 'VM-instruction error'}`;
    case 'entry-fail':
      return o.reason === 33
        ? `VM-entry failure: exit reason 33 (0x80000021, invalid guest state), exit qualification ${o.qualification} (${QUALIFICATIONS[o.qualification] ?? '?'})`
        : `VM-entry failure: exit reason 34 (0x80000022, MSR loading), exit qualification ${o.qualification} (entry ${o.qualification} of the VM-entry MSR-load area)`;
  }
}

/** The value of a field as the messages print it. */
function fieldValue(r: VmcsReader, enc: number): string {
  const w = encWidth(enc);
  if (w === 64 || w === 'natural') return hex64(r.read(enc) >>> 0, r.readHi(enc) >>> 0);
  return '0x' + (r.read(enc) >>> 0).toString(16);
}

/**
 * A multi-line explanation of a failure for the console, gdb and the trace:
 *   VMfailValid(7): VM entry with invalid control field(s)
 *     rule ctl.ept.walk-length — SDM Vol. 3C, "Checks on VM-Execution Control Fields"
 *     EPTP 0x1000 has bits 5:3 = 0 ...
 *     SDM: If "enable EPT" is 1, ...
 *     reads: EPT pointer (EPTP) (0x201a) = 0x1000; secondary ... = 0x2
 */
export function explain(f: Failure, r: VmcsReader): string {
  const reads = f.rule.reads.map((e) => `${fieldName(e)} = ${fieldValue(r, e)}`).join('; ');
  return [
    describeOutcome(f.outcome),
    `  rule ${f.rule.id} — SDM Vol. 3C, "${f.rule.section}"`,
    `  ${f.message}`,
    `  SDM: ${f.rule.sdm}`,
    ...(reads ? [`  reads: ${reads}`] : []),
  ].join('\n');
}
