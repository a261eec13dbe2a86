/* RSP framing and hex helpers (packet.h). The receive side is a byte-at-a-time state
 * machine so that the caller may feed it whatever read() returned; it never writes beyond
 * buf and keeps counting the checksum of an oversized packet, so the whole packet is
 * consumed and answered once. */
#include "gdb/packet.h"

#include <string.h>

enum { ST_IDLE, ST_DATA, ST_CSUM1, ST_CSUM2 };

void gdb_rx_init(struct gdb_rx *r)
{
	memset(r, 0, sizeof(*r));
	r->state = ST_IDLE;
}

int gdb_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void start_packet(struct gdb_rx *r)
{
	r->state = ST_DATA;
	r->sum = 0;
	r->len = 0;
	r->too_long = r->bad_rle = r->escaped = r->rle_next = r->csum_bad = false;
}

static void put(struct gdb_rx *r, char c)
{
	if (r->len >= GDB_PACKET_MAX) {
		r->too_long = true;
		return;
	}
	r->buf[r->len++] = c;
}

/* '*' then a count byte n: the previous decoded byte repeats n - 29 more times (gdb's
 * remote protocol; counts that would be '#' or '$' are never sent, so they are refused). */
static void run_length(struct gdb_rx *r, uint8_t n)
{
	if (r->len == 0 || n < 29 + 3 || n > 126 || n == '#' || n == '$') {
		r->bad_rle = true;
		return;
	}
	char prev = r->buf[r->len - 1];
	for (unsigned i = 0; i < (unsigned)(n - 29); i++)
		put(r, prev);
}

static void data_byte(struct gdb_rx *r, uint8_t c)
{
	r->sum = (uint8_t)(r->sum + c);
	if (r->rle_next) {
		r->rle_next = false;
		run_length(r, c);
	} else if (r->escaped) {
		r->escaped = false;
		put(r, (char)(c ^ 0x20));
	} else if (c == '}') {
		r->escaped = true;
	} else if (c == '*') {
		if (r->too_long) /* the repeated byte is gone; the packet is refused anyway */
			r->rle_next = false;
		else
			r->rle_next = true;
	} else {
		put(r, (char)c);
	}
}

static enum gdb_rx_event finish(struct gdb_rx *r, uint8_t c)
{
	int d = gdb_hex_digit(c);
	r->state = ST_IDLE;
	r->buf[r->len < GDB_PACKET_MAX ? r->len : GDB_PACKET_MAX] = '\0';
	if (r->csum_bad || d < 0 || (uint8_t)(r->csum << 4 | d) != r->sum)
		return GDB_RX_BAD_CHECKSUM;
	if (r->too_long)
		return GDB_RX_TOO_LONG;
	if (r->bad_rle || r->escaped || r->rle_next)
		return GDB_RX_BAD_ENCODING;
	return GDB_RX_PACKET;
}

enum gdb_rx_event gdb_rx_byte(struct gdb_rx *r, uint8_t c)
{
	switch (r->state) {
	case ST_IDLE:
		if (c == '$')
			start_packet(r);
		else if (c == 0x03)
			return GDB_RX_INTERRUPT;
		else if (c == '+')
			return GDB_RX_ACK;
		else if (c == '-')
			return GDB_RX_NACK;
		return GDB_RX_NONE; /* noise between packets is ignored */
	case ST_DATA:
		if (c == '$' && !r->escaped && !r->rle_next) /* a new packet: the old one is lost */
			start_packet(r);
		else if (c == '#' && !r->escaped && !r->rle_next)
			r->state = ST_CSUM1;
		else
			data_byte(r, c);
		return GDB_RX_NONE;
	case ST_CSUM1: {
		int d = gdb_hex_digit(c);
		r->csum_bad = d < 0;
		r->csum = (uint8_t)(d < 0 ? 0 : d);
		r->state = ST_CSUM2;
		return GDB_RX_NONE;
	}
	default:
		return finish(r, c);
	}
}

size_t gdb_frame(char *out, size_t cap, const void *payload, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = payload;
	size_t n = 0;
	uint8_t sum = 0;
	if (cap < 4)
		return 0;
	out[n++] = '$';
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];
		bool esc = c == '$' || c == '#' || c == '}' || c == '*';
		if (n + (esc ? 2 : 1) + 3 > cap)
			return 0;
		if (esc) {
			out[n++] = '}';
			sum = (uint8_t)(sum + '}');
			c ^= 0x20;
		}
		out[n++] = (char)c;
		sum = (uint8_t)(sum + c);
	}
	out[n++] = '#';
	out[n++] = hex[sum >> 4];
	out[n++] = hex[sum & 15];
	return n;
}

int gdb_hex_u64(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	size_t digits = 0;
	while (s < end && gdb_hex_digit((unsigned char)*s) >= 0) {
		if (x >> 60)
			return -1; /* a 17th significant digit */
		x = x << 4 | (uint64_t)gdb_hex_digit((unsigned char)*s);
		s++;
		digits++;
	}
	if (digits == 0)
		return -1;
	*v = x;
	*p = s;
	return 0;
}

int gdb_hex_decode(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = gdb_hex_digit((unsigned char)s[2 * i]);
		int lo = hi < 0 ? -1 : gdb_hex_digit((unsigned char)s[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void gdb_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
}
