/* virtio-vsock (virtio 1.2, 5.10). Transmit: each chain's 44-byte header is copied once,
 * decoded and checked (vsock_check_tx); a bad one is dropped and counted (and, where the spec
 * allows an answer, its connection reset or an RST owed), a good one goes to the muxer with
 * the payload as host iovecs. Receive: only while the muxer has something to say is a receive
 * chain popped; the muxer writes the payload straight into it (a host stream read), the device
 * writes the header and pushes it; if the muxer found nothing after all the chain is given
 * back (vq_unpop). Event queue: one TRANSPORT_RESET when asked (after a snapshot restore).
 * Structural errors (a writable transmit buffer, a readable or too small receive or event
 * buffer, ring errors) fail the device. Must not: walk rings, hand guest addresses to anyone,
 * or abort on guest input. */
#include "devices/virtio_vsock.h"

#include <string.h>

#include "core/log.h"

#define F(b) (1ull << (b))
#define VSOCK_FEATURES                                                                       \
	(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_EVENT_IDX) | F(VIRTIO_F_INDIRECT_DESC) |          \
	 F(VIRTIO_VSOCK_F_STREAM))
#define RX_BUDGET 256 /* packets per wake-up before the I/O thread serves others */
#define TX_BUDGET 256

_Static_assert(VQ_MAX_IOV <= VSOCK_MAX_IOV, "a receive buffer's iovecs fit the muxer's");

/* The chain's buffers of one direction from byte skip on, at most len bytes, as iovecs. */
static int chain_iov(const struct vq_chain *c, bool writable, uint64_t skip, uint64_t len,
		     struct iovec *out)
{
	uint32_t first = writable ? c->nread : 0, n = writable ? c->nwrite : c->nread;
	int cnt = 0;
	for (uint32_t i = 0; i < n && first + i < VQ_MAX_IOV && len; i++) {
		const struct vq_iov *v = &c->iov[first + i];
		if (skip >= v->len) {
			skip -= v->len;
			continue;
		}
		uint64_t k = v->len - skip < len ? v->len - skip : len;
		out[cnt++] = (struct iovec){ (uint8_t *)v->base + skip, (size_t)k };
		len -= k;
		skip = 0;
	}
	return cnt;
}

/* ---- receive ---- */

/* Delivers what the muxer has while the guest has buffers. dev.lock held. */
static void rx_run(struct virtio_vsock *v)
{
	struct virtio_dev *d = &v->dev;
	struct virtqueue *vq = &d->vq[VIRTIO_VSOCK_RXQ];
	struct vq_chain *c = &v->chain;
	unsigned n = 0;

	while (virtio_dev_running(d) && vsock_mux_pending(&v->mux)) {
		if (n == RX_BUDGET) { /* come back after the others */
			if (d->kick)
				d->kick(d->kick_ctx, VIRTIO_VSOCK_RXQ);
			break;
		}
		enum vq_result r = vq_pop(vq, c);
		if (r == VQ_EMPTY) { /* no buffers: the driver kicks when it adds some */
			vq_set_notify(vq, true);
			if (!vq_has_work(vq))
				break;
			vq_set_notify(vq, false);
			continue;
		}
		if (r == VQ_ERROR) {
			virtio_dev_fail(d, vq->why);
			break;
		}
		if (c->nread > 0 || c->write_bytes < VSOCK_HDR_LEN) {
			virtio_dev_fail(d, c->nread ? "receive buffer is device-readable"
						    : "receive buffer smaller than the 44-byte header");
			break;
		}
		uint64_t room = c->write_bytes - VSOCK_HDR_LEN;
		uint32_t cap = room < VSOCK_MAX_PKT ? (uint32_t)room : VSOCK_MAX_PKT;
		int cnt = chain_iov(c, true, VSOCK_HDR_LEN, cap, v->iov);
		struct vsock_hdr h;
		if (!vsock_mux_recv(&v->mux, &h, v->iov, cnt, cap)) {
			vq_unpop(vq, c->head);
			break;
		}
		uint8_t raw[VSOCK_HDR_LEN];
		vsock_hdr_encode(&h, raw);
		vq_chain_write(c, 0, raw, sizeof(raw));
		if (vq_push(vq, c->head, VSOCK_HDR_LEN + h.len) < 0) {
			virtio_dev_fail(d, vq->why);
			break;
		}
		atomic_fetch_add_explicit(&d->bytes_in, h.len, memory_order_relaxed);
		n++;
	}
	if (n)
		virtio_dev_used(d, VIRTIO_VSOCK_RXQ);
}

