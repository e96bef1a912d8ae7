import type { PhysBus } from '../memory/physbus.js';
import type { PortBus } from '../memory/ports.js';
import type { VirtualClock } from '../machine/clock.js';
import type { InterruptController } from './interrupts.js';
import { LazyFlags, arithFlags, setArith } from './flags.js';
import { CpuFault, MachineStop } from './fault.js';
import { Tlb, TlbSet, K_READ, K_WRITE, K_EXEC, TLB_MASK } from './tlb.js';
import { translate } from './mmu.js';
import { translateNested, type EptContext } from '../vmx/ept.js';
import {
  CS, SS, DS, ES, FS, GS, TR, LDTR, ARITH_FLAGS, FLAGS_IMPLEMENTED, CR0_PE, CR0_PG, EFER_LMA, VM, AR_L, AR_DB, AR_P, AR_S,
  GP, SS_, arDpl,
} from './regs.js';
import { X87 } from './x87-state.js';
import { MsrFile } from './msr.js';
import { armedBreakpoints, dataMatches } from './debugregs.js';

/** A debugger's watchpoints (src/debug): see `CPU.watch`. */
export interface Watch { readonly pages: Set<number>; hit(la: number, size: number, write: boolean): boolean }

export const MODE_REAL = 0, MODE_PROT = 1, MODE_V86 = 2, MODE_COMPAT = 3, MODE_LONG = 4;
/** Decoder modes: default operand/address size 16, 32, or 64-bit mode. */
export const DEC16 = 0, DEC32 = 1, DEC64 = 2;

const TWO32 = 4294967296;

/**
 * One x86-64 logical processor. All state is in this object (DESIGN.md #8). GPRs are two
 * Int32Arrays of halves (DESIGN.md #2: no BigInt on the hot path); RIP and linear addresses are
 * Numbers — in 64-bit mode they are the signed value of the canonical address (exact in a
 * double), elsewhere the unsigned 32-bit value.
 */
export class CPU {
  readonly lo = new Int32Array(16);
  readonly hi = new Int32Array(16);
  /** Address of the current instruction; nip = address of the next one (branches set it). */
  rip = 0;
  nip = 0;
  /** Scratch for the high half of 64-bit values returned by helpers. */
  vhi = 0;

  readonly segSel = new Int32Array(8);
  readonly segBase = new Float64Array(8);
  readonly segLimit = new Float64Array(8);
  /** Access rights in the VMCS format (regs.ts AR_*). */
  readonly segAr = new Int32Array(8);
  gdtBase = 0; gdtLimit = 0xffff;
  idtBase = 0; idtLimit = 0x3ff;

  cr0 = 0x60000010;
  /** CR2. A setter keeps the previous value: a #PF that causes a VM exit must not change CR2
   *  (SDM Vol. 3C, "VM Exits Due to Exceptions"... exit qualification holds the address), and
   *  mmu.ts writes CR2 before the exit is decided (src/vmx/events.ts restores `cr2Before`). */
  private cr2v = 0;
  cr2Before = 0;
  get cr2(): number { return this.cr2v; }
  set cr2(v: number) { this.cr2Before = this.cr2v; this.cr2v = v; }
  cr3 = 0;
  cr4 = 0;
  efer = 0;
  xcr0 = 1;
  /** CR8: task-priority register (bits 3:0) when no local APIC is attached (see `tpr`). */
  cr8 = 0;
  /** The local APIC's task-priority register, which CR8 reads and writes as TPR[7:4]. */
  tpr: { get(): number; set(v: number): void } | null = null;
  readonly dr = new Float64Array(8);
  /** RFLAGS bits other than OSZAPC (bit 1 always reads as 1). */
  eflags = 0;
  readonly lf = new LazyFlags();

  cpl = 0;
  mode = MODE_REAL;
  /** DEC16/DEC32/DEC64: the decoder's default sizes, from CS.D / CS.L / EFER.LMA. */
  decMode = DEC16;
  /** Stack address size in bytes (SS.B, or 8 in 64-bit mode). */
  stackSize = 2;

  readonly xmm = new Int32Array(16 * 4);
  mxcsr = 0x1f80;
  readonly fpu = new X87();
  readonly msr: MsrFile;
  /** VMX state (src/vmx/state.ts): null until the first VMXON; reset leaves VMX operation. */
  vmx: import('../vmx/state.js').VmxState | null = null;

