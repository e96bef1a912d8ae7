import { describe, it, expect, afterEach } from 'vitest';
import { join } from 'node:path';
import { GdbPty, gdbAvailable, ptyAvailable } from './helpers/gdb-pty.js';
import { VmxrayProcess, ROOT } from './helpers/vmxray.js';

/**
 * End-to-end: the real gdb (in a pseudo-terminal, as a user types) against `vmxray run -S --gdb`
 * running test/kernels/highhalf, a SWEB-like kernel linked at 0xffffffff80100000 and loaded at
 * 1 MiB (sources and the meaning of every symbol used here: test/kernels/highhalf/highhalf.c).
 * vmxray boots the ELF32 `highhalf.x` (what SWEB's `kernel.x` is); gdb loads the ELF64
 * `highhalf.elf` with DWARF. Assertions are on gdb's own output text.
 */
const KDIR = join(ROOT, 'test/kernels/highhalf');
const KERNEL = join(KDIR, 'highhalf.x');
const SYMBOLS = join(KDIR, 'highhalf.elf');
const KERNEL_VMA = 0xffffffff80000000n;
const UNMAPPED = '0xffffffff80400000';
/** The kernel writes 0x10 to isa-debug-exit: status 0x21 = 33, which gdb prints in octal. */
const EXIT_STATUS = 33;
const GDB_EXIT = /\[Inferior 1 \(process 1\) exited with code 041\]/;

const HAVE_GDB = gdbAvailable() && ptyAvailable();
if (!HAVE_GDB) {
  console.warn(gdbAvailable()
    ? 'test/gdb/e2e.test.ts: SKIPPED — the node-pty native module does not load (npm install builds it; needs python3, make, g++)'
    : 'test/gdb/e2e.test.ts: SKIPPED — no `gdb` on PATH (apt-get install gdb; .ci/run installs it)');
}

let vm: VmxrayProcess | null = null;
const gdbs: GdbPty[] = [];

afterEach(() => {
  for (const g of gdbs.splice(0)) g.kill();
  vm?.kill();
  vm = null;
});

async function startVm(): Promise<VmxrayProcess> {
  vm = await VmxrayProcess.start(KERNEL);
  return vm;
}

/** gdb with the kernel's symbols and a quiet, non-interactive-friendly setup. */
async function startGdb(args: string[] = [SYMBOLS]): Promise<GdbPty> {
  const g = new GdbPty(args, { cwd: ROOT }, () => vm?.transcript() ?? '');
  gdbs.push(g);
  await g.prompt(15_000);
  for (const c of ['set pagination off', 'set confirm off', 'set width 0', 'set height 0', 'set style enabled off']) await g.cmd(c);
  return g;
}

/** `target remote` to the running vmxray. */
async function attach(g: GdbPty, port: number): Promise<string> {
  return g.cmd(`target remote 127.0.0.1:${port}`, 15_000);
}

// Source file names in the expected output are written `(?:[\w/]*\/)?highhalf\.c`: gdb prints the
// path recorded in the DWARF (test/kernels/highhalf/highhalf.c, see the kernel's Makefile).
const hexOf = (out: string, re: RegExp): bigint => {
  const m = re.exec(out);
  if (!m) throw new Error(`no match for ${re} in:\n${out}`);
  return BigInt(m[1]);
};

