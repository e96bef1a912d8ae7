import type { CPU } from './cpu.js';
import { CpuFault } from './fault.js';
import { EFER_SCE, EFER_LME, EFER_LMA, EFER_NXE, GP, FS, GS } from './regs.js';
import { registerVmxMsrs, FEATURE_CONTROL_FIRMWARE, FEATURE_CONTROL_WRITABLE } from '../vmx/caps.js';

/**
 * The MSR file: the MSRs this CPU model implements (SDM Vol. 4, "Model-Specific Registers").
 * Values are [low, high] 32-bit halves. An MSR not listed raises #GP(0) on RDMSR and WRMSR, as
 * on hardware. Devices (local APIC x2APIC range) and VMX can register handlers.
 */
export const IA32_TSC = 0x10, IA32_APIC_BASE = 0x1b, IA32_FEATURE_CONTROL = 0x3a, IA32_TSC_ADJUST = 0x3b,
  IA32_SYSENTER_CS = 0x174, IA32_SYSENTER_ESP = 0x175, IA32_SYSENTER_EIP = 0x176, IA32_MISC_ENABLE = 0x1a0,
  IA32_PAT = 0x277, IA32_MTRRCAP = 0xfe, IA32_MTRR_DEF_TYPE = 0x2ff, IA32_EFER = 0xc0000080, IA32_STAR = 0xc0000081,
  IA32_LSTAR = 0xc0000082, IA32_CSTAR = 0xc0000083, IA32_FMASK = 0xc0000084, IA32_FS_BASE = 0xc0000100,
  IA32_GS_BASE = 0xc0000101, IA32_KERNEL_GS_BASE = 0xc0000102, IA32_TSC_AUX = 0xc0000103, IA32_MCG_CAP = 0x179,
  IA32_MCG_STATUS = 0x17a, IA32_PLATFORM_ID = 0x17, IA32_BIOS_SIGN_ID = 0x8b, IA32_SPEC_CTRL = 0x48, IA32_ARCH_CAPABILITIES = 0x10a;

export interface MsrHandler { read(msr: number): [number, number]; write(msr: number, lo: number, hi: number): void }

export class MsrFile {
  private readonly cpu: CPU;
  private readonly store = new Map<number, [number, number]>();
  private readonly handlers = new Map<number, MsrHandler>();
  /** TSC = icount * tscPerInsn + tscOffset (virtual time; DESIGN.md #1). */
  tscOffset = 0;

  constructor(cpu: CPU) {
    this.cpu = cpu;
    const plain: [number, number, number][] = [
      [IA32_APIC_BASE, 0xfee00900, 0], [IA32_FEATURE_CONTROL, FEATURE_CONTROL_FIRMWARE, 0], [IA32_TSC_ADJUST, 0, 0],
      [IA32_SYSENTER_CS, 0, 0], [IA32_SYSENTER_ESP, 0, 0], [IA32_SYSENTER_EIP, 0, 0],
      [IA32_MISC_ENABLE, 0x1, 0], [IA32_PAT, 0x00070406, 0x00070406], [IA32_MTRRCAP, 0x508, 0],
      [IA32_MTRR_DEF_TYPE, 0, 0], [IA32_STAR, 0, 0], [IA32_LSTAR, 0, 0], [IA32_CSTAR, 0, 0], [IA32_FMASK, 0, 0],
      [IA32_KERNEL_GS_BASE, 0, 0], [IA32_TSC_AUX, 0, 0], [IA32_MCG_CAP, 0, 0], [IA32_MCG_STATUS, 0, 0],
      [IA32_PLATFORM_ID, 0, 0], [IA32_BIOS_SIGN_ID, 0, 0], [IA32_SPEC_CTRL, 0, 0],
    ];
    for (const [m, lo, hi] of plain) this.store.set(m, [lo, hi]);
    // MTRRs: fixed-range and 8 variable pairs (IA32_MTRRCAP.VCNT = 8)
    for (const m of [0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f]) this.store.set(m, [0, 0]);
    for (let i = 0; i < 16; i++) this.store.set(0x200 + i, [0, 0]);
    registerVmxMsrs(this); // IA32_VMX_* capability MSRs (src/vmx/caps.ts)
  }

  register(msr: number, h: MsrHandler): void { this.handlers.set(msr, h); }
  has(msr: number): boolean { return this.store.has(msr) || this.handlers.has(msr) || isBuiltin(msr); }

