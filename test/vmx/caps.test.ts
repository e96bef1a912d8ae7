import { describe, it, expect } from 'vitest';
import { createMachine } from '../cpu/helpers/machine.js';
import { CpuFault } from '../../src/cpu/fault.js';
import { cpuid } from '../../src/cpu/cpuid.js';
import { CR0_BITS, CR4_BITS } from '../../src/cpu/ops/sysregs.js';
import { setFeatureControl, eptpProblem } from '../../src/vmx/caps.js';
import { RCX, RAX, RDX } from '../../src/cpu/regs.js';

/**
 * The capability MSRs of SDM Vol. 3D Appendix A ("VMX Capability Reporting Facility"), read as a
 * hypervisor reads them (RDMSR). Expected bit positions come from the SDM; expected offers from
 * the project's list of controls vmxray implements.
 */
const bit = (n: number) => (2 ** n) >>> 0;
function rdmsr(msr: number): [number, number] {
  const m = createMachine();
  return m.cpu.msr.read(msr);
}
const ctl = (msr: number) => { const [a0, a1] = rdmsr(msr); return { allowed0: a0 >>> 0, allowed1: a1 >>> 0 }; };
const hasAll = (v: number, bits: number[]) => bits.every(b => (v & bit(b)) !== 0);
const hasNone = (v: number, bits: number[]) => bits.every(b => (v & bit(b)) === 0);

