#!/bin/bash
# mote-jailer (docs/jail.md) end to end, as root: jailed guests boot (hello, blk, hvt, the API
# socket through the API tests' client); from the outside a jailed VMM shows its uid/gid, no
# capabilities, no_new_privs, seccomp in every thread, its own mount/PID/network namespaces, a
# root holding only the jail's files and its cgroup limits; a guest RAM above the memory limit
# and a too-small pids.max fail cleanly; every bad input gets one clear line, its documented
# status, and leaves no directory, cgroup or mount behind. The test removes what it made.
source "$(dirname "$0")/lib.sh"
J=$BUILD/mote-jailer
ID=$$                        # every jail id of this run ends in -$ID
JUID=$((40000 + $$ % 20000)) # a uid and gid nobody else uses
BASE=$TMP/jails
PIDS=()
CG_MADE=()                   # cgroup directories this test made, deepest last

if [ "$(id -u)" != 0 ] || [ ! -e /dev/kvm ] || [ ! -x "$J" ]; then
	skip jail "needs root, /dev/kvm and $J (make $J)"
	exit 0
fi

# The cgroup hierarchy: v2 when it has memory and pids, else v1 (this project's hosts: hybrid,
# v2 with hugetlb only). v1: nested below this test's own memory cgroup.
V2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
v1mount() { awk -v c="$1" '$3 == "cgroup" && ("," $4 ",") ~ ("," c ",") {print $2; exit}' /proc/self/mounts; }
if [ -n "$V2" ] && grep -qw memory "$V2/cgroup.controllers" && grep -qw pids "$V2/cgroup.controllers"; then
	CGV=2 MEMFILE=memory.max PARENT=mote-jail-test-$ID
	CGROOTS=("$V2")
