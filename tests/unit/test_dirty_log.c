/* Dirty-page bitmaps without KVM (src/core/dirty_log.c, the write tracking of
 * src/core/guest_mem.c and its marks in src/virtio/virtqueue.c): page runs against a naive
 * scan (word edges, the last partial word, stray bits past nbits), counts and sets; host-side
 * tracking (gm_write, a popped chain's writable buffers, the used ring; nothing when off);
 * a Diff file over two regions and its refusals. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dirty_log.h"
#include "core/log.h"
#include "guest_ram.h"
#include "test.h"
#include "virtio/virtqueue.h"

/* Runs by dirty_next_run, checked bit by bit against the bitmap. */
static void check_runs(const uint64_t *bits, uint64_t nbits)
{
	uint64_t pos = 0, first, count, expect = 0, seen = 0;
	uint64_t prev_end = 0;
	bool ok = true;

	for (uint64_t i = 0; i < nbits; i++)
		expect += (bits[i / 64] >> (i % 64)) & 1;
	while (dirty_next_run(bits, nbits, &pos, &first, &count)) {
		ok &= count > 0 && first >= prev_end && first + count <= nbits;
		for (uint64_t i = prev_end; i < first; i++)
			ok &= !((bits[i / 64] >> (i % 64)) & 1);
		for (uint64_t i = first; i < first + count; i++)
			ok &= (bits[i / 64] >> (i % 64)) & 1;
		ok &= first + count == nbits || !((bits[(first + count) / 64] >> ((first + count) % 64)) & 1);
		seen += count;
		prev_end = first + count;
	}
	CHECK(ok);
	CHECK_EQ(seen, expect);
	CHECK_EQ(pos, nbits);
}

static void runs(void)
{
	uint64_t b[4] = {0};
	uint64_t pos = 0, first, count;

	CHECK(!dirty_next_run(b, 256, &pos, &first, &count));
	CHECK(!dirty_next_run(NULL, 256, &pos, &first, &count));
	b[0] = 1;                    /* bit 0 */
	b[0] |= 1ull << 63;          /* a run across the word edge: 63..65 */
	b[1] = 3;
	b[3] = ~0ull;                /* the last word, partly past nbits = 250 */
	pos = 0;
	CHECK(dirty_next_run(b, 250, &pos, &first, &count));
	CHECK(first == 0 && count == 1);
	CHECK(dirty_next_run(b, 250, &pos, &first, &count));
	CHECK(first == 63 && count == 3);
	CHECK(dirty_next_run(b, 250, &pos, &first, &count));
	CHECK(first == 192 && count == 58); /* stops at nbits */
	CHECK(!dirty_next_run(b, 250, &pos, &first, &count));
	check_runs(b, 250);
	/* All set: one run. */
	memset(b, 0xff, sizeof(b));
	pos = 0;
	CHECK(dirty_next_run(b, 256, &pos, &first, &count));
	CHECK(first == 0 && count == 256);
	/* Random patterns, sparse and dense. */
	srand(11);
	for (int t = 0; t < 300; t++) {
		uint64_t r[9];
		for (int i = 0; i < 9; i++) {
			r[i] = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();
			if (t % 3 == 0)
				r[i] &= ((uint64_t)rand() << 32) | (uint64_t)rand();
			if (t % 3 == 1)
				r[i] |= ((uint64_t)rand() << 32) | (uint64_t)rand();
		}
		check_runs(r, 1 + (uint64_t)rand() % (9 * 64));
	}
}

static void log_ops(void)
{
	const struct gm_region r[] = {{.gpa = 0, .size = 1 << 20}, {.gpa = 1 << 24, .size = 1 << 20}};
	struct dirty_log dl;
	char err[256];

	CHECK_EQ(gm_create(&gm, r, 2, err, sizeof(err)), 0);
	CHECK_EQ(gm_ram_pages(&gm), 512u);
	/* The gate by RAM offset: inside one region only, overflow-aware. */
	CHECK_EQ(gm_region_offset(&gm, 1), 1u << 20);
	CHECK(gm_ram_ptr(&gm, 0, 1 << 20) == gm_ptr(&gm, 0, 1 << 20));
	CHECK(gm_ram_ptr(&gm, (1 << 20) + 4096, 4096) == gm_ptr(&gm, (1 << 24) + 4096, 4096));
	CHECK(gm_ram_ptr(&gm, (1 << 20) - 4096, 8192) == NULL); /* across the regions */
	CHECK(gm_ram_ptr(&gm, 2 << 20, 1) == NULL);
	CHECK(gm_ram_ptr(&gm, 4096, UINT64_MAX) == NULL);
	CHECK(gm_ram_ptr(&gm, UINT64_MAX, 2) == NULL);
	CHECK_EQ(dirty_log_init(&dl, &gm, err, sizeof(err)), 0);
	CHECK_EQ(dl.npages, 512u);
	dirty_log_set(&dl, 500, 100); /* clamped */
	CHECK_EQ(dirty_log_count(&dl), 12u);
	dirty_log_set(&dl, 600, 1); /* beyond: nothing */
	CHECK_EQ(dirty_log_count(&dl), 12u);
	dirty_log_set_all(&dl);
	CHECK_EQ(dirty_log_count(&dl), 512u);
	dirty_log_clear(&dl);
	CHECK_EQ(dirty_log_count(&dl), 0u);
	dirty_log_free(&dl);
	gm_destroy(&gm);
}

