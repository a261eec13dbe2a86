/* virtio-vsock header codec and guest-packet checks (see packet.h). Little-endian on the wire,
 * decoded byte by byte, so the code holds on any host. No state, no I/O. */
#include "vsock/packet.h"

#include <ctype.h>
#include <stddef.h>

/* Wire offsets (5.10.6: struct virtio_vsock_hdr, packed). */
enum {
	OFF_SRC_CID = 0, OFF_DST_CID = 8, OFF_SRC_PORT = 16, OFF_DST_PORT = 20, OFF_LEN = 24,
	OFF_TYPE = 28, OFF_OP = 30, OFF_FLAGS = 32, OFF_BUF_ALLOC = 36, OFF_FWD_CNT = 40,
};

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_LEN], struct vsock_hdr *h)
{
	h->src_cid = get_le(raw + OFF_SRC_CID, 8);
	h->dst_cid = get_le(raw + OFF_DST_CID, 8);
	h->src_port = (uint32_t)get_le(raw + OFF_SRC_PORT, 4);
	h->dst_port = (uint32_t)get_le(raw + OFF_DST_PORT, 4);
	h->len = (uint32_t)get_le(raw + OFF_LEN, 4);
	h->type = (uint16_t)get_le(raw + OFF_TYPE, 2);
	h->op = (uint16_t)get_le(raw + OFF_OP, 2);
	h->flags = (uint32_t)get_le(raw + OFF_FLAGS, 4);
	h->buf_alloc = (uint32_t)get_le(raw + OFF_BUF_ALLOC, 4);
	h->fwd_cnt = (uint32_t)get_le(raw + OFF_FWD_CNT, 4);
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_LEN])
{
	put_le(raw + OFF_SRC_CID, h->src_cid, 8);
	put_le(raw + OFF_DST_CID, h->dst_cid, 8);
	put_le(raw + OFF_SRC_PORT, h->src_port, 4);
	put_le(raw + OFF_DST_PORT, h->dst_port, 4);
	put_le(raw + OFF_LEN, h->len, 4);
	put_le(raw + OFF_TYPE, h->type, 2);
	put_le(raw + OFF_OP, h->op, 2);
	put_le(raw + OFF_FLAGS, h->flags, 4);
	put_le(raw + OFF_BUF_ALLOC, h->buf_alloc, 4);
	put_le(raw + OFF_FWD_CNT, h->fwd_cnt, 4);
}

enum vsock_verdict vsock_check_tx(const struct vsock_hdr *h, uint64_t payload_bytes,
				  uint64_t guest_cid)
{
	if (h->src_cid != guest_cid)
		return VSOCK_PKT_BAD_SRC;
	if (h->dst_cid != VSOCK_HOST_CID)
		return VSOCK_PKT_BAD_DST;
	if (h->len > payload_bytes || h->len > VSOCK_MAX_PKT || (h->len && h->op != VSOCK_OP_RW))
		return VSOCK_PKT_BAD_LEN;
	if (h->type != VSOCK_TYPE_STREAM)
		return VSOCK_PKT_BAD_TYPE;
	if (h->op == VSOCK_OP_INVALID || h->op > VSOCK_OP_CREDIT_REQUEST)
		return VSOCK_PKT_BAD_OP;
	if (h->op == VSOCK_OP_SHUTDOWN && (h->flags & ~(VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)))
		return VSOCK_PKT_BAD_FLAGS;
	return VSOCK_PKT_OK;
}

bool vsock_verdict_rst(enum vsock_verdict v)
{
	return v == VSOCK_PKT_BAD_LEN || v == VSOCK_PKT_BAD_TYPE || v == VSOCK_PKT_BAD_OP ||
	       v == VSOCK_PKT_BAD_FLAGS;
}

const char *vsock_verdict_str(enum vsock_verdict v)
{
	switch (v) {
	case VSOCK_PKT_OK:
		return "ok";
	case VSOCK_PKT_BAD_LEN:
		return "payload length beyond the buffer, over 64 KiB or on a control packet";
	case VSOCK_PKT_BAD_SRC:
		return "source CID is not the guest's";
	case VSOCK_PKT_BAD_DST:
		return "destination CID is not the host";
	case VSOCK_PKT_BAD_FLAGS:
		return "unknown SHUTDOWN flags";
	case VSOCK_PKT_BAD_TYPE:
		return "socket type is not stream";
	case VSOCK_PKT_BAD_OP:
		return "unknown operation";
	}
	return "?";
}

const char *vsock_op_name(uint16_t op)
{
	static const char *const names[] = {"INVALID", "REQUEST", "RESPONSE", "RST", "SHUTDOWN",
					    "RW", "CREDIT_UPDATE", "CREDIT_REQUEST"};
	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "unknown";
}

/* One blank-separated word of line[*i .. len): its start and length (0 at the end). */
static unsigned next_word(const char *line, unsigned len, unsigned *i, const char **w)
{
	while (*i < len && (line[*i] == ' ' || line[*i] == '\t' || line[*i] == '\r'))
		(*i)++;
	*w = line + *i;
	unsigned n = 0;
	while (*i < len && line[*i] != ' ' && line[*i] != '\t' && line[*i] != '\r' &&
	       line[*i] != '\n')
		(*i)++, n++;
	return n;
}

int vsock_parse_connect(const char *line, unsigned len, uint32_t *port)
{
	static const char verb[] = "connect";
	const char *w;
	unsigned i = 0;

	if (len == 0 || len > VSOCK_CONNECT_LINE_MAX || line[len - 1] != '\n')
		return -1;
	len--; /* the newline */
	if (next_word(line, len, &i, &w) != sizeof(verb) - 1)
		return -1;
	for (unsigned k = 0; k < sizeof(verb) - 1; k++)
		if (tolower((unsigned char)w[k]) != verb[k])
			return -1;
	unsigned n = next_word(line, len, &i, &w);
	if (n == 0 || n > 10)
		return -1;
	uint64_t v = 0;
	for (unsigned k = 0; k < n; k++) {
		if (w[k] < '0' || w[k] > '9')
			return -1;
		v = v * 10 + (uint64_t)(w[k] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	const char *rest;
	if (next_word(line, len, &i, &rest) != 0 || i != len)
		return -1;
	for (unsigned k = 0; k < len; k++)
		if (line[k] == '\0' || line[k] == '\n')
			return -1;
	*port = (uint32_t)v;
	return 0;
}
