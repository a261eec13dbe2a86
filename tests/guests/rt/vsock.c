/* vsock.c: the polling virtio-vsock driver and stream stack of the test runtime (see
 * vsock.h). Receive buffers (one descriptor each, header + 64 KiB) are posted once and
 * re-posted when their packet has been handled; transmit buffer i belongs to descriptor i. */
#include "vsock.h"

#define VSOCK_ID 19
#define F_STREAM 0

static u8 rxbufs[GVS_QSIZE][GVS_BUF] __attribute__((aligned(4096))) RT_NOINIT;
static u8 txbufs[GVS_QSIZE][GVS_BUF] __attribute__((aligned(4096))) RT_NOINIT;

static int post_rx(struct gvs *v)
{
	u16 slot = v->rxq.free_head;
	struct virtio_buf b = { (uptr)v->rxbuf[slot], GVS_BUF, 1 };
	return virtq_submit(&v->rxq, &b, 1) < 0 ? VIRTIO_ENOSPC : 0;
}

int gvs_open(struct gvs *v)
{
	v->rxbuf = rxbufs;
	v->txbuf = txbufs;
	int r = virtio_find(VSOCK_ID, 0, &v->dev, 1);
	if (r)
		return r;
	r = virtio_init(&v->dev, 1ull << VIRTIO_F_EVENT_IDX | 1ull << F_STREAM);
	if (r)
		return r;
	v->cid = virtio_config64(&v->dev, 0);
	int irq = rt_cmdline_has("irq");
	v->rxq.no_irq = v->txq.no_irq = v->evq.no_irq = !irq;
	if ((r = virtq_setup(&v->dev, &v->rxq, 0, GVS_QSIZE)) ||
	    (r = virtq_setup(&v->dev, &v->txq, 1, GVS_QSIZE)) ||
	    (r = virtq_setup(&v->dev, &v->evq, 2, 8)))
		return r;
	for (int i = 0; v->rxq.num_free && (v->rx_post == 0 || i < v->rx_post); i++)
		post_rx(v);
	for (int i = 0; i < 8 && v->evq.num_free; i++) {
		struct virtio_buf b = { (uptr)v->evbuf[v->evq.free_head], 4, 1 };
		virtq_submit(&v->evq, &b, 1);
	}
	if ((r = virtio_driver_ok(&v->dev)))
		return r;
	virtq_kick(&v->rxq);
	virtq_kick(&v->evq);
	if (!v->buf_alloc)
		v->buf_alloc = 256 * 1024;
	if (!v->next_port)
		v->next_port = 50000;
	rt_printf("vsock: cid %llu features 0x%llx queues %u/%u/%u\n", v->cid, v->dev.features,
		  v->rxq.num, v->txq.num, v->evq.num);
	return 0;
}

static void tx_reclaim(struct gvs *v)
{
	u32 id, len;
	while (virtq_poll(&v->txq, &id, &len) > 0)
		;
}

/* Queues one packet; the caller kicks (gvs_send_raw does it at once, gvs_write once per call,
 * as Linux's driver kicks once per batch). */
static int queue_pkt(struct gvs *v, const struct gvs_hdr *h, const void *data, u32 len)
{
	u64 end = virtio_now_us() + 5000000;
	tx_reclaim(v);
	if (v->txq.num_free == 0)
		virtq_kick(&v->txq); /* what is queued must go before slots come back */
	while (v->txq.num_free == 0) {
		if (virtio_now_us() > end)
			return VIRTIO_ETIMEDOUT;
		int r = gvs_poll(v);
		if (r < 0)
			return r;
	}
	if (len > GVS_PKT)
		return VIRTIO_EINVAL;
	u8 *b = v->txbuf[v->txq.free_head];
	memcpy(b, h, GVS_HDR);
	if (len)
		memcpy(b + GVS_HDR, data, len);
	struct virtio_buf vb = { (uptr)b, GVS_HDR + len, 0 };
	if (virtq_submit(&v->txq, &vb, 1) < 0)
		return VIRTIO_ENOSPC;
	v->tx_pkts++;
	return 0;
}

int gvs_send_raw(struct gvs *v, const struct gvs_hdr *h, const void *data, u32 len)
{
	int r = queue_pkt(v, h, data, len);
	virtq_kick(&v->txq);
	return r;
}

static void fill_hdr(struct gvs *v, struct gvs_conn *c, struct gvs_hdr *h, u16 op)
{
	*h = (struct gvs_hdr){ .src_cid = v->cid, .dst_cid = GVS_HOST_CID, .src_port = c->lport,
			       .dst_port = c->pport, .type = GVS_TYPE_STREAM, .op = op,
			       .buf_alloc = c->buf_alloc, .fwd_cnt = c->fwd_cnt };
	c->fwd_told = c->fwd_cnt;
}

