import { describe, it, expect } from 'vitest';
import { MODE_V86, MODE_PROT, DEC16 } from '../../src/cpu/cpu.js';
import { deliverChecked, EV_INTR } from '../../src/cpu/exceptions.js';
import { CS, SS, DS, ES, FS, GS, RAX, RBX, RCX, RDX, RSI, RDI, RSP, VM, IF, IOPL, AR_UNUSABLE } from '../../src/cpu/regs.js';
import { createMachine, hex, IDT, IOMAP, TSS, STACK_TOP, STUBS, DATA, CODE, SEL, type Machine } from './helpers/machine.js';

/**
 * Virtual-8086 mode without VME (SDM Vol. 3B, chapter "8086 Emulation"; Vol. 2 IRET, INT n, PUSHF,
 * POPF, CLI, STI, IN, OUT). A 32-bit CPL-0 monitor (helpers/machine.ts, protected mode, TSS with
 * SS0:ESP0 = 18H:STACK_TOP-800H and an I/O bitmap) enters virtual-8086 mode with IRETD; the code
 * there runs at CPL 3 with real-address style segments, and every interrupt or exception brings the
 * monitor back through the IDT with the frame of figure "Stack Usage on Transfers to Interrupt and
 * Exception Handling Routines from Virtual-8086 Mode". Machine code is hex with its nasm source.
 */
const GP = 13, DE = 0, BP = 3;
const V86_CS = 0x5000, V86_DS = 0x6000, V86_ES = 0x6100, V86_FS = 0x6200, V86_GS = 0x6300, V86_SS = 0x7000, V86_SP = 0xfff0;
const ESP0 = STACK_TOP - 0x800;
const EFL_VM = 0x00020002, EFL_VM_IOPL3 = 0x00023002;

const le32 = (v: number) => Buffer.from(new Uint32Array([v >>> 0]).buffer).toString('hex');
/**
 * The monitor's entry into virtual-8086 mode (bits 32; `push strict dword` = 68 id):
 *   push dword GS; push dword FS; push dword DS; push dword ES; push dword SS; push dword ESP
 *   push dword EFLAGS; push dword CS; push dword EIP; iretd                    ; CF
 * e.g. EFLAGS = 20002H: 6800630000 6800620000 6800600000 6800610000 6800700000 68f0ff0000
 *                       6802000200 6800500000 6800000000 cf
 */
function enterV86(eflags: number, eip = 0, cs = V86_CS): string {
  return [V86_GS, V86_FS, V86_DS, V86_ES, V86_SS, V86_SP, eflags, cs, eip].map(v => '68' + le32(v)).join('') + 'cf';
}

/** A 32-bit IDT gate: type 0EH interrupt gate, 0FH trap gate, 06H 16-bit interrupt gate. */
function gate(m: Machine, vector: number, target: number, dpl: number, type = 0xe, sel: number = SEL.KCODE32): void {
  m.bus.write32(IDT + vector * 8, ((sel << 16) | (target & 0xffff)) >>> 0);
  m.bus.write32(IDT + vector * 8 + 4, ((target & 0xffff0000) | 0x8000 | (dpl << 13) | (type << 8)) >>> 0);
  m.cpu.idtLimit = Math.max(m.cpu.idtLimit, vector * 8 + 7);
}
/** A HLT for vectors ≥ 32 (the helper's stubs cover 0–31, 8 bytes each). */
const stubFor = (m: Machine, vector: number) => { m.bus.write8(STUBS + vector * 8, 0xf4); return STUBS + vector * 8; };

