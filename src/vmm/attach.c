/* virtio <-> KVM wiring: eventfds for notifications and interrupts, handlers on the I/O thread. */
#include "vmm/attach.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_net.h"
#include "devices/virtio_vsock.h"
#include "vsock/uds.h"
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
	a->vhost.fd = -1;
	a->call_fd[0] = a->call_fd[1] = -1;
	a->work_fd = -1;
	a->timer_fd = -1;
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
	vhost_net_close(&a->vhost);
	for (unsigned q = 0; q < 2; q++)
		if (a->call_fd[q] >= 0)
			close(a->call_fd[q]);
	a->call_fd[0] = a->call_fd[1] = -1;
	if (a->work_fd >= 0)
		close(a->work_fd);
	a->work_fd = -1;
	if (a->timer_fd >= 0) {
		event_source_del(a->loop, &a->timer_src);
		close(a->timer_fd);
	}
	a->timer_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (a->queues[q].fd >= 0)
			close(a->queues[q].fd);
	if (a->irq_fd >= 0)
		close(a->irq_fd);
	a->irq_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		a->queues[q].fd = -1;
}

/* ---- virtio-net: the backend's fd on the I/O thread, or vhost-net ---- */

/* I/O thread: the device deferred its activation or reset work here. */
static void on_net_work(void *ctx, int fd)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return;
	virtio_net_work(ctx);
}

/* A device's defer hook: wakes its work handler on the I/O thread. */
static void signal_work(void *ctx)
{
	event_signal(*(int *)ctx);
}

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

/* I/O thread: vhost signalled ring q's call eventfd. virtio-mmio has an InterruptStatus the
 * driver reads, which vhost cannot set: mote sets it and injects the edge itself. */
static void on_vhost_call(void *ctx, int fd)
{
	struct attached *a = ctx;
	uint64_t v;
	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return;
	atomic_fetch_or(&a->dev->isr, VIRTIO_ISR_USED);
	atomic_fetch_add(&a->dev->interrupts, 1);
	irq_set(&a->dev->irq, 1);
}

static void watch_kicks(struct attached *a, bool on)
{
	for (unsigned q = 0; q < 2; q++)
		if (a->queues[q].fd >= 0)
			event_watch(a->loop, a->queues[q].fd, on);
}

/* dp_start: the driver is ready; hand both rings to vhost. d->lock held (vCPU thread). */
static int net_vhost_start(void *ctx)
{
	struct attached *a = ctx;
	struct virtio_dev *d = a->dev;
	struct vhost_net_ring r[2];
	char err[256];

	for (unsigned q = 0; q < 2; q++)
		r[q] = (struct vhost_net_ring){
			.num = d->vq[q].size, .desc = (uint64_t)(uintptr_t)d->vq[q].desc,
			.avail = (uint64_t)(uintptr_t)d->vq[q].avail,
			.used = (uint64_t)(uintptr_t)d->vq[q].used,
			.kick_fd = a->queues[q].fd, .call_fd = a->call_fd[q],
		};
	watch_kicks(a, false); /* the kicks are vhost's now */
	if (vhost_net_start(&a->vhost, d->driver_features, r, err, sizeof(err)) < 0) {
		log_warn("%s: %s", d->name, err);
		watch_kicks(a, true);
		return -1;
	}
	return 0;
}

static void net_vhost_stop(void *ctx)
{
	struct attached *a = ctx;
	vhost_net_stop(&a->vhost);
	watch_kicks(a, true);
}

