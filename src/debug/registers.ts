import type { CPU } from '../cpu/index.js';
import { CpuFault, vectorName } from '../cpu/index.js';
import { writeCr0, writeCr3, writeCr4, getCr8 } from '../cpu/ops/sysregs.js';
import { readDescriptor } from '../cpu/segments.js';
import { IA32_EFER, IA32_KERNEL_GS_BASE } from '../cpu/msr.js';
import { CS, SS, DS, ES, FS, GS, LDTR, TR, MODE_REAL_OR_V86 } from './cpu-facts.js';

/**
 * The registers a debugger sees, by name (gdb's names where gdb has one: rax…r15, rip, eflags,
 * cs…gs, fs_base, gs_base, k_gs_base, st0–7, fctrl…fop, xmm0–15, mxcsr; ours for the rest).
 * Values are unsigned BigInts of `bits` bits (this is the debugger's path, not the hot path).
 * `set` applies the architectural rules where the CPU has them (MOV CR checks, WRMSR EFER):
 * it returns an error message instead of changing an invalid value.
 */
export interface RegisterDef {
  name: string;
  bits: number;
  get(cpu: CPU): bigint;
  set(cpu: CPU, v: bigint): string | null;
}

const M32 = 0xffffffffn, M64 = (1n << 64n) - 1n;
const lohi = (lo: number, hi: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
const num = (v: bigint) => Number(v);
const fromNum = (x: number) => (x < 0 ? BigInt(x) + (1n << 64n) : BigInt(x)) & M64;   // signed canonical / unsigned → u64
const toSigned = (v: bigint) => Number(v >= 1n << 63n ? v - (1n << 64n) : v);        // u64 → the CPU's signed form

function guarded(f: () => void): string | null {
  try { f(); return null; } catch (e) {
    if (e instanceof CpuFault) return `the processor refuses this value (${vectorName(e.vector)})`;
    throw e;
  }
}

const GPR = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const GPR_INDEX: Record<string, number> = { rax: 0, rcx: 1, rdx: 2, rbx: 3, rsp: 4, rbp: 5, rsi: 6, rdi: 7 };
const SEGS: [string, number][] = [['cs', CS], ['ss', SS], ['ds', DS], ['es', ES], ['fs', FS], ['gs', GS]];

/** Load a segment register from the descriptor tables as MOV would, without the privilege checks. */
function loadSelector(cpu: CPU, seg: number, sel: number): string | null {
  if (MODE_REAL_OR_V86(cpu)) {
    cpu.segSel[seg] = sel; cpu.segBase[seg] = sel * 16;
    return null;
  }
  if ((sel & 0xfffc) === 0) {
    if (seg === CS) return 'CS cannot hold a null selector';
    cpu.segSel[seg] = sel; cpu.segAr[seg] = 0x10000;
    return null;
  }
  return guarded(() => {
    const d = readDescriptor(cpu, sel);
    cpu.segSel[seg] = sel; cpu.segBase[seg] = d.base; cpu.segLimit[seg] = d.limit; cpu.segAr[seg] = d.ar;
    cpu.updateMode();
  });
}

function build(): RegisterDef[] {
  const r: RegisterDef[] = [];
  const add = (name: string, bits: number, get: (c: CPU) => bigint, set: (c: CPU, v: bigint) => string | null) => r.push({ name, bits, get, set });
  for (const n of GPR) {
    const i = GPR_INDEX[n] ?? Number(n.slice(1));
    add(n, 64, c => lohi(c.lo[i], c.hi[i]), (c, v) => { c.lo[i] = Number(v & M32) | 0; c.hi[i] = Number(v >> 32n) | 0; return null; });
  }
  add('rip', 64, c => fromNum(c.rip), (c, v) => { c.rip = c.nip = c.long64 ? toSigned(v) : num(v & M32); return null; });
  add('eflags', 32, c => BigInt(c.getFlags() >>> 0), (c, v) => { c.setFlags(num(v & M32)); return null; });
  for (const [n, s] of SEGS) add(n, 32, c => BigInt(c.segSel[s] & 0xffff), (c, v) => loadSelector(c, s, num(v & 0xffffn)));
  add('fs_base', 64, c => fromNum(c.segBase[FS]), (c, v) => { c.segBase[FS] = toSigned(v); return null; });
  add('gs_base', 64, c => fromNum(c.segBase[GS]), (c, v) => { c.segBase[GS] = toSigned(v); return null; });
  add('k_gs_base', 64, c => { const [lo, hi] = c.msr.read(IA32_KERNEL_GS_BASE); return lohi(lo, hi); },
    (c, v) => guarded(() => c.msr.write(IA32_KERNEL_GS_BASE, num(v & M32), num(v >> 32n))));
  // x87 (ST(i) order, 80-bit images) and its control registers as gdb's i387 layout has them
  for (let i = 0; i < 8; i++) {
    add(`st${i}`, 80, c => { const b = new Uint8Array(10); c.fpu.storeST(i, b, 0); let v = 0n; for (let k = 9; k >= 0; k--) v = (v << 8n) | BigInt(b[k]); return v; },
      (c, v) => { const b = new Uint8Array(10); for (let k = 0; k < 10; k++) b[k] = Number((v >> BigInt(8 * k)) & 0xffn); c.fpu.loadST(i, b, 0); return null; });
  }
  add('fctrl', 32, c => BigInt(c.fpu.cw), (c, v) => { c.fpu.setControlWord(num(v & 0xffffn)); return null; });
  add('fstat', 32, c => BigInt(c.fpu.statusWord()), (c, v) => { c.fpu.setStatusWord(num(v & 0xffffn)); return null; });
  add('ftag', 32, c => BigInt(c.fpu.tagWord()), (c, v) => { c.fpu.setTagWord(num(v & 0xffffn)); return null; });
  add('fiseg', 32, c => BigInt(c.fpu.fcs), (c, v) => { c.fpu.fcs = num(v & 0xffffn); return null; });
  add('fioff', 32, c => BigInt(c.fpu.fip >>> 0), (c, v) => { c.fpu.fip = num(v & M32); return null; });
  add('foseg', 32, c => BigInt(c.fpu.fds), (c, v) => { c.fpu.fds = num(v & 0xffffn); return null; });
  add('fooff', 32, c => BigInt(c.fpu.fdp >>> 0), (c, v) => { c.fpu.fdp = num(v & M32); return null; });
  add('fop', 32, c => BigInt(c.fpu.fop), (c, v) => { c.fpu.fop = num(v & 0x7ffn); return null; });
  for (let i = 0; i < 16; i++) {
    add(`xmm${i}`, 128, c => { let v = 0n; for (let k = 3; k >= 0; k--) v = (v << 32n) | BigInt(c.xmm[i * 4 + k] >>> 0); return v; },
      (c, v) => { for (let k = 0; k < 4; k++) c.xmm[i * 4 + k] = Number((v >> BigInt(32 * k)) & M32) | 0; return null; });
  }
  add('mxcsr', 32, c => BigInt(c.mxcsr >>> 0), (c, v) => {
    if (v & ~0xffffn) return 'MXCSR reserved bits must be 0';
    c.mxcsr = num(v); return null;
  });
  // system state (vmxray's own feature)
  add('cr0', 64, c => BigInt(c.cr0 >>> 0), (c, v) => guarded(() => writeCr0(c, num(v & M32), num(v >> 32n))));
  add('cr2', 64, c => fromNum(c.cr2), (c, v) => { c.cr2 = c.long64 ? toSigned(v) : num(v & M32); return null; });
  add('cr3', 64, c => fromNum(c.cr3), (c, v) => guarded(() => writeCr3(c, num(v & M32), num(v >> 32n))));
  add('cr4', 64, c => BigInt(c.cr4 >>> 0), (c, v) => guarded(() => writeCr4(c, num(v & M32), num(v >> 32n))));
  add('cr8', 64, c => BigInt(getCr8(c)), (c, v) => {
    if (v > 15n) return 'CR8 holds 4 bits';
    if (c.tpr) c.tpr.set(num(v) << 4); else c.cr8 = num(v);
    return null;
  });
  add('efer', 64, c => BigInt(c.efer >>> 0), (c, v) => guarded(() => c.msr.write(IA32_EFER, num(v & M32), num(v >> 32n))));
  add('gdtr_base', 64, c => fromNum(c.gdtBase), (c, v) => { c.gdtBase = c.long64 ? toSigned(v) : num(v & M32); return null; });
  add('gdtr_limit', 32, c => BigInt(c.gdtLimit), (c, v) => { c.gdtLimit = num(v & 0xffffn); return null; });
  add('idtr_base', 64, c => fromNum(c.idtBase), (c, v) => { c.idtBase = c.long64 ? toSigned(v) : num(v & M32); return null; });
  add('idtr_limit', 32, c => BigInt(c.idtLimit), (c, v) => { c.idtLimit = num(v & 0xffffn); return null; });
  add('ldtr', 32, c => BigInt(c.segSel[LDTR] & 0xffff), () => 'load LDTR with LLDT (or set ldtr_base/limit/attr)');
  add('tr', 32, c => BigInt(c.segSel[TR] & 0xffff), () => 'load TR with LTR (or set tr_base/limit/attr)');
  for (let i = 0; i < 8; i++) {
    if (i === 4 || i === 5) continue;
    add(`dr${i}`, 64, c => fromNum(c.dr[i]), (c, v) => {
      c.dr[i] = i < 4 ? toSigned(v) : num(v & M32);
      if (i === 7) c.updateDebugRegs();
      return null;
    });
  }
  // segment caches (base, limit, access rights in the VMCS format)
  for (const [n, s] of [...SEGS, ['ldtr', LDTR], ['tr', TR]] as [string, number][]) {
    add(`${n}_base`, 64, c => fromNum(c.segBase[s]), (c, v) => { c.segBase[s] = s >= FS ? toSigned(v) : num(v & M32); return null; });
    add(`${n}_limit`, 32, c => BigInt(c.segLimit[s] >>> 0), (c, v) => { c.segLimit[s] = num(v & M32); return null; });
    add(`${n}_attr`, 32, c => BigInt(c.segAr[s] >>> 0), (c, v) => { c.segAr[s] = num(v & 0x1f0ffn); c.updateMode(); return null; });
  }
  return r;
}

/** The register catalogue of a processor, by name. */
export const REGISTERS: readonly RegisterDef[] = build();
export const REGISTER_BY_NAME: ReadonlyMap<string, RegisterDef> = new Map(REGISTERS.map(d => [d.name, d]));
