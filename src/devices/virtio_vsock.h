/* virtio-vsock (virtio 1.2, 5.10): device id 19, receive, transmit and event queues, the
 * guest's CID in the configuration space, stream sockets only.
 * Owns: the connection multiplexer (vsock/mux.h: connections, credit, the host side through
 * host ops it is given), the checks on every packet the guest sends, delivery of packets into
 * the guest's receive buffers, the transport-reset event, the snapshot state (the CID and an
 * undelivered event). Knows neither KVM nor sockets nor the event loop: host I/O goes through
 * the host ops (vsock/uds.c in mote), and work that needs the I/O thread (starting to accept,
 * forgetting connections) is handed to it through defer. */
#ifndef MOTE_DEVICES_VIRTIO_VSOCK_H
#define MOTE_DEVICES_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/device.h"
#include "virtio/virtqueue.h"
#include "vsock/mux.h"

#define VIRTIO_VSOCK_QUEUE_SIZE 256
#define VIRTIO_VSOCK_RXQ 0
#define VIRTIO_VSOCK_TXQ 1
#define VIRTIO_VSOCK_EVQ 2
#define VIRTIO_VSOCK_CONFIG_SIZE 8u /* le64 guest_cid */
#define VIRTIO_VSOCK_SNAP_VERSION 1u

struct virtio_vsock {
	/* virtio_dev_init(&v->dev, &virtio_vsock_ops, v, ...) */
	struct virtio_dev dev;
	struct vsock_mux mux;
	uint64_t guest_cid;
	bool event_pending; /* a TRANSPORT_RESET the driver has not got yet */
	/* Wakes the I/O thread, which then calls virtio_vsock_work (the muxer's start/reset
	 * work and the event need it: the vCPU threads' seccomp lists lack those calls). NULL:
	 * the work is done at once (tests, fuzzing). Called with dev.lock held; must not block. */
	void (*defer)(void *ctx);
	void *defer_ctx;
	/* Scratch (kept off the I/O thread's stack). */
	struct vq_chain chain;
	struct iovec iov[VQ_MAX_IOV];
};

extern const struct virtio_dev_ops virtio_vsock_ops;

/* guest_cid in VSOCK_CID_MIN..VSOCK_CID_MAX; the muxer gets max_conns slots and host ops
 * (ops, host). Does not touch v->dev. 0, or -1 with a one-line reason in err. */
int virtio_vsock_init(struct virtio_vsock *v, uint64_t guest_cid, uint32_t max_conns,
		      const struct vsock_host_ops *ops, void *host, char *err, size_t errlen);
/* Closes every connection (host ops close) and frees the muxer. After the I/O thread ended. */
void virtio_vsock_destroy(struct virtio_vsock *v);

/* The deferred work (see defer). I/O thread; takes dev.lock. */
void virtio_vsock_work(struct virtio_vsock *v);

/* For the snapshot code, after a restore (connections do not survive one, as in
 * Firecracker): forgets the host side of every connection and tells the driver with
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on the event queue (5.10.6.6), now or as soon as the
 * driver offers an event buffer; the driver then drops its connections and reads the CID
 * again. Takes dev.lock; any thread, once the device is loaded (and, in mote, wired: the work
 * runs on the I/O thread, when it runs). Calling it again before the event went out sends one
 * event. */
void virtio_vsock_transport_reset(struct virtio_vsock *v);

#endif