/* The muxer's kick: host activity left packets for the guest. dev.lock held. */
static void mux_kick(void *ctx)
{
	rx_run(ctx);
}

/* ---- transmit ---- */

static void tx_drop(struct virtio_vsock *v, const char *why)
{
	atomic_fetch_add_explicit(&v->mux.stats.dropped, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&v->dev.io_errors, 1, memory_order_relaxed);
	guest_error("%s: packet dropped: %s", v->dev.name, why);
}

/* One guest packet: checked, then routed (or dropped); the chain goes back unwritten. */
static int tx_serve(struct virtio_dev *d, struct vq_chain *c)
{
	struct virtio_vsock *v = d->priv;
	uint8_t raw[VSOCK_HDR_LEN];

	if (c->nwrite > 0) {
		virtio_dev_fail(d, "transmit chain has device-writable buffers");
		return -1;
	}
	if (vq_chain_read(c, 0, raw, sizeof(raw)) < sizeof(raw)) {
		tx_drop(v, "chain shorter than the 44-byte header");
	} else {
		struct vsock_hdr h;
		vsock_hdr_decode(raw, &h);
		enum vsock_verdict vd = vsock_check_tx(&h, c->read_bytes - VSOCK_HDR_LEN, v->guest_cid);
		if (vd != VSOCK_PKT_OK) {
			tx_drop(v, vsock_verdict_str(vd));
			if (vsock_verdict_rst(vd))
				vsock_mux_reject(&v->mux, &h);
		} else {
			int cnt = chain_iov(c, false, VSOCK_HDR_LEN, h.len, v->iov);
			vsock_mux_send(&v->mux, &h, v->iov, cnt);
			atomic_fetch_add_explicit(&d->bytes_out, h.len, memory_order_relaxed);
		}
	}
	atomic_fetch_add_explicit(&d->requests, 1, memory_order_relaxed);
	if (vq_push(&d->vq[VIRTIO_VSOCK_TXQ], c->head, 0) < 0) {
		virtio_dev_fail(d, d->vq[VIRTIO_VSOCK_TXQ].why);
		return -1;
	}
	return 0;
}

/* Transmit work: batches of packets, each followed by the answers it produced (credit, data
 * it unblocked). TX_BUDGET packets, then the queue is re-kicked so the I/O thread's other work
 * gets its turn. No busy-polling for the guest's next packet: tried (50 us, as virtio-net's
 * transmit does), it made guest -> host streams slower on the loaded 2-core hosts, where the
 * spin takes the CPU from the vCPU that produces the packets. */
static void tx_run(struct virtio_vsock *v)
{
	struct virtio_dev *d = &v->dev;
	struct virtqueue *vq = &d->vq[VIRTIO_VSOCK_TXQ];
	unsigned total = 0;

	vq_set_notify(vq, false);
	while (virtio_dev_running(d)) {
		unsigned n = 0;
		enum vq_result r = VQ_EMPTY;
		while (total < TX_BUDGET && (r = vq_pop(vq, &v->chain)) == VQ_OK) {
			if (tx_serve(d, &v->chain) < 0)
				break;
			n++, total++;
			/* A credit update the packet made due goes out now, not after the batch: the
			 * guest sends on while mote forwards the rest (a pipeline, not stop-and-wait). */
			if (v->mux.credit_due) {
				v->mux.credit_due = false;
				rx_run(v);
			}
		}
		if (n)
			virtio_dev_used(d, VIRTIO_VSOCK_TXQ);
		if (virtio_dev_running(d) && total < TX_BUDGET && r == VQ_ERROR)
			virtio_dev_fail(d, vq->why);
		rx_run(v);
		if (!virtio_dev_running(d))
			return;
		if (total >= TX_BUDGET) {
			if (d->kick)
				d->kick(d->kick_ctx, VIRTIO_VSOCK_TXQ); /* the rest after the others */
			return;
		}
		vq_set_notify(vq, true);
		if (!vq_has_work(vq))
			return;
		vq_set_notify(vq, false);
	}
}

