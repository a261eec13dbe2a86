/* The vsock connection multiplexer, host side: maps guest stream connections to host streams
 * (Unix sockets, Firecracker's "hybrid vsock" model, docs/vsock.md).
 * Owns: the connection table (a fixed array of slots and a keyed hash of (host port, guest
 * port)), each connection's state machine and credit in both directions, the queue of
 * connections with something to say to the guest, the RSTs owed for packets that belong to
 * no connection, deadlines, counters.
 * Host-only: it sees decoded headers and host iovecs, never guest addresses; all host I/O goes
 * through struct vsock_host_ops (vsock/uds.c on real sockets, a fake in tests and the fuzzer).
 * Locking: every call is made with the owner's lock held (the device's), on the I/O thread,
 * except vsock_mux_request_start/reset (any thread: they only record the request; the work
 * runs at the next entry on the I/O thread, before anything else). Nothing is buffered beyond
 * VSOCK_CONN_BUF per connection: the guest's credit is what it may send, and mote reads a host
 * stream only as far as the guest's credit and receive buffers go. */
#ifndef MOTE_VSOCK_MUX_H
#define MOTE_VSOCK_MUX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vsock/packet.h"

#define VSOCK_MAX_CONNS 1024       /* default connection limit (every state counts) */
#define VSOCK_CONN_BUF (256u << 10) /* buf_alloc mote advertises: guest bytes it may buffer */
#define VSOCK_RSTQ 64              /* RSTs for unknown connections waiting for rx buffers */
#define VSOCK_TICK_MS 100          /* deadline resolution */
#define VSOCK_LINE_TIMEOUT_MS 5000 /* a host program's "CONNECT <port>\n" */
#define VSOCK_REQUEST_TIMEOUT_MS 2000  /* the guest's answer to a host connection request */
#define VSOCK_SHUTDOWN_TIMEOUT_MS 2000 /* the guest's RST after mote's SHUTDOWN; a closing
					  connection's flush without progress */
#define VSOCK_LOCAL_PORT_MIN (1u << 30) /* host ports of host-initiated connections */
#define VSOCK_MAX_IOV 1024         /* iovecs of one receive buffer */

/* Interest for vsock_host_ops.watch. */
#define VSOCK_WANT_IN 1u
#define VSOCK_WANT_OUT 2u

/* Host-side I/O (all calls with the owner's lock held, I/O thread). Slot ids are
 * 0 .. max_conns - 1; -errno values as the system calls give them. */
struct vsock_host_ops {
	/* A host program's new connection on the listening socket: its fd (non-blocking), or
	 * -EAGAIN when none waits. */
	int (*accept)(void *h);
	/* A connected non-blocking stream to the program listening for guest port `port`
	 * (PATH_<port>), or -errno: -ECONNREFUSED / -ENOENT nobody listens, -EAGAIN its backlog
	 * is full, -ENAMETOOLONG the path does not fit. */
	int (*connect)(void *h, uint32_t port);
	ssize_t (*readv)(void *h, int fd, const struct iovec *iov, int n); /* 0: EOF */
	ssize_t (*writev)(void *h, int fd, const struct iovec *iov, int n);
	int (*shutdown_wr)(void *h, int fd);
	/* Watch fd (the stream of slot id) for VSOCK_WANT_* (0: not at all, not even for hang-ups);
	 * the host then calls vsock_mux_host_event(m, id, ...). 0 or -errno. */
	int (*watch)(void *h, unsigned id, int fd, uint32_t want);
	void (*close)(void *h, unsigned id, int fd); /* stops watching too (id >= max: never watched) */
	void (*listen)(void *h, bool on);  /* watch the listening socket (vsock_mux_accept_ready) */
	void (*timer)(void *h, bool on);   /* call vsock_mux_tick about every VSOCK_TICK_MS */
	uint64_t (*now_ms)(void *h);       /* a monotonic clock */
};

