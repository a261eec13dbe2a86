/* virtio <-> KVM wiring: eventfds for notifications and interrupts, handlers on the I/O thread. */
#include "attach.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "devices/virtio_net.h"
#include "virtio/mmio.h"

/* The device's irq_line: each raise is one eventfd write, i.e. one edge through the irqfd. */
static void irqfd_set(void *ctx, unsigned gsi, int level)
{
	(void)gsi;
	if (!level)
		return;
	event_signal(*(int *)ctx);
}

/* A QueueNotify that reached userspace (no ioeventfd match): take the same path. */
static void kick_queue(void *ctx, uint16_t q)
{
	struct attached *a = ctx;
	if (q < VIRTIO_MAX_QUEUES && a->queues[q].fd >= 0)
		event_signal(a->queues[q].fd);
}

/* I/O thread: queue q was notified. */
static void on_notify(void *ctx, int fd)
{
	struct attach_queue *aq = ctx;
	struct virtio_dev *d = aq->a->dev;
	uint64_t v;
	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return;
	atomic_fetch_add(&d->notifies, 1);
	pthread_mutex_lock(&d->lock);
	if (virtio_dev_running(d))
		d->ops->notify(d, aq->q);
	pthread_mutex_unlock(&d->lock);
}

int attach_virtio(struct attached *a, struct virtio_dev *d, uint64_t base, unsigned gsi,
		  struct kvm *kvm, struct event_loop *loop, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	err[0] = '\0';
	a->dev = d;
	a->irq_fd = -1;
	a->loop = loop;
	a->watch_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		a->queues[q] = (struct attach_queue){.a = a, .q = (uint16_t)q, .fd = -1};

	a->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->irq_fd < 0 || kvm_add_irqfd(kvm, gsi, a->irq_fd, err, errlen) < 0)
		goto fail;
	d->irq = (struct irq_line){.set = irqfd_set, .ctx = &a->irq_fd, .gsi = gsi};
	for (unsigned q = 0; q < d->ops->num_queues && q < VIRTIO_MAX_QUEUES; q++) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		a->queues[q].fd = fd;
		if (fd < 0 ||
		    kvm_add_ioeventfd(kvm, base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q, fd, err, errlen) < 0 ||
		    event_add(loop, fd, on_notify, &a->queues[q]) < 0)
			goto fail;
	}
	d->kick = kick_queue;
	d->kick_ctx = a;
	return 0;
fail:
	if (errno && !err[0])
		snprintf(err, errlen, "%s: cannot create notification descriptors: %s", d->name,
			 strerror(errno));
	attach_release(a);
	return -1;
}

void attach_release(struct attached *a)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (a->queues[q].fd >= 0)
			close(a->queues[q].fd);
	if (a->irq_fd >= 0)
		close(a->irq_fd);
	a->irq_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		a->queues[q].fd = -1;
}

/* ---- virtio-net: the backend's fd on the I/O thread ---- */

static void on_tap(void *ctx, int fd)
{
	(void)fd;
	virtio_net_rx_ready(ctx);
}

/* The device's rx_watch hook: epoll interest on or off, nothing else. */
static void net_rx_watch(void *ctx, bool on)
{
	struct attached *a = ctx;
	if (event_watch(a->loop, a->watch_fd, on) < 0)
		log_warn("%s: cannot %s watching its tap: %s", a->dev->name, on ? "start" : "stop",
			 strerror(errno));
}

int attach_net(struct attached *a, struct virtio_net *n, struct event_loop *loop, char *err,
	       size_t errlen)
{
	int fd = n->be.ops->fd(n->be.be);
	if (event_add(loop, fd, on_tap, n) < 0 || event_watch(loop, fd, false) < 0) {
		snprintf(err, errlen, "%s: cannot watch tap '%s': %s", n->dev.name, n->be.ifname,
			 strerror(errno));
		return -1;
	}
	a->loop = loop;
	a->watch_fd = fd;
	n->rx_watch = net_rx_watch;
	n->rx_watch_ctx = a;
	return 0;
}
