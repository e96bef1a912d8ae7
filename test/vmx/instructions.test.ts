import { describe, it, expect } from 'vitest';
import { createMachine, DATA, type Machine } from '../cpu/helpers/machine.js';
import { VmExit } from '../../src/cpu/fault.js';
import { RAX, RCX, CF, PF, AF, ZF, SF, OF, DF, CS, SS, CR4_VMXE, CR0_NE } from '../../src/cpu/regs.js';
import { setFeatureControl } from '../../src/vmx/caps.js';

/**
 * The VMX instructions of root operation, run from their real encodings on a 64-bit CPL-0 CPU (and
 * a 32-bit protected-mode one), against the Operation sections of the SDM Vol. 3C "VMX Instruction
 * Reference" pages and the table "VM-Instruction Error Numbers". The revision identifier is read
 * from IA32_VMX_BASIC, as a hypervisor does.
 */
const ARITH = CF | PF | AF | ZF | SF | OF;
const VMXON_REGION = 0x500000, VMCS_A = 0x501000, VMCS_B = 0x502000, PTR = DATA, DESC = DATA + 0x100;

// encodings (ModRM with [rax] / [eax] and rcx as the register operand)
const VMXON = 'f30fc730', VMCLEAR = '660fc730', VMPTRLD = '0fc730', VMPTRST = '0fc738';
const VMREAD_RAX_RCX = '0f78c8';   // VMREAD rax, rcx   (field in rcx → rax)
const VMREAD_MEM_RCX = '0f7808';   // VMREAD [rax], rcx
const VMWRITE_RCX_RAX = '0f79c8';  // VMWRITE rcx, rax  (field in rcx ← rax)
const VMWRITE_RCX_MEM = '0f7908';  // VMWRITE rcx, [rax]
const VMXOFF = '0f01c4', VMCALL = '0f01c1', VMLAUNCH = '0f01c2', VMRESUME = '0f01c3', VMFUNC = '0f01d4';
const INVEPT = '660f388008', INVVPID = '660f388108';  // INV* rcx, [rax]

function machine(opts: Parameters<typeof createMachine>[0] = {}): Machine & { rev: number } {
  const m = createMachine(opts);
  m.cpu.cr4 |= CR4_VMXE;
  const rev = m.cpu.msr.read(0x480)[0];
  for (const r of [VMXON_REGION, VMCS_A, VMCS_B]) m.bus.write32(r, rev);
  return Object.assign(m, { rev });
}
/** Put the 64-bit pointer at PTR, point RAX at it, run `code`; arithmetic flags are all set before. */
function withPtr(m: Machine, code: string, lo: number, hi = 0): number | undefined {
  m.bus.write32(PTR, lo); m.bus.write32(PTR + 4, hi);
  m.cpu.lo[RAX] = PTR; m.cpu.hi[RAX] = 0;
  return run(m, code);
}
function run(m: Machine, code: string): number | undefined {
  m.cpu.setFlags(ARITH | 2);
  return m.exec1(code);
}
const flags = (m: Machine) => m.cpu.getFlags() & ARITH;
const vmxon = (m: Machine, pa = VMXON_REGION) => withPtr(m, VMXON, pa);
const vmptrld = (m: Machine, pa: number) => withPtr(m, VMPTRLD, pa);
const vmclear = (m: Machine, pa: number) => withPtr(m, VMCLEAR, pa);
function vmwrite(m: Machine, enc: number, lo: number, hi = 0): number | undefined {
  m.cpu.lo[RCX] = enc; m.cpu.hi[RCX] = 0; m.cpu.lo[RAX] = lo; m.cpu.hi[RAX] = hi;
  return run(m, VMWRITE_RCX_RAX);
}
function vmread(m: Machine, enc: number, encHi = 0): [number, number] {
  m.cpu.lo[RCX] = enc; m.cpu.hi[RCX] = encHi; m.cpu.lo[RAX] = 0x11111111; m.cpu.hi[RAX] = 0x22222222;
  expect(run(m, VMREAD_RAX_RCX)).toBeUndefined();
  return [m.cpu.lo[RAX] >>> 0, m.cpu.hi[RAX] >>> 0];
}
/** The VM-instruction error field (0x4400) of the current VMCS, read with VMREAD. */
function vmInstructionError(m: Machine): number {
  const saved = m.cpu.getFlags();
  const v = vmread(m, 0x4400)[0];
  m.cpu.setFlags(saved);
  return v;
}
/** In VMX root operation with VMCS_A current. */
function ready(opts: Parameters<typeof createMachine>[0] = {}) {
  const m = machine(opts);
  expect(vmxon(m)).toBeUndefined(); expect(flags(m)).toBe(0);
  expect(vmclear(m, VMCS_A)).toBeUndefined(); expect(flags(m)).toBe(0);
  expect(vmptrld(m, VMCS_A)).toBeUndefined(); expect(flags(m)).toBe(0);
  return m;
}
function toCpl3(m: Machine) {
  m.cpu.segAr[CS] = 0xa0fb; m.cpu.segSel[CS] = 0x33; m.cpu.segAr[SS] = 0xc0f3; m.cpu.segSel[SS] = 0x2b; m.cpu.updateMode();
  expect(m.cpu.cpl).toBe(3);
}
function toCompat(m: Machine) {
  m.cpu.segAr[CS] = 0xc09b; m.cpu.segSel[CS] = 0x08; m.cpu.updateMode();
}

