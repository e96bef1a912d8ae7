/**
 * Instructions in VMX non-root operation (SDM Vol. 3C, chapter "VMX Non-Root Operation"): the
 * VM exits of "Instructions That Cause VM Exits Unconditionally" and "Instructions That Cause VM
 * Exits Conditionally", and the changed behaviours of "Changes to Instruction Behavior in VMX
 * Non-Root Operation" (CR0/CR4 read shadows, SMSW, TSC offsetting, the TPR shadow, RDTSCP and
 * INVPCID enables). The VMX instructions themselves exit in instructions.ts/entry.ts.
 *
 * ONE table, INSTRUCTION_EXITS, keyed by the handler name of the instruction table
 * (src/cpu/table.ts `opts.h ?? mnemonic`): per instruction the faults that come first, the
 * control that makes it exit, the exit reason (SDM Vol. 3D Appendix C, "VMX Basic Exit Reasons"),
 * the exit qualification and the other exit-information fields (SDM Vol. 3C, "Basic VM-Exit
 * Information", "Exit Qualification for ...", "VM-Exit Instruction-Information Field"), and what
 * the instruction does instead when it does not exit. `withNonRootExits` wraps exactly the
 * registry handlers named in the table; a wrapped handler costs one test of `cpu.vmx.nonRoot` in
 * root operation, and handlers not in the table are not touched.
 *
 * Order ("Relative Priority of Faults and VM Exits"): invalid-opcode exceptions, faults based on
 * privilege level (CPL checks; privileged instructions in virtual-8086 mode) and the #GP of the
 * I/O permission check (IOPL and the TSS I/O bitmap) come BEFORE the exit; faults on fetching an
 * operand come before an exit that depends on that operand (LMSW); every other fault (reserved
 * bits of a CR value, a non-existent MSR, segment/limit/alignment faults of INS/OUTS, a page fault
 * on an LGDT operand) comes AFTER it: the exit wins. Exception: a MOV-DR exit takes priority over
 * the #GP for CPL > 0 and over the #UD for DR4/DR5 with CR4.DE = 1 (and, as KVM relies on, over the
 * general-detect #DB), per the MOV DR paragraph of "Instructions That Cause VM Exits Conditionally".
 *
 * Every exit reports the instruction length (d.len) — all of these instructions are in the list
 * of "VM-exit instruction length" in "Information for VM Exits Due to Instruction Execution".
 * Qualification values that are addresses or displacements are signed Numbers (the 64-bit value
 * sign-extended, as conventions.ts exitDisplacement); the exit writer splits them.
 *
 * Choices where the SDM leaves one:
 * - INS/OUTS instruction information (IA32_VMX_BASIC[54] = 1): the segment field, "undefined for
 *   INS", holds ES (0); bits the tables call undefined are 0.
 * - LGDT/LIDT/SGDT/SIDT instruction information bit 11 (operand size, "undefined for VM exits from
 *   64-bit mode") is 1 unless the operand size is 16 bits.
 * - The exit qualification of MWAIT is 0 (MONITOR is not offered, so monitoring is never armed).
 * - PAUSE-loop exiting measures time in TSC ticks of vmxray's virtual TSC (one per instruction).
 */
import type { CPU } from '../cpu/cpu.js';
import { MODE_LONG, MODE_REAL, MODE_V86 } from '../cpu/cpu.js';
import type { Insn, Handler } from '../cpu/insn.js';
import { CpuFault, VmExit, type VmExitInfo } from '../cpu/fault.js';
import { UD, GP, RAX, RCX, RDX, RSI, RDI, ES, FS, CR4_TSD, CR4_PCE, CR4_OSXSAVE } from '../cpu/regs.js';
import { FEATURES } from '../cpu/cpuid.js';
import { IA32_TSC, IA32_TSC_AUX } from '../cpu/msr.js';
import { requireCpl0 } from '../cpu/ops/sysregs.js';
import { checkIo } from '../cpu/ops/io.js';
import { ea } from '../cpu/ops/operands.js';
import { PROC, PROC2 } from './controls.js';
import { TSC_OFFSET, PLE_GAP, PLE_WINDOW } from './fields.js';
import { VMX_CAPS } from './caps.js';
import type { Vmcs } from './vmcs.js';
import type { VmxState } from './state.js';
import { memOperandInfo, withReg2 } from './conventions.js';
import { ioExits, msrExits } from './nonroot-bitmaps.js';
import {
  proc, proc2, crQualification, CR_MOV_TO, CR_MOV_FROM, CR_CLTS, CR_LMSW,
  movToCrExits, movFromCrExits, movToCrNonRoot, movFromCrNonRoot, cltsExits, cltsNonRoot,
  lmswExits, lmswNonRoot, lmswLinear, smswNonRoot,
} from './cr.js';
import { REASON } from './exit-reasons.js';

