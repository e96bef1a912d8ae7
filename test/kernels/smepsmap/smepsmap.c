/*
 * smepsmap: supervisor-mode execution and access prevention (Intel SDM Vol. 3A,
 * "Access Rights" and "Page-Fault Exceptions"; Vol. 2 STAC/CLAC).
 * The user region (2 MiB page at 0x400000, U=1) provides the user-mode page.
 */
#include "lib64.h"

#define PF_P 0x1
#define PF_W 0x2
#define PF_U 0x4
#define PF_ID 0x10

/* user-mode data the kernel pokes at; u_code holds a RET */
static volatile u64 u_data[4] USER_SECTION = { 0x5eed5eed5eed5eedull };
static volatile u8 u_code[16] USER_SECTION ALIGNED(16);
extern u8 u_stac[], u_stac_insn[], u_clac[], u_clac_insn[];

static int have_smep, have_smap;

static void stac(void) { __asm__ volatile("stac" ::: "cc", "memory"); }
static void clac(void) { __asm__ volatile("clac" ::: "cc", "memory"); }

static void expect_pf(const char *what, int faulted, u64 addr, u64 err)
{
    if (!faulted) {
        check_fail("%s: no fault", what);
        return;
    }
    if (last_fault.vector != 14) {
        check_fail("%s: vector %llu (expected 14) error=0x%llx", what, last_fault.vector, last_fault.error);
        return;
    }
    if (last_fault.error != err)
        check_fail("%s: error code 0x%llx (expected 0x%llx)", what, last_fault.error, err);
    if (last_fault.cr2 != addr)
        check_fail("%s: CR2 0x%llx (expected 0x%llx)", what, last_fault.cr2, addr);
}

static void need(int smep, int smap)
{
    if (smep)
        expect_true("CPUID.(EAX=7,ECX=0):EBX.SMEP[7] is 1", have_smep);
    if (smap)
        expect_true("CPUID.(EAX=7,ECX=0):EBX.SMAP[20] is 1", have_smap);
}

/* Access Rights (Instruction Fetch, SMEP): with CR4.SMEP=1 a supervisor-mode fetch from a
 * user-mode page faults; the error code has P and I/D (I/D is set because SMEP=1, even with
 * EFER.NXE=0); CR2 = RIP = the target. */
static void t_smep_fetch(void)
{
    need(1, 0);
    u_code[0] = 0xc3; /* ret */
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~(u64)EFER_NXE);
    expect_eq("CR4.SMEP=0: call faulted", try_call(probe_call, (void *)u_code), 0);
    write_cr4(read_cr4() | CR4_SMEP);
    expect_pf("CR4.SMEP=1: call", try_call(probe_call, (void *)u_code), (u64)u_code, PF_P | PF_ID);
    expect_eq("faulting RIP", last_fault.rip, (u64)u_code);
}

/* Access Rights: SMEP restricts supervisor-mode fetches only; user-mode code still runs. */
static void t_smep_user(void)
{
    need(1, 0);
    write_cr4(read_cr4() | CR4_SMEP);
    u64 v = run_user(u_read64, user_stack_top, 0x2, (u64)u_data);
    expect_eq("ring-3 code with CR4.SMEP=1: exit vector", v, VEC_USER_EXIT);
}

/* Access Rights (Data Reads/Writes, SMAP): with CR4.SMAP=1 and RFLAGS.AC=0 a supervisor-mode
 * read or write of a user-mode page faults with P (read) or P|W (write). */
static void t_smap_fault(void)
{
    need(0, 1);
    write_cr4(read_cr4() | CR4_SMAP);
    clac();
    expect_pf("read", try_call(probe_read64, (void *)u_data), (u64)u_data, PF_P);
    expect_eq("faulting RIP", last_fault.rip, (u64)probe_read64_insn);
    probe_value = 1;
    expect_pf("write", try_call(probe_write64, (void *)u_data), (u64)u_data, PF_P | PF_W);
}

/* STAC—Set AC Flag / Access Rights: with RFLAGS.AC=1 (STAC) supervisor-mode data accesses to
 * user-mode pages are allowed even with CR4.SMAP=1; CLAC makes them fault again. */
static void t_smap_stac_clac(void)
{
    need(0, 1);
    write_cr4(read_cr4() | CR4_SMAP);
    stac();
    expect_true("RFLAGS.AC after STAC", (read_flags() & RFLAGS_AC) != 0);
    int f = try_call(probe_read64, (void *)u_data);
    expect_eq("read with AC=1 faulted", f, 0);
    expect_eq("value read", probe_value, 0x5eed5eed5eed5eedull);
    probe_value = 0x1234;
    expect_eq("write with AC=1 faulted", try_call(probe_write64, (void *)&u_data[1]), 0);
    stac();
    expect_eq("value written", u_data[1], 0x1234);
    clac();
    expect_true("RFLAGS.AC after CLAC", (read_flags() & RFLAGS_AC) == 0);
    expect_pf("read after CLAC", try_call(probe_read64, (void *)u_data), (u64)u_data, PF_P);
}

/* Access Rights: SMAP applies to supervisor-mode accesses only; ring 3 reads its own page. */
static void t_smap_user(void)
{
    need(0, 1);
    write_cr4(read_cr4() | CR4_SMAP);
    clac();
    u64 v = run_user(u_read64, user_stack_top, 0x2, (u64)u_data);
    expect_eq("exit vector", v, VEC_USER_EXIT);
    expect_eq("value read in ring 3", last_fault.rax, 0x5eed5eed5eed5eedull);
}

/* STAC—Set AC Flag / CLAC—Clear AC Flag: #UD if CPL > 0. */
static void t_stac_clac_cpl3(void)
{
    need(0, 1);
    u64 v = run_user(u_stac, user_stack_top, 0x2, 0);
    expect_eq("STAC vector", v, 6);
    expect_eq("STAC RIP", last_fault.rip, (u64)u_stac_insn);
    v = run_user(u_clac, user_stack_top, 0x2, 0);
    expect_eq("CLAC vector", v, 6);
    expect_eq("CLAC RIP", last_fault.rip, (u64)u_clac_insn);
}

void kernel_main(void)
{
    u32 a, b, c, d;
    cpuid(7, 0, &a, &b, &c, &d);
    have_smep = (b >> 7) & 1;
    have_smap = (b >> 20) & 1;
    run_test("smep-supervisor-fetch-from-user-page", t_smep_fetch);
    run_test("smep-does-not-affect-user-mode", t_smep_user);
    run_test("smap-supervisor-access-to-user-page", t_smap_fault);
    run_test("smap-stac-allows-clac-forbids", t_smap_stac_clac);
    run_test("smap-does-not-affect-user-mode", t_smap_user);
    run_test("stac-clac-ud-at-cpl3", t_stac_clac_cpl3);
}
