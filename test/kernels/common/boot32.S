/* Multiboot v1 entry for the 32-bit test kernels: own stack and GDT, then kmain32. */
#include "gdt.inc"
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003

    .section .multiboot, "a"
    .balign 4
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

    .section .text
    .code32
    .globl _start
_start:
    cli
    cld
    mov $boot_stack_top, %esp
    mov %eax, mb_magic
    mov %ebx, mb_info
    lgdt gdt_ptr
    ljmp $KCODE32, $1f
1:  mov $KDATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    call kmain32
2:  cli
    hlt
    jmp 2b

    .section .data
    .balign 8
    .globl gdt, gdt_ptr
gdt:
    .quad 0                     /* 0x00 null */
    .quad 0x00CF9A000000FFFF    /* 0x08 kernel code, 32-bit */
    .quad 0x00AF9A000000FFFF    /* 0x10 kernel code, 64-bit */
    .quad 0x00CF92000000FFFF    /* 0x18 kernel data */
    .quad 0x00CFFA000000FFFF    /* 0x20 user code, 32-bit (0x23) */
    .quad 0x00CFF2000000FFFF    /* 0x28 user data (0x2b) */
    .quad 0x00AFFA000000FFFF    /* 0x30 user code, 64-bit (0x33) */
    .quad 0                     /* 0x38 32-bit TSS (filled at run time) */
    .quad 0, 0                  /* 0x40 64-bit TSS for the modes kernel */
    .fill 14, 8, 0              /* 0x50.. spare for tests */
gdt_end:
    .balign 4
    .word 0
gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt

    .globl mb_magic, mb_info
mb_magic: .long 0
mb_info: .long 0

    .section .bss
    .balign 16
    .skip 16384
    .globl boot_stack_top
boot_stack_top:
    .skip 16
    .skip 8192
    .globl esp0_stack_top
esp0_stack_top:
    .skip 16

    .section .user.bss, "aw", @nobits
    .balign 16
    .skip 8192
    .globl user_stack_top
user_stack_top:
    .skip 64
