import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine } from '../../src/machine/index.js';
import { openDisk } from '../../src/disk/index.js';
import { runUntil } from './helpers/run-until.js';

/**
 * Our own OS in CI (issue 3): examples/minikernel boots with an IDE disk, and we type shell
 * commands through the PS/2 keyboard and check what it prints on port 0xE9 and the VGA screen,
 * and what it wrote to the disk overlay (the image file itself stays untouched).
 */
const EX = join(dirname(fileURLToPath(import.meta.url)), '../../examples/minikernel');


describe('minikernel on vmxray', () => {
  it('boots, runs shell commands typed on the keyboard, reads and writes its disk', () => {
    const imagePath = join(EX, 'disk.img');
    const before = readFileSync(imagePath);
    const disk = openDisk(imagePath, { format: 'raw' });
    const m = new Machine({ memory: 32 * 1024 * 1024, disks: [disk] });
    m.boot(readFileSync(join(EX, 'minikernel.elf')));
    let pos = runUntil(m, 'mini> ', 0);
    expect(m.debugLog).toContain('minikernel booting');
    expect(m.debugLog).toMatch(/disk: ata0 master .* 2048 sectors/);

    const type = (line: string) => { m.kbc.typeText(line + '\n'); };
    type('echo Hello, World!');
    pos = runUntil(m, 'mini> ', pos);
    expect(m.debugLog).toContain('\nHello, World!\n');

    type('read 1');
    pos = runUntil(m, 'mini> ', pos);
    expect(m.debugLog).toContain('text: hello from the disk');

    type('write 2 written by the guest');
    pos = runUntil(m, 'mini> ', pos);
    expect(m.debugLog).toContain('wrote 20 bytes to sector 2');
    type('read 2');
    pos = runUntil(m, 'mini> ', pos);
    expect(m.debugLog).toContain('text: written by the guest');

    // the write is in the overlay, not in the user's file
    const sector2 = disk.read(2, 1);
    expect(Buffer.from(sector2.subarray(0, 20)).toString()).toBe('written by the guest');
    expect(readFileSync(imagePath).equals(before)).toBe(true);

    // the screen shows the same session
    expect(m.vga.text().join('\n')).toContain('mini> read 2');

    type('exit 5');
    runUntil(m, 'exit 5', pos);
    const r = m.runFor(10_000_000);
    expect(r.reason).toBe('exit');
    expect(r.exitCode).toBe(11);
  });
});
