#!/usr/bin/env python3
"""Writes synthetic fuzz seeds into DIR/<target>/ (no binary corpus lives in git).
fuzz_bzimage: minimal valid bzImages (relocatable and not), so the fuzzer starts past the
header checks instead of spending its time finding 0xAA55 and "HdrS".
fuzz_blk: rings holding valid virtio-blk requests (read, contiguous writes, flush, get-id),
so the fuzzer starts with requests in flight instead of searching for a valid chain."""
import os, struct, sys

def bzimage(relocatable):
    setup_sects = 4
    payload = b"\xeb\x6a" + bytes(0x200 - 2) + bytes(range(256)) * 8  # 64-bit entry at +0x200
    img = bytearray((setup_sects + 1) * 512) + payload
    struct.pack_into("<B", img, 0x1f1, setup_sects)
    struct.pack_into("<I", img, 0x1f4, len(payload) // 16)          # syssize
    struct.pack_into("<H", img, 0x1fe, 0xAA55)
    struct.pack_into("<H", img, 0x200, 0x6aeb)                      # jump over the header
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, 0x020f)                      # protocol 2.15
    struct.pack_into("<B", img, 0x211, 0x01)                        # LOADED_HIGH
    struct.pack_into("<I", img, 0x214, 0x100000)                    # code32_start
    struct.pack_into("<I", img, 0x22c, 0x7fffffff)                  # initrd_addr_max
    struct.pack_into("<I", img, 0x230, 0x200000)                    # kernel_alignment
    struct.pack_into("<B", img, 0x234, relocatable)
    struct.pack_into("<B", img, 0x235, 21)                          # min_alignment
    struct.pack_into("<H", img, 0x236, 0x7f)                        # xloadflags
    struct.pack_into("<I", img, 0x238, 2047)                        # cmdline_size
    struct.pack_into("<Q", img, 0x258, 0x1000000)                   # pref_address
    struct.pack_into("<I", img, 0x260, 0x1000000)                   # init_size
    return bytes(img)

out = sys.argv[1]
d = os.path.join(out, "fuzz_bzimage")
os.makedirs(d, exist_ok=True)
for rel in (0, 1):
    with open(os.path.join(d, "seed-reloc%d" % rel), "wb") as f:
        f.write(bzimage(rel))


