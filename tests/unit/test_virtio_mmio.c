/* The virtio-mmio transport (src/virtio/mmio.c) and the common device state
 * (src/virtio/device.c), driven through virtio_mmio_ops as a driver would (virtio 1.2, 3.1.1
 * and 4.2.3): identity registers, access widths, feature negotiation, the status state
 * machine, queue setup and the QueueSel check on every queue register, notifications,
 * interrupts, device failure and reset, the config space. The fake device has 2 queues and
 * an 8-byte config space; its notify pops every chain and pushes it back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "virtio/mmio.h"
#include "guest_ram.h"
#include "test.h"

#define RAM 0x10000ull
#define DESC_GPA 0x1000ull
#define AVAIL_GPA 0x2000ull
#define USED_GPA 0x3000ull
#define BUF_GPA 0x4000ull
#define QMAX 16

#define F_DEV0 (1ull << 0)
#define F_DEV5 (1ull << 5)
#define F_INDIRECT (1ull << VIRTIO_F_INDIRECT_DESC)
#define F_EVENT_IDX (1ull << VIRTIO_F_EVENT_IDX)
#define F_V1 (1ull << VIRTIO_F_VERSION_1)
#define F_RING_RESET (1ull << 40) /* listed by the device, never offered by the transport */

/* MMIO register offsets (virtio 1.2, table 4.1). */
enum {
	MAGIC = 0x000, VERSION = 0x004, DEVICE_ID = 0x008, VENDOR_ID = 0x00c,
	DEV_FEAT = 0x010, DEV_FEAT_SEL = 0x014, DRV_FEAT = 0x020, DRV_FEAT_SEL = 0x024,
	QSEL = 0x030, QNUM_MAX = 0x034, QNUM = 0x038, QREADY = 0x044, QNOTIFY = 0x050,
	ISR = 0x060, ISR_ACK = 0x064, STATUS = 0x070,
	QDESC_LO = 0x080, QDESC_HI = 0x084, QDRV_LO = 0x090, QDRV_HI = 0x094,
	QDEV_LO = 0x0a0, QDEV_HI = 0x0a4, SHM_SEL = 0x0ac, SHM_LEN_LO = 0x0b0,
	SHM_LEN_HI = 0x0b4, SHM_BASE_LO = 0x0b8, SHM_BASE_HI = 0x0bc, QRESET = 0x0c0,
	CONFIG_GEN = 0x0fc, CONFIG = 0x100,
};

enum { ACK = 1, DRV = 2, DRV_OK = 4, FEAT_OK = 8, NEEDS_RESET = 64, FAILED = 128 };

static struct virtio_dev dev; /* > 1 MiB: static */
static struct vq_chain chain;
static int irqs, activates, resets, activate_result, kicks, last_kick, notifies;
static uint16_t drv_avail;
static uint8_t cfg[8];

static void fake_irq(void *ctx, unsigned gsi, int level)
{
	(void)ctx;
	(void)gsi;
	if (level)
		irqs++;
}

static void fake_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	(void)d;
	memcpy(data, cfg + off, len);
}

static void fake_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *data,
			      uint32_t len)
{
	(void)d;
	memcpy(cfg + off, data, len);
}

static int fake_activate(struct virtio_dev *d)
{
	(void)d;
	activates++;
	return activate_result;
}

/* Completes every available chain on q with 4 bytes written, as a device would. */
static void fake_notify(struct virtio_dev *d, uint16_t q)
{
	enum vq_result r;

	notifies++;
	while ((r = vq_pop(&d->vq[q], &chain)) == VQ_OK)
		vq_push(&d->vq[q], chain.head, 4);
	if (r == VQ_ERROR)
		virtio_dev_fail(d, d->vq[q].why);
	virtio_dev_used(d, q);
}

static void fake_reset(struct virtio_dev *d)
{
	(void)d;
	resets++;
}

static void fake_kick(void *ctx, uint16_t q)
{
	(void)ctx;
	kicks++;
	last_kick = q;
}

static const struct virtio_dev_ops fake_ops = {
	.kind = "fake",
	.device_id = VIRTIO_ID_RNG,
	.features = F_DEV0 | F_DEV5 | F_INDIRECT | F_EVENT_IDX | F_V1 | F_RING_RESET,
	.num_queues = 2,
	.queue_max_size = QMAX,
	.config_size = sizeof(cfg),
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.activate = fake_activate,
	.notify = fake_notify,
	.reset = fake_reset,
};

