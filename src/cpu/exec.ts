import type { CPU } from './cpu.js';
import { MODE_LONG } from './cpu.js';
import { Insn, I_END, I_INVALID } from './insn.js';
import { decode } from './decoder.js';
import { CpuFault, MachineStop, VmExit, vectorName } from './fault.js';
import { vmExit } from '../vmx/exit.js';
import { holdDebugTrap } from '../vmx/events.js';
import { pendingExit, guestCanWake } from '../vmx/events.js';
import { recheckEvents } from '../vmx/entry.js';
import { deliverFault, deliverChecked, EV_INTR, EV_NMI, EV_HW } from './exceptions.js';
import { CS, GP, IF, TF, RF } from './regs.js';
import { DEC16 } from './cpu.js';
import { execMatches } from './debugregs.js';
import { fmtAddr } from './ops/index.js';
import { compileBlock, JIT_ENABLED, JIT_THRESHOLD, compute, type CompiledBlock } from './jit.js';
import { getCF } from './flags.js';

/** PROC.MONITOR_TRAP_FLAG (src/vmx/controls.ts). */
const MTF = 1 << 27;

/**
 * Decoded blocks and the run loop (DESIGN.md #3, #6). A block is a run of instructions in one
 * physical page, ending at a control transfer, a mode change or the page end; it is cached by
 * physical address and decoder mode. A write to a page holding blocks drops them. Time only
 * advances by retired instructions; timers fire between blocks at exact counts.
 */
export const MAX_BLOCK = 64;

export class Block {
  /** False once the page was written (the block must not be chained to any more). */
  valid = true;
  /** Chaining (DESIGN.md #3): the two most recent successors by linear address, valid while the TLB epoch holds. */
  lin0 = NaN; next0: Block | null = null; epoch0 = -1;
  lin1 = NaN; next1: Block | null = null; epoch1 = -1;
  /** Executions so far, and the compiled function once hot (jit.ts). */
  hits = 0;
  compiled: CompiledBlock | null = null;
  constructor(readonly insns: Insn[], readonly pa: number, readonly mode: number) {}
}

export class CodeCache {
  private readonly blocks = new Map<number, Block>();
  private readonly byPage = new Map<number, number[]>();
  constructor(private readonly cpu: CPU) {
    cpu.bus.onCodeWrite = page => this.invalidatePage(page);
  }
  get(pa: number, mode: number): Block | undefined { return this.blocks.get(pa * 4 + mode); }
  put(b: Block): void {
    const key = b.pa * 4 + b.mode;
    this.blocks.set(key, b);
    const page = Math.floor(b.pa / 4096);
    let l = this.byPage.get(page);
    if (!l) {
      this.byPage.set(page, (l = []));
      this.cpu.bus.codePages.add(page);
      this.cpu.protectCodePage(page);
    }
    l.push(key);
  }
  invalidatePage(page: number): void {
    const l = this.byPage.get(page);
    if (l) for (const k of l) { const b = this.blocks.get(k); if (b) b.valid = false; this.blocks.delete(k); }
    this.byPage.delete(page);
    this.cpu.bus.codePages.delete(page);
    this.cpu.codeDirty = true;
  }
  clear(): void {
    for (const p of this.byPage.keys()) this.cpu.bus.codePages.delete(p);
    for (const b of this.blocks.values()) b.valid = false;
    this.blocks.clear(); this.byPage.clear();
  }
  get size(): number { return this.blocks.size; }
}

/** Linear address of the current instruction. */
export function ripLinear(cpu: CPU): number {
  return cpu.mode === MODE_LONG ? cpu.rip : (cpu.segBase[CS] + cpu.rip) >>> 0;
}