describe('VMXON', () => {
  it('raises #UD when CR4.VMXE = 0', () => {
    const m = machine(); m.cpu.cr4 &= ~CR4_VMXE;
    expect(vmxon(m)).toBe(6);
  });
  it('raises #UD in compatibility mode', () => {
    const m = machine(); toCompat(m);
    expect(vmxon(m)).toBe(6);
  });
  it('raises #GP(0) at CPL 3', () => {
    const m = machine({ cpl: 3 });
    expect(vmxon(m)).toBe(13);
  });
  it('raises #GP(0) when IA32_FEATURE_CONTROL is unlocked, or locked without VMX outside SMX', () => {
    const m = machine();
    setFeatureControl(m.cpu.msr, { locked: false });
    expect(vmxon(m)).toBe(13);
    m.cpu.msr.setRaw(0x3a, 1, 0);
    expect(vmxon(m)).toBe(13);
    m.cpu.msr.setRaw(0x3a, 5, 0);
    expect(vmxon(m)).toBeUndefined();
  });
  it('raises #GP(0) when CR0 holds a value not allowed in VMX operation (NE = 0)', () => {
    const m = machine(); m.cpu.cr0 &= ~CR0_NE;
    expect(vmxon(m)).toBe(13);
  });
  it('VMfailInvalid (CF) for a pointer that is not 4-KiB aligned, beyond the physical-address width, or a wrong revision', () => {
    const m = machine();
    expect(vmxon(m, VMXON_REGION + 8)).toBeUndefined(); expect(flags(m)).toBe(CF);
    expect(withPtr(m, VMXON, VMXON_REGION, 0x100)).toBeUndefined(); expect(flags(m)).toBe(CF); // bit 40
    m.bus.write32(VMCS_B, m.rev + 1);
    expect(vmxon(m, VMCS_B)).toBeUndefined(); expect(flags(m)).toBe(CF);
    m.bus.write32(VMCS_B, (m.rev | 0x80000000) >>> 0);                                          // shadow-VMCS indicator
    expect(vmxon(m, VMCS_B)).toBeUndefined(); expect(flags(m)).toBe(CF);
    expect(run(m, VMXOFF)).toBe(6);                                                              // still outside VMX operation
  });
  it('VMsucceed clears the six arithmetic flags and leaves the others', () => {
    const m = machine();
    m.bus.write32(PTR, VMXON_REGION); m.bus.write32(PTR + 4, 0); m.cpu.lo[RAX] = PTR;
    m.cpu.setFlags(ARITH | DF | 2);
    expect(m.exec1(VMXON)).toBeUndefined();
    expect(m.cpu.getFlags() & (ARITH | DF)).toBe(DF);
  });
  it('in VMX root operation fails with error 15 (VMfailInvalid without a current VMCS)', () => {
    const m = machine();
    expect(vmxon(m)).toBeUndefined();
    expect(vmxon(m)).toBeUndefined(); expect(flags(m)).toBe(CF);
    expect(vmptrld(m, VMCS_A)).toBeUndefined();
    expect(vmxon(m)).toBeUndefined(); expect(flags(m)).toBe(ZF);
    expect(vmInstructionError(m)).toBe(15);
  });
  it('in VMX root operation at CPL 3 raises #GP(0)', () => {
    const m = ready(); toCpl3(m);
    expect(vmxon(m)).toBe(13);
  });
  it('works in 32-bit protected mode with paging', () => {
    const m = machine({ mode: 'prot32', paging: true });
    expect(vmxon(m)).toBeUndefined(); expect(flags(m)).toBe(0);
  });
});

