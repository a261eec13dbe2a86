/* virtio-console, port 0 only (virtio 1.2, 5.3): transmitq chains go to the host's tx
 * callback, host input goes into receiveq chains when the host pushes it (no buffering in the
 * device: back-pressure is the host's business, helped by the rx_room callback).
 * Must not: walk rings itself (virtqueue.c does), touch guest memory other than through
 * popped chains' host iovecs, or abort on guest input: a transmitq chain with writable
 * buffers or a receiveq chain with readable ones (5.3.6.1 forbids both) fails the device.
 * Locking: every entry point runs with dev.lock held (virtio_console_rx_push takes it). */
#include "devices/virtio_console.h"

#include <string.h>

#include "core/log.h"

#define VCON_FEATURES                                                                      \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |                     \
	 (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_CONSOLE_F_EMERG_WRITE))

/* Pushes a served chain; fails the device when the ring refuses it. */
static int vcon_push(struct virtio_dev *d, uint16_t q, uint16_t head, uint32_t written)
{
	if (vq_push(&d->vq[q], head, written) < 0) {
		virtio_dev_fail(d, d->vq[q].why);
		return -1;
	}
	return 0;
}

/* One transmitq chain: its readable buffers, in order, to the host; used length 0 (the
 * device writes nothing). Returns -1 after failing the device. */
static int vcon_tx_chain(struct virtio_dev *d, struct virtio_console *c, const struct vq_chain *ch)
{
	if (ch->nwrite > 0) {
		virtio_dev_fail(d, "transmitq chain has device-writable buffers");
		return -1;
	}
	for (uint32_t i = 0; i < ch->nread; i++)
		if (c->host.tx)
			c->host.tx(c->host.ctx, ch->iov[i].base, ch->iov[i].len);
	atomic_fetch_add_explicit(&c->tx_bytes, ch->read_bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->requests, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->bytes_out, ch->read_bytes, memory_order_relaxed);
	return vcon_push(d, VIRTIO_CONSOLE_TXQ, ch->head, 0);
}

static int vcon_tx_serve(struct virtio_dev *d, struct vq_chain *ch)
{
	return vcon_tx_chain(d, d->priv, ch);
}

/* The host waited for receive buffers: tell it (once) that it may push again. */
static void vcon_wake_host(struct virtio_console *c)
{
	if (!c->rx_waiting)
		return;
	c->rx_waiting = false;
	if (c->host.rx_room)
		c->host.rx_room(c->host.ctx);
}

/* A kick on the receiveq means new receive buffers. The device does not pop them here:
 * without pending input there is nothing to put in them, and the host, which holds the
 * input, pushes it through virtio_console_rx_push. */
static void vcon_notify(struct virtio_dev *d, uint16_t q)
{
	struct virtio_console *c = d->priv;

	if (!virtio_dev_running(d))
		return;
	if (q == VIRTIO_CONSOLE_RXQ)
		vcon_wake_host(c);
	else if (q == VIRTIO_CONSOLE_TXQ)
		virtio_dev_drain(d, VIRTIO_CONSOLE_TXQ, &c->chain, vcon_tx_serve);
}

/* DRIVER_OK: receive buffers posted before it (their kick was not served) can take input. */
static int vcon_activate(struct virtio_dev *d)
{
	vcon_wake_host(d->priv);
	return 0;
}

/* Fills receiveq chains from buf while there are bytes and chains. Returns the bytes taken;
 * *pushed tells whether any chain went back to the driver. */
static size_t vcon_rx_fill(struct virtio_dev *d, struct virtio_console *c, const uint8_t *buf,
			   size_t n, bool *pushed)
{
	struct virtqueue *vq = &d->vq[VIRTIO_CONSOLE_RXQ];
	size_t took = 0;

	while (took < n && virtio_dev_running(d)) {
		enum vq_result res = vq_pop(vq, &c->chain);
		if (res == VQ_EMPTY)
			break;
		if (res == VQ_ERROR) {
			virtio_dev_fail(d, vq->why);
			break;
		}
		if (c->chain.nread > 0) {
			virtio_dev_fail(d, "receiveq chain has device-readable buffers");
			break;
		}
		/* vq_pop refuses empty buffers, so every chain takes at least one byte. */
		size_t want = n - took < UINT32_MAX ? n - took : UINT32_MAX;
		size_t k = vq_chain_write(&c->chain, 0, buf + took, want);
		if (vcon_push(d, VIRTIO_CONSOLE_RXQ, c->chain.head, (uint32_t)k) < 0)
			break;
		atomic_fetch_add_explicit(&d->requests, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&d->bytes_in, k, memory_order_relaxed);
		took += k;
		*pushed = true;
	}
	return took;
}

