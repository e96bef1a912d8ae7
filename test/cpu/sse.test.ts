/**
 * SSE/SSE2/SSE3/SSSE3/SSE4.1: behaviour the SDM specifies (NaN rules, exceptions, rounding,
 * alignment, MXCSR, FXSAVE), run through runSnippet (64-bit user mode) or a bare machine for the
 * CR0/CR4 checks. The bulk check against the real CPU is test/diff (fixtures sse-*.json).
 */
import { describe, expect, it } from 'vitest';
import { runSnippet } from '../../src/cpu/snippet.js';
import { CODE_ADDR, DATA_ADDR, DATA_SIZE, type SnippetResult } from '../../src/cpu/snippet-types.js';
import { createMachine, DATA } from './helpers/machine.js';
import { CR0_EM, CR0_TS, CR4_OSFXSR, CR4_OSXMMEXCPT } from '../../src/cpu/regs.js';
import { nativeAvailable, runNative } from '../diff/native.js';
import { compareResults } from '../diff/fixture.js';

const UD = 6, NM = 7, GP = 13, XM = 19;
const IE = 1, DE = 2, ZE = 4, OE = 8, UE = 16, PE = 32;
const DAZ = 0x40, FTZ = 0x8000;
const RC = { RN: 0, RD: 0x2000, RU: 0x4000, RZ: 0x6000 };
const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;

