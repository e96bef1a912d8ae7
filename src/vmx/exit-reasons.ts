/**
 * The basic exit reasons (SDM Vol. 3D, Appendix C "VMX Basic Exit Reasons"): number → name, for
 * messages, `monitor`, traces. Numbers 35, 38, 42 and 71 are not assigned.
 */
export const EXIT_REASON_NAMES: Readonly<Record<number, string>> = {
  0: 'exception or NMI', 1: 'external interrupt', 2: 'triple fault', 3: 'INIT signal', 4: 'start-up IPI (SIPI)',
  5: 'I/O system-management interrupt (SMI)', 6: 'other SMI', 7: 'interrupt window', 8: 'NMI window', 9: 'task switch',
  10: 'CPUID', 11: 'GETSEC', 12: 'HLT', 13: 'INVD', 14: 'INVLPG', 15: 'RDPMC', 16: 'RDTSC', 17: 'RSM', 18: 'VMCALL',
  19: 'VMCLEAR', 20: 'VMLAUNCH', 21: 'VMPTRLD', 22: 'VMPTRST', 23: 'VMREAD', 24: 'VMRESUME', 25: 'VMWRITE',
  26: 'VMXOFF', 27: 'VMXON', 28: 'control-register access', 29: 'MOV DR', 30: 'I/O instruction', 31: 'RDMSR',
  32: 'WRMSR', 33: 'VM-entry failure due to invalid guest state', 34: 'VM-entry failure due to MSR loading',
  36: 'MWAIT', 37: 'monitor trap flag', 39: 'MONITOR', 40: 'PAUSE', 41: 'VM-entry failure due to machine-check event',
  43: 'TPR below threshold', 44: 'APIC access', 45: 'virtualized EOI', 46: 'access to GDTR or IDTR',
  47: 'access to LDTR or TR', 48: 'EPT violation', 49: 'EPT misconfiguration', 50: 'INVEPT', 51: 'RDTSCP',
  52: 'VMX-preemption timer expired', 53: 'INVVPID', 54: 'WBINVD or WBNOINVD', 55: 'XSETBV', 56: 'APIC write',
  57: 'RDRAND', 58: 'INVPCID', 59: 'VMFUNC', 60: 'ENCLS', 61: 'RDSEED', 62: 'page-modification log full',
  63: 'XSAVES', 64: 'XRSTORS', 65: 'PCONFIG', 66: 'SPP-related event', 67: 'UMWAIT', 68: 'TPAUSE', 69: 'LOADIWKEY',
  70: 'ENCLV', 72: 'ENQCMD PASID translation failure', 73: 'ENQCMDS PASID translation failure', 74: 'bus lock',
  75: 'instruction timeout', 76: 'SEAMCALL', 77: 'TDCALL', 78: 'RDMSRLIST', 79: 'WRMSRLIST',
};

/** The basic exit reasons vmxray produces or names in code, by name (the one numeric table; modules alias it). */
export const REASON = {
  EXCEPTION_OR_NMI: 0, EXTERNAL_INTERRUPT: 1, TRIPLE_FAULT: 2, INIT: 3, SIPI: 4, INTERRUPT_WINDOW: 7, NMI_WINDOW: 8,
  TASK_SWITCH: 9, CPUID: 10, GETSEC: 11, HLT: 12, INVD: 13, INVLPG: 14, RDPMC: 15, RDTSC: 16, VMCALL: 18, VMCLEAR: 19,
  VMLAUNCH: 20, VMPTRLD: 21, VMPTRST: 22, VMREAD: 23, VMRESUME: 24, VMWRITE: 25, VMXOFF: 26, VMXON: 27, CR_ACCESS: 28,
  MOV_DR: 29, IO_INSTRUCTION: 30, RDMSR: 31, WRMSR: 32, ENTRY_FAILURE_GUEST_STATE: 33, ENTRY_FAILURE_MSR_LOADING: 34,
  MWAIT: 36, MONITOR_TRAP_FLAG: 37, MONITOR: 39, PAUSE: 40, TPR_BELOW_THRESHOLD: 43, GDTR_IDTR_ACCESS: 46,
  LDTR_TR_ACCESS: 47, EPT_VIOLATION: 48, EPT_MISCONFIGURATION: 49, INVEPT: 50, RDTSCP: 51, PREEMPTION_TIMER: 52,
  INVVPID: 53, WBINVD: 54, XSETBV: 55, RDRAND: 57, INVPCID: 58, RDSEED: 61,
} as const;

/** "48 (EPT violation)"; bit 31 (VM-entry failure) and the other high bits are shown too. */
export function exitReasonName(reason: number): string {
  const basic = reason & 0xffff;
  const name = EXIT_REASON_NAMES[basic] ?? 'unassigned';
  return `${basic} (${name})${reason & 0x80000000 ? ', VM-entry failure (bit 31)' : ''}`;
}
