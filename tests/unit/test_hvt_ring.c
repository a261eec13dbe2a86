/* Unit tests for the tender's side of the net ring (src/hvt/ring.c) without KVM or threads:
 * entries are written into a small guest RAM as a unikernel would, hvt_ring_service consumes
 * them against an in-memory tap, and every broken rule must end the VM (status 8 inside
 * mote, 1 for the process) with solo5-hvt's words and touch nothing. */
#include <errno.h>
#include <string.h>

#include "hvt/abi.h"
#include "hvt/ring.h"
#include "core/status.h"
#include "test.h"

#define MEM (8ull << 20)
#define RING (MEM - HVT_RING_BLOCK)
#define BUF 0x200000ull

static struct guest_mem gm;
static struct vm_stop stop;
static struct hvt_mft mft;
static struct hvt h;
static struct hvt_ring_host r;

/* Fake tap: frames sent are counted and their first byte recorded; one frame may wait. */
static uint8_t sent_first[64];
static unsigned nsent, rx_len;
static int send_rc;
static ssize_t fnet_recv(void *be, const struct iovec *iov, int n)
{
	(void)be;
	if (!rx_len)
		return -EAGAIN;
	unsigned len = rx_len;
	rx_len = 0;
	if (n != 1 || iov[0].iov_len < len)
		return -EMSGSIZE;
	memset(iov[0].iov_base, 0x5a, len);
	return len;
}
static int fnet_send(void *be, const struct iovec *iov, int n)
{
	(void)be;
	CHECK_EQ(n, 1);
	if (send_rc)
		return send_rc;
	if (nsent < sizeof(sent_first))
		sent_first[nsent] = ((const uint8_t *)iov[0].iov_base)[0];
	nsent++;
	return 0;
}
static int fnet_fd(void *be) { (void)be; return -1; }
static int fnet_off(void *be, unsigned f) { (void)be; (void)f; return 0; }
static void fnet_close(void *be) { (void)be; }
static const struct net_backend_ops fnet_ops = {fnet_recv, fnet_send, fnet_fd, fnet_off, fnet_close};

static const struct gm_region ro = {.gpa = 0x100000, .size = 0x2000};

static void reset(void)
{
	static bool once;
	char err[128];
	if (!once) {
		const struct gm_region reg = {.gpa = 0, .size = MEM};
		CHECK_EQ(gm_create(&gm, &reg, 1, err, sizeof(err)), 0);
		once = true;
	} else {
		stop_destroy(&stop);
		hvt_ring_destroy(&r, false);
	}
	memset(gm.base, 0, MEM);
	CHECK_EQ(stop_init(&stop), 0);
	memset(&mft, 0, sizeof(mft));
	mft.n = 4;
	mft.e[0].type = MFT_RESERVED_FIRST;
	mft.e[1] = (struct hvt_mft_entry){.name = "disk", .type = MFT_DEV_BLOCK_BASIC, .attached = true};
	mft.e[2] = (struct hvt_mft_entry){.name = "net", .type = MFT_DEV_NET_BASIC, .attached = true};
	mft.e[3] = (struct hvt_mft_entry){.name = "off", .type = MFT_DEV_NET_BASIC};
	memset(&h, 0, sizeof(h));
	h.gm = &gm;
	h.stop = &stop;
	h.mft = &mft;
	h.sig_fd = -1;
	h.mem_limit = RING;
	h.ro = &ro;
	h.nro = 1;
	h.dev[2].net = (struct net_backend){.ops = &fnet_ops};
	nsent = rx_len = 0;
	send_rc = 0;
	CHECK_EQ(hvt_ring_init(&r, &h, RING, err, sizeof(err)), 0);
}

static uint32_t get32(uint64_t off)
{
	uint32_t v = 0;
	CHECK_EQ(gm_read(&gm, RING + off, &v, 4), 0);
	return v;
}

static void set32(uint64_t off, uint32_t v) { CHECK_EQ(gm_write(&gm, RING + off, &v, 4), 0); }

/* Queues one entry as the unikernel does: the entry, then ent_tail. */
static void put(uint32_t op, uint32_t handle, uint64_t data, uint32_t len, uint32_t id)
{
	uint32_t tail = get32(HVT_RING_ENT_TAIL);
	struct hvt_ring_entry e = {.operation = op, .handle = handle, .data = data, .len = len, .id = id};
	CHECK_EQ(gm_write(&gm, RING + HVT_RING_ENTRIES + (tail % HVT_RING_SIZE) * sizeof(e), &e,
			  sizeof(e)), 0);
	set32(HVT_RING_ENT_TAIL, tail + 1);
}