/** Decode the block at the current RIP (not cached if an instruction crosses a page). */
function buildBlock(cpu: CPU, cache: CodeCache): Block {
  const lin0 = ripLinear(cpu);
  const pa0 = cpu.fetchPhys(lin0);
  const mode = cpu.decMode;
  const long = cpu.mode === MODE_LONG;
  const limit = cpu.segLimit[CS];
  const insns: Insn[] = [];
  let off = 0;
  let cacheable = true;
  const pageOff = lin0 & 0xfff;
  const seen = new Set<number>();
  while (insns.length < MAX_BLOCK) {
    seen.add(off);
    const lin = lin0 + off, rip = cpu.rip + off;
    let d: Insn;
    try {
      d = decode(i => {
        if (!long && rip + i > limit) throw new CpuFault(GP, 0);
        return cpu.fetch8(lin + i);
      }, mode);
    } catch (e) {
      if (insns.length === 0) throw e;   // the first instruction faults now; later ones fault when reached
      break;
    }
    const crosses = ((lin & 0xfff) + d.len) > 4096;
    if (crosses && insns.length > 0) break;
    d.off = off;
    d.next = off + d.len;
    insns.push(d);
    if (crosses) { cacheable = false; break; }
    // Superblock: a direct JMP/CALL whose target lies in the same page (and was not decoded into
    // this block yet) does not end the block; decoding continues at the target. 32/64-bit code only.
    const h = d.row[4]?.h ?? d.row[2];
    if ((h === 'jmp' || h === 'call') && mode !== DEC16 && d.osize !== 2) {
      const t = d.next + d.imm;
      if (pageOff + t >= 0 && pageOff + t < 4096 && !seen.has(t)) { d.next = t; off = t; continue; }
    }
    off = d.next;
    if (d.flags & (I_END | I_INVALID)) break;
    if (((lin0 + off) & 0xfff) === 0) break;
  }
  const b = new Block(insns, pa0, mode);
  if (cacheable) cache.put(b);
  return b;
}

/**
 * What a debugger (src/debug) asks of the run loop. Null when none is attached; with no
 * breakpoints set it costs one null check per loop iteration (DESIGN.md #6: breakpoints mark
 * pages; a block in a page holding a breakpoint runs one instruction at a time).
 */
export interface ExecDebug {
  /** Linear addresses of breakpoints (the CPU's form: signed canonical in 64-bit mode). */
  readonly breakAt: Set<number>;
  /** Linear page numbers (Math.floor(la / 4096)) holding breakpoints. */
  readonly breakPages: Set<number>;
  /** Resuming from this address: do not stop there before one instruction has run. */
  skip: number;
  /** Deliver no external interrupts or NMIs (stepping with interrupts masked). */
  noIrq: boolean;
  /** Stop before delivering this exception vector (the fault stays pending, see deliverPending). */
  catches(vector: number): boolean;
  /** Set by the run loop: the breakpoint address that stopped it, the fault held back. */
  hitAt: number;
  pending: CpuFault | null;
}

export class Executor {
  readonly cache: CodeCache;
  /** The debugger's requests (src/debug); null when no debugger is attached. */
  debug: ExecDebug | null = null;
  /** A debugger's single step: stop right after delivering an interrupt/NMI (at the handler's first instruction). */
  stopAfterEvent = false;
  /** The block executed last, for chaining. */
  private prev: Block | null = null;
  /** Compile hot blocks (jit.ts); off with VMXRAY_JIT=0 or by setting this to false. */
  jit = JIT_ENABLED;
  constructor(readonly cpu: CPU) { this.cache = new CodeCache(cpu); }

