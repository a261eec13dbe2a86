/* The API's listening Unix socket (no HTTP here). */
#ifndef MOTE_API_API_SOCK_H
#define MOTE_API_API_SOCK_H

#include <stdbool.h>
#include <stddef.h>

/* Creates, binds (mode 0600) and listens on path. An existing path is replaced only when it is
 * a socket nobody listens on; a live socket or another file is refused. *fd is the socket
 * (also on failure after it was made: the caller closes it), *created whether path now names
 * our socket (the caller unlinks it). Returns 0, or -1 with a one-line reason in err. */
int api_sock_create(const char *path, int *fd, bool *created, int backlog, char *err, size_t errlen);

#endif
