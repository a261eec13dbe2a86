/* The vsock connection multiplexer (see mux.h): routing, state machine, credit; the table of
 * slots is table.c (conn.h).
 * Every guest value used here was checked by vsock_check_tx; what is left to check is
 * protocol state (which packet is valid when) and credit, and a violation resets that one
 * connection. Must not: block (every host stream is non-blocking), buffer more than
 * VSOCK_CONN_BUF per connection, read a host stream beyond the guest's credit, or let a
 * closed slot's id reach the host ops. */
#include "vsock/mux.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "vsock/conn.h"

/* What the host stream should be watched for, given the connection's state. */
static void conn_watch(struct vsock_mux *m, struct vsock_conn *c)
{
	uint32_t want = 0;
	if (c->state == C_LINE)
		want = VSOCK_WANT_IN;
	if (conn_wants_data(c) && !c->data_ready && conn_peer_credit(c) > 0)
		want |= VSOCK_WANT_IN;
	if (c->state == C_ESTABLISHED && c->rx_cnt != c->fwd_cnt)
		want |= VSOCK_WANT_OUT;
	if (c->fd < 0 || want == c->watching)
		return;
	c->watching = want;
	if (m->ops->watch(m->host, table_id(m, c), c->fd, want) < 0)
		log_warn("vsock: cannot watch a host stream: %s", strerror(errno));
}

/* Ends the connection from mote's side: the stream closes now, the guest gets an RST. */
static void conn_kill(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->state == C_FREE || c->state == C_DYING)
		return;
	if (c->state == C_LINE) { /* the guest never heard of it */
		table_free(m, c);
		return;
	}
	if (c->fd >= 0)
		m->ops->close(m->host, table_id(m, c), c->fd);
	c->fd = -1;
	c->watching = 0;
	c->state = C_DYING;
	c->pending = 0;
	table_deadline(m, c, 0);
	table_rxq_push(m, c);
}

/* ---- guest -> host data ---- */

/* Writes buffered bytes to the host stream. -1 after killing the connection. */
static int flush_buf(struct vsock_mux *m, struct vsock_conn *c)
{
	while (c->rx_cnt != c->fwd_cnt) {
		uint32_t used = c->rx_cnt - c->fwd_cnt, head = c->fwd_cnt & (VSOCK_CONN_BUF - 1);
		uint32_t first = VSOCK_CONN_BUF - head < used ? VSOCK_CONN_BUF - head : used;
		struct iovec v[2] = { { c->buf + head, first }, { c->buf, used - first } };
		ssize_t w = m->ops->writev(m->host, c->fd, v, used > first ? 2 : 1);
		if (w == -EAGAIN || w == -EINTR)
			return 0;
		if (w <= 0) {
			conn_kill(m, c);
			return -1;
		}
		c->fwd_cnt += (uint32_t)w;
		if (c->deadline && c->guest_shut_rcv && c->guest_shut_send)
			table_deadline(m, c, VSOCK_SHUTDOWN_TIMEOUT_MS); /* progress: more time */
	}
	return 0;
}

/* Copies payload bytes [off, off + n) of iov into the ring at rx position pos. */
static void buf_put(struct vsock_conn *c, uint32_t pos, const struct iovec *iov, int niov,
		    size_t off, size_t n)
{
	for (int i = 0; i < niov && n; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off < n ? iov[i].iov_len - off : n;
		const uint8_t *src = (const uint8_t *)iov[i].iov_base + off;
		for (size_t done = 0; done < k;) {
			uint32_t at = pos & (VSOCK_CONN_BUF - 1);
			size_t run = VSOCK_CONN_BUF - at < k - done ? VSOCK_CONN_BUF - at : k - done;
			memcpy(c->buf + at, src + done, run);
			done += run;
			pos += (uint32_t)run;
		}
		n -= k;
		off = 0;
	}
}

