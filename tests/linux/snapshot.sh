# A real Linux guest snapshotted and restored (docs/snapshot.md, issue 13's Linux part):
#   linux-snap-boot          API boot of Debian's bzImage with an ext4 --disk (virtio_blk);
#                            the guest mounts it and runs a loop: every ~0.5 s a line
#                            "TICK i UPTIME DATE DISKLINES" on the console, i appended to
#                            /mnt/log and synced, the file's line count read back
#   linux-snap-create        PATCH /vm Paused, PUT /snapshot/create (Full): 204; then the
#                            process is killed (-9)
#   linux-snap-load          PUT /snapshot/load with resume_vm in a new mote --api-sock: 204
#   linux-snap-counter       the loop goes on: the first tick after the restore is the last one
#                            before it or the next (one line may repeat), then 1, 2, 3 ... to the end
#   linux-snap-clock         /proc/uptime and date +%s never go back; across the restore they
#                            jump by at most 2 ticks' time + 1 s (the clock is frozen while
#                            stored: the test waits 2 s between kill and restore); after it
#                            they advance at least 0.4 s per tick (timers fire: sleep returns)
#                            and no faster than the host's wall clock (+2 s)
#   linux-snap-disk          after the restore the loop's read-back of /mnt/log matched every
#                            tick (no DISK-BAD), the guest unmounted it; after mote exits the
#                            host's debugfs reads 1..N in /log and e2fsck -fn finds it clean
#   linux-snap-poweroff      the restored guest's poweroff ends mote with 0
# Hard limits: LTIMEOUT (300 s) for each boot/restore phase. Run directly on a host with
# hardware virtualization, or through tests/nested/host.sh (make check-slow).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

linux_setup linux-snap || exit 0
for tool in curl mkfs.ext4 debugfs; do
	if ! command -v $tool >/dev/null 2>&1; then
		skip linux-snap "no $tool"
		exit 0
	fi
done
PID=""
trap '[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT

NT=20 # ticks in the whole run
SNAP_AT=4 # snapshot once this tick is on the console

mkdir -p "$TMP/rootfs"
echo seed >"$TMP/rootfs/seed.txt"
if ! mkfs.ext4 -q -F -d "$TMP/rootfs" "$TMP/disk.img" 16M 2>"$TMP/mkfs.err"; then
	fail linux-snap "mkfs.ext4 -d failed: $(cat "$TMP/mkfs.err")"
	exit 0
fi

# api METHOD PATH BODY: one request on $SOCK; sets $code and $body.
api() {
	code=$(curl -s -m 30 -o "$TMP/resp" -w '%{http_code}' --unix-socket "$SOCK" -X "$1" \
		-H 'Content-Type: application/json' --data-binary "$3" "http://localhost$2")
	body=$(cat "$TMP/resp" 2>/dev/null)
}
step() { # step NAME WHAT METHOD PATH BODY: a request that must answer 204
	api "$3" "$4" "$5"
	[ "$code" = 204 ] && return 0
	fail "$1" "$2: HTTP $code, expected 204: $body"
	return 1
}
start_api() { # start_api NAME: mote --api-sock in the background ($PID)
	SOCK=$TMP/$1.sock
	"$MOTE" -v --api-sock "$SOCK" </dev/null >"$TMP/$1.out" 2>"$TMP/$1.err" &
	PID=$!
	for _ in $(seq 500); do [ -S "$SOCK" ] && return 0; sleep 0.02; done
	fail "$1" "no API socket: $(head -n 3 "$TMP/$1.err")"
	return 1
}
ticks() { tr -d '\r' <"$TMP/$1.out" | grep -aE '^TICK [0-9]+ [0-9.]+ [0-9]+ [0-9]+$'; }
last_tick() { ticks "$1" | tail -n 1 | cut -d' ' -f2; }

