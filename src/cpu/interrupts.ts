/**
 * What the CPU asks of the platform's interrupt controller (8259 pair, or the local APIC).
 * `hasIntr()` is polled between blocks when RFLAGS.IF=1 and no interrupt shadow is active;
 * `ackIntr()` performs the INTA cycle and returns the vector (0–255).
 */
export interface InterruptController {
  hasIntr(): boolean;
  ackIntr(): number;
}