def blk_seed(flags, order, errs, rounds):
    """tests/fuzz/fuzz_blk.c's layout: 4 header bytes, then guest RAM from 0 (desc 0x0,
    avail 0x400, used 0x800, 64 entries); headers at 0x1000, status at 0x1800, data at 0x2000."""
    ram = bytearray(0x6000)
    reqs = [(0, 0, 512), (1, 8, 1024), (1, 10, 1024), (4, 0, 0), (8, 0, 20), (0, 200, 512)]
    desc = 0
    heads = []
    for k, (typ, sector, length) in enumerate(reqs):
        hdr, st, dat = 0x1000 + 16 * k, 0x1800 + k, 0x2000 + 0x800 * k
        struct.pack_into("<IIQ", ram, hdr, typ, 0, sector)
        chain = [(hdr, 16, 0)]
        if length:
            chain.append((dat, length, 2 if typ in (0, 8) else 0))
        chain.append((st, 1, 2))
        heads.append(desc)
        for j, (addr, ln, fl) in enumerate(chain):
            nxt = desc + 1 if j + 1 < len(chain) else 0
            struct.pack_into("<QIHH", ram, 16 * desc, addr, ln, fl | (1 if j + 1 < len(chain) else 0), nxt)
            desc += 1
    struct.pack_into("<HH", ram, 0x400, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into("<H", ram, 0x404 + 2 * i, h)
    return bytes([flags, order, errs, rounds]) + bytes(ram)

d = os.path.join(out, "fuzz_blk")
os.makedirs(d, exist_ok=True)
for i, (fl, od, er, ro) in enumerate([(0x05, 3, 0, 3), (0x15, 7, 0, 2), (0x25, 1, 0, 1),
                                      (0x04, 9, 0x0b, 4), (0x55, 5, 0, 2), (0x01, 2, 0x04, 3),
                                      # rate-limited (bit 7): tiny buckets, the timer each round
                                      (0x85, 3, 0, 7), (0xa5, 1, 0x40, 7)]):
    with open(os.path.join(d, "seed-%d" % i), "wb") as f:
        f.write(blk_seed(fl, od, er, ro))

# fuzz_api: one valid body per endpoint (first byte: the endpoint index in fuzz_api.c).
api_seeds = [
    b'\x00{"kernel_image_path":"/k","initrd_path":"/i","boot_args":"console=ttyS0"}',
    b'\x01{"vcpu_count":2,"mem_size_mib":256,"smt":false,"cpu_template":"None"}',
    b'\x02{"mem_size_mib":64}',
    b'\x03{"drive_id":"root","path_on_host":"/d.img","is_root_device":true,"is_read_only":false,"partuuid":"ab-12"}',
    b'\x04{"iface_id":"eth0","host_dev_name":"tap0","guest_mac":"06:00:ac:10:00:02"}',
    b'\x05{}',
    b'\x06{"log_path":"/l","level":"Debug","show_level":true,"show_log_origin":false}',
    b'\x07{"metrics_path":"/m","emit_id":true,"properties":{"a":"b"}}',
    b'\x08{"action_type":"InstanceStart"}',
    b'\x09{"state":"Paused"}',
    b'\x0a{"drive_id":"root","path_on_host":"/d.img","is_root_device":false}',
    b'\x0b{"boot-source":{"kernel_image_path":"/k"},"machine-config":{"vcpu_count":1,"mem_size_mib":128},'
    b'"drives":[{"drive_id":"a","path_on_host":"/a","is_root_device":true}],'
    b'"network-interfaces":[{"iface_id":"n","host_dev_name":"tap1"}],"entropy":{}}',
    # rate limiters: PUT /drives, PATCH /drives, PUT+PATCH /network-interfaces, the config file
    b'\x03{"drive_id":"root","path_on_host":"/d.img","is_root_device":true,"rate_limiter":'
    b'{"bandwidth":{"size":1048576,"one_time_burst":4096,"refill_time":100},"ops":{"size":50,"refill_time":1000}}}',
    b'\x0a{"drive_id":"root","path_on_host":"/d.img","is_root_device":false,'
    b'"rate_limiter":{"ops":{"size":0,"refill_time":0}}}',
    b'\x04{"iface_id":"eth0","host_dev_name":"tap0","rx_rate_limiter":{"bandwidth":{"size":1000,"refill_time":10}},'
    b'"tx_rate_limiter":{"ops":{"size":5,"refill_time":1,"one_time_burst":9}}}',
    b'\x0b{"boot-source":{"kernel_image_path":"/k"},"drives":[{"drive_id":"a","path_on_host":"/a",'
    b'"is_root_device":true,"rate_limiter":{"bandwidth":{"size":10,"refill_time":1}}}],'
    b'"network-interfaces":[{"iface_id":"n","host_dev_name":"tap1","tx_rate_limiter":{"ops":{"size":1,"refill_time":1}}}]}',
]
d = os.path.join(out, "fuzz_api")
os.makedirs(d, exist_ok=True)
for i, s in enumerate(api_seeds):
    with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
        f.write(s)


def elf_seed(interp, needed, note_json):
    """An x86-64 ELF64 with PT_LOAD (the whole file at vaddr 0), PT_INTERP, PT_DYNAMIC
    (DT_NEEDED, DT_STRTAB, DT_STRSZ) and a .note.dlopen PT_NOTE: fuzz_jail's ELF input."""
    img = bytearray(0x1000)
    phs = []
    if interp:
        img[0x200:0x200 + len(interp) + 1] = interp + b"\0"
        phs.append((3, 0x200, len(interp) + 1, 1))              # PT_INTERP
    strtab = b"\0"
    dyn = b""
    for n in needed:
        dyn += struct.pack("<qQ", 1, len(strtab))                # DT_NEEDED
        strtab += n + b"\0"
    img[0x400:0x400 + len(strtab)] = strtab
    dyn += struct.pack("<qQqQqQ", 5, 0x400, 10, len(strtab), 0, 0)  # DT_STRTAB, DT_STRSZ, DT_NULL
    img[0x800:0x800 + len(dyn)] = dyn
    phs.append((2, 0x800, len(dyn), 8))                          # PT_DYNAMIC
    if note_json:
        desc = note_json + b"\0"
        note = struct.pack("<III", 4, len(desc), 0x407c0c0a) + b"FDO\0" + desc
        note += bytes(-len(note) % 4)
        img[0xc00:0xc00 + len(note)] = note
        phs.append((4, 0xc00, len(note), 4))                     # PT_NOTE
    phs.insert(0, (1, 0, len(img), 0x1000))                      # PT_LOAD
    struct.pack_into("<4sBBBB8xHHIQQQIHHHHHH", img, 0, b"\x7fELF", 2, 1, 1, 0, 3, 62, 1, 0,
                     64, 0, 0, 64, 56, len(phs), 64, 0, 0)
    for i, (typ, off, sz, al) in enumerate(phs):
        struct.pack_into("<IIQQQQQQ", img, 64 + 56 * i, typ, 4, off, off, off, sz, sz, al)
    return bytes(img)


d = os.path.join(out, "fuzz_jail")
os.makedirs(d, exist_ok=True)
seeds = {
    "elf-exec": b"\0" + elf_seed(b"/lib64/ld-linux-x86-64.so.2", [b"libc.so.6", b"libseccomp.so.2"],
                                 b'[{"feature":"api","priority":"recommended","soname":["libmicrohttpd.so.12"]}]'),
    "elf-lib": b"\0" + elf_seed(None, [b"libc.so.6"], None),
    "mounts": b"\x01" + b"cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"
              b"cgroup /sys/fs/cgroup/cpu\\040x cgroup rw,cpu,cpuacct 0 0\n"
              b"cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n",
    "path": b"\x03/run/./api.sock//x",
}
for name, data in seeds.items():
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def ring_seed(start, entries):
    """tests/fuzz/fuzz_hvt_ring.c's layout: the tender's start index (4 bytes), then the ring's
    entries (32 bytes each: operation, handle, data, len, id, reserved)."""
    b = bytearray(struct.pack("<I", start))
    for i, (op, handle, data, length) in enumerate(entries):
        b += struct.pack("<IIQIIQ", op, handle, data, length, i, 0)
    return bytes(b)

d = os.path.join(out, "fuzz_hvt_ring")
os.makedirs(d, exist_ok=True)
good = [(1, 2, 0x200000, 60), (2, 2, 0x201000, 1514), (1, 2, 0x202000, 1514), (2, 2, 0x203000, 64)] * 8
for name, start in (("seed-0", 0), ("seed-wrap", 0xfffffff0)):
    with open(os.path.join(d, name), "wb") as f:
        f.write(ring_seed(start, good))


def gdb_frame(payload):
    return b"$" + payload + b"#" + b"%02x" % (sum(payload) & 0xff)

# fuzz_gdb: a gdb session's packets (chunks split at 0xff; 0xfe starts a stop report, 0xfd a
# payload the stub frames itself), so the fuzzer starts inside the commands.
d = os.path.join(out, "fuzz_gdb")
os.makedirs(d, exist_ok=True)
session = [b"qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386", b"QStartNoAckMode",
           b"qXfer:features:read:target.xml:0,ffb", b"?", b"qfThreadInfo", b"qsThreadInfo",
           b"Hg2", b"g", b"p10", b"m10000,40", b"M10000,2:cc90", b"X10010,3:abc", b"Z0,10020,1",
           b"Z0,1f010,1", b"Z1,10030,1", b"Z2,10040,8", b"Z4,10047,5", b"m10020,4", b"vCont?",
           b"vCont;s:1;c", b"z0,10020,1", b"c", b"P10=0000010000000000", b"qThreadExtraInfo,2",
           b"Hc-1", b"s", b"D"]
seed = bytearray(b"+")
for i, p in enumerate(session):
    seed += gdb_frame(p) + b"\xff"
    if p in (b"vCont;s:1;c", b"c", b"s"):
        seed += b"\xfe\x00\x01\x00\x01\x20\xff"
with open(os.path.join(d, "seed-session"), "wb") as f:
    f.write(bytes(seed))
with open(os.path.join(d, "seed-framed"), "wb") as f:
    f.write(b"\xfdX10000,4:$#}*\xff\xfdG" + b"00" * 616 + b"\xff\x03")


def snapshot_seed(rng):
    """A state file as docs/snapshot.md lays it out: 1 vCPU, 64 MiB, legacy devices, and with
    rng one virtio-rng slot with a ready queue. The KVM sections hold placeholders."""
    def sec(t, inst, payload):
        return struct.pack("<IIQ", t, inst, len(payload)) + payload
    mem = 64 << 20
    cfg = struct.pack("<IQIBBBI", 1, mem, 1, 0, 1 if rng else 0, 0, 1) + struct.pack("<QQ", 0, mem)
    cfg += struct.pack("<II", 0, 0) + struct.pack("<BQH", 0, 0, 0) + struct.pack("<BIBIB", 0, 0, 0, 0, 0)
    cfg += struct.pack("<I", 1 if rng else 0)
    cpuid = struct.pack("<I", 1) + struct.pack("<7I", 1, 0, 0, 0x806f8, 0, 1, 1)
    uart = struct.pack("<I", 1) + bytes([0, 3, 8, 0, 0, 12, 0, 0, 0, 0]) + bytes([2]) + b"hi"
    kbd = struct.pack("<I", 1) + bytes([0, 0, 0, 0, 0, 0, 0, 1, 0x1d])
    pm = struct.pack("<IB", 1, 0)
    body = (sec(1, 0, cfg) + sec(4, 0, struct.pack("<I", 1)) + sec(2, 0, cpuid) +
            sec(3, 0, struct.pack("<I", 1)) + sec(5, 0, uart) + sec(5, 1, kbd) + sec(5, 2, pm))
    n = 7
    if rng:
        q = struct.pack("<HBQQQHHHBI", 8, 1, 0x1000, 0x2000, 0x3000, 3, 3, 0, 0, 0)
        v = struct.pack("<IIIQIIIIIH", 1, 4, 15, 1 << 32, 0, 0, 0, 0, 0, 1) + q + struct.pack("<I", 0)
        body += sec(6, 0, v)
        n += 1
    total = 48 + len(body) + 4
    hdr = b"MOTESNAP" + struct.pack("<IIQII", 1, 48, total, n, 0x806f8) + b"TestVendorXY" + struct.pack("<I", 0)
    data = hdr + body
    return data + struct.pack("<I", zlib.crc32(data) & 0xffffffff)

import zlib
d = os.path.join(out, "fuzz_snapshot")
os.makedirs(d, exist_ok=True)
for name, rng in (("seed-plain", False), ("seed-rng", True)):
    with open(os.path.join(d, name), "wb") as f:
        f.write(snapshot_seed(rng))


# fuzz_snap_devices: one valid state per device (tests/fuzz/fuzz_snap_devices.c's layouts:
# the device byte, then the stream as the save functions write it).
d = os.path.join(out, "fuzz_snap_devices")
os.makedirs(d, exist_ok=True)
path = b"/tmp/disk.img"
blk = (struct.pack("<IQQIB", 1, 65536, 128, 512, 0) + b"fuzz".ljust(20, b"\0") +
       struct.pack("<H", len(path)) + path + struct.pack("<BQQQQI", 0, 0, 0, 0, 0, 0))
feat = (1 << 32) | (1 << 29) | (1 << 28) | (1 << 16) | (1 << 15) | (1 << 5) | (1 << 3) | 3
frame = bytes(12) + bytes(range(48))
net = (struct.pack("<I", 1) + bytes([2, 1, 2, 3, 4, 5]) +
       struct.pack("<HHQBBI", 1, 1500, feat, 0, 1, len(frame)) + frame)
seeds = {"blk": b"\0" + blk, "net": b"\1" + net,
         "rng": b"\2" + struct.pack("<II", 1, 4), "console": b"\3" + struct.pack("<II", 1, 3)}
for name, data in seeds.items():
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)
# fuzz_vsock: op streams (tests/fuzz/fuzz_vsock.c's layout) that open connections both ways
# and move data and credit, so the fuzzer starts with live connections.
def vs_tx(op, sport_sel, dport_sel, buf_alloc=0x1000, shift=4, fwd_cnt=0, payload=b"", flags=0):
    return bytes([0, sport_sel | dport_sel << 2, op, 0, flags]) + struct.pack(
        "<HBHH", buf_alloc, shift, fwd_cnt, len(payload)) + payload

