/* mote-jailer: what every jail file shares: the configuration parsed from argv, the exit
 * statuses and the limits. The jailer is a separate binary (build/mote-jailer): nothing outside
 * src/jail/ includes these files and build/mote links none of them (docs/jail.md says why). */
#ifndef MOTE_JAIL_JAIL_H
#define MOTE_JAIL_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JAIL_ID_MAX 64             /* as Firecracker's jailer */
#define JAIL_NAME_MAX 64           /* the exec file's name, a path component in the jail */
#define JAIL_PATH_MAX 4096
#define JAIL_MAX_CGROUPS 32        /* --cgroup FILE=VALUE */
#define JAIL_CGROUP_VALUE_MAX 256
#define JAIL_MAX_BINDS 32          /* --bind, --bind-ro */
#define JAIL_MAX_LIBS 64           /* shared libraries of the exec file, dlopen()ed ones too */
#define JAIL_DEFAULT_BASE "/srv/jailer"
#define JAIL_DEFAULT_NOFILE 2048   /* as Firecracker's jailer, when no no-file limit is given */

/* mote-jailer's own exit statuses (docs/jail.md). Once the VMM runs, the jailer exits with
 * the VMM's status instead (128 + N when a signal N ended it); mote's own statuses are even
 * and below 20, the guest's are odd (src/core/status.h), so these never mean "the VM said so". */
enum jail_status {
	JAIL_EXIT_OK = 0,      /* --help, --version; --daemonize: the VMM started */
	JAIL_EXIT_USAGE = 2,   /* bad command line: option, id, path, cgroup file or value, rlimit */
	JAIL_EXIT_FILE = 20,   /* exec file, bind source, netns or a needed library missing/unusable */
	JAIL_EXIT_HOST = 22,   /* the host cannot: not root, no /dev/kvm, the uid cannot open it in
				  the jail, no cgroup hierarchy with a needed controller */
	JAIL_EXIT_EXISTS = 24, /* a jail or cgroup with this id already exists */
	JAIL_EXIT_STEP = 26,   /* a jail step failed in the kernel (mount, pivot_root, mknod, setns,
				  setrlimit, a cgroup write, exec); nothing was left behind */
};

#define JAIL_CGROUP_FILE_MAX 128

struct jail_cgroup_set {
	char file[JAIL_CGROUP_FILE_MAX + 1]; /* "memory.max" */
	const char *value;  /* "64M": points into argv, after the '=' */
	char controller[16]; /* "memory": the file's prefix */
};

struct jail_bind {
	char src[JAIL_PATH_MAX]; /* host path as given */
	char dst[JAIL_PATH_MAX]; /* path inside the jail, normalised: "/a/b" */
	bool read_only;
};

enum jail_rlimit { JAIL_RLIMIT_FSIZE, JAIL_RLIMIT_NOFILE, JAIL_RLIMIT_COUNT };

struct jail_config {
	const char *id;
	const char *exec_file;
	char exec_name[JAIL_NAME_MAX + 1];  /* last component of exec_file */
	uint32_t uid, gid;
	bool uid_set, gid_set;
	char base[JAIL_PATH_MAX];            /* --chroot-base-dir (normalised), default JAIL_DEFAULT_BASE */
	const char *netns;                   /* NULL: stay in the jailer's network namespace */
	int cgroup_version;                  /* 0: the first that has every controller (2, then 1) */
	char parent_cgroup[JAIL_PATH_MAX];   /* relative; default: exec_name */
	size_t ncgroups;
	struct jail_cgroup_set cgroups[JAIL_MAX_CGROUPS];
	bool rlimit_set[JAIL_RLIMIT_COUNT];
	uint64_t rlimit[JAIL_RLIMIT_COUNT];
	bool new_pid_ns;
	bool daemonize;
	char *const *args;                   /* the VMM's arguments, after "--" */
	int nargs;
	size_t nbinds;
	/* Entries below are written whole as options are parsed; jail_parse zeroes only what is
	 * above (page faults are most of a jail's start-up cost on some hosts: docs/jail.md). */
	struct jail_bind binds[JAIL_MAX_BINDS];
};

enum jail_parse_result { JAIL_PARSE_RUN, JAIL_PARSE_HELP, JAIL_PARSE_VERSION, JAIL_PARSE_ERROR };

/* argv -> cfg. Pure: no file is opened (main.c checks what exists). Every error is one line in
 * err naming the option and the fix; cfg points into argv. */
enum jail_parse_result jail_parse(int argc, char *const *argv, struct jail_config *cfg, char *err,
				  size_t errlen);
void jail_usage(FILE *out);

/* snprintf into err; returns -1 (for "return jail_err(...)"). */
int jail_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
