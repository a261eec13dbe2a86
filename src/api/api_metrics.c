/* The metrics line, in Firecracker's groups and names where mote has the same counter
 * (docs/api.md, "Metrics"): api_server, get/put/patch_api_requests, logger, block and
 * block_<drive_id>, net and net_<iface_id>, vsock, entropy, vcpu, seccomp, vmm, uart, signals; then
 * mote's own (uptime, state, every virtio device's counters under "devices"). Built from
 * cumulative values, then turned into per-interval values (metrics_delta): each line carries
 * what happened since the previous one, gauges (api_metrics_gauges) stay absolute. Reads only
 * atomics and the API's own fields; runs with a->lock held, so the view of the VM cannot go
 * away meanwhile. */
#include "api/api_metrics.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "core/log.h"

const char *const api_metrics_gauges[] = {
	"utc_timestamp_ms", "process_startup_time_us", "process_startup_time_cpu_us",
	"num_faults", "vcpu_count", "conns_active", "flushes", NULL,
};

static const char *const exit_names[EXIT_UNKNOWN + 1] = {
	[EXIT_IO] = "io", [EXIT_MMIO] = "mmio", [EXIT_HLT] = "hlt", [EXIT_SHUTDOWN] = "shutdown",
	[EXIT_SYSTEM_SHUTDOWN] = "system_shutdown", [EXIT_SYSTEM_RESET] = "system_reset",
	[EXIT_SYSTEM_CRASH] = "system_crash", [EXIT_INTERNAL_ERROR] = "internal_error",
	[EXIT_FAIL_ENTRY] = "fail_entry", [EXIT_INTR] = "intr", [EXIT_UNKNOWN] = "unknown",
};

/* ---- the API's counters ----------------------------------------------------------------- */

/* Firecracker's request groups: method, path (exact, or a prefix ending in '/'), name. The
 * names after the Firecracker ones are mote's (documented). */
static const struct req_kind {
	const char *method, *path, *name;
} req_kinds[] = {
	{"GET", "/", "instance_info"}, {"GET", "/machine-config", "machine_cfg"},
	{"GET", "/version", "vmm_version"}, {"GET", "/mmds", "mmds"},
	{"GET", "/vm/config", "vm_config"},
	{"PUT", "/actions", "actions"}, {"PUT", "/boot-source", "boot_source"},
	{"PUT", "/drives/", "drive"}, {"PUT", "/logger", "logger"},
	{"PUT", "/machine-config", "machine_cfg"}, {"PUT", "/cpu-config", "cpu_cfg"},
	{"PUT", "/metrics", "metrics"}, {"PUT", "/network-interfaces/", "network"},
	{"PUT", "/mmds", "mmds"}, {"PUT", "/vsock", "vsock"}, {"PUT", "/pmem/", "pmem"},
	{"PUT", "/serial", "serial"}, {"PUT", "/hotplug/memory", "hotplug_memory"},
	{"PUT", "/entropy", "entropy"},
	{"PATCH", "/drives/", "drive"}, {"PATCH", "/network-interfaces/", "network"},
	{"PATCH", "/machine-config", "machine_cfg"}, {"PATCH", "/mmds", "mmds"},
	{"PATCH", "/hotplug/memory", "hotplug_memory"}, {"PATCH", "/vm", "vm"},
};

static const char *group_of(const char *method)
{
	return !strcmp(method, "GET")     ? "get_api_requests"
	       : !strcmp(method, "PUT")   ? "put_api_requests"
	       : !strcmp(method, "PATCH") ? "patch_api_requests" : NULL;
}

void api_metrics_state_init(struct api_metrics_state *s)
{
	memset(s, 0, sizeof(*s));
	metrics_delta_init(&s->delta);
	s->counts = json_object();
	/* Every Firecracker name mote counts is in every line, 0 until it happens. */
	for (size_t i = 0; i < sizeof(req_kinds) / sizeof(req_kinds[0]); i++) {
		char key[64];
		const char *g = group_of(req_kinds[i].method);
		snprintf(key, sizeof(key), "%s_count", req_kinds[i].name);
		api_metrics_count(s, g, key);
		json_integer_set(json_object_get(json_object_get(s->counts, g), key), 0);
		if (strcmp(req_kinds[i].method, "GET") != 0) {
			snprintf(key, sizeof(key), "%s_fails", req_kinds[i].name);
			api_metrics_count(s, g, key);
			json_integer_set(json_object_get(json_object_get(s->counts, g), key), 0);
		}
	}
}

void api_metrics_state_release(struct api_metrics_state *s)
{
	metrics_delta_release(&s->delta);
	json_decref(s->counts);
	s->counts = NULL;
}

