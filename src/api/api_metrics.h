/* The metrics' own state inside struct api: the per-interval bookkeeping (metrics_delta), the
 * API's request counters in Firecracker's groups (get/put/patch_api_requests, per-drive
 * update counts) and the start-up times. Everything is guarded by a->lock. */
#ifndef MOTE_API_API_METRICS_H
#define MOTE_API_API_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "api/metrics_delta.h"

struct api_metrics_state {
	struct metrics_delta delta;
	json_t *counts;         /* cumulative: {"put_api_requests": {"actions_count": n, ...},
				   "block_<id>": {"update_count": n, ...}, ...} */
	bool started;           /* the vCPUs ran: the start-up times below are set */
	uint64_t startup_us, startup_cpu_us;
	uint64_t missed_lines;  /* lines not written whole (a full pipe, an error) */
	uint64_t render_fails;  /* lines that could not be built (out of memory) */
};

void api_metrics_state_init(struct api_metrics_state *s);
void api_metrics_state_release(struct api_metrics_state *s);

/* One API request answered: counted in Firecracker's group for its method and path
 * (get_api_requests.instance_info_count, put_api_requests.drive_count/drive_fails, ...). */
void api_metrics_count_request(struct api_metrics_state *s, const char *method, const char *url,
			       bool failed);
/* group.key += 1 (e.g. "block_root", "update_count"); group at most 80 bytes. */
void api_metrics_count(struct api_metrics_state *s, const char *group, const char *key);
/* The vCPUs run: the start-up time since t0 (CLOCK_MONOTONIC) and the process's CPU time. */
void api_metrics_started(struct api_metrics_state *s, const struct timespec *t0);

/* Member names that are gauges (latest values, never turned into deltas). */
extern const char *const api_metrics_gauges[];

#endif
