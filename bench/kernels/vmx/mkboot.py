#!/usr/bin/env python3
"""mkboot.py BOOT.bin KERNEL.flat ENTRY_HEX OUT.bin: boot sector (sector count and entry point
patched in, as test/kernels/vmx/bochs/mkimg.py does) + the kernel padded to whole sectors.
bench/bochs.ts pads this to a disk image of the geometry in its bochsrc (16 heads, 63 sectors)."""
import struct, sys

boot, flat, entry, out = sys.argv[1], sys.argv[2], int(sys.argv[3], 16), sys.argv[4]
sector = bytearray(open(boot, 'rb').read())
assert len(sector) == 512, f'boot sector is {len(sector)} bytes'
kernel = open(flat, 'rb').read()
n = (len(kernel) + 511) // 512
assert n <= 1152, 'kernel larger than 576 KiB'
struct.pack_into('<HHI', sector, 0x1f0, n, n, entry)
open(out, 'wb').write(bytes(sector) + kernel + b'\0' * (n * 512 - len(kernel)))
