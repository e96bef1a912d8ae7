/*
 * passthrough: a pass-through hypervisor that boots a multiboot v1 kernel as its VMX guest.
 *
 *   vmxray run -kernel passthrough.elf -initrd guest.elf[,module.bin] -m 32
 *
 * The hypervisor is linked and loaded at 24 MiB (passthrough.ld); the guest owns guest-physical
 * 0-16 MiB, which EPT maps 1:1 onto host-physical 0-16 MiB with 2 MiB pages (write-back), plus
 * the 4 MiB at 0xFEC00000-0xFEFFFFFF (I/O APIC, HPET, local APIC; uncacheable), also 1:1, so
 * those devices are passed through too. Nothing else is mapped: a guest access above 16 MiB
 * (the hypervisor's own memory) is an EPT violation, which stops the machine with a `[hv]` line.
 *
 * Module 0 is the guest kernel (ELF32 or ELF64 with a multiboot v1 header, or an image with the
 * header's address fields, flag bit 16). Its PT_LOAD segments are loaded at their physical
 * addresses, e_entry is translated through the segments when it is a virtual address (as GRUB
 * does), and the guest starts exactly as a multiboot loader starts a kernel (Multiboot 0.6.96,
 * "Machine state"): 32-bit protected mode with paging off ("unrestricted guest", SDM Vol. 3C
 * "Unrestricted Guests"), flat 4 GiB CS/DS/ES/FS/GS/SS, EFLAGS.IF = 0, EAX = 2BADB002H,
 * EBX = a multiboot information structure in guest low memory (memory fields, memory map,
 * command line = module 0's string, boot loader name, and module 1, if given, as the guest's
 * module 0), ESP = 7FF00H (usable memory; the guest is told not to trust it).
 *
 * Pass-through (SDM Vol. 3C, "VM-Execution Control Fields"):
 *   - port I/O: I/O bitmaps all zero; MSRs: MSR bitmaps all zero; no exception exits;
 *   - external interrupts are not intercepted: the PIC's interrupts are delivered through the
 *     guest IDT in VMX non-root operation; HLT does not exit;
 *   - CPUID exits unconditionally ("Instructions That Cause VM Exits Unconditionally"): it is
 *     executed in the hypervisor and CPUID.1:ECX.VMX[5] is cleared (OSXSAVE[27] reflects the
 *     guest's CR4.OSXSAVE);
 *   - CR0/CR4: the guest/host masks own only the bits that VMX operation fixes to 1 (CR0.NE,
 *     CR4.VMXE: IA32_VMX_CR0_FIXED0 without PE/PG, which "unrestricted guest" frees, and
 *     IA32_VMX_CR4_FIXED0); the read shadows show the guest its own values. A MOV to CR0/CR4
 *     that changes an owned bit relative to the shadow exits ("Guest/Host Masks and Read
 *     Shadows for CR0 and CR4") and is emulated here;
 *   - "load IA32_EFER" on entry, "save/load IA32_EFER" on exit: the guest switches to IA-32e
 *     mode by itself (WRMSR EFER.LME, MOV CR0.PG); every VM exit stores EFER.LMA into the
 *     "IA-32e mode guest" entry control ("Saving Control Registers, Debug Registers, and MSRs").
 * VMCALL prints a `[hv]` line and the guest continues. Every other VM exit, a failed VM entry and
 * a guest triple fault print `[hv] error: ...` with the exit reason, qualification and guest RIP
 * on port 0xE9 and stop the machine through isa-debug-exit (value 0x7F: exit status 255).
 */
#include "vmx.h"

#define GUEST_MEM (16ull << 20)
#define MB_HEADER_MAGIC 0x1BADB002u
#define MB_SEARCH 8192 /* the header lies in the first 8 KiB of the image, 4-byte aligned */
#define HV_FAIL_EXIT 0x7f

/* Guest low memory, written by the hypervisor (the memory map marks it available, as GRUB's and
 * QEMU's information lies in available memory too). */
