# Benchmark helper programs (see bench/startup.sh and docs/performance.md).
# `make bench-bins` builds them into $(BUILD)/bench/; `make bench` runs the benchmark.
#   rawkvm: the smallest VMM that runs the PVH test guests (the floor for exit cost and startup)
#   runone: fork/exec/wait4 one command; prints its wall time and its own peak RSS
#   hostio: the host preadv/pwritev baseline of bench/blk.sh (and its TSC/fill helpers)
#   netpeer: the host's UDP side of bench/net.sh (echo round trips, stream sink)
#   vsockpeer: the host's side of bench/vsock.sh (hybrid vsock round trips, streams, a
#              socketpair for comparison)

BENCH_DIR    := $(BUILD)/bench
BENCH_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror
BENCH_BINS   := $(BENCH_DIR)/rawkvm $(BENCH_DIR)/runone $(BENCH_DIR)/hostio $(BENCH_DIR)/netpeer \
                $(BENCH_DIR)/vsockpeer
BENCH_Q      := $(if $(V),,@)

.PHONY: bench-bins
bench-bins: $(BENCH_BINS)

$(BENCH_DIR)/rawkvm: bench/rawkvm.c bench/bench.mk
	@mkdir -p $(BENCH_DIR)
	@echo "  BENCH   $@"
	$(BENCH_Q)$(CC) $(BENCH_CFLAGS) -o $@ bench/rawkvm.c

$(BENCH_DIR)/runone: bench/runone.c bench/bench.mk
	@mkdir -p $(BENCH_DIR)
	@echo "  BENCH   $@"
	$(BENCH_Q)$(CC) $(BENCH_CFLAGS) -o $@ bench/runone.c

$(BENCH_DIR)/hostio: bench/hostio.c bench/bench.mk
	@mkdir -p $(BENCH_DIR)
	@echo "  BENCH   $@"
	$(BENCH_Q)$(CC) $(BENCH_CFLAGS) -o $@ bench/hostio.c

$(BENCH_DIR)/netpeer: bench/netpeer.c bench/bench.mk
	@mkdir -p $(BENCH_DIR)
	@echo "  BENCH   $@"
	$(BENCH_Q)$(CC) $(BENCH_CFLAGS) -o $@ bench/netpeer.c

$(BENCH_DIR)/vsockpeer: bench/vsockpeer.c bench/bench.mk
	@mkdir -p $(BENCH_DIR)
	@echo "  BENCH   $@"
	$(BENCH_Q)$(CC) $(BENCH_CFLAGS) -o $@ bench/vsockpeer.c
