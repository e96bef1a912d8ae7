/*
 * minikernel console: every character goes to
 *   - the VGA text buffer at 0xB8000 (80x25, scrolling, hardware cursor via
 *     CRTC index/data ports 0x3D4/0x3D5, registers 0x0E/0x0F),
 *   - port 0xE9 (Bochs/QEMU debug console), and
 *   - COM1 (16550 at 0x3F8, 115200 8N1, polled) if a UART answers the
 *     scratch-register test.
 */
#include "kernel.h"

#define VGA_COLS 80
#define VGA_ROWS 25
#define VGA_BUF ((volatile uint16_t *)0xB8000)
#define CRTC_INDEX 0x3D4
#define CRTC_DATA 0x3D5
#define DEBUGCON 0xE9

#define COM1 0x3F8
#define UART_THR 0 /* transmit holding (DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_SCR 7
#define LSR_THRE 0x20

static int row, col;
static uint8_t attr = 0x07;
static int have_serial;

static void vga_cursor(void)
{
    uint16_t pos = (uint16_t)(row * VGA_COLS + col);
    outb(CRTC_INDEX, 0x0E);
    outb(CRTC_DATA, pos >> 8);
    outb(CRTC_INDEX, 0x0F);
    outb(CRTC_DATA, pos & 0xFF);
}

static void vga_clear(void)
{
    for (int i = 0; i < VGA_COLS * VGA_ROWS; i++) VGA_BUF[i] = (uint16_t)(attr << 8 | ' ');
    row = col = 0;
}

static void vga_scroll(void)
{
    for (int i = 0; i < VGA_COLS * (VGA_ROWS - 1); i++) VGA_BUF[i] = VGA_BUF[i + VGA_COLS];
    for (int i = 0; i < VGA_COLS; i++) VGA_BUF[(VGA_ROWS - 1) * VGA_COLS + i] = (uint16_t)(attr << 8 | ' ');
    row = VGA_ROWS - 1;
}

static void vga_putc(uint8_t c)
{
    switch (c) {
    case '\n':
        col = 0;
        row++;
        break;
    case '\r':
        col = 0;
        break;
    case '\b':
        if (col > 0) col--;
        else if (row > 0) row--, col = VGA_COLS - 1;
        break;
    case '\t':
        col = (col + 8) & ~7;
        break;
    default:
        VGA_BUF[row * VGA_COLS + col] = (uint16_t)(attr << 8 | c);
        col++;
    }
    if (col >= VGA_COLS) {
        col = 0;
        row++;
    }
    if (row >= VGA_ROWS) vga_scroll();
}

static void serial_init(void)
{
    /* a 16550 keeps what is written to its scratch register; an empty bus reads 0xFF */
    outb(COM1 + UART_SCR, 0x5A);
    if (inb(COM1 + UART_SCR) != 0x5A) return;
    outb(COM1 + UART_SCR, 0xA5);
    if (inb(COM1 + UART_SCR) != 0xA5) return;
    outb(COM1 + UART_IER, 0x00);  /* no UART interrupts: we poll */
    outb(COM1 + UART_LCR, 0x80);  /* DLAB on */
    outb(COM1 + UART_DLL, 0x01);  /* divisor 1 = 115200 baud */
    outb(COM1 + UART_DLM, 0x00);
    outb(COM1 + UART_LCR, 0x03);  /* 8N1, DLAB off */
    outb(COM1 + UART_FCR, 0xC7);  /* FIFO on, clear, 14-byte threshold */
    outb(COM1 + UART_MCR, 0x03);  /* DTR | RTS */
    have_serial = 1;
}

static void serial_putc(char c)
{
    if (!have_serial) return;
    for (int i = 0; i < 100000; i++)
        if (inb(COM1 + UART_LSR) & LSR_THRE) break;
    outb(COM1 + UART_THR, (uint8_t)c);
}

int serial_present(void) { return have_serial; }

void console_init(void)
{
    serial_init();
    vga_clear();
    vga_cursor();
}

void console_set_color(uint8_t fg, uint8_t bg) { attr = (uint8_t)(bg << 4 | (fg & 0x0F)); }

static void emit(uint8_t vga, char ascii)
{
    vga_putc(vga);
    outb(DEBUGCON, (uint8_t)ascii);
    if (ascii == '\n') serial_putc('\r');
    serial_putc(ascii);
}

void console_putc(char c)
{
    emit((uint8_t)c, c);
    vga_cursor();
}

void console_putc_dual(uint8_t vga_glyph, char ascii)
{
    emit(vga_glyph, ascii);
    vga_cursor();
}

void console_write(const char *s)
{
    while (*s) emit((uint8_t)*s, *s), s++;
    vga_cursor();
}
