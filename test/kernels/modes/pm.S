/* Protected-mode probes for the modes kernel (32-bit code). */
#include "gdt.inc"
#define CS2_BASE 0x1000
    .code32
    .text

/* u32 seg_read(u32 offset): ES = probe_sel, read ES:[offset] (dword) */
    .globl seg_read, seg_read_load, seg_read_insn
seg_read:
    mov 4(%esp), %ecx
    mov probe_sel, %eax
    mov %esp, probe_esp
seg_read_load:
    mov %ax, %es
seg_read_insn:
    mov %es:(%ecx), %eax
    mov %eax, probe_value
    mov $KDATA, %ax
    mov %ax, %es
    ret

/* seg_write(u32 offset): ES = probe_sel, write probe_value to ES:[offset] */
    .globl seg_write, seg_write_insn
seg_write:
    mov 4(%esp), %ecx
    mov probe_sel, %eax
    mov %ax, %es
    mov probe_value, %eax
    mov %esp, probe_esp
seg_write_insn:
    mov %eax, %es:(%ecx)
    mov $KDATA, %ax
    mov %ax, %es
    ret

/* ss_read(u32 offset): SS = probe_sel, read SS:[offset] */
    .globl ss_read, ss_read_insn
ss_read:
    mov 4(%esp), %ecx
    mov probe_sel, %eax
    mov %ax, %ss
    mov %esp, probe_esp
ss_read_insn:
    mov %ss:(%ecx), %eax
    mov %eax, probe_value
    mov $KDATA, %ax
    mov %ax, %ss
    ret

/* load_ss(sel) */
    .globl load_ss, load_ss_insn
load_ss:
    mov 4(%esp), %eax
    mov %esp, probe_esp
load_ss_insn:
    mov %ax, %ss
    mov $KDATA, %ax
    mov %ax, %ss
    ret

/* fs_null_read(offset): FS = 0 (allowed), then read FS:[offset] */
    .globl fs_null_read, fs_null_read_insn
fs_null_read:
    mov 4(%esp), %ecx
    xor %eax, %eax
    mov %ax, %fs
    mov %esp, probe_esp
fs_null_read_insn:
    mov %fs:(%ecx), %eax
    ret

/* cs_write(offset): write through a CS override */
    .globl cs_write, cs_write_insn
cs_write:
    mov 4(%esp), %ecx
cs_write_insn:
    mov %eax, %cs:(%ecx)
    ret

/* ud2 at CPL 0 */
    .globl pm_ud2, pm_ud2_insn
pm_ud2:
    mov %esp, probe_esp
pm_ud2_insn:
    ud2
    ret

/* Far CALL to a second code segment (base CS2_BASE) and far RET back. */
    .globl far_call_test
far_call_test:
    lcall $CS2_SEL, $(cs2_func - CS2_BASE)
    mov %cs, %eax
    mov %eax, fc_cs_after
    ret
cs2_func:                       /* runs with CS = CS2_SEL, EIP = linear - CS2_BASE */
    mov %cs, %eax
    mov %eax, fc_cs_inside
    call cs2_eip_label
    .globl cs2_eip_label
cs2_eip_label:
    pop %eax
    mov %eax, fc_eip_inside
    mov 4(%esp), %eax           /* pushed CS */
    mov %eax, fc_pushed_cs
    lret

/* Call-gate target (ring 0): record the stack the gate built, then RET far to ring 3. */
    .globl gate_target
gate_target:
    mov %esp, cg_esp
    mov 0(%esp), %eax
    mov %eax, cg_eip
    mov 4(%esp), %eax
    mov %eax, cg_cs
    mov 8(%esp), %eax
    mov %eax, cg_esp3
    mov 12(%esp), %eax
    mov %eax, cg_ss3
    mov %cs, %eax
    mov %eax, cg_cs0
    mov %ss, %eax
    mov %eax, cg_ss0
    incl cg_count
    lret

/* In compatibility mode and in 32-bit protected mode 48H is DEC EAX. */
    .globl dec_probe
dec_probe:
    mov $5, %eax
    .byte 0x48
    nop
    ret

    .data
    .balign 4
    .globl probe_sel, fc_cs_after, fc_cs_inside, fc_eip_inside, fc_pushed_cs
    .globl cg_esp, cg_eip, cg_cs, cg_esp3, cg_ss3, cg_cs0, cg_ss0, cg_count
probe_sel: .long 0
fc_cs_after: .long 0
fc_cs_inside: .long 0
fc_eip_inside: .long 0
fc_pushed_cs: .long 0
cg_esp: .long 0
cg_eip: .long 0
cg_cs: .long 0
cg_esp3: .long 0
cg_ss3: .long 0
cg_cs0: .long 0
cg_ss0: .long 0
cg_count: .long 0

/* ---- ring 3 ---- */
    .section .user.text, "ax"
    .globl u_callgate, u_callgate_ret, u_ud2_32, u_ud2_32_insn, u_load_kdata, u_load_kdata_insn
/* EDI = output: [0] CS after the far RET, [1] SS, [2] ESP, [3] ESP before */
u_callgate:
    mov %esp, 12(%edi)
    lcall $(GATE_SEL | 3), $0
u_callgate_ret:
    mov %cs, %eax
    mov %eax, 0(%edi)
    mov %ss, %eax
    mov %eax, 4(%edi)
    mov %esp, 8(%edi)
    int $VEC_USER_EXIT
u_ud2_32:
    mov %esp, %ebx
u_ud2_32_insn:
    ud2
u_load_kdata:
    mov $KDATA, %eax
u_load_kdata_insn:
    mov %ax, %ds
    int $VEC_USER_EXIT
