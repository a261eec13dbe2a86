/* The jail's cgroup: <hierarchy>/<parent-cgroup>/<id> in cgroup v2 (one unified hierarchy) or
 * in each cgroup v1 hierarchy that holds a controller the --cgroup files name, with those files
 * written, the VMM's process placed in it, and removed again on failure.
 * Pure parts (the mount table, the choice of hierarchies) are unit-tested and fuzzed; the rest
 * writes only below the hierarchies' mount points. */
#ifndef MOTE_JAIL_CGROUP_H
#define MOTE_JAIL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jail/jail.h"

#define JAIL_CG_MAX_MOUNTS 32
#define JAIL_CG_MAX_DIRS 8      /* v1 hierarchies one jail uses */

struct jail_cg_mount {
	char path[JAIL_PATH_MAX];
	int version;         /* 1 or 2 */
	char options[256];   /* v1: the mount options ("rw,relatime,memory"): its controllers */
	char available[256]; /* v2: the root's cgroup.controllers, filled by jail_cg_probe */
};

struct jail_cg_mounts {
	struct jail_cg_mount m[JAIL_CG_MAX_MOUNTS];
	size_t n;
};

struct jail_cg_dir {
	char mount[JAIL_PATH_MAX];
	char path[JAIL_PATH_MAX];     /* mount/parent/id */
	char controllers[256];        /* the jail's controllers in this hierarchy, "memory pids" */
	size_t ncreated;              /* levels this jail made: from the deepest one up */
	size_t deepest;               /* strlen of the deepest level made (a prefix of path) */
};

struct jail_cgroup {
	int version;                  /* 0: no cgroup (no --cgroup given) */
	struct jail_cg_dir dir[JAIL_CG_MAX_DIRS];
	size_t ndirs;
	bool memory_limited;          /* memory_limit is the jail's effective memory limit */
	uint64_t memory_limit;        /* bytes: the lowest limit from the jail's cgroup upwards */
};

/* The cgroup mounts in a mount table (/proc/self/mounts text, escapes decoded). Pure. */
void jail_cg_parse_mounts(const char *text, size_t len, struct jail_cg_mounts *out);

/* Reads /proc/self/mounts and each v2 root's cgroup.controllers. 0, or -1 with a reason. */
int jail_cg_probe(struct jail_cg_mounts *out, char *err, size_t errlen);

/* Which version and hierarchies, and the paths. Pure. 0, or -1 (JAIL_EXIT_HOST) with a reason. */
int jail_cg_plan(const struct jail_config *cfg, const struct jail_cg_mounts *mounts,
		 struct jail_cgroup *cg, char *err, size_t errlen);

/* Creates the cgroup(s) and writes the --cgroup values; on failure removes what it made.
 * Returns 0 or a jail_status (USAGE: unknown file or refused value; EXISTS; HOST; STEP). */
int jail_cg_create(struct jail_cgroup *cg, const struct jail_config *cfg, char *err, size_t errlen);

/* Moves the calling process into the jail's cgroup(s). 0, or -1 with a reason. */
int jail_cg_join(const struct jail_cgroup *cg, char *err, size_t errlen);

/* Removes what jail_cg_create made (the cgroups must be empty). 0, or -1 naming what stayed. */
int jail_cg_remove(struct jail_cgroup *cg, char *err, size_t errlen);

#endif
