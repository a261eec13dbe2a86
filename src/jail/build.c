/* The jail's directory on the host (see build.h). Everything is made root-owned; the jailed
 * child hands the root over to the VMM's uid only after its mounts are in place (enter.c).
 * Must not: follow a link or cross a mount while removing, or remove what it did not make. */
#include "jail/build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jail/path.h"

/* Creates the missing components of the base (always its last ones), counting them. */
static int make_base(const char *base, struct jail_made *made, char *err, size_t errlen)
{
	char path[JAIL_PATH_MAX];
	for (const char *p = base + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		snprintf(path, sizeof(path), "%.*s", (int)(p - base), base);
		if (mkdir(path, 0755) == 0) {
			made->nbase++;
			memcpy(made->base, path, strlen(path) + 1);
		} else if (errno != EEXIST) {
			return jail_err(err, errlen, "cannot create %s: %s", path, strerror(errno));
		}
		if (!*p)
			return 0;
	}
}

/* Only root may change what a jail directory holds: a directory owned by root that no one else
 * can write (a sticky one like /tmp is allowed as the base: others cannot move our entries). */
static int check_dir(const char *path, bool is_base, char *err, size_t errlen)
{
	struct stat st;
	int r = is_base ? stat(path, &st) : lstat(path, &st);
	if (r < 0)
		return jail_err(err, errlen, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return jail_err(err, errlen, "%s is not a directory%s", path,
				S_ISLNK(st.st_mode) ? " (a symbolic link: refused)" : "");
	if (st.st_uid != 0 || ((st.st_mode & 022) && !(is_base && (st.st_mode & S_ISVTX))))
		return jail_err(err, errlen, "%s is owned by uid %u or writable by others (mode %04o): "
			       "another user could swap the jail's files; make it root's, mode 0755",
			       path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	return 0;
}

static int copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1;
	if (in < 0)
		return jail_err(err, errlen, "--exec-file %s: %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	ssize_t n = out < 0 ? -1 : 1;
	while (n > 0)
		n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
	if (n < 0 && out >= 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
		char buf[65536];
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n) {
				n = -1;
				break;
			}
	}
	int e = errno;
	close(in);
	if (out >= 0 && (fchmod(out, 0755) < 0 || close(out) < 0))
		n = -1, e = errno;
	if (n < 0)
		return jail_err(err, errlen, "cannot copy %s into the jail: %s", src, strerror(e));
	return 0;
}

/* The exec file: a hard link when only root can change it and it is on the same file system
 * (nothing copied), else a copy (a link to a file its owner may rewrite would let that user
 * change what root runs next). */
static int place_exec(const struct jail_config *cfg, const struct jail_plan *p, char *err,
		      size_t errlen)
{
	char dst[JAIL_PATH_MAX];
	struct stat st;
	if (jail_path_join(dst, sizeof(dst), p->root, p->exec_path) < 0)
		return jail_err(err, errlen, "jail path too long");
	if (stat(cfg->exec_file, &st) < 0)
		return jail_err(err, errlen, "--exec-file %s: %s", cfg->exec_file, strerror(errno));
	if (st.st_uid == 0 && !(st.st_mode & 022) &&
	    linkat(AT_FDCWD, cfg->exec_file, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	return copy_file(cfg->exec_file, dst, err, errlen);
}

/* Directories from the root down to path's parent (root-owned, 0755), then an empty file or
 * directory on which the child mounts the source. */
static int make_placeholder(const struct jail_plan *p, struct jail_mount *m, char *err,
			    size_t errlen)
{
	char path[JAIL_PATH_MAX];
	struct stat st;
	if (stat(m->src, &st) < 0)
		return jail_err(err, errlen, "--bind %s: %s", m->src, strerror(errno));
	m->dir = S_ISDIR(st.st_mode);
	if (jail_path_join(path, sizeof(path), p->root, m->dst) < 0)
		return jail_err(err, errlen, "jail path too long: %s", m->dst);
	if (jail_make_placeholder(path, strlen(p->root), m->dir) < 0)
		return jail_err(err, errlen, "cannot create %s: %s", path, strerror(errno));
	return 0;
}

int jail_make_placeholder(char *path, size_t skip, bool dir)
{
	for (char *s = path + skip + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		int r = mkdir(path, 0755);
		*s = '/';
		if (r < 0 && errno != EEXIST)
			return -1;
	}
	int fd = dir ? mkdir(path, 0755) : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0)
		return -1;
	if (!dir)
		close(fd);
	return 0;
}

static int build_tree(const struct jail_config *cfg, struct jail_plan *p, struct jail_made *made,
		      char *err, size_t errlen)
{
	if (make_base(cfg->base, made, err, errlen) < 0)
		return JAIL_EXIT_STEP;
	if (check_dir(cfg->base, true, err, errlen) < 0)
		return JAIL_EXIT_HOST;
	if (mkdir(p->exec_dir, 0755) == 0)
		made->exec_dir = true;
	else if (errno != EEXIST)
		return jail_err(err, errlen, "cannot create %s: %s", p->exec_dir, strerror(errno)),
		       JAIL_EXIT_STEP;
	if (check_dir(p->exec_dir, false, err, errlen) < 0)
		return JAIL_EXIT_HOST;
	if (mkdir(p->jail_dir, 0755) < 0) {
		if (errno == EEXIST)
			return jail_err(err, errlen, "jail %s already exists: another VM uses --id %s, or "
				       "an old jail was not removed", p->jail_dir, cfg->id), JAIL_EXIT_EXISTS;
		return jail_err(err, errlen, "cannot create %s: %s", p->jail_dir, strerror(errno)),
		       JAIL_EXIT_STEP;
	}
	made->jail_dir = true;
	if (mkdir(p->root, 0755) < 0)
		return jail_err(err, errlen, "cannot create %s: %s", p->root, strerror(errno)),
		       JAIL_EXIT_STEP;
	if (place_exec(cfg, p, err, errlen) < 0)
		return JAIL_EXIT_STEP;
	for (size_t i = 0; i < p->nlib_roots; i++) { /* the child mounts its tmpfs there */
		char path[JAIL_PATH_MAX];
		if (jail_path_join(path, sizeof(path), p->root, p->lib_roots[i]) < 0 || mkdir(path, 0755) < 0)
			return jail_err(err, errlen, "cannot create %s in the jail: %s", p->lib_roots[i],
					strerror(errno)), JAIL_EXIT_STEP;
	}
	for (size_t i = 0; i < p->nmounts; i++)
		if (!p->mounts[i].lib && make_placeholder(p, &p->mounts[i], err, errlen) < 0)
			return JAIL_EXIT_STEP;
	return 0;
}

int jail_build(const struct jail_config *cfg, struct jail_plan *p, struct jail_made *made,
	       char *err, size_t errlen)
{
	made->nbase = 0;
	made->exec_dir = made->jail_dir = false;
	int st = build_tree(cfg, p, made, err, errlen);
	if (st)
		jail_unbuild(p, made, NULL, 0);
	return st;
}

/* Removes name (in dirfd) and everything below it on file system dev, never following links. */
static int remove_tree_at(int at, const char *name, dev_t dev, int depth)
{
	struct stat st;
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(at, name, 0);
	if (st.st_dev != dev || depth > 64)
		return -1; /* a mount point, or absurdly deep: left alone */
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int r = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    remove_tree_at(dirfd(d), e->d_name, dev, depth + 1) < 0)
			r = -1;
	closedir(d);
	return r < 0 ? -1 : unlinkat(at, name, AT_REMOVEDIR);
}

int jail_unbuild(const struct jail_plan *p, struct jail_made *made, char *err, size_t errlen)
{
	int r = 0;
	struct stat st;
	if (made->jail_dir && stat(p->exec_dir, &st) == 0 &&
	    remove_tree_at(AT_FDCWD, p->jail_dir, st.st_dev, 0) < 0)
		r = jail_err(err, errlen, "cannot remove %s completely: %s", p->jail_dir, strerror(errno));
	made->jail_dir = false;
	if (made->exec_dir)
		rmdir(p->exec_dir); /* fails when another jail uses it by now: it stays */
	made->exec_dir = false;
	for (; made->nbase > 0; made->nbase--) { /* deepest first: base, then its parents */
		rmdir(made->base);
		*strrchr(made->base, '/') = '\0';
	}
	return r;
}
