/* libFuzzer target for virtio-net's header handling (src/devices/virtio_net.c): transmit
 * headers and chains written by a hostile driver, and receive frames (with whatever header a
 * backend wrote) delivered into hostile receive chains, with and without MRG_RXBUF.
 *
 * Input: [0..1] feature selector (bit i turns on sel_bits[i]); [2..3] MTU seed; [4..5] length
 * of the received frame (header included) taken from the input's tail. Then, when bit 15 of
 * the selector is clear, a structured part: chain counts and per buffer (length, direction)
 * from which the target writes well-formed descriptors with buffers in separate 8 KiB slots,
 * their contents (transmit headers first) from the following bytes; when it is set, the rest
 * is copied raw over the rings and buffers (ring corruption). Both queues' rings sit at
 * fixed places (16 entries) in a 256 KiB guest RAM. The device is activated,
 * served a transmit kick, a readable backend and a receive kick. Checks: every frame the
 * backend is given starts with a header that passes virtio_net_check_tx_hdr under the
 * negotiated features and is no longer than the negotiated maximum; a failed device stays
 * failed; the rx hold never claims more than it read. Any violation aborts. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "devices/virtio_net.h"
#include "fuzz_ram.h"

#define FUZZ_RAM (256u << 10)
#define HDR 6u
#define QS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem *gm;
static struct virtio_net net;
static const uint8_t *rx_frame;
static size_t rx_len;
static int rx_given;

static const unsigned sel_bits[16] = {
	VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_MTU, VIRTIO_NET_F_GUEST_TSO4,
	VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_UFO,
	VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN,
	VIRTIO_NET_F_HOST_UFO, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC,
	VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MAC,
};
static const uint64_t desc_gpa[2] = { 0x0000, 0x3000 }, avail_gpa[2] = { 0x1000, 0x4000 };
#define SLOT_GPA(q, i) (0x8000ull + ((q) * 8 + (i)) * 0x2000ull)

/* Takes one byte of input (0 when it runs out). */
static uint8_t take(const uint8_t **d, size_t *n)
{
	if (!*n)
		return 0;
	(*n)--;
	return *(*d)++;
}

/* Writes up to 8 chains on queue q from the input: per chain 1-3 buffers, each with a
 * length (1..8192) and a direction; contents follow. */
static void build_queue(unsigned q, const uint8_t **d, size_t *n)
{
	unsigned nchains = take(d, n) % 9, slot = 0;
	uint16_t idx = 0;
	for (unsigned c = 0; c < nchains && slot < 8; c++) {
		unsigned nseg = 1 + take(d, n) % 3;
		uint16_t head = (uint16_t)slot;
		for (unsigned k = 0; k < nseg && slot < 8; k++, slot++) {
			uint8_t a = take(d, n), b = take(d, n);
			uint32_t len = 1 + ((uint32_t)(a | b << 8) & 0x1fff);
			bool w = b & 0x80;
			uint16_t flags = (uint16_t)((w ? VQ_DESC_F_WRITE : 0) |
						    (k + 1 < nseg && slot + 1 < 8 ? VQ_DESC_F_NEXT : 0));
			uint16_t next = (uint16_t)(slot + 1);
			uint64_t gpa = SLOT_GPA(q, slot);
			uint8_t desc[16];
			memcpy(desc, &gpa, 8);
			memcpy(desc + 8, &len, 4);
			memcpy(desc + 12, &flags, 2);
			memcpy(desc + 14, &next, 2);
			gm_write(gm, desc_gpa[q] + 16ull * slot, desc, 16);
			size_t fill = len < 64 ? len : 64;
			fill = fill < *n ? fill : *n;
			gm_write(gm, gpa, *d, fill);
			*d += fill;
			*n -= fill;
		}
		gm_write(gm, avail_gpa[q] + 4 + 2ull * idx, &head, 2);
		idx++;
	}
	gm_write(gm, avail_gpa[q] + 2, &idx, 2);
}

static ssize_t f_recv(void *be, const struct iovec *iov, int iovcnt)
{
	(void)be;
	if (rx_given++ || iovcnt != 1)
		return -EAGAIN;
	if (rx_len > iov[0].iov_len)
		return -EMSGSIZE;
	memcpy(iov[0].iov_base, rx_frame, rx_len);
	return (ssize_t)rx_len;
}

