/* The io_uring backend: the file backend's disk (open, lock, size, block size come from
 * blk_file_open) with asynchronous readv/writev/fsync through one io_uring per disk.
 * Owns: the ring, its completion eventfd, the table of requests in flight (a request's slot
 * index is the SQE's user_data), the disk's bounce-memory budget and the queue of requests
 * waiting for it (O_DIRECT, unaligned buffers). Must not: know guest memory or virtio (host iovecs and byte
 * offsets only), or abort: every failure is a -errno completion or a refused submit. */
#include "backends/blk.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backends/blk_bounce.h"
#include "backends/blk_uring.h"
#include "core/log.h"

#define URING_MAX_DEPTH 4096u
/* The ring's fixed file table holds the disk's fd alone, at this index (IOSQE_FIXED_FILE). */
#define URING_DISK_FILE 0

struct uring_req {
	bool busy;
	enum blk_op op;
	uint64_t off;
	const struct iovec *iov;
	int iovcnt;
	uint64_t total;  /* bytes of a read or write */
	uint64_t done;   /* bytes of it the kernel did in earlier, short completions */
	struct iovec *rest; /* the iovecs of the part after done (a short transfer resubmitted) */
	uint64_t cookie;
	/* O_DIRECT with unaligned buffers: the ring sees bounce_iov; the caller's iovecs are
	 * user_iov (gathered before a write, scattered after a read). */
	void *bounce;
	struct iovec bounce_iov;
	const struct iovec *user_iov;
	int user_iovcnt;
	uint64_t bounce_size; /* bytes of the disk's bounce budget this request holds (or will) */
	bool parked;          /* waiting in the queue for bounce memory; no SQE yet */
	unsigned next;        /* the next parked slot (when parked) */
	int err;              /* non-zero: a parked request that could not start; its NOP
				 completes it with this -errno */
};

struct blk_uring {
	struct blk_backend file; /* the synchronous backend on the same fd (and its lock) */
	int fd;
	uint64_t size;
	bool read_only;
	struct io_uring ring;
	int efd;
	bool direct;
	uint32_t dio_align; /* O_DIRECT buffer alignment (the block size) */
	bool nowait_read, nowait_write; /* RWF_NOWAIT tried first (cleared on EOPNOTSUPP) */
	unsigned depth, inflight;
	unsigned nfree;
	unsigned *free;          /* stack of free slot indexes, nfree of them */
	struct uring_req *reqs;  /* depth slots */
	/* O_DIRECT bounce memory (docs/security.md, "bounce-buffer budget"): what requests in
	 * the ring hold, and the FIFO of requests (counted in inflight) that wait for it. While
	 * the FIFO is not empty every new request joins it, so requests start in the order they
	 * were submitted (a FLUSH never overtakes a write before it). A request waits only while
	 * another holds bounce memory, so a completion always comes to start it. */
	struct blk_bounce_budget budget;
	unsigned park_head, park_tail, nparked;
	atomic_ulong own_waits;
	atomic_ulong *waits;     /* requests that waited: own_waits, or the device's counter */
};

