/* Logging to stderr, and the guest-error rate limiter (a token bucket refilled at 1/s). */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static _Atomic int cur_level = LOG_WARN; /* read by every thread, set rarely */
static pthread_mutex_t guest_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	double tokens;
	double last;
	uint64_t total;
	uint64_t suppressed;
	int started;
} ge;

void log_set_level(enum log_level level) { atomic_store_explicit(&cur_level, (int)level, memory_order_relaxed); }
enum log_level log_get_level(void) { return (enum log_level)atomic_load_explicit(&cur_level, memory_order_relaxed); }

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* One fprintf call so lines from different threads do not interleave. */
	fprintf(stderr, "mote: %s%s\n", prefix, buf);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if ((int)level > atomic_load_explicit(&cur_level, memory_order_relaxed))
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

int err_set(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void guest_error(const char *fmt, ...)
{
	pthread_mutex_lock(&guest_lock);
	double t = now_s();
	if (!ge.started) {
		ge.started = 1;
		ge.tokens = GUEST_ERROR_BURST;
		ge.last = t;
	}
	ge.tokens += t - ge.last;
	if (ge.tokens > GUEST_ERROR_BURST)
		ge.tokens = GUEST_ERROR_BURST;
	ge.last = t;
	ge.total++;
	if (log_get_level() < LOG_WARN) { /* not shown at this level: counted, not "suppressed" */
		pthread_mutex_unlock(&guest_lock);
		return;
	}
	if (ge.tokens < 1.0) { /* rate-limited */
		ge.suppressed++;
		pthread_mutex_unlock(&guest_lock);
		return;
	}
	ge.tokens -= 1.0;
	uint64_t dropped = ge.suppressed;
	ge.suppressed = 0;
	va_list ap;
	va_start(ap, fmt);
	if (dropped)
		fprintf(stderr, "mote: guest error: (%llu similar messages suppressed)\n",
			(unsigned long long)dropped);
	vlog("guest error: ", fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&guest_lock);
}

uint64_t guest_error_count(void)
{
	pthread_mutex_lock(&guest_lock);
	uint64_t n = ge.total;
	pthread_mutex_unlock(&guest_lock);
	return n;
}
