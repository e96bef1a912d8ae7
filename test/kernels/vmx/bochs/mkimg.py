#!/usr/bin/env python3
"""mkimg.py BOOT.bin KERNEL.flat ENTRY_HEX OUT.img: a Bochs hard-disk image (see boot.S)."""
import struct, sys

boot, flat, entry, out = sys.argv[1], sys.argv[2], int(sys.argv[3], 16), sys.argv[4]
sector = bytearray(open(boot, 'rb').read())
assert len(sector) == 512, f'boot sector is {len(sector)} bytes'
kernel = open(flat, 'rb').read()
n = (len(kernel) + 511) // 512
assert n <= 1152, 'kernel larger than 576 KiB'
struct.pack_into('<HHI', sector, 0x1f0, n, n, entry)
CYL = 16 * 63 * 512  # geometry in bochsrc: heads=16, spt=63
data = bytes(sector) + kernel + b'\0' * (n * 512 - len(kernel))
size = max(4 * CYL, (len(data) + CYL - 1) // CYL * CYL)
open(out, 'wb').write(data + b'\0' * (size - len(data)))
