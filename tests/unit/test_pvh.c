/* Unit tests for PVH boot (src/arch/x86/pvh.c): the structures pvh_setup writes (read back
 * through the gate), its refusals (with guest memory untouched), the boot GDT bytes and
 * initrd placement. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/pvh.h"
#include "test.h"

#define LOW_END   (64ull << 20) /* the low RAM region ends at 64 MiB */
#define HIGH_SIZE (16ull << 20)
#define MIB       (1ull << 20)

static struct guest_mem gm;
static char err[256];

/* Two regions, like a real VM: low RAM below the device hole, more above 4 GiB. */
static void ram_reset(void)
{
	const struct gm_region r[] = {
		{ .gpa = 0, .size = LOW_END },
		{ .gpa = X86_HOLE_END, .size = HIGH_SIZE },
	};
	char e[128];

	gm_destroy(&gm);
	if (gm_create(&gm, r, 2, e, sizeof(e)) < 0) {
		printf("gm_create: %s\n", e);
		exit(2);
	}
	memset(err, 0, sizeof(err));
}

/* The first MiB holds every boot structure; on refusal it must still be zero. */
static int low_mib_zero(void)
{
	const uint8_t *p = gm_ptr(&gm, 0, MIB);
	for (uint64_t i = 0; i < MIB; i++)
		if (p[i])
			return 0;
	return 1;
}

static const struct mem_map_entry map2[] = {
	{ .addr = 0, .size = X86_EBDA_START, .type = MEM_RAM },
	{ .addr = X86_HIMEM_START, .size = LOW_END - X86_HIMEM_START, .type = MEM_RAM },
};

static struct pvh_params params_default(void)
{
	return (struct pvh_params){
		.entry = 0x100010,
		.cmdline = "console=ttyS0 quiet",
		.rsdp_gpa = 0xe0000,
		.map = map2,
		.map_len = 2,
	};
}

static void setup_writes_structures(void)
{
	ram_reset();
	struct pvh_params p = params_default();
	struct boot_entry be;
	memset(&be, 0xff, sizeof(be));
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == 0);
	CHECK_EQ(be.mode, BOOT_PVH32);
	CHECK_EQ(be.rip, 0x100010u);
	CHECK_EQ(be.rbx, X86_PVH_INFO_GPA);
	CHECK_EQ(be.rsi, 0u);
	CHECK_EQ(be.gdt_gpa, X86_BOOT_GDT_GPA);

	struct hvm_start_info si;
	CHECK(gm_read(&gm, X86_PVH_INFO_GPA, &si, sizeof(si)) == 0);
	CHECK_EQ(si.magic, PVH_START_MAGIC);
	CHECK_EQ(si.version, 1u);
	CHECK_EQ(si.flags, 0u);
	CHECK_EQ(si.nr_modules, 0u);
	CHECK_EQ(si.modlist_paddr, 0u);
	CHECK_EQ(si.cmdline_paddr, X86_CMDLINE_GPA);
	CHECK_EQ(si.rsdp_paddr, 0xe0000u);
	CHECK_EQ(si.memmap_paddr, X86_PVH_MEMMAP_GPA);
	CHECK_EQ(si.memmap_entries, 2u);
	CHECK_EQ(si.reserved, 0u);

	/* The ABI's byte offsets, independent of our struct definition. */
	uint32_t magic;
	uint64_t memmap_paddr;
	CHECK(gm_read(&gm, X86_PVH_INFO_GPA + 0, &magic, 4) == 0 && magic == 0x336ec578u);
	CHECK(gm_read(&gm, X86_PVH_INFO_GPA + 40, &memmap_paddr, 8) == 0 &&
	      memmap_paddr == X86_PVH_MEMMAP_GPA);

	char cmd[64];
	CHECK(gm_read(&gm, X86_CMDLINE_GPA, cmd, sizeof(cmd)) == 0);
	CHECK(strcmp(cmd, "console=ttyS0 quiet") == 0);

	struct hvm_memmap_table_entry mm[3];
	CHECK(gm_read(&gm, X86_PVH_MEMMAP_GPA, mm, sizeof(mm)) == 0);
	CHECK(mm[0].addr == 0 && mm[0].size == X86_EBDA_START && mm[0].type == MEM_RAM);
	CHECK(mm[1].addr == X86_HIMEM_START && mm[1].size == LOW_END - X86_HIMEM_START);
	CHECK(mm[1].type == 1 && mm[1].reserved == 0);
	CHECK(mm[2].addr == 0 && mm[2].size == 0 && mm[2].type == 0); /* nothing past the end */

	struct hvm_modlist_entry mod;
	CHECK(gm_read(&gm, X86_PVH_MODLIST_GPA, &mod, sizeof(mod)) == 0);
	CHECK(mod.paddr == 0 && mod.size == 0); /* no initrd: not written */
}

