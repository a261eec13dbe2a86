/* blkbench: a virtio-blk throughput benchmark guest (virtio 1.2, 5.2; device id 2), driven
 * through rt/virtio.c at ring 3 (native speed even where ring 0 is emulated).
 *
 * It keeps `qd` requests in flight: submits qd requests, kicks once (virtq_kick, which skips
 * the QueueNotify when the device said it needs none), then polls the used ring and resubmits
 * each completed slot at once, calling virtq_kick once per drained batch, so that a
 * notification is sent only when the device asks for one (EVENT_IDX avail_event, or
 * used->flags NO_NOTIFY without it). Interrupts are not requested (the guest polls): with
 * EVENT_IDX used_event stays one behind, without it avail->flags = NO_INTERRUPT.
 *
 * Modes: randread4k (4 KiB reads at 4 KiB-aligned offsets from an xorshift64 over the whole
 * disk), seqread64k and seqwrite64k (64 KiB requests at consecutive offsets from sector 0,
 * wrapping at the capacity). Each request is header + data + status; the data is one
 * descriptor unless the device offers a smaller size_max (then as many as needed, up to
 * seg_max). Every data buffer is touched before the clock starts, so neither the guest's
 * nor the VMM's first-touch page faults are timed. For seqwrite64k a FLUSH follows the timed
 * phase (if the device offers VIRTIO_BLK_F_FLUSH) and is reported on its own.
 *
 * Command line: `mode=randread4k|seqread64k|seqwrite64k` (default randread4k), `qd=N`
 * (default 32; at most queue size / descriptors per request), `mib=N` (MiB to transfer;
 * default 256 for the sequential modes, 64 for randread4k; 0: set up, touch the buffers
 * and stop, which bench/blk.sh uses to measure startup and teardown), `event_idx=0|1` (default 1),
 * `irq=0|1` (default 0: ask for no used-buffer interrupts; 1: one per used buffer, never
 * taken: shows what interrupts cost the device side), `qsize=N` (default 256, capped by
 * QueueNumMax), `seed=N` (xorshift seed, default 0x6d6f7465), `idle_ms=N` (default 0: after
 * the timed phase, print `blkbench: idle for N ms` and spin at ring 3 that long without
 * touching the device, so the host can measure what an idle device costs), `reset_inflight=N`
 * (default 0: before the timed phase, submit min(N, qd) requests, kick, reset the device at
 * once, check that no used element appears after the reset (exit 3 if one does), then set the
 * device up again and go on), `quiet`.
 *
 * The last line is
 *   blkbench: mode=M qd=N bytes=B requests=R kicks=K suppressed=S cycles=C tsc_mhz=F
 *             qsize=Q event_idx=E irq=I flush_cycles=X
 * (one line): kicks = QueueNotify writes during the timed phase (the first one included),
 * suppressed = kick decisions the device made unnecessary, cycles = rdtsc delta from just
 * before the first submission to just after the last completion, tsc_mhz = the TSC frequency
 * from CPUID 0x15/0x16 or 0 when the CPU does not say (the host then converts), flush_cycles
 * = rdtsc delta of the final FLUSH (0 if none).
 *
 * Exit values: 0 ok, 1 no virtio-blk device, 2 init/queue setup failed, 3 a request failed at
 * the transport level (timeout, NEEDS_RESET, bad used id), 4 a request got a status other
 * than OK, 6 wrong used length, 8 bad command line or the disk/queue too small for it. */
#include "virtio.h"

/* Feature bits and config layout (5.2.3, 5.2.4). */
#define BLK_F_SIZE_MAX 1
#define BLK_F_SEG_MAX 2
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH 9
#define BLK_CFG_CAPACITY 0
#define BLK_CFG_SIZE_MAX 8
#define BLK_CFG_SEG_MAX 12
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_S_OK 0
#define SECTOR 512

#define REQ_MAX 65536u               /* the largest request this guest makes */
#define SLOTS (VIRTQ_MAX / 3)         /* header + data + status: at most 85 in flight */
#define STALL_US 10000000ull          /* no completion for this long: the device is stuck */

struct blk_hdr { u32 type, reserved; u64 sector; };

static struct virtio_dev dev;
static struct virtq q;
static struct blk_hdr hdr[SLOTS + 1];
static u8 status[SLOTS + 1];
static u8 data[SLOTS][REQ_MAX] __attribute__((aligned(4096)));
static u8 slot_of[VIRTQ_MAX]; /* head -> slot of the request in flight there */

