/* echo: writes back every byte read from the serial port; the line `quit`
 * (ended by \n or \r) makes it print `echo: bye` and exit with status 1. */
#include "rt.h"

int main(void)
{
	char line[64];
	unsigned n = 0;
	int after_cr = 0;
	rt_puts("echo: ready\n");
	for (;;) {
		char c = (char)rt_getc();
		if (c == '\n' && after_cr) { /* the \n of a \r\n pair */
			after_cr = 0;
			continue;
		}
		after_cr = c == '\r';
		if (c == '\r' || c == '\n') {
			rt_putc('\n');
			if (n == 4 && !memcmp(line, "quit", 4))
				break;
			n = 0;
			continue;
		}
		rt_putc(c);
		if (n < sizeof(line))
			line[n++] = c;
	}
	rt_puts("echo: bye\n");
	return 0;
}
