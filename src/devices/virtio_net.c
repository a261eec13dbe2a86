/* virtio-net (virtio 1.2, 5.1): receive and transmit queues over a host-only net_backend.
 * Receive: a frame is read from the backend into one host buffer only when the guest has a
 * receive buffer posted, then copied into one chain (or several with MRG_RXBUF, num_buffers
 * in the first header). With no buffers the device stops watching the backend (rx_watch off)
 * until the guest posts more (a receive-queue kick): back-pressure, at most one frame held.
 * Transmit: each chain's header is copied once and checked (size, flags, checksum range, GSO
 * type against the negotiated features); a bad one is dropped and counted, the checked copy
 * (never guest memory) is what the backend sees, followed by the guest's frame bytes.
 * Must not: walk rings, hand guest addresses to anyone but the backend's iovecs, or abort. */
#include "devices/virtio_net.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

_Static_assert(sizeof(struct virtio_net_hdr_v1) == VIRTIO_NET_HDR_LEN, "5.1.6 header");
_Static_assert(offsetof(struct virtio_net_config, mtu) + 2 == VIRTIO_NET_CONFIG_SIZE,
	       "5.1.4 layout");

#define F(b) (1ull << (b))
#define NET_GUEST_OFFLOADS                                                                  \
	(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) | \
	 F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_GUEST_UFO))
#define NET_HOST_GSO (F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_UFO))
#define NET_FEATURES                                                                        \
	(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_EVENT_IDX) | F(VIRTIO_F_INDIRECT_DESC) |         \
	 F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_MTU) | F(VIRTIO_NET_F_MAC) |                   \
	 F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MRG_RXBUF) | NET_GUEST_OFFLOADS | NET_HOST_GSO | \
	 F(VIRTIO_NET_F_HOST_ECN))

#define NET_RX_BUDGET 64 /* frames per wake-up before the I/O thread serves others */
/* After sending, how long the I/O thread looks for the guest's next frame before it asks for
 * a kick and sleeps: about two VM exits on the slow hosts, a few dozen on hardware KVM. */
#define NET_TX_POLL_NS 50000L
/* Frames per transmit wake-up; then the queue is re-kicked so the I/O thread's other work
 * (other devices, this device's receive side) gets its turn. */
#define NET_TX_BUDGET 256

/* ---- checks (pure; the fuzz target and the unit tests call them directly) ---- */

uint64_t virtio_net_max_tx_frame(uint64_t feat, unsigned mtu)
{
	if (feat & NET_HOST_GSO)
		return VIRTIO_NET_MAX_GSO_FRAME;
	if (!(feat & F(VIRTIO_NET_F_MTU)) && mtu < VIRTIO_NET_DEFAULT_MTU)
		mtu = VIRTIO_NET_DEFAULT_MTU; /* a driver not told the MTU assumes 1500 */
	return (uint64_t)mtu + VIRTIO_NET_ETH_HLEN + VIRTIO_NET_VLAN_HLEN;
}

static enum virtio_net_tx_verdict check_gso(const struct virtio_net_hdr_v1 *h, uint64_t len,
					    uint64_t feat)
{
	unsigned type = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	bool ecn = h->gso_type & VIRTIO_NET_HDR_GSO_ECN;
	uint64_t need;

	switch (type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return ecn ? NET_TX_GSO_TYPE : NET_TX_OK;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		need = F(VIRTIO_NET_F_HOST_TSO4);
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		need = F(VIRTIO_NET_F_HOST_TSO6);
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		need = F(VIRTIO_NET_F_HOST_UFO);
		break;
	default:
		return NET_TX_GSO_TYPE;
	}
	if (!(feat & need) || (ecn && !(feat & F(VIRTIO_NET_F_HOST_ECN))))
		return NET_TX_GSO_TYPE;
	if (h->gso_size == 0 || h->hdr_len > len)
		return NET_TX_GSO_FIELDS;
	return NET_TX_OK;
}

enum virtio_net_tx_verdict virtio_net_check_tx_hdr(const struct virtio_net_hdr_v1 *h,
						   uint64_t frame_len, uint64_t feat,
						   uint64_t max_frame)
{
	if (frame_len < VIRTIO_NET_ETH_HLEN)
		return NET_TX_SHORT;
	if (frame_len > max_frame)
		return NET_TX_TOO_BIG;
	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return NET_TX_FLAGS;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(feat & F(VIRTIO_NET_F_CSUM)))
			return NET_TX_FLAGS;
		/* The 2-byte checksum field at csum_start + csum_offset lies inside the frame. */
		if ((uint64_t)h->csum_start + h->csum_offset + 2 > frame_len)
			return NET_TX_CSUM;
	}
	return check_gso(h, frame_len, feat);
}

