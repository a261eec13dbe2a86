/* The state every virtio device shares, and device failure. Owns: initial state, the
 * used-buffer and configuration-change interrupts (ISR bit, counter, one edge on the line),
 * and NEEDS_RESET. Does not decode registers (virtio/mmio.c) nor walk rings (virtqueue.c).
 * Every function except init/destroy runs with d->lock held. */
#include "virtio/device.h"

#include <string.h>

#include "core/log.h"

void virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *priv,
		     const char *name, const struct guest_mem *gm, const struct irq_line *irq)
{
	/* The queues are 1 MiB together: reset them, do not memset the whole struct. */
	d->ops = ops;
	d->priv = priv;
	d->name = name;
	d->gm = gm;
	pthread_mutex_init(&d->lock, NULL);
	d->status = 0;
	d->driver_features = 0;
	d->device_features_sel = d->driver_features_sel = 0;
	d->queue_sel = 0;
	d->config_generation = 0;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		d->qregs[q] = (struct virtio_queue_regs){ .size = ops->queue_max_size };
		vq_reset(&d->vq[q]);
	}
	atomic_init(&d->isr, 0);
	d->irq = irq ? *irq : (struct irq_line){ 0 };
	d->kick = NULL;
	d->kick_ctx = NULL;
	atomic_init(&d->notifies, 0);
	atomic_init(&d->interrupts, 0);
	atomic_init(&d->guest_errors, 0);
	atomic_init(&d->requests, 0);
	atomic_init(&d->bytes_in, 0);
	atomic_init(&d->bytes_out, 0);
	atomic_init(&d->io_errors, 0);
}

void virtio_dev_destroy(struct virtio_dev *d)
{
	pthread_mutex_destroy(&d->lock);
}

/* Sets ISR bits and sends one edge. */
static void raise_irq(struct virtio_dev *d, unsigned isr_bits)
{
	atomic_fetch_or(&d->isr, isr_bits);
	atomic_fetch_add(&d->interrupts, 1);
	irq_set(&d->irq, 1);
}

void virtio_dev_used(struct virtio_dev *d, uint16_t q)
{
	/* No used-buffer notifications before DRIVER_OK or after a failure (2.1.2). */
	if (q >= d->ops->num_queues || q >= VIRTIO_MAX_QUEUES || !virtio_dev_running(d))
		return;
	if (vq_should_interrupt(&d->vq[q]))
		raise_irq(d, VIRTIO_ISR_USED);
}

void virtio_dev_config_changed(struct virtio_dev *d)
{
	d->config_generation++;
	/* Notifications only once the driver is ready; it reads the space afresh anyway. */
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(d, VIRTIO_ISR_CONFIG);
}

void virtio_dev_fail(struct virtio_dev *d, const char *why)
{
	if (d->status & VIRTIO_STATUS_NEEDS_RESET)
		return; /* already failed: the first reason was reported */
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	atomic_fetch_add(&d->guest_errors, 1);
	guest_error("%s: %s; the device stops until the driver resets it", d->name,
		    why ? why : "device error");
	/* 2.1.2: once DRIVER_OK is set, NEEDS_RESET is announced by a configuration change
	 * notification. Before it, the driver finds the bit when it reads Status. */
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(d, VIRTIO_ISR_CONFIG);
}

void virtio_dev_queue_reset(struct virtio_dev *d, uint16_t q)
{
	if (q >= VIRTIO_MAX_QUEUES)
		return;
	if (d->ops->queue_reset)
		d->ops->queue_reset(d, q);
	vq_reset(&d->vq[q]);
}

bool virtio_dev_running(const struct virtio_dev *d)
{
	return (d->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	       VIRTIO_STATUS_DRIVER_OK;
}

void virtio_dev_drain(struct virtio_dev *d, uint16_t q, struct vq_chain *chain,
		      int (*serve)(struct virtio_dev *d, struct vq_chain *c))
{
	if (q >= VIRTIO_MAX_QUEUES)
		return;
	struct virtqueue *vq = &d->vq[q];
	while (virtio_dev_running(d)) {
		bool pushed = false;

		vq_set_notify(vq, false);
		while (virtio_dev_running(d)) {
			enum vq_result res = vq_pop(vq, chain);
			if (res == VQ_EMPTY)
				break;
			if (res == VQ_ERROR) {
				virtio_dev_fail(d, vq->why);
				break;
			}
			if (serve(d, chain) < 0)
				break;
			pushed = true;
		}
		if (pushed)
			virtio_dev_used(d, q);
		if (!virtio_dev_running(d))
			return;
		vq_set_notify(vq, true);
		if (!vq_has_work(vq))
			return;
	}
}

void virtio_dev_kick_all(struct virtio_dev *d)
{
	if (!virtio_dev_running(d))
		return;
	for (uint16_t q = 0; q < d->ops->num_queues && q < VIRTIO_MAX_QUEUES; q++) {
		if (d->kick)
			d->kick(d->kick_ctx, q);
		else if (d->ops->notify)
			d->ops->notify(d, q);
	}
}
