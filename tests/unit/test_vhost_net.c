/* Unit tests for the vhost-net setup (src/vmm/vhost_net.c) against a fake kernel: every ioctl is
 * recorded with its argument, so the exact sequence (SET_OWNER, GET_FEATURES, SET_MEM_TABLE;
 * SET_FEATURES, per ring NUM/BASE/ADDR/KICK/CALL, NET_SET_BACKEND per ring; on stop
 * NET_SET_BACKEND -1 and GET_VRING_BASE) and the arguments (memory regions from guest memory,
 * ring addresses, eventfds, the tap fd, features masked by what the kernel has) are checked,
 * as are failures at each step (the fd is closed, a half-started backend is taken back).
 * The real /dev/vhost-net path is not exercised here (the machines have none). */
#include <errno.h>
#include <linux/vhost.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "guest_ram.h"
#include "test.h"
#include "vmm/vhost_net.h"

#define MAXCALLS 64
struct rec {
	unsigned long req;
	uint64_t u64;
	struct vhost_vring_state st;
	struct vhost_vring_addr addr;
	struct vhost_vring_file file;
	uint32_t nregions;
	struct vhost_memory_region regions[4];
};
static struct rec calls[MAXCALLS];
static int ncalls, opened, closed, fail_at = -1, open_err;
static uint64_t kernel_features;

static int f_open(void *ctx)
{
	(void)ctx;
	if (open_err)
		return -open_err;
	opened++;
	return 42;
}

static int f_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	(void)ctx;
	CHECK_EQ(fd, 42);
	if (ncalls >= MAXCALLS)
		return -E2BIG;
	struct rec *r = &calls[ncalls];
	memset(r, 0, sizeof(*r));
	r->req = req;
	switch (req) {
	case VHOST_GET_FEATURES:
		*(uint64_t *)arg = kernel_features;
		break;
	case VHOST_SET_FEATURES:
		r->u64 = *(uint64_t *)arg;
		break;
	case VHOST_SET_MEM_TABLE: {
		const struct vhost_memory *m = arg;
		r->nregions = m->nregions;
		for (uint32_t i = 0; i < m->nregions && i < 4; i++)
			r->regions[i] = m->regions[i];
		break;
	}
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
		r->st = *(struct vhost_vring_state *)arg;
		break;
	case VHOST_SET_VRING_ADDR:
		r->addr = *(struct vhost_vring_addr *)arg;
		break;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_NET_SET_BACKEND:
		r->file = *(struct vhost_vring_file *)arg;
		break;
	default:
		break;
	}
	return ncalls++ == fail_at ? -EINVAL : 0;
}

static void f_close(void *ctx, int fd)
{
	(void)ctx;
	CHECK_EQ(fd, 42);
	closed++;
}

static const struct vhost_net_ops fake = { f_open, f_ioctl, f_close };

static void reset_fake(void)
{
	ncalls = opened = closed = open_err = 0;
	fail_at = -1;
	kernel_features = (1ull << 15) | (1ull << 28) | (1ull << 29) | (1ull << 32) | (1ull << 27);
}

static const struct vhost_net_ring rings[2] = {
	{ .num = 256, .desc = 0x7000, .avail = 0x8000, .used = 0x9000, .kick_fd = 10, .call_fd = 11 },
	{ .num = 128, .desc = 0xa000, .avail = 0xb000, .used = 0xc000, .kick_fd = 12, .call_fd = 13 },
};

