; bochs-boot.bin: the same workloads as bench.elf, booted by Bochs's BIOS from a floppy.
;
; Sector 1 (boot sector, 0x7C00): load the next NSECT sectors to 0x7E00, enable A20, enter
; 32-bit protected mode; then the same code as bench.elf: longmode.inc (4-level page tables,
; PAE+LME+PG), workloads.inc (run the workload, print "VXB <checksum>" to port 0xE9), and
; power off by writing "Shutdown" to port 0x8900 (Bochs's shutdown port).
; Parameters are not on a command line: bench/run.ts patches the block after the "VXBPARAM"
; magic (u32 workload id, u32 iterations) in a copy of this image.

%include "layout.inc"

NSECT equ 16

org 0x7c00
bits 16
boot:
    cli
    cld
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    mov ax, 0x0200 | NSECT          ; int 13h AH=2: read AL sectors
    mov cx, 0x0002                  ; cylinder 0, sector 2
    xor dh, dh                      ; head 0, DL = boot drive from the BIOS
    mov bx, 0x7e00                  ; to ES:BX
    int 0x13
    jc .fail
    in al, 0x92                     ; A20 on (fast A20 gate)
    or al, 2
    and al, 0xfe
    out 0x92, al
    lgdt [gdt_ptr]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp SEL_CODE32:pm32
.fail:
    mov al, '!'
    out 0xe9, al
    jmp shutdown16

shutdown16:
    mov si, shutdown_str
    mov dx, 0x8900
.s: lodsb
    test al, al
    jz .h
    out dx, al
    jmp .s
.h: hlt
    jmp .h

bits 32
pm32:
    mov eax, SEL_DATA
    mov ds, eax
    mov es, eax
    mov ss, eax
    mov esp, STACK_TOP
    jmp enter_long_mode

shutdown_str: db 'Shutdown', 0

    times 510 - ($ - $$) db 0
    dw 0xaa55

; ---- sectors 2 .. NSECT+1 ----
%include "longmode.inc"

bits 64
long_entry:
    mov eax, SEL_DATA
    mov ds, eax
    mov es, eax
    mov ss, eax
    mov esp, STACK_TOP
    mov edi, [rel params.workload]
    mov r15d, [rel params.iterations]
    call run_workload
    call print_result
    mov esi, shutdown_str           ; Bochs: "Shutdown" to port 0x8900 powers off
    mov edx, 0x8900
.s: mov al, [rsi]
    test al, al
    jz .h
    out dx, al
    inc esi
    jmp .s
.h: cli
    hlt
    jmp .h

%include "workloads.inc"

align 8
params:
    db 'VXBPARAM'
.workload:   dd WL_HOT
.iterations: dd 1000

    times 512 + NSECT * 512 - ($ - $$) db 0
