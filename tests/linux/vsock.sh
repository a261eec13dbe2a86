# Linux's own vsock transport (vsock, vmw_vsock_virtio_transport_common,
# vmw_vsock_virtio_transport from the guest kit) against mote's hybrid vsock (docs/vsock.md),
# in one boot with --vsock cid=3,uds=PATH. Both ends run vsockt (tests/linux/vsockt.c, built
# static by make into build/linux/; appended to the guest kit's initramfs here):
#   linux-vsock-boot            the guest reaches its command, its transport is up (socket
#                               AF_VSOCK works, /dev/vsock exists), mote ends with status 0
#   linux-vsock-host-echo       host -> guest: CONNECT 1234 to the guest's echo server, OK, a line
#                               comes back byte for byte
#   linux-vsock-host-stream     host -> guest: $SIZE random bytes through the guest's echo server,
#                               the same sha256 comes back
#   linux-vsock-host-refused    CONNECT to a guest port nobody listens on: closed without an OK
#   linux-vsock-guest-echo      guest -> host (CID 2, port 5000 = PATH_5000, a host echo server):
#                               $SIZE bytes back with the guest's own sha256
#   linux-vsock-guest-stream-out  guest -> host port 5001: the host's sha256 of what arrived
#                               equals the guest's of what it sent (the guest shuts down its side)
#   linux-vsock-guest-stream-in   guest -> host port 5002, the host sends $SIZE bytes and closes:
#                               the guest's sha256 equals the host's
#   linux-vsock-guest-refused   the guest connects to a host port nobody listens on: connect fails
# SIZE: 4 MiB, 32 MiB with MOTE_SLOW=1 (MOTE_LINUX_VSOCK_BYTES overrides). Run directly on a host
# with hardware virtualization, or through tests/nested/host.sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

linux_setup linux-vsock || exit 0
VT=$BUILD/linux/vsockt
if [ ! -x "$VT" ]; then
	fail linux-vsock "no $VT (run make: tests/linux/linux.mk builds it)"
	exit 0
fi
SIZE=${MOTE_LINUX_VSOCK_BYTES:-$([ "${MOTE_SLOW:-0}" = 1 ] && echo 33554432 || echo 4194304)}
PIDS=""
trap 'for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

# The guest kit's initramfs followed by a second archive with /bin/vsockt (the kernel unpacks
# both; guest/cpio.sh).
(
	. guest/cpio.sh
	cat "$initramfs"
	c_file bin/vsockt 0755 "$VT"
	c_trailer
) >"$TMP/initrd" || {
	fail linux-vsock "could not append vsockt to $initramfs"
	exit 0
}

UDS=$TMP/v.sock
head -c "$SIZE" /dev/urandom >"$TMP/hostdata"
host_sha=$(sha256sum <"$TMP/hostdata" | cut -c1-64)
# The host's listeners for the guest's connections (PATH_<port>), up before the guest runs.
"$VT" -e -t 400 "unix-listen:${UDS}_5000" 2>"$TMP/l5000.err" &
PIDS="$PIDS $!"
"$VT" -k -t 400 "unix-listen:${UDS}_5001" </dev/null >"$TMP/sink" 2>"$TMP/l5001.err" &
SINKPID=$!
PIDS="$PIDS $!"
"$VT" -t 400 "unix-listen:${UDS}_5002" <"$TMP/hostdata" >/dev/null 2>"$TMP/l5002.err" &
PIDS="$PIDS $!"

