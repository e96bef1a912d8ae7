/**
 * The arithmetic instruction families: shifts and rotates, SHLD/SHRD, MUL/IMUL/DIV/IDIV, the bit
 * instructions (BT*, BSF/BSR, TZCNT/LZCNT, POPCNT) and the BCD adjustments. Expected values come
 * from the SDM's pseudo-code and examples; where the SDM says "undefined", from what the Intel
 * host does (recorded natively; the big differential fixtures in test/diff cover the rest).
 */
import { describe, it, expect } from 'vitest';
import { runSnippet } from '../../src/cpu/snippet.js';
import { CODE_ADDR, DATA_ADDR, DATA_SIZE, type SnippetResult } from '../../src/cpu/snippet-types.js';
import { Ram } from '../../src/memory/ram.js';
import { PhysBus } from '../../src/memory/physbus.js';
import { PortBus } from '../../src/memory/ports.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { CPU, MODE_PROT } from '../../src/cpu/cpu.js';
import { decodeBytes, DEC32 } from '../../src/cpu/decoder.js';
import { CpuFault } from '../../src/cpu/fault.js';

const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;
const REGS = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const M64 = (1n << 64n) - 1n;

interface Init { [reg: string]: bigint | number | Uint8Array | undefined; flags?: number; mem?: Uint8Array }

/** Run one 64-bit-mode instruction; registers not given are 0 (RSP points into the data window). */
function run(bytes: number[], init: Init = {}): SnippetResult & { r: (name: string) => bigint; f: number } {
  const gpr = REGS.map((n) => BigInt.asUintN(64, BigInt((init[n] as bigint | number | undefined) ?? (n === 'rsp' ? DATA_ADDR + 0x1000 : 0))));
  const mem = new Uint8Array(DATA_SIZE);
  if (init.mem) mem.set(init.mem);
  const res = runSnippet(new Uint8Array(bytes), {
    gpr, rip: BigInt(CODE_ADDR), rflags: BigInt(0x202 | (init.flags ?? 0)),
    xmm: Array.from({ length: 16 }, () => [0n, 0n] as [bigint, bigint]), mxcsr: 0x1f80, mem,
  });
  return Object.assign(res, { r: (n: string) => res.gpr[REGS.indexOf(n)], f: Number(res.rflags) & ARITH });
}
const q = (v: bigint) => BigInt.asUintN(64, v);

