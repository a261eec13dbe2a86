/* The jailed child (see enter.h): the steps that need the child's own namespaces and
 * credentials, strictly in order, each verified, the first failure reported and fatal.
 * Must not: return, write outside the jail after pivot_root, or keep any privilege at exec. */
#include "jail/enter.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "jail/build.h"
#include "jail/path.h"

__attribute__((format(printf, 3, 4))) _Noreturn static void fail(const struct jail_run *r,
								  int status, const char *fmt, ...)
{
	struct jail_report rep = {.status = status};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rep.msg, sizeof(rep.msg), fmt, ap);
	va_end(ap);
	ssize_t n = write(r->report_fd, &rep, sizeof(rep)); /* one write below PIPE_BUF: atomic */
	(void)n;
	_exit(status);
}

static void join_cgroup(const struct jail_run *r)
{
	char err[400];
	if (jail_cg_join(r->cg, err, sizeof(err)) < 0)
		fail(r, JAIL_EXIT_STEP, "%s", err);
}

/* The per-mount flags path already has: a bind remount must not lift nodev, noexec or ro. */
static unsigned long kept_flags(const char *path)
{
	struct statvfs s;
	if (statvfs(path, &s) < 0)
		return MS_RDONLY | MS_NODEV | MS_NOEXEC; /* unknown: the strictest */
	return (s.f_flag & ST_RDONLY ? MS_RDONLY : 0) | (s.f_flag & ST_NODEV ? MS_NODEV : 0) |
	       (s.f_flag & ST_NOEXEC ? MS_NOEXEC : 0) | (s.f_flag & ST_NOATIME ? MS_NOATIME : 0) |
	       (s.f_flag & ST_NODIRATIME ? MS_NODIRATIME : 0) | (s.f_flag & ST_RELATIME ? MS_RELATIME : 0);
}

static void bind(const struct jail_run *r, const char *src, const char *dst, unsigned long extra)
{
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		fail(r, JAIL_EXIT_STEP, "cannot bind %s on %s: %s", src, dst, strerror(errno));
	if (mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | extra | kept_flags(src), NULL) < 0)
		fail(r, JAIL_EXIT_STEP, "cannot remount %s nosuid%s: %s", dst,
		     extra & MS_RDONLY ? ",ro" : "", strerror(errno));
}

#define LIB_TMPFS_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)

/* A private mount namespace whose root is the jail: its own bind mount (nosuid); a small tmpfs
 * on each of the libraries' directories holding their placeholders (read-only once filled), the
 * libraries bound on them (read-only, nodev); the --bind sources. */
static void make_mounts(const struct jail_run *r)
{
	const struct jail_plan *p = r->plan;
	char dst[JAIL_PATH_MAX];
	if (unshare(CLONE_NEWNS) < 0)
		fail(r, JAIL_EXIT_STEP, "cannot create a mount namespace: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail(r, JAIL_EXIT_STEP, "cannot make the mounts private: %s", strerror(errno));
	bind(r, p->root, p->root, 0);
	for (size_t i = 0; i < p->nlib_roots; i++)
		if (jail_path_join(dst, sizeof(dst), p->root, p->lib_roots[i]) < 0 ||
		    mount("tmpfs", dst, "tmpfs", LIB_TMPFS_FLAGS, "mode=0755,size=64k") < 0)
			fail(r, JAIL_EXIT_STEP, "cannot mount a tmpfs on %s: %s", p->lib_roots[i],
			     strerror(errno));
	for (size_t i = 0; i < p->nmounts; i++) {
		const struct jail_mount *m = &p->mounts[i];
		if (jail_path_join(dst, sizeof(dst), p->root, m->dst) < 0)
			fail(r, JAIL_EXIT_STEP, "jail path too long: %s", m->dst);
		if (m->lib && jail_make_placeholder(dst, strlen(p->root), false) < 0)
			fail(r, JAIL_EXIT_STEP, "cannot create %s in the jail: %s", m->dst, strerror(errno));
		bind(r, m->src, dst, (m->read_only ? MS_RDONLY : 0) | (m->lib || m->dir ? MS_NODEV : 0));
	}
	for (size_t i = 0; i < p->nlib_roots; i++)
		if (jail_path_join(dst, sizeof(dst), p->root, p->lib_roots[i]) < 0 ||
		    mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | LIB_TMPFS_FLAGS, NULL) < 0)
			fail(r, JAIL_EXIT_STEP, "cannot make %s read-only: %s", p->lib_roots[i],
			     strerror(errno));
}

