/* Stop requests: first one wins, signalled through an eventfd. */
#include "core/stop.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/event.h"

int stop_init(struct vm_stop *s)
{
	memset(s, 0, sizeof(*s));
	atomic_init(&s->requested, false);
	pthread_mutex_init(&s->lock, NULL);
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return s->efd < 0 ? -1 : 0;
}

void stop_destroy(struct vm_stop *s)
{
	if (s->efd >= 0)
		close(s->efd);
	s->efd = -1;
	pthread_mutex_destroy(&s->lock);
}

void stop_request(struct vm_stop *s, int status, const char *fmt, ...)
{
	pthread_mutex_lock(&s->lock);
	if (atomic_load_explicit(&s->requested, memory_order_relaxed)) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->status = status;
	s->reason[0] = '\0';
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
		va_end(ap);
	}
	atomic_store_explicit(&s->requested, true, memory_order_release);
	pthread_mutex_unlock(&s->lock);
	event_signal(s->efd);
}

int stop_signal_fd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	int r = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (r != 0) {
		errno = r;
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

void stop_note_signal(struct vm_stop *s, int signo)
{
	atomic_uint *c = signo == SIGHUP ? &s->sighup : signo == SIGINT ? &s->sigint
		       : signo == SIGTERM ? &s->sigterm : NULL;
	if (c)
		atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}
