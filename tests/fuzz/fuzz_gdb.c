/* libFuzzer target for the GDB stub (src/gdb/packet.c, stub.c, tdesc.c) over a fake target
 * (fuzz_gdb_fake.h): the input is split at 0xff bytes into chunks fed to gdb_stub_input; a
 * chunk starting with 0xfe instead reports a stop (its next bytes choose the kind, the vCPU,
 * the exception and DR6). Whatever gdb sends, the stub never writes outside the fake's memory
 * or names a vCPU it lacks (the fake traps), keeps its breakpoint and slot tables within
 * bounds, and every frame it sends fits GDB_FRAME_MAX. A packet is also framed with the
 * stub's own encoder and fed back, so that path sees every byte value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_gdb_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fake f;
static struct gdb_stub s;

static void stop(const uint8_t *d, size_t n)
{
	struct gdb_stop st = {0};
	st.kind = n > 0 ? (enum gdb_stop_kind)(d[0] % 3) : GDB_STOP_DEBUG;
	st.cpu = n > 1 ? d[1] % FAKE_CPUS : 0;
	st.exception = n > 2 ? (d[2] & 1 ? 3 : 1) : 1;
	st.dr6 = n > 3 ? d[3] : 0;
	st.pc = n > 4 ? FAKE_VA + d[4] : 0;
	st.status = n > 5 ? d[5] : 0;
	gdb_stub_stopped(&s, &st);
}

static void check(void)
{
	if (s.nswbp > GDB_MAX_SWBP || s.g_cpu >= FAKE_CPUS || s.c_cpu >= FAKE_CPUS || s.c_cpu < -1)
		abort();
	for (unsigned i = 0; i < s.nswbp; i++)
		if (s.swbp[i].addr < FAKE_VA || s.swbp[i].addr >= FAKE_RO)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	memset(&f, 0, sizeof(f));
	gdb_stub_init(&s, &fake_ops, &f);
	size_t i = 0;
	while (i < size) {
		size_t j = i;
		while (j < size && data[j] != 0xff)
			j++;
		if (j > i && data[i] == 0xfe)
			stop(data + i + 1, j - i - 1);
		else if (j > i && data[i] == 0xfd) { /* a payload, framed by the stub's encoder */
			static char frame[GDB_FRAME_MAX];
			size_t n = gdb_frame(frame, sizeof(frame), data + i + 1, j - i - 1);
			gdb_stub_input(&s, (const uint8_t *)frame, n);
		} else
			gdb_stub_input(&s, data + i, j - i);
		check();
		if (s.state == GDB_DETACHED || s.state == GDB_KILLED)
			gdb_stub_init(&s, &fake_ops, &f); /* a new connection */
		i = j + 1;
	}
	gdb_stub_drop(&s);
	if (s.nswbp != 0)
		abort();
	return 0;
}
