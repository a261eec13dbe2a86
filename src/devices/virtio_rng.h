/* virtio-rng, the entropy device (virtio 1.2, 5.4): device id 4, one request queue of
 * device-writable buffers that it fills from the host's getrandom(). No feature bits, no
 * configuration space. The smallest virtio device: the template for the others.
 * Owns: its popped chain and counters. Knows neither KVM nor its address (habit 5). */
#ifndef MOTE_DEVICES_VIRTIO_RNG_H
#define MOTE_DEVICES_VIRTIO_RNG_H

#include <stdatomic.h>

#include "virtio/device.h"
#include "virtio/virtqueue.h"

#define VIRTIO_RNG_QUEUE_SIZE 256
#define VIRTIO_RNG_MAX_REQUEST (64u * 1024) /* bytes filled per buffer chain, at most */

/* Snapshot state: version and device id only (virtio_rng.c says why). */
#define VIRTIO_RNG_SNAP_VERSION 1u

struct virtio_rng {
	struct virtio_dev dev;  /* the machine: virtio_dev_init(&r->dev, &virtio_rng_ops, r, ...) */
	struct vq_chain chain;  /* the chain being served (16 KiB: kept off the stack) */
	atomic_ulong requests;  /* chains served */
	atomic_ulong bytes;     /* random bytes handed to the guest */
};

/* Resets the device-specific state and checks that getrandom() works. 0, or -1 (logged).
 * Call before virtio_dev_init (it does not touch r->dev). */
int virtio_rng_init(struct virtio_rng *r);

extern const struct virtio_dev_ops virtio_rng_ops; /* priv: struct virtio_rng * */

#endif
