#!/bin/sh
# mote virtio-blk benchmark, side by side with QEMU microvm and the host itself.
# See docs/performance.md ("Block I/O"). Needs `make all bench-bins` (build/mote,
# build/guests/blkbench.elf, build/bench/runone, build/bench/hostio) and QEMU.
#
# One 1 GiB image (fallocate, then filled with data so that it has real blocks), then, for
# each cache setting (BENCH_BLK_CACHES: `cached` = the host page cache, `direct` = O_DIRECT),
# BENCH_RUNS rounds; each round runs, for each mode, every variant on the same image:
#   mote_uring    mote --disk IMG,io=uring   (io_uring backend: requests in flight)
#   mote_sync     mote --disk IMG,io=sync    (preadv/pwritev, one request at a time)
#   qemu_threads  QEMU -drive ...,aio=threads (its default)
#   qemu_uring    QEMU -drive ...,aio=io_uring (when this QEMU accepts it)
#   host          bench/hostio: the same pattern with preadv/pwritev on the host,
#                 single-threaded and synchronous (one request at a time)
# Modes: randread4k, seqread64k, seqwrite64k (qd=BENCH_QD), and lat4k: 4 KiB random reads at
# queue depth 1, reported as microseconds per request. The order of the variants rotates
# from round to round. Before each run: `sync`. With `cached`, each round starts with an
# untimed read of the whole image (blk_image_cached_pct_* report residency, fincore).
# Each VM run is preceded by a zero-work run of the same guest (mib=0: boot, device setup,
# buffer touch, exit) for the wall-clock cross-check. Last, an idle check: the I/O thread's
# CPU time while the guest spins without touching the disk right after qd=1 I/O (the
# poll-before-sleep must stop).
#
# Throughput comes from the guest's own rdtsc delta around the transfer (converted with the
# TSC rate the host measures, unless the guest's CPUID reports one), if the guest clock agrees
# with the host's (blk_clock_ratio_* within 0.8..1.25: guest seconds / (wall - zero-work
# wall), summed over all runs); otherwise from wall time minus the zero-work run.
#
# Output: `name: value` lines on stdout, progress on stderr. Exits non-zero (with the
# command and the end of its output) if any run fails: wrong exit status, or the guest's
# final `blkbench: mode=...` line missing or reporting another request count.
#
# Last, rate-limited rows (achieved / configured rate, the blkrate guest: `limited_rows`).
#
# Environment: BUILD (build), BENCH_LIMITED_ONLY (0; 1: only the rate-limited rows), BENCH_RUNS (3), BENCH_QD (32), BENCH_MEM (256M),
# BENCH_BLK_CACHES ("cached direct"), BENCH_BLK_MIB_RAND (512; direct: 128),
# BENCH_BLK_MIB_SEQ (4096; direct: 1024), BENCH_BLK_MIB_LAT (16; direct: 8),
# BENCH_BLK_SEED (0x6d6f7465), BENCH_DIR (/tmp: where the image goes),
# BENCH_QEMU (qemu-system-x86_64), BENCH_MOTE ($BUILD/mote), BENCH_MOTE_NOPOLL (unset; a
# mote built with -DEVENT_POLL_MAX_NS=0: adds the variant mote_nopoll to lat4k),
# BENCH_VERBOSE (0; 1: every run's result line on stderr).
set -eu
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-3}
QD=${BENCH_QD:-32}
MEM=${BENCH_MEM:-256M}
CACHES=${BENCH_BLK_CACHES:-cached direct}
SEED=${BENCH_BLK_SEED:-0x6d6f7465}
IMG_DIR=${BENCH_DIR:-/tmp}
QEMU=${BENCH_QEMU:-qemu-system-x86_64}
MOTE=${BENCH_MOTE:-$BUILD/mote}
NOPOLL=${BENCH_MOTE_NOPOLL:-}
VERBOSE=${BENCH_VERBOSE:-0}
GUEST=$BUILD/guests/blkbench.elf
RUNONE=$BUILD/bench/runone
HOSTIO=$BUILD/bench/hostio
MODES="randread4k seqread64k seqwrite64k lat4k"
IMG_MIB=1024

say() { echo "blk.sh: $*" >&2; }
fail() { echo "blk.sh: FAILED: $*" >&2; exit 1; }
emit() { printf '%s: %s\n' "$1" "$2"; }

