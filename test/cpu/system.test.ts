import { describe, it, expect } from 'vitest';
import { runSnippet } from '../../src/cpu/snippet.js';
import { CODE_ADDR, DATA_ADDR, DATA_SIZE, type SnippetState } from '../../src/cpu/snippet-types.js';
import { MODE_LONG, MODE_COMPAT, MODE_PROT } from '../../src/cpu/cpu.js';
import { cpuid, FEATURES } from '../../src/cpu/cpuid.js';
import { MAXPHYADDR } from '../../src/cpu/mmu.js';
import {
  CS, SS, GS, TR, LDTR, RAX, RBX, RCX, RDX, RSP, EFER_LMA, EFER_LME, EFER_SCE, CR0_TS, CR0_MP, CR0_PG, CR4_OSXSAVE,
  CR4_PCE, CR4_TSD, CR4_DE, IOPL, ZF, DF,
} from '../../src/cpu/regs.js';
import { createMachine, hex, CODE, DATA, GDT, TSS, IOMAP, PML4, SEL, GDT_LIMIT, TSS_LIMIT, STUBS } from './helpers/machine.js';

/**
 * System instructions: control/debug registers and mode switches, descriptor tables, MSRs and time,
 * SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS, I/O permissions, TLB maintenance, CPUID. Expected values
 * come from the Intel SDM (Vol. 2 instruction pages; Vol. 3A "Control Registers", "Paging",
 * "Fast System Calls in 64-Bit Mode", "I/O Permission Bit Map"). Machine code is given as hex with
 * its nasm source in a comment.
 */
const GP = 13, UD = 6, NM = 7, PF = 14;

function state(gpr: Partial<Record<number, bigint>> = {}, rflags = 0x202n): SnippetState {
  const g: bigint[] = [];
  for (let r = 0; r < 16; r++) g.push(gpr[r] ?? 0n);
  g[RSP] = gpr[RSP] ?? BigInt(DATA_ADDR + DATA_SIZE - 0x100);
  return { gpr: g, rip: BigInt(CODE_ADDR), rflags, xmm: Array.from({ length: 16 }, () => [0n, 0n] as [bigint, bigint]), mxcsr: 0x1f80, mem: new Uint8Array(DATA_SIZE) };
}
const user = (code: string, gpr: Partial<Record<number, bigint>> = {}) => runSnippet(hex(code), state(gpr));
const u32 = (v: bigint) => Number(v & 0xffffffffn);
const ascii = (...regs: number[]) => regs.map(r => String.fromCharCode(r & 0xff, (r >> 8) & 0xff, (r >> 16) & 0xff, r >>> 24)).join('');

describe('privileged instructions at CPL 3 raise #GP(0) (SDM: "#GP(0) If the current privilege level is not 0")', () => {
  const cases: [string, string][] = [
    ['MOV RAX,CR0', '0f20c0'], ['MOV CR3,RAX', '0f22d8'], ['MOV RAX,DR7', '0f21f8'], ['MOV DR0,RAX', '0f23c0'],
    ['RDMSR', '0f32'], ['WRMSR', '0f30'], ['HLT', 'f4'], ['SWAPGS', '0f01f8'], ['LGDT m', '0f01142500003000'],
    ['CLTS', '0f06'], ['INVD', '0f08'], ['WBINVD', '0f09'], ['INVLPG m', '0f013c2500001500'], ['RDPMC (CR4.PCE = 0)', '0f33'],
    ['SYSRET', '480f07'], ['LLDT AX', '0f00d0'], ['LTR AX', '0f00d8'],
  ];
  for (const [name, code] of cases) {
    it(name, () => { expect(user(code).exception).toBe(GP); });
  }
  it('with the TSS set up, IN/OUT/INS/OUTS at CPL 3 > IOPL with the port denied in the bitmap', () => {
    for (const code of ['e480', 'ec', 'ee', 'e780', '6c', '6e']) {
      const m = createMachine({ cpl: 3 });
      m.bus.write8(IOMAP + 0x10, 0xff);                         // deny ports 0x80..0x87
      m.cpu.lo[RDX] = 0x80; m.cpu.lo[7] = DATA; m.cpu.lo[6] = DATA;
      expect(m.exec1(code), code).toBe(GP);
    }
  });
});

describe('invalid opcodes raise #UD', () => {
  for (const [name, code] of [['UD2', '0f0b'], ['UD1', '0fb9c0'], ['UD0', '0fffc0'], ['MONITOR (CPUID.1:ECX.MONITOR = 0)', '0f01c8'],
    ['MWAIT', '0f01c9'], ['XGETBV with CR4.OSXSAVE = 0', '0f01d0'], ['MOV RAX,CR1', '0f20c8'], ['MOV RAX,CR5', '0f20e8']] as const) {
    it(name, () => {
      const m = createMachine();
      expect(m.exec1(code)).toBe(UD);
    });
  }
  it('SYSCALL with IA32_EFER.SCE = 0', () => {
    const m = createMachine();
    m.cpu.efer &= ~EFER_SCE;
    expect(m.exec1('0f05')).toBe(UD);
  });
  it('MOV to/from DR4 with CR4.DE = 1; otherwise DR4/DR5 alias DR6/DR7', () => {
    const m = createMachine();
    expect(m.exec1('0f21e0')).toBeUndefined();              // mov rax, dr4 = DR6
    expect(m.cpu.lo[RAX] >>> 0).toBe(0xffff0ff0);
    m.cpu.cr4 |= CR4_DE;
    expect(m.exec1('0f21e0')).toBe(UD);
  });
});

