/* Unit tests for the guest-memory gate (core/guest_mem): layout refusals, every edge of
 * gm_ptr() against a 128-bit reference, copies that refuse all-or-nothing, the memfd
 * layout, and the guard pages around the mapping (probed in forked children). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/guest_mem.h"
#include "test.h"

#define MIB (UINT64_C(1) << 20)
#define HI_GPA UINT64_C(0x100000000)

static const struct gm_region two_regions[2] = {
	{.gpa = 0, .size = MIB},
	{.gpa = HI_GPA, .size = MIB},
};

/* Tries a layout that must be refused; checks the failure leaves gm empty and explains
 * itself. Returns 1 when refused as expected. */
static int refused(const struct gm_region *r, size_t n, const char *why_word)
{
	struct guest_mem gm;
	char err[256] = "";

	if (gm_create(&gm, r, n, err, sizeof(err)) == 0) {
		gm_destroy(&gm);
		return 0;
	}
	if (gm.fd != -1 || gm.base != NULL || gm.map != NULL || gm.nregions != 0)
		return 0;
	if (err[0] == '\0' || (why_word && !strstr(err, why_word))) {
		printf("  unexpected reason: %s\n", err);
		return 0;
	}
	return 1;
}

static int accepted(const struct gm_region *r, size_t n)
{
	struct guest_mem gm;
	char err[256] = "";
	int ok = gm_create(&gm, r, n, err, sizeof(err)) == 0;

	if (ok)
		gm_destroy(&gm);
	else
		printf("  refused: %s\n", err);
	return ok;
}

static int open_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void layout_region_count(void)
{
	struct gm_region r[GM_MAX_REGIONS + 1];

	for (size_t i = 0; i < GM_MAX_REGIONS + 1; i++)
		r[i] = (struct gm_region){.gpa = i * 0x10000, .size = GM_PAGE_SIZE};
	CHECK(refused(r, 0, "regions"));
	CHECK(refused(r, GM_MAX_REGIONS + 1, "regions"));
	CHECK(refused(r, SIZE_MAX, "regions"));
	CHECK(accepted(r, GM_MAX_REGIONS));
	CHECK(accepted(r, 1));
}

static void layout_alignment_and_empty(void)
{
	const struct gm_region gpa_off[] = {{.gpa = 0x800, .size = GM_PAGE_SIZE}};
	const struct gm_region gpa_off1[] = {{.gpa = 0x1001, .size = GM_PAGE_SIZE}};
	const struct gm_region size_off[] = {{.gpa = 0, .size = 0x1800}};
	const struct gm_region size_small[] = {{.gpa = 0, .size = 1}};
	const struct gm_region empty[] = {{.gpa = 0x1000, .size = 0}};
	const struct gm_region second_bad[] = {{.gpa = 0, .size = GM_PAGE_SIZE},
					       {.gpa = 0x10000, .size = 0x10001}};
	const struct gm_region second_empty[] = {{.gpa = 0, .size = GM_PAGE_SIZE},
						 {.gpa = 0x10000, .size = 0}};

	CHECK(refused(gpa_off, 1, "aligned"));
	CHECK(refused(gpa_off1, 1, "aligned"));
	CHECK(refused(size_off, 1, "aligned"));
	CHECK(refused(size_small, 1, "aligned"));
	CHECK(refused(empty, 1, "empty"));
	CHECK(refused(second_bad, 2, "aligned"));
	CHECK(refused(second_empty, 2, "empty"));
}

static void layout_overlap_and_order(void)
{
	const struct gm_region overlap[] = {{.gpa = 0, .size = 0x2000},
					    {.gpa = 0x1000, .size = 0x1000}};
	const struct gm_region same[] = {{.gpa = 0x4000, .size = 0x1000},
					 {.gpa = 0x4000, .size = 0x1000}};
	const struct gm_region contains[] = {{.gpa = 0x4000, .size = 0x1000},
					     {.gpa = 0x3000, .size = 0x3000}};
	const struct gm_region unsorted[] = {{.gpa = 0x10000, .size = 0x1000},
					     {.gpa = 0, .size = 0x1000}};
	const struct gm_region third_unsorted[] = {{.gpa = 0, .size = 0x1000},
						   {.gpa = 0x10000, .size = 0x1000},
						   {.gpa = 0x8000, .size = 0x1000}};
	const struct gm_region third_overlaps_second[] = {{.gpa = 0, .size = 0x1000},
							  {.gpa = 0x10000, .size = 0x2000},
							  {.gpa = 0x11000, .size = 0x1000}};
	const struct gm_region adjacent[] = {{.gpa = 0, .size = 0x1000},
					     {.gpa = 0x1000, .size = 0x1000}};

	CHECK(refused(overlap, 2, "overlap"));
	CHECK(refused(same, 2, "overlap"));
	CHECK(refused(contains, 2, "overlap"));
	CHECK(refused(unsorted, 2, "unsorted"));
	CHECK(refused(third_unsorted, 3, "unsorted"));
	CHECK(refused(third_overlaps_second, 3, "overlap"));
	CHECK(accepted(adjacent, 2));
}

