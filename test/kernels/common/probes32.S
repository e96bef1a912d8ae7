/* Generic one-instruction probes for 32-bit kernels (cdecl: the argument at 4(%esp)). */
#include "gdt.inc"
    .code32
    .text
    .globl probe_read32, probe_read32_insn
probe_read32:
    mov 4(%esp), %ecx
    mov %esp, probe_esp
probe_read32_insn:
    mov (%ecx), %eax
    mov %eax, probe_value
    ret
    .globl probe_write32, probe_write32_insn
probe_write32:
    mov 4(%esp), %ecx
    mov probe_value, %eax
    mov %esp, probe_esp
probe_write32_insn:
    mov %eax, (%ecx)
    ret
    .globl probe_call32, probe_call32_insn
probe_call32:
    mov 4(%esp), %ecx
    mov %esp, probe_esp
probe_call32_insn:
    call *%ecx
    ret

    .data
    .balign 4
    .globl probe_esp, probe_value
probe_esp: .long 0
probe_value: .long 0

/* Ring-3 versions: EDI = address; EAX gets the value read; then INT 0x81. */
    .section .user.text, "ax"
    .globl u32_read, u32_read_insn, u32_write, u32_write_insn
u32_read:
u32_read_insn:
    mov (%edi), %eax
    int $VEC_USER_EXIT
u32_write:
    mov $0x5555aaaa, %eax
u32_write_insn:
    mov %eax, (%edi)
    int $VEC_USER_EXIT
