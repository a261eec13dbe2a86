/* mote-jailer: the story, top to bottom. Parse -> check the files and the host -> resolve the
 * exec file's libraries -> plan -> build the jail directory -> create the cgroup -> fork the
 * child that enters the jail and execs the VMM (enter.c) -> wait for its report. A failed step
 * removes everything made before it; once the VMM runs, the jail is the operator's (docs/jail.md).
 * Must not: leave a directory, cgroup or mount behind on failure, or pass any fd to the VMM. */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail/build.h"
#include "jail/cgroup.h"
#include "jail/enter.h"
#include "jail/jail.h"
#include "jail/libs.h"
#include "jail/plan.h"

#ifndef MOTE_VERSION
#define MOTE_VERSION "unknown"
#endif

#define ERRLEN 1024

struct jailer {
	struct jail_config cfg;
	struct jail_libs libs;
	struct jail_plan plan;
	struct jail_cg_mounts mounts;
	struct jail_cgroup cg;
	struct jail_made made;
	int netns_fd, null_fd;
	char env_mem[64];
};

static int fail(int status, const char *msg)
{
	fprintf(stderr, "mote-jailer: %s\n", msg);
	return status;
}

/* What the options name must exist before anything is made: 0 or a status, err set. */
static int check_files(struct jailer *j, char *err, size_t errlen)
{
	const struct jail_config *c = &j->cfg;
	struct stat st;
	if (geteuid() != 0)
		return jail_err(err, errlen, "must run as root: it creates namespaces, cgroups and device "
			       "nodes, then drops to --uid/--gid"), JAIL_EXIT_HOST;
	if (stat(c->exec_file, &st) < 0 || !S_ISREG(st.st_mode) || access(c->exec_file, X_OK) < 0)
		return jail_err(err, errlen, "--exec-file %s: %s", c->exec_file,
				errno ? strerror(errno) : "not an executable file"), JAIL_EXIT_FILE;
	for (size_t i = 0; i < c->nbinds; i++)
		if (stat(c->binds[i].src, &st) < 0)
			return jail_err(err, errlen, "--bind %s: %s", c->binds[i].src, strerror(errno)),
			       JAIL_EXIT_FILE;
	if (c->netns) {
		j->netns_fd = open(c->netns, O_RDONLY | O_CLOEXEC);
		if (j->netns_fd < 0)
			return jail_err(err, errlen, "--netns %s: %s", c->netns, strerror(errno)),
			       JAIL_EXIT_FILE;
		if (ioctl(j->netns_fd, NS_GET_NSTYPE) != CLONE_NEWNET)
			return jail_err(err, errlen, "--netns %s: not a network namespace (`ip netns add "
				       "NAME` makes /run/netns/NAME)", c->netns), JAIL_EXIT_FILE;
	}
	if (c->daemonize && (j->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return jail_err(err, errlen, "--daemonize: /dev/null: %s", strerror(errno)), JAIL_EXIT_HOST;
	return 0;
}

/* Each device node of the plan copies the host node's number; /dev/vhost-net is optional. */
static int host_devices(struct jail_plan *p, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->ndevs; i++) {
		struct stat st;
		if (stat(p->devs[i].path, &st) < 0 || !S_ISCHR(st.st_mode))
			return jail_err(err, errlen, "this host has no %s%s", p->devs[i].path,
					!strcmp(p->devs[i].path, "/dev/kvm") ? " (no KVM: load kvm_intel or "
					"kvm_amd)" : " (modprobe tun)");
		p->devs[i].rdev = st.st_rdev;
	}
	return 0;
}

/* Everything up to the jail directory and the cgroup: 0 or a status, err set. */
static int prepare(struct jailer *j, char *err, size_t errlen)
{
	struct stat st;
	int s = check_files(j, err, errlen);
	if (s)
		return s;
	static const char *const no_api[] = {"api", NULL}; /* mote run: no libmicrohttpd */
	if (jail_libs_resolve("", j->cfg.exec_file,
			      jail_args_use_api(j->cfg.args, j->cfg.nargs) ? NULL : no_api, &j->libs,
			      err, errlen) < 0)
		return JAIL_EXIT_FILE;
	if (jail_plan_make(&j->cfg, &j->libs, stat("/dev/vhost-net", &st) == 0, &j->plan, err,
			   errlen) < 0)
		return JAIL_EXIT_USAGE;
	if (host_devices(&j->plan, err, errlen) < 0)
		return JAIL_EXIT_HOST;
	if (j->cfg.ncgroups && (jail_cg_probe(&j->mounts, err, errlen) < 0 ||
				jail_cg_plan(&j->cfg, &j->mounts, &j->cg, err, errlen) < 0))
		return JAIL_EXIT_HOST;
	if ((s = jail_build(&j->cfg, &j->plan, &j->made, err, errlen)))
		return s;
	if ((s = jail_cg_create(&j->cg, &j->cfg, err, errlen))) {
		jail_unbuild(&j->plan, &j->made, NULL, 0);
		return s;
	}
	return 0;
}

/* Removes the cgroup and the jail directory after a failed start; says so if something stays. */
static void undo(struct jailer *j)
{
	char err[ERRLEN];
	if (jail_cg_remove(&j->cg, err, sizeof(err)) < 0)
		fail(0, err);
	if (jail_unbuild(&j->plan, &j->made, err, sizeof(err)) < 0)
		fail(0, err);
}

static int write_pid_file(const struct jailer *j, pid_t pid, char *err, size_t errlen)
{
	char line[24];
	const char *path = j->plan.pid_file;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	int n = snprintf(line, sizeof(line), "%d\n", (int)pid);
	if (fd < 0 || write(fd, line, (size_t)n) != n || close(fd) < 0)
		return jail_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* Reads the child's reports up to EOF: 0 when it reached execve and nothing failed after. */
static int read_reports(int fd, pid_t pid, char *err, size_t errlen)
{
	struct jail_report rep = {0}, last = {0};
	ssize_t n;
	while ((n = read(fd, &rep, sizeof(rep))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(rep))
			break;
		last = rep;
	}
	if (last.status == JAIL_REPORT_EXEC)
		return 0;
	if (last.status > 0) {
		snprintf(err, errlen, "%.*s", (int)sizeof(last.msg), last.msg);
		return last.status;
	}
	int ws = 0;
	waitpid(pid, &ws, 0);
	return jail_err(err, errlen, "the jail's setup ended without a report (%s %d)",
			WIFSIGNALED(ws) ? "signal" : "status",
			WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws)), JAIL_EXIT_STEP;
}

/* Foreground: forward the usual stop signals to the VMM and exit with its status. */
static int wait_vmm(pid_t pid, const sigset_t *set)
{
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(set, &si), ws;
		if (sig < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD) {
			kill(pid, sig);
			continue;
		}
		if (waitpid(pid, &ws, WNOHANG) == pid)
			return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	}
}

