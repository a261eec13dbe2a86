# virtio-mmio devices through real KVM exits (ioeventfd notifications, irqfd interrupts):
# virtio-rng, virtio-blk (checked on the host afterwards), read-only disks, hostile drivers.
. "$(dirname "$0")/lib.sh"

check rng 1 "rng: ok" "" run --rng "$G/rng.elf"
has_err rng "guest error" && fail rng-clean "$(cat "$TMP/rng.err")" || pass rng-clean

# The blk guest under each disk backend: io=sync (preadv/pwritev), io=uring (io_uring, when
# this kernel allows it) and the default.
want=$(python3 - <<'PY'
import hashlib
def pat(off):
    h = ((off & 0xffffffff) * 2654435761 ^ ((off >> 9) & 0xffffffff) * 40503 ^ 0x6d6f7465) & 0xffffffff
    return (h >> 24 ^ h) & 0xff
img = bytearray(16 << 20)
for sector, n in ((0, 4096), (33, 65536), (200, 1536)):
    for i in range(n):
        img[sector * 512 + i] = pat(sector * 512 + i)
print(hashlib.sha256(img).hexdigest())
PY
)
# With O_DIRECT too: the guest's buffers split at odd byte counts go through a bounce buffer.
uring=yes
# hugepages: the default backend, O_DIRECT, guest RAM in transparent huge pages (--mem-hugepages).
for io in sync uring "" direct-sync direct-uring hugepages; do
	sfx=${io:+-$io}
	extra=
	case $io in
	direct-*) opt=",direct,io=${io#direct-}" ;;
	hugepages) opt=",direct" extra=--mem-hugepages ;;
	"") opt= ;;
	*) opt=",io=$io" ;;
	esac
	case $io in *uring) if [ "$uring" = no ]; then
		skip "blk$sfx" "this kernel refuses io_uring"
		continue
	fi ;; esac
	rm -f "$TMP/disk.img"
	truncate -s 16M "$TMP/disk.img"
	vm "blk$sfx" run $extra --disk "$TMP/disk.img,serial=MOTEDISK$opt" "$G/blk.elf"
	if has_err "blk$sfx" "does not support O_DIRECT"; then
		skip "blk$sfx" "the filesystem of $TMP does not support O_DIRECT"
		continue
	fi
	if has_err "blk$sfx" "transparent huge pages off"; then
		skip "blk$sfx" "this host has transparent huge pages off"
		continue
	fi
	if [ "$rc" = 1 ] && has "blk$sfx" "blk: ok"; then
		pass "blk$sfx"
	else
		fail "blk$sfx" "status $rc: $(tail -c 300 "$TMP/blk$sfx.out") $(head -c 300 "$TMP/blk$sfx.err")"
	fi
	has_err "blk$sfx" "io_uring is not available" && uring=no
	has "blk$sfx" "blk: serial 'MOTEDISK'" && pass "blk$sfx-serial" || fail "blk$sfx-serial" "$(grep serial "$TMP/blk$sfx.out")"
	has "blk$sfx" "capacity 32768 sectors" && pass "blk$sfx-capacity" || fail "blk$sfx-capacity" "$(grep capacity "$TMP/blk$sfx.out")"
	# The host file holds exactly what the guest wrote (tests/guests/blk.c's pattern), nothing else.
	got=$(sha256sum "$TMP/disk.img" | cut -d' ' -f1)
	[ "$want" = "$got" ] && pass "blk$sfx-host-file" || fail "blk$sfx-host-file" "sha256 $got, expected $want"
done
# O_DIRECT with many requests in flight (the bench guest's aligned buffers), per backend.
truncate -s 8M "$TMP/direct.img"
direct_opt=
for io in sync uring; do
	[ "$io" = uring ] && [ "$uring" = no ] && { skip "blk-direct-qd-$io" "this kernel refuses io_uring"; continue; }
	vm "blk-direct-qd-$io" run --disk "$TMP/direct.img,direct,io=$io" \
		--cmdline "mode=seqwrite64k qd=16 mib=4 quiet" "$G/blkbench.elf"
	if has_err "blk-direct-qd-$io" "does not support O_DIRECT"; then
		skip "blk-direct-qd-$io" "the filesystem of $TMP does not support O_DIRECT"
	elif [ "$rc" = 1 ] && has "blk-direct-qd-$io" "blkbench: mode=seqwrite64k qd=16 bytes=4194304 requests=64"; then
		pass "blk-direct-qd-$io"
		direct_opt=,direct # real requests in flight for the SIGTERM check below
	else
		fail "blk-direct-qd-$io" "status $rc: $(tail -c 300 "$TMP/blk-direct-qd-$io.out") $(head -c 300 "$TMP/blk-direct-qd-$io.err")"
	fi
done
# The driver resets the device with requests in flight (the reset waits for them on the vCPU
# thread, under its seccomp filter), then sets it up again and goes on.
for io in sync uring; do
	[ "$io" = uring ] && [ "$uring" = no ] && { skip "blk-reset-inflight-$io" "this kernel refuses io_uring"; continue; }
	vm "blk-reset-inflight-$io" run --disk "$TMP/direct.img$direct_opt,io=$io" \
		--cmdline "mode=seqread64k qd=32 mib=4 reset_inflight=32 quiet" "$G/blkbench.elf"
	if [ "$rc" = 1 ] && has "blk-reset-inflight-$io" "none after" &&
		has "blk-reset-inflight-$io" "blkbench: mode=seqread64k qd=32 bytes=4194304 requests=64"; then
		pass "blk-reset-inflight-$io"
	else
		fail "blk-reset-inflight-$io" "status $rc: $(tail -c 300 "$TMP/blk-reset-inflight-$io.out") $(head -c 300 "$TMP/blk-reset-inflight-$io.err")"
	fi
