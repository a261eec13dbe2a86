# Solo5 hvt unikernels (mote hvt / solo5-hvt): mote's own test unikernels in
# tests/guests/hvt/ run unmodified; broken files, manifests, command lines and hostile
# hypercalls are refused with one clear line and the documented status.
. "$(dirname "$0")/lib.sh"
H=$G/hvt
[ -f "$H/hello.hvt" ] || { skip hvt "test unikernels not built (make guests)"; exit 0; }

# --- running --------------------------------------------------------------------------
check hvt-hello 0 "args: 'one two  three'" "" hvt "$H/hello.hvt" one two "" three
has hvt-hello "hello from a unikernel" && pass hvt-hello-greeting || fail hvt-hello-greeting "no greeting"
[ -s "$TMP/hvt-hello.err" ] && fail hvt-hello-quiet "stderr: $(cat "$TMP/hvt-hello.err")" || pass hvt-hello-quiet
check hvt-hello-dashdash 0 "args: '--mem=4 x'" "" hvt --mem=8 -- "$H/hello.hvt" --mem=4 x
# --mem as solo5-hvt: whole 2 MiB pages (with its warning), at least one, at most 4 GiB.
check hvt-mem 0 "mem 6 MiB" "adjusting memory to 6291456 bytes" hvt --mem=7 "$H/hello.hvt"
check hvt-mem-min 0 "mem 2 MiB" "" hvt --mem=2 "$H/hello.hvt"
check hvt-mem-1 0 "mem 2 MiB" "adjusting memory to 2097152 bytes" hvt --mem=1 "$H/hello.hvt"
check hvt-mem-3g 0 "mem 3074 MiB" "" hvt --mem=3074 "$H/hello.hvt" # no hole at 3 GiB
check hvt-mem-4g 0 "mem 4096 MiB" "" hvt --mem=4096 "$H/hello.hvt"
check hvt-mem-4097 0 "mem 4096 MiB" "adjusting memory to 4294967296 bytes" hvt --mem=4097 "$H/hello.hvt"
check hvt-exit-status 7 "args: 'exit=7'" "" hvt "$H/hello.hvt" exit=7
check hvt-exit-254 254 "" "" hvt "$H/hello.hvt" exit=254
check hvt-exit-1 1 "" "" hvt "$H/hello.hvt" exit=1
check hvt-abort 255 "solo5_abort() called" "" hvt "$H/hello.hvt" abort
[ -s "$TMP/hvt-abort.err" ] && fail hvt-abort-quiet "solo5-hvt adds nothing to an abort: $(cat "$TMP/hvt-abort.err")" ||
	pass hvt-abort-quiet
check hvt-abort-v 255 "" "unikernel aborted (exit status 255)" hvt -v "$H/hello.hvt" abort
check hvt-mmio-hypercall 0 "hello over mmio" "" hvt "$H/hello.hvt" mmio
ln -sf "$(cd "$BUILD" && pwd)/mote" "$TMP/solo5-hvt"
MOTE=$TMP/solo5-hvt check hvt-solo5-hvt-link 3 "args: 'exit=3'" "" "$H/hello.hvt" exit=3
# solo5-hvt's --help: its lines on stderr, status 1; --version on stderr, status 0.
MOTE=$TMP/solo5-hvt check hvt-solo5-hvt-help 1 "" "usage: solo5-hvt [ CORE OPTIONS ] [ MODULE OPTIONS ] [ -- ] KERNEL [ ARGS ]" --help
for l in "  [ --mem=512 ] (guest memory in MB)" "    --help (display this help)" \
	"    --version (display version information)" "Compiled-in modules: core block net " \
	"    --block:NAME=PATH (attach block device/file at PATH as block storage NAME)" \
	"  [ --block-sector-size:NAME=SECTORSIZE ] (set sector size for block device NAME; must be a power of two greater than or equal 512)" \
	"    --net:NAME=IFACE | @NN (attach tap at IFACE or at fd @NN as network NAME)" \
	"  [ --net-mac:NAME=HWADDR ] (set HWADDR for network NAME)"; do
	grep -qxF -- "$l" "$TMP/hvt-solo5-hvt-help.err" || { fail hvt-help-lines "no line '$l'"; break; }
