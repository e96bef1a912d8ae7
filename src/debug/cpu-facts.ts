import type { CPU } from '../cpu/index.js';
import { MODE_REAL, MODE_V86 } from '../cpu/index.js';

/** The few CPU constants the debugger needs, in one place (src/cpu/regs.ts is the source). */
export { CS, SS, DS, ES, FS, GS, LDTR, TR } from '../cpu/regs.js';
export const MODE_REAL_OR_V86 = (cpu: CPU): boolean => cpu.mode === MODE_REAL || cpu.mode === MODE_V86;