describe('CPUID describes exactly the vmxray model', () => {
  it('leaf 0: maximum basic leaf 0DH and "GenuineIntel"; upper register halves are cleared', () => {
    const r = user('0fa2', { [RAX]: 0xffffffff00000000n, [RBX]: 0xffffffffffffffffn });
    expect(r.exception).toBeUndefined();
    expect(r.gpr[RAX]).toBe(0xdn);
    expect(ascii(u32(r.gpr[RBX]), u32(r.gpr[RDX]), u32(r.gpr[RCX]))).toBe('GenuineIntel');
    expect(r.gpr[RBX] >> 32n).toBe(0n);
  });
  it('leaf 1: family 6 model 3AH, the features we implement (VMX included), no MONITOR/XSAVE/VME/MMX', () => {
    const r = user('0fa2', { [RAX]: 1n });
    const eax = u32(r.gpr[RAX]), ecx = u32(r.gpr[RCX]), edx = u32(r.gpr[RDX]);
    expect((eax >> 8) & 0xf).toBe(6);
    expect(((eax >> 12) & 0xf0) | ((eax >> 4) & 0xf)).toBe(0x3a);
    for (const bit of [0, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 19, 24, 25, 26]) expect((edx >>> bit) & 1, `EDX bit ${bit}`).toBe(1);
    for (const bit of [1, 23]) expect((edx >>> bit) & 1, `EDX bit ${bit}`).toBe(0);         // VME, MMX
    for (const bit of [0, 5, 9, 13, 17, 19, 21, 23]) expect((ecx >>> bit) & 1, `ECX bit ${bit}`).toBe(1);  // SSE3 VMX SSSE3 CX16 PCID SSE4.1 x2APIC POPCNT
    for (const bit of [3, 26, 27]) expect((ecx >>> bit) & 1, `ECX bit ${bit}`).toBe(0);  // MONITOR XSAVE OSXSAVE
    expect((u32(r.gpr[RBX]) >> 8) & 0xff).toBe(8);                                        // CLFLUSH line 64 bytes
  });
  it('OSXSAVE mirrors CR4.OSXSAVE; APIC follows IA32_APIC_BASE.EN', () => {
    const m = createMachine();
    m.cpu.cr4 |= CR4_OSXSAVE;
    expect((cpuid(m.cpu, 1, 0)[2] >>> 27) & 1).toBe(1);
    m.cpu.msr.write(0x1b, 0xfee00100, 0);                    // clear EN (bit 11)
    expect((cpuid(m.cpu, 1, 0)[3] >>> 9) & 1).toBe(0);
  });
  it('leaf 7: BMI1, SMEP, ERMS, INVPCID, ADX, SMAP; no FSGSBASE', () => {
    const [eax, ebx, ecx, edx] = cpuid(createMachine().cpu, 7, 0);
    expect([eax, ecx, edx]).toEqual([0, 0, 0]);
    expect(ebx).toBe(((1 << 3) | (1 << 7) | (1 << 9) | (1 << 10) | (1 << 19) | (1 << 20)) >>> 0);
    expect(cpuid(createMachine().cpu, 7, 1)).toEqual([0, 0, 0, 0]);
  });
  it('leaf 0BH: one thread (SMT level) and one core', () => {
    const cpu = createMachine().cpu;
    expect(cpuid(cpu, 0xb, 0)).toEqual([0, 1, 0x100, 0]);
    expect(cpuid(cpu, 0xb, 1)).toEqual([0, 1, 0x201, 0]);
    expect(cpuid(cpu, 0xb, 2)).toEqual([0, 0, 2, 0]);
  });
  it('extended leaves: LAHF/LZCNT/PREFETCHW, SYSCALL NX 1GB RDTSCP LM, brand string, address sizes', () => {
    const cpu = createMachine().cpu;
    expect(cpuid(cpu, 0x80000000, 0)[0]).toBe(0x80000008);
    const [, , ecx, edx] = cpuid(cpu, 0x80000001, 0);
    expect(ecx).toBe((1 | (1 << 5) | (1 << 8)) >>> 0);
    expect(edx).toBe(((1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29)) >>> 0);
    const brand = [2, 3, 4].map(i => ascii(...cpuid(cpu, 0x80000000 + i, 0))).join('').replace(/\0+$/, '');
    expect(brand).toBe('vmxray virtual CPU');
    expect(cpuid(cpu, 0x80000008, 0)[0]).toBe((48 << 8) | MAXPHYADDR);
    expect(MAXPHYADDR).toBe(40);
  });
  it('a leaf above the maximum returns the highest basic leaf (Intel behaviour)', () => {
    const cpu = createMachine().cpu;
    expect(cpuid(cpu, 0x20, 0)).toEqual(cpuid(cpu, 0xd, 0));
    expect(cpuid(cpu, 0x80000009, 1)).toEqual(cpuid(cpu, 0xd, 1));
    expect(cpuid(cpu, 0x40000000, 0)).toEqual(cpuid(cpu, 0xd, 0));
    expect(FEATURES.xsave).toBe(false);
    expect(cpuid(cpu, 0xd, 0)).toEqual([0, 0, 0, 0]);        // no XSAVE reported: leaf 0DH reads as zeros
  });
});

describe('time stamp counter', () => {
  it('RDTSC is monotonic and advances across blocks (virtual time = instruction count)', () => {
    // rdtsc; shl rdx,32; or rax,rdx; mov r8,rax; jmp l1; l1: nop; jmp l2; l2: rdtsc; shl rdx,32; or rax,rdx; mov r9,rax; hlt
    const m = createMachine();
    m.cpu.clock.icount = 0x1_2345_6789;
    m.run('0f3148c1e2204809d04989c0eb0090eb000f3148c1e2204809d04989c1f4');
    const t0 = m.cpu.hi[8] * 2 ** 32 + (m.cpu.lo[8] >>> 0), t1 = m.cpu.hi[9] * 2 ** 32 + (m.cpu.lo[9] >>> 0);
    expect(t0).toBeGreaterThanOrEqual(0x1_2345_6789);
    expect(t1).toBeGreaterThan(t0);
  });
  it('RDTSC at CPL 3 works unless CR4.TSD; RDTSCP returns IA32_TSC_AUX in ECX', () => {
    expect(user('0f31').exception).toBeUndefined();
    const m = createMachine({ cpl: 3 });
    m.cpu.cr4 |= CR4_TSD;
    expect(m.exec1('0f31')).toBe(GP);
    expect(m.exec1('0f01f9')).toBe(GP);
    const k = createMachine();
    k.cpu.cr4 |= CR4_TSD;
    k.cpu.msr.write(0xc0000103, 0x42, 0);
    k.cpu.lo[RCX] = -1; k.cpu.hi[RCX] = -1;
    expect(k.exec1('0f01f9')).toBeUndefined();
    expect(k.cpu.lo[RCX]).toBe(0x42);
    expect(k.cpu.hi[RCX]).toBe(0);
  });
  it('RDPMC: #GP at CPL 3 unless CR4.PCE; counters read 0', () => {
    const m = createMachine({ cpl: 3 });
    expect(m.exec1('0f33')).toBe(GP);
    m.cpu.cr4 |= CR4_PCE;
    m.cpu.lo[RAX] = 5; m.cpu.lo[RDX] = 5;
    expect(m.exec1('0f33')).toBeUndefined();
    expect([m.cpu.lo[RAX], m.cpu.lo[RDX]]).toEqual([0, 0]);
  });
});

