/*
 * legacy32: 32-bit paging (4 KiB and 4 MiB pages), #PF error codes in 32-bit mode, and
 * legacy-only instructions: PUSHA/POPA, DAA/DAS/AAA/AAS/AAM/AAD, INTO, BOUND.
 * SDM references: Vol. 3A "32-Bit Paging", "Page-Fault Exceptions", "Accessed and Dirty
 * Flags"; Vol. 2 instruction pages.
 */
#include "lib32.h"

#define P 0x1u
#define RW 0x2u
#define US 0x4u
#define A 0x20u
#define D 0x40u
#define PS 0x80u
#define PF_P 0x1
#define PF_W 0x2
#define PF_U 0x4
#define PF_RSVD 0x8

static u32 pd[1024] ALIGNED(4096);
static u32 pool_next = 16u << 20;

static u32 frame(void)
{
    u32 f = pool_next;
    pool_next += 4096;
    memset((void *)f, 0, 4096);
    return f;
}

/* PDE / PTE for va; creates the page table (P|RW|US) when missing. */
static volatile u32 *pde_of(u32 va) { return &((volatile u32 *)pd)[va >> 22]; }
static volatile u32 *pte_of(u32 va)
{
    volatile u32 *pde = pde_of(va);
    if (!(*pde & P))
        *pde = frame() | P | RW | US;
    return &((volatile u32 *)(*pde & ~0xfffu))[(va >> 12) & 1023];
}
static u32 map4k(u32 va, u32 flags)
{
    u32 f = frame();
    *pte_of(va) = f | flags;
    invlpg((void *)va);
    return f;
}

/* Each test uses its own 4 MiB region (its own PDE) from 1 GiB up. */
#define REGION(n) (0x40000000u + ((u32)(n) << 22))

static void paging_on(void)
{
    write_cr3((u32)pd);
    write_cr4(read_cr4() | CR4_PSE);
    write_cr0(read_cr0() | CR0_PG | CR0_WP);
}

static int fault(void (*probe)(void *), u32 addr) { return try_call(probe, (void *)addr); }

static void expect_pf(const char *what, int faulted, u32 addr, u32 err)
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
        check_fail("%s: error code 0x%llx (expected 0x%x)", what, last_fault.error, err);
    if (last_fault.cr2 != addr)
        check_fail("%s: CR2 0x%llx (expected 0x%x)", what, last_fault.cr2, addr);
}

/* 32-Bit Paging (Linear-Address Translation to a 4-KByte Page using 32-Bit Paging). */
static void t_4k(void)
{
    u32 va = REGION(0) + 0x5000;
    u32 f = map4k(va, P | RW);
    *(volatile u32 *)(f + 0x10) = 0x12345678;
    expect_eq("read", *(volatile u32 *)(va + 0x10), 0x12345678);
    *(volatile u32 *)(va + 0x14) = 0x9abcdef0;
    expect_eq("write (physical)", *(volatile u32 *)(f + 0x14), 0x9abcdef0);
}

/* 32-Bit Paging (Linear-Address Translation to a 4-MByte Page using 32-Bit Paging):
 * PDE.PS=1 with CR4.PSE=1. */
static void t_4m(void)
{
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    expect_true("CPUID.1:EDX.PSE[3]", (d >> 3) & 1);
    u32 va = REGION(1);
    u32 phys = 20u << 20; /* 4 MiB aligned, inside RAM */
    *(volatile u32 *)(phys + 0x123454) = 0x4d4d4d4d;
    *pde_of(va) = phys | P | RW | PS;
    invlpg((void *)va);
    expect_eq("read at offset 0x123454", *(volatile u32 *)(va + 0x123454), 0x4d4d4d4d);
}

/* Page-Fault Exceptions: not-present read / write. */
static void t_np(void)
{
    u32 va = REGION(2) + 0x3004;
    *pte_of(va) = frame() | RW; /* P=0 */
    invlpg((void *)va);
    expect_pf("read", fault(probe_read32, va), va, 0);
    expect_eq("EIP", last_fault.rip, (u32)probe_read32_insn);
    expect_eq("frame address (error code pushed)", last_fault.frame_addr, probe_esp - 12);
    expect_pf("write", fault(probe_write32, va), va, PF_W);
}

