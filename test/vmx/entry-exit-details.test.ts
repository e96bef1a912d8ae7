import { describe, it, expect } from 'vitest';
import * as F from '../../src/vmx/fields.js';
import { PROC, PROC2, ENTRY, EXIT } from '../../src/vmx/controls.js';
import { RBX, RF, CR4_PAE } from '../../src/cpu/regs.js';
import { VmExit } from '../../src/cpu/fault.js';
import { vmExit } from '../../src/vmx/exit.js';
import { holdDebugTrap } from '../../src/vmx/events.js';
import { createMachine, SEL, TSS } from '../cpu/helpers/machine.js';
import { hypervisor, identityEpt, vmwrite, VMCS_REGION, GUEST_CODE, GUEST_STACK, EPT_PML4, VMRESUME, VMCALL, UD2, type Hv } from './helpers/hv-stub.js';

/**
 * Details of VM entry and VM exit that a first implementation easily gets wrong, each with the value
 * the SDM gives (section titles quoted): PAE PDPTE registers, pending debug exceptions, RFLAGS.RF,
 * and host-state loading.
 */
const CPUID = '0fa2', NOP = '90';
const EXIT_CPUID = 10, EXIT_VMCALL = 18, EXIT_EPT_VIOLATION = 48, EXIT_MTF = 37;
const le32 = (n: number): string => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b.toString('hex'); };

// PAE tables for 32-bit guests: PDPT at 0x320000 → PD at 0x321000 (2-MiB identity pages for 0..8 MiB).
const PDPT = 0x320000, PDIR = 0x321000, PDPT2 = 0x322000, PDIR2 = 0x323000;
function paeTables(hv: { m: { bus: { write32(a: number, v: number): void } } }): void {
  const bus = hv.m.bus;
  for (let i = 0; i < 4; i++) { bus.write32(PDPT + i * 8, 0); bus.write32(PDPT + i * 8 + 4, 0); }
  bus.write32(PDPT, PDIR | 1);                       // present; bits 2:1 and 8:5 are reserved in a PAE PDPTE
  for (let i = 0; i < 4; i++) { bus.write32(PDIR + i * 8, (i << 21) | 0x83); bus.write32(PDIR + i * 8 + 4, 0); }
}

/** The hv-stub's guest turned into a 32-bit protected-mode guest with PAE paging (CR3 = PDPT). */
function paeGuest(hv: Hv): void {
  paeTables(hv);
  const v = hv.vmcs;
  v.clear(F.VM_ENTRY_CONTROLS, ENTRY.IA32E_MODE_GUEST);
  v.write(F.GUEST_CR3, PDPT);
  v.write(F.GUEST_CS_SELECTOR, SEL.KCODE32); v.write(F.GUEST_CS_ACCESS_RIGHTS, 0xc09b);
  v.write(F.EXCEPTION_BITMAP, 1 << 14);               // a guest #PF exits
}

