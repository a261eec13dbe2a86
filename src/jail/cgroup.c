/* The jail's cgroup (see cgroup.h). v2: controllers enabled level by level through
 * cgroup.subtree_control from the hierarchy's root down to the parent; v1: one directory per
 * hierarchy, cpuset.cpus/mems copied down (a v1 cpuset refuses tasks while they are empty).
 * Must not: write anything outside <mount>/<parent-cgroup>/, or remove what it did not make. */
#include "jail/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jail/path.h"

/* One field of a mount-table line, octal escapes (\040 ...) decoded. Returns the next field. */
static const char *field(const char *p, const char *end, char *out, size_t outlen)
{
	size_t n = 0;
	while (p < end && *p == ' ')
		p++;
	for (; p < end && *p != ' '; p++) {
		char c = *p;
		if (c == '\\' && end - p >= 4 && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' &&
		    p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
			c = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		}
		if (n + 1 < outlen)
			out[n++] = c;
		else
			n = outlen; /* too long: the caller drops the line */
	}
	if (n >= outlen)
		out[0] = '\0';
	else
		out[n] = '\0';
	return p;
}

void jail_cg_parse_mounts(const char *text, size_t len, struct jail_cg_mounts *out)
{
	const char *p = text, *end = text + len;
	char dev[64], fstype[32];
	out->n = 0; /* each entry is written whole (no memset: 36 pages to fault in) */
	while (p < end && out->n < JAIL_CG_MAX_MOUNTS) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		struct jail_cg_mount *m = &out->m[out->n];
		const char *q = field(p, eol, dev, sizeof(dev));
		q = field(q, eol, m->path, sizeof(m->path));
		q = field(q, eol, fstype, sizeof(fstype));
		field(q, eol, m->options, sizeof(m->options));
		m->available[0] = '\0';
		m->version = !strcmp(fstype, "cgroup2") ? 2 : !strcmp(fstype, "cgroup") ? 1 : 0;
		if (m->version && m->path[0] == '/')
			out->n++;
		p = eol + (nl != NULL);
	}
}