void api_metrics_count(struct api_metrics_state *s, const char *group, const char *key)
{
	if (!s->counts || !group)
		return;
	json_t *g = json_object_get(s->counts, group);
	if (!g) {
		g = json_object();
		if (!g || json_object_set_new(s->counts, group, g) < 0)
			return;
	}
	json_t *v = json_object_get(g, key);
	if (v)
		json_integer_set(v, json_integer_value(v) + 1);
	else
		json_object_set_new(g, key, json_integer(1));
}

void api_metrics_count_request(struct api_metrics_state *s, const char *method, const char *url,
			       bool failed)
{
	for (size_t i = 0; i < sizeof(req_kinds) / sizeof(req_kinds[0]); i++) {
		const struct req_kind *k = &req_kinds[i];
		size_t n = strlen(k->path);
		bool prefix = n > 1 && k->path[n - 1] == '/';
		if (strcmp(method, k->method) != 0 ||
		    (prefix ? strncmp(url, k->path, n) != 0 : strcmp(url, k->path) != 0))
			continue;
		char key[64];
		snprintf(key, sizeof(key), "%s_count", k->name);
		api_metrics_count(s, group_of(method), key);
		if (failed && strcmp(method, "GET") != 0) {
			snprintf(key, sizeof(key), "%s_fails", k->name);
			api_metrics_count(s, group_of(method), key);
		}
		return;
	}
}

void api_metrics_started(struct api_metrics_state *s, const struct timespec *t0)
{
	struct timespec now, cpu;
	clock_gettime(CLOCK_MONOTONIC, &now);
	s->startup_us = (uint64_t)((now.tv_sec - t0->tv_sec) * 1000000 +
				   (now.tv_nsec - t0->tv_nsec) / 1000);
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0)
		s->startup_cpu_us = (uint64_t)cpu.tv_sec * 1000000 + (uint64_t)cpu.tv_nsec / 1000;
	s->started = true;
}

/* ---- the groups ------------------------------------------------------------------------- */

#define LOAD(x) (json_int_t)atomic_load_explicit(&(x), memory_order_relaxed)

/* Sets o.key = v (a new integer). */
static void put(json_t *o, const char *key, json_int_t v)
{
	if (o)
		json_object_set_new(o, key, json_integer(v));
}

/* Adds every integer member of src to dst's (the aggregate "block" / "net"). */
static void add_into(json_t *dst, const json_t *src)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)(uintptr_t)src, key, v) {
		if (!json_is_integer(v))
			continue;
		json_t *d = json_object_get(dst, key);
		put(dst, key, (d ? json_integer_value(d) : 0) + json_integer_value(v));
	}
}

/* A device's own counters (virtio_dev_ops.counters) into o, under their names. */
static void own_counters(json_t *o, const struct virtio_dev *d)
{
	struct virtio_counter extra[32];
	size_t n = d->ops->counters ? d->ops->counters(d, extra, 32) : 0;
	for (size_t k = 0; k < n && k < 32; k++)
		put(o, extra[k].name, (json_int_t)extra[k].value);
}

/* o.group (an object, created when missing). */
static json_t *group(json_t *o, const char *name)
{
	json_t *g = json_object_get(o, name);
	if (!g && (g = json_object()) && json_object_set_new(o, name, g) < 0)
		return NULL;
	return g;
}

static void block_json(struct api *a, json_t *m)
{
	json_t *all = group(m, "block");
	for (unsigned i = 0; a->view_valid && i < a->view.nblk; i++) {
		struct virtio_blk *b = &a->view.blk[i];
		char name[API_ID_MAX + 8];
		snprintf(name, sizeof(name), "block_%s", a->ac.drive_id[i]);
		json_t *o = group(m, name);
		json_int_t errors = LOAD(b->errors), io_errors = LOAD(b->dev.io_errors);
		put(o, "read_count", LOAD(b->reads));
		put(o, "write_count", LOAD(b->writes));
		put(o, "read_bytes", LOAD(b->read_bytes));
		put(o, "write_bytes", LOAD(b->written_bytes));
		put(o, "flush_count", LOAD(b->flushes));
		put(o, "queue_event_count", LOAD(b->dev.notifies));
		put(o, "execute_fails", io_errors);
		put(o, "invalid_reqs_count", errors > io_errors ? errors - io_errors : 0);
		put(o, "update_count", 0);
		put(o, "update_fails", 0);
		put(o, "interrupts", LOAD(b->dev.interrupts));
		put(o, "guest_errors", LOAD(b->dev.guest_errors));
		own_counters(o, &b->dev);
		json_t *c = json_object_get(a->mstate.counts, name); /* PATCH /drives swaps */
		const char *key;
		json_t *v;
		json_object_foreach(c, key, v)
			put(o, key, json_integer_value(v));
		if (all && o)
			add_into(all, o);
	}
}

