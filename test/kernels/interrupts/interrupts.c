/*
 * interrupts: IDT delivery in 64-bit mode.
 * SDM references are to Intel SDM Vol. 3A, "Interrupt and Exception Handling",
 * unless another volume is named.
 */
#include "lib64.h"

extern u64 pre_rsp, handler_rflags, pushed_rflags, irqs_eaten;
extern u8 div0_insn[], ud2_insn[], int3_insn[], int80_insn[], int84_insn[], into_insn[], load_ds_insn[],
    read_insn[];
extern void probe_div0(void *), probe_ud2(void *), probe_int3(void *), probe_int80(void *), probe_int84(void *),
    probe_int90(void *), probe_into(void *), probe_load_ds(void *), probe_read(void *);
extern void probe_iretq_same(u64 *out);
extern void probe_if_intgate(void), probe_if_trapgate(void);
extern u8 if_handler_int[], if_handler_trap[], irq_eat[];
extern u8 u_ud2[], u_ud2_insn[], u_cli[], u_cli_insn[], u_int80[], u_int80_insn[], u_int3[], u_int3_insn[],
    u_state[];

static u64 user_out[8] USER_SECTION;

/* The CPU aligns RSP to 16 bytes and then pushes SS, RSP, RFLAGS, CS, RIP (and the
 * error code): the pushed RIP sits 40 bytes below the aligned stack top. Our stubs
 * assume an error code only for 8, 10-14, 17, 21, 29, 30; if the CPU pushed one
 * for another vector (or not for these) the RIP slot moves by 8. */
static void expect_frame(u64 top, u64 vector, u64 rip, u64 cs, u64 rsp, u64 ss)
{
    expect_eq("vector", last_fault.vector, vector);
    expect_eq("pushed RIP", last_fault.rip, rip);
    expect_eq("pushed CS", last_fault.cs, cs);
    expect_eq("pushed RSP", last_fault.rsp, rsp);
    expect_eq("pushed SS", last_fault.ss, ss);
    expect_eq("frame address (RIP slot)", last_fault.frame_addr, (top & ~15ull) - 40);
}

/* Interrupt 0—Divide Error Exception (#DE): a fault, no error code, RIP = the DIV. */
static void t_de(void)
{
    expect_eq("faulted", try_call(probe_div0, 0), 1);
    expect_frame(pre_rsp, 0, (u64)div0_insn, KCODE64, pre_rsp, KDATA);
    expect_true("RSP was 8 mod 16 (tests the alignment)", (pre_rsp & 15) == 8);
}

/* Interrupt 6—Invalid-Opcode Exception (#UD): a fault, no error code. */
static void t_ud(void)
{
    expect_eq("faulted", try_call(probe_ud2, 0), 1);
    expect_frame(pre_rsp, 6, (u64)ud2_insn, KCODE64, pre_rsp, KDATA);
}

/* Interrupt 3—Breakpoint Exception (#BP): a trap, RIP points after INT3. */
static void t_bp(void)
{
    expect_eq("trapped", try_call(probe_int3, 0), 1);
    expect_frame(pre_rsp, 3, (u64)int3_insn + 1, KCODE64, pre_rsp, KDATA);
}

/* INT n/INTO/INT3/INT1 (Vol. 2A): INT n delivers vector n, no error code, RIP after. */
static void t_int_n(void)
{
    expect_eq("trapped", try_call(probe_int80, 0), 1);
    expect_frame(pre_rsp, 0x80, (u64)int80_insn + 2, KCODE64, pre_rsp, KDATA);
}

/* Interrupt 13—General Protection Exception (#GP) / Error Code: MOV DS with a selector
 * beyond the GDT limit gives #GP(selector); the RPL bits become EXT=0, IDT=0. */
static void t_gp_selector(void)
{
    expect_eq("faulted", try_call(probe_load_ds, (void *)0xFFFBul), 1);
    expect_frame(pre_rsp, 13, (u64)load_ds_insn, KCODE64, pre_rsp, KDATA);
    expect_eq("error code", last_fault.error, 0xFFF8);
}

