/* Unit tests for exit policy (core/exit) and stop requests (core/stop): synthetic exits
 * routed through fake PIO and MMIO buses, unclaimed and malformed accesses, the verdict
 * for every non-I/O exit kind, and first-stop-wins with its eventfd. No KVM needed. */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/exit.h"
#include "core/log.h"
#include "core/status.h"
#include "test.h"

#define MAX_CALLS 8

struct call {
	bool is_write;
	uint64_t off;
	uint32_t len;
	uint8_t data[BUS_MAX_ACCESS];
};

/* A fake device recording every call; reads return seed, seed + 1, ... per call. */
struct fake_dev {
	struct call calls[MAX_CALLS];
	unsigned n;
	uint8_t seed;
	struct vm_stop *stop_on_write; /* when set, a write asks the VM to stop */
};

static void fake_record(struct fake_dev *d, bool is_write, uint64_t off, const uint8_t *data,
			uint32_t len)
{
	if (d->n < MAX_CALLS) {
		struct call *c = &d->calls[d->n];
		c->is_write = is_write;
		c->off = off;
		c->len = len;
		memset(c->data, 0, sizeof(c->data));
		if (data)
			memcpy(c->data, data, len);
	}
	d->n++;
}

static void fake_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct fake_dev *d = dev;

	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(d->seed + d->n * 0x10 + i);
	fake_record(d, false, off, data, len);
}

static void fake_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct fake_dev *d = dev;

	fake_record(d, true, off, data, len);
	if (d->stop_on_write)
		stop_request(d->stop_on_write, MOTE_EXIT_USER, "device asked to stop (%u)", data[0]);
}

static const struct bus_ops fake_ops = {.read = fake_read, .write = fake_write};

#define UART_PORT 0x3f8
#define MMIO_BASE UINT64_C(0xd0000000)

/* One test's world: a PIO bus and an MMIO bus, each with a device at the same address
 * (UART_PORT) so that routing to the wrong bus is visible, plus an MMIO device. */
struct world {
	struct bus pio, mmio;
	struct vm_stop stop;
	struct exit_ctx ctx;
	struct fake_dev uart, mmio_twin, mdev;
};

static int world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	bus_init(&w->pio, "pio");
	bus_init(&w->mmio, "mmio");
	w->uart.seed = 0x40;
	w->mmio_twin.seed = 0x60;
	w->mdev.seed = 0xa0;
	if (stop_init(&w->stop) < 0 ||
	    bus_register(&w->pio, UART_PORT, 8, &fake_ops, &w->uart, "uart") < 0 ||
	    bus_register(&w->mmio, UART_PORT, 8, &fake_ops, &w->mmio_twin, "twin") < 0 ||
	    bus_register(&w->mmio, MMIO_BASE, 0x1000, &fake_ops, &w->mdev, "mdev") < 0)
		return -1;
	w->ctx = (struct exit_ctx){.pio = &w->pio, .mmio = &w->mmio, .stop = &w->stop, .vcpu = 3};
	return 0;
}

static void world_free(struct world *w)
{
	bus_free(&w->pio);
	bus_free(&w->mmio);
	stop_destroy(&w->stop);
}

static struct exit_info io_exit(enum exit_kind kind, uint64_t addr, bool is_write,
				uint32_t size, uint32_t count, uint8_t *data)
{
	return (struct exit_info){.kind = kind, .addr = addr, .is_write = is_write, .size = size,
				  .count = count, .data = data};
}

static const char *const not_set = "not set";

#define WORLD_OR_FAIL(w)                                                                   \
	do {                                                                               \
		if (world_init(w) < 0) {                                                   \
			CHECK(!"world_init");                                              \
			return;                                                            \
		}                                                                          \
	} while (0)

static void pio_write_reaches_device_with_offset(void)
{
	struct world w;
	WORLD_OR_FAIL(&w);
	uint8_t data[1] = {0x41};
	struct exit_info e = io_exit(EXIT_IO, UART_PORT + 3, true, 1, 1, data);
	const char *why = not_set;

	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK(why == NULL);
	CHECK_EQ(w.uart.n, 1u);
	CHECK(w.uart.calls[0].is_write);
	CHECK_EQ(w.uart.calls[0].off, 3u);
	CHECK_EQ(w.uart.calls[0].len, 1u);
	CHECK_EQ(w.uart.calls[0].data[0], 0x41);
	CHECK_EQ(w.mmio_twin.n, 0u); /* port I/O never reaches the MMIO bus */
	CHECK(!stop_requested(&w.stop));
	world_free(&w);
}