static void setup_with_initrd(void)
{
	ram_reset();
	struct pvh_params p = params_default();
	struct boot_entry be;
	p.initrd_gpa = 0x3000000;
	p.initrd_size = 0x123456;
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == 0);
	struct hvm_start_info si;
	CHECK(gm_read(&gm, X86_PVH_INFO_GPA, &si, sizeof(si)) == 0);
	CHECK_EQ(si.nr_modules, 1u);
	CHECK_EQ(si.modlist_paddr, X86_PVH_MODLIST_GPA);
	struct hvm_modlist_entry mod;
	CHECK(gm_read(&gm, X86_PVH_MODLIST_GPA, &mod, sizeof(mod)) == 0);
	CHECK_EQ(mod.paddr, 0x3000000u);
	CHECK_EQ(mod.size, 0x123456u);
	CHECK_EQ(mod.cmdline_paddr, 0u);
	CHECK_EQ(mod.reserved, 0u);

	/* An initrd that is not in guest RAM is refused before anything is written. */
	ram_reset();
	p.initrd_gpa = LOW_END - 0x1000;
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "initrd");
	CHECK(low_mib_zero());
}

static void cmdline_limits(void)
{
	static char line[X86_CMDLINE_MAX + 1];
	struct pvh_params p = params_default();
	struct boot_entry be;

	/* Exactly at the limit: 4095 characters + NUL. */
	ram_reset();
	memset(line, 'a', X86_CMDLINE_MAX - 1);
	line[X86_CMDLINE_MAX - 1] = '\0';
	p.cmdline = line;
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == 0);
	char tail[2];
	CHECK(gm_read(&gm, X86_CMDLINE_GPA + X86_CMDLINE_MAX - 2, tail, 2) == 0);
	CHECK(tail[0] == 'a' && tail[1] == '\0');

	/* One more is refused, with nothing written. */
	ram_reset();
	line[X86_CMDLINE_MAX - 1] = 'a';
	line[X86_CMDLINE_MAX] = '\0';
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "kernel command line too long: 4096 bytes, the limit is 4095");
	CHECK(low_mib_zero());

	/* Empty: a lone NUL at the usual address. NULL: no command line at all. */
	ram_reset();
	p.cmdline = "";
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == 0);
	struct hvm_start_info si;
	CHECK(gm_read(&gm, X86_PVH_INFO_GPA, &si, sizeof(si)) == 0);
	CHECK_EQ(si.cmdline_paddr, X86_CMDLINE_GPA);
	ram_reset();
	p.cmdline = NULL;
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == 0);
	CHECK(gm_read(&gm, X86_PVH_INFO_GPA, &si, sizeof(si)) == 0);
	CHECK_EQ(si.cmdline_paddr, 0u);
}

