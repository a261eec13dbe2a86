/* A virtio device as the transport sees it: a const ops table (the device's facts and
 * callbacks) plus the common state every device has (status, features, queues, interrupt).
 * Owns: the device-status rules shared by every device, and device failure (NEEDS_RESET).
 * Knows neither KVM nor its own address: the transport calls it with register offsets, the
 * machine wires its interrupt line and its kick. Devices include this, the virtqueue API,
 * core/bus and core/irq, and their backend's vtable; never guest_mem internals or KVM. */
#ifndef MOTE_VIRTIO_DEVICE_H
#define MOTE_VIRTIO_DEVICE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "core/irq.h"
#include "snapshot/stream.h"
#include "virtio/abi.h"
#include "virtio/virtqueue.h"

#define VIRTIO_MAX_QUEUES 8

struct virtio_dev;

/* A device-specific counter for the metrics (virtio_dev_ops.counters). */
struct virtio_counter {
	const char *name; /* static, snake_case */
	uint64_t value;
};

struct virtio_dev_ops {
	const char *kind;        /* "blk", "rng", ... for messages */
	uint32_t device_id;
	uint64_t features;       /* offered: device bits | the VIRTIO_F_* it supports (VERSION_1 always) */
	uint16_t num_queues;     /* <= VIRTIO_MAX_QUEUES */
	uint16_t queue_max_size; /* power of two <= VQ_MAX_SIZE */
	uint32_t config_size;    /* bytes of device-specific configuration space */
	/* [off, off + len) lies inside config_size (the transport checked). write may be NULL. */
	void (*config_read)(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len);
	void (*config_write)(struct virtio_dev *d, uint32_t off, const uint8_t *data, uint32_t len);
	/* DRIVER_OK was set and every ready queue is enabled. Non-zero: the device fails. May be NULL. */
	int (*activate)(struct virtio_dev *d);
	/* Queue q may have new buffers. Called on the I/O thread with d->lock held. */
	void (*notify)(struct virtio_dev *d, uint16_t q);
	/* The driver reset the device (status 0): forget in-flight work. d->lock held. May be NULL.
	 * Called before the queues are forgotten: work still in flight must be waited for (or
	 * cancelled) here, and must never write a used element into a ring afterwards. */
	void (*reset)(struct virtio_dev *d);
	/* The driver disabled queue q (QueueReady 0): the same contract for that queue only.
	 * May be NULL. d->lock held. */
	void (*queue_reset)(struct virtio_dev *d, uint16_t q);
	/* Snapshots (src/snapshot/). The transport saves and restores what struct virtio_dev holds
	 * (status, features, queue registers and ring indices); these carry the device's own state,
	 * kept in the device's own struct. save: the VM is paused and the device quiesced (no
	 * request in flight), d->lock held; writes with snap_put_*. load: into a device just
	 * created from the same configuration, before the VM runs; the stream is hostile input:
	 * validate every value, return -1 with a one-line reason in err (nothing half-applied).
	 * Both NULL: the device has no state beyond the transport's. */
	void (*save)(struct virtio_dev *d, struct snap_out *out);
	int (*load)(struct virtio_dev *d, struct snap_in *in, char *err, size_t errlen);
	/* The device's own counters beyond struct virtio_dev's, for the metrics: fills up to max
	 * entries and returns how many. Any thread, no lock taken (relaxed atomic reads). May be
	 * NULL. */
	size_t (*counters)(const struct virtio_dev *d, struct virtio_counter *out, size_t max);
	/* Snapshots, around save and load (docs/snapshot-devices.md). Both may be NULL.
	 * quiesce: on create, with the VM paused, before save and before guest memory and the
	 * irqchip are saved; d->lock held. Finishes (or hands back to the ring) whatever is in
	 * flight, so that nothing is pending in the device and the rings in guest memory say all
	 * there is: used elements it pushes raise their interrupts as usual (hence before the
	 * irqchip is saved). The VM may resume afterwards as if nothing happened.
	 * resume: on restore, after load and the transport's state (status, features, queues
	 * enabled at their saved indices), once the device is wired (irq, kick, defer hooks) and
	 * before the vCPUs run; d->lock held. Restarts the device's host side as activation
	 * would (tap offloads, receive watching) and serves what the rings already hold: a kick
	 * the guest made just before the snapshot may never have reached the old process.
	 * Does nothing unless the device is running (DRIVER_OK, no NEEDS_RESET). */
	void (*quiesce)(struct virtio_dev *d);
	void (*resume)(struct virtio_dev *d);
};

