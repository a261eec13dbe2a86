/* vsock: a virtio-vsock test guest on the runtime's stream stack (rt/vsock.c). By `mode=`:
 *   echo    (default) listens on port `port=` (1234) and echoes every connection byte for
 *           byte (16 KiB of credit per connection: the echo buffer), closing when the host
 *           has closed and everything went back; a connection to port 9999 ends the guest.
 *   connect opens `n=` (1) connections to host port `hport=` (5000) at once, sends `size=`
 *           (1000) bytes of connection i's own pattern on each, checks the host echoes them
 *           back, closes: "vsock: connect ok n=N bytes=B".
 *   send    connects to `hport=`, sends `mib=` (16) MiB of a xorshift stream (`seed=`), closes:
 *           "vsock: sent N bytes sha256 H us=U"; "vsock: sent N MiB" every `step=` (16) MiB;
 *           `nohash`: the same bytes every time and no hash (benchmarks: the transport only).
 *   recv    accepts one connection on `port=` and hashes what arrives until the host closes:
 *           "vsock: received N bytes sha256 H us=U". `stall=B stall_ms=T`: stops consuming
 *           (no credit back) after B bytes for T ms, and reports what arrived meanwhile;
 *           `nohash` as for send.
 * (Malformed packets: the vsockhostile guest.)
 *   refused connects to `hport=` where nobody listens: "vsock: refused ok" on the RST.
 *   many    opens `n=` (1025) connections to `hport=` at once: "vsock: many open=O refused=R".
 *   idle    sets up, prints "vsock: idle" and halts (needs `ring0`): an idle device's cost.
 * Exit values: 0 ok, 1 no device, 2 setup failed, 3 timed out, 4 transport error, 5 data or
 * protocol check failed. `secs=` (60) bounds every mode. */
#include "sha256.h"
#include "vsock.h"

static struct gvs v;

#define FAIL(code, ...) do { rt_printf("vsock: FAIL: " __VA_ARGS__); rt_exit(code); } while (0)
#define ECHO_BUF 16384u
#define QUIT_PORT 9999

static u64 deadline;

static void check_time(const char *what)
{
	if (virtio_now_us() > deadline)
		FAIL(3, "%s: no progress before secs= ran out\n", what);
}

static void poll_or_die(void)
{
	int r = gvs_poll(&v);
	if (r < 0)
		FAIL(4, "device: %s\n", virtio_strerror(r));
}

/* Byte k of connection i's pattern. */
static u8 pattern(u32 i, u64 k) { return (u8)(k * 31 + i * 7 + (k >> 9)); }

/* ---- echo ---- */

struct echo { u8 buf[ECHO_BUF]; u32 head, len; };
static struct echo echoes[GVS_MAX_CONNS] RT_NOINIT; /* head, len set on accept */

static int echo_request(struct gvs *g, struct gvs_conn *c)
{
	(void)g;
	if (c->lport == QUIT_PORT) {
		rt_printf("vsock: quit (rx=%llu tx=%llu resets=%llu)\n", v.rx_pkts, v.tx_pkts, v.resets);
		rt_exit(0);
	}
	struct echo *e = &echoes[c - v.conns];
	e->head = e->len = 0;
	c->app = e;
	return c->lport == rt_cmdline_u64("port", 1234);
}

static void echo_data(struct gvs *g, struct gvs_conn *c, const u8 *d, u32 len)
{
	struct echo *e = c->app;
	(void)g;
	for (u32 i = 0; i < len && e->len < ECHO_BUF; i++, e->len++)
		e->buf[(e->head + e->len) % ECHO_BUF] = d[i];
}

static void echo_mode(void)
{
	v.buf_alloc = ECHO_BUF;
	v.on_request = echo_request;
	v.on_data = echo_data;
	rt_printf("vsock: ready\n");
	for (;;) {
		poll_or_die();
		check_time("echo");
		for (unsigned i = 0; i < GVS_MAX_CONNS; i++) {
			struct gvs_conn *c = &v.conns[i];
			struct echo *e = c->app;
			if (c->state == GVS_CLOSED || c->state == GVS_REFUSED) {
				gvs_release(c);
				continue;
			}
			if (c->state != GVS_OPEN || !e)
				continue;
			while (e->len) {
				u32 run = ECHO_BUF - e->head < e->len ? ECHO_BUF - e->head : e->len;
				u32 w = gvs_write(&v, c, e->buf + e->head, run);
				if (!w)
					break;
				e->head = (e->head + w) % ECHO_BUF;
				e->len -= w;
				gvs_consume(&v, c, w);
			}
			if (!e->len && (c->peer_shut & GVS_SHUT_SEND))
				gvs_close(&v, c);
		}
	}
}

/* ---- connect ---- */

struct check { u64 got; int bad; };
static struct check checks[GVS_MAX_CONNS];

static void check_data(struct gvs *g, struct gvs_conn *c, const u8 *d, u32 len)
{
	struct check *k = c->app;
	u32 i = (u32)(c - g->conns);
	for (u32 j = 0; j < len; j++)
		if (d[j] != pattern(i, k->got + j))
			k->bad = 1;
	k->got += len;
	gvs_consume(g, c, len);
}

