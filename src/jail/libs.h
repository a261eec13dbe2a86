/* The shared libraries a jailed exec file needs, found the way the dynamic loader will look for
 * them inside the jail: its interpreter (PT_INTERP), then every DT_NEEDED name and every
 * dlopen() note's library (elfdeps.h), recursively, in the loader's system directories only
 * (no ld.so.cache, no RUNPATH, no environment: the jail has none of them). Reads files only. */
#ifndef MOTE_JAIL_LIBS_H
#define MOTE_JAIL_LIBS_H

#include <stddef.h>

#include "jail/jail.h"

struct jail_lib {
	char jail_path[JAIL_PATH_MAX]; /* where the loader will look: "/lib/x86_64-linux-gnu/libc.so.6" */
	char host_path[JAIL_PATH_MAX]; /* the file on the host (the mount follows its links) */
};

struct jail_libs {
	struct jail_lib lib[JAIL_MAX_LIBS];
	size_t n; /* 0 for a static exec file */
};

/* sysroot is "" on a real host; the unit tests give a directory that holds a fake one.
 * unused: NULL, or a NULL-terminated list of dlopen features (their notes' "feature" names)
 * the VMM's arguments will not use; their libraries are left out unless "required".
 * 0, or -1 with one line: JAIL_EXIT_FILE for a missing or malformed file. */
int jail_libs_resolve(const char *sysroot, const char *exec_file, const char *const *unused,
		      struct jail_libs *out, char *err, size_t errlen);

/* The loader's system directories, in its search order (glibc on x86-64 Debian). */
extern const char *const jail_lib_dirs[];
extern const size_t jail_nlib_dirs;

#endif
