#!/usr/bin/env python3
"""Host programs for the vsock tests (tests/integration/vsock.sh) and bench/vsock.sh: the
other end of mote's hybrid vsock (Firecracker's protocol: connect to PATH, write
"CONNECT <port>\\n", read "OK <host_port>\\n"; guest connections to host port P arrive on
PATH_P). Each command prints one result line ("ok ..." or what went wrong) and exits 0/1.

  echo PATH PORT N SIZE      N host connections at once to guest port PORT, each sending its
                             own SIZE-ish payload (sizes vary per connection); every echo
                             checked byte for byte
  serve LPATH COUNT          listen on LPATH, echo COUNT connections (concurrently), then exit
  hold LPATH SECS            listen on LPATH, accept everything, never read; for SECS seconds
  sink LPATH [PAUSE_AT PAUSE_S PID [WATCH]]
                             accept one connection, read to EOF, print length and sha256; with
                             PAUSE_AT, stop reading after that many bytes for PAUSE_S seconds and
                             report mote's (PID, or @FILE holding it) RSS before, during and
                             at the end of the pause (and the line count of the file WATCH,
                             the guest's output, at the same moments)
  source PATH PORT MIB       connect to guest port PORT, send MIB MiB of random data, close;
                             print length and sha256
  refused PATH PORT          connect to a guest port nobody listens on: the connection must
                             close without "OK"
  badline PATH LINE          send LINE instead of a CONNECT request: must be closed
  rtt PATH PORT N            N one-byte round trips; prints the median and mean in us
  stream PATH PORT MIB       send MIB MiB and read the echo back concurrently (throughput)
  uds-pair MIB N             the peer: a host Unix socket pair, MIB MiB one way and N
                             one-byte round trips, in this process
"""
import hashlib, os, random, resource, selectors, socket, statistics, sys, time

def raise_fds():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))

def connect(path, port, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            raise ConnectionError("closed before OK (got %r)" % line)
        line += c
        if len(line) > 64:
            raise ConnectionError("no newline in %r" % line)
    if not line.startswith(b"OK "):
        raise ConnectionError("bad answer %r" % line)
    return s, int(line[3:])

def payload(i, size):
    r = random.Random(i)
    return r.randbytes(size)

def cmd_echo(path, port, n, size):
    raise_fds()
    n, size, port = int(n), int(size), int(port)
    sel = selectors.DefaultSelector()
    conns, ports = [], set()
    for i in range(n):
        s, hp = connect(path, port)
        ports.add(hp)
        s.setblocking(False)
        want = payload(i, size + (i * 131) % max(size, 1))
        st = {"i": i, "out": want, "sent": 0, "back": bytearray(), "want": want}
        conns.append((s, st))
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, (s, st))
    if len(ports) != n:
        print("host ports not unique: %d for %d connections" % (len(ports), n)); return 1
    done, deadline = 0, time.time() + 60
    while done < n:
        if time.time() > deadline:
            print("timeout: %d of %d echoes complete" % (done, n)); return 1
        for key, ev in sel.select(1):
            s, st = key.data
            if ev & selectors.EVENT_WRITE and st["sent"] < len(st["out"]):
                try:
                    st["sent"] += s.send(st["out"][st["sent"]:st["sent"] + 65536])
                except BlockingIOError:
                    pass
                if st["sent"] == len(st["out"]):
                    sel.modify(s, selectors.EVENT_READ, (s, st))
            if ev & selectors.EVENT_READ:
                try:
                    d = s.recv(262144)
                except BlockingIOError:
                    continue
                if not d:
                    print("connection %d closed after %d of %d bytes" % (st["i"], len(st["back"]), len(st["want"]))); return 1
                st["back"] += d
                if len(st["back"]) >= len(st["want"]):
                    if bytes(st["back"]) != st["want"]:
                        print("connection %d: echo differs" % st["i"]); return 1
                    sel.unregister(s)
                    s.close()
                    done += 1
    print("ok %d connections, %d bytes echoed" % (n, sum(len(st["want"]) for _, st in conns)))
    return 0

def listen(lpath, backlog=4096):
    try:
        os.unlink(lpath)
    except FileNotFoundError:
        pass
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    l.bind(lpath)
    l.listen(backlog)
    return l

def cmd_serve(lpath, count):
    raise_fds()
    count = int(count)
    l = listen(lpath)
    l.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(l, selectors.EVENT_READ, None)
    print("listening", flush=True)
    served, deadline, pending = 0, time.time() + 120, {}
    while served < count and time.time() < deadline:
        for key, ev in sel.select(1):
            if key.data is None:
                try:
                    c, _ = l.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                pending[c] = bytearray()
                sel.register(c, selectors.EVENT_READ, c)
                continue
            c = key.data
            try:
                d = c.recv(262144)
            except BlockingIOError:
                continue
            if not d:
                sel.unregister(c)
                if pending[c]:
                    c.setblocking(True)
                    c.sendall(pending[c])
                c.close()
                served += 1
                continue
            pending[c] += d
            try:
                n = c.send(pending[c])
                del pending[c][:n]
            except BlockingIOError:
                pass
    print("ok served %d" % served if served >= count else "served only %d of %d" % (served, count))
    return 0 if served >= count else 1

