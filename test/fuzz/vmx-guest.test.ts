import { describe, it, expect } from 'vitest';
import * as F from '../../src/vmx/fields.js';
import { PIN, PROC, PROC2, EXIT, ENTRY } from '../../src/vmx/controls.js';
import { Pic8259Pair } from '../../src/devices/pic8259.js';
import { Pit8254 } from '../../src/devices/pit8254.js';
import { CS } from '../../src/cpu/regs.js';
import { MODE_LONG } from '../../src/cpu/cpu.js';
import { VmxState } from '../../src/vmx/state.js';
import { GDT, GDT_LIMIT, TSS, TSS_LIMIT, SEL, PML4, hex } from '../cpu/helpers/machine.js';
import {
  hypervisor, identityEpt, GUEST_CODE, GUEST_IDT, GUEST_STACK, GUEST_HANDLERS, HOST_RIP, HOST_MORE, VMRESUME, HLT, type Hv,
} from '../vmx/helpers/hv-stub.js';
import { FEATURES } from '../../src/cpu/cpuid.js';

/**
 * "A guest doing anything at all gets architectural behaviour or a clean stop with a message,
 * never a JavaScript exception out of the run loop" — for a VMX GUEST: random code runs in VMX
 * non-root operation under the hypervisor stub (test/vmx/helpers/hv-stub.ts: VMXON, a valid
 * VMCS, VMLAUNCH; HLT at HOST_RIP). The test plays the hypervisor's exit handler: after each VM
 * exit it edits the current VMCS (advance GUEST_RIP by the VM-exit instruction length, skip a
 * faulting byte, re-arm the preemption timer, inject an interrupt at an interrupt window, ...)
 * and executes VMRESUME at HOST_MORE.
 *
 * Per program a random configuration: 64-bit guest (EPT on or off) or 32-bit unrestricted guest
 * with paging off (EPT on); exception bitmap 0 or all ones; unconditional I/O exiting, I/O bitmaps
 * or neither; MSR bitmaps; CR0/CR4 guest/host masks and read shadows; HLT/RDTSC/INVLPG/MOV-DR/
 * descriptor-table/... exiting; interrupt-window exiting, MTF, the VMX-preemption timer; a PIT
 * interrupt through the PIC with "external-interrupt exiting" on or off.
 *
 * Every VM exit must (SDM Vol. 3C "Basic VM-Exit Information", "Information for VM Exits Due to
 * Instruction Execution", "Loading Host State"; Vol. 3D Appendix C "VMX Basic Exit Reasons"):
 * have a basic reason that the configuration makes possible, bits 31:16 clear (not a VM-entry
 * failure); a VM-exit instruction length in 1..15 for exits due to instruction execution; and leave
 * host state loaded (RIP = HOST_RIP, CR3 = HOST_CR3, CS = HOST_CS_SELECTOR, RFLAGS = 2, root
 * operation). No run may end in an 'internal' stop.
 *
 * VMXRAY_FUZZ=N runs N programs (default 60).
 */
const N = Number(process.env.VMXRAY_FUZZ ?? 60);
const STEPS = 20_000;
const MAX_EXITS = 500;

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}
function randomCode(next: () => number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    const r = next();
    // bias toward prefixes, escapes and common opcodes so decoding goes deep (as random-code.test.ts);
    // 0F 01 / 0F 78 / 0F 79 / 0F C7 sequences now and then, so VMX instructions and their exits occur
    const p = r % 53;
    if (p === 0 && i + 2 < len) { b[i++] = 0x0f; b[i++] = 0x01; b[i] = [0xc1, 0xc2, 0xc3, 0xc4, 0xd4, 0xd0, 0xd1, 0xf9][(r >>> 8) & 7]; continue; }
    if (p === 1 && i + 1 < len) { b[i++] = 0x0f; b[i] = [0x78, 0x79, 0xc7, 0xa2, 0x30, 0x32, 0x31, 0x22, 0x20, 0x21, 0x23, 0x00, 0x08, 0x09, 0x38, 0x0b][(r >>> 8) & 15]; continue; }
    b[i] = r % 7 === 0 ? [0x0f, 0x66, 0x67, 0xf3, 0xf2, 0x48, 0xf0, 0x2e][(r >>> 8) & 7] : (r >>> 16) & 0xff;
  }
  return b;
}

