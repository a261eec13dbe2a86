/* The balloon endpoints of the API (Firecracker's schema): PUT /balloon before the boot,
 * PATCH /balloon and PATCH /balloon/statistics before or after it, GET /balloon and
 * GET /balloon/statistics, and the config file's "balloon" object. Validates every field into
 * a local copy first (a refused request changes nothing); after the boot it talks to the
 * device through its thread-safe calls (virtio_balloon_set_target, ..._set_stats_interval,
 * ..._info). Runs on the API thread with the API's lock held. */
#ifndef MOTE_API_API_BALLOON_H
#define MOTE_API_API_BALLOON_H

#include <jansson.h>
#include <stdbool.h>

#include "api/api_config.h"

struct virtio_balloon;

/* Whether url is one of the balloon's ("/balloon" or below it). */
bool api_balloon_url(const char *url);

/* PUT /balloon {"amount_mib", "deflate_on_oom"[, "stats_polling_interval_s"][,
 * "free_page_reporting"]} into ac->cfg.balloon. 0, or -1 with err set and ac unchanged. */
int api_put_balloon(struct api_config *ac, const json_t *body, char *err, size_t errlen);

/* One request on a balloon URL. started: InstanceStart was accepted (then PUT is refused and
 * dev is the device, NULL when the VM has no balloon or has ended). body: the request's JSON
 * object for PUT and PATCH, NULL for GET. Returns the HTTP status: 200 with *out (a new
 * reference), 204, or 400 with err set. */
unsigned api_balloon_request(struct api_config *ac, struct virtio_balloon *dev, bool started,
			     const char *method, const char *url, const json_t *body, json_t **out,
			     char *err, size_t errlen);

/* At InstanceStart and for the config file: the balloon still fits the machine (machine-config
 * may have changed after PUT /balloon). 0, or -1 with err set. */
int api_balloon_check(const struct api_config *ac, char *err, size_t errlen);

/* GET /balloon's body for GET /vm/config (a new reference), or NULL when there is no balloon. */
json_t *api_balloon_json(const struct api_config *ac);

#endif
