import type { CPU } from './cpu.js';

/**
 * DR0–DR3 breakpoints under DR7 control (SDM Vol. 3B, "Debug Registers", "Debug Exceptions").
 * Instruction breakpoints (R/W = 00) are faults checked before an instruction executes (unless
 * RFLAGS.RF); data breakpoints (R/W = 01 write, 11 read or write) are traps reported after the
 * instruction. I/O breakpoints (R/W = 10 with CR4.DE) are not implemented: they never match.
 * While any data breakpoint is enabled, the CPU stops filling its fast TLB so every access
 * reaches the slow path where addresses are compared.
 */
export interface DebugState { exec: boolean; data: boolean }

/** Recompute which breakpoint kinds are armed from DR7; returns them. */
export function armedBreakpoints(dr7: number): DebugState {
  let exec = false, data = false;
  for (let i = 0; i < 4; i++) {
    if (!((dr7 >>> (i * 2)) & 3)) continue;
    const rw = (dr7 >>> (16 + i * 4)) & 3;
    if (rw === 0) exec = true; else if (rw !== 2) data = true;
  }
  return { exec, data };
}

const LEN = [1, 2, 8, 4];

/** DR6 B0–B3 bits of instruction breakpoints matching linear address `la`. */
export function execMatches(cpu: CPU, la: number): number {
  const dr7 = cpu.dr[7];
  let hits = 0;
  for (let i = 0; i < 4; i++) {
    if (!((dr7 >>> (i * 2)) & 3)) continue;
    if (((dr7 >>> (16 + i * 4)) & 3) !== 0) continue;
    if (cpu.dr[i] === la) hits |= 1 << i;
  }
  return hits;
}

/** DR6 B0–B3 bits of data breakpoints overlapping [la, la+size) for a read or write. */
export function dataMatches(cpu: CPU, la: number, size: number, write: boolean): number {
  const dr7 = cpu.dr[7];
  let hits = 0;
  for (let i = 0; i < 4; i++) {
    if (!((dr7 >>> (i * 2)) & 3)) continue;
    const rw = (dr7 >>> (16 + i * 4)) & 3;
    if (rw === 0 || rw === 2 || (rw === 1 && !write)) continue;
    const len = LEN[(dr7 >>> (18 + i * 4)) & 3];
    const base = cpu.dr[i] - (((cpu.dr[i] % len) + len) % len);
    if (la < base + len && base < la + size) hits |= 1 << i;
  }
  return hits;
}
