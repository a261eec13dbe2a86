/* Unit tests for the Linux boot protocol loader (src/arch/x86/linux.c): a synthetic bzImage
 * (a setup area with a valid header, then a patterned protected-mode payload) loads at its
 * pref_address with a correct zero page, command line, initrd and identity page tables; every
 * malformed image or impossible request is refused with a specific message while guest
 * memory stays all zero. Header fields are poked at their boot.rst offsets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "arch/x86/linux.h"
#include "arch/x86/pvh.h"
#include "test.h"

#define RAM_SIZE    (64ull << 20)
#define SETUP_SECTS 4u
#define KOFF        ((SETUP_SECTS + 1) * 512u) /* protected-mode kernel in the file */
#define PAYLOAD     0x3000u
#define IMG_LEN     (KOFF + PAYLOAD)
#define PREF        0x1000000ull /* 16 MiB, as real kernels ask */
#define INIT_SIZE   0x2000000u   /* 32 MiB */
#define KALIGN      0x200000u
#define KEND        (PREF + INIT_SIZE)
#define INITRD_LEN  0x4321u
#define RSDP        0xe0000ull
#define CMDLINE     "console=ttyS0 root=/dev/vda quiet"

/* Setup header offsets in the file and in the zero page (boot.rst). */
enum {
	H_SETUP_SECTS = 0x1f1, H_SYSSIZE = 0x1f4, H_VID_MODE = 0x1fa, H_BOOT_FLAG = 0x1fe,
	H_JUMP = 0x200, H_MAGIC = 0x202, H_VERSION = 0x206, H_TYPE_OF_LOADER = 0x210,
	H_LOADFLAGS = 0x211, H_CODE32_START = 0x214, H_RAMDISK_IMAGE = 0x218,
	H_RAMDISK_SIZE = 0x21c, H_HEAP_END_PTR = 0x224, H_CMD_LINE_PTR = 0x228,
	H_INITRD_ADDR_MAX = 0x22c, H_KERNEL_ALIGNMENT = 0x230, H_RELOCATABLE = 0x234,
	H_MIN_ALIGNMENT = 0x235, H_XLOADFLAGS = 0x236, H_CMDLINE_SIZE = 0x238,
	H_SETUP_DATA = 0x250, H_PREF_ADDRESS = 0x258, H_INIT_SIZE = 0x260,
	H_HANDOVER = 0x264, H_KERNEL_INFO = 0x268, H_END = 0x26c,
};
/* Zero page (struct boot_params) offsets (zero-page.rst). */
enum {
	BP_ACPI_RSDP = 0x070, BP_EXT_RAMDISK_IMAGE = 0x0c0, BP_EXT_RAMDISK_SIZE = 0x0c4,
	BP_EXT_CMD_LINE_PTR = 0x0c8, BP_E820_ENTRIES = 0x1e8, BP_SENTINEL = 0x1ef,
	BP_E820_TABLE = 0x2d0,
};

static struct guest_mem gm;
static int ram_high; /* 1: also 64 MiB at 4 GiB; 2: no RAM below 1 MiB */
static uint8_t file[IMG_LEN];
static size_t file_len;
static uint8_t initrd[INITRD_LEN];
static struct mem_map_entry map[130];
static struct linux_params lp;
static struct boot_entry out;
static char err[256];
static char longline[8192];

static void put8(size_t off, uint8_t v) { file[off] = v; }
static void put16(size_t off, uint16_t v) { memcpy(file + off, &v, sizeof(v)); }
static void put32(size_t off, uint32_t v) { memcpy(file + off, &v, sizeof(v)); }
static void put64(size_t off, uint64_t v) { memcpy(file + off, &v, sizeof(v)); }

/* Zero page fields read back through the gate. */
static uint64_t zp(size_t off, size_t n)
{
	uint64_t v = 0;
	if (gm_read(&gm, X86_ZERO_PAGE_GPA + off, &v, n) < 0)
		return 0xdeadbeefdeadbeefull;
	return v;
}

static void ram_new(void)
{
	const struct gm_region low[] = { { .gpa = 0, .size = RAM_SIZE },
					 { .gpa = 1ull << 32, .size = RAM_SIZE } };
	const struct gm_region nolow[] = { { .gpa = X86_HIMEM_START, .size = RAM_SIZE } };
	char e[128];
	int rc = ram_high == 2 ? gm_create(&gm, nolow, 1, e, sizeof(e))
			       : gm_create(&gm, low, ram_high ? 2 : 1, e, sizeof(e));

	if (rc < 0) {
		printf("gm_create: %s\n", e);
		exit(2);
	}
}

