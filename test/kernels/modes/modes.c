/*
 * modes: 32-bit protected mode (segmentation, privilege), then IA-32e mode
 * (compatibility and 64-bit modes) and back out.
 * SDM references: Intel SDM Vol. 3A "Protection" (chapter 5), "Segment Descriptors",
 * "System Architecture Overview", "IA-32e Mode" initialization; Vol. 2 instruction pages.
 */
#include "lib32.h"

#define CS2_BASE 0x1000
#define CS2_SEL (10 * 8)
#define GATE_SEL (11 * 8)
#define SEG_A (12 * 8) /* spare data-segment slots used by the tests */
#define SEG_B (13 * 8)

extern u32 probe_sel, fc_cs_after, fc_cs_inside, fc_eip_inside, fc_pushed_cs;
extern u32 cg_esp, cg_eip, cg_cs, cg_esp3, cg_ss3, cg_cs0, cg_ss0, cg_count;
extern u8 seg_read_load[], seg_read_insn[], seg_write_insn[], ss_read_insn[], load_ss_insn[], fs_null_read_insn[],
    cs_write_insn[], pm_ud2_insn[], cs2_eip_label[], gate_target[];
extern void seg_read(u32), seg_write(u32), ss_read(u32), load_ss(u32), fs_null_read(u32), cs_write(u32),
    pm_ud2(void), far_call_test(void);
extern u32 dec_probe(void);
extern u8 u_callgate[], u_callgate_ret[], u_ud2_32[], u_ud2_32_insn[], u_load_kdata[], u_load_kdata_insn[];

extern void lm_enable_paging(void), lm_leave(void), set_pg_probe(void), call64(void (*fn)(void));
extern void lm_exec(void), lm_compat_roundtrip(void), lm_jmp_far_direct(void), lm_null_ss(void), lm_clear_pg(void);
extern u8 lm_rip_label[], lm_jmp_far_insn[], lm_clear_pg_insn[], set_pg_insn[], lm_isr_stubs[];
extern u64 lm_out[16];
extern u8 idt64[256 * 16];

static u32 user_out[4] USER_SECTION;

static int try_u32(void (*fn)(u32), u32 arg) { return try_call((void (*)(void *))(void (*)(void))fn, (void *)arg); }

static void expect_fault(const char *what, int faulted, u64 vector, u64 error, void *rip)
{
    if (!faulted) {
        check_fail("%s: no exception", what);
        return;
    }
    if (last_fault.vector != vector || last_fault.error != error)
        check_fail("%s: vector %llu error 0x%llx (expected vector %llu error 0x%llx)", what, last_fault.vector,
                   last_fault.error, vector, error);
    if (rip && last_fault.rip != (u32)rip)
        check_fail("%s: EIP 0x%llx (expected 0x%x)", what, last_fault.rip, (u32)rip);
}

/* ================= 32-bit protected mode ================= */

/* Protected mode entry state (multiboot gives CR0.PE=1, CR0.PG=0; "System Control
 * Registers"): also the loader's EAX magic. */
static void t_pm_state(void)
{
    expect_eq("multiboot EAX", mb_magic, MULTIBOOT_BOOTLOADER_MAGIC);
    expect_eq("CR0.PE", read_cr0() & CR0_PE, CR0_PE);
    expect_eq("CR0.PG", read_cr0() & CR0_PG, 0);
    expect_eq("CPL (CS.RPL)", read_cs() & 3, 0);
}

/* Limit Checking: an access beyond a data segment's limit is #GP(0); the segment's
 * base is added to the offset. Byte-granular limit 0xFFF: offsets 0..0xFFF valid. */
static volatile u32 limit_target[2] ALIGNED(16) = { 0xfeedf00d, 0 };
static void t_seg_limit(void)
{
    u32 base = (u32)limit_target - 0xffc; /* so that offset 0xFFC is limit_target[0] */
    gdt[SEG_A / 8] = seg_desc(base, 0xfff, 0x92, 0x4);
    probe_sel = SEG_A;
    expect_eq("read at offset 0xFFC faulted", try_u32(seg_read, 0xffc), 0);
    expect_eq("value read through the base", probe_value, 0xfeedf00d);
    expect_fault("dword read at 0xFFD (crosses the limit)", try_u32(seg_read, 0xffd), 13, 0, seg_read_insn);
    expect_fault("read at 0x1000", try_u32(seg_read, 0x1000), 13, 0, seg_read_insn);
}

