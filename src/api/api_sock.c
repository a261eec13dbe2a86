/* The API's Unix socket: a core/usock listener named after its option. */
#include "api/api_sock.h"

#include "core/usock.h"

int api_sock_create(const char *path, int *fd, bool *created, int backlog, char *err, size_t errlen)
{
	return usock_listen("--api-sock", path, fd, created, backlog, err, errlen);
}