describe('VMX operation rules', () => {
  it('the instructions run through the executor: VMXON; VMPTRLD; VMREAD; HLT', () => {
    const m = machine();
    m.bus.write32(PTR, VMXON_REGION); m.bus.write32(PTR + 8, VMCS_A);
    m.cpu.lo[RAX] = PTR; m.cpu.lo[RCX] = 0x4400;
    m.cpu.setFlags(ARITH | 2);
    // vmxon [rax]; vmptrld [rax+8]; vmread rdx, rcx; hlt
    m.run('f30fc730 0fc77008 0f78ca f4');
    expect(m.cpu.halted).toBe(true);
    expect(flags(m)).toBe(0);
    expect(m.cpu.vmx?.currentPtr).toBe(VMCS_A);
  });

  it('outside VMX operation every other VMX instruction raises #UD', () => {
    const m = machine();
    for (const code of [VMCLEAR, VMPTRLD, VMPTRST, VMREAD_RAX_RCX, VMWRITE_RCX_RAX, VMXOFF, VMCALL, VMLAUNCH, VMRESUME, INVEPT, INVVPID]) {
      m.cpu.lo[RAX] = PTR;
      expect(run(m, code), code).toBe(6);
    }
  });
  it('at CPL 3 in VMX operation the instructions raise #GP(0)', () => {
    const m = ready(); toCpl3(m);
    for (const code of [VMCLEAR, VMPTRLD, VMPTRST, VMREAD_RAX_RCX, VMWRITE_RCX_RAX, VMXOFF, VMCALL, VMLAUNCH, VMRESUME, INVEPT, INVVPID]) {
      m.cpu.lo[RAX] = PTR;
      expect(run(m, code), code).toBe(13);
    }
  });
  it('in compatibility mode they raise #UD', () => {
    const m = ready(); toCompat(m);
    for (const code of [VMCLEAR, VMPTRLD, VMREAD_RAX_RCX, VMXOFF, VMCALL, VMLAUNCH]) { m.cpu.lo[RAX] = PTR; expect(run(m, code), code).toBe(6); }
  });
  it('clearing CR4.VMXE, CR0.NE or CR0.PG in VMX operation raises #GP(0)', () => {
    const m = ready();
    m.cpu.lo[RAX] = m.cpu.cr4 & ~CR4_VMXE; m.cpu.hi[RAX] = 0;
    expect(m.exec1('0f22e0')).toBe(13);            // mov cr4, rax
    m.cpu.lo[RAX] = m.cpu.cr0 & ~CR0_NE;
    expect(m.exec1('0f22c0')).toBe(13);            // mov cr0, rax
    expect(m.cpu.cr4 & CR4_VMXE).toBe(CR4_VMXE);
    expect(run(m, VMXOFF)).toBeUndefined();
    m.cpu.lo[RAX] = m.cpu.cr4 & ~CR4_VMXE;
    expect(m.exec1('0f22e0')).toBeUndefined();     // after VMXOFF it is allowed
  });
  it('VMXOFF leaves VMX operation: VMREAD then raises #UD', () => {
    const m = ready();
    expect(run(m, VMXOFF)).toBeUndefined(); expect(flags(m)).toBe(0);
    expect(run(m, VMREAD_RAX_RCX)).toBe(6);
  });
  it('VMFUNC raises #UD (VM functions are not offered)', () => {
    expect(run(ready(), VMFUNC)).toBe(6);
  });
});

