/**
 * Regenerate fixtures.json from the real CPU: `npx tsx test/cpu/x87-native/generate.ts` on an
 * x86-64 Linux host with gcc (and SSE3, for FISTTP). Compiles oracle.c, runs every case of
 * cases.ts through it and records vector, RAX, RFLAGS, the FNSAVE image and the data buffer.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCases } from './cases.js';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(mkdtempSync(join(tmpdir(), 'x87-oracle-')), 'oracle');
execFileSync('gcc', ['-O1', '-o', bin, join(here, 'oracle.c')]);
const cases = buildCases();
const out = execFileSync(bin, { input: cases.map(c => `${c.code}|${c.data}`).join('\n') + '\n' }).toString().trim().split('\n');
if (out.length !== cases.length) throw new Error(`oracle gave ${out.length} lines for ${cases.length} cases`);
/** Hex strings are stored with runs of 12 or more zero digits written as `z<count>.` (unpacked by the test). */
const pack = (h: string) => h.replace(/0{12,}/g, z => `z${z.length}.`);
const fixtures = cases.map((c, i) => {
  const [vector, rax, rflags, save, data] = out[i].split(' ');
  return { ...c, data: pack(c.data), expect: { vector: Number(vector), rax, rflags, save: pack(save), data: pack(data) } };
});
const cpu = cpus()[0]?.model ?? 'unknown';
writeFileSync(join(here, 'fixtures.json'), JSON.stringify({ cpu, cases: fixtures }, null, 0).replace(/\},\{"name"/g, '},\n{"name"') + '\n');
console.log(`${fixtures.length} cases from ${cpu}`);
