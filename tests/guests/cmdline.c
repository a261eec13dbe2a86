/* cmdline: echoes the whole command line and exits with exit=N
 * (status 2N+1; default N=0). */
#include "rt.h"

int main(void)
{
	rt_printf("cmdline: %s\n", rt_cmdline());
	return (int)rt_cmdline_u64("exit", 0);
}
