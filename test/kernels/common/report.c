/* Console, formatting and the ok / not ok protocol. Compiled for both -m32 and -m64. */
#include "report.h"

#define DEBUGCON_PORT 0xE9
#define DEBUG_EXIT_PORT 0xF4

void con_putc(char c) { outb(DEBUGCON_PORT, (u8)c); }

void con_puts(const char *s)
{
    while (*s)
        con_putc(*s++);
}

void *memset(void *d, int c, unsigned long n)
{
    u8 *p = d;
    while (n--)
        *p++ = (u8)c;
    return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
    u8 *p = d;
    const u8 *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

int memcmp(const void *a, const void *b, unsigned long n)
{
    const u8 *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p < *q ? -1 : 1;
    return 0;
}

int kstrcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (u8)*a - (u8)*b;
}

/* A small vsnprintf: %s %c %d %u %x %X %p with optional '0', width, and l / ll. */
struct out {
    char *buf;
    int size, len;
};

static void emit(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void emit_num(struct out *o, u64 v, int base, int neg, int width, char pad, int upper)
{
    char tmp[24];
    int n = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        /* bitwise long division: no libgcc helpers needed in 32-bit builds */
        u64 q = 0;
        u32 r = 0;
        for (int i = 63; i >= 0; i--) {
            r = (r << 1) | (u32)((v >> i) & 1);
            if (r >= (u32)base) {
                r -= (u32)base;
                q |= 1ull << i;
            }
        }
        tmp[n++] = digits[r];
        v = q;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    while (n < width--)
        emit(o, pad);
    while (n)
        emit(o, tmp[--n]);
}

int kvsnprintf(char *buf, int size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            emit(&o, *fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            lng++;
            fmt++;
        }
        u64 v;
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            while (*s)
                emit(&o, *s++);
            break;
        }
        case 'c':
            emit(&o, (char)va_arg(ap, int));
            break;
        case 'd': {
            s64 sv = lng >= 2 ? va_arg(ap, s64) : lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
            emit_num(&o, sv < 0 ? (u64)-sv : (u64)sv, 10, sv < 0, width, pad, 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
            v = lng >= 2 ? va_arg(ap, u64) : lng == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            emit_num(&o, v, *fmt == 'u' ? 10 : 16, 0, width, pad, *fmt == 'X');
            break;
        case 'p':
            emit(&o, '0');
            emit(&o, 'x');
            emit_num(&o, (uptr)va_arg(ap, void *), 16, 0, width, pad, 0);
            break;
        case '%':
            emit(&o, '%');
            break;
        default:
            emit(&o, '%');
            emit(&o, *fmt);
            break;
        }
    }
    if (o.size > 0)
        o.buf[o.len < o.size ? o.len : o.size - 1] = 0;
    return o.len;
}

int ksnprintf(char *buf, int size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void kprintf(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    con_puts(buf);
}

/* ---- the protocol ---- */

static const char *cur_name = "(none)";
static char detail[400];
static int detail_len;
static int in_check;
static int n_passed, n_total;
static char cmdline_copy[256];

void report_set_cmdline(const char *cmdline)
{
    int i = 0;
    if (cmdline)
        for (; cmdline[i] && i < (int)sizeof cmdline_copy - 1; i++)
            cmdline_copy[i] = cmdline[i];
    cmdline_copy[i] = 0;
}

/* Is name listed in a "skip=a,b,c" token of the command line? */
int report_skipped(const char *name)
{
    const char *p = cmdline_copy;
    while (*p) {
        while (*p == ' ')
            p++;
        if (p[0] == 's' && p[1] == 'k' && p[2] == 'i' && p[3] == 'p' && p[4] == '=') {
            p += 5;
            for (;;) {
                const char *n = name;
                while (*n && *p == *n)
                    p++, n++;
                if (!*n && (*p == ',' || *p == ' ' || !*p))
                    return 1;
                while (*p && *p != ',' && *p != ' ')
                    p++;
                if (*p != ',')
                    break;
                p++;
            }
        }
        while (*p && *p != ' ')
            p++;
    }
    return 0;
}

void check_begin(const char *name)
{
    cur_name = name;
    detail[0] = 0;
    detail_len = 0;
    in_check = 1;
}

const char *check_name(void) { return cur_name; }

void check_fail(const char *fmt, ...)
{
    if (detail_len && detail_len < (int)sizeof detail - 3) {
        detail[detail_len++] = ';';
        detail[detail_len++] = ' ';
        detail[detail_len] = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    int room = (int)sizeof detail - detail_len;
    if (room > 1) {
        int n = kvsnprintf(detail + detail_len, room, fmt, ap);
        detail_len += n < room ? n : room - 1;
    }
    va_end(ap);
    if (!detail_len) { /* an empty message still counts as a failure */
        detail[0] = '?';
        detail[1] = 0;
        detail_len = 1;
    }
}

void expect_eq(const char *what, u64 got, u64 want)
{
    if (got != want)
        check_fail("%s=0x%llx (expected 0x%llx)", what, got, want);
}

void expect_true(const char *what, int cond)
{
    if (!cond)
        check_fail("%s", what);
}

void check_end(void)
{
    if (!in_check)
        return;
    in_check = 0;
    n_total++;
    if (!detail_len) {
        n_passed++;
        kprintf("ok %s\n", cur_name);
    } else {
        kprintf("not ok %s: %s\n", cur_name, detail);
    }
}

void check_unexpected(u64 vector, u64 rip, u64 error, u64 cr2)
{
    check_fail("unexpected vector %llu at RIP=0x%llx error=0x%llx CR2=0x%llx", vector, rip, error, cr2);
    check_end();
}

void check_skip(const char *name, const char *why)
{
    kprintf("skip %s: %s\n", name, why);
}

void debug_exit(u8 value)
{
    outb(DEBUG_EXIT_PORT, value);
    for (;;)
        __asm__ volatile("cli; hlt");
}

void report_done(void)
{
    kprintf("done %d/%d\n", n_passed, n_total);
    debug_exit(n_passed == n_total ? 0 : 1);
}