static void layout_wrap_and_size(void)
{
	const uint64_t top_page = UINT64_MAX - (GM_PAGE_SIZE - 1);
	const struct gm_region wraps[] = {{.gpa = top_page, .size = 0x2000}};
	/* Ends exactly at 2^64: the exclusive end is not representable, so it counts as wrapping. */
	const struct gm_region ends_at_top[] = {{.gpa = top_page, .size = GM_PAGE_SIZE}};
	const struct gm_region second_wraps[] = {{.gpa = 0, .size = 0x1000},
						 {.gpa = UINT64_C(1) << 63, .size = UINT64_C(1) << 63}};
	const struct gm_region huge_total[] = {
		{.gpa = 0, .size = UINT64_C(1) << 63},
		{.gpa = UINT64_C(1) << 63, .size = (UINT64_C(1) << 63) - GM_PAGE_SIZE}};
	const struct gm_region all_but_top[] = {{.gpa = 0, .size = top_page}};

	CHECK(refused(wraps, 1, "wraps"));
	CHECK(refused(ends_at_top, 1, "wraps"));
	CHECK(refused(second_wraps, 2, "wraps"));
	CHECK(refused(huge_total, 2, "large"));
	CHECK(refused(all_but_top, 1, "large"));
}

static void layout_refusal_without_err_buffer(void)
{
	struct guest_mem gm;
	const struct gm_region bad[] = {{.gpa = 1, .size = 0x1000}};

	CHECK_EQ(gm_create(&gm, bad, 1, NULL, 0), -1);
	CHECK_EQ(gm.fd, -1);
	gm_destroy(&gm); /* destroying a refused gm is harmless */
	CHECK_EQ(gm.fd, -1);
}

/* A layout too large to reserve address space for fails cleanly and leaks no fd. */
static void create_failure_leaks_nothing(void)
{
	const struct gm_region r[] = {{.gpa = 0, .size = UINT64_C(1) << 62}};
	struct guest_mem gm;
	char err[256] = "";
	int before = open_fd_count();

	CHECK_EQ(gm_create(&gm, r, 1, err, sizeof(err)), -1);
	CHECK(err[0] != '\0');
	CHECK_EQ(gm.fd, -1);
	CHECK(gm.base == NULL);
	CHECK_EQ(open_fd_count(), before);
}

static int create_two(struct guest_mem *gm)
{
	char err[256] = "";

	if (gm_create(gm, two_regions, 2, err, sizeof(err)) < 0) {
		printf("  gm_create: %s\n", err);
		return -1;
	}
	return 0;
}

static void two_regions_basic_edges(void)
{
	struct guest_mem gm;

	if (create_two(&gm) < 0) {
		CHECK(0);
		return;
	}
	uint8_t *b = gm.base;
	CHECK(b != NULL);
	CHECK_EQ(gm.size, 2 * MIB);
	CHECK_EQ(gm.nregions, 2u);
	CHECK(gm.fd >= 0);

	/* First region. */
	CHECK(gm_ptr(&gm, 0, 1) == b);
	CHECK(gm_ptr(&gm, MIB - 1, 1) == b + MIB - 1);
	CHECK(gm_ptr(&gm, 0, MIB) == b);
	CHECK(gm_ptr(&gm, MIB - 16, 16) == b + MIB - 16);
	CHECK(gm_ptr(&gm, MIB - 16, 17) == NULL);
	CHECK(gm_ptr(&gm, MIB - 1, 2) == NULL);
	CHECK(gm_ptr(&gm, 0, MIB + 1) == NULL);
	CHECK(gm_ptr(&gm, MIB, 1) == NULL);
	/* Second region. */
	CHECK(gm_ptr(&gm, HI_GPA, 1) == b + MIB);
	CHECK(gm_ptr(&gm, HI_GPA + MIB - 1, 1) == b + 2 * MIB - 1);
	CHECK(gm_ptr(&gm, HI_GPA, MIB) == b + MIB);
	CHECK(gm_ptr(&gm, HI_GPA + 0x1234, MIB - 0x1234) == b + MIB + 0x1234);
	CHECK(gm_ptr(&gm, HI_GPA + 0x1234, MIB - 0x1233) == NULL);
	CHECK(gm_ptr(&gm, HI_GPA, MIB + 1) == NULL);
	CHECK(gm_ptr(&gm, HI_GPA + MIB, 1) == NULL);
	/* The gap, and ranges spanning it. */
	CHECK(gm_ptr(&gm, 0x80000000, 1) == NULL);
	CHECK(gm_ptr(&gm, HI_GPA - 1, 1) == NULL);
	CHECK(gm_ptr(&gm, HI_GPA - 1, 2) == NULL);
	CHECK(gm_ptr(&gm, MIB - 1, HI_GPA - MIB + 2) == NULL);
	CHECK(gm_ptr(&gm, 0, HI_GPA + MIB) == NULL);
	/* Zero length, even at valid addresses. */
	CHECK(gm_ptr(&gm, 0, 0) == NULL);
	CHECK(gm_ptr(&gm, MIB - 1, 0) == NULL);
	CHECK(gm_ptr(&gm, HI_GPA, 0) == NULL);
	gm_destroy(&gm);
}

