import type { Debugger, StopEvent, Resume, Context } from '../src/debug/index.js';
import { FrameParser, encodePacket, parseHex, hexBytes, toHex, type FrameEvent } from './framing.js';
import { REG_LAYOUT, targetXml } from './target.js';
import { SIG, signalForVector } from './signals.js';
import { runMonitor } from './monitor.js';

/**
 * One gdb connection: the packets of the GDB remote protocol (GDB manual, "Packets",
 * "General Query Packets", "Stop Reply Packets") on top of src/debug. All-stop mode; one context
 * per gdb process (multiprocess ids `pP.T`). Malformed packets get `E` errors, unknown ones the
 * empty reply; nothing a client sends can throw out of here.
 */
export interface SessionHooks {
  send(b: Buffer): void;
  /** gdb detached: the machine should go on running freely. */
  onDetach(): void;
  /** gdb killed the machine. */
  onKill(): void;
  log?(s: string): void;
}

export const PACKET_SIZE = 0x4000;
const E_INVAL = 'E16', E_FAULT = 'E0e', E_NOENT = 'E02';

export class GdbSession {
  private readonly parser = new FrameParser(PACKET_SIZE * 2);
  private ackMode = true;
  private lastSent: Buffer | null = null;
  private running: Promise<void> | null = null;
  private readonly queue: Buffer[] = [];
  private ctx = 1;                  // the context of Hg (registers, memory)
  private readonly passed = new Set<number>();
  private clientFeatures = new Set<string>();
  private closed = false;
  private readonly xml = targetXml();
  /** The first stop after attaching reports SIGTRAP, as gdbserver and QEMU do. */
  private attachStop = true;

  constructor(private readonly dbg: Debugger, private readonly hooks: SessionHooks) {}

  close(): void { this.closed = true; }

  /** Bytes from the client. */
  receive(chunk: Uint8Array): void {
    let evs: FrameEvent[];
    try { evs = this.parser.push(chunk); } catch { return; }
    for (const e of evs) {
      switch (e.kind) {
        case 'interrupt': if (this.running) this.dbg.interrupt(); break;
        case 'nack': if (this.ackMode && this.lastSent) this.hooks.send(this.lastSent); break;
        case 'ack': break;
        case 'bad-checksum': case 'oversized': if (this.ackMode) this.hooks.send(Buffer.from('-')); break;
        case 'packet':
          if (this.ackMode) this.hooks.send(Buffer.from('+'));
          if (this.running) this.queue.push(e.data);
          else this.dispatch(e.data);
          break;
      }
    }
  }

  private reply(s: string | Buffer): void {
    if (this.closed) return;
    const p = encodePacket(s);
    this.lastSent = p;
    this.hooks.send(p);
  }

  private dispatch(data: Buffer): void {
    let r: string | Buffer | null;
    try { r = this.handle(data.toString('latin1'), data); } catch (e) {
      this.hooks.log?.(`gdbstub: internal error on packet ${JSON.stringify(data.toString('latin1').slice(0, 40))}: ${(e as Error).stack}`);
      r = 'E01';
    }
    if (r !== null) this.reply(r);
  }

  /** Handle one packet; null when the answer comes later (resume) or never (k). */
  private handle(p: string, raw: Buffer): string | Buffer | null {
    const c = p[0];
    switch (c) {
      case '?': return this.stopReply(this.dbg.stopped ?? { kind: 'interrupt', context: 1 });
      case 'g': return this.readAllRegs();
      case 'G': return this.writeAllRegs(p.slice(1));
      case 'p': return this.readReg(p.slice(1));
      case 'P': return this.writeReg(p.slice(1));
      case 'm': return this.readMem(p.slice(1));
      case 'M': return this.writeMemHex(p.slice(1));
      case 'X': return this.writeMemBin(raw);
      case 'c': case 's': return this.resumeLegacy(c, p.slice(1), false);
      case 'C': case 'S': return this.resumeLegacy(c, p.slice(1), true);
      case 'Z': case 'z': return this.breakpoint(p);
      case 'H': return this.setThread(p.slice(1));
      case 'T': return this.threadAlive(p.slice(1));
      case 'D': return this.detach(p.slice(1));
      case 'k': this.hooks.onKill(); return null;
      case '!': return 'OK';
      case 'q': return this.query(p);
      case 'Q': return this.setting(p);
      case 'v': return this.vPacket(p);
      default: return '';
    }
  }

