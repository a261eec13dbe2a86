/* Unit tests for virtio-blk (src/devices/virtio_blk.c), driven without a transport: a tiny
 * in-test driver lays out a split ring in guest RAM, enables queue 0 as the transport would
 * after negotiation, offers requests and calls ops->notify; the disk is a temporary image
 * (blk_file) or a fake backend that records calls and injects errors.
 * Covers: config space and offered features, read/write/flush/get-id, write-through when
 * FLUSH is not negotiated, unsupported types, range and length refusals (overflow near
 * UINT64_MAX), read-only disks, malformed chains (device fails and stops), backend errors
 * (EIO, ENOSPC), data split across descriptors at odd boundaries, indirect tables, batching
 * with one interrupt, and the iovec slicing helper. With an asynchronous fake backend:
 * requests in flight completing out of order (one interrupt check per completion batch),
 * write-through as write-then-flush, a refused submit, and a device or queue reset with
 * requests in flight (waited for, never pushed into the reset ring). With the real io_uring
 * backend on an O_DIRECT image: a guest whose unaligned reads need more bounce memory than
 * the disk's budget gets every request answered, and the waits in the device's counters. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "devices/virtio_blk.h"
#include "guest_ram.h"
#include "test.h"

#define RAM       (1ull << 20)
#define QSIZE     32
#define DESC_GPA  0x1000ull
#define AVAIL_GPA 0x2000ull
#define USED_GPA  0x3000ull
#define IND_GPA   0x4000ull  /* indirect tables */
#define HDR_GPA   0x8000ull  /* request headers, 32 bytes apart */
#define ST_GPA    0x9000ull  /* status bytes, one per request */
#define DATA_GPA  0x10000ull /* data buffers */
#define SEG_GPA   0x40000ull /* scattered segments, one page each */

#define DISK_SIZE (64 * 1024) /* 128 sectors */
#define FEAT_BASE ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_BLK_F_FLUSH))

static bool live;
static struct virtio_blk blk; /* ~1 MiB of queues: static */
static uint16_t drv_avail, drv_next_desc, nreq;
static uint16_t heads[256];
static int irqs;
static char img[64];

/* ---- the fake backend ---- */

static struct fake {
	uint8_t disk[DISK_SIZE];
	int read_err, write_err, flush_err;
	int reads, writes, flushes;
	char log[64]; /* R, W, F in call order */
	size_t nlog;
} fk;

static void fk_note(char c)
{
	if (fk.nlog + 1 < sizeof(fk.log))
		fk.log[fk.nlog++] = c;
}