const char *virtio_net_tx_verdict_str(enum virtio_net_tx_verdict v)
{
	switch (v) {
	case NET_TX_OK:
		return "ok";
	case NET_TX_SHORT:
		return "frame shorter than an Ethernet header";
	case NET_TX_TOO_BIG:
		return "frame longer than the negotiated maximum";
	case NET_TX_FLAGS:
		return "header flags not allowed";
	case NET_TX_CSUM:
		return "checksum start/offset outside the frame";
	case NET_TX_GSO_TYPE:
		return "GSO type unknown or not negotiated";
	case NET_TX_GSO_FIELDS:
		return "GSO size 0 or header length beyond the frame";
	}
	return "?";
}

void virtio_net_default_mac(const char *ifname, uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */

	for (const char *p = ifname; p && *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02); /* unicast, locally administered */
}

/* ---- receive ---- */

static void rx_watch(struct virtio_net *n, bool on)
{
	if (n->watching == on)
		return;
	n->watching = on;
	if (n->rx_watch)
		n->rx_watch(n->rx_watch_ctx, on);
}

/* Pops a receive chain into n->chain: 1, 0 when the queue is empty (kicks re-enabled so the
 * guest says when it adds one), -1 after failing the device. */
static int rx_pop(struct virtio_net *n)
{
	struct virtqueue *vq = &n->dev.vq[VIRTIO_NET_RXQ];

	for (int tries = 0; tries < 2; tries++) {
		enum vq_result r = vq_pop(vq, &n->chain);
		if (r == VQ_OK)
			break;
		if (r == VQ_ERROR) {
			virtio_dev_fail(&n->dev, vq->why);
			return -1;
		}
		if (tries)
			return 0;
		vq_set_notify(vq, true);
		if (!vq_has_work(vq))
			return 0;
		vq_set_notify(vq, false);
	}
	if (n->chain.nread > 0) {
		virtio_dev_fail(&n->dev, "receive buffer is device-readable");
		return -1;
	}
	if (n->chain.write_bytes < VIRTIO_NET_HDR_LEN) {
		virtio_dev_fail(&n->dev, "receive buffer smaller than the 12-byte header");
		return -1;
	}
	return 1;
}

/* Host pointer of writable byte off of the chain (off < write_bytes). */
static uint8_t *chain_byte(const struct vq_chain *c, uint32_t off)
{
	const struct vq_iov *iov = c->iov + c->nread;

	for (uint32_t i = 0; i < c->nwrite && c->nread + i < VQ_MAX_IOV; i++) {
		if (off < iov[i].len)
			return (uint8_t *)iov[i].base + off;
		off -= iov[i].len;
	}
	return NULL;
}

/* Hands the held chains back: num_buffers first, then the used elements in order. */
static int rx_complete(struct virtio_net *n)
{
	struct virtio_net_rx *rx = &n->rx;
	struct virtqueue *vq = &n->dev.vq[VIRTIO_NET_RXQ];

	if (rx->num_buffers[0] && rx->num_buffers[1]) {
		*rx->num_buffers[0] = (uint8_t)rx->nheld;
		*rx->num_buffers[1] = (uint8_t)(rx->nheld >> 8);
	}
	for (uint16_t i = 0; i < rx->nheld; i++) {
		if (vq_push(vq, rx->heads[i], rx->lens[i]) < 0) {
			virtio_dev_fail(&n->dev, vq->why);
			return -1;
		}
	}
	atomic_fetch_add_explicit(&n->dev.requests, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&n->dev.bytes_in, rx->len, memory_order_relaxed);
	rx->active = false;
	return 0;
}

