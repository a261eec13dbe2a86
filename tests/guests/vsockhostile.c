/* vsockhostile: a virtio-vsock driver that breaks the rules, one case at a time, and checks
 * what the device owes each (docs/vsock.md, "Hostile guests"). Needs a host program echoing on
 * PATH_<hport> (`hport=`, 5000) and one that accepts and never reads on PATH_<sink> (`sink=`,
 * 5002). Prints "vsockhostile: <case>: ok" per case and "vsockhostile: PASS" (exit 0), or
 * what failed (exit value 5: status 11). */
#include "vsock.h"

static struct gvs v;
static struct gvs_hdr last;   /* the last packet from the device */
static u64 seen;              /* packets seen */
static u32 seen_port;         /* count packets to this guest port (hits) */
static u64 hits;

#define FAIL(...) do { rt_printf("vsockhostile: FAIL: " __VA_ARGS__); rt_exit(5); } while (0)
#define OK(name) rt_printf("vsockhostile: %s: ok\n", name)

static void on_packet(struct gvs *g, const struct gvs_hdr *h, const u8 *payload)
{
	(void)g;
	(void)payload;
	last = *h;
	seen++;
	hits += h->dst_port == seen_port;
}

/* Polls for ms milliseconds; returns the packets seen meanwhile. */
static u64 settle(u32 ms)
{
	u64 before = seen, end = virtio_now_us() + (u64)ms * 1000;
	while (virtio_now_us() < end)
		if (gvs_poll(&v) < 0)
			FAIL("the device failed unexpectedly (status 0x%x)\n", virtio_status(&v.dev));
	return seen - before;
}

static struct gvs_hdr hdr(u32 sport, u32 dport, u16 op)
{
	return (struct gvs_hdr){ .src_cid = v.cid, .dst_cid = GVS_HOST_CID, .src_port = sport,
				 .dst_port = dport, .type = GVS_TYPE_STREAM, .op = op,
				 .buf_alloc = 65536 };
}

/* A packet that must be answered by an RST with the ports swapped (within 3 s). */
static void expect_rst(const char *name, struct gvs_hdr h, const void *data, u32 len)
{
	last.op = 0;
	if (gvs_send_raw(&v, &h, data, len))
		FAIL("%s: cannot send\n", name);
	for (int i = 0; i < 60; i++) {
		if (last.op == GVS_OP_RST && last.src_port == h.dst_port && last.dst_port == h.src_port)
			break;
		settle(50);
	}
	if (last.op != GVS_OP_RST || last.src_port != h.dst_port || last.dst_port != h.src_port)
		FAIL("%s: expected an RST for %u -> %u, last packet op %u\n", name, h.src_port,
		     h.dst_port, last.op);
	OK(name);
}

/* A packet that must get no answer at all: nothing for its port within 300 ms (after an
 * answer would have come: the device handles a packet in microseconds). */
static void expect_silence(const char *name, struct gvs_hdr h)
{
	seen_port = h.src_port;
	hits = 0;
	if (gvs_send_raw(&v, &h, 0, 0))
		FAIL("%s: cannot send\n", name);
	settle(300);
	if (hits)
		FAIL("%s: the device answered (op %u)\n", name, last.op);
	OK(name);
}

static struct gvs_conn *open_conn(u32 port)
{
	struct gvs_conn *c = gvs_connect(&v, port);
	if (!c || gvs_wait_state(&v, c, GVS_CONNECTING, 3000) != GVS_OPEN)
		FAIL("no connection to host port %u\n", port);
	return c;
}

/* A malformed packet on an established connection: the connection must be reset. */
static void expect_reset(const char *name, struct gvs_hdr h, const void *data, u32 len, u32 port)
{
	struct gvs_conn *c = open_conn(port);
	h.src_port = c->lport;
	h.dst_port = c->pport;
	if (gvs_send_raw(&v, &h, data, len))
		FAIL("%s: cannot send\n", name);
	if (gvs_wait_state(&v, c, GVS_OPEN, 2000) != GVS_CLOSED)
		FAIL("%s: the connection was not reset\n", name);
	gvs_release(c);
	OK(name);
}

