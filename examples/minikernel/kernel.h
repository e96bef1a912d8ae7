/* minikernel: shared declarations. Freestanding C, x86-64, general registers only. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>

/* ---- port I/O ---------------------------------------------------------- */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); } /* no wakeup lost */
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
__attribute__((noreturn)) void halt_forever(void);

/* ---- lib.c ------------------------------------------------------------- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
/* parse a decimal or 0x-hex unsigned number; returns chars consumed (0 on error) */
int parse_u64(const char *s, uint64_t *out);
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kvprintf(const char *fmt, va_list ap);

/* ---- console.c: VGA text + port 0xE9 + COM1 ------------------------------ */
enum { VGA_BLACK, VGA_BLUE, VGA_GREEN, VGA_CYAN, VGA_RED, VGA_MAGENTA, VGA_BROWN, VGA_LGRAY,
       VGA_DGRAY, VGA_LBLUE, VGA_LGREEN, VGA_LCYAN, VGA_LRED, VGA_LMAGENTA, VGA_YELLOW, VGA_WHITE };
void console_init(void);
void console_putc(char c);
void console_write(const char *s);
void console_set_color(uint8_t fg, uint8_t bg);
/* one glyph on VGA (e.g. a CP437 box character), a plain ASCII stand-in on 0xE9/COM1 */
void console_putc_dual(uint8_t vga_glyph, char ascii);
int serial_present(void);

/* ---- cpu.c: IDT, exceptions, PIC, PIT ------------------------------------ */
struct regs {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;          /* pushed by the CPU */
};
#define PIT_HZ 100
extern volatile uint64_t ticks;
void idt_init(void);
void pic_init(void);
void pic_unmask(int irq);
void pit_init(void);
typedef void (*irq_handler_t)(void);
void irq_set_handler(int irq, irq_handler_t h);
void cpu_describe(char vendor[13], char brand[49], uint32_t *family, uint32_t *model, uint32_t *stepping);

/* ---- kbd.c ------------------------------------------------------------- */
void kbd_init(void);
int kbd_getc(void);                              /* blocks (sti; hlt) until a key */

/* ---- ata.c ------------------------------------------------------------- */
struct ata_info {
    int present;
    char model[41];
    char serial[21];
    uint32_t sectors;                            /* LBA28 addressable sectors */
};
extern struct ata_info ata0;
int ata_init(void);                              /* 0 if a drive answered IDENTIFY */
int ata_read(uint32_t lba, void *buf);           /* one sector, 0 on success */
int ata_write(uint32_t lba, const void *buf);
const char *ata_last_error(void);

/* ---- multiboot.c ------------------------------------------------------- */
extern uint32_t mb_magic, mb_info;
void mb_print_summary(void);                     /* one line: total memory */
void mb_print_map(void);                         /* full memory map */
uint64_t mb_usable_bytes(void);
int mb_mmap_entry(int index, uint64_t *addr, uint64_t *len, uint32_t *type);   /* -1 past the end */
const char *mb_type_name(uint32_t type);

/* ---- isa-debug-exit ---------------------------------------------------- */
#define DEBUG_EXIT_PORT 0xF4
