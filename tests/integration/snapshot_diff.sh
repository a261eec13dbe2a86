#!/bin/bash
# Diff snapshots end to end (docs/snapshot.md "Diff snapshots") through real KVM: the counter
# guest booted with track_dirty_pages, paused, a Full snapshot, resumed a moment, paused, a
# Diff snapshot: the Diff file holds far fewer allocated blocks than the Full one. The Diff is
# layered onto a copy of the Full memory file by `mote snapshot-merge` (and its refusals)
# and the second state file restored from it: the count goes on from the second snapshot.
# Refusals: track_dirty_pages not a boolean, Diff without tracking (snapshot.sh).
source "$(dirname "$0")/lib.sh"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
if ! command -v curl >/dev/null; then
	skip snapshot-diff "curl is not installed (sh scripts/deps.sh)"
	exit 0
fi
if [ ! -e /dev/kvm ]; then
	skip snapshot-diff "no /dev/kvm"
	exit 0
fi
api() {
	local m=$1 p=$2 d=${3-}
	local args=(-s -m 20 -o "$TMP/resp" -w '%{http_code}' --unix-socket "$SOCK" -X "$m")
	: >"$TMP/resp"
	[ -n "$d" ] && args+=(-H 'Content-Type: application/json' --data-binary "$d")
	code=$(curl "${args[@]}" "http://localhost$p")
	body=$(cat "$TMP/resp")
}
want() {
	if [ "$code" != "$2" ]; then
		fail "$1" "HTTP $code, expected $2: $body"
	elif [ -n "${3-}" ] && ! grep -qF -- "$3" <<<"$body"; then
		fail "$1" "answer lacks '$3': $body"
	else
		pass "$1"
	fi
}
start_api() {
	SOCK=$TMP/$1.sock
	"$MOTE" --api-sock "$SOCK" </dev/null >"$TMP/$1.out" 2>"$TMP/$1.err" &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 200); do [ -S "$SOCK" ] && return 0; sleep 0.01; done
	return 1
}
stop_api() { kill -9 "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
counts() { cat "$@" | tr -d '\r' | grep -aE '^counter [0-9]+ ap [0-9]+$' | cut -d' ' -f2; }
last_count() { counts "$@" | tail -1; }
wait_count() {
	for _ in $(seq 200); do
		c=$(last_count "$1")
		[ -n "$c" ] && [ "$c" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
blocks() { stat -c %b "$1"; }

COUNTER=$(pwd)/$G/counter.elf
start_api orig || fail snapdiff-socket "no socket: $(cat "$TMP/orig.err")"
api PUT /boot-source "{\"kernel_image_path\":\"$COUNTER\",\"boot_args\":\"smp spin=20000000\"}"
api PUT /machine-config '{"vcpu_count":2,"mem_size_mib":64,"track_dirty_pages":"on"}'
want snapdiff-track-not-boolean 400 "track_dirty_pages must be true or false"
api PUT /machine-config '{"vcpu_count":2,"mem_size_mib":64,"track_dirty_pages":true}'
want snapdiff-machine-config 204
api GET /machine-config
want snapdiff-machine-config-reports 200 '"track_dirty_pages":true'
api PUT /actions '{"action_type":"InstanceStart"}'
want snapdiff-boot 204
wait_count "$TMP/orig.out" 5 || fail snapdiff-guest-counts "no counter output: $(head -c 200 "$TMP/orig.err")"
api PATCH /vm '{"state":"Paused"}'
api PUT /snapshot/create "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"$TMP/full.state\",\"mem_file_path\":\"$TMP/full.mem\"}"
want snapdiff-full 204
n1=$(last_count "$TMP/orig.out")
api PATCH /vm '{"state":"Resumed"}'
wait_count "$TMP/orig.out" $((n1 + 3))
api PATCH /vm '{"state":"Paused"}'
api PUT /snapshot/create "{\"snapshot_type\":\"Diff\",\"snapshot_path\":\"$TMP/diff.state\",\"mem_file_path\":\"$TMP/diff.mem\"}"
want snapdiff-diff 204
sleep 0.3
stop_api
cp "$TMP/orig.out" "$TMP/before.out"
fb=$(blocks "$TMP/full.mem"); db=$(blocks "$TMP/diff.mem")
echo "info snapshot-diff: Full memory file $((fb / 2)) KiB allocated, Diff $((db / 2)) KiB allocated, both $(stat -c %s "$TMP/diff.mem") bytes"
[ "$(stat -c %s "$TMP/diff.mem")" = $((64 << 20)) ] && [ "$db" -gt 0 ] && [ $((db * 2)) -lt "$fb" ] &&
	pass snapdiff-diff-is-small || fail snapdiff-diff-is-small "Full $fb blocks, Diff $db blocks"

# Layer the Diff onto a copy of the Full memory file: mote snapshot-merge BASE DIFF.
cp --sparse=always "$TMP/full.mem" "$TMP/merged.mem"
"$MOTE" snapshot-merge "$TMP/merged.mem" "$TMP/diff.mem" >"$TMP/merge.out" 2>&1 &&
	pass snapdiff-merge || fail snapdiff-merge "$(cat "$TMP/merge.out")"
"$MOTE" snapshot-merge "$TMP/merged.mem" >"$TMP/m1" 2>&1
[ $? = 2 ] && grep -q "usage: mote snapshot-merge BASE DIFF" "$TMP/m1" && pass snapdiff-merge-usage ||
	fail snapdiff-merge-usage "$(cat "$TMP/m1")"
head -c 4096 /dev/zero >"$TMP/small.mem"
"$MOTE" snapshot-merge "$TMP/small.mem" "$TMP/diff.mem" >"$TMP/m2" 2>&1
[ $? = 4 ] && grep -q "not memory files of one VM" "$TMP/m2" && pass snapdiff-merge-size-mismatch ||
	fail snapdiff-merge-size-mismatch "$(cat "$TMP/m2")"
"$MOTE" snapshot-merge "$TMP/merged.mem" "$TMP/nonexistent" >"$TMP/m3" 2>&1
[ $? = 4 ] && grep -q "DIFF" "$TMP/m3" && pass snapdiff-merge-missing || fail snapdiff-merge-missing "$(cat "$TMP/m3")"
cmp -s "$TMP/merged.mem" "$TMP/full.mem" && fail snapdiff-diff-changes-pages "the Diff changed nothing" ||
	pass snapdiff-diff-changes-pages

start_api load || fail snapdiff-load-socket "no socket"
api PUT /snapshot/load "{\"snapshot_path\":\"$TMP/diff.state\",\"mem_file_path\":\"$TMP/merged.mem\",\"resume_vm\":true,\"track_dirty_pages\":true}"
want snapdiff-load-merged 204
n2=$(last_count "$TMP/before.out")
wait_count "$TMP/load.out" $((n2 + 4))
first=$(counts "$TMP/load.out" | head -1)
if [ -n "$first" ] && [ "$first" -gt "$n1" ] && [ "$first" -le $((n2 + 2)) ] &&
	[ "$(last_count "$TMP/load.out")" -ge $((n2 + 4)) ]; then
	pass snapdiff-restore-full-plus-diff-counts-on
else
	fail snapdiff-restore-full-plus-diff-counts-on "Full at $n1, Diff at $n2, restored from ${first:-nothing} to $(last_count "$TMP/load.out"): $(head -c 300 "$TMP/load.err")"
fi
# The restored VM tracks too: a Diff of it works.
api PATCH /vm '{"state":"Paused"}'
api PUT /snapshot/create "{\"snapshot_type\":\"Diff\",\"snapshot_path\":\"$TMP/d2.state\",\"mem_file_path\":\"$TMP/d2.mem\"}"
want snapdiff-diff-of-restored 204
stop_api

# mote restore --track-dirty-pages --api-sock: Diff snapshots of a VM restored from the command line.
"$MOTE" restore --snapshot "$TMP/full.state" --mem-file "$TMP/full.mem" --track-dirty-pages >"$TMP/c1" 2>&1
[ $? = 2 ] && grep -q "needs --api-sock" "$TMP/c1" && pass snapdiff-cli-track-needs-api ||
	fail snapdiff-cli-track-needs-api "$(cat "$TMP/c1")"
SOCK=$TMP/cli.sock
"$MOTE" restore --snapshot "$TMP/full.state" --mem-file "$TMP/full.mem" --paused --track-dirty-pages \
	--api-sock "$SOCK" </dev/null >"$TMP/cli.out" 2>"$TMP/cli.err" &
PID=$!
PIDS+=("$PID")
for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.01; done
for _ in $(seq 200); do # the restore finishes after the socket exists
	api GET /
	grep -qF '"state":"Paused"' <<<"$body" && break
	sleep 0.05
done
api PUT /snapshot/create "{\"snapshot_type\":\"Diff\",\"snapshot_path\":\"$TMP/c.state\",\"mem_file_path\":\"$TMP/c.mem\"}"
want snapdiff-cli-restore-diff 204
stop_api
:
