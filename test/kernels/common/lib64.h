/* The 64-bit test runtime: GDT, TSS, IDT, exception catching, ring-3 entry. */
#ifndef KT_LIB64_H
#define KT_LIB64_H
#include "types.h"
#include "report.h"
#include "x86.h"

/* GDT layout (Linux-like so that SYSCALL/SYSRET work with STAR = 0x0023_0010 << 32). */
#define KCODE32 0x08
#define KCODE64 0x10
#define KDATA 0x18
#define UCODE32 0x23
#define UDATA 0x2b
#define UCODE64 0x33
#define TSS_SEL 0x38 /* 16 bytes: slots 7 and 8 */
#define GDT_SPARE_FIRST 9 /* slots 9..15 are free for tests */
#define GDT_ENTRIES 16

/* The two ring-3 vectors: exit back to the kernel, and "return to me" (iretq). */
#define VEC_USER_EXIT 0x81
#define VEC_RESUME 0x83

/* A saved register frame as built by the common exception entry (trap64.S). */
struct frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
    u64 vector, error; /* error is 0 when the vector pushes none */
    u64 rip, cs, rflags, rsp, ss;
};

/* What the last exception looked like. frame_addr is the address of the pushed RIP. */
struct fault {
    u64 vector, error, rip, cs, rflags, rsp, ss, cr2, frame_addr;
    u64 handler_ss; /* SS while the handler ran */
    u64 rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11;
    u64 count;
};
extern volatile struct fault last_fault;

struct tss64 {
    u32 reserved0;
    u64 rsp0, rsp1, rsp2;
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3, iomap_base;
} __attribute__((packed));
extern struct tss64 tss;
extern u64 gdt[GDT_ENTRIES];

struct idt_gate {
    u16 off0, sel;
    u8 ist, type_attr;
    u16 off1;
    u32 off2, reserved;
};
extern struct idt_gate idt[256];
/* The exception entry stubs: vector v's stub is at isr_table_base() + 16*v. */
extern u8 isr_stubs[];
static inline void *isr_table_base(void) { return isr_stubs; }

/* Top-of-stack addresses (16-byte aligned) put in the TSS. */
extern u8 rsp0_stack_top[], ist1_stack_top[], ist2_stack_top[];

/* Run fn(arg); returns 0 if it returned, 1 if an exception (or a ring-3 exit) landed
 * back here; last_fault then describes it. Nests. */
int try_call(void (*fn)(void *), void *arg);

/* Hook: return 1 to resume at the (possibly edited) frame instead of unwinding to try_call. */
typedef int (*trap_hook_t)(struct frame *f);
extern trap_hook_t trap_hooks[256];

/* Enter ring 3 at rip with stack rsp, RFLAGS, and RDI=arg. Returns the vector that
 * brought control back (VEC_USER_EXIT for a normal "int $0x81"); last_fault has the
 * ring-3 registers at that point. */
u64 run_user(void *rip, void *rsp, u64 rflags, u64 arg);
u64 run_user2(void *rip, void *rsp, u64 rflags, u64 rdi, u64 rsi); /* RDI and RSI */

/* IDT helpers. type: 0xE interrupt gate, 0xF trap gate. */
void set_gate(int vec, void *handler, u16 sel, int type, int dpl, int ist);
void set_gate_present(int vec, int present);
void set_gate_ist(int vec, int ist);
void load_idt(struct idt_gate *table, u16 limit);

/* A test: a function run inside try_call; an unexpected exception ends it as not ok. */
void run_test(const char *name, void (*fn)(void));

/* The user region: one 2 MiB page at 0x400000 mapped with U=1 by the boot page tables.
 * Code and data placed in the .user.* sections live there. */
#define USER_REGION 0x400000ul
#define USER_SECTION __attribute__((section(".user.data")))
extern u8 user_stack_top[];
/* Boot page tables (identity map of 0..1 GiB with 2 MiB pages). */
extern u64 boot_pml4[512], boot_pdpt[512], boot_pd[512];

extern u32 mb_magic, mb_info;

/* Re-establish the baseline CR0/CR3/CR4/EFER, segments, IDT and TSS after a test. */
void restore_baseline(void);
/* Make the current CR0/CR3/CR4/EFER the baseline that restore_baseline() returns to. */
void baseline_capture(void);

/* Kernel entry provided by each test kernel. */
void kernel_main(void);



/* common/probes64.S */
extern u64 probe_rsp, probe_value;
void probe_read64(void *addr);  /* reads into probe_value */
void probe_write64(void *addr); /* writes probe_value */
void probe_call(void *addr);
extern u8 probe_read64_insn[], probe_write64_insn[], probe_call_insn[];
extern u8 u_read64[], u_read64_insn[], u_write64[], u_write64_insn[], u_call[], u_call_insn[];
#endif
