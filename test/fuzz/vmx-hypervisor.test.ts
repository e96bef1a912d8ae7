import { describe, it, expect } from 'vitest';
import * as F from '../../src/vmx/fields.js';
import { FIELDS } from '../../src/vmx/fields.js';
import { CS, RAX, RCX, RSP, CF, PF, AF, ZF, SF, OF } from '../../src/cpu/regs.js';
import { VmxState } from '../../src/vmx/state.js';
import { CR4_VMXE } from '../../src/cpu/regs.js';
import { createMachine, CODE, STUBS, STACK_TOP, DATA, hex } from '../cpu/helpers/machine.js';
import {
  hypervisor, VMXON_REGION, VMCS_REGION, GUEST_CODE, HOST_RIP, HLT,
} from '../vmx/helpers/hv-stub.js';

/**
 * "Architecture, not crash" for a HYPERVISOR: random VMX instructions executed in VMX root
 * operation (VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE, VMLAUNCH, VMRESUME, INVEPT,
 * INVVPID, VMCALL) with random operands — VMCS/VMXON pointers valid, unaligned, out of RAM, beyond
 * the physical-address width, the VMXON region itself, regions with a wrong revision identifier;
 * field encodings of every VMCS field, HIGH accesses, random encodings; values from the valid VMCS,
 * bit flips of it, random; memory operands that fault — interleaved with random ordinary
 * instructions, one instruction at a time on the test machine of the hypervisor stub
 * (test/vmx/helpers/hv-stub.ts), in 64-bit mode or (30%) in 32-bit protected mode with paging.
 *
 * After each VMX instruction (SDM Vol. 3C, chapter "VMX Instruction Reference", "Conventions",
 * and "VM Instruction Error Numbers"): RFLAGS' arithmetic flags are VMsucceed (all 0),
 * VMfailInvalid (CF only) or VMfailValid (ZF only, with a current VMCS whose VM-instruction
 * error field holds a number the SDM lists for that instruction); or the instruction faulted
 * (#UD, #GP, #SS, #PF); or it was a VM entry (VMLAUNCH/VMRESUME). Every VM exit (a guest's, or a
 * VM-entry failure 33/34) leaves host state loaded: RIP = HOST_RIP, CR3 = HOST_CR3, CS =
 * HOST_CS_SELECTOR, RFLAGS = 2. Never an 'internal' stop.
 *
 * VMXRAY_FUZZ=N runs N programs (default 100) of 400 instructions each.
 */
const N = Number(process.env.VMXRAY_FUZZ ?? 100);
const ITEMS = 400;

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}
const chance = (next: () => number, pct: number): boolean => next() % 100 < pct;
function pick<T>(next: () => number, xs: readonly T[]): T { return xs[next() % xs.length]; }

/** VM-instruction error numbers each instruction may report ("VM Instruction Error Numbers"; dual-monitor treatment is not offered). */
const ERRORS: Record<string, readonly number[]> = {
  vmxon: [15], vmxoff: [], vmclear: [2, 3], vmptrld: [9, 10, 11], vmptrst: [], vmread: [12], vmwrite: [12, 13],
  vmlaunch: [4, 7, 8, 26], vmresume: [5, 6, 7, 8, 26], invept: [28], invvpid: [28], vmcall: [1],
};
/** Encodings with a memory operand [rax] (register operand rcx where there is one) and register forms. */
const OPS: Record<string, readonly string[]> = {
  vmxon: ['f30fc730'], vmclear: ['660fc730'], vmptrld: ['0fc730'], vmptrst: ['0fc738'],
  vmread: ['0f78c8', '0f7808'],     // vmread rax, rcx / vmread [rax], rcx
  vmwrite: ['0f79c8', '0f7908'],    // vmwrite rcx, rax / vmwrite rcx, [rax]
  vmlaunch: ['0f01c2'], vmresume: ['0f01c3'], vmxoff: ['0f01c4'], vmcall: ['0f01c1'],
  invept: ['660f388008'], invvpid: ['660f388108'],
};
/** How often each is chosen: VMWRITE and VMLAUNCH/VMRESUME most (random VMCS contents reach the VM-entry checks). */
const WEIGHTED = [
  ...Array(8).fill('vmwrite'), ...Array(3).fill('vmread'), ...Array(3).fill('vmlaunch'), ...Array(2).fill('vmresume'),
  'vmxon', 'vmxon', 'vmclear', 'vmptrld', 'vmptrld', 'vmptrst', 'invept', 'invvpid', 'vmcall', 'vmxoff',
] as readonly string[];
const FAULTS = new Set([6, 12, 13, 14]);
const ARITH = CF | PF | AF | ZF | SF | OF;

