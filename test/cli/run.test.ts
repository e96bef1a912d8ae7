import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

/** `vmxray run` as a user runs it: a real process, its output and exit status. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
function vmxray(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT, encoding: 'utf8', input, timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('vmxray run', () => {
  it('runs the built-in demo kernel when given no kernel, and exits 0 when it does', () => {
    const r = vmxray(['run']);
    expect(r.stdout).toContain('an x86-64 PC with VMX and EPT');
    expect(r.stdout).toContain('100 ticks later: 1 s of virtual time has passed');
    expect(r.stderr).toMatch(/isa-debug-exit: exit code 1/);
    expect(r.status).toBe(0);
  });

  it('passes the guest debug-exit code through as the exit status, and types stdin on the keyboard', () => {
    const r = vmxray(['run', '-kernel', 'examples/minikernel/minikernel.elf',
      '-drive', 'file=examples/minikernel/disk.img,if=ide,index=0', '--quiet'], 'echo typed from stdin\nexit 4\n');
    expect(r.stdout).toContain('typed from stdin');
    expect(r.status).toBe(9); // (4 << 1) | 1, as QEMU's isa-debug-exit
  });

  it('says clearly what is wrong with a file that is not a kernel, without a stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmxray-'));
    try {
      const f = join(dir, 'notes.txt');
      writeFileSync(f, 'hello, this is text\n');
      const r = vmxray(['run', '-kernel', f]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('not a loadable kernel');
      expect(r.stderr).toContain('text');
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
    } finally { rmSync(dir, { recursive: true }); }
  });

  it('rejects a malformed -drive and a missing image with a message', () => {
    let r = vmxray(['run', '-drive', 'file=x.img,if=scsi']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('only if=ide');
    r = vmxray(['run', '-drive', 'file=/nonexistent/disk.img,if=ide,index=0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/nonexistent\/disk\.img/);
  });

  it('--trace-exceptions names each exception with its vector, RIP and CR2', () => {
    const r = vmxray(['run', '-kernel', 'examples/minikernel/minikernel.elf', '--trace-exceptions', '--debugcon', 'none',
      '--max-instructions', '100000000', '--quiet'], 'crash\n');
    expect(r.stderr).toMatch(/exception vector 14 code 0x0 at 0x[0-9a-f]+ cr2 0x0*deadbeef/);
  });

  it('stops at --max-instructions and reports it', () => {
    const r = vmxray(['run', '-kernel', 'examples/minikernel/minikernel.elf', '--max-instructions', '100000']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/100,000 instructions/);
  });

  it('never writes the user image unless asked', () => {
    const img = join(ROOT, 'examples/minikernel/disk.img');
    const before = readFileSync(img);
    vmxray(['run', '-kernel', 'examples/minikernel/minikernel.elf', '-drive', `file=${img},if=ide,index=0`, '--quiet'], 'write 3 overwritten\nexit 0\n');
    expect(readFileSync(img).equals(before)).toBe(true);
  });
});

describe('vmxray run serial ports', () => {
  it('sends COM1 to a file and serves it over TCP on 127.0.0.1 (QEMU tcp::PORT,server)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmxray-'));
    try {
      const out = join(dir, 'com1.txt');
      const r = vmxray(['run', '-kernel', 'examples/minikernel/minikernel.elf', '-serial', `file:${out}`, '--debugcon', 'none', '--quiet'], 'exit 1\n');
      expect(r.status).toBe(3);
      expect(readFileSync(out, 'utf8')).toContain('minikernel booting');
    } finally { rmSync(dir, { recursive: true }); }

    const { spawn } = await import('node:child_process');
    const { connect } = await import('node:net');
    const port = 40000 + Math.floor(Math.random() * 20000);
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', '-kernel', 'examples/minikernel/minikernel.elf',
      '-serial', `tcp::${port},server`, '--debugcon', 'none', '--timeout', '20', '--quiet'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'ignore'] });
    try {
      const text = await new Promise<string>((resolve, reject) => {
        let acc = '';
        const tryConnect = (left: number) => {
          const sock = connect({ host: '127.0.0.1', port });
          sock.on('data', d => { acc += d.toString(); if (acc.includes('mini> ')) { sock.write('exit 0\r'); resolve(acc); sock.end(); } });
          sock.on('error', () => { sock.destroy(); if (left > 0) setTimeout(() => tryConnect(left - 1), 200); else reject(new Error('no server')); });
        };
        tryConnect(50);
      });
      expect(text).toContain('minikernel booting');
    } finally { child.kill(); }
  });
});
