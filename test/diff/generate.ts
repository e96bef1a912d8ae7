/**
 * Generates the differential-test fixtures test/diff/fixtures/<family>.json by running every
 * case on the host CPU through the native harness (test/diff/native/harness.c).
 *
 *   npm run gen:diff                      (= npx tsx test/diff/generate.ts)
 *   npx tsx test/diff/generate.ts alu sse-cvt     only these families
 *
 * Needs Linux x86-64 with gcc and a CPU with SSE4.2, POPCNT, LZCNT/BMI1 (TZCNT) and ADX. The
 * random values come from a fixed seed per family, so regenerating on the same kind of host
 * reproduces the same files (and a diff shows exactly what the host did differently).
 *
 * Every case is checked before it is written: iced-x86 must decode the bytes to the intended
 * mnemonic with the intended length, and the host must raise exactly the exception the
 * generator expected (usually none). The generator stops if either check fails.
 *
 * Instructions deliberately NOT covered (and why):
 *   - PUSHF/POPF: RFLAGS.TF (the harness's single-step flag) is visible to them: PUSHF would
 *     store TF=1, POPF would have to keep it set to end the case. The CPU sets RF similarly.
 *   - BSWAP r16: the SDM says the result is undefined.
 *   - SHLD/SHRD r16 with a masked count > 16: result and flags undefined (SDM).
 *   - RDTSC, RDRAND, CPUID, RDPID, RDPMC: host-specific / non-deterministic results.
 *   - SYSCALL, INT n, INT1: they leave the one-instruction-user-mode model.
 *   - RCPPS/RSQRTPS/RCPSS/RSQRTSS: approximations that differ between CPU generations.
 *   - Segment-register loads, MOV to/from SS: Linux's choice of selectors, not architecture.
 * Everything with a privileged effect IS covered as far as its exception goes (HLT, CLI, IN,
 * MOV CR, RDMSR, ... all #GP in user mode), in the "fault" family.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Decoder, DecoderOptions, Formatter, FormatterSyntax, Mnemonic, Code } from 'iced-x86';
import { encode, imm8, imm16, imm32, imm64, type Enc, type Mem } from './encode.js';
import {
  CODE_ADDR, DATA_ADDR, DATA_SIZE, GPR_NAMES, bytesToHex, hex, memDiff, xmmToHex,
  type Fixture, type FixtureCase,
} from './fixture.js';
import { runNative, type NativeCase } from './native.js';
import type { SnippetState } from '../../src/cpu/snippet-types.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(here, 'fixtures');

// =============================================================================================
// RFLAGS bits and the flags the SDM leaves undefined
// =============================================================================================

export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, TF = 0x100, IF = 0x200, DF = 0x400, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;

/**
 * Flags that the SDM (Vol. 2, each instruction's "Flags Affected" section) leaves undefined.
 * A case's `flagsMask` is the union of the entries that apply to it; those bits are not compared.
 * Instructions not listed define every flag they touch (ADD, ADC, SUB, SBB, CMP, NEG, INC, DEC,
 * XADD, CMPXCHG, CMPXCHG8B/16B, POPCNT, PTEST, (U)COMISS/SD, SAHF, CLC/STC/CMC, CLD/STD, ...).
 *
 * | instruction (SDM page)          | undefined                          | when                          |
 * |---------------------------------|------------------------------------|-------------------------------|
 * | AND, OR, XOR, TEST              | AF                                 | always                        |
 * | MUL "Unsigned Multiply"         | SF ZF AF PF                        | always                        |
 * | IMUL "Signed Multiply"          | SF ZF AF PF                        | always (1-, 2-, 3-operand)    |
 * | DIV "Unsigned Divide"           | CF OF SF ZF AF PF                  | always                        |
 * | IDIV "Signed Divide"            | CF OF SF ZF AF PF                  | always                        |
 * | SAL/SAR/SHL/SHR                 | AF                                 | masked count != 0             |
 * |                                 | OF                                 | masked count > 1              |
 * |                                 | CF (SHL, SHR only)                 | masked count >= operand size  |
 * | RCL/RCR/ROL/ROR                 | OF                                 | masked count > 1              |
 * | SHLD/SHRD                       | AF                                 | masked count != 0             |
 * |                                 | OF                                 | masked count > 1              |
 * |                                 | all (and the result; not generated)| masked count > operand size   |
 * | BT, BTS, BTR, BTC               | OF SF AF PF                        | always (ZF unaffected)        |
 * | BSF, BSR                        | CF OF SF AF PF                     | always; dest undefined if the |
 * |                                 |                                    | source is 0 (`ignore` dest)   |
 * | TZCNT, LZCNT                    | OF SF AF PF                        | always                        |
 * | CMPXCHG8B/16B, SAHF, LAHF, ...  | none                               |                               |
 * | ADCX (CF only) ADOX (OF only)   | none                               |                               |
 * | AAA/DAA/... (#UD in 64-bit)     | -                                  |                               |
 *
 * The SSE/SSE2/SSE4.1 instructions leave nothing undefined in RFLAGS or in their results
 * (COMISS/UCOMISS/COMISD/UCOMISD write ZF PF CF and clear OF SF AF; PTEST writes ZF CF and
 * clears AF OF PF SF).
 */
export const UNDEFINED_FLAGS = {
  logic: AF, // AND OR XOR TEST: "The state of the AF flag is undefined."
  mul: SF | ZF | AF | PF, // MUL, IMUL: "The SF, ZF, AF, and PF flags are undefined."
  div: ARITH, // DIV, IDIV: "The CF, OF, SF, ZF, AF, and PF flags are undefined."
  bt: OF | SF | AF | PF, // BT/BTS/BTR/BTC: "The ZF flag is unaffected. The OF, SF, AF, and PF flags are undefined."
  bsf: CF | OF | SF | AF | PF, // BSF/BSR: "The CF, OF, SF, AF, and PF flags are undefined."
  tzcnt: OF | SF | AF | PF, // TZCNT/LZCNT: "The OF, SF, PF and AF flags are undefined."
} as const;

/** SAL/SAR/SHL/SHR (SDM "SAL/SAR/SHL/SHR—Shift", Flags Affected). */
export function shiftMask(op: 'shl' | 'shr' | 'sar', size: number, count: number): number {
  const c = count & (size === 64 ? 63 : 31);
  if (c === 0) return 0; // "If the count is 0, the flags are not affected."
  let m = AF; // "For a non-zero count, the AF flag is undefined."
  if (c !== 1) m |= OF; // "The OF flag is affected only for 1-bit shifts ... otherwise, it is undefined."
  if (op !== 'sar' && c >= size) m |= CF; // "CF ... undefined for SHL and SHR where the count >= the size"
  return m;
}

/** RCL/RCR/ROL/ROR (SDM "RCL/RCR/ROL/ROR—Rotate", Flags Affected). */
export function rotateMask(size: number, count: number): number {
  const c = count & (size === 64 ? 63 : 31);
  return c > 1 ? OF : 0; // "If the masked count is 1 ... OF affected, otherwise OF is undefined."
}

/** SHLD/SHRD (SDM "SHLD—Double Precision Shift Left", Flags Affected). */
export function shldMask(size: number, count: number): number {
  const c = count & (size === 64 ? 63 : 31);
  if (c === 0) return 0;
  if (c > size) throw new Error('SHLD/SHRD with count > operand size: result undefined, not generated');
  return AF | (c > 1 ? OF : 0);
}

// =============================================================================================
// deterministic random numbers (splitmix64), one stream per family
// =============================================================================================

const M64 = (1n << 64n) - 1n;

class Rng {
  private s: bigint;
  constructor(seed: bigint) {
    this.s = seed & M64;
  }
  next64(): bigint {
    this.s = (this.s + 0x9e3779b97f4a7c15n) & M64;
    let z = this.s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    return z ^ (z >> 31n);
  }
  bits(n: number): bigint {
    return n >= 64 ? this.next64() : this.next64() & ((1n << BigInt(n)) - 1n);
  }
  int(n: number): number {
    return Number(this.next64() % BigInt(n));
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  chance(p: number): boolean {
    return this.int(1 << 30) < p * (1 << 30);
  }
}

function seedOf(name: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const ch of name) h = ((h ^ BigInt(ch.charCodeAt(0))) * 0x100000001b3n) & M64;
  return h;
}

// =============================================================================================
// cases and families
// =============================================================================================

interface Spec {
  name: string;
  /** the mnemonic iced-x86 must decode (lowercase), 'invalid' for encodings that are #UD */
  mn: string;
  bytes: number[];
  gpr: (bigint | undefined)[];
  rflags: bigint;
  xmm: (bigint | undefined)[];
  mxcsr?: number;
  mem: [number, number[]][];
  flagsMask: number;
  ignore?: string[];
  rep?: boolean;
  /** the exception the generator expects (a sanity check, not part of the fixture) */
  fault?: number;
}

