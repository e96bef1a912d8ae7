/**
 * The x87 differential cases: instruction sequences run natively by oracle.c (generate.ts writes
 * fixtures.json) and by vmxray (test/cpu/x87.test.ts). Code runs in 64-bit mode with RDI = a
 * 256-byte data buffer; inputs live at [rdi+0x40…], outputs at [rdi+0…0x3f]. Every case starts
 * with `xor eax, eax` so RFLAGS and RAX start the same on both sides.
 */
export interface X87Case {
  name: string; code: string; data: string;
  /** Transcendental: the binary64 results at data[0] and data[8] are compared with a tolerance. */
  approx?: boolean;
  /** Environment images stored in the data buffer: [offset, 16 or 32-bit format] (pointer fields are not compared). */
  env?: [number, number][];
}

// ---------------------------------------------------------------- encodings
const h2 = (n: number) => (n & 0xff).toString(16).padStart(2, '0');
/** ModRM [rdi+disp8] with reg field r. */
const m = (op: number, r: number, disp: number) => h2(op) + h2(0x47 | (r << 3)) + h2(disp);
export const E = {
  fldcw: (d: number) => m(0xd9, 5, d), fnstcw: (d: number) => m(0xd9, 7, d), fnstsw: (d: number) => m(0xdd, 7, d),
  fnstenv: (d: number) => m(0xd9, 6, d), fldenv: (d: number) => m(0xd9, 4, d),
  fnsave: (d: number) => m(0xdd, 6, d), frstor: (d: number) => m(0xdd, 4, d),
  fld32: (d: number) => m(0xd9, 0, d), fld64: (d: number) => m(0xdd, 0, d), fld80: (d: number) => m(0xdb, 5, d),
  fst32: (d: number) => m(0xd9, 2, d), fstp32: (d: number) => m(0xd9, 3, d),
  fst64: (d: number) => m(0xdd, 2, d), fstp64: (d: number) => m(0xdd, 3, d), fstp80: (d: number) => m(0xdb, 7, d),
  fild16: (d: number) => m(0xdf, 0, d), fild32: (d: number) => m(0xdb, 0, d), fild64: (d: number) => m(0xdf, 5, d),
  fist16: (d: number) => m(0xdf, 2, d), fistp16: (d: number) => m(0xdf, 3, d), fist32: (d: number) => m(0xdb, 2, d),
  fistp32: (d: number) => m(0xdb, 3, d), fistp64: (d: number) => m(0xdf, 7, d),
  fisttp16: (d: number) => m(0xdf, 1, d), fisttp32: (d: number) => m(0xdb, 1, d), fisttp64: (d: number) => m(0xdd, 1, d),
  fbld: (d: number) => m(0xdf, 4, d), fbstp: (d: number) => m(0xdf, 6, d),
  /** D8 /r m32fp, DC /r m64fp, DA /r m32int, DE /r m16int */
  ar32: (r: number, d: number) => m(0xd8, r, d), ar64: (r: number, d: number) => m(0xdc, r, d),
  ari32: (r: number, d: number) => m(0xda, r, d), ari16: (r: number, d: number) => m(0xde, r, d),
  fnstswax: 'dfe0', fninit: 'dbe3', fnclex: 'dbe2',
};
const FSTSW_AX = 'dfe0';

// ---------------------------------------------------------------- data helpers
function bytesHex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }
export function f64(v: number): string { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v, true); return bytesHex(b); }
export function f64bits(hi: number, lo: number): string { const b = new Uint8Array(8); const v = new DataView(b.buffer); v.setUint32(0, lo >>> 0, true); v.setUint32(4, hi >>> 0, true); return bytesHex(b); }
export function f32bits(x: number): string { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, x >>> 0, true); return bytesHex(b); }
export function ext(se: number, hi: number, lo: number): string {
  const b = new Uint8Array(10); const v = new DataView(b.buffer);
  v.setUint32(0, lo >>> 0, true); v.setUint32(4, hi >>> 0, true); v.setUint16(8, se, true); return bytesHex(b);
}
export function i16(v: number): string { const b = new Uint8Array(2); new DataView(b.buffer).setInt16(0, v, true); return bytesHex(b); }
export function i32(v: number): string { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, v, true); return bytesHex(b); }
export function i64(v: bigint): string { const b = new Uint8Array(8); new DataView(b.buffer).setBigInt64(0, v, true); return bytesHex(b); }
/** A data buffer: `parts` placed from offset 0x40; `cw` (optional) at 0x3e. */
function data(parts: string[], cw?: number): string {
  const b = new Uint8Array(0x40 + parts.join('').length / 2);
  if (cw !== undefined) { b[0x3e] = cw & 0xff; b[0x3f] = cw >> 8; }
  b.set(Buffer.from(parts.join(''), 'hex'), 0x40);
  return bytesHex(b);
}
const withCw = (cw: number | undefined, code: string) => (cw === undefined ? code : E.fldcw(0x3e) + code);