describe('shifts and rotates', () => {
  it('shl eax,1 of 0x80000000 gives 0 with CF=1, OF=1, ZF=1, PF=1', () => {
    const s = run([0xd1, 0xe0], { rax: 0x80000000 });
    expect(s.r('rax')).toBe(0n);
    expect(s.f).toBe(CF | OF | ZF | PF);
  });
  it('a masked count of 0 changes no flag but still zero-extends a 32-bit register', () => {
    const s = run([0xd3, 0xe0], { rax: 0x1234567880000001n, rcx: 0x20, flags: CF | SF | AF | OF });   // shl eax,cl (cl=32 → 0)
    expect(s.r('rax')).toBe(0x80000001n);
    expect(s.f).toBe(CF | SF | AF | OF);
  });
  it('the count is masked to 6 bits with REX.W: shl rax,cl with cl=65 shifts by 1', () => {
    const s = run([0x48, 0xd3, 0xe0], { rax: 0xc000000000000001n, rcx: 65 });
    expect(s.r('rax')).toBe(0x8000000000000002n);
    expect(s.f & (CF | OF)).toBe(CF);   // CF = old bit 63; OF = MSB(result) XOR CF = 0
  });
  it('rcl al by 9 rotates through CF back to the start: AL, CF and OF unchanged', () => {
    const s = run([0xd2, 0xd0], { rax: 0x5a, rcx: 9, flags: CF });
    expect(s.r('rax')).toBe(0x5an);
    expect(s.f).toBe(CF);
  });
  it('rcl al by 1 and by 8 move CF in and the top bit out (9-bit rotation)', () => {
    const one = run([0xd0, 0xd0], { rax: 0x81, flags: CF });                 // rcl al,1
    expect(one.r('rax')).toBe(0x03n);
    expect(one.f & (CF | OF)).toBe(CF | OF);                                 // CF = old bit 7; OF = MSB(0x03) XOR CF
    const eight = run([0xc0, 0xd0, 8], { rax: 0x81 });                       // rcl al,8 with CF=0
    // 9-bit value CF:AL = 0:10000001 rotated left by 8 = rotated right by 1 → CF=1, AL=0x40
    expect(eight.r('rax')).toBe(0x40n);
    expect(eight.f & CF).toBe(CF);
  });
  it('rcr ax by 17 is a full rotation of the 17-bit value', () => {
    const s = run([0x66, 0xc1, 0xd8, 17], { rax: 0xbeef, flags: CF | OF });
    expect(s.r('rax')).toBe(0xbeefn);
    expect(s.f).toBe(CF | OF);
  });
  it('rcl/rcr with 64-bit operands', () => {
    const l = run([0x48, 0xc1, 0xd0, 4], { rax: 0x8000000000000001n, flags: CF });   // rcl rax,4
    expect(l.r('rax')).toBe(0x0000000000000018n | 0x4n);
    expect(l.f & CF).toBe(0);
    const r = run([0x48, 0xc1, 0xd8, 1], { rax: 0x2n, flags: CF });                   // rcr rax,1
    expect(r.r('rax')).toBe(0x8000000000000001n);
    expect(r.f & (CF | OF)).toBe(OF);                                                 // OF = MSB(orig) XOR CF = 0^1
  });
  it('sar keeps the sign; shr by more than the width of a byte clears it (CF = last bit out)', () => {
    const sar = run([0xc0, 0xf8, 3], { rax: 0x84 });                          // sar al,3
    expect(sar.r('rax')).toBe(0xf0n);
    expect(sar.f & (CF | SF | OF)).toBe(CF | SF);
    const shr = run([0xd2, 0xe8], { rax: 0x80, rcx: 8 });                    // shr al,8
    expect(shr.r('rax')).toBe(0n);
    expect(shr.f & (CF | ZF)).toBe(CF | ZF);
    const sar64 = run([0x48, 0xc1, 0xf8, 63], { rax: 0x8000000000000000n }); // sar rax,63
    expect(sar64.r('rax')).toBe(M64);
  });
  it('rol/ror set CF from the rotated bit; other flags unchanged', () => {
    const rol = run([0xc1, 0xc0, 4], { rax: 0xf0000001, flags: ZF | SF | PF | AF }); // rol eax,4
    expect(rol.r('rax')).toBe(0x0000001fn);
    expect(rol.f & ~OF).toBe(ZF | SF | PF | AF | CF);
    const ror = run([0x48, 0xd1, 0xc8], { rax: 1n });                                 // ror rax,1
    expect(ror.r('rax')).toBe(0x8000000000000000n);
    expect(ror.f).toBe(CF | OF);
  });
  it('host behaviour for OF with counts > 1: first-step formula; ROL/ROR r,imm8 keep OF', () => {
    // shl r8b,3 of 0x40: OF = bit7 ^ bit6 of the original = 1 (host)
    expect(run([0x40, 0xc0, 0xe0 | 7, 3], { rdi: 0x40 }).f & OF).toBe(OF);
    // rol bh... rol ebx,4 from a register keeps OF (host)
    expect(run([0xc1, 0xc3, 4], { rbx: 0x40000000, flags: OF }).f & OF).toBe(OF);
    expect(run([0xc1, 0xc3, 4], { rbx: 0x40000000 }).f & OF).toBe(0);
    // rol ebx,cl by 4 computes it: bit31 ^ bit30 = 1
    expect(run([0xd3, 0xc3], { rbx: 0x40000000, rcx: 4 }).f & OF).toBe(OF);
    // AF is cleared by a shift with a non-zero count (host)
    expect(run([0xd1, 0xe0], { rax: 1, flags: AF }).f & AF).toBe(0);
  });
  it('shifts a memory operand', () => {
    const mem = new Uint8Array(16); mem[8] = 0x81;
    const s = run([0xd0, 0x46, 0x08], { rsi: DATA_ADDR, mem });                // rol byte [rsi+8],1
    expect(s.mem[8]).toBe(0x03);
    expect(s.f & CF).toBe(CF);
  });
  it('shld/shrd shift bits in from the source', () => {
    const l = run([0x0f, 0xa4, 0xd8, 8], { rax: 0x12345678, rbx: 0xabcdef01 });         // shld eax,ebx,8
    expect(l.r('rax')).toBe(0x345678abn);
    const r = run([0x48, 0x0f, 0xad, 0xd8], { rax: 0x1n, rbx: 0xffn, rcx: 4 });          // shrd rax,rbx,cl
    expect(r.r('rax')).toBe(0xf000000000000000n);
    expect(r.f & (CF | SF)).toBe(SF);
    const r2 = run([0x48, 0x0f, 0xac, 0xd8, 1], { rax: 0x3n, rbx: 0n });                 // shrd rax,rbx,1
    expect(r2.r('rax')).toBe(1n);
    expect(r2.f & CF).toBe(CF);
    // 16-bit with count > 16 (undefined): the host shifts dest:src:dest
    const u = run([0x66, 0x0f, 0xa5, 0xd8], { rax: 0x8001, rbx: 0x1234, rcx: 17 });      // shld ax,bx,cl
    expect(u.r('rax')).toBe(0x2469n);
    const v = run([0x66, 0x0f, 0xad, 0xd8], { rax: 0x8001, rbx: 0x1234, rcx: 19 });      // shrd ax,bx,cl
    expect(v.r('rax')).toBe(0x2246n);
    expect(v.f & (CF | OF)).toBe(CF | OF);
  });
  it('count 0 leaves shld flags alone', () => {
    const s = run([0x0f, 0xa5, 0xd8], { rax: 5, rbx: 7, rcx: 0, flags: CF | ZF });
    expect(s.r('rax')).toBe(5n);
    expect(s.f).toBe(CF | ZF);
  });
});

