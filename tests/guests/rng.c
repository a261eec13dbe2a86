/* rng: drives a virtio entropy device (virtio 1.2, 5.4; device id 4) through rt/virtio.c.
 * Reads 64 bytes twice (each read loops until 64 bytes arrived, in as many requests as the
 * device needs), checks neither read is all zero and that they differ, and prints
 * `rng: ok <first 8 bytes hex>`. Command line: `event_idx=0|1` (default 0), `no_irq=0|1`
 * (default 0: ask for used-buffer interrupts, never taken), `qsize=N` (default 64), `quiet`.
 * Exit values: 0 ok, 1 no rng device, 2 init/queue setup
 * failed, 3 a request failed or timed out, 4 all-zero data, 5 the two reads are equal,
 * 6 the device wrote more than the buffer (used len > 64).
 * With the word `loop`, it then goes on for ever: every spin= iterations (default 20000000)
 * one 16-byte request, printed as `rng N <hex>` (the snapshot tests restore a VM whose
 * queue is in use and watch the requests go on). */
#include "virtio.h"

static struct virtq q;
static u8 buf[2][64];

static int fill(u8 *b, unsigned n, unsigned *requests)
{
	unsigned got = 0;
	while (got < n) {
		struct virtio_buf vb = { (uptr)(b + got), n - got, 1 };
		u32 len;
		int r = virtq_xfer(&q, &vb, 1, &len, VIRTIO_TIMEOUT_MS);
		if (r) {
			rt_printf("rng: request failed: %s (status 0x%x)\n", virtio_strerror(r), virtio_status(q.dev));
			return 3;
		}
		if (len > n - got) {
			rt_printf("rng: device claims %u bytes for a %u-byte buffer\n", len, n - got);
			return 6;
		}
		got += len;
		if (++*requests > 1000) {
			rt_printf("rng: only %u of %u bytes after 1000 requests\n", got, n);
			return 3;
		}
	}
	return 0;
}

int main(void)
{
	struct virtio_dev d;
	if (virtio_find(VIRTIO_ID_RNG, 0, &d, rt_cmdline_has("quiet"))) {
		rt_puts("rng: no virtio-rng device (virtio_mmio.device= on the command line)\n");
		return 1;
	}
	q.no_irq = (int)rt_cmdline_u64("no_irq", 0);
	int r = virtio_init(&d, rt_cmdline_u64("event_idx", 0) ? 1ull << VIRTIO_F_EVENT_IDX : 0);
	if (!r)
		r = virtq_setup(&d, &q, 0, (u16)rt_cmdline_u64("qsize", 64));
	if (!r)
		r = virtio_driver_ok(&d);
	if (r) {
		rt_printf("rng: setup failed: %s\n", virtio_strerror(r));
		return 2;
	}
	rt_printf("rng: device at 0x%lx, queue size %u, features 0x%llx\n", d.base, q.num, d.features);
	unsigned requests = 0;
	for (int i = 0; i < 2; i++)
		if ((r = fill(buf[i], sizeof(buf[i]), &requests)))
			return r;
	for (int i = 0; i < 2; i++) {
		int nz = 0;
		for (unsigned k = 0; k < sizeof(buf[i]); k++)
			nz |= buf[i][k];
		if (!nz) {
			rt_printf("rng: read %d is all zero\n", i + 1);
			return 4;
		}
	}
	if (!memcmp(buf[0], buf[1], sizeof(buf[0]))) {
		rt_puts("rng: the two reads are identical\n");
		return 5;
	}
	rt_printf("rng: %u requests, %u notifications (%u suppressed)\n", requests, q.kicks, q.kicks_suppressed);
	rt_puts("rng: ok ");
	for (int k = 0; k < 8; k++)
		rt_printf("%02x", buf[0][k]);
	rt_puts("\n");
	if (!rt_cmdline_has("loop"))
		return 0;
	u64 spin = rt_cmdline_u64("spin", 20000000);
	for (u64 n = 1;; n++) {
		for (volatile u64 i = 0; i < spin; i++)
			;
		if ((r = fill(buf[0], 16, &requests)))
			return r;
		rt_printf("rng %llu ", n);
		for (int k = 0; k < 4; k++)
			rt_printf("%02x", buf[0][k]);
		rt_puts("\n");
	}
}
