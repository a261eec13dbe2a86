/* Unit tests for virtio-console (src/devices/virtio_console.c), driven through the real
 * virtio-mmio transport (virtio_mmio_ops, no KVM): a tiny in-test driver negotiates, lays out
 * both split rings in guest RAM and offers chains; QueueNotify writes reach ops->notify.
 * Covers: the transmitq to the host callback (multi-descriptor, batched, one interrupt), host
 * input into posted receive buffers (multi-descriptor, partial fills, several chains), the
 * back-pressure protocol (0 without buffers, rx_room at the next receiveq kick or at
 * DRIVER_OK, the EVENT_IDX kick request), emerg_wr and the config space, the malformed chains
 * that fail the device, recovery by reset, and a pusher thread racing a driver thread. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "devices/virtio_console.h"
#include "virtio/mmio.h"
#include "guest_ram.h"
#include "test.h"

#define RAM      (1ull << 20)
#define QSIZE    16
#define DATA_GPA 0x10000ull

/* MMIO registers (virtio 1.2, table 4.1). */
enum {
	DEV_ID = 0x008, DEV_FEAT = 0x010, DEV_FEAT_SEL = 0x014, DRV_FEAT = 0x020,
	DRV_FEAT_SEL = 0x024, QSEL = 0x030, QNUM = 0x038, QREADY = 0x044, QNOTIFY = 0x050,
	STATUS = 0x070, QDESC_LO = 0x080, QDRV_LO = 0x090, QDEV_LO = 0x0a0,
};
enum { ACK = 1, DRV = 2, DRV_OK = 4, FEAT_OK = 8 };

#define F_V1 (1ull << VIRTIO_F_VERSION_1)
#define F_EVENT_IDX (1ull << VIRTIO_F_EVENT_IDX)

/* The driver's view of one queue: rings at 0x1000 + q * 0x3000. */
struct drvq {
	uint64_t desc, avail, used;
	uint16_t avail_idx, next_desc;
};

static bool gm_live;
static struct virtio_console con; /* ~1 MiB of queues: static */
static struct drvq dq[2];
static int irqs, room_calls;
static uint8_t out[8192];
static size_t out_len;

static void fake_irq(void *ctx, unsigned gsi, int level)
{
	(void)ctx;
	(void)gsi;
	if (level)
		irqs++;
}

static void fake_tx(void *ctx, const uint8_t *buf, size_t n)
{
	(void)ctx;
	if (n > sizeof(out) - out_len)
		n = sizeof(out) - out_len;
	memcpy(out + out_len, buf, n);
	out_len += n;
}

static void fake_room(void *ctx)
{
	(void)ctx;
	__atomic_add_fetch(&room_calls, 1, __ATOMIC_SEQ_CST);
}

static void w32(uint32_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	virtio_mmio_ops.write(&con.dev, off, b, 4);
}

