/* The VM's stop request: any thread (a vCPU, a device, a signal handler's helper, the
 * console) asks the VM to end with a status; the first request wins. The main thread
 * waits on the eventfd and then tears the VM down. No KVM here. */
#ifndef MOTE_CORE_STOP_H
#define MOTE_CORE_STOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <pthread.h>

struct vm_stop {
	atomic_bool requested;
	int status;
	int efd;          /* readable once a stop was requested */
	char reason[256]; /* why, for the final log line; "" when silent */
	pthread_mutex_t lock;
	/* Signals read from stop_signal_fd (stop_note_signal), by kind: SIGHUP, SIGINT, SIGTERM
	 * (the metrics' signals group). */
	atomic_uint sighup, sigint, sigterm;
};

int stop_init(struct vm_stop *s);
void stop_destroy(struct vm_stop *s);

/* First call wins and records status and reason; later calls are ignored.
 * reason may be NULL for a stop that needs no message (e.g. the guest's own exit). */
void stop_request(struct vm_stop *s, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The signals that stop a VM (SIGINT, SIGTERM, SIGHUP) as a signalfd: blocks them in the
 * calling thread, so every thread created afterwards inherits the block and only the owner of
 * the fd sees them, and ignores SIGPIPE. Call before creating any thread. Returns the fd
 * (non-blocking, close-on-exec), or -1 with errno. */
int stop_signal_fd(void);

/* A signal read from that fd: counted in s (sighup, sigint, sigterm; others ignored). */
void stop_note_signal(struct vm_stop *s, int signo);

static inline bool stop_requested(struct vm_stop *s)
{
	return atomic_load_explicit(&s->requested, memory_order_acquire);
}

#endif
