/* Network backends: the host side of a network interface, behind one small vtable.
 * Owns: the vtable contract and the tap backend's constructor.
 * Must not: know guest memory, virtio, devices or KVM. A backend sees only host iovecs holding
 * whole frames, so virtio-net and the Solo5 hvt net hypercalls share it, and it can be tested
 * alone. Errors come back as -errno; a backend never aborts. */
#ifndef MOTE_BACKENDS_NET_H
#define MOTE_BACKENDS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NET_IFNAME_MAX 15 /* IFNAMSIZ - 1 */
/* vnet_hdr_len: 0 (bare frames), or 10 (struct virtio_net_hdr) to 24 (v1 with hash report);
 * virtio-net with VERSION_1 uses 12 (struct virtio_net_hdr_v1, num_buffers included). */
#define NET_VNET_HDR_MIN 10
#define NET_VNET_HDR_MAX 24

/* One frame of a send_batch: what send's iov/iovcnt would be. */
struct net_frame {
	const struct iovec *iov;
	int iovcnt;
};
#define NET_TX_BATCH_MAX 64

/* recv/send move exactly one frame. With a vnet header (see net_tap_open) every frame starts
 * with vnet_hdr_len bytes of struct virtio_net_hdr(_v1). recv never blocks: it returns the
 * frame's length (header included), -EAGAIN when none is waiting, -EMSGSIZE when the frame
 * does not fit iov (the frame is consumed and dropped; iov holds its first bytes, garbage to
 * the caller), or another -errno. iovcnt: 1..IOV_MAX-1 for recv, 1..IOV_MAX for send.
 * send returns 0 or -errno (-EAGAIN: the host queue is full, retry when fd() is writable;
 * -EINVAL: a frame shorter than the header, or a header the kernel refuses). fd() is
 * pollable for POLLIN (a frame is waiting) and POLLOUT. Not thread-safe per backend: one
 * thread drives it. */
struct net_backend_ops {
	ssize_t (*recv)(void *be, const struct iovec *iov, int iovcnt);
	int (*send)(void *be, const struct iovec *iov, int iovcnt);
	int (*fd)(void *be);
	/* TUN_F_* offload flags the guest accepted (tap: TUNSETOFFLOAD). 0 or -errno. */
	int (*set_offload)(void *be, unsigned tun_flags);
	void (*close)(void *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	void *be;
	unsigned vnet_hdr_len; /* 0: frames are bare Ethernet */
	char ifname[NET_IFNAME_MAX + 1];
	unsigned mtu;          /* the interface's MTU when it was opened; 0: unknown */
	bool up;               /* the interface was up (IFF_UP or IFF_RUNNING) when opened */
	unsigned offloads;     /* TUN_F_* flags set_offload accepts (probed at open; 0 without a
				* vnet header); the tap starts with none set */
	/* Optional, beside the vtable (NULL: the caller sends frame by frame): sends
	 * frames[0..n) in order as n send calls would, res[i] getting what send would have
	 * returned for frame i, in as few system calls as the backend can (the tap: one
	 * io_uring submission for the batch, else one writev each). n: 1..NET_TX_BATCH_MAX.
	 * The iovecs need stay valid only until the call returns. */
	void (*send_batch)(void *be, const struct net_frame *frames, int n, int *res);
	bool batched;          /* send_batch uses one system call per batch (the tap's io_uring) */
};

/* Attaches to the existing tap interface ifname (IFF_TAP|IFF_NO_PI, plus IFF_VNET_HDR with a
 * header of vnet_hdr_len bytes when it is non-zero), non-blocking. With a vnet header it also
 * sets up a restricted io_uring for send_batch (writev on the tap only; docs/net.md,
 * "Transmit batching"); where io_uring is unavailable send_batch falls back to writev per
 * frame (batched false). It never creates an
 * interface. A missing interface, one this user may not attach to (owner/group set, no
 * CAP_NET_ADMIN), one already in use, or one that is not a tap (a tun, lo, a veth...) is a
 * one-line reason in err naming the interface and what to do. Returns 0 and fills *out
 * (zeroed first), or -1. */
int net_tap_open(const char *ifname, unsigned vnet_hdr_len, struct net_backend *out, char *err,
		 size_t errlen);

/* Adopts fd, a tap descriptor the process inherited already attached to an interface
 * (solo5-hvt's --net:NAME=@FD): it must be a tun/tap fd attached as IFF_TAP|IFF_NO_PI without
 * a vnet header. It is made non-blocking and close-on-exec, and the backend owns (closes) it
 * once adopted; a refused fd is left as it was. Returns 0 and fills *out, or -1 with err. */
int net_tap_adopt(int fd, struct net_backend *out, char *err, size_t errlen);

/* Test support (tests/unit/test_net_tap.c): submits one SQE of opcode, without buffers, on the
 * tap's transmit ring (on its fixed file when fixed, else on fd) and returns the completion's
 * res: -EACCES when the ring's restrictions refuse it; -ENODEV without a ring. */
int net_tap_ring_probe(struct net_backend *nb, unsigned opcode, bool fixed, int fd);

/* Closes the backend once (later calls do nothing). */
static inline void net_close(struct net_backend *n)
{
	if (n->ops && n->ops->close)
		n->ops->close(n->be);
	n->ops = NULL;
	n->be = NULL;
}

#endif
