/* blk: drives a virtio block device (virtio 1.2, 5.2; device id 2) through rt/virtio.c.
 * Prints the configuration and the serial (GET_ID), then, on a writable disk: a 4 KiB
 * pattern to sector 0, a 64 KiB multi-descriptor write at sector 33, a write whose data
 * spans 3 descriptors of odd lengths (333 + 999 + 204 bytes at odd addresses) at sector 200,
 * FLUSH, reads them back (with other descriptor splits) and compares, a batch of 8 reads
 * with one notification, the interrupt-status check, then the error cases: reads and a
 * write past the capacity (IOERR) and an unknown request type (UNSUPP). With the word `ro`
 * (the disk is read-only): reads work, a write fails with IOERR and changes nothing.
 * Ends with `blk: ok`. Every buffer is a static array in guest RAM; runs at ring 3.
 *
 * Command line: `ro`, `event_idx=0|1` (default 1: accept VIRTIO_F_EVENT_IDX if offered),
 * `qsize=N` (default 128), `quiet` (no probe lines).
 * Exit values: 0 ok, 1 no virtio-blk device, 2 init/queue setup failed, 3 a request failed
 * at the transport level (timeout, NEEDS_RESET, bad used id), 4 a request got the wrong
 * status byte, 5 data mismatch, 6 wrong used length, 7 InterruptStatus check failed,
 * 8 the disk or the device limits are too small for the test (capacity < 256 sectors,
 * seg_max < 16, size_max < 4096). */
#include "virtio.h"

/* Feature bits and config layout (5.2.3, 5.2.4). */
#define BLK_F_SIZE_MAX 1
#define BLK_F_SEG_MAX 2
#define BLK_F_GEOMETRY 4
#define BLK_F_RO 5
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH 9
#define BLK_F_TOPOLOGY 10
#define BLK_CFG_CAPACITY 0
#define BLK_CFG_SIZE_MAX 8
#define BLK_CFG_SEG_MAX 12
#define BLK_CFG_BLK_SIZE 20
/* Request types and status values (5.2.6). */
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_T_BOGUS 0x7e /* no such type */
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2
#define BLK_ID_BYTES 20
#define SECTOR 512

struct blk_hdr { u32 type, reserved; u64 sector; };

static struct virtio_dev dev;
static struct virtq q;
static struct blk_hdr hdr[32];
static u8 status[32];
static u8 wbuf[65536 + 4096] __attribute__((aligned(4096)));
static u8 rbuf[65536 + 4096] __attribute__((aligned(4096)));
static u8 idbuf[BLK_ID_BYTES + 1];
static u64 capacity;

#define FAIL(code, ...) do { rt_printf("blk: FAIL: " __VA_ARGS__); return code; } while (0)

/* The test pattern: one byte per absolute disk offset. */
static u8 pat(u64 off)
{
	u32 h = (u32)off * 2654435761u ^ (u32)(off >> 9) * 40503u ^ 0x6d6f7465u;
	return (u8)(h >> 24 ^ h);
}
static void fill_pattern(u8 *b, u64 sector, u32 len)
{
	for (u32 i = 0; i < len; i++)
		b[i] = pat(sector * SECTOR + i);
}
static int check_pattern(const u8 *b, u64 sector, u32 len, const char *what)
{
	for (u32 i = 0; i < len; i++)
		if (b[i] != pat(sector * SECTOR + i)) {
			rt_printf("blk: FAIL: %s: byte %u (disk offset 0x%llx) is 0x%02x, expected 0x%02x\n",
				  what, i, sector * SECTOR + i, b[i], pat(sector * SECTOR + i));
			return 5;
		}
	return 0;
}

/* Builds header + data + status in bufs[] for request slot `slot`; returns the count. */
static unsigned build(struct virtio_buf *bufs, unsigned slot, u32 type, u64 sector,
		      const struct virtio_buf *data, unsigned ndata)
{
	hdr[slot] = (struct blk_hdr){ type, 0, sector };
	status[slot] = 0xff; /* the device must overwrite it */
	bufs[0] = (struct virtio_buf){ (uptr)&hdr[slot], sizeof(hdr[slot]), 0 };
	for (unsigned i = 0; i < ndata; i++)
		bufs[1 + i] = data[i];
	bufs[1 + ndata] = (struct virtio_buf){ (uptr)&status[slot], 1, 1 };
	return ndata + 2;
}

