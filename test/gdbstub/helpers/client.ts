/**
 * A scripted GDB remote-protocol client, written from the GDB manual ("Remote Protocol" →
 * "Overview", "Packets", "Stop Reply Packets") and NOT from gdbstub/framing.ts, so the tests
 * check the stub against the protocol rather than against itself:
 * - packets are `$data#cs`, cs = two hex digits of the modulo-256 sum of the bytes between `$` and `#`
 *   (after escaping, i.e. the bytes actually sent);
 * - `#`, `$`, `}` and `*` in data are sent as `}` followed by the byte XOR 0x20;
 * - replies may be run-length encoded: `X*n` repeats X (n - 29) more times;
 * - in ack mode every packet is acknowledged with `+` (good) or `-` (bad checksum: resend).
 *
 * Works over a TCP socket to a GdbServer or directly on a GdbSession (synchronous `send`).
 */
import * as net from 'node:net';
import { GdbSession, type SessionHooks } from '../../../gdbstub/index.js';
import type { Debugger } from '../../../src/debug/index.js';

export type RxEvent =
  | { kind: 'ack' }
  | { kind: 'nack' }
  /** `data`: unescaped, run-length decoded; `raw`: the whole frame as received; `ok`: checksum matched. */
  | { kind: 'packet'; data: Buffer; raw: Buffer; ok: boolean }
  /** Bytes outside any packet that are neither `+` nor `-`. */
  | { kind: 'noise'; byte: number };

const DOLLAR = 0x24, HASH = 0x23, ESC = 0x7d, STAR = 0x2a;

/** Frame `data` as gdb does (escaping `#$}*`); `checksum` overrides the computed one. */
export function frame(data: string | Uint8Array, checksum?: number): Buffer {
  const src = typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data);
  const body: number[] = [];
  for (const b of src) {
    if (b === DOLLAR || b === HASH || b === ESC || b === STAR) body.push(ESC, b ^ 0x20);
    else body.push(b);
  }
  return frameRaw(Buffer.from(body), checksum);
}
/** Frame an already-escaped body (no escaping applied). */
export function frameRaw(body: string | Uint8Array, checksum?: number): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : Buffer.from(body);
  let sum = 0;
  for (const x of b) sum = (sum + x) & 0xff;
  const cs = (checksum ?? sum) & 0xff;
  return Buffer.concat([Buffer.from('$'), b, Buffer.from('#' + cs.toString(16).padStart(2, '0'))]);
}

/** Undo escapes and run-length encoding of a received body (manual, "Overview"). */
export function decodeReply(raw: Uint8Array): Buffer {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i];
    if (b === ESC) out.push(raw[++i] ^ 0x20);
    else if (b === STAR) {
      const n = raw[++i] - 29;
      const c = out[out.length - 1];
      for (let k = 0; k < n; k++) out.push(c);
    } else out.push(b);
  }
  return Buffer.from(out);
}

export const toHexStr = (s: string) => Buffer.from(s, 'utf8').toString('hex');

export class RspClient {
  readonly events: RxEvent[] = [];
  /** Everything received, in order (for assertions on raw bytes; only the last 1 MiB is kept). */
  get received(): Buffer { return Buffer.concat(this.chunks); }
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  private rawCur: number[] = [];
  /** Text of `O` console packets. */
  console = '';
  /** Acks the client expects (and sends) — false after QStartNoAckMode. */
  ackMode = true;
  private state: 'idle' | 'body' | 'cs1' | 'cs2' = 'idle';
  private body: number[] = [];
  private csText = '';
  private wake: (() => void) | null = null;
  closed = false;

  constructor(private readonly out: (b: Buffer) => void) {}

  /** A client over a GdbSession in this process (synchronous send). */
  static onSession(dbg: Debugger, hooks: Partial<SessionHooks> = {}): { client: RspClient; session: GdbSession; log: string[] } {
    const log: string[] = [];
    let session!: GdbSession;
    const client = new RspClient(b => session.receive(b));
    session = new GdbSession(dbg, {
      send: b => client.feed(b),
      onDetach: hooks.onDetach ?? (() => {}),
      onKill: hooks.onKill ?? (() => {}),
      log: s => { log.push(s); hooks.log?.(s); },
    });
    return { client, session, log };
  }

