/* libFuzzer target for virtio-vsock's packet handling: the device (src/devices/virtio_vsock.c)
 * and its connection multiplexer (src/vsock/mux.c, table.c) over the fake host of
 * tests/unit/vsock_fake.h, driven by an op stream.
 *
 * Input: [0] the connection limit (1..8) and EVENT_IDX/INDIRECT bits; then ops, each an
 * opcode byte and its arguments (missing bytes read as 0):
 *   0 transmit: a packet whose header fields (ports from a small set so they meet, op, type,
 *     flags, len, credit, CIDs right or not) and payload come from the input, in one or two
 *     buffers, now and then a writable buffer or a short header;
 *   1 post 1-4 receive buffers of fuzzer-chosen sizes (now and then readable or tiny);
 *   2 host activity on one stream: bytes to read, EOF, an I/O error, how much it takes,
 *     then an event with fuzzer-chosen ready bits;
 *   3 a host program connects and sends a fuzzer-chosen line;
 *   4 time passes (0-12.75 s), a tick;
 *   5 what the next guest connections meet (a listener, ECONNREFUSED, EAGAIN);
 *   6 transport reset;  7 driver reset and a new bring-up;  8 an event buffer;
 *   9 the deferred work runs.
 * Checks after every op: the table's invariants (vsock_mux_check), the host ops only ever
 * see streams the muxer owns, every packet the guest gets is from the host CID to its CID,
 * a stream, a known op, its length within the buffer, the 64 KiB limit and the used length,
 * and no data packet beyond the credit the driver last gave on that connection. Any violation
 * aborts. The credit model reads each transmitted header as the device does (the chain's first
 * 44 bytes, wherever the descriptors cut them), forgets a connection on an RST either way, and
 * follows host-initiated connections from their REQUEST (no credit until the guest answers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/vsock_fake.h"
#include "core/log.h"
#include "devices/virtio_vsock.h"
#include "fuzz_ram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (2u << 20)
#define QS 16
#define CID 3
static const uint64_t DESC[3] = { 0x1000, 0x4000, 0x7000 }, AVAIL[3] = { 0x2000, 0x5000, 0x8000 },
		      USED[3] = { 0x3000, 0x6000, 0x9000 };
#define BUF(q, i) (0x10000ull + (uint64_t)(q) * 0x80000 + (uint64_t)(i) * 0x8000) /* 32 KiB each */

static struct guest_mem *gm;
static struct virtio_vsock vs;
static struct fake_host fh;
static uint16_t drv_avail[3], drv_next[3], drv_used[3];
static uint32_t rx_cap[QS]; /* per receive descriptor: its writable bytes */
static bool ev_idx, indirect;

/* What the driver last told the device per (guest port, host port): for the credit check. */
struct credit { uint32_t gport, hport, buf_alloc, fwd_cnt, got; bool set; };
static struct credit credits[32];

static const uint8_t *in;
static size_t left;
static uint8_t take(void)
{
	if (!left)
		return 0;
	left--;
	return *in++;
}
static uint16_t take16(void) { uint16_t v = take(); return (uint16_t)(v | take() << 8); }

static void die(const char *why)
{
	fprintf(stderr, "fuzz_vsock: %s\n", why);
	abort();
}

static void wr(uint64_t gpa, const void *p, uint64_t n)
{
	if (n && gm_write(gm, gpa, p, n) < 0)
		die("test bug: write outside RAM");
}

static uint16_t get16(uint64_t gpa)
{
	uint16_t v = 0;
	gm_read(gm, gpa, &v, 2);
	return v;
}

static uint32_t get32(uint64_t gpa)
{
	uint32_t v = 0;
	gm_read(gm, gpa, &v, 4);
	return v;
}

/* Room for n descriptors on queue q (each queue completes in order). */
static bool room(int q, int n) { return (uint16_t)(drv_avail[q] - get16(USED[q] + 2)) + n <= QS; }

