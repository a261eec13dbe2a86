#!/usr/bin/env python3
"""Forges damaged mote snapshot state files for tests/integration/snapshot.sh.
usage: snapfile.py KIND IN OUT   KIND: truncate magic version crc cpuid vcpu sections
The layout is docs/snapshot.md's: a 48-byte header, sections (u32 type, u32 instance,
u64 length, payload), a CRC-32 (zlib's) of everything before it."""
import struct
import sys
import zlib


def fix_crc(b):
    return b[:-4] + struct.pack('<I', zlib.crc32(bytes(b[:-4])) & 0xffffffff)


def sections(b):
    off, n = 48, struct.unpack_from('<I', b, 24)[0]
    for _ in range(n):
        t, inst, ln = struct.unpack_from('<IIQ', b, off)
        yield t, inst, off + 16, ln
        off += 16 + ln


def main():
    kind, src, dst = sys.argv[1:4]
    b = bytearray(open(src, 'rb').read())
    if kind == 'truncate':
        b = b[:len(b) // 2]
    elif kind == 'magic':
        b[0:8] = b'NOTASNAP'
    elif kind == 'version':
        struct.pack_into('<I', b, 8, 99)
        b = fix_crc(b)
    elif kind == 'crc':
        b[len(b) // 2] ^= 0x5a
    elif kind == 'cpuid':  # vCPU 0 saw every bit of CPUID 7.0.EBX: no host has them all
        for t, inst, off, ln in sections(b):
            if t == 2 and inst == 0:
                n = struct.unpack_from('<I', b, off)[0]
                for i in range(n):
                    e = off + 4 + 28 * i
                    f, idx = struct.unpack_from('<II', b, e)
                    if f == 7 and idx == 0:
                        struct.pack_into('<I', b, e + 16, 0xffffffff)
        b = fix_crc(b)
    elif kind == 'vcpu':  # vCPU 0's regs blob claims 7 bytes: not this kernel's struct kvm_regs
        for t, inst, off, ln in sections(b):
            if t == 3 and inst == 0:
                struct.pack_into('<I', b, off + 8, 7)
        b = fix_crc(b)
    elif kind == 'sections':  # a section length running past the end, checksum fixed
        t, inst, off, ln = next(sections(b))
        struct.pack_into('<Q', b, off - 8, len(b) * 2)
        b = fix_crc(b)
    else:
        sys.exit('unknown kind ' + kind)
    open(dst, 'wb').write(b)


main()
