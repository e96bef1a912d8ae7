/**
 * GDB's signal numbers (gdb/signals.def; the remote protocol uses these, not the host's) and how
 * x86 exceptions map to them — the mapping a Unix kernel uses, so `handle SIGSEGV stop` means
 * "stop on page faults and general-protection faults".
 */
export const SIG = { NONE: 0, INT: 2, ILL: 4, TRAP: 5, ABRT: 6, FPE: 8, KILL: 9, BUS: 10, SEGV: 11 } as const;

const BY_VECTOR: Record<number, number> = {
  0: SIG.FPE,   // #DE
  1: SIG.TRAP,  // #DB
  3: SIG.TRAP,  // #BP
  4: SIG.SEGV,  // #OF
  5: SIG.SEGV,  // #BR
  6: SIG.ILL,   // #UD
  7: SIG.FPE,   // #NM
  8: SIG.SEGV,  // #DF
  10: SIG.SEGV, // #TS
  11: SIG.BUS,  // #NP
  12: SIG.BUS,  // #SS
  13: SIG.SEGV, // #GP
  14: SIG.SEGV, // #PF
  16: SIG.FPE,  // #MF
  17: SIG.BUS,  // #AC
  18: SIG.BUS,  // #MC
  19: SIG.FPE,  // #XM
};

export function signalForVector(v: number): number { return BY_VECTOR[v] ?? SIG.SEGV; }
