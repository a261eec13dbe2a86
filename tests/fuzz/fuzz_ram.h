/* Guest RAM for a fuzz target: `size` bytes at guest-physical 0, created on the first call and
 * kept for the whole run (inputs leave bytes behind; each target resets what it relies on).
 * Failing to create it aborts: the target cannot run without it. */
#ifndef MOTE_FUZZ_RAM_H
#define MOTE_FUZZ_RAM_H

#include <stdio.h>
#include <stdlib.h>

#include "core/guest_mem.h"

static struct guest_mem *fuzz_ram(uint64_t size, const char *target)
{
	static struct guest_mem gm;
	const struct gm_region r[] = { { .gpa = 0, .size = size } };
	char err[128];

	if (!gm.base && gm_create(&gm, r, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: gm_create: %s\n", target, err);
		abort();
	}
	return &gm;
}

#endif
