#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runCommand } from './run.js';

/** The vmxray command line (the composition root). */
const argv = hideBin(process.argv);
const cli = yargs(argv)
  .scriptName('vmxray')
  .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': true })
  .command('run', 'boot a multiboot kernel on the emulated PC (no arguments: the built-in demo)', y => y
    .option('kernel', { type: 'string', describe: 'multiboot (v1 or v2) kernel: ELF32, ELF64 or a.out-kludge image' })
    .option('initrd', { type: 'string', array: true, describe: 'module file(s), comma-separated as in QEMU' })
    .option('module', { type: 'string', array: true, describe: 'a module with its command line: "file args…" (repeatable)' })
    .option('append', { type: 'string', describe: 'kernel command line' })
    .option('m', { type: 'string', describe: 'RAM size (64, 64M, 1G; default 32M)' })
    .option('drive', { type: 'string', array: true, describe: 'file=PATH,if=ide,index=N[,format=raw|qcow2][,write=on]' })
    .option('disk-write', { type: 'boolean', default: false, describe: 'write guest disk writes into the image files (default: a copy-on-write overlay in memory)' })
    .option('serial', { type: 'string', array: true, describe: 'COM1 (repeat for COM2–COM4): stdio, file:PATH, tcp:HOST:PORT, tcp::PORT,server, none' })
    .option('debugcon', { type: 'string', describe: 'port 0xE9 console: stdio (default), file:PATH, tcp:HOST:PORT, none' })
    .option('display', { type: 'string', choices: ['vga', 'none'], describe: 'print the VGA text screen when the run ends (default: vga for the demo)' })
    .option('max-instructions', { type: 'number', describe: 'stop after this many instructions' })
    .option('timeout', { type: 'number', describe: 'stop after this many seconds of host time' })
    .option('ips', { type: 'number', describe: 'instructions per virtual second (default 50000000)' })
    .option('start-date', { type: 'string', describe: 'the date the RTC starts at (default 2026-01-01T00:00:00Z)' })
    .option('trace-exceptions', { type: 'boolean', default: false, describe: 'print every exception and software interrupt delivered (vector, error code, RIP, CR2)' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no summary line' })
    .option('feature-control', { type: 'string', choices: ['locked', 'unlocked'], describe: 'IA32_FEATURE_CONTROL at power-on: locked with VMX enabled (default, as firmware leaves it) or unlocked and 0' })
    .option('vmx-explain', { type: 'string', choices: ['first', 'all', 'off'], default: 'first', describe: 'failed VM entries: print the rule that decided the outcome (first), every rule that fails on that VMCS (all), or nothing' })
    .option('stop-on-vmentry-failure', { type: 'boolean', default: false, describe: 'end the run at the first failed VM entry (exit status 3)' })
    .option('s', { type: 'boolean', describe: 'gdb server on 127.0.0.1:1234 (as QEMU -s)' })
    .option('S', { type: 'boolean', describe: 'do not start the CPU: wait for gdb (as QEMU -S; implies -s unless --gdb is given)' })
    .option('gdb', { type: 'string', describe: 'gdb server address: tcp::PORT or tcp:HOST:PORT (default host 127.0.0.1)' })
    .example('vmxray run', 'boot the demo kernel')
    .example('vmxray run -kernel examples/minikernel/minikernel.elf -drive file=examples/minikernel/disk.img,if=ide,index=0', 'the minikernel with its disk (writes stay in memory)')
    .example('vmxray run -s -S -kernel kernel.x', 'wait for gdb: target remote 127.0.0.1:1234')
    .example('vmxray run -kernel kernel.x -initrd kernel.dbg -drive file=SWEB-flat.vmdk,if=ide,index=0,format=raw -m 8', 'SWEB'),
  async a => { process.exitCode = await runCommand(a as never); })
  .demandCommand(1, 'name a command: run')
  .strict()
  .help();
await cli.parseAsync();
