import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine } from '../../src/machine/index.js';
import { openDisk } from '../../src/disk/index.js';
import { cpuid } from '../../src/cpu/cpuid.js';
import { runUntil } from '../machine/helpers/run-until.js';

/**
 * The course's target scenario in small: a hypervisor boots a real multiboot kernel as its VMX
 * guest. test/kernels/vmx/passthrough (prebuilt: vmx/bin/passthrough.elf, loaded at 24 MiB) takes
 * the guest kernel from multiboot module 0, loads it into guest-physical 0-16 MiB (EPT 1:1),
 * builds its multiboot information and starts it as a multiboot loader would (unrestricted guest,
 * 32-bit protected mode, paging off). Port I/O, MSRs, external interrupts and HLT pass through;
 * CPUID exits and is emulated with VMX hidden; any other exit prints `[hv] error: ...` and stops.
 * The guest is examples/minikernel: it switches to IA-32e mode by itself, programs the PIC/PIT,
 * and its shell is driven through the PS/2 keyboard, as in test/machine/minikernel.test.ts.
 */
const HERE = dirname(fileURLToPath(import.meta.url));
const HV = join(HERE, 'vmx', 'bin', 'passthrough.elf');
const CRGUEST = join(HERE, 'vmx', 'bin', 'passthrough-crguest.elf');
const MINI = join(HERE, '../../examples/minikernel');
const EXIT_REASON_CPUID = 10;


interface CpuidSeen { leaf: number; sub: number; regs: number[]; native: number[] }

interface Session {
  m: Machine;
  /** Bytes written to port 0xE9 while the CPU was in VMX non-root / root operation. */
  guestBytes: string;
  hostBytes: string;
  /** CPUID exits: the leaf asked and the registers the guest got back at the next VM entry. */
  cpuids: CpuidSeen[];
  exitReasons: number[];
  exitCode?: number;
  reason: string;
}

const haveImages = existsSync(HV) && existsSync(join(MINI, 'minikernel.elf'));

describe.skipIf(!haveImages)('pass-through hypervisor boots the minikernel as a VMX guest', () => {
  let s: Session;
  beforeAll(() => {
    let guestBytes = '', hostBytes = '';
    let m: Machine | undefined;
    const disk = openDisk(join(MINI, 'disk.img'), { format: 'raw' });
    m = new Machine({
      memory: 32 * 1024 * 1024, disks: [disk],
      onDebugOutput: (b) => { if (m!.cpu.vmx?.nonRoot) guestBytes += String.fromCharCode(b); else hostBytes += String.fromCharCode(b); },
    });
    m.boot(readFileSync(HV), {
      cmdline: 'passthrough.elf',
      modules: [{ data: readFileSync(join(MINI, 'minikernel.elf')), cmdline: 'minikernel.elf', name: 'minikernel.elf' }],
    });
    const mm = m;
    const v = mm.cpu.vmx!;
    const cpuids: CpuidSeen[] = [];
    const exitReasons: number[] = [];
    let pending: { leaf: number; sub: number } | null = null;
    const prev = v.onTransition;
    v.onTransition = (kind, reason) => {
      prev?.(kind, reason);
      const c = mm.cpu;
      if (kind === 'exit') {
        exitReasons.push(reason);
        // a VM exit leaves the guest's GPRs in the registers: EAX/ECX are the leaf and subleaf asked
        pending = (reason & 0xffff) === EXIT_REASON_CPUID ? { leaf: c.getReg(0, 4) >>> 0, sub: c.getReg(1, 4) >>> 0 } : null;
      } else if (pending) {
        // VM entry after the CPUID exit: the hypervisor's answer is in EAX, EBX, ECX, EDX
        cpuids.push({ ...pending, regs: [0, 3, 1, 2].map((r) => c.getReg(r, 4) >>> 0), native: cpuid(c, pending.leaf, pending.sub) });
        pending = null;
      }
    };

    let pos = runUntil(mm, 'mini> ', 0);
    const type = (line: string) => { mm.kbc.typeText(line + '\n'); };
    for (const cmd of ['echo Hello from a VMX guest', 'ticks', 'cpuid', 'read 1', 'mem']) {
      type(cmd);
      pos = runUntil(mm, 'mini> ', pos);
    }
    type('exit 5');
    runUntil(mm, 'exit 5', pos);
    const r = mm.runFor(10_000_000);
    s = { m: mm, guestBytes, hostBytes, cpuids, exitReasons, exitCode: r.exitCode, reason: r.reason };
  }, 120_000);

  const log = () => `--- log:\n${s.m.debugLog.slice(-4000)}`;

  it('the hypervisor loads the minikernel and launches it; no [hv] error line appears', () => {
    expect(s.hostBytes, log()).toContain('[hv] guest minikernel.elf: ELF32, 2 segments up to 0x10e440, entry 0x100010');
    expect(s.m.debugLog, log()).not.toContain('[hv] error');
    expect(s.m.debugLog.split('\n').filter((l) => l.startsWith('FAIL')), log()).toEqual([]);
  });

  it('the guest boots to its shell in VMX non-root operation: every byte it prints is written in non-root', () => {
    expect(s.guestBytes, log()).toContain('minikernel booting\n');
    expect(s.guestBytes).toContain('type \'help\' for commands\nmini> ');
    // nothing the guest printed leaked into what was written in root operation
    expect(s.hostBytes).not.toContain('minikernel booting');
    expect(s.hostBytes).not.toContain('mini>');
    expect(s.m.cpu.vmx!.transitions).toBeGreaterThan(0);
  });

  it('the guest sees the multiboot information the hypervisor built: 640 KiB lower, 15360 KiB (1-16 MiB) upper', () => {
    expect(s.guestBytes, log()).toContain('memory: 640 KiB lower, 15360 KiB upper');
    // `mem` prints the memory map: the two available ranges and the reserved BIOS area
    expect(s.guestBytes).toContain([
      'lower memory 640 KiB, upper memory 15360 KiB',
      '  0000000000000000-000000000009ffff usable',
      '  00000000000e0000-00000000000fffff reserved',
      '  0000000000100000-0000000000ffffff usable',
    ].join('\n'));
  });

  it('typed commands work: echo, ticks (PIT interrupts reach the guest without VM exits), disk read', () => {
    expect(s.guestBytes, log()).toContain('mini> echo Hello from a VMX guest\nHello from a VMX guest\n');
    const ticks = /ticks: (\d+)/.exec(s.guestBytes);
    expect(ticks, log()).not.toBeNull();
    expect(Number(ticks![1])).toBeGreaterThan(0);
    expect(s.guestBytes).toContain('text: hello from the disk');
    expect(s.guestBytes).toMatch(/disk: ata0 master .* 2048 sectors/);
    // interrupts were delivered through the guest IDT: no external-interrupt (1) or HLT (12) exits
    expect(s.exitReasons.filter((r) => (r & 0xffff) === 1 || (r & 0xffff) === 12)).toEqual([]);
  });

  it('CPUID exits and is answered by the hypervisor with the processor\'s values, CPUID.1:ECX.VMX[5] cleared', () => {
    expect(s.exitReasons.length).toBeGreaterThan(0);
    expect(s.exitReasons.every((r) => r === EXIT_REASON_CPUID), `exit reasons ${s.exitReasons}`).toBe(true);
    const leaf1 = s.cpuids.filter((c) => c.leaf === 1);
    expect(leaf1.length, 'the `cpuid` command asks leaf 1').toBeGreaterThan(0);
    for (const c of leaf1) {
      expect(c.native[2] & (1 << 5), 'vmxray reports VMX to the hypervisor').not.toBe(0);
      expect(c.regs[2] & (1 << 5), 'the guest must not see VMX').toBe(0);
      // everything else as the processor reports it (OSXSAVE[27] follows the guest's CR4)
      expect(c.regs[2] & ~((1 << 5) | (1 << 27))).toBe(c.native[2] & ~((1 << 5) | (1 << 27)));
      expect([c.regs[0], c.regs[1], c.regs[3]]).toEqual([c.native[0], c.native[1], c.native[3]]);
    }
    const other = s.cpuids.filter((c) => c.leaf !== 1);
    expect(other.length).toBeGreaterThan(0);
    for (const c of other) expect(c.regs, `leaf 0x${c.leaf.toString(16)}`).toEqual(c.native);
    expect(s.guestBytes).toMatch(/vendor: \S+, family \d+/);
  });

  it('the guest\'s `exit 5` reaches isa-debug-exit through the pass-through I/O (status 11)', () => {
    expect(s.reason, log()).toBe('exit');
    expect(s.exitCode).toBe(11);
  });
});

