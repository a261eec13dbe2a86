#!/bin/bash
# virtio-balloon end to end (docs/balloon.md) with the balloon test guest (tests/guests/balloon.c)
# under the sandboxed build: the guest touches 64 MiB, PATCH /balloon inflates it by 48 MiB and
# mote's RSS drops by at least 40 MiB; deflating gives the pages back (they read zeroes and the
# guest reuses them); statistics arrive at the set interval and PATCH changes it; free page
# reporting releases what the guest reports; hostile inflate/deflate requests (PFNs outside RAM,
# in the device hole, repeated, 16384 at once, odd lengths) are ignored and counted, mote keeps
# running and the guest's other pages keep their data; every bad API field and CLI value is
# refused. Every API exchange is validated against Firecracker's Swagger file at the end.
source "$(dirname "$0")/lib.sh"
SPEC=${MOTE_FC_SPEC:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/reference/firecracker-api.yaml}
[ -f "$SPEC" ] || SPEC=/work/shared/reference/firecracker-api.yaml
EX=$TMP/exchanges.jsonl
: >"$EX"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

if ! command -v curl >/dev/null; then
	skip balloon "curl is not installed (sh scripts/deps.sh)"
	exit 0
fi
if [ ! -e /dev/kvm ]; then
	skip balloon "no /dev/kvm"
	exit 0
fi
GUEST=$(pwd)/$G/balloon.elf

