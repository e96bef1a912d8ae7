/**
 * One VM-entry check = one Rule (DESIGN.md, "The VM-entry checks"): a stable dotted id, the SDM
 * section TITLE it comes from (SDM Vol. 3C, chapter "VM Entries"; section numbers move between
 * editions), the VMCS fields it reads, a predicate over the EntryView and a message that quotes
 * the offending values and what would be valid.
 *
 * The architectural outcome of a failed rule is decided by its group:
 *   basic     → the rule's own outcome (VMfailInvalid, or VMfailValid 4 / 5 / 26)
 *               ("Basic VM-Entry Checks")
 *   controls  → VMfailValid 7, "VM entry with invalid control field(s)"
 *   host      → VMfailValid 8, "VM entry with invalid host-state field(s)"
 *   guest     → VM-entry failure, exit reason 33 ("VM-entry failure due to invalid guest state")
 *               with exit qualification 0, or the rule's own: 2 (PDPTE), 3 (NMI injection with
 *               blocking by STI), 4 (VMCS link pointer) — table "Exit Qualification for
 *               VM-Entry Failures" in "VM-Entry Failures During or After Loading Guest State"
 *   msr-load  → VM-entry failure, exit reason 34 ("VM-entry failure due to MSR loading"), exit
 *               qualification = the 1-based index of the failing entry ("Loading MSRs")
 */
import type { EntryView, MsrEntry } from './view.js';

export type Group = 'basic' | 'controls' | 'host' | 'guest' | 'msr-load';

export type Outcome =
  | { readonly kind: 'ok' }
  /** VMfailInvalid: no valid current VMCS (CF=1). */
  | { readonly kind: 'vmfail-invalid' }
  /** VMfailValid(error): ZF=1 and the VM-instruction error field holds `error`. */
  | { readonly kind: 'vmfail'; readonly error: number }
  /** VM-entry failure: a VM exit with bit 31 of the exit reason set. */
  | { readonly kind: 'entry-fail'; readonly reason: 33 | 34; readonly qualification: number };

export const OK: Outcome = Object.freeze({ kind: 'ok' });

interface RuleBase {
  /** Stable dotted id, e.g. "guest.tr.type-ia32e". Never renamed once published (traces and tests quote it). */
  readonly id: string;
  /** SDM section title, e.g. "Checks on Guest Segment Registers". */
  readonly section: string;
  readonly group: Group;
  /** VMCS field encodings the rule reads (for explanations: the monitor prints their values). */
  readonly reads: readonly number[];
  /** A short quote or paraphrase of the SDM sentence the rule implements. */
  readonly sdm: string;
}

/** A check on the whole VMCS (and processor state). */
export interface StateRule extends RuleBase {
  readonly kind: 'state';
  holds(v: EntryView): boolean;
  says(v: EntryView): string;
  /** The architectural outcome when this rule is the first to fail. */
  readonly outcome: Outcome;
}

/** A check applied to each entry of the VM-entry MSR-load area in turn ("Loading MSRs"). */
export interface MsrEntryRule extends RuleBase {
  readonly kind: 'msr-entry';
  holds(v: EntryView, e: MsrEntry): boolean;
  says(v: EntryView, e: MsrEntry): string;
}

export type Rule = StateRule | MsrEntryRule;

export interface StateRuleSpec {
  id: string;
  reads: readonly number[];
  sdm: string;
  holds(v: EntryView): boolean;
  says(v: EntryView): string;
  /** basic rules: their outcome; guest rules: an exit qualification other than 0. */
  outcome?: Outcome;
  qualification?: number;
}

const GROUP_OUTCOME: Record<Exclude<Group, 'basic' | 'msr-load'>, Outcome> = {
  controls: Object.freeze({ kind: 'vmfail', error: 7 }),
  host: Object.freeze({ kind: 'vmfail', error: 8 }),
  guest: Object.freeze({ kind: 'entry-fail', reason: 33, qualification: 0 }),
};

/**
 * A rule factory for one SDM section: `const rule = section('guest', 'Checks on Guest Segment
 * Registers'); rule({ id, reads, sdm, holds, says })`.
 */
export function section(group: Exclude<Group, 'msr-load'>, title: string): (spec: StateRuleSpec) => StateRule {
  return (spec) => {
    let outcome: Outcome;
    if (group === 'basic') {
      if (!spec.outcome) throw new Error(`basic rule ${spec.id} needs an outcome`);
      outcome = spec.outcome;
    } else if (group === 'guest' && spec.qualification !== undefined) {
      outcome = Object.freeze({ kind: 'entry-fail', reason: 33, qualification: spec.qualification });
    } else {
      outcome = GROUP_OUTCOME[group];
    }
    return Object.freeze({
      kind: 'state' as const, id: spec.id, section: title, group, reads: spec.reads, sdm: spec.sdm,
      holds: spec.holds, says: spec.says, outcome,
    });
  };
}

export interface MsrEntryRuleSpec {
  id: string;
  reads: readonly number[];
  sdm: string;
  holds(v: EntryView, e: MsrEntry): boolean;
  says(v: EntryView, e: MsrEntry): string;
}

export function msrEntryRule(spec: MsrEntryRuleSpec): MsrEntryRule {
  return Object.freeze({ kind: 'msr-entry' as const, section: 'Loading MSRs', group: 'msr-load' as const, ...spec });
}

/** Outcome of a failed MSR-load entry (1-based index). */
export function msrLoadOutcome(index: number): Outcome {
  return { kind: 'entry-fail', reason: 34, qualification: index };
}

// ---- formatting helpers for messages ------------------------------------------------------

export function hex(v: number, digits = 0): string {
  return '0x' + (v >>> 0).toString(16).padStart(digits, '0');
}

/** A 64-bit value given as two uint32 halves, printed as 0x... (no BigInt on the hot path; this is only for messages). */
export function hex64(lo: number, hi: number): string {
  if ((hi >>> 0) === 0) return hex(lo);
  return '0x' + (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, '0');
}

/** Bit numbers set in a 32-bit mask (offset added), for messages: bits(0x5) → "0, 2". */
export function bitList(mask: number, offset = 0): string {
  const out: number[] = [];
  for (let i = 0; i < 32; i++) if ((mask >>> i) & 1) out.push(i + offset);
  return out.join(', ');
}

/** Bit numbers set in a 64-bit mask. */
export function bitList64(lo: number, hi: number): string {
  return [bitList(lo), bitList(hi, 32)].filter((s) => s).join(', ');
}