/** Basic exit reasons of the instructions below (SDM Vol. 3D Appendix C, "VMX Basic Exit Reasons"). */
export const INSTRUCTION_EXIT_REASON = REASON;

/** One row of the table. `op` is the value `operand` returned (0 without one). */
export interface InstructionExit {
  /** The SDM instruction(s) the row covers. */
  readonly insn: string;
  /** The control that makes it exit, as the SDM names it ('always' for unconditional exits). */
  readonly control: string;
  /** Basic exit reason; 0 for a row that only changes behaviour (SMSW never exits). */
  readonly reason: number;
  /** Faults that take priority over the exit (invalid opcode, privilege level, I/O permission). */
  readonly before?: (cpu: CPU, d: Insn, vmcs: Vmcs) => void;
  /** The operand the exit condition depends on, read after `before` (its faults come first). */
  readonly operand?: (cpu: CPU, d: Insn) => number;
  /** Does this execution exit? */
  readonly exits: (cpu: CPU, d: Insn, vmcs: Vmcs, op: number) => boolean;
  /** Exit qualification (0 where the SDM defines none). */
  readonly qualification?: (cpu: CPU, d: Insn, op: number) => number;
  /** Guest-linear address / instruction information, where the SDM defines them. */
  readonly info?: (cpu: CPU, d: Insn, op: number) => VmExitInfo;
  /** Non-root behaviour when it does not exit: perform the instruction and return true, or return false for the ordinary handler. */
  readonly otherwise?: (cpu: CPU, d: Insn, vmcs: Vmcs, op: number) => boolean;
}

// ------------------------------------------------------------------ conditions and faults

const always = (): boolean => true;
const never = (): boolean => false;
const onProc = (bit: number) => (_c: CPU, _d: Insn, v: Vmcs): boolean => (proc(v) & bit) !== 0;
const onProc2 = (bit: number) => (_c: CPU, _d: Insn, v: Vmcs): boolean => (proc2(v) & bit) !== 0;

function ud(): never { throw new CpuFault(UD); }
function gp(): never { throw new CpuFault(GP, 0); }
/** LLDT, LTR, SLDT, STR are not recognized in real-address and virtual-8086 mode (#UD). */
function requireProtected(cpu: CPU): void { if (cpu.mode === MODE_REAL || cpu.mode === MODE_V86) ud(); }
/** RDTSC/RDTSCP with CR4.TSD = 1 at CPL > 0: #GP(0) (a fault based on privilege level). */
function tscPrivilege(cpu: CPU): void { if ((cpu.cr4 & CR4_TSD) !== 0 && cpu.cpl !== 0) gp(); }

/** Exit qualification of the instructions with a memory operand: the displacement (0 for a register operand). */
const displacement = (_c: CPU, d: Insn): number => (d.rm >= 0 ? 0 : d.disp);

// ------------------------------------------------------------------ TSC offsetting

/**
 * The TSC as the guest sees it: with "use TSC offsetting" the TSC plus the TSC offset, a signed
 * 64-bit addition modulo 2^64 (SDM "Changes to Instruction Behavior in VMX Non-Root Operation",
 * RDTSC; "use TSC scaling" is not offered). Low half returned, high half in cpu.vhi.
 */
