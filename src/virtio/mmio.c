/* The virtio-mmio transport, version 2 only (virtio 1.2, 4.2.2 and 4.2.3): one device window.
 * Owns: decoding every register access from one table (offset -> name, direction, handler),
 * the width rules, the single QueueSel range check (queue_index()), the device-status state
 * machine (2.1, 3.1.1), feature negotiation, queue enabling through vq_enable and the
 * config-space bounds. Never touches guest memory itself. Every access runs under d->lock.
 * Rules: registers are 32-bit and 4-byte aligned; any other access is refused (reads return
 * all ones). The config space at 0x100 takes 1/2/4/8-byte accesses at any alignment inside
 * config_size; outside it reads return all ones and writes are dropped. */
#include "virtio/mmio.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/log.h"

#define MMIO_MAGIC 0x74726976u  /* "virt" */
#define MMIO_VERSION 2u         /* modern; no legacy (version 1) registers */
#define MMIO_VENDOR 0x45544f4du /* "MOTE" as little-endian bytes */
#define ALL_ONES 0xffffffffu

/* Reserved feature bits this transport (or the split-ring code) cannot honour: never offered,
 * even when a device lists them. NOTIFICATION_DATA would change what QueueNotify carries. */
#define F_RING_PACKED 34
#define F_NOTIFICATION_DATA 38
#define F_RING_RESET 40
#define F_ADMIN_VQ 41
#define F_UNSUPPORTED                                                                     \
	((1ull << F_RING_PACKED) | (1ull << F_NOTIFICATION_DATA) | (1ull << F_RING_RESET) | \
	 (1ull << F_ADMIN_VQ))

/* The status bits the driver may write; DEVICE_NEEDS_RESET belongs to the device. */
#define STATUS_DRIVER_BITS                                                                \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |     \
	 VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED)
#define STATUS_PROGRESS_BITS (STATUS_DRIVER_BITS & ~(uint32_t)VIRTIO_STATUS_FAILED)

struct mmio_reg;

/* One decoded register access. q is the checked queue index (REG_QUEUE registers only). */
struct mmio_access {
	struct virtio_dev *d;
	const struct mmio_reg *reg;
	uint16_t q;
	uint32_t v; /* the value written */
};

enum { ACC_R = 1, ACC_W = 2, ACC_RW = 3 };
enum {
	REG_QUEUE = 1, /* applies to the queue QueueSel selects: QueueSel is checked first */
	REG_PROBE = 2, /* reading it with QueueSel out of range is the spec's probe: 0, no error */
	REG_SETUP = 4, /* a write is refused while the selected queue is ready (4.2.2) */
};

struct mmio_reg {
	const char *name; /* NULL: no register at this offset */
	uint8_t access;
	uint8_t flags;
	uint8_t arg;    /* handler argument (which ring address, which half) */
	uint32_t value; /* what a read returns when read is NULL */
	uint32_t (*read)(const struct mmio_access *a);
	void (*write)(const struct mmio_access *a);
};

__attribute__((format(printf, 2, 3))) static void bad(struct virtio_dev *d, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atomic_fetch_add(&d->guest_errors, 1);
	guest_error("%s: %s", d->name, msg);
}

static uint16_t num_queues(const struct virtio_dev *d)
{
	return d->ops->num_queues < VIRTIO_MAX_QUEUES ? d->ops->num_queues : VIRTIO_MAX_QUEUES;
}

static uint64_t offered_features(const struct virtio_dev *d)
{
	return (d->ops->features | 1ull << VIRTIO_F_VERSION_1) & ~F_UNSUPPORTED;
}

/* THE queue-selector check: every access to a queue register passes here. */
static bool queue_index(struct virtio_dev *d, const struct mmio_reg *r, bool write, uint16_t *q)
{
	if (d->queue_sel < num_queues(d)) {
		*q = (uint16_t)d->queue_sel;
		return true;
	}
	if (write || !(r->flags & REG_PROBE))
		bad(d, "%s %s with QueueSel %u, but the device has %u queues",
		    write ? "write to" : "read of", r->name, d->queue_sel, num_queues(d));
	return false;
}

/* ---- device-wide registers ---- */

static uint32_t rd_device_id(const struct mmio_access *a) { return a->d->ops->device_id; }

static uint32_t rd_device_features(const struct mmio_access *a)
{
	uint32_t sel = a->d->device_features_sel;
	return sel > 1 ? 0 : (uint32_t)(offered_features(a->d) >> (32 * sel));
}