static void pio_read_fills_data(void)
{
	struct world w;
	WORLD_OR_FAIL(&w);
	uint8_t data[4] = {0, 0, 0xee, 0xee};
	struct exit_info e = io_exit(EXIT_IO, UART_PORT + 4, false, 2, 1, data);
	const char *why = not_set;
	uint64_t errs = guest_error_count();

	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK(why == NULL);
	CHECK_EQ(w.uart.n, 1u);
	CHECK(!w.uart.calls[0].is_write);
	CHECK_EQ(w.uart.calls[0].off, 4u);
	CHECK_EQ(w.uart.calls[0].len, 2u);
	CHECK(data[0] == 0x40 && data[1] == 0x41);
	CHECK(data[2] == 0xee && data[3] == 0xee);
	CHECK_EQ(guest_error_count(), errs);
	CHECK_EQ(w.mmio_twin.n, 0u);
	world_free(&w);
}

static void unclaimed_read_returns_all_ones(void)
{
	struct world w;
	WORLD_OR_FAIL(&w);
	uint8_t data[8] = {0, 0, 0, 0, 0x5a, 0x5a, 0x5a, 0x5a};
	struct exit_info e = io_exit(EXIT_IO, 0x60, false, 4, 1, data);
	const char *why = not_set;
	uint64_t errs = guest_error_count();

	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK(why == NULL);
	CHECK(data[0] == 0xff && data[1] == 0xff && data[2] == 0xff && data[3] == 0xff);
	CHECK(data[4] == 0x5a && data[7] == 0x5a); /* nothing past size * count */
	CHECK_EQ(guest_error_count(), errs + 1);

	/* A port read straddling the end of the UART window is unclaimed too. */
	memset(data, 0, sizeof(data));
	e = io_exit(EXIT_IO, UART_PORT + 6, false, 4, 1, data);
	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK(data[0] == 0xff && data[3] == 0xff && data[4] == 0);
	CHECK_EQ(w.uart.n, 0u);
	CHECK_EQ(guest_error_count(), errs + 2);
	CHECK(!stop_requested(&w.stop));
	world_free(&w);
}

static void unclaimed_write_is_dropped(void)
{
	struct world w;
	WORLD_OR_FAIL(&w);
	uint8_t data[2] = {0x12, 0x34};
	struct exit_info e = io_exit(EXIT_IO, 0x70, true, 2, 1, data);
	const char *why = not_set;
	uint64_t errs = guest_error_count();

	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK(why == NULL);
	CHECK(data[0] == 0x12 && data[1] == 0x34);
	CHECK_EQ(guest_error_count(), errs + 1);
	CHECK_EQ(w.uart.n + w.mmio_twin.n + w.mdev.n, 0u);

	e = io_exit(EXIT_MMIO, MMIO_BASE + 0x1000, true, 2, 1, data);
	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK_EQ(guest_error_count(), errs + 2);
	CHECK_EQ(w.mdev.n, 0u);
	world_free(&w);
}

static void string_io_write_calls_device_per_element(void)
{
	struct world w;
	WORLD_OR_FAIL(&w);
	uint8_t data[6] = {0xa1, 0xa2, 0xb1, 0xb2, 0xc1, 0xc2};
	struct exit_info e = io_exit(EXIT_IO, UART_PORT, true, 2, 3, data);
	const char *why = not_set;

	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK(why == NULL);
	CHECK_EQ(w.uart.n, 3u);
	for (unsigned i = 0; i < 3 && i < w.uart.n; i++) {
		CHECK(w.uart.calls[i].is_write);
		CHECK_EQ(w.uart.calls[i].off, 0u); /* same port every time */
		CHECK_EQ(w.uart.calls[i].len, 2u);
		CHECK_EQ(w.uart.calls[i].data[0], data[2 * i]);
		CHECK_EQ(w.uart.calls[i].data[1], data[2 * i + 1]);
	}
	world_free(&w);
}