export function guestTsc(cpu: CPU, vmcs: Vmcs): number {
  const t = processorTsc(cpu);
  let lo = t >>> 0, hi = Math.floor(t / 4294967296) >>> 0;
  if ((proc(vmcs) & PROC.USE_TSC_OFFSETTING) !== 0) {
    const s = lo + vmcs.read(TSC_OFFSET);
    hi = (hi + vmcs.readHi(TSC_OFFSET) + (s > 0xffffffff ? 1 : 0)) >>> 0;
    lo = s >>> 0;
  }
  cpu.vhi = hi | 0;
  return lo | 0;
}
/** The processor's own TSC (virtual time); the guest's view adds the offset in 32-bit halves, where the SDM adds it. */
function processorTsc(cpu: CPU): number {
  return cpu.msr.tsc();
}
function putTsc(cpu: CPU, vmcs: Vmcs): void {
  const lo = guestTsc(cpu, vmcs);
  cpu.setReg(RAX, 4, lo, 0);
  cpu.setReg(RDX, 4, cpu.vhi, 0);
}
const offsetting = (v: Vmcs): boolean => (proc(v) & PROC.USE_TSC_OFFSETTING) !== 0;

// ------------------------------------------------------------------ PAUSE-loop exiting

/**
 * "PAUSE-loop exiting" (SDM "Instructions That Cause VM Exits Conditionally", PAUSE; "PAUSE-Loop
 * Exiting" controls PLE_Gap / PLE_Window): a PAUSE at CPL 0 more than PLE_Gap after the previous
 * one (or the first after VM entry) starts a loop; a PAUSE more than PLE_Window after the start of
 * its loop exits.
 */
function pauseLoopExpired(cpu: CPU, vmcs: Vmcs): boolean {
  const v = cpu.vmx!;
  const t = cpu.msr.tsc();
  if (t - v.pauseLast > vmcs.read(PLE_GAP)) v.pauseFirst = t;
  v.pauseLast = t;
  return t - v.pauseFirst > vmcs.read(PLE_WINDOW);
}
/** VM entry: the next PAUSE at CPL 0 is the first of a loop. */
export function resetPauseLoop(v: VmxState): void {
  v.pauseLast = -Infinity; v.pauseFirst = -Infinity;
}

// ------------------------------------------------------------------ I/O instructions

/** Port of IN/OUT: the immediate (E4-E7) or DX (EC-EF, INS, OUTS). */
function ioPort(cpu: CPU, d: Insn): number {
  return d.row[1].indexOf('I') >= 0 ? d.imm & 0xff : cpu.lo[RDX] & 0xffff;
}
/** The I/O permission check (IOPL, TSS I/O bitmap) comes first: "Relative Priority of Faults and VM Exits". */
const ioPermission = (cpu: CPU, d: Insn): void => checkIo(cpu, ioPort(cpu, d), d.osize);

/**
 * Exit qualification for I/O instructions: bits 2:0 size − 1 (0, 1, 3), bit 3 direction (1 = IN),
 * bit 4 string instruction, bit 5 REP prefixed, bit 6 operand encoding (1 = immediate), bits
 * 31:16 port number.
 */
function ioQualification(isIn: boolean, string: boolean) {
  return (_c: CPU, d: Insn, port: number): number =>
    ((d.osize - 1) | (isIn ? 8 : 0) | (string ? 0x10 : 0) | (string && d.rep !== 0 ? 0x20 : 0) |
      (d.row[1].indexOf('I') >= 0 ? 0x40 : 0) | (port << 16)) >>> 0;
}
/** Offset in (E/R)SI or (E/R)DI at the instruction's address size (64-bit values in signed Number form). */
function stringOffset(cpu: CPU, r: number, asize: number): number {
  return asize === 8 ? cpu.hi[r] * 4294967296 + (cpu.lo[r] >>> 0) : asize === 4 ? cpu.lo[r] >>> 0 : cpu.lo[r] & 0xffff;
}
/**
 * INS/OUTS: the guest-linear address field gets the linear address of the string operand, ES:(E/R)DI
 * for INS and seg:(E/R)SI for OUTS, computed without the segment checks the exit takes priority over
 * (bits 63:32 clear outside 64-bit mode); the instruction-information field (only when
 * IA32_VMX_BASIC[54] = 1) gets the address size (9:7) and the segment register (17:15).
 */
