/**
 * Builds and drives test/diff/native/harness (see harness.c for the record layout): runs
 * instructions on the host CPU and returns SnippetResults.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CODE_ADDR, DATA_SIZE, type SnippetResult, type SnippetState } from '../../src/cpu/snippet-types.js';

const here = dirname(fileURLToPath(import.meta.url));
export const HARNESS_SRC = join(here, 'native', 'harness.c');
export const HARNESS_BIN = join(here, 'native', 'harness');

const IN_SIZE = 8616;
const OUT_SIZE = 8632;
const IN_MAGIC = 0x4e495856;
const OUT_MAGIC = 0x554f5856;
const SIGTRAP = 5;

export interface NativeCase {
  code: Uint8Array;
  state: SnippetState;
  /** Re-enter until a REP string instruction completes (see harness.c). */
  rep?: boolean;
}

export interface NativeResult extends SnippetResult {
  trapno: number;
  signo: number;
  steps: number;
  errorCode: bigint;
  faultAddr: bigint;
}

/** Whether this machine can build and run the harness. */
export function nativeAvailable(): boolean {
  if (process.platform !== 'linux' || process.arch !== 'x64') return false;
  if (existsSync(HARNESS_BIN) && statSync(HARNESS_BIN).mtimeMs >= statSync(HARNESS_SRC).mtimeMs) return true;
  return spawnSync('gcc', ['--version']).status === 0;
}

/** Compiles the harness unless an up-to-date binary exists; returns its path. */
export function buildHarness(): string {
  if (existsSync(HARNESS_BIN) && statSync(HARNESS_BIN).mtimeMs >= statSync(HARNESS_SRC).mtimeMs) {
    return HARNESS_BIN;
  }
  const r = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', HARNESS_BIN, HARNESS_SRC], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the harness failed:\n${r.stderr}`);
  return HARNESS_BIN;
}

function encode(c: NativeCase, buf: Buffer, at: number): void {
  const s = c.state;
  if (c.code.length < 1 || c.code.length > 15) throw new Error(`instruction length ${c.code.length}`);
  if (s.mem.length !== DATA_SIZE) throw new Error('data window must be DATA_SIZE bytes');
  buf.writeUInt32LE(IN_MAGIC, at);
  buf.writeUInt32LE(c.rep ? 1 : 0, at + 4);
  buf.writeUInt32LE(c.code.length, at + 8);
  buf.writeUInt32LE(s.mxcsr >>> 0, at + 12);
  buf.set(c.code, at + 16);
  for (let i = 0; i < 16; i++) buf.writeBigUInt64LE(s.gpr[i], at + 32 + i * 8);
  buf.writeBigUInt64LE(s.rflags, at + 160);
  for (let i = 0; i < 16; i++) {
    buf.writeBigUInt64LE(s.xmm[i][0], at + 168 + i * 16);
    buf.writeBigUInt64LE(s.xmm[i][1], at + 176 + i * 16);
  }
  buf.set(s.mem, at + 424);
}

function decode(buf: Buffer, at: number): NativeResult {
  if (buf.readUInt32LE(at) !== OUT_MAGIC) throw new Error('bad harness output record');
  const trapno = buf.readInt32LE(at + 4);
  const signo = buf.readUInt32LE(at + 8);
  const steps = buf.readUInt32LE(at + 12);
  const gpr: bigint[] = [];
  for (let i = 0; i < 16; i++) gpr.push(buf.readBigUInt64LE(at + 16 + i * 8));
  const rip = buf.readBigUInt64LE(at + 144);
  const rflags = buf.readBigUInt64LE(at + 152);
  const errorCode = buf.readBigUInt64LE(at + 160);
  const faultAddr = buf.readBigUInt64LE(at + 168);
  const xmm: [bigint, bigint][] = [];
  for (let i = 0; i < 16; i++) xmm.push([buf.readBigUInt64LE(at + 176 + i * 16), buf.readBigUInt64LE(at + 184 + i * 16)]);
  const mxcsr = buf.readUInt32LE(at + 432);
  const mem = new Uint8Array(buf.subarray(at + 440, at + 440 + DATA_SIZE));
  const r: NativeResult = { gpr, rip, rflags, xmm, mxcsr, mem, trapno, signo, steps, errorCode, faultAddr };
  // The single-step trap (vector 1 delivered as SIGTRAP) means "completed without exception".
  if (!(trapno === 1 && signo === SIGTRAP)) r.exception = trapno;
  return r;
}

/** Runs the cases on the host CPU, in batches. */
export function runNative(cases: NativeCase[], batch = 2000): NativeResult[] {
  const bin = buildHarness();
  const out: NativeResult[] = [];
  for (let start = 0; start < cases.length; start += batch) {
    const part = cases.slice(start, start + batch);
    const input = Buffer.alloc(part.length * IN_SIZE);
    part.forEach((c, i) => {
      if (c.state.rip !== BigInt(CODE_ADDR)) throw new Error('cases must start at CODE_ADDR');
      encode(c, input, i * IN_SIZE);
    });
    const r = spawnSync(bin, [], { input, maxBuffer: part.length * OUT_SIZE + 1024 });
    if (r.status !== 0 || r.stdout.length !== part.length * OUT_SIZE) {
      throw new Error(
        `harness failed (status ${r.status}, signal ${r.signal}, ${r.stdout?.length} bytes): ${r.stderr?.toString()}`,
      );
    }
    for (let i = 0; i < part.length; i++) out.push(decode(r.stdout, i * OUT_SIZE));
  }
  return out;
}
