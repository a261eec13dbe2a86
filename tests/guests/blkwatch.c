/* blkwatch: reads a virtio block device's first sector on a schedule, for the API tests of
 * the metrics (known numbers of reads between flushes) and of the drive swap (PATCH /drives
 * under a running guest: the new file's content and capacity show up). Runs at ring 3.
 *
 * Command line:
 *   reads=N     N reads of sector 0 at once, then `blkwatch: N reads done` (default 0)
 *   wait_ms=W   then W ms of nothing (polling the clock), then `more=M` reads (default 0)
 *               and `blkwatch: M more reads done`
 *   watch_ms=P  then every P ms: sector 0 (its first 16 bytes as text) and the capacity,
 *               printed as `blkwatch: sector 0 'TEXT' capacity C` whenever either changes;
 *               ends when sector 0 starts with "END" (without watch_ms: ends at once)
 * Exit values (status (v << 1) | 1): 0 done, 1 no virtio-blk device, 2 setup failed,
 * 3 a request failed. */
#include "virtio.h"

#define BLK_T_IN 0
#define BLK_S_OK 0
#define BLK_CFG_CAPACITY 0
#define SECTOR 512

struct blk_hdr { u32 type, reserved; u64 sector; };

static struct virtio_dev dev;
static struct virtq q;
static struct blk_hdr hdr;
static u8 status;
static u8 buf[SECTOR] __attribute__((aligned(4096)));

static int read0(void)
{
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	status = 0xff;
	struct virtio_buf b[3] = {
		{ (uptr)&hdr, sizeof(hdr), 0 }, { (uptr)buf, SECTOR, 1 }, { (uptr)&status, 1, 1 },
	};
	u32 len;
	int r = virtq_xfer(&q, b, 3, &len, VIRTIO_TIMEOUT_MS);
	if (r || status != BLK_S_OK) {
		rt_printf("blkwatch: FAIL: read of sector 0: %s, status %u\n",
			  r ? virtio_strerror(r) : "ok", status);
		return 3;
	}
	return 0;
}

static int reads(u64 n)
{
	for (u64 i = 0; i < n; i++) {
		int r = read0();
		if (r)
			return r;
	}
	return 0;
}

static void wait_ms(u64 ms)
{
	u64 end = virtio_now_us() + ms * 1000;
	while (virtio_now_us() < end)
		__asm__ volatile("pause");
}

/* Sector 0's first 16 bytes as printable text into t (17 bytes). */
static void text_of(char *t)
{
	for (int i = 0; i < 16; i++)
		t[i] = buf[i] >= 0x20 && buf[i] < 0x7f ? (char)buf[i] : '.';
	t[16] = 0;
}

static int watch(u64 period)
{
	char last[17] = "", now[17];
	u64 last_cap = ~0ull;
	for (;;) {
		int r = read0();
		if (r)
			return r;
		u64 cap = virtio_config64(&dev, BLK_CFG_CAPACITY);
		text_of(now);
		if (cap != last_cap || memcmp(now, last, 17)) {
			rt_printf("blkwatch: sector 0 '%s' capacity %llu\n", now, cap);
			memcpy(last, now, 17);
			last_cap = cap;
		}
		if (!memcmp(buf, "END", 3))
			return 0;
		wait_ms(period);
	}
}

int main(void)
{
	if (virtio_find(VIRTIO_ID_BLOCK, 0, &dev, 1)) {
		rt_puts("blkwatch: no virtio-blk device\n");
		return 1;
	}
	int r = virtio_init(&dev, 0);
	if (!r)
		r = virtq_setup(&dev, &q, 0, 16);
	if (!r)
		r = virtio_driver_ok(&dev);
	if (r) {
		rt_printf("blkwatch: setup failed: %s\n", virtio_strerror(r));
		return 2;
	}
	u64 n = rt_cmdline_u64("reads", 0), more = rt_cmdline_u64("more", 0);
	if ((r = reads(n)))
		return r;
	rt_printf("blkwatch: %llu reads done\n", n);
	u64 w = rt_cmdline_u64("wait_ms", 0);
	if (w || more) {
		wait_ms(w);
		if ((r = reads(more)))
			return r;
		rt_printf("blkwatch: %llu more reads done\n", more);
	}
	u64 p = rt_cmdline_u64("watch_ms", 0);
	if (p && (r = watch(p)))
		return r;
	rt_puts("blkwatch: ok\n");
	return 0;
}