static void offer(int q, const uint64_t *gpa, const uint32_t *len, const bool *w, int n)
{
	uint16_t head = drv_next[q];
	for (int i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QS), next = (uint16_t)((idx + 1) % QS);
		uint16_t flags = (uint16_t)((i + 1 < n ? VQ_DESC_F_NEXT : 0) | (w[i] ? VQ_DESC_F_WRITE : 0));
		uint8_t d[16];
		memcpy(d, &gpa[i], 8);
		memcpy(d + 8, &len[i], 4);
		memcpy(d + 12, &flags, 2);
		memcpy(d + 14, &next, 2);
		wr(DESC[q] + 16ull * idx, d, 16);
		if (q == 0)
			rx_cap[idx] = w[i] ? len[i] : 0;
	}
	drv_next[q] = (uint16_t)((head + n) % QS);
	uint16_t slot = (uint16_t)(drv_avail[q] % QS);
	wr(AVAIL[q] + 4 + 2ull * slot, &head, 2);
	drv_avail[q]++;
	wr(AVAIL[q] + 2, &drv_avail[q], 2);
}

static void notify(int q)
{
	pthread_mutex_lock(&vs.dev.lock);
	if (virtio_dev_running(&vs.dev))
		vs.dev.ops->notify(&vs.dev, (uint16_t)q);
	pthread_mutex_unlock(&vs.dev.lock);
}

static struct credit *credit_for(uint32_t gport, uint32_t hport, bool create)
{
	for (unsigned i = 0; i < 32; i++)
		if (credits[i].set && credits[i].gport == gport && credits[i].hport == hport)
			return &credits[i];
	for (unsigned i = 0; create && i < 32; i++)
		if (!credits[i].set) {
			credits[i] = (struct credit){ .gport = gport, .hport = hport, .set = true };
			return &credits[i];
		}
	return NULL;
}

/* A guest packet the device will route: the credit it gives, a connection it opens or ends. */
static void model_tx(const struct vsock_hdr *h)
{
	struct credit *c = credit_for(h->src_port, h->dst_port, h->op == VSOCK_OP_REQUEST);
	if (!c)
		return;
	if (h->op == VSOCK_OP_RST) {
		c->set = false; /* the connection is gone; its ports may meet again */
		return;
	}
	if (h->op == VSOCK_OP_REQUEST)
		c->got = 0; /* a new connection (or the old one reset) */
	c->buf_alloc = h->buf_alloc;
	c->fwd_cnt = h->fwd_cnt;
}

static void op_transmit(void)
{
	static const uint32_t ports[4] = { 1024, 5000, VSOCK_LOCAL_PORT_MIN, 9 };
	uint8_t sel = take(), opb = take(), misc = take();
	struct vsock_hdr h = {
		.src_cid = sel & 0x80 ? CID + (take() & 1) : CID,
		.dst_cid = sel & 0x40 ? take() : VSOCK_HOST_CID,
		.src_port = ports[sel & 3] + (misc & 3), .dst_port = ports[(sel >> 2) & 3] + ((misc >> 2) & 3),
		.type = misc & 0x80 ? take() : VSOCK_TYPE_STREAM, .op = (uint16_t)(opb % 10),
		.flags = take(), .buf_alloc = (uint32_t)take16() << (take() & 7), .fwd_cnt = take16(),
	};
	uint32_t plen = take16() % 600, hlen = sel & 0x20 ? take() % 44 : VSOCK_HDR_LEN;
	h.len = misc & 0x40 ? take16() : (h.op == VSOCK_OP_RW ? plen : 0);
	uint8_t raw[VSOCK_HDR_LEN], payload[600];
	vsock_hdr_encode(&h, raw);
	for (uint32_t i = 0; i < plen; i++)
		payload[i] = take();
	static unsigned slot;
	uint64_t b = BUF(1, slot++ % QS);
	wr(b, raw, hlen);
	wr(b + hlen, payload, plen);
	bool split = sel & 0x10 && plen, writable = (misc & 0x30) == 0x30;
	uint64_t g[2] = { b, b + hlen };
	uint32_t l[2] = { hlen, plen };
	bool w[2] = { false, writable };
	if (!split) {
		l[0] = hlen + plen ? hlen + plen : 1;
		w[0] = writable;
	}
	if (!room(1, split ? 2 : 1))
		return;
	offer(1, g, l, w, split ? 2 : 1);
	/* What the device will believe about this connection's credit (if it routes it): the
	 * header is the chain's first 44 bytes, wherever the descriptors cut them (a short
	 * first buffer puts payload bytes into the header: the device decodes those). */
	uint8_t chain[VSOCK_HDR_LEN];
	struct vsock_hdr seen;
	uint32_t total = hlen + plen;
	for (uint32_t i = 0; i < VSOCK_HDR_LEN && i < total; i++)
		chain[i] = i < hlen ? raw[i] : payload[i - hlen];
	if (!writable && total >= VSOCK_HDR_LEN) {
		vsock_hdr_decode(chain, &seen);
		if (vsock_check_tx(&seen, total - VSOCK_HDR_LEN, CID) == VSOCK_PKT_OK)
			model_tx(&seen);
	}
	notify(1);
}