static void connect_mode(void)
{
	u32 n = (u32)rt_cmdline_u64("n", 1), hport = (u32)rt_cmdline_u64("hport", 5000);
	u64 size = rt_cmdline_u64("size", 1000);
	static u8 buf[GVS_PKT];
	static u64 sent[GVS_MAX_CONNS];
	static struct gvs_conn *cs[1000];
	if (n == 0 || n > 1000)
		FAIL(2, "n=%u: 1 to 1000\n", n);
	v.on_data = check_data;
	for (u32 i = 0; i < n; i++) {
		cs[i] = gvs_connect(&v, hport);
		if (!cs[i])
			FAIL(4, "connect %u: no slot or no transmit buffer\n", i);
		checks[cs[i] - v.conns] = (struct check){0};
		cs[i]->app = &checks[cs[i] - v.conns];
	}
	for (u32 done = 0; done < n;) {
		poll_or_die();
		check_time("connect");
		done = 0;
		for (u32 i = 0; i < n; i++) {
			struct gvs_conn *c = cs[i];
			struct check *k = c->app;
			u32 id = (u32)(c - v.conns);
			if (c->state == GVS_REFUSED)
				FAIL(5, "connection %u to host port %u refused\n", i, hport);
			if (c->state == GVS_CLOSED && k->got < size)
				FAIL(5, "connection %u reset after %llu of %llu bytes\n", i, k->got, size);
			if (k->bad)
				FAIL(5, "connection %u: the echo differs\n", i);
			if (c->state == GVS_OPEN && sent[id] < size) {
				u32 m = size - sent[id] < sizeof(buf) ? (u32)(size - sent[id]) : sizeof(buf);
				for (u32 j = 0; j < m; j++)
					buf[j] = pattern(id, sent[id] + j);
				sent[id] += gvs_write(&v, c, buf, m);
			}
			if (c->state == GVS_OPEN && k->got == size)
				gvs_close(&v, c);
			done += c->state == GVS_CLOSED && k->got == size;
		}
	}
	rt_printf("vsock: connect ok n=%u bytes=%llu\n", n, (u64)n * size);
}

/* ---- send / recv ---- */

static u64 xs;
static u64 xorshift(void) { xs ^= xs << 13; xs ^= xs >> 7; xs ^= xs << 17; return xs; }

static void print_hash(const char *verb, struct sha256 *s, u64 bytes, u64 us)
{
	u8 d[32];
	char hex[65];
	sha256_final(s, d);
	sha256_hex(d, hex);
	rt_printf("vsock: %s %llu bytes sha256 %s us=%llu\n", verb, bytes, hex, us);
}

static void send_mode(void)
{
	static u64 chunk[4 * GVS_PKT / 8] RT_NOINIT; /* 256 KiB: up to 4 packets per notification */
	u64 total = rt_cmdline_u64("mib", 16) << 20, step = rt_cmdline_u64("step", 16) << 20;
	int nohash = rt_cmdline_has("nohash");
	struct sha256 s;
	xs = rt_cmdline_u64("seed", 1) | 1;
	sha256_init(&s);
	struct gvs_conn *c = gvs_connect(&v, (u32)rt_cmdline_u64("hport", 5000));
	if (!c || gvs_wait_state(&v, c, GVS_CONNECTING, 5000) != GVS_OPEN)
		FAIL(5, "no connection to host port %llu\n", rt_cmdline_u64("hport", 5000));
	u64 t0 = virtio_now_us();
	for (u64 done = 0; done < total;) {
		u64 n = total - done < sizeof(chunk) ? total - done : sizeof(chunk);
		for (unsigned i = 0; !nohash && i < (n + 7) / 8; i++)
			chunk[i] = xorshift();
		if (!nohash)
			sha256_update(&s, chunk, n);
		int r = gvs_write_all(&v, c, chunk, n, 30000);
		if (r)
			FAIL(5, "send stopped after %llu bytes (%s)\n", done, r == -1 ? "connection ended" : "no credit for 30 s");
		done += n;
		if (step && done % step == 0)
			rt_printf("vsock: sent %llu MiB\n", done >> 20);
	}
	gvs_close(&v, c);
	gvs_wait_state(&v, c, GVS_CLOSING, 10000);
	print_hash("sent", &s, total, virtio_now_us() - t0);
	rt_printf("vsock: packets rx=%llu tx=%llu kicks rx=%u tx=%u\n", v.rx_pkts, v.tx_pkts,
		  v.rxq.kicks, v.txq.kicks);
}

static struct sha256 rs;
static u64 rx_bytes, stall_at, stall_got;
static int stalled;
static struct gvs_conn *rconn;

static int recv_request(struct gvs *g, struct gvs_conn *c)
{
	(void)g;
	if (rconn || c->lport != rt_cmdline_u64("port", 1234))
		return 0;
	rconn = c;
	return 1;
}

static int nohash;