describe('PAE PDPTE registers ("PDPTE Registers")', () => {
  it('MOV to CR0 that enables PAE paging loads the PDPTEs; the walk uses them, not memory, until MOV to CR3 reloads them', () => {
    const m = createMachine({ mode: 'prot32' });
    paeTables({ m });
    m.bus.write32(PDPT + 8, PDIR2 | 1);                // PDPTE1: linear 0x40000000 → PDIR2 → physical 0x200000
    m.bus.write32(PDIR2, 0x200000 | 0x83); m.bus.write32(PDIR2 + 4, 0);
    m.bus.write32(0x200010, 0x1234abcd);
    m.run('b8' + le32(PDPT) + '0f22d8' +             // mov eax, PDPT; mov cr3, eax (no PAE paging yet: nothing loaded)
      '0f20e0 83c820 0f22e0' +                        // mov eax, cr4; or eax, PAE; mov cr4, eax (PG = 0: nothing loaded)
      '0f20c0 0d00000080 0f22c0' +                    // mov eax, cr0; or eax, PG; mov cr0, eax → PDPTEs loaded
      'c705' + le32(PDPT + 8) + '00000000' +          // mov dword [PDPT + 8], 0 (PDPTE1 not present in memory)
      '8b1d' + le32(0x40000010) + 'f4');              // mov ebx, [0x40000010] (a TLB miss); hlt
    expect(m.cpu.stop?.reason).toBe('halted');
    expect(m.cpu.lo[RBX] >>> 0).toBe(0x1234abcd);      // PDPTE1 came from the register
    // MOV to CR3 reloads them: PDPTE1 is now not present, the access is a #PF (vector 14 stub)
    m.run('0f20d8 0f22d8' + '8b1d' + le32(0x40000010) + 'f4', 100, 0x100100);
    expect(m.vector()).toBe(14);
    expect(m.cpu.cr2).toBe(0x40000010);
  });

  it('MOV to CR3 with a present PDPTE that sets a reserved bit: #GP(0), CR3 and the PDPTE registers unchanged', () => {
    const m = createMachine({ mode: 'prot32' });
    paeTables({ m });
    m.bus.write32(PDPT2, PDIR | 1); m.bus.write32(PDPT2 + 8, PDIR2 | 3);    // PDPTE1: bit 1 (reserved) set
    m.run('b8' + le32(PDPT) + '0f22d8 0f20e0 83c820 0f22e0 0f20c0 0d00000080 0f22c0' +
      'b8' + le32(PDPT2) + '0f22d8 f4');
    expect(m.vector()).toBe(13);
    expect(m.cpu.cr3).toBe(PDPT);
    expect(m.cpu.pdpte[0]).toBe(PDIR | 1);
  });

  it('VM entry without EPT loads the PDPTEs from guest CR3 in memory; a guest MOV to CR3 reloads them', () => {
    const hv = hypervisor();
    paeGuest(hv);
    hv.m.bus.write32(0x340000, 0x600df00d);
    hv.guest('c705' + le32(PDPT) + '00000000' + '8b1d' + le32(0x340000) + CPUID + NOP);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_CPUID);
    expect(hv.m.cpu.lo[RBX] >>> 0).toBe(0x600df00d);                 // PDPTE0 came from the register
    hv.host(vmwrite(F.GUEST_RIP, GUEST_CODE + 18) + VMRESUME);
    // VMRESUME loads them from memory again: PDPTE0 is not present now, the first fetch is a #PF
    // (exit reason 0, vector 14 with an error code, qualification = the linear address)
    expect(hv.field(F.VM_EXIT_REASON)).toBe(0);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_INFORMATION)).toBe(0x80000b0e);
    expect(hv.field(F.EXIT_QUALIFICATION)).toBe(GUEST_CODE + 18);
  });

  it('VM entry with EPT loads the PDPTEs from the guest PDPTE fields; VM exit saves the registers in use', () => {
    const hv = hypervisor();
    paeGuest(hv);
    const eptp = identityEpt(hv.m);
    hv.vmcs.write(F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC2.ENABLE_EPT);
    hv.vmcs.write(F.EPT_POINTER, eptp.lo, eptp.hi);
    hv.m.bus.write32(PDPT, 0);                                         // memory: PDPTE0 not present
    hv.vmcs.write(F.GUEST_PDPTE0, PDIR | 1);                           // the field: present
    for (const f of [F.GUEST_PDPTE1, F.GUEST_PDPTE2, F.GUEST_PDPTE3]) hv.vmcs.write(f, 0);
    // second PDPT: PDPTE0 → PDIR, PDPTE1 → PDIR2; the guest loads it, then clears PDPTE1 in memory
    hv.m.bus.write32(PDPT2, PDIR | 1); hv.m.bus.write32(PDPT2 + 8, PDIR2 | 1);
    hv.guest('b8' + le32(PDPT2) + '0f22d8' + 'c705' + le32(PDPT2 + 8) + '00000000' + CPUID);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_CPUID);               // no #PF: PDPTE0 came from the field
    expect(hv.field(F.GUEST_CR3)).toBe(PDPT2);
    expect(hv.field(F.GUEST_PDPTE0)).toBe(PDIR | 1);
    expect(hv.field(F.GUEST_PDPTE1)).toBe(PDIR2 | 1);                  // the register, not memory (now 0)
    expect(hv.field(F.GUEST_PDPTE2)).toBe(0);
  });
});