describe('VMCLEAR / VMPTRLD / VMPTRST', () => {
  it('VMCLEAR with the VMXON pointer fails with error 3; with a bad address with error 2', () => {
    const m = machine(); vmxon(m);
    expect(vmclear(m, VMXON_REGION)).toBeUndefined(); expect(flags(m)).toBe(CF);   // no current VMCS
    vmptrld(m, VMCS_A);
    expect(vmclear(m, VMXON_REGION)).toBeUndefined(); expect(flags(m)).toBe(ZF);
    expect(vmInstructionError(m)).toBe(3);
    expect(vmclear(m, VMCS_B + 0x10)).toBeUndefined(); expect(flags(m)).toBe(ZF);
    expect(vmInstructionError(m)).toBe(2);
    expect(withPtr(m, VMCLEAR, VMCS_B, 0x100)).toBeUndefined(); expect(flags(m)).toBe(ZF);
    expect(vmInstructionError(m)).toBe(2);
  });
  it('VMPTRLD fails with 9 (bad address), 10 (VMXON pointer), 11 (wrong revision or shadow-VMCS indicator)', () => {
    const m = ready();
    expect(vmptrld(m, VMCS_B + 1)).toBeUndefined(); expect(flags(m)).toBe(ZF); expect(vmInstructionError(m)).toBe(9);
    expect(vmptrld(m, VMXON_REGION)).toBeUndefined(); expect(flags(m)).toBe(ZF); expect(vmInstructionError(m)).toBe(10);
    m.bus.write32(VMCS_B, m.rev ^ 1);
    expect(vmptrld(m, VMCS_B)).toBeUndefined(); expect(flags(m)).toBe(ZF); expect(vmInstructionError(m)).toBe(11);
    m.bus.write32(VMCS_B, (m.rev | 0x80000000) >>> 0);
    expect(vmptrld(m, VMCS_B)).toBeUndefined(); expect(flags(m)).toBe(ZF); expect(vmInstructionError(m)).toBe(11);
  });
  it('VMPTRLD with a wrong revision and no current VMCS is VMfailInvalid', () => {
    const m = machine(); vmxon(m);
    m.bus.write32(VMCS_B, m.rev + 1);
    expect(vmptrld(m, VMCS_B)).toBeUndefined(); expect(flags(m)).toBe(CF);
  });
  it('VMPTRST stores the current-VMCS pointer, all ones after VMCLEAR of the current VMCS', () => {
    const m = ready();
    m.cpu.lo[RAX] = DESC; m.cpu.hi[RAX] = 0;
    expect(run(m, VMPTRST)).toBeUndefined(); expect(flags(m)).toBe(0);
    expect([m.bus.read32(DESC) >>> 0, m.bus.read32(DESC + 4) >>> 0]).toEqual([VMCS_A, 0]);
    vmclear(m, VMCS_A);
    m.cpu.lo[RAX] = DESC;
    expect(run(m, VMPTRST)).toBeUndefined();
    expect([m.bus.read32(DESC) >>> 0, m.bus.read32(DESC + 4) >>> 0]).toEqual([0xffffffff, 0xffffffff]);
    expect(run(m, VMREAD_RAX_RCX)).toBeUndefined(); expect(flags(m)).toBe(CF);   // no current VMCS any more
  });
  it('VMCLEAR writes the data to the region: a later VMPTRLD sees the values, the revision stays', () => {
    const m = ready();
    expect(vmwrite(m, 0x681e, 0xdeadbeef, 0xffff8000)).toBeUndefined(); expect(flags(m)).toBe(0);   // guest RIP
    vmptrld(m, VMCS_B);                                       // switching VMCS keeps A in the processor
    expect(vmread(m, 0x681e)).toEqual([0, 0]);
    vmptrld(m, VMCS_A);
    expect(vmread(m, 0x681e)).toEqual([0xdeadbeef, 0xffff8000]);
    vmclear(m, VMCS_A);
    expect(m.bus.read32(VMCS_A) >>> 0).toBe(m.rev);
    vmptrld(m, VMCS_A);
    expect(vmread(m, 0x681e)).toEqual([0xdeadbeef, 0xffff8000]);
  });
});

