/* genid: prints the VM generation ID and the restore counter mote keeps at 0xdf000
 * (docs/snapshot-devices.md) as "genid <32 hex digits> counter N", then exits with status 0;
 * with `watch`, keeps looking every spin= busy-loop iterations (default 20000000, a few ms at
 * ring 3) and prints the line again whenever the ID or the counter changed (a snapshot
 * restore: each clone prints its own ID), exiting after changes= changes (0: never). Between
 * lines it prints "genid-alive N" every alive= looks (0: never), so a test sees it running. */
#include "rt.h"

#define GENID_GPA 0xdf000ul /* X86_VMGENID_GPA */

struct genid {
	u8 id[16];
	u64 counter;
};

static struct genid look(void)
{
	struct genid g;
	for (int i = 0; i < 16; i++)
		g.id[i] = mmio_read8(GENID_GPA + (uptr)i);
	g.counter = mmio_read64(GENID_GPA + 16);
	return g;
}

static int same(const struct genid *a, const struct genid *b)
{
	for (int i = 0; i < 16; i++)
		if (a->id[i] != b->id[i])
			return 0;
	return a->counter == b->counter;
}

static void show(const struct genid *g)
{
	rt_printf("genid ");
	for (int i = 0; i < 16; i++)
		rt_printf("%02x", g->id[i]);
	rt_printf(" counter %llu\n", (unsigned long long)g->counter);
}

int main(void)
{
	u64 spin = rt_cmdline_u64("spin", 20000000);
	u64 changes = rt_cmdline_u64("changes", 0);
	u64 alive = rt_cmdline_u64("alive", 0);
	struct genid last = look();
	show(&last);
	if (!rt_cmdline_has("watch"))
		return 0;
	for (u64 n = 1, seen = 0;; n++) {
		for (volatile u64 i = 0; i < spin; i++)
			;
		struct genid now = look();
		if (!same(&now, &last)) {
			show(&now);
			last = now;
			if (changes && ++seen >= changes)
				return 0;
		}
		if (alive && n % alive == 0)
			rt_printf("genid-alive %llu\n", (unsigned long long)n);
	}
}
