#!/bin/bash
# The Firecracker-compatible API (docs/api.md) end to end with curl --unix-socket: configure and
# boot the counter guest, pause/resume, lifecycle refusals, metrics, logger, drive swap, every
# bad-input class, 1000 requests from 20 clients with fd/RSS checks, the config file, the
# socket's mode/stale handling/removal, SIGTERM. Every exchange is recorded and validated
# against Firecracker's own Swagger file (tests/api/validate.mjs) at the end.
source "$(dirname "$0")/lib.sh"
SPEC=${MOTE_FC_SPEC:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/reference/firecracker-api.yaml}
[ -f "$SPEC" ] || SPEC=/work/shared/reference/firecracker-api.yaml
CLIENT="python3 tests/api/client.py"
EX=$TMP/exchanges.jsonl
: >"$EX"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

if ! command -v curl >/dev/null; then
	skip api "curl is not installed (sh scripts/deps.sh)"
	exit 0
fi
if [ ! -e /dev/kvm ]; then
	skip api "no /dev/kvm"
	exit 0
fi

# api METHOD PATH [BODY|@FILE]: one request on $SOCK; sets $code and $body, records the exchange.
api() {
	local m=$1 p=$2 d=${3-}
	local args=(-s -m 10 -o "$TMP/resp" -w '%{http_code}' --unix-socket "$SOCK" -X "$m")
	: >"$TMP/resp"
	if [ -n "$d" ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$d")
	fi
	code=$(curl "${args[@]}" "http://localhost$p")
	body=$(cat "$TMP/resp")
	local req=""
	case "$d" in @*) req=$(base64 -w0 <"${d#@}") ;; *) req=$(printf %s "$d" | base64 -w0) ;; esac
	printf '{"method":"%s","path":"%s","status":%s,"req":"%s","resp":"%s"}\n' "$m" "$p" \
		"$((10#${code:-0}))" "$req" "$(base64 -w0 <"$TMP/resp")" >>"$EX"
}

# want NAME CODE [BODY TEXT]: checks the last answer.
want() {
	if [ "$code" != "$2" ]; then
		fail "$1" "HTTP $code, expected $2: $body"
	elif [ -n "${3-}" ] && ! grep -qF -- "$3" <<<"$body"; then
		fail "$1" "answer lacks '$3': $body"
	else
		pass "$1"
	fi
}

# start_api NAME ARGS...: mote --api-sock $SOCK in the background, waiting for the socket.
start_api() {
	local name=$1
	shift
	SOCK=$TMP/$name.sock
	"$MOTE" --api-sock "$SOCK" "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 200); do [ -S "$SOCK" ] && return 0; sleep 0.01; done
	return 1
}

# The last complete counter line (the final line may be cut in the middle: dropped).
last_count() { tr -d '\r' <"$TMP/$1.out" | sed '$d' | grep -E '^counter [0-9]+$' | tail -1 | cut -d' ' -f2; }

# wait_exit PID SECONDS: waits for the process; sets $rc (or 999 on timeout, after a kill).
wait_exit() {
	for _ in $(seq $(($2 * 20))); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1"
			rc=$?
			return
		fi
		sleep 0.05
	done
	kill -9 "$1"
	wait "$1"
	rc=999
}

COUNTER=$(pwd)/$G/counter.elf

# ---- the socket: mode, stale leftovers, refusals -------------------------------------------
start_api sock || fail api-socket-created "no socket after 2 s: $(cat "$TMP/sock.err")"
mode=$(stat -c %a "$SOCK")
[ "$mode" = 600 ] && pass api-socket-mode-0600 || fail api-socket-mode-0600 "mode $mode"
api GET /
want api-get-root 200 '"state":"Not started"'
api GET /version
want api-get-version 200 firecracker_version
vm api-live-socket-refused --api-sock "$SOCK"
[ "$rc" = 2 ] && has_err api-live-socket-refused "another process serves" &&
	pass api-live-socket-refused || fail api-live-socket-refused "status $rc: $(cat "$TMP/api-live-socket-refused.err")"
