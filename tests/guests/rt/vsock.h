/* vsock.h: a polling virtio-vsock driver and a tiny stream-socket stack for the test guests
 * (virtio 1.2, 5.10), on top of rt/virtio.c. No interrupts: the receive ring is polled.
 * Connections: the guest listens on ports the application accepts (on_request) and connects
 * out (gvs_connect); data arrives through on_data and leaves through gvs_write, both ways
 * under the peer's credit; the stack answers CREDIT_REQUEST, sends CREDIT_UPDATE when the
 * application consumed half its buffer, and closes with SHUTDOWN then RST as Linux does.
 * Every packet seen is also handed to on_packet (hostile tests look at the raw replies).
 *
 *     static struct gvs v;
 *     gvs_open(&v)                  finds the device, reads the CID, posts receive buffers
 *     v.on_request = ...; v.on_data = ...;
 *     for (;;) gvs_poll(&v);        handles every packet waiting, reclaims transmit slots
 */
#ifndef MOTE_GUEST_VSOCK_H
#define MOTE_GUEST_VSOCK_H

#include "virtio.h"

#define GVS_HDR 44
#define GVS_QSIZE 128
#define GVS_PKT (64u * 1024)           /* largest payload either way */
#define GVS_BUF (GVS_HDR + GVS_PKT)
#define GVS_MAX_CONNS 1100
#define GVS_HOST_CID 2

enum { GVS_OP_REQUEST = 1, GVS_OP_RESPONSE, GVS_OP_RST, GVS_OP_SHUTDOWN, GVS_OP_RW,
       GVS_OP_CREDIT_UPDATE, GVS_OP_CREDIT_REQUEST };
#define GVS_TYPE_STREAM 1
#define GVS_SHUT_RCV 1
#define GVS_SHUT_SEND 2

struct gvs_hdr {
	u64 src_cid, dst_cid;
	u32 src_port, dst_port, len;
	u16 type, op;
	u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

enum gvs_state { GVS_FREE = 0, GVS_CONNECTING, GVS_OPEN, GVS_CLOSING, GVS_CLOSED, GVS_REFUSED };

struct gvs_conn {
	u8 state;
	u8 peer_shut;          /* GVS_SHUT_* the host sent */
	u32 lport, pport;      /* guest port, host port */
	u32 buf_alloc;         /* what this side advertises */
	u32 rx_cnt, fwd_cnt, fwd_told; /* bytes received / consumed by the application / told */
	u32 tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	u64 rx_total, tx_total;
	void *app;             /* the application's */
};

struct gvs {
	struct virtio_dev dev;
	struct virtq rxq, txq, evq;
	u64 cid;
	u32 buf_alloc;         /* for new connections (default 256 KiB) */
	int rx_post;           /* receive buffers gvs_open posts: 0 all, -1 none (hostile tests) */
	/* Callbacks (any may be NULL). on_request: accept a host connection to guest port
	 * c->lport (return 1) or refuse it (0: RST). on_data: len bytes for c; the application
	 * calls gvs_consume when it is done with them. on_end: c was reset or closed. */
	int (*on_request)(struct gvs *v, struct gvs_conn *c);
	void (*on_data)(struct gvs *v, struct gvs_conn *c, const u8 *data, u32 len);
	void (*on_end)(struct gvs *v, struct gvs_conn *c);
	void (*on_packet)(struct gvs *v, const struct gvs_hdr *h, const u8 *payload);
	u64 rx_pkts, tx_pkts, resets, events, bad_pkts, credit_errs;
	u32 next_port;
	u64 status_us;         /* when gvs_poll last read Status */
	struct gvs_conn conns[GVS_MAX_CONNS];
	u8 (*rxbuf)[GVS_BUF], (*txbuf)[GVS_BUF]; /* GVS_QSIZE each (static, one device) */
	u8 evbuf[8][4];
};

/* Opens the first virtio-vsock device (EVENT_IDX and no interrupts unless irq). Prints
 * "vsock: cid N features 0x...". 0 or a negative VIRTIO_E*. */
int gvs_open(struct gvs *v);
/* Handles every packet waiting and reclaims transmit slots. Returns packets handled, or a
 * negative VIRTIO_E* (the device failed). */
int gvs_poll(struct gvs *v);
/* Sends one raw packet (header as given, payload len bytes), waiting (polling) up to 5 s for a
 * transmit slot. 0 or VIRTIO_E*. */
int gvs_send_raw(struct gvs *v, const struct gvs_hdr *h, const void *data, u32 len);
/* A packet of op for connection c, with the stack's addresses and credit. */
int gvs_send_op(struct gvs *v, struct gvs_conn *c, u16 op, u32 flags);
/* Starts a connection to host port `port` (state CONNECTING until RESPONSE or RST). */
struct gvs_conn *gvs_connect(struct gvs *v, u32 port);
/* Sends up to len bytes as the peer's credit allows (never waits for credit), as packets of
 * up to 64 KiB with one notification for all of them. Returns bytes sent. */
u32 gvs_write(struct gvs *v, struct gvs_conn *c, const void *data, u32 len);
/* gvs_write until everything went, polling; 0, or VIRTIO_ETIMEDOUT after timeout_ms without
 * progress, or -1 if the connection ended. */
int gvs_write_all(struct gvs *v, struct gvs_conn *c, const void *data, u64 len, u32 timeout_ms);
/* The application consumed n more bytes: credit for the peer. */
void gvs_consume(struct gvs *v, struct gvs_conn *c, u32 n);
/* SHUTDOWN(RCV|SEND); the connection ends at the peer's RST. */
void gvs_close(struct gvs *v, struct gvs_conn *c);
/* Polls until c leaves state `state` or timeout_ms pass. Returns the new state. */
int gvs_wait_state(struct gvs *v, struct gvs_conn *c, int state, u32 timeout_ms);
/* Frees a finished connection's slot. */
void gvs_release(struct gvs_conn *c);
/* Connections not FREE. */
unsigned gvs_count(const struct gvs *v);

#endif
