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

/** "48 (EPT violation)"; bit 31 (VM-entry failure) and the other high bits are shown too. */
export function exitReasonName(reason: number): string {
  const basic = reason & 0xffff;
  const name = EXIT_REASON_NAMES[basic] ?? 'unassigned';
  return `${basic} (${name})${reason & 0x80000000 ? ', VM-entry failure (bit 31)' : ''}`;
}
