# Linux's own virtio_balloon driver against mote's balloon (docs/balloon.md), through the API:
# PUT /boot-source, /machine-config (256 MiB), /balloon (amount_mib 0, statistics every 1 s, no
# deflate_on_oom, so the driver takes inflated pages off the guest's MemTotal), InstanceStart.
# The guest fills a tmpfs with all but 24 MiB of its free memory and removes the file, so the
# pages its allocator hands out next are ones the host has backed.
#   linux-balloon-boot        the guest reaches its command and /balloon/statistics answers
#   linux-balloon-stats       total_memory is the guest's own MemTotal (in bytes), free_memory and
#                             available_memory are there and below it
#   linux-balloon-inflate     PATCH /balloon {"amount_mib": 64}: actual_mib reaches 64 and the
#                             guest's MemTotal falls by exactly 64 MiB
#   linux-balloon-rss-drop    mote's VmRSS drops by at least 40 MiB
#   linux-balloon-stats-after total_memory follows the guest's MemTotal after the inflate
#   linux-balloon-deflate     PATCH /balloon {"amount_mib": 0}: actual_mib 0, MemTotal is back, the
#                             guest fills its memory again (the pages are reused: VmRSS grows by
#                             at least 40 MiB); SendCtrlAltDel ends it (mote status 0, else
#                             fail linux-balloon-end)
#   linux-balloon-reporting   a second boot with --balloon amount_mib=0,reporting=on: the guest fills
#                             and frees its memory, no inflate: Linux's free page reporting makes
#                             mote's VmRSS drop by at least 40 MiB within 60 s
# Needs curl. Run directly on a host with hardware virtualization, or through tests/nested/host.sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

linux_setup linux-balloon || exit 0
if ! command -v curl >/dev/null 2>&1; then
	skip linux-balloon "curl is not installed (sh scripts/deps.sh)"
	exit 0
fi
PID=""
trap '[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT

SOCK=$TMP/api.sock
N=linux-balloon-boot
T=$TMP/$N.txt
# api METHOD PATH [BODY]: one request; sets $code and $body.
api() {
	code=$(curl -s -m 10 -o "$TMP/resp" -w '%{http_code}' --unix-socket "$SOCK" -X "$1" \
		-H 'Content-Type: application/json' ${3:+--data-binary "$3"} "http://localhost$2")
	body=$(cat "$TMP/resp" 2>/dev/null)
}
step() { # step WHAT METHOD PATH BODY: a request that must answer 204
	api "$2" "$3" "$4"
	[ "$code" = 204 ] && return 0
	fail $N "$1: HTTP $code, expected 204: $body"
	return 1
}
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$body"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status" 2>/dev/null; }
# wait_line PATTERN: until the console has a line matching PATTERN (or mote ended).
wait_line() {
	for _ in $(seq $((LTIMEOUT * 5))); do
		clean $N
		grep -q "$1" "$T" && return 0
		kill -0 "$PID" 2>/dev/null || { clean $N; grep -q "$1" "$T"; return; }
		sleep 0.2
	done
	return 1
}
# wait_actual MIB: until /balloon/statistics says the balloon holds MIB (120 s).
wait_actual() {
	for _ in $(seq 600); do
		api GET /balloon/statistics
		[ "$code" = 200 ] && [ "$(field actual_mib)" = "$1" ] && return 0
		sleep 0.2
	done
	return 1
}
# wait_total BYTES: until the statistics' total_memory is BYTES (20 s).
wait_total() {
	for _ in $(seq 100); do
		api GET /balloon/statistics
		[ "$(field total_memory)" = "$1" ] && return 0
		sleep 0.2
	done
	return 1
}