describe('VMREAD / VMWRITE', () => {
  it('without a current VMCS both are VMfailInvalid', () => {
    const m = machine(); vmxon(m);
    expect(vmwrite(m, 0x681e, 1)).toBeUndefined(); expect(flags(m)).toBe(CF);
    m.cpu.lo[RCX] = 0x681e;
    expect(run(m, VMREAD_RAX_RCX)).toBeUndefined(); expect(flags(m)).toBe(CF);
  });
  it('64-bit, natural-width, 32-bit and 16-bit fields keep their width', () => {
    const m = ready();
    vmwrite(m, 0x2806, 0x00000d01, 0x12345678);           // guest IA32_EFER
    expect(vmread(m, 0x2806)).toEqual([0x00000d01, 0x12345678]);
    expect(vmread(m, 0x2807)).toEqual([0x12345678, 0]);   // HIGH access
    vmwrite(m, 0x2807, 0xabcdef01, 0x99);                 // writes bits 63:32 only
    expect(vmread(m, 0x2806)).toEqual([0x00000d01, 0xabcdef01]);
    vmwrite(m, 0x4822, 0xffff808b, 0x77);                 // guest TR access rights: 32 bits
    expect(vmread(m, 0x4822)).toEqual([0xffff808b, 0]);
    vmwrite(m, 0x080e, 0x12345678, 0x77);                 // guest TR selector: 16 bits
    expect(vmread(m, 0x080e)).toEqual([0x5678, 0]);
    vmwrite(m, 0x6c16, 0x401000, 0xffffffff);             // host RIP: natural width
    expect(vmread(m, 0x6c16)).toEqual([0x401000, 0xffffffff]);
  });
  it('an unsupported component fails with error 12', () => {
    const m = ready();
    for (const [enc, encHi] of [[0x0004, 0], [0x4823, 0], [0x6801, 0], [0x7fff, 0], [0x1000 | 0x4822, 0], [0x4822, 1], [0x2024, 0]]) {
      m.cpu.lo[RCX] = enc; m.cpu.hi[RCX] = encHi;
      expect(run(m, VMREAD_RAX_RCX)).toBeUndefined(); expect(flags(m), enc.toString(16)).toBe(ZF);
      expect(vmInstructionError(m)).toBe(12);
      m.cpu.lo[RCX] = enc; m.cpu.hi[RCX] = encHi;
      expect(run(m, VMWRITE_RCX_RAX)).toBeUndefined(); expect(flags(m), enc.toString(16)).toBe(ZF);
      expect(vmInstructionError(m)).toBe(12);
    }
  });
  it('VMWRITE to a VM-exit information field fails with error 13 and leaves it unchanged', () => {
    const m = ready();
    for (const enc of [0x4402, 0x6400, 0x2400, 0x440c]) {
      expect(vmwrite(m, enc, 0x1234)).toBeUndefined(); expect(flags(m)).toBe(ZF);
      expect(vmInstructionError(m)).toBe(13);
      expect(vmread(m, enc)[0]).toBe(0);
    }
  });
  it('VMfailValid keeps the error number readable until the next failure; VMsucceed does not clear it', () => {
    const m = ready();
    vmwrite(m, 0x4402, 1);
    expect(vmwrite(m, 0x681e, 5)).toBeUndefined(); expect(flags(m)).toBe(0);
    expect(vmInstructionError(m)).toBe(13);
  });
  it('memory operands: VMREAD stores 64 bits, VMWRITE loads 64 bits', () => {
    const m = ready();
    m.bus.write32(DESC, 0xcafef00d); m.bus.write32(DESC + 4, 0x00007fff);
    m.cpu.lo[RCX] = 0x681c; m.cpu.lo[RAX] = DESC;        // guest RSP ← [DESC]
    expect(run(m, VMWRITE_RCX_MEM)).toBeUndefined(); expect(flags(m)).toBe(0);
    expect(vmread(m, 0x681c)).toEqual([0xcafef00d, 0x00007fff]);
    m.cpu.lo[RCX] = 0x681c; m.cpu.lo[RAX] = DESC + 8; m.cpu.hi[RAX] = 0;
    expect(run(m, VMREAD_MEM_RCX)).toBeUndefined();
    expect([m.bus.read32(DESC + 8) >>> 0, m.bus.read32(DESC + 12) >>> 0]).toEqual([0xcafef00d, 0x00007fff]);
    m.cpu.lo[RCX] = 0x080e; m.cpu.lo[RAX] = DESC + 8; m.cpu.hi[RAX] = 0;  // a 16-bit field is zero-extended to 64
    expect(run(m, VMREAD_MEM_RCX)).toBeUndefined();
    expect([m.bus.read32(DESC + 8) >>> 0, m.bus.read32(DESC + 12) >>> 0]).toEqual([0, 0]);
  });
  it('outside 64-bit mode the operands are 32 bits: VMREAD truncates, VMWRITE clears the high half', () => {
    const m = ready({ mode: 'prot32', paging: true });
    vmwrite(m, 0x2800, 0xffffffff, 0xffffffff);          // VMCS link pointer: only 32 bits written
    m.cpu.lo[RCX] = 0x2801; m.cpu.lo[RAX] = 0x5555;
    expect(run(m, VMREAD_RAX_RCX)).toBeUndefined();
    expect(m.cpu.lo[RAX] >>> 0).toBe(0);                 // high half was cleared
    m.cpu.lo[RCX] = 0x2800;
    expect(run(m, VMREAD_RAX_RCX)).toBeUndefined();
    expect(m.cpu.lo[RAX] >>> 0).toBe(0xffffffff);
  });
});