function machine(opts: { paging?: boolean } = {}): Machine {
  const m = createMachine({ mode: 'prot32', paging: opts.paging });
  // a word at offset 10H of each data segment
  m.bus.write16(V86_DS * 16 + 0x10, 0x1234);
  m.bus.write16(V86_ES * 16 + 0x10, 0x1111);
  m.bus.write16(V86_FS * 16 + 0x10, 0x8000);
  m.bus.write16(V86_GS * 16 + 0x10, 0x8000);
  return m;
}
/** Put `v86code` at V86_CS:0 (or CS:IP `at`) and run the monitor's entry with `eflags`. */
function runV86(m: Machine, v86code: string, eflags: number, max = 10_000): void {
  m.bus.writeBytes(V86_CS * 16, hex(v86code));
  m.run(enterV86(eflags), max);
}

/** A fault pushes RFLAGS.RF = 1 (SDM Vol. 3B, "Instruction-Breakpoint Exception Condition"): #GP frames carry it. */
const RF_FAULT = 1 << 16;

interface Frame { code?: number; eip: number; cs: number; eflags: number; esp: number; ss: number; es: number; ds: number; fs: number; gs: number }
/** The frame on the ring-0 stack at the handler's ESP (32-bit slots). */
function frame(m: Machine, withCode: boolean, slot = 4): Frame {
  let a = m.cpu.lo[RSP] >>> 0;
  const rd = () => { const v = slot === 4 ? m.bus.read32(a) >>> 0 : m.bus.read16(a); a += slot; return v; };
  const code = withCode ? rd() : undefined;
  const eip = rd(), cs = rd(), eflags = rd(), esp = rd(), ss = rd(), es = rd(), ds = rd(), fs = rd(), gs = rd();
  return { ...(withCode ? { code } : {}), eip, cs, eflags, esp, ss, es, ds, fs, gs };
}
const v86Segs = { ss: V86_SS, es: V86_ES, ds: V86_DS, fs: V86_FS, gs: V86_GS };

describe('entering virtual-8086 mode with IRET (SDM Vol. 2 IRET, "RETURN-TO-VIRTUAL-8086-MODE")', () => {
  it('loads EFLAGS, CS:IP, SS:SP and ES/DS/FS/GS real-mode style; CPL 3, 16-bit default sizes', () => {
    const m = machine();
    runV86(m, '90', EFL_VM_IOPL3 | IF, 10);          // 9 pushes + IRETD, stop before the NOP
    const c = m.cpu;
    expect(c.mode).toBe(MODE_V86);
    expect(c.cpl).toBe(3);
    expect(c.decMode).toBe(DEC16);
    expect(c.stackSize).toBe(2);
    expect(c.rip).toBe(0);
    expect(c.getFlags() >>> 0).toBe(EFL_VM_IOPL3 | IF);
    expect(c.lo[RSP] >>> 0).toBe(V86_SP);
    for (const [s, sel] of [[CS, V86_CS], [SS, V86_SS], [DS, V86_DS], [ES, V86_ES], [FS, V86_FS], [GS, V86_GS]]) {
      expect(c.segSel[s]).toBe(sel);
      expect(c.segBase[s]).toBe(sel * 16);
      expect(c.segLimit[s]).toBe(0xffff);
      // VMX access-rights format; F3H for every register, as a VM entry into a virtual-8086 guest requires
      // (SDM Vol. 3C, "Checks on Guest Segment Registers")
      expect(c.segAr[s]).toBe(0xf3);
    }
  });
  it('ignores the upper 16 bits of the EIP image', () => {
    const m = machine();
    m.bus.writeBytes(V86_CS * 16, hex('90'));
    m.run(enterV86(EFL_VM, 0xabcd0000), 10);
    expect(m.cpu.mode).toBe(MODE_V86);
    expect(m.cpu.rip).toBe(0);
  });
  it('at CPL 3 the VM bit of the image is ignored: an ordinary protected-mode IRET', () => {
    // IRET loads VM only at CPL 0 ("IF tempEFLAGS(VM) = 1 and CPL = 0 THEN GOTO RETURN-TO-VIRTUAL-8086-MODE")
    const m = createMachine({ mode: 'prot32', cpl: 3 });
    const sp = STACK_TOP - 12;
    m.bus.write32(sp, CODE + 0x10); m.bus.write32(sp + 4, SEL.UCODE32); m.bus.write32(sp + 8, EFL_VM);
    m.cpu.lo[RSP] = sp;
    expect(m.exec1('cf')).toBeUndefined();             // iretd
    expect(m.cpu.mode).toBe(MODE_PROT);
    expect(m.cpu.eflags & VM).toBe(0);
    expect(m.cpu.nip).toBe(CODE + 0x10);
  });
});

