/* Split virtqueues (virtio 1.2, 2.7): ring validation, chain walks, used-ring writes and
 * notification suppression. The only code that reads desc[] / avail->ring[] / writes used[].
 * Must not: mask a bad guest index, re-read a descriptor after checking it, turn a guest
 * address into a host pointer other than through gm_ptr(), or abort on guest input.
 * Rings are little-endian; this file assumes a little-endian host (x86-64). */
#include "virtio/virtqueue.h"

#include <stddef.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtqueue.c reads little-endian rings with host loads"
#endif

/* struct virtq_desc (2.7.5), copied out of guest memory with one memcpy. */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct vq_desc) == 16, "virtq_desc is 16 bytes");

/* Ring layout offsets (2.7.6, 2.7.8): flags at 0, idx at 2, ring[] at 4. */
#define RING_IDX_OFF  2u
#define RING_OFF      4u
#define USED_ELEM_LEN 8u

/* Indirect tables have no alignment rule in the spec. We ask for 8, the natural alignment of
 * struct virtq_desc and the minimum Linux's kmalloc gives a non-power-of-two table; 16 would
 * refuse real guests (e.g. a 5-entry table under slub_debug). Copies are memcpy anyway. */
#define INDIRECT_ALIGN 8u

/* Aligned 16-bit fields in guest memory (alignment checked by vq_enable). */
static uint16_t *field16(uint8_t *ring, size_t off) { return (uint16_t *)(void *)(ring + off); }

static uint16_t *avail_idx_p(const struct virtqueue *vq) { return field16(vq->avail, RING_IDX_OFF); }

static uint16_t *used_idx_p(const struct virtqueue *vq) { return field16(vq->used, RING_IDX_OFF); }

/* used_event sits after avail->ring[size]; avail_event after used->ring[size] (EVENT_IDX). */
static uint16_t *used_event_p(const struct virtqueue *vq)
{
	return field16(vq->avail, RING_OFF + 2u * (size_t)vq->size);
}

static uint16_t *avail_event_p(const struct virtqueue *vq)
{
	return field16(vq->used, RING_OFF + USED_ELEM_LEN * (size_t)vq->size);
}

static int fail(struct virtqueue *vq, const char *why)
{
	vq->why = why;
	return -1;
}

void vq_reset(struct virtqueue *vq)
{
	/* inflight_wmax[] is not cleared here: vq_enable clears [0, size) before any use. */
	memset(vq, 0, offsetof(struct virtqueue, inflight_wmax));
}

int vq_enable(struct virtqueue *vq, const struct guest_mem *gm, uint16_t size, uint64_t desc_gpa,
	      uint64_t avail_gpa, uint64_t used_gpa, bool event_idx, bool indirect)
{
	uint64_t ev = event_idx ? 2 : 0;

	vq_reset(vq);
	if (!gm || size == 0 || size > VQ_MAX_SIZE || (size & (size - 1)))
		return fail(vq, "queue size is not a power of two in 1..32768");
	if ((desc_gpa & 15) || (avail_gpa & 1) || (used_gpa & 3))
		return fail(vq, "ring address misaligned (desc 16, avail 2, used 4 bytes)");
	uint8_t *desc = gm_ptr(gm, desc_gpa, 16ull * size);
	uint8_t *avail = gm_ptr(gm, avail_gpa, RING_OFF + 2ull * size + ev);
	uint8_t *used = gm_ptr(gm, used_gpa, RING_OFF + (uint64_t)USED_ELEM_LEN * size + ev);
	if (!desc || !avail || !used)
		return fail(vq, "ring not wholly inside guest RAM");
	memset(vq->inflight_wmax, 0, sizeof(vq->inflight_wmax[0]) * size);
	vq->gm = gm;
	vq->size = size;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	return 0;
}

bool vq_has_work(struct virtqueue *vq)
{
	if (vq->size == 0)
		return false;
	return __atomic_load_n(avail_idx_p(vq), __ATOMIC_ACQUIRE) != vq->last_avail;
}

/* Appends one (already copied) descriptor's buffer to the chain. Zero-length buffers are
 * refused, not skipped: the spec gives every element at least one byte (2.7.13.1), gm_ptr
 * has no pointer for 0 bytes, devices are promised iov len > 0, and QEMU refuses them too,
 * so no driver that works elsewhere sends one. */
static int chain_add(struct virtqueue *vq, const struct vq_desc *d, struct vq_chain *c)
{
	bool w = d->flags & VQ_DESC_F_WRITE;

	if (!w && c->nwrite > 0)
		return fail(vq, "device-readable buffer after a device-writable one");
	if (c->nread + c->nwrite >= VQ_MAX_IOV)
		return fail(vq, "chain has more than VQ_MAX_IOV buffers");
	if (d->len == 0)
		return fail(vq, "zero-length buffer");
	void *p = gm_ptr(vq->gm, d->addr, d->len);
	if (!p)
		return fail(vq, "buffer not wholly inside guest RAM");
	c->iov[c->nread + c->nwrite] = (struct vq_iov){ .base = p, .len = d->len };
	if (w) {
		c->nwrite++;
		c->write_bytes += d->len;
	} else {
		c->nread++;
		c->read_bytes += d->len;
	}
	return 0;
}

