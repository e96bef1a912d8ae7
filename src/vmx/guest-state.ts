/**
 * Guest state: loaded by VM entry (SDM Vol. 3C, "Loading Guest State") and saved by VM exit
 * ("Saving Guest State"). Values are (lo, hi) halves; addresses become the CPU's Numbers
 * (signed canonical for the 64-bit bases of an IA-32e mode guest).
 *
 * Choices where the SDM leaves one to the implementation (it calls the values "undefined"):
 * - Unusable segment registers: selector, base, limit and access rights (with bit 16 set) are
 *   loaded exactly as the VMCS holds them; every access through them faults (cpu.legacyLinear
 *   checks the unusable bit).
 * - PDPTEs of a PAE guest ("Loading Page-Directory-Pointer-Table Entries"): VM entry loads the
 *   CPU's PDPTE registers (cpu.pdpte, used by the walk in mmu.ts) from the guest PDPTE fields with
 *   "enable EPT" (guest-physical addresses), else from the PDPT at guest CR3 in physical memory (the
 *   checks of "Checks on Guest Page-Directory-Pointer-Table Entries" already refused a bad one: exit
 *   33, qualification 2). VM exit saves the registers with EPT and PAE paging ("Saving Non-Register
 *   State"); otherwise the SDM calls the saved values undefined and vmxray leaves the fields unchanged.
 * - IA32_DEBUGCTL and IA32_PERF_GLOBAL_CTRL are not implemented by vmxray's CPU: loading and saving
 *   them is a no-op (the field keeps its value / is saved as 0).
 * - RFLAGS.RF is saved by the rules of "Saving RIP, RSP, RFLAGS, and SSP" (exit.ts computes it and
 *   passes it to saveGuestState).
 * - Pending debug exceptions ("Saving Non-Register State"): exit.ts computes the value (events.ts
 *   pendingDebugOnExit) and passes it to saveGuestState.
 */
import type { CPU } from '../cpu/cpu.js';
import {
  ES, CS, SS, DS, FS, GS, LDTR, TR, RSP, FLAGS_IMPLEMENTED, CR0_ET, CR0_CD, CR0_NW, CR0_PG, CR4_PAE,
  EFER_LMA, EFER_LME, EFER_SCE, EFER_NXE, AR_L, IF, RF,
} from '../cpu/regs.js';
import { join } from '../cpu/msr.js';
import * as F from './fields.js';
import { ENTRY, EXIT, PIN, PROC2 } from './controls.js';
import { VMX_CAPS } from './caps.js';
import type { Vmcs } from './vmcs.js';
import type { VmxState } from './state.js';
import { readPdpte32 } from './ept.js';
import { loadPdptes, setPdptes, paePaging } from '../cpu/mmu.js';

const TWO32 = 4294967296;
const IA32_SYSENTER_CS = 0x174, IA32_SYSENTER_ESP = 0x175, IA32_SYSENTER_EIP = 0x176, IA32_PAT = 0x277;

/** [selector, base, limit, access rights] field encodings by CPU segment index (ES..TR). */
export const SEG_FIELDS: readonly (readonly [number, number, number, number])[] = [
  [F.GUEST_ES_SELECTOR, F.GUEST_ES_BASE, F.GUEST_ES_LIMIT, F.GUEST_ES_ACCESS_RIGHTS],
  [F.GUEST_CS_SELECTOR, F.GUEST_CS_BASE, F.GUEST_CS_LIMIT, F.GUEST_CS_ACCESS_RIGHTS],
  [F.GUEST_SS_SELECTOR, F.GUEST_SS_BASE, F.GUEST_SS_LIMIT, F.GUEST_SS_ACCESS_RIGHTS],
  [F.GUEST_DS_SELECTOR, F.GUEST_DS_BASE, F.GUEST_DS_LIMIT, F.GUEST_DS_ACCESS_RIGHTS],
  [F.GUEST_FS_SELECTOR, F.GUEST_FS_BASE, F.GUEST_FS_LIMIT, F.GUEST_FS_ACCESS_RIGHTS],
  [F.GUEST_GS_SELECTOR, F.GUEST_GS_BASE, F.GUEST_GS_LIMIT, F.GUEST_GS_ACCESS_RIGHTS],
  [F.GUEST_LDTR_SELECTOR, F.GUEST_LDTR_BASE, F.GUEST_LDTR_LIMIT, F.GUEST_LDTR_ACCESS_RIGHTS],
  [F.GUEST_TR_SELECTOR, F.GUEST_TR_BASE, F.GUEST_TR_LIMIT, F.GUEST_TR_ACCESS_RIGHTS],
];
const PDPTE_FIELDS = [F.GUEST_PDPTE0, F.GUEST_PDPTE1, F.GUEST_PDPTE2, F.GUEST_PDPTE3];
/** Access-rights bits that exist (type, S, DPL, P, AVL, L, D/B, G, unusable); 31:17 and 11:8 are reserved. */
const AR_MASK = 0x1f0ff;

