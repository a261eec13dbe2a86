/* net.c: the polling virtio-net driver and tiny IPv4 stack of the test runtime (see net.h).
 * Receive buffers are posted once and re-posted as soon as a frame has been handled; transmit
 * buffers are taken from the descriptor the free list hands out next, so buffer i always
 * belongs to descriptor i. */
#include "net.h"

#define ETH_ARP 0x0806
#define ETH_IP 0x0800
#define IP_ICMP 1
#define IP_UDP 17

static u16 be16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }
static u32 be32(const u8 *p) { return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3]; }
static void put16(u8 *p, u16 v) { p[0] = (u8)(v >> 8); p[1] = (u8)v; }
static void put32(u8 *p, u32 v) { put16(p, (u16)(v >> 16)); put16(p + 2, (u16)v); }

static u16 csum(const u8 *p, u32 len)
{
	u32 s = 0;
	for (u32 i = 0; i + 1 < len; i += 2)
		s += be16(p + i);
	if (len & 1)
		s += (u32)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (u16)~s;
}

u32 gnet_parse_ip(const char *s)
{
	u32 ip = 0;
	for (int i = 0; i < 4; i++) {
		u32 v = 0;
		int digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4)
			v = v * 10 + (u32)(*s++ - '0'), digits++;
		if (!digits || v > 255 || (i < 3 && *s++ != '.'))
			return 0;
		ip = ip << 8 | v;
	}
	return (*s == 0 || *s == ' ') ? ip : 0;
}

u32 gnet_cmdline_ip(const char *key, u32 dflt)
{
	unsigned kl = (unsigned)strlen(key);
	for (const char *w = rt_cmdline(); *w;) {
		while (*w == ' ')
			w++;
		if (!memcmp(w, key, kl) && w[kl] == '=') {
			char tmp[20];
			unsigned i = 0;
			for (const char *p = w + kl + 1; *p && *p != ' ' && i < sizeof(tmp) - 1; p++)
				tmp[i++] = *p;
			tmp[i] = 0;
			u32 ip = gnet_parse_ip(tmp);
			return ip ? ip : dflt;
		}
		while (*w && *w != ' ')
			w++;
	}
	return dflt;
}

static int post_rx(struct gnet *n)
{
	u16 slot = n->rxq.free_head;
	struct virtio_buf b = { (uptr)n->rxbuf[slot], GNET_BUF, 1 };
	return virtq_submit(&n->rxq, &b, 1) < 0 ? VIRTIO_ENOSPC : 0;
}

int gnet_open(struct gnet *n, int nth, u32 ip, u64 want)
{
	int r = virtio_find(VIRTIO_ID_NET, nth, &n->dev, 1);
	if (r)
		return r;
	n->index = nth;
	n->ip = ip;
	n->peer_known = 0;
	n->rx_frames = n->tx_frames = n->rx_dropped = n->tx_full = 0;
	r = virtio_init(&n->dev, want | 1ull << VIRTIO_F_EVENT_IDX);
	if (r)
		return r;
	for (int i = 0; i < 6; i++)
		n->mac[i] = virtio_config8(&n->dev, (u32)i);
	n->status = virtio_config16(&n->dev, 6);
	n->mtu = (n->dev.features >> GNET_F_MTU & 1) ? virtio_config16(&n->dev, 10) : 1500;
	n->rxq.no_irq = 1;
	n->txq.no_irq = 1;
	if ((r = virtq_setup(&n->dev, &n->rxq, 0, GNET_QSIZE)) ||
	    (r = virtq_setup(&n->dev, &n->txq, 1, GNET_QSIZE)))
		return r;
	while (n->rxq.num_free)
		if ((r = post_rx(n)))
			return r;
	if ((r = virtio_driver_ok(&n->dev)))
		return r;
	virtq_kick(&n->rxq);
	rt_printf("net%d: mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u link %s features 0x%llx\n", nth,
		  n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5], n->mtu,
		  (n->dev.features >> GNET_F_STATUS & 1) ? (n->status & 1 ? "up" : "down") : "?",
		  n->dev.features);
	return 0;
}

void gnet_tx_reclaim(struct gnet *n)
{
	u32 id, len;
	while (virtq_poll(&n->txq, &id, &len) > 0)
		;
}

