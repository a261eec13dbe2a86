#!/usr/bin/env python3
"""Runs a command with io_uring_setup refused (ENOSYS), as on a kernel without io_uring or
with kernel.io_uring_disabled: a seccomp filter installed here, inherited across exec.
Usage: no_uring.py COMMAND [ARG...]   (x86-64 only: io_uring_setup is syscall 425)."""
import ctypes, os, platform, struct, sys

if platform.machine() != "x86_64":
    sys.exit("no_uring.py: x86-64 only")
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
RET_ERRNO, RET_ALLOW, ENOSYS, NR_IO_URING_SETUP = 0x00050000, 0x7FFF0000, 38, 425
prog = [
    (BPF_LD_W_ABS, 0, 0, 0),                  # A = seccomp_data.nr
    (BPF_JEQ_K, 0, 1, NR_IO_URING_SETUP),     # io_uring_setup?
    (BPF_RET_K, 0, 0, RET_ERRNO | ENOSYS),    #   refuse with ENOSYS
    (BPF_RET_K, 0, 0, RET_ALLOW),             # everything else
]
raw = b"".join(struct.pack("HBBI", *ins) for ins in prog)
buf = ctypes.create_string_buffer(raw)
fprog = struct.pack("HxxxxxxQ", len(prog), ctypes.addressof(buf))
fbuf = ctypes.create_string_buffer(fprog)
if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
    sys.exit("no_uring.py: PR_SET_NO_NEW_PRIVS failed")
if libc.prctl(22, 2, ctypes.addressof(fbuf), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
    sys.exit("no_uring.py: seccomp filter refused (errno %d)" % ctypes.get_errno())
os.execvp(sys.argv[1], sys.argv[1:])
