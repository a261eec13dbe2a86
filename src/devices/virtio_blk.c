/* virtio-blk (virtio 1.2, 5.2): turns request chains into backend calls on host iovecs.
 * Each request's header is copied once and only the copy is checked and used. A chain the
 * device cannot even answer (no 16-byte header, no status byte) fails the device; a request
 * that is merely wrong (bad length, out of range, read-only, backend error) gets IOERR or
 * UNSUPP. Must not: walk rings, hand guest addresses to the backend, or abort. */
#include "devices/virtio_blk.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "core/log.h"

_Static_assert(VQ_MAX_IOV <= IOV_MAX, "a request's data iovecs fit one preadv");
_Static_assert(offsetof(struct virtio_blk_config, blk_size) == 20, "virtio 1.2, 5.2.4 layout");
_Static_assert(offsetof(struct virtio_blk_config, num_queues) + 2 == VIRTIO_BLK_CONFIG_SIZE,
	       "virtio 1.2, 5.2.4 layout");

#define BLK_FEATURES                                                                       \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |                     \
	 (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_BLK_F_SEG_MAX) |               \
	 (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH))

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
	const struct vq_chain *c;
	uint32_t type;     /* from the one copy of the header, host order */
	uint64_t sector;
	uint64_t wdata;    /* writable bytes before the status byte (the last writable byte) */
	uint64_t produced; /* writable bytes [0, produced) that the request filled */
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

