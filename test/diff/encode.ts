/**
 * A small x86-64 instruction encoder for the differential-test generator: legacy prefixes,
 * REX, opcode, ModRM/SIB/displacement, immediate. Every encoding it produces is decoded back
 * with iced-x86 by generate.ts, which checks the length and the mnemonic.
 */
import { CODE_ADDR } from '../../src/cpu/snippet-types.js';

/** A memory operand: [base + index*scale + disp], [rip + disp] (via `ripTarget`), or [disp32]. */
export interface Mem {
  base?: number;
  index?: number;
  scale?: 1 | 2 | 4 | 8;
  disp?: number;
  /** RIP-relative: the absolute address the operand must reach. */
  ripTarget?: number;
}

export interface Enc {
  /** Legacy prefixes, in order (66, 67, F2, F3, F0, segment). Mandatory SSE prefixes go last. */
  pfx?: number[];
  /** REX.W */
  w?: boolean;
  /** Emit a REX prefix even if no bit is needed (selects SPL/BPL/SIL/DIL for byte registers). */
  rex?: boolean;
  /** A REX prefix must not be emitted (AH/CH/DH/BH are used). */
  noRex?: boolean;
  /** Opcode bytes (e.g. [0x0f, 0x38, 0x00]). With `plusReg`, the register is added to the last byte. */
  op: number[];
  plusReg?: number;
  /** ModRM.reg: a register number 0-15 or an opcode extension /digit. */
  reg?: number;
  /** ModRM.rm: a register number 0-15, or a memory operand. */
  rm?: number | Mem;
  imm?: number[];
}

export function imm8(v: number | bigint): number[] {
  return [Number(BigInt(v) & 0xffn)];
}
export function imm16(v: number | bigint): number[] {
  const x = Number(BigInt(v) & 0xffffn);
  return [x & 0xff, x >> 8];
}
export function imm32(v: number | bigint): number[] {
  const x = BigInt(v) & 0xffffffffn;
  return [0, 1, 2, 3].map((i) => Number((x >> BigInt(8 * i)) & 0xffn));
}
export function imm64(v: number | bigint): number[] {
  const x = BigInt(v) & 0xffffffffffffffffn;
  return [0, 1, 2, 3, 4, 5, 6, 7].map((i) => Number((x >> BigInt(8 * i)) & 0xffn));
}

export function encode(e: Enc): number[] {
  let rexW = e.w ? 1 : 0, rexR = 0, rexX = 0, rexB = 0;
  const body: number[] = [];
  const op = e.op.slice();
  if (e.plusReg !== undefined) {
    op[op.length - 1] += e.plusReg & 7;
    rexB = e.plusReg >> 3;
  }
  let modrm: number[] = [];
  let ripFix = -1; // index in modrm of a RIP-relative disp32
  if (e.rm !== undefined) {
    const reg = e.reg ?? 0;
    rexR = (reg >> 3) & 1;
    if (typeof e.rm === 'number') {
      rexB = (e.rm >> 3) & 1;
      modrm = [0xc0 | ((reg & 7) << 3) | (e.rm & 7)];
    } else {
      const m = e.rm;
      const disp = m.disp ?? 0;
      if (m.ripTarget !== undefined) {
        modrm = [((reg & 7) << 3) | 5, 0, 0, 0, 0];
        ripFix = 1;
      } else if (m.base === undefined && m.index === undefined) {
        // [disp32] needs a SIB with no base and no index in 64-bit mode
        modrm = [((reg & 7) << 3) | 4, 0x25, ...imm32(disp)];
      } else {
        if (m.index !== undefined && (m.index & 15) === 4) throw new Error('rsp cannot be an index');
        const needSib = m.index !== undefined || m.base === undefined || (m.base & 7) === 4;
        let mod: number;
        let dispBytes: number[];
        if (m.base === undefined) {
          mod = 0;
          dispBytes = imm32(disp);
        } else if (disp === 0 && (m.base & 7) !== 5) {
          mod = 0;
          dispBytes = [];
        } else if (disp >= -128 && disp <= 127) {
          mod = 1;
          dispBytes = imm8(disp);
        } else {
          mod = 2;
          dispBytes = imm32(disp);
        }
        if (m.base !== undefined) rexB = (m.base >> 3) & 1;
        if (needSib) {
          const ss = { 1: 0, 2: 1, 4: 2, 8: 3 }[m.scale ?? 1];
          const idx = m.index === undefined ? 4 : m.index & 7;
          if (m.index !== undefined) rexX = (m.index >> 3) & 1;
          const base = m.base === undefined ? 5 : m.base & 7;
          modrm = [(mod << 6) | ((reg & 7) << 3) | 4, (ss << 6) | (idx << 3) | base, ...dispBytes];
        } else {
          modrm = [(mod << 6) | ((reg & 7) << 3) | (m.base! & 7), ...dispBytes];
        }
      }
    }
  }
  const needRex = rexW | rexR | rexX | rexB || e.rex;
  if (needRex && e.noRex) throw new Error('AH/CH/DH/BH cannot be encoded with a REX prefix');
  const bytes = [...(e.pfx ?? [])];
  if (needRex) bytes.push(0x40 | (rexW << 3) | (rexR << 2) | (rexX << 1) | rexB);
  bytes.push(...op);
  const modrmAt = bytes.length;
  bytes.push(...modrm, ...(e.imm ?? []));
  body.push(...bytes);
  if (ripFix >= 0) {
    const target = (e.rm as Mem).ripTarget!;
    const next = CODE_ADDR + body.length;
    const disp = target + ((e.rm as Mem).disp ?? 0) - next;
    body.splice(modrmAt + ripFix, 4, ...imm32(disp));
  }
  if (body.length > 15) throw new Error(`instruction too long (${body.length})`);
  return body;
}
