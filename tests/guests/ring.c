/* ring: reports the privilege level main() runs at (3 by default, 0 with the
 * word `ring0` on the command line) and exits with status 1. */
#include "rt.h"

int main(void)
{
	rt_printf("ring: cpl=%u\n", rt_cpl());
	return 0;
}
