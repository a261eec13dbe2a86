/* Unit tests for the hvt hypercalls (src/hvt/hypercall.c) without KVM: argument structs are
 * placed in a small guest RAM, hypercalls are issued directly and through the bus callbacks,
 * and the block and network devices are in-memory fakes behind the backend vtables.
 * Hostile pointers and lengths must end the VM (status 8, a message) and touch nothing. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hvt/abi.h"
#include "hvt/hypercall.h"
#include "core/status.h"
#include "test.h"

#define MEM (4ull << 20)
#define ARG 0x200000ull  /* argument structs */
#define BUF 0x300000ull  /* data buffers */

static struct guest_mem gm;
static struct vm_stop stop;
static struct hvt_mft mft;
static struct hvt h;
static int out_pipe[2];

/* Fake disk: 64 KiB in memory. */
static uint8_t disk[65536];
static int fdisk_io(void *be, uint64_t off, const struct iovec *iov, int n, int wr)
{
	(void)be;
	for (int i = 0; i < n; i++) {
		if (off > sizeof(disk) || iov[i].iov_len > sizeof(disk) - off)
			return -EIO;
		if (wr)
			memcpy(disk + off, iov[i].iov_base, iov[i].iov_len);
		else
			memcpy(iov[i].iov_base, disk + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}
static int fdisk_read(void *be, uint64_t off, const struct iovec *iov, int n) { return fdisk_io(be, off, iov, n, 0); }
static int fdisk_write(void *be, uint64_t off, const struct iovec *iov, int n) { return fdisk_io(be, off, iov, n, 1); }
static int fdisk_flush(void *be) { (void)be; return 0; }
static void fdisk_close(void *be) { (void)be; }
static const struct blk_backend_ops fdisk_ops = {
	.read = fdisk_read, .write = fdisk_write, .flush = fdisk_flush, .close = fdisk_close};

/* Fake tap: one queued frame in, the last frame out; fd() is a pipe readable while a frame
 * is queued. */
static uint8_t rx[2048], tx[2048];
static size_t rx_len, tx_len;
static int rx_pipe[2];
static ssize_t fnet_recv(void *be, const struct iovec *iov, int n)
{
	(void)be;
	if (!rx_len)
		return -EAGAIN;
	if (n != 1 || iov[0].iov_len < rx_len) {
		rx_len = 0;
		return -EMSGSIZE;
	}
	memcpy(iov[0].iov_base, rx, rx_len);
	ssize_t r = (ssize_t)rx_len;
	char c;
	rx_len = 0;
	(void)!read(rx_pipe[0], &c, 1);
	return r;
}
static int fnet_send(void *be, const struct iovec *iov, int n)
{
	(void)be;
	tx_len = 0;
	for (int i = 0; i < n; i++) {
		memcpy(tx + tx_len, iov[i].iov_base, iov[i].iov_len);
		tx_len += iov[i].iov_len;
	}
	return 0;
}
static int fnet_fd(void *be) { (void)be; return rx_pipe[0]; }
static int fnet_off(void *be, unsigned f) { (void)be; (void)f; return 0; }
static void fnet_close(void *be) { (void)be; }
static const struct net_backend_ops fnet_ops = {fnet_recv, fnet_send, fnet_fd, fnet_off, fnet_close};

static void queue_frame(size_t len)
{
	for (size_t i = 0; i < len; i++)
		rx[i] = (uint8_t)i;
	rx_len = len;
	(void)!write(rx_pipe[1], "x", 1);
}

/* Fresh VM state: RAM zeroed, manifest [reserved, "disk" block, "net" net, "off" net unattached]. */
static void reset(void)
{
	static bool once;
	char err[128];
	if (!once) {
		const struct gm_region r = {.gpa = 0, .size = MEM};
		CHECK_EQ(gm_create(&gm, &r, 1, err, sizeof(err)), 0);
		CHECK_EQ(pipe2(out_pipe, O_NONBLOCK), 0);
		CHECK_EQ(pipe2(rx_pipe, O_NONBLOCK), 0);
		once = true;
	} else {
		stop_destroy(&stop);
	}
	memset(gm.base, 0, MEM);
	CHECK_EQ(stop_init(&stop), 0);
	memset(&mft, 0, sizeof(mft));
	mft.n = 4;
	mft.e[0].type = MFT_RESERVED_FIRST;
	strcpy(mft.e[1].name, "disk");
	mft.e[1] = (struct hvt_mft_entry){.name = "disk", .type = MFT_DEV_BLOCK_BASIC,
					  .attached = true, .capacity = sizeof(disk), .block_size = 512};
	mft.e[2] = (struct hvt_mft_entry){.name = "net", .type = MFT_DEV_NET_BASIC, .attached = true,
					  .mtu = 1500};
	mft.e[3] = (struct hvt_mft_entry){.name = "off", .type = MFT_DEV_NET_BASIC};
	memset(&h, 0, sizeof(h));
	h.gm = &gm;
	h.stop = &stop;
	h.mft = &mft;
	h.out_fd = out_pipe[1];
	h.sig_fd = -1;
	h.dev[1].blk = (struct blk_backend){.ops = &fdisk_ops, .size = sizeof(disk), .block_size = 512};
	h.dev[2].net = (struct net_backend){.ops = &fnet_ops};
	rx_len = tx_len = 0;
	char c;
	while (read(rx_pipe[0], &c, 1) == 1)
		;
}

static void put(uint64_t gpa, const void *v, size_t n) { CHECK_EQ(gm_write(&gm, gpa, v, n), 0); }

static int32_t ret_at(uint64_t gpa)
{
	int32_t r = -99;
	CHECK_EQ(gm_read(&gm, gpa, &r, 4), 0);
	return r;
}

/* The VM ended with status 8 and a message containing what. */
static void ended(const char *what)
{
	CHECK(stop_requested(&stop));
	CHECK_EQ(stop.status, MOTE_EXIT_GUEST_FAULT);
	CHECK_STR_CONTAINS(stop.reason, what);
}

static void walltime(void)
{
	reset();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_WALLTIME, ARG), 0);
	uint64_t ns = 0;
	CHECK_EQ(gm_read(&gm, ARG, &ns, 8), 0);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	CHECK(ns >= now && ns - now < 1000000000ull);
	CHECK(!stop_requested(&stop));
}

