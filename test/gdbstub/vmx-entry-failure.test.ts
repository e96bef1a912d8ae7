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

describe('monitor vmx: the VMCS by field name, the entry checks, recent exits, EPT walks', () => {
  it('shows the failing rule with `vmx check`, fields with `vmx vmcs`, and exits with `vmx exits`', async () => {
    const { dbg } = boot();
    const { client } = RspClient.onSession(dbg);
    dbg.attached = true;
    await client.handshake();
    await client.request('vCont;c', 20_000); // stopped after the first failed VMLAUNCH (reserved pin-based bit)
    const info = await client.monitor('vmx');
    expect(info.output).toMatch(/in VMX root operation; VMXON region 0x[0-9a-f]+\ncurrent VMCS 0x[0-9a-f]+, launch state clear/);
    const check = await client.monitor('vmx check');
    expect(check.output).toMatch(/VMLAUNCH would fail: VMfailValid\(7\)/);
    expect(check.output).toMatch(/ctl\.pin\.allowed1 — "Checks on VM-Execution Control Fields"/);
    const pin = await client.monitor('vmx vmcs pin-based');
    expect(pin.output).toMatch(/pin-based vm-execution controls \(0x4000\) +0x80000016/i);
    expect(pin.output).not.toMatch(/guest rip/i);
    // the baseline case before it entered and left the guest through VMCALL (exit reason 18)
    const exits = await client.monitor('vmx exits');
    expect(exits.output).toMatch(/1 VM entries, 1 VM exits/);
    expect(exits.output).toMatch(/18 \(VMCALL\) +qualification 0x0 +guest RIP 0x[0-9a-f]+/);
    await client.request('vCont;c', 20_000); // host CR4
    await client.request('vCont;c', 20_000); // guest TR unusable: a VM-entry failure exit
    const exits2 = await client.monitor('vmx exits');
    expect(exits2.output).toMatch(/33 \(VM-entry failure due to invalid guest state\), VM-entry failure \(bit 31\)/);
  });

  it('walks EPT for a guest-physical address with `vmx ept`', async () => {
    const m = new Machine({ memory: 32 * 1024 * 1024 });
    m.boot(readFileSync('test/kernels/vmx/bin/vmxguest32.elf'));
    const dbg = new Debugger(m);
    // run until the guest has exited to the hypervisor a few times (EPT is on then)
    while (dbg.exits.exits < 2) {
      const ev = await dbg.resume({ kind: 'continue' }, { maxInstructions: 20_000 });
      expect(ev.kind).toBe('limit');
    }
    const { client } = RspClient.onSession(dbg);
    await client.handshake();
    const r = await client.monitor('vmx ept 0x1000');
    expect(r.output).toMatch(/EPT walk of guest-physical 0x1000/);
    expect(r.output).toMatch(/-> host-physical 0x1000 /);
    const bad = await client.monitor('vmx ept zz');
    expect(bad.reply).toMatch(/^E/);
  });
});

describe('the context says where the processor is', () => {
  it('names VMX root and non-root operation (qThreadExtraInfo, monitor info registers)', async () => {
    const m = new Machine({ memory: 32 * 1024 * 1024 });
    m.boot(readFileSync('test/kernels/vmx/bin/vmxbasic.elf'));
    const dbg = new Debugger(m);
    expect(dbg.root.name).toBe('cpu0 (not in VMX operation)');
    let sawRoot = false;
    for (let i = 0; i < 2_000 && !m.cpu.vmx!.on; i++) await dbg.resume({ kind: 'continue' }, { maxInstructions: 500 });
    for (let i = 0; i < 100_000 && !m.cpu.vmx!.nonRoot; i++) {
      if (m.cpu.vmx!.on) sawRoot ||= dbg.root.name === 'cpu0 (VMX root operation)';
      await dbg.resume({ kind: 'step' });
    }
    expect(sawRoot).toBe(true);
    expect(m.cpu.vmx!.nonRoot).toBe(true);
    expect(dbg.root.name).toMatch(/^cpu0 \(VMX non-root operation: the guest of VMCS 0x[0-9a-f]+\)$/);
    const { client } = RspClient.onSession(dbg);
    await client.handshake();
    const r = await client.monitor('info registers');
    expect(r.output).toMatch(/context 1: cpu0 \(VMX non-root operation/);
    // one TLB per translation context: after a guest instruction its context holds the fetch entry
    await client.request('vCont;s');
    const t = await client.monitor('info tlb');
    expect(t.output).toMatch(/^context root( \(active\))?:$/m);
    expect(t.output).toMatch(/^context (guests without VPID \(VPID 0000H\)|VPID \d+[^\n]*)( \(active\))?:\n( {2}[a-z/]+: \d+ entries\n( {4}[^\n]+\n)*)* {2}fetch\/supervisor: [1-9]\d* entries/m);
    expect(t.output).toMatch(/\(active\):/);
  });
});

describe('monitor vmx break: stop at VM exits and entries', () => {
  it('stops after a CPUID exit at the host RIP, and after the next VM entry at the guest instruction', async () => {
    const m = new Machine({ memory: 32 * 1024 * 1024 });
    m.boot(readFileSync('test/kernels/vmx/bin/vmxbasic.elf'));
    const dbg = new Debugger(m);
    const { client } = RspClient.onSession(dbg);
    dbg.attached = true;
    await client.handshake();
    expect((await client.monitor('vmx break exit cpuid')).output).toMatch(/stops after VM exits with reason 10/);
    expect((await client.monitor('vmx break exit bogus')).reply).toMatch(/^E/);
    client.console = '';
    const stop = parseStop(await client.request('vCont;c', 20_000));
    expect(stop.signal).toBe(5);
    expect(client.console).toMatch(/VM exit: 10 \(CPUID\), qualification 0x0, guest RIP 0x[0-9a-f]+/);
    const v = m.cpu.vmx!;
    expect(v.nonRoot).toBe(false);
    expect(m.cpu.rip).toBe(v.current!.read64n(0x6c16));               // HOST_RIP: the handler's first instruction
    expect(v.current!.read(0x4402) & 0xffff).toBe(10);                // exit reason CPUID
    await client.monitor('vmx break exit none');
    await client.monitor('vmx break entry on');
    client.console = '';
    await client.request('vCont;c', 20_000);
    expect(client.console).toMatch(/VM entry: the guest starts at 0x[0-9a-f]+/);
    expect(v.nonRoot).toBe(true);
    expect(m.cpu.rip).toBe(v.current!.read64n(0x681e));               // GUEST_RIP as loaded by the entry
  });
});
