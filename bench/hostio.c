/* hostio: the host-side baseline of bench/blk.sh, and its two helpers.
 *
 *   hostio tsc                          prints `tsc_mhz=F`: the TSC rate, measured against
 *                                       CLOCK_MONOTONIC_RAW over about 200 ms
 *   hostio fill FILE                    overwrites all of FILE with non-zero data (1 MiB
 *                                       pwrites, then fdatasync), so the image has real,
 *                                       allocated blocks instead of unwritten extents
 *   hostio MODE FILE MIB QD SEED [direct]
 *                                       MODE randread4k | seqread64k | seqwrite64k: the same
 *                                       I/O pattern as the blkbench guest (same request
 *                                       sizes, same xorshift64 offsets for the same SEED,
 *                                       sequential from offset 0 wrapping at the end) with
 *                                       preadv/pwritev on FILE, and QD data buffers used in
 *                                       turn (the guest's buffer footprint). It is a single-
 *                                       threaded, synchronous loop: one request at a time,
 *                                       whatever QD says. `direct` opens FILE with O_DIRECT.
 *                                       After the timed loop, seqwrite64k calls fdatasync
 *                                       (timed on its own, like the guest's FLUSH).
 *                                       Prints `hostio: mode=M bytes=B requests=R ns=N
 *                                       sync_ns=S` (N: CLOCK_MONOTONIC around the loop).
 * Exit status 0, or 1 with a message on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SECTOR 512u

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static int die(const char *what)
{
	fprintf(stderr, "hostio: %s: %s\n", what, strerror(errno));
	return 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: hostio tsc | hostio fill FILE |\n"
			"       hostio randread4k|seqread64k|seqwrite64k FILE MIB QD SEED [direct]\n");
	return 1;
}

static int cmd_tsc(void)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC_RAW), c0 = rdtsc(), t1, c1;

	do {
		t1 = now_ns(CLOCK_MONOTONIC_RAW);
		c1 = rdtsc();
	} while (t1 - t0 < 200000000u);
	printf("tsc_mhz=%.3f\n", (double)(c1 - c0) * 1000.0 / (double)(t1 - t0));
	return 0;
}

static int cmd_fill(const char *path)
{
	enum { CHUNK = 1 << 20 };
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf = malloc(CHUNK);
	uint64_t x = 0x9e3779b97f4a7c15ull;

	if (fd < 0 || fstat(fd, &st) < 0)
		return die(path);
	if (!buf)
		return die("malloc");
	for (size_t i = 0; i < CHUNK; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
	for (uint64_t off = 0; off < (uint64_t)st.st_size; off += CHUNK) {
		size_t len = (uint64_t)st.st_size - off < CHUNK ? (size_t)(st.st_size - (off_t)off) : CHUNK;
		for (size_t i = 0; i < len; i += 4096) /* every 4 KiB block differs */
			memcpy(buf + i, &off, sizeof(off)), buf[i + 8] = (uint8_t)(i >> 12);
		if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
			return die("pwrite");
	}
	if (fdatasync(fd) < 0)
		return die("fdatasync");
	close(fd);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "tsc"))
		return cmd_tsc();
	if (argc == 3 && !strcmp(argv[1], "fill"))
		return cmd_fill(argv[2]);
	if (argc != 6 && argc != 7)
		return usage();

	const char *mode = argv[1], *path = argv[2];
	int rnd = !strcmp(mode, "randread4k"), wr = !strcmp(mode, "seqwrite64k");
	if (!rnd && !wr && strcmp(mode, "seqread64k"))
		return usage();
	int direct = argc == 7 && !strcmp(argv[6], "direct");
	if (argc == 7 && !direct)
		return usage();
	uint64_t mib = strtoull(argv[3], NULL, 0), qd = strtoull(argv[4], NULL, 0);
	uint64_t x = strtoull(argv[5], NULL, 0);
	if (qd < 1 || qd > 1024 || x == 0)
		return usage();

	size_t req = rnd ? 4096 : 65536;
	int fd = open(path, (wr ? O_WRONLY : O_RDONLY) | O_CLOEXEC | (direct ? O_DIRECT : 0));
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return die(path);
	uint64_t size = (uint64_t)st.st_size / SECTOR * SECTOR, nblocks = size / 4096;
	if (size < req || nblocks == 0) {
		fprintf(stderr, "hostio: %s is smaller than one request\n", path);
		return 1;
	}
	uint8_t *bufs;
	if (posix_memalign((void **)&bufs, 4096, qd * req))
		return die("posix_memalign");
	for (size_t i = 0; i < qd * req; i++) /* touched before the clock starts, as in the guest */
		bufs[i] = (uint8_t)(i * 31 + i / req);

	uint64_t total = mib * 1048576 / req, next = 0;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	for (uint64_t n = 0; n < total; n++) {
		uint64_t off;
		if (rnd) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			off = x % nblocks * 4096;
		} else {
			if (next + req > size)
				next = 0;
			off = next;
			next += req;
		}
		struct iovec iov = { bufs + n % qd * req, req };
		ssize_t r = wr ? pwritev(fd, &iov, 1, (off_t)off) : preadv(fd, &iov, 1, (off_t)off);
		if (r != (ssize_t)req) {
			if (r >= 0)
				errno = EIO;
			return die(wr ? "pwritev" : "preadv");
		}
	}
	uint64_t t1 = now_ns(CLOCK_MONOTONIC), t2 = t1;
	if (wr) {
		if (fdatasync(fd) < 0)
			return die("fdatasync");
		t2 = now_ns(CLOCK_MONOTONIC);
	}
	printf("hostio: mode=%s bytes=%" PRIu64 " requests=%" PRIu64 " ns=%" PRIu64 " sync_ns=%" PRIu64
	       "\n", mode, total * req, total, t1 - t0, t2 - t1);
	close(fd);
	free(bufs);
	return 0;
}
