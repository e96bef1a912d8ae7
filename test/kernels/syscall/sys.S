/* SYSCALL entry and ring-3 snippets for the syscall kernel. */
#include "gdt.inc"
    .code64
    .text

/* LSTAR target. Records what SYSCALL left in RCX, R11, RFLAGS, CS, SS, RSP, then
 * returns with SYSRETQ (or SYSRETL if sc_mode == 1) using R11 = sc_ret_r11 and
 * RCX = sc_ret_rcx (0 = keep the RCX SYSCALL saved). */
    .globl syscall_entry
syscall_entry:
    mov %rcx, sc_rcx(%rip)
    mov %r11, sc_r11(%rip)
    mov %rsp, sc_rsp(%rip)
    mov %rax, sc_rax(%rip)
    pushfq                      /* still on the ring-3 stack: SYSCALL does not switch */
    popq sc_rflags(%rip)
    mov %cs, %rax
    mov %rax, sc_cs(%rip)
    mov %ss, %rax
    mov %rax, sc_ss(%rip)
    incq sc_count(%rip)
    mov sc_ret_r11(%rip), %r11
    mov sc_ret_rcx(%rip), %rax
    test %rax, %rax
    jz 1f
    mov %rax, %rcx
1:  cmpq $1, sc_mode(%rip)
    je 2f
    sysretq
2:  sysretl

    .data
    .balign 8
    .globl sc_rcx, sc_r11, sc_rsp, sc_rax, sc_rflags, sc_cs, sc_ss, sc_count, sc_ret_r11, sc_ret_rcx, sc_mode
sc_rcx: .quad 0
sc_r11: .quad 0
sc_rsp: .quad 0
sc_rax: .quad 0
sc_rflags: .quad 0
sc_cs: .quad 0
sc_ss: .quad 0
sc_count: .quad 0
sc_ret_r11: .quad 0
sc_ret_rcx: .quad 0
sc_mode: .quad 0

    .section .user.text, "ax"
/* rdi = output array, rsi = RFLAGS to run SYSCALL with.
 * out: [0] RFLAGS after SYSRET, [1] CS, [2] SS, [3] RSP, [4] RCX, [5] RSP before */
    .globl u_syscall, u_syscall_insn, u_after_syscall
u_syscall:
    push %rsi
    popfq
    mov %rsp, 40(%rdi)
    mov $0x1234, %eax
u_syscall_insn:
    syscall
u_after_syscall:
    pushfq
    popq 0(%rdi)
    push $2
    popfq                       /* back to plain flags (clears AC, DF) */
    mov %cs, %rax
    mov %rax, 8(%rdi)
    mov %ss, %rax
    mov %rax, 16(%rdi)
    mov %rsp, 24(%rdi)
    mov %rcx, 32(%rdi)
    int $VEC_USER_EXIT

/* Target of SYSRETL: 32-bit compatibility-mode code. */
    .code32
    .globl u_compat_target
u_compat_target:
    int $VEC_USER_EXIT
    .code64

    .globl u_sysret, u_sysret_insn
u_sysret:
u_sysret_insn:
    sysretq
    int $VEC_USER_EXIT

    .globl u_swapgs, u_swapgs_insn
u_swapgs:
u_swapgs_insn:
    swapgs
    int $VEC_USER_EXIT

/* rdi = MSR number */
    .globl u_rdmsr, u_rdmsr_insn
u_rdmsr:
    mov %edi, %ecx
u_rdmsr_insn:
    rdmsr
    int $VEC_USER_EXIT

    .globl u_rdtsc, u_rdtsc_insn
u_rdtsc:
u_rdtsc_insn:
    rdtsc
    int $VEC_USER_EXIT