// V86 program (bits 16), at 5000:0000:
//   0000 a11000       mov ax,[0x10]          ; DS:10 = 1234H
//   0003 2603061000   add ax,[es:0x10]       ; + 1111H = 2345H
//   0008 648b1e1000   mov bx,[fs:0x10]       ; 8000H
//   000d 65031e1000   add bx,[gs:0x10]       ; + 8000H = 0, CF ZF PF OF
//   0012 a32000       mov [0x20],ax
//   0015 26891e2000   mov [es:0x20],bx
//   001a 50           push ax
//   001b 59           pop cx
//   001c 89e2         mov dx,sp
//   001e cd21         int 0x21
//   0020 be5a5a       mov si,0x5a5a
//   0023 8b3e1000     mov di,[0x10]
//   0027 f4           hlt
const PROG = 'a110002603061000648b1e100065031e1000a3200026891e2000505989e2cd21be5a5a8b3e1000f4';
/** CF PF ZF OF from ADD 8000H + 8000H, with VM (and bit 1) set. */
const PROG_FLAGS = 0x00020000 | 0x0847;

describe('interrupts and exceptions from virtual-8086 mode (SDM Vol. 2 INT n, "INTERRUPT-FROM-VIRTUAL-8086-MODE")', () => {
  for (const paging of [false, true]) {
    it(`INT n with IOPL 0 is #GP(0) to the monitor; frame EIP CS EFLAGS ESP SS ES DS FS GS, null data segments${paging ? ' (paging on)' : ''}`, () => {
      const m = machine({ paging });
      runV86(m, PROG, EFL_VM);
      const c = m.cpu;
      expect(m.vector()).toBe(GP);
      // the V86 code ran: arithmetic and memory through four segments, and the stack
      expect(m.bus.read16(V86_DS * 16 + 0x20)).toBe(0x2345);
      expect(m.bus.read16(V86_ES * 16 + 0x20)).toBe(0);
      expect(c.lo[RCX] & 0xffff).toBe(0x2345);
      expect(c.lo[RDX] & 0xffff).toBe(V86_SP);
      // handler state: ring-0 stack from the TSS, 40 bytes pushed, CPL 0, VM and IF clear, DS/ES/FS/GS null
      expect(c.mode).toBe(MODE_PROT);
      expect(c.cpl).toBe(0);
      expect(c.segSel[CS]).toBe(SEL.KCODE32);
      expect(c.segSel[SS]).toBe(SEL.KDATA);
      expect(c.lo[RSP] >>> 0).toBe(ESP0 - 40);
      expect(c.eflags & (VM | IF)).toBe(0);
      for (const s of [DS, ES, FS, GS]) {
        expect(c.segSel[s]).toBe(0);
        expect(c.segAr[s] & AR_UNUSABLE).toBe(AR_UNUSABLE);
      }
      // error code 0; EIP of the INT instruction (a fault), EFLAGS with VM = 1
      expect(frame(m, true)).toEqual({ code: 0, eip: 0x1e, cs: V86_CS, eflags: PROG_FLAGS | RF_FAULT, esp: V86_SP, ...v86Segs });
    });
  }

  it('IOPL 3: INT n goes to the protected-mode handler through a DPL-3 gate; no error code, EIP after INT', () => {
    const m = machine();
    gate(m, 0x21, stubFor(m, 0x21), 3);
    runV86(m, PROG, EFL_VM_IOPL3);
    expect(m.cpu.rip).toBe(STUBS + 0x21 * 8 + 1);
    expect(m.cpu.lo[RSP] >>> 0).toBe(ESP0 - 36);
    expect(m.cpu.mode).toBe(MODE_PROT);
    expect(m.cpu.segSel[DS]).toBe(0);
    expect(frame(m, false)).toEqual({ eip: 0x20, cs: V86_CS, eflags: PROG_FLAGS | IOPL, esp: V86_SP, ...v86Segs });
  });

  it('IOPL 3, trap gate: IF stays set in the handler', () => {
    const m = machine();
    gate(m, 0x21, stubFor(m, 0x21), 3, 0xf);
    runV86(m, PROG, EFL_VM_IOPL3 | IF);
    expect(m.cpu.rip).toBe(STUBS + 0x21 * 8 + 1);
    expect(m.cpu.eflags & (IF | VM)).toBe(IF);
    expect(frame(m, false).eflags).toBe(PROG_FLAGS | IOPL | IF);
  });

  it('IOPL 3 through a 16-bit interrupt gate: the same frame in 16-bit slots', () => {
    const m = machine();
    gate(m, 0x21, stubFor(m, 0x21), 3, 0x6);
    runV86(m, PROG, EFL_VM_IOPL3);
    expect(m.cpu.rip).toBe(STUBS + 0x21 * 8 + 1);
    expect(m.cpu.lo[RSP] >>> 0).toBe(ESP0 - 18);
    expect(frame(m, false, 2)).toEqual({ eip: 0x20, cs: V86_CS, eflags: (PROG_FLAGS | IOPL) & 0xffff, esp: V86_SP, ...v86Segs });
  });

  it('IOPL 3 with a DPL-0 gate: #GP(vector × 8 + 2) (software interrupt, gate DPL < CPL 3)', () => {
    const m = machine();
    gate(m, 0x21, stubFor(m, 0x21), 0);
    runV86(m, PROG, EFL_VM_IOPL3);
    expect(m.vector()).toBe(GP);
    expect(frame(m, true)).toMatchObject({ code: 0x21 * 8 + 2, eip: 0x1e, cs: V86_CS });
  });

  it('a gate to a DPL-3 or a conforming code segment: #GP(code-segment selector)', () => {
    for (const sel of [SEL.UCODE32, SEL.CONFORMING]) {
      const m = machine();
      gate(m, 0x21, stubFor(m, 0x21), 3, 0xe, sel);
      runV86(m, PROG, EFL_VM_IOPL3);
      expect(m.vector()).toBe(GP);
      expect(frame(m, true)).toMatchObject({ code: sel & 0xfffc, eip: 0x1e, eflags: PROG_FLAGS | IOPL | RF_FAULT });
    }
  });

  it('INT3 is not IOPL-sensitive: with IOPL 0 it goes through gate 3 (#GP(1AH) for the DPL-0 gate, the handler for DPL 3)', () => {
    // bits 16: 0000 cc int3 / 0001 ce into / 0002 f4 hlt
    let m = machine();
    runV86(m, 'cccef4', EFL_VM);
    expect(m.vector()).toBe(GP);
    expect(frame(m, true)).toMatchObject({ code: 3 * 8 + 2, eip: 0 });
    m = machine();
    gate(m, 3, STUBS + 3 * 8, 3);
    runV86(m, 'cccef4', EFL_VM);
    expect(m.vector()).toBe(BP);
    expect(frame(m, false)).toEqual({ eip: 1, cs: V86_CS, eflags: EFL_VM, esp: V86_SP, ...v86Segs });
  });

  it('an exception (#DE) arrives through its gate with the V86 frame', () => {
    // bits 16: 0000 30db xor bl,bl / 0002 b80700 mov ax,7 / 0005 f6f3 div bl
    const m = machine();
    runV86(m, '30dbb80700f6f3', EFL_VM);
    expect(m.vector()).toBe(DE);
    expect(frame(m, false)).toMatchObject({ eip: 5, cs: V86_CS, ...v86Segs });
    expect(frame(m, false).eflags & VM).toBe(VM);
  });

  it('an external interrupt needs no gate DPL check', () => {
    const m = machine();
    gate(m, 0x20, stubFor(m, 0x20), 0);
    runV86(m, '90', EFL_VM | IF, 10);
    expect(m.cpu.mode).toBe(MODE_V86);
    deliverChecked(m.cpu, 0x20, -1, EV_INTR, m.cpu.rip);
    expect(m.cpu.mode).toBe(MODE_PROT);
    expect(m.cpu.nip).toBe(STUBS + 0x20 * 8);
    expect(frame(m, false)).toEqual({ eip: 0, cs: V86_CS, eflags: EFL_VM | IF, esp: V86_SP, ...v86Segs });
  });
});

