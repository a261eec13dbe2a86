/* virtio-blk (virtio 1.2, 5.2): turns request chains into backend calls on host iovecs.
 * Each request's header is copied once and only the copy is checked and used. A chain the
 * device cannot even answer (no 16-byte header, no status byte) fails the device; a request
 * that is merely wrong (bad length, out of range, read-only, backend error) gets IOERR or
 * UNSUPP. Must not: walk rings, hand guest addresses to the backend, or abort. */
#include "devices/virtio_blk.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

_Static_assert(VQ_MAX_IOV <= IOV_MAX, "a request's data iovecs fit one preadv");
_Static_assert(offsetof(struct virtio_blk_config, blk_size) == 20, "virtio 1.2, 5.2.4 layout");
_Static_assert(offsetof(struct virtio_blk_config, num_queues) + 2 == VIRTIO_BLK_CONFIG_SIZE,
	       "virtio 1.2, 5.2.4 layout");

#define BLK_FEATURES                                                                       \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |                     \
	 (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_BLK_F_SEG_MAX) |               \
	 (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH))

/* Contiguous reads (or writes) popped in one batch go to an asynchronous backend as one
 * request of at most this many bytes (and VQ_MAX_IOV iovecs). */
#define BLK_MERGE_MAX (2u << 20)
#define BLK_NO_SLOT UINT16_MAX

/* Longest run of writable bytes a failed request gets zero-filled (see blk_used_len). */
#define BLK_ZERO_SLACK 4096u

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};
_Static_assert(sizeof(struct blk_req_hdr) == VIRTIO_BLK_REQ_HDR, "struct virtio_blk_req header");

/* One request being served. */
struct blk_req {
	uint32_t type;     /* from the one copy of the header, host order */
	uint64_t sector;
	uint64_t wdata;    /* writable bytes before the status byte (the last writable byte) */
	uint64_t produced; /* writable bytes [0, produced) that the request filled */
	uint64_t len;      /* data bytes of a read or write */
};

/* What a slot's backend request is: the request's own I/O, or the flush that makes a write
 * stable before it is acknowledged (FLUSH not negotiated: write-through). */
enum blk_stage { BLK_STAGE_IO, BLK_STAGE_WT_FLUSH };

struct blk_slot {
	struct blk_req q;
	enum blk_stage stage;
	bool busy;
	bool in_backend;
	/* Merging (see blk_queue_rw): this slot's own request, and the next slot of its group. */
	uint64_t off;
	int iovcnt;
	uint16_t next;
	struct vq_chain chain;
	struct iovec iov[VQ_MAX_IOV];
};

int virtio_blk_iov_slice(const struct vq_iov *iov, uint32_t n, uint64_t off, uint64_t len,
			 struct iovec *out, int max)
{
	uint32_t i = 0;
	int cnt = 0;

	while (i < n && off >= iov[i].len)
		off -= iov[i++].len;
	for (; i < n && len > 0; i++, off = 0) {
		uint8_t *p = iov[i].base;
		uint64_t take = iov[i].len - off;

		if (cnt >= max)
			return -1;
		if (take > len)
			take = len;
		out[cnt++] = (struct iovec){ .iov_base = p + off, .iov_len = (size_t)take };
		len -= take;
	}
	return len ? -1 : cnt;
}

/* Bytes [off, off + len) of the chain's readable or writable part as host iovecs in s->iov. */
static int chain_slice(struct blk_slot *s, bool writable, uint64_t off, uint64_t len)
{
	const struct vq_chain *c = &s->chain;
	uint32_t nr = c->nread < VQ_MAX_IOV ? c->nread : VQ_MAX_IOV;
	uint32_t nw = c->nwrite < VQ_MAX_IOV - nr ? c->nwrite : VQ_MAX_IOV - nr;

	if (writable)
		return virtio_blk_iov_slice(c->iov + nr, nw, off, len, s->iov, VQ_MAX_IOV);
	return virtio_blk_iov_slice(c->iov, nr, off, len, s->iov, VQ_MAX_IOV);
}

/* A read or write of len bytes at sector: a whole number of sectors, inside the disk
 * (overflow-aware: sector and len are guest-controlled). The byte offset in *off. */
static bool blk_range_ok(const struct virtio_blk *b, uint64_t sector, uint64_t len,
			 uint64_t *off)
{
	if (len % VIRTIO_BLK_SECTOR)
		return false;
	if (sector > b->capacity || len / VIRTIO_BLK_SECTOR > b->capacity - sector)
		return false;
	*off = sector * VIRTIO_BLK_SECTOR; /* <= capacity * 512 = the backend's size */
	return true;
}