/* Delivers the held frame. 1 delivered (or dropped), 0 waiting for buffers, -1 failed. */
static int rx_deliver(struct virtio_net *n)
{
	struct virtio_net_rx *rx = &n->rx;
	bool mrg = virtio_has_feature(&n->dev, VIRTIO_NET_F_MRG_RXBUF);

	while (rx->pos < rx->len || rx->nheld == 0) {
		if (rx->nheld == VIRTIO_NET_QUEUE_SIZE) {
			virtio_dev_fail(&n->dev, "receive buffers too small for one frame");
			return -1;
		}
		int r = rx_pop(n);
		if (r <= 0)
			return r;
		const struct vq_chain *c = &n->chain;
		uint64_t take = rx->len - rx->pos;
		if (rx->nheld == 0) {
			if (!mrg && c->write_bytes < rx->len) {
				/* Without MRG_RXBUF one chain holds the frame: drop it. */
				atomic_fetch_add_explicit(&n->dev.io_errors, 1, memory_order_relaxed);
				rx->active = false;
				if (vq_push(&n->dev.vq[VIRTIO_NET_RXQ], c->head, 0) < 0) {
					virtio_dev_fail(&n->dev, n->dev.vq[VIRTIO_NET_RXQ].why);
					return -1;
				}
				return 1;
			}
			rx->num_buffers[0] = chain_byte(c, 10);
			rx->num_buffers[1] = chain_byte(c, 11);
		}
		if (take > c->write_bytes)
			take = c->write_bytes;
		vq_chain_write(c, 0, n->buf + rx->pos, (size_t)take);
		rx->heads[rx->nheld] = c->head;
		rx->lens[rx->nheld] = (uint32_t)take;
		rx->nheld++;
		rx->pos += (uint32_t)take;
	}
	return rx_complete(n) < 0 ? -1 : 1;
}

/* Checks and fixes the header the backend wrote, for what the guest negotiated.
 * false: the frame cannot be given to this guest. */
static bool rx_fix_header(struct virtio_net *n, uint32_t len)
{
	struct virtio_net_hdr_v1 *h = (struct virtio_net_hdr_v1 *)n->buf;
	unsigned type = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	unsigned bit = type == VIRTIO_NET_HDR_GSO_TCPV4 ? VIRTIO_NET_F_GUEST_TSO4
		       : type == VIRTIO_NET_HDR_GSO_TCPV6 ? VIRTIO_NET_F_GUEST_TSO6
		       : type == VIRTIO_NET_HDR_GSO_UDP ? VIRTIO_NET_F_GUEST_UFO : 0;

	if (len < VIRTIO_NET_HDR_LEN + VIRTIO_NET_ETH_HLEN)
		return false;
	if (type != VIRTIO_NET_HDR_GSO_NONE && (!bit || !virtio_has_feature(&n->dev, bit)))
		return false;
	if (!virtio_has_feature(&n->dev, VIRTIO_NET_F_GUEST_CSUM)) {
		if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return false;
		h->flags = 0;
	}
	h->num_buffers = htole16(1);
	return true;
}

/* Reads one frame into n->buf. 1 got one, 0 none waiting, -1 backend broken. */
static int rx_read(struct virtio_net *n)
{
	struct iovec v = { .iov_base = n->buf, .iov_len = sizeof(n->buf) };

	for (;;) {
		ssize_t r = n->be.ops->recv(n->be.be, &v, 1);
		if (r == -EAGAIN)
			return 0;
		if (r == -EMSGSIZE || (r >= 0 && !rx_fix_header(n, (uint32_t)r))) {
			atomic_fetch_add_explicit(&n->dev.io_errors, 1, memory_order_relaxed);
			continue;
		}
		if (r < 0) {
			log_warn("%s: reading tap '%s' failed: %s; receive stops", n->dev.name,
				 n->be.ifname, strerror((int)-r));
			return -1;
		}
		n->rx = (struct virtio_net_rx){ .active = true, .len = (uint32_t)r };
		return 1;
	}
}

/* The receive limiter's verdict on the held frame (charged once: its Ethernet bytes and one
 * operation). Throttled: the frame stays held, the tap unwatched, the timer asked to come
 * back. */
static bool rx_admit(struct virtio_net *n)
{
	if (n->rx.charged || !rl_enabled(&n->rl_rx))
		return true;
	uint64_t now = n->clock(), wait = 0;
	uint64_t bytes = n->rx.len > VIRTIO_NET_HDR_LEN ? n->rx.len - VIRTIO_NET_HDR_LEN : 0;
	if (rl_consume(&n->rl_rx, bytes, 1, now, &wait)) {
		n->rx.charged = true;
		return true;
	}
	n->rx_throttled = true;
	atomic_fetch_add_explicit(&n->rx_throttled_n, 1, memory_order_relaxed);
	rl_timer_want(&n->rl_timer, now + wait);
	return false;
}

