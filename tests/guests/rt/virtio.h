/* virtio.h: a small polling virtio-mmio driver for the test guests (virtio 1.2: 2.7 split
 * virtqueues, 3.1 device initialization, 4.2 virtio-mmio version 2 only).
 *
 * Devices come from the command line exactly as Linux's VIRTIO_MMIO_CMDLINE_DEVICES finds
 * them: every word `virtio_mmio.device=<size>@<baseaddr>:<irq>[:<id>]`. The driver never
 * takes interrupts (the runtime runs with IF=0): it polls used->idx with a time bound and
 * may read/ack InterruptStatus. Everything (rings, buffers) lives in static guest RAM;
 * guest-physical = virtual, so a buffer's address is its pointer.
 *
 * Typical use:
 *     struct virtio_dev d; static struct virtq q;
 *     if (virtio_find(VIRTIO_ID_RNG, 0, &d, 0)) ...   (0: print what it probes)
 *     virtio_init(&d, 0)                           reset, ACK, DRIVER, features, FEATURES_OK
 *     virtq_setup(&d, &q, 0, 64)                   queue 0, min(QueueNumMax, 64) entries
 *     virtio_driver_ok(&d)
 *     struct virtio_buf b = { (uptr)buf, 64, 1 };  device-writable
 *     virtq_xfer(&q, &b, 1, &len, VIRTIO_TIMEOUT_MS)
 * Every function returns 0 (or a count) on success and a negative VIRTIO_E* on failure;
 * virtio_strerror() names it. Messages go to the console prefixed "virtio: ". */
#ifndef MOTE_GUEST_VIRTIO_H
#define MOTE_GUEST_VIRTIO_H

#include "rt.h"

/* ---- virtio-mmio registers (4.2.2), all 32 bits wide ---- */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000 /* 0x74726976, "virt" */
#define VIRTIO_MMIO_VERSION 0x004     /* 2 (1 = legacy, refused) */
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090 /* avail ring */
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0 /* used ring */
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC 0x74726976u

/* Status, feature, InterruptStatus bits and device IDs: shared with the device model. */
#include "virtio/abi.h"

/* Split virtqueue layout (2.7). */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_desc { u64 addr; u32 len; u16 flags, next; };
struct virtq_avail { u16 flags, idx, ring[]; /* then u16 used_event */ };
struct virtq_used_elem { u32 id, len; };
struct virtq_used { u16 flags, idx; struct virtq_used_elem ring[]; /* then u16 avail_event */ };

/* The largest queue this driver sets up (the rings of one queue are static: 16 KiB). */
#define VIRTQ_MAX 256

/* Errors (negative return values). */
#define VIRTIO_ENODEV -1    /* no such device on the command line / probe failed */
#define VIRTIO_ELEGACY -2   /* Version 1 (legacy) device: refused */
#define VIRTIO_EFEATURES -3 /* FEATURES_OK did not stick, or VERSION_1 not offered */
#define VIRTIO_ENOQUEUE -4  /* QueueNumMax 0, or the queue was already ready */
#define VIRTIO_EREADY -5    /* QueueReady did not read back 1 */
#define VIRTIO_ENOSPC -6    /* not enough free descriptors */
#define VIRTIO_ETIMEDOUT -7 /* the device did not answer in time */
#define VIRTIO_EBADID -8    /* the device returned an id that is not an in-flight head */
#define VIRTIO_ENEEDSRESET -9 /* the device set DEVICE_NEEDS_RESET */
#define VIRTIO_EINVAL -10   /* bad argument (n == 0, len 0, size too big, ...) */
const char *virtio_strerror(int err);

/* Default time bound of one wait (the device runs in another host thread). */
#define VIRTIO_TIMEOUT_MS 5000

/* ---- discovery ---- */
struct virtio_cmdline_dev {
	u64 size, base;
	u32 irq;
	int has_id;
	u32 id;           /* the optional platform-device id */
};
/* Parses every `virtio_mmio.device=` word of rt_cmdline() with Linux's rules (size: number
 * with an optional K/M/G/T/P/E suffix; base: %lli, i.e. decimal, 0x hex or 0 octal; irq:
 * unsigned, non-zero; nothing may follow). Bad words are reported and skipped. Fills up to
 * max entries and returns how many words were valid. */
#define VIRTIO_MAX_DEVS 16
int virtio_cmdline_devices(struct virtio_cmdline_dev *out, int max);

struct virtio_dev {
	uptr base;        /* the MMIO window */
	u64 size;
	u32 irq;
	u32 version, device_id, vendor_id;
	u64 device_features; /* after virtio_init: what the device offered */
	u64 features;        /* after virtio_init: what was accepted (negotiated) */
};
/* Checks one window: MagicValue, Version (2 only; 1 is refused with a message), DeviceID
 * (0 = placeholder, no device). Fills *d. Returns 0, VIRTIO_ENODEV or VIRTIO_ELEGACY. */
int virtio_probe(const struct virtio_cmdline_dev *c, struct virtio_dev *d);
/* The nth (0-based) probed device with this DeviceID on the command line. quiet = 0 prints
 * one `virtio: found ...` line per device probed. */
int virtio_find(u32 device_id, int nth, struct virtio_dev *d, int quiet);

/* ---- registers ---- */
static inline u32 virtio_read(const struct virtio_dev *d, u32 off) { return mmio_read32(d->base + off); }
static inline void virtio_write(const struct virtio_dev *d, u32 off, u32 v) { mmio_write32(d->base + off, v); }
static inline u32 virtio_status(const struct virtio_dev *d) { return virtio_read(d, VIRTIO_MMIO_STATUS); }
/* Config space, natural widths (4.2.2.2: 64-bit fields as two 32-bit reads, retried
 * until ConfigGeneration is stable). */
