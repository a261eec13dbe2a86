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
# Every thread: the process filter and its class's own (main, vCPU, I/O, and KVM's worker
# that a vCPU thread starts, which inherits the vCPU's).
twos=$(echo $filters | tr ' ' '\n' | grep -c '^2$')
if [ "$ntask" -ge 3 ] && [ -z "$unfiltered" ] && [ "$twos" = "$ntask" ]; then
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

# The main thread's own list (issue 19, item 4): a forbidden call, and an ioctl its list lacks
# (TIOCSTI), both refused; the same ioctl refused in the vCPU and I/O threads.
for t in main:41 main:ioctl:16 vCPU:ioctl:16 I/O:ioctl:16; do
	class=${t%%:*} nr=${t##*:} sel=${t%:*}
	name=forbidden-$(echo "$sel" | tr -d '/' | tr ':' '-')
	MOTE_SANDBOX_SELFTEST=$sel vm "$name" run --rng "$G/rng.elf"
	if [ "$rc" = 10 ] && has_err "$name" "seccomp: $class thread made forbidden system call $nr"; then
		pass "$name"
	else
		fail "$name" "status $rc, expected 10 and a report: $(head -c 300 "$TMP/$name.err")"
	fi
done

# API mode (a config file and a socket): the metrics and HTTP (libmicrohttpd's) threads have
# their own lists too, every thread has two filters, and a forbidden call or ioctl in each of
# those classes is refused.
cat >"$TMP/idle.json" <<EOF
{"boot-source": {"kernel_image_path": "$(pwd)/$G/idle.elf"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 32}}
EOF
"$MOTE" --config-file "$TMP/idle.json" --api-sock "$TMP/api.sock" </dev/null >"$TMP/apim.out" \
	2>"$TMP/apim.err" &
apid=$!
for _ in $(seq 100); do [ -S "$TMP/api.sock" ] && break; sleep 0.05; done
sleep 0.5 # the metrics thread takes its list when the boot wakes it
ntask=0 unfiltered="" filters=""
for st in /proc/$apid/task/*/status; do
	ntask=$((ntask + 1))
	[ "$(awk '/^Seccomp:/ {print $2}' "$st")" = 2 ] || unfiltered="$unfiltered $st"
	filters="$filters $(awk '/^Seccomp_filters:/ {print $2}' "$st")"
done
kill -TERM $apid
wait $apid
arc=$?
twos=$(echo $filters | tr ' ' '\n' | grep -c '^2$')
if [ "$ntask" -ge 5 ] && [ -z "$unfiltered" ] && [ "$twos" = "$ntask" ] && [ "$arc" = 12 ]; then
	pass api-every-thread-filtered
else
	fail api-every-thread-filtered "tasks $ntask, unfiltered:$unfiltered, filters per task:$filters, status $arc: $(head -c 300 "$TMP/apim.err")"
fi
for t in metrics:41 metrics:ioctl:16 API:41 API:ioctl:16; do
	class=${t%%:*} nr=${t##*:} sel=${t%:*}
	name=forbidden-$(echo "$sel" | tr ':' '-')
	rm -f "$TMP/api.sock"
	MOTE_SANDBOX_SELFTEST=$sel vm "$name" --config-file "$TMP/idle.json" --api-sock "$TMP/api.sock"
	if [ "$rc" = 10 ] && has_err "$name" "seccomp: $class thread made forbidden system call $nr"; then
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