/* A backend result as a status; a host error is counted, and logged once per kind. */
static uint8_t backend_status(struct virtio_blk *b, int r, const char *op)
{
	if (r == 0)
		return VIRTIO_BLK_S_OK;
	atomic_fetch_add_explicit(&b->dev.io_errors, 1, memory_order_relaxed);
	if (r != b->last_errno) {
		log_warn("%s: disk %s failed: %s", b->dev.name ? b->dev.name : "virtio-blk", op,
			 strerror(-r));
		b->last_errno = r;
	}
	return VIRTIO_BLK_S_IOERR;
}

/* The used length. Every writable byte before the status that the request did not fill is
 * zeroed, so the used length can honestly cover the whole writable part, status included
 * (2.7.8.2: len is a lower bound on what was written from the start). Bounded work: a gap
 * larger than the disk plus BLK_ZERO_SLACK is nonsense; it is left alone and the used
 * length then covers only what the request filled. */
static uint32_t blk_used_len(struct virtio_blk *b, struct blk_slot *s)
{
	const struct blk_req *q = &s->q;
	uint64_t gap = q->wdata - q->produced;

	if (gap > b->be.size + BLK_ZERO_SLACK)
		return q->produced < UINT32_MAX ? (uint32_t)q->produced : UINT32_MAX;
	int n = chain_slice(s, true, q->produced, gap);
	for (int i = 0; i < n; i++)
		memset(s->iov[i].iov_base, 0, s->iov[i].iov_len);
	return q->wdata < UINT32_MAX - 1 ? (uint32_t)(q->wdata + 1) : UINT32_MAX;
}

static unsigned slot_index(const struct virtio_blk *b, const struct blk_slot *s)
{
	return (unsigned)(s - b->slots);
}

/* One interrupt check for everything pushed since the last one. */
static void blk_signal(struct virtio_dev *d, struct virtio_blk *b)
{
	if (b->pushed) {
		b->pushed = false;
		virtio_dev_used(d, 0);
	}
}

static void slot_free(struct virtio_blk *b, struct blk_slot *s)
{
	s->busy = false;
	s->in_backend = false;
	b->free_slots[b->nfree++] = (uint16_t)slot_index(b, s);
}

/* Answers the request with status and returns its slot. A device that stopped (failed, or
 * reset) is not answered: its ring is not written. Returns -1 after failing the device. */
static int blk_finish(struct virtio_dev *d, struct virtio_blk *b, struct blk_slot *s,
		      uint8_t status)
{
	int r = 0;

	if (virtio_dev_running(d)) {
		uint32_t used = blk_used_len(b, s);
		vq_chain_write(&s->chain, s->q.wdata, &status, 1);
		atomic_fetch_add_explicit(&b->requests, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&d->requests, 1, memory_order_relaxed);
		if (status != VIRTIO_BLK_S_OK)
			atomic_fetch_add_explicit(&b->errors, 1, memory_order_relaxed);
		if (vq_push(&d->vq[0], s->chain.head, used) < 0) {
			virtio_dev_fail(d, d->vq[0].why);
			r = -1;
		} else {
			b->pushed = true;
		}
	}
	slot_free(b, s);
	return r;
}

static int blk_io_done(struct virtio_dev *d, struct virtio_blk *b, struct blk_slot *s, int r);

static int blk_issue(struct virtio_dev *d, struct virtio_blk *b, struct blk_slot *s,
		     enum blk_op op, uint64_t off, int iovcnt);

/* The backend finished the request of group head h with result r. Each member is answered;
 * a merged request that failed is retried member by member, so only the requests that fail
 * on their own get an error. */
static void blk_group_done(struct virtio_dev *d, struct virtio_blk *b, struct blk_slot *h, int r)
{
	bool retry = r < 0 && h->next != BLK_NO_SLOT;
	enum blk_op op = h->q.type == VIRTIO_BLK_T_IN ? BLK_OP_READ : BLK_OP_WRITE;

	for (struct blk_slot *m = h; m;) {
		struct blk_slot *next = m->next == BLK_NO_SLOT ? NULL : &b->slots[m->next];
		m->next = BLK_NO_SLOT;
		if (retry)
			blk_issue(d, b, m, op, m->off, m->iovcnt);
		else
			blk_io_done(d, b, m, r);
		m = next;
	}
}

/* Submits the open merge group, if any. */
static void blk_close_group(struct virtio_dev *d, struct virtio_blk *b)
{
	if (b->group == BLK_NO_SLOT)
		return;
	struct blk_slot *h = &b->slots[b->group];
	b->group = BLK_NO_SLOT;
	if (h->next == BLK_NO_SLOT) {
		blk_issue(d, b, h, b->group_op, h->off, h->iovcnt);
		return;
	}
	const struct blk_backend_ops *ops = b->be.ops;
	struct blk_io io = { .op = b->group_op, .off = h->off, .iov = h->iov,
			     .iovcnt = b->group_iovcnt, .cookie = slot_index(b, h) };
	int r = ops->submit(b->be.be, &io);
	if (r == 0) {
		h->in_backend = true;
		b->in_backend++;
		return;
	}
	blk_group_done(d, b, h, r > 0 ? 0 : r);
}

