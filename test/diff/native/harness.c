/*
 * vmxray differential-test harness: runs ONE x86-64 instruction natively, in a Linux user
 * process, from a fully specified state, and reports the state after it.
 *
 * Build:  gcc -O2 -Wall -o harness harness.c        (test/diff/native.ts does this)
 * Use:    ./harness < cases.bin > results.bin
 *
 * Windows (the same as src/cpu/snippet-types.ts):
 *   code  CODE_ADDR = 0x20000000, one 4 KiB page, RWX. The instruction bytes are written at
 *         CODE_ADDR and the rest of the page is filled with 0xCC (INT3).
 *   data  DATA_ADDR = 0x10000000, DATA_SIZE = 0x2000 bytes, RW.
 *
 * ---------------------------------------------------------------------------------------------
 * Input: a stream of fixed-size little-endian records (struct in_rec below, 8616 bytes each):
 *   u32 magic      0x4e495856 ("VXIN")
 *   u32 flags      bit 0 REP: re-enter while the instruction has not completed (see below)
 *   u32 code_len   1..15
 *   u32 mxcsr
 *   u8  code[16]
 *   u64 gpr[16]    rax rcx rdx rbx rsp rbp rsi rdi r8..r15
 *   u64 rflags     only the arithmetic flags, DF, IF and bit 1 are meaningful (see "RFLAGS")
 *   u8  xmm[16][16] xmm0..xmm15, each 16 bytes little-endian
 *   u8  mem[0x2000] initial contents of the data window
 *
 * Output: one record per input record (struct out_rec below, 8632 bytes each):
 *   u32 magic      0x554f5856 ("VXOU")
 *   i32 trapno     gregs[REG_TRAPNO]: 1 = the single-step trap, i.e. the instruction completed
 *                  without an exception; otherwise the exception vector (0 #DE, 3 #BP, 6 #UD,
 *                  12 #SS, 13 #GP, 14 #PF, 17 #AC, 19 #XM, ...)
 *   u32 signo      the signal that reported it (SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGILL)
 *   u32 steps      how many times the instruction was entered (> 1 only for REP cases)
 *   u64 gpr[16], rip, rflags   (rflags with TF and RF cleared, see below)
 *   u64 err        gregs[REG_ERR] (the exception's error code as the kernel reports it)
 *   u64 addr       siginfo si_addr (CR2 for #PF)
 *   u8  xmm[16][16]
 *   u32 mxcsr, u32 reserved(0)
 *   u8  mem[0x2000] the data window afterwards
 *
 * ---------------------------------------------------------------------------------------------
 * How one case runs:
 *   1. the code page and data window are filled; xmm0-15 and MXCSR are loaded with FXRSTOR64
 *      from a prepared 512-byte area (a copy of this process's own FXSAVE image, so the x87
 *      part is sane);
 *   2. vx_enter (assembly below) points RSP at an IRETQ frame in a private scratch area (never
 *      the data window), loads the 15 other GPRs, and executes IRETQ with
 *      RIP = CODE_ADDR, CS = our CS (0x33), RFLAGS = case rflags | TF, RSP = case rsp, SS = our
 *      SS (0x2b). Because IRETQ itself sets TF, the single-step trap is taken after exactly one
 *      instruction at CODE_ADDR (SDM Vol. 3, "Single-Step Exception Condition");
 *   3. the kernel turns the #DB (or the instruction's own exception, which wins) into a signal;
 *      the SA_SIGINFO handler, running on an alternate signal stack, copies the ucontext
 *      (gregs, fpregs->_xmm, fpregs->mxcsr, REG_TRAPNO, REG_ERR, si_addr) and siglongjmp()s
 *      back to the loop, which dumps the data window and writes the output record.
 *
 * REP string instructions: with TF=1 the CPU takes the single-step trap after EACH iteration
 * (RIP still at the instruction, RCX/RSI/RDI advanced). When flag bit 0 (REP) is set, the
 * harness re-enters with the state from the trap (GPRs, RFLAGS, xmm, MXCSR; memory untouched)
 * as long as the trap was the single step and RIP is still CODE_ADDR, up to MAX_STEPS times.
 * The record therefore describes the complete REP instruction, as vmxray executes it.
 *
 * RFLAGS: user mode can only change the arithmetic flags, DF, TF, RF, NT and AC through IRETQ;
 * the generator only sets arithmetic flags and DF (IF=1 and bit 1 are always set). AC is never
 * set (Linux runs with CR0.AM=1, so AC=1 would turn misaligned accesses into #AC). The report
 * is the RFLAGS image the kernel saw, with TF cleared (we set it) and RF cleared (the CPU sets
 * RF in the image it pushes for faults; it is an artefact of exception delivery, not a result).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE_ADDR 0x20000000UL
#define DATA_ADDR 0x10000000UL
#define DATA_SIZE 0x2000
#define PAGE 4096
#define IN_MAGIC 0x4e495856u
#define OUT_MAGIC 0x554f5856u
#define FLAG_REP 1u
#define MAX_STEPS 100000
#define RFLAGS_TF 0x100UL
#define RFLAGS_RF 0x10000UL

struct in_rec {
  uint32_t magic, flags, code_len, mxcsr;
  uint8_t code[16];
  uint64_t gpr[16];
  uint64_t rflags;
  uint8_t xmm[16][16];
  uint8_t mem[DATA_SIZE];
};

struct out_rec {
  uint32_t magic;
  int32_t trapno;
  uint32_t signo, steps;
  uint64_t gpr[16];
  uint64_t rip, rflags, err, addr;
  uint8_t xmm[16][16];
  uint32_t mxcsr, reserved;
  uint8_t mem[DATA_SIZE];
};

_Static_assert(sizeof(struct in_rec) == 8616, "in_rec layout");
_Static_assert(sizeof(struct out_rec) == 8632, "out_rec layout");

/* State shared with the assembly entry stub (accessed RIP-relative). */
uint64_t vx_gpr[16];
uint64_t vx_iret_frame[5] __attribute__((aligned(16))); /* rip, cs, rflags, rsp, ss */
uint8_t vx_fxarea[512] __attribute__((aligned(64)));
void vx_enter(void) __attribute__((noreturn));