describe('MOV to/from control registers', () => {
  it('enters IA-32e mode: CR4.PAE, CR3, EFER.LME, CR0.PG (LMA set, compatibility mode), far JMP to 64-bit code', () => {
    // bits 32: mov eax,cr4; or eax,0x20; mov cr4,eax; mov eax,0x10000; mov cr3,eax; mov ecx,0xC0000080; rdmsr;
    //   or eax,0x100; wrmsr; mov eax,cr0; or eax,0x80000000; mov cr0,eax; mov [0x300000],eax; jmp 0x10:long64
    // bits 64: long64: mov rax,0x123456789; mov [0x300008],rax; hlt
    const m = createMachine({ mode: 'prot32' });
    let sawCompat = false;
    m.bus.write32(DATA, 0);
    m.run('0f20e083c8200f22e0b8000001000f22d8b9800000c00f320d000100000f300f20c00d000000800f22c0a300003000ea36001000100048b889674523010000004889042508003000f4', 13);
    sawCompat = m.cpu.mode === MODE_COMPAT && (m.cpu.efer & EFER_LMA) !== 0;
    expect(sawCompat).toBe(true);
    expect(m.bus.read32(DATA) >>> 0).toBe(m.cpu.cr0 >>> 0);    // the store after MOV CR0 ran in compatibility mode
    m.exec.run(m.cpu.clock.icount + 100);
    expect(m.cpu.stop?.reason).toBe('halted');
    expect(m.cpu.mode).toBe(MODE_LONG);
    expect(m.cpu.segSel[CS]).toBe(SEL.KCODE64);
    expect(m.bus.read32(DATA + 8)).toBe(0x23456789);
    expect(m.bus.read32(DATA + 12)).toBe(1);
  });
  it('leaves IA-32e mode from compatibility mode by clearing CR0.PG (LMA = 0)', () => {
    // push 0x08; lea rax,[rel compat]; push rax; retfq; bits 32: compat: mov eax,cr0; and eax,0x7fffffff; mov cr0,eax;
    //   mov ecx,0xC0000080; rdmsr; mov [0x300000],eax; hlt
    const m = createMachine();
    m.run('6a08488d05030000005048cb0f20c025ffffff7f0f22c0b9800000c00f32a300003000f4');
    expect(m.cpu.stop?.reason).toBe('halted');
    expect(m.cpu.mode).toBe(MODE_PROT);
    expect(m.bus.read32(DATA) & (EFER_LMA | EFER_LME)).toBe(EFER_LME);
    expect(m.cpu.cr0 & CR0_PG).toBe(0);
  });
  it('#GP(0) for invalid CR0 combinations (SDM MOV CR: PG without PE, NW without CD, PG with LME but no PAE)', () => {
    const m = createMachine({ mode: 'prot32' });
    m.cpu.lo[RAX] = 0x80000010;                               // PG, PE = 0
    expect(m.exec1('0f22c0')).toBe(GP);
    m.cpu.lo[RAX] = 0x20000011;                               // NW without CD
    expect(m.exec1('0f22c0')).toBe(GP);
    m.cpu.efer |= EFER_LME;
    m.cpu.lo[RAX] = (0x80000011 | 0x20) | 0;                  // PG + PE with LME, CR4.PAE = 0
    expect(m.exec1('0f22c0')).toBe(GP);
    m.cpu.lo[RAX] = 0x00000031 | 0xff00;                      // reserved CR0 bits are ignored, ET stays 1
    expect(m.exec1('0f22c0')).toBeUndefined();
    expect(m.cpu.cr0 >>> 0).toBe(0x31);
  });
  it('64-bit mode: #GP for clearing PG, clearing PAE, CR0[63:32], reserved CR4 and CR3 bits', () => {
    const m = createMachine();
    m.cpu.lo[RAX] = m.cpu.cr0 & ~CR0_PG; m.cpu.hi[RAX] = 0;
    expect(m.exec1('0f22c0')).toBe(GP);                        // mov cr0,rax
    m.cpu.lo[RAX] = m.cpu.cr0; m.cpu.hi[RAX] = 1;
    expect(m.exec1('0f22c0')).toBe(GP);
    m.cpu.lo[RAX] = m.cpu.cr4 & ~0x20; m.cpu.hi[RAX] = 0;
    expect(m.exec1('0f22e0')).toBe(GP);                        // mov cr4,rax without PAE
    for (const bit of [0, 1, 11, 12, 14, 16, 18, 22]) {        // VME PVI UMIP LA57 SMXE FSGSBASE OSXSAVE PKE
      m.cpu.lo[RAX] = m.cpu.cr4 | (1 << bit);
      expect(m.exec1('0f22e0'), `CR4 bit ${bit}`).toBe(GP);
    }
    m.cpu.lo[RAX] = m.cpu.cr4 | (1 << 13);                    // VMXE is writable (the VMX work uses it)
    expect(m.exec1('0f22e0')).toBeUndefined();
    m.cpu.lo[RAX] = PML4; m.cpu.hi[RAX] = 1 << (MAXPHYADDR - 32);
    expect(m.exec1('0f22d8')).toBe(GP);                        // mov cr3,rax with bit 40 set
  });
  it('CR4.PCIDE: only with CR3[11:0] = 0; then CR3 bit 63 means "do not flush" and is not stored', () => {
    const m = createMachine();
    m.cpu.cr3 = PML4 + 5;
    m.cpu.lo[RAX] = m.cpu.cr4 | (1 << 17);
    expect(m.exec1('0f22e0')).toBe(GP);
    m.cpu.cr3 = PML4;
    expect(m.exec1('0f22e0')).toBeUndefined();
    m.cpu.lo[RAX] = PML4 + 1; m.cpu.hi[RAX] = 0x80000000 | 0;
    expect(m.exec1('0f22d8')).toBeUndefined();
    expect(m.cpu.cr3).toBe(PML4 + 1);
    m.cpu.lo[RAX] = m.cpu.cr0 & ~CR0_PG; m.cpu.hi[RAX] = 0;    // clearing PG with PCIDE
    expect(m.exec1('0f22c0')).toBe(GP);
  });
  it('CR8 is the TPR: 4 bits, #GP for reserved bits', () => {
    const m = createMachine();
    m.cpu.lo[RAX] = 0xb;
    expect(m.exec1('440f22c0')).toBeUndefined();
    expect((m.cpu as unknown as { cr8: number }).cr8).toBe(0xb);
    m.cpu.lo[RAX] = -1; m.cpu.hi[RAX] = -1;
    expect(m.exec1('440f20c0')).toBeUndefined();
    expect([m.cpu.lo[RAX], m.cpu.hi[RAX]]).toEqual([0xb, 0]);
    m.cpu.lo[RAX] = 0x10;
    expect(m.exec1('440f22c0')).toBe(GP);
  });
  it('CLTS clears TS; LMSW sets PE but cannot clear it; SMSW stores CR0', () => {
    // mov eax,cr0; mov [0x300000],eax; lmsw ax; mov eax,0xe; lmsw ax; mov eax,cr0; mov [0x300004],eax;
    // xor eax,eax; lmsw ax; mov eax,cr0; mov [0x300008],eax; clts; mov eax,cr0; mov [0x30000c],eax; hlt
    const m = createMachine({ mode: 'prot32' });
    m.run('0f20c0a3000030000f01f0b80e0000000f01f00f20c0a30400300031c00f01f00f20c0a3080030000f060f20c0a30c003000f4');
    const cr0 = m.bus.read32(DATA);
    expect(m.bus.read32(DATA + 4)).toBe((cr0 & ~0xe) | 0xe | 1);
    expect(m.bus.read32(DATA + 8)).toBe((cr0 & ~0xe) | 1);     // PE stays set
    expect(m.bus.read32(DATA + 12) & CR0_TS).toBe(0);
    // mov rax,-1; smsw rax; mov rbx,-1; smsw ebx; mov rcx,-1; smsw cx; smsw [0x300000]; hlt
    const l = createMachine();
    l.run('48c7c0ffffffff480f01e048c7c3ffffffff0f01e348c7c1ffffffff660f01e10f01242500003000f4');
    expect([l.cpu.lo[RAX] >>> 0, l.cpu.hi[RAX]]).toEqual([l.cpu.cr0 >>> 0, 0]);
    expect([l.cpu.lo[RBX] >>> 0, l.cpu.hi[RBX]]).toEqual([l.cpu.cr0 >>> 0, 0]);
    expect([l.cpu.lo[RCX] >>> 0, l.cpu.hi[RCX]]).toEqual([(0xffff0000 | (l.cpu.cr0 & 0xffff)) >>> 0, -1]);
    expect(l.bus.read16(DATA)).toBe(l.cpu.cr0 & 0xffff);
  });
  it('FWAIT raises #NM only when CR0.MP and CR0.TS are both set', () => {
    const m = createMachine();
    m.cpu.cr0 |= CR0_TS;
    m.cpu.cr0 &= ~CR0_MP;
    expect(m.exec1('9b')).toBeUndefined();
    m.cpu.cr0 |= CR0_MP;
    expect(m.exec1('9b')).toBe(NM);
  });
});

