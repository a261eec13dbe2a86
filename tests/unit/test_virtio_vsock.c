/* Unit tests for virtio-vsock (src/devices/virtio_vsock.c) without a transport or sockets: the
 * fake host of vsock_fake.h and a tiny in-test driver that lays out the three split rings in
 * guest RAM. Covers: features and configuration space, a guest connection end to end through
 * the rings (header copied, payload to the host, answer into a receive buffer), a receive
 * buffer given back when nothing was there after all, hostile transmit packets dropped and
 * counted (with RSTs where owed), structural errors failing the device (writable transmit
 * buffer, readable or too small receive buffer, bad event buffer), the deferred start/reset
 * work, the transport-reset event (now, later, once), the snapshot state round trip and its
 * refusals, and the counters the metrics show. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "devices/virtio_vsock.h"
#include "guest_ram.h"
#include "test.h"
#include "vsock_fake.h"

#define RAM (4ull << 20)
#define QSIZE 16
#define CID 7
static const uint64_t DESC[3] = { 0x1000, 0x4000, 0x7000 }, AVAIL[3] = { 0x2000, 0x5000, 0x8000 },
		      USED[3] = { 0x3000, 0x6000, 0x9000 };
#define BUF(q, i) (0x100000ull + (uint64_t)(q) * 0x100000 + (uint64_t)(i) * 0x11000)

static struct virtio_vsock vs;
static struct fake_host fh;
static bool live;
static uint16_t drv_avail[3], drv_next[3], drv_used[3];
static int defers, irqs;

static void fake_irq(void *ctx, unsigned gsi, int level) { (void)ctx; (void)gsi; irqs += level; }
static void fake_defer(void *ctx) { (void)ctx; defers++; }

static void setup(void)
{
	const struct gm_region r[] = { { .gpa = 0, .size = RAM } };
	const struct irq_line irq = { .set = fake_irq, .gsi = 9 };
	char err[128];
	if (live) {
		virtio_vsock_destroy(&vs);
		virtio_dev_destroy(&vs.dev);
		gm_destroy(&gm);
	}
	memset(&fh, 0, sizeof(fh));
	CHECK_EQ(gm_create(&gm, r, 1, err, sizeof(err)), 0);
	CHECK_EQ(virtio_vsock_init(&vs, CID, 8, &fake_ops, &fh, err, sizeof(err)), 0);
	virtio_dev_init(&vs.dev, &virtio_vsock_ops, &vs, "virtio-vsock", &gm, &irq);
	live = true;
	defers = irqs = 0;
	memset(drv_avail, 0, sizeof(drv_avail));
	memset(drv_next, 0, sizeof(drv_next));
	memset(drv_used, 0, sizeof(drv_used));
}

static void start(void)
{
	vs.dev.driver_features = virtio_vsock_ops.features;
	vs.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	for (int q = 0; q < 3; q++)
		CHECK_EQ(vq_enable(&vs.dev.vq[q], &gm, QSIZE, DESC[q], AVAIL[q], USED[q], true, true), 0);
	pthread_mutex_lock(&vs.dev.lock);
	CHECK_EQ(vs.dev.ops->activate(&vs.dev), 0);
	pthread_mutex_unlock(&vs.dev.lock);
	CHECK(fh.listening); /* no defer hook: the work was done at once */
}

struct seg { uint64_t gpa; uint32_t len; bool w; };

static uint16_t offer(int q, const struct seg *s, int n)
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
		CHECK_EQ(gm_write(&gm, DESC[q] + 16ull * idx, d, 16), 0);
	}
	drv_next[q] = (uint16_t)((head + n) % QSIZE);
	put16(AVAIL[q] + 4 + 2ull * (drv_avail[q] % QSIZE), head);
	drv_avail[q]++;
	put16(AVAIL[q] + 2, drv_avail[q]);
	return head;
}

static void kick(int q)
{
	pthread_mutex_lock(&vs.dev.lock);
	if (virtio_dev_running(&vs.dev))
		vs.dev.ops->notify(&vs.dev, (uint16_t)q);
	pthread_mutex_unlock(&vs.dev.lock);
}

static uint16_t used_idx(int q) { return get16(USED[q] + 2); }
static bool failed(void) { return vs.dev.status & VIRTIO_STATUS_NEEDS_RESET; }