/* Access Rights: with CR0.WP=1 a supervisor write to a read-only page is P|W. */
static void t_wp(void)
{
    u32 va = REGION(3) + 0x1000;
    map4k(va, P);
    expect_pf("write", fault(probe_write32, va), va, PF_P | PF_W);
    write_cr0(read_cr0() & ~CR0_WP);
    invlpg((void *)va);
    probe_value = 0x77;
    expect_eq("write with CR0.WP=0 faulted", fault(probe_write32, va), 0);
}

/* Access Rights: user-mode access to a supervisor page: P|U (read), P|W|U (write). */
static void t_user(void)
{
    u32 va = REGION(4) + 0x2000;
    map4k(va, P | RW);
    u32 v = run_user32(u32_read, user_stack_top, 0x2, va);
    expect_pf("user read", v != VEC_USER_EXIT, va, PF_P | PF_U);
    expect_eq("EIP", last_fault.rip, (u32)u32_read_insn);
    v = run_user32(u32_write, user_stack_top, 0x2, va);
    expect_pf("user write", v != VEC_USER_EXIT, va, PF_P | PF_W | PF_U);
    u32 vu = REGION(4) + 0x3000;
    u32 f = map4k(vu, P | RW | US);
    *(volatile u32 *)f = 0x600d;
    v = run_user32(u32_read, user_stack_top, 0x2, vu);
    expect_eq("user read of a user page: exit vector", v, VEC_USER_EXIT);
    expect_eq("value", last_fault.eax, 0x600d);
}

/* Page-Fault Exceptions (RSVD): bit 21 of a 4-MByte PDE is reserved (32-bit paging).
 * P is checked separately (pf32-rsvd-sets-p-flag), as for 4-level paging. */
static void t_rsvd(void)
{
    u32 va = REGION(5) + 0x40;
    *pde_of(va) = (24u << 20) | P | RW | PS | (1u << 21);
    invlpg((void *)va);
    int f = fault(probe_read32, va);
    if (f && last_fault.vector == 14)
        last_fault.error &= ~(u64)PF_P;
    expect_pf("read", f, va, PF_RSVD);
}

/* Page-Fault Exceptions: RSVD is reported together with P=1. */
static void t_rsvd_p(void)
{
    u32 va = REGION(6) + 0x40;
    *pde_of(va) = (24u << 20) | P | RW | PS | (1u << 21);
    invlpg((void *)va);
    expect_pf("read", fault(probe_read32, va), va, PF_P | PF_RSVD);
}

/* Accessed and Dirty Flags (32-bit paging): A in the PDE and PTE after a read, D in
 * the PTE only after a write. */
static void t_ad(void)
{
    u32 va = REGION(7) + 0x4000;
    map4k(va, P | RW);
    volatile u32 *pde = pde_of(va), *pte = pte_of(va);
    *pde &= ~(A | D);
    *pte &= ~(A | D);
    write_cr3(read_cr3());
    (void)*(volatile u32 *)va;
    expect_eq("PDE.A after read", *pde & A, A);
    expect_eq("PTE.A after read", *pte & A, A);
    expect_eq("PTE.D after read", *pte & D, 0);
    *(volatile u32 *)va = 1;
    expect_eq("PTE.D after write", *pte & D, D);
}

/* Invalidation of TLBs and Paging-Structure Caches: INVLPG makes a changed PTE visible. */
static void t_invlpg(void)
{
    u32 va = REGION(8) + 0x1000;
    u32 f1 = map4k(va, P | RW), f2 = frame();
    *(volatile u32 *)f1 = 0x1111;
    *(volatile u32 *)f2 = 0x2222;
    expect_eq("before", *(volatile u32 *)va, 0x1111);
    *pte_of(va) = f2 | P | RW;
    invlpg((void *)va);
    expect_eq("after INVLPG", *(volatile u32 *)va, 0x2222);
}

/* PUSHA/PUSHAD: pushes EAX, ECX, EDX, EBX, the original ESP, EBP, ESI, EDI.
 * POPA/POPAD: pops them back in reverse order, skipping (discarding) the ESP slot. */
