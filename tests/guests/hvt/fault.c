/* fault: misbehaves on purpose. The tender's page tables must turn each of these into a page
 * fault (reported by the runtime's trap handler through the abort path, status 255):
 *   exec-data  a call into a writable buffer   zero-read, zero-write  page zero
 *   ro-bootinfo  a store into the boot info    pagetable  a read of the page tables
 * and the host must stop these (status 1, as solo5-hvt): `write-text` and `write-rodata`,
 * stores into the code and the read-only data, which KVM maps read-only ("host/guest
 * translation fault"), and `hlt`, which halts the CPU with interrupts off. */
#include "hvt_rt.h"

MFT_NOTE(1);

static uint8_t code[16] = {0xc3}; /* ret */
static const uint64_t constant = 0x1234;

int hvt_main(const char *cmdline)
{
	uintptr_t zero = 0;
	__asm__("" : "+r"(zero)); /* hidden from the optimiser */
	printf_("fault: %s\n", cmdline);
	if (streq(cmdline, "write-text"))
		*(volatile uint8_t *)(uintptr_t)hvt_main = 0x90;
	else if (streq(cmdline, "write-rodata"))
		*(volatile uint64_t *)(uintptr_t)&constant = 1;
	else if (streq(cmdline, "exec-data"))
		((void (*)(void))(uintptr_t)code)();
	else if (streq(cmdline, "zero-read"))
		(void)*(volatile uint64_t *)(zero + 8);
	else if (streq(cmdline, "zero-write"))
		*(volatile uint64_t *)(zero + 16) = 1;
	else if (streq(cmdline, "ro-bootinfo"))
		*(volatile uint64_t *)(uintptr_t)&bi->mem_size = 1;
	else if (streq(cmdline, "hlt")) /* no interrupt can ever wake it: the tender must end it */
		__asm__ volatile("cli; hlt");
	else if (streq(cmdline, "spin")) /* runs guest code until a signal ends the tender */
		for (;;)
			__asm__ volatile("");
	else if (streq(cmdline, "pagetable"))
		(void)*(volatile uint64_t *)(zero + 0x2000);
	else
		return 2;
	puts_n("fault: no fault!\n", 17);
	return 1;
}
