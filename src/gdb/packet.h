/* The GDB remote serial protocol's framing: $payload#xx packets (checksum, '}' escapes,
 * '*' run-length encoding), '+'/'-' acknowledgements, the 0x03 interrupt byte; and hex
 * helpers that refuse overflow. Pure code: no sockets, no KVM, no allocation. Every byte
 * comes from the debugger and is hostile: a packet longer than GDB_PACKET_MAX, a bad
 * checksum or a malformed run-length code is reported as an event, never written past the
 * buffer. */
#ifndef MOTE_GDB_PACKET_H
#define MOTE_GDB_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest decoded payload mote accepts (advertised as qSupported PacketSize). */
#define GDB_PACKET_MAX 16384
/* Room for any framed reply: every payload byte escaped, plus "$", "#xx". */
#define GDB_FRAME_MAX (2 * GDB_PACKET_MAX + 4)

enum gdb_rx_event {
	GDB_RX_NONE,         /* byte consumed, nothing complete yet */
	GDB_RX_PACKET,       /* a whole packet, checksum right: payload in buf[0..len) */
	GDB_RX_BAD_CHECKSUM, /* a whole packet whose checksum is wrong (or not hex) */
	GDB_RX_TOO_LONG,     /* a whole packet whose payload exceeded GDB_PACKET_MAX */
	GDB_RX_BAD_ENCODING, /* a whole packet with a '*' that repeats nothing or too far */
	GDB_RX_INTERRUPT,    /* 0x03 outside a packet: the user pressed Ctrl-C */
	GDB_RX_ACK,          /* '+' */
	GDB_RX_NACK,         /* '-': the last packet sent must be sent again */
};

struct gdb_rx {
	int state;
	uint8_t sum;       /* running checksum of the raw bytes between '$' and '#' */
	uint8_t csum;      /* the received checksum's first digit */
	bool csum_bad;
	bool too_long;
	bool bad_rle;
	bool escaped;      /* the previous raw byte was '}' */
	bool rle_next;     /* the previous raw byte was '*': this one is the count */
	size_t len;
	char buf[GDB_PACKET_MAX + 1]; /* decoded payload, NUL-terminated after a packet */
};

void gdb_rx_init(struct gdb_rx *r);

/* Feeds one received byte. On GDB_RX_PACKET buf holds len decoded bytes (and a NUL after
 * them; the payload itself may contain NULs from binary X data). */
enum gdb_rx_event gdb_rx_byte(struct gdb_rx *r, uint8_t c);

/* Frames payload[0..len) as $...#xx into out (cap bytes), escaping '$', '#', '}' and '*'.
 * Returns the frame's length, or 0 when it does not fit. */
size_t gdb_frame(char *out, size_t cap, const void *payload, size_t len);

/* Parses 1..16 hex digits at *p (stops at end or at the first non-hex byte) into *v and
 * advances *p. Returns 0, or -1 (nothing consumed) when there is no digit or the number
 * does not fit 64 bits (leading zeroes are fine). */
int gdb_hex_u64(const char **p, const char *end, uint64_t *v);

/* Decodes exactly 2*n hex digits at s into out[0..n). Returns 0, or -1 on a non-hex digit. */
int gdb_hex_decode(const char *s, size_t n, uint8_t *out);

/* Encodes in[0..n) as 2*n lowercase hex digits at out (no NUL). */
void gdb_hex_encode(const uint8_t *in, size_t n, char *out);

/* Value of one hex digit, or -1. */
int gdb_hex_digit(int c);

#endif
