import { describe, it, expect } from 'vitest';
import {
  makeGuest, PROGRAMS, CODE, DATA, STUBS, UNMAPPED, ALIAS, ALIAS_PHYS, COPY_PAGE, STACK_TOP, LOOP_L1, LOOP_AFTER_STORE, LOOP_AFTER_LOAD,
} from './helpers/guest.js';
import { RspClient, xferRead, parseTargetXml, leHex, toLeHex, parseStop, type RegInfo } from './helpers/client.js';

/**
 * Every packet vmxray's stub implements, checked against the GDB manual ("Packets", "General
 * Query Packets", "Stop Reply Packets", "Host I/O"-free subset) on a real Machine running
 * hand-assembled 64-bit code (helpers/guest.ts).
 */
async function open(program: string = PROGRAMS.loop) {
  const g = makeGuest(program);
  let killed = 0, detached = 0;
  const s = RspClient.onSession(g.dbg, { onKill: () => { killed++; }, onDetach: () => { detached++; } });
  await s.client.handshake();
  const xml = await xferRead(s.client, 'features', 'target.xml');
  const regs = parseTargetXml(xml);
  const reg = (name: string): RegInfo => {
    const r = regs.find(x => x.name === name);
    if (!r) throw new Error(`no register ${name} in target.xml`);
    return r;
  };
  const c = s.client;
  const readReg = async (name: string) => leHex(await c.request(`p${reg(name).regnum.toString(16)}`));
  const writeReg = (name: string, v: bigint) => c.request(`P${reg(name).regnum.toString(16)}=${toLeHex(v, reg(name).bits / 8)}`);
  const mem = (addr: number, len: number) => c.request(`m${addr.toString(16)},${len.toString(16)}`);
  return { ...g, ...s, xml, regs, reg, readReg, writeReg, mem, counts: { get killed() { return killed; }, get detached() { return detached; } } };
}
const monitorIcount = async (c: RspClient): Promise<number> => {
  const { output, reply } = await c.monitor('icount');
  expect(reply).toBe('OK');
  const m = /(\d+) instructions/.exec(output);
  expect(m).not.toBeNull();
  return Number(m![1]);
};
const u64 = (x: number) => BigInt(x >>> 0);

