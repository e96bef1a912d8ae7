/*
 * syscall: SYSCALL/SYSRET, SWAPGS, FS/GS base MSRs, RDMSR/WRMSR faults, RDTSC/RDTSCP.
 * SDM references: Intel SDM Vol. 2 instruction pages (SYSCALL, SYSRET, SWAPGS, RDMSR,
 * WRMSR, RDTSC, RDTSCP) and Vol. 3A "Fast System Calls in 64-Bit Mode".
 */
#include "lib64.h"

extern void syscall_entry(void);
extern u64 sc_rcx, sc_r11, sc_rsp, sc_rax, sc_rflags, sc_cs, sc_ss, sc_count, sc_ret_r11, sc_ret_rcx, sc_mode;
extern u8 u_syscall[], u_syscall_insn[], u_after_syscall[], u_compat_target[], u_sysret[], u_sysret_insn[],
    u_swapgs[], u_swapgs_insn[], u_rdmsr[], u_rdmsr_insn[], u_rdtsc[], u_rdtsc_insn[];

static u64 uout[8] USER_SECTION;

#define FMASK_BITS (RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_NT | RFLAGS_AC)
#define STAR_VALUE ((0x23ull << 48) | (0x10ull << 32))
/* RFLAGS for ring 3 at the SYSCALL: CF, ZF, DF, AC set (DF and AC are in FMASK). */
#define USER_FLAGS (0x2 | RFLAGS_CF | RFLAGS_ZF | RFLAGS_DF | RFLAGS_AC)
/* R11 given to SYSRET: arithmetic flags, DF, OF, AC, plus bits SYSRET must drop
 * (3, 5, RF); expected RFLAGS = (R11 & 3C7FD7H) | 2. */
#define SYSRET_R11 (0x40CD5ull | 0x8 | 0x20 | RFLAGS_RF)

static u64 msr_buf[2];
static u64 *msr_arg_buf(void) { return msr_buf; }
static void do_rdmsr(void *p)
{
    u64 *a = p;
    a[1] = rdmsr((u32)a[0]);
}
static void do_wrmsr(void *p)
{
    u64 *a = p;
    wrmsr((u32)a[0], a[1]);
}

/* expect that faulted is 1 and that the exception was #GP(0) */
static void expect_gp0(const char *what, int faulted)
{
    if (!faulted)
        check_fail("%s: no exception", what);
    else if (last_fault.vector != 13 || last_fault.error != 0)
        check_fail("%s: vector %llu error 0x%llx (expected #GP(0))", what, last_fault.vector, last_fault.error);
}

static void setup_syscall(void)
{
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    wrmsr(MSR_STAR, STAR_VALUE);
    wrmsr(MSR_LSTAR, (u64)syscall_entry);
    wrmsr(MSR_FMASK, FMASK_BITS);
    sc_count = 0;
    sc_ret_rcx = 0;
    sc_mode = 0;
    sc_ret_r11 = 0x2;
}

static u64 do_syscall_from_user(void)
{
    memset(uout, 0, sizeof uout);
    return run_user2(u_syscall, user_stack_top, 0x2, (u64)uout, USER_FLAGS);
}

/* SYSCALL—Fast System Call: RCX = address of the next instruction, R11 = RFLAGS,
 * RFLAGS = RFLAGS AND NOT IA32_FMASK; RSP is not changed; RAX is preserved. */
static void t_syscall_regs(void)
{
    setup_syscall();
    u64 v = do_syscall_from_user();
    expect_eq("exit vector", v, VEC_USER_EXIT);
    expect_eq("SYSCALLs seen", sc_count, 1);
    expect_eq("RCX", sc_rcx, (u64)u_after_syscall);
    expect_eq("R11", sc_r11, USER_FLAGS);
    expect_eq("RFLAGS.DF/AC in the handler (in FMASK)", sc_rflags & (RFLAGS_DF | RFLAGS_AC), 0);
    expect_eq("RSP in the handler", sc_rsp, uout[5]);
    expect_eq("RAX in the handler", sc_rax, 0x1234);
}