describe('MOV to/from debug registers', () => {
  it('DR7 bit 10 reads 1, DR6 reserved bits read 1; DR0 holds 64 bits; DR7[63:32] must be 0', () => {
    const m = createMachine();
    m.cpu.lo[RAX] = 0; m.cpu.hi[RAX] = 0;
    expect(m.exec1('0f23f8')).toBeUndefined();                 // mov dr7,rax
    expect(m.exec1('0f21f8')).toBeUndefined();                 // mov rax,dr7
    expect(m.cpu.lo[RAX]).toBe(0x400);
    m.cpu.lo[RAX] = 0x12345678; m.cpu.hi[RAX] = 0x7fff;
    expect(m.exec1('0f23c0')).toBeUndefined();                 // mov dr0,rax
    m.cpu.lo[RAX] = 0; m.cpu.hi[RAX] = 0;
    expect(m.exec1('0f21c0')).toBeUndefined();
    expect([m.cpu.lo[RAX], m.cpu.hi[RAX]]).toEqual([0x12345678, 0x7fff]);
    m.cpu.lo[RAX] = 0; m.cpu.hi[RAX] = 1;
    expect(m.exec1('0f23f8')).toBe(GP);
  });
  it('DR7.GD makes the next MOV DR a #DB fault with DR6.BD set', () => {
    const m = createMachine();
    m.cpu.dr[7] = 0x2400;
    expect(m.exec1('0f21c0')).toBe(1);
    expect(m.cpu.dr[6] & 0x2000).toBe(0x2000);
    expect(m.cpu.dr[7] & 0x2000).toBe(0);
  });
});

