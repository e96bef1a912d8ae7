/**
 * Valid VMCS setups for the VM-entry check tests, built from the SDM's rules (not from the
 * checker): a 64-bit host with a 64-bit guest, and 32-bit guests (unrestricted real mode,
 * unrestricted protected mode with paging off, PAE paging, virtual-8086). Each `Env` holds a
 * Map-backed VMCS, the capability MSRs (vmxray's model from caps.ts, which tests may change), the
 * processor state and a sparse physical memory.
 */
import * as F from '../../../src/vmx/fields.js';
import { PROC, PROC2, EXIT, ENTRY } from '../../../src/vmx/controls.js';
import { VMX_CAPS, vmxMsrValues } from '../../../src/vmx/caps.js';
import type { VmcsReader, VmxCapsView, EntryProcessorState, PhysReader } from '../../../src/vmx/checks/index.js';

export class MapVmcs implements VmcsReader {
  readonly m = new Map<number, [number, number]>();
  read(enc: number): number { return (this.m.get(enc)?.[0] ?? 0) >>> 0; }
  readHi(enc: number): number { return (this.m.get(enc)?.[1] ?? 0) >>> 0; }
  write(enc: number, lo: number, hi = 0): void { this.m.set(enc, [lo >>> 0, hi >>> 0]); }
  or(enc: number, bits: number): void { this.write(enc, this.read(enc) | bits, this.readHi(enc)); }
  clear(enc: number, bits: number): void { this.write(enc, this.read(enc) & ~bits, this.readHi(enc)); }
  clone(): MapVmcs { const c = new MapVmcs(); for (const [k, v] of this.m) c.m.set(k, [v[0], v[1]]); return c; }
}

export class SparseMem implements PhysReader {
  readonly m = new Map<number, number>();
  read32(pa: number): number { return (this.m.get(pa) ?? 0) >>> 0; }
  w32(pa: number, v: number): void { this.m.set(pa, v >>> 0); }
  w64(pa: number, lo: number, hi: number): void { this.w32(pa, lo); this.w32(pa + 4, hi); }
}

export interface TestCaps extends VmxCapsView {
  msrs: Map<number, [number, number]>;
  physicalAddressWidth: number;
  linearAddressWidth: number;
  debugctlValid: number;
}

export interface TestCpu extends EntryProcessorState {
  instruction: 'vmlaunch' | 'vmresume';
  currentVmcs: number;
  launchState: 'clear' | 'launched';
  blockedByMovSs: boolean;
  ia32eMode: boolean;
  inSmm: boolean;
}

export interface Env { vmcs: MapVmcs; caps: TestCaps; cpu: TestCpu; mem: SparseMem }

/** Physical addresses used by the setups. */
export const CURRENT_VMCS = 0x10000;
export const EPT_PML4 = 0x20000;
export const MSR_AREA = 0x30000;
export const PAE_PDPT = 0x40000;

export function testCaps(): TestCaps {
  const msrs = vmxMsrValues();
  return {
    msrs, physicalAddressWidth: 40, linearAddressWidth: 48, debugctlValid: 0x3,
    msr: (i: number) => msrs.get(i) ?? [0, 0],
  };
}

/** MSRs a WRMSR at CPL 0 accepts in this test model (value checks for EFER and the canonical-address MSRs). */
function wrmsrFaults(msr: number, lo: number, hi: number): boolean {
  const canon = (): boolean => { const t = (hi | 0) >> 15; return t === 0 || t === -1; };
  switch (msr >>> 0) {
    case 0x174: case 0x10: case 0x277: return false;
    case 0x175: case 0x176: case 0xc0000100: case 0xc0000101: case 0xc0000102: case 0xc0000082: case 0xc0000083:
      return !canon();
    case 0xc0000081: case 0xc0000084: case 0xc0000103: return false;
    case 0xc0000080: return hi !== 0 || (lo & ~0xd01) !== 0;
    default: return true;
  }
}

export function testCpu(): TestCpu {
  return {
    instruction: 'vmlaunch', currentVmcs: CURRENT_VMCS, launchState: 'clear', blockedByMovSs: false,
    ia32eMode: true, inSmm: false, wrmsrFaults,
  };
}

const TRUE = VMX_CAPS;

