import type { Debugger, Context } from '../src/debug/index.js';
import { entryFlags, fromCpuLinear, vmxSummary, vmcsDump, vmxCheck, eptWalkListing } from '../src/debug/index.js';
import { parseHex } from './framing.js';

/**
 * `monitor …` commands (gdb's qRcmd). Each returns text for the gdb console; `error` marks a
 * command gdb should report as failed.
 */
export interface MonitorResult { output: string; error?: boolean; quit?: boolean }

const VECTOR_ALIASES: Record<string, number> = {
  de: 0, db: 1, nmi: 2, bp: 3, of: 4, br: 5, ud: 6, nm: 7, df: 8, ts: 10, np: 11, ss: 12, gp: 13, pf: 14, mf: 16, ac: 17, mc: 18, xm: 19, ve: 20, cp: 21,
};
const VECTOR_NAMES = ['#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', '(9)', '#TS', '#NP', '#SS', '#GP', '#PF', '(15)', '#MF', '#AC', '#MC', '#XM', '#VE', '#CP'];

const HELP = `vmxray monitor commands:
  help                         this list
  info registers               the full system state (control, debug, descriptor-table, segment registers, MSRs)
  info tlb                     the software TLB: linear page -> physical page, per access kind
  walk <linear>                the page walk of a linear address, level by level
  phys on|off                  memory requests (x, p, set) address physical memory instead of linear
  icount                       instructions retired so far (virtual time)
  stepping irq on|off          deliver interrupts while single-stepping (default off, as QEMU)
  catch exception <v>|none     stop before delivering exception <v> (number or name: pf, gp, ud, de, ...);
                               reported as a signal: #PF/#GP -> SIGSEGV, #UD -> SIGILL, #DE -> SIGFPE, #BP/#DB -> SIGTRAP
  catch                        list the caught exceptions
  vmx                          VMX operation: root/non-root, VMXON region, current VMCS and its launch state
  vmx vmcs [text]              the current VMCS by field name (only fields whose name contains text)
  vmx check                    evaluate every VM-entry check on the current VMCS without entering
  vmx exits                    the most recent VM exits (reason, qualification, guest RIP)
  vmx ept <guest-physical>     the EPT walk of a guest-physical address under the current EPT pointer
  vmx break exit <reason>|all|none
                               stop after VM exits with this basic reason (number or name: cpuid, hlt, io,
                               ept-violation, …) or every exit; repeatable; none clears
  vmx break entry on|off       stop after each VM entry, at the guest's first instruction
  vmx stop-on-entry-failure on|off
                               stop after a VMLAUNCH/VMRESUME that fails, with the failed rule (default on)
  quit                         end vmxray`;

