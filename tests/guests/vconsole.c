/* vconsole: drives a virtio console (virtio 1.2, 5.3; device id 3, port 0 only) through
 * rt/virtio.c. Before initialising the device it writes `vconsole: emerg_wr ok` one byte at a
 * time to emerg_wr (when VIRTIO_CONSOLE_F_EMERG_WRITE is offered), then sets up receiveq (0)
 * and transmitq (1), writes `vconsole: hello from hvc0` through the transmitq in two
 * descriptors, posts RXBUFS receive chains (two 8-byte writable descriptors each) and echoes
 * every byte that arrives back through the transmitq (\r becomes \n, a \n right after a \r is
 * dropped) until it sees the line `quit`; then `vconsole: bye` and exit value 0. Without
 * input it waits forever (polling). Diagnostics go to COM1.
 * Command line: `event_idx=0|1` (default 1), `quiet`. Exit values: 0 ok, 1 no console
 * device, 2 init/queue setup failed, 3 a transfer failed or timed out, 4 the device returned
 * a bad used length (a receive length above the chain, a transmit length other than 0). */
#include "virtio.h"

#define RXBUFS 8
#define RXHALF 8 /* bytes per descriptor; a receive chain holds 2 * RXHALF */

static struct virtq rxq, txq;
static u8 rxbuf[RXBUFS][2 * RXHALF];
static int head_buf[VIRTQ_MAX]; /* receive chain head -> rxbuf index */
static u8 txbuf[2 * RXHALF]; /* one echoed chunk: \r -> \n keeps the length */

/* Sends buf[0..n) in one readable chain, split in two descriptors when n > 1. */
static int tx(const void *buf, u32 n)
{
	struct virtio_buf b[2] = { { (uptr)buf, n, 0 }, { 0, 0, 0 } };
	unsigned nb = 1;
	u32 len;

	if (n > 1) {
		b[0].len = n / 2;
		b[1] = (struct virtio_buf){ (uptr)buf + n / 2, n - n / 2, 0 };
		nb = 2;
	}
	int r = virtq_xfer(&txq, b, nb, &len, VIRTIO_TIMEOUT_MS);
	if (r) {
		rt_printf("vconsole: transmit failed: %s (status 0x%x)\n", virtio_strerror(r),
			  virtio_status(txq.dev));
		return 3;
	}
	if (len != 0) {
		rt_printf("vconsole: transmit used length %u, expected 0\n", len);
		return 4;
	}
	return 0;
}

static int tx_str(const char *s) { return tx(s, (u32)strlen(s)); }

/* Posts rxbuf[i] as a chain of two writable descriptors. */
static int post(int i)
{
	struct virtio_buf b[2] = { { (uptr)rxbuf[i], RXHALF, 1 }, { (uptr)rxbuf[i] + RXHALF, RXHALF, 1 } };
	int head = virtq_submit(&rxq, b, 2);

	if (head < 0) {
		rt_printf("vconsole: cannot post receive buffer %d: %s\n", i, virtio_strerror(head));
		return 3;
	}
	head_buf[head] = i;
	return 0;
}

/* Writes `vconsole: emerg_wr ok\n` through emerg_wr, in 32-bit writes of one byte each. */
static void emerg_line(const struct virtio_dev *d)
{
	static const char msg[] = "vconsole: emerg_wr ok\n";

	virtio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	if (!(virtio_read(d, VIRTIO_MMIO_DEVICE_FEATURES) & 1u << 2)) {
		rt_puts("vconsole: VIRTIO_CONSOLE_F_EMERG_WRITE not offered\n");
		return;
	}
	for (unsigned i = 0; i + 1 < sizeof(msg); i++)
		virtio_write(d, VIRTIO_MMIO_CONFIG + 8, (u8)msg[i]);
}

static struct {
	char line[8];
	unsigned n;
	int after_cr;
} ln;

/* Echoes one received chunk (bytes after a `quit` line are dropped). Returns 1 after the
 * line `quit`, an exit value (3 or 4) when the transmit failed, else 0. */
static int echo(const u8 *p, u32 len)
{
	u32 o = 0;
	int quit = 0;

	for (u32 i = 0; i < len && !quit; i++) {
		char c = (char)p[i];
		if (c == '\n' && ln.after_cr) { /* the \n of a \r\n pair */
			ln.after_cr = 0;
			continue;
		}
		ln.after_cr = c == '\r';
		if (c == '\r')
			c = '\n';
		txbuf[o++] = (u8)c;
		if (c == '\n') {
			quit = ln.n == 4 && !memcmp(ln.line, "quit", 4);
			ln.n = 0;
		} else if (ln.n < sizeof(ln.line)) { /* a longer line stays at 8: not `quit` */
			ln.line[ln.n++] = c;
		}
	}
	if (o) {
		int r = tx(txbuf, o);
		if (r)
			return r;
	}
	return quit;
}

static int setup(struct virtio_dev *d)
{
	int r = virtio_init(d, rt_cmdline_u64("event_idx", 1) ? 1ull << VIRTIO_F_EVENT_IDX : 0);
	if (!r)
		r = virtq_setup(d, &rxq, 0, 64);
	if (!r)
		r = virtq_setup(d, &txq, 1, 64);
	if (!r)
		r = virtio_driver_ok(d);
	if (r) {
		rt_printf("vconsole: setup failed: %s\n", virtio_strerror(r));
		return 2;
	}
	return 0;
}

int main(void)
{
	struct virtio_dev d;
	int r;

	if (virtio_find(VIRTIO_ID_CONSOLE, 0, &d, rt_cmdline_has("quiet"))) {
		rt_puts("vconsole: no virtio console (virtio_mmio.device= on the command line)\n");
		return 1;
	}
	emerg_line(&d);
	if ((r = setup(&d)))
		return r;
	rt_printf("vconsole: device at 0x%lx, queue sizes %u/%u, features 0x%llx\n", d.base,
		  rxq.num, txq.num, d.features);
	if ((r = tx_str("vconsole: hello from hvc0\n")))
		return r;
	for (int i = 0; i < RXBUFS; i++)
		if ((r = post(i)))
			return r;
	virtq_kick(&rxq);
	for (;;) {
		u32 id, len;
		int got = virtq_poll(&rxq, &id, &len);
		if (got < 0)
			return 3;
		if (got == 0) {
			cpu_relax();
			continue;
		}
		if (len == 0 || len > sizeof(rxbuf[0])) {
			rt_printf("vconsole: receive used length %u for a %u-byte chain\n", len,
				  (unsigned)sizeof(rxbuf[0]));
			return 4;
		}
		int i = head_buf[id];
		if ((r = echo(rxbuf[i], len)) == 1)
			break;
		if (r)
			return r;
		if ((r = post(i)))
			return r;
		virtq_kick(&rxq);
	}
	if ((r = tx_str("vconsole: bye\n")))
		return r;
	return 0;
}
