import { describe, it, expect } from 'vitest';
import { createMachine, DATA, IOMAP, type Machine } from '../cpu/helpers/machine.js';
import { VmExit } from '../../src/cpu/fault.js';
import {
  RAX, RCX, RDX, RBX, RBP, RSI, RDI, CS, SS, DS, FS, CR0_TS, CR0_MP, CR0_NE, CR0_PE, CR0_EM, CR4_VMXE, CR4_TSD, CR4_DE,
} from '../../src/cpu/regs.js';
import { VmxState } from '../../src/vmx/state.js';
import { Vmcs } from '../../src/vmx/vmcs.js';
import { PROC, PROC2 } from '../../src/vmx/controls.js';
import * as F from '../../src/vmx/fields.js';
import { INSTRUCTION_EXITS } from '../../src/vmx/nonroot.js';
import { HANDLERS } from '../../src/cpu/ops/index.js';

/**
 * VM exits caused by instructions in VMX non-root operation, and the instructions' changed
 * behaviour there (SDM Vol. 3C, chapter "VMX Non-Root Operation": "Instructions That Cause VM Exits
 * Unconditionally", "Instructions That Cause VM Exits Conditionally", "Changes to Instruction
 * Behavior in VMX Non-Root Operation", "Relative Priority of Faults and VM Exits"; chapter "VM
 * Exits": "Exit Qualification for Control-Register Accesses", "... for MOV DR", "... for I/O
 * Instructions", "VM-Exit Instruction-Information Field"; Vol. 3D Appendix C for the reasons).
 *
 * The CPU is put in non-root operation directly: a VmxState with a current VMCS whose control
 * fields the test writes, nonRoot = true (no VM entry). Instructions run from their real encodings;
 * the thrown VmExit carries what the exit must report. Expected values are from the SDM tables.
 */
const VMCS_PA = 0x500000, IO_A = 0x510000, IO_B = 0x511000, MSR_BITMAP = 0x512000, VAPIC = 0x513000;

// exit reasons, SDM Vol. 3D Appendix C
const R = {
  CPUID: 10, HLT: 12, INVD: 13, INVLPG: 14, RDPMC: 15, RDTSC: 16, CR: 28, DR: 29, IO: 30, RDMSR: 31, WRMSR: 32,
  PAUSE: 40, TPR: 43, GDTR_IDTR: 46, LDTR_TR: 47, RDTSCP: 51, WBINVD: 54, INVPCID: 58,
};
const UD = 6, GP = 13;

interface Guest extends Machine { vmcs: Vmcs }
function guest(opts: Parameters<typeof createMachine>[0] = {}): Guest {
  const m = createMachine(opts);
  m.cpu.cr4 |= CR4_VMXE;
  const v = new VmxState();
  v.on = true; v.nonRoot = true;
  const vmcs = new Vmcs(VMCS_PA);
  v.current = vmcs; v.currentPtr = VMCS_PA; v.cache.set(VMCS_PA, vmcs);
  m.cpu.vmx = v;
  return Object.assign(m, { vmcs });
}
const setProc = (g: Guest, bits: number) => g.vmcs.write(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, bits >>> 0);
/** Secondary controls, with "activate secondary controls" set in the primary ones (plus `primary`). */
function setProc2(g: Guest, bits: number, primary = 0) {
  setProc(g, primary | PROC.ACTIVATE_SECONDARY_CONTROLS);
  g.vmcs.write(F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, bits >>> 0);
}

type Outcome = { exit: VmExit } | { vector: number | undefined };
function exec(g: Guest, code: string): Outcome {
  try { return { vector: g.exec1(code) }; } catch (e) { if (e instanceof VmExit) return { exit: e }; throw e; }
}
/** Run `code`; it must exit. */
function exitOf(g: Guest, code: string): VmExit {
  const o = exec(g, code);
  if (!('exit' in o)) throw new Error(`expected a VM exit, got ${o.vector === undefined ? 'normal completion' : `vector ${o.vector}`}`);
  return o.exit;
}
/** Run `code`; it must not exit: returns the fault vector or undefined. */
function noExit(g: Guest, code: string): number | undefined {
  const o = exec(g, code);
  if ('exit' in o) throw new Error(`unexpected VM exit, reason ${o.exit.reason}`);
  return o.vector;
}
function toCpl3(g: Guest) {
  g.cpu.segAr[CS] = 0xa0fb; g.cpu.segSel[CS] = 0x33; g.cpu.segAr[SS] = 0xc0f3; g.cpu.segSel[SS] = 0x2b; g.cpu.updateMode();
  expect(g.cpu.cpl).toBe(3);
}
const reg = (g: Guest, r: number) => g.cpu.hi[r] * 2 ** 32 + (g.cpu.lo[r] >>> 0);
const setReg = (g: Guest, r: number, lo: number, hi = 0) => { g.cpu.lo[r] = lo | 0; g.cpu.hi[r] = hi | 0; };

describe('the non-root exit table', () => {
  it('names only handlers that exist in the instruction registry', () => {
    for (const name of Object.keys(INSTRUCTION_EXITS)) expect(HANDLERS[name], name).toBeTypeOf('function');
  });
  it('leaves root operation alone: HLT with "HLT exiting" set halts when nonRoot is false', () => {
    const g = guest(); setProc(g, PROC.HLT_EXITING); g.cpu.vmx!.nonRoot = false;
    expect(noExit(g, 'f4')).toBeUndefined();
    expect(g.cpu.halted).toBe(true);
  });
});

describe('instructions that exit unconditionally', () => {
  it('CPUID exits with reason 10 and its length, at any CPL', () => {
    const g = guest();
    const e = exitOf(g, '0fa2');
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.CPUID, 0, 2]);
    toCpl3(g);
    expect(exitOf(g, '0fa2').reason).toBe(R.CPUID);
  });
  it('INVD exits with reason 13; at CPL 3 the #GP comes first', () => {
    const g = guest();
    expect(exitOf(g, '0f08').reason).toBe(R.INVD);
    toCpl3(g);
    expect(noExit(g, '0f08')).toBe(GP);
  });
  it('XSETBV raises #UD before any exit while CR4.OSXSAVE cannot be set', () => {
    expect(noExit(guest(), '0f01d1')).toBe(UD);
  });
});

