import { describe, it, expect } from 'vitest';
import * as F from '../../src/vmx/fields.js';
import { PIN, PROC, PROC2, EXIT, ENTRY } from '../../src/vmx/controls.js';
import { VMX_CAPS } from '../../src/vmx/caps.js';
import { CF, ZF, DS, RAX } from '../../src/cpu/regs.js';
import { createMachine, GDT, GDT_LIMIT, IDT, TSS, TSS_LIMIT, DATA, desc } from '../cpu/helpers/machine.js';
import {
  hypervisor, identityEpt, MSR_AREA, GUEST_CODE, GUEST_IDT, EPT_PML4, HOST_RIP, VMCALL, type Hv,
} from './helpers/hv-stub.js';

/**
 * Completeness table of the VM-exit reasons: EVERY basic exit reason of SDM Vol. 3D Appendix C
 * ("VMX Basic Exit Reasons", Table "Basic Exit Reasons", 0..79) has one row here — either a small
 * scenario that produces the exit on vmxray, with a real VMLAUNCH by the hypervisor stub, and
 * checks the exit-information fields the SDM defines for it ("Basic VM-Exit Information",
 * "Information for VM Exits Due to Vectored Events", "Information for VM Exits That Occur During
 * Event Delivery", "Information for VM Exits Due to Instruction Execution"), or the reason why it
 * cannot occur on vmxray's model, with the architectural behaviour that replaces it where there
 * is one (#UD for instructions CPUID does not report; VMfailValid 7 for a control vmxray does not
 * offer). A reason that is neither covered nor explained fails the first test.
 *
 * Fields checked on every exit (SDM "Basic VM-Exit Information"): the exit reason; the exit
 * qualification ("For all other VM exits, this field is cleared": 0 where the SDM defines none);
 * the valid bits of the VM-exit interruption information and of the IDT-vectoring information
 * (clear unless the exit is due to / during an event); the VM-exit instruction length for exits
 * due to instruction execution. Detailed behaviour of each exit lives in exit-events.test.ts,
 * exit-instructions.test.ts, ept.test.ts and entry.test.ts; this table is about nothing missing.
 */

const le32 = (n: number): string => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b.toString('hex'); };
const MOV_EAX_DATA = 'b8' + le32(DATA);                       // mov eax, DATA (5 bytes)
const orField = (hv: Hv, enc: number, bits: number) => hv.vmcs.write(enc, (hv.vmcs.read(enc) | bits) >>> 0);
const proc2 = (hv: Hv, bits: number) => orField(hv, F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, bits);

/** Instruction-information bits defined for a memory operand (scaling and index are undefined without an index). */
const MEM_DEFINED = (7 << 7) | (1 << 10) | (7 << 15) | (1 << 22) | (0xf << 23) | (1 << 27);
const REG2 = 0xf0000000;
/** A memory operand [rax+disp] in 64-bit mode: address size 64, segment DS, no index, base RAX. */
const MEM_RAX = (2 << 7) | (DS << 15) | (1 << 22) | (RAX << 23);

interface Expect {
  reason: number;
  qual?: number;
  qualHi?: number;
  /** VM-exit instruction length, where the SDM defines it. */
  len?: number;
  /** VM-exit instruction information and the mask of its defined bits. */
  info?: [value: number, mask: number];
  /** VM-exit interruption information (full value); absent: the valid bit must be clear. */
  intInfo?: number;
  intError?: number;
  /** IDT-vectoring information (full value); absent: the valid bit must be clear. */
  vectoring?: number;
  guestLinear?: number;
  guestPhysical?: number;
  rip?: number;
}

/** The VM exit happened and its information fields are exactly as expected; host state was loaded (RIP past the HLT at HOST_RIP). */
function expectExit(hv: Hv, e: Expect): void {
  const f = (enc: number) => hv.field(enc) >>> 0;
  expect(hv.m.cpu.stop?.reason, hv.m.cpu.stop?.message).toBe('halted');
  expect(hv.m.cpu.vmx!.nonRoot).toBe(false);
  expect(hv.m.cpu.rip).toBe(HOST_RIP + 1);
  expect(f(F.VM_EXIT_REASON), 'exit reason').toBe(e.reason >>> 0);
  expect(f(F.EXIT_QUALIFICATION), 'exit qualification').toBe((e.qual ?? 0) >>> 0);
  expect(hv.fieldHi(F.EXIT_QUALIFICATION) >>> 0, 'exit qualification 63:32').toBe((e.qualHi ?? 0) >>> 0);
  if (e.intInfo === undefined) expect(f(F.VM_EXIT_INTERRUPTION_INFORMATION) >>> 31, 'interruption information valid').toBe(0);
  else expect(f(F.VM_EXIT_INTERRUPTION_INFORMATION), 'interruption information').toBe(e.intInfo >>> 0);
  if (e.intError !== undefined) expect(f(F.VM_EXIT_INTERRUPTION_ERROR_CODE), 'interruption error code').toBe(e.intError >>> 0);
  if (e.vectoring === undefined) expect(f(F.IDT_VECTORING_INFORMATION_FIELD) >>> 31, 'IDT-vectoring valid').toBe(0);
  else expect(f(F.IDT_VECTORING_INFORMATION_FIELD), 'IDT-vectoring information').toBe(e.vectoring >>> 0);
  if (e.len !== undefined) expect(f(F.VM_EXIT_INSTRUCTION_LENGTH), 'instruction length').toBe(e.len);
  if (e.info !== undefined) expect((f(F.VM_EXIT_INSTRUCTION_INFORMATION) & e.info[1]) >>> 0, 'instruction information').toBe(e.info[0] >>> 0);
  if (e.guestLinear !== undefined) expect(f(F.GUEST_LINEAR_ADDRESS), 'guest-linear address').toBe(e.guestLinear);
  if (e.guestPhysical !== undefined) expect(f(F.GUEST_PHYSICAL_ADDRESS), 'guest-physical address').toBe(e.guestPhysical);
  if (e.rip !== undefined) expect(f(F.GUEST_RIP), 'guest RIP').toBe(e.rip);
}

