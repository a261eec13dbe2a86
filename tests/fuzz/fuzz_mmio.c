/* libFuzzer target for the virtio-mmio transport (src/virtio/mmio.c, src/virtio/device.c).
 * The input is a stream of driver and device operations run against a fake device with two
 * queues and an 8-byte config space over 64 KiB of guest RAM whose contents come from the
 * input too, so once the driver enables queues the rings hold fuzzer-chosen data. After every
 * operation the transport's promises are checked; any violation aborts:
 *   status only ever holds defined bits, DRIVER_OK implies ACKNOWLEDGE, DRIVER and
 *   FEATURES_OK, FEATURES_OK implies VERSION_1 and nothing unoffered; a queue is ready iff
 *   its vq is enabled, queues past num_queues never are; sizes are powers of two <= the
 *   maximum; InterruptStatus holds only defined bits; refused register reads are all ones;
 *   the device's callbacks see in-bounds config ranges, notify only while running, activate
 *   only with DRIVER_OK and every ready queue enabled.
 *
 * Input: [0] flags: bit 0 wire a kick (notifications go through a simulated I/O thread,
 *            as with ioeventfds) instead of the transport calling notify inline; bit 1 the
 *            device's activate fails; bit 2 offsets may lie outside the 0x200 window.
 *        [1] number of 8-byte ops that follow; then guest RAM contents.
 * Op:    [0] kind % 8: read, write, notify, device completion, reset, bring-up (a whole
 *            3.1.1 initialisation through the registers), device event, write;
 *        [1..2] offset (LE), [3] width 1 << (b & 3), or, with bit 7 set, a 32-bit access to
 *            register (offset % 64) * 4; [4..7] value (LE). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "fuzz_ram.h"
#include "virtio/mmio.h"

#define FUZZ_RAM (64u << 10)
#define FUZZ_HDR 2u
#define OP_LEN 8u
#define QMAX 64
#define NQ 2
#define CFG_SIZE 8
#define MAX_DEFER 16
#define TOUCH_BUDGET (256u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem *gm; /* fuzz_ram(), set on the first input */
static struct virtio_dev dev;
static struct vq_chain ch;
static uint8_t cfg[CFG_SIZE];
static uint8_t flags;
static unsigned kick_pending;
static uint32_t budget;
static struct {
	uint16_t head[MAX_DEFER];
	unsigned n;
} deferred[NQ];

static void must(int cond)
{
	if (!cond)
		abort();
}

static void cfg_read(struct virtio_dev *d, uint32_t off, uint8_t *p, uint32_t len)
{
	(void)d;
	must(len >= 1 && len <= 8 && off < CFG_SIZE && len <= CFG_SIZE - off);
	memcpy(p, cfg + off, len);
}

static void cfg_write(struct virtio_dev *d, uint32_t off, const uint8_t *p, uint32_t len)
{
	(void)d;
	must(len >= 1 && len <= 8 && off < CFG_SIZE && len <= CFG_SIZE - off);
	memcpy(cfg + off, p, len);
}

static int fake_activate(struct virtio_dev *d)
{
	must((d->status & VIRTIO_STATUS_DRIVER_OK) && (d->status & VIRTIO_STATUS_FEATURES_OK));
	must(!(d->status & VIRTIO_STATUS_NEEDS_RESET));
	for (unsigned q = 0; q < NQ; q++)
		must(!d->qregs[q].ready || d->vq[q].size == d->qregs[q].size);
	return (flags & 2) ? -1 : 0;
}

/* Every iov inside guest RAM; writes a pattern into the writable part, reads the rest. */
static uint32_t touch_chain(void)
{
	static uint8_t buf[4096];
	const uint8_t *lo = gm_ptr(gm, 0, FUZZ_RAM);

	must(ch.nread + ch.nwrite >= 1 && ch.nread + ch.nwrite <= VQ_MAX_IOV);
	for (uint32_t i = 0; i < ch.nread + ch.nwrite; i++) {
		const uint8_t *b = ch.iov[i].base;
		must(ch.iov[i].len > 0 && b >= lo && (size_t)(b - lo) <= FUZZ_RAM - ch.iov[i].len);
	}
	size_t rlen = ch.read_bytes < sizeof(buf) ? (size_t)ch.read_bytes : sizeof(buf);
	size_t wlen = ch.write_bytes < sizeof(buf) ? (size_t)ch.write_bytes : sizeof(buf);
	if (rlen + wlen > budget)
		return 0;
	budget -= (uint32_t)(rlen + wlen);
	must(vq_chain_read(&ch, 0, buf, rlen) == rlen);
	must(vq_chain_write(&ch, 0, buf, wlen) == wlen);
	return (uint32_t)wlen;
}

