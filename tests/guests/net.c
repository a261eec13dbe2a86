/* net: a virtio-net test guest with a tiny IPv4 stack (rt/net.c). It prints each
 * interface's MAC, MTU and link status from the configuration space, then, by `mode=`:
 *   echo   (default) answers ARP, ICMP echo (ping) and echoes UDP on port `port=` (7) until a
 *          UDP "quit" arrives (answered "bye!", exit value 0) or `secs=` (60) pass (exit 3).
 *          `nif=2` serves two interfaces (addresses ip0=, ip1=; defaults 10.0.0.2, 10.0.1.2).
 *   burst  resolves `dst=` (10.0.0.1) with ARP, sends `count=` (10000) UDP datagrams of
 *          `size=` (64) payload bytes to port `dport=` (9000), each starting with its
 *          sequence number (big-endian u32), prints
 *          "netburst: frames=N bytes=B us=U full=F kicks=K" (F: times the ring was
 *          full, K: transmit notifications), then serves as in echo mode. With `drain=1`
 *          U runs until the device has taken every frame (rate-limit tests).
 *   idle   sets the device up with every receive buffer posted, prints "net: idle" and halts
 *          the vCPU (needs `ring0`; at ring 3 it spins): what an idle interface costs the VMM.
 *   hostile sends malformed transmit chains (short header, oversize frame, flags, checksum
 *          range, GSO types, a frame shorter than Ethernet), checks the device still answers,
 *          then a chain with a device-writable buffer (the device must fail itself), resets,
 *          and checks it works again. Prints "nethostile: PASS" (exit 0) or what failed.
 * Exit values: 0 ok, 1 no virtio-net device, 2 setup failed, 3 timed out, 4 transport error,
 * 5 hostile check failed. */
#include "net.h"

static struct gnet nets[2];
static u8 payload[GNET_BUF];
static u8 big[9200];

#define FAIL(code, ...) do { rt_printf("net: FAIL: " __VA_ARGS__); rt_exit(code); } while (0)

static void open_all(int nif, u64 want)
{
	for (int i = 0; i < nif; i++) {
		u32 ip = gnet_cmdline_ip(i ? "ip1" : "ip0", i ? 0x0a000102 : 0x0a000002);
		if (i == 0)
			ip = gnet_cmdline_ip("ip", ip);
		int r = gnet_open(&nets[i], i, ip, want);
		if (r == VIRTIO_ENODEV)
			FAIL(1, "no virtio-net device %d\n", i);
		if (r)
			FAIL(2, "net%d: setup: %s\n", i, virtio_strerror(r));
	}
}

static int serve(int nif, u16 port)
{
	u64 end = virtio_now_us() + rt_cmdline_u64("secs", 60) * 1000000;
	for (;;) {
		for (int i = 0; i < nif; i++) {
			int r = gnet_serve(&nets[i], port);
			if (r == GNET_QUIT) {
				for (int k = 0; k < 1000; k++)
					gnet_tx_reclaim(&nets[i]); /* let "bye!" leave */
				return 0;
			}
			if (r < 0)
				FAIL(4, "net%d: %s\n", i, virtio_strerror(r));
		}
		if (virtio_now_us() > end) {
			rt_printf("net: no quit after %llu s\n", rt_cmdline_u64("secs", 60));
			return 3;
		}
	}
}

static void burst(struct gnet *n)
{
	u32 dst = gnet_cmdline_ip("dst", 0x0a000001);
	u64 count = rt_cmdline_u64("count", 10000), size = rt_cmdline_u64("size", 64);
	u16 dport = (u16)rt_cmdline_u64("dport", 9000);
	if (size < 4 || size > (u64)n->mtu - 28 || size > GNET_BUF - GNET_HDR - 42)
		FAIL(2, "size=%llu: 4 to %u bytes\n", size, n->mtu - 28);
	if (gnet_resolve(n, dst, 5000))
		FAIL(3, "no ARP answer from the burst destination\n");
	for (u64 i = 0; i < size; i++)
		payload[i] = (u8)(i * 7);
	rt_printf("net: ready\n");
	u64 t0 = virtio_now_us();
	for (u64 i = 0; i < count; i++) {
		payload[0] = (u8)(i >> 24), payload[1] = (u8)(i >> 16);
		payload[2] = (u8)(i >> 8), payload[3] = (u8)i;
		int r = gnet_udp_send(n, 9001, dport, payload, (u32)size);
		if (r)
			FAIL(4, "burst send %llu: %s\n", i, virtio_strerror(r));
	}
	/* drain=1: the clock stops when the device has taken every frame, not when the last one
	 * was queued (what a rate limit on transmit is measured by) */
	if (rt_cmdline_has("drain=1"))
		for (u64 end = virtio_now_us() + 10000000; n->txq.num_free < n->txq.num &&
							   virtio_now_us() < end;)
			gnet_tx_reclaim(n);
	u64 us = virtio_now_us() - t0;
	rt_printf("netburst: frames=%llu bytes=%llu us=%llu full=%llu kicks=%u\n", count,
		  count * size, us, n->tx_full, n->txq.kicks);
}

/* ---- hostile mode ---- */

struct hdr { u8 flags, gso_type; u16 hdr_len, gso_size, csum_start, csum_offset, num_buffers; };

