/* Bounce buffers for O_DIRECT: the kernel refuses direct I/O on buffers whose address or
 * length is not a multiple of the device's alignment, but a guest may hand any buffers (a
 * request split at odd byte counts across descriptors). The backends then go through one
 * aligned buffer: gathered before a write, scattered after a read. Host memory only. */
#ifndef MOTE_BACKENDS_BLK_BOUNCE_H
#define MOTE_BACKENDS_BLK_BOUNCE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/* Whether every buffer of iov[0..n) starts and ends on a multiple of align (a power of two). */
static inline bool blk_iov_aligned(const struct iovec *iov, int n, uint32_t align)
{
	uintptr_t bits = 0;

	for (int i = 0; i < n; i++)
		bits |= (uintptr_t)iov[i].iov_base | (uintptr_t)iov[i].iov_len;
	return (bits & (align - 1)) == 0;
}

/* An aligned buffer of total bytes (rounded up to align), or NULL. Free with free(). */
static inline void *blk_bounce_alloc(uint64_t total, uint32_t align)
{
	void *p = NULL;
	uint64_t size = (total + align - 1) & ~(uint64_t)(align - 1);

	if (size == 0 || size > SIZE_MAX || posix_memalign(&p, align, (size_t)size) != 0)
		return NULL;
	return p;
}

/* A bounce buffer is at most this big: a larger request goes through it in pieces (a guest
 * may describe a request as large as the disk, with buffers that overlap in its RAM). */
#define BLK_BOUNCE_MAX (4u << 20)

/* The bounce memory one disk may hold at once for requests in flight (io_uring backend): an
 * unaligned request beyond it waits until completions give memory back, so a guest cannot
 * make mote allocate more than this per disk from a few descriptors (docs/security.md). At
 * least BLK_BOUNCE_MAX: a request that waits always fits once nothing else holds memory. */
#define BLK_BOUNCE_BUDGET (8u << 20)
_Static_assert(BLK_BOUNCE_BUDGET >= BLK_BOUNCE_MAX, "a waiting request fits an empty budget");

/* A disk's bounce-memory account: bytes held now, the most ever held, the limit. One thread
 * at a time (the one driving the backend). */
struct blk_bounce_budget {
	uint64_t limit, used, peak;
};

/* Takes bytes from the budget: true, or false (nothing taken) when they do not fit now. */
static inline bool blk_bounce_reserve(struct blk_bounce_budget *b, uint64_t bytes)
{
	if (b->used > b->limit || bytes > b->limit - b->used)
		return false;
	b->used += bytes;
	if (b->used > b->peak)
		b->peak = b->used;
	return true;
}

/* Gives back bytes an earlier blk_bounce_reserve took. */
static inline void blk_bounce_release(struct blk_bounce_budget *b, uint64_t bytes)
{
	b->used = bytes > b->used ? 0 : b->used - bytes;
}

/* The bytes a bounce buffer for total bytes takes (blk_bounce_alloc rounds up to align). */
static inline uint64_t blk_bounce_size(uint64_t total, uint32_t align)
{
	return (total + align - 1) & ~(uint64_t)(align - 1);
}

/* Bytes [pos, pos + len) of the iovec list to (to_buf) or from the flat buffer b. The
 * caller guarantees the list holds pos + len bytes. */
static inline void blk_bounce_copy(void *b, const struct iovec *iov, int n, uint64_t pos,
				   size_t len, bool to_buf)
{
	uint8_t *p = b;

	for (int i = 0; i < n && len > 0; i++) {
		if (pos >= iov[i].iov_len) {
			pos -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - (size_t)pos < len ? iov[i].iov_len - (size_t)pos : len;
		uint8_t *v = (uint8_t *)iov[i].iov_base + pos;
		if (to_buf)
			memcpy(p, v, k);
		else
			memcpy(v, p, k);
		p += k;
		len -= k;
		pos = 0;
	}
}

/* Copies between the iovecs and the flat buffer b, in iovec order. */
static inline void blk_bounce_gather(void *b, const struct iovec *iov, int n)
{
	uint8_t *p = b;

	for (int i = 0; i < n; i++) {
		if (iov[i].iov_len)
			memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
}

static inline void blk_bounce_scatter(const void *b, const struct iovec *iov, int n)
{
	const uint8_t *p = b;

	for (int i = 0; i < n; i++) {
		if (iov[i].iov_len)
			memcpy(iov[i].iov_base, p, iov[i].iov_len);
		p += iov[i].iov_len;
	}
}

#endif
