/* mote-jailer's command line -> struct jail_config: Firecracker's jailer options plus --bind.
 * Pure: nothing is opened or created here (main.c checks what exists, in order); every error
 * is one line naming the option and the fix. The VMM's own arguments after "--" are not read. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jail/jail.h"
#include "jail/path.h"

#define ID_CHARS "-"
#define EXEC_NAME_CHARS "-_."

/* The cgroup controllers a --cgroup file may belong to (v2 and v1 names). */
static const char *const controllers[] = {
	"cpu", "cpuset", "memory", "pids", "io", "hugetlb", "rdma", "misc",  /* v2 (and v1) */
	"cpuacct", "blkio", "devices", "freezer", "net_cls", "net_prio", "perf_event", /* v1 */
};

void jail_usage(FILE *out)
{
	fputs("usage: mote-jailer --id ID --exec-file FILE --uid UID --gid GID [OPTIONS] [-- VMM ARGS...]\n"
	      "Runs the exec file (mote) in a jail: <chroot-base-dir>/<exec name>/<ID>/root as its root\n"
	      "in a mount namespace of its own, with its libraries, /dev/kvm and the files bound in;\n"
	      "a cgroup, resource limits, UID:GID without capabilities, no_new_privs. Paths in the VMM's\n"
	      "arguments are paths inside the jail. See docs/jail.md.\n\n"
	      "Options:\n"
	      "  --id ID                 letters, digits and '-', at most 64: names the jail and cgroup\n"
	      "  --exec-file FILE        the mote binary (hard-linked or copied into the jail)\n"
	      "  --uid UID, --gid GID    the unprivileged user and group the VMM runs as (not 0)\n"
	      "  --chroot-base-dir DIR   where jails are made (default " JAIL_DEFAULT_BASE ")\n"
	      "  --netns PATH            join this network namespace (/run/netns/NAME)\n"
	      "  --new-pid-ns            the VMM runs as PID 1 of a new PID namespace\n"
	      "  --daemonize             a new session, stdio on /dev/null; exit 0 once the VMM runs\n"
	      "  --cgroup FILE=VALUE     a cgroup file of the jail's cgroup (memory.max=512M, pids.max=64)\n"
	      "  --cgroup-version 1|2    which hierarchy (default: the one with every controller named)\n"
	      "  --parent-cgroup PATH    the jail's cgroup is <hierarchy>/PATH/<ID> (default: exec name)\n"
	      "  --resource-limit fsize=N|no-file=N   RLIMIT_FSIZE, RLIMIT_NOFILE (default no-file 2048)\n"
	      "  --bind HOST:JAIL        bind-mount a host file or directory at JAIL inside the jail\n"
	      "  --bind-ro HOST:JAIL     the same, read-only\n"
	      "  --help, --version\n\n"
	      "Exit status: the VMM's own once it runs; 2 bad option; 20 a named file is missing or\n"
	      "unusable; 22 the host cannot (not root, no /dev/kvm, no cgroup controller); 24 the id\n"
	      "exists; 26 a jail step failed in the kernel. A refused start leaves nothing behind.\n",
	      out);
}

static int parse_u32(const char *s, const char *opt, uint32_t *out, char *err, size_t errlen)
{
	char *end;
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return jail_err(err, errlen, "%s %s: not a decimal number", opt, s);
	unsigned long long v = strtoull(s, &end, 10);
	if (v >= UINT32_MAX) /* (uid_t)-1 means "unchanged" to the kernel */
		return jail_err(err, errlen, "%s %s: out of range (0 to %u)", opt, s, UINT32_MAX - 1);
	*out = (uint32_t)v;
	return 0;
}

static int parse_u64(const char *s, const char *opt, uint64_t *out, char *err, size_t errlen)
{
	if (!strcmp(s, "unlimited")) {
		*out = UINT64_MAX;
		return 0;
	}
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
		return jail_err(err, errlen, "%s: '%s' is not a decimal number (or 'unlimited')", opt, s);
	*out = strtoull(s, NULL, 10);
	return 0;
}