/* The same device with a read-only config space and no optional callbacks. */
static const struct virtio_dev_ops bare_ops = {
	.kind = "bare",
	.device_id = VIRTIO_ID_BLOCK,
	.features = F_V1,
	.num_queues = 1,
	.queue_max_size = 8,
	.config_size = 4,
	.config_read = fake_config_read,
};

static uint32_t rd_n(uint64_t off, uint32_t len)
{
	uint8_t b[8];
	uint32_t v = 0;

	memset(b, 0x5a, sizeof(b));
	virtio_mmio_ops.read(&dev, off, b, len);
	for (uint32_t i = 0; i < len && i < 4; i++)
		v |= (uint32_t)b[i] << (8 * i);
	return v;
}

static uint64_t rd64(uint64_t off)
{
	uint8_t b[8];
	uint64_t v = 0;

	virtio_mmio_ops.read(&dev, off, b, 8);
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static uint32_t rd(uint64_t off) { return rd_n(off, 4); }

static void wr_n(uint64_t off, uint32_t len, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	virtio_mmio_ops.write(&dev, off, b, len);
}

static void wr(uint64_t off, uint32_t v) { wr_n(off, 4, v); }

static unsigned long errs(void) { return atomic_load(&dev.guest_errors); }

static void setup_ops(const struct virtio_dev_ops *ops)
{
	const struct gm_region r[] = { { .gpa = 0, .size = RAM } };
	const struct irq_line irq = { .set = fake_irq, .gsi = 5 };
	char err[128];

	if (!gm.base && gm_create(&gm, r, 1, err, sizeof(err)) < 0) {
		printf("gm_create: %s\n", err);
		exit(1);
	}
	memset(gm_ptr(&gm, 0, RAM), 0, RAM);
	virtio_dev_init(&dev, ops, NULL, "virtio-test0", &gm, &irq);
	irqs = activates = resets = activate_result = kicks = notifies = 0;
	last_kick = -1;
	drv_avail = 0;
	for (unsigned i = 0; i < sizeof(cfg); i++)
		cfg[i] = (uint8_t)(0x10 + i);
}

static void setup(void) { setup_ops(&fake_ops); }

/* 3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, features (both halves), FEATURES_OK. */
static void negotiate(uint64_t features)
{
	wr(STATUS, 0);
	wr(STATUS, ACK);
	wr(STATUS, ACK | DRV);
	wr(DRV_FEAT_SEL, 0);
	wr(DRV_FEAT, (uint32_t)features);
	wr(DRV_FEAT_SEL, 1);
	wr(DRV_FEAT, (uint32_t)(features >> 32));
	wr(STATUS, ACK | DRV | FEAT_OK);
}

/* 4.2.3.2: queue q of `size` at the fixed ring addresses (queue 1 uses the next 0x8000). */
static void queue_setup(uint32_t q, uint32_t size)
{
	uint64_t o = q ? 0x8000 : 0;

	wr(QSEL, q);
	wr(QNUM, size);
	wr(QDESC_LO, (uint32_t)(DESC_GPA + o));
	wr(QDESC_HI, 0);
	wr(QDRV_LO, (uint32_t)(AVAIL_GPA + o));
	wr(QDRV_HI, 0);
	wr(QDEV_LO, (uint32_t)(USED_GPA + o));
	wr(QDEV_HI, 0);
	wr(QREADY, 1);
}

/* A driver all the way to DRIVER_OK with queue 0 of size 8. */
static void bring_up(uint64_t features)
{
	negotiate(features);
	queue_setup(0, 8);
	wr(STATUS, ACK | DRV | FEAT_OK | DRV_OK);
}


/* Offers one 64-byte writable buffer as descriptor `head` of queue 0 (size 8). */
static void offer(uint16_t head)
{
	uint8_t d[16] = { 0 };
	uint64_t addr = BUF_GPA + 64ull * head;
	uint32_t len = 64;
	uint16_t flags = VQ_DESC_F_WRITE;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	CHECK_EQ(gm_write(&gm, DESC_GPA + 16ull * head, d, 16), 0);
	put16(AVAIL_GPA + 4 + 2ull * (drv_avail % 8), head);
	drv_avail++;
	put16(AVAIL_GPA + 2, drv_avail);
}

static uint16_t used_idx(void) { return get16(USED_GPA + 2); }

static void identity_registers(void)
{
	setup();
	CHECK_EQ(rd(MAGIC), 0x74726976u);
	CHECK_EQ(rd(VERSION), 2u);
	CHECK_EQ(rd(DEVICE_ID), (uint32_t)VIRTIO_ID_RNG);
	CHECK_EQ(rd(VENDOR_ID), 0x45544f4du);
	CHECK_EQ(rd(STATUS), 0u);
	CHECK_EQ(rd(ISR), 0u);
	CHECK_EQ(rd(CONFIG_GEN), 0u);
	/* No shared memory regions, whatever SHMSel says: length and base -1. */
	wr(SHM_SEL, 3);
	CHECK_EQ(rd(SHM_LEN_LO), 0xffffffffu);
	CHECK_EQ(rd(SHM_LEN_HI), 0xffffffffu);
	CHECK_EQ(rd(SHM_BASE_LO), 0xffffffffu);
	CHECK_EQ(rd(SHM_BASE_HI), 0xffffffffu);
	CHECK_EQ(errs(), 0ul);
	virtio_dev_destroy(&dev);
}

static void register_access_rules(void)
{
	setup();
	/* Unknown offsets (and the legacy registers) read all ones. */
	CHECK_EQ(rd(0x0f0), 0xffffffffu);
	CHECK_EQ(rd(0x028), 0xffffffffu); /* legacy GuestPageSize */
	CHECK_EQ(rd(0x040), 0xffffffffu); /* legacy QueuePFN */
	CHECK_EQ(errs(), 3ul);
	/* Reading a write-only register, writing a read-only one. */
	CHECK_EQ(rd(QNUM), 0xffffffffu);
	wr(MAGIC, 0);
	wr(DEVICE_ID, 7);
	CHECK_EQ(rd(DEVICE_ID), (uint32_t)VIRTIO_ID_RNG);
	CHECK_EQ(errs(), 6ul);
	/* Only aligned 32-bit accesses: other widths read all ones and write nothing. */
	wr(STATUS, ACK);
	CHECK_EQ(rd_n(STATUS, 1), 0xffu);
	CHECK_EQ(rd_n(STATUS, 2), 0xffffu);
	CHECK_EQ(rd64(STATUS), ~0ull);
	CHECK_EQ(rd_n(STATUS + 1, 1), 0xffu);
	CHECK_EQ(rd_n(MAGIC + 2, 4), 0xffffffffu); /* misaligned */
	CHECK_EQ(errs(), 11ul);
	wr_n(STATUS, 1, ACK | DRV);
	wr_n(STATUS, 2, ACK | DRV);
	wr_n(STATUS, 8, ACK | DRV);
	wr_n(STATUS + 2, 4, 0);
	CHECK_EQ(rd(STATUS), (uint32_t)ACK);
	CHECK_EQ(errs(), 15ul);
	/* An access straddling the registers and the config space is a register access. */
	CHECK_EQ(rd_n(0x0fe, 4), 0xffffffffu);
	CHECK_EQ(errs(), 16ul);
	virtio_dev_destroy(&dev);
}

static void feature_negotiation(void)
{
	setup();
	wr(DEV_FEAT_SEL, 0);
	CHECK_EQ(rd(DEV_FEAT), (uint32_t)(F_DEV0 | F_DEV5 | F_INDIRECT | F_EVENT_IDX));
	wr(DEV_FEAT_SEL, 1);
	CHECK_EQ(rd(DEV_FEAT), 1u); /* VERSION_1; RING_RESET is not offered by this transport */
	wr(DEV_FEAT_SEL, 2);
	CHECK_EQ(rd(DEV_FEAT), 0u);
	wr(DEV_FEAT_SEL, 0xffffffff);
	CHECK_EQ(rd(DEV_FEAT), 0u);
	CHECK_EQ(errs(), 0ul);

	/* Without VERSION_1: FEATURES_OK is left clear for the driver to read back. */
	negotiate(F_DEV0 | F_INDIRECT);
	CHECK_EQ(rd(STATUS), (uint32_t)(ACK | DRV));
	CHECK_EQ(errs(), 1ul);
	/* Still negotiating: the driver may try again with VERSION_1 (both halves). */
	wr(DRV_FEAT_SEL, 1);
	wr(DRV_FEAT, 1);
	wr(STATUS, ACK | DRV | FEAT_OK);
	CHECK_EQ(rd(STATUS), (uint32_t)(ACK | DRV | FEAT_OK));
	CHECK_EQ(dev.driver_features, F_DEV0 | F_INDIRECT | F_V1);
	/* After FEATURES_OK the features are frozen. */
	wr(DRV_FEAT_SEL, 0);
	wr(DRV_FEAT, (uint32_t)(F_DEV5 | F_EVENT_IDX));
	CHECK_EQ(dev.driver_features, F_DEV0 | F_INDIRECT | F_V1);
	CHECK_EQ(errs(), 2ul);

	/* Bits that were not offered: refused, low half and high half. */
	negotiate(F_V1 | (1ull << 3));
	CHECK_EQ(rd(STATUS), (uint32_t)(ACK | DRV));
	negotiate(F_V1 | F_RING_RESET);
	CHECK_EQ(rd(STATUS), (uint32_t)(ACK | DRV));
	CHECK_EQ(errs(), 4ul);
	/* Bits above 63 cannot be accepted: ignored (and counted) when not zero. */
	negotiate(F_V1);
	CHECK_EQ(rd(STATUS), (uint32_t)(ACK | DRV | FEAT_OK));
	wr(STATUS, 0);
	wr(DRV_FEAT_SEL, 2);
	wr(DRV_FEAT, 0);
	CHECK_EQ(errs(), 4ul);
	wr(DRV_FEAT, 1);
	CHECK_EQ(errs(), 5ul);
	CHECK_EQ(dev.driver_features, 0ull);
	virtio_dev_destroy(&dev);
}

static void status_state_machine(void)
{
	setup();
	wr(STATUS, DRV); /* DRIVER before ACKNOWLEDGE */
	CHECK_EQ(rd(STATUS), 0u);
	wr(STATUS, ACK);
	CHECK_EQ(rd(STATUS), (uint32_t)ACK);
	wr(STATUS, ACK); /* the same value again: no change, no error */
	CHECK_EQ(errs(), 1ul);
	wr(STATUS, ACK | DRV | DRV_OK); /* skips FEATURES_OK */
	wr(STATUS, ACK | FEAT_OK);      /* skips DRIVER */
	wr(STATUS, DRV);                /* clears ACKNOWLEDGE */
	wr(STATUS, ACK | 0x10);         /* undefined bit */
	wr(STATUS, ACK | NEEDS_RESET);  /* the device's bit */
	CHECK_EQ(rd(STATUS), (uint32_t)ACK);
	CHECK_EQ(errs(), 6ul);
	CHECK_EQ(activates, 0);

	/* Several steps in one write are fine when they are in order. */
	wr(STATUS, 0);
	wr(DRV_FEAT_SEL, 1);
	wr(DRV_FEAT, 1);
	wr(STATUS, ACK | DRV | FEAT_OK | DRV_OK);
	CHECK_EQ(rd(STATUS), (uint32_t)(ACK | DRV | FEAT_OK | DRV_OK));
	CHECK_EQ(activates, 1);
	CHECK(virtio_dev_running(&dev));
	wr(STATUS, ACK | DRV | FEAT_OK); /* clearing DRIVER_OK needs a reset */
	CHECK_EQ(rd(STATUS), (uint32_t)(ACK | DRV | FEAT_OK | DRV_OK));
	CHECK_EQ(errs(), 7ul);

	/* FAILED from the driver is accepted; then only a reset moves on. */
	int r0 = resets;
	wr(STATUS, 0);
	CHECK_EQ(resets, r0 + 1);
	wr(STATUS, ACK);
	wr(STATUS, ACK | FAILED);
	CHECK_EQ(rd(STATUS), (uint32_t)(ACK | FAILED));
	wr(STATUS, ACK | FAILED | DRV);
	CHECK_EQ(rd(STATUS), (uint32_t)(ACK | FAILED));
	CHECK_EQ(errs(), 8ul);
	wr(STATUS, 0);
	CHECK_EQ(rd(STATUS), 0u);

	/* A device whose activation fails needs a reset. */
	activate_result = -1;
	negotiate(F_V1);
	wr(STATUS, ACK | DRV | FEAT_OK | DRV_OK);
	CHECK_EQ(rd(STATUS), (uint32_t)(ACK | DRV | FEAT_OK | DRV_OK | NEEDS_RESET));
	CHECK(!virtio_dev_running(&dev));
	/* The driver writes back what it read plus FAILED: accepted. */
	wr(STATUS, ACK | DRV | FEAT_OK | DRV_OK | NEEDS_RESET | FAILED);
	CHECK(rd(STATUS) & FAILED);
	virtio_dev_destroy(&dev);
}

static void queue_setup_and_pop(void)
{
	setup();
	negotiate(F_V1);
	wr(QSEL, 0);
	CHECK_EQ(rd(QREADY), 0u);
	CHECK_EQ(rd(QNUM_MAX), (uint32_t)QMAX);
	/* Not a power of two, above QueueNumMax, zero: each fails the device (driver and device
	 * would disagree on the ring size) and leaves the size alone; a reset recovers. */
	const uint32_t bad_num[] = {3, QMAX * 2, 0};
	for (unsigned i = 0; i < 3; i++) {
		wr(QNUM, bad_num[i]);
		CHECK(rd(STATUS) & NEEDS_RESET);
		CHECK_EQ(dev.qregs[0].size, QMAX); /* unchanged: the default is the maximum */
		wr(STATUS, 0);
		CHECK_EQ(rd(STATUS), 0u);
		negotiate(F_V1);
		wr(QSEL, 0);
	}
	CHECK_EQ(errs(), 3ul);
	queue_setup(0, 8);
	CHECK_EQ(errs(), 3ul);
	CHECK_EQ(rd(QREADY), 1u);
	CHECK(dev.qregs[0].ready);
	CHECK_EQ(dev.vq[0].size, 8);
	CHECK(!dev.vq[0].event_idx && !dev.vq[0].indirect);
	/* 64-bit addresses from the two halves. */
	CHECK_EQ(dev.qregs[0].desc, DESC_GPA);
	CHECK_EQ(dev.qregs[0].avail, AVAIL_GPA);
	CHECK_EQ(dev.qregs[0].used, USED_GPA);
	/* While ready, the queue's setup registers are refused (4.2.2). */
	wr(QNUM, 4);
	wr(QDESC_LO, 0x5000);
	wr(QDESC_HI, 1);
	wr(QDRV_LO, 0x5000);
	wr(QDEV_HI, 1);
	CHECK_EQ(errs(), 8ul);
	CHECK_EQ(dev.qregs[0].size, 8);
	CHECK_EQ(dev.qregs[0].desc, DESC_GPA);
	wr(QREADY, 1); /* again: no re-enable */
	wr(QREADY, 2);
	CHECK_EQ(errs(), 9ul);
	CHECK_EQ(dev.vq[0].size, 8);

	/* The enabled vq is the driver's ring: pop from it directly. */
	offer(3);
	CHECK_EQ(vq_pop(&dev.vq[0], &chain), VQ_OK);
	CHECK_EQ(chain.head, 3);
	CHECK_EQ(chain.nwrite, 1u);
	CHECK_EQ(chain.write_bytes, 64u);
	CHECK(chain.iov[0].base == gm_ptr(&gm, BUF_GPA + 3 * 64, 64));
	CHECK_EQ(vq_push(&dev.vq[0], chain.head, 8), 0);
	CHECK_EQ(used_idx(), 1);

	/* QueueReady 0 disables it; then it can be reprogrammed. */
	wr(QREADY, 0);
	CHECK_EQ(rd(QREADY), 0u);
	CHECK_EQ(dev.vq[0].size, 0);
	wr(QNUM, 4);
	CHECK_EQ(dev.qregs[0].size, 4);
	virtio_dev_destroy(&dev);
}

static void queue_enable_rules(void)
{
	setup();
	/* QueueReady before FEATURES_OK: the ring flags are not settled yet. */
	wr(STATUS, ACK);
	wr(STATUS, ACK | DRV);
	queue_setup(0, 8);
	CHECK_EQ(rd(QREADY), 0u);
	CHECK_EQ(errs(), 1ul);
	/* Negotiated EVENT_IDX and INDIRECT_DESC reach the vq. */
	negotiate(F_V1 | F_EVENT_IDX | F_INDIRECT);
	queue_setup(1, 16);
	CHECK_EQ(rd(QREADY), 1u);
	CHECK(dev.vq[1].event_idx && dev.vq[1].indirect);
	CHECK_EQ(dev.vq[1].size, 16);
	/* A bad ring (misaligned descriptor table): the device fails itself. */
	wr(QSEL, 0);
	wr(QNUM, 8);
	wr(QDESC_LO, DESC_GPA + 8);
	wr(QDRV_LO, AVAIL_GPA);
	wr(QDEV_LO, USED_GPA);
	unsigned long before = errs();
	wr(QREADY, 1);
	CHECK_EQ(rd(QREADY), 0u);
	CHECK(rd(STATUS) & NEEDS_RESET);
	CHECK_EQ(errs(), before + 1);
	CHECK_EQ(irqs, 0); /* before DRIVER_OK: no configuration interrupt */
	/* DRIVER_OK is refused on a failed device; activate never runs. */
	wr(STATUS, ACK | DRV | FEAT_OK | DRV_OK);
	CHECK(!(rd(STATUS) & DRV_OK));
	CHECK_EQ(activates, 0);
	/* A ring outside guest RAM. */
	wr(STATUS, 0);
	negotiate(F_V1);
	wr(QSEL, 0);
	wr(QDESC_LO, 0);
	wr(QDESC_HI, 1);
	wr(QREADY, 1);
	CHECK_EQ(rd(QREADY), 0u);
	CHECK(rd(STATUS) & NEEDS_RESET);
	virtio_dev_destroy(&dev);
}

/* Every queue register with QueueSel out of range: reads 0, writes change nothing, and
 * each is counted, except the two reads the spec's probe uses (4.2.3.2). */
static void queue_selector_out_of_range(void)
{
	static const uint32_t writes[] = { QNUM, QREADY, QDESC_LO, QDESC_HI, QDRV_LO,
					   QDRV_HI, QDEV_LO, QDEV_HI, QRESET };
	static const uint32_t sels[] = { 2, 8, 0x10000, 0xffffffff };
	struct virtio_queue_regs before[VIRTIO_MAX_QUEUES];

	setup();
	negotiate(F_V1);
	memcpy(before, dev.qregs, sizeof(before));
	for (size_t s = 0; s < sizeof(sels) / sizeof(sels[0]); s++) {
		wr(QSEL, sels[s]);
		unsigned long e = errs();
		CHECK_EQ(rd(QNUM_MAX), 0u); /* "the queue is not available" */
		CHECK_EQ(rd(QREADY), 0u);
		CHECK_EQ(errs(), e);
		CHECK_EQ(rd(QRESET), 0u);
		CHECK_EQ(errs(), e + 1);
		for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
			wr(writes[i], 1);
			CHECK_EQ(errs(), e + 2 + i);
		}
		CHECK(memcmp(before, dev.qregs, sizeof(before)) == 0);
		for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
			CHECK_EQ(dev.vq[q].size, 0);
	}
	CHECK_EQ(rd(STATUS) & NEEDS_RESET, 0u);
	/* In range, QueueReset is refused too: VIRTIO_F_RING_RESET is never offered. */
	wr(QSEL, 1);
	unsigned long e = errs();
	CHECK_EQ(rd(QRESET), 0u);
	wr(QRESET, 1);
	CHECK_EQ(errs(), e + 1);
	virtio_dev_destroy(&dev);
}

