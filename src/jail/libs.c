/* The exec file's shared-library closure (see libs.h): a breadth-first walk over DT_NEEDED and
 * dlopen notes, each name looked up in the loader's system directories, each candidate checked
 * to be an x86-64 ELF file (the loader skips others too). Must not: run the file (no ldd). */
#include "jail/libs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jail/elfdeps.h"
#include "jail/path.h"

#define MAX_ELF_BYTES (1ull << 30)

const char *const jail_lib_dirs[] = {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib",
				     "/usr/lib"};
const size_t jail_nlib_dirs = sizeof(jail_lib_dirs) / sizeof(jail_lib_dirs[0]);

struct want {
	char soname[ELFDEPS_SONAME_MAX + 1];
	char who[ELFDEPS_SONAME_MAX + 1]; /* the file that needs it, for the message */
	bool optional;                    /* a dlopen library that is not "required" */
};

struct walk {
	const char *sysroot;
	const char *const *unused; /* dlopen features not to place (NULL-terminated, or NULL) */
	struct jail_libs *out;
	struct want queue[JAIL_MAX_LIBS * 2]; /* names found or still to find */
	size_t nqueue, next;
	struct elfdeps deps; /* of the file read last */
};

/* Maps path and reads its dependencies into w->deps. 0, or -1 with the reason in err. */
static int read_deps(struct walk *w, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return jail_err(err, errlen, "%s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
	    (uint64_t)st.st_size > MAX_ELF_BYTES) {
		close(fd);
		return jail_err(err, errlen, "not a regular file of 1 byte to 1 GiB");
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return jail_err(err, errlen, "cannot map it: %s", strerror(errno));
	int r = elfdeps_read(m, (size_t)st.st_size, &w->deps, err, errlen);
	munmap(m, (size_t)st.st_size);
	return r;
}

static bool known(const struct walk *w, const char *soname)
{
	for (size_t i = 0; i < w->out->n; i++)
		if (!strcmp(jail_path_base(w->out->lib[i].jail_path), soname))
			return true;
	for (size_t i = 0; i < w->nqueue; i++)
		if (!strcmp(w->queue[i].soname, soname))
			return true;
	return false;
}

static int enqueue(struct walk *w, const char *soname, const char *who, bool optional, char *err,
		   size_t errlen)
{
	if (known(w, soname))
		return 0;
	if (w->nqueue == sizeof(w->queue) / sizeof(w->queue[0]))
		return jail_err(err, errlen, "more than %d shared libraries", JAIL_MAX_LIBS);
	struct want *q = &w->queue[w->nqueue++];
	snprintf(q->soname, sizeof(q->soname), "%s", soname);
	snprintf(q->who, sizeof(q->who), "%s", who);
	q->optional = optional;
	return 0;
}

static int add(struct walk *w, const char *jail_path, const char *host, char *err, size_t errlen)
{
	if (w->out->n == JAIL_MAX_LIBS)
		return jail_err(err, errlen, "more than %d shared libraries", JAIL_MAX_LIBS);
	struct jail_lib *l = &w->out->lib[w->out->n];
	if (jail_path_normalise(jail_path, "library", l->jail_path, sizeof(l->jail_path), err,
				errlen) < 0)
		return -1;
	snprintf(l->host_path, sizeof(l->host_path), "%s", host); /* fits: host is JAIL_PATH_MAX */
	w->out->n++;
	return 0;
}

/* The host path of soname in system directory d. */
static int host_path(const struct walk *w, size_t d, const char *soname, char *jail, char *host)
{
	if (jail_path_join(jail, JAIL_PATH_MAX, jail_lib_dirs[d], soname) < 0 ||
	    snprintf(host, JAIL_PATH_MAX, "%s%s", w->sysroot, jail) >= JAIL_PATH_MAX)
		return -1;
	return 0;
}

/* Finds soname in the system directories: 1 found (w->deps holds its dependencies), 0 not. */
static int find(struct walk *w, const char *soname, char *err, size_t errlen)
{
	char host[JAIL_PATH_MAX], jail[JAIL_PATH_MAX], why[256];
	for (size_t d = 0; d < jail_nlib_dirs; d++) {
		if (host_path(w, d, soname, jail, host) < 0)
			return jail_err(err, errlen, "library path too long");
		if (read_deps(w, host, why, sizeof(why)) < 0)
			continue; /* missing, or not for this machine: the loader skips it too */
		return add(w, jail, host, err, errlen) < 0 ? -1 : 1;
	}
	return 0;
}

static bool exists(const struct walk *w, const char *soname)
{
	char host[JAIL_PATH_MAX], jail[JAIL_PATH_MAX];
	for (size_t d = 0; d < jail_nlib_dirs; d++)
		if (host_path(w, d, soname, jail, host) == 0 && access(host, F_OK) == 0)
			return true;
	return false;
}

static bool unused_feature(const struct walk *w, const char *feature)
{
	for (const char *const *u = w->unused; u && *u && feature[0]; u++)
		if (!strcmp(*u, feature))
			return true;
	return false;
}

/* The dependencies in w->deps go into the queue: every DT_NEEDED name, and for each dlopen
 * feature the first of its names that exists (a "required" one must). */
static int take_deps(struct walk *w, const char *who, char *err, size_t errlen)
{
	const struct elfdeps *d = &w->deps;
	for (size_t i = 0; i < d->nneeded; i++)
		if (enqueue(w, d->needed[i], who, false, err, errlen) < 0)
			return -1;
	for (size_t i = 0; i < d->ndl; i++) {
		const struct elfdeps_dlopen *dl = &d->dl[i];
		const char *pick = NULL;
		if (!dl->required && unused_feature(w, dl->feature))
			continue;
		for (size_t k = 0; k < dl->nsonames && !pick; k++)
			if (known(w, dl->soname[k]) || exists(w, dl->soname[k]))
				pick = dl->soname[k];
		if (!pick && dl->required)
			return jail_err(err, errlen, "%s dlopen()s %s (required), which is not in the "
				       "system library directories", who, dl->soname[0]);
		if (pick && enqueue(w, pick, who, !dl->required, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int walk(struct walk *w, const char *exec_file, char *err, size_t errlen)
{
	char why[256], host[JAIL_PATH_MAX];
	if (read_deps(w, exec_file, why, sizeof(why)) < 0)
		return jail_err(err, errlen, "--exec-file %s: %s", exec_file, why);
	if (!w->deps.interp[0]) {
		/* static: only what its dlopen notes name (build/mote's libmicrohttpd, which
		 * brings its own libc.so); a shared library has DT_NEEDED but no interpreter */
		if (w->deps.nneeded)
			return jail_err(err, errlen, "--exec-file %s: a shared library, not a program "
				       "(no PT_INTERP)", exec_file);
	} else {
		if (snprintf(host, sizeof(host), "%s%s", w->sysroot, w->deps.interp) >= (int)sizeof(host) ||
		    access(host, F_OK) < 0)
			return jail_err(err, errlen, "--exec-file %s: its interpreter %s does not exist",
					exec_file, w->deps.interp);
		if (add(w, w->deps.interp, host, err, errlen) < 0) /* add() leaves w->deps alone */
			return -1;
	}
	if (take_deps(w, jail_path_base(exec_file), err, errlen) < 0)
		return -1;
	while (w->next < w->nqueue) {
		const struct want *q = &w->queue[w->next++];
		int r = find(w, q->soname, err, errlen);
		if (r < 0)
			return -1;
		if (r == 0 && !q->optional)
			return jail_err(err, errlen, "%s needs %s, which is not in the system library "
				       "directories (/lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, "
				       "/lib, /usr/lib)", q->who, q->soname);
		if (r == 1 && take_deps(w, q->soname, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int jail_libs_resolve(const char *sysroot, const char *exec_file, const char *const *unused,
		      struct jail_libs *out, char *err, size_t errlen)
{
	out->n = 0; /* entries are written whole as they are found */
	struct walk *w = calloc(1, sizeof(*w)); /* ~100 KiB of names and headers */
	if (!w)
		return jail_err(err, errlen, "out of memory");
	w->sysroot = sysroot;
	w->unused = unused;
	w->out = out;
	int r = walk(w, exec_file, err, errlen);
	free(w);
	return r;
}