static int parse_cgroup(struct jail_config *c, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	if (c->ncgroups == JAIL_MAX_CGROUPS)
		return jail_err(err, errlen, "--cgroup: at most %d", JAIL_MAX_CGROUPS);
	if (!eq || eq == arg || !eq[1])
		return jail_err(err, errlen, "--cgroup %s: expected FILE=VALUE (e.g. memory.max=256M)", arg);
	size_t flen = (size_t)(eq - arg), clen = strcspn(arg, ".");
	struct jail_cgroup_set *s = &c->cgroups[c->ncgroups];
	if (clen >= flen || clen >= sizeof(s->controller) || flen > JAIL_CGROUP_FILE_MAX)
		return jail_err(err, errlen, "--cgroup %.*s: expected CONTROLLER.NAME (e.g. pids.max)",
				(int)flen, arg);
	for (size_t i = 0; i < flen; i++) {
		char ch = arg[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '.'))
			return jail_err(err, errlen, "--cgroup %.*s: character '%c' not allowed in a "
				       "cgroup file name", (int)flen, arg, ch >= 0x20 && ch < 0x7f ? ch : '?');
	}
	memcpy(s->controller, arg, clen);
	s->controller[clen] = '\0';
	bool known = false;
	for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++)
		known |= !strcmp(controllers[i], s->controller);
	if (!known)
		return jail_err(err, errlen, "--cgroup %.*s: '%s' is not a cgroup controller (cpu, cpuset, "
			       "memory, pids, io, hugetlb, ...)", (int)flen, arg, s->controller);
	if (strlen(eq + 1) > JAIL_CGROUP_VALUE_MAX)
		return jail_err(err, errlen, "--cgroup %.*s: value longer than %d bytes", (int)flen, arg,
				JAIL_CGROUP_VALUE_MAX);
	for (const char *v = eq + 1; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return jail_err(err, errlen, "--cgroup %.*s: control character in the value",
					(int)flen, arg);
	memcpy(s->file, arg, flen);
	s->file[flen] = '\0';
	for (size_t i = 0; i < c->ncgroups; i++)
		if (!strcmp(c->cgroups[i].file, s->file))
			return jail_err(err, errlen, "--cgroup %s given twice", s->file);
	s->value = eq + 1;
	c->ncgroups++;
	return 0;
}

static int parse_rlimit(struct jail_config *c, const char *arg, char *err, size_t errlen)
{
	static const char *const names[JAIL_RLIMIT_COUNT] = {"fsize", "no-file"};
	const char *eq = strchr(arg, '=');
	for (int r = 0; eq && r < JAIL_RLIMIT_COUNT; r++) {
		if (strlen(names[r]) != (size_t)(eq - arg) || strncmp(names[r], arg, (size_t)(eq - arg)))
			continue;
		if (c->rlimit_set[r])
			return jail_err(err, errlen, "--resource-limit %s given twice", names[r]);
		if (parse_u64(eq + 1, "--resource-limit", &c->rlimit[r], err, errlen) < 0)
			return -1;
		if (r == JAIL_RLIMIT_NOFILE && c->rlimit[r] == 0)
			return jail_err(err, errlen, "--resource-limit no-file=0: the VMM could open no file");
		c->rlimit_set[r] = true;
		return 0;
	}
	return jail_err(err, errlen, "--resource-limit %s: expected fsize=BYTES or no-file=N", arg);
}

static int parse_bind(struct jail_config *c, const char *arg, bool ro, char *err, size_t errlen)
{
	const char *opt = ro ? "--bind-ro" : "--bind";
	const char *colon = strchr(arg, ':');
	if (c->nbinds == JAIL_MAX_BINDS)
		return jail_err(err, errlen, "%s: at most %d", opt, JAIL_MAX_BINDS);
	if (!colon || colon == arg || !colon[1] || strchr(colon + 1, ':'))
		return jail_err(err, errlen, "%s %s: expected HOST_PATH:JAIL_PATH (paths without ':')",
				opt, arg);
	struct jail_bind *b = &c->binds[c->nbinds];
	if ((size_t)(colon - arg) >= sizeof(b->src))
		return jail_err(err, errlen, "%s: host path too long", opt);
	memcpy(b->src, arg, (size_t)(colon - arg));
	b->src[colon - arg] = '\0';
	if (jail_path_normalise(colon + 1, opt, b->dst, sizeof(b->dst), err, errlen) < 0)
		return -1;
	b->read_only = ro;
	c->nbinds++;
	return 0;
}

/* The option's value: "--opt=V" or "--opt V". NULL when it has none. */
static const char *value_of(int argc, char *const *argv, int *i, const char *name)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (strncmp(a, name, n))
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static bool is_opt(const char *a, const char *name)
{
	size_t n = strlen(name);
	return !strncmp(a, name, n) && (a[n] == '\0' || a[n] == '=');
}