describe('descriptor tables', () => {
  it('LGDT/SGDT/LIDT/SIDT (64-bit), LTR marks the TSS busy, STR/SLDT/LLDT', () => {
    // lgdt [0x300000]; sgdt [0x300010]; lidt [0x300020]; sidt [0x300030]; mov ax,0x40; ltr ax; mov rbx,-1; str rbx;
    // mov ax,0x50; lldt ax; mov rcx,-1; sldt ecx; sldt [0x300040]; mov rdx,-1; str dx; hlt
    const m = createMachine();
    m.bus.writeBytes(DATA, hex('8700 0010000000000000'));
    m.bus.writeBytes(DATA + 0x20, hex('ff0f 0020000000000000'));
    m.bus.write32(GDT + SEL.TSS + 4, m.bus.read32(GDT + SEL.TSS + 4) & ~0x200);   // available again
    m.cpu.segSel[TR] = 0;
    m.run('0f011425000030000f010425100030000f011c25200030000f010c253000300066b840000f00d848c7c3ffffffff480f00cb66b850000f00d048c7c1ffffffff0f00c10f0004254000300048c7c2ffffffff660f00caf4');
    expect(m.cpu.stop?.reason).toBe('halted');
    expect(m.vector()).toBeUndefined();
    expect([m.cpu.gdtBase, m.cpu.gdtLimit, m.cpu.idtBase, m.cpu.idtLimit]).toEqual([GDT, GDT_LIMIT, 0x2000, 0xfff]);
    expect(Buffer.from(m.bus.readBytes(DATA + 0x10, 10)).toString('hex')).toBe('87000010000000000000');
    expect(Buffer.from(m.bus.readBytes(DATA + 0x30, 10)).toString('hex')).toBe('ff0f0020000000000000');
    expect((m.bus.read32(GDT + SEL.TSS + 4) >> 8) & 0xf).toBe(0xb);                 // busy 64-bit TSS
    expect([m.cpu.segSel[TR], m.cpu.segBase[TR], m.cpu.segLimit[TR]]).toEqual([SEL.TSS, TSS, TSS_LIMIT]);
    expect([m.cpu.lo[RBX], m.cpu.hi[RBX]]).toEqual([SEL.TSS, 0]);                   // STR r64: zero-extended
    expect([m.cpu.lo[RCX], m.cpu.hi[RCX]]).toEqual([SEL.LDT, 0]);                   // SLDT r32
    expect(m.cpu.lo[RDX]).toBe((0xffff0000 | SEL.TSS) | 0);                           // STR r16 keeps bits 63:16
    expect(m.bus.read16(DATA + 0x40)).toBe(SEL.LDT);
    expect([m.cpu.segBase[LDTR], m.cpu.segLimit[LDTR]]).toEqual([0x7000, 0x17]);
  });
  it('LTR of a busy TSS, or of a non-TSS descriptor, is #GP(selector)', () => {
    const m = createMachine();
    m.cpu.lo[RAX] = SEL.TSS;
    expect(m.exec1('0f00d8')).toBe(GP);
    m.cpu.lo[RAX] = SEL.KDATA;
    expect(m.exec1('0f00d8')).toBe(GP);
  });
  it('LGDT with a 16-bit operand size loads a 24-bit base; SGDT stores 32 bits', () => {
    // o16 lgdt [0x300000]; sgdt [0x300010]; hlt
    const m = createMachine({ mode: 'prot32' });
    m.bus.writeBytes(DATA, hex('8700 00109955'));
    m.run('660f0115000030000f010510003000f4');
    expect(m.cpu.gdtBase).toBe(0x991000 & 0xffffff);
    expect(Buffer.from(m.bus.readBytes(DATA + 0x10, 6)).toString('hex')).toBe('870000109900');
  });
  it('SGDT/SIDT/SLDT/STR/SMSW work at CPL 3 (UMIP is not reported)', () => {
    const m = createMachine({ cpl: 3 });
    expect(m.exec1('0f01042500003000')).toBeUndefined();
    expect(m.bus.read16(DATA)).toBe(GDT_LIMIT);
    expect(m.exec1('660f00c0')).toBeUndefined();               // sldt ax
    expect(m.exec1('0f01e0')).toBeUndefined();                 // smsw eax
  });
  it('SLDT and LAR are #UD in real-address mode', () => {
    const m = createMachine({ mode: 'prot32' });
    m.cpu.cr0 &= ~1; m.cpu.updateMode();
    expect(m.exec1('0f00c0')).toBe(UD);
    expect(m.exec1('0f02c3')).toBe(UD);
  });
});

describe('LAR, LSL, VERR, VERW', () => {
  const zf = (m: ReturnType<typeof createMachine>) => (m.cpu.getFlags() & ZF) !== 0;
  function run(m: ReturnType<typeof createMachine>, code: string, sel: number, dest = 0x55555555) {
    m.cpu.lo[RBX] = sel; m.cpu.lo[RAX] = dest; m.cpu.hi[RAX] = 0x11111111;
    expect(m.exec1(code)).toBeUndefined();
    return zf(m);
  }
  it('LAR returns the access rights (second doubleword & 00FxFF00H) for code, data, TSS, LDT', () => {
    const m = createMachine();
    expect(run(m, '0f02c3', SEL.KCODE64)).toBe(true);
    expect(m.cpu.lo[RAX]).toBe(0x00af9b00);
    expect(m.cpu.hi[RAX]).toBe(0);
    expect(run(m, '660f02c3', SEL.KDATA)).toBe(true);
    expect(m.cpu.lo[RAX] >>> 0).toBe(0x55559300);
    expect(run(m, '480f02c3', SEL.TSS)).toBe(true);
    expect(m.cpu.lo[RAX] & 0xff00).toBe(0x8b00);
    expect(run(m, '0f02c3', SEL.LDT)).toBe(true);
    expect(run(m, '0f02c3', SEL.CALLGATE)).toBe(true);        // 64-bit call gate (type 0CH) is valid in IA-32e mode
  });
  it('LAR: ZF = 0 and the destination unchanged for null, beyond-limit, invalid-type and too-privileged selectors', () => {
    const m = createMachine();
    for (const sel of [0, 3, GDT_LIMIT + 1, 0x1000]) {
      expect(run(m, '0f02c3', sel), `sel ${sel}`).toBe(false);
      expect(m.cpu.lo[RAX]).toBe(0x55555555);
      expect(m.cpu.hi[RAX]).toBe(0x11111111);
    }
    m.bus.write32(GDT + 0x88, 0); m.bus.write32(GDT + 0x8c, 0x8300);   // type 3 (busy 16-bit TSS): invalid in IA-32e mode
    m.cpu.gdtLimit = 0x8f;
    expect(run(m, '0f02c3', 0x88)).toBe(false);
    const u = createMachine({ cpl: 3 });
    expect(run(u, '0f02c3', SEL.KCODE64)).toBe(false);       // DPL 0 < CPL 3
    expect(run(u, '0f02c3', SEL.CONFORMING)).toBe(true);      // conforming code: no privilege check
    expect(run(u, '0f02c3', SEL.UDATA)).toBe(true);
    const k = createMachine();
    expect(run(k, '0f02c3', SEL.DPL1DATA | 3)).toBe(false);  // RPL 3 > DPL 1
  });
  it('LSL returns the byte-granular limit; the LDT type is valid, a gate is not', () => {
    const m = createMachine();
    expect(run(m, '480f03c3', SEL.KDATA)).toBe(true);
    expect([m.cpu.lo[RAX] >>> 0, m.cpu.hi[RAX]]).toEqual([0xffffffff, 0]);
    expect(run(m, '0f03c3', SEL.LDT)).toBe(true);
    expect(m.cpu.lo[RAX]).toBe(0x17);
    expect(run(m, '0f03c3', SEL.TSS)).toBe(true);
    expect(m.cpu.lo[RAX]).toBe(TSS_LIMIT);
    expect(run(m, '0f03c3', SEL.CALLGATE)).toBe(false);
  });
  it('VERR/VERW: data readable and writable, code readable not writable, read-only data not writable', () => {
    const m = createMachine();
    expect(run(m, '0f00e3', SEL.KDATA)).toBe(true);
    expect(run(m, '0f00eb', SEL.KDATA)).toBe(true);
    expect(run(m, '0f00e3', SEL.KCODE64)).toBe(true);
    expect(run(m, '0f00eb', SEL.KCODE64)).toBe(false);
    expect(run(m, '0f00eb', SEL.EXPDOWN)).toBe(false);
    expect(run(m, '0f00e3', SEL.TSS)).toBe(false);            // system segment
    expect(run(m, '0f00e3', 0)).toBe(false);
    const u = createMachine({ cpl: 3 });
    expect(run(u, '0f00e3', SEL.KDATA)).toBe(false);
    expect(run(u, '0f00e3', SEL.CONFORMING)).toBe(true);
    expect(run(u, '0f00eb', SEL.UDATA)).toBe(true);
  });
});