is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }
for v in RUNS:"$RUNS" QD:"$QD"; do
	is_uint "${v#*:}" && [ "${v#*:}" -ge 1 ] || fail "BENCH_${v%%:*}=${v#*:} is not a positive integer"
done
for v in ${BENCH_BLK_MIB_RAND:-1} ${BENCH_BLK_MIB_SEQ:-1} ${BENCH_BLK_MIB_LAT:-1}; do
	is_uint "$v" && [ "$v" -ge 1 ] || fail "BENCH_BLK_MIB_*=$v is not a positive integer"
done
[ "$QD" -le 85 ] || fail "BENCH_QD=$QD: the guest keeps at most 85 requests in flight (256 descriptors / 3)"
for c in $CACHES; do
	case $c in cached | direct) ;; *) fail "BENCH_BLK_CACHES: '$c' is neither cached nor direct" ;; esac
done
[ -f "$GUEST" ] || fail "$GUEST is missing: run 'make all bench-bins' first"
for f in "$MOTE" "$RUNONE" "$HOSTIO"; do
	[ -x "$f" ] || fail "$f is missing: run 'make all bench-bins' first"
done
[ -z "$NOPOLL" ] || [ -x "$NOPOLL" ] || fail "BENCH_MOTE_NOPOLL=$NOPOLL is not an executable"
QEMU_PATH=$(command -v "$QEMU") || fail "$QEMU not found (apt-get install qemu-system-x86, or set BENCH_QEMU)"
[ -d "$IMG_DIR" ] || fail "BENCH_DIR=$IMG_DIR is not a directory"
case $IMG_DIR in *,* | *' '*) fail "BENCH_DIR=$IMG_DIR: no commas or spaces (they end up in -drive / --disk)" ;; esac

start_s=$(date +%s.%N)
load1=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
	say "note: load average $load1: the guest polls on one core and the device thread wants another;"
	say "      other work on the host makes these numbers noisy (see blk_*_runs and the kick counts)"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/mote-blkbench.XXXXXX")
