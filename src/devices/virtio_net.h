/* virtio-net (virtio 1.2, 5.1): device id 1, one receive and one transmit queue, a tap (or
 * any net_backend) behind it. Frames carry a 12-byte struct virtio_net_hdr_v1 both ways.
 * Owns: the backend (closed by virtio_net_destroy), the configuration space (MAC, link
 * status, MTU), the offered features (data: what the backend supports), the one frame that
 * may wait for receive buffers, the checks on every header the guest sends.
 * Knows neither KVM nor its address nor the event loop: the host tells it when the backend is
 * readable (virtio_net_rx_ready) and it asks the host to start/stop watching the backend
 * (rx_watch) - that is the back-pressure: no receive buffers, no reading. */
#ifndef MOTE_DEVICES_VIRTIO_NET_H
#define MOTE_DEVICES_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backends/net.h"
#include "core/ratelimit.h"
#include "virtio/device.h"
#include "virtio/virtqueue.h"

#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
#define VIRTIO_NET_HDR_LEN 12 /* struct virtio_net_hdr_v1 (VERSION_1: num_buffers always there) */

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

#define VIRTIO_NET_S_LINK_UP 1

/* struct virtio_net_hdr_v1 fields (5.1.6). */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80

#define VIRTIO_NET_ETH_HLEN 14
#define VIRTIO_NET_VLAN_HLEN 4
#define VIRTIO_NET_MAX_GSO_FRAME (65535 + VIRTIO_NET_ETH_HLEN + VIRTIO_NET_VLAN_HLEN)
#define VIRTIO_NET_DEFAULT_MTU 1500
#define VIRTIO_NET_MIN_MTU 68

struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

/* The configuration space (5.1.4) up to mtu, little-endian. */
struct virtio_net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
};
#define VIRTIO_NET_CONFIG_SIZE 12u

/* Why a transmitted frame was dropped (virtio_net_check_tx_hdr). */
enum virtio_net_tx_verdict {
	NET_TX_OK = 0,
	NET_TX_SHORT,     /* less than a header plus an Ethernet header */
	NET_TX_TOO_BIG,   /* longer than the negotiated maximum */
	NET_TX_FLAGS,     /* flag bits other than NEEDS_CSUM, or NEEDS_CSUM without CSUM */
	NET_TX_CSUM,      /* csum_start/csum_offset outside the frame */
	NET_TX_GSO_TYPE,  /* unknown gso_type, or one whose HOST_* feature was not negotiated */
	NET_TX_GSO_FIELDS /* gso_size 0, or hdr_len beyond the frame */
};

/* The frame being delivered to the guest (at most one: received from the backend, waiting
 * for receive buffers). */
struct virtio_net_rx {
	bool active;
	uint32_t len;  /* header + frame bytes in buf */
	uint32_t pos;  /* bytes already written into held chains */
	uint16_t nheld;
	uint16_t heads[VIRTIO_NET_QUEUE_SIZE];
	uint32_t lens[VIRTIO_NET_QUEUE_SIZE];
	uint8_t *num_buffers[2]; /* host pointers to the two bytes of num_buffers in chain 1 */
	bool charged;  /* the receive rate limiter took its tokens */
};

struct virtio_net {
	/* virtio_dev_init(&n->dev, &n->ops, n, ...) */
	struct virtio_dev dev;
	struct virtio_dev_ops ops; /* virtio_net_ops with the features this backend supports */
	struct net_backend be;
	struct virtio_net_config cfg;
	unsigned mtu;               /* host order */
	/* Asks the host to watch (on) or stop watching (off) the backend for received frames.
	 * Called with dev.lock held, from the I/O thread or a vCPU thread; must not block. */
	void (*rx_watch)(void *ctx, bool on);
	void *rx_watch_ctx;
	bool watching;
	/* An external data path (vhost-net), or NULL. At activation dp_start(dp_ctx) == 0 means
	 * it took the queues over (the I/O thread's path stays idle); dp_stop gives them back at
	 * reset. Called with dev.lock held (vCPU thread); must not call back into the device. */
	int (*dp_start)(void *ctx);
	void (*dp_stop)(void *ctx);
	void *dp_ctx;
	bool dp_active;
	/* Work that must run on the I/O thread (tap and vhost ioctls, epoll changes: the vCPU
	 * threads' seccomp filter has none of them). activate and reset only record it and call
	 * defer(defer_ctx), after which the host calls virtio_net_work() on the I/O thread.
	 * defer NULL: the work is done at once (tests, fuzzing). */
	void (*defer)(void *ctx);
	void *defer_ctx;
	bool activate_pending, reset_pending;
	bool restore_pending; /* the resume hook's work (virtio_net.c, net_restore_work) */
	struct virtio_net_rx rx;
	/* Rate limiters, one per direction (disabled by default; dev.lock). *_throttled: that
	 * queue stopped for want of tokens and rl_timer (one for both) brings it back. clock:
	 * rl_clock_ns (tests: a fake). */
	struct ratelimiter rl_rx, rl_tx;
	struct rl_timer rl_timer;
	uint64_t (*clock)(void);
	bool rx_throttled, tx_throttled;
	atomic_ulong rx_throttled_n, tx_throttled_n; /* refusals (metrics) */
	/* Scratch (kept off the I/O thread's stack). */
	struct vq_chain chain;
	struct iovec iov[VQ_MAX_IOV + 1];
	uint8_t buf[VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_GSO_FRAME + 64];
};

