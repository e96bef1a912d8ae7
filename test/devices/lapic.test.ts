/**
 * Local APIC behaviour, against the Intel SDM Vol. 3A APIC chapter (sections named by title:
 * "Local APIC State After Power-Up or Reset", "Task and Processor Priorities", "APIC Timer",
 * "x2APIC State Transitions", "Error Handling").
 */
import { describe, it, expect } from 'vitest';
import { VirtualClock } from '../../src/machine/clock.js';
import { Ram, PhysBus } from '../../src/memory/index.js';
import { LocalApic, LAPIC_BASE, ESR_SEND_ILLEGAL_VECTOR, ESR_RECEIVE_ILLEGAL_VECTOR } from '../../src/devices/lapic.js';
import type { InterruptController } from '../../src/cpu/interrupts.js';

const SVR_ON = 0x1ff;

function setup(opts: { ips?: number } = {}) {
  const clock = new VirtualClock(opts.ips ?? 100_000_000); // 10 ns per instruction
  const eois: number[] = [];
  let nmis = 0;
  const apic = new LocalApic({ clock, onEoi: v => eois.push(v), onNmi: () => { nmis++; } });
  const phys = new PhysBus(new Ram(1 << 20));
  phys.addMmio('lapic', LAPIC_BASE, 0x1000, apic);
  const rd = (off: number) => phys.read32(LAPIC_BASE + off);
  const wr = (off: number, v: number) => phys.write32(LAPIC_BASE + off, v);
  const run = (to: number) => { while (clock.nextDeadline() <= to) { clock.icount = clock.nextDeadline(); clock.fireDue(); } clock.icount = to; };
  return { clock, apic, rd, wr, eois, nmis: () => nmis, run };
}

function fakePic(vectors: number[]): InterruptController & { acks: number } {
  return {
    acks: 0,
    hasIntr() { return vectors.length > 0; },
    ackIntr() { this.acks++; return vectors.shift() ?? 0x27; },
  };
}

