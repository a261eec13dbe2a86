/* The I/O thread: one epoll loop that runs device work (queue notifications, backend
 * completions, timers) off the vCPU threads. Owns: the epoll fd, its thread, its stop fd.
 * Handlers are registered before the loop starts and run on the I/O thread only. */
#ifndef MOTE_CORE_EVENT_H
#define MOTE_CORE_EVENT_H

#include <pthread.h>
#include <stdbool.h>

#define EVENT_MAX_HANDLERS 64
#define EVENT_MAX_IOCTLS 16

struct event_handler {
	int fd;
	void (*cb)(void *ctx, int fd); /* fd is readable; the handler drains it */
	void *ctx;
};

struct event_loop {
	int epfd;
	int stop_efd;
	pthread_t thread;
	bool started;
	unsigned n;
	struct event_handler h[EVENT_MAX_HANDLERS];
	unsigned long ioctls[EVENT_MAX_IOCTLS]; /* the I/O thread's seccomp filter allows these */
	size_t nioctls;
};

/* Adds one to eventfd fd (wakes whoever polls it). Never blocks: an eventfd only refuses
 * when its counter would overflow, i.e. 2^64-2 wake-ups are already pending. */
void event_signal(int fd);

int event_init(struct event_loop *l);
/* Registers a handler (before event_start). Returns 0, or -1 with errno. */
int event_add(struct event_loop *l, int fd, void (*cb)(void *ctx, int fd), void *ctx);
/* Starts (on) or stops (off) watching a registered fd without unregistering it: how a device
 * stops reading a backend it has no room for (back-pressure) and resumes later. Any thread,
 * before or after event_start (epoll_ctl is thread-safe). Returns 0, or -1 with errno
 * (ENOENT: fd was never registered). */
int event_watch(struct event_loop *l, int fd, bool on);
/* Lets the I/O thread issue ioctl request req (added to its seccomp allowlist) - for device
 * work that must run there, e.g. TUNSETOFFLOAD. Before event_start. 0, or -1 with errno. */
int event_allow_ioctl(struct event_loop *l, unsigned long req);
int event_start(struct event_loop *l);
/* Stops and joins the thread (if started) and closes the loop's own fds. */
void event_destroy(struct event_loop *l);

#endif