#define G_MBI 0x9000ull
#define G_MMAP 0x9100ull
#define G_MODS 0x9200ull
#define G_LOADER 0x9300ull
#define G_MODSTR 0x9400ull /* 1 KiB */
#define G_CMDLINE 0x9800ull /* 2 KiB */
#define G_LOW_END 0xa000ull
#define G_STACK_TOP 0x7ff00ull
#define STR_MAX 1024

/* VMCS fields the library does not name (SDM Vol. 3D, Appendix B "Field Encoding in VMCS") */
#define GUEST_PDPTE0 0x280a
#define MSR_BITMAP_SIZE 4096
#define EXIT_REASON_TRIPLE_FAULT 2
#define EXIT_REASON_CR_ACCESS 28

#define CR0_MP (1u << 1)
#define CR0_NW (1u << 29)
#define CR0_CD (1u << 30)
#define CR4_OSXSAVE (1u << 18)

/* ---------------------------------------------------------------- console */
static NORETURN void hv_stop(void)
{
    debug_exit(HV_FAIL_EXIT);
}

#define hv_info(...) kprintf("[hv] " __VA_ARGS__)
/* The guest writes port 0xE9 directly, maybe in the middle of a line: an error starts its own. */
#define hv_error(...) (kprintf("\n[hv] error: " __VA_ARGS__), hv_stop())

/* ---------------------------------------------------------------- what the loader gave us */
struct mb_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    u32 syms[4];
    u32 mmap_length, mmap_addr, drives_length, drives_addr, config_table, boot_loader_name, apm_table;
    u32 vbe_control_info, vbe_mode_info;
    u16 vbe_mode, vbe_interface_seg, vbe_interface_off, vbe_interface_len;
    u64 framebuffer_addr;
    u32 framebuffer_pitch, framebuffer_width, framebuffer_height;
    u8 framebuffer_bpp, framebuffer_type, color_info[6];
} __attribute__((packed));
struct mb_module {
    u32 mod_start, mod_end, string, reserved;
};
struct mb_mmap_entry {
    u32 size;
    u64 base, length;
    u32 type;
} __attribute__((packed));
#define MBI_MEM (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

struct module {
    u64 start, end;
    char string[STR_MAX];
};
static struct module mod[2];
static int nmods;

static void copy_string(char *dst, u64 src, unsigned long max)
{
    unsigned long i = 0;
    if (src)
        for (const char *s = (const char *)src; s[i] && i + 1 < max; i++)
            dst[i] = s[i];
    dst[i] = 0;
}

/* Everything from the host's multiboot information that is needed later: it lies in low memory,
 * which the guest's information replaces. */
static void take_modules(void)
{
    if (mb_magic != MULTIBOOT_BOOTLOADER_MAGIC)
        hv_error("not started by a multiboot loader (EAX = 0x%x)\n", mb_magic);
    const struct mb_info *mbi = (const struct mb_info *)(u64)mb_info;
    if (!(mbi->flags & MBI_MODS) || mbi->mods_count == 0)
        hv_error("no multiboot module: pass the guest kernel as module 0 (vmxray run -kernel passthrough.elf -initrd guest.elf)\n");
    const struct mb_module *m = (const struct mb_module *)(u64)mbi->mods_addr;
    nmods = mbi->mods_count > 2 ? 2 : (int)mbi->mods_count;
    for (int i = 0; i < nmods; i++) {
        mod[i].start = m[i].mod_start;
        mod[i].end = m[i].mod_end;
        copy_string(mod[i].string, m[i].string, STR_MAX);
        if (mod[i].start < GUEST_MEM)
            hv_error("module %d lies at 0x%llx-0x%llx, inside guest-physical 0-16 MiB that the guest owns\n", i, mod[i].start, mod[i].end);
    }
    if (mbi->mods_count > 2)
        hv_info("modules after the second are ignored (%u given)\n", mbi->mods_count);
}

/* ---------------------------------------------------------------- loading the guest kernel */
static u32 rd32(const u8 *p) { u32 v; memcpy(&v, p, 4); return v; }
static u64 rd64(const u8 *p) { u64 v; memcpy(&v, p, 8); return v; }
static u16 rd16(const u8 *p) { u16 v; memcpy(&v, p, 2); return v; }