/* Bytes in iov[0..n), or -EINVAL when the count or the sum is out of range. */
static int64_t uring_iov_total(const struct iovec *iov, int n)
{
	uint64_t total = 0;

	if (n < 0 || n > IOV_MAX || (n > 0 && !iov))
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		if (iov[i].iov_len > (uint64_t)INT64_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	return (int64_t)total;
}

static int uring_read(void *be, uint64_t off, const struct iovec *iov, int iovcnt)
{
	struct blk_uring *u = be;
	return u->file.ops->read(u->file.be, off, iov, iovcnt);
}

static int uring_write(void *be, uint64_t off, const struct iovec *iov, int iovcnt)
{
	struct blk_uring *u = be;
	return u->file.ops->write(u->file.be, off, iov, iovcnt);
}

static int uring_flush(void *be)
{
	struct blk_uring *u = be;
	return u->file.ops->flush(u->file.be);
}

/* Checks a request the way the synchronous calls would: -errno, or 0 with *total set. */
static int uring_check(const struct blk_uring *u, const struct blk_io *io, uint64_t *total)
{
	*total = 0;
	if (io->op == BLK_OP_FLUSH)
		return 0;
	if (io->op != BLK_OP_READ && io->op != BLK_OP_WRITE)
		return -EINVAL;
	int64_t t = uring_iov_total(io->iov, io->iovcnt);
	if (t < 0)
		return (int)t;
	if (io->op == BLK_OP_WRITE && u->read_only)
		return -EROFS;
	if (io->off > u->size || (uint64_t)t > u->size - io->off)
		return -EIO;
	*total = (uint64_t)t;
	return 0;
}

/* The page-cache fast path, for a disk without O_DIRECT: a read is tried at once without
 * blocking (RWF_NOWAIT): done when the data was cached, else it goes to the ring (a read done
 * in part is simply redone there in full). A write is tried the same way where the
 * filesystem supports RWF_NOWAIT writes; where it does not (ext4 here: EOPNOTSUPP), io_uring
 * would hand every buffered write to a worker thread, measured 2-3x slower than a plain
 * pwritev into the page cache, so the write is done right here. Returns 1 (done), 0 (to the
 * ring) or -errno (a synchronous write failed). */
static int uring_try_now(struct blk_uring *u, const struct blk_io *io, uint64_t total)
{
	bool rd = io->op == BLK_OP_READ;

	if (u->direct || total == 0 || io->op == BLK_OP_FLUSH)
		return 0;
	if (!rd && !u->nowait_write) {
		int r = u->file.ops->write(u->file.be, io->off, io->iov, io->iovcnt);
		return r < 0 ? r : 1;
	}
	if (rd && !u->nowait_read)
		return 0;
	ssize_t n = rd ? preadv2(u->fd, io->iov, io->iovcnt, (off_t)io->off, RWF_NOWAIT)
		       : pwritev2(u->fd, io->iov, io->iovcnt, (off_t)io->off, RWF_NOWAIT);
	if (n < 0 && errno == EOPNOTSUPP) {
		if (rd)
			u->nowait_read = false;
		else
			u->nowait_write = false;
		return rd ? 0 : uring_try_now(u, io, total);
	}
	return n >= 0 && (uint64_t)n == total;
}

/* q's SQE (slot idx): its operation on its iovecs, or a NOP for an empty transfer and for a
 * request that could not start (q->err). The SQ always has room for a slot without an SQE
 * (it holds depth entries, a slot at most one); the retry is only defensive. */
static int uring_prep(struct blk_uring *u, struct uring_req *q, unsigned idx)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	if (!sqe) { /* the SQ holds unsubmitted entries: hand them over, then retry once */
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
		if (!sqe)
			return -EAGAIN;
	}
	if (q->err != 0 || (q->op != BLK_OP_FLUSH && q->total == 0)) {
		io_uring_prep_nop(sqe);
	} else if (q->op == BLK_OP_FLUSH) {
		/* DRAIN: starts after everything submitted before it completed (virtio: a flush
		 * covers every write completed before it), and holds back what follows. */
		io_uring_prep_fsync(sqe, URING_DISK_FILE, IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_IO_DRAIN;
	} else if (q->op == BLK_OP_READ) {
		io_uring_prep_readv(sqe, URING_DISK_FILE, q->iov, (unsigned)q->iovcnt, q->off);
	} else {
		io_uring_prep_writev(sqe, URING_DISK_FILE, q->iov, (unsigned)q->iovcnt, q->off);
	}
	sqe->flags |= IOSQE_FIXED_FILE; /* the restrictions require it, NOP included */
	io_uring_sqe_set_data64(sqe, idx);
	return 0;
}

/* Starts q (its bounce memory already reserved when it needs some): the bounce buffer
 * (gathered for a write), then the SQE. 0, or -errno with nothing started. */
static int uring_start(struct blk_uring *u, struct uring_req *q, unsigned idx)
{
	if (q->bounce_size > 0) {
		void *bounce = blk_bounce_alloc(q->total, u->dio_align);
		if (!bounce)
			return -ENOMEM;
		if (q->op == BLK_OP_WRITE)
			blk_bounce_gather(bounce, q->user_iov, q->user_iovcnt);
		q->bounce = bounce;
		q->bounce_iov = (struct iovec){ .iov_base = bounce, .iov_len = (size_t)q->total };
		q->iov = &q->bounce_iov;
		q->iovcnt = 1;
	}
	int r = uring_prep(u, q, idx);
	if (r < 0 && q->bounce) {
		free(q->bounce);
		q->bounce = NULL;
		q->iov = q->user_iov;
		q->iovcnt = q->user_iovcnt;
	}
	return r;
}

/* Parks slot idx at the end of the FIFO of requests waiting for bounce memory. */
static void uring_park(struct blk_uring *u, unsigned idx)
{
	u->reqs[idx].parked = true;
	if (u->nparked++ == 0)
		u->park_head = idx;
	else
		u->reqs[u->park_tail].next = idx;
	u->park_tail = idx;
	atomic_fetch_add_explicit(u->waits, 1, memory_order_relaxed);
}

/* Starts the waiting requests, in order, while their bounce memory fits, and hands them to
 * the kernel at once (a reaper may be waiting for them in io_uring_wait_cqe). One that
 * cannot start (no memory for its buffer) completes with -ENOMEM through a NOP. Called by
 * whichever thread reaps; makes no system call but io_uring_enter (and malloc's). */
static void uring_resume(struct blk_uring *u)
{
	unsigned started = 0;

	while (u->nparked > 0) {
		unsigned idx = u->park_head;
		struct uring_req *q = &u->reqs[idx];
		if (q->bounce_size > 0 && !blk_bounce_reserve(&u->budget, q->bounce_size))
			break; /* another holds memory: its completion comes back here */
		u->park_head = q->next;
		u->nparked--;
		q->parked = false;
		int r = uring_start(u, q, idx);
		if (r < 0) {
			blk_bounce_release(&u->budget, q->bounce_size);
			q->bounce_size = 0;
			q->err = r;
			uring_prep(u, q, idx); /* a NOP: cannot fail, this slot has no SQE */
		}
		started++;
	}
	int r;
	do
		r = started ? io_uring_submit(&u->ring) : 0;
	while (r == -EINTR); /* -EAGAIN/-EBUSY: they stay queued, the next kick or reap retries */
}

static int uring_submit(void *be, const struct blk_io *io)
{
	struct blk_uring *u = be;
	uint64_t total;
	int r = uring_check(u, io, &total);

	if (r < 0)
		return r;
	r = uring_try_now(u, io, total);
	if (r != 0)
		return r;
	if (u->nfree == 0)
		return -EAGAIN;
	bool bounce = u->direct && total > 0 && !blk_iov_aligned(io->iov, io->iovcnt, u->dio_align);
	if (bounce && total > BLK_BOUNCE_MAX) { /* rare and large: in pieces, synchronously */
		r = io->op == BLK_OP_READ
			    ? u->file.ops->read(u->file.be, io->off, io->iov, io->iovcnt)
			    : u->file.ops->write(u->file.be, io->off, io->iov, io->iovcnt);
		return r < 0 ? r : 1;
	}
	unsigned idx = u->free[u->nfree - 1];
	struct uring_req *q = &u->reqs[idx];
	*q = (struct uring_req){ .busy = true, .op = io->op, .off = io->off, .iov = io->iov,
				 .iovcnt = io->iovcnt, .total = total, .cookie = io->cookie,
				 .user_iov = io->iov, .user_iovcnt = io->iovcnt,
				 .bounce_size = bounce ? blk_bounce_size(total, u->dio_align) : 0 };
	if (u->nparked > 0 || (bounce && !blk_bounce_reserve(&u->budget, q->bounce_size))) {
		u->nfree--;
		u->inflight++;
		uring_park(u, idx); /* started by the completion that gives memory back */
		return 0;
	}
	r = uring_start(u, q, idx);
	if (r < 0) {
		blk_bounce_release(&u->budget, q->bounce_size);
		q->busy = false;
		return r;
	}
	u->nfree--;
	u->inflight++;
	return 0;
}

/* Requests the kernel finishes during io_uring_enter (page-cache hits) are reaped by the
 * caller right after the kick, so the eventfd is muted meanwhile (a flag in the shared ring,
 * no syscall): otherwise every batch would wake the I/O thread once more for nothing.
 * Whatever completes after it is unmuted signals as usual. */
static int uring_kick(void *be)
{
	struct blk_uring *u = be;
	int ret = 0;

	io_uring_cq_eventfd_toggle(&u->ring, false);
	while (io_uring_sq_ready(&u->ring) > 0) {
		int r = io_uring_submit(&u->ring);
		if (r == -EINTR)
			continue;
		if (r < 0) {
			ret = r; /* -EAGAIN/-EBUSY: the entries stay queued; the next kick retries */
			break;
		}
		if (r == 0)
			break;
	}
	io_uring_cq_eventfd_toggle(&u->ring, true);
	return ret;
}

/* The part of q's transfer after its first q->done bytes, as iovecs in q->rest (allocated
 * at the first short completion, q->iovcnt entries at most). The count, or -ENOMEM. */
static int uring_rest(struct uring_req *q)
{
	uint64_t skip = q->done;
	int n = 0;

	if (!q->rest)
		q->rest = malloc((size_t)q->iovcnt * sizeof(*q->rest));
	if (!q->rest)
		return -ENOMEM;
	for (int i = 0; i < q->iovcnt; i++) {
		const struct iovec *v = &q->iov[i];
		if (skip >= v->iov_len) {
			skip -= v->iov_len;
			continue;
		}
		q->rest[n++] = (struct iovec){ .iov_base = (uint8_t *)v->iov_base + skip,
					       .iov_len = v->iov_len - skip };
		skip = 0;
	}
	return n;
}

/* A read or write the kernel did only partly (q->done of q->total bytes so far): the rest goes
 * back through the ring under the same slot, so whichever thread reaps (the I/O thread, a vCPU
 * thread resetting the device, the main thread at exit) makes no other system call than
 * io_uring_enter (docs/security.md, "short completions on reset"). 0 (resubmitted, no
 * completion yet) or -errno (the request completes with it). */
static int uring_resubmit(struct blk_uring *u, struct uring_req *q, unsigned idx)
{
	int n = uring_rest(q);

	if (n <= 0)
		return n < 0 ? n : -EIO;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	if (!sqe) { /* cannot stay full: this slot's entry left the SQ when it completed */
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
		if (!sqe)
			return -EIO;
	}
	if (q->op == BLK_OP_READ)
		io_uring_prep_readv(sqe, URING_DISK_FILE, q->rest, (unsigned)n, q->off + q->done);
	else
		io_uring_prep_writev(sqe, URING_DISK_FILE, q->rest, (unsigned)n, q->off + q->done);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, idx);
	int r;
	do /* now: a reaper waiting in io_uring_wait_cqe must find it in the kernel */
		r = io_uring_submit(&u->ring);
	while (r == -EINTR);
	return r < 0 && r != -EAGAIN && r != -EBUSY ? r : 0; /* busy: the next kick retries */
}

