import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine } from '../../src/machine/index.js';
import { openDisk } from '../../src/disk/index.js';

/**
 * DESIGN.md #1 and #6: virtual time is the retired-instruction count and interrupts arrive at
 * exact counts, so the same inputs give the same run — with the block compiler on or off, and
 * with the run loop sliced differently.
 */
const EX = join(dirname(fileURLToPath(import.meta.url)), '../../examples');

function session(jit: boolean, slice: number): { log: string; icount: number; exit: number | undefined } {
  const m = new Machine({ memory: 32 * 1024 * 1024, disks: [openDisk(join(EX, 'minikernel/disk.img'))] });
  m.exec.jit = jit;
  m.boot(readFileSync(join(EX, 'minikernel/minikernel.elf')));
  let typed = 0;
  const script = ['ticks', 'write 4 determinism', 'read 4', 'uptime', 'exit 2'];
  while (!m.cpu.stop && m.clock.icount < 400_000_000) {
    // each command is typed at an exact instruction count (20 M apart), whatever the slice size
    const typeAt = (typed + 1) * 20_000_000;
    m.runFor(Math.min(slice, typeAt - m.clock.icount));
    if (m.clock.icount === typeAt && typed < script.length) m.kbc.typeText(script[typed++] + '\n');
  }
  return { log: m.debugLog, icount: m.clock.icount, exit: m.exitCode };
}

describe('deterministic execution', () => {
  it('the same session gives the same output at the same instruction count, compiled or interpreted, however sliced', () => {
    const a = session(true, 1_000_000);
    const b = session(false, 1_000_000);
    const c = session(true, 777_777);
    expect(a.exit).toBe(5);
    expect(a.log).toContain('text: determinism');
    expect(b.log).toBe(a.log);
    expect(b.icount).toBe(a.icount);
    expect(c.log).toBe(a.log);
    expect(c.icount).toBe(a.icount);
  });
});