// The #GP handler of a small monitor (bits 32), at CODE+100H: emulates INT n by recording the vector
// and skipping the instruction, then returns to V86 with IRETD; anything else halts.
//   0000 50              push eax
//   0001 53              push ebx
//   0002 1e              push ds
//   0003 66b81800        mov ax,0x18
//   0007 8ed8            mov ds,ax
//   0009 0fb75c2414      movzx ebx,word [esp+20]   ; CS
//   000e c1e304          shl ebx,4
//   0011 035c2410        add ebx,[esp+16]          ; + EIP
//   0015 803bcd          cmp byte [ebx],0xcd
//   0018 751b            jne .not_int
//   001a 0fb64301        movzx eax,byte [ebx+1]
//   001e a300003000      mov [0x300000],eax
//   0023 ff0504003000    inc dword [0x300004]
//   0029 8344241002      add dword [esp+16],2
//   002e 1f              pop ds
//   002f 5b              pop ebx
//   0030 58              pop eax
//   0031 83c404          add esp,4                 ; the error code
//   0034 cf              iretd
//   0035 f4  .not_int:   hlt
const MONITOR = '50531e66b818008ed80fb75c2414c1e304035c2410803bcd751b0fb64301a300003000ff050400300083442410021f5b5883c404cff4';

describe('a virtual-8086 monitor', () => {
  it('emulates INT 21H from its #GP handler and IRETDs back; V86 resumes with its segments restored', () => {
    const m = machine();
    const handler = CODE + 0x100;
    m.bus.writeBytes(handler, hex(MONITOR));
    gate(m, GP, handler, 0);
    runV86(m, PROG, EFL_VM);
    const c = m.cpu;
    expect(c.rip).toBe(handler + 0x36);               // stopped at the monitor's HLT for the V86 HLT
    expect(m.bus.read32(DATA)).toBe(0x21);
    expect(m.bus.read32(DATA + 4)).toBe(1);
    // after the IRETD the V86 code ran on: SI set, DI read through DS = 6000H again
    expect(c.lo[RSI] & 0xffff).toBe(0x5a5a);
    expect(c.lo[RDI] & 0xffff).toBe(0x1234);
    // EAX as V86 left it after the first IRETD, saved by the second #GP's push eax (ESP+8)
    expect(m.bus.read32((c.lo[RSP] >>> 0) + 8) & 0xffff).toBe(0x2345);
    // the frame of the second #GP (HLT at CPL 3), below the monitor's three pushes
    c.lo[RSP] = (c.lo[RSP] >>> 0) + 12;
    expect(frame(m, true)).toEqual({ code: 0, eip: 0x27, cs: V86_CS, eflags: PROG_FLAGS | RF_FAULT, esp: V86_SP, ...v86Segs });
    expect(c.lo[RSP] >>> 0).toBe(ESP0 - 40);          // the monitor's stack is balanced
  });
});