static void string_io_read_fills_consecutive_elements(void)
{
	struct world w;
	WORLD_OR_FAIL(&w);
	uint8_t data[4] = {0, 0, 0, 0x77};
	struct exit_info e = io_exit(EXIT_IO, UART_PORT + 5, false, 1, 3, data);
	const char *why = not_set;

	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK_EQ(w.uart.n, 3u);
	CHECK_EQ(w.uart.calls[2].off, 5u);
	/* Call k answers seed + 0x10 * k: each element got its own read. */
	CHECK(data[0] == 0x40 && data[1] == 0x50 && data[2] == 0x60);
	CHECK_EQ(data[3], 0x77);
	world_free(&w);
}

static void string_io_unclaimed(void)
{
	struct world w;
	WORLD_OR_FAIL(&w);
	uint8_t data[8] = {1, 2, 3, 4, 5, 6, 0x33, 0x33};
	struct exit_info e = io_exit(EXIT_IO, 0x1234, false, 2, 3, data);
	const char *why = not_set;
	uint64_t errs = guest_error_count();

	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	size_t ones = 0;
	for (int i = 0; i < 6; i++)
		ones += data[i] == 0xff;
	CHECK_EQ(ones, 6u); /* every element reads as all ones */
	CHECK(data[6] == 0x33 && data[7] == 0x33);
	CHECK_EQ(guest_error_count(), errs + 1); /* one report per string instruction */

	e = io_exit(EXIT_IO, 0x1234, true, 4, 2, data);
	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK_EQ(guest_error_count(), errs + 2);
	world_free(&w);
}

static void mmio_eight_byte_access(void)
{
	struct world w;
	WORLD_OR_FAIL(&w);
	uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct exit_info e = io_exit(EXIT_MMIO, MMIO_BASE + 0x10, true, 8, 1, data);
	const char *why = not_set;

	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK(why == NULL);
	CHECK_EQ(w.mdev.n, 1u);
	CHECK_EQ(w.mdev.calls[0].off, 0x10u);
	CHECK_EQ(w.mdev.calls[0].len, 8u);
	CHECK(memcmp(w.mdev.calls[0].data, data, 8) == 0);

	memset(data, 0, sizeof(data));
	e = io_exit(EXIT_MMIO, MMIO_BASE + 0xff8, false, 8, 1, data);
	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK_EQ(w.mdev.n, 2u);
	CHECK_EQ(w.mdev.calls[1].off, 0xff8u);
	CHECK(data[0] == 0xb0 && data[7] == 0xb7);

	/* MMIO at the UART's port number goes to the MMIO bus, not to the UART. */
	e = io_exit(EXIT_MMIO, UART_PORT, true, 1, 1, data);
	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK_EQ(w.mmio_twin.n, 1u);
	CHECK_EQ(w.uart.n, 0u);

	/* Straddling the device end: unclaimed, reads all ones, device untouched. */
	uint64_t errs = guest_error_count();
	memset(data, 0, sizeof(data));
	e = io_exit(EXIT_MMIO, MMIO_BASE + 0xffc, false, 8, 1, data);
	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK(data[0] == 0xff && data[7] == 0xff);
	CHECK_EQ(w.mdev.n, 2u);
	CHECK_EQ(guest_error_count(), errs + 1);
	world_free(&w);
}

static void malformed_io_is_fatal(void)
{
	struct world w;
	WORLD_OR_FAIL(&w);
	uint8_t data[16] = {0};
	const struct exit_info bad[] = {
		io_exit(EXIT_IO, UART_PORT, true, 0, 1, data),
		io_exit(EXIT_IO, UART_PORT, false, 9, 1, data),
		io_exit(EXIT_IO, UART_PORT, true, 1, 0, data),
		io_exit(EXIT_IO, UART_PORT, false, 1, 1, NULL),
		io_exit(EXIT_IO, UART_PORT, false, UINT32_MAX, 1, data),
		io_exit(EXIT_MMIO, MMIO_BASE, true, 0, 1, data),
		io_exit(EXIT_MMIO, MMIO_BASE, false, 9, 1, data),
		io_exit(EXIT_MMIO, MMIO_BASE, true, 4, 0, data),
		io_exit(EXIT_MMIO, MMIO_BASE, true, 4, 1, NULL),
	};
	uint64_t errs = guest_error_count();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct exit_info e = bad[i];
		const char *why = NULL;
		CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_FATAL);
		CHECK(why != NULL && why[0] != '\0');
	}
	CHECK_EQ(w.uart.n + w.mdev.n + w.mmio_twin.n, 0u);
	CHECK(!stop_requested(&w.stop));
	CHECK_EQ(guest_error_count(), errs);
	size_t dirty = 0;
	for (size_t i = 0; i < sizeof(data); i++)
		dirty += data[i] != 0;
	CHECK_EQ(dirty, 0u);
	world_free(&w);
}

