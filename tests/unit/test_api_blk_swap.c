/* Unit test for the API's drive swap (virtio_blk_swap_backend, PATCH /drives/{id}): the new
 * backend replaces the old one (flushed, closed), capacity follows the new size, the
 * configuration generation moves and a running driver gets a configuration-change interrupt;
 * a backend of another block size or access mode is refused and the old one stays. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "devices/virtio_blk.h"
#include "test.h"

struct fake {
	int flushes, closes;
};

static int fk_rw(void *be, uint64_t off, const struct iovec *iov, int n)
{
	(void)be, (void)off, (void)iov, (void)n;
	return 0;
}
static int fk_flush(void *be)
{
	((struct fake *)be)->flushes++;
	return 0;
}
static void fk_close(void *be) { ((struct fake *)be)->closes++; }
static const struct blk_backend_ops fake_ops = {.read = fk_rw, .write = fk_rw, .flush = fk_flush, .close = fk_close};

static struct blk_backend backend(struct fake *f, uint64_t size, uint32_t bs, bool ro)
{
	return (struct blk_backend){.ops = &fake_ops, .be = f, .size = size, .block_size = bs,
				    .read_only = ro, .completion_fd = -1};
}

static int irqs;
static void count_irq(void *ctx, unsigned gsi, int level)
{
	(void)ctx, (void)gsi;
	irqs += level;
}

static struct virtio_blk blk; /* large (queues): static */

static void swap_replaces_backend_and_signals(void)
{
	struct fake a = {0}, b = {0}, c = {0};
	char err[256];
	struct blk_backend be = backend(&a, 1 << 20, 512, false);
	const struct irq_line irq = {.set = count_irq};
	CHECK_EQ(virtio_blk_init(&blk, &be, "root", err, sizeof(err)), 0);
	virtio_dev_init(&blk.dev, virtio_blk_ops_for(&blk), &blk, "virtio-blk0", NULL, &irq);
	blk.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			 VIRTIO_STATUS_DRIVER_OK;
	uint32_t gen = blk.dev.config_generation;

	struct blk_backend nb = backend(&b, 4 << 20, 512, false);
	CHECK_EQ(virtio_blk_swap_backend(&blk, &nb, err, sizeof(err)), 0);
	CHECK_EQ(a.flushes, 1);
	CHECK_EQ(a.closes, 1);
	CHECK_EQ(blk.capacity, (4u << 20) / 512);
	CHECK_EQ(le64toh(blk.cfg.capacity), (uint64_t)(4u << 20) / 512);
	CHECK(blk.dev.config_generation != gen);
	CHECK_EQ(irqs, 1);
	CHECK(atomic_load(&blk.dev.isr) & VIRTIO_ISR_CONFIG);
	CHECK(nb.ops == NULL); /* taken */

	struct blk_backend bad = backend(&c, 4 << 20, 4096, false);
	CHECK_EQ(virtio_blk_swap_backend(&blk, &bad, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "block size");
	bad = backend(&c, 4 << 20, 512, true);
	CHECK_EQ(virtio_blk_swap_backend(&blk, &bad, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "access mode");
	bad = backend(&c, 4 << 20, 512, false);
	blk.be.completion_fd = 99; /* pretend the current backend is asynchronous (io_uring) */
	CHECK_EQ(virtio_blk_swap_backend(&blk, &bad, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "asynchronous");
	blk.be.completion_fd = -1;
	bad.completion_fd = 5; /* an asynchronous new backend */
	CHECK_EQ(virtio_blk_swap_backend(&blk, &bad, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "synchronous");
	CHECK_EQ(b.closes, 0); /* the current backend stays */
	CHECK_EQ(c.closes, 0); /* a refused one stays the caller's */
	virtio_blk_destroy(&blk);
	virtio_dev_destroy(&blk.dev);
	CHECK_EQ(b.closes, 1);
}

int main(void)
{
	test_suite_name = "api_blk_swap";
	RUN(swap_replaces_backend_and_signals);
	TEST_MAIN_END();
}
