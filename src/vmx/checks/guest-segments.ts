/**
 * SDM Vol. 3C, "Checks on Guest Segment Registers" (part of "Checks on the Guest State Area"),
 * generated from data: one rule per (register, check) pair, id `guest.<reg>.<check>`, in the
 * order of the SDM's text (selectors, bases, limits, access rights; within each check CS, SS,
 * DS, ES, FS, GS, then TR and LDTR). A failure is a VM-entry failure, exit reason 33,
 * qualification 0.
 *
 * Access-rights fields use the VMX format (SDM "Format of Access Rights"): bits 3:0 type, 4 S,
 * 6:5 DPL, 7 P, 11:8 reserved, 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable, 31:17 reserved.
 * "Usable" means bit 16 is 0. The checks on CS do not depend on its usability.
 */
import * as F from '../fields.js';
import { section, hex, hex64, type StateRule } from './rule.js';
import { canonical, GUEST_SEG_FIELDS, type EntryView, type SegName, type SegView } from './view.js';

const rule = section('guest', 'Checks on Guest Segment Registers');
const RFLAGS = F.GUEST_RFLAGS, P2 = F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, N = F.VM_ENTRY_CONTROLS;

type Reg = SegName;
const DATA_SEGS: readonly Reg[] = ['ds', 'es', 'fs', 'gs'];
const CS_TO_GS: readonly Reg[] = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'];

interface SegCheck {
  check: string;
  regs: readonly Reg[];
  sdm: string;
  /** Other fields read besides the register's own four. */
  reads?: readonly number[];
  holds(v: EntryView, s: SegView): boolean;
  says(v: EntryView, s: SegView): string;
}

/** The register's view, one accessor per register (a constant-name load, not `v.guest[r]` with a variable key). */
const SEG: Readonly<Record<Reg, (v: EntryView) => SegView>> = {
  es: (v) => v.guest.es, cs: (v) => v.guest.cs, ss: (v) => v.guest.ss, ds: (v) => v.guest.ds,
  fs: (v) => v.guest.fs, gs: (v) => v.guest.gs, ldtr: (v) => v.guest.ldtr, tr: (v) => v.guest.tr,
};
const ug = (v: EntryView): boolean => v.proc2.unrestrictedGuest;
const arStr = (s: SegView): string => `guest ${s.name} access rights ${hex(s.ar, 4)}`;
/** Not virtual-8086 and the register is usable (or is CS, which is checked regardless). */
const checkedAr = (v: EntryView, s: SegView): boolean => !v.guest.v86 && (s.name === 'CS' || s.usable);

function gRules(regs: readonly Reg[], when: (v: EntryView, s: SegView) => boolean, extra: readonly number[] = []): SegCheck[] {
  return [
    {
      check: 'g-limit-low', regs, reads: extra,
      sdm: 'G (bit 15): if any bit in the limit field in the range 11:0 is 0, G must be 0.',
      holds: (v, s) => !when(v, s) || (s.limit & 0xfff) === 0xfff || s.g === 0,
      says: (v, s) => `guest ${s.name} limit ${hex(s.limit)} has bits 11:0 not all 1 but G = 1 in ${arStr(s)}; with 4-KByte granularity the low 12 bits of the limit read as 1s — use limit ${hex(s.limit | 0xfff)} or G = 0`,
    },
    {
      check: 'g-limit-high', regs, reads: extra,
      sdm: 'G (bit 15): if any bit in the limit field in the range 31:20 is 1, G must be 1.',
      holds: (v, s) => !when(v, s) || (s.limit >>> 20) === 0 || s.g === 1,
      says: (v, s) => `guest ${s.name} limit ${hex(s.limit)} is above 1 MByte (bits 31:20 set) but G = 0 in ${arStr(s)}; a byte-granular limit has only 20 bits — set G (bit 15)`,
    },
  ];
}

function reservedRules(regs: readonly Reg[], when: (v: EntryView, s: SegView) => boolean, extra: readonly number[] = []): SegCheck[] {
  return [
    {
      check: 'reserved-11-8', regs, reads: extra,
      sdm: 'Bits 11:8 of the access-rights field are reserved and must be 0.',
      holds: (v, s) => !when(v, s) || (s.ar & 0xf00) === 0,
      says: (v, s) => `${arStr(s)} sets reserved bits 11:8; they must be 0 (did you store the descriptor's limit bits 19:16 there? use ${hex(s.ar & ~0xf00, 4)})`,
    },
  ];
}