static u64 guest_end; /* end of the highest loaded byte */

/* Copy [off, off + filesz) of the image to guest-physical paddr and clear up to memsz. */
static void load_segment(const u8 *img, u64 size, u64 off, u64 paddr, u64 filesz, u64 memsz, const char *what)
{
    if (filesz > memsz || off + filesz > size || off + filesz < off)
        hv_error("guest %s: file offset 0x%llx + 0x%llx bytes lies outside the image (%llu bytes) or exceeds its memory size 0x%llx\n", what, off, filesz, size, memsz);
    if (paddr + memsz > GUEST_MEM || paddr + memsz < paddr)
        hv_error("guest %s at physical 0x%llx-0x%llx does not fit in the guest's 16 MiB\n", what, paddr, paddr + memsz);
    if (paddr < G_STACK_TOP + 0x100 && paddr + memsz > G_MBI)
        hv_error("guest %s at physical 0x%llx-0x%llx overlaps the information/stack area 0x9000-0x80000\n", what, paddr, paddr + memsz);
    memcpy((void *)paddr, img + off, filesz);
    memset((void *)(paddr + filesz), 0, memsz - filesz);
    if (paddr + memsz > guest_end)
        guest_end = paddr + memsz;
}

/* Returns the guest's (physical) entry point. */
static u32 load_guest(void)
{
    const u8 *img = (const u8 *)mod[0].start;
    u64 size = mod[0].end - mod[0].start;
    /* the multiboot header: magic, flags, checksum (the three sum to 0 mod 2^32) */
    u64 hoff = ~0ull;
    for (u64 o = 0; o + 12 <= size && o < MB_SEARCH; o += 4)
        if (rd32(img + o) == MB_HEADER_MAGIC && (u32)(rd32(img + o) + rd32(img + o + 4) + rd32(img + o + 8)) == 0) {
            hoff = o;
            break;
        }
    if (hoff == ~0ull)
        hv_error("module 0 (%s) has no multiboot v1 header in its first 8 KiB\n", mod[0].string);
    u32 mbflags = rd32(img + hoff + 4);

    if (mbflags & (1u << 16)) {
        /* Multiboot 0.6.96, "The address fields of Multiboot header": they take precedence */
        if (hoff + 32 > size)
            hv_error("module 0: multiboot header with address fields is truncated\n");
        u32 header_addr = rd32(img + hoff + 12), load_addr = rd32(img + hoff + 16), load_end = rd32(img + hoff + 20);
        u32 bss_end = rd32(img + hoff + 24), entry = rd32(img + hoff + 28);
        if (header_addr < load_addr || header_addr - load_addr > hoff)
            hv_error("module 0: header_addr 0x%x / load_addr 0x%x do not match the header's file offset 0x%llx\n", header_addr, load_addr, hoff);
        u64 off = hoff - (header_addr - load_addr);
        u64 filesz = load_end ? (u64)load_end - load_addr : size - off;
        u64 memsz = bss_end ? (u64)bss_end - load_addr : filesz;
        load_segment(img, size, off, load_addr, filesz, memsz, "image (multiboot address fields)");
        hv_info("guest %s: multiboot address fields, 0x%x-0x%llx, entry 0x%x\n", mod[0].string, load_addr, load_addr + memsz, entry);
        return entry;
    }

    if (size < 64 || rd32(img) != 0x464c457f)
        hv_error("module 0 (%s) is neither ELF nor a multiboot image with address fields\n", mod[0].string);
    int is64 = img[4] == 2;
    if ((img[4] != 1 && img[4] != 2) || img[5] != 1 || rd16(img + 16) != 2)
        hv_error("module 0: not a little-endian ELF executable (class %u, data %u, type %u)\n", img[4], img[5], rd16(img + 16));
    u64 entry = is64 ? rd64(img + 24) : rd32(img + 24);
    u64 phoff = is64 ? rd64(img + 32) : rd32(img + 28);
    u32 phentsize = rd16(img + (is64 ? 54 : 42)), phnum = rd16(img + (is64 ? 56 : 44));
    if (phoff + (u64)phnum * phentsize > size)
        hv_error("module 0: program headers lie outside the image\n");
    u64 entry_pa = entry;
    int nload = 0;
    for (u32 i = 0; i < phnum; i++) {
        const u8 *ph = img + phoff + (u64)i * phentsize;
        if (rd32(ph) != 1 /* PT_LOAD */)
            continue;
        u64 off = is64 ? rd64(ph + 8) : rd32(ph + 4);
        u64 vaddr = is64 ? rd64(ph + 16) : rd32(ph + 8);
        u64 paddr = is64 ? rd64(ph + 24) : rd32(ph + 12);
        u64 filesz = is64 ? rd64(ph + 32) : rd32(ph + 16);
        u64 memsz = is64 ? rd64(ph + 40) : rd32(ph + 20);
        if (memsz == 0)
            continue;
        load_segment(img, size, off, paddr, filesz, memsz, "PT_LOAD segment");
        /* e_entry is a virtual address when the image is linked high (SWEB: 0x801001e1 in a
         * segment at virtual 0x80100000, physical 0x100000): translate it as GRUB does */
        if (entry >= vaddr && entry - vaddr < memsz)
            entry_pa = entry - vaddr + paddr;
        nload++;
    }
    if (nload == 0)
        hv_error("module 0: no PT_LOAD segment\n");
    if (entry_pa >= GUEST_MEM)
        hv_error("module 0: entry point 0x%llx is not in a loaded segment below 16 MiB\n", entry);
    hv_info("guest %s: ELF%d, %d segments up to 0x%llx, entry 0x%llx\n", mod[0].string, is64 ? 64 : 32, nload, guest_end, entry_pa);
    return (u32)entry_pa;
}

