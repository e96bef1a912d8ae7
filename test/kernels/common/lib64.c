/* The 64-bit test runtime: TSS, IDT, exception dispatch, test runner. */
#include "lib64.h"

volatile struct fault last_fault;
struct tss64 tss ALIGNED(16);
struct idt_gate idt[256] ALIGNED(16);
trap_hook_t trap_hooks[256];

extern u64 catch_top;
extern void catch_landing(void);
extern void enter_user(void *);
extern void load_kernel_segments(void);

static u64 base_cr0, base_cr3, base_cr4, base_efer;
static int in_test;

void set_gate(int vec, void *handler, u16 sel, int type, int dpl, int ist)
{
    u64 a = (u64)handler;
    struct idt_gate *g = &idt[vec];
    g->off0 = (u16)a;
    g->sel = sel;
    g->ist = (u8)ist;
    g->type_attr = (u8)(0x80 | (dpl << 5) | type);
    g->off1 = (u16)(a >> 16);
    g->off2 = (u32)(a >> 32);
    g->reserved = 0;
}

void set_gate_present(int vec, int present)
{
    if (present)
        idt[vec].type_attr |= 0x80;
    else
        idt[vec].type_attr &= 0x7f;
}

void set_gate_ist(int vec, int ist) { idt[vec].ist = (u8)ist; }

void load_idt(struct idt_gate *table, u16 limit)
{
    struct {
        u16 limit;
        u64 base;
    } __attribute__((packed)) d = { limit, (u64)table };
    __asm__ volatile("lidt %0" : : "m"(d) : "memory");
}

static void default_idt(void)
{
    for (int v = 0; v < 256; v++)
        set_gate(v, isr_stubs + 16 * v, KCODE64, 0xE, 0, 0);
    set_gate(8, isr_stubs + 16 * 8, KCODE64, 0xE, 0, 2); /* #DF on IST2 */
    set_gate(VEC_USER_EXIT, isr_stubs + 16 * VEC_USER_EXIT, KCODE64, 0xE, 3, 0);
    set_gate(VEC_RESUME, isr_stubs + 16 * VEC_RESUME, KCODE64, 0xE, 3, 0);
}

static void load_tss(void)
{
    u64 base = (u64)&tss;
    u64 limit = sizeof(tss) - 1;
    gdt[7] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
             (((base >> 24) & 0xff) << 56);
    gdt[8] = base >> 32;
    __asm__ volatile("ltr %w0" : : "r"(TSS_SEL));
}

static void tss_init(void)
{
    memset(&tss, 0, sizeof tss);
    tss.rsp0 = (u64)rsp0_stack_top;
    tss.ist[0] = (u64)ist1_stack_top;
    tss.ist[1] = (u64)ist2_stack_top;
    tss.iomap_base = sizeof(tss); /* no I/O permission bitmap */
}

static int is_trap_hook_resume(struct frame *f)
{
    (void)f;
    return 1;
}

void restore_baseline(void)
{
    if (read_cr3() != base_cr3)
        write_cr3(base_cr3);
    if (read_cr4() != base_cr4)
        write_cr4(base_cr4);
    if (read_cr0() != base_cr0)
        write_cr0(base_cr0);
    if (rdmsr(MSR_EFER) != base_efer)
        wrmsr(MSR_EFER, base_efer);
    load_kernel_segments();
    default_idt();
    load_idt(idt, sizeof idt - 1);
    tss_init();
    load_tss(); /* rewrites the descriptor as available (type 9) first */
    for (int v = 0; v < 256; v++)
        trap_hooks[v] = 0;
    trap_hooks[VEC_RESUME] = is_trap_hook_resume;
    /* clear DF and AC (not CLAC: it is #UD without SMAP) */
    __asm__ volatile("pushfq; andq $~0x40400, (%%rsp); popfq" ::: "cc", "memory");
}

void baseline_capture(void)
{
    base_cr0 = read_cr0();
    base_cr3 = read_cr3();
    base_cr4 = read_cr4();
    base_efer = rdmsr(MSR_EFER);
}

void trap_dispatch(struct frame *f)
{
    u64 cr2 = read_cr2();
    last_fault.vector = f->vector;
    last_fault.error = f->error;
    last_fault.rip = f->rip;
    last_fault.cs = f->cs;
    last_fault.rflags = f->rflags;
    last_fault.rsp = f->rsp;
    last_fault.ss = f->ss;
    last_fault.cr2 = cr2;
    last_fault.frame_addr = (u64)&f->rip;
    last_fault.handler_ss = read_ss();
    last_fault.rax = f->rax;
    last_fault.rbx = f->rbx;
    last_fault.rcx = f->rcx;
    last_fault.rdx = f->rdx;
    last_fault.rsi = f->rsi;
    last_fault.rdi = f->rdi;
    last_fault.rbp = f->rbp;
    last_fault.r8 = f->r8;
    last_fault.r9 = f->r9;
    last_fault.r10 = f->r10;
    last_fault.r11 = f->r11;
    last_fault.count++;

    if (trap_hooks[f->vector] && trap_hooks[f->vector](f))
        return;
    if (catch_top) {
        u64 *ctx = (u64 *)catch_top;
        f->rip = (u64)catch_landing;
        f->cs = KCODE64;
        f->rsp = (u64)ctx;
        f->ss = KDATA;
        f->rflags = ctx[1];
        return;
    }
    /* Nothing to unwind to: report and stop. */
    if (in_test)
        check_unexpected(f->vector, f->rip, f->error, cr2);
    else
        kprintf("not ok runtime: unexpected vector %llu at RIP=0x%llx error=0x%llx CR2=0x%llx\n", f->vector, f->rip,
                f->error, cr2);
    report_done();
}

struct user_entry {
    u64 rip, rsp, rflags, rdi, rsi;
};

u64 run_user(void *rip, void *rsp, u64 rflags, u64 arg) { return run_user2(rip, rsp, rflags, arg, 0); }

u64 run_user2(void *rip, void *rsp, u64 rflags, u64 rdi, u64 rsi)
{
    struct user_entry e = { (u64)rip, (u64)rsp, rflags, rdi, rsi };
    last_fault.vector = ~0ull;
    try_call(enter_user, &e);
    load_kernel_segments();
    return last_fault.vector;
}

static void call_void(void *fn) { ((void (*)(void))fn)(); }

void run_test(const char *name, void (*fn)(void))
{
    if (report_skipped(name)) {
        check_skip(name, "listed in skip= on the command line");
        return;
    }
    check_begin(name);
    in_test = 1;
    if (try_call(call_void, (void *)fn)) {
        restore_baseline();
        check_unexpected(last_fault.vector, last_fault.rip, last_fault.error, last_fault.cr2);
    } else {
        restore_baseline();
        check_end();
    }
    in_test = 0;
}

void kmain64(void)
{
    const char *cmdline = "";
    if (mb_magic == MULTIBOOT_BOOTLOADER_MAGIC) {
        struct multiboot_info *mbi = (struct multiboot_info *)(u64)mb_info;
        if (mbi->flags & (1u << 2))
            cmdline = (const char *)(u64)mbi->cmdline;
    }
    report_set_cmdline(cmdline);
    baseline_capture();
    restore_baseline();
    kernel_main();
    report_done();
}
