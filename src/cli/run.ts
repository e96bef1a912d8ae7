import { readFileSync, existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine, type RunResult } from '../machine/index.js';
import { BootError, type BootModule } from '../boot/index.js';
import { openDisk, DiskError, type BlockDevice } from '../disk/index.js';
import { parseDrive, parseMemory, UsageError } from './drive.js';
import { openSink, type Sink } from './console.js';
import { fmtAddr } from '../cpu/ops/index.js';
import { runWithGdb, parseGdbAddress } from './gdb.js';

/** `vmxray run`: boot a multiboot kernel on the emulated PC. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEMO_KERNEL = resolve(ROOT, 'examples/demo/demo.elf');

export interface RunArgs {
  kernel?: string; initrd?: string[]; module?: string[]; append?: string; m?: string | number;
  drive?: string[]; diskWrite?: boolean; serial?: string | string[]; debugcon?: string; display?: string;
  maxInstructions?: number; timeout?: number; ips?: number; startDate?: string; quiet?: boolean;
  traceExceptions?: boolean;
  /** -s: gdb server on 127.0.0.1:1234; -S: wait for gdb before starting; --gdb tcp:HOST:PORT. */
  s?: boolean; S?: boolean; gdb?: string;
  /** IA32_FEATURE_CONTROL at power-on. */
  featureControl?: 'locked' | 'unlocked';
  /** Failed VM entries: explain the deciding rule ('first', default), every failing rule ('all'), or nothing ('off'). */
  vmxExplain?: 'first' | 'all' | 'off';
  /** End the run at the first failed VM entry (exit status 3). */
  stopOnVmentryFailure?: boolean;
}

function readFile(path: string, what: string): Uint8Array {
  if (!existsSync(path)) throw new UsageError(`${what} ${path}: no such file`);
  return readFileSync(path);
}

/** Build the machine from arguments; returns it with its console sinks. */
export function composeMachine(a: RunArgs): { machine: Machine; sinks: Sink[]; disks: BlockDevice[]; kernelPath: string } {
  const kernelPath = a.kernel ?? DEMO_KERNEL;
  const disks: (BlockDevice | null)[] = [null, null, null, null];
  let next = 0;
  for (const spec of a.drive ?? []) {
    const d = parseDrive(spec, next);
    if (disks[d.index]) throw new UsageError(`-drive ${spec}: index ${d.index} is already used`);
    disks[d.index] = openDisk(d.file, { format: d.format, write: d.write || !!a.diskWrite });
    while (next < 4 && disks[next]) next++;
  }
  // The demo on a terminal shows its VGA screen (in colour) rather than the same text from port 0xE9.
  const demoOnTty = !a.kernel && process.stdout.isTTY;
  const liveVga = a.display === 'vga' && process.stdout.isTTY;
  const debugSink = openSink(a.debugcon ?? (demoOnTty || liveVga ? 'none' : 'stdio'), '-debugcon');
  // -serial is repeatable: COM1, COM2, COM3, COM4 in order (as QEMU)
  const serialSpecs = a.serial === undefined ? ['none'] : Array.isArray(a.serial) ? a.serial : [a.serial];
  if (serialSpecs.length > 4) throw new UsageError('-serial: at most four serial ports (COM1–COM4)');
  const serialSinks = serialSpecs.map(spec => openSink(spec, '-serial'));
  const machine = new Machine({
    memory: a.m !== undefined ? parseMemory(a.m) : 32 * 1024 * 1024,
    ips: a.ips,
    startDate: a.startDate ? parseDate(a.startDate) : undefined,
    onDebugOutput: b => debugSink.write(b),
    serialOutputs: serialSinks.map(sink => (b: number) => sink.write(b)),
    disks,
    onDiskError: msg => process.stderr.write(`vmxray: disk error: ${msg}\n`),
    featureControl: a.featureControl,
    vmx: {
      log: a.vmxExplain === 'off' ? undefined : line => process.stderr.write(`vmxray: ${line}\n`),
      explain: a.vmxExplain === 'all' ? 'all' : 'first',
      stopOnEntryFailure: a.stopOnVmentryFailure,
    },
  });
  const modules: BootModule[] = [];
  for (const spec of [...(a.initrd ?? []).flatMap(s => s.split(',')), ...(a.module ?? [])]) {
    const [file, ...args] = spec.split(' ');
    modules.push({ data: readFile(file, 'module'), cmdline: [file, ...args].join(' '), name: basename(file) });
  }
  machine.boot(readFile(kernelPath, '-kernel'), { cmdline: a.append ?? basename(kernelPath), modules });
  serialSinks.forEach((sink, i) => sink.input?.(data => machine.serial[i].receive([...data])));
  return { machine, sinks: [debugSink, ...serialSinks], disks: disks.filter((d): d is BlockDevice => !!d), kernelPath };
}

function parseDate(s: string): number {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new UsageError(`--start-date ${s}: not a date (try 2026-01-01T12:00:00Z)`);
  return t;
}