describe('IOPL-sensitive instructions in virtual-8086 mode (SDM Vol. 3B "Sensitive Instructions")', () => {
  // bits 16: 0000 90 nop / 0001 <insn>
  const cases: [string, string][] = [
    ['CLI', 'fa'], ['STI', 'fb'], ['PUSHF', '9c'], ['POPF', '9d'], ['PUSHFD', '669c'], ['POPFD', '669d'],
    ['INT 21H', 'cd21'], ['IRET', 'cf'], ['IRETD', '66cf'],
  ];
  for (const [name, code] of cases) {
    it(`${name} with IOPL 0: #GP(0) at the instruction`, () => {
      const m = machine();
      runV86(m, '90' + code, EFL_VM);
      expect(m.vector()).toBe(GP);
      expect(frame(m, true)).toMatchObject({ code: 0, eip: 1, cs: V86_CS, eflags: EFL_VM | RF_FAULT, esp: V86_SP });
    });
  }

  it('IOPL 3: PUSHF/POPF work on the real flags but cannot change IOPL or VM; CLI/STI change IF', () => {
    // bits 16:
    //   0000 9c       pushf
    //   0001 58       pop ax
    //   0002 6a00     push word 0
    //   0004 9d       popf             ; IOPL stays 3
    //   0005 9c       pushf
    //   0006 5b       pop bx
    //   0007 666a00   push dword 0
    //   000a 669d     popfd            ; VM stays 1
    //   000c 669c     pushfd
    //   000e 6659     pop ecx          ; the image has VM (and RF) clear
    //   0010 fa       cli
    //   0011 fb       sti
    //   0012 f4       hlt              ; #GP(0): CPL 3
    const m = machine();
    runV86(m, '9c586a009d9c5b666a00669d669c6659fafbf4', EFL_VM_IOPL3 | 0x8d5);
    expect(m.vector()).toBe(GP);
    expect(m.cpu.lo[RAX] & 0xffff).toBe(0x38d7);      // IOPL 3 | OF SF ZF AF PF CF | bit 1
    expect(m.cpu.lo[RBX] & 0xffff).toBe(0x3002);
    expect(m.cpu.lo[RCX] >>> 0).toBe(0x3002);
    expect(frame(m, true)).toMatchObject({ code: 0, eip: 0x12, eflags: EFL_VM_IOPL3 | IF | RF_FAULT });
  });

  it('IOPL 3: IRET is a real-mode style return within virtual-8086 mode (IOPL and VM unchanged)', () => {
    // bits 16, at 5000:0000:                         at 5100:0010:
    //   0000 6a46     push word 0x0046 (ZF PF)         0000 8cc8  mov ax,cs
    //   0002 680051   push word 0x5100                 0002 f4    hlt
    //   0005 6a10     push word 0x0010
    //   0007 cf       iret
    const m = machine();
    m.bus.writeBytes(0x51010, hex('8cc8f4'));
    runV86(m, '6a466800516a10cf', EFL_VM_IOPL3);
    expect(m.vector()).toBe(GP);
    expect(m.cpu.lo[RAX] & 0xffff).toBe(0x5100);
    expect(frame(m, true)).toEqual({ code: 0, eip: 0x12, cs: 0x5100, eflags: EFL_VM_IOPL3 | 0x44 | RF_FAULT, esp: V86_SP, ...v86Segs });
  });
});