interface Init {
  xmm?: Record<number, bigint>;   // 128-bit values
  gpr?: Record<number, bigint>;
  mxcsr?: number;
  rflags?: bigint;
  mem?: [number, bigint, number][]; // [offset in the data window, value, bytes]
}
const M128 = (1n << 128n) - 1n;
function run(code: string, init: Init = {}): SnippetResult & { x: (r: number) => bigint } {
  const gpr = Array.from({ length: 16 }, () => 0n);
  gpr[4] = BigInt(DATA_ADDR + 0x1800);
  gpr[6] = BigInt(DATA_ADDR + 0x100);
  for (const [k, v] of Object.entries(init.gpr ?? {})) gpr[+k] = BigInt.asUintN(64, v);
  const xmm: [bigint, bigint][] = Array.from({ length: 16 }, () => [0n, 0n]);
  for (const [k, v] of Object.entries(init.xmm ?? {})) xmm[+k] = [v & ((1n << 64n) - 1n), (v >> 64n) & ((1n << 64n) - 1n)];
  const mem = new Uint8Array(DATA_SIZE);
  for (const [off, v, n] of init.mem ?? []) for (let i = 0; i < n; i++) mem[off + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  const r = runSnippet(Uint8Array.from(Buffer.from(code.replace(/\s+/g, ''), 'hex')), {
    gpr, rip: BigInt(CODE_ADDR), rflags: init.rflags ?? 0x202n, xmm, mxcsr: init.mxcsr ?? 0x1f80, mem,
  });
  return Object.assign(r, { x: (n: number) => ((r.xmm[n][1] << 64n) | r.xmm[n][0]) & M128 });
}
/** Pack binary32 bit patterns into a 128-bit value (lane 0 first). */
const ps = (...l: number[]) => l.reduce((a, v, i) => a | (BigInt(v >>> 0) << BigInt(32 * i)), 0n);
const pd = (...l: bigint[]) => l.reduce((a, v, i) => a | (v << BigInt(64 * i)), 0n);
const F = (x: number) => { const b = Buffer.alloc(4); b.writeFloatLE(x); return b.readUInt32LE(0); };
const D = (x: number) => { const b = Buffer.alloc(8); b.writeDoubleLE(x); return b.readBigUInt64LE(0); };
const lane = (v: bigint, i: number) => Number((v >> BigInt(32 * i)) & 0xffffffffn);

describe('SSE arithmetic and the NaN rules (SDM Vol. 1, Table 4-7 "Rules for Generating QNaNs")', () => {
  it('ADDPS adds four binary32 lanes', () => {
    const r = run('0f58c1', { xmm: { 0: ps(F(1), F(2), F(3), F(-4)), 1: ps(F(0.5), F(0.25), F(-3), F(4)) } });
    expect(r.x(0)).toBe(ps(F(1.5), F(2.25), F(0), F(0)));
    expect(r.mxcsr).toBe(0x1f80);
  });
  it('two QNaNs: the first source operand is returned; no IE', () => {
    const r = run('f30f58c1', { xmm: { 0: ps(0x7fc00001), 1: ps(0x7fc00002) } });
    expect(lane(r.x(0), 0)).toBe(0x7fc00001);
    expect(r.mxcsr & IE).toBe(0);
  });
  it('an SNaN source is quieted and raises IE; a NaN in the second operand alone is returned', () => {
    let r = run('f30f58c1', { xmm: { 0: ps(0x7f800001), 1: ps(F(1)) } });
    expect(lane(r.x(0), 0)).toBe(0x7fc00001);
    expect(r.mxcsr & IE).toBe(IE);
    r = run('f20f58c1', { xmm: { 0: pd(D(1)), 1: pd(0xfff0000000000005n) } });
    expect(r.x(0) & ((1n << 64n) - 1n)).toBe(0xfff8000000000005n);
    expect(r.mxcsr & IE).toBe(IE);
  });
  it('invalid operations give the default NaN (0xFFC00000 / 0xFFF8000000000000) with IE', () => {
    let r = run('f30f59c1', { xmm: { 0: ps(0), 1: ps(0x7f800000) } });      // mulss 0 × ∞
    expect(lane(r.x(0), 0)).toBe(0xffc00000);
    expect(r.mxcsr).toBe(0x1f80 | IE);
    r = run('f20f5cc1', { xmm: { 0: pd(0x7ff0000000000000n), 1: pd(0x7ff0000000000000n) } }); // subsd ∞ − ∞
    expect(r.x(0)).toBe(0xfff8000000000000n);
    r = run('f30f51c1', { xmm: { 1: ps(F(-4)) } });                          // sqrtss of a negative number
    expect(lane(r.x(0), 0)).toBe(0xffc00000);
  });
  it('MINSS/MAXSD return the second operand when either is a NaN (IE) or both are zeros (SDM MINPS)', () => {
    let r = run('f30f5dc1', { xmm: { 0: ps(0x7fc00000), 1: ps(F(1)) } });
    expect(lane(r.x(0), 0)).toBe(F(1));
    expect(r.mxcsr & IE).toBe(IE);
    r = run('f30f5dc1', { xmm: { 0: ps(F(2)), 1: ps(0x7f800001) } });       // the SNaN is returned as it is
    expect(lane(r.x(0), 0)).toBe(0x7f800001);
    r = run('f30f5dc1', { xmm: { 0: ps(0), 1: ps(0x80000000) } });
    expect(lane(r.x(0), 0)).toBe(0x80000000);
    r = run('f20f5fc1', { xmm: { 0: pd(0x8000000000000000n), 1: pd(0n) } });
    expect(r.x(0)).toBe(0n);
  });
  it('division by zero gives ∞ and ZE', () => {
    const r = run('f30f5ec1', { xmm: { 0: ps(F(-1)), 1: ps(0) } });
    expect(lane(r.x(0), 0)).toBe(0xff800000);
    expect(r.mxcsr).toBe(0x1f80 | ZE);
  });
  it('HADDPS, ADDSUBPD and DPPS combine lanes (DPPS NaN order as on the Intel host)', () => {
    let r = run('f20f7cc1', { xmm: { 0: ps(F(1), F(2), F(3), F(4)), 1: ps(F(10), F(20), F(30), F(40)) } });
    expect(r.x(0)).toBe(ps(F(3), F(7), F(30), F(70)));
    r = run('660fd0c1', { xmm: { 0: pd(D(5), D(5)), 1: pd(D(2), D(2)) } });
    expect(r.x(0)).toBe(pd(D(3), D(7)));
    r = run('660f3a40c1f1', { xmm: { 0: ps(F(1), F(2), F(3), F(4)), 1: ps(F(1), F(1), F(1), F(1)) } });
    expect(r.x(0)).toBe(ps(F(10), 0, 0, 0));
    r = run('660f3a40c1ff', { xmm: { 0: ps(0x7fc00001, 0x7fc00002, F(1), F(1)), 1: ps(F(1), F(1), F(1), F(1)) } });
    expect(r.x(0)).toBe(ps(0x7fc00002, 0x7fc00001, 0x7fc00002, 0x7fc00001));
  });
  it('RCPPS/RSQRTPS: the Intel host table (relative error <= 1.5·2^-12), no flags', () => {
    const r = run('0f53c1', { xmm: { 1: ps(F(1), F(3), 0, 0x7f800000) } });
    expect(r.x(0)).toBe(ps(0x3f7ff000, 0x3eaaa000, 0x7f800000, 0));     // measured on the host
    expect(Math.abs(Buffer.from(Uint32Array.of(lane(r.x(0), 1)).buffer).readFloatLE(0) * 3 - 1)).toBeLessThan(1.5 * 2 ** -12);
    const s = run('0f52c1', { xmm: { 1: ps(F(4), F(-1), F(1), 0) } });
    expect(s.x(0)).toBe(ps(0x3efff000, 0xffc00000, 0x3f7ff000, 0x7f800000));
    expect(lane(s.x(0), 3)).toBe(0x7f800000);
    expect(Math.abs(Buffer.from(Uint32Array.of(lane(s.x(0), 0)).buffer).readFloatLE(0) * 2 - 1)).toBeLessThan(1.5 * 2 ** -12);
    expect(s.mxcsr).toBe(0x1f80);
  });
});

describe('MXCSR: rounding control, precision, denormals, DAZ/FTZ (SDM Vol. 1, "MXCSR Control/Status Register")', () => {
  it('DIVSS 1/3 rounds by MXCSR.RC and sets PE', () => {
    const want = { RN: 0x3eaaaaab, RD: 0x3eaaaaaa, RU: 0x3eaaaaab, RZ: 0x3eaaaaaa };
    for (const [k, rc] of Object.entries(RC)) {
      const r = run('f30f5ec1', { xmm: { 0: ps(F(1)), 1: ps(F(3)) }, mxcsr: 0x1f80 | rc });
      expect(lane(r.x(0), 0), k).toBe(want[k as keyof typeof want]);
      expect(r.mxcsr, k).toBe(0x1f80 | rc | PE);
    }
  });
  it('an exact cancellation is +0, or -0 when rounding down (IEEE 754 §6.3)', () => {
    expect(lane(run('f30f5cc1', { xmm: { 0: ps(F(1.5)), 1: ps(F(1.5)) } }).x(0), 0)).toBe(0);
    expect(lane(run('f30f5cc1', { xmm: { 0: ps(F(1.5)), 1: ps(F(1.5)) }, mxcsr: 0x1f80 | RC.RD }).x(0), 0)).toBe(0x80000000);
  });
  it('overflow: OE|PE and ∞, or the largest finite value when rounding toward zero', () => {
    let r = run('0f59c1', { xmm: { 0: ps(0x7f7fffff), 1: ps(F(2)) } });
    expect(lane(r.x(0), 0)).toBe(0x7f800000);
    expect(r.mxcsr & 0x3f).toBe(OE | PE);
    r = run('0f59c1', { xmm: { 0: ps(0x7f7fffff), 1: ps(F(2)) }, mxcsr: 0x1f80 | RC.RZ });
    expect(lane(r.x(0), 0)).toBe(0x7f7fffff);
  });
  it('a denormal operand sets DE; DAZ reads it as zero without DE', () => {
    let r = run('f30f58c1', { xmm: { 0: ps(1), 1: ps(0) } });
    expect(lane(r.x(0), 0)).toBe(1);
    expect(r.mxcsr & 0x3f).toBe(DE);
    r = run('f30f58c1', { xmm: { 0: ps(1), 1: ps(0) }, mxcsr: 0x1f80 | DAZ });
    expect(lane(r.x(0), 0)).toBe(0);
    expect(r.mxcsr & 0x3f).toBe(0);
  });
  it('a tiny inexact result sets UE|PE (gradual underflow); FTZ flushes it to zero', () => {
    const a = ps(0x1c800001), b = ps(0x1c800000);      // (1 + 2^-23)·2^-70 × 2^-70: both normal
    let r = run('f30f59c1', { xmm: { 0: a, 1: b } });
    expect(lane(r.x(0), 0)).toBe(F(2 ** -140));
    expect(r.mxcsr & 0x3f).toBe(UE | PE);
    r = run('f30f59c1', { xmm: { 0: a, 1: b }, mxcsr: 0x1f80 | FTZ });
    expect(lane(r.x(0), 0)).toBe(0);
    expect(r.mxcsr & 0x3f).toBe(UE | PE);
  });
  it('the flags are sticky', () => {
    const r = run('f30f58c1', { xmm: { 0: ps(F(1)), 1: ps(F(1)) }, mxcsr: 0x1f80 | ZE | OE });
    expect(r.mxcsr).toBe(0x1f80 | ZE | OE);
  });
  it('an unmasked exception raises #XM before the destination is written (SDM Vol. 1, "Handling Unmasked Exceptions")', () => {
    const r = run('f30f5ec1', { xmm: { 0: ps(F(1)), 1: ps(0) }, mxcsr: 0x1f80 & ~0x200 });
    expect(r.exception).toBe(XM);
    expect(r.x(0)).toBe(ps(F(1)));
    expect(r.mxcsr).toBe((0x1f80 & ~0x200) | ZE);
    expect(r.rip).toBe(BigInt(CODE_ADDR));
  });
  it('LDMXCSR loads, STMXCSR stores; a reserved bit is #GP(0)', () => {
    let r = run('0fae16', { mem: [[0x100, 0x7fc0n, 4]] });
    expect(r.mxcsr).toBe(0x7fc0);
    r = run('0fae1e', { mxcsr: 0x9fa1 });
    expect(r.mem[0x100] | (r.mem[0x101] << 8)).toBe(0x9fa1);
    r = run('0fae16', { mem: [[0x100, 0x11f80n, 4]] });
    expect(r.exception).toBe(GP);
    expect(r.mxcsr).toBe(0x1f80);
  });
});

describe('conversions (SDM CVTSD2SI, CVTTSS2SI, CVTSI2SS ...)', () => {
  it('CVTSD2SI rounds by MXCSR.RC; CVTTSD2SI truncates', () => {
    const cases: [number, number, number, number, number][] = [[2.5, 2, 2, 3, 2], [-2.5, -2, -3, -2, -2], [1.75, 2, 1, 2, 1]];
    for (const [x, rn, rd, ru, rz] of cases) {
      const got = [RC.RN, RC.RD, RC.RU, RC.RZ].map(rc => Number(BigInt.asIntN(32, run('f20f2dc1', { xmm: { 1: pd(D(x)) }, mxcsr: 0x1f80 | rc }).gpr[0])));
      expect(got, String(x)).toEqual([rn, rd, ru, rz]);
      expect(Number(BigInt.asIntN(32, run('f20f2cc1', { xmm: { 1: pd(D(x)) } }).gpr[0]))).toBe(Math.trunc(x));
    }
  });
  it('out of range or NaN gives the integer indefinite with IE', () => {
    let r = run('f20f2dc1', { xmm: { 1: pd(D(3e9)) }, gpr: { 0: -1n } });
    expect(r.gpr[0]).toBe(0x80000000n);                       // 32-bit destination: upper half zeroed
    expect(r.mxcsr & 0x3f).toBe(IE);
    r = run('f3480f2cc1', { xmm: { 1: ps(0x7fc00000) } });
    expect(r.gpr[0]).toBe(0x8000000000000000n);
    r = run('f20f2dc1', { xmm: { 1: pd(D(-2147483648.4)) } });     // rounds into range: inexact only
    expect(r.gpr[0]).toBe(0x80000000n);
    expect(r.mxcsr & 0x3f).toBe(PE);
  });
  it('CVTSI2SS r64 rounds (PE); CVTSI2SD r32 is exact', () => {
    let r = run('f3480f2ac0', { gpr: { 0: 0x7fffffffffffffffn } });
    expect(lane(r.x(0), 0)).toBe(0x5f000000);
    expect(r.mxcsr & 0x3f).toBe(PE);
    r = run('f20f2ac0', { gpr: { 0: 0xffffffffn }, xmm: { 0: ps(0, 0, 7, 7) } });
    expect(r.x(0)).toBe(pd(D(-1), ps(7, 7)));
  });
  it('CVTSD2SS rounds, CVTSS2SD quiets an SNaN (IE), CVTPD2DQ zeroes the upper half', () => {
    let r = run('f20f5ac1', { xmm: { 1: pd(D(0.1)) } });
    expect(lane(r.x(0), 0)).toBe(F(0.1));
    expect(r.mxcsr & 0x3f).toBe(PE);
    r = run('f30f5ac1', { xmm: { 1: ps(0xff800001) } });
    expect(r.x(0)).toBe(0xfff8000020000000n);
    expect(r.mxcsr & 0x3f).toBe(IE);
    r = run('f20fe6c1', { xmm: { 0: -1n & M128, 1: pd(D(1.5), D(-7)) } });
    expect(r.x(0)).toBe(ps(2, -7 >>> 0, 0, 0));
  });
  it('ROUNDSD uses the immediate mode (bit 2 clear) or MXCSR.RC; bit 3 suppresses PE', () => {
    const x = pd(D(-2.5));
    expect(run('660f3a0bc100', { xmm: { 1: x } }).x(0)).toBe(D(-2));
    expect(run('660f3a0bc101', { xmm: { 1: x } }).x(0)).toBe(D(-3));
    expect(run('660f3a0bc104', { xmm: { 1: x }, mxcsr: 0x1f80 | RC.RU }).x(0)).toBe(D(-2));
    expect(run('660f3a0bc103', { xmm: { 1: x } }).mxcsr & PE).toBe(PE);
    expect(run('660f3a0bc10b', { xmm: { 1: x } }).mxcsr & PE).toBe(0);
    expect(run('660f3a0bc100', { xmm: { 1: pd(D(-0.25)) } }).x(0)).toBe(0x8000000000000000n);
  });
});

describe('compares (SDM CMPPS, COMISS, UCOMISS)', () => {
  it('CMPPS predicates produce all-ones masks; LT signals IE on a QNaN, EQ does not', () => {
    const a = ps(F(1), F(2), 0x7fc00000, F(4)), b = ps(F(1), F(1), F(0), F(5));
    let r = run('0fc2c100', { xmm: { 0: a, 1: b } });
    expect(r.x(0)).toBe(ps(-1, 0, 0, 0));
    expect(r.mxcsr & IE).toBe(0);
    r = run('0fc2c101', { xmm: { 0: a, 1: b } });
    expect(r.x(0)).toBe(ps(0, 0, 0, -1));
    expect(r.mxcsr & IE).toBe(IE);
    r = run('0fc2c103', { xmm: { 0: a, 1: b } });                   // UNORD
    expect(r.x(0)).toBe(ps(0, 0, -1, 0));
  });
  it('COMISS sets ZF PF CF (111 unordered, 100 equal, 001 less) and clears OF SF AF', () => {
    const flags = (x: number, y: number, op = '0f2fc1') => {
      const r = run(op, { xmm: { 0: ps(x), 1: ps(y) }, rflags: 0x202n | BigInt(OF | SF | AF) });
      return [Number(r.rflags) & (CF | PF | AF | ZF | SF | OF), r.mxcsr & IE];
    };
    expect(flags(F(1), F(1))).toEqual([ZF, 0]);
    expect(flags(F(1), F(2))).toEqual([CF, 0]);
    expect(flags(F(3), F(2))).toEqual([0, 0]);
    expect(flags(0x7fc00000, F(2))).toEqual([ZF | PF | CF, IE]);            // COMISS: any NaN signals
    expect(flags(0x7fc00000, F(2), '0f2ec1')).toEqual([ZF | PF | CF, 0]);   // UCOMISS: only an SNaN
    expect(flags(0x7f800001, F(2), '0f2ec1')).toEqual([ZF | PF | CF, IE]);
  });
});

describe('alignment of 16-byte memory operands (SDM Vol. 1, "Alignment of SSE data")', () => {
  const aligned = { gpr: { 6: BigInt(DATA_ADDR + 0x100) }, mem: [[0x100, 0x0123456789abcdef0011223344556677n, 16]] as [number, bigint, number][] };
  it('MOVAPS/MOVDQA/ADDPS/PSHUFB/MOVNTDQ with a misaligned operand: #GP(0); nothing is written', () => {
    for (const code of ['0f284e08', '660f7f5608', '0f584604', '660f38004e03', '660fe75601']) {
      const r = run(code, { ...aligned, xmm: { 1: 5n, 2: 6n } });
      expect(r.exception, code).toBe(GP);
      expect(r.x(1)).toBe(5n);
    }
  });
  it('MOVUPS/MOVDQU/LDDQU and scalar operands need no alignment', () => {
    expect(run('0f104e01', aligned).exception).toBeUndefined();
    expect(run('f30f7f5601', aligned).exception).toBeUndefined();
    expect(run('f20ff04e03', aligned).exception).toBeUndefined();
    expect(run('f30f584e01', aligned).exception).toBeUndefined();
    const r = run('0f284e00', aligned);
    expect(r.x(1)).toBe(0x0123456789abcdef0011223344556677n);
  });
});

describe('integer SSE (SDM PADDB ... PMOVZX)', () => {
  it('saturating adds, PMADDWD wrap-around, PMULUDQ 64-bit products', () => {
    expect(run('660fecc1', { xmm: { 0: 0x7f80n, 1: 0x0101n } }).x(0)).toBe(0x7f81n);          // PADDSB: 7f+01 sat, 80+01
    expect(run('660fdcc1', { xmm: { 0: 0xf0n, 1: 0x20n } }).x(0)).toBe(0xffn);               // PADDUSB
    expect(run('660ff5c1', { xmm: { 0: 0x80008000n, 1: 0x80008000n } }).x(0)).toBe(0x80000000n);
    expect(run('660ff4c1', { xmm: { 0: 0xffffffffn, 1: 0xffffffffn } }).x(0)).toBe(0xfffffffe00000001n);
    expect(run('660f3828c1', { xmm: { 0: 0xffffffffn, 1: 2n } }).x(0)).toBe(0xfffffffffffffffen);  // PMULDQ -1·2
  });
  it('shifts: counts beyond the width clear (PSRL/PSLL) or fill with the sign (PSRA)', () => {
    expect(run('660fe1c1', { xmm: { 0: 0x8000_4000n, 1: 99n } }).x(0)).toBe(0xffff_0000n);
    expect(run('660ff3c1', { xmm: { 0: M128, 1: 64n } }).x(0)).toBe(0n);
    expect(run('660f73d904', { xmm: { 1: 0x0102030405060708_090a0b0c0d0e0f10n } }).x(1)).toBe(0x01020304_05060708090a0b0cn);
    expect(run('660f72e11f', { xmm: { 1: ps(0x80000000, 5) } }).x(1)).toBe(ps(-1, 0));
  });
  it('PSHUFB zeroes bytes whose index has bit 7 set; PALIGNR shifts the 32-byte concatenation', () => {
    expect(run('660f3800c1', { xmm: { 0: 0x0f0e0d0c0b0a09080706050403020100n, 1: 0x80000000000000000000000000000f01n } }).x(0))
      .toBe(0x00000000000000000000000000000f01n);
    expect(run('660f3a0fc104', { xmm: { 0: 0x1f1e1d1c1b1a19181716151413121110n, 1: 0x0f0e0d0c0b0a09080706050403020100n } }).x(0))
      .toBe(0x131211100f0e0d0c0b0a090807060504n);
  });
  it('PMOVSXBW / PMOVZXBD extend; PACKUSWB saturates; PCMPGTQ compares signed quadwords', () => {
    expect(run('660f3820c1', { xmm: { 1: 0x80ff7f01n } }).x(0)).toBe(0xff80_ffff_007f_0001n);
    expect(run('660f3831c1', { xmm: { 1: 0x80ff7f01n } }).x(0)).toBe(ps(1, 0x7f, 0xff, 0x80));
    expect(run('660f67c1', { xmm: { 0: 0x0100_00ff_8000_7fffn, 1: 0n } }).x(0)).toBe(0xffff00ffn);
    expect(run('660f3837c1', { xmm: { 0: pd(1n, 0x8000000000000000n), 1: pd(0xffffffffffffffffn, 0n) } }).x(0))
      .toBe(pd(0xffffffffffffffffn, 0n));
  });
  it('PTEST sets ZF and CF and clears the other arithmetic flags', () => {
    const r = run('660f3817c1', { xmm: { 0: 0xf0n, 1: 0x0fn }, rflags: 0x202n | BigInt(SF | OF | PF | AF) });
    expect(Number(r.rflags) & 0x8d5).toBe(ZF);
  });
  it('MOVD/MOVQ zero-extend into the xmm register; PEXTRW/PINSRD move elements', () => {
    expect(run('660f6ec0', { gpr: { 0: 0x1234567887654321n }, xmm: { 0: M128 } }).x(0)).toBe(0x87654321n);
    expect(run('66480f6ec0', { gpr: { 0: 0x1234567887654321n }, xmm: { 0: M128 } }).x(0)).toBe(0x1234567887654321n);
    expect(run('660fc5c103', { xmm: { 1: 0x4444_3333_2222_1111n }, gpr: { 0: -1n } }).gpr[0]).toBe(0x4444n);
    expect(run('660f3a22c102', { gpr: { 1: 0xabcdn } }).x(0)).toBe(0xabcdn << 64n);
  });
  it('MMX forms (no prefix, P/Q operands) are not decoded: #UD', () => {
    expect(run('0ffcc1').exception).toBe(UD);    // PADDB mm0, mm1
    expect(run('0f6fc1').exception).toBe(UD);    // MOVQ mm0, mm1
  });
});

describe('availability checks (SDM "Other Exceptions": CR0.EM, CR4.OSFXSR, CR0.TS, CR4.OSXMMEXCPT)', () => {
  it('#UD if CR0.EM = 1 or CR4.OSFXSR = 0; #NM if CR0.TS = 1', () => {
    const m = createMachine();
    m.cpu.cr0 |= CR0_EM;
    expect(m.exec1('0f58c1')).toBe(UD);
    m.cpu.cr0 &= ~CR0_EM; m.cpu.cr4 &= ~CR4_OSFXSR;
    expect(m.exec1('660ffec1')).toBe(UD);
    m.cpu.cr4 |= CR4_OSFXSR; m.cpu.cr0 |= CR0_TS;
    expect(m.exec1('0f58c1')).toBe(NM);
    expect(m.exec1('0fae0425' + '00003000')).toBe(NM);   // FXSAVE [0x300000]
    m.cpu.cr0 &= ~CR0_TS;
    expect(m.exec1('0f58c1')).toBeUndefined();
  });
  it('an unmasked SIMD exception is #UD when CR4.OSXMMEXCPT = 0', () => {
    const m = createMachine();
    m.cpu.cr4 &= ~CR4_OSXMMEXCPT;
    m.cpu.mxcsr = 0x1f80 & ~0x200;
    m.cpu.xmm[0] = F(1); m.cpu.xmm[4] = 0;
    expect(m.exec1('f30f5ec1')).toBe(UD);
    expect(m.cpu.mxcsr & ZE).toBe(ZE);
  });
});

describe('FXSAVE / FXRSTOR (SDM Vol. 1, "FXSAVE Area")', () => {
  const FXSAVE64 = '480fae0425' + '00003000', FXRSTOR64 = '480fae0c25' + '00003000';
  it('the 64-bit layout holds FCW, FSW, the abridged tag, MXCSR, MXCSR_MASK, ST0–7 and XMM0–15, and restores them', () => {
    const m = createMachine();
    const { cpu, bus } = m;
    cpu.fpu.top = 7; cpu.fpu.setValue(7, 1.5); cpu.fpu.setFull(7);       // FLD 1.5 → ST0 = R7
    cpu.fpu.setControlWord(0x027f);
    cpu.mxcsr = 0x9fa0;
    for (let i = 0; i < 64; i++) cpu.xmm[i] = i * 0x01010101;
    bus.writeBytes(DATA + 416, new Uint8Array(96).fill(0xaa));
    expect(m.exec1(FXSAVE64)).toBeUndefined();
    expect(bus.read16(DATA)).toBe(0x027f);
    expect(bus.read16(DATA + 2) >> 11 & 7).toBe(7);
    expect(bus.read8(DATA + 4)).toBe(0x80);                               // R7 not empty
    expect(bus.read32(DATA + 24)).toBe(0x9fa0);
    expect(bus.read32(DATA + 28)).toBe(0xffff);
    // ST0 = 1.5 as 80-bit: significand 0xC000000000000000, exponent 0x3FFF
    expect(bus.read32(DATA + 32)).toBe(0); expect(bus.read32(DATA + 36) >>> 0).toBe(0xc0000000); expect(bus.read16(DATA + 40)).toBe(0x3fff);
    expect(bus.read32(DATA + 160 + 16 * 15 + 12) >>> 0).toBe((63 * 0x01010101) >>> 0);
    expect(bus.read8(DATA + 416)).toBe(0xaa);                             // bytes 416–511 untouched
    // clobber, then restore
    cpu.fpu.init(); cpu.mxcsr = 0x1f80; cpu.xmm.fill(0);
    expect(m.exec1(FXRSTOR64)).toBeUndefined();
    expect(cpu.mxcsr).toBe(0x9fa0);
    expect(cpu.fpu.top).toBe(7);
    expect(cpu.fpu.cw).toBe(0x027f);
    expect(cpu.fpu.isEmpty(7)).toBe(false);
    expect(cpu.fpu.value(7)).toBe(1.5);
    expect(cpu.xmm[63] >>> 0).toBe((63 * 0x01010101) >>> 0);
  });
  it('outside 64-bit mode only XMM0–7 are saved and restored', () => {
    const m = createMachine({ mode: 'prot32' });
    const { cpu, bus } = m;
    for (let i = 0; i < 64; i++) cpu.xmm[i] = 0x11111111;
    bus.writeBytes(DATA + 160, new Uint8Array(256).fill(0x55));
    expect(m.exec1('0fae05' + '00003000')).toBeUndefined();               // FXSAVE [0x300000]
    expect(bus.read32(DATA + 160 + 16 * 7)).toBe(0x11111111);
    expect(bus.read32(DATA + 160 + 16 * 8)).toBe(0x55555555);
    bus.writeBytes(DATA + 160, new Uint8Array(256).fill(0x22));
    expect(m.exec1('0fae0d' + '00003000')).toBeUndefined();               // FXRSTOR
    expect(cpu.xmm[0]).toBe(0x22222222);
    expect(cpu.xmm[32]).toBe(0x11111111);
  });
  it('a misaligned area is #GP(0); a reserved MXCSR bit in the image is #GP(0)', () => {
    const m = createMachine();
    expect(m.exec1('480fae0425' + '08003000')).toBe(GP);
    expect(m.exec1(FXSAVE64)).toBeUndefined();
    m.bus.write32(DATA + 24, 0x10000);
    expect(m.exec1(FXRSTOR64)).toBe(GP);
  });
});

describe('SSE4.2 (SDM PCMPISTRI, PCMPESTRM, CRC32)', () => {
  const str = (s: string) => [...Buffer.from(s.padEnd(16, '\0'), 'latin1')].reduce((a, b, i) => a | (BigInt(b) << BigInt(8 * i)), 0n);
  it('PCMPISTRI "equal any" finds the first byte of the set; ZF/SF report the terminating nulls', () => {
    const r = run('660f3a63c100', { xmm: { 0: str('lo'), 1: str('hello world') } });
    expect(r.gpr[1]).toBe(2n);
    expect(Number(r.rflags) & (CF | ZF | SF | OF)).toBe(CF | ZF | SF);
  });
  it('PCMPISTRI "equal ordered" finds a substring; no match gives 16', () => {
    expect(run('660f3a63c10c', { xmm: { 0: str('wor'), 1: str('hello world') } }).gpr[1]).toBe(6n);
    expect(run('660f3a63c10c', { xmm: { 0: str('xyz'), 1: str('hello world') } }).gpr[1]).toBe(16n);
  });
  it('PCMPESTRM "ranges" with explicit lengths builds a byte mask in XMM0', () => {
    const r = run('660f3a60ca44', { xmm: { 1: str('az'), 2: str('aB9zq') }, gpr: { 0: 2n, 2: 5n } });
    expect(r.x(0)).toBe(0xffff0000ffn);                                   // 'a', 'z', 'q' are in a..z
  });
  it('CRC32 computes CRC-32C: "123456789" → E3069283 with the usual pre/post inversion', () => {
    const mem: [number, bigint, number][] = [[0x100, BigInt('0x' + Buffer.from('987654321', 'latin1').toString('hex')), 9]];
    const a = run('f2480f38f106', { gpr: { 0: 0xffffffffn }, mem });                    // crc32 rax, qword [rsi]
    const b = run('f20f38f04608', { gpr: { 0: a.gpr[0] }, mem });                       // crc32 eax, byte [rsi+8]
    expect(b.gpr[0] ^ 0xffffffffn).toBe(0xe3069283n);
  });
});

/**
 * Opt-in: random SSE instructions with edge-heavy operands and random MXCSR (rounding, DAZ, FTZ,
 * unmasked exceptions) run on this host CPU and on vmxray, compared state for state. Needs an
 * x86-64 Linux host with gcc (test/diff/native.ts); Intel-specific results (RCPPS tables, DPPS
 * NaN order) make it fail on other vendors. VMXRAY_SSE_FUZZ=<cases per instruction>.
 */
describe.skipIf(!process.env.VMXRAY_SSE_FUZZ || !nativeAvailable())('random SSE instructions agree with the host CPU', () => {
  const N = Number(process.env.VMXRAY_SSE_FUZZ) || 100;
  let seed = 0x5eed5eedn;
  const rnd = () => { seed = (seed * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n); return Number(seed >> 33n) / 2 ** 31; };
  const ri = (n: number) => Math.floor(rnd() * n);
  const r32 = () => (ri(65536) * 65536 + ri(65536)) >>> 0;
  const E32 = [0, 0x80000000, 1, 0x80000001, 0x007fffff, 0x807fffff, 0x00800000, 0x80800000, 0x7f7fffff, 0xff7fffff, 0x7f800000,
    0xff800000, 0x7fc00000, 0xffc00000, 0x7fc00001, 0x7f800001, 0x3f800000, 0xbf800000, 0x4b000000, 0x4f000000, 0xcf000000, 0x5f000000, 0x33800000];
  const E64 = [0, 0x80000000, 0x7ff00000, 0xfff00000, 0x7ff80000, 0x7ff00001, 0x3ff00000, 0xbff00000, 0x00100000, 0x000fffff, 0x800fffff,
    0x7fefffff, 0x41e00000, 0xc1e00000, 0x43e00000, 0xc3e00000, 0x3ca00000, 0x43300000];
  const f32v = () => { const k = ri(10); return k < 4 ? E32[ri(E32.length)] >>> 0 : k < 6 ? (E32[ri(E32.length)] + ri(5) - 2) >>> 0 : k < 8 ? ((ri(2) << 31) | ((100 + ri(55)) << 23) | ri(1 << 23)) >>> 0 : r32(); };
  const f64v = () => { const k = ri(10); return k < 4 ? [ri(3) ? ri(2) : r32(), (E64[ri(E64.length)] | ri(4)) >>> 0] : k < 8 ? [r32(), ((ri(2) << 31) | ((900 + ri(250)) << 20) | ri(1 << 20)) >>> 0] : [r32(), r32()]; };
  const vec = (lane: string): [bigint, bigint] => {
    const d: number[] = [];
    if (lane === 'f32') for (let i = 0; i < 4; i++) d.push(f32v());
    else if (lane === 'f64') for (let i = 0; i < 2; i++) d.push(...f64v());
    else for (let i = 0; i < 4; i++) d.push(r32());
    return [BigInt(d[0]) | (BigInt(d[1]) << 32n), BigInt(d[2]) | (BigInt(d[3]) << 32n)];
  };
  const mxcsr = () => {
    let m = 0x1f80 | (ri(4) << 13);
    if (ri(4) === 0) m |= DAZ;
    if (ri(4) === 0) m |= FTZ;
    if (ri(3) === 0) m = (m & ~0x1f80) | (ri(64) << 7);
    return m;
  };
  const specs: [string, string, string][] = [];   // name, bytes (reg xmm0, rm xmm1), lane
  for (const [b, n] of [['58', 'add'], ['59', 'mul'], ['5c', 'sub'], ['5d', 'min'], ['5e', 'div'], ['5f', 'max'], ['51', 'sqrt']]) {
    specs.push([n + 'ps', `0f${b}c1`, 'f32'], [n + 'pd', `660f${b}c1`, 'f64'], [n + 'ss', `f30f${b}c1`, 'f32'], [n + 'sd', `f20f${b}c1`, 'f64']);
  }
  specs.push(['cmpps', '0fc2c1', 'f32'], ['cmpsd', 'f20fc2c1', 'f64'], ['comiss', '0f2fc1', 'f32'], ['ucomisd', '660f2ec1', 'f64'],
    ['haddps', 'f20f7cc1', 'f32'], ['addsubpd', '660fd0c1', 'f64'], ['dpps', '660f3a40c1', 'f32'], ['dppd', '660f3a41c1', 'f64'],
    ['roundps', '660f3a08c1', 'f32'], ['roundsd', '660f3a0bc1', 'f64'], ['rcpps', '0f53c1', 'f32'], ['rsqrtps', '0f52c1', 'f32'],
    ['cvtps2pd', '0f5ac1', 'f32'], ['cvtpd2ps', '660f5ac1', 'f64'], ['cvtdq2ps', '0f5bc1', 'int'], ['cvtps2dq', '660f5bc1', 'f32'],
    ['cvttpd2dq', '660fe6c1', 'f64'], ['cvtsd2si', 'f2480f2dc1', 'f64'], ['cvttss2si', 'f30f2cc1', 'f32'], ['cvtsi2ss', 'f3480f2ac1', 'int'],
    ['pcmpistri', '660f3a63c1', 'int'], ['pcmpestrm', '660f3a60c1', 'int']);
  const IMM = new Set(['cmpps', 'cmpsd', 'dpps', 'dppd', 'roundps', 'roundsd', 'pcmpistri', 'pcmpestrm']);
  it(`${specs.length} instructions × ${N} cases`, () => {
    const cases: { name: string; code: Uint8Array; state: ReturnType<typeof initState> }[] = [];
    function initState(lane: string) {
      const xmm: [bigint, bigint][] = Array.from({ length: 16 }, () => vec(lane));
      const gpr = Array.from({ length: 16 }, () => BigInt(r32()) << 32n | BigInt(r32()));
      gpr[4] = BigInt(DATA_ADDR + 0x1800);
      gpr[0] = BigInt(ri(40));
      gpr[2] = BigInt(ri(40));
      return { gpr, rip: BigInt(CODE_ADDR), rflags: 0x202n, xmm, mxcsr: mxcsr(), mem: new Uint8Array(DATA_SIZE) };
    }
    for (const [name, bytes, lane] of specs) {
      for (let k = 0; k < N; k++) {
        const code = Buffer.from(bytes + (IMM.has(name) ? ri(256).toString(16).padStart(2, '0') : ''), 'hex');
        cases.push({ name, code: Uint8Array.from(code), state: initState(lane) });
      }
    }
    const host = runNative(cases.map(c => ({ code: c.code, state: c.state })));
    const bad: string[] = [];
    cases.forEach((c, i) => {
      const d = compareResults(host[i], runSnippet(c.code, c.state));
      if (d.length && bad.length < 10) bad.push(`${c.name} ${Buffer.from(c.code).toString('hex')} mxcsr ${c.state.mxcsr.toString(16)}: ${d.join('; ')}`);
    });
    expect(bad).toEqual([]);
  });
});
