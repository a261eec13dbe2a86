/* blkrate: measures its own virtio-blk throughput under the host's rate limiters (issue 17,
 * tests/integration/ratelimit.sh). Reads at ring 3 with `qd` requests of `req` bytes in flight
 * (sequential from sector 0, wrapping), polling the used ring (no interrupts). Time comes from
 * rdtsc; pass `tsc_mhz=N` (the host's TSC rate) where CPUID does not say it.
 *
 * Modes (`mode=`):
 *   rate (default)  reads `kib` KiB from disk `dev` (default 0), noting "blkrate: at us=U
 *                   bytes=B" when B bytes (each multiple of `report_kib` KiB, default 256) were
 *                   done (printed after the run, or at once with `live`), and at the end
 *                   "blkrate: dev=D bytes=B requests=R us=U".
 *   two             `rounds` times (default 3, after one untimed pass that warms the
 *                   caches): disk 1 reads `kib` KiB alone, then again while disk 0
 *                   (rate-limited by the host) is kept loaded with `qd` requests, then disk
 *                   0's requests are waited for. The best of each: "blkrate: alone us=U",
 *                   "blkrate: beside us=U dev0_bytes=B dev0_us=T" (what disk 0 did in the T
 *                   us it was loaded, all rounds). An unlimited disk next to a throttled one keeps its
 *                   speed.
 *   idle            submits `qd` requests to disk 0, prints "blkrate: idle" and halts the vCPU
 *                   (needs `ring0`): what a throttled, otherwise idle VM costs the host.
 * Exit values: 0 ok, 1 no such device, 2 setup failed, 3 transport error or stall (10 s
 * without a completion), 4 a request failed, 8 bad command line. */
#include "virtio.h"

#define BLK_F_FLUSH 9
#define BLK_T_IN 0
#define SECTOR 512
#define REQ_MAX 65536u
#define SLOTS 32
#define STALL_US 10000000ull

struct blk_hdr { u32 type, reserved; u64 sector; };

struct disk {
	struct virtio_dev dev;
	struct virtq q;
	struct blk_hdr hdr[SLOTS];
	u8 status[SLOTS];
	u8 slot_of[VIRTQ_MAX];
	u64 next_sector, capacity;
	u64 done_bytes, done_reqs;
	unsigned inflight;
};

static struct disk disks[2];
static u8 data[SLOTS][REQ_MAX] __attribute__((aligned(4096)));
static u32 req_bytes = REQ_MAX;

#define FAIL(code, ...) do { rt_printf("blkrate: FAIL: " __VA_ARGS__); rt_exit(code); } while (0)

static void disk_open(struct disk *k, int nth)
{
	if (virtio_find(VIRTIO_ID_BLOCK, nth, &k->dev, 1))
		FAIL(1, "no virtio-blk device %d\n", nth);
	k->q.no_irq = 1;
	int r = virtio_init(&k->dev, 1ull << BLK_F_FLUSH | 1ull << VIRTIO_F_EVENT_IDX);
	if (!r)
		r = virtq_setup(&k->dev, &k->q, 0, VIRTQ_MAX);
	if (!r)
		r = virtio_driver_ok(&k->dev);
	if (r)
		FAIL(2, "disk %d setup: %s\n", nth, virtio_strerror(r));
	k->capacity = virtio_config64(&k->dev, 0);
	if (k->capacity * SECTOR < req_bytes)
		FAIL(8, "disk %d is smaller than one request\n", nth);
}

/* One read of req_bytes into data[slot]. */
static void submit(struct disk *k, unsigned slot)
{
	if (k->next_sector + req_bytes / SECTOR > k->capacity)
		k->next_sector = 0;
	k->hdr[slot] = (struct blk_hdr){ BLK_T_IN, 0, k->next_sector };
	k->next_sector += req_bytes / SECTOR;
	k->status[slot] = 0xff;
	struct virtio_buf b[3] = { { (uptr)&k->hdr[slot], sizeof(k->hdr[slot]), 0 },
				   { (uptr)data[slot], req_bytes, 1 },
				   { (uptr)&k->status[slot], 1, 1 } };
	int head = virtq_submit(&k->q, b, 3);
	if (head < 0)
		FAIL(3, "submit: %s\n", virtio_strerror(head));
	k->slot_of[head] = (u8)slot;
	k->inflight++;
}

/* Takes every completion there is; each freed slot is resubmitted when more is wanted.
 * Returns the number taken. */
static unsigned reap(struct disk *k, int resubmit)
{
	u32 id, len;
	unsigned got = 0;
	int r;
	while ((r = virtq_poll(&k->q, &id, &len)) == 1) {
		unsigned slot = k->slot_of[id];
		if (k->status[slot] != 0)
			FAIL(4, "read at sector %llu: status %u\n", k->hdr[slot].sector, k->status[slot]);
		k->done_bytes += req_bytes;
		k->done_reqs++;
		k->inflight--;
		got++;
		if (resubmit)
			submit(k, slot);
	}
	if (r < 0)
		FAIL(3, "poll: %s\n", virtio_strerror(r));
	if (got && resubmit)
		virtq_kick(&k->q);
	return got;
}

/* Progress points: printed at once with `live` (the host acts on them: costs the guest a
 * few ms a line, the serial port being slow), else kept and printed after the run. */
#define MAX_POINTS 4096
static struct { u64 us, bytes; } points[MAX_POINTS];
static unsigned npoints;
static int live;