/* Per-queue registers as the driver programs them (before QueueReady). */
struct virtio_queue_regs {
	uint16_t size;
	bool ready;
	uint64_t desc, avail, used;
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;               /* the device's own state */
	const char *name;         /* e.g. "virtio-blk0", for messages */
	const struct guest_mem *gm;
	pthread_mutex_t lock;     /* serialises register accesses (vCPU threads) and notify (I/O thread) */
	uint32_t status;
	uint64_t driver_features;
	uint32_t device_features_sel, driver_features_sel;
	uint32_t queue_sel;
	uint32_t config_generation;
	struct virtio_queue_regs qregs[VIRTIO_MAX_QUEUES];
	struct virtqueue vq[VIRTIO_MAX_QUEUES];
	atomic_uint isr;          /* InterruptStatus */
	struct irq_line irq;      /* an edge: irq_set(&irq, 1) injects one interrupt */
	/* How a QueueNotify write that reached userspace wakes the I/O thread for queue q
	 * (normally notifications arrive through ioeventfds and never get here). */
	void (*kick)(void *ctx, uint16_t q);
	void *kick_ctx;
	/* Counters (for metrics and tests). Each device counts its own requests (chains served),
	 * bytes_in (written into guest buffers), bytes_out (taken from them) and io_errors
	 * (requests that failed on the host side: backend errors, dropped frames). */
	atomic_ulong notifies, interrupts, guest_errors;
	atomic_ulong requests, bytes_in, bytes_out, io_errors;
};

void virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *priv,
		     const char *name, const struct guest_mem *gm, const struct irq_line *irq);
void virtio_dev_destroy(struct virtio_dev *d);

/* After pushing used buffers on queue q: sets the used-buffer ISR bit and injects an interrupt
 * when the queue asks for one (event index / NO_INTERRUPT). d->lock held. */
void virtio_dev_used(struct virtio_dev *d, uint16_t q);

/* A guest broke the rules: sets DEVICE_NEEDS_RESET, raises the configuration-change
 * interrupt (when DRIVER_OK is set, 2.1.2), stops processing (until the driver resets the
 * device), counts it and logs one rate-limited guest_error line naming the device and why.
 * Idempotent: a second failure before the reset changes and logs nothing. d->lock held. */
void virtio_dev_fail(struct virtio_dev *d, const char *why);

/* The device changed its configuration space: bumps ConfigGeneration and, once DRIVER_OK is
 * set, raises the configuration-change interrupt. d->lock held. */
void virtio_dev_config_changed(struct virtio_dev *d);

/* Serves queue q until it is empty: driver notifications off while draining, serve() on each
 * popped chain (it pushes the chain, or fails the device and returns < 0), one interrupt check
 * per batch, then notifications back on and a re-check so a buffer added in between is not
 * missed. A ring error fails the device. d->lock held. */
void virtio_dev_drain(struct virtio_dev *d, uint16_t q, struct vq_chain *chain,
		      int (*serve)(struct virtio_dev *d, struct vq_chain *c));

/* Forgets queue q (QueueReady 0): the device's queue_reset hook first, then the ring state.
 * d->lock held. */
void virtio_dev_queue_reset(struct virtio_dev *d, uint16_t q);

/* Whether the device may process queues (DRIVER_OK set, NEEDS_RESET not set). */
bool virtio_dev_running(const struct virtio_dev *d);

/* For resume hooks: asks for every queue of a running device to be served once, through
 * d->kick (the I/O thread then calls notify), or by calling notify directly when no kick is
 * wired (tests). d->lock held. */
void virtio_dev_kick_all(struct virtio_dev *d);

/* Whether the driver accepted feature bit `bit`. */
static inline bool virtio_has_feature(const struct virtio_dev *d, unsigned bit)
{
	return (d->driver_features >> bit) & 1;
}

#endif
