/* libFuzzer target for virtio-blk (src/devices/virtio_blk.c) with requests in flight: guest
 * RAM (rings, headers, buffers) is fuzzer-chosen, the backend is asynchronous (or synchronous)
 * and finishes its requests in a fuzzer-chosen order with fuzzer-chosen errors, and the
 * driver may reset the device while requests are in flight. Checks: the backend only ever
 * sees ranges inside the disk and buffers inside guest RAM (ASan would flag any other host
 * access), nothing is answered after a reset, slots and in-flight counts add up.
 *
 * Header: [0] flags: bit 0 EVENT_IDX, 1 INDIRECT, 2 FLUSH negotiated, 3 read-only disk,
 *             4 reset after the first round, 5 synchronous backend, 6 queue reset instead,
 *             7 a rate limiter (bandwidth and ops from the error seed; a fake clock that
 *             advances 1 ms per round, the limiter's timer firing each round: requests given
 *             back to the ring and taken again under hostile rings);
 *         [1] completion order seed; [2] error seed; [3] rounds (1..8);
 *         [4..] guest RAM from 0: desc at 0x0 (64 entries), avail at 0x400, used at 0x800. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio_blk.h"
#include "fuzz_ram.h"

#define FUZZ_RAM  (128u << 10)
#define FUZZ_HDR  4u
#define QSIZE     64
#define DISK      (64u << 10)
#define PEND_MAX  VIRTIO_BLK_QUEUE_SIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem *gm;
static struct virtio_blk blk;
static bool blk_ready;

static struct {
	uint8_t disk[DISK];
	struct blk_io io[PEND_MAX];
	int n;
	struct blk_completion done[PEND_MAX];
	int ndone;
	uint8_t order, errs;
} fk;

static void must(int cond)
{
	if (!cond)
		abort();
}

/* Every buffer inside guest RAM, the range inside the disk; then the copy. */
static int fk_rw(bool write, uint64_t off, const struct iovec *iov, int n)
{
	uint64_t total = 0;

	for (int i = 0; i < n; i++) {
		const uint8_t *b = iov[i].iov_base;
		must(iov[i].iov_len == 0 ||
		     (b >= gm->base && iov[i].iov_len <= FUZZ_RAM &&
		      (uint64_t)(b - gm->base) <= FUZZ_RAM - iov[i].iov_len));
		total += iov[i].iov_len;
	}
	must(off <= DISK && total <= DISK - off);
	for (int i = 0; i < n; i++) {
		if (write)
			memcpy(fk.disk + off, iov[i].iov_base, iov[i].iov_len);
		else
			memcpy(iov[i].iov_base, fk.disk + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}

static int fk_read(void *be, uint64_t off, const struct iovec *iov, int n)
{
	(void)be;
	return (fk.errs & 1) ? -EIO : fk_rw(false, off, iov, n);
}

static int fk_write(void *be, uint64_t off, const struct iovec *iov, int n)
{
	(void)be;
	return (fk.errs & 2) ? -ENOSPC : fk_rw(true, off, iov, n);
}

static int fk_flush(void *be)
{
	(void)be;
	return (fk.errs & 4) ? -EIO : 0;
}

static void fk_close(void *be) { (void)be; }

static int fk_submit(void *be, const struct blk_io *io)
{
	(void)be;
	if (fk.n == PEND_MAX)
		return -EAGAIN;
	if ((fk.errs & 8) && (fk.n & 7) == 7)
		return -ENOMEM; /* refused now and then */
	fk.io[fk.n++] = *io;
	return 0;
}

static int fk_kick(void *be)
{
	(void)be;
	return 0;
}

/* Finishes pending request i (removes it from the list). */
static void fk_finish(int i)
{
	const struct blk_io *io = &fk.io[i];
	int r;

	if (io->op == BLK_OP_READ)
		r = fk_read(NULL, io->off, io->iov, io->iovcnt);
	else if (io->op == BLK_OP_WRITE)
		r = fk_write(NULL, io->off, io->iov, io->iovcnt);
	else
		r = fk_flush(NULL);
	fk.done[fk.ndone++] = (struct blk_completion){ .cookie = io->cookie, .result = r };
	fk.io[i] = fk.io[--fk.n];
}

static int fk_reap(void *be, struct blk_completion *out, int max, bool wait)
{
	(void)be;
	if (wait)
		while (fk.n > 0 && fk.ndone < PEND_MAX)
			fk_finish(0);
	int n = fk.ndone < max ? fk.ndone : max;
	memcpy(out, fk.done, (size_t)n * sizeof(*out));
	memmove(fk.done, fk.done + n, (size_t)(fk.ndone - n) * sizeof(*out));
	fk.ndone -= n;
	return n;
}

static const struct blk_backend_ops async_ops = {
	.read = fk_read, .write = fk_write, .flush = fk_flush, .close = fk_close,
	.submit = fk_submit, .kick = fk_kick, .reap = fk_reap,
};
static const struct blk_backend_ops sync_ops = {
	.read = fk_read, .write = fk_write, .flush = fk_flush, .close = fk_close,
};

static void fuzz_irq(void *ctx, unsigned gsi, int level)
{
	(void)ctx;
	(void)gsi;
	(void)level;
}

static uint64_t fake_ns;
static uint64_t fake_clock(void) { return fake_ns; }

static void setup(uint8_t flags)
{
	char err[128];
	struct blk_backend be = { .ops = (flags & 0x20) ? &sync_ops : &async_ops, .be = &fk,
				  .size = DISK, .block_size = 512, .read_only = flags & 0x08,
				  .completion_fd = -1, .depth = PEND_MAX };
	if (!blk_ready) { /* once: the slots are 8 MiB */
		must(virtio_blk_init(&blk, &be, "fuzz", err, sizeof(err)) == 0);
		blk_ready = true;
	} else {
		virtio_dev_destroy(&blk.dev);
		blk.be = be;
		blk.last_errno = 0;
		virtio_blk_quiesce(&blk);
	}
	const struct irq_line irq = { .set = fuzz_irq, .gsi = 5 };
	virtio_dev_init(&blk.dev, virtio_blk_ops_for(&blk), &blk, "virtio-blk-fuzz", gm, &irq);
	uint64_t f = (1ull << VIRTIO_F_VERSION_1) | ((flags & 1) ? 1ull << VIRTIO_F_EVENT_IDX : 0) |
		     ((flags & 2) ? 1ull << VIRTIO_F_INDIRECT_DESC : 0) |
		     ((flags & 4) ? 1ull << VIRTIO_BLK_F_FLUSH : 0);
	blk.dev.driver_features = f;
	blk.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	fake_ns = 1000000000ull;
	blk.clock = fake_clock;
	blk.rl_timer = (struct rl_timer){0};
	struct rl_config rl = {{0, 0, 0}, {0, 0, 0}};
	if (flags & 0x80)
		rl = (struct rl_config){{512ull << (fk.errs & 7), fk.errs & 0x18, 1},
					{1 + (fk.errs >> 5), 0, 1}};
	virtio_blk_ratelimit_init(&blk, &rl);
}

/* Finishes some pending requests in a seed-chosen order, then the completion handler. */
static void complete_some(uint8_t *seed)
{
	int k = fk.n ? (*seed % (fk.n + 1)) : 0;
	for (int j = 0; j < k && fk.n > 0; j++) {
		*seed = (uint8_t)(*seed * 37 + 11);
		fk_finish(*seed % fk.n);
	}
	virtio_blk_complete(&blk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < FUZZ_HDR)
		return 0;
	gm = fuzz_ram(FUZZ_RAM, "fuzz_blk");
	memset(gm->base, 0, FUZZ_RAM);
	memcpy(gm->base, data + FUZZ_HDR, size - FUZZ_HDR < FUZZ_RAM ? size - FUZZ_HDR : FUZZ_RAM);
	memset(&fk, 0, sizeof(fk));
	uint8_t flags = data[0], seed = data[1];
	fk.errs = data[2];
	unsigned rounds = 1 + (data[3] & 7);

	setup(flags);
	struct virtio_dev *d = &blk.dev;
	if (vq_enable(&d->vq[0], gm, QSIZE, 0x0, 0x400, 0x800, flags & 1, flags & 2) < 0)
		return 0;
	for (unsigned r = 0; r < rounds; r++) {
		pthread_mutex_lock(&d->lock);
		d->ops->notify(d, 0);
		must(blk.in_backend == (unsigned)fk.n && blk.nfree <= VIRTIO_BLK_QUEUE_SIZE);
		complete_some(&seed);
		must(blk.in_backend == (unsigned)fk.n);
		if (r == 0 && (flags & 0x10)) {
			uint16_t used = d->vq[0].used_idx;
			if (flags & 0x40)
				d->ops->queue_reset(d, 0);
			else
				d->ops->reset(d);
			must(blk.in_backend == 0 && blk.nfree == VIRTIO_BLK_QUEUE_SIZE && fk.n == 0);
			virtio_blk_complete(&blk); /* a late wake-up answers nothing */
			must(d->vq[0].used_idx == used);
			pthread_mutex_unlock(&d->lock);
			break;
		}
		pthread_mutex_unlock(&d->lock);
		if (flags & 0x80) { /* the limiter's timer: 1 ms later, the device re-checks */
			fake_ns += 1000000;
			virtio_blk_on_timer(&blk);
			must(blk.in_backend == (unsigned)fk.n && blk.nfree <= VIRTIO_BLK_QUEUE_SIZE);
		}
	}
	/* Drain: everything still pending finishes; the slots all come back. */
	pthread_mutex_lock(&d->lock);
	while (fk.n > 0) {
		fk_finish(0);
		virtio_blk_complete(&blk);
	}
	must(blk.in_backend == 0 && fk.ndone == 0 && blk.nfree == VIRTIO_BLK_QUEUE_SIZE);
	pthread_mutex_unlock(&d->lock);
	return 0;
}