static void two_regions_wrap_and_huge(void)
{
	struct guest_mem gm;

	if (create_two(&gm) < 0) {
		CHECK(0);
		return;
	}
	CHECK(gm_ptr(&gm, UINT64_MAX, 1) == NULL);
	CHECK(gm_ptr(&gm, UINT64_MAX, 2) == NULL);
	CHECK(gm_ptr(&gm, UINT64_MAX, UINT64_MAX) == NULL);
	CHECK(gm_ptr(&gm, UINT64_C(0xfffffffffffff000), 0x2000) == NULL);
	CHECK(gm_ptr(&gm, UINT64_C(0xfffffffffffff000), 0x1000) == NULL);
	CHECK(gm_ptr(&gm, UINT64_C(1) << 63, 1) == NULL);
	CHECK(gm_ptr(&gm, HI_GPA + (UINT64_C(1) << 40), 1) == NULL);
	/* Lengths that wrap gpa + len back into (or onto) RAM. */
	CHECK(gm_ptr(&gm, 0, UINT64_MAX) == NULL);
	CHECK(gm_ptr(&gm, 1, UINT64_MAX) == NULL);          /* gpa + len == 0 */
	CHECK(gm_ptr(&gm, 0x10, UINT64_MAX - 0xf) == NULL); /* gpa + len == 0 (mod 2^64) */
	CHECK(gm_ptr(&gm, 0x10, UINT64_MAX - 0x10) == NULL);
	CHECK(gm_ptr(&gm, 0x80000, UINT64_MAX - 0x7ffff + 0x100) == NULL); /* ends at 0x100 */
	CHECK(gm_ptr(&gm, HI_GPA + 8, UINT64_MAX - 8) == NULL);
	CHECK(gm_ptr(&gm, HI_GPA + 8, UINT64_MAX - HI_GPA - 8 + 0x10) == NULL);
	/* A huge gpa whose offset from region 0 looks small modulo 2^64. */
	CHECK(gm_ptr(&gm, UINT64_MAX - 0xff, 0x200) == NULL);
	gm_destroy(&gm);
}

/* Reference gate in 128-bit arithmetic: the expected host pointer or NULL. */
static const void *ref_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	unsigned __int128 end = (unsigned __int128)gpa + len;

	if (len == 0)
		return NULL;
	for (size_t i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (gpa >= r->gpa && end <= (unsigned __int128)r->gpa + r->size)
			return gm->base + r->offset + (gpa - r->gpa);
	}
	return NULL;
}