describe('local APIC', () => {
  it('resets as the SDM says: version 0x50014, SVR 0xFF, DFR all ones, LVTs masked, LINT0 ExtINT on the BSP', () => {
    const { rd, apic } = setup();
    expect(rd(0x030)).toBe(0x00050014);
    expect(rd(0x020)).toBe(0);
    expect(rd(0x0f0)).toBe(0xff);
    expect(rd(0x0e0)).toBe(0xffffffff);
    for (const off of [0x320, 0x330, 0x340, 0x360, 0x370]) expect(rd(off)).toBe(0x10000);
    expect(rd(0x350)).toBe(0x700);
    expect(apic.getApicBase()).toBe(0xfee00900);
  });

  it('dispatches the highest IRR vector above the processor priority and moves it to ISR', () => {
    const { apic, wr, rd } = setup();
    wr(0x0f0, SVR_ON);
    apic.acceptFixed(0x41);
    apic.acceptFixed(0x63);
    apic.acceptFixed(0x52);
    expect(rd(0x200 + 0x10 * 2)).toBe((1 << 1) | (1 << 18));  // IRR bits 64..95: vectors 0x41, 0x52
    expect(apic.hasIntr()).toBe(true);
    expect(apic.ackIntr()).toBe(0x63);
    expect(rd(0x100 + 0x10 * 3) & (1 << 3)).toBeTruthy();     // ISR bit 0x63
    expect(rd(0x0a0)).toBe(0x60);                             // PPR = ISRV & 0xF0
    expect(apic.hasIntr()).toBe(false);                       // 0x52 is below class 6
    wr(0x0b0, 0);                                             // EOI
    expect(apic.ackIntr()).toBe(0x52);
    wr(0x080, 0x50);                                          // TPR class 5 blocks 0x41 ... and equal classes
    wr(0x0b0, 0);
    expect(rd(0x0a0)).toBe(0x50);
    expect(apic.hasIntr()).toBe(false);
    wr(0x080, 0x3f);
    expect(rd(0x0a0)).toBe(0x3f);                             // TPR[7:4] >= ISRV[7:4]: PPR = TPR
    expect(apic.ackIntr()).toBe(0x41);
  });

  it('answers an acknowledge with nothing pending with the spurious vector', () => {
    const { apic, wr } = setup();
    wr(0x0f0, 0x1ef);
    expect(apic.ackIntr()).toBe(0xef);
  });

  it('holds interrupts while software-disabled and masks every LVT when disabled', () => {
    const { apic, wr, rd } = setup();
    wr(0x0f0, SVR_ON);
    wr(0x320, 0x30);                  // unmask the timer
    expect(rd(0x320)).toBe(0x30);
    wr(0x0f0, 0x0ff);                 // software disable
    expect(rd(0x320)).toBe(0x10030);
    expect(rd(0x350) & 0x10000).toBeTruthy();
    wr(0x320, 0x30);                  // the mask bit cannot be cleared now
    expect(rd(0x320)).toBe(0x10030);
    apic.acceptFixed(0x80);
    expect(apic.hasIntr()).toBe(false);
    wr(0x0f0, SVR_ON);
    expect(apic.ackIntr()).toBe(0x80);
  });

  it('forwards the EOI of a level-triggered vector to the IOAPIC, not of an edge one', () => {
    const { apic, wr, eois } = setup();
    wr(0x0f0, SVR_ON);
    apic.acceptFixed(0x90, true);
    apic.acceptFixed(0x70, false);
    expect(apic.ackIntr()).toBe(0x90);
    wr(0x0b0, 0);
    expect(apic.ackIntr()).toBe(0x70);
    wr(0x0b0, 0);
    expect(eois).toEqual([0x90]);
  });

  it('LAPIC timer fires at the programmed virtual time (one-shot)', () => {
    const { apic, wr, rd, clock, run } = setup();
    wr(0x0f0, SVR_ON);
    wr(0x3e0, 0x3);                    // divide by 16
    wr(0x320, 0x40);                   // one-shot, vector 0x40
    clock.icount = 500;
    wr(0x380, 1000);                   // 1000 counts * 16 ns = 16 us = 1600 instructions at 100 MIPS
    expect(clock.nextDeadline()).toBe(2100);
    run(1300);
    expect(rd(0x390)).toBe(500);       // half way
    expect(apic.hasIntr()).toBe(false);
    run(2099);
    expect(apic.hasIntr()).toBe(false);
    run(2100);
    expect(apic.ackIntr()).toBe(0x40);
    expect(rd(0x390)).toBe(0);
    run(10000);
    expect(apic.hasIntr()).toBe(false);
  });

  it('a periodic timer re-arms from its due count, so late handling does not drift', () => {
    const { apic, wr, clock } = setup();
    wr(0x0f0, SVR_ON);
    wr(0x3e0, 0xb);                    // divide by 1
    wr(0x320, 0x20000 | 0x50);         // periodic
    wr(0x380, 100);                    // 100 ns = 10 instructions
    const fired: number[] = [];
    for (let i = 0; i < 5; i++) {
      const due = clock.nextDeadline();
      fired.push(due);
      clock.icount = due + 3;          // the run loop noticed a little late
      clock.fireDue();
      expect(apic.ackIntr()).toBe(0x50);
      wr(0x0b0, 0);
    }
    expect(fired).toEqual([10, 20, 30, 40, 50]);
    wr(0x380, 0);                      // writing 0 stops the timer
    expect(clock.nextDeadline()).toBe(Infinity);
  });

  it('a masked timer still counts down; the divide register picks 2..128 or 1', () => {
    const { apic, wr, rd, clock } = setup({ ips: 1e9 });
    wr(0x0f0, SVR_ON);
    const divs: number[] = [];
    for (const dcr of [0, 1, 2, 3, 8, 9, 10, 11]) { wr(0x3e0, dcr); divs.push(apic.divisor()); }
    expect(divs).toEqual([2, 4, 8, 16, 32, 64, 128, 1]);
    wr(0x3e0, 0);                      // divide by 2: one count per 2 instructions at 1 GHz
    wr(0x380, 50);
    clock.icount = 40;
    expect(rd(0x390)).toBe(30);
    clock.icount = 100; clock.fireDue();
    expect(rd(0x390)).toBe(0);
    expect(apic.hasIntr()).toBe(false); // masked (reset value), no interrupt
  });

  it('sends fixed IPIs to itself (shorthand or its own ID) and flags illegal vectors in ESR', () => {
    const { apic, wr, rd } = setup();
    wr(0x0f0, SVR_ON);
    wr(0x300, (1 << 18) | 0x61);       // self
    expect(apic.ackIntr()).toBe(0x61); wr(0x0b0, 0);
    wr(0x310, 0 << 24);
    wr(0x300, 0x62);                   // physical destination 0 = us
    expect(apic.ackIntr()).toBe(0x62); wr(0x0b0, 0);
    wr(0x310, 3 << 24);
    wr(0x300, 0x63);                   // APIC 3 does not exist: dropped
    wr(0x300, (3 << 18) | 0x64);       // all excluding self: nobody
    expect(apic.hasIntr()).toBe(false);
    expect(rd(0x300) & (1 << 12)).toBe(0); // delivery status idle
    wr(0x370, 0xfe);                   // error LVT unmasked, vector 0xFE
    wr(0x300, (1 << 18) | 0x05);       // illegal vector
    expect(rd(0x280)).toBe(0);         // ESR updates only when written
    wr(0x280, 0);
    expect(rd(0x280)).toBe(ESR_SEND_ILLEGAL_VECTOR);
    expect(apic.ackIntr()).toBe(0xfe);
    apic.acceptFixed(3);
    wr(0x280, 0);
    expect(rd(0x280)).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
  });

  it('NMI IPIs and LINT1 in NMI mode reach onNmi', () => {
    const { apic, wr, nmis } = setup();
    wr(0x0f0, SVR_ON);
    wr(0x300, (1 << 18) | (4 << 8));
    wr(0x360, 4 << 8);
    apic.setLint(1, true);
    apic.setLint(1, true);
    apic.setLint(1, false);
    expect(nmis()).toBe(2);
  });

  it('passes the 8259 through LINT0 in ExtINT mode, and when globally disabled', () => {
    const { apic, wr } = setup();
    const pic = fakePic([0x20, 0x21, 0x22]);
    apic.setExtInt(pic);
    expect(apic.hasIntr()).toBe(true);  // reset state: virtual wire, even while software-disabled
    expect(apic.ackIntr()).toBe(0x20);
    wr(0x350, 0x10700);                 // mask LINT0
    expect(apic.hasIntr()).toBe(false);
    wr(0x0f0, SVR_ON);
    wr(0x350, 0x700);
    apic.acceptFixed(0x99);
    expect(apic.ackIntr()).toBe(0x99);  // the APIC's own interrupt comes first
    expect(apic.ackIntr()).toBe(0x21);
    expect(apic.setApicBase(0xfee00000)).toBe(true); // global disable: INTR straight from the PIC
    expect(apic.hasIntr()).toBe(true);
    expect(apic.ackIntr()).toBe(0x22);
  });

  it('switches to x2APIC mode through IA32_APIC_BASE and serves MSRs 0x800-0x8FF', () => {
    const { apic, rd } = setup();
    expect(apic.readMsr(0x802)).toBeNull();                 // not in x2APIC mode yet
    expect(apic.setApicBase(0xfee00000 + 0x400)).toBe(false); // EXTD without EN: invalid
    expect(apic.setApicBase(0xfee00000 + 0xc00)).toBe(true);
    expect(apic.x2apic).toBe(true);
    expect(rd(0x030)).toBe(0xffffffff);                     // the MMIO page is gone
    expect(apic.readMsr(0x802)).toEqual([0, 0]);
    expect(apic.readMsr(0x803)).toEqual([0x50014, 0]);
    expect(apic.readMsr(0x80d)).toEqual([1, 0]);            // LDR: cluster 0, bit 0
    expect(apic.readMsr(0x80b)).toBeNull();                 // EOI is write-only
    expect(apic.readMsr(0x80e)).toBeNull();                 // no DFR in x2APIC mode
    expect(apic.writeMsr(0x802, 5, 0)).toBe(false);         // ID is read-only
    expect(apic.writeMsr(0x80f, SVR_ON, 0)).toBe(true);
    expect(apic.writeMsr(0x808, 0x20, 0)).toBe(true);
    expect(apic.readMsr(0x808)).toEqual([0x20, 0]);
    expect(apic.writeMsr(0x83f, 0x55, 0)).toBe(true);       // SELF IPI
    expect(apic.ackIntr()).toBe(0x55);
    expect(apic.writeMsr(0x80b, 1, 0)).toBe(false);         // EOI with a non-zero value: #GP
    expect(apic.writeMsr(0x80b, 0, 0)).toBe(true);
    expect(apic.writeMsr(0x830, 0x66, 0)).toBe(true);       // ICR, physical destination 0
    expect(apic.readMsr(0x830)).toEqual([0x66, 0]);
    expect(apic.ackIntr()).toBe(0x66);
    expect(apic.writeMsr(0x830, 0x1000 | 0x66, 0)).toBe(false); // reserved bit 12
    expect(apic.setApicBase(0xfee00000 + 0x800)).toBe(false); // x2APIC -> xAPIC: invalid
    expect(apic.setApicBase(0xfee00000)).toBe(true);          // -> disabled: state reset
    expect(apic.setApicBase(0xfee00000 + 0xc00)).toBe(false); // disabled -> x2APIC: invalid
    expect(apic.setApicBase(0xfee00000 + 0x800)).toBe(true);
    expect(rd(0x0f0)).toBe(0xff);
    expect(apic.getApicBase()).toBe(0xfee00900);            // BSP bit kept
  });

  it('matches logical destinations in flat and cluster models', () => {
    const { apic, wr } = setup();
    wr(0x0d0, 0x04000000);             // logical ID bit 2
    expect(apic.matchesDestination(0x04, true)).toBe(true);
    expect(apic.matchesDestination(0x0b, true)).toBe(false);
    wr(0x0e0, 0x0fffffff);             // cluster model
    wr(0x0d0, 0x32000000);             // cluster 3, member bit 1
    expect(apic.matchesDestination(0x32, true)).toBe(true);
    expect(apic.matchesDestination(0x22, true)).toBe(false);
    expect(apic.matchesDestination(0xff, true)).toBe(true);
  });

  it('restores a snapshot with its timer re-armed at the same instruction count', () => {
    const { apic, wr, clock } = setup();
    wr(0x0f0, SVR_ON);
    wr(0x3e0, 0xb);
    wr(0x320, 0x44);
    wr(0x380, 1000);                    // due at 100
    clock.icount = 30;
    const s = apic.save();
    clock.icount = 100; clock.fireDue();
    expect(apic.ackIntr()).toBe(0x44);
    clock.icount = 30;
    apic.restore(s);
    expect(clock.nextDeadline()).toBe(100);
    expect(apic.hasIntr()).toBe(false);
  });
});
