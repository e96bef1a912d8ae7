import type { PhysBus } from '../memory/index.js';
import { cString } from './bytes.js';
import { memLowerKiB, memUpperKiB, pcMemoryMap, type MemoryRegion } from './e820.js';
import type { InfoInput } from './info.js';
import { kernelEnd, planKernel, writeKernel, type KernelImage } from './kernel.js';
import { MemoryPlan } from './layout.js';
import { STACK_SIZE, STACK_TOP_SLACK, planBootInfo, planModules, planStack } from './place.js';
import type { BootOptions, EntryState } from './types.js';

/**
 * The shared second half of every protocol: plan the kernel's segments, the modules, the boot
 * information and the stack; only when all of it fits, write it to guest memory and describe
 * the entry state. `buildInfo` lays out the protocol's boot information for a base address
 * (omit it for a bare ELF boot, which passes no information).
 */
export interface Handoff {
  protocol: EntryState['protocol'];
  /** EAX at entry: the boot loader magic. */
  magic: number;
  buildInfo?: (base: number, inp: InfoInput) => Uint8Array;
}

export function loadAndHandOff(bus: PhysBus, k: KernelImage, opts: BootOptions, h: Handoff): EntryState {
  const ramSize = bus.ram.size;
  const map: MemoryRegion[] = pcMemoryMap(ramSize);
  const plan = new MemoryPlan(map, ramSize);

  planKernel(plan, k);
  const modules = planModules(plan, opts.modules ?? [], kernelEnd(k));
  let info: { base: number; inp: InfoInput; size: number } | undefined;
  if (h.buildInfo) {
    const inp: InfoInput = {
      cmdline: cString(opts.cmdline ?? '', 'the kernel command line'),
      bootloaderName: cString(opts.bootloaderName ?? 'vmxray', 'the boot loader name'),
      modules: modules.map(m => ({ start: m.start, end: m.end, cmdline: m.cmdline })),
      map,
      memLower: memLowerKiB(map),
      memUpper: memUpperKiB(map),
    };
    const size = h.buildInfo(0, inp).length;
    info = { base: planBootInfo(plan, size), inp, size };
  }
  const stackBase = planStack(plan);

  // Everything fits: commit.
  writeKernel(bus, k);
  for (const m of modules) if (m.data.length) bus.writeBytes(m.start, m.data);
  if (info && h.buildInfo) bus.writeBytes(info.base, h.buildInfo(info.base, info.inp));

  const state: EntryState = {
    protocol: h.protocol,
    eip: k.entry >>> 0,
    eax: h.magic >>> 0,
    ebx: info ? info.base : 0,
    esp: stackBase + STACK_SIZE - STACK_TOP_SLACK,
    segments: k.segments.map(s => ({ paddr: s.paddr, memsz: s.memsz, filesz: s.data.length })),
    modules: modules.map(m => {
      const o: { start: number; end: number; cmdline: string; name?: string } = { start: m.start, end: m.end, cmdline: m.text };
      if (m.name !== undefined) o.name = m.name;
      return o;
    }),
    stack: { base: stackBase, size: STACK_SIZE },
  };
  if (info) state.bootInfo = { paddr: info.base, size: info.size };
  if (k.entryVirtual !== undefined) state.entryVirtual = k.entryVirtual;
  return state;
}
