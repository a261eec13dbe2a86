/* Unit tests for split virtqueues (src/virtio/virtqueue.c). A small fake driver lays out
 * desc/avail/used rings in 1 MiB of guest RAM, offers direct and indirect chains and reads
 * the used ring back. Covers enable refusals, chain shapes, every guest-error rejection (with
 * vq.why set), push checks, 16-bit index wraparound, EVENT_IDX and flag-based suppression,
 * the copy helpers and reset. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtqueue.h"
#include "guest_ram.h"
#include "test.h"

#define RAM       (1ull << 20)
#define DESC_GPA  0x1000ull /* up to 256 descriptors */
#define AVAIL_GPA 0x2000ull
#define USED_GPA  0x3000ull
#define IND_GPA   0x8000ull  /* indirect tables */
#define BIG_IND   0x20000ull /* a table of more than VQ_MAX_IOV entries */
#define DATA_GPA  0x40000ull /* buffers */

/* The fake driver: guest RAM, the queue under test and the driver's own avail index. */
static struct virtqueue vq; /* 132 KiB: static, not on the stack */
static struct vq_chain ch;
static uint16_t drv_size, drv_avail;

static void drv_start(uint16_t size, bool event_idx, bool indirect)
{
	const struct gm_region r[] = { { .gpa = 0, .size = RAM } };
	char err[128];

	gm_destroy(&gm);
	if (gm_create(&gm, r, 1, err, sizeof(err)) < 0) {
		printf("gm_create: %s\n", err);
		exit(1);
	}
	drv_size = size;
	drv_avail = 0;
	CHECK_EQ(vq_enable(&vq, &gm, size, DESC_GPA, AVAIL_GPA, USED_GPA, event_idx, indirect), 0);
	CHECK(vq.why == NULL);
}


/* Descriptor i of the table at table_gpa. */
static void desc(uint64_t table_gpa, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	CHECK_EQ(gm_write(&gm, table_gpa + 16ull * i, d, 16), 0);
}

/* Puts head in the next avail slot and publishes it. */
static void offer(uint16_t head)
{
	put16(AVAIL_GPA + 4 + 2ull * (drv_avail % drv_size), head);
	drv_avail++;
	put16(AVAIL_GPA + 2, drv_avail);
}

static uint16_t used_idx(void) { return get16(USED_GPA + 2); }
static uint32_t used_id(uint16_t i) { return get32(USED_GPA + 4 + 8ull * (i % drv_size)); }
static uint32_t used_len(uint16_t i) { return get32(USED_GPA + 8 + 8ull * (i % drv_size)); }
static void set_used_event(uint16_t v) { put16(AVAIL_GPA + 4 + 2ull * drv_size, v); }
static uint16_t avail_event(void) { return get16(USED_GPA + 4 + 8ull * drv_size); }

/* Pops and expects VQ_ERROR with a reason containing what. */
static int pop_fails(const char *what)
{
	if (vq_pop(&vq, &ch) != VQ_ERROR || !vq.why)
		return 0;
	if (!strstr(vq.why, what)) {
		printf("  why: %s\n", vq.why);
		return 0;
	}
	return 1;
}

static int enable_fails(uint16_t size, uint64_t d, uint64_t a, uint64_t u, bool ev)
{
	int ok = vq_enable(&vq, &gm, size, d, a, u, ev, false) == -1 && vq.why != NULL &&
		 vq.size == 0;
	return ok && vq_pop(&vq, &ch) == VQ_EMPTY && !vq_has_work(&vq);
}

