import { describe, it, expect } from 'vitest';
import { makeGuest, PROGRAMS, DATA } from './helpers/guest.js';
import { RspClient, frame, frameRaw, decodeReply } from './helpers/client.js';
import { encodePacket } from '../../gdbstub/index.js';

/**
 * Framing of the GDB remote protocol (GDB manual, "Remote Protocol" → "Overview"):
 * checksums and acknowledgements, `}` escapes, run-length encoding, QStartNoAckMode, `-`
 * retransmission, the 0x03 interrupt byte, PacketSize.
 */
function session(program: string = PROGRAMS.loop) {
  const g = makeGuest(program);
  const s = RspClient.onSession(g.dbg);
  return { ...g, ...s };
}

describe('gdbstub framing', () => {
  it('acknowledges a good checksum with + and a bad one with - (and does not act on it)', async () => {
    const { client } = session();
    client.sendRaw(frameRaw('qC'));
    expect(await client.next()).toEqual({ kind: 'ack' });
    expect(await client.reply()).toBe('QCp1.1');
    // bad checksum: `-` and nothing else; the packet must not be executed
    client.sendRaw(frameRaw('M200000,1:aa', 0x00));
    expect(await client.next()).toEqual({ kind: 'nack' });
    expect(client.events).toEqual([]);
    expect(await client.request('m200000,1')).toBe('00');
    // the retransmission with the right checksum is executed
    client.sendRaw(frameRaw('M200000,1:aa'));
    expect(await client.next()).toEqual({ kind: 'ack' });
    expect(await client.reply()).toBe('OK');
    expect(await client.request('m200000,1')).toBe('aa');
    // checksum digits in upper case are hex digits too
    const f = frameRaw('m200000,1').toString('latin1').toUpperCase().replace('$M', '$m');
    client.sendRaw(f);
    expect(await client.next()).toEqual({ kind: 'ack' });
    expect(await client.reply()).toBe('aa');
    // a malformed checksum (not hex) is a bad packet
    client.sendRaw('$qC#zz');
    expect(await client.next()).toEqual({ kind: 'nack' });
  });

  it('ignores noise between packets and acks a packet that follows it', async () => {
    const { client } = session();
    client.sendRaw('garbage\r\n' + frameRaw('qC').toString('latin1'));
    expect(await client.next()).toEqual({ kind: 'ack' });
    expect(await client.reply()).toBe('QCp1.1');
    expect(client.events).toEqual([]);
  });

  it('unescapes } in X data: 0x23 0x24 0x7d 0x2a and friends land in memory unchanged', async () => {
    const { client, machine } = session();
    const bytes = Uint8Array.from([0x23, 0x24, 0x7d, 0x2a, 0x00, 0xff, 0x03, 0x2b, 0x2d, 0x5d, 0x7e]);
    const f = frame(Buffer.concat([Buffer.from(`X${DATA.toString(16)},${bytes.length.toString(16)}:`), bytes]));
    // the frame really carries escapes (}\x03 for '#', }\x04 for '$', }] for '}', }\n for '*')
    expect(f.includes(Buffer.from([0x7d, 0x03]))).toBe(true);
    expect(f.includes(Buffer.from([0x7d, 0x04]))).toBe(true);
    expect(f.includes(Buffer.from([0x7d, 0x5d]))).toBe(true);
    expect(f.includes(Buffer.from([0x7d, 0x0a]))).toBe(true);
    client.sendRaw(f);
    expect(await client.next()).toEqual({ kind: 'ack' });
    expect(await client.reply()).toBe('OK');
    expect(Buffer.from(machine.bus.readBytes(DATA, bytes.length))).toEqual(Buffer.from(bytes));
    expect(await client.request(`m${DATA.toString(16)},${bytes.length.toString(16)}`)).toBe(Buffer.from(bytes).toString('hex'));
  });

  it('escapes #, $, } and * in what it sends, with the checksum over the escaped bytes', () => {
    const data = Buffer.from([0x41, 0x23, 0x24, 0x7d, 0x2a, 0x42]);
    const p = encodePacket(data);
    // $ A }\x03 }\x04 }] }\x0a B # cs
    const body = Buffer.from([0x41, 0x7d, 0x03, 0x7d, 0x04, 0x7d, 0x5d, 0x7d, 0x0a, 0x42]);
    expect(p).toEqual(frameRaw(body));
    expect(decodeReply(body)).toEqual(data);
    // nothing between $ and # may be a raw #, $ or * (a raw * would start a run-length repeat)
    const inner = p.subarray(1, p.length - 3);
    expect(inner.includes(0x23) || inner.includes(0x24) || inner.includes(0x2a)).toBe(false);
  });

  it('decodes run-length encoding in what it receives (0*" is six zeros)', async () => {
    const { client, machine } = session();
    // "11" + "0*\"": '"' is 34, 34 - 29 = 5 more zeros: 11000000 → bytes 11 00 00 00
    machine.bus.writeBytes(DATA, Uint8Array.of(0xee, 0xee, 0xee, 0xee));
    client.sendRaw(frameRaw(`M${DATA.toString(16)},4:110*"`));
    expect(await client.next()).toEqual({ kind: 'ack' });
    expect(await client.reply()).toBe('OK');
    expect([...machine.bus.readBytes(DATA, 4)]).toEqual([0x11, 0, 0, 0]);
  });

  it('retransmits the last reply on -', async () => {
    const { client } = session();
    await client.handshake();
    client.sendPacket('g');
    expect(await client.next()).toEqual({ kind: 'ack' });
    const first = await client.next();
    expect(first.kind).toBe('packet');
    client.sendRaw('-');
    const again = await client.next();
    expect(again.kind).toBe('packet');
    if (first.kind === 'packet' && again.kind === 'packet') {
      expect(again.raw).toEqual(first.raw);
      expect(again.ok).toBe(true);
    }
  });

  it('QStartNoAckMode: the OK is acknowledged, then no + or - any more', async () => {
    const { client } = session();
    const feats = await client.handshake();
    expect(feats.split(';')).toContain('QStartNoAckMode+');
    expect(await client.request('QStartNoAckMode')).toBe('OK'); // request() checked the leading +
    client.ackMode = false;
    client.sendPacket('qC');
    expect(await client.next()).toMatchObject({ kind: 'packet', ok: true });
    // a bad checksum is not answered with - in no-ack mode (and not executed)
    client.sendRaw(frameRaw(`M${DATA.toString(16)},1:55`, 0x01));
    expect(await client.request(`m${DATA.toString(16)},1`)).toBe('00');
    expect(client.events).toEqual([]);
    expect(client.received.toString('latin1').split('QStartNoAckMode')[0]).not.toContain('-');
    const afterOk = client.received.toString('latin1').slice(client.received.toString('latin1').indexOf('$OK#'));
    expect(afterOk.slice(6)).not.toMatch(/[+-]/); // nothing but packets after the OK
  });

  it('0x03 interrupts a running machine: T02 within 2 s', async () => {
    const { client, machine } = session();
    await client.handshake();
    client.sendPacket('c');
    expect(await client.next()).toEqual({ kind: 'ack' });
    await new Promise(r => setTimeout(r, 50));
    const before = machine.clock.icount;
    expect(before).toBeGreaterThan(0);
    const t0 = Date.now();
    client.sendRaw(Uint8Array.of(0x03));
    const stop = await client.reply(2000);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(stop).toMatch(/^T02/);
    expect(stop).toContain('thread:p1.1;');
    // it is stopped: the clock stands still
    const ic = machine.clock.icount;
    await new Promise(r => setTimeout(r, 30));
    expect(machine.clock.icount).toBe(ic);
    expect(await client.request('?')).toMatch(/^T02thread:p1\.1;/);
  });

  it('advertises PacketSize and accepts a packet of that size; a far larger one does not kill the session', async () => {
    const { client, machine } = session();
    const feats = (await client.handshake()).split(';');
    const ps = feats.find(f => f.startsWith('PacketSize='));
    expect(ps).toBeDefined();
    const size = parseInt(ps!.slice('PacketSize='.length), 16);
    expect(size).toBeGreaterThanOrEqual(0x400);
    // an M packet whose data is exactly PacketSize bytes
    const head = `M${DATA.toString(16)},`;
    let n = 1;
    while ((head + n.toString(16) + ':').length + 2 * (n + 1) <= size) n++;
    const pkt = head + n.toString(16) + ':' + 'ab'.repeat(n);
    expect(pkt.length).toBeLessThanOrEqual(size);
    expect(pkt.length).toBeGreaterThan(size - 8);
    expect(await client.request(pkt)).toBe('OK');
    expect(machine.bus.readBytes(DATA + n - 1, 1)[0]).toBe(0xab);
    // a read of PacketSize/2 bytes fits in one reply (hex doubles it)
    const r = await client.request(`m${DATA.toString(16)},${(size / 2 - 8).toString(16)}`);
    expect(r.length).toBeGreaterThan(0);
    expect(r.length).toBeLessThanOrEqual(size);
    // three times PacketSize: not executed; the session answers the next packet
    const huge = head + (size * 3).toString(16) + ':' + 'cd'.repeat(size * 3);
    client.sendPacket(huge);
    const e = await client.next();
    expect(['ack', 'nack']).toContain(e.kind);
    if (e.kind === 'ack') expect(await client.reply()).toMatch(/^E/);
    expect(machine.bus.readBytes(DATA, 1)[0]).toBe(0xab);
    expect(await client.request('qC')).toBe('QCp1.1');
  });
});