static void net_json(struct api *a, json_t *m)
{
	json_t *all = group(m, "net");
	unsigned n = 0;
	for (size_t i = 0; a->view_valid && a->view.machine && i < a->view.machine->nvirtio; i++) {
		struct virtio_dev *d = a->view.machine->virtio[i].dev;
		if (strcmp(d->ops->kind, "net") != 0)
			continue;
		char name[API_ID_MAX + 8];
		snprintf(name, sizeof(name), "net_%s", n < a->ac.cfg.nnets ? a->ac.net_id[n] : d->name);
		n++;
		json_t *o = group(m, name);
		put(o, "rx_bytes_count", LOAD(d->bytes_in));
		put(o, "tx_bytes_count", LOAD(d->bytes_out));
		put(o, "frames", LOAD(d->requests));
		put(o, "io_errors", LOAD(d->io_errors));
		put(o, "queue_event_count", LOAD(d->notifies));
		put(o, "interrupts", LOAD(d->interrupts));
		put(o, "guest_errors", LOAD(d->guest_errors));
		own_counters(o, d);
		if (all && o)
			add_into(all, o);
	}
}

/* vsock and entropy: one device each at most. */
static void other_devices_json(struct api *a, json_t *m)
{
	for (size_t i = 0; a->view_valid && a->view.machine && i < a->view.machine->nvirtio; i++) {
		struct virtio_dev *d = a->view.machine->virtio[i].dev;
		json_t *o = NULL;
		if (!strcmp(d->ops->kind, "vsock") && (o = group(m, "vsock"))) {
			struct virtio_counter c[32];
			size_t n = d->ops->counters ? d->ops->counters(d, c, 32) : 0;
			json_int_t added = 0;
			own_counters(o, d);
			for (size_t k = 0; k < n && k < 32; k++) {
				if (!strcmp(c[k].name, "tx_packets"))
					put(o, "tx_packets_count", (json_int_t)c[k].value);
				else if (!strcmp(c[k].name, "rx_packets"))
					put(o, "rx_packets_count", (json_int_t)c[k].value);
				else if (!strcmp(c[k].name, "conns_host") || !strcmp(c[k].name, "conns_guest"))
					added += (json_int_t)c[k].value;
				else if (!strcmp(c[k].name, "conns_closed"))
					put(o, "conns_removed", (json_int_t)c[k].value);
			}
			put(o, "conns_added", added);
			put(o, "rx_bytes_count", LOAD(d->bytes_in));
			put(o, "tx_bytes_count", LOAD(d->bytes_out));
			put(o, "queue_event_count", LOAD(d->notifies));
		} else if (!strcmp(d->ops->kind, "rng") && (o = group(m, "entropy"))) {
			put(o, "entropy_event_count", LOAD(d->notifies));
			put(o, "entropy_bytes", LOAD(d->bytes_in));
			put(o, "host_rng_fails", LOAD(d->io_errors));
			own_counters(o, d);
		}
	}
}

static json_t *vcpu_json(const struct api_vm_view *v, bool valid)
{
	json_t *o = json_object();
	json_int_t total = 0, rw[2][2] = {{0}}, failures = 0;
	for (int k = 0; k <= EXIT_UNKNOWN && o; k++) {
		json_int_t n = 0;
		for (unsigned i = 0; valid && i < v->nvcpus; i++)
			n += LOAD(v->vcpus[i].exits_by_kind[k]);
		total += n;
		if (k == EXIT_SHUTDOWN || k == EXIT_SYSTEM_CRASH || k == EXIT_INTERNAL_ERROR ||
		    k == EXIT_FAIL_ENTRY || k == EXIT_UNKNOWN)
			failures += n;
		char key[40];
		snprintf(key, sizeof(key), "exits_%s", exit_names[k]);
		put(o, key, n);
	}
	for (unsigned i = 0; valid && i < v->nvcpus; i++)
		for (int m = 0; m < 2; m++)
			for (int w = 0; w < 2; w++)
				rw[m][w] += LOAD(v->vcpus[i].exits_rw[m][w]);
	put(o, "exit_io_in", rw[0][0]);
	put(o, "exit_io_out", rw[0][1]);
	put(o, "exit_mmio_read", rw[1][0]);
	put(o, "exit_mmio_write", rw[1][1]);
	put(o, "failures", failures);
	put(o, "exits_total", total);
	put(o, "vcpu_count", valid ? (json_int_t)v->nvcpus : 0);
	return o;
}

