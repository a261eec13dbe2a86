/* A bus of address ranges (one instance for port I/O, one for MMIO).
 * Owns: the sorted range table. Ranges are registered once, before vCPUs start, and
 * overlaps are refused; afterwards the table is read-only, so lookups take no lock.
 * Devices are called with an offset inside their own window, never the bus address. */
#ifndef MOTE_CORE_BUS_H
#define MOTE_CORE_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUS_MAX_ACCESS 8 /* bytes in one access; PIO is 1/2/4, MMIO up to 8 */

/* Device callbacks. data is little-endian, len is 1..BUS_MAX_ACCESS, and
 * [off, off + len) lies inside the device's window. read must fill all len bytes.
 * Called from vCPU threads; a device serialises its own state. */
struct bus_ops {
	void (*read)(void *dev, uint64_t off, uint8_t *data, uint32_t len);
	void (*write)(void *dev, uint64_t off, const uint8_t *data, uint32_t len);
};

struct bus_range {
	uint64_t base;
	uint64_t size;
	const struct bus_ops *ops;
	void *dev;
	const char *name;
};

struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	struct bus_range *ranges; /* sorted by base */
	size_t n, cap;
};

void bus_init(struct bus *bus, const char *name);
void bus_free(struct bus *bus);

/* Registers [base, base + size). Returns 0, or -1 with errno: EINVAL (size 0, wraps,
 * NULL ops), EEXIST (overlaps a registered range), ENOMEM. */
int bus_register(struct bus *bus, uint64_t base, uint64_t size, const struct bus_ops *ops,
		 void *dev, const char *name);

/* The range wholly containing [addr, addr + len), or NULL (also for len 0 and overflow). */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint64_t len);

/* Performs one access. Returns false when no range contains the whole access
 * (or len is 0 or > BUS_MAX_ACCESS); the caller decides what the guest sees. */
bool bus_access(const struct bus *bus, uint64_t addr, bool is_write, uint8_t *data,
		uint32_t len);

#endif