/* Opens vhost for n and installs the dp hooks. 0, or -1 with err. */
static int net_vhost_attach(struct attached *a, struct virtio_net *n,
			    const struct vhost_net_ops *ops, const struct guest_mem *gm, char *err,
			    size_t errlen)
{
	if (vhost_net_open(&a->vhost, ops, NULL, gm, n->be.ops->fd(n->be.be), err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < vhost_net_nruntime_ioctls; i++) /* start/stop run on the I/O thread */
		if (event_allow_ioctl(a->loop, vhost_net_runtime_ioctls[i]) < 0) {
			snprintf(err, errlen, "%s: vhost: %s", n->dev.name, strerror(errno));
			return -1;
		}
	for (unsigned q = 0; q < 2; q++) {
		a->call_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (a->call_fd[q] < 0 || event_add(a->loop, a->call_fd[q], on_vhost_call, a) < 0) {
			snprintf(err, errlen, "%s: vhost interrupt eventfd: %s", n->dev.name,
				 strerror(errno));
			return -1;
		}
	}
	/* Offer only the transport features the kernel path has too. */
	const uint64_t transport = (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_F_INDIRECT_DESC) |
				   (1ull << VIRTIO_NET_F_MRG_RXBUF);
	n->ops.features &= ~(transport & ~a->vhost.features);
	n->dp_start = net_vhost_start;
	n->dp_stop = net_vhost_stop;
	n->dp_ctx = a;
	return 0;
}

int attach_net(struct attached *a, struct virtio_net *n, int vhost, const struct vhost_net_ops *ops,
	       const struct guest_mem *gm, bool *told, char *err, size_t errlen)
{
	int fd = n->be.ops->fd(n->be.be);
	if (event_add(a->loop, fd, on_tap, n) < 0 || event_watch(a->loop, fd, false) < 0) {
		snprintf(err, errlen, "%s: cannot watch tap '%s': %s", n->dev.name, n->be.ifname,
			 strerror(errno));
		return -1;
	}
	a->watch_fd = fd;
	n->rx_watch = net_rx_watch;
	n->rx_watch_ctx = a;
	a->work_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->work_fd < 0 || event_add(a->loop, a->work_fd, on_net_work, n) < 0 ||
	    event_allow_ioctl(a->loop, TUNSETOFFLOAD) < 0) {
		snprintf(err, errlen, "%s: cannot set up its I/O-thread work: %s", n->dev.name,
			 strerror(errno));
		return -1;
	}
	n->defer = signal_work;
	n->defer_ctx = &a->work_fd;
	if (vhost == 0)
		return 0;
	if (ops == &vhost_net_host_ops && !vhost_net_available()) {
		if (vhost > 0) {
			snprintf(err, errlen, "--net tap=%s,vhost=on: this host has no %s (load the "
				 "vhost_net module, or use vhost=auto or vhost=off)", n->be.ifname,
				 VHOST_NET_DEV);
			return -1;
		}
		if (!*told)
			log_info("no %s on this host: virtio-net uses mote's own data path", VHOST_NET_DEV);
		*told = true;
		return 0;
	}
	if (net_vhost_attach(a, n, ops, gm, err, errlen) == 0)
		return 0;
	if (vhost > 0)
		return -1;
	log_warn("%s; using mote's own data path", err);
	err[0] = '\0';
	return 0;
}

/* ---- virtio-vsock: deferred work and the Unix sockets on the I/O thread ---- */

static void on_vsock_work(void *ctx, int fd)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return;
	virtio_vsock_work(ctx);
}

int attach_vsock(struct attached *a, struct virtio_vsock *v, struct vsock_uds *u, char *err,
		 size_t errlen)
{
	a->work_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->work_fd < 0 || event_add(a->loop, a->work_fd, on_vsock_work, v) < 0) {
		snprintf(err, errlen, "%s: cannot set up its I/O-thread work: %s", v->dev.name,
			 strerror(errno));
		return -1;
	}
	v->defer = signal_work;
	v->defer_ctx = &a->work_fd;
	return vsock_uds_attach(u, a->loop, &v->dev.lock, &v->mux, err, errlen);
}

/* ---- virtio-balloon: the statistics timer on the I/O thread ---- */

static void on_balloon_timer(void *ctx, int fd)
{
	(void)fd;
	virtio_balloon_on_timer(ctx);
}

int attach_balloon(struct attached *a, struct virtio_balloon *b, char *err, size_t errlen)
{
	int fd = virtio_balloon_timer_fd(b);
	if (event_allow_extra(a->loop, SANDBOX_X_BALLOON) < 0 ||
	    (fd >= 0 && event_add(a->loop, fd, on_balloon_timer, b) < 0)) {
		snprintf(err, errlen, "%s: cannot set up its I/O-thread work: %s", b->dev.name,
			 strerror(errno));
		return -1;
	}
	return 0;
}