class Fam {
  readonly specs: Spec[] = [];
  readonly rng: Rng;
  constructor(
    readonly name: string,
    readonly description: string,
  ) {
    this.rng = new Rng(seedOf(name));
  }
  /** A new case with random arithmetic flags (and occasionally DF) set. */
  spec(name: string, mn: string): Spec {
    const r = this.rng;
    let fl = 0x202n | (r.bits(12) & BigInt(ARITH));
    if (r.chance(0.1)) fl |= BigInt(DF);
    const s: Spec = { name, mn, bytes: [], gpr: [], rflags: fl, xmm: [], mem: [], flagsMask: 0 };
    this.specs.push(s);
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// integer values

const SIZES = [8, 16, 32, 64] as const;
const VSIZES = [16, 32, 64] as const;
const maskOf = (size: number) => (1n << BigInt(size)) - 1n;
const signOf = (size: number) => 1n << BigInt(size - 1);
const rep8 = (b: number, size: number) => {
  let v = 0n;
  for (let i = 0; i < size / 8; i++) v = (v << 8n) | BigInt(b);
  return v;
};
const sext = (v: bigint, size: number) => {
  v &= maskOf(size);
  return v & signOf(size) ? v - (1n << BigInt(size)) : v;
};
const toU64 = (v: bigint) => v & M64;

function edgeVals(size: number): bigint[] {
  const m = maskOf(size), s = signOf(size);
  const v = [0n, 1n, 2n, m, m - 1n, s, s - 1n, s + 1n, rep8(0x0f, size), rep8(0xf0, size), rep8(0x55, size),
    rep8(0xaa, size), 0x7fn, 0x80n, 0xffn];
  return [...new Set(v.map((x) => x & m))];
}
const edge5 = (size: number) => [0n, 1n, maskOf(size), signOf(size), signOf(size) - 1n];

function randVal(r: Rng, size: number): bigint {
  const k = r.int(10);
  if (k < 6) return r.bits(size);
  if (k < 8) return r.bits(8);
  if (k === 8) return signOf(size) ^ r.bits(4);
  return maskOf(size) ^ r.bits(4);
}

// ---------------------------------------------------------------------------------------------
// operands

interface BReg {
  n: number; // the encoding number 0-15
  full: number; // the GPR it lives in
  shift: number; // 8 for AH..BH
  rex: boolean; // needs a REX prefix (SPL..DIL, R8B..R15B)
  noRex: boolean; // must not have one (AH..BH)
}
const BREGS: BReg[] = [
  ...[0, 1, 2, 3].map((n) => ({ n, full: n, shift: 0, rex: false, noRex: false })),
  ...[4, 5, 6, 7].map((n) => ({ n, full: n - 4, shift: 8, rex: false, noRex: true })),
  ...[4, 5, 6, 7].map((n) => ({ n, full: n, shift: 0, rex: true, noRex: false })),
  ...[8, 9, 10, 11, 12, 13, 14, 15].map((n) => ({ n, full: n, shift: 0, rex: true, noRex: false })),
];

/** A general-purpose operand: a register (of the given size) or a memory location in the window. */
type RegOp = { kind: 'reg'; size: number; n: number; full: number; shift: number; rex: boolean; noRex: boolean };
type MemOp = { kind: 'mem'; size: number; m: Mem; off: number; noRex: boolean; rex: boolean };
type GOp = RegOp | MemOp;

/** Sets bits [shift, shift+size) of a GPR, filling the rest with random bits if it was unset. */
function setGprBits(f: Fam, s: Spec, r: number, size: number, v: bigint, shift = 0): void {
  const cur = s.gpr[r] ?? f.rng.next64();
  const m = maskOf(size) << BigInt(shift);
  s.gpr[r] = (cur & ~m & M64) | ((v << BigInt(shift)) & m);
}

function memPut(s: Spec, off: number, v: bigint, nbytes: number): void {
  const b: number[] = [];
  for (let i = 0; i < nbytes; i++) b.push(Number((v >> BigInt(8 * i)) & 0xffn));
  s.mem.push([off, b]);
}

function setOp(f: Fam, s: Spec, o: GOp, v: bigint): void {
  if (o.kind === 'reg') setGprBits(f, s, o.full, o.size, v, o.shift);
  else memPut(s, o.off, v, o.size / 8);
}

/** Picks a register operand of `size` whose GPR is not in `avoid` (and compatible with REX needs). */
function regOp(f: Fam, size: number, avoid: number[] = [], opts: { noRex?: boolean; rex?: boolean; noRsp?: boolean } = {}): RegOp {
  for (;;) {
    if (size === 8) {
      const b = f.rng.pick(BREGS);
      if (avoid.includes(b.full) || (opts.noRex && (b.rex || b.n >= 8)) || (opts.rex && b.noRex)) continue;
      if (opts.noRsp && b.full === 4) continue;
      return { kind: 'reg', size, n: b.n, full: b.full, shift: b.shift, rex: b.rex, noRex: b.noRex };
    }
    const n = f.rng.int(16);
    if (avoid.includes(n) || (opts.noRex && n >= 8) || (opts.noRsp && n === 4)) continue;
    return { kind: 'reg', size, n, full: n, shift: 0, rex: false, noRex: false };
  }
}

/**
 * A memory operand of `nbytes` somewhere in the data window, addressed through a random base
 * register (and sometimes an index register), which are set so the address lands at `off`.
 */
function memOp(
  f: Fam, s: Spec, size: number, avoid: number[] = [],
  opts: { align?: number; noRex?: boolean; off?: number; lo?: number; hi?: number } = {},
): MemOp {
  const r = f.rng;
  const align = opts.align ?? 1;
  const lo = opts.lo ?? 0x100, hi = opts.hi ?? 0x1700;
  const off = opts.off ?? Math.floor((lo + r.int(hi - lo)) / align) * align;
  const cand = [...Array(16).keys()].filter((n) => n !== 4 && !avoid.includes(n) && !(opts.noRex && n >= 8));
  const base = r.pick(cand);
  const mode = r.int(10);
  let disp = 0;
  const m: Mem = { base };
  let addr = BigInt(DATA_ADDR + off);
  if (mode < 5) disp = r.int(256) - 128;
  else if (mode < 6) disp = r.int(0x10000) - 0x8000;
  if (mode >= 8) {
    const idxCand = cand.filter((n) => n !== base);
    const index = r.pick(idxCand);
    const scale = r.pick([1, 2, 4, 8] as const);
    const iv = BigInt(r.int(32)) - 8n;
    s.gpr[index] = toU64(iv);
    m.index = index;
    m.scale = scale;
    addr -= iv * BigInt(scale);
    disp = r.int(256) - 128;
  }
  m.disp = disp;
  s.gpr[base] = toU64(addr - BigInt(disp));
  return { kind: 'mem', size, m, off, noRex: false, rex: false };
}

/** Encodes an instruction with integer operands; adds 66/REX.W for the operand size. */
function encI(
  size: number,
  e: { op: number[]; reg?: GOp | number; rm?: GOp; imm?: number[]; pfx?: number[]; w?: boolean; plusReg?: GOp; noSizePfx?: boolean },
): number[] {
  const pfx = [...(e.pfx ?? [])];
  if (size === 16 && !e.noSizePfx) pfx.unshift(0x66);
  const ops = [e.reg, e.rm, e.plusReg].filter((o): o is GOp => typeof o === 'object');
  const rex = ops.some((o) => o.rex);
  const noRex = ops.some((o) => o.noRex);
  const enc: Enc = { op: e.op, pfx, w: e.w ?? size === 64, rex, noRex, imm: e.imm };
  if (e.reg !== undefined) enc.reg = typeof e.reg === 'number' ? e.reg : (e.reg as GOp & { kind: 'reg' }).n;
  if (e.rm) enc.rm = e.rm.kind === 'reg' ? e.rm.n : e.rm.m;
  if (e.plusReg) enc.plusReg = (e.plusReg as GOp & { kind: 'reg' }).n;
  return encode(enc);
}

/** Immediate bytes for a value of `size`, and the value as the CPU sees it (sign-extended). */
function immOf(v: bigint, immSize: number, opSize: number): { bytes: number[]; value: bigint } {
  const bytes = immSize === 8 ? imm8(v) : immSize === 16 ? imm16(v) : immSize === 32 ? imm32(v) : imm64(v);
  return { bytes, value: sext(v, immSize) & maskOf(opSize) };
}

// =============================================================================================
// general-purpose families
// =============================================================================================

const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];

function famAlu(): Fam {
  const f = new Fam('alu', 'ADD OR ADC SBB AND SUB XOR CMP in every form (Eb,Gb Ev,Gv Gb,Eb Gv,Ev AL,Ib eAX,Iz 80 81 83), register and memory, LOCK; ADCX ADOX');
  const r = f.rng;
  type Form = 'E,G' | 'G,E' | 'A,I' | 'E,I' | 'E,Ib';
  const one = (op: number, form: Form, size: number, a: bigint, b: bigint, cls: string, o: { mem?: boolean; cf?: number; same?: boolean; lock?: boolean } = {}) => {
    const mn = ALU[op];
    const formName = { 'E,G': size === 8 ? 'Eb,Gb' : 'Ev,Gv', 'G,E': size === 8 ? 'Gb,Eb' : 'Gv,Ev', 'A,I': size === 8 ? 'AL,Ib' : 'eAX,Iz', 'E,I': size === 8 ? 'Eb,Ib' : 'Ev,Iz', 'E,Ib': 'Ev,Ib' }[form];
    const s = f.spec(`${o.lock ? 'lock ' : ''}${mn} ${formName}${o.mem ? ' mem' : ''} ${size} ${cls}`, mn);
    if (o.cf !== undefined) s.rflags = (s.rflags & ~1n) | BigInt(o.cf);
    s.flagsMask = op === 1 || op === 4 || op === 6 ? UNDEFINED_FLAGS.logic : 0;
    const pfx = o.lock ? [0xf0] : [];
    if (form === 'E,G' || form === 'G,E') {
      const g = regOp(f, size);
      const e = o.same ? g : o.mem ? memOp(f, s, size, [g.full], { noRex: g.noRex }) : regOp(f, size, [g.full], { noRex: g.noRex, rex: g.rex });
      const [dst, src] = form === 'E,G' ? [e, g] : [g, e];
      setOp(f, s, src, b);
      setOp(f, s, dst, a);
      s.bytes = encI(size, { op: [op * 8 + (form === 'E,G' ? 0 : 2) + (size === 8 ? 0 : 1)], reg: g, rm: e, pfx });
    } else if (form === 'A,I') {
      const im = immOf(b, Math.min(size, 32), size);
      setGprBits(f, s, 0, size, a);
      s.bytes = encI(size, { op: [op * 8 + (size === 8 ? 4 : 5)], imm: im.bytes, pfx });
    } else {
      const e = o.mem ? memOp(f, s, size) : regOp(f, size);
      setOp(f, s, e, a);
      const immSize = form === 'E,Ib' ? 8 : Math.min(size, 32);
      const im = immOf(b, immSize, size);
      const opc = form === 'E,Ib' ? 0x83 : size === 8 ? 0x80 : 0x81;
      s.bytes = encI(size, { op: [opc], reg: op, rm: e, imm: im.bytes, pfx });
    }
  };
  for (let op = 0; op < 8; op++) {
    const withCf = op === 2 || op === 3;
    for (const size of SIZES) {
      // the main form, register to register, all pairs of edge values (both CF for ADC/SBB)
      let k = 0;
      for (const a of edge5(size)) for (const b of edge5(size)) {
        for (const cf of withCf ? [0, 1] : [r.int(2)]) one(op, 'E,G', size, a, b, `edge#${k++}`, { cf });
      }
      for (let i = 0; i < 8; i++) one(op, 'E,G', size, randVal(r, size), randVal(r, size), `rand#${i}`);
      one(op, 'E,G', size, randVal(r, size), 0n, 'same-reg', { same: true });
      // the other forms
      const forms: Form[] = ['G,E', 'A,I', 'E,I', ...(size === 8 ? [] : (['E,Ib'] as Form[]))];
      for (const form of forms) {
        for (let i = 0; i < 5; i++) {
          const a = i < 2 ? r.pick(edgeVals(size)) : randVal(r, size);
          const b = i % 2 ? r.pick(edgeVals(32)) : r.bits(32);
          one(op, form, size, a, b, `${i < 2 ? 'edge' : 'rand'}#${i}`);
        }
      }
      for (const form of ['E,G', 'G,E', 'E,I', ...(size === 8 ? [] : ['E,Ib'])] as Form[]) {
        for (let i = 0; i < 3; i++) one(op, form, size, randVal(r, size), randVal(r, size), `rand#${i}`, { mem: true });
      }
      if (op !== 7) one(op, 'E,G', size, randVal(r, size), randVal(r, size), 'rand', { mem: true, lock: true });
    }
  }
  // LOCK on a register destination, and LOCK CMP, are #UD
  for (const op of [0, 7]) {
    const s = f.spec(`lock ${ALU[op]} Ev,Gv ${op === 7 ? 'mem (cmp cannot be locked)' : 'reg'} 32 #UD`, 'invalid');
    const g = regOp(f, 32);
    const e = op === 7 ? memOp(f, s, 32, [g.full]) : regOp(f, 32, [g.full]);
    s.bytes = encI(32, { op: [op * 8 + 1], reg: g, rm: e, pfx: [0xf0] });
    s.fault = 6;
  }
  // ADCX (66 0F 38 F6) and ADOX (F3 0F 38 F6): CF resp. OF in and out, no other flag touched
  for (const [mn, p] of [['adcx', 0x66], ['adox', 0xf3]] as const) {
    for (const size of [32, 64]) {
      for (let i = 0; i < 12; i++) {
        const mem = i >= 9;
        const s = f.spec(`${mn} Gy,Ey${mem ? ' mem' : ''} ${size} ${i < 6 ? 'edge' : 'rand'}#${i}`, mn);
        const g = regOp(f, size);
        const e = mem ? memOp(f, s, size, [g.full]) : regOp(f, size, [g.full]);
        setOp(f, s, g, i < 6 ? r.pick(edge5(size)) : randVal(r, size));
        setOp(f, s, e, i < 6 ? r.pick(edge5(size)) : randVal(r, size));
        s.bytes = encI(size, { op: [0x0f, 0x38, 0xf6], reg: g, rm: e, pfx: [p], noSizePfx: true });
      }
    }
  }
  return f;
}

function famUnary(): Fam {
  const f = new Fam('unary', 'INC DEC NOT NEG (FE/FF /0 /1, F6/F7 /2 /3), TEST (84 85 A8 A9 F6/F7 /0), register and memory, LOCK');
  const r = f.rng;
  const ops = [
    ['inc', 0xfe, 0], ['dec', 0xfe, 1], ['not', 0xf6, 2], ['neg', 0xf6, 3],
  ] as const;
  for (const [mn, opc, ext] of ops) {
    for (const size of SIZES) {
      const vals = [...edgeVals(size), ...Array.from({ length: 5 }, () => randVal(r, size))];
      vals.forEach((v, i) => {
        const s = f.spec(`${mn} ${size === 8 ? 'Eb' : 'Ev'} ${size} ${i < vals.length - 5 ? 'edge' : 'rand'}#${i}`, mn);
        const e = regOp(f, size);
        setOp(f, s, e, v);
        s.bytes = encI(size, { op: [opc + (size === 8 ? 0 : 1)], reg: ext, rm: e });
      });
      for (let i = 0; i < 4; i++) {
        const lock = i === 3;
        const s = f.spec(`${lock ? 'lock ' : ''}${mn} ${size === 8 ? 'Eb' : 'Ev'} mem ${size} rand#${i}`, mn);
        const e = memOp(f, s, size);
        setOp(f, s, e, i === 0 ? r.pick(edgeVals(size)) : randVal(r, size));
        s.bytes = encI(size, { op: [opc + (size === 8 ? 0 : 1)], reg: ext, rm: e, pfx: lock ? [0xf0] : [] });
      }
    }
  }
  // TEST
  for (const size of SIZES) {
    const forms = ['E,G', 'E,G mem', 'A,I', 'E,I', 'E,I mem'] as const;
    for (const form of forms) {
      const n = form === 'E,G' ? 14 : 5;
      for (let i = 0; i < n; i++) {
        const s = f.spec(`test ${form.replace('E', size === 8 ? 'Eb' : 'Ev').replace('G', size === 8 ? 'Gb' : 'Gv')} ${size} #${i}`, 'test');
        s.flagsMask = UNDEFINED_FLAGS.logic;
        const a = i < 4 ? r.pick(edgeVals(size)) : randVal(r, size);
        const b = i < 4 ? r.pick(edgeVals(size)) : randVal(r, size);
        if (form.startsWith('E,G')) {
          const g = regOp(f, size);
          const e = form === 'E,G' ? regOp(f, size, [g.full], { noRex: g.noRex, rex: g.rex }) : memOp(f, s, size, [g.full], { noRex: g.noRex });
          setOp(f, s, g, b);
          setOp(f, s, e, a);
          s.bytes = encI(size, { op: [size === 8 ? 0x84 : 0x85], reg: g, rm: e });
        } else if (form === 'A,I') {
          setGprBits(f, s, 0, size, a);
          s.bytes = encI(size, { op: [size === 8 ? 0xa8 : 0xa9], imm: immOf(b, Math.min(size, 32), size).bytes });
        } else {
          const e = form === 'E,I' ? regOp(f, size) : memOp(f, s, size);
          setOp(f, s, e, a);
          s.bytes = encI(size, { op: [size === 8 ? 0xf6 : 0xf7], reg: 0, rm: e, imm: immOf(b, Math.min(size, 32), size).bytes });
        }
      }
    }
  }
  return f;
}

const SHIFT_OPS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', '', 'sar'];

function famShift(): Fam {
  const f = new Fam('shift', 'ROL ROR RCL RCR SHL SHR SAR by 1 (D0/D1), CL (D2/D3) and imm8 (C0/C1): counts 0, 1, width-1, width, >= width, masked; SHLD SHRD (imm, CL)');
  const r = f.rng;
  const maskFor = (ext: number, size: number, count: number) =>
    ext <= 3 ? rotateMask(size, count) : shiftMask(SHIFT_OPS[ext] as 'shl' | 'shr' | 'sar', size, count);
  for (const ext of [0, 1, 2, 3, 4, 5, 7]) {
    const mn = SHIFT_OPS[ext];
    for (const size of SIZES) {
      const op8 = size === 8 ? 0 : 1;
      const vals = () => (r.chance(0.4) ? r.pick(edgeVals(size)) : randVal(r, size));
      // by 1
      for (let i = 0; i < 6; i++) {
        const s = f.spec(`${mn} ${size === 8 ? 'Eb' : 'Ev'},1 ${size} #${i}`, mn);
        const e = regOp(f, size);
        setOp(f, s, e, i < 4 ? [signOf(size), signOf(size) - 1n, 1n, maskOf(size)][i] : vals());
        s.flagsMask = maskFor(ext, size, 1);
        s.bytes = encI(size, { op: [0xd0 + op8], reg: ext, rm: e });
      }
      // by CL
      const counts = [0, 1, 2, 3, size - 1, size, size + 1, 31, 32, 33, 63, 64, 65, 0xff, 0x80, 0x21];
      for (const [i, cnt] of counts.entries()) {
        for (let j = 0; j < 2; j++) {
          const s = f.spec(`${mn} ${size === 8 ? 'Eb' : 'Ev'},CL ${size} count=${cnt} #${j}`, mn);
          const e = regOp(f, size, [1]);
          setOp(f, s, e, j === 0 && i % 2 ? r.pick(edgeVals(size)) : vals());
          setGprBits(f, s, 1, 8, BigInt(cnt));
          s.flagsMask = maskFor(ext, size, cnt);
          s.bytes = encI(size, { op: [0xd2 + op8], reg: ext, rm: e });
        }
      }
      // by imm8
      for (const cnt of [0, 1, 4, size - 1, size, size + 3, 40, 0xc1]) {
        const s = f.spec(`${mn} ${size === 8 ? 'Eb' : 'Ev'},Ib ${size} count=${cnt}`, mn);
        const e = regOp(f, size);
        setOp(f, s, e, vals());
        s.flagsMask = maskFor(ext, size, cnt);
        s.bytes = encI(size, { op: [0xc0 + op8], reg: ext, rm: e, imm: imm8(cnt) });
      }
      // memory
      for (const form of ['1', 'CL', 'Ib'] as const) {
        const s = f.spec(`${mn} ${size === 8 ? 'Eb' : 'Ev'},${form} mem ${size}`, mn);
        const cnt = form === '1' ? 1 : r.int(size + 2);
        const e = memOp(f, s, size, [1]);
        setOp(f, s, e, vals());
        setGprBits(f, s, 1, 8, BigInt(cnt));
        s.flagsMask = maskFor(ext, size, cnt);
        const opc = form === '1' ? 0xd0 : form === 'CL' ? 0xd2 : 0xc0;
        s.bytes = encI(size, { op: [opc + op8], reg: ext, rm: e, imm: form === 'Ib' ? imm8(cnt) : undefined });
      }
    }
  }
  // SHLD / SHRD
  for (const [mn, base] of [['shld', 0xa4], ['shrd', 0xac]] as const) {
    for (const size of VSIZES) {
      const cm = size === 64 ? 63 : 31;
      const counts = [0, 1, 2, size / 2, size - 1, size, size + 1, 31, 63, 64, 0xff, 0xa1].filter((c) => (c & cm) <= size);
      for (const cl of [false, true]) {
        for (const cnt of counts) {
          for (let j = 0; j < 2; j++) {
            const s = f.spec(`${mn} Ev,Gv,${cl ? 'CL' : 'Ib'} ${size} count=${cnt} #${j}`, mn);
            const g = regOp(f, size, [1]);
            const e = j === 1 && cnt === counts[3] ? memOp(f, s, size, [1, g.full]) : regOp(f, size, [1, g.full]);
            setOp(f, s, g, randVal(r, size));
            setOp(f, s, e, randVal(r, size));
            setGprBits(f, s, 1, 8, BigInt(cnt));
            s.flagsMask = shldMask(size, cnt);
            s.bytes = encI(size, { op: [0x0f, base + (cl ? 1 : 0)], reg: g, rm: e, imm: cl ? undefined : imm8(cnt) });
          }
        }
      }
    }
  }
  return f;
}

function famMulDiv(): Fam {
  const f = new Fam('muldiv', 'MUL IMUL (F6/F7 /4 /5, 0F AF, 69, 6B) DIV IDIV (F6/F7 /6 /7) incl. #DE for divide by zero and quotient overflow');
  const r = f.rng;
  for (const [mn, ext] of [['mul', 4], ['imul', 5]] as const) {
    for (const size of SIZES) {
      const e5 = edge5(size);
      let k = 0;
      for (const a of e5) for (const b of e5) {
        const s = f.spec(`${mn} ${size === 8 ? 'Eb' : 'Ev'} ${size} edge#${k++}`, mn);
        const e = regOp(f, size, [0, 2]);
        setGprBits(f, s, 0, size, a);
        setOp(f, s, e, b);
        s.flagsMask = UNDEFINED_FLAGS.mul;
        s.bytes = encI(size, { op: [size === 8 ? 0xf6 : 0xf7], reg: ext, rm: e });
      }
      for (let i = 0; i < 10; i++) {
        const mem = i >= 7;
        const s = f.spec(`${mn} ${size === 8 ? 'Eb' : 'Ev'}${mem ? ' mem' : ''} ${size} rand#${i}`, mn);
        const e = mem ? memOp(f, s, size, [0, 2]) : regOp(f, size, [2]);
        setGprBits(f, s, 0, size, randVal(r, size));
        setOp(f, s, e, randVal(r, size));
        s.flagsMask = UNDEFINED_FLAGS.mul;
        s.bytes = encI(size, { op: [size === 8 ? 0xf6 : 0xf7], reg: ext, rm: e });
      }
    }
  }
  // IMUL Gv,Ev / Gv,Ev,Iz / Gv,Ev,Ib
  for (const size of VSIZES) {
    for (const form of ['Gv,Ev', 'Gv,Ev,Iz', 'Gv,Ev,Ib'] as const) {
      for (let i = 0; i < 16; i++) {
        const mem = i >= 13;
        const s = f.spec(`imul ${form}${mem ? ' mem' : ''} ${size} ${i < 6 ? 'edge' : 'rand'}#${i}`, 'imul');
        s.flagsMask = UNDEFINED_FLAGS.mul;
        const g = regOp(f, size);
        const e = mem ? memOp(f, s, size, [g.full]) : i === 12 ? g : regOp(f, size, [g.full]);
        const a = i < 6 ? r.pick(edgeVals(size)) : randVal(r, size);
        const b = i < 6 ? r.pick(edgeVals(size)) : randVal(r, size);
        setOp(f, s, g, randVal(r, size));
        setOp(f, s, e, a);
        if (form === 'Gv,Ev') {
          setOp(f, s, g, b);
          if (e === g) setOp(f, s, e, a);
          s.bytes = encI(size, { op: [0x0f, 0xaf], reg: g, rm: e });
        } else if (form === 'Gv,Ev,Iz') {
          s.bytes = encI(size, { op: [0x69], reg: g, rm: e, imm: immOf(b, Math.min(size, 32), size).bytes });
        } else {
          s.bytes = encI(size, { op: [0x6b], reg: g, rm: e, imm: imm8(b) });
        }
      }
    }
  }
  // DIV / IDIV
  for (const [mn, ext] of [['div', 6], ['idiv', 7]] as const) {
    const signed = ext === 7;
    for (const size of SIZES) {
      const m = maskOf(size);
      const mk = (cls: string, dividend: bigint, divisor: bigint, fault: boolean, mem = false) => {
        const s = f.spec(`${mn} ${size === 8 ? 'Eb' : 'Ev'}${mem ? ' mem' : ''} ${size} ${cls}`, mn);
        s.flagsMask = UNDEFINED_FLAGS.div;
        const e = mem ? memOp(f, s, size, [0, 2]) : regOp(f, size, [0, 2]);
        const dd = dividend & ((1n << BigInt(2 * size)) - 1n);
        if (size === 8) setGprBits(f, s, 0, 16, dd);
        else {
          setGprBits(f, s, 0, size, dd & m);
          setGprBits(f, s, 2, size, dd >> BigInt(size));
        }
        setOp(f, s, e, divisor & m);
        if (fault) s.fault = 0;
        s.bytes = encI(size, { op: [size === 8 ? 0xf6 : 0xf7], reg: ext, rm: e });
      };
      // valid divisions: dividend = q*d + r with |q| fitting the quotient register
      for (let i = 0; i < 22; i++) {
        let d = i < 6 ? [1n, 2n, 3n, m, signOf(size), signOf(size) - 1n][i] : randVal(r, size);
        if ((d & m) === 0n) d = 7n;
        if (!signed) {
          const q = r.chance(0.3) ? m : r.bits(size);
          const rem = r.bits(size) % d;
          mk(`${i < 6 ? 'edge' : 'rand'}#${i}`, q * d + rem, d, false, i >= 19);
        } else {
          let ds = sext(d, size);
          if (ds === -1n && size === 64) ds = -1n;
          const qmax = signOf(size) - 1n, qmin = -signOf(size);
          let q = sext(r.bits(size), size);
          if (i % 5 === 0) q = i % 2 ? qmax : qmin + 1n;
          const ad = ds < 0n ? -ds : ds;
          let rem = r.bits(size) % ad;
          // the remainder has the sign of the dividend
          const dividend0 = q * ds;
          if (dividend0 < 0n) rem = -rem;
          if ((q === qmin && ds > 0n) || q < qmin || q > qmax) continue;
          mk(`${i < 6 ? 'edge' : 'rand'}#${i}`, dividend0 + rem, d, false, i >= 19);
        }
      }
      // #DE: divide by zero, quotient too large
      mk('divide-by-zero #DE', r.bits(2 * size), 0n, true);
      mk('divide-by-zero mem #DE', r.bits(2 * size), 0n, true, true);
      if (!signed) {
        mk('quotient-overflow #DE', (5n << BigInt(size)) + r.bits(size), 5n, true);
        mk('quotient-overflow max #DE', (m << BigInt(size)) | m, m, true);
      } else {
        mk('INT_MIN/-1 #DE', -signOf(size), -1n, true);
        mk('quotient-overflow #DE', signOf(size) * 4n, 2n, true);
        mk('quotient-overflow negative #DE', -(signOf(size) * 4n) - 1n, 2n, true);
        mk('INT_MIN/1', -signOf(size), 1n, false);
        mk('-1/INT_MIN', -1n, signOf(size), false);
      }
    }
  }
  return f;
}

function famBit(): Fam {
  const f = new Fam('bit', 'BT BTS BTR BTC: register forms (0F A3/AB/B3/BB, 0F BA /4-/7 Ib), memory with imm8, memory bit strings with register offsets (negative and beyond the operand), LOCK');
  const r = f.rng;
  const ops = [['bt', 0xa3, 4], ['bts', 0xab, 5], ['btr', 0xb3, 6], ['btc', 0xbb, 7]] as const;
  for (const [mn, opc, ext] of ops) {
    for (const size of VSIZES) {
      // Ev,Gv register: offset masked to the operand size
      for (let i = 0; i < 10; i++) {
        const s = f.spec(`${mn} Ev,Gv ${size} #${i}`, mn);
        s.flagsMask = UNDEFINED_FLAGS.bt;
        const g = regOp(f, size);
        const e = regOp(f, size, [g.full]);
        const off = i < 3 ? [0n, BigInt(size - 1), BigInt(size)][i] : r.bits(size);
        setOp(f, s, g, off);
        setOp(f, s, e, randVal(r, size));
        s.bytes = encI(size, { op: [0x0f, opc], reg: g, rm: e });
      }
      // Ev,Ib register
      for (const bit of [0, 1, size - 1, size, 0xff, r.int(256)]) {
        const s = f.spec(`${mn} Ev,Ib ${size} bit=${bit}`, mn);
        s.flagsMask = UNDEFINED_FLAGS.bt;
        const e = regOp(f, size);
        setOp(f, s, e, randVal(r, size));
        s.bytes = encI(size, { op: [0x0f, 0xba], reg: ext, rm: e, imm: imm8(bit) });
      }
      // Ev,Ib memory: the offset is masked to the operand size
      for (const bit of [3, size - 1, size + 5]) {
        const s = f.spec(`${mn} Ev,Ib mem ${size} bit=${bit}`, mn);
        s.flagsMask = UNDEFINED_FLAGS.bt;
        const e = memOp(f, s, size);
        setOp(f, s, e, randVal(r, size));
        s.bytes = encI(size, { op: [0x0f, 0xba], reg: ext, rm: e, imm: imm8(bit) });
      }
      // Ev,Gv memory: a bit string; the offset register is signed and may leave the operand
      for (let i = 0; i < 8; i++) {
        const lock = i === 7 && mn !== 'bt';
        const s = f.spec(`${lock ? 'lock ' : ''}${mn} Ev,Gv mem bitstring ${size} #${i}`, mn);
        s.flagsMask = UNDEFINED_FLAGS.bt;
        const g = regOp(f, size, [], { noRsp: true });
        const e = memOp(f, s, size, [g.full], { off: 0x1000, noRex: g.noRex });
        const lim = size === 16 ? 0x7fff : 0x3fff; // stay inside the window: +-2 KiB
        const bitoff = i < 3 ? [-1n, BigInt(size), -BigInt(size) - 1n][i] : BigInt(r.int(2 * lim) - lim);
        setOp(f, s, g, bitoff & maskOf(size));
        // fill the bytes around the addressed one with something recognisable
        const byteOff = Number(bitoff >> 3n);
        const at = 0x1000 + (byteOff & ~7) - 8;
        memPut(s, at, r.next64(), 8);
        memPut(s, at + 8, r.next64(), 8);
        memPut(s, at + 16, r.next64(), 8);
        s.bytes = encI(size, { op: [0x0f, opc], reg: g, rm: e, pfx: lock ? [0xf0] : [] });
      }
    }
  }
  return f;
}

function famBitscan(): Fam {
  const f = new Fam('bitscan', 'BSF BSR TZCNT LZCNT POPCNT (16/32/64, register and memory; source 0: ZF/CF, BSF/BSR dest ignored), BSWAP r32/r64');
  const r = f.rng;
  const ops = [
    ['bsf', [], 0xbc, UNDEFINED_FLAGS.bsf], ['bsr', [], 0xbd, UNDEFINED_FLAGS.bsf],
    ['tzcnt', [0xf3], 0xbc, UNDEFINED_FLAGS.tzcnt], ['lzcnt', [0xf3], 0xbd, UNDEFINED_FLAGS.tzcnt],
    ['popcnt', [0xf3], 0xb8, 0],
  ] as const;
  for (const [mn, pfx, opc, fm] of ops) {
    for (const size of VSIZES) {
      const vals = [0n, 1n, 2n, maskOf(size), signOf(size), signOf(size) - 1n, rep8(0x0f, size), rep8(0x10, size),
        ...Array.from({ length: 10 }, () => (r.chance(0.5) ? r.bits(size) : 1n << BigInt(r.int(size))))];
      vals.forEach((v, i) => {
        const mem = i >= vals.length - 3;
        const s = f.spec(`${mn} Gv,Ev${mem ? ' mem' : ''} ${size} ${i < 8 ? 'edge' : 'rand'}#${i}${v === 0n ? ' zero' : ''}`, mn);
        s.flagsMask = fm;
        const g = regOp(f, size);
        const e = mem ? memOp(f, s, size, [g.full]) : regOp(f, size, [g.full]);
        setOp(f, s, g, r.next64());
        setOp(f, s, e, v);
        // BSF/BSR: "If the content of the source operand is 0, the content of the destination
        // operand is undefined." (SDM) — the destination register is not compared.
        if ((mn === 'bsf' || mn === 'bsr') && v === 0n) s.ignore = [GPR_NAMES[g.full]];
        s.bytes = encI(size, { op: [0x0f, opc], reg: g, rm: e, pfx: [...pfx] });
      });
    }
  }
  for (const size of [32, 64]) {
    for (let i = 0; i < 8; i++) {
      const s = f.spec(`bswap ${size} #${i}`, 'bswap');
      const g = regOp(f, size);
      setOp(f, s, g, i === 0 ? 0x0102030405060708n & maskOf(size) : r.next64());
      s.bytes = encI(size, { op: [0x0f, 0xc8], plusReg: g });
    }
  }
  return f;
}

const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

function famCond(): Fam {
  const f = new Fam('cond', 'CMOVcc SETcc Jcc (rel8, rel32) for all 16 conditions, taken and not; JMP rel8/rel32/Ev, JRCXZ JECXZ LOOP LOOPE LOOPNE');
  const r = f.rng;
  // flag patterns that make every condition both true and false at least once
  const patterns = [0, CF, ZF, SF, OF, PF, SF | OF, ZF | SF, CF | ZF, ZF | OF, SF | OF | ZF, ARITH];
  for (let cc = 0; cc < 16; cc++) {
    for (const size of VSIZES) {
      patterns.forEach((p, i) => {
        const mem = i >= 10;
        const s = f.spec(`cmov${CC[cc]} Gv,Ev${mem ? ' mem' : ''} ${size} flags=${hex(p)}`, `cmov${CC[cc]}`);
        s.rflags = 0x202n | BigInt(p);
        const g = regOp(f, size);
        const e = mem ? memOp(f, s, size, [g.full]) : regOp(f, size, [g.full]);
        setOp(f, s, g, r.next64());
        setOp(f, s, e, r.next64());
        s.bytes = encI(size, { op: [0x0f, 0x40 + cc], reg: g, rm: e });
      });
    }
    patterns.forEach((p, i) => {
      const mem = i >= 10;
      const s = f.spec(`set${CC[cc]} Eb${mem ? ' mem' : ''} flags=${hex(p)}`, `set${CC[cc]}`);
      s.rflags = 0x202n | BigInt(p);
      const e = mem ? memOp(f, s, 8) : regOp(f, 8);
      setOp(f, s, e, r.bits(8));
      s.bytes = encI(8, { op: [0x0f, 0x90 + cc], reg: 0, rm: e });
    });
    patterns.forEach((p, i) => {
      const rel8 = i % 2 === 0;
      const disp = rel8 ? r.pick([-2, -128, 127, 0, 16]) : r.pick([-0x1000, 0x10000, -6, 0x7ffffff0, 0]);
      const s = f.spec(`j${CC[cc]} ${rel8 ? 'rel8' : 'rel32'} flags=${hex(p)} disp=${disp}`, `j${CC[cc]}`);
      s.rflags = 0x202n | BigInt(p);
      s.bytes = rel8 ? [0x70 + cc, ...imm8(disp)] : [0x0f, 0x80 + cc, ...imm32(disp)];
    });
  }
  // JMP
  for (const [name, bytes] of [['jmp rel8', [0xeb, 0x10]], ['jmp rel8 back', [0xeb, 0x80]], ['jmp rel32', [0xe9, ...imm32(0x12345)]], ['jmp rel32 back', [0xe9, ...imm32(-0x100000)]]] as const) {
    const s = f.spec(name, 'jmp');
    s.bytes = [...bytes];
  }
  for (let i = 0; i < 4; i++) {
    const mem = i >= 2;
    const s = f.spec(`jmp Ev${mem ? ' mem' : ''} #${i}`, 'jmp');
    const target = BigInt(CODE_ADDR + 0x40 + i * 0x100);
    const e = mem ? memOp(f, s, 64) : regOp(f, 64, [4]);
    setOp(f, s, e, target);
    s.bytes = encI(64, { op: [0xff], reg: 4, rm: e, w: false });
  }
  {
    const s = f.spec('jmp Ev non-canonical #GP', 'jmp');
    const e = regOp(f, 64, [4]);
    setOp(f, s, e, 0x8000000000000000n);
    s.fault = 13;
    s.bytes = encI(64, { op: [0xff], reg: 4, rm: e, w: false });
  }
  // JRCXZ / JECXZ / LOOPcc
  const rcxVals = [0n, 1n, 2n, 0x100000000n, 0xffffffffn, 0x100000001n];
  for (const v of rcxVals) {
    for (const [mn, op, a32] of [['jrcxz', 0xe3, false], ['jecxz', 0xe3, true], ['loop', 0xe2, false], ['loope', 0xe1, false], ['loopne', 0xe0, false], ['loop', 0xe2, true]] as const) {
      for (const zf of mn.startsWith('loop') && mn !== 'loop' ? [0, ZF] : [r.pick([0, ZF])]) {
        const s = f.spec(`${mn}${a32 && mn === 'loop' ? ' (67, ecx)' : ''} rel8 rcx=${hex(v)} zf=${zf ? 1 : 0}`, mn);
        s.rflags = (s.rflags & ~BigInt(ZF)) | BigInt(zf);
        s.gpr[1] = v;
        s.bytes = [...(a32 ? [0x67] : []), op, ...imm8(r.pick([-2, 0x20, -0x40]))];
      }
    }
  }
  return f;
}

function famMov(): Fam {
  const f = new Fam('mov', 'MOV (88 89 8A 8B C6 C7 B0+r B8+r A0-A3 incl. imm64 and moffs64), MOVZX MOVSX MOVSXD, LEA (SIB, disp, RIP-relative, 32-bit address size), RIP-relative loads, XLAT');
  const r = f.rng;
  for (const size of SIZES) {
    const v8 = size === 8 ? 0 : 1;
    for (let i = 0; i < 6; i++) {
      for (const form of ['E,G', 'G,E', 'E,G mem', 'G,E mem'] as const) {
        const mem = form.endsWith('mem');
        const s = f.spec(`mov ${form} ${size} #${i}`, 'mov');
        const g = regOp(f, size);
        const e = mem ? memOp(f, s, size, [g.full], { noRex: g.noRex }) : regOp(f, size, [g.full], { noRex: g.noRex, rex: g.rex });
        setOp(f, s, g, randVal(r, size));
        setOp(f, s, e, randVal(r, size));
        s.bytes = encI(size, { op: [form.startsWith('E,G') ? 0x88 + v8 : 0x8a + v8], reg: g, rm: e });
      }
    }
    for (let i = 0; i < 4; i++) {
      const mem = i >= 2;
      const s = f.spec(`mov E,I${mem ? ' mem' : ''} ${size} #${i}`, 'mov');
      const e = mem ? memOp(f, s, size) : regOp(f, size);
      setOp(f, s, e, r.next64());
      s.bytes = encI(size, { op: [0xc6 + v8], reg: 0, rm: e, imm: immOf(i % 2 ? r.bits(32) : signOf(32) | r.bits(8), Math.min(size, 32), size).bytes });
    }
    for (let i = 0; i < 4; i++) {
      const s = f.spec(`mov reg,imm (${size === 8 ? 'B0' : 'B8'}+r) ${size} #${i}`, size === 64 && i >= 2 ? 'mov' : 'mov');
      const g = regOp(f, size);
      setOp(f, s, g, r.next64());
      const iv = r.next64();
      s.bytes = encI(size, { op: [size === 8 ? 0xb0 : 0xb8], plusReg: g, imm: size === 8 ? imm8(iv) : size === 16 ? imm16(iv) : size === 32 ? imm32(iv) : imm64(iv) });
    }
    // moffs: A0/A1 load, A2/A3 store, 64-bit absolute address
    for (const store of [false, true]) {
      const s = f.spec(`mov ${store ? 'moffs,acc' : 'acc,moffs'} ${size}`, 'mov');
      const off = 0x200 + r.int(0x100);
      memPut(s, off, r.next64(), 8);
      setGprBits(f, s, 0, 64, r.next64());
      s.bytes = encI(size, { op: [(store ? 0xa2 : 0xa0) + v8], imm: imm64(DATA_ADDR + off) });
    }
    // RIP-relative load and store
    for (const store of [false, true]) {
      const s = f.spec(`mov ${store ? '[rip+disp32],G' : 'G,[rip+disp32]'} ${size}`, 'mov');
      const off = 0x300 + r.int(0x100);
      memPut(s, off, r.next64(), 8);
      const g = regOp(f, size);
      setOp(f, s, g, r.next64());
      s.bytes = encode({ op: [(store ? 0x88 : 0x8a) + v8], pfx: size === 16 ? [0x66] : [], w: size === 64, rex: g.rex, noRex: g.noRex, reg: (g as { n: number }).n, rm: { ripTarget: DATA_ADDR + off } });
    }
  }
  // MOVZX / MOVSX / MOVSXD
  for (const [mn, opc, dsz, ssz] of [
    ['movzx', 0xb6, 16, 8], ['movzx', 0xb6, 32, 8], ['movzx', 0xb6, 64, 8], ['movzx', 0xb7, 32, 16], ['movzx', 0xb7, 64, 16],
    ['movsx', 0xbe, 16, 8], ['movsx', 0xbe, 32, 8], ['movsx', 0xbe, 64, 8], ['movsx', 0xbf, 32, 16], ['movsx', 0xbf, 64, 16],
    ['movsxd', 0x63, 64, 32],
  ] as const) {
    for (let i = 0; i < 8; i++) {
      const mem = i >= 6;
      const s = f.spec(`${mn} ${dsz}<-${ssz}${mem ? ' mem' : ''} #${i}`, mn);
      const src = mem ? null : regOp(f, ssz, [], { rex: dsz === 64 });
      const g = regOp(f, dsz, src ? [src.full] : [], { noRex: src?.noRex });
      const e = src ?? memOp(f, s, ssz, [g.full]);
      setOp(f, s, g, r.next64());
      setOp(f, s, e, i < 2 ? signOf(ssz) | r.bits(ssz - 1) : i < 3 ? r.bits(ssz - 1) : randVal(r, ssz));
      const opb = mn === 'movsxd' ? [0x63] : [0x0f, opc];
      s.bytes = encode({ op: opb, pfx: dsz === 16 ? [0x66] : [], w: dsz === 64, rex: e.rex, noRex: e.noRex, reg: (g as { n: number }).n, rm: e.kind === 'reg' ? e.n : e.m });
    }
  }
  // LEA: the address is computed, never accessed
  for (const size of VSIZES) {
    for (let i = 0; i < 14; i++) {
      const s = f.spec(`lea Gv,M ${size} #${i}`, 'lea');
      const g = regOp(f, size);
      const base = r.int(16), index = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15][r.int(15)];
      const m: Mem = i % 3 === 0 ? { base } : i % 3 === 1 ? { base, index, scale: r.pick([1, 2, 4, 8] as const) } : { index, scale: r.pick([1, 2, 4, 8] as const) };
      m.disp = r.pick([0, 1, -1, 127, -128, 0x7fffffff, -0x80000000, r.int(0x10000)]);
      if (m.base === undefined && m.disp === 0) m.disp = 8;
      s.gpr[base] = r.next64();
      s.gpr[index] = r.next64();
      setOp(f, s, g, r.next64());
      s.bytes = encode({ op: [0x8d], pfx: [...(size === 16 ? [0x66] : []), ...(i >= 11 ? [0x67] : [])], w: size === 64, reg: (g as { n: number }).n, rm: m });
    }
    const s = f.spec(`lea Gv,[rip+disp32] ${size}`, 'lea');
    const g = regOp(f, size);
    setOp(f, s, g, r.next64());
    s.bytes = encode({ op: [0x8d], pfx: size === 16 ? [0x66] : [], w: size === 64, reg: (g as { n: number }).n, rm: { ripTarget: CODE_ADDR - 0x12345678 } });
  }
  // XLAT
  for (let i = 0; i < 6; i++) {
    const s = f.spec(`xlat${i >= 4 ? ' (REX.W)' : ''} #${i}`, 'xlatb');
    const table = 0x400 + r.int(0x800);
    s.gpr[3] = BigInt(DATA_ADDR + table) | (i === 3 ? 0n : 0n);
    setGprBits(f, s, 0, 64, r.next64());
    const al = Number(s.gpr[0]! & 0xffn);
    memPut(s, table + al, r.bits(8), 1);
    s.bytes = i >= 4 ? [0x48, 0xd7] : [0xd7];
  }
  return f;
}

