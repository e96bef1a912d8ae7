/**
 * THE instruction table: every instruction vmxray decodes is one row here, in the SDM's
 * opcode and operand notation (Intel SDM Vol. 2, Appendix A "Opcode Map"):
 *
 *   opcode    hex bytes of the opcode, optionally preceded by a mandatory prefix (66, F2, F3,
 *             or NP = none of them) and followed by `/n` (ModRM.reg extension), `+r`
 *             (register in the low three bits) or one more hex byte = an exact ModRM value
 *             (0F 01 D0 XGETBV, D9 E8 FLD1).
 *   operands  comma-separated SDM operand codes: E G M R (ModRM), I J (immediate, relative),
 *             O (moffs), A (far pointer), S C D (segment/control/debug register in ModRM.reg),
 *             V W U (xmm), X Y (string source/destination), Z (register in opcode), fixed
 *             registers (AL, CL, DX, rAX, ...), `1`; followed by size codes b w d q v z y p s
 *             x dq ps pd ss sd. Our one addition: `Ibs` is an imm8 sign-extended to the operand
 *             size (the SDM marks this in prose), and `STi` an x87 register (ModRM.mod = 11).
 *   mnemonic  the SDM mnemonic; the handler of the same name executes it (or opts.h).
 *   flags     the arithmetic flags the instruction writes (documentation and tests).
 *   opts      lock: LOCK allowed · i64: invalid in 64-bit mode · o64: valid only in 64-bit mode ·
 *             d64: operand size defaults to 64 in 64-bit mode · f64: operand size forced to 64 in
 *             64-bit mode · end: ends a decoded block (control transfer or a mode/paging change) ·
 *             w: required REX.W value · op: constant handed to the handler · h: handler name ·
 *             cpuid: the CPUID feature the instruction belongs to.
 */
export interface RowOpts {
  lock?: boolean; i64?: boolean; o64?: boolean; d64?: boolean; f64?: boolean; end?: boolean;
  w?: 0 | 1; op?: number; h?: string; cpuid?: string; rep?: boolean;
}
export type Row = readonly [opcode: string, operands: string, mnemonic: string, flags: string, opts?: RowOpts];

const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const hex = (n: number) => n.toString(16).padStart(2, '0');
/** 16 rows of a condition-code family (Jcc, SETcc, CMOVcc): `op` is the condition code. */
function ccRows(base: number, prefix: string, operands: string, name: string, h: string, opts: RowOpts = {}): Row[] {
  return CC.map((c, i) => [`${prefix}${hex(base + i)}`, operands, `${name}${c}`, '', { ...opts, op: i, h }] as Row);
}
/** The eight ALU operations at 00, 08, ..., 38 in their six classic forms. */
function aluRows(): Row[] {
  const ops = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
  const rows: Row[] = [];
  ops.forEach((m, i) => {
    const lock = m !== 'cmp';
    const b = i * 8;
    rows.push(
      [hex(b), 'Eb,Gb', m, 'OSZAPC', { lock, op: i, h: 'alu_eg' }],
      [hex(b + 1), 'Ev,Gv', m, 'OSZAPC', { lock, op: i, h: 'alu_eg' }],
      [hex(b + 2), 'Gb,Eb', m, 'OSZAPC', { op: i, h: 'alu_ge' }],
      [hex(b + 3), 'Gv,Ev', m, 'OSZAPC', { op: i, h: 'alu_ge' }],
      [hex(b + 4), 'AL,Ib', m, 'OSZAPC', { op: i, h: 'alu_ai' }],
      [hex(b + 5), 'rAX,Iz', m, 'OSZAPC', { op: i, h: 'alu_ai' }],
      [`80 /${i}`, 'Eb,Ib', m, 'OSZAPC', { lock, op: i, h: 'alu_ei' }],
      [`81 /${i}`, 'Ev,Iz', m, 'OSZAPC', { lock, op: i, h: 'alu_ei' }],
      [`82 /${i}`, 'Eb,Ib', m, 'OSZAPC', { lock, op: i, h: 'alu_ei', i64: true }],
      [`83 /${i}`, 'Ev,Ibs', m, 'OSZAPC', { lock, op: i, h: 'alu_ei' }],
    );
  });
  return rows;
}
function shiftRows(): Row[] {
  const ops = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];
  const rows: Row[] = [];
  ops.forEach((m, i) => {
    const f = i < 4 ? 'OC' : 'OSZAPC';
    rows.push(
      [`c0 /${i}`, 'Eb,Ib', m, f, { op: i, h: 'shift' }],
      [`c1 /${i}`, 'Ev,Ib', m, f, { op: i, h: 'shift' }],
      [`d0 /${i}`, 'Eb,1', m, f, { op: i, h: 'shift' }],
      [`d1 /${i}`, 'Ev,1', m, f, { op: i, h: 'shift' }],
      [`d2 /${i}`, 'Eb,CL', m, f, { op: i, h: 'shift' }],
      [`d3 /${i}`, 'Ev,CL', m, f, { op: i, h: 'shift' }],
    );
  });
  return rows;
}