/* One CQE as a completion; false for a CQE that names no request in flight (ignored) and for
 * a short transfer resubmitted (its completion comes later). */
static bool uring_complete(struct blk_uring *u, const struct io_uring_cqe *cqe,
			   struct blk_completion *out)
{
	uint64_t idx = io_uring_cqe_get_data64(cqe);

	if (idx >= u->depth || !u->reqs[idx].busy)
		return false;
	struct uring_req *q = &u->reqs[idx];
	int r = cqe->res;

	if (q->parked)
		return false; /* no SQE of its own yet: a stray CQE */
	if (q->err != 0) {
		r = q->err;
	} else if (r > 0 && q->op != BLK_OP_FLUSH && (uint64_t)r < q->total - q->done) {
		q->done += (uint64_t)r;
		r = uring_resubmit(u, q, (unsigned)idx);
		if (r == 0)
			return false;
	} else if (r == 0 && q->op != BLK_OP_FLUSH && q->done < q->total) {
		r = -EIO; /* end of file: the image shrank under us */
	} else if (r > 0) {
		r = 0;
	}
	if (q->bounce) {
		if (r == 0 && q->op == BLK_OP_READ)
			blk_bounce_scatter(q->bounce, q->user_iov, q->user_iovcnt);
		free(q->bounce);
		q->bounce = NULL;
	}
	free(q->rest);
	q->rest = NULL;
	*out = (struct blk_completion){ .cookie = q->cookie, .result = r };
	q->busy = false;
	u->free[u->nfree++] = (unsigned)idx;
	u->inflight--;
	if (q->bounce_size > 0) {
		blk_bounce_release(&u->budget, q->bounce_size);
		q->bounce_size = 0;
		uring_resume(u);
	}
	return true;
}

