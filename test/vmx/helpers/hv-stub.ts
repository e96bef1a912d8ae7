/**
 * A hypervisor stub in machine code for the VM entry / VM exit tests: VMXON, VMCLEAR, VMPTRLD, one
 * VMWRITE per field of a valid VMCS (valid-vmcs.ts long64(), adapted to the test machine of
 * test/cpu/helpers/machine.ts), VMLAUNCH; a HLT after it (reached on VMfail) and a HLT at HOST_RIP.
 * RFLAGS.IF is 0 in the host after a VM exit, so the HLT stops the run: the test then reads the
 * VMCS (cpu.vmx.current) and the CPU.
 *
 * Physical layout (identity-mapped by the machine's page tables):
 *   0x100000 host code   0x180000 HOST_RIP (HLT)   0x181000 more host code (VMRESUME ...)
 *   0x190000 guest code  0x1a0000 guest IDT        0x1b0000 guest stack top   0x1c0000 guest handlers
 *   0x300000 pointer slots   0x500000 VMXON region   0x501000 VMCS region   0x502000 MSR areas
 *   0x510000 EPT tables (identity map of the first 8 MiB with 2-MiB pages)
 */
import * as F from '../../../src/vmx/fields.js';
import { createMachine, hex, GDT, GDT_LIMIT, TSS, PML4, DATA, SEL, type Machine } from '../../cpu/helpers/machine.js';
import { CR4_VMXE } from '../../../src/cpu/regs.js';
import { long64, type MapVmcs } from './valid-vmcs.js';

export const HOST_CODE = 0x100000, HOST_RIP = 0x180000, HOST_MORE = 0x181000, HOST_RSP = 0x1f0000;
export const GUEST_CODE = 0x190000, GUEST_IDT = 0x1a0000, GUEST_STACK = 0x1b0000, GUEST_HANDLERS = 0x1c0000;
export const VMXON_REGION = 0x500000, VMCS_REGION = 0x501000, MSR_AREA = 0x502000, EPT_PML4 = 0x510000;
export const PTR_VMXON = DATA, PTR_VMCS = DATA + 8;

const le64 = (lo: number, hi = 0): string => {
  const b = Buffer.alloc(8); b.writeUInt32LE(lo >>> 0, 0); b.writeUInt32LE(hi >>> 0, 4); return b.toString('hex');
};
/** mov rcx, imm64; mov rax, imm64; vmwrite rcx, rax */
export const vmwrite = (enc: number, lo: number, hi = 0): string => `48b9${le64(enc)}48b8${le64(lo, hi)}0f79c8`;
/** mov rcx, enc; vmread rax, rcx */
export const vmread = (enc: number): string => `48b9${le64(enc)}0f78c8`;
export const VMLAUNCH = '0f01c2', VMRESUME = '0f01c3', HLT = 'f4', VMCALL = '0f01c1', UD2 = '0f0b';

export interface Hv {
  m: Machine;
  /** The fields the stub writes (edit before `launch`). */
  vmcs: MapVmcs;
  /** Put guest code at GUEST_CODE (or `at`). */
  guest(code: string, at?: number): void;
  /** Write an IDT gate (64-bit interrupt gate, DPL 0) of the guest IDT to `handler` code placed at GUEST_HANDLERS + 0x100 * n. */
  handler(vector: number, code: string, n?: number): number;
  /** Assemble the stub and run it (VMXON ... VMLAUNCH). */
  launch(max?: number): void;
  /** Run more host code at HOST_MORE (e.g. VMWRITEs and VMRESUME). */
  host(code: string, max?: number): void;
  /** A field of the current VMCS (low 32 bits). */
  field(enc: number): number;
  fieldHi(enc: number): number;
}

/** EPT identity map of 0..8 MiB with 2-MiB pages (R/W/X, memory type WB), at EPT_PML4. */
export function identityEpt(m: Machine): { lo: number; hi: number } {
  const pdpt = EPT_PML4 + 0x1000, pd = EPT_PML4 + 0x2000;
  m.bus.write32(EPT_PML4, pdpt | 7); m.bus.write32(EPT_PML4 + 4, 0);
  m.bus.write32(pdpt, pd | 7); m.bus.write32(pdpt + 4, 0);
  for (let i = 0; i < 4; i++) { m.bus.write32(pd + i * 8, (i << 21) | 0x80 | (6 << 3) | 7); m.bus.write32(pd + i * 8 + 4, 0); }
  return { lo: EPT_PML4 | (3 << 3) | 6, hi: 0 };
}

