/*
 * highhalf: a small SWEB-like kernel for vmxray's end-to-end gdb tests (test/gdb/e2e.test.ts).
 *
 * boot.S enters startup() in the upper half (0xffffffff80100000 and up) in 64-bit mode. Each
 * phase prints one line on port 0xE9 ("highhalf: ..."); the tests put breakpoints, watchpoints
 * and single steps on the functions and globals below, so keep their names:
 *   startup            C entry in the high half (SWEB: `break startup`)
 *   sweb_assert        called only when a check fails (SWEB: `break sweb_assert`)
 *   run_tests/compute/leaf   nested calls and a recursion for `bt`
 *   currentThread      -> struct Thread whose user_registers_ points at a filled struct Regs
 *   counter            written (and read) in a loop, for watch / rwatch / awatch
 *   irq_window_asm     (isr.S) STI + NOPs entered with the PIT interrupt already pending
 *   timer_isr          (isr.S) IRQ0 handler at vector 0x20
 *   pf_probe           (isr.S) a load from an unmapped address; pf_handler records CR2 and
 *                      resumes after it
 *   heartbeats         number of busy-loop "heartbeat" lines before the exit (a test may raise it)
 * It ends by writing 0x10 to isa-debug-exit (port 0xf4): QEMU/vmxray exit status 0x21 (33).
 * sweb_assert writes 0x01 (status 3).
 */
#include <stdint.h>

#define EXIT_OK 0x10
#define EXIT_FAIL 0x01
#define UNMAPPED_ADDRESS 0xFFFFFFFF80400000ULL /* PD[2] of the high-half PD is not present */

struct Regs {
    uint64_t rip, rsp, rflags;
    uint64_t rax, rbx, rcx, rdx;
};

struct Thread {
    const char *name_;
    uint64_t tid_;
    struct Regs *user_registers_;
    struct Thread *next_;
};

static struct Regs main_user_regs;
static struct Thread main_thread;
struct Thread *currentThread;

volatile uint64_t counter;
volatile uint64_t ticks;
volatile uint64_t last_cr2;
volatile uint64_t pf_count;
volatile uint64_t spin_count;
volatile uint64_t heartbeats = 40;

/* isr.S */
extern void timer_isr(void), pf_isr(void), bad_isr(void), irq_window_asm(void);
extern uint64_t pf_probe(volatile uint64_t *p);
extern char pf_probe_end[];

/* ------------------------------------------------------------------ port I/O, console */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void puts_e9(const char *s) { while (*s) outb(0xE9, (uint8_t)*s++); }
static void puthex(uint64_t v) {
    puts_e9("0x");
    for (int i = 60; i >= 0; i -= 4) outb(0xE9, (uint8_t)"0123456789abcdef"[(v >> i) & 0xf]);
}
static void putdec(uint64_t v) {
    char b[24]; int n = 0;
    do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) outb(0xE9, (uint8_t)b[--n]);
}

static void __attribute__((noreturn)) debug_exit(uint8_t code) {
    for (;;) outb(0xF4, code);
}

void sweb_assert(const char *what) {
    puts_e9("highhalf: assertion failed: ");
    puts_e9(what);
    puts_e9("\n");
    debug_exit(EXIT_FAIL);
}

void unexpected_interrupt(void) {
    sweb_assert("unexpected interrupt or exception");
}

/* ------------------------------------------------------------------ IDT, PIC, PIT */
struct IdtEntry {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, zero;
} __attribute__((packed));

static struct IdtEntry idt[256];

static void set_gate(int v, void (*fn)(void)) {
    uint64_t a = (uint64_t)fn;
    idt[v].off0 = (uint16_t)a;
    idt[v].sel = 0x08;
    idt[v].ist = 0;
    idt[v].type = 0x8E; /* present, DPL 0, 64-bit interrupt gate */
    idt[v].off1 = (uint16_t)(a >> 16);
    idt[v].off2 = (uint32_t)(a >> 32);
    idt[v].zero = 0;
}

