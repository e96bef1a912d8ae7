/*
 * paging: 4-level paging (Intel SDM Vol. 3A, chapter "Paging").
 * Test mappings live under PML4[1..3] (linear 0x80_0000_0000 and up); page tables
 * and test frames come from physical 16..32 MiB, reachable through the identity map.
 */
#include "lib64.h"

#define P (1ull << 0)
#define RW (1ull << 1)
#define US (1ull << 2)
#define A (1ull << 5)
#define D (1ull << 6)
#define PS (1ull << 7)
#define G (1ull << 8)
#define XD (1ull << 63)
#define ADDR_MASK 0x000ffffffffff000ull

/* Page-fault error code bits (Interrupt 14—Page-Fault Exception (#PF)). */
#define PF_P 0x1
#define PF_W 0x2
#define PF_U 0x4
#define PF_RSVD 0x8
#define PF_ID 0x10

static volatile u64 *pml4; /* page-table memory is read back after the CPU wrote A/D */
static u64 pool_next = 16ull << 20;
static u32 maxphyaddr;

static u64 alloc(u64 size, u64 align)
{
    pool_next = (pool_next + align - 1) & ~(align - 1);
    u64 a = pool_next;
    pool_next += size;
    memset((void *)a, 0, 4096); /* page tables and 4 KiB frames start zeroed */
    return a;
}
static u64 frame(void) { return alloc(4096, 4096); }

/* The entry for va at level (4 = PML4E, 3 = PDPTE, 2 = PDE, 1 = PTE), creating the
 * tables above it with the given flags when missing. */
static volatile u64 *entry(u64 va, int level, u64 table_flags)
{
    volatile u64 *t = pml4;
    for (int l = 4; l > level; l--) {
        volatile u64 *e = &t[(va >> (12 + 9 * (l - 1))) & 511];
        if (!(*e & P))
            *e = frame() | table_flags;
        t = (volatile u64 *)(*e & ADDR_MASK);
    }
    return &t[(va >> (12 + 9 * (level - 1))) & 511];
}

/* A fresh 4 KiB mapping of va to a new frame; returns the frame. */
static u64 map4k(u64 va, u64 leaf_flags, u64 table_flags)
{
    u64 f = frame();
    *entry(va, 1, table_flags) = f | leaf_flags;
    invlpg((void *)va);
    return f;
}

/* Each test gets its own 1 GiB slot (its own PDPTE) under PML4[1]. */
#define SLOT(n) (0x0000008000000000ull + ((u64)(n) << 30))
#define UFLAGS (P | RW | US)

static void use_test_cr3(void)
{
    write_cr3((u64)pml4);
}

static int fault(void (*probe)(void *), u64 addr) { return try_call(probe, (void *)addr); }

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

/* 4-Level Paging: Linear-Address Translation to a 4-KByte Page using 4-Level Paging. */
static void t_map_4k(void)
{
    u64 va = SLOT(0) + 0x5000;
    u64 f = map4k(va, P | RW, UFLAGS);
    *(volatile u64 *)(f + 0x18) = 0x1122334455667788ull;
    expect_eq("read through the mapping", *(volatile u64 *)(va + 0x18), 0x1122334455667788ull);
    *(volatile u64 *)(va + 0x20) = 0xa5a5a5a5deadbeefull;
    expect_eq("write through the mapping (physical)", *(volatile u64 *)(f + 0x20), 0xa5a5a5a5deadbeefull);
}

/* Linear-Address Translation to a 2-MByte Page using 4-Level Paging (PDE.PS=1). */
static void t_map_2m(void)
{
    u64 va = SLOT(1) + (4ull << 21);
    u64 phys = alloc(2ull << 20, 2ull << 20);
    *(volatile u64 *)(phys + 0x1abcd8) = 0x0badc0de2badf00dull;
    *entry(va, 2, UFLAGS) = phys | P | RW | PS;
    invlpg((void *)va);
    expect_eq("read at offset 0x1abcd8", *(volatile u64 *)(va + 0x1abcd8), 0x0badc0de2badf00dull);
}

