/* The guest of vmxfail: VMCALL at once (used by the cases whose VM entry succeeds). */
    .code64
    .section .text
    .globl gfail_entry
gfail_entry:
    vmcall
    jmp gfail_entry
