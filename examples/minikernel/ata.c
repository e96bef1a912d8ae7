/*
 * minikernel ATA PIO driver: primary channel (0x1F0-0x1F7, control 0x3F6),
 * master drive only, LBA28, one sector per command, polling (nIEN set, so
 * IRQ14 is never raised), one inw/outw per data word.
 *
 * Status bits used: BSY 0x80, DRDY 0x40, DF 0x20, DRQ 0x08, ERR 0x01.
 * "Data ready" = BSY clear and DRQ set (0x58 on a typical drive).
 */
#include "kernel.h"

#define ATA_DATA 0x1F0
#define ATA_ERROR 0x1F1
#define ATA_COUNT 0x1F2
#define ATA_LBA0 0x1F3
#define ATA_LBA1 0x1F4
#define ATA_LBA2 0x1F5
#define ATA_DRIVE 0x1F6
#define ATA_STATUS 0x1F7       /* read */
#define ATA_COMMAND 0x1F7      /* write */
#define ATA_ALTSTATUS 0x3F6    /* read */
#define ATA_DEVCTRL 0x3F6      /* write */

#define ST_BSY 0x80
#define ST_DRDY 0x40
#define ST_DF 0x20
#define ST_DRQ 0x08
#define ST_ERR 0x01

#define CMD_READ_SECTORS 0x20
#define CMD_WRITE_SECTORS 0x30
#define CMD_CACHE_FLUSH 0xE7
#define CMD_IDENTIFY 0xEC

#define POLL_LIMIT 1000000

struct ata_info ata0;
static char errbuf[64];
static const char *lasterr = "";

const char *ata_last_error(void) { return lasterr; }

static void set_err(const char *what, uint8_t st)
{
    /* errbuf = what + " (status 0xSS, error 0xEE)" */
    static const char hex[] = "0123456789abcdef";
    uint8_t er = inb(ATA_ERROR);
    size_t n = 0;
    for (; *what && n < sizeof(errbuf) - 32; what++) errbuf[n++] = *what;
    const char *a = " (status 0x";
    while (*a) errbuf[n++] = *a++;
    errbuf[n++] = hex[st >> 4];
    errbuf[n++] = hex[st & 15];
    a = ", error 0x";
    while (*a) errbuf[n++] = *a++;
    errbuf[n++] = hex[er >> 4];
    errbuf[n++] = hex[er & 15];
    errbuf[n++] = ')';
    errbuf[n] = 0;
    lasterr = errbuf;
}

static void delay400ns(void)
{
    for (int i = 0; i < 4; i++) (void)inb(ATA_ALTSTATUS);
}

/* wait for BSY clear; returns the status, or -1 on timeout */
static int wait_not_busy(void)
{
    for (int i = 0; i < POLL_LIMIT; i++) {
        uint8_t st = inb(ATA_STATUS);
        if (!(st & ST_BSY)) return st;
    }
    return -1;
}

/* wait for BSY clear and then DRQ (data) or ERR/DF; 0 if DRQ */
static int wait_drq(const char *what)
{
    for (int i = 0; i < POLL_LIMIT; i++) {
        uint8_t st = inb(ATA_STATUS);
        if (st & ST_BSY) continue;
        if (st & (ST_ERR | ST_DF)) {
            set_err(what, st);
            return -1;
        }
        if (st & ST_DRQ) return 0;
    }
    lasterr = "timeout waiting for DRQ";
    return -1;
}

static void ata_string(char *dst, const uint16_t *id, int first, int words)
{
    int n = 0;
    for (int i = 0; i < words; i++) {
        dst[n++] = (char)(id[first + i] >> 8);   /* ATA strings are byte-swapped */
        dst[n++] = (char)(id[first + i] & 0xFF);
    }
    dst[n] = 0;
    while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == 0)) dst[--n] = 0;
}

