import { describe, it, expect } from 'vitest';
import { Ram, PhysBus, PortBus } from '../../src/memory/index.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { CPU, MODE_PROT } from '../../src/cpu/cpu.js';
import { Executor } from '../../src/cpu/exec.js';
import { CS } from '../../src/cpu/regs.js';

/**
 * Real-address mode: IVT delivery and IRET, far CALL/RETF between segments, then the switch to
 * protected mode (LGDT, CR0.PE, far JMP) — SDM Vol. 3A "Real-Address Mode Operation" and
 * "Switching to Protected Mode". Source (nasm, org 0x7C00) is in the comment of PROGRAM.
 */
// bits 16 / org 0x7c00:
//   xor ax,ax; mov ds,ax; mov ss,ax; mov sp,0x7000
//   mov word [0x84],handler; mov word [0x86],0       ; IVT[0x21] = 0000:handler
//   mov ax,0x1234; sti; int 0x21; mov [0x500],ax     ; handler adds 1
//   pushf; pop word [0x502]; mov [0x504],sp
//   call 0x0700:(far_target-0x7000); mov [0x506],bx   ; far_target: mov bx,cs; retf
//   cli; lgdt [gdtr]; mov eax,cr0; or al,1; mov cr0,eax; jmp 0x08:pm32
//   handler: pushf; pop word [0x508]; add ax,1; iret
//   gdt: null, 0x00cf9a000000ffff, 0x00cf92000000ffff; gdtr: dw 23, dd gdt
//   bits 32 / pm32: mov ax,0x10; mov ds,ax; mov ss,ax; mov esp,0x90000
//   mov dword [0x510],0xc0ffee32; mov eax,cr0; mov [0x514],eax; hlt
const PROGRAM = '31c08ed88ed0bc0070c7068400437cc70686000000b83412fbcd21a300059c8f060205892604059a4c0c0007891e0605fa0f0116687c0f20c00c010f22c0ea6e7c08009c8f06080583c001cf8ccbcb900000000000000000ffff0000009acf00ffff00000092cf001700507c000066b810008ed88ed0bc00000900c7051005000032eeffc00f20c0a314050000f4';

describe('real-address mode', () => {
  it('delivers INT n through the IVT, returns with IRET, far-calls, and switches to protected mode', () => {
    const bus = new PhysBus(new Ram(2 * 1024 * 1024));
    const cpu = new CPU(bus, new PortBus(), new VirtualClock());
    bus.writeBytes(0x7c00, Buffer.from(PROGRAM, 'hex'));
    cpu.segSel[CS] = 0; cpu.segBase[CS] = 0; cpu.rip = 0x7c00;
    new Executor(cpu).run(10_000);
    expect(cpu.stop?.reason).toBe('halted');           // HLT with IF = 0 after CLI
    expect(bus.read16(0x500)).toBe(0x1235);           // the handler ran and IRET returned AX
    expect(bus.read16(0x508) & 0x200).toBe(0);        // IF cleared on delivery
    expect(bus.read16(0x502) & 0x200).toBe(0x200);    // and restored by IRET
    expect(bus.read16(0x504)).toBe(0x7000);           // the stack is balanced
    expect(bus.read16(0x506)).toBe(0x0700);           // CS inside the far-called routine
    expect(bus.read32(0x510)).toBe(0xc0ffee32);       // 32-bit code ran after the mode switch
    expect(bus.read32(0x514) & 1).toBe(1);            // CR0.PE
    expect(cpu.mode).toBe(MODE_PROT);
    expect(cpu.segSel[CS]).toBe(0x08);
  });
});