static int f_send(void *be, const struct iovec *iov, int iovcnt)
{
	(void)be;
	struct virtio_net_hdr_v1 h;
	uint64_t total = 0;

	if (iovcnt < 1 || iov[0].iov_len != sizeof(h))
		abort(); /* the header is always mote's own copy, alone in iov[0] */
	memcpy(&h, iov[0].iov_base, sizeof(h));
	for (int i = 1; i < iovcnt; i++)
		total += iov[i].iov_len;
	h.hdr_len = le16toh(h.hdr_len);
	h.gso_size = le16toh(h.gso_size);
	h.csum_start = le16toh(h.csum_start);
	h.csum_offset = le16toh(h.csum_offset);
	uint64_t feat = net.dev.driver_features;
	uint64_t max = virtio_net_max_tx_frame(feat, net.mtu);
	if (virtio_net_check_tx_hdr(&h, total, feat, max) != NET_TX_OK || total > max)
		abort();
	return 0;
}

static int f_fd(void *be) { (void)be; return -1; }
static int f_offload(void *be, unsigned f) { (void)be; (void)f; return 0; }
static void f_close(void *be) { (void)be; }
static const struct net_backend_ops fops = { f_recv, f_send, f_fd, f_offload, f_close };

static void notify(uint16_t q)
{
	pthread_mutex_lock(&net.dev.lock);
	if (virtio_dev_running(&net.dev))
		net.dev.ops->notify(&net.dev, q);
	pthread_mutex_unlock(&net.dev.lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];

	if (size < HDR)
		return 0;
	if (!gm) {
		gm = fuzz_ram(FUZZ_RAM, "fuzz_net");
		log_set_level(LOG_ERROR);
	}
	uint16_t sel = (uint16_t)(data[0] | data[1] << 8);
	unsigned mtu = 68 + ((unsigned)(data[2] | data[3] << 8) % 9000);
	size_t flen = (size_t)(data[4] | data[5] << 8);
	data += HDR;
	size -= HDR;
	rx_len = flen < size ? flen : size;
	rx_frame = data + size - rx_len;
	rx_given = 0;
	memset(gm_ptr(gm, 0, 0x8000), 0, 0x8000); /* the rings; buffers keep old bytes */
	if (sel & 0x8000) {
		gm_write(gm, 0, data, size < FUZZ_RAM ? size : FUZZ_RAM);
	} else {
		const uint8_t *d = data;
		size_t n = size - rx_len;
		build_queue(1, &d, &n);
		build_queue(0, &d, &n);
	}

	struct net_backend be = { .ops = &fops, .vnet_hdr_len = VIRTIO_NET_HDR_LEN, .mtu = mtu,
				  .offloads = 0x1f };
	if (virtio_net_init(&net, &be, NULL, err, sizeof(err)) < 0)
		abort();
	virtio_dev_init(&net.dev, &net.ops, &net, "virtio-net-fuzz", gm, NULL);
	uint64_t feat = 1ull << VIRTIO_F_VERSION_1;
	for (unsigned i = 0; i < 15; i++)
		if (sel >> i & 1)
			feat |= 1ull << sel_bits[i];
	net.dev.driver_features = feat & net.ops.features;
	net.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	bool ev = virtio_has_feature(&net.dev, VIRTIO_F_EVENT_IDX);
	bool ind = virtio_has_feature(&net.dev, VIRTIO_F_INDIRECT_DESC);
	if (vq_enable(&net.dev.vq[0], gm, QS, 0x0000, 0x1000, 0x2000, ev, ind) == 0 &&
	    vq_enable(&net.dev.vq[1], gm, QS, 0x3000, 0x4000, 0x5000, ev, ind) == 0) {
		pthread_mutex_lock(&net.dev.lock);
		if (net.dev.ops->activate(&net.dev) != 0)
			net.dev.status |= VIRTIO_STATUS_NEEDS_RESET;
		pthread_mutex_unlock(&net.dev.lock);
		notify(VIRTIO_NET_TXQ);
		virtio_net_rx_ready(&net);
		notify(VIRTIO_NET_RXQ);
		notify(VIRTIO_NET_TXQ);
		if (net.rx.active && (net.rx.pos > net.rx.len || net.rx.len > sizeof(net.buf)))
			abort();
	}
	virtio_net_destroy(&net);
	virtio_dev_destroy(&net.dev);
	return 0;
}
