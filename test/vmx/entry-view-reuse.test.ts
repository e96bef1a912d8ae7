/**
 * VM entry decodes each VMCS into one EntryView per CPU that it refills (checks/view.ts
 * EntryViewImpl, entry.ts) instead of building a new one: nothing of a previous VMCS may leak into
 * the next evaluation. A refilled view must give exactly what a fresh view gives — the same
 * outcome, the same failing rules in the same order, the same messages.
 */
import { describe, it, expect } from 'vitest';
import * as F from '../../src/vmx/fields.js';
import { ENTRY } from '../../src/vmx/controls.js';
import { buildView, decodeCaps, evaluate, EntryViewImpl, type Evaluation } from '../../src/vmx/checks/index.js';
import { long64, realUnrestricted, protUnrestricted, pae32, v86, withMsrLoad, type Env } from './helpers/valid-vmcs.js';

function summary(ev: Evaluation): unknown {
  return {
    outcome: ev.outcome,
    failed: ev.failed && { id: ev.failed.rule.id, message: ev.failed.message },
    others: ev.others.map((o) => ({ id: o.rule.id, message: o.message })),
  };
}

/** Valid setups and broken ones, so that the sequence alternates between passing and failing views. */
function setups(): [string, Env][] {
  const linkBad = long64();
  linkBad.vmcs.write(F.VMCS_LINK_POINTER, 0x9000, 0);  // a page without the VMCS revision id
  const trBad = long64();
  trBad.vmcs.write(F.GUEST_TR_ACCESS_RIGHTS, 0x83);   // busy 16-bit TSS in an IA-32e guest
  const notIa32e = long64();
  notIa32e.vmcs.write(F.VM_ENTRY_CONTROLS, notIa32e.vmcs.read(F.VM_ENTRY_CONTROLS) & ~ENTRY.IA32E_MODE_GUEST);
  const msr = long64();
  withMsrLoad(msr, [[0x174, 0, 0], [0xc0000080, 0x500, 1]]); // 2nd entry: IA32_EFER with bit 32 set
  return [
    ['long64', long64()], ['link pointer without revision', linkBad], ['real-mode unrestricted', realUnrestricted()],
    ['TR type 3 in IA-32e', trBad], ['protected unrestricted', protUnrestricted()], ['PAE 32-bit', pae32()],
    ['virtual-8086', v86()], ['IA-32e guest control clear', notIa32e], ['MSR-load area', msr], ['long64 again', long64()],
  ];
}

describe('the refilled VM-entry view', () => {
  for (const all of [false, true]) {
    it(`decodes every VMCS of a sequence exactly as a fresh view does (${all ? 'every failing rule' : 'first failure'})`, () => {
      const shared = new EntryViewImpl();
      const list = setups();
      let failing = 0;
      for (const [name, e] of [...list, ...list.slice().reverse()]) {
        const fresh = evaluate(buildView(e.vmcs, e.caps, e.cpu, e.mem), { all });
        const reused = evaluate(shared.fill(e.vmcs, decodeCaps(e.caps), e.cpu, e.mem), { all });
        expect(summary(reused), name).toEqual(summary(fresh));
        if (fresh.failed) failing++;
      }
      // the sequence really mixes passing and failing VMCSs (else it would prove little)
      expect(failing).toBeGreaterThanOrEqual(6);
      expect(failing).toBeLessThan(2 * list.length);
    });
  }
});