static int uring_reap(void *be, struct blk_completion *out, int max, bool wait)
{
	struct blk_uring *u = be;
	int n = 0;

	while (n < max) {
		struct io_uring_cqe *cqe = NULL;
		int r;
		if (wait && n == 0 && u->inflight > 0) {
			if (io_uring_sq_ready(&u->ring) > 0)
				uring_kick(u);
			r = io_uring_wait_cqe(&u->ring, &cqe);
			if (r == -EINTR)
				continue;
		} else {
			r = io_uring_peek_cqe(&u->ring, &cqe);
		}
		if (r < 0 || !cqe)
			break;
		if (uring_complete(u, cqe, &out[n]))
			n++;
		io_uring_cqe_seen(&u->ring, cqe);
	}
	return n;
}

static void uring_close(void *be)
{
	struct blk_uring *u = be;

	if (!u)
		return;
	/* Nothing may still write into buffers after close: wait for what is in flight. */
	struct blk_completion c;
	while (u->inflight > 0 && uring_reap(u, &c, 1, true) == 1)
		;
	/* The kernel frees a closed ring later, asynchronously, and its file table with it: the
	 * image (and its flock) would stay held for a while after mote let go of it. */
	io_uring_unregister_files(&u->ring);
	io_uring_queue_exit(&u->ring);
	close(u->efd);
	blk_close(&u->file);
	free(u->free);
	free(u->reqs);
	free(u);
}

