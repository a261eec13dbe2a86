/* Host logging and rate-limited guest-error reporting.
 * Owns: the process-wide log level and the guest-error token bucket (the one piece of
 * process-global state, because stderr is process-global). Thread-safe. */
#ifndef MOTE_CORE_LOG_H
#define MOTE_CORE_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_OFF = -1, LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3, LOG_TRACE = 4 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* The prefix of every line ("mote" unless set; the hvt monitor started as solo5-hvt uses
 * that name, as solo5-hvt's own messages do). */
void log_set_name(const char *name);

/* "mote: <message>\n" on stderr when level <= the current level. A message without an origin
 * belongs to no module: a module filter (log_set_module) drops it. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, naming the source file and line when the logger shows origins (log_configure);
 * file (__FILE__, "src/devices/virtio_blk.c") also gives the message's module
 * ("devices::virtio_blk"). */
void log_msg_at(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define log_error(...) log_msg_at(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_msg_at(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_msg_at(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg_at(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define log_trace(...) log_msg_at(LOG_TRACE, __FILE__, __LINE__, __VA_ARGS__)

/* The logger the API configures (PUT /logger): fd >= 0 sends lines there instead of stderr
 * (the caller opened it; the logger owns it from now on and closes the previous one); -1 keeps
 * the current output. show_level prefixes "[ERROR] " etc.; show_origin appends "(file:line)"
 * to lines that have an origin. Thread-safe. */
void log_configure(int fd, int show_level, int show_origin);

/* Lines to a configured fd (log_configure) take Firecracker's format:
 *   2026-12-04T01:51:26.123456789 [ID:THREAD:LEVEL:src/api/api.c:123] message
 * (local time; LEVEL with show_level, file:line with show_origin; THREAD is the name given
 * with log_set_thread, else "main" for the process's first thread, else "-"). stderr keeps
 * "mote: [LEVEL] message (file:line)". id: the instance id (default "anonymous-instance"). */
void log_set_instance_id(const char *id);
/* This thread's name in the lines above (at most 15 bytes kept). */
void log_set_thread(const char *name);

/* Modules are mote's source folders and files: "api", "devices", "devices::virtio_blk" ...
 * (src/<folder>/<file>.c). log_set_module("devices") keeps only messages from that folder
 * (whole "::" components match: "dev" matches nothing); NULL or "" keeps all. The caller
 * validates with log_module_valid. */
void log_set_module(const char *module);
/* Whether m names a module: a known folder (LOG_MODULE_FOLDERS), then any "::name" pieces
 * of [a-z0-9_]+ (subfolders, the file), at most 64 bytes. */
#define LOG_MODULE_FOLDERS "api, arch, backends, boot, core, devices, hvt, jail, kvm, snapshot, virtio, vmm, vsock"
int log_module_valid(const char *m);
/* The module of a source path ("src/devices/virtio_blk.c" -> "devices::virtio_blk") into buf. */
void log_module_of(const char *file, char *buf, size_t len);
/* Lines dropped because the configured fd did not take them (a full pipe): the metrics'
 * logger.missed_log_count. */
uint64_t log_missed_count(void);

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
void guest_error_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define guest_error(...) guest_error_at(__FILE__, __LINE__, __VA_ARGS__)
uint64_t guest_error_count(void);

#endif