/* One request; checks the transport, the status byte (want) and the used length. */
static int req(const char *what, u32 type, u64 sector, const struct virtio_buf *data, unsigned ndata, u8 want)
{
	struct virtio_buf bufs[40];
	u32 len, wlen = 1;
	unsigned n = build(bufs, 0, type, sector, data, ndata);
	for (unsigned i = 0; i < ndata; i++)
		if (data[i].write)
			wlen += data[i].len;
	int r = virtq_xfer(&q, bufs, n, &len, VIRTIO_TIMEOUT_MS);
	if (r)
		FAIL(3, "%s: %s (device status 0x%x)\n", what, virtio_strerror(r), virtio_status(&dev));
	if (status[0] != want)
		FAIL(4, "%s: status %u, expected %u\n", what, status[0], want);
	if (len < 1 || len > wlen)
		FAIL(6, "%s: used len %u, the chain has %u writable bytes\n", what, len, wlen);
	if (want == BLK_S_OK && type == BLK_T_IN && len != wlen)
		FAIL(6, "%s: used len %u, expected %u (data + status)\n", what, len, wlen);
	return 0;
}

static int get_id(void)
{
	struct virtio_buf b = { (uptr)idbuf, BLK_ID_BYTES, 1 };
	memset(idbuf, 0, sizeof(idbuf));
	int r = req("GET_ID", BLK_T_GET_ID, 0, &b, 1, BLK_S_OK);
	if (r)
		return r;
	rt_printf("blk: serial '%s'\n", (const char *)idbuf);
	return 0;
}

static int error_cases(void)
{
	int r;
	struct virtio_buf b = { (uptr)rbuf, SECTOR, 1 };
	if ((r = req("read at the capacity", BLK_T_IN, capacity, &b, 1, BLK_S_IOERR)))
		return r;
	b.len = 2 * SECTOR;
	if ((r = req("read across the end", BLK_T_IN, capacity - 1, &b, 1, BLK_S_IOERR)))
		return r;
	b.len = SECTOR;
	if ((r = req("read far past the end", BLK_T_IN, ~0ull / SECTOR, &b, 1, BLK_S_IOERR)))
		return r;
	rt_puts("blk: reads past the capacity: IOERR\n");
	if ((r = req("unknown request type", BLK_T_BOGUS, 0, 0, 0, BLK_S_UNSUPP)))
		return r;
	rt_puts("blk: unknown request type: UNSUPP\n");
	return 0;
}

/* The device must raise InterruptStatus bit 0 for a used buffer when the driver asks for an
 * interrupt (flags 0, or used->idx reaching used_event: 2.7.7.2), and InterruptACK must clear
 * it. The device writes used->idx before it raises the interrupt, so this waits (bounded) for
 * the bit; and it keeps used_event where it was until then, because consuming the buffer
 * moves used_event past the new index and a device that decides late (QEMU does) would then
 * rightly not interrupt at all. */
