/* --gdb-socket / --gdb-tcp values (addr.h). */
#include "gdb/addr.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

int gdb_check_socket_path(const char *what, const char *path, char *err, size_t errlen)
{
	if (!path || !*path)
		return err_set(err, errlen, "%s needs a path for the Unix socket gdb connects to", what);
	if (strlen(path) > GDB_SOCKET_PATH_MAX - 1)
		return err_set(err, errlen, "%s: the path is longer than %d bytes (a Unix socket "
				            "address): choose a shorter one", what, GDB_SOCKET_PATH_MAX - 1);
	return 0;
}

static int parse_ip4(const char *s, size_t n, uint32_t *ip)
{
	uint32_t v = 0;
	unsigned parts = 0;
	size_t i = 0;
	while (i < n && parts < 4) {
		unsigned x = 0, digits = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4)
			x = x * 10 + (unsigned)(s[i++] - '0'), digits++;
		if (digits == 0 || digits > 3 || x > 255)
			return -1;
		v = v << 8 | x;
		parts++;
		if (i < n && s[i] == '.' && parts < 4)
			i++;
		else
			break;
	}
	if (parts != 4 || i != n)
		return -1;
	*ip = v;
	return 0;
}

int gdb_parse_tcp(const char *what, const char *s, int *v6, uint32_t *ip4, uint16_t *port,
		  char *err, size_t errlen)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	if (!colon || colon == s)
		return err_set(err, errlen, "%s '%s': give HOST:PORT, e.g. 127.0.0.1:1234", what,
			       s ? s : "");
	char *end;
	const char *p = colon + 1;
	unsigned long v = (*p >= '0' && *p <= '9') ? strtoul(p, &end, 10) : 0;
	if (!(*p >= '0' && *p <= '9') || *end || v > 65535)
		return err_set(err, errlen, "%s '%s': the port must be a number from 0 to 65535", what,
			       s);
	size_t hn = (size_t)(colon - s);
	*v6 = 0;
	if ((hn == 5 && !memcmp(s, "[::1]", 5))) {
		*v6 = 1;
	} else if (hn == 9 && !memcmp(s, "localhost", 9)) {
		*ip4 = 0x7f000001;
	} else if (parse_ip4(s, hn, ip4) < 0) {
		return err_set(err, errlen, "%s '%s': the host must be a loopback address "
				            "(127.0.0.1, localhost or [::1])", what, s);
	} else if ((*ip4 >> 24) != 127) {
		return err_set(err, errlen, "%s '%s': refusing a non-loopback address: gdb's protocol "
				            "has no authentication, anyone reaching the port controls the "
				            "guest; use 127.0.0.1 (and an SSH tunnel from elsewhere)", what, s);
	}
	*port = (uint16_t)v;
	return 0;
}
