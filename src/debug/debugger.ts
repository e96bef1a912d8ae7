import type { Machine } from '../machine/index.js';
import { ripLinear, type ExecDebug } from '../cpu/exec.js';
import type { CpuFault } from '../cpu/fault.js';
import { RootContext, type Context } from './context.js';
import { breakpointKey, fromCpuLinear } from './walk.js';
import { ExitHistory } from './vmx.js';

/**
 * The one debugging API (DESIGN.md: gdbstub/ and traces/ use src/debug only): stop, step and
 * resume the machine; breakpoints and watchpoints on linear addresses that never touch guest
 * memory; exceptions caught before delivery; contexts; stop events for subscribers.
 */
export type WatchKind = 'write' | 'read' | 'access';

export type StopEvent =
  | { kind: 'breakpoint'; context: number; address: bigint; hardware: boolean }
  | { kind: 'watchpoint'; context: number; address: bigint; watch: WatchKind }
  | { kind: 'step'; context: number }
  | { kind: 'interrupt'; context: number }
  | { kind: 'exception'; context: number; vector: number; errorCode: number; message: string }
  /** The machine cannot go on as it is (unsupported instruction, HLT with IF=0, internal error); state kept. */
  | { kind: 'machine'; context: number; reason: string; message: string }
  /** Triple fault / reset request: the state at the shutdown is kept; resuming ends the machine. */
  | { kind: 'shutdown'; context: number; reason: string; message: string }
  /** A VM exit or entry the user asked to stop at (`monitor vmx break …`): after it, in the new context. */
  | { kind: 'vmx-transition'; context: number; message: string }
  /** A VMLAUNCH/VMRESUME failed (the hypervisor sees VMfail or an entry-failure exit); `rule` names the check. */
  | { kind: 'vmentry-failure'; context: number; rule: string; message: string }
  /** The machine is gone: power off / isa-debug-exit (exitCode), or ended after a shutdown. */
  | { kind: 'exited'; context: number; exitCode: number | null; message: string }
  /** An instruction or host-time limit the runner was given. */
  | { kind: 'limit'; context: number; message: string };

export type Resume =
  | { kind: 'continue' }
  | { kind: 'step' }
  /** Step while RIP stays in [start, end) (gdb range stepping). */
  | { kind: 'range'; start: bigint; end: bigint };

interface Breakpoint { address: bigint; key: number; hardware: boolean; context: number }
interface Watchpoint { address: bigint; key: number; length: number; kind: WatchKind; context: number }

const SLICE = 1_000_000;

export class Debugger implements ExecDebug {
  // --- ExecDebug (read by the run loop) ---
  readonly breakAt = new Set<number>();
  readonly breakPages = new Set<number>();
  skip = NaN;
  noIrq = false;
  hitAt = NaN;
  pending: CpuFault | null = null;
  catches(vector: number): boolean { return this.caught.has(vector) && !this.passedVector(vector); }
  /** Vectors the client wants delivered without a stop even when caught (gdb's QPassSignals). */
  passedVector: (vector: number) => boolean = () => false;

  /** Exception vectors that stop the machine before delivery (`monitor catch exception`). */
  readonly caught = new Set<number>();
  /** Step with external interrupts and NMIs held back (as QEMU does); `monitor stepping irq on` clears it. */
  maskIrqWhileStepping = true;
  /** Memory requests address physical memory (`monitor phys on`). */
  physical = false;
  /**
   * Stop after an instruction whose VM entry failed (`monitor vmx stop-on-entry-failure`), while a
   * client is attached (`attached`, set by the server): the stop carries the failed rule's explanation.
   */
  stopOnEntryFailure = true;
  attached = false;
  private entryFailure: { rule: string; text: string } | null = null;
  /** Stop after VM exits with these basic reasons, or every one ('all'): `monitor vmx break exit`. */
  breakOnExit: Set<number> | 'all' | null = null;
  /** Stop after each successful VM entry, at the guest's first instruction: `monitor vmx break entry`. */
  breakOnEntry = false;
  private transitionText = '';

  private readonly bps = new Map<string, Breakpoint>();
  private readonly wps = new Map<string, Watchpoint>();
  private watchHit: Watchpoint | null = null;
  private interruptRequested = false;
  private running_ = false;
  private ended: StopEvent | null = null;
  private lastStop: StopEvent | null = null;
  private readonly listeners = new Set<(e: StopEvent) => void>();
  readonly root: RootContext;
  /** The most recent VM exits (`monitor vmx exits`). */
  readonly exits: ExitHistory;

  constructor(readonly machine: Machine) {
    this.root = new RootContext(machine);
    this.exits = new ExitHistory(machine);
    machine.exec.debug = this;
    const v = machine.cpu.vmx;
    if (v) {
      const prev = v.onTransition;
      v.onTransition = (kind, reason) => { prev?.(kind, reason); this.transition(kind, reason); };
    }
    // failed VM entries (src/vmx publishes them; the VMX state exists from power-on)
    machine.cpu.vmx?.onEntryFailure.push(ev => {
      if (!this.attached || !this.stopOnEntryFailure) return;
      this.entryFailure = { rule: ev.rule, text: `${ev.instruction.toUpperCase()} failed: ${ev.text}` };
      machine.cpu.halt('vmentry-failure', this.entryFailure.text);
    });
  }