static void op_post_rx(void)
{
	int n = 1 + take() % 4;
	for (int i = 0; i < n && room(0, 1); i++) {
		uint8_t k = take();
		uint64_t g = BUF(0, drv_next[0]);
		uint32_t l = k & 0x80 ? (uint32_t)(k & 0x3f) + 1 : 44 + (uint32_t)take16() % 0x7f00;
		bool w = (k & 0x60) != 0x60;
		offer(0, &g, &l, &w, 1);
	}
	notify(0);
}

static void op_host(void)
{
	uint8_t which = take(), how = take(), n = take() % 80;
	struct fake_stream *s = &fh.s[which % FAKE_STREAMS];
	if (!s->used || s->closed)
		return;
	uint8_t buf[80];
	for (unsigned i = 0; i < n; i++)
		buf[i] = take();
	fake_feed(&fh, FAKE_FD0 + (int)(s - fh.s), buf, n);
	s->eof |= how & 1;
	s->fail_io = how & 2;
	s->out_cap = how & 4 ? FAKE_DATA : (size_t)take16() % FAKE_DATA;
	s->discard = how & 8;
	pthread_mutex_lock(&vs.dev.lock);
	vsock_mux_host_event(&vs.mux, s->id, (how >> 4) & 7);
	pthread_mutex_unlock(&vs.dev.lock);
}

static void op_accept(void)
{
	int fd = fake_new(&fh);
	if (fd < 0 || fh.naccept == 16)
		return;
	uint8_t n = take() % 24, line[24];
	static const char pre[] = "CONNECT 1024\n";
	if (n < 4) {
		fake_feed(&fh, fd, pre, sizeof(pre) - 1); /* a good line, mostly */
	} else {
		for (unsigned i = 0; i < n; i++)
			line[i] = take();
		fake_feed(&fh, fd, line, n);
	}
	fh.accept_q[fh.naccept++] = fd;
	pthread_mutex_lock(&vs.dev.lock);
	vsock_mux_accept_ready(&vs.mux);
	if (fh.s[fd - FAKE_FD0].used && !fh.s[fd - FAKE_FD0].closed && fh.s[fd - FAKE_FD0].want)
		vsock_mux_host_event(&vs.mux, fh.s[fd - FAKE_FD0].id, VSOCK_WANT_IN);
	pthread_mutex_unlock(&vs.dev.lock);
}

static void bring_up(void)
{
	vs.dev.driver_features = virtio_vsock_ops.features &
				 ~((ev_idx ? 0 : 1ull << VIRTIO_F_EVENT_IDX) | (indirect ? 0 : 1ull << VIRTIO_F_INDIRECT_DESC));
	vs.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	memset(gm_ptr(gm, 0, 0x10000), 0, 0x10000); /* the rings */
	memset(drv_avail, 0, sizeof(drv_avail));
	memset(drv_next, 0, sizeof(drv_next));
	memset(drv_used, 0, sizeof(drv_used));
	memset(credits, 0, sizeof(credits));
	for (int q = 0; q < 3; q++)
		if (vq_enable(&vs.dev.vq[q], gm, QS, DESC[q], AVAIL[q], USED[q], ev_idx, indirect) < 0)
			die("test bug: vq_enable");
	pthread_mutex_lock(&vs.dev.lock);
	vs.dev.ops->activate(&vs.dev);
	pthread_mutex_unlock(&vs.dev.lock);
}

static void op_driver_reset(void)
{
	pthread_mutex_lock(&vs.dev.lock);
	vs.dev.ops->reset(&vs.dev);
	for (int q = 0; q < 3; q++)
		vq_reset(&vs.dev.vq[q]);
	vs.dev.status = 0;
	pthread_mutex_unlock(&vs.dev.lock);
	virtio_vsock_work(&vs);
	bring_up();
}