static int walk_table(struct virtqueue *vq, const uint8_t *table, uint32_t n, uint16_t start,
		      bool top, struct vq_chain *c);

/* Descends into the indirect table described by d (the last descriptor of a direct chain,
 * 2.7.5.3.2). Its WRITE flag is ignored, as the spec requires. */
static int walk_indirect(struct virtqueue *vq, const struct vq_desc *d, struct vq_chain *c)
{
	if (!vq->indirect)
		return fail(vq, "indirect descriptor without VIRTIO_F_INDIRECT_DESC");
	if (d->flags & VQ_DESC_F_NEXT)
		return fail(vq, "descriptor has both INDIRECT and NEXT");
	if (d->len == 0 || d->len % sizeof(struct vq_desc))
		return fail(vq, "indirect table length is zero or not a multiple of 16");
	if (d->addr & (INDIRECT_ALIGN - 1))
		return fail(vq, "indirect table misaligned");
	const uint8_t *table = gm_ptr(vq->gm, d->addr, d->len);
	if (!table)
		return fail(vq, "indirect table not wholly inside guest RAM");
	return walk_table(vq, table, d->len / (uint32_t)sizeof(struct vq_desc), 0, false, c);
}

/* Follows a chain through a table of n descriptors from index start (< n). The direct table
 * (top) may end in one indirect descriptor; an indirect table may not contain one. At most n
 * steps (the TTL): a longer chain must revisit an entry, i.e. loop. Each entry is copied
 * once into d and only d is used. Every step adds an iov or fails, so VQ_MAX_IOV also bounds
 * the walk of a huge indirect table. */
