/* Unit tests for the RSP framing (gdb/packet.c): packets, checksums, escapes, run-length
 * codes, acks and the interrupt byte; oversized and malformed packets are reported once and
 * never overrun the buffer; the hex helpers refuse overflow and garbage. */
#include <stdlib.h>

#include "gdb/packet.h"
#include "test.h"

static struct gdb_rx rx;

/* Feeds s; returns the last event that was not NONE (NONE if none). */
static enum gdb_rx_event feed(const char *s, size_t n)
{
	enum gdb_rx_event last = GDB_RX_NONE;
	for (size_t i = 0; i < n; i++) {
		enum gdb_rx_event e = gdb_rx_byte(&rx, (uint8_t)s[i]);
		if (e != GDB_RX_NONE)
			last = e;
	}
	return last;
}

#define FEED(lit) feed(lit, sizeof(lit) - 1)

static void simple_packet(void)
{
	gdb_rx_init(&rx);
	CHECK_EQ(FEED("$g#67"), GDB_RX_PACKET);
	CHECK_EQ(rx.len, 1);
	CHECK(strcmp(rx.buf, "g") == 0);
	CHECK_EQ(FEED("$qSupported:multiprocess+#c6"), GDB_RX_PACKET);
	CHECK(strcmp(rx.buf, "qSupported:multiprocess+") == 0);
	CHECK_EQ(FEED("$#00"), GDB_RX_PACKET); /* empty packet */
	CHECK_EQ(rx.len, 0);
	CHECK_EQ(FEED("$?#3F"), GDB_RX_PACKET); /* upper-case checksum digits */
}

static void bad_checksum(void)
{
	gdb_rx_init(&rx);
	CHECK_EQ(FEED("$g#68"), GDB_RX_BAD_CHECKSUM);
	CHECK_EQ(FEED("$g#zz"), GDB_RX_BAD_CHECKSUM);
	CHECK_EQ(FEED("$g#6"), GDB_RX_NONE); /* incomplete: nothing yet */
	CHECK_EQ(FEED("7"), GDB_RX_PACKET);
}

static void acks_and_interrupt(void)
{
	gdb_rx_init(&rx);
	CHECK_EQ(gdb_rx_byte(&rx, '+'), GDB_RX_ACK);
	CHECK_EQ(gdb_rx_byte(&rx, '-'), GDB_RX_NACK);
	CHECK_EQ(gdb_rx_byte(&rx, 0x03), GDB_RX_INTERRUPT);
	CHECK_EQ(gdb_rx_byte(&rx, 'x'), GDB_RX_NONE); /* noise */
	/* inside a packet 0x03 and '+' are data */
	char p[] = "$a\003+#00";
	uint8_t sum = (uint8_t)('a' + 3 + '+');
	p[5] = "0123456789abcdef"[sum >> 4];
	p[6] = "0123456789abcdef"[sum & 15];
	CHECK_EQ(feed(p, 7), GDB_RX_PACKET);
	CHECK_EQ(rx.len, 3);
	CHECK_EQ(rx.buf[1], 3);
}

static void escapes_and_rle(void)
{
	char frame[64];
	const char payload[] = "a$b#c}d*e";
	size_t n = gdb_frame(frame, sizeof(frame), payload, 9);
	CHECK(n > 0);
	gdb_rx_init(&rx);
	CHECK_EQ(feed(frame, n), GDB_RX_PACKET);
	CHECK_EQ(rx.len, 9);
	CHECK(memcmp(rx.buf, payload, 9) == 0);
	/* "0* " is '0' and 3 more: "0000" (' ' = 32 = 29 + 3) */
	uint8_t sum = (uint8_t)('0' + '*' + ' ');
	char p[] = "$0* #xx";
	p[5] = "0123456789abcdef"[sum >> 4];
	p[6] = "0123456789abcdef"[sum & 15];
	CHECK_EQ(feed(p, 7), GDB_RX_PACKET);
	CHECK(strcmp(rx.buf, "0000") == 0);
	/* '*' with nothing before it, or a count below 3 */
	sum = (uint8_t)('*' + ' ');
	char q[] = "$* #xx";
	q[4] = "0123456789abcdef"[sum >> 4];
	q[5] = "0123456789abcdef"[sum & 15];
	CHECK_EQ(feed(q, 6), GDB_RX_BAD_ENCODING);
	/* a count below 3 */
	sum = (uint8_t)('a' + '*' + 0x1f);
	char r[] = "$a*\x1f#xx";
	r[5] = "0123456789abcdef"[sum >> 4];
	r[6] = "0123456789abcdef"[sum & 15];
	CHECK_EQ(feed(r, 7), GDB_RX_BAD_ENCODING);
	/* '}' escapes even '#': "}#" is the byte 0x03, the packet ends at the next '#' */
	sum = (uint8_t)('}' + '#');
	char e[] = "$}##xx";
	e[4] = "0123456789abcdef"[sum >> 4];
	e[5] = "0123456789abcdef"[sum & 15];
	CHECK_EQ(feed(e, 6), GDB_RX_PACKET);
	CHECK(rx.len == 1 && rx.buf[0] == 3);
}