static struct hvt_ring_commit commit(uint32_t i)
{
	struct hvt_ring_commit c;
	CHECK_EQ(gm_read(&gm, RING + HVT_RING_COMMITS + (i % HVT_RING_SIZE) * sizeof(c), &c,
			 sizeof(c)), 0);
	return c;
}

static void ended(const char *what)
{
	CHECK(stop_requested(&stop));
	CHECK_EQ(stop.status, MOTE_EXIT_GUEST_FAULT);
	CHECK_STR_CONTAINS(stop.reason, "Invalid guest access");
	CHECK_STR_CONTAINS(stop.reason, what);
}

static void writes_in_order(void)
{
	reset();
	CHECK_EQ(hvt_ring_service(&r), 0);
	for (uint32_t i = 0; i < 10; i++) {
		gm.base[BUF + i * 64] = (uint8_t)(0x40 + i);
		put(HVT_RING_OP_NET_WRITE, 2, BUF + i * 64, 60, i);
	}
	CHECK_EQ(hvt_ring_service(&r), 10);
	CHECK_EQ(nsent, 10u);
	for (unsigned i = 0; i < 10; i++)
		CHECK_EQ(sent_first[i], 0x40 + i);
	CHECK_EQ(get32(HVT_RING_ENT_HEAD), 10u);
	CHECK_EQ(get32(HVT_RING_COM_TAIL), 0u); /* writes have no commit */
	CHECK_EQ(hvt_ring_service(&r), 0);
	/* Dropped, the ring goes on: no device, another type, unattached, bad lengths, a full
	 * host queue. */
	put(HVT_RING_OP_NET_WRITE, 1, BUF, 60, 0);
	put(HVT_RING_OP_NET_WRITE, 3, BUF, 60, 0);
	put(HVT_RING_OP_NET_WRITE, 77, BUF, 60, 0);
	put(HVT_RING_OP_NET_WRITE, 2, BUF, 0, 0);
	put(HVT_RING_OP_NET_WRITE, 2, BUF, 65537, 0);
	put(9, 2, BUF, 60, 0); /* unknown operation: skipped */
	CHECK_EQ(hvt_ring_service(&r), 6);
	send_rc = -EAGAIN;
	put(HVT_RING_OP_NET_WRITE, 2, BUF, 60, 0);
	CHECK_EQ(hvt_ring_service(&r), 1);
	CHECK_EQ(nsent, 10u);
	CHECK_EQ(r.dropped, 6ull);
	CHECK(!stop_requested(&stop));
}

static void reads_commit(void)
{
	reset();
	put(HVT_RING_OP_NET_READ, 2, BUF, 1514, 7); /* nothing waiting */
	rx_len = 100;
	put(HVT_RING_OP_NET_READ, 2, BUF + 4096, 1514, 8);
	rx_len = 0;
	CHECK_EQ(hvt_ring_service(&r), 2);
	/* the second read found no frame either: rx_len was consumed by nothing yet */
	struct hvt_ring_commit c = commit(0);
	CHECK_EQ(c.id, 7u);
	CHECK_EQ(c.ret, SOLO5_R_AGAIN);
	CHECK_EQ(c.len, 0u);
	CHECK_EQ(get32(HVT_RING_COM_TAIL), 2u);
	rx_len = 100;
	put(HVT_RING_OP_NET_READ, 2, BUF + 4096, 1514, 9);
	CHECK_EQ(hvt_ring_service(&r), 1);
	c = commit(2);
	CHECK_EQ(c.id, 9u);
	CHECK_EQ(c.ret, SOLO5_R_OK);
	CHECK_EQ(c.len, 100u);
	CHECK_EQ(gm.base[BUF + 4096], 0x5a);
	CHECK_EQ(gm.base[BUF + 4096 + 100], 0);
	rx_len = 200;
	put(HVT_RING_OP_NET_READ, 2, BUF, 64, 10); /* frame too big: dropped, EINVAL */
	put(HVT_RING_OP_NET_READ, 3, BUF, 64, 11); /* unattached */
	put(HVT_RING_OP_NET_READ, 2, BUF, 0, 12);  /* empty buffer */
	CHECK_EQ(hvt_ring_service(&r), 3);
	for (uint32_t i = 3; i < 6; i++) {
		CHECK_EQ(commit(i).ret, SOLO5_R_EINVAL);
		CHECK_EQ(commit(i).id, i + 7);
	}
	CHECK(!stop_requested(&stop));
}

