# mote as solo5-hvt, side by side with Solo5 0.12.1's own tender on mote's test unikernels:
# the same exit status, and mote's message contains the words solo5-hvt printed for the same
# error (what its tooling and tests match). Skipped when the peer binary is not there: set
# SOLO5_HVT, or put it at ../shared/peers/solo5-hvt-0.12.1 (see /work/shared/peers/README.md).
. "$(dirname "$0")/lib.sh"
H=$G/hvt
root=$(cd "$(dirname "$0")/../.." && pwd)
PEER=${SOLO5_HVT:-}
for p in "$root/../shared/peers/solo5-hvt-0.12.1" "$root/../../shared/peers/solo5-hvt-0.12.1"; do
	[ -z "$PEER" ] && [ -x "$p" ] && PEER=$p
done
[ -n "$PEER" ] && [ -x "$PEER" ] || { skip hvt-peer "no solo5-hvt 0.12.1 binary (set SOLO5_HVT)"; exit 0; }
[ -f "$H/hello.hvt" ] || { skip hvt-peer "test unikernels not built (make guests)"; exit 0; }
ln -sf "$(cd "$BUILD" && pwd)/mote" "$TMP/solo5-hvt"

# same NAME 'REGEX' ARGS...: both tenders with ARGS; equal statuses, equal stdout, and the
# text REGEX matches in solo5-hvt's stderr must appear in mote's (REGEX empty: statuses only).
same() {
	local name=$1 re=$2
	shift 2
	timeout 20 "$PEER" "$@" >"$TMP/$name.pout" 2>"$TMP/$name.perr" </dev/null
	local prc=$?
	timeout 20 "$TMP/solo5-hvt" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
	local mrc=$?
	local words=
	[ -n "$re" ] && words=$(grep -oE -- "$re" "$TMP/$name.perr" | head -1)
	if [ "$prc" != "$mrc" ]; then
		fail "$name" "status $mrc, solo5-hvt $prc: $(head -c 300 "$TMP/$name.err")"
	elif ! cmp -s "$TMP/$name.out" "$TMP/$name.pout"; then
		fail "$name" "stdout differs: $(head -c 200 "$TMP/$name.out") / $(head -c 200 "$TMP/$name.pout")"
	elif [ -n "$re" ] && [ -z "$words" ]; then
		fail "$name" "solo5-hvt did not say '$re': $(head -c 300 "$TMP/$name.perr")"
	elif [ -n "$re" ] && ! grep -qF -- "$words" "$TMP/$name.err"; then
		fail "$name" "mote lacks solo5-hvt's '$words': $(head -c 300 "$TMP/$name.err")"
	else
		pass "$name"
	fi
}

disk=$TMP/disk.img
truncate -s 1M "$disk"
head -c 1000 /dev/zero >"$TMP/odd.img"
: >"$TMP/empty.img"
same peer-hello "" --mem=64 "$H/hello.hvt" one two
same peer-exit "" "$H/hello.hvt" exit=7
same peer-abort "" "$H/hello.hvt" abort
same peer-mem-4g "" --mem=4096 "$H/hello.hvt"
same peer-mem-4097 "adjusting memory to [0-9]+ bytes" --mem=4097 "$H/hello.hvt"
same peer-mem-1 "adjusting memory to [0-9]+ bytes" --mem=1 "$H/hello.hvt"
same peer-mem-big "guest memory size [0-9]+ bytes exceeds the max size [0-9]+ bytes" --mem=4098 "$H/hello.hvt"
same peer-mem-zero "Malformed argument to --mem" --mem=0 "$H/hello.hvt"
same peer-unknown "Invalid option: \`--frob'" --frob "$H/hello.hvt"
same peer-no-kernel "Missing KERNEL operand"
same peer-help "Compiled-in modules: core block net " --help
same peer-version "tender, version v0\.12\.1" --version
same peer-no-file "Could not open" "$TMP/nope.hvt"
same peer-unattached "Device 'storage' of type BLOCK_BASIC declared but not attached\." "$H/blk.hvt"
same peer-all-attached "All declared devices must be attached\. See --help for syntax\." "$H/blk.hvt"
same peer-undeclared "Resource not declared in manifest: 'storage'" --block:storage="$disk" "$H/hello.hvt"
same peer-blk-odd "storage: Backing storage size must be block aligned \([0-9]+ bytes\)" \
	--block:storage="$TMP/odd.img" "$H/blk.hvt"
