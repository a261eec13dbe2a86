/* Logging to stderr, and the guest-error rate limiter (a token bucket refilled at 1/s). */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
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
	char id[72];   /* the instance id in Firecracker-format lines */
	char module[72]; /* "" all modules */
	uint64_t missed;
} out = {.fd = -1, .name = "mote", .id = "anonymous-instance"};
static _Thread_local char thread_name[16];

void log_set_name(const char *name)
{
	pthread_mutex_lock(&out_lock);
	snprintf(out.name, sizeof(out.name), "%s", name);
	pthread_mutex_unlock(&out_lock);
}

void log_set_instance_id(const char *id)
{
	pthread_mutex_lock(&out_lock);
	snprintf(out.id, sizeof(out.id), "%s", id && *id ? id : "anonymous-instance");
	pthread_mutex_unlock(&out_lock);
}

void log_set_thread(const char *name) { snprintf(thread_name, sizeof(thread_name), "%s", name); }

void log_set_module(const char *module)
{
	pthread_mutex_lock(&out_lock);
	snprintf(out.module, sizeof(out.module), "%s", module ? module : "");
	pthread_mutex_unlock(&out_lock);
}

uint64_t log_missed_count(void)
{
	pthread_mutex_lock(&out_lock);
	uint64_t n = out.missed;
	pthread_mutex_unlock(&out_lock);
	return n;
}

static const char *const module_folders[] = {"api", "arch", "backends", "boot", "core", "devices",
					     "hvt", "jail", "kvm", "snapshot", "virtio", "vmm",
					     "vsock"};

int log_module_valid(const char *m)
{
	size_t n = strlen(m), k = strcspn(m, ":");
	bool known = false;
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < sizeof(module_folders) / sizeof(module_folders[0]); i++)
		known = known || (strlen(module_folders[i]) == k && !strncmp(m, module_folders[i], k));
	if (!known)
		return 0;
	/* then "::component" pieces of [a-z0-9_]+ (arch::x86::machine) */
	for (const char *f = m + k; *f;) {
		if (strncmp(f, "::", 2) != 0)
			return 0;
		f += 2;
		size_t c = 0;
		while ((f[c] >= 'a' && f[c] <= 'z') || (f[c] >= '0' && f[c] <= '9') || f[c] == '_')
			c++;
		if (c == 0)
			return 0;
		f += c;
	}
	return 1;
}

void log_module_of(const char *file, char *buf, size_t len)
{
	size_t n = 0;
	if (!len)
		return;
	if (!strncmp(file, "src/", 4))
		file += 4;
	const char *dot = strrchr(file, '.');
	for (const char *p = file; *p && p != dot && n + 3 < len; p++) {
		if (*p == '/') {
			buf[n++] = ':';
			buf[n++] = ':';
		} else {
			buf[n++] = *p;
		}
	}
	buf[n] = '\0';
}

/* Whether a message from file passes the module filter. out_lock held. */
static bool module_passes(const char *file)
{
	if (!out.module[0])
		return true;
	if (!file)
		return false; /* no origin, no module (as Firecracker drops records without one) */
	char m[128];
	log_module_of(file, m, sizeof(m));
	size_t k = strlen(out.module);
	return !strncmp(m, out.module, k) && (m[k] == '\0' || !strncmp(m + k, "::", 2));
}

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOG_ERROR: return "ERROR";
	case LOG_WARN: return "WARN";
	case LOG_INFO: return "INFO";
	case LOG_TRACE: return "TRACE";
	default: return "DEBUG";
	}
}

/* Firecracker's tag: [ID:THREAD(:LEVEL)(:FILE:LINE)], out_lock held. */
static void fc_prefix(char *buf, size_t len, enum log_level level, const char *file, int line)
{
	struct timespec ts;
	struct tm tm;
	char when[40] = "";
	clock_gettime(CLOCK_REALTIME, &ts);
	if (localtime_r(&ts.tv_sec, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	const char *th = thread_name[0] ? thread_name : getpid() == gettid() ? "main" : "-";
	int n = snprintf(buf, len, "%s.%09ld [%s:%s", when, ts.tv_nsec, out.id, th);
	if (n > 0 && (size_t)n < len && out.show_level)
		n += snprintf(buf + n, len - (size_t)n, ":%s", level_name(level));
	if (n > 0 && (size_t)n < len && out.show_origin)
		n += snprintf(buf + n, len - (size_t)n, ":%s:%d", file ? file : "?", file ? line : 0);
	if (n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "]");
}

static void vlog_at(enum log_level level, const char *file, int line, const char *prefix,
		    const char *fmt, va_list ap)
{
	char buf[1024], lvl[16] = "", origin[128] = "";
	vsnprintf(buf, sizeof(buf), fmt, ap);
	pthread_mutex_lock(&out_lock);
	if (level == LOG_ERROR)
		snprintf(out.last_error, sizeof(out.last_error), "%.511s", buf);
	if (!module_passes(file)) {
		pthread_mutex_unlock(&out_lock);
		return;
	}
	if (out.show_level)
		snprintf(lvl, sizeof(lvl), "[%s] ", level_name(level));
	if (out.show_origin && file)
		snprintf(origin, sizeof(origin), " (%s:%d)", file, line);
	if (out.fd >= 0) {
		char line_buf[1400], tag[256];
		fc_prefix(tag, sizeof(tag), level, file, line);
		int n = snprintf(line_buf, sizeof(line_buf), "%s %s%s\n", tag, prefix, buf);
		if (n > (int)sizeof(line_buf) - 1) {
			n = (int)sizeof(line_buf) - 1;
			line_buf[n - 1] = '\n';
		}
		/* One write per line; a full pipe drops the line (the fd is non-blocking). */
		if (n > 0 && write(out.fd, line_buf, (size_t)n) != n)
			out.missed++; /* counted for the metrics: the log is no place to report it */
	} else {
		/* One fprintf call so lines from different threads do not interleave. */
		fprintf(stderr, "%s: %s%s%s%s\n", out.name, lvl, prefix, buf, origin);
	}
	pthread_mutex_unlock(&out_lock);
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
	if (fd >= 0)
		tzset(); /* the local time of the lines, loaded now rather than under the sandbox */
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

void guest_error_at(const char *file, int line, const char *fmt, ...)
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
		log_msg_at(LOG_WARN, file, line, "guest error: (%llu similar messages suppressed)",
			   (unsigned long long)dropped);
	vlog_at(LOG_WARN, file, line, "guest error: ", fmt, ap);
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
