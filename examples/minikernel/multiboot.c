/* minikernel: the multiboot v1 information structure (memory fields and map). */
#include "kernel.h"

struct mb_info {
    uint32_t flags;
    uint32_t mem_lower, mem_upper;       /* flags bit 0, KiB */
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;     /* flags bit 6 */
} __attribute__((packed));

struct mb_mmap {
    uint32_t size;                       /* of the rest of the entry */
    uint64_t addr, len;
    uint32_t type;                       /* 1 usable, 3 ACPI, 4 NVS, 5 bad, else reserved */
} __attribute__((packed));

static const struct mb_info *info(void)
{
    return (const struct mb_info *)(uintptr_t)mb_info;
}

const char *mb_type_name(uint32_t t)
{
    switch (t) {
    case 1: return "usable";
    case 2: return "reserved";
    case 3: return "ACPI reclaimable";
    case 4: return "ACPI NVS";
    case 5: return "bad";
    default: return "other";
    }
}

#define FOR_EACH_MMAP(e)                                                                    \
    for (const struct mb_mmap *e = (const struct mb_mmap *)(uintptr_t)info()->mmap_addr;    \
         (uintptr_t)e < (uintptr_t)info()->mmap_addr + info()->mmap_length;                 \
         e = (const struct mb_mmap *)((uintptr_t)e + e->size + 4))

uint64_t mb_usable_bytes(void)
{
    const struct mb_info *mb = info();
    if (mb->flags & (1 << 6)) {
        uint64_t total = 0;
        FOR_EACH_MMAP(e)
            if (e->type == 1) total += e->len;
        return total;
    }
    if (mb->flags & 1) return ((uint64_t)mb->mem_lower + mb->mem_upper) * 1024;
    return 0;
}

void mb_print_summary(void)
{
    const struct mb_info *mb = info();
    if (mb->flags & 1)
        kprintf("memory: %u KiB lower, %u KiB upper (%u MiB)",
                mb->mem_lower, mb->mem_upper, (mb->mem_upper + 1024) / 1024);
    else
        kprintf("memory: no size from the loader");
    if (mb->flags & (1 << 6))
        kprintf(", %lu KiB usable in the map\n", mb_usable_bytes() / 1024);
    else
        kprintf(", no memory map\n");
}

void mb_print_map(void)
{
    const struct mb_info *mb = info();
    kprintf("multiboot info at 0x%x, flags 0x%x\n", mb_info, mb->flags);
    if (mb->flags & 1)
        kprintf("lower memory %u KiB, upper memory %u KiB\n", mb->mem_lower, mb->mem_upper);
    if (!(mb->flags & (1 << 6))) {
        kprintf("no memory map\n");
        return;
    }
    int n = 0;
    FOR_EACH_MMAP(e) {
        kprintf("  %016lx-%016lx %s\n", e->addr, e->addr + e->len - 1, mb_type_name(e->type));
        n++;
    }
    uint64_t u = mb_usable_bytes();
    kprintf("%d regions, %lu KiB usable (%lu MiB)\n", n, u / 1024, u >> 20);
}

int mb_mmap_entry(int index, uint64_t *addr, uint64_t *len, uint32_t *type)
{
    if (!(info()->flags & (1 << 6))) return -1;
    int i = 0;
    FOR_EACH_MMAP(e) {
        if (i++ == index) {
            *addr = e->addr;
            *len = e->len;
            *type = e->type;
            return 0;
        }
    }
    return -1;
}
