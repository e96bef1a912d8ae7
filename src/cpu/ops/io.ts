import type { CPU } from '../cpu.js';
import { MODE_REAL, MODE_V86 } from '../cpu.js';
import type { Insn } from '../insn.js';
import { CpuFault } from '../fault.js';
import { GP, IOPL, RAX, RDX, TR, AR_UNUSABLE } from '../regs.js';

/**
 * IN and OUT (SDM Vol. 2, "IN—Input from Port", "OUT—Output to Port") and the I/O permission
 * check they share with INS/OUTS (SDM Vol. 1, "I/O Permission Bit Map"; Vol. 3A "Protection
 * of I/O port accesses").
 */

/**
 * #GP(0) unless the access of `size` bytes to `port` is allowed: always in real mode and in
 * protected mode when CPL <= IOPL; otherwise (CPL > IOPL, or virtual-8086 mode) every bit for
 * the accessed ports in the TSS I/O permission bit map must be 0. The processor reads the map
 * base at TSS offset 66H and then always reads two bytes of the map (so the byte after the map
 * must lie within the TSS limit when a port's bits reach the last map byte).
 */
export function checkIo(cpu: CPU, port: number, size: number): void {
  if (cpu.mode === MODE_REAL) return;
  if (cpu.mode !== MODE_V86 && cpu.cpl <= ((cpu.eflags & IOPL) >> 12)) return;
  const ar = cpu.segAr[TR];
  const type = ar & 0xf;
  // Only a 32-bit/64-bit TSS (type 9 or 11) has a bit map; a 16-bit TSS has none.
  if ((ar & AR_UNUSABLE) || (type !== 9 && type !== 11)) throw new CpuFault(GP, 0);
  const limit = cpu.segLimit[TR], base = cpu.segBase[TR];
  if (limit < 0x67) throw new CpuFault(GP, 0);
  const mapBase = cpu.sysRead(base + 0x66, 2);
  const off = mapBase + (port >>> 3);
  if (off + 1 > limit) throw new CpuFault(GP, 0);
  const bits = cpu.sysRead(base + off, 2);
  const mask = ((1 << size) - 1) << (port & 7);
  if (bits & mask) throw new CpuFault(GP, 0);
}

function portOf(cpu: CPU, d: Insn): number {
  // Ib forms (E4–E7) carry the port in the immediate; the DX forms (EC–EF) have no immediate.
  return d.row[1].indexOf('I') >= 0 ? d.imm & 0xff : cpu.lo[RDX] & 0xffff;
}
/** The access size is the accumulator operand's size (AL = 1, eAX = 2 or 4), which the decoder put in osize. */
function ioSize(d: Insn): 1 | 2 | 4 { return d.osize as 1 | 2 | 4; }

function inH(cpu: CPU, d: Insn): void {
  const port = portOf(cpu, d), size = ioSize(d);
  checkIo(cpu, port, size);
  const v = cpu.io.read(port, size);
  // IN EAX zero-extends into RAX in 64-bit mode (a 32-bit register write); AL/AX leave the rest.
  cpu.setReg(RAX, size, v | 0, 0);
}
function outH(cpu: CPU, d: Insn): void {
  const port = portOf(cpu, d), size = ioSize(d);
  checkIo(cpu, port, size);
  cpu.io.write(port, size, cpu.lo[RAX]);
}

export const ioHandlers = { in: inH, out: outH };