static void notifications(void)
{
	setup();
	dev.kick = fake_kick;
	negotiate(F_V1);
	queue_setup(0, 8);
	/* Before DRIVER_OK: refused, the device must not process. */
	wr(QNOTIFY, 0);
	CHECK_EQ(kicks, 0);
	CHECK_EQ(errs(), 1ul);
	wr(STATUS, ACK | DRV | FEAT_OK | DRV_OK);
	wr(QNOTIFY, 0);
	CHECK_EQ(kicks, 1);
	CHECK_EQ(last_kick, 0);
	CHECK_EQ(notifies, 0); /* the I/O thread calls notify, not the vCPU */
	/* Bad index, a queue that is not ready, other widths: refused, not masked. */
	wr(QNOTIFY, 2);
	wr(QNOTIFY, 0x10000);
	wr(QNOTIFY, 0xffffffff);
	wr(QNOTIFY, 1); /* queue 1 exists but is not ready */
	wr_n(QNOTIFY, 2, 0);
	CHECK_EQ(kicks, 1);
	CHECK_EQ(errs(), 6ul);
	CHECK_EQ(rd(STATUS) & NEEDS_RESET, 0u);

	/* Without a kick wired, the device's notify runs inline (under the lock). */
	dev.kick = NULL;
	offer(1);
	offer(2);
	wr(QNOTIFY, 0);
	CHECK_EQ(notifies, 1);
	CHECK_EQ(atomic_load(&dev.notifies), 1ul);
	CHECK_EQ(used_idx(), 2);
	CHECK_EQ(get16(USED_GPA + 4), 1); /* used[0].id */
	CHECK_EQ(get16(USED_GPA + 12), 2);
	virtio_dev_destroy(&dev);
}