def vs_rx(n, size=4000):
    return bytes([1, n - 1]) + b"".join(b"\x00" + struct.pack("<H", size - 44) for _ in range(n))

def vs_host(stream, data, how=0x14):
    return bytes([2, stream, how, len(data)]) + data

vs_seeds = {
    # guest connects to host port 5000, data both ways, a credit update, host EOF, shutdown
    "guest": b"\x02" + vs_tx(1, 0, 1) + vs_rx(4) + vs_host(0, bytes(range(70))) + vs_rx(2) +
             vs_tx(5, 0, 1, payload=bytes(range(200))) + vs_tx(6, 0, 1, fwd_cnt=70) +
             vs_host(0, b"", how=0x15) + vs_rx(2) + vs_tx(4, 0, 1, flags=3),
    # a host program connects to guest port 1024; the guest answers; data, small credit
    "host": b"\x03" + bytes([3, 0]) + vs_rx(2) + vs_tx(2, 0, 2, buf_alloc=100, shift=0) +
            vs_host(0, bytes(range(79))) + vs_rx(3, 60) + vs_tx(6, 0, 2, buf_alloc=100, shift=0,
            fwd_cnt=79) + vs_host(0, bytes(79)) + vs_rx(3),
    # deferred work, event buffer, transport reset with a connection open
    "reset": b"\x01" + vs_tx(1, 0, 1) + bytes([9]) + vs_rx(2) + bytes([8, 3, 6, 9]) + vs_rx(2) +
             vs_tx(1, 0, 1) + vs_rx(1) + bytes([7]) + vs_tx(1, 0, 1) + vs_rx(1),
}
d = os.path.join(out, "fuzz_vsock")
os.makedirs(d, exist_ok=True)
for name, data in vs_seeds.items():
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)
