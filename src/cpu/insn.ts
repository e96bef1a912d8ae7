import type { CPU } from './cpu.js';
import type { Row } from './table.js';

export type Handler = (cpu: CPU, d: Insn) => void;

/** Insn.flags bits */
export const I_LOCK = 1, I_REX = 2, I_REXW = 4, I_END = 8, I_O16 = 16, I_A16 = 32, I_CROSS = 64, I_INVALID = 128;
/** Insn.base value for RIP-relative addressing; -1 means no base register */
export const BASE_RIP = -2;

/**
 * One decoded instruction. Every field exists on every instance, in the same order
 * (DESIGN.md: one shape so call sites stay monomorphic), and holds only Numbers.
 */
export class Insn {
  fn: Handler;
  /** The table row this came from (mnemonic, operands, flags). */
  row: Row;
  /** Per-row constant for shared handlers (condition code, ALU kind, ...). */
  op = 0;
  /** Offset of this instruction from the start of its block, and its length. */
  off = 0;
  len = 0;
  /** Offset (from the block start) of the instruction that follows this one in its block: off + len,
   *  or the target of a direct JMP/CALL the block follows (a superblock). */
  next = 0;
  /** Operand size in bytes (1, 2, 4, 8) of the first sized operand; size2 of the second. */
  osize = 4;
  size2 = 4;
  /** Address size in bytes (2, 4, 8). */
  asize = 4;
  /** ModRM.reg (with REX.R), or the register in the opcode's low bits (with REX.B).
   *  Byte registers: 0–15 low bytes, 16–19 AH, CH, DH, BH. */
  reg = 0;
  /** Register number when ModRM.mod == 3 (byte registers as for `reg`), else -1: memory. */
  rm = -1;
  /** Memory operand: base register (or BASE_RIP, or -1), index register (or -1), scale shift 0–3, displacement. */
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  /** Segment register used for the memory operand (override or default). */
  seg = 3;
  /** First immediate (sign- or zero-extended per operand notation) and its high half; second immediate (ENTER, far pointers). */
  imm = 0;
  immHi = 0;
  imm2 = 0;
  /** 0, 0xF2 or 0xF3 */
  rep = 0;
  flags = 0;
  /** The ModRM byte (or -1) — handlers of group opcodes and x87 use it. */
  modrm = -1;

  constructor(fn: Handler, row: Row) { this.fn = fn; this.row = row; }
}