/** Instructions that exit under some control, change system state or fault (encodings valid in 32- and 64-bit mode). */
const VOCABULARY = [
  '90', '0fa2', 'f4', '0f31', '0f01f9', '0f32', '0f30', 'ec', 'e460', 'e680', 'ee', 'ed', '66ef', '0f20c0', '0f22c0', '0f20d8',
  '0f22d8', '0f20e0', '0f22e0', '0f06', 'f390', 'cc', '0f0b', '0f09', '0f08', '0f0138', '0f21c0', '0f23f8', '0f23c0', '0f01c1',
  '0f00c8', '0f0108', '0f0118', '8b00', '8903', 'ffc0', 'fb', 'fa', '9c9d', '0f01e0', '0f01f0', '0f0130', 'f36c', 'f36e', 'cd80', 'ce',
  '0f00d8', '0f0110', '0f7808', '0f79c8', '0fc730', '0f01c4', '0f33', '0f01d0', '0f01d1', 'e2fe',
];
function vocabularyLoop(next: () => number, at: number, len: number): Uint8Array {
  const le = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b.toString('hex'); };
  let s = '';
  while (s.length / 2 < len - 64) {
    const r = next() % 10;
    if (r === 0) s += 'b9' + le(pick(next, [0x10, 0x1b, 0x3a, 0x174, 0x277, 0xc0000080, 0xc0000100, 0x480, 0x48b, next()]));
    else if (r === 1) s += 'ba' + le(pick(next, [0x20, 0x21, 0x40, 0x43, 0x60, 0x80, 0x3f8, 0xcf8, next() & 0xffff]));
    else if (r === 2) s += 'b8' + le(pick(next, [SCRATCH, 0x31, 0x80000031, 0x2020, next()]));
    else s += pick(next, VOCABULARY);
    if (next() % 40 === 0) s += 'e9' + le(-(s.length / 2 + 5));   // jmp back to the start: a hot loop
  }
  s += 'e9' + le(-(s.length / 2 + 5));
  void at;
  return hex(s);
}

const SCRATCH = 0x600000;
const IDT32 = 0x1a8000;
const MSR_BITMAPS = 0x520000, IO_A = 0x521000, IO_B = 0x522000, INVEPT_DESC = 0x523000;
const CODE_LEN = 8192;

/** Basic exit reasons due to instruction execution ("Information for VM Exits Due to Instruction Execution": the VM-exit instruction length is defined). */
const INSTRUCTION_EXIT = new Set([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 36, 39, 40,
  46, 47, 50, 51, 53, 54, 55, 57, 58, 59, 61]);

interface Config {
  long: boolean; ept: boolean;
  pin: number; proc: number; proc2: number; exitCtl: number;
  excBitmap: number; pit: boolean;
}