img=
cleanup() { [ -z "$img" ] || rm -f "$img"; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- the image ----
img=$(mktemp "$IMG_DIR/mote-blk.XXXXXX") || fail "cannot create a file in $IMG_DIR"
say "creating a ${IMG_MIB} MiB image $img (fallocate, then filled with data)"
fallocate -l "${IMG_MIB}M" "$img" || fail "fallocate -l ${IMG_MIB}M $img failed (filesystem without fallocate? set BENCH_DIR)"
"$HOSTIO" fill "$img" || fail "$HOSTIO fill $img failed"
sync

# The TSC rate, measured (the guest's CPUID usually does not report it on KVM).
TSC_MHZ=$("$HOSTIO" tsc | sed -n 's/^tsc_mhz=//p')
[ -n "$TSC_MHZ" ] || fail "$HOSTIO tsc printed nothing"

# ---- rate-limited rows (issue 17): achieved / configured, the blkrate guest's own clock ----
# bw=16M and bw=64M (2 s each, 64 KiB reads, qd=8), iops=1000 (4 KiB reads, 2 s), and the
# same guest unlimited for reference. achieved = (bytes - the initial bucket) / time (the
# CLI's bucket for RATE is RATE/8 per 125 ms, RATE/10 per 100 ms for ops: docs/api.md).
# BENCH_LIMITED_ONLY=1 runs only these rows (a short run).
limited_rows() {
	local g=$BUILD/guests/blkrate.elf out us r k tsc
	tsc=$(awk -v m="$TSC_MHZ" 'BEGIN { printf "%d", m + 0.5 }') # the guest takes whole MHz
	[ -f "$g" ] || fail "missing $g: run make"
	for r in 16 64; do
		k=$((r * 2048))
		out=$("$MOTE" run --mem "$MEM" --disk "$img,bw=${r}M" --cmdline "tsc_mhz=$tsc kib=$k qd=8" "$g" | tr -d '\r')
		us=$(echo "$out" | sed -n 's/.*blkrate: dev=0 .* us=\([0-9]*\).*/\1/p')
		[ -n "$us" ] || fail "blkrate bw=${r}M printed no result: $(echo "$out" | tail -2)"
		emit "blk_limited_bw_${r}mibs_achieved_mibs" "$(awk -v b=$((k * 1024 - (r << 20) / 8)) -v u="$us" 'BEGIN { printf "%.2f", b / u * 1e6 / 1048576 }')"
		emit "blk_limited_bw_${r}mibs_ratio_achieved_configured" "$(awk -v b=$((k * 1024 - (r << 20) / 8)) -v u="$us" -v c=$((r << 20)) 'BEGIN { printf "%.3f", b / u * 1e6 / c }')"
	done
	out=$("$MOTE" run --mem "$MEM" --disk "$img,iops=1000" --cmdline "tsc_mhz=$tsc kib=8000 req=4096 qd=8" "$g" | tr -d '\r')
	us=$(echo "$out" | sed -n 's/.*blkrate: dev=0 .* us=\([0-9]*\).*/\1/p')
	emit blk_limited_iops_1000_achieved "$(awk -v u="$us" 'BEGIN { printf "%.1f", (2000 - 100) / u * 1e6 }')"
	emit blk_limited_iops_1000_ratio_achieved_configured "$(awk -v u="$us" 'BEGIN { printf "%.3f", (2000 - 100) / u * 1e6 / 1000 }')"
	out=$("$MOTE" run --mem "$MEM" --disk "$img" --cmdline "tsc_mhz=$tsc kib=262144 qd=8" "$g" | tr -d '\r')
	us=$(echo "$out" | sed -n 's/.*blkrate: dev=0 .* us=\([0-9]*\).*/\1/p')
	emit blk_unlimited_blkrate_mibs "$(awk -v u="$us" 'BEGIN { printf "%.1f", 256 / u * 1e6 }') (the same guest without a limit)"
}
if [ "${BENCH_LIMITED_ONLY:-0}" = 1 ]; then
	limited_rows
	exit 0
fi

mib_for() { # CACHE MODE
	case $1:$2 in
	cached:randread4k) echo "${BENCH_BLK_MIB_RAND:-512}" ;;
	direct:randread4k) echo "${BENCH_BLK_MIB_RAND:-128}" ;;
	cached:lat4k) echo "${BENCH_BLK_MIB_LAT:-16}" ;;
	direct:lat4k) echo "${BENCH_BLK_MIB_LAT:-8}" ;;
	cached:*) echo "${BENCH_BLK_MIB_SEQ:-4096}" ;;
	*) echo "${BENCH_BLK_MIB_SEQ:-1024}" ;;
	esac
}
guest_mode() { case $1 in lat4k) echo randread4k ;; *) echo "$1" ;; esac; }
qd_for() { case $1 in lat4k) echo 1 ;; *) echo "$QD" ;; esac; }
req_bytes() { case $1 in randread4k | lat4k) echo 4096 ;; *) echo 65536 ;; esac; }
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

show_failure() { # what, argv...
	what=$1
	shift
	{
		echo "blk.sh: FAILED: $what"
		printf '  command:'
		printf " '%s'" "$@"
		printf '\n  output (last lines):\n'
		tail -n 15 "$work/out" 2>/dev/null | tr -d '\r' | sed 's/^/    /'
	} >&2
	exit 1
}

