/* The io_uring backend's ring and bounce budget, for tests that check what the ring refuses (the restrictions
 * blk_uring.c registers: tests/unit/test_uring_sandbox.c). Nothing else in mote needs it: the
 * device drives the ring through the blk_backend vtable only. */
#ifndef MOTE_BACKENDS_BLK_URING_H
#define MOTE_BACKENDS_BLK_URING_H

#include <liburing.h>

#include "backends/blk.h"

/* b's ring, or NULL when b is not an io_uring backend. */
struct io_uring *blk_uring_ring(const struct blk_backend *b);

/* A disk's O_DIRECT bounce memory (bytes): the budget, held now, the most ever held; requests
 * waiting for it now, and how many ever waited. */
struct blk_bounce_stats {
	uint64_t limit, used, peak;
	unsigned waiting;
	unsigned long waits;
};

/* b's bounce statistics: 0, or -1 when b is not an io_uring backend. */
int blk_uring_bounce_stats(const struct blk_backend *b, struct blk_bounce_stats *out);

#endif