// deterministic pseudo-random numbers (xorshift32)
let seed = 0x2545f491;
function rnd(): number { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed; }

/** Interesting 80-bit operands: [name, image hex]. */
const SPECIAL: [string, string][] = [
  ['+0', ext(0, 0, 0)], ['-0', ext(0x8000, 0, 0)], ['1', ext(0x3fff, 0x80000000, 0)], ['-1.5', ext(0xbfff, 0xc0000000, 0)],
  ['pi', ext(0x4000, 0xc90fdaa2, 0x2168c235)], ['+inf', ext(0x7fff, 0x80000000, 0)], ['-inf', ext(0xffff, 0x80000000, 0)],
  ['qnan', ext(0x7fff, 0xc0000000, 0x1234)], ['-qnan', ext(0xffff, 0xe0000000, 0)], ['snan', ext(0x7fff, 0x80000000, 1)],
  ['denormal', ext(0, 0x00000001, 0x80000000)], ['pseudo-denormal', ext(0, 0x80000000, 1)], ['unnormal', ext(0x4000, 0x40000000, 0)],
  ['max', ext(0x7ffe, 0xffffffff, 0xffffffff)], ['min-normal', ext(1, 0x80000000, 0)], ['2^70+1', ext(0x3fff + 70, 0x80000000, 1 << 6)],
  ['1/3', ext(0x3ffd, 0xaaaaaaaa, 0xaaaaaaab)], ['-1e-4000', ext(0x8000 | (0x3fff - 13290), 0xd5b1c3f1, 0x23456789)],
];
function randomExt(range: number): string {
  const e = 0x3fff + ((rnd() % (2 * range + 1)) - range);
  return ext((rnd() & 1 ? 0x8000 : 0) | e, (rnd() | 0x80000000) >>> 0, rnd());
}
function randomDoubleExt(): string {
  // an 80-bit image of a binary64 value (low 11 significand bits zero)
  const e = 0x3fff + ((rnd() % 61) - 30);
  return ext((rnd() & 1 ? 0x8000 : 0) | e, (rnd() | 0x80000000) >>> 0, (rnd() & 0xfffff800) >>> 0);
}
const PCS = [0x007f, 0x027f, 0x037f];        // single, double, extended precision; all masked
const RCS = [0x0000, 0x0400, 0x0800, 0x0c00];