# Transitions that make no sense before the boot.
api PATCH /vm '{"state":"Paused"}'
want api-pause-before-start 400 "not running"
api PATCH /drives/root '{"drive_id":"root","path_on_host":"/tmp/x"}'
want api-patch-drive-before-start 400 "after InstanceStart"
api PUT /actions '{"action_type":"InstanceStart"}'
want api-start-without-boot-source 400 "boot-source"
mkfifo "$TMP/log.fifo"
api PUT /logger "{\"log_path\":\"$TMP/log.fifo\",\"level\":\"Debug\"}"
want api-logger-fifo-without-reader 204
api PUT /logger '{"log_path":"/nonexistent-dir/x.log"}'
want api-logger-bad-path 400 "cannot open"
kill -TERM "$PID"
wait_exit "$PID" 5
[ "$rc" = 12 ] && [ ! -e "$SOCK" ] && pass api-sigterm-before-boot ||
	fail api-sigterm-before-boot "status $rc, socket $(ls "$SOCK" 2>&1)"

touch "$TMP/regular"
vm api-regular-file-refused --api-sock "$TMP/regular"
[ "$rc" = 2 ] && has_err api-regular-file-refused "not a socket" && [ -f "$TMP/regular" ] &&
	pass api-regular-file-refused || fail api-regular-file-refused "status $rc"
$CLIENT stale "$TMP/stale.sock"
start_api stale && api GET / && want api-stale-socket-reused 200
kill -TERM "$PID"
wait_exit "$PID" 5