describe('gdbstub: queries', () => {
  it('qSupported lists the features gdb needs', async () => {
    const { client } = await open();
    const feats = (await client.handshake()).split(';');
    for (const f of ['multiprocess+', 'qXfer:features:read+', 'qXfer:threads:read+', 'vContSupported+', 'swbreak+', 'hwbreak+', 'QStartNoAckMode+', 'QPassSignals+']) {
      expect(feats).toContain(f);
    }
    expect(feats.some(f => /^PacketSize=[0-9a-fA-F]+$/.test(f))).toBe(true);
  });

  it('? reports a stop with the thread (SIGTRAP before anything ran)', async () => {
    const { client } = await open();
    const r = await client.request('?');
    const s = parseStop(r);
    expect(s.kind).toBe('T');
    expect(s.signal).toBe(5);
    expect(s.pairs.get('thread')).toBe('p1.1');
  });

  it('target.xml is one well-formed description with the four features and gdb\'s amd64 core order', async () => {
    const { xml, regs } = await open();
    expect(xml).toMatch(/^<\?xml version="1.0"\?>/);
    expect(xml).toMatch(/<!DOCTYPE target SYSTEM "gdb-target.dtd">/);
    expect(xml).toMatch(/<architecture>i386:x86-64<\/architecture>/);
    const features = [...xml.matchAll(/<feature name="([^"]+)">/g)].map(m => m[1]);
    expect(features).toEqual(expect.arrayContaining(['org.gnu.gdb.i386.core', 'org.gnu.gdb.i386.sse', 'org.gnu.gdb.i386.segments']));
    expect(features.length).toBe(4);
    expect(features.filter(f => !f.startsWith('org.gnu.gdb.')).length).toBe(1);
    // balanced elements: every opened tag is closed (a crude well-formedness check without xmllint)
    const stack: string[] = [];
    for (const m of xml.matchAll(/<(\/?)([A-Za-z_][\w.-]*)([^>]*?)(\/?)>/g)) {
      if (m[4] === '/') continue;
      if (m[1] === '/') expect(stack.pop()).toBe(m[2]); else stack.push(m[2]);
    }
    expect(stack).toEqual([]);
    // every register type used is a predefined gdb type or one defined in the document
    const defined = new Set([...xml.matchAll(/<(?:flags|vector|union|struct) id="([^"]+)"/g)].map(m => m[1]));
    const builtin = new Set(['int8', 'int16', 'int32', 'int64', 'int128', 'uint8', 'uint16', 'uint32', 'uint64', 'uint128', 'code_ptr', 'data_ptr', 'ieee_half', 'ieee_single', 'ieee_double', 'arm_fpa_ext', 'i387_ext', 'bfloat16', 'int']);
    for (const m of xml.matchAll(/<reg [^>]*type="([^"]+)"/g)) expect(builtin.has(m[1]) || defined.has(m[1])).toBe(true);
    // regnums are 0..n-1 without gaps; the core feature has gdb's amd64 order (amd64-tdep.c)
    expect(regs.map(r => r.regnum)).toEqual(regs.map((_, i) => i));
    const core = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'eflags',
      'cs', 'ss', 'ds', 'es', 'fs', 'gs', 'st0', 'st1', 'st2', 'st3', 'st4', 'st5', 'st6', 'st7',
      'fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'];
    expect(regs.slice(0, core.length).map(r => r.name)).toEqual(core);
    expect(regs.slice(core.length, core.length + 17).map(r => r.name)).toEqual([...Array.from({ length: 16 }, (_, i) => `xmm${i}`), 'mxcsr']);
    for (const n of ['cr0', 'cr3', 'cr4', 'efer', 'fs_base', 'gs_base']) expect(regs.some(r => r.name === n)).toBe(true);
  });

  it('qXfer:features:read gives the same document in small chunks, E for an unknown annex', async () => {
    const { client, xml } = await open();
    expect(await xferRead(client, 'features', 'target.xml', 0x37)).toBe(xml);
    expect(await client.request('qXfer:features:read:nonexistent.xml:0,100')).toMatch(/^E/);
    expect(await client.request('qXfer:features:read:target.xml:zz,100')).toMatch(/^E/);
  });

  it('qXfer:threads:read, qfThreadInfo/qsThreadInfo, qC, qAttached', async () => {
    const { client } = await open();
    const threads = await xferRead(client, 'threads', '');
    expect(threads).toMatch(/<threads>/);
    const ids = [...threads.matchAll(/<thread id="([^"]+)"/g)].map(m => m[1]);
    expect(ids).toEqual(['p1.1']);
    expect(await client.request('qfThreadInfo')).toBe('mp1.1');
    expect(await client.request('qsThreadInfo')).toBe('l');
    expect(await client.request('qC')).toBe('QCp1.1');
    expect(await client.request('qAttached')).toBe('1');
    expect(await client.request('qAttached:1')).toBe('1');
  });

  it('qOffsets and qSymbol', async () => {
    const { client } = await open();
    expect(await client.request('qOffsets')).toMatch(/^Text=[0-9a-fA-F]+;Data=[0-9a-fA-F]+(;Bss=[0-9a-fA-F]+)?$/);
    expect(await client.request('qSymbol::')).toBe('OK');
  });

  it('H, T: thread 1 of process 1 exists, process 2 does not', async () => {
    const { client } = await open();
    expect(await client.request('Hgp1.1')).toBe('OK');
    expect(await client.request('Hgp2.1')).toMatch(/^E/);
    expect(await client.request('Hg0')).toBe('OK');
    expect(await client.request('Hc-1')).toBe('OK');
    expect(await client.request('Hcp1.-1')).toBe('OK');
    expect(await client.request('Hgp1.2')).toMatch(/^E/);
    expect(await client.request('Hx1')).toMatch(/^E/);
    expect(await client.request('Tp1.1')).toBe('OK');
    expect(await client.request('Tp2.1')).toMatch(/^E/);
    expect(await client.request('Tp1.5')).toMatch(/^E/);
    // after the failed Hgp2.1 the registers are still process 1's
    expect(await client.request('qC')).toBe('QCp1.1');
  });

  it('vAttach;1 answers a stop reply, vAttach;2 an error', async () => {
    const { client } = await open();
    expect(parseStop(await client.request('vAttach;1')).pairs.get('thread')).toBe('p1.1');
    expect(await client.request('vAttach;2')).toMatch(/^E/);
  });

  it('unknown packets get the empty reply', async () => {
    const { client } = await open();
    for (const p of ['qFooBar', 'vFooBar', 'vMustReplyEmpty', 'j', 'y', 'Qnonsense', 'qTStatus', 'bc', 'bs', 'vFile:open:2f,0,0']) {
      expect(await client.request(p), p).toBe('');
    }
  });
});

