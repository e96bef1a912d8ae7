import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { makeGuest, PROGRAMS } from './helpers/guest.js';
import { RspClient, frame, frameRaw, decodeReply } from './helpers/client.js';

/**
 * Fuzzing one GdbSession with ≥ 100,000 random and mutated packets (VMXRAY_FUZZ=1: ten times
 * more). After every batch the stub must still answer `?` and `g` exactly as before, every reply
 * it sent must be a well-formed packet with a correct checksum, it must never throw (nor log an
 * internal error), and the machine must be untouched: registers (g), a hash of all RAM, the
 * instruction count, no breakpoints/watchpoints/caught exceptions, linear memory mode.
 *
 * What is fed: only packets that cannot legitimately change state. Excluded (checked on the
 * decoded packet, and conservatively on the raw bytes, before sending): G P M X (writes),
 * c C s S vCont… (resume), D k vKill (detach/kill), Z z (breakpoints), Q… (QStartNoAckMode would
 * switch acks off; QPassSignals changes debugger state) and qRcmd (monitor commands switch
 * `phys`, `catch`, or quit). Mutations that *turn* a packet into one of those are dropped and
 * regenerated, so every packet the stub acts on must leave the state alone — any change is a bug.
 * Random byte chunks are checked for accidentally well-framed packets the same way. After every
 * element `#zz` is sent, which ends a truncated packet with an invalid checksum (so the next
 * element starts with the parser idle) and is noise otherwise.
 */
const SCALE = process.env.VMXRAY_FUZZ ? 10 : 1;
const TOTAL = 100_000 * SCALE;
const BATCH = 500;

function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)] };
}

const SAFE = [
  '?', 'g', 'p0', 'p10', 'p11', 'p3c', 'p28', 'p18', 'm100000,10', 'm200000,100', 'm17fff0,20', 'm180000,8', 'm1c0000,4', 'm0,1000',
  'qSupported:multiprocess+;swbreak+;hwbreak+', 'qSupported', 'qXfer:features:read:target.xml:0,400', 'qXfer:features:read:target.xml:1000,fff',
  'qXfer:threads:read::0,100', 'qC', 'qfThreadInfo', 'qsThreadInfo', 'qAttached', 'qAttached:1', 'qOffsets', 'qSymbol::', 'Hgp1.1', 'Hc-1',
  'Hg0', 'Tp1.1', 'vCont?', 'vMustReplyEmpty', 'vAttach;1', 'qThreadExtraInfo,p1.1', '!', 'vCtrlC', 'qTStatus', 'qL1200000000000000000',
];

/** May this (decoded) packet change the machine or the debugger? */
function denied(p: Buffer): boolean {
  if (p.length === 0) return false;
  const s = p.toString('latin1');
  if ('GPMXcCsSDkZzQ'.includes(s[0])) return true;
  if (s.startsWith('vCont') && s !== 'vCont?') return true;
  if (s.startsWith('vKill') || s.startsWith('qRcmd') || s.startsWith('vRun') || s.startsWith('vFile')) return true;
  return false;
}
/** Conservative: any $…#hh in `bytes` with a matching checksum whose body (raw or decoded) is denied. */
function framesDenied(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x23 || i + 2 >= bytes.length) continue;
    const cs = Buffer.from(bytes.subarray(i + 1, i + 3)).toString('latin1');
    if (!/^[0-9a-fA-F]{2}$/.test(cs)) continue;
    for (let j = i - 1; j >= 0; j--) {
      if (bytes[j] !== 0x24) continue;
      const body = bytes.subarray(j + 1, i);
      let sum = 0;
      for (const b of body) sum = (sum + b) & 0xff;
      if (sum !== parseInt(cs, 16)) continue;
      let dec: Buffer | null = null;
      try { dec = decodeReply(body); } catch { dec = null; }
      if (denied(Buffer.from(body)) || (dec && denied(dec))) return true;
      if (body.length > 0 && body[0] === 0x7d) return true; // an escaped first byte: too clever, drop
    }
  }
  return false;
}

