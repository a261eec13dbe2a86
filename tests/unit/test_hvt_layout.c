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

#define RO_X(e) ((e) && !((e) & PTE_RW) && !((e) & PTE_NX))
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
	CHECK(RO_X(walk(0x100000)));
	CHECK(RO_X(walk(0x1017ff)));
	CHECK(RW_NX(walk(0x102000)));
	CHECK(RW_NX(walk(0x104fff)));
	CHECK(RO_NX(walk(0x105000)));
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

static void boot_info(void)
{
	static const uint8_t mft[16] = {1, 0, 0, 0, 1};
	struct hvt_boot_info bi;
	char cl[16];
	setup();
	CHECK_EQ(hvt_write_boot_info(&gm, 0x106000, 2500000000ull, "a b", mft, sizeof(mft), err,
				     sizeof(err)), 0);
	CHECK_EQ(gm_read(&gm, HVT_BOOT_INFO_GPA, &bi, sizeof(bi)), 0);
	CHECK_EQ(bi.mem_size, MEM);
	CHECK_EQ(bi.kernel_end, 0x106000ull);
	CHECK_EQ(bi.cpu_cycle_freq, 2500000000ull);
	CHECK_EQ(bi.cmdline, HVT_CMDLINE_GPA);
	CHECK_EQ(bi.mft, HVT_MFT_GPA);
	CHECK_EQ(gm_read(&gm, HVT_CMDLINE_GPA, cl, 4), 0);
	CHECK(!strcmp(cl, "a b"));
	CHECK_EQ(hvt_mem_round((7ull << 20) + 5), 6ull << 20);
	CHECK_EQ(hvt_mem_round(1ull << 20), 0ull);
}

int main(void)
{
	test_suite_name = "hvt_layout";
	RUN(wx);
	RUN(refusals);
	RUN(boot_info);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
