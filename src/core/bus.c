/* Bus range table: registration with overlap refusal, overflow-aware lookup, dispatch.
 * Knows nothing of KVM or of any particular device. */
#include "core/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

void bus_free(struct bus *bus)
{
	free(bus->ranges);
	bus->ranges = NULL;
	bus->n = bus->cap = 0;
}

/* Last byte of a range; ranges never wrap, so this is exact. */
static uint64_t range_last(const struct bus_range *r) { return r->base + (r->size - 1); }

int bus_register(struct bus *bus, uint64_t base, uint64_t size, const struct bus_ops *ops,
		 void *dev, const char *name)
{
	if (size == 0 || !ops || base + (size - 1) < base) {
		errno = EINVAL;
		return -1;
	}
	uint64_t last = base + (size - 1);
	size_t pos = 0;
	while (pos < bus->n && bus->ranges[pos].base < base)
		pos++;
	if (pos > 0 && range_last(&bus->ranges[pos - 1]) >= base) {
		errno = EEXIST;
		return -1;
	}
	if (pos < bus->n && bus->ranges[pos].base <= last) {
		errno = EEXIST;
		return -1;
	}
	if (bus->n == bus->cap) {
		size_t cap = bus->cap ? bus->cap * 2 : 8;
		struct bus_range *r = realloc(bus->ranges, cap * sizeof(*r));
		if (!r) {
			errno = ENOMEM;
			return -1;
		}
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos], (bus->n - pos) * sizeof(*bus->ranges));
	bus->ranges[pos] = (struct bus_range){
		.base = base, .size = size, .ops = ops, .dev = dev, .name = name};
	bus->n++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint64_t len)
{
	if (len == 0 || addr + (len - 1) < addr)
		return NULL;
	/* Binary search for the last range with base <= addr. */
	size_t lo = 0, hi = bus->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (bus->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct bus_range *r = &bus->ranges[lo - 1];
	uint64_t off = addr - r->base;
	if (off >= r->size || len > r->size - off)
		return NULL;
	return r;
}

bool bus_access(const struct bus *bus, uint64_t addr, bool is_write, uint8_t *data,
		uint32_t len)
{
	if (len == 0 || len > BUS_MAX_ACCESS)
		return false;
	const struct bus_range *r = bus_find(bus, addr, len);
	if (!r)
		return false;
	if (is_write) {
		if (r->ops->write)
			r->ops->write(r->dev, addr - r->base, data, len);
	} else if (r->ops->read) {
		r->ops->read(r->dev, addr - r->base, data, len);
	} else {
		memset(data, 0, len);
	}
	return true;
}