export function buildCases(): X87Case[] {
  const cases: X87Case[] = [];
  const add = (name: string, code: string, d = '', approx = false, env?: [number, number][]) =>
    cases.push({ name, code: '31c0' + code.replace(/\s+/g, ''), data: d, ...(approx ? { approx } : {}), ...(env ? { env } : {}) });

  // ---- init, environment, save/restore
  add('fninit image', E.fninit);
  add('fld1 fnsave', 'd9e8' + E.fnsave(0x00) + 'd9e8', '', false, [[0, 32]]);
  add('fld1 fninit keeps contents', 'd9e8' + E.fninit);
  add('tags valid/zero/special', 'd9e8 d9ee' + E.fld80(0x40) + E.fld80(0x4a), data([SPECIAL[5][1], SPECIAL[10][1]]));
  add('fnstenv 32-bit then masks all', E.fldcw(0x3e) + 'd9e8' + E.fnstenv(0) + E.fnstcw(0x20), data([], 0x0360), false, [[0, 32]]);
  add('fnstenv 16-bit', 'd9e8 d9e8 66' + E.fnstenv(0), '', false, [[0, 16]]);
  add('fnsave 16-bit', 'd9e8 d9eb 66' + E.fnsave(0) + 'd9ee', '', false, [[0, 16]]);
  add('frstor zero image: tags recomputed', 'd9e8 d9ee' + E.frstor(0x40), data([]));
  add('fldenv ES recomputed (masked IE)', E.fldenv(0x40), data(['7f030000' + '01000000' + 'ffff0000' + '0'.repeat(32)]));
  add('fldenv ES recomputed (unmasked IE)', E.fldenv(0x40) + FSTSW_AX, data(['7e030000' + '01000000' + 'ffff0000' + '0'.repeat(32)]));
  add('fldenv ES/B alone are dropped', E.fldenv(0x40), data(['7f030000' + '80800000' + 'ffff0000' + '0'.repeat(32)]));
  add('fldcw writable bits', E.fldcw(0x3e) + E.fnstcw(0), data([], 0xffff));
  add('fldcw reserved bits', E.fldcw(0x3e) + E.fnstcw(0), data([], 0xc0c0));
  add('fnsave/frstor round trip of odd values',
    E.fld80(0x40) + E.fld80(0x4a) + E.fld80(0x54) + E.fld80(0x5e) + 'd9eb' + E.fnsave(0x80) + 'd9e8' + E.frstor(0x80) + E.fnstsw(0x00),
    data([SPECIAL[12][1], SPECIAL[11][1], SPECIAL[17][1], SPECIAL[9][1]]));
  add('fnclex', E.fldcw(0x3e) + 'd9e8 d9ee def9' + E.fnclex + FSTSW_AX, data([], 0x037b));
  add('fincstp/fdecstp/ffree', 'd9e8 d9ee d9f7 ddc1 d9f6 d9f6' + FSTSW_AX);
  add('fnop', 'd9d0');
  add('fxam of an empty register reports the sign', 'd9e8 d9e0 ddc0 d9e5' + FSTSW_AX);
  add('fneni fndisi fnsetpm are no-ops', 'd9e8 dbe0 dbe1 dbe4' + FSTSW_AX);
  add('undefined d9 d1', 'd9d1'); add('undefined d9 e2', 'd9e2'); add('undefined db e5', 'dbe5'); add('undefined da e8', 'dae8');
  add('undefined de d8', 'ded8'); add('undefined df e8 is fucomip', 'd9e8 d9e8 dfe9');

  // ---- aliases
  for (const [n, c] of [['fstp1', 'd9d9'], ['fcom2', 'dcd1'], ['fcomp3', 'dcd9'], ['fxch4', 'ddc9'], ['fcomp5', 'ded1'], ['ffreep', 'dfc0'], ['fxch7', 'dfc9'], ['fstp8', 'dfd1'], ['fstp9', 'dfd9']]) {
    add(`alias ${n}`, 'd9e8 d9ee' + c + FSTSW_AX);
  }

  // ---- constants under every rounding mode
  const consts = ['d9e8', 'd9e9', 'd9ea', 'd9eb', 'd9ec', 'd9ed', 'd9ee'];
  for (const rc of RCS) for (const c of consts) add(`constant ${c} rc=${rc >> 10}`, withCw(0x037f | rc, c + E.fstp80(0) + FSTSW_AX), data([], 0x037f | rc));

  // ---- stack faults
  add('stack overflow (9 pushes)', 'd9e8'.repeat(9) + FSTSW_AX);
  add('stack underflow: fstp m64 from empty', E.fstp64(0) + FSTSW_AX);
  add('stack underflow: fadd with empty st1', 'd9e8 d8c1' + FSTSW_AX);
  add('stack underflow: fistp m32', E.fistp32(0) + FSTSW_AX);
  add('stack underflow: fcom', 'd9e8 d8d1' + FSTSW_AX);
  add('stack underflow: fxch', 'd9e8 d9c9' + FSTSW_AX);
  add('stack underflow unmasked', E.fldcw(0x3e) + 'd9e8 d8c1' + FSTSW_AX, data([], 0x037e));
  add('stack overflow unmasked', E.fldcw(0x3e) + 'd9e8'.repeat(9) + FSTSW_AX, data([], 0x037e));

  // ---- unmasked exceptions and #MF
  add('unmasked IE then waiting instruction: #MF', E.fldcw(0x3e) + 'd9e8 d9e0 d9fa d9e8', data([], 0x037e));
  add('unmasked IE: fnstsw sees ES/B', E.fldcw(0x3e) + 'd9e8 d9e0 d9fa' + FSTSW_AX, data([], 0x037e));
  add('unmasked ZE: no result, no pop', E.fldcw(0x3e) + 'd9e8 d9ee def9' + FSTSW_AX, data([], 0x037b));
  add('unmasked IE on fld m64 snan', E.fldcw(0x3e) + E.fld64(0x40) + FSTSW_AX, data([f64bits(0x7ff00000, 1)], 0x037e));
  add('unmasked DE on fld m32 denormal', E.fldcw(0x3e) + E.fld32(0x40) + FSTSW_AX, data([f32bits(1)], 0x037d));
  add('unmasked OE: re-biased result', E.fldcw(0x3e) + E.fld80(0x40) + 'd8c8' + FSTSW_AX + E.fnstenv(0) + E.fstp80(0x30), data([SPECIAL[13][1]], 0x0377), false, [[0, 32]]);
  add('unmasked UE: re-biased result', E.fldcw(0x3e) + E.fld80(0x40) + 'd8c8' + FSTSW_AX + E.fnstenv(0) + E.fstp80(0x30), data([ext(0x0001, 0x80000000, 0)], 0x036f), false, [[0, 32]]);
  add('unmasked PE: result delivered', E.fldcw(0x3e) + 'd9e8' + E.fld80(0x40) + 'def9' + FSTSW_AX + E.fnstenv(0) + E.fstp80(0x30), data([ext(0x4000, 0xc0000000, 0)], 0x035f), false, [[0, 32]]);
  add('unmasked OE on fst m32: no store', E.fldcw(0x3e) + E.fld80(0x40) + E.fst32(0) + FSTSW_AX + E.fnstenv(0x10), data([SPECIAL[13][1]], 0x0377), false, [[0x10, 32]]);
  add('fldcw unmasking a set flag makes it pending', 'd9e8 d9ee def9' + E.fldcw(0x3e) + FSTSW_AX + 'd9e8', data([], 0x037b));
  add('fnclex clears pending', E.fldcw(0x3e) + 'd9e8 d9ee def9' + E.fnclex + 'd9e8' + FSTSW_AX, data([], 0x037b));

  // ---- loads and stores of m32/m64 values
  const doubles: [string, string][] = [
    ['1', f64(1)], ['-2.5', f64(-2.5)], ['0.1', f64(0.1)], ['-0', f64(-0)], ['max', f64bits(0x7fefffff, 0xffffffff)], ['min', f64bits(0x00100000, 0)],
    ['denormal', f64bits(0x00000000, 1)], ['denormal2', f64bits(0x800fffff, 0xffffffff)], ['inf', f64bits(0x7ff00000, 0)], ['qnan', f64bits(0x7ff80000, 5)],
    ['snan', f64bits(0x7ff00000, 1)], ['-snan', f64bits(0xfff40000, 0xabc)], ['1+2^-52', f64bits(0x3ff00000, 1)], ['3e38', f64(3e38)], ['1e-40', f64(1e-40)],
    ['1.00000017881', f64(1.00000017881393432617)], ['2^-149*1.5', f64(2 ** -149 * 1.5)], ['2^-150', f64(2 ** -150)],
  ];
  for (const [n, v] of doubles) {
    add(`fld m64 ${n} → m80`, E.fld64(0x40) + E.fstp80(0) + FSTSW_AX, data([v]));
    for (const rc of RCS) add(`fld m64 ${n} → m32 rc=${rc >> 10}`, withCw(0x037f | rc, E.fld64(0x40) + E.fst32(0) + E.fstp64(8) + FSTSW_AX), data([v], 0x037f | rc));
  }
  for (const x of [1, 0x00000001, 0x00400000, 0x807fffff, 0x7f800000, 0x7f800001, 0xffc00000, 0x3f800001, 0x7f7fffff]) {
    add(`fld m32 ${x.toString(16)} → m64, m80`, E.fld32(0x40) + E.fst64(0) + E.fstp80(8) + FSTSW_AX, data([f32bits(x)]));
  }
  for (const [n, v] of SPECIAL) {
    for (const rc of RCS) add(`fld m80 ${n} → m64, m32 rc=${rc >> 10}`, withCw(0x037f | rc, E.fld80(0x40) + E.fst64(0) + E.fst32(8) + E.fstp80(0x10) + FSTSW_AX), data([v], 0x037f | rc));
  }
  for (let k = 0; k < 24; k++) {
    const v = randomExt(k < 12 ? 200 : 16500);
    for (const rc of RCS) add(`fld m80 random ${k} → m64, m32 rc=${rc >> 10}`, withCw(0x037f | rc, E.fld80(0x40) + E.fst64(0) + E.fst32(8) + 'ddd8' + FSTSW_AX), data([v], 0x037f | rc));
  }
  add('tiny after rounding: fstp m32 of 2^-126·(1−2^-26)', E.fld80(0x40) + E.fstp32(0) + FSTSW_AX, data([ext(16383 - 127, 0xffffffc0, 0)]));
  add('exact denormal: fstp m32 of 2^-127', E.fld80(0x40) + E.fstp32(0) + FSTSW_AX, data([ext(16383 - 127, 0x80000000, 0)]));
  add('overflow: fst m64 of 2^2000 chop', E.fldcw(0x3e) + E.fld80(0x40) + E.fst64(0) + FSTSW_AX, data([ext(16383 + 2000, 0x80000000, 0)], 0x0f7f));

  // ---- integers
  const ints: [string, string][] = [];
  for (const v of [0, 1, -1, 2.5, -2.5, 1.5, -1.5, 0.5, -0.5, 2.7, -2.7, 32767.5, -32768.4, 32768, -32768.6, 2147483647.5, -2147483648.5, 1e10, 9.2233720368547758e18, -9.2233720368547758e18, 1e19, 0.0001]) ints.push([String(v), f64(v)]);
  ints.push(['nan', f64bits(0x7ff80000, 0)], ['-inf', f64bits(0xfff00000, 0)]);
  for (const [n, v] of ints) for (const rc of RCS) {
    add(`fist ${n} rc=${rc >> 10}`, withCw(0x037f | rc, E.fld64(0x40) + E.fist16(0) + E.fist32(2) + 'd9c0 d9c0 d9c0' + E.fistp64(8) + E.fisttp16(0x10) + E.fisttp32(0x12) + E.fisttp64(0x18) + FSTSW_AX), data([v], 0x037f | rc));
  }
  add('fild m16/m32/m64 and back', E.fild16(0x40) + E.fild32(0x42) + E.fild64(0x46) + E.fistp64(0) + E.fistp32(8) + E.fistp16(12) + FSTSW_AX, data([i16(-12345) + i32(-2000000000) + i64(-9223372036854775807n)]));
  add('fild m64 large exact', E.fild64(0x40) + E.fstp80(0) + E.fild64(0x40) + E.fistp64(0x10), data([i64(0x7edcba9876543211n)]));
  add('fild m64 min', E.fild64(0x40) + E.fstp80(0), data([i64(-9223372036854775808n)]));
  add('fistp m64 of 2^63 is invalid', E.fld80(0x40) + E.fistp64(0) + FSTSW_AX, data([ext(0x3fff + 63, 0x80000000, 0)]));
  add('fistp m64 of -2^63 is fine', E.fld80(0x40) + E.fistp64(0) + FSTSW_AX, data([ext(0xbfff + 63, 0x80000000, 0)]));
  add('fbld/fbstp', E.fbld(0x40) + 'd9c0' + E.fstp80(0) + E.fbstp(0x10) + FSTSW_AX, data(['998877665544332211' + '80']));
  add('fbld -0', E.fbld(0x40) + E.fstp80(0), data(['000000000000000000' + '80']));
  for (const [n, v] of [['123.5', f64(123.5)], ['-0.4', f64(-0.4)], ['1e18', f64(1e18)], ['-999999999999999999', f64(-999999999999999999)], ['nan', f64bits(0x7ff80000, 0)]] as const) {
    add(`fbstp ${n}`, E.fld64(0x40) + E.fbstp(0) + FSTSW_AX, data([v]));
  }

  // ---- arithmetic: specials × specials
  const ops: [string, string][] = [['fadd', 'd8c1'], ['fsub', 'd8e1'], ['fsubr', 'd8e9'], ['fmul', 'd8c9'], ['fdiv', 'd8f1'], ['fdivr', 'd8f9']];
  for (const [an, a] of SPECIAL) for (const [bn, b] of SPECIAL) {
    if (rnd() % 3 !== 0) continue;
    for (const [on, oc] of ops) add(`${on} ${an} ${bn}`, E.fld80(0x4a) + E.fld80(0x40) + oc + E.fstp80(0) + FSTSW_AX, data([a, b]));
  }
  // zero signs under rounding down
  add('x − x rounding down is −0', E.fldcw(0x3e) + 'd9e8 d9e8 dee9' + E.fstp80(0) + FSTSW_AX, data([], 0x077f));
  add('x − x rounding up is +0', E.fldcw(0x3e) + 'd9e8 d9e8 dee9' + E.fstp80(0) + FSTSW_AX, data([], 0x0b7f));
  // random operands × precision control × rounding control
  for (let k = 0; k < 70; k++) {
    const a = k % 3 === 0 ? randomDoubleExt() : randomExt(k < 60 ? 70 : 16383);
    const b = k % 3 === 0 ? randomDoubleExt() : randomExt(k < 60 ? 70 : 16383);
    const cw = PCS[rnd() % 3] | RCS[rnd() % 4];
    const [on, oc] = ops[k % 6];
    add(`${on} random ${k} cw=${cw.toString(16)}`, withCw(cw, E.fld80(0x4a) + E.fld80(0x40) + oc + E.fstp80(0) + FSTSW_AX), data([a, b], cw));
  }
  // near-cancellation and alignment shifts
  for (let k = 0; k < 12; k++) {
    const e = 0x3fff + (rnd() % 5);
    const hi = (rnd() | 0x80000000) >>> 0, lo = rnd();
    const a = ext(e, hi, lo), b = ext(0x8000 | (e - (k % 4 === 0 ? 0 : k * 7 % 70)), hi, (lo + (k % 3)) >>> 0);
    const cw = PCS[k % 3] | RCS[k % 4];
    add(`fadd cancellation ${k}`, withCw(cw, E.fld80(0x4a) + E.fld80(0x40) + 'd8c1' + E.fstp80(0) + FSTSW_AX), data([a, b], cw));
  }
  // memory forms and integer forms
  for (let r = 0; r < 8; r++) {
    if (r === 2 || r === 3) continue;
    add(`m32fp op /${r}`, 'd9eb' + E.ar32(r, 0x40) + E.fstp80(0) + FSTSW_AX, data([f32bits(0x40490fdb)]));
    add(`m64fp op /${r}`, 'd9eb' + E.ar64(r, 0x40) + E.fstp80(0) + FSTSW_AX, data([f64(0.1)]));
    add(`m32int op /${r}`, 'd9eb' + E.ari32(r, 0x40) + E.fstp80(0) + FSTSW_AX, data([i32(-7)]));
    add(`m16int op /${r}`, 'd9eb' + E.ari16(r, 0x40) + E.fstp80(0) + FSTSW_AX, data([i16(3)]));
    add(`reg st(i),st op /${r}`, 'd9eb d9e8 ' + ['dcc1', 'dcc9', '', '', 'dce1', 'dce9', 'dcf1', 'dcf9'][r] + E.fstp80(0) + E.fstp80(0x10) + FSTSW_AX);
    add(`reg pop op /${r}`, 'd9eb d9e8 ' + ['dec1', 'dec9', '', '', 'dee1', 'dee9', 'def1', 'def9'][r] + E.fstp80(0) + FSTSW_AX);
  }
  add('m32fp denormal operand: DE', 'd9e8' + E.ar32(0, 0x40) + E.fstp80(0) + FSTSW_AX, data([f32bits(3)]));
  // fsqrt, frndint, fscale, fxtract, fprem
  for (let k = 0; k < 24; k++) {
    const a = k < SPECIAL.length ? SPECIAL[k][1] : randomExt(k < 20 ? 100 : 16000);
    const cw = PCS[k % 3] | RCS[(k >> 1) % 4];
    add(`fsqrt ${k < SPECIAL.length ? SPECIAL[k][0] : 'random ' + k} cw=${cw.toString(16)}`, withCw(cw, E.fld80(0x40) + 'd9fa' + E.fstp80(0) + FSTSW_AX), data([a], cw));
  }
  for (const v of [2.5, -2.5, 0.5, -0.5, 1.5, 3.7, -3.7, 1e300, 0.3, -0.3]) for (const rc of RCS) {
    add(`frndint ${v} rc=${rc >> 10}`, withCw(0x037f | rc, E.fld64(0x40) + 'd9fc' + E.fstp80(0) + FSTSW_AX), data([f64(v)], 0x037f | rc));
  }
  for (const [a, b] of [[1.5, 3.7], [1.5, -3.7], [3, 20000], [3, -20000], [-0, 5], [1, 1e30], [5, 0.5], [1e-300, -100.9]]) {
    add(`fscale ${a} ${b}`, E.fld64(0x48) + E.fld64(0x40) + 'd9fd' + E.fstp80(0) + FSTSW_AX, data([f64(a), f64(b)]));
  }
  for (const [n, v] of SPECIAL) add(`fxtract ${n}`, E.fld80(0x40) + 'd9f4' + E.fstp80(0) + E.fstp80(0x10) + FSTSW_AX, data([v]));
  for (const [a, b] of [[7, 2], [-7, 2], [7, -2], [1e30, 3], [5.5, 2.75], [2.25, 1.5], [6, 4], [10, 4], [-10, 4], [0.75, 1.5], [1, 3]]) {
    add(`fprem ${a} ${b}`, E.fld64(0x48) + E.fld64(0x40) + 'd9f8' + FSTSW_AX + E.fstp80(0), data([f64(a), f64(b)]));
    add(`fprem1 ${a} ${b}`, E.fld64(0x48) + E.fld64(0x40) + 'd9f5' + FSTSW_AX + E.fstp80(0), data([f64(a), f64(b)]));
  }
  for (let k = 0; k < 12; k++) {
    const a = randomExt(k < 6 ? 60 : 200), b = randomExt(20);
    add(`fprem random ${k}`, E.fld80(0x4a) + E.fld80(0x40) + 'd9f8' + FSTSW_AX + E.fstp80(0), data([a, b]));
    add(`fprem1 random ${k}`, E.fld80(0x4a) + E.fld80(0x40) + 'd9f5' + FSTSW_AX + E.fstp80(0), data([a, b]));
  }
  add('fchs fabs', E.fld80(0x40) + 'd9e0' + 'd9c0 d9e1' + E.fstp80(0) + E.fstp80(0x10) + FSTSW_AX, data([SPECIAL[9][1]]));

  // ---- comparisons
  const cmpVals = [SPECIAL[0], SPECIAL[1], SPECIAL[2], SPECIAL[3], SPECIAL[5], SPECIAL[6], SPECIAL[7], SPECIAL[9], SPECIAL[10], SPECIAL[12]];
  for (const [an, a] of cmpVals) for (const [bn, b] of cmpVals) {
    if (rnd() % 2) continue;
    add(`fcom ${an} ${bn}`, E.fld80(0x4a) + E.fld80(0x40) + 'd8d1' + FSTSW_AX, data([a, b]));
    add(`fucom ${an} ${bn}`, E.fld80(0x4a) + E.fld80(0x40) + 'dde1' + FSTSW_AX, data([a, b]));
    add(`fcomi ${an} ${bn}`, E.fld80(0x4a) + E.fld80(0x40) + 'dbf1' + FSTSW_AX, data([a, b]));
    add(`fucomip ${an} ${bn}`, E.fld80(0x4a) + E.fld80(0x40) + 'dfe9' + FSTSW_AX, data([a, b]));
  }
  add('fcompp', 'd9e8 d9ee ded9' + FSTSW_AX);
  add('fucompp', 'd9e8 d9ee dae9' + FSTSW_AX);
  add('ficom m16', 'd9e8' + E.ari16(2, 0x40) + FSTSW_AX, data([i16(1)]));
  add('ficomp m32', 'd9e8' + E.ari32(3, 0x40) + FSTSW_AX, data([i32(2)]));
  add('fcom m64 qnan', 'd9e8' + E.ar64(2, 0x40) + FSTSW_AX, data([f64bits(0x7ff80000, 0)]));
  for (const [n, v] of SPECIAL) {
    add(`ftst ${n}`, E.fld80(0x40) + 'd9e4' + FSTSW_AX, data([v]));
    add(`fxam ${n}`, E.fld80(0x40) + 'd9e5' + FSTSW_AX, data([v]));
  }
  // FCMOVcc after CMP (sets CF ZF PF): cmp eax, imm8 (83 f8 ib)
  const fcmovs = ['dac1', 'dac9', 'dad1', 'dad9', 'dbc1', 'dbc9', 'dbd1', 'dbd9'];
  for (const [k, c] of fcmovs.entries()) for (const imm of [0, 1, 0xff]) add(`fcmov ${k} cmp eax,${imm}`, 'd9e8 d9ee 83f8' + h2(imm) + c + E.fstp80(0) + FSTSW_AX);

  // ---- transcendental (binary64 approximation: compared with a tolerance)
  // (arguments stay small: for |x| ≳ 10^5 the hardware's 66-bit π reduction differs from exact reduction)
  for (const v of [0.5, -0.75, 1e-5, 2, 100, -3.25, 0]) {
    add(`fsin ${v}`, E.fld64(0x40) + 'd9fe' + E.fstp64(0), data([f64(v)]), true);
    add(`fcos ${v}`, E.fld64(0x40) + 'd9ff' + E.fstp64(0), data([f64(v)]), true);
    add(`fptan ${v}`, E.fld64(0x40) + 'd9f2' + E.fstp64(0) + E.fstp64(8), data([f64(v)]), true);
    add(`fsincos ${v}`, E.fld64(0x40) + 'd9fb' + E.fstp64(0) + E.fstp64(8), data([f64(v)]), true);
    add(`fpatan ${v}`, 'd9e8' + E.fld64(0x40) + 'd9f3' + E.fstp64(0), data([f64(v)]), true);
    add(`fyl2x ${v}`, 'd9eb' + E.fld64(0x40) + 'd9f1' + E.fstp64(0), data([f64(Math.abs(v))]), true);
    add(`fyl2xp1 ${v}`, 'd9eb' + E.fld64(0x40) + 'd9f9' + E.fstp64(0), data([f64(Math.max(-0.29, Math.min(0.29, v / 4)))]), true);
    add(`f2xm1 ${v}`, E.fld64(0x40) + 'd9f0' + E.fstp64(0), data([f64(Math.max(-1, Math.min(1, v)))]), true);
  }
  add('fsin out of range sets C2', E.fld64(0x40) + 'd9fe' + FSTSW_AX + E.fstp64(0), data([f64(1e19)]));
  add('fsin inf is invalid', E.fld64(0x40) + 'd9fe' + FSTSW_AX + E.fstp64(0), data([f64bits(0x7ff00000, 0)]));
  add('fptan pushes 1.0', E.fld64(0x40) + 'd9f2' + FSTSW_AX + E.fstp64(0) + E.fstp64(8), data([f64(0.25)]), true);

  // ---- random mixes with random control words (any exception may be unmasked): the operation, FNSTSW AX,
  // FNSTENV (masks everything, clears ES), then the stack is stored
  const mixOps = ['d8c1', 'd8e1', 'd8e9', 'd8c9', 'd8f1', 'd8f9', 'd9fa', 'd9f8', 'd9f5', 'd9fc', 'd9fd', 'd9f4', 'd8d1', 'dde1',
    'dbf1', 'dfe9', 'd9e4', 'd9e5', 'd9e0', 'd9e1', 'd9c9', 'dec1', 'def9', 'dee9', 'd9f7', 'd9f6', 'ddc1'];
  const stores = [E.fst64(0x40), E.fst32(0x48), E.fistp64(0x50), E.fstp80(0x60), E.fist16(0x50), E.fisttp32(0x50), E.fbstp(0x60)];
  const randomCw = () => [0x0040, 0x0240, 0x0340][rnd() % 3] | ((rnd() % 4) << 10) | (rnd() & 0x3f);
  const mixExt = () => {
    const k = rnd() % 10;
    const e = k < 5 ? 0x3fff + (rnd() % 130) - 65 : k < 7 ? rnd() % 0x7fff : k < 8 ? rnd() % 70 : k < 9 ? 0x7ffe - (rnd() % 70) : 0x3fff + (rnd() % 10) - 5;
    let hi = (rnd() | 0x80000000) >>> 0, lo = rnd();
    if (rnd() % 4 === 0) lo = (lo & 0xfffff800) >>> 0;
    if (e === 0 && rnd() % 2) hi = (hi & 0x7fffffff) >>> 0;
    return ext((rnd() & 1 ? 0x8000 : 0) | e, hi, lo);
  };
  for (let k = 0; k < 160; k++) {
    const cw = randomCw(), op = mixOps[rnd() % mixOps.length];
    add(`mix op ${k} ${op} cw=${cw.toString(16)}`, E.fldcw(0x3e) + E.fld80(0x4a) + E.fld80(0x40) + op + FSTSW_AX + E.fnstenv(0) + 'd9c0' + stores[rnd() % stores.length] +
      E.fstp80(0x30) + E.fstp80(0x70), data([mixExt(), mixExt()], cw), false, [[0, 32]]);
  }
  for (let k = 0; k < 80; k++) {
    const cw = randomCw();
    add(`mix store ${k} cw=${cw.toString(16)}`, E.fldcw(0x3e) + E.fld80(0x4a) + E.fld80(0x40) + 'd9c0' + stores[rnd() % stores.length] + FSTSW_AX + E.fnstenv(0) +
      E.fstp80(0x30) + E.fstp80(0x70), data([mixExt(), mixExt()], cw), false, [[0, 32]]);
  }
  for (let k = 0; k < 80; k++) {
    const cw = randomCw(), kind = rnd() % 6, r = rnd() % 8;
    const load = kind === 0 ? E.fld64(0x40) : kind === 1 ? E.fld32(0x40) : 'd9eb' + [E.ar64, E.ar32, E.ari32, E.ari16][kind - 2](r, 0x40);
    let hi = rnd();
    const sel = rnd() % 6;
    if (sel === 0) hi = (hi & 0x800fffff) >>> 0; else if (sel === 1) hi = (hi | 0x7ff00000) >>> 0; else if (sel === 2) hi = ((hi & 0x800fffff) | 0x3ff00000) >>> 0;
    add(`mix memory operand ${k} cw=${cw.toString(16)}`, E.fldcw(0x3e) + load + FSTSW_AX + E.fnstenv(0) + E.fstp80(0x30) + E.fstp80(0x70),
      data([f64bits(hi, rnd() % 5 === 0 ? 0 : rnd())], cw), false, [[0, 32]]);
  }
  return cases;
}
