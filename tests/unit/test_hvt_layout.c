/* Unit tests for the hvt page tables (src/hvt/layout.c): a software walk of the tables the
 * builder wrote checks W^X per segment, page zero and the tender's area unmapped, the boot
 * pages read-only, the heap writable and no-execute, and refusals for unsafe layouts. */
#include <elf.h>
#include <string.h>

#include "hvt/abi.h"
#include "hvt/layout.h"
#include "test.h"

#define MEM (8ull << 20)

static struct guest_mem gm;
static char err[256];

static uint64_t rd(uint64_t gpa)
{
	uint64_t v = 0;
	CHECK_EQ(gm_read(&gm, gpa, &v, 8), 0);
	return v;
}

/* The leaf entry mapping va (with the accumulated NX/RW of the walk), or 0 when unmapped. */
static uint64_t walk(uint64_t va)
{
	uint64_t e = rd(HVT_PML4_GPA + ((va >> 39) & 511) * 8);
	if (!(e & PTE_P))
		return 0;
	e = rd((e & PTE_ADDR) + ((va >> 30) & 511) * 8);
	if (!(e & PTE_P))
		return 0;
	e = rd((e & PTE_ADDR) + ((va >> 21) & 511) * 8);
	if (!(e & PTE_P) || (e & PTE_PS))
		return e & PTE_P ? e : 0;
	e = rd((e & PTE_ADDR) + ((va >> 12) & 511) * 8);
	return e & PTE_P ? e : 0;
}

static struct elf_exec img(void)
{
	struct elf_exec x;
	memset(&x, 0, sizeof(x));
	x.seg[0] = (struct elf_segment){0x100000, 0x1800, PF_R | PF_X};
	x.seg[1] = (struct elf_segment){0x102000, 0x3000, PF_R | PF_W};
	x.seg[2] = (struct elf_segment){0x105000, 0x10, PF_R};
	x.nseg = 3;
	x.load_lo = 0x100000;
	x.load_hi = 0x105010;
	x.entry = 0x100000;
	return x;
}

static void setup(void)
{
	const struct gm_region r = {.gpa = 0, .size = MEM};
	gm_destroy(&gm);
	CHECK_EQ(gm_create(&gm, &r, 1, err, sizeof(err)), 0);
}

#define HOSTRO_X(e) ((e) && ((e) & PTE_RW) && !((e) & PTE_NX) && ((e) & PTE_HOSTRO))
#define HOSTRO_NX(e) ((e) && ((e) & PTE_RW) && ((e) & PTE_NX) && ((e) & PTE_HOSTRO))
#define RW_NX(e) ((e) && ((e) & PTE_RW) && ((e) & PTE_NX))
#define RO_NX(e) ((e) && !((e) & PTE_RW) && ((e) & PTE_NX))

static void wx(void)
{
	struct elf_exec x = img();
	setup();
	CHECK_EQ(hvt_build_paging(&gm, &x, err, sizeof(err)), 0);
	CHECK_EQ(hvt_kernel_end(&x), 0x106000ull);
	CHECK_EQ(walk(0), 0ull);
	CHECK_EQ(walk(0xfff), 0ull);
	CHECK_EQ(walk(HVT_GDT_GPA), 0ull);
	CHECK_EQ(walk(HVT_PML4_GPA), 0ull);
	CHECK_EQ(walk(HVT_PT_GPA), 0ull);
	CHECK(RO_NX(walk(HVT_BOOT_INFO_GPA)));
	CHECK(RO_NX(walk(HVT_CMDLINE_GPA + 0x1fff)));
	CHECK(RO_NX(walk(HVT_MFT_GPA)));
	CHECK_EQ(walk(HVT_RO_END), 0ull);
	CHECK_EQ(walk(0xfffff), 0ull);
	CHECK(HOSTRO_X(walk(0x100000))); /* code: writable here, read-only in the host */
	CHECK(HOSTRO_X(walk(0x1017ff)));
	CHECK(RW_NX(walk(0x102000)) && !(walk(0x102000) & PTE_HOSTRO));
	CHECK(RW_NX(walk(0x104fff)));
	CHECK(HOSTRO_NX(walk(0x105000))); /* rodata */
	CHECK(RW_NX(walk(0x106000)));      /* heap after the kernel */
	CHECK(RW_NX(walk(0x1ff000)));
	CHECK(RW_NX(walk(0x200000)));      /* 2 MiB pages */
	CHECK(walk(0x200000) & PTE_PS);
	CHECK(RW_NX(walk(MEM - 8)));       /* the stack */
	CHECK_EQ(walk(MEM), 0ull);
	CHECK_EQ(walk(3ull << 30), 0ull);
	uint64_t m = walk(HVT_HYPERCALL_MMIO_BASE);
	CHECK((m & PTE_PCD) && (m & PTE_NX) && (m & PTE_ADDR) == HVT_HYPERCALL_MMIO_BASE);
	CHECK_EQ(walk(HVT_HYPERCALL_MMIO_BASE + HVT_PAGE_2M), 0ull);
	/* Identity: every mapped page maps to itself. */
	CHECK_EQ(walk(0x102000) & PTE_ADDR, 0x102000ull);
	CHECK_EQ(walk(0x600000) & PTE_ADDR & ~(HVT_PAGE_2M - 1), 0x600000ull);
	uint64_t gdt[3];
	CHECK_EQ(gm_read(&gm, HVT_GDT_GPA, gdt, sizeof(gdt)), 0);
	CHECK_EQ(gdt[0], 0ull);
	CHECK(gdt[1] & (1ull << 53)); /* L bit */
}