int gvs_send_op(struct gvs *v, struct gvs_conn *c, u16 op, u32 flags)
{
	struct gvs_hdr h;
	fill_hdr(v, c, &h, op);
	h.flags = flags;
	return gvs_send_raw(v, &h, 0, 0);
}

static struct gvs_conn *conn_find(struct gvs *v, u32 lport, u32 pport)
{
	for (unsigned i = 0; i < GVS_MAX_CONNS; i++) {
		struct gvs_conn *c = &v->conns[i];
		if (c->state != GVS_FREE && c->lport == lport && c->pport == pport)
			return c;
	}
	return 0;
}

static struct gvs_conn *conn_new(struct gvs *v, u32 lport, u32 pport)
{
	for (unsigned i = 0; i < GVS_MAX_CONNS; i++) {
		struct gvs_conn *c = &v->conns[i];
		if (c->state == GVS_FREE) {
			*c = (struct gvs_conn){ .lport = lport, .pport = pport, .buf_alloc = v->buf_alloc };
			return c;
		}
	}
	return 0;
}

static void rst_reply(struct gvs *v, const struct gvs_hdr *in)
{
	struct gvs_hdr h = { .src_cid = v->cid, .dst_cid = GVS_HOST_CID, .src_port = in->dst_port,
			     .dst_port = in->src_port, .type = GVS_TYPE_STREAM, .op = GVS_OP_RST };
	gvs_send_raw(v, &h, 0, 0);
}

static void conn_end(struct gvs *v, struct gvs_conn *c, int state)
{
	c->state = (u8)state;
	if (v->on_end)
		v->on_end(v, c);
}

/* One packet from the host. */
static void handle(struct gvs *v, const struct gvs_hdr *h, const u8 *payload, u32 plen)
{
	if (v->on_packet)
		v->on_packet(v, h, payload);
	if (h->src_cid != GVS_HOST_CID || h->dst_cid != v->cid || h->type != GVS_TYPE_STREAM ||
	    h->len > plen || (h->len && h->op != GVS_OP_RW)) {
		v->bad_pkts++;
		return;
	}
	struct gvs_conn *c = conn_find(v, h->dst_port, h->src_port);
	if (!c) {
		if (h->op == GVS_OP_REQUEST) {
			c = conn_new(v, h->dst_port, h->src_port);
			if (!c) {
				rst_reply(v, h);
				return;
			}
			c->peer_buf_alloc = h->buf_alloc;
			c->peer_fwd_cnt = h->fwd_cnt;
			if (!v->on_request || !v->on_request(v, c)) {
				c->state = GVS_FREE;
				rst_reply(v, h);
				return;
			}
			c->state = GVS_OPEN;
			gvs_send_op(v, c, GVS_OP_RESPONSE, 0);
		} else if (h->op != GVS_OP_RST) {
			rst_reply(v, h);
		}
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case GVS_OP_RESPONSE:
		if (c->state == GVS_CONNECTING)
			c->state = GVS_OPEN;
		break;
	case GVS_OP_RST:
		v->resets++;
		conn_end(v, c, c->state == GVS_CONNECTING ? GVS_REFUSED : GVS_CLOSED);
		break;
	case GVS_OP_SHUTDOWN:
		c->peer_shut |= (u8)h->flags;
		if ((c->peer_shut & 3) == 3 && c->state == GVS_OPEN && c->rx_cnt == c->fwd_cnt) {
			gvs_send_op(v, c, GVS_OP_RST, 0); /* as Linux: both ways done, reset */
			conn_end(v, c, GVS_CLOSED);
		} else if (c->state == GVS_CLOSING && (c->peer_shut & 3) == 3) {
			gvs_send_op(v, c, GVS_OP_RST, 0);
			conn_end(v, c, GVS_CLOSED);
		}
		break;
	case GVS_OP_RW:
		c->rx_cnt += h->len;
		c->rx_total += h->len;
		if (c->rx_cnt - c->fwd_cnt > c->buf_alloc && !v->credit_errs++)
			rt_printf("vsock: port %u: the device sent beyond this side's credit\n", c->lport);
		if (v->on_data && h->len)
			v->on_data(v, c, payload, h->len);
		break;
	case GVS_OP_CREDIT_REQUEST:
		gvs_send_op(v, c, GVS_OP_CREDIT_UPDATE, 0);
		break;
	default:
		break;
	}
}