export function hypervisor(): Hv {
  const m = createMachine({ mode: 'long' });
  const cpu = m.cpu;
  cpu.cr4 |= CR4_VMXE;
  const rev = cpu.msr.read(0x480)[0];
  m.bus.write32(VMXON_REGION, rev); m.bus.write32(VMCS_REGION, rev);
  m.bus.write32(PTR_VMXON, VMXON_REGION); m.bus.write32(PTR_VMXON + 4, 0);
  m.bus.write32(PTR_VMCS, VMCS_REGION); m.bus.write32(PTR_VMCS + 4, 0);
  m.bus.writeBytes(HOST_RIP, hex(HLT));

  const v = long64().vmcs;
  // host state = the machine's own 64-bit state
  v.write(F.HOST_CR0, cpu.cr0); v.write(F.HOST_CR3, PML4); v.write(F.HOST_CR4, cpu.cr4);
  v.write(F.HOST_CS_SELECTOR, SEL.KCODE64);
  for (const s of [F.HOST_SS_SELECTOR, F.HOST_DS_SELECTOR, F.HOST_ES_SELECTOR, F.HOST_FS_SELECTOR, F.HOST_GS_SELECTOR]) v.write(s, SEL.KDATA);
  v.write(F.HOST_TR_SELECTOR, SEL.TSS);
  v.write(F.HOST_FS_BASE, 0); v.write(F.HOST_GS_BASE, 0);
  v.write(F.HOST_TR_BASE, TSS); v.write(F.HOST_GDTR_BASE, GDT); v.write(F.HOST_IDTR_BASE, 0x2000);
  v.write(F.HOST_RSP, HOST_RSP); v.write(F.HOST_RIP, HOST_RIP);
  // a 64-bit guest on the same page tables, with its own IDT and stack
  v.write(F.GUEST_CR0, cpu.cr0); v.write(F.GUEST_CR3, PML4); v.write(F.GUEST_CR4, cpu.cr4);
  const seg = (n: string, sel: number, base: number, limit: number, ar: number) => {
    const f = F as unknown as Record<string, number>;
    v.write(f[`GUEST_${n}_SELECTOR`], sel); v.write(f[`GUEST_${n}_BASE`], base);
    v.write(f[`GUEST_${n}_LIMIT`], limit); v.write(f[`GUEST_${n}_ACCESS_RIGHTS`], ar);
  };
  seg('CS', SEL.KCODE64, 0, 0xffffffff, 0xa09b);
  for (const s of ['SS', 'DS', 'ES', 'FS', 'GS']) seg(s, SEL.KDATA, 0, 0xffffffff, 0xc093);
  seg('TR', SEL.TSS, TSS, 0x67, 0x8b);
  seg('LDTR', 0, 0, 0, 0x10000);
  v.write(F.GUEST_GDTR_BASE, GDT); v.write(F.GUEST_GDTR_LIMIT, GDT_LIMIT);
  v.write(F.GUEST_IDTR_BASE, GUEST_IDT); v.write(F.GUEST_IDTR_LIMIT, 0xfff);
  v.write(F.GUEST_RIP, GUEST_CODE); v.write(F.GUEST_RSP, GUEST_STACK); v.write(F.GUEST_RFLAGS, 2);

  const hv: Hv = {
    m, vmcs: v,
    guest(code, at = GUEST_CODE) { m.bus.writeBytes(at, hex(code)); },
    handler(vector, code, n = 0) {
      const at = GUEST_HANDLERS + 0x100 * n;
      m.bus.writeBytes(at, hex(code));
      const g = GUEST_IDT + vector * 16;
      m.bus.write32(g, (SEL.KCODE64 << 16) | (at & 0xffff));
      m.bus.write32(g + 4, (at & 0xffff0000) | 0x8e00);
      m.bus.write32(g + 8, 0); m.bus.write32(g + 12, 0);
      return at;
    },
    launch(max = 100_000) {
      let code = `48b8${le64(PTR_VMXON)}f30fc730` + `48b8${le64(PTR_VMCS)}660fc730` + `48b8${le64(PTR_VMCS)}0fc730`;
      for (const [enc, [lo, hi]] of v.m) code += vmwrite(enc, lo, hi);
      code += VMLAUNCH + HLT;
      m.run(code, max, HOST_CODE);
    },
    host(code, max = 100_000) { m.run(code + HLT, max, HOST_MORE); },
    field: (enc) => cpu.vmx!.current!.read(enc),
    fieldHi: (enc) => cpu.vmx!.current!.readHi(enc),
  };
  return hv;
}