extern u32 pa_out[20];
extern void pusha_test(void);
static void t_pusha(void)
{
    pusha_test();
    static const u32 want[8] = { 0xd7d7d7d7, 0x51515151, 0xb5b5b5b5, 0, 0xb3b3b3b3, 0xd2d2d2d2, 0xc1c1c1c1,
                                 0xa0a0a0a0 };
    static const char *names[8] = { "EDI", "ESI", "EBP", "ESP", "EBX", "EDX", "ECX", "EAX" };
    for (int i = 0; i < 8; i++) {
        u32 w = i == 3 ? pa_out[8] : want[i];
        if (pa_out[i] != w)
            check_fail("PUSHAD slot %d (%s) = 0x%x (expected 0x%x)", i, names[i], pa_out[i], w);
    }
    expect_eq("ESP after PUSHAD", pa_out[9], pa_out[8] - 32);
    expect_eq("EDI after POPAD", pa_out[10], 1);
    expect_eq("ESI after POPAD", pa_out[11], 2);
    expect_eq("EBP after POPAD", pa_out[12], 3);
    expect_eq("EBX after POPAD", pa_out[13], 5);
    expect_eq("EDX after POPAD", pa_out[14], 6);
    expect_eq("ECX after POPAD", pa_out[15], 7);
    expect_eq("EAX after POPAD", pa_out[16], 8);
    expect_eq("ESP after POPAD (ESP slot ignored)", pa_out[17], pa_out[18] + 32);
}

extern u32 bcd(u32 op, u32 ax, u32 flags);
#define F_CF 0x1
#define F_PF 0x4
#define F_AF 0x10
#define F_ZF 0x40
#define F_SF 0x80
#define F_OF 0x800
static void expect_bcd(const char *what, u32 r, u32 ax, u32 flags, u32 flag_mask)
{
    if ((r & 0xffff) != ax || ((r >> 16) & flag_mask) != flags)
        check_fail("%s: AX=0x%x flags=0x%x (expected AX=0x%x flags=0x%x, mask 0x%x)", what, r & 0xffff,
                   (r >> 16) & flag_mask, ax, flags, flag_mask);
}

/* DAA—Decimal Adjust AL After Addition: the SDM example (ADD 79H+35H = AEH, then DAA
 * gives 14H with CF=AF=PF=1, SF=ZF=0). OF is undefined. */
static void t_daa(void)
{
    u32 r = bcd(7, 0x79, 0x2);
    expect_bcd("ADD AL,BL", r, 0xae, F_OF | F_SF, F_OF | F_SF | F_ZF | F_AF | F_PF | F_CF);
    r = bcd(0, 0xae, (r >> 16));
    expect_bcd("DAA", r, 0x14, F_AF | F_PF | F_CF, F_SF | F_ZF | F_AF | F_PF | F_CF);
    r = bcd(0, 0x09, 0x2); /* nothing to adjust */
    expect_bcd("DAA of 09H", r, 0x09, F_PF, F_SF | F_ZF | F_AF | F_PF | F_CF);
}

/* DAS—Decimal Adjust AL After Subtraction: the SDM example (SUB 35H-47H = EEH, then DAS
 * gives 88H with SF=AF=PF=CF=1). */
static void t_das(void)
{
    u32 r = bcd(8, 0x35, 0x2);
    expect_bcd("SUB AL,BL", r, 0xee, F_SF | F_AF | F_PF | F_CF, F_OF | F_SF | F_ZF | F_AF | F_PF | F_CF);
    r = bcd(1, 0xee, (r >> 16));
    expect_bcd("DAS", r, 0x88, F_SF | F_AF | F_PF | F_CF, F_SF | F_ZF | F_AF | F_PF | F_CF);
}

/* AAA—ASCII Adjust After Addition / AAS—ASCII Adjust AL After Subtraction (operation as
 * in the SDM pseudo-code; only AF and CF are defined). */
static void t_aaa_aas(void)
{
    expect_bcd("AAA of 006EH", bcd(2, 0x006e, 0x2), 0x0104, F_AF | F_CF, F_AF | F_CF);
    expect_bcd("AAA of 0234H", bcd(2, 0x0234, 0x2), 0x0204, 0, F_AF | F_CF);
    expect_bcd("AAS of 01FDH, AF=1", bcd(3, 0x01fd, 0x2 | F_AF | F_CF), 0x0007, F_AF | F_CF, F_AF | F_CF);
    expect_bcd("AAS of 0135H", bcd(3, 0x0135, 0x2), 0x0105, 0, F_AF | F_CF);
}

