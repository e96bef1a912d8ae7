import { createWriteStream, type WriteStream } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { UsageError } from './drive.js';

/** A byte sink for -serial / -debugcon: stdio, file:PATH, tcp:HOST:PORT (connect), tcp:[HOST]:PORT,server (listen), or none. */
export interface Sink { write(byte: number): void; close(): void; input?: (fn: (data: Buffer) => void) => void }

export function openSink(spec: string, what: string): Sink {
  if (spec === 'none' || spec === 'null') return { write() {}, close() {} };
  if (spec === 'stdio' || spec === 'stdout') {
    let buf: number[] = [];
    const flush = () => { if (buf.length) { process.stdout.write(Buffer.from(buf)); buf = []; } };
    const t = setInterval(flush, 30); t.unref();
    return { write(b) { buf.push(b); if (b === 10 || buf.length > 4096) flush(); }, close() { flush(); clearInterval(t); } };
  }
  if (spec.startsWith('file:')) {
    const ws: WriteStream = createWriteStream(spec.slice(5));
    return { write(b) { ws.write(Buffer.from([b])); }, close() { ws.end(); } };
  }
  const server = /^tcp:([^:]*):(\d+),server(?:,nowait)?$/.exec(spec);
  if (server) {
    // QEMU's tcp::PORT,server: listen (on 127.0.0.1 unless a host is named) and talk to one client.
    let client: import('node:net').Socket | null = null;
    const pending: number[] = [];
    let onInput: ((d: Buffer) => void) | null = null;
    const srv = createServer(sock => {
      client?.destroy(); client = sock;
      if (pending.length) { sock.write(Buffer.from(pending)); pending.length = 0; }
      sock.on('data', d => onInput?.(d));
      sock.on('error', () => {});
    });
    srv.listen(Number(server[2]), server[1] || '127.0.0.1');
    srv.on('error', e => process.stderr.write(`vmxray: ${what} ${spec}: ${e.message}\n`));
    return {
      write(b) { if (client) client.write(Buffer.from([b])); else if (pending.length < 1 << 20) pending.push(b); },
      close() { client?.end(); srv.close(); },
      input(fn) { onInput = fn; },
    };
  }
  const tcp = /^tcp:([^:]*):(\d+)$/.exec(spec);
  if (tcp) {
    const sock = createConnection({ host: tcp[1] || '127.0.0.1', port: Number(tcp[2]) });
    sock.on('error', e => process.stderr.write(`vmxray: ${what} ${spec}: ${e.message}\n`));
    return { write(b) { sock.write(Buffer.from([b])); }, close() { sock.end(); }, input(fn) { sock.on('data', fn); } };
  }
  throw new UsageError(`${what} ${spec}: expected stdio, file:PATH, tcp:HOST:PORT or none`);
}