  /**
   * Run until the clock reaches `until` (an instruction count), the CPU stops, or `shouldPause()`
   * says so (checked between blocks). Never throws: internal errors become a MachineStop.
   */
  run(until: number, shouldPause?: () => boolean): void {
    const cpu = this.cpu, clock = cpu.clock;
    // VMX: a VmExit thrown outside an instruction (event delivery, a triple fault) lands here; the
    // exit is performed and the loop goes on in root operation.
    for (;;) try {
      while (!cpu.stop && clock.icount < until) {
        if (clock.icount >= clock.nextDeadline()) { clock.fireDue(); cpu.intCheck = true; }
        if (cpu.stop) break;
        if (shouldPause && shouldPause()) break;
        const dx = this.debug;
        // VMX non-root operation: event-caused VM exits (src/vmx/events.ts) — the only VMX check per iteration
        const nr = cpu.vmx !== null && cpu.vmx.nonRoot;
        if (nr) {
          const e = pendingExit(cpu, dx !== null && dx.noIrq);
          if (e !== null) { this.exitVm(e, null); continue; }
          if (cpu.halted && cpu.vmx!.activity >= 2) { if (this.idle(until)) break; continue; } // shutdown / wait-for-SIPI
        }
        // pending events (SDM Vol. 3A, "Priority Among Simultaneous Exceptions and Interrupts")
        if (!cpu.intShadow && (dx === null || !dx.noIrq)) {
          if (cpu.nmiPending && !cpu.nmiBlocked) {
            cpu.nmiPending = false; cpu.nmiBlocked = true; cpu.halted = false;
            deliverChecked(cpu, 2, -1, EV_NMI, cpu.rip); cpu.rip = cpu.nip;
            if (this.stopAfterEvent) { cpu.halt('step', 'stepped into the NMI handler'); break; }
          } else if ((cpu.eflags & IF) && cpu.intCheck && cpu.intc && (cpu.intCheck = cpu.intc.hasIntr())) {
            const v = cpu.intc.ackIntr();
            cpu.halted = false;
            deliverChecked(cpu, v, -1, EV_INTR, cpu.rip); cpu.rip = cpu.nip;
            if (cpu.stop) break;
            if (this.stopAfterEvent) { cpu.halt('step', `stepped into the handler of vector ${v}`); break; }
          }
        }
        if (cpu.halted) {
          if (!(cpu.eflags & IF) && !cpu.nmiPending && !(nr && guestCanWake(cpu))) {
            cpu.halt('halted', `the CPU halted with interrupts disabled at ${fmtAddr(cpu.rip)} (HLT with RFLAGS.IF = 0): nothing can wake it`);
            break;
          }
          const next = Math.min(clock.nextDeadline(), until);
          if (next === Infinity) { cpu.halt('idle', 'the CPU is halted and no timer is pending'); break; }
          if (next > clock.icount) clock.icount = next;
          continue;
        }
        let bpOn = false;
        if (dx !== null && dx.breakAt.size !== 0) {
          const lin = ripLinear(cpu);
          if (dx.breakAt.has(lin) && lin !== dx.skip) { dx.hitAt = lin; cpu.halt('breakpoint', `breakpoint at ${fmtAddr(cpu.rip)}`); break; }
          bpOn = dx.breakPages.has(Math.floor(lin / 4096));
        }
        if (dx !== null) dx.skip = NaN;
        let budget = Math.min(until, clock.nextDeadline()) - clock.icount;
        if (budget < 1 || bpOn) budget = 1;
        const hadShadow = cpu.intShadow;
        const tf = (cpu.eflags & TF) !== 0;
        const dbg = cpu.drExec || cpu.drData;
        if (hadShadow || tf || dbg || (nr && cpu.vmx!.singleStep)) budget = 1;
        const vmxEpoch = tf || dbg ? this.vmTransitions() : 0;
        if (cpu.drExec && this.instructionBreakpoint()) continue;
        cpu.pendingDb = 0;
        const before = clock.icount;
        if (budget === 1) this.step(1);
        else {
          // Run blocks back to back until the budget ends or something needs the checks above
          // (an interrupt may be deliverable, a device scheduled an earlier timer, a halt, a stop,
          // an interrupt shadow, TF, debug registers).
          const end = clock.icount + budget;
          do this.step(end - clock.icount);
          while (clock.icount < end && clock.nextDeadline() >= end && !cpu.stop && !cpu.halted && !cpu.intShadow && !cpu.nmiPending &&
            !(cpu.intCheck && (cpu.eflags & IF)) && !(cpu.eflags & TF) && !cpu.drExec && !cpu.drData &&
            // with breakpoints set, blocks keep running back to back while they stay out of pages holding one
            (dx === null || dx.breakAt.size === 0 || !dx.breakPages.has(Math.floor(ripLinear(cpu) / 4096))));
        }
        if (hadShadow) { cpu.intShadow = false; cpu.movSsShadow = false; }
        if (dbg && clock.icount > before) cpu.eflags &= ~RF; // RF is cleared once an instruction completes
        // (no #DB trap for an instruction that was a VM entry or ended in a VM exit)
        if ((tf || cpu.pendingDb) && !cpu.stop && clock.icount > before && this.vmTransitions() === vmxEpoch) {
          // an MTF VM exit takes priority over the debug trap, which stays pending in the VMCS (SDM "Monitor Trap Flag")
          if (!(cpu.vmx !== null && cpu.vmx.nonRoot && holdDebugTrap(cpu, tf, cpu.pendingDb))) this.debugTrap(tf, cpu.pendingDb);
          else cpu.pendingDb = 0;
        }
        // "Monitor Trap Flag": an MTF VM exit is pending after a guest instruction (or a fault delivered to the guest)
        if (nr && clock.icount > before && cpu.vmx!.nonRoot && (cpu.vmx!.proc & MTF) !== 0) cpu.vmx!.mtfPending = true;
      }
      return;
    } catch (e) {
      if (e instanceof VmExit && cpu.vmx !== null && cpu.vmx.nonRoot) { this.exitVm(e, null); continue; }
      if (e instanceof MachineStop) cpu.stop = e;
      else cpu.halt('internal', `internal error in vmxray at ${fmtAddr(cpu.rip)}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      return;
    }
  }

  /** VMX: entries + exits so far (an instruction that changed it was a VM entry or ended in a VM exit). */
  private vmTransitions(): number { return this.cpu.vmx === null ? 0 : this.cpu.vmx.transitions; }

  /** VMX: perform a VM exit (src/vmx/exit.ts); `d` is the instruction that caused it, if any. */
  private exitVm(e: VmExit, d: Insn | null): void {
    const cpu = this.cpu;
    this.prev = null;
    if (cpu.vmx === null || !cpu.vmx.nonRoot || cpu.vmx.current === null) {
      cpu.halt('internal', `internal error in vmxray: VM exit (reason ${e.reason}) outside VMX non-root operation at ${fmtAddr(cpu.rip)}`);
      return;
    }
    vmExit(cpu, e, d);
    recheckEvents(cpu);
  }

  /** A halted CPU that only a timer can wake: skip to the next deadline. True when the run must stop. */
  private idle(until: number): boolean {
    const clock = this.cpu.clock;
    const next = Math.min(clock.nextDeadline(), until);
    if (next === Infinity) { this.cpu.halt('idle', 'the guest is in the shutdown or wait-for-SIPI state and no timer is pending'); return true; }
    if (next > clock.icount) clock.icount = next;
    return false;
  }

  /** Execute up to `budget` instructions of one block. */
  step(budget: number): void {
    const cpu = this.cpu, clock = cpu.clock;
    let b: Block | null | undefined = null;
    const lin = ripLinear(cpu);
    const prev = this.prev;
    const epoch = cpu.tlbEpoch;
    if (prev !== null) {
      if (prev.lin0 === lin && prev.epoch0 === epoch) b = prev.next0;
      else if (prev.lin1 === lin && prev.epoch1 === epoch) b = prev.next1;
      if (b !== null && (!b.valid || b.mode !== cpu.decMode)) b = null;
    }
    if (b === null) {
      try {
        const pa = cpu.fetchPhys(lin);
        b = this.cache.get(pa, cpu.decMode);
        if (b === undefined) b = buildBlock(cpu, this.cache);
      } catch (e) {
        this.prev = null;
        if (e instanceof CpuFault) { this.fault(e); return; }
        if (e instanceof VmExit) { this.exitVm(e, null); return; } // e.g. an EPT violation on the fetch
        throw e;
      }
      if (prev !== null && b.valid) {
        // remember as a successor of prev (replace the older slot)
        prev.lin1 = prev.lin0; prev.next1 = prev.next0; prev.epoch1 = prev.epoch0;
        prev.lin0 = lin; prev.next0 = b; prev.epoch0 = epoch;
      }
    }
    this.prev = b;
    const insns = b.insns;
    const n = insns.length < budget ? insns.length : budget;
    let i = 0;
    cpu.codeDirty = false;
    const start = clock.icount;
    const r0 = cpu.rip;
    cpu.blockIcount = start;
    cpu.inBlock = true;
    if (n === insns.length && this.jit) {
      if (b.compiled === null && ++b.hits === JIT_THRESHOLD) b.compiled = compileBlock(insns, getCF as (lf: unknown) => boolean, b.mode);
      const f = b.compiled;
      if (f !== null) {
        cpu.insnIdx = 0;
        cpu.ioHappened = false;
        try {
          i = f(cpu, insns, cpu.lo, cpu.hi, compute, budget);
        } catch (e) {
          cpu.inBlock = false;
          clock.icount = cpu.blockIcount + cpu.insnIdx;
          this.prev = null;
          if (e instanceof CpuFault) { this.faultIn(e, insns[cpu.insnIdx]); return; }
          if (e instanceof VmExit) { this.exitVm(e, insns[cpu.insnIdx]); return; }
          throw e;
        }
        cpu.inBlock = false;
        clock.icount = start + i;
        if (i % insns.length !== 0) this.prev = null;
        return;
      }
    }
    try {
      for (; i < n; i++) {
        const d = insns[i];
        cpu.insnIdx = i;
        cpu.nip = cpu.rip + d.len;
        d.fn(cpu, d);
        cpu.rip = cpu.nip;
        if (cpu.nip !== r0 + d.next || cpu.codeDirty) { i++; break; }
      }
    } catch (e) {
      cpu.inBlock = false;
      clock.icount = start + i;
      this.prev = null;
      if (e instanceof CpuFault) { this.faultIn(e, insns[i]); return; }
      if (e instanceof VmExit) { this.exitVm(e, insns[i]); return; }
      throw e;
    }
    cpu.inBlock = false;
    clock.icount = start + i;
    if (i !== insns.length) this.prev = null; // left the block early: no chaining from a partial block
  }

  /** A fault raised by instruction `d`; in VMX non-root operation its delivery may end in a VM exit (exception bitmap). */
  private faultIn(e: CpuFault, d: Insn): void {
    if (this.cpu.vmx === null || !this.cpu.vmx.nonRoot) { this.fault(e); return; }
    try { this.fault(e); } catch (x) { if (x instanceof VmExit) { this.exitVm(x, d); return; } throw x; }
  }

  private fault(e: CpuFault): void {
    const cpu = this.cpu;
    if (e.vector < 0 || cpu.stop) return; // a clean stop was requested by the instruction
    const dx = this.debug;
    if (dx !== null && dx.catches(e.vector)) {
      // the debugger catches this exception: stop at the faulting instruction, delivery held back
      dx.pending = e;
      cpu.halt('exception', `${vectorName(e.vector)}${e.code >= 0 ? `(0x${e.code.toString(16)})` : ''} at ${fmtAddr(cpu.rip)}`);
      return;
    }
    this.deliverNow(e);
  }

  /**
   * Deliver a fault. It takes one unit of virtual time (model choice): a guest whose handler faults
   * again at once (a live-lock on hardware) then still lets time, timers and the run loop's budget
   * advance, instead of spinning the host forever. A delivery that shut the machine down leaves RIP
   * at the faulting instruction.
   */
  private deliverNow(e: CpuFault): void {
    const cpu = this.cpu;
    cpu.clock.icount++;
    deliverFault(cpu, e);
    if (!cpu.stop) cpu.rip = cpu.nip;
  }

  /** Deliver the exception a debugger held back (resuming with its signal passes it to the guest). */
  deliverPending(): void {
    const dx = this.debug, e = dx?.pending;
    if (!dx || !e) return;
    dx.pending = null;
    try {
      this.deliverNow(e);
    } catch (x) {
      // in VMX non-root operation the delivery may end in a VM exit (exception bitmap)
      if (x instanceof VmExit) { this.exitVm(x, null); return; }
      this.cpu.halt('internal', `internal error in vmxray delivering a held-back exception: ${x instanceof Error ? x.stack ?? x.message : String(x)}`);
    }
  }

  /** #DB trap after an instruction: single-step (DR6.BS) and/or data breakpoints (DR6.B0–B3). */
  private debugTrap(tf: boolean, hits: number): void {
    const cpu = this.cpu;
    cpu.pendingDb = 0;
    cpu.dbBits = hits | (tf ? 0x4000 : 0); cpu.dr6Before = cpu.dr[6]; cpu.dr7Before = cpu.dr[7];
    cpu.dr[6] = ((cpu.dr[6] & ~0xf) | hits | (tf ? 0x4000 : 0)) >>> 0;
    deliverChecked(cpu, 1, -1, EV_HW, cpu.rip);
    cpu.rip = cpu.nip;
  }

  /** An instruction breakpoint at the current RIP raises #DB as a fault (unless RFLAGS.RF). */
  private instructionBreakpoint(): boolean {
    const cpu = this.cpu;
    if (cpu.eflags & RF) return false;
    const hits = execMatches(cpu, ripLinear(cpu));
    if (!hits) return false;
    cpu.dbBits = hits; cpu.dr6Before = cpu.dr[6]; cpu.dr7Before = cpu.dr[7];
    cpu.dr[6] = ((cpu.dr[6] & ~0xf) | hits) >>> 0;
    deliverChecked(cpu, 1, -1, EV_HW, cpu.rip);
    cpu.rip = cpu.nip;
    return true;
  }
}
