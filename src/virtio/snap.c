/* Transport state of one virtio device in a snapshot (snap.h). */
#include "virtio/snap.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

#define VSNAP_VERSION 1u
#define STATUS_KNOWN                                                                        \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |      \
	 VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)

uint32_t virtio_snap_inflight(const struct virtio_dev *d)
{
	uint32_t n = 0;
	for (unsigned q = 0; q < d->ops->num_queues && q < VIRTIO_MAX_QUEUES; q++)
		n += d->vq[q].inflight;
	return n;
}

void virtio_snap_save(struct virtio_dev *d, struct snap_out *o)
{
	snap_put_u32(o, VSNAP_VERSION);
	snap_put_u32(o, d->ops->device_id);
	snap_put_u32(o, d->status);
	snap_put_u64(o, d->driver_features);
	snap_put_u32(o, d->device_features_sel);
	snap_put_u32(o, d->driver_features_sel);
	snap_put_u32(o, d->queue_sel);
	snap_put_u32(o, d->config_generation);
	snap_put_u32(o, atomic_load(&d->isr));
	snap_put_u16(o, d->ops->num_queues);
	for (unsigned q = 0; q < d->ops->num_queues && q < VIRTIO_MAX_QUEUES; q++) {
		const struct virtio_queue_regs *r = &d->qregs[q];
		const struct virtqueue *vq = &d->vq[q];
		snap_put_u16(o, r->size);
		snap_put_u8(o, r->ready);
		snap_put_u64(o, r->desc);
		snap_put_u64(o, r->avail);
		snap_put_u64(o, r->used);
		snap_put_u16(o, vq->last_avail);
		snap_put_u16(o, vq->used_idx);
		snap_put_u16(o, vq->signalled_used);
		snap_put_u8(o, vq->signalled_valid);
		/* Heads a device still holds (e.g. receive buffers waiting for a frame). */
		snap_put_u32(o, r->ready ? vq->inflight : 0);
		for (uint32_t h = 0; r->ready && h < vq->size; h++) {
			if (vq->inflight_wmax[h]) {
				snap_put_u16(o, (uint16_t)h);
				snap_put_u32(o, vq->inflight_wmax[h]);
			}
		}
	}
	struct snap_out dev;
	snap_out_init(&dev);
	if (d->ops->save)
		d->ops->save(d, &dev);
	if (!snap_out_ok(&dev))
		o->failed = true;
	snap_put_u32(o, (uint32_t)dev.len);
	snap_put(o, dev.buf, dev.len);
	snap_out_free(&dev);
}

struct qstate {
	struct virtio_queue_regs r;
	uint16_t last_avail, used_idx, signalled_used;
	uint8_t ready, signalled_valid;
	uint32_t ninflight;
};

static int load_queue(struct virtio_dev *d, unsigned q, struct snap_in *in, char *err,
		      size_t errlen)
{
	struct qstate s;
	memset(&s, 0, sizeof(s));
	s.r.size = snap_get_u16(in);
	s.ready = snap_get_u8(in);
	s.r.desc = snap_get_u64(in);
	s.r.avail = snap_get_u64(in);
	s.r.used = snap_get_u64(in);
	s.last_avail = snap_get_u16(in);
	s.used_idx = snap_get_u16(in);
	s.signalled_used = snap_get_u16(in);
	s.signalled_valid = snap_get_u8(in);
	s.ninflight = snap_get_u32(in);
	if (!snap_in_ok(in))
		return err_set(err, errlen, "%s state truncated in queue %u", d->name, q);
	uint16_t max = d->ops->queue_max_size;
	if (s.r.size == 0 || s.r.size > max || (s.r.size & (s.r.size - 1)) || s.ready > 1 ||
	    s.signalled_valid > 1)
		return err_set(err, errlen, "%s queue %u: size %u or a flag out of range", d->name, q,
			       s.r.size);
	if (!s.ready && s.ninflight)
		return err_set(err, errlen, "%s queue %u: buffers in flight on a queue not ready", d->name, q);
	if (s.ready && (!(d->status & VIRTIO_STATUS_FEATURES_OK) || s.ninflight > s.r.size ||
			(uint16_t)(s.last_avail - s.used_idx) != s.ninflight))
		return err_set(err, errlen, "%s queue %u: ready before FEATURES_OK, or indexes that "
			       "disagree with %u buffers in flight", d->name, q, s.ninflight);
	d->qregs[q] = s.r;
	vq_reset(&d->vq[q]);
	if (!s.ready)
		return 0;
	struct virtqueue *vq = &d->vq[q];
	if (vq_enable(vq, d->gm, s.r.size, s.r.desc, s.r.avail, s.r.used,
		      virtio_has_feature(d, VIRTIO_F_EVENT_IDX),
		      virtio_has_feature(d, VIRTIO_F_INDIRECT_DESC)) < 0)
		return err_set(err, errlen, "%s queue %u: %s", d->name, q, vq->why);
	for (uint32_t i = 0; i < s.ninflight; i++) {
		uint16_t h = snap_get_u16(in);
		uint32_t w = snap_get_u32(in);
		if (!snap_in_ok(in) || h >= s.r.size || w == 0 || w == UINT32_MAX || vq->inflight_wmax[h])
			return err_set(err, errlen, "%s queue %u: a bad head in flight", d->name, q);
		vq->inflight_wmax[h] = w;
	}
	d->qregs[q].ready = true;
	vq->last_avail = s.last_avail;
	vq->used_idx = s.used_idx;
	vq->signalled_used = s.signalled_used;
	vq->signalled_valid = s.signalled_valid;
	vq->inflight = s.ninflight;
	return 0;
}