/* Limit Checking: a stack-segment (SS) reference beyond the limit is #SS(0).
 * SS: base 0, limit 8 MiB (G=1), so the current stack stays valid. */
static void t_ss_limit(void)
{
    gdt[SEG_A / 8] = seg_desc(0, 0x7ff, 0x92, 0xc);
    probe_sel = SEG_A;
    expect_eq("SS read inside the limit faulted", try_u32(ss_read, 0x100000), 0);
    expect_fault("SS read at 9 MiB", try_u32(ss_read, 0x900000), 12, 0, ss_read_insn);
}

/* Limit Checking (expand-down segments): valid offsets are limit+1 .. FFFFFFFFH (B=1). */
static void t_expand_down(void)
{
    gdt[SEG_A / 8] = seg_desc(0, 0xffff, 0x96, 0x4); /* data, read/write, expand-down, B=1 */
    probe_sel = SEG_A;
    expect_fault("read at 0x8000 (below limit+1)", try_u32(seg_read, 0x8000), 13, 0, seg_read_insn);
    expect_fault("read at 0xFFFF (= limit)", try_u32(seg_read, 0xffff), 13, 0, seg_read_insn);
    expect_eq("read at 0x10000 (limit+1) faulted", try_u32(seg_read, 0x10000), 0);
    expect_eq("read at (u32)limit_target faulted", try_u32(seg_read, (u32)limit_target), 0);
    expect_eq("value", probe_value, 0xfeedf00d);
}

/* Segment Descriptor Tables / MOV: a null selector may be loaded into DS, ES, FS, GS,
 * but a memory reference through it is #GP(0). */
static void t_null_use(void)
{
    expect_fault("read through null FS", try_u32(fs_null_read, 0x1000), 13, 0, fs_null_read_insn);
}

/* MOV—Move (SS): loading SS with a null selector is #GP(0) in protected mode. */
static void t_null_ss(void)
{
    expect_fault("MOV SS, 0", try_u32(load_ss, 0), 13, 0, load_ss_insn);
    expect_eq("SS unchanged", read_ss(), KDATA);
}

/* MOV—Move / Segment-Not-Present: a data segment with P=0 into ES is #NP(selector); into
 * SS it is #SS(selector). */
static void t_not_present(void)
{
    gdt[SEG_A / 8] = seg_desc(0, 0xfffff, 0x12, 0xc); /* P=0 */
    probe_sel = SEG_A;
    expect_fault("MOV ES", try_u32(seg_read, 0), 11, SEG_A, seg_read_load);
    expect_fault("MOV SS", try_u32(load_ss, SEG_A), 12, SEG_A, load_ss_insn);
}

/* Type Checking: an execute-only code segment cannot be loaded into ES: #GP(selector). */
static void t_type_load(void)
{
    gdt[SEG_A / 8] = seg_desc(0, 0xfffff, 0x98, 0xc); /* code, execute-only */
    probe_sel = SEG_A;
    expect_fault("execute-only code into ES", try_u32(seg_read, 0), 13, SEG_A, seg_read_load);
}

/* Type Checking: a read-only data segment cannot be written (#GP(0)); a code segment is
 * never writable (a write through a CS override is #GP(0)). */
static void t_type_write(void)
{
    gdt[SEG_B / 8] = seg_desc(0, 0xfffff, 0x90, 0xc); /* data, read-only */
    probe_sel = SEG_B;
    expect_eq("read of a read-only segment faulted", try_u32(seg_read, (u32)limit_target), 0);
    expect_fault("write to a read-only segment", try_u32(seg_write, (u32)limit_target), 13, 0, seg_write_insn);
    expect_fault("write through CS", try_u32(cs_write, (u32)limit_target + 4), 13, 0, cs_write_insn);
}

