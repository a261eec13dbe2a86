# Stopping a running VM from outside, with and without a terminal.
. "$(dirname "$0")/lib.sh"

# stdin is a fifo we keep open, so the echo guest waits for input until a signal stops it.
mkfifo "$TMP/in"
exec 3<>"$TMP/in"
for sig in TERM INT HUP; do
	name=signal-$sig
	timeout 20 "$MOTE" run "$G/echo.elf" <"$TMP/in" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	mpid=$!
	for _ in $(seq 100); do grep -q "echo: ready" "$TMP/$name.out" 2>/dev/null && break; sleep 0.05; done
	kill -$sig $mpid
	wait $mpid
	rc=$?
	[ $rc = 12 ] && pass $name || fail $name "status $rc after SIG$sig, expected 12: $(cat "$TMP/$name.err")"
done
exec 3>&-

# stdin at EOF does not stop the guest; it keeps running until told otherwise.
timeout 3 "$MOTE" run "$G/echo.elf" </dev/null >"$TMP/eof.out" 2>&1
rc=$?
[ $rc = 124 ] && pass stdin-eof-keeps-running || fail stdin-eof-keeps-running "status $rc: $(cat "$TMP/eof.out")"

python3 "$(dirname "$0")/tty.py" "$MOTE" "$G/echo.elf"
