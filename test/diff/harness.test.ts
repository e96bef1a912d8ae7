/**
 * Checks the native harness (test/diff/native/harness.c) itself on cases whose answers follow
 * directly from the SDM, and that the committed fixtures still match this host. Skipped where
 * the harness cannot be built (no gcc, not Linux x86-64).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { SnippetState } from '../../src/cpu/snippet-types.js';
import {
  CODE_ADDR, DATA_ADDR, DATA_SIZE, big, compareResults, expectedResult, hexToBytes, initialState, type Fixture,
} from './fixture.js';
import { nativeAvailable, runNative, type NativeCase, type NativeResult } from './native.js';

const CF = 0x1n, PF = 0x4n, AF = 0x10n, ZF = 0x40n, SF = 0x80n, DF = 0x400n, OF = 0x800n;
const ARITH = CF | PF | AF | ZF | SF | OF;
const RAX = 0, RCX = 1, RBX = 3, RSP = 4, RSI = 6, RDI = 7;

function state(gpr: Partial<Record<number, bigint>> = {}, more: Partial<SnippetState> = {}): SnippetState {
  return {
    gpr: Array.from({ length: 16 }, (_, i) => gpr[i] ?? 0x1111111111111111n * BigInt(i)),
    rip: BigInt(CODE_ADDR),
    rflags: 0x202n,
    xmm: Array.from({ length: 16 }, () => [0n, 0n] as [bigint, bigint]),
    mxcsr: 0x1f80,
    mem: new Uint8Array(DATA_SIZE),
    ...more,
  };
}

function run1(bytes: number[], s: SnippetState, rep = false): NativeResult {
  const c: NativeCase = { code: Uint8Array.from(bytes), state: s, rep };
  return runNative([c])[0];
}

const arith = (r: { rflags: bigint }) => r.rflags & ARITH;

describe.skipIf(!nativeAvailable())('native harness', () => {
  it('add eax, ebx: 0x80000000 + 0x80000000 = 0 with CF, OF, ZF, PF; upper half of RAX cleared', () => {
    const r = run1([0x01, 0xd8], state({ [RAX]: 0xdead_beef_8000_0000n, [RBX]: 0x8000_0000n }));
    expect(r.exception).toBeUndefined();
    expect(r.gpr[RAX]).toBe(0n);
    expect(r.rip).toBe(BigInt(CODE_ADDR + 2));
    expect(arith(r)).toBe(CF | OF | ZF | PF);
    expect(r.rflags & 0x202n).toBe(0x202n);
  });

  it('add eax, ebx: 0x7fffffff + 1 = 0x80000000 with OF, SF, AF and no CF', () => {
    const r = run1([0x01, 0xd8], state({ [RAX]: 0x7fff_ffffn, [RBX]: 1n }));
    expect(r.gpr[RAX]).toBe(0x8000_0000n);
    expect(arith(r)).toBe(OF | SF | AF | PF);
  });

  it('shl eax, 1 with 0x80000000 sets CF and OF (AF is undefined)', () => {
    const r = run1([0xd1, 0xe0], state({ [RAX]: 0x8000_0000n }));
    expect(r.gpr[RAX]).toBe(0n);
    expect(arith(r) & ~AF).toBe(CF | OF | ZF | PF);
  });

  it('sub rax, rbx: 0 - 1 borrows: CF, SF, AF, PF', () => {
    const r = run1([0x48, 0x29, 0xd8], state({ [RAX]: 0n, [RBX]: 1n }));
    expect(r.gpr[RAX]).toBe(0xffff_ffff_ffff_ffffn);
    expect(arith(r)).toBe(CF | SF | AF | PF);
  });

  it('div ecx by zero raises #DE at the instruction, state unchanged', () => {
    const s = state({ [RCX]: 0n });
    const r = run1([0xf7, 0xf1], s);
    expect(r.exception).toBe(0);
    expect(r.rip).toBe(BigInt(CODE_ADDR));
    expect(r.gpr).toEqual(s.gpr);
  });

  it('ud2 is #UD, hlt is #GP in user mode, int3 is #BP with RIP after it', () => {
    expect(run1([0x0f, 0x0b], state()).exception).toBe(6);
    expect(run1([0xf4], state()).exception).toBe(13);
    const bp = run1([0xcc], state());
    expect(bp.exception).toBe(3);
    expect(bp.rip).toBe(BigInt(CODE_ADDR + 1));
  });

  it('a load from an unmapped page is #PF with CR2 = the address', () => {
    const r = run1([0x48, 0x8b, 0x03], state({ [RBX]: 0x1000n }));
    expect(r.exception).toBe(14);
    expect(r.faultAddr).toBe(0x1000n);
    expect(r.errorCode & 4n).toBe(4n); // user-mode access
  });

  it('push rax stores at RSP-8 inside the data window', () => {
    const rsp = BigInt(DATA_ADDR + 0x1000);
    const r = run1([0x50], state({ [RAX]: 0x0123_4567_89ab_cdefn, [RSP]: rsp }));
    expect(r.gpr[RSP]).toBe(rsp - 8n);
    expect(Buffer.from(r.mem.subarray(0xff8, 0x1000)).readBigUInt64LE()).toBe(0x0123_4567_89ab_cdefn);
  });

  it('rep movsb runs to completion (the harness re-enters after each single-step trap)', () => {
    const mem = new Uint8Array(DATA_SIZE);
    mem.set([1, 2, 3, 4, 5], 0x100);
    const s = state({ [RCX]: 5n, [RSI]: BigInt(DATA_ADDR + 0x100), [RDI]: BigInt(DATA_ADDR + 0x200) }, { mem });
    const r = run1([0xf3, 0xa4], s, true);
    expect(r.exception).toBeUndefined();
    expect(r.steps).toBe(5);
    expect(r.gpr[RCX]).toBe(0n);
    expect(r.rip).toBe(BigInt(CODE_ADDR + 2));
    expect([...r.mem.subarray(0x200, 0x206)]).toEqual([1, 2, 3, 4, 5, 0]);
    // without re-entry the trap comes after the first iteration
    const once = run1([0xf3, 0xa4], s, false);
    expect(once.gpr[RCX]).toBe(4n);
    expect(once.rip).toBe(BigInt(CODE_ADDR));
  });

  it('std sets DF, and DF is reported; TF is never reported', () => {
    const r = run1([0xfd], state());
    expect(r.rflags & DF).toBe(DF);
    expect(r.rflags & 0x100n).toBe(0n);
  });

  it('addps xmm0, xmm1 adds four singles; 1.0/0.0 sets ZE in MXCSR when masked', () => {
    const one = 0x3f800000n, two = 0x40000000n, three = 0x40400000n;
    const xmm = Array.from({ length: 16 }, () => [0n, 0n] as [bigint, bigint]);
    xmm[0] = [(one << 32n) | one, (one << 32n) | one];
    xmm[1] = [(two << 32n) | two, (two << 32n) | two];
    const r = run1([0x0f, 0x58, 0xc1], state({}, { xmm }));
    expect(r.xmm[0]).toEqual([(three << 32n) | three, (three << 32n) | three]);
    expect(r.mxcsr).toBe(0x1f80);
    const x2 = xmm.map((v) => [v[0], v[1]] as [bigint, bigint]);
    x2[1] = [0n, 0n];
    const d = run1([0xf3, 0x0f, 0x5e, 0xc1], state({}, { xmm: x2 })); // divss xmm0, xmm1
    expect(d.xmm[0][0] & 0xffff_ffffn).toBe(0x7f800000n); // +inf
    expect(d.mxcsr).toBe(0x1f80 | 0x4);
  });

  it('movaps from a misaligned address is #GP', () => {
    const r = run1([0x0f, 0x28, 0x06], state({ [RSI]: BigInt(DATA_ADDR + 8) }));
    expect(r.exception).toBe(13);
  });
});

// The committed fixtures were recorded on an Intel CPU; on another Intel host they must still
// hold (the undefined flags are masked). This guards the harness and the fixture format.
const intel = (() => {
  try {
    return /GenuineIntel/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
})();
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

describe.skipIf(!nativeAvailable() || !intel || !existsSync(FIXTURES))('fixtures replay on this host', () => {
  for (const file of existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((n) => n.endsWith('.json')).sort() : []) {
    it(file, () => {
      const f: Fixture = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8'));
      const results = runNative(f.cases.map((c) => ({ code: hexToBytes(c.bytes), state: initialState(f, c), rep: c.rep })));
      const bad: string[] = [];
      f.cases.forEach((c, i) => {
        const d = compareResults(expectedResult(f, c), results[i], c.flagsMask ? big(c.flagsMask) : 0n, c.ignore ?? []);
        if (d.length) bad.push(`${c.name} [${c.asm}] ${c.bytes}\n    ${d.join('\n    ')}`);
      });
      expect(bad.slice(0, 10).join('\n'), `${bad.length} cases differ`).toBe('');
    });
  }
});
