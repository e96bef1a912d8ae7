import { describe, it, expect } from 'vitest';
import * as F from '../../src/vmx/fields.js';
import { PIN, PROC, PROC2, EXIT } from '../../src/vmx/controls.js';
import { RAX, RCX } from '../../src/cpu/regs.js';
import { Pic8259Pair } from '../../src/devices/pic8259.js';
import { Pit8254 } from '../../src/devices/pit8254.js';
import { PML4, PDPT, PD, PT0 } from '../cpu/helpers/machine.js';
import { hypervisor, identityEpt, MSR_AREA, VMCS_REGION, GUEST_CODE, GUEST_STACK, GUEST_IDT, EPT_PML4, HOST_RIP, VMCALL, VMRESUME, UD2, type Hv } from './helpers/hv-stub.js';

/**
 * VM exits caused by events in VMX non-root operation (SDM Vol. 3C: "Exception Bitmap",
 * "Other Causes of VM Exits", "Changes to Event Blocking", "VMX-Preemption Timer", "Monitor Trap
 * Flag", "Interrupt-Window Exiting and Virtual-Interrupt Delivery", "Information for VM Exits
 * That Occur During Event Delivery"). Expected values from the SDM.
 */
const orField = (hv: Hv, enc: number, bits: number) => hv.vmcs.write(enc, (hv.vmcs.read(enc) | bits) >>> 0);
const JMP_SELF = 'ebfe';

