/* The API server: the socket, libmicrohttpd, routing and the lifecycle. Every request is
 * handled on libmicrohttpd's one thread, so handlers never race each other; a->lock orders
 * them against main.c's thread (boot, end) and the metrics thread. Bodies are capped at
 * API_BODY_MAX, connections at API_MAX_CONNECTIONS, idle clients dropped after
 * API_TIMEOUT_S seconds. */
#include "api/api.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_snapshot.h"
#include "api/api_balloon.h"
#include "api/api_sock.h"
#include "core/event.h"
#include "core/log.h"
#include "core/sandbox.h"
#include "core/stop.h"
#include "core/status.h"

#ifndef MOTE_VERSION
#define MOTE_VERSION "unknown"
#endif

#define API_MAX_CONNECTIONS 64
#define API_DISCARD_MAX (1024 * 1024) /* bodies up to this are read (and dropped) before a 400 */
#define API_TIMEOUT_S 5
#define API_START_TIMEOUT_S 60
#define API_PAUSE_TIMEOUT_MS 2000
#define ERRLEN 512

/* libmicrohttpd is opened with dlopen in API mode only: Debian's build links GnuTLS and six
 * more libraries whose loading and constructors would add milliseconds and MiBs to every
 * `mote run` (measured in docs/performance.md). The headers still come from pkg-config.
 *
 * mote is a static executable, so the library and its libc.so come into their own namespace,
 * as glibc's NSS modules do in static programs. Two rules follow: libmicrohttpd creates no
 * thread (a thread made by that libc could not run mote's code, whose thread-local storage
 * belongs to the static libc): it runs in mote's own HTTP thread (http_thread), without an
 * internal thread; and memory never changes hands between the two libcs' allocators (a
 * response's buffer is given back through a callback to mote's free). */
static struct {
	void *lib;
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
	__typeof__(MHD_run_wait) *run_wait;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_create_response_from_buffer_with_free_callback) *create_response_from_buffer_with_free_callback;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
} mhd; /* process-wide like the library itself; set once in api_init, before any thread */

/* The library above, declared in an ELF note (the "FDO" .note.dlopen convention) so that tools
 * that place mote's libraries (mote-jailer: docs/jail.md) know API mode loads it. */
#define MHD_NOTE_JSON                                                                              \
	"[{\"feature\":\"api\",\"description\":\"the REST API (--api-sock, --config-file)\","       \
	"\"priority\":\"recommended\",\"soname\":[\"libmicrohttpd.so.12\"]}]"
__attribute__((used, section(".note.dlopen"), aligned(4))) static const struct {
	uint32_t namesz, descsz, type;
	char name[4];
	char desc[(sizeof(MHD_NOTE_JSON) + 3) & ~3u];
} mhd_note = {4, sizeof(MHD_NOTE_JSON), 0x407c0c0a, "FDO", MHD_NOTE_JSON};

