/* Unit tests for virtio-balloon (src/devices/virtio_balloon.c), driven without a transport: an
 * in-test driver lays out split rings in guest RAM of two regions with a hole between them,
 * enables the queues as the transport would after negotiation, offers chains and calls
 * ops->notify. Covers the PFN path (released pages read zeroes, neighbours keep their data,
 * PFNs in the hole, past the end, repeated, never inflated, too many, odd lengths: ignored and
 * counted), the queue numbering per negotiated feature, the configuration space, statistics
 * (held buffer, timer hand-back, unknown tags) and free page reporting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "devices/virtio_balloon.h"
#include "guest_ram.h"
#include "test.h"

#define MIB       (1ull << 20)
#define HI_GPA    (8 * MIB) /* region 1: [8, 12) MiB; the hole: [4, 8) MiB */
#define QSIZE     16
#define RING(q)   (0x10000ull + 0x4000ull * (q))
#define DESC(q)   RING(q)
#define AVAIL(q)  (RING(q) + 0x1000)
#define USED(q)   (RING(q) + 0x2000)
#define BUF_GPA   0x40000ull   /* request buffers */
#define DATA_GPA  (1 * MIB)    /* pages given to the balloon */

static bool gm_live;
static struct virtio_balloon b; /* ~1 MiB of queues: static */
static uint16_t drv_avail[VIRTIO_MAX_QUEUES], drv_next[VIRTIO_MAX_QUEUES];
static int irqs;

static void fake_irq(void *ctx, unsigned gsi, int level)
{
	(void)ctx;
	(void)gsi;
	if (level)
		irqs++;
}

static void start(const struct virtio_balloon_params *p, uint64_t features)
{
	const struct gm_region r[] = {{.gpa = 0, .size = 4 * MIB}, {.gpa = HI_GPA, .size = 4 * MIB}};
	const struct irq_line irq = {.set = fake_irq, .gsi = 5};
	char err[128];
	if (gm_live) {
		virtio_balloon_destroy(&b);
		virtio_dev_destroy(&b.dev);
		gm_destroy(&gm);
	}
	if (gm_create(&gm, r, 2, err, sizeof(err)) < 0) {
		printf("gm_create: %s\n", err);
		exit(1);
	}
	gm_live = true;
	CHECK_EQ(virtio_balloon_init(&b, p, &gm, err, sizeof(err)), 0);
	virtio_dev_init(&b.dev, &b.ops, &b, "virtio-balloon", &gm, &irq);
	b.dev.driver_features = features | (1ull << VIRTIO_F_VERSION_1);
	b.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		       VIRTIO_STATUS_DRIVER_OK;
	for (uint16_t q = 0; q < b.ops.num_queues; q++) {
		CHECK_EQ(vq_enable(&b.dev.vq[q], &gm, QSIZE, DESC(q), AVAIL(q), USED(q), false, false), 0);
		drv_avail[q] = drv_next[q] = 0;
	}
	CHECK_EQ(b.ops.activate(&b.dev), 0);
	irqs = 0;
}

static void start_plain(void)
{
	const struct virtio_balloon_params p = {0};
	start(&p, 0);
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

static uint16_t offer(uint16_t q, const struct seg *s, int n)
{
	uint16_t head = drv_next[q];
	for (int i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QSIZE), next = (uint16_t)((idx + 1) % QSIZE);
		uint16_t flags = (uint16_t)((i + 1 < n ? VQ_DESC_F_NEXT : 0) | (s[i].w ? VQ_DESC_F_WRITE : 0));
		uint8_t d[16];
		memcpy(d, &s[i].gpa, 8);
		memcpy(d + 8, &s[i].len, 4);
		memcpy(d + 12, &flags, 2);
		memcpy(d + 14, &next, 2);
		CHECK_EQ(gm_write(&gm, DESC(q) + 16ull * idx, d, 16), 0);
	}
	drv_next[q] = (uint16_t)((head + n) % QSIZE);
	put16(AVAIL(q) + 4 + 2ull * (drv_avail[q] % QSIZE), head);
	drv_avail[q]++;
	put16(AVAIL(q) + 2, drv_avail[q]);
	return head;
}