def cmd_hold(lpath, secs):
    raise_fds()
    l = listen(lpath)
    l.settimeout(0.2)
    held, end = [], time.time() + float(secs)
    print("listening", flush=True)
    while time.time() < end:
        try:
            c, _ = l.accept()
            held.append(c)
        except socket.timeout:
            pass
    print("ok held %d" % len(held))
    return 0

def rss_kib(pid):
    if pid.startswith("@"):  # a file the caller writes the pid into
        with open(pid[1:]) as f:
            pid = f.read().strip()
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def lines(path):
    if not path:
        return 0
    with open(path, "rb") as f:
        return f.read().count(b"\n")

def cmd_sink(lpath, pause_at=None, pause_s=None, pid=None, watch=None):
    l = listen(lpath)
    l.settimeout(30)
    print("listening", flush=True)
    c, _ = l.accept()
    c.settimeout(60)
    h, n, paused = hashlib.sha256(), 0, pause_at is None
    extra = ""
    while True:
        if not paused and n >= int(pause_at):
            paused = True
            r0, l0 = rss_kib(pid), lines(watch)
            time.sleep(float(pause_s) / 2)
            r1, l1 = rss_kib(pid), lines(watch)
            time.sleep(float(pause_s) / 2)
            r2, l2 = rss_kib(pid), lines(watch)
            extra = " paused_at=%d rss_kib=%d,%d,%d lines=%d,%d,%d" % (n, r0, r1, r2, l0, l1, l2)
        d = c.recv(262144 if paused else min(262144, int(pause_at) - n))
        if not d:
            break
        h.update(d)
        n += len(d)
    print("ok %d bytes sha256 %s%s" % (n, h.hexdigest(), extra))
    return 0

def cmd_source(path, port, mib):
    s, _ = connect(path, int(port))
    s.settimeout(120)  # the guest may stop reading for a while (back-pressure tests)
    total, h, t0 = int(mib) << 20, hashlib.sha256(), time.time()
    r = random.Random(7)
    chunk = r.randbytes(1 << 20)
    for i in range(int(mib)):
        blk = bytes(b ^ (i & 0xff) for b in chunk[:64]) + chunk[64:]
        h.update(blk)
        s.sendall(blk)
    s.shutdown(socket.SHUT_WR)
    try:
        while s.recv(65536):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    print("ok %d bytes sha256 %s secs=%.3f" % (total, h.hexdigest(), time.time() - t0))
    return 0

def expect_closed(path, line):
    """Sends line; mote must close the connection without a word."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(line)
    try:
        d = s.recv(64)
    except ConnectionResetError:
        d = b""
    if d:
        print("expected the connection closed, got %r" % d); return 1
    print("ok closed without OK")
    return 0

def cmd_refused(path, port):
    return expect_closed(path, b"CONNECT %d\n" % int(port))

def cmd_badline(path, line):
    return expect_closed(path, line.encode().decode("unicode_escape").encode("latin-1"))

def rtt_loop(s, n):
    s.settimeout(10)
    times = []
    for _ in range(int(n)):
        t0 = time.perf_counter()
        s.sendall(b"x")
        if s.recv(1) != b"x":
            raise ConnectionError("bad echo")
        times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times), statistics.mean(times)

def cmd_rtt(path, port, n):
    s, _ = connect(path, int(port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    rtt_loop(s, 50)  # warm up
    med, mean = rtt_loop(s, n)
    print("ok rtt_us median=%.1f mean=%.1f" % (med, mean))
    return 0

def cmd_uds_pair(mib, n):
    a, b = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        a.close()
        while True:
            d = b.recv(262144)
            if not d:
                os._exit(0)
            if len(d) == 1:
                b.sendall(d)
    b.close()
    rtt_loop(a, 50)
    med, mean = rtt_loop(a, n)
    a.close()
    a, b = socket.socketpair()
    pid2 = os.fork()
    if pid2 == 0:
        a.close()
        while b.recv(262144):
            pass
        os._exit(0)
    b.close()
    chunk, t0 = os.urandom(1 << 20), time.time()
    for _ in range(int(mib)):
        a.sendall(chunk)
    a.close()
    os.waitpid(pid2, 0)
    secs = time.time() - t0
    os.waitpid(pid, 0)
    print("ok uds_pair rtt_us median=%.1f mean=%.1f throughput_mib_s=%.1f" % (med, mean, int(mib) / secs))
    return 0

if __name__ == "__main__":
    cmds = {k[4:].replace("_", "-"): v for k, v in globals().items() if k.startswith("cmd_")}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__); sys.exit(2)
    try:
        sys.exit(cmds[sys.argv[1]](*sys.argv[2:]))
    except Exception as e:  # one line, as the tests expect
        print("error: %s: %s" % (type(e).__name__, e)); sys.exit(1)
