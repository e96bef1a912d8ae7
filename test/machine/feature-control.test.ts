import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/machine/index.js';

// SDM Vol. 4, IA32_FEATURE_CONTROL (3AH): bit 0 lock, bit 2 "enable VMX outside SMX operation".
describe('IA32_FEATURE_CONTROL at power-on', () => {
  it('is locked with VMX outside SMX enabled by default, as firmware leaves it', () => {
    expect(new Machine({ memory: 1 << 20 }).cpu.msr.read(0x3a)).toEqual([0x5, 0]);
  });
  it('is 0 and writable with featureControl unlocked, so a hypervisor that forgets to set it can be tested', () => {
    const m = new Machine({ memory: 1 << 20, featureControl: 'unlocked' });
    expect(m.cpu.msr.read(0x3a)).toEqual([0, 0]);
    m.cpu.msr.write(0x3a, 5, 0);
    expect(m.cpu.msr.read(0x3a)).toEqual([5, 0]);
    expect(() => m.cpu.msr.write(0x3a, 1, 0)).toThrow(); // locked now: #GP
  });
});
