/**
 * The differential-test fixture format (test/diff/fixtures/<family>.json) and the code that
 * turns a fixture case back into full SnippetStates. Shared by generate.ts (writer),
 * diff.test.ts and harness.test.ts (readers).
 *
 * All numbers that can exceed 2^53 are lowercase hex strings without "0x". A 128-bit xmm value
 * is one hex string (the high qword's digits first, as one would write the 128-bit number).
 *
 * ```jsonc
 * {
 *   "family": "alu",
 *   "description": "...",
 *   "host": "Intel(R) Xeon(R) Processor",      // where it was recorded
 *   "base": {                                   // the state every case starts from ...
 *     "gpr": ["…16 hex…"], "rflags": "202", "xmm": ["…16 hex128…"], "mxcsr": "1f80"
 *   },                                          // ... the data window starts all zero
 *   "cases": [{
 *     "name": "add Ev,Gv r,r 32 edge#3",        // mnemonic, form, operand size, value class
 *     "asm": "add eax,ebx",                     // iced-x86 disassembly (informational)
 *     "bytes": "01d8",
 *     "init":   { "gpr": {"rax": "…"}, "rflags": "…", "xmm": {"xmm1": "…"}, "mxcsr": "…",
 *                 "mem": [[offset, "hex bytes"], …] },        // overrides of base; all optional
 *     "expect": { "rip": "…", "rflags": "…",                  // always present
 *                 "gpr": {…}, "xmm": {…}, "mxcsr": "…",       // only what differs from init
 *                 "mem": [[offset, "hex bytes"], …],          // runs that differ from init mem
 *                 "exception": 13,                            // vector, when it faulted
 *                 "errorCode": "0", "cr2": "…" },             // informational, not compared
 *     "flagsMask": "8d4",                       // RFLAGS bits the SDM leaves undefined here
 *     "ignore": ["rax"]                         // registers ("rax", "xmm3", "mxcsr") or "mem" whose
 *                                               // value the SDM leaves undefined: not compared
 *   }]
 * }
 * ```
 * `mem` offsets are relative to DATA_ADDR.
 */
import { CODE_ADDR, DATA_ADDR, DATA_SIZE, type SnippetResult, type SnippetState } from '../../src/cpu/snippet-types.js';

export { CODE_ADDR, DATA_ADDR, DATA_SIZE };

export const GPR_NAMES = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
] as const;
export type GprName = (typeof GPR_NAMES)[number];

export const FLAG_BITS: [string, number][] = [
  ['CF', 0x1], ['PF', 0x4], ['AF', 0x10], ['ZF', 0x40], ['SF', 0x80], ['TF', 0x100],
  ['IF', 0x200], ['DF', 0x400], ['OF', 0x800], ['AC', 0x40000],
];

export interface FixtureBase {
  gpr: string[];
  rflags: string;
  xmm: string[];
  mxcsr: string;
}

export interface FixtureInit {
  gpr?: Record<string, string>;
  rflags?: string;
  xmm?: Record<string, string>;
  mxcsr?: string;
  mem?: [number, string][];
}

export interface FixtureExpect {
  rip: string;
  rflags: string;
  gpr?: Record<string, string>;
  xmm?: Record<string, string>;
  mxcsr?: string;
  mem?: [number, string][];
  exception?: number;
  errorCode?: string;
  cr2?: string;
}

export interface FixtureCase {
  name: string;
  asm: string;
  bytes: string;
  init: FixtureInit;
  expect: FixtureExpect;
  flagsMask?: string;
  ignore?: string[];
  /** The harness re-entered a REP string instruction until it completed. */
  rep?: boolean;
}

export interface Fixture {
  family: string;
  description: string;
  host: string;
  base: FixtureBase;
  cases: FixtureCase[];
}

// ---------------------------------------------------------------------------------------------
// hex helpers

export const hex = (v: bigint | number): string => v.toString(16);
export const big = (h: string): bigint => BigInt('0x' + h);

export function bytesToHex(b: Uint8Array | number[]): string {
  let s = '';
  for (const x of b) s += (x & 0xff).toString(16).padStart(2, '0');
  return s;
}

export function hexToBytes(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
  return out;
}

const M64 = (1n << 64n) - 1n;
export const xmmToHex = ([lo, hi]: [bigint, bigint]): string => ((hi << 64n) | lo).toString(16);
export function hexToXmm(h: string): [bigint, bigint] {
  const v = big(h);
  return [v & M64, (v >> 64n) & M64];
}

export const gprIndex = (name: string): number => {
  const i = (GPR_NAMES as readonly string[]).indexOf(name);
  if (i < 0) throw new Error(`unknown register ${name}`);
  return i;
};
export const xmmIndex = (name: string): number => {
  const m = /^xmm(\d+)$/.exec(name);
  if (!m) throw new Error(`unknown xmm register ${name}`);
  return Number(m[1]);
};

// ---------------------------------------------------------------------------------------------
// reconstruction

export function baseState(base: FixtureBase): SnippetState {
  return {
    gpr: base.gpr.map(big),
    rip: BigInt(CODE_ADDR),
    rflags: big(base.rflags),
    xmm: base.xmm.map(hexToXmm),
    mxcsr: Number(big(base.mxcsr)),
    mem: new Uint8Array(DATA_SIZE),
  };
}

function applyMem(mem: Uint8Array, patches: [number, string][] | undefined): void {
  for (const [off, h] of patches ?? []) mem.set(hexToBytes(h), off);
}