enum mode { RANDREAD4K, SEQREAD64K, SEQWRITE64K };
static const char *const mode_names[] = { "randread4k", "seqread64k", "seqwrite64k" };

#define FAIL(code, ...) do { rt_printf("blkbench: FAIL: " __VA_ARGS__); return code; } while (0)

static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

/* The TSC frequency if the CPU reports it (CPUID 0x15, else 0x16), else 0. */
static u64 tsc_mhz(void)
{
	u32 a, b, c, d, max;
	__asm__ volatile("cpuid" : "=a"(max), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	if (max >= 0x15) {
		__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x15), "c"(0));
		if (a && b && c)
			return (u64)c * b / a / 1000000;
	}
	if (max >= 0x16) {
		__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x16), "c"(0));
		return a & 0xffff;
	}
	return 0;
}

/* key=N from the command line; a present but malformed value is an error (rt_cmdline_u64
 * keeps the default then, so two different defaults tell it apart). */
static int arg_u64(const char *key, u64 dflt, u64 lo, u64 hi, u64 *out)
{
	u64 a = rt_cmdline_u64(key, 0), b = rt_cmdline_u64(key, 1);
	unsigned kl = (unsigned)strlen(key);
	int present = 0;
	for (const char *w = rt_cmdline(); *w; w++)
		if ((w == rt_cmdline() || w[-1] == ' ') && !memcmp(w, key, kl) && w[kl] == '=')
			present = 1;
	if (present && a != b) {
		rt_printf("blkbench: %s= needs a number (decimal or 0x hex)\n", key);
		return -1;
	}
	*out = present ? a : dflt;
	if (*out < lo || *out > hi) {
		rt_printf("blkbench: %s=%llu is out of range [%llu, %llu]\n", key, *out, lo, hi);
		return -1;
	}
	return 0;
}

/* mode=NAME: the index into mode_names, or -1. */
static int arg_mode(void)
{
	const char *w = rt_cmdline();
	int mode = RANDREAD4K;
	for (; *w; w++) {
		if ((w != rt_cmdline() && w[-1] != ' ') || memcmp(w, "mode=", 5))
			continue;
		const char *v = w + 5;
		unsigned n = 0;
		while (v[n] && v[n] != ' ')
			n++;
		mode = -1;
		for (int i = 0; i < 3; i++)
			if (strlen(mode_names[i]) == n && !memcmp(v, mode_names[i], n))
				mode = i;
		if (mode < 0) {
			rt_puts("blkbench: mode= must be randread4k, seqread64k or seqwrite64k\n");
			return -1;
		}
	}
	return mode;
}

static u64 xorshift_state;
static u64 xorshift64(void)
{
	u64 x = xorshift_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return xorshift_state = x;
}

/* Request geometry, fixed before the timed phase. */
static u32 req_bytes, seg_bytes, nseg;
static u32 type;
static int rand_mode;
static u64 next_sector, capacity, nblocks4k;

/* Builds and submits the next request in `slot`. Returns the head or a negative error. */
static int submit(unsigned slot)
{
	struct virtio_buf b[2 + 16];
	u64 sector;
	if (rand_mode) {
		sector = xorshift64() % nblocks4k * (4096 / SECTOR);
	} else {
		if (next_sector + req_bytes / SECTOR > capacity)
			next_sector = 0;
		sector = next_sector;
		next_sector += req_bytes / SECTOR;
	}
	hdr[slot] = (struct blk_hdr){ type, 0, sector };
	status[slot] = 0xff; /* the device must overwrite it */
	b[0] = (struct virtio_buf){ (uptr)&hdr[slot], sizeof(hdr[slot]), 0 };
	for (u32 i = 0; i < nseg; i++) {
		u32 off = i * seg_bytes, len = req_bytes - off < seg_bytes ? req_bytes - off : seg_bytes;
		b[1 + i] = (struct virtio_buf){ (uptr)data[slot] + off, len, type == BLK_T_IN };
	}
	b[1 + nseg] = (struct virtio_buf){ (uptr)&status[slot], 1, 1 };
	int head = virtq_submit(&q, b, nseg + 2);
	if (head >= 0)
		slot_of[head] = (u8)slot;
	return head;
}

/* One completion: checks the status byte and the used length. */
static int complete(u32 id, u32 len, unsigned *slot)
{
	*slot = slot_of[id];
	if (status[*slot] != BLK_S_OK)
		FAIL(4, "request at sector %llu: status %u\n", hdr[*slot].sector, status[*slot]);
	if (type == BLK_T_IN ? len != req_bytes + 1 : len < 1 || len > req_bytes + 1)
		FAIL(6, "request at sector %llu: used len %u (data %u)\n", hdr[*slot].sector, len, req_bytes);
	return 0;
}