/* Interrupt 11—Segment Not Present (#NP): loading DS with a descriptor whose P=0. */
static void t_np_segment(void)
{
    gdt[GDT_SPARE_FIRST] = 0x00CF12000000FFFFull; /* data, read/write, P=0 */
    u16 sel = GDT_SPARE_FIRST * 8;
    expect_eq("faulted", try_call(probe_load_ds, (void *)(uptr)sel), 1);
    expect_frame(pre_rsp, 11, (u64)load_ds_insn, KCODE64, pre_rsp, KDATA);
    expect_eq("error code", last_fault.error, sel);
    gdt[GDT_SPARE_FIRST] = 0;
}

/* Interrupt 11—Segment Not Present (#NP): an IDT gate with P=0 gives
 * #NP(vector*8 + 2) (IDT bit set, EXT clear for INT n). */
static void t_np_gate(void)
{
    set_gate_present(0x90, 0);
    expect_eq("faulted", try_call(probe_int90, 0), 1);
    expect_eq("vector", last_fault.vector, 11);
    expect_eq("error code EXT/IDT/TI bits", last_fault.error & 7, 2);
}

/* Interrupt 14—Page-Fault Exception (#PF): error code pushed, CR2 = linear address. */
static void t_pf(void)
{
    u64 addr = 0x40000123; /* beyond the 1 GiB identity map: PDPTE not present */
    expect_eq("faulted", try_call(probe_read, (void *)addr), 1);
    expect_frame(pre_rsp, 14, (u64)read_insn, KCODE64, pre_rsp, KDATA);
    expect_eq("error code", last_fault.error, 0);
    expect_eq("CR2", last_fault.cr2, addr);
}

/* Canonical Addressing (Vol. 1, 3.3.7.1): a data reference to a non-canonical
 * address (not through RSP/RBP) gives #GP(0), not #PF. */
static void t_noncanonical(void)
{
    u64 addr = 0x0000800000000000ull;
    expect_eq("faulted", try_call(probe_read, (void *)addr), 1);
    expect_frame(pre_rsp, 13, (u64)read_insn, KCODE64, pre_rsp, KDATA);
    expect_eq("error code", last_fault.error, 0);
}

/* INTO (Vol. 2A, INT n/INTO/INT3/INT1): INTO is invalid in 64-bit mode (#UD). */
static void t_into(void)
{
    expect_eq("faulted", try_call(probe_into, 0), 1);
    expect_eq("vector", last_fault.vector, 6);
    expect_eq("RIP", last_fault.rip, (u64)into_insn);
}

/* Stack Switching in IA-32e Mode: an exception in ring 3 switches to TSS.RSP0; the
 * CPU pushes the ring-3 SS:RSP, and loads SS with a NULL selector (RPL = new CPL). */
static void t_ring3_stack_switch(void)
{
    u64 v = run_user(u_ud2, user_stack_top, 0x2, 0);
    expect_eq("vector", v, 6);
    expect_frame((u64)rsp0_stack_top, 6, (u64)u_ud2_insn, UCODE64, last_fault.rbx, UDATA);
    expect_eq("handler SS", last_fault.handler_ss, 0);
}

/* Interrupt 13—General Protection Exception (#GP): CLI at CPL 3 > IOPL gives #GP(0);
 * the error code is pushed below the frame on the RSP0 stack. */
static void t_ring3_gp(void)
{
    u64 v = run_user(u_cli, user_stack_top, 0x2, 0);
    expect_eq("vector", v, 13);
    expect_frame((u64)rsp0_stack_top, 13, (u64)u_cli_insn, UCODE64, last_fault.rbx, UDATA);
    expect_eq("error code", last_fault.error, 0);
}

/* Protection of Exception- and Interrupt-Handler Procedures: INT n from CPL 3 through
 * a gate with DPL 0 gives #GP(vector*8 + 2). */
static void t_ring3_int_dpl(void)
{
    u64 v = run_user(u_int80, user_stack_top, 0x2, 0);
    expect_eq("vector", v, 13);
    expect_eq("error code EXT/IDT/TI bits", last_fault.error & 7, 2);
    expect_eq("RIP (the INT, a fault)", last_fault.rip, (u64)u_int80_insn);
}

