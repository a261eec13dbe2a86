# `make demo-linux` without a terminal (scripts/demo-linux.sh </dev/null): boots Debian's cloud
# kernel with the guest kit's busybox initramfs under mote, types `uname -a` and two more
# commands into the guest's shell (or, directly on hardware, runs them from mote.cmd=), and
# checks the guest's uname line and mote's status 0. On PVM hosts it goes through the nested
# test host (tests/nested/host.sh MOTE_NESTED_DEMO=script): about 26 s here with a cached
# image (load average 3), so it runs in make check. Skips without QEMU or the Debian packages.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.." || exit 1

# A wrong MOTE_DEMO_VIA is refused at once, with status 2 and a line naming the choices.
MOTE_DEMO_VIA=bogus sh scripts/demo-linux.sh </dev/null >"$TMP/via.out" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "MOTE_DEMO_VIA must be direct or nested, not 'bogus'" "$TMP/via.out"; then
	pass demo-linux-bad-via
else
	fail demo-linux-bad-via "status $rc: $(head -c 200 "$TMP/via.out")"
fi

if [ ! -x "$MOTE" ]; then
	fail demo-linux-script "no $MOTE (run make)"
	exit 0
fi
t0=$SECONDS
timeout -s KILL 900 sh scripts/demo-linux.sh </dev/null >"$TMP/demo.raw" 2>&1
rc=$?
tr -d '\r' <"$TMP/demo.raw" >"$TMP/demo.out"
echo "  demo-linux: status $rc after $((SECONDS - t0)) s" >&2
if grep -q '^skip nested-host: ' "$TMP/demo.out"; then
	skip demo-linux-script "$(sed -n 's/^skip nested-host: //p' "$TMP/demo.out" | head -n 1)"
elif [ $rc = 0 ] && grep -Eq '^Linux [^ ]+ 6\.[0-9]+\.[0-9]+-[^ ]+ #.* x86_64 GNU/Linux$' "$TMP/demo.out"; then
	pass demo-linux-script
else
	fail demo-linux-script "status $rc, no uname line from the guest; last lines: $(tail -n 6 "$TMP/demo.out" | tr '\n' '|' | head -c 400)"
fi
exit 0