describe('pending debug exceptions ("Delivery of Pending Debug Exceptions after VM Entry", "Saving Non-Register State")', () => {
  it('BS pending at VM entry is delivered as a #DB first; with #DB in the bitmap it exits, qualification BS, DR6 not updated', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 1);
    hv.vmcs.write(F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0x4000);
    hv.guest(CPUID);
    const dr6 = hv.m.cpu.dr[6];
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(0);
    expect(hv.field(F.VM_EXIT_INTERRUPTION_INFORMATION)).toBe(0x80000301);
    expect(hv.field(F.EXIT_QUALIFICATION)).toBe(0x4000);
    expect(hv.field(F.GUEST_RIP)).toBe(GUEST_CODE);
    expect(hv.m.cpu.dr[6]).toBe(dr6);
    expect(hv.field(F.GUEST_PENDING_DEBUG_EXCEPTIONS)).toBe(0);       // a #DB exit: the field is saved as clear
  });

  it('B3:B0 without BS or bit 12 are not valid pending debug exceptions: nothing is delivered', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 1);
    hv.vmcs.write(F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0x1);
    hv.guest(CPUID);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_CPUID);
  });

  it('in the HLT state a valid pending #DB is delivered after VM entry (DR6 gets B0) and wakes the guest', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.GUEST_ACTIVITY_STATE, 1);
    hv.vmcs.write(F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0x1001);           // enabled breakpoint + B0
    const h = hv.handler(1, CPUID);
    hv.guest(NOP);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_CPUID);
    expect(hv.field(F.GUEST_RIP)).toBe(h);
    expect(hv.field(F.GUEST_ACTIVITY_STATE)).toBe(0);
    expect(hv.m.cpu.dr[6] & 0x400f).toBe(0x1);
  });

  it('under blocking by MOV SS they stay pending: an exit by the first guest instruction saves them (and the blocking)', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.GUEST_INTERRUPTIBILITY_STATE, 2);
    hv.vmcs.write(F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0x1001);
    hv.guest(CPUID);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_CPUID);
    expect(hv.field(F.GUEST_INTERRUPTIBILITY_STATE)).toBe(2);
    expect(hv.field(F.GUEST_PENDING_DEBUG_EXCEPTIONS)).toBe(0x1001);
  });

  it('an exit without MOV-SS blocking saves the field as clear', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0x1001);
    hv.vmcs.write(F.GUEST_INTERRUPTIBILITY_STATE, 2);
    hv.guest(NOP + CPUID);                                             // the NOP completes: nothing pending any more
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_CPUID);
    expect(hv.field(F.GUEST_PENDING_DEBUG_EXCEPTIONS)).toBe(0);
  });

  it('a single-step trap held for an MTF VM exit ("MTF VM exits take priority over debug-trap exceptions") is saved as BS', () => {
    const hv = hypervisor();
    hv.guest(VMCALL);
    hv.launch();
    // back in the guest by hand (the run loop calls holdDebugTrap after a TF instruction with MTF on)
    const cpu = hv.m.cpu, v = cpu.vmx!;
    v.nonRoot = true; v.proc |= PROC.MONITOR_TRAP_FLAG;
    expect(holdDebugTrap(cpu, true, 0)).toBe(true);
    vmExit(cpu, new VmExit(EXIT_MTF), null);
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_MTF);
    expect(hv.field(F.GUEST_PENDING_DEBUG_EXCEPTIONS)).toBe(0x4000);
  });
});

describe('RFLAGS.RF ("Saving RIP, RSP, RFLAGS, and SSP"; "Vectored-Event Injection")', () => {
  it('a fault-class exception exit saves RF = 1 (the RF its delivery would push)', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.EXCEPTION_BITMAP, 1 << 6);
    hv.guest(UD2);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(0);
    expect(hv.field(F.GUEST_RFLAGS) & RF).toBe(RF);
  });

  it('an instruction exit saves RF = 0 even when the guest entered with RF = 1', () => {
    const hv = hypervisor();
    hv.vmcs.write(F.GUEST_RFLAGS, 0x10002);
    hv.guest(CPUID);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_CPUID);
    expect(hv.field(F.GUEST_RFLAGS)).toBe(2);
  });

  it('an EPT violation outside event delivery saves RF = 1', () => {
    const hv = hypervisor();
    const eptp = identityEpt(hv.m);
    hv.m.bus.write32(EPT_PML4 + 0x2000 + 3 * 8, 0);                    // EPT: 6..8 MiB not mapped
    hv.vmcs.write(F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, PROC2.ENABLE_EPT);
    hv.vmcs.write(F.EPT_POINTER, eptp.lo, eptp.hi);
    hv.guest('8b1c25' + le32(0x600000));                               // mov ebx, [0x600000]
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_EPT_VIOLATION);
    expect(hv.field(F.IDT_VECTORING_INFORMATION_FIELD) >>> 31).toBe(0);
    expect(hv.field(F.GUEST_RFLAGS) & RF).toBe(RF);
  });

  it('event injection pushes the RF loaded from the guest-state area ("not modified based on the type of event") and clears it', () => {
    for (const rf of [0, RF]) {
      const hv = hypervisor();
      hv.vmcs.write(F.GUEST_RFLAGS, 2 | rf);
      hv.vmcs.write(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD, 0x80000b0d);   // #GP, hardware exception, error code
      hv.vmcs.write(F.VM_ENTRY_EXCEPTION_ERROR_CODE, 0);
      hv.handler(13, CPUID);
      hv.guest(NOP);
      hv.launch();
      expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_CPUID);
      expect(hv.m.bus.read32(GUEST_STACK - 24) & RF).toBe(rf);        // the RFLAGS image of the 64-bit frame
      expect(hv.field(F.GUEST_RFLAGS) & RF).toBe(0);
    }
  });
});

