import { describe, it, expect } from 'vitest';
import { runSnippet } from '../../src/cpu/snippet.js';
import { CODE_ADDR, DATA_ADDR, DATA_SIZE, type SnippetState } from '../../src/cpu/snippet-types.js';
import { RAX, RCX, RSI, RDI, RSP, FS, DF, ZF, TF } from '../../src/cpu/regs.js';
import { REP_CHUNK } from '../../src/cpu/ops/string.js';
import { createMachine, hex, CODE, DATA, PT0 } from './helpers/machine.js';

/**
 * String instructions (SDM Vol. 2: MOVS, CMPS, SCAS, LODS, STOS, INS, OUTS and "REP/REPE/REPZ/
 * REPNE/REPNZ"). The differential fixtures (test/diff/fixtures/string.json) cover the single-step
 * semantics against the host CPU; these tests cover long runs, chunked re-execution, faults in the
 * middle, address-size wrap, segment overrides, port I/O and self-modifying stores.
 * Machine code is hex with its nasm source in a comment.
 */
const PF = 14;

function state(gpr: Partial<Record<number, bigint>>, rflags = 0x202n, mem?: Uint8Array): SnippetState {
  const g: bigint[] = [];
  for (let r = 0; r < 16; r++) g.push(gpr[r] ?? 0n);
  g[RSP] = BigInt(DATA_ADDR + DATA_SIZE - 0x100);
  return { gpr: g, rip: BigInt(CODE_ADDR), rflags, xmm: Array.from({ length: 16 }, () => [0n, 0n] as [bigint, bigint]), mxcsr: 0x1f80, mem: mem ?? new Uint8Array(DATA_SIZE) };
}
const D = BigInt(DATA_ADDR);

describe('single string instructions at CPL 3 (runSnippet)', () => {
  it('MOVSD forward and backward (DF) moves the pointers by the element size', () => {
    const mem = new Uint8Array(DATA_SIZE); mem.set([1, 2, 3, 4], 0x100);
    let r = runSnippet(hex('a5'), state({ [RSI]: D + 0x100n, [RDI]: D + 0x200n }, 0x202n, mem));
    expect([...r.mem.subarray(0x200, 0x204)]).toEqual([1, 2, 3, 4]);
    expect([r.gpr[RSI] - D, r.gpr[RDI] - D]).toEqual([0x104n, 0x204n]);
    r = runSnippet(hex('a5'), state({ [RSI]: D + 0x100n, [RDI]: D + 0x200n }, 0x602n, mem));
    expect([r.gpr[RSI] - D, r.gpr[RDI] - D]).toEqual([0xfcn, 0x1fcn]);
  });
  it('LODSQ loads RAX; STOSW stores AX; SCASB sets flags of AL − [RDI]', () => {
    const mem = new Uint8Array(DATA_SIZE); mem.set([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11], 0x10);
    let r = runSnippet(hex('48ad'), state({ [RSI]: D + 0x10n }, 0x202n, mem));
    expect(r.gpr[RAX]).toBe(0x1122334455667788n);
    r = runSnippet(hex('66ab'), state({ [RDI]: D + 0x20n, [RAX]: 0xabcdn }));
    expect([...r.mem.subarray(0x20, 0x23)]).toEqual([0xcd, 0xab, 0]);
    r = runSnippet(hex('ae'), state({ [RDI]: D + 0x10n, [RAX]: 0x88n }, 0x202n, mem));
    expect(Number(r.rflags) & ZF).toBe(ZF);
  });
  it('REP with RCX = 0 does nothing and does not fault on a bad pointer', () => {
    const r = runSnippet(hex('f3a4'), state({ [RSI]: 0n, [RDI]: 0n, [RCX]: 0n }));
    expect(r.exception).toBeUndefined();
    expect(r.rip).toBe(BigInt(CODE_ADDR + 2));
  });
});