static void gate_matches_reference(void)
{
	struct guest_mem gm;

	if (create_two(&gm) < 0) {
		CHECK(0);
		return;
	}
	const uint64_t pts[] = {0, MIB, HI_GPA, HI_GPA + MIB, UINT64_C(1) << 63, UINT64_MAX,
				0x80000};
	const uint64_t lens_base[] = {0, 1, 2, 7, 8, 4096, MIB, HI_GPA, UINT64_C(1) << 63,
				      UINT64_MAX};
	uint64_t gpas[7 * 9], lens[10 * 5];
	size_t ng = 0, nl = 0;

	for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++)
		for (int64_t d = -4; d <= 4; d++)
			gpas[ng++] = pts[i] + (uint64_t)d;
	for (size_t i = 0; i < sizeof(lens_base) / sizeof(lens_base[0]); i++)
		for (int64_t d = -2; d <= 2; d++)
			lens[nl++] = lens_base[i] + (uint64_t)d;
	/* Add, for each gpa, the lengths that end exactly at each region end and one past. */
	size_t mismatches = 0, accepted_n = 0;
	for (size_t i = 0; i < ng; i++) {
		uint64_t extra[4] = {MIB - gpas[i], MIB - gpas[i] + 1, HI_GPA + MIB - gpas[i],
				     HI_GPA + MIB - gpas[i] + 1};
		for (size_t j = 0; j < nl + 4; j++) {
			uint64_t len = j < nl ? lens[j] : extra[j - nl];
			const void *want = ref_ptr(&gm, gpas[i], len);
			if (gm_ptr(&gm, gpas[i], len) != want) {
				if (mismatches++ < 5)
					printf("  gm_ptr(0x%llx, 0x%llx) disagrees\n",
					       (unsigned long long)gpas[i],
					       (unsigned long long)len);
			}
			accepted_n += want != NULL;
		}
	}
	CHECK_EQ(mismatches, 0u);
	CHECK(accepted_n > 50); /* the grid really exercises both outcomes */

	/* Pseudo-random probes near the interesting points (fixed seed: reproducible). */
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int k = 0; k < 200000; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t gpa = pts[x % 7] + ((x >> 8) % 0x200) - 0x100;
		uint64_t len = (x >> 20) & 1 ? (x >> 24) % (2 * MIB) : x >> 3;
		if (gm_ptr(&gm, gpa, len) != ref_ptr(&gm, gpa, len))
			mismatches++;
	}
	CHECK_EQ(mismatches, 0u);
	gm_destroy(&gm);
}

static void regions_distinct_and_consecutive(void)
{
	struct guest_mem gm;
	struct gm_region r[2];

	/* Offsets passed in are ignored; gm_create assigns them in order. */
	memcpy(r, two_regions, sizeof(r));
	r[0].offset = 0xdead000;
	r[1].offset = 0;
	char err[256] = "";
	if (gm_create(&gm, r, 2, err, sizeof(err)) < 0) {
		CHECK(0);
		return;
	}
	CHECK_EQ(gm.regions[0].offset, 0u);
	CHECK_EQ(gm.regions[1].offset, MIB);
	CHECK_EQ(gm.regions[0].gpa, 0u);
	CHECK_EQ(gm.regions[1].gpa, HI_GPA);
	CHECK(gm_region_host(&gm, 0) == gm.base);
	CHECK(gm_region_host(&gm, 1) == gm.base + MIB);
	CHECK(gm_region_host(&gm, 2) == NULL);
	CHECK(gm_region_host(&gm, SIZE_MAX) == NULL);
	CHECK(gm_ptr(&gm, 0, 1) != gm_ptr(&gm, HI_GPA, 1));

	/* The mapping is the memfd: a pwrite at region 1's offset shows up at its gpa. */
	const uint8_t tag[4] = {0xde, 0xad, 0xbe, 0xef};
	CHECK_EQ(pwrite(gm.fd, tag, sizeof(tag), (off_t)(MIB + 7)), (ssize_t)sizeof(tag));
	uint8_t got[4] = {0};
	CHECK_EQ(gm_read(&gm, HI_GPA + 7, got, sizeof(got)), 0);
	CHECK(memcmp(got, tag, sizeof(tag)) == 0);
	CHECK_EQ(gm_read(&gm, 7, got, sizeof(got)), 0);
	CHECK(got[0] == 0 && got[1] == 0 && got[2] == 0 && got[3] == 0);
	/* And a gm_write at region 0 lands at memfd offset gpa. */
	CHECK_EQ(gm_write(&gm, 0x333, tag, sizeof(tag)), 0);
	memset(got, 0, sizeof(got));
	CHECK_EQ(pread(gm.fd, got, sizeof(got), 0x333), (ssize_t)sizeof(got));
	CHECK(memcmp(got, tag, sizeof(tag)) == 0);
	gm_destroy(&gm);
}

static void write_through_ptr_visible_via_read(void)
{
	struct guest_mem gm;

	if (create_two(&gm) < 0) {
		CHECK(0);
		return;
	}
	/* RAM starts zero-filled. */
	const uint8_t *all = gm.base;
	size_t nonzero = 0;
	for (uint64_t i = 0; i < gm.size; i++)
		nonzero += all[i] != 0;
	CHECK_EQ(nonzero, 0u);

	uint8_t *p1 = gm_ptr(&gm, HI_GPA + 0x100, 8);
	uint8_t *p0 = gm_ptr(&gm, 0x100, 8);
	CHECK(p1 != NULL && p0 != NULL && p0 != p1);
	if (!p1 || !p0) {
		gm_destroy(&gm);
		return;
	}
	memcpy(p1, "REGION-1", 8);
	memcpy(p0, "region-0", 8);
	char buf[9] = {0};
	CHECK_EQ(gm_read(&gm, HI_GPA + 0x100, buf, 8), 0);
	CHECK(memcmp(buf, "REGION-1", 8) == 0);
	CHECK_EQ(gm_read(&gm, 0x100, buf, 8), 0);
	CHECK(memcmp(buf, "region-0", 8) == 0);
	/* Last bytes of each region round-trip too. */
	CHECK_EQ(gm_write(&gm, MIB - 4, "abcd", 4), 0);
	CHECK_EQ(gm_write(&gm, HI_GPA + MIB - 4, "wxyz", 4), 0);
	CHECK(memcmp(gm.base + MIB - 4, "abcd", 4) == 0);
	CHECK(memcmp(gm.base + 2 * MIB - 4, "wxyz", 4) == 0);
	gm_destroy(&gm);
}

