/* The I/O thread's epoll loop. Handlers are fixed before the thread starts, so the table is
 * read-only while it runs; the stop eventfd ends the loop. */
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

void event_signal(int fd)
{
	uint64_t one = 1;
	ssize_t w = write(fd, &one, sizeof(one));
	(void)w;
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
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_efd, &ev);
}

int event_add(struct event_loop *l, int fd, void (*cb)(void *ctx, int fd), void *ctx)
{
	if (l->started || l->n == EVENT_MAX_HANDLERS || !cb) {
		errno = l->started ? EBUSY : l->n == EVENT_MAX_HANDLERS ? ENOSPC : EINVAL;
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = l->n};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	l->h[l->n++] = (struct event_handler){.fd = fd, .cb = cb, .ctx = ctx};
	return 0;
}

int event_watch(struct event_loop *l, int fd, bool on)
{
	for (unsigned i = 0; i < l->n; i++) {
		if (l->h[i].fd != fd)
			continue;
		struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.u32 = i};
		return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
	}
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

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Handles n ready events; false when the stop fd was among them. */
static bool event_dispatch(struct event_loop *l, const struct epoll_event *evs, int n)
{
	for (int i = 0; i < n; i++) {
		uint32_t idx = evs[i].data.u32;
		if (idx == UINT32_MAX)
			return false; /* stop requested */
		if (idx < l->n)
			l->h[idx].cb(l->h[idx].ctx, l->h[idx].fd);
	}
	return true;
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
	struct epoll_event evs[16];
	bool active = false; /* events were handled just now */
	char err[160];

	if (sandbox_enter(SANDBOX_IO, l->ioctls, l->nioctls, err, sizeof(err)) < 0) {
		log_error("I/O thread: %s", err);
		return NULL;
	}
	for (;;) {
		int n = 0;
		if (active && l->poll_ns > 0)
			n = event_poll(l, evs, 16);
		if (n == 0) {
			uint64_t t0 = l->poll_max_ns ? now_ns() : 0;
			n = epoll_wait(l->epfd, evs, 16, -1);
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
	if (l->n == 0)
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
