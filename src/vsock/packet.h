/* virtio-vsock packets (virtio 1.2, 5.10.6): the 44-byte header, its wire codec, and the
 * checks every guest packet passes before anything acts on it. Pure: no I/O, no guest memory,
 * no state; the device, the connection multiplexer, the unit tests and the fuzz target all
 * call these. Must not: trust a header it did not decode from a copy, or guess at a field. */
#ifndef MOTE_VSOCK_PACKET_H
#define MOTE_VSOCK_PACKET_H

#include <stdbool.h>
#include <stdint.h>

#define VSOCK_HDR_LEN 44u
#define VSOCK_HOST_CID 2u
#define VSOCK_CID_MIN 3u             /* 0, 1 and 2 are reserved (hypervisor, local, host) */
#define VSOCK_CID_MAX 0xfffffffeu    /* the upper 32 bits are reserved; U32_MAX is "any" */
#define VSOCK_MAX_PKT (64u * 1024)   /* the largest payload of one packet either way */

/* Feature bits (5.10.3). */
#define VIRTIO_VSOCK_F_STREAM 0
#define VIRTIO_VSOCK_F_SEQPACKET 1

/* Socket types, operations, flags (5.10.6). */
#define VSOCK_TYPE_STREAM 1
#define VSOCK_TYPE_SEQPACKET 2
enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};
#define VSOCK_SHUTDOWN_RCV 1u  /* the sender will receive no more data */
#define VSOCK_SHUTDOWN_SEND 2u /* the sender will send no more data */
#define VSOCK_EVENT_TRANSPORT_RESET 0u
#define VSOCK_EVENT_LEN 4u     /* struct virtio_vsock_event: le32 id */

/* A decoded header (host byte order). */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc, fwd_cnt;
};

void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_LEN], struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_LEN]);

/* What to do with a packet the guest sent (vsock_check_tx). Every verdict but OK drops the
 * packet and counts it. */
enum vsock_verdict {
	VSOCK_PKT_OK = 0,
	/* Dropped silently: answering would help a spoofer, or go nowhere. */
	VSOCK_PKT_BAD_SRC,      /* src_cid is not the guest's CID (spoofed) */
	VSOCK_PKT_BAD_DST,      /* dst_cid is not the host: mote routes no guest-to-guest traffic */
	/* Rejected: the connection the ports name is reset, or an RST answers (vsock_verdict_rst). */
	VSOCK_PKT_BAD_LEN,      /* len beyond the buffers, over VSOCK_MAX_PKT, or on a non-RW op */
	VSOCK_PKT_BAD_TYPE,     /* not a stream socket */
	VSOCK_PKT_BAD_OP,       /* INVALID, or an unknown operation */
	VSOCK_PKT_BAD_FLAGS,    /* SHUTDOWN flags outside RCV|SEND (other ops' flags are ignored) */
};

/* Checks a guest packet's header against the buffer it came in: payload_bytes is what the
 * chain holds after the header. Order: source, destination, length, type, op, flags. */
enum vsock_verdict vsock_check_tx(const struct vsock_hdr *h, uint64_t payload_bytes,
				  uint64_t guest_cid);
/* Whether a packet with verdict v resets its connection (or is answered with an RST). */
bool vsock_verdict_rst(enum vsock_verdict v);
const char *vsock_verdict_str(enum vsock_verdict v);
const char *vsock_op_name(uint16_t op);

/* A host-side connection request line: "CONNECT <port>\n" (the word in any case, blanks
 * around the words allowed, the port decimal, at most 32 bytes with the newline).
 * line[0..len) holds the bytes up to and including the newline. 0 with *port, or -1. */
#define VSOCK_CONNECT_LINE_MAX 32
int vsock_parse_connect(const char *line, unsigned len, uint32_t *port);

#endif