"$MOTE" -v --api-sock "$SOCK" </dev/null >"$TMP/$N.out" 2>"$TMP/$N.err" &
PID=$!
for _ in $(seq 500); do [ -S "$SOCK" ] && break; sleep 0.02; done
# The guest: mt prints MemTotal (KiB). $((...)) is expanded by the guest's shell, so the printed
# words differ from the command line. No quotes: the command travels in mote.cmd="...".
cmd='echo 1 >/proc/sys/kernel/ctrl-alt-del
mt() { set -- $(grep MemTotal /proc/meminfo); echo $2; }
fill() { set -- $(grep MemFree /proc/meminfo); dd if=/dev/zero of=/fill/f bs=1048576 count=$(($2 / 1024 - 24)) 2>/dev/null; echo $?; }
mkdir -p /fill; mount -t tmpfs -o size=95% tmpfs /fill; t0=$(mt)
echo BL-FILL $(fill); rm /fill/f; echo BL-FREED-$((1 + 1)) $(mt)
while [ $(mt) -gt $((t0 - 65536)) ]; do sleep 1; done; sleep 2; echo BL-INFLATED-$((3 + 3)) $(mt)
while [ $(mt) -lt $t0 ]; do sleep 1; done; echo BL-DEFLATED-$((4 + 4)) $(mt)
echo BL-REFILL $(fill); echo BL-REFILLED-$((5 + 5))
sleep 600'
cmd=${cmd//$'\n'/; }
args="mote.quiet=1 mote.cmd=\\\"$cmd\\\""
t0=$(cut -d' ' -f1 /proc/uptime)
step boot-source PUT /boot-source \
	"{\"kernel_image_path\": \"$vmlinuz\", \"initrd_path\": \"$initramfs\", \"boot_args\": \"$args\"}" &&
	step machine-config PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}' &&
	step balloon PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false, "stats_polling_interval_s": 1}' &&
	step InstanceStart PUT /actions '{"action_type": "InstanceStart"}' || exit 0

if ! wait_line '^BL-FREED-2 [0-9]'; then
	fail $N "the guest did not reach its command: $(tail -n 5 "$T" | tr '\n' '|')"
	show $N >&2
	exit 0
fi
mt0=$(sed -n 's/^BL-FREED-2 \([0-9]*\)$/\1/p' "$T")
if ! grep -q '^BL-FILL 0$' "$T"; then
	fail $N "the guest could not fill its memory: $(grep -m1 '^BL-FILL' "$T")"
	show $N >&2
	exit 0
fi
if wait_total $((mt0 * 1024)); then pass "$N (MemTotal $mt0 KiB)"
else fail $N "total_memory $(field total_memory) after 20 s, the guest's MemTotal is $((mt0 * 1024)) bytes: $body"; show $N >&2; exit 0; fi

N2=linux-balloon-stats
free=$(field free_memory)
avail=$(field available_memory)
if [ -n "$free" ] && [ -n "$avail" ] && [ "$free" -gt 0 ] && [ "$free" -lt $((mt0 * 1024)) ] &&
	[ "$avail" -gt 0 ] && [ "$avail" -le $((mt0 * 1024)) ]; then
	pass "$N2 (total_memory $((mt0 * 1024)), free_memory $free, available_memory $avail)"
else
	fail $N2 "free_memory '$free', available_memory '$avail', total $((mt0 * 1024)): $body"
fi

sleep 1
rss0=$(rss_kib)
N2=linux-balloon-inflate
s0=$(cut -d' ' -f1 /proc/uptime)
api PATCH /balloon '{"amount_mib": 64}'
if [ "$code" != 204 ]; then
	fail $N2 "PATCH /balloon: HTTP $code: $body"
	exit 0
fi
if ! wait_actual 64; then
	fail $N2 "actual_mib is $(field actual_mib) 120 s after the PATCH: $body"
	show $N >&2
	exit 0
fi
s1=$(cut -d' ' -f1 /proc/uptime)
sleep 0.5
rss1=$(rss_kib)
if wait_line '^BL-INFLATED-6 [0-9]' && grep -q "^BL-INFLATED-6 $((mt0 - 65536))\$" "$T"; then
	pass "$N2 (64 MiB in $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", b - a }') s; MemTotal $mt0 -> $((mt0 - 65536)) KiB)"
else
	fail $N2 "the guest's MemTotal: $(grep -m1 '^BL-INFLATED' "$T" || echo 'no BL-INFLATED line'), expected $((mt0 - 65536))"
fi
drop=$((rss0 - rss1))
if [ "$drop" -ge 40960 ]; then pass "linux-balloon-rss-drop (VmRSS $rss0 -> $rss1 KiB: $((drop / 1024)) MiB)"
else fail linux-balloon-rss-drop "VmRSS $rss0 -> $rss1 KiB, a drop of $drop KiB (< 40960)"; fi

N2=linux-balloon-stats-after
if wait_total $(((mt0 - 65536) * 1024)); then pass "$N2 (total_memory $(((mt0 - 65536) * 1024)))"
else fail $N2 "total_memory $(field total_memory), expected $(((mt0 - 65536) * 1024)): $body"; fi