/* A guest packet on the transmit queue: header (and payload) in one or two buffers. */
static void tx(uint32_t sport, uint32_t dport, uint16_t op, const void *data, uint32_t len,
	       bool split)
{
	static unsigned slot;
	struct vsock_hdr h = { .src_cid = CID, .dst_cid = VSOCK_HOST_CID, .src_port = sport,
			       .dst_port = dport, .len = len, .type = VSOCK_TYPE_STREAM, .op = op,
			       .buf_alloc = 65536 };
	uint8_t raw[VSOCK_HDR_LEN];
	vsock_hdr_encode(&h, raw);
	uint64_t b = BUF(1, slot++ % QSIZE);
	CHECK_EQ(gm_write(&gm, b, raw, sizeof(raw)), 0);
	if (len)
		CHECK_EQ(gm_write(&gm, b + VSOCK_HDR_LEN, data, len), 0);
	if (split && len) {
		struct seg s[2] = { { b, VSOCK_HDR_LEN, false }, { b + VSOCK_HDR_LEN, len, false } };
		offer(1, s, 2);
	} else {
		struct seg s = { b, VSOCK_HDR_LEN + len, false };
		offer(1, &s, 1);
	}
	kick(1);
}

/* Posts n receive buffers of len bytes each (as header + payload descriptors when split). */
static void post_rx(int n, uint32_t len, bool split)
{
	for (int i = 0; i < n; i++) {
		uint64_t b = BUF(0, (drv_next[0] + i) % QSIZE);
		if (split) {
			struct seg s[2] = { { b, VSOCK_HDR_LEN, true }, { b + VSOCK_HDR_LEN, len - VSOCK_HDR_LEN, true } };
			offer(0, s, 2);
		} else {
			struct seg s = { b, len, true };
			offer(0, &s, 1);
		}
	}
	kick(0);
}

/* The next used receive buffer: 1 with its header (and payload copied to data), 0 if none. */
static int rx(struct vsock_hdr *h, uint8_t *data)
{
	if (used_idx(0) == drv_used[0])
		return 0;
	uint16_t i = drv_used[0]++;
	uint32_t id = get32(USED[0] + 4 + 8ull * (i % QSIZE)), len = get32(USED[0] + 8 + 8ull * (i % QSIZE));
	uint8_t d[16];
	CHECK_EQ(gm_read(&gm, DESC[0] + 16ull * id, d, 16), 0);
	uint64_t gpa;
	memcpy(&gpa, d, 8);
	uint8_t raw[VSOCK_HDR_LEN];
	CHECK_EQ(gm_read(&gm, gpa, raw, sizeof(raw)), 0);
	vsock_hdr_decode(raw, h);
	CHECK_EQ(len, VSOCK_HDR_LEN + h->len);
	if (data && h->len)
		CHECK_EQ(gm_read(&gm, gpa + VSOCK_HDR_LEN, data, h->len), 0); /* contiguous in BUF */
	return 1;
}