static void fatal_exit_kinds(void)
{
	struct world w;
	WORLD_OR_FAIL(&w);
	const enum exit_kind kinds[] = {EXIT_SHUTDOWN,   EXIT_INTERNAL_ERROR, EXIT_FAIL_ENTRY,
					EXIT_SYSTEM_CRASH, EXIT_HLT,         EXIT_UNKNOWN,
					(enum exit_kind)77};
	const char *msgs[sizeof(kinds) / sizeof(kinds[0])];

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct exit_info e = {.kind = kinds[i], .raw_reason = 99, .code = 1};
		const char *why = NULL;
		CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_FATAL);
		CHECK(why != NULL && strlen(why) > 8);
		msgs[i] = why;
	}
	/* The fatal kinds are told apart (UNKNOWN and an out-of-range kind may share one). */
	for (size_t i = 0; i < 6; i++)
		for (size_t j = i + 1; j < 6; j++)
			CHECK(msgs[i] && msgs[j] && strcmp(msgs[i], msgs[j]) != 0);
	CHECK(!stop_requested(&w.stop)); /* the caller stops with MOTE_EXIT_GUEST_FAULT */
	world_free(&w);
}

static void system_shutdown_and_reset_stop_ok(void)
{
	const enum exit_kind kinds[2] = {EXIT_SYSTEM_SHUTDOWN, EXIT_SYSTEM_RESET};

	for (int i = 0; i < 2; i++) {
		struct world w;
		WORLD_OR_FAIL(&w);
		struct exit_info e = {.kind = kinds[i]};
		const char *why = not_set;
		w.stop.status = -1;
		CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_STOP);
		CHECK(why == NULL);
		CHECK(stop_requested(&w.stop));
		CHECK_EQ(w.stop.status, MOTE_EXIT_OK);
		CHECK_EQ(w.stop.reason[0], '\0');
		world_free(&w);
	}
}

static void device_stop_request_stops_run_loop(void)
{
	struct world w;
	WORLD_OR_FAIL(&w);
	w.uart.stop_on_write = &w.stop;
	uint8_t data[1] = {7};
	struct exit_info e = io_exit(EXIT_IO, UART_PORT, true, 1, 1, data);
	const char *why = not_set;

	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_STOP);
	CHECK(why == NULL);
	CHECK_EQ(w.stop.status, MOTE_EXIT_USER);
	CHECK(strcmp(w.stop.reason, "device asked to stop (7)") == 0);

	/* Once stopped, every non-fatal exit tells the vCPU to leave, keeping the status. */
	struct exit_info intr = {.kind = EXIT_INTR};
	CHECK_EQ(exit_handle(&w.ctx, &intr, &why), EXIT_ACT_STOP);
	struct exit_info off = {.kind = EXIT_SYSTEM_SHUTDOWN};
	CHECK_EQ(exit_handle(&w.ctx, &off, &why), EXIT_ACT_STOP);
	CHECK_EQ(w.stop.status, MOTE_EXIT_USER);
	CHECK(strcmp(w.stop.reason, "device asked to stop (7)") == 0);
	struct exit_info hlt = {.kind = EXIT_HLT};
	CHECK_EQ(exit_handle(&w.ctx, &hlt, &why), EXIT_ACT_FATAL);
	world_free(&w);
}

static void intr_continues(void)
{
	struct world w;
	WORLD_OR_FAIL(&w);
	struct exit_info e = {.kind = EXIT_INTR};
	const char *why = not_set;

	CHECK_EQ(exit_handle(&w.ctx, &e, &why), EXIT_ACT_CONTINUE);
	CHECK(why == NULL);
	CHECK(!stop_requested(&w.stop));
	world_free(&w);
}