/** Host state of a 64-bit hypervisor (SDM host-state checks). */
function host64(v: MapVmcs): void {
  v.write(F.HOST_CR0, 0x80000031);        // PG | NE | ET | PE (IA32_VMX_CR0_FIXED0 = PG | NE | PE)
  v.write(F.HOST_CR3, 0x1000);
  v.write(F.HOST_CR4, 0x2020);            // VMXE | PAE
  v.write(F.HOST_CS_SELECTOR, 0x08); v.write(F.HOST_SS_SELECTOR, 0x10);
  for (const s of [F.HOST_DS_SELECTOR, F.HOST_ES_SELECTOR, F.HOST_FS_SELECTOR, F.HOST_GS_SELECTOR]) v.write(s, 0x10);
  v.write(F.HOST_TR_SELECTOR, 0x18);
  v.write(F.HOST_FS_BASE, 0); v.write(F.HOST_GS_BASE, 0xffff8000, 0xffffffff);
  v.write(F.HOST_TR_BASE, 0x2000); v.write(F.HOST_GDTR_BASE, 0x3000); v.write(F.HOST_IDTR_BASE, 0x4000);
  v.write(F.HOST_IA32_SYSENTER_ESP, 0); v.write(F.HOST_IA32_SYSENTER_EIP, 0);
  v.write(F.HOST_IA32_EFER, 0x500); v.write(F.HOST_IA32_PAT, 0x00070406, 0x00070406);
  v.write(F.HOST_RSP, 0x80000); v.write(F.HOST_RIP, 0x401000);
}

function seg(v: MapVmcs, name: 'ES' | 'CS' | 'SS' | 'DS' | 'FS' | 'GS' | 'LDTR' | 'TR', sel: number, base: number, limit: number, ar: number): void {
  const f = F as unknown as Record<string, number>;
  v.write(f[`GUEST_${name}_SELECTOR`], sel); v.write(f[`GUEST_${name}_BASE`], base);
  v.write(f[`GUEST_${name}_LIMIT`], limit); v.write(f[`GUEST_${name}_ACCESS_RIGHTS`], ar);
}

/** Everything the guest-state checks read that is the same for every setup. */
function guestCommon(v: MapVmcs): void {
  v.write(F.GUEST_DR7, 0x400);
  v.write(F.GUEST_IA32_DEBUGCTL, 0);
  v.write(F.GUEST_IA32_SYSENTER_ESP, 0); v.write(F.GUEST_IA32_SYSENTER_EIP, 0);
  v.write(F.GUEST_IA32_PAT, 0x00070406, 0x00070406);
  v.write(F.GUEST_ACTIVITY_STATE, 0); v.write(F.GUEST_INTERRUPTIBILITY_STATE, 0);
  v.write(F.GUEST_PENDING_DEBUG_EXCEPTIONS, 0);
  v.write(F.VMCS_LINK_POINTER, 0xffffffff, 0xffffffff);
  v.write(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD, 0);
  v.write(F.GUEST_RSP, 0x7000);
  v.write(F.GUEST_RFLAGS, 0x2);
}

function controls(v: MapVmcs, opts: { ia32e: boolean; proc2: number }): void {
  v.write(F.PIN_BASED_VM_EXECUTION_CONTROLS, TRUE.truePin.allowed0);
  v.write(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, TRUE.trueProc.allowed0 | PROC.ACTIVATE_SECONDARY_CONTROLS);
  v.write(F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, opts.proc2);
  v.write(F.VM_EXIT_CONTROLS, TRUE.trueExit.allowed0 | EXIT.HOST_ADDRESS_SPACE_SIZE);
  v.write(F.VM_ENTRY_CONTROLS, TRUE.trueEntry.allowed0 | (opts.ia32e ? ENTRY.IA32E_MODE_GUEST : 0));
  v.write(F.CR3_TARGET_COUNT, 0);
  // EPTP: WB (6), page-walk length 4 (bits 5:3 = 3), PML4 at EPT_PML4. Used only with "enable EPT".
  v.write(F.EPT_POINTER, EPT_PML4 | 0x18 | 6);
  v.write(F.VIRTUAL_PROCESSOR_IDENTIFIER, 1);
}

function env(vmcs: MapVmcs): Env {
  return { vmcs, caps: testCaps(), cpu: testCpu(), mem: new SparseMem() };
}

/** 64-bit host, 64-bit guest (IA-32e mode, CS.L = 1). */
export function long64(): Env {
  const v = new MapVmcs();
  controls(v, { ia32e: true, proc2: 0 });
  host64(v);
  guestCommon(v);
  v.write(F.GUEST_CR0, 0x80000031); v.write(F.GUEST_CR3, 0x5000); v.write(F.GUEST_CR4, 0x2020);
  v.write(F.GUEST_IA32_EFER, 0x500);
  seg(v, 'CS', 0x08, 0, 0xffffffff, 0xa09b);   // G, L, P, S, type 11
  seg(v, 'SS', 0x10, 0, 0xffffffff, 0xc093);   // G, D/B, P, S, type 3
  for (const s of ['DS', 'ES', 'FS', 'GS'] as const) seg(v, s, 0x10, 0, 0xffffffff, 0xc093);
  seg(v, 'LDTR', 0, 0, 0, 0x10000);              // unusable
  seg(v, 'TR', 0x18, 0x6000, 0x67, 0x8b);        // busy 64-bit TSS
  v.write(F.GUEST_GDTR_BASE, 0x7000); v.write(F.GUEST_GDTR_LIMIT, 0x27);
  v.write(F.GUEST_IDTR_BASE, 0x8000); v.write(F.GUEST_IDTR_LIMIT, 0xfff);
  v.write(F.GUEST_RIP, 0x401000);
  return env(v);
}