describe('gdbstub: registers', () => {
  it('g has every register of target.xml; the values are the CPU\'s', async () => {
    const { client, regs, reg, machine } = await open();
    const g = await client.request('g');
    const total = regs.reduce((n, r) => n + r.bits / 4, 0);
    expect(g.length).toBe(total);
    const at = (name: string) => leHex(g.slice(reg(name).offset, reg(name).offset + reg(name).bits / 4));
    expect(at('rip')).toBe(BigInt(CODE));
    expect(at('rsp')).toBe(BigInt(STACK_TOP));
    expect(at('cs')).toBe(0x10n);
    expect(at('cr0')).toBe(u64(machine.cpu.cr0));
    expect(at('cr3')).toBe(u64(machine.cpu.cr3));
    expect(at('efer')).toBe(u64(machine.cpu.efer));
    expect(at('eflags')).toBe(2n);
  });

  it('G with g\'s own bytes changes nothing; G with another rax changes the CPU\'s rax', async () => {
    const { client, reg, machine } = await open();
    machine.cpu.lo[3] = 0x1234; // rbx
    const g = await client.request('g');
    expect(await client.request('G' + g)).toBe('OK');
    expect(await client.request('g')).toBe(g);
    const rax = reg('rax');
    const g2 = toLeHex(0x1122334455667788n, 8) + g.slice(rax.offset + 16);
    expect(rax.offset).toBe(0);
    expect(await client.request('G' + g2)).toBe('OK');
    expect(machine.cpu.lo[0] >>> 0).toBe(0x55667788);
    expect(machine.cpu.hi[0] >>> 0).toBe(0x11223344);
    expect(machine.cpu.lo[3]).toBe(0x1234);
    expect(await client.request('g')).toBe(g2);
    // a G of the wrong length or with non-hex digits is refused
    expect(await client.request('G' + g.slice(0, -2))).toMatch(/^E/);
    expect(await client.request('G' + 'zz' + g.slice(2))).toMatch(/^E/);
  });

  it('p/P read and write single registers; bad numbers and sizes are errors', async () => {
    const { client, reg, readReg, writeReg, machine, regs } = await open();
    expect(await readReg('rip')).toBe(BigInt(CODE));
    expect(await writeReg('r12', 0xfedcba9876543210n)).toBe('OK');
    expect(machine.cpu.lo[12] >>> 0).toBe(0x76543210);
    expect(machine.cpu.hi[12] >>> 0).toBe(0xfedcba98);
    expect(await readReg('r12')).toBe(0xfedcba9876543210n);
    expect(await client.request(`p${regs.length.toString(16)}`)).toMatch(/^E/);
    expect(await client.request(`P${reg('rax').regnum.toString(16)}=1122`)).toMatch(/^E/); // 2 bytes for a 64-bit register
    expect(await client.request('Pzz=00')).toMatch(/^E/);
    expect(await client.request('P0')).toMatch(/^E/);
    expect((await client.request(`p${reg('xmm3').regnum.toString(16)}`)).length).toBe(32);
  });

  it('P cr0: an architecturally invalid value (PG without PE) is an error and leaves CR0 alone; a valid one takes effect', async () => {
    const { machine, readReg, writeReg } = await open();
    const cr0 = machine.cpu.cr0 >>> 0;
    // SDM Vol. 3A "Control Registers"/MOV CR: setting PG with PE clear is #GP(0)
    expect(await writeReg('cr0', BigInt((cr0 & ~1) >>> 0))).toMatch(/^E/);
    expect(machine.cpu.cr0 >>> 0).toBe(cr0);
    expect(await readReg('cr0')).toBe(BigInt(cr0));
    // bits 63:32 of CR0 are reserved: #GP
    expect(await writeReg('cr0', BigInt(cr0) | (1n << 40n))).toMatch(/^E/);
    expect(machine.cpu.cr0 >>> 0).toBe(cr0);
    // clearing WP is a valid change
    expect(await writeReg('cr0', BigInt((cr0 & ~(1 << 16)) >>> 0))).toBe('OK');
    expect(machine.cpu.cr0 >>> 0).toBe((cr0 & ~(1 << 16)) >>> 0);
    // CR4: clearing PAE while in IA-32e mode is #GP (SDM, MOV—Move to/from Control Registers)
    const cr4 = machine.cpu.cr4 >>> 0;
    expect(await writeReg('cr4', BigInt((cr4 & ~(1 << 5)) >>> 0))).toMatch(/^E/);
    expect(machine.cpu.cr4 >>> 0).toBe(cr4);
    // a valid CR3 write takes effect (same tables, PWT set)
    expect(await writeReg('cr3', BigInt(machine.cpu.cr3 | 8))).toBe('OK');
    expect(machine.cpu.cr3 & 8).toBe(8);
  });
});