  /** Detach from the machine's run loop entirely (nothing is left behind). */
  dispose(): void {
    if (this.machine.exec.debug === this) this.machine.exec.debug = null;
    this.clearAll();
  }

  get running(): boolean { return this.running_; }
  /** The last stop (null while running or before the first stop). */
  get stopped(): StopEvent | null { return this.running_ ? null : this.lastStop; }

  contexts(): Context[] { return [this.root]; }
  context(id: number): Context | null { return this.contexts().find(c => c.id === id) ?? null; }
  /** The context the processor runs in now. */
  current(): Context { return this.root; }

  onStop(f: (e: StopEvent) => void): () => void { this.listeners.add(f); return () => this.listeners.delete(f); }

  // ------------------------------------------------------------------ breakpoints / watchpoints
  addBreakpoint(address: bigint, hardware = false, context = 1): void {
    const key = breakpointKey(address);
    this.bps.set(`${context}:${address}:${hardware}`, { address, key, hardware, context });
    this.rebuildBreaks();
  }
  removeBreakpoint(address: bigint, hardware = false, context = 1): boolean {
    const ok = this.bps.delete(`${context}:${address}:${hardware}`);
    this.rebuildBreaks();
    return ok;
  }
  private rebuildBreaks(): void {
    this.breakAt.clear(); this.breakPages.clear();
    for (const b of this.bps.values()) { this.breakAt.add(b.key); this.breakPages.add(Math.floor(b.key / 4096)); }
  }

  addWatchpoint(address: bigint, length: number, kind: WatchKind, context = 1): void {
    this.wps.set(`${context}:${address}:${length}:${kind}`, { address, key: breakpointKey(address), length: Math.max(1, length), kind, context });
    this.rebuildWatch();
  }
  removeWatchpoint(address: bigint, length: number, kind: WatchKind, context = 1): boolean {
    const ok = this.wps.delete(`${context}:${address}:${length}:${kind}`);
    this.rebuildWatch();
    return ok;
  }
  private rebuildWatch(): void {
    const cpu = this.machine.cpu;
    if (this.wps.size === 0) { cpu.watch = null; return; }
    const pages = new Set<number>();
    for (const w of this.wps.values()) {
      for (let p = Math.floor(w.key / 4096); p <= Math.floor((w.key + w.length - 1) / 4096); p++) pages.add(p);
    }
    const wps = [...this.wps.values()];
    cpu.watch = {
      pages,
      hit: (la, size, write) => {
        for (const w of wps) {
          if (la < w.key + w.length && w.key < la + size && (w.kind === 'access' || (w.kind === 'write') === write)) {
            if (!this.watchHit) this.watchHit = w;
            cpu.halt('watchpoint', `watchpoint at ${w.address.toString(16)}`);
            return true;
          }
        }
        return false;
      },
    };
    cpu.flushTlb(); // entries filled before cover watched pages
  }
  clearAll(): void {
    this.bps.clear(); this.rebuildBreaks();
    this.wps.clear(); this.rebuildWatch();
  }
  breakpoints(): readonly Breakpoint[] { return [...this.bps.values()]; }
  watchpoints(): readonly Watchpoint[] { return [...this.wps.values()]; }

  // ------------------------------------------------------------------ execution
  /** Ask a running machine to stop (gdb's Ctrl-C); it stops between blocks with an 'interrupt' event. */
  interrupt(): void { this.interruptRequested = true; }

