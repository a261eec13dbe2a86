/* The jail's directory on the host: <base>/<exec-name>/<id>/root with the exec file (hard link,
 * or a copy across file systems), an empty placeholder for every --bind and an empty directory
 * for each of the libraries' directories (enter.c fills them on a tmpfs); and its
 * removal when a later step fails. Runs as root in the jailer, before any namespace changes. */
#ifndef MOTE_JAIL_BUILD_H
#define MOTE_JAIL_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "jail/jail.h"
#include "jail/plan.h"

/* What jail_build made, so that jail_unbuild removes exactly that. */
struct jail_made {
	char base[JAIL_PATH_MAX];      /* the deepest directory of the base made here */
	size_t nbase;                  /* how many levels, from that one up, were made here */
	bool exec_dir;
	bool jail_dir;
};

/* Returns 0 or a jail_status (EXISTS when <id> exists; HOST for an unsafe base; STEP; FILE for
 * a bind source that vanished). On failure it has removed what it made. */
int jail_build(const struct jail_config *cfg, struct jail_plan *plan, struct jail_made *made,
	       char *err, size_t errlen);

/* The directories of path after its first skip bytes (root-owned, 0755), then an empty
 * directory or file at path itself, on which a mount goes. 0, or -1 with errno. */
int jail_make_placeholder(char *path, size_t skip, bool dir);

/* Removes <id> (the whole tree this jail made: never crossing into another file system and never
 * following a link), then <exec-name> and base levels it created if they are empty.
 * 0, or -1 naming what stayed. */
int jail_unbuild(const struct jail_plan *plan, struct jail_made *made, char *err, size_t errlen);

#endif