/* Privilege Level Checking When Accessing Data Segments: at CPL 3, loading DS with a
 * DPL 0 data segment is #GP(selector). */
static void t_data_dpl(void)
{
    u32 v = run_user32(u_load_kdata, user_stack_top, 0x2, 0);
    expect_eq("vector", v, 13);
    expect_eq("error code", last_fault.error, KDATA);
    expect_eq("EIP", last_fault.rip, (u32)u_load_kdata_insn);
}

/* Direct Calls or Jumps to Code Segments / CALL and RET (far): CALL far loads CS and an
 * EIP relative to the new segment's base, pushes the old CS:EIP; RET far returns. */
static void t_far_call(void)
{
    gdt[CS2_SEL / 8] = seg_desc(CS2_BASE, 0xfffff - 1, 0x9a, 0xc); /* code, base 0x1000 */
    far_call_test();
    expect_eq("CS inside", fc_cs_inside, CS2_SEL);
    expect_eq("EIP inside (offset from the base)", fc_eip_inside, (u32)cs2_eip_label - CS2_BASE);
    expect_eq("pushed CS", fc_pushed_cs & 0xffff, KCODE32);
    expect_eq("CS after RET far", fc_cs_after, KCODE32);
}

/* Calling Procedures Using Call Gates / Stack Switching: a far call from CPL 3 through a
 * DPL 3 call gate to a DPL 0 code segment switches to SS0:ESP0 from the TSS and pushes
 * the caller's SS, ESP, CS, EIP; RET far goes back to CPL 3 and its stack. */
static void t_call_gate(void)
{
    u32 off = (u32)gate_target;
    gdt[GATE_SEL / 8] = (off & 0xffff) | ((u64)KCODE32 << 16) | (0xECull << 40) | ((u64)(off >> 16) << 48);
    cg_count = 0;
    memset(user_out, 0, sizeof user_out);
    u32 v = run_user32(u_callgate, user_stack_top, 0x2, (u32)user_out);
    expect_eq("exit vector", v, VEC_USER_EXIT);
    expect_eq("gate entered", cg_count, 1);
    expect_eq("CS in the gate target", cg_cs0, KCODE32);
    expect_eq("SS in the gate target (TSS.SS0)", cg_ss0, KDATA);
    expect_eq("ESP in the gate target", cg_esp, (u32)esp0_stack_top - 16);
    expect_eq("pushed EIP", cg_eip, (u32)u_callgate_ret);
    expect_eq("pushed CS", cg_cs & 0xffff, UCODE32);
    expect_eq("pushed ESP", cg_esp3, user_out[3]);
    expect_eq("pushed SS", cg_ss3 & 0xffff, UDATA);
    expect_eq("CS after RET far", user_out[0], UCODE32);
    expect_eq("SS after RET far", user_out[1], UDATA);
    expect_eq("ESP after RET far", user_out[2], user_out[3]);
}

/* Exception and Interrupt Handling in protected mode / Stack Switching: an exception at
 * the same privilege level pushes EFLAGS, CS, EIP only (no stack switch). */
static void t_exc_same_pl(void)
{
    expect_fault("ud2", try_call((void (*)(void *))pm_ud2, 0), 6, 0, pm_ud2_insn);
    expect_eq("frame address (EIP slot)", last_fault.frame_addr, probe_esp - 12);
    expect_eq("pushed CS", last_fault.cs & 0xffff, KCODE32);
}

/* Stack Switching: an exception at CPL 3 switches to SS0:ESP0 of the TSS and pushes the
 * old SS and ESP above EFLAGS, CS, EIP. */
static void t_exc_ring3(void)
{
    u32 v = run_user32(u_ud2_32, user_stack_top, 0x2, 0);
    expect_eq("vector", v, 6);
    expect_eq("EIP", last_fault.rip, (u32)u_ud2_32_insn);
    expect_eq("frame address (EIP slot)", last_fault.frame_addr, (u32)esp0_stack_top - 20);
    expect_eq("pushed ESP", last_fault.rsp, last_fault.ebx);
    expect_eq("pushed SS", last_fault.ss & 0xffff, UDATA);
    expect_eq("handler SS (TSS.SS0)", last_fault.handler_ss, KDATA);
}