function famXchg(): Fam {
  const f = new Fam('xchg', 'XCHG (86 87 90+r), CMPXCHG (0F B0/B1, equal and not), XADD (0F C0/C1), CMPXCHG8B, CMPXCHG16B (aligned, misaligned #GP), LOCK');
  const r = f.rng;
  for (const size of SIZES) {
    const v8 = size === 8 ? 0 : 1;
    for (let i = 0; i < 8; i++) {
      const mem = i >= 5;
      const lock = i === 7;
      const s = f.spec(`${lock ? 'lock ' : ''}xchg Eb/Ev,G${mem ? ' mem' : ''} ${size} #${i}`, 'xchg');
      const g = regOp(f, size);
      const e = mem ? memOp(f, s, size, [g.full], { noRex: g.noRex }) : i === 4 ? g : regOp(f, size, [g.full], { noRex: g.noRex, rex: g.rex });
      setOp(f, s, g, r.next64());
      if (e !== g) setOp(f, s, e, r.next64());
      s.bytes = encI(size, { op: [0x86 + v8], reg: g, rm: e, pfx: lock ? [0xf0] : [] });
    }
    if (size !== 8) {
      for (let i = 0; i < 4; i++) {
        const s = f.spec(`xchg eAX,reg (90+r) ${size} #${i}`, i === 3 && size !== 32 ? 'xchg' : 'xchg');
        const g = i === 3 ? { kind: 'reg' as const, size, n: 8, full: 8, shift: 0, rex: false, noRex: false } : regOp(f, size, [0]);
        setOp(f, s, g, r.next64());
        setGprBits(f, s, 0, 64, r.next64());
        s.bytes = encI(size, { op: [0x90], plusReg: g });
      }
    }
    // CMPXCHG: equal (dest := src), not equal (acc := dest)
    for (let i = 0; i < 8; i++) {
      const mem = i >= 4;
      const lock = i === 7;
      const eq = i % 2 === 0;
      const s = f.spec(`${lock ? 'lock ' : ''}cmpxchg E,G${mem ? ' mem' : ''} ${size} ${eq ? 'equal' : 'not-equal'}`, 'cmpxchg');
      const g = regOp(f, size, [0]);
      const e = mem ? memOp(f, s, size, [0, g.full], { noRex: g.noRex }) : regOp(f, size, [0, g.full], { noRex: g.noRex, rex: g.rex });
      const dv = randVal(r, size);
      setOp(f, s, g, r.next64());
      setOp(f, s, e, dv);
      setGprBits(f, s, 0, 64, r.next64());
      setGprBits(f, s, 0, size, eq ? dv : dv ^ (1n << BigInt(r.int(size))));
      s.bytes = encI(size, { op: [0x0f, 0xb0 + v8], reg: g, rm: e, pfx: lock ? [0xf0] : [] });
    }
    {
      const s = f.spec(`cmpxchg E,G acc as dest ${size}`, 'cmpxchg');
      const g = regOp(f, size, [0]);
      const e: GOp = size === 8 ? { kind: 'reg', size, n: 0, full: 0, shift: 0, rex: false, noRex: false } : { kind: 'reg', size, n: 0, full: 0, shift: 0, rex: false, noRex: false };
      setOp(f, s, g, r.next64());
      setGprBits(f, s, 0, 64, r.next64());
      s.bytes = encI(size, { op: [0x0f, 0xb0 + v8], reg: g, rm: e });
    }
    // XADD
    for (let i = 0; i < 6; i++) {
      const mem = i >= 3;
      const lock = i === 5;
      const s = f.spec(`${lock ? 'lock ' : ''}xadd E,G${mem ? ' mem' : ''} ${size} #${i}`, 'xadd');
      const g = regOp(f, size);
      const e = mem ? memOp(f, s, size, [g.full], { noRex: g.noRex }) : i === 2 ? g : regOp(f, size, [g.full], { noRex: g.noRex, rex: g.rex });
      setOp(f, s, g, randVal(r, size));
      if (e !== g) setOp(f, s, e, randVal(r, size));
      s.bytes = encI(size, { op: [0x0f, 0xc0 + v8], reg: g, rm: e, pfx: lock ? [0xf0] : [] });
    }
  }
  // CMPXCHG8B / CMPXCHG16B
  for (const wide of [false, true]) {
    const n = wide ? 128 : 64;
    const half = n / 2;
    for (let i = 0; i < 8; i++) {
      const eq = i % 2 === 0;
      const lock = i >= 6;
      const s = f.spec(`${lock ? 'lock ' : ''}cmpxchg${wide ? '16b' : '8b'} ${eq ? 'equal' : 'not-equal'} #${i}`, wide ? 'cmpxchg16b' : 'cmpxchg8b');
      const e = memOp(f, s, 64, [0, 1, 2, 3], { align: wide ? 16 : 1 });
      const lo = r.next64() & maskOf(half), hi = r.next64() & maskOf(half);
      memPut(s, (e as { off: number }).off, (hi << BigInt(half)) | lo, n / 8);
      setGprBits(f, s, 0, 64, r.next64());
      setGprBits(f, s, 2, 64, r.next64());
      setGprBits(f, s, 0, half, lo);
      setGprBits(f, s, 2, half, eq ? hi : hi ^ 1n);
      if (!eq && i === 3) setGprBits(f, s, 0, half, lo ^ (1n << BigInt(half - 1)));
      s.gpr[3] = r.next64();
      s.gpr[1] = r.next64();
      s.bytes = encode({ op: [0x0f, 0xc7], pfx: lock ? [0xf0] : [], w: wide, reg: 1, rm: e.kind === 'mem' ? e.m : 0 });
    }
  }
  {
    const s = f.spec('cmpxchg16b misaligned #GP', 'cmpxchg16b');
    const e = memOp(f, s, 64, [0, 1, 2, 3], { off: 0x808 });
    s.fault = 13;
    s.bytes = encode({ op: [0x0f, 0xc7], w: true, reg: 1, rm: (e as { m: Mem }).m });
  }
  {
    const s = f.spec('cmpxchg8b register operand #UD', 'invalid');
    s.fault = 6;
    s.bytes = [0x0f, 0xc7, 0xc8];
  }
  return f;
}

