#!/bin/bash
# Snapshot and restore with network_overrides onto a real tap: the net test guest
# (tests/guests/net.c) boots through the API on tap A in namespace mote-sn1-$$, answers a ping,
# is paused and snapshotted, and its process is killed. A new process in another namespace,
# mote-sn2-$$, whose tap B has the same address, restores it with network_overrides (API) or
# --net-override (CLI) naming tap B: from that namespace the restored guest answers ping and UDP
# echo byte for byte. Refusals: an override for an interface the snapshot lacks, and a tap
# that does not exist (a clear line, nothing left running).
source "$(dirname "$0")/lib.sh"

ALL="snapnet-boot snapnet-create snapnet-api-load snapnet-api-ping snapnet-api-udp \
snapnet-cli-ping snapnet-cli-udp snapnet-unknown-iface snapnet-missing-tap"
need() { for n in $ALL; do skip "$n" "$1"; done; exit 0; }
[ "$(id -u)" = 0 ] || need "needs root (network namespaces, taps)"
[ -c /dev/net/tun ] || need "no /dev/net/tun"
[ -e /dev/kvm ] || need "no /dev/kvm"
for c in ip ping python3 curl; do command -v $c >/dev/null || need "no $c"; done

NS1=mote-sn1-$$ NS2=mote-sn2-$$
TA=sna$$ TB=snb$$
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	ip netns del "$NS1" 2>/dev/null
	ip netns del "$NS2" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
for ns in "$NS1" "$NS2"; do
	ip netns add "$ns" 2>/dev/null || need "cannot create a network namespace"
	ip -n "$ns" link set lo up
done
mktap() { ip -n "$1" tuntap add "$2" mode tap && ip -n "$1" link set "$2" up &&
	ip -n "$1" addr add 10.0.0.1/24 dev "$2"; }
mktap "$NS1" "$TA" && mktap "$NS2" "$TB" || need "cannot create taps in the namespaces"

api() { # api METHOD PATH [BODY]: one request on $SOCK; sets $code and $body
	local args=(-s -m 20 -o "$TMP/resp" -w '%{http_code}' --unix-socket "$SOCK" -X "$1")
	: >"$TMP/resp"
	[ -n "${3-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	code=$(curl "${args[@]}" "http://localhost$2")
	body=$(cat "$TMP/resp")
}
want() { # want NAME CODE [TEXT]
	if [ "$code" != "$2" ]; then fail "$1" "HTTP $code, expected $2: $body"
	elif [ -n "${3-}" ] && ! grep -qF -- "$3" <<<"$body"; then fail "$1" "answer lacks '$3': $body"
	else pass "$1"; fi
}
start_api() { # start_api NAME NS: mote --api-sock inside NS, in the background ($PID)
	SOCK=$TMP/$1.sock
	ip netns exec "$2" "$MOTE" --api-sock "$SOCK" </dev/null >"$TMP/$1.out" 2>"$TMP/$1.err" &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 300); do [ -S "$SOCK" ] && return 0; sleep 0.01; done
	return 1
}
ready() { # ready FILE: until the guest says "net: ready" (10 s)
	for _ in $(seq 200); do grep -q "net: ready" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}
# udp NS: UDP echo of several sizes byte for byte at 10.0.0.2, then "quit"; prints ok or why
udp() {
	ip netns exec "$1" python3 - <<'EOF'
import os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for size in (1, 100, 1000, 1472):
    data = os.urandom(size)
    s.sendto(data, ("10.0.0.2", 7))
    try:
        back, _ = s.recvfrom(65536)
    except socket.timeout:
        print("no echo for %d bytes" % size); raise SystemExit(1)
    if back != data:
        print("echo of %d bytes differs" % size); raise SystemExit(1)
s.sendto(b"quit", ("10.0.0.2", 7))
try:
    back, _ = s.recvfrom(100)
except socket.timeout:
    print("no answer to quit"); raise SystemExit(1)
print("ok" if back == b"bye!" else "quit answered %r" % back)
EOF
}
ping_from() { ip netns exec "$1" ping -c 2 -i 0.2 -W 2 10.0.0.2 >/dev/null 2>&1; }