const VMCS2 = 0x503000, VMCS3 = 0x504000, BADREV = 0x505000, SLOT = DATA + 0x100;

interface Tally { example: Map<string, string>; programs: number; insns: number; vmx: Map<string, number>; ends: Map<string, number>; entries: number; exits: Map<number, number>; problems: string[] }
const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

function runProgram(seed: number, t: Tally): void {
  const next = rng(seed);
  // a 64-bit host (the stub's machine) or a 32-bit host (protected mode, 32-bit paging: VMX operand size 4)
  const host32 = chance(next, 30);
  const hv = hypervisor();
  const m = host32 ? createMachine({ mode: 'prot32', paging: true }) : hv.m;
  const cpu = m.cpu;
  if (host32) {
    cpu.cr4 |= CR4_VMXE;
    const r0 = cpu.msr.read(0x480)[0];
    m.bus.write32(VMXON_REGION, r0); m.bus.write32(VMCS_REGION, r0);
    m.bus.write32(DATA, VMXON_REGION); m.bus.write32(DATA + 4, 0);
    m.bus.write32(DATA + 8, VMCS_REGION); m.bus.write32(DATA + 12, 0);
    m.bus.write8(HOST_RIP, 0xf4);
  }
  const rev = cpu.msr.read(0x480)[0];
  m.bus.write32(VMCS2, rev); m.bus.write32(VMCS3, rev); m.bus.write32(BADREV, rev ^ (1 + (next() & 0xff)));
  // a guest that exits soon: nop; nop; cpuid (unconditional exit), repeated
  m.bus.writeBytes(GUEST_CODE, hex('90900fa2'.repeat(64)));
  const valid = [...hv.vmcs.m];
  const where = (s: string) => `seed ${seed}: ${s}`;

  cpu.vmx = new VmxState();
  let exited = false;
  cpu.vmx.onTransition = (kind, reason) => {
    if (kind === 'entry') { t.entries++; return; }
    exited = true;
    bump(t.exits, reason >>> 0);
    const c = cpu.vmx!.current!;
    const bad = (s: string) => t.problems.push(where(`exit ${reason >>> 0}: ${s}`));
    if (cpu.vmx!.nonRoot) bad('still in non-root operation');
    if ((cpu.rip >>> 0) !== c.read(F.HOST_RIP) || (Math.floor(cpu.rip / 4294967296) >>> 0) !== c.readHi(F.HOST_RIP)) bad(`RIP ${cpu.rip.toString(16)} is not HOST_RIP`);
    if (cpu.cr3 !== c.read64n(F.HOST_CR3)) bad(`CR3 ${cpu.cr3.toString(16)} is not HOST_CR3`);
    if (cpu.segSel[CS] !== c.read(F.HOST_CS_SELECTOR)) bad('CS is not HOST_CS_SELECTOR');
    if (cpu.getFlags() !== 2) bad(`RFLAGS ${cpu.getFlags().toString(16)} is not 2`);
    if ((reason & 0x7fff0000) !== 0) bad('bits 30:16 of the exit reason are not 0');
    if ((reason & 0x80000000) && (reason & 0xffff) !== 33 && (reason & 0xffff) !== 34) bad('a VM-entry failure other than 33/34');
  };

  // half of the programs start with the stub's setup done (VMXON, VMCLEAR, VMPTRLD, every VMWRITE of a valid VMCS)
  if (chance(next, 50)) {
    const code = `b8${le32(DATA)}f30fc730` + `b8${le32(DATA + 8)}660fc730` + `b8${le32(DATA + 8)}0fc730`; // mov eax, slot; VMXON/VMCLEAR/VMPTRLD [rax]
    m.run(code + HLT, 100, 0x170000);
    if (cpu.stop?.reason !== 'halted' || !cpu.vmx.on || !cpu.vmx.current) t.problems.push(where(`the setup did not run: ${cpu.stop?.message}`));
    else for (const [enc, [lo, hi]] of hv.vmcs.m) cpu.vmx.current.write(enc, lo, hi);
  }

  const pointer = (name: string): [number, number] => {
    if (name === 'vmxon' && chance(next, 60)) return [VMXON_REGION, 0];
    switch (next() % 12) {
      case 0: return [VMXON_REGION, 0];
      case 1: case 2: return [name === 'vmxon' ? VMXON_REGION : VMCS_REGION, 0];
      case 3: return [VMCS2, 0];
      case 4: return [VMCS3, 0];
      case 5: return [BADREV, 0];
      case 6: return [VMCS_REGION + 1 + next() % 0xfff, 0];            // unaligned
      case 7: return [pick(next, [0x10000000, 0x80000000, 0xfffff000]), pick(next, [0, 0x7f])]; // out of RAM, in the width
      case 8: return [0, pick(next, [0x100, 0x8000, 0xffffffff])];     // beyond the physical-address width (40 bits)
      case 9: return [(next() & 0x7ff) << 12, 0];                       // a page in RAM (revision identifier: whatever is there)
      case 10: return [0, 0];
      default: return [next(), next()];
    }
  };
  const operandAddress = (): [number, number] => {
    switch (next() % 20) {
      case 0: return [0, 0x8000];                 // non-canonical: #GP
      case 1: return [0x40000000, 0];              // not mapped (PDPT[1] not present): #PF
      case 2: return [SLOT + 1 + next() % 7, 0];  // unaligned
      default: return [SLOT, 0];
    }
  };
  const encoding = (): [number, number] => {
    const f = pick(next, FIELDS);
    switch (next() % 10) {
      case 0: return [f.enc | 1, 0];                               // HIGH access (valid only for 64-bit fields)
      case 1: return [next() & 0xffff, 0];
      case 2: return [next(), 0];
      case 3: return [f.enc, 1 << (next() & 31)];                   // bits 63:32 set
      default: return [f.enc, 0];
    }
  };
  const value = (enc: number): [number, number] => {
    const v = valid.find(([e]) => e === enc)?.[1] ?? [0, 0];
    switch (next() % 6) {
      case 0: return [next(), next()];
      case 1: return [v[0] ^ (1 << (next() & 31)), v[1]];
      case 2: return [v[0], v[1] ^ (1 << (next() & 31))];
      case 3: return [next() & 0xff, 0];
      default: return [v[0], v[1]];
    }
  };
  const setReg = (r: number, [lo, hi]: [number, number]) => { cpu.lo[r] = lo | 0; cpu.hi[r] = hi | 0; };
  const write64 = (pa: number, [lo, hi]: [number, number]) => { m.bus.write32(pa, lo >>> 0); m.bus.write32(pa + 4, hi >>> 0); };

  const stopOf = () => cpu.stop as { reason: string; message: string } | null;
  let end = 'budget';
  const mode0 = cpu.mode;
  for (let k = 0; k < ITEMS; k++) {
    // ordinary instructions may wreck the host (a CS reloaded from a descriptor they overwrote, a mode
    // change): the program ends there, its VMX instructions would not run where the test wrote them
    if (cpu.segBase[CS] !== 0 || cpu.mode !== mode0) { end = 'host damaged'; break; }
    cpu.stop = null; cpu.halted = false;
    cpu.lo[RSP] = STACK_TOP; cpu.hi[RSP] = 0;
    let name = '', bytes: string;
    if (chance(next, 70)) {
      name = pick(next, WEIGHTED);
      bytes = pick(next, OPS[name]);
      const addr = operandAddress();
      setReg(RAX, addr);
      if (name === 'vmxon' || name === 'vmclear' || name === 'vmptrld') write64(SLOT, pointer(name));
      if (name === 'vmread' || name === 'vmwrite') {
        const enc = encoding();
        setReg(RCX, enc);
        const val = value(enc[0]);
        if (bytes === '0f79c8') setReg(RAX, val);
        else write64(SLOT, val);
      }
      if (name === 'invept' || name === 'invvpid') {
        setReg(RCX, [pick(next, [0, 1, 2, 3, 4, next()]), chance(next, 10) ? 1 : 0]);
        const e = hv.vmcs.m.get(F.EPT_POINTER) ?? [0, 0];
        write64(SLOT, name === 'invept' ? (chance(next, 50) ? [e[0], e[1]] : [next(), next() & 0xff]) : [chance(next, 70) ? next() & 0xffff : next(), 0]);
        write64(SLOT + 8, chance(next, 70) ? [next(), 0] : [next(), next()]);
      }
      // a prefix now and then: the same opcode may then be another instruction (no flag check)
      if (chance(next, 8)) { bytes = pick(next, ['66', 'f3', 'f2', '48', '67', '2e', 'f0']) + bytes; name = ''; }
    } else {
      // an ordinary instruction: random bytes (biased as random-code.test.ts), one instruction executed
      let s = '';
      for (let i = 0; i < 15; i++) {
        const r = next();
        s += (r % 7 === 0 ? [0x0f, 0x66, 0x67, 0xf3, 0xf2, 0x48, 0xf0, 0x2e][(r >>> 8) & 7] : (r >>> 16) & 0xff).toString(16).padStart(2, '0');
      }
      bytes = s;
      for (const r of [RAX, RCX]) setReg(r, [DATA + (next() & 0xfff8), 0]);
    }
    const at = CODE + (k % 64) * 32;
    m.bus.writeBytes(at, hex(bytes));
    cpu.rip = at; cpu.nip = at;
    exited = false;
    const before = cpu.clock.icount;
    m.exec.run(before + 1);
    if (process.env.VMXRAY_FUZZ_SEED) console.log(k, name || 'ordinary', bytes, cpu.rip.toString(16), cpu.getFlags().toString(16), stopOf()?.reason);
    t.insns++;
    const stop = stopOf();
    if (stop?.reason === 'internal') { t.problems.push(where(`${name || bytes}: ${stop.message}`)); end = 'internal'; break; }
    if (name === '') { if (stop) { end = stop.reason; break; } continue; }
    bump(t.vmx, name);
    const v = cpu.vmx!;
    // a VM entry: run the guest until it exits (or give up on this program)
    if (v.nonRoot) {
      m.exec.run(cpu.clock.icount + 5_000, () => exited);
      const gs = stopOf();
      if (gs?.reason === 'internal') { t.problems.push(where(`guest: ${gs.message}`)); end = 'internal'; break; }
      if (v.nonRoot) { end = `guest ${gs?.reason ?? 'ran on'}`; break; }
      continue;
    }
    if (exited) continue;   // a VM-entry failure exit (33/34): checked by the observer
    if (stop) { end = stop.reason; break; }
    const r = cpu.rip - STUBS;
    if (r >= 0 && r < 32 * 8 && r % 8 === 0) {
      if (!FAULTS.has(r / 8)) t.problems.push(where(`${name}: fault ${r / 8}`));
      bump(t.vmx, `${name}:#${r / 8}`);
      if (r / 8 === 6) bump(t.vmx, `#UD with ${!v.on ? 'VMX off' : (cpu.cr4 & 0x2000) === 0 ? 'CR4.VMXE 0' : `mode ${cpu.mode}`}`);
      continue;
    }
    if (cpu.rip !== at + bytes.length / 2) {
      t.problems.push(where(`${name}: RIP ${cpu.rip.toString(16)} is not after the instruction`));
      if (process.env.VMXRAY_FUZZ_SEED) console.log(k, name, bytes, cpu.rip.toString(16), cpu.getFlags().toString(16), cpu.clock.icount - before);
      continue;
    }
    const f = cpu.getFlags() & ARITH;
    if (f === 0) bump(t.vmx, `${name}:ok`);
    else if (f === CF) bump(t.vmx, `${name}:invalid`);
    else if (f === ZF) {
      const err = v.current ? v.current.read(F.VM_INSTRUCTION_ERROR) : -1;
      bump(t.vmx, `${name}:valid(${err})`);
      if (!v.current) t.problems.push(where(`${name}: VMfailValid without a current VMCS`));
      else if (!ERRORS[name].includes(err)) t.problems.push(where(`${name}: VMfailValid(${err}) is not an error number of ${name}`));
    } else t.problems.push(where(`${name}: RFLAGS 0x${cpu.getFlags().toString(16)} is none of VMsucceed, VMfailInvalid, VMfailValid`));
  }
  t.programs++;
  bump(t.ends, end);
  if (!t.example.has(end)) t.example.set(end, `seed ${seed}: ${stopOf()?.message ?? ''}`);
}

