/*
 * minikernel CPU setup: IDT (vectors 0..47 through isr.asm), exception
 * reports, the 8259 pair remapped to 0x20/0x28, PIT channel 0 at 100 Hz.
 */
#include "kernel.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1
#define PIC_EOI 0x20
#define IRQ_BASE 0x20

#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_INPUT_HZ 1193182

struct idt_gate {
    uint16_t off_lo;
    uint16_t sel;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t off_mid;
    uint32_t off_hi;
    uint32_t zero;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));
extern const uint64_t isr_table[48];
static irq_handler_t irq_handlers[16];
volatile uint64_t ticks;
static uint8_t pic_mask1 = 0xFF, pic_mask2 = 0xFF;

static const char *const exc_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
    "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor overrun",
    "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved 15", "#MF x87 FP error", "#AC alignment check", "#MC machine check",
    "#XM SIMD FP", "#VE virtualization", "#CP control protection", "reserved 22", "reserved 23",
    "reserved 24", "reserved 25", "reserved 26", "reserved 27", "#HV hypervisor injection",
    "#VC VMM communication", "#SX security", "reserved 31",
};

void halt_forever(void)
{
    for (;;) {
        cli();
        hlt();
    }
}

void idt_init(void)
{
    for (int v = 0; v < 48; v++) {
        uint64_t a = isr_table[v];
        idt[v].off_lo = (uint16_t)a;
        idt[v].sel = 0x08;
        idt[v].ist = 0;
        idt[v].type_attr = 0x8E;    /* present, DPL 0, 64-bit interrupt gate */
        idt[v].off_mid = (uint16_t)(a >> 16);
        idt[v].off_hi = (uint32_t)(a >> 32);
        idt[v].zero = 0;
    }
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

static void exception(struct regs *r)
{
    console_set_color(VGA_WHITE, VGA_RED);
    kprintf("\nEXCEPTION %lu (%s) error 0x%lx\n", r->vector, exc_names[r->vector], r->error);
    kprintf("  rip 0x%016lx  cs 0x%lx  rflags 0x%lx\n", r->rip, r->cs, r->rflags);
    kprintf("  cr2 0x%016lx  rsp 0x%016lx\n", read_cr2(), r->rsp);
    kprintf("  rax 0x%016lx rbx 0x%016lx rcx 0x%016lx rdx 0x%016lx\n", r->rax, r->rbx, r->rcx, r->rdx);
    kprintf("  rsi 0x%016lx rdi 0x%016lx rbp 0x%016lx\n", r->rsi, r->rdi, r->rbp);
    if (r->vector == 14)
        kprintf("  page fault: %s, %s, %s mode%s\n",
                (r->error & 1) ? "protection violation" : "not present",
                (r->error & 2) ? "write" : "read", (r->error & 4) ? "user" : "supervisor",
                (r->error & 16) ? ", instruction fetch" : "");
    kprintf("system halted\n");
    halt_forever();
}

void isr_dispatch(struct regs *r)
{
    if (r->vector < 32) {
        exception(r);
        return;
    }
    int irq = (int)r->vector - IRQ_BASE;
    /* spurious IRQ7/IRQ15: ISR bit clear -> no EOI (IRQ15 still needs the master's) */
    if (irq == 7 || irq == 15) {
        uint16_t cmd = irq == 7 ? PIC1_CMD : PIC2_CMD;
        outb(cmd, 0x0B);            /* OCW3: read ISR */
        if (!(inb(cmd) & 0x80)) {
            if (irq == 15) outb(PIC1_CMD, PIC_EOI);
            return;
        }
    }
    if (irq_handlers[irq]) irq_handlers[irq]();
    if (irq >= 8) outb(PIC2_CMD, PIC_EOI);
    outb(PIC1_CMD, PIC_EOI);
}

void irq_set_handler(int irq, irq_handler_t h) { irq_handlers[irq] = h; }

static inline void io_wait(void) { outb(0x80, 0); }

void pic_init(void)
{
    outb(PIC1_CMD, 0x11);           /* ICW1: edge, cascade, ICW4 needed */
    io_wait();
    outb(PIC2_CMD, 0x11);
    io_wait();
    outb(PIC1_DATA, IRQ_BASE);      /* ICW2: vector base 0x20 */
    io_wait();
    outb(PIC2_DATA, IRQ_BASE + 8);  /* 0x28 */
    io_wait();
    outb(PIC1_DATA, 0x04);          /* ICW3: slave on IRQ2 */
    io_wait();
    outb(PIC2_DATA, 0x02);          /* ICW3: slave identity 2 */
    io_wait();
    outb(PIC1_DATA, 0x01);          /* ICW4: 8086 mode, normal EOI */
    io_wait();
    outb(PIC2_DATA, 0x01);
    io_wait();
    pic_mask1 = 0xFB;               /* all masked except the cascade (IRQ2) */
    pic_mask2 = 0xFF;
    outb(PIC1_DATA, pic_mask1);
    outb(PIC2_DATA, pic_mask2);
}

void pic_unmask(int irq)
{
    if (irq < 8) {
        pic_mask1 &= (uint8_t)~(1 << irq);
        outb(PIC1_DATA, pic_mask1);
    } else {
        pic_mask2 &= (uint8_t)~(1 << (irq - 8));
        outb(PIC2_DATA, pic_mask2);
    }
}

static void pit_irq(void) { ticks++; }

void pit_init(void)
{
    uint16_t divisor = (PIT_INPUT_HZ + PIT_HZ / 2) / PIT_HZ;     /* 11932 */
    outb(PIT_CMD, 0x36);            /* channel 0, lobyte/hibyte, mode 3 (square wave), binary */
    outb(PIT_CH0, divisor & 0xFF);
    outb(PIT_CH0, divisor >> 8);
    irq_set_handler(0, pit_irq);
    pic_unmask(0);
}

void cpu_describe(char vendor[13], char brand[49], uint32_t *family, uint32_t *model, uint32_t *stepping)
{
    uint32_t a, b, c, d;
    cpuid(0, 0, &a, &b, &c, &d);
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    vendor[12] = 0;
    uint32_t max = a;
    *family = *model = *stepping = 0;
    if (max >= 1) {
        cpuid(1, 0, &a, &b, &c, &d);
        uint32_t fam = (a >> 8) & 0xF, mod = (a >> 4) & 0xF;
        if (fam == 0xF) fam += (a >> 20) & 0xFF;
        if (fam == 0x6 || fam >= 0xF) mod |= ((a >> 16) & 0xF) << 4;
        *family = fam;
        *model = mod;
        *stepping = a & 0xF;
    }
    brand[0] = 0;
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    if (a >= 0x80000004) {
        uint32_t *w = (uint32_t *)brand;
        for (uint32_t leaf = 0x80000002; leaf <= 0x80000004; leaf++, w += 4)
            cpuid(leaf, 0, &w[0], &w[1], &w[2], &w[3]);
        brand[48] = 0;
        /* trim leading spaces */
        char *p = brand;
        while (*p == ' ') p++;
        if (p != brand) memmove(brand, p, strlen(p) + 1);
    }
}
