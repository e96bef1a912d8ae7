/*
 * triplefault: prints "about to triple fault", loads an IDT with limit 0 and executes
 * UD2. Delivering #UD needs IDT entry 6, beyond the limit: #GP; delivering that #GP also
 * fails: #DF; delivering the #DF fails too: triple fault, and the processor enters
 * shutdown (SDM Vol. 3A, "Interrupt 8—Double Fault Exception (#DF)": "If another
 * exception occurs while attempting to call the double-fault handler, the processor
 * enters shutdown mode"). QEMU with -no-reboot then exits with status 0.
 * Nothing else is printed: a "done" line or a write to port 0xF4 means it failed.
 */
    .section .multiboot, "a"
    .balign 4
    .long 0x1BADB002, 0, -0x1BADB002

    .text
    .code32
    .globl _start
_start:
    cli
    mov $stack_top, %esp
    mov $msg, %esi
1:  lodsb
    test %al, %al
    jz 2f
    out %al, $0xe9
    jmp 1b
2:  lidt empty_idt
    ud2
    /* not reached on a conforming CPU */
    mov $fail, %esi
3:  lodsb
    test %al, %al
    jz 4f
    out %al, $0xe9
    jmp 3b
4:  mov $1, %al
    out %al, $0xf4
5:  hlt
    jmp 5b

    .section .rodata
msg: .asciz "about to triple fault\n"
fail: .asciz "not ok triple-fault: execution continued after UD2 with an empty IDT\ndone 0/1\n"

    .data
    .balign 4
    .word 0
empty_idt:
    .word 0
    .long 0

    .bss
    .balign 16
    .skip 4096
stack_top:
