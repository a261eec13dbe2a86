/* virtio-balloon (virtio 1.2, 5.5): inflate, deflate, statistics and free page reporting.
 * Must not: walk rings itself (virtqueue.c does), name guest memory other than through the
 * gate (gm_ram_offset, gm_discard, gm_gpa_of), trust a PFN, a length or a stats tag, or abort on
 * guest input. A bad PFN is ignored and counted, never an error that stops the device: the
 * guest can only ever give back its own RAM. Queue indices follow the negotiated features
 * (5.5.2: statsq and reporting_vq exist only with their bit, and the driver numbers the
 * queues that exist consecutively, as Linux's virtio_find_vqs does). */
#include "devices/virtio_balloon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/log.h"

#define Q_INFLATE 0
#define Q_DEFLATE 1

static void count(atomic_ulong *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- pages ---------------------------------------------------------------------------- */

/* A run of contiguous pages (in guest addresses and in RAM) to release with one call. */
struct run {
	uint64_t gpa, off;
	uint64_t pages;
};

static void run_flush(struct virtio_balloon *b, struct run *r)
{
	char err[160];
	if (r->pages && gm_discard(b->gm, r->gpa, r->pages * VIRTIO_BALLOON_PAGE, err,
				   sizeof(err)) < 0) {
		count(&b->c.discard_errors, r->pages);
		log_warn("%s: %s", b->dev.name, err);
	}
	r->pages = 0;
}

static void run_add(struct virtio_balloon *b, struct run *r, uint64_t gpa, uint64_t off)
{
	if (r->pages && gpa == r->gpa + r->pages * VIRTIO_BALLOON_PAGE &&
	    off == r->off + r->pages * VIRTIO_BALLOON_PAGE) {
		r->pages++;
		return;
	}
	run_flush(b, r);
	*r = (struct run){.gpa = gpa, .off = off, .pages = 1};
}

/* One PFN of an inflate or deflate request. Only a whole page of guest RAM counts; its bit
 * is found from its offset in RAM (holes cost no bitmap). */
static void one_pfn(struct virtio_balloon *b, bool inflate, uint32_t pfn, struct run *r)
{
	uint64_t gpa = (uint64_t)pfn << VIRTIO_BALLOON_PFN_SHIFT;
	uint64_t off = gm_ram_offset(b->gm, gpa, VIRTIO_BALLOON_PAGE);
	uint64_t page = off / VIRTIO_BALLOON_PAGE;
	if (off == UINT64_MAX || page >= b->ram_pages) {
		count(&b->c.bad_pfns, 1);
		return;
	}
	uint8_t bit = (uint8_t)(1u << (page % 8));
	bool in = b->bitmap[page / 8] & bit;
	if (inflate) {
		if (in) {
			count(&b->c.repeated, 1);
			return;
		}
		b->bitmap[page / 8] |= bit;
		b->held++;
		count(&b->c.inflated, 1);
		run_add(b, r, gpa, off);
	} else {
		if (!in) {
			count(&b->c.not_inflated, 1);
			return;
		}
		b->bitmap[page / 8] &= (uint8_t)~bit;
		b->held--;
		count(&b->c.deflated, 1);
		/* Nothing to do on the host: the page was released at inflate and faults back in
		 * (zero-filled) when the guest touches it. */
	}
}

void virtio_balloon_pfns(struct virtio_balloon *b, bool inflate, const uint8_t *pfns, size_t n)
{
	struct run r = {0};
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = pfns + 4 * i;
		uint32_t pfn = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			       (uint32_t)p[3] << 24;
		one_pfn(b, inflate, pfn, &r);
	}
	run_flush(b, &r);
}

/* An inflate or deflate chain: its readable bytes are little-endian 32-bit PFNs. */
static void serve_pfns(struct virtio_balloon *b, bool inflate, const struct vq_chain *c)
{
	uint8_t buf[1024];
	uint64_t total = c->read_bytes / 4, off = 0;
	if (c->read_bytes % 4)
		count(&b->c.bad_lengths, 1);
	if (total > VIRTIO_BALLOON_MAX_PFNS) {
		count(&b->c.capped, total - VIRTIO_BALLOON_MAX_PFNS);
		total = VIRTIO_BALLOON_MAX_PFNS;
	}
	while (off < total * 4) {
		size_t want = total * 4 - off < sizeof(buf) ? (size_t)(total * 4 - off) : sizeof(buf);
		size_t got = vq_chain_read(c, off, buf, want);
		virtio_balloon_pfns(b, inflate, buf, got / 4);
		if (got < want)
			break;
		off += got;
	}
}

/* ---- free page reporting ---------------------------------------------------------------- */

/* Each buffer of a reporting chain (Linux makes them device-writable) names a range of free
 * guest memory: its whole pages are released; the guest keeps owning them. */
