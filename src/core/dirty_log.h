/* Dirty-page bitmaps and Diff memory files, for Diff snapshots (docs/snapshot-devices.md).
 * Owns: a bitmap of guest RAM pages by RAM offset (the memory file's layout: region i's pages
 * at gm->regions[i].offset), the turning of a bitmap into page runs, writing the dirty pages
 * of guest RAM into a sparse Diff memory file at their offsets, and layering such a file onto
 * a full memory file. Knows nothing of KVM (kvm/dirty.c fills the bitmap) or of the snapshot
 * format (src/snapshot/ frames the files). */
#ifndef MOTE_CORE_DIRTY_LOG_H
#define MOTE_CORE_DIRTY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"

struct dirty_log {
	uint64_t npages; /* bits that mean something: pages of RAM by RAM offset */
	size_t nwords;   /* 64-bit words in bits */
	uint64_t *bits;  /* bit p: the page at RAM offset p * GM_PAGE_SIZE was written */
};

/* A clear bitmap covering gm's RAM. 0, or -1 with err set. */
int dirty_log_init(struct dirty_log *dl, const struct guest_mem *gm, char *err, size_t errlen);
void dirty_log_free(struct dirty_log *dl);
void dirty_log_clear(struct dirty_log *dl);
/* Every page dirty (a Full snapshot's view, or tracking that just started). */
void dirty_log_set_all(struct dirty_log *dl);
/* Sets pages [first, first + n) (clamped to npages). */
void dirty_log_set(struct dirty_log *dl, uint64_t first, uint64_t n);
uint64_t dirty_log_count(const struct dirty_log *dl);

/* The next run of set bits in bits[0 .. nbits) at or after *pos: true with [*first,
 * *first + *count) and *pos moved past it, false when there is none (bits past nbits in the
 * last word are ignored). Pure; the caller iterates: pos = 0; while (dirty_next_run(...)). */
bool dirty_next_run(const uint64_t *bits, uint64_t nbits, uint64_t *pos, uint64_t *first,
		    uint64_t *count);

/* Writes the pages dl marks, from guest RAM, into fd at their RAM offsets (pwrite, whole runs
 * at a time) and sizes the file to the RAM span, so every page not written is a hole: a sparse
 * Diff memory file. fd: a regular file opened for writing, empty or holding an older Diff (its
 * pages outside dl stay as they are). *bytes: what was written. The VM must be paused. 0, or
 * -1 with err set (naming what failed). */
int dirty_write_diff(int fd, const struct guest_mem *gm, const struct dirty_log *dl,
		     uint64_t *bytes, char *err, size_t errlen);

/* Layers a Diff memory file onto a full one: every data extent of diff_fd (SEEK_DATA /
 * SEEK_HOLE) is copied to the same offset of dst_fd. Both files must be `size` bytes (the RAM
 * span); a diff of another size is refused. *bytes: what was copied. 0, or -1 with err. */
int dirty_apply_diff(int dst_fd, int diff_fd, uint64_t size, uint64_t *bytes, char *err,
		     size_t errlen);

#endif
