import { TABLE, type Row } from './table.js';
import { Insn, type Handler, I_LOCK, I_REX, I_REXW, I_END, I_O16, I_A16, I_INVALID, BASE_RIP } from './insn.js';
import { DEC16, DEC32, DEC64 } from './cpu.js';
import { ES, CS, SS, DS, FS, GS } from './regs.js';
import { specialize } from './ops/fast.js';
import { HANDLERS, undefinedOpcode, generalProtection, unimplemented } from './ops/index.js';

/**
 * The decoder: built once from TABLE. Candidates are grouped by (map, opcode byte) and tried from
 * the most specific (exact ModRM, /n extension, mandatory prefix, mod class) to the least.
 * SDM Vol. 2, chapter 2 "Instruction Format" and Appendix A.
 */

// size codes of operands
const SZ_NONE = 0, SZ_V = -1, SZ_Z = -2, SZ_Y = -3;
// immediate kinds
const IM_B = 1, IM_BS = 2, IM_W = 3, IM_Z = 4, IM_V = 5, IM_JB = 6, IM_JZ = 7, IM_AP = 8, IM_O = 9;

const FIXED: Record<string, number> = {
  AL: 1, CL: 1, AX: 2, DX: SZ_NONE, rAX: SZ_V, eAX: SZ_Z, '1': SZ_NONE,
  ES: SZ_NONE, CS: SZ_NONE, SS: SZ_NONE, DS: SZ_NONE, FS: SZ_NONE, GS: SZ_NONE, ST: SZ_NONE, STi: SZ_NONE, XMM0: SZ_NONE,
};
const SIZE: Record<string, number> = {
  '': SZ_NONE, b: 1, w: 2, d: 4, q: 8, v: SZ_V, z: SZ_Z, y: SZ_Y, p: SZ_V, s: SZ_NONE, a: SZ_V, dq: 16, x: 16,
  ps: 16, pd: 16, ss: 4, sd: 8, bs: 1, pi: 8, t: 10, e: SZ_NONE,
};

interface Cand {
  row: Row; fn: Handler;
  prefix: number;        // -1 any, -2 none of 66/F2/F3, 0x66, 0xF2, 0xF3
  ext: number;           // ModRM.reg or -1
  exact: number;         // exact ModRM or -1
  modClass: number;      // 0 any, 1 memory only, 2 register only
  w: number;             // required REX.W or -1
  i64: boolean; o64: boolean; d64: boolean; f64: boolean;
  modrm: boolean;
  forceReg: boolean;     // MOV CR/DR: mod ignored
  plusR: boolean;
  noRexB: boolean;
  imms: number[];
  sizes: number[];       // size codes of non-immediate operands in order
  byteRm: boolean; byteReg: boolean;
  lock: boolean; end: boolean; op: number;
  /** ModRM.reg (with REX.R) values that encode a register this operand can name (C, D, S operands), or null. */
  regOk: ((reg: number) => boolean) | null;
  spec: number;
}
/** CR0, CR2, CR3, CR4, CR8 exist; other control registers are #UD (SDM MOV—Move to/from Control Registers). */
const CR_OK = (r: number) => r === 0 || r === 2 || r === 3 || r === 4 || r === 8;
const DR_OK = (r: number) => r < 8;
const SEG_OK = (r: number) => (r & 7) < 6;
const SEG_DEST_OK = (r: number) => (r & 7) < 6 && (r & 7) !== 1; // MOV CS, r/m is #UD

const MAPS = new Map<number, Cand[]>(); // key: map << 8 | opcode

function parseOperand(o: string): { kind: string; size: number } {
  if (o in FIXED) return { kind: o, size: FIXED[o] };
  const m = /^([A-Z])([a-z]*)$/.exec(o);
  if (!m || !(m[2] in SIZE)) throw new Error(`instruction table: cannot parse operand '${o}'`);
  return { kind: m[1], size: SIZE[m[2]] };
}

