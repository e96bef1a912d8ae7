/** The CPU's face (DESIGN.md: a folder's index.ts is its face). */
export { CPU, MODE_REAL, MODE_PROT, MODE_V86, MODE_COMPAT, MODE_LONG, DEC16, DEC32, DEC64 } from './cpu.js';
export { Executor, CodeCache, Block, ripLinear } from './exec.js';
export { decode, decodeBytes } from './decoder.js';
export { TABLE, type Row, type RowOpts } from './table.js';
export { Insn } from './insn.js';
export { CpuFault, MachineStop, vectorName } from './fault.js';
export type { InterruptController } from './interrupts.js';
export { runSnippet } from './snippet.js';
export * as regs from './regs.js';