  /** A client over TCP. */
  static connect(port: number, host = '127.0.0.1'): Promise<{ client: RspClient; socket: net.Socket }> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      const client = new RspClient(b => { if (!socket.destroyed) socket.write(b); });
      socket.on('data', d => client.feed(d));
      socket.on('close', () => { client.closed = true; client.wake?.(); });
      socket.once('error', reject);
      socket.once('connect', () => { socket.off('error', reject); socket.on('error', () => {}); resolve({ client, socket }); });
    });
  }

  /** Bytes from the stub. */
  feed(chunk: Uint8Array): void {
    this.chunks.push(Buffer.from(chunk));
    this.chunkBytes += chunk.length;
    while (this.chunkBytes > 1 << 20 && this.chunks.length > 1) this.chunkBytes -= this.chunks.shift()!.length;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.state !== 'idle') this.rawCur.push(b);
      switch (this.state) {
        case 'idle':
          if (b === DOLLAR) { this.state = 'body'; this.body = []; this.rawCur = [b]; }
          else if (b === 0x2b) this.events.push({ kind: 'ack' });
          else if (b === 0x2d) this.events.push({ kind: 'nack' });
          else this.events.push({ kind: 'noise', byte: b });
          break;
        case 'body':
          if (b === HASH) this.state = 'cs1'; else this.body.push(b);
          break;
        case 'cs1': this.csText = String.fromCharCode(b); this.state = 'cs2'; break;
        case 'cs2': {
          this.csText += String.fromCharCode(b);
          this.state = 'idle';
          let sum = 0;
          for (const x of this.body) sum = (sum + x) & 0xff;
          const ok = /^[0-9a-f]{2}$/.test(this.csText) && parseInt(this.csText, 16) === sum;
          this.events.push({ kind: 'packet', data: decodeReply(Uint8Array.from(this.body)), raw: Buffer.from(this.rawCur), ok });
          break;
        }
      }
    }
    const w = this.wake; this.wake = null; w?.();
  }

  sendRaw(b: string | Uint8Array): void { this.out(typeof b === 'string' ? Buffer.from(b, 'latin1') : Buffer.from(b)); }
  /** Send a packet without waiting for anything. */
  sendPacket(data: string | Uint8Array, checksum?: number): void { this.out(frame(data, checksum)); }

  /** The next event (waits up to `timeoutMs`). */
  async next(timeoutMs = 5000): Promise<RxEvent> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length === 0) {
      if (this.closed) throw new Error('the connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms (received lately: ${JSON.stringify(this.received.subarray(-200).toString('latin1'))})`);
      await new Promise<void>(r => { const t = setTimeout(r, left); this.wake = () => { clearTimeout(t); r(); }; });
    }
    return this.events.shift()!;
  }

  /** Wait for the next packet that is not an `O` console packet (acknowledging packets in ack mode). */
  async reply(timeoutMs = 5000): Promise<string> {
    for (;;) {
      const e = await this.next(timeoutMs);
      if (e.kind === 'ack' || e.kind === 'nack') continue;
      if (e.kind === 'noise') throw new Error(`noise byte 0x${e.byte.toString(16)} from the stub`);
      if (!e.ok) throw new Error(`bad checksum in a reply from the stub: ${JSON.stringify(e.raw.toString('latin1'))}`);
      if (this.ackMode) this.sendRaw('+');
      const s = e.data.toString('latin1');
      if (/^O([0-9a-fA-F]{2})+$/.test(s)) { this.console += Buffer.from(s.slice(1), 'hex').toString('utf8'); continue; }
      return s;
    }
  }

  /** Send a packet and return its reply; in ack mode the stub's `+` must come first. */
  async request(data: string | Uint8Array, timeoutMs = 5000): Promise<string> {
    this.sendPacket(data);
    if (this.ackMode) {
      const e = await this.next(timeoutMs);
      if (e.kind !== 'ack') throw new Error(`expected + for ${JSON.stringify(String(data).slice(0, 40))}, got ${JSON.stringify(e)}`);
    }
    return this.reply(timeoutMs);
  }

  /** `monitor <cmd>`: the console text and the final reply. */
  async monitor(cmd: string): Promise<{ output: string; reply: string }> {
    this.console = '';
    const reply = await this.request('qRcmd,' + toHexStr(cmd));
    return { output: this.console, reply };
  }

  /** The handshake gdb starts with (multiprocess, swbreak/hwbreak stop reasons). */
  async handshake(): Promise<string> {
    return this.request('qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+;xmlRegisters=i386');
  }
}

/** Read a register out of a `g` reply / `p` reply (little-endian hex) as a BigInt. */
export function leHex(h: string): bigint {
  let v = 0n;
  for (let i = h.length - 2; i >= 0; i -= 2) v = (v << 8n) | BigInt(parseInt(h.slice(i, i + 2), 16));
  return v;
}
export function toLeHex(v: bigint, bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++) s += Number((v >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, '0');
  return s;
}

/** Parse a stop reply `Txx n1:r1;n2:r2;...` into its signal and pairs. */
export function parseStop(s: string): { kind: string; signal: number; pairs: Map<string, string> } {
  const kind = s[0];
  const signal = parseInt(s.slice(1, 3), 16);
  const pairs = new Map<string, string>();
  for (const part of s.slice(3).split(';')) {
    if (!part) continue;
    const c = part.indexOf(':');
    pairs.set(c < 0 ? part : part.slice(0, c), c < 0 ? '' : part.slice(c + 1));
  }
  return { kind, signal, pairs };
}

/** Read a whole qXfer object in chunks of `chunk` bytes (`m` = more, `l` = last). */
export async function xferRead(c: RspClient, object: string, annex: string, chunk = 0x400): Promise<string> {
  let doc = '';
  for (let guard = 0; guard < 10000; guard++) {
    const r = await c.request(`qXfer:${object}:read:${annex}:${doc.length.toString(16)},${chunk.toString(16)}`);
    if (r[0] !== 'm' && r[0] !== 'l') throw new Error(`qXfer:${object}:read:${annex}: ${r}`);
    doc += r.slice(1);
    if (r[0] === 'l') return doc;
  }
  throw new Error('qXfer never ended');
}

export interface RegInfo { name: string; regnum: number; bits: number; feature: string; offset: number }

/** The registers of target.xml in regnum order, with their byte offsets in a `g` reply. */
export function parseTargetXml(xml: string): RegInfo[] {
  const regs: RegInfo[] = [];
  let feature = '';
  const re = /<feature\s+name="([^"]+)"|<reg\s+([^>]*)\/>/g;
  for (let m; (m = re.exec(xml));) {
    if (m[1]) { feature = m[1]; continue; }
    const attr = (n: string) => new RegExp(`${n}="([^"]*)"`).exec(m![2])?.[1];
    regs.push({ name: attr('name')!, regnum: Number(attr('regnum') ?? regs.length), bits: Number(attr('bitsize')), feature, offset: 0 });
  }
  regs.sort((a, b) => a.regnum - b.regnum);
  let off = 0;
  for (const r of regs) { r.offset = off; off += r.bits / 4; }
  return regs;
}
