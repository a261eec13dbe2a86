#!/bin/bash
# Rate limiters (issue 17; docs/api.md "Rate limiters"): the blkrate guest (tests/guests/blkrate.c)
# and the net guest measure their own throughput under limits set with --disk/--net and the
# API: bandwidth of two sizes within 10% of the configured rate, the one-time burst at full
# speed, an ops limit on small requests, a PATCH mid-run changing the rate, an unlimited disk
# beside a throttled one keeping its speed, a throttled idle VM costing no CPU, tx and rx
# limits on a tap, the throttle counters in the metrics, and bad input refused (CLI: one
# line, status 2; API: 400). Every API exchange is checked against Firecracker's Swagger file.
source "$(dirname "$0")/lib.sh"
SPEC=${MOTE_FC_SPEC:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/reference/firecracker-api.yaml}
[ -f "$SPEC" ] || SPEC=/work/shared/reference/firecracker-api.yaml
EX=$TMP/exchanges.jsonl
: >"$EX"
PIDS=()
NS=""
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

if [ ! -e /dev/kvm ]; then
	skip ratelimit "no /dev/kvm"
	exit 0
fi
# The guests time themselves with rdtsc; the host tells them its TSC rate (CPUID may not).
TSC=$(awk '/^cpu MHz/ {printf "%d", $4 + 0.5; exit}' /proc/cpuinfo)
[ -n "$TSC" ] && [ "$TSC" -gt 0 ] || TSC=2000
truncate -s 64M "$TMP/d0.img" "$TMP/d1.img"

# within NAME GOT WANT [PCT]: GOT within PCT (10) percent of WANT (integers).
within() {
	local pct=${4:-10}
	if [ "$2" -ge $(($3 * (100 - pct) / 100)) ] && [ "$2" -le $(($3 * (100 + pct) / 100)) ]; then
		pass "$1 ($2 vs $3 configured)"
	else
		fail "$1" "achieved $2, configured $3 (more than $pct% off)"
	fi
}
# field NAME KEY: the last KEY=value of the guest's output (serial lines end in CR LF).
field() { tr -d '\r' <"$TMP/$1.out" | grep -o "$2=[0-9]*" | tail -1 | cut -d= -f2; }
# at NAME BYTES: the guest's time (us) at a progress line "at us=U bytes=BYTES".
at() { tr -d '\r' <"$TMP/$1.out" | grep -o "at us=[0-9]* bytes=$2\$" | head -1 | sed 's/at us=\([0-9]*\) .*/\1/'; }

# ---- bandwidth: two sizes; achieved = (bytes - initial bucket) / time ----
# The CLI's bucket for RATE is RATE/8 refilled every 125 ms (1024-based rates): the bucket
# starts full, so RATE/8 passes before the limit bites.
for mib in 4 16; do
	rate=$((mib << 20))
	kib=$((mib * 2 * 1024))
	vm "blk-bw-$mib" run --disk "$TMP/d0.img,bw=${mib}M" --cmdline "tsc_mhz=$TSC kib=$kib" "$G/blkrate.elf"
	us=$(field "blk-bw-$mib" us)
	if [ "$rc" != 1 ] || [ -z "$us" ]; then
		fail "blk-bw-${mib}m" "status $rc: $(tail -2 "$TMP/blk-bw-$mib.out") $(head -c 200 "$TMP/blk-bw-$mib.err")"
		continue
	fi
	within "blk-bw-${mib}m" $(( (kib * 1024 - rate / 8) * 1000000 / us )) "$rate"
done

# ---- the one-time burst passes at full speed, then the rate holds ----
vm blk-burst run --disk "$TMP/d0.img,bw=4M,bw_burst=16M" \
	--cmdline "tsc_mhz=$TSC kib=20480 report_kib=512" "$G/blkrate.elf"
t16=$(at blk-burst 16777216)
t17=$(at blk-burst 17825792)
t20=$(at blk-burst 20971520)
if [ "$rc" != 1 ] || [ -z "$t16" ] || [ -z "$t20" ]; then
	fail blk-burst "status $rc: $(tail -2 "$TMP/blk-burst.out")"
