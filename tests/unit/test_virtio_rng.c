/* Unit tests for virtio-rng (src/devices/virtio_rng.c), driven without a transport: a tiny
 * in-test driver lays out a split ring in guest RAM, enables queue 0 as the transport would
 * after negotiation, offers chains and calls ops->notify. Covers filling (single, multi-
 * segment, capped), batching with one interrupt, EVENT_IDX re-arming, and the guest errors
 * that fail the device (readable buffers, a bad ring index) and stop it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "devices/virtio_rng.h"
#include "guest_ram.h"
#include "test.h"

#define RAM       (1ull << 20)
#define QSIZE     16
#define DESC_GPA  0x1000ull
#define AVAIL_GPA 0x2000ull
#define USED_GPA  0x3000ull
#define DATA_GPA  0x10000ull

static bool gm_live;
static struct virtio_rng rng; /* ~1 MiB of queues: static */
static uint16_t drv_avail, drv_next_desc;
static int irqs;

static void fake_irq(void *ctx, unsigned gsi, int level)
{
	(void)ctx;
	(void)gsi;
	if (level)
		irqs++;
}


/* A fresh device, negotiated (features), DRIVER_OK, queue 0 enabled. */
static void start(uint64_t features)
{
	const struct gm_region r[] = { { .gpa = 0, .size = RAM } };
	const struct irq_line irq = { .set = fake_irq, .gsi = 5 };
	char err[128];

	if (gm_live) {
		virtio_dev_destroy(&rng.dev);
		gm_destroy(&gm);
	}
	if (gm_create(&gm, r, 1, err, sizeof(err)) < 0) {
		printf("gm_create: %s\n", err);
		exit(1);
	}
	gm_live = true;
	CHECK_EQ(virtio_rng_init(&rng), 0);
	virtio_dev_init(&rng.dev, &virtio_rng_ops, &rng, "virtio-rng0", &gm, &irq);
	rng.dev.driver_features = features;
	rng.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	CHECK_EQ(vq_enable(&rng.dev.vq[0], &gm, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA,
			   virtio_has_feature(&rng.dev, VIRTIO_F_EVENT_IDX),
			   virtio_has_feature(&rng.dev, VIRTIO_F_INDIRECT_DESC)),
		 0);
	drv_avail = drv_next_desc = 0;
	irqs = 0;
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

/* Writes a chain of n descriptors and publishes its head in the avail ring. */
static uint16_t offer(const struct seg *s, int n)
{
	uint16_t head = drv_next_desc;

	for (int i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QSIZE), next = (uint16_t)((idx + 1) % QSIZE);
		uint16_t flags = (uint16_t)((i + 1 < n ? VQ_DESC_F_NEXT : 0) |
					    (s[i].w ? VQ_DESC_F_WRITE : 0));
		uint8_t d[16];

		memcpy(d, &s[i].gpa, 8);
		memcpy(d + 8, &s[i].len, 4);
		memcpy(d + 12, &flags, 2);
		memcpy(d + 14, &next, 2);
		CHECK_EQ(gm_write(&gm, DESC_GPA + 16ull * idx, d, 16), 0);
	}
	drv_next_desc = (uint16_t)((head + n) % QSIZE);
	put16(AVAIL_GPA + 4 + 2ull * (drv_avail % QSIZE), head);
	drv_avail++;
	put16(AVAIL_GPA + 2, drv_avail);
	return head;
}

static void kick(void)
{
	pthread_mutex_lock(&rng.dev.lock);
	rng.dev.ops->notify(&rng.dev, 0);
	pthread_mutex_unlock(&rng.dev.lock);
}

static uint16_t used_idx(void) { return get16(USED_GPA + 2); }
static uint32_t used_id(uint16_t i) { return get32(USED_GPA + 4 + 8ull * (i % QSIZE)); }
static uint32_t used_len(uint16_t i) { return get32(USED_GPA + 8 + 8ull * (i % QSIZE)); }

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void ops_table(void)
{
	CHECK_EQ(virtio_rng_ops.device_id, 4u);
	CHECK_EQ(virtio_rng_ops.num_queues, 1);
	CHECK_EQ(virtio_rng_ops.queue_max_size, 256);
	CHECK_EQ(virtio_rng_ops.config_size, 0u);
	CHECK(virtio_rng_ops.features & (1ull << VIRTIO_F_VERSION_1));
	CHECK(virtio_rng_ops.notify != NULL);
}

static void fills_buffers(void)
{
	start(1ull << VIRTIO_F_VERSION_1);
	const struct seg one[] = { { DATA_GPA, 64, true } };
	const struct seg two[] = { { DATA_GPA + 0x1000, 100, true },
				   { DATA_GPA + 0x2000, 28, true } };
	uint16_t h1 = offer(one, 1), h2 = offer(two, 2);

	kick();
	CHECK_EQ(used_idx(), 2);
	CHECK_EQ(used_id(0), h1);
	CHECK_EQ(used_len(0), 64u);
	CHECK_EQ(used_id(1), h2);
	CHECK_EQ(used_len(1), 128u);
	CHECK(!all_zero(host(DATA_GPA, 64), 64));
	CHECK(!all_zero(host(DATA_GPA + 0x1000, 100), 100));
	CHECK(!all_zero(host(DATA_GPA + 0x2000, 28), 28));
	/* Bytes past the buffers are not written. */
	CHECK(all_zero(host(DATA_GPA + 64, 0x1000 - 64), 0x1000 - 64));
	CHECK_EQ(irqs, 1); /* one interrupt for the batch */
	CHECK_EQ(atomic_load(&rng.requests), 2ul);
	CHECK_EQ(atomic_load(&rng.bytes), 192ul);
	CHECK_EQ(atomic_load(&rng.dev.requests), 2ul);
	CHECK_EQ(atomic_load(&rng.dev.bytes_in), 192ul);
	CHECK_EQ(atomic_load(&rng.dev.io_errors), 0ul);
	CHECK(virtio_dev_running(&rng.dev));
	/* Nothing new: nothing happens. */
	kick();
	CHECK_EQ(used_idx(), 2);
	CHECK_EQ(irqs, 1);
}