/* The template ops table (all features); virtio_net_init copies it into n->ops and removes
 * the offloads the backend cannot do. */
extern const struct virtio_dev_ops virtio_net_ops;

/* Takes the backend (*be cleared on success), which must have been opened with a
 * VIRTIO_NET_HDR_LEN header. mac: 6 bytes, or NULL for one derived from the backend's name
 * (virtio_net_default_mac). 0, or -1 with a one-line reason in err. Does not touch n->dev. */
int virtio_net_init(struct virtio_net *n, struct net_backend *be, const uint8_t *mac, char *err,
		    size_t errlen);
void virtio_net_destroy(struct virtio_net *n);

/* Snapshot state (virtio_net_snap.c, docs/snapshot-devices.md): the MAC, link status and MTU
 * the guest read, the offered features (what the tap could do), and a received frame still
 * waiting for receive buffers. Load keeps the tap (a restore may give another one) but takes
 * the guest's view: MAC, MTU and offered features; it refuses a tap that cannot do the
 * offloads the snapshot offered, and a state saved while vhost-net served the rings. */
#define VIRTIO_NET_SNAP_VERSION 1u
void virtio_net_save(struct virtio_dev *d, struct snap_out *out);
int virtio_net_load(struct virtio_dev *d, struct snap_in *in, char *err, size_t errlen);

/* Snapshot quiesce (also the ops' quiesce hook): receive chains held for a frame that did not
 * fit are handed back empty (the frame stays in the device and goes into the next buffers).
 * dev.lock held, the VM paused; before guest memory is saved. */
void virtio_net_quiesce(struct virtio_net *n);

/* Deferred activation/reset work (see defer). I/O thread; takes dev.lock. */
void virtio_net_work(struct virtio_net *n);

/* The backend's fd is readable: receive what the guest has buffers for. I/O thread. */
void virtio_net_rx_ready(struct virtio_net *n);

/* A stable, locally administered, unicast MAC from an interface name (FNV-1a). */
void virtio_net_default_mac(const char *ifname, uint8_t mac[6]);

/* Checks one transmit header (a copy, host order fields) for a frame of frame_len bytes
 * (after the header) against the negotiated features `feat` and maximum frame length. */
enum virtio_net_tx_verdict virtio_net_check_tx_hdr(const struct virtio_net_hdr_v1 *h,
						   uint64_t frame_len, uint64_t feat,
						   uint64_t max_frame);
const char *virtio_net_tx_verdict_str(enum virtio_net_tx_verdict v);

/* The longest frame (Ethernet header on, vnet header off) the guest may send with features
 * feat on an interface of the given MTU. */
uint64_t virtio_net_max_tx_frame(uint64_t feat, unsigned mtu);

/* Rate limiters (appended). init: the limits at boot (before the VM runs). update: a running
 * VM's new limits (PATCH /network-interfaces; any thread, takes dev.lock; throttled queues
 * are kicked to re-evaluate on the I/O thread); refused (-1, err) on a device wired to
 * vhost-net, whose data path bypasses mote. get: the limits in force. on_timer: the
 * limiter's timer expired (I/O thread; takes dev.lock). */
void virtio_net_ratelimit_init(struct virtio_net *n, const struct rl_config *rx,
			       const struct rl_config *tx);
int virtio_net_ratelimit_update(struct virtio_net *n, const struct rl_update *rx,
				const struct rl_update *tx, char *err, size_t errlen);
void virtio_net_ratelimit_get(struct virtio_net *n, struct rl_config *rx, struct rl_config *tx);
void virtio_net_on_timer(struct virtio_net *n);

#endif
