export { Machine } from './machine.js';
export type { MachineConfig, RunResult, StopReason } from './machine.js';
export { VirtualClock } from './clock.js';
export { applyEntryState } from './entry.js';