static void features_and_config(void)
{
	setup();
	CHECK_EQ(virtio_vsock_ops.device_id, (uint32_t)VIRTIO_ID_VSOCK);
	CHECK_EQ(virtio_vsock_ops.num_queues, 3);
	CHECK(virtio_vsock_ops.features & (1ull << VIRTIO_F_VERSION_1));
	CHECK(virtio_vsock_ops.features & (1ull << VIRTIO_VSOCK_F_STREAM));
	CHECK(!(virtio_vsock_ops.features & (1ull << VIRTIO_VSOCK_F_SEQPACKET)));
	uint8_t c[12];
	memset(c, 0xee, sizeof(c));
	vs.dev.ops->config_read(&vs.dev, 0, c, 8);
	CHECK(c[0] == CID && c[1] == 0 && c[7] == 0);
	vs.dev.ops->config_read(&vs.dev, 4, c, 8); /* the upper half, then nothing */
	CHECK(c[0] == 0 && c[4] == 0 && c[7] == 0);
	char err[128];
	struct virtio_vsock other;
	CHECK_EQ(virtio_vsock_init(&other, 2, 8, &fake_ops, &fh, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "CID 2");
	CHECK_EQ(virtio_vsock_init(&other, 0x100000000ull, 8, &fake_ops, &fh, err, sizeof(err)), -1);
}

static void connection_through_the_rings(void)
{
	setup();
	start();
	struct vsock_hdr h;
	static uint8_t data[65536];
	tx(1024, 5000, VSOCK_OP_REQUEST, NULL, 0, false);
	CHECK_EQ(used_idx(1), 1); /* the transmit chain went back */
	CHECK_EQ(rx(&h, NULL), 0); /* no receive buffer yet: the RESPONSE waits */
	post_rx(4, VSOCK_HDR_LEN + 4096, true);
	CHECK_EQ(rx(&h, NULL), 1);
	CHECK(h.op == VSOCK_OP_RESPONSE && h.src_port == 5000 && h.dst_port == 1024 && h.dst_cid == CID);
	int fd = FAKE_FD0;
	CHECK(fh.s[0].used);
	tx(1024, 5000, VSOCK_OP_RW, "ping!", 5, true);
	CHECK(fh.s[0].out_len == 5 && !memcmp(fh.s[0].out, "ping!", 5));
	/* Host data arrives while buffers wait: straight into one of them. */
	for (int i = 0; i < 3000; i++)
		data[i] = (uint8_t)(i * 7);
	fake_feed(&fh, fd, data, 3000);
	pthread_mutex_lock(&vs.dev.lock);
	vsock_mux_host_event(&vs.mux, fh.s[0].id, VSOCK_WANT_IN); /* its kick runs rx */
	pthread_mutex_unlock(&vs.dev.lock);
	memset(data, 0, 3000);
	CHECK_EQ(rx(&h, data), 1);
	CHECK(h.op == VSOCK_OP_RW && h.len == 3000 && data[2999] == (uint8_t)(2999 * 7));
	CHECK_EQ(rx(&h, NULL), 0);
	CHECK_EQ(atomic_load(&vs.dev.bytes_in), 3000ul);
	CHECK_EQ(atomic_load(&vs.dev.bytes_out), 5ul);
	CHECK(irqs > 0);
	CHECK(!failed());
	/* The counters the metrics show. */
	struct virtio_counter cs[32];
	size_t n = vs.dev.ops->counters(&vs.dev, cs, 32);
	bool found = false;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cs[i].name, "conns_guest"))
			found = cs[i].value == 1;
	CHECK(found && n >= 10);
	CHECK_EQ(vs.dev.ops->counters(&vs.dev, cs, 3), 3u);
}

/* A readable host stream that gives nothing (EAGAIN) after the chain was popped: the chain
 * goes back untouched and serves the next packet. */
static void receive_buffer_given_back(void)
{
	setup();
	start();
	struct vsock_hdr h;
	post_rx(1, VSOCK_HDR_LEN + 4096, false);
	tx(2000, 5000, VSOCK_OP_REQUEST, NULL, 0, false);
	CHECK_EQ(rx(&h, NULL), 1);
	pthread_mutex_lock(&vs.dev.lock);
	vsock_mux_host_event(&vs.mux, fh.s[0].id, VSOCK_WANT_IN); /* nothing to read after all */
	pthread_mutex_unlock(&vs.dev.lock);
	CHECK_EQ(used_idx(0), 1); /* nothing pushed */
	post_rx(1, VSOCK_HDR_LEN + 4096, false);
	fake_feed(&fh, FAKE_FD0, "abc", 3);
	pthread_mutex_lock(&vs.dev.lock);
	vsock_mux_host_event(&vs.mux, fh.s[0].id, VSOCK_WANT_IN);
	pthread_mutex_unlock(&vs.dev.lock);
	CHECK_EQ(rx(&h, NULL), 1);
	CHECK(h.op == VSOCK_OP_RW && h.len == 3);
	CHECK(!failed());
}

/* The header is the chain's first 44 bytes wherever the descriptors cut them: a REQUEST cut
 * at byte 36 carries its credit (buf_alloc 30) in the second buffer, and the device holds
 * to exactly that credit (the fuzz_vsock finding: its model had read the cut differently). */
