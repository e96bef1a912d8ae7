import type { Handler } from '../insn.js';
import { CpuFault } from '../fault.js';
import { UD, GP } from '../regs.js';
import { aluHandlers } from './alu.js';
import { dataHandlers } from './data.js';
import { controlHandlers } from './control.js';
import { stackHandlers } from './stackops.js';
import { flagHandlers } from './flagops.js';
import { shiftHandlers } from './shift.js';
import { muldivHandlers } from './muldiv.js';
import { bitHandlers } from './bits.js';
import { bcdHandlers } from './bcd.js';
import { sseHandlers } from './sse-index.js';
import { systemHandlers } from './system.js';
import { stringHandlers } from './string.js';
import { x87Handlers } from './x87.js';
import { vmxHandlers } from '../../vmx/instructions.js';
import { withNonRootExits } from '../../vmx/nonroot.js';

/** The handler registry: a table row's handler is HANDLERS[opts.h ?? mnemonic]. The handlers named in
 *  src/vmx/nonroot.ts INSTRUCTION_EXITS first take their VM exits in VMX non-root operation. */
export const HANDLERS: Record<string, Handler> = withNonRootExits({
  ...aluHandlers, ...dataHandlers, ...controlHandlers, ...stackHandlers, ...flagHandlers,
  ...shiftHandlers, ...muldivHandlers, ...bitHandlers, ...bcdHandlers, ...systemHandlers, ...stringHandlers,
  ...sseHandlers, ...x87Handlers, ...vmxHandlers,
} as Record<string, Handler>);

export const undefinedOpcode: Handler = () => { throw new CpuFault(UD); };
/** More than 15 bytes (SDM Vol. 2, 2.3.11 "Instruction length": #GP(0)). */
export const generalProtection: Handler = () => { throw new CpuFault(GP, 0); };

/** A row whose handler does not exist yet: stop the machine with the instruction's bytes, address and mode. */
export function unimplemented(mnemonic: string): Handler {
  return (cpu, d) => {
    const bytes: string[] = [];
    const lin = cpu.mode === 4 ? cpu.rip : (cpu.segBase[1] + cpu.rip) >>> 0; // CS base outside 64-bit mode
    for (let i = 0; i < d.len; i++) {
      try { bytes.push(cpu.fetch8(lin + i).toString(16).padStart(2, '0')); } catch { bytes.push('??'); }
    }
    const modes = ['real mode', '16/32-bit protected mode', 'virtual-8086 mode', 'compatibility mode', '64-bit mode'];
    cpu.halt('unsupported', `unsupported instruction ${mnemonic} (${bytes.join(' ')}) at ${fmtAddr(cpu.rip)} in ${modes[cpu.mode]}`);
    throw new CpuFault(-1);
  };
}
export function fmtAddr(a: number): string {
  const v = a < 0 ? BigInt(a) + (1n << 64n) : BigInt(a);
  return '0x' + v.toString(16).padStart(a < 0 || a > 0xffffffff ? 16 : 8, '0');
}