function stringInfo(isIns: boolean) {
  return (cpu: CPU, d: Insn): VmExitInfo => {
    const seg = isIns ? ES : d.seg;
    const off = stringOffset(cpu, isIns ? RDI : RSI, d.asize);
    const la = cpu.mode === MODE_LONG ? (seg >= FS ? cpu.segBase[seg] + off : off) : (cpu.segBase[seg] + off) >>> 0;
    const info: VmExitInfo = { guestLinear: la };
    if (VMX_CAPS.basic.insOutsInfo) info.instructionInfo = (((d.asize === 2 ? 0 : d.asize === 4 ? 1 : 2) << 7) | ((seg & 7) << 15)) >>> 0;
    return info;
  };
}
function ioRow(insn: string, isIn: boolean, string: boolean): InstructionExit {
  return {
    insn, control: '"use I/O bitmaps" (bitmap bits), else "unconditional I/O exiting"', reason: INSTRUCTION_EXIT_REASON.IO_INSTRUCTION,
    before: ioPermission,
    operand: ioPort,
    exits: (cpu, d, v, port) => ioExits(cpu.bus, v, port, d.osize),
    qualification: ioQualification(isIn, string),
    info: string ? stringInfo(isIn) : undefined,
  };
}

// ------------------------------------------------------------------ descriptor-table instructions

/**
 * Instruction information for LGDT/LIDT/SGDT/SIDT (identity 0 SGDT, 1 SIDT, 2 LGDT, 3 LIDT in
 * bits 29:28; bit 11 operand size) and LLDT/LTR/SLDT/STR (identity 0 SLDT, 1 STR, 2 LLDT, 3 LTR;
 * register operands in bits 6:3 with bit 10 set) — SDM "VM-Exit Instruction-Information Field".
 */
function gdtInfo(identity: (d: Insn) => number) {
  return (cpu: CPU, d: Insn): VmExitInfo =>
    ({ instructionInfo: (memOperandInfo(cpu, d) | (d.osize === 2 ? 0 : 1 << 11) | (identity(d) << 28)) >>> 0 });
}
function ldtInfo(identity: (d: Insn) => number) {
  return (cpu: CPU, d: Insn): VmExitInfo => ({ instructionInfo: (memOperandInfo(cpu, d) | (identity(d) << 28)) >>> 0 });
}

// ------------------------------------------------------------------ the table

const CR_CONTROL = 'CR0/CR4: guest/host mask vs read shadow; CR3: "CR3-load/store exiting" and the CR3-target values; ' +
  'CR8: "CR8-load/store exiting"';