describe('exceptions', () => {
  it('#PF in the exception bitmap: exit reason 0 with the error code, qualification = linear address, CR2 unchanged', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 14);
    hv.vmcs.write(F.PAGE_FAULT_ERROR_CODE_MASK, 0); hv.vmcs.write(F.PAGE_FAULT_ERROR_CODE_MATCH, 0);
    hv.m.cpu.cr2 = 0xdead000;
    hv.guest('48b800000040000000008b00');                       // mov rax, 0x40000000; mov eax, [rax] (PDPT[1] not present)
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(0);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_INFORMATION)).toBe(0x80000b0e); // error code valid, type 3, vector 14
    expect(hv.field(F.VM_EXIT_INTERRUPTION_ERROR_CODE)).toBe(0);           // read, supervisor, not present
    expect(hv.field(F.EXIT_QUALIFICATION)).toBe(0x40000000);
    expect(hv.m.cpu.cr2).toBe(0xdead000);
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE + 10);
  });

  it('a single-step #DB in the exception bitmap: qualification BS only, DR6 and DR7 left as they were', () => {
    // SDM "Exit Qualification for Debug Exceptions" and "Debug exceptions that cause VM exits do not update DR6"
    const hv = hypervisor();
    hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 1);
    hv.m.cpu.dr[6] = 0xffff0ff1;                                // a stale B0 from an earlier breakpoint
    hv.guest('9c' + '48810c2400010000' + '9d' + '90' + VMCALL); // pushfq; or qword [rsp], TF; popfq; nop; vmcall
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(0);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_INFORMATION)).toBe(0x80000301); // type 3 (hardware exception), vector 1
    expect(hv.field(F.EXIT_QUALIFICATION)).toBe(0x4000);                   // BS, and not the stale B0
    expect(hv.m.cpu.dr[6]).toBe(0xffff0ff1);
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE + 11);                   // the trap came after the nop
  });

  it('#PF with bit 14 clear exits only when PFEC & mask differs from match', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.EXCEPTION_BITMAP, 0);
    hv.vmcs.write(F.PAGE_FAULT_ERROR_CODE_MASK, 1); hv.vmcs.write(F.PAGE_FAULT_ERROR_CODE_MATCH, 1); // not-present faults (P = 0) exit
    hv.guest('48b800000040000000008b00');
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(0);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_INFORMATION) & 0xff).toBe(14);
  });

  it('an exception not in the bitmap is delivered to the guest IDT', () => {
    const hv = hypervisor();
    hv.handler(6, 'b906000000' + VMCALL);                      // #UD handler: mov ecx, 6; vmcall
    hv.guest(UD2);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(18);
    expect(hv.m.cpu.lo[RCX]).toBe(6);
  });

  it('a triple fault in the guest is a VM exit with reason 2, not a shutdown', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.GUEST_IDTR_LIMIT, 0);                       // every delivery faults: #UD → #GP → #DF → triple fault
    hv.guest(UD2);
    hv.launch();
    expect(hv.m.cpu.stop?.reason).toBe('halted');
    expect(hv.field(F.VM_EXIT_REASON)).toBe(2);
    // "A VM exit is not considered to occur during event delivery if ... it is caused by a triple fault"
    expect(hv.field(F.IDT_VECTORING_INFORMATION_FIELD) >>> 31).toBe(0);
    expect(hv.m.cpu.rip).toBe(HOST_RIP + 1);
  });

  it('a second exception in the bitmap during delivery records the first event as IDT-vectoring information', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 13);                 // #GP exits
    hv.vmcs.write(F.GUEST_IDTR_LIMIT, 6 * 16 - 1);              // the #UD gate (vector 6) is beyond the limit: #GP(6*8+2+1)
    hv.guest(UD2);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(0);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_INFORMATION)).toBe(0x80000b0d);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_ERROR_CODE)).toBe(6 * 8 + 2 + 1); // IDT bit, EXT
    expect(hv.field(F.IDT_VECTORING_INFORMATION_FIELD)).toBe(0x80000306);    // #UD, hardware exception
  });

  it('an EPT violation while pushing the frame of an injected interrupt puts that interrupt in the IDT-vectoring field', () => {
    const hv = hypervisor();
    const eptp = identityEpt(hv.m);
    // make the guest stack's 2-MiB page (0..2 MiB) read/execute only in EPT
    hv.m.bus.write32(EPT_PML4 + 0x2000, 0x80 | (6 << 3) | 5);
    // guest paging entries already accessed/dirty, so that the walk itself needs no EPT write access
    for (const a of [PML4, PDPT, PD]) hv.m.bus.write32(a, hv.m.bus.read32(a) | 0x20);
    for (let i = 0; i < 512; i++) hv.m.bus.write32(PT0 + i * 8, hv.m.bus.read32(PT0 + i * 8) | 0x60);
    orField(hv, F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC2.ENABLE_EPT);
    hv.vmcs.write(F.EPT_POINTER, eptp.lo, eptp.hi);
    hv.handler(0x41, VMCALL);
    hv.vmcs.write(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD, 0x80000041);
    hv.vmcs.write(F.GUEST_RFLAGS, 0x202);
    hv.guest(VMCALL);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(48);
    expect(hv.field(F.IDT_VECTORING_INFORMATION_FIELD)).toBe(0x80000041);
    expect(hv.field(F.GUEST_PHYSICAL_ADDRESS)).toBe(GUEST_STACK - 8);
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE);             // the event was not delivered
    void GUEST_IDT;
  });
});

describe('NMI unblocking due to IRET', () => {
  it('a #GP on IRET while NMIs are blocked sets bit 12 of the interruption information and the saved state shows no NMI blocking', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 13);
    hv.vmcs.write(F.GUEST_INTERRUPTIBILITY_STATE, 8);            // blocking by NMI (an NMI handler is running)
    hv.guest('6a00' + '6a00' + '6a02' + '6a00' + '6a00' + '48cf'); // push SS=0, RSP=0, RFLAGS=2, CS=0, RIP=0; iretq → #GP(0)
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(0);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_INFORMATION)).toBe(0x80001b0d);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_ERROR_CODE)).toBe(0);
    expect(hv.field(F.GUEST_INTERRUPTIBILITY_STATE) & 8).toBe(0);
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE + 10);
  });

  it('a #GP elsewhere keeps bit 12 clear and the NMI blocking saved', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 13);
    hv.vmcs.write(F.GUEST_INTERRUPTIBILITY_STATE, 8);
    hv.guest('48b80000000000800000' + '8b00');                  // mov rax, 0x0000800000000000 (non-canonical); mov eax, [rax]
    hv.launch();
    expect(hv.field(F.VM_EXIT_INTERRUPTION_INFORMATION)).toBe(0x80000b0d);
    expect(hv.field(F.GUEST_INTERRUPTIBILITY_STATE) & 8).toBe(8);
  });
});

