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
#   linux-snap-cli-*         the same snapshot restored again by `mote restore` (the disk image
#                            copied back into the same inode, its mtime reset): counter, clock, disk,
#                            poweroff as above
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
# A whole-second mtime on the disk (the paused guest writes no more), which the snapshot
# records and `cp -p` / `touch -r` below can give back: busybox's keep no nanoseconds.
sleep 0.2
touch -d "2026-01-01 00:00:00" "$TMP/disk.img"
ts=$(cut -d" " -f1 /proc/uptime) # busybox date has no %N
step $N create PUT /snapshot/create \
	"{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$ST\", \"mem_file_path\": \"$MEM\"}" || exit 0
echo "  linux-snap-create: $(awk -v t="$ts" '{ printf "%d", ($1 - t) * 1000 }' /proc/uptime) ms, state $(stat -c %s "$ST") bytes, memory $(du -k "$MEM" | cut -f1) KiB on disk" >&2
kill -KILL "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
PID=""
c=$(last_tick orig) # the last tick the guest printed before it was paused
cp -p "$TMP/disk.img" "$TMP/disk.snap" # for the second restore (-p: its mtime too)
pass $N
sleep 2 # the stored VM's clock must not see these seconds

# check PREFIX NAME: the restored run NAME (console $TMP/NAME.out, status $rc, $wall s) against
# the run before the snapshot.
check() {
	ticks orig >"$TMP/before.t"
	ticks $2 >"$TMP/after.t"
	first=$(head -n 1 "$TMP/after.t" | cut -d' ' -f2)
	if [ ! -s "$TMP/after.t" ]; then
		fail $1-counter "no TICK after the restore: $(tail -n 5 "$TMP/$2.txt" | tr '\n' '|')"
	elif [ "$first" != "$c" ] && [ "$first" != $((c + 1)) ]; then
		fail $1-counter "the last tick before was $c, the first after $first"
	elif ! awk -v f="$first" '{ if ($2 != f + NR - 1) { print "tick " $2 " at line " NR; exit 1 } }' "$TMP/after.t" >"$TMP/gap"; then
		fail $1-counter "after the restore the ticks skip or repeat: $(cat "$TMP/gap")"
	elif [ "$(last_tick $2)" != $NT ]; then
		fail $1-counter "the loop stopped at $(last_tick $2), not $NT"
	else
		pass $1-counter
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
		pass $1-clock
		echo "  $1-clock: $why" >&2
	else
		fail $1-clock "$why"
	fi

	log=$(debugfs -R "cat /log" "$TMP/disk.img" 2>/dev/null | tr '\n' ' ')
	want=$(seq 1 $NT | tr '\n' ' ')
	fsck=ok
	if command -v e2fsck >/dev/null 2>&1; then
		e2fsck -fn "$TMP/disk.img" >"$TMP/fsck.out" 2>&1 || fsck="e2fsck -fn: $(tail -n 3 "$TMP/fsck.out" | tr '\n' '|')"
	fi
	if grep -q '^DISK-BAD\|^MOUNT-FAILED' "$TMP/$2.txt" "$TMP/orig.txt" 2>/dev/null; then
		fail $1-disk "the guest's read-back: $(grep -h -m2 '^DISK-BAD\|^MOUNT-FAILED' "$TMP/orig.txt" "$TMP/$2.txt")"
	elif ! grep -q '^UMOUNT-OK' "$TMP/$2.txt"; then
		fail $1-disk "the restored guest did not unmount the disk"
	elif [ "$log" != "$want" ]; then
		fail $1-disk "after exit /log holds '$log', expected '$want'"
	elif [ "$fsck" != ok ]; then
		fail $1-disk "$fsck"
	else
		pass $1-disk
	fi

	if [ "$rc" = 0 ]; then pass $1-poweroff
	else
		show $2 >&2
		fail $1-poweroff "mote status $rc (999: still running after $LTIMEOUT s), expected 0"
	fi
}

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

check linux-snap load

# The same snapshot again, from the command line (mote restore), with the disk as it was.
# The same inode and mtime as at the snapshot: mote checks both (virtio_blk_snap.c).
cat "$TMP/disk.snap" >"$TMP/disk.img" && touch -r "$TMP/disk.snap" "$TMP/disk.img"
tl=$(cut -d" " -f1 /proc/uptime)
timeout -s KILL "$LTIMEOUT" "$MOTE" restore --snapshot "$ST" --mem-file "$MEM" </dev/null >"$TMP/cli.out" 2>"$TMP/cli.err"
rc=$?
te=$(cut -d" " -f1 /proc/uptime)
wall=$(awk -v a="$tl" -v b="$te" 'BEGIN { printf "%.1f", b - a }')
echo "  linux-snap-cli: mote status $rc after $wall s" >&2
clean cli
check linux-snap-cli cli
exit 0