/* Submits one raw transmit chain and waits for it to come back (or the device to fail). */
static int raw_tx(struct gnet *n, const struct virtio_buf *b, unsigned cnt)
{
	gnet_tx_reclaim(n);
	u32 len;
	return virtq_xfer(&n->txq, b, cnt, &len, 3000);
}

static void check_alive(struct gnet *n, const char *after)
{
	n->peer_known = 0;
	if (gnet_resolve(n, 0x0a000001, 3000))
		FAIL(5, "the device stopped answering after %s\n", after);
}

static void bad_header(struct gnet *n, const char *what, struct hdr h, u32 frame_len)
{
	u8 *b = n->txbuf[n->txq.free_head];
	memcpy(b, &h, sizeof(h));
	memset(b + GNET_HDR, 0xee, frame_len);
	struct virtio_buf v = { (uptr)b, GNET_HDR + frame_len, 0 };
	int r = raw_tx(n, &v, 1);
	if (r)
		FAIL(5, "%s: %s\n", what, virtio_strerror(r));
	rt_printf("nethostile: %s: dropped, device alive\n", what);
}

static void hostile(struct gnet *n)
{
	check_alive(n, "setup");
	/* A chain of 4 bytes: no room for the header. */
	struct virtio_buf v = { (uptr)n->txbuf[n->txq.free_head], 4, 0 };
	if (raw_tx(n, &v, 1))
		FAIL(5, "short chain\n");
	rt_printf("nethostile: short chain: dropped, device alive\n");
	/* An oversize frame (9000 bytes; no GSO negotiated, MTU 1500). */
	memset(big, 0, GNET_HDR);
	memset(big + GNET_HDR, 0x55, 9000);
	struct virtio_buf bv = { (uptr)big, GNET_HDR + 9000, 0 };
	if (raw_tx(n, &bv, 1))
		FAIL(5, "oversize frame\n");
	rt_printf("nethostile: oversize frame: dropped, device alive\n");
	bad_header(n, "unknown flags", (struct hdr){ .flags = 0x80 }, 60);
	bad_header(n, "checksum outside the frame",
		   (struct hdr){ .flags = 1, .csum_start = 1000, .csum_offset = 6 }, 60);
	bad_header(n, "checksum offset overflow",
		   (struct hdr){ .flags = 1, .csum_start = 0xffff, .csum_offset = 0xffff }, 60);
	bad_header(n, "GSO TCPv4 not negotiated",
		   (struct hdr){ .gso_type = 1, .gso_size = 1000, .hdr_len = 54 }, 60);
	bad_header(n, "unknown GSO type", (struct hdr){ .gso_type = 0x42, .gso_size = 100 }, 60);
	bad_header(n, "ECN without GSO", (struct hdr){ .gso_type = 0x80 }, 60);
	bad_header(n, "frame shorter than Ethernet", (struct hdr){ 0 }, 6);
	check_alive(n, "the malformed frames");
	rt_printf("nethostile: the device still answers ARP\n");
	/* A device-writable buffer in a transmit chain: the device must fail itself. */
	struct virtio_buf wv[2] = { { (uptr)n->txbuf[0], 60, 0 }, { (uptr)n->txbuf[1], 60, 1 } };
	gnet_tx_reclaim(n);
	virtq_submit(&n->txq, wv, 2);
	virtq_notify(&n->txq);
	int to;
	u32 s = virtio_wait_status(&n->dev, VIRTIO_STATUS_NEEDS_RESET, 3000, &to);
	if (to)
		FAIL(5, "a writable transmit buffer did not fail the device (status 0x%x)\n",
		     virtio_status(&n->dev));
	rt_printf("nethostile: writable transmit buffer: DEVICE_NEEDS_RESET (status 0x%x)\n", s);
	int r = gnet_open(n, 0, n->ip, 1ull << GNET_F_MAC | 1ull << GNET_F_MTU | 1ull << GNET_F_CSUM);
	if (r)
		FAIL(5, "re-initialisation after the reset: %s\n", virtio_strerror(r));
	check_alive(n, "the reset");
	rt_printf("nethostile: PASS\n");
}

int main(void)
{
	const char *cl = rt_cmdline();
	int nif = (int)rt_cmdline_u64("nif", 1);
	u16 port = (u16)rt_cmdline_u64("port", 7);
	u64 want = 1ull << GNET_F_MAC | 1ull << GNET_F_MTU | 1ull << GNET_F_STATUS;
	if (!rt_cmdline_has("mrg=0"))
		want |= 1ull << GNET_F_MRG_RXBUF;
	(void)cl;
	if (nif < 1 || nif > 2)
		FAIL(2, "nif=%d: 1 or 2\n", nif);
	if (rt_cmdline_has("mode=hostile")) {
		open_all(1, (want & ~(1ull << GNET_F_MRG_RXBUF)) | 1ull << GNET_F_CSUM);
		hostile(&nets[0]);
		return 0;
	}
	open_all(nif, want);
	if (rt_cmdline_has("mode=idle")) {
		rt_printf("net: idle\n");
		if (rt_cpl() == 0)
			for (;;)
				__asm__ volatile("cli; hlt");
		rt_hang();
	}
	if (rt_cmdline_has("mode=burst"))
		burst(&nets[0]);
	else
		rt_printf("net: ready\n");
	int r = serve(nif, port);
	for (int i = 0; i < nif; i++)
		rt_printf("net%d: rx=%llu tx=%llu dropped=%llu\n", i, nets[i].rx_frames,
			  nets[i].tx_frames, nets[i].rx_dropped);
	return r;
}
