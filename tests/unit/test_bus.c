/* Unit tests for the bus range table (core/bus): registration refusals and ordering,
 * lookup edges (window ends, adjacency, the top of the address space), dispatch with
 * window offsets through a recording fake device, and a brute-force cross-check. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/bus.h"
#include "test.h"

/* A fake device that records its last call and answers reads with a pattern. */
struct rec_dev {
	unsigned reads, writes;
	uint64_t off;
	uint32_t len;
	uint8_t data[BUS_MAX_ACCESS];
	uint8_t seed; /* read returns seed + off + i in byte i */
};

static void rec_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct rec_dev *d = dev;

	d->reads++;
	d->off = off;
	d->len = len;
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(d->seed + off + i);
}

static void rec_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct rec_dev *d = dev;

	d->writes++;
	d->off = off;
	d->len = len;
	memset(d->data, 0, sizeof(d->data));
	memcpy(d->data, data, len < BUS_MAX_ACCESS ? len : BUS_MAX_ACCESS);
}

static const struct bus_ops rec_ops = {.read = rec_read, .write = rec_write};
static const struct bus_ops write_only_ops = {.write = rec_write};
static const struct bus_ops no_ops = {0};

static int reg(struct bus *b, uint64_t base, uint64_t size, void *dev)
{
	return bus_register(b, base, size, &rec_ops, dev, "rec");
}

/* Registration that must fail with errno e and leave the table unchanged. */
static int refused_with(struct bus *b, uint64_t base, uint64_t size, const struct bus_ops *ops,
			int e)
{
	size_t n = b->n;

	errno = 0;
	if (bus_register(b, base, size, ops, NULL, "bad") != -1)
		return 0;
	return errno == e && b->n == n;
}

static int sorted(const struct bus *b)
{
	for (size_t i = 1; i < b->n; i++)
		if (b->ranges[i - 1].base + (b->ranges[i - 1].size - 1) >= b->ranges[i].base)
			return 0;
	return 1;
}

static void register_refuses_invalid(void)
{
	struct bus b;

	bus_init(&b, "pio");
	CHECK(strcmp(b.name, "pio") == 0);
	CHECK_EQ(b.n, 0u);
	CHECK(refused_with(&b, 0x100, 0, &rec_ops, EINVAL));
	CHECK(refused_with(&b, 0x100, 1, NULL, EINVAL));
	CHECK(refused_with(&b, UINT64_MAX, 2, &rec_ops, EINVAL));
	CHECK(refused_with(&b, UINT64_C(0xfffffffffffff000), 0x2000, &rec_ops, EINVAL));
	CHECK(refused_with(&b, 2, UINT64_MAX, &rec_ops, EINVAL));
	CHECK(refused_with(&b, UINT64_MAX, UINT64_MAX, &rec_ops, EINVAL));
	CHECK_EQ(b.n, 0u);
	/* Ranges ending exactly at the last address are fine. */
	CHECK_EQ(reg(&b, UINT64_MAX, 1, NULL), 0);
	CHECK_EQ(reg(&b, UINT64_MAX - 0xf, 0x10 - 1, NULL), 0);
	CHECK_EQ(b.n, 2u);
	bus_free(&b);
	CHECK_EQ(b.n, 0u);
	CHECK(b.ranges == NULL);

	/* The whole space but one byte, either end. */
	bus_init(&b, "mmio");
	CHECK_EQ(reg(&b, 0, UINT64_MAX, NULL), 0);
	CHECK(refused_with(&b, UINT64_MAX - 1, 1, &rec_ops, EEXIST));
	CHECK_EQ(reg(&b, UINT64_MAX, 1, NULL), 0);
	bus_free(&b);
	bus_init(&b, "mmio");
	CHECK_EQ(reg(&b, 1, UINT64_MAX, NULL), 0);
	CHECK(refused_with(&b, 0, 2, &rec_ops, EEXIST));
	CHECK_EQ(reg(&b, 0, 1, NULL), 0);
	CHECK(sorted(&b));
	bus_free(&b);
}

