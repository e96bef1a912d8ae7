/* 64-bit exception entry stubs, try_call / catch landing, ring-3 entry. */
#include "gdt.inc"

    .code64
    .section .text

/* One 16-byte stub per vector. Vectors that push no error code push a 0 so that
 * every frame has the same layout (struct frame in lib64.h). */
    .balign 16
    .globl isr_stubs
isr_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp trap_common
    .set vec, vec + 1
    .endr

trap_common:
    push %rax
    push %rcx
    push %rdx
    push %rbx
    push %rbp
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    cld
    mov %rsp, %rdi
    call trap_dispatch
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rbp
    pop %rbx
    pop %rdx
    pop %rcx
    pop %rax
    add $16, %rsp
    iretq

/*
 * int try_call(void (*fn)(void *), void *arg)
 * The catch context lives on this stack frame: [prev catch_top][rflags][r15..rbp][ret].
 * trap_dispatch unwinds to catch_landing with RSP = catch_top and RFLAGS = saved.
 */
    .globl try_call, catch_landing
try_call:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    pushfq
    pushq catch_top(%rip)
    mov %rsp, catch_top(%rip)
    sub $8, %rsp
    mov %rdi, %rax
    mov %rsi, %rdi
    call *%rax
    add $8, %rsp
    popq catch_top(%rip)
    add $8, %rsp
    xor %eax, %eax
    jmp 1f
catch_landing:
    popq catch_top(%rip)
    add $8, %rsp
    mov $1, %eax
1:  pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

/* void enter_user(struct user_entry *e): IRETQ to ring 3 (never returns here). */
    .globl enter_user
enter_user:
    mov $UDATA, %ax
    mov %ax, %ds
    mov %ax, %es
    pushq $UDATA
    pushq 8(%rdi)   /* rsp */
    pushq 16(%rdi)  /* rflags */
    pushq $UCODE64
    pushq 0(%rdi)   /* rip */
    mov 32(%rdi), %rsi
    mov 24(%rdi), %rdi
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %ebp, %ebp
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    iretq

/* void load_kernel_segments(void): CS=KCODE64, DS=ES=SS=KDATA, FS=GS=0. */
    .globl load_kernel_segments
load_kernel_segments:
    mov $KDATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    popq %rax
    pushq $KCODE64
    pushq %rax
    lretq

    .section .data
    .balign 8
    .globl catch_top
catch_top: .quad 0
