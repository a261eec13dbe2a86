/* Unit tests for virtio-net (src/devices/virtio_net.c) without a transport or a tap: a fake
 * backend (a queue of frames in, a record of frames out) and a tiny in-test driver that lays
 * out both split rings in guest RAM. Covers: offered features follow the backend's offloads,
 * the configuration space, activation (TUNSETOFFLOAD flags, inconsistent features), transmit
 * (the checked header copy reaches the backend, bad headers dropped and counted, a writable
 * buffer fails the device), receive (no buffers: nothing read and the watch goes off;
 * single buffer; MRG_RXBUF across buffers with num_buffers; a frame held until buffers come;
 * drop without MRG; a buffer smaller than the header fails the device), the header checks as
 * a table, the external data-path hooks, and the activation/reset work deferred to the I/O
 * thread (virtio_net_work). */
#include <errno.h>
#include <linux/if_tun.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "devices/virtio_net.h"
#include "guest_ram.h"
#include "test.h"

#define RAM (4ull << 20)
#define QSIZE 16
#define RX 0
#define TX 1
static const uint64_t DESC[2] = { 0x1000, 0x4000 }, AVAIL[2] = { 0x2000, 0x5000 },
		      USED[2] = { 0x3000, 0x6000 };
#define DATA_GPA 0x10000ull

#define F(b) (1ull << (b))
#define BASE_F (F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_MTU))

/* ---- the fake backend ---- */
struct fake {
	uint8_t in[8][70000];
	size_t in_len[8];
	int nin, in_head;
	uint8_t out[70000];
	size_t out_len;
	int nout;
	unsigned offload;
	int send_err;
};
static struct fake fk;

static ssize_t fk_recv(void *be, const struct iovec *iov, int iovcnt)
{
	(void)be;
	if (fk.in_head == fk.nin)
		return -EAGAIN;
	size_t len = fk.in_len[fk.in_head];
	uint8_t *src = fk.in[fk.in_head++];
	size_t done = 0;
	for (int i = 0; i < iovcnt && done < len; i++) {
		size_t k = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;
		memcpy(iov[i].iov_base, src + done, k);
		done += k;
	}
	return done < len ? -EMSGSIZE : (ssize_t)len;
}

static int fk_send(void *be, const struct iovec *iov, int iovcnt)
{
	(void)be;
	fk.out_len = 0;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(fk.out + fk.out_len, iov[i].iov_base, iov[i].iov_len);
		fk.out_len += iov[i].iov_len;
	}
	fk.nout++;
	return fk.send_err;
}

static int fk_fd(void *be) { (void)be; return -1; }
static int fk_offload(void *be, unsigned f) { (void)be; fk.offload = f; return 0; }
static void fk_close(void *be) { (void)be; }
static const struct net_backend_ops fk_ops = { fk_recv, fk_send, fk_fd, fk_offload, fk_close };

/* Queues a received frame: a zero header then len bytes (i * 3 + seed). */
static void fk_push(size_t len, uint8_t seed)
{
	uint8_t *p = fk.in[fk.nin];
	memset(p, 0, VIRTIO_NET_HDR_LEN);
	for (size_t i = 0; i < len; i++)
		p[VIRTIO_NET_HDR_LEN + i] = (uint8_t)(i * 3 + seed);
	fk.in_len[fk.nin++] = VIRTIO_NET_HDR_LEN + len;
}

/* ---- the device and the driver ---- */
static struct virtio_net net;
static bool live;
static uint16_t drv_avail[2], drv_next[2];
static int irqs, watch_on, watch_off, dp_starts, dp_stops, dp_result;

static void fake_irq(void *ctx, unsigned gsi, int level) { (void)ctx; (void)gsi; irqs += level; }
static void fake_watch(void *ctx, bool on) { (void)ctx; on ? watch_on++ : watch_off++; }
static int fake_dp_start(void *ctx) { (void)ctx; dp_starts++; return dp_result; }
static void fake_dp_stop(void *ctx) { (void)ctx; dp_stops++; }

static void setup(unsigned offloads, const uint8_t *mac, unsigned mtu)
{
	const struct gm_region r[] = { { .gpa = 0, .size = RAM } };
	const struct irq_line irq = { .set = fake_irq, .gsi = 5 };
	char err[128];

	if (live) {
		virtio_net_destroy(&net);
		virtio_dev_destroy(&net.dev);
		gm_destroy(&gm);
	}
	memset(&fk, 0, sizeof(fk));
	CHECK_EQ(gm_create(&gm, r, 1, err, sizeof(err)), 0);
	struct net_backend be = { .ops = &fk_ops, .vnet_hdr_len = VIRTIO_NET_HDR_LEN, .mtu = mtu,
				  .offloads = offloads };
	snprintf(be.ifname, sizeof(be.ifname), "tap-test");
	CHECK_EQ(virtio_net_init(&net, &be, mac, err, sizeof(err)), 0);
	CHECK(be.ops == NULL); /* taken */
	virtio_dev_init(&net.dev, &net.ops, &net, "virtio-net0", &gm, &irq);
	net.rx_watch = fake_watch;
	live = true;
	irqs = watch_on = watch_off = dp_starts = dp_stops = 0;
	memset(drv_avail, 0, sizeof(drv_avail));
	memset(drv_next, 0, sizeof(drv_next));
}

/* Negotiates features, enables both queues, DRIVER_OK and activate. */
static int start(uint64_t features)
{
	net.dev.driver_features = features;
	net.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	for (int q = 0; q < 2; q++)
		CHECK_EQ(vq_enable(&net.dev.vq[q], &gm, QSIZE, DESC[q], AVAIL[q], USED[q],
				   virtio_has_feature(&net.dev, VIRTIO_F_EVENT_IDX), false), 0);
	pthread_mutex_lock(&net.dev.lock);
	int r = net.dev.ops->activate(&net.dev);
	pthread_mutex_unlock(&net.dev.lock);
	return r;
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
	pthread_mutex_lock(&net.dev.lock);
	net.dev.ops->notify(&net.dev, (uint16_t)q);
	pthread_mutex_unlock(&net.dev.lock);
}

static uint16_t used_idx(int q) { return get16(USED[q] + 2); }
static uint32_t used_id(int q, uint16_t i) { return get32(USED[q] + 4 + 8ull * (i % QSIZE)); }
static uint32_t used_len(int q, uint16_t i) { return get32(USED[q] + 8 + 8ull * (i % QSIZE)); }
static bool failed(void) { return net.dev.status & VIRTIO_STATUS_NEEDS_RESET; }

/* ---- tests ---- */

static void features_follow_backend(void)
{
	setup(0, NULL, 1500);
	CHECK(!(net.ops.features & F(VIRTIO_NET_F_GUEST_CSUM)));
	CHECK(!(net.ops.features & F(VIRTIO_NET_F_GUEST_TSO4)));
	CHECK(net.ops.features & F(VIRTIO_NET_F_CSUM)); /* the tap takes partial checksums anyway */
	CHECK(net.ops.features & F(VIRTIO_NET_F_HOST_TSO4));
	CHECK(net.ops.features & F(VIRTIO_NET_F_MRG_RXBUF));
	CHECK(net.ops.features & F(VIRTIO_F_EVENT_IDX));
	CHECK(net.ops.features & F(VIRTIO_F_INDIRECT_DESC));
	setup(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO, NULL, 1500);
	CHECK(net.ops.features & F(VIRTIO_NET_F_GUEST_CSUM));
	CHECK(net.ops.features & F(VIRTIO_NET_F_GUEST_TSO4));
	CHECK(net.ops.features & F(VIRTIO_NET_F_GUEST_TSO6));
	CHECK(net.ops.features & F(VIRTIO_NET_F_GUEST_ECN));
	CHECK(net.ops.features & F(VIRTIO_NET_F_GUEST_UFO));
	CHECK(virtio_net_ops.features & F(VIRTIO_NET_F_GUEST_TSO4)); /* the template is untouched */
	CHECK_EQ(net.ops.device_id, (uint32_t)VIRTIO_ID_NET);
	CHECK_EQ(net.ops.num_queues, 2);
}

static void config_space(void)
{
	const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	uint8_t c[VIRTIO_NET_CONFIG_SIZE + 4];

	setup(0, mac, 1400);
	net.ops.config_read(&net.dev, 0, c, sizeof(c));
	CHECK(memcmp(c, mac, 6) == 0);
	CHECK_EQ(c[6] | c[7] << 8, VIRTIO_NET_S_LINK_UP);
	CHECK_EQ(c[8] | c[9] << 8, 1);
	CHECK_EQ(c[10] | c[11] << 8, 1400);
	CHECK_EQ(c[12], 0); /* past the structure: zero */
	net.ops.config_read(&net.dev, 10, c, 2);
	CHECK_EQ(c[0] | c[1] << 8, 1400);
	/* Default MAC: stable, unicast, locally administered, differs per name. */
	uint8_t a[6], b[6], d[6];
	virtio_net_default_mac("tap0", a);
	virtio_net_default_mac("tap0", b);
	virtio_net_default_mac("tap1", d);
	CHECK(memcmp(a, b, 6) == 0);
	CHECK(memcmp(a, d, 6) != 0);
	CHECK_EQ(a[0] & 3, 2);
	setup(0, NULL, 0); /* MTU unknown: 1500 */
	net.ops.config_read(&net.dev, 0, c, VIRTIO_NET_CONFIG_SIZE);
	CHECK_EQ(c[10] | c[11] << 8, 1500);
	CHECK(memcmp(c, net.cfg.mac, 6) == 0);
	virtio_net_default_mac("tap-test", a);
	CHECK(memcmp(c, a, 6) == 0);
}

static void activation(void)
{
	setup(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, NULL, 1500);
	CHECK_EQ(start(BASE_F | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4)), 0);
	CHECK_EQ(fk.offload, (unsigned)(TUN_F_CSUM | TUN_F_TSO4));
	CHECK_EQ(watch_on, 1);
	setup(TUN_F_CSUM | TUN_F_TSO4, NULL, 1500);
	CHECK(start(BASE_F | F(VIRTIO_NET_F_GUEST_TSO4)) != 0); /* TSO4 without GUEST_CSUM */
	setup(0, NULL, 1500);
	CHECK(start(BASE_F | F(VIRTIO_NET_F_HOST_TSO4)) != 0); /* HOST_TSO4 without CSUM */
	/* Reset: offloads off, watch off. */
	setup(TUN_F_CSUM, NULL, 1500);
	CHECK_EQ(start(BASE_F | F(VIRTIO_NET_F_GUEST_CSUM)), 0);
	net.ops.reset(&net.dev);
	CHECK_EQ(fk.offload, 0u);
	CHECK(watch_off >= 1);
}

static void put_hdr(uint64_t gpa, uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t gso_size,
		    uint16_t cs, uint16_t co)
{
	struct virtio_net_hdr_v1 h = { flags, gso, hdr_len, gso_size, cs, co, 0xabcd };
	CHECK_EQ(gm_write(&gm, gpa, &h, sizeof(h)), 0);
}