/** Terminal keyboard: bytes typed go to the PS/2 keyboard; Ctrl-A x quits (as QEMU). */
function attachKeyboard(machine: Machine, quit: () => void): () => void {
  const stdin = process.stdin;
  if (!stdin.readable) return () => {};
  const tty = stdin.isTTY;
  if (tty) stdin.setRawMode(true);
  let ctrlA = false;
  const onData = (data: Buffer) => {
    let text = '';
    for (const b of data) {
      if (tty && ctrlA) { ctrlA = false; if (b === 0x78 /* x */) { quit(); return; } if (b === 0x01) text += '\x01'; continue; }
      if (tty && b === 0x01) { ctrlA = true; continue; }
      if (tty && b === 0x03) { quit(); return; }
      text += String.fromCharCode(b === 0x7f ? 8 : b === 0x0d ? 10 : b);
    }
    if (text) machine.kbc.typeText(text);
  };
  stdin.on('data', onData);
  stdin.resume();
  return () => { stdin.off('data', onData); if (tty) stdin.setRawMode(false); stdin.pause(); };
}

export async function runCommand(a: RunArgs): Promise<number> {
  let composed;
  try { composed = composeMachine(a); }
  catch (e) {
    if (e instanceof UsageError || e instanceof BootError || e instanceof DiskError) { process.stderr.write(`vmxray: ${e.message}\n`); return 2; }
    throw e;
  }
  const { machine, sinks, kernelPath } = composed;
  if (a.traceExceptions) {
    const kinds = ['exception', 'interrupt', 'INT n', 'INT3/INTO', 'NMI', 'INT1'];
    machine.cpu.onEvent = (v, code, kind, rip) => {
      if (kind === 1) return; // external interrupts are too many to print
      process.stderr.write(`vmxray: [${machine.clock.icount}] ${kinds[kind]} vector ${v}${code >= 0 ? ` code 0x${code.toString(16)}` : ''} at ${fmtAddr(rip)}${v === 14 ? ` cr2 ${fmtAddr(machine.cpu.cr2)}` : ''}\n`);
    };
  }
  let quitting = false;
  const live = a.display === 'vga' && process.stdout.isTTY;
  let lastFrame = '', lastDraw = 0;
  if (live) process.stdout.write('\x1b[2J');
  const detach = attachKeyboard(machine, () => { quitting = true; });
  const t0 = Date.now();
  let r: RunResult;
  const gdb = a.gdb || a.s || a.S;
  try {
    if (gdb) {
      let listen;
      try { listen = parseGdbAddress(a.gdb ?? 'tcp::1234'); } catch (e) { process.stderr.write(`vmxray: ${(e as Error).message}\n`); return 2; }
      try {
        r = await runWithGdb(machine, {
          listen, waitForClient: !!a.S, quiet: a.quiet, timeoutMs: a.timeout ? a.timeout * 1000 : undefined,
          tick: () => {
            if (live) { const frame = machine.vga.renderAnsi(); if (frame !== lastFrame) { process.stdout.write(frame); lastFrame = frame; } }
            return quitting;
          },
        });
      } catch (e) {
        if (e instanceof UsageError) { process.stderr.write(`vmxray: ${e.message}\n`); return 2; }
        throw e;
      }
    } else r = await machine.run({
      maxInstructions: a.maxInstructions, timeoutMs: a.timeout ? a.timeout * 1000 : undefined,
      waitWhenIdle: process.stdin.isTTY === true || (Array.isArray(a.serial) && a.serial.some(s => s.startsWith('tcp:'))),
      onSlice: () => {
        if (quitting) machine.cpu.halt('paused', 'quit from the terminal (Ctrl-A x)');
        if (live) {
          // -display vga on a terminal: redraw the text screen when it changed (at most every 50 ms)
          const now = Date.now();
          if (now - lastDraw > 50) {
            const frame = machine.vga.renderAnsi();
            if (frame !== lastFrame) { process.stdout.write(frame); lastFrame = frame; }
            lastDraw = now;
          }
        }
      },
    });
  } finally { detach(); for (const s of sinks) s.close(); }
  const secs = (Date.now() - t0) / 1000;
  const show = a.display ?? (!a.kernel && process.stdout.isTTY ? 'vga' : 'none');
  if (live) process.stdout.write('\x1b[2J\x1b[H\x1b[?25h');
  if (show === 'vga') process.stdout.write(machine.vga.renderAnsi({ inline: true }) + '\n');
  if (!a.quiet) {
    const mips = r.instructions / Math.max(secs, 1e-3) / 1e6;
    const vmx = machine.cpu.vmx;
    const transitions = vmx && vmx.transitions > 0 ? `; ${vmx.transitions.toLocaleString('en')} VM entries and exits` : '';
    process.stderr.write(`\nvmxray: ${basename(kernelPath)}: ${r.message} — ${r.instructions.toLocaleString('en')} instructions in ${secs.toFixed(2)} s (${mips.toFixed(1)} MIPS)${transitions}\n`);
  }
  // The built-in demo signals success with debug-exit value 0 (code 1); report that as status 0 so
  // `npm start` succeeds. A user's kernel gets its code unchanged, as with QEMU.
  if (r.reason === 'exit') return !a.kernel && r.exitCode === 1 ? 0 : (r.exitCode ?? 1) & 0xff;
  if (r.reason === 'max-instructions' || r.reason === 'paused' || r.reason === 'timeout') return 0;
  if (r.reason === 'vmentry-failure') return 3;
  return r.reason === 'triple-fault' || r.reason === 'vmx-abort' ? 0x80 : 1;
}