static void serve_report(struct virtio_balloon *b, const struct vq_chain *c)
{
	for (uint32_t i = 0; i < c->nread + c->nwrite; i++) {
		const struct vq_iov *v = &c->iov[i];
		uint64_t gpa = gm_gpa_of(b->gm, v->base, v->len);
		uint64_t start = (gpa + VIRTIO_BALLOON_PAGE - 1) & ~(uint64_t)(VIRTIO_BALLOON_PAGE - 1);
		uint64_t end = (gpa + v->len) & ~(uint64_t)(VIRTIO_BALLOON_PAGE - 1);
		char err[160];
		if (gpa == UINT64_MAX || end <= start) {
			count(&b->c.bad_ranges, 1);
			continue;
		}
		if (gm_discard(b->gm, start, end - start, err, sizeof(err)) < 0) {
			count(&b->c.discard_errors, (end - start) / VIRTIO_BALLOON_PAGE);
			log_warn("%s: %s", b->dev.name, err);
			continue;
		}
		count(&b->c.reported, (end - start) / VIRTIO_BALLOON_PAGE);
	}
}

/* ---- statistics ------------------------------------------------------------------------- */

/* The driver's stats buffer: (le16 tag, le64 val) entries, packed. Unknown tags are skipped. */
static void read_stats(struct virtio_balloon *b, const struct vq_chain *c)
{
	uint8_t e[VIRTIO_BALLOON_STAT_SIZE];
	uint64_t n = c->read_bytes / VIRTIO_BALLOON_STAT_SIZE;
	if (c->read_bytes % VIRTIO_BALLOON_STAT_SIZE)
		count(&b->c.bad_lengths, 1);
	if (n > 4 * VIRTIO_BALLOON_S_NR)
		n = 4 * VIRTIO_BALLOON_S_NR; /* more than every tag a few times: the rest is noise */
	for (uint64_t i = 0; i < n; i++) {
		if (vq_chain_read(c, i * sizeof(e), e, sizeof(e)) < sizeof(e))
			break;
		uint16_t tag = (uint16_t)(e[0] | e[1] << 8);
		uint64_t val = 0;
		for (int k = 7; k >= 0; k--)
			val = val << 8 | e[2 + k];
		if (tag >= VIRTIO_BALLOON_S_NR)
			continue;
		b->stats.val[tag] = val;
		b->stats.present |= 1u << tag;
	}
	b->stats.updates++;
	count(&b->c.stats_updates, 1);
}

/* Hands the held stats buffer back: the driver refills it and adds it again (5.5.6.3). */
static void stats_request(struct virtio_balloon *b)
{
	struct virtio_dev *d = &b->dev;
	if (!b->stats_held || b->stats_q < 0 || !virtio_dev_running(d))
		return;
	b->stats_held = false;
	if (vq_push(&d->vq[b->stats_q], b->stats_head, 0) < 0) {
		virtio_dev_fail(d, d->vq[b->stats_q].why);
		return;
	}
	count(&b->c.stats_requests, 1);
	virtio_dev_used(d, (uint16_t)b->stats_q);
}

/* A stats chain: read, then held until the next poll (not pushed). */
static int serve_stats(struct virtio_dev *d, struct vq_chain *c)
{
	struct virtio_balloon *b = d->priv;
	/* One buffer at a time is the protocol; a second one returns the first. */
	if (b->stats_held) {
		b->stats_held = false;
		if (vq_push(&d->vq[b->stats_q], b->stats_head, 0) < 0) {
			virtio_dev_fail(d, d->vq[b->stats_q].why);
			return -1;
		}
	}
	read_stats(b, c);
	b->stats_held = true;
	b->stats_head = c->head;
	return 0;
}

/* ---- queues ----------------------------------------------------------------------------- */

static int serve_inflate(struct virtio_dev *d, struct vq_chain *c)
{
	struct virtio_balloon *b = d->priv;
	serve_pfns(b, true, c);
	atomic_fetch_add_explicit(&d->requests, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->bytes_out, c->read_bytes, memory_order_relaxed);
	if (vq_push(&d->vq[Q_INFLATE], c->head, 0) < 0) {
		virtio_dev_fail(d, d->vq[Q_INFLATE].why);
		return -1;
	}
	return 0;
}

static int serve_deflate(struct virtio_dev *d, struct vq_chain *c)
{
	struct virtio_balloon *b = d->priv;
	serve_pfns(b, false, c);
	atomic_fetch_add_explicit(&d->requests, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->bytes_out, c->read_bytes, memory_order_relaxed);
	if (vq_push(&d->vq[Q_DEFLATE], c->head, 0) < 0) {
		virtio_dev_fail(d, d->vq[Q_DEFLATE].why);
		return -1;
	}
	return 0;
}

