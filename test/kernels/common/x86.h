/* Register access helpers, usable from -m32 and -m64 code (control registers are
 * unsigned long: 32 bits in 32-bit code, 64 bits in 64-bit code). */
#ifndef KT_X86_H
#define KT_X86_H
#include "types.h"

#define CR0_PE (1u << 0)
#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)
#define CR4_PSE (1u << 4)
#define CR4_PAE (1u << 5)
#define CR4_PGE (1u << 7)
#define CR4_TSD (1u << 2)
#define CR4_FSGSBASE (1u << 16)
#define CR4_SMEP (1u << 20)
#define CR4_SMAP (1u << 21)

#define MSR_EFER 0xC0000080u
#define MSR_STAR 0xC0000081u
#define MSR_LSTAR 0xC0000082u
#define MSR_CSTAR 0xC0000083u
#define MSR_FMASK 0xC0000084u
#define MSR_FS_BASE 0xC0000100u
#define MSR_GS_BASE 0xC0000101u
#define MSR_KERNEL_GS_BASE 0xC0000102u
#define MSR_TSC_AUX 0xC0000103u
#define EFER_SCE (1u << 0)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)
#define EFER_NXE (1u << 11)

#define RFLAGS_CF (1u << 0)
#define RFLAGS_PF (1u << 2)
#define RFLAGS_AF (1u << 4)
#define RFLAGS_ZF (1u << 6)
#define RFLAGS_SF (1u << 7)
#define RFLAGS_TF (1u << 8)
#define RFLAGS_IF (1u << 9)
#define RFLAGS_DF (1u << 10)
#define RFLAGS_OF (1u << 11)
#define RFLAGS_IOPL (3u << 12)
#define RFLAGS_NT (1u << 14)
#define RFLAGS_RF (1u << 16)
#define RFLAGS_AC (1u << 18)

static inline unsigned long read_cr0(void) { unsigned long v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline unsigned long read_cr2(void) { unsigned long v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline unsigned long read_cr3(void) { unsigned long v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline unsigned long read_cr4(void) { unsigned long v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(unsigned long v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr2(unsigned long v) { __asm__ volatile("mov %0, %%cr2" : : "r"(v) : "memory"); }
static inline void write_cr3(unsigned long v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(unsigned long v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

static inline u64 rdmsr(u32 msr)
{
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, u64 v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}
static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline u64 rdtsc(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}
static inline void invlpg(const volatile void *p) { __asm__ volatile("invlpg (%0)" : : "r"(p) : "memory"); }
static inline unsigned long read_flags(void) { unsigned long v; __asm__ volatile("pushf; pop %0" : "=r"(v)); return v; }
static inline u16 read_cs(void) { u16 v; __asm__ volatile("mov %%cs, %0" : "=r"(v)); return v; }
static inline u16 read_ss(void) { u16 v; __asm__ volatile("mov %%ss, %0" : "=r"(v)); return v; }

/* Multiboot v1 information (only the fields used here). */
struct multiboot_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline;
};
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u

#endif