describe('gdbstub: memory', () => {
  it('m reads, M writes; unmapped memory is an error; a partly readable range gives the readable prefix', async () => {
    const { client, machine, mem } = await open();
    expect(await mem(CODE, 7)).toBe('48c7c300002000');
    expect(await client.request(`M${DATA.toString(16)},3:a1b2c3`)).toBe('OK');
    expect([...machine.bus.readBytes(DATA, 3)]).toEqual([0xa1, 0xb2, 0xc3]);
    expect(await mem(UNMAPPED, 16)).toMatch(/^E[0-9a-fA-F]{2}$/);
    machine.bus.writeBytes(UNMAPPED - 16, Uint8Array.from({ length: 16 }, (_, i) => i + 1));
    expect(await mem(UNMAPPED - 16, 32)).toBe('0102030405060708090a0b0c0d0e0f10');
    expect(await client.request(`M${UNMAPPED.toString(16)},1:00`)).toMatch(/^E/);
    // linear addresses go through the page tables: ALIAS maps to ALIAS_PHYS
    machine.bus.writeBytes(ALIAS_PHYS, Uint8Array.of(0x5a));
    expect(await mem(ALIAS, 1)).toBe('5a');
    // malformed requests
    expect(await client.request('m100000')).toMatch(/^E/);
    expect(await client.request('mxyz,4')).toMatch(/^E/);
    expect(await client.request(`M${DATA.toString(16)},4:a1b2`)).toMatch(/^E/); // length mismatch
    // a non-canonical address cannot be read
    expect(await client.request('m800000000000,4')).toMatch(/^E/);
  });

  it('X with length 0 (gdb\'s probe) is OK and writes nothing', async () => {
    const { client, machine } = await open();
    expect(await client.request(`X${DATA.toString(16)},0:`)).toBe('OK');
    expect(machine.bus.readBytes(DATA, 1)[0]).toBe(0);
  });
});

