/*
 * Multiboot v1 entry of the highhalf test kernel (modelled on SWEB's x86_64 boot path).
 *
 * The loader enters _start at its *physical* address in 32-bit protected mode, paging off.
 * Everything is linked at KERNEL_VMA + physical, so the 32-bit code uses (symbol - KERNEL_VMA).
 * It builds 4-level page tables mapping physical 0..4 MiB twice: identity (PML4[0]) and at
 * 0xffffffff80000000 (PML4[511] -> PDPT[510]); the first 2 MiB through a page table (4 KiB pages,
 * so a walk shows a PTE level), the second 2 MiB as one 2 MiB page. Then PAE, EFER.LME,
 * CR0.PG|WP, a far jump to 64-bit code at its physical address, and a jump to startup() in the
 * high half.
 */
#define KERNEL_VMA 0xFFFFFFFF80000000
#define PHYS(x) ((x) - KERNEL_VMA)
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* page-align modules, memory info */

    .section .multiboot, "a"
    .balign 4
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

    .section .boot.text, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    mov $PHYS(boot_stack_top), %esp
    mov %eax, PHYS(mb_magic)
    mov %ebx, PHYS(mb_info)

    /* page table: 512 x 4 KiB pages = physical 0..2 MiB */
    mov $PHYS(pt0), %edi
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $12, %eax
    or $0x03, %eax                  /* P | RW */
    mov %eax, (%edi, %ecx, 8)
    inc %ecx
    cmp $512, %ecx
    jne 1b
    /* page directory: PD[0] -> pt0, PD[1] = 2 MiB page at 2 MiB; PD[2..] not present */
    mov $PHYS(pd0), %edi
    mov $PHYS(pt0), %eax
    or $0x03, %eax
    mov %eax, (%edi)
    movl $(0x200000 | 0x83), 8(%edi) /* P | RW | PS */
    /* PDPT_low[0] and PDPT_high[510] -> pd0 */
    mov $PHYS(pd0), %eax
    or $0x03, %eax
    mov %eax, PHYS(pdpt_low)
    mov %eax, PHYS(pdpt_high) + 510 * 8
    /* PML4[0] -> pdpt_low, PML4[511] -> pdpt_high */
    mov $PHYS(pdpt_low), %eax
    or $0x03, %eax
    mov %eax, PHYS(pml4)
    mov $PHYS(pdpt_high), %eax
    or $0x03, %eax
    mov %eax, PHYS(pml4) + 511 * 8

    mov $PHYS(pml4), %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x20, %eax                  /* PAE */
    mov %eax, %cr4
    mov $0xC0000080, %ecx
    rdmsr
    or $0x100, %eax                 /* EFER.LME */
    wrmsr
    lgdt PHYS(gdt_ptr)
    mov %cr0, %eax
    or $0x80010001, %eax            /* PG | WP | PE */
    mov %eax, %cr0
    ljmp $0x08, $PHYS(long_low)

    .code64
long_low:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    movabs $high_entry, %rax        /* leave the identity map for the high half */
    jmp *%rax

    .section .text
    /* The outermost frame: its CFI says "no return address", so gdb's backtrace ends here. */
    .cfi_sections .debug_frame
    .type high_entry, @function
high_entry:
    .cfi_startproc
    .cfi_undefined rip
    movabs $boot_stack_top, %rsp    /* the high-half alias of the stack */
    xor %ebp, %ebp
    call startup                    /* startup() never returns */
2:  cli
    hlt
    jmp 2b
    .cfi_endproc
    .size high_entry, . - high_entry

    .section .rodata
    .balign 16
gdt:
    .quad 0                         /* 0x00 null */
    .quad 0x00AF9A000000FFFF        /* 0x08 kernel code, 64-bit */
    .quad 0x00CF92000000FFFF        /* 0x10 kernel data */
gdt_end:
gdt_ptr:
    .word gdt_end - gdt - 1
    .long PHYS(gdt)                 /* physical: valid in both halves (identity map kept) */

    .section .data
    .globl mb_magic, mb_info
mb_magic: .long 0
mb_info: .long 0

    .section .bss
    .balign 4096
    .globl pml4, pdpt_low, pdpt_high, pd0, pt0
pml4: .skip 4096
pdpt_low: .skip 4096
pdpt_high: .skip 4096
pd0: .skip 4096
pt0: .skip 4096
    .balign 16
    .skip 16384
    .globl boot_stack_top
boot_stack_top:
