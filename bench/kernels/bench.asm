; bench.elf: vmxray's speed-benchmark kernel (multiboot v1, ELF32 container, loaded at 1 MiB).
;
; Command line (multiboot cmdline, `-append`): "<workload> <iterations>", workload one of
; hot | mem | rep | call (see workloads.inc); e.g. "hot 20000000". Defaults: hot 1000.
; The 32-bit entry parses it, builds 4-level page tables, enables PAE+LME+PG, and the 64-bit
; code runs the workload, prints "VXB <checksum>" to port 0xE9 and exits through
; isa-debug-exit (port 0xF4, value 0).

%include "layout.inc"

MB_MAGIC    equ 0x1BADB002
MB_FLAGS    equ 0x00000002          ; memory info (the cmdline is always passed)
MB_CHECKSUM equ -(MB_MAGIC + MB_FLAGS)

global _start

section .text
align 4
mb_header:
    dd MB_MAGIC
    dd MB_FLAGS
    dd MB_CHECKSUM

bits 32
_start:
    cli
    mov esp, STACK_TOP
    mov esi, WL_HOT                 ; workload
    mov ebp, 1000                   ; iterations
    cmp eax, 0x2BADB002
    jne .parsed
    test byte [ebx], 4              ; MBI flags bit 2: cmdline valid
    jz .parsed
    mov edx, [ebx + 16]
.tok:                               ; skip blanks
    movzx eax, byte [edx]
    test eax, eax
    jz .parsed
    cmp eax, ' '
    jne .word
    inc edx
    jmp .tok
.word:
    cmp eax, '0'
    jb .name
    cmp eax, '9'
    ja .name
    xor ebp, ebp
.num:                               ; decimal iteration count
    movzx eax, byte [edx]
    sub eax, '0'
    cmp eax, 9
    ja .skip
    lea ebp, [ebp + ebp * 4]
    add ebp, ebp
    add ebp, eax
    inc edx
    jmp .num
.name:                              ; by the first two letters
    movzx ecx, byte [edx + 1]
    cmp eax, 'h'
    jne .n1
    cmp ecx, 'o'
    jne .skip
    mov esi, WL_HOT
    jmp .skip
.n1:
    cmp eax, 'm'
    jne .n2
    cmp ecx, 'e'
    jne .skip
    mov esi, WL_MEM
    jmp .skip
.n2:
    cmp eax, 'r'
    jne .n3
    cmp ecx, 'e'
    jne .skip
    mov esi, WL_REP
    jmp .skip
.n3:
    cmp eax, 'c'
    jne .skip
    cmp ecx, 'a'
    jne .skip
    mov esi, WL_CALL
.skip:                              ; to the next blank
    movzx eax, byte [edx]
    test eax, eax
    jz .parsed
    cmp eax, ' '
    je .tok
    inc edx
    jmp .skip
.parsed:
    test ebp, ebp
    jnz .nz
    inc ebp
.nz:
    mov [wl_id], esi
    mov [wl_iters], ebp
    jmp enter_long_mode

%include "longmode.inc"

bits 64
long_entry:
    mov eax, SEL_DATA
    mov ds, eax
    mov es, eax
    mov ss, eax
    mov esp, STACK_TOP
    mov edi, [rel wl_id]
    mov r15d, [rel wl_iters]
    call run_workload
    call print_result
    xor eax, eax
    out 0xf4, al                    ; isa-debug-exit
.halt:
    cli
    hlt
    jmp .halt

%include "workloads.inc"

align 4
wl_id:      dd 0
wl_iters:   dd 0
