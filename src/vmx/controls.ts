/**
 * Bit names of the VMX control words, from the SDM tables (Vol. 3C, "VM-Execution Control
 * Fields", "VM-Exit Control Fields", "VM-Entry Control Fields"):
 *   PIN   — "Definitions of Pin-Based VM-Execution Controls"
 *   PROC  — "Definitions of Primary Processor-Based VM-Execution Controls"
 *   PROC2 — "Definitions of Secondary Processor-Based VM-Execution Controls"
 *   PROC3 — "Definitions of Tertiary Processor-Based VM-Execution Controls" (64-bit; low half here)
 *   EXIT  — "Definitions of Primary VM-Exit Controls"
 *   ENTRY — "Definitions of VM-Entry Controls"
 *   VMFUNC — "Definitions of VM-Function Controls"
 * Each value is the bit mask (as an unsigned 32-bit Number). Which of them vmxray offers is
 * decided in caps.ts (VMX_CAPS), not here.
 */

const b = (n: number): number => (2 ** n) >>> 0;

export const PIN = {
  EXTERNAL_INTERRUPT_EXITING: b(0),
  NMI_EXITING: b(3),
  VIRTUAL_NMIS: b(5),
  ACTIVATE_VMX_PREEMPTION_TIMER: b(6),
  PROCESS_POSTED_INTERRUPTS: b(7),
} as const;

export const PROC = {
  INTERRUPT_WINDOW_EXITING: b(2),
  USE_TSC_OFFSETTING: b(3),
  HLT_EXITING: b(7),
  INVLPG_EXITING: b(9),
  MWAIT_EXITING: b(10),
  RDPMC_EXITING: b(11),
  RDTSC_EXITING: b(12),
  CR3_LOAD_EXITING: b(15),
  CR3_STORE_EXITING: b(16),
  ACTIVATE_TERTIARY_CONTROLS: b(17),
  CR8_LOAD_EXITING: b(19),
  CR8_STORE_EXITING: b(20),
  USE_TPR_SHADOW: b(21),
  NMI_WINDOW_EXITING: b(22),
  MOV_DR_EXITING: b(23),
  UNCONDITIONAL_IO_EXITING: b(24),
  USE_IO_BITMAPS: b(25),
  MONITOR_TRAP_FLAG: b(27),
  USE_MSR_BITMAPS: b(28),
  MONITOR_EXITING: b(29),
  PAUSE_EXITING: b(30),
  ACTIVATE_SECONDARY_CONTROLS: b(31),
} as const;

export const PROC2 = {
  VIRTUALIZE_APIC_ACCESSES: b(0),
  ENABLE_EPT: b(1),
  DESCRIPTOR_TABLE_EXITING: b(2),
  ENABLE_RDTSCP: b(3),
  VIRTUALIZE_X2APIC_MODE: b(4),
  ENABLE_VPID: b(5),
  WBINVD_EXITING: b(6),
  UNRESTRICTED_GUEST: b(7),
  APIC_REGISTER_VIRTUALIZATION: b(8),
  VIRTUAL_INTERRUPT_DELIVERY: b(9),
  PAUSE_LOOP_EXITING: b(10),
  RDRAND_EXITING: b(11),
  ENABLE_INVPCID: b(12),
  ENABLE_VM_FUNCTIONS: b(13),
  VMCS_SHADOWING: b(14),
  ENABLE_ENCLS_EXITING: b(15),
  RDSEED_EXITING: b(16),
  ENABLE_PML: b(17),
  EPT_VIOLATION_VE: b(18),
  CONCEAL_VMX_FROM_PT: b(19),
  ENABLE_XSAVES_XRSTORS: b(20),
  MODE_BASED_EXECUTE_CONTROL_FOR_EPT: b(22),
  SUB_PAGE_WRITE_PERMISSIONS_FOR_EPT: b(23),
  INTEL_PT_USES_GUEST_PHYSICAL_ADDRESSES: b(24),
  USE_TSC_SCALING: b(25),
  ENABLE_USER_WAIT_AND_PAUSE: b(26),
  ENABLE_PCONFIG: b(27),
  ENABLE_ENCLV_EXITING: b(28),
  VMM_BUS_LOCK_DETECTION: b(30),
  INSTRUCTION_TIMEOUT: b(31),
} as const;