/* The device completes work on q: pops up to `max` chains, pushes them now or later. */
static void device_work(struct virtio_dev *d, uint16_t q, unsigned max, uint32_t how)
{
	struct virtqueue *vq = &d->vq[q];

	for (unsigned i = 0; i < max && virtio_dev_running(d); i++) {
		vq_set_notify(vq, false);
		enum vq_result r = vq_pop(vq, &ch);
		if (r == VQ_ERROR) {
			must(vq->why != NULL);
			virtio_dev_fail(d, vq->why);
			break;
		}
		if (r == VQ_EMPTY)
			break;
		uint32_t written = touch_chain();
		if ((how & 2) && deferred[q].n < MAX_DEFER)
			deferred[q].head[deferred[q].n++] = ch.head;
		else
			must(vq_push(vq, ch.head, written) == 0);
	}
	if (how & 4) {
		/* The driver may have disabled (and re-enabled) the queue meanwhile, which the
		 * device is not told: a stale head is refused, and the device gives up. */
		for (unsigned i = 0; i < deferred[q].n; i++)
			if (vq_push(vq, deferred[q].head[i], 0) < 0) {
				must(vq->why != NULL || vq->size == 0);
				virtio_dev_fail(d, "fuzz: completion for a queue that was reset");
			}
		deferred[q].n = 0;
	}
	vq_set_notify(vq, true);
	virtio_dev_used(d, q);
}

static void fake_notify(struct virtio_dev *d, uint16_t q)
{
	must(q < NQ && virtio_dev_running(d) && d->qregs[q].ready);
	device_work(d, q, 8, 0);
}

/* The driver reset the device: in-flight heads are forgotten (vq_reset drops them too). */
static void fake_reset(struct virtio_dev *d)
{
	(void)d;
	memset(deferred, 0, sizeof(deferred));
}

static void fake_kick(void *ctx, uint16_t q)
{
	(void)ctx;
	must(q < NQ);
	kick_pending |= 1u << q;
}

static const struct virtio_dev_ops fuzz_ops = {
	.kind = "fuzz",
	.device_id = VIRTIO_ID_RNG,
	.features = 1ull | 1ull << VIRTIO_F_INDIRECT_DESC | 1ull << VIRTIO_F_EVENT_IDX |
		    1ull << VIRTIO_F_VERSION_1,
	.num_queues = NQ,
	.queue_max_size = QMAX,
	.config_size = CFG_SIZE,
	.config_read = cfg_read,
	.config_write = cfg_write,
	.activate = fake_activate,
	.notify = fake_notify,
	.reset = fake_reset,
};

static void check_state(void)
{
	const uint32_t defined = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK |
				 VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED;
	const uint32_t pre_ok = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				VIRTIO_STATUS_FEATURES_OK;
	uint32_t s = dev.status;

	must(!(s & ~defined));
	if (s & VIRTIO_STATUS_DRIVER_OK)
		must((s & pre_ok) == pre_ok);
	if (s & VIRTIO_STATUS_FEATURES_OK)
		must(virtio_has_feature(&dev, VIRTIO_F_VERSION_1) &&
		     !(dev.driver_features & ~fuzz_ops.features));
	if (s & VIRTIO_STATUS_NEEDS_RESET)
		must(!virtio_dev_running(&dev));
	must(!(atomic_load(&dev.isr) & ~(uint32_t)(VIRTIO_ISR_USED | VIRTIO_ISR_CONFIG)));
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		uint16_t sz = dev.qregs[q].size;
		must(sz >= 1 && sz <= QMAX && !(sz & (sz - 1)));
		if (q >= NQ)
			must(!dev.qregs[q].ready && dev.vq[q].size == 0);
		else if (dev.qregs[q].ready)
			must(dev.vq[q].size == sz);
		else
			must(dev.vq[q].size == 0);
	}
}

/* What the I/O thread does with kicks (cf. attach.c): notify while running. */
static void io_thread(void)
{
	unsigned pending = kick_pending;

	kick_pending = 0;
	pthread_mutex_lock(&dev.lock);
	for (uint16_t q = 0; q < NQ; q++)
		if ((pending & (1u << q)) && virtio_dev_running(&dev))
			dev.ops->notify(&dev, q);
	pthread_mutex_unlock(&dev.lock);
}

static void mmio_wr(uint64_t off, uint32_t len, uint64_t v)
{
	uint8_t b[8];

	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	virtio_mmio_ops.write(&dev, off, b, len);
	if (kick_pending)
		io_thread();
}

static void mmio_rd(uint64_t off, uint32_t len)
{
	uint8_t b[8];

	memset(b, 0x5a, sizeof(b));
	virtio_mmio_ops.read(&dev, off, b, len);
	/* len is 1, 2, 4 or 8 here: registers take 4 aligned, the config space all four. */
	bool refused = off < VIRTIO_MMIO_CONFIG ? len != 4 || (off & 3)
						: off - VIRTIO_MMIO_CONFIG + len > CFG_SIZE;
	for (unsigned i = 0; i < len; i++)
		must(!refused || b[i] == 0xff);
	for (unsigned i = len; i < 8; i++)
		must(b[i] == 0x5a);
	if (off == 0 && len == 4)
		must(b[0] == 'v' && b[1] == 'i' && b[2] == 'r' && b[3] == 't');
}