/** A guest that runs `code` and exits as `e` says; `setup` edits the VMCS / machine first. */
function scenario(code: string, e: Expect, setup: (hv: Hv) => void = () => {}): () => void {
  return () => {
    const hv = hypervisor();
    setup(hv);
    hv.guest(code);
    hv.launch();
    expectExit(hv, e);
  };
}

/** An instruction CPUID does not report raises #UD in the guest (exception bitmap bit 6 → exit 0), never an 'unsupported' stop. */
function udInGuest(code: string, setup: (hv: Hv) => void = () => {}): () => void {
  return scenario(MOV_EAX_DATA + code, { reason: 0, intInfo: 0x80000306, rip: GUEST_CODE + 5 }, (hv) => {
    hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 6);
    setup(hv);
  });
}

/** A control vmxray does not offer: VMLAUNCH fails with VMfailValid(7) ("VM entry with invalid control field(s)"). */
function vmfail7(set: (hv: Hv) => void): () => void {
  return () => {
    const hv = hypervisor();
    set(hv);
    hv.guest(VMCALL);
    hv.launch();
    const cpu = hv.m.cpu;
    expect(cpu.vmx!.nonRoot).toBe(false);
    expect(cpu.getFlags() & (ZF | CF)).toBe(ZF);
    expect(hv.field(F.VM_INSTRUCTION_ERROR)).toBe(7);
    expect(cpu.rip).not.toBe(HOST_RIP + 1);                      // the HLT after VMLAUNCH, not the VM-exit path
  };
}

// ---- a 32-bit protected-mode guest (unrestricted, paging off, EPT identity map) for task switches

const GDT32 = 0x1d0000, NEW_TSS = 0x1d1000, BUSY_TSS = 0x1d1100;
/** Guest GDT: the machine's GDT plus 0x88 available 32-bit TSS, 0x90 task gate → 0x88, 0x98 busy 32-bit TSS. */
const SEL_TSS_AVAIL = 0x88, SEL_TASK_GATE = 0x90, SEL_TSS_BUSY = 0x98;

function guest32(hv: Hv): void {
  const b = hv.m.bus, v = hv.vmcs;
  for (let i = 0; i <= GDT_LIMIT; i += 4) b.write32(GDT32 + i, b.read32(GDT + i));
  const put = (sel: number, d: [number, number]) => { b.write32(GDT32 + sel, d[0]); b.write32(GDT32 + sel + 4, d[1]); };
  put(SEL_TSS_AVAIL, desc(NEW_TSS, 0x67, 0x89, 0));
  put(SEL_TASK_GATE, [(SEL_TSS_AVAIL << 16) >>> 0, 0x8500]);  // task gate, P, DPL 0
  put(SEL_TSS_BUSY, desc(BUSY_TSS, 0x67, 0x8b, 0));
  const eptp = identityEpt(hv.m);
  proc2(hv, PROC2.ENABLE_EPT | PROC2.UNRESTRICTED_GUEST);
  v.write(F.EPT_POINTER, eptp.lo, eptp.hi);
  v.write(F.VM_ENTRY_CONTROLS, v.read(F.VM_ENTRY_CONTROLS) & ~ENTRY.IA32E_MODE_GUEST);
  v.write(F.GUEST_CR0, 0x33);                                   // PE MP ET NE, paging off
  const seg = (n: string, sel: number, base: number, limit: number, ar: number) => {
    const f = F as unknown as Record<string, number>;
    v.write(f[`GUEST_${n}_SELECTOR`], sel); v.write(f[`GUEST_${n}_BASE`], base);
    v.write(f[`GUEST_${n}_LIMIT`], limit); v.write(f[`GUEST_${n}_ACCESS_RIGHTS`], ar);
  };
  seg('CS', 0x08, 0, 0xffffffff, 0xc09b);
  for (const s of ['SS', 'DS', 'ES', 'FS', 'GS']) seg(s, 0x18, 0, 0xffffffff, 0xc093);
  seg('TR', 0x40, TSS, TSS_LIMIT, 0x8b);
  v.write(F.GUEST_GDTR_BASE, GDT32); v.write(F.GUEST_GDTR_LIMIT, SEL_TSS_BUSY + 7);
  v.write(F.GUEST_IDTR_BASE, GUEST_IDT); v.write(F.GUEST_IDTR_LIMIT, 0x7ff);
}
/** A 32-bit task gate in the guest IDT (DPL 0) to TSS `tss`. */
function idtTaskGate(hv: Hv, vector: number, tss: number, dpl = 0): void {
  hv.m.bus.write32(GUEST_IDT + vector * 8, (tss << 16) >>> 0);
  hv.m.bus.write32(GUEST_IDT + vector * 8 + 4, 0x8500 | (dpl << 13));
}
const JMP_FAR = (sel: number) => 'ea00000000' + le32(sel).slice(0, 4);   // jmp far sel:0 (ptr16:32, 7 bytes)
const CALL_FAR = (sel: number) => '9a00000000' + le32(sel).slice(0, 4);  // call far sel:0

