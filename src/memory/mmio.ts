/**
 * Memory-mapped I/O regions (local APIC, IOAPIC, ...). Pages that hold a region never enter
 * the CPU's fast TLB path; every access comes here. `size` is 1, 2, 4 or 8 bytes; an 8-byte
 * access is split into two 4-byte accesses by the physical bus before reaching a device.
 */
export interface MmioDevice {
  mmioRead(addr: number, size: 1 | 2 | 4): number;
  mmioWrite(addr: number, size: 1 | 2 | 4, value: number): void;
}

export interface MmioRegion { base: number; length: number; dev: MmioDevice; name: string }

export interface MmioObserver {
  onMmio(dir: 'read' | 'write', addr: number, size: number, value: number): void;
}