static void puts_(void)
{
	char got[32] = {0};
	reset();
	put(BUF, "hello", 5);
	struct hvt_hc_puts a = {.data = BUF, .len = 5};
	put(ARG, &a, sizeof(a));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_PUTS, ARG), 0);
	CHECK_EQ(read(out_pipe[0], got, sizeof(got)), 5);
	CHECK(!memcmp(got, "hello", 5));
	a.len = 0;
	put(ARG, &a, sizeof(a));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_PUTS, ARG), 0);
	a = (struct hvt_hc_puts){.data = HVT_CMDLINE_SIZE, .len = 1}; /* reading low memory is fine */
	put(ARG, &a, sizeof(a));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_PUTS, ARG), 0);
	CHECK_EQ(read(out_pipe[0], got, sizeof(got)), 1);
	CHECK(!stop_requested(&stop));
}

static void hostile_pointers(void)
{
	const struct { uint64_t data, len; const char *msg; } bad[] = {
		{MEM - 4, 5, "Invalid guest access: gpa=0x3ffffc, sz=5"},
		{MEM, 1, "not in the unikernel's memory"},
		{UINT64_MAX, 2, "not in the unikernel's memory"},
		{0xfffffffffffff000ull, 0x2000, "not in the unikernel's memory"},
		{BUF, 1ull << 63, "not in the unikernel's memory"},
		{BUF, UINT64_MAX, "not in the unikernel's memory"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reset();
		struct hvt_hc_puts a = {.data = bad[i].data, .len = bad[i].len};
		put(ARG, &a, sizeof(a));
		CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_PUTS, ARG), -1);
		ended(bad[i].msg);
	}
	const uint64_t args[] = {MEM - 4, MEM - 1, MEM, 1ull << 32, UINT64_MAX, 0, 0x2000, 0xfffff};
	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		for (unsigned nr = 1; nr < HVT_HYPERCALL_MAX; nr++) {
			reset();
			CHECK_EQ(hvt_hypercall(&h, nr, args[i]), -1);
			ended(args[i] < HVT_GUEST_MIN_BASE ? "tender's area" : "not in the unikernel's memory");
		}
	}
	for (unsigned nr = 0; nr < 300; nr = nr ? nr * 3 : HVT_HYPERCALL_MAX) {
		reset();
		CHECK_EQ(hvt_hypercall(&h, nr, ARG), -1);
		ended("Invalid guest hypercall: num=");
	}
}

