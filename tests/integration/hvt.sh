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
check hvt-mem 0 "mem 6 MiB" "rounded down to 6 MiB" hvt --mem=7 "$H/hello.hvt"
check hvt-mem-min 0 "mem 2 MiB" "" hvt --mem=2 "$H/hello.hvt"
check hvt-exit-status 7 "args: 'exit=7'" "" hvt "$H/hello.hvt" exit=7
check hvt-exit-254 254 "" "" hvt "$H/hello.hvt" exit=254
check hvt-abort 255 "solo5_abort() called" "unikernel aborted (exit status 255)" hvt "$H/hello.hvt" abort
check hvt-mmio-hypercall 0 "hello over mmio" "" hvt "$H/hello.hvt" mmio
ln -sf "$(cd "$BUILD" && pwd)/mote" "$TMP/solo5-hvt"
MOTE=$TMP/solo5-hvt check hvt-solo5-hvt-link 3 "args: 'exit=3'" "" "$H/hello.hvt" exit=3
MOTE=$TMP/solo5-hvt check hvt-solo5-hvt-help 0 "usage: $TMP/solo5-hvt" "" --help
if [ -L "$BUILD/solo5-hvt" ]; then
	MOTE=$BUILD/solo5-hvt check hvt-build-link 0 "hello from a unikernel" "" "$H/hello.hvt"
else
	fail hvt-build-link "make did not create $BUILD/solo5-hvt"
fi
check hvt-version 0 "hvt ABI version 2" "" hvt --version
# The vCPU thread that runs the hypercalls is filtered (SANDBOX_HVT), and so is the process.
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
# A signal ends a unikernel blocked in poll at once (status 12).
( timeout 20 "$MOTE" hvt "$H/time.hvt" sleep=10000 >/dev/null 2>"$TMP/sig.err" & pid=$!
  sleep 0.3; kill -TERM $pid; wait $pid; echo $? >"$TMP/sig.rc" )
[ "$(cat "$TMP/sig.rc")" = 12 ] && pass hvt-signal || fail hvt-signal "status $(cat "$TMP/sig.rc")"

disk=$TMP/disk.img
truncate -s 1M "$disk"
check hvt-blk 0 "blk: all checks passed" "" hvt --block:storage="$disk" "$H/blk.hvt"
has hvt-blk "storage: handle 1, 1048576 bytes, block 512" && pass hvt-blk-info || fail hvt-blk-info "$(head -1 "$TMP/hvt-blk.out")"
[ "$(dd if="$disk" bs=1 skip=512 count=14 2>/dev/null)" = mote-hvt-block ] && pass hvt-blk-persists ||
	fail hvt-blk-persists "the host does not see the unikernel's write"
check hvt-blk-4k 0 "blk: all checks passed" "" hvt --block:storage="$disk" --block-sector-size:storage=4096 "$H/blk.hvt"
has hvt-blk-4k "block 4096" && pass hvt-blk-4k-info || fail hvt-blk-4k-info "$(head -1 "$TMP/hvt-blk-4k.out")"
truncate -s 6144 "$TMP/6k.img"
refuse hvt-blk-4k-odd 4 "6144 bytes, not a whole number of 4096-byte sectors" \
	hvt --block:storage="$TMP/6k.img" --block-sector-size:storage=4096 "$H/blk.hvt"

for m in write-text:0x3 exec-data:0x11 zero-read:0x0 zero-write:0x2 ro-bootinfo:0x3 pagetable:0x0; do
	check "hvt-fault-${m%%:*}" 255 "trap: vector 14 error code ${m#*:} " \
		"unikernel aborted after a CPU exception" hvt "$H/fault.hvt" "${m%%:*}"
done

check hvt-fault-hlt 8 "fault: hlt" "guest halted with interrupts that can never arrive" hvt "$H/fault.hvt" hlt

for m in arg-oob:"puts hypercall argument at 0xfffff000" arg-end:"is not in guest memory" \
	arg-pagetable:"walltime hypercall argument at 0x2000 lies in the tender's area" \
	puts-oob:"puts buffer" puts-wrap:"puts buffer 0xfffffffffffff000" \
	puts-huge:"puts buffer 0x100000 + 4611686018427387904" \
	blk-pagetable:"block read buffer 0x2000 lies in the tender's area" \
	blk-wrap:"block read buffer 0xffffffffffffff00" blk-oob:"block write buffer" \
	nr-zero:"unknown hypercall number 0" nr-max:"unknown hypercall number 9" \
	port:"invalid port access: 1-byte write to port 0x80" port-in:"read of port 0x502" \
	mmio-bad:"unbacked guest-physical address 0x100001000" cookie-oob:"halt cookie"; do
	check "hvt-hostile-${m%%:*}" 8 "hostile: ${m%%:*}" "${m#*:}" \
		hvt --block:storage="$disk" "$H/hostile.hvt" "${m%%:*}"
	has "hvt-hostile-${m%%:*}" "survived" && fail "hvt-hostile-${m%%:*}-ends" "the unikernel ran on"
done

