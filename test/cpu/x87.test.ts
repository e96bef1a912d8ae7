import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { x87Machine, hex } from './helpers/x87-machine.js';
import type { X87Case } from './x87-native/cases.js';
import { toExtended, fromExtended, Ext, doubleToExt, extToDouble, extToFloatBits, bitsLo, bitsHi, RC_NEAREST } from '../../src/cpu/x87-convert.js';
import { CR0_EM, CR0_TS, CR0_MP, CR0_NE, RAX, MF, NM } from '../../src/cpu/regs.js';

/**
 * The x87 FPU. The bulk of the checks are differential: x87-native/fixtures.json holds ~2000
 * instruction sequences recorded on an Intel Xeon by x87-native/oracle.c (regenerate with
 * `npx tsx test/cpu/x87-native/generate.ts`): RAX (FNSTSW AX), RFLAGS (FCOMI), the fault vector,
 * the whole FNSAVE image (control, status, tag words, all eight registers) and the data buffer.
 * Not compared: FIP/FCS/FOP/FDP/FDS (the host has CPUID FDP_EXCPTN_ONLY and deprecated FCS/FDS,
 * vmxray models the classic always-updated pointers — checked separately below), and the low bits
 * of the transcendental results (binary64 approximations: within a few ulps of binary64).
 */

interface Fixture extends X87Case { expect: { vector: number; rax: string; rflags: string; save: string; data: string } }
const here = dirname(fileURLToPath(import.meta.url));
/** fixtures.json writes runs of zero digits as `z<count>.` */
const unpack = (h: string) => h.replace(/z(\d+)\./g, (_, n) => '0'.repeat(Number(n)));
const fixtures: Fixture[] = JSON.parse(readFileSync(join(here, 'x87-native/fixtures.json'), 'utf8')).cases.map((c: Fixture) => ({
  ...c, data: unpack(c.data), expect: { ...c.expect, save: unpack(c.expect.save), data: unpack(c.expect.data) },
}));

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const SAVE_OFF = 0x200;
/** Pointer fields of a 32-bit (bytes 12–25) or 16-bit (6–13) environment image. */
function maskEnv(h: string, off: number, fmt: number): string {
  const [a, b] = fmt === 32 ? [12, 26] : [6, 14];
  return h.slice(0, 2 * (off + a)) + '-'.repeat(2 * (b - a)) + h.slice(2 * (off + b));
}
function f64At(h: string, off: number): number { return Buffer.from(h.slice(2 * off, 2 * off + 16), 'hex').readDoubleLE(0); }
function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return a === b || Math.abs(a - b) <= 4e-16 * Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

/** Run a fixture case in vmxray; returns the same fields as the oracle prints. */
function runCase(m: ReturnType<typeof x87Machine>, c: X87Case) {
  const r = m.run(c.code, c.data);
  const vector = r.vector === undefined ? -1 : r.vector;
  const rax = (BigInt(m.cpu.hi[RAX] >>> 0) << 32n | BigInt(m.cpu.lo[RAX] >>> 0)).toString(16).padStart(16, '0');
  const rflags = (m.cpu.getFlags() & 0x8d5).toString(16).padStart(4, '0');
  // FNSAVE (DD B7 disp32) of the state after the code (or at the fault), without resetting it
  const s = m.run(hex('ddb7' + '00020000'), undefined, 10, true);
  const save = toHex(s.data.subarray(SAVE_OFF, SAVE_OFF + 108));
  return { vector, rax, rflags, save, data: toHex(r.data.subarray(0, 128)) };
}

