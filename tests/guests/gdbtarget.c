/* gdbtarget: the GDB stub's test guest (tests/integration/gdb.sh). It calls gdb_target_func(i)
 * for i = 1..n= (default 3), which adds i to the global gdb_counter, prints
 * "gdbtarget: counter N" and exits with value N (status 2N+1). With `spin` it then spins
 * for ever incrementing gdb_spins (for gdb's interrupt). Built with -g: gdb finds the names. */
#include "rt.h"

volatile u64 gdb_counter;
volatile u64 gdb_spins;

__attribute__((noinline)) u64 gdb_target_func(u64 x)
{
	gdb_counter += x;
	return gdb_counter;
}

int main(void)
{
	u64 n = rt_cmdline_u64("n", 3);
	for (u64 i = 1; i <= n; i++)
		gdb_target_func(i);
	rt_printf("gdbtarget: counter %llu\n", gdb_counter);
	if (rt_cmdline_has("spin"))
		for (;;)
			gdb_spins++;
	return (int)(gdb_counter & 0x7f);
}