u8 virtio_config8(const struct virtio_dev *d, u32 off);
u16 virtio_config16(const struct virtio_dev *d, u32 off);
u32 virtio_config32(const struct virtio_dev *d, u32 off);
u64 virtio_config64(const struct virtio_dev *d, u32 off);

/* ---- initialization (3.1.1) ---- */
/* Status = 0, then waits (bounded) until Status reads 0. Returns 0 or VIRTIO_ETIMEDOUT. */
int virtio_reset(struct virtio_dev *d);
/* Reset, ACKNOWLEDGE, DRIVER, reads both feature halves, accepts VERSION_1 plus the bits of
 * `want` the device offers, FEATURES_OK, reads it back. Sets FAILED on error. */
int virtio_init(struct virtio_dev *d, u64 want);
/* Sets DRIVER_OK. Returns 0, or VIRTIO_ENEEDSRESET if the device already failed. */
int virtio_driver_ok(struct virtio_dev *d);
/* Bounded wait (pause + Status reads) until Status has any of `bits`. Returns Status, or
 * 0 with *timed_out = 1. */
u32 virtio_wait_status(struct virtio_dev *d, u32 bits, u32 timeout_ms, int *timed_out);
/* Reads InterruptStatus and writes it back to InterruptACK; returns what it read. */
u32 virtio_isr_ack(struct virtio_dev *d);

/* ---- split virtqueues ---- */
struct virtq {
	/* The ring memory (page-aligned, so every ring is more than aligned). */
	struct virtq_desc desc_mem[VIRTQ_MAX] __attribute__((aligned(4096)));
	u8 avail_mem[6 + 2 * VIRTQ_MAX] __attribute__((aligned(4096)));
	u8 used_mem[6 + 8 * VIRTQ_MAX] __attribute__((aligned(4096)));
	/* Where the rings are (normally the memory above; hostile guests may point them elsewhere). */
	volatile struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	struct virtio_dev *dev;
	u16 index, num;       /* queue index; size (QueueNum written) */
	int event_idx;        /* VIRTIO_F_EVENT_IDX negotiated */
	int no_irq;           /* 1: suppress used-buffer notifications (set before setup; kept) */
	u16 avail_idx;        /* the driver's shadow of avail->idx */
	u16 last_used;        /* next used->ring slot to consume */
	u16 kicked_idx;       /* avail_idx at the last kick decision (EVENT_IDX) */
	u16 free_head, num_free;
	u16 next[VIRTQ_MAX];  /* driver-private chain links (never read back from the rings) */
	u16 chain_len[VIRTQ_MAX]; /* per in-flight head: descriptors in its chain, 0 = free */
	u32 kicks, kicks_suppressed;
};

/* QueueSel = index, checks QueueReady == 0, num = min(QueueNumMax, want) (want <= VIRTQ_MAX),
 * QueueNum, ring addresses, QueueReady = 1 and reads it back. */
int virtq_setup(struct virtio_dev *d, struct virtq *q, u16 index, u16 want);
/* The same with an exact size (no min with QueueNumMax, may be a non power of two) and ring
 * addresses of the caller's choosing (0 = q's own memory). For hostile guests. */
int virtq_setup_raw(struct virtio_dev *d, struct virtq *q, u16 index, u16 num,
		    u64 desc, u64 avail, u64 used);

/* One buffer of a chain: device-readable, or device-writable with write = 1. */
struct virtio_buf { u64 addr; u32 len; int write; };

/* Writes a chain of n buffers into free descriptors and publishes its head in the avail
 * ring (no notification). Returns the head (>= 0) or VIRTIO_ENOSPC / VIRTIO_EINVAL. */
int virtq_submit(struct virtq *q, const struct virtio_buf *bufs, unsigned n);
/* QueueNotify unless the device suppressed it (used->flags NO_NOTIFY, or avail_event with
 * EVENT_IDX). Returns 1 if it notified. virtq_notify() always writes QueueNotify. */
int virtq_kick(struct virtq *q);
void virtq_notify(struct virtq *q);
/* Consumes one used element if there is one: 1 (with *id, *len), 0 if none, VIRTIO_EBADID. */
int virtq_poll(struct virtq *q, u32 *id, u32 *len);
/* virtq_poll with a time bound. 0, VIRTIO_ETIMEDOUT (then reads Status: VIRTIO_ENEEDSRESET
 * if the device failed) or VIRTIO_EBADID. */
int virtq_wait(struct virtq *q, u32 *id, u32 *len, u32 timeout_ms);
/* submit + kick + wait; checks the used id is the head. *len = the device's used len. */
int virtq_xfer(struct virtq *q, const struct virtio_buf *bufs, unsigned n, u32 *len, u32 timeout_ms);

/* ---- ordering ---- */
/* Compiler barrier; x86 keeps stores in order and loads in order, which is all 2.7.13 asks
 * between a ring store and the index store (and between an index load and a ring load). */
static inline void virtio_barrier(void) { __asm__ volatile("" ::: "memory"); }
/* Full barrier (store -> load), needed between publishing avail->idx and reading the
 * device's notification suppression. A locked add on the stack (valid at any CPL, needs no
 * SSE state; `mfence` works too at ring 3). */
static inline void virtio_mb(void) { __asm__ volatile("lock addl $0, (%%rsp)" ::: "memory", "cc"); }

/* ---- time ---- */
u64 virtio_now_us(void); /* rdtsc scaled by tsc_mhz= from the command line, else the CPUID TSC
                          * frequency, else an assumed 2 GHz */

#endif