describe('I/O in virtual-8086 mode always consults the TSS I/O permission bit map (SDM Vol. 1 "I/O Permission Bit Map")', () => {
  // bits 16:
  //   0000 b042     mov al,0x42
  //   0002 e680     out 0x80,al       ; allowed
  //   0004 ba8000   mov dx,0x80
  //   0007 ec       in al,dx          ; allowed
  //   0008 e681     out 0x81,al       ; denied: #GP(0)
  //   000a f4       hlt
  for (const eflags of [EFL_VM, EFL_VM_IOPL3]) {
    it(`IOPL ${eflags & IOPL ? 3 : 0}: an allowed port works, a denied one is #GP(0)`, () => {
      const m = machine();
      const writes: [number, number][] = [];
      m.io.register({ portRead: () => 0x99, portWrite: (p, _s, v) => { writes.push([p, v]); } }, [0x80, 0x81]);
      m.bus.write8(IOMAP + 0x10, 0x02);               // deny port 81H
      runV86(m, 'b042e680ba8000ece681f4', eflags);
      expect(writes).toEqual([[0x80, 0x42]]);
      expect(m.cpu.lo[RAX] & 0xff).toBe(0x99);
      expect(m.vector()).toBe(GP);
      expect(frame(m, true)).toMatchObject({ code: 0, eip: 8 });
    });
  }
});