int ata_init(void)
{
    uint16_t id[256];
    memset(&ata0, 0, sizeof(ata0));
    uint8_t st = inb(ATA_STATUS);
    if (st == 0xFF) {                         /* floating bus: no controller */
        lasterr = "no ATA controller (status 0xff)";
        return -1;
    }
    outb(ATA_DEVCTRL, 0x02);                  /* nIEN: no IRQ14, we poll */
    outb(ATA_DRIVE, 0xA0);                    /* select master */
    delay400ns();
    if (wait_not_busy() < 0) {
        lasterr = "controller stays busy";
        return -1;
    }
    outb(ATA_COUNT, 0);
    outb(ATA_LBA0, 0);
    outb(ATA_LBA1, 0);
    outb(ATA_LBA2, 0);
    outb(ATA_COMMAND, CMD_IDENTIFY);
    delay400ns();
    if (inb(ATA_STATUS) == 0) {
        lasterr = "no drive (status 0x00 after IDENTIFY)";
        return -1;
    }
    if (wait_not_busy() < 0) {
        lasterr = "drive stays busy after IDENTIFY";
        return -1;
    }
    if (inb(ATA_LBA1) || inb(ATA_LBA2)) {
        lasterr = "not an ATA disk (ATAPI or SATA signature)";
        return -1;
    }
    if (wait_drq("IDENTIFY failed") < 0) return -1;
    for (int i = 0; i < 256; i++) id[i] = inw(ATA_DATA);
    ata_string(ata0.serial, id, 10, 10);
    ata_string(ata0.model, id, 27, 20);
    ata0.sectors = (uint32_t)id[60] | (uint32_t)id[61] << 16;
    if (!(id[49] & (1 << 9))) {               /* no LBA: use CHS geometry as the size */
        ata0.sectors = (uint32_t)id[1] * id[3] * id[6];
    }
    ata0.present = 1;
    return 0;
}

static int select_lba(uint32_t lba, uint8_t cmd)
{
    if (!ata0.present) {
        lasterr = "no disk";
        return -1;
    }
    if (lba >= ata0.sectors || lba >= (1u << 28)) {
        lasterr = "LBA beyond the end of the disk";
        return -1;
    }
    int st = wait_not_busy();
    if (st < 0) {
        lasterr = "drive busy";
        return -1;
    }
    outb(ATA_DRIVE, (uint8_t)(0xE0 | ((lba >> 24) & 0x0F)));   /* LBA mode, master */
    delay400ns();
    outb(ATA_COUNT, 1);
    outb(ATA_LBA0, (uint8_t)lba);
    outb(ATA_LBA1, (uint8_t)(lba >> 8));
    outb(ATA_LBA2, (uint8_t)(lba >> 16));
    outb(ATA_COMMAND, cmd);
    delay400ns();
    return 0;
}

int ata_read(uint32_t lba, void *buf)
{
    uint16_t *w = buf;
    if (select_lba(lba, CMD_READ_SECTORS) < 0) return -1;
    if (wait_drq("read failed") < 0) return -1;
    for (int i = 0; i < 256; i++) w[i] = inw(ATA_DATA);
    delay400ns();
    return 0;
}

int ata_write(uint32_t lba, const void *buf)
{
    const uint16_t *w = buf;
    if (select_lba(lba, CMD_WRITE_SECTORS) < 0) return -1;
    if (wait_drq("write failed") < 0) return -1;
    for (int i = 0; i < 256; i++) outw(ATA_DATA, w[i]);
    delay400ns();
    int st = wait_not_busy();
    if (st < 0) {
        lasterr = "drive busy after write";
        return -1;
    }
    if (st & (ST_ERR | ST_DF)) {
        set_err("write failed", (uint8_t)st);
        return -1;
    }
    outb(ATA_COMMAND, CMD_CACHE_FLUSH);
    delay400ns();
    st = wait_not_busy();
    if (st < 0 || (st & (ST_ERR | ST_DF))) {
        set_err("cache flush failed", st < 0 ? 0xFF : (uint8_t)st);
        return -1;
    }
    return 0;
}
