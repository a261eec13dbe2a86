/* vhost-net: the kernel's virtio-net data path (/dev/vhost-net). Once the driver is ready,
 * the two rings, the guest memory map, the queue kick eventfds, the interrupt eventfds and the
 * tap are handed to the kernel, which then moves frames without mote's I/O thread.
 * Owns: the vhost fd and the exact ioctl sequence. Every ioctl goes through a small ops table
 * so tests can fake the kernel and check each call and argument (tests/unit/test_vhost_net.c).
 * Must not: touch the rings itself or decide policy (attach.c decides when to start/stop).
 * UNVERIFIED against a real /dev/vhost-net: the project's machines have none. */
#ifndef MOTE_VHOST_NET_H
#define MOTE_VHOST_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"

#define VHOST_NET_DEV "/dev/vhost-net"

struct vhost_net_ops {
	int (*open)(void *ctx);                                          /* fd, or -errno */
	int (*ioctl)(void *ctx, int fd, unsigned long req, void *arg);   /* 0, or -errno */
	void (*close)(void *ctx, int fd);
};

/* The real kernel: open(VHOST_NET_DEV), ioctl(2), close(2). */
extern const struct vhost_net_ops vhost_net_host_ops;

/* The ioctl requests vhost_net_start/stop issue (the thread running them must allow them). */
extern const unsigned long vhost_net_runtime_ioctls[];
extern const size_t vhost_net_nruntime_ioctls;

/* Whether this host has a usable /dev/vhost-net. */
bool vhost_net_available(void);

/* One ring as vhost needs it: size, host addresses of the three parts (already checked by
 * the virtqueue code: whole extents inside guest RAM), the kick eventfd the guest's
 * QueueNotify signals (ioeventfd) and the eventfd vhost signals for an interrupt. */
struct vhost_net_ring {
	uint16_t num;
	uint64_t desc, avail, used;
	int kick_fd, call_fd;
};

struct vhost_net {
	const struct vhost_net_ops *ops;
	void *ctx;
	int fd;
	int tap_fd;
	uint64_t features; /* what the kernel supports (VHOST_GET_FEATURES) */
	bool started;
};

/* Opens vhost-net, becomes its owner, reads its features and gives it the guest memory map
 * (every region of gm: guest-physical address, size, host address). Returns 0, or -1 with a
 * one-line reason in err (v->fd stays -1). */
int vhost_net_open(struct vhost_net *v, const struct vhost_net_ops *ops, void *ctx,
		   const struct guest_mem *gm, int tap_fd, char *err, size_t errlen);

/* Starts the data path: SET_FEATURES (features & what the kernel supports), then for the
 * receive ring (index 0) and the transmit ring (1): SET_VRING_NUM, SET_VRING_BASE 0,
 * SET_VRING_ADDR, SET_VRING_KICK, SET_VRING_CALL; then NET_SET_BACKEND tap for each ring.
 * On failure every ring already given the tap is taken back. 0, or -1 with err. */
int vhost_net_start(struct vhost_net *v, uint64_t features, const struct vhost_net_ring r[2],
		    char *err, size_t errlen);

/* Stops the data path (NET_SET_BACKEND -1 and GET_VRING_BASE for each ring). Idempotent. */
void vhost_net_stop(struct vhost_net *v);

/* Stops and closes. Idempotent. */
void vhost_net_close(struct vhost_net *v);

#endif