describe('VMX abort (SDM "VMX Aborts")', () => {
  it('a VM-exit MSR-load entry that cannot be loaded writes abort indicator 4 to the VMCS region and shuts down', () => {
    const hv = hypervisor();
    const b = hv.m.bus;
    b.write32(MSR_AREA + 0x100, 0x4b564d00); b.write32(MSR_AREA + 0x104, 0); b.write32(MSR_AREA + 0x108, 1); b.write32(MSR_AREA + 0x10c, 0);
    hv.vmcs.write(F.VM_EXIT_MSR_LOAD_ADDRESS, MSR_AREA + 0x100);
    hv.vmcs.write(F.VM_EXIT_MSR_LOAD_COUNT, 1);
    hv.guest(VMCALL);
    hv.launch();
    expect(hv.m.cpu.stop?.reason).toBe('vmx-abort');
    expect(b.read32(VMCS_REGION + 4)).toBe(4);
  });
});

describe('external interrupts and NMIs', () => {
  it('"external-interrupt exiting" with "acknowledge interrupt on exit": a PIT interrupt exits with its vector, even with RFLAGS.IF = 0', () => {
    const hv = hypervisor();
    const cpu = hv.m.cpu;
    const pic = new Pic8259Pair();
    pic.register(hv.m.io);
    const pit = new Pit8254({ clock: cpu.clock, irq: (l, lv) => { pic.setIrq(l, lv); cpu.intCheck = true; }, biosInit: false });
    pit.register(hv.m.io);
    cpu.intc = pic;
    orField(hv, F.PIN_BASED_VM_EXECUTION_CONTROLS, PIN.EXTERNAL_INTERRUPT_EXITING);
    orField(hv, F.VM_EXIT_CONTROLS, EXIT.ACKNOWLEDGE_INTERRUPT_ON_EXIT);
    hv.guest('48ffc0' + 'ebfb');                                // 1: inc rax; jmp 1b  (RFLAGS.IF = 0)
    // host: PIT counter 0, mode 2, count 100; unmask IRQ0 at the master PIC (vector base 0x08)
    hv.m.bus.writeBytes(0x170000, Buffer.from('b034e643b064e640b000e640b0fee621', 'hex'));
    cpu.rip = 0x170000; cpu.nip = 0x170000;
    hv.m.exec.run(cpu.clock.icount + 20);
    hv.launch(1_000_000);
    expect(hv.field(F.VM_EXIT_REASON)).toBe(1);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_INFORMATION)).toBe(0x80000008); // valid, type 0 (external interrupt), vector 8
    expect(cpu.lo[RAX]).toBeGreaterThan(100);
    expect(pic.hasIntr()).toBe(false);                          // acknowledged
  });

  it('without "acknowledge interrupt on exit" the interruption information is invalid and the interrupt stays pending', () => {
    const hv = hypervisor();
    const cpu = hv.m.cpu;
    let pending = false;
    cpu.intc = { hasIntr: () => pending, ackIntr: () => { pending = false; return 0x33; } };
    orField(hv, F.PIN_BASED_VM_EXECUTION_CONTROLS, PIN.EXTERNAL_INTERRUPT_EXITING);
    hv.guest('48ffc0' + 'ebfb');
    cpu.clock.at(cpu.clock.icount + 5000, () => { pending = true; cpu.intCheck = true; });
    hv.launch(1_000_000);
    expect(hv.field(F.VM_EXIT_REASON)).toBe(1);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_INFORMATION) >>> 31).toBe(0);
    expect(pending).toBe(true);
  });

  it('"NMI exiting": an NMI exits with interruption type 2, vector 2', () => {
    const hv = hypervisor();
    orField(hv, F.PIN_BASED_VM_EXECUTION_CONTROLS, PIN.NMI_EXITING);
    hv.guest('48ffc0' + 'ebfb');
    const cpu = hv.m.cpu;
    cpu.clock.at(cpu.clock.icount + 3000, () => { cpu.nmiPending = true; });
    hv.launch(1_000_000);
    expect(hv.field(F.VM_EXIT_REASON)).toBe(0);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_INFORMATION)).toBe(0x80000202);
    expect(cpu.nmiPending).toBe(false);
    expect(cpu.nmiBlocked).toBe(true);                          // "Updating Non-Register State": NMI exits leave NMIs blocked
  });
});