describe('segment loads and far transfers in virtual-8086 mode are real-address style', () => {
  it('MOV/LDS set base = selector × 16; far JMP/CALL/RETF stay in virtual-8086 mode', () => {
    // bits 16, at 5000:0000:
    //   0000 b83412       mov ax,0x1234
    //   0003 8ed8         mov ds,ax            ; base 12340H
    //   0005 c606000077   mov byte [0],0x77
    //   000a c5361000     lds si,[0x10]        ; 1234:0010 holds 9ABCH:5678H (offset, segment)
    //   000e ea00000051   jmp 0x5100:0x0000
    // at 5100:0000: 9a00000052 call 0x5200:0x0000 / f4 hlt
    // at 5200:0000: 89e5 mov bp,sp / cb retf
    const m = machine();
    m.bus.write16(0x12350, 0x9abc); m.bus.write16(0x12352, 0x5678);
    m.bus.writeBytes(0x51000, hex('9a00000052f4'));
    m.bus.writeBytes(0x52000, hex('89e5cb'));
    runV86(m, 'b834128ed8c606000077c5361000ea00000051', EFL_VM);
    expect(m.bus.read8(0x12340)).toBe(0x77);
    expect(m.cpu.lo[RSI] & 0xffff).toBe(0x9abc);
    expect(m.cpu.lo[5] & 0xffff).toBe(V86_SP - 4);    // BP in the far-called routine: CS and IP pushed
    expect(m.bus.read16(V86_SS * 16 + V86_SP - 2)).toBe(0x5100);
    expect(m.bus.read16(V86_SS * 16 + V86_SP - 4)).toBe(5);
    expect(m.vector()).toBe(GP);                      // the HLT at 5100:0005
    expect(frame(m, true)).toEqual({ code: 0, eip: 5, cs: 0x5100, eflags: EFL_VM | RF_FAULT, esp: V86_SP, ...v86Segs, ds: 0x5678 });
  });
});

describe('a hot loop in virtual-8086 mode', () => {
  it('runs through the block compiler with the virtual-8086 segments', () => {
    // bits 16:
    //   0000 31c0     xor ax,ax
    //   0002 b92c01   mov cx,300
    //   0005 01c8  l: add ax,cx
    //   0007 e2fc     loop l
    //   0009 a33000   mov [0x30],ax
    //   000c f4       hlt
    const m = machine();
    runV86(m, '31c0b92c0101c8e2fca33000f4', EFL_VM);
    expect(m.bus.read16(V86_DS * 16 + 0x30)).toBe((300 * 301 / 2) & 0xffff);
    expect(frame(m, true)).toMatchObject({ code: 0, eip: 0xc, cs: V86_CS });
  });
});

describe('a delivery from virtual-8086 mode that cannot switch stacks', () => {
  it('a null SS0 in the TSS: #TS, then #DF, then a triple fault; the V86 state is left as it was', () => {
    const m = machine();
    m.bus.write32(TSS + 8, 0);                         // TSS.SS0 = 0
    runV86(m, '90f4', EFL_VM);                         // nop; hlt → #GP(0) → #TS → #DF → shutdown
    expect(m.cpu.stop?.reason).toBe('triple-fault');
    expect(m.cpu.mode).toBe(MODE_V86);
    expect(m.cpu.segSel[SS]).toBe(V86_SS);
    expect(m.cpu.lo[RSP] >>> 0).toBe(V86_SP);
    expect(m.cpu.segSel[DS]).toBe(V86_DS);
  });
});