static void full_sequence(void)
{
	struct vhost_net v;
	char err[128] = "";

	reset_fake();
	CHECK_EQ(vhost_net_open(&v, &fake, NULL, &gm, 7, err, sizeof(err)), 0);
	CHECK_EQ(opened, 1);
	CHECK_EQ(ncalls, 3);
	CHECK_EQ(calls[0].req, (unsigned long)VHOST_SET_OWNER);
	CHECK_EQ(calls[1].req, (unsigned long)VHOST_GET_FEATURES);
	CHECK_EQ(calls[2].req, (unsigned long)VHOST_SET_MEM_TABLE);
	CHECK_EQ(v.features, kernel_features);
	/* Both RAM regions (below the hole and above 4 GiB), with their host addresses. */
	CHECK_EQ(calls[2].nregions, 2u);
	CHECK_EQ(calls[2].regions[0].guest_phys_addr, 0u);
	CHECK_EQ(calls[2].regions[0].memory_size, 1ull << 20);
	CHECK_EQ(calls[2].regions[0].userspace_addr, (uint64_t)(uintptr_t)gm_region_host(&gm, 0));
	CHECK_EQ(calls[2].regions[1].guest_phys_addr, 1ull << 32);
	CHECK_EQ(calls[2].regions[1].memory_size, 1ull << 20);
	CHECK_EQ(calls[2].regions[1].userspace_addr, (uint64_t)(uintptr_t)gm_region_host(&gm, 1));

	ncalls = 0;
	uint64_t want = (1ull << 32) | (1ull << 29) | (1ull << 15) | (1ull << 0) | (1ull << 5);
	CHECK_EQ(vhost_net_start(&v, want, rings, err, sizeof(err)), 0);
	CHECK(v.started);
	CHECK_EQ(ncalls, 1 + 2 * 5 + 2);
	CHECK_EQ(calls[0].req, (unsigned long)VHOST_SET_FEATURES);
	CHECK_EQ(calls[0].u64, want & kernel_features); /* CSUM and MAC are the tap's business */
	for (unsigned q = 0; q < 2; q++) {
		const struct rec *c = &calls[1 + 5 * q];
		CHECK_EQ(c[0].req, (unsigned long)VHOST_SET_VRING_NUM);
		CHECK_EQ(c[0].st.index, q);
		CHECK_EQ(c[0].st.num, rings[q].num);
		CHECK_EQ(c[1].req, (unsigned long)VHOST_SET_VRING_BASE);
		CHECK_EQ(c[1].st.index, q);
		CHECK_EQ(c[1].st.num, 0u);
		CHECK_EQ(c[2].req, (unsigned long)VHOST_SET_VRING_ADDR);
		CHECK_EQ(c[2].addr.index, q);
		CHECK_EQ(c[2].addr.desc_user_addr, rings[q].desc);
		CHECK_EQ(c[2].addr.avail_user_addr, rings[q].avail);
		CHECK_EQ(c[2].addr.used_user_addr, rings[q].used);
		CHECK_EQ(c[2].addr.flags, 0u);
		CHECK_EQ(c[3].req, (unsigned long)VHOST_SET_VRING_KICK);
		CHECK_EQ(c[3].file.index, q);
		CHECK_EQ(c[3].file.fd, rings[q].kick_fd);
		CHECK_EQ(c[4].req, (unsigned long)VHOST_SET_VRING_CALL);
		CHECK_EQ(c[4].file.fd, rings[q].call_fd);
	}
	for (unsigned q = 0; q < 2; q++) {
		CHECK_EQ(calls[11 + q].req, (unsigned long)VHOST_NET_SET_BACKEND);
		CHECK_EQ(calls[11 + q].file.index, q);
		CHECK_EQ(calls[11 + q].file.fd, 7);
	}

	ncalls = 0;
	vhost_net_stop(&v);
	CHECK(!v.started);
	CHECK_EQ(ncalls, 4);
	CHECK_EQ(calls[0].req, (unsigned long)VHOST_NET_SET_BACKEND);
	CHECK_EQ(calls[0].file.fd, -1);
	CHECK_EQ(calls[1].req, (unsigned long)VHOST_NET_SET_BACKEND);
	CHECK_EQ(calls[1].file.index, 1u);
	CHECK_EQ(calls[2].req, (unsigned long)VHOST_GET_VRING_BASE);
	CHECK_EQ(calls[3].req, (unsigned long)VHOST_GET_VRING_BASE);
	vhost_net_stop(&v); /* idempotent */
	CHECK_EQ(ncalls, 4);
	vhost_net_close(&v);
	CHECK_EQ(closed, 1);
	vhost_net_close(&v);
	CHECK_EQ(closed, 1);
}

static void failures(void)
{
	struct vhost_net v;
	char err[128] = "";

	reset_fake();
	open_err = ENOENT;
	CHECK_EQ(vhost_net_open(&v, &fake, NULL, &gm, 7, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "/dev/vhost-net");
	CHECK_EQ(v.fd, -1);
	/* Each setup step failing: a message naming it, the fd closed. */
	const char *names[] = { "SET_OWNER", "GET_FEATURES", "SET_MEM_TABLE" };
	for (int i = 0; i < 3; i++) {
		reset_fake();
		fail_at = i;
		CHECK_EQ(vhost_net_open(&v, &fake, NULL, &gm, 7, err, sizeof(err)), -1);
		CHECK_STR_CONTAINS(err, names[i]);
		CHECK_EQ(closed, 1);
		CHECK_EQ(v.fd, -1);
	}
	/* The second ring's backend refused: the first is taken back. */
	reset_fake();
	CHECK_EQ(vhost_net_open(&v, &fake, NULL, &gm, 7, err, sizeof(err)), 0);
	ncalls = 0;
	fail_at = 12;
	CHECK_EQ(vhost_net_start(&v, ~0ull, rings, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "NET_SET_BACKEND");
	CHECK(!v.started);
	CHECK_EQ(ncalls, 14);
	CHECK_EQ(calls[13].req, (unsigned long)VHOST_NET_SET_BACKEND);
	CHECK_EQ(calls[13].file.index, 0u);
	CHECK_EQ(calls[13].file.fd, -1);
	/* A ring step failing stops the sequence there. */
	ncalls = 0;
	fail_at = 3; /* ring 0 SET_VRING_ADDR */
	CHECK_EQ(vhost_net_start(&v, ~0ull, rings, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "SET_VRING_ADDR");
	CHECK_EQ(ncalls, 4);
	vhost_net_close(&v);
	CHECK_EQ(closed, 1);
	/* Not open: start refuses. */
	CHECK_EQ(vhost_net_start(&v, 0, rings, err, sizeof(err)), -1);
}

int main(void)
{
	const struct gm_region r[] = { { .gpa = 0, .size = 1 << 20 },
				       { .gpa = 1ull << 32, .size = 1 << 20 } };
	char err[128];

	test_suite_name = "vhost_net";
	log_set_level(LOG_ERROR);
	if (gm_create(&gm, r, 2, err, sizeof(err)) < 0) {
		printf("fail vhost_net.setup: %s\n", err);
		return 1;
	}
	RUN(full_sequence);
	RUN(failures);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