/** General-purpose instructions: one-byte map (SDM Vol. 2, Table A-2). */
const ONE_BYTE: Row[] = [
  ...aluRows(),
  ['06', 'ES', 'push', '', { i64: true, h: 'push_seg', op: 0 }],
  ['07', 'ES', 'pop', '', { i64: true, h: 'pop_seg', op: 0 }],
  ['0e', 'CS', 'push', '', { i64: true, h: 'push_seg', op: 1 }],
  ['16', 'SS', 'push', '', { i64: true, h: 'push_seg', op: 2 }],
  ['17', 'SS', 'pop', '', { i64: true, h: 'pop_seg', op: 2 }],
  ['1e', 'DS', 'push', '', { i64: true, h: 'push_seg', op: 3 }],
  ['1f', 'DS', 'pop', '', { i64: true, h: 'pop_seg', op: 3 }],
  ['27', '', 'daa', 'OSZAPC', { i64: true }],
  ['2f', '', 'das', 'OSZAPC', { i64: true }],
  ['37', '', 'aaa', 'OSZAPC', { i64: true }],
  ['3f', '', 'aas', 'OSZAPC', { i64: true }],
  ['40+r', 'Zv', 'inc', 'OSZAP', { i64: true, h: 'inc_z' }],
  ['48+r', 'Zv', 'dec', 'OSZAP', { i64: true, h: 'dec_z' }],
  ['50+r', 'Zv', 'push', '', { d64: true, h: 'push_z' }],
  ['58+r', 'Zv', 'pop', '', { d64: true, h: 'pop_z' }],
  ['60', '', 'pusha', '', { i64: true }],
  ['61', '', 'popa', '', { i64: true }],
  ['62', 'Gv,Ma', 'bound', '', { i64: true }],
  ['63', 'Ew,Gw', 'arpl', 'Z', { i64: true }],
  ['63', 'Gv,Ed', 'movsxd', '', { o64: true }],
  ['68', 'Iz', 'push', '', { d64: true, h: 'push_imm' }],
  ['69', 'Gv,Ev,Iz', 'imul', 'OSZAPC', { h: 'imul3' }],
  ['6a', 'Ibs', 'push', '', { d64: true, h: 'push_imm' }],
  ['6b', 'Gv,Ev,Ibs', 'imul', 'OSZAPC', { h: 'imul3' }],
  ['6c', 'Yb,DX', 'insb', '', { rep: true, h: 'ins' }],
  ['6d', 'Yz,DX', 'ins', '', { rep: true, h: 'ins' }],
  ['6e', 'DX,Xb', 'outsb', '', { rep: true, h: 'outs' }],
  ['6f', 'DX,Xz', 'outs', '', { rep: true, h: 'outs' }],
  ...ccRows(0x70, '', 'Jb', 'j', 'jcc', { f64: true, end: true }),
  ['84', 'Eb,Gb', 'test', 'OSZAPC', { h: 'test_eg' }],
  ['85', 'Ev,Gv', 'test', 'OSZAPC', { h: 'test_eg' }],
  ['86', 'Eb,Gb', 'xchg', '', { lock: true }],
  ['87', 'Ev,Gv', 'xchg', '', { lock: true }],
  ['88', 'Eb,Gb', 'mov', '', { h: 'mov_eg' }],
  ['89', 'Ev,Gv', 'mov', '', { h: 'mov_eg' }],
  ['8a', 'Gb,Eb', 'mov', '', { h: 'mov_ge' }],
  ['8b', 'Gv,Ev', 'mov', '', { h: 'mov_ge' }],
  ['8c', 'Ev,Sw', 'mov', '', { h: 'mov_from_seg' }],
  ['8d', 'Gv,M', 'lea', '', {}],
  ['8e', 'Sw,Ew', 'mov', '', { h: 'mov_to_seg', end: true }],
  ['8f /0', 'Ev', 'pop', '', { d64: true, h: 'pop_ev' }],
  ['f3 90', '', 'pause', '', {}],
  ['90', '', 'nop', '', {}],
  ['90+r', 'Zv,rAX', 'xchg', '', { h: 'xchg_ax' }],
  ['98', '', 'cbw', '', { h: 'cbw' }],
  ['99', '', 'cwd', '', { h: 'cwd' }],
  ['9a', 'Ap', 'call', '', { i64: true, h: 'call_far_imm', end: true }],
  ['9b', '', 'fwait', '', {}],
  ['9c', 'Fv', 'pushf', '', { d64: true }],
  ['9d', 'Fv', 'popf', 'OSZAPC', { d64: true, end: true }],
  ['9e', '', 'sahf', 'SZAPC', {}],
  ['9f', '', 'lahf', '', {}],
  ['a0', 'AL,Ob', 'mov', '', { h: 'mov_moffs' }],
  ['a1', 'rAX,Ov', 'mov', '', { h: 'mov_moffs' }],
  ['a2', 'Ob,AL', 'mov', '', { h: 'mov_moffs', op: 1 }],
  ['a3', 'Ov,rAX', 'mov', '', { h: 'mov_moffs', op: 1 }],
  ['a4', 'Yb,Xb', 'movsb', '', { rep: true, h: 'movs' }],
  ['a5', 'Yv,Xv', 'movs', '', { rep: true, h: 'movs' }],
  ['a6', 'Xb,Yb', 'cmpsb', 'OSZAPC', { rep: true, h: 'cmps' }],
  ['a7', 'Xv,Yv', 'cmps', 'OSZAPC', { rep: true, h: 'cmps' }],
  ['a8', 'AL,Ib', 'test', 'OSZAPC', { h: 'test_ai' }],
  ['a9', 'rAX,Iz', 'test', 'OSZAPC', { h: 'test_ai' }],
  ['aa', 'Yb,AL', 'stosb', '', { rep: true, h: 'stos' }],
  ['ab', 'Yv,rAX', 'stos', '', { rep: true, h: 'stos' }],
  ['ac', 'AL,Xb', 'lodsb', '', { rep: true, h: 'lods' }],
  ['ad', 'rAX,Xv', 'lods', '', { rep: true, h: 'lods' }],
  ['ae', 'AL,Yb', 'scasb', 'OSZAPC', { rep: true, h: 'scas' }],
  ['af', 'rAX,Yv', 'scas', 'OSZAPC', { rep: true, h: 'scas' }],
  ['b0+r', 'Zb,Ib', 'mov', '', { h: 'mov_zi' }],
  ['b8+r', 'Zv,Iv', 'mov', '', { h: 'mov_zi' }],
  ...shiftRows(),
  ['c2', 'Iw', 'ret', '', { f64: true, end: true }],
  ['c3', '', 'ret', '', { f64: true, end: true }],
  ['c4', 'Gz,Mp', 'les', '', { i64: true, h: 'load_far_ptr', op: 0 }],
  ['c5', 'Gz,Mp', 'lds', '', { i64: true, h: 'load_far_ptr', op: 3 }],
  ['c6 /0', 'Eb,Ib', 'mov', '', { h: 'mov_ei' }],
  ['c7 /0', 'Ev,Iz', 'mov', '', { h: 'mov_ei' }],
  ['c8', 'Iw,Ib', 'enter', '', { d64: true }],
  ['c9', '', 'leave', '', { d64: true }],
  ['ca', 'Iw', 'retf', '', { end: true }],
  ['cb', '', 'retf', '', { end: true }],
  ['cc', '', 'int3', '', { end: true }],
  ['cd', 'Ib', 'int', '', { end: true }],
  ['ce', '', 'into', '', { i64: true, end: true }],
  ['cf', '', 'iret', '', { end: true }],
  ['d4', 'Ib', 'aam', 'OSZAPC', { i64: true }],
  ['d5', 'Ib', 'aad', 'OSZAPC', { i64: true }],
  ['d6', '', 'salc', '', { i64: true }],
  ['d7', '', 'xlat', '', {}],
  ['e0', 'Jb', 'loopne', '', { f64: true, end: true, h: 'loop', op: 0 }],
  ['e1', 'Jb', 'loope', '', { f64: true, end: true, h: 'loop', op: 1 }],
  ['e2', 'Jb', 'loop', '', { f64: true, end: true, h: 'loop', op: 2 }],
  ['e3', 'Jb', 'jrcxz', '', { f64: true, end: true, h: 'loop', op: 3 }],
  ['e4', 'AL,Ib', 'in', '', {}],
  ['e5', 'eAX,Ib', 'in', '', {}],
  ['e6', 'Ib,AL', 'out', '', {}],
  ['e7', 'Ib,eAX', 'out', '', {}],
  ['e8', 'Jz', 'call', '', { f64: true, end: true }],
  ['e9', 'Jz', 'jmp', '', { f64: true, end: true }],
  ['ea', 'Ap', 'jmp', '', { i64: true, end: true, h: 'jmp_far_imm' }],
  ['eb', 'Jb', 'jmp', '', { f64: true, end: true }],
  ['ec', 'AL,DX', 'in', '', {}],
  ['ed', 'eAX,DX', 'in', '', {}],
  ['ee', 'DX,AL', 'out', '', {}],
  ['ef', 'DX,eAX', 'out', '', {}],
  ['f1', '', 'int1', '', { end: true }],
  ['f4', '', 'hlt', '', { end: true }],
  ['f5', '', 'cmc', 'C', {}],
  ['f6 /0', 'Eb,Ib', 'test', 'OSZAPC', { h: 'test_ei' }],
  ['f6 /1', 'Eb,Ib', 'test', 'OSZAPC', { h: 'test_ei' }],
  ['f6 /2', 'Eb', 'not', '', { lock: true }],
  ['f6 /3', 'Eb', 'neg', 'OSZAPC', { lock: true }],
  ['f6 /4', 'Eb', 'mul', 'OSZAPC', {}],
  ['f6 /5', 'Eb', 'imul', 'OSZAPC', { h: 'imul1' }],
  ['f6 /6', 'Eb', 'div', '', {}],
  ['f6 /7', 'Eb', 'idiv', '', {}],
  ['f7 /0', 'Ev,Iz', 'test', 'OSZAPC', { h: 'test_ei' }],
  ['f7 /1', 'Ev,Iz', 'test', 'OSZAPC', { h: 'test_ei' }],
  ['f7 /2', 'Ev', 'not', '', { lock: true }],
  ['f7 /3', 'Ev', 'neg', 'OSZAPC', { lock: true }],
  ['f7 /4', 'Ev', 'mul', 'OSZAPC', {}],
  ['f7 /5', 'Ev', 'imul', 'OSZAPC', { h: 'imul1' }],
  ['f7 /6', 'Ev', 'div', '', {}],
  ['f7 /7', 'Ev', 'idiv', '', {}],
  ['f8', '', 'clc', 'C', {}],
  ['f9', '', 'stc', 'C', {}],
  ['fa', '', 'cli', '', {}],
  ['fb', '', 'sti', '', { end: true }],
  ['fc', '', 'cld', '', {}],
  ['fd', '', 'std', '', {}],
  ['fe /0', 'Eb', 'inc', 'OSZAP', { lock: true }],
  ['fe /1', 'Eb', 'dec', 'OSZAP', { lock: true }],
  ['ff /0', 'Ev', 'inc', 'OSZAP', { lock: true }],
  ['ff /1', 'Ev', 'dec', 'OSZAP', { lock: true }],
  ['ff /2', 'Ev', 'call', '', { f64: true, end: true, h: 'call_ev' }],
  ['ff /3', 'Mp', 'call', '', { end: true, h: 'call_far_mem' }],
  ['ff /4', 'Ev', 'jmp', '', { f64: true, end: true, h: 'jmp_ev' }],
  ['ff /5', 'Mp', 'jmp', '', { end: true, h: 'jmp_far_mem' }],
  ['ff /6', 'Ev', 'push', '', { d64: true, h: 'push_ev' }],
];

