/* Split virtqueues (virtio 1.2, section 2.7): the one place that reads and checks guest ring
 * state. Owns: ring addresses validated once at enable, the device's private indexes, chain
 * walks, used-ring writes, and notification suppression (VIRTIO_F_EVENT_IDX).
 * Contract: every guest index (avail idx, head, next, indirect next) is checked and a bad one
 * is REJECTED (VQ_ERROR), never masked; every walk has a TTL and an iovec capacity; each
 * descriptor is copied once and only the copy is checked and used; every address goes through
 * the guest-memory gate. Devices never touch the rings themselves. Not thread-safe: one
 * thread (the device's I/O thread) drives a queue. Includes only the memory gate. */
#ifndef MOTE_VIRTIO_VIRTQUEUE_H
#define MOTE_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"

#define VQ_MAX_SIZE 32768 /* the spec's maximum queue size */
#define VQ_MAX_IOV 1024   /* buffers in one chain (direct + indirect); more is a guest error */

/* Descriptor flags and ring flags (virtio 1.2, 2.7.5 / 2.7.6 / 2.7.8). */
#define VQ_DESC_F_NEXT 1
#define VQ_DESC_F_WRITE 2
#define VQ_DESC_F_INDIRECT 4
#define VQ_AVAIL_F_NO_INTERRUPT 1
#define VQ_USED_F_NO_NOTIFY 1

struct vq_iov {
	void *base;   /* host pointer from the gate, valid for len bytes */
	uint32_t len; /* > 0 */
};

/* One popped chain: the device-readable buffers first, then the device-writable ones
 * (a readable buffer after a writable one is a guest error, per 2.7.4.2). */
struct vq_chain {
	uint16_t head;     /* what to hand back to vq_push() */
	uint32_t nread;    /* iov[0 .. nread) are device-readable */
	uint32_t nwrite;   /* iov[nread .. nread + nwrite) are device-writable */
	uint64_t read_bytes, write_bytes;
	struct vq_iov iov[VQ_MAX_IOV];
};

enum vq_result {
	VQ_EMPTY = 0, /* nothing available */
	VQ_OK = 1,    /* *chain filled */
	VQ_ERROR = -1 /* the guest broke the ring rules: the device must fail itself (see why) */
};

struct virtqueue {
	const struct guest_mem *gm;
	uint16_t size;   /* power of two, 1..VQ_MAX_SIZE */
	bool event_idx;  /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;   /* VIRTIO_F_INDIRECT_DESC negotiated */
	/* Host pointers to the rings, checked once by vq_enable (whole extents, alignment). */
	uint8_t *desc;   /* struct virtq_desc[size] (16 bytes each) */
	uint8_t *avail;  /* flags, idx, ring[size], used_event */
	uint8_t *used;   /* flags, idx, ring[size] of {id, len}, avail_event */
	uint16_t last_avail; /* next avail->ring slot the device consumes */
	uint16_t used_idx;   /* the device's used->idx */
	uint16_t signalled_used; /* used_idx at the last interrupt (EVENT_IDX) */
	bool signalled_valid;
	uint32_t inflight;   /* chains popped but not yet pushed (never more than size) */
	const char *why;     /* after VQ_ERROR: a static message saying what the guest did */
	bool unpop_ok;       /* the last operation was a vq_pop of head last_pop (vq_unpop) */
	uint16_t last_pop;
	/* Per head, entries [0, size) only (vq_enable clears them; must stay the last member):
	 * 0 = not in flight, else 1 + the popped chain's write_bytes (capped at UINT32_MAX - 1).
	 * Lets vq_pop refuse a head that is still in flight, vq_push refuse a head that was not
	 * popped, and vq_push clamp `written`. 128 KiB, touched only for the first size entries. */
	uint32_t inflight_wmax[VQ_MAX_SIZE];
};

/* Validates and enables a queue: size a power of two <= VQ_MAX_SIZE, desc 16-byte aligned,
 * avail 2-byte aligned, used 4-byte aligned, each whole ring inside guest RAM (the ring sizes
 * include used_event/avail_event only when event_idx). Returns 0, or -1 with vq->why set. */
int vq_enable(struct virtqueue *vq, const struct guest_mem *gm, uint16_t size, uint64_t desc_gpa,
	      uint64_t avail_gpa, uint64_t used_gpa, bool event_idx, bool indirect);

/* Back to the state after a device reset (not enabled). A zeroed struct is also "reset". */
void vq_reset(struct virtqueue *vq);

/* Takes the next available chain. A guest avail->idx more than `size` ahead of the device,
 * a head or next index >= size, a loop (more than size + indirect table length steps), a
 * zero-length or out-of-RAM buffer, an indirect table that is misaligned, not a multiple of
 * 16 bytes, nested, or combined with NEXT, a readable buffer after a writable one, more
 * than VQ_MAX_IOV buffers, or a head still in flight: VQ_ERROR with vq->why, last_avail not
 * advanced, *chain undefined. The error is sticky: vq_pop keeps returning VQ_ERROR until
 * vq_reset/vq_enable. A queue that is not enabled is VQ_EMPTY. */
enum vq_result vq_pop(struct virtqueue *vq, struct vq_chain *chain);

/* Gives back the chain vq_pop returned last, unused (the device had nothing to put in it
 * after all): the next vq_pop returns it again. Only directly after that pop, before any
 * other pop or push on this queue. Returns 0, or -1 (nothing changed) otherwise. */
int vq_unpop(struct virtqueue *vq, uint16_t head);

/* Returns a chain to the guest with `written` bytes written into its writable buffers
 * (written <= chain write_bytes is the caller's contract; it is clamped). The used element is
 * written before used->idx is published (release order). Returns 0, or -1 (VQ_ERROR
 * semantics) when head was not popped / more pushes than pops. */
int vq_push(struct virtqueue *vq, uint16_t head, uint32_t written);

/* After one or more pushes: whether the guest wants an interrupt now (VIRTQ_AVAIL_F_NO_
 * INTERRUPT without event_idx; used_event with it, 2.7.10). Updates the signalled state. */
bool vq_should_interrupt(struct virtqueue *vq);

/* Notification suppression for the driver's kicks: with event_idx, publishes avail_event =
 * last_avail (ask for a kick at the next new buffer); without it, sets/clears
 * VIRTQ_USED_F_NO_NOTIFY. Call with enable=false while draining, true before sleeping, then
 * re-check vq_has_work() to close the race. */
void vq_set_notify(struct virtqueue *vq, bool enable);

/* Whether avail->idx differs from last_avail (acquire load). */
bool vq_has_work(struct virtqueue *vq);

/* Helpers for devices: copy between a chain's buffers and a host buffer. They walk only the
 * readable (vq_chain_read) or writable (vq_chain_write) part, starting at byte `off` of that
 * part, and return the number of bytes copied (short when the chain is shorter). */
size_t vq_chain_read(const struct vq_chain *c, uint64_t off, void *dst, size_t len);
size_t vq_chain_write(const struct vq_chain *c, uint64_t off, const void *src, size_t len);

#endif