# vm_argv VARIANT CACHE GUEST_ARGS: the command line, in "$@" of the caller (via set --).
# run_vm VARIANT CACHE MODE MIB: runs the guest once; sets WALL_S and LINE.
run_vm() {
	rv_who=$1 rv_cache=$2 rv_mode=$3 rv_mib=$4
	rv_gmode=$(guest_mode "$rv_mode")
	rv_qd=$(qd_for "$rv_mode")
	rv_args="mode=$rv_gmode qd=$rv_qd mib=$rv_mib seed=$SEED quiet"
	if [ "$rv_cache" = direct ]; then rv_md=,direct rv_qc=none; else rv_md='' rv_qc=writeback; fi
	case $rv_who in
	mote_uring) set -- "$MOTE" run --mem "$MEM" --disk "$img$rv_md,io=uring" --cmdline "$rv_args" "$GUEST" ;;
	mote_sync) set -- "$MOTE" run --mem "$MEM" --disk "$img$rv_md,io=sync" --cmdline "$rv_args" "$GUEST" ;;
	mote_nopoll) set -- "$NOPOLL" run --mem "$MEM" --disk "$img$rv_md,io=uring" --cmdline "$rv_args" "$GUEST" ;;
	qemu_threads | qemu_uring)
		[ "$rv_who" = qemu_uring ] && rv_aio=io_uring || rv_aio=threads
		set -- "$QEMU_PATH" -M microvm,acpi=off -enable-kvm -cpu host,-arch-capabilities -m "$MEM" \
			-nodefaults -no-user-config -nographic -serial stdio -no-reboot \
			-device isa-debug-exit,iobase=0xf4,iosize=4 -global virtio-mmio.force-legacy=false \
			-drive "if=none,id=d0,file=$img,format=raw,cache=$rv_qc,aio=$rv_aio" \
			-device virtio-blk-device,drive=d0 -kernel "$GUEST" -append "$rv_args" ;;
	esac
	rv_res=$("$RUNONE" "$work/out" "$@") || show_failure "$rv_who $rv_cache $rv_mode mib=$rv_mib: runone failed" "$@"
	rv_status=$(field "$rv_res" status)
	rv_wall_ns=$(field "$rv_res" wall_ns)
	[ "$rv_status" = 1 ] || show_failure "$rv_who $rv_cache $rv_mode mib=$rv_mib: exit status $rv_status, expected 1 (guest value 0)" "$@"
	LINE=$(tr -d '\r' <"$work/out" | sed '/^$/d' | tail -n 1)
	case $LINE in
	"blkbench: mode=$rv_gmode qd=$rv_qd "*) ;;
	*) show_failure "$rv_who $rv_cache $rv_mode mib=$rv_mib: the final line is not 'blkbench: mode=$rv_gmode qd=$rv_qd ...'" "$@" ;;
	esac
	rv_want=$((rv_mib * 1048576 / $(req_bytes "$rv_mode")))
	rv_got=$(field "$LINE" requests)
	[ "$rv_got" = "$rv_want" ] || show_failure "$rv_who $rv_mode: the guest reports requests=$rv_got, expected $rv_want" "$@"
	WALL_S=$(awk -v n="$rv_wall_ns" 'BEGIN { printf "%.6f", n / 1e9 }')
}

# A guest's seconds from its cycle count: its own TSC rate if CPUID gave one, else the host's.
guest_s() {
	awk -v c="$1" -v g="$2" -v h="$TSC_MHZ" 'BEGIN { m = g > 0 ? g : h; printf "%.9f", c / (m * 1e6) }'
}

# Percentage of the image in the host page cache (fincore, util-linux), or -1 without it.
cached_pct() {
	if command -v fincore >/dev/null 2>&1; then
		fincore -b -n -o RES,SIZE "$img" | awk '{ printf "%.1f", ($2 > 0 ? 100 * $1 / $2 : 0) }'
	else
		echo -1
	fi
}

# Does this QEMU take aio=io_uring? (Debian's is built with it; older or other builds may not.)
VARIANTS="mote_uring mote_sync qemu_threads qemu_uring host"
# (in a subshell: a failed run_vm exits)
if (run_vm qemu_uring cached randread4k 0) >/dev/null 2>&1; then QEMU_URING=yes; else
	QEMU_URING=no
	VARIANTS="mote_uring mote_sync qemu_threads host"
	say "note: $QEMU does not run with aio=io_uring here: variant qemu_uring left out"
fi

