/* The I/O thread's epoll loop. Every epoll entry points at a struct event_source: a fixed
 * handler's own (the table is fixed before the thread starts, read-only while it runs), an
 * owner's dynamic one, or the stop eventfd's, which ends the loop. */
#include "core/event.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sandbox.h"

_Static_assert(EVENT_IN == EPOLLIN && EVENT_OUT == EPOLLOUT && EVENT_ERR == EPOLLERR &&
		       EVENT_HUP == EPOLLHUP, "EVENT_* are the epoll bits");

void event_signal(int fd)
{
	uint64_t one = 1;
	ssize_t w = write(fd, &one, sizeof(one));
	(void)w;
}

/* An epoll entry for s (the loop's own, a fixed handler's or an owner's source). */
static int source_add(struct event_loop *l, struct event_source *s, int fd, uint32_t events,
		      void (*cb)(struct event_source *s, uint32_t revents), void *ctx)
{
	if (!cb || (events & ~(EVENT_IN | EVENT_OUT))) {
		errno = EINVAL;
		return -1;
	}
	if (s->added) {
		errno = EEXIST;
		return -1;
	}
	struct epoll_event ev = {.events = events, .data.ptr = s};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	*s = (struct event_source){.fd = fd, .events = events, .cb = cb, .ctx = ctx, .added = true};
	return 0;
}

static void on_stop(struct event_source *s, uint32_t revents)
{
	(void)revents;
	((struct event_loop *)s->ctx)->stopping = true;
}

int event_init(struct event_loop *l)
{
	memset(l, 0, sizeof(*l));
	l->stop_efd = -1;
	l->poll_max_ns = EVENT_POLL_MAX_NS;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -1;
	l->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->stop_efd < 0)
		return -1;
	return source_add(l, &l->stop_src, l->stop_efd, EVENT_IN, on_stop, l);
}

int event_source_add(struct event_loop *l, struct event_source *s, int fd, uint32_t events,
		     void (*cb)(struct event_source *s, uint32_t revents), void *ctx)
{
	if (source_add(l, s, fd, events, cb, ctx) < 0)
		return -1;
	l->nsources++;
	return 0;
}

int event_source_mod(struct event_loop *l, struct event_source *s, uint32_t events)
{
	if (!s->added || (events & ~(EVENT_IN | EVENT_OUT))) {
		errno = s->added ? EINVAL : ENOENT;
		return -1;
	}
	if (events == s->events)
		return 0;
	struct epoll_event ev = {.events = events, .data.ptr = s};
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, s->fd, &ev) < 0)
		return -1;
	s->events = events;
	return 0;
}

void event_source_del(struct event_loop *l, struct event_source *s)
{
	if (!s->added)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL); /* fails only for an fd already gone */
	s->added = false;
	l->nsources--;
	for (int j = l->batch_i + 1; l->batch && j < l->batch_n; j++)
		if (l->batch[j].data.ptr == s)
			l->batch[j].data.ptr = NULL; /* fetched, but never delivered now */
}

/* A fixed handler's entry: the readable fd goes to its callback. */
static void on_handler(struct event_source *s, uint32_t revents)
{
	struct event_handler *h = s->ctx;
	(void)revents;
	h->cb(h->ctx, h->fd);
}

int event_add(struct event_loop *l, int fd, void (*cb)(void *ctx, int fd), void *ctx)
{
	if (l->started || l->n == EVENT_MAX_HANDLERS || !cb) {
		errno = l->started ? EBUSY : l->n == EVENT_MAX_HANDLERS ? ENOSPC : EINVAL;
		return -1;
	}
	struct event_handler *h = &l->h[l->n];
	*h = (struct event_handler){.fd = fd, .cb = cb, .ctx = ctx};
	if (source_add(l, &h->src, fd, EVENT_IN, on_handler, h) < 0)
		return -1;
	l->n++;
	return 0;
}

int event_watch(struct event_loop *l, int fd, bool on)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->h[i].fd == fd)
			return event_source_mod(l, &l->h[i].src, on ? EVENT_IN : 0);
	errno = ENOENT;
	return -1;
}

int event_allow_ioctl(struct event_loop *l, unsigned long req)
{
	for (size_t i = 0; i < l->nioctls; i++)
		if (l->ioctls[i] == req)
			return 0;
	if (l->started || l->nioctls == EVENT_MAX_IOCTLS) {
		errno = l->started ? EBUSY : ENOSPC;
		return -1;
	}
	l->ioctls[l->nioctls++] = req;
	return 0;
}