/* Receive work: the held frame first, then new frames while the guest has buffers. */
static void rx_run(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	bool pushed = false, watch = false;

	n->rx_throttled = false;
	for (int i = 0; i < NET_RX_BUDGET && virtio_dev_running(d); i++) {
		if (!n->rx.active) {
			/* No buffer, no read: the frame stays in the host's queue. */
			struct virtqueue *vq = &d->vq[VIRTIO_NET_RXQ];
			if (!vq_has_work(vq)) {
				vq_set_notify(vq, true);
				if (!vq_has_work(vq))
					break;
				vq_set_notify(vq, false);
			}
			int r = rx_read(n);
			if (r <= 0) {
				watch = r == 0;
				break;
			}
		}
		if (!rx_admit(n))
			break; /* not watching: the limiter's timer resumes */
		int r = rx_deliver(n);
		if (r < 0)
			break;
		if (r == 0)
			break; /* waiting for buffers: a receive kick resumes */
		pushed = true;
		if (i == NET_RX_BUDGET - 1)
			watch = true; /* more may wait: the level-triggered fd calls again */
	}
	if (pushed)
		virtio_dev_used(d, VIRTIO_NET_RXQ);
	rx_watch(n, watch && virtio_dev_running(d));
}

void virtio_net_rx_ready(struct virtio_net *n)
{
	pthread_mutex_lock(&n->dev.lock);
	if (virtio_dev_running(&n->dev) && !n->dp_active)
		rx_run(n);
	else
		rx_watch(n, false);
	pthread_mutex_unlock(&n->dev.lock);
}

/* ---- transmit ---- */

/* Bytes [off, read_bytes) of the chain's readable part as iovecs in out[0..max). */
static int tx_slice(const struct vq_chain *c, uint64_t off, struct iovec *out, int max)
{
	int cnt = 0;
	uint32_t nr = c->nread < VQ_MAX_IOV ? c->nread : VQ_MAX_IOV;

	for (uint32_t i = 0; i < nr; i++) {
		if (off >= c->iov[i].len) {
			off -= c->iov[i].len;
			continue;
		}
		if (cnt == max)
			return -1;
		out[cnt++] = (struct iovec){ .iov_base = (uint8_t *)c->iov[i].base + off,
					     .iov_len = c->iov[i].len - (size_t)off };
		off = 0;
	}
	return cnt;
}

static void tx_drop(struct virtio_net *n, const char *why)
{
	atomic_fetch_add_explicit(&n->dev.io_errors, 1, memory_order_relaxed);
	guest_error("%s: transmit frame dropped: %s", n->dev.name, why);
}

/* Sends one frame (or drops it) and returns the chain. -1 after failing the device. */
static int tx_frame(struct virtio_dev *d, struct vq_chain *c)
{
	struct virtio_net *n = d->priv;
	struct virtio_net_hdr_v1 h;

	if (c->nwrite > 0) {
		virtio_dev_fail(d, "transmit chain has device-writable buffers");
		return -1;
	}
	if (vq_chain_read(c, 0, &h, sizeof(h)) < sizeof(h)) {
		tx_drop(n, "chain shorter than the 12-byte header");
	} else {
		uint64_t len = c->read_bytes - VIRTIO_NET_HDR_LEN;
		h.hdr_len = le16toh(h.hdr_len);
		h.gso_size = le16toh(h.gso_size);
		h.csum_start = le16toh(h.csum_start);
		h.csum_offset = le16toh(h.csum_offset);
		enum virtio_net_tx_verdict v = virtio_net_check_tx_hdr(
			&h, len, d->driver_features, virtio_net_max_tx_frame(d->driver_features, n->mtu));
		int cnt = v == NET_TX_OK ? tx_slice(c, VIRTIO_NET_HDR_LEN, n->iov + 1, IOV_MAX - 1) : 0;
		if (v != NET_TX_OK) {
			tx_drop(n, virtio_net_tx_verdict_str(v));
		} else if (cnt < 0) {
			tx_drop(n, "too many buffers in one frame");
		} else {
			/* The checked copy goes to the host, never the guest's header. */
			struct virtio_net_hdr_v1 out = {
				.flags = h.flags, .gso_type = h.gso_type, .hdr_len = htole16(h.hdr_len),
				.gso_size = htole16(h.gso_size), .csum_start = htole16(h.csum_start),
				.csum_offset = htole16(h.csum_offset), .num_buffers = 0,
			};
			n->iov[0] = (struct iovec){ .iov_base = &out, .iov_len = sizeof(out) };
			int r = n->be.ops->send(n->be.be, n->iov, cnt + 1);
			if (r < 0)
				atomic_fetch_add_explicit(&d->io_errors, 1, memory_order_relaxed);
			else
				atomic_fetch_add_explicit(&d->bytes_out, len, memory_order_relaxed);
			atomic_fetch_add_explicit(&d->requests, 1, memory_order_relaxed);
		}
	}
	if (vq_push(&d->vq[VIRTIO_NET_TXQ], c->head, 0) < 0) {
		virtio_dev_fail(d, d->vq[VIRTIO_NET_TXQ].why);
		return -1;
	}
	return 0;
}