static void wr_device_features_sel(const struct mmio_access *a)
{
	a->d->device_features_sel = a->v;
}

static void wr_driver_features(const struct mmio_access *a)
{
	struct virtio_dev *d = a->d;
	uint32_t sel = d->driver_features_sel;

	if (d->status & VIRTIO_STATUS_FEATURES_OK) {
		bad(d, "DriverFeatures written after FEATURES_OK");
		return;
	}
	if (sel > 1) {
		if (a->v)
			bad(d, "DriverFeatures 0x%x for bits %u.., which were not offered", a->v,
			    32 * sel);
		return;
	}
	/* Stored as written: unoffered bits make FEATURES_OK fail (3.1.1 step 5). */
	d->driver_features &= ~(0xffffffffull << (32 * sel));
	d->driver_features |= (uint64_t)a->v << (32 * sel);
}

static void wr_driver_features_sel(const struct mmio_access *a)
{
	a->d->driver_features_sel = a->v;
}

static void wr_queue_sel(const struct mmio_access *a) { a->d->queue_sel = a->v; }

static uint32_t rd_interrupt_status(const struct mmio_access *a)
{
	return atomic_load(&a->d->isr);
}

static void wr_interrupt_ack(const struct mmio_access *a)
{
	const uint32_t known = VIRTIO_ISR_USED | VIRTIO_ISR_CONFIG;

	if (a->v & ~known)
		bad(a->d, "InterruptACK 0x%x has undefined bits", a->v);
	atomic_fetch_and(&a->d->isr, ~(a->v & known));
}

static uint32_t rd_status(const struct mmio_access *a) { return a->d->status; }

static uint32_t rd_config_generation(const struct mmio_access *a)
{
	return a->d->config_generation;
}

static void wr_ignore(const struct mmio_access *a) { (void)a; }

/* ---- queue registers (a->q is checked) ---- */

static uint32_t rd_queue_num_max(const struct mmio_access *a)
{
	return a->d->ops->queue_max_size;
}

static void wr_queue_num(const struct mmio_access *a)
{
	struct virtio_dev *d = a->d;

	/* Driver and device would disagree on the ring size: the device cannot go on. */
	if (a->v == 0 || a->v > d->ops->queue_max_size || (a->v & (a->v - 1))) {
		virtio_dev_fail(d, "QueueNum is not a power of two in 1..QueueNumMax");
		return;
	}
	d->qregs[a->q].size = (uint16_t)a->v;
}

/* arg: bits 1-2 pick desc (0), driver/avail (1) or device/used (2); bit 0 the high half. */
static void wr_queue_addr(const struct mmio_access *a)
{
	struct virtio_queue_regs *r = &a->d->qregs[a->q];
	uint64_t *p = (a->reg->arg >> 1) == 0 ? &r->desc : (a->reg->arg >> 1) == 1 ? &r->avail
										     : &r->used;
	unsigned shift = (a->reg->arg & 1) ? 32 : 0;

	*p = (*p & ~(0xffffffffull << shift)) | (uint64_t)a->v << shift;
}

static uint32_t rd_queue_ready(const struct mmio_access *a) { return a->d->qregs[a->q].ready; }

static void queue_enable(struct virtio_dev *d, uint16_t q)
{
	struct virtio_queue_regs *r = &d->qregs[q];
	char why[128];

	if (r->ready)
		return; /* already enabled: re-enabling would rewind the device's indexes */
	if (!(d->status & VIRTIO_STATUS_FEATURES_OK)) {
		bad(d, "QueueReady for queue %u before FEATURES_OK", q);
		return;
	}
	if (vq_enable(&d->vq[q], d->gm, r->size, r->desc, r->avail, r->used,
		      virtio_has_feature(d, VIRTIO_F_EVENT_IDX),
		      virtio_has_feature(d, VIRTIO_F_INDIRECT_DESC)) < 0) {
		snprintf(why, sizeof(why), "queue %u: %s", q, d->vq[q].why);
		virtio_dev_fail(d, why);
		return;
	}
	r->ready = true;
}

static void wr_queue_ready(const struct mmio_access *a)
{
	if (a->v == 1) {
		queue_enable(a->d, a->q);
	} else if (a->v == 0) {
		a->d->qregs[a->q].ready = false;
		virtio_dev_queue_reset(a->d, (uint16_t)a->q);
	} else {
		bad(a->d, "QueueReady 0x%x for queue %u is neither 0 nor 1", a->v, a->q);
	}
}