/* Returns a jail_status, or with *ran set the VMM's own exit status. */
static int run(struct jailer *j, bool *ran, char *err, size_t errlen)
{
	char *argv[j->cfg.nargs + 2], *envp[2] = {NULL, NULL};
	argv[0] = j->plan.exec_path;
	for (int i = 0; i < j->cfg.nargs; i++)
		argv[i + 1] = j->cfg.args[i];
	argv[j->cfg.nargs + 1] = NULL;
	if (j->cg.memory_limited) { /* mote refuses guest RAM that cannot fit (docs/jail.md) */
		snprintf(j->env_mem, sizeof(j->env_mem), "MOTE_MEMORY_LIMIT=%llu",
			 (unsigned long long)j->cg.memory_limit);
		envp[0] = j->env_mem;
	}
	sigset_t set, old;
	sigemptyset(&set);
	for (int s = 0, sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}; s < 5; s++)
		sigaddset(&set, sigs[s]);
	signal(SIGCHLD, SIG_DFL); /* an inherited SIG_IGN would reap the VMM behind waitpid's back */
	sigprocmask(SIG_BLOCK, &set, &old);
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return jail_err(err, errlen, "pipe: %s", strerror(errno)), JAIL_EXIT_STEP;
	if (j->cfg.new_pid_ns && unshare(CLONE_NEWPID) < 0)
		return jail_err(err, errlen, "--new-pid-ns: %s", strerror(errno)), JAIL_EXIT_STEP;
	pid_t pid = fork();
	if (pid < 0)
		return jail_err(err, errlen, "fork: %s", strerror(errno)), JAIL_EXIT_STEP;
	if (pid == 0) {
		close(pfd[0]);
		struct jail_run r = {.cfg = &j->cfg, .plan = &j->plan, .cg = &j->cg, .report_fd = pfd[1],
				     .netns_fd = j->netns_fd, .null_fd = j->null_fd,
				     .die_with_parent = !j->cfg.daemonize, .exec_mask = old,
				     .argv = argv, .envp = envp};
		jail_enter(&r);
	}
	close(pfd[1]);
	int st = write_pid_file(j, pid, err, errlen);
	if (st < 0) {
		kill(pid, SIGKILL);
		st = JAIL_EXIT_STEP;
	} else {
		st = read_reports(pfd[0], pid, err, errlen);
	}
	close(pfd[0]);
	if (st) {
		waitpid(pid, NULL, 0);
		return st;
	}
	*ran = true;
	return j->cfg.daemonize ? JAIL_EXIT_OK : wait_vmm(pid, &set);
}

int main(int argc, char **argv)
{
	static struct jailer j;
	char err[ERRLEN];
	syscall(SYS_close_range, 3u, ~0u, 0u); /* nothing the caller left open reaches the jail */
	j.netns_fd = j.null_fd = -1;
	switch (jail_parse(argc, argv, &j.cfg, err, sizeof(err))) {
	case JAIL_PARSE_HELP:
		jail_usage(stdout);
		return JAIL_EXIT_OK;
	case JAIL_PARSE_VERSION:
		printf("mote-jailer %s\n", MOTE_VERSION);
		return JAIL_EXIT_OK;
	case JAIL_PARSE_ERROR:
		return fail(JAIL_EXIT_USAGE, err);
	case JAIL_PARSE_RUN:
		break;
	}
	int st = prepare(&j, err, sizeof(err));
	if (st)
		return fail(st, err);
	bool ran = false;
	st = run(&j, &ran, err, sizeof(err));
	if (ran)
		return st; /* the VMM's own status (0 with --daemonize: it runs) */
	if (st) {
		undo(&j);
		return fail(st, err);
	}
	return JAIL_EXIT_OK;
}