static int ram_all_zero(void)
{
	static const uint8_t zero[1 << 16];
	for (size_t i = 0; i < gm.nregions; i++) {
		const uint8_t *p = gm_ptr(&gm, gm.regions[i].gpa, gm.regions[i].size);
		for (uint64_t off = 0; off < gm.regions[i].size; off += sizeof(zero)) {
			uint64_t n = gm.regions[i].size - off;
			if (memcmp(p + off, zero, n < sizeof(zero) ? n : sizeof(zero)) != 0)
				return 0;
		}
	}
	return 1;
}

/* A protocol 2.15 relocatable 64-bit bzImage; payload byte k is (k * 7 + 3) | 1 (never 0).
 * The parameters: command line, initrd, ACPI RSDP and a three-entry e820 map. */
static void img_default(void)
{
	memset(file, 0, sizeof(file));
	for (unsigned k = 0; k < KOFF; k++)
		file[k] = (uint8_t)(0xa0 + k % 16); /* setup code filler: must not leak */
	memset(file + H_SETUP_SECTS, 0, H_END - H_SETUP_SECTS);
	put8(H_SETUP_SECTS, SETUP_SECTS);
	put32(H_SYSSIZE, PAYLOAD / 16);
	put16(H_VID_MODE, 0xffff);
	put16(H_BOOT_FLAG, 0xaa55);
	put8(H_JUMP, 0xeb);
	put8(H_JUMP + 1, H_END - 0x202);
	memcpy(file + H_MAGIC, "HdrS", 4);
	put16(H_VERSION, 0x020f);
	put8(H_LOADFLAGS, 0x01);
	put32(H_CODE32_START, 0x100000);
	put32(H_INITRD_ADDR_MAX, 0x7fffffff);
	put32(H_KERNEL_ALIGNMENT, KALIGN);
	put8(H_RELOCATABLE, 1);
	put8(H_MIN_ALIGNMENT, 21);
	put16(H_XLOADFLAGS, 0x7f);
	put32(H_CMDLINE_SIZE, 2047);
	put64(H_PREF_ADDRESS, PREF);
	put32(H_INIT_SIZE, INIT_SIZE);
	put32(H_HANDOVER, 0x190);
	put32(H_KERNEL_INFO, 0x12345);
	for (unsigned k = 0; k < PAYLOAD; k++)
		file[KOFF + k] = (uint8_t)((k * 7 + 3) | 1);
	file_len = IMG_LEN;

	for (unsigned k = 0; k < INITRD_LEN; k++)
		initrd[k] = (uint8_t)((k * 13 + 5) | 1);
	map[0] = (struct mem_map_entry){ 0, X86_EBDA_START, MEM_RAM };
	map[1] = (struct mem_map_entry){ X86_EBDA_START, X86_HIMEM_START - X86_EBDA_START,
					 MEM_RESERVED };
	map[2] = (struct mem_map_entry){ X86_HIMEM_START, RAM_SIZE - X86_HIMEM_START, MEM_RAM };
	lp = (struct linux_params){ .cmdline = CMDLINE, .initrd = initrd,
				    .initrd_size = INITRD_LEN, .rsdp_gpa = RSDP, .map = map,
				    .map_len = 3 };
	ram_high = 0;
}

/* Loads file[0, file_len) into fresh guest memory; on refusal checks that memory is
 * untouched and the message is one non-empty line. */
static int load(void)
{
	gm_destroy(&gm);
	ram_new();
	memset(err, 0, sizeof(err));
	memset(&out, 0xa5, sizeof(out));
	int rc = linux_load_bzimage(file, file_len, &gm, &lp, &out, err, sizeof(err));
	if (rc < 0) {
		CHECK(err[0] != '\0');
		CHECK(strchr(err, '\n') == NULL);
		CHECK(ram_all_zero());
	}
	return rc;
}

#define REFUSED(word)                                                                      \
	do {                                                                               \
		CHECK(load() == -1);                                                       \
		CHECK_STR_CONTAINS(err, word);                                             \
	} while (0)