static void header_cut_anywhere(void)
{
	setup();
	start();
	struct vsock_hdr h = { .src_cid = CID, .dst_cid = VSOCK_HOST_CID, .src_port = 1024,
			       .dst_port = 5000, .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_REQUEST,
			       .buf_alloc = 30, .fwd_cnt = 0 };
	uint8_t raw[VSOCK_HDR_LEN], data[100] = { 0 };
	vsock_hdr_encode(&h, raw);
	uint64_t a = BUF(1, 0), b = BUF(1, 3);
	CHECK_EQ(gm_write(&gm, a, raw, 36), 0);
	CHECK_EQ(gm_write(&gm, b, raw + 36, 8), 0);
	struct seg s[2] = { { a, 36, false }, { b, 8, false } };
	offer(1, s, 2);
	kick(1);
	post_rx(4, VSOCK_HDR_LEN + 4096, false);
	CHECK_EQ(rx(&h, NULL), 1);
	CHECK_EQ(h.op, VSOCK_OP_RESPONSE);
	fake_feed(&fh, FAKE_FD0, data, sizeof(data));
	pthread_mutex_lock(&vs.dev.lock);
	vsock_mux_host_event(&vs.mux, fh.s[0].id, VSOCK_WANT_IN);
	pthread_mutex_unlock(&vs.dev.lock);
	CHECK_EQ(rx(&h, NULL), 1);
	CHECK(h.op == VSOCK_OP_RW && h.len == 30);
	CHECK_EQ(rx(&h, NULL), 1);
	CHECK_EQ(h.op, VSOCK_OP_CREDIT_REQUEST);
	CHECK_EQ(rx(&h, NULL), 0);
	CHECK(!failed());
}

/* A credit update goes out right after the guest packet that made it due, not after the
 * whole batch: eight 64 KiB packets in one notification to a fast host reader get two
 * (after 192 and 384 KiB, each when the guest's view of mote's 256 KiB was half gone), where
 * a batch-end update would be one (512 KiB), after the guest had stopped for want of credit. */
static void credit_update_mid_batch(void)
{
	setup();
	start();
	struct vsock_hdr h;
	static uint8_t data[65536];
	post_rx(8, VSOCK_HDR_LEN + 4096, false);
	tx(1030, 5000, VSOCK_OP_REQUEST, NULL, 0, false);
	CHECK_EQ(rx(&h, NULL), 1);
	CHECK_EQ(h.op, VSOCK_OP_RESPONSE);
	fh.s[0].discard = true;
	struct vsock_hdr p = { .src_cid = CID, .dst_cid = VSOCK_HOST_CID, .src_port = 1030,
			       .dst_port = 5000, .len = sizeof(data), .type = VSOCK_TYPE_STREAM,
			       .op = VSOCK_OP_RW, .buf_alloc = 65536 };
	uint8_t raw[VSOCK_HDR_LEN];
	vsock_hdr_encode(&p, raw);
	for (int i = 0; i < 8; i++) {
		uint64_t b = BUF(1, 4 + i);
		CHECK_EQ(gm_write(&gm, b, raw, sizeof(raw)), 0);
		CHECK_EQ(gm_write(&gm, b + VSOCK_HDR_LEN, data, sizeof(data)), 0);
		struct seg sg = { b, VSOCK_HDR_LEN + sizeof(data), false };
		offer(1, &sg, 1);
	}
	kick(1);
	CHECK_EQ(fh.s[0].out_total, 8ull * sizeof(data));
	uint32_t seen[4] = { 0 };
	int n = 0;
	while (rx(&h, NULL) && n < 4)
		if (h.op == VSOCK_OP_CREDIT_UPDATE)
			seen[n++] = h.fwd_cnt;
	CHECK_EQ(n, 2);
	CHECK(seen[0] == 3u * 65536 && seen[1] == 6u * 65536);
	CHECK(!failed());
}

