/* minikernel: kmain and the `mini> ` shell. */
#include "kernel.h"

#define LINE_MAX 128

static uint8_t sector[512] __attribute__((aligned(16)));

static int readline(char *buf, int max)
{
    int n = 0;
    for (;;) {
        int c = kbd_getc();
        if (c == '\n') {
            console_putc('\n');
            buf[n] = 0;
            return n;
        }
        if (c == '\b') {
            if (n > 0) {
                n--;
                console_write("\b \b");
            }
            continue;
        }
        if (c == 3) {                    /* ^C: drop the line */
            console_write("^C\n");
            buf[0] = 0;
            return 0;
        }
        if (c == 21) {                   /* ^U: erase the line */
            while (n > 0) n--, console_write("\b \b");
            continue;
        }
        if (c == '\t') c = ' ';
        if (c < 32 || c > 126) continue;
        if (n < max - 1) {
            buf[n++] = (char)c;
            console_putc((char)c);
        }
    }
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ') s++;
    return s;
}

/* parse a number argument; on success *rest points after it (and its spaces) */
static int arg_number(const char *s, uint64_t *v, const char **rest)
{
    s = skip_spaces(s);
    int n = parse_u64(s, v);
    if (!n || (s[n] != 0 && s[n] != ' ')) return -1;
    if (rest) *rest = skip_spaces(s + n);
    return 0;
}

static void cmd_help(const char *args)
{
    (void)args;
    kprintf("commands:\n"
            "  help              this list\n"
            "  echo <text>       print text\n"
            "  ticks             PIT ticks since boot (%d Hz)\n"
            "  uptime            seconds since boot\n"
            "  mem               multiboot memory map\n"
            "  cpuid             CPU vendor, family, model\n"
            "  disk              ATA primary master: model and size\n"
            "  read <lba>        hexdump and text of a sector\n"
            "  write <lba> <txt> write text (NUL padded) to a sector\n"
            "  crash             page fault on purpose\n"
            "  exit <n>          isa-debug-exit (port 0xf4): emulator exits with n*2+1\n",
            PIT_HZ);
}

static void cmd_echo(const char *args) { kprintf("%s\n", args); }

static void cmd_ticks(const char *args)
{
    (void)args;
    kprintf("ticks: %lu\n", ticks);
}

static void cmd_uptime(const char *args)
{
    (void)args;
    uint64_t t = ticks;
    kprintf("uptime: %lu.%02lu s (%lu ticks at %d Hz)\n", t / PIT_HZ, t % PIT_HZ, t, PIT_HZ);
}

static void cmd_mem(const char *args)
{
    (void)args;
    mb_print_map();
}

static void cmd_cpuid(const char *args)
{
    (void)args;
    char vendor[13], brand[49];
    uint32_t fam, mod, step;
    cpu_describe(vendor, brand, &fam, &mod, &step);
    kprintf("vendor: %s, family %u (0x%x), model %u (0x%x), stepping %u\n", vendor, fam, fam, mod, mod,
            step);
    if (brand[0]) kprintf("brand: %s\n", brand);
}

static void print_disk(void)
{
    if (!ata0.present) {
        kprintf("disk: none (%s)\n", ata_last_error());
        return;
    }
    kprintf("disk: ata0 master \"%s\", %u sectors (%u KiB)\n", ata0.model, ata0.sectors, ata0.sectors / 2);
}

static void cmd_disk(const char *args)
{
    (void)args;
    print_disk();
    if (ata0.present && ata0.serial[0]) kprintf("serial: %s\n", ata0.serial);
}

static void cmd_read(const char *args)
{
    uint64_t lba;
    if (arg_number(args, &lba, 0) < 0) {
        kprintf("usage: read <lba>\n");
        return;
    }
    if (ata_read((uint32_t)lba, sector) < 0) {
        kprintf("read: %s\n", ata_last_error());
        return;
    }
    kprintf("sector %lu:\n", lba);
    for (int off = 0; off < 64; off += 16) {
        kprintf("%04x ", off);
        for (int i = 0; i < 16; i++) kprintf("%s%02x", i == 8 ? "  " : " ", sector[off + i]);
        kprintf("  |");
        for (int i = 0; i < 16; i++) {
            uint8_t c = sector[off + i];
            console_putc(c >= 32 && c < 127 ? (char)c : '.');
        }
        kprintf("|\n");
    }
    kprintf("text: ");
    for (int i = 0; i < 512 && sector[i]; i++) {
        uint8_t c = sector[i];
        console_putc(c >= 32 && c < 127 ? (char)c : '.');
    }
    kprintf("\n");
}

