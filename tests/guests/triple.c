/* triple: triple-faults on purpose. The runtime's IDT has limit 0, so the
 * #UD from ud2 (at ring 3 or ring 0) becomes #GP, then #DF, then a shutdown. */
#include "rt.h"

int main(void)
{
	rt_puts("triple: faulting now\n");
	__asm__ volatile("ud2");
	rt_puts("triple: still alive\n");
	return 2;
}