/** The basic exit reasons this configuration makes possible (Appendix C, with the control each one needs). */
function possibleReasons(c: Config, cr0Mask: number, cr4Mask: number): Set<number> {
  const r = new Set<number>([2, 9, 10, 13, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 31, 32, 50, 53]);
  if (FEATURES.xsave) r.add(55);
  if (c.excBitmap !== 0) r.add(0);
  if (c.pin & PIN.EXTERNAL_INTERRUPT_EXITING) r.add(1);
  if (c.pin & PIN.ACTIVATE_VMX_PREEMPTION_TIMER) r.add(52);
  if (c.proc & PROC.INTERRUPT_WINDOW_EXITING) r.add(7);
  if (c.proc & PROC.HLT_EXITING) r.add(12);
  if (c.proc & PROC.INVLPG_EXITING) { r.add(14); if (c.proc2 & PROC2.ENABLE_INVPCID) r.add(58); }
  if (c.proc & PROC.RDPMC_EXITING) r.add(15);
  if (c.proc & PROC.RDTSC_EXITING) { r.add(16); if (c.proc2 & PROC2.ENABLE_RDTSCP) r.add(51); }
  if ((c.proc & (PROC.CR3_LOAD_EXITING | PROC.CR3_STORE_EXITING | PROC.CR8_LOAD_EXITING | PROC.CR8_STORE_EXITING)) || cr0Mask || cr4Mask) r.add(28);
  if (c.proc & PROC.MOV_DR_EXITING) r.add(29);
  if (c.proc & (PROC.UNCONDITIONAL_IO_EXITING | PROC.USE_IO_BITMAPS)) r.add(30);
  if (c.proc & PROC.MONITOR_TRAP_FLAG) r.add(37);
  if (c.proc & PROC.PAUSE_EXITING || c.proc2 & PROC2.PAUSE_LOOP_EXITING) r.add(40);
  if (c.proc2 & PROC2.DESCRIPTOR_TABLE_EXITING) { r.add(46); r.add(47); }
  if (c.proc2 & PROC2.ENABLE_EPT) { r.add(48); r.add(49); }
  if (c.proc2 & PROC2.WBINVD_EXITING) r.add(54);
  return r;
}

interface Tally { example: Map<string, string>; programs: number; exits: Map<number, number>; ends: Map<string, number>; guestInsns: number; problems: string[] }

function pick<T>(next: () => number, xs: readonly T[]): T { return xs[next() % xs.length]; }
const chance = (next: () => number, pct: number): boolean => next() % 100 < pct;

