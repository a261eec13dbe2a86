/* Unit tests for the io_uring block backend (src/backends/blk_uring.c) on temporary files:
 * asynchronous read/write/flush round trips with cookies, a flush ordered after the writes
 * before it, refusals at submit (range, read-only, full), a short read at end of file as
 * -EIO, ENOSPC from a tiny tmpfs (private mount namespace, in a child), O_DIRECT (also with
 * unaligned buffers: bounce), the bounce budget (its accounting, and more unaligned O_DIRECT
 * requests in flight than it allows: they wait, at most the budget is held, all complete
 * with the right bytes, the waits are counted), and
 * blk_open's choice between io_uring and the synchronous backend. Skips (a `note` line) when
 * this kernel refuses io_uring. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/blk.h"
#include "backends/blk_bounce.h"
#include "backends/blk_uring.h"
#include "test.h"

#define IMG_SIZE (256 * 1024)

static char img[64];
static bool no_uring;

static void make_image(void)
{
	static uint8_t buf[IMG_SIZE];

	strcpy(img, "/tmp/mote-blkuring-XXXXXX");
	int fd = mkstemp(img);
	if (fd < 0)
		exit(1);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 5 + 3);
	CHECK_EQ(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	close(fd);
}

static int open_img(bool ro, unsigned depth, struct blk_backend *be)
{
	char err[256] = "";
	int r = blk_uring_open(img, ro, false, depth, be, err, sizeof(err));

	if (r == -2 && !no_uring) {
		printf("note blk_uring: io_uring refused here, tests skipped: %s\n", err);
		no_uring = true;
	}
	return r;
}

/* Requests that submit finished at once (page-cache hits): reap_n hands them out first. */
static struct blk_completion now_done[16];
static int n_now;

