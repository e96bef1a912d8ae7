/*
 * VM entry and the VM-exit landing (HOST_RIP).
 *
 * int vmx_enter(struct vcpu_regs *g, int resume)
 *   Saves the host's callee-saved registers and the pointer g on the stack, writes HOST_RSP
 *   (the stack pointer at that point), loads the guest GPRs from *g and executes VMLAUNCH
 *   (resume = 0) or VMRESUME. If the instruction fails (VMfailInvalid: CF=1, VMfailValid:
 *   ZF=1) it returns 1 or 2. A VM exit (or a VM-entry failure exit, which loads host state
 *   too: SDM Vol. 3C, "VM-Entry Failures During or After Loading Guest State") continues at
 *   vmx_exit_landing with RSP = HOST_RSP, which stores the guest GPRs into *g and returns 0
 *   from vmx_enter.
 *
 * struct vcpu_regs: rax rbx rcx rdx rsi rdi rbp r8..r15 (8 bytes each, in that order).
 */
    .code64
    .section .text
    .globl vmx_enter, vmx_exit_landing

vmx_enter:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi                   /* (%rsp) = g while the guest runs */
    mov $0x6c14, %eax           /* HOST_RSP */
    vmwrite %rsp, %rax
    test %esi, %esi             /* MOVs below keep the flags */
    mov 0(%rdi), %rax
    mov 8(%rdi), %rbx
    mov 16(%rdi), %rcx
    mov 24(%rdi), %rdx
    mov 32(%rdi), %rsi
    mov 48(%rdi), %rbp
    mov 56(%rdi), %r8
    mov 64(%rdi), %r9
    mov 72(%rdi), %r10
    mov 80(%rdi), %r11
    mov 88(%rdi), %r12
    mov 96(%rdi), %r13
    mov 104(%rdi), %r14
    mov 112(%rdi), %r15
    mov 40(%rdi), %rdi
    jnz 1f
    vmlaunch
    jmp 2f
1:  vmresume
2:  mov $1, %eax                /* VMfailInvalid (CF) */
    jc 3f
    mov $2, %eax                /* VMfailValid (ZF) */
3:  pop %rdi
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

vmx_exit_landing:
    push %rdi                   /* guest RDI */
    mov 8(%rsp), %rdi           /* g */
    mov %rax, 0(%rdi)
    mov %rbx, 8(%rdi)
    mov %rcx, 16(%rdi)
    mov %rdx, 24(%rdi)
    mov %rsi, 32(%rdi)
    mov %rbp, 48(%rdi)
    mov %r8, 56(%rdi)
    mov %r9, 64(%rdi)
    mov %r10, 72(%rdi)
    mov %r11, 80(%rdi)
    mov %r12, 88(%rdi)
    mov %r13, 96(%rdi)
    mov %r14, 104(%rdi)
    mov %r15, 112(%rdi)
    pop %rax
    mov %rax, 40(%rdi)
    pop %rdi
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    xor %eax, %eax
    ret
