/* Unit tests for the per-interval metrics (api/metrics_delta, api/api_metrics): the first
 * line carries the counters as they are, the next ones only their increase; gauges stay
 * absolute at any depth; counters new in a later line or gone down count from 0; reals,
 * strings, booleans and arrays are left alone; the API's request counters land in
 * Firecracker's groups (get/put/patch_api_requests, *_count and *_fails). */
#include <stdlib.h>

#include "api/api_metrics.h"
#include "api/metrics_delta.h"
#include "test.h"

static const char *const gauges[] = {"utc_timestamp_ms", "conns_active", NULL};

static json_int_t at(const json_t *j, const char *a, const char *b)
{
	const json_t *v = b ? json_object_get(json_object_get(j, a), b) : json_object_get(j, a);
	return json_is_integer(v) ? json_integer_value(v) : -999;
}

static json_t *line(const char *text)
{
	json_error_t e;
	return json_loads(text, 0, &e);
}

static void first_line_is_cumulative_then_deltas(void)
{
	struct metrics_delta d;
	metrics_delta_init(&d);
	json_t *l1 = line("{\"utc_timestamp_ms\": 1000, \"block\": {\"read_count\": 8, \"read_bytes\": 4096},"
			  " \"vsock\": {\"conns_active\": 2, \"conns_added\": 3}}");
	CHECK_EQ(metrics_delta_apply(&d, l1, gauges), 0);
	CHECK_EQ(at(l1, "utc_timestamp_ms", NULL), 1000);
	CHECK_EQ(at(l1, "block", "read_count"), 8);
	CHECK_EQ(at(l1, "block", "read_bytes"), 4096);
	CHECK_EQ(at(l1, "vsock", "conns_active"), 2);
	CHECK_EQ(at(l1, "vsock", "conns_added"), 3);

	json_t *l2 = line("{\"utc_timestamp_ms\": 2000, \"block\": {\"read_count\": 8, \"read_bytes\": 4096},"
			  " \"vsock\": {\"conns_active\": 2, \"conns_added\": 5}}");
	CHECK_EQ(metrics_delta_apply(&d, l2, gauges), 0);
	CHECK_EQ(at(l2, "utc_timestamp_ms", NULL), 2000); /* gauge */
	CHECK_EQ(at(l2, "block", "read_count"), 0);       /* nothing since */
	CHECK_EQ(at(l2, "block", "read_bytes"), 0);
	CHECK_EQ(at(l2, "vsock", "conns_active"), 2);     /* gauge at depth */
	CHECK_EQ(at(l2, "vsock", "conns_added"), 2);

	json_t *l3 = line("{\"utc_timestamp_ms\": 3000, \"block\": {\"read_count\": 11, \"read_bytes\": 5632},"
			  " \"vsock\": {\"conns_active\": 0, \"conns_added\": 5}}");
	CHECK_EQ(metrics_delta_apply(&d, l3, gauges), 0);
	CHECK_EQ(at(l3, "block", "read_count"), 3);
	CHECK_EQ(at(l3, "block", "read_bytes"), 1536);
	CHECK_EQ(at(l3, "vsock", "conns_active"), 0);
	CHECK_EQ(at(l3, "vsock", "conns_added"), 0);
	json_decref(l1);
	json_decref(l2);
	json_decref(l3);
	metrics_delta_release(&d);
	metrics_delta_release(&d); /* twice is harmless */
}

static void new_and_reset_counters_count_from_zero(void)
{
	struct metrics_delta d;
	metrics_delta_init(&d);
	json_t *l1 = line("{\"a\": 10, \"g\": {\"x\": 4}}");
	CHECK_EQ(metrics_delta_apply(&d, l1, NULL), 0);
	json_t *l2 = line("{\"a\": 3, \"g\": {\"x\": 6, \"y\": 7}, \"h\": {\"z\": 1}}");
	CHECK_EQ(metrics_delta_apply(&d, l2, NULL), 0);
	CHECK_EQ(at(l2, "a", NULL), 3);     /* went down: a re-created device counts from 0 */
	CHECK_EQ(at(l2, "g", "x"), 2);
	CHECK_EQ(at(l2, "g", "y"), 7);      /* new member */
	CHECK_EQ(at(l2, "h", "z"), 1);      /* new group */
	json_t *l3 = line("{\"a\": 3, \"g\": 5}"); /* a group that became a number */
	CHECK_EQ(metrics_delta_apply(&d, l3, NULL), 0);
	CHECK_EQ(at(l3, "a", NULL), 0);
	CHECK_EQ(at(l3, "g", NULL), 5);
	json_decref(l1);
	json_decref(l2);
	json_decref(l3);
	metrics_delta_release(&d);
}

