/*
 * The guest of vmxguest32: 32-bit protected mode, paging off, flat segments, started the way a
 * hypervisor starts a multiboot kernel (EAX = 2BADB002H, EBX = multiboot information). It prints
 * a string to port 0xE9 (exits through the I/O bitmap), writes port 80H (no exit: its bitmap bit
 * is 0), writes to guest-physical 16 MiB (not mapped in EPT: EPT violation; the hypervisor maps
 * it and resumes), reads the value back and ends with VMCALL.
 * Assembled in the 64-bit kernel object: every address is below 4 GiB, so 32-bit absolute
 * relocations fit.
 */
    .code32
    .section .text
    .globl guest32_entry, g32_out, g32_touch, g32_vmcall
    .globl g32_magic, g32_mbi, g32_readback, g32_msg
guest32_entry:
    mov %eax, g32_magic
    mov %ebx, g32_mbi
    mov $g32_msg, %esi
    mov $0xe9, %dx
1:  movzbl (%esi), %eax
    test %al, %al
    jz 2f
    inc %esi
g32_out:
    outb %al, (%dx)
    jmp 1b
2:  mov $0x80, %dx
    mov $0x55, %al
    outb %al, (%dx)             /* port 80H: bit clear in I/O bitmap A, no VM exit */
    mov $0x1000000, %edi
g32_touch:
    movl $0xc0ffee32, (%edi)    /* guest-physical 16 MiB: not mapped in EPT yet */
    mov (%edi), %eax
    mov %eax, g32_readback
g32_vmcall:
    vmcall
    jmp g32_vmcall

    .section .data
    .balign 4
g32_magic: .long 0
g32_mbi: .long 0
g32_readback: .long 0
g32_msg: .asciz "hello from a 32-bit guest, paging off\n"
