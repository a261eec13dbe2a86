/* hostile: breaks one virtio rule on purpose and checks that the device notices.
 * After a correct setup (3.1.1) of queue 0 of a virtio-rng (preferred) or virtio-blk
 * device, `kind=` selects the one bad thing:
 *   loop        descriptor chain 0 -> 1 -> 0 (blk: 0 -> 1 -> 2 -> 1)
 *   badhead     an avail ring entry >= the queue size
 *   badnext     a descriptor's next >= the queue size
 *   badaddr     a device-writable buffer at 0x7ff00000000 (beyond RAM)
 *   hugelen     a device-writable buffer of length 0xffffffff
 *   avalidx     avail->idx jumps by more than the queue size (every ring entry is good)
 * Apart from that one violation each chain is a good request (rng: one device-writable
 * buffer; blk: header, 512-byte data buffer, status byte).
 *   usedmmio    the used ring inside the device's own MMIO window (addr= to choose another
 *               address, e.g. the device hole 0xd0000000), then QueueReady = 1
 *   qsize       QueueNum = 3 (not a power of two), then one request
 *   earlynotify a buffer and QueueNotify before DRIVER_OK
 *   all         every kind above in turn, resetting the device in between
 * It then waits (bounded) for DEVICE_NEEDS_RESET (64) in Status and prints
 * `hostile-<kind>: device needs reset (status 0x.., isr 0x..)` or
 * `hostile-<kind>: device did NOT fail (...)`. After DRIVER_OK the device must also raise
 * the configuration-change bit (2) of InterruptStatus (2.1.2). qsize passes when the device
 * refuses (NEEDS_RESET, QueueReady reads 0) or ignores the queue (requests do not complete,
 * or the device kept another size: 4 requests wrap a 3-entry ring, and avail slots 3.. hold
 * the invalid head 0xffff as a trap); earlynotify passes when used->idx stays 0 before DRIVER_OK. Finally it resets
 * the device (Status = 0), sets it up again and proves it works with one good request:
 * `hostile-<kind>: after reset: ok`.
 *
 * Command line: `kind=NAME` (required), `dev=rng|blk` (default: rng if present, else blk),
 * `addr=N` (usedmmio), `quiet`.
 * Exit values: 0 the device behaved, 1 no device or bad kind=, 2 the correct setup failed,
 * 3 the device did NOT fail, 4 qsize: the device used a 3-entry queue (4 requests wrapped) /
 * earlynotify: the device processed a buffer before DRIVER_OK, 5 the device did not work
 * again after a reset, 6 NEEDS_RESET without the configuration-change interrupt status.
 * With kind=all: the first non-zero value. */
#include "virtio.h"

#define QSIZE 16
#define WAIT_MS 2000 /* for NEEDS_RESET */

/* virtio-blk request pieces (5.2.6) for the blk flavour. */
struct blk_hdr { u32 type, reserved; u64 sector; };

static struct virtio_dev dev;
static struct virtq q;
static int is_blk;
static u8 buf[4096] __attribute__((aligned(4096)));
static struct blk_hdr hdr;
static u8 blk_status;
static const char *kind;

/* A good request: rng 16 bytes, or a blk read of sector 0. */
static unsigned good_chain(struct virtio_buf *b)
{
	if (!is_blk) {
		b[0] = (struct virtio_buf){ (uptr)buf, 16, 1 };
		return 1;
	}
	hdr = (struct blk_hdr){ 0, 0, 0 };
	blk_status = 0xff;
	b[0] = (struct virtio_buf){ (uptr)&hdr, sizeof(hdr), 0 };
	b[1] = (struct virtio_buf){ (uptr)buf, 512, 1 };
	b[2] = (struct virtio_buf){ (uptr)&blk_status, 1, 1 };
	return 3;
}

/* Puts head in the next avail slot and publishes it, then QueueNotify. */
static void publish(u16 head)
{
	q.avail->ring[q.avail_idx % q.num] = head;
	virtio_barrier();
	q.avail->idx = ++q.avail_idx;
	virtq_notify(&q);
}

