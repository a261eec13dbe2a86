/* KVM dirty-page logging through real KVM (src/kvm/dirty.c): a tiny 32-bit guest (paging off,
 * no stack, so it writes nothing but what it is told to) in two RAM slots writes known pages,
 * says so on a port and waits for a flag; the test pauses it and fetches the log, which must
 * hold exactly those pages (by RAM offset: slot 1's pages after slot 0's); the host writes the
 * flag (host-side tracking must report that page), the guest writes two more pages and exits;
 * the second fetch holds exactly those three. Then a Diff memory file of the second round has
 * data at exactly those pages and holes elsewhere, and layering it onto a copy of the RAM as it
 * was after round one gives the RAM as it is. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/dirty_log.h"
#include "core/log.h"
#include "core/stop.h"
#include "devices/debug_exit.h"
#include "kvm/dirty.h"
#include "kvm/kvm.h"
#include "test.h"

#define MiB (1ull << 20)
#define R1_GPA (16 * MiB)
#define CODE_GPA 0x10000u
#define FLAG_GPA 0x180000u
#define PHASE_PORT 0x600
#define DEBUG_EXIT_PORT 0xf4

static struct guest_mem gm;
static struct kvm kvm;
static struct vcpu vcpu;
static struct vm_stop stop;
static struct bus pio, mmio;
static atomic_int phase;

static void phase_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	(void)dev, (void)off, (void)data, (void)len;
	atomic_fetch_add(&phase, 1);
}
static void phase_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	(void)dev, (void)off;
	memset(data, 0, len);
}
static const struct bus_ops phase_ops = {.read = phase_read, .write = phase_write};

/* Round 1 writes (guest-physical) and the RAM pages they are. */
static const uint32_t round1[] = {0x100000, 0x13f000, 0x140ffc, R1_GPA, R1_GPA + 0x3000};
static const uint64_t round1_pages[] = {0x100, 0x13f, 0x140, 0x200, 0x203};
static const uint32_t round2[] = {0x101000, R1_GPA + 0x1ff000};
static const uint64_t round2_pages[] = {0x101, 0x180 /* the flag: a host write */, 0x3ff};

static size_t put_store(uint8_t *c, size_t n, uint32_t addr)
{
	c[n++] = 0xa3; /* mov [addr32], eax */
	memcpy(c + n, &addr, 4);
	return n + 4;
}

static size_t put_out(uint8_t *c, size_t n, uint16_t port)
{
	c[n++] = 0x66, c[n++] = 0xba; /* mov dx, port */
	memcpy(c + n, &port, 2);
	n += 2;
	c[n++] = 0xee; /* out dx, al */
	return n;
}

static void write_code(void)
{
	uint8_t c[256];
	size_t n = 0;
	uint32_t v = 0xa5a5a5a5, flag = FLAG_GPA;

	c[n++] = 0xb8; /* mov eax, imm32 */
	memcpy(c + n, &v, 4);
	n += 4;
	for (size_t i = 0; i < sizeof(round1) / sizeof(round1[0]); i++)
		n = put_store(c, n, round1[i]);
	n = put_out(c, n, PHASE_PORT);
	c[n++] = 0xa1; /* wait: mov eax, [flag] */
	memcpy(c + n, &flag, 4);
	n += 4;
	c[n++] = 0x85, c[n++] = 0xc0; /* test eax, eax */
	c[n++] = 0x74, c[n++] = 0xf7; /* jz wait */
	v = 0x5a5a5a5a;
	c[n++] = 0xb8;
	memcpy(c + n, &v, 4);
	n += 4;
	for (size_t i = 0; i < sizeof(round2) / sizeof(round2[0]); i++)
		n = put_store(c, n, round2[i]);
	c[n++] = 0xb0, c[n++] = 0x00; /* mov al, 0 */
	n = put_out(c, n, DEBUG_EXIT_PORT);
	c[n++] = 0xf4; /* hlt */
	CHECK_EQ(gm_write(&gm, CODE_GPA, c, n), 0);
}