done
# SIGTERM while requests are in flight: teardown waits for them, then flushes; status 12.
for io in sync uring; do
	[ "$io" = uring ] && [ "$uring" = no ] && { skip "blk-term-inflight-$io" "this kernel refuses io_uring"; continue; }
	timeout 20 "$MOTE" run --disk "$TMP/direct.img$direct_opt,io=$io" --cmdline "mode=seqwrite64k qd=32 mib=1000000 quiet" \
		"$G/blkbench.elf" </dev/null >"$TMP/term-$io.out" 2>"$TMP/term-$io.err" &
	tpid=$!
	for _ in $(seq 200); do grep -q "blkbench: device at" "$TMP/term-$io.out" 2>/dev/null && break; sleep 0.02; done
	sleep 0.3
	kill -TERM $tpid
	wait $tpid
	trc=$?
	if [ "$trc" = 12 ] && ! grep -q "did not complete\|flush at exit failed" "$TMP/term-$io.err"; then
		pass "blk-term-inflight-$io"
	else
		fail "blk-term-inflight-$io" "status $trc: $(head -c 300 "$TMP/term-$io.err")"
	fi
done
# A host that refuses io_uring (a seccomp filter here: io_uring_setup fails with ENOSYS): the
# default falls back to preadv/pwritev with one info line for all disks; io=uring is refused.
NOURING="python3 $(dirname "$0")/no_uring.py"
cp "$TMP/disk.img" "$TMP/disk2.img"
timeout 20 $NOURING "$MOTE" run -v --disk "$TMP/disk.img" --disk "$TMP/disk2.img,ro" "$G/blk.elf" \
	</dev/null >"$TMP/nouring.out" 2>"$TMP/nouring.err"
nrc=$?
nlines=$(grep -c "io_uring is not available" "$TMP/nouring.err")
if [ "$nrc" = 1 ] && has nouring "blk: ok" && [ "$nlines" = 1 ]; then
	pass blk-no-uring-fallback
else
	fail blk-no-uring-fallback "status $nrc, $nlines info lines: $(head -c 300 "$TMP/nouring.err")"
fi
timeout 20 $NOURING "$MOTE" run --disk "$TMP/disk.img,io=uring" "$G/blk.elf" </dev/null \
	>"$TMP/nouring2.out" 2>"$TMP/nouring2.err"
nrc=$?
if [ "$nrc" = 4 ] && grep -q "io_uring is not available.*use io=sync" "$TMP/nouring2.err" &&
	[ "$(wc -l <"$TMP/nouring2.err")" = 1 ] && [ ! -s "$TMP/nouring2.out" ]; then
	pass blk-no-uring-refused
else
	fail blk-no-uring-refused "status $nrc: $(head -c 300 "$TMP/nouring2.err")"
fi
refuse blk-io-bad 2 "--disk io='fast': use io=uring or io=sync" run --disk "$TMP/disk.img,io=fast" "$G/hello.elf"

cp "$TMP/disk.img" "$TMP/ro.img"
check blk-ro 1 "blk: ok" "" run --disk "$TMP/ro.img,ro" --cmdline ro "$G/blk.elf"
cmp -s "$TMP/disk.img" "$TMP/ro.img" && pass blk-ro-unchanged || fail blk-ro-unchanged "a read-only disk changed"
check blk-two-disks 1 "blk: ok" "" run --rng --disk "$TMP/disk.img" --disk "$TMP/ro.img,ro" "$G/blk.elf"

for kind in loop badhead badnext badaddr hugelen usedmmio qsize earlynotify avalidx; do
	check "hostile-$kind" 1 "hostile-$kind: after reset: ok" "" run --rng --disk "$TMP/disk.img" \
		--cmdline "kind=$kind" "$G/hostile.elf"
	# Every kind but earlynotify (where the device must simply not run) must fail the device.
	[ $kind = earlynotify ] && continue
	if has "hostile-$kind" "device needs reset" && ! has "hostile-$kind" "did NOT fail"; then
		pass "hostile-$kind-needs-reset"
	else
		fail "hostile-$kind-needs-reset" "$(cat "$TMP/hostile-$kind.out")"
	fi
done

refuse disk-missing 4 "No such file" run --disk "$TMP/none.img" "$G/hello.elf"
refuse disk-directory 4 "$TMP" run --disk "$TMP" "$G/hello.elf"
refuse disk-bad-option 2 "unknown --disk option 'fast'" run --disk "$TMP/disk.img,fast" "$G/hello.elf"
# Two VMs may not write one image: the second is refused while the first runs.
mkfifo "$TMP/hold"
exec 3<>"$TMP/hold"
timeout 20 "$MOTE" run --disk "$TMP/disk.img" "$G/echo.elf" <"$TMP/hold" >"$TMP/holder.out" 2>&1 &
holder=$!
for _ in $(seq 100); do grep -q "echo: ready" "$TMP/holder.out" 2>/dev/null && break; sleep 0.05; done
refuse disk-locked 4 "in use by another process" run --disk "$TMP/disk.img" "$G/hello.elf"
kill -TERM $holder
wait $holder
exec 3>&-