/* Translates va through the page tables at cr3 (2 MiB pages); *ok = 0 when not mapped. */
static uint64_t walk(uint64_t cr3, uint64_t va, int *ok)
{
	const uint64_t addr = 0x000ffffffffff000ull;
	uint64_t e;

	*ok = 0;
	if (gm_read(&gm, cr3 + ((va >> 39) & 511) * 8, &e, 8) < 0 || !(e & 1))
		return 0;
	if (gm_read(&gm, (e & addr) + ((va >> 30) & 511) * 8, &e, 8) < 0 || !(e & 1) ||
	    (e & 0x80))
		return 0;
	if (gm_read(&gm, (e & addr) + ((va >> 21) & 511) * 8, &e, 8) < 0 || !(e & 1) ||
	    !(e & 0x80) || !(e & 2))
		return 0;
	*ok = 1;
	return (e & 0x000fffffffe00000ull) | (va & 0x1fffff);
}

static void valid_image_loads(void)
{
	img_default();
	CHECK(load() == 0);
	/* The protected-mode kernel at pref_address, nothing before or after it. */
	const uint8_t *k = gm_ptr(&gm, PREF, PAYLOAD);
	CHECK(k && memcmp(k, file + KOFF, PAYLOAD) == 0);
	uint8_t b = 1;
	CHECK(gm_read(&gm, PREF - 1, &b, 1) == 0 && b == 0);
	CHECK(gm_read(&gm, PREF + PAYLOAD, &b, 1) == 0 && b == 0);
	/* The entry state. */
	CHECK_EQ(out.mode, BOOT_LINUX64);
	CHECK_EQ(out.rip, PREF + 0x200);
	CHECK_EQ(out.rsi, X86_ZERO_PAGE_GPA);
	CHECK_EQ(out.rbx, 0);
	CHECK_EQ(out.gdt_gpa, X86_BOOT_GDT_GPA);
	CHECK_EQ(out.cr3, X86_BOOT_PML4_GPA);
	/* The header copied from the image, then the loader's fields. */
	CHECK(memcmp(gm_ptr(&gm, X86_ZERO_PAGE_GPA + H_MAGIC, 4), "HdrS", 4) == 0);
	CHECK_EQ(zp(H_SETUP_SECTS, 1), SETUP_SECTS);
	CHECK_EQ(zp(H_SYSSIZE, 4), PAYLOAD / 16);
	CHECK_EQ(zp(H_VID_MODE, 2), 0xffff);
	CHECK_EQ(zp(H_BOOT_FLAG, 2), 0xaa55);
	CHECK_EQ(zp(H_VERSION, 2), 0x020f);
	CHECK_EQ(zp(H_PREF_ADDRESS, 8), PREF);
	CHECK_EQ(zp(H_INIT_SIZE, 4), INIT_SIZE);
	CHECK_EQ(zp(H_KERNEL_INFO, 4), 0x12345);
	CHECK_EQ(zp(H_XLOADFLAGS, 2), 0x7f);
	CHECK_EQ(zp(H_TYPE_OF_LOADER, 1), 0xff);
	CHECK_EQ(zp(H_LOADFLAGS, 1), 0x81); /* LOADED_HIGH | CAN_USE_HEAP */
	CHECK_EQ(zp(H_HEAP_END_PTR, 2), 0xde00);
	CHECK_EQ(zp(H_CODE32_START, 4), PREF);
	CHECK_EQ(zp(H_CMD_LINE_PTR, 4), X86_CMDLINE_GPA);
	CHECK_EQ(zp(BP_EXT_CMD_LINE_PTR, 4), 0);
	CHECK_EQ(zp(BP_ACPI_RSDP, 8), RSDP);
	CHECK_EQ(zp(BP_SENTINEL, 1), 0);
	CHECK_EQ(zp(H_END, 4), 0); /* nothing past the header */
	CHECK_EQ(zp(0x1f0, 1), 0);
}

