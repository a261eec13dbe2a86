/* Path and name checks of the jailer. Pure string work, no file system: a path inside the jail
 * never escapes it (no "..", normalised to "/a/b"), names are single components of a fixed
 * character set, and every join is checked for truncation. */
#ifndef MOTE_JAIL_PATH_H
#define MOTE_JAIL_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* A path inside the jail ("disk.img", "/run/api.sock") -> "/disk.img", "/run/api.sock":
 * duplicate slashes and "." components dropped; refused: empty, the root itself, "..",
 * control characters, too long. 0, or -1 with a one-line reason naming what. */
int jail_path_normalise(const char *in, const char *what, char *out, size_t outlen, char *err,
			size_t errlen);

/* A name that becomes one path component (--id, the exec file's name, a cgroup level):
 * 1..max bytes of letters, digits and the characters in extra; never "." or "..". */
int jail_name_check(const char *name, const char *what, size_t max, const char *extra, char *err,
		    size_t errlen);

/* A relative path of names (--parent-cgroup "a/b"): each component passes jail_name_check. */
int jail_relpath_check(const char *path, const char *what, char *err, size_t errlen);

/* out = a + "/" + b (b may start with '/'); -1 when it does not fit. */
int jail_path_join(char *out, size_t outlen, const char *a, const char *b);

/* a is b, or a directory above b ("/lib" contains "/lib/x.so"; "/li" does not). */
bool jail_path_contains(const char *a, const char *b);

/* The last component of a path ("build/mote" -> "mote"); "" when the path ends in '/'. */
const char *jail_path_base(const char *path);

#endif