static int serve_reporting(struct virtio_dev *d, struct vq_chain *c)
{
	struct virtio_balloon *b = d->priv;
	serve_report(b, c);
	atomic_fetch_add_explicit(&d->requests, 1, memory_order_relaxed);
	if (vq_push(&d->vq[b->report_q], c->head, 0) < 0) {
		virtio_dev_fail(d, d->vq[b->report_q].why);
		return -1;
	}
	return 0;
}

static void balloon_notify(struct virtio_dev *d, uint16_t q)
{
	struct virtio_balloon *b = d->priv;
	if (q == Q_INFLATE)
		virtio_dev_drain(d, q, &b->chain, serve_inflate);
	else if (q == Q_DEFLATE)
		virtio_dev_drain(d, q, &b->chain, serve_deflate);
	else if ((int)q == b->stats_q)
		virtio_dev_drain(d, q, &b->chain, serve_stats);
	else if ((int)q == b->report_q)
		virtio_dev_drain(d, q, &b->chain, serve_reporting);
	/* any other queue does not exist for the negotiated features: ignored */
}

static int balloon_activate(struct virtio_dev *d)
{
	struct virtio_balloon *b = d->priv;
	int next = 2;
	b->stats_q = virtio_has_feature(d, VIRTIO_BALLOON_F_STATS_VQ) ? next++ : -1;
	b->report_q = virtio_has_feature(d, VIRTIO_BALLOON_F_REPORTING) ? next++ : -1;
	b->stats_held = false;
	return 0;
}

static void balloon_reset(struct virtio_dev *d)
{
	struct virtio_balloon *b = d->priv;
	/* A new driver starts with an empty balloon; the pages stay released on the host and
	 * fault back in as zeroes when it uses them. */
	memset(b->bitmap, 0, (size_t)((b->ram_pages + 7) / 8));
	b->held = 0;
	b->actual = 0;
	b->stats_held = false;
	b->stats_q = b->report_q = -1;
}

static void balloon_queue_reset(struct virtio_dev *d, uint16_t q)
{
	struct virtio_balloon *b = d->priv;
	if ((int)q == b->stats_q)
		b->stats_held = false;
}

static void config_bytes(const struct virtio_balloon *b, uint8_t cfg[VIRTIO_BALLOON_CONFIG_SIZE])
{
	memset(cfg, 0, VIRTIO_BALLOON_CONFIG_SIZE);
	for (int i = 0; i < 4; i++) {
		cfg[i] = (uint8_t)(b->num_pages >> (8 * i));
		cfg[4 + i] = (uint8_t)(b->actual >> (8 * i));
	}
}

static void balloon_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	uint8_t cfg[VIRTIO_BALLOON_CONFIG_SIZE];
	config_bytes(d->priv, cfg);
	memcpy(data, cfg + off, len); /* the transport checked off + len <= the size */
}

/* Only `actual` (bytes 4-7) is the driver's; writes elsewhere are ignored. */
static void balloon_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *data,
				 uint32_t len)
{
	struct virtio_balloon *b = d->priv;
	uint8_t cfg[VIRTIO_BALLOON_CONFIG_SIZE];
	config_bytes(b, cfg);
	for (uint32_t i = 0; i < len; i++)
		if (off + i >= 4 && off + i < 8)
			cfg[off + i] = data[i];
	b->actual = (uint32_t)cfg[4] | (uint32_t)cfg[5] << 8 | (uint32_t)cfg[6] << 16 |
		    (uint32_t)cfg[7] << 24;
}

static size_t balloon_counters(const struct virtio_dev *d, struct virtio_counter *out, size_t max)
{
	const struct virtio_balloon_counters *c = &((const struct virtio_balloon *)d->priv)->c;
#define S(f) {#f, atomic_load_explicit(&c->f, memory_order_relaxed)}
	const struct virtio_counter all[] = {
		S(inflated), S(deflated), S(reported), S(bad_pfns), S(repeated), S(not_inflated),
		S(capped), S(bad_lengths), S(bad_ranges), S(discard_errors), S(stats_updates),
		S(stats_requests),
	};
#undef S
	size_t n = sizeof(all) / sizeof(all[0]) < max ? sizeof(all) / sizeof(all[0]) : max;
	memcpy(out, all, n * sizeof(all[0]));
	return n;
}

/* ---- the host side ---------------------------------------------------------------------- */

static int arm_timer(int fd, unsigned s)
{
	/* The first poll comes at once (Firecracker: "scheduled immediately"), then every s. */
	struct itimerspec t = {.it_interval = {.tv_sec = s}, .it_value = {.tv_nsec = 1}};
	return timerfd_settime(fd, 0, &t, NULL);
}