describe('REP runs through the executor', () => {
  it(`REP MOVSB of 10000 bytes completes in chunks of ${REP_CHUNK} iterations (one retired instruction each)`, () => {
    // mov rsi,0x300000; mov rdi,0x310000; mov ecx,10000; rep movsb; hlt
    const m = createMachine();
    const src = new Uint8Array(10000).map((_, i) => (i * 7 + 3) & 0xff);
    m.bus.writeBytes(DATA, src);
    m.run('be00003000bf00003100b910270000f3a4f4');
    expect(m.cpu.stop?.reason).toBe('halted');
    expect(Buffer.from(m.bus.readBytes(DATA + 0x10000, 10000)).equals(Buffer.from(src))).toBe(true);
    expect([m.cpu.lo[RCX], m.cpu.lo[RSI], m.cpu.lo[RDI]]).toEqual([0, DATA + 10000, DATA + 0x10000 + 10000]);
    expect(m.cpu.clock.icount).toBe(3 + Math.ceil(10000 / REP_CHUNK) + 1);
  });
  it('REP MOVSD of 1 MiB across a 2-MiB page boundary (the RAM fast path) copies every byte, in 256 chunks', () => {
    // mov rsi,0x300000; mov rdi,0x500000; mov ecx,0x40000; rep movsd; hlt
    const m = createMachine();
    const n = 0x100000;
    const src = new Uint8Array(n).map((_, i) => (i ^ (i >> 9)) & 0xff);
    m.bus.writeBytes(DATA, src);
    m.run('be00003000bf00005000b900000400f3a5f4', 100_000);
    expect(m.cpu.stop?.reason).toBe('halted');
    expect(Buffer.from(m.bus.readBytes(0x500000, n)).equals(Buffer.from(src))).toBe(true);
    expect(m.cpu.clock.icount).toBe(3 + n / 4 / REP_CHUNK + 1);
  });
  it('overlapping REP MOVSB replicates a byte (element by element, as hardware defines it)', () => {
    // mov rsi,0x300000; mov rdi,0x300001; mov ecx,100; rep movsb; hlt
    const m = createMachine();
    m.bus.write8(DATA, 0xab);
    m.run('be00003000bf01003000b964000000f3a4f4');
    expect([...m.bus.readBytes(DATA, 102)]).toEqual([...new Array(101).fill(0xab), 0]);
  });
  it('REP STOSD across a 2-MiB page boundary', () => {
    // mov rdi,0x3ffff0; mov eax,0x11223344; mov ecx,8; rep stosd; hlt
    const m = createMachine();
    m.run('bff0ff3f00b844332211b908000000f3abf4');
    for (let i = 0; i < 8; i++) expect(m.bus.read32(0x3ffff0 + i * 4)).toBe(0x11223344);
    expect(m.bus.read32(0x400010)).toBe(0);
    expect(m.cpu.lo[RDI]).toBe(0x400010);
  });
  it('REPNE SCASB finds the terminator (strlen idiom)', () => {
    // mov rdi,0x300000; xor eax,eax; mov rcx,-1; repne scasb; not rcx; dec rcx; hlt
    const m = createMachine();
    m.bus.writeBytes(DATA, new TextEncoder().encode('hello, world\0'));
    m.run('bf0000300031c048c7c1fffffffff2ae48f7d148ffc9f4');
    expect([m.cpu.lo[RCX], m.cpu.hi[RCX]]).toEqual([12, 0]);
  });
  it('REPE CMPSB stops at the first difference with ZF = 0', () => {
    // mov rsi,0x300000; mov rdi,0x310000; mov ecx,10; repe cmpsb; hlt
    const m = createMachine();
    m.bus.writeBytes(DATA, hex('00010203040506070809'));
    m.bus.writeBytes(DATA + 0x10000, hex('000102ff040506070809'));
    m.run('be00003000bf00003100b90a000000f3a6f4');
    expect(m.cpu.getFlags() & ZF).toBe(0);
    expect([m.cpu.lo[RCX], m.cpu.lo[RSI]]).toEqual([6, DATA + 4]);
  });
  it('REP MOVSQ with DF = 1 copies downwards', () => {
    // std; mov rsi,0x300018; mov rdi,0x310018; mov ecx,4; rep movsq; cld; hlt
    const m = createMachine();
    for (let i = 0; i < 4; i++) m.bus.write32(DATA + i * 8, i + 1);
    m.run('fdbe18003000bf18003100b904000000f348a5fcf4');
    for (let i = 0; i < 4; i++) expect(m.bus.read32(DATA + 0x10000 + i * 8)).toBe(i + 1);
    expect([m.cpu.lo[RSI], m.cpu.lo[RDI]]).toEqual([DATA - 8, DATA + 0x10000 - 8]);
    expect(m.cpu.getFlags() & DF).toBe(0);
  });
  it('with TF set a REP instruction executes one iteration per step (the trap comes after each iteration)', () => {
    const m = createMachine();
    m.bus.writeBytes(CODE, hex('f3a4'));
    m.cpu.lo[RSI] = DATA; m.cpu.lo[RDI] = DATA + 0x100; m.cpu.lo[RCX] = 5;
    m.cpu.eflags |= TF;
    m.cpu.rip = CODE;
    m.exec.step(1);
    expect([m.cpu.lo[RCX], m.cpu.rip]).toEqual([4, CODE]);
  });
});

