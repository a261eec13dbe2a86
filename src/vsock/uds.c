/* vsock host ops on Unix sockets (see uds.h). Every stream is non-blocking; an outgoing
 * connect to PATH_<port> completes at once or fails at once (AF_UNIX), so the I/O thread
 * never waits. Must not: block, or call the muxer without the owner's lock. */
#include "vsock/uds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "core/usock.h"

#define FD_MARGIN 256 /* fds the rest of mote may need besides the vsock streams */

_Static_assert(VSOCK_UDS_PATH_MAX + sizeof("_4294967295") <= sizeof(((struct sockaddr_un *)0)->sun_path),
	       "PATH_<port> fits a sun_path");

/* A larger send buffer for mote's end of a stream: guest data waits in the kernel, where
 * the host program reads it, rather than in mote's ring behind a full socket (the default
 * 208 KiB is less than one guest credit window). Best effort: the kernel caps it at
 * net.core.wmem_max, and a refusal only costs throughput. */
static void stream_bufs(int fd)
{
	int sz = VSOCK_UDS_SNDBUF;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

static int u_accept(void *h)
{
	struct vsock_uds *u = h;
	int fd = accept4(u->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		stream_bufs(fd);
		return fd;
	}
	int e = errno;
	if ((e == EMFILE || e == ENFILE) && !u->starved) {
		/* Level-triggered: a waiting client would wake the loop for ever. Pause. */
		log_warn("vsock: out of file descriptors: host connections wait until one closes");
		u->starved = true;
		event_source_del(u->loop, &u->listen_src);
	}
	return -e;
}

static int u_connect(void *h, uint32_t port)
{
	struct vsock_uds *u = h;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", u->path, port);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	stream_bufs(fd);
	return fd;
}

static ssize_t u_readv(void *h, int fd, const struct iovec *iov, int n)
{
	(void)h;
	ssize_t r = readv(fd, iov, n);
	return r < 0 ? -errno : r;
}

static ssize_t u_writev(void *h, int fd, const struct iovec *iov, int n)
{
	(void)h;
	ssize_t r = writev(fd, iov, n); /* SIGPIPE is ignored (core/stop.c): EPIPE */
	return r < 0 ? -errno : r;
}

static int u_shutdown_wr(void *h, int fd)
{
	(void)h;
	return shutdown(fd, SHUT_WR) < 0 ? -errno : 0;
}

static void on_stream(struct event_source *s, uint32_t revents)
{
	struct vsock_uds *u = s->ctx;
	uint32_t ready = (revents & EVENT_IN ? VSOCK_WANT_IN : 0) |
			 (revents & EVENT_OUT ? VSOCK_WANT_OUT : 0) |
			 (revents & (EVENT_HUP | EVENT_ERR) ? VSOCK_HUP : 0);
	pthread_mutex_lock(u->lock);
	vsock_mux_host_event(u->mux, (unsigned)(s - u->srcs), ready);
	pthread_mutex_unlock(u->lock);
}

static int u_watch(void *h, unsigned id, int fd, uint32_t want)
{
	struct vsock_uds *u = h;
	if (id >= u->max)
		return -EINVAL;
	struct event_source *s = &u->srcs[id];
	uint32_t ev = (want & VSOCK_WANT_IN ? EVENT_IN : 0) | (want & VSOCK_WANT_OUT ? EVENT_OUT : 0);
	int r = 0;
	if (!ev) /* out of the set: a hung-up stream would report EVENT_HUP for ever */
		event_source_del(u->loop, s);
	else if (!s->added)
		r = event_source_add(u->loop, s, fd, ev, on_stream, u);
	else
		r = event_source_mod(u->loop, s, ev);
	return r < 0 ? -errno : 0;
}

static void u_listen(void *h, bool on);

static void u_close(void *h, unsigned id, int fd)
{
	struct vsock_uds *u = h;
	if (id < u->max)
		event_source_del(u->loop, &u->srcs[id]);
	close(fd);
	if (u->starved) {
		u->starved = false;
		if (u->listening) {
			u->listening = false;
			u_listen(u, true);
		}
	}
}

static void on_listen(struct event_source *s, uint32_t revents)
{
	struct vsock_uds *u = s->ctx;
	(void)revents;
	pthread_mutex_lock(u->lock);
	vsock_mux_accept_ready(u->mux);
	pthread_mutex_unlock(u->lock);
}

static void u_listen(void *h, bool on)
{
	struct vsock_uds *u = h;
	if (on == u->listening)
		return;
	u->listening = on;
	if (!on || u->starved)
		event_source_del(u->loop, &u->listen_src);
	else if (event_source_add(u->loop, &u->listen_src, u->listen_fd, EVENT_IN, on_listen, u) < 0)
		log_warn("vsock: cannot watch %s: %s", u->path, strerror(errno));
}

static void on_timer(struct event_source *s, uint32_t revents)
{
	struct vsock_uds *u = s->ctx;
	uint64_t n;
	(void)revents;
	if (read(u->timer_fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	pthread_mutex_lock(u->lock);
	vsock_mux_tick(u->mux);
	pthread_mutex_unlock(u->lock);
}

static void u_timer(void *h, bool on)
{
	struct vsock_uds *u = h;
	const struct timespec tick = {.tv_sec = 0, .tv_nsec = VSOCK_TICK_MS * 1000000L};
	struct itimerspec its = {.it_interval = on ? tick : (struct timespec){0},
				 .it_value = on ? tick : (struct timespec){0}};
	if (timerfd_settime(u->timer_fd, 0, &its, NULL) < 0)
		log_warn("vsock: deadline timer: %s", strerror(errno));
}

static uint64_t u_now_ms(void *h)
{
	struct timespec ts;
	(void)h;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const struct vsock_host_ops vsock_uds_ops = {
	.accept = u_accept, .connect = u_connect, .readv = u_readv, .writev = u_writev,
	.shutdown_wr = u_shutdown_wr, .watch = u_watch, .close = u_close, .listen = u_listen,
	.timer = u_timer, .now_ms = u_now_ms,
};

/* Room for max streams in RLIMIT_NOFILE; lowers *max (with a warning) when the hard limit
 * is too low. */
static void fit_fd_limit(uint32_t *max)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t want = (rlim_t)*max + FD_MARGIN;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want) {
		uint32_t fit = rl.rlim_cur > 2 * FD_MARGIN ? (uint32_t)(rl.rlim_cur - FD_MARGIN) : FD_MARGIN;
		log_warn("vsock: the open-file limit (%llu) allows %u connections, not %u (raise "
			 "'ulimit -Hn')", (unsigned long long)rl.rlim_cur, fit, *max);
		*max = fit;
	}
}

int vsock_uds_open(struct vsock_uds *u, const char *path, uint32_t *max_conns, char *err,
		   size_t errlen)
{
	memset(u, 0, sizeof(*u));
	u->listen_fd = u->timer_fd = -1;
	if (!*path || strlen(path) > VSOCK_UDS_PATH_MAX)
		return err_set(err, errlen, "--vsock uds=%.120s: give a path of 1 to %d bytes (PATH_<port> "
			       "must fit a Unix socket address)", path, VSOCK_UDS_PATH_MAX);
	snprintf(u->path, sizeof(u->path), "%s", path);
	if (usock_listen("--vsock uds", path, &u->listen_fd, &u->created, SOMAXCONN, err, errlen) < 0)
		return -1;
	u->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (u->timer_fd < 0)
		return err_set(err, errlen, "vsock: timerfd: %s", strerror(errno));
	fit_fd_limit(max_conns);
	u->max = *max_conns;
	u->srcs = calloc(u->max, sizeof(*u->srcs));
	if (!u->srcs)
		return err_set(err, errlen, "vsock: out of memory");
	return 0;
}

int vsock_uds_attach(struct vsock_uds *u, struct event_loop *l, pthread_mutex_t *lock,
		     struct vsock_mux *m, char *err, size_t errlen)
{
	u->loop = l;
	u->lock = lock;
	u->mux = m;
	if (event_source_add(l, &u->timer_src, u->timer_fd, EVENT_IN, on_timer, u) < 0 ||
	    event_allow_extra(l, SANDBOX_X_UNIX_SOCKETS) < 0)
		return err_set(err, errlen, "vsock: cannot join the I/O thread: %s", strerror(errno));
	return 0;
}

void vsock_uds_close(struct vsock_uds *u)
{
	if (u->loop) {
		event_source_del(u->loop, &u->listen_src);
		event_source_del(u->loop, &u->timer_src);
	}
	if (u->listen_fd >= 0)
		close(u->listen_fd);
	if (u->timer_fd >= 0)
		close(u->timer_fd);
	u->listen_fd = u->timer_fd = -1;
	if (u->created && unlink(u->path) < 0 && errno != ENOENT)
		log_warn("vsock: cannot remove %s: %s", u->path, strerror(errno));
	u->created = false;
	free(u->srcs);
	u->srcs = NULL;
}