describe('gdbstub: execution', () => {
  it('s and vCont;s step exactly one instruction', async () => {
    const { client, machine, readReg } = await open();
    const i0 = await monitorIcount(client);
    expect(i0).toBe(machine.clock.icount);
    const r = parseStop(await client.request('vCont;s:p1.1'));
    expect(r.signal).toBe(5);
    expect(r.pairs.get('thread')).toBe('p1.1');
    expect(await monitorIcount(client)).toBe(i0 + 1);
    expect(await readReg('rip')).toBe(BigInt(LOOP_L1));
    expect(await readReg('rbx')).toBe(BigInt(DATA));
    expect(parseStop(await client.request('s')).signal).toBe(5);
    expect(machine.clock.icount).toBe(i0 + 2);
    expect(await readReg('rip')).toBe(BigInt(LOOP_L1 + 3));
    expect(parseStop(await client.request('S05')).signal).toBe(5); // a signal with no exception pending: just a step
    expect(machine.clock.icount).toBe(i0 + 3);
    expect(await readReg('rip')).toBe(BigInt(LOOP_AFTER_STORE));
    expect(parseStop(await client.request('vCont;s')).signal).toBe(5);
    expect(await readReg('rip')).toBe(BigInt(LOOP_AFTER_LOAD));
  });

  it('vCont? lists c, C, s, S, t and r; malformed vCont is an error', async () => {
    const { client } = await open();
    const r = await client.request('vCont?');
    expect(r.startsWith('vCont')).toBe(true);
    const acts = r.split(';').slice(1);
    for (const a of ['c', 'C', 's', 'S', 't', 'r']) expect(acts).toContain(a);
    expect(await client.request('vCont;x')).toMatch(/^E/);
    expect(await client.request('vCont;s:p2.1')).toMatch(/^E/);
    expect(await client.request('vCont;Czz')).toMatch(/^E/);
    expect(await client.request('vCont;r100000')).toMatch(/^E/);
  });

  it('vCont;r steps while RIP stays in [start, end) and stops when it leaves', async () => {
    const { client, machine, readReg } = await open(PROGRAMS.countdown);
    const i0 = machine.clock.icount;
    const r = parseStop(await client.request(`vCont;r${CODE.toString(16)},${(CODE + 9).toString(16)}:p1.1;c`));
    expect(r.kind).toBe('T');
    expect(r.signal).toBe(5);
    expect(await readReg('rip')).toBe(BigInt(CODE + 9)); // the NOP after the loop
    expect(await readReg('rcx')).toBe(0n);
    expect(machine.clock.icount - i0).toBe(1 + 2 * 100);
  });

  it('c [addr] resumes at addr; C00 continues', async () => {
    const { client, readReg } = await open(PROGRAMS.countdown);
    expect(await client.request(`Z0,${(CODE + 10).toString(16)},1`)).toBe('OK');
    expect(await client.request('Z0,100009,1')).toBe('OK');
    // resume at the NOP: the breakpoint there is the resume address itself and must not stop at once
    expect(parseStop(await client.request(`c${(CODE + 9).toString(16)}`)).pairs.has('swbreak')).toBe(true);
    expect(await readReg('rip')).toBe(BigInt(CODE + 10));
    expect(await readReg('rcx')).toBe(0n);                       // the loop never ran
    expect(await client.request('z0,100009,1')).toBe('OK');
    expect(await client.request(`P10=${toLeHex(BigInt(CODE), 8)}`)).toBe('OK'); // rip is register 16
    expect(parseStop(await client.request('C00')).pairs.has('swbreak')).toBe(true);
    expect(await readReg('rcx')).toBe(0n);
    expect(await readReg('rip')).toBe(BigInt(CODE + 10));
  });
});