/* DEC (Vol. 2A): opcode 48H is DEC EAX in 32-bit code (a REX prefix only in 64-bit mode). */
static void t_dec_32(void) { expect_eq("EAX after 48H", dec_probe(), 4); }

/* ================= IA-32e mode ================= */

static void lm_restore(void)
{
    __asm__ volatile("lidt idt64_desc" ::: "memory");
}

static u64 lm_pml4[512] ALIGNED(4096), lm_pdpt[512] ALIGNED(4096), lm_pd[512] ALIGNED(4096);

/* CPUID (Vol. 2A): basic leaves up to at least 7, extended leaves with LM, NX, and the
 * features long mode needs (PAE, MSR, PSE, PGE). */
static void t_cpuid(void)
{
    u32 a, b, c, d;
    cpuid(0, 0, &a, &b, &c, &d);
    expect_true("max basic leaf >= 7", a >= 7);
    cpuid(1, 0, &a, &b, &c, &d);
    expect_true("CPUID.1:EDX.PSE[3]", (d >> 3) & 1);
    expect_true("CPUID.1:EDX.MSR[5]", (d >> 5) & 1);
    expect_true("CPUID.1:EDX.PAE[6]", (d >> 6) & 1);
    expect_true("CPUID.1:EDX.PGE[13]", (d >> 13) & 1);
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    expect_true("max extended leaf >= 0x80000008", a >= 0x80000008);
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    expect_true("CPUID.80000001H:EDX.LM[29]", (d >> 29) & 1);
    expect_true("CPUID.80000001H:EDX.NX[20]", (d >> 20) & 1);
    expect_true("CPUID.80000001H:EDX.SYSCALL[11]", (d >> 11) & 1);
    cpuid(0x80000008, 0, &a, &b, &c, &d);
    expect_true("MAXPHYADDR in 36..52", (a & 0xff) >= 36 && (a & 0xff) <= 52);
    expect_true("linear address width >= 48", ((a >> 8) & 0xff) >= 48);
}

static void build_lm_tables(void)
{
    for (int i = 0; i < 512; i++)
        lm_pd[i] = ((u64)i << 21) | 0x83;
    lm_pdpt[0] = (u32)lm_pd | 0x3;
    lm_pml4[0] = (u32)lm_pdpt | 0x3;
    for (int v = 0; v < 256; v++) {
        u32 h = (u32)lm_isr_stubs + 16 * v;
        u8 *g = idt64 + 16 * v;
        *(u16 *)(g + 0) = (u16)h;
        *(u16 *)(g + 2) = KCODE64;
        g[4] = 0;
        g[5] = 0x8e;
        *(u16 *)(g + 6) = (u16)(h >> 16);
        *(u32 *)(g + 8) = 0;
        *(u32 *)(g + 12) = 0;
    }
}

/* Initializing IA-32e Mode: CR0.PG=1 with EFER.LME=1 requires CR4.PAE=1, else #GP(0). */
static void t_lm_needs_pae(void)
{
    write_cr3((u32)lm_pml4);
    write_cr4(read_cr4() & ~CR4_PAE);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_LME);
    expect_fault("MOV CR0 (PG=1, PAE=0)", try_call((void (*)(void *))set_pg_probe, 0), 13, 0, set_pg_insn);
    expect_eq("CR0.PG", read_cr0() & CR0_PG, 0);
    expect_eq("EFER.LMA", rdmsr(MSR_EFER) & EFER_LMA, 0);
}

/* Turn on IA-32e mode (identity map, PAE, LME, PG); C code continues in compatibility mode. */
static void enter_lm(void)
{
    write_cr3((u32)lm_pml4);
    write_cr4(read_cr4() | CR4_PAE);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_LME);
    lm_enable_paging();
    if (rdmsr(MSR_EFER) & EFER_LMA) {
        /* the new baseline: restore_baseline() must not drop CR4.PAE in IA-32e mode */
        restore_hook = lm_restore;
        baseline_capture();
    }
}