int event_allow_extra(struct event_loop *l, unsigned extras)
{
	if (l->started) {
		errno = EBUSY;
		return -1;
	}
	l->sandbox_extras |= extras;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Handles n ready events; false when the stop fd was among them. A source removed by an
 * earlier callback of the batch has had its later entries cleared (event_source_del). */
static bool event_dispatch(struct event_loop *l, struct epoll_event *evs, int n)
{
	l->batch = evs;
	l->batch_n = n;
	for (l->batch_i = 0; l->batch_i < n && !l->stopping; l->batch_i++) {
		struct event_source *s = evs[l->batch_i].data.ptr;
		if (s)
			s->cb(s, evs[l->batch_i].events);
	}
	l->batch = NULL;
	l->batch_n = l->batch_i = 0;
	return !l->stopping;
}

int event_run_once(struct event_loop *l, int timeout_ms)
{
	struct epoll_event evs[EVENT_BATCH];
	int n = epoll_wait(l->epfd, evs, EVENT_BATCH, timeout_ms);
	if (n > 0)
		event_dispatch(l, evs, n);
	return n;
}

/* CPU time this thread has used, in ns (clock_gettime: allowed in every thread's sandbox). */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* After events: checks without sleeping for up to poll_ns. Returns the events found (0 when
 * the window ended empty, which halves it), or -1 on an epoll error. Polling pays only while
 * this thread has a core to itself: when it lost the CPU during a poll (wall time ran on
 * while its CPU time did not; other work wants the core, and a woken sleeper is scheduled
 * sooner than a thread that keeps spinning), it stops polling for EVENT_POLL_BACKOFF_NS. */
static int event_poll(struct event_loop *l, struct epoll_event *evs, int max)
{
	uint64_t cpu0 = thread_cpu_ns(), t0 = now_ns(), now = t0, end = t0 + l->poll_ns;
	int n;

	do {
		n = epoll_wait(l->epfd, evs, max, 0);
		now = now_ns();
	} while (n == 0 && now < end);
	uint64_t cpu = thread_cpu_ns() - cpu0;
	if (now - t0 > cpu + EVENT_POLL_PREEMPTED_NS) {
		l->poll_ns = 0;
		l->poll_backoff_until = now + EVENT_POLL_BACKOFF_NS;
	} else if (n == 0) {
		l->poll_ns /= 2;
		if (l->poll_ns < EVENT_POLL_START_NS / 4)
			l->poll_ns = 0;
	}
	return n;
}

static void *event_thread(void *arg)
{
	struct event_loop *l = arg;
	struct epoll_event evs[EVENT_BATCH];
	bool active = false; /* events were handled just now */
	char err[160];

	log_set_thread("io");

	if (sandbox_enter_extra(SANDBOX_IO, l->sandbox_extras, l->ioctls, l->nioctls, err,
				sizeof(err)) < 0) {
		log_error("I/O thread: %s", err);
		return NULL;
	}
	for (;;) {
		int n = 0;
		if (active && l->poll_ns > 0)
			n = event_poll(l, evs, EVENT_BATCH);
		if (n == 0) {
			uint64_t t0 = l->poll_max_ns ? now_ns() : 0;
			n = epoll_wait(l->epfd, evs, EVENT_BATCH, -1);
			/* Woken soon after the last activity: polling would have caught it. */
			if (n > 0 && l->poll_max_ns && active) {
				uint64_t t1 = now_ns();
				if (t1 - t0 < l->poll_max_ns && t1 >= l->poll_backoff_until) {
					unsigned grown = l->poll_ns ? l->poll_ns * 2 : EVENT_POLL_START_NS;
					l->poll_ns = grown < l->poll_max_ns ? grown : l->poll_max_ns;
				}
			}
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("I/O thread: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		active = n > 0;
		if (!event_dispatch(l, evs, n))
			return NULL;
	}
}

int event_start(struct event_loop *l)
{
	if (l->n == 0 && l->nsources == 0)
		return 0; /* nothing to serve: no thread */
	int r = pthread_create(&l->thread, NULL, event_thread, l);
	if (r != 0) {
		errno = r;
		return -1;
	}
	l->started = true;
	return 0;
}

void event_destroy(struct event_loop *l)
{
	if (l->started) {
		event_signal(l->stop_efd);
		pthread_join(l->thread, NULL);
		l->started = false;
	}
	if (l->stop_efd >= 0)
		close(l->stop_efd);
	if (l->epfd >= 0)
		close(l->epfd);
	l->stop_efd = l->epfd = -1;
}