static void wr_queue_reset(const struct mmio_access *a)
{
	bad(a->d, "QueueReset written for queue %u, but VIRTIO_F_RING_RESET is not offered", a->q);
}

/* The value is the queue index (VIRTIO_F_NOTIFICATION_DATA is never offered). */
static void wr_queue_notify(const struct mmio_access *a)
{
	struct virtio_dev *d = a->d;

	if (!(d->status & VIRTIO_STATUS_DRIVER_OK)) {
		bad(d, "QueueNotify for queue %u before DRIVER_OK", a->v);
		return;
	}
	if (d->status & VIRTIO_STATUS_NEEDS_RESET)
		return; /* stopped; the failure was reported once */
	if (a->v >= num_queues(d) || !d->qregs[a->v].ready) {
		bad(d, "QueueNotify for queue %u, which is %s", a->v,
		    a->v >= num_queues(d) ? "out of range" : "not ready");
		return;
	}
	uint16_t q = (uint16_t)a->v;
	if (d->kick) {
		d->kick(d->kick_ctx, q); /* the I/O thread counts it and calls notify */
	} else if (d->ops->notify) {
		atomic_fetch_add(&d->notifies, 1);
		d->ops->notify(d, q);
	}
}

/* ---- Status: the state machine ---- */

/* 7.2 / 3.1.1: writing 0 resets the device. ConfigGeneration keeps counting. */
static void device_reset(struct virtio_dev *d)
{
	if (d->ops->reset)
		d->ops->reset(d);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vq_reset(&d->vq[q]);
		d->qregs[q] = (struct virtio_queue_regs){ .size = d->ops->queue_max_size };
	}
	d->driver_features = 0;
	d->device_features_sel = d->driver_features_sel = 0;
	d->queue_sel = 0;
	atomic_store(&d->isr, 0);
	d->status = 0;
}

/* 3.1.1 steps 5-6: the device accepts FEATURES_OK only for a modern driver asking for a
 * subset of what was offered; otherwise the bit stays clear for the driver to read back. */
static bool features_acceptable(struct virtio_dev *d)
{
	uint64_t extra = d->driver_features & ~offered_features(d);

	if (!virtio_has_feature(d, VIRTIO_F_VERSION_1)) {
		bad(d, "FEATURES_OK refused: VIRTIO_F_VERSION_1 not accepted (legacy drivers are "
		       "not supported)");
		return false;
	}
	if (extra) {
		bad(d, "FEATURES_OK refused: feature bits 0x%llx were not offered",
		    (unsigned long long)extra);
		return false;
	}
	return true;
}

/* Progress bits are only added, in the order ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK
 * (several in one write is fine): the result must be one of these prefixes. */
static bool progress_in_order(uint32_t bits)
{
	static const uint32_t prefix[] = {
		0,
		VIRTIO_STATUS_ACKNOWLEDGE,
		VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER,
		VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK,
		STATUS_PROGRESS_BITS,
	};
	for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (bits == prefix[i])
			return true;
	return false;
}

/* A bad write changes nothing. FAILED is accepted at any time; after FAILED or NEEDS_RESET
 * only a reset (0) moves the device on. */
