/* A fake debug target for the GDB stub's fuzzer and unit test: FAKE_CPUS vCPUs, guest-virtual
 * memory [FAKE_VA, FAKE_VA + FAKE_MEM) whose last page is read-only (like hvt text), and a
 * record of what the stub asked (resumes, kills, interrupts) and sent. */
#ifndef MOTE_FUZZ_GDB_FAKE_H
#define MOTE_FUZZ_GDB_FAKE_H

#include <string.h>

#include "gdb/stub.h"

#define FAKE_CPUS 2
#define FAKE_VA 0x10000ull
#define FAKE_MEM 0x10000ull
#define FAKE_RO (FAKE_VA + FAKE_MEM - 0x1000)

struct fake {
	struct x86_cpu_state cpu[FAKE_CPUS];
	uint8_t mem[FAKE_MEM];
	int resumes, kills, interrupts, last_step;
	struct gdb_hwdebug last_dbg;
	char sent[1 << 16];
	size_t nsent;
};

static unsigned fake_ncpus(void *t) { (void)t; return FAKE_CPUS; }

static int fake_get(void *t, unsigned cpu, struct x86_cpu_state *s)
{
	struct fake *f = t;
	if (cpu >= FAKE_CPUS)
		__builtin_trap();
	*s = f->cpu[cpu];
	return 0;
}

static int fake_set(void *t, unsigned cpu, const struct x86_cpu_state *s)
{
	struct fake *f = t;
	if (cpu >= FAKE_CPUS)
		__builtin_trap();
	f->cpu[cpu] = *s;
	return 0;
}

static size_t fake_span(uint64_t va, size_t len, uint64_t limit)
{
	if (va < FAKE_VA || va >= limit)
		return 0;
	return len < limit - va ? len : (size_t)(limit - va);
}

static size_t fake_read(void *t, unsigned cpu, uint64_t va, uint8_t *buf, size_t len)
{
	struct fake *f = t;
	size_t n = fake_span(va, len, FAKE_VA + FAKE_MEM);
	if (cpu >= FAKE_CPUS)
		__builtin_trap();
	memcpy(buf, f->mem + (va - FAKE_VA) * (n > 0), n);
	return n;
}

static size_t fake_write(void *t, unsigned cpu, uint64_t va, const uint8_t *buf, size_t len)
{
	struct fake *f = t;
	size_t n = fake_span(va, len, FAKE_RO);
	if (cpu >= FAKE_CPUS)
		__builtin_trap();
	memcpy(f->mem + (va - FAKE_VA) * (n > 0), buf, n);
	return n;
}

static int fake_resume(void *t, int step, const struct gdb_hwdebug *d)
{
	struct fake *f = t;
	if (step >= FAKE_CPUS)
		__builtin_trap();
	f->resumes++;
	f->last_step = step;
	f->last_dbg = *d;
	return 0;
}

static void fake_interrupt(void *t) { ((struct fake *)t)->interrupts++; }
static void fake_kill(void *t) { ((struct fake *)t)->kills++; }

static void fake_send(void *t, const char *buf, size_t len)
{
	struct fake *f = t;
	if (len > GDB_FRAME_MAX)
		__builtin_trap();
	if (len > sizeof(f->sent) - f->nsent)
		f->nsent = 0; /* keep the newest bytes */
	if (len <= sizeof(f->sent)) {
		memcpy(f->sent + f->nsent, buf, len);
		f->nsent += len;
	}
}

static const struct gdb_target_ops fake_ops = {
	.ncpus = fake_ncpus, .get_state = fake_get, .set_state = fake_set, .read_mem = fake_read,
	.write_mem = fake_write, .resume = fake_resume, .interrupt = fake_interrupt,
	.kill = fake_kill, .send = fake_send,
};

#endif