static int isr_check(void)
{
	virtio_isr_ack(&dev);
	struct virtio_buf data = { (uptr)rbuf, SECTOR, 1 }, bufs[3];
	build(bufs, 0, BLK_T_IN, 0, &data, 1);
	int head = virtq_submit(&q, bufs, 3);
	if (head < 0)
		FAIL(3, "interrupt check: %s\n", virtio_strerror(head));
	virtq_kick(&q);
	u64 end = virtio_now_us() + (u64)VIRTIO_TIMEOUT_MS * 1000;
	while (q.used->idx == q.last_used && virtio_now_us() < end)
		cpu_relax();
	u32 isr = 0;
	end = virtio_now_us() + 1000000;
	while (!((isr = virtio_read(&dev, VIRTIO_MMIO_INTERRUPT_STATUS)) & VIRTIO_ISR_USED) && virtio_now_us() < end)
		for (int i = 0; i < 1000; i++)
			cpu_relax();
	u32 id, len;
	int r = virtq_wait(&q, &id, &len, VIRTIO_TIMEOUT_MS);
	if (r || id != (u32)head || status[0] != BLK_S_OK)
		FAIL(3, "interrupt check: read: %s, id %u, status %u\n", virtio_strerror(r), id, status[0]);
	if (!(isr & VIRTIO_ISR_USED))
		FAIL(7, "InterruptStatus 0x%x for 1 s after a used buffer with interrupts requested\n", isr);
	virtio_write(&dev, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	u32 after = virtio_read(&dev, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (after & VIRTIO_ISR_USED)
		FAIL(7, "InterruptStatus 0x%x after InterruptACK 0x%x\n", after, isr);
	rt_printf("blk: interrupt status 0x%x after a request, 0x%x after the ack\n", isr, after);
	return 0;
}

static int rw_tests(u32 size_max, u32 seg_max)
{
	int r;
	struct virtio_buf d[20];

	/* 1. 4 KiB at sector 0, one data descriptor. */
	fill_pattern(wbuf, 0, 4096);
	d[0] = (struct virtio_buf){ (uptr)wbuf, 4096, 0 };
	if ((r = req("write 4 KiB at sector 0", BLK_T_OUT, 0, d, 1, BLK_S_OK)))
		return r;

	/* 2. 64 KiB at sector 33, 16 descriptors of 4 KiB. */
	if (seg_max < 16 || size_max < 4096)
		FAIL(8, "the device allows seg_max %u, size_max %u: need 16 segments of 4096\n", seg_max, size_max);
	fill_pattern(wbuf, 33, 65536);
	for (int i = 0; i < 16; i++)
		d[i] = (struct virtio_buf){ (uptr)wbuf + 4096 * i, 4096, 0 };
	if ((r = req("write 64 KiB at sector 33", BLK_T_OUT, 33, d, 16, BLK_S_OK)))
		return r;

	/* 3. 1536 bytes at sector 200 from 3 descriptors of odd lengths at odd addresses. */
	static const u32 lens[3] = { 333, 999, 204 };
	static const u32 offs[3] = { 1, 4099, 8195 };
	u32 done = 0;
	for (int i = 0; i < 3; i++) {
		for (u32 k = 0; k < lens[i]; k++)
			wbuf[offs[i] + k] = pat(200 * SECTOR + done + k);
		d[i] = (struct virtio_buf){ (uptr)wbuf + offs[i], lens[i], 0 };
		done += lens[i];
	}
	if ((r = req("write 333+999+204 bytes at sector 200", BLK_T_OUT, 200, d, 3, BLK_S_OK)))
		return r;
	rt_puts("blk: wrote 4 KiB at sector 0, 64 KiB (16 descriptors) at sector 33, "
		"1536 bytes (3 odd descriptors) at sector 200\n");

	/* 4. FLUSH. */
	if (dev.features >> BLK_F_FLUSH & 1) {
		if ((r = req("flush", BLK_T_FLUSH, 0, 0, 0, BLK_S_OK)))
			return r;
		rt_puts("blk: flush ok\n");
	} else {
		rt_puts("blk: no VIRTIO_BLK_F_FLUSH: flush skipped\n");
	}

	/* 5. Read back with other splits. */
	memset(rbuf, 0, 4096);
	d[0] = (struct virtio_buf){ (uptr)rbuf, 4096, 1 };
	if ((r = req("read 4 KiB at sector 0", BLK_T_IN, 0, d, 1, BLK_S_OK)) ||
	    (r = check_pattern(rbuf, 0, 4096, "sector 0")))
		return r;
	memset(rbuf, 0, 65536);
	d[0] = (struct virtio_buf){ (uptr)rbuf, 1000, 1 };
	d[1] = (struct virtio_buf){ (uptr)rbuf + 1000, 30000, 1 };
	d[2] = (struct virtio_buf){ (uptr)rbuf + 31000, 65536 - 31000, 1 };
	if (size_max < 65536 - 31000) { /* keep each segment within size_max */
		for (int i = 0; i < 16; i++)
			d[i] = (struct virtio_buf){ (uptr)rbuf + 4096 * i, 4096, 1 };
		r = req("read 64 KiB at sector 33", BLK_T_IN, 33, d, 16, BLK_S_OK);
	} else {
		r = req("read 64 KiB at sector 33", BLK_T_IN, 33, d, 3, BLK_S_OK);
	}
	if (r || (r = check_pattern(rbuf, 33, 65536, "64 KiB at sector 33")))
		return r;
	memset(rbuf, 0, 1536);
	d[0] = (struct virtio_buf){ (uptr)rbuf, 1536, 1 };
	if ((r = req("read 1536 bytes at sector 200", BLK_T_IN, 200, d, 1, BLK_S_OK)) ||
	    (r = check_pattern(rbuf, 200, 1536, "1536 bytes at sector 200")))
		return r;
	rt_puts("blk: read back and compared: ok\n");

	/* 6. A batch: 8 one-sector reads, one notification, completions in any order. */
	struct virtio_buf bufs[3];
	int heads[8];
	memset(rbuf, 0, 8 * SECTOR);
	for (unsigned i = 0; i < 8; i++) {
		struct virtio_buf one = { (uptr)rbuf + i * SECTOR, SECTOR, 1 };
		build(bufs, i, BLK_T_IN, 33 + i, &one, 1);
		if ((heads[i] = virtq_submit(&q, bufs, 3)) < 0)
			FAIL(3, "batch submit %u: %s\n", i, virtio_strerror(heads[i]));
	}
	u32 kicks = q.kicks;
	virtq_kick(&q);
	for (unsigned n = 0; n < 8; n++) {
		u32 id, len;
		if ((r = virtq_wait(&q, &id, &len, VIRTIO_TIMEOUT_MS)))
			FAIL(3, "batch: completion %u of 8: %s\n", n + 1, virtio_strerror(r));
		unsigned i = 0;
		while (i < 8 && heads[i] != (int)id)
			i++;
		if (i == 8)
			FAIL(3, "batch: used id %u is none of the 8 heads\n", id);
		heads[i] = -1;
		if (status[i] != BLK_S_OK)
			FAIL(4, "batch read %u: status %u\n", i, status[i]);
		if (len != SECTOR + 1)
			FAIL(6, "batch read %u: used len %u, expected %u\n", i, len, SECTOR + 1);
	}
	if ((r = check_pattern(rbuf, 33, 8 * SECTOR, "batch of 8 reads")))
		return r;
	rt_printf("blk: batch of 8 reads with %u notification(s): ok\n", q.kicks - kicks);

	/* 7. A write past the end. */
	d[0] = (struct virtio_buf){ (uptr)wbuf, SECTOR, 0 };
	if ((r = req("write at the capacity", BLK_T_OUT, capacity, d, 1, BLK_S_IOERR)))
		return r;
	rt_puts("blk: write past the capacity: IOERR\n");
	return 0;
}

static int ro_tests(void)
{
	int r;
	struct virtio_buf d = { (uptr)rbuf, 4096, 1 };
	if (!(dev.features >> BLK_F_RO & 1))
		rt_puts("blk: note: the device does not offer VIRTIO_BLK_F_RO\n");
	else
		rt_puts("blk: device is read-only (VIRTIO_BLK_F_RO)\n");
	if ((r = req("read 4 KiB at sector 0", BLK_T_IN, 0, &d, 1, BLK_S_OK)))
		return r;
	int has = 1;
	for (u32 i = 0; i < 4096 && has; i++)
		has = rbuf[i] == pat(i);
	rt_printf("blk: sector 0 %s the test pattern (an earlier read-write run writes it)\n",
		  has ? "holds" : "does not hold");
	memcpy(wbuf + 8192, rbuf, 4096);
	fill_pattern(wbuf, 0, 4096);
	for (u32 i = 0; i < 4096; i++)
		wbuf[i] ^= 0x5a; /* differs from whatever is there */
	struct virtio_buf w = { (uptr)wbuf, 4096, 0 };
	if ((r = req("write to the read-only disk", BLK_T_OUT, 0, &w, 1, BLK_S_IOERR)))
		return r;
	memset(rbuf, 0, 4096);
	if ((r = req("read 4 KiB at sector 0 again", BLK_T_IN, 0, &d, 1, BLK_S_OK)))
		return r;
	if (memcmp(rbuf, wbuf + 8192, 4096))
		FAIL(5, "sector 0 changed after a refused write\n");
	rt_puts("blk: write refused with IOERR, data unchanged\n");
	return 0;
}

/* Decimal into b (12 bytes) if present, else leaves "-". */
static void fmt_u32(char *b, u32 v, int present)
{
	char t[12];
	int n = 0;
	if (!present)
		return;
	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	for (int i = 0; i < n; i++)
		b[i] = t[n - 1 - i];
	b[n] = 0;
}

int main(void)
{
	int r, ro = rt_cmdline_has("ro");
	if (virtio_find(VIRTIO_ID_BLOCK, 0, &dev, rt_cmdline_has("quiet"))) {
		rt_puts("blk: no virtio-blk device (virtio_mmio.device= on the command line)\n");
		return 1;
	}
	u64 want = 1ull << BLK_F_SIZE_MAX | 1ull << BLK_F_SEG_MAX | 1ull << BLK_F_GEOMETRY |
		   1ull << BLK_F_RO | 1ull << BLK_F_BLK_SIZE | 1ull << BLK_F_FLUSH | 1ull << BLK_F_TOPOLOGY;
	if (rt_cmdline_u64("event_idx", 1))
		want |= 1ull << VIRTIO_F_EVENT_IDX;
	r = virtio_init(&dev, want);
	if (!r)
		r = virtq_setup(&dev, &q, 0, (u16)rt_cmdline_u64("qsize", 128));
	if (!r)
		r = virtio_driver_ok(&dev);
	if (r) {
		rt_printf("blk: setup failed: %s\n", virtio_strerror(r));
		return 2;
	}
	capacity = virtio_config64(&dev, BLK_CFG_CAPACITY);
	u32 size_max = dev.features >> BLK_F_SIZE_MAX & 1 ? virtio_config32(&dev, BLK_CFG_SIZE_MAX) : ~0u;
	u32 seg_max = dev.features >> BLK_F_SEG_MAX & 1 ? virtio_config32(&dev, BLK_CFG_SEG_MAX) : ~0u;
	u32 blk_size = dev.features >> BLK_F_BLK_SIZE & 1 ? virtio_config32(&dev, BLK_CFG_BLK_SIZE) : 0;
	rt_printf("blk: device at 0x%lx, queue size %u, offered 0x%llx, accepted 0x%llx%s\n", dev.base,
		  q.num, dev.device_features, dev.features, q.event_idx ? " (event_idx)" : "");
	char bs[12] = "-", sm[12] = "-", sz[12] = "-";
	fmt_u32(bs, blk_size, blk_size != 0);
	fmt_u32(sm, seg_max, seg_max != ~0u);
	fmt_u32(sz, size_max, size_max != ~0u);
	rt_printf("blk: capacity %llu sectors (%llu KiB), blk_size %s, seg_max %s, size_max %s, ro %u\n",
		  capacity, capacity / 2, bs, sm, sz, (unsigned)(dev.features >> BLK_F_RO & 1));
	if (!ro && dev.features >> BLK_F_RO & 1)
		rt_puts("blk: note: the device is read-only (VIRTIO_BLK_F_RO) but `ro` is not on the command line\n");
	if (capacity < 256)
		FAIL(8, "capacity %llu sectors: the test needs at least 256\n", capacity);

	if ((r = get_id()) || (r = isr_check()))
		return r;
	if ((r = ro ? ro_tests() : rw_tests(size_max, seg_max)) || (r = error_cases()))
		return r;
	rt_printf("blk: %u notifications, %u suppressed\n", q.kicks, q.kicks_suppressed);
	rt_puts("blk: ok\n");
	return 0;
}