static void uring_count_waits(void *be, atomic_ulong *counter)
{
	struct blk_uring *u = be;
	u->waits = counter ? counter : &u->own_waits;
}

static const struct blk_backend_ops blk_uring_ops = {
	.read = uring_read,
	.write = uring_write,
	.flush = uring_flush,
	.close = uring_close,
	.submit = uring_submit,
	.kick = uring_kick,
	.reap = uring_reap,
	.count_waits = uring_count_waits,
};

/* What a restricted ring may do once enabled (the seccomp lists cannot see SQEs: without this,
 * any thread that may call io_uring_enter could open files or sockets through the ring,
 * docs/security.md). Only the opcodes uring_submit and uring_resubmit issue; every SQE must
 * name a registered file (the disk, the only one) with IOSQE_FIXED_FILE; IOSQE_IO_DRAIN is the
 * one other flag (flush ordering). Two register operations after enabling: the files'
 * unregistration at close and the update of the disk's slot by a drive swap (the eventfd and
 * the file are registered before). */
static const struct io_uring_restriction uring_restrictions[] = {
	{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV },
	{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
	{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC },
	{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_NOP },
	{ .opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = IOSQE_FIXED_FILE },
	{ .opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = IOSQE_IO_DRAIN },
	{ .opcode = IORING_RESTRICTION_REGISTER_OP, .register_op = IORING_UNREGISTER_FILES },
	/* PATCH /drives (blk_swap_file): the new disk's fd replaces the old in the one slot.
	 * It can install only an fd mote holds, and threads that may call io_uring_register
	 * could read and write such an fd directly anyway; the SQE restrictions stay. */
	{ .opcode = IORING_RESTRICTION_REGISTER_OP, .register_op = IORING_REGISTER_FILES_UPDATE },
};

/* The disk as the ring's one fixed file, the restrictions, then the ring enabled. 0, or the
 * failing step's -errno (the ring then stays disabled: it runs nothing). */
static int uring_restrict(struct blk_uring *u, const char **step)
{
	struct io_uring_restriction res[sizeof(uring_restrictions) / sizeof(uring_restrictions[0])];
	int r;

	memcpy(res, uring_restrictions, sizeof(res)); /* liburing's prototype is not const */
	*step = "file registration";
	r = io_uring_register_files(&u->ring, &u->fd, 1);
	if (r < 0)
		return r;
	*step = "restriction";
	r = io_uring_register_restrictions(&u->ring, res, sizeof(res) / sizeof(res[0]));
	if (r < 0)
		return r;
	*step = "enabling";
	return io_uring_enable_rings(&u->ring);
}

/* The ring (created disabled, restricted, then enabled) and its eventfd. 0, or -2 (io_uring
 * refused, or it cannot be restricted: never an unrestricted ring) / -1 with a reason in err. */
static int uring_setup(struct blk_uring *u, const char *path, char *err, size_t errlen)
{
	struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED };
	int r = io_uring_queue_init_params(u->depth, &u->ring, &p);
	const char *step = "";

	if (r == -EINVAL) {
		err_set(err, errlen, "%s: io_uring cannot be restricted on this host (Linux 5.10 or "
			"later needed)", path);
		return -2;
	}
	if (r < 0) {
		err_set(err, errlen, "%s: io_uring is not available on this host: %s", path,
			strerror(-r));
		return -2;
	}
	u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->efd < 0) {
		err_set(err, errlen, "%s: eventfd: %s", path, strerror(errno));
		io_uring_queue_exit(&u->ring);
		return -1;
	}
	r = io_uring_register_eventfd(&u->ring, u->efd);
	if (r < 0) {
		err_set(err, errlen, "%s: io_uring eventfd registration refused: %s", path,
			strerror(-r));
		close(u->efd);
		io_uring_queue_exit(&u->ring);
		return -2;
	}
	r = uring_restrict(u, &step);
	if (r < 0) {
		err_set(err, errlen, "%s: io_uring cannot be restricted on this host (%s: %s)", path,
			step, strerror(-r));
		close(u->efd);
		io_uring_queue_exit(&u->ring);
		return -2;
	}
	return 0;
}