static void transmit(void)
{
	setup(0, NULL, 1500);
	CHECK_EQ(start(BASE_F | F(VIRTIO_NET_F_CSUM)), 0);
	/* A valid frame with a partial checksum, header and frame split over three buffers. */
	put_hdr(DATA_GPA, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 6);
	uint8_t *f = host(DATA_GPA + 0x100, 100);
	for (int i = 0; i < 100; i++)
		f[i] = (uint8_t)i;
	const struct seg ok[] = { { DATA_GPA, 12, false }, { DATA_GPA + 0x100, 40, false },
				  { DATA_GPA + 0x128, 60, false } };
	uint16_t h = offer(TX, ok, 3);
	kick(TX);
	CHECK_EQ(used_idx(TX), 1);
	CHECK_EQ(used_id(TX, 0), h);
	CHECK_EQ(used_len(TX, 0), 0u);
	CHECK_EQ(fk.nout, 1);
	CHECK_EQ(fk.out_len, 112u);
	CHECK_EQ(fk.out[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(fk.out[6] | fk.out[7] << 8, 34);
	CHECK_EQ(fk.out[10] | fk.out[11] << 8, 0); /* num_buffers: the checked copy, zeroed */
	CHECK(memcmp(fk.out + 12, f, 100) == 0);
	CHECK_EQ(atomic_load(&net.dev.bytes_out), 100u);
	CHECK_EQ(atomic_load(&net.dev.requests), 1u);

	/* Bad headers: dropped, counted, the chain returned, nothing sent, the device alive. */
	struct { uint8_t fl, gso; uint16_t hl, gs, cs, co; uint32_t len; } bad[] = {
		{ 0x80, 0, 0, 0, 0, 0, 60 },               /* unknown flag */
		{ 1, 0, 0, 0, 100, 0, 60 },                /* checksum outside the frame */
		{ 1, 0, 0, 0, 0xffff, 0xffff, 60 },        /* start + offset overflow 16 bits */
		{ 0, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1000, 0, 0, 60 }, /* HOST_TSO4 not negotiated */
		{ 0, 0x42, 0, 100, 0, 0, 60 },            /* unknown GSO type */
		{ 0, 0, 0, 0, 0, 0, 10 },                  /* shorter than Ethernet */
		{ 0, 0, 0, 0, 0, 0, 1600 },                /* longer than MTU + 18 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_hdr(DATA_GPA, bad[i].fl, bad[i].gso, bad[i].hl, bad[i].gs, bad[i].cs, bad[i].co);
		const struct seg s[] = { { DATA_GPA, 12, false }, { DATA_GPA + 0x1000, bad[i].len, false } };
		offer(TX, s, 2);
		kick(TX); /* 16 descriptors: serve as we go */
	}
	const struct seg shorty[] = { { DATA_GPA, 5, false } }; /* no room for the header */
	offer(TX, shorty, 1);
	kick(TX);
	CHECK_EQ(used_idx(TX), 9);
	CHECK_EQ(fk.nout, 1);
	CHECK_EQ(atomic_load(&net.dev.io_errors), 8u);
	CHECK(!failed());
	/* A writable buffer in a transmit chain fails the device. */
	const struct seg wr[] = { { DATA_GPA, 12, false }, { DATA_GPA + 0x100, 60, true } };
	offer(TX, wr, 2);
	kick(TX);
	CHECK(failed());
	/* A backend error is counted, not fatal. */
	setup(0, NULL, 1500);
	CHECK_EQ(start(BASE_F), 0);
	fk.send_err = -ENOBUFS;
	put_hdr(DATA_GPA, 0, 0, 0, 0, 0, 0);
	const struct seg one[] = { { DATA_GPA, 12 + 60, false } };
	offer(TX, one, 1);
	kick(TX);
	CHECK_EQ(used_idx(TX), 1);
	CHECK_EQ(atomic_load(&net.dev.io_errors), 1u);
	CHECK(!failed());
}

static void rx_ready(void)
{
	virtio_net_rx_ready(&net);
}

static void receive_single(void)
{
	setup(0, NULL, 1500);
	CHECK_EQ(start(BASE_F | F(VIRTIO_F_EVENT_IDX)), 0);
	fk_push(100, 1);
	/* No buffers posted: nothing read, watch off, kicks asked for. */
	rx_ready();
	CHECK_EQ(fk.in_head, 0);
	CHECK_EQ(watch_off, 1);
	CHECK_EQ(used_idx(RX), 0);
	const struct seg b[] = { { DATA_GPA, 2048, true } };
	uint16_t h = offer(RX, b, 1);
	kick(RX); /* the driver's kick for new buffers */
	CHECK_EQ(fk.in_head, 1);
	CHECK_EQ(used_idx(RX), 1);
	CHECK_EQ(used_id(RX, 0), h);
	CHECK_EQ(used_len(RX, 0), 112u);
	uint8_t *p = host(DATA_GPA, 112);
	CHECK_EQ(p[10] | p[11] << 8, 1); /* num_buffers */
	CHECK_EQ(p[12], 1);
	CHECK_EQ(p[12 + 99], (uint8_t)(99 * 3 + 1));
	CHECK_EQ(atomic_load(&net.dev.bytes_in), 112u);
	CHECK(irqs >= 1);
	/* The one buffer is used up: still not watching. A new buffer: read to EAGAIN, watch. */
	CHECK_EQ(watch_on, 1);
	CHECK(!net.watching);
	offer(RX, b, 1);
	kick(RX);
	CHECK_EQ(watch_on, 2);
	CHECK(net.watching);
	CHECK_EQ(used_idx(RX), 1);
}

static void receive_mergeable(void)
{
	setup(0, NULL, 1500);
	CHECK_EQ(start(BASE_F | F(VIRTIO_NET_F_MRG_RXBUF)), 0);
	fk_push(3000, 7);
	const struct seg b0[] = { { DATA_GPA, 1024, true } };
	const struct seg b1[] = { { DATA_GPA + 0x1000, 1024, true } };
	const struct seg b2[] = { { DATA_GPA + 0x2000, 1024, true } };
	uint16_t h0 = offer(RX, b0, 1), h1 = offer(RX, b1, 1);
	rx_ready();
	/* Two buffers are not enough for 3012 bytes: the frame is held, nothing used yet. */
	CHECK_EQ(fk.in_head, 1);
	CHECK_EQ(used_idx(RX), 0);
	CHECK(net.rx.active);
	uint16_t h2 = offer(RX, b2, 1);
	kick(RX);
	CHECK(!net.rx.active);
	CHECK_EQ(used_idx(RX), 3);
	CHECK_EQ(used_id(RX, 0), h0);
	CHECK_EQ(used_id(RX, 1), h1);
	CHECK_EQ(used_id(RX, 2), h2);
	CHECK_EQ(used_len(RX, 0), 1024u);
	CHECK_EQ(used_len(RX, 1), 1024u);
	CHECK_EQ(used_len(RX, 2), 3012u - 2048u);
	uint8_t *p0 = host(DATA_GPA, 1024), *p2 = host(DATA_GPA + 0x2000, 1024);
	CHECK_EQ(p0[10] | p0[11] << 8, 3);
	CHECK_EQ(p0[12], 7);
	/* byte 2048 of the whole (header included) = frame byte 2036 */
	CHECK_EQ(p2[0], (uint8_t)(2036 * 3 + 7));
}

static void receive_drops_and_failures(void)
{
	/* Without MRG_RXBUF a too-small chain: the frame is dropped, the chain used with 0. */
	setup(0, NULL, 1500);
	CHECK_EQ(start(BASE_F), 0);
	fk_push(1000, 0);
	fk_push(50, 0);
	const struct seg small[] = { { DATA_GPA, 500, true } };
	const struct seg big[] = { { DATA_GPA + 0x1000, 2048, true } };
	offer(RX, small, 1);
	offer(RX, big, 1);
	kick(RX);
	CHECK_EQ(used_idx(RX), 2);
	CHECK_EQ(used_len(RX, 0), 0u);
	CHECK_EQ(used_len(RX, 1), 62u);
	CHECK_EQ(atomic_load(&net.dev.io_errors), 1u);
	CHECK(!failed());
	/* A receive buffer smaller than the header fails the device. */
	setup(0, NULL, 1500);
	CHECK_EQ(start(BASE_F | F(VIRTIO_NET_F_MRG_RXBUF)), 0);
	fk_push(100, 0);
	const struct seg tiny[] = { { DATA_GPA, 8, true } };
	offer(RX, tiny, 1);
	kick(RX);
	CHECK(failed());
	/* A readable receive buffer fails it too. */
	setup(0, NULL, 1500);
	CHECK_EQ(start(BASE_F), 0);
	fk_push(100, 0);
	const struct seg rd[] = { { DATA_GPA, 2048, false } };
	offer(RX, rd, 1);
	kick(RX);
	CHECK(failed());
	/* A frame whose GSO type the guest did not accept is dropped before any buffer is used. */
	setup(TUN_F_CSUM | TUN_F_TSO4, NULL, 1500);
	CHECK_EQ(start(BASE_F), 0);
	fk_push(100, 0);
	fk.in[0][1] = VIRTIO_NET_HDR_GSO_TCPV4;
	offer(RX, big, 1);
	kick(RX);
	CHECK_EQ(used_idx(RX), 0);
	CHECK_EQ(atomic_load(&net.dev.io_errors), 1u);
	/* Not running: readiness turns the watch off and reads nothing. */
	setup(0, NULL, 1500);
	fk_push(100, 0);
	rx_ready();
	CHECK_EQ(fk.in_head, 0);
}

static void header_checks(void)
{
	const uint64_t csum = F(VIRTIO_NET_F_CSUM), tso4 = csum | F(VIRTIO_NET_F_HOST_TSO4);
	struct virtio_net_hdr_v1 h = { 0 };
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 60, 0, 1518), NET_TX_OK);
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 13, 0, 1518), NET_TX_SHORT);
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 1519, 0, 1518), NET_TX_TOO_BIG);
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 60, csum, 1518), NET_TX_FLAGS);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 60, 0, 1518), NET_TX_FLAGS);
	h.csum_start = 58;
	h.csum_offset = 0;
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 60, csum, 1518), NET_TX_OK);
	h.csum_offset = 1;
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 60, csum, 1518), NET_TX_CSUM);
	h = (struct virtio_net_hdr_v1){ .flags = 1, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
					.gso_size = 1448, .hdr_len = 66, .csum_start = 34,
					.csum_offset = 16 };
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 9000, tso4, 65553), NET_TX_OK);
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 9000, csum, 65553), NET_TX_GSO_TYPE);
	h.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 9000, tso4, 65553), NET_TX_GSO_TYPE);
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 9000, tso4 | F(VIRTIO_NET_F_HOST_ECN), 65553), NET_TX_OK);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 0;
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 9000, tso4, 65553), NET_TX_GSO_FIELDS);
	h.gso_size = 1448;
	h.hdr_len = 9001;
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 9000, tso4, 65553), NET_TX_GSO_FIELDS);
	h.hdr_len = 66;
	h.gso_type = 5;
	CHECK_EQ(virtio_net_check_tx_hdr(&h, 9000, tso4, 65553), NET_TX_GSO_TYPE);
	CHECK_EQ(virtio_net_max_tx_frame(0, 1400), 1518u);       /* MTU not negotiated: 1500 */
	CHECK_EQ(virtio_net_max_tx_frame(F(VIRTIO_NET_F_MTU), 1400), 1418u);
	CHECK_EQ(virtio_net_max_tx_frame(F(VIRTIO_NET_F_MTU), 9000), 9018u);
	CHECK_EQ(virtio_net_max_tx_frame(tso4, 1500), (uint64_t)VIRTIO_NET_MAX_GSO_FRAME);
	CHECK(strlen(virtio_net_tx_verdict_str(NET_TX_CSUM)) > 0);
}