describe('HLT, INVLPG, RDPMC, WBINVD, MONITOR/MWAIT', () => {
  it('HLT exits (reason 12, length 1) iff "HLT exiting"; otherwise it halts', () => {
    const g = guest(); setProc(g, PROC.HLT_EXITING);
    const e = exitOf(g, 'f4');
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.HLT, 0, 1]);
    expect(g.cpu.halted).toBe(false);
    setProc(g, 0);
    expect(noExit(g, 'f4')).toBeUndefined();
    expect(g.cpu.halted).toBe(true);
  });
  it('HLT at CPL 3 raises #GP, not the exit (privilege faults have priority)', () => {
    const g = guest(); setProc(g, PROC.HLT_EXITING); toCpl3(g);
    expect(noExit(g, 'f4')).toBe(GP);
  });
  it('INVLPG exits with the linear-address operand as qualification', () => {
    const g = guest(); setProc(g, PROC.INVLPG_EXITING);
    setReg(g, RAX, 0x12345000);
    let e = exitOf(g, '0f0138');                   // invlpg [rax]
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.INVLPG, 0x12345000, 3]);
    setReg(g, RAX, 0x1000, 0x7fff);
    e = exitOf(g, '0f017810');                     // invlpg [rax+0x10]
    expect(e.qualification).toBe(0x7fff * 2 ** 32 + 0x1010);
    g.cpu.segBase[FS] = 0x40000;
    setReg(g, RAX, 0x2000);
    expect(exitOf(g, '640f0138').qualification).toBe(0x42000); // fs: adds the FS base
    setProc(g, 0);
    expect(noExit(g, '0f0138')).toBeUndefined();
  });
  it('RDPMC exits with reason 15 iff "RDPMC exiting"; at CPL 3 with CR4.PCE = 0 the #GP comes first', () => {
    const g = guest(); setProc(g, PROC.RDPMC_EXITING);
    expect(exitOf(g, '0f33').reason).toBe(R.RDPMC);
    toCpl3(g);
    expect(noExit(g, '0f33')).toBe(GP);
  });
  it('WBINVD exits with reason 54 iff the secondary control "WBINVD exiting" is active', () => {
    const g = guest(); setProc2(g, PROC2.WBINVD_EXITING);
    expect(exitOf(g, '0f09').reason).toBe(R.WBINVD);
    // secondary controls count only with "activate secondary controls"
    setProc(g, 0);
    expect(noExit(g, '0f09')).toBeUndefined();
  });
  it('MONITOR and MWAIT raise #UD first: MONITOR/MWAIT is not reported in CPUID', () => {
    const g = guest(); setProc(g, PROC.MONITOR_EXITING | PROC.MWAIT_EXITING);
    expect(noExit(g, '0f01c8')).toBe(UD);
    expect(noExit(g, '0f01c9')).toBe(UD);
  });
});

describe('INVPCID', () => {
  it('raises #UD when "enable INVPCID" is 0', () => {
    const g = guest(); setProc(g, PROC.INVLPG_EXITING);
    expect(noExit(g, '660f388208')).toBe(UD);
  });
  it('exits with reason 58 when "INVLPG exiting" and "enable INVPCID" are both 1, with displacement and instruction information', () => {
    const g = guest(); setProc2(g, PROC2.ENABLE_INVPCID, PROC.INVLPG_EXITING);
    setReg(g, RAX, DATA); setReg(g, RCX, 2);
    const e = exitOf(g, '660f388208');             // invpcid rcx, [rax]
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.INVPCID, 0, 5]);
    // address size 64 (9:7 = 2), DS (17:15 = 3), no index (22), base RAX (26:23 = 0), Reg2 RCX (31:28 = 1)
    expect(e.info.instructionInfo! & DEFINED_NO_INDEX).toBe(0x10418100);
  });
  it('runs normally with "enable INVPCID" and "INVLPG exiting" 0', () => {
    const g = guest(); setProc2(g, PROC2.ENABLE_INVPCID);
    setReg(g, RAX, DATA); setReg(g, RCX, 2);
    expect(noExit(g, '660f388208')).toBeUndefined();
  });
});