static void recv_data(struct gvs *g, struct gvs_conn *c, const u8 *d, u32 len)
{
	if (!nohash)
		sha256_update(&rs, d, len);
	rx_bytes += len;
	if (stalled) {
		stall_got += len;
		return; /* not consumed: no credit goes back */
	}
	gvs_consume(g, c, len);
}

static void recv_mode(void)
{
	u64 stall_ms = rt_cmdline_u64("stall_ms", 0), t0 = 0;
	stall_at = rt_cmdline_u64("stall", 0);
	nohash = rt_cmdline_has("nohash");
	v.on_request = recv_request;
	v.on_data = recv_data;
	sha256_init(&rs);
	rt_printf("vsock: ready\n");
	while (!rconn || rconn->state == GVS_OPEN) {
		poll_or_die();
		check_time("recv");
		if (rconn && !t0)
			t0 = virtio_now_us();
		if (stall_ms && !stalled && rx_bytes >= stall_at) {
			stalled = 1;
			u64 end = virtio_now_us() + stall_ms * 1000;
			rt_printf("vsock: stalling at %llu bytes\n", rx_bytes);
			while (virtio_now_us() < end)
				poll_or_die();
			rt_printf("vsock: stalled %llu ms, %llu bytes arrived meanwhile (credit %u)\n",
				  stall_ms, stall_got, rconn->buf_alloc);
			if (stall_got > rconn->buf_alloc || v.credit_errs)
				FAIL(5, "the device sent beyond the credit while the guest did not read\n");
			stalled = 0;
			stall_ms = 0;
			gvs_consume(&v, rconn, (u32)(rconn->rx_cnt - rconn->fwd_cnt));
		}
		if (rconn && (rconn->peer_shut & GVS_SHUT_SEND) && rconn->state == GVS_OPEN)
			gvs_close(&v, rconn);
	}
	if (v.credit_errs)
		FAIL(5, "the device sent beyond the credit\n");
	print_hash("received", &rs, rx_bytes, virtio_now_us() - t0);
	rt_printf("vsock: packets rx=%llu tx=%llu kicks rx=%u tx=%u\n", v.rx_pkts, v.tx_pkts,
		  v.rxq.kicks, v.txq.kicks);
}

/* ---- refused, many ---- */

static void refused_mode(void)
{
	struct gvs_conn *c = gvs_connect(&v, (u32)rt_cmdline_u64("hport", 5001));
	if (!c)
		FAIL(4, "cannot send the request\n");
	int s = gvs_wait_state(&v, c, GVS_CONNECTING, 3000);
	if (s != GVS_REFUSED)
		FAIL(5, "expected an RST, connection state %d\n", s);
	rt_printf("vsock: refused ok\n");
}

static void many_mode(void)
{
	u32 n = (u32)rt_cmdline_u64("n", 1025), hport = (u32)rt_cmdline_u64("hport", 5000);
	u32 open = 0, refused = 0, pending = n;
	if (n > GVS_MAX_CONNS)
		FAIL(2, "n=%u: at most %u\n", n, GVS_MAX_CONNS);
	for (u32 i = 0; i < n; i++)
		if (!gvs_connect(&v, hport))
			FAIL(4, "connect %u failed\n", i);
	while (pending) {
		poll_or_die();
		check_time("many");
		open = refused = 0;
		for (unsigned i = 0; i < GVS_MAX_CONNS; i++) {
			open += v.conns[i].state == GVS_OPEN;
			refused += v.conns[i].state == GVS_REFUSED;
		}
		pending = n - open - refused;
	}
	rt_printf("vsock: many open=%u refused=%u\n", open, refused);
	for (unsigned i = 0; i < GVS_MAX_CONNS; i++)
		if (v.conns[i].state == GVS_OPEN)
			gvs_close(&v, &v.conns[i]);
	while (gvs_count(&v) - refused > 0) {
		poll_or_die();
		check_time("many close");
		unsigned closing = 0;
		for (unsigned i = 0; i < GVS_MAX_CONNS; i++)
			closing += v.conns[i].state == GVS_CLOSING;
		if (!closing)
			break;
	}
	rt_printf("vsock: many closed\n");
}

int main(void)
{
	deadline = virtio_now_us() + rt_cmdline_u64("secs", 60) * 1000000;
	int r = gvs_open(&v);
	if (r == VIRTIO_ENODEV)
		FAIL(1, "no virtio-vsock device\n");
	if (r)
		FAIL(2, "setup: %s\n", virtio_strerror(r));
	if (rt_cmdline_has("mode=idle")) {
		rt_printf("vsock: idle\n");
		if (rt_cpl() == 0)
			for (;;)
				__asm__ volatile("cli; hlt");
		rt_hang();
	}
	if (rt_cmdline_has("mode=connect"))
		connect_mode();
	else if (rt_cmdline_has("mode=send"))
		send_mode();
	else if (rt_cmdline_has("mode=recv"))
		recv_mode();
	else if (rt_cmdline_has("mode=refused"))
		refused_mode();
	else if (rt_cmdline_has("mode=many"))
		many_mode();
	else
		echo_mode();
	return 0;
}