done && pass hvt-help-lines
[ -s "$TMP/hvt-solo5-hvt-help.out" ] && fail hvt-help-stderr "help on stdout" || pass hvt-help-stderr
check hvt-help 1 "" "usage: mote hvt [ CORE OPTIONS ]" hvt --help
if [ -L "$BUILD/solo5-hvt" ]; then
	MOTE=$BUILD/solo5-hvt check hvt-build-link 0 "hello from a unikernel" "" "$H/hello.hvt"
else
	fail hvt-build-link "make did not create $BUILD/solo5-hvt"
fi
MOTE=$TMP/solo5-hvt check hvt-version 0 "" "solo5-hvt tender, version v0.12.1" --version
has_err hvt-version "ABI version 2" && pass hvt-version-abi || fail hvt-version-abi "$(cat "$TMP/hvt-version.err")"
MOTE=$TMP/solo5-hvt vm hvt-link-name --frob "$H/hello.hvt"
[ "$rc" = 1 ] && grep -qx "solo5-hvt: Invalid option: \`--frob' (see --help)" "$TMP/hvt-link-name.err" &&
	pass hvt-link-name || fail hvt-link-name "status $rc: $(cat "$TMP/hvt-link-name.err")"
# The vCPU (on the main thread) runs the hypercalls filtered (SANDBOX_HVT), and so is the process.
MOTE_SANDBOX_SELFTEST="hvt vCPU" check hvt-sandbox-vcpu 10 "" "seccomp: hvt vCPU thread made forbidden" \
	hvt "$H/hello.hvt"
MOTE_SANDBOX_SELFTEST=process check hvt-sandbox-process 10 "" "seccomp: process thread made forbidden" \
	hvt "$H/hello.hvt"