describe('MSRs', () => {
  it('RDMSR/WRMSR at CPL 0; an MSR the model lacks is #GP(0)', () => {
    const m = createMachine();
    m.cpu.lo[RCX] = 0xc0000080 | 0; m.cpu.hi[RAX] = -1;
    expect(m.exec1('0f32')).toBeUndefined();
    expect(m.cpu.lo[RAX]).toBe(m.cpu.efer);
    expect(m.cpu.hi[RAX]).toBe(0);
    m.cpu.lo[RCX] = 0x12345;
    expect(m.exec1('0f32')).toBe(GP);
    expect(m.exec1('0f30')).toBe(GP);
  });
});

describe('fast system calls', () => {
  it('SYSRET (REX.W) to 64-bit user code at CPL 3, SYSCALL back to LSTAR with RCX/R11 and FMASK applied', () => {
    // STAR = 0023_0010_0000_0000; LSTAR = kentry; FMASK = DF; lea rcx,[rel user]; mov r11d,0x402; o64 sysret
    // user: mov ax,cs; mov [0x300000],ax; mov ax,ss; mov [0x300002],ax; pushfq; pop qword [0x300008]; syscall; after: ud2
    // kentry: hlt
    const code = 'b9810000c031c0ba100023000f30b9820000c0488d05490000004889c248c1ea200f30b9840000c0b80004000031d20f30488d0d0900000041bb02040000480f07668cc86689042500003000668cd066890425020030009c8f0425080030000f050f0bf4';
    const m = createMachine();
    m.run(code);
    const bytes = hex(code), after = CODE + bytes.length - 3, kentry = CODE + bytes.length - 1;
    expect(m.cpu.stop?.reason).toBe('halted');
    expect(m.cpu.rip).toBe(kentry + 1);
    expect(m.bus.read16(DATA)).toBe(SEL.UCODE64);              // STAR[63:48] + 16, RPL 3
    expect(m.bus.read16(DATA + 2)).toBe(SEL.UDATA);            // STAR[63:48] + 8, RPL 3
    expect(m.bus.read32(DATA + 8) & 0x3c7fd7).toBe(0x402);     // RFLAGS from R11
    expect([m.cpu.segSel[CS], m.cpu.segSel[SS], m.cpu.cpl]).toEqual([SEL.KCODE64, SEL.KDATA, 0]);
    expect(m.cpu.segAr[CS]).toBe(0xa09b);
    expect(m.cpu.lo[RCX]).toBe(after);
    expect(m.cpu.lo[11] & 0x3c7fd7).toBe(0x402);
    expect(m.cpu.getFlags() & DF).toBe(0);                     // FMASK cleared DF
  });
  it('SYSRET without REX.W returns to compatibility mode at ECX (CPL 3: the HLT there is #GP)', () => {
    const m = createMachine();
    m.bus.writeBytes(0x100400, hex('8c0d00003000f4'));         // bits 32: mov [0x300000],cs; hlt
    // mov ecx,0xC0000081; xor eax,eax; mov edx,0x00230010; wrmsr; mov ecx,0x100400; mov r11d,2; sysret
    m.run('b9810000c031c0ba100023000f30b90004100041bb020000000f07');
    expect(m.bus.read16(DATA)).toBe(SEL.UCODE32);
    expect(m.vector()).toBe(GP);
    // the 64-bit interrupt frame: error code, RIP, CS, RFLAGS, RSP, SS
    const sp = m.cpu.lo[RSP];
    expect(m.bus.read32(sp + 8)).toBe(0x100406);
    expect(m.bus.read16(sp + 16)).toBe(SEL.UCODE32);
    expect(m.bus.read16(sp + 40)).toBe(SEL.UDATA);
  });
  it('a fault pushes RFLAGS.RF = 1, a trap (INT3) pushes it as it was (SDM "Instruction-Breakpoint Exception Condition")', () => {
    const m = createMachine();
    m.run('0f0b');                                             // ud2: #UD, a fault
    expect(m.vector()).toBe(6);
    let sp = m.cpu.lo[RSP];
    expect(m.bus.read32(sp + 16) & (1 << 16)).toBe(1 << 16);   // frame: RIP, CS, RFLAGS (no error code)
    expect(m.cpu.getFlags() & (1 << 16)).toBe(0);              // RF is clear in the handler
    const t = createMachine();
    t.run('cc');                                               // int3: #BP, a trap
    expect(t.vector()).toBe(3);
    sp = t.cpu.lo[RSP];
    expect(t.bus.read32(sp + 16) & (1 << 16)).toBe(0);
  });
  it('SYSRET with a non-canonical RCX is #GP(0) at CPL 0', () => {
    const m = createMachine();
    m.cpu.lo[RCX] = 0; m.cpu.hi[RCX] = 0x8000;
    expect(m.exec1('480f07')).toBe(GP);
    expect(m.cpu.cpl).toBe(0);
  });
  it('SYSEXIT (REX.W) to 64-bit user code, SYSENTER back (CS = SYSENTER_CS, SS = +8, RSP = SYSENTER_ESP)', () => {
    // SYSENTER_CS = 0x10; SYSENTER_ESP = 0x1f0000; SYSENTER_EIP = kentry; lea rdx,[rel user]; mov rcx,0x1e0000; o64 sysexit
    // user: mov [0x300000],cs; mov [0x300002],ss; mov [0x300008],rsp; sysenter; kentry: hlt
    const m = createMachine();
    m.run('b974010000b81000000031d20f30b975010000b800001f000f30b976010000488d05290000000f30488d1508000000b900001e00480f358c0c25000030008c14250200300048892425080030000f34f4');
    expect(m.cpu.stop?.reason).toBe('halted');
    expect(m.bus.read16(DATA)).toBe(0x10 + 32 + 3);
    expect(m.bus.read16(DATA + 2)).toBe(0x10 + 40 + 3);
    expect(m.bus.read32(DATA + 8)).toBe(0x1e0000);
    expect([m.cpu.segSel[CS], m.cpu.segSel[SS], m.cpu.cpl, m.cpu.mode]).toEqual([0x10, 0x18, 0, MODE_LONG]);
    expect(m.cpu.lo[RSP]).toBe(0x1f0000);
  });
  it('SYSENTER with SYSENTER_CS = 0 is #GP(0)', () => {
    const m = createMachine();
    expect(m.exec1('0f34')).toBe(GP);
  });
  it('SWAPGS exchanges GS.base and IA32_KERNEL_GS_BASE', () => {
    // wrmsr GS_BASE = 0x1111; wrmsr KERNEL_GS_BASE = 0x2222; swapgs; mov rax,[gs:0]; hlt
    const m = createMachine();
    m.bus.write32(0x2222, 0xabcd);
    m.run('b9010100c0b81111000031d20f30b9020100c0b8222200000f300f01f865488b042500000000f4');
    expect(m.cpu.segBase[GS]).toBe(0x2222);
    expect(m.cpu.msr.read(0xc0000102)).toEqual([0x1111, 0]);
    expect(m.cpu.lo[RAX]).toBe(0xabcd);
  });
});

