/* Host logging and rate-limited guest-error reporting.
 * Owns: the process-wide log level and the guest-error token bucket (the one piece of
 * process-global state, because stderr is process-global). Thread-safe. */
#ifndef MOTE_CORE_LOG_H
#define MOTE_CORE_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_OFF = -1, LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* The prefix of every line ("mote" unless set; the hvt monitor started as solo5-hvt uses
 * that name, as solo5-hvt's own messages do). */
void log_set_name(const char *name);

/* "mote: <message>\n" on stderr when level <= the current level. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, naming the source file and line when the logger shows origins (log_configure). */
void log_msg_at(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define log_error(...) log_msg_at(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_msg_at(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_msg_at(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg_at(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

/* The logger the API configures (PUT /logger): fd >= 0 sends lines there instead of stderr
 * (the caller opened it; the logger owns it from now on and closes the previous one); -1 keeps
 * the current output. show_level prefixes "[ERROR] " etc.; show_origin appends "(file:line)"
 * to lines that have an origin. Thread-safe. */
void log_configure(int fd, int show_level, int show_origin);

/* The text of the last error-level message (whatever the level filter), "" if none: the API
 * reports why a boot failed. Copies at most len - 1 bytes into buf. */
void log_last_error(char *buf, size_t len);

/* Formats a one-line error into err (when err is not NULL and errlen > 0) and returns -1, so
 * that validators can write `return err_set(err, errlen, "...", ...);`. */
int err_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Something the guest did wrong. Printed as "mote: guest error: <message>" at warning
 * level, at most GUEST_ERROR_BURST lines at once and then one per second; suppressed
 * lines are counted and reported with the next printed one. */
#define GUEST_ERROR_BURST 10
void guest_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t guest_error_count(void);

#endif
