/* blk: block device "storage": write/read round trips, refused odd sizes and misaligned or
 * out-of-range requests (`any-length`: only out-of-range ones, what solo5-hvt refuses);
 * `bench=N` reads the whole device N times and prints MiB/s. */
#include "hvt_rt.h"

MFT_NOTE(2, {.name = "storage", .type = DEV_BLOCK});

static uint8_t wbuf[65536] __attribute__((aligned(4096)));
static uint8_t rbuf[65536] __attribute__((aligned(4096)));

static int expect(const char *what, int got, int want)
{
	if (got == want)
		return 0;
	printf_("FAIL %s: ret %d, expected %d\n", what, got, want);
	return 1;
}

static int bench(const struct mft_entry *e, int h, const char *arg)
{
	unsigned n = 0;
	for (; *arg >= '0' && *arg <= '9'; arg++)
		n = n * 10 + (unsigned)(*arg - '0');
	uint64_t t0 = walltime(), bytes = 0;
	for (unsigned r = 0; r < n; r++) {
		for (uint64_t off = 0; off + sizeof(rbuf) <= e->u.blk.capacity; off += sizeof(rbuf)) {
			if (block_io(false, (uint64_t)h, off, rbuf, sizeof(rbuf)) != R_OK)
				return 1;
			bytes += sizeof(rbuf);
		}
	}
	uint64_t ns = walltime() - t0;
	printf_("read %lu MiB in %lu us: %lu MiB/s\n", bytes >> 20, ns / 1000,
		ns ? (uint64_t)((bytes >> 20) * 1000000000ul / ns) : 0);
	return 0;
}

int hvt_main(const char *cmdline)
{
	const struct mft_entry *e;
	int h = acquire("storage", DEV_BLOCK, &e), bad = 0;
	if (h < 0) {
		puts_n("FAIL no storage\n", 16);
		return 1;
	}
	printf_("storage: handle %d, %lu bytes, block %u\n", h, e->u.blk.capacity,
		(unsigned)e->u.blk.block_size);
	if (starts(cmdline, "bench="))
		return bench(e, h, cmdline + 6);
	uint64_t bs = e->u.blk.block_size, cap = e->u.blk.capacity;
	for (unsigned i = 0; i < 4 * bs; i++)
		wbuf[i] = (uint8_t)(i * 7 + 3);
	mcpy(wbuf, "mote-hvt-block", 14);
	bad |= expect("write 1 block", block_io(true, (uint64_t)h, bs, wbuf, bs), R_OK);
	bad |= expect("write 3 blocks", block_io(true, (uint64_t)h, 2 * bs, wbuf + bs, 3 * bs), R_OK);
	bad |= expect("read 4 blocks", block_io(false, (uint64_t)h, bs, rbuf, 4 * bs), R_OK);
	for (unsigned i = 0; i < 4 * bs; i++)
		if (rbuf[i] != wbuf[i]) {
			printf_("FAIL byte %u differs\n", i);
			return 1;
		}
	bad |= expect("read last block", block_io(false, (uint64_t)h, cap - bs, rbuf, bs), R_OK);
	/* mote refuses requests that are not whole sectors; solo5-hvt leaves that to Solo5's
	 * bindings (`any-length` skips these four). */
	if (!streq(cmdline, "any-length")) {
		bad |= expect("odd length", block_io(false, (uint64_t)h, 0, rbuf, 100), R_EINVAL);
		bad |= expect("odd write length", block_io(true, (uint64_t)h, 0, wbuf, bs + 1), R_EINVAL);
		bad |= expect("misaligned offset", block_io(false, (uint64_t)h, 100, rbuf, bs), R_EINVAL);
		bad |= expect("zero length", block_io(false, (uint64_t)h, 0, rbuf, 0), R_EINVAL);
	}
	bad |= expect("past the end", block_io(false, (uint64_t)h, cap, rbuf, bs), R_EINVAL);
	bad |= expect("across the end", block_io(false, (uint64_t)h, cap - bs, rbuf, 2 * bs), R_EINVAL);
	bad |= expect("huge length", block_io(false, (uint64_t)h, bs, rbuf, 1ull << 63), R_EINVAL);
	bad |= expect("reserved handle", block_io(false, 0, 0, rbuf, bs), R_EINVAL);
	bad |= expect("unknown handle", block_io(false, 77, 0, rbuf, bs), R_EINVAL);
	bad |= expect("huge handle", block_io(false, 1ull << 40, 0, rbuf, bs), R_EINVAL);
	if (!bad)
		puts_n("blk: all checks passed\n", 23);
	return bad;
}