/**
 * CR0 as VM entry and VM exit load it: "the following bits are not modified: ET, CD, NW; bits
 * 63:32, 28:19, 17 and 15:6; and any bits that are fixed in VMX operation" (SDM "Loading Guest
 * Control Registers, Debug Registers, and MSRs", same rule in "Loading Host Control Registers,
 * Debug Registers, MSRs"). `unrestricted`: PE and PG are not fixed for an unrestricted guest.
 */
export function loadCr0(cpu: CPU, value: number, unrestricted: boolean): void {
  const keep = (CR0_ET | CR0_CD | CR0_NW | 0x1ff80000 | (1 << 17) | 0xffc0) >>> 0;
  let fixed0 = VMX_CAPS.cr0Fixed0 >>> 0;
  if (unrestricted) fixed0 &= ~(0x80000001) >>> 0;
  cpu.cr0 = (((value & ~keep) | (cpu.cr0 & keep) | fixed0) & (VMX_CAPS.cr0Fixed1 | 0)) >>> 0;
}
/** CR4 likewise (bits fixed in VMX operation — VMXE — stay set). */
export function loadCr4(cpu: CPU, value: number): void {
  cpu.cr4 = ((value | VMX_CAPS.cr4Fixed0) & VMX_CAPS.cr4Fixed1) >>> 0;
}

/** Everything VM entry loads from the guest-state area (SDM "Loading Guest State"), before MSR loading and event injection. */
export function loadGuestState(cpu: CPU, c: Vmcs, v: VmxState, unrestricted: boolean): void {
  const ia32e = (v.entryCtl & ENTRY.IA32E_MODE_GUEST) !== 0;
  // "Loading Guest Control Registers, Debug Registers, and MSRs"
  loadCr0(cpu, c.read(F.GUEST_CR0), unrestricted);
  cpu.cr3 = ia32e ? c.readHi(F.GUEST_CR3) * TWO32 + c.read(F.GUEST_CR3) : c.read(F.GUEST_CR3);
  loadCr4(cpu, c.read(F.GUEST_CR4));
  if (v.entryCtl & ENTRY.LOAD_DEBUG_CONTROLS) {
    cpu.dr[7] = c.read(F.GUEST_DR7) >>> 0;
    cpu.updateDebugRegs();
  }
  cpu.msr.setRaw(IA32_SYSENTER_CS, c.read(F.GUEST_IA32_SYSENTER_CS), 0);
  cpu.msr.setRaw(IA32_SYSENTER_ESP, c.read(F.GUEST_IA32_SYSENTER_ESP), ia32e ? c.readHi(F.GUEST_IA32_SYSENTER_ESP) : 0);
  cpu.msr.setRaw(IA32_SYSENTER_EIP, c.read(F.GUEST_IA32_SYSENTER_EIP), ia32e ? c.readHi(F.GUEST_IA32_SYSENTER_EIP) : 0);
  if (v.entryCtl & ENTRY.LOAD_IA32_PAT) cpu.msr.setRaw(IA32_PAT, c.read(F.GUEST_IA32_PAT), c.readHi(F.GUEST_IA32_PAT));
  if (v.entryCtl & ENTRY.LOAD_IA32_EFER) {
    cpu.efer = c.read(F.GUEST_IA32_EFER) & (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE);
  } else {
    // "If the 'load IA32_EFER' VM-entry control is 0, ... IA32_EFER.LMA and IA32_EFER.LME are loaded
    // with the setting of the 'IA-32e mode guest' VM-entry control" (other bits unchanged)
    cpu.efer = (cpu.efer & ~(EFER_LMA | EFER_LME)) | (ia32e ? EFER_LMA | EFER_LME : 0);
  }
  // "Loading Guest Segment Registers and Descriptor-Table Registers"
  for (let s = ES; s <= TR; s++) {
    const [fs, fb, fl, fa] = SEG_FIELDS[s];
    cpu.segSel[s] = c.read(fs) & 0xffff;
    // 64-bit bases (FS, GS, LDTR, TR in an IA-32e mode guest) are canonical; the others fit 32 bits.
    cpu.segBase[s] = ia32e && (s === FS || s === GS || s === LDTR || s === TR) ? join(c.read(fb), c.readHi(fb)) : c.read(fb) >>> 0;
    cpu.segLimit[s] = c.read(fl) >>> 0;
    cpu.segAr[s] = c.read(fa) & AR_MASK;
  }
  cpu.gdtBase = ia32e ? join(c.read(F.GUEST_GDTR_BASE), c.readHi(F.GUEST_GDTR_BASE)) : c.read(F.GUEST_GDTR_BASE) >>> 0;
  cpu.gdtLimit = c.read(F.GUEST_GDTR_LIMIT) & 0xffff;
  cpu.idtBase = ia32e ? join(c.read(F.GUEST_IDTR_BASE), c.readHi(F.GUEST_IDTR_BASE)) : c.read(F.GUEST_IDTR_BASE) >>> 0;
  cpu.idtLimit = c.read(F.GUEST_IDTR_LIMIT) & 0xffff;
  // "Loading Guest RIP, RSP, and RFLAGS"
  const long = ia32e && (cpu.segAr[CS] & AR_L) !== 0;
  const rip = long ? join(c.read(F.GUEST_RIP), c.readHi(F.GUEST_RIP)) : c.read(F.GUEST_RIP) >>> 0;
  cpu.rip = rip; cpu.nip = rip;
  cpu.lo[RSP] = c.read(F.GUEST_RSP) | 0; cpu.hi[RSP] = ia32e ? c.readHi(F.GUEST_RSP) | 0 : 0;
  cpu.eflags = 0;
  cpu.setFlags(c.read(F.GUEST_RFLAGS) | 2, FLAGS_IMPLEMENTED);
  // "Loading Page-Directory-Pointer-Table Entries" (a guest that uses PAE paging)
  if (paePaging(cpu)) {
    if (v.proc2 & PROC2.ENABLE_EPT) {
      const e: number[] = [];
      for (const f of PDPTE_FIELDS) e.push(c.read(f), c.readHi(f));
      setPdptes(cpu, cpu.cr3, e);
    } else {
      loadPdptes(cpu, cpu.cr3, (pa) => cpu.bus.read32(pa)); // validity: checks/guest-pdpte.ts (exit 33, qualification 2)
    }
  }
  cpu.updateMode();
  // no TLB flush here: entry.ts switches to the guest's TLB context (tlb-contexts.ts)
}