static void enable_refusals(void)
{
	drv_start(4, false, false);
	CHECK(enable_fails(0, DESC_GPA, AVAIL_GPA, USED_GPA, false));
	CHECK(enable_fails(3, DESC_GPA, AVAIL_GPA, USED_GPA, false));
	CHECK(enable_fails(6, DESC_GPA, AVAIL_GPA, USED_GPA, false));
	CHECK(enable_fails(65535, DESC_GPA, AVAIL_GPA, USED_GPA, false));
	CHECK(enable_fails(4, DESC_GPA + 8, AVAIL_GPA, USED_GPA, false));
	CHECK(enable_fails(4, DESC_GPA, AVAIL_GPA + 1, USED_GPA, false));
	CHECK(enable_fails(4, DESC_GPA, AVAIL_GPA, USED_GPA + 2, false));
	CHECK(enable_fails(4, RAM, AVAIL_GPA, USED_GPA, false));
	CHECK(enable_fails(4, DESC_GPA, RAM + 0x1000, USED_GPA, false));
	CHECK(enable_fails(4, DESC_GPA, AVAIL_GPA, UINT64_MAX - 3, false));
	CHECK(enable_fails(4, UINT64_MAX - 15, AVAIL_GPA, USED_GPA, false));
	/* Rings ending exactly at the end of RAM fit; one alignment step further does not. */
	CHECK_EQ(vq_enable(&vq, &gm, 4, RAM - 64, AVAIL_GPA, USED_GPA, false, false), 0);
	CHECK(enable_fails(4, RAM - 48, AVAIL_GPA, USED_GPA, false));
	CHECK_EQ(vq_enable(&vq, &gm, 4, DESC_GPA, RAM - 12, USED_GPA, false, false), 0);
	CHECK(enable_fails(4, DESC_GPA, RAM - 10, USED_GPA, false));
	CHECK_EQ(vq_enable(&vq, &gm, 4, DESC_GPA, AVAIL_GPA, RAM - 36, false, false), 0);
	CHECK(enable_fails(4, DESC_GPA, AVAIL_GPA, RAM - 32, false));
	/* used_event / avail_event count only with EVENT_IDX: the same rings no longer fit. */
	CHECK(enable_fails(4, DESC_GPA, RAM - 12, USED_GPA, true));
	CHECK(enable_fails(4, DESC_GPA, AVAIL_GPA, RAM - 36, true));
	CHECK_EQ(vq_enable(&vq, &gm, 4, DESC_GPA, RAM - 16, RAM - 56, true, false), 0);
	/* The largest queue: 512 KiB of descriptors, 64 KiB avail, 256 KiB used. */
	CHECK_EQ(vq_enable(&vq, &gm, 32768, 0, 0x80000, 0x91000, true, true), 0);
	CHECK_EQ(vq.size, 32768);
	CHECK(enable_fails(32768, RAM - 0x80000 + 16, 0x80000, 0x91000, true));
}

static void enable_refuses_ring_across_regions(void)
{
	const struct gm_region r[] = { { .gpa = 0, .size = 0x10000 },
				       { .gpa = 0x10000, .size = 0x10000 } };
	struct guest_mem two;
	char err[128];

	CHECK_EQ(gm_create(&two, r, 2, err, sizeof(err)), 0);
	/* Adjacent regions are still two regions: a ring must lie inside one of them. */
	CHECK_EQ(vq_enable(&vq, &two, 4, 0x10000 - 64, 0x2000, 0x3000, false, false), 0);
	CHECK_EQ(vq_enable(&vq, &two, 4, 0x10000 - 48, 0x2000, 0x3000, false, false), -1);
	CHECK(vq.why != NULL);
	gm_destroy(&two);
}

static void empty_queue(void)
{
	struct virtqueue *zero = calloc(1, sizeof(*zero));

	drv_start(8, false, false);
	CHECK(!vq_has_work(&vq));
	CHECK_EQ(vq_pop(&vq, &ch), VQ_EMPTY);
	CHECK(vq.why == NULL);
	/* A zeroed queue was never enabled: empty, nothing to push or signal. */
	CHECK(zero != NULL);
	if (!zero)
		return;
	CHECK_EQ(vq_pop(zero, &ch), VQ_EMPTY);
	CHECK(!vq_has_work(zero));
	CHECK(!vq_should_interrupt(zero));
	CHECK_EQ(vq_push(zero, 0, 0), -1);
	vq_set_notify(zero, true);
	free(zero);
}