/* ---- event queue ---- */

/* Puts the pending TRANSPORT_RESET into an event buffer, if the driver offered one. */
static void ev_run(struct virtio_vsock *v)
{
	struct virtio_dev *d = &v->dev;
	struct virtqueue *vq = &d->vq[VIRTIO_VSOCK_EVQ];

	if (!v->event_pending || !virtio_dev_running(d))
		return;
	enum vq_result r = vq_pop(vq, &v->chain);
	if (r == VQ_EMPTY) {
		vq_set_notify(vq, true); /* the driver kicks when it offers one */
		if (!vq_has_work(vq) || vq_pop(vq, &v->chain) != VQ_OK)
			return;
	} else if (r == VQ_ERROR) {
		virtio_dev_fail(d, vq->why);
		return;
	}
	if (v->chain.nread > 0 || v->chain.write_bytes < VSOCK_EVENT_LEN) {
		virtio_dev_fail(d, "event buffer is device-readable or smaller than 4 bytes");
		return;
	}
	const uint8_t ev[VSOCK_EVENT_LEN] = { VSOCK_EVENT_TRANSPORT_RESET, 0, 0, 0 };
	vq_chain_write(&v->chain, 0, ev, sizeof(ev));
	if (vq_push(vq, v->chain.head, VSOCK_EVENT_LEN) < 0) {
		virtio_dev_fail(d, vq->why);
		return;
	}
	v->event_pending = false;
	virtio_dev_used(d, VIRTIO_VSOCK_EVQ);
}

/* ---- the virtio_dev ops ---- */

static void do_work(struct virtio_vsock *v)
{
	vsock_mux_work(&v->mux);
	ev_run(v);
	rx_run(v);
}

static void request_work(struct virtio_vsock *v)
{
	if (v->defer)
		v->defer(v->defer_ctx);
	else
		do_work(v);
}

void virtio_vsock_work(struct virtio_vsock *v)
{
	pthread_mutex_lock(&v->dev.lock);
	do_work(v);
	pthread_mutex_unlock(&v->dev.lock);
}

static void vsock_notify(struct virtio_dev *d, uint16_t q)
{
	struct virtio_vsock *v = d->priv;

	if (q == VIRTIO_VSOCK_TXQ) {
		tx_run(v);
	} else if (q == VIRTIO_VSOCK_RXQ) {
		/* New receive buffers: no more kicks needed until they run out again. */
		vq_set_notify(&d->vq[VIRTIO_VSOCK_RXQ], false);
		rx_run(v);
	} else if (q == VIRTIO_VSOCK_EVQ) {
		ev_run(v);
	}
}

/* DRIVER_OK (vCPU thread): the I/O thread starts accepting host connections. */
static int vsock_activate(struct virtio_dev *d)
{
	struct virtio_vsock *v = d->priv;
	vsock_mux_request_start(&v->mux);
	request_work(v);
	return 0;
}

/* Status 0: every connection is forgotten (the driver forgot its side). */
static void vsock_reset(struct virtio_dev *d)
{
	struct virtio_vsock *v = d->priv;
	v->event_pending = false;
	vsock_mux_request_reset(&v->mux);
	request_work(v);
}

void virtio_vsock_transport_reset(struct virtio_vsock *v)
{
	pthread_mutex_lock(&v->dev.lock);
	v->event_pending = true;
	vsock_mux_request_reset(&v->mux);
	if (virtio_dev_running(&v->dev))
		vsock_mux_request_start(&v->mux);
	request_work(v);
	pthread_mutex_unlock(&v->dev.lock);
}