describe('multiply and divide', () => {
  it('mul rbx: 128-bit product in RDX:RAX, CF=OF=1 when RDX is not 0', () => {
    const s = run([0x48, 0xf7, 0xe3], { rax: M64, rbx: M64 });
    expect(s.r('rax')).toBe(1n);
    expect(s.r('rdx')).toBe(M64 - 1n);
    expect(s.f & (CF | OF)).toBe(CF | OF);
  });
  it('mul ebx: 32×32 exact, upper halves cleared; SF/PF from EAX, ZF cleared (host)', () => {
    const s = run([0xf7, 0xe3], { rax: 0xffffffffn | (7n << 32n), rbx: 0xfffffffen });
    expect(s.r('rax')).toBe(2n);
    expect(s.r('rdx')).toBe(0xfffffffdn);
    expect(s.f).toBe(CF | OF);
    const z = run([0xf7, 0xe3], { rax: 0, rbx: 5 });
    expect(z.f).toBe(PF);                      // result 0, yet ZF = 0 on the host
  });
  it('mul bl and imul bl write AX', () => {
    expect(run([0xf6, 0xe3], { rax: 0xff, rbx: 0xff }).r('rax')).toBe(0xfe01n);
    const i = run([0xf6, 0xeb], { rax: 0xff, rbx: 0x02 });   // -1 * 2
    expect(i.r('rax')).toBe(0xfffen);
    expect(i.f & (CF | OF)).toBe(0);
  });
  it('imul (one, two, three operands) sets CF=OF when the result does not fit', () => {
    const a = run([0x48, 0xf7, 0xeb], { rax: -3n, rbx: 5n });                      // imul rbx
    expect(a.r('rax')).toBe(q(-15n));
    expect(a.r('rdx')).toBe(M64);
    expect(a.f & (CF | OF)).toBe(0);
    const b = run([0x48, 0x0f, 0xaf, 0xc3], { rax: 1n << 62n, rbx: 2n });           // imul rax,rbx
    expect(b.r('rax')).toBe(1n << 63n);
    expect(b.f & (CF | OF)).toBe(CF | OF);
    const c = run([0x6b, 0xc3, 0xfe], { rbx: 0x40000000 });                        // imul eax,ebx,-2
    expect(c.r('rax')).toBe(0x80000000n);
    expect(c.f & (CF | OF)).toBe(0);
    const d = run([0x66, 0x69, 0xc3, 0x00, 0x01], { rbx: 0x80 });                   // imul ax,bx,0x100
    expect(d.r('rax')).toBe(0x8000n);
    expect(d.f & (CF | OF)).toBe(CF | OF);
  });
  it('div by zero raises #DE (vector 0) and changes nothing', () => {
    for (const bytes of [[0xf6, 0xf3], [0xf7, 0xf3], [0x48, 0xf7, 0xf3], [0x66, 0xf7, 0xfb]]) {
      const s = run(bytes, { rax: 1234, rdx: 0, rbx: 0 });
      expect(s.exception).toBe(0);
      expect(s.r('rax')).toBe(1234n);
      expect(s.rip).toBe(BigInt(CODE_ADDR));
    }
  });
  it('div quotient overflow raises #DE', () => {
    expect(run([0xf6, 0xf3], { rax: 0x100, rbx: 1 }).exception).toBe(0);            // div bl: 256/1
    expect(run([0xf7, 0xf3], { rax: 0, rdx: 5, rbx: 5 }).exception).toBe(0);        // div ebx: EDX >= divisor
    expect(run([0x48, 0xf7, 0xf3], { rax: 0, rdx: 1n << 40n, rbx: 1n << 40n }).exception).toBe(0);
  });
  it('idiv of INT_MIN by -1 raises #DE', () => {
    expect(run([0xf7, 0xfb], { rax: 0x80000000, rdx: 0xffffffff, rbx: 0xffffffff }).exception).toBe(0);
    expect(run([0x48, 0xf7, 0xfb], { rax: 1n << 63n, rdx: M64, rbx: M64 }).exception).toBe(0);
    expect(run([0xf6, 0xfb], { rax: 0xff80, rbx: 0xff }).exception).toBe(0);
    // ... but INT_MIN / 1 and (INT_MIN) / -1 with a wider dividend that fits do not
    const ok = run([0xf7, 0xfb], { rax: 0x80000000, rdx: 0xffffffff, rbx: 1 });
    expect(ok.exception).toBeUndefined();
    expect(ok.r('rax')).toBe(0x80000000n);
  });
  it('div: 128/64 with a small divisor (no BigInt) and with a large one', () => {
    const s = run([0x48, 0xf7, 0xf3], { rax: 0x0123456789abcdefn, rdx: 9n, rbx: 10n });
    const n = (9n << 64n) | 0x0123456789abcdefn;
    expect(s.r('rax')).toBe(n / 10n);
    expect(s.r('rdx')).toBe(n % 10n);
    const b = run([0x48, 0xf7, 0xf3], { rax: 0xfedcba9876543210n, rdx: 0x1234n, rbx: 0x123456789an });
    const m = (0x1234n << 64n) | 0xfedcba9876543210n;
    expect(b.r('rax')).toBe(m / 0x123456789an);
    expect(b.r('rdx')).toBe(m % 0x123456789an);
  });
  it('div edx:eax by ebx, exact for a full 64-bit dividend', () => {
    const s = run([0xf7, 0xf3], { rax: 0xffffffff, rdx: 0xfffffffe, rbx: 0xffffffff });
    expect(s.r('rax')).toBe(0xffffffffn);
    expect(s.r('rdx')).toBe(0xfffffffen);
  });
  it('idiv truncates toward zero; the remainder takes the dividend sign', () => {
    const s = run([0xf7, 0xfb], { rax: q(-7n) & 0xffffffffn, rdx: 0xffffffff, rbx: 2 });
    expect(s.r('rax')).toBe(0xfffffffdn);   // -3
    expect(s.r('rdx')).toBe(0xffffffffn);   // -1
    const t = run([0x48, 0xf7, 0xfb], { rax: 7n, rdx: 0n, rbx: q(-2n) });
    expect(t.r('rax')).toBe(q(-3n));
    expect(t.r('rdx')).toBe(1n);
    const b = run([0x48, 0xf7, 0xfb], { rax: q(-(1n << 62n)), rdx: M64, rbx: q(-(1n << 40n)) });
    expect(b.r('rax')).toBe(1n << 22n);
    expect(b.r('rdx')).toBe(0n);
  });
  it('div and idiv leave the flags unchanged (undefined in the SDM; host behaviour)', () => {
    expect(run([0xf7, 0xf3], { rax: 100, rbx: 7, flags: CF | ZF | OF }).f).toBe(CF | ZF | OF);
    expect(run([0xf7, 0xfb], { rax: 100, rbx: 7, flags: SF | PF | AF }).f).toBe(SF | PF | AF);
  });
});