describe('VMLAUNCH / VMRESUME before the VMCS checks', () => {
  it('without a current VMCS: VMfailInvalid', () => {
    const m = machine(); vmxon(m);
    expect(run(m, VMLAUNCH)).toBeUndefined(); expect(flags(m)).toBe(CF);
    expect(run(m, VMRESUME)).toBeUndefined(); expect(flags(m)).toBe(CF);
  });
  it('VMRESUME of a clear VMCS fails with 5; VMLAUNCH of a launched VMCS with 4', () => {
    const m = ready();
    expect(run(m, VMRESUME)).toBeUndefined(); expect(flags(m)).toBe(ZF); expect(vmInstructionError(m)).toBe(5);
    m.cpu.vmx!.current!.launched = true;               // as a successful VMLAUNCH leaves it
    expect(run(m, VMLAUNCH)).toBeUndefined(); expect(flags(m)).toBe(ZF); expect(vmInstructionError(m)).toBe(4);
  });
  it('VMCLEAR makes a launched VMCS clear again', () => {
    const m = ready();
    m.cpu.vmx!.current!.launched = true;
    vmclear(m, VMCS_A); vmptrld(m, VMCS_A);
    expect(run(m, VMRESUME)).toBeUndefined(); expect(vmInstructionError(m)).toBe(5);
  });
  it('blocking by STI is not blocking by MOV SS (no error 26)', () => {
    const m = ready();
    m.cpu.intShadow = true;
    expect(run(m, VMRESUME)).toBeUndefined(); expect(vmInstructionError(m)).toBe(5);
  });
  it('VM entry right after MOV SS fails with error 26 (VM entry with events blocked by MOV SS)', () => {
    const m = ready();
    // mov eax, ss; mov ss, eax; vmresume — the VMRESUME is in the MOV-SS shadow
    m.exec1('8cd0'); m.exec1('8ed0');
    expect(m.cpu.movSsShadow).toBe(true);
    expect(run(m, VMRESUME)).toBeUndefined(); expect(flags(m)).toBe(ZF); expect(vmInstructionError(m)).toBe(26);
  });
});

describe('VMCALL in root operation', () => {
  it('fails with error 1 (VMCALL executed in VMX root operation)', () => {
    const m = machine(); vmxon(m);
    expect(run(m, VMCALL)).toBeUndefined(); expect(flags(m)).toBe(CF);
    vmptrld(m, VMCS_A);
    expect(run(m, VMCALL)).toBeUndefined(); expect(flags(m)).toBe(ZF); expect(vmInstructionError(m)).toBe(1);
  });
});

