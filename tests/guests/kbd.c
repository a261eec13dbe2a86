/* kbd: polls the i8042 (status port 0x64, data port 0x60) and prints each byte that arrives
 * as "kbd: xx" until it has seen count= bytes (default 8, a Ctrl-Alt-Del sequence), then
 * exits with status 0. The API test sends SendCtrlAltDel and reads the scancodes back. */
#include "rt.h"

int main(void)
{
	u64 want = rt_cmdline_u64("count", 8);
	rt_printf("kbd: ready\n");
	for (u64 n = 0; n < want;) {
		if (!(inb(0x64) & 1)) {
			for (volatile int i = 0; i < 100000; i++)
				;
			continue;
		}
		rt_printf("kbd: %x\n", inb(0x60));
		n++;
	}
	return 0;
}