/* Every packet the device delivered since the last look. */
static void check_rx(void)
{
	uint16_t used = get16(USED[0] + 2);
	for (; drv_used[0] != used; drv_used[0]++) {
		uint16_t i = drv_used[0] % QS;
		uint32_t id = get32(USED[0] + 4 + 8ull * i), len = get32(USED[0] + 8 + 8ull * i);
		if (id >= QS)
			die("used id out of range");
		uint8_t raw[VSOCK_HDR_LEN];
		gm_read(gm, BUF(0, id), raw, sizeof(raw));
		struct vsock_hdr h;
		vsock_hdr_decode(raw, &h);
		if (len != VSOCK_HDR_LEN + h.len || len > rx_cap[id])
			die("used length differs from the header or exceeds the buffer");
		if (h.src_cid != VSOCK_HOST_CID || h.dst_cid != CID || h.type != VSOCK_TYPE_STREAM ||
		    h.op == VSOCK_OP_INVALID || h.op > VSOCK_OP_CREDIT_REQUEST || h.len > VSOCK_MAX_PKT ||
		    (h.len && h.op != VSOCK_OP_RW) || (h.op == VSOCK_OP_RW && !h.len))
			die("a malformed packet for the guest");
		struct credit *c = credit_for(h.dst_port, h.src_port, false);
		if (h.op == VSOCK_OP_RW && c) {
			c->got += h.len; /* bytes the device sent on it, all time */
			if (c->got - c->fwd_cnt > c->buf_alloc)
				die("data beyond the credit the driver gave");
		}
		if (c && (h.op == VSOCK_OP_RST))
			c->set = false;
		if (h.op == VSOCK_OP_REQUEST) { /* host-initiated: no credit until the guest answers */
			c = credit_for(h.dst_port, h.src_port, true);
			if (c)
				*c = (struct credit){ .gport = h.dst_port, .hport = h.src_port, .set = true };
		}
	}
}

static void check(void)
{
	const char *why = vsock_mux_check(&vs.mux);
	if (why)
		die(why);
	if (fh.bad_calls)
		die("the host ops were given a stream the muxer does not own");
	check_rx();
}

static void no_defer(void *ctx) { (void)ctx; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	if (size < 1)
		return 0;
	if (!gm) {
		gm = fuzz_ram(RAM, "fuzz_vsock");
		log_set_level(LOG_OFF);
	}
	in = data + 1;
	left = size - 1;
	ev_idx = data[0] & 0x10;
	indirect = data[0] & 0x20;
	memset(&fh, 0, sizeof(fh));
	if (virtio_vsock_init(&vs, CID, 1 + (data[0] & 7), &fake_ops, &fh, err, sizeof(err)) < 0)
		die("virtio_vsock_init");
	virtio_dev_init(&vs.dev, &virtio_vsock_ops, &vs, "virtio-vsock-fuzz", gm, NULL);
	if (!(data[0] & 0x40))
		vs.defer = no_defer; /* the work waits for op 9 (or the next entry) */
	bring_up();
	for (unsigned steps = 0; left && steps < 400; steps++) {
		switch (take() % 10) {
		case 0: op_transmit(); break;
		case 1: op_post_rx(); break;
		case 2: op_host(); break;
		case 3: op_accept(); break;
		case 4:
			fh.now += (uint64_t)take() * 50;
			pthread_mutex_lock(&vs.dev.lock);
			vsock_mux_tick(&vs.mux);
			pthread_mutex_unlock(&vs.dev.lock);
			break;
		case 5: {
			static const int r[4] = { 0, -ECONNREFUSED, -EAGAIN, 0 };
			fh.connect_result = r[take() & 3];
			break;
		}
		case 6:
			virtio_vsock_transport_reset(&vs);
			memset(credits, 0, sizeof(credits));
			break;
		case 7: op_driver_reset(); break;
		case 8:
			if (room(2, 1)) {
				uint64_t g = BUF(2, drv_next[2]);
				uint32_t l = 1 + take() % 8;
				bool w = true;
				offer(2, &g, &l, &w, 1);
				notify(2);
			}
			break;
		case 9: virtio_vsock_work(&vs); break;
		}
		check();
	}
	virtio_vsock_destroy(&vs);
	virtio_dev_destroy(&vs.dev);
	if (fh.bad_calls)
		die("destroy: a stream the muxer does not own");
	return 0;
}
