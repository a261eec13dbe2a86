/* libFuzzer target for what mote-jailer parses beyond argv: an exec file's or library's ELF
 * dependencies (src/jail/elfdeps.c: program headers, DT_NEEDED, the dlopen note's JSON) and the
 * mount table it reads to find cgroup hierarchies (src/jail/cgroup.c), plus the jail-path rules
 * on the same bytes. The first byte picks the parser. Each input is accepted or refused with one
 * line, never a crash; what is accepted keeps the promises the jail relies on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jail/cgroup.h"
#include "jail/elfdeps.h"
#include "jail/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_deps(const struct elfdeps *d)
{
	if (d->interp[0] && d->interp[0] != '/')
		abort();
	if (d->nneeded > ELFDEPS_MAX_NEEDED || d->ndl > ELFDEPS_MAX_DLOPEN)
		abort();
	for (size_t i = 0; i < d->nneeded; i++)
		if (!elfdeps_soname_ok(d->needed[i]))
			abort();
	for (size_t i = 0; i < d->ndl; i++) {
		if (d->dl[i].nsonames < 1 || d->dl[i].nsonames > ELFDEPS_MAX_ALTERNATIVES)
			abort();
		for (size_t k = 0; k < d->dl[i].nsonames; k++)
			if (!elfdeps_soname_ok(d->dl[i].soname[k]))
				abort();
	}
}

static void check_path(const uint8_t *data, size_t size)
{
	char in[512], out[512], err[256] = "";
	size_t n = size < sizeof(in) - 1 ? size : sizeof(in) - 1;
	memcpy(in, data, n);
	in[n] = '\0';
	if (jail_path_normalise(in, "path", out, sizeof(out), err, sizeof(err)) < 0) {
		if (!err[0] || strchr(err, '\n'))
			abort();
		return;
	}
	/* accepted: absolute, no "..", ".", empty component or trailing '/' */
	if (out[0] != '/' || strstr(out, "//") || out[strlen(out) - 1] == '/')
		abort();
	for (const char *p = out; (p = strchr(p, '/')); p++)
		if ((p[1] == '.' && (p[2] == '/' || !p[2])) ||
		    (p[1] == '.' && p[2] == '.' && (p[3] == '/' || !p[3])))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct elfdeps d;
	static struct jail_cg_mounts m;
	char err[256] = "";
	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0) {
		if (elfdeps_read(data + 1, size - 1, &d, err, sizeof(err)) < 0) {
			if (!err[0] || strchr(err, '\n'))
				abort();
		} else {
			check_deps(&d);
		}
		return 0;
	}
	jail_cg_parse_mounts((const char *)data + 1, size - 1, &m);
	if (m.n > JAIL_CG_MAX_MOUNTS)
		abort();
	for (size_t i = 0; i < m.n; i++)
		if (m.m[i].path[0] != '/' || (m.m[i].version != 1 && m.m[i].version != 2))
			abort();
	check_path(data + 1, size - 1);
	return 0;
}
