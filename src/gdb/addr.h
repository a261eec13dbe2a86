/* Where the GDB stub listens: --gdb-socket PATH (a Unix socket) or --gdb-tcp HOST:PORT on a
 * loopback address only (the remote protocol has no authentication: anyone who reaches the
 * port owns the guest). Pure parsing, for the command lines and the API. */
#ifndef MOTE_GDB_ADDR_H
#define MOTE_GDB_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define GDB_SOCKET_PATH_MAX 108 /* sun_path: 107 bytes and the NUL */

/* what names the option in messages ("--gdb-socket"). 0, or -1 with a one-line reason. */
int gdb_check_socket_path(const char *what, const char *path, char *err, size_t errlen);

/* "127.0.0.1:PORT", "localhost:PORT", "[::1]:PORT" (any 127.x.y.z); PORT 0..65535 (0: the
 * kernel picks one, which mote prints). *v6 is set for ::1; ip4 is in host order. */
int gdb_parse_tcp(const char *what, const char *s, int *v6, uint32_t *ip4, uint16_t *port,
		  char *err, size_t errlen);

#endif
