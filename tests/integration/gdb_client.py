#!/usr/bin/env python3
"""A hostile gdb: connects to mote's GDB stub (a Unix socket, argv[1]) and sends malformed
packets; every one must get an error reply (or '-' for a bad checksum), and the stub must
still answer a good packet afterwards. Prints "pass NAME" / "fail NAME: why" lines; at the end
it sends 'k' (mote then exits with status 12)."""
import socket, sys, time

def frame(payload):
    return b"$" + payload + b"#" + b"%02x" % (sum(payload) & 0xff)

class Stub:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.buf = b""

    def read_until(self, pred):
        deadline = time.time() + 10
        while not pred(self.buf):
            if time.time() > deadline:
                raise TimeoutError("no reply; got %r" % self.buf[:80])
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed; got %r" % self.buf[:80])
            self.buf += d

    def reply(self):
        """The next packet's payload (acks before it are dropped)."""
        def complete(b):
            i = b.find(b"$")
            return i >= 0 and b.find(b"#", i) >= 0 and len(b) >= b.find(b"#", i) + 3
        self.read_until(complete)
        i = self.buf.find(b"$")
        j = self.buf.find(b"#", i)
        p = self.buf[i + 1:j]
        self.buf = self.buf[j + 3:]
        return p

    def ack(self):
        self.read_until(lambda b: len(b) > 0)
        c, self.buf = self.buf[:1], self.buf[1:]
        return c

    def send(self, raw):
        self.s.sendall(raw)

def main():
    st = Stub(sys.argv[1])
    ok = True

    def check(name, cond, why):
        nonlocal ok
        print(("pass " if cond else "fail ") + name + ("" if cond else ": " + why))
        ok &= cond

    st.send(b"+" + frame(b"qSupported:swbreak+"))
    check("gdb-client-supported", st.ack() == b"+" and b"PacketSize=" in st.reply(), "no qSupported")
    st.send(b"$g#00")
    check("gdb-client-bad-checksum", st.ack() == b"-", "a bad checksum was not refused")
    st.send(b"$g#zz")
    check("gdb-client-checksum-not-hex", st.ack() == b"-", "a non-hex checksum was not refused")
    cases = [
        ("oversized", b"m" + b"0" * 20000, b"E01"),
        ("hex-garbage", b"m10zz00,4", b"E01"),
        ("addr-overflow", b"mffffffffffffffff,10", b"E01"),
        ("addr-too-long", b"m10000000000000000,1", b"E01"),
        ("len-overflow", b"M100000,ffffffffffffffff:00", b"E01"),
        ("unmapped", b"m7fff00000000,10", b"E0E"),
        ("write-unmapped", b"M7fff00000000,1:00", b"E0E"),
        ("short-hex", b"M100000,4:00", b"E01"),
        ("bad-G", b"G0011", b"E01"),
        ("bad-register", b"p1000", b"E16"),
        ("bad-P", b"P10=zz", b"E01"),
        ("bad-watch-len", b"Z2,100000,0", b"E16"),
        ("bad-thread", b"Hg99", b"E01"),
        ("bad-vcont", b"vCont;q", b"E01"),
        ("bad-xfer", b"qXfer:features:read:target.xml:ffffffff,10", b"E16"),
        ("bad-run-length", b"m10* ", None),  # "m10000,..." garbage after RLE: any E reply
    ]
    for name, payload, want in cases:
        st.send(frame(payload))
        a = st.ack()
        r = st.reply()
        good = a == b"+" and (r == want if want else r.startswith(b"E"))
        check("gdb-client-" + name, good, "ack %r reply %r, expected %r" % (a, r[:40], want))
    st.send(frame(b"?"))
    st.ack()
    check("gdb-client-survives", st.reply().startswith(b"T05"), "no stop reply after the garbage")
    st.send(frame(b"QStartNoAckMode"))
    st.ack()
    st.reply()
    st.send(b"$m0,4#00")  # no-ack mode: a bad checksum is dropped without a word
    st.send(frame(b"m100000,4"))
    r = st.reply()
    check("gdb-client-no-ack", len(r) == 8 and all(c in b"0123456789abcdef" for c in r),
          "read after no-ack: %r" % r)
    st.send(frame(b"k"))
    time.sleep(0.2)
    return 0 if ok else 1

sys.exit(main())
