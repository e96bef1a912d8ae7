/**
 * The contract between the differential tests (test/diff) and the CPU: one instruction is run
 * from a given architectural state, in 64-bit user mode (CPL 3, flat segments, 4-level paging
 * identity-mapping the windows below), and the state after it is returned.
 *
 * Windows (the same addresses in the native harness and in vmxray):
 *   code  CODE_ADDR .. +4 KiB   the instruction bytes are placed at CODE_ADDR
 *   data  DATA_ADDR .. +DATA_SIZE  readable/writable; compared after every case
 * Registers hold 64-bit values as bigint (unsigned). RSP normally points into the data window.
 */
export const CODE_ADDR = 0x2000_0000;
export const DATA_ADDR = 0x1000_0000;
export const DATA_SIZE = 0x2000;

export interface SnippetState {
  /** rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15 (64-bit unsigned) */
  gpr: bigint[];
  rip: bigint;
  rflags: bigint;
  /** xmm0..xmm15 as [low 64 bits, high 64 bits] */
  xmm: [bigint, bigint][];
  mxcsr: number;
  /** Contents of the data window (DATA_SIZE bytes). */
  mem: Uint8Array;
}

export interface SnippetResult extends SnippetState {
  /** The exception vector if the instruction faulted (0 #DE, 6 #UD, 13 #GP, 14 #PF, ...), else undefined.
   *  On a fault, the state is the state at the fault (RIP = the faulting instruction). */
  exception?: number;
}