  halted = false;
  /** The A20 gate (port 0x92 bit 1 OR the 8042 output port bit 1); multiboot hands over with it open. */
  private a20Open = true;
  get a20(): boolean { return this.a20Open; }
  setA20(open: boolean): void { if (open !== this.a20Open) { this.a20Open = open; this.flushAllTlbs(); } }
  /** Interrupts are blocked until one more instruction has executed after STI / MOV SS / POP SS
   *  (SDM Vol. 3A, "Interrupt shadow"; the run loop clears it). */
  intShadow = false;
  /** The interrupt shadow comes from MOV SS / POP SS (not STI): "blocking by MOV SS" of the VMX
   *  interruptibility state (SDM Vol. 3C, "Guest Non-Register State"). Cleared with intShadow. */
  movSsShadow = false;
  nmiPending = false;
  nmiBlocked = false;

  readonly bus: PhysBus;
  readonly io: PortBus;
  readonly clock: VirtualClock;
  intc: InterruptController | null = null;
  /** Set when the machine must stop (unsupported instruction, triple fault, ...). */
  stop: MachineStop | null = null;
  /** Observer of every event delivered through the IDT/IVT (exceptions, interrupts, INT n): kind per exceptions.ts EV_*. */
  onEvent: ((vector: number, code: number, kind: number, rip: number) => void) | null = null;
  /** Called on events the machine wants to know about (shutdown, hlt, ...). */
  onShutdown: ((why: string) => void) | null = null;

  // --- software TLB and page-walk side outputs ---
  /** The root (non-VMX / VMX root operation) translation context. */
  readonly rootTlb = new Tlb();
  /** The active translation context; tR/tW/tX are its sets for the current privilege. */
  tlb = this.rootTlb;
  tR: TlbSet; tW: TlbSet; tX: TlbSet;
  /** Every context that may hold entries, root first (src/vmx/tlb-contexts.ts adds and drops the guests'). */
  readonly tlbs: Tlb[] = [this.rootTlb];
  /** The guest contexts of VMX non-root operation (src/vmx/tlb-contexts.ts), created by the first VM entry. */
  tlbContexts: import('../vmx/tlb-contexts.js').TlbContexts | null = null;
  walkGlobal = false;
  walkCacheable = true;
  walkPageMask = 0xfff;
  readonly walkTrail: number[] = [];
  /** PAE PDPTE registers (mmu.ts loadPdptes): entries 0-3 as (lo, hi) dwords in [0..7]; [8] = the CR3 they were loaded for (-1: never). */
  readonly pdpte = new Float64Array(9).fill(-1);
  /** EPT in VMX non-root operation (src/vmx/ept.ts: enableEpt/disableEpt); null in root operation or without EPT. */
  ept: EptContext | null = null;
  /** Set while the CPU makes implicit supervisor accesses (descriptor tables, TSS, IDT). */
  implicitAccess = false;
  /** Set when a write hit a page holding decoded code: the current block must end. */
  codeDirty = false;
  /** DR7 arms instruction / data breakpoints (debugregs.ts); DR6 bits of data breakpoints hit by the current instruction. */
  /** Instruction count at the start of the running block and the index of the running instruction:
   *  `syncClock()` makes the clock exact before a device sees it (port and MMIO accesses). */
  blockIcount = 0;
  insnIdx = 0;
  inBlock = false;
  /** Set by every port/MMIO access (a compiled self-loop returns to the run loop after one). */
  ioHappened = false;
  /**
   * The interrupt controller may have something new to say: set by every port/MMIO access, timer,
   * IRQ line change and MSR write, and after each delivery; the run loop only polls `intc.hasIntr()`
   * while it is set and clears it when nothing is pending (polling every block is costly).
   */
  intCheck = true;
  /** The instruction count at the running instruction (the clock itself is brought up to date between blocks). */
  exactCount(): number { return this.inBlock ? this.blockIcount + this.insnIdx : this.clock.icount; }
  syncClock(): void { this.ioHappened = true; this.intCheck = true; if (this.inBlock) this.clock.icount = this.blockIcount + this.insnIdx; }
  drExec = false;
  drData = false;
  pendingDb = 0;
  /** The #DB being delivered: its DR6-format bits (B3:B0, BD, BS) and DR6/DR7 as they were before it
   *  updated them — a #DB that causes a VM exit must leave DR6 and DR7 unchanged (src/vmx/events.ts). */
  dbBits = 0; dr6Before = 0; dr7Before = 0;
  /**
   * A debugger's watchpoints (src/debug), null when none: linear pages holding one are kept out
   * of the fast TLB so their accesses reach readSlow/writeSlow, which report them to `hit`. A hit
   * ends the running block after the instruction (codeDirty), so the debugger stops right after it.
   */
  get watch(): Watch | null { return this.watchV; }
  /** Entries of every context filled before may cover watched pages: all are dropped. */
  set watch(w: Watch | null) { this.watchV = w; this.flushAllTlbs(); }
  private watchV: Watch | null = null;