function build(): void {
  for (const row of TABLE) {
    const [opcode, operands, mnemonic, , opts = {}] = row;
    let toks = opcode.toLowerCase().split(/\s+/);
    let prefix = -1;
    if (toks[0] === 'np') { prefix = -2; toks = toks.slice(1); }
    else if (toks.length > 1 && ['66', 'f2', 'f3'].includes(toks[0]) && !(toks[0] === 'f3' && toks[1] === '90' && toks.length === 2 && false)) {
      prefix = parseInt(toks[0], 16); toks = toks.slice(1);
    }
    let ext = -1, exact = -1, plusR = false;
    const last = toks[toks.length - 1];
    if (last.startsWith('/')) { ext = parseInt(last.slice(1), 10); toks = toks.slice(0, -1); }
    let bytes = toks.map(t => {
      if (t.endsWith('+r')) { plusR = true; return parseInt(t, 16); }
      return parseInt(t, 16);
    });
    let map = 0;
    if (bytes[0] === 0x0f) {
      if (bytes[1] === 0x38) { map = 2; bytes = bytes.slice(2); }
      else if (bytes[1] === 0x3a) { map = 3; bytes = bytes.slice(2); }
      else { map = 1; bytes = bytes.slice(1); }
    }
    if (bytes.length === 2) { exact = bytes[1]; bytes = bytes.slice(0, 1); }
    if (bytes.length !== 1) throw new Error(`instruction table: cannot parse opcode '${opcode}'`);
    const ops = operands ? operands.split(',').map(parseOperand) : [];
    const imms: number[] = [];
    const sizes: number[] = [];
    let modrm = ext >= 0 || exact >= 0, modClass = 0, forceReg = false, byteRm = false, byteReg = false;
    for (const [i, o] of ops.entries()) {
      const raw = operands.split(',')[i];
      switch (o.kind) {
        case 'E': case 'G': case 'S': case 'V': case 'W': case 'P': case 'Q': modrm = true; break;
        case 'M': modrm = true; modClass = 1; break;
        case 'R': case 'U': case 'N': case 'STi': modrm = true; modClass = 2; break;
        case 'C': case 'D': modrm = true; forceReg = true; break;
        case 'I': imms.push(raw === 'Ibs' ? IM_BS : o.size === 1 ? IM_B : o.size === 2 ? IM_W : o.size === SZ_Z ? IM_Z : IM_V); continue;
        case 'J': imms.push(o.size === 1 ? IM_JB : IM_JZ); continue;
        case 'A': imms.push(IM_AP); continue;
        case 'O': imms.push(IM_O); break;
      }
      if (o.kind === 'E' && o.size === 1) byteRm = true;
      if ((o.kind === 'G' || o.kind === 'Z') && o.size === 1) byteReg = true;
      if (o.size !== SZ_NONE || o.kind === 'M') sizes.push(o.size);
    }
    if (forceReg) modClass = 0;
    const kinds = ops.map(o => o.kind);
    const regOk = kinds.includes('C') ? CR_OK : kinds.includes('D') ? DR_OK : kinds[0] === 'S' ? SEG_DEST_OK : kinds.includes('S') ? SEG_OK : null;
    if (exact >= 0xc0) modClass = 2;
    const fn = HANDLERS[opts.h ?? mnemonic] ?? unimplemented(mnemonic);
    const c: Cand = {
      row, fn, prefix, ext, exact, modClass, w: opts.w ?? -1, i64: !!opts.i64, o64: !!opts.o64, d64: !!opts.d64, f64: !!opts.f64,
      modrm, forceReg, plusR, noRexB: !plusR && map === 0 && bytes[0] === 0x90 && prefix === -1, imms, sizes, byteRm, byteReg,  // (F3 REX.B 90 is still PAUSE)
      lock: !!opts.lock, end: !!opts.end, op: opts.op ?? 0, regOk,
      spec: (exact >= 0 ? 16 : 0) + (ext >= 0 ? 8 : 0) + (prefix !== -1 ? 4 : 0) + (modClass ? 2 : 0) + ((opts.w ?? -1) >= 0 ? 1 : 0),
    };
    const n = plusR ? 8 : 1;
    for (let k = 0; k < n; k++) {
      const key = (map << 8) | (bytes[0] + k);
      let list = MAPS.get(key);
      if (!list) MAPS.set(key, (list = []));
      list.push(c);
    }
  }
  for (const list of MAPS.values()) list.sort((a, b) => b.spec - a.spec);
}
build();