static int walk_table(struct virtqueue *vq, const uint8_t *table, uint32_t n, uint16_t start,
		      bool top, struct vq_chain *c)
{
	uint32_t idx = start;

	for (uint32_t ttl = n;; ttl--) {
		struct vq_desc d;

		memcpy(&d, table + (size_t)idx * sizeof(d), sizeof(d));
		if (d.flags & VQ_DESC_F_INDIRECT) {
			if (!top)
				return fail(vq, "INDIRECT flag inside an indirect table");
			return walk_indirect(vq, &d, c);
		}
		if (chain_add(vq, &d, c) < 0)
			return -1;
		if (!(d.flags & VQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return fail(vq, top ? "next index >= queue size"
					    : "indirect next index outside the table");
		if (ttl <= 1)
			return fail(vq, "descriptor chain loops (longer than its table)");
		idx = d.next;
	}
}

enum vq_result vq_pop(struct virtqueue *vq, struct vq_chain *chain)
{
	if (vq->size == 0)
		return VQ_EMPTY;
	if (vq->why)
		return VQ_ERROR;
	/* Acquire: the ring entry and descriptors are read after the index that published them. */
	uint16_t avail = __atomic_load_n(avail_idx_p(vq), __ATOMIC_ACQUIRE);
	uint16_t pending = (uint16_t)(avail - vq->last_avail);
	if (pending == 0)
		return VQ_EMPTY;
	if (pending > vq->size) {
		fail(vq, "avail index moved more than the queue size");
		return VQ_ERROR;
	}
	size_t slot = RING_OFF + 2u * (size_t)(vq->last_avail & (vq->size - 1));
	uint16_t head = __atomic_load_n(field16(vq->avail, slot), __ATOMIC_RELAXED);
	if (head >= vq->size) {
		fail(vq, "head index >= queue size");
		return VQ_ERROR;
	}
	if (vq->inflight_wmax[head]) {
		fail(vq, "head offered again while still in flight");
		return VQ_ERROR;
	}
	chain->head = head;
	chain->nread = chain->nwrite = 0;
	chain->read_bytes = chain->write_bytes = 0;
	if (walk_table(vq, vq->desc, vq->size, head, true, chain) < 0)
		return VQ_ERROR;
	/* Diff snapshots: the device will write these (guest_mem.h, gm_track_writes). */
	if (__atomic_load_n(&vq->gm->written, __ATOMIC_RELAXED))
		for (uint32_t i = chain->nread; i < chain->nread + chain->nwrite && i < VQ_MAX_IOV; i++)
			gm_mark_written(vq->gm, chain->iov[i].base, chain->iov[i].len);
	uint64_t wmax = chain->write_bytes < UINT32_MAX - 1 ? chain->write_bytes : UINT32_MAX - 1;
	vq->inflight_wmax[head] = (uint32_t)wmax + 1;
	vq->inflight++;
	vq->last_avail++;
	vq->unpop_ok = true;
	vq->last_pop = head;
	return VQ_OK;
}

int vq_unpop(struct virtqueue *vq, uint16_t head)
{
	if (vq->size == 0 || !vq->unpop_ok || vq->last_pop != head)
		return -1; /* a device bug: the queue is left as it was */
	vq->unpop_ok = false;
	vq->inflight_wmax[head] = 0;
	vq->inflight--;
	vq->last_avail--;
	return 0;
}

int vq_push(struct virtqueue *vq, uint16_t head, uint32_t written)
{
	if (vq->size == 0 || head >= vq->size || vq->inflight_wmax[head] == 0)
		return fail(vq, "device pushed a head that it did not pop");
	uint32_t wmax = vq->inflight_wmax[head] - 1;
	uint32_t elem[2] = { head, written < wmax ? written : wmax }; /* virtq_used_elem: id, len */
	size_t off = RING_OFF + USED_ELEM_LEN * (size_t)(vq->used_idx & (vq->size - 1));

	memcpy(vq->used + off, elem, sizeof(elem));
	gm_mark_written(vq->gm, vq->used + off, sizeof(elem));
	gm_mark_written(vq->gm, used_idx_p(vq), 2);
	vq->unpop_ok = false;
	vq->inflight_wmax[head] = 0;
	vq->inflight--;
	vq->used_idx++;
	/* Release: the element (and the device's writes into the buffers) before the index. */
	__atomic_store_n(used_idx_p(vq), vq->used_idx, __ATOMIC_RELEASE);
	return 0;
}

/* 2.7.10: interrupt iff used_event lies in [old, new), modulo 2^16. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

bool vq_should_interrupt(struct virtqueue *vq)
{
	if (vq->size == 0)
		return false;
	/* Full fence: our used->idx store must be visible before we read the driver's flags or
	 * used_event, or a driver re-enabling interrupts concurrently could be missed. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx) {
		uint16_t flags = __atomic_load_n(field16(vq->avail, 0), __ATOMIC_RELAXED);
		return !(flags & VQ_AVAIL_F_NO_INTERRUPT);
	}
	uint16_t event = __atomic_load_n(used_event_p(vq), __ATOMIC_RELAXED);
	bool valid = vq->signalled_valid;
	uint16_t old_idx = vq->signalled_used;

	vq->signalled_valid = true;
	vq->signalled_used = vq->used_idx;
	return !valid || need_event(event, vq->used_idx, old_idx);
}

void vq_set_notify(struct virtqueue *vq, bool enable)
{
	if (vq->size == 0)
		return;
	if (vq->event_idx) {
		/* A stale avail_event already suppresses kicks, so disabling writes nothing. */
		if (enable) {
			__atomic_store_n(avail_event_p(vq), vq->last_avail, __ATOMIC_RELAXED);
			gm_mark_written(vq->gm, avail_event_p(vq), 2);
		}
	} else {
		uint16_t flags = enable ? 0 : VQ_USED_F_NO_NOTIFY;
		__atomic_store_n(field16(vq->used, 0), flags, __ATOMIC_RELAXED);
		gm_mark_written(vq->gm, vq->used, 2);
	}
	/* Full fence: the store above before the caller's re-check of avail->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Index of the iov that holds byte off of iov[0..n) (n when the list is shorter), with the
 * offset inside it in *skip. */
static uint32_t iov_seek(const struct vq_iov *iov, uint32_t n, uint64_t off, uint64_t *skip)
{
	uint32_t i = 0;

	while (i < n && off >= iov[i].len)
		off -= iov[i++].len;
	*skip = off;
	return i;
}

/* Both helpers bound the counts by VQ_MAX_IOV, whatever the caller left in the chain. */
size_t vq_chain_read(const struct vq_chain *c, uint64_t off, void *dst, size_t len)
{
	uint32_t n = c->nread < VQ_MAX_IOV ? c->nread : VQ_MAX_IOV;
	uint64_t skip;
	size_t done = 0;

	for (uint32_t i = iov_seek(c->iov, n, off, &skip); i < n && done < len; i++, skip = 0) {
		size_t k = c->iov[i].len - skip < len - done ? c->iov[i].len - skip : len - done;
		memcpy((uint8_t *)dst + done, (const uint8_t *)c->iov[i].base + skip, k);
		done += k;
	}
	return done;
}

size_t vq_chain_write(const struct vq_chain *c, uint64_t off, const void *src, size_t len)
{
	uint32_t first = c->nread < VQ_MAX_IOV ? c->nread : VQ_MAX_IOV;
	uint32_t n = c->nwrite < VQ_MAX_IOV - first ? c->nwrite : VQ_MAX_IOV - first;
	const struct vq_iov *iov = c->iov + first;
	uint64_t skip;
	size_t done = 0;

	for (uint32_t i = iov_seek(iov, n, off, &skip); i < n && done < len; i++, skip = 0) {
		size_t k = iov[i].len - skip < len - done ? iov[i].len - skip : len - done;
		memcpy((uint8_t *)iov[i].base + skip, (const uint8_t *)src + done, k);
		done += k;
	}
	return done;
}
