import { Ram, PhysBus, PortBus } from '../memory/index.js';
import { VirtualClock } from './clock.js';
import { CPU } from '../cpu/cpu.js';
import { CpuFault, MachineStop } from '../cpu/fault.js';
import { GP } from '../cpu/regs.js';
import { Executor } from '../cpu/exec.js';
import { loadKernel, type BootOptions, type EntryState } from '../boot/index.js';
import { applyEntryState } from './entry.js';
import { Pic8259Pair } from '../devices/pic8259.js';
import { Pit8254 } from '../devices/pit8254.js';
import { Cmos } from '../devices/cmos.js';
import { I8042 } from '../devices/i8042.js';
import { VgaText } from '../devices/vga.js';
import { Uart16550, COM1, COM2, COM3, COM4 } from '../devices/uart16550.js';
import { AtaController } from '../devices/ata.js';
import { LocalApic } from '../devices/lapic.js';
import { IoApic } from '../devices/ioapic.js';
import { createPciBus, type PciBus } from '../devices/pci.js';
import { buildAcpiTables, AcpiPm } from '../devices/acpi.js';
import { FwCfg } from '../devices/fwcfg.js';
import { IA32_APIC_BASE } from '../cpu/msr.js';
import { setFeatureControl } from '../vmx/caps.js';
import { VmxState } from '../vmx/state.js';
import type { BlockDevice } from '../disk/index.js';
import { PostPort, DebugConsolePort, DebugExitPort, SystemControlPortA } from '../devices/simple-ports.js';

/**
 * The PC: RAM, buses, virtual clock, one CPU, and the legacy devices SWEB and our examples use.
 * The composition root for devices; the CLI composes a Machine with disks and consoles.
 */
export interface MachineConfig {
  /** RAM in bytes (default 32 MiB). */
  memory?: number;
  /** Instructions per virtual second (default 50 M). */
  ips?: number;
  /** The start date the RTC shows, ms since the epoch (an input of the run; default 2026-01-01). */
  startDate?: number;
  /** Port 0xE9 output. */
  onDebugOutput?: (byte: number) => void;
  /** COM1 output. */
  onSerialOutput?: (byte: number) => void;
  /** Output of COM1..COM4 by index (0 = COM1; overrides onSerialOutput for COM1). */
  serialOutputs?: (((byte: number) => void) | undefined)[];
  /** IDE disks by index: 0 primary master, 1 primary slave, 2 secondary master, 3 secondary slave. */
  disks?: (BlockDevice | null | undefined)[];
  /** Byte value read from physical addresses with no RAM or device (default 0x00, as QEMU; see PhysBus.unassigned). */
  unassignedMemory?: number;
  /** A disk I/O error the guest sees as an ATA error (message for the console). */
  onDiskError?: (message: string) => void;
  /**
   * IA32_FEATURE_CONTROL as firmware leaves it: 'locked' (default: locked with VMX outside SMX
   * enabled) or 'unlocked' (0, so a hypervisor that forgets to check and set it can be tested).
   */
  featureControl?: 'locked' | 'unlocked';
  /**
   * Failed VM entries: the console line sink (the CLI prints it), whether every failing rule is
   * listed ('all') or only the one that decided the outcome ('first', default), and whether the
   * machine stops at the first failure (reason 'vmentry-failure').
   */
  vmx?: { log?: (line: string) => void; explain?: 'first' | 'all'; stopOnEntryFailure?: boolean };
}

export type StopReason = 'exit' | 'triple-fault' | 'halted' | 'idle' | 'unsupported' | 'internal' | 'max-instructions' | 'timeout' | 'reset' | 'paused' | 'vmentry-failure' | 'vmx-abort';

export interface RunResult {
  reason: StopReason;
  message: string;
  /** For 'exit': the isa-debug-exit code ((value << 1) | 1). */
  exitCode?: number;
  instructions: number;
}

export class Machine {
  readonly ram: Ram;
  readonly bus: PhysBus;
  readonly io = new PortBus();
  readonly clock: VirtualClock;
  readonly cpu: CPU;
  readonly exec: Executor;
  readonly pic = new Pic8259Pair();
  readonly pit: Pit8254;
  readonly cmos: Cmos;
  readonly kbc: I8042;
  readonly vga: VgaText;
  readonly com1: Uart16550;
  /** COM1..COM4 (0x3F8/IRQ4, 0x2F8/IRQ3, 0x3E8/IRQ4, 0x2E8/IRQ3). */
  readonly serial: Uart16550[];
  readonly post = new PostPort();
  readonly debugcon: DebugConsolePort;
  readonly debugExit: DebugExitPort;
  readonly sysctl: SystemControlPortA;
  readonly ide: AtaController;
  readonly lapic: LocalApic;
  readonly ioapic: IoApic;
  readonly pci: PciBus;
  readonly acpiPm: AcpiPm;
  readonly fwcfg: FwCfg;
  /** Everything written to port 0xE9 so far (tests read it). */
  debugLog = '';
  exitCode: number | undefined;
  entry: EntryState | null = null;
  /** The VMX state with its observers, re-installed after a CPU reset (boot). */
  private readonly vmxAtPowerOn: VmxState;