__asm__(
    ".text\n"
    ".globl vx_enter\n"
    ".type vx_enter,@function\n"
    "vx_enter:\n"
    "  fxrstor64 vx_fxarea(%rip)\n"
    "  lea vx_iret_frame(%rip), %rsp\n"
    "  mov vx_gpr+0(%rip), %rax\n"
    "  mov vx_gpr+8(%rip), %rcx\n"
    "  mov vx_gpr+16(%rip), %rdx\n"
    "  mov vx_gpr+24(%rip), %rbx\n"
    /* rsp (index 4) comes from the IRETQ frame */
    "  mov vx_gpr+40(%rip), %rbp\n"
    "  mov vx_gpr+48(%rip), %rsi\n"
    "  mov vx_gpr+56(%rip), %rdi\n"
    "  mov vx_gpr+64(%rip), %r8\n"
    "  mov vx_gpr+72(%rip), %r9\n"
    "  mov vx_gpr+80(%rip), %r10\n"
    "  mov vx_gpr+88(%rip), %r11\n"
    "  mov vx_gpr+96(%rip), %r12\n"
    "  mov vx_gpr+104(%rip), %r13\n"
    "  mov vx_gpr+112(%rip), %r14\n"
    "  mov vx_gpr+120(%rip), %r15\n"
    "  iretq\n"
    ".size vx_enter, .-vx_enter\n");

static sigjmp_buf jb;
static struct in_rec in;
static struct out_rec out;
static uint8_t fx_template[512] __attribute__((aligned(64)));

static void handler(int sig, siginfo_t *si, void *ucv) {
  ucontext_t *uc = (ucontext_t *)ucv;
  greg_t *g = uc->uc_mcontext.gregs;
  static const int order[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                                REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                REG_R12, REG_R13, REG_R14, REG_R15};
  for (int i = 0; i < 16; i++) out.gpr[i] = (uint64_t)g[order[i]];
  out.rip = (uint64_t)g[REG_RIP];
  out.rflags = (uint64_t)g[REG_EFL];
  out.trapno = (int32_t)g[REG_TRAPNO];
  out.err = (uint64_t)g[REG_ERR];
  out.addr = (uint64_t)si->si_addr;
  out.signo = (uint32_t)sig;
  struct _libc_fpstate *fp = uc->uc_mcontext.fpregs;
  if (fp) {
    memcpy(out.xmm, fp->_xmm, sizeof out.xmm);
    out.mxcsr = fp->mxcsr;
  }
  siglongjmp(jb, 1);
}

