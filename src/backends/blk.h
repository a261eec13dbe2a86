/* Block backends: the host side of a disk, behind one small vtable.
 * Owns: the vtable contract and the constructors of the file (preadv/pwritev) and io_uring
 * backends.
 * Must not: include or know anything of guest memory, virtio, devices or KVM. A backend sees
 * only host iovecs, byte offsets and lengths, so it can be tested alone and later moved into
 * another process. Errors come back as -errno; a backend never aborts. */
#ifndef MOTE_BACKENDS_BLK_H
#define MOTE_BACKENDS_BLK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* One asynchronous request. The iovec array and the buffers it names must stay valid and
 * unchanged until the request's completion has been reaped. */
enum blk_op { BLK_OP_READ, BLK_OP_WRITE, BLK_OP_FLUSH };
struct blk_io {
	enum blk_op op;
	uint64_t off;             /* bytes; unused for FLUSH */
	const struct iovec *iov;  /* unused for FLUSH */
	int iovcnt;
	uint64_t cookie;          /* the caller's, handed back in the completion */
};
struct blk_completion {
	uint64_t cookie;
	int result;               /* 0, or -errno with the same meaning as the synchronous calls */
};

/* Every call returns 0 on success or a negative errno (-EIO, -ENOSPC, -EROFS, -EINVAL ...).
 * read/write transfer the whole iovec list at byte offset off or fail: a short transfer that
 * cannot be completed (end of file) is -EIO. [off, off + total) must lie inside size, else
 * -EIO without touching the disk. iovcnt is 0..IOV_MAX (1024); iovecs may have length 0.
 * Not thread-safe per backend: one thread at a time drives it (the device calls it with its
 * lock held).
 *
 * The asynchronous calls are optional (NULL in a synchronous backend; the device then runs
 * read/write/flush and completes at once). A FLUSH submitted asynchronously starts only after
 * every request submitted before it has completed, and completes when those writes are on
 * stable storage.
 *   submit: queues the request (0); or does all of it at once without waiting for a device
 *           (1: it succeeded and no completion follows, e.g. a page-cache hit); or refuses
 *           with -EAGAIN (`depth` requests already in flight) or another -errno (the request
 *           then never completes).
 *   kick:   hands the queued requests to the kernel (0 or -errno; they stay queued on error).
 *   reap:   stores up to max finished requests in out and returns how many (0..max), waiting
 *           for at least one when wait is true and a request is in flight.
 *   count_waits: optional; the backend adds 1 to *counter (relaxed) for each request that
 *           had to wait for bounce-buffer memory (O_DIRECT, see blk_bounce.h); the counter
 *           must outlive the backend (NULL: the backend's own again).
 * A submitted request may wait inside the backend (its buffers stay in use) until others
 * complete: reap with wait still returns, since a waiting request starts as soon as one of
 * the requests in the kernel completes.
 * completion_fd in struct blk_backend becomes readable (an eventfd: read it to re-arm) when
 * reap may have something; reap until it returns 0. */
struct blk_backend_ops {
	int (*read)(void *be, uint64_t off, const struct iovec *iov, int iovcnt);
	int (*write)(void *be, uint64_t off, const struct iovec *iov, int iovcnt);
	int (*flush)(void *be); /* completed writes are on stable storage when it returns 0 */
	void (*close)(void *be);
	int (*submit)(void *be, const struct blk_io *io);
	int (*kick)(void *be);
	int (*reap)(void *be, struct blk_completion *out, int max, bool wait);
	void (*count_waits)(void *be, atomic_ulong *counter);
};

struct blk_backend {
	const struct blk_backend_ops *ops;
	void *be;            /* the backend's own state, passed to every op */
	uint64_t size;       /* bytes */
	uint32_t block_size; /* logical block size in bytes: a power of two >= 512 */
	bool read_only;      /* write returns -EROFS */
	int completion_fd;   /* asynchronous backends: see blk_backend_ops; otherwise -1 */
	unsigned depth;      /* asynchronous backends: requests in flight at most; otherwise 0 */
};

/* Opens a raw disk image (regular file) or a block device.
 * ro: O_RDONLY and a shared lock; otherwise O_RDWR and an exclusive lock, so two VMs cannot
 * write one image (nor one write while another reads). direct: O_DIRECT (refused with a
 * message when the filesystem does not support it); the block size is then the file's
 * direct-I/O alignment. Returns 0 and fills *out, or -1 with a one-line reason in err. */
int blk_file_open(const char *path, bool ro, bool direct, struct blk_backend *out, char *err,
		  size_t errlen);

/* The same disk through io_uring (liburing): what blk_file_open does, plus a ring of
 * `depth` entries (1..4096) whose completions signal completion_fd. The synchronous calls
 * stay available (exit-time flush). Returns 0; -1 with a reason in err when the file cannot
 * be opened; -2 with a reason in err when this kernel (or its policy, e.g. seccomp or
 * kernel.io_uring_disabled) refuses io_uring: the caller may fall back to blk_file_open. */
int blk_uring_open(const char *path, bool ro, bool direct, unsigned depth, struct blk_backend *out,
		   char *err, size_t errlen);

/* How a disk is served: io_uring when the kernel allows it (AUTO), or insisted on. */
enum blk_io_mode { BLK_IO_AUTO = 0, BLK_IO_SYNC = 1, BLK_IO_URING = 2 };

/* Opens a disk with the backend `mode` asks for. AUTO tries io_uring unless *no_uring is set;
 * when the kernel refuses it, it sets *no_uring, logs one info line (the first time) and
 * opens the synchronous file backend. URING fails (-1, reason in err) when io_uring is
 * refused. 0 or -1, like blk_file_open. */
int blk_open(const char *path, bool ro, bool direct, enum blk_io_mode mode, unsigned depth,
	     bool *no_uring, struct blk_backend *out, char *err, size_t errlen);

/* For backends layered on the file backend: its fd (or -1 when b is not a file backend). */
int blk_file_fd(const struct blk_backend *b);

/* Appended for PATCH /drives/{id} (a drive swap on a running VM): b serves the disk of file
 * from now on. file is synchronous (no submit, no completion_fd); nothing may be in flight in
 * b; the caller checked that block size and read-only mode match. A synchronous b is swapped
 * whole. An io_uring b keeps its ring, eventfd and restrictions and puts file's fd in the
 * ring's one fixed-file slot (IORING_REGISTER_FILES_UPDATE, the one register operation the
 * restricted ring allows besides the unregistration at close); file must then be a file
 * backend (blk_file_open). On success *file holds b's previous file backend (the caller
 * flushes and closes it) and b->size is the new file's; 0, or -1 with err set and nothing
 * changed. */
int blk_swap_file(struct blk_backend *b, struct blk_backend *file, char *err, size_t errlen);
/* The disk's fd for a file or an io_uring backend (fstat for its identity), else -1. */
int blk_backend_fd(const struct blk_backend *b);

/* Closes the backend once (later calls do nothing). */
static inline void blk_close(struct blk_backend *b)
{
	if (b->ops && b->ops->close)
		b->ops->close(b->be);
	b->ops = NULL;
	b->be = NULL;
}

#endif
