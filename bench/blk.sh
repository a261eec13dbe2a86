#!/bin/sh
# mote virtio-blk throughput benchmark, side by side with QEMU microvm and the host itself.
# See docs/performance.md ("Block I/O"). Needs `make all bench-bins` (build/mote,
# build/guests/blkbench.elf, build/bench/runone, build/bench/hostio) and QEMU.
#
# One 1 GiB image (fallocate, then filled with data so that it has real blocks), then
# BENCH_RUNS rounds; each round runs, for each mode (randread4k, seqread64k, seqwrite64k),
# the blkbench guest under mote and under QEMU on the same image, and bench/hostio doing the
# same I/O pattern with preadv/pwritev on the host (single-threaded and synchronous: one
# request at a time). The order of mote / QEMU / host rotates from round to round. Before
# each run: `sync`. Nothing is dropped from the page cache; each round starts with an
# untimed read of the whole image, so every run reads a cached image (unless
# BENCH_BLK_DIRECT=1), and blk_image_cached_pct_* report how much of it was resident
# (fincore). Each VM run is preceded by a zero-work run of the same guest (mib=0: boot,
# device setup, buffer touch, exit) for the wall-clock cross-check.
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
# Environment: BUILD (build), BENCH_RUNS (3), BENCH_QD (32), BENCH_MEM (256M),
# BENCH_BLK_MIB_RAND (512), BENCH_BLK_MIB_SEQ (4096), BENCH_BLK_SEED (0x6d6f7465),
# BENCH_BLK_DIRECT (0; 1: mote `,direct`, QEMU cache=none, hostio O_DIRECT),
# BENCH_DIR (/tmp: where the image goes), BENCH_QEMU (qemu-system-x86_64),
# BENCH_MOTE ($BUILD/mote), BENCH_VERBOSE (0; 1: every run's result line on stderr).
set -eu
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-3}
QD=${BENCH_QD:-32}
MEM=${BENCH_MEM:-256M}
MIB_RAND=${BENCH_BLK_MIB_RAND:-512}
MIB_SEQ=${BENCH_BLK_MIB_SEQ:-4096}
SEED=${BENCH_BLK_SEED:-0x6d6f7465}
DIRECT=${BENCH_BLK_DIRECT:-0}
IMG_DIR=${BENCH_DIR:-/tmp}
QEMU=${BENCH_QEMU:-qemu-system-x86_64}
MOTE=${BENCH_MOTE:-$BUILD/mote}
VERBOSE=${BENCH_VERBOSE:-0}
GUEST=$BUILD/guests/blkbench.elf
RUNONE=$BUILD/bench/runone
HOSTIO=$BUILD/bench/hostio
MODES="randread4k seqread64k seqwrite64k"
IMG_MIB=1024

say() { echo "blk.sh: $*" >&2; }
fail() { echo "blk.sh: FAILED: $*" >&2; exit 1; }
emit() { printf '%s: %s\n' "$1" "$2"; }

is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }
for v in RUNS:"$RUNS" QD:"$QD" MIB_RAND:"$MIB_RAND" MIB_SEQ:"$MIB_SEQ"; do
	is_uint "${v#*:}" && [ "${v#*:}" -ge 1 ] || fail "BENCH_${v%%:*}=${v#*:} is not a positive integer"
done
[ "$QD" -le 85 ] || fail "BENCH_QD=$QD: the guest keeps at most 85 requests in flight (256 descriptors / 3)"
case $DIRECT in 0 | 1) ;; *) fail "BENCH_BLK_DIRECT must be 0 or 1" ;; esac
[ -f "$GUEST" ] || fail "$GUEST is missing: run 'make all bench-bins' first"
for f in "$MOTE" "$RUNONE" "$HOSTIO"; do
	[ -x "$f" ] || fail "$f is missing: run 'make all bench-bins' first"
done
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

if [ "$DIRECT" = 1 ]; then
	MOTE_DISK=,direct QEMU_CACHE=none HOST_DIRECT=direct CACHE_DESC="direct (O_DIRECT: mote ,direct; QEMU cache=none; host O_DIRECT)"
else
	MOTE_DISK='' QEMU_CACHE=writeback HOST_DIRECT='' CACHE_DESC="host page cache (mote default; QEMU cache=writeback; host buffered)"
