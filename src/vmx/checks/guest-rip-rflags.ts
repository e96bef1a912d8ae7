/**
 * SDM Vol. 3C, "Checks on Guest RIP, RFLAGS, and SSP" (part of "Checks on the Guest State Area").
 * A failure is a VM-entry failure, exit reason 33, qualification 0. SSP: no CET, no rule.
 */
import * as F from '../fields.js';
import { section, hex64, bitList64, type StateRule } from './rule.js';
import type { EntryView } from './view.js';

const rule = section('guest', 'Checks on Guest RIP, RFLAGS, and SSP');
const N = F.VM_ENTRY_CONTROLS, INFO = F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD;
/** RFLAGS bits 63:22, 15, 5 and 3 are reserved (0); bit 1 is reserved (1). */
const RFLAGS_RESERVED0_LO = (0xffc00000 | (1 << 15) | (1 << 5) | (1 << 3)) >>> 0;
const long = (v: EntryView): boolean => v.entry.ia32eModeGuest && v.guest.cs.l === 1;

export const GUEST_RIP_RFLAGS_RULES: readonly StateRule[] = [
  rule({
    id: 'guest.rip.upper', reads: [F.GUEST_RIP, N, F.GUEST_CS_ACCESS_RIGHTS],
    sdm: 'Bits 63:32 of the RIP field must be 0 if "IA-32e mode guest" is 0 or the L bit (bit 13) in the access-rights field for CS is 0.',
    holds: (v) => long(v) || v.guest.rip.hi === 0,
    says: (v) => `guest RIP ${hex64(v.guest.rip.lo, v.guest.rip.hi)} sets bits 63:32 but the guest will not run 64-bit code (${v.entry.ia32eModeGuest ? 'CS.L = 0' : '"IA-32e mode guest" = 0'}); RIP must be below 4 GBytes`,
  }),
  rule({
    // Note: the SDM asks for bits 63:N identical (N = linear-address width), not for a canonical
    // address: bit N-1 is not compared. A RIP with only bit 47 wrong enters and faults later.
    id: 'guest.rip.bits-63-n', reads: [F.GUEST_RIP, N, F.GUEST_CS_ACCESS_RIGHTS],
    sdm: 'If "IA-32e mode guest" is 1 and the L bit in the access-rights field for CS is 1, bits 63:N of the RIP field must be identical (N = linear-address width).',
    holds: (v) => {
      if (!long(v)) return true;
      const top = (v.guest.rip.hi | 0) >> (v.caps.linWidth - 32);
      return top === 0 || top === -1;
    },
    says: (v) => `guest RIP ${hex64(v.guest.rip.lo, v.guest.rip.hi)} in 64-bit code: bits 63:${v.caps.linWidth} must all be equal (all 0 or all 1)`,
  }),
  rule({
    id: 'guest.rflags.reserved', reads: [F.GUEST_RFLAGS],
    sdm: 'Reserved bits 63:22 (bits 31:22 on processors without Intel 64), bit 15, bit 5 and bit 3 of the RFLAGS field must be 0.',
    holds: (v) => v.guest.rflags.hi === 0 && (v.guest.rflags.lo & RFLAGS_RESERVED0_LO) === 0,
    says: (v) => `guest RFLAGS ${hex64(v.guest.rflags.lo, v.guest.rflags.hi)} sets reserved bit(s) ${bitList64(v.guest.rflags.lo & RFLAGS_RESERVED0_LO, v.guest.rflags.hi)}; bits 63:22, 15, 5 and 3 must be 0`,
  }),
  rule({
    id: 'guest.rflags.bit1', reads: [F.GUEST_RFLAGS],
    sdm: 'Reserved bit 1 of the RFLAGS field must be 1.',
    holds: (v) => (v.guest.rflags.lo & 2) !== 0,
    says: (v) => `guest RFLAGS ${hex64(v.guest.rflags.lo, v.guest.rflags.hi)} has bit 1 = 0; bit 1 is reserved and must be 1 (use ${hex64(v.guest.rflags.lo | 2, v.guest.rflags.hi)})`,
  }),
  rule({
    id: 'guest.rflags.vm', reads: [F.GUEST_RFLAGS, N, F.GUEST_CR0],
    sdm: 'The VM flag (bit 17) must be 0 either if "IA-32e mode guest" is 1 or if bit 0 in the CR0 field (PE) is 0.',
    holds: (v) => !v.guest.v86 || (!v.entry.ia32eModeGuest && v.guest.pe),
    says: (v) => `guest RFLAGS ${hex64(v.guest.rflags.lo, v.guest.rflags.hi)} sets VM (bit 17) but ${v.entry.ia32eModeGuest ? '"IA-32e mode guest" is 1' : 'the guest CR0.PE is 0'}; virtual-8086 mode exists only in legacy protected mode (for real mode use "unrestricted guest")`,
  }),
  rule({
    id: 'guest.rflags.if-external-interrupt', reads: [F.GUEST_RFLAGS, INFO],
    sdm: 'The IF flag (bit 9) must be 1 if the valid bit of the VM-entry interruption-information field is 1 and the interruption type is external interrupt.',
    holds: (v) => !v.event.valid || v.event.type !== 0 || (v.guest.rflags.lo & 0x200) !== 0,
    says: (v) => `an external interrupt (vector ${v.event.vector}) is injected but guest RFLAGS ${hex64(v.guest.rflags.lo, v.guest.rflags.hi)} has IF = 0; inject only when the guest can take interrupts (use interrupt-window exiting)`,
  }),
];
