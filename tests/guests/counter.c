/* counter: prints "counter N" every spin= iterations of a busy loop (default 20000000, a few
 * ms at ring 3) for ever, or until N reaches max= (then exits with status 0). The API tests
 * watch N to see a paused VM stop and a resumed one go on. */
#include "rt.h"

int main(void)
{
	u64 spin = rt_cmdline_u64("spin", 20000000);
	u64 max = rt_cmdline_u64("max", 0);
	for (u64 n = 1;; n++) {
		for (volatile u64 i = 0; i < spin; i++)
			;
		rt_printf("counter %llu\n", n);
		if (max && n >= max)
			return 0;
	}
}