/* Linear-Address Translation to a 1-GByte Page using 4-Level Paging (PDPTE.PS=1). */
static volatile u64 one_gig_probe = 0x600dcafe12345678ull;
static void t_map_1g(void)
{
    u32 a, b, c, d;
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    expect_true("CPUID.80000001H:EDX.Page1GB[26] is 1", (d >> 26) & 1);
    u64 va = SLOT(2);
    *entry(va, 3, UFLAGS) = 0 | P | RW | PS; /* physical 0..1 GiB */
    invlpg((void *)va);
    expect_eq("kernel variable through the 1 GiB page", *(volatile u64 *)(va + (u64)&one_gig_probe),
              0x600dcafe12345678ull);
}

/* Page-Fault Exceptions: not-present read (P=0 in the PTE): error code 0, CR2 = address. */
static void t_np_read(void)
{
    u64 va = SLOT(3) + 0x3008;
    *entry(va, 1, UFLAGS) = frame() | RW; /* P=0 */
    invlpg((void *)va);
    expect_pf("read", fault(probe_read64, va), va, 0);
    expect_eq("faulting RIP", last_fault.rip, (u64)probe_read64_insn);
    u64 va2 = SLOT(3) + (7ull << 21) + 0x10; /* no page table at all (PDE P=0) */
    expect_pf("read via not-present PDE", fault(probe_read64, va2), va2, 0);
}

/* Page-Fault Exceptions: not-present write: error code W (0x2). */
static void t_np_write(void)
{
    u64 va = SLOT(4) + 0x1ff8;
    *entry(va, 1, UFLAGS) = frame() | RW;
    invlpg((void *)va);
    expect_pf("write", fault(probe_write64, va), va, PF_W);
    expect_eq("faulting RIP", last_fault.rip, (u64)probe_write64_insn);
}

/* Access Rights (Determination of Access Rights): with CR0.WP=1 a supervisor write to
 * a read-only page faults with P|W; with CR0.WP=0 it is allowed. */
static void t_wp(void)
{
    u64 va = SLOT(5) + 0x7000;
    u64 f = map4k(va, P, UFLAGS); /* R/W=0 */
    *(volatile u64 *)f = 1;
    write_cr0(read_cr0() | CR0_WP);
    probe_value = 2;
    expect_pf("CR0.WP=1 write", fault(probe_write64, va), va, PF_P | PF_W);
    expect_eq("memory unchanged after the fault", *(volatile u64 *)f, 1);
    write_cr0(read_cr0() & ~CR0_WP);
    invlpg((void *)va);
    probe_value = 3;
    expect_eq("CR0.WP=0 write faulted", fault(probe_write64, va), 0);
    expect_eq("memory after CR0.WP=0 write", *(volatile u64 *)f, 3);
}

/* Access Rights: a write needs R/W=1 in every paging-structure entry; R/W=0 in the PDE
 * makes the page read-only even though the PTE has R/W=1. */
static void t_rw_upper(void)
{
    u64 va = SLOT(6) + 0x2000;
    map4k(va, P | RW, UFLAGS);
    *entry(va, 2, UFLAGS) &= ~RW;
    invlpg((void *)va);
    write_cr0(read_cr0() | CR0_WP);
    expect_pf("write", fault(probe_write64, va), va, PF_P | PF_W);
    expect_eq("read allowed", fault(probe_read64, va), 0);
}

/* Access Rights: user-mode (CPL 3) access to a supervisor-mode page (U/S=0 in the PTE)
 * faults with P|U (read) or P|W|U (write). */
static void t_user_super(void)
{
    u64 va = SLOT(7) + 0x4010;
    map4k(va, P | RW, UFLAGS); /* U/S=0 in the leaf only */
    u64 v = run_user(u_read64, user_stack_top, 0x2, va);
    expect_pf("user read", v != VEC_USER_EXIT, va, PF_P | PF_U);
    expect_eq("user read RIP", last_fault.rip, (u64)u_read64_insn);
    v = run_user(u_write64, user_stack_top, 0x2, va);
    expect_pf("user write", v != VEC_USER_EXIT, va, PF_P | PF_W | PF_U);
}

/* Access Rights: U/S=0 in an upper level (PDPTE) makes the page supervisor-mode even
 * though the PTE has U/S=1; U/S=1 everywhere allows user reads. */
static void t_user_upper(void)
{
    u64 va = SLOT(8) + 0x1000;
    u64 f = map4k(va, P | RW | US, UFLAGS);
    *(volatile u64 *)f = 0x7777;
    u64 v = run_user(u_read64, user_stack_top, 0x2, va);
    expect_eq("user read of a user page: exit vector", v, VEC_USER_EXIT);
    expect_eq("user read value", last_fault.rax, 0x7777);
    *entry(va, 3, UFLAGS) &= ~US;
    invlpg((void *)va);
    v = run_user(u_read64, user_stack_top, 0x2, va);
    expect_pf("user read with PDPTE.U/S=0", v != VEC_USER_EXIT, va, PF_P | PF_U);
}