/** 64-bit host, unrestricted guest in real-address mode (CR0.PE = CR0.PG = 0) at F000:FFF0. */
export function realUnrestricted(): Env {
  const v = new MapVmcs();
  controls(v, { ia32e: false, proc2: PROC2.ENABLE_EPT | PROC2.UNRESTRICTED_GUEST });
  host64(v);
  guestCommon(v);
  v.write(F.GUEST_CR0, 0x30); v.write(F.GUEST_CR3, 0); v.write(F.GUEST_CR4, 0x2000);
  seg(v, 'CS', 0xf000, 0xf0000, 0xffff, 0x9b);
  for (const s of ['SS', 'DS', 'ES', 'FS', 'GS'] as const) seg(v, s, 0, 0, 0xffff, 0x93);
  seg(v, 'LDTR', 0, 0, 0xffff, 0x82);
  seg(v, 'TR', 0, 0, 0xffff, 0x8b);
  v.write(F.GUEST_GDTR_BASE, 0); v.write(F.GUEST_GDTR_LIMIT, 0xffff);
  v.write(F.GUEST_IDTR_BASE, 0); v.write(F.GUEST_IDTR_LIMIT, 0x3ff);
  v.write(F.GUEST_RIP, 0xfff0);
  return env(v);
}

/** 64-bit host, unrestricted guest in 32-bit protected mode with paging off. */
export function protUnrestricted(): Env {
  const v = new MapVmcs();
  controls(v, { ia32e: false, proc2: PROC2.ENABLE_EPT | PROC2.UNRESTRICTED_GUEST });
  host64(v);
  guestCommon(v);
  v.write(F.GUEST_CR0, 0x31); v.write(F.GUEST_CR3, 0); v.write(F.GUEST_CR4, 0x2000);
  seg(v, 'CS', 0x08, 0, 0xffffffff, 0xc09b);
  for (const s of ['SS', 'DS', 'ES', 'FS', 'GS'] as const) seg(v, s, 0x10, 0, 0xffffffff, 0xc093);
  seg(v, 'LDTR', 0, 0, 0, 0x10000);
  seg(v, 'TR', 0x18, 0x6000, 0x67, 0x8b);
  v.write(F.GUEST_GDTR_BASE, 0x7000); v.write(F.GUEST_GDTR_LIMIT, 0x27);
  v.write(F.GUEST_IDTR_BASE, 0x8000); v.write(F.GUEST_IDTR_LIMIT, 0x7ff);
  v.write(F.GUEST_RIP, 0x100000);
  return env(v);
}

/** 64-bit host, 32-bit guest with PAE paging and no EPT: the PDPTEs come from memory at CR3 (PAE_PDPT). */
export function pae32(): Env {
  const e = protUnrestricted();
  const v = e.vmcs;
  v.write(F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, 0);
  v.write(F.GUEST_CR0, 0x80000031); v.write(F.GUEST_CR3, PAE_PDPT); v.write(F.GUEST_CR4, 0x2020);
  for (let i = 0; i < 4; i++) e.mem.w64(PAE_PDPT + i * 8, 0x100001 + i * 0x1000, 0); // present, page directories
  return e;
}

/** 64-bit host, virtual-8086 guest (RFLAGS.VM = 1) under 32-bit paging. */
export function v86(): Env {
  const e = protUnrestricted();
  const v = e.vmcs;
  v.write(F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, 0);
  v.write(F.GUEST_CR0, 0x80000031); v.write(F.GUEST_CR3, 0x9000); v.write(F.GUEST_CR4, 0x2000);
  v.write(F.GUEST_RFLAGS, 0x20202);
  for (const s of ['CS', 'SS', 'DS', 'ES', 'FS', 'GS'] as const) seg(v, s, 0x1000, 0x10000, 0xffff, 0xf3);
  v.write(F.GUEST_RIP, 0x100);
  return e;
}

/** Add a VM-entry MSR-load area with these [msr, lo, hi] entries (each 16 bytes: index, 0, value). */
export function withMsrLoad(e: Env, entries: readonly (readonly [number, number, number])[]): void {
  e.vmcs.write(F.VM_ENTRY_MSR_LOAD_ADDRESS, MSR_AREA);
  e.vmcs.write(F.VM_ENTRY_MSR_LOAD_COUNT, entries.length);
  entries.forEach(([msr, lo, hi], i) => {
    e.mem.w32(MSR_AREA + i * 16, msr); e.mem.w32(MSR_AREA + i * 16 + 4, 0);
    e.mem.w64(MSR_AREA + i * 16 + 8, lo, hi);
  });
}
