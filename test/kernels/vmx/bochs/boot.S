/*
 * A boot sector that starts a multiboot test kernel on Bochs (which has no multiboot loader).
 * The disk image (mkimg.py) is: this sector, then the kernel's first ELF segment as a flat
 * binary (linked at 1 MiB). The sector reads the kernel with INT 13h extensions to 10000H,
 * enables A20, enters 32-bit protected mode with flat segments, copies the kernel to 1 MiB
 * and jumps to its entry with EAX = 2BADB002H and EBX = an empty multiboot information
 * structure (flags = 0) — the state a multiboot loader leaves. mkimg.py patches the sector
 * count and the entry point into the words at 1F0H and 1F4H.
 */
    .code16
    .section .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7c00, %sp
    mov %dl, drive
    inb $0x92, %al              /* fast A20 */
    or $2, %al
    and $0xfe, %al
    outb %al, $0x92

    movw $1, dap_lba            /* the kernel starts at LBA 1 */
    movw $0x1000, dap_seg
1:  mov nsectors, %cx
    cmp $0, %cx
    je 3f
    cmp $64, %cx
    jbe 2f
    mov $64, %cx
2:  mov %cx, dap_count
    sub %cx, nsectors
    mov $0x42, %ah
    mov drive, %dl
    mov $dap, %si
    int $0x13
    jc disk_error
    mov dap_count, %ax
    add %ax, dap_lba
    shl $5, %ax                 /* sectors * 512 / 16 */
    add %ax, dap_seg
    jmp 1b

3:  lgdt gdt_desc
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmp $0x08, $pm32

disk_error:
    mov $'E', %al
    outb %al, $0xe9
    hlt
    jmp disk_error

    .code32
pm32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov $0x7c00, %esp
    mov $0x10000, %esi
    mov $0x100000, %edi
    movzwl total_sectors, %ecx
    shl $7, %ecx                /* dwords */
    cld
    rep movsl
    mov $0x2badb002, %eax
    mov $mbi, %ebx
    jmp *entry

    .balign 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 08H: code, 32-bit, flat */
    .quad 0x00cf92000000ffff    /* 10H: data, flat */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt
dap:
    .byte 16, 0
dap_count: .word 0
    .word 0                     /* offset */
dap_seg: .word 0
dap_lba: .long 0, 0
drive: .byte 0
    .balign 4
mbi: .fill 8, 4, 0              /* multiboot information: flags = 0 */

    .org 0x1f0
nsectors: .word 0
total_sectors: .word 0
    .org 0x1f4
entry: .long 0
    .org 0x1fe
    .word 0xaa55