static void valid_image_boot_structures(void)
{
	img_default();
	CHECK(load() == 0);
	/* e820. */
	CHECK_EQ(zp(BP_E820_ENTRIES, 1), 3);
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ(zp(BP_E820_TABLE + 20 * i, 8), map[i].addr);
		CHECK_EQ(zp(BP_E820_TABLE + 20 * i + 8, 8), map[i].size);
		CHECK_EQ(zp(BP_E820_TABLE + 20 * i + 16, 4), map[i].type);
	}
	CHECK_EQ(zp(BP_E820_TABLE + 60, 8), 0);
	/* The command line. */
	char line[sizeof(CMDLINE)];
	CHECK(gm_read(&gm, X86_CMDLINE_GPA, line, sizeof(line)) == 0);
	CHECK(memcmp(line, CMDLINE, sizeof(CMDLINE)) == 0); /* with its NUL */
	/* The initrd: highest page-aligned place below RAM's end, above the kernel. */
	uint64_t rd = zp(H_RAMDISK_IMAGE, 4) | zp(BP_EXT_RAMDISK_IMAGE, 4) << 32;
	CHECK_EQ(zp(H_RAMDISK_SIZE, 4), INITRD_LEN);
	CHECK_EQ(zp(BP_EXT_RAMDISK_SIZE, 4), 0);
	CHECK_EQ(rd, (RAM_SIZE - INITRD_LEN) & ~0xfffull);
	CHECK(rd % 4096 == 0 && rd >= KEND && rd + INITRD_LEN <= 0x80000000ull);
	const uint8_t *r = gm_ptr(&gm, rd, INITRD_LEN);
	CHECK(r && memcmp(r, initrd, INITRD_LEN) == 0);
	/* The GDT: 64-bit code at 0x10, data at 0x18. */
	uint64_t d = 0;
	CHECK(gm_read(&gm, X86_BOOT_GDT_GPA + X86_SEL_CODE64, &d, 8) == 0 && (d >> 53 & 1));
	CHECK(gm_read(&gm, X86_BOOT_GDT_GPA + X86_SEL_DATA, &d, 8) == 0 && (d >> 47 & 1));
	/* Identity paging covers the kernel, the zero page and the command line. */
	int ok;
	CHECK(walk(out.cr3, 0x12345678, &ok) == 0x12345678 && ok);
	CHECK(walk(out.cr3, out.rip, &ok) == out.rip && ok);
	CHECK(walk(out.cr3, X86_ZERO_PAGE_GPA, &ok) == X86_ZERO_PAGE_GPA && ok);
}

static void sniff(void)
{
	img_default();
	CHECK(linux_is_bzimage(file, IMG_LEN) == 1);
	CHECK(linux_is_bzimage(file, 0x206) == 1);
	for (size_t n = 0; n < 0x206; n++)
		CHECK(linux_is_bzimage(file, n) == 0);
	CHECK(linux_is_bzimage(NULL, 0) == 0);
	CHECK(linux_is_bzimage(NULL, IMG_LEN) == 0);
	file[H_MAGIC + 3] = 's';
	CHECK(linux_is_bzimage(file, IMG_LEN) == 0);
}