/* A checked read or write for an asynchronous backend: joins the open group when it
 * continues it (same operation, the next byte, room left), else closes that group and opens
 * its own. The group is submitted when the batch ends (or when the next request does not
 * fit). The head's iovec array holds the whole group's iovecs. */
static int blk_queue_rw(struct virtio_dev *d, struct virtio_blk *b, struct blk_slot *s,
			enum blk_op op)
{
	if (b->group != BLK_NO_SLOT) {
		struct blk_slot *h = &b->slots[b->group];
		uint64_t size = b->group_end - h->off; /* may exceed BLK_MERGE_MAX: one big head */
		if (op == b->group_op && s->off == b->group_end &&
		    s->iovcnt <= VQ_MAX_IOV - b->group_iovcnt && size < BLK_MERGE_MAX &&
		    s->q.len <= BLK_MERGE_MAX - size) {
			memcpy(h->iov + b->group_iovcnt, s->iov, (size_t)s->iovcnt * sizeof(s->iov[0]));
			b->group_iovcnt += s->iovcnt;
			b->group_end += s->q.len;
			b->slots[b->group_tail].next = (uint16_t)slot_index(b, s);
			b->group_tail = (uint16_t)slot_index(b, s);
			return 0;
		}
		blk_close_group(d, b);
	}
	b->group = b->group_tail = (uint16_t)slot_index(b, s);
	b->group_op = op;
	b->group_iovcnt = s->iovcnt;
	b->group_end = s->off + s->q.len;
	return 0;
}

/* Hands the slot's backend request to the backend: submitted (0), or done at once, answered. */
static int blk_issue(struct virtio_dev *d, struct virtio_blk *b, struct blk_slot *s,
		     enum blk_op op, uint64_t off, int iovcnt)
{
	const struct blk_backend_ops *ops = b->be.ops;
	int r;

	if (ops->submit) {
		struct blk_io io = { .op = op, .off = off, .iov = s->iov, .iovcnt = iovcnt,
				     .cookie = slot_index(b, s) };
		r = ops->submit(b->be.be, &io);
		if (r == 0) {
			s->in_backend = true;
			b->in_backend++;
			return 0;
		}
		if (r > 0)
			r = 0; /* done at once */
	} else if (op == BLK_OP_READ) {
		r = ops->read(b->be.be, off, s->iov, iovcnt);
	} else if (op == BLK_OP_WRITE) {
		r = ops->write(b->be.be, off, s->iov, iovcnt);
	} else {
		r = ops->flush(b->be.be);
	}
	return blk_io_done(d, b, s, r);
}

/* The backend finished the slot's request with result r: answer it, or (write-through) make
 * the written data stable first. */
static int blk_io_done(struct virtio_dev *d, struct virtio_blk *b, struct blk_slot *s, int r)
{
	struct blk_req *q = &s->q;
	const char *what = q->type == VIRTIO_BLK_T_IN ? "read"
			   : q->type == VIRTIO_BLK_T_OUT ? "write" : "flush";

	if (r == 0 && q->type == VIRTIO_BLK_T_OUT && s->stage == BLK_STAGE_IO &&
	    !virtio_has_feature(d, VIRTIO_BLK_F_FLUSH)) {
		/* FLUSH offered but not negotiated: a completed write must already be stable
		 * (5.2.6, write-through), so flush before reporting it. */
		s->stage = BLK_STAGE_WT_FLUSH;
		return blk_issue(d, b, s, BLK_OP_FLUSH, 0, 0);
	}
	uint8_t status = backend_status(b, r, what);
	if (status == VIRTIO_BLK_S_OK && q->type == VIRTIO_BLK_T_IN) {
		q->produced = q->wdata;
		atomic_fetch_add_explicit(&b->read_bytes, q->len, memory_order_relaxed);
		atomic_fetch_add_explicit(&b->reads, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&d->bytes_in, q->len, memory_order_relaxed);
	} else if (status == VIRTIO_BLK_S_OK && q->type == VIRTIO_BLK_T_OUT) {
		atomic_fetch_add_explicit(&b->written_bytes, q->len, memory_order_relaxed);
		atomic_fetch_add_explicit(&b->writes, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&d->bytes_out, q->len, memory_order_relaxed);
	}
	return blk_finish(d, b, s, status);
}