static void register_refuses_overlaps(void)
{
	struct bus b;

	bus_init(&b, "pio");
	CHECK_EQ(reg(&b, 0x100, 0x100, NULL), 0); /* [0x100, 0x200) */
	CHECK(refused_with(&b, 0x100, 0x100, &rec_ops, EEXIST)); /* exact */
	CHECK(refused_with(&b, 0x100, 1, &rec_ops, EEXIST));     /* same base, smaller */
	CHECK(refused_with(&b, 0x100, 0x1000, &rec_ops, EEXIST)); /* same base, larger */
	CHECK(refused_with(&b, 0xf0, 0x20, &rec_ops, EEXIST));   /* partial, left side */
	CHECK(refused_with(&b, 0xff, 2, &rec_ops, EEXIST));      /* one byte on the left */
	CHECK(refused_with(&b, 0x1f0, 0x20, &rec_ops, EEXIST));  /* partial, right side */
	CHECK(refused_with(&b, 0x1ff, 1, &rec_ops, EEXIST));     /* last byte */
	CHECK(refused_with(&b, 0x180, 0x10, &rec_ops, EEXIST));  /* contained */
	CHECK(refused_with(&b, 0x80, 0x200, &rec_ops, EEXIST));  /* containing */
	CHECK(refused_with(&b, 0, UINT64_MAX, &rec_ops, EEXIST)); /* containing, huge */
	CHECK_EQ(b.n, 1u);
	/* Adjacent on both sides is accepted. */
	CHECK_EQ(reg(&b, 0xf0, 0x10, NULL), 0);
	CHECK_EQ(reg(&b, 0x200, 0x10, NULL), 0);
	CHECK_EQ(b.n, 3u);
	/* With neighbours on both sides of a gap [0x210, 0x300). */
	CHECK_EQ(reg(&b, 0x300, 0x100, NULL), 0);
	CHECK(refused_with(&b, 0x250, 0x100, &rec_ops, EEXIST)); /* runs into the next */
	CHECK(refused_with(&b, 0x20f, 0x10, &rec_ops, EEXIST));  /* starts in the previous */
	CHECK(refused_with(&b, 0x100, 0x300, &rec_ops, EEXIST)); /* spans several */
	CHECK(refused_with(&b, 0, 0x1000, &rec_ops, EEXIST));
	CHECK_EQ(reg(&b, 0x210, 0xf0, NULL), 0); /* fills the gap exactly */
	CHECK_EQ(b.n, 5u);
	CHECK(sorted(&b));
	bus_free(&b);
}

static void register_out_of_order_sorts(void)
{
	struct bus b;
	int tags[6];
	const uint64_t bases[6] = {0x5000, 0x1000, 0x3000, UINT64_MAX - 0xff, 0x2000, 0};

	bus_init(&b, "mmio");
	for (int i = 0; i < 6; i++)
		CHECK_EQ(bus_register(&b, bases[i], 0x100, &rec_ops, &tags[i], "t"), 0);
	CHECK_EQ(b.n, 6u);
	const uint64_t want[6] = {0, 0x1000, 0x2000, 0x3000, 0x5000, UINT64_MAX - 0xff};
	const int want_tag[6] = {5, 1, 4, 2, 0, 3};
	for (size_t i = 0; i < 6 && i < b.n; i++) {
		CHECK_EQ(b.ranges[i].base, want[i]);
		CHECK_EQ(b.ranges[i].size, 0x100u);
		CHECK(b.ranges[i].dev == &tags[want_tag[i]]);
		CHECK(b.ranges[i].ops == &rec_ops);
		CHECK(strcmp(b.ranges[i].name, "t") == 0);
	}
	/* Lookups find the right device after the shuffling. */
	for (int i = 0; i < 6; i++) {
		const struct bus_range *r = bus_find(&b, bases[i] + 0x80, 4);
		CHECK(r != NULL && r->dev == &tags[i]);
	}
	bus_free(&b);
}