describe('x87 against the real CPU (x87-native/fixtures.json)', () => {
  const m = x87Machine('long');
  const groups = new Map<string, Fixture[]>();
  for (const c of fixtures) {
    const g = c.name.split(' ')[0];
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(c);
  }
  for (const [g, list] of groups) {
    it(`${g} (${list.length} cases)`, () => {
      const bad: string[] = [];
      for (const c of list) {
        const got = runCase(m, c);
        const want = c.expect;
        let gs = maskEnv(got.save, 0, 32), ws = maskEnv(want.save, 0, 32);
        let gd = got.data, wd = want.data;
        for (const [off, fmt] of c.env ?? []) { gd = maskEnv(gd, off, fmt); wd = maskEnv(wd, off, fmt); }
        if (c.approx) {
          for (const off of [0, 8]) {
            if (!close(f64At(gd, off), f64At(wd, off))) bad.push(`${c.name}: data[${off}] ${f64At(gd, off)} ≠ ${f64At(wd, off)}`);
          }
          gd = wd;
          // registers of the image hold the same approximations: compare the control part only (minus PE/C1)
          const sw = (h: string) => parseInt(h.slice(10, 12) + h.slice(8, 10), 16) & ~0x220;
          if (sw(gs) !== sw(ws)) bad.push(`${c.name}: status ${sw(gs).toString(16)} ≠ ${sw(ws).toString(16)}`);
          gs = ws = '';
        }
        const diff: string[] = [];
        if (got.vector !== want.vector) diff.push(`vector ${got.vector} ≠ ${want.vector}`);
        // (after a fault the oracle cannot see RAX and RFLAGS)
        const axMask = c.approx ? ~0x220n : ~0n;                        // approximations: #P and C1 (rounded up) may differ
        if ((BigInt('0x' + got.rax) & axMask) !== (BigInt('0x' + want.rax) & axMask) && want.vector < 0) diff.push(`rax ${got.rax} ≠ ${want.rax}`);
        if (got.rflags !== want.rflags && want.vector < 0) diff.push(`rflags ${got.rflags} ≠ ${want.rflags}`);
        if (gs !== ws) diff.push(`save\n    got  ${gs}\n    want ${ws}`);
        if (gd !== wd) diff.push(`data\n    got  ${gd}\n    want ${wd}`);
        if (diff.length) bad.push(`${c.name} [${c.code}|${c.data}]: ${diff.join('; ')}`);
      }
      expect(bad.slice(0, 8).join('\n')).toBe('');
    });
  }
});

describe('x87 pointers, faults and modes', () => {
  it('records FIP, FCS, FOP, FDP, FDS for non-control instructions and FNSAVE shows them', () => {
    const m = x87Machine('long');
    // fld qword [rdi+0x40] at CODE; fldcw (control) does not change them; fnstenv [rdi]
    const r = m.run('dd4740 d96f3e d937', '');
    const v = new DataView(r.data.buffer, r.data.byteOffset);
    expect(v.getUint32(12, true)).toBe(0x100000);            // FIP = the FLD
    expect(v.getUint16(16, true)).toBe(0x10);                // FCS = kernel code selector
    expect(v.getUint16(18, true)).toBe(0x547);               // FOP = DD 47
    expect(v.getUint32(20, true)).toBe(m.data + 0x40);       // FDP
    expect(v.getUint16(24, true)).toBe(0x18);                // FDS
  });
  it('FNINIT clears the pointers, FINCSTP and FNOP update FIP', () => {
    const m = x87Machine('long');
    const r = m.run('d9e8 dbe3 d9d0 d937', '');
    expect(new DataView(r.data.buffer, r.data.byteOffset).getUint32(12, true)).toBe(0x100004);
    expect(new DataView(r.data.buffer, r.data.byteOffset).getUint16(18, true)).toBe(0x1d0);
  });
  it('#NM when CR0.EM or CR0.TS; FWAIT only with CR0.MP and CR0.TS', () => {
    const m = x87Machine('long');
    m.cpu.cr0 |= CR0_TS;
    expect(m.run('d9e8').vector).toBe(NM);
    expect(m.run('dbe3').vector).toBe(NM);                   // non-waiting instructions too
    expect(m.run('9b').vector).toBe(NM);
    m.cpu.cr0 &= ~CR0_MP;
    expect(m.run('9b').vector).toBeUndefined();
    m.cpu.cr0 = (m.cpu.cr0 & ~CR0_TS) | CR0_EM | CR0_MP;
    expect(m.run('d9e8').vector).toBe(NM);
    expect(m.run('9b').vector).toBeUndefined();
    m.cpu.cr0 &= ~CR0_EM;
  });
  it('a pending unmasked exception raises #MF at the next waiting instruction, not at FNSTSW/FNINIT', () => {
    const m = x87Machine('long');
    const d = '00'.repeat(0x3e) + '7e03';
    expect(m.run('d96f3e d9e8 d9e0 d9fa dfe0 dbe2 d9e8', d).vector).toBeUndefined();   // FNCLEX clears it
    expect(m.run('d96f3e d9e8 d9e0 d9fa 9b', d).vector).toBe(MF);                      // FWAIT
    expect(m.run('d96f3e d9e8 d9e0 d9fa 9bdbe3', d).vector).toBe(MF);                  // FINIT = FWAIT FNINIT
    expect(m.run('d96f3e d9e8 d9e0 d9fa dbe3 d9e8', d).vector).toBeUndefined();        // FNINIT: no check
  });
  it('with CR0.NE = 0 a pending exception stops the machine (FERR#/IRQ13 is not modelled)', () => {
    const m = x87Machine('long');
    m.cpu.cr0 &= ~CR0_NE;
    m.run('d96f3e d9e8 d9e0 d9fa d9e8', '00'.repeat(0x3e) + '7e03');
    expect(m.cpu.stop?.message).toMatch(/CR0.NE = 0/);
    m.cpu.cr0 |= CR0_NE;
  });
  it('FNSAVE/FRSTOR round-trip the whole state bit for bit (SWEB switches threads this way)', () => {
    const m = x87Machine('long');
    // odd registers, a status with flags and C bits, a custom control word, then save, scribble, restore, save again
    const init = '00'.repeat(0x3e) + '7f0a' + '000000000000f0ff0040' + '0000000000000040ffff' + '01000000000000800000';
    const r = m.run('d96f3e db6f40 db6f4a db6f54 d9eb def9 d9e5 ddb700010000 d9e8 d9ee dd a7 00 01 00 00 dd b7 00 02 00 00', init);
    const a = r.data.subarray(0x100, 0x100 + 108), b = r.data.subarray(0x200, 0x200 + 108);
    expect(toHex(b)).toBe(toHex(a));
    expect(toHex(a.subarray(0, 12))).not.toBe('7f03ffff0000ffffffffffff');
  });
  it('real-address mode: FNSTENV/FNSAVE use the real-mode layouts with linear pointers', () => {
    const m = x87Machine('real');
    // at 0x1000: fld qword [di+0x40]; fnstenv [di]; o32 fnstenv [di+0x20]
    const r = m.run('dd4540 d935 66d97520', '');
    const v = new DataView(r.data.buffer, r.data.byteOffset);
    expect(v.getUint16(0, true)).toBe(0x037f);
    expect(v.getUint16(6, true)).toBe(0x1000);                         // FIP[15:0]
    expect(v.getUint16(8, true)).toBe(0x0545);                         // FIP[19:16] = 0, FOP = DD 45
    expect(v.getUint16(10, true)).toBe(0x3040);                        // FDP[15:0]
    expect(v.getUint32(0x20 + 12, true) & 0xffff).toBe(0x1000);
    expect(v.getUint32(0x20 + 16, true)).toBe(0x0545);
    expect(v.getUint32(0x20 + 20, true) & 0xffff).toBe(0x3040);
    // and FLDENV of the image gives the same environment back
    const r2 = m.run('dd4540 d935 d9e8 d925 d97540', '');
    expect(toHex(r2.data.subarray(0x40, 0x40 + 14))).toBe(toHex(r2.data.subarray(0, 14)));
  });
  it('32-bit protected mode: 16- and 32-bit formats with selectors', () => {
    const m = x87Machine('prot32');
    const r = m.run('dd4740 d937 66d97720', '');
    const v = new DataView(r.data.buffer, r.data.byteOffset);
    expect(v.getUint32(12, true)).toBe(0x100000);
    expect(v.getUint16(16, true)).toBe(0x08);
    expect(v.getUint16(24, true)).toBe(0x18);
    expect(v.getUint16(0x20 + 6, true)).toBe(0x0000);                  // FIP[15:0] of 0x100000
    expect(v.getUint16(0x20 + 8, true)).toBe(0x08);
  });
});

