import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/machine/index.js';
import { CS } from '../../src/cpu/regs.js';
import { createMachine } from '../cpu/helpers/machine.js';

/**
 * "A guest doing anything at all gets architectural behaviour or a clean stop, never a
 * JavaScript exception out of the run loop": random bytes executed in real mode and 32-bit
 * protected mode on the whole PC (devices included, so random IN/OUT reach them), and in 64-bit
 * mode at CPL 0 and 3. Every run must end in a normal state: still running, halted, a triple
 * fault, an unsupported instruction — never an internal error.
 * VMXRAY_FUZZ=N runs N programs per mode (default 100; 1,500 passed locally).
 */
const N = Number(process.env.VMXRAY_FUZZ ?? 100);
const STEPS = 20_000;

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}
function randomCode(next: () => number, len = 4096): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    const r = next();
    // bias toward prefixes, escapes and common opcodes so decoding goes deep
    b[i] = r % 7 === 0 ? [0x0f, 0x66, 0x67, 0xf3, 0xf2, 0x48, 0xf0, 0x2e][(r >>> 8) & 7] : (r >>> 16) & 0xff;
  }
  return b;
}

function checkStop(stop: { reason: string; message: string } | null, where: string): void {
  if (stop && stop.reason === 'internal') throw new Error(`${where}: ${stop.message}`);
}

const CHUNK = 50; // programs per test case, so no single test blocks the worker for long
const chunks = Array.from({ length: Math.ceil(N / CHUNK) }, (_, i) => [i * CHUNK, Math.min(N, (i + 1) * CHUNK)] as const);

describe('random code never breaks the emulator', () => {
  for (const [from, to] of chunks) it(`real mode and 32-bit protected mode on the PC: programs ${from}–${to - 1}`, () => {
    const next = rng(1234 + from);
    const reasons = new Map<string, number>();
    for (let k = from; k < to; k++) {
      for (const mode of ['real', 'prot'] as const) {
        const m = new Machine({ memory: 4 * 1024 * 1024 });
        const code = randomCode(next);
        if (mode === 'real') {
          m.bus.writeBytes(0x7c00, code);
          m.cpu.segSel[CS] = 0; m.cpu.segBase[CS] = 0; m.cpu.rip = 0x7c00;
        } else {
          // the multiboot entry state: 32-bit protected mode, flat segments, no IDT of its own
          m.bus.writeBytes(0x100000, code);
          m.boot(minimalMultiboot(0x100000));
        }
        m.runFor(STEPS);
        checkStop(m.cpu.stop, `${mode} program ${k}`);
        const r = m.cpu.stop?.reason ?? 'running';
        reasons.set(r, (reasons.get(r) ?? 0) + 1);
      }
    }
    expect(reasons.get('internal')).toBeUndefined();
    expect([...reasons.keys()].length).toBeGreaterThan(1); // the programs really do different things
  });

  for (const [from, to] of chunks) it(`64-bit mode at CPL 0 and CPL 3: programs ${from}–${to - 1}`, () => {
    const next = rng(99 + from);
    for (let k = from; k < to; k++) {
      for (const cpl of [0, 3] as const) {
        const m = createMachine({ mode: 'long', cpl });
        m.run(randomCode(next), STEPS);
        checkStop(m.cpu.stop, `64-bit CPL ${cpl} program ${k}`);
      }
    }
  });
});

/** A multiboot v1 a.out-kludge image whose code was already placed at `entry` (the header loads one page of zeros below). */
function minimalMultiboot(entry: number): Uint8Array {
  const img = new Uint8Array(64);
  const dv = new DataView(img.buffer);
  const flags = 1 << 16; // a.out kludge
  dv.setUint32(0, 0x1badb002, true);
  dv.setUint32(4, flags, true);
  dv.setUint32(8, (-(0x1badb002 + flags)) >>> 0, true);
  dv.setUint32(12, 0x200000, true);          // header_addr
  dv.setUint32(16, 0x200000, true);          // load_addr
  dv.setUint32(20, 0x200000 + 64, true);     // load_end_addr
  dv.setUint32(24, 0x200000 + 64, true);     // bss_end_addr
  dv.setUint32(28, entry, true);             // entry_addr
  return img;
}