static void read_write_refuse_all_or_nothing(void)
{
	struct guest_mem gm;

	if (create_two(&gm) < 0) {
		CHECK(0);
		return;
	}
	uint8_t buf[16];
	const uint8_t src[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

	/* Reads: refused ranges leave the destination untouched. */
	memset(gm.base, 0x5a, 2 * MIB);
	memset(buf, 0xaa, sizeof(buf));
	CHECK_EQ(gm_read(&gm, MIB - 8, buf, 16), -1); /* straddles the end of region 0 */
	CHECK_EQ(gm_read(&gm, HI_GPA - 8, buf, 16), -1); /* straddles the start of region 1 */
	CHECK_EQ(gm_read(&gm, HI_GPA + MIB - 1, buf, 2), -1);
	CHECK_EQ(gm_read(&gm, 0x200000, buf, 1), -1);
	CHECK_EQ(gm_read(&gm, UINT64_MAX, buf, 2), -1);
	CHECK_EQ(gm_read(&gm, 0, buf, 0), -1);
	size_t touched = 0;
	for (size_t i = 0; i < sizeof(buf); i++)
		touched += buf[i] != 0xaa;
	CHECK_EQ(touched, 0u);
	CHECK_EQ(gm_read(&gm, MIB - 16, buf, 16), 0);
	CHECK(buf[0] == 0x5a && buf[15] == 0x5a);

	/* Writes: refused ranges change no guest byte (no partial copy up to the edge). */
	memset(gm.base, 0, 2 * MIB);
	CHECK_EQ(gm_write(&gm, MIB - 8, src, 16), -1);
	CHECK_EQ(gm_write(&gm, HI_GPA - 8, src, 16), -1);
	CHECK_EQ(gm_write(&gm, HI_GPA + MIB - 8, src, 16), -1);
	CHECK_EQ(gm_write(&gm, UINT64_C(0xfffffffffffff000), src, 16), -1);
	CHECK_EQ(gm_write(&gm, 0, src, 0), -1);
	size_t dirty = 0;
	for (uint64_t i = 0; i < gm.size; i++)
		dirty += gm.base[i] != 0;
	CHECK_EQ(dirty, 0u);
	CHECK_EQ(gm_write(&gm, MIB - 16, src, 16), 0);
	CHECK_EQ(gm.base[MIB - 1], 16);
	gm_destroy(&gm);
}

static void region_end_edges(void)
{
	struct guest_mem gm;

	if (create_two(&gm) < 0) {
		CHECK(0);
		return;
	}
	CHECK_EQ(gm_region_end(&gm, 0), MIB);
	CHECK_EQ(gm_region_end(&gm, 0x1234), MIB);
	CHECK_EQ(gm_region_end(&gm, MIB - 1), MIB);
	CHECK_EQ(gm_region_end(&gm, MIB), 0u);
	CHECK_EQ(gm_region_end(&gm, HI_GPA - 1), 0u);
	CHECK_EQ(gm_region_end(&gm, HI_GPA), HI_GPA + MIB);
	CHECK_EQ(gm_region_end(&gm, HI_GPA + MIB - 1), HI_GPA + MIB);
	CHECK_EQ(gm_region_end(&gm, HI_GPA + MIB), 0u);
	CHECK_EQ(gm_region_end(&gm, UINT64_MAX), 0u);
	gm_destroy(&gm);
}

/* Forks a child that reads *p; returns its wait status (or -1). */
static int child_read_status(const volatile uint8_t *p)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		/* Die by the signal itself, even under a sanitizer's SEGV handler. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		uint8_t v = *p;
		_exit(v == 0x42 ? 3 : 0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

static int died_by_segv(int st) { return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV; }

/* The kernel's view of a write to an address: 1 it can write, 0 EFAULT. */
static int kernel_can_write(void *p)
{
	int fds[2];
	if (pipe(fds) < 0)
		return -1;
	ssize_t n = write(fds[1], "x", 1) == 1 ? read(fds[0], p, 1) : -1;
	int e = errno;
	close(fds[0]);
	close(fds[1]);
	return n == 1 ? 1 : (e == EFAULT ? 0 : -1);
}

static void maps_perms(uintptr_t addr, char perms[8]);

/* gm_protect_ro: the pages turn read-only in the host mapping (so the hypervisor maps them
 * read-only too), reads still work, the neighbours stay writable; bad ranges are refused. */
static void protect_ro(void)
{
	struct guest_mem gm;
	char err[128], perms[8];
	const struct gm_region r = {.gpa = 0, .size = 1 << 20};
	CHECK_EQ(gm_create(&gm, &r, 1, err, sizeof(err)), 0);
	CHECK_EQ(gm_write(&gm, 0x2000, "text", 4), 0);
	CHECK_EQ(gm_protect_ro(&gm, 0x2000, 0x2000, err, sizeof(err)), 0);
	maps_perms((uintptr_t)gm_ptr(&gm, 0x2000, 1), perms);
	CHECK(strcmp(perms, "r--s") == 0);
	maps_perms((uintptr_t)gm_ptr(&gm, 0x1000, 1), perms);
	CHECK(strcmp(perms, "rw-s") == 0);
	CHECK_EQ(kernel_can_write(gm_ptr(&gm, 0x3fff, 1)), 0);
	CHECK_EQ(kernel_can_write(gm_ptr(&gm, 0x4000, 1)), 1);
	CHECK_EQ(kernel_can_write(gm_ptr(&gm, 0x1fff, 1)), 1);
	char got[4];
	CHECK_EQ(gm_read(&gm, 0x2000, got, 4), 0);
	CHECK(memcmp(got, "text", 4) == 0);
	CHECK_EQ(gm_protect_ro(&gm, 0x2001, 0x1000, err, sizeof(err)), -1);
	CHECK_EQ(gm_protect_ro(&gm, 0x2000, 0x800, err, sizeof(err)), -1);
	CHECK_EQ(gm_protect_ro(&gm, 0xff000, 0x2000, err, sizeof(err)), -1);
	CHECK_EQ(gm_protect_ro(&gm, UINT64_MAX & ~0xfffull, 0x1000, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "not whole pages of guest RAM");
	gm_destroy(&gm);
}

/* The kernel's view of an address: 0 readable, EFAULT not mapped/accessible. */
static int kernel_can_read(const void *p)
{
	int fds[2];
	uint8_t sink;

	if (pipe(fds) < 0)
		return -1;
	ssize_t n = write(fds[1], p, 1);
	int e = errno;
	if (n == 1 && read(fds[0], &sink, 1) != 1)
		n = -1;
	close(fds[0]);
	close(fds[1]);
	return n == 1 ? 1 : (e == EFAULT ? 0 : -1);
}

/* Permissions of the mapping containing addr from /proc/self/maps ("" when unmapped). */
static void maps_perms(uintptr_t addr, char perms[8])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	perms[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, p) == 3 && addr >= lo && addr < hi) {
			memcpy(perms, p, sizeof(p));
			break;
		}
	}
	fclose(f);
}