describe('binary64 ⇄ 80-bit conversion (FXSAVE/FXRSTOR helpers)', () => {
  it('toExtended is exact and fromExtended rounds to nearest', () => {
    const b = new Uint8Array(10);
    for (const v of [1, -2.5, Math.PI, 5e-324, -Number.MAX_VALUE, Infinity, -0, 0.1]) {
      toExtended(v, b, 0);
      expect(Object.is(fromExtended(b, 0), v)).toBe(true);
    }
    toExtended(1, b, 0);
    expect(toHex(b)).toBe('0000000000000080ff3f');
    toExtended(5e-324, b, 0);
    expect(toHex(b)).toBe('0000000000000080cd3b');                    // 2^-1074: a normal extended value
    expect(fromExtended(hex('35c26821a2da0fc90040'), 0)).toBe(Math.PI);
    expect(fromExtended(hex('0000000000000080ff7f'), 0)).toBe(Infinity);
    expect(fromExtended(hex('0000000000000080ff4f'), 0)).toBe(Infinity);  // beyond binary64: ∞
    expect(Number.isNaN(fromExtended(hex('00000000000000c0ffff'), 0))).toBe(true);
  });
  it('FST m64 rounding of an 80-bit value per rounding control', () => {
    const e = new Ext();
    doubleToExt(1, e);
    e.lo = 0x00000400;                       // 1 + 2^-53 exactly: a tie
    expect(extToFloatBits(e.se, e.hi, e.lo, true, RC_NEAREST)).toBe(0x20);    // PE, rounded down (even)
    expect([bitsHi, bitsLo]).toEqual([0x3ff00000, 0]);
    expect(extToFloatBits(e.se, e.hi, e.lo, true, 2)).toBe(0x220);            // up: PE + C1
    expect([bitsHi, bitsLo]).toEqual([0x3ff00000, 1]);
    expect(extToDouble(e.se, e.hi, e.lo)).toBe(1);
  });
});
