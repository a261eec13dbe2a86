/* Guest-RAM accessors for unit tests that play a virtio driver. The including test owns one
 * guest memory, `gm` (defined here), and creates it with gm_create; every access is checked
 * through the gate, so a test that strays outside its RAM fails instead of crashing. */
#ifndef MOTE_TEST_GUEST_RAM_H
#define MOTE_TEST_GUEST_RAM_H

#include <stdint.h>

#include "core/guest_mem.h"
#include "test.h"

static struct guest_mem gm;

static inline void put16(uint64_t gpa, uint16_t v) { CHECK_EQ(gm_write(&gm, gpa, &v, 2), 0); }

static inline uint16_t get16(uint64_t gpa)
{
	uint16_t v = 0;
	CHECK_EQ(gm_read(&gm, gpa, &v, 2), 0);
	return v;
}

static inline uint32_t get32(uint64_t gpa)
{
	uint32_t v = 0;
	CHECK_EQ(gm_read(&gm, gpa, &v, 4), 0);
	return v;
}

/* Host view of [gpa, gpa + len): NULL when the range is not RAM. */
static inline uint8_t *host(uint64_t gpa, uint64_t len) { return gm_ptr(&gm, gpa, len); }

#endif
