import { describe, it, expect } from 'vitest';
import { Decoder, DecoderOptions, Mnemonic, Code, CpuidFeature, OpKind, Register } from 'iced-x86';
import { decodeBytes, DEC16, DEC32, DEC64 } from '../../src/cpu/decoder.js';

/**
 * The decoder checked against iced-x86 (an independent, fuzzed x86 decoder) on random byte
 * strings in 16/32/64-bit modes: same length, same valid/invalid decision, same mnemonic class.
 * Instructions whose CPUID features vmxray's CPU model does not have (AVX, MMX, 3DNow!, ...)
 * must be invalid (#UD) for vmxray; they are counted apart. So are the MMX-register forms of
 * SSE/SSSE3 instructions: vmxray does not implement MMX (CPUID.1:EDX.MMX = 0; x86-64 compilers
 * do not emit MMX), so they are #UD.
 * VMXRAY_ICED_CASES sets the number of byte strings per mode (default 50,000 → 150,000 in all).
 * Decoded-but-#UD-at-runtime instructions (XGETBV without XSAVE, MONITOR/MWAIT) are listed apart.
 */
const CASES = Number(process.env.VMXRAY_ICED_CASES ?? 50_000);

/** CPUID features of vmxray's CPU model (keep in step with src/cpu/cpuid.ts). */
const MODEL = new Set<number>([
  'INTEL8086', 'INTEL186', 'INTEL286_ONLY', 'INTEL286', 'INTEL386', 'INTEL486', 'X64', 'CMOV', 'CX8', 'CMPXCHG16B', 'CPUID', 'FPU', 'FPU287',
  'FPU387', 'FXSR', 'MSR', 'TSC', 'RDTSCP', 'SEP', 'SYSCALL', 'SSE', 'SSE2', 'SSE3', 'SSSE3', 'SSE4_1', 'SSE4_2', 'POPCNT', 'LZCNT',
  'SMAP', 'ADX', 'PAUSE', 'MULTIBYTENOP', 'CLFSH', 'INVPCID', 'PREFETCHW', 'RDPMC', 'VMX', 'INVEPT', 'INVVPID',
].map(n => (CpuidFeature as unknown as Record<string, number>)[n]));
/** BMI1 is in the model for TZCNT only (the VEX-encoded BMI1 instructions are not). */
const BMI1 = (CpuidFeature as unknown as Record<string, number>).BMI1;

/** Instructions that, on a CPU without their feature, execute as an older instruction. */
const FALLBACK: Record<string, string> = { Wbnoinvd: 'wbinvd', Prefetchwt1: 'prefetch', Clflushopt: 'clflush' };
/** SSE conversions that read or write MMX registers (or put the x87 in MMX mode) even in their memory form. */
const MMX_CONVERSIONS = new Set(['Cvtpi2ps', 'Cvtps2pi', 'Cvttps2pi', 'Cvtpi2pd', 'Cvtpd2pi', 'Cvttpd2pi', 'Movq2dq', 'Movdq2q', 'Maskmovq', 'Movntq', 'Pshufw']);

const STRING_OPS = /^(movs|cmps|stos|lods|scas|ins|outs)[bwdq]?$/;
const CLASS: Record<string, string> = {
  cbw: 'cbw', cwde: 'cbw', cdqe: 'cbw', cwd: 'cwd', cdq: 'cwd', cqo: 'cwd', iret: 'iret', iretd: 'iret', iretq: 'iret',
  pushf: 'pushf', pushfd: 'pushf', pushfq: 'pushf', popf: 'popf', popfd: 'popf', popfq: 'popf', pusha: 'pusha', pushad: 'pusha',
  popa: 'popa', popad: 'popa', jcxz: 'jrcxz', jecxz: 'jrcxz', jrcxz: 'jrcxz', xlatb: 'xlat', wait: 'fwait', sal: 'shl', shl: 'shl',
  retf: 'retf', ret: 'ret', sysretq: 'sysret', sysexitq: 'sysexit', prefetchw: 'prefetch', prefetchwt1: 'prefetch',
};
/** Decoded, but #UD when executed on this CPU model (CPUID.1:ECX.XSAVE = 0, so CR4.OSXSAVE cannot be set). */
const RUNTIME_UD = new Set(['Xgetbv', 'Xsetbv', 'Monitor', 'Mwait']);
function canon(m: string): string {
  m = m.toLowerCase().replace(/^(fxsave|fxrstor|pcmpestri|pcmpestrm)64$/, '$1');
  if (STRING_OPS.test(m)) return m.replace(STRING_OPS, '$1');
  return CLASS[m] ?? m;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}