function famStack(): Fam {
  const f = new Fam('stack', 'PUSH POP (reg 50+r/58+r incl. 16-bit, imm 6A/68, mem FF /6, 8F /0, RSP itself), CALL (rel32, Ev), RET (C3, C2 iw), ENTER (levels 0-3), LEAVE');
  const r = f.rng;
  const stackTop = () => BigInt(DATA_ADDR + 0x1000 + r.int(0x200) * 8);
  for (let i = 0; i < 16; i++) {
    for (const size of [64, 16]) {
      const s = f.spec(`push r${size} (50+r) ${GPR_NAMES[i]}`, 'push');
      s.gpr[4] = stackTop();
      if (i !== 4) s.gpr[i] = r.next64();
      s.bytes = encode({ op: [0x50], plusReg: i, pfx: size === 16 ? [0x66] : [] });
      const p = f.spec(`pop r${size} (58+r) ${GPR_NAMES[i]}`, 'pop');
      p.gpr[4] = stackTop() + (i === 4 ? 8n : 0n);
      if (i !== 4) p.gpr[i] = r.next64();
      memPut(p, Number(p.gpr[4]! - BigInt(DATA_ADDR)), r.next64(), 8);
      p.bytes = encode({ op: [0x58], plusReg: i, pfx: size === 16 ? [0x66] : [] });
    }
  }
  for (const [name, bytes] of [
    ['push imm8 (6A) positive', [0x6a, 0x12]], ['push imm8 (6A) negative', [0x6a, 0x80]],
    ['push imm32 (68)', [0x68, ...imm32(0x12345678)]], ['push imm32 (68) negative', [0x68, ...imm32(-0x12345678)]],
    ['push imm16 (66 68)', [0x66, 0x68, ...imm16(0xbeef)]], ['push imm8 (66 6A)', [0x66, 0x6a, 0xfe]],
  ] as const) {
    const s = f.spec(name, 'push');
    s.gpr[4] = stackTop();
    s.bytes = [...bytes];
  }
  for (let i = 0; i < 4; i++) {
    const s = f.spec(`push Ev mem ${i === 3 ? '16' : '64'} #${i}`, 'push');
    s.gpr[4] = stackTop();
    const e = memOp(f, s, 64, [4], { hi: 0xf00 });
    memPut(s, (e as { off: number }).off, r.next64(), 8);
    s.bytes = encode({ op: [0xff], reg: 6, rm: (e as { m: Mem }).m, pfx: i === 3 ? [0x66] : [] });
    const p = f.spec(`pop Ev mem ${i === 3 ? '16' : '64'} #${i}`, 'pop');
    p.gpr[4] = stackTop();
    memPut(p, Number(p.gpr[4]! - BigInt(DATA_ADDR)), r.next64(), 8);
    const pe = memOp(f, p, 64, [4], { hi: 0xf00 });
    p.bytes = encode({ op: [0x8f], reg: 0, rm: (pe as { m: Mem }).m, pfx: i === 3 ? [0x66] : [] });
  }
  {
    // POP [RSP+8]: the address is computed with RSP after the pop (SDM POP)
    const s = f.spec('pop [rsp+8] (address uses the incremented RSP)', 'pop');
    s.gpr[4] = stackTop();
    memPut(s, Number(s.gpr[4]! - BigInt(DATA_ADDR)), r.next64(), 24);
    s.bytes = encode({ op: [0x8f], reg: 0, rm: { base: 4, disp: 8 } });
    const p = f.spec('push [rsp+8]', 'push');
    p.gpr[4] = stackTop();
    memPut(p, Number(p.gpr[4]! - BigInt(DATA_ADDR)) + 8, r.next64(), 8);
    p.bytes = encode({ op: [0xff], reg: 6, rm: { base: 4, disp: 8 } });
    const u = f.spec('push r64 stack below the window #PF', 'push');
    u.gpr[4] = BigInt(DATA_ADDR + 4);
    u.fault = 14;
    u.bytes = [0x50];
    const n = f.spec('push r64 non-canonical RSP #SS', 'push');
    n.gpr[4] = 0x8000000000001000n;
    n.fault = 12;
    n.bytes = [0x53];
  }
  // CALL / RET
  for (let i = 0; i < 3; i++) {
    const s = f.spec(`call rel32 #${i}`, 'call');
    s.gpr[4] = stackTop();
    s.bytes = [0xe8, ...imm32([0x100, -0x1000, 0][i])];
  }
  for (let i = 0; i < 4; i++) {
    const mem = i >= 2;
    const s = f.spec(`call Ev${mem ? ' mem' : ''} #${i}`, 'call');
    s.gpr[4] = stackTop();
    const e = mem ? memOp(f, s, 64, [4], { hi: 0xf00 }) : regOp(f, 64, [4]);
    setOp(f, s, e, BigInt(CODE_ADDR + 0x80 * (i + 1)));
    s.bytes = encI(64, { op: [0xff], reg: 2, rm: e, w: false });
  }
  for (const [name, bytes] of [['ret (C3)', [0xc3]], ['ret imm16 (C2)', [0xc2, 0x18, 0x00]], ['ret imm16 0 (C2)', [0xc2, 0, 0]]] as const) {
    const s = f.spec(name, 'ret');
    s.gpr[4] = stackTop();
    memPut(s, Number(s.gpr[4]! - BigInt(DATA_ADDR)), BigInt(CODE_ADDR + 0x200), 8);
    s.bytes = [...bytes];
  }
  // ENTER / LEAVE
  for (const level of [0, 1, 2, 3]) {
    for (const sz of [0, 0x20, 0x1234]) {
      const s = f.spec(`enter ${hex(sz)},${level}`, 'enter');
      s.gpr[4] = sz > 0x100 ? BigInt(DATA_ADDR + 0x1e00 - r.int(0x80) * 8) : stackTop();
      s.gpr[5] = stackTop() + 0x40n;
      // the frames ENTER copies for level > 1 come from [rbp-8], [rbp-16], ...
      memPut(s, Number(s.gpr[5]! - BigInt(DATA_ADDR)) - 24, r.next64(), 8);
      memPut(s, Number(s.gpr[5]! - BigInt(DATA_ADDR)) - 16, r.next64(), 8);
      memPut(s, Number(s.gpr[5]! - BigInt(DATA_ADDR)) - 8, r.next64(), 8);
      s.bytes = [0xc8, ...imm16(sz), level];
    }
  }
  {
    // The new RSP lies below the window: the host faults (#PF, CR2 = the final RSP) with RSP
    // and RBP unchanged, although no push goes there.
    const s = f.spec('enter 1234,0 final RSP below the window #PF', 'enter');
    s.gpr[4] = BigInt(DATA_ADDR + 0x1100);
    s.gpr[5] = BigInt(DATA_ADDR + 0x1200);
    s.bytes = [0xc8, ...imm16(0x1234), 0];
    s.fault = 14;
    // The host has already stored RBP at RSP-8 when it faults; the SDM promises nothing about
    // such partial stores of a faulting ENTER, so the data window is not compared.
    s.ignore = ['mem'];
  }
  for (let i = 0; i < 3; i++) {
    const s = f.spec(`leave${i === 2 ? ' (66, 16-bit)' : ''} #${i}`, 'leave');
    s.gpr[4] = r.next64();
    s.gpr[5] = stackTop();
    memPut(s, Number(s.gpr[5]! - BigInt(DATA_ADDR)), r.next64(), 8);
    s.bytes = i === 2 ? [0x66, 0xc9] : [0xc9];
  }
  return f;
}

