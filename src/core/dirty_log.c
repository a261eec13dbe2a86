/* Dirty-page bitmaps, page runs, and Diff memory files (see dirty_log.h). Reads guest RAM only
 * through the gate by RAM offset (gm_ram_ptr). */
#include "core/dirty_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sandbox.h"

int dirty_log_init(struct dirty_log *dl, const struct guest_mem *gm, char *err, size_t errlen)
{
	dl->npages = gm_ram_pages(gm);
	dl->nwords = (size_t)((dl->npages + 63) / 64);
	dl->bits = calloc(dl->nwords ? dl->nwords : 1, sizeof(uint64_t));
	if (!dl->bits)
		return err_set(err, errlen, "out of memory for the dirty-page bitmap (%llu pages)",
			       (unsigned long long)dl->npages);
	return 0;
}

void dirty_log_free(struct dirty_log *dl)
{
	free(dl->bits);
	*dl = (struct dirty_log){0};
}

void dirty_log_clear(struct dirty_log *dl)
{
	if (dl->bits)
		memset(dl->bits, 0, dl->nwords * sizeof(uint64_t));
}

void dirty_log_set(struct dirty_log *dl, uint64_t first, uint64_t n)
{
	if (first >= dl->npages)
		return;
	if (n > dl->npages - first)
		n = dl->npages - first;
	for (uint64_t p = first; p < first + n; p++)
		dl->bits[p / 64] |= 1ull << (p % 64);
}

void dirty_log_set_all(struct dirty_log *dl)
{
	dirty_log_set(dl, 0, dl->npages);
}

uint64_t dirty_log_count(const struct dirty_log *dl)
{
	uint64_t n = 0, pos = 0, first, count;
	while (dirty_next_run(dl->bits, dl->npages, &pos, &first, &count))
		n += count;
	return n;
}

/* Index of the first bit at or after p whose value is `set`, or nbits. */
static uint64_t find_bit(const uint64_t *bits, uint64_t nbits, uint64_t p, bool set)
{
	while (p < nbits) {
		uint64_t w = bits[p / 64];
		if (!set)
			w = ~w;
		w &= ~0ull << (p % 64); /* only bits at or after p */
		if (w) {
			uint64_t r = (p & ~63ull) + (uint64_t)__builtin_ctzll(w);
			return r < nbits ? r : nbits;
		}
		p = (p & ~63ull) + 64;
	}
	return nbits;
}

bool dirty_next_run(const uint64_t *bits, uint64_t nbits, uint64_t *pos, uint64_t *first,
		    uint64_t *count)
{
	if (!bits || *pos >= nbits)
		return false;
	uint64_t a = find_bit(bits, nbits, *pos, true);
	if (a >= nbits) {
		*pos = nbits;
		return false;
	}
	uint64_t b = find_bit(bits, nbits, a, false);
	*first = a;
	*count = b - a;
	*pos = b;
	return true;
}

/* Writes all of [p, p + len) at off, across short writes and EINTR. 0 or -errno. */
static int write_all(int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
	while (len > 0) {
		size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
		ssize_t n = pwrite(fd, p, chunk, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int dirty_write_diff(int fd, const struct guest_mem *gm, const struct dirty_log *dl,
		     uint64_t *bytes, char *err, size_t errlen)
{
	uint64_t pos = 0, first, count, span = gm_ram_pages(gm) * GM_PAGE_SIZE;
	struct stat st;

	*bytes = 0;
	if (dl->npages != gm_ram_pages(gm))
		return err_set(err, errlen, "the dirty-page bitmap covers %llu pages, guest RAM %llu",
			       (unsigned long long)dl->npages,
			       (unsigned long long)gm_ram_pages(gm));
	if (sandbox_fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(err, errlen, "the Diff memory file is not a regular file");
	if ((uint64_t)st.st_size != span && ftruncate(fd, (off_t)span) < 0)
		return err_set(err, errlen, "cannot size the Diff memory file to %llu bytes: %s",
			       (unsigned long long)span, strerror(errno));
	while (dirty_next_run(dl->bits, dl->npages, &pos, &first, &count)) {
		/* A run may cross from one region into the next (offsets are contiguous): page by
		 * region piece, each checked against the region table. */
		uint64_t off = first * GM_PAGE_SIZE, len = count * GM_PAGE_SIZE;
		while (len > 0) {
			uint64_t piece = GM_PAGE_SIZE;
			while (piece < len && gm_ram_ptr(gm, off, piece + GM_PAGE_SIZE))
				piece += GM_PAGE_SIZE;
			const uint8_t *src = gm_ram_ptr(gm, off, piece);
			if (src) {
				int r = write_all(fd, src, piece, off);
				if (r < 0)
					return err_set(err, errlen, "writing the Diff memory file at "
						       "offset %llu: %s", (unsigned long long)off,
						       strerror(-r));
				*bytes += piece;
			}
			off += piece;
			len -= piece;
		}
	}
	return 0;
}

#define DIFF_BUF_SIZE (1u << 20)

/* dirty_apply_diff with its copy buffer (DIFF_BUF_SIZE bytes). */
static int apply_diff(int dst_fd, int diff_fd, uint64_t size, uint64_t *bytes, uint8_t *buf,
		      char *err, size_t errlen)
{
	struct stat st;

	*bytes = 0;
	if (sandbox_fstat(diff_fd, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(err, errlen, "the Diff memory file is not a regular file");
	if ((uint64_t)st.st_size != size)
		return err_set(err, errlen, "the Diff memory file is %llu bytes, guest RAM %llu: it "
			       "belongs to another VM", (unsigned long long)st.st_size,
			       (unsigned long long)size);
	if (sandbox_fstat(dst_fd, &st) < 0 || (uint64_t)st.st_size != size)
		return err_set(err, errlen, "the full memory file is not %llu bytes",
			       (unsigned long long)size);
	off_t at = 0;
	while ((uint64_t)at < size) {
		off_t data = lseek(diff_fd, at, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* only holes left */
		if (data < 0)
			return err_set(err, errlen, "reading the Diff memory file: %s", strerror(errno));
		off_t hole = lseek(diff_fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		for (off_t o = data; o < hole;) {
			size_t want = (size_t)(hole - o) < DIFF_BUF_SIZE ? (size_t)(hole - o) : DIFF_BUF_SIZE;
			ssize_t n = pread(diff_fd, buf, want, o);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return err_set(err, errlen, "reading the Diff memory file at %lld: %s",
					       (long long)o, n < 0 ? strerror(errno) : "short file");
			int r = write_all(dst_fd, buf, (uint64_t)n, (uint64_t)o);
			if (r < 0)
				return err_set(err, errlen, "writing the full memory file at %lld: %s",
					       (long long)o, strerror(-r));
			o += n;
			*bytes += (uint64_t)n;
		}
		at = hole;
	}
	return 0;
}

/* The buffer comes from the heap per call. A _Thread_local array would sit in every thread's
 * static TLS block, which glibc zeroes for each thread it creates: 1 MiB resident per thread in
 * every run of every VM (docs/performance.md, "Start-up"). */
int dirty_apply_diff(int dst_fd, int diff_fd, uint64_t size, uint64_t *bytes, char *err,
		     size_t errlen)
{
	uint8_t *buf = malloc(DIFF_BUF_SIZE);

	*bytes = 0;
	if (!buf)
		return err_set(err, errlen, "out of memory for the Diff copy buffer");
	int r = apply_diff(dst_fd, diff_fd, size, bytes, buf, err, errlen);
	free(buf);
	return r;
}