/* VIRTIO_BLK_T_IN / T_OUT: checked, then issued; a wrong request is answered IOERR at once. */
static int blk_rw(struct virtio_dev *d, struct virtio_blk *b, struct blk_slot *s)
{
	struct blk_req *q = &s->q;
	bool in = q->type == VIRTIO_BLK_T_IN;
	uint64_t off;

	/* IN: the data is the writable part before the status byte; OUT: the readable part
	 * after the header. */
	q->len = in ? q->wdata : s->chain.read_bytes - VIRTIO_BLK_REQ_HDR;
	if (!in && b->be.read_only)
		return blk_finish(d, b, s, VIRTIO_BLK_S_IOERR); /* 5.2.6.2: no data written */
	if (!blk_range_ok(b, q->sector, q->len, &off))
		return blk_finish(d, b, s, VIRTIO_BLK_S_IOERR);
	int n = in ? chain_slice(s, true, 0, q->len)
		   : chain_slice(s, false, VIRTIO_BLK_REQ_HDR, q->len);
	if (n < 0)
		return blk_finish(d, b, s, VIRTIO_BLK_S_IOERR);
	s->off = off;
	s->iovcnt = n;
	s->next = BLK_NO_SLOT;
	/* Merged only for an asynchronous backend (a synchronous one answers each request at
	 * once, which keeps the guest busy) and with FLUSH negotiated (no write-through). */
	if (b->be.ops->submit && virtio_has_feature(d, VIRTIO_BLK_F_FLUSH))
		return blk_queue_rw(d, b, s, in ? BLK_OP_READ : BLK_OP_WRITE);
	return blk_issue(d, b, s, in ? BLK_OP_READ : BLK_OP_WRITE, off, n);
}

/* The rate limiter's verdict on the request in s (its header copied once, into s->q): every
 * request is one operation, reads and writes also their data bytes. Throttled: the chain
 * goes back to the ring (vq_unpop: nothing was pushed since its pop), the slot is freed and
 * the timer asked to come back when the tokens are there. */
static bool blk_admit(struct virtio_dev *d, struct virtio_blk *b, struct blk_slot *s)
{
	if (!rl_enabled(&b->rl))
		return true;
	const struct blk_req *q = &s->q;
	uint64_t bytes = q->type == VIRTIO_BLK_T_IN ? q->wdata
			 : q->type == VIRTIO_BLK_T_OUT && s->chain.read_bytes > VIRTIO_BLK_REQ_HDR
			 ? s->chain.read_bytes - VIRTIO_BLK_REQ_HDR : 0;
	uint64_t now = b->clock(), wait = 0;
	if (rl_consume(&b->rl, bytes, 1, now, &wait))
		return true;
	if (vq_unpop(&d->vq[0], s->chain.head) < 0)
		return true; /* cannot give it back (never expected): serve it */
	slot_free(b, s);
	b->throttled = true;
	atomic_fetch_add_explicit(&b->throttled_events, 1, memory_order_relaxed);
	rl_timer_want(&b->rl_timer, now + wait);
	return false;
}

/* Starts the request in a freshly popped slot: answered at once (a wrong request, GET_ID,
 * a flush of a read-only disk) or issued. Returns -1 after failing the device, 1 when the
 * rate limiter refused it (the chain is back in the ring, the slot free). */
static int blk_start(struct virtio_dev *d, struct virtio_blk *b, struct blk_slot *s)
{
	const struct vq_chain *c = &s->chain;
	struct blk_req_hdr h;

	/* Without a header or a status byte the device cannot even answer: malformed chain. */
	if (vq_chain_read(c, 0, &h, sizeof(h)) < sizeof(h)) {
		virtio_dev_fail(d, "request header shorter than 16 bytes");
		slot_free(b, s);
		return -1;
	}
	if (c->write_bytes == 0) {
		virtio_dev_fail(d, "request has no device-writable status byte");
		slot_free(b, s);
		return -1;
	}
	s->q = (struct blk_req){ .type = le32toh(h.type), .sector = le64toh(h.sector),
				 .wdata = c->write_bytes - 1 };
	s->stage = BLK_STAGE_IO;
	if (!blk_admit(d, b, s))
		return 1;
	switch (s->q.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return blk_rw(d, b, s);
	case VIRTIO_BLK_T_FLUSH:
		/* Every write completed before it is on stable storage. A read-only disk has
		 * nothing to flush: OK without asking the backend. */
		atomic_fetch_add_explicit(&b->flushes, 1, memory_order_relaxed);
		if (b->be.read_only)
			return blk_finish(d, b, s, VIRTIO_BLK_S_OK);
		blk_close_group(d, b); /* the writes popped before it reach the backend first */
		return blk_issue(d, b, s, BLK_OP_FLUSH, 0, 0);
	case VIRTIO_BLK_T_GET_ID: {
		/* The serial, zero-padded to 20 bytes, cut to the buffer. */
		size_t k = s->q.wdata < VIRTIO_BLK_ID_BYTES ? (size_t)s->q.wdata
							    : VIRTIO_BLK_ID_BYTES;
		s->q.produced = vq_chain_write(c, 0, b->serial, k);
		atomic_fetch_add_explicit(&d->bytes_in, s->q.produced, memory_order_relaxed);
		return blk_finish(d, b, s, VIRTIO_BLK_S_OK);
	}
	default:
		return blk_finish(d, b, s, VIRTIO_BLK_S_UNSUPP);
	}
}