/* SYSCALL—Fast System Call: RFLAGS = RFLAGS AND NOT(IA32_FMASK), so flags outside
 * FMASK (here CF and ZF) survive into the handler. QEMU TCG loses the arithmetic flags. */
static void t_syscall_unmasked(void)
{
    setup_syscall();
    do_syscall_from_user();
    expect_eq("RFLAGS in the handler", sc_rflags, (USER_FLAGS & ~(u64)FMASK_BITS) | 2);
}

/* SYSCALL—Fast System Call: CS.Selector = IA32_STAR[47:32] AND FFFCH (CPL 0),
 * SS.Selector = IA32_STAR[47:32] + 8. */
static void t_syscall_selectors(void)
{
    setup_syscall();
    do_syscall_from_user();
    expect_eq("CS in the handler", sc_cs, 0x10);
    expect_eq("SS in the handler", sc_ss, 0x18);
}

/* SYSRET—Return From Fast System Call (64-bit operand size): RIP = RCX,
 * RFLAGS = (R11 AND 3C7FD7H) OR 2, CS = IA32_STAR[63:48]+16 with RPL 3,
 * SS = IA32_STAR[63:48]+8 with RPL 3; RSP is not changed. */
static void t_sysretq(void)
{
    setup_syscall();
    sc_ret_r11 = SYSRET_R11;
    u64 v = do_syscall_from_user();
    expect_eq("exit vector (ring 3 went on after SYSRET)", v, VEC_USER_EXIT);
    expect_eq("RFLAGS after SYSRET", uout[0], (SYSRET_R11 & 0x3C7FD7) | 2);
    expect_eq("CS after SYSRET", uout[1], 0x33);
    expect_eq("SS after SYSRET", uout[2], 0x2b);
    expect_eq("RSP after SYSRET", uout[3], uout[5]);
    expect_eq("RCX after SYSRET", uout[4], (u64)u_after_syscall);
}

/* SYSRET—Return From Fast System Call (32-bit operand size): returns to
 * compatibility mode with CS = IA32_STAR[63:48] (RPL 3), SS = IA32_STAR[63:48]+8. */
static void t_sysretl(void)
{
    setup_syscall();
    sc_mode = 1;
    sc_ret_rcx = (u64)u_compat_target;
    u64 v = do_syscall_from_user();
    expect_eq("exit vector", v, VEC_USER_EXIT);
    expect_eq("CS at the compat-mode INT", last_fault.cs, 0x23);
    expect_eq("SS at the compat-mode INT", last_fault.ss, 0x2b);
    expect_eq("RIP (after the INT)", last_fault.rip, (u64)u_compat_target + 2);
}

/* SYSCALL—Fast System Call: #UD if IA32_EFER.SCE = 0. */
static void t_syscall_ud(void)
{
    setup_syscall();
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~(u64)EFER_SCE);
    u64 v = do_syscall_from_user();
    expect_eq("vector", v, 6);
    expect_eq("RIP", last_fault.rip, (u64)u_syscall_insn);
    expect_eq("handler not entered", sc_count, 0);
}

/* SYSRET—Return From Fast System Call: #GP(0) if CPL != 0. */
static void t_sysret_gp(void)
{
    setup_syscall();
    u64 v = run_user(u_sysret, user_stack_top, 0x2, 0);
    expect_eq("vector", v, 13);
    expect_eq("error code", last_fault.error, 0);
    expect_eq("RIP", last_fault.rip, (u64)u_sysret_insn);
}

static u64 read_gs0(void)
{
    u64 v;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(v));
    return v;
}
static u64 read_fs8(void)
{
    u64 v;
    __asm__ volatile("mov %%fs:8, %0" : "=r"(v));
    return v;
}

static u64 area_a[2] = { 0xaaaa0000aaaa0001ull, 0xaaaa0000aaaa0002ull };
static u64 area_b[2] = { 0xbbbb0000bbbb0001ull, 0xbbbb0000bbbb0002ull };