describe('MOV to/from CR0 and CR4: guest/host masks and read shadows', () => {
  it('MOV from CR0 returns the read shadow in masked bits and CR0 elsewhere', () => {
    const g = guest();
    g.cpu.cr0 = (g.cpu.cr0 | CR0_MP) & ~CR0_TS;
    g.vmcs.write(F.CR0_GUEST_HOST_MASK, CR0_TS | CR0_MP);
    g.vmcs.write(F.CR0_READ_SHADOW, CR0_TS);
    expect(noExit(g, '0f20c0')).toBeUndefined();   // mov rax, cr0
    expect(reg(g, RAX)).toBe(((g.cpu.cr0 & ~(CR0_TS | CR0_MP)) | CR0_TS) >>> 0);
  });
  it('MOV to CR0 exits iff a masked bit of the source differs from the shadow; qualification names CR0 and the register', () => {
    const g = guest();
    g.vmcs.write(F.CR0_GUEST_HOST_MASK, CR0_TS);
    g.vmcs.write(F.CR0_READ_SHADOW, 0);
    setReg(g, RDX, g.cpu.cr0 | CR0_TS);
    const e = exitOf(g, '0f22c2');                  // mov cr0, rdx
    // bits 3:0 = 0 (CR0), 5:4 = 0 (MOV to CR), 11:8 = 2 (RDX)
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.CR, 0x200, 3]);
    // an unmasked bit may change without an exit
    setReg(g, RDX, g.cpu.cr0 | CR0_EM);
    expect(noExit(g, '0f22c2')).toBeUndefined();
    expect(g.cpu.cr0 & CR0_EM).toBe(CR0_EM);
  });
  it('MOV to CR0 that does not exit leaves masked bits unmodified', () => {
    const g = guest();
    g.cpu.cr0 |= CR0_TS;
    g.vmcs.write(F.CR0_GUEST_HOST_MASK, CR0_TS | CR0_NE);
    g.vmcs.write(F.CR0_READ_SHADOW, 0);                // the guest believes TS = NE = 0
    setReg(g, RAX, g.cpu.cr0 & ~(CR0_TS | CR0_NE));
    expect(noExit(g, '0f22c0')).toBeUndefined();
    expect(g.cpu.cr0 & (CR0_TS | CR0_NE)).toBe(CR0_TS | CR0_NE);
  });
  it('MOV to CR0 clearing an unmasked bit fixed to 1 in VMX operation (NE) raises #GP', () => {
    const g = guest();
    setReg(g, RAX, g.cpu.cr0 & ~CR0_NE);
    expect(noExit(g, '0f22c0')).toBe(GP);
  });
  it('a MOV-to-CR0 exit takes priority over the #GP the value would cause', () => {
    const g = guest();
    g.vmcs.write(F.CR0_GUEST_HOST_MASK, CR0_PE);
    g.vmcs.write(F.CR0_READ_SHADOW, CR0_PE);
    setReg(g, RAX, g.cpu.cr0 & ~CR0_PE);              // PG without PE: #GP if executed
    expect(exitOf(g, '0f22c0').qualification).toBe(0);
  });
  it('MOV to/from CR4 with CR4.VMXE owned by the host: hidden from reads, kept on writes, exit when set', () => {
    const g = guest();
    g.vmcs.write(F.CR4_GUEST_HOST_MASK, CR4_VMXE);
    g.vmcs.write(F.CR4_READ_SHADOW, 0);
    expect(noExit(g, '0f20e0')).toBeUndefined();       // mov rax, cr4
    expect(reg(g, RAX) & CR4_VMXE).toBe(0);
    setReg(g, RAX, g.cpu.cr4 & ~CR4_VMXE);
    expect(noExit(g, '0f22e0')).toBeUndefined();       // mov cr4, rax
    expect(g.cpu.cr4 & CR4_VMXE).toBe(CR4_VMXE);
    setReg(g, RBX, g.cpu.cr4 | CR4_VMXE);
    const e = exitOf(g, '0f22e3');                     // mov cr4, rbx
    expect([e.reason, e.qualification]).toEqual([R.CR, 0x304]);
  });
  it('MOV to CR at CPL 3 raises #GP, not the exit', () => {
    const g = guest();
    g.vmcs.write(F.CR0_GUEST_HOST_MASK, 0xffffffff);
    toCpl3(g);
    expect(noExit(g, '0f22c0')).toBe(GP);
  });
});

describe('MOV to/from CR3: CR3-load/store exiting and CR3-target values', () => {
  it('MOV from CR3 exits iff "CR3-store exiting"', () => {
    const g = guest(); setProc(g, PROC.CR3_STORE_EXITING);
    const e = exitOf(g, '0f20db');                     // mov rbx, cr3
    expect([e.reason, e.qualification]).toEqual([R.CR, 0x313]);   // CR3, MOV from CR, RBX
    setProc(g, 0);
    expect(noExit(g, '0f20db')).toBeUndefined();
    expect(reg(g, RBX)).toBe(g.cpu.cr3);
  });
  it('MOV to CR3 with a CR3-target count of 0 always exits', () => {
    const g = guest(); setProc(g, PROC.CR3_LOAD_EXITING);
    setReg(g, RCX, g.cpu.cr3);
    const e = exitOf(g, '0f22d9');                     // mov cr3, rcx
    expect([e.reason, e.qualification]).toEqual([R.CR, 0x103]);   // CR3, MOV to CR, RCX
  });
  it('MOV to CR3 does not exit for one of the first n CR3-target values, and exits for target n', () => {
    const g = guest(); setProc(g, PROC.CR3_LOAD_EXITING);
    const cr3 = g.cpu.cr3;
    g.vmcs.write(F.CR3_TARGET_COUNT, 2);
    g.vmcs.write(F.CR3_TARGET_VALUE_0, 0x7000);
    g.vmcs.write(F.CR3_TARGET_VALUE_1, cr3);
    g.vmcs.write(F.CR3_TARGET_VALUE_2, 0x9000);
    setReg(g, RCX, cr3);
    expect(noExit(g, '0f22d9')).toBeUndefined();
    setReg(g, RCX, 0x9000);                               // target 2 is beyond the count
    expect(exitOf(g, '0f22d9').reason).toBe(R.CR);
    setReg(g, RCX, cr3, 1);                               // same low half, different high half
    expect(exitOf(g, '0f22d9').reason).toBe(R.CR);
  });
  it('MOV to CR3 does not exit without "CR3-load exiting"', () => {
    const g = guest(); setProc(g, 0);
    setReg(g, RCX, g.cpu.cr3);
    expect(noExit(g, '0f22d9')).toBeUndefined();
  });
});