else
	# 16 MiB at 4 MiB/s would take 4 s: the burst must go at least 20x faster
	if [ "$t16" -lt 200000 ]; then pass "blk-burst-full-speed (16 MiB in $t16 us)"
	else fail blk-burst-full-speed "16 MiB of burst took $t16 us"; fi
	within blk-burst-then-rate $(( 3 * 1048576 * 1000000 / (t20 - t17) )) $((4 << 20))
fi

# ---- an ops limit on 4 KiB requests: 500/s ----
vm blk-iops run --disk "$TMP/d0.img,iops=500" --cmdline "tsc_mhz=$TSC req=4096 qd=8 kib=4000" "$G/blkrate.elf"
us=$(field blk-iops us)
if [ "$rc" = 1 ] && [ -n "$us" ]; then
	within blk-iops $(( (1000 - 50) * 1000000 / us )) 500
else fail blk-iops "status $rc: $(tail -2 "$TMP/blk-iops.out")"; fi

# ---- an unlimited disk beside a throttled one keeps its speed ----
vm blk-neighbour run --disk "$TMP/d0.img,bw=1M" --disk "$TMP/d1.img" \
	--cmdline "tsc_mhz=$TSC mode=two kib=262144 qd=8" "$G/blkrate.elf"
alone=$(field blk-neighbour "alone us")
beside=$(field blk-neighbour "beside us")
d0=$(field blk-neighbour dev0_bytes)
d0us=$(field blk-neighbour dev0_us)
if [ "$rc" != 1 ] || [ -z "$alone" ] || [ -z "$beside" ]; then
	fail blk-unlimited-neighbour "status $rc: $(tail -2 "$TMP/blk-neighbour.out")"
elif [ "$beside" -le $((alone * 3 / 2)) ] && [ "$d0" -le $(( 3 * (1 << 20) / 8 + d0us * 1048576 / 1000000 + 524288 )) ]; then
	pass "blk-unlimited-neighbour (256 MiB alone $alone us, beside a throttled disk $beside us (best of 3 interleaved rounds); the throttled disk did $d0 bytes in the $d0us us it was loaded, at 1 MiB/s)"
else
	fail blk-unlimited-neighbour "alone $alone us, beside $beside us, throttled disk $d0 bytes in $d0us us"
fi

# ---- a throttled, otherwise idle VM costs no CPU ----
"$MOTE" run --disk "$TMP/d0.img,iops=1" --cmdline "ring0 tsc_mhz=$TSC mode=idle qd=16 req=4096" \
	"$G/blkrate.elf" </dev/null >"$TMP/blk-idle.out" 2>"$TMP/blk-idle.err" &
P=$!
PIDS+=("$P")
for _ in $(seq 100); do grep -q "blkrate: idle" "$TMP/blk-idle.out" 2>/dev/null && break; sleep 0.1; done
if grep -q "blkrate: idle" "$TMP/blk-idle.out"; then
	sleep 0.3
	ticks=$(cpu_ticks "$P" 2)
	if [ "$ticks" -le 4 ]; then pass "blk-throttled-idle-cpu ($ticks ticks in 2 s)"
	else fail blk-throttled-idle-cpu "mote used $ticks clock ticks in 2 s with 16 requests throttled"; fi
else
	fail blk-throttled-idle-cpu "the guest did not come up: $(head -c 300 "$TMP/blk-idle.err")"
fi
kill "$P" 2>/dev/null
wait "$P" 2>/dev/null

