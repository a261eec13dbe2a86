# Helpers for integration tests (sourced by bash). Each check prints one result line:
# "pass NAME", "fail NAME: why" or "skip NAME: why".
BUILD=${BUILD:-build}
MOTE=${MOTE:-$BUILD/mote}
G=$BUILD/guests
TMP=$(mktemp -d /tmp/mote-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

pass() { echo "pass $1"; }
fail() { echo "fail $1: $2"; }
skip() { echo "skip $1: $2"; }

# vm NAME ARGS...: runs mote (20 s timeout, or VM_TIMEOUT; stdin from /dev/null unless VM_STDIN is set),
# leaving stdout in $TMP/NAME.out, stderr in $TMP/NAME.err and the status in $rc.
vm() {
	local name=$1
	shift
	timeout "${VM_TIMEOUT:-20}" "$MOTE" "$@" <"${VM_STDIN:-/dev/null}" >"$TMP/$name.out" 2>"$TMP/$name.err"
	rc=$?
}

# expect NAME STATUS ARGS...: runs mote and checks the exit status only.
# Further checks use has/has_err on the same NAME. Returns 1 when the status differs.
expect() {
	local name=$1 want=$2
	shift 2
	vm "$name" "$@"
	if [ "$rc" != "$want" ]; then
		fail "$name" "status $rc, expected $want; stderr: $(head -c 300 "$TMP/$name.err")"
		return 1
	fi
	return 0
}

has() { grep -qF -- "$2" "$TMP/$1.out"; }
has_err() { grep -qF -- "$2" "$TMP/$1.err"; }

# check NAME STATUS 'STDOUT TEXT' 'STDERR TEXT' ARGS...: the common case, one result line.
check() {
	local name=$1 want=$2 out=$3 err=$4
	shift 4
	expect "$name" "$want" "$@" || return
	if [ -n "$out" ] && ! has "$name" "$out"; then
		fail "$name" "stdout lacks '$out': $(head -c 300 "$TMP/$name.out")"
	elif [ -n "$err" ] && ! has_err "$name" "$err"; then
		fail "$name" "stderr lacks '$err': $(head -c 300 "$TMP/$name.err")"
	else
		pass "$name"
	fi
}

# one_line NAME: stderr of a refused command is exactly one line starting with "mote: ".
one_line() {
	local n
	n=$(wc -l <"$TMP/$1.err")
	[ "$n" = 1 ] && grep -q '^mote: ' "$TMP/$1.err"
}

# refuse NAME STATUS 'STDERR TEXT' ARGS...: a refused input: status, one clear line, no output.
refuse() {
	local name=$1 want=$2 err=$3
	shift 3
	expect "$name" "$want" "$@" || return
	if ! has_err "$name" "$err"; then
		fail "$name" "stderr lacks '$err': $(cat "$TMP/$name.err")"
	elif ! one_line "$name"; then
		fail "$name" "expected one 'mote: ' line on stderr, got: $(cat "$TMP/$name.err")"
	elif [ -s "$TMP/$name.out" ]; then
		fail "$name" "unexpected stdout: $(head -c 200 "$TMP/$name.out")"
	else
		pass "$name"
	fi
}

# cpu_ticks PID SECONDS: the clock ticks (user + system) process PID used over SECONDS.
cpu_ticks() {
	local t0 t1
	t0=$(awk '{print $14 + $15}' "/proc/$1/stat")
	sleep "$2"
	t1=$(awk '{print $14 + $15}' "/proc/$1/stat")
	echo $((t1 - t0))
}