/* The guest sent len bytes of data (credit checked by the caller). */
static void conn_data(struct vsock_mux *m, struct vsock_conn *c, const struct iovec *iov, int niov,
		      uint32_t len)
{
	size_t done = 0;
	if (c->rx_cnt == c->fwd_cnt) { /* nothing queued: straight to the host stream */
		ssize_t w = m->ops->writev(m->host, c->fd, iov, niov);
		if (w < 0 && w != -EAGAIN && w != -EINTR) {
			conn_kill(m, c);
			return;
		}
		done = w > 0 ? (size_t)w : 0;
		if (done > len)
			done = len;
		c->rx_cnt += (uint32_t)done;
		c->fwd_cnt += (uint32_t)done;
	}
	if (done < len) {
		if (!c->buf && !(c->buf = malloc(VSOCK_CONN_BUF))) {
			log_warn("vsock: out of memory for a connection's buffer");
			conn_kill(m, c);
			return;
		}
		buf_put(c, c->rx_cnt, iov, niov, done, len - done);
		c->rx_cnt += (uint32_t)(len - done);
		flush_buf(m, c);
	}
}

/* After data left mote: tell the guest its credit grew once its view of it is half gone. */
static void credit_check(struct vsock_mux *m, struct vsock_conn *c)
{
	uint32_t view_free = VSOCK_CONN_BUF - (c->rx_cnt - c->fwd_told);
	if (c->state == C_ESTABLISHED && c->fwd_cnt != c->fwd_told && view_free < VSOCK_CONN_BUF / 2 &&
	    !(c->pending & P_CREDIT_UPDATE)) {
		c->pending |= P_CREDIT_UPDATE;
		m->credit_due = true;
	}
}

/* The guest shut down one or both directions. */
static void conn_shutdown(struct vsock_mux *m, struct vsock_conn *c, uint32_t flags)
{
	if (flags & VSOCK_SHUTDOWN_RCV)
		c->guest_shut_rcv = true;
	if ((flags & VSOCK_SHUTDOWN_SEND) && !c->guest_shut_send) {
		c->guest_shut_send = true;
		if (c->rx_cnt == c->fwd_cnt && !c->host_closed)
			m->ops->shutdown_wr(m->host, c->fd);
	}
	if (c->guest_shut_rcv && c->guest_shut_send) {
		if (c->rx_cnt == c->fwd_cnt || c->host_closed)
			conn_kill(m, c); /* all delivered: close, and the RST the guest waits for */
		else if (!c->deadline)
			table_deadline(m, c, VSOCK_SHUTDOWN_TIMEOUT_MS);
	}
}

/* ---- guest packets ---- */

static void rst_owed(struct vsock_mux *m, uint32_t local, uint32_t peer)
{
	if (m->rst_n == VSOCK_RSTQ) {
		atomic_fetch_add_explicit(&m->stats.rst_dropped, 1, memory_order_relaxed);
		return;
	}
	unsigned i = (m->rst_head + m->rst_n++) % VSOCK_RSTQ;
	m->rstq[i].local = local;
	m->rstq[i].peer = peer;
}

/* A guest connection request to host port h->dst_port: connect to PATH_<port>. */
static void peer_request(struct vsock_mux *m, const struct vsock_hdr *h)
{
	if (m->free_head < 0) {
		atomic_fetch_add_explicit(&m->stats.conns_refused, 1, memory_order_relaxed);
		rst_owed(m, h->dst_port, h->src_port);
		return;
	}
	int fd = m->ops->connect(m->host, h->dst_port);
	if (fd < 0) {
		atomic_fetch_add_explicit(&m->stats.conns_refused, 1, memory_order_relaxed);
		rst_owed(m, h->dst_port, h->src_port);
		return;
	}
	struct vsock_conn *c = table_alloc(m, fd);
	c->state = C_ESTABLISHED;
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pending = P_RESPONSE;
	table_insert(m, c);
	atomic_fetch_add_explicit(&m->stats.conns_guest, 1, memory_order_relaxed);
	conn_watch(m, c);
	table_rxq_push(m, c);
}

