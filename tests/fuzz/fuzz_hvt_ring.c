/* libFuzzer target for the tender's side of the net ring (src/hvt/ring.c): the input is the
 * unikernel's half of the ring (ent_tail, com_head, the entries) and the tender's starting
 * index, serviced a few times against a small guest RAM with an in-memory network device.
 * Every entry must be refused, skipped or served without a crash; the tender's area below
 * 1 MiB and the read-only range must never be written, and no commit may pass the ring. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_net_fake.h"
#include "fuzz_ram.h"
#include "hvt/abi.h"
#include "hvt/ring.h"

#define RAM (4ull << 20)
#define RING_GPA (RAM - HVT_RING_BLOCK)
#define RO_GPA 0x100000ull
#define RO_SIZE 0x2000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_stop stop;
	static struct hvt_mft mft;
	static struct hvt h;
	static struct hvt_ring_host r;
	static const struct gm_region ro = {.gpa = RO_GPA, .size = RO_SIZE};
	struct guest_mem *gm = fuzz_ram(RAM, "fuzz_hvt_ring");
	char err[128];

	if (size < 16)
		return 0;
	if (stop.efd <= 0 && stop_init(&stop) < 0)
		abort();
	memset(gm->base, 0, HVT_GUEST_MIN_BASE + RO_SIZE);
	atomic_store(&stop.requested, false);
	memset(&mft, 0, sizeof(mft));
	mft.n = 3;
	mft.e[0].type = MFT_RESERVED_FIRST;
	mft.e[1] = (struct hvt_mft_entry){.name = "d", .type = MFT_DEV_BLOCK_BASIC};
	mft.e[2] = (struct hvt_mft_entry){.name = "n", .type = MFT_DEV_NET_BASIC, .attached = true};
	memset(&h, 0, sizeof(h));
	h.gm = gm;
	h.stop = &stop;
	h.mft = &mft;
	h.sig_fd = -1;
	h.mem_limit = RING_GPA;
	h.ro = &ro;
	h.nro = 1;
	h.dev[2].net = (struct net_backend){.ops = &fuzz_net_ops};
	if (r.kick_fd > 0)
		hvt_ring_destroy(&r, false);
	if (hvt_ring_init(&r, &h, RING_GPA, err, sizeof(err)) < 0)
		abort();
	r.ent_head = r.com_tail = rd32(data); /* the tender's indexes may start anywhere */
	memcpy(r.shm + HVT_RING_COM_HEAD, data, 4);
	size_t n = size - 4 > HVT_RING_SIZE * sizeof(struct hvt_ring_entry)
			   ? HVT_RING_SIZE * sizeof(struct hvt_ring_entry) : size - 4;
	memcpy(r.shm + HVT_RING_ENTRIES, data + 4, n);
	for (int round = 0; round < 3 && !stop_requested(&stop); round++) {
		/* ent_tail a little ahead of the tender each round, or wherever the input says. */
		uint32_t t = rd32(data + 4 + (size_t)round * 4);
		uint32_t tail = (t & 0x80000000u) ? t : r.ent_head + (t % (HVT_RING_SIZE + 8));
		memcpy(r.shm + HVT_RING_ENT_TAIL, &tail, 4);
		int rc = hvt_ring_service(&r);
		if (rc < 0 && !stop_requested(&stop))
			abort();
		uint32_t com_head = rd32(r.shm + HVT_RING_COM_HEAD);
		if (rc >= 0 && r.com_tail - com_head > HVT_RING_SIZE)
			abort();
	}
	static const uint8_t zero[HVT_GUEST_MIN_BASE + RO_SIZE];
	if (memcmp(gm->base, zero, sizeof(zero)) != 0)
		abort();
	return 0;
}