static void refusals(void)
{
	struct elf_exec x = img();
	setup();
	x.seg[1].flags = PF_R | PF_W | PF_X;
	CHECK_EQ(hvt_build_paging(&gm, &x, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "both writable and executable");
	x = img();
	x.seg[1].gpa = 0x101800; /* shares the page 0x101000 with the code */
	CHECK_EQ(hvt_build_paging(&gm, &x, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "share the page at 0x101000");
	x = img();
	x.seg[2] = (struct elf_segment){0x101000, 0x100, PF_R | PF_X}; /* same flags: fine */
	CHECK_EQ(hvt_build_paging(&gm, &x, err, sizeof(err)), 0);
	x = img();
	x.load_hi = MEM + 1;
	CHECK_EQ(hvt_build_paging(&gm, &x, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "raise --mem");

	const struct gm_region big = {.gpa = 0, .size = 512ull << 20};
	gm_destroy(&gm);
	CHECK_EQ(gm_create(&gm, &big, 1, err, sizeof(err)), 0);
	x = img();
	x.load_hi = 300ull << 20;
	CHECK_EQ(hvt_build_paging(&gm, &x, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "maps at most the first 224 MiB");
	x.load_hi = 220ull << 20;
	CHECK_EQ(hvt_build_paging(&gm, &x, err, sizeof(err)), 0);
	CHECK(RW_NX(walk(219ull << 20)));
	CHECK(RW_NX(walk(511ull << 20)));
}

/* A rodata page shared with data would be read-only in the host: refused. */
static void host_ro(void)
{
	struct elf_exec x = img();
	setup();
	x.seg[2] = (struct elf_segment){0x104800, 0x10, PF_R};
	x.seg[1].memsz = 0x2800;
	CHECK_EQ(hvt_build_paging(&gm, &x, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "share the page at 0x104000");

	struct gm_region ro[HVT_MAX_RO];
	x = img();
	x.seg[3] = (struct elf_segment){0x106000, 0x2001, PF_R}; /* adjacent to seg 2's page */
	x.seg[4] = (struct elf_segment){0x180000, 0x10, PF_R | PF_X};
	x.nseg = 5;
	size_t n = hvt_ro_ranges(&x, ro, HVT_MAX_RO);
	CHECK_EQ(n, 3u);
	CHECK_EQ(ro[0].gpa, HVT_BOOT_INFO_GPA); /* boot info to 1 MiB, and the text after it */
	CHECK_EQ(ro[0].size, 0x102000ull - HVT_BOOT_INFO_GPA);
	CHECK_EQ(ro[1].gpa, 0x105000ull); /* rodata + the next one, merged, whole pages */
	CHECK_EQ(ro[1].size, 0x4000ull);
	CHECK_EQ(ro[2].gpa, 0x180000ull);
	CHECK_EQ(ro[2].size, 0x1000ull);
	CHECK_EQ(hvt_ro_ranges(&x, ro, 2), 2u);
	CHECK_EQ(hvt_ro_ranges(&x, ro, 0), 0u);
	x.seg[0].gpa = 0x101000; /* text not at 1 MiB: its own range */
	x.seg[0].memsz = 0x800;
	CHECK_EQ(hvt_ro_ranges(&x, ro, HVT_MAX_RO), 4u);
	CHECK_EQ(ro[0].size, HVT_GUEST_MIN_BASE - HVT_BOOT_INFO_GPA);
	CHECK_EQ(ro[1].gpa, 0x101000ull);
}

/* 4 GiB of RAM, as solo5-hvt allows: one PD per GiB, the top page mapped, nothing above. */
static void four_gib(void)
{
	const struct gm_region r = {.gpa = 0, .size = 4ull << 30};
	gm_destroy(&gm);
	CHECK_EQ(gm_create(&gm, &r, 1, err, sizeof(err)), 0);
	struct elf_exec x = img();
	CHECK_EQ(hvt_build_paging(&gm, &x, err, sizeof(err)), 0);
	CHECK(RW_NX(walk((3ull << 30) + 0x1000)));
	CHECK(RW_NX(walk((4ull << 30) - 8)));
	CHECK_EQ(walk(HVT_HYPERCALL_MMIO_BASE) & PTE_ADDR, HVT_HYPERCALL_MMIO_BASE);
	CHECK_EQ(walk((4ull << 30) + HVT_PAGE_2M), 0ull);
	/* 1 GiB + 2 MiB: the second PD has one entry, the other two PDs are not written. */
	const struct gm_region r2 = {.gpa = 0, .size = (1ull << 30) + HVT_PAGE_2M};
	gm_destroy(&gm);
	CHECK_EQ(gm_create(&gm, &r2, 1, err, sizeof(err)), 0);
	CHECK_EQ(hvt_build_paging(&gm, &x, err, sizeof(err)), 0);
	CHECK(RW_NX(walk(1ull << 30)));
	CHECK_EQ(walk((1ull << 30) + HVT_PAGE_2M), 0ull);
	CHECK_EQ(rd(HVT_PD_GPA + 2 * 4096), 0ull);
	setup();
}

static void boot_info(void)
{
	static const uint8_t mft[16] = {1, 0, 0, 0, 1};
	struct hvt_boot_info bi;
	char cl[16];
	setup();
	struct hvt_boot_params p = {.mem_size = MEM - HVT_RING_BLOCK, .kernel_end = 0x106000,
				    .tsc_hz = 2500000000ull, .net_ring = MEM - HVT_RING_BLOCK,
				    .cmdline = "a b", .mft = mft, .mft_size = sizeof(mft)};
	CHECK_EQ(hvt_write_boot_info(&gm, &p, err, sizeof(err)), 0);
	CHECK_EQ(gm_read(&gm, HVT_BOOT_INFO_GPA, &bi, sizeof(bi)), 0);
	CHECK_EQ(bi.mem_size, MEM - HVT_RING_BLOCK);
	CHECK_EQ(bi.kernel_end, 0x106000ull);
	CHECK_EQ(bi.cpu_cycle_freq, 2500000000ull);
	CHECK_EQ(bi.cmdline, HVT_CMDLINE_GPA);
	CHECK_EQ(bi.mft, HVT_MFT_GPA);
	CHECK_EQ(bi.host_features, HVT_FEATURE_NET_RING);
	CHECK_EQ(bi.guest_features, 0u);
	CHECK_EQ(bi.net_ring, MEM - HVT_RING_BLOCK);
	CHECK_EQ(gm_read(&gm, HVT_CMDLINE_GPA, cl, 4), 0);
	CHECK(!strcmp(cl, "a b"));
	p.net_ring = 0;
	CHECK_EQ(hvt_write_boot_info(&gm, &p, err, sizeof(err)), 0);
	CHECK_EQ(gm_read(&gm, HVT_BOOT_INFO_GPA, &bi, sizeof(bi)), 0);
	CHECK_EQ(bi.host_features, 0u);
	CHECK_EQ(bi.net_ring, 0ull);
	char big[HVT_CMDLINE_SIZE + 1];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	p.cmdline = big;
	CHECK_EQ(hvt_write_boot_info(&gm, &p, err, sizeof(err)), -1);
}

int main(void)
{
	test_suite_name = "hvt_layout";
	RUN(wx);
	RUN(refusals);
	RUN(host_ro);
	RUN(four_gib);
	RUN(boot_info);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
