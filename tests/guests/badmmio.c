/* badmmio: touches unbacked MMIO at addr= (default 0xd8000000): a 32-bit
 * read, a 32-bit write and an 8-bit read; the VM must survive them. */
#include "rt.h"

int main(void)
{
	uptr a = (uptr)rt_cmdline_u64("addr", 0xd8000000);
	u32 v = mmio_read32(a);
	rt_printf("badmmio: read 0x%08x\n", v);
	mmio_write32(a, 0x12345678);
	rt_puts("badmmio: wrote 0x12345678\n");
	u8 b = mmio_read8(a);
	rt_printf("badmmio: read8 0x%02x\n", b);
	rt_puts("badmmio: survived\n");
	return 0;
}
