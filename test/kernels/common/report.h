/*
 * Console output (port 0xE9), the test protocol and the debug-exit device.
 *
 * Protocol, one line per check on port 0xE9:
 *   ok <name>
 *   not ok <name>: <details>
 *   skip <name>: <reason>          (only when the multiboot command line says skip=<name>)
 * and at the end
 *   done <passed>/<total>
 * followed by a write of 0 (all passed) or 1 to the isa-debug-exit port 0xF4.
 */
#ifndef KT_REPORT_H
#define KT_REPORT_H

#include "types.h"
#include <stdarg.h>

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }

void con_putc(char c);
void con_puts(const char *s);
int kvsnprintf(char *buf, int size, const char *fmt, va_list ap);
int ksnprintf(char *buf, int size, const char *fmt, ...);
void kprintf(const char *fmt, ...);

/* The multiboot command line (may be empty); "skip=a,b,c" lists checks not to run. */
void report_set_cmdline(const char *cmdline);
int report_skipped(const char *name);

/* One check: begin, any number of expectations, end (prints ok / not ok). */
void check_begin(const char *name);
const char *check_name(void);
void check_fail(const char *fmt, ...);            /* record a failure detail */
void expect_eq(const char *what, u64 got, u64 want);
void expect_true(const char *what, int cond);
void check_end(void);
/* End the current check as "not ok" with an unexpected exception. */
void check_unexpected(u64 vector, u64 rip, u64 error, u64 cr2);
void check_skip(const char *name, const char *why);

NORETURN void report_done(void);    /* prints done n/m and exits through port 0xF4 */
NORETURN void debug_exit(u8 value); /* QEMU exit status = value*2+1 */

void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);
int memcmp(const void *a, const void *b, unsigned long n);
int kstrcmp(const char *a, const char *b);

#endif
