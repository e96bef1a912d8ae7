import type { CPU } from './cpu.js';
import { MAXPHYADDR } from './mmu.js';
import { CR4_OSXSAVE } from './regs.js';
import { IA32_APIC_BASE, IA32_MISC_ENABLE } from './msr.js';

/**
 * CPUID (SDM Vol. 2, "CPUID—CPU Identification"): ONE coherent CPU model that reports exactly
 * what vmxray implements. A feature switched on here must exist everywhere it is visible (the
 * instruction rows, CR4 bits that depend on it, MSRs); CR4's writable bits are derived from
 * FEATURES (see sysregs.ts).
 *
 * The data is one object per leaf (LEAVES). Leaves below the maximum that are not listed return
 * zeros; a leaf above the maximum basic or extended leaf returns the highest basic leaf's data,
 * as Intel processors do ("If a value entered for CPUID.EAX is higher than the maximum input
 * value for basic or extended function for that processor then the data for the highest basic
 * information leaf is returned").
 */

/** Feature switches of the model. Flip one only together with the implementation it announces. */
export const FEATURES = {
  /** CPUID.1:ECX.VMX[bit 5]: VMXON & co. and the IA32_VMX_* capability MSRs (src/vmx). */
  vmx: true,
  /** XSAVE/XRSTOR (CPUID.1:ECX.XSAVE[26]); off until implemented. Without it CR4.OSXSAVE is reserved,
   *  so XGETBV/XSETBV raise #UD, and leaf 0DH reads as zeros. */
  xsave: false,
  /** MONITOR/MWAIT (CPUID.1:ECX.MONITOR[3]): not reported; both instructions raise #UD. */
  monitor: false,
  /** RDFSBASE & co. (CPUID.7:EBX.FSGSBASE[0]): not implemented, so CR4.FSGSBASE is reserved. */
  fsgsbase: false,
  /** Process-context identifiers (CPUID.1:ECX.PCID[17]) and INVPCID (CPUID.7:EBX.INVPCID[10]). */
  pcid: true,
  invpcid: true,
  /** SSE4.2 (CPUID.1:ECX[20]) is reported only if the SSE engineer implements it. */
  sse42: true,
} as const;

// ---- leaf 1 bits
export const L1_EDX = {
  FPU: 1 << 0, VME: 1 << 1, DE: 1 << 2, PSE: 1 << 3, TSC: 1 << 4, MSR: 1 << 5, PAE: 1 << 6, MCE: 1 << 7, CX8: 1 << 8,
  APIC: 1 << 9, SEP: 1 << 11, MTRR: 1 << 12, PGE: 1 << 13, MCA: 1 << 14, CMOV: 1 << 15, PAT: 1 << 16, PSE36: 1 << 17,
  CLFSH: 1 << 19, MMX: 1 << 23, FXSR: 1 << 24, SSE: 1 << 25, SSE2: 1 << 26,
} as const;
export const L1_ECX = {
  SSE3: 1 << 0, MONITOR: 1 << 3, VMX: 1 << 5, SSSE3: 1 << 9, CX16: 1 << 13, PCID: 1 << 17, SSE41: 1 << 19, SSE42: 1 << 20,
  X2APIC: 1 << 21, POPCNT: 1 << 23, XSAVE: 1 << 26, OSXSAVE: 1 << 27,
} as const;
/** The VMX feature bit, for the VMX issue. */
export const CPUID_1_ECX_VMX = L1_ECX.VMX;
// ---- leaf 7 subleaf 0 EBX
export const L7_EBX = { FSGSBASE: 1 << 0, BMI1: 1 << 3, SMEP: 1 << 7, ERMS: 1 << 9, INVPCID: 1 << 10, ADX: 1 << 19, SMAP: 1 << 20 } as const;
// ---- leaf 80000001H
export const LX1_ECX = { LAHF: 1 << 0, ABM: 1 << 5, PREFETCHW: 1 << 8 } as const;
export const LX1_EDX = { SYSCALL: 1 << 11, NX: 1 << 20, PAGE1GB: 1 << 26, RDTSCP: 1 << 27, LM: 1 << 29 } as const;

const or = (...b: number[]) => b.reduce((a, x) => a | x, 0) >>> 0;

/** Family 6, model 3AH (extended model 3, model 0AH), stepping 9 — an Ivy Bridge-like signature. */
export const SIGNATURE = (3 << 16) | (6 << 8) | (0xa << 4) | 9;

