import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI's side of failed VM entries: the console line, --vmx-explain, --stop-on-vmentry-failure. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
function vmxray(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', '-kernel', 'test/kernels/vmx/bin/vmxfail.elf', '--quiet', ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('vmxray run with a hypervisor whose VM entries fail', () => {
  it('prints each failed VM entry with its rule, SDM section title and values, and runs on', () => {
    const r = vmxray([]);
    expect(r.stderr).toMatch(/vmxray: VMLAUNCH failed: VMfailValid\(7\): VM entry with invalid control field\(s\)\n {2}rule ctl\.pin\.allowed1 — SDM Vol\. 3C, "Checks on VM-Execution Control Fields"/);
    expect(r.stderr).toMatch(/guest TR type is 3; an IA-32e mode guest needs 11 \(busy 64-bit TSS\)/);
    expect(r.stderr).toMatch(/VMRESUME failed: VMfailValid\(5\)/);
    expect(r.stderr).not.toMatch(/other failing rules/);
    expect(r.status).toBe(1); // the kernel's own exit: isa-debug-exit 0 → code 1
  });
  it('--vmx-explain=all still explains each failure (every vmxfail case breaks exactly one rule, so none lists others)', () => {
    const r = vmxray(['--vmx-explain=all']);
    expect(r.stderr).toMatch(/rule guest\.link\.revision/);
    expect(r.stderr).not.toMatch(/other failing rules/);
  });
  it('--vmx-explain=off prints nothing about VM entries', () => {
    expect(vmxray(['--vmx-explain=off']).stderr).not.toMatch(/VMLAUNCH failed/);
  });
  it('--stop-on-vmentry-failure ends the run at the first failure with exit status 3', () => {
    const r = vmxray(['--stop-on-vmentry-failure']);
    expect(r.status).toBe(3);
    expect(r.stdout).not.toMatch(/host-cr4-vmxe-clear/); // the second case never ran
  });
  it('counts VM entries and exits in the summary line', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', '-kernel', 'test/kernels/vmx/bin/vmxbasic.elf'], {
      cwd: ROOT, encoding: 'utf8', timeout: 120_000,
    });
    expect(r.stdout).toMatch(/PASS/);
    expect(r.stderr).toMatch(/instructions in [\d.]+ s \([\d.]+ MIPS\); \d+ VM entries and exits\n/);
  });
});