/* The guest's multiboot information (Multiboot 0.6.96, "Boot information format"). */
static void build_guest_mbi(void)
{
    struct mb_info *mbi = (struct mb_info *)G_MBI;
    memset((void *)G_MBI, 0, G_LOW_END - G_MBI);
    mbi->flags = MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME;
    mbi->mem_lower = 640;                           /* KiB at 0 */
    mbi->mem_upper = (u32)((GUEST_MEM >> 10) - 1024); /* KiB from 1 MiB */
    static const struct { u64 base, length; u32 type; } map[] = {
        { 0, 0xa0000, 1 },                        /* lower 640 KiB: available */
        { 0xe0000, 0x20000, 2 },                  /* BIOS area (vmxray's ACPI tables): reserved */
        { 0x100000, GUEST_MEM - 0x100000, 1 },    /* 1 MiB-16 MiB: available */
    };
    struct mb_mmap_entry *e = (struct mb_mmap_entry *)G_MMAP;
    for (unsigned i = 0; i < ARRAY_SIZE(map); i++) {
        e[i].size = sizeof e[i] - 4;
        e[i].base = map[i].base;
        e[i].length = map[i].length;
        e[i].type = map[i].type;
    }
    mbi->mmap_addr = (u32)G_MMAP;
    mbi->mmap_length = ARRAY_SIZE(map) * sizeof *e;
    /* the command line GRUB gives: the kernel's path and arguments (module 0's string) */
    copy_string((char *)G_CMDLINE, (u64)mod[0].string, G_LOW_END - G_CMDLINE);
    mbi->cmdline = (u32)G_CMDLINE;
    copy_string((char *)G_LOADER, (u64)"vmxray passthrough hypervisor", G_MODSTR - G_LOADER);
    mbi->boot_loader_name = (u32)G_LOADER;
    if (nmods > 1) {
        /* module 1 is passed on as the guest's module 0, page-aligned after the guest kernel */
        u64 at = (guest_end + 0xfff) & ~0xfffull, len = mod[1].end - mod[1].start;
        if (at + len > GUEST_MEM)
            hv_error("module 1 (%llu bytes) does not fit in guest memory after the kernel (0x%llx)\n", len, at);
        memcpy((void *)at, (const void *)mod[1].start, len);
        struct mb_module *m = (struct mb_module *)G_MODS;
        m->mod_start = (u32)at;
        m->mod_end = (u32)(at + len);
        copy_string((char *)G_MODSTR, (u64)mod[1].string, G_CMDLINE - G_MODSTR);
        m->string = (u32)G_MODSTR;
        mbi->mods_addr = (u32)G_MODS;
        mbi->mods_count = 1;
        mbi->flags |= MBI_MODS;
        hv_info("guest module 0: %s at 0x%llx-0x%llx\n", mod[1].string, at, at + len);
    }
}

