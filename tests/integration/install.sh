# make install / make uninstall into a DESTDIR: the installed binary runs a guest, the installed
# solo5-hvt link runs a unikernel, the manual page renders, and uninstall removes every file
# install created (and nothing else).
. "$(dirname "$0")/lib.sh"

D=$TMP/dest
if ! make --no-print-directory -s BUILD="$BUILD" install DESTDIR="$D" PREFIX=/usr \
	>"$TMP/install.log" 2>&1; then
	fail install "make install failed: $(tail -3 "$TMP/install.log" | tr '\n' ' ')"
	exit 0
fi
pass install

missing=""
for f in usr/bin/mote usr/bin/solo5-hvt usr/bin/mote-jailer usr/share/man/man1/mote.1 usr/share/man/man1/mote-jailer.1 usr/share/man/man1/solo5-hvt.1 \
	usr/share/doc/mote/README.md usr/share/doc/mote/api.md usr/share/doc/mote/security.md; do
	[ -e "$D/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then pass install-files; else fail install-files "not installed:$missing"; fi
if [ "$(readlink "$D/usr/bin/solo5-hvt")" = mote ]; then pass install-link
else fail install-link "usr/bin/solo5-hvt is not a link to mote"; fi

MOTE=$D/usr/bin/mote check installed-version 0 "mote " "" --version
MOTE=$D/usr/bin/mote-jailer check installed-jailer 0 "mote-jailer " "" --version
MOTE=$D/usr/bin/mote check installed-runs 1 "Hello from a mote guest" "" run "$G/hello.elf"
if [ -f "$G/hvt/hello.hvt" ]; then
	MOTE=$D/usr/bin/solo5-hvt check installed-solo5-hvt 0 "hello from a unikernel" "" --mem=2 "$G/hvt/hello.hvt"
else
	skip installed-solo5-hvt "no $G/hvt/hello.hvt (make guests)"
fi

if command -v man >/dev/null; then
	if man -l "$D/usr/share/man/man1/mote.1" 2>/dev/null | grep -q "EXIT STATUS" &&
		man -l "$D/usr/share/man/man1/mote.1" 2>/dev/null | grep -q -- "--api-sock"; then
		pass install-man
	else
		fail install-man "mote.1 lacks its EXIT STATUS section or the option list"
	fi
else
	skip install-man "no man (man-db)"
fi

if ! make --no-print-directory -s BUILD="$BUILD" uninstall DESTDIR="$D" PREFIX=/usr \
	>"$TMP/uninstall.log" 2>&1; then
	fail uninstall "make uninstall failed: $(tail -3 "$TMP/uninstall.log" | tr '\n' ' ')"
else
	left=$(find "$D" ! -type d | head -5)
	if [ -z "$left" ]; then pass uninstall; else fail uninstall "files left behind: $left"; fi
fi
