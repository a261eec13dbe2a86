/* Listening Unix sockets (see usock.h): stale-socket detection, 0600 without a window. */
#include "core/usock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"

/* An existing PATH is reused only when it is a socket nobody listens on (a crashed mote's
 * leftover); anything else (a file, a live socket) is refused. */
int usock_listen(const char *what, const char *path, int *fd, bool *created, int backlog,
		 char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(err, errlen, "%s %s: the path is longer than %zu bytes", what, path,
			       sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return err_set(err, errlen, "%s %s exists and is not a socket: remove it "
				       "or choose another path", what, path);
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int r = probe < 0 ? -1 : connect(probe, (struct sockaddr *)&sa, sizeof(sa));
		int e = errno;
		if (probe >= 0)
			close(probe);
		if (r == 0)
			return err_set(err, errlen, "%s %s: another process serves this socket", what, path);
		if (e != ECONNREFUSED)
			return err_set(err, errlen, "%s %s: %s", what, path, strerror(e));
		if (unlink(path) < 0)
			return err_set(err, errlen, "%s %s: cannot remove the stale socket: %s", what,
				       path, strerror(errno));
		log_info("%s: removed the stale socket %s", what, path);
	}
	*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (*fd < 0)
		return err_set(err, errlen, "%s %s: socket: %s", what, path, strerror(errno));
	mode_t old = umask(0177); /* the socket file is born 0600: no window with wider rights */
	int r = bind(*fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	umask(old);
	if (r < 0)
		return err_set(err, errlen, "%s %s: %s", what, path, strerror(e));
	*created = true;
	if (listen(*fd, backlog) < 0)
		return err_set(err, errlen, "%s %s: listen: %s", what, path, strerror(errno));
	return 0;
}