int gnet_send(struct gnet *n, const u8 *frame, u32 len)
{
	if (len + GNET_HDR > GNET_BUF)
		return VIRTIO_EINVAL;
	gnet_tx_reclaim(n);
	if (!n->txq.num_free) {
		n->tx_full++;
		virtq_kick(&n->txq);
		u64 end = virtio_now_us() + 5000000;
		while (!n->txq.num_free) {
			gnet_tx_reclaim(n);
			if (virtio_now_us() > end)
				return (virtio_status(&n->dev) & VIRTIO_STATUS_NEEDS_RESET)
					       ? VIRTIO_ENEEDSRESET : VIRTIO_ETIMEDOUT;
			cpu_relax();
		}
	}
	u8 *b = n->txbuf[n->txq.free_head];
	memset(b, 0, GNET_HDR);
	memcpy(b + GNET_HDR, frame, len);
	struct virtio_buf v = { (uptr)b, GNET_HDR + len, 0 };
	if (virtq_submit(&n->txq, &v, 1) < 0)
		return VIRTIO_ENOSPC;
	virtq_kick(&n->txq);
	n->tx_frames++;
	return 0;
}

static void eth_reply_hdr(struct gnet *n, u8 *out, const u8 *in, u16 type)
{
	memcpy(out, in + 6, 6);
	memcpy(out + 6, n->mac, 6);
	put16(out + 12, type);
}

static void arp_send(struct gnet *n, u16 op, const u8 *tha, u32 tpa, const u8 *dst)
{
	u8 *f = n->frame;
	memcpy(f, dst, 6);
	memcpy(f + 6, n->mac, 6);
	put16(f + 12, ETH_ARP);
	put16(f + 14, 1);
	put16(f + 16, ETH_IP);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, op);
	memcpy(f + 22, n->mac, 6);
	put32(f + 28, n->ip);
	memcpy(f + 32, tha, 6);
	put32(f + 38, tpa);
	memset(f + 42, 0, 18); /* pad to 60 bytes */
	gnet_send(n, f, 60);
}

static void on_arp(struct gnet *n, const u8 *f, u32 len)
{
	if (len < 42 || be16(f + 14) != 1 || be16(f + 16) != ETH_IP || f[18] != 6 || f[19] != 4)
		return;
	u16 op = be16(f + 20);
	u32 spa = be32(f + 28), tpa = be32(f + 38);
	if (op == 2 && spa == n->peer_ip) {
		memcpy(n->peer_mac, f + 22, 6);
		n->peer_known = 1;
	}
	if (op == 1 && tpa == n->ip)
		arp_send(n, 2, f + 22, spa, f + 22);
}

/* IPv4 header of a reply: swapped addresses, new checksum. ihl fixed at 20 bytes. */
static void ip_reply_hdr(u8 *o, const u8 *i, u16 total)
{
	memcpy(o, i, 20);
	o[0] = 0x45;
	put16(o + 2, total);
	put16(o + 6, 0);
	o[8] = 64;
	memcpy(o + 12, i + 16, 4);
	memcpy(o + 16, i + 12, 4);
	put16(o + 10, 0);
	put16(o + 10, csum(o, 20));
}

static int on_ip(struct gnet *n, const u8 *f, u32 len, u16 echo_port)
{
	const u8 *ip = f + 14;
	if (len < 34 || (ip[0] >> 4) != 4 || (ip[0] & 15) < 5)
		return 0;
	u32 ihl = (u32)(ip[0] & 15) * 4, total = be16(ip + 2);
	if (total < ihl || 14 + total > len || csum(ip, ihl) != 0 || be32(ip + 16) != n->ip)
		return 0;
	if (be16(ip + 6) & 0x3fff)
		return 0; /* fragments: not for this stack */
	const u8 *l4 = ip + ihl;
	u32 l4len = total - ihl;
	u8 *o = n->frame;
	if (ip[9] == IP_ICMP && l4len >= 8 && l4[0] == 8 && 34 + l4len <= GNET_BUF - GNET_HDR) {
		eth_reply_hdr(n, o, f, ETH_IP);
		ip_reply_hdr(o + 14, ip, (u16)(20 + l4len));
		memcpy(o + 34, l4, l4len);
		o[34] = 0; /* echo reply */
		put16(o + 36, 0);
		put16(o + 36, csum(o + 34, l4len));
		gnet_send(n, o, 34 + l4len);
		return 0;
	}
	if (ip[9] == IP_UDP && l4len >= 8 && be16(l4 + 2) == echo_port &&
	    be16(l4 + 4) >= 8 && be16(l4 + 4) <= l4len && 42 + l4len <= GNET_BUF - GNET_HDR) {
		u32 ulen = be16(l4 + 4);
		int quit = ulen == 12 && !memcmp(l4 + 8, "quit", 4);
		eth_reply_hdr(n, o, f, ETH_IP);
		ip_reply_hdr(o + 14, ip, (u16)(20 + ulen));
		put16(o + 34, be16(l4 + 2));
		put16(o + 36, be16(l4));
		put16(o + 38, (u16)ulen);
		put16(o + 40, 0); /* no UDP checksum (IPv4 allows it) */
		if (quit)
			memcpy(o + 42, "bye!", 4);
		else
			memcpy(o + 42, l4 + 8, ulen - 8);
		u32 flen = 34 + ulen < 60 ? 60 : 34 + ulen;
		if (flen > 34 + ulen)
			memset(o + 34 + ulen, 0, flen - 34 - ulen);
		gnet_send(n, o, flen);
		return quit ? GNET_QUIT : 0;
	}
	return 0;
}