/* Access Rights: user-mode writes need R/W=1 regardless of CR0.WP: P|W|U. */
static void t_user_ro(void)
{
    u64 va = SLOT(9) + 0x8000;
    map4k(va, P | US, UFLAGS);
    write_cr0(read_cr0() & ~CR0_WP);
    u64 v = run_user(u_write64, user_stack_top, 0x2, va);
    expect_pf("user write (CR0.WP=0)", v != VEC_USER_EXIT, va, PF_P | PF_W | PF_U);
}

/* Access Rights / Page-Fault Exceptions: with EFER.NXE=1 an instruction fetch from a
 * page with XD=1 faults with P|I/D and CR2 = RIP = the target. */
static void t_nx(void)
{
    u64 va = SLOT(10) + 0x6000;
    u64 f = map4k(va, P | RW | XD, UFLAGS);
    *(volatile u8 *)f = 0xc3; /* ret */
    u64 va_x = SLOT(10) + 0x9000;
    u64 fx = map4k(va_x, P | RW, UFLAGS);
    *(volatile u8 *)fx = 0xc3;
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    expect_eq("fetch from an executable page faulted", fault(probe_call, va_x), 0);
    expect_pf("fetch from XD page", fault(probe_call, va), va, PF_P | PF_ID);
    expect_eq("faulting RIP", last_fault.rip, va);
    expect_eq("data read from XD page faulted", fault(probe_read64, va), 0);
}

/* Access Rights: XD=1 in an upper level (PDE) forbids fetches from the whole range. */
static void t_nx_upper(void)
{
    u64 va = SLOT(11) + 0x3000;
    u64 f = map4k(va, P | RW, UFLAGS);
    *(volatile u8 *)f = 0xc3;
    *entry(va, 2, UFLAGS) |= XD;
    invlpg((void *)va);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    expect_pf("fetch", fault(probe_call, va), va, PF_P | PF_ID);
}

/* Page-Fault Exceptions: I/D is set for a fetch from a not-present page when NXE=1
 * (P=0), and user-mode fetch from a supervisor page gives P|U|I/D. */
static void t_fetch_codes(void)
{
    u64 va = SLOT(12) + 0x5000;
    *entry(va, 1, UFLAGS) = frame(); /* not present */
    invlpg((void *)va);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    expect_pf("fetch from not-present page", fault(probe_call, va), va, PF_ID);
    u64 vs = SLOT(12) + 0x7000;
    u64 f = map4k(vs, P | RW, UFLAGS); /* supervisor */
    *(volatile u8 *)f = 0xc3;
    u64 v = run_user(u_call, user_stack_top, 0x2, vs);
    expect_pf("user fetch from supervisor page", v != VEC_USER_EXIT, vs, PF_P | PF_U | PF_ID);
    expect_eq("user fetch RIP", last_fault.rip, vs);
}

/* Reserved-bit faults: the RSVD checks below compare the error code without its P bit;
 * pf-rsvd-sets-p-flag checks P separately ("bit 3 of the error code can be set only if
 * bit 0 is also set", Page-Fault Exceptions). QEMU 7.1+ TCG reports RSVD with P=0. */
static void expect_pf_rsvd(const char *what, int faulted, u64 addr, u64 err)
{
    if (faulted && last_fault.vector == 14)
        last_fault.error &= ~(u64)PF_P;
    expect_pf(what, faulted, addr, err);
}

/* Page-Fault Exceptions (RSVD): a PTE with a bit set at or above MAXPHYADDR faults with
 * RSVD (no access is made through it). */
static void t_rsvd_phys(void)
{
    u64 va = SLOT(13) + 0x2000;
    u64 f = map4k(va, P | RW, UFLAGS);
    expect_true("MAXPHYADDR < 52", maxphyaddr < 52);
    *entry(va, 1, UFLAGS) = f | P | RW | (1ull << maxphyaddr);
    invlpg((void *)va);
    expect_pf_rsvd("read", fault(probe_read64, va), va, PF_RSVD);
    expect_pf_rsvd("write", fault(probe_write64, va), va, PF_W | PF_RSVD);
}

