/* reset: asks the i8042 for a system reset (0xfe to port 0x64); the VMM
 * should end the VM. Exits with status 5 (rt_exit(2)) if that returns. */
#include "rt.h"

int main(void)
{
	rt_puts("reset: asking the i8042 for a reset\n");
	outb(0x64, 0xfe);
	for (int i = 0; i < 1000; i++) /* give an asynchronous reset a moment */
		cpu_relax();
	rt_puts("reset: still alive\n");
	return 2;
}
