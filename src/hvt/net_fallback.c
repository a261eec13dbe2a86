/* Until src/backends/net_tap.c (the tap backend, written in parallel) is in the tree, a weak
 * net_tap_open that refuses with a clear message; the real one overrides it at link time.
 * Remove this file once net_tap.c is on main. */
#include "backends/net.h"

#include "core/log.h"

__attribute__((weak)) int net_tap_open(const char *ifname, unsigned vnet_hdr_len,
				       struct net_backend *out, char *err, size_t errlen)
{
	(void)vnet_hdr_len;
	(void)out;
	return err_set(err, errlen, "cannot attach tap '%s': this mote is built without the tap "
				    "backend", ifname);
}