/* AAM—ASCII Adjust AX After Multiply / AAD—ASCII Adjust AX Before Division: AH = AL / imm,
 * AL = AL mod imm; AL = (AL + AH*imm) & FFH, AH = 0. SF, ZF, PF from AL. */
static void t_aam_aad(void)
{
    expect_bcd("AAM of 3FH", bcd(4, 0x003f, 0x2), 0x0603, F_PF, F_SF | F_ZF | F_PF);
    expect_bcd("AAM 16 of 3FH", bcd(6, 0x003f, 0x2), 0x030f, F_PF, F_SF | F_ZF | F_PF);
    expect_bcd("AAD of 0603H", bcd(5, 0x0603, 0x2), 0x003f, F_PF, F_SF | F_ZF | F_PF);
    expect_bcd("AAD of 0000H", bcd(5, 0x0000, 0x2), 0x0000, F_ZF | F_PF, F_SF | F_ZF | F_PF);
}

/* AAM—ASCII Adjust AX After Multiply: #DE if the immediate is 0. */
extern void aam0_probe(void *);
extern u8 aam0_insn[];
static void t_aam0(void)
{
    int f = try_call(aam0_probe, 0);
    expect_eq("faulted", f, 1);
    expect_eq("vector", last_fault.vector, 0);
    expect_eq("EIP", last_fault.rip, (u32)aam0_insn);
}

/* INTO (INT n/INTO/INT3/INT1): with OF=1, INTO raises #OF (vector 4) as a trap (EIP after
 * the INTO); with OF=0 it does nothing. */
extern void into_probe(void *); /* argument: OF to set (0 or 1) */
extern u8 into_insn[];
static void t_into(void)
{
    expect_eq("OF=0: trapped", try_call(into_probe, (void *)0), 0);
    expect_eq("OF=1: trapped", try_call(into_probe, (void *)1), 1);
    expect_eq("vector", last_fault.vector, 4);
    expect_eq("EIP (after INTO)", last_fault.rip, (u32)into_insn + 1);
}

/* BOUND—Check Array Index Against Bounds: an index outside [lower, upper] raises #BR
 * (vector 5), a fault (EIP = the BOUND); inside, nothing happens. */
extern void bound_probe(void *); /* argument: the index */
extern u8 bound_insn[];
static void t_bound(void)
{
    expect_eq("index 10: faulted", try_call(bound_probe, (void *)10), 0);
    expect_eq("index 20: faulted", try_call(bound_probe, (void *)20), 0);
    expect_eq("index 21: faulted", try_call(bound_probe, (void *)21), 1);
    expect_eq("index 21: vector", last_fault.vector, 5);
    expect_eq("index 21: EIP", last_fault.rip, (u32)bound_insn);
    expect_eq("index 9: faulted", try_call(bound_probe, (void *)9), 1);
    expect_eq("index 9: vector", last_fault.vector, 5);
}

void kernel_main(void)
{
    /* Identity map 0..32 MiB with 4 MiB pages; 4..8 MiB (the user region) with U=1. */
    for (u32 i = 0; i < 8; i++)
        pd[i] = (i << 22) | P | RW | PS | (i == 1 ? US : 0);
    paging_on();
    baseline_capture();

    run_test("paging32-4k-page", t_4k);
    run_test("paging32-4m-pse-page", t_4m);
    run_test("pf32-not-present", t_np);
    run_test("pf32-write-protect", t_wp);
    run_test("pf32-user-supervisor", t_user);
    run_test("pf32-rsvd-4m-pde-bit21", t_rsvd);
    run_test("pf32-rsvd-sets-p-flag", t_rsvd_p);
    run_test("paging32-accessed-dirty", t_ad);
    run_test("paging32-invlpg", t_invlpg);
    run_test("pusha-popa", t_pusha);
    run_test("daa-sdm-example", t_daa);
    run_test("das-sdm-example", t_das);
    run_test("aaa-aas", t_aaa_aas);
    run_test("aam-aad", t_aam_aad);
    run_test("aam-zero-de", t_aam0);
    run_test("into-overflow-trap", t_into);
    run_test("bound-range-br", t_bound);
}