/* Page-Fault Exceptions (RSVD): XD (bit 63) is reserved when EFER.NXE=0. */
static void t_rsvd_xd(void)
{
    u64 va = SLOT(14) + 0x2000;
    map4k(va, P | RW | XD, UFLAGS);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~(u64)EFER_NXE);
    expect_pf_rsvd("read", fault(probe_read64, va), va, PF_RSVD);
}

/* Page-Fault Exceptions (RSVD): PS (bit 7) is reserved in a PML4E; bits 20:13 are
 * reserved in a PDE that maps a 2 MiB page. */
static void t_rsvd_structure(void)
{
    u64 va = 0x0000010000000000ull + 0x1000; /* PML4[2] */
    map4k(va, P | RW, UFLAGS);
    pml4[2] |= PS;
    write_cr3(read_cr3());
    expect_pf_rsvd("PML4E.PS=1", fault(probe_read64, va), va, PF_RSVD);
    pml4[2] &= ~PS;
    u64 v2 = SLOT(15) + (2ull << 21) + 0x40;
    u64 phys = alloc(2ull << 20, 2ull << 20);
    *entry(v2, 2, UFLAGS) = phys | P | RW | PS | (1ull << 13);
    invlpg((void *)v2);
    expect_pf_rsvd("2 MiB PDE with bit 13 set", fault(probe_read64, v2), v2, PF_RSVD);
}

/* Page-Fault Exceptions: a reserved-bit violation reports P=1 together with RSVD=1
 * (reserved bits are only checked in present entries). */
static void t_rsvd_p(void)
{
    u64 va = SLOT(21) + 0x2000;
    u64 f = map4k(va, P | RW, UFLAGS);
    *entry(va, 1, UFLAGS) = f | P | RW | (1ull << maxphyaddr);
    invlpg((void *)va);
    expect_pf("read", fault(probe_read64, va), va, PF_P | PF_RSVD);
}

/* Accessed and Dirty Flags: a read sets A in every paging-structure entry used and in
 * the PTE (not D); a write then sets D in the PTE. */
static void t_ad_4k(void)
{
    u64 va = 0x0000018000000000ull + 0x3000; /* PML4[3]: entries only this test uses */
    map4k(va, P | RW, UFLAGS);
    volatile u64 *e4 = &pml4[3], *e3 = entry(va, 3, UFLAGS), *e2 = entry(va, 2, UFLAGS), *e1 = entry(va, 1, UFLAGS);
    *e4 &= ~(A | D);
    *e3 &= ~(A | D);
    *e2 &= ~(A | D);
    *e1 &= ~(A | D);
    write_cr3(read_cr3());
    (void)*(volatile u64 *)va;
    expect_eq("PML4E.A after read", *e4 & A, A);
    expect_eq("PDPTE.A after read", *e3 & A, A);
    expect_eq("PDE.A after read", *e2 & A, A);
    expect_eq("PTE.A after read", *e1 & A, A);
    expect_eq("PTE.D after read", *e1 & D, 0);
    *(volatile u64 *)va = 5;
    expect_eq("PTE.D after write", *e1 & D, D);
}

/* Accessed and Dirty Flags: for a 2 MiB page A and D are in the PDE. */
static void t_ad_2m(void)
{
    u64 va = SLOT(16) + (3ull << 21);
    u64 phys = alloc(2ull << 20, 2ull << 20);
    volatile u64 *pde = entry(va, 2, UFLAGS);
    *pde = phys | P | RW | PS;
    invlpg((void *)va);
    (void)*(volatile u64 *)(va + 0x100);
    expect_eq("PDE.A after read", *pde & A, A);
    expect_eq("PDE.D after read", *pde & D, 0);
    *(volatile u64 *)(va + 0x100) = 1;
    expect_eq("PDE.D after write", *pde & D, D);
}

/* Invalidation of TLBs and Paging-Structure Caches (INVLPG): after changing a PTE and
 * INVLPG the new translation is used. */
static void t_invlpg(void)
{
    u64 va = SLOT(17) + 0x1000;
    u64 f1 = map4k(va, P | RW, UFLAGS), f2 = frame();
    *(volatile u64 *)f1 = 0x1111;
    *(volatile u64 *)f2 = 0x2222;
    expect_eq("before", *(volatile u64 *)va, 0x1111);
    *entry(va, 1, UFLAGS) = f2 | P | RW;
    invlpg((void *)va);
    expect_eq("after INVLPG", *(volatile u64 *)va, 0x2222);
}