static uint32_t r32(uint32_t off)
{
	uint8_t b[4];
	virtio_mmio_ops.read(&con.dev, off, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}


/* Fresh rings for both queues (zeroed memory, driver indexes 0). */
static void rings_reset(void)
{
	for (int q = 0; q < 2; q++) {
		uint64_t base = 0x1000 + 0x3000ull * (unsigned)q;
		dq[q] = (struct drvq){ .desc = base, .avail = base + 0x1000, .used = base + 0x2000 };
		memset(host(base, 0x3000), 0, 0x3000);
	}
}

/* 3.1.1 up to DRIVER_OK (exclusive): features, both queues ready. */
static void driver_setup(uint64_t features)
{
	rings_reset();
	w32(STATUS, 0);
	w32(STATUS, ACK);
	w32(STATUS, ACK | DRV);
	w32(DRV_FEAT_SEL, 0);
	w32(DRV_FEAT, (uint32_t)features);
	w32(DRV_FEAT_SEL, 1);
	w32(DRV_FEAT, (uint32_t)(features >> 32));
	w32(STATUS, ACK | DRV | FEAT_OK);
	CHECK(r32(STATUS) & FEAT_OK);
	for (uint32_t q = 0; q < 2; q++) {
		w32(QSEL, q);
		w32(QNUM, QSIZE);
		w32(QDESC_LO, (uint32_t)dq[q].desc);
		w32(QDRV_LO, (uint32_t)dq[q].avail);
		w32(QDEV_LO, (uint32_t)dq[q].used);
		w32(QREADY, 1);
		CHECK_EQ(r32(QREADY), 1u);
	}
}

static void driver_ok(void) { w32(STATUS, ACK | DRV | FEAT_OK | DRV_OK); }

/* A fresh device with the fake host; negotiated and running when run is true. */
static void start(uint64_t features, bool run)
{
	const struct gm_region r[] = { { .gpa = 0, .size = RAM } };
	const struct irq_line irq = { .set = fake_irq, .gsi = 5 };
	const struct vconsole_host h = { .tx = fake_tx, .rx_room = fake_room };
	char err[128];

	if (gm_live) {
		virtio_dev_destroy(&con.dev);
		gm_destroy(&gm);
	}
	if (gm_create(&gm, r, 1, err, sizeof(err)) < 0) {
		printf("gm_create: %s\n", err);
		exit(1);
	}
	gm_live = true;
	virtio_console_init(&con, &h);
	virtio_dev_init(&con.dev, &virtio_console_ops, &con, "virtio-console0", &gm, &irq);
	driver_setup(features);
	if (run)
		driver_ok();
	irqs = room_calls = 0;
	out_len = 0;
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

/* Writes a chain of n descriptors on queue q and publishes its head (no kick). */
static uint16_t offer(int q, const struct seg *s, int n)
{
	struct drvq *d = &dq[q];
	uint16_t head = d->next_desc;

	for (int i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QSIZE), next = (uint16_t)((idx + 1) % QSIZE);
		uint16_t flags = (uint16_t)((i + 1 < n ? VQ_DESC_F_NEXT : 0) |
					    (s[i].w ? VQ_DESC_F_WRITE : 0));
		uint8_t b[16];

		memcpy(b, &s[i].gpa, 8);
		memcpy(b + 8, &s[i].len, 4);
		memcpy(b + 12, &flags, 2);
		memcpy(b + 14, &next, 2);
		CHECK_EQ(gm_write(&gm, d->desc + 16ull * idx, b, 16), 0);
	}
	d->next_desc = (uint16_t)((head + n) % QSIZE);
	put16(d->avail + 4 + 2ull * (d->avail_idx % QSIZE), head);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	d->avail_idx++;
	put16(d->avail + 2, d->avail_idx);
	return head;
}

static void kick(int q) { w32(QNOTIFY, (uint32_t)q); }

static uint16_t used_idx(int q) { return get16(dq[q].used + 2); }
static uint32_t used_id(int q, uint16_t i) { return get32(dq[q].used + 4 + 8ull * (i % QSIZE)); }
static uint32_t used_len(int q, uint16_t i) { return get32(dq[q].used + 8 + 8ull * (i % QSIZE)); }
static uint16_t avail_event(int q) { return get16(dq[q].used + 4 + 8ull * QSIZE); }

static size_t push(const char *s) { return virtio_console_rx_push(&con, (const uint8_t *)s, strlen(s)); }

static bool running(void) { return virtio_dev_running(&con.dev); }

static void ops_table(void)
{
	CHECK_EQ(virtio_console_ops.device_id, 3u);
	CHECK_EQ(virtio_console_ops.num_queues, 2);
	CHECK_EQ(virtio_console_ops.config_size, 12u);
	CHECK(virtio_console_ops.features & F_V1);
	CHECK(virtio_console_ops.features & (1ull << VIRTIO_CONSOLE_F_EMERG_WRITE));
	CHECK(!(virtio_console_ops.features & (1ull << VIRTIO_CONSOLE_F_MULTIPORT)));
	CHECK(!(virtio_console_ops.features & (1ull << VIRTIO_CONSOLE_F_SIZE)));
	start(F_V1, false);
	CHECK_EQ(r32(DEV_ID), 3u);
	w32(DEV_FEAT_SEL, 0);
	CHECK_EQ(r32(DEV_FEAT) & 7u, 1u << VIRTIO_CONSOLE_F_EMERG_WRITE);
}

/* Every field reads 0; emerg_wr outputs its low byte in any state (5.3.5.1). */
static void config_and_emerg_wr(void)
{
	start(F_V1, false);
	w32(STATUS, 0); /* unconfigured */
	for (uint32_t off = 0; off < 12; off += 4)
		CHECK_EQ(r32(0x100 + off), 0u);
	w32(0x100 + 8, 0x12345641); /* 'A' */
	uint8_t b = 'B';
	virtio_mmio_ops.write(&con.dev, 0x100 + 8, &b, 1);
	CHECK_EQ(out_len, 2u);
	CHECK(!memcmp(out, "AB", 2));
	/* emerg_wr's upper half only: nothing to print, not an error. */
	uint8_t hi[2] = { 'x', 'y' };
	virtio_mmio_ops.write(&con.dev, 0x100 + 10, hi, 2);
	CHECK_EQ(out_len, 2u);
	CHECK_EQ(atomic_load(&con.dev.guest_errors), 0ul);
	/* A read-only field: a guest error, nothing printed, the device keeps working. */
	w32(0x100 + 0, 0x43);
	CHECK_EQ(out_len, 2u);
	CHECK_EQ(atomic_load(&con.dev.guest_errors), 1ul);
	CHECK_EQ(r32(0x100 + 8), 0u); /* write-only */
	CHECK_EQ(atomic_load(&con.emerg_bytes), 2ul);
	/* And while running. */
	driver_setup(F_V1);
	driver_ok();
	w32(0x100 + 8, 'C');
	CHECK_EQ(out_len, 3u);
	CHECK_EQ(out[2], 'C');
}

static void tx_to_host(void)
{
	start(F_V1, true);
	memcpy(host(DATA_GPA, 3), "hel", 3);
	memcpy(host(DATA_GPA + 0x100, 3), "lo ", 3);
	memcpy(host(DATA_GPA + 0x200, 6), "world\n", 6);
	const struct seg three[] = { { DATA_GPA, 3, false }, { DATA_GPA + 0x100, 3, false },
				     { DATA_GPA + 0x200, 6, false } };
	uint16_t h = offer(1, three, 3);

	kick(1);
	CHECK_EQ(out_len, 12u);
	CHECK(!memcmp(out, "hello world\n", 12));
	CHECK_EQ(used_idx(1), 1);
	CHECK_EQ(used_id(1, 0), h);
	CHECK_EQ(used_len(1, 0), 0u); /* the device wrote nothing */
	CHECK_EQ(irqs, 1);
	CHECK_EQ(atomic_load(&con.tx_bytes), 12ul);
	CHECK_EQ(atomic_load(&con.dev.bytes_out), 12ul);
	CHECK(atomic_load(&con.dev.requests) >= 1);
	CHECK(running());
	kick(1); /* nothing new */
	CHECK_EQ(used_idx(1), 1);
	CHECK_EQ(irqs, 1);
}

static void tx_batch_in_order(void)
{
	start(F_V1 | F_EVENT_IDX, true);
	memcpy(host(DATA_GPA, 4), "one ", 4);
	memcpy(host(DATA_GPA + 0x100, 4), "two ", 4);
	memcpy(host(DATA_GPA + 0x200, 5), "three", 5);
	const struct seg a[] = { { DATA_GPA, 4, false } }, b[] = { { DATA_GPA + 0x100, 4, false } },
			 c[] = { { DATA_GPA + 0x200, 5, false } };

	offer(1, a, 1);
	offer(1, b, 1);
	offer(1, c, 1);
	kick(1);
	CHECK_EQ(out_len, 13u);
	CHECK(!memcmp(out, "one two three", 13));
	CHECK_EQ(used_idx(1), 3);
	CHECK_EQ(irqs, 1);              /* one interrupt for the batch */
	CHECK_EQ(avail_event(1), 3);    /* re-armed for the next buffer */
}

static void rx_fills_posted_buffers(void)
{
	start(F_V1, true);
	const struct seg one[] = { { DATA_GPA, 4, true } };
	const struct seg two[] = { { DATA_GPA + 0x100, 2, true }, { DATA_GPA + 0x200, 3, true } };
	uint16_t h1 = offer(0, one, 1), h2 = offer(0, two, 2);

	kick(0);
	CHECK_EQ(room_calls, 0); /* nobody waited */
	CHECK_EQ(push("abcdefghij"), 9u);
	CHECK_EQ(used_idx(0), 2);
	CHECK_EQ(used_id(0, 0), h1);
	CHECK_EQ(used_len(0, 0), 4u);
	CHECK_EQ(used_id(0, 1), h2);
	CHECK_EQ(used_len(0, 1), 5u);
	CHECK(!memcmp(host(DATA_GPA, 4), "abcd", 4));
	CHECK(!memcmp(host(DATA_GPA + 0x100, 2), "ef", 2));
	CHECK(!memcmp(host(DATA_GPA + 0x200, 3), "ghi", 3));
	CHECK_EQ(irqs, 1);
	CHECK_EQ(atomic_load(&con.rx_bytes), 9ul);
	CHECK_EQ(atomic_load(&con.dev.bytes_in), 9ul);
	/* The rest waits for the next buffer; its kick wakes the host once. */
	CHECK_EQ(push("j"), 0u);
	const struct seg more[] = { { DATA_GPA + 0x300, 8, true } };
	offer(0, more, 1);
	kick(0);
	CHECK_EQ(room_calls, 1);
	CHECK_EQ(push("j"), 1u);
	CHECK_EQ(used_len(0, 2), 1u);
	CHECK_EQ(*host(DATA_GPA + 0x300, 1), 'j');
	offer(0, more, 1);
	kick(0);
	CHECK_EQ(room_calls, 1); /* not waiting: no call */
}

/* A chain larger than the input is used for what there is; the rest of it is untouched. */
static void rx_partial_fill(void)
{
	start(F_V1, true);
	memset(host(DATA_GPA, 16), 0xee, 16);
	const struct seg big[] = { { DATA_GPA, 16, true } };

	offer(0, big, 1);
	CHECK_EQ(push("xyz"), 3u);
	CHECK_EQ(used_idx(0), 1);
	CHECK_EQ(used_len(0, 0), 3u);
	CHECK(!memcmp(host(DATA_GPA, 3), "xyz", 3));
	CHECK_EQ(host(DATA_GPA, 16)[3], 0xee);
	CHECK_EQ(host(DATA_GPA, 16)[15], 0xee);
	/* The chain went back to the driver: more input needs another chain. */
	CHECK_EQ(push("w"), 0u);
}

static void rx_no_buffers(void)
{
	start(F_V1 | F_EVENT_IDX, true);
	CHECK_EQ(push("hello"), 0u);
	CHECK_EQ(used_idx(0), 0);
	CHECK_EQ(irqs, 0);
	CHECK_EQ(avail_event(0), 0); /* kick me at the first buffer */
	CHECK_EQ(virtio_console_rx_push(&con, (const uint8_t *)"", 0), 0u);
	const struct seg one[] = { { DATA_GPA, 8, true } };
	offer(0, one, 1);
	kick(0);
	CHECK_EQ(room_calls, 1);
	CHECK_EQ(push("hello"), 5u);
	/* Short again after one chain: the device asks for a kick at avail index 1. */
	CHECK_EQ(push("again"), 0u);
	CHECK_EQ(avail_event(0), 1);
	CHECK(running());
}

/* Input before DRIVER_OK waits; DRIVER_OK wakes the host (buffers posted during setup). */
static void rx_before_driver_ok(void)
{
	start(F_V1, false);
	const struct seg one[] = { { DATA_GPA, 8, true } };

	offer(0, one, 1);
	CHECK_EQ(push("early"), 0u);
	CHECK_EQ(room_calls, 0);
	driver_ok();
	CHECK_EQ(room_calls, 1);
	CHECK_EQ(push("early"), 5u);
	CHECK(!memcmp(host(DATA_GPA, 5), "early", 5));
}

static void tx_writable_fails_device(void)
{
	start(F_V1, true);
	const struct seg bad[] = { { DATA_GPA, 4, false }, { DATA_GPA + 0x100, 4, true } };

	offer(1, bad, 2);
	kick(1);
	CHECK(con.dev.status & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(!running());
	CHECK_EQ(out_len, 0u);
	CHECK_EQ(used_idx(1), 0);
	CHECK_EQ(atomic_load(&con.dev.guest_errors), 1ul);
	CHECK(atomic_load(&con.dev.isr) & VIRTIO_ISR_CONFIG);
	/* Stopped: input is refused, later output ignored. */
	const struct seg rx[] = { { DATA_GPA + 0x200, 8, true } };
	offer(0, rx, 1);
	CHECK_EQ(push("abc"), 0u);
	const struct seg ok[] = { { DATA_GPA, 4, false } };
	offer(1, ok, 1);
	kick(1);
	CHECK_EQ(out_len, 0u);
}

static void rx_readable_fails_device(void)
{
	start(F_V1, true);
	const struct seg bad[] = { { DATA_GPA, 8, false } };
	const struct seg ok[] = { { DATA_GPA + 0x100, 8, true } };

	offer(0, bad, 1);
	offer(0, ok, 1);
	CHECK_EQ(push("abc"), 0u);
	CHECK(con.dev.status & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(used_idx(0), 0);
	CHECK_EQ(*host(DATA_GPA + 0x100, 1), 0);
	CHECK_EQ(push("abc"), 0u);
	CHECK_EQ(atomic_load(&con.dev.guest_errors), 1ul);
}

static void bad_ring_fails_device(void)
{
	start(F_V1, true);
	put16(dq[0].avail + 4, QSIZE + 3); /* head out of range */
	put16(dq[0].avail + 2, 1);
	CHECK_EQ(push("abc"), 0u);
	CHECK(con.dev.status & VIRTIO_STATUS_NEEDS_RESET);
}

/* After a failure the driver resets and sets the device up again: both directions work, and
 * input left over from before the failure is announced at DRIVER_OK. */
static void reset_recovers(void)
{
	start(F_V1, true);
	const struct seg bad[] = { { DATA_GPA, 8, false } };

	offer(0, bad, 1);
	CHECK_EQ(push("left over"), 0u);
	CHECK(!running());
	w32(STATUS, 0);
	CHECK_EQ(r32(STATUS), 0u);
	driver_setup(F_V1);
	const struct seg rx[] = { { DATA_GPA + 0x100, 16, true } };
	offer(0, rx, 1);
	room_calls = 0;
	driver_ok();
	CHECK(running());
	CHECK_EQ(room_calls, 1);
	CHECK_EQ(push("left over"), 9u);
	CHECK(!memcmp(host(DATA_GPA + 0x100, 9), "left over", 9));
	memcpy(host(DATA_GPA + 0x200, 2), "ok", 2);
	const struct seg tx[] = { { DATA_GPA + 0x200, 2, false } };
	offer(1, tx, 1);
	kick(1);
	CHECK_EQ(out_len, 2u);
	CHECK(!memcmp(out, "ok", 2));
}

/* ---- a host thread pushing against a driver thread (the I/O thread's role is played by
 * the driver's QueueNotify writes, which call notify under the device lock) ---- */

#define RACE_BYTES 20000u

static uint8_t race_in[RACE_BYTES], race_got[RACE_BYTES];

static uint8_t race_byte(size_t i) { return (uint8_t)(i * 7 + (i >> 8)); }

static void *pusher(void *arg)
{
	size_t off = 0;
	time_t end = time(NULL) + 10;

	(void)arg;
	while (off < RACE_BYTES && time(NULL) < end) {
		int seen = __atomic_load_n(&room_calls, __ATOMIC_SEQ_CST);
		size_t n = RACE_BYTES - off < 37 ? RACE_BYTES - off : 37;
		size_t took = virtio_console_rx_push(&con, race_in + off, n);
		off += took;
		if (took == n)
			continue;
		/* Short: the device calls rx_room after the driver's next kick. */
		while (__atomic_load_n(&room_calls, __ATOMIC_SEQ_CST) == seen && time(NULL) < end)
			sched_yield();
	}
	return NULL;
}

/* Kicks only when the device asked (EVENT_IDX avail_event), as a real driver does: a lost
 * wake-up would stall the pusher. */
static void race_post(int slot, uint16_t *kicked)
{
	const struct seg s[] = { { DATA_GPA + 0x100ull * (unsigned)slot, 1 + (unsigned)slot * 3, true } };
	uint16_t old = *kicked;

	offer(0, s, 1);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t now = dq[0].avail_idx, ev = avail_event(0);
	*kicked = now;
	if ((uint16_t)(now - ev - 1) < (uint16_t)(now - old))
		kick(0);
}

static void rx_race_with_driver(void)
{
	pthread_t t;
	uint16_t kicked = 0, seen = 0;
	uint16_t slot_of[QSIZE];
	size_t got = 0;
	time_t end = time(NULL) + 10;

	start(F_V1 | F_EVENT_IDX, true);
	for (size_t i = 0; i < RACE_BYTES; i++)
		race_in[i] = race_byte(i);
	/* 8 chains of 1..22 bytes; head h holds slot h (offer() uses descriptors in order and
	 * each chain is one descriptor, so heads cycle through 0..QSIZE-1). */
	for (int s = 0; s < 8; s++) {
		slot_of[dq[0].next_desc] = (uint16_t)s;
		race_post(s, &kicked);
	}
	CHECK_EQ(pthread_create(&t, NULL, pusher, NULL), 0);
	while (got < RACE_BYTES && time(NULL) < end) {
		uint16_t u = __atomic_load_n((uint16_t *)host(dq[0].used + 2, 2), __ATOMIC_ACQUIRE);
		if (u == seen) {
			sched_yield();
			continue;
		}
		uint32_t id = used_id(0, seen), len = used_len(0, seen);
		seen++;
		CHECK(id < QSIZE);
		if (id >= QSIZE)
			break;
		int s = slot_of[id];
		CHECK(len >= 1 && len <= 1 + (unsigned)s * 3 && got + len <= RACE_BYTES);
		if (!(len >= 1 && got + len <= RACE_BYTES))
			break;
		memcpy(race_got + got, host(DATA_GPA + 0x100ull * (unsigned)s, len), len);
		got += len;
		slot_of[dq[0].next_desc] = (uint16_t)s;
		race_post(s, &kicked);
	}
	pthread_join(t, NULL);
	CHECK_EQ(got, (size_t)RACE_BYTES);
	CHECK(!memcmp(race_got, race_in, RACE_BYTES));
	CHECK(running());
}

int main(void)
{
	test_suite_name = "virtio_console";
	log_set_level(LOG_ERROR); /* the guest errors below are expected: counted, not printed */
	RUN(ops_table);
	RUN(config_and_emerg_wr);
	RUN(tx_to_host);
	RUN(tx_batch_in_order);
	RUN(rx_fills_posted_buffers);
	RUN(rx_partial_fill);
	RUN(rx_no_buffers);
	RUN(rx_before_driver_ok);
	RUN(tx_writable_fails_device);
	RUN(rx_readable_fails_device);
	RUN(bad_ring_fails_device);
	RUN(reset_recovers);
	RUN(rx_race_with_driver);
	if (gm_live) {
		virtio_dev_destroy(&con.dev);
		gm_destroy(&gm);
	}
	TEST_MAIN_END();
}