# --- refused command lines (status 2) -----------------------------------------------
refuse hvt-cli-no-kernel 2 "missing UNIKERNEL" hvt
refuse hvt-cli-mem-word 2 "--mem=lots: expected a whole number of MiB" hvt --mem=lots "$H/hello.hvt"
refuse hvt-cli-mem-big 2 "guest memory must be 2 to 3072 MiB" hvt --mem=99999 "$H/hello.hvt"
refuse hvt-cli-unknown 2 "unknown option '--frob'" hvt --frob "$H/hello.hvt"
refuse hvt-cli-bad-name 2 "NAME made of letters and digits" hvt --block:st-orage=x "$H/hello.hvt"
refuse hvt-cli-twice 2 "device 'storage' is attached twice" hvt --block:storage=a --net:storage=b "$H/blk.hvt"
refuse hvt-cli-mac-alone 2 "--net-mac:service: no --net:service=IFACE" hvt --net-mac:service=02:00:00:00:00:01 "$H/net.hvt"
refuse hvt-cli-mac-bad 2 "expected a MAC address" hvt --net:service=t0 --net-mac:service=02:00:00:00:00 "$H/net.hvt"
refuse hvt-cli-mac-multicast 2 "multicast" hvt --net:service=t0 --net-mac:service=01:00:00:00:00:01 "$H/net.hvt"
many=
for i in $(seq 1 64); do many="$many --block:d$i=$disk"; done
refuse hvt-too-many-devices 2 "too many devices (at most 63)" hvt $many "$H/blk.hvt"
refuse hvt-undeclared-block 2 "the unikernel declares no block device 'storage' (it declares: none)" \
	hvt --block:storage="$disk" "$H/hello.hvt"
refuse hvt-undeclared-net 2 "declares no network device 'x' (it declares: service)" hvt --net:x=t0 "$H/net.hvt"
refuse hvt-unattached 2 "declares block device 'storage' but it is not attached: add --block:storage=PATH" \
	hvt "$H/blk.hvt"
refuse hvt-disk-missing 4 "--block:storage:" hvt --block:storage="$TMP/nope.img" "$H/blk.hvt"
head -c 1000 /dev/zero >"$TMP/odd.img"
refuse hvt-disk-odd-size 4 "1000 bytes, not a whole number of 512-byte sectors" hvt --block:storage="$TMP/odd.img" "$H/blk.hvt"
refuse hvt-no-file 4 "cannot" hvt "$TMP/nope.hvt"

# --- refused unikernel files (status 4) -------------------------------------------------
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
	refuse "$1" 4 "$4" hvt $dev "$TMP/$1.hvt"
}
bad hvt-mft-bad-magic hello 'b[note(b"MFT1")+12:note(b"MFT1")+16] = b"MFT9"' "no Solo5 manifest (MFT1 note)"
bad hvt-mft-version hello 'u32(mft(), 2)' "manifest version 2, mote reads version 1"
bad hvt-mft-too-many hello 'u32(mft() + 4, 65)' "manifest has 65 entries; 1 to 64 are allowed"
bad hvt-mft-no-entries hello 'u32(mft() + 4, 0)' "manifest has 0 entries"
bad hvt-mft-size hello 'u32(mft() + 4, 2)' "manifest is 112 bytes but 2 entries need 216"
bad hvt-mft-unterminated blk 'b[ent(1):ent(1)+68] = b"A" * 68' "manifest entry 1: name is not NUL-terminated"
bad hvt-mft-unknown-type blk 'u32(ent(1) + 68, 7)' "manifest entry 1 has unknown device type 7"
bad hvt-mft-attached blk 'b[ent(1) + 96] = 1' "'attached' is set in the file"
bad hvt-mft-reserved hello 'u32(ent(0) + 68, 1)' "manifest entry 0 must be the reserved entry"
bad hvt-mft-empty-name blk 'b[ent(1)] = 0' "device name must be 1 to 67 letters or digits"
bad hvt-abi-version hello 'u32(abi() + 4, 1)' "unikernel uses hvt ABI version 1; mote runs version 2"
bad hvt-abi-target hello 'u32(abi(), 2)' "built for Solo5 target 2"
bad hvt-abi-missing hello 'b[note(b"ABI1")+12:note(b"ABI1")+16] = b"ABI9"' "no Solo5 ABI1 note"
bad hvt-elf-magic hello 'b[1] = 0x45 ^ 1' "not an ELF file"
bad hvt-elf-truncated hello 'del b[200:]' "truncated ELF file"
bad hvt-elf-wx hello 'u32(ph(1) + 4, 7)' "is both writable and executable: mote enforces W^X"
bad hvt-elf-entry-data hello 'u64(24, 0x101000)' "lies in segment 1, which is not executable"
bad hvt-elf-low hello 'u64(ph(0) + 24, 0x1000)' "below the lowest address"
bad hvt-elf-beyond-ram hello 'u64(ph(1) + 24, 0x40000000)' "lies outside guest memory"
bad hvt-elf-phnum hello 'struct.pack_into("<H", b, 56, 0)' "program headers"
refuse hvt-elf-pie 4 "not an executable (ET_EXEC)" hvt /bin/true

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
ip -n "$ns" addr add 10.77.0.1/24 dev "$tap"
ip -n "$ns" link set "$tap" up
ip netns exec "$ns" timeout 20 "$MOTE" hvt --net:service="$tap" --net-mac:service=02:00:00:77:00:02 \
	"$H/net.hvt" count=3 >"$TMP/net.out" 2>"$TMP/net.err" &
pid=$!
sleep 0.3
ip netns exec "$ns" ping -c 3 -i 0.2 -W 3 10.77.0.2 >"$TMP/ping.out" 2>&1
prc=$?
wait $pid
rc=$?
if [ $prc = 0 ] && [ $rc = 0 ] && grep -q "answered 3 pings" "$TMP/net.out" &&
	grep -q "mac 2:0:0:77:0:2 mtu 1500" "$TMP/net.out"; then
	pass hvt-net-ping
else
	fail hvt-net-ping "ping $prc, mote $rc: $(tail -2 "$TMP/ping.out") $(cat "$TMP/net.out" "$TMP/net.err")"
fi