  constructor(bus: PhysBus, io: PortBus, clock: VirtualClock) {
    this.bus = bus;
    this.io = io;
    this.clock = clock;
    this.msr = new MsrFile(this);
    this.tR = this.tlb.sets[0]; this.tW = this.tlb.sets[2]; this.tX = this.tlb.sets[4];
    this.reset();
  }

  /** Power-on / RESET state (SDM Vol. 3A, "Processor State After Reset"), except that RIP is 0. */
  reset(): void {
    this.lo.fill(0); this.hi.fill(0);
    this.lo[2] = 0x600; // EDX = family/model/stepping
    for (let s = 0; s < 6; s++) { this.segSel[s] = 0; this.segBase[s] = 0; this.segLimit[s] = 0xffff; this.segAr[s] = 0x93; }
    this.segAr[CS] = 0x9b;
    this.segSel[CS] = 0xf000; this.segBase[CS] = 0xffff0000;
    this.segSel[LDTR] = 0; this.segBase[LDTR] = 0; this.segLimit[LDTR] = 0xffff; this.segAr[LDTR] = 0x82;
    this.segSel[TR] = 0; this.segBase[TR] = 0; this.segLimit[TR] = 0xffff; this.segAr[TR] = 0x8b;
    this.gdtBase = 0; this.gdtLimit = 0xffff; this.idtBase = 0; this.idtLimit = 0xffff;
    this.cr0 = 0x60000010; this.cr2 = 0; this.cr3 = 0; this.cr4 = 0; this.efer = 0; this.xcr0 = 1; this.cr8 = 0;
    this.dr.fill(0); this.dr[6] = 0xffff0ff0; this.dr[7] = 0x400;
    this.eflags = 0; setArith(this.lf, 0);
    this.rip = 0xfff0; this.nip = 0xfff0;
    this.xmm.fill(0); this.mxcsr = 0x1f80;
    this.fpu.reset();
    this.halted = false; this.intShadow = false; this.movSsShadow = false; this.nmiPending = false; this.nmiBlocked = false;
    this.stop = null;
    this.vmx = null;
    this.ept = null;
    this.tlbContexts = null;
    this.tlbs.length = 0; this.tlbs.push(this.rootTlb);
    this.tlb = this.rootTlb;
    this.updateMode();
    this.flushTlb();
  }