/* The guest's RESPONSE to a host-initiated request: tell the host program. */
static void conn_accepted(struct vsock_mux *m, struct vsock_conn *c)
{
	char ok[24];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);
	struct iovec v = { ok, (size_t)n };
	if (m->ops->writev(m->host, c->fd, &v, 1) != n) { /* a dozen bytes into a fresh stream */
		conn_kill(m, c);
		return;
	}
	c->state = C_ESTABLISHED;
	table_deadline(m, c, 0);
	atomic_fetch_add_explicit(&m->stats.conns_host, 1, memory_order_relaxed);
}

static void run_work(struct vsock_mux *m);

/* A packet for an existing connection. */
static void conn_packet(struct vsock_mux *m, struct vsock_conn *c, const struct vsock_hdr *h,
			const struct iovec *iov, int niov)
{
	if (c->state == C_DYING)
		return; /* its RST is on the way */
	uint32_t before = conn_peer_credit(c);
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (conn_peer_credit(c) != before)
		c->credit_asked = false;
	if (c->state == C_REQUEST) {
		/* Only an answer to a REQUEST the guest was given (not one still owed: a guessed
		 * port would otherwise open the connection and then get the REQUEST too). */
		if (h->op == VSOCK_OP_RESPONSE && !(c->pending & P_REQUEST))
			conn_accepted(m, c);
		else
			conn_kill(m, c);
		return;
	}
	switch (h->op) {
	case VSOCK_OP_RW:
		if (c->guest_shut_send) {
			conn_kill(m, c);
		} else if (h->len > VSOCK_CONN_BUF - (c->rx_cnt - c->fwd_cnt)) {
			atomic_fetch_add_explicit(&m->stats.credit_errors, 1, memory_order_relaxed);
			guest_error("vsock: port %u -> %u: %u bytes beyond the credit mote gave; "
				    "connection reset", h->src_port, h->dst_port, h->len);
			conn_kill(m, c);
		} else if (c->host_closed) {
			c->rx_cnt += h->len; /* the host is gone: dropped, but credit moves on */
			c->fwd_cnt += h->len;
		} else if (h->len) {
			conn_data(m, c, iov, niov, h->len);
		}
		break;
	case VSOCK_OP_SHUTDOWN:
		conn_shutdown(m, c, h->flags);
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		c->pending |= P_CREDIT_UPDATE;
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	default: /* REQUEST or RESPONSE on an established connection */
		conn_kill(m, c);
		break;
	}
	if (c->state == C_ESTABLISHED)
		credit_check(m, c);
}

void vsock_mux_send(struct vsock_mux *m, const struct vsock_hdr *h, const struct iovec *iov,
		    int niov)
{
	run_work(m);
	atomic_fetch_add_explicit(&m->stats.tx_packets, 1, memory_order_relaxed);
	if (!m->started)
		return;
	struct vsock_conn *c = table_lookup(m, h->dst_port, h->src_port);
	if (!c) {
		if (h->op == VSOCK_OP_REQUEST)
			peer_request(m, h);
		else if (h->op != VSOCK_OP_RST)
			rst_owed(m, h->dst_port, h->src_port);
		return;
	}
	if (h->op == VSOCK_OP_RST) {
		atomic_fetch_add_explicit(&m->stats.rst_received, 1, memory_order_relaxed);
		if (c->state == C_REQUEST)
			atomic_fetch_add_explicit(&m->stats.conns_refused, 1, memory_order_relaxed);
		table_free(m, c);
		return;
	}
	conn_packet(m, c, h, iov, niov);
	if (c->state != C_FREE) {
		conn_watch(m, c);
		table_rxq_push(m, c);
	}
}

void vsock_mux_reject(struct vsock_mux *m, const struct vsock_hdr *h)
{
	run_work(m);
	if (!m->started)
		return;
	struct vsock_conn *c = table_lookup(m, h->dst_port, h->src_port);
	if (c)
		conn_kill(m, c);
	else if (h->op != VSOCK_OP_RST)
		rst_owed(m, h->dst_port, h->src_port);
}

/* ---- packets for the guest ---- */

