/* debug-exit: the guest's value becomes the exit status (v << 1) | 1 (truncated to 8 bits by
 * the OS, as with QEMU). absent: writes are swallowed, reads return all ones. */
#include "devices/debug_exit.h"

#include <string.h>

static void dbg_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)off;
	memset(data, 0, len);
}

static void dbg_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	(void)off;
	uint64_t v = 0;
	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)data[i] << (8 * i);
	stop_request(dev, (int)(((v << 1) | 1) & 0xff), NULL);
}

const struct bus_ops debug_exit_ops = {.read = dbg_read, .write = dbg_write};

static void absent_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)off;
	memset(data, 0xff, len);
}

static void absent_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)off;
	(void)data;
	(void)len;
}

const struct bus_ops absent_ops = {.read = absent_read, .write = absent_write};
