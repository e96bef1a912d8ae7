import type { Machine } from '../machine/index.js';
import { MODE_LONG } from '../cpu/index.js';
import { REGISTERS, REGISTER_BY_NAME, type RegisterDef } from './registers.js';
import { debugWalk, toCpuLinear, type WalkResult } from './walk.js';
import { MAXPHYADDR } from '../cpu/mmu.js';

/**
 * A context is one world a debugger can look at (DESIGN.md "Contexts in GDB"): the processor as
 * it runs in VMX root operation (or with no VMX at all) is context 1; each guest vCPU (a launched
 * VMCS) becomes another context whose registers and memory are the guest's. gdb shows contexts as
 * inferiors (processes). Memory is addressed linearly through the context's own paging, or
 * physically when `physical` is set (the `monitor phys on` switch).
 */
export interface Context {
  readonly id: number;
  readonly name: string;
  /** 64-bit code (IA-32e mode with CS.L): decides how linear addresses are formed. */
  readonly longMode: boolean;
  readonly registers: readonly RegisterDef[];
  readRegister(name: string): bigint | null;
  /** Null on success, else why the value was refused. */
  writeRegister(name: string, v: bigint): string | null;
  /** Up to `len` bytes from `addr`; shorter when a byte is not readable (empty: none is). */
  readMemory(addr: bigint, len: number, physical: boolean): Uint8Array;
  /** Bytes written (stops at the first unwritable byte). */
  writeMemory(addr: bigint, data: Uint8Array, physical: boolean): number;
  /** The page walk of a linear address, level by level. */
  walk(addr: bigint): WalkResult;
}

/** The processor itself (VMX root operation, or no VMX). */
export class RootContext implements Context {
  readonly id = 1;
  /** Where the processor is now: outside VMX, VMX root operation, or running a guest (non-root). */
  get name(): string {
    const v = this.m.cpu.vmx;
    if (!v || !v.on) return 'cpu0 (not in VMX operation)';
    if (!v.nonRoot) return 'cpu0 (VMX root operation)';
    return `cpu0 (VMX non-root operation: the guest of VMCS 0x${v.currentPtr.toString(16)})`;
  }
  readonly registers = REGISTERS;
  /** Set when a debugger wrote RIP (a caught exception pending at the old RIP is then discarded). */
  ripWritten = false;
  constructor(private readonly m: Machine) {}

  get longMode(): boolean { return this.m.cpu.mode === MODE_LONG; }
  /** Linear addresses are 64-bit once IA-32e mode is active (compatibility-mode code included). */
  private get ia32e(): boolean { return (this.m.cpu.efer & (1 << 10)) !== 0; }

  readRegister(name: string): bigint | null {
    const d = REGISTER_BY_NAME.get(name);
    return d ? d.get(this.m.cpu) : null;
  }
  writeRegister(name: string, v: bigint): string | null {
    const d = REGISTER_BY_NAME.get(name);
    if (!d) return `no register ${name}`;
    const cpu = this.m.cpu;
    if (name === 'rip') this.ripWritten = true;
    const r = d.set(cpu, v & ((1n << BigInt(d.bits)) - 1n));
    if (r === null) cpu.flushTlb(); // CR/segment writes may change translations and the decoder mode
    return r;
  }

  private read32 = (pa: number): number => this.m.bus.isRamPage(Math.floor(pa / 4096)) ? this.m.bus.read(pa, 4) : 0;

  walk(addr: bigint): WalkResult {
    const cpu = this.m.cpu;
    const la = toCpuLinear(addr, this.ia32e);
    const regs = { cr0: cpu.cr0, cr3: cpu.cr3, cr4: cpu.cr4, efer: cpu.efer, pdptes: cpu.pdpte[8] === cpu.cr3 ? cpu.pdpte.subarray(0, 8) : undefined };
    if (la === null) {
      return { pa: null, pageSize: 0, levels: [], why: this.ia32e ? 'the address is not canonical' : 'the address is above 4 GiB outside IA-32e mode',
        writable: false, user: false, nx: false, mode: 'none' };
    }
    return debugWalk(this.read32, regs, la, MAXPHYADDR);
  }

  /** Physical address of byte `addr`, or null. */
  private phys(addr: bigint, physical: boolean): number | null {
    if (physical) return addr < 1n << BigInt(MAXPHYADDR) ? Number(addr) : null;
    const w = this.walk(addr);
    if (w.pa === null) return null;
    // A20 closed: physical bit 20 reads as 0 (as the CPU's own accesses)
    if (!this.m.cpu.a20 && (w.pa % 0x200000) >= 0x100000) return w.pa - 0x100000;
    return w.pa;
  }

  readMemory(addr: bigint, len: number, physical: boolean): Uint8Array {
    const out = new Uint8Array(len);
    let n = 0;
    while (n < len) {
      const a = addr + BigInt(n);
      const pa = this.phys(a, physical);
      // only RAM is read: a debugger read must not have device side effects (MMIO, unassigned)
      if (pa === null || !this.m.bus.isRamPage(Math.floor(pa / 4096))) break;
      const inPage = Math.min(len - n, 4096 - (pa % 4096));
      out.set(this.m.bus.readBytes(pa, inPage), n);
      n += inPage;
    }
    return out.subarray(0, n);
  }

  writeMemory(addr: bigint, data: Uint8Array, physical: boolean): number {
    let n = 0;
    while (n < data.length) {
      const pa = this.phys(addr + BigInt(n), physical);
      if (pa === null || !this.m.bus.isRamPage(Math.floor(pa / 4096))) break;
      const inPage = Math.min(data.length - n, 4096 - (pa % 4096));
      this.m.bus.writeBytes(pa, data.subarray(n, n + inPage)); // drops decoded code of the page
      n += inPage;
    }
    return n;
  }
}