static void hostile_packets_dropped(void)
{
	setup();
	start();
	struct vsock_hdr h;
	post_rx(8, VSOCK_HDR_LEN + 256, false);
	/* Shorter than a header: dropped. */
	CHECK_EQ(gm_write(&gm, BUF(1, 15), "short", 5), 0);
	struct seg s = { BUF(1, 15), 5, false };
	offer(1, &s, 1);
	kick(1);
	CHECK_EQ(atomic_load(&vs.mux.stats.dropped), 1ul);
	/* Spoofed source: dropped, no answer. */
	struct vsock_hdr bad = { .src_cid = CID + 1, .dst_cid = 2, .src_port = 1, .dst_port = 2,
				 .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_REQUEST };
	uint8_t raw[VSOCK_HDR_LEN];
	vsock_hdr_encode(&bad, raw);
	CHECK_EQ(gm_write(&gm, BUF(1, 14), raw, sizeof(raw)), 0);
	struct seg s2 = { BUF(1, 14), VSOCK_HDR_LEN, false };
	offer(1, &s2, 1);
	kick(1);
	CHECK_EQ(atomic_load(&vs.mux.stats.dropped), 2ul);
	CHECK_EQ(fh.connects, 0u);
	CHECK_EQ(rx(&h, NULL), 0);
	/* A length beyond the buffer: dropped, and an RST for its ports. */
	bad.src_cid = CID;
	bad.op = VSOCK_OP_RW;
	bad.len = 100;
	vsock_hdr_encode(&bad, raw);
	CHECK_EQ(gm_write(&gm, BUF(1, 13), raw, sizeof(raw)), 0);
	struct seg s3 = { BUF(1, 13), VSOCK_HDR_LEN + 10, false };
	offer(1, &s3, 1);
	kick(1);
	CHECK_EQ(rx(&h, NULL), 1);
	CHECK(h.op == VSOCK_OP_RST && h.src_port == 2 && h.dst_port == 1);
	CHECK_EQ(atomic_load(&vs.mux.stats.dropped), 3ul);
	CHECK_EQ(atomic_load(&vs.dev.io_errors), 3ul);
	CHECK(!failed());
}

static void structural_errors_fail_the_device(void)
{
	setup();
	start();
	struct seg s[2] = { { BUF(1, 0), VSOCK_HDR_LEN, false }, { BUF(1, 1), 64, true } };
	offer(1, s, 2);
	kick(1);
	CHECK(failed());
	CHECK_EQ(atomic_load(&vs.dev.guest_errors), 1ul);

	setup();
	start();
	struct seg r = { BUF(0, 0), 64, false }; /* a receive buffer the device could only read */
	offer(0, &r, 1);
	kick(0);
	CHECK(!failed()); /* not used until there is something to say */
	tx(3, 5000, VSOCK_OP_REQUEST, NULL, 0, false);
	CHECK(failed());

	setup();
	start();
	struct seg r2 = { BUF(0, 0), 20, true }; /* smaller than the header */
	offer(0, &r2, 1);
	tx(3, 5000, VSOCK_OP_REQUEST, NULL, 0, false);
	CHECK(failed());

	setup();
	start();
	struct seg e = { BUF(2, 0), 2, true }; /* an event buffer of 2 bytes */
	offer(2, &e, 1);
	virtio_vsock_transport_reset(&vs);
	CHECK(failed());
}

static void work_is_deferred(void)
{
	setup();
	vs.defer = fake_defer;
	vs.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	for (int q = 0; q < 3; q++)
		CHECK_EQ(vq_enable(&vs.dev.vq[q], &gm, QSIZE, DESC[q], AVAIL[q], USED[q], false, false), 0);
	pthread_mutex_lock(&vs.dev.lock);
	vs.dev.ops->activate(&vs.dev);
	pthread_mutex_unlock(&vs.dev.lock);
	CHECK_EQ(defers, 1);
	CHECK(!fh.listening); /* nothing happened on the "vCPU thread" */
	virtio_vsock_work(&vs);
	CHECK(fh.listening);
	post_rx(2, VSOCK_HDR_LEN + 64, false);
	tx(1, 5000, VSOCK_OP_REQUEST, NULL, 0, false);
	CHECK(fh.s[0].used && !fh.s[0].closed);
	pthread_mutex_lock(&vs.dev.lock);
	vs.dev.ops->reset(&vs.dev);
	pthread_mutex_unlock(&vs.dev.lock);
	CHECK_EQ(defers, 2);
	CHECK(!fh.s[0].closed);
	virtio_vsock_work(&vs);
	CHECK(fh.s[0].closed && !fh.listening);
}

static uint32_t event_id(uint16_t i)
{
	uint32_t id = get32(USED[2] + 4 + 8ull * (i % QSIZE));
	uint8_t d[16];
	CHECK_EQ(gm_read(&gm, DESC[2] + 16ull * id, d, 16), 0);
	uint64_t gpa;
	memcpy(&gpa, d, 8);
	CHECK_EQ(get32(USED[2] + 8 + 8ull * (i % QSIZE)), 4u);
	return get32(gpa);
}

