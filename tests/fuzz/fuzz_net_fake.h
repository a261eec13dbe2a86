/* An in-memory network backend for the hvt fuzz targets: recv hands out one 60-byte frame
 * (or -EMSGSIZE into a smaller buffer), send takes any frame, and both abort on what the
 * tender must never pass them (an empty or oversized iovec): the checks under test. */
#ifndef MOTE_FUZZ_NET_FAKE_H
#define MOTE_FUZZ_NET_FAKE_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backends/net.h"

static ssize_t fuzz_net_recv(void *be, const struct iovec *iov, int n)
{
	(void)be;
	if (n != 1 || iov[0].iov_len == 0)
		abort();
	if (iov[0].iov_len < 60)
		return -EMSGSIZE;
	memset(iov[0].iov_base, 0xab, 60);
	return 60;
}
static int fuzz_net_send(void *be, const struct iovec *iov, int n)
{
	(void)be;
	if (n != 1 || iov[0].iov_len == 0 || iov[0].iov_len > 65536)
		abort();
	return 0;
}
static int fuzz_net_fd(void *be) { (void)be; return -1; } /* poll ignores negative fds */
static int fuzz_net_off(void *be, unsigned f) { (void)be; (void)f; return 0; }
static void fuzz_net_close(void *be) { (void)be; }
static const struct net_backend_ops fuzz_net_ops = {fuzz_net_recv, fuzz_net_send, fuzz_net_fd,
						     fuzz_net_off, fuzz_net_close};

#endif
