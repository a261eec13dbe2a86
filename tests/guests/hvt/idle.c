/* idle: the idle unikernel of the density benchmark (bench/density.sh): prints `idle: ready`
 * and then blocks in the poll hypercall (no deadline in reach, no device), so the tender sleeps
 * in ppoll and the unikernel costs the host nothing until a signal ends it. */
#include "hvt_rt.h"

MFT_NOTE(1);

int hvt_main(const char *cmdline)
{
	(void)cmdline;
	puts_n("idle: ready\n", 12);
	for (;;)
		poll_ns(3600ull * 1000000000ull, 0); /* an hour per call */
}