/* The log holds exactly pages[0..n). */
static bool log_is(const struct dirty_log *dl, const uint64_t *pages, size_t n)
{
	if (dirty_log_count(dl) != n) {
		uint64_t pos = 0, first, count;
		printf("# dirty pages:");
		while (dirty_next_run(dl->bits, dl->npages, &pos, &first, &count))
			printf(" 0x%llx+%llu", (unsigned long long)first, (unsigned long long)count);
		printf("\n");
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (!(dl->bits[pages[i] / 64] & (1ull << (pages[i] % 64))))
			return false;
	return true;
}

static int wait_phase(int want)
{
	for (int i = 0; i < 20000 && atomic_load(&phase) < want && !stop_requested(&stop); i++)
		usleep(500);
	return atomic_load(&phase) >= want ? 0 : -1;
}

static void dirty_log_through_kvm(void)
{
	char err[256];
	const struct gm_region r[] = {{.gpa = 0, .size = 2 * MiB}, {.gpa = R1_GPA, .size = 2 * MiB}};
	struct kvm_dirty kd;
	struct dirty_log dl;

	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		printf("# no /dev/kvm: skipped\n");
		return;
	}
	CHECK_EQ(gm_create(&gm, r, 2, err, sizeof(err)), 0);
	write_code();
	CHECK_EQ(stop_init(&stop), 0);
	bus_init(&pio, "port");
	bus_init(&mmio, "MMIO address");
	CHECK_EQ(bus_register(&pio, DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, &debug_exit_ops, &stop,
			      "debug-exit"), 0);
	CHECK_EQ(bus_register(&pio, PHASE_PORT, 1, &phase_ops, NULL, "phase"), 0);
	if (kvm_open(&kvm, err, sizeof(err)) < 0 || kvm_create_vm(&kvm, &gm, false, err, sizeof(err)) < 0) {
		printf("# %s\n", err);
		CHECK(0);
		return;
	}
	const struct exit_ctx ctx = {.pio = &pio, .mmio = &mmio, .stop = &stop};
	const struct cpuid_hide hide = {0};
	const struct boot_entry entry = {.mode = BOOT_PVH32, .rip = CODE_GPA, .gdt_gpa = 0x5000};
	CHECK_EQ(vcpu_signals_init(), 0);
	CHECK_EQ(vcpu_create(&vcpu, &kvm, 0, 1, &hide, &ctx, err, sizeof(err)), 0);
	CHECK_EQ(vcpu_set_boot_state(&vcpu, &entry, err, sizeof(err)), 0);
	CHECK_EQ(dirty_log_init(&dl, &gm, err, sizeof(err)), 0);
	CHECK_EQ(dl.npages, 1024u);
	/* Fetch before start: refused with a reason. */
	kd.on = false;
	CHECK_EQ(kvm_dirty_fetch(&kd, &kvm, &gm, &dl, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "track_dirty_pages");
	if (kvm_dirty_start(&kd, &kvm, &gm, err, sizeof(err)) < 0) {
		printf("# %s\n", err);
		CHECK(0);
		return;
	}
	printf("# manual dirty-log protect: %s\n", kd.manual ? "yes" : "no");
	CHECK_EQ(vcpu_start(&vcpu), 0);
	CHECK_EQ(wait_phase(1), 0);
	vcpu_pause(&vcpu);
	CHECK_EQ(vcpu_wait_parked(&vcpu, 5000), 0);
	CHECK_EQ(kvm_dirty_fetch(&kd, &kvm, &gm, &dl, err, sizeof(err)), 0);
	CHECK(log_is(&dl, round1_pages, sizeof(round1_pages) / sizeof(round1_pages[0])));
	/* A second fetch at once: nothing new. */
	dirty_log_clear(&dl);
	CHECK_EQ(kvm_dirty_fetch(&kd, &kvm, &gm, &dl, err, sizeof(err)), 0);
	CHECK_EQ(dirty_log_count(&dl), 0u);

	/* The RAM as it is now: the base a Diff is layered on. */
	char full[] = "/tmp/mote-dirty-full-XXXXXX", diff[] = "/tmp/mote-dirty-diff-XXXXXX";
	int ffd = mkstemp(full), dfd = mkstemp(diff);
	CHECK(ffd >= 0 && dfd >= 0);
	uint64_t span = dl.npages * GM_PAGE_SIZE;
	CHECK_EQ(pwrite(ffd, gm.base, span, 0), (ssize_t)span);

	uint32_t one = 1;
	CHECK_EQ(gm_write(&gm, FLAG_GPA, &one, 4), 0);
	vcpu_resume(&vcpu);
	vcpu_destroy(&vcpu); /* joins: the guest wrote round 2 and exited */
	CHECK(stop_requested(&stop));
	CHECK_EQ(atomic_load(&phase), 1);
	CHECK_EQ(kvm_dirty_fetch(&kd, &kvm, &gm, &dl, err, sizeof(err)), 0);
	CHECK(log_is(&dl, round2_pages, sizeof(round2_pages) / sizeof(round2_pages[0])));
	uint32_t got = 0;
	CHECK_EQ(gm_read(&gm, R1_GPA + 0x1ff000, &got, 4), 0);
	CHECK_EQ(got, 0x5a5a5a5au);

	/* The Diff file: data exactly at the round-2 pages, holes elsewhere. */
	uint64_t bytes = 0;
	CHECK_EQ(dirty_write_diff(dfd, &gm, &dl, &bytes, err, sizeof(err)), 0);
	CHECK_EQ(bytes, 3 * GM_PAGE_SIZE);
	CHECK_EQ(lseek(dfd, 0, SEEK_END), (off_t)span);
	off_t d0 = lseek(dfd, 0, SEEK_DATA);
	CHECK_EQ(d0, (off_t)(0x101 * GM_PAGE_SIZE));
	CHECK_EQ(lseek(dfd, d0, SEEK_HOLE), (off_t)(0x102 * GM_PAGE_SIZE));
	CHECK_EQ(lseek(dfd, 0x102 * GM_PAGE_SIZE, SEEK_DATA), (off_t)(0x180 * GM_PAGE_SIZE));
	CHECK_EQ(lseek(dfd, 0x181 * GM_PAGE_SIZE, SEEK_DATA), (off_t)(0x3ff * GM_PAGE_SIZE));
	/* Full (round 1) + Diff (round 2) = the RAM now. */
	CHECK_EQ(dirty_apply_diff(ffd, dfd, span, &bytes, err, sizeof(err)), 0);
	CHECK_EQ(bytes, 3 * GM_PAGE_SIZE);
	uint8_t *now = malloc(span);
	CHECK(now && pread(ffd, now, span, 0) == (ssize_t)span);
	CHECK(now && memcmp(now, gm.base, span) == 0);
	free(now);
	/* A Diff of another VM's size is refused. */
	CHECK_EQ(ftruncate(dfd, (off_t)span / 2), 0);
	CHECK_EQ(dirty_apply_diff(ffd, dfd, span, &bytes, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "another VM");
	close(ffd);
	close(dfd);
	unlink(full);
	unlink(diff);

	CHECK_EQ(kvm_dirty_stop(&kd, &kvm, &gm, err, sizeof(err)), 0);
	CHECK(gm.written == NULL);
	CHECK_EQ(kvm_dirty_fetch(&kd, &kvm, &gm, &dl, err, sizeof(err)), -1);
	dirty_log_free(&dl);
	kvm_close(&kvm);
	bus_free(&pio);
	bus_free(&mmio);
	stop_destroy(&stop);
	gm_destroy(&gm);
}

int main(void)
{
	test_suite_name = "kvm_dirty";
	log_set_level(LOG_ERROR);
	RUN(dirty_log_through_kvm);
	TEST_MAIN_END();
}