# api METHOD PATH [BODY]: one request on $SOCK; sets $code and $body, records the exchange.
api() {
	local m=$1 p=$2 d=${3-}
	local args=(-s -m 10 -o "$TMP/resp" -w '%{http_code}' --unix-socket "$SOCK" -X "$m")
	: >"$TMP/resp"
	[ -n "$d" ] && args+=(-H 'Content-Type: application/json' --data-binary "$d")
	code=$(curl "${args[@]}" "http://localhost$p")
	body=$(cat "$TMP/resp")
	printf '{"method":"%s","path":"%s","status":%s,"req":"%s","resp":"%s"}\n' "$m" "$p" \
		"$((10#${code:-0}))" "$(printf %s "$d" | base64 -w0)" "$(base64 -w0 <"$TMP/resp")" >>"$EX"
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

# wait_line NAME TEXT SECONDS: waits until the guest printed TEXT. Returns 1 on timeout.
wait_line() {
	for _ in $(seq $(($3 * 20))); do
		tr -d '\r' 2>/dev/null <"$TMP/$1.out" | grep -qF -- "$2" && return 0
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# field NAME: an integer field of the last JSON answer.
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$body" "$1"; }

# ---- the command line --------------------------------------------------------------------
refuse balloon-cli-unknown 2 "unknown --balloon option" run --balloon amount_mib=1,size=2 "$GUEST"
refuse balloon-cli-no-amount 2 "needs amount_mib" run --balloon stats=1 "$GUEST"
refuse balloon-cli-too-big 2 "more than the guest's 64 MiB" run --mem 64M --balloon amount_mib=65 "$GUEST"
refuse balloon-cli-bad-number 2 "give a number of MiB" run --balloon amount_mib=-1 "$GUEST"
refuse balloon-cli-bad-stats 2 "give 0 (off) to 65535" run --balloon amount_mib=1,stats=65536 "$GUEST"
refuse balloon-cli-bad-bool 2 "give on or off" run --balloon amount_mib=1,deflate_on_oom=maybe "$GUEST"
refuse balloon-cli-twice 2 "given twice" run --balloon amount_mib=1 --balloon amount_mib=2 "$GUEST"
refuse balloon-cli-key-twice 2 "amount_mib= is given twice" run --balloon amount_mib=1,amount_mib=2 "$GUEST"
# The CLI form boots: a fixed target of 16 MiB, reached at once.
VM_TIMEOUT=4 vm balloon-cli run --mem 128M --balloon amount_mib=16,deflate_on_oom=on,stats=1 "$GUEST"
tr -d '\r' <"$TMP/balloon-cli.out" | grep -qF "inflated to 4096 pages" && pass balloon-cli-inflates ||
	fail balloon-cli-inflates "status $rc: $(tail -c 300 "$TMP/balloon-cli.out") $(head -c 300 "$TMP/balloon-cli.err")"

# ---- the API before the boot: every field checked ------------------------------------------
start_api pre || fail balloon-api-socket "no socket: $(cat "$TMP/pre.err")"
api GET /balloon
want balloon-get-unconfigured 400 "no balloon device"
api PATCH /balloon '{"amount_mib":1}'
want balloon-patch-unconfigured 400 "no balloon device"
api PUT /machine-config '{"vcpu_count":1,"mem_size_mib":64}'
api PUT /balloon '{"amount_mib":1}'
want balloon-put-missing-field 400 "missing required field 'deflate_on_oom'"
api PUT /balloon '{"amount_mib":65,"deflate_on_oom":false}'
want balloon-put-too-big 400 "from 0 to 64"
api PUT /balloon '{"amount_mib":-1,"deflate_on_oom":false}'
want balloon-put-negative 400 "must be an integer"
api PUT /balloon '{"amount_mib":"8","deflate_on_oom":false}'
want balloon-put-string 400 "must be an integer"
api PUT /balloon '{"amount_mib":8,"deflate_on_oom":1}'
want balloon-put-not-bool 400 "must be true or false"
api PUT /balloon '{"amount_mib":8,"deflate_on_oom":true,"stats_polling_interval_s":65536}'
want balloon-put-stats-range 400 "stats_polling_interval_s"
api PUT /balloon '{"amount_mib":8,"deflate_on_oom":true,"free_page_hinting":true}'
want balloon-put-hinting 400 "free_page_hinting is not supported"
api PUT /balloon '{"amount_mib":8,"deflate_on_oom":true,"size":3}'
want balloon-put-unknown 400 "unknown field 'size'"
api PUT /balloon '{"amount_mib":8,"deflate_on_oom":true}'
want balloon-put 204
api GET /balloon
want balloon-get 200 '"amount_mib":8'
api GET /balloon/statistics
want balloon-stats-disabled 400 "not enabled"
api PATCH /balloon/statistics '{"stats_polling_interval_s":5}'
want balloon-patch-stats-before-boot 204
api PATCH /balloon '{"amount_mib":32}'
want balloon-patch-before-boot 204
api GET /balloon/hinting/status
want balloon-hinting-refused 400 "not supported"
api DELETE /balloon
want balloon-delete-refused 400 "invalid request"
api PUT /machine-config '{"vcpu_count":1,"mem_size_mib":16}'
api PUT /boot-source "{\"kernel_image_path\":\"$GUEST\"}"
api PUT /actions '{"action_type":"InstanceStart"}'
want balloon-start-target-too-big 400 "more than the guest's 16 MiB"
kill -TERM "$PID"
wait "$PID"

# ---- inflate, RSS, statistics, deflate, reporting ------------------------------------------
start_api vm
api PUT /boot-source "{\"kernel_image_path\":\"$GUEST\",\"boot_args\":\"report=8\"}"
api PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128}'
api PUT /balloon '{"amount_mib":0,"deflate_on_oom":true,"stats_polling_interval_s":1,"free_page_reporting":true}'
want balloon-put-full 204
api PUT /metrics "{\"metrics_path\":\"$TMP/vm.metrics\"}"
api PUT /actions '{"action_type":"InstanceStart"}'
want balloon-start 204
if ! wait_line vm "balloon: touched 64 MiB" 20; then
	fail balloon-guest-touched "$(tail -c 400 "$TMP/vm.out") $(cat "$TMP/vm.err")"
fi
wait_line vm "reported 8 MiB (2048 zero pages)" 10 && pass balloon-reporting-zeroes ||
	fail balloon-reporting-zeroes "$(tail -c 300 "$TMP/vm.out")"
sleep 0.5
rss1=$(rss_kib "$PID")
api PATCH /balloon '{"amount_mib":48}'
want balloon-patch-inflate 204
if wait_line vm "inflated to 12288 pages" 20; then
	sleep 0.3
	rss2=$(rss_kib "$PID")
	drop=$((rss1 - rss2))
	[ "$drop" -ge 40960 ] && pass "balloon-rss-drop (${rss1} KiB -> ${rss2} KiB: $((drop / 1024)) MiB)" ||
		fail balloon-rss-drop "VmRSS ${rss1} KiB -> ${rss2} KiB, a drop of ${drop} KiB (< 40960)"
else
	fail balloon-rss-drop "the guest did not inflate: $(tail -c 300 "$TMP/vm.out")"
fi
api GET /balloon/statistics
want balloon-stats-actual 200 '"actual_pages":12288'
grep -qF '"target_mib":48' <<<"$body" && grep -qF '"total_memory":' <<<"$body" &&
	grep -qF '"free_memory":' <<<"$body" && grep -qF '"major_faults":7' <<<"$body" &&
	grep -qF '"hugetlb_allocations":3' <<<"$body" && pass balloon-stats-fields ||
	fail balloon-stats-fields "$body"
api GET /balloon
want balloon-get-after-patch 200 '"amount_mib":48'
# Statistics every second: over 3 s, 2 to 4 new answers (minor_faults counts them).
api GET /balloon/statistics
m0=$(field minor_faults)
sleep 3
api GET /balloon/statistics
m1=$(field minor_faults)
d=$((m1 - m0))
[ "$d" -ge 2 ] && [ "$d" -le 4 ] && pass "balloon-stats-interval-1s ($d in 3 s)" ||
	fail balloon-stats-interval-1s "minor_faults $m0 -> $m1 in 3 s"
api PATCH /balloon/statistics '{"stats_polling_interval_s":2}'
want balloon-patch-stats 204
sleep 0.3
api GET /balloon/statistics
m0=$(field minor_faults)
sleep 4.1
api GET /balloon/statistics
m1=$(field minor_faults)
d=$((m1 - m0))
[ "$d" -ge 1 ] && [ "$d" -le 3 ] && pass "balloon-stats-interval-2s ($d in 4 s)" ||
	fail balloon-stats-interval-2s "minor_faults $m0 -> $m1 in 4.1 s"
# Bad input after the boot.
api PUT /balloon '{"amount_mib":1,"deflate_on_oom":false}'
want balloon-put-after-boot 400 "before InstanceStart"
api PATCH /balloon '{"amount_mib":129}'
want balloon-patch-too-big 400 "from 0 to 128"
api PATCH /balloon '{"amount_mib":8,"deflate_on_oom":true}'
want balloon-patch-unknown 400 "unknown field 'deflate_on_oom'"
api PATCH /balloon '{}'
want balloon-patch-empty 400 "missing required field 'amount_mib'"
api PATCH /balloon 'amount_mib=8'
want balloon-patch-not-json 400 "malformed JSON"
api PATCH /balloon/statistics '{"stats_polling_interval_s":0}'
want balloon-stats-cannot-stop 400 "cannot be turned off"
api PATCH /balloon/statistics '{"stats_polling_interval_s":70000}'
want balloon-stats-patch-range 400 "stats_polling_interval_s"
# Deflate: the pages come back zero-filled and the guest uses them again.
api PATCH /balloon '{"amount_mib":0}'
want balloon-patch-deflate 204
wait_line vm "deflated to 0 pages (12288 zero, 12288 reused)" 20 && pass balloon-deflate-reuse ||
	fail balloon-deflate-reuse "$(tail -c 300 "$TMP/vm.out")"
sleep 0.3
rss3=$(rss_kib "$PID")
[ "$rss3" -ge $((rss2 + 40960)) ] && pass "balloon-reuse-rss (${rss3} KiB)" ||
	fail balloon-reuse-rss "VmRSS ${rss2} KiB -> ${rss3} KiB after the guest reused 48 MiB"
api GET /balloon/statistics
want balloon-stats-after-deflate 200 '"actual_pages":0'
api PUT /actions '{"action_type":"FlushMetrics"}'
python3 - "$TMP/vm.metrics" <<'EOF' && pass balloon-metrics-counters || fail balloon-metrics-counters "$(tail -c 600 "$TMP/vm.metrics")"
import json, sys
d = json.loads(open(sys.argv[1]).read().splitlines()[-1])["devices"]["virtio-balloon"]
ok = d["inflated"] == 12288 and d["deflated"] == 12288 and d["reported"] == 2048 \
    and d["bad_pfns"] == 0 and d["discard_errors"] == 0 and d["stats_updates"] >= 5
sys.exit(0 if ok else 1)
EOF
kill -TERM "$PID"
wait "$PID"
rc=$?
[ "$rc" = 12 ] && ! grep -q "seccomp" "$TMP/vm.err" && pass balloon-sandboxed-exit ||
	fail balloon-sandboxed-exit "status $rc: $(tail -c 300 "$TMP/vm.err")"

# ---- hostile requests (from the config file, with a socket for the metrics) ---------------
cat >"$TMP/hostile.json" <<EOF
{
  "boot-source": {"kernel_image_path": "$GUEST", "boot_args": "hostile"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
  "balloon": {"amount_mib": 16, "deflate_on_oom": false},
  "metrics": {"metrics_path": "$TMP/hostile.metrics"}
}
EOF
SOCK=$TMP/hostile.sock
: >"$TMP/hostile.out"
"$MOTE" --config-file "$TMP/hostile.json" --api-sock "$SOCK" </dev/null >"$TMP/hostile.out" 2>"$TMP/hostile.err" &
PID=$!
PIDS+=("$PID")
if wait_line hostile "balloon: hostile done" 20 && wait_line hostile "inflated to 4096 pages" 20; then
	pass balloon-hostile-survived
else
	fail balloon-hostile-survived "$(tail -c 400 "$TMP/hostile.out") $(tail -c 300 "$TMP/hostile.err")"
fi
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.02; done
api GET /
want balloon-hostile-api-alive 200 '"state":"Running"'
api GET /vm/config
want balloon-vm-config 200 '"balloon":{"amount_mib":16'
api PUT /actions '{"action_type":"FlushMetrics"}'
python3 - "$TMP/hostile.metrics" <<'EOF' && pass balloon-hostile-counted || fail balloon-hostile-counted "$(tail -c 700 "$TMP/hostile.metrics")"
import json, sys
d = json.loads(open(sys.argv[1]).read().splitlines()[-1])["devices"]["virtio-balloon"]
want = {"bad_pfns": 4109, "repeated": 3, "not_inflated": 3, "capped": 12288, "bad_lengths": 1,
        "inflated": 4097, "deflated": 1, "discard_errors": 0, "guest_errors": 0}
bad = {k: (d.get(k), v) for k, v in want.items() if d.get(k) != v}
if bad: print(bad, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
kill -TERM "$PID"
wait "$PID"
rc=$?
[ "$rc" = 12 ] && pass balloon-hostile-exit || fail balloon-hostile-exit "status $rc: $(tail -c 300 "$TMP/hostile.err")"

# ---- every exchange against Firecracker's Swagger description ------------------------------
if [ ! -f "$SPEC" ]; then
	skip balloon-swagger-validation "Firecracker's API description not found at $SPEC"
elif ! dir=$(sh tests/api/install-validator.sh 2>"$TMP/npm.err"); then
	skip balloon-swagger-validation "validator not installable: $(cat "$TMP/npm.err")"
elif out=$(NODE_PATH=$dir/node_modules node tests/api/validate.mjs "$SPEC" "$EX" 2>&1); then
	pass "balloon-swagger-validation ($out)"
else
	fail balloon-swagger-validation "$(echo "$out" | head -5 | tr '\n' ';')"
fi