/* Host writes are marked while tracking is on, by RAM offset, and taken once. */
static void host_tracking(void)
{
	const struct gm_region r[] = {{.gpa = 0, .size = 1 << 20}, {.gpa = 1 << 24, .size = 1 << 20}};
	struct dirty_log dl;
	char err[256];
	uint8_t x[8] = {1};

	CHECK_EQ(gm_create(&gm, r, 2, err, sizeof(err)), 0);
	CHECK_EQ(dirty_log_init(&dl, &gm, err, sizeof(err)), 0);
	CHECK_EQ(gm_write(&gm, 0x3000, x, 1), 0); /* off: not marked */
	CHECK_EQ(gm_track_writes(&gm, true, err, sizeof(err)), 0);
	gm_take_written(&gm, dl.bits, dl.nwords);
	CHECK_EQ(dirty_log_count(&dl), 0u);
	CHECK_EQ(gm_write(&gm, 0x5ffc, x, 8), 0);           /* pages 5 and 6 */
	CHECK_EQ(gm_write(&gm, (1 << 24) + 0x1000, x, 1), 0); /* region 1: page 256 + 1 */
	gm_mark_written(&gm, x, 1);                         /* not RAM: ignored */
	gm_take_written(&gm, dl.bits, dl.nwords);
	uint64_t pos = 0, first, count;
	CHECK(dirty_next_run(dl.bits, dl.npages, &pos, &first, &count));
	CHECK(first == 5 && count == 2);
	CHECK(dirty_next_run(dl.bits, dl.npages, &pos, &first, &count));
	CHECK(first == 257 && count == 1);
	CHECK(!dirty_next_run(dl.bits, dl.npages, &pos, &first, &count));
	dirty_log_clear(&dl);
	gm_take_written(&gm, dl.bits, dl.nwords); /* taken: clear now */
	CHECK_EQ(dirty_log_count(&dl), 0u);
	/* A discarded range reads as zeroes: marked too. */
	CHECK_EQ(gm_discard(&gm, 0x40000, 0x2000, err, sizeof(err)), 0);
	gm_take_written(&gm, dl.bits, dl.nwords);
	CHECK_EQ(dirty_log_count(&dl), 2u);
	CHECK(dl.bits[1] & (3ull << 0)); /* pages 0x40, 0x41: word 1, bits 0-1 */
	dirty_log_clear(&dl);

	/* A virtqueue marks a popped chain's writable buffer and, on push, the used ring. */
	static struct virtqueue vq;
	memset(&vq, 0, sizeof(vq));
	CHECK_EQ(vq_enable(&vq, &gm, 4, 0x10000, 0x11000, 0x12000, false, false), 0);
	uint8_t d[16] = {0};
	uint64_t addr = 0x20000;
	uint32_t len = 0x2000; /* pages 0x20 and 0x21 */
	uint16_t flags = VQ_DESC_F_WRITE;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	CHECK_EQ(gm_write(&gm, 0x10000, d, 16), 0);
	put16(0x11004, 0);
	put16(0x11002, 1);
	gm_take_written(&gm, dl.bits, dl.nwords); /* the test's own writes */
	dirty_log_clear(&dl);
	static struct vq_chain c;
	CHECK_EQ(vq_pop(&vq, &c), VQ_OK);
	gm_take_written(&gm, dl.bits, dl.nwords);
	pos = 0;
	CHECK(dirty_next_run(dl.bits, dl.npages, &pos, &first, &count));
	CHECK(first == 0x20 && count == 2);
	CHECK_EQ(dirty_log_count(&dl), 2u);
	dirty_log_clear(&dl);
	CHECK_EQ(vq_push(&vq, c.head, 4), 0);
	gm_take_written(&gm, dl.bits, dl.nwords);
	CHECK_EQ(dirty_log_count(&dl), 1u);
	CHECK(dl.bits[0] & (1ull << 0x12));
	CHECK_EQ(gm_track_writes(&gm, false, err, sizeof(err)), 0);
	CHECK(gm.written == NULL);
	/* Off: marks are dropped (the bitmap stays allocated for racing writers); on again: a
	 * clear start, whatever was marked before. */
	CHECK(gm.written_mem != NULL);
	gm.written_mem[0] = ~0ull; /* what a writer racing the switch could have left */
	CHECK_EQ(gm_write(&gm, 0x9000, x, 1), 0);
	dirty_log_clear(&dl);
	gm_take_written(&gm, dl.bits, dl.nwords);
	CHECK_EQ(dirty_log_count(&dl), 0u);
	CHECK_EQ(gm_track_writes(&gm, true, err, sizeof(err)), 0);
	gm_take_written(&gm, dl.bits, dl.nwords);
	CHECK_EQ(dirty_log_count(&dl), 0u);
	CHECK_EQ(gm_write(&gm, 0x9000, x, 1), 0);
	gm_take_written(&gm, dl.bits, dl.nwords);
	CHECK_EQ(dirty_log_count(&dl), 1u);
	CHECK_EQ(gm_track_writes(&gm, false, err, sizeof(err)), 0);
	dirty_log_free(&dl);
	gm_destroy(&gm);
}

