/* The jailed child's steps, in order: join the cgroup, a new mount namespace, the mounts,
 * pivot_root, the device nodes, rlimits, the network namespace, --daemonize, the drop to uid:gid
 * without capabilities and with no_new_privs, a probe of the devices as that uid, every other
 * descriptor closed, exec. A failing step reports one line through report_fd and exits; the
 * parent (main.c) then removes what was made outside this child's mount namespace. */
#ifndef MOTE_JAIL_ENTER_H
#define MOTE_JAIL_ENTER_H

#include <signal.h>
#include <stdbool.h>

#include "jail/cgroup.h"
#include "jail/jail.h"
#include "jail/plan.h"

/* One message from the child: a failed step (status > 0), or status JAIL_REPORT_EXEC right
 * before execve (nothing follows it when execve succeeds; the pipe is close-on-exec). */
#define JAIL_REPORT_EXEC (-1)
struct jail_report {
	int status;
	char msg[508];
};

struct jail_run {
	const struct jail_config *cfg;
	const struct jail_plan *plan;
	const struct jail_cgroup *cg;
	int report_fd;          /* the pipe's write end (close-on-exec) */
	int netns_fd;           /* --netns, opened and checked by main.c; -1 without */
	int null_fd;            /* /dev/null for --daemonize; -1 without */
	bool die_with_parent;   /* foreground: the VMM gets SIGKILL if the jailer dies */
	sigset_t exec_mask;     /* the signal mask the VMM starts with */
	char *const *argv;      /* plan->exec_path, then the VMM's arguments */
	char *const *envp;      /* the VMM's whole environment */
};

_Noreturn void jail_enter(const struct jail_run *r);

#endif