fi

# ---- the image ----
img=$(mktemp "$IMG_DIR/mote-blk.XXXXXX") || fail "cannot create a file in $IMG_DIR"
say "creating a ${IMG_MIB} MiB image $img (fallocate, then filled with data)"
fallocate -l "${IMG_MIB}M" "$img" || fail "fallocate -l ${IMG_MIB}M $img failed (filesystem without fallocate? set BENCH_DIR)"
"$HOSTIO" fill "$img" || fail "$HOSTIO fill $img failed"
sync

# The TSC rate, measured (the guest's CPUID usually does not report it on KVM).
TSC_MHZ=$("$HOSTIO" tsc | sed -n 's/^tsc_mhz=//p')
[ -n "$TSC_MHZ" ] || fail "$HOSTIO tsc printed nothing"

mib_for() { case $1 in randread4k) echo "$MIB_RAND" ;; *) echo "$MIB_SEQ" ;; esac; }
req_bytes() { case $1 in randread4k) echo 4096 ;; *) echo 65536 ;; esac; }
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

# run_vm VMM MODE MIB: runs the guest once; sets WALL_S and LINE (the guest's final line).
run_vm() {
	rv_vmm=$1 rv_mode=$2 rv_mib=$3
	rv_args="mode=$rv_mode qd=$QD mib=$rv_mib seed=$SEED quiet"
	case $rv_vmm in
	mote) set -- "$MOTE" run --mem "$MEM" --disk "$img$MOTE_DISK" --cmdline "$rv_args" "$GUEST" ;;
	qemu) set -- "$QEMU_PATH" -M microvm,acpi=off -enable-kvm -cpu host,-arch-capabilities -m "$MEM" \
		-nodefaults -no-user-config -nographic -serial stdio -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -global virtio-mmio.force-legacy=false \
		-drive "if=none,id=d0,file=$img,format=raw,cache=$QEMU_CACHE,aio=threads" \
		-device virtio-blk-device,drive=d0 -kernel "$GUEST" -append "$rv_args" ;;
	esac
	rv_res=$("$RUNONE" "$work/out" "$@") || show_failure "$rv_vmm $rv_mode mib=$rv_mib: runone failed" "$@"
	rv_status=$(field "$rv_res" status)
	rv_wall_ns=$(field "$rv_res" wall_ns)
	[ "$rv_status" = 1 ] || show_failure "$rv_vmm $rv_mode mib=$rv_mib: exit status $rv_status, expected 1 (guest value 0)" "$@"
	LINE=$(tr -d '\r' <"$work/out" | sed '/^$/d' | tail -n 1)
	case $LINE in
	"blkbench: mode=$rv_mode qd=$QD "*) ;;
	*) show_failure "$rv_vmm $rv_mode mib=$rv_mib: the final line is not 'blkbench: mode=$rv_mode qd=$QD ...'" "$@" ;;
	esac
	rv_want=$((rv_mib * 1048576 / $(req_bytes "$rv_mode")))
	rv_got=$(field "$LINE" requests)
	[ "$rv_got" = "$rv_want" ] || show_failure "$rv_vmm $rv_mode: the guest reports requests=$rv_got, expected $rv_want" "$@"
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

