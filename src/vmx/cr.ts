/**
 * Control-register rules of VMX operation (SDM Vol. 3C, "Restrictions on VMX Operation"): in VMX
 * operation, a MOV to CR0/CR4 (also CLTS, LMSW) that would give a bit a value that
 * IA32_VMX_CR0_FIXED0/1 or IA32_VMX_CR4_FIXED0/1 does not allow raises #GP(0) — in particular
 * clearing CR0.PE, CR0.PG, CR0.NE or CR4.VMXE. Installed as sysregs.ts `crHooks.write` by
 * instructions.ts.
 */
import type { CPU } from '../cpu/cpu.js';
import { VMX_CAPS } from './caps.js';
import { gp0 } from './conventions.js';

export function vmxCrWrite(cpu: CPU, cr: number, lo: number, _hi: number): void {
  const v = cpu.vmx;
  if (v === null || !v.on) return;
  if (v.nonRoot) {
    // entry/exit engineer: CR-access VM exits (guest/host masks, read shadows, CR3-target values,
    // CR8 load/store exiting) and the guest's fixed-bit rules go here.
    return;
  }
  const c = VMX_CAPS;
  if (cr === 0 && !crAllowed(lo, c.cr0Fixed0, c.cr0Fixed1)) gp0();
  if (cr === 4 && !crAllowed(lo, c.cr4Fixed0, c.cr4Fixed1)) gp0();
}

/** Bits set in FIXED0 are 1 and bits clear in FIXED1 are 0 (SDM Appendix A, "VMX-Fixed Bits in CR0"/"in CR4"). */
export function crAllowed(v: number, fixed0: number, fixed1: number): boolean {
  return ((v & fixed0) >>> 0) === (fixed0 >>> 0) && (v & ~fixed1) === 0;
}