/* ---------------------------------------------------------------- EPT */
/* SDM Vol. 3C, "EPT Translation Mechanism", "Format of the Extended-Page-Table Pointer",
 * "EPT and Memory Typing". */
#define EPT_RWX 7ull
#define EPT_LARGE (1ull << 7)
#define EPT_MT_UC (0ull << 3)
#define EPT_MT_WB (6ull << 3)
static u64 ept_pml4[512] ALIGNED(4096);
static u64 ept_pdpt[512] ALIGNED(4096);
static u64 ept_pd_low[512] ALIGNED(4096);  /* guest-physical 0-1 GiB */
static u64 ept_pd_high[512] ALIGNED(4096); /* guest-physical 3-4 GiB */

static u64 ept_build(void)
{
    ept_pml4[0] = (u64)ept_pdpt | EPT_RWX;
    ept_pdpt[0] = (u64)ept_pd_low | EPT_RWX;
    ept_pdpt[3] = (u64)ept_pd_high | EPT_RWX;
    for (u64 a = 0; a < GUEST_MEM; a += 0x200000)
        ept_pd_low[a >> 21] = a | EPT_RWX | EPT_MT_WB | EPT_LARGE;
    /* 0xFEC00000-0xFEFFFFFF: I/O APIC, HPET, local APIC, passed through (uncacheable) */
    for (u64 a = 0xfec00000ull; a < 0xff000000ull; a += 0x200000)
        ept_pd_high[(a >> 21) & 511] = a | EPT_RWX | EPT_MT_UC | EPT_LARGE;
    return (u64)ept_pml4 | (3ull << 3) /* walk length 4 */ | 6 /* WB paging structures */;
}

/* ---------------------------------------------------------------- exits */
static u8 io_bitmap_a[4096] ALIGNED(4096);
static u8 io_bitmap_b[4096] ALIGNED(4096);
static u8 msr_bitmaps[MSR_BITMAP_SIZE] ALIGNED(4096);
static struct vcpu_regs g;
static u64 cr0_mask, cr4_mask, cr0_owned_ones, cr4_owned_ones;
static u64 n_exits, n_cpuid, n_cr, n_vmcall;

static void fatal_exit(u32 reason, const char *why)
{
    /* (kprintf formats at most 256 bytes per call) */
    kprintf("\n[hv] error: %s: exit reason %u (%s), qualification 0x%llx, guest RIP 0x%llx (CS 0x%llx), ", why,
            reason & 0xffff, exit_reason_name(reason), vmread(EXIT_QUALIFICATION), vmread(GUEST_RIP), vmread(GUEST_CS_SELECTOR));
    kprintf("guest-physical 0x%llx, guest-linear 0x%llx, interruption info 0x%llx, IDT-vectoring 0x%llx, instruction length %llu; ",
            vmread(GUEST_PHYSICAL_ADDRESS), vmread(GUEST_LINEAR_ADDRESS), vmread(VM_EXIT_INTERRUPTION_INFORMATION),
            vmread(IDT_VECTORING_INFORMATION_FIELD), vmread(VM_EXIT_INSTRUCTION_LENGTH));
    kprintf("guest CR0 0x%llx CR3 0x%llx CR4 0x%llx EFER 0x%llx RSP 0x%llx RFLAGS 0x%llx; %llu exits so far\n",
            vmread(GUEST_CR0), vmread(GUEST_CR3), vmread(GUEST_CR4), vmread(GUEST_IA32_EFER), vmread(GUEST_RSP),
            vmread(GUEST_RFLAGS), n_exits);
    hv_stop();
}