static void interrupts(void)
{
	setup();
	bring_up(F_V1);
	offer(0);
	wr(QNOTIFY, 0);
	CHECK_EQ(used_idx(), 1);
	CHECK_EQ(irqs, 1);
	CHECK_EQ(atomic_load(&dev.interrupts), 1ul);
	CHECK_EQ(rd(ISR), (uint32_t)VIRTIO_ISR_USED);
	wr(ISR_ACK, VIRTIO_ISR_USED);
	CHECK_EQ(rd(ISR), 0u);
	CHECK_EQ(errs(), 0ul);
	/* VIRTQ_AVAIL_F_NO_INTERRUPT: buffers are used, no interrupt and no ISR bit. */
	put16(AVAIL_GPA, VQ_AVAIL_F_NO_INTERRUPT);
	offer(1);
	wr(QNOTIFY, 0);
	CHECK_EQ(used_idx(), 2);
	CHECK_EQ(irqs, 1);
	CHECK_EQ(rd(ISR), 0u);
	put16(AVAIL_GPA, 0);
	offer(2);
	wr(QNOTIFY, 0);
	CHECK_EQ(irqs, 2);
	/* ACK with undefined bits: counted, the defined ones still acknowledged. */
	wr(ISR_ACK, 0xff);
	CHECK_EQ(rd(ISR), 0u);
	CHECK_EQ(errs(), 1ul);
	/* virtio_dev_used for a queue that does not exist: nothing. */
	pthread_mutex_lock(&dev.lock);
	virtio_dev_used(&dev, 2);
	virtio_dev_used(&dev, 0xffff);
	pthread_mutex_unlock(&dev.lock);
	CHECK_EQ(irqs, 2);
	virtio_dev_destroy(&dev);
}