/** The hypervisor with crguest (test/kernels/vmx/passthrough/crguest.S) as its guest. */
function runCrguest(cmdline: string): { log: string; reason: string; exitCode?: number; exits: number[] } {
  const m = new Machine({ memory: 32 * 1024 * 1024 });
  m.boot(readFileSync(HV), { cmdline: 'passthrough.elf', modules: [{ data: readFileSync(CRGUEST), cmdline, name: 'crguest' }] });
  const exits: number[] = [];
  const v = m.cpu.vmx!;
  const prev = v.onTransition;
  v.onTransition = (kind, reason) => { prev?.(kind, reason); if (kind === 'exit') exits.push(reason); };
  const r = m.runFor(20_000_000);
  return { log: m.debugLog, reason: r.reason, exitCode: r.exitCode, exits };
}

describe.skipIf(!existsSync(HV) || !existsSync(CRGUEST))('pass-through hypervisor: the exits a plain multiboot guest rarely causes', () => {
  it('MOV to CR0/CR4 that change CR0.NE / CR4.VMXE exit and are emulated: read shadows follow, VMXE gets #GP, PG with EFER.LME enters IA-32e mode; VMCALL continues', () => {
    const r = runCrguest('crguest');
    const ctx = `--- log:\n${r.log}`;
    for (const step of ['cpuid-vmx-hidden', 'cr0-ne-emulated', 'cr4-vmxe-gp', 'ia32e-by-emulated-cr0', 'vmcall-continues']) {
      expect(r.log, ctx).toContain(`crguest: ${step} ok`);
    }
    expect(r.log).not.toContain('FAIL');
    expect(r.log).not.toContain('[hv] error');
    expect(r.log).toMatch(/\[hv\] VMCALL from the guest at RIP 0x[0-9a-f]+: RAX 0x1234 /);
    // CR-access exits (28): NE set, NE cleared, VMXE set, PG|NE; CPUID (10); VMCALL (18)
    expect(r.exits.filter((e) => e === 28).length).toBe(4);
    expect(r.exits).toContain(10);
    expect(r.exits).toContain(18);
    expect(r.reason).toBe('exit');
    expect(r.exitCode).toBe((0x21 << 1) | 1);
  });

  it('a guest access above 16 MiB (the hypervisor\'s memory, not in EPT) stops the machine with an [hv] error line naming the EPT violation', () => {
    const r = runCrguest('crguest !touch16m');
    expect(r.log, r.log).toMatch(/\n\[hv\] error: unexpected VM exit: exit reason 48 \(EPT violation\), qualification 0x182, guest RIP 0x[0-9a-f]+ \(CS 0x8\), guest-physical 0x1000000, guest-linear 0x1000000/);
    expect(r.reason).toBe('exit');
    expect(r.exitCode).toBe((0x7f << 1) | 1);
  });
});
