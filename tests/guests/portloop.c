/* portloop: count= (default 100000) writes of 0 to port 0x80, in a tight
 * loop, to measure the cost of one port-I/O exit. */
#include "rt.h"

int main(void)
{
	u64 n = rt_cmdline_u64("count", 100000);
	for (u64 i = 0; i < n; i++)
		outb(0x80, 0);
	rt_printf("portloop: done %llu\n", n);
	return 0;
}