describe('MOV to/from CR8: CR8 exiting and the TPR shadow', () => {
  it('MOV to CR8 exits iff "CR8-load exiting", before the reserved-bit #GP', () => {
    const g = guest(); setProc(g, PROC.CR8_LOAD_EXITING);
    setReg(g, RAX, 0x10);                                   // bit 4 set: #GP if executed
    const e = exitOf(g, '440f22c0');                        // mov cr8, rax
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.CR, 0x008, 4]);
  });
  it('MOV from CR8 exits iff "CR8-store exiting"', () => {
    const g = guest(); setProc(g, PROC.CR8_STORE_EXITING | PROC.USE_TPR_SHADOW);
    const e = exitOf(g, '450f20c1');                        // mov r9, cr8
    expect([e.reason, e.qualification]).toEqual([R.CR, 0x918]); // CR8, MOV from CR, R9
  });
  it('with "use TPR shadow", MOV from CR8 reads VTPR[7:4] from the virtual-APIC page', () => {
    const g = guest(); setProc(g, PROC.USE_TPR_SHADOW);
    g.vmcs.write(F.VIRTUAL_APIC_ADDRESS, VAPIC);
    g.bus.write8(VAPIC + 0x80, 0x5a);
    setReg(g, RAX, -1, -1);
    expect(noExit(g, '440f20c0')).toBeUndefined();         // mov rax, cr8
    expect(reg(g, RAX)).toBe(5);
  });
  it('with "use TPR shadow", MOV to CR8 writes VTPR[7:4] and clears VTPR[3:0] and bytes 81H-83H', () => {
    const g = guest(); setProc(g, PROC.USE_TPR_SHADOW);
    g.vmcs.write(F.VIRTUAL_APIC_ADDRESS, VAPIC);
    g.vmcs.write(F.TPR_THRESHOLD, 2);
    g.bus.write32(VAPIC + 0x80, 0xffffffff);
    const cr8Before = g.cpu.cr8;
    setReg(g, RAX, 3);
    expect(noExit(g, '440f22c0')).toBeUndefined();
    expect(g.bus.read32(VAPIC + 0x80) >>> 0).toBe(0x30);
    expect(g.cpu.cr8).toBe(cr8Before);                      // the real TPR is untouched
  });
  it('a MOV to CR8 that puts VTPR[7:4] below the TPR threshold exits with reason 43 after the instruction', () => {
    const g = guest(); setProc(g, PROC.USE_TPR_SHADOW);
    g.vmcs.write(F.VIRTUAL_APIC_ADDRESS, VAPIC);
    g.vmcs.write(F.TPR_THRESHOLD, 4);
    g.bus.write8(VAPIC + 0x80, 0x60);
    setReg(g, RAX, 3);
    const e = exitOf(g, '440f22c0');
    expect(e.reason).toBe(R.TPR);
    expect(g.bus.read8(VAPIC + 0x80)).toBe(0x30);           // the write happened (trap-like exit)
    expect(g.cpu.rip).toBe(0x100000 + 4);                   // RIP is past the MOV
    // equal to the threshold: no exit
    setReg(g, RAX, 4);
    expect(noExit(g, '440f22c0')).toBeUndefined();
  });
});

describe('CLTS, LMSW, SMSW', () => {
  it('CLTS exits iff CR0.TS is set in both the mask and the read shadow (qualification: access type 2)', () => {
    const g = guest();
    g.vmcs.write(F.CR0_GUEST_HOST_MASK, CR0_TS);
    g.vmcs.write(F.CR0_READ_SHADOW, CR0_TS);
    const e = exitOf(g, '0f06');
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.CR, 0x20, 2]);
  });
  it('CLTS with TS masked but clear in the shadow leaves CR0.TS unmodified; unmasked it clears TS', () => {
    const g = guest();
    g.cpu.cr0 |= CR0_TS;
    g.vmcs.write(F.CR0_GUEST_HOST_MASK, CR0_TS);
    g.vmcs.write(F.CR0_READ_SHADOW, 0);
    expect(noExit(g, '0f06')).toBeUndefined();
    expect(g.cpu.cr0 & CR0_TS).toBe(CR0_TS);
    g.vmcs.write(F.CR0_GUEST_HOST_MASK, 0);
    expect(noExit(g, '0f06')).toBeUndefined();
    expect(g.cpu.cr0 & CR0_TS).toBe(0);
  });
  it('LMSW exits when a masked bit of 3:1 differs from the shadow; qualification carries the source data', () => {
    const g = guest();
    g.vmcs.write(F.CR0_GUEST_HOST_MASK, CR0_MP | CR0_EM | CR0_TS);
    g.vmcs.write(F.CR0_READ_SHADOW, CR0_PE);
    setReg(g, RAX, 0xff03);                                    // PE MP
    const e = exitOf(g, '0f01f0');                             // lmsw ax
    // CR 0, access type 3 (LMSW), register operand, source data 0xff03 in 31:16
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.CR, 0xff030030, 3]);
    expect(e.info.guestLinear).toBeUndefined();
  });
  it('LMSW with a memory operand reports bit 6 and the operand\'s guest-linear address', () => {
    const g = guest();
    g.vmcs.write(F.CR0_GUEST_HOST_MASK, CR0_TS);
    g.vmcs.write(F.CR0_READ_SHADOW, 0);
    g.bus.write16(DATA + 8, 0x0009);                           // PE TS
    setReg(g, RAX, DATA);
    const e = exitOf(g, '0f017008');                           // lmsw [rax+8]
    expect(e.qualification).toBe(0x00090070);
    expect(e.info.guestLinear).toBe(DATA + 8);
  });
  it('LMSW and CR0.PE: exits for setting PE against a clear shadow, never for clearing it', () => {
    const g = guest();
    g.vmcs.write(F.CR0_GUEST_HOST_MASK, CR0_PE);
    g.vmcs.write(F.CR0_READ_SHADOW, 0);
    setReg(g, RAX, 1);
    expect(exitOf(g, '0f01f0').reason).toBe(R.CR);
    setReg(g, RAX, 0);                                         // LMSW cannot clear PE: no exit
    expect(noExit(g, '0f01f0')).toBeUndefined();
    g.vmcs.write(F.CR0_READ_SHADOW, CR0_PE);
    setReg(g, RAX, 0);
    expect(noExit(g, '0f01f0')).toBeUndefined();
    expect(g.cpu.cr0 & CR0_PE).toBe(CR0_PE);
  });
  it('LMSW that does not exit changes unmasked bits and leaves masked ones', () => {
    const g = guest();
    g.cpu.cr0 &= ~(CR0_TS | CR0_MP);
    g.vmcs.write(F.CR0_GUEST_HOST_MASK, CR0_TS);
    g.vmcs.write(F.CR0_READ_SHADOW, CR0_TS);                   // the guest believes TS = 1
    setReg(g, RAX, 0x000b);                                    // PE MP TS
    expect(noExit(g, '0f01f0')).toBeUndefined();
    expect(g.cpu.cr0 & (CR0_TS | CR0_MP)).toBe(CR0_MP);
  });
  it('SMSW returns the read shadow in masked bits', () => {
    const g = guest();
    g.cpu.cr0 &= ~CR0_TS;
    g.vmcs.write(F.CR0_GUEST_HOST_MASK, CR0_TS);
    g.vmcs.write(F.CR0_READ_SHADOW, CR0_TS);
    expect(noExit(g, '0f01e0')).toBeUndefined();               // smsw eax
    expect(reg(g, RAX)).toBe((g.cpu.cr0 | CR0_TS) >>> 0);
    setReg(g, RAX, DATA);
    expect(noExit(g, '0f0120')).toBeUndefined();               // smsw [rax]
    expect(g.bus.read16(DATA)).toBe((g.cpu.cr0 | CR0_TS) & 0xffff);
  });
});

