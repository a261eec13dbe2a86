/* libFuzzer target for the hvt hypercall handlers (src/hvt/hypercall.c): the input is a
 * stream of hypercalls, each a number, an argument address and 40 bytes of argument struct
 * (written at that address when it is RAM), issued against a small guest RAM with an
 * in-memory disk and network device. Handlers must refuse or serve every call without a
 * crash; the tender's area below 1 MiB (page tables) must never be written. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_net_fake.h"
#include "fuzz_ram.h"
#include "hvt/abi.h"
#include "hvt/hypercall.h"

#define RAM (2ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DISK_SIZE 8192u
static int disk_io(void *be, uint64_t off, const struct iovec *iov, int n)
{
	(void)be;
	if (n != 1 || off > DISK_SIZE || iov[0].iov_len > DISK_SIZE - off)
		abort(); /* the handler must have checked the range */
	return 0;
}
static int disk_flush(void *be) { (void)be; return 0; }
static void disk_close(void *be) { (void)be; }
static const struct blk_backend_ops disk_ops = {
	.read = disk_io, .write = disk_io, .flush = disk_flush, .close = disk_close};


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_stop stop;
	static struct hvt_mft mft;
	static struct hvt h;
	struct guest_mem *gm = fuzz_ram(RAM, "fuzz_hvt_hypercall");

	if (stop.efd <= 0 && stop_init(&stop) < 0)
		abort();
	memset(gm->base, 0, HVT_GUEST_MIN_BASE);
	atomic_store(&stop.requested, false);
	memset(&mft, 0, sizeof(mft));
	mft.n = 3;
	mft.e[0].type = MFT_RESERVED_FIRST;
	mft.e[1] = (struct hvt_mft_entry){.name = "d", .type = MFT_DEV_BLOCK_BASIC, .attached = true,
					  .capacity = DISK_SIZE, .block_size = 512};
	mft.e[2] = (struct hvt_mft_entry){.name = "n", .type = MFT_DEV_NET_BASIC, .attached = true};
	memset(&h, 0, sizeof(h));
	h.gm = gm;
	h.stop = &stop;
	h.mft = &mft;
	h.out_fd = -1; /* puts output is dropped */
	h.dev[1].blk = (struct blk_backend){.ops = &disk_ops, .size = DISK_SIZE, .block_size = 512};
	h.dev[2].net = (struct net_backend){.ops = &fuzz_net_ops};

	while (size >= 45) {
		unsigned nr = data[0] % 12;
		uint32_t gpa;
		memcpy(&gpa, data + 1, 4);
		gpa %= (uint32_t)(RAM + 0x1000);
		uint8_t arg[40];
		memcpy(arg, data + 5, sizeof(arg));
		if (nr == HVT_HYPERCALL_POLL)
			memset(arg, 0, 8); /* no sleeping in the fuzzer */
		if (gpa >= HVT_GUEST_MIN_BASE)
			(void)gm_write(gm, gpa, arg, sizeof(arg));
		int r = hvt_hypercall(&h, nr, gpa);
		if (r < 0 && !stop_requested(&stop))
			abort();
		data += 45;
		size -= 45;
		if (r < 0)
			break;
	}
	static const uint8_t zero[HVT_GUEST_MIN_BASE];
	if (memcmp(gm->base, zero, sizeof(zero)) != 0)
		abort();
	return 0;
}