/** One program: configure, launch, play the exit handler until STEPS guest instructions or MAX_EXITS exits. */
function runProgram(seed: number, t: Tally): void {
  const next = rng(seed);
  const hv = hypervisor();
  const { m } = hv;
  const cpu = m.cpu;
  const v = hv.vmcs;
  const where = (s: string) => `program seed ${seed}: ${s}`;

  // ---- configuration
  const long = chance(next, 60);
  const ept = !long || chance(next, 50);
  let proc2 = 0;
  if (ept) proc2 |= PROC2.ENABLE_EPT;
  if (!long) proc2 |= PROC2.UNRESTRICTED_GUEST;
  for (const b of [PROC2.DESCRIPTOR_TABLE_EXITING, PROC2.ENABLE_RDTSCP, PROC2.WBINVD_EXITING, PROC2.ENABLE_INVPCID, PROC2.ENABLE_VPID, PROC2.PAUSE_LOOP_EXITING]) if (chance(next, 30)) proc2 |= b;
  let proc = v.read(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | PROC.ACTIVATE_SECONDARY_CONTROLS;
  if (chance(next, 70)) proc |= PROC.HLT_EXITING;
  for (const b of [PROC.INVLPG_EXITING, PROC.RDPMC_EXITING, PROC.RDTSC_EXITING, PROC.CR3_LOAD_EXITING, PROC.CR3_STORE_EXITING,
    PROC.MOV_DR_EXITING, PROC.PAUSE_EXITING, PROC.USE_TSC_OFFSETTING]) if (chance(next, 35)) proc |= b;
  if (long) for (const b of [PROC.CR8_LOAD_EXITING, PROC.CR8_STORE_EXITING]) if (chance(next, 30)) proc |= b;
  const io = next() % 3;
  if (io === 1) proc |= PROC.UNCONDITIONAL_IO_EXITING;
  if (io === 2) proc |= PROC.USE_IO_BITMAPS;
  if (chance(next, 50)) proc |= PROC.USE_MSR_BITMAPS;
  if (chance(next, 20)) proc |= PROC.INTERRUPT_WINDOW_EXITING;
  if (chance(next, 10)) proc |= PROC.MONITOR_TRAP_FLAG;
  let pin = v.read(F.PIN_BASED_VM_EXECUTION_CONTROLS);
  if (chance(next, 25)) pin |= PIN.ACTIVATE_VMX_PREEMPTION_TIMER;
  const pit = chance(next, 40);
  if (pit && chance(next, 50)) pin |= PIN.EXTERNAL_INTERRUPT_EXITING;
  let exitCtl = v.read(F.VM_EXIT_CONTROLS);
  if (chance(next, 50)) exitCtl |= EXIT.ACKNOWLEDGE_INTERRUPT_ON_EXIT;
  if ((pin & PIN.ACTIVATE_VMX_PREEMPTION_TIMER) && chance(next, 50)) exitCtl |= EXIT.SAVE_VMX_PREEMPTION_TIMER_VALUE;
  const excBitmap = chance(next, 50) ? 0 : 0xffffffff;
  const c: Config = { long, ept, pin, proc, proc2, exitCtl, excBitmap, pit };

  v.write(F.PIN_BASED_VM_EXECUTION_CONTROLS, pin);
  v.write(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, proc);
  v.write(F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, proc2);
  v.write(F.VM_EXIT_CONTROLS, exitCtl);
  v.write(F.EXCEPTION_BITMAP, excBitmap);
  v.write(F.PAGE_FAULT_ERROR_CODE_MASK, 0); v.write(F.PAGE_FAULT_ERROR_CODE_MATCH, 0);
  v.write(F.VIRTUAL_PROCESSOR_IDENTIFIER, 1 + (next() & 0xff));
  v.write(F.VMX_PREEMPTION_TIMER_VALUE, next() % 3000);
  v.write(F.TSC_OFFSET, next(), next());
  v.write(F.PLE_GAP, next() % 200); v.write(F.PLE_WINDOW, next() % 2000);
  if (ept) { const e = identityEpt(m); v.write(F.EPT_POINTER, e.lo, e.hi); }
  // bitmaps: random bits (a density per program)
  const density = [1, 8, 50, 92][next() & 3];
  const randomBits = (at: number, bytes: number) => {
    for (let i = 0; i < bytes; i++) {
      let x = 0;
      for (let k = 0; k < 8; k++) if (next() % 100 < density) x |= 1 << k;
      m.bus.write8(at + i, x);
    }
  };
  randomBits(MSR_BITMAPS, 4096); randomBits(IO_A, 4096); randomBits(IO_B, 4096);
  v.write(F.ADDRESS_OF_MSR_BITMAPS, MSR_BITMAPS); v.write(F.ADDRESS_OF_IO_BITMAP_A, IO_A); v.write(F.ADDRESS_OF_IO_BITMAP_B, IO_B);
  // CR0/CR4 guest/host masks and read shadows
  const cr0Bits = [0x1, 0x2, 0x4, 0x8, 0x20, 0x10000, 0x40000, 0x20000000, 0x40000000, 0x80000000];
  const cr4Bits = [0x1, 0x4, 0x8, 0x10, 0x20, 0x80, 0x100, 0x200, 0x400, 0x2000, 0x100000, 0x200000];
  let cr0Mask = 0, cr4Mask = 0;
  if (chance(next, 50)) for (const b of cr0Bits) if (chance(next, 40)) cr0Mask |= b;
  if (chance(next, 50)) for (const b of cr4Bits) if (chance(next, 40)) cr4Mask |= b;
  v.write(F.CR0_GUEST_HOST_MASK, cr0Mask >>> 0); v.write(F.CR4_GUEST_HOST_MASK, cr4Mask >>> 0);
  v.write(F.CR0_READ_SHADOW, chance(next, 50) ? v.read(F.GUEST_CR0) : next());
  v.write(F.CR4_READ_SHADOW, chance(next, 50) ? v.read(F.GUEST_CR4) & ~0x2000 : next());

  // ---- the guest: registers into scratch memory, then random code; a handler per vector that does VMCALL
  let pro = '';
  for (let r = 0; r < 8; r++) pro += r === 4 ? `bc${le32(GUEST_STACK)}` : `${(0xb8 + r).toString(16)}${le32(SCRATCH + (next() & 0x1fff8))}`;
  if (long) for (let r = 0; r < 8; r++) pro += `41${(0xb8 + r).toString(16)}${le32(SCRATCH + (next() & 0x1fff8))}`;
  m.bus.writeBytes(GUEST_CODE, hex(pro));
  const codeStart = GUEST_CODE + pro.length / 2;
  // random bytes, or (35%) a loop of instructions drawn from a vocabulary of exiting and system
  // instructions, so blocks get hot and VM exits are thrown from compiled blocks too (jit.ts)
  m.bus.writeBytes(codeStart, chance(next, 35) ? vocabularyLoop(next, codeStart, CODE_LEN) : randomCode(next, CODE_LEN));
  for (let vec = 0; vec < 256; vec++) {
    const at = GUEST_HANDLERS + 16 * vec;
    m.bus.writeBytes(at, hex(`b8${le32(vec)}0f01c1`));            // mov eax, vector; vmcall
    if (long) {
      const g = GUEST_IDT + vec * 16;
      m.bus.write32(g, (SEL.KCODE64 << 16) | (at & 0xffff)); m.bus.write32(g + 4, (at & 0xffff0000) | 0x8e00);
      m.bus.write32(g + 8, 0); m.bus.write32(g + 12, 0);
    } else {
      const g = IDT32 + vec * 8;
      m.bus.write32(g, (SEL.KCODE32 << 16) | (at & 0xffff)); m.bus.write32(g + 4, (at & 0xffff0000) | 0x8e00);
    }
  }
  if (!long) {
    // 32-bit protected mode, paging off, unrestricted guest (valid-vmcs.ts protUnrestricted adapted to the test machine)
    v.write(F.VM_ENTRY_CONTROLS, v.read(F.VM_ENTRY_CONTROLS) & ~ENTRY.IA32E_MODE_GUEST);
    v.write(F.GUEST_CR0, 0x31); v.write(F.GUEST_CR3, 0); v.write(F.GUEST_CR4, 0x2000); v.write(F.GUEST_IA32_EFER, 0);
    const seg = (n: string, sel: number, base: number, limit: number, ar: number) => {
      const f = F as unknown as Record<string, number>;
      v.write(f[`GUEST_${n}_SELECTOR`], sel); v.write(f[`GUEST_${n}_BASE`], base);
      v.write(f[`GUEST_${n}_LIMIT`], limit); v.write(f[`GUEST_${n}_ACCESS_RIGHTS`], ar);
    };
    seg('CS', SEL.KCODE32, 0, 0xffffffff, 0xc09b);
    for (const s of ['SS', 'DS', 'ES', 'FS', 'GS']) seg(s, SEL.KDATA, 0, 0xffffffff, 0xc093);
    seg('TR', SEL.TSS, TSS, TSS_LIMIT, 0x8b);
    v.write(F.GUEST_GDTR_BASE, GDT); v.write(F.GUEST_GDTR_LIMIT, GDT_LIMIT);
    v.write(F.GUEST_IDTR_BASE, IDT32); v.write(F.GUEST_IDTR_LIMIT, 0x7ff);
  }

  // ---- a PIT interrupt through the PIC (vector base 0x20), as a PC would have it
  let pic: Pic8259Pair | null = null;
  if (pit) {
    const p = new Pic8259Pair();
    p.register(m.io);
    const t = new Pit8254({ clock: cpu.clock, irq: (l, lv) => { p.setIrq(l, lv); cpu.intCheck = true; }, biosInit: false });
    t.register(m.io);
    cpu.intc = p;
    for (const [port, val] of [[0x20, 0x11], [0x21, 0x20], [0x21, 0x04], [0x21, 0x01], [0x21, 0xfe]]) m.io.write(port, 1, val);
    const count = 50 + next() % 3000;
    m.io.write(0x43, 1, 0x34); m.io.write(0x40, 1, count & 0xff); m.io.write(0x40, 1, count >>> 8);
    pic = p;
  }
  const eoi = () => { if (pic) m.io.write(0x20, 1, 0x20); };

  // ---- exits as they happen: host state loaded, reason possible, instruction length
  let allowed = possibleReasons(c, cr0Mask, cr4Mask);
  let exits = 0;
  const hostCr3 = v.read(F.HOST_CR3), hostCs = v.read(F.HOST_CS_SELECTOR), hostRip = v.read(F.HOST_RIP);
  const hook = (kind: 'entry' | 'exit', reason: number) => {
    if (kind === 'entry') return;
    exits++;
    const basic = reason & 0xffff;
    t.exits.set(reason >>> 0, (t.exits.get(reason >>> 0) ?? 0) + 1);
    const bad = (s: string) => t.problems.push(where(`exit ${exits} (reason ${reason >>> 0}): ${s}`));
    if (cpu.vmx!.nonRoot) bad('still in non-root operation');
    if (cpu.rip !== hostRip) bad(`RIP 0x${cpu.rip.toString(16)} is not HOST_RIP`);
    if ((cpu.cr3 >>> 0) !== hostCr3) bad(`CR3 0x${(cpu.cr3 >>> 0).toString(16)} is not HOST_CR3`);
    if (cpu.segSel[CS] !== hostCs) bad(`CS 0x${cpu.segSel[CS].toString(16)} is not HOST_CS_SELECTOR`);
    if (cpu.getFlags() !== 2) bad(`RFLAGS 0x${cpu.getFlags().toString(16)} is not 2`);
    if (cpu.mode !== MODE_LONG) bad('host is not in 64-bit mode');
    if (reason & 0x80000000) return; // a VM-entry failure: reported by the loop
    if ((reason >>> 16) !== 0) bad('bits 31:16 of the exit reason are not 0');
    if (!allowed.has(basic)) bad(`basic reason ${basic} is not possible in this configuration (${JSON.stringify(c)})`);
    const cur = cpu.vmx!.current!;
    const intInfo = cur.read(F.VM_EXIT_INTERRUPTION_INFORMATION);
    const softExc = basic === 0 && (intInfo >>> 31) === 1 && ((intInfo >>> 8) & 7) === 6;
    if (INSTRUCTION_EXIT.has(basic) || softExc) {
      const len = cur.read(F.VM_EXIT_INSTRUCTION_LENGTH);
      if (len < 1 || len > 15) bad(`VM-exit instruction length ${len}`);
    }
  };

  // VMXON keeps an existing VmxState: install the observer before the stub runs
  cpu.vmx = new VmxState();
  cpu.vmx.onTransition = hook;
  let entryLog = '';
  cpu.vmx.log = line => { entryLog += line + '\n'; };
  hv.launch(STEPS);
  if (exits === 0 && !cpu.vmx.nonRoot) t.problems.push(where(`VMLAUNCH of the configured VMCS failed: ${cpu.stop?.message} ${entryLog}`));

  // guest-state fields (encoding bits 11:10 = 2) and the VM-entry controls as launched
  const initialGuest = [...v.m].filter(([enc]) => ((enc >>> 10) & 3) === 2 || enc === F.VM_ENTRY_CONTROLS);
  const vmresume = hex(VMRESUME + HLT);
  const invept = hex(`48b8${le64(INVEPT_DESC)}b902000000660f388008` + VMRESUME + HLT); // mov rax, desc; mov ecx, 2; invept rcx, [rax]
  const start = cpu.clock.icount;
  let end = 'budget';
  for (;;) {
    const stop = cpu.stop;
    if (stop && stop.reason === 'internal') { t.problems.push(where(stop.message)); end = 'internal'; break; }
    const v2 = cpu.vmx!;
    const atHost = !v2.nonRoot && (cpu.rip === hostRip || cpu.rip === hostRip + 1);
    if (!atHost) {
      if (v2.nonRoot && stop === null) { /* the slice ended inside the guest: go on */ }
      else {
        end = stop ? `${v2.nonRoot ? 'guest' : 'host'} ${stop.reason}` : 'host elsewhere';
        if (!v2.nonRoot && entryLog !== '') t.problems.push(where(`VMRESUME failed: ${entryLog}`));
        break;
      }
    }
    if (cpu.clock.icount - start >= STEPS || exits >= MAX_EXITS) break;
    if (atHost) {
      const cur = v2.current!;
      const reason = cur.read(F.VM_EXIT_REASON);
      // the test resumes the state the exit saved (with a hypervisor's edits): a VM-entry failure is a finding
      if (reason & 0x80000000) { end = `entry failure ${reason & 0xffff}`; t.problems.push(where(`VMRESUME: ${entryLog}`)); break; }
      const basic = reason & 0xffff;
      const rip = cur.read64n(F.GUEST_RIP);
      const intInfo = cur.read(F.VM_EXIT_INTERRUPTION_INFORMATION);
      const vectoring = cur.read(F.IDT_VECTORING_INFORMATION_FIELD) >>> 31 === 1;
      const len = cur.read(F.VM_EXIT_INSTRUCTION_LENGTH);
      // Skipping an instruction ends blocking by STI / MOV SS, as a hypervisor's "skip the emulated
      // instruction" does (KVM's skip_emulated_instruction); leaving it would make the entry check on
      // TF + blocking vs pending-debug BS fail after a #DB exit ("Checks on Guest Non-Register State").
      const setRip = (x: number) => {
        const is64 = (cur.read(F.VM_ENTRY_CONTROLS) & ENTRY.IA32E_MODE_GUEST) !== 0 && (cur.read(F.GUEST_CS_ACCESS_RIGHTS) & 0x2000) !== 0;
        const n = is64 ? x : x >>> 0;
        cur.write(F.GUEST_RIP, n >>> 0, Math.floor(n / 4294967296) >>> 0);
        cur.write(F.GUEST_INTERRUPTIBILITY_STATE, cur.read(F.GUEST_INTERRUPTIBILITY_STATE) & ~3);
      };
      // Restart the vCPU somewhere in its code: the guest state of the launch (the guest may have gone
      // to virtual-8086 or real mode, changed CR0/CR4, GDTR, ...), a random RIP.
      const relocate = () => {
        for (const [enc, [lo, hi]] of initialGuest) cur.write(enc, lo, hi);
        setRip(codeStart + next() % CODE_LEN);
        eoi();
      };
      if (process.env.VMXRAY_FUZZ_SEED) console.log(`exit ${reason} rip ${rip.toString(16)} len ${len} int ${intInfo.toString(16)} vect ${vectoring} qual ${cur.read(F.EXIT_QUALIFICATION).toString(16)} rfl ${cur.read(F.GUEST_RFLAGS).toString(16)} intr ${cur.read(F.GUEST_INTERRUPTIBILITY_STATE)} act ${cur.read(F.GUEST_ACTIVITY_STATE)} cr0 ${cur.read(F.GUEST_CR0).toString(16)}`);
      const inHandlers = rip >= GUEST_HANDLERS && rip < GUEST_HANDLERS + 16 * 256;
      let code = vmresume;
      if (basic === 18 && inHandlers) relocate();
      else if (basic === 2 || basic === 9 && (cur.read(F.EXIT_QUALIFICATION) >>> 30) === 3) relocate();
      else if (basic === 49) {
        // EPT misconfiguration: the guest wrote the EPT tables; rebuild them and INVEPT (all contexts)
        identityEpt(m); code = invept; relocate();
      } else if (basic === 48) {
        if (vectoring || (cur.read(F.EXIT_QUALIFICATION) & 4)) relocate(); else setRip(rip + 1);
      } else if (basic === 0) {
        const type = (intInfo >>> 8) & 7;
        if (vectoring) relocate();
        else if (type === 6 || type === 4 || type === 5) setRip(rip + len);
        else setRip(rip + 1);
      } else if (INSTRUCTION_EXIT.has(basic) || basic === 9) setRip(rip + len);
      else if (basic === 1) {
        if (!(intInfo >>> 31) && pic) pic.ackIntr();
        eoi();
      } else if (basic === 7) {
        // interrupt window open: inject an external interrupt (valid now: IF = 1, no blocking) and stop asking
        cur.write(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, cur.read(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) & ~PROC.INTERRUPT_WINDOW_EXITING);
        if (chance(next, 50)) cur.write(F.VM_ENTRY_INTERRUPTION_INFORMATION_FIELD, 0x80000000 | (0x20 + next() % 0xe0));
      } else if (basic === 52) cur.write(F.VMX_PREEMPTION_TIMER_VALUE, 1 + next() % 2000);
      else if (basic === 37) { if (chance(next, 5)) cur.write(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, cur.read(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) & ~PROC.MONITOR_TRAP_FLAG); }
      // a guest in HLT/shutdown after a non-HLT exit: wake it (a hypervisor would)
      if (cur.read(F.GUEST_ACTIVITY_STATE) >= 2) relocate();
      // re-arm the interrupt window now and then
      if (chance(next, 3) && (proc & PROC.INTERRUPT_WINDOW_EXITING)) cur.write(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, cur.read(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | PROC.INTERRUPT_WINDOW_EXITING);
      allowed = possibleReasons({ ...c, proc: cur.read(F.PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | proc }, cr0Mask, cr4Mask);
      // the guest may have overwritten the host's code: put it back
      m.bus.writeBytes(HOST_RIP, hex(HLT));
      m.bus.writeBytes(HOST_MORE, code);
      m.bus.write32(INVEPT_DESC, v.read(F.EPT_POINTER)); m.bus.write32(INVEPT_DESC + 4, 0);
      cpu.rip = HOST_MORE; cpu.nip = HOST_MORE;
    }
    cpu.stop = null; cpu.halted = false;
    m.exec.run(cpu.clock.icount + 2_000);
  }
  t.programs++;
  t.guestInsns += cpu.clock.icount - start;
  t.ends.set(end, (t.ends.get(end) ?? 0) + 1);
  if (process.env.VMXRAY_FUZZ_SEED) {
    const r = (a: number) => m.bus.read32(a).toString(16);
    console.log(end, cpu.stop?.message, JSON.stringify(c), 'pml4', r(PML4), 'pdpt', r(PML4 + 0x1000), 'pd', r(PML4 + 0x2000), 'pte', r(PML4 + 0x3000 + 0x181 * 8), r(PML4 + 0x3000 + 0x180 * 8), 'cr3', cpu.cr3.toString(16), 'exits', exits, 'last', cpu.vmx!.current!.read(F.VM_EXIT_REASON));
  }
  if (!t.example.has(end)) t.example.set(end, `seed ${seed}: ${cpu.stop?.message ?? ''}`);
}

const le32 = (n: number): string => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b.toString('hex'); };
const le64 = (lo: number, hi = 0): string => le32(lo) + le32(hi);

const CHUNK = 20;
const chunks = Array.from({ length: Math.ceil(N / CHUNK) }, (_, i) => [i * CHUNK, Math.min(N, (i + 1) * CHUNK)] as const);

describe('random code in VMX non-root operation never breaks the emulator', () => {
  if (process.env.VMXRAY_FUZZ_SEED) it('one seed', () => {
    const t: Tally = { example: new Map(), programs: 0, exits: new Map(), ends: new Map(), guestInsns: 0, problems: [] };
    runProgram(Number(process.env.VMXRAY_FUZZ_SEED), t);
    console.log(t.problems);
  });
  else for (const [from, to] of chunks) it(`guest programs ${from}–${to - 1}: only possible exit reasons, instruction lengths 1..15, host state loaded, no internal stop`, () => {
    const t: Tally = { example: new Map(), programs: 0, exits: new Map(), ends: new Map(), guestInsns: 0, problems: [] };
    for (let k = from; k < to; k++) runProgram(7919 * (k + 1), t);
    if (process.env.VMXRAY_FUZZ_REPORT) {
      console.log(`programs ${t.programs}, instructions ${t.guestInsns}, exits ${[...t.exits].sort((a, b) => a[0] - b[0]).map(([r, n]) => `${r}:${n}`).join(' ')}, ends ${[...t.ends].map(([r, n]) => `${r}:${n}`).join(' ')}`);
      for (const [k, e] of t.example) console.log(`  ${k}: ${e}`);
    }
    expect(t.problems.slice(0, 10)).toEqual([]);
    expect(t.exits.size).toBeGreaterThan(3); // the programs really do exit for different reasons
  }, 120_000);
});