int gvs_poll(struct gvs *v)
{
	u32 id, len;
	int n = 0, r;
	tx_reclaim(v);
	while ((r = virtq_poll(&v->rxq, &id, &len)) > 0) {
		const u8 *b = v->rxbuf[id];
		if (len >= GVS_HDR && len <= GVS_BUF) {
			struct gvs_hdr h;
			memcpy(&h, b, GVS_HDR);
			v->rx_pkts++;
			handle(v, &h, b + GVS_HDR, len - GVS_HDR);
		}
		post_rx(v);
		n++;
	}
	if (r < 0)
		return r;
	if (n)
		virtq_kick(&v->rxq);
	while ((r = virtq_poll(&v->evq, &id, &len)) > 0) {
		v->events++;
		rt_printf("vsock: event %u (transport reset)\n", *(u32 *)v->evbuf[id]);
		for (unsigned i = 0; i < GVS_MAX_CONNS; i++)
			if (v->conns[i].state != GVS_FREE)
				conn_end(v, &v->conns[i], GVS_CLOSED);
		v->cid = virtio_config64(&v->dev, 0);
		struct virtio_buf b = { (uptr)v->evbuf[v->evq.free_head], 4, 1 };
		virtq_submit(&v->evq, &b, 1);
		virtq_kick(&v->evq);
	}
	/* A failed device stops answering: look at Status when nothing came, but at most once
	 * a millisecond (an MMIO read is a VM exit, and an empty poll loop would make one per
	 * turn; Linux gets a configuration interrupt instead). */
	if (!n) {
		u64 now = virtio_now_us();
		if (now - v->status_us >= 1000) {
			v->status_us = now;
			if (virtio_status(&v->dev) & VIRTIO_STATUS_NEEDS_RESET)
				return VIRTIO_ENEEDSRESET;
		}
	}
	return n;
}

struct gvs_conn *gvs_connect(struct gvs *v, u32 port)
{
	struct gvs_conn *c = conn_new(v, v->next_port++, port);
	if (!c)
		return 0;
	c->state = GVS_CONNECTING;
	if (gvs_send_op(v, c, GVS_OP_REQUEST, 0)) {
		c->state = GVS_FREE;
		return 0;
	}
	return c;
}

u32 gvs_write(struct gvs *v, struct gvs_conn *c, const void *data, u32 len)
{
	u32 done = 0;
	while (done < len && c->state == GVS_OPEN && !(c->peer_shut & GVS_SHUT_RCV)) {
		u32 in_flight = c->tx_cnt - c->peer_fwd_cnt;
		u32 credit = in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
		u32 n = len - done < GVS_PKT ? len - done : GVS_PKT;
		if (n > credit)
			n = credit;
		if (n == 0)
			break;
		struct gvs_hdr h;
		fill_hdr(v, c, &h, GVS_OP_RW);
		h.len = n;
		if (queue_pkt(v, &h, (const u8 *)data + done, n))
			break;
		c->tx_cnt += n;
		c->tx_total += n;
		done += n;
	}
	if (done)
		virtq_kick(&v->txq);
	return done;
}

int gvs_write_all(struct gvs *v, struct gvs_conn *c, const void *data, u64 len, u32 timeout_ms)
{
	u64 done = 0, last = virtio_now_us();
	while (done < len) {
		if (c->state != GVS_OPEN)
			return -1;
		u64 chunk = len - done < 0x40000000 ? len - done : 0x40000000;
		u32 w = gvs_write(v, c, (const u8 *)data + done, (u32)chunk);
		done += w;
		if (w) {
			last = virtio_now_us();
			continue;
		}
		if (virtio_now_us() - last > (u64)timeout_ms * 1000)
			return VIRTIO_ETIMEDOUT;
		if (gvs_poll(v) < 0)
			return -1;
	}
	return 0;
}

void gvs_consume(struct gvs *v, struct gvs_conn *c, u32 n)
{
	c->fwd_cnt += n;
	if (c->state == GVS_OPEN && c->fwd_cnt - c->fwd_told >= c->buf_alloc / 2)
		gvs_send_op(v, c, GVS_OP_CREDIT_UPDATE, 0);
}

void gvs_close(struct gvs *v, struct gvs_conn *c)
{
	if (c->state != GVS_OPEN)
		return;
	c->state = GVS_CLOSING;
	gvs_send_op(v, c, GVS_OP_SHUTDOWN, GVS_SHUT_RCV | GVS_SHUT_SEND);
}

int gvs_wait_state(struct gvs *v, struct gvs_conn *c, int state, u32 timeout_ms)
{
	u64 end = virtio_now_us() + (u64)timeout_ms * 1000;
	while (c->state == state && virtio_now_us() < end)
		if (gvs_poll(v) < 0)
			break;
	return c->state;
}

void gvs_release(struct gvs_conn *c) { c->state = GVS_FREE; }

unsigned gvs_count(const struct gvs *v)
{
	unsigned n = 0;
	for (unsigned i = 0; i < GVS_MAX_CONNS; i++)
		n += v->conns[i].state != GVS_FREE;
	return n;
}