  // ------------------------------------------------------------------ stop replies
  private threadId(ctx: number): string { return `p${ctx.toString(16)}.1`; }

  private stopReply(ev: StopEvent): string {
    const t = `thread:${this.threadId(ev.context)};`;
    switch (ev.kind) {
      case 'breakpoint':
        return `T05${t}${ev.hardware ? (this.clientFeatures.has('hwbreak') ? 'hwbreak:;' : '') : (this.clientFeatures.has('swbreak') ? 'swbreak:;' : '')}`;
      case 'watchpoint': {
        const k = ev.watch === 'write' ? 'watch' : ev.watch === 'read' ? 'rwatch' : 'awatch';
        return `T05${t}${k}:${ev.address.toString(16)};`;
      }
      case 'step': return `T05${t}`;
      case 'interrupt': return `T${hex2(this.attachStop ? SIG.TRAP : SIG.INT)}${t}`; // the stop at attach is SIGTRAP (gdbserver, QEMU)
      case 'exception': return `T${hex2(signalForVector(ev.vector))}${t}`;
      case 'machine': return `T${hex2(ev.reason === 'unsupported' ? SIG.ILL : ev.reason === 'internal' ? SIG.ABRT : SIG.TRAP)}${t}`;
      case 'shutdown': return `T${hex2(SIG.KILL)}${t}`;
      case 'limit': return `T05${t}`;
      case 'vmentry-failure': return `T05${t}`;
      case 'vmx-transition': return `T05${t}`;
      case 'exited':
        return ev.exitCode === null ? `X${hex2(SIG.KILL)};process:${ev.context.toString(16)}` : `W${hex2(ev.exitCode & 0xff)};process:${ev.context.toString(16)}`;
    }
  }

  /** Console text for gdb (`O` packets may only be sent while the target runs). */
  private console(text: string): void {
    for (let i = 0; i < text.length; i += 1000) this.reply('O' + Buffer.from(text.slice(i, i + 1000), 'utf8').toString('hex'));
  }

  // ------------------------------------------------------------------ execution
  private resumeLegacy(c: string, args: string, withSig: boolean): string | null {
    // c [addr] | s [addr] | C sig[;addr] | S sig[;addr]
    let sig = 0, addr: string | undefined;
    if (withSig) {
      const [s, a] = args.split(';');
      const v = parseHex(s);
      if (v === null || v > 255n) return E_INVAL;
      sig = Number(v); addr = a;
    } else addr = args || undefined;
    if (addr !== undefined) {
      const a = parseHex(addr);
      if (a === null) return E_INVAL;
      const err = this.context().writeRegister('rip', a);
      if (err) return E_INVAL;
    }
    this.startResume(c === 'c' || c === 'C' ? { kind: 'continue' } : { kind: 'step' }, sig !== 0);
    return null;
  }

  private vCont(args: string): string | null {
    // vCont[;action[:thread-id]]... ; the first action that applies to our thread wins
    const actions = args.split(';').slice(1);
    if (actions.length === 0) return E_INVAL;
    let chosen: { how: Resume; sig: boolean } | null = null;
    for (const a of actions) {
      const [act, tid] = a.split(':');
      if (tid !== undefined) {
        const t = parseThreadId(tid);
        if (!t) return E_INVAL;
        if (t.pid > 0 && !this.dbg.context(t.pid)) return E_INVAL;
      }
      const k = act[0];
      let how: Resume | null = null, sig = false;
      if (k === 'c' && act.length === 1) how = { kind: 'continue' };
      else if (k === 's' && act.length === 1) how = { kind: 'step' };
      else if (k === 'C' || k === 'S') {
        const v = parseHex(act.slice(1));
        if (v === null || v > 255n) return E_INVAL;
        how = { kind: k === 'C' ? 'continue' : 'step' }; sig = v !== 0n;
      } else if (k === 'r') {
        const [s, e] = act.slice(1).split(',');
        const st = parseHex(s ?? ''), en = parseHex(e ?? '');
        if (st === null || en === null) return E_INVAL;
        how = { kind: 'range', start: st, end: en };
      } else if (k === 't' && act.length === 1) {
        continue; // stop: the machine is already stopped in all-stop mode
      } else return E_INVAL;
      if (!chosen && how) chosen = { how, sig };
    }
    if (!chosen) return 'OK';
    this.startResume(chosen.how, chosen.sig);
    return null;
  }