ST=$TMP/vm.state
MEM=$TMP/vm.mem
NET=$(pwd)/$G/net.elf

# ---- boot on tap A, ping, pause, snapshot, kill ----------------------------------------------
start_api orig "$NS1" || need "the API socket did not appear: $(head -c 200 "$TMP/orig.err")"
api PUT /boot-source "{\"kernel_image_path\":\"$NET\",\"boot_args\":\"secs=60\"}"
api PUT /machine-config '{"vcpu_count":1,"mem_size_mib":32}'
api PUT /network-interfaces/eth0 "{\"iface_id\":\"eth0\",\"host_dev_name\":\"$TA\"}"
api PUT /actions '{"action_type":"InstanceStart"}'
if [ "$code" = 204 ] && ready "$TMP/orig.out" && ping_from "$NS1"; then pass snapnet-boot
else need "the net guest did not answer on tap A: $code $body $(head -c 200 "$TMP/orig.err")"; fi
api PATCH /vm '{"state":"Paused"}'
api PUT /snapshot/create "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"$ST\",\"mem_file_path\":\"$MEM\"}"
want snapnet-create 204
kill -9 "$PID"
wait "$PID" 2>/dev/null

# ---- restore through the API onto tap B, in the other namespace ------------------------------
start_api load "$NS2" || fail snapnet-api-load "no socket"
api PUT /snapshot/load "{\"snapshot_path\":\"$ST\",\"mem_backend\":{\"backend_type\":\"File\",\"backend_path\":\"$MEM\"},\"resume_vm\":true,\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"$TB\"}]}"
want snapnet-api-load 204
if ping_from "$NS2"; then pass snapnet-api-ping
else fail snapnet-api-ping "no ping reply from the restored guest on tap B: $(tail -c 200 "$TMP/load.err")"; fi
r=$(udp "$NS2")
wait "$PID"
rc=$?
if [ "$r" = ok ] && [ "$rc" = 1 ]; then pass snapnet-api-udp
else fail snapnet-api-udp "$r, status $rc: $(tail -c 200 "$TMP/load.err")"; fi

# ---- the same snapshot restored by the CLI, --net-override ------------------------------------
ip netns exec "$NS2" timeout 30 "$MOTE" restore --snapshot "$ST" --mem-file "$MEM" \
	--net-override "eth0=$TB" </dev/null >"$TMP/cli.out" 2>"$TMP/cli.err" &
PID=$!
PIDS+=("$PID")
ok=0
for _ in $(seq 50); do ping_from "$NS2" && { ok=1; break; }; kill -0 "$PID" 2>/dev/null || break; done
if [ $ok = 1 ]; then pass snapnet-cli-ping
else fail snapnet-cli-ping "no ping reply: $(tail -c 200 "$TMP/cli.err")"; fi
r=$(udp "$NS2")
wait "$PID"
rc=$?
if [ "$r" = ok ] && [ "$rc" = 1 ]; then pass snapnet-cli-udp
else fail snapnet-cli-udp "$r, status $rc: $(tail -c 200 "$TMP/cli.err")"; fi

# ---- refusals: no such interface in the snapshot; a tap that does not exist ------------------
out=$(ip netns exec "$NS2" timeout 20 "$MOTE" restore --snapshot "$ST" --mem-file "$MEM" \
	--net-override "eth7=$TB" 2>&1 </dev/null)
rc=$?
if [ "$rc" = 4 ] && [ "$(echo "$out" | wc -l)" = 1 ] && grep -q "no interface 'eth7'" <<<"$out"; then
	pass snapnet-unknown-iface
else fail snapnet-unknown-iface "status $rc: $out"; fi
out=$(ip netns exec "$NS2" timeout 20 "$MOTE" restore --snapshot "$ST" --mem-file "$MEM" \
	--net-override "eth0=nosuch$$" 2>&1 </dev/null)
rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$(echo "$out" | wc -l)" = 1 ] && grep -q "nosuch$$" <<<"$out" &&
	! ping_from "$NS2"; then
	pass snapnet-missing-tap
else fail snapnet-missing-tap "status $rc: $out"; fi