results=$work/results
: >"$results"
round=1
total_rounds=$RUNS
set -- mote qemu host
say "$RUNS round(s) of $MODES, qd=$QD, mote / qemu / host interleaved (TSC ${TSC_MHZ} MHz)"
while [ "$round" -le "$total_rounds" ]; do
	# Rotate the order each round: mote qemu host, qemu host mote, host mote qemu, ...
	k=1
	while [ "$k" -lt "$round" ]; do
		first=$1
		shift
		set -- "$@" "$first"
		k=$((k + 1))
	done
	order="$*"
	set -- mote qemu host
	# Warm the page cache (this host reclaims file pages idle for about a minute): one
	# untimed sequential read of the whole image, then record how much of it is resident.
	if [ "$DIRECT" = 0 ]; then
		"$HOSTIO" seqread64k "$img" "$IMG_MIB" 1 1 >/dev/null || fail "warming $img failed"
	fi
	echo "C $(cached_pct)" >>"$results"
	for mode in $MODES; do
		mib=$(mib_for "$mode")
		for who in $order; do
			sync
			if [ "$who" = host ]; then
				out=$("$HOSTIO" "$mode" "$img" "$mib" "$QD" "$SEED" $HOST_DIRECT) ||
					fail "$HOSTIO $mode $img $mib $QD $SEED $HOST_DIRECT failed"
				ns=$(field "$out" ns)
				reqs=$(field "$out" requests)
				bytes=$(field "$out" bytes)
				sync_ns=$(field "$out" sync_ns)
				[ -n "$ns" ] && [ -n "$reqs" ] || fail "hostio printed '$out'"
				echo "R host $mode $round $reqs $bytes $(awk -v n="$ns" 'BEGIN{printf "%.9f", n/1e9}') 0 0 $(awk -v n="$sync_ns" 'BEGIN{printf "%.9f", n/1e9}')" >>"$results"
				[ "$VERBOSE" = 0 ] || say "round $round host $mode: $out"
				continue
			fi
			run_vm "$who" "$mode" 0
			echo "Z $who $mode $round $WALL_S" >>"$results"
			sync
			run_vm "$who" "$mode" "$mib"
			tsc=$(field "$LINE" tsc_mhz)
			echo "R $who $mode $round $(field "$LINE" requests) $(field "$LINE" bytes)" \
				"$(guest_s "$(field "$LINE" cycles)" "$tsc") $WALL_S $(field "$LINE" kicks)" \
				"$(guest_s "$(field "$LINE" flush_cycles)" "$tsc")" >>"$results"
			[ "$VERBOSE" = 0 ] || say "round $round $who $mode: wall ${WALL_S}s: $LINE"
		done
	done
	say "round $round of $total_rounds done"
	round=$((round + 1))
done
sync
echo "E $(cached_pct)" >>"$results"

# ---- the numbers ----
emit date "$(date -u '+%Y-%m-%d %H:%M:%S +0000')"
emit host_kernel "$(uname -r)"
emit host_cpus "$(nproc)"
if [ -d /sys/module/kvm_pvm ]; then kvm=pvm; elif [ -d /sys/module/kvm_intel ]; then kvm=intel
elif [ -d /sys/module/kvm_amd ]; then kvm=amd; else kvm=unknown; fi
emit host_kvm "$kvm"
emit qemu_version "$("$QEMU_PATH" --version | head -n 1)"
emit host_load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
emit runs "$RUNS"
emit qd "$QD"
emit guest_mem "$MEM"
emit image "${IMG_MIB} MiB in $IMG_DIR ($(findmnt -no FSTYPE -T "$IMG_DIR" 2>/dev/null || stat -f -c %T "$IMG_DIR"))"
emit cache "$CACHE_DESC"
emit tsc_mhz "$TSC_MHZ"
emit mib_randread4k "$MIB_RAND"
emit mib_seq "$MIB_SEQ"

