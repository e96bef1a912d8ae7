import { x87ControlHandlers } from './x87-control.js';
import { x87LoadHandlers } from './x87-load.js';
import { x87ArithHandlers } from './x87-arith.js';
import { x87CompareHandlers } from './x87-compare.js';
import { x87TransHandlers } from './x87-trans.js';
import { x87Hooks } from './system.js';
import { ES, pendingError } from './x87-core.js';

/** All x87 FPU handlers (the X87 section of table.ts names them). */
export const x87Handlers = {
  ...x87ControlHandlers, ...x87LoadHandlers, ...x87ArithHandlers, ...x87CompareHandlers, ...x87TransHandlers,
};

// FWAIT (ops/system.ts) reports pending x87 exceptions through this hook: #MF with CR0.NE, a clean stop without.
x87Hooks.checkPending = cpu => { if (cpu.fpu.sw & ES) pendingError(cpu); };
