/* hostile: hypercalls with pointers and lengths the tender must refuse (each ends the VM
 * with a message, status 1 as solo5-hvt), chosen by the command line. */
#include "hvt_rt.h"

MFT_NOTE(2, {.name = "storage", .type = DEV_BLOCK});

static uint8_t buf[512];

int hvt_main(const char *cmdline)
{
	const struct mft_entry *e;
	int h = acquire("storage", DEV_BLOCK, &e);
	uint64_t mem = bi->mem_size;
	printf_("hostile: %s\n", cmdline);
	if (streq(cmdline, "arg-oob"))
		hypercall(HC_PUTS, (void *)(uintptr_t)0xfffff000u);
	else if (streq(cmdline, "arg-end")) /* the struct straddles the end of RAM */
		hypercall(HC_WALLTIME, (void *)(uintptr_t)(mem - 4));
	else if (streq(cmdline, "arg-pagetable"))
		hypercall(HC_WALLTIME, (void *)(uintptr_t)0x2000);
	else if (streq(cmdline, "puts-oob")) {
		volatile struct { uint64_t data, len; } a = {mem - 4, 100};
		hypercall(HC_PUTS, &a);
	} else if (streq(cmdline, "puts-wrap")) {
		volatile struct { uint64_t data, len; } a = {0xfffffffffffff000ull, 0x2000};
		hypercall(HC_PUTS, &a);
	} else if (streq(cmdline, "puts-huge")) {
		volatile struct { uint64_t data, len; } a = {0x100000, 1ull << 62};
		hypercall(HC_PUTS, &a);
	} else if (streq(cmdline, "blk-pagetable"))
		block_io(false, (uint64_t)h, 0, (void *)(uintptr_t)0x2000, 512);
	else if (streq(cmdline, "blk-wrap"))
		block_io(false, (uint64_t)h, 0, (void *)(uintptr_t)0xffffffffffffff00ull, 512);
	else if (streq(cmdline, "blk-text")) /* a read over our own code: W^X by the host */
		block_io(false, (uint64_t)h, 0, (void *)(uintptr_t)hvt_main, 512);
	else if (streq(cmdline, "blk-oob"))
		block_io(true, (uint64_t)h, 0, (void *)(uintptr_t)(mem - 256), 512);
	else if (streq(cmdline, "nr-zero"))
		hypercall(0, buf);
	else if (streq(cmdline, "nr-max"))
		hypercall(9, buf);
	else if (streq(cmdline, "port"))
		__asm__ volatile("outb %%al, $0x80" : : "a"(0));
	else if (streq(cmdline, "port-in")) {
		uint32_t v;
		__asm__ volatile("inl %%dx, %%eax" : "=a"(v) : "d"(0x502));
	} else if (streq(cmdline, "mmio-bad"))
		*(volatile uint32_t *)(uintptr_t)(0x100000000ull + 0x1000) = 1;
	else if (streq(cmdline, "cookie-oob"))
		halt(255, (void *)(uintptr_t)(mem - 100));
	else
		return 2;
	puts_n("hostile: survived\n", 18);
	return 1;
}
