import type { CPU } from '../cpu.js';
import { MODE_REAL, MODE_V86 } from '../cpu.js';
import { CpuFault } from '../fault.js';
import { setSome, getCF } from '../flags.js';
import { CF, DF, IF, AC, IOPL, GP, CR4_SMAP, UD } from '../regs.js';

/** CLC STC CMC CLD STD CLI STI CLAC STAC (SDM Vol. 2). */
function clc(cpu: CPU): void { setSome(cpu.lf, CF, 0); }
function stc(cpu: CPU): void { setSome(cpu.lf, CF, CF); }
function cmc(cpu: CPU): void { setSome(cpu.lf, CF, getCF(cpu.lf) ? 0 : CF); }
function cld(cpu: CPU): void { cpu.eflags &= ~DF; }
function std(cpu: CPU): void { cpu.eflags |= DF; }
function iopl(cpu: CPU): number { return (cpu.eflags & IOPL) >> 12; }
/** CLI/STI: allowed when CPL <= IOPL (VME/PVI virtual interrupt flags are not implemented: CR4.VME/PVI are reserved here).
 *  Virtual-8086 mode runs at CPL 3, so there they need IOPL = 3 and are #GP(0) otherwise (SDM Vol. 3B "Sensitive Instructions"). */
function cli(cpu: CPU): void {
  if (cpu.mode !== MODE_REAL && cpu.cpl > iopl(cpu)) throw new CpuFault(GP, 0);
  cpu.eflags &= ~IF;
}
function sti(cpu: CPU): void {
  if (cpu.mode !== MODE_REAL && cpu.cpl > iopl(cpu)) throw new CpuFault(GP, 0);
  if (!(cpu.eflags & IF)) cpu.intShadow = true; // STI only blocks for one instruction when IF was 0
  cpu.eflags |= IF;
}
/** CLAC/STAC: #UD at CPL > 0 or without SMAP support (CPUID.7:EBX.SMAP is reported). */
function clac(cpu: CPU): void { if (cpu.cpl > 0 || cpu.mode === MODE_V86) throw new CpuFault(UD); cpu.eflags &= ~AC; void CR4_SMAP; }
function stac(cpu: CPU): void { if (cpu.cpl > 0 || cpu.mode === MODE_V86) throw new CpuFault(UD); cpu.eflags |= AC; }

export const flagHandlers = { clc, stc, cmc, cld, std, cli, sti, clac, stac };
