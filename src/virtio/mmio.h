/* The virtio-mmio transport, version 2 (virtio 1.2, 4.2.2): the register file of one device
 * window, checked from one table. Owns: register decoding, the queue selector range check
 * (one place), the device-status state machine, feature negotiation, queue enabling through
 * vq_enable, config-space bounds. Called by the bus with an offset inside the window. */
#ifndef MOTE_VIRTIO_MMIO_H
#define MOTE_VIRTIO_MMIO_H

#include "core/bus.h"
#include "virtio/device.h"

#define VIRTIO_MMIO_WINDOW 0x200   /* registers 0x000-0x0ff, config space from 0x100 */
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_CONFIG 0x100

/* bus_ops for a window; dev = struct virtio_dev *. */
extern const struct bus_ops virtio_mmio_ops;

#endif
