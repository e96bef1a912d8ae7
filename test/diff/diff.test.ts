/**
 * Differential tests: every case recorded on a real CPU (test/diff/fixtures/*.json, made by
 * `npm run gen:diff`) is run through vmxray's runSnippet and must end in the same state:
 * GPRs, RIP, RFLAGS (minus the flags the SDM leaves undefined for that case), xmm0-15, MXCSR,
 * the data window, and the exception vector.
 *
 * One `it` per fixture file; it runs every case and fails with the first mismatches.
 *   DIFF_FILTER=<regex>   only cases whose name, disassembly or bytes match
 *   DIFF_MAX=<n>          how many mismatching cases to list (default 20)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { SnippetResult, SnippetState } from '../../src/cpu/snippet-types.js';
import { runSnippet as runSnippetImpl } from '../../src/cpu/snippet.js';
import { big, compareResults, expectedResult, hexToBytes, initialState, type Fixture } from './fixture.js';

/** The contract src/cpu/snippet.ts implements. */
type RunSnippet = (code: Uint8Array, state: SnippetState, opts?: { jit?: boolean }) => SnippetResult;

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(here, 'fixtures');

const runSnippet: RunSnippet | undefined = runSnippetImpl;

const filter = process.env.DIFF_FILTER ? new RegExp(process.env.DIFF_FILTER) : undefined;
const maxListed = Number(process.env.DIFF_MAX ?? 20);

const files = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((n) => n.endsWith('.json')).sort() : [];
const fixtures: Fixture[] = files.map((n) => JSON.parse(readFileSync(join(FIXTURES, n), 'utf8')));

describe('differential fixtures', () => {
  it('exist and are well-formed', () => {
    expect(fixtures.length).toBeGreaterThan(0);
    for (const f of fixtures) {
      const names = new Set<string>();
      for (const c of f.cases) {
        expect(names.has(c.name), `${f.family}: duplicate case name ${c.name}`).toBe(false);
        names.add(c.name);
        expect(c.bytes.length % 2, `${f.family}: ${c.name}: bytes`).toBe(0);
        initialState(f, c);
        expectedResult(f, c);
      }
    }
  });
});

// Every case runs twice: interpreted, and as a block compiled by src/cpu/jit.ts (whose inlined
// instructions must match the host exactly as the handlers do).
for (const jit of [false, true]) describe.skipIf(!runSnippet)(`runSnippet matches the host CPU${jit ? ' (block compiler)' : ''}`, () => {
  it('src/cpu/snippet.ts exports runSnippet', () => {
    expect(typeof runSnippet).toBe('function');
  });
  for (const f of fixtures) {
    describe(f.family, () => {
      it(`${f.cases.length} cases: ${f.description}`, () => {
        const failures: string[] = [];
        let failed = 0, ran = 0;
        for (const c of f.cases) {
          if (filter && !filter.test(c.name) && !filter.test(c.asm) && !filter.test(c.bytes)) continue;
          ran++;
          const init = initialState(f, c);
          const want = expectedResult(f, c);
          let diffs: string[];
          try {
            const got = runSnippet!(hexToBytes(c.bytes), init, { jit });
            diffs = compareResults(want, got, c.flagsMask ? big(c.flagsMask) : 0n, c.ignore ?? []);
          } catch (e) {
            // the message, and where it came from (helps with TypeErrors inside the CPU)
            const where = e instanceof Error ? (e.stack ?? '').split('\n').find((l) => /^\s+at /.test(l))?.trim() : undefined;
            diffs = [`threw: ${e instanceof Error ? e.message : String(e)}${where ? ` (${where})` : ''}`];
          }
          if (diffs.length) {
            failed++;
            if (failures.length < maxListed) {
              failures.push(`${c.name}  [${c.asm}]  bytes ${c.bytes}\n    ${diffs.join('\n    ')}`);
            }
          }
        }
        if (failed) {
          throw new Error(
            `${f.family}: ${failed} of ${ran} cases differ from the host CPU; the first ${failures.length}:\n\n` +
              failures.join('\n\n') + '\n',
          );
        }
      });
    });
  }
});