static void guard_pages_fault(void)
{
	struct guest_mem gm;
	uint8_t ordinary = 7;

	if (create_two(&gm) < 0) {
		CHECK(0);
		return;
	}
	const uint8_t *lo = gm.base - 1, *hi = gm.base + gm.size;
	const uint8_t *lo_far = gm.base - GM_PAGE_SIZE, *hi_far = hi + GM_PAGE_SIZE - 1;

	/* Control: the harness tells a clean exit from a fault. */
	int st = child_read_status(&ordinary);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Both guards fault, at their nearest and farthest bytes. */
	CHECK(died_by_segv(child_read_status(lo)));
	CHECK(died_by_segv(child_read_status(hi)));
	CHECK(died_by_segv(child_read_status(lo_far)));
	CHECK(died_by_segv(child_read_status(hi_far)));

	/* In this process: the guards are PROT_NONE, RAM is a shared read-write mapping. */
	char perms[8];
	maps_perms((uintptr_t)lo, perms);
	CHECK(strncmp(perms, "---", 3) == 0);
	maps_perms((uintptr_t)hi, perms);
	CHECK(strncmp(perms, "---", 3) == 0);
	maps_perms((uintptr_t)gm.base, perms);
	CHECK(strcmp(perms, "rw-s") == 0);
	maps_perms((uintptr_t)(hi - 1), perms);
	CHECK(strcmp(perms, "rw-s") == 0);
	CHECK_EQ(kernel_can_read(lo), 0);
	CHECK_EQ(kernel_can_read(hi), 0);
	CHECK_EQ(kernel_can_read(gm.base), 1);
	CHECK_EQ(kernel_can_read(hi - 1), 1);
	gm_destroy(&gm);
}

