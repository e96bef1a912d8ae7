import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/machine/index.js';
import { CS } from '../../src/cpu/regs.js';

/**
 * The A20 gate (IBM PC AT; port 0x92 "system control port A" bit 1, and the 8042 output port
 * bit 1): with the gate closed, physical address bit 20 is forced to 0, so FFFF:0010 wraps to 0.
 */
describe('A20 gate', () => {
  it('closing A20 through port 0x92 makes FFFF:0010 alias linear 0; opening it again separates them', () => {
    const m = new Machine({ memory: 4 * 1024 * 1024 });
    // real mode at 0000:7C00:
    //   in al,0x92 ; and al,0xfd ; out 0x92,al          (close A20 — the 8042 gate is closed too, below)
    //   mov ax,0xffff ; mov es,ax ; mov byte [es:0x10],0x5a
    //   in al,0x92 ; or al,2 ; out 0x92,al               (open)
    //   mov byte [es:0x10],0xa5 ; hlt
    const code = 'e49224fde692' + 'b8ffff8ec026c60610005a' + 'e4920c02e692' + '26c6061000a5f4';
    m.bus.writeBytes(0x7c00, Buffer.from(code, 'hex'));
    m.kbc.outputPort &= ~2;            // the 8042's gate closed as well, so port 0x92 alone decides
    m.cpu.segSel[CS] = 0; m.cpu.segBase[CS] = 0; m.cpu.rip = 0x7c00;
    m.runFor(100);
    expect(m.bus.read8(0x000000)).toBe(0x5a);   // written while A20 was closed: wrapped to 0
    expect(m.bus.read8(0x100000)).toBe(0xa5);   // written while open: really at 1 MiB
  });
});