export const INSTRUCTION_EXITS: Readonly<Record<string, InstructionExit>> = {
  // ---- "Instructions That Cause VM Exits Unconditionally" (GETSEC: #UD first, CR4.SMXE cannot be set)
  cpuid: { insn: 'CPUID', control: 'always', reason: INSTRUCTION_EXIT_REASON.CPUID, exits: always },
  invd: { insn: 'INVD', control: 'always', reason: INSTRUCTION_EXIT_REASON.INVD, before: requireCpl0, exits: always },
  xsetbv: {
    insn: 'XSETBV', control: 'always', reason: INSTRUCTION_EXIT_REASON.XSETBV,
    before: cpu => { if ((cpu.cr4 & CR4_OSXSAVE) === 0) ud(); requireCpl0(cpu); },
    exits: always,
  },

  // ---- "Instructions That Cause VM Exits Conditionally"
  clts: {
    insn: 'CLTS', control: 'CR0.TS set in both the CR0 guest/host mask and the CR0 read shadow', reason: INSTRUCTION_EXIT_REASON.CR_ACCESS,
    before: requireCpl0, exits: cltsExits, qualification: () => crQualification(0, CR_CLTS, 0, false, 0),
    otherwise: cltsNonRoot,
  },
  hlt: { insn: 'HLT', control: 'PROC.HLT_EXITING', reason: INSTRUCTION_EXIT_REASON.HLT, before: requireCpl0, exits: onProc(PROC.HLT_EXITING) },
  in: ioRow('IN', true, false),
  out: ioRow('OUT', false, false),
  ins: ioRow('INS/INSB/INSW/INSD', true, true),
  outs: ioRow('OUTS/OUTSB/OUTSW/OUTSD', false, true),
  invlpg: {
    insn: 'INVLPG', control: 'PROC.INVLPG_EXITING', reason: INSTRUCTION_EXIT_REASON.INVLPG, before: requireCpl0,
    exits: onProc(PROC.INVLPG_EXITING),
    // "Exit Qualification for ... INVLPG": the linear-address operand (bits 63:32 clear outside 64-bit mode)
    qualification: (cpu, d) => {
      const off = ea(cpu, d);
      return cpu.mode === MODE_LONG ? (d.seg >= FS ? cpu.segBase[d.seg] + off : off) : (cpu.segBase[d.seg] + off) >>> 0;
    },
  },
  invpcid: {
    insn: 'INVPCID', control: 'PROC.INVLPG_EXITING and PROC2.ENABLE_INVPCID', reason: INSTRUCTION_EXIT_REASON.INVPCID,
    // "enable INVPCID" = 0: #UD ("Changes to Instruction Behavior in VMX Non-Root Operation", INVPCID)
    before: (cpu, _d, v) => {
      if (!FEATURES.invpcid || cpu.mode === MODE_V86 || (proc2(v) & PROC2.ENABLE_INVPCID) === 0) ud();
      requireCpl0(cpu);
    },
    exits: onProc(PROC.INVLPG_EXITING),
    qualification: displacement,
    info: (cpu, d) => ({ instructionInfo: withReg2(memOperandInfo(cpu, d), d.reg) }),
  },
  load_dtr: {
    insn: 'LGDT/LIDT', control: 'PROC2.DESCRIPTOR_TABLE_EXITING', reason: INSTRUCTION_EXIT_REASON.GDTR_IDTR_ACCESS, before: requireCpl0,
    exits: onProc2(PROC2.DESCRIPTOR_TABLE_EXITING), qualification: displacement, info: gdtInfo(d => 2 + d.op),
  },
  store_dtr: {
    insn: 'SGDT/SIDT', control: 'PROC2.DESCRIPTOR_TABLE_EXITING', reason: INSTRUCTION_EXIT_REASON.GDTR_IDTR_ACCESS,
    exits: onProc2(PROC2.DESCRIPTOR_TABLE_EXITING), qualification: displacement, info: gdtInfo(d => d.op),
  },
  lldt: {
    insn: 'LLDT', control: 'PROC2.DESCRIPTOR_TABLE_EXITING', reason: INSTRUCTION_EXIT_REASON.LDTR_TR_ACCESS,
    before: cpu => { requireProtected(cpu); requireCpl0(cpu); },
    exits: onProc2(PROC2.DESCRIPTOR_TABLE_EXITING), qualification: displacement, info: ldtInfo(() => 2),
  },
  ltr: {
    insn: 'LTR', control: 'PROC2.DESCRIPTOR_TABLE_EXITING', reason: INSTRUCTION_EXIT_REASON.LDTR_TR_ACCESS,
    before: cpu => { requireProtected(cpu); requireCpl0(cpu); },
    exits: onProc2(PROC2.DESCRIPTOR_TABLE_EXITING), qualification: displacement, info: ldtInfo(() => 3),
  },
  store_sysreg: {
    insn: 'SLDT/STR', control: 'PROC2.DESCRIPTOR_TABLE_EXITING', reason: INSTRUCTION_EXIT_REASON.LDTR_TR_ACCESS, before: requireProtected,
    exits: onProc2(PROC2.DESCRIPTOR_TABLE_EXITING), qualification: displacement, info: ldtInfo(d => d.op === 7 ? 1 : 0),
  },
  lmsw: {
    insn: 'LMSW', control: 'CR0 guest/host mask bits 3:0 vs CR0 read shadow', reason: INSTRUCTION_EXIT_REASON.CR_ACCESS, before: requireCpl0,
    operand: (cpu, d) => (d.rm >= 0 ? cpu.lo[d.rm] & 0xffff : cpu.rd16(lmswLinear(cpu, d)!)),
    exits: (_c, _d, v, src) => lmswExits(v, src),
    qualification: (_c, d, src) => crQualification(0, CR_LMSW, 0, d.rm < 0, src),
    info: (cpu, d) => (d.rm >= 0 ? {} : { guestLinear: lmswLinear(cpu, d) }),
    otherwise: (cpu, _d, v, src) => { lmswNonRoot(cpu, v, src); return true; },
  },
  monitor: {
    insn: 'MONITOR', control: 'PROC.MONITOR_EXITING', reason: INSTRUCTION_EXIT_REASON.MONITOR,
    before: cpu => { if (!FEATURES.monitor) ud(); requireCpl0(cpu); }, exits: onProc(PROC.MONITOR_EXITING),
  },
  mwait: {
    insn: 'MWAIT', control: 'PROC.MWAIT_EXITING', reason: INSTRUCTION_EXIT_REASON.MWAIT,
    before: cpu => { if (!FEATURES.monitor) ud(); requireCpl0(cpu); }, exits: onProc(PROC.MWAIT_EXITING),
  },
  mov_from_cr: {
    insn: 'MOV from CR0/CR2/CR3/CR4/CR8', control: CR_CONTROL, reason: INSTRUCTION_EXIT_REASON.CR_ACCESS, before: requireCpl0,
    exits: movFromCrExits, qualification: (_c, d) => crQualification(d.reg, CR_MOV_FROM, d.rm, false, 0),
    otherwise: movFromCrNonRoot,
  },
  mov_to_cr: {
    insn: 'MOV to CR0/CR2/CR3/CR4/CR8', control: CR_CONTROL, reason: INSTRUCTION_EXIT_REASON.CR_ACCESS, before: requireCpl0,
    exits: movToCrExits, qualification: (_c, d) => crQualification(d.reg, CR_MOV_TO, d.rm, false, 0),
    otherwise: movToCrNonRoot,
  },
  // MOV DR: the exit comes before the CPL/virtual-8086 #GP, the CR4.DE #UD and the general-detect #DB (see the header)
  mov_from_dr: {
    insn: 'MOV from DR', control: 'PROC.MOV_DR_EXITING', reason: INSTRUCTION_EXIT_REASON.MOV_DR, exits: onProc(PROC.MOV_DR_EXITING),
    // "Exit Qualification for MOV DR": bits 2:0 DR number, bit 4 direction (1 = MOV from DR), bits 11:8 GPR
    qualification: (_c, d) => ((d.reg & 7) | 0x10 | ((d.rm & 15) << 8)) >>> 0,
  },
  mov_to_dr: {
    insn: 'MOV to DR', control: 'PROC.MOV_DR_EXITING', reason: INSTRUCTION_EXIT_REASON.MOV_DR, exits: onProc(PROC.MOV_DR_EXITING),
    qualification: (_c, d) => ((d.reg & 7) | ((d.rm & 15) << 8)) >>> 0,
  },
  pause: {
    insn: 'PAUSE', control: 'PROC.PAUSE_EXITING, else PROC2.PAUSE_LOOP_EXITING at CPL 0 (PLE_Gap, PLE_Window)',
    reason: INSTRUCTION_EXIT_REASON.PAUSE,
    exits: (cpu, _d, v) => (proc(v) & PROC.PAUSE_EXITING) !== 0 ||
      ((proc2(v) & PROC2.PAUSE_LOOP_EXITING) !== 0 && cpu.cpl === 0 && pauseLoopExpired(cpu, v)),
  },
  rdmsr: {
    insn: 'RDMSR', control: 'always, unless "use MSR bitmaps" and the read bitmap bit of ECX is 0', reason: INSTRUCTION_EXIT_REASON.RDMSR,
    before: requireCpl0, operand: cpu => cpu.lo[RCX] >>> 0,
    exits: (cpu, _d, v, msr) => msrExits(cpu.bus, v, msr, false),
    // RDMSR of IA32_TIME_STAMP_COUNTER with "use TSC offsetting" returns TSC + offset
    otherwise: (cpu, _d, v, msr) => { if (msr !== IA32_TSC || !offsetting(v)) return false; putTsc(cpu, v); return true; },
  },
  wrmsr: {
    insn: 'WRMSR', control: 'always, unless "use MSR bitmaps" and the write bitmap bit of ECX is 0', reason: INSTRUCTION_EXIT_REASON.WRMSR,
    before: requireCpl0, operand: cpu => cpu.lo[RCX] >>> 0,
    exits: (cpu, _d, v, msr) => msrExits(cpu.bus, v, msr, true),
    // WRMSR of IA32_TIME_STAMP_COUNTER writes the processor's TSC (the guest then reads value + offset)
    otherwise: (cpu, _d, _v, msr) => {
      if (msr !== IA32_TSC) return false;
      cpu.msr.write(IA32_TSC, cpu.lo[RAX], cpu.lo[RDX]);
      return true;
    },
  },
  rdpmc: {
    insn: 'RDPMC', control: 'PROC.RDPMC_EXITING', reason: INSTRUCTION_EXIT_REASON.RDPMC,
    before: cpu => { if ((cpu.cr4 & CR4_PCE) === 0 && cpu.cpl !== 0) gp(); }, exits: onProc(PROC.RDPMC_EXITING),
  },
  rdtsc: {
    insn: 'RDTSC', control: 'PROC.RDTSC_EXITING', reason: INSTRUCTION_EXIT_REASON.RDTSC, before: tscPrivilege,
    exits: onProc(PROC.RDTSC_EXITING),
    otherwise: (cpu, _d, v) => { if (!offsetting(v)) return false; putTsc(cpu, v); return true; },
  },
  rdtscp: {
    insn: 'RDTSCP', control: 'PROC.RDTSC_EXITING and PROC2.ENABLE_RDTSCP', reason: INSTRUCTION_EXIT_REASON.RDTSCP,
    // "enable RDTSCP" = 0: #UD ("Changes to Instruction Behavior in VMX Non-Root Operation", RDTSCP)
    before: (cpu, _d, v) => { if ((proc2(v) & PROC2.ENABLE_RDTSCP) === 0) ud(); tscPrivilege(cpu); },
    exits: onProc(PROC.RDTSC_EXITING),
    otherwise: (cpu, _d, v) => {
      if (!offsetting(v)) return false;
      putTsc(cpu, v);
      cpu.setReg(RCX, 4, cpu.msr.read(IA32_TSC_AUX)[0] | 0, 0);
      return true;
    },
  },
  wbinvd: { insn: 'WBINVD', control: 'PROC2.WBINVD_EXITING', reason: INSTRUCTION_EXIT_REASON.WBINVD, before: requireCpl0, exits: onProc2(PROC2.WBINVD_EXITING) },

  // ---- "Changes to Instruction Behavior in VMX Non-Root Operation" only
  smsw: { insn: 'SMSW', control: 'never exits', reason: 0, exits: never, otherwise: smswNonRoot },
};

