import { describe, it, expect } from 'vitest';
import * as F from '../../src/vmx/fields.js';
import { PIN, PROC, PROC2, ENTRY } from '../../src/vmx/controls.js';
import { RAX, RBX, RCX, RDX, RSP, CS, SS, DS, FS, TR, LDTR, ZF, CF } from '../../src/cpu/regs.js';
import { TSS, GDT, PML4, SEL } from '../cpu/helpers/machine.js';
import { VmxState, type EntryFailureEvent } from '../../src/vmx/state.js';
import {
  hypervisor, identityEpt, vmwrite, vmread, HOST_RIP, HOST_RSP, GUEST_CODE, GUEST_STACK, MSR_AREA,
  VMRESUME, VMCALL, UD2,
} from './helpers/hv-stub.js';

/**
 * VM entry (VMLAUNCH/VMRESUME) and the VM exit that ends it, driven by a hypervisor stub in machine
 * code (helpers/hv-stub.ts). Expected values come from the SDM Vol. 3C chapters "VM Entries" and
 * "VM Exits" (section titles quoted in each test), not from running the code.
 */
const EXIT_VMCALL = 18;

describe('VM entry into a 64-bit guest and VM exit back to the host', () => {
  it('runs the guest until an exception in the exception bitmap; the exit records it and loads host state', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 6);                  // #UD exits
    hv.guest('b834120000' + '48ffc3' + UD2);                     // mov eax, 0x1234; inc rbx; ud2
    hv.m.cpu.lo[RBX] = 41;
    hv.launch();
    const cpu = hv.m.cpu;
    expect(cpu.stop?.reason).toBe('halted');
    // "Basic VM-Exit Information": exit reason 0, "VM-exit interruption information": vector 6, type 3 (hardware exception), valid
    expect(hv.field(F.VM_EXIT_REASON)).toBe(0);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_INFORMATION)).toBe(0x80000306);
    expect(hv.field(F.IDT_VECTORING_INFORMATION_FIELD) >>> 31).toBe(0);
    // "Saving Guest RIP, RSP, and RFLAGS": RIP of the faulting instruction
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE + 8);
    expect(hv.field(F.GUEST_RSP)).toBe(GUEST_STACK);
    // general-purpose registers are neither saved nor loaded by VM transitions
    expect(cpu.lo[RAX]).toBe(0x1234);
    expect(cpu.lo[RBX]).toBe(42);
    // "Loading Host State": RIP/RSP from the host fields, RFLAGS = 2, CS/TR/LDTR attributes fixed by the SDM
    expect(cpu.rip).toBe(HOST_RIP + 1);                        // stopped after the HLT at HOST_RIP
    expect(cpu.lo[RSP]).toBe(HOST_RSP);
    expect(cpu.getFlags()).toBe(2);
    expect(cpu.cr3).toBe(PML4);
    expect(cpu.segSel[CS]).toBe(SEL.KCODE64);
    expect(cpu.segAr[CS]).toBe(0xa09b);                        // type 11, S, P, L, G
    expect(cpu.segLimit[CS]).toBe(0xffffffff);
    expect(cpu.segAr[DS]).toBe(0xc093);
    expect(cpu.segSel[TR]).toBe(SEL.TSS);
    expect(cpu.segBase[TR]).toBe(TSS);
    expect(cpu.segLimit[TR]).toBe(0x67);
    expect(cpu.segAr[TR]).toBe(0x8b);                          // busy TSS, S = 0, P
    expect(cpu.segSel[LDTR]).toBe(0);
    expect(cpu.segAr[LDTR] & 0x10000).toBe(0x10000);           // unusable
    expect(cpu.gdtBase).toBe(GDT);
    expect(cpu.gdtLimit).toBe(0xffff);
    expect(cpu.idtLimit).toBe(0xffff);
    expect(cpu.dr[7]).toBe(0x400);
    expect(cpu.vmx!.nonRoot).toBe(false);
    expect(cpu.vmx!.current!.launched).toBe(true);
    // "Updating VM-Entry Control Fields": the IA-32e mode guest control reflects EFER.LMA
    expect(hv.field(F.VM_ENTRY_CONTROLS) & ENTRY.IA32E_MODE_GUEST).toBe(ENTRY.IA32E_MODE_GUEST);
  });

  it('VMRESUME continues the guest where the hypervisor points GUEST_RIP; VMCALL exits with its instruction length', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 6);
    hv.guest(UD2 + 'b955000000' + VMCALL);                     // ud2; mov ecx, 0x55; vmcall
    hv.launch();
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE);
    // the hypervisor skips the UD2 (VMREAD guest RIP; add rax, 2; VMWRITE) and resumes
    hv.host(vmread(F.GUEST_RIP) + '4883c002' + '0f79c8' + VMRESUME);
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_VMCALL);
    expect(hv.field(F.VM_EXIT_INSTRUCTION_LENGTH)).toBe(3);
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE + 7);
    expect(hv.m.cpu.lo[RCX]).toBe(0x55);
    expect(hv.m.cpu.rip).toBe(HOST_RIP + 1);
  });

  it('VMRESUME of a VMCS that was never launched fails with VMfailValid(5)', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.PIN_BASED_VM_EXECUTION_CONTROLS, hv.vmcs.read(F.PIN_BASED_VM_EXECUTION_CONTROLS) | 0x80); // force a VMfail first
    hv.launch();
    hv.host(VMRESUME);
    expect(hv.m.cpu.getFlags() & (ZF | CF)).toBe(ZF);
    expect(hv.field(F.VM_INSTRUCTION_ERROR)).toBe(5);
  });
});