elif [ -n "$(v1mount memory)" ] && [ -n "$(v1mount pids)" ]; then
	CGV=1 MEMFILE=memory.limit_in_bytes
	own=$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
	PARENT=${own#/}${own:+/}mote-jail-test-$ID
	PARENT=${PARENT#/}
	CGROOTS=("$(v1mount memory)" "$(v1mount pids)")
else
	CGV=0
fi
# The parent levels that do not exist yet: the test removes them at the end.
for r in "${CGROOTS[@]}"; do
	p=$r
	IFS=/ read -ra parts <<<"$PARENT"
	for part in "${parts[@]}"; do
		p=$p/$part
		[ -d "$p" ] || CG_MADE+=("$p")
	done
done

cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for r in "${CGROOTS[@]}"; do rmdir "$r/$PARENT"/*-"$ID" 2>/dev/null; done
	for ((i = ${#CG_MADE[@]} - 1; i >= 0; i--)); do rmdir "${CG_MADE[i]}" 2>/dev/null; done
	ip netns del "mote-jail-$ID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# jail NAME ARGS...: runs mote-jailer (20 s timeout); $TMP/NAME.out, $TMP/NAME.err, $rc.
jail() {
	local name=$1
	shift
	timeout 20 "$J" "$@" <"${VM_STDIN:-/dev/null}" >"$TMP/$name.out" 2>"$TMP/$name.err"
	rc=$?
}

common=(--exec-file "$BUILD/mote" --uid "$JUID" --gid "$JUID" --chroot-base-dir "$BASE")
root_of() { echo "$BASE/mote/$1/root"; }
pid_of() { cat "$BASE/mote/$1/mote.pid" 2>/dev/null; }

# leftovers ID: what a refused start must not leave: the jail directory, a cgroup, a mount.
leftovers() {
	local what=""
	[ -e "$BASE/mote/$1" ] && what="$what $BASE/mote/$1"
	for r in "${CGROOTS[@]}"; do [ -e "$r/$PARENT/$1" ] && what="$what $r/$PARENT/$1"; done
	grep -q " $BASE/mote/$1" /proc/self/mountinfo && what="$what a mount"
	echo "$what"
}

# jrefuse NAME STATUS 'STDERR TEXT' ID ARGS...: one "mote-jailer: " line, the status, nothing left.
jrefuse() {
	local name=$1 want=$2 text=$3 id=$4 left
	shift 4
	jail "$name" --id "$id" "$@"
	left=$(leftovers "$id")
	if [ "$rc" != "$want" ]; then
		fail "$name" "status $rc, expected $want: $(head -c 300 "$TMP/$name.err")"
	elif ! grep -qF -- "$text" "$TMP/$name.err"; then
		fail "$name" "stderr lacks '$text': $(cat "$TMP/$name.err")"
	elif [ "$(wc -l <"$TMP/$name.err")" != 1 ] || ! grep -q '^mote-jailer: ' "$TMP/$name.err"; then
		fail "$name" "expected one 'mote-jailer: ' line: $(cat "$TMP/$name.err")"
	elif [ -n "$left" ]; then
		fail "$name" "left behind:$left"
	else
		pass "$name"
	fi
}

# 1. Jailed guests: files given by paths inside the jail.
jail hello --id hello-$ID "${common[@]}" --bind-ro "$G/hello.elf:/hello.elf" -- run /hello.elf
if [ "$rc" = 1 ] && grep -q "Hello from a mote guest" "$TMP/hello.out"; then pass jailed-hello
else fail jailed-hello "status $rc: $(head -c 300 "$TMP/hello.err")"; fi

truncate -s 1M "$TMP/disk.img"
chown "$JUID:$JUID" "$TMP/disk.img"
jail blk --id blk-$ID "${common[@]}" --bind-ro "$G/blk.elf:/guests/blk.elf" \
	--bind "$TMP/disk.img:/disks/disk.img" -- run --disk disks/disk.img /guests/blk.elf
if [ "$rc" = 1 ] && grep -q "blk: ok" "$TMP/blk.out"; then pass jailed-blk
else fail jailed-blk "status $rc: $(head -c 300 "$TMP/blk.out") $(head -c 300 "$TMP/blk.err")"; fi

if [ -f "$G/hvt/hello.hvt" ]; then
	jail hvt --id hvt-$ID "${common[@]}" --bind-ro "$G/hvt/hello.hvt:/hello.hvt" -- hvt --mem=8 /hello.hvt
	if [ "$rc" = 0 ] && grep -q "hello from a unikernel" "$TMP/hvt.out"; then pass jailed-hvt
	else fail jailed-hvt "status $rc: $(head -c 300 "$TMP/hvt.out") $(head -c 300 "$TMP/hvt.err")"; fi
fi

# 2. A running jailed VM seen from the outside: the echo guest waits for input on a fifo, with
#    --rng (an I/O thread), a new PID namespace, cgroup limits and a stray descriptor open here.
LIVE=live-$ID
mkfifo "$TMP/in"
exec 3<>"$TMP/in" 7>"$TMP/stray"
cg_args=()
[ "$CGV" != 0 ] && cg_args=(--cgroup-version "$CGV" --parent-cgroup "$PARENT" --cgroup "$MEMFILE=256M" --cgroup pids.max=32)
"$J" --id "$LIVE" "${common[@]}" --new-pid-ns "${cg_args[@]}" --bind-ro "$G/echo.elf:/echo.elf" \
	-- run --rng /echo.elf <"$TMP/in" >"$TMP/live.out" 2>"$TMP/live.err" &
jpid=$!
PIDS+=("$jpid")
exec 7>&-
for _ in $(seq 200); do grep -q "echo: ready" "$TMP/live.out" 2>/dev/null && break; sleep 0.05; done
P=$(pid_of "$LIVE")
if [ -z "$P" ] || [ ! -d "/proc/$P" ]; then
	fail jailed-live "no running VMM (pid '$P'): $(cat "$TMP/live.err")"
else
	st=/proc/$P/status
	field() { awk -v k="$1:" '$1 == k {$1 = ""; print substr($0, 2)}' "$st"; }
	want_ids=$(printf '%s %s %s %s' "$JUID" "$JUID" "$JUID" "$JUID")
	if [ "$(field Uid)" = "$want_ids" ] && [ "$(field Gid)" = "$want_ids" ] && [ -z "$(field Groups)" ]; then
		pass jailed-uid-gid
	else fail jailed-uid-gid "Uid '$(field Uid)' Gid '$(field Gid)' Groups '$(field Groups)'"; fi
	caps="$(field CapInh) $(field CapPrm) $(field CapEff) $(field CapBnd) $(field CapAmb)"
	if [ "$caps" = "0000000000000000 0000000000000000 0000000000000000 0000000000000000 0000000000000000" ]; then
		pass jailed-no-capabilities
	else fail jailed-no-capabilities "Inh Prm Eff Bnd Amb: $caps"; fi
	[ "$(field NoNewPrivs)" = 1 ] && pass jailed-no-new-privs || fail jailed-no-new-privs "NoNewPrivs $(field NoNewPrivs)"
	bad=""
	for t in /proc/$P/task/*/status; do
		[ "$(awk '/^Seccomp:/ {print $2}' "$t")" = 2 ] || bad="$bad $(basename "$(dirname "$t")")"
	done
	ntask=$(ls /proc/$P/task | wc -l)
	[ "$ntask" -ge 3 ] && [ -z "$bad" ] && pass jailed-seccomp-every-thread ||
		fail jailed-seccomp-every-thread "$ntask tasks, not in seccomp mode 2:$bad"
	for ns in mnt pid; do
		if [ "$(readlink /proc/$P/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ]; then pass "jailed-own-${ns}-ns"
		else fail "jailed-own-${ns}-ns" "same $ns namespace as the host: $(readlink /proc/$P/ns/$ns)"; fi
	done
	[ "$(field NSpid | awk '{print $2}')" = 1 ] && pass jailed-pid-1 || fail jailed-pid-1 "NSpid '$(field NSpid)'"
	# Only the jail's files: the VMM, /dev/kvm, the bound guest. build/mote is static, so
	# `mote run` needs no library at all (a dynamic one would bring ld.so and libc.so).
	extra=$(cd "/proc/$P/root" && find . -mindepth 1 | sed 's|^\.||' | grep -vxE '/(mote|echo\.elf|dev|dev/kvm)')
	if [ -z "$extra" ]; then pass jailed-root-holds-only-the-jail
	else fail jailed-root-holds-only-the-jail "unexpected: $(echo $extra | head -c 300)"; fi
	# mote run starts no API: the libraries of its "api" dlopen feature stay out (section 4 has them)
	if [ ! -e "/proc/$P/root/lib/x86_64-linux-gnu/libmicrohttpd.so.12" ]; then pass jailed-run-without-api-libraries
	else fail jailed-run-without-api-libraries "$(ls "/proc/$P/root/lib/x86_64-linux-gnu" | tr '\n' ' ')"; fi
	mounts=$(awk '{print $5, $6}' "/proc/$P/mountinfo")
	if echo "$mounts" | awk '$2 !~ /nosuid/ {bad = 1} $1 !~ /^\/$/ && $2 !~ /^ro/ {bad = 1} END {exit bad}'; then
		pass jailed-mounts-nosuid-ro
	else fail jailed-mounts-nosuid-ro "$(echo "$mounts" | tr '\n' ';')"; fi
	if ! ls -l "/proc/$P/fd" | grep -q "$TMP/stray"; then pass jailed-no-inherited-fd
	else fail jailed-no-inherited-fd "$(ls -l /proc/$P/fd | grep stray)"; fi
	env=$(tr '\0' ' ' <"/proc/$P/environ")
	if [ "$CGV" = 0 ] && [ -z "$env" ] || [ "$env" = "MOTE_MEMORY_LIMIT=268435456 " ]; then pass jailed-environment
	else fail jailed-environment "'$env'"; fi
	if [ "$CGV" = 0 ]; then
		skip jailed-cgroup "no cgroup hierarchy with memory and pids"
	else
		if [ "$CGV" = 2 ]; then mem=$V2/$PARENT/$LIVE pids=$mem; else mem=${CGROOTS[0]}/$PARENT/$LIVE pids=${CGROOTS[1]}/$PARENT/$LIVE; fi
		if grep -qx "$P" "$mem/cgroup.procs" && grep -qx "$P" "$pids/cgroup.procs" &&
			[ "$(cat "$mem/$MEMFILE")" = 268435456 ] && [ "$(cat "$pids/pids.max")" = 32 ] &&
			[ "$(cat "$pids/pids.current")" -ge 3 ]; then pass jailed-cgroup-limits
		else fail jailed-cgroup-limits "procs '$(cat "$mem/cgroup.procs")' $MEMFILE $(cat "$mem/$MEMFILE") pids.max $(cat "$pids/pids.max")"; fi
	fi
	kill -TERM "$jpid" # the jailer forwards it to the VMM
fi
wait "$jpid"
rc=$?
exec 3>&-
[ "$rc" = 12 ] && pass jailed-sigterm-forwarded || fail jailed-sigterm-forwarded "jailer status $rc, expected 12: $(cat "$TMP/live.err")"

# 3. Limits that do not fit fail cleanly (one line, a status, no hang): guest RAM above the memory
#    limit (mote refuses before the guest runs), a pids.max with no room for mote's threads.
if [ "$CGV" != 0 ]; then
	jail mem-too-small --id mem-$ID "${common[@]}" --cgroup-version "$CGV" --parent-cgroup "$PARENT" \
		--cgroup "$MEMFILE=64M" --bind-ro "$G/hello.elf:/hello.elf" -- run --mem 128M /hello.elf
	if [ "$rc" = 10 ] && grep -q "guest RAM of 128 MiB does not fit in the memory limit of 64 MiB" "$TMP/mem-too-small.err" &&
		! grep -q Hello "$TMP/mem-too-small.out"; then pass jailed-guest-ram-above-memory-limit
	else fail jailed-guest-ram-above-memory-limit "status $rc: $(cat "$TMP/mem-too-small.err")"; fi
	jail mem-fits --id memok-$ID "${common[@]}" --cgroup-version "$CGV" --parent-cgroup "$PARENT" \
		--cgroup "$MEMFILE=64M" --bind-ro "$G/hello.elf:/hello.elf" -- run --mem 32M /hello.elf
	[ "$rc" = 1 ] && pass jailed-guest-ram-within-memory-limit ||
		fail jailed-guest-ram-within-memory-limit "status $rc: $(cat "$TMP/mem-fits.err")"
	jail pids-too-small --id pids-$ID "${common[@]}" --cgroup-version "$CGV" --parent-cgroup "$PARENT" \
		--cgroup pids.max=2 --bind-ro "$G/rng.elf:/rng.elf" -- run --rng /rng.elf
	if [ "$rc" = 10 ] && grep -q "Resource temporarily unavailable" "$TMP/pids-too-small.err"; then
		pass jailed-pids-max-too-small
	else fail jailed-pids-max-too-small "status $rc: $(cat "$TMP/pids-too-small.err")"; fi
fi

# 4. API mode in the jail: mote dlopen()s libmicrohttpd there (its .note.dlopen put it in the jail)
#    and serves its socket at <root>/api.sock; the API tests' client drives it, then a boot. The
#    metrics file it opens is a path inside the jail too.
API=api-$ID
if command -v curl >/dev/null; then
	"$J" --id "$API" "${common[@]}" --bind-ro "$G/hello.elf:/hello.elf" -- --api-sock /api.sock \
		>"$TMP/api.out" 2>"$TMP/api.err" </dev/null &
	apid=$!
	PIDS+=("$apid")
	SOCK=$(root_of "$API")/api.sock
	for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
	# The API's libraries, read-only: libmicrohttpd and what it needs down to libc.so.
	apipid=$(pid_of "$API")
	amounts=$([ -n "$apipid" ] && awk '{print $5, $6}' "/proc/$apipid/mountinfo")
	if [ -e "/proc/$apipid/root/lib/x86_64-linux-gnu/libmicrohttpd.so.12" ] &&
		[ -e "/proc/$apipid/root/lib/x86_64-linux-gnu/libc.so.6" ] &&
		echo "$amounts" | awk '$1 ~ /^\/lib/ {n++; if ($2 !~ /^ro/) bad = 1} END {exit bad || n < 2}'; then
		pass jailed-api-libs-ro
	else fail jailed-api-libs-ro "$(echo "$amounts" | tr '\n' ';' | head -c 300)"; fi
	put() { curl -s -m 10 -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X PUT \
		-H 'Content-Type: application/json' --data-binary "$2" "http://localhost$1"; }
	c0=$(put /metrics '{"metrics_path":"/metrics.json"}')
	out=$(python3 tests/api/client.py load "$SOCK" 200 4 2>&1)
	[ "$c0" = 204 ] && [ "$out" = ok ] && [ -s "$(root_of "$API")/metrics.json" ] &&
		pass jailed-api-client-load || fail jailed-api-client-load "metrics $c0, $out $(cat "$TMP/api.err")"
	c1=$(put /boot-source '{"kernel_image_path":"/hello.elf"}')
	c2=$(put /actions '{"action_type":"InstanceStart"}')
	wait "$apid"
	rc=$?
	if [ "$c1$c2" = 204204 ] && [ "$rc" = 1 ] && grep -q "Hello from a mote guest" "$TMP/api.out"; then
		pass jailed-api-boot
	else fail jailed-api-boot "codes $c1 $c2, status $rc: $(head -c 300 "$TMP/api.err")"; fi
else
	skip jailed-api "curl is not installed (sh scripts/deps.sh)"
fi

# A config file inside the jail, whose paths are jail paths too.
cat >"$TMP/vm.json" <<EOF2
{"boot-source": {"kernel_image_path": "/guests/hello.elf"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 32},
 "drives": [{"drive_id": "d", "path_on_host": "disk.img", "is_root_device": false, "is_read_only": true}]}
EOF2
jail config --id cfg-$ID "${common[@]}" --bind-ro "$TMP/vm.json:/vm.json" --bind-ro "$G/hello.elf:/guests/hello.elf" \
	--bind-ro "$TMP/disk.img:/disk.img" -- --config-file /vm.json
if [ "$rc" = 1 ] && grep -q "Hello from a mote guest" "$TMP/config.out"; then pass jailed-config-file
else fail jailed-config-file "status $rc: $(head -c 300 "$TMP/config.err")"; fi

# 5. --daemonize: the jailer exits 0 once the VMM runs, in its own session, stdio on /dev/null.
DAE=dae-$ID
jail daemonize --id "$DAE" "${common[@]}" --daemonize -- --api-sock /api.sock
P=$(pid_of "$DAE")
if [ "$rc" = 0 ] && [ -n "$P" ] && [ -d "/proc/$P" ] && [ "$(ps -o sid= -p "$P" | tr -d ' ')" = "$P" ] &&
	[ "$(readlink "/proc/$P/fd/1")" = /dev/null ] && [ ! -s "$TMP/daemonize.out" ]; then
	pass jailed-daemonize
else fail jailed-daemonize "status $rc, pid '$P': $(cat "$TMP/daemonize.err")"; fi
if [ -n "$P" ]; then
	kill -TERM "$P"
	for _ in $(seq 100); do [ -d "/proc/$P" ] || break; sleep 0.05; done
	[ -d "/proc/$P" ] && kill -9 "$P"
fi

# 6. --netns: the VMM joins an existing network namespace.
NETNS=mote-jail-$ID
if ip netns add "$NETNS" 2>/dev/null; then
	NS=ns-$ID
	"$J" --id "$NS" "${common[@]}" --netns "/run/netns/$NETNS" -- --api-sock /api.sock \
		>/dev/null 2>"$TMP/ns.err" </dev/null &
	npid=$!
	PIDS+=("$npid")
	for _ in $(seq 200); do [ -S "$(root_of "$NS")/api.sock" ] && break; sleep 0.05; done
	P=$(pid_of "$NS")
	if [ -n "$P" ] && [ "$(stat -Lc %i "/proc/$P/ns/net")" = "$(stat -c %i "/run/netns/$NETNS")" ]; then
		pass jailed-netns
	else fail jailed-netns "pid '$P': $(cat "$TMP/ns.err")"; fi
	[ -e "$(root_of "$NS")/dev/net/tun" ] && pass jailed-tun-node-in-api-mode ||
		fail jailed-tun-node-in-api-mode "no /dev/net/tun in an API-mode jail"
	kill -TERM "$npid"
	wait "$npid"
	# A tap in that namespace owned by the VMM's uid (mote has no CAP_NET_ADMIN in the jail):
	# the net guest answers pings from the namespace's side.
	TAP=mj$ID
	if ip -n "$NETNS" tuntap add "$TAP" mode tap user "$JUID" && ip -n "$NETNS" link set lo up &&
		ip -n "$NETNS" link set "$TAP" up && ip -n "$NETNS" addr add 10.0.0.1/24 dev "$TAP"; then
		"$J" --id "net-$ID" "${common[@]}" --netns "/run/netns/$NETNS" --bind-ro "$G/net.elf:/net.elf" \
			-- run --net "tap=$TAP" --cmdline secs=30 /net.elf >"$TMP/net.out" 2>"$TMP/net.err" </dev/null &
		netpid=$!
		PIDS+=("$netpid")
		for _ in $(seq 200); do grep -q "net: ready" "$TMP/net.out" 2>/dev/null && break; sleep 0.05; done
		if ip netns exec "$NETNS" ping -c 2 -i 0.2 -W 2 10.0.0.2 >/dev/null 2>&1; then pass jailed-net-tap
		else fail jailed-net-tap "no ping reply: $(head -c 300 "$TMP/net.err") $(head -c 300 "$TMP/net.out")"; fi
		kill -TERM "$netpid"
		wait "$netpid"
	else
		skip jailed-net-tap "cannot create a tap in the namespace"
	fi
else
	skip jailed-netns "ip netns add failed"
fi
[ ! -e "$(root_of "hello-$ID")/dev/net/tun" ] && pass jailed-no-tun-without-taps ||
	fail jailed-no-tun-without-taps "/dev/net/tun in a jail whose VMM uses no tap"

# 7. Bad input: one line, the documented status (docs/jail.md), nothing left behind.
hello=(--bind-ro "$G/hello.elf:/hello.elf" -- run /hello.elf)
jrefuse bad-id 2 "character '_' not allowed" "a_b-$ID" "${common[@]}" "${hello[@]}"
jrefuse long-id 2 "at most 64 allowed" "$(printf 'x%.0s' $(seq 65))" "${common[@]}" "${hello[@]}"
mkdir -p "$BASE/mote/dup-$ID"
jail existing-id --id "dup-$ID" "${common[@]}" "${hello[@]}"
if [ "$rc" = 24 ] && grep -q "already exists: another VM uses --id dup-$ID" "$TMP/existing-id.err" &&
	[ -d "$BASE/mote/dup-$ID" ] && [ -z "$(ls -A "$BASE/mote/dup-$ID")" ]; then pass existing-id
else fail existing-id "status $rc: $(cat "$TMP/existing-id.err")"; fi
rmdir "$BASE/mote/dup-$ID"
if [ "$CGV" != 0 ]; then
	mkdir -p "${CGROOTS[0]}/$PARENT/cgdup-$ID"
	jail existing-cgroup --id "cgdup-$ID" "${common[@]}" --cgroup-version "$CGV" --parent-cgroup "$PARENT" \
		--cgroup "$MEMFILE=64M" "${hello[@]}"
	if [ "$rc" = 24 ] && grep -q "already exists: another jail uses --id cgdup-$ID" "$TMP/existing-cgroup.err" &&
		[ ! -e "$BASE/mote/cgdup-$ID" ]; then pass existing-cgroup-id
	else fail existing-cgroup-id "status $rc, jail dir left: $(ls -d "$BASE/mote/cgdup-$ID" 2>/dev/null): $(cat "$TMP/existing-cgroup.err")"; fi
	rmdir "${CGROOTS[0]}/$PARENT/cgdup-$ID"
	jrefuse unknown-cgroup-file 2 "--cgroup memory.bogus: unknown cgroup file" "cgfile-$ID" "${common[@]}" \
		--cgroup-version "$CGV" --parent-cgroup "$PARENT" --cgroup memory.bogus=1 "${hello[@]}"
	jrefuse bad-cgroup-value 2 "--cgroup pids.max=lots: the kernel refused the value" "cgval-$ID" \
		"${common[@]}" --cgroup-version "$CGV" --parent-cgroup "$PARENT" --cgroup pids.max=lots "${hello[@]}"
fi
if [ -z "$V2" ] || ! grep -qw rdma "$V2/cgroup.controllers"; then
	jrefuse missing-cgroup-controller 22 "has no rdma controller" "cgrdma-$ID" "${common[@]}" \
		--cgroup-version 2 --cgroup rdma.max=1 "${hello[@]}"
fi
jrefuse unknown-controller 2 "'bogus' is not a cgroup controller" "cgctl-$ID" "${common[@]}" \
	--cgroup bogus.max=1 "${hello[@]}"
jrefuse missing-exec-file 20 "--exec-file $TMP/no-mote: No such file" "noexec-$ID" \
	--exec-file "$TMP/no-mote" --uid "$JUID" --gid "$JUID" --chroot-base-dir "$BASE" "${hello[@]}"
jrefuse missing-bind-source 20 "--bind $TMP/nothing.elf: No such file" "nobind-$ID" "${common[@]}" \
	--bind-ro "$TMP/nothing.elf:/k" -- run /k
jrefuse dotdot-bind 2 "'..' would leave the jail" "dotdot-$ID" "${common[@]}" \
	--bind-ro "$G/hello.elf:/boot/../../hello.elf" -- run /hello.elf
jrefuse bind-over-dev 2 "the jail keeps /dev for itself" "bdev-$ID" "${common[@]}" \
	--bind-ro "$G/hello.elf:/dev/kvm" -- run /hello.elf
jrefuse not-a-netns 20 "not a network namespace" "nsbad-$ID" "${common[@]}" --netns /etc/hostname \
	"${hello[@]}"
jrefuse uid-root 2 "--uid 0: the VMM would keep root's access" "uid0-$ID" --exec-file "$BUILD/mote" \
	--uid 0 --gid "$JUID" --chroot-base-dir "$BASE" "${hello[@]}"
jrefuse rlimit-above-hard 26 "--resource-limit no-file=2000000000" "rlim-$ID" "${common[@]}" \
	--resource-limit no-file=2000000000 "${hello[@]}"
setpriv --reuid="$JUID" --regid="$JUID" --clear-groups "$J" --id "nr-$ID" "${common[@]}" "${hello[@]}" \
	>/dev/null 2>"$TMP/not-root.err"
rc=$?
[ "$rc" = 22 ] && grep -q "must run as root" "$TMP/not-root.err" && pass not-root ||
	fail not-root "status $rc: $(cat "$TMP/not-root.err")"

# Base directories that only a private mount namespace makes: the uid cannot open /dev/kvm in a
# jail on a nodev file system; nothing runs from a noexec one. Both fail after the jail was
# built and entered, and still leave nothing.
for kind in nodev noexec; do
	want=$([ $kind = nodev ] && echo 22 || echo 26)
	text=$([ $kind = nodev ] && echo "uid $JUID gid $JUID cannot open /dev/kvm in the jail" ||
		echo "cannot run /mote in the jail: Permission denied")
	mkdir -p "$TMP/$kind"
	unshare -m --propagation private bash -c '
		mount -t tmpfs -o '"$kind"',mode=0755 tmpfs "$1" || exit 99
		"$2" --id "'"$kind-$ID"'" --exec-file "$3" --uid "$4" --gid "$4" --chroot-base-dir "$1" \
			--bind-ro "$5:/hello.elf" -- run /hello.elf >/dev/null 2>"$6"
		rc=$?
		[ -z "$(ls -A "$1")" ] || { echo "left: $(find "$1" | head -5 | tr "\n" " ")" >>"$6"; exit 98; }
		exit $rc' _ "$TMP/$kind" "$J" "$BUILD/mote" "$JUID" "$G/hello.elf" "$TMP/$kind.err"
	rc=$?
	if [ "$rc" = "$want" ] && grep -qF "$text" "$TMP/$kind.err" && [ "$(wc -l <"$TMP/$kind.err")" = 1 ]; then
		pass "$kind-base-leaves-nothing"
	else fail "$kind-base-leaves-nothing" "status $rc, expected $want: $(cat "$TMP/$kind.err")"; fi
done

# 8. The cgroup v2 path on hosts whose v2 hierarchy has only hugetlb (this project's): the jailer
#    enables the controller down the parent levels and the VMM joins; the test restores the root.
if [ "$CGV" = 1 ] && [ -n "$V2" ] && grep -qw hugetlb "$V2/cgroup.controllers" &&
	[ -e /sys/kernel/mm/hugepages/hugepages-2048kB ]; then
	V2P=mote-jail-test-$ID-v2 V2ID=v2-$ID
	had=$(grep -cw hugetlb "$V2/cgroup.subtree_control")
	"$J" --id "$V2ID" "${common[@]}" --cgroup-version 2 --parent-cgroup "$V2P" \
		--cgroup hugetlb.2MB.max=0 -- --api-sock /api.sock >/dev/null 2>"$TMP/v2.err" </dev/null &
	vpid=$!
	PIDS+=("$vpid")
	for _ in $(seq 200); do [ -S "$(root_of "$V2ID")/api.sock" ] && break; sleep 0.05; done
	P=$(pid_of "$V2ID")
	if [ -n "$P" ] && grep -qx "0::/$V2P/$V2ID" "/proc/$P/cgroup" &&
		[ "$(cat "$V2/$V2P/$V2ID/hugetlb.2MB.max")" = 0 ] && grep -qw hugetlb "$V2/$V2P/cgroup.subtree_control"; then
		pass jailed-cgroup-v2
	else fail jailed-cgroup-v2 "pid '$P' $(grep '^0::' "/proc/$P/cgroup" 2>/dev/null): $(cat "$TMP/v2.err")"; fi
	kill -TERM "$vpid"
	wait "$vpid"
	rmdir "$V2/$V2P/$V2ID" "$V2/$V2P"
	[ "$had" = 0 ] && echo -hugetlb >"$V2/cgroup.subtree_control"
fi

# The VMM's binary holds none of the jail's code (a separate program, docs/jail.md).
if nm "$BUILD/mote" 2>/dev/null | grep -q ' [Tt] jail_'; then fail vmm-has-no-jail-code "$(nm "$BUILD/mote" | grep ' jail_' | head -3)"
else pass vmm-has-no-jail-code; fi
# Everything this file started is gone, and no jail of this run is mounted anywhere.
grep -q " $BASE" /proc/self/mountinfo && fail no-mounts-left "$(grep " $BASE" /proc/self/mountinfo | head -2)" ||
	pass no-mounts-left