static void progress(u64 us, u64 bytes)
{
	if (live)
		rt_printf("blkrate: at us=%llu bytes=%llu\n", us, bytes);
	else if (npoints < MAX_POINTS)
		points[npoints].us = us, points[npoints++].bytes = bytes;
}

/* Reads total bytes from k with qd in flight; other (if not (struct disk *)0) is reaped and kept loaded
 * meanwhile. Progress every report bytes (0: none). Returns the microseconds taken. */
static u64 run(struct disk *k, u64 total, unsigned qd, u64 report, struct disk *other)
{
	u64 start_bytes = k->done_bytes, want = start_bytes + total, next_report = report;
	u64 submitted = 0, t0 = virtio_now_us(), last = t0;
	for (unsigned s = 0; s < qd && submitted < total; s++, submitted += req_bytes)
		submit(k, s);
	virtq_kick(&k->q);
	while (k->done_bytes < want) {
		u32 id, len;
		int r;
		unsigned got = 0;
		while ((r = virtq_poll(&k->q, &id, &len)) == 1) {
			unsigned slot = k->slot_of[id];
			if (k->status[slot] != 0)
				FAIL(4, "read at sector %llu: status %u\n", k->hdr[slot].sector,
				     k->status[slot]);
			k->done_bytes += req_bytes;
			k->done_reqs++;
			k->inflight--;
			got++;
			if (submitted < total) {
				submit(k, slot);
				submitted += req_bytes;
			}
		}
		if (r < 0)
			FAIL(3, "poll: %s\n", virtio_strerror(r));
		u64 now = virtio_now_us();
		if (got) {
			virtq_kick(&k->q);
			last = now;
			while (report && k->done_bytes - start_bytes >= next_report) {
				progress(now - t0, next_report); /* the mark passed, at now */
				next_report += report;
			}
		} else if (now - last > STALL_US) {
			FAIL(3, "no completion for 10 s (%llu of %llu bytes)\n",
			     k->done_bytes - start_bytes, total);
		}
		if (other)
			reap(other, 1);
		cpu_relax();
	}
	return virtio_now_us() - t0;
}

int main(void)
{
	u64 kib = rt_cmdline_u64("kib", 8192), qd = rt_cmdline_u64("qd", 8);
	u64 report = rt_cmdline_u64("report_kib", 256) * 1024, dev = rt_cmdline_u64("dev", 0);
	req_bytes = (u32)rt_cmdline_u64("req", REQ_MAX);
	if (req_bytes == 0 || req_bytes > REQ_MAX || req_bytes % SECTOR || qd == 0 || qd > SLOTS ||
	    dev > 1 || kib == 0)
		FAIL(8, "req=512..65536 (sectors), qd=1..%d, dev=0|1, kib>0\n", SLOTS);
	virtio_now_us(); /* calibrate (tsc_mhz=) before the clock matters */
	if (rt_cmdline_has("mode=two")) {
		disk_open(&disks[0], 0);
		disk_open(&disks[1], 1);
		u64 rounds = rt_cmdline_u64("rounds", 3), alone = ~0ull, beside = ~0ull;
		u64 loaded = 0, loaded_bytes = 0;
		run(&disks[1], kib * 1024, (unsigned)qd, 0, (struct disk *)0); /* warm: page faults, cache */
		/* Interleaved, the best of each (a busy host's bursts hit both alike): disk 1 alone
		 * (disk 0 idle), then beside disk 0 kept loaded, then disk 0 drained. */
		for (u64 r = 0; r < rounds; r++) {
			u64 a = run(&disks[1], kib * 1024, (unsigned)qd, 0, (struct disk *)0);
			for (unsigned s = 0; s < qd; s++)
				submit(&disks[0], s);
			virtq_kick(&disks[0].q);
			u64 t0 = virtio_now_us(), d0 = disks[0].done_bytes;
			u64 b = run(&disks[1], kib * 1024, (unsigned)qd, 0, &disks[0]);
			loaded += virtio_now_us() - t0;
			loaded_bytes += disks[0].done_bytes - d0;
			for (u64 end = virtio_now_us() + STALL_US; disks[0].inflight > 0;) {
				reap(&disks[0], 0);
				if (virtio_now_us() > end)
					FAIL(3, "disk 0 did not finish its requests in 10 s\n");
			}
			rt_printf("blkrate: round %llu: alone %llu us, beside %llu us\n", r, a, b);
			alone = a < alone ? a : alone;
			beside = b < beside ? b : beside;
		}
		rt_printf("blkrate: alone us=%llu\n", alone);
		rt_printf("blkrate: beside us=%llu dev0_bytes=%llu dev0_us=%llu\n", beside,
			  loaded_bytes, loaded);
		return 0;
	}
	struct disk *k = &disks[dev];
	disk_open(k, (int)dev);
	if (rt_cmdline_has("mode=idle")) {
		for (unsigned s = 0; s < qd; s++)
			submit(k, s);
		virtq_kick(&k->q);
		rt_printf("blkrate: idle\n");
		if (rt_cpl() == 0)
			for (;;)
				__asm__ volatile("cli; hlt");
		rt_hang();
	}
	live = rt_cmdline_has("live");
	u64 us = run(k, kib * 1024, (unsigned)qd, report, (struct disk *)0);
	for (unsigned i = 0; i < npoints; i++)
		rt_printf("blkrate: at us=%llu bytes=%llu\n", points[i].us, points[i].bytes);
	rt_printf("blkrate: dev=%llu bytes=%llu requests=%llu us=%llu\n", dev, k->done_bytes,
		  k->done_reqs, us);
	return 0;
}
