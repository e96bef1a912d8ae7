import { describe, it, expect } from 'vitest';
import { createMachine } from './helpers/machine.js';
import { getZF } from '../../src/cpu/flags.js';

/** ARPL (SDM Vol. 2, "ARPL—Adjust RPL Field of Segment Selector"): 32-bit protected mode only. */
describe('ARPL', () => {
  it('raises the destination RPL to the source RPL and sets ZF, else clears ZF', () => {
    const m = createMachine({ mode: 'prot32' });
    m.cpu.lo[0] = 0x0010; m.cpu.lo[3] = 0x0023;        // ax = 0x10 (RPL 0), bx = 0x23 (RPL 3)
    expect(m.exec1('63d8')).toBeUndefined();            // arpl ax, bx
    expect(m.cpu.lo[0] & 0xffff).toBe(0x0013);
    expect(getZF(m.cpu.lf)).toBe(true);
    expect(m.exec1('63d8')).toBeUndefined();            // already RPL 3: unchanged
    expect(m.cpu.lo[0] & 0xffff).toBe(0x0013);
    expect(getZF(m.cpu.lf)).toBe(false);
  });
  it('is MOVSXD in 64-bit mode', () => {
    const m = createMachine({ mode: 'long' });
    m.cpu.lo[3] = -5; m.cpu.hi[3] = 0;
    expect(m.exec1('4863c3')).toBeUndefined();          // movsxd rax, ebx
    expect([m.cpu.lo[0], m.cpu.hi[0]]).toEqual([-5, -1]);
  });
});
