import type { Machine } from '../machine/index.js';
import { FIELDS, fieldName, type VmcsField } from '../vmx/fields.js';
import { fieldSupported } from '../vmx/caps.js';
import { evaluate, buildView, vmxrayCaps, describeOutcome } from '../vmx/checks/index.js';
import { processorState } from '../vmx/entry.js';
import { eptTranslate, eptWalk, EptWalk, EPT_READ, EPTF_PEEK } from '../vmx/ept.js';
import { exitReasonName } from '../vmx/exit-reasons.js';
import * as F from '../vmx/fields.js';

/**
 * The VMX side of the debugger: what `monitor vmx …` shows — VMX operation, the current VMCS by
 * field name (the one field table, src/vmx/fields.ts), the VM-entry checks evaluated on it
 * without entering, EPT walks, and the most recent VM exits.
 */
export interface ExitRecord { icount: number; reason: number; qualification: bigint; guestRip: bigint; guestPhysical: bigint }

const hex = (v: bigint | number, w = 0) => '0x' + v.toString(16).padStart(w, '0');

/** Remembers the last `size` VM exits (a cheap observer on the VMX transition hook). */
export class ExitHistory {
  private readonly ring: ExitRecord[] = [];
  entries = 0;
  exits = 0;
  constructor(private readonly m: Machine, private readonly size = 32) {
    const v = m.cpu.vmx;
    if (!v) return;
    const prev = v.onTransition;
    v.onTransition = (kind, reason) => {
      prev?.(kind, reason);
      if (kind === 'entry') { this.entries++; return; }
      this.exits++;
      const c = v.current;
      if (!c) return;
      const r64 = (enc: number) => (BigInt(c.readHi(enc) >>> 0) << 32n) | BigInt(c.read(enc) >>> 0);
      this.ring.push({ icount: m.clock.icount, reason, qualification: r64(F.EXIT_QUALIFICATION), guestRip: r64(F.GUEST_RIP), guestPhysical: r64(F.GUEST_PHYSICAL_ADDRESS) });
      if (this.ring.length > this.size) this.ring.shift();
    };
  }
  recent(): readonly ExitRecord[] { return this.ring; }
  /** The last exit in one line (reason, qualification, guest RIP). */
  describeLast(): string {
    const e = this.ring[this.ring.length - 1];
    if (!e) return 'none yet';
    return `${exitReasonName(e.reason)}, qualification ${hex(e.qualification)}, guest RIP ${hex(e.guestRip)}` +
      ((e.reason & 0xffff) === 48 || (e.reason & 0xffff) === 49 ? `, guest-physical ${hex(e.guestPhysical)}` : '');
  }
  listing(): string {
    if (this.ring.length === 0) return `no VM exit yet (${this.entries} VM entries)`;
    const L = [`${this.entries} VM entries, ${this.exits} VM exits; the last ${this.ring.length}:`];
    for (const e of this.ring) {
      L.push(`  [${e.icount}] ${exitReasonName(e.reason)}  qualification ${hex(e.qualification)}  guest RIP ${hex(e.guestRip)}` +
        ((e.reason & 0xffff) === 48 || (e.reason & 0xffff) === 49 ? `  guest-physical ${hex(e.guestPhysical)}` : ''));
    }
    return L.join('\n');
  }
}

export function vmxSummary(m: Machine): string {
  const v = m.cpu.vmx;
  if (!v || !v.on) return 'not in VMX operation (no VMXON yet, or after VMXOFF)';
  const L = [`in VMX ${v.nonRoot ? 'non-root' : 'root'} operation; VMXON region ${hex(v.vmxonPtr)}`];
  const c = v.current;
  if (!c) L.push('no current VMCS (VMPTRLD one)');
  else L.push(`current VMCS ${hex(v.currentPtr)}, launch state ${c.launched ? 'launched' : 'clear'}`);
  return L.join('\n');
}

const GROUPS: [VmcsField['type'], string][] = [['control', 'control fields'], ['guest', 'guest-state area'], ['host', 'host-state area'], ['exit-info', 'VM-exit information (read-only)']];

/** The current VMCS by field name; `filter` keeps fields whose name contains it. */
export function vmcsDump(m: Machine, filter = ''): string {
  const v = m.cpu.vmx, c = v?.current;
  if (!v || !c) return 'no current VMCS';
  const f = filter.toLowerCase();
  const L: string[] = [`VMCS at ${hex(v.currentPtr)} (${c.launched ? 'launched' : 'clear'})`];
  for (const [type, title] of GROUPS) {
    const rows = FIELDS.filter(x => x.type === type && fieldSupported(x) && (!f || x.name.toLowerCase().includes(f)));
    if (rows.length === 0) continue;
    L.push(`${title}:`);
    for (const x of rows) {
      const val = (BigInt(c.readHi(x.enc) >>> 0) << 32n) | BigInt(c.read(x.enc) >>> 0);
      const w = x.width === 16 ? 4 : x.width === 32 ? 8 : 16;
      L.push(`  ${fieldName(x.enc).padEnd(58)} ${hex(val, w)}`);
    }
  }
  return L.join('\n');
}

/** Evaluate every VM-entry rule on the current VMCS, as the next VMLAUNCH/VMRESUME would, without entering. */
export function vmxCheck(m: Machine): string {
  const v = m.cpu.vmx, c = v?.current;
  if (!v || !v.on || !c) return 'no current VMCS to check';
  const launch = !c.launched;
  const ev = evaluate(buildView(c, vmxrayCaps(), processorState(m.cpu, v, launch), m.bus), { all: true });
  const insn = launch ? 'VMLAUNCH' : 'VMRESUME';
  if (!ev.failed) return `${insn} would enter the guest: every VM-entry check passes`;
  const all = [ev.failed, ...ev.others];
  const L = [`${insn} would fail: ${describeOutcome(ev.failed.outcome)}`, `${all.length} rule(s) fail:`];
  for (const f of all) L.push(`  ${f.rule.id} — "${f.rule.section}": ${f.message}`);
  return L.join('\n');
}

/** The EPT walk of a guest-physical address under the current VMCS's EPT pointer (no A/D writes). */
export function eptWalkListing(m: Machine, gpa: bigint): string {
  const c = m.cpu.vmx?.current;
  if (!c) return 'no current VMCS';
  const lo = c.read(F.EPT_POINTER), hi = c.readHi(F.EPT_POINTER);
  if (gpa >= 1n << 52n) return `guest-physical address ${hex(gpa)} is beyond 52 bits`;
  const r = eptTranslate(m.bus, lo, hi, Number(gpa), EPT_READ, { peek: true });
  const head = `EPT walk of guest-physical ${hex(gpa)} (EPTP ${hex((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0))})`;
  if (r.kind === 'ok') {
    const w = new EptWalk();
    eptWalk(m.bus, lo, hi, Number(gpa), EPT_READ, EPTF_PEEK, w);
    return `${head}\n${w.describe()}\n  -> host-physical ${hex(r.hpa)} (${r.pageSize >= 2 ** 30 ? '1 GiB' : r.pageSize >= 2 ** 21 ? '2 MiB' : '4 KiB'} page)`;
  }
  if (r.kind === 'violation') return `${head}\n${r.walk}\n  -> EPT violation for a read (qualification ${hex(r.qualification)})`;
  return `${head}\n${r.walk}\n  -> EPT misconfiguration: ${r.reason}`;
}
