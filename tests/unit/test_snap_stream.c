/* Snapshot state streams: round trips, little-endian layout, sticky failures, bounds. */
#include "snapshot/stream.h"
#include "test.h"

#include <stdlib.h>

static void round_trip(void)
{
	struct snap_out o;
	snap_out_init(&o);
	snap_put_u8(&o, 0xab);
	snap_put_u16(&o, 0x1234);
	snap_put_u32(&o, 0xdeadbeef);
	snap_put_u64(&o, 0x0102030405060708ull);
	snap_put(&o, "xyz", 3);
	CHECK(snap_out_ok(&o));
	CHECK_EQ(o.len, 1u + 2 + 4 + 8 + 3);
	CHECK_EQ(o.buf[1], 0x34); /* little-endian */
	CHECK_EQ(o.buf[3], 0xef);
	CHECK_EQ(o.buf[7], 0x08);

	struct snap_in in;
	snap_in_init(&in, o.buf, o.len);
	CHECK_EQ(snap_get_u8(&in), 0xab);
	CHECK_EQ(snap_get_u16(&in), 0x1234);
	CHECK_EQ(snap_get_u32(&in), 0xdeadbeefu);
	CHECK_EQ(snap_get_u64(&in), 0x0102030405060708ull);
	char s[3];
	CHECK(snap_get(&in, s, 3));
	CHECK(memcmp(s, "xyz", 3) == 0);
	CHECK(snap_in_done(&in));
	snap_out_free(&o);
	CHECK(o.buf == NULL && o.len == 0);
}

static void short_read_is_sticky(void)
{
	uint8_t b[5] = {1, 2, 3, 4, 5};
	struct snap_in in;
	snap_in_init(&in, b, sizeof(b));
	CHECK_EQ(snap_get_u32(&in), 0x04030201u);
	CHECK_EQ(snap_get_u32(&in), 0u); /* 1 byte left: fails, zero */
	CHECK(!snap_in_ok(&in));
	CHECK_EQ(snap_get_u8(&in), 0); /* the byte that was left is not handed out after a failure */
	CHECK(!snap_in_done(&in));
}

static void trailing_bytes_are_not_done(void)
{
	uint8_t b[3] = {0};
	struct snap_in in;
	snap_in_init(&in, b, sizeof(b));
	snap_get_u16(&in);
	CHECK(snap_in_ok(&in));
	CHECK(!snap_in_done(&in));
	snap_in_init(&in, NULL, 100); /* no buffer: nothing to read */
	CHECK_EQ(in.left, 0u);
}

static void writer_cap(void)
{
	struct snap_out o;
	snap_out_init(&o);
	snap_put(&o, "a", 1);
	o.len = SNAP_OUT_MAX; /* pretend it is full (no 64 MiB allocation in a unit test) */
	snap_put(&o, "b", 1);
	CHECK(!snap_out_ok(&o));
	o.len = 1;
	snap_put(&o, "c", 1); /* sticky */
	CHECK_EQ(o.len, 1u);
	snap_out_free(&o);
}

static void grows(void)
{
	struct snap_out o;
	snap_out_init(&o);
	for (unsigned i = 0; i < 100000; i++)
		snap_put_u32(&o, i);
	CHECK(snap_out_ok(&o));
	CHECK_EQ(o.len, 400000u);
	struct snap_in in;
	snap_in_init(&in, o.buf, o.len);
	unsigned bad = 0;
	for (unsigned i = 0; i < 100000; i++)
		bad += snap_get_u32(&in) != i;
	CHECK_EQ(bad, 0u);
	CHECK(snap_in_done(&in));
	snap_out_free(&o);
}

int main(void)
{
	test_suite_name = "snap_stream";
	RUN(round_trip);
	RUN(short_read_is_sticky);
	RUN(trailing_bytes_are_not_done);
	RUN(writer_cap);
	RUN(grows);
	TEST_MAIN_END();
}