/* One option with a value. 1: not one of these options; 0 handled; -1 error. */
static int parse_valued(struct jail_config *c, const char *opt, const char *v, char *err,
			size_t errlen)
{
	if (!strcmp(opt, "--id"))
		c->id = v;
	else if (!strcmp(opt, "--exec-file"))
		c->exec_file = v;
	else if (!strcmp(opt, "--uid"))
		return parse_u32(v, opt, &c->uid, err, errlen) < 0 ? -1 : (c->uid_set = true, 0);
	else if (!strcmp(opt, "--gid"))
		return parse_u32(v, opt, &c->gid, err, errlen) < 0 ? -1 : (c->gid_set = true, 0);
	else if (!strcmp(opt, "--chroot-base-dir")) {
		if (v[0] != '/')
			return jail_err(err, errlen, "--chroot-base-dir %s: must be an absolute path", v);
		if (strspn(v, "/") == strlen(v))
			return jail_err(err, errlen, "--chroot-base-dir %s: choose a directory for the "
				       "jails, not the host's root", v);
		return jail_path_normalise(v, opt, c->base, sizeof(c->base), err, errlen);
	}
	else if (!strcmp(opt, "--netns"))
		c->netns = v;
	else if (!strcmp(opt, "--cgroup"))
		return parse_cgroup(c, v, err, errlen);
	else if (!strcmp(opt, "--cgroup-version")) {
		if (strcmp(v, "1") && strcmp(v, "2"))
			return jail_err(err, errlen, "--cgroup-version %s: expected 1 or 2", v);
		c->cgroup_version = v[0] - '0';
	} else if (!strcmp(opt, "--parent-cgroup")) {
		if (jail_relpath_check(v, opt, err, errlen) < 0)
			return -1;
		snprintf(c->parent_cgroup, sizeof(c->parent_cgroup), "%s", v);
	} else if (!strcmp(opt, "--resource-limit"))
		return parse_rlimit(c, v, err, errlen);
	else if (!strcmp(opt, "--bind") || !strcmp(opt, "--bind-ro"))
		return parse_bind(c, v, opt[6] == '-', err, errlen);
	else
		return 1;
	return 0;
}

static const char *const valued[] = {
	"--id", "--exec-file", "--uid", "--gid", "--chroot-base-dir", "--netns", "--cgroup-version",
	"--cgroup", "--parent-cgroup", "--resource-limit", "--bind-ro", "--bind",
};

static int parse_one(struct jail_config *c, int argc, char *const *argv, int *i, char *err,
		     size_t errlen)
{
	const char *a = argv[*i];
	if (!strcmp(a, "--new-pid-ns"))
		return c->new_pid_ns = true, 0;
	if (!strcmp(a, "--daemonize"))
		return c->daemonize = true, 0;
	for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++) {
		if (!is_opt(a, valued[k]))
			continue;
		const char *v = value_of(argc, argv, i, valued[k]);
		if (!v)
			return jail_err(err, errlen, "%s needs a value", valued[k]);
		return parse_valued(c, valued[k], v, err, errlen);
	}
	return jail_err(err, errlen, "unknown option %s (mote-jailer --help lists them; the VMM's "
		       "own options go after --)", a);
}

/* What the options say together; paths and names are checked here, files in main.c. */
static int check_all(struct jail_config *c, char *err, size_t errlen)
{
	if (!c->id)
		return jail_err(err, errlen, "--id ID is required (letters, digits and '-', at most %d)",
				JAIL_ID_MAX);
	if (jail_name_check(c->id, "--id", JAIL_ID_MAX, ID_CHARS, err, errlen) < 0)
		return -1;
	if (!c->exec_file)
		return jail_err(err, errlen, "--exec-file FILE is required (the mote binary)");
	const char *name = jail_path_base(c->exec_file);
	if (jail_name_check(name, "--exec-file's name", JAIL_NAME_MAX, EXEC_NAME_CHARS, err,
			    errlen) < 0)
		return -1;
	snprintf(c->exec_name, sizeof(c->exec_name), "%s", name);
	if (!c->uid_set || !c->gid_set)
		return jail_err(err, errlen, "--uid UID and --gid GID are required (the unprivileged "
			       "user the VMM runs as)");
	if (c->uid == 0 || c->gid == 0)
		return jail_err(err, errlen, "--%s 0: the VMM would keep root's access to the jail's "
			       "files; choose an unprivileged %s", c->uid == 0 ? "uid" : "gid",
			       c->uid == 0 ? "user" : "group");
	if (!c->parent_cgroup[0])
		snprintf(c->parent_cgroup, sizeof(c->parent_cgroup), "%s", c->exec_name);
	for (size_t i = 0; i < c->nbinds; i++)
		for (size_t j = 0; j < i; j++)
			if (jail_path_contains(c->binds[i].dst, c->binds[j].dst) ||
			    jail_path_contains(c->binds[j].dst, c->binds[i].dst))
				return jail_err(err, errlen, "--bind %s and %s: one is inside the other; "
					       "bind each place once", c->binds[j].dst, c->binds[i].dst);
	return 0;
}

enum jail_parse_result jail_parse(int argc, char *const *argv, struct jail_config *c, char *err,
				  size_t errlen)
{
	memset(c, 0, offsetof(struct jail_config, binds));
	snprintf(c->base, sizeof(c->base), "%s", JAIL_DEFAULT_BASE);
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return JAIL_PARSE_HELP;
		if (!strcmp(a, "--version"))
			return JAIL_PARSE_VERSION;
		if (parse_one(c, argc, argv, &i, err, errlen) < 0)
			return JAIL_PARSE_ERROR;
	}
	c->args = argv + i;
	c->nargs = argc - i;
	return check_all(c, err, errlen) < 0 ? JAIL_PARSE_ERROR : JAIL_PARSE_RUN;
}
