/**
 * SDM Vol. 3C, "Checks on Guest Descriptor-Table Registers" (part of "Checks on the Guest State
 * Area"). A failure is a VM-entry failure, exit reason 33, qualification 0.
 */
import * as F from '../fields.js';
import { section, hex, hex64, type StateRule } from './rule.js';
import { canonical, type EntryView, type U64 } from './view.js';

const rule = section('guest', 'Checks on Guest Descriptor-Table Registers');

function tableRules(id: string, name: string, baseEnc: number, limitEnc: number, base: (v: EntryView) => U64, limit: (v: EntryView) => number): StateRule[] {
  return [
    rule({
      id: `guest.${id}.base-canonical`, reads: [baseEnc],
      sdm: `The base-address field for ${name} must contain a canonical address.`,
      holds: (v) => canonical(base(v), v.caps.linWidth),
      says: (v) => `guest ${name} base ${hex64(base(v).lo, base(v).hi)} is not canonical (bits 63:${v.caps.linWidth - 1} must all be equal)`,
    }),
    rule({
      id: `guest.${id}.limit`, reads: [limitEnc],
      sdm: `Bits 31:16 of the limit field for ${name} must be 0.`,
      holds: (v) => (limit(v) >>> 16) === 0,
      says: (v) => `guest ${name} limit ${hex(limit(v))} is above 0xffff; descriptor-table limits are 16 bits`,
    }),
  ];
}

export const GUEST_DESCRIPTOR_TABLE_RULES: readonly StateRule[] = [
  ...tableRules('gdtr', 'GDTR', F.GUEST_GDTR_BASE, F.GUEST_GDTR_LIMIT, (v) => v.guest.gdtrBase, (v) => v.guest.gdtrLimit),
  ...tableRules('idtr', 'IDTR', F.GUEST_IDTR_BASE, F.GUEST_IDTR_LIMIT, (v) => v.guest.idtrBase, (v) => v.guest.idtrLimit),
];