/* Error Code: for a fault on an IDT gate the selector-index field (bits 15:3) holds the
 * vector number, in IA-32e mode too (16-byte gates do not change the encoding):
 * #NP(0x90*8+2) and #GP(0x80*8+2). QEMU before 8.0 reports vector*16+2 here. */
static void t_idt_error_index(void)
{
    set_gate_present(0x90, 0);
    expect_eq("INT 0x90 faulted", try_call(probe_int90, 0), 1);
    expect_eq("#NP vector", last_fault.vector, 11);
    expect_eq("#NP error code", last_fault.error, 0x90 * 8 + 2);
    set_gate_present(0x90, 1);
    u64 v = run_user(u_int80, user_stack_top, 0x2, 0);
    expect_eq("#GP vector", v, 13);
    expect_eq("#GP error code", last_fault.error, 0x80 * 8 + 2);
}

/* Protection of Exception- and Interrupt-Handler Procedures: INT3 through a gate with
 * DPL 3 is delivered from ring 3 (a trap: RIP after the INT3). */
static void t_ring3_int3(void)
{
    set_gate(3, (u8 *)isr_table_base() + 16 * 3, KCODE64, 0xE, 3, 0);
    u64 v = run_user(u_int3, user_stack_top, 0x2, 0);
    expect_eq("vector", v, 3);
    expect_frame((u64)rsp0_stack_top, 3, (u64)u_int3_insn + 1, UCODE64, last_fault.rbx, UDATA);
}

/* Interrupt Stack Table: a gate with IST=1 switches to TSS.IST1 even without a
 * privilege change (both for INT n and for an exception). */
static void t_ist(void)
{
    set_gate_ist(0x84, 1);
    expect_eq("int 0x84 trapped", try_call(probe_int84, 0), 1);
    expect_frame((u64)ist1_stack_top, 0x84, (u64)int84_insn + 2, KCODE64, pre_rsp, KDATA);
    set_gate_ist(6, 1);
    expect_eq("ud2 faulted", try_call(probe_ud2, 0), 1);
    expect_frame((u64)ist1_stack_top, 6, (u64)ud2_insn, KCODE64, pre_rsp, KDATA);
}

/* Interrupt 8—Double Fault Exception (#DF): #GP whose gate is not present raises #NP
 * while delivering it; two contributory exceptions give #DF with error code 0
 * (delivered here on IST2). The saved RIP of a #DF is undefined: not checked. */
static void t_df(void)
{
    set_gate_present(13, 0);
    int f = try_call(probe_load_ds, (void *)0xFFFBul);
    set_gate_present(13, 1);
    expect_eq("faulted", f, 1);
    expect_eq("vector", last_fault.vector, 8);
    expect_eq("error code", last_fault.error, 0);
    expect_eq("frame address (IST2)", last_fault.frame_addr, (u64)ist2_stack_top - 40);
}

/* IRET/IRETD/IRETQ (Vol. 2A): in 64-bit mode IRETQ pops SS:RSP even when returning
 * to the same privilege level, and loads RFLAGS. */
static void t_iretq_same(void)
{
    u64 out[4];
    extern u8 iretq_stack_top[];
    probe_iretq_same(out);
    expect_eq("RSP", out[0], (u64)iretq_stack_top);
    expect_eq("RFLAGS", out[1] & 0x3fffff, 0x8c3);
    expect_eq("CS", out[2], KCODE64);
    expect_eq("SS", out[3], KDATA);
}

/* IRET/IRETD/IRETQ (Vol. 2A), return to a less privileged level: IRETQ to ring 3 loads
 * CS, SS, RSP, RFLAGS from the frame; an interrupt from ring 3 returned by IRETQ
 * resumes ring 3 with its own RSP and SS. */