/* Every file length short of the full image: refused as truncated, nothing written. */
static void every_truncation(void)
{
	img_default();
	gm_destroy(&gm);
	ram_new();
	for (size_t n = 0; n < IMG_LEN; n++) {
		err[0] = '\0';
		CHECK(linux_load_bzimage(file, n, &gm, &lp, &out, err, sizeof(err)) == -1);
		CHECK_STR_CONTAINS(err, "truncated");
	}
	CHECK_STR_CONTAINS(err, "syssize says the protected-mode kernel has 12288 bytes but the "
				"file holds 12287");
	CHECK(linux_load_bzimage(file, 0x26b, &gm, &lp, &out, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "header ends at byte 0x26c but the file has 619 bytes");
	CHECK(linux_load_bzimage(file, KOFF, &gm, &lp, &out, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "4 setup sectors put the protected-mode kernel at byte 0xa00");
	CHECK(linux_load_bzimage(NULL, IMG_LEN, &gm, &lp, &out, err, sizeof(err)) == -1);
	CHECK(linux_load_bzimage(file, IMG_LEN, &gm, NULL, &out, err, sizeof(err)) == -1);
	CHECK(ram_all_zero());
	/* Without syssize, the entry at +0x200 must still be inside the file. */
	put32(H_SYSSIZE, 0);
	for (size_t n = KOFF + 1; n <= KOFF + 0x200; n++) {
		CHECK(linux_load_bzimage(file, n, &gm, &lp, &out, err, sizeof(err)) == -1);
		CHECK_STR_CONTAINS(err, "too few for the 64-bit entry");
	}
	CHECK(ram_all_zero());
	file_len = KOFF + 0x201;
	CHECK(load() == 0);
	CHECK_EQ(out.rip, PREF + 0x200);
}

static void bad_boot_flag_and_magic(void)
{
	img_default();
	put16(H_BOOT_FLAG, 0x55aa);
	REFUSED("boot_flag at 0x1fe is 0x55aa");
	img_default();
	memcpy(file + H_MAGIC, "Hdrs", 4);
	REFUSED("HdrS");
	img_default();
	put8(H_LOADFLAGS, 0x00);
	REFUSED("LOADED_HIGH");
	img_default();
	put16(H_XLOADFLAGS, 0x7e);
	REFUSED("XLF_KERNEL_64");
	CHECK_STR_CONTAINS(err, "64-bit");
}

static void old_protocols(void)
{
	img_default();
	put16(H_VERSION, 0x020b);
	REFUSED("Linux boot protocol 2.11 is too old: mote needs 2.12 or newer (Linux 3.8+)");
	put16(H_VERSION, 0x0200);
	REFUSED("protocol 2.00 is too old");
	put16(H_VERSION, 0x0105);
	REFUSED("protocol 1.05 is too old");
	put16(H_VERSION, 0x020c);
	put8(H_JUMP + 1, 0x66); /* a 2.12 header ends after handover_offset */
	CHECK(load() == 0);
	CHECK_EQ(zp(BP_ACPI_RSDP, 8), 0); /* acpi_rsdp_addr is 2.14+ */
	CHECK_EQ(zp(H_KERNEL_INFO, 4), 0); /* not part of a 2.12 header */
	put16(H_VERSION, 0x0300);
	CHECK(load() == 0);
}

static void header_length(void)
{
	img_default();
	put8(H_JUMP + 1, 0x61); /* ends at 0x263, inside init_size */
	REFUSED("setup header ends at byte 0x263");
	put8(H_JUMP + 1, 0x62);
	CHECK(load() == 0);
	CHECK_EQ(zp(H_INIT_SIZE, 4), INIT_SIZE);
	CHECK_EQ(zp(H_HANDOVER, 4), 0);
	put8(H_JUMP + 1, 0xff); /* beyond the fields mote knows: bounded to 0x26c */
	put32(H_END, 0xfeedf00d);
	CHECK(load() == 0);
	CHECK_EQ(zp(H_KERNEL_INFO, 4), 0x12345);
	CHECK_EQ(zp(H_END, 4), 0);
}

static void rsdp_by_protocol(void)
{
	img_default();
	put16(H_VERSION, 0x020d);
	CHECK(load() == 0);
	CHECK_EQ(zp(BP_ACPI_RSDP, 8), 0);
	put16(H_VERSION, 0x020e);
	CHECK(load() == 0);
	CHECK_EQ(zp(BP_ACPI_RSDP, 8), RSDP);
	lp.rsdp_gpa = 0;
	CHECK(load() == 0);
	CHECK_EQ(zp(BP_ACPI_RSDP, 8), 0);
}

static void setup_sects_values(void)
{
	img_default();
	put8(H_SETUP_SECTS, 200); /* kernel at 201 * 512, past the end of the file */
	REFUSED("truncated bzImage: 200 setup sectors");
	put8(H_SETUP_SECTS, 255);
	REFUSED("truncated");
	put8(H_SETUP_SECTS, 0); /* means 4: the same image */
	CHECK(load() == 0);
	CHECK(memcmp(gm_ptr(&gm, PREF, PAYLOAD), file + KOFF, PAYLOAD) == 0);
	put8(H_SETUP_SECTS, 2); /* kernel at 0x600: setup bytes become kernel bytes */
	CHECK(load() == 0);
	CHECK(memcmp(gm_ptr(&gm, PREF, IMG_LEN - 0x600), file + 0x600, IMG_LEN - 0x600) == 0);
}

static void kernel_ram_range(void)
{
	img_default();
	put32(H_INIT_SIZE, 48u << 20); /* ends exactly at the end of RAM: no room for an initrd */
	lp.initrd = NULL;
	CHECK(load() == 0);
	lp.initrd = initrd;
	REFUSED("initrd");
	put32(H_INIT_SIZE, (48u << 20) + 1);
	REFUSED("the kernel needs guest RAM at 0x1000000-0x4000001 (init_size 49 MiB) but the VM "
		"has 64 MiB: give the VM more memory (--mem)");
	put32(H_INIT_SIZE, UINT32_MAX);
	REFUSED("--mem");
	put32(H_INIT_SIZE, 0); /* the file size is the minimum */
	CHECK(load() == 0);
	CHECK_EQ(zp(H_RAMDISK_IMAGE, 4), (RAM_SIZE - INITRD_LEN) & ~0xfffull);
}

static void alignment_and_pref_address(void)
{
	img_default();
	put32(H_KERNEL_ALIGNMENT, 0x300000);
	REFUSED("kernel_alignment 0x300000 is not a power of two");
	put32(H_KERNEL_ALIGNMENT, 0);
	REFUSED("power of two");
	put32(H_KERNEL_ALIGNMENT, UINT32_MAX);
	REFUSED("power of two");
	put32(H_KERNEL_ALIGNMENT, 0x80000000u); /* 2 GiB: aligned up beyond RAM */
	REFUSED("--mem");
	img_default();
	put64(H_PREF_ADDRESS, PREF + 0x100000); /* not aligned: rounded up */
	CHECK(load() == 0);
	CHECK_EQ(out.rip, PREF + KALIGN + 0x200);
	CHECK_EQ(zp(H_CODE32_START, 4), PREF + KALIGN);
	put64(H_PREF_ADDRESS, 0); /* no preference: 1 MiB, aligned up */
	CHECK(load() == 0);
	CHECK_EQ(out.rip, KALIGN + 0x200);
	put64(H_PREF_ADDRESS, 0x1000); /* below 1 MiB: never over the boot structures */
	CHECK(load() == 0);
	CHECK_EQ(out.rip, KALIGN + 0x200);
	put64(H_PREF_ADDRESS, UINT64_MAX);
	REFUSED("beyond the first 4 GiB");
	put64(H_PREF_ADDRESS, 0xffffffffull); /* aligned up to 4 GiB */
	REFUSED("--mem");
	put64(H_PREF_ADDRESS, 1ull << 32);
	REFUSED("4 GiB");
}

static void not_relocatable(void)
{
	img_default();
	put8(H_RELOCATABLE, 0);
	put32(H_KERNEL_ALIGNMENT, 0x300000); /* only read for relocatable kernels */
	CHECK(load() == 0);
	CHECK_EQ(out.rip, X86_HIMEM_START + 0x200);
	CHECK(memcmp(gm_ptr(&gm, X86_HIMEM_START, PAYLOAD), file + KOFF, PAYLOAD) == 0);
	CHECK_EQ(zp(H_CODE32_START, 4), X86_HIMEM_START);
	CHECK(zp(H_RAMDISK_IMAGE, 4) >= KEND);
	put64(H_PREF_ADDRESS, 0x80000);
	REFUSED("non-relocatable kernel runs at 0x80000");
	put64(H_PREF_ADDRESS, UINT64_MAX);
	REFUSED("non-relocatable");
	put64(H_PREF_ADDRESS, 60ull << 20); /* runs at 60 MiB with 32 MiB of init_size */
	REFUSED("--mem");
}

static void high_ram_is_not_used(void)
{
	img_default();
	ram_high = 1;
	CHECK(load() == 0);
	CHECK_EQ(zp(H_RAMDISK_IMAGE, 4), (RAM_SIZE - INITRD_LEN) & ~0xfffull);
	put64(H_PREF_ADDRESS, 1ull << 32); /* RAM, but above what the page tables map */
	ram_high = 1;
	REFUSED("4 GiB");
	img_default();
	ram_high = 2; /* the kernel fits at 16 MiB, the boot structures below 1 MiB do not */
	REFUSED("no room for the boot GDT at 0x500");
}

static void cmdline_limits(void)
{
	img_default();
	memset(longline, 'x', sizeof(longline) - 1);
	put32(H_CMDLINE_SIZE, 20);
	longline[20] = '\0';
	lp.cmdline = longline;
	CHECK(load() == 0); /* exactly cmdline_size characters */
	CHECK(memcmp(gm_ptr(&gm, X86_CMDLINE_GPA, 21), longline, 21) == 0);
	longline[20] = 'x';
	longline[21] = '\0';
	REFUSED("kernel command line too long: 21 bytes, but this kernel accepts at most 20 "
		"(cmdline_size)");
	longline[21] = 'x';
	put32(H_CMDLINE_SIZE, UINT32_MAX); /* then mote's buffer is the limit */
	longline[X86_CMDLINE_MAX - 1] = '\0';
	CHECK(load() == 0);
	longline[X86_CMDLINE_MAX - 1] = 'x';
	longline[X86_CMDLINE_MAX] = '\0';
	REFUSED("4096 bytes, the limit is 4095");
	put32(H_CMDLINE_SIZE, 0);
	lp.cmdline = "";
	CHECK(load() == 0);
	lp.cmdline = NULL;
	CHECK(load() == 0);
	CHECK_EQ(zp(H_CMD_LINE_PTR, 4), X86_CMDLINE_GPA);
	uint8_t nul = 1;
	CHECK(gm_read(&gm, X86_CMDLINE_GPA, &nul, 1) == 0 && nul == 0);
}

static void initrd_limits(void)
{
	img_default();
	lp.initrd = NULL;
	CHECK(load() == 0);
	CHECK_EQ(zp(H_RAMDISK_IMAGE, 4), 0);
	CHECK_EQ(zp(H_RAMDISK_SIZE, 4), 0);
	img_default();
	lp.initrd_size = 100ull << 20; /* never read: refused first (ASan would tell) */
	REFUSED("initrd (100 MiB) does not fit in guest memory");
	CHECK_STR_CONTAINS(err, "--mem");
	lp.initrd_size = UINT64_MAX;
	REFUSED("initrd");
	lp.initrd_size = 0;
	REFUSED("initrd is empty");
	lp.initrd_size = RAM_SIZE - KEND + 1;
	REFUSED("does not fit");
}

static void initrd_addr_max_bounds(void)
{
	const uint64_t pages = (INITRD_LEN + 0xfff) & ~0xfffull;

	img_default();
	put32(H_INITRD_ADDR_MAX, (uint32_t)(KEND + pages - 1)); /* exactly room above the kernel */
	CHECK(load() == 0);
	uint64_t rd = zp(H_RAMDISK_IMAGE, 4);
	CHECK_EQ(rd, KEND);
	CHECK(rd + INITRD_LEN <= KEND + pages);
	CHECK(memcmp(gm_ptr(&gm, rd, INITRD_LEN), initrd, INITRD_LEN) == 0);
	put32(H_INITRD_ADDR_MAX, (uint32_t)(KEND + pages - 0x1000 - 1));
	REFUSED("initrd (1 MiB) does not fit between the end of the kernel (0x3000000) and the "
		"kernel's initrd_addr_max (0x3003fff)");
	put32(H_INITRD_ADDR_MAX, 0);
	REFUSED("initrd_addr_max (0x0)");
	put32(H_INITRD_ADDR_MAX, 0x04000000 + 0x1234); /* above RAM: RAM's end is the limit */
	CHECK(load() == 0);
	CHECK_EQ(zp(H_RAMDISK_IMAGE, 4), (RAM_SIZE - INITRD_LEN) & ~0xfffull);
	put32(H_INITRD_ADDR_MAX, UINT32_MAX); /* + 1 must not wrap */
	CHECK(load() == 0);
	CHECK_EQ(zp(H_RAMDISK_IMAGE, 4), (RAM_SIZE - INITRD_LEN) & ~0xfffull);
}

static void e820_limits(void)
{
	img_default();
	for (unsigned i = 0; i < 130; i++)
		map[i] = (struct mem_map_entry){ (uint64_t)i << 20, 1u << 20,
						 i % 2 ? MEM_RESERVED : MEM_RAM };
	lp.map_len = 128;
	CHECK(load() == 0);
	CHECK_EQ(zp(BP_E820_ENTRIES, 1), 128);
	CHECK_EQ(zp(BP_E820_TABLE + 127 * 20, 8), 127ull << 20);
	CHECK_EQ(zp(BP_E820_TABLE + 127 * 20 + 16, 4), MEM_RESERVED);
	CHECK_EQ(zp(0xd00, 8), 0); /* eddbuf untouched */
	lp.map_len = 129;
	REFUSED("memory map has 129 entries; the Linux zero page takes 1 to 128");
	lp.map_len = 0;
	REFUSED("memory map has 0 entries");
	lp.map_len = 3;
	lp.map = NULL;
	REFUSED("memory map");
	lp.map = map;
	map[1] = (struct mem_map_entry){ UINT64_MAX - 10, 11, MEM_RAM };
	REFUSED("memory map entry 1");
	CHECK_STR_CONTAINS(err, "wraps");
}

static void huge_header_values(void)
{
	img_default();
	put32(H_SYSSIZE, UINT32_MAX);
	REFUSED("truncated");
	img_default();
	put32(H_CMDLINE_SIZE, UINT32_MAX);
	put32(H_INITRD_ADDR_MAX, UINT32_MAX);
	CHECK(load() == 0);
	img_default();
	put16(H_VERSION, 0xffff);
	put8(H_JUMP + 1, 0xff);
	put8(H_LOADFLAGS, 0xff);
	put16(H_XLOADFLAGS, 0xffff);
	put64(H_SETUP_DATA, UINT64_MAX);
	CHECK(load() == 0);
	CHECK_EQ(zp(H_LOADFLAGS, 1), 0xdf); /* QUIET cleared, CAN_USE_HEAP set */
	CHECK_EQ(zp(H_SETUP_DATA, 8), 0);    /* mote passes no setup_data */
	img_default();
	put32(H_INIT_SIZE, UINT32_MAX);
	put32(H_KERNEL_ALIGNMENT, 0x80000000u);
	put64(H_PREF_ADDRESS, 0xfffff000ull);
	REFUSED("--mem");
}

static void page_tables(void)
{
	uint64_t cr3 = 0;
	int ok;

	img_default();
	gm_destroy(&gm);
	ram_new();
	CHECK(x86_write_boot_page_tables(&gm, &cr3) == 0);
	CHECK_EQ(cr3, X86_BOOT_PML4_GPA);
	CHECK(walk(cr3, 0x12345678, &ok) == 0x12345678 && ok);
	CHECK(walk(cr3, 0, &ok) == 0 && ok);
	CHECK(walk(cr3, 0xffffffffull, &ok) == 0xffffffffull && ok);
	CHECK(walk(cr3, 0xbfe00000ull + 5, &ok) == 0xbfe00005ull && ok);
	walk(cr3, 1ull << 32, &ok);
	CHECK(ok == 0); /* PDPT[4]: not present */
	walk(cr3, 1ull << 39, &ok);
	CHECK(ok == 0); /* PML4[1]: not present */
	/* Without RAM for them: refused, nothing written. */
	const struct gm_region small[] = { { .gpa = 0, .size = 0xc000 } };
	char e[128];
	gm_destroy(&gm);
	CHECK(gm_create(&gm, small, 1, e, sizeof(e)) == 0);
	CHECK(x86_write_boot_page_tables(&gm, &cr3) == -1);
	CHECK(ram_all_zero());
	gm_destroy(&gm);
}

/* The PIT goes only to guests that turn ACPI off: the exact word, anywhere on the line. */
static void pit_only_for_acpi_off(void)
{
	CHECK(x86_cmdline_wants_pit("acpi=off"));
	CHECK(x86_cmdline_wants_pit("console=ttyS0 acpi=off"));
	CHECK(x86_cmdline_wants_pit("acpi=off quiet"));
	CHECK(x86_cmdline_wants_pit("acpi=offx acpi=off"));
	CHECK(!x86_cmdline_wants_pit(""));
	CHECK(!x86_cmdline_wants_pit(X86_LINUX_CMDLINE));
	CHECK(!x86_cmdline_wants_pit("acpi=offx"));
	CHECK(!x86_cmdline_wants_pit("xacpi=off"));
	CHECK(!x86_cmdline_wants_pit("acpi=of"));
	CHECK(!x86_cmdline_wants_pit("acpi=force"));
}

int main(void)
{
	test_suite_name = "linux";
	RUN(valid_image_loads);
	RUN(pit_only_for_acpi_off);
	RUN(valid_image_boot_structures);
	RUN(sniff);
	RUN(every_truncation);
	RUN(bad_boot_flag_and_magic);
	RUN(old_protocols);
	RUN(header_length);
	RUN(rsdp_by_protocol);
	RUN(setup_sects_values);
	RUN(kernel_ram_range);
	RUN(alignment_and_pref_address);
	RUN(not_relocatable);
	RUN(high_ram_is_not_used);
	RUN(cmdline_limits);
	RUN(initrd_limits);
	RUN(initrd_addr_max_bounds);
	RUN(e820_limits);
	RUN(huge_header_values);
	RUN(page_tables);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
