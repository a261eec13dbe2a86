/* meminfo: prints the PVH memory map and, if there is a module (initrd), its
 * address, size and 32-bit FNV-1a hash (of at most the first 64 MiB). */
#include "rt.h"

int main(void)
{
	for (u32 i = 0; i < rt_memmap_count(); i++) {
		const struct rt_memmap_entry *e = rt_memmap(i);
		rt_printf("memmap: addr=0x%llx size=0x%llx type=%u\n", e->addr, e->size, e->type);
	}
	u64 addr, size;
	if (!rt_module(&addr, &size)) {
		rt_puts("initrd: none\n");
		return 0;
	}
	const u8 *p = (const u8 *)(uptr)addr;
	u64 n = size < (64ull << 20) ? size : (64ull << 20);
	u32 h = 2166136261u;
	for (u64 i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	rt_printf("initrd: addr=0x%llx size=%llu fnv1a=0x%08x\n", addr, size, h);
	return 0;
}