/* Guest RAM is MADV_DONTFORK: a forked child (a helper process) cannot see it. */
static void ram_not_inherited_by_fork(void)
{
	struct guest_mem gm;

	if (create_two(&gm) < 0) {
		CHECK(0);
		return;
	}
	gm.base[0] = 0x42;
	CHECK(died_by_segv(child_read_status(gm.base)));
	CHECK(died_by_segv(child_read_status(gm.base + gm.size - 1)));
	gm_destroy(&gm);
}

static void destroy_releases_everything(void)
{
	struct guest_mem gm;

	if (create_two(&gm) < 0) {
		CHECK(0);
		return;
	}
	int fd = gm.fd;
	const uint8_t *base = gm.base;
	gm_destroy(&gm);
	CHECK_EQ(gm.fd, -1);
	CHECK(gm.base == NULL);
	CHECK(gm.map == NULL);
	CHECK_EQ(gm.nregions, 0u);
	CHECK_EQ(gm.size, 0u);
	CHECK(gm_ptr(&gm, 0, 1) == NULL);
	CHECK_EQ(gm_region_end(&gm, 0), 0u);
	CHECK(gm_region_host(&gm, 0) == NULL);
	CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF);
	CHECK_EQ(kernel_can_read(base), 0);
	gm_destroy(&gm); /* twice is harmless */
	CHECK_EQ(gm.fd, -1);

	/* Many create/destroy cycles leak no descriptors. */
	int before = open_fd_count();
	for (int i = 0; i < 100; i++) {
		if (create_two(&gm) < 0) {
			CHECK(0);
			break;
		}
		gm_destroy(&gm);
	}
	CHECK_EQ(open_fd_count(), before);
}