describe('XGETBV/XSETBV', () => {
  it('XCR0 accepts x87|SSE only, bit 0 must be set; #GP at CPL 3; ECX must be 0', () => {
    const m = createMachine();
    m.cpu.cr4 |= CR4_OSXSAVE;                                 // (MOV CR4 refuses OSXSAVE while XSAVE is not reported)
    m.cpu.lo[RCX] = 0; m.cpu.lo[RDX] = 0;
    m.cpu.lo[RAX] = 3; expect(m.exec1('0f01d1')).toBeUndefined();
    expect(m.cpu.xcr0).toBe(3);
    for (const v of [2, 7, 0]) { m.cpu.lo[RAX] = v; expect(m.exec1('0f01d1'), `XCR0=${v}`).toBe(GP); }
    m.cpu.lo[RAX] = 1; m.cpu.lo[RDX] = 1; expect(m.exec1('0f01d1')).toBe(GP);
    m.cpu.lo[RDX] = 0; m.cpu.lo[RCX] = 1; expect(m.exec1('0f01d1')).toBe(GP);
    m.cpu.lo[RCX] = 0; m.cpu.lo[RAX] = -1;
    expect(m.exec1('0f01d0')).toBeUndefined();
    expect([m.cpu.lo[RAX], m.cpu.lo[RDX]]).toEqual([3, 0]);
    const u = createMachine({ cpl: 3 });
    u.cpu.cr4 |= CR4_OSXSAVE; u.cpu.lo[RAX] = 3;
    expect(u.exec1('0f01d1')).toBe(GP);
    expect(u.exec1('0f01d0')).toBeUndefined();                 // XGETBV is allowed at any CPL
  });
});

describe('I/O instructions and the I/O permission bit map', () => {
  function device(m: ReturnType<typeof createMachine>, ports: number[]) {
    const log: string[] = [];
    m.io.register({
      portRead: (p, s) => { log.push(`in ${p.toString(16)}/${s}`); return 0x89abcdef; },
      portWrite: (p, s, v) => { log.push(`out ${p.toString(16)}/${s}=${v.toString(16)}`); },
    }, ports);
    return log;
  }
  it('CPL 0: IN/OUT in all sizes reach the port bus; IN EAX zero-extends, IN AL/AX merge', () => {
    const m = createMachine();
    const log = device(m, [0x80, 0x81, 0x82, 0x83]);
    m.cpu.lo[RAX] = 0x11223344; m.cpu.hi[RAX] = 0x55;
    expect(m.exec1('e480')).toBeUndefined();
    expect([m.cpu.lo[RAX], m.cpu.hi[RAX]]).toEqual([0x112233ef, 0x55]);
    m.cpu.lo[RDX] = 0x80;
    expect(m.exec1('66ed')).toBeUndefined();
    expect(m.cpu.lo[RAX]).toBe(0x1122cdef);
    expect(m.exec1('ed')).toBeUndefined();
    expect([m.cpu.lo[RAX] >>> 0, m.cpu.hi[RAX]]).toEqual([0x89abcdef, 0]);
    m.cpu.lo[RAX] = 0x12345678;
    expect(m.exec1('ee')).toBeUndefined();
    expect(m.exec1('e780')).toBeUndefined();
    expect(log).toEqual(['in 80/1', 'in 80/2', 'in 80/4', 'out 80/1=78', 'out 80/4=12345678']);
  });
  it('CPL 3 with IOPL 3 needs no bitmap; with IOPL 0 every accessed port bit must be clear', () => {
    const m = createMachine({ cpl: 3 });
    device(m, [0x87, 0x88]);
    m.cpu.lo[RDX] = 0x87;
    expect(m.exec1('66ed')).toBeUndefined();                  // bits for 0x87 and 0x88: clear
    m.bus.write8(IOMAP + 0x11, 0x01);                         // deny 0x88 (second byte of the word access)
    expect(m.exec1('66ed')).toBe(GP);
    expect(m.exec1('ec')).toBeUndefined();                    // a byte access to 0x87 alone is allowed
    m.cpu.setFlags(m.cpu.getFlags() | IOPL, IOPL);            // (set directly: POPF at CPL 3 cannot)
    m.cpu.eflags |= IOPL;
    expect(m.exec1('66ed')).toBeUndefined();
  });
  it('the two bitmap bytes read must lie within the TSS limit; a TSS limit below 67H denies all', () => {
    const m = createMachine({ cpl: 3 });
    device(m, [0xffff]);
    m.cpu.lo[RDX] = 0xffff;
    expect(m.exec1('ec')).toBeUndefined();                    // reads bitmap byte 1FFFH and the 0xFF terminator
    m.cpu.segLimit[TR] = TSS_LIMIT - 1;                       // the terminator is now outside the TSS
    expect(m.exec1('ec')).toBe(GP);
    m.cpu.segLimit[TR] = 0x60;
    m.cpu.lo[RDX] = 0;
    expect(m.exec1('ec')).toBe(GP);
  });
});