results=$work/results
: >"$results"
nvar=$(echo $VARIANTS | wc -w)
for cache in $CACHES; do
	round=1
	say "$cache: $RUNS round(s) of $MODES, qd=$QD (lat4k: qd=1), variants $VARIANTS (TSC ${TSC_MHZ} MHz)"
	while [ "$round" -le "$RUNS" ]; do
		# Rotate the order each round.
		set -- $VARIANTS
		k=1
		while [ "$k" -lt $(((round - 1) % nvar + 1)) ]; do
			first=$1
			shift
			set -- "$@" "$first"
			k=$((k + 1))
		done
		order="$*"
		if [ "$cache" = cached ]; then
			"$HOSTIO" seqread64k "$img" "$IMG_MIB" 1 1 >/dev/null || fail "warming $img failed"
		fi
		echo "C $cache $(cached_pct)" >>"$results"
		for mode in $MODES; do
			mib=$(mib_for "$cache" "$mode")
			who_list=$order
			[ "$mode" = lat4k ] && [ -n "$NOPOLL" ] && who_list="$who_list mote_nopoll"
			for who in $who_list; do
				sync
				if [ "$who" = host ]; then
					hd=''
					[ "$cache" = direct ] && hd=direct
					out=$("$HOSTIO" "$(guest_mode "$mode")" "$img" "$mib" "$(qd_for "$mode")" "$SEED" $hd) ||
						fail "$HOSTIO $mode $img $mib $SEED $hd failed"
					ns=$(field "$out" ns)
					reqs=$(field "$out" requests)
					bytes=$(field "$out" bytes)
					sync_ns=$(field "$out" sync_ns)
					[ -n "$ns" ] && [ -n "$reqs" ] || fail "hostio printed '$out'"
					echo "R $cache host $mode $round $reqs $bytes $(awk -v n="$ns" 'BEGIN{printf "%.9f", n/1e9}') 0 0 $(awk -v n="$sync_ns" 'BEGIN{printf "%.9f", n/1e9}')" >>"$results"
					[ "$VERBOSE" = 0 ] || say "$cache round $round host $mode: $out"
					continue
				fi
				run_vm "$who" "$cache" "$mode" 0
				echo "Z $cache $who $mode $round $WALL_S" >>"$results"
				sync
				run_vm "$who" "$cache" "$mode" "$mib"
				tsc=$(field "$LINE" tsc_mhz)
				echo "R $cache $who $mode $round $(field "$LINE" requests) $(field "$LINE" bytes)" \
					"$(guest_s "$(field "$LINE" cycles)" "$tsc") $WALL_S $(field "$LINE" kicks)" \
					"$(guest_s "$(field "$LINE" flush_cycles)" "$tsc")" >>"$results"
				[ "$VERBOSE" = 0 ] || say "$cache round $round $who $mode: wall ${WALL_S}s: $LINE"
			done
		done
		say "$cache: round $round of $RUNS done"
		round=$((round + 1))
	done
done
sync
echo "E $(cached_pct)" >>"$results"

# ---- idle: the I/O thread's CPU time while the guest does no I/O, right after qd=1 I/O ----
idle_io_ms=-1 idle_vmm_ms=-1
"$MOTE" run --mem "$MEM" --disk "$img" --cmdline "mode=randread4k qd=1 mib=4 seed=$SEED quiet idle_ms=5000" \
	"$GUEST" >"$work/idle.out" 2>&1 &
idle_pid=$!
for _ in $(seq 500); do grep -q "idle for" "$work/idle.out" 2>/dev/null && break; sleep 0.02; done
# The I/O thread is the first thread mote starts after the main one (then come the vCPUs).
io_tid=$(for t in /proc/$idle_pid/task/*; do
	tid=${t##*/}
	[ "$tid" != "$idle_pid" ] && [ "$(cat "$t/comm" 2>/dev/null)" = mote ] && echo "$tid"
