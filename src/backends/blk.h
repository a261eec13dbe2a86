/* Block backends: the host side of a disk, behind one small vtable.
 * Owns: the vtable contract and the file/block-device backend's constructor.
 * Must not: include or know anything of guest memory, virtio, devices or KVM. A backend sees
 * only host iovecs, byte offsets and lengths, so it can be tested alone and later moved into
 * another process. Errors come back as -errno; a backend never aborts. */
#ifndef MOTE_BACKENDS_BLK_H
#define MOTE_BACKENDS_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Every call returns 0 on success or a negative errno (-EIO, -ENOSPC, -EROFS, -EINVAL ...).
 * read/write transfer the whole iovec list at byte offset off or fail: a short transfer that
 * cannot be completed (end of file) is -EIO. [off, off + total) must lie inside size, else
 * -EIO without touching the disk. iovcnt is 0..IOV_MAX (1024); iovecs may have length 0.
 * Not thread-safe per backend: one thread (the device's I/O thread) drives it. */
struct blk_backend_ops {
	int (*read)(void *be, uint64_t off, const struct iovec *iov, int iovcnt);
	int (*write)(void *be, uint64_t off, const struct iovec *iov, int iovcnt);
	int (*flush)(void *be); /* completed writes are on stable storage when it returns 0 */
	void (*close)(void *be);
};

struct blk_backend {
	const struct blk_backend_ops *ops;
	void *be;            /* the backend's own state, passed to every op */
	uint64_t size;       /* bytes */
	uint32_t block_size; /* logical block size in bytes: a power of two >= 512 */
	bool read_only;      /* write returns -EROFS */
};

/* Opens a raw disk image (regular file) or a block device.
 * ro: O_RDONLY and a shared lock; otherwise O_RDWR and an exclusive lock, so two VMs cannot
 * write one image (nor one write while another reads). direct: O_DIRECT (refused with a
 * message when the filesystem does not support it); the block size is then the file's
 * direct-I/O alignment. Returns 0 and fills *out, or -1 with a one-line reason in err. */
int blk_file_open(const char *path, bool ro, bool direct, struct blk_backend *out, char *err,
		  size_t errlen);

/* Closes the backend once (later calls do nothing). */
static inline void blk_close(struct blk_backend *b)
{
	if (b->ops && b->ops->close)
		b->ops->close(b->be);
	b->ops = NULL;
	b->be = NULL;
}

#endif