function famFlags(): Fam {
  const f = new Fam('flags', 'LAHF SAHF, CBW CWDE CDQE CWD CDQ CQO, CLC STC CMC CLD STD');
  const r = f.rng;
  const list = [
    ['lahf', [0x9f]], ['sahf', [0x9e]], ['cbw', [0x66, 0x98]], ['cwde', [0x98]], ['cdqe', [0x48, 0x98]],
    ['cwd', [0x66, 0x99]], ['cdq', [0x99]], ['cqo', [0x48, 0x99]],
    ['clc', [0xf8]], ['stc', [0xf9]], ['cmc', [0xf5]], ['cld', [0xfc]], ['std', [0xfd]],
  ] as const;
  for (const [mn, bytes] of list) {
    for (let i = 0; i < 10; i++) {
      const s = f.spec(`${mn} #${i}`, mn);
      s.gpr[0] = i < 3 ? [0x8000800080008080n, 0x7f7f7f7f7f7f7f7fn, 0xffn][i] : r.next64();
      s.gpr[2] = r.next64();
      s.rflags = 0x202n | (r.bits(12) & BigInt(ARITH | DF));
      s.bytes = [...bytes];
    }
  }
  return f;
}

function famString(): Fam {
  const f = new Fam(
    'string',
    'MOVS CMPS SCAS LODS STOS (b/w/d/q), DF=0/1, without and with REP/REPE/REPNE (RCX 0, 1, n; REPE/REPNE stopping early), 67 (ESI/EDI/ECX). ' +
      'REP cases: natively the single-step trap comes after every iteration, so the harness re-enters until RIP leaves the instruction; a REP case is one complete REP instruction.',
  );
  const r = f.rng;
  const ops = [['movs', 0xa4], ['cmps', 0xa6], ['stos', 0xaa], ['lods', 0xac], ['scas', 0xae]] as const;
  const sfx = { 8: 'b', 16: 'w', 32: 'd', 64: 'q' } as Record<number, string>;
  for (const [op, opc] of ops) {
    for (const size of SIZES) {
      const variants: [string, number[], boolean][] = [['', [], false]];
      if (op === 'movs' || op === 'stos' || op === 'lods') variants.push(['rep ', [0xf3], true]);
      else variants.push(['repe ', [0xf3], true], ['repne ', [0xf2], true]);
      for (const [pname, pfx, isRep] of variants) {
        const counts = isRep ? [0, 1, 2, 5, 9] : [r.int(4)];
        for (const cnt of counts) {
          for (const df of [0, 1]) {
            const a32 = isRep && cnt === 2 && df === 0;
            const s = f.spec(`${pname}${op}${sfx[size]}${a32 ? ' (67)' : ''} df=${df}${isRep ? ` rcx=${cnt}` : ''}`, op + sfx[size]);
            s.rep = isRep;
            s.rflags = (s.rflags & ~BigInt(DF)) | BigInt(df ? DF : 0);
            const nb = size / 8;
            const srcOff = 0x400 + r.int(0x80) * 8, dstOff = 0xc00 + r.int(0x80) * 8;
            s.gpr[6] = BigInt(DATA_ADDR + srcOff) | (a32 ? 0xabcd00000000n : 0n);
            s.gpr[7] = BigInt(DATA_ADDR + dstOff) | (a32 ? 0x1234500000000n : 0n);
            s.gpr[1] = BigInt(cnt) | (a32 ? 0x700000000n : 0n);
            setGprBits(f, s, 0, 64, r.next64());
            // fill the source and destination ranges (both directions) with data; for
            // CMPS/SCAS make them equal up to a random mismatch point
            const span = 10 * nb;
            const src: number[] = [], dst: number[] = [];
            for (let i = 0; i < 2 * span; i++) src.push(r.int(256));
            const mismatch = r.int(2 * span + 8);
            for (let i = 0; i < 2 * span; i++) dst.push(i === mismatch ? (src[i] ^ 0x5a) : src[i]);
            s.mem.push([srcOff - span, src]);
            s.mem.push([dstOff - span, op === 'movs' || op === 'stos' ? dst.map(() => r.int(256)) : dst]);
            if (op === 'scas') {
              // SCAS compares the accumulator with [rdi]: sometimes make it match the first element
              const first = dst.slice(span, span + nb);
              if (r.chance(0.6)) setGprBits(f, s, 0, size, first.reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n));
            }
            const w = size === 64;
            s.bytes = [...(a32 ? [0x67] : []), ...(size === 16 ? [0x66] : []), ...pfx, ...(w ? [0x48] : []), opc + (size === 8 ? 0 : 1)];
          }
        }
      }
    }
  }
  return f;
}

function famMisc(): Fam {
  const f = new Fam('misc', 'NOP forms (90, 66 90, F3 90 PAUSE, 0F 1F /0 with every ModRM length, multi-prefix), XCHG-as-NOP, 0F 18 prefetch hints, ENDBR64');
  const r = f.rng;
  const nops: [string, number[], string][] = [
    ['nop 90', [0x90], 'nop'], ['nop 66 90', [0x66, 0x90], 'nop'], ['pause F3 90', [0xf3, 0x90], 'pause'],
    ['nop 0F 1F 00', [0x0f, 0x1f, 0x00], 'nop'], ['nop 0F 1F 40 00', [0x0f, 0x1f, 0x40, 0x00], 'nop'],
    ['nop 0F 1F 44 00 00', [0x0f, 0x1f, 0x44, 0x00, 0x00], 'nop'], ['nop 66 0F 1F 44 00 00', [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00], 'nop'],
    ['nop 0F 1F 80 disp32', [0x0f, 0x1f, 0x80, 0, 0, 0, 0], 'nop'], ['nop 0F 1F 84 00 disp32', [0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0], 'nop'],
    ['nop 66 0F 1F 84 00 disp32', [0x66, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0], 'nop'],
    ['nop 66 2E 0F 1F 84 00 disp32', [0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0], 'nop'],
    ['nop 66 66 2E 0F 1F 84 00 disp32', [0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0], 'nop'],
    ['nop 0F 1F C0 (register)', [0x0f, 0x1f, 0xc0], 'nop'], ['nop 48 0F 1F 00', [0x48, 0x0f, 0x1f, 0x00], 'nop'],
    ['nop 0F 1F 05 rip-relative', [0x0f, 0x1f, 0x05, 0x44, 0x33, 0x22, 0x11], 'nop'],
    ['xchg r8,rax is not a nop (49 90)', [0x49, 0x90], 'xchg'], ['xchg eax,eax 87 C0 (zero-extends)', [0x87, 0xc0], 'xchg'],
    ['prefetcht0 0F 18 /1', [0x0f, 0x18, 0x08], 'prefetcht0'], ['prefetchnta 0F 18 /0', [0x0f, 0x18, 0x00], 'prefetchnta'],
    ['endbr64', [0xf3, 0x0f, 0x1e, 0xfa], 'endbr64'],
    ['segment prefix on a register op (2E 01 D8)', [0x2e, 0x01, 0xd8], 'add'],
    ['redundant REX before 66 (ignored REX) 40 66 90?', [0x66, 0x40, 0x90], 'nop'],
  ];
  for (const [name, bytes, mn] of nops) {
    for (let i = 0; i < 3; i++) {
      const s = f.spec(`${name} #${i}`, mn);
      // random (mostly non-canonical) registers: a NOP with a memory operand must not access it
      for (let g = 0; g < 16; g++) if (g !== 4) s.gpr[g] = r.next64();
      s.bytes = bytes;
    }
  }
  return f;
}

function famFault(): Fam {
  const f = new Fam('fault', 'Exceptions: privileged instructions in user mode (#GP), invalid opcodes in 64-bit mode (#UD), INT3 (#BP, a trap: RIP after it), page faults and non-canonical addresses (#PF, #GP, #SS), misaligned SSE (#GP), unmasked SIMD exceptions (#XM), LDMXCSR reserved bits (#GP)');
  const r = f.rng;
  const list: [string, number[], string, number][] = [
    ['hlt', [0xf4], 'hlt', 13], ['cli', [0xfa], 'cli', 13], ['sti', [0xfb], 'sti', 13],
    ['in al,dx', [0xec], 'in', 13], ['out dx,al', [0xee], 'out', 13], ['in al,imm8', [0xe4, 0x60], 'in', 13],
    ['insb', [0x6c], 'insb', 13], ['outsb', [0x6e], 'outsb', 13],
    ['mov rax,cr0', [0x0f, 0x20, 0xc0], 'mov', 13], ['mov cr3,rax', [0x0f, 0x22, 0xd8], 'mov', 13],
    ['mov rax,dr7', [0x0f, 0x21, 0xf8], 'mov', 13],
    ['rdmsr', [0x0f, 0x32], 'rdmsr', 13], ['wrmsr', [0x0f, 0x30], 'wrmsr', 13], ['wbinvd', [0x0f, 0x09], 'wbinvd', 13],
    ['invd', [0x0f, 0x08], 'invd', 13], ['clts', [0x0f, 0x06], 'clts', 13], ['lgdt [rsi]', [0x0f, 0x01, 0x16], 'lgdt', 13],
    ['lidt [rsi]', [0x0f, 0x01, 0x1e], 'lidt', 13], ['invlpg [rsi]', [0x0f, 0x01, 0x3e], 'invlpg', 13],
    ['swapgs', [0x0f, 0x01, 0xf8], 'swapgs', 13],
    ['int3', [0xcc], 'int3', 3],
    ['ud2', [0x0f, 0x0b], 'ud2', 6], ['aaa (invalid in 64-bit)', [0x37], 'invalid', 6], ['daa', [0x27], 'invalid', 6],
    ['into', [0xce], 'invalid', 6], ['push es', [0x06], 'invalid', 6], ['pop ds', [0x1f], 'invalid', 6],
    ['pusha', [0x60], 'invalid', 6], ['82 /0 (invalid in 64-bit)', [0x82, 0xc0, 0x01], 'invalid', 6],
    ['jmp far ptr16:32 (EA)', [0xea, 0, 0, 0, 0, 0x33, 0], 'invalid', 6],
    ['lock nop', [0xf0, 0x90], 'invalid', 6], ['lock mov', [0xf0, 0x89, 0x06], 'invalid', 6],
    ['ud1', [0x0f, 0xb9, 0xc0], 'ud1', 6], ['ud0', [0x0f, 0xff, 0xc0], 'ud0', 6],
  ];
  for (const [name, bytes, mn, vec] of list) {
    const s = f.spec(`${name} #${vec}`, mn);
    s.gpr[6] = BigInt(DATA_ADDR + 0x100);
    s.gpr[2] = 0x60n;
    s.bytes = bytes;
    s.fault = vec;
  }
  // memory faults
  const memFaults: [string, bigint, number, boolean][] = [
    ['load unmapped (0x1000) #PF', 0x1000n, 14, false], ['store unmapped #PF', 0x1000n, 14, true],
    ['load just past the data window #PF', BigInt(DATA_ADDR + DATA_SIZE), 14, false],
    ['load straddling the end of the data window #PF', BigInt(DATA_ADDR + DATA_SIZE - 4), 14, false],
    ['store straddling the start of the data window #PF', BigInt(DATA_ADDR - 4), 14, true],
    ['load kernel address #PF', 0xffffffff81000000n, 14, false],
    ['load non-canonical #GP', 0x0000800000000000n, 13, false], ['store non-canonical #GP', 0x8000000000000000n, 13, true],
    ['store to code window? no: load from code window', BigInt(CODE_ADDR), -1, false],
  ];
  for (const [name, addr, vec, store] of memFaults) {
    const s = f.spec(`mov ${store ? '[rbx],rax' : 'rax,[rbx]'} ${name}`, 'mov');
    s.gpr[3] = addr;
    s.gpr[0] = r.next64();
    s.bytes = store ? [0x48, 0x89, 0x03] : [0x48, 0x8b, 0x03];
    if (vec >= 0) s.fault = vec;
  }
  {
    const s = f.spec('mov rax,[rbp] non-canonical (stack segment) #SS', 'mov');
    s.gpr[5] = 0x8000000000000000n;
    s.bytes = [0x48, 0x8b, 0x45, 0x00];
    s.fault = 12;
    const t = f.spec('rep stosb faulting in the middle (#PF after some iterations)', 'stosb');
    t.gpr[7] = BigInt(DATA_ADDR + DATA_SIZE - 5);
    t.gpr[1] = 16n;
    t.rflags &= ~BigInt(DF);
    t.rep = true;
    t.bytes = [0xf3, 0xaa];
    t.fault = 14;
  }
  // misaligned 16-byte SSE operands: #GP(0)
  for (const [name, bytes, mn] of [
    ['movaps xmm1,[rsi+1]', [0x0f, 0x28, 0x4e, 0x01], 'movaps'], ['movdqa [rsi+8],xmm2', [0x66, 0x0f, 0x7f, 0x56, 0x08], 'movdqa'],
    ['addps xmm0,[rsi+4]', [0x0f, 0x58, 0x46, 0x04], 'addps'], ['paddd xmm3,[rsi+2]', [0x66, 0x0f, 0xfe, 0x5e, 0x02], 'paddd'],
    ['pshufb xmm1,[rsi+3] (SSSE3)', [0x66, 0x0f, 0x38, 0x00, 0x4e, 0x03], 'pshufb'],
    ['movups xmm1,[rsi+1] (unaligned is fine)', [0x0f, 0x10, 0x4e, 0x01], 'movups'],
    ['addss xmm1,[rsi+1] (scalar: no alignment)', [0xf3, 0x0f, 0x58, 0x4e, 0x01], 'addss'],
  ] as const) {
    const s = f.spec(name, mn);
    s.gpr[6] = BigInt(DATA_ADDR + 0x200);
    memPut(s, 0x200, r.next64(), 8);
    memPut(s, 0x208, r.next64(), 8);
    memPut(s, 0x210, r.next64(), 8);
    s.bytes = [...bytes];
    if (!name.includes('fine') && !name.includes('no alignment')) s.fault = 13;
  }
  // unmasked SIMD floating-point exceptions: #XM (vector 19), destination unchanged, flag set
  for (const [name, bytes, mn, mxcsr, a, b] of [
    ['divss by zero, ZM unmasked', [0xf3, 0x0f, 0x5e, 0xc1], 'divss', 0x1d80, 0x3f800000n, 0n],
    ['addsd SNaN, IM unmasked', [0xf2, 0x0f, 0x58, 0xc1], 'addsd', 0x1f00, 0x3ff0000000000000n, 0x7ff0000000000001n],
    ['mulps overflow, OM unmasked', [0x0f, 0x59, 0xc1], 'mulps', 0x1b80, 0x7f7fffff7f7fffffn, 0x4000000040000000n],
    ['addps inexact, PM unmasked', [0x0f, 0x58, 0xc1], 'addps', 0x0f80, 0x3f8000003f800000n, 0x3380000033800000n],
    ['cvttsd2si out of range, IM unmasked', [0xf2, 0x0f, 0x2c, 0xc1], 'cvttsd2si', 0x1f00, 0n, 0x43e0000000000000n],
    ['divss by zero, masked (no fault)', [0xf3, 0x0f, 0x5e, 0xc1], 'divss', 0x1f80, 0x3f800000n, 0n],
  ] as const) {
    const s = f.spec(`${name}`, mn);
    s.xmm[0] = a;
    s.xmm[1] = b;
    s.mxcsr = mxcsr;
    s.bytes = [...bytes];
    if (!name.includes('masked (no')) s.fault = 19;
  }
  // LDMXCSR with a reserved bit set: #GP(0)
  {
    const s = f.spec('ldmxcsr [rsi] reserved bit 16 #GP', 'ldmxcsr');
    s.gpr[6] = BigInt(DATA_ADDR + 0x300);
    memPut(s, 0x300, 0x11f80n, 4);
    s.bytes = [0x0f, 0xae, 0x16];
    s.fault = 13;
  }
  return f;
}

// =============================================================================================
// SSE values
// =============================================================================================

type Lane = 'f32' | 'f64' | 'i8' | 'i16' | 'i32' | 'i64';
const laneBits: Record<Lane, number> = { f32: 32, f64: 64, i8: 8, i16: 16, i32: 32, i64: 64 };

/** Single-precision edge values: zeros, ones, ties, infinities, QNaN/SNaN (both signs, with
 *  payload), denormals, min/max normal, integer-conversion limits, values that round. */
const F32_EDGE = [
  0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3f000000, 0xbf000000, 0x3fc00000, 0x40200000, 0xbfc00000,
  0x40400000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fa00000, 0xff800001, 0x7fc0dead, 0x00000001,
  0x807fffff, 0x00400000, 0x00800000, 0x80800000, 0x7f7fffff, 0xff7fffff, 0x4f000000, 0xcf000000, 0x4effffff,
  0xcf000001, 0x5f000000, 0xdf000000, 0x3dcccccd, 0x3eaaaaab, 0x4b7fffff, 0x4b000001, 0x3effffff, 0x3f7fffff,
  0x0c000000, 0x72000000,
].map(BigInt);

