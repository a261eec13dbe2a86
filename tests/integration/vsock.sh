# virtio-vsock with Firecracker's hybrid vsock host side (docs/vsock.md): the vsock test
# guests (tests/guests/vsock.c, vsockhostile.c) against host programs on Unix sockets
# (vsock_host.py): host -> guest echo, 200 connections at once, guest -> host connections,
# 256 MiB each way with sha256 on both ends, a host reader that stops (the guest blocks, mote's
# memory stays flat), a guest that stops reading (credit), refused connections both ways, the
# connection limit, hostile packets (and their counters in the API metrics), an idle device's
# CPU cost, the socket's life, and the command line's refusals. Every run is sandboxed.
. "$(dirname "$0")/lib.sh"
# Streams of 256 MiB take 3-5 s here, much longer on a loaded machine: generous bounds.
export VM_TIMEOUT=180

HOST="python3 $(dirname "$0")/vsock_host.py"
S=$TMP/v.sock # PATH; PATH_<port> beside it
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# bg NAME ARGS...: mote in the background (60 s bound), output in $TMP/NAME.out/.err; waits
# until the device's socket exists. BG: the pid of mote itself.
bg() {
	local name=$1
	shift
	"$MOTE" "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
	BG=$!
	PIDS="$PIDS $BG"
	for _ in $(seq 600); do
		[ -S "$S" ] && grep -q "vsock: ready\|vsock: idle" "$TMP/$name.out" 2>/dev/null && return 0
		kill -0 "$BG" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
# finish: waits (bounded) for the background mote; its status in $rc.
finish() {
	local i
	for i in $(seq 1800); do kill -0 "$BG" 2>/dev/null || break; sleep 0.1; done
	kill "$BG" 2>/dev/null
	wait "$BG"
	rc=$?
}
# host NAME ARGS...: a host program in the background (result line in $TMP/NAME.host); waits
# until it listens when it is a listener.
host() {
	local name=$1
	shift
	: >"$TMP/$name.host"
	$HOST "$@" >"$TMP/$name.host" 2>&1 &
	HPID=$!
	PIDS="$PIDS $HPID"
	case "$1" in serve | hold | sink)
		for _ in $(seq 100); do grep -q listening "$TMP/$name.host" && return; sleep 0.05; done ;;
	esac
}
hostres() { wait "$HPID"; grep -v '^listening' "$TMP/$1.host" | tail -1; }
sha() { sed -n "s/.*sha256 \([0-9a-f]*\).*/\1/p" "$1" | tail -1; }

VS="--vsock cid=3,uds=$S"

# ---- host -> guest: echo, one connection and 200 at once ----------------------------------------
if bg echo run $VS --cmdline "secs=170" "$G/vsock.elf"; then
	m=$(stat -c %a "$S")
	[ "$m" = 600 ] && pass vsock-socket-mode-0600 || fail vsock-socket-mode-0600 "mode $m"
	r=$($HOST echo "$S" 1234 1 5000)
	case "$r" in ok*) pass vsock-host-to-guest-echo ;; *) fail vsock-host-to-guest-echo "$r" ;; esac
	r=$($HOST echo "$S" 1234 200 20000)
	case "$r" in "ok 200 connections"*) pass vsock-200-connections ;; *) fail vsock-200-connections "$r" ;; esac
	r=$($HOST refused "$S" 4321)
	case "$r" in ok*) pass vsock-host-to-unlistened-port ;; *) fail vsock-host-to-unlistened-port "$r" ;; esac
	r=$($HOST badline "$S" 'HELLO 1234\n')
	r2=$($HOST badline "$S" 'CONNECT 99999999999999999999999999999999\n')
	case "$r/$r2" in ok*/ok*) pass vsock-bad-connect-line ;; *) fail vsock-bad-connect-line "$r / $r2" ;; esac
	$HOST echo "$S" 9999 1 1 >/dev/null # the guest's quit port
	finish
	[ "$rc" = 1 ] && ! [ -e "$S" ] && pass vsock-socket-removed-at-exit ||
		fail vsock-socket-removed-at-exit "status $rc, socket $(ls -l "$S" 2>&1)"
else
	fail vsock-host-to-guest-echo "the guest did not come up: $(head -c 300 "$TMP/echo.err")"
fi

# ---- guest -> host: PATH_<port>, several connections; nobody listening: RST ---------------------
host serve serve "${S}_5000" 20
check vsock-guest-to-host 1 "vsock: connect ok n=20" "" run $VS --cmdline "mode=connect n=20 size=30000" "$G/vsock.elf"
r=$(hostres serve)
case "$r" in "ok served 20") ;; *) fail vsock-guest-to-host-server "$r" ;; esac
check vsock-guest-to-unlistened-port 1 "vsock: refused ok" "" run $VS --cmdline "mode=refused hport=5001" "$G/vsock.elf"