// ---- the table

type Row =
  | { name: string; scenario: () => void }
  | { name: string; cannot: string; check?: () => void }
  | { name: string; unassigned: string };

const R: Record<number, Row> = {
  0: { name: 'exception or NMI', scenario: scenario('cc', { reason: 0, intInfo: 0x80000603, len: 1, rip: GUEST_CODE },
    (hv) => hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 3)) },       // INT3: software exception, vector 3, with its length
  1: { name: 'external interrupt', scenario: scenario('90', { reason: 1, intInfo: 0x80000033, rip: GUEST_CODE }, (hv) => {
    let pending = true;
    hv.m.cpu.intc = { hasIntr: () => pending, ackIntr: () => { pending = false; return 0x33; } };
    hv.m.cpu.intCheck = true;
    orField(hv, F.PIN_BASED_VM_EXECUTION_CONTROLS, PIN.EXTERNAL_INTERRUPT_EXITING);
    orField(hv, F.VM_EXIT_CONTROLS, EXIT.ACKNOWLEDGE_INTERRUPT_ON_EXIT);
  }) },
  2: { name: 'triple fault', scenario: scenario('0f0b', { reason: 2 }, (hv) => hv.vmcs.write(F.GUEST_IDTR_LIMIT, 0)) },
  3: { name: 'INIT signal', cannot: 'vmxray has one CPU and no INIT source: the local APIC drops INIT IPIs (src/devices/lapic.ts, ' +
    '"INIT, SIPI and SMI IPIs are ignored"), although the SDM table "Valid Combinations for the Pentium 4 and Intel Xeon ' +
    'Processors\' Local xAPIC Interrupt Command Register" allows an INIT with no shorthand to the own APIC ID (Self and All ' +
    'Including Self are invalid for INIT); the chipset reset paths (8042 command FEh, port 92H bit 0) are modelled as a ' +
    'machine reset, not as INIT#' },
  4: { name: 'start-up IPI (SIPI)', cannot: 'no SIPI source (one CPU; the local APIC drops SIPIs), so a guest in the wait-for-SIPI ' +
    'activity state is never woken by a SIPI' },
  5: { name: 'I/O SMI', cannot: 'no SMM and no dual-monitor treatment (IA32_VMX_BASIC[49] = 0): SMM VM exits cannot happen',
    check: () => expect(VMX_CAPS.basic.dualMonitor).toBe(false) },
  6: { name: 'other SMI', cannot: 'no SMM and no dual-monitor treatment (IA32_VMX_BASIC[49] = 0)',
    check: () => expect(VMX_CAPS.basic.dualMonitor).toBe(false) },
  7: { name: 'interrupt window', scenario: scenario('90', { reason: 7, rip: GUEST_CODE }, (hv) => {
    orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.INTERRUPT_WINDOW_EXITING);
    hv.vmcs.write(F.GUEST_RFLAGS, 0x202);
  }) },
  8: { name: 'NMI window', scenario: scenario('90', { reason: 8, rip: GUEST_CODE }, (hv) => {
    orField(hv, F.PIN_BASED_VM_EXECUTION_CONTROLS, PIN.NMI_EXITING | PIN.VIRTUAL_NMIS);
    orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.NMI_WINDOW_EXITING);
  }) },
  // "Exit Qualification for Task Switches": selector 15:0, source 31:30 (2 = JMP); instruction length of the JMP
  9: { name: 'task switch', scenario: scenario(JMP_FAR(SEL_TSS_AVAIL), { reason: 9, qual: 0x80000000 | SEL_TSS_AVAIL, len: 7, rip: GUEST_CODE }, guest32) },
  10: { name: 'CPUID', scenario: scenario('0fa2', { reason: 10, len: 2, rip: GUEST_CODE }) },
  11: { name: 'GETSEC', cannot: 'GETSEC exits unconditionally, but CR4.SMXE cannot be set (no SMX), so its #UD comes first', check: udInGuest('0f37') },
  12: { name: 'HLT', scenario: scenario('f4', { reason: 12, len: 1, rip: GUEST_CODE },
    (hv) => orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.HLT_EXITING)) },
  13: { name: 'INVD', scenario: scenario('0f08', { reason: 13, len: 2, rip: GUEST_CODE }) },
  14: { name: 'INVLPG', scenario: scenario(MOV_EAX_DATA + '0f0138', { reason: 14, qual: DATA, len: 3, rip: GUEST_CODE + 5 },
    (hv) => orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.INVLPG_EXITING)) },
  15: { name: 'RDPMC', scenario: scenario('0f33', { reason: 15, len: 2 },
    (hv) => orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.RDPMC_EXITING)) },
  16: { name: 'RDTSC', scenario: scenario('0f31', { reason: 16, len: 2 },
    (hv) => orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.RDTSC_EXITING)) },
  17: { name: 'RSM', cannot: 'RSM exits only in SMM under the dual-monitor treatment; without SMM it raises #UD', check: udInGuest('0faa') },
  18: { name: 'VMCALL', scenario: scenario(VMCALL, { reason: 18, len: 3, rip: GUEST_CODE }) },
  // VMX instructions exit unconditionally; qualification = displacement, instruction information per
  // "VM-Exit Instruction-Information Field" (VMCLEAR/VMPTRLD/VMPTRST/VMXON; VMREAD/VMWRITE; INVEPT/INVVPID)
  19: { name: 'VMCLEAR', scenario: scenario(MOV_EAX_DATA + '660fc77008', { reason: 19, qual: 8, len: 5, info: [MEM_RAX, MEM_DEFINED] }) },
  20: { name: 'VMLAUNCH', scenario: scenario('0f01c2', { reason: 20, len: 3, rip: GUEST_CODE }) },
  21: { name: 'VMPTRLD', scenario: scenario(MOV_EAX_DATA + '0fc77008', { reason: 21, qual: 8, len: 4, info: [MEM_RAX, MEM_DEFINED] }) },
  22: { name: 'VMPTRST', scenario: scenario(MOV_EAX_DATA + '0fc77808', { reason: 22, qual: 8, len: 4, info: [MEM_RAX, MEM_DEFINED] }) },
  // vmread rax, rcx: register operand RAX (6:3, bit 10), Reg2 = RCX (31:28)
  23: { name: 'VMREAD', scenario: scenario('0f78c8', { reason: 23, len: 3, info: [(1 << 10) | (1 << 28), 0xf0000478] }) },
  24: { name: 'VMRESUME', scenario: scenario('0f01c3', { reason: 24, len: 3, rip: GUEST_CODE }) },
  // vmwrite rcx, [rax+8]
  25: { name: 'VMWRITE', scenario: scenario(MOV_EAX_DATA + '0f794808', { reason: 25, qual: 8, len: 4, info: [MEM_RAX | (1 << 28), MEM_DEFINED | REG2] }) },
  26: { name: 'VMXOFF', scenario: scenario('0f01c4', { reason: 26, len: 3, rip: GUEST_CODE }) },
  27: { name: 'VMXON', scenario: scenario(MOV_EAX_DATA + 'f30fc77008', { reason: 27, qual: 8, len: 5, info: [MEM_RAX, MEM_DEFINED] }) },
  // mov rcx, cr3; mov cr3, rcx — "Exit Qualification for Control-Register Accesses": CR 3, MOV to CR, RCX
  28: { name: 'control-register access', scenario: scenario('0f20d9' + '0f22d9', { reason: 28, qual: 0x103, len: 3, rip: GUEST_CODE + 3 },
    (hv) => orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.CR3_LOAD_EXITING)) },
  29: { name: 'MOV DR', scenario: scenario('0f21f8', { reason: 29, qual: 0x17, len: 3 },      // mov rax, dr7
    (hv) => orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.MOV_DR_EXITING)) },
  30: { name: 'I/O instruction', scenario: scenario('e460', { reason: 30, qual: 0x00600048, len: 2 },   // in al, 60h
    (hv) => orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.UNCONDITIONAL_IO_EXITING)) },
  31: { name: 'RDMSR', scenario: scenario('b910000000' + '0f32', { reason: 31, len: 2, rip: GUEST_CODE + 5 }) },
  32: { name: 'WRMSR', scenario: scenario('b910000000' + '0f30', { reason: 32, len: 2, rip: GUEST_CODE + 5 }) },
  33: { name: 'VM-entry failure: invalid guest state', scenario: () => {
    const hv = hypervisor();
    hv.vmcs.write(F.GUEST_TR_ACCESS_RIGHTS, 0x89);              // available TSS: an IA-32e guest needs 11 (busy 64-bit TSS)
    hv.guest(VMCALL);
    hv.launch();
    expectExit(hv, { reason: 0x80000021 });
  } },
  34: { name: 'VM-entry failure: MSR loading', scenario: () => {
    const hv = hypervisor();
    const b = hv.m.bus;
    b.write32(MSR_AREA, 0x10); b.write32(MSR_AREA + 4, 0); b.write32(MSR_AREA + 8, 0); b.write32(MSR_AREA + 12, 0);   // IA32_TSC: fine
    b.write32(MSR_AREA + 16, 0x4b564d01); b.write32(MSR_AREA + 20, 0); b.write32(MSR_AREA + 24, 0); b.write32(MSR_AREA + 28, 0); // no such MSR
    hv.vmcs.write(F.VM_ENTRY_MSR_LOAD_ADDRESS, MSR_AREA);
    hv.vmcs.write(F.VM_ENTRY_MSR_LOAD_COUNT, 2);
    hv.guest(VMCALL);
    hv.launch();
    expectExit(hv, { reason: 0x80000022, qual: 2 });            // qualification: the 1-based index of the failing entry
  } },
  35: { name: '(not assigned)', unassigned: 'the SDM table skips 35' },
  36: { name: 'MWAIT', cannot: 'MONITOR/MWAIT is not reported in CPUID, so MWAIT raises #UD before any exit (even with "MWAIT exiting")',
    check: udInGuest('0f01c9', (hv) => orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.MWAIT_EXITING)) },
  37: { name: 'monitor trap flag', scenario: scenario('90' + '90', { reason: 37, rip: GUEST_CODE + 1 },
    (hv) => orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.MONITOR_TRAP_FLAG)) },
  38: { name: '(not assigned)', unassigned: 'the SDM table skips 38' },
  39: { name: 'MONITOR', cannot: 'MONITOR/MWAIT is not reported in CPUID, so MONITOR raises #UD before any exit',
    check: udInGuest('0f01c8', (hv) => orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.MONITOR_EXITING)) },
  40: { name: 'PAUSE', scenario: scenario('f390', { reason: 40, len: 2, rip: GUEST_CODE },
    (hv) => orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.PAUSE_EXITING)) },
  41: { name: 'VM-entry failure: machine-check event', cannot: 'vmxray raises no machine-check events (no #MC sources)' },
  42: { name: '(not assigned)', unassigned: 'the SDM table skips 42' },
  // mov cr8, rax below the threshold: trap-like, after the MOV (RIP past it)
  43: { name: 'TPR below threshold', scenario: scenario('b803000000' + '440f22c0', { reason: 43, rip: GUEST_CODE + 9 }, (hv) => {
    orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.USE_TPR_SHADOW);
    hv.vmcs.write(F.VIRTUAL_APIC_ADDRESS, DATA + 0x1000);
    hv.vmcs.write(F.TPR_THRESHOLD, 4);
    hv.m.bus.write8(DATA + 0x1080, 0x50);
  }) },
  44: { name: 'APIC access', cannot: '"virtualize APIC accesses" is not offered', check: vmfail7((hv) => proc2(hv, PROC2.VIRTUALIZE_APIC_ACCESSES)) },
  45: { name: 'virtualized EOI', cannot: '"virtual-interrupt delivery" is not offered',
    check: vmfail7((hv) => { proc2(hv, PROC2.VIRTUAL_INTERRUPT_DELIVERY); orField(hv, F.PIN_BASED_VM_EXECUTION_CONTROLS, PIN.EXTERNAL_INTERRUPT_EXITING); }) },
  // sgdt [rax+8]: identity 0 (SGDT) in 29:28
  46: { name: 'access to GDTR or IDTR', scenario: scenario(MOV_EAX_DATA + '0f014008', { reason: 46, qual: 8, len: 4, info: [MEM_RAX, MEM_DEFINED | 0x30000000] },
    (hv) => proc2(hv, PROC2.DESCRIPTOR_TABLE_EXITING)) },
  // str [rax+4]: identity 1 (STR)
  47: { name: 'access to LDTR or TR', scenario: scenario(MOV_EAX_DATA + '0f004804', { reason: 47, qual: 4, len: 4, info: [MEM_RAX | (1 << 28), MEM_DEFINED | 0x30000000] },
    (hv) => proc2(hv, PROC2.DESCRIPTOR_TABLE_EXITING)) },
  // mov [rax], eax to a read-only EPT page: "Exit Qualification for EPT Violations" bit 1 (write), bit 3 (readable),
  // bit 7 (guest-linear address valid), bit 8 (access to the translated address, not a paging structure)
  48: { name: 'EPT violation', scenario: scenario(MOV_EAX_DATA + '8900', { reason: 48, qual: 0x18a, guestLinear: DATA, guestPhysical: DATA, rip: GUEST_CODE + 5 }, (hv) => {
    const eptp = identityEpt(hv.m);
    hv.m.bus.write32(EPT_PML4 + 0x2000 + 8, (1 << 21) | 0x80 | (6 << 3) | 1);   // 2..4 MiB: read-only
    proc2(hv, PROC2.ENABLE_EPT);
    hv.vmcs.write(F.EPT_POINTER, eptp.lo, eptp.hi);
  }) },
  49: { name: 'EPT misconfiguration', scenario: () => {
    const hv = hypervisor();
    const eptp = identityEpt(hv.m);
    hv.m.bus.write32(EPT_PML4 + 0x2000 + 8, (1 << 21) | 0x80 | (6 << 3) | 2);   // write without read: misconfigured
    proc2(hv, PROC2.ENABLE_EPT);
    hv.vmcs.write(F.EPT_POINTER, eptp.lo, eptp.hi);
    hv.guest(MOV_EAX_DATA + '8b00');
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(49);
    expect(hv.field(F.GUEST_PHYSICAL_ADDRESS)).toBe(DATA);
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE + 5);
    expect(hv.field(F.IDT_VECTORING_INFORMATION_FIELD) >>> 31).toBe(0);
  } },
  // invept rcx, [rax+8]: Reg2 = RCX
  50: { name: 'INVEPT', scenario: scenario(MOV_EAX_DATA + '660f38804808', { reason: 50, qual: 8, len: 6, info: [MEM_RAX | (1 << 28), MEM_DEFINED | REG2] }) },
  51: { name: 'RDTSCP', scenario: scenario('0f01f9', { reason: 51, len: 3 }, (hv) => {
    orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.RDTSC_EXITING);
    proc2(hv, PROC2.ENABLE_RDTSCP);
  }) },
  52: { name: 'VMX-preemption timer expired', scenario: scenario('90', { reason: 52, rip: GUEST_CODE }, (hv) => {
    orField(hv, F.PIN_BASED_VM_EXECUTION_CONTROLS, PIN.ACTIVATE_VMX_PREEMPTION_TIMER);
    hv.vmcs.write(F.VMX_PREEMPTION_TIMER_VALUE, 0);            // 0: the exit comes before the first guest instruction
  }) },
  53: { name: 'INVVPID', scenario: scenario(MOV_EAX_DATA + '660f38814808', { reason: 53, qual: 8, len: 6, info: [MEM_RAX | (1 << 28), MEM_DEFINED | REG2] }) },
  54: { name: 'WBINVD or WBNOINVD', scenario: scenario('0f09', { reason: 54, len: 2, rip: GUEST_CODE }, (hv) => proc2(hv, PROC2.WBINVD_EXITING)) },
  55: { name: 'XSETBV', cannot: 'XSAVE is not reported in CPUID, so CR4.OSXSAVE cannot be set and XSETBV raises #UD before its unconditional exit',
    check: udInGuest('0f01d1') },
  56: { name: 'APIC write', cannot: '"APIC-register virtualization" is not offered', check: vmfail7((hv) => proc2(hv, PROC2.APIC_REGISTER_VIRTUALIZATION)) },
  57: { name: 'RDRAND', cannot: 'RDRAND is not reported in CPUID (#UD) and "RDRAND exiting" is not offered', check: udInGuest('0fc7f0') },
  // invpcid rcx, [rax]
  58: { name: 'INVPCID', scenario: scenario(MOV_EAX_DATA + 'b902000000' + '660f388208', { reason: 58, len: 5, info: [MEM_RAX | (1 << 28), MEM_DEFINED | REG2] }, (hv) => {
    orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.INVLPG_EXITING);
    proc2(hv, PROC2.ENABLE_INVPCID);
  }) },
  59: { name: 'VMFUNC', cannot: '"enable VM functions" is not offered, so VMFUNC raises #UD', check: udInGuest('0f01d4') },
  60: { name: 'ENCLS', cannot: 'no SGX: ENCLS raises #UD and "enable ENCLS exiting" is not offered', check: udInGuest('0f01cf') },
  61: { name: 'RDSEED', cannot: 'RDSEED is not reported in CPUID (#UD) and "RDSEED exiting" is not offered', check: udInGuest('0fc7f8') },
  62: { name: 'page-modification log full', cannot: '"enable PML" is not offered', check: vmfail7((hv) => proc2(hv, PROC2.ENABLE_PML | PROC2.ENABLE_EPT)) },
  63: { name: 'XSAVES', cannot: '"enable XSAVES/XRSTORS" is not offered (and XSAVE is not reported): XSAVES raises #UD', check: udInGuest('0fc728') },
  64: { name: 'XRSTORS', cannot: '"enable XSAVES/XRSTORS" is not offered: XRSTORS raises #UD', check: udInGuest('0fc718') },
  65: { name: 'PCONFIG', cannot: 'PCONFIG is not reported in CPUID: #UD', check: udInGuest('0f01c5') },
  66: { name: 'SPP-related event', cannot: '"sub-page write permissions for EPT" is not offered',
    check: vmfail7((hv) => proc2(hv, PROC2.SUB_PAGE_WRITE_PERMISSIONS_FOR_EPT | PROC2.ENABLE_EPT)) },
  67: { name: 'UMWAIT', cannot: 'WAITPKG is not reported in CPUID: UMWAIT raises #UD', check: udInGuest('f20faef0') },
  68: { name: 'TPAUSE', cannot: 'WAITPKG is not reported in CPUID: TPAUSE raises #UD', check: udInGuest('660faef0') },
  69: { name: 'LOADIWKEY', cannot: 'Key Locker is not reported (and no tertiary controls): LOADIWKEY raises #UD', check: udInGuest('f30f38dcc1') },
  70: { name: 'ENCLV', cannot: 'no SGX: ENCLV raises #UD', check: udInGuest('0f01c0') },
  71: { name: '(not assigned)', unassigned: 'the SDM table skips 71 (Intel\'s TDX module calls it "SGX conflict"; vmxray has no SGX)' },
  72: { name: 'ENQCMD PASID translation failure', cannot: 'ENQCMD is not reported in CPUID: #UD', check: udInGuest('f20f38f808') },
  73: { name: 'ENQCMDS PASID translation failure', cannot: 'ENQCMDS is not reported in CPUID: #UD', check: udInGuest('f30f38f808') },
  74: { name: 'bus lock', cannot: '"VMM bus-lock detection" is not offered', check: vmfail7((hv) => proc2(hv, PROC2.VMM_BUS_LOCK_DETECTION)) },
  75: { name: 'instruction timeout', cannot: '"instruction timeout" is not offered', check: vmfail7((hv) => proc2(hv, PROC2.INSTRUCTION_TIMEOUT)) },
  76: { name: 'SEAMCALL', cannot: 'no SEAM (TDX): SEAMCALL raises #UD', check: udInGuest('660f01cf') },
  77: { name: 'TDCALL', cannot: 'no TDX: TDCALL raises #UD', check: udInGuest('660f01cc') },
  78: { name: 'RDMSRLIST', cannot: 'RDMSRLIST is not reported in CPUID: #UD', check: udInGuest('f20f01c6') },
  79: { name: 'WRMSRLIST', cannot: 'WRMSRLIST is not reported in CPUID: #UD', check: udInGuest('f30f01c6') },
};

