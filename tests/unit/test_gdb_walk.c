/* Unit tests for the guest page-table walker (gdb/walk.c): 4-level tables with 4 KiB,
 * 2 MiB and 1 GiB pages, 5-level, PAE, 32-bit with and without PSE, paging off; non-present
 * entries, non-canonical addresses and tables pointing outside guest RAM are refusals. */
#include "core/guest_mem.h"
#include "gdb/walk.h"
#include "test.h"

#define MIB (UINT64_C(1) << 20)

static struct guest_mem gm;

static void put64(uint64_t gpa, uint64_t v) { CHECK_EQ(gm_write(&gm, gpa, &v, 8), 0); }
static void put32(uint64_t gpa, uint32_t v) { CHECK_EQ(gm_write(&gm, gpa, &v, 4), 0); }

static int tr(const struct x86_paging *p, uint64_t va, uint64_t *gpa, uint64_t *left)
{
	return walk_translate(&gm, p, va, gpa, left);
}

static const struct x86_paging lm = {.cr0 = 0x80000011, .cr3 = 0x1000, .cr4 = 0x20, .efer = 0x500};

/* PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000: va 0x400000 (PD[2]) -> PT, va 0 -> 2 MiB page
 * at 0x200000, PDPT[1] a 1 GiB page at 0; va 0xffff800000000000 (PML4[256]) -> PDPT 0x5000. */
static void build_4level(void)
{
	CHECK_EQ(gm_write(&gm, 0, (uint8_t[1]){0}, 1), 0);
	for (uint64_t a = 0x1000; a < 0x8000; a += 8)
		put64(a, 0);
	put64(0x1000, 0x2000 | 3);
	put64(0x1000 + 256 * 8, 0x5000 | 3);
	put64(0x2000, 0x3000 | 3);
	put64(0x2000 + 8, 0x0 | 0x83);              /* 1 GiB page at 0 */
	put64(0x3000, 0x200000 | 0x83);             /* 2 MiB page */
	put64(0x3000 + 2 * 8, 0x4000 | 3);          /* PT */
	put64(0x4000 + 5 * 8, 0x7000 | 3 | (1ull << 63)); /* NX ignored */
	put64(0x5000, 0x6000 | 3);
	put64(0x6000, 0x7000 | 3);                  /* a PD entry pointing at a PT at 0x7000 */
	put64(0x7000, 0x9000 | 1);
}

static void four_level(void)
{
	uint64_t g, left;
	build_4level();
	CHECK_EQ(tr(&lm, 0x123, &g, &left), 0);
	CHECK_EQ(g, 0x200123);
	CHECK_EQ(left, 2 * MIB - 0x123);
	CHECK_EQ(tr(&lm, 0x405abc, &g, &left), 0);
	CHECK_EQ(g, 0x7abc);
	CHECK_EQ(left, 0x1000 - 0xabc);
	CHECK_EQ(tr(&lm, 0x40000000 + 0x1234, &g, &left), 0); /* 1 GiB page */
	CHECK_EQ(g, 0x1234);
	CHECK_EQ(left, (1ull << 30) - 0x1234);
	CHECK_EQ(tr(&lm, 0xffff800000000010ull, &g, &left), 0); /* high half */
	CHECK_EQ(g, 0x9010);
	CHECK_EQ(tr(&lm, 0x404000, &g, &left), -1);           /* PT entry 4 not present */
	CHECK_EQ(tr(&lm, 0x0000800000000000ull, &g, &left), -1); /* not canonical */
	CHECK_EQ(tr(&lm, 0x8000000000ull, &g, &left), -1);    /* PML4[1] not present */
}

static void outside_ram(void)
{
	uint64_t g, left;
	build_4level();
	put64(0x2000 + 2 * 8, 0x7fff0000000ull | 3); /* PDPT[2] -> a PD far outside RAM */
	CHECK_EQ(tr(&lm, 0x80000000ull, &g, &left), -1);
	struct x86_paging far = lm;
	far.cr3 = 0xfffffffff000ull; /* CR3 outside RAM */
	CHECK_EQ(tr(&far, 0, &g, &left), -1);
	put64(0x2000 + 3 * 8, 0xffffffffffff8083ull); /* a 1 GiB page at the top of the space */
	CHECK_EQ(tr(&lm, 0xc0000000ull, &g, &left), 0); /* translated; reading it is the gate's job */
	CHECK(gm_ptr(&gm, g, 1) == NULL);
}