static int fk_read(void *be, uint64_t off, const struct iovec *iov, int n)
{
	(void)be;
	fk.reads++;
	fk_note('R');
	if (fk.read_err)
		return fk.read_err;
	for (int i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, fk.disk + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}

static int fk_write(void *be, uint64_t off, const struct iovec *iov, int n)
{
	(void)be;
	fk.writes++;
	fk_note('W');
	if (fk.write_err)
		return fk.write_err;
	for (int i = 0; i < n; i++) {
		memcpy(fk.disk + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}

static int fk_flush(void *be)
{
	(void)be;
	fk.flushes++;
	fk_note('F');
	return fk.flush_err;
}

static void fk_close(void *be) { (void)be; }

static const struct blk_backend_ops fk_ops = {
	.read = fk_read, .write = fk_write, .flush = fk_flush, .close = fk_close,
};

static struct blk_backend fake_backend(bool ro)
{
	memset(&fk, 0, sizeof(fk));
	return (struct blk_backend){ .ops = &fk_ops, .be = &fk, .size = DISK_SIZE,
				     .block_size = 512, .read_only = ro };
}

/* ---- the fake asynchronous backend: requests wait until the test completes them ---- */

#define FA_MAX 64
static struct fake_async {
	struct blk_io io[FA_MAX]; /* submitted, in order */
	bool pending[FA_MAX];
	int n, kicks, submit_err;
	struct blk_completion done[FA_MAX];
	int ndone;
} fa;

static int fa_submit(void *be, const struct blk_io *io)
{
	(void)be;
	if (fa.submit_err)
		return fa.submit_err;
	if (fa.n == FA_MAX)
		return -EAGAIN;
	fa.io[fa.n] = *io;
	fa.pending[fa.n++] = true;
	return 0;
}

static int fa_kick(void *be)
{
	(void)be;
	fa.kicks++;
	return 0;
}

/* The test's hand: submitted request i finishes now (its I/O on fk.disk, or err). */
static void fa_finish(int i, int err)
{
	const struct blk_io *io = &fa.io[i];
	int r = err;

	CHECK(i < fa.n && fa.pending[i]);
	fa.pending[i] = false;
	if (!r && io->op == BLK_OP_READ)
		r = fk_read(&fk, io->off, io->iov, io->iovcnt);
	else if (!r && io->op == BLK_OP_WRITE)
		r = fk_write(&fk, io->off, io->iov, io->iovcnt);
	else if (!r)
		r = fk_flush(&fk);
	fa.done[fa.ndone++] = (struct blk_completion){ .cookie = io->cookie, .result = r };
}

static int fa_reap(void *be, struct blk_completion *out, int max, bool wait)
{
	(void)be;
	if (wait && fa.ndone == 0)
		for (int i = 0; i < fa.n; i++)
			if (fa.pending[i])
				fa_finish(i, 0);
	int n = fa.ndone < max ? fa.ndone : max;
	memcpy(out, fa.done, (size_t)n * sizeof(*out));
	memmove(fa.done, fa.done + n, (size_t)(fa.ndone - n) * sizeof(*out));
	fa.ndone -= n;
	return n;
}

static const struct blk_backend_ops fa_ops = {
	.read = fk_read, .write = fk_write, .flush = fk_flush, .close = fk_close,
	.submit = fa_submit, .kick = fa_kick, .reap = fa_reap,
};

static struct blk_backend async_backend(void)
{
	memset(&fk, 0, sizeof(fk));
	memset(&fa, 0, sizeof(fa));
	for (size_t i = 0; i < DISK_SIZE; i++)
		fk.disk[i] = (uint8_t)(i * 3);
	return (struct blk_backend){ .ops = &fa_ops, .be = &fk, .size = DISK_SIZE,
				     .block_size = 512, .completion_fd = -1, .depth = FA_MAX };
}

/* ---- a temporary image ---- */

static uint8_t img_byte(uint64_t i) { return (uint8_t)(i * 13 + 1); }

static struct blk_backend file_backend(bool ro)
{
	uint8_t buf[DISK_SIZE];
	struct blk_backend be;
	char err[256];

	strcpy(img, "/tmp/mote-vblk-XXXXXX");
	int fd = mkstemp(img);
	if (fd < 0)
		exit(1);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = img_byte(i);
	CHECK_EQ(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	close(fd);
	if (blk_file_open(img, ro, false, &be, err, sizeof(err)) < 0) {
		printf("blk_file_open: %s\n", err);
		exit(1);
	}
	return be;
}

/* The image still holds its original pattern in [off, off + len). */
static bool img_pristine(uint64_t off, size_t len)
{
	uint8_t buf[DISK_SIZE];
	int fd = open(img, O_RDONLY);
	bool ok = fd >= 0 && pread(fd, buf, len, (off_t)off) == (ssize_t)len;

	for (size_t i = 0; ok && i < len; i++)
		ok = buf[i] == img_byte(off + i);
	if (fd >= 0)
		close(fd);
	return ok;
}

static bool img_equals(uint64_t off, const uint8_t *want, size_t len)
{
	uint8_t buf[4096];
	int fd = open(img, O_RDONLY);
	bool ok = fd >= 0 && len <= sizeof(buf) && pread(fd, buf, len, (off_t)off) == (ssize_t)len;

	if (fd >= 0)
		close(fd);
	return ok && memcmp(buf, want, len) == 0;
}

/* ---- the fake driver ---- */

static void fake_irq(void *ctx, unsigned gsi, int level)
{
	(void)ctx;
	(void)gsi;
	if (level)
		irqs++;
}


static void stop(void)
{
	if (!live)
		return;
	virtio_blk_destroy(&blk);
	virtio_dev_destroy(&blk.dev);
	gm_destroy(&gm);
	if (img[0])
		unlink(img);
	img[0] = 0;
	live = false;
}

/* A fresh device on backend be, negotiated (features), DRIVER_OK, queue 0 enabled. */
static void start(struct blk_backend be, uint64_t features, const char *serial)
{
	const struct gm_region r[] = { { .gpa = 0, .size = RAM } };
	const struct irq_line irq = { .set = fake_irq, .gsi = 6 };
	char err[256];

	if (gm_create(&gm, r, 1, err, sizeof(err)) < 0) {
		printf("gm_create: %s\n", err);
		exit(1);
	}
	live = true;
	CHECK_EQ(virtio_blk_init(&blk, &be, serial, err, sizeof(err)), 0);
	CHECK(be.ops == NULL); /* the device took it */
	virtio_dev_init(&blk.dev, virtio_blk_ops_for(&blk), &blk, "virtio-blk0", &gm, &irq);
	blk.dev.driver_features = features;
	blk.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	CHECK_EQ(vq_enable(&blk.dev.vq[0], &gm, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA,
			   virtio_has_feature(&blk.dev, VIRTIO_F_EVENT_IDX),
			   virtio_has_feature(&blk.dev, VIRTIO_F_INDIRECT_DESC)),
		 0);
	drv_avail = drv_next_desc = nreq = 0;
	irqs = 0;
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

static void write_desc(uint64_t table, uint16_t idx, const struct seg *s, uint16_t flags,
		       uint16_t next)
{
	uint8_t d[16];

	flags = (uint16_t)(flags | (s->w ? VQ_DESC_F_WRITE : 0));
	memcpy(d, &s->gpa, 8);
	memcpy(d + 8, &s->len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	CHECK_EQ(gm_write(&gm, table + 16ull * idx, d, 16), 0);
}

static void publish(uint16_t head)
{
	put16(AVAIL_GPA + 4 + 2ull * (drv_avail % QSIZE), head);
	drv_avail++;
	put16(AVAIL_GPA + 2, drv_avail);
}

/* Writes a chain of n descriptors and publishes its head; returns the request number. */
static uint16_t offer(const struct seg *s, int n)
{
	uint16_t head = drv_next_desc;

	for (int i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QSIZE), next = (uint16_t)((idx + 1) % QSIZE);
		write_desc(DESC_GPA, idx, &s[i], i + 1 < n ? VQ_DESC_F_NEXT : 0, next);
	}
	drv_next_desc = (uint16_t)((head + n) % QSIZE);
	heads[nreq] = head;
	publish(head);
	return nreq++;
}

static uint64_t hdr_gpa(uint16_t k) { return HDR_GPA + 32ull * k; }
static uint8_t status_of(uint16_t k) { return *host(ST_GPA + k, 1); }

static void put_hdr(uint64_t gpa, uint32_t type, uint64_t sector)
{
	uint8_t h[16] = { 0 };

	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	CHECK_EQ(gm_write(&gm, gpa, h, 16), 0);
}

/* The usual layout: header | data (device-writable for IN and GET_ID, readable otherwise) |
 * status.
 * The status byte starts as 0xff so a test sees that the device wrote it. */
static uint16_t req(uint32_t type, uint64_t sector, uint64_t data_gpa, uint32_t len)
{
	struct seg s[3];
	int n = 0;
	uint16_t k = nreq;

	put_hdr(hdr_gpa(k), type, sector);
	*host(ST_GPA + k, 1) = 0xff;
	s[n++] = (struct seg){ hdr_gpa(k), 16, false };
	if (len)
		s[n++] = (struct seg){ data_gpa, len,
				       type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID };
	s[n++] = (struct seg){ ST_GPA + k, 1, true };
	return offer(s, n);
}

static void kick(void)
{
	pthread_mutex_lock(&blk.dev.lock);
	blk.dev.ops->notify(&blk.dev, 0);
	pthread_mutex_unlock(&blk.dev.lock);
}

static uint16_t used_idx(void) { return get16(USED_GPA + 2); }
static uint32_t used_id(uint16_t i) { return get32(USED_GPA + 4 + 8ull * (i % QSIZE)); }
static uint32_t used_len(uint16_t i) { return get32(USED_GPA + 8 + 8ull * (i % QSIZE)); }

/* Request k completed as used element k (requests complete in order here). */
static bool done(uint16_t k, uint8_t status, uint32_t len)
{
	bool ok = used_idx() > k && used_id(k) == heads[k] && used_len(k) == len &&
		  status_of(k) == status;

	if (!ok)
		printf("  request %u: used_idx %u id %u len %u status %u (want len %u status %u)\n",
		       k, used_idx(), used_id(k), used_len(k), status_of(k), len, status);
	return ok;
}

static void fill(uint64_t gpa, uint8_t v, size_t len) { memset(host(gpa, len), v, len); }

static bool all(uint64_t gpa, uint8_t v, size_t len)
{
	const uint8_t *p = host(gpa, len);

	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static uint32_t cfg32(uint32_t off)
{
	uint32_t v = 0;

	blk.dev.ops->config_read(&blk.dev, off, (uint8_t *)&v, 4);
	return v;
}

/* ---- tests ---- */

static void config_and_features(void)
{
	uint64_t cap = 0;
	uint16_t nq = 0xffff;

	start(file_backend(false), FEAT_BASE, NULL);
	CHECK(blk.dev.ops == &virtio_blk_ops);
	blk.dev.ops->config_read(&blk.dev, 0, (uint8_t *)&cap, 8);
	CHECK_EQ(cap, (uint64_t)DISK_SIZE / 512);
	CHECK_EQ(cfg32(12), (uint32_t)VIRTIO_BLK_SEG_MAX);
	CHECK_EQ(cfg32(20), 512u);
	blk.dev.ops->config_read(&blk.dev, 34, (uint8_t *)&nq, 2);
	CHECK_EQ(nq, 0);
	/* Bounded even past the end (the transport checks too). */
	CHECK_EQ(cfg32(34), 0u);
	CHECK_EQ(cfg32(1000), 0u);
	uint64_t f = virtio_blk_ops.features;
	CHECK_EQ(virtio_blk_ops.device_id, 2u);
	CHECK_EQ(virtio_blk_ops.num_queues, 1);
	CHECK_EQ(virtio_blk_ops.queue_max_size, 256);
	CHECK_EQ(virtio_blk_ops.config_size, 36u);
	CHECK(f & (1ull << VIRTIO_F_VERSION_1) && f & (1ull << VIRTIO_F_EVENT_IDX));
	CHECK(f & (1ull << VIRTIO_F_INDIRECT_DESC));
	CHECK(f & (1ull << 2) && f & (1ull << 6) && f & (1ull << 9)); /* SEG_MAX BLK_SIZE FLUSH */
	CHECK(!(f & (1ull << 5)));
	CHECK_EQ(virtio_blk_ro_ops.features, f | (1ull << 5)); /* RO */
	stop();
}

static void init_refusals(void)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	struct blk_backend be = fake_backend(false);
	char err[256] = "";

	CHECK(b != NULL);
	if (!b)
		return;
	CHECK_EQ(virtio_blk_init(b, &be, "123456789012345678901", err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "serial");
	CHECK(be.ops == &fk_ops); /* refused: still the caller's */
	be.block_size = 1000;
	CHECK_EQ(virtio_blk_init(b, &be, NULL, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "block size");
	be.block_size = 4096;
	be.size = 2048;
	CHECK_EQ(virtio_blk_init(b, &be, NULL, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "smaller than one");
	struct blk_backend none = { 0 };
	CHECK_EQ(virtio_blk_init(b, &none, NULL, err, sizeof(err)), -1);
	/* A 20-byte serial and a 4 KiB block size are fine; the tail sector rounds down. */
	be.size = 8192 + 100;
	CHECK_EQ(virtio_blk_init(b, &be, "12345678901234567890", err, sizeof(err)), 0);
	CHECK_EQ(b->capacity, 16u);
	CHECK_EQ(b->cfg.blk_size, 4096u);
	virtio_blk_destroy(b);
	virtio_blk_destroy(b); /* idempotent */
	free(b);
}

static void write_then_read(void)
{
	uint8_t pattern[1024];

	start(file_backend(false), FEAT_BASE, NULL);
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i ^ 0x5a);
	memcpy(host(DATA_GPA, sizeof(pattern)), pattern, sizeof(pattern));
	uint16_t w = req(VIRTIO_BLK_T_OUT, 3, DATA_GPA, 1024);
	kick();
	CHECK(done(w, VIRTIO_BLK_S_OK, 1));
	CHECK(img_equals(3 * 512, pattern, sizeof(pattern)));
	CHECK(img_pristine(0, 3 * 512));
	CHECK(img_pristine(5 * 512, DISK_SIZE - 5 * 512));
	fill(DATA_GPA + 0x2000, 0, 1024);
	uint16_t r = req(VIRTIO_BLK_T_IN, 3, DATA_GPA + 0x2000, 1024);
	kick();
	CHECK(done(r, VIRTIO_BLK_S_OK, 1025));
	CHECK(memcmp(host(DATA_GPA + 0x2000, 1024), pattern, 1024) == 0);
	/* A read of untouched sectors returns the image. */
	uint16_t r2 = req(VIRTIO_BLK_T_IN, 127, DATA_GPA + 0x3000, 512);
	kick();
	CHECK(done(r2, VIRTIO_BLK_S_OK, 513));
	CHECK_EQ(*host(DATA_GPA + 0x3000, 1), img_byte(127 * 512));
	CHECK_EQ(atomic_load(&blk.requests), 3ul);
	CHECK_EQ(atomic_load(&blk.written_bytes), 1024ul);
	CHECK_EQ(atomic_load(&blk.read_bytes), 1536ul);
	CHECK_EQ(atomic_load(&blk.dev.bytes_out), 1024ul);
	CHECK_EQ(atomic_load(&blk.dev.bytes_in), 1536ul);
	CHECK_EQ(atomic_load(&blk.dev.requests), 3ul);
	CHECK_EQ(atomic_load(&blk.dev.io_errors), 0ul);
	CHECK_EQ(atomic_load(&blk.errors), 0ul);
	CHECK(irqs >= 1);
	CHECK(virtio_dev_running(&blk.dev));
	stop();
}

static void flush_and_write_through(void)
{
	/* FLUSH negotiated: writes are write-back until a FLUSH, which reaches the backend
	 * after the writes before it. */
	start(fake_backend(false), FEAT_BASE, NULL);
	fill(DATA_GPA, 0x42, 512);
	uint16_t a = req(VIRTIO_BLK_T_OUT, 0, DATA_GPA, 512);
	uint16_t f = req(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	kick();
	CHECK(done(a, VIRTIO_BLK_S_OK, 1));
	CHECK(done(f, VIRTIO_BLK_S_OK, 1));
	CHECK(strcmp(fk.log, "WF") == 0);
	CHECK_EQ(fk.disk[0], 0x42);
	CHECK_EQ(atomic_load(&blk.flushes), 1ul);
	stop();
	/* FLUSH offered but not negotiated: every write is made stable before it completes. */
	start(fake_backend(false), 1ull << VIRTIO_F_VERSION_1, NULL);
	a = req(VIRTIO_BLK_T_OUT, 1, DATA_GPA, 512);
	kick();
	CHECK(done(a, VIRTIO_BLK_S_OK, 1));
	CHECK(strcmp(fk.log, "WF") == 0);
	stop();
	/* The real file backend: flush is fdatasync and succeeds. */
	start(file_backend(false), FEAT_BASE, NULL);
	f = req(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	kick();
	CHECK(done(f, VIRTIO_BLK_S_OK, 1));
	stop();
}

static void get_id(void)
{
	start(fake_backend(false), FEAT_BASE, "mote-disk-1");
	fill(DATA_GPA, 0xaa, 64);
	uint16_t a = req(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 20);
	kick();
	CHECK(done(a, VIRTIO_BLK_S_OK, 21));
	CHECK(memcmp(host(DATA_GPA, 11), "mote-disk-1", 11) == 0);
	CHECK(all(DATA_GPA + 11, 0, 9));
	/* A short buffer gets the start; a long one the 20 bytes and zeros after them. */
	fill(DATA_GPA + 0x1000, 0xaa, 64);
	uint16_t b = req(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA + 0x1000, 8);
	kick();
	CHECK(done(b, VIRTIO_BLK_S_OK, 9));
	CHECK(memcmp(host(DATA_GPA + 0x1000, 8), "mote-dis", 8) == 0);
	fill(DATA_GPA + 0x2000, 0xaa, 64);
	uint16_t c = req(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA + 0x2000, 32);
	kick();
	CHECK(done(c, VIRTIO_BLK_S_OK, 33));
	CHECK(all(DATA_GPA + 0x2000 + 11, 0, 21));
	CHECK(all(DATA_GPA + 0x2000 + 32, 0xaa, 32 - 1)); /* the status byte is elsewhere */
	CHECK_EQ(fk.reads + fk.writes + fk.flushes, 0);
	stop();
	/* No serial: all zeros. */
	start(fake_backend(false), FEAT_BASE, NULL);
	fill(DATA_GPA, 0xaa, 20);
	a = req(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 20);
	kick();
	CHECK(done(a, VIRTIO_BLK_S_OK, 21));
	CHECK(all(DATA_GPA, 0, 20));
	stop();
}

static void unsupported_types(void)
{
	start(fake_backend(false), FEAT_BASE, NULL);
	uint16_t a = req(11, 0, 0, 0);          /* DISCARD: not offered */
	uint16_t b = req(13, 0, DATA_GPA, 16);  /* WRITE_ZEROES, with a readable payload */
	uint16_t c = req(0x80000000u, 0, 0, 0);
	kick();
	CHECK(done(a, VIRTIO_BLK_S_UNSUPP, 1));
	CHECK(done(b, VIRTIO_BLK_S_UNSUPP, 1));
	CHECK(done(c, VIRTIO_BLK_S_UNSUPP, 1));
	CHECK_EQ(atomic_load(&blk.errors), 3ul);
	CHECK_EQ(fk.reads + fk.writes + fk.flushes, 0);
	CHECK(virtio_dev_running(&blk.dev));
	stop();
}

static void out_of_range(void)
{
	start(file_backend(false), FEAT_BASE, NULL);
	fill(DATA_GPA, 0xaa, 1024);
	uint16_t a = req(VIRTIO_BLK_T_IN, 127, DATA_GPA, 1024); /* one sector past the end */
	uint16_t b = req(VIRTIO_BLK_T_IN, 128, DATA_GPA + 0x1000, 512);
	uint16_t c = req(VIRTIO_BLK_T_IN, 128, 0, 0);            /* empty, at the end: fine */
	uint16_t d = req(VIRTIO_BLK_T_IN, UINT64_MAX, DATA_GPA + 0x2000, 512);
	kick();
	CHECK(done(a, VIRTIO_BLK_S_IOERR, 1025));
	CHECK(all(DATA_GPA, 0, 1024)); /* used.len covers it: zeroed, not stale */
	CHECK(done(b, VIRTIO_BLK_S_IOERR, 513));
	CHECK(done(c, VIRTIO_BLK_S_OK, 1));
	CHECK(done(d, VIRTIO_BLK_S_IOERR, 513));
	/* Writes whose sector * 512 or sector + count would wrap around. */
	fill(DATA_GPA + 0x3000, 0xcc, 1024);
	uint16_t e = req(VIRTIO_BLK_T_OUT, UINT64_MAX, DATA_GPA + 0x3000, 512);
	uint16_t f = req(VIRTIO_BLK_T_OUT, UINT64_MAX / 512 + 1, DATA_GPA + 0x3000, 512);
	uint16_t g = req(VIRTIO_BLK_T_OUT, UINT64_MAX - 1, DATA_GPA + 0x3000, 1024);
	uint16_t h = req(VIRTIO_BLK_T_OUT, (1ull << 55), DATA_GPA + 0x3000, 512);
	kick();
	CHECK(done(e, VIRTIO_BLK_S_IOERR, 1));
	CHECK(done(f, VIRTIO_BLK_S_IOERR, 1));
	CHECK(done(g, VIRTIO_BLK_S_IOERR, 1));
	CHECK(done(h, VIRTIO_BLK_S_IOERR, 1));
	CHECK(img_pristine(0, DISK_SIZE));
	CHECK_EQ(atomic_load(&blk.errors), 7ul);
	stop();
}

static void bad_lengths(void)
{
	start(file_backend(false), FEAT_BASE, NULL);
	fill(DATA_GPA, 0xaa, 1024);
	uint16_t a = req(VIRTIO_BLK_T_IN, 0, DATA_GPA, 1000);
	uint16_t b = req(VIRTIO_BLK_T_OUT, 0, DATA_GPA, 513);
	uint16_t c = req(VIRTIO_BLK_T_OUT, 0, DATA_GPA, 1);
	kick();
	CHECK(done(a, VIRTIO_BLK_S_IOERR, 1001));
	CHECK(done(b, VIRTIO_BLK_S_IOERR, 1));
	CHECK(done(c, VIRTIO_BLK_S_IOERR, 1));
	CHECK(img_pristine(0, DISK_SIZE));
	stop();
}

static void read_only_disk(void)
{
	start(file_backend(true), FEAT_BASE, NULL);
	CHECK(blk.dev.ops == &virtio_blk_ro_ops);
	fill(DATA_GPA, 0xcc, 512);
	uint16_t w = req(VIRTIO_BLK_T_OUT, 0, DATA_GPA, 512);
	uint16_t f = req(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	uint16_t r = req(VIRTIO_BLK_T_IN, 1, DATA_GPA + 0x1000, 512);
	kick();
	CHECK(done(w, VIRTIO_BLK_S_IOERR, 1));
	CHECK(done(f, VIRTIO_BLK_S_OK, 1));
	CHECK(done(r, VIRTIO_BLK_S_OK, 513));
	CHECK_EQ(*host(DATA_GPA + 0x1000, 1), img_byte(512));
	CHECK(img_pristine(0, DISK_SIZE));
	stop();
	/* The device refuses writes itself, whatever the backend would do. */
	start(fake_backend(true), FEAT_BASE, NULL);
	w = req(VIRTIO_BLK_T_OUT, 0, DATA_GPA, 512);
	kick();
	CHECK(done(w, VIRTIO_BLK_S_IOERR, 1));
	CHECK_EQ(fk.writes, 0);
	stop();
}

/* After a failure: NEEDS_RESET, counted, a config interrupt, nothing used, and later
 * requests ignored. */
static void expect_failed(void)
{
	CHECK(blk.dev.status & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(!virtio_dev_running(&blk.dev));
	CHECK_EQ(atomic_load(&blk.dev.guest_errors), 1ul);
	CHECK(atomic_load(&blk.dev.isr) & VIRTIO_ISR_CONFIG);
	CHECK_EQ(used_idx(), 0);
	fill(DATA_GPA + 0x8000, 0x77, 512);
	req(VIRTIO_BLK_T_OUT, 0, DATA_GPA + 0x8000, 512);
	kick();
	CHECK_EQ(used_idx(), 0);
	CHECK_EQ(fk.writes, 0);
}

static void malformed_chains(void)
{
	/* A header shorter than 16 bytes. */
	start(fake_backend(false), FEAT_BASE, NULL);
	const struct seg short_hdr[] = { { HDR_GPA, 8, false }, { ST_GPA, 1, true } };
	offer(short_hdr, 2);
	kick();
	expect_failed();
	stop();
	/* 15 header bytes over two descriptors. */
	start(fake_backend(false), FEAT_BASE, NULL);
	const struct seg hdr15[] = { { HDR_GPA, 10, false }, { HDR_GPA + 10, 5, false },
				     { ST_GPA, 1, true } };
	offer(hdr15, 3);
	kick();
	expect_failed();
	stop();
	/* No device-writable byte at all: nowhere to put a status. */
	start(fake_backend(false), FEAT_BASE, NULL);
	put_hdr(HDR_GPA, VIRTIO_BLK_T_FLUSH, 0);
	const struct seg no_status[] = { { HDR_GPA, 16, false } };
	offer(no_status, 1);
	kick();
	expect_failed();
	CHECK_EQ(fk.flushes, 0);
	stop();
	/* Only writable buffers: no header. */
	start(fake_backend(false), FEAT_BASE, NULL);
	const struct seg only_w[] = { { DATA_GPA, 512, true }, { ST_GPA, 1, true } };
	offer(only_w, 2);
	kick();
	expect_failed();
	stop();
	/* A ring error (next index out of range) fails the device the same way. */
	start(fake_backend(false), FEAT_BASE, NULL);
	put_hdr(HDR_GPA, VIRTIO_BLK_T_FLUSH, 0);
	write_desc(DESC_GPA, 0, &(struct seg){ HDR_GPA, 16, false }, VQ_DESC_F_NEXT, QSIZE + 1);
	publish(0);
	drv_next_desc = 1;
	kick();
	expect_failed();
	stop();
}

static void backend_errors(void)
{
	start(fake_backend(false), FEAT_BASE, NULL);
	fk.read_err = -EIO;
	fk.write_err = -ENOSPC;
	fk.flush_err = -EIO;
	fill(DATA_GPA, 0xaa, 512);
	uint16_t r = req(VIRTIO_BLK_T_IN, 0, DATA_GPA, 512);
	uint16_t w = req(VIRTIO_BLK_T_OUT, 0, DATA_GPA + 0x1000, 512);
	uint16_t f = req(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	kick();
	CHECK(done(r, VIRTIO_BLK_S_IOERR, 513));
	CHECK(all(DATA_GPA, 0, 512));
	CHECK(done(w, VIRTIO_BLK_S_IOERR, 1));
	CHECK(done(f, VIRTIO_BLK_S_IOERR, 1));
	CHECK_EQ(atomic_load(&blk.errors), 3ul);
	CHECK(virtio_dev_running(&blk.dev)); /* a host error is not the guest's fault */
	/* The disk recovers: the next requests succeed. */
	fk.read_err = fk.write_err = fk.flush_err = 0;
	uint16_t w2 = req(VIRTIO_BLK_T_OUT, 2, DATA_GPA + 0x1000, 512);
	kick();
	CHECK(done(w2, VIRTIO_BLK_S_OK, 1));
	stop();
}

/* Lays bytes src[0..sum(lens)) into n segments, each on its own page at an odd offset. */
static void scatter(const uint8_t *src, const uint32_t *lens, int n, uint64_t base, bool w,
		    struct seg *out)
{
	for (int i = 0; i < n; i++) {
		uint64_t gpa = base + 0x1000ull * (uint64_t)i + 3;
		if (src) {
			memcpy(host(gpa, lens[i]), src, lens[i]);
			src += lens[i];
		} else {
			fill(gpa, 0xaa, lens[i]);
		}
		out[i] = (struct seg){ gpa, lens[i], w };
	}
}

static void gather(const struct seg *s, int n, uint8_t *dst)
{
	for (int i = 0; i < n; i++) {
		memcpy(dst, host(s[i].gpa, s[i].len), s[i].len);
		dst += s[i].len;
	}
}

static void odd_segment_boundaries(void)
{
	uint8_t rd[16 + 1024], back[1024 + 1];
	struct seg s[8];

	start(file_backend(false), FEAT_BASE, NULL);
	/* OUT: the header split 10 + 6 where the 6 share a buffer with the first 7 data bytes;
	 * then 500, 5 and 512 bytes; the status alone. */
	put_hdr(HDR_GPA, VIRTIO_BLK_T_OUT, 10);
	CHECK_EQ(gm_read(&gm, HDR_GPA, rd, 16), 0);
	for (size_t i = 16; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(i * 31 + 7);
	const uint32_t out_lens[] = { 10, 13, 500, 5, 512 };
	scatter(rd, out_lens, 5, SEG_GPA, false, s);
	s[5] = (struct seg){ ST_GPA, 1, true };
	*host(ST_GPA, 1) = 0xff;
	uint16_t w = offer(s, 6);
	kick();
	CHECK(done(w, VIRTIO_BLK_S_OK, 1));
	CHECK(img_equals(10 * 512, rd + 16, 1024));
	/* IN: 3, 1000 and 22 writable bytes: the status is the last byte of the last one. */
	put_hdr(HDR_GPA + 32, VIRTIO_BLK_T_IN, 10);
	s[0] = (struct seg){ HDR_GPA + 32, 16, false };
	const uint32_t in_lens[] = { 3, 1000, 22 };
	scatter(NULL, in_lens, 3, SEG_GPA + 0x10000, true, s + 1);
	uint16_t r = offer(s, 4);
	kick();
	CHECK(used_idx() == 2 && used_id(1) == heads[r] && used_len(1) == 1025);
	gather(s + 1, 3, back);
	CHECK(memcmp(back, rd + 16, 1024) == 0);
	CHECK_EQ(back[1024], VIRTIO_BLK_S_OK);
	/* IN with the status sharing a buffer with data, and extra readable bytes ignored. */
	put_hdr(HDR_GPA + 64, VIRTIO_BLK_T_IN, 10);
	s[0] = (struct seg){ HDR_GPA + 64, 24, false };
	const uint32_t in2[] = { 513, 512 };
	scatter(NULL, in2, 2, SEG_GPA + 0x20000, true, s + 1);
	uint16_t r2 = offer(s, 3);
	kick();
	CHECK(used_idx() == 3 && used_id(2) == heads[r2] && used_len(2) == 1025);
	gather(s + 1, 2, back);
	CHECK(memcmp(back, rd + 16, 1024) == 0);
	CHECK_EQ(back[1024], VIRTIO_BLK_S_OK);
	stop();
}

static void indirect_request(void)
{
	start(file_backend(false), FEAT_BASE | (1ull << VIRTIO_F_INDIRECT_DESC), NULL);
	put_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 4);
	*host(ST_GPA, 1) = 0xff;
	const struct seg t[] = { { HDR_GPA, 16, false }, { DATA_GPA, 512, true },
				 { ST_GPA, 1, true } };
	for (uint16_t i = 0; i < 3; i++)
		write_desc(IND_GPA, i, &t[i], i < 2 ? VQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	write_desc(DESC_GPA, 0, &(struct seg){ IND_GPA, 48, false }, VQ_DESC_F_INDIRECT, 0);
	heads[0] = 0;
	nreq = 1;
	publish(0);
	kick();
	CHECK(done(0, VIRTIO_BLK_S_OK, 513));
	CHECK_EQ(*host(DATA_GPA + 5, 1), img_byte(4 * 512 + 5));
	stop();
}

static void batch_one_interrupt(void)
{
	start(fake_backend(false), FEAT_BASE | (1ull << VIRTIO_F_EVENT_IDX), "b");
	uint16_t a = req(VIRTIO_BLK_T_IN, 0, DATA_GPA, 512);
	uint16_t b = req(VIRTIO_BLK_T_OUT, 1, DATA_GPA + 0x1000, 1024);
	uint16_t c = req(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA + 0x2000, 20);
	kick();
	CHECK(done(a, VIRTIO_BLK_S_OK, 513));
	CHECK(done(b, VIRTIO_BLK_S_OK, 1));
	CHECK(done(c, VIRTIO_BLK_S_OK, 21));
	CHECK_EQ(irqs, 1);
	CHECK_EQ(get16(USED_GPA + 4 + 8ull * QSIZE), 3); /* avail_event: kick me at the next */
	/* used_event left at 0 by the driver: no interrupt for the next batch (2.7.10). */
	uint16_t d = req(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	kick();
	CHECK(done(d, VIRTIO_BLK_S_OK, 1));
	CHECK_EQ(irqs, 1);
	stop();
}


static void complete_batch(void)
{
	pthread_mutex_lock(&blk.dev.lock);
	virtio_blk_complete(&blk);
	pthread_mutex_unlock(&blk.dev.lock);
}

/* Three reads in flight at once, finishing in the order 2, 0, then 1 (with an error): used
 * elements appear in completion order, one interrupt per completion batch. */
static void async_out_of_order(void)
{
	start(async_backend(), FEAT_BASE, "oo");
	uint16_t k[3];
	for (int i = 0; i < 3; i++) {
		fill(DATA_GPA + 0x1000ull * i, 0xee, 512);
		/* Not contiguous: three backend requests, not one merged. */
		k[i] = req(VIRTIO_BLK_T_IN, 4ull * i + 1, DATA_GPA + 0x1000ull * i, 512);
	}
	uint16_t id = req(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA + 0x8000, 20);
	kick();
	/* All three submitted with one kick; GET_ID answered at once; one interrupt. */
	CHECK_EQ(fa.n, 3);
	CHECK_EQ(fa.kicks, 1);
	CHECK_EQ(blk.in_backend, 3u);
	CHECK_EQ(used_idx(), 1);
	CHECK_EQ(used_id(0), heads[id]);
	CHECK_EQ(irqs, 1);
	CHECK_EQ(status_of(k[0]), 0xff);
	fa_finish(2, 0);
	fa_finish(0, 0);
	complete_batch();
	CHECK_EQ(used_idx(), 3);
	CHECK_EQ(used_id(1), heads[k[2]]);
	CHECK_EQ(used_id(2), heads[k[0]]);
	CHECK_EQ(used_len(1), 513u);
	CHECK_EQ(status_of(k[2]), VIRTIO_BLK_S_OK);
	CHECK_EQ(status_of(k[0]), VIRTIO_BLK_S_OK);
	CHECK_EQ(status_of(k[1]), 0xff); /* still in flight: untouched */
	CHECK_EQ(*host(DATA_GPA + 0x2000, 1), (uint8_t)(9 * 512 * 3));
	CHECK_EQ(*host(DATA_GPA, 1), (uint8_t)(512 * 3));
	CHECK_EQ(irqs, 2);
	fa_finish(1, -EIO);
	complete_batch();
	CHECK_EQ(used_idx(), 4);
	CHECK_EQ(used_id(3), heads[k[1]]);
	CHECK_EQ(status_of(k[1]), VIRTIO_BLK_S_IOERR);
	CHECK(all(DATA_GPA + 0x1000, 0, 512)); /* a failed read hands back zeros, not stale data */
	CHECK_EQ(irqs, 3);
	/* Nothing left: a stray wake-up pushes nothing. */
	complete_batch();
	CHECK_EQ(used_idx(), 4);
	CHECK_EQ(irqs, 3);
	CHECK_EQ(blk.in_backend, 0u);
	CHECK_EQ(blk.nfree, (unsigned)VIRTIO_BLK_QUEUE_SIZE);
	CHECK_EQ(atomic_load(&blk.dev.requests), 4ul);
	CHECK_EQ(atomic_load(&blk.dev.bytes_in), 2ul * 512 + 20);
	CHECK_EQ(atomic_load(&blk.dev.io_errors), 1ul);
	CHECK(virtio_dev_running(&blk.dev));
	stop();
}

/* Contiguous requests popped together go to the backend as one; when that fails, each is
 * retried alone and only the one that fails alone gets IOERR. */
static void async_merge(void)
{
	start(async_backend(), FEAT_BASE, NULL);
	uint16_t k[3];
	for (int i = 0; i < 3; i++)
		k[i] = req(VIRTIO_BLK_T_IN, 10ull + i, DATA_GPA + 0x1000ull * i, 512);
	uint16_t w = req(VIRTIO_BLK_T_OUT, 13, DATA_GPA + 0x4000, 512); /* another op: not merged */
	kick();
	CHECK_EQ(fa.n, 2);
	CHECK_EQ(fa.io[0].op, BLK_OP_READ);
	CHECK_EQ(fa.io[0].off, 10u * 512);
	CHECK_EQ(fa.io[0].iovcnt, 3);
	CHECK_EQ(fa.io[1].op, BLK_OP_WRITE);
	fa_finish(0, 0);
	fa_finish(1, 0);
	complete_batch();
	CHECK_EQ(used_idx(), 4);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(status_of(k[i]), VIRTIO_BLK_S_OK);
		CHECK_EQ(*host(DATA_GPA + 0x1000ull * i, 1), (uint8_t)((10 + i) * 512 * 3));
	}
	CHECK_EQ(status_of(w), VIRTIO_BLK_S_OK);
	CHECK_EQ(irqs, 1);
	/* The merged read fails: three single reads follow; only the middle one fails again. */
	for (int i = 0; i < 3; i++)
		k[i] = req(VIRTIO_BLK_T_IN, 20ull + i, DATA_GPA + 0x1000ull * i, 512);
	kick();
	CHECK_EQ(fa.n, 3);
	fa_finish(2, -EIO);
	complete_batch();
	CHECK_EQ(fa.n, 6);
	CHECK_EQ(used_idx(), 4);
	fa_finish(4, -EIO);
	fa_finish(3, 0);
	fa_finish(5, 0);
	complete_batch();
	CHECK_EQ(used_idx(), 7);
	CHECK_EQ(status_of(k[0]), VIRTIO_BLK_S_OK);
	CHECK_EQ(status_of(k[1]), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(status_of(k[2]), VIRTIO_BLK_S_OK);
	CHECK_EQ(*host(DATA_GPA + 0x2000, 1), (uint8_t)(22 * 512 * 3));
	/* A flush popped after writes reaches the backend after them (and after their group). */
	req(VIRTIO_BLK_T_OUT, 30, DATA_GPA, 512);
	req(VIRTIO_BLK_T_OUT, 31, DATA_GPA + 0x1000, 512);
	req(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	kick();
	CHECK_EQ(fa.n, 8);
	CHECK_EQ(fa.io[6].op, BLK_OP_WRITE);
	CHECK_EQ(fa.io[6].iovcnt, 2);
	CHECK_EQ(fa.io[7].op, BLK_OP_FLUSH);
	fa_finish(6, 0);
	fa_finish(7, 0);
	complete_batch();
	CHECK_EQ(used_idx(), 10);
	CHECK_EQ(blk.in_backend, 0u);
	CHECK_EQ(blk.in_backend, 0u);
	CHECK_EQ(blk.nfree, (unsigned)VIRTIO_BLK_QUEUE_SIZE);
	stop();
}

/* FLUSH not negotiated: an asynchronous write completes only after a flush after it; a
 * refused submit is an IOERR answer, not a lost request. */
static void async_write_through_and_refusal(void)
{
	start(async_backend(), 1ull << VIRTIO_F_VERSION_1, NULL);
	fill(DATA_GPA, 0x42, 512);
	uint16_t w = req(VIRTIO_BLK_T_OUT, 4, DATA_GPA, 512);
	kick();
	CHECK_EQ(fa.n, 1);
	fa_finish(0, 0);
	complete_batch();
	CHECK_EQ(used_idx(), 0); /* written, not yet stable */
	CHECK_EQ(fa.n, 2);
	CHECK_EQ(fa.io[1].op, BLK_OP_FLUSH);
	fa_finish(1, 0);
	complete_batch();
	CHECK(done(w, VIRTIO_BLK_S_OK, 1));
	CHECK(strcmp(fk.log, "WF") == 0);
	CHECK_EQ(fk.disk[4 * 512], 0x42);
	fa.submit_err = -ENOMEM;
	uint16_t r = req(VIRTIO_BLK_T_IN, 0, DATA_GPA, 512);
	kick();
	CHECK(done(r, VIRTIO_BLK_S_IOERR, 513));
	CHECK_EQ(blk.in_backend, 0u);
	stop();
}

/* The driver resets the device (or disables the queue) while requests are in flight: the
 * reset waits for them, and neither the used ring nor the status bytes are written. */
static void reset_with_requests_in_flight(void)
{
	for (int queue_only = 0; queue_only < 2; queue_only++) {
		start(async_backend(), FEAT_BASE, NULL);
		fill(DATA_GPA, 0x17, 1024);
		uint16_t a = req(VIRTIO_BLK_T_OUT, 8, DATA_GPA, 1024);
		uint16_t b = req(VIRTIO_BLK_T_IN, 0, DATA_GPA + 0x1000, 512);
		uint16_t f = req(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
		kick();
		CHECK_EQ(blk.in_backend, 3u);
		fa_finish(1, 0); /* finished, but not yet reaped, at the reset */
		pthread_mutex_lock(&blk.dev.lock);
		if (queue_only)
			blk.dev.ops->queue_reset(&blk.dev, 0);
		else
			blk.dev.ops->reset(&blk.dev);
		pthread_mutex_unlock(&blk.dev.lock);
		CHECK_EQ(fa.pending[0] || fa.pending[2], false); /* waited for */
		CHECK_EQ(blk.in_backend, 0u);
		CHECK_EQ(blk.nfree, (unsigned)VIRTIO_BLK_QUEUE_SIZE);
		CHECK_EQ(used_idx(), 0);
		CHECK_EQ(status_of(a), 0xff);
		CHECK_EQ(status_of(b), 0xff);
		CHECK_EQ(status_of(f), 0xff);
		/* A late wake-up after the reset finds nothing to push. */
		complete_batch();
		CHECK_EQ(used_idx(), 0);
		stop();
	}
}

static void iov_slice(void)
{
	uint8_t a[10], b[20], c[30];
	const struct vq_iov v[] = { { a, 10 }, { b, 20 }, { c, 30 } };
	struct iovec out[4];

	CHECK_EQ(virtio_blk_iov_slice(v, 3, 5, 30, out, 4), 3);
	CHECK(out[0].iov_base == a + 5 && out[0].iov_len == 5);
	CHECK(out[1].iov_base == b && out[1].iov_len == 20);
	CHECK(out[2].iov_base == c && out[2].iov_len == 5);
	CHECK_EQ(virtio_blk_iov_slice(v, 3, 10, 20, out, 4), 1);
	CHECK(out[0].iov_base == b && out[0].iov_len == 20);
	CHECK_EQ(virtio_blk_iov_slice(v, 3, 29, 2, out, 4), 2);
	CHECK(out[0].iov_base == b + 19 && out[0].iov_len == 1);
	CHECK(out[1].iov_base == c && out[1].iov_len == 1);
	CHECK_EQ(virtio_blk_iov_slice(v, 3, 0, 60, out, 4), 3);
	CHECK_EQ(virtio_blk_iov_slice(v, 3, 59, 1, out, 4), 1);
	CHECK(out[0].iov_base == c + 29 && out[0].iov_len == 1);
	/* Too short, or too many pieces for out: refused. */
	CHECK_EQ(virtio_blk_iov_slice(v, 3, 0, 61, out, 4), -1);
	CHECK_EQ(virtio_blk_iov_slice(v, 3, 60, 1, out, 4), -1);
	CHECK_EQ(virtio_blk_iov_slice(v, 3, UINT64_MAX, 1, out, 4), -1);
	CHECK_EQ(virtio_blk_iov_slice(v, 3, 0, UINT64_MAX, out, 4), -1);
	CHECK_EQ(virtio_blk_iov_slice(v, 3, 0, 60, out, 2), -1);
	/* Nothing to slice: zero iovecs. */
	CHECK_EQ(virtio_blk_iov_slice(v, 3, 60, 0, out, 4), 0);
	CHECK_EQ(virtio_blk_iov_slice(v, 0, 0, 0, out, 0), 0);
}

/* PATCH /drives with requests in flight (virtio_blk_swap_backend): they are waited for and
 * answered first, whatever happens to the swap; a backend that cannot change its file (this
 * fake asynchronous one; io_uring can) refuses and stays. */
static void swap_drains_requests_in_flight(void)
{
	start(async_backend(), FEAT_BASE, NULL);
	uint16_t k0 = req(VIRTIO_BLK_T_IN, 1, DATA_GPA, 512);
	uint16_t k1 = req(VIRTIO_BLK_T_IN, 9, DATA_GPA + 0x1000, 512);
	kick();
	CHECK_EQ(blk.in_backend, 2u);
	CHECK_EQ(status_of(k0), 0xff);
	struct blk_backend nb = { .ops = &fk_ops, .be = &fk, .size = DISK_SIZE, .block_size = 512,
				  .completion_fd = -1 };
	char err[160];
	CHECK_EQ(virtio_blk_swap_backend(&blk, &nb, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "cannot change its file");
	CHECK_EQ(blk.in_backend, 0u);
	CHECK_EQ(used_idx(), 2);
	CHECK_EQ(status_of(k0), VIRTIO_BLK_S_OK);
	CHECK_EQ(status_of(k1), VIRTIO_BLK_S_OK);
	CHECK_EQ(*host(DATA_GPA, 1), (uint8_t)(512 * 3));
	CHECK(blk.be.ops == &fa_ops && nb.ops == &fk_ops); /* both as they were */
	CHECK_EQ(atomic_load(&blk.reads), 2u);
	stop();
}

/* ---- the rate limiter (a fake clock and timer) ---- */

static uint64_t fake_ns;
static uint64_t fake_clock(void) { return fake_ns; }
static uint64_t timer_at;
static int timer_arms;
static void fake_arm(void *ctx, uint64_t at)
{
	(void)ctx;
	timer_at = at;
	timer_arms++;
}

static void fire(void)
{
	fake_ns = timer_at;
	virtio_blk_on_timer(&blk);
}

/* bandwidth 1024 bytes per 100 ms, one 512-byte burst; ops 3 per second: requests beyond the
 * tokens stay in the ring (not popped, not answered) until the timer fires; a PATCH lifts
 * the limit at once; reset forgets the throttled state. */
static void rate_limited(void)
{
	start(fake_backend(false), FEAT_BASE, "rl");
	fake_ns = 1000000000ull;
	blk.clock = fake_clock;
	blk.rl_timer = (struct rl_timer){.arm = fake_arm};
	timer_arms = 0;
	virtio_blk_ratelimit_init(&blk, &(struct rl_config){{1024, 512, 100}, {0, 0, 0}});
	uint16_t k[6];
	for (int i = 0; i < 4; i++)
		k[i] = req(VIRTIO_BLK_T_IN, (uint64_t)i, DATA_GPA + 0x1000ull * i, 512);
	kick();
	/* 512 burst + 1024 budget = three 512-byte reads */
	CHECK(done(k[0], VIRTIO_BLK_S_OK, 513) && done(k[1], VIRTIO_BLK_S_OK, 513) &&
	      done(k[2], VIRTIO_BLK_S_OK, 513));
	CHECK_EQ(used_idx(), 3);
	CHECK(blk.throttled);
	CHECK_EQ(timer_arms, 1);
	CHECK_EQ(timer_at, fake_ns + 50000000ull); /* 512 bytes at 10240 B/s: 50 ms */
	CHECK_EQ(atomic_load(&blk.throttled_events), 1);
	CHECK_EQ(fk.reads, 3);
	/* a kick while throttled serves nothing (the chain is still the guest's) */
	kick();
	CHECK_EQ(used_idx(), 3);
	CHECK(blk.throttled);
	/* the timer at its time: the fourth read goes */
	fire();
	CHECK(done(k[3], VIRTIO_BLK_S_OK, 513));
	CHECK(!blk.throttled);
	/* metrics name */
	struct virtio_counter c[4];
	CHECK_EQ(blk.dev.ops->counters(&blk.dev, c, 4), 2);
	CHECK(!strcmp(c[0].name, "bounce_waits") && c[0].value == 0);
	CHECK(!strcmp(c[1].name, "rate_limiter_throttled_events") && c[1].value >= 1);
	/* an ops limit: 3 per second (a full bucket of 3 at the update) */
	virtio_blk_ratelimit_update(&blk, &(struct rl_update){.cfg = {{0, 0, 0}, {3, 0, 1000}},
							     .bw_set = true, .ops_set = true});
	for (int i = 0; i < 5; i++)
		req(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	kick();
	CHECK_EQ(used_idx(), 4 + 3);
	CHECK(blk.throttled);
	CHECK_EQ(timer_at, fake_ns + 333333334ull); /* ceil(1 s / 3) */
	fire();
	CHECK_EQ(used_idx(), 4 + 4);
	/* PATCH lifting the limit while throttled: served at the next notify (the kick the
	 * update sends goes nowhere here: no transport) */
	virtio_blk_ratelimit_update(&blk, &(struct rl_update){.cfg = {{0, 0, 0}, {0, 0, 0}},
							     .ops_set = true});
	struct rl_config got;
	virtio_blk_ratelimit_get(&blk, &got);
	CHECK(!rl_config_enabled(&got));
	kick();
	CHECK_EQ(used_idx(), 4 + 5);
	/* a request larger than the bucket passes on a full bucket, then waits out its debt */
	virtio_blk_ratelimit_update(&blk, &(struct rl_update){.cfg = {{1024, 0, 100}, {0, 0, 0}},
							     .bw_set = true});
	uint16_t big = req(VIRTIO_BLK_T_IN, 0, DATA_GPA, 4096);
	uint16_t after = req(VIRTIO_BLK_T_IN, 8, DATA_GPA + 0x2000, 512);
	kick();
	CHECK(done(big, VIRTIO_BLK_S_OK, 4097));
	CHECK_EQ(used_idx(), 10);
	CHECK(blk.throttled);
	/* the timer still pending from the ops limit (earlier) stays armed: it fires, the device
	 * re-checks and re-arms for the debt: 3072 + 512 bytes at 10240 B/s = 350 ms */
	uint64_t t0 = fake_ns;
	CHECK(timer_at < t0 + 350000000ull);
	fire();
	CHECK_EQ(used_idx(), 10);
	CHECK_EQ(timer_at, t0 + 350000000ull);
	fire();
	CHECK(done(after, VIRTIO_BLK_S_OK, 513));
	/* a reset forgets the throttled state */
	req(VIRTIO_BLK_T_IN, 0, DATA_GPA, 1024);
	req(VIRTIO_BLK_T_IN, 0, DATA_GPA, 1024);
	kick();
	CHECK(blk.throttled);
	pthread_mutex_lock(&blk.dev.lock);
	blk.dev.ops->reset(&blk.dev);
	pthread_mutex_unlock(&blk.dev.lock);
	CHECK(!blk.throttled);
	stop();
}

/* Snapshot quiesce: requests in flight are waited for and answered into the ring (unlike a
 * reset, which forgets them); the device then goes on serving. */
static void async_finish_inflight(void)
{
	start(async_backend(), FEAT_BASE, NULL);
	uint16_t k[3];
	for (int i = 0; i < 3; i++)
		k[i] = req(VIRTIO_BLK_T_IN, 4ull * i + 1, DATA_GPA + 0x1000ull * i, 512);
	kick();
	CHECK_EQ(blk.in_backend, 3u);
	CHECK_EQ(used_idx(), 0);
	fa_finish(1, 0); /* one already done, not yet reaped */
	int before = irqs;
	blk.dev.ops->quiesce(&blk.dev);
	CHECK_EQ(blk.in_backend, 0u);
	CHECK_EQ(used_idx(), 3);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(status_of(k[i]), VIRTIO_BLK_S_OK);
	CHECK_EQ(*host(DATA_GPA + 0x2000, 1), (uint8_t)(9 * 512 * 3));
	CHECK(irqs > before);
	CHECK_EQ(blk.nfree, (unsigned)VIRTIO_BLK_QUEUE_SIZE);
	/* Nothing in flight: a second quiesce changes nothing; the device still serves. */
	virtio_blk_finish_inflight(&blk);
	CHECK_EQ(used_idx(), 3);
	uint16_t w = req(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA + 0x8000, 20);
	kick();
	CHECK_EQ(used_idx(), 4);
	CHECK_EQ(status_of(w), VIRTIO_BLK_S_OK);
	stop();
}

/* Five reads of 2.7 MiB each, every one three overlapping 900 KiB buffers at an odd guest
 * address (the amplification of docs/security.md: a few descriptors, megabytes of bounce
 * memory), on an O_DIRECT io_uring disk: 13.5 MiB against the 8 MiB budget, so some wait.
 * All are answered OK with the disk's bytes, and bounce_waits counts the waits. */
#define BW_SEG (900u * 1024)
#define BW_REQ (3u * BW_SEG)
#define BW_N 5
static void bounce_budget_through_the_device(void)
{
	struct blk_backend be;
	char err[256];

	strcpy(img, "/tmp/mote-vblk-XXXXXX");
	int fd = mkstemp(img);
	if (fd < 0)
		exit(1);
	static uint8_t chunk[BW_REQ];
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = img_byte(i);
	for (int k = 0; k < BW_N; k++)
		CHECK_EQ(pwrite(fd, chunk, sizeof(chunk), (off_t)k * BW_REQ), (ssize_t)sizeof(chunk));
	close(fd);
	if (blk_uring_open(img, true, true, VIRTIO_BLK_QUEUE_SIZE, &be, err, sizeof(err)) < 0) {
		printf("note virtio_blk: O_DIRECT io_uring disk refused here, budget case skipped: "
		       "%s\n", err);
		unlink(img);
		img[0] = 0;
		return;
	}
	start(be, FEAT_BASE, NULL);
	for (int k = 0; k < BW_N; k++) {
		uint16_t n = nreq;
		put_hdr(hdr_gpa(n), VIRTIO_BLK_T_IN, (uint64_t)k * BW_REQ / 512);
		*host(ST_GPA + n, 1) = 0xff;
		struct seg sg[5] = { { hdr_gpa(n), 16, false } };
		for (int i = 1; i <= 3; i++)
			sg[i] = (struct seg){ DATA_GPA + 1, BW_SEG, true };
		sg[4] = (struct seg){ ST_GPA + n, 1, true };
		offer(sg, 5);
	}
	kick();
	int fdc = blk.be.completion_fd;
	for (int spin = 0; spin < 1000 && used_idx() < BW_N; spin++) {
		struct pollfd p = { .fd = fdc, .events = POLLIN };
		if (poll(&p, 1, 10) == 1)
			virtio_blk_on_complete(&blk, fdc); /* as the I/O thread: eventfd read, then reap */
	}
	CHECK_EQ(used_idx(), BW_N);
	for (uint16_t k = 0; k < BW_N; k++)
		CHECK_EQ(status_of(k), VIRTIO_BLK_S_OK);
	/* The buffers overlap: the last segment read of the last request wins, its last third. */
	const uint8_t *g = host(DATA_GPA + 1, BW_SEG);
	CHECK(g && memcmp(g, chunk + 2 * BW_SEG, BW_SEG) == 0);
	struct virtio_counter c[4];
	size_t nc = blk.dev.ops->counters(&blk.dev, c, 4);
	CHECK_EQ(nc, 2);
	CHECK(nc >= 1 && strcmp(c[0].name, "bounce_waits") == 0);
	CHECK(nc >= 1 && c[0].value >= 1 && c[0].value <= BW_N - 1);
	stop();
}

int main(void)
{
	test_suite_name = "virtio_blk";
	log_set_level(LOG_ERROR); /* guest errors and injected disk errors are expected */
	RUN(config_and_features);
	RUN(init_refusals);
	RUN(write_then_read);
	RUN(flush_and_write_through);
	RUN(get_id);
	RUN(unsupported_types);
	RUN(out_of_range);
	RUN(bad_lengths);
	RUN(read_only_disk);
	RUN(malformed_chains);
	RUN(backend_errors);
	RUN(odd_segment_boundaries);
	RUN(indirect_request);
	RUN(batch_one_interrupt);
	RUN(iov_slice);
	RUN(async_out_of_order);
	RUN(async_merge);
	RUN(async_finish_inflight);
	RUN(async_write_through_and_refusal);
	RUN(reset_with_requests_in_flight);
	RUN(swap_drains_requests_in_flight);
	RUN(rate_limited);
	RUN(bounce_budget_through_the_device);
	stop();
	TEST_MAIN_END();
}