describe('gdbstub fuzz', () => {
  it(`${TOTAL} random and mutated packets leave the stub answering and the machine untouched`, async () => {
    const { machine, dbg } = makeGuest(PROGRAMS.loop);
    let thrown: unknown = null, lastInput = '';
    const { client, log } = RspClient.onSession(dbg, {
      onKill: () => { throw new Error('onKill called by a fuzz packet'); },
      onDetach: () => { throw new Error('onDetach called by a fuzz packet'); },
    });
    const send = (b: Uint8Array) => {
      lastInput = Buffer.from(b).toString('latin1').slice(0, 200);
      try { client.sendRaw(b); } catch (e) { thrown = e; }
    };
    await client.handshake();
    // a little history, so the state is not all zeros
    expect(await client.request('s')).toMatch(/^T05/);
    expect(await client.request('s')).toMatch(/^T05/);
    const ramHash = () => createHash('sha1').update(machine.bus.readBytes(0, 4 << 20)).digest('hex');
    const q0 = await client.request('?');
    const g0 = await client.request('g');
    const h0 = ramHash();
    const ic0 = machine.clock.icount;
    const r = rng(0x5eed1234);

    const hexDigits = '0123456789abcdef';
    const mutate = (s: string): string => {
      const k = r.int(12);
      const at = r.int(s.length + 1);
      switch (k) {
        case 0: return s.slice(0, at) + String.fromCharCode(32 + r.int(95)) + s.slice(at + 1);          // replace a char
        case 1: return s.slice(0, at) + String.fromCharCode(r.int(256)) + s.slice(at);                  // insert any byte
        case 2: return s.slice(0, at) + s.slice(at + 1);                                               // delete
        case 3: return s.slice(0, at);                                                                 // truncate
        case 4: return s + s.slice(at);                                                                // duplicate a tail
        case 5: return s.replace(/[0-9a-f]/g, c => (r.int(4) === 0 ? r.pick(['g', 'x', '-', ' ', 'G']) : c)); // invalid hex
        case 6: return s.replace(/[0-9a-f]+/, () => 'f'.repeat(1 + r.int(40)));                        // huge numbers
        case 7: return s.replace(/[0-9a-f]+/, () => Array.from({ length: 1 + r.int(20) }, () => r.pick([...hexDigits])).join(''));
        case 8: return r.pick(['Hg', 'Hc', 'T', 'vAttach;', 'qThreadExtraInfo,', 'Hgp', 'Tp']) +             // wrong thread ids
          r.pick(['p', '', '-', 'p-1.', '0.', 'p0.']) + r.int(0x100000).toString(16) + r.pick(['', '.', '.1', '.-1', '.0', `.${r.int(99)}`, ',', ';']);
        case 9: return s + ';' + s;
        case 10: return s.replace(/,/, ',,').replace(/:/, '::');
        default: return `qXfer:${r.pick(['features', 'threads', 'auxv', 'libraries', ''])}:read:${r.pick(['target.xml', '', 'x', '../target.xml'])}:` +
          `${r.int(0x20000).toString(16)},${r.pick(['0', '1', 'fffffff', r.int(0x10000).toString(16), '-1', ''])}`;
      }
    };
    const element = (): Uint8Array => {
      for (;;) {
        const kind = r.int(100);
        let bytes: Uint8Array;
        if (kind < 45) {                                                      // a mutated safe packet, well framed
          let s = r.pick(SAFE);
          for (let n = 1 + r.int(3); n > 0; n--) s = mutate(s);
          const data = Buffer.from(s, 'latin1');
          if (denied(data)) continue;
          bytes = frame(data);
        } else if (kind < 55) {                                               // bad checksum
          const data = Buffer.from(mutate(r.pick(SAFE)), 'latin1');
          const good = frame(data);
          const bad = (parseInt(good.subarray(good.length - 2).toString('latin1'), 16) + 1 + r.int(255)) & 0xff;
          bytes = frame(data, bad);
        } else if (kind < 62) {                                               // truncated frame
          const f = frame(Buffer.from(r.pick(SAFE), 'latin1'));
          bytes = f.subarray(0, r.int(f.length));
        } else if (kind < 66) {                                               // oversized (> PacketSize 0x4000, some > 2x)
          const n = 0x4000 + r.int(0x6000);
          bytes = frameRaw('m' + '1'.repeat(n));
        } else if (kind < 80) {                                               // random bytes
          bytes = Uint8Array.from({ length: 1 + r.int(64) }, () => r.int(256));
        } else if (kind < 88) {                                               // random printable packet
          const s = Array.from({ length: r.int(40) }, () => String.fromCharCode(32 + r.int(95))).join('');
          if (denied(Buffer.from(s, 'latin1'))) continue;
          bytes = frame(s);
        } else if (kind < 93) {                                               // control bytes: ^C, acks, nacks
          bytes = Uint8Array.from({ length: 1 + r.int(4) }, () => r.pick([0x03, 0x2b, 0x2d]));
        } else {                                                              // a safe packet as is
          bytes = frame(r.pick(SAFE));
        }
        if (framesDenied(bytes)) continue;
        return bytes;
      }
    };

    const RESET = Buffer.from('#zz');
    let sent = 0, replies = 0;
    const t0 = Date.now();
    while (sent < TOTAL) {
      for (let i = 0; i < BATCH && sent < TOTAL; i++, sent++) {
        send(element());
        send(RESET);
        if (thrown) break;
        // everything the stub sent must be well formed
        while (client.events.length) {
          const e = client.events.shift()!;
          if (e.kind === 'packet') {
            replies++;
            if (!e.ok) throw new Error(`bad checksum from the stub after ${JSON.stringify(lastInput)}`);
          } else if (e.kind === 'noise') throw new Error(`noise byte 0x${e.byte.toString(16)} from the stub after ${JSON.stringify(lastInput)}`);
        }
      }
      if (thrown) throw new Error(`the session threw on ${JSON.stringify(lastInput)}: ${(thrown as Error).stack}`);
      expect(dbg.running, `running after ${JSON.stringify(lastInput)}`).toBe(false);
      expect(await client.request('?')).toBe(q0);
      expect(await client.request('g')).toBe(g0);
      expect(machine.clock.icount).toBe(ic0);
      expect(dbg.breakpoints().length + dbg.watchpoints().length + dbg.caught.size).toBe(0);
      expect(dbg.physical).toBe(false);
      expect(log.filter(l => /internal error/.test(l))).toEqual([]);
      if (sent % (BATCH * 20) === 0 || sent >= TOTAL) expect(ramHash()).toBe(h0);
    }
    expect(ramHash()).toBe(h0);
    expect(replies).toBeGreaterThan(TOTAL / 3);
    if (!process.env.VMXRAY_FUZZ) expect(Date.now() - t0).toBeLessThan(60_000);
  }, 600_000);
});