static void hdr_for(const struct vsock_mux *m, struct vsock_conn *c, struct vsock_hdr *h,
		    uint16_t op)
{
	*h = (struct vsock_hdr){
		.src_cid = VSOCK_HOST_CID, .dst_cid = m->guest_cid, .src_port = c->local_port,
		.dst_port = c->peer_port, .type = VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = VSOCK_CONN_BUF, .fwd_cnt = c->fwd_cnt,
	};
	c->fwd_told = c->fwd_cnt;
}

/* The first iovecs of iov covering at most len bytes, in out[0 .. max). */
static int iov_head(const struct iovec *iov, int niov, size_t len, struct iovec *out, int max)
{
	int n = 0;
	for (int i = 0; i < niov && len && n < max; i++) {
		size_t k = iov[i].iov_len < len ? iov[i].iov_len : len;
		out[n++] = (struct iovec){ iov[i].iov_base, k };
		len -= k;
	}
	return n;
}

/* Data from the host stream into the guest's buffer: 1 a packet in *h, 0 none now. */
static int emit_data(struct vsock_mux *m, struct vsock_conn *c, struct vsock_hdr *h,
		     const struct iovec *iov, int niov, uint32_t cap)
{
	uint32_t n = conn_peer_credit(c) < cap ? conn_peer_credit(c) : cap;
	if (cap == 0)
		return 0;
	if (n == 0) {
		if (c->credit_asked)
			return 0;
		c->credit_asked = true; /* the guest answers with its credit */
		hdr_for(m, c, h, VSOCK_OP_CREDIT_REQUEST);
		return 1;
	}
	int cnt = iov_head(iov, niov, n, m->iov, VSOCK_MAX_IOV);
	ssize_t r = m->ops->readv(m->host, c->fd, m->iov, cnt);
	if (r > 0) {
		hdr_for(m, c, h, VSOCK_OP_RW);
		h->len = (uint32_t)r;
		c->tx_cnt += (uint32_t)r;
		if ((uint32_t)r < n) /* drained for now: wait for the stream to say more */
			c->data_ready = false;
		return 1;
	}
	c->data_ready = false;
	if (r == -EAGAIN || r == -EINTR)
		return 0;
	if (r < 0) {
		conn_kill(m, c);
		return 0;
	}
	/* EOF: the host program closed. Like Firecracker, that ends both directions. */
	c->host_closed = true;
	c->fwd_cnt = c->rx_cnt; /* what waited for the host cannot reach it now */
	c->pending |= P_SHUTDOWN;
	return 0;
}

/* The next packet connection c owes the guest: 1 with *h filled, 0 none. */
static int conn_emit(struct vsock_mux *m, struct vsock_conn *c, struct vsock_hdr *h,
		     const struct iovec *iov, int niov, uint32_t cap)
{
	if (c->state == C_DYING) {
		hdr_for(m, c, h, VSOCK_OP_RST);
		atomic_fetch_add_explicit(&m->stats.rst_sent, 1, memory_order_relaxed);
		table_free(m, c);
		return 1;
	}
	if (c->pending & (P_REQUEST | P_RESPONSE)) {
		bool req = c->pending & P_REQUEST;
		c->pending &= (uint8_t)~(P_REQUEST | P_RESPONSE);
		hdr_for(m, c, h, req ? VSOCK_OP_REQUEST : VSOCK_OP_RESPONSE);
		return 1;
	}
	if (c->data_ready && conn_wants_data(c) && emit_data(m, c, h, iov, niov, cap))
		return 1;
	if (c->state == C_DYING) /* the read failed */
		return conn_emit(m, c, h, iov, niov, cap);
	if (c->pending & P_SHUTDOWN) {
		c->pending &= (uint8_t)~(P_SHUTDOWN | P_CREDIT_UPDATE);
		hdr_for(m, c, h, VSOCK_OP_SHUTDOWN);
		h->flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
		table_deadline(m, c, VSOCK_SHUTDOWN_TIMEOUT_MS); /* then mote resets it */
		return 1;
	}
	if (c->pending & P_CREDIT_UPDATE) {
		c->pending &= (uint8_t)~P_CREDIT_UPDATE;
		hdr_for(m, c, h, VSOCK_OP_CREDIT_UPDATE);
		return 1;
	}
	return 0;
}