/* Every completion the backend has now (wait: waiting for at least one per round while any
 * request is in flight), answered. Returns the number answered. */
static unsigned blk_reap_wait(struct virtio_dev *d, struct virtio_blk *b, bool wait)
{
	unsigned answered = 0;

	if (!b->be.ops || !b->be.ops->reap)
		return 0;
	while (b->in_backend > 0) {
		int n = b->be.ops->reap(b->be.be, b->done, VIRTIO_BLK_QUEUE_SIZE, wait);
		if (n <= 0)
			break;
		for (int i = 0; i < n && i < VIRTIO_BLK_QUEUE_SIZE; i++) {
			uint64_t k = b->done[i].cookie;
			if (k >= VIRTIO_BLK_QUEUE_SIZE || !b->slots[k].in_backend)
				continue; /* the backend's bug, not the guest's: ignore it */
			struct blk_slot *s = &b->slots[k];
			s->in_backend = false;
			b->in_backend--;
			if (s->next != BLK_NO_SLOT)
				blk_group_done(d, b, s, b->done[i].result);
			else
				blk_io_done(d, b, s, b->done[i].result);
			answered++;
		}
	}
	return answered;
}

static unsigned blk_reap(struct virtio_dev *d, struct virtio_blk *b)
{
	return blk_reap_wait(d, b, false);
}

/* Takes chains while slots are free, issues them, answers what finished, one interrupt
 * check per batch. With every slot busy it returns with driver notifications off: the
 * completion handler frees slots and comes back here. Throttled by the rate limiter: the
 * same, and the limiter's timer comes back here. */
static void blk_process(struct virtio_dev *d, struct virtio_blk *b)
{
	struct virtqueue *vq = &d->vq[0];
	bool throttled = false;

	b->throttled = false;
	while (virtio_dev_running(d)) {
		vq_set_notify(vq, false);
		while (virtio_dev_running(d) && b->nfree > 0) {
			struct blk_slot *s = &b->slots[b->free_slots[b->nfree - 1]];
			enum vq_result res = vq_pop(vq, &s->chain);
			if (res == VQ_EMPTY)
				break;
			if (res == VQ_ERROR) {
				virtio_dev_fail(d, vq->why);
				break;
			}
			b->nfree--;
			s->busy = true;
			int r = blk_start(d, b, s);
			if (r < 0)
				break;
			if (r > 0) {
				throttled = true;
				break;
			}
		}
		blk_close_group(d, b);
		if (b->be.ops->kick && b->in_backend > 0) {
			int r = b->be.ops->kick(b->be.be);
			if (r < 0 && !b->kick_failed) {
				log_warn("%s: submitting disk requests failed (%s); retrying", d->name,
					 strerror(-r));
				b->kick_failed = true;
			}
		}
		blk_reap(d, b); /* requests the kernel finished during submission */
		blk_signal(d, b);
		b->starved = b->nfree == 0;
		/* Throttled: notifications stay off (no exits for kicks that could not be served);
		 * the limiter's timer brings the device back. */
		if (!virtio_dev_running(d) || b->nfree == 0 || throttled)
			return;
		vq_set_notify(vq, true);
		if (!vq_has_work(vq))
			return;
	}
}

static void blk_notify(struct virtio_dev *d, uint16_t q)
{
	if (q == 0)
		blk_process(d, d->priv);
}

void virtio_blk_complete(struct virtio_blk *b)
{
	struct virtio_dev *d = &b->dev;

	/* Requests a failed kick left queued get another chance (no syscall when none are). */
	if (b->be.ops && b->be.ops->kick && b->in_backend > 0)
		b->be.ops->kick(b->be.be);
	blk_reap(d, b);
	blk_signal(d, b);
	/* Only a queue that stopped for want of slots is taken up again here; otherwise the
	 * driver's next kick brings the new requests, then in one batch that merges well. */
	if (b->starved && virtio_dev_running(d) && b->nfree > 0)
		blk_process(d, b);
}

void virtio_blk_on_complete(void *ctx, int fd)
{
	struct virtio_blk *b = ctx;
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v)); /* re-arms the eventfd; what it counted is moot */

	(void)r;
	pthread_mutex_lock(&b->dev.lock);
	virtio_blk_complete(b);
	pthread_mutex_unlock(&b->dev.lock);
}

