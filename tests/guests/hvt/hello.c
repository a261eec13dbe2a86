/* hello: prints a greeting, its command line and the boot info; `exit=N` halts with N,
 * `abort` calls the abort path (status 255), `mmio` says hello through the MMIO hypercalls. */
#include "hvt_rt.h"

MFT_NOTE(1);

int hvt_main(const char *cmdline)
{
	if (streq(cmdline, "mmio")) {
		static const char msg[] = "hello over mmio\n";
		volatile struct { uint64_t data, len; } a = {(uintptr_t)msg, sizeof(msg) - 1};
		hypercall_mmio(HC_PUTS, &a);
		return 0;
	}
	printf_("hello from a unikernel\nargs: '%s'\n", cmdline);
	printf_("mem %lu MiB, kernel_end 0x%lx, tsc %lu kHz\n", bi->mem_size >> 20, bi->kernel_end,
		bi->cpu_cycle_freq / 1000);
	if (starts(cmdline, "exit=")) {
		int v = 0;
		for (const char *p = cmdline + 5; *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (*p - '0');
		return v;
	}
	if (streq(cmdline, "abort")) {
		puts_n("Solo5: solo5_abort() called\n", 28);
		halt(255, 0);
	}
	return 0;
}