# ---- 256 MiB each way, sha256 on both ends ---------------------------------------------------------
host sink sink "${S}_5000"
check vsock-256m-guest-to-host 1 "vsock: sent 268435456 bytes" "" run $VS --cmdline "mode=send mib=256 secs=300" "$G/vsock.elf"
r=$(hostres sink)
g=$(sha "$TMP/vsock-256m-guest-to-host.out")
case "$r" in "ok 268435456 bytes sha256 $g"*) [ -n "$g" ] && pass vsock-256m-guest-to-host-sha256 ||
	fail vsock-256m-guest-to-host-sha256 "no guest hash" ;;
*) fail vsock-256m-guest-to-host-sha256 "guest $g, host: $r" ;; esac

if bg recv run $VS --cmdline "mode=recv secs=300" "$G/vsock.elf"; then
	r=$($HOST source "$S" 1234 256)
	finish
	g=$(sha "$TMP/recv.out")
	case "$r" in "ok 268435456 bytes sha256 $g"*)
		[ -n "$g" ] && grep -q "received 268435456 bytes" "$TMP/recv.out" && pass vsock-256m-host-to-guest-sha256 ||
			fail vsock-256m-host-to-guest-sha256 "$(tail -1 "$TMP/recv.out")" ;;
	*) fail vsock-256m-host-to-guest-sha256 "guest $g ($(tail -1 "$TMP/recv.out")), host: $r" ;; esac
else
	fail vsock-256m-host-to-guest-sha256 "the guest did not come up: $(head -c 300 "$TMP/recv.err")"
fi

# ---- back-pressure: a host reader that stops (the guest blocks, mote's memory stays flat) -------
host slow sink "${S}_5000" 8388608 3 "@$TMP/slow.pid" "$TMP/slow.out"
"$MOTE" run $VS --cmdline "mode=send mib=48 step=1" "$G/vsock.elf" >"$TMP/slow.out" 2>"$TMP/slow.err" &
echo $! >"$TMP/slow.pid"
BG=$!
finish
r=$(hostres slow)
g=$(sha "$TMP/slow.out")
# rss_kib=a,b,c lines=x,y,z: sampled at the start, middle and end of the 3 s pause.
set -- $(echo "$r" | sed -n 's/.*rss_kib=\([0-9]*\),\([0-9]*\),\([0-9]*\) lines=\([0-9]*\),\([0-9]*\),\([0-9]*\).*/\1 \2 \3 \4 \5 \6/p')
if [ "$rc" != 1 ] || [ $# != 6 ]; then
	fail vsock-slow-host-reader "status $rc, host: $r"
elif [ $(($3 - $1)) -gt 1024 ] || [ "$6" != "$5" ] || [ "$6" -gt 14 ]; then
	fail vsock-slow-host-reader "RSS $1 -> $3 KiB (must stay within 1 MiB), guest progress lines $4,$5,$6 (must stop)"
else
	case "$r" in "ok 50331648 bytes sha256 $g"*) pass vsock-slow-host-reader ;;
	*) fail vsock-slow-host-reader "hash differs: guest $g, host $r" ;; esac
fi

# ---- back-pressure: a guest that stops reading gets no more than its credit ------------------------
if bg noread run $VS --cmdline "mode=recv stall=1048576 stall_ms=1500 secs=300" "$G/vsock.elf"; then
	r=$($HOST source "$S" 1234 16)
	finish
	g=$(sha "$TMP/noread.out")
	if grep -q "stalled 1500 ms" "$TMP/noread.out" && case "$r" in "ok 16777216 bytes sha256 $g"*) true ;; *) false ;; esac; then
		pass vsock-guest-stops-reading
	else
		fail vsock-guest-stops-reading "$(grep -h 'stall\|FAIL\|received' "$TMP/noread.out" | tr '\n' ' ') host: $r"
	fi
else
	fail vsock-guest-stops-reading "the guest did not come up: $(head -c 300 "$TMP/noread.err")"
fi

# ---- the connection limit: 1024 connections, then RSTs ------------------------------------------------
host hold hold "${S}_5000" 8
check vsock-1024-connections-then-rst 1 "vsock: many open=1024 refused=6" "" run $VS \
	--cmdline "mode=many n=1030" "$G/vsock.elf"
kill "$HPID" 2>/dev/null

