/**
 * A real Machine (src/machine) put directly into 64-bit mode at CPL 0 with a tiny hand-assembled
 * program, for the GDB stub's protocol tests. Everything is identity-mapped except two pages that
 * make the memory tests interesting:
 *
 *   0x1000 GDT   0x2000 IDT (32 vectors)   0x3000 exception stubs (8 bytes per vector: HLT)
 *   0x10000 page tables (PML4, PDPT, PD, PT0 = 4-KiB pages for 0..2 MiB; 2..4 MiB one 2-MiB page)
 *   0x100000 CODE   0x140000 a page the guest copies code into   0x1ff000 stack top
 *   0x180000 NOT MAPPED (PTE not present)      0x1c0000 linear -> physical 0x250000 (ALIAS)
 *   0x200000 DATA (in the 2-MiB page)
 *
 * Every exception vector goes to a HLT with IF = 0, which stops the machine: the tests see the
 * handler was entered from RIP (STUBS + 8 * vector + 1 after the HLT).
 */
import { Machine } from '../../../src/machine/index.js';
import { Debugger } from '../../../src/debug/index.js';
import {
  CS, SS, DS, ES, FS, GS, TR, LDTR, RSP, CR0_PE, CR0_PG, CR0_WP, CR0_NE, CR0_MP, CR0_ET, CR4_PAE, CR4_OSFXSR,
  CR4_OSXMMEXCPT, EFER_LME, EFER_LMA, EFER_NXE, EFER_SCE,
} from '../../../src/cpu/regs.js';

export const GDT = 0x1000, IDT = 0x2000, STUBS = 0x3000, PT = 0x10000;
export const CODE = 0x100000, COPY_PAGE = 0x140000, UNMAPPED = 0x180000, ALIAS = 0x1c0000, ALIAS_PHYS = 0x250000;
export const STACK_TOP = 0x1ff000, DATA = 0x200000;
const PML4 = PT, PDPT = PT + 0x1000, PD = PT + 0x2000, PT0 = PT + 0x3000;

export const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** Programs (assembled with GNU as, `objdump -d -M intel` listings kept beside the bytes). */
export const PROGRAMS = {
  /**
   * 0x100000 mov rbx, 0x200000      48 c7 c3 00 00 20 00
   * 0x100007 l1: inc rax            48 ff c0
   * 0x10000a mov [rbx], rax         48 89 03
   * 0x10000d mov rcx, [rbx+8]       48 8b 4b 08
   * 0x100011 jmp l1                 eb f4
   */
  loop: '48c7c300002000 48ffc0 488903 488b4b08 ebf4',
  /**
   * 0x100000 mov ecx, 100           b9 64 00 00 00
   * 0x100005 l: dec ecx             ff c9
   * 0x100007 jnz l                  75 fc
   * 0x100009 nop                    90
   * 0x10000a hlt                    f4
   */
  countdown: 'b964000000 ffc9 75fc 90 f4',
  /**
   * 0x100000 mov rbx, 0x180000      48 c7 c3 00 00 18 00
   * 0x100007 mov rax, [rbx]         48 8b 03      (#PF: 0x180000 is not mapped)
   * 0x10000a hlt                    f4
   */
  pagefault: '48c7c300001800 488b03 f4',
  /**
   * 0x100000 mov rax, 0x140000      48 c7 c0 00 00 14 00
   * 0x100007 call rax               ff d0         (runs the old code there: RET)
   * 0x100009 after1: lea rsi, [rip+0xf]  48 8d 35 0f 00 00 00   (payload)
   * 0x100010 mov edi, 0x140000      bf 00 00 14 00
   * 0x100015 mov ecx, 5             b9 05 00 00 00
   * 0x10001a rep movsb              f3 a4         (copies the payload over 0x140000)
   * 0x10001c call rax               ff d0
   * 0x10001e hlt                    f4
   * 0x10001f payload: nop; nop; inc rdx; ret     90 90 48 ff c2 c3
   */
  copy: '48c7c000001400 ffd0 488d350f000000 bf00001400 b905000000 f3a4 ffd0 f4 9090 48ffc2 c3',
  /**
   * 0x100000 mov al, 0x21           b0 21
   * 0x100002 out 0xf4, al           e6 f4         (isa-debug-exit: exit code (0x21 << 1) | 1 = 0x43)
   * 0x100004 hlt                    f4
   */
  poweroff: 'b021 e6f4 f4',
  /** 0x100000 ud2 (with IDTR.limit = 0 the #UD becomes #GP, #DF, then a triple fault)  0f 0b */
  ud2: '0f0b',
} as const;