describe('VMX-preemption timer, MTF, interrupt window', () => {
  it('the preemption timer exits when it counts down to 0 at TSC rate / 2^5 (IA32_VMX_MISC[4:0] = 5)', () => {
    const hv = hypervisor();
    orField(hv, F.PIN_BASED_VM_EXECUTION_CONTROLS, PIN.ACTIVATE_VMX_PREEMPTION_TIMER);
    orField(hv, F.VM_EXIT_CONTROLS, EXIT.SAVE_VMX_PREEMPTION_TIMER_VALUE);
    hv.vmcs.write(F.VMX_PREEMPTION_TIMER_VALUE, 10);
    hv.guest('31c0' + '48ffc0' + 'ebfb');                       // xor eax, eax; 1: inc rax; jmp 1b
    const cpu = hv.m.cpu;
    cpu.msr.tscOffset = 7;                                      // the timer follows the TSC, not the instruction count
    hv.launch(100_000);
    expect(hv.field(F.VM_EXIT_REASON)).toBe(52);
    expect(hv.field(F.VMX_PREEMPTION_TIMER_VALUE)).toBe(0);
    // between 9 and 10 timer periods of 32 TSC ticks ran in the guest (TSC0 mod 32 is not known here)
    const guestInsns = 1 + cpu.lo[RAX] * 2;                      // xor + 2 per iteration (± the last partial one)
    expect(guestInsns).toBeGreaterThanOrEqual(9 * 32 - 2);
    expect(guestInsns).toBeLessThanOrEqual(10 * 32 + 1);
  });

  it('the preemption timer exit happens at the exact TSC value', () => {
    const hv = hypervisor();
    orField(hv, F.PIN_BASED_VM_EXECUTION_CONTROLS, PIN.ACTIVATE_VMX_PREEMPTION_TIMER);
    hv.vmcs.write(F.VMX_PREEMPTION_TIMER_VALUE, 3);
    hv.guest('90'.repeat(200));
    const cpu = hv.m.cpu;
    let t0 = -1;
    const origAt = cpu.clock.at.bind(cpu.clock);
    cpu.clock.at = (when, fn, name) => { if (name === 'vmx-preemption-timer') t0 = cpu.msr.tsc(); return origAt(when, fn, name); };
    hv.launch(100_000);
    expect(hv.field(F.VM_EXIT_REASON)).toBe(52);
    // t0 = TSC when VMLAUNCH executes; the guest ran instructions until TSC = (floor(t0/32)+3)*32
    const end = (Math.floor(t0 / 32) + 3) * 32;
    const guestRan = hv.field(F.GUEST_RIP) - GUEST_CODE;        // one-byte NOPs
    expect(t0 + 1 + guestRan).toBe(end);                        // VMLAUNCH itself is one instruction
  });

  it('a HLT guest is woken by the preemption timer (activity state HLT saved)', () => {
    const hv = hypervisor();
    orField(hv, F.PIN_BASED_VM_EXECUTION_CONTROLS, PIN.ACTIVATE_VMX_PREEMPTION_TIMER);
    hv.vmcs.write(F.VMX_PREEMPTION_TIMER_VALUE, 100);
    hv.guest('f4');
    hv.launch(100_000);
    expect(hv.field(F.VM_EXIT_REASON)).toBe(52);
    expect(hv.field(F.GUEST_ACTIVITY_STATE)).toBe(1);
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE + 1);
  });

  it('"monitor trap flag": an MTF exit after each guest instruction, RIP = the next instruction', () => {
    const hv = hypervisor();
    orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.MONITOR_TRAP_FLAG);
    hv.guest('b805000000' + 'ffc0' + 'ffc0');                  // mov eax, 5; inc eax; inc eax
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(37);
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE + 5);
    expect(hv.m.cpu.lo[RAX]).toBe(5);
    // VMRESUME: the next MTF exit comes after the next instruction
    hv.host('0f01c3');
    expect(hv.field(F.VM_EXIT_REASON)).toBe(37);
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE + 7);
    expect(hv.m.cpu.lo[RAX]).toBe(6);
  });

  it('"interrupt-window exiting": exits once RFLAGS.IF = 1 and blocking by STI has ended', () => {
    const hv = hypervisor();
    orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.INTERRUPT_WINDOW_EXITING);
    hv.guest('90' + 'fb' + '90' + '90' + '90');                 // nop; sti; nop; nop; nop
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(7);
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE + 3);         // after the NOP in the STI shadow
    expect(hv.field(F.GUEST_INTERRUPTIBILITY_STATE)).toBe(0);
  });

  it('"interrupt-window exiting" with IF = 1 at entry exits before the first guest instruction', () => {
    const hv = hypervisor();
    orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.INTERRUPT_WINDOW_EXITING);
    hv.vmcs.write(F.GUEST_RFLAGS, 0x202);
    hv.guest('90');
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(7);
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE);
  });

  it('blocking by STI in the interruptibility state delays the interrupt window by one instruction and is saved on exits', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.GUEST_RFLAGS, 0x202);
    hv.vmcs.write(F.GUEST_INTERRUPTIBILITY_STATE, 1);
    hv.guest(VMCALL);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(18);
    expect(hv.field(F.GUEST_INTERRUPTIBILITY_STATE)).toBe(1);  // the VMCALL ran in the STI shadow
  });
});