/** The full initial state of a case. */
export function initialState(f: Fixture, c: FixtureCase): SnippetState {
  const s = baseState(f.base);
  for (const [k, v] of Object.entries(c.init.gpr ?? {})) s.gpr[gprIndex(k)] = big(v);
  if (c.init.rflags !== undefined) s.rflags = big(c.init.rflags);
  for (const [k, v] of Object.entries(c.init.xmm ?? {})) s.xmm[xmmIndex(k)] = hexToXmm(v);
  if (c.init.mxcsr !== undefined) s.mxcsr = Number(big(c.init.mxcsr));
  applyMem(s.mem, c.init.mem);
  return s;
}

/** The full expected result of a case. */
export function expectedResult(f: Fixture, c: FixtureCase): SnippetResult {
  const init = initialState(f, c);
  const r: SnippetResult = {
    gpr: init.gpr.slice(),
    rip: big(c.expect.rip),
    rflags: big(c.expect.rflags),
    xmm: init.xmm.map((x) => [x[0], x[1]] as [bigint, bigint]),
    mxcsr: c.expect.mxcsr !== undefined ? Number(big(c.expect.mxcsr)) : init.mxcsr,
    mem: init.mem.slice(),
  };
  for (const [k, v] of Object.entries(c.expect.gpr ?? {})) r.gpr[gprIndex(k)] = big(v);
  for (const [k, v] of Object.entries(c.expect.xmm ?? {})) r.xmm[xmmIndex(k)] = hexToXmm(v);
  applyMem(r.mem, c.expect.mem);
  if (c.expect.exception !== undefined) r.exception = c.expect.exception;
  return r;
}

// ---------------------------------------------------------------------------------------------
// comparison

export function flagNames(bits: bigint): string {
  const names = FLAG_BITS.filter(([, b]) => (bits & BigInt(b)) !== 0n).map(([n]) => n);
  return names.join(' ') || '-';
}

const h64 = (v: bigint) => '0x' + v.toString(16).padStart(16, '0');

/**
 * Compares `actual` with `expected`; returns one line per difference (empty when equal).
 * `flagsMask` bits are ignored on both sides; registers named in `ignore` are skipped.
 */
export function compareResults(
  expected: SnippetResult,
  actual: SnippetResult,
  flagsMask = 0n,
  ignore: readonly string[] = [],
): string[] {
  const diffs: string[] = [];
  const ex = expected.exception, ax = actual.exception;
  if (ex !== ax) diffs.push(`exception: expected ${ex ?? 'none'}, got ${ax ?? 'none'}`);
  for (let i = 0; i < 16; i++) {
    if (ignore.includes(GPR_NAMES[i])) continue;
    const e = expected.gpr[i] ?? 0n, a = actual.gpr[i] ?? 0n;
    if (e !== a) diffs.push(`${GPR_NAMES[i]}: expected ${h64(e)}, got ${h64(a)}`);
  }
  if (expected.rip !== actual.rip) diffs.push(`rip: expected ${h64(expected.rip)}, got ${h64(actual.rip)}`);
  const em = expected.rflags & ~flagsMask, am = actual.rflags & ~flagsMask;
  if (em !== am) {
    diffs.push(
      `rflags: expected 0x${expected.rflags.toString(16)}, got 0x${actual.rflags.toString(16)}` +
        ` (differing: ${flagNames(em ^ am)}; undefined/masked: ${flagNames(flagsMask)})`,
    );
  }
  for (let i = 0; i < 16; i++) {
    if (ignore.includes(`xmm${i}`)) continue;
    const e = expected.xmm[i] ?? [0n, 0n], a = actual.xmm[i] ?? [0n, 0n];
    if (e[0] !== a[0] || e[1] !== a[1]) {
      diffs.push(
        `xmm${i}: expected 0x${xmmToHex(e).padStart(32, '0')}, got 0x${xmmToHex(a).padStart(32, '0')}`,
      );
    }
  }
  if (!ignore.includes('mxcsr') && expected.mxcsr !== actual.mxcsr) {
    diffs.push(`mxcsr: expected 0x${expected.mxcsr.toString(16)}, got 0x${actual.mxcsr.toString(16)}`);
  }
  if (ignore.includes('mem')) {
    // the data window is not compared for this case
  } else if (!actual.mem || actual.mem.length !== DATA_SIZE) {
    diffs.push(`mem: result has ${actual.mem?.length} bytes, expected ${DATA_SIZE}`);
  } else {
    let shown = 0, total = 0;
    for (let i = 0; i < DATA_SIZE; i++) {
      if (expected.mem[i] !== actual.mem[i]) {
        total++;
        if (shown < 8) {
          shown++;
          diffs.push(
            `mem[0x${(DATA_ADDR + i).toString(16)}]: expected 0x${expected.mem[i].toString(16).padStart(2, '0')},` +
              ` got 0x${actual.mem[i].toString(16).padStart(2, '0')}`,
          );
        }
      }
    }
    if (total > shown) diffs.push(`mem: ${total - shown} more differing bytes`);
  }
  return diffs;
}

/** Runs of bytes where `after` differs from `before` (gaps shorter than 4 bytes are merged). */
export function memDiff(before: Uint8Array, after: Uint8Array): [number, string][] {
  const runs: [number, string][] = [];
  let i = 0;
  while (i < after.length) {
    if (before[i] === after[i]) { i++; continue; }
    let end = i + 1, gap = 0;
    for (let j = i + 1; j < after.length; j++) {
      if (before[j] !== after[j]) { end = j + 1; gap = 0; } else if (++gap >= 4) break;
    }
    runs.push([i, bytesToHex(after.subarray(i, end))]);
    i = end;
  }
  return runs;
}