describe('MOV DR', () => {
  it('exits iff "MOV-DR exiting", with DR number, direction and register in the qualification', () => {
    const g = guest(); setProc(g, PROC.MOV_DR_EXITING);
    let e = exitOf(g, '0f21f8');                               // mov rax, dr7
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.DR, 0x17, 3]);
    e = exitOf(g, '0f23c1');                                   // mov dr0, rcx
    expect(e.qualification).toBe(0x100);
    setProc(g, 0);
    expect(noExit(g, '0f21f8')).toBeUndefined();
    expect(reg(g, RAX)).toBe(0x400);
  });
  it('takes priority over the #GP at CPL 3 and the #UD for DR4 with CR4.DE = 1', () => {
    const g = guest(); setProc(g, PROC.MOV_DR_EXITING);
    g.cpu.cr4 |= CR4_DE;
    expect(exitOf(g, '0f21e0').qualification).toBe(0x14);    // mov rax, dr4
    toCpl3(g);
    expect(exitOf(g, '0f21f8').reason).toBe(R.DR);
  });
});

describe('I/O instructions: unconditional I/O exiting and the I/O bitmaps', () => {
  const ioBitmaps = (g: Guest) => {
    setProc(g, PROC.USE_IO_BITMAPS | PROC.UNCONDITIONAL_IO_EXITING);  // "unconditional" is ignored with bitmaps
    g.vmcs.write(F.ADDRESS_OF_IO_BITMAP_A, IO_A);
    g.vmcs.write(F.ADDRESS_OF_IO_BITMAP_B, IO_B);
  };
  const setBit = (g: Guest, port: number) => {
    const base = port < 0x8000 ? IO_A : IO_B, n = port & 0x7fff;
    g.bus.write8(base + (n >> 3), g.bus.read8(base + (n >> 3)) | (1 << (n & 7)));
  };
  it('"unconditional I/O exiting" makes IN/OUT exit: size, direction, encoding and port in the qualification', () => {
    const g = guest(); setProc(g, PROC.UNCONDITIONAL_IO_EXITING);
    let e = exitOf(g, 'e460');                                  // in al, 0x60
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.IO, 0x00600048, 2]);
    setReg(g, RDX, 0x3f8);
    e = exitOf(g, 'ee');                                        // out dx, al
    expect(e.qualification).toBe(0x03f80000);
    e = exitOf(g, 'ed');                                        // in eax, dx
    expect(e.qualification).toBe(0x03f8000b);
    e = exitOf(g, '66ef');                                      // out dx, ax
    expect([e.qualification, e.info.instructionLength]).toEqual([0x03f80001, 2]);
    expect(e.info.instructionInfo).toBeUndefined();
  });
  it('I/O runs normally with neither control', () => {
    const g = guest(); setProc(g, 0);
    expect(noExit(g, 'e460')).toBeUndefined();
  });
  it('with bitmaps: bitmap A covers 0000H-7FFFH and B 8000H-FFFFH, one bit per port', () => {
    const g = guest(); ioBitmaps(g);
    setBit(g, 0x7fff);
    setReg(g, RDX, 0x7fff);
    expect(exitOf(g, 'ee').qualification >>> 16).toBe(0x7fff);
    setReg(g, RDX, 0x8000);
    expect(noExit(g, 'ee')).toBeUndefined();
    setReg(g, RDX, 0x7ffe);
    expect(noExit(g, 'ee')).toBeUndefined();
    setBit(g, 0x8000);
    setReg(g, RDX, 0x8000);
    expect(exitOf(g, 'ee').reason).toBe(R.IO);
  });
  it('with bitmaps: a 2-byte access exits if either port\'s bit is set, across the A/B boundary', () => {
    const g = guest(); ioBitmaps(g);
    setBit(g, 0x8000);
    setReg(g, RDX, 0x7ffe);
    expect(noExit(g, '66ef')).toBeUndefined();                  // ports 7FFE, 7FFF
    setReg(g, RDX, 0x7fff);
    expect(exitOf(g, '66ef').qualification).toBe(0x7fff0001);   // ports 7FFF (A) and 8000 (B)
    setReg(g, RDX, 0x8001);
    expect(noExit(g, '66ef')).toBeUndefined();
    setReg(g, RDX, 0x7ffd);
    expect(exitOf(g, 'ef').reason).toBe(R.IO);                  // 4 bytes 7FFD-8000
  });
  it('with bitmaps: an access that wraps around the port space exits whatever the bitmaps say', () => {
    const g = guest(); ioBitmaps(g);
    setReg(g, RDX, 0xffff);
    expect(noExit(g, 'ee')).toBeUndefined();                    // 1 byte at FFFF: no wrap
    expect(exitOf(g, '66ed').qualification).toBe(0xffff0009);  // in ax, dx: FFFF and 0000
  });
  it('the I/O-permission #GP (CPL > IOPL and the TSS bitmap bit set) comes before the exit', () => {
    const g = guest(); setProc(g, PROC.UNCONDITIONAL_IO_EXITING);
    toCpl3(g);
    expect(exitOf(g, 'e460').reason).toBe(R.IO);                 // TSS bitmap allows port 60H
    g.bus.write8(IOMAP + (0x60 >> 3), 1 << (0x60 & 7));
    expect(noExit(g, 'e460')).toBe(GP);
  });
  it('REP INSB: string and REP bits, guest-linear ES:RDI, instruction information with address size and ES', () => {
    const g = guest(); setProc(g, PROC.UNCONDITIONAL_IO_EXITING);
    setReg(g, RDX, 0x60); setReg(g, RDI, DATA); setReg(g, RCX, 4);
    const e = exitOf(g, 'f36c');
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.IO, 0x00600038, 2]);
    expect(e.info.guestLinear).toBe(DATA);
    // 9:7 address size 2 (64-bit); 17:15 segment (undefined for INS: not compared)
    expect(e.info.instructionInfo! & 0x380).toBe(0x100);
    expect(reg(g, RCX)).toBe(4);                                  // nothing transferred
  });
  it('OUTSW with an FS override and 32-bit addressing: guest-linear FS.base + ESI, segment FS, address size 32', () => {
    const g = guest(); setProc(g, PROC.UNCONDITIONAL_IO_EXITING);
    g.cpu.segBase[FS] = 0x10000;
    setReg(g, RDX, 0x1f0); setReg(g, RSI, 0x2000, 0x1);          // ESI = 2000H (upper half ignored)
    const e = exitOf(g, '6467666f');                              // outsw (fs:esi)
    expect(e.qualification).toBe(0x01f00011);                     // 2 bytes, OUT, string
    expect(e.info.guestLinear).toBe(0x12000);
    expect(e.info.instructionInfo! & 0x38380).toBe((1 << 7) | (FS << 15));
    expect(e.info.instructionLength).toBe(4);
  });
  it('an INS exit takes priority over the #GP of a non-canonical destination', () => {
    const g = guest(); setProc(g, PROC.UNCONDITIONAL_IO_EXITING);
    setReg(g, RDX, 0x60); setReg(g, RDI, 0, 0x8000);              // RDI = 0000_8000_0000_0000H
    expect(exitOf(g, '6c').info.guestLinear).toBe(2 ** 47);
  });
  it('INS in 32-bit protected mode: address size 32, guest-linear ES.base + EDI', () => {
    const g = guest({ mode: 'prot32' }); setProc(g, PROC.UNCONDITIONAL_IO_EXITING);
    setReg(g, RDX, 0x60); setReg(g, RDI, DATA + 0x10);
    const e = exitOf(g, '6c');
    expect(e.qualification).toBe(0x00600018);
    expect(e.info.guestLinear).toBe(DATA + 0x10);
    expect(e.info.instructionInfo! & 0x380).toBe(0x80);
  });
});