static void find_window_edges(void)
{
	struct bus b;
	struct rec_dev d = {0};

	bus_init(&b, "pio");
	CHECK(bus_find(&b, 0x100, 1) == NULL); /* empty bus */
	CHECK_EQ(reg(&b, 0x100, 0x10, &d), 0); /* [0x100, 0x110) */
	const struct bus_range *r = &b.ranges[0];
	CHECK(bus_find(&b, 0x100, 1) == r);
	CHECK(bus_find(&b, 0x10f, 1) == r);
	CHECK(bus_find(&b, 0x100, 0x10) == r);
	CHECK(bus_find(&b, 0x108, 8) == r);
	CHECK(bus_find(&b, 0x109, 8) == NULL); /* straddles the end */
	CHECK(bus_find(&b, 0x10f, 2) == NULL);
	CHECK(bus_find(&b, 0x100, 0x11) == NULL);
	CHECK(bus_find(&b, 0xff, 2) == NULL);  /* straddles the start */
	CHECK(bus_find(&b, 0xff, 1) == NULL);
	CHECK(bus_find(&b, 0x110, 1) == NULL);
	CHECK(bus_find(&b, 0, 1) == NULL);     /* below every range */
	CHECK(bus_find(&b, 0x100, 0) == NULL); /* zero length */
	CHECK(bus_find(&b, 0x100, UINT64_MAX) == NULL);
	CHECK(bus_find(&b, 0x108, UINT64_MAX - 0x100) == NULL); /* wraps back below the range */
	CHECK(bus_find(&b, UINT64_MAX, 1) == NULL);

	/* Adjacent ranges: an access may not straddle the two. */
	CHECK_EQ(reg(&b, 0x110, 0x10, &d), 0);
	CHECK(bus_find(&b, 0x10f, 1) == &b.ranges[0]);
	CHECK(bus_find(&b, 0x110, 1) == &b.ranges[1]);
	CHECK(bus_find(&b, 0x10f, 2) == NULL);
	CHECK(bus_find(&b, 0x10c, 8) == NULL);
	CHECK(bus_find(&b, 0x11f, 1) == &b.ranges[1]);
	CHECK(bus_find(&b, 0x120, 1) == NULL);
	bus_free(&b);
}

static void find_at_top_of_space(void)
{
	struct bus b;
	struct rec_dev d = {.seed = 0x10};

	bus_init(&b, "mmio");
	CHECK_EQ(reg(&b, UINT64_MAX - 7, 8, &d), 0);
	const struct bus_range *r = &b.ranges[0];
	CHECK(bus_find(&b, UINT64_MAX, 1) == r);
	CHECK(bus_find(&b, UINT64_MAX - 7, 8) == r);
	CHECK(bus_find(&b, UINT64_MAX - 1, 2) == r);
	CHECK(bus_find(&b, UINT64_MAX, 2) == NULL); /* wraps */
	CHECK(bus_find(&b, UINT64_MAX - 7, 9) == NULL);
	CHECK(bus_find(&b, UINT64_MAX - 8, 2) == NULL);
	CHECK(bus_find(&b, 0, 1) == NULL);

	uint8_t v[8] = {0};
	CHECK(bus_access(&b, UINT64_MAX, false, v, 1));
	CHECK_EQ(d.off, 7u);
	CHECK_EQ(v[0], 0x17);
	CHECK(!bus_access(&b, UINT64_MAX, false, v, 2));
	CHECK(bus_access(&b, UINT64_MAX - 7, true, v, 8));
	CHECK_EQ(d.off, 0u);
	CHECK_EQ(d.len, 8u);
	bus_free(&b);
}