/** General-purpose and system instructions of the 0F map (SDM Vol. 2, Table A-3). */
const TWO_BYTE: Row[] = [
  ['0f 00 /0', 'Ew', 'sldt', '', { h: 'store_sysreg', op: 6 }],
  ['0f 00 /1', 'Ew', 'str', '', { h: 'store_sysreg', op: 7 }],
  ['0f 00 /2', 'Ew', 'lldt', '', {}],
  ['0f 00 /3', 'Ew', 'ltr', '', {}],
  ['0f 00 /4', 'Ew', 'verr', 'Z', { h: 'verx', op: 0 }],
  ['0f 00 /5', 'Ew', 'verw', 'Z', { h: 'verx', op: 1 }],
  ['0f 01 c8', '', 'monitor', '', {}],
  ['0f 01 c9', '', 'mwait', '', { end: true }],
  ['0f 01 ca', '', 'clac', '', { cpuid: 'SMAP' }],
  ['0f 01 cb', '', 'stac', '', { cpuid: 'SMAP' }],
  ['0f 01 d0', '', 'xgetbv', '', {}],
  ['0f 01 d1', '', 'xsetbv', '', { end: true }],
  ['0f 01 f8', '', 'swapgs', '', { o64: true }],
  ['0f 01 f9', '', 'rdtscp', '', {}],
  ['0f 01 /0', 'Ms', 'sgdt', '', { h: 'store_dtr', op: 0 }],
  ['0f 01 /1', 'Ms', 'sidt', '', { h: 'store_dtr', op: 1 }],
  ['0f 01 /2', 'Ms', 'lgdt', '', { h: 'load_dtr', op: 0 }],
  ['0f 01 /3', 'Ms', 'lidt', '', { h: 'load_dtr', op: 1 }],
  ['0f 01 /4', 'Ew', 'smsw', '', {}],
  ['0f 01 /6', 'Ew', 'lmsw', '', { end: true }],
  ['0f 01 /7', 'Mb', 'invlpg', '', { end: true }],
  ['0f 02', 'Gv,Ew', 'lar', 'Z', {}],
  ['0f 03', 'Gv,Ew', 'lsl', 'Z', {}],
  ['0f 05', '', 'syscall', '', { end: true }],
  ['0f 06', '', 'clts', '', {}],
  ['0f 07', '', 'sysret', '', { end: true }],
  ['0f 08', '', 'invd', '', {}],
  ['0f 09', '', 'wbinvd', '', {}],
  ['0f 0b', '', 'ud2', '', { end: true }],
  ['0f 0d /1', 'Mb', 'prefetchw', '', { h: 'nop' }],
  ...[0, 2, 3, 4, 5, 6, 7].map(n => [`0f 0d /${n}`, 'Mb', 'prefetch', '', { h: 'nop' }] as Row),
  ['0f 18 /0', 'Mb', 'prefetchnta', '', { h: 'nop' }],
  ['0f 18 /1', 'Mb', 'prefetcht0', '', { h: 'nop' }],
  ['0f 18 /2', 'Mb', 'prefetcht1', '', { h: 'nop' }],
  ['0f 18 /3', 'Mb', 'prefetcht2', '', { h: 'nop' }],
  ['0f 1f /0', 'Ev', 'nop', '', {}],
  // 0F 18 /4–7 and 0F 19–0F 1F are "reserved NOP" hints: they execute as NOP Ev (SDM Vol. 2, NOP; Table A-3 note)
  ...[4, 5, 6, 7].map(n => [`0f 18 /${n}`, 'Ev', 'reservednop', '', { h: 'nop' }] as Row),
  ...[0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e].map(o => [`0f ${hex(o)}`, 'Ev', 'reservednop', '', { h: 'nop' }] as Row),
  ...[1, 2, 3, 4, 5, 6, 7].map(n => [`0f 1f /${n}`, 'Ev', 'reservednop', '', { h: 'nop' }] as Row),
  ['0f 20', 'Rd,Cd', 'mov', '', { f64: true, h: 'mov_from_cr' }],
  ['0f 21', 'Rd,Dd', 'mov', '', { f64: true, h: 'mov_from_dr' }],
  ['0f 22', 'Cd,Rd', 'mov', '', { f64: true, h: 'mov_to_cr', end: true }],
  ['0f 23', 'Dd,Rd', 'mov', '', { f64: true, h: 'mov_to_dr', end: true }],
  ['0f 30', '', 'wrmsr', '', { end: true }],
  ['0f 31', '', 'rdtsc', '', {}],
  ['0f 32', '', 'rdmsr', '', {}],
  ['0f 33', '', 'rdpmc', '', {}],
  ['0f 34', '', 'sysenter', '', { end: true }],
  ['0f 35', '', 'sysexit', '', { end: true }],
  ...ccRows(0x40, '0f ', 'Gv,Ev', 'cmov', 'cmovcc'),
  ...ccRows(0x80, '0f ', 'Jz', 'j', 'jcc', { f64: true, end: true }),
  ...ccRows(0x90, '0f ', 'Eb', 'set', 'setcc'),
  ['0f a0', 'FS', 'push', '', { d64: true, h: 'push_seg', op: 4 }],
  ['0f a1', 'FS', 'pop', '', { d64: true, h: 'pop_seg', op: 4 }],
  ['0f a2', '', 'cpuid', '', {}],
  ['0f a3', 'Ev,Gv', 'bt', 'C', { h: 'bt', op: 0 }],
  ['0f a4', 'Ev,Gv,Ib', 'shld', 'OSZAPC', { h: 'shld' }],
  ['0f a5', 'Ev,Gv,CL', 'shld', 'OSZAPC', { h: 'shld' }],
  ['0f a8', 'GS', 'push', '', { d64: true, h: 'push_seg', op: 5 }],
  ['0f a9', 'GS', 'pop', '', { d64: true, h: 'pop_seg', op: 5 }],
  ['0f ab', 'Ev,Gv', 'bts', 'C', { lock: true, h: 'bt', op: 1 }],
  ['0f ac', 'Ev,Gv,Ib', 'shrd', 'OSZAPC', { h: 'shrd' }],
  ['0f ad', 'Ev,Gv,CL', 'shrd', 'OSZAPC', { h: 'shrd' }],
  ['0f ae e8', '', 'lfence', '', { h: 'nop' }],
  ['0f ae f0', '', 'mfence', '', { h: 'nop' }],
  ['0f ae f8', '', 'sfence', '', { h: 'nop' }],
  ['0f ae /7', 'Mb', 'clflush', '', { h: 'nop' }],
  ['0f af', 'Gv,Ev', 'imul', 'OSZAPC', { h: 'imul2' }],
  ['0f b0', 'Eb,Gb', 'cmpxchg', 'OSZAPC', { lock: true }],
  ['0f b1', 'Ev,Gv', 'cmpxchg', 'OSZAPC', { lock: true }],
  ['0f b2', 'Gv,Mp', 'lss', '', { h: 'load_far_ptr', op: 2, end: true }],
  ['0f b3', 'Ev,Gv', 'btr', 'C', { lock: true, h: 'bt', op: 2 }],
  ['0f b4', 'Gv,Mp', 'lfs', '', { h: 'load_far_ptr', op: 4 }],
  ['0f b5', 'Gv,Mp', 'lgs', '', { h: 'load_far_ptr', op: 5 }],
  ['0f b6', 'Gv,Eb', 'movzx', '', {}],
  ['0f b7', 'Gv,Ew', 'movzx', '', {}],
  ['f3 0f b8', 'Gv,Ev', 'popcnt', 'OSZAPC', { cpuid: 'POPCNT' }],
  ['0f b9', 'Gv,Ev', 'ud1', '', { end: true }],
  ['0f ba /4', 'Ev,Ib', 'bt', 'C', { h: 'bt', op: 0 }],
  ['0f ba /5', 'Ev,Ib', 'bts', 'C', { lock: true, h: 'bt', op: 1 }],
  ['0f ba /6', 'Ev,Ib', 'btr', 'C', { lock: true, h: 'bt', op: 2 }],
  ['0f ba /7', 'Ev,Ib', 'btc', 'C', { lock: true, h: 'bt', op: 3 }],
  ['0f bb', 'Ev,Gv', 'btc', 'C', { lock: true, h: 'bt', op: 3 }],
  ['f3 0f bc', 'Gv,Ev', 'tzcnt', 'OSZAPC', { cpuid: 'BMI1' }],
  ['0f bc', 'Gv,Ev', 'bsf', 'OSZAPC', {}],
  ['f3 0f bd', 'Gv,Ev', 'lzcnt', 'OSZAPC', { cpuid: 'LZCNT' }],
  ['0f bd', 'Gv,Ev', 'bsr', 'OSZAPC', {}],
  ['0f be', 'Gv,Eb', 'movsx', '', {}],
  ['0f bf', 'Gv,Ew', 'movsx', '', {}],
  ['0f c0', 'Eb,Gb', 'xadd', 'OSZAPC', { lock: true }],
  ['0f c1', 'Ev,Gv', 'xadd', 'OSZAPC', { lock: true }],
  ['0f c7 /1', 'Mq', 'cmpxchg8b', 'Z', { lock: true, w: 0 }],
  ['0f c7 /1', 'Mdq', 'cmpxchg16b', 'Z', { lock: true, w: 1, o64: true }],
  ['0f c8+r', 'Zy', 'bswap', '', {}],
  ['0f ff', 'Gv,Ev', 'ud0', '', { end: true }],
  ['66 0f 38 f6', 'Gy,Ey', 'adcx', 'C', { cpuid: 'ADX' }],
  ['f3 0f 38 f6', 'Gy,Ey', 'adox', 'O', { cpuid: 'ADX' }],
];

/** x87 rows (SDM Vol. 2, Table) — see x87 section. */
const X87: Row[] = [
  // x87 rows are added by the x87 handlers' section below.
];

/** SSE/SSE2/SSE3/SSSE3/SSE4.1 rows (SDM Vol. 2, Tables ). */
const SSE: Row[] = [
  // SSE rows go here.
];

export const TABLE: readonly Row[] = [...ONE_BYTE, ...TWO_BYTE, ...X87, ...SSE];