/**
 * Non-register state ("Loading Guest State": activity state, interruptibility state, pending debug
 * exceptions). Blocking by SMI is ignored (no SMM). With "virtual NMIs", cpu.nmiBlocked holds the
 * virtual-NMI blocking during non-root operation (IRET clears it, as the SDM says for virtual NMIs)
 * and real NMIs are never blocked by it (events.ts).
 */
export function loadGuestNonRegisterState(cpu: CPU, c: Vmcs, v: VmxState, vectoring: boolean): void {
  const intr = c.read(F.GUEST_INTERRUPTIBILITY_STATE);
  const movSs = (intr & 2) !== 0;
  cpu.intShadow = (intr & 3) !== 0;
  cpu.movSsShadow = movSs;
  v.rootNmiBlocked = cpu.nmiBlocked;
  if ((intr & 8) !== 0) cpu.nmiBlocked = true;
  else if (v.pin & PIN.VIRTUAL_NMIS) cpu.nmiBlocked = false;
  // "Activity State": a vectoring entry ends in the active state.
  const act = vectoring ? 0 : c.read(F.GUEST_ACTIVITY_STATE);
  v.activity = act;
  cpu.halted = act !== 0;
}

/** Interruptibility state as VM exit saves it ("Saving Non-Register State"). */
export function interruptibility(cpu: CPU): number {
  let s = 0;
  if (cpu.intShadow) s |= cpu.movSsShadow ? 2 : ((cpu.eflags & IF) !== 0 ? 1 : 0);
  if (cpu.nmiBlocked) s |= 8;
  return s;
}

/** Write a Number (a signed canonical address or a value below 2^53) as (lo, hi) halves, as msr.ts split() does, without an array. */
function w2(c: Vmcs, enc: number, n: number): void {
  c.write(enc, n >>> 0, Math.floor(n / TWO32) >>> 0);
}

/**
 * VM exit: "Saving Guest State" (control registers, segments, RIP/RSP/RFLAGS, non-register state).
 * `rf`: the value saved for RFLAGS.RF ("Saving RIP, RSP, RFLAGS, and SSP"); `pendingDebug`: the
 * pending-debug-exceptions value ("Saving Non-Register State"); both decided by exit.ts.
 */