/* word is one of the words of list (separated by sep). */
static bool has_word(const char *list, const char *word, char sep)
{
	size_t n = strlen(word);
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, (char[]){sep, '\0'});
		if (len == n && !strncmp(p, word, n))
			return true;
		p += len;
		if (*p)
			p++;
	}
	return false;
}

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int jail_cg_probe(struct jail_cg_mounts *out, char *err, size_t errlen)
{
	static char text[65536];
	int fd = open("/proc/self/mounts", O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n = 1;
	if (fd < 0)
		return jail_err(err, errlen, "cannot read /proc/self/mounts: %s", strerror(errno));
	while (len < sizeof(text) && (n = read(fd, text + len, sizeof(text) - len)) > 0)
		len += (size_t)n;
	close(fd);
	jail_cg_parse_mounts(text, len, out);
	for (size_t i = 0; i < out->n; i++) {
		char path[JAIL_PATH_MAX];
		struct jail_cg_mount *m = &out->m[i];
		if (m->version == 2 && (jail_path_join(path, sizeof(path), m->path, "cgroup.controllers") < 0 ||
					read_small(path, m->available, sizeof(m->available)) < 0))
			m->available[0] = '\0';
	}
	return 0;
}

/* The first mount of the version that has controller c (v2: available at its root) and, for
 * v2, every other controller the jail names too (one unified hierarchy holds them all). */
static const struct jail_cg_mount *mount_for(const struct jail_config *cfg,
					     const struct jail_cg_mounts *ms, int version, const char *c)
{
	for (size_t i = 0; i < ms->n; i++) {
		const struct jail_cg_mount *m = &ms->m[i];
		bool ok = m->version == version &&
			  (version == 2 ? has_word(m->available, c, ' ') : has_word(m->options, c, ','));
		for (size_t k = 0; ok && version == 2 && k < cfg->ncgroups; k++)
			ok = has_word(m->available, cfg->cgroups[k].controller, ' ');
		if (ok)
			return m;
	}
	return NULL;
}

/* The first --cgroup controller that version lacks, or NULL when it has them all. */
static const char *missing(const struct jail_config *cfg, const struct jail_cg_mounts *ms, int v)
{
	for (size_t i = 0; i < cfg->ncgroups; i++)
		if (!mount_for(cfg, ms, v, cfg->cgroups[i].controller))
			return cfg->cgroups[i].controller;
	return NULL;
}

/* Why neither (or the asked) version will do: the v2 hierarchy's offer, or no v1 mount. */
static int no_version(const struct jail_config *cfg, const struct jail_cg_mounts *ms, char *err,
		      size_t errlen)
{
	const struct jail_cg_mount *v2 = NULL;
	for (size_t i = 0; i < ms->n && !v2; i++)
		if (ms->m[i].version == 2)
			v2 = &ms->m[i];
	const char *c2 = missing(cfg, ms, 2), *c1 = missing(cfg, ms, 1);
	char v2why[JAIL_PATH_MAX + 600], v1why[300];
	if (v2)
		snprintf(v2why, sizeof(v2why), "the cgroup v2 hierarchy at %s has no %s controller "
			 "(it offers: %s)", v2->path, c2, v2->available[0] ? v2->available : "none");
	else
		snprintf(v2why, sizeof(v2why), "no cgroup v2 hierarchy is mounted");
	snprintf(v1why, sizeof(v1why), "no cgroup v1 hierarchy with the %s controller is mounted", c1);
	if (cfg->cgroup_version == 2)
		return jail_err(err, errlen, "--cgroup-version 2: %s", v2why);
	if (cfg->cgroup_version == 1)
		return jail_err(err, errlen, "--cgroup-version 1: %s", v1why);
	return jail_err(err, errlen, "--cgroup: %s, and %s", v2why, v1why);
}

static int add_dir(struct jail_cgroup *cg, const struct jail_config *cfg,
		   const struct jail_cg_mount *m, const char *controller, char *err, size_t errlen)
{
	struct jail_cg_dir *d = NULL;
	for (size_t i = 0; i < cg->ndirs && !d; i++)
		if (!strcmp(cg->dir[i].mount, m->path))
			d = &cg->dir[i];
	if (!d) {
		if (cg->ndirs == JAIL_CG_MAX_DIRS)
			return jail_err(err, errlen, "--cgroup: more than %d cgroup hierarchies",
					JAIL_CG_MAX_DIRS);
		d = &cg->dir[cg->ndirs++];
		d->controllers[0] = '\0';
		d->ncreated = d->deepest = 0;
		char rel[JAIL_PATH_MAX];
		snprintf(d->mount, sizeof(d->mount), "%s", m->path);
		if (jail_path_join(rel, sizeof(rel), cfg->parent_cgroup, cfg->id) < 0 ||
		    jail_path_join(d->path, sizeof(d->path), m->path, rel) < 0)
			return jail_err(err, errlen, "--parent-cgroup: path too long");
	}
	if (!has_word(d->controllers, controller, ' ')) {
		size_t n = strlen(d->controllers);
		if (n + strlen(controller) + 2 > sizeof(d->controllers))
			return jail_err(err, errlen, "--cgroup: too many controllers");
		snprintf(d->controllers + n, sizeof(d->controllers) - n, "%s%s", n ? " " : "", controller);
	}
	return 0;
}

int jail_cg_plan(const struct jail_config *cfg, const struct jail_cg_mounts *ms,
		 struct jail_cgroup *cg, char *err, size_t errlen)
{
	cg->version = 0; /* the dirs are written whole as they are added */
	cg->ndirs = 0;
	cg->memory_limited = false;
	cg->memory_limit = 0;
	if (cfg->ncgroups == 0)
		return 0; /* the VMM stays in the jailer's cgroup, as with Firecracker's jailer */
	int v = cfg->cgroup_version;
	if (!v)
		v = !missing(cfg, ms, 2) ? 2 : !missing(cfg, ms, 1) ? 1 : 0;
	if (!v || missing(cfg, ms, v))
		return no_version(cfg, ms, err, errlen);
	cg->version = v;
	for (size_t i = 0; i < cfg->ncgroups; i++) {
		const char *c = cfg->cgroups[i].controller;
		if (add_dir(cg, cfg, mount_for(cfg, ms, v, c), c, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Writes val to path: 0 or the errno. */
static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	size_t len = strlen(val);
	ssize_t n = write(fd, val, len);
	int e = n < 0 ? errno : (size_t)n != len ? EIO : 0;
	close(fd);
	return e;
}

/* v2: the jail's controllers enabled for the children of dir (those not enabled already). */
static int enable_controllers(const char *dir, const char *controllers, char *err, size_t errlen)
{
	char path[JAIL_PATH_MAX], have[512] = "", want[300] = "";
	if (jail_path_join(path, sizeof(path), dir, "cgroup.subtree_control") < 0 ||
	    read_small(path, have, sizeof(have)) < 0)
		return jail_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
	for (const char *p = controllers; *p;) {
		size_t len = strcspn(p, " ");
		char c[32];
		snprintf(c, sizeof(c), "%.*s", (int)len, p);
		if (!has_word(have, c, ' '))
			snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s+%s",
				 want[0] ? " " : "", c);
		p += len + (p[len] == ' ');
	}
	int e = want[0] ? write_file(path, want) : 0;
	if (e)
		return jail_err(err, errlen, "cannot enable %s in %s: %s%s", want, path, strerror(e),
				e == EBUSY ? " (cgroup v2: a cgroup with processes cannot give controllers "
				"to its children; choose an empty --parent-cgroup)" : "");
	return 0;
}

/* v1 cpuset: a new cgroup's cpus and mems start empty and refuse tasks; copy the parent's. */
static int cpuset_inherit(const char *dir, const char *parent, char *err, size_t errlen)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	for (size_t i = 0; i < 2; i++) {
		char mine[JAIL_PATH_MAX], theirs[JAIL_PATH_MAX], val[4096];
		if (jail_path_join(mine, sizeof(mine), dir, files[i]) < 0 ||
		    jail_path_join(theirs, sizeof(theirs), parent, files[i]) < 0)
			return jail_err(err, errlen, "cgroup path too long");
		if (access(theirs, F_OK) < 0)
			return 0; /* not a cpuset hierarchy */
		int e = read_small(theirs, val, sizeof(val)) < 0 ? errno : 0;
		if (!e && val[0])
			e = write_file(mine, val);
		if (e)
			return jail_err(err, errlen, "cannot copy %s into %s: %s", theirs, mine, strerror(e));
	}
	return 0;
}

/* One level of <mount>/<parent>/<id>: made (and remembered) unless it is a parent that exists. */
static int make_level(struct jail_cgroup *cg, struct jail_cg_dir *d, const char *path,
		      const char *above, bool last, const char *id, char *err, size_t errlen)
{
	if (mkdir(path, 0755) < 0) {
		if (errno == EEXIST && !last)
			return 0;
		if (errno == EEXIST)
			return jail_err(err, errlen, "cgroup %s already exists: another jail uses --id %s, or "
				       "an old one was not removed (rmdir it)", path, id), JAIL_EXIT_EXISTS;
		return jail_err(err, errlen, "cannot create cgroup %s: %s", path, strerror(errno)),
		       JAIL_EXIT_STEP;
	}
	d->ncreated++; /* the levels made are consecutive: each one below the last */
	d->deepest = strlen(path);
	if (cg->version == 1 && cpuset_inherit(path, above, err, errlen) < 0)
		return JAIL_EXIT_STEP;
	return 0;
}

static int create_dir(struct jail_cgroup *cg, struct jail_cg_dir *d, const struct jail_config *cfg,
		      char *err, size_t errlen)
{
	char rel[JAIL_PATH_MAX], cur[JAIL_PATH_MAX], above[JAIL_PATH_MAX];
	if (jail_path_join(rel, sizeof(rel), cfg->parent_cgroup, cfg->id) < 0)
		return jail_err(err, errlen, "--parent-cgroup: too long"), JAIL_EXIT_USAGE;
	snprintf(cur, sizeof(cur), "%s", d->mount);
	for (const char *p = rel; *p;) { /* rel: "parent/levels/id", checked names */
		size_t len = strcspn(p, "/");
		bool last = p[len] == '\0';
		if (cg->version == 2 && enable_controllers(cur, d->controllers, err, errlen) < 0)
			return JAIL_EXIT_HOST;
		snprintf(above, sizeof(above), "%s", cur);
		size_t n = strlen(cur);
		if (n + 1 + len >= sizeof(cur))
			return jail_err(err, errlen, "cgroup path too long"), JAIL_EXIT_USAGE;
		snprintf(cur + n, sizeof(cur) - n, "/%.*s", (int)len, p);
		int st = make_level(cg, d, cur, above, last, cfg->id, err, errlen);
		if (st)
			return st;
		p += len + !last;
	}
	return 0;
}

/* The other version's name for a few common files, for the "unknown file" message. */
static const char *hint(int version, const char *file)
{
	static const char *const pairs[][2] = {/* v2, v1 */
		{"memory.max", "memory.limit_in_bytes"}, {"memory.swap.max", "memory.memsw.limit_in_bytes"},
		{"cpu.weight", "cpu.shares"}, {"cpu.max", "cpu.cfs_quota_us"},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (!strcmp(file, pairs[i][version == 2 ? 1 : 0]))
			return pairs[i][version == 2 ? 0 : 1];
	return NULL;
}

static int write_values(struct jail_cgroup *cg, const struct jail_config *cfg, char *err,
			size_t errlen)
{
	for (size_t i = 0; i < cfg->ncgroups; i++) {
		const struct jail_cgroup_set *s = &cfg->cgroups[i];
		const struct jail_cg_dir *d = NULL;
		for (size_t k = 0; k < cg->ndirs && !d; k++)
			if (has_word(cg->dir[k].controllers, s->controller, ' '))
				d = &cg->dir[k];
		char path[JAIL_PATH_MAX];
		if (!d || jail_path_join(path, sizeof(path), d->path, s->file) < 0)
			return jail_err(err, errlen, "--cgroup %s: no cgroup for it", s->file), JAIL_EXIT_STEP;
		int e = write_file(path, s->value);
		const char *h = hint(cg->version, s->file);
		if (e == ENOENT)
			return jail_err(err, errlen, "--cgroup %s: unknown cgroup file (%s has none)%s%s",
					s->file, d->path, h ? "; this cgroup version calls it " : "",
					h ? h : ""), JAIL_EXIT_USAGE;
		if (e == EINVAL || e == ERANGE || e == EOVERFLOW)
			return jail_err(err, errlen, "--cgroup %s=%s: the kernel refused the value: %s",
					s->file, s->value, strerror(e)), JAIL_EXIT_USAGE;
		if (e)
			return jail_err(err, errlen, "--cgroup %s=%s: cannot write %s: %s", s->file,
					s->value, path, strerror(e)), JAIL_EXIT_STEP;
	}
	return 0;
}

/* The lowest memory limit from the jail's memory cgroup up to its hierarchy's root. */
static void read_memory_limit(struct jail_cgroup *cg)
{
	const char *file = cg->version == 2 ? "memory.max" : "memory.limit_in_bytes";
	for (size_t k = 0; k < cg->ndirs; k++) {
		const struct jail_cg_dir *d = &cg->dir[k];
		if (!has_word(d->controllers, "memory", ' '))
			continue;
		char dir[JAIL_PATH_MAX], path[JAIL_PATH_MAX], val[64];
		snprintf(dir, sizeof(dir), "%s", d->path);
		while (jail_path_contains(d->mount, dir) && strcmp(dir, d->mount)) {
			char *end;
			if (jail_path_join(path, sizeof(path), dir, file) == 0 &&
			    read_small(path, val, sizeof(val)) == 0 && val[0] >= '0' && val[0] <= '9') {
				unsigned long long v = strtoull(val, &end, 10);
				if (v < (1ull << 62) && (!cg->memory_limited || v < cg->memory_limit)) {
					cg->memory_limit = v; /* v1 "unlimited" is about 2^63 */
					cg->memory_limited = true;
				}
			}
			*strrchr(dir, '/') = '\0';
		}
	}
}

int jail_cg_create(struct jail_cgroup *cg, const struct jail_config *cfg, char *err, size_t errlen)
{
	int st = 0;
	for (size_t i = 0; i < cg->ndirs && !st; i++)
		st = create_dir(cg, &cg->dir[i], cfg, err, errlen);
	if (!st)
		st = write_values(cg, cfg, err, errlen);
	if (st) {
		jail_cg_remove(cg, NULL, 0);
		return st;
	}
	read_memory_limit(cg);
	return 0;
}

int jail_cg_join(const struct jail_cgroup *cg, char *err, size_t errlen)
{
	for (size_t i = 0; i < cg->ndirs; i++) {
		char path[JAIL_PATH_MAX];
		int e = jail_path_join(path, sizeof(path), cg->dir[i].path, "cgroup.procs") < 0
				? ENAMETOOLONG : write_file(path, "0");
		if (e)
			return jail_err(err, errlen, "cannot join cgroup %s: %s", cg->dir[i].path,
					strerror(e));
	}
	return 0;
}

int jail_cg_remove(struct jail_cgroup *cg, char *err, size_t errlen)
{
	int r = 0;
	for (size_t i = cg->ndirs; i-- > 0;) {
		struct jail_cg_dir *d = &cg->dir[i];
		char path[JAIL_PATH_MAX];
		snprintf(path, sizeof(path), "%.*s", (int)d->deepest, d->path);
		for (bool own = d->deepest == strlen(d->path); d->ncreated > 0; own = false) {
			bool gone;
			int tries = 0;
			/* The last task leaves a cgroup as it is reaped: a moment of EBUSY. */
			while (!(gone = rmdir(path) == 0 || errno == ENOENT) && errno == EBUSY && own &&
			       ++tries < 200)
				usleep(1000);
			if (!gone && own) {
				r = jail_err(err, errlen, "cannot remove cgroup %s: %s", path, strerror(errno));
				break;
			}
			if (!gone) { /* a parent level that another jail uses by now: it stays */
				d->ncreated = 0;
				break;
			}
			d->ncreated--;
			*strrchr(path, '/') = '\0';
		}
	}
	return r;
}