/* The transmit limiter's verdict on the chain just popped (its frame bytes after the header
 * and one operation). Throttled: the chain goes back to the ring (nothing was pushed since
 * its pop) and the timer is asked to come back. */
static bool tx_admit(struct virtio_net *n, struct virtqueue *vq, const struct vq_chain *c)
{
	if (!rl_enabled(&n->rl_tx))
		return true;
	uint64_t now = n->clock(), wait = 0;
	uint64_t bytes = c->read_bytes > VIRTIO_NET_HDR_LEN ? c->read_bytes - VIRTIO_NET_HDR_LEN : 0;
	if (rl_consume(&n->rl_tx, bytes, 1, now, &wait))
		return true;
	if (vq_unpop(vq, c->head) < 0)
		return true; /* cannot give it back (never expected): send it */
	n->tx_throttled = true;
	atomic_fetch_add_explicit(&n->tx_throttled_n, 1, memory_order_relaxed);
	rl_timer_want(&n->rl_timer, now + wait);
	return false;
}

/* Whether the guest adds a transmit buffer within NET_TX_POLL_NS (spinning, lock held). */
static bool tx_poll(struct virtqueue *vq)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0;; i++) {
		if (vq_has_work(vq))
			return true;
		if ((i & 63) == 63) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > NET_TX_POLL_NS)
				return false;
		}
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
}

/* Transmit work: drains the queue with notifications off, then polls briefly for the next
 * frame before asking for a kick (a kick is a VM exit; a guest sending a stream keeps the
 * device busy without them). Only after a kick: an idle queue costs nothing. */
static void tx_run(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	struct virtqueue *vq = &d->vq[VIRTIO_NET_TXQ];
	unsigned total = 0;

	n->tx_throttled = false;
	vq_set_notify(vq, false);
	while (virtio_dev_running(d)) {
		unsigned pushed = 0;
		if (total >= NET_TX_BUDGET && d->kick) {
			d->kick(d->kick_ctx, VIRTIO_NET_TXQ); /* come back after the others */
			return;
		}
		for (;;) {
			enum vq_result r = vq_pop(vq, &n->chain);
			if (r == VQ_EMPTY)
				break;
			if (r == VQ_ERROR) {
				virtio_dev_fail(d, vq->why);
				return;
			}
			if (!tx_admit(n, vq, &n->chain))
				break;
			if (tx_frame(d, &n->chain) < 0)
				return;
			pushed++;
			if (++total >= NET_TX_BUDGET)
				break;
		}
		if (pushed)
			virtio_dev_used(d, VIRTIO_NET_TXQ);
		if (n->tx_throttled)
			return; /* notifications stay off: the limiter's timer resumes */
		/* Poll only after a batch (a stream); a lone frame is a request/response, whose
		 * answer arrives on the tap, which this thread must then be free to read. */
		if (!virtio_dev_running(d) || (pushed > 1 && tx_poll(vq)))
			continue;
		vq_set_notify(vq, true);
		if (!vq_has_work(vq))
			return;
		vq_set_notify(vq, false);
	}
}

/* ---- the virtio_dev ops ---- */

static void net_notify(struct virtio_dev *d, uint16_t q)
{
	struct virtio_net *n = d->priv;

	if (n->dp_active)
		return; /* the external data path owns the queues */
	if (q == VIRTIO_NET_TXQ) {
		tx_run(n);
	} else if (q == VIRTIO_NET_RXQ) {
		/* New receive buffers: no more kicks needed until they run out again. */
		vq_set_notify(&d->vq[VIRTIO_NET_RXQ], false);
		rx_run(n);
	}
}

