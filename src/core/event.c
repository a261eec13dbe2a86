/* The I/O thread's epoll loop. Handlers are fixed before the thread starts, so the table is
 * read-only while it runs; the stop eventfd ends the loop. */
#include "core/event.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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

static void *event_thread(void *arg)
{
	struct event_loop *l = arg;
	struct epoll_event evs[16];
	char err[160];

	if (sandbox_enter(SANDBOX_IO, l->ioctls, l->nioctls, err, sizeof(err)) < 0) {
		log_error("I/O thread: %s", err);
		return NULL;
	}
	for (;;) {
		int n = epoll_wait(l->epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("I/O thread: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint32_t idx = evs[i].data.u32;
			if (idx == UINT32_MAX)
				return NULL; /* stop requested */
			if (idx < l->n)
				l->h[idx].cb(l->h[idx].ctx, l->h[idx].fd);
		}
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
