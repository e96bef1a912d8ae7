import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** A free TCP port on the loopback interface (bind to port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * `vmxray run -S --gdb tcp::PORT -kernel K --display none` as a child process (the CLI through
 * tsx, as `npx tsx src/cli/main.ts` runs it, without npx's extra process). stdout is the guest's
 * port-0xE9 console, stderr vmxray's own messages.
 */
export class VmxrayProcess {
  stdout = '';
  stderr = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private waiters: (() => void)[] = [];
  private constructor(readonly proc: ChildProcess, readonly port: number) {
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => { this.stdout += d; this.wake(); });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; this.wake(); });
    proc.on('exit', (code, signal) => { this.exit = { code, signal }; this.wake(); });
  }

  static async start(kernel: string, extra: string[] = []): Promise<VmxrayProcess> {
    const port = await freePort();
    const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', '-S', '--gdb', `tcp::${port}`,
      '-kernel', kernel, '--display', 'none', ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const vm = new VmxrayProcess(proc, port);
    await vm.waitFor(() => /gdb server on 127\.0\.0\.1:\d+/.test(vm.stderr), 30_000, 'the gdb server to listen');
    return vm;
  }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  async waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (this.exit && !cond()) {
        // give the pipes a moment to deliver the last output
        await new Promise(r => setTimeout(r, 50));
        if (cond()) return;
        throw new Error(`vmxray exited (${JSON.stringify(this.exit)}) while waiting for ${what}\n${this.transcript()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.transcript()}`);
      await new Promise<void>(r => { const t = setTimeout(r, Math.min(left, 200)); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  /** Wait until the guest console matches `re` (searching all of it). */
  waitForConsole(re: RegExp, timeoutMs = 20_000): Promise<void> {
    return this.waitFor(() => re.test(this.stdout), timeoutMs, `${re} on the guest console`);
  }

  async waitForExit(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    await this.waitFor(() => this.exit !== null, timeoutMs, 'vmxray to exit');
    return this.exit!;
  }

  transcript(): string {
    return `vmxray stderr:\n${this.stderr.slice(-2000)}\nguest console (last 1000 characters):\n${this.stdout.slice(-1000)}`;
  }

  kill(): void {
    if (!this.exit) this.proc.kill('SIGKILL');
  }
}