void virtio_blk_quiesce(struct virtio_blk *b)
{
	const struct blk_backend_ops *ops = b->be.ops;

	while (b->in_backend > 0 && ops && ops->reap) {
		int n = ops->reap(b->be.be, b->done, VIRTIO_BLK_QUEUE_SIZE, true);
		if (n <= 0) {
			log_warn("%s: %u disk requests did not complete", b->dev.name, b->in_backend);
			break;
		}
		for (int i = 0; i < n && i < VIRTIO_BLK_QUEUE_SIZE; i++) {
			uint64_t k = b->done[i].cookie;
			if (k < VIRTIO_BLK_QUEUE_SIZE && b->slots[k].in_backend) {
				b->slots[k].in_backend = false;
				b->in_backend--;
			}
		}
	}
	/* Forget every request: the ring they came from is gone or going. */
	b->in_backend = 0;
	b->pushed = false;
	b->starved = false;
	b->throttled = false;
	b->group = BLK_NO_SLOT;
	b->nfree = 0;
	for (unsigned i = 0; b->slots && i < VIRTIO_BLK_QUEUE_SIZE; i++) {
		b->slots[i].busy = b->slots[i].in_backend = false;
		b->slots[i].next = BLK_NO_SLOT;
		b->free_slots[b->nfree++] = (uint16_t)(VIRTIO_BLK_QUEUE_SIZE - 1 - i);
	}
}

void virtio_blk_finish_inflight(struct virtio_blk *b)
{
	struct virtio_dev *d = &b->dev;

	blk_close_group(d, b); /* none outside a batch; cheap to make sure */
	while (b->in_backend > 0) {
		if (blk_reap_wait(d, b, true) == 0) {
			log_warn("%s: %u disk requests did not complete before the snapshot", d->name,
				 b->in_backend);
			break;
		}
		blk_signal(d, b);
		/* A queue that stopped for want of slots takes up the rest of its ring now: the
		 * guest is paused, so this ends with the ring (bounded by the queue size). */
		if (b->in_backend == 0 && b->starved && virtio_dev_running(d) && b->nfree > 0)
			blk_process(d, b);
	}
	blk_signal(d, b);
}

static void blk_snap_quiesce(struct virtio_dev *d)
{
	virtio_blk_finish_inflight(d->priv);
}

/* A kick seen by the old process only (it was paused before serving it) must not be lost. */
static void blk_snap_resume(struct virtio_dev *d)
{
	virtio_dev_kick_all(d);
}

/* The driver reset the device (or a queue): no request in flight may complete into the old
 * rings, so wait for them first. d->lock held (a vCPU thread; it blocks for at most the
 * backend's latency). */
static void blk_reset(struct virtio_dev *d)
{
	virtio_blk_quiesce(d->priv);
}

static void blk_queue_reset(struct virtio_dev *d, uint16_t q)
{
	if (q == 0)
		virtio_blk_quiesce(d->priv);
}

/* [off, off + len) is inside config_size (the transport checked); bounded here anyway. */
static void blk_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	const struct virtio_blk *b = d->priv;

	memset(data, 0, len);
	if (off < VIRTIO_BLK_CONFIG_SIZE) {
		uint32_t room = VIRTIO_BLK_CONFIG_SIZE - off;
		uint32_t n = len < room ? len : room;
		memcpy(data, (const uint8_t *)&b->cfg + off, n);
	}
}

/* Beyond struct virtio_dev's: requests that waited for O_DIRECT bounce memory, and those the
 * rate limiter refused (Firecracker's block metric name). */
static size_t blk_counters(const struct virtio_dev *d, struct virtio_counter *out, size_t max)
{
	const struct virtio_blk *b = d->priv;
	if (max < 2)
		return 0;
	out[0] = (struct virtio_counter){"bounce_waits",
					 atomic_load_explicit(&b->bounce_waits, memory_order_relaxed)};
	out[1] = (struct virtio_counter){"rate_limiter_throttled_events",
					 atomic_load_explicit(&b->throttled_events, memory_order_relaxed)};
	return 2;
}

const struct virtio_dev_ops virtio_blk_ops = {
	.kind = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.features = BLK_FEATURES,
	.num_queues = 1,
	.queue_max_size = VIRTIO_BLK_QUEUE_SIZE,
	.config_size = VIRTIO_BLK_CONFIG_SIZE,
	.config_read = blk_config_read,
	.notify = blk_notify,
	.reset = blk_reset,
	.queue_reset = blk_queue_reset,
	.counters = blk_counters,
	.save = virtio_blk_save,
	.load = virtio_blk_load,
	.quiesce = blk_snap_quiesce,
	.resume = blk_snap_resume,
};