static int setup(int driver_ok)
{
	int r = virtio_init(&dev, 0);
	if (!r)
		r = virtq_setup(&dev, &q, 0, QSIZE);
	if (!r && driver_ok)
		r = virtio_driver_ok(&dev);
	if (r)
		rt_printf("hostile-%s: setup failed: %s\n", kind, virtio_strerror(r));
	return r ? 2 : 0;
}

/* Reset, set up again, one good request. */
static int recover(void)
{
	struct virtio_buf b[3];
	u32 len;
	if (virtio_reset(&dev) || setup(1))
		return 5;
	virtio_isr_ack(&dev);
	unsigned n = good_chain(b);
	int r = virtq_xfer(&q, b, n, &len, VIRTIO_TIMEOUT_MS);
	if (r || len == 0 || (is_blk && blk_status != 0)) {
		rt_printf("hostile-%s: after reset: the good request failed: %s, len %u, status 0x%x\n",
			  kind, virtio_strerror(r), len, virtio_status(&dev));
		return 5;
	}
	rt_printf("hostile-%s: after reset: ok\n", kind);
	return 0;
}

/* Waits for NEEDS_RESET (and, after DRIVER_OK, the config-change ISR bit). */
static int expect_needs_reset(int driver_ok)
{
	int to;
	u32 s = virtio_wait_status(&dev, VIRTIO_STATUS_NEEDS_RESET, WAIT_MS, &to);
	if (to) {
		rt_printf("hostile-%s: device did NOT fail (status 0x%x, used idx %u after %u ms)\n", kind,
			  virtio_status(&dev), q.used == (volatile struct virtq_used *)q.used_mem ? q.used->idx : 0,
			  WAIT_MS);
		return 3;
	}
	u32 isr = 0;
	u64 end = virtio_now_us() + 1000000;
	while (driver_ok && !((isr = virtio_read(&dev, VIRTIO_MMIO_INTERRUPT_STATUS)) & VIRTIO_ISR_CONFIG) &&
	       virtio_now_us() < end)
		for (int i = 0; i < 1000; i++)
			cpu_relax();
	if (!driver_ok)
		isr = virtio_read(&dev, VIRTIO_MMIO_INTERRUPT_STATUS);
	rt_printf("hostile-%s: device needs reset (status 0x%x, isr 0x%x)\n", kind, s, isr);
	if (driver_ok && !(isr & VIRTIO_ISR_CONFIG)) {
		rt_printf("hostile-%s: no configuration-change interrupt status with NEEDS_RESET\n", kind);
		return 6;
	}
	return 0;
}