const LEAF1_EDX = or(
  L1_EDX.FPU, L1_EDX.DE, L1_EDX.PSE, L1_EDX.TSC, L1_EDX.MSR, L1_EDX.PAE, L1_EDX.MCE, L1_EDX.CX8, L1_EDX.APIC,
  L1_EDX.SEP, L1_EDX.MTRR, L1_EDX.PGE, L1_EDX.MCA, L1_EDX.CMOV, L1_EDX.PAT, L1_EDX.PSE36, L1_EDX.CLFSH,
  L1_EDX.FXSR, L1_EDX.SSE, L1_EDX.SSE2,
  // MMX is not reported: vmxray does not implement the MMX registers/instructions (x86-64 compilers do not emit them;
  // test/cpu/decoder-iced.test.ts expects their encodings to be #UD).
);
const LEAF1_ECX = or(
  L1_ECX.SSE3, L1_ECX.SSSE3, L1_ECX.CX16, L1_ECX.SSE41, L1_ECX.X2APIC, L1_ECX.POPCNT,
  FEATURES.pcid ? L1_ECX.PCID : 0, FEATURES.vmx ? L1_ECX.VMX : 0, FEATURES.xsave ? L1_ECX.XSAVE : 0,
  FEATURES.monitor ? L1_ECX.MONITOR : 0, FEATURES.sse42 ? L1_ECX.SSE42 : 0,
);
const LEAF7_EBX = or(L7_EBX.BMI1, L7_EBX.SMEP, L7_EBX.ERMS, L7_EBX.ADX, L7_EBX.SMAP, FEATURES.invpcid ? L7_EBX.INVPCID : 0,
  FEATURES.fsgsbase ? L7_EBX.FSGSBASE : 0);

/** XCR0 bits this model supports: x87 (bit 0) and SSE (bit 1). */
export const XCR0_SUPPORTED = 3;
/** XSAVE area size for x87+SSE: 512-byte legacy region + 64-byte header. */
const XSAVE_SIZE = 576;

function str4(s: string, i: number): number {
  let v = 0;
  for (let k = 3; k >= 0; k--) v = (v * 256) + (s.charCodeAt(i + k) || 0);
  return v >>> 0;
}
const BRAND = 'vmxray virtual CPU'.padEnd(48, '\0');
const brand = (part: number): Regs => [str4(BRAND, part * 16), str4(BRAND, part * 16 + 4), str4(BRAND, part * 16 + 8), str4(BRAND, part * 16 + 12)];

export type Regs = readonly [eax: number, ebx: number, ecx: number, edx: number];

/** One CPUID leaf: fixed registers, or per-subleaf registers (`sub`, index = ECX; others zero or `subOther`), plus
 *  `dyn` for bits that reflect CPU state (OSXSAVE, APIC enable, XCR0-dependent sizes). */
export interface Leaf {
  leaf: number;
  what: string;
  regs?: Regs;
  sub?: readonly Regs[];
  subOther?: (ecx: number) => Regs;
  dyn?: (cpu: CPU, r: number[], ecx: number) => void;
}

export const LEAVES: readonly Leaf[] = [
  { leaf: 0x0, what: 'maximum basic leaf, vendor "GenuineIntel"', regs: [0xd, str4('Genu', 0), str4('ntel', 0), str4('ineI', 0)],
    // IA32_MISC_ENABLE[22] "Limit CPUID Maxval": leaf 0 reports 2 (SDM Vol. 4).
    dyn: (cpu, r) => { const m = cpu.msr.get(IA32_MISC_ENABLE); if (m && (m[0] & (1 << 22))) r[0] = 2; } },
  { leaf: 0x1, what: 'signature and feature flags',
    // EBX: CLFLUSH line 8×8 = 64 bytes; 1 logical processor; initial APIC ID 0.
    regs: [SIGNATURE, (1 << 16) | (8 << 8), LEAF1_ECX, LEAF1_EDX],
    dyn: (cpu, r) => {
      if (cpu.cr4 & CR4_OSXSAVE) r[2] |= L1_ECX.OSXSAVE;         // OSXSAVE mirrors CR4.OSXSAVE
      const apic = cpu.msr.get(IA32_APIC_BASE);                     // APIC bit follows IA32_APIC_BASE.EN[11]
      if (apic && !(apic[0] & 0x800)) r[3] &= ~L1_EDX.APIC;
    } },
  { leaf: 0x2, what: 'cache descriptors: one iteration, no descriptors', regs: [1, 0, 0, 0] },
  { leaf: 0x4, what: 'deterministic cache parameters: none (subleaf 0 type = null)', regs: [0, 0, 0, 0] },
  { leaf: 0x6, what: 'thermal/power: ARAT (the APIC timer runs in every state)', regs: [1 << 2, 0, 0, 0] },
  { leaf: 0x7, what: 'structured extended features', sub: [[0, LEAF7_EBX, 0, 0]] },
  { leaf: 0xb, what: 'x2APIC topology: one thread, one core',
    sub: [[0, 1, (1 << 8) | 0, 0], [0, 1, (2 << 8) | 1, 0]],
    subOther: ecx => [0, 0, ecx & 0xff, 0],
    dyn: (_cpu, r) => { r[3] = 0; /* x2APIC ID of this processor */ } },
  { leaf: 0xd, what: 'XSAVE state: x87 and SSE only',
    // EBX (size for the features enabled in XCR0) = ECX (size for all supported): x87 and SSE both live in
    // the legacy region. Zeros while XSAVE is not reported (SDM: an unsupported leaf below the maximum reads 0).
    sub: FEATURES.xsave ? [[XCR0_SUPPORTED, XSAVE_SIZE, XSAVE_SIZE, 0], [0, 0, 0, 0]] : [] },
  { leaf: 0x80000000, what: 'maximum extended leaf', regs: [0x80000008, 0, 0, 0] },
  { leaf: 0x80000001, what: 'extended features',
    regs: [0, 0, or(LX1_ECX.LAHF, LX1_ECX.ABM, LX1_ECX.PREFETCHW), or(LX1_EDX.SYSCALL, LX1_EDX.NX, LX1_EDX.PAGE1GB, LX1_EDX.RDTSCP, LX1_EDX.LM)] },
  { leaf: 0x80000002, what: 'brand string 1/3', regs: brand(0) },
  { leaf: 0x80000003, what: 'brand string 2/3', regs: brand(1) },
  { leaf: 0x80000004, what: 'brand string 3/3', regs: brand(2) },
  { leaf: 0x80000007, what: 'invariant TSC (virtual time advances at a constant rate)', regs: [0, 0, 0, 1 << 8] },
  { leaf: 0x80000008, what: 'address sizes: physical MAXPHYADDR, linear 48', regs: [(48 << 8) | MAXPHYADDR, 0, 0, 0] },
];

