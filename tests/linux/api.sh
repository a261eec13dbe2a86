# The API path (docs/api.md) with a real Linux on the other side:
#   linux-api-boot           PUT /boot-source, /machine-config (2 vCPUs), /drives, InstanceStart:
#                            the bzImage reaches /init with the boot_args and sees 2 CPUs and the disk
#   linux-api-ctrl-alt-del   PUT /actions SendCtrlAltDel: the guest's atkbd driver gets the keys,
#                            the kernel reboots (kernel.ctrl-alt-del=1) and mote exits 0
# Needs curl. Run directly on a host with hardware virtualization, or through tests/nested/host.sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

linux_setup linux-api || exit 0
if ! command -v curl >/dev/null 2>&1; then
	skip linux-api "curl is not installed (sh scripts/deps.sh)"
	exit 0
fi
PID=""
trap '[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT

SOCK=$TMP/api.sock
N=linux-api-boot
T=$TMP/$N.txt
# api METHOD PATH BODY: one request; sets $code and $body.
api() {
	code=$(curl -s -m 10 -o "$TMP/resp" -w '%{http_code}' --unix-socket "$SOCK" -X "$1" \
		-H 'Content-Type: application/json' --data-binary "$3" "http://localhost$2")
	body=$(cat "$TMP/resp" 2>/dev/null)
}
step() { # step WHAT METHOD PATH BODY: a configuration request that must answer 204
	api "$2" "$3" "$4"
	[ "$code" = 204 ] && return 0
	fail $N "$1: HTTP $code, expected 204: $body"
	return 1
}

printf 'mote-api-disk' >"$TMP/disk.img"
truncate -s 1M "$TMP/disk.img"
"$MOTE" -v --api-sock "$SOCK" </dev/null >"$TMP/$N.out" 2>"$TMP/$N.err" &
PID=$!
for _ in $(seq 500); do [ -S "$SOCK" ] && break; sleep 0.02; done
cmd='echo 1 >/proc/sys/kernel/ctrl-alt-del; echo API-CPUS $(nproc) DISK $(head -c 13 /dev/vda); echo API-$((2 * 3))-READY; sleep 600'
args="mote.quiet=1 mote.cmd=\\\"$cmd\\\""
step boot-source PUT /boot-source \
	"{\"kernel_image_path\": \"$vmlinuz\", \"initrd_path\": \"$initramfs\", \"boot_args\": \"$args\"}" &&
	step machine-config PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}' &&
	step drives PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$TMP/disk.img\", \"is_root_device\": false, \"is_read_only\": true}" &&
	step InstanceStart PUT /actions '{"action_type": "InstanceStart"}' || exit 0

ready=0
for _ in $(seq $((LTIMEOUT * 5))); do
	clean $N
	grep -q '^API-6-READY' "$T" && { ready=1; break; }
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.2
done
if [ $ready = 0 ]; then
	fail $N "the guest did not reach its command: $(tail -n 5 "$T" | tr '\n' '|')"
	show $N >&2
	exit 0
fi
if grep -q '^API-CPUS 2 DISK mote-api-disk$' "$T"; then pass $N
else fail $N "the guest printed '$(grep -m1 '^API-CPUS' "$T")', expected 2 CPUs and the disk's first bytes"; fi

N2=linux-api-ctrl-alt-del
api PUT /actions '{"action_type": "SendCtrlAltDel"}'
if [ "$code" != 204 ]; then
	fail $N2 "SendCtrlAltDel: HTTP $code: $body"
	exit 0
fi
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
if [ "$rc" = 0 ]; then pass $N2
else show $N >&2; fail $N2 "mote status $rc after SendCtrlAltDel (999: still running after 60 s), expected 0"; fi
exit 0