/* 3.1.1 and 4.2.3.2 through the registers: features from v, both queues at `base`. */
static void bring_up(uint16_t base, uint32_t v)
{
	uint64_t feat = 1ull << VIRTIO_F_VERSION_1 | ((v & 1) ? 1ull << VIRTIO_F_EVENT_IDX : 0) |
			((v & 2) ? 1ull << VIRTIO_F_INDIRECT_DESC : 0) | ((v >> 2) & 1);

	mmio_wr(0x070, 4, 0);
	mmio_wr(0x070, 4, 1);
	mmio_wr(0x070, 4, 3);
	mmio_wr(0x024, 4, 0);
	mmio_wr(0x020, 4, (uint32_t)feat);
	mmio_wr(0x024, 4, 1);
	mmio_wr(0x020, 4, (uint32_t)(feat >> 32));
	mmio_wr(0x070, 4, 11);
	for (uint32_t q = 0; q < NQ; q++) {
		uint32_t qsize = 1u << ((v >> (8 + 4 * q)) & 7); /* 1..128: above QMAX is refused */
		uint64_t desc = ((uint64_t)base * 16 + q * 0x4000) % FUZZ_RAM;
		uint64_t avail = desc + 16ull * qsize;
		uint64_t used = (avail + 6 + 2ull * qsize + 3) & ~3ull;
		mmio_wr(0x030, 4, q);
		mmio_wr(0x038, 4, qsize);
		mmio_wr(0x080, 4, (uint32_t)desc);
		mmio_wr(0x090, 4, (uint32_t)avail);
		mmio_wr(0x0a0, 4, (uint32_t)used);
		mmio_wr(0x044, 4, 1);
	}
	mmio_wr(0x070, 4, 15);
}

static void run_op(const uint8_t *op)
{
	uint16_t off16 = (uint16_t)(op[1] | op[2] << 8);
	uint32_t len = 1u << (op[3] & 3);
	uint32_t v = (uint32_t)op[4] | (uint32_t)op[5] << 8 | (uint32_t)op[6] << 16 |
		     (uint32_t)op[7] << 24;
	uint64_t off = off16 % VIRTIO_MMIO_WINDOW;

	if (op[3] & 0x80) {
		off = (off16 % 64u) * 4; /* most often: one 32-bit register, as drivers do */
		len = 4;
	} else if (flags & 4) {
		off = off16; /* outside the bus contract on purpose: must still be refused */
	} else if (off + len > VIRTIO_MMIO_WINDOW) {
		off = VIRTIO_MMIO_WINDOW - len; /* the bus only passes accesses inside the window */
	}
	switch (op[0] % 8) {
	case 0:
		mmio_rd(off, len);
		break;
	case 1:
	case 7:
		mmio_wr(off, len, (uint64_t)v | (uint64_t)~v << 32);
		break;
	case 2:
		mmio_wr(VIRTIO_MMIO_QUEUE_NOTIFY, 4, (op[3] & 4) ? v : v % 4);
		break;
	case 3:
		pthread_mutex_lock(&dev.lock);
		device_work(&dev, v % NQ, 1 + (op[1] & 7), v >> 1);
		pthread_mutex_unlock(&dev.lock);
		break;
	case 4:
		mmio_wr(0x070, 4, 0);
		break;
	case 5:
		bring_up(off16, v);
		break;
	case 6:
		pthread_mutex_lock(&dev.lock);
		if (v & 1)
			virtio_dev_config_changed(&dev);
		else if ((v & 0xff) == 0x42)
			virtio_dev_fail(&dev, "fuzz: the device gave up");
		pthread_mutex_unlock(&dev.lock);
		break;
	}
	check_state();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < FUZZ_HDR)
		return 0;
	if (!gm) {
		log_set_level(LOG_ERROR); /* guest errors are expected by the million */
		gm = fuzz_ram(FUZZ_RAM, "fuzz_mmio");
	}
	flags = data[0];
	size_t nops = data[1];
	if (nops > (size - FUZZ_HDR) / OP_LEN)
		nops = (size - FUZZ_HDR) / OP_LEN;
	const uint8_t *ops = data + FUZZ_HDR, *ram = ops + nops * OP_LEN;
	size_t ram_len = size - FUZZ_HDR - nops * OP_LEN;
	uint8_t *host = gm_ptr(gm, 0, FUZZ_RAM);
	memset(host, 0, FUZZ_RAM);
	memcpy(host, ram, ram_len < FUZZ_RAM ? ram_len : FUZZ_RAM);

	virtio_dev_init(&dev, &fuzz_ops, NULL, "virtio-fuzz0", gm, NULL);
	if (flags & 1)
		dev.kick = fake_kick;
	kick_pending = 0;
	budget = TOUCH_BUDGET;
	memset(deferred, 0, sizeof(deferred));
	memset(cfg, 0, sizeof(cfg));
	check_state();
	for (size_t i = 0; i < nops; i++)
		run_op(ops + OP_LEN * i);
	/* A final reset always brings the device back to its initial state. */
	mmio_wr(0x070, 4, 0);
	must(dev.status == 0 && atomic_load(&dev.isr) == 0 && dev.driver_features == 0);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		must(!dev.qregs[q].ready && dev.vq[q].size == 0);
	virtio_dev_destroy(&dev);
	return 0;
}
