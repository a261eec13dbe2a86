/* PUT /snapshot/create and PUT /snapshot/load bodies (Firecracker's SnapshotCreateParams and
 * SnapshotLoadParams) -> plain structs. Pure: JSON only, no file, no VM. Unknown fields are
 * refused; Firecracker fields mote lacks (Diff snapshots, dirty page tracking, userfaultfd
 * backends, vsock override, clock_realtime, huge pages) are refused by name with a reason. */
#ifndef MOTE_API_API_SNAPSHOT_H
#define MOTE_API_API_SNAPSHOT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "snapshot/snapshot.h"
#include "vmm/config.h"

struct api_snapshot_create {
	char state[CONFIG_PATH_MAX];
	char mem[CONFIG_PATH_MAX];
	bool diff; /* snapshot_type "Diff" */
};

struct api_snapshot_load {
	char state[CONFIG_PATH_MAX];
	char mem[CONFIG_PATH_MAX];
	bool resume;
	bool track; /* track_dirty_pages (or enable_diff_snapshots) */
	struct snap_net_override ov[CONFIG_MAX_NETS];
	unsigned nov;
};

/* Each returns 0, or -1 with one line in err (answered 400 {"fault_message": err}). */
int api_parse_snapshot_create(const json_t *body, struct api_snapshot_create *out, char *err,
			      size_t errlen);
int api_parse_snapshot_load(const json_t *body, struct api_snapshot_load *out, char *err,
			    size_t errlen);

#endif