export function saveGuestState(cpu: CPU, c: Vmcs, v: VmxState, rf = (cpu.eflags & RF) !== 0, pendingDebug = 0): void {
  c.write(F.GUEST_CR0, cpu.cr0 >>> 0, 0);
  w2(c, F.GUEST_CR3, cpu.cr3);
  c.write(F.GUEST_CR4, cpu.cr4 >>> 0, 0);
  if (v.exitCtl & EXIT.SAVE_DEBUG_CONTROLS) { c.write(F.GUEST_DR7, cpu.dr[7] >>> 0, 0); }
  const m = cpu.msr;
  c.write(F.GUEST_IA32_SYSENTER_CS, m.get(IA32_SYSENTER_CS)?.[0] ?? 0);
  const esp = m.get(IA32_SYSENTER_ESP) ?? [0, 0], eip = m.get(IA32_SYSENTER_EIP) ?? [0, 0];
  c.write(F.GUEST_IA32_SYSENTER_ESP, esp[0], esp[1]); c.write(F.GUEST_IA32_SYSENTER_EIP, eip[0], eip[1]);
  if (v.exitCtl & EXIT.SAVE_IA32_PAT) { const p = m.get(IA32_PAT) ?? [0, 0]; c.write(F.GUEST_IA32_PAT, p[0], p[1]); }
  if (v.exitCtl & EXIT.SAVE_IA32_EFER) c.write(F.GUEST_IA32_EFER, cpu.efer >>> 0, 0);
  for (let s = ES; s <= TR; s++) {
    const [fs, fb, fl, fa] = SEG_FIELDS[s];
    c.write(fs, cpu.segSel[s] & 0xffff);
    w2(c, fb, cpu.segBase[s]);
    c.write(fl, cpu.segLimit[s] >>> 0);
    c.write(fa, cpu.segAr[s] & AR_MASK);
  }
  w2(c, F.GUEST_GDTR_BASE, cpu.gdtBase); c.write(F.GUEST_GDTR_LIMIT, cpu.gdtLimit & 0xffff);
  w2(c, F.GUEST_IDTR_BASE, cpu.idtBase); c.write(F.GUEST_IDTR_LIMIT, cpu.idtLimit & 0xffff);
  w2(c, F.GUEST_RIP, cpu.rip);
  c.write(F.GUEST_RSP, cpu.lo[RSP] >>> 0, cpu.hi[RSP] >>> 0);
  c.write(F.GUEST_RFLAGS, ((cpu.getFlags() & ~RF) | (rf ? RF : 0)) >>> 0, 0);
  // "Saving Non-Register State"
  c.write(F.GUEST_ACTIVITY_STATE, cpu.halted ? (v.activity >= 2 ? v.activity : 1) : 0);
  c.write(F.GUEST_INTERRUPTIBILITY_STATE, interruptibility(cpu));
  c.write(F.GUEST_PENDING_DEBUG_EXCEPTIONS, pendingDebug >>> 0, 0);
  // "VM exits store the value of IA32_EFER.LMA into the 'IA-32e mode guest' VM-entry control" (IA32_VMX_MISC bit 5)
  const ent = c.read(F.VM_ENTRY_CONTROLS);
  c.write(F.VM_ENTRY_CONTROLS, cpu.efer & EFER_LMA ? (ent | ENTRY.IA32E_MODE_GUEST) >>> 0 : (ent & ~ENTRY.IA32E_MODE_GUEST) >>> 0);
  // PDPTEs of a PAE guest with EPT ("Saving Non-Register State": "If the 'enable EPT' VM-execution
  // control is 1 and the logical processor was using PAE paging at the time of the VM exit, the PDPTE
  // values currently in use are saved"): the PDPTE registers.
  if (cpu.ept !== null && paePaging(cpu)) {
    const r = cpu.pdpte;
    if (r[8] === cpu.cr3) {
      for (let i = 0; i < 4; i++) c.write(PDPTE_FIELDS[i], r[2 * i] >>> 0, r[2 * i + 1] >>> 0);
    } else {
      // registers never loaded for this CR3 (CPU state set directly, not by an instruction): memory through EPT
      const base = (cpu.cr3 >>> 0) & ~0x1f;
      for (let i = 0; i < 4; i++) {
        try { c.write(PDPTE_FIELDS[i], readPdpte32(cpu, base + i * 8), readPdpte32(cpu, base + i * 8 + 4)); } catch { /* EPT fault: left unchanged */ }
      }
    }
  }
}
