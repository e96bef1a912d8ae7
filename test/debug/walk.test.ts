import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/machine/index.js';
import { Debugger, debugWalk } from '../../src/debug/index.js';

/** The debugger's page walk (SDM Vol. 3A, "Paging"): every level, no side effects, the CPU's PDPTE registers in PAE mode. */
function mem(): { m: Machine; w32: (pa: number, v: number) => void; r32: (pa: number) => number } {
  const m = new Machine({ memory: 8 << 20 });
  return { m, w32: (pa, v) => m.bus.write(pa, 4, v), r32: pa => m.bus.read(pa, 4) };
}

describe('debugger page walk', () => {
  it('32-bit paging: PDE and PTE levels, the physical address, and no accessed bit set', () => {
    const { w32, r32 } = mem();
    w32(0x10000 + 0x300 * 4, 0x11000 | 0x3);       // PDE for 0xC0000000: P RW, A clear
    w32(0x11000 + 0x5 * 4, 0x222000 | 0x5);        // PTE for 0xC0005000: P US, read-only
    const w = debugWalk(r32, { cr0: 0x80000001, cr3: 0x10000, cr4: 0, efer: 0 }, 0xc0005123);
    expect(w.mode).toBe('32-bit');
    expect(w.levels.map(l => l.name)).toEqual(['PDE', 'PTE']);
    expect(w.pa).toBe(0x222123);
    expect(w.writable).toBe(false);
    expect(r32(0x10000 + 0x300 * 4) & 0x20).toBe(0); // a debugger walk writes no A bit
  });
  it('4-level paging: a 2 MiB page at a high-half address; a not-present PML4E is named', () => {
    const { w32, r32 } = mem();
    // 0xffffffff80200000: PML4 index 511, PDPT index 510, PD index 1
    w32(0x20000 + 511 * 8, 0x21000 | 3);
    w32(0x21000 + 510 * 8, 0x22000 | 3);
    w32(0x22000 + 1 * 8, 0x400000 | 0x83);          // 2 MiB page at 4 MiB
    const regs = { cr0: 0x80000001, cr3: 0x20000, cr4: 0x20, efer: 0x500 };
    const w = debugWalk(r32, regs, -(2 ** 31) + 0x200000 + 0x1234); // 0xffffffff80201234 in the CPU's signed form
    expect(w.levels.map(l => l.name)).toEqual(['PML4E', 'PDPTE', 'PDE']);
    expect(w.pageSize).toBe(2 ** 21);
    expect(w.pa).toBe(0x401234);
    w32(0x22000 + 2 * 8, 0x500000 | 0x83);          // bit 20 set in a 2 MiB PDE: reserved (the CPU raises #PF with RSVD)
    expect(debugWalk(r32, regs, -(2 ** 31) + 0x400000).why).toMatch(/reserved bits 20:13/);
    const miss = debugWalk(r32, regs, 0x1000);
    expect(miss.pa).toBeNull();
    expect(miss.why).toBe('PML4E not present');
  });
  it('PAE: the walk uses the PDPTE registers the CPU loaded at MOV CR3, not what memory holds now', () => {
    const { m, w32 } = mem();
    w32(0x30000, 0x31000 | 1);                      // PDPTE 0 → PD at 0x31000
    w32(0x31000 + 2 * 8, 0x600000 | 0x83);          // PDE 2: 2 MiB page at 6 MiB for 0x00400000
    const dbg = new Debugger(m);
    const c = dbg.root;
    // protected mode with PAE paging, as MOV CR4/CR3/CR0 would set it (the registers load at these writes)
    expect(c.writeRegister('cr0', 0x11n)).toBeNull();
    expect(c.writeRegister('cr4', 0x20n)).toBeNull();
    expect(c.writeRegister('cr3', 0x30000n)).toBeNull();
    expect(c.writeRegister('cr0', 0x80000011n)).toBeNull();
    w32(0x30000, 0);                                // memory changes; the register keeps the old PDPTE
    const w = c.walk(0x400010n);
    expect(w.levels[0].name).toBe('PDPTE register');
    expect(w.pa).toBe(0x600010);
    expect(m.cpu.pdpte[8]).toBe(0x30000);
  });
});
