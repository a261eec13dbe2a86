/* hello: the smallest guest. Prints one line and exits with status 1
 * (rt_exit(0)). */
#include "rt.h"

int main(void)
{
	rt_puts("Hello from a mote guest\n");
	return 0;
}
