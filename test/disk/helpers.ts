import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';

const made: string[] = [];
/** Remove every directory tmpDir() made (call from afterAll). */
export function removeTmpDirs(): void {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** A fresh temporary directory; test files remove them with afterAll(removeTmpDirs). */
export function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vmxray-disk-'));
  made.push(d);
  return d;
}

export function sha(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function has(tool: string): boolean {
  const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}
export const HAS_QEMU_IMG = has('qemu-img');
export const HAS_QEMU_IO = has('qemu-io');

export function run(tool: string, args: string[]): void {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${r.stderr}`);
}
