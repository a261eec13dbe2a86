/* The vsock multiplexer's host side on real Unix sockets (Firecracker's "hybrid vsock"):
 * host programs connect to PATH and say "CONNECT <port>\n"; a guest connection to host port
 * P becomes a connection to PATH_P. Owns: the listening socket (created at setup, mode 0600,
 * removed by vsock_uds_close), a deadline timerfd, one event source per connection slot on the
 * I/O thread's loop, the fd limit raised for the connection table.
 * Every callback it gets from the loop takes the owner's lock, then calls the muxer. */
#ifndef MOTE_VSOCK_UDS_H
#define MOTE_VSOCK_UDS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "vsock/mux.h"

/* The longest PATH: PATH_<port> (11 more bytes for the largest port) fits a sun_path. */
#define VSOCK_UDS_PATH_MAX 96
/* SO_SNDBUF asked for on mote's end of each stream (bytes; the kernel doubles it, capped). */
#define VSOCK_UDS_SNDBUF (256 << 10)

struct vsock_uds {
	char path[VSOCK_UDS_PATH_MAX + 1];
	int listen_fd, timer_fd;
	bool created;        /* path names our socket: vsock_uds_close removes it */
	struct event_loop *loop;
	pthread_mutex_t *lock;
	struct vsock_mux *mux;
	struct event_source listen_src, timer_src;
	struct event_source *srcs; /* [max]: slot i's stream */
	uint32_t max;
	bool listening;      /* the muxer wants host connections */
	bool starved;        /* accept ran out of fds: listening paused until a stream closes */
};

extern const struct vsock_host_ops vsock_uds_ops;

/* Setup (before the sandbox): creates and listens on path (usock_listen rules) and the
 * timerfd, and makes room for *max_conns streams in the fd limit (RLIMIT_NOFILE raised to
 * what the hard limit allows; *max_conns lowered, with a warning, if it cannot be). 0, or -1
 * with a one-line reason in err (vsock_uds_close either way). */
int vsock_uds_open(struct vsock_uds *u, const char *path, uint32_t *max_conns, char *err,
		   size_t errlen);
/* Connects it to the loop and the muxer (m created with vsock_uds_ops and u): the listener
 * and timer become sources (silent until the muxer asks), the I/O thread's sandbox gets the
 * Unix-socket rules. lock guards m. Before event_start. 0, or -1 with err. */
int vsock_uds_attach(struct vsock_uds *u, struct event_loop *l, pthread_mutex_t *lock,
		     struct vsock_mux *m, char *err, size_t errlen);
/* Closes the listener and timer and removes the socket file (after the muxer is destroyed). */
void vsock_uds_close(struct vsock_uds *u);

#endif