  // ---------------------------------------------------------------- modes
  /** Recompute mode, CPL-dependent TLB sets and decoder mode from CR0, EFER, RFLAGS.VM, CS, SS. */
  updateMode(): void {
    const csAr = this.segAr[CS];
    if (!(this.cr0 & CR0_PE)) { this.mode = MODE_REAL; this.cpl = 0; }
    else if (this.eflags & VM) { this.mode = MODE_V86; this.cpl = 3; }
    else if (this.efer & EFER_LMA) { this.mode = csAr & AR_L ? MODE_LONG : MODE_COMPAT; this.cpl = arDpl(this.segAr[SS]) ; }
    else { this.mode = MODE_PROT; this.cpl = arDpl(this.segAr[SS]); }
    // CPL is SS.DPL (as the VMCS guest state defines it); it equals CS.RPL except in the window
    // after CR0.PE is set from real mode and before CS is reloaded, where it stays 0.
    this.decMode = this.mode === MODE_LONG ? DEC64 : (this.mode !== MODE_REAL && this.mode !== MODE_V86 && (csAr & AR_DB)) ? DEC32 : DEC16;
    this.stackSize = this.mode === MODE_LONG ? 8 : (this.mode !== MODE_REAL && this.mode !== MODE_V86 && (this.segAr[SS] & AR_DB)) ? 4 : 2;
    const u = this.cpl === 3 ? 1 : 0;
    this.tR = this.tlb.sets[u]; this.tW = this.tlb.sets[2 + u]; this.tX = this.tlb.sets[4 + u];
  }
  /** As updateMode, but accesses are made at privilege `cpl` (during a stack switch, before CS is loaded). */
  updateModeKeepCpl(cpl: number): void {
    this.updateMode();
    this.cpl = cpl;
    const u = cpl === 3 ? 1 : 0;
    this.tR = this.tlb.sets[u]; this.tW = this.tlb.sets[2 + u]; this.tX = this.tlb.sets[4 + u];
  }
  get long64(): boolean { return this.mode === MODE_LONG; }
  get paging(): boolean { return (this.cr0 & CR0_PG) !== 0; }

  // ---------------------------------------------------------------- RFLAGS
  getFlags(): number { return (this.eflags & ~ARITH_FLAGS) | arithFlags(this.lf) | 2; }
  /** Write RFLAGS bits in `mask` (callers apply the privilege rules of POPF/IRET). */
  setFlags(v: number, mask = FLAGS_IMPLEMENTED): void {
    const cur = this.getFlags();
    const nv = ((cur & ~mask) | (v & mask)) & FLAGS_IMPLEMENTED;
    setArith(this.lf, nv & ARITH_FLAGS);
    const oldVm = this.eflags & VM;
    this.eflags = nv & ~ARITH_FLAGS;
    if ((nv & VM) !== oldVm) this.updateMode();
  }

  // ---------------------------------------------------------------- GPRs
  /** 64-bit register value as a Number (exact below 2^53; for addresses in 64-bit mode). */
  reg64n(r: number): number { return this.hi[r] * TWO32 + (this.lo[r] >>> 0); }
  getReg(r: number, size: number): number {
    switch (size) {
      case 1: return r < 16 ? this.lo[r] & 0xff : (this.lo[r - 16] >> 8) & 0xff;
      case 2: return this.lo[r] & 0xffff;
      case 4: return this.lo[r];
      default: this.vhi = this.hi[r]; return this.lo[r];
    }
  }
  /** Write a register of `size` bytes (32-bit writes zero the upper half, as in 64-bit mode; 8/16 preserve). */
  setReg(r: number, size: number, v: number, vhi = 0): void {
    switch (size) {
      case 1:
        if (r < 16) this.lo[r] = (this.lo[r] & ~0xff) | (v & 0xff);
        else this.lo[r - 16] = (this.lo[r - 16] & ~0xff00) | ((v & 0xff) << 8);
        return;
      case 2: this.lo[r] = (this.lo[r] & ~0xffff) | (v & 0xffff); return;
      case 4: this.lo[r] = v; this.hi[r] = 0; return;
      default: this.lo[r] = v; this.hi[r] = vhi;
    }
  }

