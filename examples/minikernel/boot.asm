; minikernel: multiboot v1 header, 32-bit entry, switch to long mode.
;
; The loader (GRUB, QEMU -kernel, vmxray) enters _start in 32-bit protected
; mode with paging off, flat segments, EAX = 0x2BADB002 and EBX = physical
; address of the multiboot information structure.  ESP is not trusted.
;
; The kernel is linked at its load address (1 MiB, VMA == LMA), so every
; address below is also a physical address; the first GiB is identity mapped
; with 2 MiB pages.

MB_MAGIC    equ 0x1BADB002
MB_FLAGS    equ 0x00000003          ; bit 0: page-align modules, bit 1: memory info
MB_CHECKSUM equ -(MB_MAGIC + MB_FLAGS)

extern kmain
extern __bss_start
extern __bss_end

global _start
global mb_magic
global mb_info
global gdt64
global stack_top

section .multiboot progbits alloc noexec nowrite align=4
mb_header:
    dd MB_MAGIC
    dd MB_FLAGS
    dd MB_CHECKSUM

section .boot32 progbits alloc exec nowrite align=16
bits 32
_start:
    cli
    cld
    mov ebp, eax                    ; multiboot magic
    mov esi, ebx                    ; multiboot info (physical)
    mov esp, boot_stack_top         ; our own stack, never the loader's

    ; clear .bss (page tables and stacks live there); uses EDI/ECX/EAX only
    mov edi, __bss_start
    mov ecx, __bss_end
    sub ecx, edi
    shr ecx, 2
    xor eax, eax
    rep stosd

    mov [mb_magic], ebp
    mov [mb_info], esi

    cmp ebp, 0x2BADB002
    je .magic_ok
    mov esi, msg_bad_magic
    jmp fail32
.magic_ok:

    ; CPUID present?  (EFLAGS.ID toggles)
    pushfd
    pop eax
    mov ecx, eax
    xor eax, 1 << 21
    push eax
    popfd
    pushfd
    pop eax
    push ecx
    popfd
    xor eax, ecx
    jnz .has_cpuid
    mov esi, msg_no_cpuid
    jmp fail32
.has_cpuid:
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb .no_lm
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 29               ; LM
    jnz .has_lm
.no_lm:
    mov esi, msg_no_long_mode
    jmp fail32
.has_lm:

    ; page tables: PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] = i * 2 MiB (PS|RW|P)
    mov eax, pdpt
    or eax, 0x003
    mov [pml4], eax
    mov eax, pd
    or eax, 0x003
    mov [pdpt], eax
    xor ecx, ecx
.fill_pd:
    mov eax, ecx
    shl eax, 21
    or eax, 0x083
    mov [pd + ecx * 8], eax
    mov dword [pd + ecx * 8 + 4], 0
    inc ecx
    cmp ecx, 512
    jb .fill_pd

    mov eax, pml4
    mov cr3, eax

    mov eax, cr4
    or eax, 1 << 5                  ; PAE
    mov cr4, eax

    mov ecx, 0xC0000080             ; IA32_EFER
    rdmsr
    or eax, 1 << 8                  ; LME
    wrmsr

    mov eax, cr0
    or eax, (1 << 31) | (1 << 16) | 1   ; PG | WP | PE
    mov cr0, eax                    ; now in IA-32e compatibility mode

    lgdt [gdt64_ptr]
    jmp 0x08:long_mode_entry

; print the NUL-terminated string at ESI to port 0xE9 and the first VGA line,
; then halt forever.
fail32:
    mov edi, 0xB8000
.next:
    lodsb
    test al, al
    jz .halt
    mov dx, 0xE9
    out dx, al
    mov ah, 0x4F                    ; white on red
    stosw
    jmp .next
.halt:
    mov al, 10
    mov dx, 0xE9
    out dx, al
.hlt:
    cli
    hlt
    jmp .hlt

bits 64
long_mode_entry:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov rsp, stack_top
    xor ebp, ebp
    call kmain
.hang:
    cli
    hlt
    jmp .hang

section .rodata
msg_bad_magic:    db "minikernel: not started by a multiboot loader (EAX != 0x2BADB002)", 0
msg_no_cpuid:     db "minikernel: CPUID not supported", 0
msg_no_long_mode: db "minikernel: CPU has no long mode", 0

align 16
gdt64:
    dq 0                            ; 0x00 null
    dq 0x00AF9A000000FFFF           ; 0x08 kernel code, 64-bit (L=1), DPL 0
    dq 0x00CF92000000FFFF           ; 0x10 kernel data, DPL 0
gdt64_end:

align 16
gdt64_ptr:
    dw gdt64_end - gdt64 - 1
    dq gdt64

section .data
align 4
mb_magic: dd 0
mb_info:  dd 0

section .bss nobits alloc noexec write align=4096
pml4:   resb 4096
pdpt:   resb 4096
pd:     resb 4096
boot_stack:
        resb 4096
boot_stack_top:
stack:  resb 16384
stack_top:

section .note.GNU-stack noalloc noexec nowrite progbits
