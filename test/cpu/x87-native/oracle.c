/*
 * Native x87 oracle for test/cpu/x87.test.ts (built and run by generate.ts on an x86-64 Linux host).
 * Each stdin line: "<code hex>|<data hex>". The harness clears the FPU (eight FLDZ then FNINIT, so
 * stale register contents are zero), fills a 256-byte data buffer, calls the code with RDI = the
 * buffer, and prints one line: "vector rax rflags save data":
 *   vector  -1, or 16 (#MF: SIGFPE), 6 (#UD: SIGILL), 13 (SIGSEGV)
 *   rflags  after the code (OF SF ZF AF PF CF only)
 *   save    the FNSAVE image (108 bytes, 32-bit protected format) of the state after the code, or
 *           at the fault (rebuilt from the signal frame's FXSAVE image, with tags computed as FNSAVE does)
 *   data    the first 128 bytes of the buffer
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <signal.h>
#include <setjmp.h>
#include <ucontext.h>

static sigjmp_buf jb;
static volatile int vec;
static struct _libc_fpstate fx;

static void handler(int s, siginfo_t *si, void *ucp) {
  ucontext_t *uc = ucp;
  (void)si;
  vec = s == SIGFPE ? 16 : s == SIGILL ? 6 : 13;
  memcpy(&fx, uc->uc_mcontext.fpregs, sizeof fx);
  siglongjmp(jb, 1);
}
static int hexv(int c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }
static int parse(const char *s, uint8_t *out) {
  int n = 0;
  while (*s && *s != '|') { if (*s == ' ') { s++; continue; } out[n++] = hexv(s[0]) * 16 + hexv(s[1]); s += 2; }
  return n;
}
static int tagOf(const uint8_t *r) {
  uint16_t se = r[8] | r[9] << 8; uint64_t m; memcpy(&m, r, 8);
  int e = se & 0x7fff;
  if (e == 0) return m == 0 ? 1 : 2;
  if (e == 0x7fff) return 2;
  return (m >> 63) ? 0 : 2;
}
/* FXSAVE image (signal frame) → FNSAVE 32-bit protected image */
static void fromFx(uint8_t *save) {
  memset(save, 0, 108);
  uint32_t w;
  w = 0xffff0000u | fx.cwd; memcpy(save, &w, 4);
  w = 0xffff0000u | fx.swd; memcpy(save + 4, &w, 4);
  int top = (fx.swd >> 11) & 7, tw = 0;
  for (int r = 0; r < 8; r++) {
    int i = (r - top) & 7;
    int t = (fx.ftw >> r) & 1 ? tagOf((const uint8_t *)&fx._st[i]) : 3;
    tw |= t << (2 * r);
  }
  w = 0xffff0000u | tw; memcpy(save + 8, &w, 4);
  w = (uint32_t)fx.rip; memcpy(save + 12, &w, 4);
  w = (uint32_t)fx.fop << 16; memcpy(save + 16, &w, 4);
  w = (uint32_t)fx.rdp; memcpy(save + 20, &w, 4);
  w = 0xffff0000u; memcpy(save + 24, &w, 4);
  for (int i = 0; i < 8; i++) memcpy(save + 28 + 10 * i, &fx._st[i], 10);
}

int main(void) {
  struct sigaction sa = {0};
  sa.sa_sigaction = handler; sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGFPE, &sa, 0); sigaction(SIGSEGV, &sa, 0); sigaction(SIGILL, &sa, 0); sigaction(SIGBUS, &sa, 0);
  uint8_t *code = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  static uint8_t data[256] __attribute__((aligned(64)));
  static uint8_t save[108];
  static char line[16384];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) continue;
    int n = parse(line, code);
    /* tail: pushfq; pop rdx; mov [rsi], rdx; ret */
    static const uint8_t tail[] = { 0x9c, 0x5a, 0x48, 0x89, 0x16, 0xc3 };
    memcpy(code + n, tail, sizeof tail);
    memset(data, 0, sizeof data);
    char *bar = strchr(line, '|');
    if (bar) parse(bar + 1, data);
    uint64_t rax = 0, fl = 0;
    vec = -1;
    __asm__ volatile("fninit; fldz; fldz; fldz; fldz; fldz; fldz; fldz; fldz; fninit");
    if (!sigsetjmp(jb, 1)) {
      __asm__ volatile("call *%[c]" : "=a"(rax) : [c] "r"(code), "D"(data), "S"(&fl), "a"(0)
                       : "rcx", "rdx", "r8", "r9", "r10", "r11", "memory", "cc");
      __asm__ volatile("fnsave %0" : "=m"(save));
    } else {
      fromFx(save);
    }
    printf("%d %016lx %04lx ", vec, (unsigned long)rax, (unsigned long)(fl & 0x8d5));
    for (int i = 0; i < 108; i++) printf("%02x", save[i]);
    printf(" ");
    for (int i = 0; i < 128; i++) printf("%02x", data[i]);
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
