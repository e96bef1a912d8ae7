/*
 * Multiboot v1 entry for the 64-bit test kernels.
 *
 * The image is linked as ELF64 (everything at low physical addresses, identity
 * mapped) and converted to ELF32 with objcopy, because multiboot loaders (QEMU's
 * -kernel included) take only ELF32. The loader enters _start in 32-bit protected
 * mode with paging off; this code sets up its own stack, GDT and an identity map of
 * the first GiB with 2 MiB pages (the 2 MiB page at 0x400000, the "user region",
 * has U=1), enables PAE + EFER.LME + CR0.PG and far-jumps to 64-bit code.
 */
#include "gdt.inc"

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* align modules, want memory info */

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
    mov %ax, %fs
    mov %ax, %gs

    /* Identity map 0..1 GiB with 2 MiB pages: PML4[0] -> PDPT[0] -> PD. */
    mov $boot_pd, %edi
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax /* P | RW | PS */
    cmp $(USER_REGION >> 21), %ecx
    jne 3f
    or $0x04, %eax /* U: the user region */
3:  mov %eax, (%edi, %ecx, 8)
    movl $0, 4(%edi, %ecx, 8)
    inc %ecx
    cmp $512, %ecx
    jne 2b
    mov $boot_pdpt, %edi
    mov $boot_pd, %eax
    or $0x07, %eax /* P | RW | U: leaves decide */
    mov %eax, (%edi)
    mov $boot_pml4, %edi
    mov $boot_pdpt, %eax
    or $0x07, %eax
    mov %eax, (%edi)

    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x20, %eax /* PAE */
    mov %eax, %cr4
    mov $0xC0000080, %ecx
    rdmsr
    or $0x100, %eax /* EFER.LME */
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax /* PG | PE */
    mov %eax, %cr0
    ljmp $KCODE64, $start64

    .code64
start64:
    mov $KDATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    mov $boot_stack_top, %rsp
    call kmain64
4:  cli
    hlt
    jmp 4b

    .section .data
    .balign 8
    .globl gdt
gdt:
    .quad 0                     /* 0x00 null */
    .quad 0x00CF9A000000FFFF    /* 0x08 kernel code, 32-bit */
    .quad 0x00AF9A000000FFFF    /* 0x10 kernel code, 64-bit */
    .quad 0x00CF92000000FFFF    /* 0x18 kernel data */
    .quad 0x00CFFA000000FFFF    /* 0x20 user code, 32-bit (0x23) */
    .quad 0x00CFF2000000FFFF    /* 0x28 user data (0x2b) */
    .quad 0x00AFFA000000FFFF    /* 0x30 user code, 64-bit (0x33) */
    .quad 0, 0                  /* 0x38 TSS (filled at run time) */
    .fill 7, 8, 0               /* 0x48.. spare for tests */
gdt_end:
    .globl gdt_ptr
gdt_ptr:
    .word gdt_end - gdt - 1
    .quad gdt

    .globl mb_magic, mb_info
mb_magic: .long 0
mb_info: .long 0

    .section .bss
    .balign 4096
    .globl boot_pml4, boot_pdpt, boot_pd
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd: .skip 4096
    .balign 16
    .skip 16384
    .globl boot_stack_top
boot_stack_top:
    .skip 16
    .globl rsp0_stack_top, ist1_stack_top, ist2_stack_top
    .skip 8192
rsp0_stack_top:
    .skip 16
    .skip 8192
ist1_stack_top:
    .skip 16
    .skip 8192
ist2_stack_top:
    .skip 16

    .section .user.bss, "aw", @nobits
    .balign 16
    .globl user_stack_top
    .skip 8192
user_stack_top:
    .skip 64