same peer-blk-empty "storage: Backing storage must be at least 1 block \([0-9]+ bytes\) in size" \
	--block:storage="$TMP/empty.img" "$H/blk.hvt"
same peer-sector "Block size must be a multiple of 2 greater than or equal 512" \
	--block:storage="$disk" --block-sector-size:storage=1000 "$H/blk.hvt"
same peer-blk "" --block:storage="$disk" "$H/blk.hvt" any-length
same peer-blk-4k "" --block:storage="$disk" --block-sector-size:storage=4096 "$H/blk.hvt" any-length
same peer-write-text "" "$H/fault.hvt" write-text
same peer-write-rodata "" "$H/fault.hvt" write-rodata
same peer-hlt "KVM: unhandled exit: exit_reason=0x5, rip=0x[0-9a-f]+" "$H/fault.hvt" hlt
same peer-zero-read "" "$H/fault.hvt" zero-read
same peer-nr-zero "Invalid guest hypercall: num=0" --block:storage="$disk" "$H/hostile.hvt" nr-zero
same peer-nr-max "Invalid guest port access: port=0x509" --block:storage="$disk" "$H/hostile.hvt" nr-max
same peer-port "Invalid guest port access: port=0x80" --block:storage="$disk" "$H/hostile.hvt" port
for k in arg-oob arg-end puts-oob puts-wrap blk-wrap blk-oob; do
	same "peer-hostile-$k" "Invalid guest access: gpa=0x[0-9a-f]+, sz=[0-9]+" \
		--block:storage="$disk" "$H/hostile.hvt" "$k"
done
# A signal: solo5-hvt 0.12.1 says "Exiting on signal 15" and ends with 1.
for t in "$PEER" "$TMP/solo5-hvt"; do
	timeout 20 "$t" "$H/time.hvt" sleep=10000 >/dev/null 2>"$TMP/sig.err" &
	pid=$!
	sleep 0.3
	kill -TERM $pid
	wait $pid
	echo "$? $(grep -o 'Exiting on signal 15' "$TMP/sig.err")" >>"$TMP/sig.both"
done
[ "$(sort -u "$TMP/sig.both" | wc -l)" = 1 ] && grep -q "^1 Exiting on signal 15" "$TMP/sig.both" &&
	pass peer-signal || fail peer-signal "$(cat "$TMP/sig.both")"

# The 0.12 net ring, over a tap in a private netns: the same unikernel pings through it under
# both tenders (the proof that mote's ring is solo5-hvt's), and the tap's 9000-byte MTU.
ns=mote-peer-$$
tap=mpeer$$
if ! ip netns add "$ns" 2>/dev/null || ! ip -n "$ns" tuntap add dev "$tap" mode tap 2>/dev/null; then
	skip peer-net "cannot create a network namespace with a tap"
	ip netns del "$ns" 2>/dev/null
	exit 0
fi
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$TMP"' EXIT
ip -n "$ns" addr add 10.77.0.1/24 dev "$tap"
ip -n "$ns" link set "$tap" mtu 9000
ip -n "$ns" link set "$tap" up
for t in peer:"$PEER" mote:"$TMP/solo5-hvt"; do
	ip netns exec "$ns" timeout 20 "${t#*:}" --net:service="$tap" "$H/net_ring.hvt" \
		>"$TMP/ring-${t%%:*}.out" 2>&1 &
	pid=$!
	sleep 0.4
	ip netns exec "$ns" ping -c 3 -i 0.2 -W 3 10.77.0.2 >/dev/null 2>&1
	prc=$?
	wait $pid
	echo "ping $prc status $?" >>"$TMP/ring-${t%%:*}.out"
done
if cmp -s "$TMP/ring-peer.out" "$TMP/ring-mote.out" && grep -q "answered 3 pings through the ring" "$TMP/ring-mote.out" &&
	grep -q "mtu 9000" "$TMP/ring-mote.out" && grep -q "ping 0 status 0" "$TMP/ring-mote.out"; then
	pass peer-net-ring
else
	fail peer-net-ring "mote: $(cat "$TMP/ring-mote.out") / solo5-hvt: $(cat "$TMP/ring-peer.out")"
fi
