/**
 * An interrupt request line as devices see it: `irq(line, level)` drives ISA IRQ `line`
 * (0–15) high or low. Level devices (UART, i8042, RTC) hold the line while their condition
 * lasts; edge devices (PIT) signal an edge as a pulse, raise then lower. The 8259 pair here
 * latches a rising edge until INTA, so a pulse is not lost (see pic8259.ts).
 */
export type IrqLine = (line: number, level: boolean) => void;

/** An IRQ sink that drops everything (tests, devices left unconnected). */
export const noIrq: IrqLine = () => {};