/* 5.1.3.1: the dependencies between offload features. */
static bool features_consistent(uint64_t f)
{
	if ((f & (F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_UFO))) &&
	    !(f & F(VIRTIO_NET_F_GUEST_CSUM)))
		return false;
	if ((f & F(VIRTIO_NET_F_GUEST_ECN)) &&
	    !(f & (F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6))))
		return false;
	if ((f & NET_HOST_GSO) && !(f & F(VIRTIO_NET_F_CSUM)))
		return false;
	if ((f & F(VIRTIO_NET_F_HOST_ECN)) &&
	    !(f & (F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6))))
		return false;
	return true;
}

/* TUN_F_* for the offloads the guest accepted on receive. */
static unsigned tun_offloads(uint64_t f)
{
	unsigned t = 0;

	if (f & F(VIRTIO_NET_F_GUEST_CSUM))
		t |= TUN_F_CSUM;
	if (f & F(VIRTIO_NET_F_GUEST_TSO4))
		t |= TUN_F_TSO4;
	if (f & F(VIRTIO_NET_F_GUEST_TSO6))
		t |= TUN_F_TSO6;
	if (f & F(VIRTIO_NET_F_GUEST_ECN))
		t |= TUN_F_TSO_ECN;
	if (f & F(VIRTIO_NET_F_GUEST_UFO))
		t |= TUN_F_UFO;
	return t;
}

/* After a restore (I/O thread, dev.lock held): the tap's offloads as the guest negotiated
 * them, receive watching, the frame carried in the snapshot, and both queues served once.
 * Not the external data path: vhost would start its rings at index 0. */
static void net_restore_work(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;

	if (!virtio_dev_running(d))
		return;
	int r = n->be.ops->set_offload(n->be.be, tun_offloads(d->driver_features));
	if (r < 0) {
		log_warn("%s: cannot set offloads on tap '%s': %s", d->name, n->be.ifname,
			 strerror(-r));
		virtio_dev_fail(d, "the host refused the accepted offloads");
		return;
	}
	rx_watch(n, true);
	rx_run(n);
	tx_run(n);
}

/* The pending reset and activation, in that order. dev.lock held, I/O thread. */
static void net_do_work(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;

	if (n->reset_pending) {
		n->reset_pending = false;
		if (n->dp_active && n->dp_stop)
			n->dp_stop(n->dp_ctx);
		n->dp_active = false;
		rx_watch(n, false);
		n->be.ops->set_offload(n->be.be, 0);
	}
	if (n->restore_pending) {
		n->restore_pending = false;
		net_restore_work(n);
	}
	if (!n->activate_pending)
		return;
	n->activate_pending = false;
	if (!virtio_dev_running(d))
		return;
	int r = n->be.ops->set_offload(n->be.be, tun_offloads(d->driver_features));
	if (r < 0) {
		log_warn("%s: cannot set offloads on tap '%s': %s", d->name, n->be.ifname,
			 strerror(-r));
		virtio_dev_fail(d, "the host refused the accepted offloads");
		return;
	}
	if (n->dp_start) {
		if (n->dp_start(n->dp_ctx) == 0) {
			n->dp_active = true;
			return;
		}
		log_warn("%s: the kernel data path did not start; using mote's own", d->name);
	}
	rx_watch(n, true); /* the I/O thread reads once buffers are there */
}

static void net_request_work(struct virtio_net *n)
{
	if (n->defer)
		n->defer(n->defer_ctx);
	else
		net_do_work(n);
}

void virtio_net_work(struct virtio_net *n)
{
	pthread_mutex_lock(&n->dev.lock);
	net_do_work(n);
	pthread_mutex_unlock(&n->dev.lock);
}

/* DRIVER_OK (vCPU thread): checks, then the tap and data-path work goes to the I/O thread. */
static int net_activate(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;

	if (!features_consistent(d->driver_features)) {
		guest_error("%s: the driver accepted offload features without the ones they need",
			    d->name);
		return -1;
	}
	/* rx.active: false after a reset (net_reset) and at init; a frame restored from a
	 * snapshot (virtio_net_load) waits here for the receive buffers the guest posted. */
	n->activate_pending = true;
	net_request_work(n);
	return 0;
}