static void event_idx_interrupts(void)
{
	setup();
	bring_up(F_V1 | F_EVENT_IDX);
	CHECK(dev.vq[0].event_idx);
	put16(AVAIL_GPA + 4 + 2 * 8, 1); /* used_event: interrupt once used idx passes 1 */
	offer(0);
	wr(QNOTIFY, 0);
	CHECK_EQ(irqs, 1); /* the first one always interrupts */
	offer(1);
	wr(QNOTIFY, 0);
	CHECK_EQ(irqs, 2); /* used idx 1 -> 2 crosses used_event 1 */
	offer(2);
	wr(QNOTIFY, 0);
	CHECK_EQ(irqs, 2); /* 2 -> 3 does not */
	virtio_dev_destroy(&dev);
}

static void failure_and_reset(void)
{
	setup();
	bring_up(F_V1 | F_EVENT_IDX);
	dev.kick = fake_kick;
	pthread_mutex_lock(&dev.lock);
	virtio_dev_fail(&dev, "test failure");
	virtio_dev_fail(&dev, "second failure"); /* idempotent */
	pthread_mutex_unlock(&dev.lock);
	CHECK_EQ(rd(STATUS), (uint32_t)(ACK | DRV | FEAT_OK | DRV_OK | NEEDS_RESET));
	CHECK_EQ(rd(ISR), (uint32_t)VIRTIO_ISR_CONFIG);
	CHECK_EQ(irqs, 1);
	CHECK_EQ(errs(), 1ul);
	CHECK(!virtio_dev_running(&dev));
	/* No more processing: a notify is dropped quietly, used buffers raise nothing. */
	wr(QNOTIFY, 0);
	CHECK_EQ(kicks, 0);
	CHECK_EQ(errs(), 1ul);
	pthread_mutex_lock(&dev.lock);
	virtio_dev_used(&dev, 0);
	pthread_mutex_unlock(&dev.lock);
	CHECK_EQ(irqs, 1);
	wr(ISR_ACK, VIRTIO_ISR_CONFIG);

	/* Reset: everything back to the initial state, the device told. */
	int r0 = resets;
	wr(STATUS, 0);
	CHECK_EQ(resets, r0 + 1);
	CHECK_EQ(rd(STATUS), 0u);
	CHECK_EQ(rd(ISR), 0u);
	CHECK_EQ(dev.driver_features, 0ull);
	CHECK_EQ(dev.queue_sel, 0u);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		CHECK(!dev.qregs[q].ready);
		CHECK_EQ(dev.qregs[q].size, QMAX);
		CHECK_EQ(dev.qregs[q].desc, 0ull);
		CHECK_EQ(dev.vq[q].size, 0);
	}
	CHECK_EQ(rd(QREADY), 0u);

	/* And it works again, from a fresh ring. */
	memset(gm_ptr(&gm, 0, RAM), 0, RAM);
	drv_avail = 0;
	dev.kick = NULL;
	bring_up(F_V1);
	CHECK(virtio_dev_running(&dev));
	CHECK_EQ(activates, 2);
	offer(5);
	wr(QNOTIFY, 0);
	CHECK_EQ(used_idx(), 1);
	CHECK_EQ(irqs, 2);
	wr(ISR_ACK, VIRTIO_ISR_USED);

	/* A ring error found by the device's notify fails it after DRIVER_OK: config irq. */
	put16(AVAIL_GPA + 4 + 2, 9); /* head 9 >= size 8 */
	put16(AVAIL_GPA + 2, ++drv_avail);
	wr(QNOTIFY, 0);
	CHECK(rd(STATUS) & NEEDS_RESET);
	CHECK_EQ(rd(ISR), (uint32_t)VIRTIO_ISR_CONFIG);
	CHECK_EQ(irqs, 3);
	virtio_dev_destroy(&dev);
}