/* The final FLUSH (slot SLOTS), timed on its own. */
static int flush(u64 *cycles)
{
	struct virtio_buf b[2] = { { (uptr)&hdr[SLOTS], sizeof(hdr[SLOTS]), 0 },
				   { (uptr)&status[SLOTS], 1, 1 } };
	u32 len;
	hdr[SLOTS] = (struct blk_hdr){ BLK_T_FLUSH, 0, 0 };
	status[SLOTS] = 0xff;
	u64 t0 = rdtsc();
	int r = virtq_xfer(&q, b, 2, &len, 60000);
	*cycles = rdtsc() - t0;
	if (r)
		FAIL(3, "flush: %s (device status 0x%x)\n", virtio_strerror(r), virtio_status(&dev));
	if (status[SLOTS] != BLK_S_OK)
		FAIL(4, "flush: status %u\n", status[SLOTS]);
	return 0;
}

int main(void)
{
	int r, mode = arg_mode();
	u64 qd, mib, event_idx, irq, qsize, seed, idle_ms, reset_n;
	if (mode < 0 || arg_u64("qd", 32, 1, SLOTS, &qd) ||
	    arg_u64("mib", mode == RANDREAD4K ? 64 : 256, 0, 1u << 20, &mib) ||
	    arg_u64("event_idx", 1, 0, 1, &event_idx) || arg_u64("irq", 0, 0, 1, &irq) ||
	    arg_u64("qsize", VIRTQ_MAX, 4, VIRTQ_MAX, &qsize) ||
	    arg_u64("seed", 0x6d6f7465, 1, ~0ull, &seed) ||
	    arg_u64("idle_ms", 0, 0, 3600000, &idle_ms) ||
	    arg_u64("reset_inflight", 0, 0, SLOTS, &reset_n))
		return 8;
	if (virtio_find(VIRTIO_ID_BLOCK, 0, &dev, rt_cmdline_has("quiet"))) {
		rt_puts("blkbench: no virtio-blk device (virtio_mmio.device= on the command line)\n");
		return 1;
	}
	u64 want = 1ull << BLK_F_SIZE_MAX | 1ull << BLK_F_SEG_MAX | 1ull << BLK_F_BLK_SIZE |
		   1ull << BLK_F_FLUSH;
	if (event_idx)
		want |= 1ull << VIRTIO_F_EVENT_IDX;
	q.no_irq = !irq;
	r = virtio_init(&dev, want);
	if (!r)
		r = virtq_setup(&dev, &q, 0, (u16)qsize);
	if (!r)
		r = virtio_driver_ok(&dev);
	if (r) {
		rt_printf("blkbench: setup failed: %s\n", virtio_strerror(r));
		return 2;
	}
	capacity = virtio_config64(&dev, BLK_CFG_CAPACITY);
	u32 size_max = dev.features >> BLK_F_SIZE_MAX & 1 ? virtio_config32(&dev, BLK_CFG_SIZE_MAX) : ~0u;
	u32 seg_max = dev.features >> BLK_F_SEG_MAX & 1 ? virtio_config32(&dev, BLK_CFG_SEG_MAX) : ~0u;

	rand_mode = mode == RANDREAD4K;
	type = mode == SEQWRITE64K ? BLK_T_OUT : BLK_T_IN;
	req_bytes = rand_mode ? 4096 : REQ_MAX;
	seg_bytes = size_max < req_bytes ? size_max & ~(u32)(SECTOR - 1) : req_bytes;
	if (seg_bytes == 0)
		FAIL(8, "size_max %u is smaller than a sector\n", size_max);
	nseg = (req_bytes + seg_bytes - 1) / seg_bytes;
	if (nseg > 16 || nseg > seg_max)
		FAIL(8, "a %u-byte request needs %u segments (size_max %u, seg_max %u)\n", req_bytes,
		     nseg, size_max, seg_max);
	if (qd * (nseg + 2) > q.num)
		FAIL(8, "qd=%llu needs %llu descriptors; the queue has %u\n", qd, qd * (nseg + 2), q.num);
	if (capacity * SECTOR < req_bytes)
		FAIL(8, "capacity %llu sectors is smaller than one request\n", capacity);
	nblocks4k = capacity / (4096 / SECTOR);
	xorshift_state = seed;
	u64 total = mib * 1048576 / req_bytes;
	rt_printf("blkbench: device at 0x%lx, queue size %u, features 0x%llx%s, capacity %llu sectors, "
		  "%u descriptor(s) of data per request\n",
		  dev.base, q.num, dev.features, q.event_idx ? " (event_idx)" : "", capacity, nseg);

	/* Touch every buffer the timed phase uses (guest and VMM page faults happen now). */
	for (u64 s = 0; s < qd; s++)
		for (u32 i = 0; i < req_bytes; i++)
			data[s][i] = (u8)(i * 31 + s);

	if (reset_n) { /* a reset with requests in flight: the device must not touch the old ring */
		unsigned n = (unsigned)(reset_n < qd ? reset_n : qd);
		for (unsigned s = 0; s < n; s++)
			if ((r = submit(s)) < 0)
				FAIL(3, "submit: %s\n", virtio_strerror(r));
		virtq_notify(&q);
		if ((r = virtio_reset(&dev)))
			FAIL(3, "reset: %s\n", virtio_strerror(r));
		u16 at_reset = q.used->idx;
		for (u64 until = virtio_now_us() + 100000; virtio_now_us() < until;)
			cpu_relax();
		if (q.used->idx != at_reset)
			FAIL(3, "the device wrote used elements after the reset (%u -> %u)\n", at_reset,
			     q.used->idx);
		rt_printf("blkbench: reset with %u requests submitted: %u used before it, none after\n",
			  n, at_reset);
		r = virtio_init(&dev, want);
		if (!r)
			r = virtq_setup(&dev, &q, 0, (u16)qsize);
		if (!r)
			r = virtio_driver_ok(&dev);
		if (r)
			FAIL(2, "setup after the reset failed: %s\n", virtio_strerror(r));
		next_sector = 0;
		xorshift_state = seed;
	}

	u32 kicks0 = q.kicks, supp0 = q.kicks_suppressed;
	u64 submitted = 0, done = 0;
	u64 t0 = rdtsc();
	for (unsigned s = 0; s < qd && submitted < total; s++, submitted++)
		if ((r = submit(s)) < 0)
			FAIL(3, "submit: %s\n", virtio_strerror(r));
	if (submitted)
		virtq_kick(&q);
	u64 spins = 0, stall_from = 0;
	while (done < total) {
		u32 id, len;
		unsigned slot, got = 0;
		while ((r = virtq_poll(&q, &id, &len)) == 1) {
			if ((r = complete(id, len, &slot)))
				return r;
			done++, got++;
			if (submitted < total) {
				if ((r = submit(slot)) < 0)
					FAIL(3, "submit: %s\n", virtio_strerror(r));
				submitted++;
			}
		}
		if (r < 0)
			FAIL(3, "poll: %s (device status 0x%x)\n", virtio_strerror(r), virtio_status(&dev));
		if (got) {
			if (q.avail_idx != q.kicked_idx)
				virtq_kick(&q);
			spins = 0;
			continue;
		}
		cpu_relax();
		if ((++spins & 0xffff) == 0) { /* a time bound, checked rarely */
			u64 now = virtio_now_us();
			if (spins == 0x10000)
				stall_from = now;
			else if (now - stall_from > STALL_US)
				FAIL(3, "no completion for %llu s: %llu of %llu done, %llu submitted "
				     "(device status 0x%x)\n", STALL_US / 1000000, done, total, submitted,
				     virtio_status(&dev));
		}
	}
	u64 cycles = rdtsc() - t0;
	u32 kicks = q.kicks - kicks0, supp = q.kicks_suppressed - supp0;

	u64 flush_cycles = 0;
	if (type == BLK_T_OUT && dev.features >> BLK_F_FLUSH & 1 && (r = flush(&flush_cycles)))
		return r;
	if (idle_ms) {
		rt_printf("blkbench: idle for %llu ms\n", idle_ms);
		for (u64 end = virtio_now_us() + idle_ms * 1000; virtio_now_us() < end;)
			cpu_relax();
	}
	rt_printf("blkbench: mode=%s qd=%llu bytes=%llu requests=%llu kicks=%u suppressed=%u "
		  "cycles=%llu tsc_mhz=%llu qsize=%u event_idx=%d irq=%llu flush_cycles=%llu\n",
		  mode_names[mode], qd, done * req_bytes, done, kicks, supp, cycles, tsc_mhz(), q.num,
		  q.event_idx, irq, flush_cycles);
	return 0;
}
