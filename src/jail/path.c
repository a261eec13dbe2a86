/* Path and name checks of the jailer (see path.h). Pure string work: nothing here touches
 * the file system, so every rule is unit-tested (tests/unit/test_jail.c). */
#include "jail/path.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jail/jail.h"

int jail_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int jail_path_normalise(const char *in, const char *what, char *out, size_t outlen, char *err,
			size_t errlen)
{
	size_t n = 0;
	const char *p = in;
	if (!*in)
		return jail_err(err, errlen, "%s: empty path", what);
	for (const char *c = in; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return jail_err(err, errlen, "%s: control character in path", what);
	while (*p) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (len == 0)
			break;
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return jail_err(err, errlen, "%s %s: '..' would leave the jail; give the path "
				       "inside the jail without '..'", what, in);
		if (!(len == 1 && p[0] == '.')) {
			if (n + 1 + len + 1 > outlen)
				return jail_err(err, errlen, "%s: path too long (at most %zu bytes)", what,
						outlen - 1);
			out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p += len;
	}
	if (n == 0)
		return jail_err(err, errlen, "%s %s: the jail's root itself cannot be used; name a "
			       "file or directory inside it", what, in);
	out[n] = '\0';
	return 0;
}

static bool name_char_ok(char c, const char *extra)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr(extra, c));
}

int jail_name_check(const char *name, const char *what, size_t max, const char *extra, char *err,
		    size_t errlen)
{
	size_t len = strlen(name);
	if (len == 0)
		return jail_err(err, errlen, "%s: empty", what);
	if (len > max)
		return jail_err(err, errlen, "%s: %zu characters, at most %zu allowed", what, len, max);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return jail_err(err, errlen, "%s: '%s' is not a name", what, name);
	for (size_t i = 0; i < len; i++)
		if (!name_char_ok(name[i], extra))
			return jail_err(err, errlen, "%s '%s': character '%c' not allowed (letters, "
				       "digits%s%s)", what, name, name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?',
				       *extra ? " and " : "", extra);
	return 0;
}

int jail_relpath_check(const char *path, const char *what, char *err, size_t errlen)
{
	char part[JAIL_PATH_MAX];
	if (!*path)
		return jail_err(err, errlen, "%s: empty", what);
	if (path[0] == '/')
		return jail_err(err, errlen, "%s %s: must be relative to the cgroup hierarchy's root "
			       "(drop the leading '/')", what, path);
	if (strlen(path) >= sizeof(part))
		return jail_err(err, errlen, "%s: too long", what);
	for (const char *p = path; *p;) {
		size_t len = strcspn(p, "/");
		memcpy(part, p, len);
		part[len] = '\0';
		if (jail_name_check(part, what, 255, "-_.:@", err, errlen) < 0)
			return -1;
		p += len;
		if (*p == '/' && *++p == '\0')
			return jail_err(err, errlen, "%s %s: trailing '/'", what, path);
	}
	return 0;
}

int jail_path_join(char *out, size_t outlen, const char *a, const char *b)
{
	while (*b == '/')
		b++;
	size_t la = strlen(a);
	while (la > 0 && a[la - 1] == '/')
		la--;
	int n = snprintf(out, outlen, "%.*s/%s", (int)la, a, b);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

bool jail_path_contains(const char *a, const char *b)
{
	size_t la = strlen(a);
	return !strncmp(a, b, la) && (b[la] == '\0' || b[la] == '/');
}

const char *jail_path_base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}