static void transport_reset_event(void)
{
	setup();
	start();
	post_rx(4, VSOCK_HDR_LEN + 64, false);
	tx(11, 5000, VSOCK_OP_REQUEST, NULL, 0, false);
	CHECK(fh.s[0].used && !fh.s[0].closed);
	/* No event buffer yet: the event waits; connections go at once. */
	virtio_vsock_transport_reset(&vs);
	CHECK(fh.s[0].closed);
	CHECK(fh.listening); /* still accepting */
	CHECK(vs.event_pending);
	CHECK_EQ(used_idx(2), 0);
	virtio_vsock_transport_reset(&vs); /* again before delivery: still one event */
	for (int i = 0; i < 3; i++) {
		uint64_t b = BUF(2, i);
		CHECK_EQ(gm_write(&gm, b, "\xff\xff\xff\xff", 4), 0);
		struct seg s = { b, 4, true };
		offer(2, &s, 1);
	}
	kick(2);
	CHECK_EQ(used_idx(2), 1);
	CHECK_EQ(event_id(0), (uint32_t)VSOCK_EVENT_TRANSPORT_RESET);
	CHECK(!vs.event_pending);
	kick(2);
	CHECK_EQ(used_idx(2), 1);
	/* Buffers waiting: the next reset's event goes at once. */
	virtio_vsock_transport_reset(&vs);
	CHECK_EQ(used_idx(2), 2);
	CHECK(!failed());
	/* A driver reset forgets an undelivered event. */
	vs.event_pending = true;
	pthread_mutex_lock(&vs.dev.lock);
	vs.dev.ops->reset(&vs.dev);
	pthread_mutex_unlock(&vs.dev.lock);
	CHECK(!vs.event_pending);
}

static void snapshot_state(void)
{
	setup();
	struct snap_out o;
	char err[256];
	snap_out_init(&o);
	vs.event_pending = true;
	vs.dev.ops->save(&vs.dev, &o);
	CHECK(snap_out_ok(&o));
	CHECK_EQ(o.len, 13u);
	/* Round trip into a fresh device of the same configuration. */
	setup();
	struct snap_in in;
	snap_in_init(&in, o.buf, o.len);
	CHECK_EQ(vs.dev.ops->load(&vs.dev, &in, err, sizeof(err)), 0);
	CHECK(vs.event_pending);
	/* Garbage: each refused with a reason, nothing applied. */
	uint8_t bad[16];
	const struct { size_t off; uint8_t v; size_t len; const char *why; } cases[] = {
		{ 0, 2, 13, "version 2" },          /* version */
		{ 4, CID + 1, 13, "guest CID 8" },  /* another CID */
		{ 12, 7, 13, "bad event flag 7" },  /* flag */
		{ 0, 1, 12, "truncated" },
		{ 0, 1, 14, "longer than expected" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(bad, 0, sizeof(bad));
		memcpy(bad, o.buf, o.len);
		bad[cases[i].off] = cases[i].v;
		vs.event_pending = false;
		snap_in_init(&in, bad, cases[i].len);
		err[0] = 0;
		CHECK_EQ(vs.dev.ops->load(&vs.dev, &in, err, sizeof(err)), -1);
		CHECK_STR_CONTAINS(err, cases[i].why);
		CHECK(!vs.event_pending);
	}
	snap_out_free(&o);
}

int main(void)
{
	test_suite_name = "virtio_vsock";
	log_set_level(LOG_ERROR); /* guest errors are expected here */
	RUN(features_and_config);
	RUN(connection_through_the_rings);
	RUN(receive_buffer_given_back);
	RUN(header_cut_anywhere);
	RUN(credit_update_mid_batch);
	RUN(hostile_packets_dropped);
	RUN(structural_errors_fail_the_device);
	RUN(work_is_deferred);
	RUN(transport_reset_event);
	RUN(snapshot_state);
	if (live) {
		virtio_vsock_destroy(&vs);
		virtio_dev_destroy(&vs.dev);
		gm_destroy(&gm);
	}
	TEST_MAIN_END();
}