int virtio_balloon_init(struct virtio_balloon *b, const struct virtio_balloon_params *p,
			const struct guest_mem *gm, char *err, size_t errlen)
{
	b->gm = gm;
	b->p = *p;
	b->num_pages = p->target_pages;
	b->actual = 0;
	b->stats_q = b->report_q = -1;
	b->stats_held = false;
	memset(&b->stats, 0, sizeof(b->stats));
	memset(&b->c, 0, sizeof(b->c));
	b->held = 0;
	b->timer_fd = -1;
	atomic_init(&b->stats_interval_s, p->stats_interval_s);
	if (p->stats_interval_s > VIRTIO_BALLOON_STATS_INTERVAL_MAX)
		return err_set(err, errlen, "balloon: statistics interval %u s is above %u s",
			       p->stats_interval_s, VIRTIO_BALLOON_STATS_INTERVAL_MAX);
	b->ram_pages = gm->size / VIRTIO_BALLOON_PAGE; /* RAM offsets are [0, size) */
	b->bitmap = calloc(1, (size_t)((b->ram_pages + 7) / 8) + 1);
	if (!b->bitmap)
		return err_set(err, errlen, "balloon: out of memory for the page bitmap");
	b->ops = (struct virtio_dev_ops){
		.kind = "balloon",
		.device_id = VIRTIO_ID_BALLOON,
		.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
			    (1ull << VIRTIO_F_INDIRECT_DESC),
		.num_queues = 2,
		.queue_max_size = VIRTIO_BALLOON_QUEUE_SIZE,
		.config_size = VIRTIO_BALLOON_CONFIG_SIZE,
		.config_read = balloon_config_read,
		.config_write = balloon_config_write,
		.activate = balloon_activate,
		.notify = balloon_notify,
		.reset = balloon_reset,
		.queue_reset = balloon_queue_reset,
		.counters = balloon_counters,
	};
	if (p->deflate_on_oom)
		b->ops.features |= 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (p->stats_interval_s) {
		b->ops.features |= 1ull << VIRTIO_BALLOON_F_STATS_VQ;
		b->ops.num_queues++;
	}
	if (p->reporting) {
		b->ops.features |= 1ull << VIRTIO_BALLOON_F_REPORTING;
		b->ops.num_queues++;
	}
	if (p->stats_interval_s) {
		b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (b->timer_fd < 0 || arm_timer(b->timer_fd, p->stats_interval_s) < 0) {
			err_set(err, errlen, "balloon: cannot create the statistics timer: %s",
				strerror(errno));
			virtio_balloon_destroy(b);
			return -1;
		}
	}
	return 0;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	free(b->bitmap);
	b->bitmap = NULL;
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	b->timer_fd = -1;
}

int virtio_balloon_timer_fd(const struct virtio_balloon *b)
{
	return b->timer_fd;
}

void virtio_balloon_on_timer(struct virtio_balloon *b)
{
	uint64_t ticks;
	if (read(b->timer_fd, &ticks, sizeof(ticks)) != (ssize_t)sizeof(ticks))
		return;
	pthread_mutex_lock(&b->dev.lock);
	stats_request(b);
	pthread_mutex_unlock(&b->dev.lock);
}

void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages)
{
	pthread_mutex_lock(&b->dev.lock);
	if (b->num_pages != pages) {
		b->num_pages = pages;
		virtio_dev_config_changed(&b->dev);
	}
	pthread_mutex_unlock(&b->dev.lock);
}

int virtio_balloon_set_stats_interval(struct virtio_balloon *b, unsigned s, char *err,
				      size_t errlen)
{
	if (b->timer_fd < 0)
		return err_set(err, errlen, "balloon: statistics were not enabled before the boot "
			       "(stats_polling_interval_s 0): they cannot be turned on now");
	if (s == 0)
		return err_set(err, errlen, "balloon: statistics cannot be turned off after the "
			       "boot: give an interval from 1 to %u s", VIRTIO_BALLOON_STATS_INTERVAL_MAX);
	if (s > VIRTIO_BALLOON_STATS_INTERVAL_MAX)
		return err_set(err, errlen, "balloon: stats_polling_interval_s %u is above %u", s,
			       VIRTIO_BALLOON_STATS_INTERVAL_MAX);
	if (arm_timer(b->timer_fd, s) < 0)
		return err_set(err, errlen, "balloon: cannot re-arm the statistics timer: %s",
			       strerror(errno));
	atomic_store(&b->stats_interval_s, s);
	return 0;
}

void virtio_balloon_info(struct virtio_balloon *b, struct virtio_balloon_info *out)
{
	pthread_mutex_lock(&b->dev.lock);
	out->target_pages = b->num_pages;
	out->actual_pages = b->actual;
	out->stats_interval_s = atomic_load(&b->stats_interval_s);
	out->stats = b->stats;
	pthread_mutex_unlock(&b->dev.lock);
}
