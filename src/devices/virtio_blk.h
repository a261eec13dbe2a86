/* virtio-blk (virtio 1.2, 5.2): device id 2, one request queue of 256 entries, a disk behind
 * a host-only blk_backend. On the I/O thread: chains are popped into request slots (at most
 * the queue size in flight), handed to the backend (asynchronously when it can, else served
 * at once) and pushed as they complete, in any order.
 * Owns: the backend (closed by virtio_blk_destroy), the configuration space, the serial,
 * the counters. Knows neither KVM nor its address; hands the backend host iovecs only. */
#ifndef MOTE_DEVICES_VIRTIO_BLK_H
#define MOTE_DEVICES_VIRTIO_BLK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backends/blk.h"
#include "core/ratelimit.h"
#include "virtio/device.h"
#include "virtio/virtqueue.h"

#define VIRTIO_BLK_QUEUE_SIZE 256
#define VIRTIO_BLK_SECTOR 512u   /* the protocol's unit, whatever blk_size says */
#define VIRTIO_BLK_ID_BYTES 20   /* GET_ID: a NUL-padded string, no NUL when 20 long */
/* Data segments per request we advertise: what fits a 256-entry ring without indirect
 * descriptors next to the header and status buffers. */
#define VIRTIO_BLK_SEG_MAX (VIRTIO_BLK_QUEUE_SIZE - 2)

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_REQ_HDR 16 /* le32 type, le32 reserved, le64 sector */

/* The configuration space (5.2.4), little-endian as the guest reads it. Fields whose
 * feature we do not offer (size_max, geometry, topology, writeback, num_queues) read 0. */