done | sort -n | head -n 1)
if [ -n "$io_tid" ] && grep -q "idle for" "$work/idle.out"; then
	io_task=/proc/$idle_pid/task/$io_tid
	sleep 0.5
	a=$(cut -d' ' -f1 "$io_task/schedstat")
	pa=$(awk '{ print $14 + $15 }' /proc/$idle_pid/stat)
	sleep 3
	b=$(cut -d' ' -f1 "$io_task/schedstat")
	pb=$(awk '{ print $14 + $15 }' /proc/$idle_pid/stat)
	idle_io_ms=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
	idle_vmm_ms=$(awk -v a="$pa" -v b="$pb" -v t="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (b - a) * 1000 / t }')
fi
wait $idle_pid || true

# ---- the numbers ----
emit date "$(date -u '+%Y-%m-%d %H:%M:%S +0000')"
emit host_kernel "$(uname -r)"
emit host_cpus "$(nproc)"
if [ -d /sys/module/kvm_pvm ]; then kvm=pvm; elif [ -d /sys/module/kvm_intel ]; then kvm=intel
elif [ -d /sys/module/kvm_amd ]; then kvm=amd; else kvm=unknown; fi
emit host_kvm "$kvm"
emit qemu_version "$("$QEMU_PATH" --version | head -n 1)"
emit qemu_aio_io_uring "$QEMU_URING"
emit host_load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
emit runs "$RUNS"
emit qd "$QD"
emit guest_mem "$MEM"
emit image "${IMG_MIB} MiB in $IMG_DIR ($(findmnt -no FSTYPE -T "$IMG_DIR" 2>/dev/null || stat -f -c %T "$IMG_DIR"))"
emit caches "$CACHES (cached: mote default, QEMU cache=writeback, host buffered; direct: mote ,direct, QEMU cache=none, host O_DIRECT)"
emit variants "$VARIANTS${NOPOLL:+ (lat4k also mote_nopoll)}"
emit tsc_mhz "$TSC_MHZ"
for c in $CACHES; do
	for m in $MODES; do emit "mib_${c}_$m" "$(mib_for "$c" "$m")"; done
done

awk -v qd="$QD" -v variants="$VARIANTS${NOPOLL:+ mote_nopoll}" -v caches="$CACHES" '
function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
function med(key,   n, i, a) { n = cnt[key]; if (!n) return 0; for (i = 1; i <= n; i++) a[i] = val[key, i]; sortn(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function samples(key, fmt,   n, i, s) { n = cnt[key]; s = ""; for (i = 1; i <= n; i++) s = s (i > 1 ? " " : "") sprintf(fmt, val[key, i]); return s }
function add(key, v) { val[key, ++cnt[key]] = v }
function yn(c) { return c ? "yes" : "no" }
function isvm(w) { return w != "host" }
$1 == "Z" { add("zero " $2 " " $3 " " $4, $6) }
$1 == "C" && $2 == "cached" { if ($3 + 0 >= 0 && (cmin == "" || $3 + 0 < cmin)) cmin = $3 + 0; if ($3 + 0 < 0) cmin = -1 }
$1 == "E" { cend = $2 + 0 }
$1 == "R" { nr++; r_c[nr] = $2; r_w[nr] = $3; r_m[nr] = $4; r_req[nr] = $6; r_bytes[nr] = $7; r_s[nr] = $8; r_wall[nr] = $9; r_kicks[nr] = $10; r_flush[nr] = $11 }
END {
	nv = split(variants, vs, " "); nc = split(caches, cs, " ")
	nm = split("randread4k seqread64k seqwrite64k lat4k", md, " ")
	printf "blk_image_cached_pct_round_start_min: %s\n", (cmin == "" ? "n/a (no cached rounds)" : cmin < 0 ? "unknown (no fincore)" : sprintf("%.1f", cmin))
	printf "blk_image_cached_pct_end: %s\n", (cend < 0 ? "unknown (no fincore)" : sprintf("%.1f", cend))
	for (i = 1; i <= nr; i++) {
		if (!isvm(r_w[i])) continue
		gs[r_w[i]] += r_s[i] + r_flush[i]
		ws[r_w[i]] += r_wall[i] - med("zero " r_c[i] " " r_w[i] " " r_m[i])
	}
	src["host"] = "host"
	for (v = 1; v <= nv; v++) {
		x = vs[v]; if (!isvm(x)) continue
		ratio[x] = ws[x] > 0 ? gs[x] / ws[x] : 0
		src[x] = ratio[x] >= 0.8 && ratio[x] <= 1.25 ? "guest" : "wall"
		printf "blk_clock_ratio_%s: %.3f\n", x, ratio[x]
		printf "blk_time_source_%s: %s\n", x, src[x]
	}
	for (i = 1; i <= nr; i++) {
		x = r_w[i]; m = r_m[i]; c = r_c[i]
		s = src[x] == "wall" ? r_wall[i] - med("zero " c " " x " " m) - r_flush[i] : r_s[i]
		if (s <= 0) s = 1e-9
		v = m == "lat4k" ? 1e6 * s / r_req[i] : m == "randread4k" ? r_req[i] / s : r_bytes[i] / 1048576 / s
		add("tp " c " " x " " m, v)
		kicks[c " " x " " m] += r_kicks[i]; reqs[c " " x " " m] += r_req[i]
		if (m != "lat4k") { kicks[c " " x] += r_kicks[i]; reqs[c " " x] += r_req[i] }
		if (m == "seqwrite64k") add("flush " c " " x, r_flush[i])
	}
	for (ci = 1; ci <= nc; ci++) {
		c = cs[ci]
		for (mi = 1; mi <= nm; mi++) {
			m = md[mi]
			unit = m == "lat4k" ? "us" : m == "randread4k" ? "iops" : "mibs"
			fmt = unit == "iops" ? "%.0f" : unit == "us" ? "%.2f" : "%.1f"
			for (v = 1; v <= nv; v++) {
				x = vs[v]; key = "tp " c " " x " " m
				if (!cnt[key]) continue
				tp[c, x, m] = med(key)
				printf "blk_%s_%s_%s_%s: " fmt "\n", c, m, unit, x, tp[c, x, m]
				printf "blk_%s_%s_%s_%s_runs: %s\n", c, m, unit, x, samples(key, fmt)
			}
			# The best QEMU: highest throughput, or lowest latency.
			bq = tp[c, "qemu_threads", m]; bqn = "qemu_threads"
			if (tp[c, "qemu_uring", m] > 0 && (m == "lat4k" ? tp[c, "qemu_uring", m] < bq : tp[c, "qemu_uring", m] > bq)) { bq = tp[c, "qemu_uring", m]; bqn = "qemu_uring" }
			best[c, m] = bq
			printf "blk_%s_%s_best_qemu: %s\n", c, m, bqn
			for (v = 1; v <= nv; v++) {
				x = vs[v]; if (x !~ /^mote/ || !tp[c, x, m]) continue
				if (m == "lat4k") {
					printf "blk_%s_lat4k_ratio_%s_best_qemu: %.3f (latency: lower is better)\n", c, x, (bq > 0 ? tp[c, x, m] / bq : 0)
					continue
				}
				printf "blk_%s_%s_ratio_%s_best_qemu: %.3f\n", c, m, x, (bq > 0 ? tp[c, x, m] / bq : 0)
				printf "blk_%s_%s_ratio_%s_host: %.3f\n", c, m, x, (tp[c, "host", m] > 0 ? tp[c, x, m] / tp[c, "host", m] : 0)
			}
			if (m != "lat4k") {
				printf "blk_%s_%s_ratio_mote_uring_mote_sync: %.3f\n", c, m, (tp[c, "mote_sync", m] > 0 ? tp[c, "mote_uring", m] / tp[c, "mote_sync", m] : 0)
				for (v = 1; v <= nv; v++) {
					x = vs[v]; if (!isvm(x) || !reqs[c " " x " " m]) continue
					printf "blk_%s_%s_kicks_per_request_%s: %.4f\n", c, m, x, kicks[c " " x " " m] / reqs[c " " x " " m]
				}
			}
		}
		for (v = 1; v <= nv; v++) {
			x = vs[v]
			if (cnt["flush " c " " x]) printf "blk_%s_seqwrite64k_flush_ms_%s: %.1f\n", c, x, 1000 * med("flush " c " " x)
			if (isvm(x) && reqs[c " " x]) printf "kicks_per_request_%s_%s: %.4f\n", c, x, kicks[c " " x] / reqs[c " " x]
		}
	}
	print "target_blk_seq_ratio_mote_qemu: >= 1.2 (seqread64k, seqwrite64k; mote_uring, the default, against the best QEMU)"
	print "target_blk_seq_ratio_mote_host: >= 0.9 (seqread64k, seqwrite64k)"
	print "target_kicks_per_request: <= 0.1 (mote_uring, qd=32)"
	for (ci = 1; ci <= nc; ci++) {
		c = cs[ci]
		for (mi = 2; mi <= 3; mi++) {
			m = md[mi]
			printf "meets_blk_%s_%s_mote_qemu: %s\n", c, m, yn(best[c, m] > 0 && tp[c, "mote_uring", m] / best[c, m] >= 1.2)
			printf "meets_blk_%s_%s_mote_host: %s\n", c, m, yn(tp[c, "host", m] > 0 && tp[c, "mote_uring", m] / tp[c, "host", m] >= 0.9)
		}
		k = reqs[c " mote_uring"] ? kicks[c " mote_uring"] / reqs[c " mote_uring"] : 1
		printf "meets_kicks_per_request_%s: %s%s\n", c, yn(k <= 0.1), qd == 32 ? "" : " (measured at qd=" qd ", target is for qd=32)"
	}
}' "$results"

limited_rows
emit blk_idle_io_thread_cpu_ms_over_3s "$idle_io_ms"
emit blk_idle_vmm_cpu_ms_over_3s "$idle_vmm_ms (the guest's vCPU spins at ring 3 meanwhile: ~3000 expected)"
emit host_load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
emit bench_seconds "$(awk -v s="$start_s" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')"