static void cmd_write(const char *args)
{
    uint64_t lba;
    const char *text;
    if (arg_number(args, &lba, &text) < 0) {
        kprintf("usage: write <lba> <text>\n");
        return;
    }
    size_t n = strlen(text);
    if (n > 511) n = 511;
    memset(sector, 0, sizeof(sector));
    memcpy(sector, text, n);
    if (ata_write((uint32_t)lba, sector) < 0) {
        kprintf("write: %s\n", ata_last_error());
        return;
    }
    memset(sector, 0xAA, sizeof(sector));
    if (ata_read((uint32_t)lba, sector) < 0) {
        kprintf("write: read back failed: %s\n", ata_last_error());
        return;
    }
    if (memcmp(sector, text, n) != 0 || sector[n] != 0) {
        kprintf("write: read back differs\n");
        return;
    }
    kprintf("wrote %lu bytes to sector %lu\n", (uint64_t)n, lba);
}

static void cmd_crash(const char *args)
{
    (void)args;
    kprintf("reading 0xdeadbeef (not mapped: only the first GiB is)...\n");
    (void)*(volatile uint32_t *)0xdeadbeefUL;
    kprintf("no page fault?!\n");
}

static void cmd_exit(const char *args)
{
    uint64_t code = 0;
    if (*skip_spaces(args) && arg_number(args, &code, 0) < 0) {
        kprintf("usage: exit <n>\n");
        return;
    }
    kprintf("exit %lu: writing %lu to port 0x%x\n", code, code, DEBUG_EXIT_PORT);
    outl(DEBUG_EXIT_PORT, (uint32_t)code);
    kprintf("exit: still running (no isa-debug-exit device at port 0x%x?)\n", DEBUG_EXIT_PORT);
}

static const struct {
    const char *name;
    void (*fn)(const char *args);
} commands[] = {
    { "help", cmd_help }, { "echo", cmd_echo }, { "ticks", cmd_ticks }, { "uptime", cmd_uptime },
    { "mem", cmd_mem },   { "cpuid", cmd_cpuid }, { "disk", cmd_disk }, { "read", cmd_read },
    { "write", cmd_write }, { "crash", cmd_crash }, { "exit", cmd_exit },
};

static void run_line(char *line)
{
    char *p = (char *)skip_spaces(line);
    if (!*p) return;
    char *end = p;
    while (*end && *end != ' ') end++;
    const char *args = "";
    if (*end) {
        *end = 0;
        args = end + 1;
        /* echo keeps its spacing after the first separator; others skip spaces */
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (!strcmp(p, commands[i].name)) {
            commands[i].fn(args);
            return;
        }
    }
    kprintf("unknown command: %s (try help)\n", p);
}

void kmain(void)
{
    console_init();
    console_set_color(VGA_LCYAN, VGA_BLACK);
    kprintf("minikernel booting\n");
    console_set_color(VGA_LGRAY, VGA_BLACK);
    mb_print_summary();
    kprintf("serial: %s\n", serial_present() ? "COM1 16550 at 0x3f8, 115200 8N1" : "no UART at 0x3f8");
    idt_init();
    pic_init();
    pit_init();
    kbd_init();
    sti();
    kprintf("timer: PIT channel 0 at %d Hz on IRQ0, keyboard on IRQ1\n", PIT_HZ);
    ata_init();
    print_disk();
    kprintf("type 'help' for commands\n");

    static char line[LINE_MAX];
    for (;;) {
        console_set_color(VGA_LGREEN, VGA_BLACK);
        kprintf("mini> ");
        console_set_color(VGA_LGRAY, VGA_BLACK);
        readline(line, sizeof(line));
        run_line(line);
    }
}
