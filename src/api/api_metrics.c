/* The metrics line: one JSON object with cumulative counters since the start (vCPU exits by
 * kind, each virtio device's requests/bytes/errors/notifies/interrupts/guest errors and its
 * own counters (virtio_dev_ops.counters: vsock connections, RSTs, dropped packets), guest
 * errors overall, the API's own requests and errors). Reads only atomics and the API's own
 * fields; runs with a->lock held, so the view of the VM cannot go away meanwhile. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "core/log.h"

static const char *const exit_names[EXIT_UNKNOWN + 1] = {
	[EXIT_IO] = "io", [EXIT_MMIO] = "mmio", [EXIT_HLT] = "hlt", [EXIT_SHUTDOWN] = "shutdown",
	[EXIT_SYSTEM_SHUTDOWN] = "system_shutdown", [EXIT_SYSTEM_RESET] = "system_reset",
	[EXIT_SYSTEM_CRASH] = "system_crash", [EXIT_INTERNAL_ERROR] = "internal_error",
	[EXIT_FAIL_ENTRY] = "fail_entry", [EXIT_INTR] = "intr", [EXIT_UNKNOWN] = "unknown",
};

static json_t *vcpu_json(const struct api_vm_view *v, bool valid)
{
	json_t *o = json_object();
	uint64_t total = 0;
	for (int k = 0; k <= EXIT_UNKNOWN && o; k++) {
		uint64_t n = 0;
		for (unsigned i = 0; valid && i < v->nvcpus; i++)
			n += atomic_load_explicit(&v->vcpus[i].exits_by_kind[k], memory_order_relaxed);
		total += n;
		char key[40];
		snprintf(key, sizeof(key), "exits_%s", exit_names[k]);
		json_object_set_new(o, key, json_integer((json_int_t)n));
	}
	if (o) {
		json_object_set_new(o, "exits_total", json_integer((json_int_t)total));
		json_object_set_new(o, "count", json_integer(valid ? (json_int_t)v->nvcpus : 0));
	}
	return o;
}

static json_t *devices_json(const struct api_vm_view *v, bool valid)
{
	json_t *o = json_object();
	for (size_t i = 0; o && valid && v->machine && i < v->machine->nvirtio; i++) {
		struct virtio_dev *d = v->machine->virtio[i].dev;
#define C(f) (json_int_t)atomic_load_explicit(&d->f, memory_order_relaxed)
		json_t *dj = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "requests", C(requests),
				       "bytes_in", C(bytes_in), "bytes_out", C(bytes_out), "io_errors",
				       C(io_errors), "notifies", C(notifies), "interrupts", C(interrupts),
				       "guest_errors", C(guest_errors));
#undef C
		struct virtio_counter extra[32];
		size_t n = d->ops->counters ? d->ops->counters(d, extra, 32) : 0;
		for (size_t k = 0; dj && k < n && k < 32; k++)
			json_object_set_new(dj, extra[k].name, json_integer((json_int_t)extra[k].value));
		json_object_set_new(o, d->name, dj);
	}
	return o;
}

char *api_metrics_render(struct api *a)
{
	struct timespec now, mono;
	clock_gettime(CLOCK_REALTIME, &now);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	double up = (double)(mono.tv_sec - a->t0.tv_sec) + (double)(mono.tv_nsec - a->t0.tv_nsec) / 1e9;
	const char *state = a->state == API_RUNNING ? "Running"
			  : a->state == API_PAUSED  ? "Paused"
			  : a->state == API_ENDED   ? "Ended" : "Not started";
	json_t *m = json_pack("{s:I, s:f, s:s, s:{s:I, s:I}, s:I, s:I}",
			      "utc_timestamp_ms", (json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
			      "uptime_s", up, "state", state,
			      "api_server", "requests", (json_int_t)a->requests, "errors", (json_int_t)a->errors,
			      "guest_errors", (json_int_t)guest_error_count(),
			      "flushes", (json_int_t)a->metrics_flushes + 1);
	if (!m)
		return NULL;
	if (a->ac.metrics.emit_id)
		json_object_set_new(m, "id", json_string(a->instance_id ? a->instance_id : "anonymous-instance"));
	if (a->ac.metrics.properties)
		json_object_set(m, "properties", a->ac.metrics.properties);
	json_object_set_new(m, "vcpu", vcpu_json(&a->view, a->view_valid));
	json_object_set_new(m, "devices", devices_json(&a->view, a->view_valid));
	char *s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	if (!s)
		return NULL;
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