/* AnonHugePages (KiB) of the mapping containing addr, from /proc/self/smaps; -1 if absent. */
static long anon_huge_kib(uintptr_t addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = addr >= lo && addr < hi;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* --mem-hugepages: anonymous RAM on a 2 MiB boundary, guards kept, the gate unchanged, and
 * (where the host's THP setting allows it) RAM really in huge pages. */
static void hugepages_aligned_guarded_and_huge(void)
{
	char thp[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		if (!fgets(thp, sizeof(thp), f))
			thp[0] = '\0';
		fclose(f);
	}
	const struct gm_region r = {.gpa = 0, .size = 8ull << 20};
	struct guest_mem gm;
	char err[256];
	int rc = gm_create_opt(&gm, &r, 1, true, err, sizeof(err));
	if (strstr(thp, "[never]") || !f) {
		CHECK_EQ(rc, -1);
		CHECK_STR_CONTAINS(err, "transparent huge pages");
		return;
	}
	CHECK_EQ(rc, 0);
	if (rc < 0)
		return;
	CHECK_EQ((uintptr_t)gm.base % (2u << 20), 0u);
	CHECK_EQ(gm.fd, -1);
	uint8_t *p = gm_ptr(&gm, 0, gm.size);
	CHECK(p == gm.base);
	memset(p, 0x5a, gm.size); /* touch all of it: whole 2 MiB pages can be huge */
	CHECK(gm_ptr(&gm, gm.size - 1, 2) == NULL);
	CHECK(died_by_segv(child_read_status(gm.base - 1)));
	CHECK(died_by_segv(child_read_status(gm.base + gm.size)));
	long kib = anon_huge_kib((uintptr_t)gm.base);
	if (kib == 0)
		printf("note: no huge page was handed out (fragmented host memory?); alignment checked\n");
	else
		CHECK(kib >= 2048);
	gm_destroy(&gm);
	CHECK(gm.map == NULL);
}

/* MOTE_MEMORY_LIMIT: RAM plus mote's reserve must fit; no or an empty value: no limit. */
static void memory_limit(void)
{
	char e[256];
	CHECK_EQ(gm_fits_limit(128ull << 20, NULL, e, sizeof(e)), 0);
	CHECK_EQ(gm_fits_limit(128ull << 20, "", e, sizeof(e)), 0);
	CHECK_EQ(gm_fits_limit(56ull << 20, "67108864", e, sizeof(e)), 0); /* 56 + 8 = 64 MiB */
	CHECK_EQ(gm_fits_limit((56ull << 20) + 4096, "67108864", e, sizeof(e)), -1);
	CHECK_STR_CONTAINS(e, "guest RAM of 56 MiB does not fit in the memory limit of 64 MiB");
	CHECK_EQ(gm_fits_limit(1ull << 40, "67108864", e, sizeof(e)), -1);
	CHECK_EQ(gm_fits_limit(1, "64M", e, sizeof(e)), -1);
	CHECK_STR_CONTAINS(e, "MOTE_MEMORY_LIMIT=64M: not a number of bytes");
	CHECK_EQ(gm_fits_limit(1, "-5", e, sizeof(e)), -1);
	CHECK_EQ(gm_fits_limit(1, "99999999999999999999999", e, sizeof(e)), -1);
}

/* gm_discard: the released pages read zeroes, leave the host (mincore: not resident in the
 * memfd's mapping), their neighbours keep their data, and every range that is not whole
 * pages of one region is refused with nothing released. */
static void discard_releases_pages(void)
{
	struct guest_mem gm;
	char err[256] = "";
	const struct gm_region r[2] = {{.gpa = 0, .size = 4 * MIB}, {.gpa = HI_GPA, .size = MIB}};
	CHECK_EQ(gm_create(&gm, r, 2, err, sizeof(err)), 0);
	if (!gm.map)
		return;
	uint8_t *lo = gm_ptr(&gm, 0, 4 * MIB);
	uint8_t *hi = gm_ptr(&gm, HI_GPA, MIB);
	memset(lo, 0xa5, 4 * MIB);
	memset(hi, 0x5a, MIB);
	CHECK_EQ(gm_discard(&gm, MIB, 2 * MIB, err, sizeof(err)), 0);
	CHECK_EQ(gm_discard(&gm, HI_GPA + GM_PAGE_SIZE, GM_PAGE_SIZE, err, sizeof(err)), 0);
	unsigned char vec[1024];
	CHECK_EQ(mincore(lo, 4 * MIB, vec), 0);
	size_t resident = 0;
	for (size_t i = 256; i < 768; i++)
		resident += vec[i] & 1;
	CHECK_EQ(resident, 0u);
	CHECK_EQ(vec[255] & 1, 1);
	CHECK_EQ(vec[768] & 1, 1);
	CHECK_EQ(lo[MIB - 1], 0xa5);
	CHECK_EQ(lo[MIB], 0);
	CHECK_EQ(lo[3 * MIB - 1], 0);
	CHECK_EQ(lo[3 * MIB], 0xa5);
	CHECK_EQ(hi[GM_PAGE_SIZE - 1], 0x5a);
	CHECK_EQ(hi[GM_PAGE_SIZE], 0);
	CHECK_EQ(hi[2 * GM_PAGE_SIZE], 0x5a);
	/* Refusals: unaligned start or length, past a region, across the hole, wrapping, empty. */
	CHECK_EQ(gm_discard(&gm, 1, GM_PAGE_SIZE, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "not whole pages");
	CHECK_EQ(gm_discard(&gm, 0, 100, err, sizeof(err)), -1);
	CHECK_EQ(gm_discard(&gm, 4 * MIB - GM_PAGE_SIZE, 2 * GM_PAGE_SIZE, err, sizeof(err)), -1);
	CHECK_EQ(gm_discard(&gm, 4 * MIB, GM_PAGE_SIZE, err, sizeof(err)), -1);
	CHECK_EQ(gm_discard(&gm, HI_GPA + MIB, GM_PAGE_SIZE, err, sizeof(err)), -1);
	CHECK_EQ(gm_discard(&gm, UINT64_MAX & ~(uint64_t)(GM_PAGE_SIZE - 1), 2 * GM_PAGE_SIZE,
			    err, sizeof(err)), -1);
	CHECK_EQ(gm_discard(&gm, 0, 0, err, sizeof(err)), -1);
	CHECK_EQ(lo[0], 0xa5);
	CHECK_EQ(lo[4 * MIB - 1], 0xa5);
	gm_destroy(&gm);
}

int main(void)
{
	test_suite_name = "guest_mem";
	RUN(layout_region_count);
	RUN(hugepages_aligned_guarded_and_huge);
	RUN(layout_alignment_and_empty);
	RUN(layout_overlap_and_order);
	RUN(layout_wrap_and_size);
	RUN(layout_refusal_without_err_buffer);
	RUN(create_failure_leaks_nothing);
	RUN(two_regions_basic_edges);
	RUN(two_regions_wrap_and_huge);
	RUN(gate_matches_reference);
	RUN(regions_distinct_and_consecutive);
	RUN(write_through_ptr_visible_via_read);
	RUN(read_write_refuse_all_or_nothing);
	RUN(region_end_edges);
	RUN(guard_pages_fault);
	RUN(protect_ro);
	RUN(ram_not_inherited_by_fork);
	RUN(destroy_releases_everything);
	RUN(memory_limit);
	RUN(discard_releases_pages);
	TEST_MAIN_END();
}