bool vsock_mux_pending(const struct vsock_mux *m)
{
	return m->reset_pending || m->start_pending ||
	       (m->started && (m->rst_n > 0 || m->rxq_head >= 0));
}

int vsock_mux_recv(struct vsock_mux *m, struct vsock_hdr *h, const struct iovec *iov, int niov,
		   uint32_t cap)
{
	run_work(m);
	if (!m->started)
		return 0;
	if (m->rst_n) {
		unsigned i = m->rst_head;
		m->rst_head = (m->rst_head + 1) % VSOCK_RSTQ;
		m->rst_n--;
		*h = (struct vsock_hdr){
			.src_cid = VSOCK_HOST_CID, .dst_cid = m->guest_cid,
			.src_port = m->rstq[i].local, .dst_port = m->rstq[i].peer,
			.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_RST,
		};
		atomic_fetch_add_explicit(&m->stats.rst_sent, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&m->stats.rx_packets, 1, memory_order_relaxed);
		return 1;
	}
	/* Each connection in the queue is looked at once at most. */
	for (uint32_t tries = m->nused + 1; tries > 0; tries--) {
		struct vsock_conn *c = table_rxq_pop(m);
		if (!c)
			return 0;
		int r = conn_emit(m, c, h, iov, niov, cap);
		if (c->state != C_FREE) {
			conn_watch(m, c);
			table_rxq_push(m, c);
		}
		if (r) {
			atomic_fetch_add_explicit(&m->stats.rx_packets, 1, memory_order_relaxed);
			return 1;
		}
	}
	return 0;
}

/* ---- host events ---- */

/* A host-side port for a new host-initiated connection to guest port peer: from
 * [VSOCK_LOCAL_PORT_MIN, 2^31), round robin, skipping pairs in use. */
static uint32_t alloc_local_port(struct vsock_mux *m, uint32_t peer)
{
	for (;;) {
		uint32_t p = m->next_local_port++;
		if (m->next_local_port >= (1u << 31))
			m->next_local_port = VSOCK_LOCAL_PORT_MIN;
		if (!table_lookup(m, p, peer))
			return p;
	}
}

static void refuse(struct vsock_mux *m, struct vsock_conn *c)
{
	atomic_fetch_add_explicit(&m->stats.conns_refused, 1, memory_order_relaxed);
	table_free(m, c);
}

/* A host-initiated stream has bytes: its "CONNECT <port>\n", read a byte at a time so that
 * nothing after the newline (the program's first data) is taken. */
static void line_read(struct vsock_mux *m, struct vsock_conn *c)
{
	while (c->line_len < VSOCK_CONNECT_LINE_MAX) {
		struct iovec v = { c->line + c->line_len, 1 };
		ssize_t r = m->ops->readv(m->host, c->fd, &v, 1);
		if (r == -EAGAIN || r == -EINTR)
			return;
		if (r <= 0) {
			refuse(m, c);
			return;
		}
		if (c->line[c->line_len++] == '\n')
			break;
	}
	uint32_t port;
	if (vsock_parse_connect(c->line, c->line_len, &port) < 0) {
		log_info("vsock: a host program sent no valid 'CONNECT <port>' line; closed");
		refuse(m, c);
		return;
	}
	c->state = C_REQUEST;
	c->peer_port = port;
	c->local_port = alloc_local_port(m, port);
	c->pending = P_REQUEST;
	table_insert(m, c);
	table_deadline(m, c, VSOCK_REQUEST_TIMEOUT_MS);
}

static void kick_if_pending(struct vsock_mux *m)
{
	if (m->started && (m->rst_n > 0 || m->rxq_head >= 0) && m->kick)
		m->kick(m->kick_ctx);
}