# ---- bad CLI input: one line, status 2 ----
refuse_cli() { # NAME TEXT ARGS...
	local name=$1 text=$2
	shift 2
	vm "$name" "$@"
	if [ "$rc" != 2 ]; then fail "$name" "status $rc, expected 2: $(head -c 300 "$TMP/$name.err")"
	elif ! grep -qF -- "$text" "$TMP/$name.err"; then fail "$name" "stderr lacks '$text': $(cat "$TMP/$name.err")"
	elif [ "$(wc -l <"$TMP/$name.err")" != 1 ]; then fail "$name" "not one line: $(cat "$TMP/$name.err")"
	else pass "$name"; fi
}
refuse_cli cli-bw-negative "--disk bw='-1'" run --disk "$TMP/d0.img,bw=-1" "$G/blkrate.elf"
refuse_cli cli-bw-garbage "--disk bw='10Q'" run --disk "$TMP/d0.img,bw=10Q" "$G/blkrate.elf"
refuse_cli cli-iops-huge "--disk iops=" run --disk "$TMP/d0.img,iops=99999999999999999999" "$G/blkrate.elf"
refuse_cli cli-burst-rate "--disk bw_burst='1M/s'" run --disk "$TMP/d0.img,bw_burst=1M/s" "$G/blkrate.elf"
refuse_cli cli-unknown-limit "unknown --disk option 'rx_bw=1M'" run --disk "$TMP/d0.img,rx_bw=1M" "$G/blkrate.elf"
refuse_cli cli-net-vhost-on "rate limiters need mote's own data path" run --net "tap=nope0,vhost=on,tx_bw=1M" "$G/blkrate.elf"
refuse_cli cli-net-bad "--net rx_ops='x'" run --net "tap=nope0,rx_ops=x" "$G/blkrate.elf"

# ---- the API: PUT with a limit, PATCH mid-run, metrics, refusals ----
api() { # METHOD PATH [BODY]: sets $code and $body; records the exchange
	local m=$1 p=$2 d=${3-}
	local args=(-s -m 10 -o "$TMP/resp" -w '%{http_code}' --unix-socket "$SOCK" -X "$m")
	: >"$TMP/resp"
	[ -n "$d" ] && args+=(-H 'Content-Type: application/json' --data-binary "$d")
	code=$(curl "${args[@]}" "http://localhost$p")
	body=$(cat "$TMP/resp")
	printf '{"method":"%s","path":"%s","status":%s,"req":"%s","resp":"%s"}\n' "$m" "$p" \
		"$((10#${code:-0}))" "$(printf %s "$d" | base64 -w0)" "$(base64 -w0 <"$TMP/resp")" >>"$EX"
}
want() { # NAME CODE [TEXT]
	if [ "$code" != "$2" ]; then fail "$1" "HTTP $code, expected $2: $body"
	elif [ -n "${3-}" ] && ! grep -qF -- "$3" <<<"$body"; then fail "$1" "answer lacks '$3': $body"
	else pass "$1"; fi
}
bucket() { printf '{"size":%s,"refill_time":%s%s}' "$1" "$2" "${3:+,\"one_time_burst\":$3}"; }

if ! command -v curl >/dev/null; then
	skip api-ratelimit "curl is not installed"