int virtio_snap_load(struct virtio_dev *d, struct snap_in *in, char *err, size_t errlen)
{
	uint32_t ver = snap_get_u32(in), id = snap_get_u32(in), status = snap_get_u32(in);
	uint64_t feat = snap_get_u64(in);
	uint32_t dsel = snap_get_u32(in), rsel = snap_get_u32(in), qsel = snap_get_u32(in);
	uint32_t gen = snap_get_u32(in), isr = snap_get_u32(in);
	uint16_t nq = snap_get_u16(in);
	if (!snap_in_ok(in))
		return err_set(err, errlen, "%s state truncated", d->name);
	if (ver != VSNAP_VERSION)
		return err_set(err, errlen, "%s state version %u, expected %u", d->name, ver, VSNAP_VERSION);
	if (id != d->ops->device_id || nq != d->ops->num_queues || nq > VIRTIO_MAX_QUEUES)
		return err_set(err, errlen, "%s: the snapshot has a virtio device %u with %u queues in "
			       "this slot, the machine a device %u with %u", d->name, id, nq,
			       d->ops->device_id, d->ops->num_queues);
	if ((status & ~(uint32_t)STATUS_KNOWN) || (feat & ~(d->ops->features | 1ull << VIRTIO_F_VERSION_1)) || dsel > 1 || rsel > 1 ||
	    isr > 3)
		return err_set(err, errlen, "%s: status 0x%x, features 0x%llx or a selector the device "
			       "cannot have", d->name, status, (unsigned long long)feat);
	d->status = status;
	d->driver_features = feat;
	d->device_features_sel = dsel;
	d->driver_features_sel = rsel;
	d->queue_sel = qsel;
	d->config_generation = gen;
	atomic_store(&d->isr, isr);
	for (unsigned q = 0; q < nq; q++)
		if (load_queue(d, q, in, err, errlen) < 0)
			return -1;
	uint32_t len = snap_get_u32(in);
	if (!snap_in_ok(in) || len != in->left)
		return err_set(err, errlen, "%s: device state length %u, %zu bytes left", d->name, len,
			       in->left);
	struct snap_in dev;
	snap_in_init(&dev, in->p, len);
	if (d->ops->load) {
		if (d->ops->load(d, &dev, err, errlen) < 0)
			return -1;
	} else if (len) {
		return err_set(err, errlen, "%s: %u bytes of device state for a device that has none",
			       d->name, len);
	}
	/* A device with a resume hook restarts itself there (snapshot.c calls it once every device
	 * is loaded); the others are activated again as the driver's DRIVER_OK did. */
	if ((status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) == VIRTIO_STATUS_DRIVER_OK &&
	    !d->ops->resume && d->ops->activate && d->ops->activate(d) != 0)
		return err_set(err, errlen, "%s: the device cannot be activated again", d->name);
	return 0;
}
