/* Interrupt entry stubs and the page-fault probe of the highhalf kernel (64-bit). */
    .code64
    .section .text

.macro SAVE
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
.endm
.macro RESTORE
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
.endm

/* IRQ0 (PIT) remapped to vector 0x20: timer_handler() counts and sends the EOI. */
    .globl timer_isr
    .type timer_isr, @function
timer_isr:
    SAVE
    cld
    call timer_handler              /* RSP: 40 (frame) + 72 = 112 below a 16-byte boundary */
    RESTORE
    iretq
    .size timer_isr, . - timer_isr

/* #PF (vector 14, error code pushed): pf_handler(&frame[error, rip, cs, rflags, rsp, ss]). */
    .globl pf_isr
    .type pf_isr, @function
pf_isr:
    SAVE
    cld
    lea 72(%rsp), %rdi
    sub $8, %rsp                    /* 48 + 72 + 8 = 128 */
    call pf_handler
    add $8, %rsp
    RESTORE
    add $8, %rsp                    /* the error code */
    iretq
    .size pf_isr, . - pf_isr

/* Every other vector: report and stop the machine through isa-debug-exit. */
    .globl bad_isr
    .type bad_isr, @function
bad_isr:
    and $-16, %rsp
    call unexpected_interrupt
1:  cli
    hlt
    jmp 1b
    .size bad_isr, . - bad_isr

/* uint64_t pf_probe(uint64_t *p): one load that may fault; pf_handler resumes at pf_probe_end. */
    .globl pf_probe, pf_probe_end
    .type pf_probe, @function
pf_probe:
    mov (%rdi), %rax
pf_probe_end:
    ret
    .size pf_probe, . - pf_probe

/* irq_window_asm(): called with IF=0 and IRQ0 pending: STI, then NOPs. The interrupt is taken
 * after the instruction following STI (SDM Vol. 2B, STI: "interrupts ... are recognized ...
 * after the next instruction"), unless a debugger holds interrupts back while stepping. */
    .globl irq_window_asm
    .type irq_window_asm, @function
irq_window_asm:
    sti
    nop
    nop
    nop
    nop
    nop
    nop
    nop
    nop
    cli
    ret
    .size irq_window_asm, . - irq_window_asm
