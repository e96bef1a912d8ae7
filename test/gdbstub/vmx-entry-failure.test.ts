import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/machine/index.js';
import { Debugger } from '../../src/debug/index.js';
import { RspClient, parseStop } from './helpers/client.js';

/**
 * A failed VM entry reaches gdb as a stop with the explanation (DESIGN.md "The VM-entry checks"):
 * the vmxfail test kernel (test/kernels/vmx) tries broken VMCS setups one after another; with a
 * client attached each failure stops the machine after the VMLAUNCH/VMRESUME, gdb's console gets
 * the failed rule (id, SDM section title, the offending values) and a SIGTRAP stop.
 */
function boot(): { m: Machine; dbg: Debugger } {
  const m = new Machine({ memory: 32 * 1024 * 1024 });
  m.boot(readFileSync('test/kernels/vmx/bin/vmxfail.elf'));
  const dbg = new Debugger(m);
  return { m, dbg };
}

describe('a failed VM entry stops gdb with the named rule', () => {
  it('stops after the VMLAUNCH with the rule, the SDM section and the values, and goes on to the next failure', async () => {
    const { dbg } = boot();
    const { client } = RspClient.onSession(dbg);
    dbg.attached = true; // (the TCP server sets this when gdb connects)
    await client.handshake();
    client.console = '';
    const first = parseStop(await client.request('vCont;c', 20_000));
    expect(first.kind).toBe('T');
    expect(first.signal).toBe(5);
    // the first broken setup sets a reserved pin-based control bit: VMfailValid(7)
    expect(client.console).toMatch(/VMLAUNCH failed: VMfailValid\(7\)/);
    expect(client.console).toMatch(/rule ctl\.pin\.allowed1 — SDM Vol\. 3C, "Checks on VM-Execution Control Fields"/);
    expect(client.console).toMatch(/pin-based VM-execution controls 0x80000016/);
    client.console = '';
    await client.request('vCont;c', 20_000);
    expect(client.console).toMatch(/rule host\.cr4\.fixed0/);
    client.console = '';
    await client.request('vCont;c', 20_000);
    expect(client.console).toMatch(/exit reason 33 \(0x80000021, invalid guest state\)/);
    expect(client.console).toMatch(/rule guest\.tr\.unusable/);
  });

  it('does not stop with `monitor vmx stop-on-entry-failure off`: the kernel runs to its end', async () => {
    const { dbg, m } = boot();
    const { client } = RspClient.onSession(dbg);
    dbg.attached = true;
    await client.handshake();
    const r = await client.monitor('vmx stop-on-entry-failure off');
    expect(r.output).toMatch(/does not stop/);
    const stop = await client.request('vCont;c', 30_000);
    expect(stop).toMatch(/^W01;process:1$/); // isa-debug-exit with 0 = exit code (0 << 1) | 1: every case passed
    expect(m.debugLog).toMatch(/done 16\/16/);
  });

  it('does not stop while no client is attached (a free-running machine)', async () => {
    const { dbg, m } = boot();
    const ev = await dbg.resume({ kind: 'continue' });
    expect(ev.kind).toBe('exited');
    expect(m.debugLog).toMatch(/done 16\/16/);
  });
});
