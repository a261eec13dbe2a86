/* virtio-blk snapshot state (virtio_dev_ops save/load): what the guest saw of the disk (size,
 * capacity, block size, read-only, serial) and which disk it was (path, and the open file's
 * device, inode, size and mtime at save). Load refuses a disk that differs in what the guest
 * saw, and, unless the restore gave this disk on purpose (snap_other_disk), a different file
 * or one modified since. Must not: touch the rings (the transport carries them) or apply
 * anything before every value was checked. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "devices/virtio_blk.h"

struct blk_identity {
	uint8_t known; /* 0: the file could not be examined at save (not compared) */
	uint64_t dev, ino, size;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
};

static struct blk_identity blk_identity_now(const struct virtio_blk *b)
{
	struct blk_identity id = {0};
	struct stat st;
	int fd = blk_backend_fd(&b->be);

	if (fd < 0 || sandbox_fstat(fd, &st) < 0)
		return id;
	id.known = 1;
	id.dev = (uint64_t)st.st_dev;
	id.ino = (uint64_t)st.st_ino;
	id.size = (uint64_t)st.st_size;
	id.mtime_sec = (int64_t)st.st_mtim.tv_sec;
	id.mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
	return id;
}

void virtio_blk_save(struct virtio_dev *d, struct snap_out *out)
{
	const struct virtio_blk *b = d->priv;
	const char *path = b->path ? b->path : "";
	size_t plen = strnlen(path, VIRTIO_BLK_SNAP_PATH_MAX);
	struct blk_identity id = blk_identity_now(b);

	snap_put_u32(out, VIRTIO_BLK_SNAP_VERSION);
	snap_put_u64(out, b->be.size);
	snap_put_u64(out, b->capacity);
	snap_put_u32(out, b->be.block_size);
	snap_put_u8(out, b->be.read_only);
	snap_put(out, b->serial, VIRTIO_BLK_ID_BYTES);
	snap_put_u16(out, (uint16_t)plen);
	snap_put(out, path, plen);
	snap_put_u8(out, id.known);
	snap_put_u64(out, id.dev);
	snap_put_u64(out, id.ino);
	snap_put_u64(out, id.size);
	snap_put_u64(out, (uint64_t)id.mtime_sec);
	snap_put_u32(out, id.mtime_nsec);
}

/* "2026-12-04 01:23:45.123456789 UTC" */
static void fmt_time(char *buf, size_t n, int64_t sec, uint32_t nsec)
{
	struct tm tm;
	time_t t = (time_t)sec;

	if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm)) {
		snprintf(buf, n, "%" PRId64, sec);
		return;
	}
	size_t l = strlen(buf);
	snprintf(buf + l, n - l, ".%09u UTC", nsec);
}

/* The disk open now against the one at save. 0, or -1 with err. */
static int check_identity(const struct virtio_blk *b, const struct blk_identity *was,
			  const char *was_path, char *err, size_t errlen)
{
	const char *name = b->dev.name ? b->dev.name : "virtio-blk";
	const char *path = b->path ? b->path : "the disk";
	struct blk_identity now = blk_identity_now(b);

	if (!was->known || b->snap_other_disk)
		return 0;
	if (!now.known)
		return err_set(err, errlen, "%s: cannot examine %s to check it is the disk the "
			       "snapshot was taken with (%s)", name, path, was_path);
	if (now.dev != was->dev || now.ino != was->ino)
		return err_set(err, errlen, "%s: %s is not the disk the snapshot was taken with (%s, "
			       "inode %" PRIu64 " on device 0x%" PRIx64 "; this is inode %" PRIu64
			       " on 0x%" PRIx64 "): give that disk, or this one as an override",
			       name, path, was_path, was->ino, was->dev, now.ino, now.dev);
	if (now.size != was->size || now.mtime_sec != was->mtime_sec ||
	    now.mtime_nsec != was->mtime_nsec) {
		char t0[64], t1[64];
		fmt_time(t0, sizeof(t0), was->mtime_sec, was->mtime_nsec);
		fmt_time(t1, sizeof(t1), now.mtime_sec, now.mtime_nsec);
		return err_set(err, errlen, "%s: %s changed since the snapshot was taken (modified "
			       "%s, %" PRIu64 " bytes; at the snapshot %s, %" PRIu64 " bytes): the "
			       "guest's view of it would be stale", name, path, t1, now.size, t0,
			       was->size);
	}
	return 0;
}

