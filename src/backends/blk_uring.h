/* The io_uring backend's ring, for tests that check what the ring refuses (the restrictions
 * blk_uring.c registers: tests/unit/test_uring_sandbox.c). Nothing else in mote needs it: the
 * device drives the ring through the blk_backend vtable only. */
#ifndef MOTE_BACKENDS_BLK_URING_H
#define MOTE_BACKENDS_BLK_URING_H

#include <liburing.h>

#include "backends/blk.h"

/* b's ring, or NULL when b is not an io_uring backend. */
struct io_uring *blk_uring_ring(const struct blk_backend *b);

#endif