const PREFIXES = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65];

/** Random instruction-like byte strings: sometimes prefixes/REX, often escape bytes, then random. */
function sample(next: () => number, mode: number): Uint8Array {
  const b = new Uint8Array(15);
  let p = 0;
  const r = next();
  if (r % 3 === 0) { const n = (r >>> 8) % 3 + 1; for (let i = 0; i < n; i++) b[p++] = PREFIXES[next() % PREFIXES.length]; }
  if (mode === DEC64 && next() % 3 === 0) b[p++] = 0x40 | (next() & 15);
  const e = next() % 8;
  if (e < 3) b[p++] = 0x0f;
  if (e === 1) b[p++] = 0x38;
  if (e === 2) b[p++] = 0x3a;
  while (p < 15) b[p++] = next() & 0xff;
  return b;
}

interface Mismatch { bytes: string; what: string }

function compare(mode: number, bits: 16 | 32 | 64, seed: number) {
  const next = rng(seed);
  const mismatches: Mismatch[] = [];
  let outside = 0, valid = 0, invalid = 0;
  for (let k = 0; k < CASES; k++) {
    const bytes = sample(next, mode);
    const dec = new Decoder(bits, bytes, DecoderOptions.None);
    const ins = dec.decode();
    const icedInvalid = ins.code === Code.INVALID;
    const icedLen = ins.length;
    const feats = icedInvalid ? [] : Array.from(ins.cpuidFeatures());
    const mnem = icedInvalid ? '' : Mnemonic[ins.mnemonic];
    let mmx = false;
    if (!icedInvalid) for (let i = 0; i < ins.opCount; i++) {
      if (ins.opKind(i) === OpKind.Register && /^MM\d$/.test(Register[ins.opRegister(i)])) mmx = true;
    }
    ins.free(); dec.free();
    const ours = decodeBytes(bytes, mode);
    const hex = Buffer.from(bytes).toString('hex');
    if (icedInvalid) {
      invalid++;
      if (ours.valid) mismatches.push({ bytes: hex, what: `iced: invalid; vmxray: ${ours.mnemonic} (len ${ours.len})` });
      continue;
    }
    if (MMX_CONVERSIONS.has(mnem)) mmx = true;
    const inModel = !mmx && feats.every(f => MODEL.has(f) || (f === BMI1 && /^tzcnt$/i.test(mnem)));
    if (!inModel) {
      outside++;
      // 0F 18–1F hint space: on a CPU without the feature (CLDEMOTE, CET's ENDBR, ...) these execute as NOP
      if (ours.valid && ours.mnemonic === 'reservednop') continue;
      if (ours.valid && RUNTIME_UD.has(mnem)) continue;
      // an encoding that older CPUs execute as another instruction (SDM: WBNOINVD runs as WBINVD)
      if (ours.valid && FALLBACK[mnem] === ours.mnemonic) continue;
      if (ours.valid) mismatches.push({ bytes: hex, what: `iced: ${mnem} needs ${feats.map(f => CpuidFeature[f]).join('+')} (not in the CPU model); vmxray: ${ours.mnemonic}` });
      continue;
    }
    valid++;
    if (!ours.valid) mismatches.push({ bytes: hex, what: `iced: ${mnem} (len ${icedLen}); vmxray: invalid` });
    else if (ours.len !== icedLen) mismatches.push({ bytes: hex, what: `iced: ${mnem} len ${icedLen}; vmxray: ${ours.mnemonic} len ${ours.len}` });
    else if (canon(ours.mnemonic) !== canon(mnem)) mismatches.push({ bytes: hex, what: `iced: ${mnem}; vmxray: ${ours.mnemonic}` });
  }
  return { mismatches, outside, valid, invalid };
}

describe('decoder agrees with iced-x86 on random byte strings', () => {
  for (const [mode, bits, seed] of [[DEC16, 16, 1], [DEC32, 32, 2], [DEC64, 64, 3]] as const) {
    it(`${bits}-bit mode: ${CASES} byte strings`, () => {
      const r = compare(mode, bits, seed);
      const report = r.mismatches.slice(0, 30).map(m => `  ${m.bytes}: ${m.what}`).join('\n');
      expect(r.valid).toBeGreaterThan(CASES / 4);
      expect(r.mismatches.length, `${r.mismatches.length} mismatches (valid ${r.valid}, invalid ${r.invalid}, outside model ${r.outside}):\n${report}`).toBe(0);
    });
  }
});
