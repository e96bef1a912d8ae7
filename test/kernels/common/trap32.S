/* 32-bit exception entry stubs, try_call / catch landing, ring-3 entry. */
#include "gdt.inc"
    .code32
    .text

/* One 16-byte stub per vector; vectors without an error code push a 0. */
    .balign 16
    .globl isr32_stubs
isr32_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushl $0
    .endif
    pushl $vec
    jmp trap_common32
    .set vec, vec + 1
    .endr

trap_common32:
    pusha
    push %ds
    push %es
    push %fs
    push %gs
    mov $KDATA, %ax
    mov %ax, %ds
    mov %ax, %es
    cld
    push %esp
    call trap_dispatch32
    add $4, %esp
    pop %gs
    pop %fs
    pop %es
    pop %ds
    popa
    add $8, %esp
    iret

/* int try_call(void (*fn)(void *), void *arg)
 * context on this stack: [prev catch_top][eflags][edi][esi][ebx][ebp][ret] */
    .globl try_call, catch_landing32
try_call:
    mov 4(%esp), %eax
    mov 8(%esp), %edx
    push %ebp
    push %ebx
    push %esi
    push %edi
    pushf
    pushl catch_top
    mov %esp, catch_top
    push %edx
    call *%eax
    add $4, %esp
    popl catch_top
    add $4, %esp
    xor %eax, %eax
    jmp 1f
/* Reached by IRET(Q) from an exception handler, in 32-bit protected mode or in
 * compatibility mode; the handler set CS = KCODE32 and EFLAGS = the saved flags. */
catch_landing32:
    mov $KDATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov catch_top, %esp
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    popl catch_top
    popf
    mov $1, %eax
1:  pop %edi
    pop %esi
    pop %ebx
    pop %ebp
    ret

/* void enter_user32(struct user32_entry *e): IRET to ring 3 (never returns here). */
    .globl enter_user32
enter_user32:
    mov 4(%esp), %ecx
    pushl $UDATA
    pushl 4(%ecx)   /* esp */
    pushl 8(%ecx)   /* eflags */
    pushl $UCODE32
    pushl 0(%ecx)   /* eip */
    mov 12(%ecx), %edi
    mov $UDATA, %ax
    mov %ax, %ds
    mov %ax, %es
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %ebp, %ebp
    iret

/* void load_kernel_segments(void) */
    .globl load_kernel_segments
load_kernel_segments:
    mov $KDATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    pop %eax
    push $KCODE32
    push %eax
    lret

    .data
    .balign 4
    .globl catch_top
catch_top: .long 0