/* mote's own view: every virtio device by its name, with struct virtio_dev's counters. */
static json_t *devices_json(const struct api_vm_view *v, bool valid)
{
	json_t *o = json_object();
	for (size_t i = 0; o && valid && v->machine && i < v->machine->nvirtio; i++) {
		struct virtio_dev *d = v->machine->virtio[i].dev;
		json_t *dj = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "requests", LOAD(d->requests),
				       "bytes_in", LOAD(d->bytes_in), "bytes_out", LOAD(d->bytes_out),
				       "io_errors", LOAD(d->io_errors), "notifies", LOAD(d->notifies),
				       "interrupts", LOAD(d->interrupts), "guest_errors",
				       LOAD(d->guest_errors));
		own_counters(dj, d);
		json_object_set_new(o, d->name, dj);
	}
	return o;
}

/* The cumulative line (before metrics_delta). */
static json_t *metrics_build(struct api *a)
{
	struct timespec now, mono;
	clock_gettime(CLOCK_REALTIME, &now);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	double up = (double)(mono.tv_sec - a->t0.tv_sec) + (double)(mono.tv_nsec - a->t0.tv_nsec) / 1e9;
	const char *state = a->state == API_RUNNING ? "Running"
			  : a->state == API_PAUSED  ? "Paused"
			  : a->state == API_ENDED   ? "Ended" : "Not started";
	struct api_metrics_state *s = &a->mstate;
	json_t *m = json_pack("{s:I, s:{s:I, s:I, s:I, s:I}}",
			      "utc_timestamp_ms", (json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
			      "api_server", "process_startup_time_us", (json_int_t)s->startup_us,
			      "process_startup_time_cpu_us", (json_int_t)s->startup_cpu_us,
			      "requests", (json_int_t)a->requests, "errors", (json_int_t)a->errors);
	if (!m)
		return NULL;
	if (a->ac.metrics.emit_id)
		json_object_set_new(m, "id", json_string(a->instance_id ? a->instance_id : "anonymous-instance"));
	if (a->ac.metrics.properties)
		json_object_set_new(m, "properties", json_deep_copy(a->ac.metrics.properties));
	const char *key;
	json_t *v;
	json_object_foreach(s->counts, key, v) /* the request groups; block_<id> come below */
		if (strncmp(key, "block_", 6) != 0)
			json_object_set_new(m, key, json_deep_copy(v));
	json_object_set_new(m, "logger", json_pack("{s:I, s:I, s:I}", "missed_metrics_count",
						   (json_int_t)s->missed_lines, "metrics_fails",
						   (json_int_t)s->render_fails, "missed_log_count",
						   (json_int_t)log_missed_count()));
	block_json(a, m);
	net_json(a, m);
	other_devices_json(a, m);
	json_object_set_new(m, "vcpu", vcpu_json(&a->view, a->view_valid));
	/* A seccomp violation ends mote at once (status 10): no line can show one. */
	json_object_set_new(m, "seccomp", json_pack("{s:I}", "num_faults", (json_int_t)0));
	json_object_set_new(m, "vmm", json_pack("{s:I}", "guest_errors", (json_int_t)guest_error_count()));
	if (a->view_valid && a->view.machine) {
		struct uart8250 *u = &a->view.machine->com1;
		json_object_set_new(m, "uart", json_pack("{s:I, s:I}", "read_count", LOAD(u->read_count),
							 "write_count", LOAD(u->write_count)));
	}
	if (a->view_valid && a->view.stop) /* the signals that end the VM (status 12) */
		json_object_set_new(m, "signals", json_pack("{s:I, s:I, s:I}", "sighup",
							    LOAD(a->view.stop->sighup), "sigint",
							    LOAD(a->view.stop->sigint), "sigterm",
							    LOAD(a->view.stop->sigterm)));
	json_object_set_new(m, "uptime_s", json_real(up));
	json_object_set_new(m, "state", json_string(state));
	json_object_set_new(m, "flushes", json_integer((json_int_t)a->metrics_flushes + 1));
	json_object_set_new(m, "guest_errors", json_integer((json_int_t)guest_error_count()));
	json_object_set_new(m, "devices", devices_json(&a->view, a->view_valid));
	return m;
}

char *api_metrics_render(struct api *a)
{
	json_t *m = metrics_build(a);
	if (!m || metrics_delta_apply(&a->mstate.delta, m, api_metrics_gauges) < 0) {
		json_decref(m);
		a->mstate.render_fails++;
		return NULL;
	}
	char *s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	if (!s) {
		a->mstate.render_fails++;
		return NULL;
	}
	/* Room for the newline the writer appends. */
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	if (!t) {
		free(s);
		return NULL;
	}
	t[n + 1] = '\0';
	return t;
}