static int run_kind(const char *k)
{
	int r;
	kind = k;
	if (!strcmp(k, "loop") || !strcmp(k, "badhead") || !strcmp(k, "badnext") ||
	    !strcmp(k, "badaddr") || !strcmp(k, "hugelen") || !strcmp(k, "avalidx")) {
		if ((r = setup(1)))
			return r;
		volatile struct virtq_desc *d = q.desc;
		/* The bad chain is a good chain but for the one violation: rng, one writable
		 * buffer (two for loop and badnext); blk, header + 512-byte data + status. */
		u64 daddr = !strcmp(k, "badaddr") ? 0x7ff00000000ull : (uptr)buf;
		u32 dlen = !strcmp(k, "hugelen") ? 0xffffffffu : (is_blk ? 512 : 16);
		u16 n = 1, nf = VIRTQ_DESC_F_NEXT;
		if (is_blk) {
			hdr = (struct blk_hdr){ 0, 0, 0 };
			d[0] = (struct virtq_desc){ (uptr)&hdr, sizeof(hdr), nf, 1 };
			d[1] = (struct virtq_desc){ daddr, dlen, (u16)(VIRTQ_DESC_F_WRITE | nf), 2 };
			d[2] = (struct virtq_desc){ (uptr)&blk_status, 1, VIRTQ_DESC_F_WRITE, 0 };
			n = 3;
		} else {
			d[0] = (struct virtq_desc){ daddr, dlen, VIRTQ_DESC_F_WRITE, 0 };
			d[1] = (struct virtq_desc){ (uptr)buf + 16, 16, VIRTQ_DESC_F_WRITE, 0 };
		}
		if (!strcmp(k, "loop")) { /* rng: 0 -> 1 -> 0; blk: 0 -> 1 -> 2 -> 1 (writable order kept) */
			if (!is_blk)
				d[0].flags |= nf, d[0].next = 1;
			d[n - 1].flags |= nf;
			d[n - 1].next = is_blk ? 1 : 0;
			publish(0);
		} else if (!strcmp(k, "badhead")) {
			publish(q.num);
		} else if (!strcmp(k, "badnext")) {
			d[0].flags |= nf;
			d[0].next = q.num;
			publish(0);
		} else if (!strcmp(k, "badaddr") || !strcmp(k, "hugelen")) {
			publish(0);
		} else { /* avalidx: good chains in every ring entry, but idx jumps by num + 1 */
			u16 chains = (u16)(q.num / n);
			for (u16 c = 1; c < chains; c++)
				for (u16 i = 0; i < n; i++) {
					d[c * n + i] = d[i];
					if (d[i].flags & nf)
						d[c * n + i].next = (u16)(c * n + d[i].next);
				}
			for (u16 i = 0; i < q.num; i++)
				q.avail->ring[i] = (u16)(i % chains * n);
			virtio_barrier();
			q.avail_idx = (u16)(q.num + 1);
			q.avail->idx = q.avail_idx;
			virtq_notify(&q);
		}
		r = expect_needs_reset(1);
	} else if (!strcmp(k, "usedmmio")) {
		u64 a = rt_cmdline_u64("addr", dev.base);
		if ((r = virtio_init(&dev, 0))) {
			rt_printf("hostile-%s: setup failed: %s\n", kind, virtio_strerror(r));
			return 2;
		}
		r = virtq_setup_raw(&dev, &q, 0, QSIZE, 0, 0, a);
		virtio_write(&dev, VIRTIO_MMIO_QUEUE_SEL, 0);
		rt_printf("hostile-%s: used ring at 0x%llx: setup says '%s', QueueReady reads %u\n", kind, a,
			  virtio_strerror(r), virtio_read(&dev, VIRTIO_MMIO_QUEUE_READY));
		r = expect_needs_reset(0);
	} else if (!strcmp(k, "qsize")) {
		if ((r = virtio_init(&dev, 0))) {
			rt_printf("hostile-%s: setup failed: %s\n", kind, virtio_strerror(r));
			return 2;
		}
		r = virtq_setup_raw(&dev, &q, 0, 3, 0, 0, 0);
		virtio_write(&dev, VIRTIO_MMIO_QUEUE_SEL, 0);
		u32 ready = virtio_read(&dev, VIRTIO_MMIO_QUEUE_READY), s = virtio_status(&dev);
		rt_printf("hostile-%s: QueueNum 3: QueueReady reads %u, status 0x%x\n", kind, ready, s);
		if (s & VIRTIO_STATUS_NEEDS_RESET) {
			rt_printf("hostile-%s: device needs reset (status 0x%x)\n", kind, s);
			r = 0;
		} else if (!ready) {
			rt_printf("hostile-%s: device refused the queue (QueueReady 0)\n", kind);
			r = 0;
		} else {
			/* Four requests, one at a time: the fourth wraps to avail slot 0 of a 3-entry
			 * ring. Slots 3.. (unused by a 3-entry ring without EVENT_IDX) hold the
			 * invalid head 0xffff, a trap for a device that kept another size. */
			struct virtio_buf b[3];
			u32 len = 0;
			int done = 0;
			for (u16 i = 3; i < VIRTQ_MAX; i++)
				q.avail->ring[i] = 0xffff;
			virtio_driver_ok(&dev);
			for (r = 0; done < 4 && !r; done += !r) {
				unsigned n = good_chain(b);
				r = virtq_xfer(&q, b, n, &len, 1000);
			}
			s = virtio_status(&dev);
			if (done == 4) {
				rt_printf("hostile-%s: device did NOT fail: it accepted a 3-entry queue and completed "
					  "4 requests across the ring wrap (len %u, status 0x%x)\n", kind, len, s);
				r = 4;
			} else if (done == 3 && (s & VIRTIO_STATUS_NEEDS_RESET)) {
				rt_printf("hostile-%s: device ignored QueueNum 3 and kept another queue size: request 4 "
					  "read avail slot 3 (the trap), device needs reset (status 0x%x)\n", kind, s);
				r = 0;
			} else if (s & VIRTIO_STATUS_NEEDS_RESET) {
				rt_printf("hostile-%s: device needs reset after DRIVER_OK and %d request(s) (status 0x%x)\n",
					  kind, done, s);
				r = 0;
			} else {
				rt_printf("hostile-%s: device ignored the queue: %d request(s) completed, then %s "
					  "(status 0x%x)\n", kind, done, virtio_strerror(r), s);
				r = 0;
			}
		}
	} else if (!strcmp(k, "earlynotify")) {
		if ((r = setup(0)))
			return r;
		struct virtio_buf b[3];
		unsigned n = good_chain(b);
		virtq_submit(&q, b, n);
		virtq_notify(&q);
		u64 end = virtio_now_us() + 500000;
		while (q.used->idx == 0 && virtio_now_us() < end)
			cpu_relax();
		u16 idx = q.used->idx;
		u32 s = virtio_status(&dev);
		if (idx) {
			rt_printf("hostile-%s: device did NOT wait: used->idx %u before DRIVER_OK (status 0x%x)\n",
				  kind, idx, s);
			r = 4;
		} else {
			rt_printf("hostile-%s: used->idx stays 0 for 500 ms before DRIVER_OK (status 0x%x)\n", kind, s);
			r = 0;
		}
	} else {
		rt_printf("hostile: unknown kind=%s (loop badhead badnext badaddr hugelen avalidx usedmmio "
			  "qsize earlynotify all)\n", k);
		return 1;
	}
	int rr = recover();
	return r ? r : rr;
}