  // ---------------------------------------------------------------- linear memory
  /** Effective address of a segment:offset for an access of `size` bytes; applies limit/canonical checks. */
  linear(seg: number, off: number, size: number, write: boolean): number {
    if (this.mode === MODE_LONG) {
      if (seg >= FS) return this.canonicalAdd(this.segBase[seg], off, seg);
      // a non-canonical stack reference is #SS(0), not #GP(0) (SDM Vol. 3A, "Interrupt 12—Stack Fault")
      if (seg === SS && (off >= 140737488355328 || off < -140737488355328)) throw new CpuFault(SS_, 0);
      return off;
    }
    return this.legacyLinear(seg, off, size, write);
  }
  private canonicalAdd(base: number, off: number, _seg: number): number {
    let la = base + off;
    if (la >= 2 ** 63) la -= 2 ** 64; else if (la < -(2 ** 63)) la += 2 ** 64;
    return la;
  }
  legacyLinear(seg: number, off: number, size: number, write: boolean): number {
    if (this.mode === MODE_REAL || this.mode === MODE_V86) {
      // Real mode still checks the (cached) limit: offsets beyond 0xFFFF fault (#GP, #SS for SS).
      if (off + size - 1 > this.segLimit[seg]) throw new CpuFault(seg === SS ? SS_ : GP, 0);
      return (this.segBase[seg] + off) >>> 0;
    }
    const ar = this.segAr[seg];
    const fault = seg === SS ? SS_ : GP;
    if (!(ar & AR_P) || (ar & 0x10000)) throw new CpuFault(fault, 0);
    const type = ar & 0xf;
    if (write) { if ((type & 0xa) !== 2) throw new CpuFault(fault, 0); }   // data, writable
    else if ((type & 0xa) === 8) throw new CpuFault(fault, 0);             // execute-only code
    const limit = this.segLimit[seg];
    if ((type & 0xc) === 4) {
      // expand-down data segment: valid offsets are limit+1 .. 0xFFFF or 0xFFFFFFFF
      const top = ar & AR_DB ? 0xffffffff : 0xffff;
      if (off <= limit || off + size - 1 > top) throw new CpuFault(fault, 0);
    } else if (off + size - 1 > limit) throw new CpuFault(fault, 0);
    return (this.segBase[seg] + off) >>> 0;
  }

  // Reads: fast path through the TLB set, slow path walks. 8/16/32 return unsigned for 8/16 and int32 for 32.
  rd8(la: number): number {
    const i = (la >>> 12) & TLB_MASK, t = this.tR;
    if (t.tag[i] === la - (la & 0xfff)) return t.view[i].getUint8(t.off[i] + (la & 0xfff));
    return this.readSlow(la, 1, this.cpl === 3);
  }
  rd16(la: number): number {
    const o = la & 0xfff, i = (la >>> 12) & TLB_MASK, t = this.tR;
    if (t.tag[i] === la - o && o < 0xfff) return t.view[i].getUint16(t.off[i] + o, true);
    return this.readSlow(la, 2, this.cpl === 3);
  }
  rd32(la: number): number {
    const o = la & 0xfff, i = (la >>> 12) & TLB_MASK, t = this.tR;
    if (t.tag[i] === la - o && o < 0xffd) return t.view[i].getInt32(t.off[i] + o, true);
    return this.readSlow(la, 4, this.cpl === 3) | 0;
  }
  /** 64-bit read: returns the low half, the high half in `vhi`. */
  rd64(la: number): number {
    const o = la & 0xfff, i = (la >>> 12) & TLB_MASK, t = this.tR;
    if (t.tag[i] === la - o && o < 0xff9) {
      const v = t.view[i], b = t.off[i] + o;
      this.vhi = v.getInt32(b + 4, true);
      return v.getInt32(b, true);
    }
    const lo = this.readSlow(la, 4, this.cpl === 3) | 0;
    this.vhi = this.readSlow(la + 4, 4, this.cpl === 3) | 0;
    return lo;
  }
  wr8(la: number, v: number): void {
    const i = (la >>> 12) & TLB_MASK, t = this.tW;
    if (t.tag[i] === la - (la & 0xfff)) { t.view[i].setUint8(t.off[i] + (la & 0xfff), v); return; }
    this.writeSlow(la, 1, v, this.cpl === 3);
  }
  wr16(la: number, v: number): void {
    const o = la & 0xfff, i = (la >>> 12) & TLB_MASK, t = this.tW;
    if (t.tag[i] === la - o && o < 0xfff) { t.view[i].setUint16(t.off[i] + o, v, true); return; }
    this.writeSlow(la, 2, v, this.cpl === 3);
  }
  wr32(la: number, v: number): void {
    const o = la & 0xfff, i = (la >>> 12) & TLB_MASK, t = this.tW;
    if (t.tag[i] === la - o && o < 0xffd) { t.view[i].setInt32(t.off[i] + o, v, true); return; }
    this.writeSlow(la, 4, v, this.cpl === 3);
  }
  wr64(la: number, lo: number, hi: number): void {
    const o = la & 0xfff, i = (la >>> 12) & TLB_MASK, t = this.tW;
    if (t.tag[i] === la - o && o < 0xff9) { const v = t.view[i], b = t.off[i] + o; v.setInt32(b, lo, true); v.setInt32(b + 4, hi, true); return; }
    // Check both halves' pages before writing either (a fault must leave memory unchanged).
    if (((la + 7) & 0xfff) < 7) { this.probeWrite(la, 8); }
    this.writeSlow(la, 4, lo, this.cpl === 3);
    this.writeSlow(la + 4, 4, hi, this.cpl === 3);
  }
  /** Fault now if [la, la+len) is not writable (used before multi-part writes). */
  probeWrite(la: number, len: number): void {
    this.translateFor(la, K_WRITE, this.cpl === 3);
    this.translateFor(la + len - 1, K_WRITE, this.cpl === 3);
  }
  probeRead(la: number, len: number): void {
    this.translateFor(la, K_READ, this.cpl === 3);
    this.translateFor(la + len - 1, K_READ, this.cpl === 3);
  }

