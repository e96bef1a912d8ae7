import { Debugger, type StopEvent } from '../debug/index.js';
import { GdbServer } from '../../gdbstub/index.js';
import type { Machine, RunResult } from '../machine/index.js';
import { UsageError } from './drive.js';

/**
 * `vmxray run -s / -S / --gdb tcp:HOST:PORT`: the machine runs under the debugger API with a GDB
 * server beside it. Without a client it runs freely; a client stops it while attached; `-S` waits
 * for the first client before the first instruction. The run ends when the guest powers off, gdb
 * kills the machine, the user quits, or --timeout passes.
 */
export interface GdbRunOptions {
  listen: { host: string; port: number };
  waitForClient: boolean;
  timeoutMs?: number;
  quiet?: boolean;
  /** Called every ~50 ms (live display, quit requests); return true to end the run. */
  tick?: () => boolean;
}

export function parseGdbAddress(spec: string): { host: string; port: number } {
  const m = /^(?:tcp:)?(?:([^:]*):)?(\d+)$/.exec(spec);
  if (!m) throw new UsageError(`--gdb ${spec}: expected tcp:HOST:PORT or tcp::PORT`);
  const port = Number(m[2]);
  if (port > 65535) throw new UsageError(`--gdb ${spec}: port out of range`);
  return { host: m[1] || '127.0.0.1', port };
}

export async function runWithGdb(machine: Machine, o: GdbRunOptions): Promise<RunResult> {
  const dbg = new Debugger(machine);
  const start = machine.clock.icount;
  const say = (s: string) => { if (!o.quiet) process.stderr.write(`vmxray: ${s}\n`); };
  let finish!: (r: RunResult) => void;
  const done = new Promise<RunResult>(r => { finish = r; });
  const result = (reason: RunResult['reason'], message: string): RunResult =>
    ({ reason, message, exitCode: machine.exitCode, instructions: machine.clock.icount - start });
  const server = new GdbServer(dbg, {
    ...o.listen,
    log: s => say(s.replace(/^gdbstub: /, 'gdb: ')),
    onEnd: why => finish(machine.exitCode !== undefined ? result('exit', why) : result('paused', why)),
    onUnattendedStop: (ev: StopEvent) => {
      if (ev.kind === 'exited') return; // onEnd reports it
      say(`${'message' in ev ? ev.message : ev.kind} — the machine is stopped; attach gdb to inspect it (Ctrl-C quits)`);
    },
  });
  let addr;
  try { addr = await server.listen(); } catch (e) {
    throw new UsageError(`cannot listen for gdb on ${o.listen.host}:${o.listen.port}: ${(e as Error).message}`);
  }
  say(`gdb server on ${addr.host}:${addr.port} — in gdb: target remote ${addr.host}:${addr.port}`);
  if (o.waitForClient) say('waiting for gdb before the first instruction (-S)');
  else server.runFree();
  const deadline = o.timeoutMs ? Date.now() + o.timeoutMs : Infinity;
  const timer = setInterval(() => {
    if (o.tick?.()) finish(result('paused', 'quit from the terminal'));
    else if (Date.now() > deadline) finish(result('timeout', `host timeout after ${o.timeoutMs} ms`));
  }, 50);
  const r = await done;
  clearInterval(timer);
  await server.close();
  dbg.dispose();
  return r;
}