const BY_LEAF = new Map<number, Leaf>(LEAVES.map(l => [l.leaf, l]));
const MAX_BASIC = LEAVES.filter(l => l.leaf < 0x80000000).reduce((m, l) => Math.max(m, l.leaf), 0);
const MAX_EXT = LEAVES.filter(l => l.leaf >= 0x80000000).reduce((m, l) => Math.max(m, l.leaf), 0);

/** Execute CPUID for EAX = leaf, ECX = subleaf; returns [EAX, EBX, ECX, EDX] as unsigned numbers. */
export function cpuid(cpu: CPU, leaf: number, subleaf: number): number[] {
  leaf >>>= 0; subleaf >>>= 0;
  let maxBasic = MAX_BASIC;
  const misc = cpu.msr.get(IA32_MISC_ENABLE);
  if (misc && (misc[0] & (1 << 22))) maxBasic = 2;
  if (leaf < 0x80000000 ? leaf > maxBasic : leaf > MAX_EXT) leaf = maxBasic;
  const l = BY_LEAF.get(leaf);
  const r = [0, 0, 0, 0];
  if (!l) return r;
  const src = l.regs ?? (l.sub && subleaf < l.sub.length ? l.sub[subleaf] : l.subOther ? l.subOther(subleaf) : undefined);
  if (src) { r[0] = src[0]; r[1] = src[1]; r[2] = src[2]; r[3] = src[3]; }
  if (l.dyn && (l.regs || (l.sub && subleaf < l.sub.length) || l.subOther)) l.dyn(cpu, r, subleaf);
  for (let i = 0; i < 4; i++) r[i] >>>= 0;
  return r;
}

/** True if the model reports the feature `name` (the table's `cpuid:` row option names). */
export function hasFeature(cpu: CPU, name: string): boolean {
  switch (name) {
    case 'SMAP': return (LEAF7_EBX & L7_EBX.SMAP) !== 0;
    case 'SMEP': return (LEAF7_EBX & L7_EBX.SMEP) !== 0;
    case 'BMI1': return (LEAF7_EBX & L7_EBX.BMI1) !== 0;
    case 'INVPCID': return (LEAF7_EBX & L7_EBX.INVPCID) !== 0;
    case 'ADX': return (LEAF7_EBX & L7_EBX.ADX) !== 0;
    case 'SSSE3': return (LEAF1_ECX & L1_ECX.SSSE3) !== 0;
    case 'SSE4_1': return (LEAF1_ECX & L1_ECX.SSE41) !== 0;
    case 'SSE4_2': return (LEAF1_ECX & L1_ECX.SSE42) !== 0;
    case 'POPCNT': return (LEAF1_ECX & L1_ECX.POPCNT) !== 0;
    case 'LZCNT': return true;
    case 'RDTSCP': return true;
    case 'XSAVE': return FEATURES.xsave;
    case 'MONITOR': return FEATURES.monitor;
    case 'VMX': return FEATURES.vmx;
    case 'OSXSAVE': return (cpu.cr4 & CR4_OSXSAVE) !== 0;
    default: return false;
  }
}
