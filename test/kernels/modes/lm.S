/*
 * Long-mode pieces of the modes kernel. The kernel is a 32-bit ELF; after paging is
 * turned on with EFER.LME=1 its C code keeps running in compatibility mode (CS is
 * still the 32-bit code segment). 64-bit code below is reached by far calls.
 */
#include "gdt.inc"

/* struct fault field offsets (lib32.h, all u64) */
#define F_VECTOR 0
#define F_ERROR 8
#define F_RIP 16
#define F_CS 24
#define F_RFLAGS 32
#define F_RSP 40
#define F_SS 48
#define F_CR2 56
#define F_FRAME 64
#define F_HSS 72
#define F_EAX 80
#define F_EBX 88
#define F_ECX 96
#define F_EDX 104
#define F_ESI 112
#define F_EDI 120
#define F_EBP 128
#define F_COUNT 136

    .text
    .code32
/* void lm_enable_paging(void): CR0.PG=1 (EFER.LME=1 and CR4.PAE=1 already), then load
 * the 64-bit IDT at once. Returns in compatibility mode. */
    .globl lm_enable_paging
lm_enable_paging:
    mov %cr0, %eax
    or $0x80000000, %eax
    mov %eax, %cr0
    lidt idt64_desc
    ret

/* void lm_set_pg_probe(void): attempt CR0.PG=1 (used when it must fault). */
    .globl set_pg_probe, set_pg_insn
set_pg_probe:
    mov %cr0, %eax
    or $0x80000000, %eax
set_pg_insn:
    mov %eax, %cr0
    ret

/* void lm_leave(void): CR0.PG=0 from compatibility mode: leaves IA-32e mode. */
    .globl lm_leave
lm_leave:
    mov %cr0, %eax
    and $0x7fffffff, %eax
    mov %eax, %cr0
    ret

/* void call64(void (*fn)(void)): far call into the 64-bit code segment. */
    .globl call64
call64:
    push %ebp
    mov %esp, %ebp
    push %ebx
    push %esi
    push %edi
    mov 8(%ebp), %eax
    lcall $KCODE64, $thunk64
    pop %edi
    pop %esi
    pop %ebx
    pop %ebp
    ret

    .code64
thunk64:
    mov %esp, %esp      /* upper RSP bits are undefined after compatibility mode */
    mov %eax, %eax
    call *%rax
    lretl               /* 32-bit far return: back to compatibility mode */

/* ---- 64-bit tests; results in lm_out ---- */
/* lm_out: [0] 64-bit constant, [8] EAX after 48H 90H, [16] bytes pushed by PUSH,
 * [24] LEA 0(%rip), [32] CS */
    .globl lm_exec, lm_rip_label
lm_exec:
    movabs $0x123456789abcdef0, %rax
    mov %rax, lm_out(%rip)
    mov $5, %eax
    .byte 0x48          /* REX.W in 64-bit mode, not DEC EAX */
    nop
    mov %eax, lm_out + 8(%rip)
    mov %rsp, %rcx
    push %rax
    mov %rsp, %rdx
    pop %rax
    sub %rdx, %rcx
    mov %rcx, lm_out + 16(%rip)
    lea 0(%rip), %rax
lm_rip_label:
    mov %rax, lm_out + 24(%rip)
    xor %eax, %eax
    mov %cs, %ax
    mov %rax, lm_out + 32(%rip)
    ret

/* Far JMP to a 32-bit code segment (compatibility mode) and back.
 * lm_out: [40] EAX after 48H 90H in compat mode, [48] CS there, [56] CS back in 64-bit */
    .globl lm_compat_roundtrip
lm_compat_roundtrip:
    ljmp *compat_ptr(%rip)
    .code32
compat_part:
    mov $5, %eax
    .byte 0x48          /* DEC EAX in compatibility mode */
    nop
    mov %eax, lm_out + 40
    mov %cs, %eax
    movzwl %ax, %eax
    mov %eax, lm_out + 48
    ljmp $KCODE64, $back64
    .code64
back64:
    mov %esp, %esp
    xor %eax, %eax
    mov %cs, %ax
    mov %rax, lm_out + 56(%rip)
    ret