int virtio_blk_load(struct virtio_dev *d, struct snap_in *in, char *err, size_t errlen)
{
	struct virtio_blk *b = d->priv;
	const char *name = d->name ? d->name : "virtio-blk";
	uint8_t serial[VIRTIO_BLK_ID_BYTES];
	char path[VIRTIO_BLK_SNAP_PATH_MAX + 1];
	struct blk_identity was;

	uint32_t version = snap_get_u32(in);
	if (snap_in_ok(in) && version != VIRTIO_BLK_SNAP_VERSION)
		return err_set(err, errlen, "%s: snapshot state version %u (this mote reads %u)",
			       name, version, VIRTIO_BLK_SNAP_VERSION);
	uint64_t size = snap_get_u64(in);
	uint64_t capacity = snap_get_u64(in);
	uint32_t bs = snap_get_u32(in);
	uint8_t ro = snap_get_u8(in);
	snap_get(in, serial, sizeof(serial));
	uint16_t plen = snap_get_u16(in);
	if (plen > VIRTIO_BLK_SNAP_PATH_MAX)
		return err_set(err, errlen, "%s: disk path of %u bytes in the snapshot state (at "
			       "most %u)", name, plen, VIRTIO_BLK_SNAP_PATH_MAX);
	snap_get(in, path, plen);
	path[plen] = '\0';
	was.known = snap_get_u8(in);
	was.dev = snap_get_u64(in);
	was.ino = snap_get_u64(in);
	was.size = snap_get_u64(in);
	was.mtime_sec = (int64_t)snap_get_u64(in);
	was.mtime_nsec = snap_get_u32(in);
	if (!snap_in_done(in))
		return err_set(err, errlen, "%s: the snapshot state is %s", name,
			       snap_in_ok(in) ? "longer than expected" : "truncated");
	if (memchr(path, '\0', plen))
		return err_set(err, errlen, "%s: the disk path in the snapshot state has a NUL byte",
			       name);
	if (ro > 1 || was.known > 1 || was.mtime_nsec > 999999999u)
		return err_set(err, errlen, "%s: bad flag or time value in the snapshot state", name);
	if (capacity != size / VIRTIO_BLK_SECTOR)
		return err_set(err, errlen, "%s: the snapshot state's capacity (%" PRIu64 " sectors) "
			       "does not match its size (%" PRIu64 " bytes)", name, capacity, size);
	for (uint16_t i = 0; i < plen; i++) /* shown in messages: one line, no escapes */
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
			path[i] = '?';
	const char *was_path = plen ? path : "path unknown";
	if (size != b->be.size)
		return err_set(err, errlen, "%s: the disk is %" PRIu64 " bytes, the snapshot's (%s) "
			       "was %" PRIu64 ": restore with a disk of the same size", name,
			       b->be.size, was_path, size);
	if (bs != b->be.block_size)
		return err_set(err, errlen, "%s: the disk has %u-byte blocks, the snapshot's had %u "
			       "(direct I/O on another filesystem?)", name, b->be.block_size, bs);
	if (ro != b->be.read_only)
		return err_set(err, errlen, "%s: the disk is %s, the snapshot's was %s: open it the "
			       "same way", name, b->be.read_only ? "read-only" : "writable",
			       ro ? "read-only" : "writable");
	if (memcmp(serial, b->serial, sizeof(serial)) != 0)
		return err_set(err, errlen, "%s: the disk's serial differs from the snapshot's "
			       "(the guest read it): give the same serial", name);
	if (check_identity(b, &was, was_path, err, errlen) < 0)
		return -1;
	/* Everything the guest saw already matches (capacity follows size): nothing to apply. */
	return 0;
}
