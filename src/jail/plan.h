/* The step plan: everything the jail will hold and do, computed from the configuration and a
 * few host facts before anything is created, so that every conflict is refused up front and the
 * steps themselves (build.c on the host side, enter.c in the jailed child) only carry it out.
 * Pure: unit-tested (tests/unit/test_jail.c). */
#ifndef MOTE_JAIL_PLAN_H
#define MOTE_JAIL_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "jail/jail.h"
#include "jail/libs.h"

#define JAIL_MAX_DEVS 4
#define JAIL_MAX_MOUNTS (JAIL_MAX_LIBS + JAIL_MAX_BINDS)
#define JAIL_MAX_LIB_ROOTS 4 /* "/lib", "/lib64", "/usr": first components of library paths */

struct jail_dev {
	const char *path;  /* in the jail, the same as on the host: "/dev/kvm" */
	dev_t rdev;        /* the host node's device number (filled by main.c from stat) */
	bool probe;        /* opened once as the VMM's uid before exec: a clear error if it cannot */
};

struct jail_mount {             /* the strings live in the config and the libraries */
	const char *src;          /* host path */
	const char *dst;          /* path inside the jail */
	bool read_only;
	bool lib;                 /* a shared library (read-only, nodev) */
	bool dir;                 /* src is a directory (filled by build.c from stat) */
};

struct jail_plan {
	char exec_dir[JAIL_PATH_MAX]; /* <base>/<exec-name> */
	char jail_dir[JAIL_PATH_MAX]; /* <base>/<exec-name>/<id> */
	char root[JAIL_PATH_MAX];     /* <base>/<exec-name>/<id>/root: the jail's "/" */
	char exec_path[JAIL_NAME_MAX + 2]; /* "/<exec-name>", in the jail */
	char pid_file[JAIL_PATH_MAX];      /* <jail_dir>/<exec-name>.pid: outside the jail's root,
					      so the VMM's uid cannot replace it with another pid */
	struct jail_dev devs[JAIL_MAX_DEVS];
	size_t ndevs;
	struct jail_mount mounts[JAIL_MAX_MOUNTS]; /* the libraries, then --bind, --bind-ro */
	size_t nmounts;
	/* Where the libraries go: each is an empty directory in the jail on the host, on which the
	 * child mounts a small tmpfs for the libraries' placeholders (no inode per library on the
	 * host's file system: creating them was most of a start's CPU time on ext4). */
	char lib_roots[JAIL_MAX_LIB_ROOTS][JAIL_NAME_MAX + 2];
	size_t nlib_roots;
	bool rlimit_explicit[JAIL_RLIMIT_COUNT]; /* false: a default that yields to the hard limit */
	bool rlimit_on[JAIL_RLIMIT_COUNT];
	unsigned long long rlimit[JAIL_RLIMIT_COUNT];
};

/* host_vhost_net: /dev/vhost-net exists on the host. The plan points into cfg and libs. 0, or -1 with a one-line reason
 * (JAIL_EXIT_USAGE: a --bind that collides with what the jail needs, or a path too long). */
int jail_plan_make(const struct jail_config *cfg, const struct jail_libs *libs,
		   bool host_vhost_net, struct jail_plan *plan, char *err, size_t errlen);

/* The VMM's arguments ask for taps, now (--net, hvt --net:) or maybe later (API mode, config
 * file): then the jail gets /dev/net/tun. */
bool jail_args_need_tun(char *const *args, int nargs);

/* The VMM's arguments may start the REST API (--api-sock, --config-file): then the jail holds
 * the libraries of mote's "api" dlopen feature (libmicrohttpd and its closure), else not. */
bool jail_args_use_api(char *const *args, int nargs);

#endif
