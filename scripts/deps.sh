#!/bin/sh
# Installs the Debian packages mote's build, tests, demo and benchmarks need, when missing.
# Idempotent: does nothing (and needs no network) when everything is present.
set -eu
PKGS="make gcc libc6-dev linux-libc-dev pkg-config clang libclang-rt-14-dev python3 qemu-system-x86
	lz4 kmod busybox-static e2fsprogs iputils-ping iproute2 liburing-dev
	libmicrohttpd-dev libjansson-dev curl help2man man-db"
missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in *"ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "mote: missing Debian packages:$missing; install them as root (apt-get install$missing)" >&2
	exit 1
fi
echo "mote: installing missing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