static void five_level(void)
{
	uint64_t g, left;
	build_4level();
	struct x86_paging p = lm;
	p.cr4 |= 1u << 12;
	p.cr3 = 0x8000;
	for (uint64_t a = 0x8000; a < 0x9000; a += 8)
		put64(a, 0);
	put64(0x8000, 0x1000 | 3); /* PML5[0] -> the PML4 */
	CHECK_EQ(tr(&p, 0x405000, &g, &left), 0);
	CHECK_EQ(g, 0x7000);
	CHECK_EQ(tr(&p, 0xffff800000000000ull, &g, &left), -1); /* canonical for 57 bits: PML5[511] */
	CHECK_EQ(tr(&p, 0x0100000000000000ull, &g, &left), -1); /* not canonical */
}

static void pae_and_32bit(void)
{
	uint64_t g, left;
	/* PAE: PDPT at 0xa000 (4 entries), PD at 0xb000, PT at 0xc000 */
	struct x86_paging pae = {.cr0 = 0x80000011, .cr3 = 0xa000, .cr4 = 0x20};
	for (uint64_t a = 0xa000; a < 0xd000; a += 8)
		put64(a, 0);
	put64(0xa000 + 3 * 8, 0xb000 | 1);
	put64(0xb000, 0xc000 | 3);
	put64(0xb000 + 8, 0x400000 | 0x83); /* 2 MiB */
	put64(0xc000 + 8, 0x5000 | 3);
	CHECK_EQ(tr(&pae, 0xc0001004, &g, &left), 0);
	CHECK_EQ(g, 0x5004);
	CHECK_EQ(tr(&pae, 0xc0200010, &g, &left), 0);
	CHECK_EQ(g, 0x400010);
	CHECK_EQ(tr(&pae, 0x1000, &g, &left), -1);         /* PDPT[0] not present */
	CHECK_EQ(tr(&pae, 0x100000000ull, &g, &left), -1); /* beyond 32 bits */
	/* 32-bit: PD at 0xd000, PT at 0xe000 */
	struct x86_paging p32 = {.cr0 = 0x80000011, .cr3 = 0xd000, .cr4 = 0x10};
	for (uint64_t a = 0xd000; a < 0xf000; a += 4)
		put32(a, 0);
	put32(0xd000, 0xe000 | 3);
	put32(0xd000 + 4, 0x800000 | 0x83); /* 4 MiB page (PSE) */
	put32(0xe000 + 2 * 4, 0x3000 | 3);
	CHECK_EQ(tr(&p32, 0x2010, &g, &left), 0);
	CHECK_EQ(g, 0x3010);
	CHECK_EQ(tr(&p32, 0x400000 + 0x12345, &g, &left), 0);
	CHECK_EQ(g, 0x812345);
	CHECK_EQ(left, 4 * MIB - 0x12345);
	p32.cr4 = 0; /* without PSE, the PS bit means nothing: 0x800000 is a table */
	CHECK_EQ(tr(&p32, 0x400000, &g, &left), -1); /* PT at 0x800000 is beyond RAM */
}

static void paging_off(void)
{
	uint64_t g, left;
	struct x86_paging off = {.cr0 = 0x11};
	CHECK_EQ(tr(&off, 0x12345, &g, &left), 0);
	CHECK_EQ(g, 0x12345);
	CHECK_EQ(left, 0x1000 - 0x345);
	CHECK_EQ(tr(&off, 0x100000000ull, &g, &left), -1);
}

int main(void)
{
	const struct gm_region r = {.gpa = 0, .size = 4 * MIB};
	char err[128];
	test_suite_name = "gdb_walk";
	if (gm_create(&gm, &r, 1, err, sizeof(err)) < 0) {
		printf("fail gdb_walk.setup: %s\n", err);
		return 1;
	}
	RUN(four_level);
	RUN(outside_ram);
	RUN(five_level);
	RUN(pae_and_32bit);
	RUN(paging_off);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