describe('"Loading Host State" details', () => {
  /** A guest that exited with VMCALL, put back into non-root operation by hand to take a VM exit with other host fields. */
  function backInGuest(): Hv {
    const hv = hypervisor();
    hv.guest(VMCALL);
    hv.launch();
    expect(hv.field(F.VM_EXIT_REASON)).toBe(EXIT_VMCALL);
    hv.m.cpu.vmx!.nonRoot = true;
    hv.m.cpu.stop = null;
    return hv;
  }

  it('VMX abort 6 when the processor was in IA-32e mode and "host address-space size" is 0 ("VMX Aborts")', () => {
    const hv = backInGuest();
    const v = hv.m.cpu.vmx!;
    v.exitCtl &= ~EXIT.HOST_ADDRESS_SPACE_SIZE;
    vmExit(hv.m.cpu, new VmExit(EXIT_VMCALL), null);
    expect(hv.m.bus.read32(VMCS_REGION + 4)).toBe(6);
    expect(hv.m.cpu.stop?.reason).toBe('vmx-abort');
  });

  it('a VM exit to a PAE host loads its PDPTEs from host CR3 ("Checking and Loading Host Page-Directory-Pointer-Table Entries")', () => {
    const hv = backInGuest();
    const cpu = hv.m.cpu, c = cpu.vmx!.current!;
    paeTables(hv);
    cpu.vmx!.exitCtl &= ~EXIT.HOST_ADDRESS_SPACE_SIZE;
    cpu.efer = 0; cpu.segAr[1] = 0xc09b; cpu.updateMode();             // a 32-bit guest at the exit
    c.write(F.HOST_CR3, PDPT, 0); c.write(F.HOST_CR4, cpu.cr4 | CR4_PAE, 0);
    c.write(F.HOST_CS_SELECTOR, SEL.KCODE32);
    vmExit(cpu, new VmExit(EXIT_VMCALL), null);
    expect(cpu.stop).toBe(null);
    expect(cpu.segAr[1]).toBe(0xc09b);                                  // CS: D = 1, L = 0, G, P, type 11
    expect(cpu.segLimit[7]).toBe(0x67); expect(cpu.segBase[7]).toBe(TSS);
    expect(Array.from(cpu.pdpte)).toEqual([PDIR | 1, 0, 0, 0, 0, 0, 0, 0, PDPT]);
  });

  it('a PDPTE of a PAE host with a reserved bit set is VMX abort 2', () => {
    const hv = backInGuest();
    const cpu = hv.m.cpu, c = cpu.vmx!.current!;
    paeTables(hv);
    hv.m.bus.write32(PDPT + 8, PDIR2 | 0x20 | 1);                      // bit 5: reserved in a PAE PDPTE
    cpu.vmx!.exitCtl &= ~EXIT.HOST_ADDRESS_SPACE_SIZE;
    cpu.efer = 0; cpu.segAr[1] = 0xc09b; cpu.updateMode();
    c.write(F.HOST_CR3, PDPT, 0); c.write(F.HOST_CR4, cpu.cr4 | CR4_PAE, 0);
    c.write(F.HOST_CS_SELECTOR, SEL.KCODE32);
    vmExit(cpu, new VmExit(EXIT_VMCALL), null);
    expect(hv.m.bus.read32(VMCS_REGION + 4)).toBe(2);
    expect(cpu.stop?.reason).toBe('vmx-abort');
  });
});