describe('RDMSR/WRMSR and the MSR bitmaps', () => {
  const bitmaps = (g: Guest) => { setProc(g, PROC.USE_MSR_BITMAPS); g.vmcs.write(F.ADDRESS_OF_MSR_BITMAPS, MSR_BITMAP); };
  const setBit = (g: Guest, off: number, msr: number) => {
    const n = msr & 0x1fff, a = MSR_BITMAP + off + (n >> 3);
    g.bus.write8(a, g.bus.read8(a) | (1 << (n & 7)));
  };
  it('without "use MSR bitmaps" every RDMSR and WRMSR exits (reasons 31, 32), before the #GP of a missing MSR', () => {
    const g = guest(); setProc(g, 0);
    setReg(g, RCX, 0x10);
    let e = exitOf(g, '0f32');
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.RDMSR, 0, 2]);
    setReg(g, RCX, 0x1234);                                         // no such MSR
    e = exitOf(g, '0f30');
    expect(e.reason).toBe(R.WRMSR);
  });
  it('RDMSR at CPL 3 raises #GP, not the exit', () => {
    const g = guest(); setProc(g, 0); toCpl3(g);
    expect(noExit(g, '0f32')).toBe(GP);
  });
  it('read-low, read-high, write-low and write-high quarters', () => {
    const g = guest(); bitmaps(g);
    setBit(g, 0x000, 0x1b);           // read low: IA32_APIC_BASE
    setBit(g, 0x400, 0xc0001fff);     // read high: last bit of the high range
    setBit(g, 0x800, 0x1fff);         // write low: last bit of the low range
    setBit(g, 0xc00, 0xc0000100);     // write high: IA32_FS_BASE
    const rd = (msr: number) => { setReg(g, RCX, msr); return exec(g, '0f32'); };
    const wr = (msr: number) => { setReg(g, RCX, msr); setReg(g, RAX, 0); setReg(g, RDX, 0); return exec(g, '0f30'); };
    const exited = (o: Outcome) => ('exit' in o ? o.exit.reason : 'none');
    expect(exited(rd(0x1b))).toBe(R.RDMSR);
    expect(exited(wr(0x1b))).toBe('none');
    expect(exited(rd(0xc0001fff))).toBe(R.RDMSR);
    expect(exited(rd(0xc0000100))).toBe('none');
    expect(exited(wr(0xc0000100))).toBe(R.WRMSR);
    expect(exited(wr(0x1fff))).toBe(R.WRMSR);
    expect(exited(rd(0x1fff))).toBe('none');   // no exit: the ordinary #GP of a missing MSR
    expect(exited(rd(0xc0000080))).toBe('none');
    expect(reg(g, RAX)).toBe(g.cpu.efer);
  });
  it('MSRs outside 0-1FFFH and C0000000H-C0001FFFH always exit, whatever the bitmaps hold', () => {
    const g = guest(); bitmaps(g);
    for (const msr of [0x2000, 0xbfffffff, 0xc0002000, 0x40000000, 0xffffffff]) {
      setReg(g, RCX, msr);
      expect(exitOf(g, '0f32').reason, msr.toString(16)).toBe(R.RDMSR);
      expect(exitOf(g, '0f30').reason, msr.toString(16)).toBe(R.WRMSR);
    }
  });
});

