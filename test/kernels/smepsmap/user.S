#include "gdt.inc"
    .section .user.text, "ax"
    .globl u_stac, u_stac_insn, u_clac, u_clac_insn
u_stac:
u_stac_insn:
    stac
    int $VEC_USER_EXIT
u_clac:
u_clac_insn:
    clac
    int $VEC_USER_EXIT
