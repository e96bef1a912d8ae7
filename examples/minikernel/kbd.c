/*
 * minikernel PS/2 keyboard: IRQ1, scancode set 1 (the controller's
 * translation is left on, as a BIOS leaves it), US layout, Shift and Caps Lock.
 * The controller is not reinitialised: at most IRQ1 is enabled in the
 * command byte if it was found disabled.
 */
#include "kernel.h"

#define KBD_DATA 0x60
#define KBD_STATUS 0x64      /* read */
#define KBD_CMD 0x64         /* write */
#define ST_OUTPUT_FULL 0x01
#define ST_INPUT_FULL 0x02
#define ST_AUX_DATA 0x20

static const char keymap[0x59] = {
    [0x01] = 27,  [0x02] = '1', [0x03] = '2', [0x04] = '3', [0x05] = '4', [0x06] = '5',
    [0x07] = '6', [0x08] = '7', [0x09] = '8', [0x0A] = '9', [0x0B] = '0', [0x0C] = '-',
    [0x0D] = '=', [0x0E] = '\b', [0x0F] = '\t', [0x10] = 'q', [0x11] = 'w', [0x12] = 'e',
    [0x13] = 'r', [0x14] = 't', [0x15] = 'y', [0x16] = 'u', [0x17] = 'i', [0x18] = 'o',
    [0x19] = 'p', [0x1A] = '[', [0x1B] = ']', [0x1C] = '\n', [0x1E] = 'a', [0x1F] = 's',
    [0x20] = 'd', [0x21] = 'f', [0x22] = 'g', [0x23] = 'h', [0x24] = 'j', [0x25] = 'k',
    [0x26] = 'l', [0x27] = ';', [0x28] = '\'', [0x29] = '`', [0x2B] = '\\', [0x2C] = 'z',
    [0x2D] = 'x', [0x2E] = 'c', [0x2F] = 'v', [0x30] = 'b', [0x31] = 'n', [0x32] = 'm',
    [0x33] = ',', [0x34] = '.', [0x35] = '/', [0x37] = '*', [0x39] = ' ',
    /* keypad (Num Lock assumed on) */
    [0x47] = '7', [0x48] = '8', [0x49] = '9', [0x4A] = '-', [0x4B] = '4', [0x4C] = '5',
    [0x4D] = '6', [0x4E] = '+', [0x4F] = '1', [0x50] = '2', [0x51] = '3', [0x52] = '0',
    [0x53] = '.',
};

static const char keymap_shift[0x59] = {
    [0x01] = 27,  [0x02] = '!', [0x03] = '@', [0x04] = '#', [0x05] = '$', [0x06] = '%',
    [0x07] = '^', [0x08] = '&', [0x09] = '*', [0x0A] = '(', [0x0B] = ')', [0x0C] = '_',
    [0x0D] = '+', [0x0E] = '\b', [0x0F] = '\t', [0x10] = 'Q', [0x11] = 'W', [0x12] = 'E',
    [0x13] = 'R', [0x14] = 'T', [0x15] = 'Y', [0x16] = 'U', [0x17] = 'I', [0x18] = 'O',
    [0x19] = 'P', [0x1A] = '{', [0x1B] = '}', [0x1C] = '\n', [0x1E] = 'A', [0x1F] = 'S',
    [0x20] = 'D', [0x21] = 'F', [0x22] = 'G', [0x23] = 'H', [0x24] = 'J', [0x25] = 'K',
    [0x26] = 'L', [0x27] = ':', [0x28] = '"', [0x29] = '~', [0x2B] = '|', [0x2C] = 'Z',
    [0x2D] = 'X', [0x2E] = 'C', [0x2F] = 'V', [0x30] = 'B', [0x31] = 'N', [0x32] = 'M',
    [0x33] = '<', [0x34] = '>', [0x35] = '?', [0x37] = '*', [0x39] = ' ',
    [0x47] = '7', [0x48] = '8', [0x49] = '9', [0x4A] = '-', [0x4B] = '4', [0x4C] = '5',
    [0x4D] = '6', [0x4E] = '+', [0x4F] = '1', [0x50] = '2', [0x51] = '3', [0x52] = '0',
    [0x53] = '.',
};

#define SC_LSHIFT 0x2A
#define SC_RSHIFT 0x36
#define SC_CTRL 0x1D
#define SC_CAPS 0x3A

static volatile uint8_t buf[64];
static volatile unsigned head, tail;      /* head: written by IRQ1, tail: by kbd_getc */
static int shift, ctrl, caps, extended;

static void put(char c)
{
    unsigned next = (head + 1) % sizeof(buf);
    if (next == tail) return;             /* full: drop */
    buf[head] = (uint8_t)c;
    head = next;
}

static void scancode(uint8_t sc)
{
    if (sc == 0xE0) {
        extended = 1;
        return;
    }
    int release = sc & 0x80;
    uint8_t code = sc & 0x7F;
    if (extended) {
        extended = 0;
        /* E0-prefixed: right Ctrl, keypad Enter and '/'; arrows, fake shifts etc. are ignored */
        if (code == SC_CTRL) ctrl = !release;
        else if (!release && code == 0x1C) put('\n');
        else if (!release && code == 0x35) put('/');
        return;
    }
    switch (code) {
    case SC_LSHIFT:
    case SC_RSHIFT:
        shift = !release;
        return;
    case SC_CTRL:
        ctrl = !release;
        return;
    case SC_CAPS:
        if (!release) caps = !caps;
        return;
    }
    if (release || code >= sizeof(keymap)) return;
    char c = shift ? keymap_shift[code] : keymap[code];
    if (caps && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) c ^= 0x20;
    if (ctrl && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) c &= 0x1F;  /* ^C = 3 */
    if (c) put(c);
}

static void kbd_irq(void)
{
    uint8_t st = inb(KBD_STATUS);
    if (!(st & ST_OUTPUT_FULL)) return;
    uint8_t sc = inb(KBD_DATA);
    if (st & ST_AUX_DATA) return;         /* mouse byte */
    scancode(sc);
}

static int wait_output_full(void)
{
    for (int i = 0; i < 100000; i++)
        if (inb(KBD_STATUS) & ST_OUTPUT_FULL) return 1;
    return 0;
}

static int wait_input_empty(void)
{
    for (int i = 0; i < 100000; i++)
        if (!(inb(KBD_STATUS) & ST_INPUT_FULL)) return 1;
    return 0;
}

void kbd_init(void)
{
    /* drain stale bytes */
    for (int i = 0; i < 16 && (inb(KBD_STATUS) & ST_OUTPUT_FULL); i++) (void)inb(KBD_DATA);
    /* make sure IRQ1 is enabled in the controller command byte (bit 0) */
    if (wait_input_empty()) {
        outb(KBD_CMD, 0x20);              /* read command byte */
        if (wait_output_full()) {
            uint8_t cb = inb(KBD_DATA);
            if (!(cb & 0x01) && wait_input_empty()) {
                outb(KBD_CMD, 0x60);      /* write command byte */
                if (wait_input_empty()) outb(KBD_DATA, cb | 0x01);
            }
        }
    }
    irq_set_handler(1, kbd_irq);
    pic_unmask(1);
}

int kbd_getc(void)
{
    for (;;) {
        cli();
        if (tail != head) {
            int c = buf[tail];
            tail = (tail + 1) % sizeof(buf);
            sti();
            return c;
        }
        sti_hlt();                        /* interrupts on and halt, atomically */
    }
}
