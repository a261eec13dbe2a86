/* The file backend: a raw image or a host block device, through preadv/pwritev/fdatasync.
 * Owns: the fd, its flock (one writer per image), the size and the logical block size.
 * Must not: know guest memory or virtio (it sees host iovecs and byte offsets only), or
 * abort on an I/O error: every failure returns -errno to the device. */
#include "backends/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/blk_bounce.h"
#include "core/log.h"
#include "core/sandbox.h"

#define BLK_FILE_SECTOR 512u
#define BLK_FILE_MAX_BLOCK 65536u /* larger logical blocks are refused as implausible */

struct blk_file {
	int fd;
	bool read_only;
	uint64_t size;
	uint32_t dio_align; /* O_DIRECT: buffers must be aligned to this; 0 without O_DIRECT */
};

/* Bytes described by iov[0..iovcnt), or -EINVAL when the count or the sum is out of range. */
static int64_t iov_total(const struct iovec *iov, int iovcnt)
{
	uint64_t total = 0;

	if (iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt > 0 && !iov))
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > (uint64_t)INT64_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	return (int64_t)total;
}

/* One buffer, completed across short transfers and EINTR. End of file is -EIO. */
static int rw_one(int fd, bool write, uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = write ? pwrite(fd, p, len, (off_t)off) : pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* The whole list at off. preadv/pwritev may stop early (a signal, a 2 GiB kernel cap, the
 * end of the file): whole iovecs done are skipped, a partly done one is finished with
 * pread/pwrite, then the vectored call resumes. The caller's iovecs are never modified. */
static int rw_loop(struct blk_file *f, bool write, uint64_t off, const struct iovec *iov,
		   int iovcnt)
{
	while (iovcnt > 0) {
		if (iov->iov_len == 0) {
			iov++;
			iovcnt--;
			continue;
		}
		ssize_t n = write ? pwritev(f->fd, iov, iovcnt, (off_t)off)
				  : preadv(f->fd, iov, iovcnt, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* end of file: the image shrank under us */
		off += (uint64_t)n;
		size_t done = (size_t)n;
		while (iovcnt > 0 && done >= iov->iov_len) {
			done -= iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (done > 0) {
			int r = rw_one(f->fd, write, (uint8_t *)iov->iov_base + done,
				       iov->iov_len - done, off);
			if (r < 0)
				return r;
			off += iov->iov_len - done;
			iov++;
			iovcnt--;
		}
	}
	return 0;
}

/* O_DIRECT with buffers the kernel would refuse: through an aligned bounce buffer, in
 * pieces of at most BLK_BOUNCE_MAX bytes. */
static int rw_bounce(struct blk_file *f, bool write, uint64_t off, const struct iovec *iov,
		     int iovcnt, uint64_t total)
{
	uint64_t piece = total < BLK_BOUNCE_MAX ? total : BLK_BOUNCE_MAX;
	void *b = blk_bounce_alloc(piece, f->dio_align);
	int r = 0;

	if (!b)
		return -ENOMEM;
	for (uint64_t done = 0; done < total && r == 0; done += piece) {
		size_t len = (size_t)(total - done < piece ? total - done : piece);
		struct iovec one = { .iov_base = b, .iov_len = len };
		if (write)
			blk_bounce_copy(b, iov, iovcnt, done, len, true);
		r = rw_loop(f, write, off + done, &one, 1);
		if (r == 0 && !write)
			blk_bounce_copy(b, iov, iovcnt, done, len, false);
	}
	free(b);
	return r;
}

static int rw_vec(struct blk_file *f, bool write, uint64_t off, const struct iovec *iov,
		  int iovcnt)
{
	int64_t total = iov_total(iov, iovcnt);

	if (total < 0)
		return (int)total;
	if (off > f->size || (uint64_t)total > f->size - off)
		return -EIO;
	if (total > 0 && f->dio_align && !blk_iov_aligned(iov, iovcnt, f->dio_align))
		return rw_bounce(f, write, off, iov, iovcnt, (uint64_t)total);
	return rw_loop(f, write, off, iov, iovcnt);
}

static int file_read(void *be, uint64_t off, const struct iovec *iov, int iovcnt)
{
	return rw_vec(be, false, off, iov, iovcnt);
}

static int file_write(void *be, uint64_t off, const struct iovec *iov, int iovcnt)
{
	struct blk_file *f = be;

	if (f->read_only)
		return -EROFS; /* the fd is O_RDONLY too: the kernel would say EBADF */
	return rw_vec(f, true, off, iov, iovcnt);
}

static int file_flush(void *be)
{
	struct blk_file *f = be;

	while (fdatasync(f->fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static void file_close(void *be)
{
	struct blk_file *f = be;

	if (!f)
		return;
	close(f->fd); /* drops the flock too */
	free(f);
}

static const struct blk_backend_ops blk_file_ops = {
	.read = file_read,
	.write = file_write,
	.flush = file_flush,
	.close = file_close,
};

/* The offset alignment O_DIRECT needs on a regular file (statx DIOALIGN, Linux 6.1+):
 * > 0, 0 when the file does not support direct I/O, or the sector size when unknown. */
static uint32_t file_dio_align(int fd)
{
#ifdef STATX_DIOALIGN
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN))
		return stx.stx_dio_offset_align < BLK_FILE_SECTOR && stx.stx_dio_offset_align
			       ? BLK_FILE_SECTOR
			       : stx.stx_dio_offset_align;
#else
	(void)fd;
#endif
	return BLK_FILE_SECTOR;
}

/* Size and logical block size of what fd refers to; -1 with err for anything else. */
static int probe(int fd, const char *path, bool direct, uint64_t *size, uint32_t *bs,
		 char *err, size_t errlen)
{
	struct stat st;

	if (sandbox_fstat(fd, &st) < 0)
		return err_set(err, errlen, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return err_set(err, errlen, "%s: is a directory, not a disk image", path);
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		*bs = direct ? file_dio_align(fd) : BLK_FILE_SECTOR;
		if (*bs == 0)
			return err_set(err, errlen,
				       "%s: the filesystem does not support O_DIRECT (direct=on)",
				       path);
	} else if (S_ISBLK(st.st_mode)) {
		int ssz = 0;
		if (ioctl(fd, BLKGETSIZE64, size) < 0 || ioctl(fd, BLKSSZGET, &ssz) < 0)
			return err_set(err, errlen, "%s: cannot read the block device size: %s",
				       path, strerror(errno));
		*bs = ssz > 0 ? (uint32_t)ssz : 0;
	} else {
		return err_set(err, errlen, "%s: not a regular file or block device", path);
	}
	if (*bs < BLK_FILE_SECTOR || *bs > BLK_FILE_MAX_BLOCK || (*bs & (*bs - 1)))
		return err_set(err, errlen, "%s: unsupported logical block size %u", path, *bs);
	return 0;
}

int blk_file_open(const char *path, bool ro, bool direct, struct blk_backend *out, char *err,
		  size_t errlen)
{
	int flags = (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0);
	uint64_t size = 0;
	uint32_t bs = 0;

	memset(out, 0, sizeof(*out));
	out->completion_fd = -1;
	int fd = open(path, flags);
	if (fd < 0 && direct && errno == EINVAL)
		return err_set(err, errlen,
			       "%s: the filesystem does not support O_DIRECT (direct=on); "
			       "use direct=off", path);
	if (fd < 0)
		return err_set(err, errlen, "%s: %s", path, strerror(errno));
	if (probe(fd, path, direct, &size, &bs, err, errlen) < 0)
		goto fail;
	/* Advisory and per open file description: it stops a second mote (or a second disk of
	 * this one) from opening the image for writing, and a writer while others read. */
	if (flock(fd, (ro ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			err_set(err, errlen, "%s is in use by another process (locked %s)", path,
				ro ? "for writing" : "for reading or writing");
		else
			err_set(err, errlen, "%s: flock: %s", path, strerror(errno));
		goto fail;
	}
	struct blk_file *f = calloc(1, sizeof(*f));
	if (!f) {
		err_set(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	*f = (struct blk_file){ .fd = fd, .read_only = ro, .size = size,
				.dio_align = direct ? bs : 0 };
	*out = (struct blk_backend){ .ops = &blk_file_ops, .be = f, .size = size,
				     .block_size = bs, .read_only = ro, .completion_fd = -1 };
	return 0;
fail:
	close(fd);
	return -1;
}

int blk_file_fd(const struct blk_backend *b)
{
	if (!b || b->ops != &blk_file_ops || !b->be)
		return -1;
	return ((const struct blk_file *)b->be)->fd;
}