static void die(const char *what) {
  fprintf(stderr, "harness: %s: %s\n", what, strerror(errno));
  exit(2);
}

static int mapped(uint64_t addr) { return msync((void *)addr, PAGE, MS_ASYNC) == 0 || errno != ENOMEM; }

static void setup(void) {
  void *c = mmap((void *)CODE_ADDR, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (c == MAP_FAILED || c != (void *)CODE_ADDR) die("mmap code window");
  void *d = mmap((void *)DATA_ADDR, DATA_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (d == MAP_FAILED || d != (void *)DATA_ADDR) die("mmap data window");
  /* The pages around the windows must be unmapped so that out-of-window accesses fault (#PF). */
  if (mapped(DATA_ADDR - PAGE) || mapped(DATA_ADDR + DATA_SIZE) || mapped(CODE_ADDR + PAGE) ||
      mapped(CODE_ADDR - PAGE)) {
    fprintf(stderr, "harness: a page next to a window is mapped\n");
    exit(2);
  }

  static uint8_t altstack[1 << 18] __attribute__((aligned(64)));
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL)) die("sigaltstack");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigfillset(&sa.sa_mask);
  const int sigs[] = {SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (sigaction(sigs[i], &sa, NULL)) die("sigaction");

  __asm__ volatile("fxsave64 %0" : "=m"(fx_template));
  uint16_t cs, ssel;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  __asm__ volatile("mov %%ss, %0" : "=r"(ssel));
  vx_iret_frame[1] = cs;
  vx_iret_frame[4] = ssel;
}

/* Load the entry state: from the input record (first entry) or from the last trap (REP). */
static void load_state(const uint64_t *gpr, uint64_t rflags, const uint8_t (*xmm)[16], uint32_t mxcsr) {
  memcpy(vx_gpr, gpr, sizeof vx_gpr);
  memcpy(vx_fxarea, fx_template, sizeof vx_fxarea);
  memcpy(vx_fxarea + 24, &mxcsr, 4);           /* FXSAVE layout: MXCSR at byte 24 */
  memcpy(vx_fxarea + 160, xmm, 16 * 16);       /* XMM0..15 at byte 160 */
  vx_iret_frame[0] = CODE_ADDR;
  vx_iret_frame[2] = (rflags & ~RFLAGS_RF) | RFLAGS_TF;
  vx_iret_frame[3] = gpr[4];
}

int main(void) {
  setup();
  size_t n;
  unsigned long count = 0;
  while ((n = fread(&in, 1, sizeof in, stdin)) == sizeof in) {
    if (in.magic != IN_MAGIC || in.code_len == 0 || in.code_len > 15) {
      fprintf(stderr, "harness: bad record %lu\n", count);
      return 2;
    }
    memset((void *)CODE_ADDR, 0xcc, PAGE);
    memcpy((void *)CODE_ADDR, in.code, in.code_len);
    memcpy((void *)DATA_ADDR, in.mem, DATA_SIZE);
    memset(&out, 0, sizeof out);
    load_state(in.gpr, in.rflags, (const uint8_t (*)[16])in.xmm, in.mxcsr);
    out.steps = 0;
    for (;;) {
      if (sigsetjmp(jb, 1) == 0) vx_enter();
      out.steps++;
      if ((in.flags & FLAG_REP) && out.signo == SIGTRAP && out.trapno == 1 && out.rip == CODE_ADDR &&
          out.steps < MAX_STEPS) {
        uint8_t xmm[16][16];
        memcpy(xmm, out.xmm, sizeof xmm);
        load_state(out.gpr, out.rflags, (const uint8_t (*)[16])xmm, out.mxcsr);
        continue;
      }
      break;
    }
    out.magic = OUT_MAGIC;
    out.rflags &= ~(RFLAGS_TF | RFLAGS_RF);
    memcpy(out.mem, (void *)DATA_ADDR, DATA_SIZE);
    if (fwrite(&out, sizeof out, 1, stdout) != 1) die("write");
    count++;
  }
  if (n != 0) {
    fprintf(stderr, "harness: truncated record after %lu\n", count);
    return 2;
  }
  if (mapped(DATA_ADDR + DATA_SIZE) || mapped(DATA_ADDR - PAGE)) {
    fprintf(stderr, "harness: a page next to the data window became mapped\n");
    return 2;
  }
  fflush(stdout);
  return 0;
}
