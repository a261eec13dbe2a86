# Linux's own virtio_blk driver on a rate-limited disk (issue 17; docs/api.md "Rate limiters"):
#   linux-ratelimit-boot   bzImage with an unlimited and a bw=1M,iops=200 --disk powers off (0)
#   linux-ratelimit-dd     dd reads 3 MiB from the limited disk (a cold page cache): the guest's clock
#                          (/proc/uptime) says it took at least the limit's time, and the same
#                          read from the unlimited disk took less
# Timings under the nested host are functional only (everything is emulated there), so the
# limited read is checked against its lower bound (2.5 s for 3 MiB less the 128 KiB bucket at
# 1 MiB/s, with 10% slack), not for an exact rate; tests/integration/ratelimit.sh measures that.
# Run directly on a host with hardware virtualization, or through tests/nested/host.sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

linux_setup linux-ratelimit || exit 0
truncate -s 8M "$TMP/free.img" "$TMP/limited.img"

# $((...)) is expanded by the guest's shell: the printed words differ from the command line.
# No quotes inside: the kernel command line carries the whole command in mote.cmd="...".
cmd='read t0 x </proc/uptime; dd if=/dev/vda of=/dev/null bs=65536 count=48 2>/dev/null
read t1 x </proc/uptime; echo RL-FREE $t0 $t1 $((48 * 65536))
read t0 x </proc/uptime; dd if=/dev/vdb of=/dev/null bs=65536 count=48 2>/dev/null
read t1 x </proc/uptime; echo RL-LIMITED $t0 $t1 $((48 * 65536))
poweroff'
cmd=${cmd//$'\n'/; }
N=linux-ratelimit-boot
if lboot $N 0 "$vmlinuz" "$cmd" --disk "$TMP/free.img" --disk "$TMP/limited.img,bw=1M,iops=200"; then
	T=$TMP/$N.txt
	free=$(awk '/^RL-FREE / { printf "%.2f", $3 - $2 }' "$T")
	lim=$(awk '/^RL-LIMITED / { printf "%.2f", $3 - $2 }' "$T")
	if [ -z "$free" ] || [ -z "$lim" ]; then
		fail linux-ratelimit-dd "no RL-FREE/RL-LIMITED lines: $(grep -m2 'RL-\|dd' "$T" | tr '\n' '|')"
	elif awk -v f="$free" -v l="$lim" 'BEGIN { exit !(l >= 2.5 * 0.9 && l > f) }'; then
		pass "linux-ratelimit-dd (3 MiB: $lim s at bw=1M, $free s unlimited, the guest's clock)"
	else
		fail linux-ratelimit-dd "3 MiB took $lim s on the limited disk (at least 2.25 s expected), $free s unlimited"
	fi
fi
exit 0