/* SWAPGS—Swap GS Base Register: exchanges IA32_GS_BASE and IA32_KERNEL_GS_BASE. */
static void t_swapgs(void)
{
    wrmsr(MSR_GS_BASE, (u64)area_a);
    wrmsr(MSR_KERNEL_GS_BASE, (u64)area_b);
    expect_eq("GS:0 before", read_gs0(), area_a[0]);
    __asm__ volatile("swapgs" ::: "memory");
    u64 gs = rdmsr(MSR_GS_BASE), kgs = rdmsr(MSR_KERNEL_GS_BASE), val = read_gs0();
    __asm__ volatile("swapgs" ::: "memory");
    expect_eq("GS_BASE after SWAPGS", gs, (u64)area_b);
    expect_eq("KERNEL_GS_BASE after SWAPGS", kgs, (u64)area_a);
    expect_eq("GS:0 after SWAPGS", val, area_b[0]);
    expect_eq("GS_BASE after a second SWAPGS", rdmsr(MSR_GS_BASE), (u64)area_a);
    wrmsr(MSR_GS_BASE, 0);
    wrmsr(MSR_KERNEL_GS_BASE, 0);
}

/* SWAPGS—Swap GS Base Register: #GP(0) if CPL != 0. */
static void t_swapgs_gp(void)
{
    u64 v = run_user(u_swapgs, user_stack_top, 0x2, 0);
    expect_eq("vector", v, 13);
    expect_eq("error code", last_fault.error, 0);
    expect_eq("RIP", last_fault.rip, (u64)u_swapgs_insn);
}

/* Segment loading in 64-bit mode (Vol. 3A, "Segment Loading Instructions in IA-32e
 * Mode" / WRMSR): IA32_FS_BASE and IA32_GS_BASE set the FS/GS bases and read back. */
static void t_fs_gs_base(void)
{
    wrmsr(MSR_FS_BASE, (u64)area_b);
    wrmsr(MSR_GS_BASE, (u64)area_a);
    expect_eq("RDMSR FS_BASE", rdmsr(MSR_FS_BASE), (u64)area_b);
    expect_eq("RDMSR GS_BASE", rdmsr(MSR_GS_BASE), (u64)area_a);
    expect_eq("FS:8", read_fs8(), area_b[1]);
    expect_eq("GS:0", read_gs0(), area_a[0]);
    wrmsr(MSR_FS_BASE, 0xffff800000001000ull); /* canonical upper-half value */
    expect_eq("RDMSR FS_BASE (upper half)", rdmsr(MSR_FS_BASE), 0xffff800000001000ull);
    wrmsr(MSR_FS_BASE, 0);
    wrmsr(MSR_GS_BASE, 0);
}

/* Segment Loading Instructions in IA-32e Mode: MOV to FS loads the base from the
 * descriptor (32 bits, zero-extended), replacing what WRMSR put there. */
static void t_mov_fs_base(void)
{
    /* data segment, base 0x00345000, limit 4 GiB */
    gdt[GDT_SPARE_FIRST] = 0x00CF92345000FFFFull;
    wrmsr(MSR_FS_BASE, 0x1234567890ull);
    __asm__ volatile("mov %w0, %%fs" : : "r"(GDT_SPARE_FIRST * 8));
    expect_eq("FS_BASE after MOV FS", rdmsr(MSR_FS_BASE), 0x00345000ull);
    __asm__ volatile("mov %w0, %%fs" : : "r"(0));
    gdt[GDT_SPARE_FIRST] = 0;
    wrmsr(MSR_FS_BASE, 0);
}

/* RDMSR / WRMSR: #GP(0) for a reserved or unimplemented MSR address. */
static void t_msr_unknown(void)
{
    u64 *a = msr_arg_buf();
    a[0] = 0x12345678;
    expect_gp0("RDMSR 0x12345678", try_call(do_rdmsr, a));
    a[1] = 0;
    expect_gp0("WRMSR 0x12345678", try_call(do_wrmsr, a));
}

/* RDMSR: #GP(0) if CPL != 0. */
static void t_rdmsr_cpl3(void)
{
    u64 v = run_user(u_rdmsr, user_stack_top, 0x2, MSR_EFER);
    expect_eq("vector", v, 13);
    expect_eq("error code", last_fault.error, 0);
    expect_eq("RIP", last_fault.rip, (u64)u_rdmsr_insn);
}