awk -v qd="$QD" '
function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
function med(key,   n, i, a) { n = cnt[key]; for (i = 1; i <= n; i++) a[i] = val[key, i]; sortn(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function samples(key, fmt,   n, i, s) { n = cnt[key]; s = ""; for (i = 1; i <= n; i++) s = s (i > 1 ? " " : "") sprintf(fmt, val[key, i]); return s }
function add(key, v) { val[key, ++cnt[key]] = v }
function yn(c) { return c ? "yes" : "no" }
$1 == "Z" { add("zero " $2 " " $3, $5) }
$1 == "C" { if (cmin == "" || $2 + 0 < cmin) cmin = $2 + 0 }
$1 == "E" { cend = $2 + 0 }
$1 == "R" { nr++; r_vmm[nr] = $2; r_mode[nr] = $3; r_req[nr] = $5; r_bytes[nr] = $6; r_s[nr] = $7; r_wall[nr] = $8; r_kicks[nr] = $9; r_flush[nr] = $10 }
END {
	split("mote qemu", vm, " ")
	split("randread4k seqread64k seqwrite64k", md, " ")
	printf "blk_image_cached_pct_round_start_min: %s\n", (cmin < 0 ? "unknown (no fincore)" : sprintf("%.1f", cmin))
	printf "blk_image_cached_pct_end: %s\n", (cend < 0 ? "unknown (no fincore)" : sprintf("%.1f", cend))
	# The guest clock against the host clock, over all runs of each VMM.
	for (i = 1; i <= nr; i++) {
		if (r_vmm[i] == "host") continue
		gs[r_vmm[i]] += r_s[i] + r_flush[i]
		ws[r_vmm[i]] += r_wall[i] - med("zero " r_vmm[i] " " r_mode[i])
	}
	for (v = 1; v <= 2; v++) {
		x = vm[v]; ratio[x] = ws[x] > 0 ? gs[x] / ws[x] : 0
		src[x] = ratio[x] >= 0.8 && ratio[x] <= 1.25 ? "guest" : "wall"
		printf "blk_clock_ratio_%s: %.3f\n", x, ratio[x]
		printf "blk_time_source_%s: %s\n", x, src[x]
		for (m = 1; m <= 3; m++) printf "blk_zero_work_wall_%s_%s_ms: %.1f\n", x, md[m], 1000 * med("zero " x " " md[m])
	}
	src["host"] = "host"
	for (i = 1; i <= nr; i++) {
		x = r_vmm[i]; m = r_mode[i]
		s = src[x] == "wall" ? r_wall[i] - med("zero " x " " m) - r_flush[i] : r_s[i]
		if (s <= 0) s = 1e-9
		add("tp " x " " m, m == "randread4k" ? r_req[i] / s : r_bytes[i] / 1048576 / s)
		kicks[x " " m] += r_kicks[i]; reqs[x " " m] += r_req[i]
		kicks[x] += r_kicks[i]; reqs[x] += r_req[i]
		if (m == "seqwrite64k") add("flush " x, r_flush[i])
	}
	split("mote qemu host", who, " ")
	for (m = 1; m <= 3; m++) {
		unit = md[m] == "randread4k" ? "iops" : "mibs"
		fmt = unit == "iops" ? "%.0f" : "%.1f"
		for (w = 1; w <= 3; w++) {
			key = "tp " who[w] " " md[m]
			tp[who[w], m] = med(key)
			printf "blk_%s_%s_%s: " fmt "\n", md[m], unit, who[w], tp[who[w], m]
			printf "blk_%s_%s_%s_runs: %s\n", md[m], unit, who[w], samples(key, fmt)
		}
		rq[m] = tp["qemu", m] > 0 ? tp["mote", m] / tp["qemu", m] : 0
		rh[m] = tp["host", m] > 0 ? tp["mote", m] / tp["host", m] : 0
		printf "blk_%s_ratio_mote_qemu: %.3f\n", md[m], rq[m]
		printf "blk_%s_ratio_mote_host: %.3f\n", md[m], rh[m]
		printf "blk_%s_ratio_qemu_host: %.3f\n", md[m], (tp["host", m] > 0 ? tp["qemu", m] / tp["host", m] : 0)
		for (v = 1; v <= 2; v++)
			printf "blk_%s_kicks_per_request_%s: %.4f\n", md[m], vm[v], kicks[vm[v] " " md[m]] / reqs[vm[v] " " md[m]]
	}
	for (w = 1; w <= 3; w++)
		printf "blk_seqwrite64k_flush_ms_%s: %.1f\n", who[w], 1000 * med("flush " who[w])
	for (v = 1; v <= 2; v++) {
		kpr[vm[v]] = kicks[vm[v]] / reqs[vm[v]]
		printf "kicks_per_request_%s: %.4f\n", vm[v], kpr[vm[v]]
	}
	print "target_blk_ratio_mote_qemu: >= 1.2 (each mode)"
	print "target_blk_seq_ratio_mote_host: >= 0.9 (seqread64k, seqwrite64k)"
	print "target_kicks_per_request: <= 0.1 (mote, qd=32)"
	for (m = 1; m <= 3; m++) printf "meets_blk_%s_mote_qemu: %s\n", md[m], yn(rq[m] >= 1.2)
	for (m = 2; m <= 3; m++) printf "meets_blk_%s_mote_host: %s\n", md[m], yn(rh[m] >= 0.9)
	printf "meets_kicks_per_request: %s%s\n", yn(kpr["mote"] <= 0.1), qd == 32 ? "" : " (measured at qd=" qd ", target is for qd=32)"
}' "$results"

emit host_load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
emit bench_seconds "$(awk -v s="$start_s" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')"
