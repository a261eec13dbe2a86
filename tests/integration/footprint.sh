# mote's own footprint, as guards against regressions of whole pages or MiB (the targets
# themselves are measured by bench/startup.sh, bench/unikernel.sh and bench/ab.sh):
#   footprint-tls   the binary's static TLS block (PT_TLS) is at most 4 KiB: glibc zeroes it
#                   for every thread, so a big _Thread_local array is resident in every run
#   footprint-rss-* peak RSS (bench/runone, the median of 5 runs) of the hello guest under
#                   `mote run` and of the hello unikernel under `mote hvt`, with a margin of
#                   about 1 MiB over what docs/performance.md reports
. "$(dirname "$0")/lib.sh"

tls=$(readelf -lW "$MOTE" | awk '$1 == "TLS" { print $6 }')
if [ -z "$tls" ]; then
	pass footprint-tls
elif [ $((tls)) -le 4096 ]; then
	pass footprint-tls
else
	fail footprint-tls "PT_TLS is $((tls)) bytes: a large _Thread_local object? (heap-allocate it)"
fi

RUNONE=$BUILD/bench/runone
[ -c /dev/kvm ] || { skip footprint-rss "no /dev/kvm"; exit 0; }
[ -x "$RUNONE" ] || { skip footprint-rss "no $RUNONE (make bench-bins)"; exit 0; }

# rss NAME STATUS LIMIT_KIB ARGS...: median peak RSS of 5 runs of mote ARGS at most LIMIT_KIB.
rss() {
	local name=$1 want=$2 limit=$3 i line all=""
	shift 3
	for i in 1 2 3 4 5; do
		line=$("$RUNONE" "$TMP/$name.out" "$MOTE" "$@")
		case "$line" in
		*"status=$want "*) ;;
		*) fail "$name" "$line: $(head -c 200 "$TMP/$name.out")"; return ;;
		esac
		all="$all $(echo "$line" | sed 's/.*maxrss_kib=\([0-9]*\).*/\1/')"
	done
	local med
	med=$(echo "$all" | tr ' ' '\n' | grep . | sort -n | sed -n 3p)
	if [ "$med" -le "$limit" ]; then
		pass "$name"
	else
		fail "$name" "median peak RSS $med KiB (runs:$all) > $limit KiB"
	fi
}
rss footprint-rss-run 1 3072 run --mem 128M "$G/hello.elf"
rss footprint-rss-hvt 0 2560 hvt --mem=512 "$G/hvt/hello.hvt"