  constructor(cfg: MachineConfig = {}) {
    this.ram = new Ram(cfg.memory ?? 32 * 1024 * 1024);
    this.bus = new PhysBus(this.ram);
    if (cfg.unassignedMemory !== undefined) this.bus.unassigned = cfg.unassignedMemory & 0xff;
    this.clock = new VirtualClock(cfg.ips ?? 50_000_000, cfg.startDate ?? Date.UTC(2026, 0, 1));
    this.cpu = new CPU(this.bus, this.io, this.clock);
    this.exec = new Executor(this.cpu);
    // devices see the exact instruction count of the access (not the count at the block start)
    this.io.beforeAccess = () => this.cpu.syncClock();
    this.bus.beforeMmio = () => this.cpu.syncClock();
    // Interrupt routing as on a PC with an IOAPIC (and as the MADT says): ISA IRQ n goes to the
    // 8259 pair and to IOAPIC pin n, except IRQ0 which is pin 2. The CPU's controller is the local
    // APIC; its LINT0 starts in ExtINT mode, passing the 8259 through (virtual wire).
    this.lapic = new LocalApic({ clock: this.clock, onNmi: () => { this.cpu.nmiPending = true; }, onEoi: v => this.ioapic.eoi(v) });
    this.ioapic = new IoApic({ lapic: this.lapic });
    this.lapic.setExtInt(this.pic);
    this.cpu.intc = this.lapic;
    if (cfg.featureControl === 'unlocked') setFeatureControl(this.cpu.msr, { locked: false });
    // The VMX state exists from power-on (VMXON keeps it), so observers of failed VM entries can
    // subscribe before the hypervisor starts (src/debug, traces, the CLI).
    const vmx = this.vmxAtPowerOn = this.cpu.vmx = new VmxState();
    vmx.log = cfg.vmx?.log ?? null;
    vmx.explainAll = cfg.vmx?.explain === 'all';
    if (cfg.vmx?.stopOnEntryFailure) vmx.onEntryFailure.push(ev => this.cpu.halt('vmentry-failure', `${ev.instruction.toUpperCase()} failed: ${ev.text}`));
    this.cpu.tpr = { get: () => this.lapic.tpr, set: v => { this.lapic.tpr = v; } };
    this.bus.addMmio('lapic', 0xfee00000, 0x1000, this.lapic);
    this.bus.addMmio('ioapic', 0xfec00000, 0x1000, this.ioapic);
    this.cpu.msr.register(IA32_APIC_BASE, {
      read: () => { const v = this.lapic.getApicBase(); return [v >>> 0, Math.floor(v / 2 ** 32) >>> 0]; },
      write: (_m, lo, hi) => { if (!this.lapic.setApicBase(hi * 2 ** 32 + lo)) throw new CpuFault(GP, 0); },
    });
    for (let m = 0x800; m <= 0x8ff; m++) {
      this.cpu.msr.register(m, {
        read: msr => { const v = this.lapic.readMsr(msr); if (!v) throw new CpuFault(GP, 0); return v; },
        write: (msr, lo, hi) => { if (!this.lapic.writeMsr(msr, lo, hi)) throw new CpuFault(GP, 0); },
      });
    }
    const irq = (line: number, level: boolean) => {
      this.cpu.intCheck = true;
      this.pic.setIrq(line, level);
      this.ioapic.setIrq(line === 0 ? 2 : line, level);
    };
    this.pit = new Pit8254({ clock: this.clock, irq });
    this.cmos = new Cmos({ clock: this.clock, irq, memory: { below4G: this.ram.size } });
    this.kbc = new I8042({ irq, onReset: () => this.requestReset('keyboard controller reset (0xFE)'), onA20: () => this.updateA20() });
    this.vga = new VgaText({ readBytes: (pa, len) => this.bus.readBytes(pa, len), clock: this.clock });
    this.serial = [COM1, COM2, COM3, COM4].map((c, i) =>
      new Uart16550({ ...c, irq, clock: this.clock, onTx: cfg.serialOutputs?.[i] ?? (i === 0 ? cfg.onSerialOutput : undefined) }));
    this.com1 = this.serial[0];
    const dbg = cfg.onDebugOutput;
    this.debugcon = new DebugConsolePort(b => { this.debugLog += String.fromCharCode(b); dbg?.(b); });
    this.debugExit = new DebugExitPort({ onExit: code => { this.exitCode = code; this.cpu.halt('exit', `the guest wrote to isa-debug-exit: exit code ${code}`); } });
    this.sysctl = new SystemControlPortA({ onReset: () => this.requestReset('fast reset through port 0x92'), onA20: () => this.updateA20() });
    const dk = cfg.disks ?? [];
    this.ide = new AtaController({
      irqLine: irq, onDiskError: cfg.onDiskError,
      primary: { master: dk[0] ?? null, slave: dk[1] ?? null }, secondary: { master: dk[2] ?? null, slave: dk[3] ?? null },
    });
    this.pci = createPciBus();
    this.acpiPm = new AcpiPm({ clock: this.clock, base: 0x600, onSleep: () => this.cpu.halt('exit', 'the guest entered ACPI sleep state (power off)') });
    this.fwcfg = new FwCfg({ ramSize: this.ram.size, cpus: 1, phys: this.bus });
    const acpi = buildAcpiTables({ base: 0xe0000, pmBase: 0x600 });
    this.bus.writeBytes(acpi.base, acpi.bytes);
    for (const d of [this.pci, this.acpiPm, this.fwcfg, this.ide, this.pic, this.pit, this.cmos, this.kbc, this.vga, ...this.serial, this.post, this.debugcon, this.debugExit, this.sysctl]) d.register(this.io);
  }

