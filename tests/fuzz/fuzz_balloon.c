/* libFuzzer target for virtio-balloon's queue handling (src/devices/virtio_balloon.c): inflate,
 * deflate, statistics and free page reporting chains written by a hostile driver, over guest
 * RAM of two regions with a hole between them (PFNs and ranges in the hole, past the end,
 * repeated, in the rings themselves), with configuration writes, statistics polls and resets in
 * between.
 *
 * Input: [0] features (bit 0 STATS_VQ, 1 REPORTING, 2 EVENT_IDX, 3 INDIRECT_DESC, 4 raw mode);
 * [1] the order of events. Structured mode: per queue (4 of them) up to 6 chains of 1-3
 * buffers (address: a slot, or anywhere in the first 2 MiB of guest-physical space; length;
 * direction), each buffer's first bytes from the input (PFN arrays, statistics entries).
 * Raw mode: the rest of the input is copied over the rings and slots. Then each queue is
 * notified, the timer polled, `actual` written, and maybe the device reset, in the order [1]
 * picks. Checks (abort on violation): the page count equals the bitmap's population and the
 * counters' balance, the page count never exceeds RAM, a failed device stays failed until the
 * reset, and the memory beside guest RAM (a canary page of the host) is untouched. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "devices/virtio_balloon.h"

#define KIB 1024ull
#define LO_SIZE (512 * KIB)
#define HI_GPA (1024 * KIB)
#define HI_SIZE (512 * KIB)
#define QS 16
#define RING(q) (0x1000ull * 4 * (q))     /* desc, avail, used: one page each */
#define SLOT(q, i) (0x10000ull + ((q) * 8 + (i)) * 0x2000ull)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem gm;
static struct virtio_balloon b; /* ~1 MiB of queues: static */
static uint8_t canary[4096];

static uint8_t take(const uint8_t **d, size_t *n)
{
	if (!*n)
		return 0;
	(*n)--;
	return *(*d)++;
}

static void build_queue(unsigned q, const uint8_t **d, size_t *n)
{
	unsigned nchains = take(d, n) % 7, slot = 0;
	uint16_t idx = 0;
	for (unsigned c = 0; c < nchains && slot < 8; c++) {
		unsigned nseg = 1 + take(d, n) % 3;
		uint16_t head = (uint16_t)slot;
		for (unsigned k = 0; k < nseg && slot < 8; k++, slot++) {
			uint8_t a = take(d, n), x = take(d, n), y = take(d, n);
			uint32_t len = 1 + ((uint32_t)(a | x << 8) & 0x1fff);
			bool w = y & 0x80, anywhere = y & 0x40;
			uint64_t gpa = anywhere ? ((uint64_t)(y & 0x3f) << 15) + (uint64_t)a * 16 : SLOT(q, slot);
			uint16_t flags = (uint16_t)((w ? VQ_DESC_F_WRITE : 0) |
						    (k + 1 < nseg && slot + 1 < 8 ? VQ_DESC_F_NEXT : 0));
			uint16_t next = (uint16_t)(slot + 1);
			uint8_t desc[16];
			memcpy(desc, &gpa, 8);
			memcpy(desc + 8, &len, 4);
			memcpy(desc + 12, &flags, 2);
			memcpy(desc + 14, &next, 2);
			gm_write(&gm, RING(q) + 16ull * slot, desc, 16);
			size_t fill = len < 256 ? len : 256;
			fill = fill < *n ? fill : *n;
			if (!anywhere)
				gm_write(&gm, SLOT(q, slot), *d, fill);
			*d += fill;
			*n -= fill;
		}
		gm_write(&gm, RING(q) + 0x1000 + 4 + 2ull * idx, &head, 2);
		idx++;
	}
	gm_write(&gm, RING(q) + 0x1000 + 2, &idx, 2);
}

static void notify(uint16_t q)
{
	pthread_mutex_lock(&b.dev.lock);
	if (virtio_dev_running(&b.dev))
		b.dev.ops->notify(&b.dev, q);
	pthread_mutex_unlock(&b.dev.lock);
}