  tsc(): number { return this.cpu.exactCount() + this.tscOffset; }

  read(msr: number): [number, number] {
    msr >>>= 0;
    const h = this.handlers.get(msr);
    if (h) return h.read(msr);
    const c = this.cpu;
    switch (msr) {
      case IA32_TSC: { const t = this.tsc(); return [t >>> 0, Math.floor(t / 2 ** 32) >>> 0]; }
      case IA32_EFER: return [c.efer >>> 0, 0];
      case IA32_FS_BASE: return split(c.segBase[FS]);
      case IA32_GS_BASE: return split(c.segBase[GS]);
    }
    const v = this.store.get(msr);
    if (!v) throw new CpuFault(GP, 0);
    return [v[0] >>> 0, v[1] >>> 0];
  }

  write(msr: number, lo: number, hi: number): void {
    msr >>>= 0; lo >>>= 0; hi >>>= 0;
    this.cpu.intCheck = true; // x2APIC EOI/TPR writes change what is deliverable
    const h = this.handlers.get(msr);
    if (h) { h.write(msr, lo, hi); return; }
    const c = this.cpu;
    switch (msr) {
      case IA32_TSC: this.tscOffset = hi * 2 ** 32 + lo - c.exactCount(); return;
      case IA32_EFER: {
        // Reserved bits #GP; LMA is read-only; LME may not change while paging is on (SDM Vol. 3A, IA32_EFER).
        if (hi !== 0 || (lo & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))) throw new CpuFault(GP, 0);
        if ((c.cr0 & 0x80000000) && ((lo ^ c.efer) & EFER_LME)) throw new CpuFault(GP, 0);
        c.efer = (lo & ~EFER_LMA) | (c.efer & EFER_LMA);
        c.flushTlb();
        return;
      }
      case IA32_FS_BASE: case IA32_GS_BASE: case IA32_KERNEL_GS_BASE: case IA32_LSTAR: case IA32_CSTAR:
      case IA32_SYSENTER_EIP: case IA32_SYSENTER_ESP:
        if (!canonical(lo, hi)) throw new CpuFault(GP, 0);
        if (msr === IA32_FS_BASE) { c.segBase[FS] = join(lo, hi); return; }
        if (msr === IA32_GS_BASE) { c.segBase[GS] = join(lo, hi); return; }
        break;
      case IA32_APIC_BASE:
        break;
      case IA32_FEATURE_CONTROL:
        if (this.store.get(msr)![0] & 1) throw new CpuFault(GP, 0); // locked
        if (hi !== 0 || (lo & ~FEATURE_CONTROL_WRITABLE)) throw new CpuFault(GP, 0); // reserved (no SMX, SGX, LMCE)
        break;
      case IA32_PAT:
        for (let i = 0; i < 8; i++) {
          const t = ((i < 4 ? lo : hi) >>> ((i & 3) * 8)) & 0xff;
          if (t === 2 || t === 3 || t > 7) throw new CpuFault(GP, 0);
        }
        break;
      case IA32_MTRRCAP: case IA32_PLATFORM_ID: throw new CpuFault(GP, 0);
      case IA32_BIOS_SIGN_ID: return;
    }
    if (!this.store.has(msr)) throw new CpuFault(GP, 0);
    this.store.set(msr, [lo, hi]);
  }

  /** Raw access for VMX, snapshots and the debugger (no #GP). */
  get(msr: number): [number, number] | undefined { try { return this.read(msr); } catch { return undefined; } }
  setRaw(msr: number, lo: number, hi: number): void {
    const e = this.store.get(msr >>> 0);
    if (e) { e[0] = lo >>> 0; e[1] = hi >>> 0; } else this.store.set(msr >>> 0, [lo >>> 0, hi >>> 0]); // (no allocation per VM entry/exit)
  }
}

function isBuiltin(msr: number): boolean {
  return msr === IA32_TSC || msr === IA32_EFER || msr === IA32_FS_BASE || msr === IA32_GS_BASE;
}
export function split(n: number): [number, number] { return [n >>> 0, Math.floor(n / 2 ** 32) >>> 0]; }
/** Join halves into the Number form of a linear address (signed for the upper canonical half). */
export function join(lo: number, hi: number): number { return (hi | 0) * 2 ** 32 + (lo >>> 0); }
export function canonical(lo: number, hi: number): boolean {
  const top = (hi | 0) >> 15; // bits 63:47 all equal
  return top === 0 || top === -1;
}