/* Advance past the exiting instruction; blocking by STI / MOV SS ends with it (SDM Vol. 3C,
 * "Interruptibility State": hypervisors clear bits 1:0 when they emulate the instruction). */
static void skip_instruction(void)
{
    vmwrite(GUEST_RIP, vmread(GUEST_RIP) + vmread(VM_EXIT_INSTRUCTION_LENGTH));
    u64 intr = vmread(GUEST_INTERRUPTIBILITY_STATE);
    if (intr & 3)
        vmwrite(GUEST_INTERRUPTIBILITY_STATE, intr & ~3ull);
}

/* Reflect #GP(0) into the guest (VM-entry event injection), the instruction not executed. */
static void inject_gp(void)
{
    vmwrite(VM_ENTRY_INTERRUPTION_INFORMATION_FIELD, 0x80000000u | (3u << 8) /* hardware exception */ | (1u << 11) /* error code */ | 13);
    vmwrite(VM_ENTRY_EXCEPTION_ERROR_CODE, 0);
}

static void exit_cpuid(void)
{
    u32 a, b, c, d, leaf = (u32)g.rax;
    cpuid(leaf, (u32)g.rcx, &a, &b, &c, &d);
    if (leaf == 1) {
        c &= ~(1u << 5); /* VMX: the guest sees no VMX */
        c = (c & ~(1u << 27)) | ((vmread(GUEST_CR4) & CR4_OSXSAVE) ? 1u << 27 : 0);
    }
    /* CPUID writes 32-bit registers: the upper halves become 0 in 64-bit mode */
    g.rax = a;
    g.rbx = b;
    g.rcx = c;
    g.rdx = d;
    n_cpuid++;
    skip_instruction();
}

/* The general-purpose register numbered as in the exit qualification for control-register
 * accesses (0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15). */
static u64 guest_gpr(unsigned n)
{
    static const u8 slot[16] = { 0, 2, 3, 1, 0xff, 6, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14 };
    if (n == 4)
        return vmread(GUEST_RSP);
    return ((u64 *)&g)[slot[n & 15]];
}

/* With PAE paging outside IA-32e mode and EPT, VM entry loads the PDPTEs from the VMCS
 * ("Loading Page-Directory-Pointer-Table Entries"): when the emulated MOV to CR0/CR4 turns it on,
 * they are read from the guest's CR3, as the instruction would. */
static void load_pdptes(void)
{
    u64 cr3 = vmread(GUEST_CR3) & 0xffffffe0ull;
    if (cr3 + 32 > GUEST_MEM)
        hv_error("guest PAE CR3 0x%llx lies outside guest memory\n", cr3);
    for (int i = 0; i < 4; i++)
        vmwrite(GUEST_PDPTE0 + 2 * i, ((volatile u64 *)cr3)[i]);
}

/* MOV to CR0 / CR4 that exited because an owned bit differs from the read shadow (SDM Vol. 3C,
 * "Guest/Host Masks and Read Shadows for CR0 and CR4"). The checks are the instruction's own
 * #GP conditions (SDM Vol. 2B, MOV—Move to/from Control Registers; Vol. 3A "IA-32e Mode
 * Operation" for the LMA transitions). */
