/* fault: misbehaves on purpose. The tender's page tables must turn each of these into a page
 * fault (reported by the runtime's trap handler through the abort path, status 255):
 *   write-text  a store into the code      exec-data  a call into a writable buffer
 *   zero-read, zero-write  page zero       ro-bootinfo  a store into the boot info
 *   pagetable   a read of the page tables
 * and `hlt`, which halts the CPU with interrupts off (the tender ends it: status 8). */
#include "hvt_rt.h"

MFT_NOTE(1);

static uint8_t code[16] = {0xc3}; /* ret */

int hvt_main(const char *cmdline)
{
	uintptr_t zero = 0;
	__asm__("" : "+r"(zero)); /* hidden from the optimiser */
	printf_("fault: %s\n", cmdline);
	if (streq(cmdline, "write-text"))
		*(volatile uint8_t *)(uintptr_t)hvt_main = 0x90;
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
	else if (streq(cmdline, "pagetable"))
		(void)*(volatile uint64_t *)(zero + 0x2000);
	else
		return 2;
	puts_n("fault: no fault!\n", 17);
	return 1;
}
