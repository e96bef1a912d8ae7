/*
 * crguest: a tiny multiboot guest for the pass-through hypervisor that exercises what the
 * minikernel and SWEB never do: MOV to CR0/CR4 that change the bits the hypervisor owns
 * (CR0.NE, CR4.VMXE), so the hypervisor's emulation runs, including the switch to IA-32e mode
 * by an emulated MOV to CR0 (EFER.LMA and the "IA-32e mode guest" entry control), the #GP it
 * reflects for CR4.VMXE, and VMCALL ("print and continue").
 *
 * With a '!' in its command line it writes guest-physical 16 MiB instead (an EPT violation the
 * hypervisor reports as an error).
 * Each step prints `crguest: <step> ok` on port 0xE9; a mismatch prints `crguest: FAIL <step>`
 * and writes 0x22 to isa-debug-exit (status 69); the end writes 0x21 (status 67).
 * Linked at 1 MiB as a 32-bit ELF (Makefile: bin/passthrough-crguest.elf).
 */
#define CR0_PE 0x1
#define CR0_ET 0x10
#define CR0_NE 0x20
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define CR4_VMXE 0x2000

    .section .text
    .balign 4
    .long 0x1BADB002, 0x00000003, -(0x1BADB002 + 0x00000003)  /* multiboot header: first in .text */
    .code32
    .globl _start
_start:
    mov $stack_top, %esp
    mov $1, %edi                /* step number for FAIL */
    cmp $0x2badb002, %eax
    jne fail
    /* our own GDT and IDT: the hypervisor's lie in memory EPT does not map */
    lgdt gdt_ptr
    ljmp $0x08, $1f
1:  mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov $gp_handler, %eax       /* IDT[13]: 32-bit interrupt gate to gp_handler */
    mov %ax, idt + 13 * 8
    shr $16, %eax
    mov %ax, idt + 13 * 8 + 6
    lidt idt_ptr
    mov $msg_start, %esi
    call puts

    /* a '!' in the command line: write guest-physical 16 MiB, which the hypervisor's EPT does
     * not map (its own memory): the EPT violation must stop the machine with an [hv] line */
    testb $4, (%ebx)            /* multiboot info flags: cmdline valid */
    jz 3f
    mov 16(%ebx), %esi
2:  lodsb
    test %al, %al
    jz 3f
    cmp $'!', %al
    jne 2b
    movl $0xdeadbeef, 0x1000000
    mov $9, %edi
    jmp fail
3:

    /* 1. CPUID.1:ECX.VMX[5] is hidden */
    mov $1, %eax
    xor %ecx, %ecx
    cpuid
    mov $2, %edi
    test $0x20, %ecx
    jnz fail
    mov $msg_cpuid, %esi
    call puts

    /* 2. CR0 reads PE|ET as a multiboot loader leaves it (NE is in the read shadow, 0) */
    mov $3, %edi
    mov %cr0, %eax
    cmp $(CR0_PE | CR0_ET), %eax
    jne fail
    /* 3. setting NE exits; emulated, it reads back */
    mov $4, %edi
    or $CR0_NE, %eax
    mov %eax, %cr0
    mov %cr0, %eax
    cmp $(CR0_PE | CR0_ET | CR0_NE), %eax
    jne fail
    /* 4. and clearing it again */
    mov $5, %edi
    and $~CR0_NE, %eax
    mov %eax, %cr0
    mov %cr0, %eax
    cmp $(CR0_PE | CR0_ET), %eax
    jne fail
    mov $msg_cr0, %esi
    call puts

    /* 5. CR4.VMXE: #GP(0), reflected by the hypervisor (the handler skips the 3-byte MOV) */
    mov $6, %edi
    movl $0, gp_count
    mov %cr4, %eax
    or $CR4_VMXE, %eax
    mov %eax, %cr4              /* 0F 22 E0 */
    cmpl $1, gp_count
    jne fail
    mov %cr4, %eax
    test $CR4_VMXE, %eax
    jnz fail
    mov $msg_cr4, %esi
    call puts

    /* 6. IA-32e mode through an emulated MOV to CR0: PAE, EFER.LME, then PG together with NE */
    mov $7, %edi
    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx
    rdmsr
    or $0x100, %eax             /* LME */
    wrmsr
    mov %cr0, %eax
    or $(CR0_PG | CR0_NE), %eax
    mov %eax, %cr0              /* exits (NE differs from the shadow): LMA = 1 */
    mov $0xc0000080, %ecx
    rdmsr
    test $0x400, %eax           /* LMA */
    jz fail
    mov %cr0, %eax
    cmp $(CR0_PG | CR0_PE | CR0_ET | CR0_NE), %eax
    jne fail
    ljmp $0x18, $long64

    .code64
long64:
    mov $msg_long, %esi
    call puts64
    mov $8, %edi
    mov $0x1234, %eax
    vmcall                      /* the hypervisor prints it and continues */
    cmp $0x1234, %eax
    jne fail64
    mov $msg_vmcall, %esi
    call puts64
    mov $0x21, %eax
    out %eax, $0xf4
1:  hlt
    jmp 1b
fail64:
    mov $msg_fail, %esi
    call puts64
    mov %edi, %eax
    add $'0', %al
    mov $0xe9, %dx
    out %al, %dx
    mov $'\n', %al
    out %al, %dx
    mov $0x22, %eax
    out %eax, $0xf4
1:  hlt
    jmp 1b
puts64:
    mov $0xe9, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  ret

    .code32
puts:
    mov $0xe9, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  ret

fail:
    mov $msg_fail, %esi
    call puts
    mov %edi, %eax
    add $'0', %al
    mov $0xe9, %dx
    out %al, %dx
    mov $'\n', %al
    out %al, %dx
    mov $0x22, %eax
    out %eax, $0xf4
1:  hlt
    jmp 1b

gp_handler:
    incl gp_count
    add $4, %esp                /* error code */
    addl $3, (%esp)             /* skip MOV CR4, EAX */
    iret

    .section .data
    .balign 8
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF    /* 0x08 code, 32-bit */
    .quad 0x00CF92000000FFFF    /* 0x10 data */
    .quad 0x00AF9A000000FFFF    /* 0x18 code, 64-bit */
gdt_end:
gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt
    .balign 8
idt:
    .fill 13, 8, 0
    .word 0, 0x08, 0x8e00, 0    /* 13: present, DPL 0, 32-bit interrupt gate (offset filled at run time) */
    .fill 18, 8, 0
idt_end:
idt_ptr:
    .word idt_end - idt - 1
    .long idt
gp_count: .long 0
    .balign 4096
pml4: .long pdpt + 0x3, 0
    .fill 511, 8, 0
pdpt: .long pd + 0x3, 0
    .fill 511, 8, 0
pd: .long 0x83, 0               /* 0-2 MiB, 2 MiB page */
    .fill 511, 8, 0
msg_start: .asciz "crguest: start\n"
msg_cpuid: .asciz "crguest: cpuid-vmx-hidden ok\n"
msg_cr0: .asciz "crguest: cr0-ne-emulated ok\n"
msg_cr4: .asciz "crguest: cr4-vmxe-gp ok\n"
msg_long: .asciz "crguest: ia32e-by-emulated-cr0 ok\n"
msg_vmcall: .asciz "crguest: vmcall-continues ok\n"
msg_fail: .asciz "crguest: FAIL step "

    .section .bss
    .balign 16
    .skip 4096
stack_top:
