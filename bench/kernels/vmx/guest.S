/* The guest of vmxexit.c: RCX = iterations; each one exits twice (VMCALL, OUT to port 80H). */
    .code64
    .section .text
    .globl bench_guest_entry
bench_guest_entry:
1:  vmcall
    out %al, $0x80
    dec %rcx
    jnz 1b
    hlt
    jmp bench_guest_entry