int blk_uring_open(const char *path, bool ro, bool direct, unsigned depth, struct blk_backend *out,
		   char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->completion_fd = -1;
	if (depth == 0 || depth > URING_MAX_DEPTH)
		return err_set(err, errlen, "%s: io_uring depth %u is not in 1..%u", path, depth,
			       URING_MAX_DEPTH);
	struct blk_uring *u = calloc(1, sizeof(*u));
	if (u)
		u->reqs = calloc(depth, sizeof(*u->reqs));
	if (u)
		u->free = calloc(depth, sizeof(*u->free));
	if (!u || !u->reqs || !u->free) {
		if (u) {
			free(u->reqs);
			free(u->free);
		}
		free(u);
		return err_set(err, errlen, "%s: out of memory", path);
	}
	if (blk_file_open(path, ro, direct, &u->file, err, errlen) < 0)
		goto fail;
	u->fd = blk_file_fd(&u->file);
	u->size = u->file.size;
	u->read_only = ro;
	u->direct = direct;
	u->dio_align = u->file.block_size;
	u->nowait_read = u->nowait_write = true;
	u->depth = depth;
	u->budget = (struct blk_bounce_budget){ .limit = BLK_BOUNCE_BUDGET };
	atomic_init(&u->own_waits, 0);
	u->waits = &u->own_waits;
	for (unsigned i = 0; i < depth; i++)
		u->free[i] = depth - 1 - i;
	u->nfree = depth;
	int r = uring_setup(u, path, err, errlen);
	if (r < 0) {
		blk_close(&u->file);
		free(u->reqs);
		free(u->free);
		free(u);
		return r;
	}
	*out = (struct blk_backend){ .ops = &blk_uring_ops, .be = u, .size = u->size,
				     .block_size = u->file.block_size, .read_only = ro,
				     .completion_fd = u->efd, .depth = depth };
	return 0;
fail:
	free(u->reqs);
	free(u->free);
	free(u);
	return -1;
}