static void block(void)
{
	reset();
	memset(disk, 0, sizeof(disk));
	for (unsigned i = 0; i < 1024; i++)
		gm.base[BUF + i] = (uint8_t)(i * 3);
	struct hvt_hc_block_write w = {.handle = 1, .offset = 512, .data = BUF, .len = 1024};
	put(ARG, &w, sizeof(w));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_BLOCK_WRITE, ARG), 0);
	CHECK_EQ(ret_at(ARG + offsetof(struct hvt_hc_block_write, ret)), SOLO5_R_OK);
	CHECK(!memcmp(disk + 512, gm.base + BUF, 1024));
	struct hvt_hc_block_read r = {.handle = 1, .offset = 512, .data = BUF + 4096, .len = 1024};
	put(ARG, &r, sizeof(r));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_BLOCK_READ, ARG), 0);
	CHECK_EQ(ret_at(ARG + 32), SOLO5_R_OK);
	CHECK(!memcmp(gm.base + BUF + 4096, gm.base + BUF, 1024));
	CHECK_EQ(h.bytes_read, 1024ull);
	CHECK_EQ(h.bytes_written, 1024ull);
	/* Refused with EINVAL; the VM runs on and nothing is transferred. */
	const struct { uint64_t handle, off, len; } inval[] = {
		{1, 100, 512}, {1, 0, 100}, {1, 0, 0}, {1, 0, 513}, {1, sizeof(disk), 512},
		{1, sizeof(disk) - 512, 1024}, {1, 512, UINT64_MAX - 511}, {1, UINT64_MAX - 511, 512},
		{0, 0, 512}, {2, 0, 512}, {3, 0, 512}, {4, 0, 512}, {64, 0, 512}, {UINT64_MAX, 0, 512},
	};
	for (size_t i = 0; i < sizeof(inval) / sizeof(inval[0]); i++) {
		for (int wr = 0; wr < 2; wr++) {
			memset(disk, 0xee, sizeof(disk));
			r = (struct hvt_hc_block_read){.handle = inval[i].handle, .offset = inval[i].off,
						       .data = BUF, .len = inval[i].len, .ret = -1};
			put(ARG, &r, sizeof(r));
			CHECK_EQ(hvt_hypercall(&h, wr ? HVT_HYPERCALL_BLOCK_WRITE : HVT_HYPERCALL_BLOCK_READ,
					       ARG), 0);
			CHECK_EQ(ret_at(ARG + 32), SOLO5_R_EINVAL);
			CHECK_EQ(disk[0], 0xee);
			CHECK(!stop_requested(&stop));
		}
	}
	/* A read into the page tables, or a buffer past RAM, ends the VM. */
	r = (struct hvt_hc_block_read){.handle = 1, .offset = 0, .data = 0x2000, .len = 512};
	put(ARG, &r, sizeof(r));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_BLOCK_READ, ARG), -1);
	ended("tender's area");
	CHECK_EQ(gm.base[0x2000], 0);
	reset();
	r = (struct hvt_hc_block_read){.handle = 1, .offset = 0, .data = MEM - 256, .len = 512};
	put(ARG, &r, sizeof(r));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_BLOCK_READ, ARG), -1);
	ended("block read buffer");
	reset(); /* writing from low memory is a read of guest memory: allowed */
	w = (struct hvt_hc_block_write){.handle = 1, .offset = 0, .data = 0x80000, .len = 512};
	put(ARG, &w, sizeof(w));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_BLOCK_WRITE, ARG), 0);
	CHECK_EQ(ret_at(ARG + 32), SOLO5_R_OK);
}

