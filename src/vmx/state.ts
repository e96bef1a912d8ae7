import type { Vmcs } from './vmcs.js';

/**
 * The VMX state of one logical processor (DESIGN.md #8: on the CPU object, no module-level
 * state): `cpu.vmx`, created by the first VMXON and kept (with `on = false`) after VMXOFF so the
 * VMCS cache survives (see vmcs.ts).
 */
export class VmxState {
  /** In VMX operation (between VMXON and VMXOFF). */
  on = false;
  /** In VMX non-root operation (a guest runs). The VM entry/exit code sets it. */
  nonRoot = false;
  /** Physical address of the VMXON region (valid while `on`). */
  vmxonPtr = 0;
  /**
   * The current-VMCS pointer, a physical address, or -1 for the architectural "invalid" value
   * FFFFFFFF_FFFFFFFFH (VMPTRST stores all ones then).
   */
  currentPtr = -1;
  /** The current VMCS (null when currentPtr is -1). */
  current: Vmcs | null = null;
  /**
   * VMCSs whose data is held in the processor (SDM Vol. 3C, "Software Use of Virtual-Machine
   * Control Structures": VMPTRLD makes a VMCS active, VMCLEAR writes it back to memory and makes
   * it inactive), by physical address of the region.
   */
  readonly cache = new Map<number, Vmcs>();
}
