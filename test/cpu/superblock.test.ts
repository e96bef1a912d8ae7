import { describe, it, expect } from 'vitest';
import { createMachine, CODE } from './helpers/machine.js';

/**
 * A block follows a direct CALL/JMP into the same page (exec.ts buildBlock); execution must be
 * exactly as if it had stopped there: a fault in the callee reports the callee's RIP and the
 * return address is on the stack.
 */
describe('superblocks', () => {
  it('a fault after a followed CALL reports the right RIP and return address', () => {
    const m = createMachine({ mode: 'long' });
    // 0: mov eax,1 (5) ; 5: call +6 -> 0x10 (5) ; 10: hlt ; ... 0x10: mov ebx,2 (5) ; 0x15: ud2
    const code = Buffer.alloc(0x20, 0x90);
    Buffer.from('b801000000e806000000f4', 'hex').copy(code, 0);
    Buffer.from('bb020000000f0b', 'hex').copy(code, 0x10);
    for (let pass = 0; pass < 20; pass++) {   // interpreted first, compiled once hot
      m.cpu.lo[4] = 0x1ff000; m.cpu.hi[4] = 0; m.cpu.lo[3] = 0;
      m.run(new Uint8Array(code));
      expect(m.vector()).toBe(6);
      expect(m.cpu.lo[3]).toBe(2);
      const rsp = m.cpu.lo[4] >>> 0;
      expect(m.bus.read32(rsp)).toBe(CODE + 0x15);          // #UD frame: RIP of the ud2
      const savedRsp = m.bus.read32(rsp + 24);              // the interrupted RSP in the frame
      expect(savedRsp).toBe(0x1ff000 - 8);
      expect(m.bus.read32(savedRsp)).toBe(CODE + 10);       // the CALL's return address
    }
  });
});
