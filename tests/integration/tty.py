#!/usr/bin/env python3
"""Runs mote on a pseudo-terminal: raw mode while the guest runs, the Ctrl-A escapes,
and the terminal restored on every way out (guest exit, escape, SIGTERM, a crash signal)."""
import os, select, signal, subprocess, sys, termios, time

MOTE = sys.argv[1]
ECHO = sys.argv[2]


def result(ok, name, why=""):
    print(("pass %s" % name) if ok else ("fail %s: %s" % (name, why)), flush=True)


class Session:
    def __init__(self, *args, guest=None):
        self.master, self.slave = os.openpty()
        self.before = termios.tcgetattr(self.slave)
        self.p = subprocess.Popen([MOTE, "run", *args, guest or ECHO], stdin=self.slave,
                                  stdout=self.slave, stderr=self.slave, start_new_session=True)
        self.out = b""

    def wait_for(self, text, timeout=10.0):
        end = time.time() + timeout
        while text not in self.out and time.time() < end:
            r, _, _ = select.select([self.master], [], [], 0.1)
            if r:
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:
                    break
        return text in self.out

    def send(self, data):
        os.write(self.master, data)

    def finish(self, timeout=10.0):
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.wait_for(b"\x00never", 0.2)
        after = termios.tcgetattr(self.slave)
        os.close(self.master)
        os.close(self.slave)
        return rc, after == self.before


s = Session()
ready = s.wait_for(b"echo: ready")
raw = ready and not (termios.tcgetattr(s.slave)[3] & termios.ICANON)
result(raw, "tty-raw-while-running", "terminal still canonical (or no prompt): %r" % s.out)
s.send(b"hi there\r")
result(s.wait_for(b"hi there"), "tty-echo", repr(s.out))
s.send(b"\x01\x01")  # Ctrl-A Ctrl-A: one literal Ctrl-A reaches the guest
result(s.wait_for(b"\x01"), "tty-escape-literal", repr(s.out))
s.send(b"\rquit\r")
rc, restored = s.finish()
result(rc == 1 and b"echo: bye" in s.out, "tty-guest-exit", "status %s, output %r" % (rc, s.out))
result(restored, "tty-restored-after-guest-exit", "terminal attributes differ")

s = Session()
s.wait_for(b"echo: ready")
s.send(b"\x01x")
rc, restored = s.finish()
result(rc == 12, "tty-escape-quit", "status %s, output %r" % (rc, s.out))
result(restored, "tty-restored-after-escape", "terminal attributes differ")

s = Session()
s.wait_for(b"echo: ready")
s.p.send_signal(signal.SIGTERM)
rc, restored = s.finish()
result(rc == 12, "tty-sigterm", "status %s" % rc)
result(restored, "tty-restored-after-sigterm", "terminal attributes differ")

s = Session()
s.wait_for(b"echo: ready")
s.p.send_signal(signal.SIGSEGV)
rc, restored = s.finish()
result(rc == -signal.SIGSEGV, "tty-crash-signal", "status %s" % rc)
result(restored, "tty-restored-after-crash", "terminal attributes differ")

# A guest that never reads its console: flood it past the UART FIFO and mote's own buffer,
# then Ctrl-A x must still quit (the terminal is always read; overflow is dropped and said).
s = Session("--cmdline", "count=100000000", guest=ECHO.replace("echo.elf", "portloop.elf"))
time.sleep(0.3)
for _ in range(8):
    s.send(b"y" * 512)
    time.sleep(0.02)
s.send(b"\x01x")
rc, restored = s.finish(timeout=10)
result(rc == 12, "tty-escape-while-guest-not-reading", "status %s, output %r" % (rc, s.out[-300:]))
result(b"console input dropped" in s.out, "tty-overflow-reported", repr(s.out[-300:]))
result(restored, "tty-restored-after-flood", "terminal attributes differ")