/* Leave IA-32e mode from compatibility mode (CR0.PG=0), back to the 32-bit IDT. */
static void leave_lm(void)
{
    lm_leave();
    restore_hook = 0;
    load_idt32();
}

static void clear_lme_pae(void)
{
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~(u64)EFER_LME);
    write_cr4(read_cr4() & ~CR4_PAE);
    baseline_capture();
}

/* Initializing IA-32e Mode: EFER.LME=1 alone does not activate IA-32e mode; setting
 * CR0.PG (with PAE) does, and the processor sets EFER.LMA. Then the kernel stays in
 * compatibility mode (CS.L=0). */
static void t_enter_lm(void)
{
    write_cr3((u32)lm_pml4);
    write_cr4(read_cr4() | CR4_PAE);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_LME);
    expect_eq("EFER.LMA with LME=1, PG=0", rdmsr(MSR_EFER) & EFER_LMA, 0);
    enter_lm();
    expect_eq("EFER.LMA after CR0.PG=1", rdmsr(MSR_EFER) & EFER_LMA, EFER_LMA);
    expect_eq("CS (compatibility mode)", read_cs(), KCODE32);
}

/* 64-Bit Mode (Vol. 1 "Basic Execution Environment"): 64-bit registers, 48H is REX.W
 * (not DEC), PUSH is 8 bytes, RIP-relative addressing. */
static void t_64bit_exec(void)
{
    memset(lm_out, 0, sizeof(u64) * 16);
    call64(lm_exec);
    expect_eq("64-bit register", lm_out[0], 0x123456789abcdef0ull);
    expect_eq("EAX after 48H 90H (REX.W NOP)", lm_out[1] & 0xffffffff, 5);
    expect_eq("bytes pushed by PUSH", lm_out[2], 8);
    expect_eq("LEA 0(%rip)", lm_out[3], (u32)lm_rip_label);
    expect_eq("CS", lm_out[4], KCODE64);
}

/* Compatibility mode (Vol. 3A "IA-32e Mode"): a far JMP from 64-bit mode to a code
 * segment with L=0 runs legacy 32-bit code (48H = DEC EAX) and a far JMP back to the
 * L=1 segment resumes 64-bit mode. */
static void t_compat_roundtrip(void)
{
    memset(lm_out, 0, sizeof(u64) * 16);
    call64(lm_compat_roundtrip);
    expect_eq("EAX after 48H in compatibility mode", lm_out[5] & 0xffffffff, 4);
    expect_eq("CS in compatibility mode", lm_out[6] & 0xffff, KCODE32);
    expect_eq("CS back in 64-bit mode", lm_out[7], KCODE64);
    expect_eq("C code (compatibility mode): 48H is DEC", dec_probe(), 4);
}

static void wrap64(void *fn) { call64((void (*)(void))fn); }

/* JMP (Vol. 2A): JMP ptr16:32 (opcode EA) is invalid in 64-bit mode: #UD. */
static void t_jmp_far_ud(void)
{
    expect_fault("EA in 64-bit mode", try_call(wrap64, (void *)lm_jmp_far_direct), 6, 0, lm_jmp_far_insn);
}

/* MOV—Move (SS in 64-bit mode): a null selector can be loaded into SS at CPL 0 (RPL=CPL). */
static void t_lm_null_ss(void)
{
    lm_out[8] = 0xffff;
    expect_eq("faulted", try_call(wrap64, (void *)lm_null_ss), 0);
    expect_eq("SS after MOV SS, 0", lm_out[8], 0);
}

/* MOV—Move to/from Control Registers: clearing CR0.PG in 64-bit mode is #GP(0)
 * (IA-32e mode is left only from compatibility mode). */
