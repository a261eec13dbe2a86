/* virtio-console (virtio 1.2, 5.3): device id 3, one port and no control queues (no
 * VIRTIO_CONSOLE_F_MULTIPORT): queue 0 is port 0's receiveq (host input written into
 * device-writable guest buffers), queue 1 its transmitq (guest output read from
 * device-readable buffers). Offers VIRTIO_CONSOLE_F_EMERG_WRITE: a write to emerg_wr prints
 * its low byte, at any time. Owns: its scratch chains, the "host waits for receive buffers"
 * flag and the counters. Knows neither KVM, its address, nor the host terminal: output goes
 * to a tx callback, input comes through virtio_console_rx_push(). */
#ifndef MOTE_DEVICES_VIRTIO_CONSOLE_H
#define MOTE_DEVICES_VIRTIO_CONSOLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/device.h"
#include "virtio/virtqueue.h"

#define VIRTIO_CONSOLE_QUEUE_SIZE 128
#define VIRTIO_CONSOLE_RXQ 0 /* receiveq(port0): device -> driver */
#define VIRTIO_CONSOLE_TXQ 1 /* transmitq(port0): driver -> device */

/* Feature bits (5.3.3). Only EMERG_WRITE is offered. */
#define VIRTIO_CONSOLE_F_SIZE 0
#define VIRTIO_CONSOLE_F_MULTIPORT 1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

/* The configuration space (5.3.4), little-endian. The two 16-bit console-size fields are
 * meaningful only with VIRTIO_CONSOLE_F_SIZE and max_nr_ports only with MULTIPORT: neither is
 * offered, so they read 0. emerg_wr is write-only (reads 0). */
#define VIRTIO_CONSOLE_CFG_MAX_NR_PORTS 4
#define VIRTIO_CONSOLE_CFG_EMERG_WR 8
#define VIRTIO_CONSOLE_CONFIG_SIZE 12u

/* Snapshot state: version and device id only (virtio_console.c says why). */
#define VIRTIO_CONSOLE_SNAP_VERSION 1u

struct vconsole_host {
	/* Guest output (transmitq buffers in order, or an emerg_wr byte). Called with the
	 * device lock held, on the I/O thread (transmitq) or a vCPU thread (emerg_wr). May be
	 * NULL: output is dropped. */
	void (*tx)(void *ctx, const uint8_t *buf, size_t n);
	/* A virtio_console_rx_push() came up short and the driver has since posted receive
	 * buffers (or became ready): the host may push again. Device lock held; keep it short
	 * (e.g. write an eventfd). May be NULL. */
	void (*rx_room)(void *ctx);
	void *ctx;
};

struct virtio_console {
	struct virtio_dev dev; /* the machine: virtio_dev_init(&c->dev, &virtio_console_ops, c, ...) */
	struct vconsole_host host;
	/* Scratch for the chain being served. Used only with dev.lock held, by notify (I/O
	 * thread) and virtio_console_rx_push (the host's thread): one is enough. */
	struct vq_chain chain;
	bool rx_waiting; /* rx_push was short: call host.rx_room at the next receiveq kick */
	/* Counters (metrics, tests). */
	atomic_ulong rx_bytes, tx_bytes, emerg_bytes;
};

/* Resets the device-specific state and takes the host callbacks. Does not touch c->dev:
 * call virtio_dev_init afterwards. */
void virtio_console_init(struct virtio_console *c, const struct vconsole_host *host);

/* Host input: copies buf[0..n) into the receive buffers the driver posted on queue 0 (each
 * chain filled from its first writable byte, possibly partly), returns them and interrupts
 * once. Returns the bytes taken: fewer than n (often 0) when the driver has no buffers posted,
 * is not running, or broke the rules (the device then fails). The caller keeps the rest and
 * retries after host.rx_room. Thread-safe: takes dev.lock (callable from any thread except
 * from inside the host callbacks). */
size_t virtio_console_rx_push(struct virtio_console *c, const uint8_t *buf, size_t n);

extern const struct virtio_dev_ops virtio_console_ops; /* priv: struct virtio_console * */

#endif