/** The highest basic exit reason of the SDM edition this table follows. */
const LAST_REASON = 79;

describe('VMX basic exit reasons (SDM Vol. 3D Appendix C): every reason is produced or explained', () => {
  it('has a row for every basic exit reason 0..79, and no other', () => {
    const missing: number[] = [];
    for (let n = 0; n <= LAST_REASON; n++) if (R[n] === undefined) missing.push(n);
    expect(missing, 'exit reasons neither covered nor explained').toEqual([]);
    expect(Object.keys(R).map(Number).filter((n) => n > LAST_REASON || n < 0)).toEqual([]);
  });
  it('explains every reason that has no scenario in at least a sentence', () => {
    for (const [n, r] of Object.entries(R)) {
      if ('cannot' in r) expect(r.cannot.length, `reason ${n}`).toBeGreaterThan(20);
      if ('unassigned' in r) expect([35, 38, 42, 71], `reason ${n} is assigned in the SDM`).toContain(Number(n));
    }
  });

  for (const [n, r] of Object.entries(R)) {
    if ('scenario' in r) it(`${n} ${r.name}: produced by a guest, with the exit information the SDM defines`, r.scenario);
    else if ('cannot' in r && r.check) it(`${n} ${r.name}: cannot occur (${r.cannot.slice(0, 60)}...); the architectural substitute holds`, r.check);
  }
});

