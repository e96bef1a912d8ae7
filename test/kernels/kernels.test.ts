import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine } from '../../src/machine/index.js';

/**
 * System behaviour checked by our multiboot test kernels (sources in test/kernels/*, prebuilt
 * images in test/kernels/bin, rebuilt by `make -C test/kernels`; each also passes under QEMU,
 * see run-qemu.sh). A kernel prints `ok NAME` / `not ok NAME: details` to port 0xE9, then
 * `done P/T`, and writes 0 (all passed) or 1 to the isa-debug-exit port.
 */
const BIN = join(dirname(fileURLToPath(import.meta.url)), 'bin');
const kernels = existsSync(BIN) ? readdirSync(BIN).filter(f => f.endsWith('.elf')).sort() : [];
const MAX = 200_000_000;

function boot(file: string): { m: Machine; r: ReturnType<Machine['runFor']> } {
  const m = new Machine({ memory: 32 * 1024 * 1024 });
  m.boot(readFileSync(join(BIN, file)));
  const r = m.runFor(MAX);
  return { m, r };
}

describe('test kernels', () => {
  it('are present', () => { expect(kernels.length).toBeGreaterThan(3); });
  for (const k of kernels.filter(f => f !== 'triplefault.elf')) {
    it(`${k}: every check passes and the kernel exits with 0`, () => {
      const { m, r } = boot(k);
      const log = m.debugLog;
      const failed = log.split('\n').filter(l => l.startsWith('not ok'));
      const done = /done (\d+)\/(\d+)/.exec(log);
      expect(failed, `${k} failures:\n${failed.join('\n')}\n--- stop: ${r.message}\n--- log:\n${log}`).toEqual([]);
      expect(done, `${k} did not finish: ${r.message}\n--- log:\n${log}`).not.toBeNull();
      expect(done![1]).toBe(done![2]);
      expect(Number(done![2])).toBeGreaterThan(0);
      expect(r.reason).toBe('exit');
      expect(r.exitCode).toBe(1); // value 0 → (0 << 1) | 1
    });
  }
  if (kernels.includes('triplefault.elf')) {
    it('triplefault.elf: an empty IDT turns ud2 into a triple fault, which shuts the machine down', () => {
      const { m, r } = boot('triplefault.elf');
      expect(m.debugLog).toContain('about to triple fault');
      expect(r.reason).toBe('triple-fault');
    });
  }
});