static void exit_cr_access(void)
{
    u64 q = vmread(EXIT_QUALIFICATION);
    unsigned cr = q & 15, type = (q >> 4) & 3;
    if (type != 0 || (cr != 0 && cr != 4))
        fatal_exit(EXIT_REASON_CR_ACCESS, "control-register access the pass-through hypervisor does not emulate");
    u64 efer = vmread(GUEST_IA32_EFER), entry = vmread(VM_ENTRY_CONTROLS);
    int cs_l = (vmread(GUEST_CS_ACCESS_RIGHTS) >> 13) & 1, lma = (efer & EFER_LMA) != 0;
    u64 v = guest_gpr((q >> 8) & 15);
    if (!(lma && cs_l))
        v = (u32)v; /* outside 64-bit mode the upper half of the register is not used */
    u64 cr0 = vmread(GUEST_CR0), cr4 = vmread(GUEST_CR4);
    n_cr++;
    if (cr == 0) {
        if ((v >> 32) || ((v & CR0_PG) && !(v & CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)))
            return inject_gp();
        if (!(cr0 & CR0_PG) && (v & CR0_PG) && (efer & EFER_LME)) {
            if (!(cr4 & CR4_PAE) || cs_l)
                return inject_gp();
            efer |= EFER_LMA; /* IA-32e mode activated */
            entry |= ENTRY_IA32E_MODE_GUEST;
        } else if ((cr0 & CR0_PG) && !(v & CR0_PG) && lma) {
            if (cs_l)
                return inject_gp(); /* paging off only from compatibility mode */
            efer &= ~(u64)EFER_LMA;
            entry &= ~(u64)ENTRY_IA32E_MODE_GUEST;
        }
        vmwrite(CR0_READ_SHADOW, v);
        cr0 = v | cr0_owned_ones | CR0_ET; /* ET is hardwired to 1 */
        vmwrite(GUEST_CR0, cr0);
        vmwrite(GUEST_IA32_EFER, efer);
        vmwrite(VM_ENTRY_CONTROLS, entry);
    } else {
        /* CPUID shows no VMX, so CR4.VMXE is reserved for the guest; unsupported bits #GP too */
        if ((v & CR4_VMXE) || (v & ~caps.cr4_fixed1) || (lma && !(v & CR4_PAE)))
            return inject_gp();
        vmwrite(CR4_READ_SHADOW, v);
        cr4 = v | cr4_owned_ones;
        vmwrite(GUEST_CR4, cr4);
    }
    if ((cr0 & CR0_PG) && (cr4 & CR4_PAE) && !(efer & EFER_LMA))
        load_pdptes();
    skip_instruction();
}

static void exit_vmcall(void)
{
    n_vmcall++;
    hv_info("VMCALL from the guest at RIP 0x%llx: RAX 0x%llx RBX 0x%llx RCX 0x%llx RDX 0x%llx (continuing)\n",
            vmread(GUEST_RIP), g.rax, g.rbx, g.rcx, g.rdx);
    skip_instruction();
}

/* ---------------------------------------------------------------- the VMCS */
static void need(int ok, const char *what)
{
    if (!ok)
        hv_error("this processor lacks %s (proc 0x%llx proc2 0x%llx exit 0x%llx entry 0x%llx EPT/VPID 0x%llx)\n",
                 what, caps.proc, caps.proc2, caps.exit, caps.entry, caps.ept_vpid);
}