static void too_long(void)
{
	size_t n = GDB_PACKET_MAX + 100;
	char *p = malloc(n + 4);
	uint8_t sum = 0;
	p[0] = '$';
	for (size_t i = 1; i <= n; i++) {
		p[i] = 'A';
		sum = (uint8_t)(sum + 'A');
	}
	p[n + 1] = '#';
	p[n + 2] = "0123456789abcdef"[sum >> 4];
	p[n + 3] = "0123456789abcdef"[sum & 15];
	gdb_rx_init(&rx);
	CHECK_EQ(feed(p, n + 4), GDB_RX_TOO_LONG);
	CHECK(rx.len <= GDB_PACKET_MAX);
	/* exactly the maximum is fine */
	sum = 0;
	for (size_t i = 1; i <= GDB_PACKET_MAX; i++)
		sum = (uint8_t)(sum + 'A');
	p[GDB_PACKET_MAX + 1] = '#';
	p[GDB_PACKET_MAX + 2] = "0123456789abcdef"[sum >> 4];
	p[GDB_PACKET_MAX + 3] = "0123456789abcdef"[sum & 15];
	CHECK_EQ(feed(p, GDB_PACKET_MAX + 4), GDB_RX_PACKET);
	CHECK_EQ(rx.len, GDB_PACKET_MAX);
	/* a run-length code that would overflow */
	memset(p + 1, 'A', GDB_PACKET_MAX);
	p[GDB_PACKET_MAX - 1] = '*';
	p[GDB_PACKET_MAX] = '~';
	sum = 0;
	for (size_t i = 1; i <= GDB_PACKET_MAX; i++)
		sum = (uint8_t)(sum + (uint8_t)p[i]);
	p[GDB_PACKET_MAX + 2] = "0123456789abcdef"[sum >> 4];
	p[GDB_PACKET_MAX + 3] = "0123456789abcdef"[sum & 15];
	CHECK_EQ(feed(p, GDB_PACKET_MAX + 4), GDB_RX_TOO_LONG);
	/* the parser is usable again */
	CHECK_EQ(FEED("$g#67"), GDB_RX_PACKET);
	free(p);
}

static void restart_on_dollar(void)
{
	gdb_rx_init(&rx);
	CHECK_EQ(FEED("$garbage$g#67"), GDB_RX_PACKET);
	CHECK(strcmp(rx.buf, "g") == 0);
}

static void frame_limits(void)
{
	char out[8];
	CHECK_EQ(gdb_frame(out, sizeof(out), "OK", 2), 6);
	CHECK(memcmp(out, "$OK#9a", 6) == 0);
	CHECK_EQ(gdb_frame(out, sizeof(out), "12345", 5), 0); /* does not fit */
	CHECK_EQ(gdb_frame(out, 3, "", 0), 0);
}

static void hex_numbers(void)
{
	const char *s = "ffffffffffffffff,1";
	const char *p = s;
	uint64_t v = 0;
	CHECK_EQ(gdb_hex_u64(&p, s + strlen(s), &v), 0);
	CHECK_EQ(v, UINT64_MAX);
	CHECK_EQ(*p, ',');
	s = "10000000000000000"; /* 2^64 */
	p = s;
	CHECK_EQ(gdb_hex_u64(&p, s + strlen(s), &v), -1);
	CHECK(p == s);
	s = "0000000000000000000001"; /* leading zeroes */
	p = s;
	CHECK_EQ(gdb_hex_u64(&p, s + strlen(s), &v), 0);
	CHECK_EQ(v, 1);
	s = "xyz";
	p = s;
	CHECK_EQ(gdb_hex_u64(&p, s + 3, &v), -1);
	p = s;
	CHECK_EQ(gdb_hex_u64(&p, s, &v), -1); /* empty */
	uint8_t b[3];
	CHECK_EQ(gdb_hex_decode("00ff7A", 3, b), 0);
	CHECK(b[0] == 0 && b[1] == 0xff && b[2] == 0x7a);
	CHECK_EQ(gdb_hex_decode("0g", 1, b), -1);
	char h[6];
	gdb_hex_encode(b, 3, h);
	CHECK(memcmp(h, "00ff7a", 6) == 0);
}

int main(void)
{
	test_suite_name = "gdb_packet";
	RUN(simple_packet);
	RUN(bad_checksum);
	RUN(acks_and_interrupt);
	RUN(escapes_and_rle);
	RUN(too_long);
	RUN(restart_on_dollar);
	RUN(frame_limits);
	RUN(hex_numbers);
	TEST_MAIN_END();
}
