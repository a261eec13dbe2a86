/* Listening Unix sockets that mote creates for host programs (the API socket, the vsock
 * device's socket): born mode 0600 without a window (umask around bind), an existing path
 * reused only when it is a stale socket nobody listens on, anything else refused. */
#ifndef MOTE_CORE_USOCK_H
#define MOTE_CORE_USOCK_H

#include <stdbool.h>
#include <stddef.h>

/* Creates, binds (mode 0600) and listens on path (non-blocking, close-on-exec). what names the
 * option in messages ("--api-sock"). *fd is the socket (also on failure after it was made: the
 * caller closes it), *created whether path now names our socket (the caller unlinks it).
 * Returns 0, or -1 with a one-line reason in err. */
int usock_listen(const char *what, const char *path, int *fd, bool *created, int backlog,
		 char *err, size_t errlen);

#endif
