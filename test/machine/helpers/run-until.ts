import type { Machine } from '../../../src/machine/index.js';

/** Run until the debug console (port 0xE9) shows `text` after position `from`, within `budget` instructions; returns the position after it. */
export function runUntil(m: Machine, text: string, from: number, budget = 200_000_000): number {
  const end = m.clock.icount + budget;
  while (m.clock.icount < end && !m.cpu.stop) {
    const at = m.debugLog.indexOf(text, from);
    if (at >= 0) return at + text.length;
    m.runFor(2_000_000);
  }
  const at = m.debugLog.indexOf(text, from);
  if (at >= 0) return at + text.length;
  throw new Error(`did not see ${JSON.stringify(text)}; stop: ${m.cpu.stop?.message ?? 'none'}\n--- log:\n${m.debugLog.slice(-3000)}`);
}