static void net_reset(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;

	n->rx.active = false; /* the held chains go with the queue reset */
	n->rx_throttled = n->tx_throttled = false;
	n->activate_pending = false;
	n->reset_pending = true;
	net_request_work(n);
}

void virtio_net_quiesce(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	struct virtio_net_rx *rx = &n->rx;

	if (!rx->active || rx->nheld == 0 || !virtio_dev_running(d))
		return;
	/* The held chains go back empty (a driver drops a buffer shorter than a header as a
	 * short frame); the frame itself stays, to be delivered again from its start. */
	for (uint16_t i = 0; i < rx->nheld; i++) {
		if (vq_push(&d->vq[VIRTIO_NET_RXQ], rx->heads[i], 0) < 0) {
			virtio_dev_fail(d, d->vq[VIRTIO_NET_RXQ].why);
			break;
		}
	}
	atomic_fetch_add_explicit(&d->io_errors, rx->nheld, memory_order_relaxed);
	rx->nheld = 0;
	rx->pos = 0;
	rx->num_buffers[0] = rx->num_buffers[1] = NULL;
	virtio_dev_used(d, VIRTIO_NET_RXQ);
}

static void net_snap_quiesce(struct virtio_dev *d)
{
	virtio_net_quiesce(d->priv);
}

static void net_snap_resume(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;

	if (!virtio_dev_running(d))
		return;
	if (!features_consistent(d->driver_features)) {
		virtio_dev_fail(d, "the restored features lack the ones their offloads need");
		return;
	}
	n->restore_pending = true;
	net_request_work(n);
}

static void net_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	const struct virtio_net *n = d->priv;

	memset(data, 0, len);
	if (off < VIRTIO_NET_CONFIG_SIZE) {
		uint32_t room = VIRTIO_NET_CONFIG_SIZE - off;
		memcpy(data, (const uint8_t *)&n->cfg + off, len < room ? len : room);
	}
}

/* Metrics beyond struct virtio_dev's (Firecracker's net metric names). */
static size_t net_counters(const struct virtio_dev *d, struct virtio_counter *out, size_t max)
{
	const struct virtio_net *n = d->priv;
	if (max < 2)
		return 0;
	out[0] = (struct virtio_counter){"rx_rate_limiter_throttled",
					 atomic_load_explicit(&n->rx_throttled_n, memory_order_relaxed)};
	out[1] = (struct virtio_counter){"tx_rate_limiter_throttled",
					 atomic_load_explicit(&n->tx_throttled_n, memory_order_relaxed)};
	return 2;
}

const struct virtio_dev_ops virtio_net_ops = {
	.kind = "net",
	.device_id = VIRTIO_ID_NET,
	.features = NET_FEATURES,
	.num_queues = 2,
	.queue_max_size = VIRTIO_NET_QUEUE_SIZE,
	.config_size = VIRTIO_NET_CONFIG_SIZE,
	.config_read = net_config_read,
	.activate = net_activate,
	.notify = net_notify,
	.reset = net_reset,
	.counters = net_counters,
	.save = virtio_net_save,
	.load = virtio_net_load,
	.quiesce = net_snap_quiesce,
	.resume = net_snap_resume,
};

/* The receive offloads the backend can do, as feature bits. */
static uint64_t guest_offloads(unsigned tun)
{
	uint64_t f = 0;

	if (!(tun & TUN_F_CSUM))
		return 0;
	f |= F(VIRTIO_NET_F_GUEST_CSUM);
	if (tun & TUN_F_TSO4)
		f |= F(VIRTIO_NET_F_GUEST_TSO4);
	if (tun & TUN_F_TSO6)
		f |= F(VIRTIO_NET_F_GUEST_TSO6);
	if ((tun & TUN_F_TSO_ECN) && (tun & (TUN_F_TSO4 | TUN_F_TSO6)))
		f |= F(VIRTIO_NET_F_GUEST_ECN);
	if (tun & TUN_F_UFO)
		f |= F(VIRTIO_NET_F_GUEST_UFO);
	return f;
}

