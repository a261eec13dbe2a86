/* time: wall clock advancing across a 100 ms poll (`sleep=MS` for another length), a zero
 * timeout returning at once, and the TSC frequency matching the wall clock. */
#include "hvt_rt.h"

MFT_NOTE(1);

int hvt_main(const char *cmdline)
{
	uint64_t ms = 100;
	if (starts(cmdline, "sleep=")) {
		ms = 0;
		for (const char *p = cmdline + 6; *p >= '0' && *p <= '9'; p++)
			ms = ms * 10 + (uint64_t)(*p - '0');
	}
	uint64_t w0 = walltime(), c0 = rdtsc();
	int r = poll_ns(ms * 1000000ull, 0);
	uint64_t w1 = walltime(), c1 = rdtsc();
	uint64_t wall_ms = (w1 - w0) / 1000000, tsc_ms = (c1 - c0) / (bi->cpu_cycle_freq / 1000);
	printf_("poll %lu ms: returned %d after %lu ms (tsc %lu ms)\n", (unsigned long)ms, r, (unsigned long)wall_ms, (unsigned long)tsc_ms);
	uint64_t z0 = walltime();
	poll_ns(0, 0);
	uint64_t zero_ms = (walltime() - z0) / 1000000;
	printf_("poll 0 ms: %lu ms; wall clock %lu s since 1970\n", (unsigned long)zero_ms, (unsigned long)(w1 / 1000000000ull));
	int bad = r != 0 || wall_ms < ms || wall_ms > ms + 900 || w1 / 1000000000ull < 1600000000ull;
	bad |= tsc_ms + 50 < wall_ms || tsc_ms > wall_ms + 50;
	puts_n(bad ? "time: FAIL\n" : "time: ok\n", bad ? 11 : 9);
	return bad;
}