static void setup_idt(void) {
    for (int v = 0; v < 256; v++) set_gate(v, bad_isr);
    set_gate(14, pf_isr);
    set_gate(0x20, timer_isr);
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = { sizeof idt - 1, (uint64_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* 8259 pair remapped to vectors 0x20/0x28; only IRQ0 unmasked. */
static void pic_init(void) {
    outb(0x20, 0x11); outb(0xA0, 0x11);
    outb(0x21, 0x20); outb(0xA1, 0x28);
    outb(0x21, 0x04); outb(0xA1, 0x02);
    outb(0x21, 0x01); outb(0xA1, 0x01);
    outb(0x21, 0xFE); outb(0xA1, 0xFF);
}

/* OCW3: read the master's interrupt request register. */
static uint8_t pic_irr(void) { outb(0x20, 0x0A); return inb(0x20); }

/* PIT channel 0, mode 2 (rate generator), ~1 kHz. */
static void pit_init(void) {
    uint16_t divisor = 1193;
    outb(0x43, 0x34);
    outb(0x40, (uint8_t)divisor);
    outb(0x40, (uint8_t)(divisor >> 8));
}

void timer_handler(void) {
    ticks++;
    outb(0x20, 0x20); /* EOI */
}

void pf_handler(uint64_t *frame) {
    /* frame: error code, RIP, CS, RFLAGS, RSP, SS */
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    last_cr2 = cr2;
    pf_count++;
    if (frame[1] != (uint64_t)pf_probe) sweb_assert("page fault outside pf_probe");
    frame[1] = (uint64_t)pf_probe_end; /* skip the faulting load; map nothing */
}

/* ------------------------------------------------------------------ phases */
int leaf(int depth) {
    return depth * 100;
}

int compute(int depth) {
    if (depth == 0) return leaf(depth) + 1;
    return compute(depth - 1) + depth;
}

static void count_loop(void) {
    for (int i = 1; i <= 10; i++) counter = counter + i;
}

static void irq_phase(void) {
    setup_idt();
    pic_init();
    pit_init();
    for (int round = 0; round < 3; round++) {
        __asm__ volatile("cli");
        /* wait with IF=0 until the PIT has raised IRQ0: the interrupt is then pending */
        while (!(pic_irr() & 1)) spin_count++;
        uint64_t before = ticks;
        irq_window_asm(); /* STI; NOPs: the interrupt arrives after the instruction after STI */
        __asm__ volatile("sti");
        while (ticks == before) spin_count++;
    }
    __asm__ volatile("sti");
}

static void page_fault_phase(void) {
    pf_probe((volatile uint64_t *)UNMAPPED_ADDRESS);
    if (pf_count != 1) sweb_assert("no page fault");
    if (last_cr2 != UNMAPPED_ADDRESS) sweb_assert("CR2 is not the faulting address");
}

static void heartbeat_phase(void) {
    for (uint64_t n = 1; n <= heartbeats; n++) {
        for (int i = 0; i < 20000; i++) spin_count++;
        puts_e9("highhalf: heartbeat ");
        putdec(n);
        puts_e9(" ticks ");
        putdec(ticks);
        puts_e9("\n");
    }
}

void run_tests(void) {
    int r = compute(4);
    if (r != 1 + 1 + 2 + 3 + 4) sweb_assert("compute(4)");
    puts_e9("highhalf: compute(4) = ");
    putdec((uint64_t)r);
    puts_e9("\n");

    count_loop();
    if (counter != 55) sweb_assert("counter");
    puts_e9("highhalf: counter = ");
    putdec(counter);
    puts_e9("\n");

    irq_phase();
    puts_e9("highhalf: timer interrupts work, ticks = ");
    putdec(ticks);
    puts_e9("\n");

    page_fault_phase();
    puts_e9("highhalf: page fault handled, cr2 = ");
    puthex(last_cr2);
    puts_e9("\n");

    heartbeat_phase();
}

void startup(void) {
    puts_e9("highhalf: startup\n");
    main_user_regs = (struct Regs){ .rip = 0x8000000, .rsp = 0x7ffffffff000, .rflags = 0x202,
                                    .rax = 42, .rbx = 0x1234, .rcx = 3, .rdx = 4 };
    main_thread = (struct Thread){ .name_ = "init", .tid_ = 1, .user_registers_ = &main_user_regs, .next_ = 0 };
    currentThread = &main_thread;
    run_tests();
    puts_e9("highhalf: done\n");
    debug_exit(EXIT_OK);
}
