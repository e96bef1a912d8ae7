/**
 * Architectural faults travel as a thrown CpuFault from the instruction that raised them to the
 * run loop, which delivers them through the IDT (exceptions.ts). Nothing else is ever thrown
 * through the run loop: an unimplemented instruction becomes a MachineStop.
 */
export class CpuFault {
  constructor(public readonly vector: number, public readonly code: number = -1) {}
  get hasCode(): boolean { return this.code >= 0; }
}

/** A clean stop of the machine with a message (unsupported instruction, triple fault, halt with IF=0, ...). */
export class MachineStop {
  constructor(public readonly reason: string, public readonly message: string) {}
}

export const VECTOR_NAMES = ['#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', 'coprocessor segment overrun',
  '#TS', '#NP', '#SS', '#GP', '#PF', 'reserved(15)', '#MF', '#AC', '#MC', '#XM', '#VE', '#CP'];
export function vectorName(v: number): string { return VECTOR_NAMES[v] ?? `vector ${v}`; }

/**
 * A VM exit caused by the running instruction or event in VMX non-root operation (src/vmx). It is
 * thrown like a CpuFault from wherever the SDM says the exit happens (an instruction handler, a
 * page walk through EPT, event delivery) and the run loop performs the exit: it saves guest
 * state, writes the exit-information fields from this object and loads host state.
 */
export class VmExit {
  constructor(
    /** Basic exit reason (SDM Vol. 3D Appendix C, "VMX Basic Exit Reasons"). */
    public readonly reason: number,
    /** Exit qualification (0 where the SDM defines none). */
    public readonly qualification = 0,
    public readonly info: VmExitInfo = {},
  ) {}
}

export interface VmExitInfo {
  /** Guest-linear address field (EPT violations, INS/OUTS, ...). */
  guestLinear?: number;
  /** Guest-physical address field (EPT violation / misconfiguration). */
  guestPhysical?: number;
  /** VM-exit instruction length (defaults to the running instruction's length where the SDM defines it). */
  instructionLength?: number;
  /** VM-exit instruction information (SDM "VM-Exit Instruction-Information Field"). */
  instructionInfo?: number;
  /** VM-exit interruption information and error code (exceptions, NMIs, external interrupts). */
  interruptionInfo?: number;
  interruptionErrorCode?: number;
}