# ---- boot through the API, pause and resume ------------------------------------------------
dd if=/dev/zero of="$TMP/disk1.img" bs=1M count=1 status=none
dd if=/dev/zero of="$TMP/disk2.img" bs=1M count=2 status=none
start_api run || fail api-run-socket "no socket"
api PUT /logger "{\"log_path\":\"$TMP/run.log\",\"level\":\"Info\",\"show_level\":true}"
want api-put-logger 204
api PUT /metrics "{\"metrics_path\":\"$TMP/run.metrics\"}"
want api-put-metrics 204
api PUT /metrics "{\"metrics_path\":\"$TMP/run2.metrics\"}"
want api-put-metrics-twice 400 "already"
api PUT /boot-source "{\"kernel_image_path\":\"$COUNTER\",\"boot_args\":\"spin=20000000\"}"
want api-put-boot-source 204
api PUT /machine-config '{"vcpu_count":2,"mem_size_mib":64}'
want api-put-machine-config 204
api PATCH /machine-config '{"vcpu_count":2,"mem_size_mib":64}'
want api-patch-machine-config 204
api GET /machine-config
want api-get-machine-config 200 '"mem_size_mib":64'
api PUT /drives/root "{\"drive_id\":\"root\",\"path_on_host\":\"$TMP/disk1.img\",\"is_root_device\":true,\"is_read_only\":false}"
want api-put-drive 204
api PUT /entropy '{}'
want api-put-entropy 204
api PUT /vsock '{"guest_cid":2,"uds_path":"/tmp/v"}'
want api-put-vsock-reserved-cid 400 "guest_cid"
api PUT /vsock "{\"guest_cid\":3}"
want api-put-vsock-no-path 400 "uds_path"
api PUT /vsock "{\"guest_cid\":3,\"uds_path\":\"$TMP/nodir/v.sock\"}"
want api-put-vsock-missing-dir 400 "nodir"
api PUT /vsock "{\"guest_cid\":3,\"uds_path\":\"$TMP/v.sock\",\"port\":1}"
want api-put-vsock-unknown-field 400 "unknown field 'port'"
api PUT /vsock "{\"guest_cid\":3,\"uds_path\":\"$TMP/v.sock\"}"
want api-put-vsock 204
api PUT /actions '{"action_type":"InstanceStart"}'
want api-instance-start 204
api GET /
want api-state-running 200 '"state":"Running"'
sleep 0.5
a=$(last_count run)
[ -n "$a" ] && pass api-guest-counts || fail api-guest-counts "no counter output: $(head -c 300 "$TMP/run.out")"
unfiltered=""
for st in /proc/"$PID"/task/*/status; do
	[ "$(awk '/^Seccomp:/ {print $2}' "$st")" = 2 ] || unfiltered="$unfiltered $(basename "$(dirname "$st")")"
done
[ -z "$unfiltered" ] && pass api-every-thread-sandboxed || fail api-every-thread-sandboxed "unfiltered tasks:$unfiltered"
api PATCH /vm '{"state":"Paused"}'
want api-pause 204
api GET /
want api-state-paused 200 '"state":"Paused"'
b=$(last_count run)
sleep 0.5
c=$(last_count run)
[ -n "$b" ] && [ "$b" = "$c" ] && pass api-paused-counter-stops || fail api-paused-counter-stops "counter $b -> $c while paused"
api PATCH /vm '{"state":"Resumed"}'
want api-resume 204
sleep 0.5
d=$(last_count run)
[ -n "$d" ] && [ "$d" -gt "$c" ] && pass api-resumed-counter-advances || fail api-resumed-counter-advances "counter $c -> $d after resume"
api PUT /actions '{"action_type":"InstanceStart"}'
want api-start-twice 400 "already"
api PUT /boot-source "{\"kernel_image_path\":\"$COUNTER\"}"
want api-configure-after-start 400 "before InstanceStart"
api PUT /machine-config '{"vcpu_count":1,"mem_size_mib":32}'
want api-machine-config-after-start 400 "before InstanceStart"
api GET /vm/config
want api-get-vm-config 200 '"is_root_device":true'
want api-get-vm-config-vsock 200 "\"vsock\":{\"guest_cid\":3,\"uds_path\":\"$TMP/v.sock\"}"
[ -S "$TMP/v.sock" ] && pass api-vsock-socket-made || fail api-vsock-socket-made "no $TMP/v.sock"
grep -q 'kernel command line: spin=20000000 root=/dev/vda rw' "$TMP/run.log" &&
	pass api-root-drive-cmdline || fail api-root-drive-cmdline "$(head -c 300 "$TMP/run.log")"
api PATCH /drives/root "{\"drive_id\":\"root\",\"path_on_host\":\"$TMP/disk2.img\"}"
want api-patch-drive-swaps 204
api GET /vm/config
want api-vm-config-shows-new-disk 200 disk2.img
api PATCH /drives/root "{\"drive_id\":\"root\",\"path_on_host\":\"$TMP/missing.img\"}"
want api-patch-drive-missing-file 400 missing.img
api PATCH /drives/nope '{"drive_id":"nope","path_on_host":"/tmp/x"}'
want api-patch-unknown-drive 400 "no drive"
api PUT /actions '{"action_type":"SendCtrlAltDel"}'
want api-ctrl-alt-del-queued 204
api PUT /actions '{"action_type":"FlushMetrics"}'
want api-flush-metrics 204
if grep -q '"exits_io":[1-9]' "$TMP/run.metrics" && grep -q '"virtio-blk0":{"requests"' "$TMP/run.metrics" &&
	grep -q '"virtio-vsock":{[^}]*"conns_active":0' "$TMP/run.metrics"; then
	pass api-metrics-content
else
	fail api-metrics-content "$(head -c 400 "$TMP/run.metrics")"
fi
grep -Eq '^[0-9-]{10}T[0-9:.]{18} \[anonymous-instance:api:INFO\] microVM paused$' "$TMP/run.log" &&
	pass api-logger-file || fail api-logger-file "$(head -c 300 "$TMP/run.log")"
# The logger reconfigured while the guest runs: Debug with level and origin, then a module
# filter that keeps one silent module (vsock: no connections) and then the API's.
api PUT /logger "{\"log_path\":\"$TMP/debug.log\",\"level\":\"Debug\",\"show_level\":true,\"show_log_origin\":true}"
want api-logger-debug 204
api PUT /actions '{"action_type":"Nope"}'
grep -Eq '\[anonymous-instance:[^]:]+:DEBUG:src/api/api\.c:[0-9]+\] API PUT /actions: 400' "$TMP/debug.log" &&
	pass api-logger-debug-line || fail api-logger-debug-line "$(head -c 300 "$TMP/debug.log")"
api PUT /logger "{\"log_path\":\"$TMP/module.log\",\"level\":\"Trace\",\"module\":\"vsock\"}"
want api-logger-module 204
api PUT /actions '{"action_type":"Nope"}'
api GET /vm/config
want api-vm-config-logger-module 200 '"module":"vsock"'
[ ! -s "$TMP/module.log" ] && pass api-logger-module-filters ||
	fail api-logger-module-filters "$(head -c 300 "$TMP/module.log")"
api PUT /logger "{\"level\":\"Debug\",\"module\":\"api\"}"
want api-logger-module-api 204
api PUT /actions '{"action_type":"Nope"}'
grep -q 'API PUT /actions: 400' "$TMP/module.log" && pass api-logger-module-passes ||
	fail api-logger-module-passes "$(head -c 300 "$TMP/module.log")"
api PUT /logger '{"module":"api_server::request"}'
want api-logger-bad-module 400 "not a mote module"
api PUT /logger '{"level":"Verbose"}'
want api-logger-bad-level 400 "Verbose"
api PUT /logger '{"show_level":"yes"}'
want api-logger-bad-show-level 400 "show_level"
api PUT /logger "{\"log_path\":\"$TMP/run.log\",\"level\":\"Info\",\"show_level\":true}"
want api-logger-back 204

# ---- bad input while the guest runs --------------------------------------------------------
api PUT /machine-config '{"vcpu_count":'
want api-bad-malformed-json 400 "malformed JSON"
api PUT /actions '{"action_type":42}'
want api-bad-wrong-type 400 "must be a string"
api PUT /actions '{"action_type":"FlushMetrics","extra":1}'
want api-bad-unknown-field 400 "unknown field 'extra'"
api PUT /actions '[1,2]'
want api-bad-not-object 400 "JSON object"
api PUT /actions '{"action_type":"FlushMetrics","action_type":"FlushMetrics"}'
want api-bad-duplicate-key 400 "duplicate"
api PUT /actions '{"action_type":"Reboot"}'
want api-bad-enum 400 "Reboot"
api PATCH /vm '{"state":"Stopped"}'
want api-bad-vm-state 400 "Stopped"
api PUT /actions ''
want api-bad-empty-body 400 "JSON body"
head -c 100000 /dev/zero | tr '\0' ' ' >"$TMP/huge.json"
api PUT /actions "@$TMP/huge.json"
want api-bad-huge-body 400 "larger than"
head -c 3000000 /dev/zero | tr '\0' ' ' >"$TMP/huger.json"
api PUT /actions "@$TMP/huger.json"
case "$code" in 400 | 000) pass api-bad-3mb-body-dropped ;; *) fail api-bad-3mb-body-dropped "HTTP $code" ;; esac
api PUT /balloon '{"amount_mib":1,"deflate_on_oom":true}'
want api-put-balloon-after-start 400 "before InstanceStart"
api PUT /vsock "{\"guest_cid\":4,\"uds_path\":\"$TMP/v2.sock\"}"
want api-put-vsock-after-start 400 "before InstanceStart"
api PUT /snapshot/create '{"mem_file_path":"a","snapshot_path":"b"}'
want api-snapshot-create-while-running 400 "must be paused"
api DELETE /vm
want api-bad-method 400 "invalid request"
api GET /nothing-here
want api-bad-path 400 "invalid request"
api PUT '/drives/bad%20id' '{}'
want api-bad-drive-id 400 "invalid request"

# Slow and half-open clients are dropped; many idle connections do not stop mote.
t=$($CLIENT slow "$SOCK")
case "$t" in open) fail api-slow-client-dropped "still open after 30 s" ;; *) pass api-slow-client-dropped ;; esac
n=$($CLIENT idle "$SOCK" 150 1)
api GET /
want api-after-150-idle-connections 200 Running
e=$(last_count run)
[ "$e" -gt "$d" ] && pass api-guest-undisturbed || fail api-guest-undisturbed "counter $d -> $e"

# 1000 requests from 20 clients, twice: fds and RSS stable between the rounds.
fds() { ls /proc/"$PID"/fd | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' /proc/"$PID"/status; }
r1=$($CLIENT load "$SOCK" 1000 20)
f1=$(fds)
m1=$(rss)
r2=$($CLIENT load "$SOCK" 1000 20)
f2=$(fds)
m2=$(rss)
if [ "$r1" != ok ] || [ "$r2" != ok ]; then
	fail api-1000-requests-20-clients "$r1 / $r2"
else
	pass api-1000-requests-20-clients
fi
[ "$f1" = "$f2" ] && pass api-no-fd-leak || fail api-no-fd-leak "fds $f1 -> $f2"
[ $((m2 - m1)) -lt 1024 ] && pass api-rss-stable || fail api-rss-stable "RSS ${m1} KiB -> ${m2} KiB"

# SIGTERM: clean stop, socket removed, last metrics line written.
lines=$(wc -l <"$TMP/run.metrics")
kill -TERM "$PID"
wait_exit "$PID" 10
[ "$rc" = 12 ] && pass api-sigterm-status || fail api-sigterm-status "status $rc"
[ ! -e "$SOCK" ] && pass api-socket-removed || fail api-socket-removed "$SOCK still exists"
[ "$(wc -l <"$TMP/run.metrics")" -gt "$lines" ] && pass api-final-metrics ||
	fail api-final-metrics "no metrics line at exit"
tail -1 "$TMP/run.metrics" | grep -q '"signals":{"sighup":0,"sigint":0,"sigterm":1}' &&
	pass api-final-metrics-signal || fail api-final-metrics-signal "$(tail -1 "$TMP/run.metrics" | grep -o '"signals":{[^}]*}')"

# ---- SendCtrlAltDel reaches a guest that reads the keyboard controller --------------------
start_api kbd
api PUT /boot-source "{\"kernel_image_path\":\"$(pwd)/$G/kbd.elf\"}"
api PUT /actions '{"action_type":"SendCtrlAltDel"}'
want api-ctrl-alt-del-before-start 400 "not running"
api PUT /actions '{"action_type":"InstanceStart"}'
for _ in $(seq 100); do grep -q 'kbd: ready' "$TMP/kbd.out" && break; sleep 0.02; done
api PUT /actions '{"action_type":"SendCtrlAltDel"}'
want api-ctrl-alt-del 204
wait_exit "$PID" 10
keys=$(grep -o 'kbd: [0-9a-f][0-9a-f]' "$TMP/kbd.out" | cut -d' ' -f2 | tr -d '\r' | tr '\n' ' ')
[ "$rc" = 1 ] && [ "$keys" = "1d 38 e0 53 e0 d3 b8 9d " ] && pass api-ctrl-alt-del-scancodes ||
	fail api-ctrl-alt-del-scancodes "status $rc, keys '$keys'"

# ---- a failing InstanceStart answers 400 and mote exits with the boot's status --------------
start_api badboot
api PUT /boot-source "{\"kernel_image_path\":\"$TMP/no-such-kernel\"}"
want api-missing-kernel-refused 400 "No such file"
api PUT /drives/d "{\"drive_id\":\"d\",\"path_on_host\":\"$TMP/no-such-disk\",\"is_root_device\":false}"
want api-missing-disk-refused 400 "No such file"
echo "not a kernel" >"$TMP/notakernel"
api PUT /boot-source "{\"kernel_image_path\":\"$TMP/notakernel\"}"
api PUT /actions '{"action_type":"InstanceStart"}'
want api-start-failure-reported 400 "InstanceStart failed"
wait_exit "$PID" 5
[ "$rc" = 4 ] && [ ! -e "$SOCK" ] && pass api-start-failure-exit ||
	fail api-start-failure-exit "status $rc, socket $(ls "$SOCK" 2>&1)"

# ---- network interfaces reach the boot (a tap that does not exist fails it, naming the tap) --
start_api nettap
api PUT /boot-source "{\"kernel_image_path\":\"$COUNTER\"}"
api PUT /network-interfaces/eth0 "{\"iface_id\":\"eth0\",\"host_dev_name\":\"moteapi$$\",\"guest_mac\":\"06:00:ac:10:00:02\"}"
want api-put-network-interface 204
api PUT /actions '{"action_type":"InstanceStart"}'
want api-net-tap-missing-reported 400 "moteapi$$"
wait_exit "$PID" 5
[ "$rc" = 4 ] && pass api-net-tap-missing-exit || fail api-net-tap-missing-exit "status $rc"

# ---- the same VM from a config file --------------------------------------------------------
cat >"$TMP/vm.json" <<EOF
{
  "boot-source": {"kernel_image_path": "$COUNTER", "boot_args": "spin=2000000 max=3"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 64, "smt": false},
  "drives": [{"drive_id": "data", "path_on_host": "$TMP/disk1.img", "is_root_device": false,
              "is_read_only": true}],
  "network-interfaces": [],
  "metrics": {"metrics_path": "$TMP/file.metrics"}
}
EOF
check api-config-file 1 "counter 3" "" --config-file "$TMP/vm.json"
grep -q '"state":"Ended"' "$TMP/file.metrics" && pass api-config-file-metrics ||
	fail api-config-file-metrics "$(cat "$TMP/file.metrics" 2>&1 | head -c 300)"
sed 's/"smt": false/"smt": true/' "$TMP/vm.json" >"$TMP/smt.json"
refuse api-config-file-unsupported 2 "smt is not supported" --config-file "$TMP/smt.json"
echo '{"boot-source": {"kernel_image_path": 1}}' >"$TMP/bad.json"
refuse api-config-file-wrong-type 2 "must be a string" --config-file "$TMP/bad.json"
echo '{"boot-source": {"kernel_image_path": "x"}, "balloon": {}}' >"$TMP/balloon.json"
refuse api-config-file-balloon 2 "balloon: missing required field 'amount_mib'" --config-file "$TMP/balloon.json"
refuse api-config-file-missing 2 "No such file" --config-file "$TMP/none.json"
refuse api-mode-no-run-options 2 "cannot be combined" --api-sock "$TMP/x.sock" --mem 64

# Config file plus socket: the API reports the running VM.
sed 's/ max=3//' "$TMP/vm.json" >"$TMP/forever.json"
SOCK=$TMP/both.sock
"$MOTE" --config-file "$TMP/forever.json" --api-sock "$SOCK" </dev/null >"$TMP/both.out" 2>"$TMP/both.err" &
PID=$!
PIDS+=("$PID")
for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.01; done
sleep 0.2
api GET /
want api-config-file-with-socket 200 '"state":"Running"'
api PUT /actions '{"action_type":"InstanceStart"}'
want api-config-file-start-refused 400 "already"
api PUT /boot-source "{\"kernel_image_path\":\"$COUNTER\"}"
want api-config-file-configure-refused 400 "before InstanceStart"
api PATCH /vm '{"state":"Paused"}'
want api-config-file-pause 204
kill -TERM "$PID"
wait_exit "$PID" 10
[ "$rc" = 12 ] && [ ! -e "$SOCK" ] && pass api-sigterm-while-paused || fail api-sigterm-while-paused "status $rc"

# ---- per-interval metrics: a known number of reads between flushes -----------------------
# blkwatch reads sector 0 eight times, waits, reads it three more times and ends: the first
# line shows 8 reads, a flush in the pause 0, the final line (at exit) 3. Counters are deltas,
# gauges (start-up time, timestamp) absolute; Firecracker's groups and per-drive names.
printf 'METRICS' >"$TMP/m.img"
truncate -s 1M "$TMP/m.img"
start_api mdelta
api PUT /metrics "{\"metrics_path\":\"$TMP/mdelta.metrics\"}"
api PUT /boot-source "{\"kernel_image_path\":\"$(pwd)/$G/blkwatch.elf\",\"boot_args\":\"reads=8 wait_ms=3000 more=3\"}"
api PUT /drives/data "{\"drive_id\":\"data\",\"path_on_host\":\"$TMP/m.img\",\"is_root_device\":false}"
api PUT /actions '{"action_type":"InstanceStart"}'
want api-metrics-delta-boot 204
for _ in $(seq 100); do grep -q 'blkwatch: 8 reads done' "$TMP/mdelta.out" && break; sleep 0.02; done
api PUT /actions '{"action_type":"FlushMetrics"}'
want api-metrics-delta-flush1 204
api PUT /actions '{"action_type":"FlushMetrics"}'
want api-metrics-delta-flush2 204
wait_exit "$PID" 15
if out=$(python3 - "$TMP/mdelta.metrics" <<'PY' 2>&1
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 3, f"{len(lines)} lines"
rc = [l["block_data"]["read_count"] for l in lines]
assert rc == [8, 0, 3], f"block_data.read_count {rc}"
assert [l["block"]["read_count"] for l in lines] == rc, "aggregate block differs"
assert [l["block_data"]["read_bytes"] for l in lines] == [4096, 0, 1536], "read_bytes"
assert [l["put_api_requests"]["actions_count"] for l in lines] == [1, 1, 1], "actions_count"
assert lines[0]["put_api_requests"]["drive_count"] == 1 and lines[1]["put_api_requests"]["drive_count"] == 0
st = [l["api_server"]["process_startup_time_us"] for l in lines]
assert st[0] > 0 and st[0] == st[1] == st[2], f"startup gauge {st}"
ts = [l["utc_timestamp_ms"] for l in lines]
assert ts[0] <= ts[1] <= ts[2] and ts[0] > 1600000000000, f"timestamps {ts}"
assert lines[0]["vcpu"]["exit_mmio_write"] > 0 and lines[1]["vcpu"]["exit_mmio_write"] == 0, "vcpu deltas"
assert lines[0]["vcpu"]["vcpu_count"] == 1 == lines[2]["vcpu"]["vcpu_count"], "vcpu_count gauge"
assert lines[2]["uart"]["write_count"] > 0 and lines[2]["state"] == "Ended"
assert [l["flushes"] for l in lines] == [1, 2, 3], "flushes"
for k in ("seccomp", "vmm", "logger", "get_api_requests", "patch_api_requests", "net", "devices"):
    assert k in lines[0], k
print("ok")
PY
); [ "$out" = ok ]; then
	pass api-metrics-deltas
else
	fail api-metrics-deltas "$out"
fi
[ "$rc" = 1 ] && pass api-metrics-delta-guest || fail api-metrics-delta-guest "status $rc: $(tail -c 300 "$TMP/mdelta.out")"

# ---- PATCH /drives on an Async (io_uring) drive under a running guest -----------------------
# blkwatch reads sector 0 every 20 ms and prints it with the capacity when either changes;
# each swap must show the new file's text and size; END ends the guest. update_count counts
# the attempts (3), update_fails the refused one.
printf 'FIRST-DISK-AAAAA' >"$TMP/s1.img"
truncate -s 1M "$TMP/s1.img"
printf 'SECOND-DISK-BBBB' >"$TMP/s2.img"
truncate -s 2M "$TMP/s2.img"
printf 'END-OF-THE-WATCH' >"$TMP/s3.img"
truncate -s 1M "$TMP/s3.img"
start_api swap
api PUT /metrics "{\"metrics_path\":\"$TMP/swap.metrics\"}"
api PUT /boot-source "{\"kernel_image_path\":\"$(pwd)/$G/blkwatch.elf\",\"boot_args\":\"watch_ms=20\"}"
api PUT /drives/data "{\"drive_id\":\"data\",\"path_on_host\":\"$TMP/s1.img\",\"is_root_device\":false,\"io_engine\":\"Async\"}"
want api-async-drive 204
api PUT /actions '{"action_type":"InstanceStart"}'
want api-async-start 204
seen() { for _ in $(seq 150); do grep -q "$1" "$TMP/swap.out" && return 0; sleep 0.02; done; return 1; }
seen "sector 0 'FIRST-DISK-AAAAA' capacity 2048" && pass api-async-first-disk ||
	fail api-async-first-disk "$(tail -c 300 "$TMP/swap.out") $(tail -c 300 "$TMP/swap.err")"
api PATCH /drives/data "{\"drive_id\":\"data\",\"path_on_host\":\"$TMP/s2.img\"}"
want api-async-swap 204
seen "sector 0 'SECOND-DISK-BBBB' capacity 4096" && pass api-async-swap-new-content ||
	fail api-async-swap-new-content "$(tail -c 300 "$TMP/swap.out")"
ls -l /proc/"$PID"/fd 2>/dev/null | grep -q s1.img && fail api-async-old-file-closed "s1.img still open" ||
	pass api-async-old-file-closed
api PATCH /drives/data "{\"drive_id\":\"data\",\"path_on_host\":\"$TMP/nothing.img\"}"
want api-async-swap-missing-file 400 nothing.img
api PATCH /drives/data "{\"drive_id\":\"data\",\"path_on_host\":\"$TMP/s3.img\"}"
want api-async-swap-again 204
wait_exit "$PID" 10
[ "$rc" = 1 ] && grep -q "sector 0 'END-OF-THE-WATCH' capacity 2048" "$TMP/swap.out" &&
	pass api-async-swap-guest-ends || fail api-async-swap-guest-ends "status $rc: $(tail -c 300 "$TMP/swap.out")"
grep -q '"block_data":{[^}]*"update_count":3,"update_fails":1' "$TMP/swap.metrics" &&
	pass api-async-swap-metrics || fail api-async-swap-metrics "$(grep -o '"block_data":{[^}]*}' "$TMP/swap.metrics")"

# ---- every exchange against Firecracker's Swagger description ------------------------------
if [ ! -f "$SPEC" ]; then
	skip api-swagger-validation "Firecracker's API description not found at $SPEC"
elif ! dir=$(sh tests/api/install-validator.sh 2>"$TMP/npm.err"); then
	skip api-swagger-validation "validator not installable: $(cat "$TMP/npm.err")"
elif out=$(NODE_PATH=$dir/node_modules node tests/api/validate.mjs "$SPEC" "$EX" 2>&1); then
	pass "api-swagger-validation ($out)"
	# The validator itself must catch a violation: a GET / answer with a number as app_name.
	printf '{"method":"GET","path":"/","status":200,"req":"","resp":"%s"}\n' \
		"$(printf '{"app_name":1,"id":"x","state":"Running","vmm_version":"v"}' | base64 -w0)" >"$TMP/badex.jsonl"
	if NODE_PATH=$dir/node_modules node tests/api/validate.mjs "$SPEC" "$TMP/badex.jsonl" >/dev/null 2>&1; then
		fail api-swagger-validator-catches "a response violating the spec passed"
	else
		pass api-swagger-validator-catches
	fi
else
	fail api-swagger-validation "$(echo "$out" | head -5 | tr '\n' ';')"
fi
