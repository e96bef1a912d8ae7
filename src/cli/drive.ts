/**
 * QEMU-style `-drive file=PATH,if=ide,index=N,format=raw|qcow2[,write=on]` parsing.
 * Commas inside the file name are written doubled, as QEMU does (`file=a,,b.img`).
 */
export interface DriveSpec { file: string; index: number; format?: 'raw' | 'qcow2'; write: boolean }

export class UsageError extends Error {}

export function parseDrive(spec: string, nextIndex: number): DriveSpec {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < spec.length; i++) {
    if (spec[i] === ',' && spec[i + 1] === ',') { cur += ','; i++; }
    else if (spec[i] === ',') { parts.push(cur); cur = ''; }
    else cur += spec[i];
  }
  parts.push(cur);
  const kv = new Map<string, string>();
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq < 0) { if (!kv.has('file') && parts.length === 1) kv.set('file', p); else throw new UsageError(`-drive: '${p}' is not key=value`); continue; }
    kv.set(p.slice(0, eq), p.slice(eq + 1));
  }
  const file = kv.get('file');
  if (!file) throw new UsageError(`-drive ${spec}: file= is required`);
  const iface = kv.get('if') ?? 'ide';
  if (iface !== 'ide') throw new UsageError(`-drive ${spec}: only if=ide is emulated (got if=${iface})`);
  const index = kv.has('index') ? Number(kv.get('index')) : nextIndex;
  if (!Number.isInteger(index) || index < 0 || index > 3) throw new UsageError(`-drive ${spec}: index must be 0–3 (primary master/slave, secondary master/slave)`);
  const format = kv.get('format');
  if (format !== undefined && format !== 'raw' && format !== 'qcow2') throw new UsageError(`-drive ${spec}: format must be raw or qcow2`);
  const w = kv.get('write') ?? 'off';
  if (w !== 'on' && w !== 'off') throw new UsageError(`-drive ${spec}: write must be on or off`);
  for (const k of kv.keys()) if (!['file', 'if', 'index', 'format', 'write', 'media'].includes(k)) throw new UsageError(`-drive ${spec}: unknown option ${k}`);
  return { file, index, format: format as DriveSpec['format'], write: w === 'on' };
}

/** `-m 64`, `-m 64M`, `-m 1G`, `-m 512k` → bytes (a bare number is MiB, as in QEMU). */
export function parseMemory(s: string | number): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgG]?)[bB]?$/.exec(String(s).trim());
  if (!m) throw new UsageError(`-m ${s}: expected a size like 64, 64M or 1G`);
  const n = Number(m[1]);
  const unit = m[2].toLowerCase();
  const bytes = Math.round(n * (unit === 'k' ? 1024 : unit === 'g' ? 1024 ** 3 : 1024 ** 2));
  if (bytes < 1024 * 1024 || bytes > 64 * 1024 ** 3) throw new UsageError(`-m ${s}: memory must be between 1 MiB and 64 GiB`);
  return bytes;
}