const struct virtio_dev_ops virtio_blk_ro_ops = {
	.kind = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.features = BLK_FEATURES | (1ull << VIRTIO_BLK_F_RO),
	.num_queues = 1,
	.queue_max_size = VIRTIO_BLK_QUEUE_SIZE,
	.config_size = VIRTIO_BLK_CONFIG_SIZE,
	.config_read = blk_config_read,
	.notify = blk_notify,
	.reset = blk_reset,
	.queue_reset = blk_queue_reset,
	.counters = blk_counters,
	.save = virtio_blk_save,
	.load = virtio_blk_load,
	.quiesce = blk_snap_quiesce,
	.resume = blk_snap_resume,
};

const struct virtio_dev_ops *virtio_blk_ops_for(const struct virtio_blk *b)
{
	return b->be.read_only ? &virtio_blk_ro_ops : &virtio_blk_ops;
}

int virtio_blk_init(struct virtio_blk *b, struct blk_backend *be, const char *serial, char *err,
		    size_t errlen)
{
	size_t slen = serial ? strlen(serial) : 0;

	if (!be || !be->ops || !be->ops->read || !be->ops->write || !be->ops->flush)
		return err_set(err, errlen, "virtio-blk: incomplete disk backend");
	if (slen > VIRTIO_BLK_ID_BYTES)
		return err_set(err, errlen, "virtio-blk: serial '%s' is longer than %d bytes",
			       serial, VIRTIO_BLK_ID_BYTES);
	uint32_t bs = be->block_size;
	if (bs < VIRTIO_BLK_SECTOR || bs > 65536 || (bs & (bs - 1)))
		return err_set(err, errlen, "virtio-blk: unsupported block size %u", bs);
	if (be->size < bs)
		return err_set(err, errlen,
			       "virtio-blk: the disk is smaller than one %u-byte block", bs);
	if (be->size % VIRTIO_BLK_SECTOR)
		log_warn("virtio-blk: the last %u bytes of the disk are not a whole sector and "
			 "are not visible to the guest", (unsigned)(be->size % VIRTIO_BLK_SECTOR));
	b->slots = calloc(VIRTIO_BLK_QUEUE_SIZE, sizeof(*b->slots));
	if (!b->slots)
		return err_set(err, errlen, "virtio-blk: out of memory");
	b->be = *be;
	memset(be, 0, sizeof(*be));
	b->in_backend = 0;
	b->kick_failed = false;
	virtio_blk_quiesce(b); /* every slot free */
	b->capacity = b->be.size / VIRTIO_BLK_SECTOR;
	memset(b->serial, 0, sizeof(b->serial));
	memcpy(b->serial, serial ? serial : "", slen);
	b->cfg = (struct virtio_blk_config){
		.capacity = htole64(b->capacity),
		.seg_max = htole32(VIRTIO_BLK_SEG_MAX),
		.blk_size = htole32(bs),
	};
	b->last_errno = 0;
	b->path = NULL;
	b->snap_other_disk = false;
	atomic_init(&b->requests, 0);
	atomic_init(&b->read_bytes, 0);
	atomic_init(&b->written_bytes, 0);
	atomic_init(&b->flushes, 0);
	atomic_init(&b->errors, 0);
	atomic_init(&b->bounce_waits, 0);
	if (b->be.ops->count_waits)
		b->be.ops->count_waits(b->be.be, &b->bounce_waits);
	atomic_init(&b->reads, 0);
	atomic_init(&b->writes, 0);
	atomic_init(&b->throttled_events, 0);
	rl_init(&b->rl, &(struct rl_config){{0, 0, 0}, {0, 0, 0}}, 0);
	b->rl_timer = (struct rl_timer){0};
	b->clock = rl_clock_ns;
	return 0;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	virtio_blk_quiesce(b);
	blk_close(&b->be);
	free(b->slots);
	b->slots = NULL;
}

/* Appended for the API's PATCH /drives/{id} (kept at the end of the file so it merges apart
 * from the request path). Under d->lock no request is being served (notify and config reads
 * hold it): requests in flight in an asynchronous backend are waited for and answered, the
 * backend takes the new file (blk_swap_file: an io_uring ring keeps its eventfd, which the I/O
 * thread watches, and its restrictions), then the old file, now idle, is flushed and closed
 * outside the lock so the guest's register accesses do not wait for the flush. */

/* Waits for one completion, then takes every other finished one; each is answered as
 * blk_reap answers them. The number answered (0: nothing came). d->lock held. */
