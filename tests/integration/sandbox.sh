# Least privilege (core/sandbox.c): every thread of a running VM is under seccomp, a forbidden
# system call in any thread class ends mote with status 10 and a report, and the debug build
# without filters says so.
. "$(dirname "$0")/lib.sh"

# A VM that waits for input: the echo guest with a vCPU thread and, with --rng, an I/O thread.
mkfifo "$TMP/in"
exec 3<>"$TMP/in"
"$MOTE" run --rng "$G/echo.elf" <"$TMP/in" >"$TMP/live.out" 2>"$TMP/live.err" &
mpid=$!
for _ in $(seq 100); do grep -q "echo: ready" "$TMP/live.out" 2>/dev/null && break; sleep 0.05; done
ntask=0 unfiltered="" filters=""
for st in /proc/$mpid/task/*/status; do
	ntask=$((ntask + 1))
	mode=$(awk '/^Seccomp:/ {print $2}' "$st")
	[ "$mode" = 2 ] || unfiltered="$unfiltered $(basename "$(dirname "$st")")"
	filters="$filters $(awk '/^Seccomp_filters:/ {print $2}' "$st")"
done
kill -TERM $mpid
wait $mpid
exec 3>&-
# main thread: the process filter; vCPU and I/O threads (and KVM's worker that a vCPU thread
# starts): the process filter and their own.
ones=$(echo $filters | tr ' ' '\n' | grep -c '^1$')
twos=$(echo $filters | tr ' ' '\n' | grep -c '^2$')
if [ "$ntask" -ge 3 ] && [ -z "$unfiltered" ] && [ "$ones" = 1 ] && [ $((ones + twos)) = "$ntask" ]; then
	pass every-thread-filtered
else
	fail every-thread-filtered "tasks $ntask, unfiltered:$unfiltered, filters per task:$filters"
fi

for class in process vCPU I/O; do
	name=forbidden-call-$(echo "$class" | tr -d '/')
	MOTE_SANDBOX_SELFTEST=$class vm "$name" run --rng "$G/rng.elf"
	if [ "$rc" = 10 ] && has_err "$name" "seccomp: $class thread made forbidden system call 41"; then
		pass "$name"
	else
		fail "$name" "status $rc, expected 10 and a report: $(head -c 300 "$TMP/$name.err")"
	fi
done

# The filters leave normal work alone: disk, entropy and console through every thread class.
truncate -s 1M "$TMP/disk.img"
check sandboxed-blk 1 "blk: ok" "" run --disk "$TMP/disk.img" "$G/blk.elf"

UNSANDBOXED=$BUILD/mote-unsandboxed
if [ -x "$UNSANDBOXED" ]; then
	MOTE_SANDBOX_SELFTEST=vCPU MOTE=$UNSANDBOXED check unsandboxed-debug-build-warns 1 "rng: ok" \
		"unsandboxed debug build" run --rng "$G/rng.elf"
else
	fail unsandboxed-debug-build-warns "$UNSANDBOXED not built (make $UNSANDBOXED)"
fi
