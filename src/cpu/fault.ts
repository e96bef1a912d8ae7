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
