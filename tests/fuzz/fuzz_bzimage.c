/* libFuzzer target for the bzImage loader (src/arch/x86/linux.c): any byte string handed to
 * linux_load_bzimage (with a fixed 8 KiB initrd, command line and e820 map, 64 MiB of guest
 * RAM at 0) must be loaded or refused with a one-line message, never crash or trip
 * ASan/UBSan. Also checks the loader's promises: a refusal leaves the boot structures as they
 * were; a success enters at load address + 0x200 in RAM above 1 MiB, with a zero page whose
 * command line and initrd fields point at the bytes mote wrote. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/linux.h"
#include "fuzz_ram.h"

#define FUZZ_RAM        (64ull << 20)
#define FUZZ_INITRD_LEN 8192u
#define FUZZ_CMDLINE    "console=ttyS0 panic=-1"
#define FUZZ_LOW_BYTES  0x30000u /* GDT, zero page, page tables and command line live here */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static uint32_t rd32(const struct guest_mem *gm, uint64_t gpa)
{
	uint32_t v;
	if (gm_read(gm, gpa, &v, sizeof(v)) < 0)
		abort();
	return v;
}

/* A success: the entry, the zero page's pointers and what they point at. */
static void check_loaded(const struct guest_mem *gm, const struct boot_entry *out,
			 const uint8_t *initrd, const uint8_t *data, size_t size)
{
	uint64_t koff = ((uint64_t)(data[0x1f1] ? data[0x1f1] : 4) + 1) * 512; /* setup_sects */
	uint64_t load = out->rip - 0x200;

	if (out->mode != BOOT_LINUX64 || out->rsi != X86_ZERO_PAGE_GPA ||
	    out->cr3 != X86_BOOT_PML4_GPA || out->gdt_gpa != X86_BOOT_GDT_GPA ||
	    out->rip < X86_HIMEM_START + 0x200 || out->rip >= FUZZ_RAM)
		abort();
	if (rd32(gm, X86_ZERO_PAGE_GPA + 0x214) != out->rip - 0x200 || /* code32_start */
	    rd32(gm, X86_ZERO_PAGE_GPA + 0x228) != X86_CMDLINE_GPA)     /* cmd_line_ptr */
		abort();
	uint64_t rd = rd32(gm, X86_ZERO_PAGE_GPA + 0x218);
	uint64_t rd_max = (uint64_t)rd32(gm, X86_ZERO_PAGE_GPA + 0x22c) + 1;
	if (rd32(gm, X86_ZERO_PAGE_GPA + 0x21c) != FUZZ_INITRD_LEN || rd % 4096 ||
	    rd < X86_HIMEM_START || rd + FUZZ_INITRD_LEN > rd_max)
		abort();
	if (koff >= size || rd < load + (size - koff))
		abort(); /* the initrd lies above the kernel's file bytes */
	const uint8_t *k = gm_ptr(gm, load, size - koff);
	if (!k || memcmp(k, data + koff, size - koff) != 0)
		abort();
	const uint8_t *p = gm_ptr(gm, rd, FUZZ_INITRD_LEN);
	if (!p || memcmp(p, initrd, FUZZ_INITRD_LEN) != 0)
		abort();
	char line[sizeof(FUZZ_CMDLINE)];
	if (gm_read(gm, X86_CMDLINE_GPA, line, sizeof(line)) < 0 ||
	    memcmp(line, FUZZ_CMDLINE, sizeof(line)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t initrd[FUZZ_INITRD_LEN];
	static uint8_t before[FUZZ_LOW_BYTES];
	static const struct mem_map_entry map[] = {
		{ 0, X86_EBDA_START, MEM_RAM },
		{ X86_EBDA_START, X86_HIMEM_START - X86_EBDA_START, MEM_RESERVED },
		{ X86_HIMEM_START, FUZZ_RAM - X86_HIMEM_START, MEM_RAM },
	};
	const struct guest_mem *gm = fuzz_ram(FUZZ_RAM, "fuzz_bzimage");
	const struct linux_params lp = { .cmdline = FUZZ_CMDLINE, .initrd = initrd,
					 .initrd_size = sizeof(initrd), .rsdp_gpa = X86_ACPI_GPA,
					 .map = map, .map_len = 3 };
	struct boot_entry out;
	char err[256];

	for (unsigned k = 0; k < sizeof(initrd); k++)
		initrd[k] = (uint8_t)((k * 29 + 7) | 1);
	if (gm_read(gm, 0, before, sizeof(before)) < 0)
		abort();
	memset(err, 0, sizeof(err));
	if (linux_load_bzimage(data, size, gm, &lp, &out, err, sizeof(err)) == 0) {
		check_loaded(gm, &out, initrd, data, size);
	} else {
		if (err[0] == '\0' || strchr(err, '\n'))
			abort();
		if (memcmp(gm_ptr(gm, 0, sizeof(before)), before, sizeof(before)) != 0)
			abort(); /* a refusal wrote the boot structures */
	}
	return 0;
}
