import * as net from 'node:net';
import type { Debugger, StopEvent } from '../src/debug/index.js';
import { GdbSession } from './session.js';
import { encodePacket } from './framing.js';

/**
 * The GDB server: TCP on 127.0.0.1 by default, one client at a time (a second one is told why it
 * cannot attach), the machine stopped while a client is attached and running freely otherwise.
 */
export interface GdbServerOptions {
  host?: string;
  port: number;
  /** Log lines (connections, refusals, internal errors). */
  log?: (s: string) => void;
  /** The machine stopped on its own while no client is attached (exit, triple fault, unsupported instruction…). */
  onUnattendedStop?: (ev: StopEvent) => void;
  /** The machine is gone (powered off, or killed by the client). */
  onEnd?: (why: string) => void;
}

export class GdbServer {
  private server: net.Server | null = null;
  private client: net.Socket | null = null;
  private session: GdbSession | null = null;
  private free: Promise<StopEvent> | null = null;
  private ended = false;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly dbg: Debugger, private readonly opts: GdbServerOptions) {
    dbg.onStop(ev => {
      if (ev.kind === 'exited' && !this.ended) {
        this.ended = true;
        setTimeout(() => opts.onEnd?.(ev.message), 50); // let the W packet reach gdb first
      }
    });
  }

  /** Start listening; resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }> {
    const host = this.opts.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const srv = net.createServer(s => this.accept(s));
      srv.once('error', reject);
      srv.listen(this.opts.port, host, () => {
        srv.off('error', reject);
        srv.on('error', e => this.opts.log?.(`gdbstub: ${e.message}`));
        this.server = srv;
        const a = srv.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Let the machine run while no client is attached (not called for -S: it waits for gdb). */
  runFree(): void {
    if (this.free || this.session || this.ended) return;
    this.free = this.dbg.resume({ kind: 'continue' });
    this.free.then(ev => {
      this.free = null;
      if (ev.kind === 'interrupt') return;           // a client attached and stopped it
      if (!this.session) this.opts.onUnattendedStop?.(ev);
    }, e => this.opts.log?.(`gdbstub: ${(e as Error).stack}`));
  }

  get attached(): boolean { return this.session !== null; }

  private accept(sock: net.Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => { /* reported through close */ });
    sock.setNoDelay(true);
    if (this.session) {
      this.opts.log?.(`gdbstub: refused a second client from ${sock.remoteAddress}:${sock.remotePort}`);
      const msg = 'E.vmxray: another gdb is already attached to this machine; detach it first';
      sock.on('data', () => { sock.write('+'); sock.write(encodePacket(msg)); sock.end(); });
      setTimeout(() => sock.destroy(), 2000).unref();
      return;
    }
    this.client = sock;
    const session = new GdbSession(this.dbg, {
      send: b => { if (!sock.destroyed) sock.write(b); },
      onDetach: () => { this.endSession(session, 'detached'); },
      onKill: () => { this.endSession(session, 'killed'); this.ended = true; this.opts.onEnd?.('gdb killed the machine'); },
      log: this.opts.log,
    });
    this.session = session;
    this.dbg.attached = true;
    this.opts.log?.(`gdbstub: gdb attached from ${sock.remoteAddress}:${sock.remotePort}`);
    // stop the machine before the session answers anything
    const pending: Buffer[] = [];
    let ready = false;
    sock.on('data', d => { if (ready) session.receive(d); else pending.push(d); });
    sock.on('close', () => { if (this.session === session) this.endSession(session, 'disconnected'); });
    const stopped = this.free ? (this.dbg.interrupt(), this.free.then(() => undefined)) : Promise.resolve();
    void stopped.then(() => {
      ready = true;
      for (const d of pending) session.receive(d);
    });
  }

  private endSession(session: GdbSession, why: string): void {
    if (this.session !== session) return;
    session.close();
    this.session = null;
    this.dbg.attached = false;
    const sock = this.client;
    this.client = null;
    if (sock) setTimeout(() => sock.end(), 20);
    this.opts.log?.(`gdbstub: gdb ${why}`);
    if (why !== 'killed') {
      // the machine goes on without the debugger: no breakpoints, no caught exceptions
      this.dbg.clearAll();
      this.dbg.caught.clear();
      this.dbg.passedVector = () => false;
      this.dbg.breakOnExit = null; this.dbg.breakOnEntry = false;
      if (this.dbg.running) this.dbg.interrupt();
      const go = () => { if (!this.dbg.running) this.runFree(); else setTimeout(go, 5); };
      go();
    }
  }

  /** Stop listening and drop the client. */
  async close(): Promise<void> {
    if (this.dbg.running) this.dbg.interrupt();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>(r => (this.server ? this.server.close(() => r()) : r()));
    this.server = null;
  }
}
