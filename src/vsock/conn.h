/* The vsock multiplexer's connection slots and their table (internal to src/vsock/): a fixed
 * array of slots, a free list, a keyed hash of (host port, guest port), the FIFO of slots
 * that owe the guest a packet, deadlines. table.c owns the table's invariants (checked by
 * vsock_mux_check); mux.c owns what the states mean. Same locking as mux.h. */
#ifndef MOTE_VSOCK_CONN_H
#define MOTE_VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "vsock/mux.h"

enum conn_state {
	C_FREE = 0,
	C_LINE,        /* host-initiated: reading "CONNECT <port>\n" */
	C_REQUEST,     /* host-initiated: REQUEST owed or sent, waiting for the guest's RESPONSE */
	C_ESTABLISHED,
	C_DYING,       /* stream closed; an RST is owed to the guest, then the slot is free */
};

/* Packets a connection owes the guest (besides data). */
enum { P_REQUEST = 1, P_RESPONSE = 2, P_SHUTDOWN = 4, P_CREDIT_UPDATE = 8, P_CREDIT_REQUEST = 16 };

struct vsock_conn {
	uint8_t state;
	uint8_t pending;       /* P_* */
	bool host_init;
	bool data_ready;       /* the host stream may hold data for the guest */
	bool host_closed;      /* EOF from the host stream: SHUTDOWN(RCV|SEND) owed or sent */
	bool guest_shut_rcv, guest_shut_send;
	bool credit_asked;     /* a CREDIT_REQUEST went out since the guest's credit last moved */
	bool in_rxq;
	uint8_t line_len;
	uint32_t watching;     /* what the host ops watch now (VSOCK_WANT_*) */
	int fd;
	uint32_t local_port, peer_port; /* host side, guest side */
	/* guest -> host: bytes [fwd_cnt, rx_cnt) wait in buf (a ring of VSOCK_CONN_BUF) */
	uint32_t rx_cnt, fwd_cnt, fwd_told;
	uint8_t *buf;
	/* host -> guest */
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	uint64_t deadline;     /* ms, 0: none */
	int32_t hnext, rxq_prev, rxq_next, free_next;
	char line[VSOCK_CONNECT_LINE_MAX];
};

_Static_assert((VSOCK_CONN_BUF & (VSOCK_CONN_BUF - 1)) == 0, "the ring index is a mask");

/* Bytes the guest can take now (its buf_alloc minus what is in flight; 0 if it claims to
 * have forwarded more than it got: a confused or hostile driver gets nothing). */
static inline uint32_t conn_peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static inline bool conn_wants_data(const struct vsock_conn *c)
{
	return c->state == C_ESTABLISHED && !c->host_closed && !c->guest_shut_rcv;
}

static inline bool conn_has_pending(const struct vsock_conn *c)
{
	if (c->state == C_DYING || c->pending)
		return true;
	return c->data_ready && conn_wants_data(c) && (conn_peer_credit(c) > 0 || !c->credit_asked);
}


/* The slot holding (local, peer), or NULL. */
struct vsock_conn *table_lookup(struct vsock_mux *m, uint32_t local, uint32_t peer);
unsigned table_id(const struct vsock_mux *m, const struct vsock_conn *c);
/* Enters c (its ports set) into the hash / takes it out. */
void table_insert(struct vsock_mux *m, struct vsock_conn *c);
void table_remove(struct vsock_mux *m, struct vsock_conn *c);
/* A free slot for stream fd, zeroed (state C_FREE until the caller sets one), or NULL. */
struct vsock_conn *table_alloc(struct vsock_mux *m, int fd);
/* Closes c's stream (if any) and returns the slot: out of the hash and the queue. */
void table_free(struct vsock_mux *m, struct vsock_conn *c);
/* A deadline after_ms from now (0: none); runs the host timer while any slot has one. */
void table_deadline(struct vsock_mux *m, struct vsock_conn *c, uint64_t after_ms);
/* The queue of slots that owe the guest a packet: push (only if it does), remove, pop. */
void table_rxq_push(struct vsock_mux *m, struct vsock_conn *c);
void table_rxq_remove(struct vsock_mux *m, struct vsock_conn *c);
struct vsock_conn *table_rxq_pop(struct vsock_mux *m);

/* Slots for max connections (0, or -1 with err) / every stream closed and the table freed. */
int table_init(struct vsock_mux *m, uint32_t max, char *err, size_t errlen);
void table_destroy(struct vsock_mux *m);
/* The table's invariants: NULL, or what is broken. */
const char *table_check(const struct vsock_mux *m);

#endif