N2=linux-balloon-deflate
api PATCH /balloon '{"amount_mib": 0}'
if [ "$code" != 204 ]; then
	fail $N2 "PATCH /balloon: HTTP $code: $body"
	exit 0
fi
if ! wait_actual 0; then
	fail $N2 "actual_mib is $(field actual_mib) 120 s after the deflate: $body"
	exit 0
fi
if ! wait_line '^BL-REFILLED-10$'; then
	fail $N2 "the guest did not refill: $(grep '^BL-' "$T" | tr '\n' '|')"
	show $N >&2
	exit 0
fi
sleep 0.5
rss2=$(rss_kib)
grow=$((rss2 - rss1))
if grep -q "^BL-DEFLATED-8 $mt0\$" "$T" && grep -q '^BL-REFILL 0$' "$T" && [ "$grow" -ge 40960 ]; then
	pass "$N2 (MemTotal back to $mt0 KiB, the guest refilled, VmRSS $rss1 -> $rss2 KiB)"
else
	fail $N2 "$(grep -m1 '^BL-DEFLATED' "$T"), $(grep -m1 '^BL-REFILL ' "$T"), VmRSS $rss1 -> $rss2 KiB (MemTotal $mt0)"
fi
# The end: Ctrl-Alt-Del reboots the guest (kernel.ctrl-alt-del=1), mote exits 0.
api PUT /actions '{"action_type": "SendCtrlAltDel"}'
rc=999
for _ in $(seq 300); do
	if ! kill -0 "$PID" 2>/dev/null; then
		wait "$PID"
		rc=$?
		break
	fi
	sleep 0.2
done
PID=""
secs=$(awk -v t0="$t0" '{ printf "%.1f", $1 - t0 }' /proc/uptime)
echo "  $N: mote status $rc after $secs s" >&2
[ "$rc" = 0 ] || fail linux-balloon-end "mote status $rc after SendCtrlAltDel (999: still running after 60 s), expected 0"
# Guest errors mote logged (informational: the console log of the nested host shows them).
grep 'guest error' "$TMP/$N.err" | head -n 5 | sed "s/^/  $N: /" >&2

# Free page reporting: no inflate, the guest's page_reporting hands its free 2 MiB blocks over.
N=linux-balloon-reporting
T=$TMP/$N.txt
cmd='fill() { set -- $(grep MemFree /proc/meminfo); dd if=/dev/zero of=/fill/f bs=1048576 count=$(($2 / 1024 - 24)) 2>/dev/null; echo $?; }
mkdir -p /fill; mount -t tmpfs -o size=95% tmpfs /fill
echo BR-FILL $(fill); echo BR-FILLED-$((1 + 1)); sleep 3; rm /fill/f; echo BR-FREED-$((2 + 2)); sleep 600'
cmd=${cmd//$'\n'/; }
"$MOTE" -v run --mem 256M --balloon amount_mib=0,reporting=on --cmdline "mote.quiet=1 mote.cmd=\"$cmd\"" \
	--initrd "$initramfs" "$vmlinuz" </dev/null >"$TMP/$N.out" 2>"$TMP/$N.err" &
PID=$!
if ! wait_line '^BR-FILLED-2$' || ! grep -q '^BR-FILL 0$' "$T"; then
	fail $N "the guest did not fill its memory: $(grep -m1 '^BR-FILL' "$T" || tail -n 3 "$T" | tr '\n' '|')"
	show $N >&2
	exit 0
fi
rss0=$(rss_kib)
wait_line '^BR-FREED-4$'
s0=$(cut -d' ' -f1 /proc/uptime)
rss1=$rss0
for _ in $(seq 300); do
	rss1=$(rss_kib)
	[ $((rss0 - rss1)) -ge 40960 ] && break
	sleep 0.2
done
s1=$(cut -d' ' -f1 /proc/uptime)
if [ $((rss0 - rss1)) -ge 40960 ]; then
	pass "$N (VmRSS $rss0 -> $rss1 KiB $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", b - a }') s after the guest freed its memory)"
else
	fail $N "VmRSS $rss0 -> $rss1 KiB 60 s after the guest freed its memory (a drop of at least 40960 expected)"
fi
kill -TERM "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
PID=""
exit 0