static uint64_t popcount(void)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < (b.ram_pages + 7) / 8; i++)
		n += (uint64_t)__builtin_popcount(b.bitmap[i]);
	return n;
}

static void check(void)
{
	uint64_t in = atomic_load(&b.c.inflated), out = atomic_load(&b.c.deflated);
	if (b.held != popcount() || b.held > b.ram_pages || in < out)
		abort();
	for (size_t i = 0; i < sizeof(canary); i++)
		if (canary[i] != 0xc5)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	if (size < 2)
		return 0;
	if (!gm.base) {
		const struct gm_region r[] = {{0, LO_SIZE, 0}, {HI_GPA, HI_SIZE, 0}};
		if (gm_create(&gm, r, 2, err, sizeof(err)) < 0) {
			fprintf(stderr, "fuzz_balloon: %s\n", err);
			abort();
		}
		memset(canary, 0xc5, sizeof(canary));
		log_set_level(LOG_OFF);
	}
	uint8_t sel = data[0], order = data[1];
	const uint8_t *d = data + 2;
	size_t n = size - 2;
	const struct virtio_balloon_params p = {.target_pages = 64, .stats_interval_s = 1,
						.reporting = true, .deflate_on_oom = true};
	if (virtio_balloon_init(&b, &p, &gm, err, sizeof(err)) < 0)
		abort();
	virtio_dev_init(&b.dev, &b.ops, &b, "virtio-balloon", &gm, NULL);
	b.dev.driver_features = (1ull << VIRTIO_F_VERSION_1) |
				(sel & 1 ? 1ull << VIRTIO_BALLOON_F_STATS_VQ : 0) |
				(sel & 2 ? 1ull << VIRTIO_BALLOON_F_REPORTING : 0) |
				(sel & 4 ? 1ull << VIRTIO_F_EVENT_IDX : 0) |
				(sel & 8 ? 1ull << VIRTIO_F_INDIRECT_DESC : 0);
	b.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		       VIRTIO_STATUS_DRIVER_OK;
	memset(gm_ptr(&gm, 0, LO_SIZE), 0, 0x10000); /* rings of the last input */
	for (uint16_t q = 0; q < b.ops.num_queues; q++)
		if (vq_enable(&b.dev.vq[q], &gm, QS, RING(q), RING(q) + 0x1000, RING(q) + 0x2000,
			      sel & 4, sel & 8) < 0)
			abort();
	if (b.ops.activate(&b.dev) != 0)
		abort();
	if (sel & 0x10) {
		size_t k = n < LO_SIZE ? n : LO_SIZE;
		gm_write(&gm, 0, d, k);
	} else {
		for (unsigned q = 0; q < 4; q++)
			build_queue(q, &d, &n);
	}
	for (unsigned step = 0; step < 8; step++) {
		unsigned ev = (order >> (step % 4 * 2)) & 3;
		bool failed = b.dev.status & VIRTIO_STATUS_NEEDS_RESET;
		if (ev == 0 || step < 4) {
			notify((uint16_t)(step % 4));
		} else if (ev == 1) {
			virtio_balloon_on_timer(&b);
		} else if (ev == 2) {
			uint8_t v[4] = {order, sel, (uint8_t)step, 0};
			pthread_mutex_lock(&b.dev.lock);
			b.ops.config_write(&b.dev, step % 13, v, 1 + step % 4);
			pthread_mutex_unlock(&b.dev.lock);
		} else if (step == 7) {
			pthread_mutex_lock(&b.dev.lock);
			b.ops.reset(&b.dev);
			pthread_mutex_unlock(&b.dev.lock);
			if (b.held != 0 || popcount() != 0)
				abort();
			break;
		}
		if (failed && !(b.dev.status & VIRTIO_STATUS_NEEDS_RESET))
			abort();
		check();
	}
	virtio_balloon_destroy(&b);
	virtio_dev_destroy(&b.dev);
	return 0;
}