describe('unrestricted guests (SDM "Checks on Guest Control Registers, Debug Registers, and MSRs" with "unrestricted guest")', () => {
  it('enters a real-mode guest (CR0.PE = PG = 0) through EPT and exits on #UD', () => {
    const hv = hypervisor();
    const eptp = identityEpt(hv.m);
    const v = hv.vmcs;
    v.write(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, v.read(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | PROC.ACTIVATE_SECONDARY_CONTROLS);
    v.write(F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC2.ENABLE_EPT | PROC2.UNRESTRICTED_GUEST);
    v.write(F.EPT_POINTER, eptp.lo, eptp.hi);
    v.write(F.VM_ENTRY_CONTROLS, v.read(F.VM_ENTRY_CONTROLS) & ~ENTRY.IA32E_MODE_GUEST);
    v.write(F.EXCEPTION_BITMAP, 1 << 6);
    v.write(F.GUEST_CR0, 0x30); v.write(F.GUEST_CR3, 0); v.write(F.GUEST_CR4, 0x2000);
    const seg = (n: string, sel: number, base: number, limit: number, ar: number) => {
      const f = F as unknown as Record<string, number>;
      v.write(f[`GUEST_${n}_SELECTOR`], sel); v.write(f[`GUEST_${n}_BASE`], base);
      v.write(f[`GUEST_${n}_LIMIT`], limit); v.write(f[`GUEST_${n}_ACCESS_RIGHTS`], ar);
    };
    seg('CS', 0x0700, 0x7000, 0xffff, 0x9b);
    for (const s of ['SS', 'DS', 'ES', 'FS', 'GS']) seg(s, 0, 0, 0xffff, 0x93);
    seg('LDTR', 0, 0, 0xffff, 0x82);
    seg('TR', 0, 0, 0xffff, 0x8b);
    v.write(F.GUEST_GDTR_BASE, 0); v.write(F.GUEST_GDTR_LIMIT, 0xffff);
    v.write(F.GUEST_IDTR_BASE, 0); v.write(F.GUEST_IDTR_LIMIT, 0x3ff);
    v.write(F.GUEST_RIP, 0x100); v.write(F.GUEST_RSP, 0x8000);
    hv.guest('b83412' + '40' + '0f0b', 0x7100);                // mov ax, 0x1234; inc ax; ud2  (16-bit code)
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(0);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_INFORMATION)).toBe(0x80000306);
    expect(hv.m.cpu.lo[RAX] & 0xffff).toBe(0x1235);
    expect(hv.field(F.GUEST_RIP)).toBe(0x104);
    expect(hv.field(F.GUEST_CS_SELECTOR)).toBe(0x700);
    expect(hv.field(F.GUEST_CR0) & 0x80000001).toBe(0);       // still real mode
    expect(hv.field(F.VM_ENTRY_CONTROLS) & ENTRY.IA32E_MODE_GUEST).toBe(0);
    expect(hv.m.cpu.ept).toBeNull();                           // EPT is off again in root operation
    expect(hv.m.cpu.segAr[CS]).toBe(0xa09b);
  });

  it('enters a 32-bit protected-mode guest with paging off (a multiboot kernel as a hypervisor starts it)', () => {
    const hv = hypervisor();
    const eptp = identityEpt(hv.m);
    const v = hv.vmcs;
    v.write(F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC2.ENABLE_EPT | PROC2.UNRESTRICTED_GUEST);
    v.write(F.EPT_POINTER, eptp.lo, eptp.hi);
    v.write(F.VM_ENTRY_CONTROLS, v.read(F.VM_ENTRY_CONTROLS) & ~ENTRY.IA32E_MODE_GUEST);
    v.write(F.GUEST_CR0, 0x31); v.write(F.GUEST_CR3, 0); v.write(F.GUEST_CR4, 0x2000);
    v.write(F.GUEST_CS_SELECTOR, SEL.KCODE32); v.write(F.GUEST_CS_ACCESS_RIGHTS, 0xc09b);
    v.write(F.GUEST_TR_ACCESS_RIGHTS, 0x8b);
    hv.guest('b8efbeadde' + VMCALL);                          // mov eax, 0xdeadbeef; vmcall
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_VMCALL);
    expect(hv.m.cpu.lo[RAX] >>> 0).toBe(0xdeadbeef);
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE + 5);
    expect(hv.field(F.GUEST_CS_ACCESS_RIGHTS)).toBe(0xc09b);
  });
});