/** Does the map/opcode pair have any row (used by tests and the iced comparison)? */
export function hasOpcode(map: number, op: number): boolean { return MAPS.has((map << 8) | op); }

const SIXTEEN_BASE = [3, 3, 5, 5, 6, 7, 5, 3];     // BX BX BP BP SI DI BP BX
const SIXTEEN_INDEX = [6, 7, 6, 7, -1, -1, -1, -1]; // SI DI SI DI

const invalidRow: Row = ['', '', '(bad)', ''];

/**
 * Decode one instruction. `fetch(i)` returns the byte at offset i from the instruction start
 * (it may throw a #PF for a fetch from an unmapped page). Never throws for bad encodings:
 * the result's handler raises #UD (or #GP for more than 15 bytes).
 */
export function decode(fetch: (i: number) => number, mode: number): Insn {
  let pos = 0;
  let has66 = false, has67 = false, lastRep = 0, lock = false, seg = -1, rex = 0;
  let b = 0;
  // legacy prefixes and REX (a REX not immediately before the opcode is ignored)
  for (;;) {
    if (pos >= 15) return bad(generalProtection, 15, 0);
    b = fetch(pos);
    if (b === 0x66) has66 = true;
    else if (b === 0x67) has67 = true;
    else if (b === 0xf2 || b === 0xf3) lastRep = b;
    else if (b === 0xf0) lock = true;
    else if (b === 0x26) seg = ES;
    else if (b === 0x2e) seg = CS;
    else if (b === 0x36) seg = SS;
    else if (b === 0x3e) seg = DS;
    else if (b === 0x64) seg = FS;
    else if (b === 0x65) seg = GS;
    else if (mode === DEC64 && (b & 0xf0) === 0x40) { rex = b; pos++; b = fetch(pos); if ((b & 0xf0) === 0x40 || isLegacyPrefix(b)) { rex = 0; continue; } break; }
    else break;
    rex = 0;
    pos++;
  }
  // opcode map
  let map = 0;
  if (b === 0x0f) {
    pos++; if (pos >= 15) return bad(generalProtection, 15, 0);
    b = fetch(pos);
    if (b === 0x38) { map = 2; pos++; b = fetch(pos); }
    else if (b === 0x3a) { map = 3; pos++; b = fetch(pos); }
    else map = 1;
  }
  const opcode = b;
  pos++;
  const list = MAPS.get((map << 8) | opcode);
  if (!list) return bad(undefinedOpcode, pos, 0);
  const needModrm = list.some(c => c.modrm);
  let modrm = -1;
  if (needModrm) { if (pos >= 15) return bad(generalProtection, 15, 0); modrm = fetch(pos); }
  const anyPrefix = has66 || lastRep !== 0;
  const rexw = (rex & 8) !== 0;
  let cand: Cand | undefined;
  for (const c of list) {
    if (c.prefix === -2 ? anyPrefix : c.prefix === 0x66 ? !has66 || lastRep !== 0 : c.prefix > 0 && lastRep !== c.prefix) continue;
    if (mode === DEC64 ? c.i64 : c.o64) continue;
    if (c.w >= 0 && (rexw ? 1 : 0) !== c.w) continue;
    if (c.noRexB && (rex & 1)) continue;
    if (c.modrm) {
      if (modrm < 0) continue;
      if (c.exact >= 0 && modrm !== c.exact) continue;
      if (c.ext >= 0 && ((modrm >> 3) & 7) !== c.ext) continue;
      if (c.modClass === 1 && modrm >= 0xc0) continue;
      if (c.modClass === 2 && modrm < 0xc0) continue;
    }
    cand = c;
    break;
  }
  if (!cand) return bad(undefinedOpcode, pos + (needModrm ? 1 : 0), modrm);
  const c = cand;
  if (c.regOk && !c.regOk(((modrm >> 3) & 7) | ((rex & 4) << 1))) return bad(undefinedOpcode, pos + 1, modrm);
  // sizes
  const sseConsumed66 = c.prefix === 0x66;
  const o16 = has66 && !sseConsumed66;
  let vsize: number;
  if (mode === DEC64) vsize = c.f64 ? 8 : rexw ? 8 : o16 ? 2 : c.d64 ? 8 : 4;
  else if (mode === DEC32) vsize = o16 ? 2 : 4;
  else vsize = o16 ? 4 : 2;
  const asize = mode === DEC64 ? (has67 ? 4 : 8) : mode === DEC32 ? (has67 ? 2 : 4) : (has67 ? 4 : 2);
  const res = (s: number) => s === SZ_V ? vsize : s === SZ_Z ? (vsize === 2 ? 2 : 4) : s === SZ_Y ? (mode === DEC64 && rexw ? 8 : 4) : s;

  const d = new Insn(c.fn, c.row);
  d.op = c.op;
  d.asize = asize;
  d.osize = c.sizes.length ? (res(c.sizes[0]) || vsize) : vsize;
  d.size2 = c.sizes.length > 1 ? res(c.sizes[1]) : 0;
  d.rep = c.prefix === 0xf2 || c.prefix === 0xf3 ? 0 : lastRep;
  d.flags = (lock ? I_LOCK : 0) | (rex ? I_REX : 0) | (rexw ? I_REXW : 0) | (c.end ? I_END : 0) | (o16 ? I_O16 : 0) | (has67 ? I_A16 : 0);
  d.modrm = modrm;
  const rexR = (rex & 4) << 1, rexX = (rex & 2) << 2, rexB = (rex & 1) << 3;
  d.seg = mode === DEC64 ? (seg === FS || seg === GS ? seg : DS) : seg >= 0 ? seg : DS;
  const segOverridden = mode === DEC64 ? (seg === FS || seg === GS) : seg >= 0;

  if (c.plusR) d.reg = (opcode & 7) | rexB;
  if (c.modrm) {
    pos++;
    const mod = modrm >> 6, rm = modrm & 7;
    if (!c.plusR) d.reg = ((modrm >> 3) & 7) | rexR;
    if (mod === 3 || c.forceReg) {
      d.rm = rm | rexB;
    } else if (asize === 2) {
      d.rm = -1;
      if (mod === 0 && rm === 6) { d.base = -1; d.disp = fetch(pos) | (fetch(pos + 1) << 8); pos += 2; }
      else {
        d.base = SIXTEEN_BASE[rm]; d.index = SIXTEEN_INDEX[rm];
        if (mod === 1) { d.disp = (fetch(pos) << 24) >> 24; pos++; }
        else if (mod === 2) { d.disp = fetch(pos) | (fetch(pos + 1) << 8); pos += 2; }
      }
      if (!segOverridden && (d.base === 5)) d.seg = SS;
    } else {
      d.rm = -1;
      let base = rm | rexB;
      if (rm === 4) {
        const sib = fetch(pos); pos++;
        const idx = ((sib >> 3) & 7) | rexX;
        d.index = idx === 4 ? -1 : idx;
        d.scale = sib >> 6;
        base = (sib & 7) | rexB;
        if ((sib & 7) === 5 && mod === 0) { base = -1; d.disp = fetch32(fetch, pos); pos += 4; }
      } else if (rm === 5 && mod === 0) {
        base = mode === DEC64 ? BASE_RIP : -1;
        d.disp = fetch32(fetch, pos); pos += 4;
      }
      d.base = base;
      if (mod === 1) { d.disp = (fetch(pos) << 24) >> 24; pos++; }
      else if (mod === 2) { d.disp = fetch32(fetch, pos); pos += 4; }
      if (!segOverridden && (base === 4 || base === 5)) d.seg = SS;
    }
    if (c.byteRm && d.rm >= 0 && !rex && d.rm >= 4 && d.rm < 8) d.rm += 12;
  }
  if (c.byteReg && !rex && d.reg >= 4 && d.reg < 8) d.reg += 12;
  if (lock && (!c.lock || d.rm >= 0)) return bad(undefinedOpcode, pos, modrm);
  // immediates
  for (let k = 0; k < c.imms.length; k++) {
    const kind = c.imms[k];
    let v = 0, hi = 0;
    switch (kind) {
      case IM_B: v = fetch(pos); pos += 1; break;
      case IM_BS: v = (fetch(pos) << 24) >> 24; hi = v >> 31; pos += 1; break;
      case IM_W: v = fetch(pos) | (fetch(pos + 1) << 8); pos += 2; break;
      case IM_JB: v = (fetch(pos) << 24) >> 24; pos += 1; break;
      case IM_Z: case IM_JZ:
        if (vsize === 2 && !(kind === IM_JZ && mode === DEC64)) { v = fetch(pos) | (fetch(pos + 1) << 8); if (kind === IM_JZ) v = (v << 16) >> 16; pos += 2; }
        else { v = fetch32(fetch, pos); hi = v >> 31; pos += 4; }
        break;
      case IM_V:
        if (vsize === 2) { v = fetch(pos) | (fetch(pos + 1) << 8); pos += 2; }
        else if (vsize === 4) { v = fetch32(fetch, pos); pos += 4; }
        else { v = fetch32(fetch, pos); hi = fetch32(fetch, pos + 4); pos += 8; }
        break;
      case IM_AP:
        if (vsize === 2) { v = fetch(pos) | (fetch(pos + 1) << 8); pos += 2; }
        else { v = fetch32(fetch, pos) >>> 0; pos += 4; }
        d.imm2 = fetch(pos) | (fetch(pos + 1) << 8); pos += 2;
        d.imm = v; continue;
      case IM_O:
        d.base = -1; d.index = -1; d.rm = -1;
        if (asize === 2) { d.disp = fetch(pos) | (fetch(pos + 1) << 8); pos += 2; }
        else if (asize === 4) { d.disp = fetch32(fetch, pos) >>> 0; pos += 4; }
        else { const lo = fetch32(fetch, pos) >>> 0, h = fetch32(fetch, pos + 4); d.disp = h * 4294967296 + lo; pos += 8; }
        continue;
    }
    if (k === 0) { d.imm = v; d.immHi = hi; } else d.imm2 = v;
  }
  if (pos > 15) return bad(generalProtection, 15, modrm);
  d.len = pos;
  if (mode === DEC64 && !(d.flags & I_LOCK)) {
    const f = specialize(c.row[4]?.h ?? c.row[2], d);
    if (f) d.fn = f;
  }
  return d;
}