  /** Translations made by `translateFor` (TLB misses and uncached accesses): statistics and tests. */
  tlbMisses = 0;
  /** Translate with canonical check; fills the TLB set for (kind, user) when allowed. */
  translateFor(la: number, kind: number, user: boolean): number {
    this.tlbMisses++;
    if (this.mode === MODE_LONG || this.efer & EFER_LMA) {
      if (la >= 140737488355328 || la < -140737488355328) throw new CpuFault(GP, 0);
    } else la = la >>> 0;
    // With EPT the walk is nested and the TLB caches guest-linear → host-physical (DESIGN.md #4).
    let pa = this.ept === null ? translate(this, la, kind, user) : translateNested(this, la, kind, user);
    // A20 gate closed: physical address bit 20 reads as 0 (the 8086 wrap-around a PC emulates)
    if (!this.a20 && (pa % 0x200000) >= 0x100000) pa -= 0x100000;
    const ppage = Math.floor(pa / 4096);
    if (this.walkCacheable && this.bus.isRamPage(ppage) && !this.implicitAccess && !this.drData &&
        (this.watch === null || !this.watch.pages.has(Math.floor(la / 4096)))) {
      // write entries never map a page holding decoded code (writes there must reach the code cache)
      if (kind === K_WRITE && this.bus.codePages.has(ppage)) return pa;
      const base = ppage * 4096;
      const view = this.bus.ram.view(base);
      this.tlb.sets[kind * 2 + (user ? 1 : 0)].fill(la - (la & 0xfff), view, base % (1 << 20), ppage, this.walkGlobal,
        this.ept !== null || (this.cr0 & CR0_PG) ? this.walkPageMask : 0xfff);
    }
    return pa;
  }

  readSlow(la: number, size: number, user: boolean): number {
    if (this.drData && !this.implicitAccess) this.pendingDb |= dataMatches(this, la, size, false);
    if (this.watch !== null && this.watch.hit(la, size, false)) this.codeDirty = true;
    const o = la & 0xfff;
    if (o + size <= 4096) {
      const pa = this.translateFor(la, K_READ, user);
      return this.bus.read(pa, size as 1 | 2 | 4);
    }
    // page-crossing: both translations first, then the bytes
    const n1 = 4096 - o;
    const pa1 = this.translateFor(la, K_READ, user);
    const pa2 = this.translateFor(la + n1, K_READ, user);
    let v = 0;
    for (let k = 0; k < size; k++) v += this.bus.read8(k < n1 ? pa1 + k : pa2 + k - n1) * 2 ** (8 * k);
    return v;
  }
  writeSlow(la: number, size: number, v: number, user: boolean): void {
    if (this.drData && !this.implicitAccess) this.pendingDb |= dataMatches(this, la, size, true);
    if (this.watch !== null && this.watch.hit(la, size, true)) this.codeDirty = true;
    const o = la & 0xfff;
    if (o + size <= 4096) {
      const pa = this.translateFor(la, K_WRITE, user);
      this.bus.write(pa, size as 1 | 2 | 4, v);
      return;
    }
    const n1 = 4096 - o;
    const pa1 = this.translateFor(la, K_WRITE, user);
    const pa2 = this.translateFor(la + n1, K_WRITE, user);
    for (let k = 0; k < size; k++) this.bus.write8(k < n1 ? pa1 + k : pa2 + k - n1, (v >>> (8 * k)) & 0xff);
  }