static void config_space(void)
{
	setup();
	CHECK_EQ(rd_n(CONFIG, 1), 0x10u);
	CHECK_EQ(rd_n(CONFIG + 1, 2), 0x1211u); /* unaligned inside the space is served */
	CHECK_EQ(rd_n(CONFIG + 4, 4), 0x17161514u);
	CHECK_EQ(rd64(CONFIG), 0x1716151413121110ull);
	CHECK_EQ(errs(), 0ul);
	/* Past the end, or an odd width: all ones, counted. */
	CHECK_EQ(rd_n(CONFIG + sizeof(cfg) - 1, 2), 0xffffu);
	CHECK_EQ(rd_n(CONFIG + sizeof(cfg), 1), 0xffu);
	CHECK_EQ(rd64(CONFIG + 4), ~0ull);
	CHECK_EQ(rd_n(CONFIG, 3), 0xffffffu);
	CHECK_EQ(rd_n(VIRTIO_MMIO_WINDOW - 1, 1), 0xffu);
	CHECK_EQ(errs(), 5ul);
	/* Writes go to the device inside the bounds only. */
	wr_n(CONFIG + 2, 2, 0xbeef);
	CHECK_EQ(cfg[2], 0xef);
	CHECK_EQ(cfg[3], 0xbe);
	wr_n(CONFIG + 7, 2, 0);
	wr_n(CONFIG, 3, 0);
	CHECK_EQ(cfg[7], 0x17);
	CHECK_EQ(cfg[0], 0x10);
	CHECK_EQ(errs(), 7ul);

	/* ConfigGeneration moves when the device changes the space; the interrupt waits for
	 * DRIVER_OK. */
	pthread_mutex_lock(&dev.lock);
	virtio_dev_config_changed(&dev);
	pthread_mutex_unlock(&dev.lock);
	CHECK_EQ(rd(CONFIG_GEN), 1u);
	CHECK_EQ(irqs, 0);
	bring_up(F_V1);
	pthread_mutex_lock(&dev.lock);
	virtio_dev_config_changed(&dev);
	pthread_mutex_unlock(&dev.lock);
	CHECK_EQ(rd(CONFIG_GEN), 2u);
	CHECK_EQ(rd(ISR), (uint32_t)VIRTIO_ISR_CONFIG);
	CHECK_EQ(irqs, 1);
	wr(STATUS, 0);
	CHECK_EQ(rd(CONFIG_GEN), 2u); /* a reset does not rewind it */
	virtio_dev_destroy(&dev);

	/* A read-only config space and no optional callbacks. */
	setup_ops(&bare_ops);
	CHECK_EQ(rd(DEVICE_ID), (uint32_t)VIRTIO_ID_BLOCK);
	CHECK_EQ(rd_n(CONFIG, 4), 0x13121110u);
	wr_n(CONFIG, 1, 0);
	CHECK_EQ(cfg[0], 0x10);
	CHECK_EQ(errs(), 1ul);
	CHECK_EQ(rd_n(CONFIG + 4, 1), 0xffu);
	wr(DEV_FEAT_SEL, 1);
	CHECK_EQ(rd(DEV_FEAT), 1u);
	bring_up(F_V1);
	CHECK(virtio_dev_running(&dev)); /* no activate callback needed */
	wr(QNOTIFY, 0);                  /* no kick and no notify: nothing to call */
	wr(STATUS, 0);                   /* no reset callback */
	CHECK_EQ(rd(STATUS), 0u);
	virtio_dev_destroy(&dev);
}

int main(void)
{
	test_suite_name = "virtio_mmio";
	log_set_level(LOG_ERROR); /* guest errors are counted, not printed */
	RUN(identity_registers);
	RUN(register_access_rules);
	RUN(feature_negotiation);
	RUN(status_state_machine);
	RUN(queue_setup_and_pop);
	RUN(queue_enable_rules);
	RUN(queue_selector_out_of_range);
	RUN(notifications);
	RUN(interrupts);
	RUN(event_idx_interrupts);
	RUN(failure_and_reset);
	RUN(config_space);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