/* pivot_root(".", "."): the old root ends up on top of the new one and is detached at once,
 * so the jail needs no old_root directory. */
static void pivot(const struct jail_run *r)
{
	if (chdir(r->plan->root) < 0)
		fail(r, JAIL_EXIT_STEP, "cannot enter %s: %s", r->plan->root, strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail(r, JAIL_EXIT_STEP, "pivot_root into %s: %s", r->plan->root, strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		fail(r, JAIL_EXIT_STEP, "cannot detach the host's root: %s", strerror(errno));
	if (chdir("/") < 0)
		fail(r, JAIL_EXIT_STEP, "chdir /: %s", strerror(errno));
}

/* The device nodes (0600, owned by uid:gid), and the jail's root handed to uid:gid so that
 * the VMM can create its API socket there. */
static void make_devices(const struct jail_run *r)
{
	const struct jail_config *c = r->cfg;
	for (size_t i = 0; i < r->plan->ndevs; i++) {
		const struct jail_dev *d = &r->plan->devs[i];
		char dir[64];
		for (const char *s = d->path + 1; (s = strchr(s, '/')); s++) {
			snprintf(dir, sizeof(dir), "%.*s", (int)(s - d->path), d->path);
			if (mkdir(dir, 0755) < 0 && errno != EEXIST)
				fail(r, JAIL_EXIT_STEP, "cannot create %s in the jail: %s", dir, strerror(errno));
		}
		if (mknod(d->path, S_IFCHR | 0600, d->rdev) < 0 || chown(d->path, c->uid, c->gid) < 0)
			fail(r, JAIL_EXIT_STEP, "cannot create %s in the jail: %s", d->path, strerror(errno));
	}
	if (chown("/", c->uid, c->gid) < 0)
		fail(r, JAIL_EXIT_STEP, "cannot give the jail's root to %u:%u: %s", c->uid, c->gid,
		     strerror(errno));
}

static void set_rlimits(const struct jail_run *r)
{
	static const int res[JAIL_RLIMIT_COUNT] = {RLIMIT_FSIZE, RLIMIT_NOFILE};
	static const char *const names[JAIL_RLIMIT_COUNT] = {"fsize", "no-file"};
	const struct jail_plan *p = r->plan;
	for (int i = 0; i < JAIL_RLIMIT_COUNT; i++) {
		if (!p->rlimit_on[i])
			continue;
		struct rlimit cur, want = {p->rlimit[i], p->rlimit[i]};
		if (!p->rlimit_explicit[i] && getrlimit(res[i], &cur) == 0 && cur.rlim_max < want.rlim_max)
			want.rlim_cur = want.rlim_max = cur.rlim_max; /* a default never raises */
		if (setrlimit(res[i], &want) < 0)
			fail(r, JAIL_EXIT_STEP, "--resource-limit %s=%llu: %s%s", names[i],
			     (unsigned long long)want.rlim_max, strerror(errno),
			     errno == EPERM ? " (above the hard limit, which the jailer may not raise)" : "");
	}
}

static void join_netns(const struct jail_run *r)
{
	if (r->netns_fd < 0)
		return;
	if (setns(r->netns_fd, CLONE_NEWNET) < 0)
		fail(r, JAIL_EXIT_STEP, "--netns %s: cannot join it: %s", r->cfg->netns, strerror(errno));
	close(r->netns_fd);
}

static void daemonize(const struct jail_run *r)
{
	if (r->null_fd < 0)
		return;
	if (setsid() < 0)
		fail(r, JAIL_EXIT_STEP, "--daemonize: setsid: %s", strerror(errno));
	for (int fd = 0; fd < 3; fd++)
		if (dup2(r->null_fd, fd) < 0)
			fail(r, JAIL_EXIT_STEP, "--daemonize: cannot redirect to /dev/null: %s",
			     strerror(errno));
	close(r->null_fd);
}

/* uid:gid with no supplementary groups, every capability set empty (bounding and ambient too),
 * no_new_privs; then checked: the ids stuck and root cannot be regained. */
static void drop(const struct jail_run *r)
{
	const struct jail_config *c = r->cfg;
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break; /* past the kernel's last capability */
			fail(r, JAIL_EXIT_STEP, "cannot drop capability %d: %s", cap, strerror(errno));
		}
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (setgroups(0, NULL) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
	    setresuid(c->uid, c->uid, c->uid) < 0)
		fail(r, JAIL_EXIT_STEP, "cannot switch to uid %u gid %u: %s", c->uid, c->gid,
		     strerror(errno));
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}, {0}};
	if (syscall(SYS_capset, &h, d) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(r, JAIL_EXIT_STEP, "cannot clear capabilities: %s", strerror(errno));
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (syscall(SYS_capget, &h, d) < 0 || d[0].effective || d[0].permitted || d[0].inheritable ||
	    d[1].effective || d[1].permitted || d[1].inheritable || getresuid(&ru, &eu, &su) < 0 ||
	    getresgid(&rg, &eg, &sg) < 0 || ru != c->uid || eu != c->uid || su != c->uid ||
	    rg != c->gid || eg != c->gid || sg != c->gid || setuid(0) == 0)
		fail(r, JAIL_EXIT_STEP, "the drop to uid %u gid %u did not hold", c->uid, c->gid);
	if (r->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(r, JAIL_EXIT_STEP, "PR_SET_PDEATHSIG: %s", strerror(errno));
}

/* The devices the VMM will open, opened once as its uid: a clear error now, not a VMM error. */
static void probe(const struct jail_run *r)
{
	for (size_t i = 0; i < r->plan->ndevs; i++) {
		const struct jail_dev *d = &r->plan->devs[i];
		int fd = d->probe ? open(d->path, O_RDWR | O_CLOEXEC) : 0;
		if (fd < 0)
			fail(r, JAIL_EXIT_HOST, "uid %u gid %u cannot open %s in the jail: %s%s", r->cfg->uid,
			     r->cfg->gid, d->path, strerror(errno),
			     errno == EACCES || errno == EPERM ? " (is --chroot-base-dir on a file system "
			     "mounted nodev? does a device cgroup or LSM refuse it?)" : "");
		if (d->probe)
			close(fd);
	}
}

/* Every descriptor but stdin, stdout, stderr and the report pipe (close-on-exec). */
static void close_fds(const struct jail_run *r)
{
	unsigned fd = (unsigned)r->report_fd;
	if ((fd > 3 && syscall(SYS_close_range, 3u, fd - 1, 0u) < 0) ||
	    syscall(SYS_close_range, fd + 1, ~0u, 0u) < 0) {
		struct rlimit l;
		unsigned max = getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < 1u << 20 ? (unsigned)l.rlim_cur : 1u << 20;
		for (unsigned i = 3; i < max; i++)
			if (i != fd)
				close((int)i);
	}
}

_Noreturn void jail_enter(const struct jail_run *r)
{
	join_cgroup(r);
	make_mounts(r);
	pivot(r);
	make_devices(r);
	set_rlimits(r);
	join_netns(r);
	daemonize(r);
	drop(r);
	probe(r);
	close_fds(r);
	struct jail_report marker = {.status = JAIL_REPORT_EXEC};
	if (write(r->report_fd, &marker, sizeof(marker)) != (ssize_t)sizeof(marker))
		_exit(JAIL_EXIT_STEP);
	sigprocmask(SIG_SETMASK, &r->exec_mask, NULL);
	execve(r->plan->exec_path, r->argv, r->envp);
	fail(r, JAIL_EXIT_STEP, "cannot run %s in the jail: %s%s", r->plan->exec_path, strerror(errno),
	     errno == EACCES ? " (is --chroot-base-dir on a file system mounted noexec?)"
	     : errno == ENOENT ? " (its interpreter or a library is missing in the jail)" : "");
}
