/**
 * VM exit (and VM-entry failure during or after loading guest state): "Loading Host State"
 * (SDM Vol. 3C) — control registers, debug registers and MSRs, segment registers and descriptor
 * tables with the attributes the SDM fixes, RIP/RSP/RFLAGS.
 *
 * Choices where the SDM leaves one:
 * - Base, limit and attributes of a data segment register loaded with a null selector (it becomes
 *   unusable; the SDM calls the other fields undefined): base 0 (FS/GS: the base field), limit 0,
 *   access rights 0x10000 | (SS: DPL 0).
 * - IA32_DEBUGCTL does not exist in vmxray's CPU: "cleared" is a no-op.
 * - PDPTEs of a PAE host are read by the page walk at walk time (no PDPTE registers).
 */
import type { CPU } from '../cpu/cpu.js';
import { ES, CS, SS, DS, FS, GS, LDTR, TR, RSP, EFER_LMA, EFER_LME, EFER_SCE, EFER_NXE, CR4_PAE, CR4_PCIDE } from '../cpu/regs.js';
import { setArith } from '../cpu/flags.js';
import { join } from '../cpu/msr.js';
import * as F from './fields.js';
import { EXIT } from './controls.js';
import type { Vmcs } from './vmcs.js';
import type { VmxState } from './state.js';
import { loadCr0, loadCr4 } from './guest-state.js';

const TWO32 = 4294967296;
const IA32_SYSENTER_CS = 0x174, IA32_SYSENTER_ESP = 0x175, IA32_SYSENTER_EIP = 0x176, IA32_PAT = 0x277;

/** Access rights of the host segments after a VM exit ("Loading Host Segment and Descriptor-Table Registers"). */
export const HOST_AR = {
  /** CS: type 11 (execute/read, accessed), S, DPL 0, P, G; L = host address-space size, D = !L. */
  cs64: 0xa09b, cs32: 0xc09b,
  /** SS, DS, ES, FS, GS with a non-null selector: type 3 (read/write, accessed), S, DPL 0, P, D/B, G. */
  data: 0xc093,
  /** TR: type 11 (busy 64-bit / 32-bit TSS), S = 0, DPL 0, P, D/B = 0, G = 0. */
  tr: 0x8b,
  unusable: 0x10000,
} as const;

/** A host base or RIP field as the CPU's Number: 64 bits (signed canonical) with a 64-bit host, else bits 31:0. */
function q(c: Vmcs, enc: number, host64: boolean): number {
  return host64 ? join(c.read(enc), c.readHi(enc)) : c.read(enc) >>> 0;
}
const HOST_SELECTORS = [F.HOST_ES_SELECTOR, F.HOST_CS_SELECTOR, F.HOST_SS_SELECTOR, F.HOST_DS_SELECTOR, F.HOST_FS_SELECTOR, F.HOST_GS_SELECTOR] as const;

export function loadHostState(cpu: CPU, c: Vmcs, v: VmxState): void {
  const host64 = (v.exitCtl & EXIT.HOST_ADDRESS_SPACE_SIZE) !== 0;
  // "Loading Host Control Registers, Debug Registers, MSRs"
  loadCr0(cpu, c.read(F.HOST_CR0), false);
  cpu.cr3 = host64 ? c.readHi(F.HOST_CR3) * TWO32 + c.read(F.HOST_CR3) : c.read(F.HOST_CR3);
  // "CR4.PAE is set to 1 if the 'host address-space size' VM-exit control is 1; CR4.PCIDE is cleared if it is 0"
  let cr4 = c.read(F.HOST_CR4);
  if (host64) cr4 |= CR4_PAE; else cr4 &= ~CR4_PCIDE;
  loadCr4(cpu, cr4);
  cpu.dr[7] = 0x400;
  cpu.updateDebugRegs();
  cpu.msr.setRaw(IA32_SYSENTER_CS, c.read(F.HOST_IA32_SYSENTER_CS), 0);
  cpu.msr.setRaw(IA32_SYSENTER_ESP, c.read(F.HOST_IA32_SYSENTER_ESP), host64 ? c.readHi(F.HOST_IA32_SYSENTER_ESP) : 0);
  cpu.msr.setRaw(IA32_SYSENTER_EIP, c.read(F.HOST_IA32_SYSENTER_EIP), host64 ? c.readHi(F.HOST_IA32_SYSENTER_EIP) : 0);
  if (v.exitCtl & EXIT.LOAD_IA32_PAT) cpu.msr.setRaw(IA32_PAT, c.read(F.HOST_IA32_PAT), c.readHi(F.HOST_IA32_PAT));
  if (v.exitCtl & EXIT.LOAD_IA32_EFER) cpu.efer = c.read(F.HOST_IA32_EFER) & (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE);
  else cpu.efer = (cpu.efer & ~(EFER_LMA | EFER_LME)) | (host64 ? EFER_LMA | EFER_LME : 0);
  // "Loading Host Segment and Descriptor-Table Registers"
  for (let s = ES; s <= GS; s++) {
    const x = c.read(HOST_SELECTORS[s]) & 0xfff8; // the RPL and TI bits are 0 (host-state checks)
    cpu.segSel[s] = x;
    cpu.segBase[s] = s === FS ? q(c, F.HOST_FS_BASE, host64) : s === GS ? q(c, F.HOST_GS_BASE, host64) : 0;
    if (s === CS) { cpu.segLimit[s] = 0xffffffff; cpu.segAr[s] = host64 ? HOST_AR.cs64 : HOST_AR.cs32; continue; }
    if (x === 0) { cpu.segLimit[s] = 0; cpu.segAr[s] = HOST_AR.unusable; continue; } // SS.DPL = 0 as well
    cpu.segLimit[s] = 0xffffffff; cpu.segAr[s] = HOST_AR.data;
  }
  cpu.segSel[TR] = c.read(F.HOST_TR_SELECTOR) & 0xfff8;
  cpu.segBase[TR] = q(c, F.HOST_TR_BASE, host64); cpu.segLimit[TR] = 0x67; cpu.segAr[TR] = HOST_AR.tr;
  // "LDTR is established as follows on all VM exits: the selector is cleared to 0000H, the segment is marked unusable"
  cpu.segSel[LDTR] = 0; cpu.segBase[LDTR] = 0; cpu.segLimit[LDTR] = 0; cpu.segAr[LDTR] = HOST_AR.unusable;
  cpu.gdtBase = q(c, F.HOST_GDTR_BASE, host64); cpu.gdtLimit = 0xffff;
  cpu.idtBase = q(c, F.HOST_IDTR_BASE, host64); cpu.idtLimit = 0xffff;
  // "Loading Host RIP, RSP, and RFLAGS": RFLAGS is cleared except bit 1
  const rip = q(c, F.HOST_RIP, host64);
  cpu.rip = rip; cpu.nip = rip;
  cpu.lo[RSP] = c.read(F.HOST_RSP) | 0; cpu.hi[RSP] = host64 ? c.readHi(F.HOST_RSP) | 0 : 0;
  cpu.eflags = 0;
  setArith(cpu.lf, 0);
  // "Updating Non-Register State": no blocking by STI or MOV SS after a VM exit; the processor is active.
  cpu.intShadow = false; cpu.movSsShadow = false; cpu.halted = false;
  void SS; void DS;
  cpu.updateMode();
  // no TLB flush here: exit.ts is back in root's TLB context (tlb-contexts.ts)
}
