/* The 32-bit test runtime (protected mode): GDT, TSS, IDT, exception catching, ring 3. */
#ifndef KT_LIB32_H
#define KT_LIB32_H
#include "types.h"
#include "report.h"
#include "x86.h"

/* GDT layout (same selectors as the 64-bit kernels where they overlap). */
#define KCODE32 0x08
#define KCODE64 0x10
#define KDATA 0x18
#define UCODE32 0x23
#define UDATA 0x2b
#define UCODE64 0x33
#define TSS32_SEL 0x38
#define GDT_SPARE_FIRST 10 /* slots 10..GDT_ENTRIES-1 are free for tests (8, 9: 64-bit TSS) */
#define GDT_ENTRIES 24

#define VEC_USER_EXIT 0x81
#define VEC_RESUME 0x83

/* Frame built by the 32-bit exception entry (trap32.S). esp/ss exist only when the
 * exception came from a less privileged level. */
struct frame32 {
    u32 gs, fs, es, ds;
    u32 edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
    u32 vector, error;
    u32 eip, cs, eflags;
    u32 esp, ss;
};

/* Last exception (u64 fields so that the long-mode handler of the modes kernel can
 * fill the same structure). frame_addr = address of the pushed EIP/RIP. */
struct fault {
    u64 vector, error, rip, cs, rflags, rsp, ss, cr2, frame_addr, handler_ss;
    u64 eax, ebx, ecx, edx, esi, edi, ebp;
    u64 count;
};
extern volatile struct fault last_fault;

struct tss32 {
    u16 link, r0;
    u32 esp0;
    u16 ss0, r1;
    u32 esp1;
    u16 ss1, r2;
    u32 esp2;
    u16 ss2, r3;
    u32 cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    u16 es, r4, cs, r5, ss, r6, ds, r7, fs, r8, gs, r9, ldt, r10;
    u16 trap, iomap_base;
} __attribute__((packed));
extern struct tss32 tss32;
extern u64 gdt[GDT_ENTRIES];

struct idt_gate32 {
    u16 off0, sel;
    u8 zero, type_attr;
    u16 off1;
};
extern struct idt_gate32 idt32[256];
extern u8 isr32_stubs[];
extern u8 esp0_stack_top[], user_stack_top[];

int try_call(void (*fn)(void *), void *arg);
typedef int (*trap_hook_t)(struct frame32 *f);
extern trap_hook_t trap_hooks[256];

void set_gate32(int vec, void *handler, u16 sel, int type, int dpl);
void set_gate32_present(int vec, int present);
void load_idt32(void);

/* A segment descriptor: base, limit (20 bits), access byte (P DPL S type), flags (G D/B L AVL). */
static inline u64 seg_desc(u32 base, u32 limit, u8 access, u8 flags)
{
    return (limit & 0xffffull) | ((u64)(base & 0xffffff) << 16) | ((u64)access << 40) |
           ((u64)((limit >> 16) & 0xf) << 48) | ((u64)(flags & 0xf) << 52) | ((u64)(base >> 24) << 56);
}

/* Enter ring 3 (32-bit) at eip with stack esp and EDI = arg; returns the vector that
 * came back (VEC_USER_EXIT for "int $0x81"); last_fault holds the registers then. */
u32 run_user32(void *eip, void *esp, u32 eflags, u32 arg);

void run_test(const char *name, void (*fn)(void));
void restore_baseline(void);
void baseline_capture(void);
void load_kernel_segments(void);

#define USER_SECTION __attribute__((section(".user.data")))
extern u32 mb_magic, mb_info;
void kernel_main(void);

/* Extra baseline hook: the modes kernel reloads its long-mode IDT through this. */
extern void (*restore_hook)(void);

/* generic probes (probes32.S) */
extern u32 probe_esp, probe_value;
void probe_read32(void *addr);
void probe_write32(void *addr);
void probe_call32(void *addr);
extern u8 probe_read32_insn[], probe_write32_insn[], probe_call32_insn[];
extern u8 u32_read[], u32_read_insn[], u32_write[], u32_write_insn[];
#endif
