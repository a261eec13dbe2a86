/* Unit tests for the file block backend (src/backends/blk_file.c) on temporary files: vectored
 * read/write/flush, range refusals, an image that shrank under us (short read at EOF, also
 * inside one iovec), read-only refusal, flock conflicts, size, refused paths, O_DIRECT (also
 * with unaligned buffers, through a bounce buffer). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/blk.h"
#include "test.h"

#define IMG_SIZE (64 * 1024)

static char img[64];

/* A fresh 64 KiB image whose byte i is (i * 7) & 0xff. */
static void make_image(void)
{
	uint8_t buf[IMG_SIZE];

	strcpy(img, "/tmp/mote-blkfile-XXXXXX");
	int fd = mkstemp(img);
	CHECK(fd >= 0);
	if (fd < 0)
		exit(1);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7);
	CHECK_EQ(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	close(fd);
}

static int file_bytes(uint64_t off, void *dst, size_t len)
{
	int fd = open(img, O_RDONLY);
	ssize_t n = fd >= 0 ? pread(fd, dst, len, (off_t)off) : -1;

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static int open_img(bool ro, struct blk_backend *be, char *err, size_t errlen)
{
	return blk_file_open(img, ro, false, be, err, errlen);
}

static void read_write_flush(void)
{
	struct blk_backend be;
	char err[256] = "";
	uint8_t a[100], b[412], c[512], back[1024], raw[1024];

	make_image();
	CHECK_EQ(open_img(false, &be, err, sizeof(err)), 0);
	CHECK_EQ(be.size, (uint64_t)IMG_SIZE);
	CHECK_EQ(be.block_size, 512u);
	CHECK(!be.read_only);
	memset(a, 0x11, sizeof(a));
	memset(b, 0x22, sizeof(b));
	memset(c, 0x33, sizeof(c));
	struct iovec w[] = { { a, sizeof(a) }, { NULL, 0 }, { b, sizeof(b) }, { c, sizeof(c) } };
	CHECK_EQ(be.ops->write(be.be, 4096, w, 4), 0);
	CHECK_EQ(be.ops->flush(be.be), 0);
	/* Read back split differently; and the file itself holds the data. */
	struct iovec r[] = { { back, 1 }, { back + 1, 700 }, { back + 701, 323 } };
	CHECK_EQ(be.ops->read(be.be, 4096, r, 3), 0);
	CHECK_EQ(file_bytes(4096, raw, sizeof(raw)), 0);
	CHECK(memcmp(back, raw, sizeof(raw)) == 0);
	CHECK(back[0] == 0x11 && back[99] == 0x11 && back[100] == 0x22 && back[511] == 0x22);
	CHECK(back[512] == 0x33 && back[1023] == 0x33);
	/* Bytes around the write are untouched. */
	CHECK_EQ(file_bytes(4095, raw, 1), 0);
	CHECK_EQ(raw[0], (uint8_t)(4095 * 7));
	CHECK_EQ(file_bytes(4096 + 1024, raw, 1), 0);
	CHECK_EQ(raw[0], (uint8_t)((4096 + 1024) * 7));
	/* Nothing to do is fine. */
	CHECK_EQ(be.ops->read(be.be, IMG_SIZE, NULL, 0), 0);
	blk_close(&be);
	blk_close(&be); /* idempotent */
	CHECK(be.ops == NULL);
	unlink(img);
}

static void range_and_argument_refusals(void)
{
	struct blk_backend be;
	char err[256];
	uint8_t buf[1024], raw[8];
	struct iovec v = { buf, sizeof(buf) };
	static struct iovec many[IOV_MAX + 1];

	make_image();
	CHECK_EQ(open_img(false, &be, err, sizeof(err)), 0);
	/* Reads and writes crossing or past the end never reach the file. */
	CHECK_EQ(be.ops->read(be.be, IMG_SIZE - 512, &v, 1), -EIO);
	CHECK_EQ(be.ops->read(be.be, UINT64_MAX - 100, &v, 1), -EIO);
	memset(buf, 0xee, sizeof(buf));
	CHECK_EQ(be.ops->write(be.be, IMG_SIZE - 512, &v, 1), -EIO);
	CHECK_EQ(be.ops->write(be.be, UINT64_MAX, &v, 1), -EIO);
	struct stat st;
	CHECK_EQ(stat(img, &st), 0);
	CHECK_EQ(st.st_size, IMG_SIZE);
	CHECK_EQ(file_bytes(IMG_SIZE - 512, raw, 1), 0);
	CHECK(raw[0] != 0xee);
	/* Exactly up to the end is fine. */
	CHECK_EQ(be.ops->read(be.be, IMG_SIZE - sizeof(buf), &v, 1), 0);
	/* Too many iovecs, a negative count, a sum that overflows. */
	for (int i = 0; i <= IOV_MAX; i++)
		many[i] = (struct iovec){ buf, 0 };
	CHECK_EQ(be.ops->read(be.be, 0, many, IOV_MAX + 1), -EINVAL);
	CHECK_EQ(be.ops->read(be.be, 0, many, IOV_MAX), 0); /* all empty: nothing to read */
	CHECK_EQ(be.ops->read(be.be, 0, &v, -1), -EINVAL);
	struct iovec huge[] = { { buf, SIZE_MAX / 2 }, { buf, SIZE_MAX / 2 + 2 } };
	CHECK_EQ(be.ops->read(be.be, 0, huge, 2), -EINVAL);
	blk_close(&be);
	unlink(img);
}

/* Someone truncates the image while it is open: the read stops at end of file: -EIO, also
 * when the short transfer ends inside an iovec (the pread completion path). */
static void short_read_at_eof(void)
{
	struct blk_backend be;
	char err[256];
	uint8_t a[512], b[1024];

	make_image();
	CHECK_EQ(open_img(false, &be, err, sizeof(err)), 0);
	CHECK_EQ(truncate(img, 1000), 0);
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	struct iovec v[] = { { a, sizeof(a) }, { b, sizeof(b) } };
	CHECK_EQ(be.ops->read(be.be, 0, v, 2), -EIO);
	/* What could be read was read. */
	CHECK_EQ(a[511], (uint8_t)(511 * 7));
	CHECK_EQ(b[487], (uint8_t)(999 * 7));
	CHECK_EQ(be.ops->read(be.be, 2048, v, 1), -EIO);
	blk_close(&be);
	unlink(img);
}

static void read_only_refuses_writes(void)
{
	struct blk_backend be;
	char err[256];
	uint8_t buf[512], raw[512];
	struct iovec v = { buf, sizeof(buf) };

	make_image();
	CHECK_EQ(open_img(true, &be, err, sizeof(err)), 0);
	CHECK(be.read_only);
	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(be.ops->write(be.be, 0, &v, 1), -EROFS);
	CHECK_EQ(file_bytes(0, raw, sizeof(raw)), 0);
	CHECK(raw[1] == 7 && raw[2] == 14);
	CHECK_EQ(be.ops->read(be.be, 512, &v, 1), 0);
	CHECK_EQ(buf[1], (uint8_t)(513 * 7));
	CHECK_EQ(be.ops->flush(be.be), 0);
	blk_close(&be);
	unlink(img);
}

static void lock_conflicts(void)
{
	struct blk_backend a, b, c, d;
	char err[256] = "";

	make_image();
	CHECK_EQ(open_img(false, &a, err, sizeof(err)), 0);
	/* A second writer, and a reader while someone writes, are refused with a clear reason. */
	CHECK_EQ(open_img(false, &b, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "in use by another process");
	CHECK_STR_CONTAINS(err, img);
	CHECK(b.ops == NULL);
	err[0] = 0;
	CHECK_EQ(open_img(true, &c, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "in use by another process");
	blk_close(&a);
	/* Readers share; a writer is refused while they read; the lock goes with the last close. */
	CHECK_EQ(open_img(true, &c, err, sizeof(err)), 0);
	CHECK_EQ(open_img(true, &d, err, sizeof(err)), 0);
	CHECK_EQ(open_img(false, &a, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "in use by another process");
	blk_close(&c);
	CHECK_EQ(open_img(false, &a, err, sizeof(err)), -1);
	blk_close(&d);
	CHECK_EQ(open_img(false, &a, err, sizeof(err)), 0);
	blk_close(&a);
	unlink(img);
}

static void refused_paths(void)
{
	struct blk_backend be;
	char err[256] = "";

	CHECK_EQ(blk_file_open("/tmp", false, false, &be, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "directory");
	CHECK_EQ(blk_file_open("/tmp", true, false, &be, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "directory");
	CHECK_EQ(blk_file_open("/nonexistent/mote.img", true, false, &be, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "/nonexistent/mote.img");
	CHECK_STR_CONTAINS(err, "No such file");
	CHECK_EQ(blk_file_open("/dev/null", true, false, &be, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "not a regular file or block device");
	CHECK(be.ops == NULL);
}

/* O_DIRECT either works (aligned I/O then round-trips) or is refused with a clear reason. */
static void direct_io(void)
{
	struct blk_backend be;
	char err[256] = "";
	void *buf = NULL;

	make_image();
	if (blk_file_open(img, false, true, &be, err, sizeof(err)) < 0) {
		CHECK_STR_CONTAINS(err, "O_DIRECT");
		unlink(img);
		return;
	}
	uint32_t bs = be.block_size;
	CHECK(bs >= 512 && (bs & (bs - 1)) == 0);
	CHECK_EQ(posix_memalign(&buf, 4096, 4096), 0);
	if (!buf)
		return;
	memset(buf, 0x77, 4096);
	struct iovec v = { buf, 4096 };
	CHECK_EQ(be.ops->write(be.be, 8192, &v, 1), 0);
	CHECK_EQ(be.ops->flush(be.be), 0);
	memset(buf, 0, 4096);
	CHECK_EQ(be.ops->read(be.be, 8192, &v, 1), 0);
	CHECK(((uint8_t *)buf)[0] == 0x77 && ((uint8_t *)buf)[4095] == 0x77);
	/* Buffers the kernel would refuse for O_DIRECT (odd addresses and lengths) go through a
	 * bounce buffer: the same bytes land and come back. */
	uint8_t *odd = malloc(3 * bs + 64);
	if (odd) {
		for (uint32_t i = 0; i < bs; i++)
			odd[1 + i] = (uint8_t)(i * 3 + 1);
		struct iovec w[] = { { odd + 1, 333 }, { odd + 1 + 333, bs - 333 } };
		CHECK_EQ(be.ops->write(be.be, 2 * bs, w, 2), 0);
		memset(buf, 0, bs);
		struct iovec a = { buf, bs };
		CHECK_EQ(be.ops->read(be.be, 2 * bs, &a, 1), 0);
		CHECK(memcmp(buf, odd + 1, bs) == 0);
		memset(odd + 2 * bs, 0, bs);
		struct iovec r[] = { { odd + 2 * bs + 3, 5 }, { odd + 2 * bs + 8, bs - 5 } };
		CHECK_EQ(be.ops->read(be.be, 2 * bs, r, 2), 0);
		CHECK(memcmp(odd + 2 * bs + 3, odd + 1, bs) == 0);
		free(odd);
	}
	blk_close(&be);
	free(buf);
	unlink(img);
}

/* O_DIRECT, unaligned, larger than one bounce buffer (4 MiB): done in pieces, same bytes. */
static void direct_large_unaligned(void)
{
	struct blk_backend be;
	char err[256] = "";
	const size_t len = (5u << 20) + 1536, disk = 6u << 20;

	make_image();
	CHECK_EQ(truncate(img, (off_t)disk), 0);
	if (blk_file_open(img, false, true, &be, err, sizeof(err)) < 0) {
		CHECK_STR_CONTAINS(err, "O_DIRECT");
		unlink(img);
		return;
	}
	uint8_t *src = malloc(len + 8), *back = malloc(len + 8);
	if (src && back) {
		for (size_t i = 0; i < len; i++)
			src[3 + i] = (uint8_t)(i * 11 + i / 4096);
		struct iovec w[] = { { src + 3, 1000 }, { src + 1003, len - 1000 } };
		CHECK_EQ(be.ops->write(be.be, 4096, w, 2), 0);
		memset(back, 0, len + 8);
		struct iovec r[] = { { back + 1, len - 7 }, { back + len - 6, 7 } };
		CHECK_EQ(be.ops->read(be.be, 4096, r, 2), 0);
		CHECK(memcmp(back + 1, src + 3, len - 7) == 0);
		CHECK(memcmp(back + len - 6, src + 3 + len - 7, 7) == 0);
	}
	free(src);
	free(back);
	blk_close(&be);
	unlink(img);
}

int main(void)
{
	test_suite_name = "blk_file";
	RUN(read_write_flush);
	RUN(range_and_argument_refusals);
	RUN(short_read_at_eof);
	RUN(read_only_refuses_writes);
	RUN(lock_conflicts);
	RUN(refused_paths);
	RUN(direct_io);
	RUN(direct_large_unaligned);
	TEST_MAIN_END();
}
