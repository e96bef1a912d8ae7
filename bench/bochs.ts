/**
 * The same workloads on Bochs (optional: only when `bochs` is on PATH). Bochs boots
 * bochs-boot.bin from a floppy through its BIOS; the workload and iteration count are patched
 * into the image's "VXBPARAM" block. A run is timed from process start to exit, so each
 * figure is the difference of two runs with different iteration counts: Bochs's start-up
 * and BIOS boot cancel out.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOCHS_BOOT, VMX_BOCHS, parseChecksum, patchParams, type Workload } from './workloads.js';

const FLOPPY_BYTES = 1_474_560;
/** Disk geometry of the VMX kernel's image (its boot sector, test/kernels/vmx/bochs/boot.S, reads with INT 13h extensions). */
const CYLINDER_BYTES = 16 * 63 * 512;
/** A Bochs CPU model with VMX and EPT (as test/kernels/vmx/run-bochs.sh uses). */
const VMX_CPU = 'corei7_skylake_x';
/** Debug-enabled Bochs builds (Debian's) stop at a debugger prompt first: continue, then quit. */
const DEBUGGER_INPUT = 'c\nquit\n';

export interface BochsRun {
  iterations: number;
  seconds: number;
  checksum: string | null;
  /** The tail of Bochs's output when the run did not print a checksum. */
  error?: string;
}

/** Is a usable Bochs installed? Returns null, or a sentence why not. */
export function bochsMissing(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v bochs'], { encoding: 'utf8' });
  if (r.status !== 0) return '`bochs` is not on PATH';
  if (!findRom('BIOS-bochs-latest')) return 'the Bochs BIOS (BIOS-bochs-latest, package bochsbios) is not installed';
  if (!findVgaRom()) return 'no VGA BIOS (package vgabios) found';
  return null;
}

function shareDirs(): string[] {
  return [process.env.BXSHARE, '/usr/share/bochs', '/usr/local/share/bochs'].filter((d): d is string => !!d);
}
function findRom(name: string): string | null {
  for (const d of shareDirs()) if (existsSync(join(d, name))) return join(d, name);
  return null;
}
function findVgaRom(): string | null {
  return findRom('VGABIOS-lgpl-latest') ?? (existsSync('/usr/share/vgabios/vgabios.bin') ? '/usr/share/vgabios/vgabios.bin' : null);
}

export class Bochs {
  private readonly dir = mkdtempSync(join(tmpdir(), 'vmxray-bench-bochs-'));
  private readonly boot = new Uint8Array(readFileSync(BOCHS_BOOT));
  private readonly paramOff: number;
  private vmxBoot: Uint8Array | null = null;
  /** Debian's Bochs has no 'nogui' display plugin; RFB without waiting for a client works everywhere. */
  private display = 'nogui';

  constructor() {
    this.paramOff = Buffer.from(this.boot).indexOf('VXBPARAM');
    if (this.paramOff < 0) throw new Error(`${BOCHS_BOOT} has no VXBPARAM block (rebuild with make -C bench/kernels)`);
  }

  private writeConfig(image: string, log: string, vmx: boolean, cylinders: number): string {
    const rc = join(this.dir, 'bochsrc');
    writeFileSync(rc, [
      'megs: 32',
      `romimage: file=${findRom('BIOS-bochs-latest')}`,
      `vgaromimage: file=${findVgaRom()}`,
      ...(vmx
        ? [`ata0-master: type=disk, path=${image}, mode=flat, cylinders=${cylinders}, heads=16, spt=63`, 'boot: disk']
        : [`floppya: 1_44=${image}, status=inserted`, 'boot: floppy']),
      // a 64-bit CPU model (with VMX and EPT for the hypervisor kernel); ips only scales
      // Bochs's timers (sync=none: run as fast as possible)
      `cpu: model=${vmx ? VMX_CPU : 'corei7_sandy_bridge_2600k'}, count=1, ips=100000000`,
      'clock: sync=none',
      this.display === 'rfb' ? 'display_library: rfb, options="timeout=0"' : 'display_library: nogui',
      // no sound: Debian's build aborts in its mixer thread when there is no sound card
      'speaker: enabled=0',
      'sound: driver=dummy',
      `log: ${log}`,
      'port_e9_hack: enabled=1',
      'panic: action=fatal',
      'error: action=report',
      'info: action=ignore',
      'debug: action=ignore',
      '',
    ].join('\n'));
    return rc;
  }

  /** Run `w` for `iterations` on Bochs; wall time of the whole Bochs process. */
  run(w: Workload, iterations: number, timeoutMs = 120_000): BochsRun {
    const vmx = w.kernel === 'vmx';
    let img: Uint8Array;
    if (vmx) {
      // boot sector + flat hypervisor kernel, padded to whole cylinders (at least 4, as mkimg.py)
      this.vmxBoot ??= new Uint8Array(readFileSync(VMX_BOCHS));
      const boot = patchParams(this.vmxBoot, w, iterations);
      img = new Uint8Array(Math.max(4, Math.ceil(boot.length / CYLINDER_BYTES)) * CYLINDER_BYTES);
      img.set(boot);
    } else {
      img = new Uint8Array(FLOPPY_BYTES);
      img.set(this.boot);
      const dv = new DataView(img.buffer);
      dv.setUint32(this.paramOff + 8, w.id, true);
      dv.setUint32(this.paramOff + 12, iterations, true);
    }
    const image = join(this.dir, vmx ? 'disk.img' : 'floppy.img');
    writeFileSync(image, img);
    for (let attempt = 0; attempt < 2; attempt++) {
      const rc = this.writeConfig(image, join(this.dir, 'bochs.log'), vmx, img.length / CYLINDER_BYTES);
      // stdin from a file, not a pipe: with no VNC client, Bochs's RFB display sends its screen
      // updates to fd 0, and on Node's socketpair stdin that blocks Bochs for good
      const input = join(this.dir, 'debugger-input');
      writeFileSync(input, DEBUGGER_INPUT);
      const fd = openSync(input, 'r');
      let r;
      const t0 = process.hrtime.bigint();
      try {
        r = spawnSync('bochs', ['-q', '-f', rc], { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
      } finally { closeSync(fd); }
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
      if (this.display === 'nogui' && /display library 'nogui' not available/.test(out)) { this.display = 'rfb'; continue; }
      const checksum = parseChecksum(out);
      if (checksum) return { iterations, seconds, checksum };
      const tail = out.split('\n').filter(l => l.trim() && !/^ALSA|^\d{11}i\[/.test(l)).slice(-6).join('\n');
      return { iterations, seconds, checksum: null, error: r.error ? `${r.error.message} after ${seconds.toFixed(0)} s` : tail };
    }
    return { iterations, seconds: 0, checksum: null, error: 'no usable display library' };
  }

  dispose(): void { rmSync(this.dir, { recursive: true, force: true }); }
}