static unsigned blk_drain_some(struct virtio_dev *d, struct virtio_blk *b)
{
	unsigned answered = 0;
	if (b->be.ops->kick)
		b->be.ops->kick(b->be.be);
	int n = b->be.ops->reap(b->be.be, b->done, 1, true);
	for (int i = 0; i < n && i < VIRTIO_BLK_QUEUE_SIZE; i++) {
		uint64_t k = b->done[i].cookie;
		if (k >= VIRTIO_BLK_QUEUE_SIZE || !b->slots[k].in_backend)
			continue;
		struct blk_slot *s = &b->slots[k];
		s->in_backend = false;
		b->in_backend--;
		if (s->next != BLK_NO_SLOT)
			blk_group_done(d, b, s, b->done[i].result);
		else
			blk_io_done(d, b, s, b->done[i].result);
		answered++;
	}
	return answered + (n > 0 ? blk_reap(d, b) : 0);
}

int virtio_blk_swap_backend(struct virtio_blk *b, struct blk_backend *be, char *err,
			    size_t errlen)
{
	if (!be || !be->ops || !be->ops->read || !be->ops->write || !be->ops->flush)
		return err_set(err, errlen, "virtio-blk: incomplete disk backend");
	if (be->completion_fd >= 0 || be->ops->submit)
		return err_set(err, errlen, "virtio-blk: the new backend must be synchronous");
	pthread_mutex_lock(&b->dev.lock);
	if (be->block_size != b->be.block_size || be->read_only != b->be.read_only) {
		pthread_mutex_unlock(&b->dev.lock);
		return err_set(err, errlen, "the new file's %s (%u bytes%s) differs from the drive's "
			       "(%u bytes%s), which the guest already negotiated",
			       be->read_only != b->be.read_only ? "access mode" : "block size",
			       be->block_size, be->read_only ? ", read-only" : "",
			       b->be.block_size, b->be.read_only ? ", read-only" : "");
	}
	if (be->size < be->block_size) {
		pthread_mutex_unlock(&b->dev.lock);
		return err_set(err, errlen, "the new file is smaller than one %u-byte block",
			       be->block_size);
	}
	/* Requests in flight finish on the old file and are answered now (in order of
	 * completion, as the I/O thread would); each answered one may have been the last. */
	while (b->in_backend > 0 && b->be.ops->reap && blk_drain_some(&b->dev, b) > 0)
		;
	blk_signal(&b->dev, b);
	if (b->in_backend > 0 || blk_swap_file(&b->be, be, err, errlen) < 0) {
		if (b->in_backend > 0)
			err_set(err, errlen, "%u requests in flight did not complete", b->in_backend);
		pthread_mutex_unlock(&b->dev.lock);
		return -1;
	}
	struct blk_backend old = *be; /* blk_swap_file handed back the previous file */
	memset(be, 0, sizeof(*be));
	b->capacity = b->be.size / VIRTIO_BLK_SECTOR;
	b->cfg.capacity = htole64(b->capacity);
	b->last_errno = 0;
	virtio_dev_config_changed(&b->dev); /* the guest re-reads capacity */
	if (b->starved && virtio_dev_running(&b->dev) && b->nfree > 0)
		blk_process(&b->dev, b); /* the drain freed slots of a queue that waited for them */
	pthread_mutex_unlock(&b->dev.lock);
	/* The old file is idle now: flush and close it without holding up the device. */
	if (!old.read_only && old.ops->flush(old.be) < 0)
		log_warn("%s: flush of the replaced backing file failed", b->dev.name);
	blk_close(&old);
	return 0;
}

/* Appended for the rate limiters (kept at the end of the file, as the swap above). */

void virtio_blk_ratelimit_init(struct virtio_blk *b, const struct rl_config *c)
{
	rl_init(&b->rl, c, b->clock());
}

void virtio_blk_ratelimit_update(struct virtio_blk *b, const struct rl_update *u)
{
	struct virtio_dev *d = &b->dev;
	pthread_mutex_lock(&d->lock);
	rl_update(&b->rl, u, b->clock());
	/* A throttled queue re-evaluates at once under the new limits (on the I/O thread). */
	if (b->throttled && d->kick)
		d->kick(d->kick_ctx, 0);
	pthread_mutex_unlock(&d->lock);
}

void virtio_blk_ratelimit_get(struct virtio_blk *b, struct rl_config *out)
{
	pthread_mutex_lock(&b->dev.lock);
	rl_get_config(&b->rl, out);
	pthread_mutex_unlock(&b->dev.lock);
}

void virtio_blk_on_timer(struct virtio_blk *b)
{
	struct virtio_dev *d = &b->dev;
	pthread_mutex_lock(&d->lock);
	rl_timer_fired(&b->rl_timer);
	if (b->throttled && virtio_dev_running(d))
		blk_process(d, b);
	pthread_mutex_unlock(&d->lock);
}
