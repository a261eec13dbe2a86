/* Facts of the virtio 1.2 specification that both sides of the ring use: the device model
 * (src/virtio/) and the test guests' driver (tests/guests/rt/virtio.h). Constants only, no
 * includes and no types, so that a freestanding guest can include it too. */
#ifndef MOTE_VIRTIO_ABI_H
#define MOTE_VIRTIO_ABI_H

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Reserved feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* InterruptStatus bits (4.2.2). */
#define VIRTIO_ISR_USED 1
#define VIRTIO_ISR_CONFIG 2

/* Device IDs (5). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK 19

#endif