// ------------------------------------------------------------------ wrapping the registry

/** Run the non-root part of an instruction: faults with priority, the exit, or the changed behaviour. True = performed. */
function nonRoot(r: InstructionExit, cpu: CPU, d: Insn, vmcs: Vmcs): boolean {
  if (r.before !== undefined) r.before(cpu, d, vmcs);
  const op = r.operand !== undefined ? r.operand(cpu, d) : 0;
  if (r.exits(cpu, d, vmcs, op)) {
    const info = r.info !== undefined ? r.info(cpu, d, op) : {};
    info.instructionLength = d.len;
    throw new VmExit(r.reason, r.qualification !== undefined ? r.qualification(cpu, d, op) : 0, info);
  }
  return r.otherwise !== undefined ? r.otherwise(cpu, d, vmcs, op) : false;
}

/** `h` preceded, in VMX non-root operation, by the table row of handler `name` (h itself if the table has none). */
export function nonRootHandler(name: string, h: Handler): Handler {
  const r = INSTRUCTION_EXITS[name];
  if (r === undefined) return h;
  return (cpu, d) => {
    const v = cpu.vmx;
    if (v !== null && v.nonRoot && nonRoot(r, cpu, d, v.current!)) return;
    h(cpu, d);
  };
}

/** Wrap the handlers named in INSTRUCTION_EXITS (src/cpu/ops/index.ts applies it to the registry). */
export function withNonRootExits(handlers: Record<string, Handler>): Record<string, Handler> {
  for (const name of Object.keys(INSTRUCTION_EXITS)) {
    const h = handlers[name];
    if (h !== undefined) handlers[name] = nonRootHandler(name, h);
  }
  return handlers;
}