# The guest's loop. $((...)) and $(...) are the guest's: the printed lines differ from the
# command line the kernel echoes. No double quotes (the line is inside mote.cmd="...").
cmd="mkdir -p /mnt && mount -t ext4 /dev/vda /mnt || echo MOUNT-FAILED; i=0
while [ \$i -lt $NT ]; do i=\$((i + 1)); echo \$i >>/mnt/log; sync; n=\$(wc -l </mnt/log)
[ \$n = \$i ] || echo DISK-BAD \$i \$n; echo TICK \$i \$(cut -d' ' -f1 /proc/uptime) \$(date +%s) \$n; sleep 0.5; done
umount /mnt && echo UMOUNT-OK; poweroff"
cmd=${cmd//$'\n'/; }
args="mote.quiet=1 mote.cmd=\\\"$cmd\\\""

N=linux-snap-boot
start_api orig || exit 0
step $N boot-source PUT /boot-source \
	"{\"kernel_image_path\": \"$vmlinuz\", \"initrd_path\": \"$initramfs\", \"boot_args\": \"$args\"}" &&
	step $N machine-config PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}' &&
	step $N drives PUT /drives/disk "{\"drive_id\": \"disk\", \"path_on_host\": \"$TMP/disk.img\", \"is_root_device\": false, \"is_read_only\": false}" &&
	step $N InstanceStart PUT /actions '{"action_type": "InstanceStart"}' || exit 0
t0=$SECONDS
while [ $((SECONDS - t0)) -lt "$LTIMEOUT" ]; do
	c=$(last_tick orig)
	[ -n "$c" ] && [ "$c" -ge $SNAP_AT ] && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.2
done
c=$(last_tick orig)
if [ -z "$c" ] || [ "$c" -lt $SNAP_AT ]; then
	fail $N "no TICK $SNAP_AT after $((SECONDS - t0)) s: $(tr -d '\r' <"$TMP/orig.out" | tail -n 5 | tr '\n' '|')"
	show orig >&2
	exit 0
fi
echo "  linux-snap-boot: TICK $c after $((SECONDS - t0)) s" >&2
pass $N

N=linux-snap-create
ST=$TMP/vm.state MEM=$TMP/vm.mem
step $N pause PATCH /vm '{"state": "Paused"}' || exit 0
ts=$(cut -d" " -f1 /proc/uptime) # busybox date has no %N
step $N create PUT /snapshot/create \
	"{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$ST\", \"mem_file_path\": \"$MEM\"}" || exit 0
echo "  linux-snap-create: $(awk -v t="$ts" '{ printf "%d", ($1 - t) * 1000 }' /proc/uptime) ms, state $(stat -c %s "$ST") bytes, memory $(du -k "$MEM" | cut -f1) KiB on disk" >&2
kill -KILL "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
PID=""
pass $N
sleep 2 # the stored VM's clock must not see these seconds

N=linux-snap-load
start_api load || exit 0
tl=$(cut -d" " -f1 /proc/uptime)
step $N load PUT /snapshot/load \
	"{\"snapshot_path\": \"$ST\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$MEM\"}, \"resume_vm\": true}" || {
	show load >&2
	exit 0
}
pass $N
rc=999
for _ in $(seq $((LTIMEOUT * 5))); do
	if ! kill -0 "$PID" 2>/dev/null; then
		wait "$PID"
		rc=$?
		break
	fi
	sleep 0.2
done
te=$(cut -d" " -f1 /proc/uptime)
[ "$rc" = 999 ] && kill -KILL "$PID" 2>/dev/null
PID=""
wall=$(awk -v a="$tl" -v b="$te" 'BEGIN { printf "%.1f", b - a }')
echo "  linux-snap-load: mote status $rc after $wall s" >&2
clean load
clean orig

ticks orig >"$TMP/before.t"
ticks load >"$TMP/after.t"
first=$(head -n 1 "$TMP/after.t" | cut -d' ' -f2)
if [ ! -s "$TMP/after.t" ]; then
	fail linux-snap-counter "no TICK after the restore: $(tail -n 5 "$TMP/load.txt" | tr '\n' '|')"