size_t virtio_console_rx_push(struct virtio_console *c, const uint8_t *buf, size_t n)
{
	struct virtio_dev *d = &c->dev;
	struct virtqueue *vq = &d->vq[VIRTIO_CONSOLE_RXQ];
	bool pushed = false;
	size_t took = 0;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&d->lock);
	for (;;) {
		took += vcon_rx_fill(d, c, buf + took, n - took, &pushed);
		if (took == n || !virtio_dev_running(d))
			break;
		/* Out of buffers: ask for a kick at the next one, then re-check so a buffer
		 * posted before the request became visible is not missed. */
		vq_set_notify(vq, true);
		if (!vq_has_work(vq))
			break;
	}
	if (pushed)
		virtio_dev_used(d, VIRTIO_CONSOLE_RXQ);
	if (took < n)
		c->rx_waiting = true;
	pthread_mutex_unlock(&d->lock);
	atomic_fetch_add_explicit(&c->rx_bytes, took, memory_order_relaxed);
	return took;
}

/* [off, off + len) is inside the configuration space (the transport checked). Every field
 * reads 0: no size, no ports, and emerg_wr is write-only. */
static void vcon_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	(void)d;
	(void)off;
	memset(data, 0, len);
}

/* 5.3.5.1: a write to emerg_wr works in any device state and its low byte is output. A
 * write covering only emerg_wr's upper bytes is ignored; the other fields are read-only. */
static void vcon_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *data,
			      uint32_t len)
{
	struct virtio_console *c = d->priv;

	if (off < VIRTIO_CONSOLE_CFG_EMERG_WR) {
		atomic_fetch_add(&d->guest_errors, 1);
		guest_error("%s: %u-byte config write at 0x%x: only emerg_wr (0x%x) is writable",
			    d->name, len, off, VIRTIO_CONSOLE_CFG_EMERG_WR);
	}
	if (off > VIRTIO_CONSOLE_CFG_EMERG_WR || len <= VIRTIO_CONSOLE_CFG_EMERG_WR - off)
		return;
	if (c->host.tx)
		c->host.tx(c->host.ctx, &data[VIRTIO_CONSOLE_CFG_EMERG_WR - off], 1);
	atomic_fetch_add_explicit(&c->emerg_bytes, 1, memory_order_relaxed);
}

/* The state stream: a version and the device id. The console has no guest-visible state
 * beyond the transport's (no configuration the guest can change; emerg_wr is write-only),
 * and rx_waiting concerns the old process's host input, which a restore does not carry. */
static void vcon_save(struct virtio_dev *d, struct snap_out *out)
{
	snap_put_u32(out, VIRTIO_CONSOLE_SNAP_VERSION);
	snap_put_u32(out, d->ops->device_id);
}

static int vcon_load(struct virtio_dev *d, struct snap_in *in, char *err, size_t errlen)
{
	uint32_t version = snap_get_u32(in);
	uint32_t id = snap_get_u32(in);
	if (snap_in_ok(in) && version != VIRTIO_CONSOLE_SNAP_VERSION)
		return err_set(err, errlen, "%s: snapshot state version %u (this mote reads %u)",
			       d->name, version, VIRTIO_CONSOLE_SNAP_VERSION);
	if (!snap_in_done(in))
		return err_set(err, errlen, "%s: the snapshot state is %s", d->name,
			       snap_in_ok(in) ? "longer than expected" : "truncated");
	if (id != d->ops->device_id)
		return err_set(err, errlen, "%s: the snapshot state is for virtio device id %u, not "
			       "%u (console)", d->name, id, d->ops->device_id);
	((struct virtio_console *)d->priv)->rx_waiting = false;
	return 0;
}

/* Output the guest queued before the snapshot goes out; the host may push input again. */
static void vcon_resume(struct virtio_dev *d)
{
	struct virtio_console *c = d->priv;

	if (!virtio_dev_running(d))
		return;
	c->rx_waiting = true; /* the first receiveq service tells the host it may push */
	virtio_dev_kick_all(d);
}

const struct virtio_dev_ops virtio_console_ops = {
	.kind = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.features = VCON_FEATURES,
	.num_queues = 2,
	.queue_max_size = VIRTIO_CONSOLE_QUEUE_SIZE,
	.config_size = VIRTIO_CONSOLE_CONFIG_SIZE,
	.config_read = vcon_config_read,
	.config_write = vcon_config_write,
	.activate = vcon_activate,
	.notify = vcon_notify,
	.save = vcon_save,
	.load = vcon_load,
	.resume = vcon_resume,
};

void virtio_console_init(struct virtio_console *c, const struct vconsole_host *host)
{
	c->host = host ? *host : (struct vconsole_host){ 0 };
	c->rx_waiting = false;
	atomic_init(&c->rx_bytes, 0);
	atomic_init(&c->tx_bytes, 0);
	atomic_init(&c->emerg_bytes, 0);
}
