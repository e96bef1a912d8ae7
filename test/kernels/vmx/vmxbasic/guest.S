/*
 * The 64-bit guest of vmxbasic. It runs on the host's GDT and page tables (phase 1), then on
 * the same page tables through an EPT identity map (phase 2). RDI = the message to print.
 * Every instruction that should cause a VM exit has a label, so the hypervisor can check
 * GUEST_RIP at each exit.
 */
    .code64
    .section .text
    .globl guest64_entry, g64_cpuid, g64_out_imm, g64_out_dx, g64_hlt, g64_ud2, g64_vmcall
    .globl guest64_cpuid_result, guest64_after_hlt
guest64_entry:
    mov $0x40000000, %eax       /* hypervisor CPUID leaf: the hypervisor answers with its signature */
    xor %ecx, %ecx
g64_cpuid:
    cpuid
    mov %eax, guest64_cpuid_result(%rip)
    mov %ebx, guest64_cpuid_result+4(%rip)
    mov %ecx, guest64_cpuid_result+8(%rip)
    mov %edx, guest64_cpuid_result+12(%rip)
    mov %rdi, %rsi
    movzbl (%rsi), %eax
    inc %rsi
g64_out_imm:
    out %al, $0xe9              /* OUT imm8, AL */
    mov $0xe9, %edx
1:  movzbl (%rsi), %eax
    test %al, %al
    jz 2f
    inc %rsi
g64_out_dx:
    out %al, (%dx)              /* OUT DX, AL */
    jmp 1b
2:
g64_hlt:
    hlt
    movl $1, guest64_after_hlt(%rip)
g64_ud2:
    ud2                         /* #UD: an exit through the exception bitmap */
g64_vmcall:
    vmcall
    jmp g64_vmcall

    .section .data
    .balign 16
guest64_cpuid_result: .long 0, 0, 0, 0
guest64_after_hlt: .long 0
