/* Guest RAM and the one gate into it.
 * Owns: the memfd-backed host mapping of all guest RAM (one mapping, guard pages on both sides)
 * and the guest-physical layout (a few regions, e.g. below and above the 4 GiB device hole).
 * Contract: gm_ptr() is the only way to turn a guest-physical address into a host pointer;
 * no other file adds a guest address to a host base. Guest-controlled addresses are hostile. */
#ifndef MOTE_CORE_GUEST_MEM_H
#define MOTE_CORE_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 4
#define GM_PAGE_SIZE 4096u

struct gm_region {
	uint64_t gpa;    /* guest-physical start, page aligned */
	uint64_t size;   /* bytes, page aligned, > 0 */
	uint64_t offset; /* offset of this region inside the memfd / host mapping */
};

struct guest_mem {
	uint8_t *base;  /* host address of guest RAM offset 0 (just after the low guard page) */
	uint64_t size;  /* total RAM bytes (sum of region sizes) */
	int fd;         /* the memfd; -1 when not created or with huge pages (anonymous RAM) */
	/* Host-side write tracking (gm_track_writes), NULL when off: one bit per page of RAM by
	 * RAM offset, set atomically by whoever writes guest RAM from the host. Read with an
	 * atomic load; it points into written_mem, which stays allocated until gm_destroy so that
	 * a thread that loaded the pointer just before tracking went off writes into valid memory. */
	uint64_t *written;
	uint64_t *written_mem;
	size_t written_words;
	size_t nregions;
	struct gm_region regions[GM_MAX_REGIONS]; /* sorted by gpa, non-overlapping */
	void *map;      /* whole reservation, guards included */
	size_t map_len;
	bool cow_file;  /* RAM is a file mapped MAP_PRIVATE (a restored snapshot's memory file) */
};

/* Creates guest RAM for the given regions (gpa, size; offsets are assigned here, in order).
 * Regions must be page aligned, non-empty, sorted, non-overlapping and must not wrap.
 * Returns 0, or -1 with a one-line reason in err. The memory starts zero-filled. */
int gm_create(struct guest_mem *gm, const struct gm_region *regions, size_t n, char *err,
	      size_t errlen);

/* The same, and with hugepages the RAM is anonymous memory at a 2 MiB-aligned host address,
 * advised for transparent huge pages (MADV_HUGEPAGE) instead of a memfd: fewer pages for the
 * kernel to pin and walk in direct I/O and in KVM's page tables, at the price of RSS in 2 MiB
 * steps. Refused with a reason when the host's transparent huge pages are off. */
int gm_create_opt(struct guest_mem *gm, const struct gm_region *regions, size_t n,
		  bool hugepages, char *err, size_t errlen);
void gm_destroy(struct guest_mem *gm);

/* Guest RAM from a memory file (a snapshot's: the regions' bytes back to back, offset 0 on):
 * the same layout and guards as gm_create, the RAM mapped MAP_PRIVATE from fd, so a page is
 * read from the file when the guest first touches it and guest writes stay in this process
 * (copy-on-write: many VMs can share one file). The file must hold exactly the regions' total
 * size (checked). fd may be closed afterwards. Returns 0, or -1 with err set. */
int gm_create_from_file(struct guest_mem *gm, const struct gm_region *regions, size_t n, int fd,
			char *err, size_t errlen);

/* What mote itself needs in a memory cgroup beside guest RAM (code, libraries, stacks, KVM's
 * structures charged to it): a jailed hello guest peaks at 1.5 MiB (docs/jail.md). */
#define GM_VMM_RESERVE (8ull << 20)

/* limit: the MOTE_MEMORY_LIMIT value (bytes; mote-jailer sets it from the jail's memory cgroup),
 * NULL or "" for none. RAM that cannot fit with GM_VMM_RESERVE is refused up front, instead of
 * the kernel killing the VM when the guest touches it. 0, or -1 with a one-line reason. */
int gm_fits_limit(uint64_t ram, const char *limit, char *err, size_t errlen);

