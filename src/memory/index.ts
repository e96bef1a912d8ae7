export { Ram, CHUNK_SIZE, CHUNK_SHIFT } from './ram.js';
export { PortBus } from './ports.js';
export type { PortDevice, IoObserver } from './ports.js';
export type { MmioDevice, MmioRegion, MmioObserver } from './mmio.js';
export { PhysBus } from './physbus.js';