describe('failed VM entries (SDM "VM-Entry Failures During or After Loading Guest State", "Checks on VMX Controls and Host-State Area")', () => {
  it('a bad guest TR type ends in exit reason 0x80000021 with host state loaded, guest state not saved, and the rule published', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.GUEST_TR_ACCESS_RIGHTS, 0x89);             // available 32/64-bit TSS: an IA-32e mode guest needs 11 (busy)
    hv.guest(VMCALL);
    // subscribe before VMXON (VMXON keeps an existing VmxState)
    const vmx = hv.m.cpu.vmx = new VmxState();
    const events: EntryFailureEvent[] = [];
    const lines: string[] = [];
    vmx.onEntryFailure.push(e => events.push(e));
    vmx.log = l => lines.push(l);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON) >>> 0).toBe(0x80000021);
    expect(hv.field(F.EXIT_QUALIFICATION)).toBe(0);
    expect(hv.m.cpu.rip).toBe(HOST_RIP + 1);
    expect(hv.m.cpu.segAr[TR]).toBe(0x8b);
    expect(hv.m.cpu.segAr[CS]).toBe(0xa09b);
    expect(hv.field(F.GUEST_TR_ACCESS_RIGHTS)).toBe(0x89);       // guest state not saved
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE);
    expect(hv.m.cpu.vmx!.current!.launched).toBe(false);
    expect(hv.m.cpu.vmx!.nonRoot).toBe(false);
    expect(events).toHaveLength(1);
    expect(events[0].rule).toMatch(/^guest\.tr\./);
    expect(events[0].section).toBe('Checks on Guest Segment Registers');
    expect(events[0].outcome).toEqual({ kind: 'entry-fail', reason: 33, qualification: 0 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(events[0].rule);
  });

  it('with explainAll, every other failing rule is listed too', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.GUEST_TR_ACCESS_RIGHTS, 0x89);
    hv.vmcs.write(F.GUEST_LDTR_ACCESS_RIGHTS, 0x83);            // usable LDTR must have type 2
    const vmx = hv.m.cpu.vmx = new VmxState();
    vmx.explainAll = true;
    const events: EntryFailureEvent[] = [];
    vmx.onEntryFailure.push(e => events.push(e));
    hv.launch();
    expect(events).toHaveLength(1);
    expect(events[0].others.some(o => o.rule.startsWith('guest.ldtr.'))).toBe(true);
  });

  it('a pin-based control that is not allowed fails with VMfailValid(7) and the guest never runs', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.PIN_BASED_VM_EXECUTION_CONTROLS, hv.vmcs.read(F.PIN_BASED_VM_EXECUTION_CONTROLS) | PIN.PROCESS_POSTED_INTERRUPTS);
    hv.guest(VMCALL);
    hv.launch();
    const cpu = hv.m.cpu;
    expect(cpu.getFlags() & (ZF | CF)).toBe(ZF);
    expect(hv.field(F.VM_INSTRUCTION_ERROR)).toBe(7);
    expect(cpu.vmx!.nonRoot).toBe(false);
    expect(hv.field(F.VM_EXIT_REASON)).toBe(0);
    // stopped at the HLT right after VMLAUNCH, not at HOST_RIP
    expect(cpu.rip).not.toBe(HOST_RIP + 1);
  });

  it('an MSR-load entry that WRMSR refuses ends in exit reason 0x80000022, qualification = its index, earlier entries loaded', () => {
    const hv = hypervisor();
    const b = hv.m.bus;
    b.write32(MSR_AREA, 0xc0000081); b.write32(MSR_AREA + 4, 0); b.write32(MSR_AREA + 8, 0x12345678); b.write32(MSR_AREA + 12, 0x00230010); // IA32_STAR
    b.write32(MSR_AREA + 16, 0x4b564d00); b.write32(MSR_AREA + 20, 0); b.write32(MSR_AREA + 24, 1); b.write32(MSR_AREA + 28, 0); // no such MSR
    hv.vmcs.write(F.VM_ENTRY_MSR_LOAD_ADDRESS, MSR_AREA);
    hv.vmcs.write(F.VM_ENTRY_MSR_LOAD_COUNT, 2);
    hv.guest(VMCALL);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON) >>> 0).toBe(0x80000022);
    expect(hv.field(F.EXIT_QUALIFICATION)).toBe(2);
    expect(hv.m.cpu.msr.read(0xc0000081)).toEqual([0x12345678, 0x00230010]);
    expect(hv.m.cpu.rip).toBe(HOST_RIP + 1);
    expect(hv.m.cpu.vmx!.current!.launched).toBe(false);
  });
});