else
	SOCK=$TMP/rl.sock
	"$MOTE" --api-sock "$SOCK" </dev/null >"$TMP/api.out" 2>"$TMP/api.err" &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.01; done
	api PUT /boot-source "{\"kernel_image_path\":\"$G/blkrate.elf\",\"boot_args\":\"tsc_mhz=$TSC kib=12288 report_kib=256 live\"}"
	want api-rl-boot-source 204
	# refusals first (each 400, nothing staged)
	drive() { printf '{"drive_id":"d0","path_on_host":"%s","is_root_device":false,"rate_limiter":%s}' "$TMP/d0.img" "$1"; }
	api PUT /drives/d0 "$(drive "{\"bandwidth\":$(bucket -1 100)}")"
	want api-rl-negative-size 400 "'size' must be an integer"
	api PUT /drives/d0 "$(drive "{\"bandwidth\":$(bucket 1000 0)}")"
	want api-rl-refill-zero 400 "refill_time 0"
	api PUT /drives/d0 "$(drive "{\"bandwidth\":{\"size\":1,\"refill_time\":1,\"rate\":5}}")"
	want api-rl-unknown-field 400 "unknown field 'rate'"
	api PUT /drives/d0 "$(drive "{\"iops\":$(bucket 1 1)}")"
	want api-rl-unknown-bucket 400 "unknown field 'iops'"
	api PUT /drives/d0 "$(drive "\"fast\"")"
	want api-rl-not-object 400 "must be an object"
	api PUT /network-interfaces/e0 '{"iface_id":"e0","host_dev_name":"nope0","tx_rate_limiter":{"ops":{"size":10}}}'
	want api-rl-net-missing-refill 400 "missing required field 'refill_time'"
	# 2 MiB/s: 256 KiB per 125 ms
	api PUT /drives/d0 "$(drive "{\"bandwidth\":$(bucket 262144 125)}")"
	want api-rl-put-drive 204
	api PATCH /drives/d0 "{\"drive_id\":\"d0\",\"rate_limiter\":{\"bandwidth\":$(bucket 1 1)}}"
	want api-rl-patch-before-start 400 "after InstanceStart"
	api PUT /metrics "{\"metrics_path\":\"$TMP/metrics.json\"}"
	want api-rl-metrics 204
	api PUT /actions '{"action_type":"InstanceStart"}'
	want api-rl-start 204
	# wait until the guest has run ~1 s at 2 MiB/s, then raise the limit to 8 MiB/s
	for _ in $(seq 300); do tr -d '\r' <"$TMP/api.out" | grep -q "bytes=2359296$" && break; sleep 0.01; done
	patched=$(tr -d '\r' <"$TMP/api.out" | grep -o 'at us=[0-9]* bytes=[0-9]*$' | tail -1)
	api PATCH /drives/d0 "{\"drive_id\":\"d0\",\"rate_limiter\":{\"bandwidth\":$(bucket 1048576 125)}}"
	want api-rl-patch-running 204
	api GET /vm/config
	want api-rl-vm-config 200 '"rate_limiter":{"bandwidth":{"size":1048576,"one_time_burst":0,"refill_time":125}}'
	api PATCH /drives/d0 '{"drive_id":"d0","rate_limiter":{"ops":{"size":-5,"refill_time":1}}}'
	want api-rl-patch-negative 400 "'size' must be an integer"
	api PATCH /drives/d0 '{"drive_id":"d0"}'
	want api-rl-patch-nothing 400 "rate_limiter"
	api PATCH /network-interfaces/e9 '{"iface_id":"e9","rx_rate_limiter":{}}'
	want api-rl-patch-unknown-iface 400 "no interface 'e9'"
	api PUT /actions '{"action_type":"FlushMetrics"}'
	want api-rl-flush-metrics 204
	wait "$PID" # the guest ends by itself; the last metrics line is written at exit
	rc=$?
	# rates from the progress lines: before the PATCH (0.25 s to the PATCH) and after it
	pt=$(echo "$patched" | sed 's/at us=\([0-9]*\) .*/\1/')
	pb=$(echo "$patched" | sed 's/.*bytes=//')
	a0=$(at api 524288)
	# after: from 3 MiB past the PATCH (the new bucket, 1 MiB, starts full) to the end
	x1=$(( (pb / 262144 + 12) * 262144 ))
	t1=$(at api $x1)
	end=$(field api us)
	if [ "$rc" != 1 ] || [ -z "$pt" ] || [ -z "$a0" ] || [ -z "$t1" ] || [ -z "$end" ]; then
		fail api-rl-patch-rates "status $rc, patched at '$patched': $(tail -3 "$TMP/api.out") $(tail -2 "$TMP/api.err")"
	else
		within api-rl-rate-before-patch $(( (pb - 524288) * 1000000 / (pt - a0) )) $((2 << 20))
		within api-rl-rate-after-patch $(( (12582912 - x1) * 1000000 / (end - t1) )) $((8 << 20))
	fi
	if grep -q '"rate_limiter_throttled_events":[1-9]' "$TMP/metrics.json" 2>/dev/null; then
		pass api-rl-metrics-throttled
	else fail api-rl-metrics-throttled "no throttled events in $(tail -c 400 "$TMP/metrics.json" 2>/dev/null)"; fi
fi

# ---- virtio-net: tx bytes and tx ops limits, an rx limit (in a network namespace) ----
if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null || ! command -v python3 >/dev/null; then
	for n in net-tx-bw net-tx-ops net-rx-bw; do skip $n "needs root, /dev/net/tun, ip and python3"; done
elif ! ip netns add "mote-rl-$$" 2>/dev/null; then
	for n in net-tx-bw net-tx-ops net-rx-bw; do skip $n "cannot create a network namespace"; done