/** Double-precision edge values, likewise (plus FLT_MAX/FLT_MIN neighbours for CVTSD2SS). */
const F64_EDGE = [
  0x0000000000000000n, 0x8000000000000000n, 0x3ff0000000000000n, 0xbff0000000000000n, 0x3fe0000000000000n,
  0xbfe0000000000000n, 0x3ff8000000000000n, 0x4004000000000000n, 0xbff8000000000000n, 0x7ff0000000000000n,
  0xfff0000000000000n, 0x7ff8000000000000n, 0xfff8000000000000n, 0x7ff4000000000000n, 0xfff0000000000001n,
  0x7ff8deadbeef0000n, 0x0000000000000001n, 0x800fffffffffffffn, 0x0010000000000000n, 0x8010000000000000n,
  0x7fefffffffffffffn, 0xffefffffffffffffn, 0x41e0000000000000n, 0xc1e0000000000000n, 0x41dfffffffc00000n,
  0xc1e0000000200000n, 0x43e0000000000000n, 0xc3e0000000000000n, 0x3fb999999999999an, 0x3fd5555555555555n,
  0x47efffffe0000000n, 0x47effffff0000000n, 0x36a0000000000000n, 0x3690000000000000n, 0x3fdfffffffffffffn,
  0x4330000000000001n, 0x41dfffffffe00000n, 0x3810000000000000n,
];

const INT_EDGE: Record<number, bigint[]> = {
  8: [0n, 1n, 0x7fn, 0x80n, 0xffn, 0xfen, 0x81n, 0x40n, 0x0fn],
  16: [0n, 1n, 0x7fffn, 0x8000n, 0xffffn, 0x00ffn, 0xff00n, 0x8001n, 0x7fn, 0x80n, 0xff80n],
  32: [0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0xffffn, 0x10000n, 0x7fffn, 0x8000n, 0xffff8000n, 0xffn],
  64: [0n, 1n, 0x7fffffffffffffffn, 0x8000000000000000n, M64, 0xffffffffn, 0x100000000n, 0xffffffff80000000n],
};

function randF32(r: Rng): bigint {
  if (r.chance(0.15)) return r.bits(32);
  const exp = BigInt(127 + r.int(61) - 30);
  return (r.bits(1) << 31n) | (exp << 23n) | r.bits(r.chance(0.3) ? 4 : 23) << (r.chance(0.3) ? 19n : 0n);
}
function randF64(r: Rng): bigint {
  if (r.chance(0.15)) return r.next64();
  const exp = BigInt(1023 + r.int(121) - 60);
  return (r.bits(1) << 63n) | (exp << 52n) | (r.chance(0.3) ? r.bits(8) << 44n : r.bits(52));
}

function laneVal(r: Rng, t: Lane, edgeP: number): bigint {
  const edge = r.chance(edgeP);
  switch (t) {
    case 'f32': return edge ? r.pick(F32_EDGE) : randF32(r);
    case 'f64': return edge ? r.pick(F64_EDGE) : randF64(r);
    default: {
      const b = laneBits[t];
      return edge ? r.pick(INT_EDGE[b]) : r.bits(b);
    }
  }
}

/** A 128-bit value made of lanes of type `t`; 'edge' mostly picks edge values. */
function xmmVal(r: Rng, t: Lane, cls: 'edge' | 'rand'): bigint {
  const b = laneBits[t];
  let v = 0n;
  for (let i = 0; i < 128 / b; i++) v |= laneVal(r, t, cls === 'edge' ? 0.75 : 0.2) << BigInt(i * b);
  return v;
}

/** MXCSR for an FP case: mostly the default; sometimes another rounding mode, FTZ/DAZ, sticky flags. */
function fpMxcsr(r: Rng): number {
  return r.pick([0x1f80, 0x1f80, 0x1f80, 0x1f80, 0x1f80, 0x1f80, 0x1f80, 0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9fc0, 0x1fbf, 0x1fc0, 0x9f80, 0x1fa1]);
}

// ---------------------------------------------------------------------------------------------
// generic SSE case builder

interface XOp {
  mn: string;
  /** extra form label for the case name */
  form?: string;
  pfx?: number[];
  op: number[];
  w?: boolean;
  /** what ModRM.reg and ModRM.rm name: an xmm register or a GPR of `gsize` */
  reg?: 'x' | 'g';
  rm?: 'x' | 'g';
  gsize?: number;
  regLane: Lane;
  rmLane: Lane;
  /** memory operand size in bytes (0: register form only) */
  msize: number;
  /** register form exists (false: memory only, e.g. MOVLPS m64) */
  regForm?: boolean;
  /** the 16-byte memory operand must be aligned (default: msize === 16) */
  align?: boolean;
  /** immediate values to cycle through */
  imm?: number[];
  fp?: boolean;
  /** an implicit xmm0 operand (BLENDVPS ...) */
  xmm0?: Lane;
  /** integer source values for GPR operands */
  gLane?: Lane;
  nReg?: number;
  nMem?: number;
}