/* Bytes [off, off + len) of the chain's readable or writable part as host iovecs in b->iov. */
static int chain_slice(struct virtio_blk *b, const struct vq_chain *c, bool writable,
		       uint64_t off, uint64_t len)
{
	uint32_t nr = c->nread < VQ_MAX_IOV ? c->nread : VQ_MAX_IOV;
	uint32_t nw = c->nwrite < VQ_MAX_IOV - nr ? c->nwrite : VQ_MAX_IOV - nr;

	if (writable)
		return virtio_blk_iov_slice(c->iov + nr, nw, off, len, b->iov, VQ_MAX_IOV);
	return virtio_blk_iov_slice(c->iov, nr, off, len, b->iov, VQ_MAX_IOV);
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

/* A backend result as a status; a host error is logged once per kind, not per request. */
static uint8_t backend_status(struct virtio_blk *b, int r, const char *op)
{
	if (r == 0)
		return VIRTIO_BLK_S_OK;
	if (r != b->last_errno) {
		log_warn("%s: disk %s failed: %s", b->dev.name ? b->dev.name : "virtio-blk", op,
			 strerror(-r));
		b->last_errno = r;
	}
	return VIRTIO_BLK_S_IOERR;
}

/* VIRTIO_BLK_T_IN: the data is the writable part before the status byte. */
static uint8_t blk_in(struct virtio_blk *b, struct blk_req *q)
{
	uint64_t off;

	if (!blk_range_ok(b, q->sector, q->wdata, &off))
		return VIRTIO_BLK_S_IOERR;
	int n = chain_slice(b, q->c, true, 0, q->wdata);
	if (n < 0)
		return VIRTIO_BLK_S_IOERR;
	int r = b->be.ops->read(b->be.be, off, b->iov, n);
	if (r < 0)
		return backend_status(b, r, "read");
	q->produced = q->wdata;
	atomic_fetch_add_explicit(&b->read_bytes, q->wdata, memory_order_relaxed);
	return VIRTIO_BLK_S_OK;
}

/* VIRTIO_BLK_T_OUT: the data is the readable part after the header. */
static uint8_t blk_out(struct virtio_dev *d, struct virtio_blk *b, struct blk_req *q)
{
	uint64_t len = q->c->read_bytes - VIRTIO_BLK_REQ_HDR, off;

	if (b->be.read_only)
		return VIRTIO_BLK_S_IOERR; /* 5.2.6.2: IOERR, and no data written */
	if (!blk_range_ok(b, q->sector, len, &off))
		return VIRTIO_BLK_S_IOERR;
	int n = chain_slice(b, q->c, false, VIRTIO_BLK_REQ_HDR, len);
	if (n < 0)
		return VIRTIO_BLK_S_IOERR;
	int r = b->be.ops->write(b->be.be, off, b->iov, n);
	/* FLUSH offered but not negotiated: a completed write must already be stable (5.2.6,
	 * write-through), so flush before reporting it. */
	if (r == 0 && !virtio_has_feature(d, VIRTIO_BLK_F_FLUSH))
		r = b->be.ops->flush(b->be.be);
	if (r < 0)
		return backend_status(b, r, "write");
	atomic_fetch_add_explicit(&b->written_bytes, len, memory_order_relaxed);
	return VIRTIO_BLK_S_OK;
}

/* VIRTIO_BLK_T_FLUSH: every write completed before it is on stable storage. A read-only
 * disk has nothing to flush: OK without asking the backend. */
static uint8_t blk_flush(struct virtio_blk *b)
{
	atomic_fetch_add_explicit(&b->flushes, 1, memory_order_relaxed);
	if (b->be.read_only)
		return VIRTIO_BLK_S_OK;
	return backend_status(b, b->be.ops->flush(b->be.be), "flush");
}

/* VIRTIO_BLK_T_GET_ID: the serial, zero-padded to 20 bytes, cut to the buffer. */
static uint8_t blk_get_id(struct virtio_blk *b, struct blk_req *q)
{
	size_t k = q->wdata < VIRTIO_BLK_ID_BYTES ? (size_t)q->wdata : VIRTIO_BLK_ID_BYTES;

	q->produced = vq_chain_write(q->c, 0, b->serial, k);
	return VIRTIO_BLK_S_OK;
}

/* The used length. Every writable byte before the status that the request did not fill is
 * zeroed, so the used length can honestly cover the whole writable part, status included
 * (2.7.8.2: len is a lower bound on what was written from the start). Bounded work: a gap
 * larger than the disk plus BLK_ZERO_SLACK is nonsense; it is left alone and the used
 * length then covers only what the request filled. */
static uint32_t blk_used_len(struct virtio_blk *b, const struct blk_req *q)
{
	uint64_t gap = q->wdata - q->produced;

	if (gap > b->be.size + BLK_ZERO_SLACK)
		return q->produced < UINT32_MAX ? (uint32_t)q->produced : UINT32_MAX;
	int n = chain_slice(b, q->c, true, q->produced, gap);
	for (int i = 0; i < n; i++)
		memset(b->iov[i].iov_base, 0, b->iov[i].iov_len);
	return q->wdata < UINT32_MAX - 1 ? (uint32_t)(q->wdata + 1) : UINT32_MAX;
}

static uint8_t blk_dispatch(struct virtio_dev *d, struct virtio_blk *b, struct blk_req *q)
{
	switch (q->type) {
	case VIRTIO_BLK_T_IN:
		return blk_in(b, q);
	case VIRTIO_BLK_T_OUT:
		return blk_out(d, b, q);
	case VIRTIO_BLK_T_FLUSH:
		return blk_flush(b);
	case VIRTIO_BLK_T_GET_ID:
		return blk_get_id(b, q);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* Serves one chain and pushes it. Returns -1 after failing the device. */
static int blk_request(struct virtio_dev *d, struct virtio_blk *b, const struct vq_chain *c)
{
	struct blk_req_hdr h;
	struct blk_req q = { .c = c };

	/* Without a header or a status byte the device cannot even answer: malformed chain. */
	if (vq_chain_read(c, 0, &h, sizeof(h)) < sizeof(h)) {
		virtio_dev_fail(d, "request header shorter than 16 bytes");
		return -1;
	}
	if (c->write_bytes == 0) {
		virtio_dev_fail(d, "request has no device-writable status byte");
		return -1;
	}
	q.type = le32toh(h.type);
	q.sector = le64toh(h.sector);
	q.wdata = c->write_bytes - 1;
	uint8_t status = blk_dispatch(d, b, &q);
	uint32_t used = blk_used_len(b, &q);
	vq_chain_write(c, q.wdata, &status, 1);
	atomic_fetch_add_explicit(&b->requests, 1, memory_order_relaxed);
	if (status != VIRTIO_BLK_S_OK)
		atomic_fetch_add_explicit(&b->errors, 1, memory_order_relaxed);
	if (vq_push(&d->vq[0], c->head, used) < 0) {
		virtio_dev_fail(d, d->vq[0].why);
		return -1;
	}
	return 0;
}

static int blk_serve(struct virtio_dev *d, struct vq_chain *c)
{
	return blk_request(d, d->priv, c);
}

static void blk_notify(struct virtio_dev *d, uint16_t q)
{
	struct virtio_blk *b = d->priv;

	if (q == 0)
		virtio_dev_drain(d, 0, &b->chain, blk_serve);
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

const struct virtio_dev_ops virtio_blk_ops = {
	.kind = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.features = BLK_FEATURES,
	.num_queues = 1,
	.queue_max_size = VIRTIO_BLK_QUEUE_SIZE,
	.config_size = VIRTIO_BLK_CONFIG_SIZE,
	.config_read = blk_config_read,
	.notify = blk_notify,
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
	b->be = *be;
	memset(be, 0, sizeof(*be));
	b->capacity = b->be.size / VIRTIO_BLK_SECTOR;
	memset(b->serial, 0, sizeof(b->serial));
	memcpy(b->serial, serial ? serial : "", slen);
	b->cfg = (struct virtio_blk_config){
		.capacity = htole64(b->capacity),
		.seg_max = htole32(VIRTIO_BLK_SEG_MAX),
		.blk_size = htole32(bs),
	};
	b->last_errno = 0;
	atomic_init(&b->requests, 0);
	atomic_init(&b->read_bytes, 0);
	atomic_init(&b->written_bytes, 0);
	atomic_init(&b->flushes, 0);
	atomic_init(&b->errors, 0);
	return 0;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	blk_close(&b->be);
}

/* Appended for the API's PATCH /drives/{id} (kept at the end of the file so it merges apart
 * from the request path). Under d->lock no request is being served (notify and config reads
 * hold it): install the new backend there, then flush and close the old, now idle, one
 * outside the lock so the guest's register accesses do not wait for the flush. */
int virtio_blk_swap_backend(struct virtio_blk *b, struct blk_backend *be, char *err,
			    size_t errlen)
{
	if (!be || !be->ops || !be->ops->read || !be->ops->write || !be->ops->flush)
		return err_set(err, errlen, "virtio-blk: incomplete disk backend");
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
	struct blk_backend old = b->be;
	b->be = *be;
	memset(be, 0, sizeof(*be));
	b->capacity = b->be.size / VIRTIO_BLK_SECTOR;
	b->cfg.capacity = htole64(b->capacity);
	b->last_errno = 0;
	virtio_dev_config_changed(&b->dev); /* the guest re-reads capacity */
	pthread_mutex_unlock(&b->dev.lock);
	/* The old backend is idle now: flush and close it without holding up the device. */
	if (!old.read_only && old.ops->flush(old.be) < 0)
		log_warn("%s: flush of the replaced backing file failed", b->dev.name);
	blk_close(&old);
	return 0;
}