describe('VMX capability MSRs', () => {
  it('CPUID.1:ECX.VMX[bit 5] is set', () => {
    const m = createMachine();
    expect(cpuid(m.cpu, 1, 0)[2] & (1 << 5)).not.toBe(0);
  });

  it('IA32_VMX_BASIC: revision id with bit 31 clear, 4-KiB region, write-back, INS/OUTS info, TRUE controls', () => {
    const [lo, hi] = rdmsr(0x480);
    expect(lo >>> 31).toBe(0);
    expect(lo).not.toBe(0);
    expect(hi & 0x1fff).toBe(4096);             // bits 44:32
    expect((hi >>> 13) & 7).toBe(0);            // bits 47:45 reserved
    expect((hi >>> 16) & 1).toBe(0);            // bit 48: addresses not limited to 32 bits
    expect((hi >>> 17) & 1).toBe(0);            // bit 49: no dual-monitor treatment
    expect((hi >>> 18) & 0xf).toBe(6);          // bits 53:50: WB
    expect((hi >>> 22) & 1).toBe(1);            // bit 54
    expect((hi >>> 23) & 1).toBe(1);            // bit 55
    expect(hi >>> 25).toBe(0);                  // bits 63:57 reserved
  });

  it('every control MSR has allowed0 ⊆ allowed1, and the non-TRUE MSRs report the SDM default1 classes as fixed 1', () => {
    const pairs: [number, number, number][] = [[0x481, 0x48d, 0x16], [0x482, 0x48e, 0x0401e172], [0x483, 0x48f, 0x00036dff], [0x484, 0x490, 0x000011ff]];
    for (const [plain, tru, default1] of pairs) {
      const p = ctl(plain), t = ctl(tru);
      expect((p.allowed0 & ~p.allowed1) >>> 0, plain.toString(16)).toBe(0);
      expect((t.allowed0 & ~t.allowed1) >>> 0, tru.toString(16)).toBe(0);
      expect(p.allowed0, plain.toString(16)).toBe(default1);
      // TRUE MSRs: same allowed1; allowed0 may only drop default1 bits
      expect(t.allowed1, tru.toString(16)).toBe(p.allowed1);
      expect((t.allowed0 & ~p.allowed0) >>> 0, tru.toString(16)).toBe(0);
    }
    // the default1 bits vmxray lets software clear: CR3-load/store exiting, save/load debug controls
    expect(ctl(0x48e).allowed0).toBe(0x0401e172 & ~(bit(15) | bit(16)));
    expect(ctl(0x48f).allowed0).toBe(0x00036dff & ~bit(2));
    expect(ctl(0x490).allowed0).toBe(0x000011ff & ~bit(2));
    expect(ctl(0x48d).allowed0).toBe(0x16);
  });

  it('offers exactly the controls vmxray implements', () => {
    const pin = ctl(0x48d).allowed1, proc = ctl(0x48e).allowed1, proc2 = ctl(0x48b), exit = ctl(0x48f).allowed1, entry = ctl(0x490).allowed1;
    // pin: external-interrupt exiting 0, NMI exiting 3, virtual NMIs 5, preemption timer 6; not posted interrupts 7
    expect(pin).toBe((0x16 | bit(0) | bit(3) | bit(5) | bit(6)) >>> 0);
    // primary: 2 3 7 9 10 11 12 15 16 19 20 21 22 23 24 25 27 28 29 30 31; not tertiary (17)
    expect(proc).toBe((0x0401e172 | [2, 3, 7, 9, 10, 11, 12, 15, 16, 19, 20, 21, 22, 23, 24, 25, 27, 28, 29, 30, 31].reduce((a, b) => a | bit(b), 0)) >>> 0);
    expect(hasNone(proc, [17])).toBe(true);
    // secondary: EPT 1, descriptor-table exiting 2, RDTSCP 3, VPID 5, WBINVD 6, unrestricted guest 7, PLE 10, INVPCID 12
    expect(proc2.allowed0).toBe(0);
    expect(proc2.allowed1).toBe([1, 2, 3, 5, 6, 7, 10, 12].reduce((a, b) => a | bit(b), 0));
    // exit: save debug 2, host address-space size 9, ack interrupt 15, PAT 18/19, EFER 20/21, save preemption timer 22
    expect(exit).toBe((0x00036dff | [2, 9, 15, 18, 19, 20, 21, 22].reduce((a, b) => a | bit(b), 0)) >>> 0);
    // entry: load debug 2, IA-32e mode guest 9, load PAT 14, load EFER 15; not SMM (10, 11), not perf (13)
    expect(entry).toBe((0x000011ff | [2, 9, 14, 15].reduce((a, b) => a | bit(b), 0)) >>> 0);
  });

  it('IA32_VMX_MISC: timer rate, LMA store, HLT/shutdown/wait-for-SIPI, 4 CR3 targets, no VMWRITE to read-only fields', () => {
    const [lo, hi] = rdmsr(0x485);
    expect(lo & 0x1f).toBe(5);
    expect(hasAll(lo, [5, 6, 7, 8])).toBe(true);
    expect((lo >>> 9) & 0x1f).toBe(0);          // bits 13:9 reserved
    expect((lo >>> 16) & 0x1ff).toBe(4);
    expect((lo >>> 25) & 7).toBe(0);            // 512 MSRs per list
    expect(hasNone(lo, [14, 15, 28, 29, 30, 31])).toBe(true);
    expect(hi).toBe(0);                         // MSEG revision identifier
  });

  it('CR0/CR4 fixed bits: PE NE PG and VMXE must be 1; fixed1 is exactly what the CPU can set', () => {
    const [f0] = rdmsr(0x486), [f1] = rdmsr(0x487), [c0] = rdmsr(0x488), [c1] = rdmsr(0x489);
    expect(f0 >>> 0).toBe((bit(0) | bit(5) | bit(31)) >>> 0);
    expect(c0).toBe(bit(13));
    expect((f0 & ~f1) >>> 0).toBe(0);
    expect((c0 & ~c1) >>> 0).toBe(0);
    expect(f1 >>> 0).toBe(CR0_BITS);
    expect(c1 >>> 0).toBe(CR4_BITS);
    expect(rdmsr(0x486)[1]).toBe(0); expect(rdmsr(0x487)[1]).toBe(0); expect(rdmsr(0x489)[1]).toBe(0);
  });

  it('IA32_VMX_VMCS_ENUM reports index 23 (VMX-preemption timer value, 0x482E) as the highest', () => {
    expect(rdmsr(0x48a)).toEqual([23 << 1, 0]);
  });

  it('IA32_VMX_EPT_VPID_CAP: execute-only, 4-level walk, UC and WB, 2M/1G pages, INVEPT single+all, A/D; all INVVPID types', () => {
    const [lo, hi] = rdmsr(0x48c);
    expect(lo).toBe([0, 6, 8, 14, 16, 17, 20, 21, 25, 26].reduce((a, b) => a | bit(b), 0));
    expect(hi).toBe([0, 8, 9, 10, 11].reduce((a, b) => a | bit(b), 0));
  });

  it('MSRs of features not offered do not exist, and the capability MSRs are read-only (#GP)', () => {
    const m = createMachine();
    expect(() => m.cpu.msr.read(0x491)).toThrow(CpuFault); // IA32_VMX_VMFUNC
    expect(() => m.cpu.msr.read(0x492)).toThrow(CpuFault); // IA32_VMX_PROCBASED_CTLS3
    for (let msr = 0x480; msr <= 0x490; msr++) expect(() => m.cpu.msr.write(msr, 0, 0), msr.toString(16)).toThrow(CpuFault);
    // through the instructions: RDMSR 0x491 → #GP, RDMSR 0x480 works
    m.cpu.lo[RCX] = 0x491;
    expect(m.exec1('0f32')).toBe(13);
    m.cpu.lo[RCX] = 0x480;
    expect(m.exec1('0f32')).toBeUndefined();
    expect(m.cpu.lo[RAX]).toBe(rdmsr(0x480)[0]);
    expect(m.cpu.lo[RDX]).toBe(rdmsr(0x480)[1]);
  });

  it('IA32_FEATURE_CONTROL is locked with VMX outside SMX by default; WRMSR to it then #GPs', () => {
    const m = createMachine();
    expect(m.cpu.msr.read(0x3a)).toEqual([5, 0]);
    expect(() => m.cpu.msr.write(0x3a, 5, 0)).toThrow(CpuFault);
  });

  it('IA32_FEATURE_CONTROL can be left unlocked and 0; then it takes the lock and enable bits, not reserved ones', () => {
    const m = createMachine();
    setFeatureControl(m.cpu.msr, { locked: false });
    expect(m.cpu.msr.read(0x3a)).toEqual([0, 0]);
    expect(() => m.cpu.msr.write(0x3a, 2, 0)).toThrow(CpuFault);       // VMX inside SMX: no SMX
    expect(() => m.cpu.msr.write(0x3a, 1 << 20, 0)).toThrow(CpuFault);
    m.cpu.msr.write(0x3a, 4, 0);
    m.cpu.msr.write(0x3a, 5, 0);
    expect(m.cpu.msr.read(0x3a)).toEqual([5, 0]);
    expect(() => m.cpu.msr.write(0x3a, 4, 0)).toThrow(CpuFault);
  });

  it('EPTP validity follows the capabilities: WB and 4 levels yes, UC / other lengths / reserved bits no', () => {
    expect(eptpProblem(0x0001e01e, 0)).toBeNull();        // WB, 4-level
    expect(eptpProblem(0x0001e05e, 0)).toBeNull();        // + A/D
    expect(eptpProblem(0x0001e018, 0)).toBeNull();        // UC (memory type 0) is offered, as on hardware
    expect(eptpProblem(0x0001e01a, 0)).not.toBeNull();    // memory type 2 is reserved
    expect(eptpProblem(0x0001e016, 0)).not.toBeNull();    // 3-level
    expect(eptpProblem(0x0001e026, 0)).not.toBeNull();    // 5-level
    expect(eptpProblem(0x0001e09e, 0)).not.toBeNull();    // supervisor shadow stack
    expect(eptpProblem(0x0001e11e, 0)).not.toBeNull();    // bit 8 reserved
    expect(eptpProblem(0x0001e01e, 0x100)).not.toBeNull(); // bit 40 beyond MAXPHYADDR 40
  });
});