static void external_data_path(void)
{
	setup(0, NULL, 1500);
	net.dp_start = fake_dp_start;
	net.dp_stop = fake_dp_stop;
	dp_result = 0;
	CHECK_EQ(start(BASE_F), 0);
	CHECK_EQ(dp_starts, 1);
	CHECK(net.dp_active);
	CHECK_EQ(watch_on, 0); /* the I/O thread's path stays idle */
	fk_push(60, 0);
	const struct seg b[] = { { DATA_GPA, 2048, true } };
	offer(RX, b, 1);
	kick(RX);
	rx_ready();
	CHECK_EQ(fk.in_head, 0);
	net.ops.reset(&net.dev);
	CHECK_EQ(dp_stops, 1);
	CHECK(!net.dp_active);
	/* A data path that refuses to start: mote's own path takes over. */
	setup(0, NULL, 1500);
	net.dp_start = fake_dp_start;
	net.dp_stop = fake_dp_stop;
	dp_result = -1;
	CHECK_EQ(start(BASE_F), 0);
	CHECK(!net.dp_active);
	CHECK_EQ(watch_on, 1);
}

static int deferred;
static void fake_defer(void *ctx) { (void)ctx; deferred++; }

/* With a defer hook (the real wiring), activation and reset only request work; the tap is
 * touched when the host runs virtio_net_work (on the I/O thread). */