static int mhd_load(char *err, size_t errlen)
{
	if (mhd.lib)
		return 0;
	void *lib = dlopen("libmicrohttpd.so.12", RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return err_set(err, errlen, "cannot load libmicrohttpd (apt-get install libmicrohttpd12): %s",
			       dlerror());
#define SYM(name)                                                                   \
	if (!(*(void **)&mhd.name = dlsym(lib, "MHD_" #name))) {                    \
		dlclose(lib);                                                       \
		return err_set(err, errlen, "libmicrohttpd lacks MHD_%s", #name);   \
	}
	SYM(start_daemon)
	SYM(stop_daemon)
	SYM(lookup_connection_value)
	SYM(run_wait)
	SYM(create_response_from_buffer)
	SYM(create_response_from_buffer_with_free_callback)
	SYM(add_response_header)
	SYM(queue_response)
	SYM(destroy_response)
#undef SYM
	mhd.lib = lib;
	return 0;
}

struct api_req {
	char *buf;
	size_t len;
	size_t seen; /* body bytes received, kept or not */
	bool too_big;
	bool is_start;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static int open_output(const char *path, char *err, size_t errlen, const char *what)
{
	/* Non-blocking: a full pipe drops lines instead of stalling a thread. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENXIO) /* a named pipe nobody reads yet: hold it open ourselves */
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errlen, "%s: cannot open %s: %s", what, path, strerror(errno));
	return fd;
}

static const char *state_name(enum api_state s)
{
	switch (s) {
	case API_RUNNING: return "Running";
	case API_PAUSED: return "Paused";
	default: return "Not started";
	}
}

/* Writes one metrics line. a->lock held. */
static int metrics_flush_locked(struct api *a)
{
	if (a->metrics_fd < 0)
		return -1;
	char *line = api_metrics_render(a);
	if (!line)
		return -1;
	size_t n = strlen(line);
	line[n] = '\n'; /* api_metrics_render leaves room for it */
	ssize_t w = write(a->metrics_fd, line, n + 1);
	free(line);
	a->metrics_flushes++;
	if (w != (ssize_t)(n + 1))
		a->mstate.missed_lines++;
	return w == (ssize_t)(n + 1) ? 0 : -1;
}

static void *metrics_thread(void *arg)
{
	struct api *a = arg;
	log_set_thread("metrics");
	pthread_mutex_lock(&a->lock);
	while (!a->quit) {
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 60; /* as Firecracker: one line a minute, and on FlushMetrics */
		int r = 0;
		while (!a->quit && r == 0) {
			r = pthread_cond_timedwait(&a->cond, &a->lock, &dl);
			api_metrics_sandbox(a); /* its own list, once the VM runs */
		}
		if (!a->quit)
			metrics_flush_locked(a);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static int apply_logger(const struct api_logger_cfg *l, char *err, size_t errlen)
{
	int fd = -1;
	if (l->path[0] && (fd = open_output(l->path, err, errlen, "logger")) < 0)
		return -1;
	log_configure(fd, l->show_level, l->show_origin);
	log_set_module(l->module);
	log_set_level((enum log_level)l->level);
	return 0;
}

static int apply_metrics(struct api *a, char *err, size_t errlen)
{
	int fd = open_output(a->ac.metrics.path, err, errlen, "metrics");
	if (fd < 0)
		return -1;
	a->metrics_fd = fd;
	return 0;
}

/* ---- responses -------------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	struct MHD_Response *r =
		text ? mhd.create_response_from_buffer_with_free_callback(strlen(text), text, free)
		     : mhd.create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	if (text)
		mhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	enum MHD_Result ret = mhd.queue_response(c, status, r);
	mhd.destroy_response(r);
	return ret;
}

/* What a handler decided: an HTTP status and a body (NULL: none), or a fault message. */
struct answer {
	unsigned status;
	json_t *body;
	char fault[ERRLEN];
};

static void bad(struct answer *ans, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void bad(struct answer *ans, unsigned status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ans->fault, sizeof(ans->fault), fmt, ap);
	va_end(ap);
	ans->status = status;
}

/* ---- handlers (API thread; a->lock held) ------------------------------------------------ */

static bool pre_boot(struct api *a, struct answer *ans, const char *what)
{
	if (a->state == API_NOT_STARTED)
		return true;
	bad(ans, 400, "%s is only possible before InstanceStart: the microVM is already started", what);
	return false;
}

static void do_start(struct api *a, struct answer *ans)
{
	if (a->state != API_NOT_STARTED) {
		bad(ans, 400, "InstanceStart: the microVM is already %s",
		    a->state == API_STARTING ? "starting" : a->state == API_ENDED ? "stopped" : "started");
		return;
	}
	char err[ERRLEN];
	if (api_config_check(&a->ac, err, sizeof(err)) < 0) {
		bad(ans, 400, "InstanceStart: %s", err);
		return;
	}
	a->state = API_STARTING;
	a->start_result = 0;
	a->start_in_flight = true;
	event_signal(a->start_efd);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += API_START_TIMEOUT_S;
	int r = 0;
	a->start_by_api = true;
	while (a->start_result == 0 && !a->quit && r == 0)
		r = pthread_cond_timedwait(&a->cond, &a->lock, &dl);
	if (a->start_result > 0)
		ans->status = 204;
	else if (a->start_result < 0)
		bad(ans, 400, "InstanceStart failed: %s", a->start_err[0] ? a->start_err : "see the log");
	else if (a->quit)
		bad(ans, 400, "InstanceStart: mote is stopping (signal)");
	else
		bad(ans, 500, "InstanceStart: the boot did not finish within %d s", API_START_TIMEOUT_S);
}

static void do_vm_state(struct api *a, const json_t *body, struct answer *ans)
{
	bool pause;
	char err[ERRLEN];
	if (api_parse_vm_state(body, &pause, err, sizeof(err)) < 0)
		return bad(ans, 400, "%s", err);
	if (a->state != API_RUNNING && a->state != API_PAUSED)
		return bad(ans, 400, "vm: cannot %s a microVM that is not running (InstanceStart first)",
			   pause ? "pause" : "resume");
	ans->status = 204;
	if (pause == (a->state == API_PAUSED) || !a->view_valid)
		return; /* already there */
	struct api_vm_view *v = &a->view;
	if (!pause) {
		for (unsigned i = 0; i < v->nvcpus; i++)
			vcpu_resume(&v->vcpus[i]);
		a->state = API_RUNNING;
		log_info("microVM resumed");
		return;
	}
	for (unsigned i = 0; i < v->nvcpus; i++)
		vcpu_pause(&v->vcpus[i]);
	for (unsigned i = 0; i < v->nvcpus; i++) {
		if (vcpu_wait_parked(&v->vcpus[i], API_PAUSE_TIMEOUT_MS) < 0) {
			for (unsigned k = 0; k < v->nvcpus; k++)
				vcpu_resume(&v->vcpus[k]);
			return bad(ans, 500, "vm: vCPU %u did not stop within %d ms; the microVM keeps running",
				   i, API_PAUSE_TIMEOUT_MS);
		}
	}
	a->state = API_PAUSED;
	log_info("microVM paused");
}

/* PATCH /drives/{id} rate_limiter (alone or after a swap): the device's limits change under
 * its lock; the staged configuration follows, so GET /vm/config reports them. */
static void drive_patch_limits(struct api *a, unsigned i, const struct rl_update *rl,
			       struct answer *ans)
{
	if (rl->bw_set || rl->ops_set) {
		virtio_blk_ratelimit_update(&a->view.blk[i], rl);
		rl_config_apply(&a->ac.cfg.disks[i].rl, rl);
		log_info("drive %s: new rate limits", a->ac.drive_id[i]);
	}
	ans->status = 204;
}

/* PATCH /network-interfaces/{id}: new rx/tx limits of a running interface. */
static void do_net_patch(struct api *a, const char *id, const json_t *body, struct answer *ans)
{
	char err[ERRLEN];
	unsigned i;
	struct rl_update rx, tx;
	if (a->state != API_RUNNING && a->state != API_PAUSED)
		return bad(ans, 400, "PATCH /network-interfaces is only possible after InstanceStart "
			   "(use PUT before)");
	if (api_parse_net_patch(&a->ac, id, body, &i, &rx, &tx, err, sizeof(err)) < 0)
		return bad(ans, 400, "%s", err);
	if (!a->view_valid || i >= a->view.nnet)
		return bad(ans, 400, "network-interfaces: interface '%s' has no device", id);
	if (virtio_net_ratelimit_update(&a->view.net[i], &rx, &tx, err, sizeof(err)) < 0)
		return bad(ans, 400, "network-interfaces: %s: %s", id, err);
	rl_config_apply(&a->ac.cfg.nets[i].rx_rl, &rx);
	rl_config_apply(&a->ac.cfg.nets[i].tx_rl, &tx);
	log_info("interface %s: new rate limits", id);
	ans->status = 204;
}

static void do_drive_patch(struct api *a, const char *id, const json_t *body, struct answer *ans)
{
	char err[ERRLEN], path[CONFIG_PATH_MAX];
	unsigned i;
	struct rl_update rl;
	if (a->state != API_RUNNING && a->state != API_PAUSED)
		return bad(ans, 400, "PATCH /drives is only possible after InstanceStart (use PUT before)");
	if (api_parse_drive_update(&a->ac, id, body, path, &i, &rl, err, sizeof(err)) < 0)
		return bad(ans, 400, "%s", err);
	if (!a->view_valid || i >= a->view.nblk)
		return bad(ans, 400, "drives: drive '%s' has no device", id);
	char mgroup[API_ID_MAX + 8]; /* metrics: block_<id>.update_count / update_fails */
	snprintf(mgroup, sizeof(mgroup), "block_%s", id);
	api_metrics_count(&a->mstate, mgroup, "update_count");
	api_metrics_count(&a->mstate, mgroup, "update_fails"); /* taken back below on success */
	struct disk_config *d = &a->ac.cfg.disks[i];
	if (path[0]) { /* a new backing file; without one, new limits only */
		struct blk_backend be; /* a file backend; an io_uring drive takes its fd (blk_swap_file) */
		bool no_uring = true;
		if (blk_open(path, d->read_only, d->direct, BLK_IO_SYNC, 0, &no_uring, &be, err,
			     sizeof(err)) < 0)
			return bad(ans, 400, "drives: %s", err);
		if (virtio_blk_swap_backend(&a->view.blk[i], &be, err, sizeof(err)) < 0) {
			blk_close(&be);
			return bad(ans, 400, "drives: %s: %s", id, err);
		}
		snprintf(d->path, sizeof(d->path), "%s", path);
		log_info("drive %s now uses %s", id, path);
	}
	json_t *fails = json_object_get(json_object_get(a->mstate.counts, mgroup), "update_fails");
	json_integer_set(fails, json_integer_value(fails) - 1);
	drive_patch_limits(a, i, &rl, ans);
}

static void do_action(struct api *a, const json_t *body, struct answer *ans)
{
	enum api_action act;
	char err[ERRLEN];
	if (api_parse_action(body, &act, err, sizeof(err)) < 0)
		return bad(ans, 400, "%s", err);
	switch (act) {
	case API_ACTION_START:
		do_start(a, ans);
		return;
	case API_ACTION_FLUSH_METRICS:
		if (a->metrics_fd < 0)
			return bad(ans, 400, "FlushMetrics: metrics are not configured (PUT /metrics first)");
		if (metrics_flush_locked(a) < 0)
			return bad(ans, 400, "FlushMetrics: cannot write the metrics: %s", strerror(errno));
		ans->status = 204;
		return;
	case API_ACTION_CTRL_ALT_DEL: {
		/* Set-1 scancodes (the controller translates): Ctrl, Alt, Del down, then up. */
		static const uint8_t seq[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
		if (a->state != API_RUNNING || !a->view_valid)
			return bad(ans, 400, "SendCtrlAltDel: the microVM is not running");
		if (i8042_send_keys(&a->view.machine->kbc, seq, sizeof(seq)) < 0)
			return bad(ans, 400, "SendCtrlAltDel: the keyboard buffer is full (the guest "
					     "reads no keys)");
		ans->status = 204;
		return;
	}
	}
}

static void do_logger(struct api *a, const json_t *body, struct answer *ans)
{
	struct api_logger_cfg l;
	char err[ERRLEN];
	if (api_parse_logger(body, &l, err, sizeof(err)) < 0 || apply_logger(&l, err, sizeof(err)) < 0)
		return bad(ans, 400, "%s", err);
	a->ac.logger = l;
	ans->status = 204;
}

static void do_metrics(struct api *a, const json_t *body, struct answer *ans)
{
	struct api_metrics_cfg m;
	char err[ERRLEN];
	if (a->metrics_fd >= 0)
		return bad(ans, 400, "metrics: the metrics system is already initialized");
	if (api_parse_metrics(body, &m, err, sizeof(err)) < 0)
		return bad(ans, 400, "%s", err);
	api_metrics_cfg_release(&a->ac.metrics);
	a->ac.metrics = m;
	if (apply_metrics(a, err, sizeof(err)) < 0) {
		api_metrics_cfg_release(&a->ac.metrics);
		a->ac.metrics.set = false;
		return bad(ans, 400, "%s", err);
	}
	ans->status = 204;
}

/* Firecracker endpoints mote does not implement, answered 400 with their name. */
static const struct {
	const char *prefix, *name;
} unsupported[] = {
	{"/mmds", "MMDS"},
	{"/cpu-config", "CPU templates (cpu-config)"},
	{"/pmem", "pmem devices"}, {"/hotplug", "memory hotplug"}, {"/serial", "serial output redirection"},
};

/* PUT /snapshot/create: the vCPUs are parked (Paused), this thread reads the VM and writes
 * the files (docs/snapshot.md). */
static void do_snapshot_create(struct api *a, const json_t *body, struct answer *ans)
{
	struct api_snapshot_create c;
	char err[ERRLEN];
	if (api_parse_snapshot_create(body, &c, err, sizeof(err)) < 0)
		return bad(ans, 400, "%s", err);
	if (a->state != API_PAUSED || !a->view_valid || !a->view.snap)
		return bad(ans, 400, "snapshot/create: the microVM must be paused first (PATCH /vm "
			   "{\"state\": \"Paused\"}); it is %s", state_name(a->state));
	if (snapshot_create_type(a->view.snap, c.state, c.mem,
				 (const char (*)[SNAP_ID_MAX + 1])a->ac.net_id, c.diff, err,
				 sizeof(err)) < 0)
		return bad(ans, 400, "snapshot/create: %s", err);
	ans->status = 204;
}

/* PUT /snapshot/load on a fresh process: the files are checked here (a bad snapshot is a 400
 * and the process stays fresh), then main.c builds the VM from them as InstanceStart would. */
static void do_snapshot_load(struct api *a, const json_t *body, struct answer *ans)
{
	static struct api_snapshot_load l; /* large; this thread only */
	static struct snap_image img;
	char err[ERRLEN];
	int status;
	if (a->state != API_NOT_STARTED)
		return bad(ans, 400, "snapshot/load: only a fresh mote process loads a snapshot; this "
			   "microVM is %s", a->state == API_ENDED ? "stopped" : "already started");
	if (a->ac.boot_source_set || a->ac.cfg.ndisks || a->ac.cfg.nnets || a->ac.cfg.rng ||
	    a->ac.cfg.vsock.enabled)
		return bad(ans, 400, "snapshot/load: the snapshot brings its own machine; configure "
			   "nothing but the logger and metrics before loading it");
	if (api_parse_snapshot_load(body, &l, err, sizeof(err)) < 0)
		return bad(ans, 400, "%s", err);
	int r = snapshot_open(&img, l.state, l.mem, l.ov, l.nov, NULL, &status, err, sizeof(err));
	snapshot_close(&img);
	if (r < 0)
		return bad(ans, 400, "snapshot/load: %s", err);
	a->ac.cfg.cpus = img.cfg.cpus; /* GET /machine-config tells the restored machine */
	a->ac.cfg.mem_size = img.cfg.mem_size;
	snprintf(a->load_state, sizeof(a->load_state), "%s", l.state);
	snprintf(a->load_mem, sizeof(a->load_mem), "%s", l.mem);
	for (unsigned i = 0; i < l.nov; i++)
		snprintf(a->load_override[i], sizeof(a->load_override[i]), "%s=%s", l.ov[i].iface,
			 l.ov[i].tap);
	a->nload_override = l.nov;
	a->load_paused = !l.resume;
	a->ac.cfg.track_dirty = l.track; /* Diff snapshots of the restored VM */
	a->load_requested = true;
	a->state = API_STARTING;
	a->start_result = 0;
	a->start_in_flight = true;
	a->start_by_api = true;
	event_signal(a->start_efd);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += API_START_TIMEOUT_S;
	r = 0;
	while (a->start_result == 0 && !a->quit && r == 0)
		r = pthread_cond_timedwait(&a->cond, &a->lock, &dl);
	if (a->start_result > 0)
		ans->status = 204;
	else if (a->start_result < 0)
		bad(ans, 400, "snapshot/load failed: %s", a->start_err[0] ? a->start_err : "see the log");
	else
		bad(ans, 500, "snapshot/load: the restore did not finish within %d s", API_START_TIMEOUT_S);
}

/* "/drives/ID" -> ID when url starts with prefix and the rest is a valid id. */
static const char *path_id(const char *url, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(url, prefix, n) != 0 || !api_id_valid(url + n))
		return NULL;
	return url + n;
}

/* Requests that need no body. */
static bool route_get(struct api *a, const char *url, struct answer *ans)
{
	if (!strcmp(url, "/")) {
		ans->body = json_pack("{s:s, s:s, s:s, s:s}", "app_name", "mote", "id",
				      a->instance_id ? a->instance_id : "anonymous-instance", "state",
				      state_name(a->state), "vmm_version", MOTE_VERSION);
	} else if (!strcmp(url, "/version")) {
		ans->body = json_pack("{s:s}", "firecracker_version", MOTE_VERSION);
	} else if (!strcmp(url, "/machine-config")) {
		ans->body = api_machine_json(&a->ac);
	} else if (!strcmp(url, "/vm/config")) {
		ans->body = api_vm_config_json(&a->ac);
	} else {
		return false;
	}
	ans->status = ans->body ? 200 : 500;
	if (!ans->body)
		bad(ans, 500, "out of memory");
	return true;
}

/* Files named in the configuration must be there now (as Firecracker checks them on PUT), so a
 * typo is a 400 on that call instead of a failed boot. ac is the configuration just staged. */
static int check_files(const struct api_config *ac, char *err, size_t errlen)
{
	if (ac->boot_source_set && access(ac->kernel, R_OK) < 0)
		return err_set(err, errlen, "boot-source: kernel_image_path %s: %s", ac->kernel, strerror(errno));
	if (ac->initrd[0] && access(ac->initrd, R_OK) < 0)
		return err_set(err, errlen, "boot-source: initrd_path %s: %s", ac->initrd, strerror(errno));
	for (unsigned i = 0; i < ac->cfg.ndisks; i++) {
		const struct disk_config *d = &ac->cfg.disks[i];
		if (access(d->path, d->read_only ? R_OK : R_OK | W_OK) < 0)
			return err_set(err, errlen, "drives: path_on_host %s: %s", d->path, strerror(errno));
	}
	if (ac->cfg.vsock.enabled) { /* the socket is made at the boot: its place must be there */
		struct stat st;
		char dir[CONFIG_VSOCK_PATH_MAX + 1];
		snprintf(dir, sizeof(dir), "%s", ac->cfg.vsock.uds);
		char *slash = strrchr(dir, '/');
		if (slash)
			*(slash == dir ? slash + 1 : slash) = '\0';
		if (lstat(ac->cfg.vsock.uds, &st) == 0 && !S_ISSOCK(st.st_mode))
			return err_set(err, errlen, "vsock: uds_path %s exists and is not a socket",
				       ac->cfg.vsock.uds);
		if (access(slash ? dir : ".", W_OK) < 0)
			return err_set(err, errlen, "vsock: uds_path %s: directory %s: %s", ac->cfg.vsock.uds,
				       slash ? dir : ".", strerror(errno));
	}
	return 0;
}

static void route(struct api *a, const char *method, const char *url, const json_t *body,
		  struct answer *ans)
{
	static struct api_config saved; /* large; only this (single) API thread uses it */
	char err[ERRLEN];
	const char *id;
	bool put = !strcmp(method, "PUT"), patch = !strcmp(method, "PATCH");
	int r = 1; /* 1: not matched; 0 ok; -1 err */

	if (put && !strcmp(url, "/boot-source")) {
		if (!pre_boot(a, ans, "PUT /boot-source"))
			return;
		saved = a->ac;
		r = api_put_boot_source(&a->ac, body, err, sizeof(err));
		if (r == 0 && (r = check_files(&a->ac, err, sizeof(err))) < 0)
			a->ac = saved;
	} else if ((put || patch) && !strcmp(url, "/machine-config")) {
		if (pre_boot(a, ans, "changing machine-config"))
			r = api_put_machine_config(&a->ac, body, patch, err, sizeof(err));
		else
			return;
	} else if (put && (id = path_id(url, "/drives/"))) {
		if (!pre_boot(a, ans, "PUT /drives"))
			return;
		saved = a->ac;
		r = api_put_drive(&a->ac, id, body, err, sizeof(err));
		if (r == 0 && (r = check_files(&a->ac, err, sizeof(err))) < 0)
			a->ac = saved;
	} else if (patch && (id = path_id(url, "/drives/"))) {
		return do_drive_patch(a, id, body, ans);
	} else if (put && (id = path_id(url, "/network-interfaces/"))) {
		if (pre_boot(a, ans, "PUT /network-interfaces"))
			r = api_put_net(&a->ac, id, body, err, sizeof(err));
		else
			return;
	} else if (patch && (id = path_id(url, "/network-interfaces/"))) {
		return do_net_patch(a, id, body, ans);
	} else if (put && !strcmp(url, "/entropy")) {
		if (pre_boot(a, ans, "PUT /entropy"))
			r = api_put_entropy(&a->ac, body, err, sizeof(err));
		else
			return;
	} else if (put && !strcmp(url, "/vsock")) {
		if (!pre_boot(a, ans, "PUT /vsock"))
			return;
		saved = a->ac;
		r = api_put_vsock(&a->ac, body, err, sizeof(err));
		if (r == 0 && (r = check_files(&a->ac, err, sizeof(err))) < 0)
			a->ac = saved;
	} else if (put && !strcmp(url, "/actions")) {
		return do_action(a, body, ans);
	} else if (patch && !strcmp(url, "/vm")) {
		return do_vm_state(a, body, ans);
	} else if (put && !strcmp(url, "/logger")) {
		return do_logger(a, body, ans);
	} else if (put && !strcmp(url, "/metrics")) {
		return do_metrics(a, body, ans);
	} else if (put && !strcmp(url, "/snapshot/create")) {
		return do_snapshot_create(a, body, ans);
	} else if (put && !strcmp(url, "/snapshot/load")) {
		return do_snapshot_load(a, body, ans);
	}
	if (r == 1)
		return bad(ans, 400, "invalid request method and/or path: %s %.200s", method, url);
	if (r < 0)
		return bad(ans, 400, "%s", err);
	ans->status = 204;
}

static bool known_body_route(const char *method, const char *url)
{
	bool put = !strcmp(method, "PUT"), patch = !strcmp(method, "PATCH");
	return (put && (!strcmp(url, "/boot-source") || !strcmp(url, "/entropy") || !strcmp(url, "/vsock") ||
			!strcmp(url, "/actions") || !strcmp(url, "/logger") || !strcmp(url, "/metrics") ||
			!strncmp(url, "/drives/", 8) || !strncmp(url, "/network-interfaces/", 20) ||
			!strcmp(url, "/snapshot/create") || !strcmp(url, "/snapshot/load"))) ||
	       ((put || patch) && !strcmp(url, "/machine-config")) ||
	       (patch && (!strcmp(url, "/vm") || !strncmp(url, "/drives/", 8) ||
			  !strncmp(url, "/network-interfaces/", 20)));
}

/* /balloon and below (api_balloon.c): GET without a body, PUT and PATCH with one. */
static void do_balloon(struct api *a, const char *method, const char *url,
		       const struct api_req *q, struct answer *ans)
{
	char err[ERRLEN] = "";
	json_t *body = NULL, *out = NULL;
	if (!strcmp(method, "PUT") || !strcmp(method, "PATCH")) {
		if (q->too_big)
			return bad(ans, 400, "request body is larger than the limit of %d bytes", API_BODY_MAX);
		if (!(body = api_body_parse(q->buf ? q->buf : "", q->len, err, sizeof(err))))
			return bad(ans, 400, "%s", err);
	}
	struct virtio_balloon *dev = a->view_valid ? a->view.balloon : NULL;
	unsigned st = api_balloon_request(&a->ac, dev, a->state != API_NOT_STARTED, method, url, body,
					  &out, err, sizeof(err));
	json_decref(body);
	if (st >= 400)
		return bad(ans, st, "%s", err);
	ans->status = st;
	ans->body = out;
}

static void handle(struct api *a, const char *method, const char *url, const struct api_req *q,
		   struct answer *ans)
{
	if (api_balloon_url(url))
		return do_balloon(a, method, url, q, ans);
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		size_t n = strlen(unsupported[i].prefix);
		if (!strncmp(url, unsupported[i].prefix, n) && (url[n] == '\0' || url[n] == '/'))
			return bad(ans, 400, "%s (%s) is not supported by mote", unsupported[i].prefix,
				   unsupported[i].name);
	}
	if (!strcmp(method, "GET")) {
		if (!route_get(a, url, ans))
			bad(ans, 400, "invalid request method and/or path: GET %.200s", url);
		return;
	}
	if (!known_body_route(method, url))
		return bad(ans, 400, "invalid request method and/or path: %.16s %.200s", method, url);
	if (q->too_big)
		return bad(ans, 400, "request body is larger than the limit of %d bytes", API_BODY_MAX);
	char err[ERRLEN];
	json_t *body = api_body_parse(q->buf ? q->buf : "", q->len, err, sizeof(err));
	if (!body)
		return bad(ans, 400, "%s", err);
	route(a, method, url, body, ans);
	json_decref(body);
}

/* ---- libmicrohttpd callbacks (API thread) ----------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct api *a = cls;
	struct api_req *q = *con_cls;
	(void)version;
	log_set_thread("api"); /* libmicrohttpd's thread, in the logger's lines */
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*con_cls = q;
		/* A body over the cap is read and dropped, so the client gets its 400 (answering
		 * before reading would reset the connection under the client's feet); one announced
		 * over API_DISCARD_MAX is answered at once and the connection closed. */
		const char *cl = mhd.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > API_DISCARD_MAX)
			q->too_big = true;
		else
			return MHD_YES;
	}
	if (*upload_size && !q->too_big) {
		size_t n = *upload_size;
		if (q->len + n > API_BODY_MAX) {
			q->too_big = true;
			free(q->buf);
			q->buf = NULL;
			q->len = 0;
		} else {
			char *nb = realloc(q->buf, q->len + n + 1);
			if (!nb)
				return MHD_NO;
			memcpy(nb + q->len, upload, n);
			q->buf = nb;
			q->len += n;
			q->buf[q->len] = '\0';
		}
	}
	q->seen += *upload_size;
	if (*upload_size && q->seen <= API_DISCARD_MAX) { /* more body to come (kept or dropped) */
		*upload_size = 0;
		return MHD_YES;
	}
	*upload_size = 0;
	struct answer ans = {.status = 500};
	pthread_mutex_lock(&a->lock);
	handle(a, method, url, q, &ans);
	if (ans.status >= 400 && !ans.body)
		ans.body = json_pack("{s:s}", "fault_message", ans.fault);
	a->requests++;
	api_metrics_count_request(&a->mstate, method, url, ans.status >= 400);
	if (ans.status >= 400) {
		a->errors++;
		log_debug("API %s %.200s: %u %s", method, url, ans.status, ans.fault);
	}
	q->is_start = a->start_in_flight;
	a->start_in_flight = false;
	pthread_mutex_unlock(&a->lock);
	return reply(c, ans.status, ans.body);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api *a = cls;
	struct api_req *q = *con_cls;
	(void)c;
	(void)toe;
	if (!q)
		return;
	if (q->is_start) {
		pthread_mutex_lock(&a->lock);
		a->start_delivered = true;
		pthread_cond_broadcast(&a->cond);
		pthread_mutex_unlock(&a->lock);
	}
	free(q->buf);
	free(q);
	*con_cls = NULL;
}

/* ---- lifecycle (main thread) ------------------------------------------------------------ */

/* The HTTP thread: libmicrohttpd without a thread of its own (see mhd above) waits in its own
 * loop (MHD_run_wait: epoll, timeouts of idle connections, the listening socket taken out of the
 * set at the connection limit and put back) until api_destroy sets http_quit and interrupts the
 * wait with HTTP_WAKE_SIGNAL, whose handler does nothing. */
#define HTTP_WAKE_SIGNAL (SIGRTMIN + 2)

static void on_http_wake(int sig)
{
	(void)sig;
}

static void *http_thread(void *arg)
{
	struct api *a = arg;

	while (!atomic_load(&a->http_quit))
		if (mhd.run_wait(a->mhd, -1) != MHD_YES)
			break;
	return NULL;
}

int api_init(struct api *a, const struct vm_config *cli, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	clock_gettime(CLOCK_MONOTONIC, &a->t0);
	a->listen_fd = a->sig_fd = a->start_efd = a->metrics_fd = -1;
	a->sock_path = cli->api_sock;
	a->instance_id = cli->instance_id;
	log_set_instance_id(a->instance_id);
	api_metrics_state_init(&a->mstate);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	api_config_init(&a->ac, cli);

	a->sig_fd = stop_signal_fd();
	a->start_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->sig_fd < 0 || a->start_efd < 0)
		return err_set(err, errlen, "cannot create event descriptors: %s", strerror(errno));

	if (cli->config_file) {
		char *text = NULL;
		size_t len = 0;
		FILE *f = fopen(cli->config_file, "re");
		if (!f)
			return err_set(err, errlen, "--config-file %s: %s", cli->config_file, strerror(errno));
		text = malloc(API_BODY_MAX + 1);
		if (text)
			len = fread(text, 1, API_BODY_MAX + 1, f);
		fclose(f);
		char e2[ERRLEN];
		int r = text ? api_config_file(&a->ac, text, len, e2, sizeof(e2)) : err_set(e2, sizeof(e2), "out of memory");
		free(text);
		if (r < 0 || api_config_check(&a->ac, e2, sizeof(e2)) < 0)
			return err_set(err, errlen, "--config-file %s: %s", cli->config_file, e2);
		if (a->ac.logger.set && apply_logger(&a->ac.logger, err, errlen) < 0)
			return -1;
		if (a->ac.metrics.set && apply_metrics(a, err, errlen) < 0)
			return -1;
		a->state = API_STARTING;
	}
	/* The metrics thread blocks SANDBOX_SIGNAL: only the HTTP thread answers the probe below. */
	sigset_t sbx, old;
	sigemptyset(&sbx);
	sigaddset(&sbx, SANDBOX_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &sbx, &old);
	int mt = pthread_create(&a->metrics_thread, NULL, metrics_thread, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (mt != 0)
		return err_set(err, errlen, "cannot start the metrics thread");
	a->metrics_thread_started = true;
	if (!a->sock_path)
		return 0;
	if (api_sock_create(a->sock_path, &a->listen_fd, &a->sock_created, API_MAX_CONNECTIONS, err,
			    errlen) < 0)
		return -1;
	if (mhd_load(err, errlen) < 0)
		return -1;
	/* What the first request would otherwise do after the boot, under the sandbox (with
	 * --config-file the first request comes after it): seed jansson's hash (/dev/urandom) and
	 * load the time zone (/etc/localtime, for the Date header). */
	json_object_seed(0);
	tzset();
	a->mhd = mhd.start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, on_request, a,
				  MHD_OPTION_LISTEN_SOCKET, a->listen_fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_MAX_CONNECTIONS,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_TIMEOUT_S,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
				  MHD_OPTION_END);
	if (!a->mhd)
		return err_set(err, errlen, "--api-sock %s: cannot start the HTTP server", a->sock_path);
	struct sigaction sa = {.sa_handler = on_http_wake}; /* no SA_RESTART: the wait returns */
	sigemptyset(&sa.sa_mask);
	if (sigaction(HTTP_WAKE_SIGNAL, &sa, NULL) < 0 ||
	    pthread_create(&a->http_thread, NULL, http_thread, a) != 0)
		return err_set(err, errlen, "--api-sock %s: cannot start the HTTP thread", a->sock_path);
	a->http_thread_started = true;
	if (sandbox_enabled() && (a->http_tid = sandbox_probe_thread()) <= 0)
		return err_set(err, errlen, "--api-sock %s: cannot find the HTTP server's thread for "
			       "its seccomp list", a->sock_path);
	log_info("API listening on %s", a->sock_path);
	return 0;
}

int api_wait_start(struct api *a, struct vm_config *out)
{
	for (;;) {
		pthread_mutex_lock(&a->lock);
		if (a->state == API_STARTING) {
			api_config_export(&a->ac, out);
			if (a->load_requested) { /* PUT /snapshot/load */
				out->restore_state = a->load_state;
				out->restore_mem = a->load_mem;
				out->restore_paused = a->load_paused;
				for (unsigned i = 0; i < a->nload_override; i++)
					out->net_overrides[i] = a->load_override[i];
				out->nnet_overrides = a->nload_override;
			}
			pthread_mutex_unlock(&a->lock);
			return 0;
		}
		pthread_mutex_unlock(&a->lock);
		struct pollfd p[2] = {{.fd = a->sig_fd, .events = POLLIN}, {.fd = a->start_efd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return -1;
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(a->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				log_info("stopped by signal %s before the boot", strsignal((int)si.ssi_signo));
				return -1;
			}
		}
		if (p[1].revents & POLLIN) {
			uint64_t v;
			if (read(a->start_efd, &v, sizeof(v)) < 0) {
				/* nothing to drain: the state check above decides */
			}
		}
	}
}

void api_restore_started(struct api *a)
{
	pthread_mutex_lock(&a->lock);
	a->state = API_STARTING;
	pthread_mutex_unlock(&a->lock);
}

void api_vm_running(struct api *a, const struct api_vm_view *v)
{
	pthread_mutex_lock(&a->lock);
	a->view = *v;
	a->view_valid = true;
	api_metrics_started(&a->mstate, &a->t0);
	a->state = v->paused ? API_PAUSED : API_RUNNING;
	a->start_result = 1;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

void api_vm_ended(struct api *a, int status)
{
	pthread_mutex_lock(&a->lock);
	bool was_starting = a->state == API_STARTING;
	a->state = API_ENDED;
	if (a->metrics_fd >= 0)
		metrics_flush_locked(a); /* the last line, with the final counters */
	a->view_valid = false;
	memset(&a->view, 0, sizeof(a->view));
	if (a->start_result == 0 && was_starting) {
		a->start_result = -1;
		log_last_error(a->start_err, sizeof(a->start_err));
		if (!a->start_err[0])
			snprintf(a->start_err, sizeof(a->start_err), "the boot failed with status %d", status);
	}
	pthread_cond_broadcast(&a->cond);
	/* A failed InstanceStart: let its 400 reach the client before the server stops. */
	if (a->start_result < 0 && a->start_by_api && a->mhd) {
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 2;
		int r = 0;
		while (!a->start_delivered && r == 0)
			r = pthread_cond_timedwait(&a->cond, &a->lock, &dl);
	}
	pthread_mutex_unlock(&a->lock);
}

void api_destroy(struct api *a)
{
	pthread_mutex_lock(&a->lock);
	a->quit = true; /* the metrics thread and a waiting InstanceStart return */
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	if (a->metrics_thread_started) {
		pthread_join(a->metrics_thread, NULL);
		a->metrics_thread_started = false;
	}
	if (a->http_thread_started) {
		/* Again every 10 ms: a signal just before the thread enters its wait is lost. */
		atomic_store(&a->http_quit, true);
		int r;
		do {
			struct timespec dl;
			pthread_kill(a->http_thread, HTTP_WAKE_SIGNAL);
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_nsec += 10 * 1000 * 1000;
			if (dl.tv_nsec >= 1000000000L) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000L;
			}
			r = pthread_timedjoin_np(a->http_thread, NULL, &dl);
		} while (r == ETIMEDOUT);
		a->http_thread_started = false;
	}
	if (a->mhd) {
		mhd.stop_daemon(a->mhd); /* closes the listening socket too */
		a->mhd = NULL;
		a->listen_fd = -1;
	}
	if (a->listen_fd >= 0)
		close(a->listen_fd);
	a->listen_fd = -1;
	if (a->sock_created && unlink(a->sock_path) < 0 && errno != ENOENT)
		log_warn("cannot remove the API socket %s: %s", a->sock_path, strerror(errno));
	a->sock_created = false;
	if (a->metrics_fd >= 0)
		close(a->metrics_fd);
	a->metrics_fd = -1;
	if (a->sig_fd >= 0)
		close(a->sig_fd);
	if (a->start_efd >= 0)
		close(a->start_efd);
	a->sig_fd = a->start_efd = -1;
	api_config_release(&a->ac);
	api_metrics_state_release(&a->mstate);
}
