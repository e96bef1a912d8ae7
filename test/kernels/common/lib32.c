/* The 32-bit test runtime: TSS, IDT, exception dispatch, test runner. */
#include "lib32.h"

volatile struct fault last_fault;
struct tss32 tss32 ALIGNED(16);
struct idt_gate32 idt32[256] ALIGNED(16);
trap_hook_t trap_hooks[256];
void (*restore_hook)(void);
extern u32 catch_top;
extern void catch_landing32(void);
extern void enter_user32(void *);

static u32 base_cr0, base_cr3, base_cr4;
static u64 base_efer;
static int have_efer;
static int in_test;

void set_gate32(int vec, void *handler, u16 sel, int type, int dpl)
{
    u32 a = (u32)handler;
    struct idt_gate32 *g = &idt32[vec];
    g->off0 = (u16)a;
    g->sel = sel;
    g->zero = 0;
    g->type_attr = (u8)(0x80 | (dpl << 5) | type);
    g->off1 = (u16)(a >> 16);
}

void set_gate32_present(int vec, int present)
{
    if (present)
        idt32[vec].type_attr |= 0x80;
    else
        idt32[vec].type_attr &= 0x7f;
}

void load_idt32(void)
{
    struct {
        u16 pad;
        u16 limit;
        u32 base;
    } __attribute__((packed, aligned(4))) d = { 0, sizeof idt32 - 1, (u32)idt32 };
    __asm__ volatile("lidt %0" : : "m"(d.limit) : "memory");
}

static void default_idt(void)
{
    for (int v = 0; v < 256; v++)
        set_gate32(v, isr32_stubs + 16 * v, KCODE32, 0xE, 0);
    set_gate32(VEC_USER_EXIT, isr32_stubs + 16 * VEC_USER_EXIT, KCODE32, 0xE, 3);
    set_gate32(VEC_RESUME, isr32_stubs + 16 * VEC_RESUME, KCODE32, 0xE, 3);
}

static void load_tss(void)
{
    memset(&tss32, 0, sizeof tss32);
    tss32.esp0 = (u32)esp0_stack_top;
    tss32.ss0 = KDATA;
    tss32.iomap_base = sizeof tss32;
    gdt[TSS32_SEL / 8] = seg_desc((u32)&tss32, sizeof tss32 - 1, 0x89, 0x0);
    __asm__ volatile("ltr %w0" : : "r"(TSS32_SEL));
}

static int hook_resume(struct frame32 *f)
{
    (void)f;
    return 1;
}

void baseline_capture(void)
{
    base_cr0 = read_cr0();
    base_cr3 = read_cr3();
    base_cr4 = read_cr4();
    if (have_efer)
        base_efer = rdmsr(MSR_EFER);
}

void restore_baseline(void)
{
    if (read_cr4() != base_cr4)
        write_cr4(base_cr4);
    if (read_cr3() != base_cr3)
        write_cr3(base_cr3);
    if (read_cr0() != base_cr0)
        write_cr0(base_cr0);
    if (have_efer && rdmsr(MSR_EFER) != base_efer)
        wrmsr(MSR_EFER, base_efer);
    load_kernel_segments();
    for (int v = 0; v < 256; v++)
        trap_hooks[v] = 0;
    trap_hooks[VEC_RESUME] = hook_resume;
    if (restore_hook) {
        restore_hook();
    } else {
        default_idt();
        load_idt32();
        load_tss();
    }
    __asm__ volatile("pushfl; andl $~0x40400, (%%esp); popfl" ::: "cc", "memory");
}

void trap_dispatch32(struct frame32 *f)
{
    u32 cr2 = read_cr2();
    u16 ss;
    __asm__ volatile("mov %%ss, %0" : "=r"(ss));
    int from_user = (f->cs & 3) != 0;
    last_fault.vector = f->vector;
    last_fault.error = f->error;
    last_fault.rip = f->eip;
    last_fault.cs = f->cs;
    last_fault.rflags = f->eflags;
    last_fault.rsp = from_user ? f->esp : 0;
    last_fault.ss = from_user ? f->ss : 0;
    last_fault.cr2 = cr2;
    last_fault.frame_addr = (u32)&f->eip;
    last_fault.handler_ss = ss;
    last_fault.eax = f->eax;
    last_fault.ebx = f->ebx;
    last_fault.ecx = f->ecx;
    last_fault.edx = f->edx;
    last_fault.esi = f->esi;
    last_fault.edi = f->edi;
    last_fault.ebp = f->ebp;
    last_fault.count++;

    if (trap_hooks[f->vector] && trap_hooks[f->vector](f))
        return;
    if (catch_top) {
        u32 *ctx = (u32 *)catch_top;
        f->eip = (u32)catch_landing32;
        f->cs = KCODE32;
        f->eflags = ctx[1];
        f->ds = f->es = KDATA;
        f->fs = f->gs = 0;
        return;
    }
    if (in_test)
        check_unexpected(f->vector, f->eip, f->error, cr2);
    else
        kprintf("not ok runtime: unexpected vector %u at EIP=0x%x error=0x%x CR2=0x%x\n", f->vector, f->eip,
                f->error, cr2);
    report_done();
}

struct user32_entry {
    u32 eip, esp, eflags, edi;
};

u32 run_user32(void *eip, void *esp, u32 eflags, u32 arg)
{
    struct user32_entry e = { (u32)eip, (u32)esp, eflags, arg };
    last_fault.vector = ~0ull;
    try_call(enter_user32, &e);
    load_kernel_segments();
    return (u32)last_fault.vector;
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

void kmain32(void)
{
    const char *cmdline = "";
    if (mb_magic == MULTIBOOT_BOOTLOADER_MAGIC) {
        struct multiboot_info *mbi = (struct multiboot_info *)mb_info;
        if (mbi->flags & (1u << 2))
            cmdline = (const char *)mbi->cmdline;
    }
    report_set_cmdline(cmdline);
    u32 a, b, c, d;
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    if (a >= 0x80000001) {
        cpuid(0x80000001, 0, &a, &b, &c, &d);
        have_efer = ((d >> 29) & 1) || ((d >> 11) & 1) || ((d >> 20) & 1);
    }
    baseline_capture();
    restore_baseline();
    kernel_main();
    report_done();
}