/* Counters (relaxed atomics: the metrics reader takes no lock). */
struct vsock_stats {
	atomic_ulong tx_packets, rx_packets; /* guest -> mux / mux -> guest */
	atomic_ulong dropped;       /* malformed or spoofed guest packets (device checks) */
	atomic_ulong rst_sent, rst_received, rst_dropped; /* rst_dropped: RST queue full */
	atomic_ulong credit_errors; /* guest sent beyond mote's credit: RST */
	atomic_ulong conns_host, conns_guest; /* established, by initiator */
	atomic_ulong conns_refused; /* limit, nobody listening, bad CONNECT line, guest refused */
	atomic_ulong conns_closed;
	atomic_ulong conns_active;  /* slots in use now */
};

struct vsock_conn;

struct vsock_mux {
	const struct vsock_host_ops *ops;
	void *host;
	uint64_t guest_cid;
	/* Called (lock held) when host activity gave the guest something to receive. */
	void (*kick)(void *ctx);
	void *kick_ctx;
	bool started;
	bool start_pending, reset_pending;
	struct vsock_conn *conns; /* [max] */
	uint32_t max, nused;
	int32_t free_head;
	int32_t *buckets;         /* [nbuckets], -1 empty */
	uint32_t nbuckets;
	uint64_t seed;            /* hash key (random) */
	int32_t rxq_head, rxq_tail; /* connections with pending packets, FIFO */
	struct { uint32_t local, peer; } rstq[VSOCK_RSTQ];
	unsigned rst_head, rst_n;
	uint32_t next_local_port;
	uint32_t ndeadlines;      /* connections with a deadline: the timer runs while > 0 */
	bool credit_due;          /* a CREDIT_UPDATE became owed (the device may deliver it at once) */
	struct vsock_stats stats;
	struct iovec iov[VSOCK_MAX_IOV]; /* scratch: a receive buffer cut to the guest's credit */
};

/* Sets up a muxer for guest_cid with room for max_conns connections (host ops not called).
 * 0, or -1 with a one-line reason in err. */
int vsock_mux_init(struct vsock_mux *m, uint64_t guest_cid, uint32_t max_conns,
		   const struct vsock_host_ops *ops, void *host, char *err, size_t errlen);
/* Closes every connection's stream (host ops close) and frees the table. */
void vsock_mux_destroy(struct vsock_mux *m);

/* Requests from the device's activate/reset hooks (any thread; no host I/O here): start
 * accepting host connections / forget every connection (streams closed, no RST: the driver
 * reset its side). Carried out at the next call below, or by vsock_mux_work. */
void vsock_mux_request_start(struct vsock_mux *m);
void vsock_mux_request_reset(struct vsock_mux *m);
void vsock_mux_work(struct vsock_mux *m);

/* A guest packet whose header passed vsock_check_tx (payload: h->len bytes in iov). Routes it:
 * a connection request, data, credit, shutdown, RST; an RST is owed for anything that belongs
 * to no connection. Never fails: the packet is consumed. */
void vsock_mux_send(struct vsock_mux *m, const struct vsock_hdr *h, const struct iovec *iov,
		    int niov);

/* A guest packet refused by vsock_check_tx with a verdict that vsock_verdict_rst accepts: the
 * connection its ports name is reset (stream closed, RST to the guest), or, if there is none
 * and the packet is not an RST itself, an RST answers it. */
void vsock_mux_reject(struct vsock_mux *m, const struct vsock_hdr *h);

/* Whether vsock_mux_recv may have a packet for the guest. */
bool vsock_mux_pending(const struct vsock_mux *m);

/* Fills the next packet for the guest: *h, and h->len payload bytes (at most cap) read
 * straight into iov. 1 = a packet, 0 = nothing after all (the caller gives its buffer back). */
int vsock_mux_recv(struct vsock_mux *m, struct vsock_hdr *h, const struct iovec *iov, int niov,
		   uint32_t cap);

/* Host events (the host ops' watchers call these, lock held). */
void vsock_mux_accept_ready(struct vsock_mux *m);
void vsock_mux_host_event(struct vsock_mux *m, unsigned id, uint32_t ready); /* VSOCK_WANT_* | VSOCK_HUP */
void vsock_mux_tick(struct vsock_mux *m);

#define VSOCK_HUP 4u

/* The multiplexer's invariants (for tests and the fuzzer): NULL, or what is broken. */
const char *vsock_mux_check(const struct vsock_mux *m); /* for vsock_mux_host_event: the stream hung up or failed */

#endif