describe('gdbstub: breakpoints and watchpoints', () => {
  it('Z0 stops with swbreak at the address without changing memory; continuing re-hits it once per loop; z0 removes it', async () => {
    const { client, machine, readReg, mem } = await open();
    const before = await mem(LOOP_L1, 3);
    expect(await client.request(`Z0,${LOOP_L1.toString(16)},1`)).toBe('OK');
    expect(await mem(LOOP_L1, 3)).toBe(before);                    // no 0xCC in sight
    expect([...machine.bus.readBytes(LOOP_L1, 3)]).toEqual([0x48, 0xff, 0xc0]);
    const s1 = parseStop(await client.request('c'));
    expect(s1.signal).toBe(5);
    expect(s1.pairs.get('thread')).toBe('p1.1');
    expect(s1.pairs.has('swbreak')).toBe(true);
    expect(await readReg('rip')).toBe(BigInt(LOOP_L1));
    const rax = await readReg('rax');
    expect(await mem(LOOP_L1, 3)).toBe(before);
    expect(parseStop(await client.request('c')).pairs.has('swbreak')).toBe(true);
    expect(await readReg('rip')).toBe(BigInt(LOOP_L1));
    expect(await readReg('rax')).toBe(rax + 1n);
    // removed: the machine runs until interrupted
    expect(await client.request(`z0,${LOOP_L1.toString(16)},1`)).toBe('OK');
    client.sendPacket('c');
    await client.next();
    await new Promise(r => setTimeout(r, 30));
    client.sendRaw(Uint8Array.of(3));
    expect(parseStop(await client.reply(2000)).signal).toBe(2);
    expect(await readReg('rax')).toBeGreaterThan(rax + 10n);
  });

  it('Z0 fires at an address the guest writes only later, and in a page modified after the breakpoint was set', async () => {
    const { client, machine, readReg, mem } = await open(PROGRAMS.copy);
    machine.bus.writeBytes(COPY_PAGE, Uint8Array.of(0xc3)); // the old code: RET
    // run to after the first call (the page at COPY_PAGE has been decoded and executed)
    expect(await client.request(`Z0,${(CODE + 9).toString(16)},1`)).toBe('OK');
    expect(parseStop(await client.request('c')).pairs.has('swbreak')).toBe(true);
    expect(await readReg('rip')).toBe(BigInt(CODE + 9));
    // a breakpoint on "inc rdx", which the guest has not written yet
    const target = COPY_PAGE + 2;
    expect(await client.request(`Z0,${target.toString(16)},1`)).toBe('OK');
    expect(await mem(target, 3)).toBe('000000');
    const rdx = await readReg('rdx');
    const s = parseStop(await client.request('c'));
    expect(s.signal).toBe(5);
    expect(s.pairs.has('swbreak')).toBe(true);
    expect(await readReg('rip')).toBe(BigInt(target));
    expect(await readReg('rdx')).toBe(rdx);                       // stopped before the INC
    expect(await mem(target, 3)).toBe('48ffc2');                  // what the guest wrote, no 0xCC
    expect(await client.request(`z0,${target.toString(16)},1`)).toBe('OK');
    const end = await client.request('c');                         // on to the HLT (IF = 0): a stop of some kind
    expect(end).toMatch(/^T/);
    expect(await readReg('rdx')).toBe(rdx + 1n);
  });

  it('Z1 reports hwbreak', async () => {
    const { client, readReg } = await open();
    expect(await client.request(`Z1,${LOOP_AFTER_STORE.toString(16)},1`)).toBe('OK');
    const s = parseStop(await client.request('c'));
    expect(s.signal).toBe(5);
    expect(s.pairs.has('hwbreak')).toBe(true);
    expect(s.pairs.has('swbreak')).toBe(false);
    expect(await readReg('rip')).toBe(BigInt(LOOP_AFTER_STORE));
    expect(await client.request(`z1,${LOOP_AFTER_STORE.toString(16)},1`)).toBe('OK');
  });

  it('Z2 (write) stops after the store with watch:ADDR', async () => {
    const { client, readReg, mem } = await open();
    expect(await client.request(`Z2,${DATA.toString(16)},8`)).toBe('OK');
    const s = parseStop(await client.request('c'));
    expect(s.signal).toBe(5);
    expect(s.pairs.get('thread')).toBe('p1.1');
    expect(parseInt(s.pairs.get('watch') ?? 'x', 16)).toBe(DATA);
    // x86 data breakpoints are traps: the store has happened, RIP is after it (SDM Vol. 3B, "Debug Exception Conditions")
    expect(await readReg('rip')).toBe(BigInt(LOOP_AFTER_STORE));
    expect(leHex(await mem(DATA, 8))).toBe(await readReg('rax'));
    expect(await readReg('rax')).toBe(1n);
    // the read of DATA+8 does not trigger a write watchpoint: the next stop is the next store
    expect(parseInt(parseStop(await client.request('c')).pairs.get('watch') ?? 'x', 16)).toBe(DATA);
    expect(await readReg('rax')).toBe(2n);
    expect(await client.request(`z2,${DATA.toString(16)},8`)).toBe('OK');
  });

  it('Z3 (read) reports rwatch:ADDR, Z4 (access) awatch:ADDR', async () => {
    const { client, readReg } = await open();
    expect(await client.request(`Z3,${(DATA + 8).toString(16)},8`)).toBe('OK');
    const r = parseStop(await client.request('c'));
    expect(parseInt(r.pairs.get('rwatch') ?? 'x', 16)).toBe(DATA + 8);
    expect(r.pairs.has('watch')).toBe(false);
    expect(await readReg('rip')).toBe(BigInt(LOOP_AFTER_LOAD));
    expect(await client.request(`z3,${(DATA + 8).toString(16)},8`)).toBe('OK');
    expect(await client.request(`Z4,${DATA.toString(16)},4`)).toBe('OK');
    const a = parseStop(await client.request('c'));
    expect(parseInt(a.pairs.get('awatch') ?? 'x', 16)).toBe(DATA);
    expect(await readReg('rip')).toBe(BigInt(LOOP_AFTER_STORE));
  });

  it('malformed Z packets are errors; unknown types get the empty reply', async () => {
    const { client } = await open();
    expect(await client.request('Z0,zz,1')).toMatch(/^E/);
    expect(await client.request('Z0,100000')).toMatch(/^E/);
    expect(await client.request('Z2,200000,0')).toMatch(/^E/);
    expect(await client.request('Z9,100000,1')).toBe('');
  });
});