describe('event injection (SDM "Event Injection")', () => {
  it('injects an external interrupt through the guest IDT: the frame holds guest RIP, no error code', () => {
    const hv = hypervisor();
    hv.handler(0x40, 'ba40000000' + VMCALL);                   // mov edx, 0x40; vmcall
    hv.vmcs.write(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD, 0x80000040); // valid, type 0, vector 0x40
    hv.vmcs.write(F.GUEST_RFLAGS, 0x202);                       // "Checks on Guest RIP, RFLAGS, and SSP": IF = 1 to inject an external interrupt
    hv.guest(VMCALL);
    hv.launch();
    const cpu = hv.m.cpu;
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_VMCALL);
    expect(cpu.lo[RDX]).toBe(0x40);
    expect(hv.field(F.GUEST_RSP)).toBe(GUEST_STACK - 40);      // SS, RSP, RFLAGS, CS, RIP
    expect(hv.m.bus.read32(GUEST_STACK - 40)).toBe(GUEST_CODE); // the return RIP: the guest's first instruction
    expect(hv.m.bus.read32(GUEST_STACK - 32)).toBe(SEL.KCODE64);
    expect(hv.m.bus.read32(GUEST_STACK - 24)).toBe(0x202);       // RFLAGS before delivery
    expect(hv.field(F.GUEST_RFLAGS) & 0x200).toBe(0);            // the interrupt gate cleared IF
    // "VM exits clear the valid bit of the VM-entry interruption-information field"
    expect(hv.field(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD) >>> 31).toBe(0);
  });

  it('injects #GP with an error code: the handler pops the error code', () => {
    const hv = hypervisor();
    hv.handler(13, '5b' + VMCALL);                              // pop rbx; vmcall
    hv.vmcs.write(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD, 0x80000b0d); // valid, deliver error code, type 3, vector 13
    hv.vmcs.write(F.VM_ENTRY_EXCEPTION_ERROR_CODE, 0x18);
    hv.guest(VMCALL);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_VMCALL);
    expect(hv.m.cpu.lo[RBX]).toBe(0x18);
    expect(hv.field(F.GUEST_RSP)).toBe(GUEST_STACK - 40);
  });

  it('injects a software interrupt returning past the VM-entry instruction length', () => {
    const hv = hypervisor();
    hv.handler(0x80, VMCALL);
    hv.vmcs.write(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD, 0x80000480); // type 4, vector 0x80
    hv.vmcs.write(F.VM_ENTRY_INSTRUCTION_LENGTH, 2);
    hv.guest(VMCALL);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_VMCALL);
    expect(hv.m.bus.read32(GUEST_STACK - 40)).toBe(GUEST_CODE + 2);
  });
});

void DS; void FS; void SS;

describe('VMRESUME after VMXOFF', () => {
  it('fails with error 6 when VMXOFF and VMXON came between VMLAUNCH and VMRESUME; VMCLEAR + VMLAUNCH work again', async () => {
    const { hypervisor, PTR_VMXON, PTR_VMCS, VMCALL, VMRESUME, VMLAUNCH } = await import('./helpers/hv-stub.js');
    const { VM_INSTRUCTION_ERROR, EXIT_REASON: REASON } = await import('../../src/vmx/fields.js');
    const hv = hypervisor();
    hv.guest(VMCALL);
    hv.launch();
    expect(hv.field(REASON)).toBe(18);                 // the guest ran and exited with VMCALL
    const le = (x: number) => x.toString(16).padStart(8, '0').match(/../g)!.reverse().join('') + '00000000';
    const vmxon = `48b8${le(PTR_VMXON)}f30fc730`, vmptrld = `48b8${le(PTR_VMCS)}0fc730`, vmclear = `48b8${le(PTR_VMCS)}660fc730`;
    hv.host('0f01c4' + vmxon + vmptrld + VMRESUME);    // VMXOFF; VMXON; VMPTRLD; VMRESUME
    expect(hv.field(VM_INSTRUCTION_ERROR)).toBe(6);
    expect(hv.m.cpu.getFlags() & 0x40).toBe(0x40);     // VMfailValid: ZF
    hv.host(vmclear + vmptrld + VMLAUNCH);              // the way out: VMCLEAR and launch again
    expect(hv.field(REASON)).toBe(18);
  });
});