describe('TLB maintenance', () => {
  function setup() {
    const m = createMachine();
    m.bus.write32(0x150000, 0x1111); m.bus.write32(0x160000, 0x2222);
    return m;
  }
  it('after a PTE change the old translation may stay until INVLPG; after INVLPG the new one is used', () => {
    // mov rax,[0x150000]; mov [0x300000],rax; mov qword [0x13a80],0x160007 (the PTE of 0x150000 → 0x160000);
    // mov rax,[0x150000]; mov [0x300008],rax; invlpg [0x150000]; mov rax,[0x150000]; mov [0x300010],rax; hlt
    const m = setup();
    m.run('488b042500001500488904250000300048c70425803a010007001600488b04250000150048890425080030000f013c2500001500488b0425000015004889042510003000f4');
    expect(m.bus.read32(DATA)).toBe(0x1111);
    expect(m.bus.read32(DATA + 8)).toBe(0x1111);              // stale: vmxray's TLB kept the old translation
    expect(m.bus.read32(DATA + 16)).toBe(0x2222);
  });
  it('MOV CR3 flushes non-global translations', () => {
    // mov rax,[0x150000]; mov qword [0x13a80],0x160007; mov rbx,[0x150000]; mov rax,cr3; mov cr3,rax; mov rcx,[0x150000]; hlt
    const m = setup();
    m.run('488b04250000150048c70425803a010007001600488b1c25000015000f20d80f22d8488b0c2500001500f4');
    expect([m.cpu.lo[RBX], m.cpu.lo[RCX]]).toEqual([0x1111, 0x2222]);
  });
  it('global pages (CR4.PGE) survive MOV CR3; INVPCID type 2 flushes them', () => {
    // mov rax,cr4; or rax,0x80; mov cr4,rax; mov qword [0x13a80],0x150107; invlpg [0x150000]; mov rax,[0x150000];
    // mov qword [0x13a80],0x160107; mov rax,cr3; mov cr3,rax; mov rbx,[0x150000]; mov ecx,2; invpcid rcx,[0x300100];
    // mov rdx,[0x150000]; hlt
    const m = setup();
    m.run('0f20e0480d800000000f22e048c70425803a0100070115000f013c2500001500488b04250000150048c70425803a0100070116000f20d80f22d8488b1c2500001500b90200000066480f38820c2500013000488b142500001500f4');
    expect(m.vector()).toBeUndefined();
    expect([m.cpu.lo[RBX], m.cpu.lo[RDX]]).toEqual([0x1111, 0x2222]);
  });
  it('INVPCID: #GP for type > 3, reserved descriptor bits, non-canonical type-0 address, PCID without PCIDE', () => {
    const m = createMachine();
    const inv = (type: number, desc: string) => {
      m.bus.writeBytes(DATA + 0x100, hex(desc));
      m.cpu.lo[RCX] = type; m.cpu.hi[RCX] = 0;
      return m.exec1('66480f38820c2500013000');
    };
    expect(inv(4, '00'.repeat(16))).toBe(GP);
    expect(inv(3, '0010000000000000' + '00'.repeat(8))).toBe(GP);      // bit 12 set
    expect(inv(0, '00'.repeat(8) + '0000000000800000')).toBe(GP);      // address 0x0000800000000000
    expect(inv(1, '0100000000000000' + '00'.repeat(8))).toBe(GP);      // PCID 1 with CR4.PCIDE = 0
    expect(inv(0, '00'.repeat(8) + '0000150000000000')).toBeUndefined();
    expect(inv(3, '00'.repeat(16))).toBeUndefined();
    const u = createMachine({ cpl: 3 });
    u.cpu.lo[RCX] = 2;
    expect(u.exec1('66480f38820c2500013000')).toBe(GP);
  });
  it('a #PF on a page whose PTE was cleared after INVLPG (CR2 = the address)', () => {
    const m = setup();
    m.bus.write32(0x13a80, 0);
    m.cpu.lo[RAX] = 0;
    m.run('488b042500001500f4');                              // mov rax,[0x150000]; hlt
    expect(m.vector()).toBe(PF);
    expect(m.cpu.cr2).toBe(0x150000);
  });
});

describe('HLT', () => {
  it('at CPL 0 halts; with IF = 0 nothing can wake the CPU, so the run stops', () => {
    const m = createMachine();
    m.run('f4');
    expect(m.cpu.stop?.reason).toBe('halted');
    expect(m.cpu.halted).toBe(true);
    expect(m.cpu.rip).toBe(CODE + 1);
    expect(STUBS).toBeGreaterThan(0);
  });
});