# ---- hostile packets: each answered as the spec allows, counted; mote survives ------------------------
host hserve serve "${S}_5000" 1000
host hsink hold "${S}_5002" 30
SOCK=$TMP/api.sock
"$MOTE" --api-sock "$SOCK" >"$TMP/hostile.out" 2>"$TMP/hostile.err" &
BG=$!
PIDS="$PIDS $BG"
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
api() { curl -s -o /dev/null --unix-socket "$SOCK" -X "$1" "http://localhost$2" -H "Content-Type: application/json" ${3:+-d "$3"}; }
api PUT /boot-source "{\"kernel_image_path\":\"$G/vsockhostile.elf\"}"
api PUT /vsock "{\"guest_cid\":3,\"uds_path\":\"$S\"}"
api PUT /metrics "{\"metrics_path\":\"$TMP/hostile.metrics\"}"
api PUT /actions '{"action_type":"InstanceStart"}'
for _ in $(seq 1200); do grep -q "vsockhostile: PASS\|FAIL" "$TMP/hostile.out" && break; sleep 0.05; done

finish
m=$(tail -1 "$TMP/hostile.metrics")
if grep -q "vsockhostile: PASS" "$TMP/hostile.out" && grep -q "guest error" "$TMP/hostile.err"; then
	pass vsock-hostile-guest
else
	fail vsock-hostile-guest "$(grep FAIL "$TMP/hostile.out") $(head -c 300 "$TMP/hostile.err")"
fi
if echo "$m" | grep -q '"virtio-vsock":{' && echo "$m" | grep -q '"credit_errors":1' &&
	echo "$m" | grep -q '"dropped":[1-9]' && echo "$m" | grep -q '"rst_sent":[1-9]' &&
	echo "$m" | grep -q '"guest_errors":[1-9]'; then
	pass vsock-hostile-counted-in-metrics
else
	fail vsock-hostile-counted-in-metrics "$(echo "$m" | grep -o '"virtio-vsock":{[^}]*}')"
fi
kill "$HPID" 2>/dev/null

# ---- an idle vsock costs no CPU -------------------------------------------------------------------
if bg idle run $VS --cmdline "ring0 mode=idle" "$G/vsock.elf"; then
	sleep 0.5
	ticks=$(cpu_ticks "$BG" 2)
	kill "$BG" 2>/dev/null
	wait "$BG" 2>/dev/null
	[ "$ticks" -le 4 ] && pass vsock-idle-no-cpu ||
		fail vsock-idle-no-cpu "mote used $ticks clock ticks in 2 s while the guest was idle"
else
	fail vsock-idle-no-cpu "the guest did not come up: $(head -c 300 "$TMP/idle.err")"
fi

# ---- the sandbox keeps AF_INET out even with the Unix-socket rules -------------------------------
MOTE_SANDBOX_SELFTEST=I/O vm vsock-io-thread-no-inet run $VS --cmdline "mode=idle" "$G/vsock.elf"
[ "$rc" = 10 ] && has_err vsock-io-thread-no-inet "I/O thread made forbidden system call 41" &&
	pass vsock-io-thread-no-inet || fail vsock-io-thread-no-inet "status $rc: $(head -c 200 "$TMP/vsock-io-thread-no-inet.err")"

# ---- refusals: one line, status 2, nothing left behind -----------------------------------------
refuse vsock-cid-reserved 2 "guest CID 2" run --vsock "cid=2,uds=$S" "$G/vsock.elf"
refuse vsock-cid-too-big 2 "guest CID 4294967295" run --vsock "cid=4294967295,uds=$S" "$G/vsock.elf"
refuse vsock-cid-not-a-number 2 "cid='x3'" run --vsock "cid=x3,uds=$S" "$G/vsock.elf"
refuse vsock-no-uds 2 "needs both" run --vsock "cid=3" "$G/vsock.elf"
refuse vsock-unknown-option 2 "unknown --vsock option 'port=1'" run --vsock "cid=3,uds=$S,port=1" "$G/vsock.elf"
refuse vsock-path-too-long 2 "longer than 96 bytes" run --vsock "cid=3,uds=/tmp/$(printf '%0100d' 0)" "$G/vsock.elf"
refuse vsock-twice 2 "given twice" run $VS $VS "$G/vsock.elf"
touch "$TMP/file"
refuse vsock-uds-is-a-file 2 "exists and is not a socket" run --vsock "cid=3,uds=$TMP/file" "$G/vsock.elf"
[ -f "$TMP/file" ] && pass vsock-uds-file-left-alone || fail vsock-uds-file-left-alone "the file is gone"
refuse vsock-uds-dir-missing 2 "No such file or directory" run --vsock "cid=3,uds=$TMP/nodir/v.sock" "$G/vsock.elf"
if bg live run $VS --cmdline "secs=20" "$G/vsock.elf"; then
	refuse vsock-uds-in-use 2 "another process serves this socket" run $VS "$G/vsock.elf"
	kill "$BG"
	wait "$BG" 2>/dev/null
else
	fail vsock-uds-in-use "the first VM did not come up"
fi
exit 0
