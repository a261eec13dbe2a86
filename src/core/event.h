/* The I/O thread: one epoll loop that runs device work (queue notifications, backend
 * completions, timers) off the vCPU threads. Owns: the epoll fd, its thread, its stop fd.
 * Two kinds of registration: fixed handlers (event_add: a table of EVENT_MAX_HANDLERS, before
 * the loop starts, for the life of the VM) and sources (event_source_*: owner-allocated, added
 * and removed while the loop runs, from the I/O thread itself, e.g. one per vsock connection;
 * the loop keeps no table of them, so their number is bounded by their owner). Callbacks run
 * on the I/O thread only. */
#ifndef MOTE_CORE_EVENT_H
#define MOTE_CORE_EVENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define EVENT_MAX_HANDLERS 64
#define EVENT_BATCH 16 /* events fetched per epoll_wait */
#define EVENT_MAX_IOCTLS 16

/* Event bits (the epoll values: event.c checks). A source's callback gets the ready ones;
 * EVENT_ERR and EVENT_HUP are reported even when not asked for (as epoll does). */
#define EVENT_IN 0x001u
#define EVENT_OUT 0x004u
#define EVENT_ERR 0x008u
#define EVENT_HUP 0x010u

/* A dynamically registered fd. The owner keeps the struct (usually embedded in its own state)
 * alive from event_source_add until event_source_del has returned; the loop stores only a
 * pointer to it in the epoll entry. */
struct event_source {
	int fd;
	uint32_t events; /* current interest: EVENT_IN | EVENT_OUT, or 0 */
	void (*cb)(struct event_source *s, uint32_t revents);
	void *ctx;       /* the owner's, untouched by the loop */
	bool added;
};

struct event_handler {
	struct event_source src; /* the loop's entry; cb calls the handler's cb below */
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

struct epoll_event;

struct event_loop {
	int epfd;
	unsigned poll_max_ns; /* 0 disables polling (event_init sets EVENT_POLL_MAX_NS) */
	unsigned poll_ns;     /* the current window */
	uint64_t poll_backoff_until; /* CLOCK_MONOTONIC ns: no polling before (see event.c) */
	int stop_efd;
	pthread_t thread;
	bool started;
	bool stopping;       /* the stop fd fired: the thread returns after this batch */
	struct event_source stop_src;
	/* The batch being dispatched (I/O thread only): event_source_del clears the entries of
	 * a removed source still ahead in it, so its callback never runs after removal. */
	struct epoll_event *batch;
	int batch_n, batch_i;
	unsigned nsources;   /* sources added and not yet removed (for tests and messages) */
	unsigned n;
	struct event_handler h[EVENT_MAX_HANDLERS];
	unsigned long ioctls[EVENT_MAX_IOCTLS]; /* the I/O thread's seccomp filter allows these */
	size_t nioctls;
	unsigned sandbox_extras; /* enum sandbox_extra rule sets the I/O thread adds */
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
/* Adds seccomp rule sets (enum sandbox_extra bits, core/sandbox.h) to the I/O thread's list,
 * for devices whose work there needs them (vsock: Unix sockets). Before event_start: 0, or
 * -1 with errno EBUSY. */
int event_allow_extra(struct event_loop *l, unsigned extras);
/* Sources. Threads: before event_start any one thread; after it only the I/O thread (from a
 * callback), so the loop never races its own dispatch.
 * add: starts watching fd for events (EVENT_IN | EVENT_OUT, or 0 to register it silent) and
 *   calls cb(s, revents) on the I/O thread when it is ready; sets s->ctx = ctx. s must be
 *   zeroed or deleted. 0, or -1 with errno (EEXIST: s is added already; EINVAL).
 * mod: changes the interest. 0, or -1 with errno (ENOENT: s is not added).
 * del: stops watching. Once it returns, cb is never called for s again, not even for events
 *   the loop already fetched in the batch it is dispatching: the owner may free s, then close
 *   fd (close after del: a closed fd can stay in the epoll set through a dup). Deleting a
 *   source that is not added does nothing. */
int event_source_add(struct event_loop *l, struct event_source *s, int fd, uint32_t events,
		     void (*cb)(struct event_source *s, uint32_t revents), void *ctx);
int event_source_mod(struct event_loop *l, struct event_source *s, uint32_t events);
void event_source_del(struct event_loop *l, struct event_source *s);

/* Runs the loop once on the calling thread: waits up to timeout_ms (-1: for ever, 0: not at
 * all) for events and dispatches them. For tests and for owners that drive a loop without its
 * thread (never while the thread runs). Returns the events dispatched, or -1 with errno. */
int event_run_once(struct event_loop *l, int timeout_ms);

int event_start(struct event_loop *l);
/* Stops and joins the thread (if started) and closes the loop's own fds. */
void event_destroy(struct event_loop *l);

#endif
