"""The jailed rows of bench/measure.py: the hello guest started through build/mote-jailer
(docs/jail.md), without and with a cgroup (memory and pids limits), each run with a fresh id.
Only the jailer's command is timed; removing each run's jail and cgroup happens afterwards.
Standard library only."""

import os
import shutil


def _v1_mount(controller):
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, path, fstype, opts = line.split()[:4]
            if fstype == "cgroup" and controller in opts.split(","):
                return path
    return None


def _v2_mount():
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    return None


class JailRows:
    """Builds the jailed commands; cleanup() removes every jail and cgroup they made."""

    def __init__(self, build, mote_bin, tmpdir):
        self.jailer = os.path.join(build, "mote-jailer")
        self.mote = mote_bin
        self.base = os.path.join(tmpdir, "jails")
        self.uid = 40000 + os.getpid() % 20000
        self.n = 0
        self.cg = self._cgroup_setup()
        self.made = []  # cgroup directories to remove, deepest last

    def available(self):
        if os.geteuid() != 0:
            return "mote-jailer needs root"
        if not os.access(self.jailer, os.X_OK):
            return f"{self.jailer} is missing (make {self.jailer})"
        return None

    def _cgroup_setup(self):
        """(version, memory file, parent, [hierarchy roots]) or None."""
        v2 = _v2_mount()
        if v2:
            with open(os.path.join(v2, "cgroup.controllers")) as f:
                have = f.read().split()
            if "memory" in have and "pids" in have:
                return (2, "memory.max", f"mote-bench-{os.getpid()}", [v2])
        mem, pids = _v1_mount("memory"), _v1_mount("pids")
        if not (mem and pids):
            return None
        own = ""
        with open("/proc/self/cgroup") as f:  # nested below this process's memory cgroup
            for line in f:
                _, ctrl, path = line.rstrip("\n").split(":", 2)
                if ctrl == "memory":
                    own = path.strip("/")
        parent = (own + "/" if own else "") + f"mote-bench-{os.getpid()}"
        return (1, "memory.limit_in_bytes", parent, [mem, pids])

    def cmd(self, guest, mem, cgroup=False):
        self.n += 1
        argv = [self.jailer, "--id", f"bench-{os.getpid()}-{self.n}", "--exec-file", self.mote,
                "--uid", str(self.uid), "--gid", str(self.uid), "--chroot-base-dir", self.base,
                "--bind-ro", f"{guest}:/guest.elf"]
        if cgroup and self.cg:
            version, memfile, parent, roots = self.cg
            for root in roots:  # the parent levels that do not exist yet are removed later
                p = root
                for part in parent.split("/"):
                    p = os.path.join(p, part)
                    if not os.path.isdir(p) and p not in self.made:
                        self.made.append(p)
            argv += ["--cgroup-version", str(version), "--parent-cgroup", parent,
                     "--cgroup", f"{memfile}=512M", "--cgroup", "pids.max=64"]
        return argv + ["--", "run", "--mem", mem, "/guest.elf"]

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)
        if self.cg:
            _, _, parent, roots = self.cg
            for root in roots:
                d = os.path.join(root, parent)
                if os.path.isdir(d):
                    for name in os.listdir(d):
                        if name.startswith(f"bench-{os.getpid()}-"):
                            os.rmdir(os.path.join(d, name))
        for p in reversed(self.made):
            try:
                os.rmdir(p)
            except OSError:
                pass
        self.made = []