struct io_uring *blk_uring_ring(const struct blk_backend *b)
{
	if (!b || b->ops != &blk_uring_ops || !b->be)
		return NULL;
	return &((struct blk_uring *)b->be)->ring;
}

int blk_open(const char *path, bool ro, bool direct, enum blk_io_mode mode, unsigned depth,
	     bool *no_uring, struct blk_backend *out, char *err, size_t errlen)
{
	if (mode == BLK_IO_SYNC || (mode == BLK_IO_AUTO && *no_uring))
		return blk_file_open(path, ro, direct, out, err, errlen);
	int r = blk_uring_open(path, ro, direct, depth, out, err, errlen);
	if (r != -2)
		return r;
	if (mode == BLK_IO_URING) {
		size_t n = strlen(err);
		if (n < errlen)
			snprintf(err + n, errlen - n, "; use io=sync");
		return -1;
	}
	log_info("%s; disks use preadv/pwritev (io=sync)", err);
	*no_uring = true;
	return blk_file_open(path, ro, direct, out, err, errlen);
}

int blk_uring_bounce_stats(const struct blk_backend *b, struct blk_bounce_stats *out)
{
	if (!b || b->ops != &blk_uring_ops || !b->be)
		return -1;
	const struct blk_uring *u = b->be;
	*out = (struct blk_bounce_stats){ .limit = u->budget.limit, .used = u->budget.used,
					  .peak = u->budget.peak, .waiting = u->nparked,
					  .waits = atomic_load_explicit(u->waits,
									memory_order_relaxed) };
	return 0;
}

/* Appended for PATCH /drives (blk.h). */
int blk_swap_file(struct blk_backend *b, struct blk_backend *file, char *err, size_t errlen)
{
	if (!file->ops || file->ops->submit || file->completion_fd >= 0)
		return err_set(err, errlen, "the new disk backend must be synchronous");
	if (b->ops != &blk_uring_ops) {
		if (!b->ops || b->ops->submit || b->completion_fd >= 0)
			return err_set(err, errlen, "the drive's asynchronous backend cannot change "
				       "its file");
		struct blk_backend old = *b;
		*b = *file;
		*file = old;
		return 0;
	}
	struct blk_uring *u = b->be;
	int fd = blk_file_fd(file);
	if (fd < 0)
		return err_set(err, errlen, "an io_uring drive can only take a disk file");
	if (u->inflight > 0) /* the requests waiting for bounce memory are counted in */
		return err_set(err, errlen, "%u requests are still in flight", u->inflight);
	int r = io_uring_register_files_update(&u->ring, URING_DISK_FILE, &fd, 1);
	if (r < 0)
		return err_set(err, errlen, "io_uring refused the new file: %s", strerror(-r));
	struct blk_backend old = u->file;
	u->file = *file;
	*file = old;
	u->fd = fd;
	u->size = u->file.size;
	u->dio_align = u->file.block_size;
	u->nowait_read = u->nowait_write = true; /* another filesystem may differ */
	b->size = u->size;
	b->block_size = u->file.block_size;
	return 0;
}

/* Appended for snapshots (a disk's identity is checked through its open fd). */
int blk_backend_fd(const struct blk_backend *b)
{
	if (b && b->ops == &blk_uring_ops && b->be)
		return ((const struct blk_uring *)b->be)->fd;
	return blk_file_fd(b);
}
