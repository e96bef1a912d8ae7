import type * as Pty from 'node-pty';
import { spawnSync } from 'node:child_process';

/** node-pty is a native module: loaded here so that a machine where it failed to build skips, not crashes. */
const pty: typeof Pty | null = await import('node-pty').then(m => (m.default ?? m) as typeof Pty, () => null);
export function ptyAvailable(): boolean { return pty !== null; }

/**
 * The real gdb in a pseudo-terminal, driven like a user at the keyboard: `cmd()` types a line
 * and returns what gdb printed up to its next prompt; `expect()` waits for text; `interrupt()`
 * types Ctrl-C. Output is kept with ANSI escapes and CRs stripped; a failed wait throws with the
 * end of the transcript so a broken test says what gdb actually showed.
 */
export const PROMPT = '(gdb) ';

export function gdbAvailable(): boolean {
  const r = spawnSync('gdb', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

/** A plain terminal, C locale (gdb's messages untranslated), no inherited gdb settings. */
function gdbEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'INSIDE_EMACS' && k !== 'GDBHISTFILE') env[k] = v;
  return { ...env, TERM: 'dumb', LC_ALL: 'C', LANG: 'C', LANGUAGE: 'C' };
}

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]/g;

export class GdbPty {
  private readonly p: Pty.IPty;
  /** Everything gdb printed (cleaned). */
  text = '';
  /** Where the next expect() starts searching. */
  private pos = 0;
  private waiters: (() => void)[] = [];
  exited: { exitCode: number; signal?: number } | null = null;

  constructor(args: string[], opts: { cwd: string; name?: string }, private readonly context: () => string = () => '') {
    if (!pty) throw new Error('node-pty is not available');
    this.p = pty.spawn('gdb', ['-q', '-nx', ...args], {
      name: 'dumb', cols: 400, rows: 200, cwd: opts.cwd,
      env: gdbEnv(),
    });
    this.p.onData(d => {
      this.text += d.replace(ANSI, '').replace(/\r/g, '');
      this.wake();
    });
    this.p.onExit(e => { this.exited = e; this.wake(); });
  }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  /** Type one line (gdb sees Enter). */
  send(line: string): void { this.p.write(line + '\n'); }
  /** Ctrl-C at the terminal. */
  interrupt(): void { this.p.write('\x03'); }

  /** Wait until `re` matches the output after the previous match; returns the match. */
  async expect(re: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.text.slice(this.pos);
      const m = new RegExp(re.source, re.flags.replace('g', '')).exec(rest);
      if (m) { this.pos += m.index + m[0].length; return m; }
      if (this.exited) throw this.failure(`gdb exited (${JSON.stringify(this.exited)}) before printing ${re}`);
      const left = deadline - Date.now();
      if (left <= 0) throw this.failure(`timed out after ${timeoutMs} ms waiting for ${re}`);
      await new Promise<void>(r => {
        const t = setTimeout(r, left);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  /** Wait for the prompt (after the previous match); returns the text before it. */
  async prompt(timeoutMs = 10_000): Promise<string> {
    const start = this.pos;
    await this.expect(/\(gdb\) /, timeoutMs);
    return this.text.slice(start, this.pos - PROMPT.length);
  }

  /** Type a command and return what it printed (without the echoed command and the prompt). */
  async cmd(line: string, timeoutMs = 10_000): Promise<string> {
    // (every caller consumes the prompt of the previous command, so none is outstanding here)
    this.pos = this.text.length;
    this.send(line);
    const out = await this.prompt(timeoutMs);
    // drop the echo of the typed line
    const nl = out.indexOf('\n');
    return nl >= 0 && out.slice(0, nl).trim() === line.trim() ? out.slice(nl + 1) : out;
  }

  /** The end of the transcript and the context (the vmxray side) for error messages. */
  failure(what: string): Error {
    const ctx = this.context();
    return new Error(`${what}\n--- gdb (last 3000 characters) ---\n${this.text.slice(-3000)}\n${ctx ? `--- ${ctx}` : ''}`);
  }

  kill(): void {
    if (!this.exited) { try { this.p.kill('SIGKILL'); } catch { /* gone */ } }
  }
}
