/* Guest RAM: one memfd mapping between PROT_NONE guard pages, and the gate (gm_ptr).
 * Every guest-physical range that the VMM touches passes through gm_ptr(); it checks
 * start, length and overflow before any host pointer exists. */
#include "core/guest_mem.h"
#include "core/log.h"
#include "core/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static bool aligned(uint64_t v) { return (v & (GM_PAGE_SIZE - 1)) == 0; }

static int check_layout(const struct gm_region *r, size_t n, uint64_t *total, char *err,
			size_t errlen)
{
	uint64_t sum = 0;

	if (n == 0 || n > GM_MAX_REGIONS) {
		snprintf(err, errlen, "guest memory needs 1 to %d regions, got %zu", GM_MAX_REGIONS, n);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (r[i].size == 0 || !aligned(r[i].gpa) || !aligned(r[i].size)) {
			snprintf(err, errlen, "guest memory region %zu is empty or not page aligned", i);
			return -1;
		}
		if (r[i].gpa + r[i].size < r[i].gpa) {
			snprintf(err, errlen, "guest memory region %zu wraps the address space", i);
			return -1;
		}
		if (i > 0 && r[i].gpa < r[i - 1].gpa + r[i - 1].size) {
			snprintf(err, errlen, "guest memory regions %zu and %zu overlap or are unsorted",
				 i - 1, i);
			return -1;
		}
		if (sum + r[i].size < sum) {
			snprintf(err, errlen, "guest memory size overflows");
			return -1;
		}
		sum += r[i].size;
	}
	*total = sum;
	return 0;
}

#define GM_HUGE_PAGE (2ull << 20)

/* The RAM itself over [base, base + total) of the reservation: a memfd, or anonymous memory
 * advised for huge pages. Returns the memfd (or -2 for anonymous RAM), or -1 with err set. */