else
	NS=mote-rl-$$
	TAP=mr$$
	nsx() { ip netns exec "$NS" "$@"; }
	ip -n "$NS" link set lo up
	ip -n "$NS" tuntap add "$TAP" mode tap && ip -n "$NS" link set "$TAP" up &&
		ip -n "$NS" addr add 10.0.0.1/24 dev "$TAP"
	# tx: 1000-byte datagrams are 1042-byte frames; 1 MiB/s (128 KiB bucket)
	VM_TIMEOUT=20 nsx timeout 20 "$MOTE" run --net "tap=$TAP,tx_bw=1M" \
		--cmdline "tsc_mhz=$TSC mode=burst count=2000 size=1000 secs=1 drain=1" "$G/net.elf" \
		</dev/null >"$TMP/net-tx.out" 2>"$TMP/net-tx.err"
	us=$(grep -o 'netburst: frames=2000 bytes=[0-9]* us=[0-9]*' "$TMP/net-tx.out" | sed 's/.*us=//')
	if [ -n "$us" ]; then within net-tx-bw $(( (2000 * 1042 - 131072) * 1000000 / us )) $((1 << 20))
	else fail net-tx-bw "$(tail -2 "$TMP/net-tx.out") $(head -c 300 "$TMP/net-tx.err")"; fi
	# tx ops: 1000 frames/s (a bucket of 100)
	nsx timeout 20 "$MOTE" run --net "tap=$TAP,tx_ops=1000" \
		--cmdline "tsc_mhz=$TSC mode=burst count=2000 size=64 secs=1 drain=1" "$G/net.elf" \
		</dev/null >"$TMP/net-ops.out" 2>"$TMP/net-ops.err"
	us=$(grep -o 'netburst: frames=2000 bytes=[0-9]* us=[0-9]*' "$TMP/net-ops.out" | sed 's/.*us=//')
	if [ -n "$us" ]; then within net-tx-ops $(( (2000 - 100) * 1000000 / us )) 1000
	else fail net-tx-ops "$(tail -2 "$TMP/net-ops.out") $(head -c 300 "$TMP/net-ops.err")"; fi
	# rx: 256 KiB/s; the host sends 1000-byte datagrams (32 in flight), the guest echoes them
	nsx timeout 20 "$MOTE" run --net "tap=$TAP,rx_bw=256K" --cmdline "secs=15" "$G/net.elf" \
		</dev/null >"$TMP/net-rx.out" 2>"$TMP/net-rx.err" &
	P=$!
	PIDS+=("$P")
	for _ in $(seq 100); do grep -q "net: ready" "$TMP/net-rx.out" 2>/dev/null && break; sleep 0.1; done
	rate=$(nsx python3 - <<'EOF'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
data = b"x" * 1000
s.sendto(b"warm", ("10.0.0.2", 7)); s.recvfrom(100)   # ARP settled
time.sleep(0.3)                                         # the bucket refills (capped)
sent = got = 0
t0 = time.monotonic(); first = last = None
while time.monotonic() - t0 < 2.5:
    while sent - got < 32:
        s.sendto(data, ("10.0.0.2", 7)); sent += 1
    try:
        s.recvfrom(2000)
    except socket.timeout:
        break
    got += 1
    now = time.monotonic()
    if first is None: first = now; n0 = got
    last = now
s.sendto(b"quit", ("10.0.0.2", 7))
# frames after the first echo, over the time they took: 1042 bytes each
print(int((got - n0) * 1042 / (last - first)) if last and last > first else 0)
EOF
)
	wait "$P" 2>/dev/null
	if [ -n "$rate" ] && [ "$rate" -gt 0 ]; then within net-rx-bw "$rate" $((256 << 10))
	else fail net-rx-bw "no echoes: $(tail -2 "$TMP/net-rx.out") $(head -c 300 "$TMP/net-rx.err")"; fi
fi

# ---- every exchange against Firecracker's Swagger description ----
if [ ! -f "$SPEC" ]; then
	skip ratelimit-swagger-validation "Firecracker's API description not found at $SPEC"
elif ! dir=$(sh tests/api/install-validator.sh 2>"$TMP/npm.err"); then
	skip ratelimit-swagger-validation "validator not installable: $(cat "$TMP/npm.err")"
elif out=$(NODE_PATH=$dir/node_modules node tests/api/validate.mjs "$SPEC" "$EX" 2>&1); then
	pass "ratelimit-swagger-validation ($out)"
else
	fail ratelimit-swagger-validation "$(echo "$out" | head -5 | tr '\n' ';')"
fi
