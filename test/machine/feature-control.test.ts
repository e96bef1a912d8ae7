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

describe('VMX reporting configuration', () => {
  it('exists from power-on so observers subscribe before VMXON, and keeps vmx.explain / vmx.log after boot', () => {
    const lines: string[] = [];
    const m = new Machine({ memory: 1 << 20, vmx: { explain: 'all', log: l => lines.push(l) } });
    expect(m.cpu.vmx).not.toBeNull();
    expect(m.cpu.vmx!.explainAll).toBe(true);
    expect(m.cpu.vmx!.on).toBe(false); // not in VMX operation until VMXON
    m.cpu.vmx!.log!('x');
    expect(lines).toEqual(['x']);
  });
});