describe('bit test and scan', () => {
  const bitmem = () => { const m = new Uint8Array(0x2000); m.fill(0x00); return m; };
  it('bt with a negative register offset addresses memory below the operand', () => {
    const mem = bitmem(); mem[0x0ff8 + 7] = 0x80;                             // bit 63 of the qword at 0xff8
    const s = run([0x48, 0x0f, 0xa3, 0x1e], { rsi: DATA_ADDR + 0x1000, rbx: -1n, mem });   // bt [rsi],rbx
    expect(s.f & CF).toBe(CF);
    const t = run([0x0f, 0xab, 0x1e], { rsi: DATA_ADDR + 0x1000, rbx: -33n, mem: bitmem() }); // bts [rsi],ebx
    // -33 >> 5 = -2 → dword at rsi-8, bit (-33 & 31) = 31
    expect(t.mem[0x0ffb]).toBe(0x80);
    expect(t.f & CF).toBe(0);
    const w = run([0x66, 0x0f, 0xbb, 0x1e], { rsi: DATA_ADDR + 0x1000, rbx: 0xffff, mem: bitmem() }); // btc [rsi],bx (bx = -1)
    expect(w.mem[0x0fff]).toBe(0x80);
  });
  it('bt with a register offset beyond the operand moves the address forward', () => {
    const s = run([0x0f, 0xb3, 0x1e], { rsi: DATA_ADDR, rbx: 100, mem: new Uint8Array(16).fill(0xff) }); // btr [rsi],ebx
    expect(s.mem[12]).toBe(0xef);      // dword 3, bit 4
    expect(s.f & CF).toBe(CF);
  });
  it('register destinations and immediates take the offset modulo the width', () => {
    const s = run([0x48, 0x0f, 0xba, 0xe8, 0x43], { rax: 0n });               // bts rax,0x43 → bit 3
    expect(s.r('rax')).toBe(8n);
    const r = run([0x0f, 0xa3, 0xd8], { rax: 1n << 5n, rbx: 37 });            // bt eax,ebx → bit 5
    expect(r.f & CF).toBe(CF);
    // bt dword [rsi],39 → bit 7 of the dword at rsi (an immediate never moves the address: bit 39 would be set)
    const m = run([0x0f, 0xba, 0x26, 0x27], { rsi: DATA_ADDR, mem: new Uint8Array([0x7f, 0, 0, 0, 0x80, 0]) });
    expect(m.f & CF).toBe(0);
  });
  it('bt leaves ZF and the undefined flags unchanged', () => {
    expect(run([0x0f, 0xa3, 0xd8], { rax: 1, rbx: 0, flags: ZF | SF | OF }).f).toBe(ZF | SF | OF | CF);
  });
  it('lock bt is #UD; lock bts on memory is fine', () => {
    expect(run([0xf0, 0x0f, 0xa3, 0x1e], { rsi: DATA_ADDR }).exception).toBe(6);
    expect(run([0xf0, 0x0f, 0xab, 0x1e], { rsi: DATA_ADDR }).exception).toBeUndefined();
    expect(run([0xf0, 0x0f, 0xab, 0xd8]).exception).toBe(6);                  // register destination
  });
  it('bsf/bsr with a zero source set ZF and leave the whole destination unchanged', () => {
    const s = run([0x0f, 0xbc, 0xc3], { rax: 0x1122334455667788n, rbx: 0 });   // bsf eax,ebx
    expect(s.r('rax')).toBe(0x1122334455667788n);
    expect(s.f).toBe(ZF | PF);
    const r = run([0x48, 0x0f, 0xbd, 0xc3], { rax: 5, rbx: 0 });
    expect(r.r('rax')).toBe(5n);
    expect(r.f & ZF).toBe(ZF);
  });
  it('bsf/bsr find the lowest/highest set bit', () => {
    expect(run([0x48, 0x0f, 0xbc, 0xc3], { rax: -1n, rbx: 1n << 40n }).r('rax')).toBe(40n);
    expect(run([0x48, 0x0f, 0xbd, 0xc3], { rbx: (1n << 63n) | 1n }).r('rax')).toBe(63n);
    const w = run([0x66, 0x0f, 0xbd, 0xc3], { rax: 0xffff0000n, rbx: 0x0100 });
    expect(w.r('rax')).toBe(0xffff0008n);
    expect(w.f & ZF).toBe(0);
  });
  it('tzcnt/lzcnt return the width for 0 with CF=1, and set ZF for a zero result', () => {
    const t = run([0xf3, 0x0f, 0xbc, 0xc3], { rbx: 0 });
    expect(t.r('rax')).toBe(32n);
    expect(t.f).toBe(CF);
    const l = run([0xf3, 0x48, 0x0f, 0xbd, 0xc3], { rbx: 1n << 63n });
    expect(l.r('rax')).toBe(0n);
    expect(l.f).toBe(ZF);
    expect(run([0x66, 0xf3, 0x0f, 0xbd, 0xc3], { rbx: 1 }).r('rax')).toBe(15n);
    expect(run([0xf3, 0x48, 0x0f, 0xbc, 0xc3], { rbx: 1n << 50n }).r('rax')).toBe(50n);
  });
  it('popcnt counts bits and clears every flag but ZF', () => {
    const p = run([0xf3, 0x48, 0x0f, 0xb8, 0xc3], { rbx: M64, flags: CF | OF | SF });
    expect(p.r('rax')).toBe(64n);
    expect(p.f).toBe(0);
    expect(run([0xf3, 0x0f, 0xb8, 0xc3], { rbx: 0, flags: CF }).f).toBe(ZF);
  });
});