/* THE GATE. Host pointer for the guest-physical range [gpa, gpa + len), or NULL when
 * len == 0, when gpa + len overflows, or when the range is not wholly inside one region.
 * The pointer is valid for exactly len bytes. */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copies through the gate: 0 on success, -1 (nothing copied) when the range is refused. */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len);

/* Makes [gpa, gpa + len) (page aligned, inside one region) read-only in the host mapping: the
 * hypervisor then maps it read-only to the guest too (a guest write there fails in KVM, and
 * the VMM reports it), and no VMM code can write it either; callers check before they write.
 * Returns 0, or -1 with err set. */
int gm_protect_ro(const struct guest_mem *gm, uint64_t gpa, uint64_t len, char *err,
		  size_t errlen);

/* Gives the pages of [gpa, gpa + len) (page aligned, inside one region of guest RAM) back to
 * the host: a hole punched in the memfd (fallocate PUNCH_HOLE), or MADV_DONTNEED for anonymous
 * RAM. The range reads as zeroes afterwards and host RSS drops. Only guest RAM can be named
 * (the gate checks the range), never memory the VMM uses. 0, or -1 with err set. */
int gm_discard(const struct guest_mem *gm, uint64_t gpa, uint64_t len, char *err, size_t errlen);

/* The reverse of the gate, for devices that get host iovecs from the virtqueue code and must
 * name the memory by guest address (the balloon's free page reporting): the guest-physical
 * address of the host range [host, host + len), or UINT64_MAX when it is not wholly inside
 * one region of guest RAM (len 0 included). */
uint64_t gm_gpa_of(const struct guest_mem *gm, const void *host, uint64_t len);

/* Where [gpa, gpa + len) lies in guest RAM counted without holes: its offset in [0, size)
 * (the regions one after the other), or UINT64_MAX when the range is not wholly inside one
 * region. For per-page bookkeeping of RAM (the balloon's bitmap) that must not cover holes. */
uint64_t gm_ram_offset(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Host address of region i, for registering memory slots with the hypervisor. */
void *gm_region_host(const struct guest_mem *gm, size_t i);

/* End of the region containing gpa (exclusive), or 0 when gpa is not RAM. */
uint64_t gm_region_end(const struct guest_mem *gm, uint64_t gpa);

/* Host-side write tracking, for Diff snapshots (docs/snapshot-devices.md). KVM's dirty log
 * sees only the guest's own writes; what mote writes into guest RAM from the host (the buffers
 * devices fill, used rings, gm_write) is marked here by the code that writes it: virtqueue.c
 * marks a popped chain's device-writable buffers and the used ring, gm_write its range. One
 * bit per GM_PAGE_SIZE page, indexed by RAM offset (host address - base, the memory file's
 * layout). gm_track_writes: on (a clear bitmap, allocated the first time; 0, or -1 with err)
 * or off (marks stop; the bitmap is kept until gm_destroy). Turning it on clears the bitmap:
 * call that before the VM runs, or while it is paused with its devices quiesced. */
int gm_track_writes(struct guest_mem *gm, bool on, char *err, size_t errlen);
/* Marks host range [p, p + len) written (nothing when tracking is off or p is not RAM). Any
 * thread. */
void gm_mark_written(const struct guest_mem *gm, const void *p, uint64_t len);
/* ORs the marked pages into bits (nwords 64-bit words by RAM offset) and clears them. Words
 * beyond the bitmap are left alone. Any thread; a page marked concurrently lands either in
 * this take or the next. */
void gm_take_written(const struct guest_mem *gm, uint64_t *bits, size_t nwords);
/* Pages of RAM by RAM offset (the span of every region's offset + size), for bitmaps. */
uint64_t gm_ram_pages(const struct guest_mem *gm);
/* The RAM offset of region i (where its pages sit in bitmaps and memory files). */
uint64_t gm_region_offset(const struct guest_mem *gm, size_t i);
/* The gate by RAM offset (memory files, dirty bitmaps): the host pointer of [off, off + len)
 * when that range lies inside one region, else NULL (overflow-aware). */
void *gm_ram_ptr(const struct guest_mem *gm, uint64_t off, uint64_t len);

#endif