  /** Implicit supervisor-mode accesses (descriptor tables, TSS, IDT, stacks during delivery use normal accesses). */
  sysRead(la: number, size: 1 | 2 | 4): number {
    this.implicitAccess = true;
    try { return this.readSlow(this.mode === MODE_LONG || this.efer & EFER_LMA ? la : la >>> 0, size, false); }
    finally { this.implicitAccess = false; }
  }
  sysWrite(la: number, size: 1 | 2 | 4, v: number): void {
    this.implicitAccess = true;
    try { this.writeSlow(this.mode === MODE_LONG || this.efer & EFER_LMA ? la : la >>> 0, size, v, false); }
    finally { this.implicitAccess = false; }
  }

  /** Instruction fetch of one byte at linear address `la` (used by the decoder). */
  fetch8(la: number): number {
    const i = (la >>> 12) & TLB_MASK, t = this.tX;
    if (t.tag[i] === la - (la & 0xfff)) return t.view[i].getUint8(t.off[i] + (la & 0xfff));
    const pa = this.translateFor(la, K_EXEC, this.cpl === 3);
    return this.bus.read8(pa);
  }
  /** Physical address of an instruction fetch at `la` (fills the fetch TLB). */
  fetchPhys(la: number): number {
    const i = (la >>> 12) & TLB_MASK, t = this.tX;
    if (t.tag[i] === la - (la & 0xfff)) return t.ppage[i] * 4096 + (la & 0xfff);
    return this.translateFor(la, K_EXEC, this.cpl === 3);
  }

  /** Call after DR7 changes: arms breakpoint checks (and turns the fast TLB off for data breakpoints). */
  updateDebugRegs(): void {
    const a = armedBreakpoints(this.dr[7]);
    this.drExec = a.exec;
    if (a.data && !this.drData) this.flushAllTlbs(); // every context: DR7 is loaded by VM entry and exit too
    this.drData = a.data;
  }

  // ---------------------------------------------------------------- TLB maintenance
  /** The active context's epoch: changes whenever translations may change or another context becomes
   *  active (block chaining is valid only within an epoch). */
  tlbEpoch = 0;
  private epochSeq = 0;
  /** Translations of context `t` may have changed: give it a new epoch (block chains made in it end). */
  retagTlb(t: Tlb): void { t.epoch = ++this.epochSeq; if (t === this.tlb) this.tlbEpoch = t.epoch; }
  /** Make `t` the active context (VM entry / VM exit); the sets follow the current privilege. */
  useTlb(t: Tlb): void {
    if (t === this.tlb) return;
    this.tlb = t;
    const u = this.cpl === 3 ? 1 : 0;
    this.tR = t.sets[u]; this.tW = t.sets[2 + u]; this.tX = t.sets[4 + u];
    this.tlbEpoch = t.epoch;
  }
  /** Architectural invalidations (MOV to CR3/CR0/CR4, INVLPG, INVPCID...) act on the active context only. */
  flushTlb(keepGlobal = false): void { this.tlb.flush(keepGlobal); this.retagTlb(this.tlb); }
  flushPage(la: number): void { this.tlb.flushPage(la); this.retagTlb(this.tlb); }
  /** Changes that are not per context (A20, data breakpoints, debugger watchpoints) flush every context. */
  flushAllTlbs(): void { for (const t of this.tlbs) { t.flush(); this.retagTlb(t); } }
  /** A page now holds decoded code: drop write entries for it in every context so writes take the slow path. */
  protectCodePage(ppage: number): void {
    for (const t of this.tlbs) t.protectPhysPage(ppage);
  }

  /** Stop the machine cleanly with a message (never throws out of the run loop). */
  halt(reason: string, message: string): void {
    if (!this.stop) this.stop = new MachineStop(reason, message);
  }

  // Descriptor-derived convenience for debuggers
  get csBase(): number { return this.segBase[CS]; }
  segUsable(seg: number): boolean { return (this.segAr[seg] & 0x10000) === 0 && (this.segAr[seg] & AR_P) !== 0; }
  static readonly SEGS = { ES, CS, SS, DS, FS, GS, AR_S };
}
