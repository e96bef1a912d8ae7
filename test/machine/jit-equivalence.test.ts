import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine } from '../../src/machine/index.js';

/**
 * The block compiler (src/cpu/jit.ts) must not change behaviour: the benchmark kernels'
 * workloads (register loop, memcpy through [base+disp] loads/stores, rep movsq, recursive calls)
 * print the same checksum after the same number of instructions with the compiler on and off.
 */
const BENCH = join(dirname(fileURLToPath(import.meta.url)), '../../bench/kernels/bin/bench.elf');

function run(workload: string, iterations: number, jit: boolean): { log: string; icount: number } {
  const m = new Machine({ memory: 16 * 1024 * 1024 });
  m.exec.jit = jit;
  m.boot(readFileSync(BENCH), { cmdline: `${workload} ${iterations}` });
  const r = m.runFor(50_000_000);
  expect(r.reason).toBe('exit');
  return { log: m.debugLog, icount: m.clock.icount };
}

describe('block compiler equivalence', () => {
  for (const [w, n] of [['hot', 20000], ['mem', 40], ['rep', 40], ['call', 20]] as const) {
    it(`${w}: same checksum and instruction count with and without compilation`, () => {
      const a = run(w, n, true), b = run(w, n, false);
      expect(a.log).toMatch(/VXB [0-9a-f]+/i);
      expect(a.log).toBe(b.log);
      expect(a.icount).toBe(b.icount);
    });
  }
});