/* WRMSR: #GP(0) when writing a non-canonical address to IA32_FS_BASE. */
static void t_wrmsr_noncanonical(void)
{
    u64 *a = msr_arg_buf();
    a[0] = MSR_FS_BASE;
    a[1] = 0x0000800000000000ull;
    expect_gp0("WRMSR FS_BASE = 0x0000800000000000", try_call(do_wrmsr, a));
    wrmsr(MSR_FS_BASE, 0);
}

/* RDTSC—Read Time-Stamp Counter / Time-Stamp Counter (Vol. 3B): the TSC increases
 * monotonically. */
static void t_rdtsc(void)
{
    u64 first = rdtsc(), prev = first;
    int backwards = 0;
    for (int i = 0; i < 1000; i++) {
        u64 t = rdtsc();
        if (t < prev)
            backwards++;
        prev = t;
    }
    expect_eq("readings that went backwards", backwards, 0);
    expect_true("TSC advanced over 1000 reads", prev > first);
}

/* RDTSCP—Read Time-Stamp Counter and Processor ID: EDX:EAX = TSC, ECX = IA32_TSC_AUX. */
static void t_rdtscp(void)
{
    u32 a, b, c, d;
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    expect_true("CPUID.80000001H:EDX.RDTSCP[27] is 1", (d >> 27) & 1);
    wrmsr(MSR_TSC_AUX, 0x1234abcd);
    u64 before = rdtsc();
    u32 lo, hi, aux;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
    u64 t = ((u64)hi << 32) | lo;
    expect_eq("ECX", aux, 0x1234abcd);
    expect_true("TSC from RDTSCP >= an earlier RDTSC", t >= before);
    expect_eq("RDMSR TSC_AUX", rdmsr(MSR_TSC_AUX), 0x1234abcd);
    wrmsr(MSR_TSC_AUX, 0);
}

/* RDTSC—Read Time-Stamp Counter: with CR4.TSD=1, RDTSC at CPL > 0 is #GP(0); with
 * CR4.TSD=0 it is allowed at any CPL. */
static void t_rdtsc_tsd(void)
{
    write_cr4(read_cr4() & ~(u64)CR4_TSD);
    u64 v = run_user(u_rdtsc, user_stack_top, 0x2, 0);
    expect_eq("CR4.TSD=0: exit vector", v, VEC_USER_EXIT);
    write_cr4(read_cr4() | CR4_TSD);
    v = run_user(u_rdtsc, user_stack_top, 0x2, 0);
    expect_eq("CR4.TSD=1: vector", v, 13);
    expect_eq("CR4.TSD=1: error code", last_fault.error, 0);
    expect_eq("CR4.TSD=1: RIP", last_fault.rip, (u64)u_rdtsc_insn);
    (void)rdtsc(); /* still allowed at CPL 0 */
    write_cr4(read_cr4() & ~(u64)CR4_TSD);
}

void kernel_main(void)
{
    run_test("syscall-rcx-r11-rflags-mask", t_syscall_regs);
    run_test("syscall-keeps-unmasked-flags", t_syscall_unmasked);
    run_test("syscall-cs-ss-from-star", t_syscall_selectors);
    run_test("sysretq-to-ring3", t_sysretq);
    run_test("sysretl-to-compat-mode", t_sysretl);
    run_test("syscall-ud-without-efer-sce", t_syscall_ud);
    run_test("sysret-gp-at-cpl3", t_sysret_gp);
    run_test("swapgs-exchanges-gs-bases", t_swapgs);
    run_test("swapgs-gp-at-cpl3", t_swapgs_gp);
    run_test("fs-gs-base-msrs", t_fs_gs_base);
    run_test("mov-fs-loads-base-from-descriptor", t_mov_fs_base);
    run_test("rdmsr-wrmsr-unknown-msr-gp", t_msr_unknown);
    run_test("rdmsr-gp-at-cpl3", t_rdmsr_cpl3);
    run_test("wrmsr-fs-base-non-canonical-gp", t_wrmsr_noncanonical);
    run_test("rdtsc-monotonic", t_rdtsc);
    run_test("rdtscp-tsc-aux", t_rdtscp);
    run_test("rdtsc-cr4-tsd", t_rdtsc_tsd);
}