/* Invalidation of TLBs and Paging-Structure Caches (MOV to CR3): a CR3 load invalidates
 * non-global translations. */
static void t_cr3_reload(void)
{
    u64 va = SLOT(18) + 0x1000;
    u64 f1 = map4k(va, P | RW, UFLAGS), f2 = frame();
    *(volatile u64 *)f1 = 0x3333;
    *(volatile u64 *)f2 = 0x4444;
    expect_eq("before", *(volatile u64 *)va, 0x3333);
    *entry(va, 1, UFLAGS) = f2 | P | RW;
    write_cr3(read_cr3());
    expect_eq("after MOV CR3", *(volatile u64 *)va, 0x4444);
}

/* Invalidation of TLBs and Paging-Structure Caches: INVLPG invalidates a global
 * (G=1, CR4.PGE=1) translation too. */
static void t_global_invlpg(void)
{
    u64 va = SLOT(19) + 0x1000;
    write_cr4(read_cr4() | CR4_PGE);
    u64 f1 = map4k(va, P | RW | G, UFLAGS), f2 = frame();
    *(volatile u64 *)f1 = 0x5555;
    *(volatile u64 *)f2 = 0x6666;
    expect_eq("before", *(volatile u64 *)va, 0x5555);
    *entry(va, 1, UFLAGS) = f2 | P | RW | G;
    invlpg((void *)va);
    expect_eq("after INVLPG", *(volatile u64 *)va, 0x6666);
}

/* Invalidation of TLBs and Paging-Structure Caches: a MOV to CR4 that changes PGE
 * invalidates all translations, global ones included. */
static void t_global_pge_toggle(void)
{
    u64 va = SLOT(20) + 0x1000;
    write_cr4(read_cr4() | CR4_PGE);
    u64 f1 = map4k(va, P | RW | G, UFLAGS), f2 = frame();
    *(volatile u64 *)f1 = 0x7777;
    *(volatile u64 *)f2 = 0x8888;
    expect_eq("before", *(volatile u64 *)va, 0x7777);
    *entry(va, 1, UFLAGS) = f2 | P | RW | G;
    write_cr4(read_cr4() & ~CR4_PGE);
    write_cr4(read_cr4() | CR4_PGE);
    expect_eq("after toggling CR4.PGE", *(volatile u64 *)va, 0x8888);
}

void kernel_main(void)
{
    u32 a, b, c, d;
    cpuid(0x80000008, 0, &a, &b, &c, &d);
    maxphyaddr = a & 0xff;
    pml4 = (u64 *)frame();
    pml4[0] = boot_pml4[0]; /* identity map of the first GiB, user region included */
    use_test_cr3();
    baseline_capture();

    run_test("map-4k-page", t_map_4k);
    run_test("map-2m-page", t_map_2m);
    run_test("map-1g-page", t_map_1g);
    run_test("pf-not-present-read", t_np_read);
    run_test("pf-not-present-write", t_np_write);
    run_test("cr0-wp-supervisor-write-to-readonly", t_wp);
    run_test("rw0-in-pde-makes-page-readonly", t_rw_upper);
    run_test("pf-user-access-to-supervisor-page", t_user_super);
    run_test("us0-in-pdpte-makes-page-supervisor", t_user_upper);
    run_test("pf-user-write-to-readonly-page", t_user_ro);
    run_test("pf-nx-fetch", t_nx);
    run_test("pf-nx-in-pde", t_nx_upper);
    run_test("pf-fetch-error-codes", t_fetch_codes);
    run_test("pf-rsvd-physical-address-bit", t_rsvd_phys);
    run_test("pf-rsvd-xd-without-nxe", t_rsvd_xd);
    run_test("pf-rsvd-ps-in-pml4e-and-2m-pde", t_rsvd_structure);
    run_test("pf-rsvd-sets-p-flag", t_rsvd_p);
    run_test("accessed-dirty-4k", t_ad_4k);
    run_test("accessed-dirty-2m", t_ad_2m);
    run_test("invlpg-makes-new-mapping-visible", t_invlpg);
    run_test("mov-cr3-flushes-non-global", t_cr3_reload);
    run_test("invlpg-flushes-global-page", t_global_invlpg);
    run_test("cr4-pge-toggle-flushes-global", t_global_pge_toggle);
}