export function runMonitor(dbg: Debugger, line: string, env: { context: Context }): MonitorResult {
  const words = line.trim().split(/\s+/).filter(Boolean);
  const cmd = words.join(' ');
  const ctx = env.context;
  if (words.length === 0 || cmd === 'help') return { output: HELP };
  if (cmd === 'info registers' || cmd === 'info reg' || cmd === 'info regs') return { output: systemState(ctx) };
  if (cmd === 'info tlb') return { output: tlbListing(dbg) };
  if (words[0] === 'walk') {
    if (words.length !== 2) return { output: 'usage: walk <linear address>', error: true };
    const a = parseHex(words[1].replace(/^0x/i, ''));
    if (a === null) return { output: `not an address: ${words[1]}`, error: true };
    return { output: walkListing(ctx, a) };
  }
  if (words[0] === 'phys') {
    if (words[1] === 'on' || words[1] === 'off') { dbg.physical = words[1] === 'on'; return { output: `memory requests address ${dbg.physical ? 'physical' : 'linear'} memory` }; }
    return { output: `memory requests address ${dbg.physical ? 'physical' : 'linear'} memory (phys on|off)` };
  }
  if (cmd === 'icount') return { output: `${dbg.machine.clock.icount} instructions retired` };
  if (words[0] === 'stepping' && words[1] === 'irq') {
    if (words[2] === 'on' || words[2] === 'off') dbg.maskIrqWhileStepping = words[2] === 'off';
    else if (words.length > 2) return { output: 'usage: stepping irq on|off', error: true };
    return { output: `single steps ${dbg.maskIrqWhileStepping ? 'hold interrupts back' : 'deliver interrupts'}` };
  }
  if (words[0] === 'catch') {
    if (words.length === 1) return { output: caughtList(dbg) };
    if (words[1] !== 'exception' || words.length !== 3) return { output: 'usage: catch exception <vector>|none', error: true };
    const w = words[2].toLowerCase().replace(/^#/, '');
    if (w === 'none') { dbg.caught.clear(); return { output: 'no exception is caught' }; }
    let v = VECTOR_ALIASES[w];
    if (v === undefined) { const n = Number(w); if (Number.isInteger(n) && n >= 0 && n < 32) v = n; }
    if (v === undefined) return { output: `not an exception vector: ${words[2]}`, error: true };
    dbg.caught.add(v);
    return { output: caughtList(dbg) };
  }
  if (words[0] === 'vmx' && (words.length === 1 || words[1] === 'info')) return { output: vmxSummary(dbg.machine) };
  if (words[0] === 'vmx' && words[1] === 'vmcs') return { output: vmcsDump(dbg.machine, words.slice(2).join(' ')) };
  if (cmd === 'vmx check') return { output: vmxCheck(dbg.machine) };
  if (cmd === 'vmx exits') return { output: dbg.exits.listing() };
  if (words[0] === 'vmx' && words[1] === 'ept') {
    const a = words.length === 3 ? parseHex(words[2].replace(/^0x/i, '')) : null;
    if (a === null) return { output: 'usage: vmx ept <guest-physical address>', error: true };
    return { output: eptWalkListing(dbg.machine, a) };
  }
  if (words[0] === 'vmx' && words[1] === 'break') return vmxBreak(dbg, words.slice(2));
  if (words[0] === 'vmx' && words[1] === 'stop-on-entry-failure') {
    if (words[2] === 'on' || words[2] === 'off') dbg.stopOnEntryFailure = words[2] === 'on';
    else if (words.length > 2) return { output: 'usage: vmx stop-on-entry-failure on|off', error: true };
    return { output: `a failed VM entry ${dbg.stopOnEntryFailure ? 'stops' : 'does not stop'} the machine` };
  }
  if (cmd === 'quit' || cmd === 'q') return { output: 'vmxray: quitting', quit: true };
  return { output: `unknown monitor command: ${cmd} (try "monitor help")`, error: true };
}

const EXIT_ALIASES: Record<string, number> = {
  exception: 0, nmi: 0, 'external-interrupt': 1, interrupt: 1, 'triple-fault': 2, 'interrupt-window': 7, 'nmi-window': 8,
  'task-switch': 9, cpuid: 10, hlt: 12, invd: 13, invlpg: 14, rdpmc: 15, rdtsc: 16, vmcall: 18, cr: 28, 'cr-access': 28,
  dr: 29, 'mov-dr': 29, io: 30, rdmsr: 31, wrmsr: 32, 'entry-failure': 33, 'msr-loading': 34, mwait: 36, mtf: 37,
  monitor: 39, pause: 40, 'tpr-below-threshold': 43, gdtr: 46, idtr: 46, ldtr: 47, tr: 47, 'ept-violation': 48,
  'ept-misconfig': 49, invept: 50, rdtscp: 51, 'preemption-timer': 52, invvpid: 53, wbinvd: 54, xsetbv: 55, invpcid: 58,
};

function vmxBreak(dbg: Debugger, args: string[]): MonitorResult {
  const show = () => {
    const x = dbg.breakOnExit;
    const exits = x === null ? 'no VM exit' : x === 'all' ? 'every VM exit' : `VM exits with reason ${[...x].sort((a, b) => a - b).join(', ')}`;
    return { output: `the machine stops after ${exits}${dbg.breakOnEntry ? ' and after each VM entry' : ''}` };
  };
  if (args.length === 0) return show();
  if (args[0] === 'entry' && (args[1] === 'on' || args[1] === 'off') && args.length === 2) { dbg.breakOnEntry = args[1] === 'on'; return show(); }
  if (args[0] === 'exit' && args.length === 2) {
    const w = args[1].toLowerCase();
    if (w === 'none') { dbg.breakOnExit = null; return show(); }
    if (w === 'all') { dbg.breakOnExit = 'all'; return show(); }
    const n = EXIT_ALIASES[w] ?? (/^(0x[0-9a-f]+|\d+)$/.test(w) ? Number(w) : NaN);
    if (!(n >= 0 && n <= 0xffff)) return { output: `not an exit reason: ${args[1]} (a number, or cpuid, hlt, io, cr, rdmsr, wrmsr, ept-violation, …)`, error: true };
    if (dbg.breakOnExit === null || dbg.breakOnExit === 'all') dbg.breakOnExit = new Set();
    dbg.breakOnExit.add(n);
    return show();
  }
  return { output: 'usage: vmx break exit <reason>|all|none, vmx break entry on|off', error: true };
}

function caughtList(dbg: Debugger): string {
  if (dbg.caught.size === 0) return 'no exception is caught (only a triple fault stops)';
  return 'caught before delivery: ' + [...dbg.caught].sort((a, b) => a - b).map(v => `${VECTOR_NAMES[v] ?? v} (${v})`).join(', ');
}

const h = (v: bigint | null, w = 16) => v === null ? '?' : '0x' + v.toString(16).padStart(w, '0');

function systemState(ctx: Context): string {
  const r = (n: string) => ctx.readRegister(n);
  const L: string[] = [];
  L.push(`context ${ctx.id}: ${ctx.name}`);
  L.push(`rip ${h(r('rip'))}  rflags ${h(r('eflags'), 8)}  rsp ${h(r('rsp'))}`);
  L.push(`cr0 ${h(r('cr0'), 8)}  cr2 ${h(r('cr2'))}  cr3 ${h(r('cr3'))}  cr4 ${h(r('cr4'), 8)}  cr8 ${h(r('cr8'), 1)}  efer ${h(r('efer'), 8)}`);
  L.push(`gdtr ${h(r('gdtr_base'))} limit ${h(r('gdtr_limit'), 4)}   idtr ${h(r('idtr_base'))} limit ${h(r('idtr_limit'), 4)}`);
  for (const s of ['cs', 'ss', 'ds', 'es', 'fs', 'gs', 'ldtr', 'tr']) {
    L.push(`${s.padEnd(4)} ${h(r(s === 'ldtr' || s === 'tr' ? s : s), 4)}  base ${h(r(`${s}_base`))}  limit ${h(r(`${s}_limit`), 8)}  attr ${h(r(`${s}_attr`), 5)}`);
  }
  L.push(`k_gs_base ${h(r('k_gs_base'))}  fs_base ${h(r('fs_base'))}  gs_base ${h(r('gs_base'))}`);
  L.push(`dr0 ${h(r('dr0'))}  dr1 ${h(r('dr1'))}  dr2 ${h(r('dr2'))}  dr3 ${h(r('dr3'))}  dr6 ${h(r('dr6'), 8)}  dr7 ${h(r('dr7'), 8)}`);
  return L.join('\n');
}

function walkListing(ctx: Context, a: bigint): string {
  const w = ctx.walk(a);
  const L = [`walk of ${h(a)} (${w.mode} paging)`];
  for (const l of w.levels) {
    const v = (BigInt(l.hi) << 32n) | BigInt(l.lo);
    L.push(`  ${l.name.padEnd(6)} at ${h(BigInt(l.entryAddr), 10)} = ${h(v)}  [${entryFlags(l.lo, l.hi)}]`);
  }
  if (w.pa === null) L.push(`  -> no translation: ${w.why}`);
  else L.push(`  -> physical ${h(BigInt(w.pa), 10)} (${sizeName(w.pageSize)} page${w.mode === 'none' ? '' : `, ${w.writable ? 'writable' : 'read-only'}, ${w.user ? 'user' : 'supervisor'}${w.nx ? ', no-execute' : ''}`})`);
  return L.join('\n');
}
const sizeName = (s: number) => s >= 2 ** 30 ? `${s / 2 ** 30} GiB` : s >= 2 ** 20 ? `${s / 2 ** 20} MiB` : `${s / 1024} KiB`;

function tlbListing(dbg: Debugger): string {
  const cpu = dbg.machine.cpu;
  const names = ['read/supervisor', 'read/user', 'write/supervisor', 'write/user', 'fetch/supervisor', 'fetch/user'];
  // one TLB per translation context (src/vmx/tlb-contexts.ts): root, VPID 0000H guests, each VPID
  const ctx = cpu.tlbContexts;
  const contexts = ctx === null ? [{ label: 'root', tlb: cpu.rootTlb }] : [
    { label: 'root', tlb: ctx.root.tlb }, { label: 'guests without VPID (VPID 0000H)', tlb: ctx.vpid0.tlb },
    ...ctx.guests.map(g => ({ label: `VPID ${g.vpid}${g.ept ? `, EPTP ${h((BigInt(g.eptHi >>> 0) << 32n) | BigInt(g.eptLo >>> 0))}` : ''}`, tlb: g.tlb })),
  ];
  const L: string[] = ['software TLB (valid entries: linear page -> physical page)'];
  for (const c of contexts) {
    L.push(`context ${c.label}${c.tlb === cpu.tlb ? ' (active)' : ''}:`);
    c.tlb.sets.forEach((s, k) => {
      const e: string[] = [];
      for (let i = 0; i < s.tag.length; i++) {
        const t = s.tag[i];
        if (t !== Math.floor(t)) continue; // empty slot
        e.push(`    ${h(fromCpuLinear(t))} -> ${h(BigInt(s.ppage[i]) * 4096n, 10)}${s.global[i] ? ' G' : ''}`);
      }
      if (e.length === 0) return;
      L.push(`  ${names[k]}: ${e.length} entries`, ...e.slice(0, 64));
      if (e.length > 64) L.push(`    ... ${e.length - 64} more`);
    });
  }
  return L.join('\n');
}
