/* Connects placed virtio devices to the hypervisor and the I/O thread: one irqfd per device
 * (its interrupt line writes the eventfd, KVM injects the edge), one ioeventfd per queue (a
 * QueueNotify write signals the eventfd inside KVM, the I/O thread runs the device). The only
 * file that knows both KVM and the device model; neither knows the other. */
#ifndef MOTE_ATTACH_H
#define MOTE_ATTACH_H

#include <stdint.h>

#include "core/event.h"
#include "kvm/kvm.h"
#include "virtio/device.h"
#include "vmm/vhost_net.h"

struct attach_queue {
	struct attached *a;
	uint16_t q;
	int fd;
};

struct attached {
	struct virtio_dev *dev;
	int irq_fd;
	struct attach_queue queues[VIRTIO_MAX_QUEUES];
	struct event_loop *loop;
	int watch_fd; /* virtio-net: the backend fd the I/O thread watches (not owned), or -1 */
	struct vhost_net vhost; /* virtio-net with vhost: the kernel data path (fd -1: none) */
	int call_fd[2];         /* vhost's interrupt eventfds, relayed by the I/O thread */
	int work_fd;            /* virtio-net, vsock: "deferred work" for the I/O thread, or -1 */
	int timer_fd;           /* virtio-blk, virtio-net: the rate limiters' timerfd, or -1 */
	struct event_source timer_src;
};

struct virtio_net;
struct virtio_vsock;
struct vsock_uds;

/* Wires device d (window at base, interrupt gsi). Returns 0, or -1 with err set. */
int attach_virtio(struct attached *a, struct virtio_dev *d, uint64_t base, unsigned gsi,
		  struct kvm *kvm, struct event_loop *loop, char *err, size_t errlen);
void attach_release(struct attached *a);

/* After attach_virtio of a virtio-net device: the I/O thread watches the backend's fd and
 * calls virtio_net_rx_ready; the device turns the watch on and off (back-pressure) through
 * event_watch. vhost: 1 on (the kernel data path or an error), -1 auto (the kernel's when
 * /dev/vhost-net exists; otherwise one info line, once: *told), 0 off. ops: how vhost is
 * reached (vhost_net_host_ops). Returns 0, or -1 with err set. */
int attach_net(struct attached *a, struct virtio_net *n, int vhost, const struct vhost_net_ops *ops,
	       const struct guest_mem *gm, bool *told, char *err, size_t errlen);

/* After attach_virtio of the virtio-vsock device: its deferred work runs on the I/O thread
 * (an eventfd), and its Unix sockets (u, opened at setup) join the I/O thread's loop.
 * Returns 0, or -1 with err set. */
int attach_vsock(struct attached *a, struct virtio_vsock *v, struct vsock_uds *u, char *err,
		 size_t errlen);

/* After attach_virtio of the virtio-balloon device: its statistics timer on the I/O thread,
 * and the I/O thread's sandbox lets it release guest pages. 0, or -1 with err set. */
struct virtio_balloon;
int attach_balloon(struct attached *a, struct virtio_balloon *b, char *err, size_t errlen);
/* After attach_virtio of a virtio-blk or virtio-net device (attach_rl.c): a timerfd on the
 * I/O thread that wakes the device's throttled queues (its rl_timer). Every such device gets
 * one, limited or not, so PATCH can add limits to a running VM. 0, or -1 with err set. */
struct virtio_blk;
int attach_blk_ratelimit(struct attached *a, struct virtio_blk *b, char *err, size_t errlen);
int attach_net_ratelimit(struct attached *a, struct virtio_net *n, char *err, size_t errlen);

#endif