  /** `sig`: gdb resumed with a signal; a caught exception is delivered either way (see Debugger.resume). */
  private startResume(how: Resume, _sig: boolean): void {
    this.attachStop = false;
    this.running = this.dbg.resume(how).then(ev => {
      this.running = null;
      if (this.closed) return;
      if (ev.kind === 'machine' || ev.kind === 'shutdown' || ev.kind === 'limit' || ev.kind === 'exited' || ev.kind === 'exception' || ev.kind === 'vmentry-failure' || ev.kind === 'vmx-transition') {
        this.console(`vmxray: ${ev.message}\n`);
      }
      this.reply(this.stopReply(ev));
      while (this.queue.length && !this.running) this.dispatch(this.queue.shift()!);
    }, err => {
      this.running = null;
      this.hooks.log?.(`gdbstub: resume failed: ${(err as Error).stack}`);
      this.reply(`X${hex2(SIG.ABRT)};process:1`);
    });
  }

  /** The machine was already stopped for this session (attach); its next `?` reports SIGTRAP. */
  get busy(): boolean { return this.running !== null; }

  // ------------------------------------------------------------------ registers
  private context(): Context { return this.dbg.context(this.ctx) ?? this.dbg.root; }

  private regHex(i: number): string {
    const spec = REG_LAYOUT[i];
    const v = this.context().readRegister(spec.name);
    const n = spec.bits / 8;
    if (v === null) return 'xx'.repeat(n);
    const b = new Uint8Array(n);
    for (let k = 0; k < n; k++) b[k] = Number((v >> BigInt(8 * k)) & 0xffn);
    return toHex(b);
  }
  private readAllRegs(): string { return REG_LAYOUT.map((_, i) => this.regHex(i)).join(''); }
  private readReg(a: string): string {
    const n = parseHex(a);
    if (n === null || n >= BigInt(REG_LAYOUT.length)) return E_INVAL;
    return this.regHex(Number(n));
  }
  private static leValue(b: Uint8Array): bigint { let v = 0n; for (let k = b.length - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[k]); return v; }
  private writeReg(a: string): string {
    const eq = a.indexOf('=');
    if (eq < 0) return E_INVAL;
    const n = parseHex(a.slice(0, eq));
    if (n === null || n >= BigInt(REG_LAYOUT.length)) return E_INVAL;
    const spec = REG_LAYOUT[Number(n)];
    const b = hexBytes(a.slice(eq + 1));
    if (!b || b.length !== spec.bits / 8) return E_INVAL;
    const err = this.context().writeRegister(spec.name, GdbSession.leValue(b));
    if (err) { this.hooks.log?.(`gdbstub: ${spec.name}: ${err}`); return E_INVAL; }
    return 'OK';
  }
  private writeAllRegs(h: string): string {
    const b = hexBytes(h);
    if (!b) return E_INVAL;
    const ctx = this.context();
    // gdb writes back what it read: only registers whose value changes are written
    let off = 0;
    const writes: [string, bigint][] = [];
    for (const spec of REG_LAYOUT) {
      const n = spec.bits / 8;
      if (off + n > b.length) break;
      const v = GdbSession.leValue(b.subarray(off, off + n));
      off += n;
      if (ctx.readRegister(spec.name) !== v) writes.push([spec.name, v]);
    }
    if (off !== b.length) return E_INVAL;
    for (const [name, v] of writes) if (ctx.writeRegister(name, v)) return E_INVAL;
    return 'OK';
  }