/* The value of key= as a word (up to 31 characters), or NULL. */
static const char *word_arg(const char *key, char *out)
{
	unsigned kl = (unsigned)strlen(key);
	const char *found = 0;
	for (const char *w = rt_cmdline(); *w;) {
		while (*w && (u8)*w <= ' ')
			w++;
		const char *e = w;
		while (*e && (u8)*e > ' ')
			e++;
		if ((unsigned)(e - w) > kl && !memcmp(w, key, kl) && w[kl] == '=' && e - w - kl - 1 < 32) {
			memcpy(out, w + kl + 1, (unsigned long)(e - w - kl - 1));
			out[e - w - kl - 1] = 0;
			found = out;
		}
		w = e;
	}
	return found;
}

int main(void)
{
	static char kbuf[32], dbuf[32];
	static const char *const all[] = { "loop", "badhead", "badnext", "badaddr", "hugelen",
					   "avalidx", "usedmmio", "qsize", "earlynotify" };
	const char *k = word_arg("kind", kbuf), *dv = word_arg("dev", dbuf);
	int quiet = rt_cmdline_has("quiet");
	if (!k) {
		rt_puts("hostile: no kind= on the command line\n");
		return 1;
	}
	int found;
	if (dv && !strcmp(dv, "blk"))
		found = !virtio_find(VIRTIO_ID_BLOCK, 0, &dev, quiet), is_blk = 1;
	else if (dv && !strcmp(dv, "rng"))
		found = !virtio_find(VIRTIO_ID_RNG, 0, &dev, quiet);
	else if ((found = !virtio_find(VIRTIO_ID_RNG, 0, &dev, quiet)) == 0)
		found = !virtio_find(VIRTIO_ID_BLOCK, 0, &dev, 1), is_blk = 1;
	if (!found) {
		rt_puts("hostile: no virtio-rng or virtio-blk device\n");
		return 1;
	}
	rt_printf("hostile: using the %s device at 0x%lx\n", is_blk ? "blk" : "rng", dev.base);
	if (strcmp(k, "all"))
		return run_kind(k);
	int first = 0;
	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		int r = run_kind(all[i]);
		if (r && !first)
			first = r;
	}
	rt_printf("hostile: all kinds done, %s\n", first ? "some failed" : "all behaved");
	return first;
}