describe.skipIf(!HAVE_GDB).sequential('gdb end to end (test/kernels/highhalf)', () => {
  it('a: attaches at the 32-bit entry, breaks in the high half before paging maps it, shows bt, CRs, EFER, memory and structs', async () => {
    const v = await startVm();
    const g = await startGdb();
    expect(await g.cmd('set architecture i386:x86-64')).toMatch(/The target architecture is set to "i386:x86-64"/);
    await attach(g, v.port);
    // still at the multiboot entry: 32-bit code at its physical address, paging off
    const rip = hexOf(await g.cmd('info registers rip'), /rip\s+(0x[0-9a-f]+)/);
    expect(rip).toBeLessThan(0x200000n);
    expect(await g.cmd('info registers cr0')).not.toMatch(/\bPG\b/);
    expect(await g.cmd('break startup')).toMatch(/Breakpoint 1 at 0xffffffff801[0-9a-f]{5}: file (?:[\w/]*\/)?highhalf\.c, line \d+\./);
    expect(await g.cmd('continue', 30_000)).toMatch(/Breakpoint 1, startup \(\) at (?:[\w/]*\/)?highhalf\.c:\d+/);

    // the recursion: startup -> run_tests -> compute(4) -> ... -> compute(0) -> leaf
    // (a conditional breakpoint: gdb resumes from it at compute(4..2) without a report)
    expect(await g.cmd('break compute if depth == 1')).toMatch(/Breakpoint 2 at 0xffffffff801[0-9a-f]{5}: file (?:[\w/]*\/)?highhalf\.c/);
    expect(await g.cmd('continue', 30_000)).toMatch(/Breakpoint 2, compute \(depth=1\) at (?:[\w/]*\/)?highhalf\.c:\d+/);
    const bt1 = await g.cmd('bt');
    expect(bt1).toMatch(/#0 +compute \(depth=1\) at (?:[\w/]*\/)?highhalf\.c:\d+\n#1 +0x\w+ in compute \(depth=2\)/);
    expect(bt1).toMatch(/#3 +0x\w+ in compute \(depth=4\) .*\n#4 +0x\w+ in run_tests \(\) .*\n#5 +0x\w+ in startup \(\)/);
    await g.cmd('delete 2');
    expect(await g.cmd('break leaf')).toMatch(/Breakpoint 3 at 0xffffffff801[0-9a-f]{5}: file (?:[\w/]*\/)?highhalf\.c/);
    const atLeaf = await g.cmd('continue', 30_000);
    expect(atLeaf).toMatch(/Breakpoint 3, leaf \(depth=0\) at (?:[\w/]*\/)?highhalf\.c:\d+/);
    expect(atLeaf).toMatch(/\n\d+\t    return depth \* 100;\n/); // the source line: DWARF's paths resolve from the repository root
    const bt = await g.cmd('bt');
    expect(bt).toMatch(/#0 +leaf \(depth=0\) at (?:[\w/]*\/)?highhalf\.c:\d+/);
    for (let d = 0; d <= 4; d++) expect(bt).toMatch(new RegExp(`#${d + 1} +0xffffffff801[0-9a-f]{5} in compute \\(depth=${d}\\) at (?:[\\w/]*\\/)?highhalf\\.c:\\d+`));
    expect(bt).toMatch(/#6 +0xffffffff801[0-9a-f]{5} in run_tests \(\) at (?:[\w/]*\/)?highhalf\.c:\d+/);
    expect(bt).toMatch(/#7 +0xffffffff801[0-9a-f]{5} in startup \(\) at (?:[\w/]*\/)?highhalf\.c:\d+/);
    expect(bt).toMatch(/#8 +0xffffffff801[0-9a-f]{5} in high_entry \(\) at (?:[\w/]*\/)?boot\.S:\d+\n$/); // the outermost frame

    const regs = await g.cmd('info registers cr0 cr3 cr4 efer');
    expect(regs).toMatch(/cr0 +0x80010031 +\[ PE ET NE WP PG \]/);
    expect(regs).toMatch(/cr3 +0x101000 /);
    expect(regs).toMatch(/cr4 +0x20 +\[ PAE \]/);
    expect(regs).toMatch(/efer +0x500 +\[ LME LMA \]/);
    expect(await g.cmd('p $efer')).toMatch(/\$\d+ = \[ LME LMA \]/);

    // the stack (after leaf's prologue: push rbp; mov rsp,rbp; sub $8,rsp): the third quadword
    // at RSP is the return address into compute(0) that bt showed
    const ret = hexOf(bt, /#1 +(0x[0-9a-f]+) in compute/);
    const x = (await g.cmd('x/8gx $rsp')).trim().split('\n');
    expect(x).toHaveLength(4);
    expect(x[0]).toMatch(/^0xffffffff8010[0-9a-f]{4}( <[^>]+>)?:\s/);
    expect(/:\s+(0x[0-9a-f]{16})\s/.exec(x[1])?.[1]).toBe('0x' + ret.toString(16).padStart(16, '0'));

    // SWEB's favourite: a struct through a global pointer
    expect(await g.cmd('p *currentThread->user_registers_')).toMatch(/\{rip = 134217728, rsp = 140737488351232, rflags = 514, rax = 42, rbx = 4660, rcx = 3, rdx = 4\}/);
    expect(await g.cmd('p currentThread->name_')).toMatch(/"init"/);
    await g.cmd('kill');
    expect((await v.waitForExit()).code).not.toBeNull();
  });

  it('b: watch, rwatch and awatch on a global written in a loop report old and new values', async () => {
    const v = await startVm();
    const g = await startGdb();
    await attach(g, v.port);
    await g.cmd('break count_loop');
    expect(await g.cmd('continue', 30_000)).toMatch(/Breakpoint 1, count_loop \(\)/);
    expect(await g.cmd('watch counter')).toMatch(/Hardware watchpoint 2: counter/);
    let out = await g.cmd('continue', 20_000);
    expect(out).toMatch(/Hardware watchpoint 2: counter\n\nOld value = 0\nNew value = 1\n/);
    expect(out).toMatch(/in count_loop \(\) at (?:[\w/]*\/)?highhalf\.c:\d+/);
    expect(await g.cmd('continue', 20_000)).toMatch(/Hardware watchpoint 2: counter\n\nOld value = 1\nNew value = 3\n/);
    await g.cmd('delete 2');

    expect(await g.cmd('rwatch counter')).toMatch(/Hardware read watchpoint 3: counter/);
    out = await g.cmd('continue', 20_000);
    expect(out).toMatch(/Hardware read watchpoint 3: counter\n\nValue = 3\n/);
    expect(out).toMatch(/in count_loop \(\)/);
    await g.cmd('delete 3');

    expect(await g.cmd('awatch counter')).toMatch(/Hardware access \(read\/write\) watchpoint 4: counter/);
    // the read of 3 has happened; the next access is the write of 3 + 3, then the read of 6
    expect(await g.cmd('continue', 20_000)).toMatch(/Hardware access \(read\/write\) watchpoint 4: counter\n\nOld value = 3\nNew value = 6\n/);
    expect(await g.cmd('continue', 20_000)).toMatch(/Hardware access \(read\/write\) watchpoint 4: counter\n\nValue = 6\n/);
    expect(await g.cmd('p counter')).toMatch(/\$\d+ = 6/);
    await g.cmd('delete');
    // without watchpoints the loop finishes and the kernel runs to its end
    expect(await g.cmd('continue', 30_000)).toMatch(GDB_EXIT);
    expect(v.stdout).toContain('highhalf: counter = 55');
    expect((await v.waitForExit()).code).toBe(EXIT_STATUS);
  });

  it('c: stepi holds a pending timer interrupt back; `monitor stepping irq on` steps into the handler', async () => {
    const v = await startVm();
    const g = await startGdb();
    await attach(g, v.port);
    // irq_window_asm is entered with IF=0 after the PIT has raised IRQ0 (the kernel polls the
    // PIC's IRR): STI, then NOPs — the interrupt is due as soon as IF=1.
    await g.cmd('break irq_window_asm');
    expect(await g.cmd('continue', 30_000)).toMatch(/Breakpoint 1, irq_window_asm \(\) at (?:[\w/]*\/)?isr\.S:\d+/);
    expect(await g.cmd('x/i $pc')).toMatch(/<irq_window_asm>:\s+sti/);
    expect(await g.cmd('p $eflags')).not.toMatch(/\bIF\b/);
    const ticks0 = await g.cmd('p ticks');
    await g.cmd('stepi');
    expect(await g.cmd('p $eflags')).toMatch(/\bIF\b/);
    for (let i = 0; i < 5; i++) {
      await g.cmd('stepi');
      expect(await g.cmd('info symbol $pc')).toMatch(/^irq_window_asm \+ \d+ in section \.text/);
    }
    // the handler never ran: ticks did not move
    expect((await g.cmd('p ticks')).replace(/\$\d+/, '')).toBe(ticks0.replace(/\$\d+/, ''));

    expect(await g.cmd('monitor stepping irq on')).toMatch(/single steps deliver interrupts/);
    let where = '';
    for (let i = 0; i < 4 && !/^timer_isr /.test(where); i++) {
      await g.cmd('stepi');
      where = await g.cmd('info symbol $pc');
    }
    expect(where).toMatch(/^timer_isr in section \.text/); // the handler's first instruction
    expect(await g.cmd('monitor stepping irq off')).toMatch(/single steps hold interrupts back/);
    await g.cmd('delete');
    expect(await g.cmd('continue', 30_000)).toMatch(GDB_EXIT);
    expect(v.stdout).toMatch(/highhalf: timer interrupts work, ticks = \d+/);
  });

  it('d: monitor walk, monitor info registers, monitor icount', async () => {
    const v = await startVm();
    const g = await startGdb();
    await attach(g, v.port);
    await g.cmd('break startup');
    await g.cmd('continue', 30_000);
    const addr = hexOf(await g.cmd('info address startup'), /is a function at address (0x[0-9a-f]+)\./);
    expect(addr >> 20n).toBe(0xffffffff801n);
    const walk = await g.cmd(`monitor walk 0x${addr.toString(16)}`);
    expect(walk).toMatch(/walk of 0xffffffff801[0-9a-f]{5} \(4-level paging\)/);
    expect(walk).toMatch(/PML4E +at 0x0000101ff8 = 0x0000000000103023 +\[P RW A\]/); // PML4[511]
    expect(walk).toMatch(/PDPTE +at 0x0000103ff0 = /);                                // PDPT[510]
    expect(walk).toMatch(/PDE +at 0x0000104000 = /);
    expect(walk).toMatch(/PTE +at 0x0000105[0-9a-f]{3} = 0x0000000000100[0-9a-f]{3} +\[P RW A( D)?\]/);
    const phys = addr - KERNEL_VMA;
    expect(walk).toContain(`-> physical 0x${phys.toString(16).padStart(10, '0')} (4 KiB page, writable, supervisor)`);
    // the second 2 MiB are one large page; above 4 MiB nothing is mapped
    const big = await g.cmd('monitor walk 0xffffffff80212345');
    expect(big).toMatch(/PDE +at 0x0000104008 = 0x0000000000200083 +\[P RW PS\]|PDE +at 0x0000104008 = 0x00000000002000[a-f0-9]3/);
    expect(big).not.toMatch(/\bPTE\b/);
    expect(big).toContain('-> physical 0x0000212345 (2 MiB page');
    expect(await g.cmd(`monitor walk ${UNMAPPED}`)).toMatch(/-> no translation: PDE not present/);

    const sys = await g.cmd('monitor info registers');
    expect(sys).toMatch(/rip 0xffffffff801[0-9a-f]{5}/);
    expect(sys).toMatch(/cr0 0x80010031 .*cr3 0x0000000000101000 .*efer 0x00000500/);
    expect(sys).toMatch(/cs +0x0008 +base 0x0000000000000000 +limit 0xffffffff +attr 0x0a09b/);

    const n1 = Number(/(\d+) instructions retired/.exec(await g.cmd('monitor icount'))![1]);
    expect(n1).toBeGreaterThan(0);
    await g.cmd('stepi');
    const n2 = Number(/(\d+) instructions retired/.exec(await g.cmd('monitor icount'))![1]);
    expect(n2).toBe(n1 + 1);
    // a hardware breakpoint (Z1) this time
    expect(await g.cmd('hbreak count_loop')).toMatch(/Hardware assisted breakpoint 2 at 0xffffffff801[0-9a-f]{5}: file (?:[\w/]*\/)?highhalf\.c/);
    expect(await g.cmd('continue', 30_000)).toMatch(/Breakpoint 2, count_loop \(\) at (?:[\w/]*\/)?highhalf\.c:\d+/);
    const n3 = Number(/(\d+) instructions retired/.exec(await g.cmd('monitor icount'))![1]);
    expect(n3).toBeGreaterThan(n2 + 100);
    // an unknown monitor command is an error, not silence
    expect(await g.cmd('monitor no-such-command')).toMatch(/unknown monitor command: no-such-command/);
  });

  it('e: detach lets the guest run on; gdb attaches again; a second gdb at the same time is refused', async () => {
    const v = await startVm();
    const g1 = await startGdb();
    await attach(g1, v.port);
    await g1.cmd('break run_tests');
    expect(await g1.cmd('continue', 30_000)).toMatch(/Breakpoint 1, run_tests \(\)/);
    await g1.cmd('set var heartbeats = 100000000'); // run (practically) forever
    // no heartbeat line yet: the ones that appear after the detach come from a guest running without gdb
    expect(v.stdout).not.toContain('heartbeat');
    expect(await g1.cmd('detach')).toMatch(/\[Inferior 1 \(process 1\) detached\]/);
    await v.waitForConsole(/highhalf: heartbeat 3 /);
    expect(v.exit).toBeNull();

    const g2 = await startGdb();
    await attach(g2, v.port);
    const rip = hexOf(await g2.cmd('info registers rip'), /rip +(0x[0-9a-f]+)/);
    expect(rip >> 20n).toBe(0xffffffff801n);
    expect(await g2.cmd('p heartbeats')).toMatch(/\$\d+ = 100000000/);
    // attached = stopped: the console stands still
    const before = v.stdout.length;
    await new Promise(r => setTimeout(r, 400));
    expect(v.stdout.length).toBe(before);

    // a third gdb while g2 is attached
    const g3 = await startGdb();
    const refused = await attach(g3, v.port);
    expect(refused).toMatch(/another gdb is already attached to this machine; detach it first/);
    expect(await g3.cmd('info registers rip')).toMatch(/The program has no registers now\./);
    // g2's session is unharmed
    expect(await g2.cmd('info registers rip')).toMatch(/rip +0xffffffff801[0-9a-f]{5}/);
    expect(await g2.cmd('kill')).toMatch(/\[Inferior 1 \(process 1\) killed\]/);
    await v.waitForExit();
    expect(v.stderr).toMatch(/refused a second client/);
  });

  it('e2: after a detach the guest runs to its end and vmxray exits with its status', async () => {
    const v = await startVm();
    const g = await startGdb();
    await attach(g, v.port);
    await g.cmd('break run_tests');
    await g.cmd('continue', 30_000);
    await g.cmd('watch counter'); // cleared by the detach: it must not stop the free-running guest
    expect(await g.cmd('detach')).toMatch(/\[Inferior 1 \(process 1\) detached\]/);
    expect((await v.waitForExit(30_000)).code).toBe(EXIT_STATUS);
    expect(v.stdout).toMatch(/highhalf: counter = 55\n[^]*highhalf: heartbeat 40 [^]*highhalf: done\n$/);
  });

  it("f: SWEB's gdbinit (break sweb_assert, break startup); page faults stop as SIGSEGV with CR2, and continuing delivers them", async () => {
    const v = await startVm();
    const g = await startGdb();
    // utils/gdbinit of SWEB, verbatim but for the port
    await g.cmd('set architecture i386:x86-64');
    await g.cmd(`target remote 127.0.0.1:${v.port}`, 15_000);
    expect(await g.cmd('break sweb_assert')).toMatch(/Breakpoint 1 at 0xffffffff801[0-9a-f]{5}: file (?:[\w/]*\/)?highhalf\.c/);
    expect(await g.cmd('break startup')).toMatch(/Breakpoint 2 at/);
    expect(await g.cmd('continue', 30_000)).toMatch(/Breakpoint 2, startup \(\) at (?:[\w/]*\/)?highhalf\.c:\d+/);
    // SWEB's stop_on_pagefault, plus the vmxray switch that reports #PF as SIGSEGV
    await g.cmd('handle SIGSEGV stop');
    expect(await g.cmd('monitor catch exception pf')).toMatch(/caught before delivery: #PF \(14\)/);
    const out = await g.cmd('continue', 30_000);
    expect(out).toMatch(/Program received signal SIGSEGV, Segmentation fault\.\npf_probe \(\) at (?:[\w/]*\/)?isr\.S:\d+/);
    expect(out).not.toMatch(/sweb_assert/);
    expect(await g.cmd('x/i $pc')).toMatch(/<pf_probe>:\s+mov\s+\(%rdi\),%rax/);
    expect(await g.cmd('p $cr2')).toMatch(new RegExp(`= \\(void \\*\\) ${UNMAPPED}`));
    expect(await g.cmd('info registers cr2')).toMatch(new RegExp(`cr2 +${UNMAPPED}`));
    expect(await g.cmd('p pf_count')).toMatch(/= 0/); // not delivered yet
    // continuing passes the fault to the guest: its handler records CR2 and skips the load
    expect(await g.cmd('continue', 30_000)).toMatch(GDB_EXIT);
    expect(v.stdout).toContain(`highhalf: page fault handled, cr2 = ${UNMAPPED}`);
    expect(v.stdout).not.toContain('assertion failed');
    expect((await v.waitForExit()).code).toBe(EXIT_STATUS);
  });

  it('f2: moving RIP past a caught page fault discards it, and the kernel then hits break sweb_assert', async () => {
    const v = await startVm();
    const g = await startGdb();
    await attach(g, v.port);
    await g.cmd('break startup');
    await g.cmd('continue', 30_000);
    // Set now that paging maps the high half: gdb reads the code to skip the prologue, so the
    // breakpoint lands after it and `what` is right. (Set at the 32-bit entry, as in f, gdb cannot
    // read the code and puts it on the first instruction, where the argument is not stored yet.)
    expect(await g.cmd('break sweb_assert')).toMatch(/Breakpoint 2 at/);
    await g.cmd('monitor catch exception pf');
    expect(await g.cmd('continue', 30_000)).toMatch(/Program received signal SIGSEGV/);
    await g.cmd('set var $pc = (long)&pf_probe_end');
    const out = await g.cmd('continue', 30_000);
    expect(out).toMatch(/Breakpoint 2, sweb_assert \(what=0xffffffff801[0-9a-f]{5} "no page fault"\) at (?:[\w/]*\/)?highhalf\.c:\d+/);
    expect(await g.cmd('bt')).toMatch(/in page_fault_phase \(\)/);
    expect(await g.cmd('continue', 30_000)).toMatch(/\[Inferior 1 \(process 1\) exited with code 03\]/);
    expect(v.stdout).toContain('highhalf: assertion failed: no page fault');
  });

  it('g: Ctrl-C stops the running guest with SIGINT; continue runs it to isa-debug-exit', async () => {
    const v = await startVm();
    const g = await startGdb();
    await attach(g, v.port);
    await g.cmd('break run_tests');
    await g.cmd('continue', 30_000);
    await g.cmd('set var heartbeats = 100000000');
    await g.cmd('delete');
    g.send('continue');
    await g.expect(/Continuing\./);
    await v.waitForConsole(/highhalf: heartbeat 2 /);
    g.interrupt();
    const out = await g.prompt(10_000);
    expect(out).toMatch(/Program received signal SIGINT, Interrupt\./);
    expect(await g.cmd('info registers rip')).toMatch(/rip +0xffffffff801[0-9a-f]{5}/);
    const n = Number(/= (\d+)/.exec(await g.cmd('p ticks'))![1]);
    expect(n).toBeGreaterThan(0);
    // finish after the current heartbeat
    await g.cmd('set var heartbeats = 0');
    expect(await g.cmd('continue', 30_000)).toMatch(GDB_EXIT);
    expect(v.stdout).toMatch(/highhalf: done\n$/);
    expect((await v.waitForExit()).code).toBe(EXIT_STATUS);
  });
});