static void memmap_bounds(void)
{
	static struct mem_map_entry big[X86_PVH_MEMMAP_MAX + 1];
	struct pvh_params p = params_default();
	struct boot_entry be;

	for (size_t i = 0; i < X86_PVH_MEMMAP_MAX + 1; i++)
		big[i] = (struct mem_map_entry){ .addr = i * MIB, .size = MIB, .type = MEM_RAM };
	p.map = big;

	ram_reset();
	p.map_len = X86_PVH_MEMMAP_MAX;
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == 0);
	struct hvm_memmap_table_entry last;
	CHECK(gm_read(&gm, X86_PVH_MEMMAP_GPA + (X86_PVH_MEMMAP_MAX - 1) * sizeof(last), &last,
		      sizeof(last)) == 0);
	CHECK_EQ(last.addr, (X86_PVH_MEMMAP_MAX - 1) * MIB);

	ram_reset();
	p.map_len = X86_PVH_MEMMAP_MAX + 1;
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "memory map");
	CHECK(low_mib_zero());
	p.map_len = 0;
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "memory map");
	p.map = NULL;
	p.map_len = 1;
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == -1);
	big[0] = (struct mem_map_entry){ .addr = UINT64_MAX - 10, .size = 20, .type = MEM_RAM };
	p.map = big;
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "wraps");
	CHECK(low_mib_zero());
}

static void entry_above_4g_refused(void)
{
	ram_reset();
	struct pvh_params p = params_default();
	struct boot_entry be;
	p.entry = 1ull << 32;
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "4 GiB");
	CHECK(low_mib_zero());
}

