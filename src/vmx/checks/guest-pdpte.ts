/**
 * SDM Vol. 3C, "Checks on Guest Page-Directory-Pointer-Table Entries" (part of "Checks on the
 * Guest State Area"). They apply when the guest will use PAE paging (CR0.PG = 1, CR4.PAE = 1,
 * "IA-32e mode guest" = 0): without EPT, to the four PDPTEs in memory at guest CR3 (bits 31:5,
 * as MOV to CR3 would load them); with EPT, to the guest PDPTE0..3 fields. A present PDPTE with a
 * reserved bit set fails the entry: exit reason 33, exit qualification 2.
 */
import * as F from '../fields.js';
import { section, hex64, bitList64, type StateRule } from './rule.js';
import type { EntryView, U64 } from './view.js';

const rule = section('guest', 'Checks on Guest Page-Directory-Pointer-Table Entries');
const PDPTE_FIELDS = [F.GUEST_PDPTE0, F.GUEST_PDPTE1, F.GUEST_PDPTE2, F.GUEST_PDPTE3];

/** Reserved bits of a present PAE PDPTE: 2:1, 8:5 and 63:MAXPHYADDR (SDM Vol. 3A, "PAE Paging"). */
function reserved(x: U64, width: number): U64 {
  const hiMask = width >= 64 ? 0 : (width <= 32 ? 0xffffffff : ~((2 ** (width - 32)) - 1) >>> 0);
  return { lo: (x.lo & 0x1e6) >>> 0, hi: (x.hi & hiMask) >>> 0 };
}

export const GUEST_PDPTE_RULES: readonly StateRule[] = [0, 1, 2, 3].map((i) => rule({
  id: `guest.pdpte${i}.reserved`, qualification: 2,
  reads: [F.GUEST_CR0, F.GUEST_CR3, F.GUEST_CR4, F.VM_ENTRY_CONTROLS, F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PDPTE_FIELDS[i]],
  sdm: 'If the guest will use PAE paging, each PDPTE with P = 1 must have its reserved bits (2:1, 8:5, 63:MAXPHYADDR) clear.',
  holds: (v: EntryView) => {
    if (!v.guest.paePaging) return true;
    const e = v.pdpte(i);
    if ((e.lo & 1) === 0) return true;
    const r = reserved(e, v.caps.physWidth);
    return r.lo === 0 && r.hi === 0;
  },
  says: (v: EntryView) => {
    const e = v.pdpte(i), r = reserved(e, v.caps.physWidth);
    return `${v.pdpteSource(i)} is ${hex64(e.lo, e.hi)}: present with reserved bit(s) ${bitList64(r.lo, r.hi)} set (bits 2:1, 8:5 and 63:${v.caps.physWidth} must be 0 in a PAE PDPTE); exit qualification 2`;
  },
}));