  // ------------------------------------------------------------------ memory
  private addrLen(s: string): [bigint, number] | null {
    const [a, l] = s.split(',');
    const addr = parseHex(a ?? ''), len = parseHex(l ?? '');
    if (addr === null || len === null || addr >= 1n << 64n) return null;
    return [addr, Number(len)];
  }
  private readMem(s: string): string {
    const al = this.addrLen(s);
    if (!al) return E_INVAL;
    const [addr, len] = al;
    if (len === 0) return '';
    const data = this.context().readMemory(addr, Math.min(len, PACKET_SIZE / 2 - 8), this.dbg.physical);
    return data.length === 0 ? E_FAULT : toHex(data);
  }
  private writeMemHex(s: string): string {
    const colon = s.indexOf(':');
    if (colon < 0) return E_INVAL;
    const al = this.addrLen(s.slice(0, colon));
    const data = hexBytes(s.slice(colon + 1));
    if (!al || !data || data.length !== al[1]) return E_INVAL;
    return this.context().writeMemory(al[0], data, this.dbg.physical) === data.length ? 'OK' : E_FAULT;
  }
  private writeMemBin(raw: Buffer): string {
    const colon = raw.indexOf(0x3a);
    if (colon < 0) return E_INVAL;
    const al = this.addrLen(raw.subarray(1, colon).toString('latin1'));
    const data = raw.subarray(colon + 1);
    if (!al || data.length !== al[1]) return E_INVAL;
    if (data.length === 0) return 'OK'; // gdb probes X support with a zero-length write
    return this.context().writeMemory(al[0], Uint8Array.from(data), this.dbg.physical) === data.length ? 'OK' : E_FAULT;
  }

  // ------------------------------------------------------------------ breakpoints
  private breakpoint(p: string): string {
    const insert = p[0] === 'Z';
    const [type, a, k] = p.slice(1).split(';')[0].split(',');
    const addr = parseHex(a ?? ''), kind = parseHex(k ?? '');
    if (addr === null || kind === null || addr >= 1n << 64n) return E_INVAL;
    const ctx = this.ctx;
    switch (type) {
      case '0': case '1': {
        const hw = type === '1';
        if (insert) this.dbg.addBreakpoint(addr, hw, ctx); else this.dbg.removeBreakpoint(addr, hw, ctx);
        return 'OK';
      }
      case '2': case '3': case '4': {
        const len = Number(kind);
        if (len < 1 || len > 1 << 20) return E_INVAL;
        const wk = type === '2' ? 'write' : type === '3' ? 'read' : 'access';
        if (insert) this.dbg.addWatchpoint(addr, len, wk, ctx); else this.dbg.removeWatchpoint(addr, len, wk, ctx);
        return 'OK';
      }
      default: return '';
    }
  }

  // ------------------------------------------------------------------ threads / processes
  private setThread(s: string): string {
    const op = s[0];
    if (op !== 'g' && op !== 'c') return E_INVAL;
    const t = parseThreadId(s.slice(1));
    if (!t) return E_INVAL;
    if (t.pid > 0) {
      if (!this.dbg.context(t.pid) || (t.tid > 1)) return E_NOENT;
      if (op === 'g') this.ctx = t.pid;
    } else if (t.tid > 1) return E_NOENT;
    return 'OK';
  }
  private threadAlive(s: string): string {
    const t = parseThreadId(s);
    if (!t) return E_INVAL;
    return (t.pid <= 0 || this.dbg.context(t.pid)) && t.tid <= 1 ? 'OK' : E_NOENT;
  }
  private detach(s: string): string | null {
    if (s && !/^;[0-9a-fA-F]+$/.test(s)) return E_INVAL;
    this.dbg.clearAll();
    this.dbg.caught.clear();
    this.closed = false;
    this.reply('OK');
    this.closed = true;
    this.hooks.onDetach();
    return null;
  }