static void wr_status(const struct mmio_access *a)
{
	struct virtio_dev *d = a->d;
	uint32_t v = a->v, cur = d->status & STATUS_DRIVER_BITS;

	if (v == 0) {
		device_reset(d);
		return;
	}
	if (v & ~(STATUS_DRIVER_BITS | VIRTIO_STATUS_NEEDS_RESET)) {
		bad(d, "Status 0x%x sets undefined bits", v);
		return;
	}
	if ((v & VIRTIO_STATUS_NEEDS_RESET) && !(d->status & VIRTIO_STATUS_NEEDS_RESET)) {
		bad(d, "Status 0x%x: the driver cannot set DEVICE_NEEDS_RESET", v);
		return;
	}
	if (cur & ~v) {
		bad(d, "Status 0x%x clears bits of 0x%x; only a reset clears them", v, d->status);
		return;
	}
	uint32_t add = v & ~cur & STATUS_DRIVER_BITS;
	uint32_t progress = add & STATUS_PROGRESS_BITS;
	uint32_t stopped = (d->status | add) & (VIRTIO_STATUS_FAILED | VIRTIO_STATUS_NEEDS_RESET);
	if (progress && stopped) {
		bad(d, "Status 0x%x after FAILED or DEVICE_NEEDS_RESET: the driver must reset", v);
		return;
	}
	if (!progress_in_order((cur | add) & STATUS_PROGRESS_BITS)) {
		bad(d, "Status 0x%x out of order (status was 0x%x)", v, d->status);
		return;
	}
	d->status |= add & ~(uint32_t)(VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	if (add & VIRTIO_STATUS_FEATURES_OK) {
		if (!features_acceptable(d))
			return; /* and DRIVER_OK in the same write would be out of order */
		d->status |= VIRTIO_STATUS_FEATURES_OK;
	}
	if (add & VIRTIO_STATUS_DRIVER_OK) {
		d->status |= VIRTIO_STATUS_DRIVER_OK;
		if (d->ops->activate && d->ops->activate(d) != 0)
			virtio_dev_fail(d, "device activation failed");
	}
}

/* ---- the table: one entry per 32-bit register, indexed by offset / 4 ---- */

#define REG(off) [(off) / 4]
static const struct mmio_reg regs[VIRTIO_MMIO_CONFIG / 4] = {
	REG(0x000) = { "MagicValue", ACC_R, 0, 0, MMIO_MAGIC, NULL, NULL },
	REG(0x004) = { "Version", ACC_R, 0, 0, MMIO_VERSION, NULL, NULL },
	REG(0x008) = { "DeviceID", ACC_R, 0, 0, 0, rd_device_id, NULL },
	REG(0x00c) = { "VendorID", ACC_R, 0, 0, MMIO_VENDOR, NULL, NULL },
	REG(0x010) = { "DeviceFeatures", ACC_R, 0, 0, 0, rd_device_features, NULL },
	REG(0x014) = { "DeviceFeaturesSel", ACC_W, 0, 0, 0, NULL, wr_device_features_sel },
	REG(0x020) = { "DriverFeatures", ACC_W, 0, 0, 0, NULL, wr_driver_features },
	REG(0x024) = { "DriverFeaturesSel", ACC_W, 0, 0, 0, NULL, wr_driver_features_sel },
	REG(0x030) = { "QueueSel", ACC_W, 0, 0, 0, NULL, wr_queue_sel },
	REG(0x034) = { "QueueNumMax", ACC_R, REG_QUEUE | REG_PROBE, 0, 0, rd_queue_num_max, NULL },
	REG(0x038) = { "QueueNum", ACC_W, REG_QUEUE | REG_SETUP, 0, 0, NULL, wr_queue_num },
	REG(0x044) = { "QueueReady", ACC_RW, REG_QUEUE | REG_PROBE, 0, 0, rd_queue_ready,
		       wr_queue_ready },
	REG(0x050) = { "QueueNotify", ACC_W, 0, 0, 0, NULL, wr_queue_notify },
	REG(0x060) = { "InterruptStatus", ACC_R, 0, 0, 0, rd_interrupt_status, NULL },
	REG(0x064) = { "InterruptACK", ACC_W, 0, 0, 0, NULL, wr_interrupt_ack },
	REG(0x070) = { "Status", ACC_RW, 0, 0, 0, rd_status, wr_status },
	REG(0x080) = { "QueueDescLow", ACC_W, REG_QUEUE | REG_SETUP, 0, 0, NULL, wr_queue_addr },
	REG(0x084) = { "QueueDescHigh", ACC_W, REG_QUEUE | REG_SETUP, 1, 0, NULL, wr_queue_addr },
	REG(0x090) = { "QueueDriverLow", ACC_W, REG_QUEUE | REG_SETUP, 2, 0, NULL, wr_queue_addr },
	REG(0x094) = { "QueueDriverHigh", ACC_W, REG_QUEUE | REG_SETUP, 3, 0, NULL, wr_queue_addr },
	REG(0x0a0) = { "QueueDeviceLow", ACC_W, REG_QUEUE | REG_SETUP, 4, 0, NULL, wr_queue_addr },
	REG(0x0a4) = { "QueueDeviceHigh", ACC_W, REG_QUEUE | REG_SETUP, 5, 0, NULL, wr_queue_addr },
	/* No shared memory regions: every SHMSel names a non-existent one (length and base -1). */
	REG(0x0ac) = { "SHMSel", ACC_W, 0, 0, 0, NULL, wr_ignore },
	REG(0x0b0) = { "SHMLenLow", ACC_R, 0, 0, ALL_ONES, NULL, NULL },
	REG(0x0b4) = { "SHMLenHigh", ACC_R, 0, 0, ALL_ONES, NULL, NULL },
	REG(0x0b8) = { "SHMBaseLow", ACC_R, 0, 0, ALL_ONES, NULL, NULL },
	REG(0x0bc) = { "SHMBaseHigh", ACC_R, 0, 0, ALL_ONES, NULL, NULL },
	REG(0x0c0) = { "QueueReset", ACC_RW, REG_QUEUE, 0, 0, NULL, wr_queue_reset },
	REG(0x0fc) = { "ConfigGeneration", ACC_R, 0, 0, 0, rd_config_generation, NULL },
};

/* The one decode step: width, alignment, existence and direction. NULL: refused (reported). */
static const struct mmio_reg *decode(struct virtio_dev *d, uint64_t off, uint32_t len, bool write)
{
	const struct mmio_reg *r = off < VIRTIO_MMIO_CONFIG ? &regs[off / 4] : NULL;
	const char *dir = write ? "write" : "read";

	if (!r || !r->name) {
		bad(d, "%u-byte %s at 0x%03llx: no register there", len, dir,
		    (unsigned long long)off);
		return NULL;
	}
	if (len != 4 || (off & 3)) {
		bad(d, "%u-byte %s at 0x%03llx (%s): registers take aligned 32-bit accesses", len,
		    dir, (unsigned long long)off, r->name);
		return NULL;
	}
	if (!(r->access & (write ? ACC_W : ACC_R))) {
		bad(d, "%s of %s, which is %s-only", dir, r->name, write ? "read" : "write");
		return NULL;
	}
	return r;
}

static uint32_t reg_read(struct virtio_dev *d, uint64_t off, uint32_t len)
{
	const struct mmio_reg *r = decode(d, off, len, false);
	struct mmio_access a = { .d = d, .reg = r };

	if (!r)
		return ALL_ONES;
	if ((r->flags & REG_QUEUE) && !queue_index(d, r, false, &a.q))
		return 0;
	return r->read ? r->read(&a) : r->value;
}

static void reg_write(struct virtio_dev *d, uint64_t off, uint32_t len, uint32_t v)
{
	const struct mmio_reg *r = decode(d, off, len, true);
	struct mmio_access a = { .d = d, .reg = r, .v = v };

	if (!r)
		return;
	if ((r->flags & REG_QUEUE) && !queue_index(d, r, true, &a.q))
		return;
	if ((r->flags & REG_SETUP) && d->qregs[a.q].ready) {
		bad(d, "write to %s while queue %u is ready", r->name, a.q);
		return;
	}
	r->write(&a);
}

/* [off, off + len) relative to the config space; true when the device may serve it. */
static bool config_range_ok(struct virtio_dev *d, uint64_t off, uint32_t len, bool write)
{
	uint32_t size = d->ops->config_size;

	if (len == 1 || len == 2 || len == 4 || len == 8) {
		if (off <= size && len <= size - off)
			return true;
	}
	bad(d, "%u-byte config %s at 0x%llx: outside the %u-byte configuration space", len,
	    write ? "write" : "read", (unsigned long long)off, size);
	return false;
}

static void mmio_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_dev *d = dev;

	pthread_mutex_lock(&d->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		off -= VIRTIO_MMIO_CONFIG;
		if (config_range_ok(d, off, len, false) && d->ops->config_read)
			d->ops->config_read(d, (uint32_t)off, data, len);
		else
			for (uint32_t i = 0; i < len; i++)
				data[i] = 0xff;
	} else {
		uint32_t v = reg_read(d, off, len);
		for (uint32_t i = 0; i < len; i++)
			data[i] = i < 4 ? (uint8_t)(v >> (8 * i)) : 0xff;
	}
	pthread_mutex_unlock(&d->lock);
}

static void mmio_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_dev *d = dev;

	pthread_mutex_lock(&d->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		off -= VIRTIO_MMIO_CONFIG;
		if (config_range_ok(d, off, len, true)) {
			if (d->ops->config_write)
				d->ops->config_write(d, (uint32_t)off, data, len);
			else
				bad(d, "config write at 0x%llx: the config space is read-only",
				    (unsigned long long)off);
		}
	} else {
		uint32_t v = 0;
		for (uint32_t i = 0; i < len && i < 4; i++)
			v |= (uint32_t)data[i] << (8 * i);
		reg_write(d, off, len, v);
	}
	pthread_mutex_unlock(&d->lock);
}

const struct bus_ops virtio_mmio_ops = { .read = mmio_read, .write = mmio_write };