struct virtio_blk_config {
	uint64_t capacity; /* 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
};
#define VIRTIO_BLK_CONFIG_SIZE 36u /* bytes up to and including num_queues */

struct virtio_blk {
	/* The machine: virtio_dev_init(&b->dev, virtio_blk_ops_for(b), b, ...). */
	struct virtio_dev dev;
	struct blk_backend be;
	uint64_t capacity;     /* 512-byte sectors: be.size / 512, rounded down */
	struct virtio_blk_config cfg;
	uint8_t serial[VIRTIO_BLK_ID_BYTES]; /* zero-padded */
	int last_errno;        /* last backend error logged (logs once per kind, not per request) */
	/* Request slots (VIRTIO_BLK_QUEUE_SIZE of them, ~32 KiB each, touched lazily): a slot
	 * holds a popped chain and its host iovecs until the request is pushed. */
	struct blk_slot *slots;
	uint16_t free_slots[VIRTIO_BLK_QUEUE_SIZE]; /* stack of free slot indexes */
	unsigned nfree;
	unsigned in_backend;   /* slots submitted to an asynchronous backend, not yet reaped */
	bool kick_failed;      /* a kick error was logged */
	bool pushed;           /* used elements pushed since the last interrupt check */
	bool starved;          /* the queue stopped with every slot busy (notifications off) */
	/* The merge group being built during a batch (BLK_NO_SLOT: none): head, last member,
	 * operation, iovecs so far, the byte after its end. */
	uint16_t group, group_tail;
	enum blk_op group_op;
	int group_iovcnt;
	uint64_t group_end;
	struct blk_completion done[VIRTIO_BLK_QUEUE_SIZE];
	/* Counters (metrics, tests). errors: requests answered IOERR or UNSUPP. */
	atomic_ulong requests, read_bytes, written_bytes, flushes, errors;
	atomic_ulong bounce_waits; /* requests that waited for O_DIRECT bounce memory (backend) */
	atomic_ulong reads, writes; /* reads and writes completed OK (metrics: read_count ...) */
	/* The rate limiter (disabled by default; dev.lock). throttled: the queue stopped for
	 * want of tokens and rl_timer will bring it back. clock: rl_clock_ns (tests: a fake). */
	struct ratelimiter rl;
	struct rl_timer rl_timer;
	uint64_t (*clock)(void);
	bool throttled;
	atomic_ulong throttled_events; /* requests the limiter refused (metrics) */
	/* Snapshots (virtio_blk_snap.c). path: the disk's path as configured, for the state and
	 * its messages (not owned; NULL: unknown; virtio_blk_init clears it, the machine sets
	 * it). snap_other_disk: set before load when the restore was given this disk on purpose
	 * (a per-clone copy, an override): its identity (device, inode, mtime) is then not
	 * compared with the snapshot's, only what the guest saw (size, block size, mode, serial). */
	const char *path;
	bool snap_other_disk;
};

/* The device's snapshot state (virtio_dev_ops save/load, docs/snapshot-devices.md):
 * version, size, capacity, block size, read-only, serial, the path and the disk's identity
 * (st_dev, st_ino, st_size, st_mtime of the open file, taken at save). */
#define VIRTIO_BLK_SNAP_VERSION 1u
#define VIRTIO_BLK_SNAP_PATH_MAX 4096u
void virtio_blk_save(struct virtio_dev *d, struct snap_out *out);
int virtio_blk_load(struct virtio_dev *d, struct snap_in *in, char *err, size_t errlen);

/* Snapshot quiesce (also the ops' quiesce hook): waits for every request in flight in the
 * backend and answers each into the used ring (status, used element, the interrupt when
 * the guest asks for one); a queue that had stopped for want of free slots is served to its
 * end. Afterwards nothing is in flight and the ring in guest memory is the whole state. The
 * VM is paused (no new requests), b->dev.lock held; call before saving guest memory and the
 * irqchip. Unlike virtio_blk_quiesce, which forgets requests, nothing is lost: the VM may go
 * on running afterwards. */
void virtio_blk_finish_inflight(struct virtio_blk *b);

/* Takes the backend (*be is cleared on success; on failure the caller still owns it).
 * serial: NULL or at most 20 bytes. The backend needs a block size that is a power of two
 * in 512..65536 and at least one such block. 0, or -1 with a one-line reason in err.
 * Does not touch b->dev: call virtio_dev_init afterwards with virtio_blk_ops_for(b). */
int virtio_blk_init(struct virtio_blk *b, struct blk_backend *be, const char *serial, char *err,
		    size_t errlen);

/* Closes the backend (once) after waiting for what is in flight. The caller destroys b->dev,
 * which it initialised. */
void virtio_blk_destroy(struct virtio_blk *b);

/* Waits for every request in flight in the backend and forgets them: nothing is pushed and
 * no guest buffer is touched afterwards. For a device reset and for VM teardown (before
 * guest memory goes away). b->dev.lock held, or no other thread runs. */
void virtio_blk_quiesce(struct virtio_blk *b);

/* An asynchronous backend's completion_fd became readable (the I/O thread's handler; ctx is
 * the struct virtio_blk): reads the eventfd, pushes every finished request, checks for an
 * interrupt once, then takes more requests if the queue was waiting for free slots. Takes
 * b->dev.lock. */
void virtio_blk_on_complete(void *ctx, int fd);

/* The same without the eventfd read (tests; the handler calls it). b->dev.lock held. */
void virtio_blk_complete(struct virtio_blk *b);

/* The ops table: offered features are data, so a read-only disk (VIRTIO_BLK_F_RO) has its
 * own table. Both are priv = struct virtio_blk *. */
extern const struct virtio_dev_ops virtio_blk_ops;
extern const struct virtio_dev_ops virtio_blk_ro_ops;
const struct virtio_dev_ops *virtio_blk_ops_for(const struct virtio_blk *b);

/* Bytes [off, off + len) of the buffers iov[0..n) as at most max host iovecs in out
 * (buffers split at the right byte offsets). Returns the count (0 when len is 0), or -1 when
 * the buffers hold fewer than off + len bytes or more than max iovecs would be needed. */
int virtio_blk_iov_slice(const struct vq_iov *iov, uint32_t n, uint64_t off, uint64_t len,
			 struct iovec *out, int max);

/* Appended for the API (PATCH /drives/{id}): replaces the backing file of a running device.
 * Takes b->dev.lock; requests in flight in an asynchronous (io_uring) backend are waited for
 * and answered first; the backend then takes the new file (blk_swap_file), the old file is
 * flushed and closed, capacity follows the new file and the guest gets a configuration-change
 * interrupt. be is a synchronous backend (an io_uring drive needs a file backend from
 * blk_file_open) with the drive's block size and read-only mode. Takes *be (cleared) on
 * success; 0, or -1 with err set and the drive unchanged. */
int virtio_blk_swap_backend(struct virtio_blk *b, struct blk_backend *be, char *err,
			    size_t errlen);

/* Appended for the rate limiters. init: the limits at boot (before the VM runs, no lock).
 * update: a running VM's new limits (PATCH /drives; any thread, takes dev.lock; a throttled
 * queue is kicked so the I/O thread re-evaluates it). get: the limits in force. on_timer: the
 * limiter's timer expired (I/O thread; takes dev.lock). */
void virtio_blk_ratelimit_init(struct virtio_blk *b, const struct rl_config *c);
void virtio_blk_ratelimit_update(struct virtio_blk *b, const struct rl_update *u);
void virtio_blk_ratelimit_get(struct virtio_blk *b, struct rl_config *out);
void virtio_blk_on_timer(struct virtio_blk *b);

#endif