describe('RDTSC, RDTSCP and TSC offsetting', () => {
  const at = (g: Guest, count: number) => { g.cpu.clock.icount = count; g.cpu.msr.tscOffset = 0; };
  const edxEax = (g: Guest) => (g.cpu.lo[RDX] >>> 0) * 2 ** 32 + (g.cpu.lo[RAX] >>> 0);
  it('RDTSC exits with reason 16 iff "RDTSC exiting"', () => {
    const g = guest(); setProc(g, PROC.RDTSC_EXITING);
    const e = exitOf(g, '0f31');
    expect([e.reason, e.info.instructionLength]).toEqual([R.RDTSC, 2]);
  });
  it('RDTSC with CR4.TSD at CPL 3 raises #GP, not the exit', () => {
    const g = guest(); setProc(g, PROC.RDTSC_EXITING);
    g.cpu.cr4 |= CR4_TSD; toCpl3(g);
    expect(noExit(g, '0f31')).toBe(GP);
  });
  it('RDTSC returns TSC + TSC offset with "use TSC offsetting" (64-bit addition, carry and negative offsets)', () => {
    const g = guest(); at(g, 1000);
    setProc(g, 0);
    expect(noExit(g, '0f31')).toBeUndefined();
    expect(edxEax(g)).toBe(1000);
    setProc(g, PROC.USE_TSC_OFFSETTING);
    g.vmcs.write(F.TSC_OFFSET, 5, 1);
    noExit(g, '0f31');
    expect(edxEax(g)).toBe(2 ** 32 + 1005);
    g.vmcs.write(F.TSC_OFFSET, 0xffffffff, 0);          // carry out of the low half
    noExit(g, '0f31');
    expect(edxEax(g)).toBe(2 ** 32 + 999);
    g.vmcs.write(F.TSC_OFFSET, -100 >>> 0, 0xffffffff);   // -100
    noExit(g, '0f31');
    expect(edxEax(g)).toBe(900);
  });
  it('RDMSR of IA32_TIME_STAMP_COUNTER returns TSC + offset too', () => {
    const g = guest(); at(g, 1000);
    setProc(g, PROC.USE_TSC_OFFSETTING | PROC.USE_MSR_BITMAPS);
    g.vmcs.write(F.ADDRESS_OF_MSR_BITMAPS, MSR_BITMAP);
    g.vmcs.write(F.TSC_OFFSET, 24, 0);
    setReg(g, RCX, 0x10);
    expect(noExit(g, '0f32')).toBeUndefined();
    expect(edxEax(g)).toBe(1024);
  });
  it('WRMSR of IA32_TIME_STAMP_COUNTER sets the processor TSC: the guest then reads the value plus the offset', () => {
    const g = guest(); at(g, 1000);
    setProc(g, PROC.USE_TSC_OFFSETTING | PROC.USE_MSR_BITMAPS);
    g.vmcs.write(F.ADDRESS_OF_MSR_BITMAPS, MSR_BITMAP);
    g.vmcs.write(F.TSC_OFFSET, 3, 0);
    setReg(g, RCX, 0x10); setReg(g, RAX, 0x5000); setReg(g, RDX, 2);
    expect(noExit(g, '0f30')).toBeUndefined();
    expect(g.cpu.msr.tsc()).toBe(2 * 2 ** 32 + 0x5000);
    noExit(g, '0f31');
    expect(edxEax(g)).toBe(2 * 2 ** 32 + 0x5003);
  });
  it('RDTSCP raises #UD unless "enable RDTSCP"', () => {
    const g = guest(); setProc(g, PROC.RDTSC_EXITING);
    expect(noExit(g, '0f01f9')).toBe(UD);
  });
  it('RDTSCP exits with reason 51 when "RDTSC exiting" and "enable RDTSCP"; otherwise TSC + offset and IA32_TSC_AUX', () => {
    const g = guest(); at(g, 1000);
    setProc2(g, PROC2.ENABLE_RDTSCP, PROC.RDTSC_EXITING);
    const e = exitOf(g, '0f01f9');
    expect([e.reason, e.info.instructionLength]).toEqual([R.RDTSCP, 3]);
    setProc2(g, PROC2.ENABLE_RDTSCP, PROC.USE_TSC_OFFSETTING);
    g.vmcs.write(F.TSC_OFFSET, 7, 0);
    g.cpu.msr.write(0xc0000103, 0x42, 0);
    expect(noExit(g, '0f01f9')).toBeUndefined();
    expect(edxEax(g)).toBe(1007);
    expect(g.cpu.lo[RCX]).toBe(0x42);
  });
});