static void diff_file(void)
{
	const struct gm_region r[] = {{.gpa = 0, .size = 1 << 20}, {.gpa = 1 << 24, .size = 1 << 20}};
	struct dirty_log dl, other;
	char err[256], path[] = "/tmp/mote-diff-XXXXXX";
	uint64_t bytes;

	CHECK_EQ(gm_create(&gm, r, 2, err, sizeof(err)), 0);
	CHECK_EQ(dirty_log_init(&dl, &gm, err, sizeof(err)), 0);
	for (uint64_t p = 0; p < 512; p++)
		memset(gm.base + p * GM_PAGE_SIZE, (int)(p & 0xff) | 1, GM_PAGE_SIZE);
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	/* A run across the two regions (pages 254..257) and one lone page. */
	dirty_log_set(&dl, 254, 4);
	dirty_log_set(&dl, 10, 1);
	CHECK_EQ(dirty_write_diff(fd, &gm, &dl, &bytes, err, sizeof(err)), 0);
	CHECK_EQ(bytes, 5 * GM_PAGE_SIZE);
	CHECK_EQ(lseek(fd, 0, SEEK_END), (off_t)(512 * GM_PAGE_SIZE));
	CHECK_EQ(lseek(fd, 0, SEEK_DATA), (off_t)(10 * GM_PAGE_SIZE));
	CHECK_EQ(lseek(fd, 11 * GM_PAGE_SIZE, SEEK_DATA), (off_t)(254 * GM_PAGE_SIZE));
	CHECK_EQ(lseek(fd, 254 * GM_PAGE_SIZE, SEEK_HOLE), (off_t)(258 * GM_PAGE_SIZE));
	uint8_t pg[GM_PAGE_SIZE];
	CHECK_EQ(pread(fd, pg, sizeof(pg), 257 * GM_PAGE_SIZE), (ssize_t)sizeof(pg));
	CHECK(memcmp(pg, gm.base + 257 * GM_PAGE_SIZE, sizeof(pg)) == 0);
	/* A bitmap for another VM's RAM, and a file that is not a regular one: refused. */
	other = dl;
	other.npages = 100;
	CHECK_EQ(dirty_write_diff(fd, &gm, &other, &bytes, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "bitmap covers 100 pages");
	int pfd[2];
	CHECK_EQ(pipe(pfd), 0);
	CHECK_EQ(dirty_write_diff(pfd[1], &gm, &dl, &bytes, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "not a regular file");
	CHECK_EQ(dirty_apply_diff(pfd[1], fd, 512 * GM_PAGE_SIZE, &bytes, err, sizeof(err)), -1);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
	unlink(path);
	dirty_log_free(&dl);
	gm_destroy(&gm);
}

int main(void)
{
	test_suite_name = "dirty_log";
	log_set_level(LOG_ERROR);
	RUN(runs);
	RUN(log_ops);
	RUN(host_tracking);
	RUN(diff_file);
	TEST_MAIN_END();
}