static int efd_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void first_stop_wins(void)
{
	struct vm_stop s;

	CHECK_EQ(stop_init(&s), 0);
	CHECK(s.efd >= 0);
	CHECK(!stop_requested(&s));
	CHECK(!efd_readable(s.efd));
	stop_request(&s, MOTE_EXIT_USER, "first %d", 1);
	CHECK(stop_requested(&s));
	CHECK(efd_readable(s.efd));
	stop_request(&s, MOTE_EXIT_GUEST_FAULT, "second");
	stop_request(&s, MOTE_EXIT_OK, NULL);
	CHECK_EQ(s.status, MOTE_EXIT_USER);
	CHECK(strcmp(s.reason, "first 1") == 0);
	uint64_t v = 0;
	CHECK_EQ(read(s.efd, &v, sizeof(v)), (ssize_t)sizeof(v));
	CHECK_EQ(v, 1u); /* signalled once, not once per request */
	CHECK(!efd_readable(s.efd));
	stop_destroy(&s);
	CHECK_EQ(s.efd, -1);

	/* A silent stop records an empty reason; a long one is truncated, terminated. */
	CHECK_EQ(stop_init(&s), 0);
	stop_request(&s, MOTE_EXIT_OK, NULL);
	CHECK_EQ(s.status, MOTE_EXIT_OK);
	CHECK_EQ(s.reason[0], '\0');
	stop_destroy(&s);
	CHECK_EQ(stop_init(&s), 0);
	char big[600];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	stop_request(&s, MOTE_EXIT_INTERNAL, "%s", big);
	CHECK_EQ(strlen(s.reason), sizeof(s.reason) - 1);
	stop_destroy(&s);
}

struct racer {
	struct vm_stop *s;
	int status;
	pthread_barrier_t *go;
};

static void *race_stop(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	stop_request(r->s, r->status, "racer %d", r->status);
	return NULL;
}

/* One round: NT threads request a stop at once; exactly one must win. */
static int stop_race_round(void)
{
	enum { NT = 8 };
	struct vm_stop s;
	pthread_t t[NT];
	struct racer r[NT];
	pthread_barrier_t go;
	int ok = 1;

	if (stop_init(&s) < 0)
		return 0;
	pthread_barrier_init(&go, NULL, NT);
	for (int i = 0; i < NT; i++) {
		r[i] = (struct racer){.s = &s, .status = 100 + i, .go = &go};
		if (pthread_create(&t[i], NULL, race_stop, &r[i]) != 0)
			abort(); /* the barrier would never open */
	}
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	ok &= s.status >= 100 && s.status < 100 + NT;
	char want[32];
	snprintf(want, sizeof(want), "racer %d", s.status);
	ok &= strcmp(s.reason, want) == 0; /* status and reason from the same winner */
	uint64_t v = 0;
	ok &= read(s.efd, &v, sizeof(v)) == (ssize_t)sizeof(v) && v == 1;
	stop_destroy(&s);
	return ok;
}

static void first_stop_wins_under_contention(void)
{
	int bad = 0;

	for (int round = 0; round < 200; round++)
		bad += !stop_race_round();
	CHECK_EQ(bad, 0);
}

int main(void)
{
	test_suite_name = "exit";
	/* Guest errors stay counted but unprinted, so the output is only test results. */
	log_set_level(LOG_ERROR);
	RUN(pio_write_reaches_device_with_offset);
	RUN(pio_read_fills_data);
	RUN(unclaimed_read_returns_all_ones);
	RUN(unclaimed_write_is_dropped);
	RUN(string_io_write_calls_device_per_element);
	RUN(string_io_read_fills_consecutive_elements);
	RUN(string_io_unclaimed);
	RUN(mmio_eight_byte_access);
	RUN(malformed_io_is_fatal);
	RUN(fatal_exit_kinds);
	RUN(system_shutdown_and_reset_stop_ok);
	RUN(device_stop_request_stops_run_loop);
	RUN(intr_continues);
	RUN(first_stop_wins);
	RUN(first_stop_wins_under_contention);
	TEST_MAIN_END();
}
