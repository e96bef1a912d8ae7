/* Generic one-instruction probes for 64-bit kernels. Each records RSP just before
 * the instruction (probe_rsp) and exports the instruction's address. */
#include "gdt.inc"
    .code64
    .text
/* void probe_read64(u64 *addr) */
    .globl probe_read64, probe_read64_insn
probe_read64:
    mov %rsp, probe_rsp(%rip)
probe_read64_insn:
    mov (%rdi), %rax
    mov %rax, probe_value(%rip)
    ret
/* void probe_write64(u64 *addr): writes probe_value */
    .globl probe_write64, probe_write64_insn
probe_write64:
    mov probe_value(%rip), %rax
    mov %rsp, probe_rsp(%rip)
probe_write64_insn:
    mov %rax, (%rdi)
    ret
/* void probe_call(void *target) */
    .globl probe_call, probe_call_insn
probe_call:
    mov %rsp, probe_rsp(%rip)
probe_call_insn:
    call *%rdi
    ret

    .data
    .balign 8
    .globl probe_rsp, probe_value
probe_rsp: .quad 0
probe_value: .quad 0

/* Ring-3 versions: rdi = address; RAX gets the value read; then INT 0x81. */
    .section .user.text, "ax"
    .globl u_read64, u_read64_insn, u_write64, u_write64_insn, u_call, u_call_insn
u_read64:
u_read64_insn:
    mov (%rdi), %rax
    int $VEC_USER_EXIT
u_write64:
    mov $0x5555aaaa5555aaaa, %rax
u_write64_insn:
    mov %rax, (%rdi)
    int $VEC_USER_EXIT
u_call:
u_call_insn:
    call *%rdi
    int $VEC_USER_EXIT