/** Tertiary controls are a 64-bit field; all defined bits are in the low half. vmxray offers none. */
export const PROC3 = {
  LOADIWKEY_EXITING: b(0),
  ENABLE_HLAT: b(1),
  EPT_PAGING_WRITE_CONTROL: b(2),
  GUEST_PAGING_VERIFICATION: b(3),
  IPI_VIRTUALIZATION: b(4),
  VIRTUALIZE_IA32_SPEC_CTRL: b(7),
} as const;

export const EXIT = {
  SAVE_DEBUG_CONTROLS: b(2),
  HOST_ADDRESS_SPACE_SIZE: b(9),
  LOAD_IA32_PERF_GLOBAL_CTRL: b(12),
  ACKNOWLEDGE_INTERRUPT_ON_EXIT: b(15),
  SAVE_IA32_PAT: b(18),
  LOAD_IA32_PAT: b(19),
  SAVE_IA32_EFER: b(20),
  LOAD_IA32_EFER: b(21),
  SAVE_VMX_PREEMPTION_TIMER_VALUE: b(22),
  CLEAR_IA32_BNDCFGS: b(23),
  CONCEAL_VMX_FROM_PT: b(24),
  CLEAR_IA32_RTIT_CTL: b(25),
  CLEAR_IA32_LBR_CTL: b(26),
  CLEAR_UINV: b(27),
  LOAD_CET_STATE: b(28),
  LOAD_PKRS: b(29),
  SAVE_IA32_PERF_GLOBAL_CTRL: b(30),
  ACTIVATE_SECONDARY_CONTROLS: b(31),
} as const;

export const ENTRY = {
  LOAD_DEBUG_CONTROLS: b(2),
  IA32E_MODE_GUEST: b(9),
  ENTRY_TO_SMM: b(10),
  DEACTIVATE_DUAL_MONITOR_TREATMENT: b(11),
  LOAD_IA32_PERF_GLOBAL_CTRL: b(13),
  LOAD_IA32_PAT: b(14),
  LOAD_IA32_EFER: b(15),
  LOAD_IA32_BNDCFGS: b(16),
  CONCEAL_VMX_FROM_PT: b(17),
  LOAD_IA32_RTIT_CTL: b(18),
  LOAD_UINV: b(19),
  LOAD_CET_STATE: b(20),
  LOAD_GUEST_IA32_LBR_CTL: b(21),
  LOAD_PKRS: b(22),
} as const;

export const VMFUNC = {
  EPTP_SWITCHING: b(0),
} as const;

/**
 * The "default1" classes of SDM Appendix A ("VMX Capability Reporting Facility"): bits that a
 * processor without the TRUE_ capability MSRs reports as fixed to 1 in the non-TRUE MSRs.
 */
export const PIN_DEFAULT1 = (b(1) | b(2) | b(4)) >>> 0;                                              // 0x16
export const PROC_DEFAULT1 = (b(1) | b(4) | b(5) | b(6) | b(8) | b(13) | b(14) | b(15) | b(16) | b(26)) >>> 0; // 0x0401e172
export const EXIT_DEFAULT1 = (0x1ff | b(10) | b(11) | b(13) | b(14) | b(16) | b(17)) >>> 0;        // 0x00036dff
export const ENTRY_DEFAULT1 = (0x1ff | b(12)) >>> 0;                                              // 0x000011ff

/** Names of the bits of each control word, for messages: controlNames(PROC, v) → ['HLT_EXITING', ...]. */
export function controlNames(word: Readonly<Record<string, number>>, value: number): string[] {
  const out: string[] = [];
  for (const [k, m] of Object.entries(word)) if ((value & m) !== 0) out.push(k);
  return out;
}