static void one_buffer(void)
{
	drv_start(8, false, false);
	desc(DESC_GPA, 5, DATA_GPA, 100, 0, 0);
	offer(5);
	CHECK(vq_has_work(&vq));
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	CHECK_EQ(ch.head, 5);
	CHECK_EQ(ch.nread, 1u);
	CHECK_EQ(ch.nwrite, 0u);
	CHECK_EQ(ch.read_bytes, 100u);
	CHECK_EQ(ch.write_bytes, 0u);
	CHECK(ch.iov[0].base == host(DATA_GPA, 1));
	CHECK_EQ(ch.iov[0].len, 100u);
	CHECK_EQ(vq.inflight, 1u);
	CHECK(!vq_has_work(&vq));
	CHECK_EQ(vq_pop(&vq, &ch), VQ_EMPTY);
}

static void readable_writable_chain(void)
{
	drv_start(8, false, false);
	memcpy(host(DATA_GPA, 8), "request!", 8);
	desc(DESC_GPA, 0, DATA_GPA, 8, VQ_DESC_F_NEXT, 1);
	desc(DESC_GPA, 1, DATA_GPA + 0x1000, 512, VQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	CHECK_EQ(ch.nread, 1u);
	CHECK_EQ(ch.nwrite, 1u);
	CHECK_EQ(ch.read_bytes, 8u);
	CHECK_EQ(ch.write_bytes, 512u);
	CHECK(memcmp(ch.iov[0].base, "request!", 8) == 0);
	CHECK(ch.iov[1].base == host(DATA_GPA + 0x1000, 1));
	memset(ch.iov[1].base, 0xab, 512);
	CHECK_EQ(host(DATA_GPA + 0x1000, 512)[511], 0xab);
}

static void chain_of_three(void)
{
	drv_start(8, false, false);
	desc(DESC_GPA, 2, DATA_GPA, 10, VQ_DESC_F_NEXT, 7);
	desc(DESC_GPA, 7, DATA_GPA + 10, 20, VQ_DESC_F_NEXT, 4);
	desc(DESC_GPA, 4, DATA_GPA + 30, 30, VQ_DESC_F_WRITE, 6); /* next ignored without NEXT */
	offer(2);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	CHECK_EQ(ch.head, 2);
	CHECK_EQ(ch.nread, 2u);
	CHECK_EQ(ch.nwrite, 1u);
	CHECK_EQ(ch.read_bytes, 30u);
	CHECK_EQ(ch.write_bytes, 30u);
	CHECK(ch.iov[1].base == host(DATA_GPA + 10, 1));
	CHECK(ch.iov[2].base == host(DATA_GPA + 30, 1));
}

static void chain_of_queue_size(void)
{
	drv_start(8, false, false);
	for (uint16_t i = 0; i < 8; i++)
		desc(DESC_GPA, i, DATA_GPA + i, 1, i < 7 ? VQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(0);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	CHECK_EQ(ch.nread, 8u);
}

static void indirect_chain(void)
{
	drv_start(8, false, true);
	/* Table entries 0 -> 2 -> 1: readable, writable, writable. */
	desc(IND_GPA, 0, DATA_GPA, 16, VQ_DESC_F_NEXT, 2);
	desc(IND_GPA, 2, DATA_GPA + 0x100, 32, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 1);
	desc(IND_GPA, 1, DATA_GPA + 0x200, 64, VQ_DESC_F_WRITE, 0);
	/* The WRITE flag on the descriptor that points at the table is ignored (2.7.5.3.2). */
	desc(DESC_GPA, 3, IND_GPA, 48, VQ_DESC_F_INDIRECT | VQ_DESC_F_WRITE, 0);
	offer(3);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	CHECK_EQ(ch.head, 3);
	CHECK_EQ(ch.nread, 1u);
	CHECK_EQ(ch.nwrite, 2u);
	CHECK_EQ(ch.write_bytes, 96u);
	CHECK(ch.iov[0].base == host(DATA_GPA, 1));
	CHECK(ch.iov[1].base == host(DATA_GPA + 0x100, 1));
	CHECK(ch.iov[2].base == host(DATA_GPA + 0x200, 1));
	/* Direct descriptors followed by one indirect one are valid too. */
	desc(DESC_GPA, 0, DATA_GPA + 0x300, 4, VQ_DESC_F_NEXT, 1);
	desc(DESC_GPA, 1, IND_GPA, 48, VQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	CHECK_EQ(ch.nread, 2u);
	CHECK_EQ(ch.nwrite, 2u);
	CHECK(ch.iov[0].base == host(DATA_GPA + 0x300, 1));
}

/* Each case: a fresh queue (size 8, indirect on), one bad chain at head 0, one reason. */
static void bad_chain(uint16_t flags0, uint64_t addr0, uint32_t len0, uint16_t next0,
		      const char *what)
{
	drv_start(8, false, true);
	desc(DESC_GPA, 0, addr0, len0, flags0, next0);
	offer(0);
	CHECK(pop_fails(what));
	CHECK_EQ(vq.last_avail, 0);
	CHECK_EQ(vq.inflight, 0u);
}

static void rejects_bad_indexes(void)
{
	drv_start(8, false, false);
	offer(8);
	CHECK(pop_fails("head index"));
	bad_chain(VQ_DESC_F_NEXT, DATA_GPA, 4, 8, "next index");
	/* 0 -> 1 -> 0 */
	drv_start(8, false, false);
	desc(DESC_GPA, 0, DATA_GPA, 4, VQ_DESC_F_NEXT, 1);
	desc(DESC_GPA, 1, DATA_GPA, 4, VQ_DESC_F_NEXT, 0);
	offer(0);
	CHECK(pop_fails("loops"));
	/* A loop through every descriptor of a larger queue. */
	drv_start(256, false, false);
	for (uint32_t i = 0; i < 256; i++)
		desc(DESC_GPA, i, DATA_GPA, 4, VQ_DESC_F_NEXT, (uint16_t)((i + 1) % 256));
	offer(17);
	CHECK(pop_fails("loops"));
}

static void rejects_bad_buffers(void)
{
	bad_chain(0, RAM - 8, 16, 0, "guest RAM");
	bad_chain(0, UINT64_MAX - 7, 16, 0, "guest RAM");
	bad_chain(VQ_DESC_F_WRITE, RAM, 1, 0, "guest RAM");
	bad_chain(0, DATA_GPA, 0, 0, "zero-length");
	/* Writable then readable, directly ... */
	drv_start(8, false, true);
	desc(DESC_GPA, 0, DATA_GPA, 4, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 1);
	desc(DESC_GPA, 1, DATA_GPA, 4, 0, 0);
	offer(0);
	CHECK(pop_fails("readable buffer after"));
	/* ... and across the step into an indirect table. */
	drv_start(8, false, true);
	desc(DESC_GPA, 0, DATA_GPA, 4, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 1);
	desc(DESC_GPA, 1, IND_GPA, 16, VQ_DESC_F_INDIRECT, 0);
	desc(IND_GPA, 0, DATA_GPA, 4, 0, 0);
	offer(0);
	CHECK(pop_fails("readable buffer after"));
}

static void rejects_bad_indirect(void)
{
	drv_start(8, false, false);
	desc(IND_GPA, 0, DATA_GPA, 4, 0, 0);
	desc(DESC_GPA, 0, IND_GPA, 16, VQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK(pop_fails("INDIRECT_DESC"));
	bad_chain(VQ_DESC_F_INDIRECT, IND_GPA + 4, 16, 0, "misaligned");
	bad_chain(VQ_DESC_F_INDIRECT, IND_GPA, 24, 0, "multiple of 16");
	bad_chain(VQ_DESC_F_INDIRECT, IND_GPA, 0, 0, "multiple of 16");
	bad_chain(VQ_DESC_F_INDIRECT, RAM - 16, 32, 0, "guest RAM");
	bad_chain(VQ_DESC_F_INDIRECT, UINT64_MAX - 15, 32, 0, "guest RAM");
	bad_chain(VQ_DESC_F_INDIRECT | VQ_DESC_F_NEXT, IND_GPA, 16, 1, "INDIRECT and NEXT");
	/* Inside a table: a nested table, a next outside the table, a loop. */
	drv_start(8, false, true);
	desc(IND_GPA, 0, DATA_GPA, 4, VQ_DESC_F_NEXT, 1);
	desc(IND_GPA, 1, IND_GPA + 0x100, 16, VQ_DESC_F_INDIRECT, 0);
	desc(DESC_GPA, 0, IND_GPA, 32, VQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK(pop_fails("inside an indirect table"));
	drv_start(8, false, true);
	desc(IND_GPA, 0, DATA_GPA, 4, VQ_DESC_F_NEXT, 2); /* table has 2 entries */
	desc(DESC_GPA, 0, IND_GPA, 32, VQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK(pop_fails("outside the table"));
	drv_start(8, false, true);
	desc(IND_GPA, 0, DATA_GPA, 4, VQ_DESC_F_NEXT, 1);
	desc(IND_GPA, 1, DATA_GPA, 4, VQ_DESC_F_NEXT, 0);
	desc(DESC_GPA, 0, IND_GPA, 32, VQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK(pop_fails("loops"));
}

/* An indirect table of n readable one-byte buffers chained 0 -> 1 -> ... */
static void big_table(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		desc(BIG_IND, i, DATA_GPA + i, 1, i + 1 < n ? VQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	desc(DESC_GPA, 0, BIG_IND, 16 * n, VQ_DESC_F_INDIRECT, 0);
	offer(0);
}

static void iov_capacity(void)
{
	drv_start(8, false, true);
	big_table(VQ_MAX_IOV);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	CHECK_EQ(ch.nread, (uint32_t)VQ_MAX_IOV);
	CHECK(ch.iov[VQ_MAX_IOV - 1].base == host(DATA_GPA + VQ_MAX_IOV - 1, 1));
	drv_start(8, false, true);
	big_table(VQ_MAX_IOV + 1);
	CHECK(pop_fails("VQ_MAX_IOV"));
	/* A table of VQ_MAX_IOV entries looping back to 0: the TTL (the table length) stops it
	 * before the iov capacity would, so the reason is the loop. */
	drv_start(8, false, true);
	big_table(VQ_MAX_IOV);
	desc(BIG_IND, VQ_MAX_IOV - 1, DATA_GPA, 1, VQ_DESC_F_NEXT, 0);
	CHECK(pop_fails("loops"));
}

static void avail_index_jumps(void)
{
	drv_start(8, false, false);
	for (uint16_t i = 0; i < 8; i++)
		desc(DESC_GPA, i, DATA_GPA, 4, 0, 0);
	for (uint16_t i = 0; i < 8; i++)
		put16(AVAIL_GPA + 4 + 2ull * i, i);
	put16(AVAIL_GPA + 2, 9);
	CHECK(pop_fails("more than the queue size"));
	/* Exactly size ahead is a full ring, and fine. */
	drv_start(8, false, false);
	for (uint16_t i = 0; i < 8; i++)
		desc(DESC_GPA, i, DATA_GPA, 4, 0, 0);
	for (uint16_t i = 0; i < 8; i++)
		offer(i);
	for (uint16_t i = 0; i < 8; i++) {
		CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
		CHECK_EQ(ch.head, i);
	}
	CHECK_EQ(vq_pop(&vq, &ch), VQ_EMPTY);
	CHECK_EQ(vq.inflight, 8u);
}

static void errors_are_sticky(void)
{
	drv_start(8, false, false);
	desc(DESC_GPA, 0, DATA_GPA, 4, 0, 0);
	offer(0);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	offer(0); /* still in flight */
	CHECK(pop_fails("still in flight"));
	const char *why = vq.why;
	CHECK_EQ(vq_pop(&vq, &ch), VQ_ERROR);
	CHECK(vq.why == why);
	/* Reset and re-enable: the same rings work again, head 0 is no longer in flight. */
	vq_reset(&vq);
	CHECK(vq.why == NULL);
	CHECK_EQ(vq_enable(&vq, &gm, 8, DESC_GPA, AVAIL_GPA, USED_GPA, false, false), 0);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	CHECK_EQ(vq_push(&vq, 0, 0), 0);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK); /* the second offer of head 0, now legitimate */
	CHECK_EQ(vq_pop(&vq, &ch), VQ_EMPTY);
}

static void push_writes_used_ring(void)
{
	drv_start(8, false, false);
	desc(DESC_GPA, 1, DATA_GPA, 8, VQ_DESC_F_NEXT, 2);
	desc(DESC_GPA, 2, DATA_GPA + 8, 100, VQ_DESC_F_WRITE, 0);
	desc(DESC_GPA, 6, DATA_GPA, 8, 0, 0);
	offer(1);
	offer(6);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	CHECK_EQ(vq.inflight, 2u);
	/* Completion out of order; written is clamped to the chain's writable bytes. */
	CHECK_EQ(vq_push(&vq, 6, 5), 0);
	CHECK_EQ(used_idx(), 1);
	CHECK_EQ(used_id(0), 6u);
	CHECK_EQ(used_len(0), 0u);
	CHECK_EQ(vq_push(&vq, 1, 1000), 0);
	CHECK_EQ(used_idx(), 2);
	CHECK_EQ(used_id(1), 1u);
	CHECK_EQ(used_len(1), 100u);
	CHECK_EQ(vq.inflight, 0u);
	CHECK(vq.why == NULL);
}

static void push_refusals(void)
{
	drv_start(8, false, false);
	desc(DESC_GPA, 3, DATA_GPA, 8, VQ_DESC_F_WRITE, 0);
	CHECK_EQ(vq_push(&vq, 3, 0), -1); /* never popped */
	CHECK(vq.why != NULL);
	drv_start(8, false, false);
	desc(DESC_GPA, 3, DATA_GPA, 8, VQ_DESC_F_WRITE, 0);
	offer(3);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	CHECK_EQ(vq_push(&vq, 8, 0), -1); /* out of range */
	CHECK_EQ(vq_push(&vq, 2, 0), -1); /* not this one */
	CHECK_EQ(used_idx(), 0);
	CHECK_EQ(vq_push(&vq, 3, 8), 0);
	CHECK_EQ(vq_push(&vq, 3, 8), -1); /* double push */
	CHECK_EQ(used_idx(), 1);
	CHECK_EQ(vq.inflight, 0u);
}

/* More than 65536 round trips in a size-4 queue, two chains in flight at a time, so both
 * 16-bit indexes wrap and ring slots are reused. */
static void index_wraparound(void)
{
	int bad = 0;

	drv_start(4, true, false);
	for (uint16_t i = 0; i < 4; i++)
		desc(DESC_GPA, i, DATA_GPA + 64ull * i, 64, VQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	for (uint32_t n = 1; n <= 70000 && !bad; n++) {
		uint16_t head = (uint16_t)(n % 4);
		offer(head);
		bad |= vq_pop(&vq, &ch) != VQ_OK || ch.head != head;
		uint16_t prev = (uint16_t)((n - 1) % 4);
		bad |= vq_push(&vq, prev, (uint32_t)(n % 65)) != 0;
		bad |= used_idx() != (uint16_t)n || used_id((uint16_t)(n - 1)) != prev ||
		       used_len((uint16_t)(n - 1)) != n % 65;
	}
	CHECK(!bad);
	CHECK(vq.why == NULL);
	CHECK_EQ(vq.last_avail, (uint16_t)70001);
	CHECK_EQ(vq.used_idx, (uint16_t)70000);
	CHECK_EQ(vq.inflight, 1u);
}

static void push_one(uint16_t head)
{
	offer(head);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	CHECK_EQ(vq_push(&vq, head, 0), 0);
}

static void event_idx_interrupts(void)
{
	drv_start(8, true, false);
	for (uint16_t i = 0; i < 8; i++)
		desc(DESC_GPA, i, DATA_GPA, 4, VQ_DESC_F_WRITE, 0);
	/* The first check after enable always interrupts (a spurious one is allowed, a lost
	 * one hangs the driver), whatever used_event says; then the index rules apply. */
	set_used_event(5);
	push_one(0);
	CHECK(vq_should_interrupt(&vq));
	push_one(1);
	CHECK(!vq_should_interrupt(&vq));
	drv_start(8, true, false);
	for (uint16_t i = 0; i < 8; i++)
		desc(DESC_GPA, i, DATA_GPA, 4, VQ_DESC_F_WRITE, 0);
	put16(AVAIL_GPA, VQ_AVAIL_F_NO_INTERRUPT); /* ignored with EVENT_IDX */
	set_used_event(0);
	push_one(0); /* used idx 1: entry 0 written, used_event 0 */
	CHECK(vq_should_interrupt(&vq));
	push_one(1); /* entry 1; the driver still asks for 0 */
	CHECK(!vq_should_interrupt(&vq));
	set_used_event(5);
	push_one(2);
	push_one(3);
	push_one(4);
	CHECK(!vq_should_interrupt(&vq)); /* entries 2..4 */
	push_one(5);
	CHECK(vq_should_interrupt(&vq)); /* entry 5 */
	CHECK(!vq_should_interrupt(&vq)); /* nothing new */
	set_used_event(7);
	push_one(6);
	push_one(7);
	push_one(0);
	CHECK(vq_should_interrupt(&vq)); /* entries 6..8 include 7 */
	/* Across the 16-bit wrap: used_event 0xffff is reached from 0xfffe. */
	vq.used_idx = vq.signalled_used = 0xfffe;
	set_used_event(0xffff);
	push_one(1);
	CHECK(!vq_should_interrupt(&vq));
	push_one(2);
	CHECK(vq_should_interrupt(&vq));
}

static void flag_interrupts(void)
{
	drv_start(8, false, false);
	desc(DESC_GPA, 0, DATA_GPA, 4, VQ_DESC_F_WRITE, 0);
	set_used_event(0x1234); /* not a field without EVENT_IDX: ignored */
	push_one(0);
	CHECK(vq_should_interrupt(&vq));
	put16(AVAIL_GPA, VQ_AVAIL_F_NO_INTERRUPT);
	push_one(0);
	CHECK(!vq_should_interrupt(&vq));
	put16(AVAIL_GPA, 0);
	CHECK(vq_should_interrupt(&vq));
}

static void notify_suppression(void)
{
	drv_start(8, true, false);
	desc(DESC_GPA, 0, DATA_GPA, 4, 0, 0);
	desc(DESC_GPA, 1, DATA_GPA, 4, 0, 0);
	offer(0);
	offer(1);
	vq_set_notify(&vq, false);
	CHECK_EQ(avail_event(), 0);
	CHECK_EQ(get16(USED_GPA), 0); /* flags stay 0 with EVENT_IDX */
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	vq_set_notify(&vq, true);
	CHECK_EQ(avail_event(), 2);
	CHECK(!vq_has_work(&vq));
	offer(0); /* raced in after the drain: the re-check sees it */
	CHECK(vq_has_work(&vq));

	drv_start(8, false, false);
	vq_set_notify(&vq, false);
	CHECK_EQ(get16(USED_GPA), VQ_USED_F_NO_NOTIFY);
	vq_set_notify(&vq, true);
	CHECK_EQ(get16(USED_GPA), 0);
}

static void chain_copies(void)
{
	uint8_t buf[32];

	drv_start(8, false, false);
	memcpy(host(DATA_GPA, 4), "abcd", 4);
	memcpy(host(DATA_GPA + 0x100, 8), "efghijkl", 8);
	desc(DESC_GPA, 0, DATA_GPA, 4, VQ_DESC_F_NEXT, 1);
	desc(DESC_GPA, 1, DATA_GPA + 0x100, 8, VQ_DESC_F_NEXT, 2);
	desc(DESC_GPA, 2, DATA_GPA + 0x200, 3, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 3);
	desc(DESC_GPA, 3, DATA_GPA + 0x300, 5, VQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(vq_chain_read(&ch, 0, buf, sizeof(buf)), 12u); /* short: only 12 readable */
	CHECK(memcmp(buf, "abcdefghijkl", 12) == 0);
	CHECK_EQ(vq_chain_read(&ch, 2, buf, 4), 4u); /* across the iov boundary */
	CHECK(memcmp(buf, "cdef", 4) == 0);
	CHECK_EQ(vq_chain_read(&ch, 10, buf, 10), 2u);
	CHECK(memcmp(buf, "kl", 2) == 0);
	CHECK_EQ(vq_chain_read(&ch, 12, buf, 1), 0u);
	CHECK_EQ(vq_chain_read(&ch, UINT64_MAX, buf, 1), 0u);
	CHECK_EQ(vq_chain_read(&ch, 0, buf, 0), 0u);
	CHECK_EQ(vq_chain_write(&ch, 0, "0123456789", 10), 8u); /* short: 8 writable */
	CHECK(memcmp(host(DATA_GPA + 0x200, 3), "012", 3) == 0);
	CHECK(memcmp(host(DATA_GPA + 0x300, 5), "34567", 5) == 0);
	CHECK_EQ(vq_chain_write(&ch, 2, "XY", 2), 2u);
	CHECK(memcmp(host(DATA_GPA + 0x200, 3), "01X", 3) == 0);
	CHECK_EQ(host(DATA_GPA + 0x300, 1)[0], 'Y');
	CHECK_EQ(vq_chain_write(&ch, 8, "Z", 1), 0u);
	CHECK(memcmp(host(DATA_GPA, 4), "abcd", 4) == 0); /* readable part untouched */
	/* A chain with nothing writable copies nothing. */
	ch.nwrite = 0;
	CHECK_EQ(vq_chain_write(&ch, 0, "Q", 1), 0u);
}

static void reset_disables(void)
{
	drv_start(8, true, false);
	desc(DESC_GPA, 0, DATA_GPA, 4, 0, 0);
	offer(0);
	CHECK_EQ(vq_pop(&vq, &ch), VQ_OK);
	vq_reset(&vq);
	CHECK_EQ(vq.size, 0);
	CHECK(vq.desc == NULL && vq.avail == NULL && vq.used == NULL);
	CHECK_EQ(vq.last_avail, 0);
	CHECK_EQ(vq.inflight, 0u);
	offer(0);
	CHECK(!vq_has_work(&vq));
	CHECK_EQ(vq_pop(&vq, &ch), VQ_EMPTY);
	CHECK_EQ(vq_push(&vq, 0, 0), -1);
	CHECK(!vq_should_interrupt(&vq));
	vq_set_notify(&vq, true);
	CHECK_EQ(avail_event(), 0);
}

int main(void)
{
	test_suite_name = "virtqueue";
	RUN(enable_refusals);
	RUN(enable_refuses_ring_across_regions);
	RUN(empty_queue);
	RUN(one_buffer);
	RUN(readable_writable_chain);
	RUN(chain_of_three);
	RUN(chain_of_queue_size);
	RUN(indirect_chain);
	RUN(rejects_bad_indexes);
	RUN(rejects_bad_buffers);
	RUN(rejects_bad_indirect);
	RUN(iov_capacity);
	RUN(avail_index_jumps);
	RUN(errors_are_sticky);
	RUN(push_writes_used_ring);
	RUN(push_refusals);
	RUN(index_wraparound);
	RUN(event_idx_interrupts);
	RUN(flag_interrupts);
	RUN(notify_suppression);
	RUN(chain_copies);
	RUN(reset_disables);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