static void access_passes_offset_len_and_data(void)
{
	struct bus b;
	struct rec_dev a = {.seed = 0x40}, c = {.seed = 0x80};

	bus_init(&b, "mmio");
	CHECK_EQ(reg(&b, 0xd0000000, 0x1000, &a), 0);
	CHECK_EQ(reg(&b, 0xd0001000, 0x1000, &c), 0);

	const uint8_t w[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
	uint8_t buf[8];
	memcpy(buf, w, 8);
	CHECK(bus_access(&b, 0xd0000ff8, true, buf, 8));
	CHECK_EQ(a.writes, 1u);
	CHECK_EQ(a.off, 0xff8u);
	CHECK_EQ(a.len, 8u);
	CHECK(memcmp(a.data, w, 8) == 0);
	CHECK_EQ(c.writes + c.reads, 0u);

	CHECK(bus_access(&b, 0xd0001002, true, buf, 2));
	CHECK_EQ(c.writes, 1u);
	CHECK_EQ(c.off, 2u);
	CHECK_EQ(c.len, 2u);
	CHECK(c.data[0] == 0x11 && c.data[1] == 0x22 && c.data[2] == 0);

	memset(buf, 0, sizeof(buf));
	CHECK(bus_access(&b, 0xd0001010, false, buf, 4));
	CHECK_EQ(c.reads, 1u);
	CHECK_EQ(c.off, 0x10u);
	CHECK_EQ(c.len, 4u);
	CHECK(buf[0] == 0x90 && buf[1] == 0x91 && buf[2] == 0x92 && buf[3] == 0x93);
	CHECK_EQ(buf[4], 0); /* beyond len is not touched */

	/* Straddling the two devices is refused and reaches neither. */
	unsigned before = a.reads + a.writes + c.reads + c.writes;
	memset(buf, 0xee, sizeof(buf));
	CHECK(!bus_access(&b, 0xd0000ffc, false, buf, 8));
	CHECK(!bus_access(&b, 0xd0000fff, true, buf, 2));
	CHECK_EQ(a.reads + a.writes + c.reads + c.writes, before);
	CHECK(buf[0] == 0xee && buf[7] == 0xee);
	bus_free(&b);
}

static void access_length_limits(void)
{
	struct bus b;
	struct rec_dev d = {0};
	uint8_t buf[16] = {0};

	bus_init(&b, "mmio");
	CHECK_EQ(reg(&b, 0x1000, 0x100, &d), 0);
	CHECK(!bus_access(&b, 0x1000, false, buf, 0));
	CHECK(!bus_access(&b, 0x1000, true, buf, 0));
	CHECK(!bus_access(&b, 0x1000, false, buf, BUS_MAX_ACCESS + 1));
	CHECK(!bus_access(&b, 0x1000, true, buf, BUS_MAX_ACCESS + 1));
	CHECK(!bus_access(&b, 0x1000, true, buf, UINT32_MAX));
	CHECK_EQ(d.reads + d.writes, 0u);
	for (uint32_t len = 1; len <= BUS_MAX_ACCESS; len++) {
		CHECK(bus_access(&b, 0x10f8, false, buf, len));
		CHECK_EQ(d.len, len);
	}
	CHECK_EQ(d.reads, (unsigned)BUS_MAX_ACCESS);
	CHECK(!bus_access(&b, 0x1100, false, buf, 1));
	CHECK(!bus_access(&b, 0xfff, false, buf, 1));
	bus_free(&b);
}

static void access_without_read_op_reads_zero(void)
{
	struct bus b;
	struct rec_dev d = {0};
	uint8_t buf[8];

	bus_init(&b, "pio");
	CHECK_EQ(bus_register(&b, 0x80, 1, &write_only_ops, &d, "post"), 0);
	CHECK_EQ(bus_register(&b, 0x90, 4, &no_ops, &d, "null"), 0);

	memset(buf, 0xcc, sizeof(buf));
	CHECK(bus_access(&b, 0x80, false, buf, 1));
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(buf[1], 0xcc);
	memset(buf, 0xcc, sizeof(buf));
	CHECK(bus_access(&b, 0x90, false, buf, 4));
	CHECK(buf[0] == 0 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0 && buf[4] == 0xcc);
	buf[0] = 0x5a;
	CHECK(bus_access(&b, 0x80, true, buf, 1));
	CHECK_EQ(d.writes, 1u);
	CHECK_EQ(d.data[0], 0x5a);
	CHECK(bus_access(&b, 0x92, true, buf, 2)); /* no write op: claimed, dropped */
	CHECK_EQ(d.writes, 1u);
	CHECK_EQ(d.reads, 0u);
	bus_free(&b);
}

/* xorshift64: deterministic, so a failure reproduces. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct ref_range {
	uint64_t base, size;
};

/* Brute force: the index of the range wholly containing [addr, addr + len), or -1. */
static long ref_find(const struct ref_range *r, size_t n, uint64_t addr, uint64_t len)
{
	if (len == 0)
		return -1;
	unsigned __int128 end = (unsigned __int128)addr + len;
	for (size_t i = 0; i < n; i++)
		if (addr >= r[i].base && end <= (unsigned __int128)r[i].base + r[i].size)
			return (long)i;
	return -1;
}

static int ref_overlaps(const struct ref_range *r, size_t n, uint64_t base, uint64_t size)
{
	unsigned __int128 end = (unsigned __int128)base + size;
	for (size_t i = 0; i < n; i++)
		if (base < (unsigned __int128)r[i].base + r[i].size && r[i].base < end)
			return 1;
	return 0;
}

static uint64_t pick_base(uint64_t *s)
{
	uint64_t x = rnd(s);
	switch (x % 4) {
	case 0:
		return (x >> 8) % 0x10000; /* dense, port-like */
	case 1:
		return 0xd0000000 + (x >> 8) % 0x100000;
	case 2:
		return UINT64_MAX - (x >> 8) % 0x10000; /* near the top */
	default:
		return rnd(s);
	}
}

#define NRANGES 1000

/* A bus of random ranges and its brute-force mirror; &tags[i] is the dev of ref[i]. */
struct table {
	struct bus bus;
	struct ref_range ref[NRANGES];
	int tags[NRANGES];
	size_t n;
};

/* Registers random ranges until NRANGES succeed; returns how many registration verdicts
 * (success, EINVAL or EEXIST) disagreed with brute force. */
static size_t table_fill(struct table *t, uint64_t *s)
{
	size_t attempts = 0, wrong = 0;

	bus_init(&t->bus, "mmio");
	t->n = 0;
	while (t->n < NRANGES && attempts++ < 200000) {
		uint64_t base = pick_base(s);
		uint64_t size = 1 + rnd(s) % 64;
		if (rnd(s) % 50 == 0) {
			unsigned shift = (unsigned)(rnd(s) % 64);
			size = rnd(s) >> shift; /* occasionally huge */
		}
		if (size == 0)
			size = 1;
		int wraps = (unsigned __int128)base + size > (unsigned __int128)UINT64_MAX + 1;
		int want_ok = !wraps && !ref_overlaps(t->ref, t->n, base, size);
		errno = 0;
		int rc = bus_register(&t->bus, base, size, &rec_ops, &t->tags[t->n], "r");
		if ((rc == 0) != want_ok || (rc != 0 && errno != (wraps ? EINVAL : EEXIST)))
			wrong++;
		if (rc == 0) {
			t->ref[t->n] = (struct ref_range){base, size};
			t->tags[t->n] = (int)t->n;
			t->n++;
		}
	}
	return wrong;
}

/* 1 when bus_find agrees with the brute-force lookup for [addr, addr + len). */
static int table_agrees(const struct table *t, uint64_t addr, uint64_t len, size_t *hits)
{
	long want = ref_find(t->ref, t->n, addr, len);
	const struct bus_range *r = bus_find(&t->bus, addr, len);

	if (want < 0)
		return r == NULL;
	(*hits)++;
	return r && r->dev == &t->tags[want] && r->base == t->ref[want].base &&
	       r->size == t->ref[want].size;
}

static void many_ranges_match_brute_force(void)
{
	static struct table t;
	uint64_t s = 0x2545f4914f6cdd1du;

	CHECK_EQ(table_fill(&t, &s), 0u);
	CHECK_EQ(t.n, (size_t)NRANGES);
	CHECK_EQ(t.bus.n, t.n);
	CHECK(sorted(&t.bus));

	size_t wrong = 0, hits = 0;
	/* Every range's edges, from both sides, for every length 0..9. */
	for (size_t i = 0; i < t.n; i++) {
		const uint64_t b = t.ref[i].base, e = t.ref[i].base + t.ref[i].size;
		for (uint64_t len = 0; len <= 9; len++) {
			const uint64_t addrs[6] = {b - 1, b, b + 1, e - len, e - len + 1, e};
			for (int k = 0; k < 6; k++)
				wrong += !table_agrees(&t, addrs[k], len, &hits);
		}
	}
	/* Random probes: anywhere, and just after range starts. */
	for (int k = 0; k < 20000; k++) {
		uint64_t addr;
		if (rnd(&s) % 3) {
			addr = pick_base(&s);
		} else {
			size_t i = rnd(&s) % t.n;
			addr = t.ref[i].base + rnd(&s) % 70;
		}
		uint64_t len = rnd(&s) % 11;
		wrong += !table_agrees(&t, addr, len, &hits);
	}
	CHECK_EQ(wrong, 0u);
	CHECK(hits > 1000);
	bus_free(&t.bus);
}

/* bus_access dispatches each access to the brute-force owner with the right offset. */
static void many_ranges_dispatch_offsets(void)
{
	enum { N = 300 };
	static struct rec_dev devs[N];
	static struct ref_range ref[N];
	struct bus b;
	uint64_t s = 0x853c49e6748fea9bu;
	size_t n = 0, wrong = 0;

	memset(devs, 0, sizeof(devs));
	bus_init(&b, "pio");
	while (n < N) {
		uint64_t base = rnd(&s) % 0x10000;
		uint64_t size = 1 + rnd(&s) % 16;
		if (bus_register(&b, base, size, &rec_ops, &devs[n], "d") == 0)
			ref[n++] = (struct ref_range){base, size};
	}
	for (int k = 0; k < 20000; k++) {
		uint64_t addr = rnd(&s) % 0x10010;
		uint32_t len = (uint32_t)(1 + rnd(&s) % BUS_MAX_ACCESS);
		long want = ref_find(ref, n, addr, len);
		unsigned before = want >= 0 ? devs[want].writes : 0;
		uint8_t buf[BUS_MAX_ACCESS] = {(uint8_t)k};
		bool ok = bus_access(&b, addr, true, buf, len);
		if (ok != (want >= 0))
			wrong++;
		else if (want >= 0 && (devs[want].writes != before + 1 ||
				       devs[want].off != addr - ref[want].base || devs[want].len != len ||
				       devs[want].data[0] != (uint8_t)k))
			wrong++;
	}
	CHECK_EQ(wrong, 0u);
	bus_free(&b);
}

int main(void)
{
	test_suite_name = "bus";
	RUN(register_refuses_invalid);
	RUN(register_refuses_overlaps);
	RUN(register_out_of_order_sorts);
	RUN(find_window_edges);
	RUN(find_at_top_of_space);
	RUN(access_passes_offset_len_and_data);
	RUN(access_length_limits);
	RUN(access_without_read_op_reads_zero);
	RUN(many_ranges_match_brute_force);
	RUN(many_ranges_dispatch_offsets);
	TEST_MAIN_END();
}
