/* The step plan (see plan.h): paths, device nodes, mounts and limits, with every collision
 * between them refused before the jail exists. Pure: no file system, no process state. */
#include "jail/plan.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "jail/path.h"

static bool starts(const char *a, const char *prefix)
{
	return !strncmp(a, prefix, strlen(prefix));
}

bool jail_args_need_tun(char *const *args, int nargs)
{
	for (int i = 0; i < nargs; i++) {
		const char *a = args[i];
		if (!strcmp(a, "--net") || starts(a, "--net=") || starts(a, "--net:") ||
		    !strcmp(a, "--api-sock") || starts(a, "--api-sock=") ||
		    !strcmp(a, "--config-file") || starts(a, "--config-file="))
			return true;
		if (!strcmp(a, "--"))
			break; /* the rest belongs to the guest (mote hvt UNIKERNEL ARGS) */
	}
	return false;
}

bool jail_args_use_api(char *const *args, int nargs)
{
	for (int i = 0; i < nargs; i++) {
		const char *a = args[i];
		if (!strcmp(a, "--api-sock") || starts(a, "--api-sock=") || !strcmp(a, "--config-file") ||
		    starts(a, "--config-file="))
			return true;
		if (!strcmp(a, "--"))
			break;
	}
	return false;
}

static int set_paths(const struct jail_config *cfg, struct jail_plan *p, char *err, size_t errlen)
{
	if (jail_path_join(p->exec_dir, sizeof(p->exec_dir), cfg->base, cfg->exec_name) < 0 ||
	    jail_path_join(p->jail_dir, sizeof(p->jail_dir), p->exec_dir, cfg->id) < 0 ||
	    jail_path_join(p->root, sizeof(p->root), p->jail_dir, "root") < 0)
		return jail_err(err, errlen, "--chroot-base-dir %s: too long", cfg->base);
	snprintf(p->exec_path, sizeof(p->exec_path), "/%s", cfg->exec_name);
	char name[JAIL_NAME_MAX + 5];
	snprintf(name, sizeof(name), "%s.pid", cfg->exec_name);
	if (jail_path_join(p->pid_file, sizeof(p->pid_file), p->jail_dir, name) < 0)
		return jail_err(err, errlen, "--chroot-base-dir %s: too long", cfg->base);
	return 0;
}

static void add_devs(const struct jail_config *cfg, bool host_vhost_net, struct jail_plan *p)
{
	p->devs[p->ndevs++] = (struct jail_dev){.path = "/dev/kvm", .probe = true};
	if (!jail_args_need_tun(cfg->args, cfg->nargs))
		return;
	p->devs[p->ndevs++] = (struct jail_dev){.path = "/dev/net/tun", .probe = true};
	if (host_vhost_net) /* mote's --net vhost=auto uses it when it is there */
		p->devs[p->ndevs++] = (struct jail_dev){.path = "/dev/vhost-net"};
}

/* A --bind destination may not cover, or lie inside, anything else the jail holds. */
static int check_bind(const struct jail_plan *p, const char *dst, char *err, size_t errlen)
{
	const char *fixed[] = {p->exec_path, "/dev"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (jail_path_contains(dst, fixed[i]) || jail_path_contains(fixed[i], dst))
			return jail_err(err, errlen, "--bind ...:%s: the jail keeps %s for itself; choose "
				       "another path", dst, fixed[i]);
	for (size_t i = 0; i < p->nlib_roots; i++)
		if (jail_path_contains(dst, p->lib_roots[i]) || jail_path_contains(p->lib_roots[i], dst))
			return jail_err(err, errlen, "--bind ...:%s: the jail keeps %s for the exec file's "
				       "libraries; choose another path", dst, p->lib_roots[i]);
	return 0;
}

/* "/lib/x86_64-linux-gnu/libc.so.6" -> "/lib" into the plan's library roots (once each). */
static int add_lib_root(struct jail_plan *p, const char *path, char *err, size_t errlen)
{
	size_t len = strcspn(path + 1, "/") + 1;
	for (size_t i = 0; i < p->nlib_roots; i++)
		if (strlen(p->lib_roots[i]) == len && !strncmp(p->lib_roots[i], path, len))
			return 0;
	if (p->nlib_roots == JAIL_MAX_LIB_ROOTS || len >= sizeof(p->lib_roots[0]) || !path[len])
		return jail_err(err, errlen, "library %s: not below one of at most %d directories", path,
				JAIL_MAX_LIB_ROOTS);
	char *root = p->lib_roots[p->nlib_roots];
	snprintf(root, sizeof(p->lib_roots[0]), "%.*s", (int)len, path);
	const char *fixed[] = {p->exec_path, "/dev"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (jail_path_contains(root, fixed[i]) || jail_path_contains(fixed[i], root))
			return jail_err(err, errlen, "--exec-file's name: %s would be hidden by the "
				       "libraries' directory %s; rename the file", fixed[i], root);
	p->nlib_roots++;
	return 0;
}

static int add_mounts(const struct jail_config *cfg, const struct jail_libs *libs,
		      struct jail_plan *p, char *err, size_t errlen)
{
	for (size_t i = 0; i < libs->n; i++) {
		if (add_lib_root(p, libs->lib[i].jail_path, err, errlen) < 0)
			return -1;
		p->mounts[p->nmounts++] = (struct jail_mount){.src = libs->lib[i].host_path,
			.dst = libs->lib[i].jail_path, .read_only = true, .lib = true};
	}
	for (size_t i = 0; i < cfg->nbinds; i++) {
		const struct jail_bind *b = &cfg->binds[i];
		if (check_bind(p, b->dst, err, errlen) < 0)
			return -1;
		p->mounts[p->nmounts++] = (struct jail_mount){.src = b->src, .dst = b->dst,
			.read_only = b->read_only};
	}
	return 0;
}

static void add_rlimits(const struct jail_config *cfg, struct jail_plan *p)
{
	for (int r = 0; r < JAIL_RLIMIT_COUNT; r++) {
		p->rlimit_explicit[r] = cfg->rlimit_set[r];
		p->rlimit_on[r] = cfg->rlimit_set[r] || r == JAIL_RLIMIT_NOFILE;
		p->rlimit[r] = !cfg->rlimit_set[r] ? JAIL_DEFAULT_NOFILE
			       : cfg->rlimit[r] == UINT64_MAX ? RLIM_INFINITY : cfg->rlimit[r];
	}
}

int jail_plan_make(const struct jail_config *cfg, const struct jail_libs *libs,
		   bool host_vhost_net, struct jail_plan *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (set_paths(cfg, p, err, errlen) < 0)
		return -1;
	add_devs(cfg, host_vhost_net, p);
	if (add_mounts(cfg, libs, p, err, errlen) < 0)
		return -1;
	add_rlimits(cfg, p);
	return 0;
}
