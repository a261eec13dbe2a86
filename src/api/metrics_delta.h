/* Per-interval metrics, as Firecracker writes them: each line carries, for every counter, its
 * increase since the previous line; gauges (latest values: a start-up time, connections open
 * now) stay absolute. Owns: the previous line's cumulative values. Pure: JSON in, JSON out;
 * reads no device, no clock. Not thread-safe (the API calls it with a->lock held). */
#ifndef MOTE_API_METRICS_DELTA_H
#define MOTE_API_METRICS_DELTA_H

#include <jansson.h>

struct metrics_delta {
	json_t *prev; /* the last line's cumulative values, same shape as the lines; NULL at first */
};

void metrics_delta_init(struct metrics_delta *m);
void metrics_delta_release(struct metrics_delta *m);

/* Turns cur (a tree of objects of cumulative values) into the line to write: every integer
 * member, at any depth, whose key is not in gauges (a NULL-terminated list of member names,
 * matched at any depth) becomes its increase since the previous call, and the cumulative
 * value is remembered for the next. A counter seen for the first time counts from 0; one
 * that went down (a device re-created) counts from 0 again. Other members (reals, strings,
 * booleans, arrays) stay as they are. 0, or -1 when memory ran out (the next line then
 * carries the increase since the last complete line: nothing is lost). */
int metrics_delta_apply(struct metrics_delta *m, json_t *cur, const char *const *gauges);

#endif