describe('BCD adjustments (legacy modes)', () => {
  /** A CPU in 32-bit protected mode (CS.D = 1, paging off); runs one instruction given as bytes. */
  const cpu = new CPU(new PhysBus(new Ram(1 << 20)), new PortBus(), new VirtualClock());
  cpu.cr0 = 0x11;
  cpu.segAr[1] = 0xc09b; cpu.segLimit[1] = 0xffffffff;
  cpu.updateMode();
  function exec(bytes: number[], eax: number, flags = 0): { eax: number; f: number; fault?: number } {
    const r = decodeBytes(new Uint8Array(bytes), DEC32);
    if (!r.insn || !r.valid) throw new Error(`cannot decode ${bytes}`);
    cpu.lo[0] = eax; cpu.setFlags(0x202 | flags);
    try { r.insn.fn(cpu, r.insn); } catch (e) {
      if (e instanceof CpuFault) return { eax: cpu.lo[0] >>> 0, f: cpu.getFlags() & ARITH, fault: e.vector };
      throw e;
    }
    return { eax: cpu.lo[0] >>> 0, f: cpu.getFlags() & ARITH };
  }
  it('runs in 32-bit protected mode', () => { expect(cpu.mode).toBe(MODE_PROT); });

  it('DAA after 79H + 35H = AEH gives 14H with CF=1, AF=1 (SDM example)', () => {
    const s = exec([0x27], 0xae);
    expect(s.eax & 0xff).toBe(0x14);
    expect(s.f & (CF | AF | ZF | SF)).toBe(CF | AF);
  });
  it('DAS after 35H − 47H = EEH gives 88H with CF=1, AF=1, SF=1 (SDM example)', () => {
    const s = exec([0x2f], 0xee, CF | AF);
    expect(s.eax & 0xff).toBe(0x88);
    expect(s.f & (CF | AF | ZF | SF)).toBe(CF | AF | SF);
  });
  it('AAA and AAS adjust AH and mask AL', () => {
    expect(exec([0x37], 0x010b)).toEqual({ eax: 0x0201, f: CF | AF });
    expect(exec([0x37], 0x0105)).toEqual({ eax: 0x0105, f: PF });
    expect(exec([0x3f], 0x020b)).toEqual({ eax: 0x0105, f: CF | AF | PF });
    expect(exec([0x3f], 0x000a).eax).toBe(0xff04);   // AX − 6, AH − 1
  });
  it('AAM divides AL by the immediate; AAM 0 raises #DE', () => {
    expect(exec([0xd4, 0x0a], 0x3f)).toEqual({ eax: 0x0603, f: PF });
    expect(exec([0xd4, 0x10], 0xab).eax).toBe(0x0a0b);
    expect(exec([0xd4, 0x00], 0x3f).fault).toBe(0);
  });
  it('AAD combines AH·imm + AL and clears AH', () => {
    expect(exec([0xd5, 0x0a], 0x12340605).eax).toBe(0x12340041);
    expect(exec([0xd5, 0x10], 0x0102).eax).toBe(0x12);
  });
  it('SALC copies CF into every bit of AL without touching the flags', () => {
    expect(exec([0xd6], 0x1234, CF | ZF)).toEqual({ eax: 0x12ff, f: CF | ZF });
    expect(exec([0xd6], 0x12ff, ZF)).toEqual({ eax: 0x1200, f: ZF });
  });
  it('undefined flags follow the host (recorded with gcc -m32 on the Intel host)', () => {
    // [bytes, AX in, flags in, AX out, OSZAPC out] — lines of the native run
    const host: [number[], number, number, number, number][] = [
      [[0x27], 0x9a, 0, 0x00, 0x55],         // daa: OF cleared
      [[0x27], 0xae, OF | SF | ZF | PF, 0x14, 0x15],
      [[0x2f], 0x9a, CF | AF, 0x34, 0x11],   // das
      [[0x37], 0x3a, 0, 0x100, 0x55],        // aaa: SF ZF PF from the final AL, OF cleared
      [[0x3f], 0x0a, 0, 0xff04, 0x11],       // aas
      [[0xd5, 0x10], 0x170, 0, 0x80, 0x880], // aad: flags of the 8-bit add 0x70 + 0x10 (OF)
      [[0xd5, 0xff], 0x101, 0, 0x00, 0x55],  // aad: 1 + 0xff carries (CF AF ZF PF)
      [[0xd5, 0x0a], 0x106, 0, 0x10, 0x10],  // aad: AF from 6 + 0x0a
      [[0xd4, 0x10], 0xff, OF | CF | AF, 0x0f0f, 0x04], // aam: OF AF CF cleared
    ];
    for (const [bytes, ax, fin, axOut, fOut] of host) {
      const s = exec(bytes, ax, fin);
      expect({ bytes, ax, ax_out: s.eax & 0xffff, f: s.f }).toEqual({ bytes, ax, ax_out: axOut, f: fOut });
    }
  });
  it('the BCD opcodes are #UD in 64-bit mode', () => {
    for (const op of [0x27, 0x2f, 0x37, 0x3f, 0xd6]) expect(run([op]).exception).toBe(6);
    expect(run([0xd4, 0x0a]).exception).toBe(6);
    expect(run([0xd5, 0x0a]).exception).toBe(6);
  });
});
