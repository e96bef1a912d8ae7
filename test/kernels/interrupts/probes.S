/* Instruction probes for the interrupts kernel. Each records RSP just before the
 * instruction under test (pre_rsp) and labels that instruction for RIP checks. */
#include "gdt.inc"
    .code64
    .text

    .globl probe_div0, div0_insn
probe_div0:                 /* RSP = 8 mod 16 here: checks the 16-byte frame alignment */
    xor %ecx, %ecx
    mov $1, %eax
    xor %edx, %edx
    mov %rsp, pre_rsp(%rip)
div0_insn:
    div %ecx
    ret

    .globl probe_ud2, ud2_insn
probe_ud2:
    push %rbx               /* RSP = 0 mod 16 */
    mov %rsp, pre_rsp(%rip)
ud2_insn:
    ud2
    pop %rbx
    ret

    .globl probe_int3, int3_insn
probe_int3:
    mov %rsp, pre_rsp(%rip)
int3_insn:
    int3
    ret

    .globl probe_int80, int80_insn
probe_int80:
    mov %rsp, pre_rsp(%rip)
int80_insn:
    int $0x80
    ret

    .globl probe_int84, int84_insn
probe_int84:
    mov %rsp, pre_rsp(%rip)
int84_insn:
    int $0x84
    ret

    .globl probe_int90
probe_int90:
    mov %rsp, pre_rsp(%rip)
    int $0x90
    ret

    .globl probe_into, into_insn
probe_into:
    mov %rsp, pre_rsp(%rip)
into_insn:
    .byte 0xce              /* INTO: invalid in 64-bit mode */
    ret

/* rdi = selector to load into DS */
    .globl probe_load_ds, load_ds_insn
probe_load_ds:
    mov %rsp, pre_rsp(%rip)
    mov %edi, %eax
load_ds_insn:
    mov %ax, %ds
    mov $KDATA, %eax
    mov %ax, %ds
    ret

/* rdi = address to read */
    .globl probe_read, read_insn
probe_read:
    mov %rsp, pre_rsp(%rip)
read_insn:
    mov (%rdi), %rax
    ret

/* IRETQ to the same privilege level with a different RSP and RFLAGS:
 * u64 probe_iretq_same(u64 *out) -> out[0]=RSP after, out[1]=RFLAGS after, out[2]=CS, out[3]=SS */
    .globl probe_iretq_same
probe_iretq_same:
    push %rbx
    pushfq
    mov %rsp, %rbx
    lea iretq_stack_top(%rip), %rax
    pushq $KDATA
    pushq %rax
    pushq $0x8c3            /* OF SF ZF CF + bit 1 */
    pushq $KCODE64
    lea 1f(%rip), %rax
    pushq %rax
    iretq
1:  mov %rsp, 0(%rdi)
    pushfq
    popq 8(%rdi)
    mov %cs, %rax
    mov %rax, 16(%rdi)
    mov %ss, %rax
    mov %rax, 24(%rdi)
    mov %rbx, %rsp
    popfq
    pop %rbx
    ret

/* RFLAGS.IF and gates. Called with IF=0; sets NT and AC, then STI; INT n. The STI
 * shadow covers the INT, so no external interrupt can be taken before the gate
 * runs. The handlers record RFLAGS as the CPU left it and return with IF=0. */
    .globl probe_if_intgate, probe_if_trapgate
probe_if_intgate:
    pushfq
    pushfq
    orq $0x44000, (%rsp)    /* NT | AC */
    popfq
    sti
    int $0x85
    popfq
    ret
probe_if_trapgate:
    pushfq
    pushfq
    orq $0x44000, (%rsp)
    popfq
    sti
    int $0x86
    popfq
    ret

    .globl if_handler_int, if_handler_trap, irq_eat
if_handler_int:             /* interrupt gate: IF already 0 */
    pushfq
    popq handler_rflags(%rip)
    pushq 16(%rsp)
    popq pushed_rflags(%rip)
    andq $~0x200, 16(%rsp)
    iretq
if_handler_trap:            /* trap gate: IF still 1 — record it, then CLI */
    pushfq
    cli
    popq handler_rflags(%rip)
    pushq 16(%rsp)
    popq pushed_rflags(%rip)
    andq $~0x200, 16(%rsp)
    iretq
irq_eat:                    /* any external interrupt that slips in while IF=1 */
    incq irqs_eaten(%rip)
    iretq

    .data
    .balign 8
    .globl pre_rsp, handler_rflags, pushed_rflags, irqs_eaten
pre_rsp: .quad 0
handler_rflags: .quad 0
pushed_rflags: .quad 0
irqs_eaten: .quad 0
    .bss
    .balign 16
    .skip 1024
    .globl iretq_stack_top
iretq_stack_top:
    .skip 16

/* ---- ring-3 snippets (in the user region) ---- */
    .section .user.text, "ax"
    .globl u_ud2, u_ud2_insn, u_cli, u_cli_insn, u_int80, u_int80_insn, u_int3, u_int3_insn, u_state
u_ud2:
    mov %rsp, %rbx
u_ud2_insn:
    ud2
u_cli:
    mov %rsp, %rbx
u_cli_insn:
    cli
    int $VEC_USER_EXIT
u_int80:
    mov %rsp, %rbx
u_int80_insn:
    int $0x80
    int $VEC_USER_EXIT
u_int3:
    mov %rsp, %rbx
u_int3_insn:
    int3
    int $VEC_USER_EXIT
/* rdi = output array: CS, SS, RFLAGS, RSP; then INT 0x83 (resumed by IRETQ); CS, SS, RSP */
u_state:
    mov %cs, %rax
    mov %rax, 0(%rdi)
    mov %ss, %rax
    mov %rax, 8(%rdi)
    pushfq
    popq 16(%rdi)
    mov %rsp, 24(%rdi)
    int $0x83
    mov %cs, %rax
    mov %rax, 32(%rdi)
    mov %ss, %rax
    mov %rax, 40(%rdi)
    mov %rsp, 48(%rdi)
    pushfq
    popq 56(%rdi)
    int $VEC_USER_EXIT