/* Reaps until n completions are in out (waiting); returns how many arrived. */
static int reap_n(struct blk_backend *be, struct blk_completion *out, int n)
{
	int got = 0;

	while (got < n && n_now > 0) {
		out[got++] = now_done[0];
		memmove(now_done, now_done + 1, (size_t)--n_now * sizeof(now_done[0]));
	}

	while (got < n) {
		int r = be->ops->reap(be->be, out + got, n - got, true);
		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

static int submit(struct blk_backend *be, enum blk_op op, uint64_t off, struct iovec *iov,
		  int n, uint64_t cookie)
{
	struct blk_io io = { .op = op, .off = off, .iov = iov, .iovcnt = n, .cookie = cookie };
	int r = be->ops->submit(be->be, &io);

	if (r == 1 && n_now < 16) { /* done at once: counts as submitted and completed */
		now_done[n_now++] = (struct blk_completion){ .cookie = cookie, .result = 0 };
		r = 0;
	}
	return r;
}

static void round_trip(void)
{
	struct blk_backend be;
	struct blk_completion c[8];
	uint8_t a[512], b[1536], back[2048];

	make_image();
	if (open_img(false, 8, &be) < 0)
		goto out;
	CHECK(be.completion_fd >= 0);
	CHECK_EQ(be.size, (uint64_t)IMG_SIZE);
	CHECK_EQ(be.depth, 8u);
	memset(a, 0xa1, sizeof(a));
	memset(b, 0xb2, sizeof(b));
	struct iovec w[] = { { a, sizeof(a) }, { b, sizeof(b) } };
	CHECK_EQ(submit(&be, BLK_OP_WRITE, 8192, w, 2, 77), 0);
	CHECK_EQ(submit(&be, BLK_OP_FLUSH, 0, NULL, 0, 78), 0);
	CHECK_EQ(be.ops->kick(be.be), 0);
	CHECK_EQ(reap_n(&be, c, 2), 2);
	/* The flush starts after the write before it, so it also completes after it. */
	CHECK_EQ(c[0].cookie, 77u);
	CHECK_EQ(c[0].result, 0);
	CHECK_EQ(c[1].cookie, 78u);
	CHECK_EQ(c[1].result, 0);
	struct iovec r[] = { { back, 700 }, { back + 700, 1348 } };
	CHECK_EQ(submit(&be, BLK_OP_READ, 8192, r, 2, 5), 0);
	uint8_t edge[512];
	struct iovec e = { edge, sizeof(edge) };
	CHECK_EQ(submit(&be, BLK_OP_READ, IMG_SIZE - 512, &e, 1, 6), 0); /* up to the end */
	CHECK_EQ(submit(&be, BLK_OP_READ, 0, NULL, 0, 9), 0);              /* nothing to read */
	CHECK_EQ(be.ops->kick(be.be), 0);
	CHECK_EQ(reap_n(&be, c, 3), 3);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(c[i].result, 0);
	CHECK(back[0] == 0xa1 && back[511] == 0xa1 && back[512] == 0xb2 && back[2047] == 0xb2);
	CHECK_EQ(edge[511], (uint8_t)((IMG_SIZE - 1) * 5 + 3));
	/* The eventfd was signalled; nothing more to reap. */
	uint64_t v = 0;
	CHECK_EQ(read(be.completion_fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	CHECK_EQ(be.ops->reap(be.be, c, 8, false), 0);
	/* The synchronous calls stay available (exit-time flush). */
	CHECK_EQ(be.ops->flush(be.be), 0);
	CHECK_EQ(be.ops->read(be.be, 8192, &e, 1), 0);
	CHECK_EQ(edge[0], 0xa1);
	blk_close(&be);
	blk_close(&be);
out:
	unlink(img);
}

static void refusals(void)
{
	struct blk_backend be;
	struct blk_completion c[4];
	uint8_t buf[4096];
	struct iovec v = { buf, 512 };

	make_image();
	if (open_img(true, 2, &be) < 0)
		goto out;
	/* Out of range and read-only: refused at submit, nothing reaches the file. */
	CHECK_EQ(submit(&be, BLK_OP_READ, IMG_SIZE - 256, &v, 1, 1), -EIO);
	CHECK_EQ(submit(&be, BLK_OP_READ, UINT64_MAX - 100, &v, 1, 1), -EIO);
	CHECK_EQ(submit(&be, BLK_OP_WRITE, 0, &v, 1, 1), -EROFS);
	CHECK_EQ(submit(&be, BLK_OP_READ, 0, &v, -1, 1), -EINVAL);
	CHECK_EQ(submit(&be, (enum blk_op)42, 0, &v, 1, 1), -EINVAL);
	/* Depth 2: the third request in the ring is refused until one is reaped (flushes
	 * always go through the ring; cached reads may finish at submit). */
	CHECK_EQ(submit(&be, BLK_OP_FLUSH, 0, NULL, 0, 1), 0);
	CHECK_EQ(submit(&be, BLK_OP_FLUSH, 0, NULL, 0, 2), 0);
	CHECK_EQ(be.ops->submit(be.be, &(struct blk_io){ .op = BLK_OP_FLUSH, .cookie = 3 }),
		 -EAGAIN);
	CHECK_EQ(be.ops->kick(be.be), 0);
	CHECK_EQ(reap_n(&be, c, 2), 2);
	CHECK_EQ(submit(&be, BLK_OP_READ, 1024, &v, 1, 3), 0);
	CHECK_EQ(be.ops->kick(be.be), 0);
	CHECK_EQ(reap_n(&be, c, 1), 1);
	CHECK_EQ(c[0].cookie, 3u);
	CHECK_EQ(c[0].result, 0);
	CHECK_EQ(buf[0], (uint8_t)(1024 * 5 + 3));
	/* Depth outside 1..4096 is refused with a reason. */
	blk_close(&be);
	char err[256] = "";
	CHECK_EQ(blk_uring_open(img, true, false, 0, &be, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "depth");
	CHECK_EQ(blk_uring_open("/nonexistent/x.img", true, false, 4, &be, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "No such file");
out:
	unlink(img);
}

/* The image shrinks under us: a read past the new end completes -EIO, also when it ends
 * inside the file (the short-transfer path finishes it synchronously). */
static void short_read_at_eof(void)
{
	struct blk_backend be;
	struct blk_completion c[2];
	uint8_t a[4096], b[4096];

	make_image();
	if (open_img(false, 4, &be) < 0)
		goto out;
	CHECK_EQ(truncate(img, 6000), 0);
	struct iovec v[] = { { a, sizeof(a) }, { b, sizeof(b) } };
	CHECK_EQ(submit(&be, BLK_OP_READ, 0, v, 2, 1), 0);
	CHECK_EQ(submit(&be, BLK_OP_READ, 65536, v, 1, 2), 0);
	CHECK_EQ(be.ops->kick(be.be), 0);
	CHECK_EQ(reap_n(&be, c, 2), 2);
	CHECK_EQ(c[0].result, -EIO);
	CHECK_EQ(c[1].result, -EIO);
	CHECK_EQ(a[100], (uint8_t)(100 * 5 + 3)); /* what could be read was read */
	blk_close(&be);
out:
	unlink(img);
}

/* ENOSPC: a 64 KiB tmpfs in a private mount namespace (in a child, so this process's mounts
 * never change); a 1 MiB sparse image on it fills up. The child's exit code: 0 ok, 1 wrong
 * result, 2 no namespace or tmpfs here, 3 io_uring refused. */
static int enospc_child(void)
{
	char dir[] = "/tmp/mote-enospc-XXXXXX";
	static uint8_t buf[256 * 1024];
	int rc = 1;

	if (!mkdtemp(dir))
		return 2;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=64k") < 0) {
		rmdir(dir);
		return 2;
	}
	char path[64];
	snprintf(path, sizeof(path), "%s/disk.img", dir);
	int fd = open(path, O_CREAT | O_RDWR, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		goto out;
	close(fd);
	struct blk_backend be;
	char err[256];
	int r = blk_uring_open(path, false, false, 4, &be, err, sizeof(err));
	if (r < 0) {
		rc = r == -2 ? 3 : 1;
		goto out;
	}
	memset(buf, 0x66, sizeof(buf));
	struct iovec v = { buf, sizeof(buf) };
	struct blk_io io = { .op = BLK_OP_WRITE, .off = 0, .iov = &v, .iovcnt = 1, .cookie = 1 };
	struct blk_completion c = { 0, 0 };
	/* Refused at submit (a buffered write done at once) or completed with the error. */
	r = be.ops->submit(be.be, &io);
	if (r == 0 && be.ops->kick(be.be) == 0 && be.ops->reap(be.be, &c, 1, true) == 1)
		r = c.result;
	if (r == -ENOSPC)
		rc = 0;
	else
		printf("  enospc: result %d\n", r);
	blk_close(&be);
out:
	umount(dir);
	rmdir(dir);
	return rc;
}

static void enospc_on_a_full_filesystem(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(enospc_child());
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	if (rc == 2)
		printf("note blk_uring: no private mount namespace or tmpfs here: ENOSPC case skipped\n");
	else if (rc != 3)
		CHECK_EQ(rc, 0);
}

/* O_DIRECT either round-trips aligned I/O or is refused with a reason naming O_DIRECT. */
static void direct_io(void)
{
	struct blk_backend be;
	struct blk_completion c[2];
	char err[256] = "";
	void *buf = NULL;

	make_image();
	int r = blk_uring_open(img, false, true, 4, &be, err, sizeof(err));
	if (r < 0) {
		if (r == -1)
			CHECK_STR_CONTAINS(err, "O_DIRECT");
		else
			printf("note blk_uring: O_DIRECT case skipped: %s\n", err);
		unlink(img);
		return;
	}
	CHECK_EQ(posix_memalign(&buf, 4096, 8192), 0);
	if (!buf)
		return;
	memset(buf, 0x3c, 8192);
	struct iovec v = { buf, 8192 };
	CHECK_EQ(submit(&be, BLK_OP_WRITE, 16384, &v, 1, 1), 0);
	CHECK_EQ(submit(&be, BLK_OP_FLUSH, 0, NULL, 0, 2), 0);
	CHECK_EQ(be.ops->kick(be.be), 0);
	CHECK_EQ(reap_n(&be, c, 2), 2);
	CHECK(c[0].result == 0 && c[1].result == 0);
	memset(buf, 0, 8192);
	CHECK_EQ(submit(&be, BLK_OP_READ, 16384, &v, 1, 3), 0);
	CHECK_EQ(be.ops->kick(be.be), 0);
	CHECK_EQ(reap_n(&be, c, 1), 1);
	CHECK_EQ(c[0].result, 0);
	CHECK(((uint8_t *)buf)[0] == 0x3c && ((uint8_t *)buf)[8191] == 0x3c);
	/* Unaligned buffers (a guest's odd descriptor split) go through a bounce buffer. */
	uint32_t bs = be.block_size;
	uint8_t *odd = malloc(3 * bs + 64);
	if (odd) {
		for (uint32_t i = 0; i < bs; i++)
			odd[1 + i] = (uint8_t)(i * 7 + 2);
		struct iovec w[] = { { odd + 1, 333 }, { odd + 1 + 333, bs - 333 } };
		CHECK_EQ(submit(&be, BLK_OP_WRITE, 4 * bs, w, 2, 4), 0);
		CHECK_EQ(be.ops->kick(be.be), 0);
		CHECK_EQ(reap_n(&be, c, 1), 1);
		CHECK_EQ(c[0].result, 0);
		memset(odd + 2 * bs, 0, bs);
		struct iovec rd[] = { { odd + 2 * bs + 3, 5 }, { odd + 2 * bs + 8, bs - 5 } };
		CHECK_EQ(submit(&be, BLK_OP_READ, 4 * bs, rd, 2, 5), 0);
		CHECK_EQ(be.ops->kick(be.be), 0);
		CHECK_EQ(reap_n(&be, c, 1), 1);
		CHECK_EQ(c[0].result, 0);
		CHECK(memcmp(odd + 2 * bs + 3, odd + 1, bs) == 0);
		free(odd);
	}
	blk_close(&be);
	free(buf);
	unlink(img);
}

/* The budget's accounting: what fits is taken, what does not is refused whole, release gives
 * back, the peak stays; no wrap-around with huge requests. */
static void bounce_budget_logic(void)
{
	struct blk_bounce_budget b = { .limit = BLK_BOUNCE_BUDGET };

	CHECK(blk_bounce_reserve(&b, 3u << 20));
	CHECK(blk_bounce_reserve(&b, 4u << 20));
	CHECK(!blk_bounce_reserve(&b, 2u << 20)); /* 9 MiB > 8 MiB */
	CHECK_EQ(b.used, 7u << 20);
	CHECK(blk_bounce_reserve(&b, 1u << 20)); /* exactly full */
	CHECK(!blk_bounce_reserve(&b, 1));
	CHECK(!blk_bounce_reserve(&b, UINT64_MAX));
	blk_bounce_release(&b, 4u << 20);
	CHECK_EQ(b.used, 4u << 20);
	CHECK_EQ(b.peak, (uint64_t)BLK_BOUNCE_BUDGET);
	CHECK(!blk_bounce_reserve(&b, UINT64_MAX - (1u << 20)));
	CHECK(blk_bounce_reserve(&b, BLK_BOUNCE_MAX));
	blk_bounce_release(&b, UINT64_MAX); /* never below zero */
	CHECK_EQ(b.used, 0);
	/* An empty budget takes the largest bounce buffer (a waiting request can always start). */
	CHECK(blk_bounce_reserve(&b, blk_bounce_size(BLK_BOUNCE_MAX - 1, 65536)));
	CHECK_EQ(blk_bounce_size(1, 4096), 4096);
	CHECK_EQ(blk_bounce_size(8192, 4096), 8192);
}

/* More unaligned O_DIRECT requests at once than the budget holds (the amplification of
 * docs/security.md: 256 such requests would have been 1 GiB of heap): 6 writes and then 6
 * reads of 4 MiB each, buffers at odd addresses, all submitted before the first kick. At
 * most 2 (8 MiB) hold bounce memory at once, the others wait and are counted, every request
 * completes, and the bytes read back are the bytes written. */
#define BB_N 6
#define BB_LEN (4u << 20)
static void bounce_budget_over(void)
{
	struct blk_backend be;
	struct blk_completion c[BB_N];
	struct blk_bounce_stats st;
	char err[256] = "";

	make_image();
	CHECK_EQ(truncate(img, (off_t)BB_N * BB_LEN), 0);
	int r = blk_uring_open(img, false, true, 64, &be, err, sizeof(err));
	if (r < 0) {
		printf("note blk_uring: O_DIRECT budget case skipped: %s\n", err);
		unlink(img);
		return;
	}
	uint8_t *src = malloc((size_t)BB_N * BB_LEN + 1), *dst = malloc((size_t)BB_N * BB_LEN + 3);
	CHECK(src && dst);
	if (!src || !dst)
		goto out;
	for (size_t i = 0; i < (size_t)BB_N * BB_LEN; i++)
		src[1 + i] = (uint8_t)(i * 131 + (i >> 12));
	struct iovec w[BB_N], rd[BB_N];
	for (int k = 0; k < BB_N; k++) {
		w[k] = (struct iovec){ src + 1 + (size_t)k * BB_LEN, BB_LEN };
		CHECK_EQ(submit(&be, BLK_OP_WRITE, (uint64_t)k * BB_LEN, &w[k], 1, (uint64_t)k), 0);
	}
	CHECK_EQ(blk_uring_bounce_stats(&be, &st), 0);
	CHECK_EQ(st.used, 2ull * BB_LEN);
	CHECK_EQ(st.waiting, BB_N - 2);
	CHECK_EQ(st.waits, BB_N - 2);
	CHECK_EQ(be.ops->kick(be.be), 0);
	CHECK_EQ(reap_n(&be, c, BB_N), BB_N);
	for (int k = 0; k < BB_N; k++)
		CHECK_EQ(c[k].result, 0);
	memset(dst, 0, (size_t)BB_N * BB_LEN + 3);
	for (int k = 0; k < BB_N; k++) {
		rd[k] = (struct iovec){ dst + 3 + (size_t)k * BB_LEN, BB_LEN };
		CHECK_EQ(submit(&be, BLK_OP_READ, (uint64_t)k * BB_LEN, &rd[k], 1, 10 + (uint64_t)k),
			 0);
	}
	CHECK_EQ(be.ops->kick(be.be), 0);
	CHECK_EQ(reap_n(&be, c, BB_N), BB_N);
	for (int k = 0; k < BB_N; k++)
		CHECK_EQ(c[k].result, 0);
	CHECK(memcmp(dst + 3, src + 1, (size_t)BB_N * BB_LEN) == 0);
	CHECK_EQ(blk_uring_bounce_stats(&be, &st), 0);
	CHECK_EQ(st.peak, (uint64_t)BLK_BOUNCE_BUDGET);
	CHECK_EQ(st.used, 0);
	CHECK_EQ(st.waiting, 0);
	CHECK_EQ(st.waits, 2 * (BB_N - 2));
	/* A flush behind waiting requests waits too (it must not overtake them), and a device
	 * counter can take over the counting. */
	atomic_ulong mine;
	atomic_init(&mine, 0);
	be.ops->count_waits(be.be, &mine);
	for (int k = 0; k < 3; k++)
		CHECK_EQ(submit(&be, BLK_OP_WRITE, (uint64_t)k * BB_LEN, &w[k], 1, (uint64_t)k), 0);
	CHECK_EQ(submit(&be, BLK_OP_FLUSH, 0, NULL, 0, 99), 0);
	CHECK_EQ(atomic_load(&mine), 2);
	CHECK_EQ(be.ops->kick(be.be), 0);
	CHECK_EQ(reap_n(&be, c, 4), 4);
	CHECK_EQ(c[3].cookie, 99);
	for (int k = 0; k < 4; k++)
		CHECK_EQ(c[k].result, 0);
	be.ops->count_waits(be.be, NULL);
out:
	blk_close(&be);
	free(src);
	free(dst);
	unlink(img);
}

/* blk_open: sync is the file backend (no completion fd); uring is io_uring; auto picks
 * io_uring unless told it was refused before. */
static void open_modes(void)
{
	struct blk_backend be;
	char err[256] = "";
	bool refused = false;

	make_image();
	CHECK_EQ(blk_open(img, true, false, BLK_IO_SYNC, 8, &refused, &be, err, sizeof(err)), 0);
	CHECK_EQ(be.completion_fd, -1);
	CHECK(be.ops->submit == NULL);
	blk_close(&be);
	refused = true;
	CHECK_EQ(blk_open(img, true, false, BLK_IO_AUTO, 8, &refused, &be, err, sizeof(err)), 0);
	CHECK_EQ(be.completion_fd, -1);
	blk_close(&be);
	if (!no_uring) {
		refused = false;
		CHECK_EQ(blk_open(img, true, false, BLK_IO_AUTO, 8, &refused, &be, err, sizeof(err)),
			 0);
		CHECK(be.completion_fd >= 0 && be.ops->submit != NULL && !refused);
		blk_close(&be);
		CHECK_EQ(blk_open(img, true, false, BLK_IO_URING, 8, &refused, &be, err, sizeof(err)),
			 0);
		CHECK(be.completion_fd >= 0);
		blk_close(&be);
	}
	unlink(img);
}

int main(void)
{
	test_suite_name = "blk_uring";
	RUN(round_trip);
	RUN(refusals);
	RUN(short_read_at_eof);
	RUN(enospc_on_a_full_filesystem);
	RUN(direct_io);
	RUN(bounce_budget_logic);
	RUN(bounce_budget_over);
	RUN(open_modes);
	TEST_MAIN_END();
}
