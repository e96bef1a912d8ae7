/**
 * Test helpers: drive a VirtualClock the way the run loop does — run to each deadline in
 * turn and fire what is due, so timers fire at their exact instruction counts.
 */
import { VirtualClock } from '../../src/machine/clock.js';
import { PortBus } from '../../src/memory/ports.js';

/** Advance the clock to `until`, stopping at every timer deadline on the way. */
export function runTo(clock: VirtualClock, until: number): void {
  while (clock.nextDeadline() <= until) {
    clock.icount = Math.max(clock.icount, clock.nextDeadline());
    clock.fireDue();
  }
  clock.icount = until;
  clock.fireDue();
}

/** Advance the clock by `n` instructions. */
export function run(clock: VirtualClock, n: number): void { runTo(clock, clock.icount + n); }

/** An IRQ sink that records every transition with the instruction count it happened at. */
export function irqRecorder(clock: VirtualClock) {
  const events: { line: number; level: boolean; at: number }[] = [];
  const levels = new Map<number, boolean>();
  return {
    events,
    irq: (line: number, level: boolean) => { events.push({ line, level, at: clock.icount }); levels.set(line, level); },
    level: (line: number) => levels.get(line) ?? false,
    /** Instruction counts of the rising edges on `line`. */
    rises: (line: number) => events.filter(e => e.line === line && e.level).map(e => e.at),
  };
}

export function outb(bus: PortBus, port: number, v: number): void { bus.write(port, 1, v); }
export function inb(bus: PortBus, port: number): number { return bus.read(port, 1); }

/** JSON round trip: what a snapshot file would hold. */
export function viaJson<T>(x: T): T { return JSON.parse(JSON.stringify(x)) as T; }