static void kick(uint16_t q)
{
	pthread_mutex_lock(&b.dev.lock);
	b.dev.ops->notify(&b.dev, q);
	pthread_mutex_unlock(&b.dev.lock);
}

static uint16_t used_idx(uint16_t q) { return get16(USED(q) + 2); }
static uint64_t ctr(atomic_ulong *c) { return atomic_load(c); }

/* Writes n PFNs (little-endian u32) at BUF_GPA and offers them on queue q. */
static void send_pfns(uint16_t q, const uint32_t *pfns, uint32_t n, uint32_t bytes)
{
	CHECK_EQ(gm_write(&gm, BUF_GPA, pfns, (uint64_t)n * 4), 0);
	const struct seg s[] = {{BUF_GPA, bytes ? bytes : n * 4, false}};
	offer(q, s, 1);
	kick(q);
}

static void fill(uint64_t gpa, uint64_t len, uint8_t v) { memset(host(gpa, len), v, len); }

static bool all(uint64_t gpa, uint64_t len, uint8_t v)
{
	const uint8_t *p = host(gpa, len);
	for (uint64_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void features_follow_params(void)
{
	start_plain();
	CHECK_EQ(b.ops.device_id, 5u);
	CHECK_EQ(b.ops.num_queues, 2);
	CHECK_EQ(b.ops.config_size, 16u);
	CHECK(!(b.ops.features & (1ull << VIRTIO_BALLOON_F_STATS_VQ)));
	CHECK(!(b.ops.features & (1ull << VIRTIO_BALLOON_F_MUST_TELL_HOST)));
	CHECK_EQ(virtio_balloon_timer_fd(&b), -1);
	const struct virtio_balloon_params p = {.deflate_on_oom = true, .stats_interval_s = 1,
						.reporting = true};
	start(&p, 0);
	CHECK_EQ(b.ops.num_queues, 4);
	CHECK(b.ops.features & (1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	CHECK(b.ops.features & (1ull << VIRTIO_BALLOON_F_STATS_VQ));
	CHECK(b.ops.features & (1ull << VIRTIO_BALLOON_F_REPORTING));
	CHECK(virtio_balloon_timer_fd(&b) >= 0);
	/* Queues are numbered by what the driver accepted (5.5.2). */
	start(&p, 1ull << VIRTIO_BALLOON_F_REPORTING);
	CHECK_EQ(b.stats_q, -1);
	CHECK_EQ(b.report_q, 2);
	start(&p, (1ull << VIRTIO_BALLOON_F_REPORTING) | (1ull << VIRTIO_BALLOON_F_STATS_VQ));
	CHECK_EQ(b.stats_q, 2);
	CHECK_EQ(b.report_q, 3);
	char err[128];
	const struct virtio_balloon_params bad = {.stats_interval_s = 70000};
	struct virtio_balloon *x = calloc(1, sizeof(*x));
	CHECK_EQ(virtio_balloon_init(x, &bad, &gm, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "interval");
	virtio_balloon_destroy(x);
	free(x);
}

static void inflate_releases_pages(void)
{
	start_plain();
	fill(DATA_GPA - 4096, 4 * 4096, 0xab);
	fill(HI_GPA, 4096, 0xcd);
	const uint32_t pfns[] = {DATA_GPA >> 12, (DATA_GPA >> 12) + 1, HI_GPA >> 12};
	send_pfns(0, pfns, 3, 0);
	CHECK_EQ(used_idx(0), 1);
	CHECK(all(DATA_GPA, 2 * 4096, 0));           /* released: zeroes */
	CHECK(all(HI_GPA, 4096, 0));                 /* the region above the hole too */
	CHECK(all(DATA_GPA - 4096, 4096, 0xab));     /* the neighbours keep their data */
	CHECK(all(DATA_GPA + 2 * 4096, 4096, 0xab));
	CHECK_EQ(ctr(&b.c.inflated), 3u);
	CHECK_EQ(b.held, 3u);
	CHECK_EQ(ctr(&b.dev.requests), 1u);
	/* Deflate: pages leave the balloon; the guest may use them again (zero-filled). */
	send_pfns(1, pfns, 2, 0);
	CHECK_EQ(used_idx(1), 1);
	CHECK_EQ(ctr(&b.c.deflated), 2u);
	CHECK_EQ(b.held, 1u);
	fill(DATA_GPA, 4096, 0x11);
	CHECK(all(DATA_GPA, 4096, 0x11));
	CHECK_EQ(ctr(&b.dev.guest_errors), 0u);
}

static void hostile_pfns_counted(void)
{
	const uint32_t d = DATA_GPA >> 12;
	start_plain();
	fill(DATA_GPA, 3 * MIB, 0x5a);
	fill(HI_GPA, 4 * MIB, 0x5a);
	const uint32_t bad[] = {
		(4 * MIB) >> 12,         /* the hole */
		(6 * MIB) >> 12,         /* the hole */
		(12 * MIB) >> 12,        /* past the end */
		0xffffffffu, 0xd0000,    /* far away, the device window */
	};
	send_pfns(0, bad, 5, 0);
	CHECK_EQ(ctr(&b.c.bad_pfns), 5u);
	send_pfns(1, bad, 5, 0);
	CHECK_EQ(ctr(&b.c.bad_pfns), 10u);
	const uint32_t rep[] = {d + 3, d + 3, d + 3};
	send_pfns(0, rep, 3, 0);
	CHECK_EQ(ctr(&b.c.inflated), 1u);
	CHECK_EQ(ctr(&b.c.repeated), 2u);
	const uint32_t never[] = {d + 7, d + 8};
	send_pfns(1, never, 2, 0);
	CHECK_EQ(ctr(&b.c.not_inflated), 2u);
	/* A length that is not a multiple of 4: the whole PFNs count, the tail is noted. */
	const uint32_t odd[] = {d + 9, d + 10};
	send_pfns(0, odd, 2, 6);
	CHECK_EQ(ctr(&b.c.bad_lengths), 1u);
	CHECK_EQ(ctr(&b.c.inflated), 2u); /* page 9 */
	/* Only pages 3 and 9 were released; every other byte of that RAM is intact. */
	CHECK(all(DATA_GPA, 3 * 4096, 0x5a));
	CHECK(all(DATA_GPA + 3 * 4096, 4096, 0));
	CHECK(all(DATA_GPA + 4 * 4096, 5 * 4096, 0x5a));
	CHECK(all(DATA_GPA + 10 * 4096, 3 * MIB - 10 * 4096, 0x5a));
	CHECK(all(HI_GPA, 4 * MIB, 0x5a));
	CHECK_EQ(ctr(&b.dev.guest_errors), 0u);
	CHECK_EQ(used_idx(0), 3);
	CHECK_EQ(used_idx(1), 2);
}

static void too_many_pfns_capped(void)
{
	start_plain();
	uint32_t n = VIRTIO_BALLOON_MAX_PFNS + 100;
	uint32_t *pfns = calloc(n, 4);
	for (uint32_t i = 0; i < n; i++)
		pfns[i] = 0xfffff000u + (i & 7);
	send_pfns(0, pfns, n, 0);
	free(pfns);
	CHECK_EQ(ctr(&b.c.capped), 100u);
	CHECK_EQ(ctr(&b.c.bad_pfns), (uint64_t)VIRTIO_BALLOON_MAX_PFNS);
	CHECK_EQ(used_idx(0), 1);
	/* The direct PFN path gets the same checks. */
	uint8_t raw[8] = {0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00};
	pthread_mutex_lock(&b.dev.lock);
	virtio_balloon_pfns(&b, true, raw, 2);
	pthread_mutex_unlock(&b.dev.lock);
	CHECK_EQ(ctr(&b.c.bad_pfns), (uint64_t)VIRTIO_BALLOON_MAX_PFNS + 1);
	CHECK_EQ(ctr(&b.c.inflated), 1u);
}

static void config_space(void)
{
	const struct virtio_balloon_params p = {.target_pages = 1234};
	start(&p, 0);
	uint8_t v[8];
	b.ops.config_read(&b.dev, 0, v, 8);
	CHECK_EQ(v[0] | v[1] << 8, 1234);
	CHECK_EQ(v[4] | v[5] << 8 | v[6] << 16 | v[7] << 24, 0);
	const uint8_t a[4] = {0x10, 0x02, 0, 0};
	b.ops.config_write(&b.dev, 4, a, 4);
	CHECK_EQ(b.actual, 0x210u);
	const uint8_t t[4] = {1, 0, 0, 0};
	b.ops.config_write(&b.dev, 0, t, 4); /* num_pages is the device's: ignored */
	CHECK_EQ(b.num_pages, 1234u);
	b.ops.config_read(&b.dev, 12, v, 4); /* poison_val: 0 */
	CHECK_EQ(v[0] | v[1] | v[2] | v[3], 0);
	virtio_balloon_set_target(&b, 99);
	CHECK_EQ(b.num_pages, 99u);
	CHECK_EQ(irqs, 1); /* the configuration change */
	CHECK(atomic_load(&b.dev.isr) & VIRTIO_ISR_CONFIG);
	virtio_balloon_set_target(&b, 99);
	CHECK_EQ(irqs, 1);
	struct virtio_balloon_info info;
	virtio_balloon_info(&b, &info);
	CHECK_EQ(info.target_pages, 99u);
	CHECK_EQ(info.actual_pages, 0x210u);
	/* A reset forgets the balloon (a new driver starts empty). */
	const uint32_t pf[] = {DATA_GPA >> 12};
	send_pfns(0, pf, 1, 0);
	CHECK_EQ(b.held, 1u);
	b.ops.reset(&b.dev);
	CHECK_EQ(b.held, 0u);
	CHECK_EQ(b.actual, 0u);
}

static void put_stat(uint8_t *e, uint16_t tag, uint64_t val)
{
	e[0] = (uint8_t)tag;
	e[1] = (uint8_t)(tag >> 8);
	for (int k = 0; k < 8; k++)
		e[2 + k] = (uint8_t)(val >> (8 * k));
}

static void statistics(void)
{
	const struct virtio_balloon_params p = {.stats_interval_s = 1};
	start(&p, 1ull << VIRTIO_BALLOON_F_STATS_VQ);
	uint8_t s[3 * 10];
	put_stat(s, 4, 1ull << 30);
	put_stat(s + 10, 0x7777, 5); /* unknown: skipped */
	put_stat(s + 20, 3, 42);
	CHECK_EQ(gm_write(&gm, BUF_GPA, s, sizeof(s)), 0);
	const struct seg one[] = {{BUF_GPA, sizeof(s), false}};
	offer(2, one, 1);
	kick(2);
	CHECK_EQ(used_idx(2), 0); /* held until the next poll */
	struct virtio_balloon_info info;
	virtio_balloon_info(&b, &info);
	CHECK_EQ(info.stats.val[4], 1ull << 30);
	CHECK_EQ(info.stats.val[3], 42u);
	CHECK_EQ(info.stats.present, (1u << 3) | (1u << 4));
	CHECK_EQ(info.stats.updates, 1u);
	CHECK_EQ(info.stats_interval_s, 1u);
	virtio_balloon_on_timer(&b); /* armed at once: the buffer goes back */
	CHECK_EQ(used_idx(2), 1);
	CHECK_EQ(ctr(&b.c.stats_requests), 1u);
	virtio_balloon_on_timer(&b); /* nothing held (and the timer has not fired): nothing */
	CHECK_EQ(used_idx(2), 1);
	/* A 7-byte buffer: no whole entry, noted. Two buffers: the first goes back. */
	offer(2, (const struct seg[]){{BUF_GPA, 7, false}}, 1);
	offer(2, one, 1);
	kick(2);
	CHECK_EQ(used_idx(2), 2);
	CHECK_EQ(ctr(&b.c.bad_lengths), 1u);
	CHECK_EQ(ctr(&b.c.stats_updates), 3u);
	char err[128];
	CHECK_EQ(virtio_balloon_set_stats_interval(&b, 0, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "cannot be turned off");
	CHECK_EQ(virtio_balloon_set_stats_interval(&b, 70000, err, sizeof(err)), -1);
	CHECK_EQ(virtio_balloon_set_stats_interval(&b, 3, err, sizeof(err)), 0);
	virtio_balloon_info(&b, &info);
	CHECK_EQ(info.stats_interval_s, 3u);
	start_plain();
	CHECK_EQ(virtio_balloon_set_stats_interval(&b, 3, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "not enabled");
}

static void free_page_reporting(void)
{
	const struct virtio_balloon_params p = {.reporting = true};
	start(&p, 1ull << VIRTIO_BALLOON_F_REPORTING);
	fill(DATA_GPA, 1 * MIB, 0x77);
	fill(HI_GPA, 64 * 1024, 0x77);
	const struct seg r[] = {
		{DATA_GPA, 64 * 1024, true},              /* 16 pages */
		{DATA_GPA + 0x20100, 0x3000, true},       /* unaligned: pages 0x21000, 0x22000 */
		{DATA_GPA + 0x40100, 0x200, true},        /* no whole page */
		{HI_GPA, 8192, true},                     /* 2 pages above the hole */
	};
	offer(2, r, 4);
	kick(2);
	CHECK_EQ(used_idx(2), 1);
	CHECK(all(DATA_GPA, 64 * 1024, 0));
	CHECK(all(DATA_GPA + 0x20000, 0x1000, 0x77));
	CHECK(all(DATA_GPA + 0x21000, 0x2000, 0));
	CHECK(all(DATA_GPA + 0x23000, 0x1000, 0x77));
	CHECK(all(DATA_GPA + 0x40000, 0x1000, 0x77));
	CHECK(all(HI_GPA, 8192, 0));
	CHECK(all(HI_GPA + 8192, 4096, 0x77));
	CHECK_EQ(ctr(&b.c.reported), 20u);
	CHECK_EQ(ctr(&b.c.bad_ranges), 1u);
	CHECK_EQ(b.held, 0u); /* reported pages stay the guest's */
}

static void gpa_of_host(void)
{
	start_plain();
	CHECK_EQ(gm_gpa_of(&gm, host(0x1234, 1), 1), 0x1234u);
	CHECK_EQ(gm_gpa_of(&gm, host(HI_GPA + 5, 10), 10), HI_GPA + 5);
	CHECK_EQ(gm_gpa_of(&gm, host(4 * MIB - 4, 4), 8), UINT64_MAX); /* runs past region 0 */
	CHECK_EQ(gm_gpa_of(&gm, host(0, 1), 0), UINT64_MAX);
	CHECK_EQ(gm_gpa_of(&gm, &b, 1), UINT64_MAX); /* not guest RAM */
	CHECK_EQ(gm_gpa_of(&gm, (uint8_t *)host(0, 1) - 1, 1), UINT64_MAX);
	/* RAM offsets skip the hole: region 1 starts right after region 0's 4 MiB. */
	CHECK_EQ(gm_ram_offset(&gm, 0x2000, 4096), 0x2000u);
	CHECK_EQ(gm_ram_offset(&gm, HI_GPA + 0x1000, 4096), 4 * MIB + 0x1000);
	CHECK_EQ(gm_ram_offset(&gm, 5 * MIB, 1), UINT64_MAX);
	CHECK_EQ(gm_ram_offset(&gm, 4 * MIB - 4096, 8192), UINT64_MAX);
	CHECK_EQ(gm_ram_offset(&gm, UINT64_MAX - 10, 100), UINT64_MAX);
	CHECK_EQ(gm_ram_offset(&gm, 0, 0), UINT64_MAX);
}

int main(void)
{
	test_suite_name = "virtio_balloon";
	log_set_level(LOG_OFF);
	RUN(features_follow_params);
	RUN(inflate_releases_pages);
	RUN(hostile_pfns_counted);
	RUN(too_many_pfns_capped);
	RUN(config_space);
	RUN(statistics);
	RUN(free_page_reporting);
	RUN(gpa_of_host);
	if (gm_live) {
		virtio_balloon_destroy(&b);
		virtio_dev_destroy(&b.dev);
		gm_destroy(&gm);
	}
	TEST_MAIN_END();
}