function reservedHighRules(regs: readonly Reg[], when: (v: EntryView, s: SegView) => boolean, extra: readonly number[] = []): SegCheck[] {
  return [
    {
      check: 'reserved-31-17', regs, reads: extra,
      sdm: 'Bits 31:17 of the access-rights field are reserved and must be 0.',
      holds: (v, s) => !when(v, s) || (s.ar >>> 17) === 0,
      says: (v, s) => `${arStr(s)} sets reserved bits 31:17; they must be 0`,
    },
  ];
}

const CHECKS: readonly SegCheck[] = [
  // ---- Selector fields
  {
    check: 'sel-ti', regs: ['tr'],
    sdm: 'TR. The TI flag (bit 2) of the selector must be 0.',
    holds: (v, s) => s.ti === 0,
    says: (v, s) => `guest TR selector ${hex(s.sel, 4)} has TI = 1; the TSS descriptor must be in the GDT`,
  },
  {
    check: 'sel-ti', regs: ['ldtr'],
    sdm: 'LDTR. If LDTR is usable, the TI flag (bit 2) must be 0.',
    holds: (v, s) => s.unusable || s.ti === 0,
    says: (v, s) => `guest LDTR selector ${hex(s.sel, 4)} has TI = 1; the LDT descriptor must be in the GDT (or mark LDTR unusable)`,
  },
  {
    check: 'rpl-vs-cs', regs: ['ss'], reads: [F.GUEST_CS_SELECTOR, RFLAGS, P2],
    sdm: 'SS. If the guest will not be virtual-8086 and "unrestricted guest" is 0, the RPL (bits 1:0) must equal the RPL of the selector field for CS.',
    holds: (v, s) => v.guest.v86 || ug(v) || s.rpl === v.guest.cs.rpl,
    says: (v, s) => `guest SS selector ${hex(s.sel, 4)} has RPL ${s.rpl} but CS selector ${hex(v.guest.cs.sel, 4)} has RPL ${v.guest.cs.rpl}; they must be equal (the CPL)`,
  },
  // ---- Base-address fields
  {
    check: 'base-v86', regs: CS_TO_GS, reads: [RFLAGS],
    sdm: 'CS, SS, DS, ES, FS, GS. If the guest will be virtual-8086, the address must be the selector field shifted left 4 bits.',
    holds: (v, s) => !v.guest.v86 || (s.base.hi === 0 && s.base.lo === s.sel * 16),
    says: (v, s) => `guest ${s.name} base ${hex64(s.base.lo, s.base.hi)} is not selector ${hex(s.sel, 4)} × 16 in a virtual-8086 guest (RFLAGS.VM = 1); use ${hex(s.sel * 16)}`,
  },
  {
    check: 'base-canonical', regs: ['tr', 'fs', 'gs'],
    sdm: 'TR, FS, GS. The address must be canonical.',
    holds: (v, s) => canonical(s.base, v.caps.linWidth),
    says: (v, s) => `guest ${s.name} base ${hex64(s.base.lo, s.base.hi)} is not canonical (bits 63:${v.caps.linWidth - 1} must all be equal)`,
  },
  {
    check: 'base-canonical', regs: ['ldtr'],
    sdm: 'LDTR. If LDTR is usable, the address must be canonical.',
    holds: (v, s) => s.unusable || canonical(s.base, v.caps.linWidth),
    says: (v, s) => `guest LDTR base ${hex64(s.base.lo, s.base.hi)} is not canonical (bits 63:${v.caps.linWidth - 1} must all be equal)`,
  },
  {
    check: 'base-upper', regs: ['cs'],
    sdm: 'CS. Bits 63:32 of the address must be zero.',
    holds: (v, s) => s.base.hi === 0,
    says: (v, s) => `guest CS base ${hex64(s.base.lo, s.base.hi)} sets bits 63:32; they must be 0`,
  },
  {
    check: 'base-upper', regs: ['ss', 'ds', 'es'],
    sdm: 'SS, DS, ES. If the register is usable, bits 63:32 of the address must be zero.',
    holds: (v, s) => s.unusable || s.base.hi === 0,
    says: (v, s) => `guest ${s.name} base ${hex64(s.base.lo, s.base.hi)} sets bits 63:32; they must be 0 (only FS and GS have 64-bit bases)`,
  },
  // ---- Limit fields
  {
    check: 'limit-v86', regs: CS_TO_GS, reads: [RFLAGS],
    sdm: 'CS, SS, DS, ES, FS, GS. If the guest will be virtual-8086, the field must be 0000FFFFH.',
    holds: (v, s) => !v.guest.v86 || s.limit === 0xffff,
    says: (v, s) => `guest ${s.name} limit ${hex(s.limit)} in a virtual-8086 guest (RFLAGS.VM = 1); it must be 0xffff`,
  },
  // ---- Access-rights fields: virtual-8086
  {
    check: 'ar-v86', regs: CS_TO_GS, reads: [RFLAGS],
    sdm: 'CS, SS, DS, ES, FS, GS. If the guest will be virtual-8086, the field must be 000000F3H.',
    holds: (v, s) => !v.guest.v86 || s.ar === 0xf3,
    says: (v, s) => `${arStr(s)} in a virtual-8086 guest (RFLAGS.VM = 1); it must be 0x00f3 (present, DPL 3, read/write accessed data)`,
  },
  // ---- Access-rights fields: not virtual-8086 — Type
  {
    check: 'type', regs: ['cs'], reads: [RFLAGS, P2],
    sdm: 'CS Type must be 9, 11, 13 or 15 (accessed code segment); with "unrestricted guest", 3 (read/write accessed data) is also allowed.',
    holds: (v, s) => v.guest.v86 || s.type === 9 || s.type === 11 || s.type === 13 || s.type === 15 || (ug(v) && s.type === 3),
    says: (v, s) => `guest CS type is ${s.type} (${arStr(s)}); it must be 9, 11, 13 or 15 (an accessed code segment)${ug(v) ? ' or 3' : ''}`,
  },
  {
    check: 'type', regs: ['ss'], reads: [RFLAGS],
    sdm: 'SS. If SS is usable, the Type must be 3 or 7 (read/write, accessed data segment).',
    holds: (v, s) => !checkedAr(v, s) || s.type === 3 || s.type === 7,
    says: (v, s) => `guest SS type is ${s.type} (${arStr(s)}); a usable SS must be 3 or 7 (read/write, accessed data) — or mark it unusable (bit 16)`,
  },
  {
    check: 'type-accessed', regs: DATA_SEGS, reads: [RFLAGS],
    sdm: 'DS, ES, FS, GS. If the register is usable, bit 0 of the Type must be 1 (accessed).',
    holds: (v, s) => !checkedAr(v, s) || (s.type & 1) === 1,
    says: (v, s) => `guest ${s.name} type is ${s.type} (${arStr(s)}): the accessed bit (type bit 0) is 0 in a usable register; use type ${s.type | 1}`,
  },
  {
    check: 'type-code-readable', regs: DATA_SEGS, reads: [RFLAGS],
    sdm: 'DS, ES, FS, GS. If the register is usable and bit 3 of the Type is 1 (code segment), bit 1 of the Type must be 1 (readable).',
    holds: (v, s) => !checkedAr(v, s) || (s.type & 8) === 0 || (s.type & 2) !== 0,
    says: (v, s) => `guest ${s.name} type is ${s.type} (${arStr(s)}): an execute-only code segment cannot be loaded into a data-segment register; use a readable code type (${s.type | 2})`,
  },
  // ---- S
  {
    check: 's', regs: CS_TO_GS, reads: [RFLAGS],
    sdm: 'Bit 4 (S). If the register is CS or if the register is usable, S must be 1.',
    holds: (v, s) => !checkedAr(v, s) || s.s === 1,
    says: (v, s) => `${arStr(s)} has S = 0 (a system descriptor); ${s.name} must hold a code or data segment (S = 1)`,
  },
  // ---- DPL
  {
    check: 'dpl-type3', regs: ['cs'], reads: [RFLAGS],
    sdm: 'CS DPL. If the Type is 3 (read/write accessed data, only with "unrestricted guest"), the DPL must be 0.',
    holds: (v, s) => v.guest.v86 || s.type !== 3 || s.dpl === 0,
    says: (v, s) => `guest CS type is 3 (real-mode-style data segment) with DPL ${s.dpl}; it must be 0`,
  },
  {
    check: 'dpl-nonconforming', regs: ['cs'], reads: [RFLAGS, F.GUEST_SS_ACCESS_RIGHTS],
    sdm: 'CS DPL. If the Type is 9 or 11 (non-conforming code segment), the DPL must equal the DPL in the access-rights field for SS.',
    holds: (v, s) => v.guest.v86 || (s.type !== 9 && s.type !== 11) || s.dpl === v.guest.ss.dpl,
    says: (v, s) => `guest CS is non-conforming code (type ${s.type}) with DPL ${s.dpl} but SS DPL is ${v.guest.ss.dpl}; they must be equal (both are the CPL)`,
  },
  {
    check: 'dpl-conforming', regs: ['cs'], reads: [RFLAGS, F.GUEST_SS_ACCESS_RIGHTS],
    sdm: 'CS DPL. If the Type is 13 or 15 (conforming code segment), the DPL cannot be greater than the DPL in the access-rights field for SS.',
    holds: (v, s) => v.guest.v86 || (s.type !== 13 && s.type !== 15) || s.dpl <= v.guest.ss.dpl,
    says: (v, s) => `guest CS is conforming code (type ${s.type}) with DPL ${s.dpl} above SS DPL ${v.guest.ss.dpl}; it must be ≤ ${v.guest.ss.dpl}`,
  },
  {
    check: 'dpl-rpl', regs: ['ss'], reads: [RFLAGS, P2],
    sdm: 'SS DPL. If "unrestricted guest" is 0, the DPL must equal the RPL from the selector field.',
    holds: (v, s) => v.guest.v86 || ug(v) || s.dpl === s.rpl,
    says: (v, s) => `guest SS DPL is ${s.dpl} (${arStr(s)}) but the SS selector ${hex(s.sel, 4)} has RPL ${s.rpl}; they must be equal`,
  },
  {
    check: 'dpl-zero', regs: ['ss'], reads: [RFLAGS, F.GUEST_CS_ACCESS_RIGHTS, F.GUEST_CR0],
    sdm: 'SS DPL. The DPL must be 0 either if the Type in the access-rights field for CS is 3 or if bit 0 in the CR0 field (PE) is 0.',
    holds: (v, s) => v.guest.v86 || (v.guest.cs.type !== 3 && v.guest.pe) || s.dpl === 0,
    says: (v, s) => `guest SS DPL is ${s.dpl} but ${v.guest.pe ? 'CS type is 3' : 'the guest CR0.PE is 0 (real-address mode)'}; SS DPL (the CPL) must be 0`,
  },
  {
    check: 'dpl-rpl', regs: DATA_SEGS, reads: [RFLAGS, P2],
    sdm: 'DS, ES, FS, GS DPL. If "unrestricted guest" is 0 and the register is usable with Type 0–11 (data or non-conforming code), the DPL cannot be less than the RPL in the selector field.',
    holds: (v, s) => !checkedAr(v, s) || ug(v) || s.type > 11 || s.dpl >= s.rpl,
    says: (v, s) => `guest ${s.name} DPL is ${s.dpl} (${arStr(s)}) but its selector ${hex(s.sel, 4)} has RPL ${s.rpl}; the DPL must be ≥ the RPL`,
  },
  // ---- P
  {
    check: 'p', regs: CS_TO_GS, reads: [RFLAGS],
    sdm: 'Bit 7 (P). If the register is CS or if the register is usable, P must be 1.',
    holds: (v, s) => !checkedAr(v, s) || s.p === 1,
    says: (v, s) => `${arStr(s)} has P = 0; ${s.name === 'CS' ? 'CS' : `a usable ${s.name}`} must be present (or set the unusable bit 16)`,
  },
  // ---- Reserved bits 11:8
  ...reservedRules(CS_TO_GS, checkedAr, [RFLAGS]),
  // ---- D/B
  {
    check: 'db-long', regs: ['cs'], reads: [RFLAGS, N],
    sdm: 'CS D/B (bit 14). If the guest will be in IA-32e mode and the L bit (bit 13) is 1, D/B must be 0.',
    holds: (v, s) => v.guest.v86 || !v.entry.ia32eModeGuest || s.l === 0 || s.db === 0,
    says: (v, s) => `${arStr(s)} has L = 1 and D/B = 1 in an IA-32e mode guest (that combination is reserved); clear D/B (bit 14): use ${hex(s.ar & ~0x4000, 4)}`,
  },
  // ---- G
  ...gRules(CS_TO_GS, checkedAr, [RFLAGS]),
  // ---- Reserved bits 31:17
  ...reservedHighRules(CS_TO_GS, checkedAr, [RFLAGS]),

  // ---- TR
  {
    check: 'type', regs: ['tr'], reads: [N],
    sdm: 'TR Type. If the guest will not be IA-32e mode, the Type must be 3 (16-bit busy TSS) or 11 (32-bit busy TSS).',
    holds: (v, s) => v.entry.ia32eModeGuest || s.type === 3 || s.type === 11,
    says: (v, s) => `guest TR type is ${s.type} (${arStr(s)}); it must be 3 (busy 16-bit TSS) or 11 (busy 32-bit TSS)${s.type === 1 || s.type === 9 ? ' — mark the TSS busy' : ''}`,
  },
  {
    check: 'type-ia32e', regs: ['tr'], reads: [N],
    sdm: 'TR Type. If the guest will be IA-32e mode, the Type must be 11 (64-bit busy TSS).',
    holds: (v, s) => !v.entry.ia32eModeGuest || s.type === 11,
    says: (v, s) => `guest TR type is ${s.type}; an IA-32e mode guest needs 11 (busy 64-bit TSS)`,
  },
  {
    check: 's', regs: ['tr'],
    sdm: 'TR Bit 4 (S). S must be 0.',
    holds: (v, s) => s.s === 0,
    says: (v, s) => `${arStr(s)} has S = 1; TR must hold a TSS (system descriptor, S = 0)`,
  },
  {
    check: 'p', regs: ['tr'],
    sdm: 'TR Bit 7 (P). P must be 1.',
    holds: (v, s) => s.p === 1,
    says: (v, s) => `${arStr(s)} has P = 0; the TSS must be present`,
  },
  ...reservedRules(['tr'], () => true),
  ...gRules(['tr'], () => true),
  {
    check: 'unusable', regs: ['tr'],
    sdm: 'TR Bit 16 (unusable). The unusable bit must be 0.',
    holds: (v, s) => !s.unusable,
    says: (v, s) => `${arStr(s)} marks TR unusable (bit 16); TR must always be usable`,
  },
  ...reservedHighRules(['tr'], () => true),

  // ---- LDTR (if usable)
  {
    check: 'type', regs: ['ldtr'],
    sdm: 'LDTR Type. If LDTR is usable, the Type must be 2 (LDT).',
    holds: (v, s) => s.unusable || s.type === 2,
    says: (v, s) => `guest LDTR type is ${s.type} (${arStr(s)}); a usable LDTR must have type 2 (LDT) — or set the unusable bit 16`,
  },
  {
    check: 's', regs: ['ldtr'],
    sdm: 'LDTR Bit 4 (S). If LDTR is usable, S must be 0.',
    holds: (v, s) => s.unusable || s.s === 0,
    says: (v, s) => `${arStr(s)} has S = 1; an LDT descriptor is a system descriptor (S = 0)`,
  },
  {
    check: 'p', regs: ['ldtr'],
    sdm: 'LDTR Bit 7 (P). If LDTR is usable, P must be 1.',
    holds: (v, s) => s.unusable || s.p === 1,
    says: (v, s) => `${arStr(s)} has P = 0 in a usable LDTR`,
  },
  ...reservedRules(['ldtr'], (v, s) => s.usable),
  ...gRules(['ldtr'], (v, s) => s.usable),
  ...reservedHighRules(['ldtr'], (v, s) => s.usable),
];

export const GUEST_SEGMENT_RULES: readonly StateRule[] = CHECKS.flatMap((c) => c.regs.map((r) => {
  const own = GUEST_SEG_FIELDS[r];
  const g = SEG[r];
  return rule({
    id: `guest.${r}.${c.check}`,
    reads: [...own, ...(c.reads ?? []).filter((e) => !own.includes(e))],
    sdm: c.sdm,
    holds: (v) => c.holds(v, g(v)),
    says: (v) => c.says(v, g(v)),
  });
}));
