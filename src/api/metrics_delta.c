/* Cumulative counters -> per-interval values (metrics_delta.h). */
#include "api/metrics_delta.h"

#include <stdbool.h>
#include <string.h>

void metrics_delta_init(struct metrics_delta *m) { m->prev = NULL; }

void metrics_delta_release(struct metrics_delta *m)
{
	json_decref(m->prev);
	m->prev = NULL;
}

static bool is_gauge(const char *key, const char *const *gauges)
{
	for (const char *const *g = gauges; g && *g; g++)
		if (!strcmp(key, *g))
			return true;
	return false;
}

/* cur's counters become deltas against prev; next (a fresh object) gets cur's cumulative
 * values. -1 when memory ran out. */
static int delta_obj(json_t *cur, const json_t *prev, json_t *next, const char *const *gauges)
{
	const char *key;
	json_t *v;
	json_object_foreach(cur, key, v) {
		const json_t *p = prev ? json_object_get(prev, key) : NULL;
		if (json_is_object(v)) {
			json_t *sub = json_object();
			if (!sub || json_object_set_new(next, key, sub) < 0 ||
			    delta_obj(v, json_is_object(p) ? p : NULL, sub, gauges) < 0)
				return -1;
		} else if (json_is_integer(v) && !is_gauge(key, gauges)) {
			json_int_t now = json_integer_value(v);
			json_int_t before = json_is_integer(p) ? json_integer_value(p) : 0;
			if (json_object_set_new(next, key, json_integer(now)) < 0)
				return -1;
			json_integer_set(v, now >= before ? now - before : now);
		}
	}
	return 0;
}

int metrics_delta_apply(struct metrics_delta *m, json_t *cur, const char *const *gauges)
{
	json_t *next = json_object();
	if (!next || !json_is_object(cur) || delta_obj(cur, m->prev, next, gauges) < 0) {
		json_decref(next);
		return -1;
	}
	json_decref(m->prev);
	m->prev = next;
	return 0;
}