describe('PAUSE and PAUSE-loop exiting', () => {
  it('PAUSE exits with reason 40 iff "PAUSE exiting"', () => {
    const g = guest(); setProc(g, PROC.PAUSE_EXITING);
    const e = exitOf(g, 'f390');
    expect([e.reason, e.info.instructionLength]).toEqual([R.PAUSE, 2]);
    setProc(g, 0);
    expect(noExit(g, 'f390')).toBeUndefined();
  });
  const ple = (g: Guest, gap: number, window: number) => {
    setProc2(g, PROC2.PAUSE_LOOP_EXITING);
    g.vmcs.write(F.PLE_GAP, gap); g.vmcs.write(F.PLE_WINDOW, window);
    g.cpu.msr.tscOffset = 0;
  };
  const pauseAt = (g: Guest, t: number) => { g.cpu.clock.icount = t; return exec(g, 'f390'); };
  it('exits when a loop of PAUSEs no more than PLE_Gap apart lasts more than PLE_Window', () => {
    const g = guest(); ple(g, 10, 100);
    for (let t = 1000; t <= 1100; t += 10) expect('exit' in pauseAt(g, t), `t=${t}`).toBe(false);
    const o = pauseAt(g, 1101);                       // 101 > PLE_Window after the loop's first PAUSE
    expect('exit' in o && o.exit.reason).toBe(R.PAUSE);
  });
  it('a gap larger than PLE_Gap starts a new loop', () => {
    const g = guest(); ple(g, 10, 100);
    for (let t = 1000; t <= 1090; t += 10) pauseAt(g, t);
    expect('exit' in pauseAt(g, 1101)).toBe(false);  // 11 > PLE_Gap: first of a new loop
    expect('exit' in pauseAt(g, 1201)).toBe(false);  // again
  });
  it('PAUSE-loop exiting applies only at CPL 0', () => {
    const g = guest(); ple(g, 10, 5); toCpl3(g);
    for (let t = 0; t <= 100; t += 5) expect('exit' in pauseAt(g, t)).toBe(false);
  });
});

/** Instruction-information bits defined for a memory operand with a base and no index register. */
const DEFINED_NO_INDEX = (0x7 << 7) | (1 << 10) | (0x7 << 15) | (1 << 22) | (0xf << 23) | (1 << 27) | (0xf << 28);

describe('descriptor-table exiting', () => {
  /** Bits of the LGDT/LIDT/SGDT/SIDT format that are defined in 64-bit mode (bit 11, operand size, is not). */
  const GDT_DEFINED = 0x3 | (0x7 << 7) | (1 << 10) | (0x7 << 15) | (0xf << 18) | (1 << 22) | (0xf << 23) | (1 << 27) | (0x3 << 28);
  it('LGDT exits with reason 46, the displacement as qualification and the instruction information', () => {
    const g = guest(); setProc2(g, PROC2.DESCRIPTOR_TABLE_EXITING);
    setReg(g, RAX, DATA);
    const e = exitOf(g, '0f015008');                                // lgdt [rax+8]
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.GDTR_IDTR, 8, 4]);
    // address size 64, DS, no index, base RAX, identity 2 (LGDT); scaling undefined without index
    expect(e.info.instructionInfo! & GDT_DEFINED & ~0x3).toBe(0x20418100);
  });
  it('SGDT with base, scaled index and disp32: scaling, index and base registers; identity 0', () => {
    const g = guest(); setProc2(g, PROC2.DESCRIPTOR_TABLE_EXITING);
    const e = exitOf(g, '0f01848b00010000');                        // sgdt [rbx+rcx*4+0x100]
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.GDTR_IDTR, 0x100, 8]);
    expect(e.info.instructionInfo! & GDT_DEFINED).toBe(0x2 | 0x100 | (DS << 15) | (1 << 18) | (3 << 23));
  });
  it('SIDT [rbp-8]: SS is the segment, the qualification is the sign-extended displacement; LIDT is identity 3', () => {
    const g = guest(); setProc2(g, PROC2.DESCRIPTOR_TABLE_EXITING);
    let e = exitOf(g, '0f014df8');                                  // sidt [rbp-8]
    expect(e.qualification).toBe(-8);                               // FFFFFFFF_FFFFFFF8H
    expect(e.info.instructionInfo! & GDT_DEFINED & ~0x3).toBe(0x100 | (SS << 15) | (1 << 22) | (RBP << 23) | (1 << 28));
    setReg(g, RAX, DATA);
    e = exitOf(g, '0f0118');                                        // lidt [rax]
    expect((e.info.instructionInfo! >>> 28) & 3).toBe(3);
  });
  it('LGDT at CPL 3 raises #GP first; SGDT at CPL 3 exits', () => {
    const g = guest(); setProc2(g, PROC2.DESCRIPTOR_TABLE_EXITING);
    setReg(g, RAX, DATA); toCpl3(g);
    expect(noExit(g, '0f015008')).toBe(GP);
    expect(exitOf(g, '0f0100').reason).toBe(R.GDTR_IDTR);
  });
  it('LLDT/LTR/SLDT/STR exit with reason 47 and the register or memory format, identities 2, 3, 0, 1', () => {
    const g = guest(); setProc2(g, PROC2.DESCRIPTOR_TABLE_EXITING);
    const REG_DEFINED = (0xf << 3) | (1 << 10) | (0x3 << 28);
    let e = exitOf(g, '0f00d0');                                    // lldt ax
    expect([e.reason, e.qualification, e.info.instructionLength]).toEqual([R.LDTR_TR, 0, 3]);
    expect(e.info.instructionInfo! & REG_DEFINED).toBe((RAX << 3) | (1 << 10) | (2 << 28));
    e = exitOf(g, '0f00c1');                                        // sldt ecx
    expect(e.info.instructionInfo! & REG_DEFINED).toBe((RCX << 3) | (1 << 10) | (0 << 28));
    setReg(g, RAX, DATA);
    e = exitOf(g, '0f0018');                                        // ltr [rax]
    expect(e.info.instructionInfo! & DEFINED_NO_INDEX).toBe(0x100 | (DS << 15) | (1 << 22) | (3 << 28));
    e = exitOf(g, '0f004804');                                      // str [rax+4]
    expect(e.qualification).toBe(4);
    expect(e.info.instructionInfo! & DEFINED_NO_INDEX).toBe(0x100 | (DS << 15) | (1 << 22) | (1 << 28));
  });
  it('descriptor-table instructions run normally without the control', () => {
    const g = guest(); setProc(g, 0);
    setReg(g, RAX, DATA);
    expect(noExit(g, '0f0100')).toBeUndefined();                    // sgdt [rax]
    expect(g.bus.read16(DATA)).toBe(g.cpu.gdtLimit);
  });
});