describe('faults, address sizes, segments, ports', () => {
  it('a #PF in the middle leaves RCX/RDI as the completed iterations left them, RIP at the instruction', () => {
    // mov rdi,0x151ffc; mov ecx,16; mov al,0x6f; rep stosb; hlt    (page 0x152000 is not present)
    const m = createMachine();
    m.bus.write32(PT0 + 0x152 * 8, 0);
    m.run('bffc1f1500b910000000b06ff3aaf4');
    expect(m.vector()).toBe(PF);
    expect([m.cpu.lo[RCX], m.cpu.lo[RDI]]).toEqual([12, 0x152000]);
    expect(m.cpu.cr2).toBe(0x152000);
    expect(m.bus.read32(0x151ffc) >>> 0).toBe(0x6f6f6f6f);
    expect(m.bus.read32(m.cpu.lo[RSP] + 8)).toBe(CODE + 12);  // the saved RIP is the REP STOSB itself
  });
  it('16-bit addressing (67 prefix in 32-bit code) uses SI/DI/CX and wraps at 64 KiB, keeping the upper halves', () => {
    // bits 32: mov esi,0x1234ffff; mov edi,0x318000; mov ecx,0xabcd0002; a16 rep movsb; hlt
    const m = createMachine({ mode: 'prot32' });
    m.bus.write8(0xffff, 0x5a); m.bus.write8(0x0000, 0xa5);
    m.run('beffff3412bf00803100b90200cdabf367a4f4');
    expect([m.bus.read8(0x8000), m.bus.read8(0x8001)]).toEqual([0x5a, 0xa5]);
    expect([m.cpu.lo[RSI] >>> 0, m.cpu.lo[RDI] >>> 0, m.cpu.lo[RCX] >>> 0]).toEqual([0x12340001, 0x318002, 0xabcd0000]);
  });
  it('a segment override changes the source only; the destination is always ES', () => {
    // bits 32: mov esi,0x10; mov edi,0x310000; fs movsb; mov edi,0x310100; mov al,0x5a; fs stosb; hlt
    const m = createMachine({ mode: 'prot32' });
    m.cpu.segBase[FS] = DATA;
    m.bus.write8(DATA + 0x10, 0x77);
    m.run('be10000000bf0000310064a4bf00013100b05a64aaf4');
    expect(m.bus.read8(DATA + 0x10000)).toBe(0x77);
    expect(m.bus.read8(DATA + 0x10100)).toBe(0x5a);
  });
  it('REP INSB / REP OUTSB move bytes between memory and a port', () => {
    // mov dx,0x60; mov rdi,0x300000; mov ecx,8; rep insb; mov rsi,0x300000; mov ecx,8; rep outsb; hlt
    const m = createMachine();
    let next = 0x40;
    const out: number[] = [];
    m.io.register({ portRead: () => next++, portWrite: (_p, _s, v) => { out.push(v); } }, [0x60]);
    m.run('66ba6000bf00003000b908000000f36cbe00003000b908000000f36ef4');
    expect([...m.bus.readBytes(DATA, 8)]).toEqual([0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47]);
    expect(out).toEqual([0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47]);
  });
  it('INS checks the destination before reading the port: a faulting store does not consume port data', () => {
    // mov dx,0x60; mov rdi,0x151ffe; mov ecx,4; rep insb; hlt    (page 0x152000 is not present)
    const m = createMachine();
    m.bus.write32(PT0 + 0x152 * 8, 0);
    let reads = 0;
    m.io.register({ portRead: () => ++reads, portWrite: () => undefined }, [0x60]);
    m.run('66ba6000bffe1f1500b904000000f36cf4');
    expect(m.vector()).toBe(PF);
    expect(reads).toBe(2);
    expect(m.cpu.lo[RCX]).toBe(2);
  });
  it('a REP STOSB that overwrites the following instructions executes the new bytes (code invalidation)', () => {
    // lea rdi,[rel patch]; mov ecx,4; mov al,0x90; rep stosb; patch: ud2; ud2; mov eax,0x1234; hlt
    const m = createMachine();
    m.run('488d3d09000000b904000000b090f3aa0f0b0f0bb834120000f4');
    expect(m.vector()).toBeUndefined();
    expect(m.cpu.stop?.reason).toBe('halted');
    expect(m.cpu.lo[RAX]).toBe(0x1234);
  });
});