  // ------------------------------------------------------------------ queries
  private query(p: string): string | null {
    if (p.startsWith('qSupported')) {
      const feats = p.split(':')[1]?.split(';') ?? [];
      this.clientFeatures = new Set(feats.filter(f => f.endsWith('+')).map(f => f.slice(0, -1)));
      return `PacketSize=${PACKET_SIZE.toString(16)};qXfer:features:read+;qXfer:threads:read+;multiprocess+;vContSupported+;` +
        'swbreak+;hwbreak+;QStartNoAckMode+;QPassSignals+';
    }
    if (p.startsWith('qXfer:features:read:')) return this.xfer(p.slice('qXfer:features:read:'.length), annex => annex === 'target.xml' ? this.xml : null);
    if (p.startsWith('qXfer:threads:read:')) return this.xfer(p.slice('qXfer:threads:read:'.length), annex => annex === '' ? this.threadsXml() : null);
    if (p === 'qC') return `QC${this.threadId(this.ctx)}`;
    if (p === 'qfThreadInfo') return 'm' + this.dbg.contexts().map(c => this.threadId(c.id)).join(',');
    if (p === 'qsThreadInfo') return 'l';
    if (p === 'qAttached' || p.startsWith('qAttached:')) return '1';
    if (p === 'qOffsets') return 'Text=0;Data=0;Bss=0';
    if (p.startsWith('qSymbol')) return 'OK';
    if (p.startsWith('qRcmd,')) return this.monitor(p.slice(6));
    if (p.startsWith('qThreadExtraInfo,')) {
      const t = parseThreadId(p.slice('qThreadExtraInfo,'.length));
      const c = t ? this.dbg.context(t.pid > 0 ? t.pid : 1) : null;
      return c ? Buffer.from(c.name).toString('hex') : E_INVAL;
    }
    return '';
  }
  private xfer(rest: string, get: (annex: string) => string | null): string {
    const m = /^([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(rest);
    if (!m) return E_INVAL;
    const doc = get(m[1]);
    if (doc === null) return 'E00';
    const off = parseInt(m[2], 16), len = parseInt(m[3], 16);
    if (off > doc.length) return E_INVAL;
    const chunk = doc.slice(off, off + Math.min(len, PACKET_SIZE - 16));
    return (off + chunk.length >= doc.length ? 'l' : 'm') + chunk;
  }
  private threadsXml(): string {
    const t = this.dbg.contexts().map(c => `<thread id="${this.threadId(c.id)}" core="0" name="${c.name.replace(/[<>&"]/g, '')}"/>`).join('');
    return `<?xml version="1.0"?>\n<threads>${t}</threads>\n`;
  }
  private monitor(hexCmd: string): string | null {
    const b = hexBytes(hexCmd);
    if (!b) return E_INVAL;
    const r = runMonitor(this.dbg, Buffer.from(b).toString('utf8'), { context: this.context() });
    if (r.output) this.console(r.output.endsWith('\n') ? r.output : r.output + '\n');
    if (r.quit) { this.reply('OK'); this.hooks.onKill(); return null; }
    return r.error ? E_INVAL : 'OK';
  }

  private setting(p: string): string | null {
    if (p === 'QStartNoAckMode') { this.reply('OK'); this.ackMode = false; return null; }
    if (p.startsWith('QPassSignals:')) {
      const list = p.slice('QPassSignals:'.length);
      const sigs = list ? list.split(';').map(s => parseHex(s)) : [];
      if (sigs.some(s => s === null || s > 255n)) return E_INVAL;
      this.passed.clear();
      for (const s of sigs) this.passed.add(Number(s));
      this.updateCatches();
      return 'OK';
    }
    return '';
  }
  /** Signals gdb passes silently are not worth stopping for: such vectors are delivered at once. */
  private updateCatches(): void {
    this.dbg.passedVector = v => this.passed.has(signalForVector(v));
  }

  private vPacket(p: string): string | null {
    if (p === 'vCont?') return 'vCont;c;C;s;S;t;r';
    if (p.startsWith('vCont;') || p === 'vCont') return this.vCont(p.slice(5));
    if (p === 'vMustReplyEmpty') return '';
    if (p.startsWith('vAttach;')) {
      const pid = parseHex(p.slice(8));
      if (pid === null || !this.dbg.context(Number(pid))) return E_NOENT;
      this.ctx = Number(pid);
      return this.stopReply(this.dbg.stopped ?? { kind: 'interrupt', context: this.ctx });
    }
    if (p.startsWith('vKill')) { this.reply('OK'); this.hooks.onKill(); return null; }
    if (p.startsWith('vCtrlC')) { if (this.running) this.dbg.interrupt(); return 'OK'; }
    return '';
  }
}

/** `pP.T`, `pP`, `T`, with -1 (all) and 0 (any). Null when malformed. */
export function parseThreadId(s: string): { pid: number; tid: number } | null {
  const num = (x: string): number | null => {
    if (x === '-1') return -1;
    const v = parseHex(x);
    return v === null || v > 0x7fffffffn ? null : Number(v);
  };
  if (s.startsWith('p')) {
    const [ps, ts] = s.slice(1).split('.');
    const pid = num(ps);
    if (pid === null) return null;
    if (ts === undefined) return { pid, tid: -1 };
    const tid = num(ts);
    return tid === null ? null : { pid, tid };
  }
  const tid = num(s);
  return tid === null ? null : { pid: 0, tid };
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
