/** The debugging API's face (DESIGN.md): gdbstub/ and traces/ use only this. */
export { Debugger, type StopEvent, type Resume, type WatchKind } from './debugger.js';
export { RootContext, type Context } from './context.js';
export { vmxSummary, vmcsDump, vmxCheck, eptWalkListing, ExitHistory, type ExitRecord } from './vmx.js';
export { REGISTERS, REGISTER_BY_NAME, type RegisterDef } from './registers.js';
export { debugWalk, entryFlags, toCpuLinear, fromCpuLinear, breakpointKey, type WalkResult, type WalkLevel, type PagingRegs } from './walk.js';