describe('gdbstub: monitor (qRcmd)', () => {
  it('help lists the commands; unknown commands are errors', async () => {
    const { client } = await open();
    const h = await client.monitor('help');
    expect(h.reply).toBe('OK');
    for (const w of ['walk', 'phys', 'icount', 'stepping irq', 'catch exception']) expect(h.output).toContain(w);
    expect((await client.monitor('no-such-command')).reply).toMatch(/^E/);
    expect(await client.request('qRcmd,zz')).toMatch(/^E/);
  });

  it('walk shows the four levels and the physical address; an unmapped address has no translation', async () => {
    const { client } = await open();
    const w = await client.monitor(`walk 0x${ALIAS.toString(16)}`);
    expect(w.reply).toBe('OK');
    for (const l of ['PML4E', 'PDPTE', 'PDE', 'PTE']) expect(w.output).toContain(l);
    expect(w.output).toMatch(new RegExp(`physical 0x0*${ALIAS_PHYS.toString(16)}\\b`));
    const u = await client.monitor(`walk ${UNMAPPED.toString(16)}`);
    expect(u.output).toMatch(/no translation/);
  });

  it('phys on makes m read physical memory, phys off linear again', async () => {
    const { client, machine, mem } = await open();
    machine.bus.writeBytes(ALIAS, Buffer.from('PHYS'));
    machine.bus.writeBytes(ALIAS_PHYS, Buffer.from('LINR'));
    expect(Buffer.from(await mem(ALIAS, 4), 'hex').toString()).toBe('LINR');
    expect((await client.monitor('phys on')).reply).toBe('OK');
    expect(Buffer.from(await mem(ALIAS, 4), 'hex').toString()).toBe('PHYS');
    // physical memory has no holes where the page tables have them
    expect(await mem(UNMAPPED, 2)).toBe('0000');
    expect((await client.monitor('phys off')).reply).toBe('OK');
    expect(Buffer.from(await mem(ALIAS, 4), 'hex').toString()).toBe('LINR');
  });

  it('stepping irq: a pending NMI waits while stepping (default); with "stepping irq on" the step enters its handler', async () => {
    const { client, machine, readReg } = await open();
    expect(parseStop(await client.request('s')).signal).toBe(5);
    machine.cpu.nmiPending = true;
    expect(parseStop(await client.request('s')).signal).toBe(5);
    expect(await readReg('rip')).toBe(BigInt(LOOP_L1 + 3));
    expect(machine.cpu.nmiPending).toBe(true);
    expect((await client.monitor('stepping irq on')).reply).toBe('OK');
    expect(parseStop(await client.request('s')).signal).toBe(5);
    expect(await readReg('rip')).toBe(BigInt(STUBS + 2 * 8));  // the NMI handler's first instruction
    expect(machine.cpu.nmiPending).toBe(false);
  });

  it('catch exception pf: T0b before delivery at the faulting instruction; resuming delivers it to the guest', async () => {
    const { client, readReg, mem } = await open(PROGRAMS.pagefault);
    const c = await client.monitor('catch exception pf');
    expect(c.reply).toBe('OK');
    expect(c.output).toMatch(/#PF|14/);
    const s1 = parseStop(await client.request('c'));
    expect(s1.kind).toBe('T');
    expect(s1.signal).toBe(0x0b);                          // SIGSEGV
    expect(s1.pairs.get('thread')).toBe('p1.1');
    expect(await readReg('rip')).toBe(BigInt(CODE + 7));
    expect(await readReg('rsp')).toBe(BigInt(STACK_TOP));   // nothing pushed yet
    // C0b: delivered to the guest's #PF handler (a HLT with IF = 0, which stops the machine)
    const s3 = parseStop(await client.request('C0b'));
    expect(s3.kind).toBe('T');
    expect(s3.signal).not.toBe(0x0b);
    const rip = await readReg('rip');
    expect(rip === BigInt(STUBS + 14 * 8) || rip === BigInt(STUBS + 14 * 8 + 1)).toBe(true);
    expect(await readReg('cr2')).toBe(BigInt(UNMAPPED));
    const rsp = Number(await readReg('rsp'));
    expect(rsp).toBe(STACK_TOP - 48);                        // SS, RSP, RFLAGS, CS, RIP, error code
    expect(leHex(await mem(rsp, 8))).toBe(0n);               // error code: not present, read, supervisor
    expect(leHex(await mem(rsp + 8, 8))).toBe(BigInt(CODE + 7));
    expect((await client.monitor('catch exception none')).reply).toBe('OK');
  });

  it('a caught exception: plain c delivers it too (commit fe4eaea: SWEB resumes page faults with nopass); moving RIP discards it and the instruction re-executes', async () => {
    const { client, readReg } = await open(PROGRAMS.pagefault);
    await client.monitor('catch exception pf');
    expect(parseStop(await client.request('c')).signal).toBe(0x0b);
    // `jump *$pc`: gdb writes RIP (same value) and continues: the fault is discarded, MOV runs again and faults again
    expect(await client.request(`P10=${toLeHex(BigInt(CODE + 7), 8)}`)).toBe('OK');
    expect(parseStop(await client.request('c')).signal).toBe(0x0b);
    expect(await readReg('rip')).toBe(BigInt(CODE + 7));
    expect(await readReg('rsp')).toBe(BigInt(STACK_TOP));
    // plain c: delivered
    expect(parseStop(await client.request('c')).signal).not.toBe(0x0b);
    expect(await readReg('cr2')).toBe(BigInt(UNMAPPED));
    expect(await readReg('rsp')).toBe(BigInt(STACK_TOP - 48));
  });

  it('QPassSignals: a caught exception whose signal gdb passes is delivered without a stop', async () => {
    const { client, readReg } = await open(PROGRAMS.pagefault);
    await client.monitor('catch exception pf');
    expect(await client.request('QPassSignals:0b')).toBe('OK');
    const s = parseStop(await client.request('c'));
    expect(s.signal).not.toBe(0x0b);
    expect(await readReg('cr2')).toBe(BigInt(UNMAPPED));
    expect(await client.request('QPassSignals:zz')).toMatch(/^E/);
  });
});

describe('gdbstub: the end of the machine', () => {
  it('power off through isa-debug-exit: W with the exit code', async () => {
    const { client } = await open(PROGRAMS.poweroff);
    const r = await client.request('c');
    expect(r).toMatch(/^W43(;process:1)?$/);
  });

  it('a triple fault stops with T, registers still readable; resuming answers X', async () => {
    const { client, machine, readReg } = await open(PROGRAMS.ud2);
    machine.cpu.idtLimit = 0;
    const t = parseStop(await client.request('c'));
    expect(t.kind).toBe('T');
    expect(t.pairs.get('thread')).toBe('p1.1');
    // RIP shows the instruction whose exception could not be delivered (the console message says
    // "triple fault ... at 0x00100000" too): a fault leaves RIP at the faulting instruction
    expect(await readReg('rip')).toBe(BigInt(CODE));
    expect((await client.request('g')).length).toBeGreaterThan(100);
    const x = await client.request('c');
    expect(x).toMatch(/^X[0-9a-f]{2}(;process:1)?$/);
  });

  it('vKill answers OK and kills; k kills without a reply', async () => {
    const a = await open();
    expect(await a.client.request('vKill;1')).toBe('OK');
    expect(a.counts.killed).toBe(1);
    const b = await open();
    b.client.sendPacket('k');
    expect(await b.client.next()).toEqual({ kind: 'ack' });
    expect(b.counts.killed).toBe(1);
  });

  it('D answers OK, clears breakpoints and hands the machine back', async () => {
    const { client, dbg, counts } = await open();
    expect(await client.request('Z0,100007,1')).toBe('OK');
    expect(await client.monitor('catch exception gp')).toMatchObject({ reply: 'OK' });
    expect(await client.request('D;1')).toBe('OK');
    expect(counts.detached).toBe(1);
    expect(dbg.breakpoints().length).toBe(0);
    expect(dbg.caught.size).toBe(0);
  });
});