static void vsock_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	const struct virtio_vsock *v = d->priv;
	for (uint32_t i = 0; i < len; i++) /* le64 guest_cid, then nothing */
		data[i] = off + i < VIRTIO_VSOCK_CONFIG_SIZE ? (uint8_t)(v->guest_cid >> 8 * (off + i)) : 0;
}

static void vsock_save(struct virtio_dev *d, struct snap_out *out)
{
	const struct virtio_vsock *v = d->priv;
	snap_put_u32(out, VIRTIO_VSOCK_SNAP_VERSION);
	snap_put_u64(out, v->guest_cid);
	snap_put_u8(out, v->event_pending);
}

static int vsock_load(struct virtio_dev *d, struct snap_in *in, char *err, size_t errlen)
{
	struct virtio_vsock *v = d->priv;
	uint32_t version = snap_get_u32(in);
	uint64_t cid = snap_get_u64(in);
	uint8_t pending = snap_get_u8(in);
	if (!snap_in_done(in))
		return err_set(err, errlen, "%s: the snapshot state is %s", d->name,
			       snap_in_ok(in) ? "longer than expected" : "truncated");
	if (version != VIRTIO_VSOCK_SNAP_VERSION)
		return err_set(err, errlen, "%s: snapshot state version %u (this mote reads %u)",
			       d->name, version, VIRTIO_VSOCK_SNAP_VERSION);
	if (cid != v->guest_cid)
		return err_set(err, errlen, "%s: the snapshot was taken with guest CID %llu, this "
			       "device has %llu", d->name, (unsigned long long)cid,
			       (unsigned long long)v->guest_cid);
	if (pending > 1)
		return err_set(err, errlen, "%s: bad event flag %u in the snapshot state", d->name,
			       pending);
	v->event_pending = pending;
	return 0;
}

static size_t vsock_counters(const struct virtio_dev *d, struct virtio_counter *out, size_t max)
{
	const struct vsock_stats *s = &((const struct virtio_vsock *)d->priv)->mux.stats;
#define S(f) { #f, atomic_load_explicit(&s->f, memory_order_relaxed) }
	const struct virtio_counter all[] = {
		S(tx_packets), S(rx_packets), S(dropped), S(rst_sent), S(rst_received),
		S(rst_dropped), S(credit_errors), S(conns_host), S(conns_guest), S(conns_refused),
		S(conns_closed), S(conns_active),
	};
#undef S
	size_t n = sizeof(all) / sizeof(all[0]) < max ? sizeof(all) / sizeof(all[0]) : max;
	memcpy(out, all, n * sizeof(all[0]));
	return n;
}

const struct virtio_dev_ops virtio_vsock_ops = {
	.kind = "vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.features = VSOCK_FEATURES,
	.num_queues = 3,
	.queue_max_size = VIRTIO_VSOCK_QUEUE_SIZE,
	.config_size = VIRTIO_VSOCK_CONFIG_SIZE,
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.notify = vsock_notify,
	.reset = vsock_reset,
	.save = vsock_save,
	.load = vsock_load,
	.counters = vsock_counters,
};

int virtio_vsock_init(struct virtio_vsock *v, uint64_t guest_cid, uint32_t max_conns,
		      const struct vsock_host_ops *ops, void *host, char *err, size_t errlen)
{
	if (guest_cid < VSOCK_CID_MIN || guest_cid > VSOCK_CID_MAX)
		return err_set(err, errlen, "virtio-vsock: guest CID %llu is outside %u..%u",
			       (unsigned long long)guest_cid, VSOCK_CID_MIN, VSOCK_CID_MAX);
	if (vsock_mux_init(&v->mux, guest_cid, max_conns, ops, host, err, errlen) < 0)
		return -1;
	v->mux.kick = mux_kick;
	v->mux.kick_ctx = v;
	v->guest_cid = guest_cid;
	v->event_pending = false;
	v->defer = NULL;
	v->defer_ctx = NULL;
	return 0;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	vsock_mux_destroy(&v->mux);
}