static void net(void)
{
	reset();
	for (unsigned i = 0; i < 60; i++)
		gm.base[BUF + i] = (uint8_t)(0x40 + i);
	struct hvt_hc_net_write w = {.handle = 2, .data = BUF, .len = 60};
	put(ARG, &w, sizeof(w));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_NET_WRITE, ARG), 0);
	CHECK_EQ(ret_at(ARG + 24), SOLO5_R_OK);
	CHECK_EQ(tx_len, 60u);
	CHECK(!memcmp(tx, gm.base + BUF, 60));
	const struct { uint64_t handle, len; } inval[] = {{2, 0}, {2, 65537}, {1, 60}, {3, 60}, {0, 60}, {77, 60}};
	for (size_t i = 0; i < sizeof(inval) / sizeof(inval[0]); i++) {
		tx_len = 0;
		w = (struct hvt_hc_net_write){.handle = inval[i].handle, .data = BUF, .len = inval[i].len};
		put(ARG, &w, sizeof(w));
		CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_NET_WRITE, ARG), 0);
		CHECK_EQ(ret_at(ARG + 24), SOLO5_R_EINVAL);
		CHECK_EQ(tx_len, 0u);
	}
	struct hvt_hc_net_read r = {.handle = 2, .data = BUF + 4096, .len = 1514};
	put(ARG, &r, sizeof(r));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_NET_READ, ARG), 0);
	CHECK_EQ(ret_at(ARG + 24), SOLO5_R_AGAIN);
	queue_frame(100);
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_NET_READ, ARG), 0);
	CHECK_EQ(ret_at(ARG + 24), SOLO5_R_OK);
	uint64_t len = 0;
	CHECK_EQ(gm_read(&gm, ARG + 16, &len, 8), 0);
	CHECK_EQ(len, 100ull);
	CHECK(!memcmp(gm.base + BUF + 4096, rx, 100));
	queue_frame(200);
	r.len = 64;
	put(ARG, &r, sizeof(r));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_NET_READ, ARG), 0);
	CHECK_EQ(ret_at(ARG + 24), SOLO5_R_EINVAL); /* frame too big for the buffer: dropped */
	r = (struct hvt_hc_net_read){.handle = 2, .data = 0x3000, .len = 64};
	put(ARG, &r, sizeof(r));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_NET_READ, ARG), -1);
	ended("tender's area");
	reset();
	w = (struct hvt_hc_net_write){.handle = 2, .data = MEM - 10, .len = 60};
	put(ARG, &w, sizeof(w));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_NET_WRITE, ARG), -1);
	ended("net write buffer");
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void poll_(void)
{
	reset();
	struct hvt_hc_poll p = {.timeout_nsecs = 50000000ull, .ready_set = 77, .ret = -5};
	put(ARG, &p, sizeof(p));
	uint64_t t = now_ms();
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_POLL, ARG), 0);
	t = now_ms() - t;
	CHECK(t >= 50 && t < 1000);
	CHECK_EQ(gm_read(&gm, ARG, &p, sizeof(p)), 0);
	CHECK_EQ(p.ready_set, 0ull);
	CHECK_EQ(p.ret, 0);
	queue_frame(60);
	p = (struct hvt_hc_poll){.timeout_nsecs = UINT64_MAX};
	put(ARG, &p, sizeof(p));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_POLL, ARG), 0);
	CHECK_EQ(gm_read(&gm, ARG, &p, sizeof(p)), 0);
	CHECK_EQ(p.ready_set, 1ull << 2);
	CHECK_EQ(p.ret, 1);
	/* A stop request wakes a long poll at once. */
	rx_len = 0;
	char c;
	while (read(rx_pipe[0], &c, 1) == 1)
		;
	stop_request(&stop, MOTE_EXIT_USER, "signal");
	p = (struct hvt_hc_poll){.timeout_nsecs = 10000000000ull};
	put(ARG, &p, sizeof(p));
	t = now_ms();
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_POLL, ARG), -1);
	CHECK(now_ms() - t < 1000);
}

static void halt(void)
{
	reset();
	struct hvt_hc_halt a = {.cookie = 0, .exit_status = 3};
	put(ARG, &a, sizeof(a));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_HALT, ARG), -1);
	CHECK_EQ(stop.status, 3);
	reset();
	a = (struct hvt_hc_halt){.cookie = BUF, .exit_status = SOLO5_EXIT_ABORT};
	put(ARG, &a, sizeof(a));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_HALT, ARG), -1);
	CHECK_EQ(stop.status, 255);
	CHECK(h.halted);
	reset();
	a = (struct hvt_hc_halt){.cookie = MEM - 100, .exit_status = 0};
	put(ARG, &a, sizeof(a));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_HALT, ARG), -1);
	ended("halt cookie");
	reset();
	a = (struct hvt_hc_halt){.exit_status = 0x1234};
	put(ARG, &a, sizeof(a));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_HALT, ARG), -1);
	CHECK_EQ(stop.status, 0x34);
}

static uint64_t fake_rip(void *ctx)
{
	(void)ctx;
	return 0x100042;
}