export const LOOP_L1 = CODE + 7, LOOP_AFTER_STORE = CODE + 0xd, LOOP_AFTER_LOAD = CODE + 0x11;

export interface Guest { machine: Machine; dbg: Debugger }

function desc(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = ((base >>> 24) << 24) | ((flags & 0xf) << 20) | (((limit >>> 16) & 0xf) << 16) | ((access & 0xff) << 8) | ((base >>> 16) & 0xff);
  return [lo >>> 0, hi >>> 0];
}

/** A Machine (4 MiB) in 64-bit mode running `program` from CODE, with a Debugger attached. */
export function makeGuest(program: string | Uint8Array = PROGRAMS.loop): Guest {
  const machine = new Machine({ memory: 4 << 20 });
  const { cpu, bus } = machine;
  const w32 = (a: number, v: number) => bus.writeBytes(a, new Uint8Array(new Uint32Array([v >>> 0]).buffer));
  const put = (sel: number, d: [number, number]) => { w32(GDT + sel, d[0]); w32(GDT + sel + 4, d[1]); };
  put(0x08, desc(0, 0xfffff, 0x9b, 0xc));
  put(0x10, desc(0, 0xfffff, 0x9b, 0xa));
  put(0x18, desc(0, 0xfffff, 0x93, 0xc));
  for (let v = 0; v < 32; v++) {
    const target = STUBS + v * 8;
    bus.writeBytes(target, Uint8Array.of(0xf4));
    const g = IDT + v * 16;
    w32(g, (0x10 << 16) | (target & 0xffff));
    w32(g + 4, (target & 0xffff0000) | 0x8e00);
    w32(g + 8, 0); w32(g + 12, 0);
  }
  w32(PML4, PDPT | 3);
  w32(PDPT, PD | 3);
  w32(PD, PT0 | 3);
  for (let i = 0; i < 512; i++) w32(PT0 + i * 8, (i * 4096) | 3);
  w32(PT0 + (UNMAPPED >> 12) * 8, 0);                       // not present
  w32(PT0 + (ALIAS >> 12) * 8, ALIAS_PHYS | 3);             // linear ALIAS -> physical ALIAS_PHYS
  w32(PD + 8, (1 << 21) | 0x83);                            // 2..4 MiB: one 2-MiB page

  cpu.gdtBase = GDT; cpu.gdtLimit = 0x1f;
  cpu.idtBase = IDT; cpu.idtLimit = 32 * 16 - 1;
  cpu.cr0 = CR0_PE | CR0_PG | CR0_WP | CR0_NE | CR0_MP | CR0_ET;
  cpu.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
  cpu.cr3 = PML4;
  cpu.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
  const seg = (s: number, sel: number, base: number, limit: number, ar: number) => {
    cpu.segSel[s] = sel; cpu.segBase[s] = base; cpu.segLimit[s] = limit; cpu.segAr[s] = ar;
  };
  seg(CS, 0x10, 0, 0xffffffff, 0xa09b);
  for (const s of [SS, DS, ES]) seg(s, 0x18, 0, 0xffffffff, 0xc093);
  for (const s of [FS, GS]) seg(s, 0, 0, 0, 0x10000);
  seg(TR, 0, 0, 0xffff, 0x8b);
  seg(LDTR, 0, 0, 0, 0x10000);
  cpu.lo[RSP] = STACK_TOP; cpu.hi[RSP] = 0;
  cpu.setFlags(2);
  cpu.updateMode();
  cpu.flushTlb();
  bus.writeBytes(CODE, typeof program === 'string' ? hex(program) : program);
  cpu.rip = CODE; cpu.nip = CODE;
  void EFER_LMA;
  return { machine, dbg: new Debugger(machine) };
}