void vsock_mux_host_event(struct vsock_mux *m, unsigned id, uint32_t ready)
{
	run_work(m);
	if (id >= m->max || m->conns[id].state == C_FREE || m->conns[id].fd < 0)
		return;
	struct vsock_conn *c = &m->conns[id];
	if (c->state == C_LINE) {
		line_read(m, c);
	} else if (c->state == C_ESTABLISHED) {
		if ((ready & (VSOCK_WANT_IN | VSOCK_HUP)) && conn_wants_data(c))
			c->data_ready = true; /* a read gives data, EOF or the error */
		if ((ready & (VSOCK_WANT_OUT | VSOCK_HUP)) && c->rx_cnt != c->fwd_cnt &&
		    flush_buf(m, c) == 0 && c->rx_cnt == c->fwd_cnt) {
			if (c->guest_shut_send && !c->host_closed)
				m->ops->shutdown_wr(m->host, c->fd);
			if (c->guest_shut_send && c->guest_shut_rcv)
				conn_kill(m, c);
		}
		if (c->state == C_ESTABLISHED)
			credit_check(m, c);
	}
	if (c->state != C_FREE) {
		conn_watch(m, c);
		table_rxq_push(m, c);
	}
	kick_if_pending(m);
}

void vsock_mux_accept_ready(struct vsock_mux *m)
{
	run_work(m);
	for (int i = 0; i < 64 && m->started; i++) { /* the listener stays readable for more */
		int fd = m->ops->accept(m->host);
		if (fd < 0)
			return;
		struct vsock_conn *c = table_alloc(m, fd);
		if (!c) {
			atomic_fetch_add_explicit(&m->stats.conns_refused, 1, memory_order_relaxed);
			m->ops->close(m->host, m->max, fd); /* the program sees its connection close */
			continue;
		}
		c->state = C_LINE;
		c->host_init = true;
		table_deadline(m, c, VSOCK_LINE_TIMEOUT_MS);
		conn_watch(m, c);
	}
}

void vsock_mux_tick(struct vsock_mux *m)
{
	run_work(m);
	uint64_t now = m->ops->now_ms(m->host);
	for (uint32_t i = 0; i < m->max && m->ndeadlines; i++) {
		struct vsock_conn *c = &m->conns[i];
		if (c->state == C_FREE || !c->deadline || c->deadline > now)
			continue;
		if (c->state == C_LINE || c->state == C_REQUEST)
			atomic_fetch_add_explicit(&m->stats.conns_refused, 1, memory_order_relaxed);
		conn_kill(m, c); /* a line never finished is just closed */
	}
	kick_if_pending(m);
}

/* ---- lifecycle ---- */

static void forget_all(struct vsock_mux *m)
{
	for (uint32_t i = 0; i < m->max; i++)
		table_free(m, &m->conns[i]);
	m->rxq_head = m->rxq_tail = -1;
	m->rst_n = m->rst_head = 0;
}

static void run_work(struct vsock_mux *m)
{
	if (m->reset_pending) {
		m->reset_pending = false;
		forget_all(m);
		if (m->started)
			m->ops->listen(m->host, false);
		m->started = false;
	}
	if (m->start_pending) {
		m->start_pending = false;
		m->started = true;
		m->ops->listen(m->host, true);
	}
}

void vsock_mux_request_start(struct vsock_mux *m) { m->start_pending = true; }

void vsock_mux_request_reset(struct vsock_mux *m)
{
	m->start_pending = false;
	m->reset_pending = true;
}

void vsock_mux_work(struct vsock_mux *m)
{
	run_work(m);
	kick_if_pending(m);
}


int vsock_mux_init(struct vsock_mux *m, uint64_t guest_cid, uint32_t max_conns,
		   const struct vsock_host_ops *ops, void *host, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	m->ops = ops;
	m->host = host;
	m->guest_cid = guest_cid;
	m->next_local_port = VSOCK_LOCAL_PORT_MIN;
	return table_init(m, max_conns, err, errlen);
}

void vsock_mux_destroy(struct vsock_mux *m) { table_destroy(m); }

const char *vsock_mux_check(const struct vsock_mux *m)
{
	const char *why = table_check(m);
	if (why)
		return why;
	if (m->rst_n > VSOCK_RSTQ)
		return "the RST queue overflowed";
	if (atomic_load_explicit(&m->stats.conns_active, memory_order_relaxed) != m->nused)
		return "conns_active disagrees with the table";
	return NULL;
}