function sse(f: Fam, o: XOp): void {
  const r = f.rng;
  const nReg = o.regForm === false ? 0 : o.nReg ?? 12;
  const nMem = o.msize ? o.nMem ?? 3 : 0;
  const regKind = o.reg ?? 'x', rmKind = o.rm ?? 'x';
  const gsize = o.gsize ?? 32;
  for (let i = 0; i < nReg + nMem; i++) {
    const mem = i >= nReg;
    const cls = i % 3 === 2 || i >= 8 ? 'rand' : 'edge';
    const imm = o.imm ? o.imm[i % o.imm.length] : undefined;
    const label = `${o.mn}${o.form ? ' ' + o.form : ''}${mem ? ' mem' : ''}${imm !== undefined ? ` imm=${hex(imm)}` : ''} ${cls}#${i}`;
    const s = f.spec(label, o.mn);
    if (o.fp) s.mxcsr = fpMxcsr(r);
    const regN = regKind === 'x' ? r.int(16) : r.pick([0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    if (regKind === 'x') s.xmm[regN] = xmmVal(r, o.regLane, cls);
    else s.gpr[regN] = o.gLane ? laneValG(r, o.gLane, gsize) : r.next64();
    let rm: number | Mem;
    if (mem) {
      const needAlign = o.align ?? o.msize === 16;
      const m = memOp(f, s, 128, regKind === 'g' ? [regN] : [], { align: needAlign ? 16 : 1 });
      // a value for the memory operand (the rest of its 16 bytes are random too)
      const v = rmKind === 'x' ? xmmVal(r, o.rmLane, cls) : o.gLane ? laneValG(r, o.gLane, gsize) : r.next64();
      memPut(s, (m as { off: number }).off, v | (rmKind === 'g' ? r.next64() << 64n : 0n), 16);
      rm = (m as { m: Mem }).m;
    } else {
      let rmN: number;
      if (rmKind === 'x') {
        rmN = r.chance(0.1) && regKind === 'x' ? regN : r.int(16);
        if (rmN !== regN || regKind !== 'x') s.xmm[rmN] = xmmVal(r, o.rmLane, cls);
      } else {
        rmN = r.pick([0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].filter((n) => regKind !== 'g' || n !== regN));
        s.gpr[rmN] = o.gLane ? laneValG(r, o.gLane, gsize) : r.next64();
      }
      rm = rmN;
    }
    if (o.xmm0) s.xmm[0] = xmmVal(r, o.xmm0, cls);
    s.bytes = encode({ op: o.op, pfx: o.pfx ?? [], w: o.w, reg: regN, rm, imm: imm !== undefined ? imm8(imm) : undefined });
  }
}

/** A GPR value for an integer-to-FP conversion: an edge integer, a random one, or a small one. */
function laneValG(r: Rng, t: Lane, gsize: number): bigint {
  const v = laneVal(r, t, 0.5);
  const k = r.int(4);
  const base = k === 0 ? BigInt(r.int(2001) - 1000) & maskOf(gsize) : v & maskOf(gsize);
  return gsize === 32 ? (r.next64() & 0xffffffff00000000n) | base : base;
}

// =============================================================================================
// SSE families
// =============================================================================================

function famSseMove(): Fam {
  const f = new Fam('sse-move', 'MOVUPS MOVAPS MOVUPD MOVAPD MOVDQA MOVDQU LDDQU MOVSS MOVSD MOVD MOVQ MOVHLPS MOVLHPS MOVLPS MOVHPS MOVLPD MOVHPD MOVDDUP MOVSHDUP MOVSLDUP MOVMSKPS MOVMSKPD PMOVMSKB LDMXCSR STMXCSR');
  const r = f.rng;
  const I = 'i32' as Lane;
  const moves: XOp[] = [
    { mn: 'movups', op: [0x0f, 0x10], regLane: 'f32', rmLane: 'f32', msize: 16, align: false, nReg: 3 },
    { mn: 'movups', form: 'store', op: [0x0f, 0x11], regLane: 'f32', rmLane: 'f32', msize: 16, align: false, nReg: 2 },
    { mn: 'movaps', op: [0x0f, 0x28], regLane: 'f32', rmLane: 'f32', msize: 16, nReg: 3 },
    { mn: 'movaps', form: 'store', op: [0x0f, 0x29], regLane: 'f32', rmLane: 'f32', msize: 16, nReg: 2 },
    { mn: 'movupd', pfx: [0x66], op: [0x0f, 0x10], regLane: 'f64', rmLane: 'f64', msize: 16, align: false, nReg: 3 },
    { mn: 'movupd', form: 'store', pfx: [0x66], op: [0x0f, 0x11], regLane: 'f64', rmLane: 'f64', msize: 16, align: false, nReg: 2 },
    { mn: 'movapd', pfx: [0x66], op: [0x0f, 0x28], regLane: 'f64', rmLane: 'f64', msize: 16, nReg: 3 },
    { mn: 'movapd', form: 'store', pfx: [0x66], op: [0x0f, 0x29], regLane: 'f64', rmLane: 'f64', msize: 16, nReg: 2 },
    { mn: 'movdqa', pfx: [0x66], op: [0x0f, 0x6f], regLane: I, rmLane: I, msize: 16, nReg: 3 },
    { mn: 'movdqa', form: 'store', pfx: [0x66], op: [0x0f, 0x7f], regLane: I, rmLane: I, msize: 16, nReg: 2 },
    { mn: 'movdqu', pfx: [0xf3], op: [0x0f, 0x6f], regLane: I, rmLane: I, msize: 16, align: false, nReg: 3 },
    { mn: 'movdqu', form: 'store', pfx: [0xf3], op: [0x0f, 0x7f], regLane: I, rmLane: I, msize: 16, align: false, nReg: 2 },
    { mn: 'lddqu', pfx: [0xf2], op: [0x0f, 0xf0], regLane: I, rmLane: I, msize: 16, align: false, regForm: false, nMem: 4 },
    { mn: 'movss', pfx: [0xf3], op: [0x0f, 0x10], regLane: 'f32', rmLane: 'f32', msize: 4, nReg: 4, nMem: 4 },
    { mn: 'movss', form: 'store', pfx: [0xf3], op: [0x0f, 0x11], regLane: 'f32', rmLane: 'f32', msize: 4, nReg: 2, nMem: 3 },
    { mn: 'movsd', pfx: [0xf2], op: [0x0f, 0x10], regLane: 'f64', rmLane: 'f64', msize: 8, nReg: 4, nMem: 4 },
    { mn: 'movsd', form: 'store', pfx: [0xf2], op: [0x0f, 0x11], regLane: 'f64', rmLane: 'f64', msize: 8, nReg: 2, nMem: 3 },
    { mn: 'movd', form: 'xmm,r/m32', pfx: [0x66], op: [0x0f, 0x6e], rm: 'g', regLane: I, rmLane: I, msize: 4, nReg: 4 },
    { mn: 'movd', form: 'r/m32,xmm', pfx: [0x66], op: [0x0f, 0x7e], rm: 'g', regLane: I, rmLane: I, msize: 4, nReg: 4 },
    { mn: 'movq', form: 'xmm,r/m64', pfx: [0x66], w: true, op: [0x0f, 0x6e], rm: 'g', gsize: 64, regLane: I, rmLane: I, msize: 8, nReg: 4 },
    { mn: 'movq', form: 'r/m64,xmm', pfx: [0x66], w: true, op: [0x0f, 0x7e], rm: 'g', gsize: 64, regLane: I, rmLane: I, msize: 8, nReg: 4 },
    { mn: 'movq', form: 'xmm,xmm/m64 (F3 0F 7E)', pfx: [0xf3], op: [0x0f, 0x7e], regLane: I, rmLane: I, msize: 8, nReg: 4 },
    { mn: 'movq', form: 'xmm/m64,xmm (66 0F D6)', pfx: [0x66], op: [0x0f, 0xd6], regLane: I, rmLane: I, msize: 8, nReg: 4 },
    { mn: 'movhlps', op: [0x0f, 0x12], regLane: 'f32', rmLane: 'f32', msize: 0, nReg: 5 },
    { mn: 'movlps', op: [0x0f, 0x12], regLane: 'f32', rmLane: 'f32', msize: 8, regForm: false, nMem: 4 },
    { mn: 'movlps', form: 'store', op: [0x0f, 0x13], regLane: 'f32', rmLane: 'f32', msize: 8, regForm: false, nMem: 3 },
    { mn: 'movlhps', op: [0x0f, 0x16], regLane: 'f32', rmLane: 'f32', msize: 0, nReg: 5 },
    { mn: 'movhps', op: [0x0f, 0x16], regLane: 'f32', rmLane: 'f32', msize: 8, regForm: false, nMem: 4 },
    { mn: 'movhps', form: 'store', op: [0x0f, 0x17], regLane: 'f32', rmLane: 'f32', msize: 8, regForm: false, nMem: 3 },
    { mn: 'movlpd', pfx: [0x66], op: [0x0f, 0x12], regLane: 'f64', rmLane: 'f64', msize: 8, regForm: false, nMem: 4 },
    { mn: 'movlpd', form: 'store', pfx: [0x66], op: [0x0f, 0x13], regLane: 'f64', rmLane: 'f64', msize: 8, regForm: false, nMem: 3 },
    { mn: 'movhpd', pfx: [0x66], op: [0x0f, 0x16], regLane: 'f64', rmLane: 'f64', msize: 8, regForm: false, nMem: 4 },
    { mn: 'movhpd', form: 'store', pfx: [0x66], op: [0x0f, 0x17], regLane: 'f64', rmLane: 'f64', msize: 8, regForm: false, nMem: 3 },
    { mn: 'movddup', pfx: [0xf2], op: [0x0f, 0x12], regLane: 'f64', rmLane: 'f64', msize: 8, nReg: 4 },
    { mn: 'movshdup', pfx: [0xf3], op: [0x0f, 0x16], regLane: 'f32', rmLane: 'f32', msize: 16, nReg: 4 },
    { mn: 'movsldup', pfx: [0xf3], op: [0x0f, 0x12], regLane: 'f32', rmLane: 'f32', msize: 16, nReg: 4 },
    { mn: 'movmskps', op: [0x0f, 0x50], reg: 'g', regLane: I, rmLane: 'f32', msize: 0, nReg: 8 },
    { mn: 'movmskpd', pfx: [0x66], op: [0x0f, 0x50], reg: 'g', regLane: I, rmLane: 'f64', msize: 0, nReg: 8 },
    { mn: 'pmovmskb', pfx: [0x66], op: [0x0f, 0xd7], reg: 'g', regLane: I, rmLane: 'i8', msize: 0, nReg: 8 },
    { mn: 'movmskps', form: 'r64', w: true, op: [0x0f, 0x50], reg: 'g', regLane: I, rmLane: 'f32', msize: 0, nReg: 3 },
    { mn: 'pmovmskb', form: 'r64', pfx: [0x66], w: true, op: [0x0f, 0xd7], reg: 'g', regLane: I, rmLane: 'i8', msize: 0, nReg: 3 },
  ];
  for (const o of moves) sse(f, o);
  // LDMXCSR / STMXCSR
  for (const v of [0x1f80, 0x0000, 0xffbf, 0x7f80, 0x9fc0, 0x1f80 | 0x3f, 0x1d80]) {
    const s = f.spec(`ldmxcsr m32 value=${hex(v)}`, 'ldmxcsr');
    const m = memOp(f, s, 32);
    memPut(s, (m as { off: number }).off, BigInt(v), 4);
    s.bytes = encode({ op: [0x0f, 0xae], reg: 2, rm: (m as { m: Mem }).m });
  }
  for (const v of [0x1f80, 0x7fbf, 0x9fc0, 0x1f82]) {
    const s = f.spec(`stmxcsr m32 mxcsr=${hex(v)}`, 'stmxcsr');
    s.mxcsr = v;
    const m = memOp(f, s, 32);
    memPut(s, (m as { off: number }).off, r.next64(), 8);
    s.bytes = encode({ op: [0x0f, 0xae], reg: 3, rm: (m as { m: Mem }).m });
  }
  return f;
}

const PS_PD_SS_SD: [string, number[], Lane, number][] = [
  ['ps', [], 'f32', 16], ['pd', [0x66], 'f64', 16], ['ss', [0xf3], 'f32', 4], ['sd', [0xf2], 'f64', 8],
];

function famSseFp(): Fam {
  const f = new Fam('sse-fp', 'ADD SUB MUL DIV MIN MAX SQRT {PS,PD,SS,SD}, AND ANDN OR XOR {PS,PD}, ADDSUB HADD HSUB {PS,PD}, DPPS DPPD; FP edge values, all rounding modes, FTZ/DAZ, sticky MXCSR flags');
  for (const [name, opc] of [['add', 0x58], ['mul', 0x59], ['sub', 0x5c], ['min', 0x5d], ['div', 0x5e], ['max', 0x5f], ['sqrt', 0x51]] as const) {
    for (const [sfx, pfx, lane, msize] of PS_PD_SS_SD) {
      sse(f, { mn: name + sfx, pfx, op: [0x0f, opc], regLane: lane, rmLane: lane, msize, fp: true, nReg: 28, nMem: 4 });
    }
  }
  for (const [name, opc] of [['and', 0x54], ['andn', 0x55], ['or', 0x56], ['xor', 0x57]] as const) {
    for (const [sfx, pfx, lane] of PS_PD_SS_SD.slice(0, 2)) {
      sse(f, { mn: name + sfx, pfx, op: [0x0f, opc], regLane: lane, rmLane: lane, msize: 16, nReg: 6 });
    }
  }
  for (const [mn, pfx, opc, lane] of [
    ['addsubps', [0xf2], 0xd0, 'f32'], ['addsubpd', [0x66], 0xd0, 'f64'], ['haddps', [0xf2], 0x7c, 'f32'],
    ['haddpd', [0x66], 0x7c, 'f64'], ['hsubps', [0xf2], 0x7d, 'f32'], ['hsubpd', [0x66], 0x7d, 'f64'],
  ] as const) {
    sse(f, { mn, pfx: [...pfx], op: [0x0f, opc], regLane: lane, rmLane: lane, msize: 16, fp: true, nReg: 12 });
  }
  sse(f, { mn: 'dpps', pfx: [0x66], op: [0x0f, 0x3a, 0x40], regLane: 'f32', rmLane: 'f32', msize: 16, imm: [0xff, 0xf1, 0x71, 0x3c, 0x1f, 0xa5], nReg: 10 });
  sse(f, { mn: 'dppd', pfx: [0x66], op: [0x0f, 0x3a, 0x41], regLane: 'f64', rmLane: 'f64', msize: 16, imm: [0x33, 0x31, 0x12, 0x23, 0x03], nReg: 8 });
  return f;
}

function famSseCmp(): Fam {
  const f = new Fam('sse-cmp', 'CMPPS CMPPD CMPSS CMPSD with all 8 predicates, COMISS COMISD UCOMISS UCOMISD (QNaN/SNaN, signed zeros)');
  for (const [sfx, pfx, lane, msize] of PS_PD_SS_SD) {
    for (let pred = 0; pred < 8; pred++) {
      sse(f, { mn: 'cmp' + sfx, form: `pred=${pred}`, pfx, op: [0x0f, 0xc2], regLane: lane, rmLane: lane, msize, imm: [pred], fp: true, nReg: 10, nMem: 2 });
    }
  }
  for (const [mn, pfx, opc, lane, msize] of [
    ['comiss', [], 0x2f, 'f32', 4], ['comisd', [0x66], 0x2f, 'f64', 8], ['ucomiss', [], 0x2e, 'f32', 4], ['ucomisd', [0x66], 0x2e, 'f64', 8],
  ] as const) {
    sse(f, { mn, pfx: [...pfx], op: [0x0f, opc], regLane: lane, rmLane: lane, msize, fp: true, nReg: 24, nMem: 4 });
    // equal values (ZF), and one side NaN
    const r = f.rng;
    for (let i = 0; i < 6; i++) {
      const s = f.spec(`${mn} equal/unordered #${i}`, mn);
      const a = laneVal(r, lane, 0.7);
      const b = i < 3 ? a : lane === 'f32' ? r.pick([0x7fc00000n, 0x7fa00000n]) : r.pick([0x7ff8000000000000n, 0x7ff4000000000000n]);
      s.xmm[1] = a;
      s.xmm[2] = b;
      s.mxcsr = fpMxcsr(r);
      s.bytes = encode({ op: [0x0f, opc], pfx: [...pfx], reg: 1, rm: 2 });
    }
  }
  return f;
}

function famSseCvt(): Fam {
  const f = new Fam('sse-cvt', 'CVTSI2SS CVTSI2SD (r/m32, r/m64) CVT(T)SS2SI CVT(T)SD2SI (r32, r64) CVTSD2SS CVTSS2SD CVTPS2PD CVTPD2PS CVTDQ2PS CVT(T)PS2DQ CVTDQ2PD CVT(T)PD2DQ, ROUNDPS ROUNDPD ROUNDSS ROUNDSD; all rounding modes, out-of-range -> integer indefinite');
  const I = 'i32' as Lane;
  for (const [mn, pfx, lane] of [['cvtsi2ss', [0xf3], 'f32'], ['cvtsi2sd', [0xf2], 'f64']] as const) {
    for (const gsize of [32, 64]) {
      sse(f, { mn, form: `xmm,r/m${gsize}`, pfx: [...pfx], w: gsize === 64, op: [0x0f, 0x2a], rm: 'g', gsize, gLane: gsize === 32 ? 'i32' : 'i64', regLane: lane, rmLane: I, msize: gsize / 8, fp: true, nReg: 24 });
    }
  }
  for (const [mn, pfx, opc, lane, msize] of [
    ['cvttss2si', [0xf3], 0x2c, 'f32', 4], ['cvtss2si', [0xf3], 0x2d, 'f32', 4], ['cvttsd2si', [0xf2], 0x2c, 'f64', 8], ['cvtsd2si', [0xf2], 0x2d, 'f64', 8],
  ] as const) {
    for (const gsize of [32, 64]) {
      sse(f, { mn, form: `r${gsize},xmm/m`, pfx: [...pfx], w: gsize === 64, op: [0x0f, opc], reg: 'g', gsize, regLane: I, rmLane: lane, msize, fp: true, nReg: 28 });
    }
  }
  const pairs: [string, number[], number, Lane, Lane, number][] = [
    ['cvtsd2ss', [0xf2], 0x5a, 'f32', 'f64', 8], ['cvtss2sd', [0xf3], 0x5a, 'f64', 'f32', 4],
    ['cvtps2pd', [], 0x5a, 'f64', 'f32', 8], ['cvtpd2ps', [0x66], 0x5a, 'f32', 'f64', 16],
    ['cvtdq2ps', [], 0x5b, 'f32', 'i32', 16], ['cvtps2dq', [0x66], 0x5b, 'i32', 'f32', 16], ['cvttps2dq', [0xf3], 0x5b, 'i32', 'f32', 16],
    ['cvtdq2pd', [0xf3], 0xe6, 'f64', 'i32', 8], ['cvtpd2dq', [0xf2], 0xe6, 'i32', 'f64', 16], ['cvttpd2dq', [0x66], 0xe6, 'i32', 'f64', 16],
  ];
  for (const [mn, pfx, opc, dl, sl, msize] of pairs) {
    sse(f, { mn, pfx, op: [0x0f, opc], regLane: dl, rmLane: sl, msize, fp: true, nReg: 28 });
  }
  const rimm = [0, 1, 2, 3, 4, 8, 9, 10, 11, 12];
  for (const [mn, opc, lane, msize] of [['roundps', 0x08, 'f32', 16], ['roundpd', 0x09, 'f64', 16], ['roundss', 0x0a, 'f32', 4], ['roundsd', 0x0b, 'f64', 8]] as const) {
    sse(f, { mn, pfx: [0x66], op: [0x0f, 0x3a, opc], regLane: lane, rmLane: lane, msize, imm: rimm, fp: true, nReg: 20 });
  }
  return f;
}

const P66 = [0x66];

function famSseInt(): Fam {
  const f = new Fam('sse-int', 'PADD/PSUB B W D Q, PADDS/PADDUS/PSUBS/PSUBUS B W, PMULLW PMULHW PMULHUW PMULUDQ PMADDWD, PAND PANDN POR PXOR, PCMPEQ/PCMPGT B W D (Q), PMIN/PMAX (UB SW SB SD UW UD), PAVGB PAVGW PSADBW, PMULLD PMULDQ, PABS PSIGN PHADD PHSUB PMADDUBSW PMULHRSW PHMINPOSUW');
  const ops: [string, number[], Lane][] = [
    ['paddb', [0xfc], 'i8'], ['paddw', [0xfd], 'i16'], ['paddd', [0xfe], 'i32'], ['paddq', [0xd4], 'i64'],
    ['psubb', [0xf8], 'i8'], ['psubw', [0xf9], 'i16'], ['psubd', [0xfa], 'i32'], ['psubq', [0xfb], 'i64'],
    ['paddsb', [0xec], 'i8'], ['paddsw', [0xed], 'i16'], ['paddusb', [0xdc], 'i8'], ['paddusw', [0xdd], 'i16'],
    ['psubsb', [0xe8], 'i8'], ['psubsw', [0xe9], 'i16'], ['psubusb', [0xd8], 'i8'], ['psubusw', [0xd9], 'i16'],
    ['pmullw', [0xd5], 'i16'], ['pmulhw', [0xe5], 'i16'], ['pmulhuw', [0xe4], 'i16'], ['pmuludq', [0xf4], 'i32'], ['pmaddwd', [0xf5], 'i16'],
    ['pand', [0xdb], 'i32'], ['pandn', [0xdf], 'i32'], ['por', [0xeb], 'i32'], ['pxor', [0xef], 'i32'],
    ['pcmpeqb', [0x74], 'i8'], ['pcmpeqw', [0x75], 'i16'], ['pcmpeqd', [0x76], 'i32'],
    ['pcmpgtb', [0x64], 'i8'], ['pcmpgtw', [0x65], 'i16'], ['pcmpgtd', [0x66], 'i32'],
    ['pminub', [0xda], 'i8'], ['pmaxub', [0xde], 'i8'], ['pminsw', [0xea], 'i16'], ['pmaxsw', [0xee], 'i16'],
    ['pavgb', [0xe0], 'i8'], ['pavgw', [0xe3], 'i16'], ['psadbw', [0xf6], 'i8'],
    // SSSE3 (0F 38)
    ['pabsb', [0x38, 0x1c], 'i8'], ['pabsw', [0x38, 0x1d], 'i16'], ['pabsd', [0x38, 0x1e], 'i32'],
    ['psignb', [0x38, 0x08], 'i8'], ['psignw', [0x38, 0x09], 'i16'], ['psignd', [0x38, 0x0a], 'i32'],
    ['phaddw', [0x38, 0x01], 'i16'], ['phaddd', [0x38, 0x02], 'i32'], ['phaddsw', [0x38, 0x03], 'i16'],
    ['phsubw', [0x38, 0x05], 'i16'], ['phsubd', [0x38, 0x06], 'i32'], ['phsubsw', [0x38, 0x07], 'i16'],
    ['pmaddubsw', [0x38, 0x04], 'i8'], ['pmulhrsw', [0x38, 0x0b], 'i16'],
    // SSE4.1 / 4.2 (0F 38)
    ['pminsb', [0x38, 0x38], 'i8'], ['pminsd', [0x38, 0x39], 'i32'], ['pminuw', [0x38, 0x3a], 'i16'], ['pminud', [0x38, 0x3b], 'i32'],
    ['pmaxsb', [0x38, 0x3c], 'i8'], ['pmaxsd', [0x38, 0x3d], 'i32'], ['pmaxuw', [0x38, 0x3e], 'i16'], ['pmaxud', [0x38, 0x3f], 'i32'],
    ['pmulld', [0x38, 0x40], 'i32'], ['pmuldq', [0x38, 0x28], 'i32'], ['pcmpeqq', [0x38, 0x29], 'i64'], ['pcmpgtq', [0x38, 0x37], 'i64'],
    ['phminposuw', [0x38, 0x41], 'i16'],
  ];
  for (const [mn, op, lane] of ops) sse(f, { mn, pfx: P66, op: [0x0f, ...op], regLane: lane, rmLane: lane, msize: 16, nReg: 10 });
  return f;
}

function famSseShift(): Fam {
  const f = new Fam('sse-shift', 'PSLL PSRL PSRA W D Q by xmm/m128 count and by imm8 (counts 0, 1, width-1, width, huge), PSLLDQ PSRLDQ');
  const r = f.rng;
  const byX: [string, number, Lane, number][] = [
    ['psrlw', 0xd1, 'i16', 16], ['psrld', 0xd2, 'i32', 32], ['psrlq', 0xd3, 'i64', 64], ['psraw', 0xe1, 'i16', 16],
    ['psrad', 0xe2, 'i32', 32], ['psllw', 0xf1, 'i16', 16], ['pslld', 0xf2, 'i32', 32], ['psllq', 0xf3, 'i64', 64],
  ];
  for (const [mn, opc, lane, bits] of byX) {
    const counts = [0n, 1n, BigInt(bits - 1), BigInt(bits), BigInt(bits + 1), 0x100000000n, 0x8000000000000000n + 1n, BigInt(r.int(bits)), BigInt(r.int(bits)), 255n];
    counts.forEach((c, i) => {
      const mem = i >= 8;
      const s = f.spec(`${mn} xmm,${mem ? 'm128' : 'xmm'} count=${hex(c)}`, mn);
      const d = r.int(16);
      s.xmm[d] = xmmVal(r, lane, 'edge');
      let rm: number | Mem;
      const cv = (r.next64() << 64n) | c;
      if (mem) {
        const m = memOp(f, s, 128, [], { align: 16 });
        memPut(s, (m as { off: number }).off, cv, 16);
        rm = (m as { m: Mem }).m;
      } else {
        rm = r.pick([...Array(16).keys()].filter((x) => x !== d));
        s.xmm[rm] = cv;
      }
      s.bytes = encode({ op: [0x0f, opc], pfx: P66, reg: d, rm });
    });
  }
  const byI: [string, number, number, Lane, number][] = [
    ['psrlw', 0x71, 2, 'i16', 16], ['psraw', 0x71, 4, 'i16', 16], ['psllw', 0x71, 6, 'i16', 16],
    ['psrld', 0x72, 2, 'i32', 32], ['psrad', 0x72, 4, 'i32', 32], ['pslld', 0x72, 6, 'i32', 32],
    ['psrlq', 0x73, 2, 'i64', 64], ['psrldq', 0x73, 3, 'i8', 16], ['psllq', 0x73, 6, 'i64', 64], ['pslldq', 0x73, 7, 'i8', 16],
  ];
  for (const [mn, opc, ext, lane, bits] of byI) {
    for (const c of [0, 1, 3, bits - 1, bits, bits + 1, 0x80, 0xff, r.int(256)]) {
      const s = f.spec(`${mn} xmm,imm8 count=${c}`, mn);
      const d = r.int(16);
      s.xmm[d] = xmmVal(r, lane, 'rand');
      s.bytes = encode({ op: [0x0f, opc], pfx: P66, reg: ext, rm: d, imm: imm8(c) });
    }
  }
  return f;
}

function famSseShuffle(): Fam {
  const f = new Fam('sse-shuffle', 'PUNPCKL/H BW WD DQ QDQ, PACKSSWB PACKSSDW PACKUSWB PACKUSDW, PSHUFD PSHUFLW PSHUFHW SHUFPS SHUFPD, UNPCKL/H PS PD, PALIGNR PSHUFB, BLENDPS BLENDPD PBLENDW BLENDVPS BLENDVPD PBLENDVB, PMOVZX PMOVSX');
  const r = f.rng;
  const rimm = () => Array.from({ length: 8 }, (_, i) => (i < 2 ? [0, 0xff][i] : r.int(256)));
  const ops: XOp[] = [
    ...([['punpcklbw', 0x60, 'i8'], ['punpcklwd', 0x61, 'i16'], ['punpckldq', 0x62, 'i32'], ['punpcklqdq', 0x6c, 'i64'],
      ['punpckhbw', 0x68, 'i8'], ['punpckhwd', 0x69, 'i16'], ['punpckhdq', 0x6a, 'i32'], ['punpckhqdq', 0x6d, 'i64'],
      ['packsswb', 0x63, 'i16'], ['packssdw', 0x6b, 'i32'], ['packuswb', 0x67, 'i16']] as const).map(
      ([mn, opc, lane]): XOp => ({ mn, pfx: P66, op: [0x0f, opc], regLane: lane, rmLane: lane, msize: 16, nReg: 8 })),
    { mn: 'packusdw', pfx: P66, op: [0x0f, 0x38, 0x2b], regLane: 'i32', rmLane: 'i32', msize: 16, nReg: 8 },
    { mn: 'pshufd', pfx: P66, op: [0x0f, 0x70], regLane: 'i32', rmLane: 'i32', msize: 16, imm: rimm(), nReg: 8 },
    { mn: 'pshuflw', pfx: [0xf2], op: [0x0f, 0x70], regLane: 'i16', rmLane: 'i16', msize: 16, imm: rimm(), nReg: 8 },
    { mn: 'pshufhw', pfx: [0xf3], op: [0x0f, 0x70], regLane: 'i16', rmLane: 'i16', msize: 16, imm: rimm(), nReg: 8 },
    { mn: 'shufps', op: [0x0f, 0xc6], regLane: 'f32', rmLane: 'f32', msize: 16, imm: rimm(), nReg: 8 },
    { mn: 'shufpd', pfx: P66, op: [0x0f, 0xc6], regLane: 'f64', rmLane: 'f64', msize: 16, imm: [0, 1, 2, 3, 0xfc, 0x7e], nReg: 6 },
    { mn: 'unpcklps', op: [0x0f, 0x14], regLane: 'f32', rmLane: 'f32', msize: 16, nReg: 6 },
    { mn: 'unpckhps', op: [0x0f, 0x15], regLane: 'f32', rmLane: 'f32', msize: 16, nReg: 6 },
    { mn: 'unpcklpd', pfx: P66, op: [0x0f, 0x14], regLane: 'f64', rmLane: 'f64', msize: 16, nReg: 6 },
    { mn: 'unpckhpd', pfx: P66, op: [0x0f, 0x15], regLane: 'f64', rmLane: 'f64', msize: 16, nReg: 6 },
    { mn: 'palignr', pfx: P66, op: [0x0f, 0x3a, 0x0f], regLane: 'i8', rmLane: 'i8', msize: 16, imm: [0, 1, 4, 8, 15, 16, 17, 24, 31, 32, 0xff, 5], nReg: 12 },
    { mn: 'pshufb', pfx: P66, op: [0x0f, 0x38, 0x00], regLane: 'i8', rmLane: 'i8', msize: 16, nReg: 10 },
    { mn: 'blendps', pfx: P66, op: [0x0f, 0x3a, 0x0c], regLane: 'f32', rmLane: 'f32', msize: 16, imm: [0, 0xf, 5, 0xa, 0xf3, 6], nReg: 6 },
    { mn: 'blendpd', pfx: P66, op: [0x0f, 0x3a, 0x0d], regLane: 'f64', rmLane: 'f64', msize: 16, imm: [0, 1, 2, 3, 0xfe], nReg: 5 },
    { mn: 'pblendw', pfx: P66, op: [0x0f, 0x3a, 0x0e], regLane: 'i16', rmLane: 'i16', msize: 16, imm: rimm(), nReg: 8 },
    { mn: 'blendvps', pfx: P66, op: [0x0f, 0x38, 0x14], regLane: 'f32', rmLane: 'f32', xmm0: 'i32', msize: 16, nReg: 8 },
    { mn: 'blendvpd', pfx: P66, op: [0x0f, 0x38, 0x15], regLane: 'f64', rmLane: 'f64', xmm0: 'i64', msize: 16, nReg: 8 },
    { mn: 'pblendvb', pfx: P66, op: [0x0f, 0x38, 0x10], regLane: 'i8', rmLane: 'i8', xmm0: 'i8', msize: 16, nReg: 8 },
  ];
  const pmov: [string, number, Lane, number][] = [
    ['pmovsxbw', 0x20, 'i8', 8], ['pmovsxbd', 0x21, 'i8', 4], ['pmovsxbq', 0x22, 'i8', 2], ['pmovsxwd', 0x23, 'i16', 8],
    ['pmovsxwq', 0x24, 'i16', 4], ['pmovsxdq', 0x25, 'i32', 8],
    ['pmovzxbw', 0x30, 'i8', 8], ['pmovzxbd', 0x31, 'i8', 4], ['pmovzxbq', 0x32, 'i8', 2], ['pmovzxwd', 0x33, 'i16', 8],
    ['pmovzxwq', 0x34, 'i16', 4], ['pmovzxdq', 0x35, 'i32', 8],
  ];
  for (const [mn, opc, lane, msize] of pmov) ops.push({ mn, pfx: P66, op: [0x0f, 0x38, opc], regLane: lane, rmLane: lane, msize, align: false, nReg: 6 });
  for (const o of ops) sse(f, o);
  return f;
}

function famSseInsert(): Fam {
  const f = new Fam('sse-insert', 'PEXTRB PEXTRW (C5 and 3A 15) PEXTRD PEXTRQ EXTRACTPS, PINSRB PINSRW PINSRD PINSRQ INSERTPS, PTEST');
  const I = 'i32' as Lane;
  const ix = (n: number) => Array.from({ length: n + 2 }, (_, i) => (i < n ? i : i === n ? n + 1 : 0xff));
  const ops: XOp[] = [
    { mn: 'pextrw', form: 'r32,xmm,imm (C5)', pfx: P66, op: [0x0f, 0xc5], reg: 'g', regLane: I, rmLane: 'i16', msize: 0, imm: ix(8), nReg: 10 },
    { mn: 'pextrw', form: 'r64,xmm,imm (C5)', pfx: P66, w: true, op: [0x0f, 0xc5], reg: 'g', gsize: 64, regLane: I, rmLane: 'i16', msize: 0, imm: [3, 7], nReg: 2 },
    { mn: 'pinsrw', form: 'xmm,r32/m16,imm', pfx: P66, op: [0x0f, 0xc4], rm: 'g', regLane: 'i16', rmLane: I, msize: 2, imm: ix(8), nReg: 10 },
    // 66 0F 3A 14/15/16/17: ModRM.reg is the xmm source, ModRM.rm the GPR/memory destination
    { mn: 'pextrb', pfx: P66, op: [0x0f, 0x3a, 0x14], rm: 'g', regLane: 'i8', rmLane: I, msize: 1, imm: ix(16), nReg: 14, nMem: 4 },
    { mn: 'pextrw', form: 'r/m16 (3A 15)', pfx: P66, op: [0x0f, 0x3a, 0x15], rm: 'g', regLane: 'i16', rmLane: I, msize: 2, imm: ix(8), nReg: 6, nMem: 4 },
    { mn: 'pextrd', pfx: P66, op: [0x0f, 0x3a, 0x16], rm: 'g', regLane: 'i32', rmLane: I, msize: 4, imm: ix(4), nReg: 6, nMem: 3 },
    { mn: 'pextrq', pfx: P66, w: true, op: [0x0f, 0x3a, 0x16], rm: 'g', gsize: 64, regLane: 'i64', rmLane: I, msize: 8, imm: ix(2), nReg: 4, nMem: 3 },
    { mn: 'extractps', pfx: P66, op: [0x0f, 0x3a, 0x17], rm: 'g', regLane: 'f32', rmLane: I, msize: 4, imm: ix(4), nReg: 6, nMem: 3 },
    { mn: 'pinsrb', pfx: P66, op: [0x0f, 0x3a, 0x20], rm: 'g', regLane: 'i8', rmLane: I, msize: 1, imm: ix(16), nReg: 14, nMem: 4 },
    { mn: 'pinsrd', pfx: P66, op: [0x0f, 0x3a, 0x22], rm: 'g', regLane: 'i32', rmLane: I, msize: 4, imm: ix(4), nReg: 6, nMem: 3 },
    { mn: 'pinsrq', pfx: P66, w: true, op: [0x0f, 0x3a, 0x22], rm: 'g', gsize: 64, regLane: 'i64', rmLane: I, msize: 8, imm: ix(2), nReg: 4, nMem: 3 },
    { mn: 'insertps', pfx: P66, op: [0x0f, 0x3a, 0x21], regLane: 'f32', rmLane: 'f32', msize: 4, imm: [0, 0x10, 0x20, 0x30, 0x40, 0x80, 0xc0, 0x0f, 0x5a, 0xe5, 0x31, 0xff], nReg: 12, nMem: 4 },
    { mn: 'ptest', pfx: P66, op: [0x0f, 0x38, 0x17], regLane: 'i32', rmLane: 'i32', msize: 16, nReg: 10, nMem: 3 },
  ];
  for (const o of ops) sse(f, o);
  // PTEST with the interesting outcomes: ZF=1 (a AND b = 0), CF=1 (b AND NOT a = 0), both
  const r = f.rng;
  for (const [name, a, b] of [['zero', 0n, 0n], ['disjoint', 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0fn, 0xf0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0n],
    ['subset', (1n << 128n) - 1n, 0x8000000000000001n], ['equal', 0x123456789abcdef0fedcba9876543210n, 0x123456789abcdef0fedcba9876543210n]] as const) {
    const s = f.spec(`ptest ${name}`, 'ptest');
    s.xmm[3] = a;
    s.xmm[9] = b;
    s.rflags = 0x202n | (r.bits(12) & BigInt(ARITH));
    s.bytes = encode({ op: [0x0f, 0x38, 0x17], pfx: P66, reg: 3, rm: 9 });
  }
  return f;
}

// =============================================================================================
// running and writing
// =============================================================================================

const FAMILIES: (() => Fam)[] = [
  famAlu, famUnary, famShift, famMulDiv, famBit, famBitscan, famCond, famMov, famXchg, famStack, famFlags,
  famString, famMisc, famFault, famSseMove, famSseFp, famSseCmp, famSseCvt, famSseInt, famSseShift, famSseShuffle,
  famSseInsert,
];

interface Base {
  gpr: bigint[];
  rflags: bigint;
  xmm: bigint[];
  mxcsr: number;
}

function makeBase(f: Fam): Base {
  const r = new Rng(seedOf(f.name + '/base'));
  const gpr = Array.from({ length: 16 }, () => r.next64());
  gpr[4] = BigInt(DATA_ADDR + 0x1800);
  const xmm = Array.from({ length: 16 }, (_, i) => xmmVal(r, (['f32', 'f64', 'i8', 'i32'] as Lane[])[i % 4], 'rand'));
  return { gpr, rflags: 0x202n, xmm, mxcsr: 0x1f80 };
}

const split = (v: bigint): [bigint, bigint] => [v & M64, (v >> 64n) & M64];

function fullState(base: Base, s: Spec): SnippetState {
  const mem = new Uint8Array(DATA_SIZE);
  for (const [off, b] of s.mem) {
    if (off < 0 || off + b.length > DATA_SIZE) throw new Error(`${s.name}: memory patch outside the window`);
    mem.set(b, off);
  }
  return {
    gpr: base.gpr.map((v, i) => s.gpr[i] ?? v),
    rip: BigInt(CODE_ADDR),
    rflags: s.rflags,
    xmm: base.xmm.map((v, i) => split(s.xmm[i] ?? v)),
    mxcsr: s.mxcsr ?? base.mxcsr,
    mem,
  };
}

const formatter = new Formatter(FormatterSyntax.Intel);
const ICED_FLAGS: [number, number][] = [[1, OF], [2, SF], [4, ZF], [8, AF], [16, CF], [32, PF], [64, DF]];

/** Decodes with iced-x86; returns the disassembly, or throws if it is not what was intended. */
function checkDecode(s: Spec, warnings: Map<string, string>): string {
  const bytes = Uint8Array.from(s.bytes);
  const d = new Decoder(64, bytes, DecoderOptions.None);
  d.ip = BigInt(CODE_ADDR);
  const ins = d.decode();
  d.free();
  try {
    const invalid = ins.code === Code.INVALID;
    const mn = invalid ? 'invalid' : Mnemonic[ins.mnemonic].toLowerCase();
    const asm = invalid ? '(bad)' : formatter.format(ins);
    if (mn !== s.mn) throw new Error(`${s.name}: ${bytesToHex(s.bytes)} decodes as "${asm}" (${mn}), expected ${s.mn}`);
    if (!invalid && ins.length !== bytes.length) throw new Error(`${s.name}: ${bytesToHex(s.bytes)} decodes with length ${ins.length}`);
    if (!invalid) {
      // cross-check our undefined-flags mask with iced-x86's instruction info (warnings only)
      let iu = 0;
      for (const [ib, xb] of ICED_FLAGS) if (ins.rflagsUndefined & ib) iu |= xb;
      if (iu !== s.flagsMask) {
        const key = `${mn}: iced-x86 says undefined=${hex(iu)}, ours=${hex(s.flagsMask)}`;
        if (!warnings.has(key)) warnings.set(key, `e.g. ${s.name}`);
      }
    }
    return asm;
  } finally {
    ins.free();
  }
}

const hex128 = (v: bigint) => v.toString(16);

function toFixtureCase(base: Base, s: Spec, asm: string, init: SnippetState, res: ReturnType<typeof runNative>[number]): FixtureCase {
  const c: FixtureCase = { name: s.name, asm, bytes: bytesToHex(s.bytes), init: {}, expect: { rip: hex(res.rip), rflags: hex(res.rflags) } };
  const ig: Record<string, string> = {};
  s.gpr.forEach((v, i) => { if (v !== undefined) ig[GPR_NAMES[i]] = hex(v); });
  if (Object.keys(ig).length) c.init.gpr = ig;
  if (s.rflags !== base.rflags) c.init.rflags = hex(s.rflags);
  const ix: Record<string, string> = {};
  s.xmm.forEach((v, i) => { if (v !== undefined) ix[`xmm${i}`] = hex128(v); });
  if (Object.keys(ix).length) c.init.xmm = ix;
  if (init.mxcsr !== base.mxcsr) c.init.mxcsr = hex(init.mxcsr);
  const im = memDiff(new Uint8Array(DATA_SIZE), init.mem);
  if (im.length) c.init.mem = im;
  const eg: Record<string, string> = {};
  res.gpr.forEach((v, i) => { if (v !== init.gpr[i]) eg[GPR_NAMES[i]] = hex(v); });
  if (Object.keys(eg).length) c.expect.gpr = eg;
  const ex: Record<string, string> = {};
  res.xmm.forEach((v, i) => { if (v[0] !== init.xmm[i][0] || v[1] !== init.xmm[i][1]) ex[`xmm${i}`] = xmmToHex(v); });
  if (Object.keys(ex).length) c.expect.xmm = ex;
  if (res.mxcsr !== init.mxcsr) c.expect.mxcsr = hex(res.mxcsr);
  const em = memDiff(init.mem, res.mem);
  if (em.length) c.expect.mem = em;
  if (res.exception !== undefined) {
    c.expect.exception = res.exception;
    if ([8, 10, 11, 12, 13, 14, 17, 21].includes(res.exception)) c.expect.errorCode = hex(res.errorCode);
    if (res.exception === 14) c.expect.cr2 = hex(res.faultAddr);
  }
  if (s.flagsMask) c.flagsMask = hex(s.flagsMask);
  if (s.ignore) c.ignore = s.ignore;
  if (s.rep) c.rep = true;
  return c;
}

function hostName(): string {
  try {
    const m = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1].trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}

function writeFixture(fx: Fixture): number {
  const head = JSON.stringify({ family: fx.family, description: fx.description, host: fx.host, base: fx.base });
  const body = fx.cases.map((c) => JSON.stringify(c)).join(',\n');
  const text = head.slice(0, -1) + ',"cases":[\n' + body + '\n]}\n';
  writeFileSync(join(FIXTURES, `${fx.family}.json`), text);
  return text.length;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  mkdirSync(FIXTURES, { recursive: true });
  const host = hostName();
  const warnings = new Map<string, string>();
  let total = 0, bytes = 0;
  const problems: string[] = [];
  const summary: string[] = [];
  for (const make of FAMILIES) {
    const f = make();
    if (only.length && !only.includes(f.name)) continue;
    const base = makeBase(f);
    // unique names
    const seen = new Map<string, number>();
    for (const s of f.specs) {
      const n = seen.get(s.name) ?? 0;
      seen.set(s.name, n + 1);
      if (n) s.name += ` (${n + 1})`;
    }
    const asms = f.specs.map((s) => checkDecode(s, warnings));
    const states = f.specs.map((s) => fullState(base, s));
    const cases: NativeCase[] = f.specs.map((s, i) => ({ code: Uint8Array.from(s.bytes), state: states[i], rep: s.rep }));
    const results = runNative(cases);
    const fixture: Fixture = {
      family: f.name,
      description: f.description,
      host,
      base: { gpr: base.gpr.map(hex), rflags: hex(base.rflags), xmm: base.xmm.map(hex128), mxcsr: hex(base.mxcsr) },
      cases: [],
    };
    const vectors = new Map<string, number>();
    f.specs.forEach((s, i) => {
      const res = results[i];
      if ((res.exception ?? -1) !== (s.fault ?? -1)) {
        problems.push(`${f.name}: ${s.name} [${asms[i]}]: expected ${s.fault ?? 'no exception'}, host raised ${res.exception ?? 'none'} (signal ${res.signo}, rip ${hex(res.rip)})`);
      }
      const k = res.exception === undefined ? 'ok' : `#${res.exception}`;
      vectors.set(k, (vectors.get(k) ?? 0) + 1);
      fixture.cases.push(toFixtureCase(base, s, asms[i], states[i], res));
    });
    const size = writeFixture(fixture);
    total += fixture.cases.length;
    bytes += size;
    summary.push(`${f.name.padEnd(12)} ${String(fixture.cases.length).padStart(6)} cases ${(size / 1024).toFixed(0).padStart(6)} KiB  ${[...vectors].map(([k, v]) => `${k}:${v}`).join(' ')}`);
  }
  console.log(summary.join('\n'));
  console.log(`total: ${total} cases, ${(bytes / 1024 / 1024).toFixed(2)} MiB`);
  if (warnings.size) {
    console.log(
      `\nundefined-flags masks that differ from iced-x86's static instruction info (informational; expected\n` +
        `for shifts/rotates, whose SDM rules depend on the count, and for instructions that fault):`,
    );
    for (const [k, v] of warnings) console.log(`  ${k} ${v}`);
  }
  if (problems.length) {
    console.error(`\n${problems.length} cases did not raise the expected exception:\n${problems.slice(0, 50).join('\n')}`);
    process.exit(1);
  }
}

await main();
