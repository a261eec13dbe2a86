# The density benchmark's smallest setting as a functional test (bench/density.py --test):
# 20 idle VMs of mote (idle PVH guest, halted at ring 0) and of mote hvt (idle unikernel in
# the poll hypercall) all start, together use at most 1% of a CPU while idle, and all stop on
# SIGTERM with status 12 (mote run) or 1 (mote hvt, solo5-hvt's status after a signal).
. "$(dirname "$0")/lib.sh"

[ -c /dev/kvm ] || { skip density "no /dev/kvm"; exit 0; }
python3 bench/density.py --test --build "$BUILD" --kinds mote,hvt --steps 20 --batch 20 \
	--idle-s 2 --max-idle-cpu 1.0
