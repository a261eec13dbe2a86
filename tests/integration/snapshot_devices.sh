#!/bin/bash
# The snapshot building blocks of docs/snapshot-devices.md, end to end through real KVM and the
# snapshot code of docs/snapshot.md (skipped by a mote without `mote restore`):
#   snapdev-genid-boot         the genid guest, booted through the API, sees its cold-boot ID
#   snapdev-genid-clones       two clones restored at once from one snapshot each see a new ID
#                              (its own, not the snapshot's, not the other clone's) and the
#                              restore counter 1: vmgenid_regenerate ran before the vCPUs
#   snapdev-genid-clones-run   both clones go on running after the change
source "$(dirname "$0")/lib.sh"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

if ! "$MOTE" --help 2>&1 | grep -q 'restore --snapshot'; then
	skip snapdev-genid "this mote has no 'mote restore' (the snapshot code of docs/snapshot.md)"
	exit 0
fi
if ! command -v curl >/dev/null || [ ! -e /dev/kvm ] || [ ! -f "$G/genid.elf" ]; then
	skip snapdev-genid "needs curl, /dev/kvm and $G/genid.elf"
	exit 0
fi

api() {
	code=$(curl -s -m 20 -o "$TMP/resp" -w '%{http_code}' --unix-socket "$SOCK" -X "$1" \
		-H 'Content-Type: application/json' ${3:+--data-binary "$3"} "http://localhost$2")
}
# genids FILE: the "genid <id> counter N" lines, as "<id> N".
genids() { tr -d '\r' <"$1" | sed -n 's/^genid \([0-9a-f]\{32\}\) counter \([0-9]*\)$/\1 \2/p'; }
wait_for() { # FILE PATTERN [TRIES]
	for _ in $(seq "${3:-500}"); do tr -d '\r' <"$1" | grep -qE "$2" && return 0; sleep 0.02; done
	return 1
}

SOCK=$TMP/orig.sock
"$MOTE" --api-sock "$SOCK" </dev/null >"$TMP/orig.out" 2>"$TMP/orig.err" &
PID=$!
PIDS+=("$PID")
for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.01; done
api PUT /boot-source "{\"kernel_image_path\":\"$(pwd)/$G/genid.elf\",\"boot_args\":\"watch alive=50 spin=2000000\"}"
api PUT /machine-config '{"vcpu_count":1,"mem_size_mib":32}'
api PUT /actions '{"action_type":"InstanceStart"}'
if ! wait_for "$TMP/orig.out" '^genid-alive'; then
	fail snapdev-genid-boot "the guest did not start: $(head -c 300 "$TMP/orig.out") $(head -c 300 "$TMP/orig.err")"
	exit 0
fi
read -r ID0 C0 <<<"$(genids "$TMP/orig.out" | head -n 1)"
[ -n "$ID0" ] && [ "$C0" = 0 ] && pass snapdev-genid-boot ||
	fail snapdev-genid-boot "first line '$ID0 $C0', expected an ID and counter 0"
api PATCH /vm '{"state":"Paused"}'
api PUT /snapshot/create "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"$TMP/st\",\"mem_file_path\":\"$TMP/mem\"}"
if [ "$code" != 204 ]; then
	fail snapdev-genid-clones "snapshot/create: HTTP $code $(cat "$TMP/resp")"
	exit 0
fi
kill -9 "$PID"
wait "$PID" 2>/dev/null

for c in a b; do
	"$MOTE" restore --snapshot "$TMP/st" --mem-file "$TMP/mem" </dev/null >"$TMP/$c.out" 2>"$TMP/$c.err" &
	PIDS+=("$!")
done
ok=1
for c in a b; do
	wait_for "$TMP/$c.out" '^genid [0-9a-f]{32} counter 1$' || {
		ok=0
		fail snapdev-genid-clones "clone $c printed no new ID: $(tr -d '\r' <"$TMP/$c.out" | head -c 200) $(head -c 300 "$TMP/$c.err")"
	}
done
if [ $ok = 1 ]; then
	IDA=$(genids "$TMP/a.out" | awk '$2 == 1 {print $1; exit}')
	IDB=$(genids "$TMP/b.out" | awk '$2 == 1 {print $1; exit}')
	if [ "$IDA" = "$ID0" ] || [ "$IDB" = "$ID0" ] || [ "$IDA" = "$IDB" ]; then
		fail snapdev-genid-clones "IDs: snapshot $ID0, clone a $IDA, clone b $IDB"
	else
		pass snapdev-genid-clones
	fi
	na=$(tr -d '\r' <"$TMP/a.out" | grep -c '^genid-alive')
	nb=$(tr -d '\r' <"$TMP/b.out" | grep -c '^genid-alive')
	sleep 0.5
	if [ "$(tr -d '\r' <"$TMP/a.out" | grep -c '^genid-alive')" -gt "$na" ] &&
	   [ "$(tr -d '\r' <"$TMP/b.out" | grep -c '^genid-alive')" -gt "$nb" ]; then
		pass snapdev-genid-clones-run
	else
		fail snapdev-genid-clones-run "a clone stopped printing after the change"
	fi
fi
exit 0
