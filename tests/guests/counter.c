/* counter: prints "counter N" every spin= iterations of a busy loop (default 20000000, a few
 * ms at ring 3) for ever, or until N reaches max= (then exits with status 0). The API tests
 * watch N to see a paused VM stop and a resumed one go on. With `smp` on the command line
 * (and mote --cpus 2) the second vCPU is started too and counts in memory (at ring 0, one
 * step per apspin= iterations, default 100), and each line reads "counter N ap M": the
 * snapshot tests see both vCPUs go on from where they were. */
#include "rt.h"

static volatile u64 ap_count;
static u64 ap_spin;
static u8 ap_stack[8192] __attribute__((aligned(16)));

static void ap_main(void)
{
	for (;;) {
		for (volatile u64 i = 0; i < ap_spin; i++)
			;
		ap_count++;
	}
}

int main(void)
{
	u64 spin = rt_cmdline_u64("spin", 20000000);
	u64 max = rt_cmdline_u64("max", 0);
	int smp = rt_cmdline_has("smp");
	ap_spin = rt_cmdline_u64("apspin", 100);
	if (smp)
		rt_start_ap(1, ap_main, ap_stack + sizeof(ap_stack));
	for (u64 n = 1;; n++) {
		for (volatile u64 i = 0; i < spin; i++)
			;
		if (smp)
			rt_printf("counter %llu ap %llu\n", n, ap_count);
		else
			rt_printf("counter %llu\n", n);
		if (max && n >= max)
			return 0;
	}
}
