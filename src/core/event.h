/* The I/O thread: one epoll loop that runs device work (queue notifications, backend
 * completions, timers) off the vCPU threads. Owns: the epoll fd, its thread, its stop fd.
 * Handlers are registered before the loop starts and run on the I/O thread only. */
#ifndef MOTE_CORE_EVENT_H
#define MOTE_CORE_EVENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define EVENT_MAX_HANDLERS 64
#define EVENT_MAX_IOCTLS 16

struct event_handler {
	int fd;
	void (*cb)(void *ctx, int fd); /* fd is readable; the handler drains it */
	void *ctx;
};

/* Busy-polling before the I/O thread sleeps: right after handling events it keeps checking
 * for poll_ns before blocking, so a request that follows soon (queue depth 1) does not pay
 * for a wake-up. poll_ns adapts (halt-poll style): it grows while events keep arriving within
 * EVENT_POLL_MAX_NS of the last ones, shrinks when a poll ends empty, and stops for a while
 * when the thread was preempted while polling (the CPU is contended: polling then costs
 * latency); an idle loop blocks at once, so an idle guest costs no CPU. */
#ifndef EVENT_POLL_MAX_NS
#define EVENT_POLL_MAX_NS 20000u /* measured: 50 us cost latency on a contended host; build with -DEVENT_POLL_MAX_NS=0 to compare without */
#endif
#define EVENT_POLL_START_NS 10000u
#define EVENT_POLL_BACKOFF_NS 100000000ull /* no polling for 100 ms after being preempted */
#define EVENT_POLL_PREEMPTED_NS 20000u      /* off the CPU this long during a poll: preempted */

struct event_loop {
	int epfd;
	unsigned poll_max_ns; /* 0 disables polling (event_init sets EVENT_POLL_MAX_NS) */
	unsigned poll_ns;     /* the current window */
	uint64_t poll_backoff_until; /* CLOCK_MONOTONIC ns: no polling before (see event.c) */
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