describe('task switches in VMX non-root operation cause VM exit 9 (src/vmx/task-switch.ts)', () => {
  const run = (code: string, setup: (hv: Hv) => void = () => {}) => {
    const hv = hypervisor();
    guest32(hv);
    setup(hv);
    hv.guest(code);
    hv.launch();
    return hv;
  };
  it('far CALL through a task gate: the TSS selector of the gate, source 0 (CALL), the CALL\'s length', () => {
    expectExit(run(CALL_FAR(SEL_TASK_GATE)), { reason: 9, qual: SEL_TSS_AVAIL, len: 7, rip: GUEST_CODE });
  });
  it('IRET with NT = 1: the previous-task link of the current TSS, source 1 (IRET)', () => {
    const hv = run('cf', (hv) => {
      hv.vmcs.write(F.GUEST_RFLAGS, 0x4002);
      hv.m.bus.write16(TSS, SEL_TSS_BUSY);
    });
    expectExit(hv, { reason: 9, qual: 0x40000000 | SEL_TSS_BUSY, len: 1, rip: GUEST_CODE });
  });
  it('INT n through a task gate in the IDT: source 3, the INT in the IDT-vectoring information, its length', () => {
    const hv = run('cd30', (hv) => idtTaskGate(hv, 0x30, SEL_TSS_AVAIL));
    // IDT-vectoring: valid, type 4 (software interrupt), vector 30H
    expectExit(hv, { reason: 9, qual: 0xc0000000 | SEL_TSS_AVAIL, len: 2, vectoring: 0x80000430, rip: GUEST_CODE });
  });
  it('an exception through a task gate: source 3, the exception in the IDT-vectoring information', () => {
    const hv = run('0f0b', (hv) => idtTaskGate(hv, 6, SEL_TSS_AVAIL));
    expectExit(hv, { reason: 9, qual: 0xc0000000 | SEL_TSS_AVAIL, vectoring: 0x80000306, rip: GUEST_CODE });
  });
  it('an event injected at VM entry through a task gate: exit 9 before any guest instruction, the injected event as IDT-vectoring information', () => {
    const hv = run('90', (hv) => {
      idtTaskGate(hv, 6, SEL_TSS_AVAIL);
      hv.vmcs.write(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD, 0x80000306);   // #UD, hardware exception
    });
    expectExit(hv, { reason: 9, qual: 0xc0000000 | SEL_TSS_AVAIL, vectoring: 0x80000306, rip: GUEST_CODE });
    // "VM exits clear the valid bit in the VM-entry interruption-information field"
    expect(hv.field(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD) >>> 31).toBe(0);
  });
  it('INT3 through a task gate: the software exception and the INT3\'s length', () => {
    const hv = run('cc', (hv) => idtTaskGate(hv, 3, SEL_TSS_AVAIL));
    expectExit(hv, { reason: 9, qual: 0xc0000000 | SEL_TSS_AVAIL, len: 1, vectoring: 0x80000603, rip: GUEST_CODE });
  });
  it('INT n through a task gate with DPL < CPL raises #GP(vector·8 + 2) first, a fault during delivery of the INT (IDT-vectoring, its length)', () => {
    const hv = run('cd30', (hv) => {
      idtTaskGate(hv, 0x30, SEL_TSS_AVAIL);
      hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 13);
      // guest at CPL 3: user code/data of the machine's GDT
      const v = hv.vmcs;
      v.write(F.GUEST_CS_SELECTOR, 0x23); v.write(F.GUEST_CS_ACCESS_RIGHTS, 0xc0fb);
      v.write(F.GUEST_SS_SELECTOR, 0x2b); v.write(F.GUEST_SS_ACCESS_RIGHTS, 0xc0f3);
    });
    // "Information for VM Exits That Occur During Event Delivery"; the length: "faults encountered during delivery of a software interrupt"
    expectExit(hv, { reason: 0, intInfo: 0x80000b0d, intError: 0x30 * 8 + 2, vectoring: 0x80000430, len: 2, rip: GUEST_CODE });
  });
  it('the checks on the new TSS come first: a far JMP to a busy TSS raises #GP(selector), no task-switch exit', () => {
    const hv = run(JMP_FAR(SEL_TSS_BUSY), (hv) => hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 13));
    expectExit(hv, { reason: 0, intInfo: 0x80000b0d, intError: SEL_TSS_BUSY, rip: GUEST_CODE });
  });
  it('a not-present TSS raises #NP(selector) before the exit', () => {
    const hv = run(JMP_FAR(SEL_TSS_AVAIL), (hv) => {
      hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 11);
      hv.m.bus.write8(GDT32 + SEL_TSS_AVAIL + 5, 0x09);          // P = 0
    });
    expectExit(hv, { reason: 0, intInfo: 0x80000b0b, intError: SEL_TSS_AVAIL, rip: GUEST_CODE });
  });
  it('IRET with NT = 1 to a TSS that is not busy raises #TS(selector)', () => {
    const hv = run('cf', (hv) => {
      hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 10);
      hv.vmcs.write(F.GUEST_RFLAGS, 0x4002);
      hv.m.bus.write16(TSS, SEL_TSS_AVAIL);
    });
    expectExit(hv, { reason: 0, intInfo: 0x80000b0a, intError: SEL_TSS_AVAIL, rip: GUEST_CODE });
  });
  it('a far JMP to a TSS in IA-32e mode raises #GP(selector): there is no task switch to exit for', () => {
    const hv = hypervisor();
    guest32(hv);
    // back to the 64-bit guest of the stub, but with the GDT that holds the available TSS 0x88
    const v = hv.vmcs;
    v.write(F.VM_ENTRY_CONTROLS, v.read(F.VM_ENTRY_CONTROLS) | ENTRY.IA32E_MODE_GUEST);
    v.write(F.GUEST_CR0, hv.m.cpu.cr0);
    v.write(F.GUEST_CS_SELECTOR, 0x10); v.write(F.GUEST_CS_ACCESS_RIGHTS, 0xa09b);
    v.write(F.GUEST_TR_ACCESS_RIGHTS, 0x8b);
    v.write(F.GUEST_IDTR_LIMIT, 0xfff);
    v.write(F.EXCEPTION_BITMAP, 1 << 13);
    const FAR_PTR = DATA + 0x100;                                // (DATA itself holds the stub's VMXON pointer)
    hv.m.bus.write32(FAR_PTR, 0); hv.m.bus.write16(FAR_PTR + 4, SEL_TSS_AVAIL);
    hv.guest('b8' + le32(FAR_PTR) + 'ff28');                    // mov eax, FAR_PTR; jmp far [rax] (m16:32)
    hv.launch();
    expectExit(hv, { reason: 0, intInfo: 0x80000b0d, intError: SEL_TSS_AVAIL, rip: GUEST_CODE + 5 });
  });
  it('in VMX root operation a task switch still stops the machine with a clear message', () => {
    const hv = hypervisor();
    guest32(hv);
    hv.m.cpu.gdtBase = GDT32; hv.m.cpu.gdtLimit = SEL_TSS_BUSY + 7;
    hv.m.cpu.efer = 0; hv.m.cpu.cr0 = 0x33; hv.m.cpu.segAr[1] = 0xc09b; hv.m.cpu.segSel[1] = 0x08; hv.m.cpu.updateMode();
    hv.m.run(JMP_FAR(SEL_TSS_AVAIL), 10, 0x170000);
    expect(hv.m.cpu.stop?.reason).toBe('unsupported');
    expect(hv.m.cpu.stop?.message).toMatch(/task switch/);
  });
  it('outside VMX, INT n through a task gate stops the machine with a clear message (after the gate and TSS checks)', () => {
    const m = createMachine({ mode: 'prot32' });
    m.bus.write32(GDT + 0x88, desc(0x6000, 0x67, 0x89, 0)[0]); m.bus.write32(GDT + 0x8c, desc(0x6000, 0x67, 0x89, 0)[1]);
    m.cpu.gdtLimit = 0x8f;
    m.bus.write32(IDT + 0x20 * 8, 0x88 << 16); m.bus.write32(IDT + 0x20 * 8 + 4, 0x8500);
    m.cpu.idtLimit = 0x21 * 8 - 1;
    m.run('cd20', 10);
    expect(m.cpu.stop?.reason).toBe('unsupported');
    expect(m.cpu.stop?.message).toMatch(/vector 32 through the task gate for TSS 0x88 needs a hardware task switch/);
  });
});

describe('the exit-reason table of src/vmx', () => {
  it('has an Appendix C name for every reason vmxray names in code, and the numbers are those of the SDM', async () => {
    const { REASON, EXIT_REASON_NAMES } = await import('../../src/vmx/exit-reasons.js');
    for (const [key, n] of Object.entries(REASON)) expect(EXIT_REASON_NAMES[n], key).toBeDefined();
    // spot checks against SDM Vol. 3D, Appendix C "VMX Basic Exit Reasons"
    expect([REASON.EXCEPTION_OR_NMI, REASON.TRIPLE_FAULT, REASON.TASK_SWITCH, REASON.CPUID, REASON.VMCALL, REASON.CR_ACCESS,
      REASON.IO_INSTRUCTION, REASON.ENTRY_FAILURE_GUEST_STATE, REASON.MONITOR_TRAP_FLAG, REASON.EPT_VIOLATION,
      REASON.PREEMPTION_TIMER, REASON.XSETBV]).toEqual([0, 2, 9, 10, 18, 28, 30, 33, 37, 48, 52, 55]);
    expect(EXIT_REASON_NAMES[30]).toBe('I/O instruction');
    expect(EXIT_REASON_NAMES[49]).toBe('EPT misconfiguration');
  });
});
