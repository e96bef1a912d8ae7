/** Small builders shared by the rule files: allowed-0/allowed-1 control words, VMX-structure addresses. */
import { controlNames } from '../controls.js';
import { section, hex, hex64, bitList, type StateRule } from './rule.js';
import { withinWidth, type EntryView, type U64, type AllowedCtl } from './view.js';

/**
 * Physical-address width that limits the addresses of VMX structures (bitmaps, virtual-APIC page,
 * MSR areas, VMCS link pointer): 32 if IA32_VMX_BASIC[48] is 1, else MAXPHYADDR (SDM Appendix A,
 * "Basic VMX Information").
 */
export function structWidth(v: EntryView): number { return v.caps.addr32 ? 32 : v.caps.physWidth; }

type Rule = ReturnType<typeof section>;

/** The two rules on one control word: bits that must be 1 (allowed-0 settings) and bits that must be 0 (allowed-1). */
export function controlWordRules(rule: Rule, o: {
  id: string; label: string; msr: string; enc: number; word: Readonly<Record<string, number>>;
  value: (v: EntryView) => number; caps: (v: EntryView) => AllowedCtl; when?: (v: EntryView) => boolean;
  extraReads?: readonly number[]; sdm: string;
}): StateRule[] {
  const when = o.when ?? (() => true);
  const names = (m: number): string => {
    const n = controlNames(o.word, m);
    return n.length ? ` (${n.join(', ')})` : '';
  };
  return [
    rule({
      id: `${o.id}.allowed0`, reads: [o.enc, ...(o.extraReads ?? [])], sdm: o.sdm,
      holds: (v) => !when(v) || (o.caps(v).allowed0 & ~o.value(v)) === 0,
      says: (v) => {
        const miss = (o.caps(v).allowed0 & ~o.value(v)) >>> 0;
        return `${o.label} ${hex(o.value(v), 8)} clear bit(s) ${bitList(miss)}${names(miss)} that must be 1: ${o.msr} allowed-0 settings are ${hex(o.caps(v).allowed0, 8)}; use ${hex(o.value(v) | o.caps(v).allowed0, 8)}`;
      },
    }),
    rule({
      id: `${o.id}.allowed1`, reads: [o.enc, ...(o.extraReads ?? [])], sdm: o.sdm,
      holds: (v) => !when(v) || (o.value(v) & ~o.caps(v).allowed1) === 0,
      says: (v) => {
        const bad = (o.value(v) & ~o.caps(v).allowed1) >>> 0;
        return `${o.label} ${hex(o.value(v), 8)} set bit(s) ${bitList(bad)}${names(bad)} that vmxray's processor does not support: ${o.msr} allowed-1 settings are ${hex(o.caps(v).allowed1, 8)}; use ${hex(o.value(v) & o.caps(v).allowed1, 8)}`;
      },
    }),
  ];
}

/** The two rules on the address of a 4-KByte VMX structure: bits 11:0 zero, no bits beyond the physical-address width. */
export function pageAddressRules(rule: Rule, o: {
  id: string; label: string; enc: number; ctlEnc: number; control: string;
  when: (v: EntryView) => boolean; addr: (v: EntryView) => U64;
}): StateRule[] {
  return [
    rule({
      id: `${o.id}.aligned`, reads: [o.enc, o.ctlEnc],
      sdm: `If the "${o.control}" VM-execution control is 1, bits 11:0 of the ${o.label} must be 0.`,
      holds: (v) => !o.when(v) || (o.addr(v).lo & 0xfff) === 0,
      says: (v) => `${o.label} ${hex64(o.addr(v).lo, o.addr(v).hi)} is not 4-KByte aligned (bits 11:0 = ${hex(o.addr(v).lo & 0xfff)}); "${o.control}" is 1, so it must be a page address such as ${hex64((o.addr(v).lo & ~0xfff) >>> 0, o.addr(v).hi)}`,
    }),
    rule({
      id: `${o.id}.width`, reads: [o.enc, o.ctlEnc],
      sdm: `If the "${o.control}" VM-execution control is 1, the ${o.label} must not set any bits beyond the processor's physical-address width.`,
      holds: (v) => !o.when(v) || withinWidth(o.addr(v), structWidth(v)),
      says: (v) => `${o.label} ${hex64(o.addr(v).lo, o.addr(v).hi)} sets bits beyond the physical-address width (${structWidth(v)} bits); it must be below ${hex64(0, 2 ** (structWidth(v) - 32))}`,
    }),
  ];
}

/** The three rules on an MSR-store/-load area (count nonzero): 16-byte aligned, within width, last byte within width. */
export function msrAreaRules(rule: Rule, o: {
  id: string; label: string; addrEnc: number; countEnc: number;
  addr: (v: EntryView) => U64; count: (v: EntryView) => number;
}): StateRule[] {
  const last = (v: EntryView): number => o.addr(v).hi * 4294967296 + o.addr(v).lo + o.count(v) * 16 - 1;
  return [
    rule({
      id: `${o.id}.aligned`, reads: [o.addrEnc, o.countEnc],
      sdm: `If the ${o.label} count is not zero, bits 3:0 of the ${o.label} address must be 0.`,
      holds: (v) => o.count(v) === 0 || (o.addr(v).lo & 15) === 0,
      says: (v) => `${o.label} address ${hex64(o.addr(v).lo, o.addr(v).hi)} is not 16-byte aligned (count ${o.count(v)}); bits 3:0 must be 0`,
    }),
    rule({
      id: `${o.id}.width`, reads: [o.addrEnc, o.countEnc],
      sdm: `If the ${o.label} count is not zero, the address must not set any bits beyond the processor's physical-address width.`,
      holds: (v) => o.count(v) === 0 || withinWidth(o.addr(v), structWidth(v)),
      says: (v) => `${o.label} address ${hex64(o.addr(v).lo, o.addr(v).hi)} sets bits beyond the physical-address width (${structWidth(v)} bits)`,
    }),
    rule({
      id: `${o.id}.last-byte-width`, reads: [o.addrEnc, o.countEnc],
      sdm: `If the ${o.label} count is not zero, the address of the last byte in the ${o.label} area (address + 16 * count - 1) must not set any bits beyond the physical-address width.`,
      holds: (v) => o.count(v) === 0 || !withinWidth(o.addr(v), structWidth(v)) || last(v) < 2 ** structWidth(v),
      says: (v) => `the ${o.label} area (${o.count(v)} entries of 16 bytes from ${hex64(o.addr(v).lo, o.addr(v).hi)}) ends at 0x${last(v).toString(16)}, beyond the physical-address width (${structWidth(v)} bits)`,
    }),
  ];
}
