/**
 * The port-I/O bus. A device declares its ports once with `register`; an access to a port
 * nobody claims reads all ones and writes are dropped (an ISA bus floats high).
 * `size` is 1, 2 or 4 bytes. Observers (recorder, tracer) hook through `observer`, which is
 * null when nobody listens (DESIGN.md #7: observers cost nothing when absent).
 */
export interface PortDevice {
  /** Read `size` bytes from `port`; return the value (only the low size*8 bits are used). */
  portRead(port: number, size: 1 | 2 | 4): number;
  portWrite(port: number, size: 1 | 2 | 4, value: number): void;
}

export interface IoObserver {
  onPortIo(dir: 'in' | 'out', port: number, size: number, value: number): void;
}

const MASK = [0, 0xff, 0xffff, 0, 0xffffffff];

export class PortBus {
  private readonly map: (PortDevice | undefined)[] = new Array(0x10000).fill(undefined);
  observer: IoObserver | null = null;
  /** Called before every access reaches a device (the machine brings the clock up to the exact instruction). */
  beforeAccess: (() => void) | null = null;

  register(dev: PortDevice, ports: Iterable<number> | { from: number; to: number }): void {
    const list = 'from' in ports ? range(ports.from, ports.to) : ports;
    for (const p of list) {
      if (p < 0 || p > 0xffff) throw new Error(`port ${p} out of range`);
      if (this.map[p] && this.map[p] !== dev) throw new Error(`port 0x${p.toString(16)} claimed twice`);
      this.map[p] = dev;
    }
  }
  deviceAt(port: number): PortDevice | undefined { return this.map[port & 0xffff]; }

  read(port: number, size: 1 | 2 | 4): number {
    port &= 0xffff;
    if (this.beforeAccess) this.beforeAccess();
    const d = this.map[port];
    const v = d ? (d.portRead(port, size) & MASK[size]) >>> 0 : MASK[size];
    if (this.observer) this.observer.onPortIo('in', port, size, v);
    return v;
  }
  write(port: number, size: 1 | 2 | 4, value: number): void {
    port &= 0xffff;
    value = (value & MASK[size]) >>> 0;
    if (this.beforeAccess) this.beforeAccess();
    if (this.observer) this.observer.onPortIo('out', port, size, value);
    const d = this.map[port];
    if (d) d.portWrite(port, size, value);
  }
}

function* range(from: number, to: number): Generator<number> { for (let p = from; p <= to; p++) yield p; }