static void setup_vmcs(u32 entry_point)
{
    const u32 proc = PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS | PROC_ACTIVATE_SECONDARY_CONTROLS;
    const u32 proc2 = PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST;
    const u32 exitc = EXIT_HOST_ADDRESS_SPACE_SIZE | EXIT_SAVE_IA32_EFER | EXIT_LOAD_IA32_EFER;
    const u32 entryc = ENTRY_LOAD_IA32_EFER; /* IA-32e mode guest = 0: the guest starts in 32-bit mode */
    need(ctl_allowed(caps.proc, proc), "I/O bitmaps, MSR bitmaps or secondary controls");
    need(ctl_allowed(caps.proc2, proc2), "EPT or unrestricted guest");
    need(ctl_allowed(caps.exit, exitc) && ctl_allowed(caps.entry, entryc), "the save/load IA32_EFER controls");
    need((caps.ept_vpid & (EPT_CAP_WALK_LENGTH_4 | EPT_CAP_MEMTYPE_WB | EPT_CAP_PDE_2MB)) ==
             (EPT_CAP_WALK_LENGTH_4 | EPT_CAP_MEMTYPE_WB | EPT_CAP_PDE_2MB),
         "EPT with 4-level walks, write-back paging structures and 2 MiB pages");
    /* pass-through needs these exits off: bits that the capability MSRs force to 1 would catch
     * every HLT, CR3 access, port access or external interrupt */
    need(!((u32)caps.pin & PIN_EXTERNAL_INTERRUPT_EXITING), "external-interrupt exiting = 0");
    need(!((u32)caps.proc & (PROC_HLT_EXITING | PROC_CR3_LOAD_EXITING | PROC_CR3_STORE_EXITING | PROC_UNCONDITIONAL_IO_EXITING)),
         "HLT / CR3-load / CR3-store / unconditional I/O exiting = 0");

    vmcs_fresh(0);
    if (!vmcs_set_controls(0, proc, proc2, exitc, entryc))
        hv_error("the VM-execution controls were refused\n");
    /* all zero: no port and no MSR causes a VM exit */
    vmwrite(ADDRESS_OF_IO_BITMAP_A, (u64)io_bitmap_a);
    vmwrite(ADDRESS_OF_IO_BITMAP_B, (u64)io_bitmap_b);
    vmwrite(ADDRESS_OF_MSR_BITMAPS, (u64)msr_bitmaps);
    vmwrite(EPT_POINTER, ept_build());
    vmcs_set_host();

    /* the multiboot machine state; TR (type 11) and GDTR are the hypervisor's until the guest
     * loads its own: the multiboot guest must not rely on them (its GDTR "may be invalid"), and
     * if it does, the access to memory above 16 MiB is an EPT violation with a clear [hv] line */
    vmcs_set_guest32_flat(entry_point, G_STACK_TOP);
    cr0_mask = caps.cr0_fixed0 & ~(u64)(CR0_PE | CR0_PG); /* NE */
    cr4_mask = caps.cr4_fixed0;                            /* VMXE */
    cr0_owned_ones = cr0_mask;
    cr4_owned_ones = cr4_mask;
    u64 cr0 = vmread(GUEST_CR0), cr4 = vmread(GUEST_CR4);
    vmwrite(CR0_GUEST_HOST_MASK, cr0_mask);
    vmwrite(CR4_GUEST_HOST_MASK, cr4_mask);
    /* what the guest reads: CR0 = PE | ET (0x11) as a multiboot loader leaves it, CR4 = 0 */
    vmwrite(CR0_READ_SHADOW, cr0 & ~cr0_mask);
    vmwrite(CR4_READ_SHADOW, cr4 & ~cr4_mask);

    memset(&g, 0, sizeof g);
    g.rax = MULTIBOOT_BOOTLOADER_MAGIC;
    g.rbx = G_MBI;
}

void kernel_main(void)
{
    take_modules();
    if (!vmx_enable())
        hv_error("could not enter VMX operation (see the FAIL line above)\n");
    u32 entry = load_guest();
    build_guest_mbi();
    setup_vmcs(entry);
    hv_info("EPT: guest-physical 0-16 MiB and 0xFEC00000-0xFEFFFFFF 1:1; I/O, MSRs, interrupts, HLT pass through; launching the guest at 0x%x\n", entry);

    int launched = 0;
    for (;;) {
        int s = vmx_enter(&g, launched);
        if (s != VM_SUCCEED) {
            kprintf("\n[hv] error: %s failed: %s, VM-instruction error %llu\n", launched ? "VMRESUME" : "VMLAUNCH",
                    s == VM_FAIL_INVALID ? "VMfailInvalid" : "VMfailValid", s == VM_FAIL_VALID ? vmread(VM_INSTRUCTION_ERROR) : 0);
            hv_stop();
        }
        launched = 1;
        n_exits++;
        u32 reason = (u32)vmread(VM_EXIT_REASON);
        if (reason & EXIT_REASON_ENTRY_FAILURE)
            fatal_exit(reason, "VM entry failed");
        switch (reason & 0xffff) {
        case EXIT_REASON_CPUID:
            exit_cpuid();
            break;
        case EXIT_REASON_CR_ACCESS:
            exit_cr_access();
            break;
        case EXIT_REASON_VMCALL:
            exit_vmcall();
            break;
        case EXIT_REASON_TRIPLE_FAULT:
            fatal_exit(reason, "the guest triple-faulted");
            break;
        default:
            fatal_exit(reason, "unexpected VM exit");
        }
    }
}
