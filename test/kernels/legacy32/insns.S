/* Legacy 32-bit instruction probes: PUSHA/POPA, BCD adjust, INTO, BOUND. */
#include "gdt.inc"
    .code32
    .text

/* pusha_test(): pa_out[0..7] = the 8 dwords PUSHAD stored (lowest address first),
 * [8] ESP before, [9] ESP after PUSHAD, [10..16] EDI ESI EBP EBX EDX ECX EAX after
 * POPAD from a modified image, [17] ESP after POPAD, [18] ESP before POPAD */
    .globl pusha_test
pusha_test:
    push %ebp
    push %ebx
    push %esi
    push %edi
    mov $0xa0a0a0a0, %eax
    mov $0xc1c1c1c1, %ecx
    mov $0xd2d2d2d2, %edx
    mov $0xb3b3b3b3, %ebx
    mov $0xb5b5b5b5, %ebp
    mov $0x51515151, %esi
    mov $0xd7d7d7d7, %edi
    mov %esp, pa_out + 32
    pushal
    mov %esp, pa_out + 36
    mov %esp, %esi
    mov $pa_out, %edi
    mov $8, %ecx
    cld
    rep movsl
    /* new image: EDI..EAX = 1..8 except the ESP slot = garbage */
    movl $1, 0(%esp)
    movl $2, 4(%esp)
    movl $3, 8(%esp)
    movl $0xdeadbeef, 12(%esp)
    movl $5, 16(%esp)
    movl $6, 20(%esp)
    movl $7, 24(%esp)
    movl $8, 28(%esp)
    mov %esp, pa_out + 72
    popal
    mov %edi, pa_out + 40
    mov %esi, pa_out + 44
    mov %ebp, pa_out + 48
    mov %ebx, pa_out + 52
    mov %edx, pa_out + 56
    mov %ecx, pa_out + 60
    mov %eax, pa_out + 64
    mov %esp, pa_out + 68
    pop %edi
    pop %esi
    pop %ebx
    pop %ebp
    ret

/* u32 bcd(u32 op, u32 ax, u32 flags): load AX and EFLAGS (arithmetic bits), run one
 * adjust instruction, return (EFLAGS << 16) | AX. op: 0 DAA, 1 DAS, 2 AAA, 3 AAS,
 * 4 AAM, 5 AAD, 6 AAM 16, 7 ADD AL,BL (BL = 0x35), 8 SUB AL,BL (BL = 0x47) */
    .globl bcd
bcd:
    push %ebx
    mov 8(%esp), %ecx
    mov 12(%esp), %eax
    pushl 16(%esp)
    popfl
    jmp *bcd_table(, %ecx, 4)
b_daa: daa
    jmp 1f
b_das: das
    jmp 1f
b_aaa: aaa
    jmp 1f
b_aas: aas
    jmp 1f
b_aam: aam
    jmp 1f
b_aad: aad
    jmp 1f
b_aam16: aam $16
    jmp 1f
b_add: mov $0x35, %bl
    add %bl, %al
    jmp 1f
b_sub: mov $0x47, %bl
    sub %bl, %al
1:  pushfl
    pop %ecx
    movzwl %ax, %eax
    shl $16, %ecx
    or %ecx, %eax
    pop %ebx
    ret
    .section .rodata
    .balign 4
bcd_table: .long b_daa, b_das, b_aaa, b_aas, b_aam, b_aad, b_aam16, b_add, b_sub
    .text

/* AAM with a zero immediate: #DE */
    .globl aam0_probe, aam0_insn
aam0_probe:
    mov $0x55, %eax
aam0_insn:
    aam $0
    ret

/* into_probe(of): OF = of, then INTO */
    .globl into_probe, into_insn
into_probe:
    mov 4(%esp), %eax
    test %eax, %eax
    jz 2f
    mov $0x7f, %al
    add $1, %al             /* OF = 1 */
    jmp 3f
2:  xor %eax, %eax          /* OF = 0 */
3:
into_insn:
    into
    ret

/* bound_probe(index): BOUND against [10, 20] */
    .globl bound_probe, bound_insn
bound_probe:
    mov 4(%esp), %eax
bound_insn:
    boundl %eax, bound_pair
    ret

    .data
    .balign 8
    .globl pa_out
pa_out: .fill 20, 4, 0
bound_pair: .long 10, 20
