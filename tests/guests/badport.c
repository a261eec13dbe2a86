/* badport: inb, inl and outb on an unknown port (port=, default 0x500);
 * the VM must survive them. */
#include "rt.h"

int main(void)
{
	u16 port = (u16)rt_cmdline_u64("port", 0x500);
	u8 b = inb(port);
	u32 l = inl(port);
	outb(port, 0x5a);
	rt_printf("badport: inb 0x%02x inl 0x%08x\n", b, l);
	rt_puts("badport: survived\n");
	return 0;
}