int virtio_net_init(struct virtio_net *n, struct net_backend *be, const uint8_t *mac, char *err,
		    size_t errlen)
{
	if (!be || !be->ops || !be->ops->recv || !be->ops->send || !be->ops->set_offload)
		return err_set(err, errlen, "virtio-net: incomplete network backend");
	if (be->vnet_hdr_len != VIRTIO_NET_HDR_LEN)
		return err_set(err, errlen, "virtio-net: the backend must carry a %d-byte header",
			       VIRTIO_NET_HDR_LEN);
	n->be = *be;
	memset(be, 0, sizeof(*be));
	n->ops = virtio_net_ops;
	n->ops.features = (NET_FEATURES & ~NET_GUEST_OFFLOADS) | guest_offloads(n->be.offloads);
	n->mtu = n->be.mtu >= VIRTIO_NET_MIN_MTU && n->be.mtu <= 65535 ? n->be.mtu
									: VIRTIO_NET_DEFAULT_MTU;
	memset(&n->cfg, 0, sizeof(n->cfg));
	if (mac)
		memcpy(n->cfg.mac, mac, 6);
	else
		virtio_net_default_mac(n->be.ifname, n->cfg.mac);
	n->cfg.status = htole16(VIRTIO_NET_S_LINK_UP);
	n->cfg.max_virtqueue_pairs = htole16(1);
	n->cfg.mtu = htole16((uint16_t)n->mtu);
	n->rx_watch = NULL;
	n->rx_watch_ctx = NULL;
	n->watching = false;
	n->dp_start = NULL;
	n->dp_stop = NULL;
	n->dp_ctx = NULL;
	n->dp_active = false;
	n->defer = NULL;
	n->defer_ctx = NULL;
	n->activate_pending = n->reset_pending = n->restore_pending = false;
	n->rx.active = false;
	static const struct rl_config none = {{0, 0, 0}, {0, 0, 0}};
	n->clock = rl_clock_ns;
	rl_init(&n->rl_rx, &none, 0);
	rl_init(&n->rl_tx, &none, 0);
	n->rl_timer = (struct rl_timer){0};
	n->rx_throttled = n->tx_throttled = false;
	atomic_init(&n->rx_throttled_n, 0);
	atomic_init(&n->tx_throttled_n, 0);
	atomic_init(&n->dev.requests, 0);
	atomic_init(&n->dev.bytes_in, 0);
	atomic_init(&n->dev.bytes_out, 0);
	atomic_init(&n->dev.io_errors, 0);
	return 0;
}

void virtio_net_destroy(struct virtio_net *n)
{
	net_close(&n->be);
}

/* ---- rate limiters (appended) ---- */

void virtio_net_ratelimit_init(struct virtio_net *n, const struct rl_config *rx,
			       const struct rl_config *tx)
{
	uint64_t now = n->clock();
	rl_init(&n->rl_rx, rx, now);
	rl_init(&n->rl_tx, tx, now);
}

int virtio_net_ratelimit_update(struct virtio_net *n, const struct rl_update *rx,
				const struct rl_update *tx, char *err, size_t errlen)
{
	struct virtio_dev *d = &n->dev;
	if (n->dp_start && (rx->bw_set || rx->ops_set || tx->bw_set || tx->ops_set))
		return err_set(err, errlen, "%s uses the kernel's vhost-net data path, which mote "
			       "cannot rate-limit (start it with vhost=off)", d->name);
	pthread_mutex_lock(&d->lock);
	uint64_t now = n->clock();
	rl_update(&n->rl_rx, rx, now);
	rl_update(&n->rl_tx, tx, now);
	/* Throttled queues re-evaluate at once under the new limits (on the I/O thread). */
	if (n->rx_throttled && d->kick)
		d->kick(d->kick_ctx, VIRTIO_NET_RXQ);
	if (n->tx_throttled && d->kick)
		d->kick(d->kick_ctx, VIRTIO_NET_TXQ);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

void virtio_net_ratelimit_get(struct virtio_net *n, struct rl_config *rx, struct rl_config *tx)
{
	pthread_mutex_lock(&n->dev.lock);
	rl_get_config(&n->rl_rx, rx);
	rl_get_config(&n->rl_tx, tx);
	pthread_mutex_unlock(&n->dev.lock);
}

void virtio_net_on_timer(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	pthread_mutex_lock(&d->lock);
	rl_timer_fired(&n->rl_timer);
	if (virtio_dev_running(d) && !n->dp_active) {
		if (n->rx_throttled)
			rx_run(n);
		if (n->tx_throttled)
			tx_run(n);
	}
	pthread_mutex_unlock(&d->lock);
}
