/* Snapshots of a virtio device as the transport holds it: status, features, selectors,
 * ConfigGeneration, InterruptStatus, each queue's registers and ring indices (and the heads
 * still in flight), then the device's own bytes from ops->save. Load checks every field
 * against the device's ops (the file is hostile), re-enables each ready queue through
 * vq_enable (the ring addresses pass the guest-memory gate again), hands the device its bytes
 * (ops->load), and activates a device whose driver had set DRIVER_OK unless it has a resume
 * hook (the snapshot code calls ops->resume once every device is loaded). d->lock held. */
#ifndef MOTE_VIRTIO_SNAP_H
#define MOTE_VIRTIO_SNAP_H

#include "virtio/device.h"

/* Chains popped and not yet used, over all queues (0: quiesced). d->lock held. */
uint32_t virtio_snap_inflight(const struct virtio_dev *d);

void virtio_snap_save(struct virtio_dev *d, struct snap_out *o);
int virtio_snap_load(struct virtio_dev *d, struct snap_in *in, char *err, size_t errlen);

#endif