/* Breaks a ring rule; the device must fail itself, then work again after a reset. */
static void expect_fail(const char *name, int writable_tx)
{
	static u8 buf[128];
	if (writable_tx) {
		struct virtio_buf b[2] = { { (uptr)buf, 44, 0 }, { (uptr)buf + 64, 64, 1 } };
		virtq_submit(&v.txq, b, 2);
		virtq_notify(&v.txq);
	} else { /* the only receive buffer is one the device could only read */
		v.rx_post = -1;
		if (gvs_open(&v))
			FAIL("%s: re-initialisation failed\n", name);
		v.rx_post = 0;
		struct virtio_buf b = { (uptr)buf, 64, 0 };
		virtq_submit(&v.rxq, &b, 1);
		virtq_notify(&v.rxq);
		gvs_connect(&v, (u32)rt_cmdline_u64("hport", 5000)); /* its answer needs a buffer */
	}
	int to;
	u32 s = virtio_wait_status(&v.dev, VIRTIO_STATUS_NEEDS_RESET, 3000, &to);
	if (to)
		FAIL("%s: the device did not fail (status 0x%x)\n", name, virtio_status(&v.dev));
	rt_printf("vsockhostile: %s: DEVICE_NEEDS_RESET (status 0x%x)\n", name, s);
	for (unsigned i = 0; i < GVS_MAX_CONNS; i++)
		gvs_release(&v.conns[i]);
	if (gvs_open(&v))
		FAIL("%s: re-initialisation after the reset failed\n", name);
	struct gvs_conn *c = open_conn((u32)rt_cmdline_u64("hport", 5000));
	gvs_close(&v, c);
	gvs_wait_state(&v, c, GVS_CLOSING, 2000);
	gvs_release(c);
	OK(name);
}

int main(void)
{
	u32 hport = (u32)rt_cmdline_u64("hport", 5000), sink = (u32)rt_cmdline_u64("sink", 5002);
	static u8 junk[GVS_PKT];
	int r = gvs_open(&v);
	if (r == VIRTIO_ENODEV)
		FAIL("no virtio-vsock device\n");
	if (r)
		FAIL("setup: %s\n", virtio_strerror(r));
	v.on_packet = on_packet;

	struct gvs_hdr h = hdr(40001, hport, GVS_OP_RW);
	expect_rst("rw-unknown-connection", h, "abc", 3);
	h = hdr(40002, hport, 99);
	expect_rst("unknown-op", h, 0, 0);
	h = hdr(40003, hport, 0);
	expect_rst("op-invalid", h, 0, 0);
	h = hdr(40004, hport, GVS_OP_REQUEST);
	h.type = 2; /* SEQPACKET, not offered */
	expect_rst("unknown-type", h, 0, 0);
	h = hdr(40005, hport, GVS_OP_RST);
	expect_silence("rst-unknown-connection", h);
	h = hdr(40006, hport, GVS_OP_REQUEST);
	h.src_cid = v.cid + 1;
	expect_silence("spoofed-source-cid", h);
	h = hdr(40007, hport, GVS_OP_REQUEST);
	h.dst_cid = v.cid; /* guest to guest */
	expect_silence("other-destination-cid", h);
	h = hdr(40008, hport, GVS_OP_REQUEST);
	h.dst_cid = 0x100000002ull; /* host CID with the reserved upper bits set */
	expect_silence("reserved-cid-bits", h);

	h = hdr(0, 0, GVS_OP_RW);
	h.len = 1000; /* claims more than the 10 bytes that follow */
	expect_reset("length-beyond-buffer", h, junk, 10, hport);
	h = hdr(0, 0, GVS_OP_CREDIT_UPDATE);
	h.len = 8; /* a control packet with a payload */
	expect_reset("length-on-control-packet", h, junk, 8, hport);
	h = hdr(0, 0, GVS_OP_SHUTDOWN);
	h.flags = 0x80;
	expect_reset("shutdown-bad-flags", h, 0, 0, hport);
	h = hdr(0, 0, GVS_OP_REQUEST);
	expect_reset("request-on-open-connection", h, 0, 0, hport);

	/* A header shorter than 44 bytes: dropped, and the device carries on. */
	struct virtio_buf sb = { (uptr)junk, 20, 0 };
	virtq_submit(&v.txq, &sb, 1);
	virtq_notify(&v.txq);
	settle(200);
	struct gvs_conn *c = open_conn(hport);
	gvs_close(&v, c);
	gvs_wait_state(&v, c, GVS_CLOSING, 2000);
	gvs_release(c);
	OK("short-header");

	/* Credit overflow: data far beyond what the device allowed, to a host program that does
	 * not read. The device must reset the connection, not buffer it. */
	c = open_conn(sink);
	for (u32 i = 0; i < 64 && c->state == GVS_OPEN; i++) {
		struct gvs_hdr d = hdr(c->lport, c->pport, GVS_OP_RW);
		d.len = GVS_PKT;
		if (gvs_send_raw(&v, &d, junk, GVS_PKT))
			FAIL("credit-overflow: cannot send\n");
		gvs_poll(&v);
	}
	if (gvs_wait_state(&v, c, GVS_OPEN, 2000) != GVS_CLOSED)
		FAIL("credit-overflow: 4 MiB beyond the credit and the connection still open\n");
	gvs_release(c);
	OK("credit-overflow");

	expect_fail("writable-transmit-buffer", 1);
	expect_fail("readable-receive-buffer", 0);
	rt_printf("vsockhostile: PASS\n");
	return 0;
}
