/*
 * vmxray demo kernel: what `vmxray run` shows with no arguments.
 *
 * Built from the minikernel's sources (boot, console, IDT/PIC/PIT,
 * multiboot) with this file instead of the shell.  It prints a banner
 * (colour on VGA, plain ASCII on port 0xE9 and COM1), a few facts about the
 * machine, waits one second of (virtual) time on the PIT, and exits through
 * isa-debug-exit (port 0xF4) with code 0.  It needs no input.
 */
#include "../minikernel/kernel.h"

static const char *const logo[5] = {
    "__   __  _ __ ___   __  __  _ __    __ _   _   _ ",
    "\\ \\ / / | '_ ` _ \\  \\ \\/ / | '__|  / _` | | | | |",
    " \\ V /  | | | | | |  >  <  | |    | (_| | | |_| |",
    "  \\_/   |_| |_| |_| /_/\\_\\ |_|     \\__,_|  \\__, |",
    "                                           |___/ ",
};
static const uint8_t logo_color[5] = { VGA_WHITE, VGA_LCYAN, VGA_LCYAN, VGA_CYAN, VGA_CYAN };

static void rule(void)
{
    console_set_color(VGA_DGRAY, VGA_BLACK);
    kprintf("  ");
    for (int i = 0; i < 74; i++) console_putc_dual(0xC4, '-');   /* CP437 horizontal line */
    kprintf("\n");
    console_set_color(VGA_LGRAY, VGA_BLACK);
}

static void label(const char *l)
{
    console_set_color(VGA_YELLOW, VGA_BLACK);
    kprintf("  %-9s", l);
    console_set_color(VGA_LGRAY, VGA_BLACK);
}

static void indent(void) { kprintf("  %-9s", ""); }

static void print_size(uint64_t bytes, int width)
{
    if (bytes >= (1ull << 30)) kprintf("%*lu GiB", width, bytes >> 30);
    else if (bytes >= (1ull << 20)) kprintf("%*lu MiB", width, bytes >> 20);
    else if (bytes >= (1ull << 10)) kprintf("%*lu KiB", width, bytes >> 10);
    else kprintf("%*lu B  ", width, bytes);
}

__attribute__((noreturn)) static void triple_fault(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) none = { 0, 0 };
    __asm__ volatile("lidt %0; int3" : : "m"(none));
    halt_forever();
}

void kmain(void)
{
    console_init();
    for (int i = 0; i < 5; i++) {
        console_set_color(logo_color[i], VGA_BLACK);
        kprintf("  %s\n", logo[i]);
    }
    console_set_color(VGA_LGRAY, VGA_BLACK);
    kprintf("  an x86-64 PC with VMX and EPT, in TypeScript, for debugging hypervisors\n");
    rule();

    char vendor[13], brand[49];
    uint32_t fam, mod, step;
    cpu_describe(vendor, brand, &fam, &mod, &step);
    label("cpu");
    kprintf("%s, family %u model %u stepping %u\n", vendor, fam, mod, step);
    if (brand[0]) indent(), kprintf("%s\n", brand);

    label("memory");
    print_size(mb_usable_bytes(), 0);
    kprintf(" usable, from the multiboot memory map:\n");
    uint64_t addr, len;
    uint32_t type;
    for (int i = 0; i < 10 && mb_mmap_entry(i, &addr, &len, &type) == 0; i++) {
        indent();
        kprintf("%016lx ", addr);
        print_size(len, 5);
        kprintf("  %s\n", mb_type_name(type));
    }

    idt_init();
    pic_init();
    pit_init();
    sti();
    label("timer");
    kprintf("PIT channel 0 at %d Hz; waiting for one second...\n", PIT_HZ);
    uint64_t t0 = ticks;
    while (ticks - t0 < PIT_HZ) hlt();
    indent();
    kprintf("%lu ticks later: 1 s of virtual time has passed\n", ticks - t0);
    cli();

    kprintf("\n  This is examples/demo. For a shell with a disk, try:\n");
    console_set_color(VGA_LGREEN, VGA_BLACK);
    kprintf("    vmxray run -kernel examples/minikernel/minikernel.elf \\\n"
            "      -drive file=examples/minikernel/disk.img,if=ide,index=0\n");
    console_set_color(VGA_LGRAY, VGA_BLACK);
    kprintf("  bye: isa-debug-exit (port 0x%x) with code 0\n", DEBUG_EXIT_PORT);
    outl(DEBUG_EXIT_PORT, 0);
    kprintf("  no isa-debug-exit device: shutting down by triple fault\n");
    triple_fault();
}