static void bus(void)
{
	uint8_t d[8] = {0, 0, 0x20, 0}; /* 0x200000 = ARG */
	reset();
	hvt_pio_ops.write(&h, HVT_HYPERCALL_PIO_BASE + HVT_HYPERCALL_WALLTIME, d, 4);
	CHECK(!stop_requested(&stop));
	hvt_pio_ops.write(&h, HVT_HYPERCALL_PIO_BASE + HVT_HYPERCALL_WALLTIME, d, 2);
	ended("Invalid guest port access: port=0x501");
	reset();
	hvt_pio_ops.write(&h, 0x80, d, 4);
	ended("port=0x80");
	reset();
	memset(d, 0, sizeof(d));
	hvt_pio_ops.read(&h, 0x501, d, 4);
	ended("Invalid guest port access: port=0x501 (a read)");
	CHECK_EQ(d[0], 0xff);
	reset();
	uint8_t a[8] = {0, 0, 0x20, 0};
	hvt_mmio_ops.write(&h, HVT_HYPERCALL_MMIO_BASE + 8 * HVT_HYPERCALL_WALLTIME, a, 4);
	CHECK(!stop_requested(&stop));
	hvt_mmio_ops.write(&h, HVT_HYPERCALL_MMIO_BASE + 8 * HVT_HYPERCALL_WALLTIME + 4, a, 4);
	ended("KVM: unhandled exit: exit_reason=0x6");
	reset();
	hvt_mmio_ops.write(&h, 0xfee00000, a, 4);
	ended("unbacked guest-physical address 0xfee00000");
	reset();
	hvt_mmio_ops.read(&h, HVT_HYPERCALL_MMIO_BASE, a, 8);
	ended("read");
	/* A write KVM refused because the page is read-only: solo5-hvt's words, with the rip. */
	reset();
	const struct gm_region ro[2] = {{.gpa = 0x100000, .size = 0x2000}, {.gpa = 0x105000, .size = 0x1000}};
	h.ro = ro;
	h.nro = 2;
	h.rip = fake_rip;
	hvt_mmio_ops.write(&h, 0x105ff8, a, 8);
	ended("KVM: host/guest translation fault: rip=0x100042 (a 8-byte write to the unikernel's "
	      "read-only memory at 0x105ff8)");
	reset();
	h.ro = ro;
	h.nro = 2;
	hvt_mmio_ops.write(&h, 0x106000, a, 8); /* just past it: not read-only, so unbacked */
	ended("exit_reason=0x6");
}

/* The tender never writes into the read-only text for the guest (a block read there would
 * undo W^X), nor into the net ring's block above the unikernel's memory; reading from the
 * text (puts, block write) is fine. */
static void protected_ranges(void)
{
	const struct gm_region ro[1] = {{.gpa = BUF, .size = 0x1000}};
	reset();
	h.ro = ro;
	h.nro = 1;
	struct hvt_hc_block_read r = {.handle = 1, .offset = 0, .data = BUF + 0xe00, .len = 1024};
	put(ARG, &r, sizeof(r));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_BLOCK_READ, ARG), -1);
	ended("read-only memory");
	reset();
	h.ro = ro;
	h.nro = 1;
	struct hvt_hc_block_write w = {.handle = 1, .offset = 0, .data = BUF, .len = 512};
	put(ARG, &w, sizeof(w));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_BLOCK_WRITE, ARG), 0);
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_WALLTIME, BUF + 8), -1); /* output field in text */
	ended("walltime hypercall argument reaches into the unikernel's read-only memory");
	reset();
	h.mem_limit = MEM - (2ull << 20);
	struct hvt_hc_puts p = {.data = MEM - (2ull << 20), .len = 1};
	put(ARG, &p, sizeof(p));
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_PUTS, ARG), -1);
	ended("not in the unikernel's memory");
	reset();
	h.mem_limit = MEM - (2ull << 20);
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_WALLTIME, MEM - (2ull << 20) - 8), 0);
	CHECK(!stop_requested(&stop));
}

/* A stop signal pending on sig_fd wakes a long poll and ends the VM with solo5-hvt's words. */
static void signal_(void)
{
	int p[2];
	CHECK_EQ(pipe2(p, O_NONBLOCK), 0);
	reset();
	h.sig_fd = p[0];
	struct signalfd_siginfo si = {.ssi_signo = SIGTERM};
	CHECK_EQ(write(p[1], &si, sizeof(si)), (ssize_t)sizeof(si));
	struct hvt_hc_poll a = {.timeout_nsecs = 10000000000ull};
	put(ARG, &a, sizeof(a));
	uint64_t t = now_ms();
	CHECK_EQ(hvt_hypercall(&h, HVT_HYPERCALL_POLL, ARG), -1);
	CHECK(now_ms() - t < 1000);
	CHECK_EQ(stop.status, MOTE_EXIT_USER);
	CHECK_STR_CONTAINS(stop.reason, "Exiting on signal 15");
	CHECK(!h.halted);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	test_suite_name = "hvt_hypercall";
	RUN(walltime);
	RUN(puts_);
	RUN(hostile_pointers);
	RUN(block);
	RUN(net);
	RUN(poll_);
	RUN(halt);
	RUN(bus);
	RUN(protected_ranges);
	RUN(signal_);
	stop_destroy(&stop);
	gm_destroy(&gm);
	close(out_pipe[0]);
	close(out_pipe[1]);
	close(rx_pipe[0]);
	close(rx_pipe[1]);
	TEST_MAIN_END();
}