/* One received frame (buffer slot id, used length len). */
static int on_frame(struct gnet *n, u32 id, u32 len, u16 echo_port)
{
	const u8 *b = n->rxbuf[id];
	if (len < GNET_HDR + 14 || len > GNET_BUF) {
		n->rx_dropped++;
		return 0;
	}
	u16 nbuf = (u16)(b[10] | b[11] << 8);
	if ((n->dev.features >> GNET_F_MRG_RXBUF & 1) && nbuf != 1) {
		n->rx_dropped++; /* frames never span buffers at these sizes */
		return 0;
	}
	const u8 *f = b + GNET_HDR;
	len -= GNET_HDR;
	n->rx_frames++;
	u16 type = be16(f + 12);
	if (type == ETH_ARP)
		on_arp(n, f, len);
	else if (type == ETH_IP)
		return on_ip(n, f, len, echo_port);
	return 0;
}

int gnet_serve(struct gnet *n, u16 echo_port)
{
	int handled = 0, quit = 0;
	u32 id, len;
	for (;;) {
		int r = virtq_poll(&n->rxq, &id, &len);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		if (on_frame(n, id, len, echo_port) == GNET_QUIT)
			quit = 1;
		post_rx(n);
		handled++;
	}
	if (handled)
		virtq_kick(&n->rxq);
	if (virtio_status(&n->dev) & VIRTIO_STATUS_NEEDS_RESET)
		return VIRTIO_ENEEDSRESET;
	return quit ? GNET_QUIT : handled;
}

int gnet_resolve(struct gnet *n, u32 ip, u32 timeout_ms)
{
	static const u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const u8 zero[6];
	if (n->peer_known && n->peer_ip == ip)
		return 0;
	n->peer_ip = ip;
	n->peer_known = 0;
	u64 end = virtio_now_us() + (u64)timeout_ms * 1000, next = 0;
	while (!n->peer_known) {
		u64 now = virtio_now_us();
		if (now > end)
			return VIRTIO_ETIMEDOUT;
		if (now >= next) {
			arp_send(n, 1, zero, ip, bcast);
			next = now + 200000;
		}
		int r = gnet_serve(n, 0);
		if (r < 0 && r != GNET_QUIT)
			return r;
	}
	return 0;
}

int gnet_udp_send(struct gnet *n, u16 sport, u16 dport, const u8 *data, u32 len)
{
	u8 *o = n->frame;
	if (!n->peer_known || 42 + len > GNET_BUF - GNET_HDR)
		return VIRTIO_EINVAL;
	memcpy(o, n->peer_mac, 6);
	memcpy(o + 6, n->mac, 6);
	put16(o + 12, ETH_IP);
	u8 *ip = o + 14;
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (u16)(28 + len));
	put16(ip + 4, 0);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = IP_UDP;
	put16(ip + 10, 0);
	put32(ip + 12, n->ip);
	put32(ip + 16, n->peer_ip);
	put16(ip + 10, csum(ip, 20));
	put16(o + 34, sport);
	put16(o + 36, dport);
	put16(o + 38, (u16)(8 + len));
	put16(o + 40, 0);
	memcpy(o + 42, data, len);
	u32 flen = 42 + len < 60 ? 60 : 42 + len;
	if (flen > 42 + len)
		memset(o + 42 + len, 0, flen - 42 - len);
	return gnet_send(n, o, flen);
}
