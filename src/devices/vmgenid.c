/* VM generation ID (see vmgenid.h): the ID page through the guest-memory gate, the notify as
 * one edge. Must not: keep the ID anywhere but guest memory (the snapshot carries it there). */
#include "devices/vmgenid.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "core/log.h"

static int fill_random(uint8_t *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = getrandom(p + done, n - done, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

/* A random ID unlike `old` (and never all zeroes, which reads as "no ID"). */
static int new_id(uint8_t id[VMGENID_SIZE], const uint8_t *old)
{
	static const uint8_t zero[VMGENID_SIZE];
	for (int tries = 0; tries < 8; tries++) {
		if (fill_random(id, VMGENID_SIZE) < 0)
			return -1;
		if (memcmp(id, zero, VMGENID_SIZE) && (!old || memcmp(id, old, VMGENID_SIZE)))
			return 0;
	}
	return -1;
}

static int write_area(const struct vmgenid *g, const uint8_t id[VMGENID_SIZE], uint64_t counter,
		      char *err, size_t errlen)
{
	uint8_t a[VMGENID_AREA];
	uint64_t le = htole64(counter);
	memcpy(a, id, VMGENID_SIZE);
	memcpy(a + VMGENID_COUNTER_OFF, &le, 8);
	if (gm_write(g->gm, g->gpa, a, sizeof(a)) < 0)
		return err_set(err, errlen, "vmgenid: 0x%llx is not guest RAM",
			       (unsigned long long)g->gpa);
	return 0;
}

int vmgenid_init(struct vmgenid *g, const struct guest_mem *gm, uint64_t gpa,
		 const struct irq_line *irq, char *err, size_t errlen)
{
	if (gpa % 8 || !gm_ptr(gm, gpa, VMGENID_AREA))
		return err_set(err, errlen, "vmgenid: 0x%llx is not 8-byte aligned guest RAM",
			       (unsigned long long)gpa);
	*g = (struct vmgenid){.gm = gm, .gpa = gpa, .irq = irq ? *irq : (struct irq_line){0}};
	return 0;
}

int vmgenid_boot(struct vmgenid *g, char *err, size_t errlen)
{
	uint8_t id[VMGENID_SIZE];

	if (!g->gm)
		return err_set(err, errlen, "vmgenid: not attached");
	if (new_id(id, NULL) < 0)
		return err_set(err, errlen, "vmgenid: getrandom: %s", strerror(errno));
	return write_area(g, id, 0, err, errlen);
}

int vmgenid_read(const struct vmgenid *g, uint8_t id[VMGENID_SIZE], uint64_t *counter)
{
	uint8_t a[VMGENID_AREA];
	uint64_t le;
	if (!g->gm || gm_read(g->gm, g->gpa, a, sizeof(a)) < 0)
		return -1;
	memcpy(id, a, VMGENID_SIZE);
	memcpy(&le, a + VMGENID_COUNTER_OFF, 8);
	*counter = le64toh(le);
	return 0;
}

int vmgenid_regenerate(struct vmgenid *g, char *err, size_t errlen)
{
	uint8_t old[VMGENID_SIZE], id[VMGENID_SIZE];
	uint64_t counter;

	if (vmgenid_read(g, old, &counter) < 0)
		return err_set(err, errlen, "vmgenid: not attached, or the ID page is not guest RAM");
	if (new_id(id, old) < 0)
		return err_set(err, errlen, "vmgenid: getrandom: %s", strerror(errno));
	if (write_area(g, id, counter + 1, err, errlen) < 0)
		return -1;
	/* The ID is in memory before the edge: the guest's handler reads the new one. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	irq_set(&g->irq, 1);
	irq_set(&g->irq, 0);
	return 0;
}