static void t_lm_clear_pg(void)
{
    enter_lm();
    expect_eq("in IA-32e mode", rdmsr(MSR_EFER) & EFER_LMA, EFER_LMA);
    expect_fault("MOV CR0 (PG=0) in 64-bit mode", try_call(wrap64, (void *)lm_clear_pg), 13, 0, lm_clear_pg_insn);
    expect_eq("EFER.LMA still 1", rdmsr(MSR_EFER) & EFER_LMA, EFER_LMA);
    leave_lm();
    clear_lme_pae();
}

/* WRMSR / IA32_EFER: changing EFER.LME while CR0.PG=1 is #GP(0). */
static void do_clear_lme(void *p)
{
    (void)p;
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~(u64)EFER_LME);
}
static void t_lme_locked(void)
{
    int f = try_call(do_clear_lme, 0);
    u64 efer = rdmsr(MSR_EFER);
    if (!(efer & EFER_LME))
        wrmsr(MSR_EFER, efer | EFER_LME);
    expect_fault("WRMSR EFER (LME=0)", f, 13, 0, 0);
    expect_eq("EFER.LME still 1", efer & EFER_LME, EFER_LME);
}

/* Leaving IA-32e Mode ("IA-32e Mode Operation" / switching out of IA-32e mode): from
 * compatibility mode, CR0.PG=0 deactivates IA-32e mode (EFER.LMA=0), back in legacy
 * protected mode. */
static void t_leave_lm(void)
{
    leave_lm();
    u64 efer = rdmsr(MSR_EFER);
    expect_eq("EFER.LMA", efer & EFER_LMA, 0);
    expect_eq("EFER.LME", efer & EFER_LME, EFER_LME);
    expect_eq("CR0.PG", read_cr0() & CR0_PG, 0);
    expect_eq("48H is DEC again", dec_probe(), 4);
    clear_lme_pae();
}

void kernel_main(void)
{
    run_test("pm-entry-state", t_pm_state);
    run_test("pm-data-segment-limit-gp", t_seg_limit);
    run_test("pm-stack-segment-limit-ss", t_ss_limit);
    run_test("pm-expand-down-segment", t_expand_down);
    run_test("pm-null-selector-use-gp", t_null_use);
    run_test("pm-null-ss-load-gp", t_null_ss);
    run_test("pm-segment-not-present", t_not_present);
    run_test("pm-segment-load-type-check", t_type_load);
    run_test("pm-segment-write-protection", t_type_write);
    run_test("pm-data-segment-dpl-check", t_data_dpl);
    run_test("pm-far-call-ret-other-code-segment", t_far_call);
    run_test("pm-call-gate-to-ring0", t_call_gate);
    run_test("pm-exception-same-privilege-frame", t_exc_same_pl);
    run_test("pm-exception-from-ring3-stack-switch", t_exc_ring3);
    run_test("pm-opcode-48-is-dec", t_dec_32);

    run_test("cpuid-leaves", t_cpuid);
    build_lm_tables();
    run_test("lm-enter-efer-lma", t_enter_lm);
    /* from here on: IA-32e mode, compatibility mode for the C code */
    if (!(rdmsr(MSR_EFER) & EFER_LMA)) {
        kprintf("not ok lm-setup: could not enter IA-32e mode\n");
        report_done();
    }
    run_test("lm-64bit-mode-execution", t_64bit_exec);
    run_test("lm-compat-mode-far-jmp-roundtrip", t_compat_roundtrip);
    run_test("lm-jmp-far-direct-ud", t_jmp_far_ud);
    run_test("lm-null-ss-allowed-at-cpl0", t_lm_null_ss);
    run_test("lm-efer-lme-change-with-paging-gp", t_lme_locked);
    run_test("lm-leave-to-protected-mode", t_leave_lm);
    /* Last, because a CPU that gets them wrong cannot go on (QEMU 7.2 TCG cannot):
     * the first re-enters IA-32e mode and leaves it again. */
    run_test("lm-clear-cr0-pg-in-64bit-mode-gp", t_lm_clear_pg);
    run_test("lm-cr0-pg-needs-pae-gp", t_lm_needs_pae);
}