describe('INVEPT / INVVPID', () => {
  function inv(m: Machine, code: string, type: number, lo: number, hi: number, lo2 = 0, hi2 = 0, typeHi = 0) {
    m.bus.write32(DESC, lo); m.bus.write32(DESC + 4, hi); m.bus.write32(DESC + 8, lo2); m.bus.write32(DESC + 12, hi2);
    m.cpu.lo[RAX] = DESC; m.cpu.hi[RAX] = 0; m.cpu.lo[RCX] = type; m.cpu.hi[RCX] = typeHi;
    return run(m, code);
  }
  it('INVEPT single-context with a valid EPTP and all-context succeed', () => {
    const m = ready();
    expect(inv(m, INVEPT, 1, 0x0060001e, 0)).toBeUndefined(); expect(flags(m)).toBe(0);
    expect(inv(m, INVEPT, 2, 0, 0)).toBeUndefined(); expect(flags(m)).toBe(0);
  });
  it('INVEPT with an unsupported type or an invalid EPTP fails with error 28', () => {
    const m = ready();
    for (const [type, eptp, typeHi] of [[0, 0x0060001e, 0], [3, 0x0060001e, 0], [1, 0x0060001a, 0], [1, 0x00600016, 0], [1, 0x0060001e, 1]]) {
      expect(inv(m, INVEPT, type, eptp, 0, 0, 0, typeHi)).toBeUndefined(); expect(flags(m)).toBe(ZF);
      expect(vmInstructionError(m)).toBe(28);
    }
  });
  it('INVVPID: every type is offered; VPID 0, reserved descriptor bits, non-canonical addresses fail with 28', () => {
    const m = ready();
    expect(inv(m, INVVPID, 0, 1, 0, 0x1000, 0)).toBeUndefined(); expect(flags(m)).toBe(0);
    expect(inv(m, INVVPID, 1, 1, 0)).toBeUndefined(); expect(flags(m)).toBe(0);
    expect(inv(m, INVVPID, 2, 0, 0)).toBeUndefined(); expect(flags(m)).toBe(0);
    expect(inv(m, INVVPID, 3, 7, 0)).toBeUndefined(); expect(flags(m)).toBe(0);
    for (const [type, lo, hi, lo2, hi2] of [[0, 0, 0, 0x1000, 0], [1, 0, 0, 0, 0], [3, 0, 0, 0, 0], [1, 0x10001, 0, 0, 0],
      [2, 0, 1, 0, 0], [0, 1, 0, 0, 0x00008000], [4, 1, 0, 0, 0]]) {
      expect(inv(m, INVVPID, type, lo, hi, lo2, hi2)).toBeUndefined(); expect(flags(m), `${type} ${lo} ${hi}`).toBe(ZF);
      expect(vmInstructionError(m)).toBe(28);
    }
  });
  it('without a current VMCS the failure is VMfailInvalid', () => {
    const m = machine(); vmxon(m);
    expect(inv(m, INVEPT, 0, 0, 0)).toBeUndefined(); expect(flags(m)).toBe(CF);
  });
});

describe('VMX instructions in non-root operation', () => {
  function exitOf(m: Machine, code: string): VmExit {
    try { m.exec1(code); } catch (e) { if (e instanceof VmExit) return e; throw e; }
    throw new Error('no VM exit');
  }
  it('cause VM exits with their basic exit reasons', () => {
    const m = ready(); m.cpu.vmx!.nonRoot = true;
    const reasons: [string, number][] = [[VMCALL, 18], [VMCLEAR, 19], [VMLAUNCH, 20], [VMPTRLD, 21], [VMPTRST, 22], [VMREAD_RAX_RCX, 23],
      [VMRESUME, 24], [VMWRITE_RCX_RAX, 25], [VMXOFF, 26], [VMXON, 27], [INVEPT, 50], [INVVPID, 53]];
    for (const [code, reason] of reasons) { m.cpu.lo[RAX] = PTR; expect(exitOf(m, code).reason, code).toBe(reason); }
  });
  it('report the displacement as exit qualification and the operand in the instruction-information field', () => {
    const m = ready(); m.cpu.vmx!.nonRoot = true;
    const e = exitOf(m, '0fc77010');                     // VMPTRLD [rax+0x10]
    expect(e.qualification).toBe(0x10);
    // address size 64 (2 << 7), segment DS (3 << 15), no index (bit 22), base RAX (0 << 23)
    expect(e.info.instructionInfo).toBe((2 << 7) | (3 << 15) | (1 << 22));
    expect(e.info.instructionLength).toBe(4);
    const r = exitOf(m, '0f78c8');                       // VMREAD rax, rcx: register form, Reg1 = rax, Reg2 = rcx
    expect(r.info.instructionInfo).toBe(((0 << 3) | (1 << 10) | (1 << 28)) >>> 0);
  });
  it('VMCALL exits even in compatibility mode (the exit comes before that #UD)', () => {
    const m = ready(); m.cpu.vmx!.nonRoot = true; toCompat(m);
    expect(exitOf(m, VMCALL).reason).toBe(18);
  });
});