# $((...)) is expanded by the guest's shell: the printed words differ from the command line.
# No quotes inside: the kernel command line carries the whole command in mote.cmd="...".
cmd="vsockt -e -c 0 -t 600 vsock-listen:1234 & sleep 1
echo VS-DEV \$(ls /dev/vsock) \$(ls /sys/module | grep -c vsock)
head -c $SIZE /dev/urandom >/tmp/out; echo VS-OUT \$(sha256sum </tmp/out | cut -c1-64)
echo VS-READY-\$((1 + 1))
vsockt -k -n $SIZE vsock-connect:2:5000 </tmp/out >/tmp/back; echo VS-ECHO \$? \$(sha256sum </tmp/back | cut -c1-64)
vsockt vsock-connect:2:5001 </tmp/out >/dev/null; echo VS-SINK \$?
vsockt vsock-connect:2:5002 </dev/null >/tmp/in; echo VS-IN \$? \$(sha256sum </tmp/in | cut -c1-64)
vsockt vsock-connect:2:5009 </dev/null; echo VS-REFUSED \$?
echo VS-GUEST-DONE-\$((2 + 2))
vsockt -t 500 vsock-listen:1235 </dev/null; echo VS-END \$?
poweroff"
cmd=${cmd//$'\n'/; }
N=linux-vsock-boot
T=$TMP/$N.txt
t0=$(cut -d' ' -f1 /proc/uptime)
timeout -s TERM "$LTIMEOUT" "$MOTE" -v run --mem 256M --vsock "cid=3,uds=$UDS" \
	--cmdline "mote.quiet=1 mote.cmd=\"$cmd\"" --initrd "$TMP/initrd" "$vmlinuz" \
	</dev/null >"$TMP/$N.out" 2>"$TMP/$N.err" &
MPID=$!
PIDS="$PIDS $MPID"

# wait_line PATTERN: until the console has a line matching PATTERN (or mote ended).
wait_line() {
	for _ in $(seq $((LTIMEOUT * 5))); do
		clean $N
		grep -q "$1" "$T" && return 0
		kill -0 "$MPID" 2>/dev/null || { clean $N; grep -q "$1" "$T"; return; }
		sleep 0.2
	done
	return 1
}

if ! wait_line '^VS-READY-2$'; then
	fail $N "the guest did not reach its command: $(tail -n 5 "$T" | tr '\n' '|')"
	show $N >&2
	exit 0
fi

# Host -> guest.
N2=linux-vsock-host-echo
line="mote-vsock-echo-$$-$RANDOM"
got=$(echo "$line" | "$VT" -k -n $((${#line} + 1)) -t 60 "unix-connect:$UDS:1234" 2>"$TMP/h1.err")
if [ "$got" = "$line" ] && grep -q '^vsockt: OK [0-9]' "$TMP/h1.err"; then pass $N2
else fail $N2 "sent '$line', got '$got': $(tr '\n' ' ' <"$TMP/h1.err")"; fi

N2=linux-vsock-host-stream
s0=$(cut -d' ' -f1 /proc/uptime)
"$VT" -k -n "$SIZE" -t 300 "unix-connect:$UDS:1234" <"$TMP/hostdata" >"$TMP/back" 2>"$TMP/h2.err"
hrc=$?
s1=$(cut -d' ' -f1 /proc/uptime)
back_sha=$(sha256sum <"$TMP/back" | cut -c1-64)
if [ $hrc = 0 ] && [ "$back_sha" = "$host_sha" ]; then
	pass "$N2 ($SIZE bytes each way in $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", b - a }') s)"
else
	fail $N2 "status $hrc, $(wc -c <"$TMP/back") of $SIZE bytes back, sha256 $back_sha vs $host_sha: $(tr '\n' ' ' <"$TMP/h2.err")"
fi

N2=linux-vsock-host-refused
"$VT" -t 30 "unix-connect:$UDS:4321" </dev/null >"$TMP/h3.out" 2>"$TMP/h3.err"
hrc=$?
if [ $hrc = 1 ] && grep -q 'no OK from mote' "$TMP/h3.err"; then pass $N2
else fail $N2 "status $hrc, expected the connection closed without OK: $(tr '\n' ' ' <"$TMP/h3.err")"; fi

# Guest -> host.
if ! wait_line '^VS-GUEST-DONE-4$'; then
	fail linux-vsock-guest "the guest's connections did not finish: $(grep '^VS-' "$T" | tr '\n' '|')"
	show $N >&2
	exit 0
fi
out_sha=$(sed -n 's/^VS-OUT \([0-9a-f]\{64\}\)$/\1/p' "$T")
if grep -q "^VS-ECHO 0 $out_sha\$" "$T" && [ -n "$out_sha" ]; then pass linux-vsock-guest-echo
else fail linux-vsock-guest-echo "$(grep -m1 '^VS-ECHO' "$T"), the guest sent $out_sha: $(tr '\n' ' ' <"$TMP/l5000.err")"; fi
wait "$SINKPID" 2>/dev/null
sink_sha=$(sha256sum <"$TMP/sink" | cut -c1-64)
if grep -q '^VS-SINK 0$' "$T" && [ "$sink_sha" = "$out_sha" ]; then pass linux-vsock-guest-stream-out
else fail linux-vsock-guest-stream-out "$(grep -m1 '^VS-SINK' "$T"), the host got $(wc -c <"$TMP/sink") bytes, sha256 $sink_sha, the guest sent $out_sha"; fi
if grep -q "^VS-IN 0 $host_sha\$" "$T"; then pass linux-vsock-guest-stream-in
else fail linux-vsock-guest-stream-in "$(grep -m1 '^VS-IN' "$T"), the host sent $host_sha: $(tr '\n' ' ' <"$TMP/l5002.err")"; fi
if grep -q '^VS-REFUSED 1$' "$T" && grep -q 'connect vsock' "$T"; then pass linux-vsock-guest-refused
else fail linux-vsock-guest-refused "$(grep -m1 '^VS-REFUSED' "$T"); $(grep -m1 'vsockt: connect' "$T")"; fi

# Tell the guest to power off: a connection to its port 1235.
"$VT" -t 30 "unix-connect:$UDS:1235" </dev/null >/dev/null 2>"$TMP/h4.err"
rc=999
for _ in $(seq 300); do
	if ! kill -0 "$MPID" 2>/dev/null; then
		wait "$MPID"
		rc=$?
		break
	fi
	sleep 0.2
done
secs=$(awk -v t0="$t0" '{ printf "%.1f", $1 - t0 }' /proc/uptime)
echo "  $N: mote status $rc after $secs s" >&2
clean $N
if [ "$rc" = 0 ] && grep -q '^VS-DEV /dev/vsock [1-9]' "$T" && grep -q '^VS-END 0$' "$T"; then pass $N
else
	fail $N "mote status $rc (999: still running 60 s after the host's last connection), $(grep -m1 '^VS-DEV' "$T"), $(grep -m1 '^VS-END' "$T")"
	show $N >&2
fi
# Guest errors mote logged (informational: the console log of the nested host shows them).
grep 'guest error' "$TMP/$N.err" | head -n 5 | sed "s/^/  $N: /" >&2
exit 0