void JMP_SELF;

describe('PAUSE-loop exiting across VM entries', () => {
  it('a VM entry starts a new PAUSE loop: after VMRESUME the guest gets PLE_Window again before the next exit', () => {
    // SDM "PAUSE-Loop Exiting": the first PAUSE at CPL 0 after a VM entry starts a loop (as does one more than
    // PLE_Gap after the previous); a PAUSE more than PLE_Window after its loop's first PAUSE exits (reason 40).
    const hv = hypervisor();
    orField(hv, F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC.ACTIVATE_SECONDARY_CONTROLS);
    orField(hv, F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC2.PAUSE_LOOP_EXITING);
    hv.vmcs.write(F.PLE_GAP, 1_000_000); hv.vmcs.write(F.PLE_WINDOW, 50);
    hv.guest('f390'.repeat(400) + VMCALL);                       // 400 PAUSEs
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(40);
    const first = hv.field(F.GUEST_RIP) - GUEST_CODE;
    expect(first / 2).toBeGreaterThan(45);                       // ~PLE_Window PAUSEs ran before the exit
    hv.host(VMRESUME);                                           // resume at the same PAUSE
    expect(hv.field(F.VM_EXIT_REASON)).toBe(40);
    const second = hv.field(F.GUEST_RIP) - GUEST_CODE;
    expect((second - first) / 2).toBeGreaterThan(45);             // a new loop: PLE_Window again, not an immediate exit
  });
});
