/* virtio-rng (virtio 1.2, 5.4): fills each device-writable chain with getrandom() bytes.
 * Must not: walk rings itself (virtqueue.c does), touch guest memory other than through the
 * popped chain's host iovecs, or abort on guest input: a chain with device-readable buffers
 * (5.4.6.1 forbids them) fails the device (NEEDS_RESET). */
#include "devices/virtio_rng.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "core/log.h"

/* Fills p[0..len) from the host's CSPRNG, across EINTR and partial returns. Blocking
 * getrandom() only blocks before the host's pool is initialised, i.e. never after boot.
 * Returns the bytes filled: len unless the host failed. */
static size_t rng_fill(uint8_t *p, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom(p + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done;
}

/* Fills the writable buffers of c in order, VIRTIO_RNG_MAX_REQUEST bytes at most (the spec
 * lets the device use less than the whole buffer, 5.4.6.2). Returns the bytes written. */
static uint32_t rng_serve(const struct vq_chain *c)
{
	uint32_t written = 0;

	for (uint32_t i = 0; i < c->nwrite && written < VIRTIO_RNG_MAX_REQUEST; i++) {
		const struct vq_iov *v = &c->iov[c->nread + i];
		size_t want = VIRTIO_RNG_MAX_REQUEST - written;
		if (want > v->len)
			want = v->len;
		size_t got = rng_fill(v->base, want);
		written += (uint32_t)got;
		if (got < want) {
			log_error("virtio-rng: getrandom: %s", strerror(errno));
			break;
		}
	}
	return written;
}

/* Serves one chain. Returns -1 after failing the device. */
static int rng_request(struct virtio_dev *d, struct virtio_rng *r, struct vq_chain *c)
{
	if (c->nread > 0) {
		virtio_dev_fail(d, "request has device-readable buffers (the entropy device only "
				   "writes)");
		return -1;
	}
	uint32_t n = rng_serve(c);
	if (vq_push(&d->vq[0], c->head, n) < 0) {
		virtio_dev_fail(d, d->vq[0].why);
		return -1;
	}
	atomic_fetch_add_explicit(&r->requests, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->bytes, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->requests, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->bytes_in, n, memory_order_relaxed);
	if (n < c->write_bytes && n < VIRTIO_RNG_MAX_REQUEST) /* the host's getrandom failed */
		atomic_fetch_add_explicit(&d->io_errors, 1, memory_order_relaxed);
	return 0;
}

static int rng_serve_chain(struct virtio_dev *d, struct vq_chain *c)
{
	return rng_request(d, d->priv, c);
}

static void rng_notify(struct virtio_dev *d, uint16_t q)
{
	struct virtio_rng *r = d->priv;

	if (q == 0)
		virtio_dev_drain(d, 0, &r->chain, rng_serve_chain);
}

/* No configuration space: the transport never calls this with len > 0. */
static void rng_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	(void)d;
	(void)off;
	memset(data, 0, len);
}

/* The state stream: a version and the device id, nothing else (the entropy device keeps no
 * state beyond the transport's): a later version may add some, and a snapshot's section for
 * another kind of device is refused here. */
static void rng_save(struct virtio_dev *d, struct snap_out *out)
{
	snap_put_u32(out, VIRTIO_RNG_SNAP_VERSION);
	snap_put_u32(out, d->ops->device_id);
}

static int rng_load(struct virtio_dev *d, struct snap_in *in, char *err, size_t errlen)
{
	uint32_t version = snap_get_u32(in);
	uint32_t id = snap_get_u32(in);
	if (snap_in_ok(in) && version != VIRTIO_RNG_SNAP_VERSION)
		return err_set(err, errlen, "%s: snapshot state version %u (this mote reads %u)",
			       d->name, version, VIRTIO_RNG_SNAP_VERSION);
	if (!snap_in_done(in))
		return err_set(err, errlen, "%s: the snapshot state is %s", d->name,
			       snap_in_ok(in) ? "longer than expected" : "truncated");
	if (id != d->ops->device_id)
		return err_set(err, errlen, "%s: the snapshot state is for virtio device id %u, not "
			       "%u (entropy)", d->name, id, d->ops->device_id);
	return 0;
}

/* Requests the guest queued before the snapshot (its kick may have been lost with the old
 * process) are served once the VM runs again. */
static void rng_resume(struct virtio_dev *d)
{
	virtio_dev_kick_all(d);
}

const struct virtio_dev_ops virtio_rng_ops = {
	.kind = "rng",
	.device_id = VIRTIO_ID_RNG,
	.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
		    (1ull << VIRTIO_F_INDIRECT_DESC),
	.num_queues = 1,
	.queue_max_size = VIRTIO_RNG_QUEUE_SIZE,
	.config_size = 0,
	.config_read = rng_config_read,
	.notify = rng_notify,
	.save = rng_save,
	.load = rng_load,
	.resume = rng_resume,
};

int virtio_rng_init(struct virtio_rng *r)
{
	uint8_t probe;

	atomic_init(&r->requests, 0);
	atomic_init(&r->bytes, 0);
	/* GRND_NONBLOCK: EAGAIN only means the pool is not ready yet; ENOSYS and the like
	 * mean the device could never work. */
	if (getrandom(&probe, 1, GRND_NONBLOCK) < 0 && errno != EAGAIN && errno != EINTR) {
		log_error("virtio-rng: getrandom: %s", strerror(errno));
		return -1;
	}
	return 0;
}