/* Direct far JMP (EA) is invalid in 64-bit mode: #UD */
    .globl lm_jmp_far_direct, lm_jmp_far_insn
lm_jmp_far_direct:
lm_jmp_far_insn:
    .byte 0xea, 0, 0, 0, 0, KCODE32, 0
    ret

/* MOV SS with a null selector at CPL 0 in 64-bit mode is allowed. lm_out[64] = SS after */
    .globl lm_null_ss
lm_null_ss:
    xor %eax, %eax
    mov %ax, %ss
    mov %ss, %ax
    mov %rax, lm_out + 64(%rip)
    mov $KDATA, %eax
    mov %ax, %ss
    ret

/* Clearing CR0.PG in 64-bit mode is #GP(0) */
    .globl lm_clear_pg, lm_clear_pg_insn
lm_clear_pg:
    mov %cr0, %rax
    btr $31, %rax
lm_clear_pg_insn:
    mov %rax, %cr0
    ret

/* ---- 64-bit IDT entry stubs ---- */
    .balign 16
    .globl lm_isr_stubs
lm_isr_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp lm_trap_common
    .set vec, vec + 1
    .endr

/* Record the exception in last_fault and unwind to the innermost try_call: IRETQ to
 * catch_landing32 in compatibility mode with RSP = catch_top. */
lm_trap_common:
    push %rax
    push %rdx
    mov 16(%rsp), %rax
    mov %rax, last_fault + F_VECTOR(%rip)
    mov 24(%rsp), %rax
    mov %rax, last_fault + F_ERROR(%rip)
    mov 32(%rsp), %rax
    mov %rax, last_fault + F_RIP(%rip)
    mov 40(%rsp), %rax
    mov %rax, last_fault + F_CS(%rip)
    mov 48(%rsp), %rax
    mov %rax, last_fault + F_RFLAGS(%rip)
    mov 56(%rsp), %rax
    mov %rax, last_fault + F_RSP(%rip)
    mov 64(%rsp), %rax
    mov %rax, last_fault + F_SS(%rip)
    mov %cr2, %rax
    mov %rax, last_fault + F_CR2(%rip)
    lea 32(%rsp), %rax
    mov %rax, last_fault + F_FRAME(%rip)
    xor %eax, %eax
    mov %ss, %ax
    mov %rax, last_fault + F_HSS(%rip)
    mov 8(%rsp), %rax
    mov %rax, last_fault + F_EAX(%rip)
    mov %rbx, last_fault + F_EBX(%rip)
    mov %rcx, last_fault + F_ECX(%rip)
    mov 0(%rsp), %rax
    mov %rax, last_fault + F_EDX(%rip)
    mov %rsi, last_fault + F_ESI(%rip)
    mov %rdi, last_fault + F_EDI(%rip)
    mov %rbp, last_fault + F_EBP(%rip)
    incq last_fault + F_COUNT(%rip)
    mov catch_top(%rip), %eax
    test %eax, %eax
    jz lm_fatal
    lea catch_landing32(%rip), %rdx
    mov %rdx, 32(%rsp)
    movq $KCODE32, 40(%rsp)
    mov 4(%rax), %edx           /* saved EFLAGS of the try_call */
    mov %rdx, 48(%rsp)
    mov %rax, 56(%rsp)          /* RSP = catch_top */
    movq $KDATA, 64(%rsp)
    pop %rdx
    pop %rax
    add $16, %rsp
    iretq

lm_fatal:
    mov $lm_fatal_msg, %esi
1:  lodsb
    test %al, %al
    jz 2f
    out %al, $0xe9
    jmp 1b
2:  mov $1, %al
    out %al, $0xf4
3:  hlt
    jmp 3b

    .section .rodata
lm_fatal_msg:
    .asciz "not ok long-mode: exception with no try_call to unwind to\ndone 0/1\n"

    .data
    .balign 8
    .globl lm_out, idt64_desc
lm_out: .fill 16, 8, 0
compat_ptr:
    .long compat_part
    .word KCODE32
    .balign 4
    .word 0
idt64_desc:
    .word 256 * 16 - 1
    .long idt64
    .bss
    .balign 16
    .globl idt64
idt64: .skip 256 * 16