  /**
   * Run until something stops the machine, or after `maxInstructions` / `timeoutMs` of host time.
   */
  async resume(how: Resume, opts: { maxInstructions?: number; timeoutMs?: number } = {}): Promise<StopEvent> {
    if (this.running_) throw new Error('the machine is already running');
    const m = this.machine, cpu = m.cpu, exec = m.exec;
    if (this.ended) return this.finish(this.ended);
    this.running_ = true;
    this.interruptRequested = false;
    const start = m.clock.icount;
    const maxEnd = start + (opts.maxInstructions ?? Infinity);
    const deadline = opts.timeoutMs ? Date.now() + opts.timeoutMs : Infinity;
    // leave the previous stop
    const prev = cpu.stop;
    if (prev && isTerminal(prev.reason)) {
      this.ended = { kind: 'exited', context: 1, exitCode: null, message: `the machine ended: ${prev.message}` };
      return this.finish(this.ended);
    }
    cpu.stop = null;
    // A caught exception is architectural: it is delivered when the machine goes on, whatever
    // signal gdb resumes with (SWEB's `continue_on_pagefault` resumes page faults with "nopass") —
    // unless the user moved RIP (`set $pc`, `jump`), which discards it as if the instruction never ran.
    if (this.pending) { if (!this.root.ripWritten) exec.deliverPending(); else this.pending = null; }
    this.root.ripWritten = false;
    this.skip = ripLinear(cpu);
    this.watchHit = null;

    const step = how.kind !== 'continue';
    let ev: StopEvent | null = null;
    let steps = 0;
    for (;;) {
      if (step) {
        // one instruction (or one event delivery when the CPU is halted or interrupts are on)
        const halted = cpu.halted;
        this.noIrq = !halted && this.maskIrqWhileStepping;
        exec.stopAfterEvent = true;
        const until = halted ? Infinity : m.clock.icount + 1;
        while (!cpu.stop && m.clock.icount < until && !this.interruptRequested) {
          exec.run(Math.min(until, m.clock.icount + SLICE));
          if (stopReason(cpu) === 'idle') { cpu.stop = null; await sleep(10); }
          else if (halted && !cpu.stop) await yieldNow();
        }
        exec.stopAfterEvent = false;
        this.noIrq = false;
        steps++;
        ev = this.classify(true);
        if (ev.kind !== 'step' || how.kind !== 'range') break;
        const pc = fromCpuLinear(cpu.rip);
        if (pc < how.start || pc >= how.end) break;
        cpu.stop = null;
        this.skip = ripLinear(cpu);
        if (steps % 10000 === 0) await yieldNow();
        if (this.interruptRequested) { ev = { kind: 'interrupt', context: 1 }; break; }
        continue;
      }
      exec.run(Math.min(maxEnd, m.clock.icount + SLICE), () => this.interruptRequested);
      if (stopReason(cpu) === 'idle') {
        // halted with nothing scheduled: only input can wake it, so wait (virtual time stands still)
        cpu.stop = null;
        await sleep(10);
      } else if (cpu.stop) { ev = this.classify(false); break; }
      if (this.interruptRequested) { ev = { kind: 'interrupt', context: 1 }; break; }
      if (m.clock.icount >= maxEnd) { ev = { kind: 'limit', context: 1, message: `stopped after ${m.clock.icount - start} instructions (the limit)` }; break; }
      if (Date.now() > deadline) { ev = { kind: 'limit', context: 1, message: `host timeout after ${opts.timeoutMs} ms` }; break; }
      await yieldNow();
    }
    if (ev.kind === 'interrupt' || ev.kind === 'limit') cpu.stop = null;
    return this.finish(ev);
  }

  private finish(ev: StopEvent): StopEvent {
    this.running_ = false;
    this.lastStop = ev;
    for (const f of this.listeners) f(ev);
    return ev;
  }

  /** A VM entry or exit happened: stop after it when asked to (only while a client is attached). */
  private transition(kind: 'entry' | 'exit', reason: number): void {
    if (!this.attached) return;
    const cpu = this.machine.cpu;
    if (kind === 'entry' ? this.breakOnEntry : this.breakOnExit !== null && (this.breakOnExit === 'all' || this.breakOnExit.has(reason & 0xffff))) {
      this.transitionText = kind === 'entry' ? `VM entry: the guest starts at ${describeRip(cpu.rip)}` : `VM exit: ${this.exits.describeLast()}`;
      cpu.halt('vmx-transition', this.transitionText);
    }
  }

  /** Turn the CPU's stop into an event. */
  private classify(stepping: boolean): StopEvent {
    const cpu = this.machine.cpu, s = cpu.stop;
    if (!s) return stepping ? { kind: 'step', context: 1 } : { kind: 'interrupt', context: 1 };
    switch (s.reason) {
      case 'breakpoint': {
        const b = [...this.bps.values()].find(x => x.key === this.hitAt);
        return { kind: 'breakpoint', context: 1, address: b?.address ?? fromCpuLinear(this.hitAt), hardware: b?.hardware ?? false };
      }
      case 'watchpoint': {
        const w = this.watchHit!;
        this.watchHit = null;
        return { kind: 'watchpoint', context: 1, address: w.address, watch: w.kind };
      }
      case 'step': return { kind: 'step', context: 1 };
      case 'vmx-transition': return { kind: 'vmx-transition', context: 1, message: this.transitionText || s.message };
      case 'vmentry-failure': {
        const f = this.entryFailure;
        this.entryFailure = null;
        return { kind: 'vmentry-failure', context: 1, rule: f?.rule ?? '?', message: f?.text ?? s.message };
      }
      case 'exception': {
        const p = this.pending!;
        return { kind: 'exception', context: 1, vector: p.vector, errorCode: p.code, message: s.message };
      }
      case 'exit': return (this.ended = { kind: 'exited', context: 1, exitCode: this.machine.exitCode ?? 0, message: s.message });
      case 'triple-fault': case 'reset': return { kind: 'shutdown', context: 1, reason: s.reason, message: s.message };
      default: return { kind: 'machine', context: 1, reason: s.reason, message: s.message };
    }
  }
}

/** (A function, so TypeScript does not narrow cpu.stop across exec.run calls that change it.) */
function stopReason(cpu: { stop: { reason: string } | null }): string | undefined { return cpu.stop?.reason; }
function describeRip(rip: number): string { return '0x' + fromCpuLinear(rip).toString(16); }
function isTerminal(reason: string): boolean { return reason === 'triple-fault' || reason === 'reset' || reason === 'exit'; }
const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms));
const yieldNow = () => new Promise<void>(r => setImmediate(r));