const le32 = (n: number): string => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b.toString('hex'); };
const le64 = (lo: number, hi = 0): string => le32(lo) + le32(hi);

const CHUNK = 20;
const chunks = Array.from({ length: Math.ceil(N / CHUNK) }, (_, i) => [i * CHUNK, Math.min(N, (i + 1) * CHUNK)] as const);

describe('random VMX instructions of a hypervisor never break the emulator', () => {
  if (process.env.VMXRAY_FUZZ_SEED) it('one seed', () => {
    const t: Tally = { example: new Map(), programs: 0, insns: 0, vmx: new Map(), ends: new Map(), entries: 0, exits: new Map(), problems: [] };
    runProgram(Number(process.env.VMXRAY_FUZZ_SEED), t);
    console.log(t.problems.slice(0, 5));
  });
  else for (const [from, to] of chunks) it(`hypervisor programs ${from}–${to - 1}: VMsucceed / VMfailInvalid / VMfailValid with a listed error / a fault; host state after every exit; no internal stop`, () => {
    const t: Tally = { example: new Map(), programs: 0, insns: 0, vmx: new Map(), ends: new Map(), entries: 0, exits: new Map(), problems: [] };
    for (let k = from; k < to; k++) runProgram(104729 * (k + 1), t);
    if (process.env.VMXRAY_FUZZ_REPORT) {
      console.log(`programs ${t.programs}, instructions ${t.insns}, entries ${t.entries}, exits ${[...t.exits].map(([r, n]) => `${r}:${n}`).join(' ')}, ends ${[...t.ends].map(([r, n]) => `${r}:${n}`).join(' ')}`);
      console.log([...t.vmx].sort().map(([r, n]) => `${r}:${n}`).join(' '));
      for (const [k, e] of t.example) console.log(`  ${k}: ${e}`);
    }
    expect(t.problems.slice(0, 10)).toEqual([]);
    // the programs really reach the interesting outcomes
    const outcomes = [...t.vmx.keys()];
    expect(outcomes.some(k => k.endsWith(':ok'))).toBe(true);
    expect(outcomes.some(k => k.includes(':valid('))).toBe(true);
  }, 120_000);
});