function isLegacyPrefix(b: number): boolean {
  return b === 0x66 || b === 0x67 || b === 0xf2 || b === 0xf3 || b === 0xf0 || b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e || b === 0x64 || b === 0x65;
}
function fetch32(fetch: (i: number) => number, p: number): number {
  return fetch(p) | (fetch(p + 1) << 8) | (fetch(p + 2) << 16) | (fetch(p + 3) << 24);
}
function bad(fn: Handler, len: number, modrm: number): Insn {
  const d = new Insn(fn, invalidRow);
  d.len = len; d.flags = I_INVALID | I_END; d.modrm = modrm;
  return d;
}

/** Decode from a byte array (tests, disassembly in the debugger, the iced-x86 comparison). */
export function decodeBytes(bytes: Uint8Array, mode: number): { len: number; valid: boolean; mnemonic: string; insn: Insn } | { len: number; valid: false; mnemonic: '(truncated)'; insn: null } {
  try {
    const d = decode(i => { if (i >= bytes.length) throw new RangeError('truncated'); return bytes[i]; }, mode);
    return { len: d.len, valid: !(d.flags & I_INVALID), mnemonic: d.row[2], insn: d };
  } catch (e) {
    if (e instanceof RangeError) return { len: bytes.length, valid: false, mnemonic: '(truncated)', insn: null };
    throw e;
  }
}
export { DEC16, DEC32, DEC64 };