static void other_types_untouched(void)
{
	struct metrics_delta d;
	metrics_delta_init(&d);
	json_t *l1 = line("{\"uptime_s\": 1.5, \"state\": \"Running\", \"ok\": true, \"arr\": [1, 2],"
			  " \"properties\": {\"k\": \"v\"}, \"n\": null}");
	CHECK_EQ(metrics_delta_apply(&d, l1, NULL), 0);
	json_t *l2 = line("{\"uptime_s\": 2.5, \"state\": \"Paused\", \"ok\": false, \"arr\": [1, 2],"
			  " \"properties\": {\"k\": \"v\"}, \"n\": null}");
	CHECK_EQ(metrics_delta_apply(&d, l2, NULL), 0);
	char *s = json_dumps(l2, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK(s && !strcmp(s, "{\"arr\":[1,2],\"n\":null,\"ok\":false,\"properties\":{\"k\":\"v\"},"
			       "\"state\":\"Paused\",\"uptime_s\":2.5}"));
	free(s);
	json_t *arr = line("[1]");
	CHECK_EQ(metrics_delta_apply(&d, arr, NULL), -1); /* not an object: refused, state kept */
	json_t *l3 = line("{\"x\": 1}");
	CHECK_EQ(metrics_delta_apply(&d, l3, NULL), 0);
	json_decref(l1);
	json_decref(l2);
	json_decref(l3);
	json_decref(arr);
	metrics_delta_release(&d);
}

static void request_counters_in_firecracker_groups(void)
{
	struct api_metrics_state s;
	api_metrics_state_init(&s);
	CHECK_EQ(at(json_object_get(s.counts, "put_api_requests"), "drive_count", NULL), 0);
	CHECK_EQ(at(json_object_get(s.counts, "put_api_requests"), "drive_fails", NULL), 0);
	CHECK_EQ(at(json_object_get(s.counts, "get_api_requests"), "instance_info_count", NULL), 0);
	CHECK(!json_object_get(json_object_get(s.counts, "get_api_requests"), "instance_info_fails"));
	api_metrics_count_request(&s, "GET", "/", false);
	api_metrics_count_request(&s, "GET", "/version", false);
	api_metrics_count_request(&s, "PUT", "/drives/root", false);
	api_metrics_count_request(&s, "PUT", "/drives/data", true);
	api_metrics_count_request(&s, "PATCH", "/drives/root", true);
	api_metrics_count_request(&s, "PUT", "/actions", false);
	api_metrics_count_request(&s, "PATCH", "/vm", false);
	api_metrics_count_request(&s, "PUT", "/nothing", true);  /* no group: not counted */
	api_metrics_count_request(&s, "DELETE", "/", true);
	api_metrics_count_request(&s, "PUT", "/drives", true);    /* not the /drives/ prefix */
	json_t *g = json_object_get(s.counts, "get_api_requests");
	json_t *p = json_object_get(s.counts, "put_api_requests");
	json_t *q = json_object_get(s.counts, "patch_api_requests");
	CHECK_EQ(at(g, "instance_info_count", NULL), 1);
	CHECK_EQ(at(g, "vmm_version_count", NULL), 1);
	CHECK_EQ(at(g, "machine_cfg_count", NULL), 0);
	CHECK_EQ(at(p, "drive_count", NULL), 2);
	CHECK_EQ(at(p, "drive_fails", NULL), 1);
	CHECK_EQ(at(p, "actions_count", NULL), 1);
	CHECK_EQ(at(p, "actions_fails", NULL), 0);
	CHECK_EQ(at(q, "drive_count", NULL), 1);
	CHECK_EQ(at(q, "drive_fails", NULL), 1);
	CHECK_EQ(at(q, "vm_count", NULL), 1);
	api_metrics_count(&s, "block_root", "update_count");
	api_metrics_count(&s, "block_root", "update_count");
	CHECK_EQ(at(json_object_get(s.counts, "block_root"), "update_count", NULL), 2);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t0.tv_sec -= 1;
	api_metrics_started(&s, &t0);
	CHECK(s.started && s.startup_us >= 1000000 && s.startup_us < 10000000 && s.startup_cpu_us > 0);
	api_metrics_state_release(&s);
}

int main(void)
{
	test_suite_name = "metrics_delta";
	RUN(first_line_is_cumulative_then_deltas);
	RUN(new_and_reset_counters_count_from_zero);
	RUN(other_types_untouched);
	RUN(request_counters_in_firecracker_groups);
	TEST_MAIN_END();
}