static void too_small_memory_refused(void)
{
	/* 16 KiB of RAM: the start info at 0x6000 does not fit; nothing is written. */
	const struct gm_region r[] = { { .gpa = 0, .size = 0x4000 } };
	struct guest_mem small;
	struct pvh_params p = params_default();
	struct boot_entry be;
	char e[128];
	CHECK(gm_create(&small, r, 1, e, sizeof(e)) == 0);
	p.cmdline = NULL;
	CHECK(pvh_setup(&small, &p, &be, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "PVH start info");
	const uint8_t *ram = gm_ptr(&small, 0, 0x4000);
	int zero = 1;
	for (size_t i = 0; i < 0x4000; i++)
		zero &= ram[i] == 0;
	CHECK(zero);
	gm_destroy(&small);
}

static void gdt_bytes(void)
{
	static const uint8_t want[40] = {
		0,    0,    0,    0,    0,    0,    0,    0,    /* null */
		0xff, 0xff, 0x00, 0x00, 0x00, 0x9b, 0xcf, 0x00, /* 0x08 code32 */
		0xff, 0xff, 0x00, 0x00, 0x00, 0x9b, 0xaf, 0x00, /* 0x10 code64 */
		0xff, 0xff, 0x00, 0x00, 0x00, 0x93, 0xcf, 0x00, /* 0x18 data */
		0x67, 0x00, 0x00, 0x00, 0x00, 0x8b, 0x00, 0x00, /* 0x20 busy TSS */
	};
	uint8_t got[48];

	ram_reset();
	CHECK(x86_write_boot_gdt(&gm) == 0);
	CHECK(gm_read(&gm, X86_BOOT_GDT_GPA, got, sizeof(got)) == 0);
	CHECK(memcmp(got, want, sizeof(want)) == 0);
	for (size_t i = sizeof(want); i < sizeof(got); i++)
		CHECK(got[i] == 0);
	/* Decoded, for the reader: code64 has L=1 D=0, code32 and data D=1, all G=1 P=1. */
	CHECK((got[X86_SEL_CODE64 + 6] & 0x60) == 0x20);
	CHECK((got[X86_SEL_CODE32 + 6] & 0x60) == 0x40);
	CHECK((got[X86_SEL_DATA + 5] & 0x9a) == 0x92);
	CHECK((got[X86_SEL_TSS + 5] & 0x1f) == 0x0b);

	/* pvh_setup writes the same table. */
	ram_reset();
	struct pvh_params p = params_default();
	struct boot_entry be;
	CHECK(pvh_setup(&gm, &p, &be, err, sizeof(err)) == 0);
	CHECK(gm_read(&gm, X86_BOOT_GDT_GPA, got, sizeof(want)) == 0);
	CHECK(memcmp(got, want, sizeof(want)) == 0);
}

static void initrd_placement(void)
{
	uint64_t gpa = 0;

	ram_reset();
	/* Fits at the top of low RAM, page aligned. */
	CHECK(x86_place_initrd(&gm, 0x123456, X86_HIMEM_START, UINT64_MAX, &gpa, err,
			       sizeof(err)) == 0);
	CHECK_EQ(gpa, (LOW_END - 0x123456) & ~0xfffull);
	CHECK(gpa % 4096 == 0 && gpa + 0x123456 <= LOW_END);
	/* A whole number of pages ends exactly at the end of low RAM. */
	CHECK(x86_place_initrd(&gm, 0x10000, X86_HIMEM_START, UINT64_MAX, &gpa, err, sizeof(err)) ==
	      0);
	CHECK_EQ(gpa, LOW_END - 0x10000);
	/* max_end below the end of RAM wins. */
	CHECK(x86_place_initrd(&gm, 0x1000, X86_HIMEM_START, 0x800800, &gpa, err, sizeof(err)) ==
	      0);
	CHECK_EQ(gpa, 0x7ff000u);
	/* Exactly all of [min_gpa, end) fits; one page more does not. */
	CHECK(x86_place_initrd(&gm, LOW_END - X86_HIMEM_START, X86_HIMEM_START, UINT64_MAX, &gpa,
			       err, sizeof(err)) == 0);
	CHECK_EQ(gpa, X86_HIMEM_START);
	CHECK(x86_place_initrd(&gm, LOW_END - X86_HIMEM_START + 1, X86_HIMEM_START, UINT64_MAX,
			       &gpa, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "initrd (64 MiB) does not fit in guest memory below 0x4000000: "
				"give the VM more memory (--mem)");
	/* Too big although high RAM exists: the initrd stays below the hole. */
	CHECK(x86_place_initrd(&gm, 70 * MIB, X86_HIMEM_START, UINT64_MAX, &gpa, err,
			       sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "70 MiB");
	/* Alignment would push it below an unaligned min_gpa. */
	CHECK(x86_place_initrd(&gm, 0x1000, 0x7ff800, 0x800800, &gpa, err, sizeof(err)) == -1);
	/* max_end at or below min_gpa, size 0, size near 2^64, min_gpa not RAM. */
	CHECK(x86_place_initrd(&gm, 0x1000, X86_HIMEM_START, X86_HIMEM_START, &gpa, err,
			       sizeof(err)) == -1);
	CHECK(x86_place_initrd(&gm, 0, X86_HIMEM_START, UINT64_MAX, &gpa, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "empty");
	CHECK(x86_place_initrd(&gm, UINT64_MAX, X86_HIMEM_START, UINT64_MAX, &gpa, err,
			       sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "does not fit");
	CHECK(x86_place_initrd(&gm, 0x1000, X86_HOLE_START, UINT64_MAX, &gpa, err, sizeof(err)) ==
	      -1);
	CHECK_STR_CONTAINS(err, "not guest RAM");
	/* A kernel that ends exactly at the end of low RAM leaves no room: say what helps. */
	CHECK(x86_place_initrd(&gm, 0x1000, LOW_END, X86_HOLE_START, &gpa, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "--mem");
	/* As the boot code calls it: after the kernel, below the device hole. */
	CHECK(x86_place_initrd(&gm, 5 * MIB, 0x200000, X86_HOLE_START, &gpa, err, sizeof(err)) ==
	      0);
	CHECK_EQ(gpa, LOW_END - 5 * MIB);
	/* In the high region when asked to start there. */
	CHECK(x86_place_initrd(&gm, 0x1000, X86_HOLE_END, UINT64_MAX, &gpa, err, sizeof(err)) == 0);
	CHECK_EQ(gpa, X86_HOLE_END + HIGH_SIZE - 0x1000);
}

int main(void)
{
	test_suite_name = "pvh";
	gm.fd = -1; /* nothing to destroy yet */
	RUN(setup_writes_structures);
	RUN(setup_with_initrd);
	RUN(cmdline_limits);
	RUN(memmap_bounds);
	RUN(entry_above_4g_refused);
	RUN(too_small_memory_refused);
	RUN(gdt_bytes);
	RUN(initrd_placement);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
