; Interrupt entry stubs for vectors 0..47 (exceptions and the two 8259s).
; Each stub makes the frame uniform (error code, vector), saves the general
; registers and calls isr_dispatch(struct regs *).

extern isr_dispatch
global isr_table

section .text
bits 64

%assign v 0
%rep 48
isr_%[v]:
%if !(v == 8 || v == 10 || v == 11 || v == 12 || v == 13 || v == 14 || v == 17 || v == 21 || v == 29 || v == 30)
    push 0                          ; no error code from the CPU: push a dummy
%endif
    push v
    jmp isr_common
%assign v v + 1
%endrep

isr_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    mov rdi, rsp
    mov rbx, rsp
    and rsp, -16
    call isr_dispatch
    mov rsp, rbx
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16                     ; vector, error code
    iretq

section .rodata
align 8
isr_table:
%assign v 0
%rep 48
    dq isr_%[v]
%assign v v + 1
%endrep

section .note.GNU-stack noalloc noexec nowrite progbits
