import { describe, it, expect } from 'vitest';
import { createMachine, CODE, DATA, STACK_TOP } from './helpers/machine.js';

/**
 * DR0–DR3 under DR7 (SDM Vol. 3B, "Debug Registers", "Debug Exceptions"): an instruction
 * breakpoint is a fault (#DB before the instruction, RIP = the instruction); a data breakpoint
 * is a trap (#DB after the instruction that wrote, RIP = the next one); DR6 names the breakpoint.
 * The helper machine's exception stubs HLT with IF = 0, so `vector()` tells what was delivered.
 */
describe('hardware breakpoints', () => {
  it('an instruction breakpoint raises #DB before the instruction executes', () => {
    const m = createMachine({ mode: 'long' });
    const cpu = m.cpu;
    // mov eax, 1 ; mov eax, 2 ; hlt — breakpoint on the second instruction
    cpu.dr[0] = CODE + 5;
    cpu.dr[7] = 0x1;          // L0, R/W0 = 00 (execute), LEN0 = 00
    cpu.updateDebugRegs();
    m.run('b801000000 b802000000 f4');
    expect(m.vector()).toBe(1);
    expect(cpu.lo[0]).toBe(1);                 // the breakpointed instruction did not run
    expect(cpu.dr[6] & 0xf).toBe(1);           // B0
    // the pushed RIP is the instruction's own address (a fault)
    const rsp = cpu.hi[4] * 2 ** 32 + (cpu.lo[4] >>> 0);
    expect(m.bus.read32(rsp)).toBe(CODE + 5);
  });

  it('a data write breakpoint raises #DB after the writing instruction', () => {
    const m = createMachine({ mode: 'long' });
    const cpu = m.cpu;
    cpu.dr[1] = DATA + 8;
    cpu.dr[7] = (0x1 << 2) | (0x1 << 20) | (0x3 << 22); // L1, R/W1 = 01 (write), LEN1 = 11 (4 bytes)
    cpu.updateDebugRegs();
    // mov rbx, DATA ; mov dword [rbx+8], 7 ; mov eax, 3 ; hlt
    const code = `48bb${le64(DATA)} c7430807000000 b803000000 f4`;
    m.run(code);
    expect(m.vector()).toBe(1);
    expect(m.bus.read32(DATA + 8)).toBe(7);    // the write happened
    expect(cpu.lo[0]).not.toBe(3);             // the next instruction did not
    expect(cpu.dr[6] & 0xf).toBe(2);           // B1
    const rsp = cpu.hi[4] * 2 ** 32 + (cpu.lo[4] >>> 0);
    expect(m.bus.read32(rsp)).toBe(CODE + 10 + 7); // return RIP after the MOV (a trap)
    void STACK_TOP;
  });

  it('reads do not trigger a write breakpoint', () => {
    const m = createMachine({ mode: 'long' });
    const cpu = m.cpu;
    cpu.dr[0] = DATA;
    cpu.dr[7] = 0x1 | (0x1 << 16) | (0x3 << 18);
    cpu.updateDebugRegs();
    m.run(`48bb${le64(DATA)} 8b03 f4`);          // mov eax, [rbx] ; hlt
    expect(m.vector()).toBeUndefined();
  });
});

function le64(v: number): string {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b.toString('hex');
}

describe('MOV to DR7 arms breakpoints', () => {
  it('a breakpoint set by the guest itself fires', () => {
    const m = createMachine({ mode: 'long' });
    // mov rax, CODE+0x20 ; mov dr0, rax ; mov eax, 1 ; mov dr7, rax ; nop... ; at +0x20: mov eax, 5 ; hlt
    const code = Buffer.alloc(0x30, 0x90);
    Buffer.from(`48b8${le64(CODE + 0x20)}0f23c0b8010000000f23f8`, 'hex').copy(code, 0);
    Buffer.from('b805000000f4', 'hex').copy(code, 0x20);
    m.run(new Uint8Array(code));
    expect(m.vector()).toBe(1);
    expect(m.cpu.lo[0]).toBe(1); // stopped before `mov eax, 5`
  });
});
