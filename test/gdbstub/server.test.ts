import { describe, it, expect, afterEach } from 'vitest';
import type * as net from 'node:net';
import { GdbServer } from '../../gdbstub/index.js';
import { makeGuest, PROGRAMS, type Guest } from './helpers/guest.js';
import { RspClient, parseStop } from './helpers/client.js';

/** The TCP server: one client at a time, detach hands the machine back, Ctrl-C over the wire. */
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => { while (cleanup.length) await cleanup.pop()!(); });

async function serve(program: string = PROGRAMS.loop): Promise<Guest & { server: GdbServer; port: number; logs: string[]; ends: string[] }> {
  const g = makeGuest(program);
  const logs: string[] = [], ends: string[] = [];
  const server = new GdbServer(g.dbg, { port: 0, log: s => logs.push(s), onEnd: why => ends.push(why) });
  const { port } = await server.listen();
  cleanup.push(async () => { await server.close(); g.dbg.dispose(); });
  return { ...g, server, port, logs, ends };
}
async function connect(port: number): Promise<{ client: RspClient; socket: net.Socket }> {
  const c = await RspClient.connect(port);
  cleanup.push(() => { c.socket.destroy(); });
  return c;
}
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe('gdbstub server (TCP)', () => {
  it('serves a client on 127.0.0.1; 0x03 stops a running machine with T02 within 2 s', async () => {
    const s = await serve();
    const { client } = await connect(s.port);
    expect((await client.handshake()).split(';')).toContain('multiprocess+');
    expect(await client.request('?')).toMatch(/^T05thread:p1\.1;/);
    client.sendPacket('vCont;c');
    expect(await client.next()).toEqual({ kind: 'ack' });
    await sleep(50);
    expect(s.dbg.running).toBe(true);
    const t0 = Date.now();
    client.sendRaw(Uint8Array.of(3));
    const r = await client.reply(2000);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r).toMatch(/^T02/);
    expect(parseStop(r).pairs.get('thread')).toBe('p1.1');
    expect(s.dbg.running).toBe(false);
  });

  it('a second client is refused with an E. message; the first session is unaffected', async () => {
    const s = await serve();
    const a = await connect(s.port);
    await a.client.handshake();
    const g1 = await a.client.request('g');
    const b = await connect(s.port);
    b.client.sendPacket('qSupported:multiprocess+');
    let reply = '';
    for (;;) {
      const e = await b.client.next(3000);
      if (e.kind === 'packet') { reply = e.data.toString('latin1'); expect(e.ok).toBe(true); break; }
    }
    expect(reply).toMatch(/^E\./);
    expect(reply.length).toBeGreaterThan(10);   // a message, not just a code
    expect(s.logs.some(l => /refused/.test(l))).toBe(true);
    // the first client goes on as before
    expect(await a.client.request('g')).toBe(g1);
    expect(await a.client.request('s')).toMatch(/^T05/);
    expect(await a.client.request('qC')).toBe('QCp1.1');
    expect(s.server.attached).toBe(true);
  });

  it('D: OK, then the machine keeps running without the debugger (icount grows)', async () => {
    const s = await serve();
    const { client } = await connect(s.port);
    await client.handshake();
    expect(await client.request('Z0,100007,1')).toBe('OK');   // must not stop the detached machine
    expect(await client.request('D;1')).toBe('OK');
    await sleep(100);
    const i1 = s.machine.clock.icount;
    await sleep(100);
    const i2 = s.machine.clock.icount;
    expect(i1).toBeGreaterThan(0);
    expect(i2).toBeGreaterThan(i1);
    expect(s.server.attached).toBe(false);
    // a new client can attach and stops the machine
    const c2 = await connect(s.port);
    await c2.client.handshake();
    expect(await c2.client.request('?')).toMatch(/^T/);
    const i3 = s.machine.clock.icount;
    await sleep(50);
    expect(s.machine.clock.icount).toBe(i3);
  });

  it('vKill: OK and the server reports the end of the machine', async () => {
    const s = await serve();
    const { client } = await connect(s.port);
    await client.handshake();
    expect(await client.request('vKill;1')).toBe('OK');
    await sleep(20);
    expect(s.ends.length).toBe(1);
  });

  it('a client that disconnects without D leaves a machine that runs on', async () => {
    const s = await serve();
    const a = await connect(s.port);
    await a.client.handshake();
    a.socket.destroy();
    await sleep(100);
    const i1 = s.machine.clock.icount;
    await sleep(100);
    expect(s.machine.clock.icount).toBeGreaterThan(i1);
  });
});