static void caps_large_requests(void)
{
	start(1ull << VIRTIO_F_VERSION_1);
	const struct seg big[] = { { DATA_GPA, 48 * 1024, true },
				   { DATA_GPA + 0x10000, 48 * 1024, true } };

	offer(big, 2);
	kick();
	CHECK_EQ(used_idx(), 1);
	CHECK_EQ(used_len(0), VIRTIO_RNG_MAX_REQUEST);
	/* The second buffer got only the remainder of the cap. */
	size_t rest = VIRTIO_RNG_MAX_REQUEST - 48 * 1024;
	CHECK(!all_zero(host(DATA_GPA + 0x10000 + rest - 64, 64), 64));
	CHECK(all_zero(host(DATA_GPA + 0x10000 + rest, 48 * 1024 - rest), 48 * 1024 - rest));
}

static void event_idx_rearms(void)
{
	start((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX));
	const struct seg one[] = { { DATA_GPA, 16, true } };

	offer(one, 1);
	offer(one, 1);
	offer(one, 1);
	kick();
	CHECK_EQ(used_idx(), 3);
	/* avail_event (after used->ring[QSIZE]) asks for a kick at the next new buffer. */
	CHECK_EQ(get16(USED_GPA + 4 + 8ull * QSIZE), 3);
	CHECK_EQ(irqs, 1); /* first interrupt with EVENT_IDX is always sent */
}

static void readable_buffer_fails_device(void)
{
	start(1ull << VIRTIO_F_VERSION_1);
	const struct seg rd[] = { { DATA_GPA, 64, false } };
	const struct seg ok[] = { { DATA_GPA + 0x1000, 64, true } };

	offer(rd, 1);
	kick();
	CHECK(rng.dev.status & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(!virtio_dev_running(&rng.dev));
	CHECK_EQ(atomic_load(&rng.dev.guest_errors), 1ul);
	CHECK(atomic_load(&rng.dev.isr) & VIRTIO_ISR_CONFIG);
	CHECK_EQ(used_idx(), 0);
	/* Stopped: later buffers are ignored until a reset. */
	offer(ok, 1);
	kick();
	CHECK_EQ(used_idx(), 0);
	CHECK(all_zero(host(DATA_GPA + 0x1000, 64), 64));
}

static void mixed_chain_fails_device(void)
{
	start(1ull << VIRTIO_F_VERSION_1);
	const struct seg mixed[] = { { DATA_GPA, 8, false }, { DATA_GPA + 0x1000, 64, true } };

	offer(mixed, 2);
	kick();
	CHECK(rng.dev.status & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(used_idx(), 0);
	CHECK(all_zero(host(DATA_GPA + 0x1000, 64), 64));
}

static void bad_ring_fails_device(void)
{
	start(1ull << VIRTIO_F_VERSION_1);
	put16(AVAIL_GPA + 4, QSIZE + 3); /* head out of range */
	put16(AVAIL_GPA + 2, 1);
	kick();
	CHECK(rng.dev.status & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(used_idx(), 0);
}

static void not_running_does_nothing(void)
{
	start(1ull << VIRTIO_F_VERSION_1);
	const struct seg one[] = { { DATA_GPA, 64, true } };

	rng.dev.status &= ~(uint32_t)VIRTIO_STATUS_DRIVER_OK;
	offer(one, 1);
	kick();
	CHECK_EQ(used_idx(), 0);
	rng.dev.status |= VIRTIO_STATUS_DRIVER_OK;
	kick();
	CHECK_EQ(used_idx(), 1);
	/* A notify for a queue the device does not have is ignored. */
	offer(one, 1);
	pthread_mutex_lock(&rng.dev.lock);
	rng.dev.ops->notify(&rng.dev, 3);
	pthread_mutex_unlock(&rng.dev.lock);
	CHECK_EQ(used_idx(), 1);
}

int main(void)
{
	test_suite_name = "virtio_rng";
	log_set_level(LOG_ERROR); /* the guest errors below are expected: counted, not printed */
	RUN(ops_table);
	RUN(fills_buffers);
	RUN(caps_large_requests);
	RUN(event_idx_rearms);
	RUN(readable_buffer_fails_device);
	RUN(mixed_chain_fails_device);
	RUN(bad_ring_fails_device);
	RUN(not_running_does_nothing);
	if (gm_live) {
		virtio_dev_destroy(&rng.dev);
		gm_destroy(&gm);
	}
	TEST_MAIN_END();
}
