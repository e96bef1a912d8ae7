import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/machine/index.js';
import { HANDLERS } from '../../src/cpu/ops/index.js';
import { decodeBytes, DEC64 } from '../../src/cpu/decoder.js';
import { CS, SS } from '../../src/cpu/regs.js';

/** CR8 is TPR[7:4] of the local APIC (SDM Vol. 3A, "Task Priority in IA-32e Mode"). */
describe('CR8 and the local APIC TPR', () => {
  it('a MOV to CR8 sets TPR[7:4], and a TPR write through the APIC shows in CR8', () => {
    const m = new Machine({ memory: 2 * 1024 * 1024 });
    const cpu = m.cpu;
    cpu.cr0 = 0x80000011; cpu.cr4 = 0x20; cpu.efer = 0x500; cpu.segAr[CS] = 0xa09b; cpu.segAr[SS] = 0xc093; cpu.updateMode();
    const run = (hex: string) => { const d = decodeBytes(Buffer.from(hex, 'hex'), DEC64).insn!; d.fn(cpu, d); };
    cpu.lo[0] = 0x9;
    run('440f22c0');                      // mov cr8, rax
    expect(m.lapic.tpr).toBe(0x90);
    m.lapic.tpr = 0x3c;                   // e.g. an MMIO write to the TPR
    run('440f20c3');                      // mov rbx, cr8
    expect(cpu.lo[3]).toBe(0x3);
    expect(HANDLERS.mov_to_cr).toBeDefined();
  });
});
