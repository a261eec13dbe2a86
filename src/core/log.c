/* Logging to stderr, and the guest-error rate limiter (a token bucket refilled at 1/s). */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* The configured output (PUT /logger); out.fd < 0 means stderr. */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int fd;
	int show_level, show_origin;
	char last_error[512];
	char name[32]; /* the line prefix: "mote", or "solo5-hvt" when started as that */
} out = {.fd = -1, .name = "mote"};

void log_set_name(const char *name)
{
	pthread_mutex_lock(&out_lock);
	snprintf(out.name, sizeof(out.name), "%s", name);
	pthread_mutex_unlock(&out_lock);
}

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOG_ERROR: return "ERROR";
	case LOG_WARN: return "WARN";
	case LOG_INFO: return "INFO";
	default: return "DEBUG";
	}
}

static void vlog_at(enum log_level level, const char *file, int line, const char *prefix,
		    const char *fmt, va_list ap)
{
	char buf[1024], lvl[16] = "", origin[128] = "";
	vsnprintf(buf, sizeof(buf), fmt, ap);
	pthread_mutex_lock(&out_lock);
	if (level == LOG_ERROR)
		snprintf(out.last_error, sizeof(out.last_error), "%.511s", buf);
	if (out.show_level)
		snprintf(lvl, sizeof(lvl), "[%s] ", level_name(level));
	if (out.show_origin && file)
		snprintf(origin, sizeof(origin), " (%s:%d)", file, line);
	if (out.fd >= 0) {
		char line_buf[1400];
		int n = snprintf(line_buf, sizeof(line_buf), "%s: %s%s%s%s\n", out.name, lvl, prefix, buf,
				 origin);
		if (n > (int)sizeof(line_buf) - 1) {
			n = (int)sizeof(line_buf) - 1;
			line_buf[n - 1] = '\n';
		}
		/* One write per line; a full pipe drops the line (the fd is non-blocking). */
		if (write(out.fd, line_buf, (size_t)n) < 0) {
			/* nothing sensible to do: the log itself is the place to report it */
		}
	} else {
		/* One fprintf call so lines from different threads do not interleave. */
		fprintf(stderr, "%s: %s%s%s%s\n", out.name, lvl, prefix, buf, origin);
	}
	pthread_mutex_unlock(&out_lock);
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	vlog_at(LOG_WARN, NULL, 0, prefix, fmt, ap);
}

/* A message below the level is not printed, but an error is still kept as the last error (the
 * reason a boot failed, for the API's answer). */
static void vlog_msg_at(enum log_level level, const char *file, int line, const char *fmt,
			va_list ap)
{
	if ((int)level <= atomic_load_explicit(&cur_level, memory_order_relaxed)) {
		vlog_at(level, file, line, "", fmt, ap);
	} else if (level == LOG_ERROR) {
		pthread_mutex_lock(&out_lock);
		vsnprintf(out.last_error, sizeof(out.last_error), fmt, ap);
		pthread_mutex_unlock(&out_lock);
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog_msg_at(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_msg_at(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog_msg_at(level, file, line, fmt, ap);
	va_end(ap);
}

void log_configure(int fd, int show_level, int show_origin)
{
	pthread_mutex_lock(&out_lock);
	if (fd >= 0) {
		if (out.fd >= 0)
			close(out.fd);
		out.fd = fd;
	}
	out.show_level = show_level;
	out.show_origin = show_origin;
	pthread_mutex_unlock(&out_lock);
}

void log_last_error(char *buf, size_t len)
{
	if (!len)
		return;
	pthread_mutex_lock(&out_lock);
	snprintf(buf, len, "%s", out.last_error);
	pthread_mutex_unlock(&out_lock);
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
		log_msg(LOG_WARN, "guest error: (%llu similar messages suppressed)",
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