elif [ "$first" != "$c" ] && [ "$first" != $((c + 1)) ]; then
	fail linux-snap-counter "the last tick before was $c, the first after $first"
elif ! awk -v f="$first" '{ if ($2 != f + NR - 1) { print "tick " $2 " at line " NR; exit 1 } }' "$TMP/after.t" >"$TMP/gap"; then
	fail linux-snap-counter "after the restore the ticks skip or repeat: $(cat "$TMP/gap")"
elif [ "$(last_tick load)" != $NT ]; then
	fail linux-snap-counter "the loop stopped at $(last_tick load), not $NT"
else
	pass linux-snap-counter
fi

# Clock: along before+after, uptime and date never go back; across the restore (last line
# before, first after) a small jump; after it, per tick >= 0.4 s and in total <= wall + 2 s.
why=$(cat "$TMP/before.t" "$TMP/after.t" | awk -v c="$c" -v nt=$NT -v wall="$wall" '
	{ up = $3 + 0; d = $4 + 0 }
	NR > 1 && (up < pu || d < pd) { print "went back at tick " $2 ": " pu " -> " up ", " pd " -> " d; bad = 1; exit }
	!seen && NR > 1 && up - pu > mg { mg = up - pu }
	$2 == c && !seen { bu = up; bd = d; seen = 1 }
	seen && $2 > c && !fa { fa = 1; if (up - bu > 2 * mg + 1 || d - bd > 2 * mg + 2) { print "jumped across the restore: uptime " bu " -> " up ", date " bd " -> " d; bad = 1; exit }; au = up; ad = d; an = $2 }
	{ pu = up; pd = d; ln = $2 }
	END {
		if (bad) exit 1
		if (!fa) { print "no tick after " c; exit 1 }
		if (ln > an) {
			du = pu - au
			if (du < 0.4 * (ln - an)) { print "uptime advanced " du " s over " ln - an " ticks (sleep 0.5 each)"; exit 1 }
			if (du > wall + 2) { print "uptime advanced " du " s, the host saw " wall " s"; exit 1 }
			if (pd - ad < 0.4 * (ln - an) - 1) { print "date advanced " pd - ad " s over " ln - an " ticks"; exit 1 }
		}
		printf "uptime %.2f -> %.2f across the restore, then +%.2f s over %d ticks (host %.1f s)\n", bu, au, du, ln - an, wall
	}')
if [ $? = 0 ]; then
	pass linux-snap-clock
	echo "  linux-snap-clock: $why" >&2
else
	fail linux-snap-clock "$why"
fi

log=$(debugfs -R "cat /log" "$TMP/disk.img" 2>/dev/null | tr '\n' ' ')
want=$(seq 1 $NT | tr '\n' ' ')
fsck=ok
if command -v e2fsck >/dev/null 2>&1; then
	e2fsck -fn "$TMP/disk.img" >"$TMP/fsck.out" 2>&1 || fsck="e2fsck -fn: $(tail -n 3 "$TMP/fsck.out" | tr '\n' '|')"
fi
if grep -q '^DISK-BAD\|^MOUNT-FAILED' "$TMP/load.txt" "$TMP/orig.txt" 2>/dev/null; then
	fail linux-snap-disk "the guest's read-back: $(grep -h -m2 '^DISK-BAD\|^MOUNT-FAILED' "$TMP/orig.txt" "$TMP/load.txt")"
elif ! grep -q '^UMOUNT-OK' "$TMP/load.txt"; then
	fail linux-snap-disk "the restored guest did not unmount the disk"
elif [ "$log" != "$want" ]; then
	fail linux-snap-disk "after exit /log holds '$log', expected '$want'"
elif [ "$fsck" != ok ]; then
	fail linux-snap-disk "$fsck"
else
	pass linux-snap-disk
fi

if [ "$rc" = 0 ]; then pass linux-snap-poweroff
else
	show load >&2
	fail linux-snap-poweroff "mote status $rc (999: still running after $LTIMEOUT s), expected 0"
fi
exit 0