static void t_iretq_ring3(void)
{
    u64 fl = 0x2 | RFLAGS_CF | RFLAGS_ZF | RFLAGS_OF | RFLAGS_DF;
    memset(user_out, 0, sizeof user_out);
    u64 v = run_user(u_state, user_stack_top, fl, (u64)user_out);
    expect_eq("exit vector", v, VEC_USER_EXIT);
    expect_eq("CS in ring 3", user_out[0], UCODE64);
    expect_eq("SS in ring 3", user_out[1], UDATA);
    expect_eq("RFLAGS in ring 3", user_out[2], fl);
    expect_eq("RSP in ring 3", user_out[3], (u64)user_stack_top);
    expect_eq("CS after INT+IRETQ", user_out[4], UCODE64);
    expect_eq("SS after INT+IRETQ", user_out[5], UDATA);
    expect_eq("RSP after INT+IRETQ", user_out[6], (u64)user_stack_top);
    expect_eq("RFLAGS after INT+IRETQ", user_out[7], fl);
}

/* Flag Usage By Exception- or Interrupt-Handler Procedure: an interrupt gate clears
 * IF; both gate kinds clear NT (and TF, RF), leave AC alone, and push the old RFLAGS. */
static void t_if_intgate(void)
{
    set_gate(0x85, if_handler_int, KCODE64, 0xE, 0, 0);
    handler_rflags = pushed_rflags = 0;
    probe_if_intgate();
    expect_eq("pushed RFLAGS.IF/NT/AC", pushed_rflags & (RFLAGS_IF | RFLAGS_NT | RFLAGS_AC),
              RFLAGS_IF | RFLAGS_NT | RFLAGS_AC);
    expect_eq("handler RFLAGS.IF/NT/AC", handler_rflags & (RFLAGS_IF | RFLAGS_NT | RFLAGS_AC), RFLAGS_AC);
}

/* Flag Usage By Exception- or Interrupt-Handler Procedure: a trap gate leaves IF set.
 * The gate is called from a private IDT whose every other vector just IRETQs, so an
 * external interrupt that might be pending (no PIC is programmed here) is harmless. */
static struct idt_gate saved_idt[256];
static void t_if_trapgate(void)
{
    memcpy(saved_idt, idt, sizeof idt);
    for (int v = 0; v < 256; v++)
        set_gate(v, irq_eat, KCODE64, 0xE, 0, 0);
    set_gate(0x86, if_handler_trap, KCODE64, 0xF, 0, 0);
    handler_rflags = pushed_rflags = 0;
    probe_if_trapgate();
    memcpy(idt, saved_idt, sizeof idt);
    expect_eq("pushed RFLAGS.IF/NT/AC", pushed_rflags & (RFLAGS_IF | RFLAGS_NT | RFLAGS_AC),
              RFLAGS_IF | RFLAGS_NT | RFLAGS_AC);
    expect_eq("handler RFLAGS.IF/NT/AC", handler_rflags & (RFLAGS_IF | RFLAGS_NT | RFLAGS_AC),
              RFLAGS_IF | RFLAGS_AC);
}

void kernel_main(void)
{
    run_test("de-divide-error", t_de);
    run_test("ud-invalid-opcode", t_ud);
    run_test("bp-breakpoint-trap", t_bp);
    run_test("int-n-software-interrupt", t_int_n);
    run_test("gp-selector-error-code", t_gp_selector);
    run_test("np-segment-not-present", t_np_segment);
    run_test("np-idt-gate-not-present", t_np_gate);
    run_test("pf-error-code-and-cr2", t_pf);
    run_test("gp-non-canonical-address", t_noncanonical);
    run_test("ud-into-in-64bit-mode", t_into);
    run_test("ring3-exception-stack-switch-rsp0", t_ring3_stack_switch);
    run_test("ring3-gp-error-code-on-rsp0-stack", t_ring3_gp);
    run_test("ring3-int-n-gate-dpl-gp", t_ring3_int_dpl);
    run_test("ring3-int3-dpl3-gate", t_ring3_int3);
    run_test("idt-gate-error-code-index", t_idt_error_index);
    run_test("ist-stack-switch-at-cpl0", t_ist);
    run_test("df-double-fault-from-np-gate", t_df);
    run_test("iretq-same-privilege-pops-ss-rsp", t_iretq_same);
    run_test("iretq-to-ring3", t_iretq_ring3);
    run_test("interrupt-gate-clears-if", t_if_intgate);
    run_test("trap-gate-keeps-if", t_if_trapgate);
    if (irqs_eaten)
        kprintf("note: %llu external interrupt(s) arrived while IF=1 and were ignored\n", irqs_eaten);
}