static void deferred_work(void)
{
	setup(TUN_F_CSUM, NULL, 1500);
	net.defer = fake_defer;
	deferred = 0;
	fk.offload = 0xdead;
	CHECK_EQ(start(BASE_F | F(VIRTIO_NET_F_GUEST_CSUM)), 0);
	CHECK_EQ(deferred, 1);
	CHECK_EQ(fk.offload, 0xdeadu); /* nothing yet */
	CHECK_EQ(watch_on, 0);
	virtio_net_work(&net);
	CHECK_EQ(fk.offload, (unsigned)TUN_F_CSUM);
	CHECK_EQ(watch_on, 1);
	virtio_net_work(&net); /* nothing pending: nothing happens */
	CHECK_EQ(watch_on, 1);
	pthread_mutex_lock(&net.dev.lock);
	net.ops.reset(&net.dev);
	pthread_mutex_unlock(&net.dev.lock);
	CHECK_EQ(deferred, 2);
	net.dev.status = 0;
	virtio_net_work(&net);
	CHECK_EQ(fk.offload, 0u);
	CHECK(!net.watching);
}

static void init_refusals(void)
{
	struct net_backend be = { .ops = &fk_ops, .vnet_hdr_len = 10 };
	char err[128] = "";
	CHECK_EQ(virtio_net_init(&net, &be, NULL, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "12-byte header");
	struct net_backend none = { 0 };
	CHECK_EQ(virtio_net_init(&net, &none, NULL, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "incomplete");
}

/* ---- rate limiters (a fake clock and timer) ---- */

static uint64_t fake_ns, timer_at;
static uint64_t fake_clock(void) { return fake_ns; }
static void fake_arm(void *ctx, uint64_t at) { (void)ctx; timer_at = at; }
static void fire(void)
{
	fake_ns = timer_at;
	virtio_net_on_timer(&net);
}

/* tx: 2 frames per second (a bucket of 2); rx: 200 frame bytes per 100 ms. Throttled frames
 * stay the guest's (tx) or the tap's (rx: held, tap unwatched) until the timer; the other
 * direction is unaffected; PATCH lifts a limit; vhost refuses limits. */
static void rate_limited(void)
{
	setup(0, NULL, 1500);
	net.clock = fake_clock;
	net.rl_timer = (struct rl_timer){.arm = fake_arm};
	fake_ns = 5000000000ull;
	virtio_net_ratelimit_init(&net, &(struct rl_config){{200, 0, 100}, {0, 0, 0}},
				  &(struct rl_config){{0, 0, 0}, {2, 0, 1000}});
	CHECK_EQ(start(BASE_F), 0);
	put_hdr(DATA_GPA, 0, 0, 0, 0, 0, 0);
	const struct seg one[] = { { DATA_GPA, 12 + 60, false } };
	for (int i = 0; i < 3; i++)
		offer(TX, one, 1);
	kick(TX);
	CHECK_EQ(fk.nout, 2);
	CHECK_EQ(used_idx(TX), 2);
	CHECK(net.tx_throttled);
	CHECK_EQ(timer_at, fake_ns + 500000000ull);
	/* receive meanwhile: 150-byte frames, 200 bytes of budget: one passes, the second waits */
	fk_push(150, 1);
	fk_push(150, 2);
	const struct seg b[] = { { DATA_GPA + 0x10000, 2048, true } };
	const struct seg b2[] = { { DATA_GPA + 0x20000, 2048, true } };
	offer(RX, b, 1);
	offer(RX, b2, 1);
	kick(RX);
	CHECK_EQ(used_idx(RX), 1);
	CHECK(net.rx_throttled);
	CHECK(!net.watching); /* the tap is not read while throttled */
	CHECK_EQ(fk.in_head, 2); /* the second frame is held, charged at delivery */
	/* the earlier deadline wins: rx needs 100 bytes = 50 ms */
	CHECK_EQ(timer_at, fake_ns + 50000000ull);
	fire();
	CHECK_EQ(used_idx(RX), 2);
	CHECK(!net.rx_throttled);
	CHECK_EQ(fk.nout, 2); /* tx still waits */
	CHECK(net.tx_throttled);
	fire();
	CHECK_EQ(fk.nout, 3);
	CHECK(!net.tx_throttled);
	struct virtio_counter c[4];
	CHECK_EQ(net.dev.ops->counters(&net.dev, c, 4), 2);
	CHECK(!strcmp(c[0].name, "rx_rate_limiter_throttled") && c[0].value == 1);
	CHECK(!strcmp(c[1].name, "tx_rate_limiter_throttled") && c[1].value >= 1);
	/* PATCH: tx unlimited, rx untouched */
	char err[200];
	struct rl_update none = {0}, off = {.cfg = {{0, 0, 0}, {0, 0, 0}}, .ops_set = true};
	CHECK_EQ(virtio_net_ratelimit_update(&net, &none, &off, err, sizeof(err)), 0);
	for (int i = 0; i < 5; i++)
		offer(TX, one, 1);
	kick(TX);
	CHECK_EQ(fk.nout, 8);
	struct rl_config rx, tx;
	virtio_net_ratelimit_get(&net, &rx, &tx);
	CHECK(!rl_config_enabled(&tx) && rx.bw.size == 200);
	/* a reset forgets throttled state */
	net.rx_throttled = net.tx_throttled = true;
	net.ops.reset(&net.dev);
	CHECK(!net.rx_throttled && !net.tx_throttled);
	/* a device with an external data path (vhost) refuses limits */
	net.dp_start = fake_dp_start;
	CHECK_EQ(virtio_net_ratelimit_update(&net, &none, &off, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "vhost");
	CHECK_EQ(virtio_net_ratelimit_update(&net, &none, &none, err, sizeof(err)), 0);
	net.dp_start = NULL;
}

/* Snapshot quiesce: the chains held for a frame that did not fit go back empty, the frame
 * stays and goes whole into the next buffers. */
static void snapshot_quiesce(void)
{
	setup(0, NULL, 1500);
	CHECK_EQ(start(BASE_F | F(VIRTIO_NET_F_MRG_RXBUF)), 0);
	fk_push(3000, 7);
	const struct seg b0[] = { { DATA_GPA, 1024, true } };
	const struct seg b1[] = { { DATA_GPA + 0x1000, 1024, true } };
	uint16_t h0 = offer(RX, b0, 1), h1 = offer(RX, b1, 1);
	rx_ready();
	CHECK(net.rx.active);
	CHECK_EQ(net.rx.nheld, 2);
	CHECK_EQ(used_idx(RX), 0);
	pthread_mutex_lock(&net.dev.lock);
	net.dev.ops->quiesce(&net.dev);
	pthread_mutex_unlock(&net.dev.lock);
	CHECK_EQ(used_idx(RX), 2);
	CHECK_EQ(used_id(RX, 0), h0);
	CHECK_EQ(used_id(RX, 1), h1);
	CHECK_EQ(used_len(RX, 0), 0u);
	CHECK_EQ(used_len(RX, 1), 0u);
	CHECK(net.rx.active);
	CHECK_EQ(net.rx.nheld, 0);
	/* Three new buffers: the frame, from its first byte, with num_buffers 3. */
	const struct seg b2[] = { { DATA_GPA + 0x2000, 1024, true } };
	const struct seg b3[] = { { DATA_GPA + 0x3000, 1024, true } };
	const struct seg b4[] = { { DATA_GPA + 0x4000, 1024, true } };
	offer(RX, b2, 1);
	offer(RX, b3, 1);
	offer(RX, b4, 1);
	kick(RX);
	CHECK(!net.rx.active);
	CHECK_EQ(used_idx(RX), 5);
	CHECK_EQ(used_len(RX, 2), 1024u);
	CHECK_EQ(used_len(RX, 4), 3012u - 2048u);
	uint8_t *p = host(DATA_GPA + 0x2000, 1024);
	CHECK_EQ(p[10] | p[11] << 8, 3);
	CHECK_EQ(p[12], 7);
	CHECK_EQ(fk.in_head, 1); /* the same frame, not a new one */
	/* Nothing held: a second quiesce pushes nothing. */
	pthread_mutex_lock(&net.dev.lock);
	virtio_net_quiesce(&net);
	pthread_mutex_unlock(&net.dev.lock);
	CHECK_EQ(used_idx(RX), 5);
}

/* Snapshot resume: the tap's offloads as negotiated, receive watching on, and what the rings
 * already hold served without a kick (the guest's kick went to the old process). */
static void snapshot_resume(void)
{
	setup(TUN_F_CSUM | TUN_F_TSO4, NULL, 1500);
	uint64_t f = BASE_F | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |
		     F(VIRTIO_NET_F_GUEST_TSO4);
	/* As a restore leaves it: features and queues set, DRIVER_OK, never activated. */
	net.dev.driver_features = f;
	net.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	for (int q = 0; q < 2; q++)
		CHECK_EQ(vq_enable(&net.dev.vq[q], &gm, QSIZE, DESC[q], AVAIL[q], USED[q], false,
				   false), 0);
	const struct seg b[] = { { DATA_GPA, 2048, true } };
	offer(RX, b, 1);
	fk_push(100, 3);
	uint8_t frame[60] = {0};
	CHECK_EQ(gm_write(&gm, DATA_GPA + 0x8000, frame, sizeof(frame)), 0);
	const struct seg t[] = { { DATA_GPA + 0x8000, sizeof(frame), false } };
	offer(TX, t, 1);
	pthread_mutex_lock(&net.dev.lock);
	net.dev.ops->resume(&net.dev);
	pthread_mutex_unlock(&net.dev.lock);
	CHECK_EQ(fk.offload, (unsigned)(TUN_F_CSUM | TUN_F_TSO4));
	CHECK_EQ(used_idx(RX), 1);
	CHECK_EQ(used_len(RX, 0), 112u);
	CHECK_EQ(used_idx(TX), 1);
	CHECK_EQ(fk.nout, 1);
	CHECK(!failed());
	/* Inconsistent restored features (TSO4 without CSUM on the host side): the device fails. */
	setup(TUN_F_CSUM | TUN_F_TSO4, NULL, 1500);
	net.dev.driver_features = BASE_F | F(VIRTIO_NET_F_HOST_TSO4);
	net.dev.status = VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK;
	pthread_mutex_lock(&net.dev.lock);
	net.dev.ops->resume(&net.dev);
	pthread_mutex_unlock(&net.dev.lock);
	CHECK(failed());
	/* Not running: nothing happens. */
	setup(0, NULL, 1500);
	pthread_mutex_lock(&net.dev.lock);
	net.dev.ops->resume(&net.dev);
	pthread_mutex_unlock(&net.dev.lock);
	CHECK_EQ(watch_on, 0);
}

int main(void)
{
	test_suite_name = "virtio_net";
	log_set_level(LOG_ERROR);
	RUN(features_follow_backend);
	RUN(config_space);
	RUN(activation);
	RUN(transmit);
	RUN(receive_single);
	RUN(receive_mergeable);
	RUN(receive_drops_and_failures);
	RUN(header_checks);
	RUN(external_data_path);
	RUN(deferred_work);
	RUN(init_refusals);
	RUN(rate_limited);
	RUN(snapshot_quiesce);
	RUN(snapshot_resume);
	if (live) {
		virtio_net_destroy(&net);
		virtio_dev_destroy(&net.dev);
		gm_destroy(&gm);
	}
	TEST_MAIN_END();
}