check hvt-time 0 "time: ok" "" hvt "$H/time.hvt"
# A 1 s poll blocks in the host: the VMM must not burn CPU meanwhile. Compared with a 0 ms poll
# run, so start-up and the unikernel's own (here emulated) code cancel out.
cpu=$(python3 - "$MOTE" "$H/time.hvt" <<'PY'
import resource, subprocess, sys, time
def run(ms):
    u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    r = subprocess.run([sys.argv[1], "hvt", sys.argv[2], "sleep=%d" % ms], stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.returncode, wall, (u.ru_utime + u.ru_stime) - (u0.ru_utime + u0.ru_stime)
rc0, _, c0 = run(0)
rc1, wall, c1 = run(1000)
print(max(rc0, rc1), int(wall * 1000), int((c1 - c0) * 1000))
PY
)
set -- $cpu
if [ "$1" = 0 ] && [ "$2" -ge 1000 ] && [ "$3" -lt 200 ]; then
	pass "hvt-poll-blocks"
else
	fail hvt-poll-blocks "status $1, wall $2 ms, $3 ms more CPU than a 0 ms poll for a 1000 ms poll"
fi
# A signal ends a unikernel blocked in poll at once, as solo5-hvt: status 1, its words.
for s in TERM INT HUP; do
	( timeout 20 "$MOTE" hvt "$H/time.hvt" sleep=10000 >/dev/null 2>"$TMP/sig.err" & pid=$!
	  sleep 0.3; kill -$s $pid; wait $pid; echo $? >"$TMP/sig.rc" )
	if [ "$(cat "$TMP/sig.rc")" = 1 ] && grep -q "Exiting on signal $(kill -l $s)" "$TMP/sig.err"; then
		pass hvt-signal-$s
	else
		fail hvt-signal-$s "status $(cat "$TMP/sig.rc"): $(cat "$TMP/sig.err")"
	fi
done
# ... and one running guest code (in KVM_RUN, not in a hypercall).
( timeout 20 "$MOTE" hvt "$H/fault.hvt" spin >/dev/null 2>"$TMP/spin.err" & pid=$!
  sleep 0.5; kill -TERM $pid; wait $pid; echo $? >"$TMP/spin.rc" )
[ "$(cat "$TMP/spin.rc")" = 1 ] && grep -q "Exiting on signal 15" "$TMP/spin.err" && pass hvt-signal-running ||
	fail hvt-signal-running "status $(cat "$TMP/spin.rc"): $(cat "$TMP/spin.err")"

disk=$TMP/disk.img
truncate -s 1M "$disk"
check hvt-blk 0 "blk: all checks passed" "" hvt --block:storage="$disk" "$H/blk.hvt"
has hvt-blk "storage: handle 1, 1048576 bytes, block 512" && pass hvt-blk-info || fail hvt-blk-info "$(head -1 "$TMP/hvt-blk.out")"
[ "$(dd if="$disk" bs=1 skip=512 count=14 2>/dev/null)" = mote-hvt-block ] && pass hvt-blk-persists ||
	fail hvt-blk-persists "the host does not see the unikernel's write"
check hvt-blk-4k 0 "blk: all checks passed" "" hvt --block:storage="$disk" --block-sector-size:storage=4096 "$H/blk.hvt"
has hvt-blk-4k "block 4096" && pass hvt-blk-4k-info || fail hvt-blk-4k-info "$(head -1 "$TMP/hvt-blk-4k.out")"
truncate -s 6144 "$TMP/6k.img"
refuse hvt-blk-4k-odd 1 "storage: Backing storage size must be block aligned (4096 bytes)" \
	hvt --block:storage="$TMP/6k.img" --block-sector-size:storage=4096 "$H/blk.hvt"
: >"$TMP/empty.img"
refuse hvt-blk-empty 1 "storage: Backing storage must be at least 1 block (512 bytes) in size" \
	hvt --block:storage="$TMP/empty.img" "$H/blk.hvt"

for m in exec-data:0x11 zero-read:0x0 zero-write:0x2 ro-bootinfo:0x3 pagetable:0x0; do
	check "hvt-fault-${m%%:*}" 255 "trap: vector 14 error code ${m#*:} " "" hvt "$H/fault.hvt" "${m%%:*}"
done
# W^X by the host: KVM maps text and rodata read-only; the write never lands, the tender says so.
check hvt-fault-write-text 1 "fault: write-text" "KVM: host/guest translation fault: rip=0x" \
	hvt "$H/fault.hvt" write-text
has hvt-fault-write-text "no fault" && fail hvt-fault-write-text-stops "the unikernel ran on" ||
	pass hvt-fault-write-text-stops
check hvt-fault-write-rodata 1 "" "host/guest translation fault" hvt "$H/fault.hvt" write-rodata
check hvt-fault-hlt 1 "fault: hlt" "KVM: unhandled exit: exit_reason=0x5, rip=0x" hvt "$H/fault.hvt" hlt

for m in arg-oob:"Invalid guest access: gpa=0xfffff000, sz=16: the puts hypercall argument" \
	arg-end:"is not in the unikernel's memory" \
	arg-pagetable:"gpa=0x2000, sz=8: the walltime hypercall argument lies in the tender's area" \
	puts-oob:"the puts buffer" puts-wrap:"gpa=0xfffffffffffff000, sz=8192" \
	puts-huge:"gpa=0x100000, sz=4611686018427387904" \
	blk-pagetable:"the block read buffer lies in the tender's area" \
	blk-text:"the block read buffer reaches into the unikernel's read-only memory" \
	blk-wrap:"gpa=0xffffffffffffff00" blk-oob:"the block write buffer" \
	nr-zero:"Invalid guest hypercall: num=0" nr-max:"Invalid guest port access: port=0x509" \
	port:"Invalid guest port access: port=0x80" port-in:"Invalid guest port access: port=0x502 (a read)" \
	mmio-bad:"KVM: unhandled exit: exit_reason=0x6" cookie-oob:"the halt cookie"; do
	check "hvt-hostile-${m%%:*}" 1 "hostile: ${m%%:*}" "${m#*:}" \
		hvt --block:storage="$disk" "$H/hostile.hvt" "${m%%:*}"
	has "hvt-hostile-${m%%:*}" "survived" && fail "hvt-hostile-${m%%:*}-ends" "the unikernel ran on"
done

# --- refused command lines (status 1, solo5-hvt's words) ---------------------------------
refuse hvt-cli-no-kernel 1 "Missing KERNEL operand" hvt
refuse hvt-cli-mem-word 1 "--mem=lots: Malformed argument to --mem" hvt --mem=lots "$H/hello.hvt"
refuse hvt-cli-mem-zero 1 "Malformed argument to --mem" hvt --mem=0 "$H/hello.hvt"
refuse hvt-cli-mem-big 1 "guest memory size 4297064448 bytes exceeds the max size 4294967296 bytes" \
	hvt --mem=4098 "$H/hello.hvt"
refuse hvt-cli-mem-huge 1 "exceeds the max size 4294967296 bytes" hvt --mem=99999999999999999999 "$H/hello.hvt"
refuse hvt-cli-unknown 1 "Invalid option: \`--frob'" hvt --frob "$H/hello.hvt"
refuse hvt-cli-dumpcore 1 "Invalid option: \`--dumpcore': solo5-hvt's dumpcore module" hvt --dumpcore "$H/hello.hvt"
refuse hvt-cli-exec-heap 1 "Invalid option: \`--x-exec-heap'" hvt --x-exec-heap "$H/hello.hvt"
refuse hvt-cli-bad-name 1 "NAME made of letters and digits" hvt --block:st-orage=x "$H/hello.hvt"
refuse hvt-cli-twice 1 "device 'storage' is attached twice" hvt --block:storage=a --net:storage=b "$H/blk.hvt"
refuse hvt-cli-mac-alone 1 "--net-mac:service: no --net:service=IFACE" hvt --net-mac:service=02:00:00:00:00:01 "$H/net.hvt"
refuse hvt-cli-mac-bad 1 "expected a MAC address" hvt --net:service=t0 --net-mac:service=02:00:00:00:00 "$H/net.hvt"
refuse hvt-cli-mac-multicast 1 "multicast" hvt --net:service=t0 --net-mac:service=01:00:00:00:00:01 "$H/net.hvt"
refuse hvt-cli-sector 1 "Block size must be a multiple of 2 greater than or equal 512" \
	hvt --block:storage="$disk" --block-sector-size:storage=1000 "$H/blk.hvt"
refuse hvt-cli-fd-word 1 "Could not attach interface: @x" hvt --net:service=@x "$H/net.hvt"
refuse hvt-cli-ifname-long 1 "Could not attach interface: abcdefghijklmnopq" hvt --net:service=abcdefghijklmnopq "$H/net.hvt"
refuse hvt-cli-cmdline-long 1 "Guest command line too long (max=8191 characters)" \
	hvt "$H/hello.hvt" "$(head -c 8192 /dev/zero | tr '\0' x)"
many=
for i in $(seq 1 64); do many="$many --block:d$i=$disk"; done
refuse hvt-too-many-devices 1 "too many devices (at most 63)" hvt $many "$H/blk.hvt"
refuse hvt-undeclared-block 1 "Resource not declared in manifest: 'storage' (the unikernel's block devices: none)" \
	hvt --block:storage="$disk" "$H/hello.hvt"
refuse hvt-undeclared-net 1 "Resource not declared in manifest: 'x' (the unikernel's network devices: service)" \
	hvt --net:x=t0 "$H/net.hvt"
refuse hvt-unattached 1 "Device 'storage' of type BLOCK_BASIC declared but not attached. All declared devices must be attached." \
	hvt "$H/blk.hvt"
refuse hvt-disk-missing 1 "--block:storage: Could not open block device:" hvt --block:storage="$TMP/nope.img" "$H/blk.hvt"
head -c 1000 /dev/zero >"$TMP/odd.img"
refuse hvt-disk-odd-size 1 "storage: Backing storage size must be block aligned (512 bytes)" \
	hvt --block:storage="$TMP/odd.img" "$H/blk.hvt"
refuse hvt-no-file 1 "nope.hvt: Could not open" hvt "$TMP/nope.hvt"
refuse hvt-net-fd-not-tap 1 "Could not attach interface: @0: descriptor 0 is not an attached tap" \
	hvt --net:service=@0 "$H/net.hvt"
refuse hvt-net-no-tap 1 "Could not attach interface: nosuchtap$$" hvt --net:service=nosuchtap$$ "$H/net.hvt"

# --- refused unikernel files (status 1) -------------------------------------------------
# patch SRC DST 'python statements on bytearray b': edits a copy of a unikernel.
patch() {
	python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
def note(t):  # offset of the Solo5 note of type t (header start)
    i = b.find(t + b"Solo5\0")
    assert i >= 8, t
    return i - 8
def u32(off, v): struct.pack_into("<I", b, off, v)
def u64(off, v): struct.pack_into("<Q", b, off, v)
mft = lambda: note(b"MFT1") + 24      # struct mft
ent = lambda i: mft() + 8 + 104 * i   # struct mft_entry
abi = lambda: note(b"ABI1") + 20      # struct abi1_info
phoff = struct.unpack_from("<Q", b, 32)[0]
ph = lambda i: phoff + 56 * i
exec(sys.argv[3])
open(sys.argv[2], "wb").write(b)
PY
}
bad() { # bad NAME SRC 'patch' 'expected message'
	patch "$H/$2.hvt" "$TMP/$1.hvt" "$3" || { fail "$1" "could not patch"; return; }
	local dev=
	[ "$2" = blk ] && dev=--block:storage=$disk
	refuse "$1" 1 "$4" hvt $dev "$TMP/$1.hvt"
}
bad hvt-mft-bad-magic hello 'b[note(b"MFT1")+12:note(b"MFT1")+16] = b"MFT9"' "No Solo5 manifest found in executable"
bad hvt-mft-version hello 'u32(mft(), 2)' "Solo5 manifest is invalid: manifest version 2, mote reads version 1"
bad hvt-mft-too-many hello 'u32(mft() + 4, 65)' "manifest has 65 entries; 1 to 64 are allowed"
bad hvt-mft-no-entries hello 'u32(mft() + 4, 0)' "manifest has 0 entries"
bad hvt-mft-size hello 'u32(mft() + 4, 2)' "manifest is 112 bytes but 2 entries need 216"
bad hvt-mft-unterminated blk 'b[ent(1):ent(1)+68] = b"A" * 68' "manifest entry 1: name is not NUL-terminated"
bad hvt-mft-unknown-type blk 'u32(ent(1) + 68, 7)' "manifest entry 1 has unknown device type 7"
bad hvt-mft-attached blk 'b[ent(1) + 96] = 1' "'attached' is set in the file"
bad hvt-mft-reserved hello 'u32(ent(0) + 68, 1)' "manifest entry 0 must be the reserved entry"
bad hvt-mft-empty-name blk 'b[ent(1)] = 0' "device name must be 1 to 67 letters or digits"
bad hvt-abi-version hello 'u32(abi() + 4, 1)' "Executable requests unsupported ABI version 1"
bad hvt-abi-target hello 'u32(abi(), 2)' "Executable is not for the solo5-hvt target"
bad hvt-abi-missing hello 'b[note(b"ABI1")+12:note(b"ABI1")+16] = b"ABI9"' "No Solo5 ABI information found in executable"
bad hvt-elf-magic hello 'b[1] = 0x45 ^ 1' "not an ELF file"
bad hvt-elf-truncated hello 'del b[200:]' "truncated ELF file"
bad hvt-elf-wx hello 'u32(ph(1) + 4, 7)' "is both writable and executable: mote enforces W^X"
bad hvt-elf-mixed-page hello 'u64(ph(1) + 16, 0x100f00); u64(ph(1) + 24, 0x100f00)' "share the page at 0x100000"
bad hvt-elf-entry-data hello 'u64(24, 0x101000)' "lies in segment 1, which is not executable"
bad hvt-elf-low hello 'u64(ph(0) + 24, 0x1000)' "below the lowest address"
bad hvt-elf-beyond-ram hello 'u64(ph(1) + 24, 0x40000000)' "lies outside guest memory"
bad hvt-elf-phnum hello 'struct.pack_into("<H", b, 56, 0)' "program headers"
refuse hvt-elf-pie 1 "not an executable (ET_EXEC)" hvt /bin/true
objcopy -I elf64-x86-64 -O elf32-i386 "$H/hello.hvt" "$TMP/hello32.hvt" 2>/dev/null &&
	refuse hvt-elf-32 1 "ELF file is 32-bit; Solo5 hvt unikernels are 64-bit" hvt "$TMP/hello32.hvt"

# --- network: ping the net unikernel over a tap in a private netns ------------------------
ns=mote-hvt-$$
tap=mhvt$$
if ! ip netns add "$ns" 2>/dev/null; then
	skip hvt-net "cannot create a network namespace (ip netns add)"
	exit 0
fi
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$TMP"' EXIT
ip -n "$ns" link set lo up
if ! ip -n "$ns" tuntap add dev "$tap" mode tap 2>/dev/null; then
	skip hvt-net "cannot create a tap interface (/dev/net/tun)"
	exit 0
fi
# mote inside the namespace, for the check/refuse helpers.
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$ns" "$(cd "$(dirname "$MOTE")" && pwd)/$(basename "$MOTE")" >"$TMP/nsmote"
chmod +x "$TMP/nsmote"
# A tap that is down is refused, as solo5-hvt does.
MOTE=$TMP/nsmote refuse hvt-net-down 1 "Could not attach interface: $tap: Network is down" \
	hvt --net:service="$tap" "$H/net.hvt"
ip -n "$ns" addr add 10.77.0.1/24 dev "$tap"
ip -n "$ns" link set "$tap" up

# ping NAME 'EXPECTED OUTPUT' ARGS...: the unikernel answers 3 pings (mote ARGS after `hvt`).
ping_test() {
	local name=$1 want=$2
	shift 2
	ip netns exec "$ns" timeout 20 "$MOTE" hvt "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	local pid=$!
	sleep 0.4
	ip netns exec "$ns" ping -c 3 -i 0.2 -W 3 10.77.0.2 >"$TMP/$name.ping" 2>&1
	local prc=$?
	wait $pid
	local rc=$?
	if [ $prc = 0 ] && [ $rc = 0 ] && grep -q "answered 3 pings" "$TMP/$name.out" &&
		grep -qF "$want" "$TMP/$name.out"; then
		pass "$name"
	else
		fail "$name" "ping $prc, mote $rc: $(tail -2 "$TMP/$name.ping") $(cat "$TMP/$name.out" "$TMP/$name.err")"
	fi
}
ping_test hvt-net-ping "mac 2:0:0:77:0:2 mtu 1500" --net:service="$tap" --net-mac:service=02:00:00:77:00:02 \
	"$H/net.hvt" count=3
# The tap's MTU reaches the unikernel (SIOCGIFMTU), as solo5-hvt reports it.
ip -n "$ns" link set "$tap" mtu 9000
ping_test hvt-net-mtu-9000 "mtu 9000" --net:service="$tap" "$H/net.hvt" count=3
ip -n "$ns" link set "$tap" mtu 1500
# The shared-memory ring of Solo5 0.12 (every frame through ring entries, no exit per frame):
# at the top of RAM, where mem_size ends; --mem=4096 leaves the unikernel 4094 MiB.
ping_test hvt-net-ring "ring at 0x20000000, mem_size 0x20000000" --net:service="$tap" "$H/net_ring.hvt"
ping_test hvt-net-ring-4g "ring at 0xffe00000, mem_size 0xffe00000" --mem=4096 --net:service="$tap" \
	"$H/net_ring.hvt"
# --net:NAME=@FD: a tap descriptor the caller attached and passed down.
ip netns exec "$ns" python3 - "$MOTE" "$tap" "$H/net.hvt" >"$TMP/fd.out" 2>&1 <<'PY'
import fcntl, os, struct, subprocess, sys, time
mote, tap, uk = sys.argv[1:4]
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", tap.encode(), 0x1002))  # TUNSETIFF, IFF_TAP|IFF_NO_PI
p = subprocess.Popen([mote, "hvt", "--net:service=@%d" % fd, uk, "count=3"], pass_fds=[fd],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
time.sleep(0.4)
ping = subprocess.run(["ping", "-c", "3", "-i", "0.2", "-W", "3", "10.77.0.2"], capture_output=True)
out, _ = p.communicate(timeout=20)
print(out, "mote", p.returncode, "ping", ping.returncode)
PY
grep -q "answered 3 pings" "$TMP/fd.out" && grep -q "mote 0 ping 0" "$TMP/fd.out" && pass hvt-net-fd ||
	fail hvt-net-fd "$(cat "$TMP/fd.out")"
# A burst of frames queued in the ring without waiting, sent in order; the ones queued right
# before the unikernel halts still go out.
ip netns exec "$ns" python3 - "$MOTE" "$tap" "$H/net_ring.hvt" >"$TMP/burst.out" 2>&1 <<'PY'
import socket, subprocess, sys, time
mote, tap, uk = sys.argv[1:4]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind((tap, 0))
s.settimeout(3)
r = subprocess.run([mote, "hvt", "--net:service=" + tap, uk, "burst=300", "count=0"],
                   capture_output=True, text=True, timeout=20)
seq = []
try:
    while len(seq) < 300:
        f = s.recv(2048)
        if f[14:23] == b"mote-ring":
            seq.append(f[23] << 8 | f[24])
except socket.timeout:
    pass
print("status", r.returncode, "frames", len(seq), "ordered", seq == list(range(len(seq))), r.stderr.strip())
PY
grep -q "status 0 frames 300 ordered True" "$TMP/burst.out" && pass hvt-net-ring-burst ||
	fail hvt-net-ring-burst "$(cat "$TMP/burst.out")"
# A unikernel that breaks the ring's rules ends with status 1 and solo5-hvt's words; an
# unknown operation is skipped and the ring keeps working.
for k in tail:"ent_tail 2000 is 2000 entries past ent_head" buf:"the net ring write buffer is not in the unikernel's memory" \
	rbuf:"the net ring read buffer reaches into the unikernel's read-only memory" \
	commit:"the commit ring is full"; do
	MOTE=$TMP/nsmote check "hvt-net-ring-${k%%:*}" 1 "" "${k#*:}" \
		hvt --net:service="$tap" "$H/net_ring.hvt" hostile=${k%%:*}
	has_err "hvt-net-ring-${k%%:*}" "Invalid guest access" || fail "hvt-net-ring-${k%%:*}-words" "$(cat "$TMP/hvt-net-ring-${k%%:*}.err")"
done