/* Indexes run freely: slot = index % 1024 across the 32-bit wrap. */
static void index_wrap(void)
{
	reset();
	r.ent_head = r.com_tail = 0xfffffffeu;
	set32(HVT_RING_ENT_TAIL, 0xfffffffeu);
	set32(HVT_RING_COM_HEAD, 0xfffffffeu);
	for (uint32_t i = 0; i < 4; i++)
		put(HVT_RING_OP_NET_READ, 2, BUF, 64, i);
	CHECK_EQ(get32(HVT_RING_ENT_TAIL), 2u);
	CHECK_EQ(hvt_ring_service(&r), 4);
	CHECK_EQ(get32(HVT_RING_ENT_HEAD), 2u);
	CHECK_EQ(get32(HVT_RING_COM_TAIL), 2u);
	CHECK_EQ(commit(0xfffffffeu).id, 0u);
	CHECK_EQ(commit(1).id, 3u);
	CHECK(!stop_requested(&stop));
}

static void violations(void)
{
	reset(); /* ent_tail far ahead of the tender */
	set32(HVT_RING_ENT_TAIL, 2000);
	CHECK_EQ(hvt_ring_service(&r), -1);
	ended("ent_tail 2000 is 2000 entries past ent_head 0");
	reset(); /* ... or behind it */
	set32(HVT_RING_ENT_TAIL, 0xffffffffu);
	CHECK_EQ(hvt_ring_service(&r), -1);
	ended("ent_tail");
	reset(); /* exactly a full ring is fine */
	for (uint32_t i = 0; i < HVT_RING_SIZE; i++)
		put(HVT_RING_OP_NET_WRITE, 2, BUF, 60, i);
	CHECK_EQ(hvt_ring_service(&r), (int)HVT_RING_SIZE);
	const struct { uint32_t op; uint64_t data; uint32_t len; const char *what; } bad[] = {
		{HVT_RING_OP_NET_WRITE, 0xfffff000000ull, 60, "the net ring write buffer is not in the unikernel's memory"},
		{HVT_RING_OP_NET_WRITE, MEM - 30, 60, "not in the unikernel's memory"},
		{HVT_RING_OP_NET_WRITE, RING, 60, "gpa=0x600000"}, /* the ring block is the tender's */
		{HVT_RING_OP_NET_WRITE, UINT64_MAX - 10, 60, "not in the unikernel's memory"},
		{HVT_RING_OP_NET_READ, 0x100000, 60, "read buffer reaches into the unikernel's read-only memory"},
		{HVT_RING_OP_NET_READ, 0x2000, 60, "lies in the tender's area"},
		{HVT_RING_OP_NET_READ, RING - 10, 60, "not in the unikernel's memory"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reset();
		rx_len = 60;
		put(bad[i].op, 2, bad[i].data, bad[i].len, 1);
		CHECK_EQ(hvt_ring_service(&r), -1);
		ended(bad[i].what);
		CHECK_EQ(nsent, 0u);
		CHECK_EQ(get32(HVT_RING_COM_TAIL), 0u);
		CHECK_EQ(gm.base[0x100000], 0);
	}
	reset(); /* 1024 read results not consumed: the next read has nowhere to go */
	for (uint32_t i = 0; i < HVT_RING_SIZE; i++)
		put(HVT_RING_OP_NET_READ, 2, BUF, 64, i);
	CHECK_EQ(hvt_ring_service(&r), (int)HVT_RING_SIZE);
	put(HVT_RING_OP_NET_READ, 2, BUF, 64, 5000);
	CHECK_EQ(hvt_ring_service(&r), -1);
	ended("the commit ring is full");
	CHECK_EQ(commit(0).id, 0u); /* not overwritten */
	reset(); /* a com_head ahead of the tender's commits is as bad */
	set32(HVT_RING_COM_HEAD, 5);
	put(HVT_RING_OP_NET_READ, 2, BUF, 64, 1);
	CHECK_EQ(hvt_ring_service(&r), -1);
	ended("commit ring is full");
}

int main(void)
{
	test_suite_name = "hvt_ring";
	RUN(writes_in_order);
	RUN(reads_commit);
	RUN(index_wrap);
	RUN(violations);
	hvt_ring_destroy(&r, false);
	stop_destroy(&stop);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