static int gm_map_ram(uint8_t *base, uint64_t total, bool hugepages, char *err, size_t errlen)
{
	if (hugepages) {
		if (mmap(base, (size_t)total, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED)
			return err_set(err, errlen, "cannot map guest memory: %s", strerror(errno));
		if (madvise(base, (size_t)total, MADV_HUGEPAGE) < 0)
			return err_set(err, errlen, "--mem-hugepages: this host has transparent huge "
				       "pages off (/sys/kernel/mm/transparent_hugepage/enabled: %s)",
				       strerror(errno));
		return -2;
	}
	int fd = memfd_create("mote-guest-ram", MFD_CLOEXEC);
	if (fd < 0)
		return err_set(err, errlen, "memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)total) < 0) {
		err_set(err, errlen, "cannot size guest memory (%llu bytes): %s",
			(unsigned long long)total, strerror(errno));
		close(fd);
		return -1;
	}
	if (mmap(base, (size_t)total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
		 fd, 0) == MAP_FAILED) {
		err_set(err, errlen, "cannot map guest memory: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Records a mapped layout in gm: each region's offset into the one host mapping, in order. */
static void gm_adopt(struct guest_mem *gm, const struct gm_region *regions, size_t n,
		     uint8_t *base, uint64_t total, void *map, size_t map_len)
{
	uint64_t off = 0;
	for (size_t i = 0; i < n; i++) {
		gm->regions[i] = regions[i];
		gm->regions[i].offset = off;
		off += regions[i].size;
	}
	gm->nregions = n;
	gm->base = base;
	gm->size = total;
	gm->map = map;
	gm->map_len = map_len;
}

int gm_create(struct guest_mem *gm, const struct gm_region *regions, size_t n, char *err,
	      size_t errlen)
{
	return gm_create_opt(gm, regions, n, false, err, errlen);
}

int gm_create_opt(struct guest_mem *gm, const struct gm_region *regions, size_t n,
		  bool hugepages, char *err, size_t errlen)
{
	uint64_t total;

	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	if (check_layout(regions, n, &total, err, errlen) < 0)
		return -1;
	/* With huge pages, RAM starts on a 2 MiB boundary: room for the alignment too. */
	uint64_t slack = hugepages ? GM_HUGE_PAGE - GM_PAGE_SIZE : 0;
	if (total > SIZE_MAX - 2 * (uint64_t)GM_PAGE_SIZE - slack) {
		snprintf(err, errlen, "guest memory too large for this host");
		return -1;
	}
	/* Reserve guard + RAM + guard as PROT_NONE, then map the RAM over the middle. */
	size_t map_len = (size_t)(total + 2 * GM_PAGE_SIZE + slack);
	void *map = mmap(NULL, map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "cannot reserve %zu bytes of address space: %s", map_len,
			 strerror(errno));
		return -1;
	}
	uintptr_t b = (uintptr_t)map + GM_PAGE_SIZE;
	if (hugepages)
		b = (b + GM_HUGE_PAGE - 1) & ~(uintptr_t)(GM_HUGE_PAGE - 1);
	uint8_t *base = (uint8_t *)b;
	int fd = gm_map_ram(base, total, hugepages, err, errlen);
	if (fd == -1) {
		munmap(map, map_len);
		return -1;
	}
	/* Guest RAM is not worth dumping with the VMM, and must not leak into a fork. */
	(void)madvise(base, (size_t)total, MADV_DONTDUMP);
	(void)madvise(base, (size_t)total, MADV_DONTFORK);

	gm_adopt(gm, regions, n, base, total, map, map_len);
	gm->fd = fd >= 0 ? fd : -1;
	return 0;
}

int gm_fits_limit(uint64_t ram, const char *limit, char *err, size_t errlen)
{
	if (!limit || !*limit)
		return 0;
	char *end;
	errno = 0;
	unsigned long long lim = strtoull(limit, &end, 10);
	if (*end || errno || limit[0] < '0' || limit[0] > '9') {
		snprintf(err, errlen, "MOTE_MEMORY_LIMIT=%s: not a number of bytes", limit);
		return -1;
	}
	if (ram > lim || lim - ram < GM_VMM_RESERVE) {
		snprintf(err, errlen, "guest RAM of %llu MiB does not fit in the memory limit of %llu MiB "
			 "(MOTE_MEMORY_LIMIT, the jail's memory cgroup) with the %llu MiB mote itself "
			 "needs: give the guest less memory (--mem, mem_size_mib) or raise the limit", (unsigned long long)(ram >> 20), lim >> 20,
			 GM_VMM_RESERVE >> 20);
		return -1;
	}
	return 0;
}

void gm_destroy(struct guest_mem *gm)
{
	/* fd is only looked at when map is set (gm_create sets map, and fd to the memfd or -1),
	 * so a zeroed or never-created struct, whose fd may read 0, closes nothing. */
	free(gm->written_mem);
	if (gm->map) {
		munmap(gm->map, gm->map_len);
		if (gm->fd >= 0)
			close(gm->fd);
	}
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa + len < gpa)
		return NULL;
	for (size_t i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		/* gpa >= r->gpa, so gpa - r->gpa cannot wrap; compare lengths, not ends. */
		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return gm->base + r->offset + (gpa - r->gpa);
	}
	return NULL;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -1;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -1;
	memcpy(p, src, len);
	gm_mark_written(gm, p, len);
	return 0;
}

/* ---- host-side write tracking and the gate by RAM offset (for Diff snapshots) ---- */

uint64_t gm_ram_pages(const struct guest_mem *gm)
{
	uint64_t end = 0;
	for (size_t i = 0; i < gm->nregions; i++)
		if (gm->regions[i].offset + gm->regions[i].size > end)
			end = gm->regions[i].offset + gm->regions[i].size;
	return end / GM_PAGE_SIZE;
}

int gm_track_writes(struct guest_mem *gm, bool on, char *err, size_t errlen)
{
	if (!on) {
		__atomic_store_n(&gm->written, NULL, __ATOMIC_RELEASE);
		return 0;
	}
	size_t words = (size_t)((gm_ram_pages(gm) + 63) / 64);
	if (!gm->written_mem) {
		gm->written_mem = calloc(words ? words : 1, sizeof(uint64_t));
		if (!gm->written_mem)
			return err_set(err, errlen, "out of memory for the guest-memory write bitmap");
		gm->written_words = words;
	} else {
		memset(gm->written_mem, 0, gm->written_words * sizeof(uint64_t));
	}
	__atomic_store_n(&gm->written, gm->written_mem, __ATOMIC_RELEASE);
	return 0;
}

void gm_mark_written(const struct guest_mem *gm, const void *p, uint64_t len)
{
	uint64_t *bits = __atomic_load_n(&gm->written, __ATOMIC_ACQUIRE);
	const uint8_t *q = p;

	if (!bits || len == 0 || !gm->base || q < gm->base)
		return;
	uint64_t off = (uint64_t)(q - gm->base);
	uint64_t npages = (uint64_t)gm->written_words * 64;
	uint64_t first = off / GM_PAGE_SIZE;
	if (first >= npages || len > npages * GM_PAGE_SIZE)
		return;
	uint64_t last = (off + len - 1) / GM_PAGE_SIZE;
	if (last >= npages)
		last = npages - 1;
	for (uint64_t pg = first; pg <= last; pg++) {
		uint64_t bit = 1ull << (pg % 64);
		/* Mostly set already: a plain load first keeps the cache line shared. */
		if (!(__atomic_load_n(&bits[pg / 64], __ATOMIC_RELAXED) & bit))
			__atomic_fetch_or(&bits[pg / 64], bit, __ATOMIC_RELAXED);
	}
}

void gm_take_written(const struct guest_mem *gm, uint64_t *bits, size_t nwords)
{
	uint64_t *w = __atomic_load_n(&gm->written, __ATOMIC_ACQUIRE);
	if (!w)
		return;
	for (size_t i = 0; i < gm->written_words && i < nwords; i++)
		bits[i] |= __atomic_exchange_n(&w[i], 0, __ATOMIC_ACQ_REL);
}

uint64_t gm_region_offset(const struct guest_mem *gm, size_t i)
{
	return i < gm->nregions ? gm->regions[i].offset : 0;
}

void *gm_ram_ptr(const struct guest_mem *gm, uint64_t off, uint64_t len)
{
	for (size_t i = 0; gm->base && i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (off >= r->offset && off - r->offset < r->size && len <= r->size - (off - r->offset))
			return gm->base + off;
	}
	return NULL;
}

int gm_protect_ro(const struct guest_mem *gm, uint64_t gpa, uint64_t len, char *err,
		  size_t errlen)
{
	void *p = gm_ptr(gm, gpa, len);
	if (!p || !aligned(gpa) || !aligned(len))
		return err_set(err, errlen, "internal: read-only range 0x%llx + 0x%llx is not whole "
				            "pages of guest RAM", (unsigned long long)gpa,
			       (unsigned long long)len);
	if (mprotect(p, (size_t)len, PROT_READ) < 0)
		return err_set(err, errlen, "cannot make guest memory read-only: %s", strerror(errno));
	return 0;
}

int gm_discard(const struct guest_mem *gm, uint64_t gpa, uint64_t len, char *err, size_t errlen)
{
	void *p = gm_ptr(gm, gpa, len);
	if (!p || !aligned(gpa) || !aligned(len))
		return err_set(err, errlen, "discard range 0x%llx + 0x%llx is not whole pages of "
				            "guest RAM", (unsigned long long)gpa,
			       (unsigned long long)len);
	gm_mark_written(gm, p, len); /* it reads as zeroes now: a Diff snapshot must carry that */
	if (gm->fd >= 0) {
		/* p lies inside the memfd mapping at base; its file offset is p - base. */
		off_t off = (off_t)((uint8_t *)p - gm->base);
		if (fallocate(gm->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, (off_t)len) < 0)
			return err_set(err, errlen, "cannot release guest memory: fallocate: %s",
				       strerror(errno));
		return 0;
	}
	if (gm->cow_file) {
		/* MADV_DONTNEED would bring the file's bytes back: fresh zero pages instead. */
		if (mmap(p, (size_t)len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED)
			return err_set(err, errlen, "cannot release guest memory: mmap: %s",
				       strerror(errno));
		return 0;
	}
	if (madvise(p, (size_t)len, MADV_DONTNEED) < 0)
		return err_set(err, errlen, "cannot release guest memory: madvise: %s",
			       strerror(errno));
	return 0;
}

uint64_t gm_ram_offset(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa + len < gpa)
		return UINT64_MAX;
	for (size_t i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r->offset + (gpa - r->gpa);
	}
	return UINT64_MAX;
}

uint64_t gm_gpa_of(const struct guest_mem *gm, const void *host, uint64_t len)
{
	uintptr_t h = (uintptr_t)host, b = (uintptr_t)gm->base;
	if (len == 0 || !gm->base || h < b)
		return UINT64_MAX;
	uint64_t off = h - b; /* offset inside the mapping of all RAM */
	for (size_t i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (off >= r->offset && off - r->offset < r->size && len <= r->size - (off - r->offset))
			return r->gpa + (off - r->offset);
	}
	return UINT64_MAX;
}

void *gm_region_host(const struct guest_mem *gm, size_t i)
{
	return i < gm->nregions ? gm->base + gm->regions[i].offset : NULL;
}

uint64_t gm_region_end(const struct guest_mem *gm, uint64_t gpa)
{
	for (size_t i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r->gpa + r->size;
	}
	return 0;
}

int gm_create_from_file(struct guest_mem *gm, const struct gm_region *regions, size_t n, int fd,
			char *err, size_t errlen)
{
	uint64_t total;
	struct stat st;

	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	if (check_layout(regions, n, &total, err, errlen) < 0)
		return -1;
	if (sandbox_fstat(fd, &st) < 0)
		return err_set(err, errlen, "memory file: %s", strerror(errno));
	if ((uint64_t)st.st_size != total)
		return err_set(err, errlen, "the memory file has %llu bytes, the guest's RAM is %llu",
			       (unsigned long long)st.st_size, (unsigned long long)total);
	if (total > SIZE_MAX - 2 * (uint64_t)GM_PAGE_SIZE)
		return err_set(err, errlen, "guest memory too large for this host");
	size_t map_len = (size_t)(total + 2 * GM_PAGE_SIZE);
	void *map = mmap(NULL, map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return err_set(err, errlen, "cannot reserve %zu bytes of address space: %s", map_len,
			       strerror(errno));
	uint8_t *base = (uint8_t *)map + GM_PAGE_SIZE;
	if (mmap(base, (size_t)total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
		 fd, 0) == MAP_FAILED) {
		err_set(err, errlen, "cannot map the memory file: %s", strerror(errno));
		munmap(map, map_len);
		return -1;
	}
	(void)madvise(base, (size_t)total, MADV_DONTDUMP);
	(void)madvise(base, (size_t)total, MADV_DONTFORK);
	gm_adopt(gm, regions, n, base, total, map, map_len);
	gm->cow_file = true;
	return 0;
}