  /** A20 is open when either gate (port 0x92, the 8042 output port) opens it. */
  private updateA20(): void { this.cpu.setA20(this.sysctl.a20 || this.kbc.a20); }

  private requestReset(why: string): void { this.cpu.halt('reset', `the guest asked for a reset: ${why}`); }

  /** Load a multiboot kernel and put the CPU in the multiboot entry state. */
  boot(image: Uint8Array, opts: BootOptions = {}): EntryState {
    const e = loadKernel(this.bus, image, opts);
    applyEntryState(this.cpu, this.bus, e);
    if (this.cpu.vmx === null) this.cpu.vmx = this.vmxAtPowerOn; // (a CPU reset drops it; its observers stay)
    this.entry = e;
    return e;
  }

  /** Run synchronously for at most `maxInstructions` more instructions. */
  runFor(maxInstructions: number): RunResult {
    const start = this.clock.icount;
    this.exec.run(start + maxInstructions);
    return this.result(start, maxInstructions);
  }

  /**
   * Run until the guest stops, `maxInstructions` have retired, or `timeoutMs` of host time
   * passed; yields to the event loop between slices so input and the debugger are served.
   */
  async run(opts: { maxInstructions?: number; timeoutMs?: number; slice?: number; onSlice?: () => void; waitWhenIdle?: boolean } = {}): Promise<RunResult> {
    const start = this.clock.icount;
    const max = opts.maxInstructions ?? Infinity;
    const deadline = opts.timeoutMs ? Date.now() + opts.timeoutMs : Infinity;
    const slice = opts.slice ?? 2_000_000;
    while (!this.cpu.stop) {
      const until = Math.min(start + max, this.clock.icount + slice);
      this.exec.run(until);
      opts.onSlice?.();
      const stop = this.cpu.stop as MachineStop | null; // (exec.run changed it; the loop condition narrowed it to null)
      if (stop?.reason === 'idle' && opts.waitWhenIdle) {
        // halted with interrupts on and no timer: only external input can wake the guest, so wait
        // for it (virtual time does not move meanwhile) instead of ending the run
        this.cpu.stop = null;
        opts.onSlice?.(); // the caller may stop the run now (e.g. the user quits)
        if (this.cpu.stop) break;
        if (Date.now() > deadline) return { reason: 'timeout', message: `host timeout after ${opts.timeoutMs} ms`, instructions: this.clock.icount - start };
        await new Promise(r => setTimeout(r, 10));
        continue;
      }
      if (this.cpu.stop) break;
      if (this.clock.icount - start >= max) break;
      if (Date.now() > deadline) return { reason: 'timeout', message: `host timeout after ${opts.timeoutMs} ms`, instructions: this.clock.icount - start };
      await new Promise(r => setImmediate(r));
    }
    return this.result(start, max);
  }

  private result(start: number, max: number): RunResult {
    const n = this.clock.icount - start;
    const s = this.cpu.stop;
    if (!s) return { reason: n >= max ? 'max-instructions' : 'paused', message: `stopped after ${n} instructions`, instructions: n };
    return { reason: s.reason as StopReason, message: s.message, exitCode: this.exitCode, instructions: n };
  }
}
